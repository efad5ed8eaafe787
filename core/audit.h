/*
 * audit.h — the signed, hash-chained audit trail (DESIGN §8, docs/audit.md).
 *
 * Every mutation adds its audit record to its own registry transaction
 * (registry_txn_add_audit); the storage driver numbers and chains records
 * in commit order, asks the core for each one's hash (audit_digest, reached
 * through host->audit_hash) and, before its transaction commits, for the
 * signatures of all of them at once (audit_sign_records, on several
 * threads) and of the chain head, so concurrent writers and group commit can
 * neither fork the chain nor leave a gap: a record rolled back with its
 * transaction never had a number.
 *
 * Requests that change nothing (rejected, denied, failed) are recorded in a
 * transaction of their own with audit_record_event().  On a mutating API
 * route that happens by itself: api_send_problem() audits every problem
 * sent after authentication (403 and 429 as "denied", other 4xx as
 * "rejected", 5xx as "failed"), so a policy gate, quota or rate limit that
 * answers through it needs nothing more.  Where no such response carries
 * the refusal (a workflow step refused by policy, a limit hit before the
 * route is known), call audit_record_denial().
 */
#ifndef TND_AUDIT_H
#define TND_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tenancyd/storage.h>

struct registry;
struct tnd_conf;
struct audit_keyring;

#define AUDIT_OUTCOME_SUCCEEDED "succeeded"
#define AUDIT_OUTCOME_REJECTED "rejected" /* a 4xx: invalid, conflicting, not found */
#define AUDIT_OUTCOME_DENIED "denied"     /* forbidden: role, policy, quota, rate limit */
#define AUDIT_OUTCOME_FAILED "failed"     /* the server could not do it (5xx, a failed step) */

/** What one audit record says.  Strings are borrowed; NULL means absent. */
struct audit_event {
	int64_t time_ms;               /* 0: now */
	const char *tenant_id;
	const char *actor;
	const char *action;
	const char *target;
	const char *previous_state;
	const char *new_state;
	const char *outcome;
	const char *reason;
	const char *request_id;
	const char *correlation_id;
};

/**
 * Load the signing key (generating the default one if allowed and missing)
 * and the verification keyring; enable auditing when @reg's driver has the
 * audit ops.  Without them the daemon runs without a trail and says so.
 */
int audit_start(const struct tnd_conf *conf, struct registry *reg, struct tnd_error *err);
void audit_stop(void);
/** The key loading of audit_start() alone (benchmarks, driver tests): seal
 *  works afterwards, records are not added to transactions. */
int audit_keys_load(const char *signing_key_file, bool generate, char *const *verify_keys, size_t n_verify_keys,
		    struct tnd_error *err);
/** True once audit_start() succeeded with an audit-capable driver. */
bool audit_enabled(void);

/** host->audit_hash: the hash of @rec as record @seq after @prev_hash, and the key id. */
int audit_digest(const struct tnd_audit_record *rec, int64_t seq, const char *prev_hash,
		 struct tnd_audit_digest *ret_digest, struct tnd_error *err);
/** host->audit_sign_records: sign @n record hashes, on the signing pool's threads too. */
int audit_sign_records(size_t n, const char *const *hashes, char (*ret_signatures)[89], struct tnd_error *err);
/** host->audit_sign_head: sign the chain head message of record @seq, @hash. */
int audit_sign_head(int64_t seq, const char *hash, char ret_signature[89], struct tnd_error *err);

/** The keys verification accepts (the signing key and audit.verify_keys). */
const struct audit_keyring *audit_keyring_get0(void);
/** The signing key's id and public PEM, or NULL when auditing is off. */
const char *audit_key_id(void);
const char *audit_public_key_pem(void);

/** Record @ev in a transaction of its own.  0, or a negative errno (the
 *  caller answers 503: an unauditable request must not look accepted). */
int audit_record_event(struct registry *reg, const struct audit_event *ev, struct tnd_error *err);

/**
 * For the policy gate, quotas and rate limits: record that @actor was denied
 * @action on @target (tenant @tenant_id may be NULL) because of @reason, in
 * a transaction of its own, with outcome "denied".  A no-op returning 0
 * when auditing is off.
 */
int audit_record_denial(struct registry *reg, const char *tenant_id, const char *actor, const char *action,
			const char *target, const char *reason, const char *request_id, struct tnd_error *err);

/** For tests: make hashing and signing fail with -EIO (true) or work again (false). */
void audit_test_fail_seal(bool fail);
/** For tests: make only the signing before COMMIT fail with -EIO. */
void audit_test_fail_signing(bool fail);

#endif /* TND_AUDIT_H */
