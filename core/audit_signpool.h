/*
 * audit_signpool.h — signing a batch of audit record hashes on several
 * threads.  The storage driver's group-commit leader hands over all the
 * records of a transaction at once, just before COMMIT; without the pool
 * their signatures would be made one by one on that single thread, which
 * then bounds every durable write (docs/audit.md, "Cost").
 */
#ifndef TND_AUDIT_SIGNPOOL_H
#define TND_AUDIT_SIGNPOOL_H

#include <stddef.h>

#include <tenancyd/plugin.h>

struct audit_signer;
struct audit_signpool;

/** A pool of @n_threads helpers (0: the caller signs everything itself). */
struct audit_signpool *audit_signpool_new(const struct audit_signer *signer, size_t n_threads);
/** Stop and join the helpers.  Accepts NULL. */
void audit_signpool_free(struct audit_signpool *pool);
/** Sign the 32 bytes of each of the @n hex @hashes into @ret_signatures
 *  (base64); the caller works too.  One batch at a time; 0 or the first error. */
int audit_signpool_sign(struct audit_signpool *pool, size_t n, const char *const *hashes,
			char (*ret_signatures)[89], struct tnd_error *err);

#endif /* TND_AUDIT_SIGNPOOL_H */
