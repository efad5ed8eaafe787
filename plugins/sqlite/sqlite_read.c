/*
 * sqlite_read.c — the read ops: tenant_get, tenant_search, version_list,
 * version_get, phase_list, idempotency_get, ping, and those of ABI 1.1:
 * workflow_get, workflow_list, credential_get, and those of ABI 1.2:
 * override_list, audit_list, audit_head_get, token_list, grant_list,
 * event_list, quota_list.
 *
 * Each read borrows a connection from the read pool, runs one statement
 * from that connection's cache, copies the rows into one buffer and gives
 * the connection back before calling the visitor.  So a visitor may call
 * any op of the driver (even commit()) without deadlocking a small pool,
 * and a slow visitor never pins a WAL snapshot, which would stop
 * checkpoints from recycling the log.  Rows are bounded by the limit (at
 * most STORE_LIMIT_MAX), so the copy stays small.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

/* --- a result set copied out of SQLite ------------------------------------------------- */

/* struct read_rows is in sqlite_internal.h: sqlite_read_webhooks.c uses it too */

void read_rows_free(struct read_rows *rows)
{
	free(rows->cells);
	free(rows->text);
	memset(rows, 0, sizeof(*rows));
}

static int read_rows_add_text(struct read_rows *rows, const unsigned char *text, size_t len,
			      size_t *ret_offset)
{
	if (rows->text_len + len + 1 > rows->text_cap) {
		size_t cap = rows->text_cap ? rows->text_cap : 4096;
		char *grown;

		while (cap < rows->text_len + len + 1)
			cap *= 2;
		grown = realloc(rows->text, cap);
		if (grown == NULL)
			return -ENOMEM;
		rows->text = grown;
		rows->text_cap = cap;
	}
	memcpy(rows->text + rows->text_len, text, len);
	rows->text[rows->text_len + len] = '\0';
	*ret_offset = rows->text_len;
	rows->text_len += len + 1;
	return 0;
}

static int read_rows_add(struct read_rows *rows, sqlite3_stmt *stmt)
{
	struct read_cell *row;

	if (rows->n_rows == rows->cap_rows) {
		size_t cap = rows->cap_rows ? rows->cap_rows * 2 : 16;
		struct read_cell *grown = realloc(rows->cells, cap * rows->n_cols * sizeof(*grown));

		if (grown == NULL)
			return -ENOMEM;
		rows->cells = grown;
		rows->cap_rows = cap;
	}
	row = &rows->cells[rows->n_rows * rows->n_cols];
	for (size_t c = 0; c < rows->n_cols; c++) {
		int type = sqlite3_column_type(stmt, (int)c);

		memset(&row[c], 0, sizeof(row[c]));
		if (type == SQLITE_NULL) {
			row[c].is_null = true;
		} else if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
			row[c].integer = sqlite3_column_int64(stmt, (int)c);
		} else {
			const unsigned char *text = sqlite3_column_text(stmt, (int)c);
			int r;

			if (text == NULL)
				return -ENOMEM;
			r = read_rows_add_text(rows, text, (size_t)sqlite3_column_bytes(stmt, (int)c),
					       &row[c].text_offset);
			if (r < 0)
				return r;
		}
	}
	rows->n_rows++;
	return 0;
}

const char *read_text(const struct read_rows *rows, size_t row, size_t col)
{
	const struct read_cell *cell = &rows->cells[row * rows->n_cols + col];

	return cell->is_null ? NULL : rows->text + cell->text_offset;
}

int64_t read_int(const struct read_rows *rows, size_t row, size_t col)
{
	return rows->cells[row * rows->n_cols + col].integer;
}

/* --- running one query ------------------------------------------------------------------ */

/* Run @sql with @params on a pooled read connection and copy every row. */
int read_run(struct store *store, const char *sql, const struct store_param *params,
	     size_t n_params, struct read_rows *rows, struct tnd_error *err)
{
	struct store_conn *conn = store_pool_acquire(&store->readers);
	sqlite3_stmt *stmt;
	int rc, r;

	memset(rows, 0, sizeof(*rows));
	r = store_conn_prepare(conn, sql, &stmt, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < n_params; i++) {
		if (params[i].text != NULL)
			sqlite3_bind_text(stmt, (int)i + 1, params[i].text, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(stmt, (int)i + 1, params[i].integer);
	}
	rows->n_cols = (size_t)sqlite3_column_count(stmt);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		r = read_rows_add(rows, stmt);
		if (r < 0) {
			tnd_error_set(err, "out of memory");
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_fail(err, conn->db, rc, "read");
	/* reset ends the read transaction before the visitor runs */
	store_stmt_done(stmt);
out:
	store_pool_release(&store->readers, conn);
	if (r < 0)
		read_rows_free(rows);
	return r;
}

/* --- tenants ------------------------------------------------------------------------------ */

#define READ_TENANT_COLUMNS                                                                   \
	"id, revision, version, observed_version, phase, state, plan, isolation, region,"     \
	" labels_json, manifest_json, status_json, created_ms, updated_ms"

static int read_visit_tenants(const struct read_rows *rows, tnd_tenant_visit_fn *visit, void *userdata)
{
	for (size_t i = 0; visit != NULL && i < rows->n_rows; i++) {
		struct tnd_tenant_record rec = {
			.size = sizeof(rec),
			.id = read_text(rows, i, 0),
			.revision = read_int(rows, i, 1),
			.version = read_int(rows, i, 2),
			.observed_version = read_int(rows, i, 3),
			.phase = read_text(rows, i, 4),
			.state = read_text(rows, i, 5),
			.plan = read_text(rows, i, 6),
			.isolation = read_text(rows, i, 7),
			.region = read_text(rows, i, 8),
			.labels_json = read_text(rows, i, 9),
			.manifest_json = read_text(rows, i, 10),
			.status_json = read_text(rows, i, 11),
			.created_ms = read_int(rows, i, 12),
			.updated_ms = read_int(rows, i, 13),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
	return 0;
}

int store_tenant_get(void *ctx, const char *id, tnd_tenant_visit_fn *visit, void *userdata,
		     struct tnd_error *err)
{
	struct store_param params[] = { STORE_TEXT(id) };
	struct read_rows rows;
	int r;

	if (id == NULL) {
		tnd_error_set(err, "tenant_get without an id");
		return -EINVAL;
	}
	r = read_run(ctx, "SELECT " READ_TENANT_COLUMNS " FROM tenants WHERE id = ?1", params, 1, &rows,
		     err);
	if (r < 0)
		return r;
	if (rows.n_rows == 0) {
		tnd_error_set(err, "tenant %s does not exist", id);
		r = -ENOENT;
	} else {
		r = read_visit_tenants(&rows, visit, userdata);
	}
	read_rows_free(&rows);
	return r;
}

int store_tenant_search(void *ctx, const struct tnd_tenant_query *query, tnd_tenant_visit_fn *visit,
			void *userdata, struct tnd_error *err)
{
	static const struct tnd_tenant_query everything = { .size = sizeof(everything) };
	struct store_param params[STORE_SEARCH_PARAMS_MAX];
	struct read_rows rows;
	char sql[8192];
	size_t n = 0;
	int r;

	if (query == NULL)
		query = &everything;
	if (query->size < offsetof(struct tnd_tenant_query, include_deleted) + sizeof(query->include_deleted)) {
		tnd_error_set(err, "tenant query has size %u, smaller than ABI v1's", query->size);
		return -EINVAL;
	}
	if (query->n_labels > STORE_SEARCH_LABELS_MAX) {
		tnd_error_set(err, "at most %u label filters, not %zu", STORE_SEARCH_LABELS_MAX, query->n_labels);
		return -EINVAL;
	}
	for (size_t i = 0; i < query->n_labels; i++)
		if (query->label_keys == NULL || query->label_values == NULL || query->label_keys[i] == NULL ||
		    query->label_values[i] == NULL) {
			tnd_error_set(err, "label filter %zu lacks a key or a value", i);
			return -EINVAL;
		}

	r = store_search_sql(query, READ_TENANT_COLUMNS, sql, sizeof(sql), params, &n, err);
	if (r < 0)
		return r;
	r = read_run(ctx, sql, params, n, &rows, err);
	if (r < 0)
		return r;
	r = read_visit_tenants(&rows, visit, userdata);
	read_rows_free(&rows);
	return r;
}

/* --- lineage and phase transitions --------------------------------------------------------- */

#define READ_VERSION_COLUMNS "tenant_id, version, manifest_json, actor, request_id, time_ms"

static void read_visit_versions(const struct read_rows *rows, tnd_version_visit_fn *visit, void *userdata)
{
	for (size_t i = 0; visit != NULL && i < rows->n_rows; i++) {
		struct tnd_version_record rec = {
			.size = sizeof(rec),
			.tenant_id = read_text(rows, i, 0),
			.version = read_int(rows, i, 1),
			.manifest_json = read_text(rows, i, 2),
			.actor = read_text(rows, i, 3),
			.request_id = read_text(rows, i, 4),
			.time_ms = read_int(rows, i, 5),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
}

int store_version_list(void *ctx, const char *tenant_id, int64_t after_version, uint32_t limit,
		       tnd_version_visit_fn *visit, void *userdata, struct tnd_error *err)
{
	struct store_param params[] = { STORE_TEXT(tenant_id), STORE_INT(after_version), STORE_INT(store_read_limit(limit)) };
	struct read_rows rows;
	int r;

	if (tenant_id == NULL) {
		tnd_error_set(err, "version_list without a tenant id");
		return -EINVAL;
	}
	r = read_run(ctx,
		     "SELECT " READ_VERSION_COLUMNS " FROM tenant_versions"
		     " WHERE tenant_id = ?1 AND version > ?2 ORDER BY version LIMIT ?3",
		     params, 3, &rows, err);
	if (r < 0)
		return r;
	read_visit_versions(&rows, visit, userdata);
	read_rows_free(&rows);
	return 0;
}

int store_version_get(void *ctx, const char *tenant_id, int64_t version, tnd_version_visit_fn *visit,
		      void *userdata, struct tnd_error *err)
{
	struct store_param params[] = { STORE_TEXT(tenant_id), STORE_INT(version) };
	struct read_rows rows;
	int r;

	if (tenant_id == NULL) {
		tnd_error_set(err, "version_get without a tenant id");
		return -EINVAL;
	}
	r = read_run(ctx,
		     "SELECT " READ_VERSION_COLUMNS " FROM tenant_versions WHERE tenant_id = ?1 AND version = ?2",
		     params, 2, &rows, err);
	if (r < 0)
		return r;
	if (rows.n_rows == 0) {
		tnd_error_set(err, "tenant %s has no version %lld", tenant_id, (long long)version);
		r = -ENOENT;
	} else {
		read_visit_versions(&rows, visit, userdata);
	}
	read_rows_free(&rows);
	return r;
}

int store_phase_list(void *ctx, const char *tenant_id, int64_t after_seq, uint32_t limit,
		     tnd_phase_visit_fn *visit, void *userdata, struct tnd_error *err)
{
	struct store_param params[] = { STORE_TEXT(tenant_id), STORE_INT(after_seq), STORE_INT(store_read_limit(limit)) };
	struct read_rows rows;
	int r;

	if (tenant_id == NULL) {
		tnd_error_set(err, "phase_list without a tenant id");
		return -EINVAL;
	}
	r = read_run(ctx,
		     "SELECT tenant_id, seq, from_phase, to_phase, version, actor, request_id, reason, time_ms"
		     " FROM phase_transitions WHERE tenant_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
		     params, 3, &rows, err);
	if (r < 0)
		return r;
	for (size_t i = 0; visit != NULL && i < rows.n_rows; i++) {
		struct tnd_phase_record rec = {
			.size = sizeof(rec),
			.tenant_id = read_text(&rows, i, 0),
			.seq = read_int(&rows, i, 1),
			.from_phase = read_text(&rows, i, 2),
			.to_phase = read_text(&rows, i, 3),
			.version = read_int(&rows, i, 4),
			.actor = read_text(&rows, i, 5),
			.request_id = read_text(&rows, i, 6),
			.reason = read_text(&rows, i, 7),
			.time_ms = read_int(&rows, i, 8),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
	read_rows_free(&rows);
	return 0;
}

/* --- workflows and credentials (ABI 1.1) ---------------------------------------------------- */

#define READ_WORKFLOW_COLUMNS                                                                  \
	"id, revision, tenant_id, kind, target_version, state, step, attempts, next_attempt_ms," \
	" document_json, created_ms, updated_ms"

static void read_visit_workflows(const struct read_rows *rows, tnd_workflow_visit_fn *visit, void *userdata)
{
	for (size_t i = 0; visit != NULL && i < rows->n_rows; i++) {
		struct tnd_workflow_record rec = {
			.size = sizeof(rec),
			.id = read_text(rows, i, 0),
			.revision = read_int(rows, i, 1),
			.tenant_id = read_text(rows, i, 2),
			.kind = read_text(rows, i, 3),
			.target_version = read_int(rows, i, 4),
			.state = read_text(rows, i, 5),
			.step = read_int(rows, i, 6),
			.attempts = read_int(rows, i, 7),
			.next_attempt_ms = read_int(rows, i, 8),
			.document_json = read_text(rows, i, 9),
			.created_ms = read_int(rows, i, 10),
			.updated_ms = read_int(rows, i, 11),
		};
		if (visit(&rec, userdata) != 0)
			break;
	}
}

int store_workflow_get(void *ctx, const char *id, tnd_workflow_visit_fn *visit, void *userdata,
		       struct tnd_error *err)
{
	struct store_param params[] = { STORE_TEXT(id) };
	struct read_rows rows;
	int r;

	if (id == NULL) {
		tnd_error_set(err, "workflow_get without an id");
		return -EINVAL;
	}
	r = read_run(ctx, "SELECT " READ_WORKFLOW_COLUMNS " FROM workflows WHERE id = ?1", params, 1, &rows, err);
	if (r < 0)
		return r;
	if (rows.n_rows == 0) {
		tnd_error_set(err, "workflow %s does not exist", id);
		r = -ENOENT;
	} else {
		read_visit_workflows(&rows, visit, userdata);
	}
	read_rows_free(&rows);
	return r;
}

int store_workflow_list(void *ctx, const struct tnd_workflow_query *query, tnd_workflow_visit_fn *visit,
			void *userdata, struct tnd_error *err)
{
	static const struct tnd_workflow_query everything = { .size = sizeof(everything) };
	struct store_param params[STORE_WORKFLOW_PARAMS_MAX];
	struct read_rows rows;
	char sql[1024];
	size_t n = 0;
	int r;

	if (query == NULL)
		query = &everything;
	if (query->size < STORE_RECORD_SIZE(struct tnd_workflow_query, limit)) {
		tnd_error_set(err, "workflow query has size %u, smaller than ABI 1.1's", query->size);
		return -EINVAL;
	}
	r = store_workflow_list_sql(query, READ_WORKFLOW_COLUMNS, sql, sizeof(sql), params, &n, err);
	if (r < 0)
		return r;
	r = read_run(ctx, sql, params, n, &rows, err);
	if (r < 0)
		return r;
	read_visit_workflows(&rows, visit, userdata);
	read_rows_free(&rows);
	return 0;
}

int store_credential_get(void *ctx, const char *tenant_id, tnd_credential_visit_fn *visit, void *userdata,
			 struct tnd_error *err)
{
	struct store_param params[] = { STORE_TEXT(tenant_id) };
	struct read_rows rows;
	int r;

	if (tenant_id == NULL) {
		tnd_error_set(err, "credential_get without a tenant id");
		return -EINVAL;
	}
	r = read_run(ctx, "SELECT tenant_id, key_id, ciphertext, updated_ms FROM tenant_credentials WHERE tenant_id = ?1",
		     params, 1, &rows, err);
	if (r < 0)
		return r;
	if (rows.n_rows == 0) {
		/* The tenant id is fine to name; the ciphertext is never echoed. */
		tnd_error_set(err, "tenant %s has no credentials", tenant_id);
		r = -ENOENT;
	} else if (visit != NULL) {
		struct tnd_credential_record rec = {
			.size = sizeof(rec),
			.tenant_id = read_text(&rows, 0, 0),
			.key_id = read_text(&rows, 0, 1),
			.ciphertext = read_text(&rows, 0, 2),
			.updated_ms = read_int(&rows, 0, 3),
		};
		visit(&rec, userdata);
	}
	read_rows_free(&rows);
	return r;
}

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

/* --- idempotency and liveness --------------------------------------------------------------- */

int store_idempotency_get(void *ctx, const char *key, int64_t now_ms, tnd_idempotency_visit_fn *visit,
			  void *userdata, struct tnd_error *err)
{
	struct store_param params[] = { STORE_TEXT(key), STORE_INT(now_ms) };
	struct read_rows rows;
	int r;

	if (key == NULL) {
		tnd_error_set(err, "idempotency_get without a key");
		return -EINVAL;
	}
	r = read_run(ctx,
		     "SELECT key, request_hash, status, response_json, created_ms, expires_ms"
		     " FROM idempotency WHERE key = ?1 AND expires_ms > ?2",
		     params, 2, &rows, err);
	if (r < 0)
		return r;
	if (rows.n_rows == 0) {
		tnd_error_set(err, "no unexpired idempotency record with this key");
		r = -ENOENT;
	} else if (visit != NULL) {
		struct tnd_idempotency_record rec = {
			.size = sizeof(rec),
			.key = read_text(&rows, 0, 0),
			.request_hash = read_text(&rows, 0, 1),
			.status = (int)read_int(&rows, 0, 2),
			.response_json = read_text(&rows, 0, 3),
			.created_ms = read_int(&rows, 0, 4),
			.expires_ms = read_int(&rows, 0, 5),
		};
		visit(&rec, userdata);
	}
	read_rows_free(&rows);
	return r;
}

int store_ping(void *ctx, struct tnd_error *err)
{
	struct read_rows rows;
	int r;

	/* Touches the schema and a table page, not just the connection. */
	r = read_run(ctx, "SELECT 1 FROM tenants LIMIT 1", NULL, 0, &rows, err);
	if (r == 0)
		read_rows_free(&rows);
	return r;
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
