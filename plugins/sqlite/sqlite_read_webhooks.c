/*
 * sqlite_read_webhooks.c — the read ops storage ABI 1.2 appended for
 * webhooks: webhook_list (subscriptions) and delivery_list (the
 * dispatcher's due work, the dead-letter list of the API).  Same copying
 * discipline as sqlite_read.c: rows are copied out and the connection is
 * back in the pool before the visitor runs.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sqlite_internal.h"

int store_webhook_list(void *ctx, const struct tnd_webhook_query *query, tnd_webhook_visit_fn *visit,
		       void *userdata, struct tnd_error *err)
{
	static const struct tnd_webhook_query everything = { .size = sizeof(everything) };
	struct store_param params[4];
	struct read_rows rows;
	char sql[512];
	size_t n = 0;
	int r;

	if (query == NULL)
		query = &everything;
	if (query->size < STORE_RECORD_SIZE(struct tnd_webhook_query, limit)) {
		tnd_error_set(err, "webhook query has size %u, smaller than ABI 1.2's", query->size);
		return -EINVAL;
	}
	params[n++] = STORE_TEXT(query->after_id ? query->after_id : "");
	params[n++] = STORE_INT(store_read_limit(query->limit));
	params[n++] = STORE_TEXT(query->id ? query->id : "");
	params[n++] = STORE_TEXT(query->state ? query->state : "");
	snprintf(sql, sizeof(sql),
		 "SELECT id, url, types_json, tenant_id, key_id, secret_sealed, state, cursor_seq, created_by,"
		 " request_id, created_ms, updated_ms FROM webhooks WHERE id > ?1"
		 " AND (?3 = '' OR id = ?3) AND (CASE WHEN ?4 = '' THEN state <> 'deleted' ELSE state = ?4 END)"
		 " ORDER BY id LIMIT ?2");
	r = read_run(ctx, sql, params, n, &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; visit != NULL && i < rows.n_rows; i++) {
		struct tnd_webhook_record rec = {
			.size = sizeof(rec),
			.id = read_text(&rows, i, 0),
			.url = read_text(&rows, i, 1),
			.types_json = read_text(&rows, i, 2),
			.tenant_id = read_text(&rows, i, 3),
			.key_id = read_text(&rows, i, 4),
			.secret_sealed = read_text(&rows, i, 5),
			.state = read_text(&rows, i, 6),
			.cursor_seq = read_int(&rows, i, 7),
			.created_by = read_text(&rows, i, 8),
			.request_id = read_text(&rows, i, 9),
			.created_ms = read_int(&rows, i, 10),
			.updated_ms = read_int(&rows, i, 11),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
	read_rows_free(&rows);
	return 0;
}

int store_delivery_list(void *ctx, const struct tnd_delivery_query *query, tnd_delivery_visit_fn *visit,
			void *userdata, struct tnd_error *err)
{
	static const struct tnd_delivery_query everything = { .size = sizeof(everything) };
	struct store_param params[8];
	struct read_rows rows;
	char sql[768];
	size_t n = 0;
	int len, r;

	if (query == NULL)
		query = &everything;
	if (query->size < STORE_RECORD_SIZE(struct tnd_delivery_query, limit)) {
		tnd_error_set(err, "delivery query has size %u, smaller than ABI 1.2's", query->size);
		return -EINVAL;
	}
	params[n++] = STORE_TEXT(query->after_id ? query->after_id : "");
	params[n++] = STORE_INT(store_read_limit(query->limit));
	{
		char filters[384] = "";
		size_t flen = 0;

		if (query->id) {
			params[n++] = STORE_TEXT(query->id);
			flen += (size_t)snprintf(filters + flen, sizeof(filters) - flen, " AND id = ?%zu", n);
		}
		if (query->subscription_id) {
			params[n++] = STORE_TEXT(query->subscription_id);
			flen += (size_t)snprintf(filters + flen, sizeof(filters) - flen, " AND subscription_id = ?%zu",
						 n);
		}
		if (query->state) {
			params[n++] = STORE_TEXT(query->state);
			flen += (size_t)snprintf(filters + flen, sizeof(filters) - flen, " AND state = ?%zu", n);
		}
		if (query->due_before_ms) {
			params[n++] = STORE_INT(query->due_before_ms);
			flen += (size_t)snprintf(filters + flen, sizeof(filters) - flen, " AND next_attempt_ms <= ?%zu",
						 n);
		}
		len = snprintf(sql, sizeof(sql),
			       "SELECT id, subscription_id, event_seq, event_id, event_type, state, attempts,"
			       " next_attempt_ms, last_status, last_error, latency_ms, created_ms, updated_ms,"
			       " attempts_json FROM deliveries WHERE id > ?1%s ORDER BY id LIMIT ?2",
			       filters);
	}
	if (len < 0 || (size_t)len >= sizeof(sql)) {
		tnd_error_set(err, "delivery query too large");
		return -E2BIG;
	}
	r = read_run(ctx, sql, params, n, &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; visit != NULL && i < rows.n_rows; i++) {
		struct tnd_delivery_record rec = {
			.size = sizeof(rec),
			.id = read_text(&rows, i, 0),
			.subscription_id = read_text(&rows, i, 1),
			.event_seq = read_int(&rows, i, 2),
			.event_id = read_text(&rows, i, 3),
			.event_type = read_text(&rows, i, 4),
			.state = read_text(&rows, i, 5),
			.attempts = read_int(&rows, i, 6),
			.next_attempt_ms = read_int(&rows, i, 7),
			.last_status = read_int(&rows, i, 8),
			.last_error = read_text(&rows, i, 9),
			.latency_ms = read_int(&rows, i, 10),
			.created_ms = read_int(&rows, i, 11),
			.updated_ms = read_int(&rows, i, 12),
			.attempts_json = read_text(&rows, i, 13),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
	read_rows_free(&rows);
	return 0;
}
