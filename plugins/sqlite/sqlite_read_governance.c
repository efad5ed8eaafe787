/*
 * sqlite_read_governance.c — the read ops of ABI 1.2's governance records:
 * override_list (administrative overrides), token_list and grant_list (API
 * tokens and break-glass grants), quota_list (effective-quota history).
 * Like every read op they copy their rows out (read_run) before calling
 * the visitor.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

/* --- overrides (ABI 1.2) ---------------------------------------------------------------- */

int store_override_list(void *ctx, const struct tnd_override_query *query, tnd_override_visit_fn *visit,
			void *userdata, struct tnd_error *err)
{
	static const struct tnd_override_query everything = { .size = sizeof(everything) };
	struct store_param params[4];
	struct read_rows rows;
	char sql[512];
	size_t n = 0;
	int len, r;

	if (query == NULL)
		query = &everything;
	if (query->size < STORE_RECORD_SIZE(struct tnd_override_query, limit)) {
		tnd_error_set(err, "override query has size %u, smaller than ABI 1.2's", query->size);
		return -EINVAL;
	}
	/* a tenant's overrides through its index; all of them in id order */
	if (query->tenant_id)
		params[n++] = STORE_TEXT(query->tenant_id);
	params[n++] = STORE_INT(query->active_at_ms);
	params[n++] = STORE_TEXT(query->after_id ? query->after_id : "");
	params[n++] = STORE_INT(store_read_limit(query->limit));
	len = snprintf(sql, sizeof(sql),
		       "SELECT id, tenant_id, limits_json, actor, request_id, reason, created_ms, expires_ms"
		       " FROM overrides WHERE %s expires_ms > ?%zu AND id > ?%zu ORDER BY id LIMIT ?%zu",
		       query->tenant_id ? "tenant_id = ?1 AND" : "", n - 2, n - 1, n);
	if (len < 0 || (size_t)len >= sizeof(sql)) {
		tnd_error_set(err, "override query too large");
		return -E2BIG;
	}
	r = read_run(ctx, sql, params, n, &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; visit != NULL && i < rows.n_rows; i++) {
		struct tnd_override_record rec = {
			.size = sizeof(rec),
			.id = read_text(&rows, i, 0),
			.tenant_id = read_text(&rows, i, 1),
			.limits_json = read_text(&rows, i, 2),
			.actor = read_text(&rows, i, 3),
			.request_id = read_text(&rows, i, 4),
			.reason = read_text(&rows, i, 5),
			.created_ms = read_int(&rows, i, 6),
			.expires_ms = read_int(&rows, i, 7),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
	read_rows_free(&rows);
	return 0;
}

/* --- tokens and grants (ABI 1.2) ---------------------------------------------------------- */

/* "WHERE [col = ?1 AND] ... id > ?n ORDER BY id LIMIT ?m" with optional
 * exact-match filters; the tables are small, the primary key serves. */
static int read_list(void *ctx, const char *columns, const char *table, const char *const *filter_cols,
		     const char *const *filter_values, size_t n_filters, const char *after_id, uint32_t limit,
		     struct read_rows *rows, struct tnd_error *err)
{
	struct store_param params[4];
	char sql[640];
	size_t n = 0, len;

	len = (size_t)snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE", columns, table);
	for (size_t i = 0; i < n_filters && n < 2; i++) {
		if (filter_values[i] == NULL)
			continue;
		params[n++] = STORE_TEXT(filter_values[i]);
		len += (size_t)snprintf(sql + len, sizeof(sql) - len, " %s = ?%zu AND", filter_cols[i], n);
	}
	params[n++] = STORE_TEXT(after_id ? after_id : "");
	params[n++] = STORE_INT(store_read_limit(limit));
	len += (size_t)snprintf(sql + len, sizeof(sql) - len, " id > ?%zu ORDER BY id LIMIT ?%zu", n - 1, n);
	if (len >= sizeof(sql)) {
		tnd_error_set(err, "%s query too large", table);
		return -E2BIG;
	}
	return read_run(ctx, sql, params, n, rows, err);
}

int store_token_list(void *ctx, const struct tnd_token_query *query, tnd_token_visit_fn *visit, void *userdata,
		     struct tnd_error *err)
{
	static const struct tnd_token_query everything = { .size = sizeof(everything) };
	static const char *const filter_cols[] = { "id" };
	struct read_rows rows;
	int r;

	if (query == NULL)
		query = &everything;
	if (query->size < STORE_RECORD_SIZE(struct tnd_token_query, limit)) {
		tnd_error_set(err, "token query has size %u, smaller than ABI 1.2's", query->size);
		return -EINVAL;
	}
	r = read_list(ctx,
		      "id, name, role, tenant_id, hash, created_by, request_id, created_ms, expires_ms, revoked_ms,"
		      " revoked_by",
		      "tokens", filter_cols, &query->id, 1, query->after_id, query->limit, &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; visit != NULL && i < rows.n_rows; i++) {
		struct tnd_token_record rec = {
			.size = sizeof(rec),
			.id = read_text(&rows, i, 0),
			.name = read_text(&rows, i, 1),
			.role = read_text(&rows, i, 2),
			.tenant_id = read_text(&rows, i, 3),
			.hash = read_text(&rows, i, 4),
			.created_by = read_text(&rows, i, 5),
			.request_id = read_text(&rows, i, 6),
			.created_ms = read_int(&rows, i, 7),
			.expires_ms = read_int(&rows, i, 8),
			.revoked_ms = read_int(&rows, i, 9),
			.revoked_by = read_text(&rows, i, 10),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
	read_rows_free(&rows);
	return 0;
}

int store_grant_list(void *ctx, const struct tnd_grant_query *query, tnd_grant_visit_fn *visit, void *userdata,
		     struct tnd_error *err)
{
	static const struct tnd_grant_query everything = { .size = sizeof(everything) };
	static const char *const filter_cols[] = { "id", "state" };
	const char *filter_values[2];
	struct read_rows rows;
	int r;

	if (query == NULL)
		query = &everything;
	if (query->size < STORE_RECORD_SIZE(struct tnd_grant_query, limit)) {
		tnd_error_set(err, "grant query has size %u, smaller than ABI 1.2's", query->size);
		return -EINVAL;
	}
	filter_values[0] = query->id;
	filter_values[1] = query->state;
	r = read_list(ctx,
		      "id, subject, requester, role, reason, ttl_s, state, request_id, requested_ms, decided_by,"
		      " decided_ms, expires_ms",
		      "breakglass_grants", filter_cols, filter_values, 2, query->after_id, query->limit, &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; visit != NULL && i < rows.n_rows; i++) {
		struct tnd_grant_record rec = {
			.size = sizeof(rec),
			.id = read_text(&rows, i, 0),
			.subject = read_text(&rows, i, 1),
			.requester = read_text(&rows, i, 2),
			.role = read_text(&rows, i, 3),
			.reason = read_text(&rows, i, 4),
			.ttl_s = read_int(&rows, i, 5),
			.state = read_text(&rows, i, 6),
			.request_id = read_text(&rows, i, 7),
			.requested_ms = read_int(&rows, i, 8),
			.decided_by = read_text(&rows, i, 9),
			.decided_ms = read_int(&rows, i, 10),
			.expires_ms = read_int(&rows, i, 11),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
	read_rows_free(&rows);
	return 0;
}

/* --- quota history (ABI 1.2: quotas) --------------------------------------------------- */

int store_quota_list(void *ctx, const struct tnd_quota_query *query, tnd_quota_visit_fn *visit, void *userdata,
		     struct tnd_error *err)
{
	struct store_param params[3];
	struct read_rows rows;
	const char *sql;
	int r;

	if (query == NULL || query->size < STORE_RECORD_SIZE(struct tnd_quota_query, limit) ||
	    query->tenant_id == NULL) {
		tnd_error_set(err, "quota query without a tenant id, or smaller than ABI 1.2's");
		return -EINVAL;
	}
	params[0] = STORE_TEXT(query->tenant_id);
	params[1] = STORE_INT(query->after_seq > 0 ? query->after_seq : (query->newest_first ? INT64_MAX : 0));
	params[2] = STORE_INT(store_read_limit(query->limit));
	sql = query->newest_first
		      ? "SELECT tenant_id, seq, version, quotas_json, source, actor, request_id, time_ms"
			" FROM quota_history WHERE tenant_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3"
		      : "SELECT tenant_id, seq, version, quotas_json, source, actor, request_id, time_ms"
			" FROM quota_history WHERE tenant_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";
	r = read_run(ctx, sql, params, 3, &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; visit != NULL && i < rows.n_rows; i++) {
		struct tnd_quota_record rec = {
			.size = sizeof(rec),
			.tenant_id = read_text(&rows, i, 0),
			.seq = read_int(&rows, i, 1),
			.version = read_int(&rows, i, 2),
			.quotas_json = read_text(&rows, i, 3),
			.source = read_text(&rows, i, 4),
			.actor = read_text(&rows, i, 5),
			.request_id = read_text(&rows, i, 6),
			.time_ms = read_int(&rows, i, 7),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
	read_rows_free(&rows);
	return 0;
}
