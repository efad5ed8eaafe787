/*
 * sqlite_write_webhooks.c — the write kinds storage ABI 1.2 appended for
 * webhook subscriptions and their deliveries (TND_WRITE_WEBHOOK_INSERT,
 * _WEBHOOK_UPDATE, _DELIVERY_PUT, _DELIVERY_REQUEUE): validated in the
 * committing thread, applied in the group commit leader's transaction.
 *
 * A subscription update never resurrects a deleted subscription and never
 * moves its cursor back, so the dispatcher (cursor, 410 → disabled) and the
 * API (delete) can write the same row without reading it first.
 */
#include "autoconfig.h"

#include <errno.h>
#include <string.h>

#include "sqlite_internal.h"

static bool webhooks_state_valid(const char *state, bool deleted_ok)
{
	return state && (strcmp(state, "active") == 0 || strcmp(state, "disabled") == 0 ||
			 (deleted_ok && strcmp(state, "deleted") == 0));
}

static bool webhooks_delivery_state_valid(const char *state)
{
	static const char *const states[] = { "pending", "delivered", "failed", "dead" };

	for (size_t i = 0; state && i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(state, states[i]) == 0)
			return true;
	return false;
}

int store_webhooks_prepare(const struct tnd_write *write, struct tnd_error *err)
{
	switch (write->kind) {
	case TND_WRITE_WEBHOOK_INSERT:
	case TND_WRITE_WEBHOOK_UPDATE: {
		const struct tnd_webhook_record *rec = write->record;

		if (rec->size < STORE_RECORD_SIZE(struct tnd_webhook_record, updated_ms)) {
			tnd_error_set(err, "webhook record has size %u, smaller than ABI 1.2's", rec->size);
			return -EINVAL;
		}
		if (!store_has_text(rec->id)) {
			tnd_error_set(err, "webhook record lacks an id");
			return -EINVAL;
		}
		if (write->kind == TND_WRITE_WEBHOOK_UPDATE) {
			if (rec->state && !webhooks_state_valid(rec->state, true)) {
				tnd_error_set(err, "webhook state %s is none of active, disabled, deleted", rec->state);
				return -EINVAL;
			}
			return 0;
		}
		if (!store_has_text(rec->url) || !store_has_text(rec->key_id) || !store_has_text(rec->secret_sealed) ||
		    !store_has_text(rec->created_by) || !webhooks_state_valid(rec->state, false)) {
			tnd_error_set(err, "webhook record lacks a url, key id, sealed secret, creator or valid state");
			return -EINVAL;
		}
		return 0;
	}
	case TND_WRITE_DELIVERY_PUT: {
		const struct tnd_delivery_record *rec = write->record;

		if (rec->size < STORE_RECORD_SIZE(struct tnd_delivery_record, attempts_json)) {
			tnd_error_set(err, "delivery record has size %u, smaller than ABI 1.2's", rec->size);
			return -EINVAL;
		}
		if (!store_has_text(rec->id) || !store_has_text(rec->subscription_id) || !store_has_text(rec->event_id) ||
		    !store_has_text(rec->event_type) || !webhooks_delivery_state_valid(rec->state)) {
			tnd_error_set(err, "delivery record lacks an id, subscription, event or valid state");
			return -EINVAL;
		}
		return 0;
	}
	case TND_WRITE_DELIVERY_REQUEUE: {
		const struct tnd_delivery_requeue *rec = write->record;

		if (rec->size < STORE_RECORD_SIZE(struct tnd_delivery_requeue, now_ms)) {
			tnd_error_set(err, "delivery requeue has size %u, smaller than ABI 1.2's", rec->size);
			return -EINVAL;
		}
		return 0;
	}
	default:
		tnd_error_set(err, "write kind %u is not a webhook write", write->kind);
		return -ENOTSUP;
	}
}

static const char webhooks_sql_insert[] =
	"INSERT INTO webhooks (id, url, types_json, tenant_id, key_id, secret_sealed, state, cursor_seq,"
	" created_by, request_id, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
static const char webhooks_sql_update[] =
	"UPDATE webhooks SET state = CASE WHEN state = 'deleted' THEN state ELSE coalesce(?2, state) END,"
	" cursor_seq = max(cursor_seq, ?3), updated_ms = ?4 WHERE id = ?1";
static const char webhooks_sql_delivery_put[] =
	"INSERT INTO deliveries (id, subscription_id, event_seq, event_id, event_type, state, attempts,"
	" next_attempt_ms, last_status, last_error, latency_ms, created_ms, updated_ms, attempts_json)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
	" ON CONFLICT(id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,"
	" next_attempt_ms = excluded.next_attempt_ms, last_status = excluded.last_status,"
	" last_error = excluded.last_error, latency_ms = excluded.latency_ms, updated_ms = excluded.updated_ms,"
	" attempts_json = excluded.attempts_json";
static const char webhooks_sql_requeue[] =
	"UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_ms = ?4, updated_ms = ?4"
	" WHERE state = 'dead' AND (?1 IS NULL OR id = ?1) AND (?2 IS NULL OR subscription_id = ?2)"
	" AND (?3 = 0 OR created_ms >= ?3) AND (?5 = 0 OR created_ms < ?5)";

int store_webhooks_apply(struct store_conn *writer, const struct store_prepared_write *write, struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	switch (write->kind) {
	case TND_WRITE_WEBHOOK_INSERT: {
		const struct tnd_webhook_record *rec = write->record;

		r = store_conn_prepare_static(writer, webhooks_sql_insert, &stmt, err);
		if (r < 0)
			return r;
		store_bind_text(stmt, 1, rec->id);
		store_bind_text(stmt, 2, rec->url);
		store_bind_text(stmt, 3, rec->types_json);
		store_bind_text(stmt, 4, rec->tenant_id);
		store_bind_text(stmt, 5, rec->key_id);
		store_bind_text(stmt, 6, rec->secret_sealed);
		store_bind_text(stmt, 7, rec->state);
		sqlite3_bind_int64(stmt, 8, rec->cursor_seq);
		store_bind_text(stmt, 9, rec->created_by);
		store_bind_text(stmt, 10, rec->request_id);
		sqlite3_bind_int64(stmt, 11, rec->created_ms);
		sqlite3_bind_int64(stmt, 12, rec->updated_ms);
		r = store_step_done(writer, stmt, "insert webhook", err);
		if (r == -EEXIST)
			tnd_error_set(err, "webhook %s exists", rec->id);
		return r;
	}
	case TND_WRITE_WEBHOOK_UPDATE: {
		const struct tnd_webhook_record *rec = write->record;

		r = store_conn_prepare_static(writer, webhooks_sql_update, &stmt, err);
		if (r < 0)
			return r;
		store_bind_text(stmt, 1, rec->id);
		store_bind_text(stmt, 2, rec->state);
		sqlite3_bind_int64(stmt, 3, rec->cursor_seq);
		sqlite3_bind_int64(stmt, 4, rec->updated_ms);
		r = store_step_done(writer, stmt, "update webhook", err);
		if (r == 0 && sqlite3_changes(writer->db) == 0) {
			tnd_error_set(err, "webhook %s does not exist", rec->id);
			r = -ENOENT;
		}
		return r;
	}
	case TND_WRITE_DELIVERY_PUT: {
		const struct tnd_delivery_record *rec = write->record;

		r = store_conn_prepare_static(writer, webhooks_sql_delivery_put, &stmt, err);
		if (r < 0)
			return r;
		store_bind_text(stmt, 1, rec->id);
		store_bind_text(stmt, 2, rec->subscription_id);
		sqlite3_bind_int64(stmt, 3, rec->event_seq);
		store_bind_text(stmt, 4, rec->event_id);
		store_bind_text(stmt, 5, rec->event_type);
		store_bind_text(stmt, 6, rec->state);
		sqlite3_bind_int64(stmt, 7, rec->attempts);
		sqlite3_bind_int64(stmt, 8, rec->next_attempt_ms);
		sqlite3_bind_int64(stmt, 9, rec->last_status);
		store_bind_text(stmt, 10, rec->last_error);
		sqlite3_bind_int64(stmt, 11, rec->latency_ms);
		sqlite3_bind_int64(stmt, 12, rec->created_ms);
		sqlite3_bind_int64(stmt, 13, rec->updated_ms);
		store_bind_text(stmt, 14, rec->attempts_json);
		return store_step_done(writer, stmt, "put delivery", err);
	}
	case TND_WRITE_DELIVERY_REQUEUE: {
		const struct tnd_delivery_requeue *rec = write->record;

		r = store_conn_prepare_static(writer, webhooks_sql_requeue, &stmt, err);
		if (r < 0)
			return r;
		store_bind_text(stmt, 1, rec->id);
		store_bind_text(stmt, 2, rec->subscription_id);
		sqlite3_bind_int64(stmt, 3, rec->from_ms);
		sqlite3_bind_int64(stmt, 4, rec->now_ms);
		sqlite3_bind_int64(stmt, 5, rec->until_ms);
		return store_step_done(writer, stmt, "requeue deliveries", err);
	}
	default:
		tnd_error_set(err, "write kind %u is not a webhook write", write->kind);
		return -ENOTSUP;
	}
}
