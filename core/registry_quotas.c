/*
 * registry_quotas.c — the quota history in the registry (the "ABI 1.2:
 * quotas" block of the storage ops): reading a tenant's entries, and
 * adding an entry to a mutation's txn.  See registry.h.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>

#include "registry_internal.h"
#include "util.h"

bool registry_supports_quotas(const struct registry *reg)
{
	void *ctx;
	const struct tnd_storage_ops *ops = registry_storage_ops(reg, &ctx);

	return TND_HAS_FIELD(ops, struct tnd_storage_ops, quota_list) && ops->quota_list;
}

int registry_quota_list(struct registry *reg, const struct tnd_quota_query *query, tnd_quota_visit_fn *visit,
			void *userdata, struct tnd_error *err)
{
	void *ctx;
	const struct tnd_storage_ops *ops = registry_storage_ops(reg, &ctx);

	if (!registry_supports_quotas(reg)) {
		tnd_error_set(err, "the storage driver keeps no quota history (storage ABI 1.2: quotas)");
		return -ENOTSUP;
	}
	return ops->quota_list(ctx, query, visit, userdata, err);
}

void registry_txn_add_quota(struct registry_txn *txn, const struct tnd_quota_record *from)
{
	struct tnd_quota_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->tenant_id = registry_txn_copy(txn, from->tenant_id);
	rec->version = from->version;
	rec->quotas_json = registry_txn_copy(txn, from->quotas_json);
	rec->source = registry_txn_copy(txn, from->source);
	rec->actor = registry_txn_copy(txn, from->actor);
	rec->request_id = registry_txn_copy(txn, from->request_id);
	rec->time_ms = from->time_ms;
	registry_txn_push(txn, TND_WRITE_QUOTA_APPEND, rec);
}
