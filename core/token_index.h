/*
 * token_index.h — the in-memory index of the API tokens kept in the
 * registry (POST /v1/tokens), so that authenticating one stays a hash
 * lookup with no registry read per request.
 *
 * Loaded from the registry at start; the API adds a token after its create
 * commits and drops it after its revoke commits, so a revoked token fails
 * on the very next request.  Expiry is a comparison with the clock at
 * lookup.  Thread-safe (a read-write lock: many lookups, rare changes).
 */
#ifndef TND_TOKEN_INDEX_H
#define TND_TOKEN_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tenancyd/storage.h>

#include "tokens.h"

struct token_index;

struct token_index *token_index_new(void);
void token_index_free(struct token_index *index);

/** Index @rec (copied; a revoked one is ignored).  -EINVAL for an unknown
 *  role or a malformed hash, -EEXIST if the hash or id is indexed. */
int token_index_add(struct token_index *index, const struct tnd_token_record *rec);
/** Forget token @id.  0, or -ENOENT if it is not indexed. */
int token_index_revoke(struct token_index *index, const char *id);
/** Look up the bearer @token at @now_ms: 0 and *@ret filled, -ENOENT
 *  (unknown, malformed, revoked) or -EKEYEXPIRED (past its expiry). */
int token_index_authenticate(struct token_index *index, const char *token, int64_t now_ms,
			     struct tnd_principal *ret);
/** True when an indexed token unexpired at @now_ms is called @name. */
bool token_index_name_taken(struct token_index *index, const char *name, int64_t now_ms);
size_t token_index_count(struct token_index *index);

#endif /* TND_TOKEN_INDEX_H */
