/*
 * registry_webhooks.h — webhook subscriptions and deliveries in the
 * registry (storage ABI 1.2: write kinds 60–63, webhook_list and
 * delivery_list).
 */
#ifndef TND_REGISTRY_WEBHOOKS_H
#define TND_REGISTRY_WEBHOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include <tenancyd/storage.h>

struct registry;
struct registry_txn;

/** True when the driver stores subscriptions and deliveries. */
bool registry_supports_webhooks(const struct registry *reg);
/** Visit subscriptions (records borrowed); -ENOTSUP without driver support. */
int registry_webhook_list(struct registry *reg, const struct tnd_webhook_query *query, tnd_webhook_visit_fn *visit,
			  void *userdata, struct tnd_error *err);
/** Visit deliveries (records borrowed); -ENOTSUP without driver support. */
int registry_delivery_list(struct registry *reg, const struct tnd_delivery_query *query,
			   tnd_delivery_visit_fn *visit, void *userdata, struct tnd_error *err);

/** Insert a subscription (its strings are copied). */
void registry_txn_add_webhook(struct registry_txn *txn, const struct tnd_webhook_record *rec);
/** Update a subscription: @state (NULL: keep) and @cursor_seq (only forward). */
void registry_txn_update_webhook(struct registry_txn *txn, const char *id, const char *state, int64_t cursor_seq,
				 int64_t now_ms);
/** Insert or replace a delivery (its strings are copied). */
void registry_txn_put_delivery(struct registry_txn *txn, const struct tnd_delivery_record *rec);
/** Requeue the dead deliveries @sel selects (its strings are copied). */
void registry_txn_requeue_deliveries(struct registry_txn *txn, const struct tnd_delivery_requeue *sel);

#endif /* TND_REGISTRY_WEBHOOKS_H */
