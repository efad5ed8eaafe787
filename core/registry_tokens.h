/*
 * registry_tokens.h — API tokens and break-glass grants in the registry
 * (storage ABI 1.2: write kinds 30–33, token_list and grant_list).
 */
#ifndef TND_REGISTRY_TOKENS_H
#define TND_REGISTRY_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include <tenancyd/storage.h>

struct registry;
struct registry_txn;

/** True when the driver stores tokens and grants. */
bool registry_supports_tokens(const struct registry *reg);
/** Visit tokens (records borrowed); -ENOTSUP without driver support. */
int registry_token_list(struct registry *reg, const struct tnd_token_query *query, tnd_token_visit_fn *visit,
			void *userdata, struct tnd_error *err);
/** Visit grants (records borrowed); -ENOTSUP without driver support. */
int registry_grant_list(struct registry *reg, const struct tnd_grant_query *query, tnd_grant_visit_fn *visit,
			void *userdata, struct tnd_error *err);

/** Insert a token (its strings are copied). */
void registry_txn_add_token(struct registry_txn *txn, const struct tnd_token_record *rec);
void registry_txn_revoke_token(struct registry_txn *txn, const char *id, const char *revoked_by, int64_t revoked_ms);
/** Insert a pending grant (its strings are copied). */
void registry_txn_add_grant(struct registry_txn *txn, const struct tnd_grant_record *rec);
/** Decide a pending grant: @state "approved" (with @expires_ms) or "denied". */
void registry_txn_decide_grant(struct registry_txn *txn, const char *id, const char *state, const char *decided_by,
			       int64_t decided_ms, int64_t expires_ms);

#endif /* TND_REGISTRY_TOKENS_H */
