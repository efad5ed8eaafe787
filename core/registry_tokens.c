/*
 * registry_tokens.c — the registry's side of API tokens and break-glass
 * grants (see registry_tokens.h): txn builders for write kinds 30–33 and
 * the two list reads, each checked against the driver's ops table size.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>

#include "registry_internal.h"
#include "registry_tokens.h"
#include "util.h"

bool registry_supports_tokens(const struct registry *reg)
{
	void *ctx;
	const struct tnd_storage_ops *ops = registry_storage_ops(reg, &ctx);

	return TND_HAS_FIELD(ops, struct tnd_storage_ops, grant_list) && ops->token_list && ops->grant_list;
}

static int registry_tokens_unsupported(struct tnd_error *err)
{
	tnd_error_set(err, "the storage driver predates tokens and grants (storage ABI 1.2)");
	return -ENOTSUP;
}

int registry_token_list(struct registry *reg, const struct tnd_token_query *query, tnd_token_visit_fn *visit,
			void *userdata, struct tnd_error *err)
{
	void *ctx;
	const struct tnd_storage_ops *ops = registry_storage_ops(reg, &ctx);

	if (!registry_supports_tokens(reg))
		return registry_tokens_unsupported(err);
	return ops->token_list(ctx, query, visit, userdata, err);
}

int registry_grant_list(struct registry *reg, const struct tnd_grant_query *query, tnd_grant_visit_fn *visit,
			void *userdata, struct tnd_error *err)
{
	void *ctx;
	const struct tnd_storage_ops *ops = registry_storage_ops(reg, &ctx);

	if (!registry_supports_tokens(reg))
		return registry_tokens_unsupported(err);
	return ops->grant_list(ctx, query, visit, userdata, err);
}

void registry_txn_add_token(struct registry_txn *txn, const struct tnd_token_record *from)
{
	struct tnd_token_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->id = registry_txn_copy(txn, from->id);
	rec->name = registry_txn_copy(txn, from->name);
	rec->role = registry_txn_copy(txn, from->role);
	rec->tenant_id = registry_txn_copy(txn, from->tenant_id);
	rec->hash = registry_txn_copy(txn, from->hash);
	rec->created_by = registry_txn_copy(txn, from->created_by);
	rec->request_id = registry_txn_copy(txn, from->request_id);
	rec->created_ms = from->created_ms;
	rec->expires_ms = from->expires_ms;
	registry_txn_push(txn, TND_WRITE_TOKEN_INSERT, rec);
}

void registry_txn_revoke_token(struct registry_txn *txn, const char *id, const char *revoked_by, int64_t revoked_ms)
{
	struct tnd_token_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->id = registry_txn_copy(txn, id);
	rec->revoked_by = registry_txn_copy(txn, revoked_by);
	rec->revoked_ms = revoked_ms;
	registry_txn_push(txn, TND_WRITE_TOKEN_REVOKE, rec);
}

void registry_txn_add_grant(struct registry_txn *txn, const struct tnd_grant_record *from)
{
	struct tnd_grant_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->id = registry_txn_copy(txn, from->id);
	rec->subject = registry_txn_copy(txn, from->subject);
	rec->requester = registry_txn_copy(txn, from->requester);
	rec->role = registry_txn_copy(txn, from->role);
	rec->reason = registry_txn_copy(txn, from->reason);
	rec->ttl_s = from->ttl_s;
	rec->state = registry_txn_copy(txn, "pending");
	rec->request_id = registry_txn_copy(txn, from->request_id);
	rec->requested_ms = from->requested_ms;
	registry_txn_push(txn, TND_WRITE_GRANT_INSERT, rec);
}

void registry_txn_decide_grant(struct registry_txn *txn, const char *id, const char *state, const char *decided_by,
			       int64_t decided_ms, int64_t expires_ms)
{
	struct tnd_grant_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->id = registry_txn_copy(txn, id);
	rec->state = registry_txn_copy(txn, state);
	rec->decided_by = registry_txn_copy(txn, decided_by);
	rec->decided_ms = decided_ms;
	rec->expires_ms = expires_ms;
	registry_txn_push(txn, TND_WRITE_GRANT_DECIDE, rec);
}
