/*
 * registry_webhooks.c — the registry's side of webhook subscriptions and
 * deliveries (see registry_webhooks.h): txn builders for write kinds
 * 60–63 and the two list reads, each checked against the driver's ops
 * table size.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>

#include "registry_internal.h"
#include "registry_webhooks.h"
#include "util.h"

bool registry_supports_webhooks(const struct registry *reg)
{
	void *ctx;
	const struct tnd_storage_ops *ops = registry_storage_ops(reg, &ctx);

	return TND_HAS_FIELD(ops, struct tnd_storage_ops, delivery_list) && ops->webhook_list && ops->delivery_list;
}

static int registry_webhooks_unsupported(struct tnd_error *err)
{
	tnd_error_set(err, "the storage driver predates webhook subscriptions (storage ABI 1.2)");
	return -ENOTSUP;
}

int registry_webhook_list(struct registry *reg, const struct tnd_webhook_query *query, tnd_webhook_visit_fn *visit,
			  void *userdata, struct tnd_error *err)
{
	void *ctx;
	const struct tnd_storage_ops *ops = registry_storage_ops(reg, &ctx);

	if (!registry_supports_webhooks(reg))
		return registry_webhooks_unsupported(err);
	return ops->webhook_list(ctx, query, visit, userdata, err);
}

int registry_delivery_list(struct registry *reg, const struct tnd_delivery_query *query,
			   tnd_delivery_visit_fn *visit, void *userdata, struct tnd_error *err)
{
	void *ctx;
	const struct tnd_storage_ops *ops = registry_storage_ops(reg, &ctx);

	if (!registry_supports_webhooks(reg))
		return registry_webhooks_unsupported(err);
	return ops->delivery_list(ctx, query, visit, userdata, err);
}

void registry_txn_add_webhook(struct registry_txn *txn, const struct tnd_webhook_record *from)
{
	struct tnd_webhook_record *rec = tnd_xcalloc(1, sizeof(*rec));

	*rec = *from;
	rec->size = sizeof(*rec);
	rec->id = registry_txn_copy(txn, from->id);
	rec->url = registry_txn_copy(txn, from->url);
	rec->types_json = registry_txn_copy(txn, from->types_json);
	rec->tenant_id = registry_txn_copy(txn, from->tenant_id);
	rec->key_id = registry_txn_copy(txn, from->key_id);
	rec->secret_sealed = registry_txn_copy(txn, from->secret_sealed);
	rec->state = registry_txn_copy(txn, from->state);
	rec->created_by = registry_txn_copy(txn, from->created_by);
	rec->request_id = registry_txn_copy(txn, from->request_id);
	registry_txn_push(txn, TND_WRITE_WEBHOOK_INSERT, rec);
}

void registry_txn_update_webhook(struct registry_txn *txn, const char *id, const char *state, int64_t cursor_seq,
				 int64_t now_ms)
{
	struct tnd_webhook_record *rec = tnd_xcalloc(1, sizeof(*rec));

	rec->size = sizeof(*rec);
	rec->id = registry_txn_copy(txn, id);
	rec->state = registry_txn_copy(txn, state);
	rec->cursor_seq = cursor_seq;
	rec->updated_ms = now_ms;
	registry_txn_push(txn, TND_WRITE_WEBHOOK_UPDATE, rec);
}

void registry_txn_put_delivery(struct registry_txn *txn, const struct tnd_delivery_record *from)
{
	struct tnd_delivery_record *rec = tnd_xcalloc(1, sizeof(*rec));

	*rec = *from;
	rec->size = sizeof(*rec);
	rec->id = registry_txn_copy(txn, from->id);
	rec->subscription_id = registry_txn_copy(txn, from->subscription_id);
	rec->event_id = registry_txn_copy(txn, from->event_id);
	rec->event_type = registry_txn_copy(txn, from->event_type);
	rec->state = registry_txn_copy(txn, from->state);
	rec->last_error = registry_txn_copy(txn, from->last_error);
	rec->attempts_json = registry_txn_copy(txn, from->attempts_json);
	registry_txn_push(txn, TND_WRITE_DELIVERY_PUT, rec);
}

void registry_txn_requeue_deliveries(struct registry_txn *txn, const struct tnd_delivery_requeue *from)
{
	struct tnd_delivery_requeue *rec = tnd_xcalloc(1, sizeof(*rec));

	*rec = *from;
	rec->size = sizeof(*rec);
	rec->id = registry_txn_copy(txn, from->id);
	rec->subscription_id = registry_txn_copy(txn, from->subscription_id);
	registry_txn_push(txn, TND_WRITE_DELIVERY_REQUEUE, rec);
}
