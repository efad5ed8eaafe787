/*
 * sqlite_read.c — the read ops: tenant_get, tenant_search, version_list,
 * version_get, phase_list, idempotency_get, ping, and those of ABI 1.1:
 * workflow_get, workflow_list, credential_get; and the copied result sets
 * every read op shares (ABI 1.2's reads are in sqlite_read_streams.c,
 * sqlite_read_governance.c and sqlite_read_webhooks.c).
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
