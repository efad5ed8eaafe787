/*
 * sqlite_read_streams.c — the read ops of ABI 1.2's append-only streams:
 * event_list (the event outbox) and audit_list, audit_head_get (the audit
 * trail).  Like every read op they copy their rows out (read_run) before
 * calling the visitor.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

/* --- the event outbox (ABI 1.2) ---------------------------------------------------------- */

int store_event_list(void *ctx, const struct tnd_event_query *query, tnd_event_visit_fn *visit, void *userdata,
		     struct tnd_error *err)
{
	static const struct tnd_event_query everything = { .size = sizeof(everything) };
	struct store_param params[4];
	struct read_rows rows;
	char sql[512];
	size_t n = 0, tenant_param = 0, type_param = 0;
	int len, r;

	if (query == NULL)
		query = &everything;
	if (query->size < STORE_RECORD_SIZE(struct tnd_event_query, type)) {
		tnd_error_set(err, "event query has size %u, smaller than ABI 1.2's", query->size);
		return -EINVAL;
	}
	/* one tenant's events through its index, everything else along seq */
	params[n++] = STORE_INT(query->after_seq);
	params[n++] = STORE_INT(store_read_limit(query->limit));
	if (query->tenant_id) {
		params[n++] = STORE_TEXT(query->tenant_id);
		tenant_param = n;
	}
	if (query->type) {
		params[n++] = STORE_TEXT(query->type);
		type_param = n;
	}
	{
		char tenant_sql[32] = "", type_sql[32] = "";
		if (tenant_param)
			snprintf(tenant_sql, sizeof(tenant_sql), " AND tenant_id = ?%zu", tenant_param);
		if (type_param)
			snprintf(type_sql, sizeof(type_sql), " AND type = ?%zu", type_param);
		len = snprintf(sql, sizeof(sql),
			       "SELECT seq, id, tenant_id, type, time_ms, event_json FROM events"
			       " WHERE seq > ?1%s%s ORDER BY seq LIMIT ?2",
			       tenant_sql, type_sql);
	}
	if (len < 0 || (size_t)len >= sizeof(sql)) {
		tnd_error_set(err, "event query too large");
		return -E2BIG;
	}
	r = read_run(ctx, sql, params, n, &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; visit != NULL && i < rows.n_rows; i++) {
		struct tnd_event_record rec = {
			.size = sizeof(rec),
			.seq = read_int(&rows, i, 0),
			.id = read_text(&rows, i, 1),
			.tenant_id = read_text(&rows, i, 2),
			.type = read_text(&rows, i, 3),
			.time_ms = read_int(&rows, i, 4),
			.event_json = read_text(&rows, i, 5),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
	read_rows_free(&rows);
	return 0;
}

/* --- audit (ABI 1.2) ------------------------------------------------------------------------ */

#define READ_AUDIT_COLUMNS                                                                                  \
	"seq, time_ms, tenant_id, actor, action, target, previous_state, new_state, outcome, reason, request_id," \
	" correlation_id, key_id, prev_hash, hash, signature"

int store_audit_list(void *ctx, const struct tnd_audit_query *query, tnd_audit_visit_fn *visit, void *userdata,
		     struct tnd_error *err)
{
	static const struct {
		const char *column;
		size_t offset;
	} filters[] = {
		{ "tenant_id", offsetof(struct tnd_audit_query, tenant_id) },
		{ "actor", offsetof(struct tnd_audit_query, actor) },
		{ "action", offsetof(struct tnd_audit_query, action) },
		{ "outcome", offsetof(struct tnd_audit_query, outcome) },
	};
	struct store_param params[8];
	struct read_rows rows;
	char sql[1024];
	size_t n = 0, len;
	int r;

	if (query == NULL || query->size < STORE_RECORD_SIZE(struct tnd_audit_query, limit)) {
		tnd_error_set(err, "audit query missing or smaller than ABI 1.2's");
		return -EINVAL;
	}
	len = (size_t)snprintf(sql, sizeof(sql), "SELECT " READ_AUDIT_COLUMNS " FROM audit_log WHERE seq > ?1");
	params[n++] = STORE_INT(query->after_seq);
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		const char *value = *(const char *const *)((const char *)query + filters[i].offset);
		if (value == NULL)
			continue;
		params[n++] = STORE_TEXT(value);
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND %s = ?%zu", filters[i].column, n);
	}
	if (query->after_ms > 0) {
		params[n++] = STORE_INT(query->after_ms);
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND time_ms >= ?%zu", n);
	}
	if (query->until_ms > 0) {
		params[n++] = STORE_INT(query->until_ms);
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND time_ms < ?%zu", n);
	}
	params[n++] = STORE_INT(store_read_limit(query->limit));
	snprintf(sql + len, sizeof(sql) - len, " ORDER BY seq LIMIT ?%zu", n);

	r = read_run(ctx, sql, params, n, &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rows.n_rows; i++) {
		struct tnd_audit_record rec = {
			.size = sizeof(rec),
			.seq = read_int(&rows, i, 0),
			.time_ms = read_int(&rows, i, 1),
			.tenant_id = read_text(&rows, i, 2),
			.actor = read_text(&rows, i, 3),
			.action = read_text(&rows, i, 4),
			.target = read_text(&rows, i, 5),
			.previous_state = read_text(&rows, i, 6),
			.new_state = read_text(&rows, i, 7),
			.outcome = read_text(&rows, i, 8),
			.reason = read_text(&rows, i, 9),
			.request_id = read_text(&rows, i, 10),
			.correlation_id = read_text(&rows, i, 11),
			.key_id = read_text(&rows, i, 12),
			.prev_hash = read_text(&rows, i, 13),
			.hash = read_text(&rows, i, 14),
			.signature = read_text(&rows, i, 15),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
	read_rows_free(&rows);
	return 0;
}

int store_audit_head_get(void *ctx, tnd_audit_head_visit_fn *visit, void *userdata, struct tnd_error *err)
{
	struct read_rows rows;
	int r;

	r = read_run(ctx, "SELECT seq, hash, key_id, signature FROM audit_head WHERE id = 1", NULL, 0, &rows, err);
	if (r < 0)
		return r;
	if (rows.n_rows == 0) {
		tnd_error_set(err, "no audit chain head");
		r = -ENOENT;
	} else if (visit != NULL) {
		struct tnd_audit_head head = {
			.size = sizeof(head),
			.seq = read_int(&rows, 0, 0),
			.hash = read_text(&rows, 0, 1),
			.key_id = read_text(&rows, 0, 2),
			.signature = read_text(&rows, 0, 3),
		};
		visit(&head, userdata);
	}
	read_rows_free(&rows);
	return r;
}
