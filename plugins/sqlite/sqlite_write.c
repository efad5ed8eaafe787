/*
 * sqlite_write.c — the write kinds of commit(): validating each record in
 * the calling thread (so the group commit leader spends its time on SQL,
 * not on JSON), and applying one write inside the writer's transaction with
 * the preconditions storage.h promises: -EEXIST, -ENOENT, -ESTALE.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

/* --- validation, in the caller's thread --------------------------------------------- */

bool store_has_text(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/*
 * manifest_json and status_json are opaque to the driver: it stores and
 * returns them, never looks inside.  A full parse of every one on the
 * write path cost more CPU than the b-tree inserts; the core renders them
 * with jansson, so check only that each is one JSON object's text.
 */
int store_check_json_object(const char *text, const char *field, struct tnd_error *err)
{
	const char *first, *last;

	if (text == NULL) {
		tnd_error_set(err, "%s is NULL", field);
		return -EINVAL;
	}
	first = text;
	while (*first == ' ' || *first == '\t' || *first == '\n' || *first == '\r')
		first++;
	last = text + strlen(text);
	while (last > first && (last[-1] == ' ' || last[-1] == '\t' || last[-1] == '\n' || last[-1] == '\r'))
		last--;
	if (last - first < 2 || *first != '{' || last[-1] != '}') {
		tnd_error_set(err, "%s is not a JSON object", field);
		return -EINVAL;
	}
	return 0;
}

/* "/<key>" with RFC 6901 escapes (~ → ~0, / → ~1); caller frees. */
static char *write_pointer_for_key(const char *key)
{
	size_t len = strlen(key);
	char *pointer = malloc(2 * len + 2);
	char *p = pointer;

	if (pointer == NULL)
		return NULL;
	*p++ = '/';
	for (const char *k = key; *k; k++) {
		if (*k == '~' || *k == '/') {
			*p++ = '~';
			*p++ = *k == '~' ? '0' : '1';
		} else {
			*p++ = *k;
		}
	}
	*p = '\0';
	return pointer;
}

/* Parse labels_json (a JSON object of strings) into one owned block:
 * the label array followed by the key and value strings. */
int store_labels_parse(const struct tnd_host *host, const char *labels_json, struct store_prepared_write *pw,
		       struct tnd_error *err)
{
	struct tnd_error json_err = { { 0 } };
	struct tnd_json *doc = NULL;
	const char **keys = NULL, **values = NULL;
	struct store_label *labels = NULL;
	size_t n = 0, text_size = 0;
	char *text;
	int r;

	if (labels_json == NULL) {
		tnd_error_set(err, "labels_json is NULL (use \"{}\" for no labels)");
		return -EINVAL;
	}
	r = host->json_parse(host, labels_json, strlen(labels_json), &doc, &json_err);
	if (r < 0) {
		tnd_error_set(err, "labels_json is not valid JSON: %s", json_err.message);
		return -EINVAL;
	}
	if (host->json_type(host, doc, "") != TND_JSON_OBJECT || host->json_get_size(host, doc, "", &n) < 0) {
		tnd_error_set(err, "labels_json is not a JSON object");
		r = -EINVAL;
		goto out;
	}
	if (n == 0) {
		r = 0;
		goto out;
	}
	keys = calloc(n, sizeof(*keys));
	values = calloc(n, sizeof(*values));
	if (keys == NULL || values == NULL) {
		r = -ENOMEM;
		tnd_error_set(err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char *pointer;

		r = host->json_get_key(host, doc, "", i, &keys[i]);
		if (r < 0) {
			tnd_error_set(err, "labels_json: cannot read member %zu", i);
			r = -EINVAL;
			goto out;
		}
		pointer = write_pointer_for_key(keys[i]);
		if (pointer == NULL) {
			r = -ENOMEM;
			tnd_error_set(err, "out of memory");
			goto out;
		}
		r = host->json_get_string(host, doc, pointer, &values[i]);
		free(pointer);
		if (r < 0) {
			tnd_error_set(err, "labels_json: label \"%s\" %s", keys[i],
				      r == -EINVAL ? "is not a string" : "cannot be read");
			r = -EINVAL;
			goto out;
		}
		text_size += strlen(keys[i]) + 1 + strlen(values[i]) + 1;
	}

	labels = malloc(n * sizeof(*labels) + text_size);
	if (labels == NULL) {
		r = -ENOMEM;
		tnd_error_set(err, "out of memory");
		goto out;
	}
	text = (char *)(labels + n);
	for (size_t i = 0; i < n; i++) {
		size_t key_len = strlen(keys[i]) + 1, value_len = strlen(values[i]) + 1;

		labels[i].key = memcpy(text, keys[i], key_len);
		text += key_len;
		labels[i].value = memcpy(text, values[i], value_len);
		text += value_len;
	}
	pw->labels = labels;
	pw->n_labels = n;
	r = 0;
out:
	free(keys);
	free(values);
	host->json_free(host, doc);
	return r;
}

static int write_prepare_tenant(const struct tnd_host *host, const struct tnd_write *write,
				struct store_prepared_write *pw, struct tnd_error *err)
{
	const struct tnd_tenant_record *rec = write->record;
	int r;

	if (rec->size < STORE_RECORD_SIZE(struct tnd_tenant_record, updated_ms)) {
		tnd_error_set(err, "tenant record has size %u, smaller than ABI v1's", rec->size);
		return -EINVAL;
	}
	if (!store_has_text(rec->id) || !store_has_text(rec->phase) || !store_has_text(rec->state) ||
	    !store_has_text(rec->plan) || !store_has_text(rec->isolation)) {
		tnd_error_set(err, "tenant record lacks %s",
			      !store_has_text(rec->id)	      ? "an id"
			      : !store_has_text(rec->phase) ? "a phase"
			      : !store_has_text(rec->state) ? "a state"
			      : !store_has_text(rec->plan)  ? "a plan"
							    : "an isolation");
		return -EINVAL;
	}
	/* The stored revision is the optimistic lock: an update must move it
	 * exactly one step past the revision it was based on. */
	if (write->kind == TND_WRITE_TENANT_UPDATE && rec->revision != write->expect_revision + 1) {
		tnd_error_set(err, "tenant %s: update to revision %lld must be based on revision %lld, not %lld",
			      rec->id, (long long)rec->revision, (long long)rec->revision - 1,
			      (long long)write->expect_revision);
		return -EINVAL;
	}
	r = store_check_json_object(rec->manifest_json, "manifest_json", err);
	if (r < 0)
		return r;
	r = store_check_json_object(rec->status_json, "status_json", err);
	if (r < 0)
		return r;
	return store_labels_parse(host, rec->labels_json, pw, err);
}

static int write_prepare_one(const struct tnd_host *host, const struct tnd_write *write,
			     struct store_prepared_write *pw, struct tnd_error *err)
{
	pw->kind = write->kind;
	pw->expect_revision = write->expect_revision;
	pw->record = write->record;

	switch (write->kind) {
	case TND_WRITE_TENANT_INSERT:
	case TND_WRITE_TENANT_UPDATE:
	case TND_WRITE_VERSION_APPEND:
	case TND_WRITE_PHASE_APPEND:
	case TND_WRITE_IDEMPOTENCY_INSERT:
	case TND_WRITE_WORKFLOW_INSERT:
	case TND_WRITE_WORKFLOW_UPDATE:
	case TND_WRITE_CREDENTIAL_PUT:
	case TND_WRITE_CREDENTIAL_DELETE:
	case TND_WRITE_OVERRIDE_INSERT:
	case TND_WRITE_AUDIT:
	case TND_WRITE_TOKEN_INSERT:
	case TND_WRITE_TOKEN_REVOKE:
	case TND_WRITE_GRANT_INSERT:
	case TND_WRITE_GRANT_DECIDE:
	case TND_WRITE_EVENT_APPEND:
	case TND_WRITE_QUOTA_APPEND:
	case TND_WRITE_WEBHOOK_INSERT:
	case TND_WRITE_WEBHOOK_UPDATE:
	case TND_WRITE_DELIVERY_PUT:
	case TND_WRITE_DELIVERY_REQUEUE:
		break;
	default:
		tnd_error_set(err, "write kind %u is not supported by this driver", write->kind);
		return -ENOTSUP;
	}
	if (write->record == NULL) {
		tnd_error_set(err, "write of kind %u has no record", write->kind);
		return -EINVAL;
	}

	switch (write->kind) {
	case TND_WRITE_TENANT_INSERT:
	case TND_WRITE_TENANT_UPDATE:
		return write_prepare_tenant(host, write, pw, err);
	case TND_WRITE_WORKFLOW_INSERT:
	case TND_WRITE_WORKFLOW_UPDATE:
	case TND_WRITE_CREDENTIAL_PUT:
	case TND_WRITE_CREDENTIAL_DELETE:
		return store_reconcile_prepare(write, err);
	case TND_WRITE_OVERRIDE_INSERT:
		return store_override_prepare(write, err);
	case TND_WRITE_AUDIT:
		return store_audit_prepare(host, write, err);
	case TND_WRITE_TOKEN_INSERT:
	case TND_WRITE_TOKEN_REVOKE:
	case TND_WRITE_GRANT_INSERT:
	case TND_WRITE_GRANT_DECIDE:
		return store_tokens_prepare(write, err);
	case TND_WRITE_EVENT_APPEND:
		return store_event_prepare(write, err);
	case TND_WRITE_QUOTA_APPEND:
		return store_quota_prepare(write, err);
	case TND_WRITE_WEBHOOK_INSERT:
	case TND_WRITE_WEBHOOK_UPDATE:
	case TND_WRITE_DELIVERY_PUT:
	case TND_WRITE_DELIVERY_REQUEUE:
		return store_webhooks_prepare(write, err);
	case TND_WRITE_VERSION_APPEND: {
		const struct tnd_version_record *rec = write->record;
		if (rec->size < STORE_RECORD_SIZE(struct tnd_version_record, time_ms)) {
			tnd_error_set(err, "version record has size %u, smaller than ABI v1's", rec->size);
			return -EINVAL;
		}
		if (!store_has_text(rec->tenant_id) || !store_has_text(rec->actor)) {
			tnd_error_set(err, "version record lacks %s",
				      store_has_text(rec->tenant_id) ? "an actor" : "a tenant id");
			return -EINVAL;
		}
		return store_check_json_object(rec->manifest_json, "manifest_json", err);
	}
	case TND_WRITE_PHASE_APPEND: {
		const struct tnd_phase_record *rec = write->record;
		if (rec->size < STORE_RECORD_SIZE(struct tnd_phase_record, time_ms)) {
			tnd_error_set(err, "phase record has size %u, smaller than ABI v1's", rec->size);
			return -EINVAL;
		}
		if (!store_has_text(rec->tenant_id) || !store_has_text(rec->to_phase) ||
		    !store_has_text(rec->actor)) {
			tnd_error_set(err, "phase record lacks %s",
				      !store_has_text(rec->tenant_id) ? "a tenant id"
				      : !store_has_text(rec->to_phase) ? "a to_phase"
								       : "an actor");
			return -EINVAL;
		}
		return 0;
	}
	default: { /* TND_WRITE_IDEMPOTENCY_INSERT */
		const struct tnd_idempotency_record *rec = write->record;
		if (rec->size < STORE_RECORD_SIZE(struct tnd_idempotency_record, expires_ms)) {
			tnd_error_set(err, "idempotency record has size %u, smaller than ABI v1's", rec->size);
			return -EINVAL;
		}
		if (!store_has_text(rec->key) || !store_has_text(rec->request_hash) ||
		    rec->response_json == NULL) {
			tnd_error_set(err, "idempotency record lacks %s",
				      !store_has_text(rec->key)		 ? "a key"
				      : !store_has_text(rec->request_hash) ? "a request hash"
									   : "a response");
			return -EINVAL;
		}
		return 0;
	}
	}
}

int store_writes_prepare(const struct tnd_host *host, const struct tnd_write *writes, size_t n_writes,
			 struct store_prepared_write **ret_prepared, size_t *ret_failed_index,
			 struct tnd_error *err)
{
	struct store_prepared_write *prepared;
	int r;

	prepared = calloc(n_writes ? n_writes : 1, sizeof(*prepared));
	if (prepared == NULL) {
		tnd_error_set(err, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_writes; i++) {
		r = write_prepare_one(host, &writes[i], &prepared[i], err);
		if (r < 0) {
			store_writes_free(prepared, n_writes);
			*ret_failed_index = i;
			return r;
		}
	}
	*ret_prepared = prepared;
	return 0;
}

void store_writes_free(struct store_prepared_write *prepared, size_t n_writes)
{
	if (prepared == NULL)
		return;
	for (size_t i = 0; i < n_writes; i++)
		free(prepared[i].labels);
	free(prepared);
}

/* --- applying, in the writer's transaction ----------------------------------------- */

static const char write_sql_tenant_insert[] =
	"INSERT INTO tenants (id, revision, version, observed_version, phase, state, plan, isolation,"
	" region, labels_json, manifest_json, status_json, created_ms, updated_ms)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
/* The usual update leaves the labels alone: one statement, which matches
 * nothing when the labels changed, the revision is stale or the tenant is
 * missing; the writer then looks at the row to tell which. */
static const char write_sql_tenant_update_same_labels[] =
	"UPDATE tenants SET revision = ?2, version = ?3, observed_version = ?4, phase = ?5, state = ?6,"
	" plan = ?7, isolation = ?8, region = ?9, manifest_json = ?11,"
	" status_json = ?12, created_ms = ?13, updated_ms = ?14"
	" WHERE id = ?1 AND revision = ?15 AND labels_json = ?10";
static const char write_sql_tenant_update[] =
	"UPDATE tenants SET revision = ?2, version = ?3, observed_version = ?4, phase = ?5, state = ?6,"
	" plan = ?7, isolation = ?8, region = ?9, labels_json = ?10, manifest_json = ?11,"
	" status_json = ?12, created_ms = ?13, updated_ms = ?14"
	" WHERE id = ?1 AND revision = ?15";
static const char write_sql_tenant_current[] = "SELECT revision, labels_json FROM tenants WHERE id = ?1";
static const char write_sql_label_delete[] =
	"DELETE FROM tenant_labels WHERE key = ?1 AND value = ?2 AND tenant_id = ?3";
static const char write_sql_label_insert[] =
	"INSERT INTO tenant_labels (key, value, tenant_id) VALUES (?1, ?2, ?3)";
static const char write_sql_version_append[] =
	"INSERT INTO tenant_versions (tenant_id, version, manifest_json, actor, request_id, time_ms)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char write_sql_phase_append[] =
	"INSERT INTO phase_transitions (tenant_id, from_phase, to_phase, version, actor, request_id,"
	" reason, time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
/* An expired record is replaced in place; an unexpired one is left alone,
 * which the writer sees as zero changed rows. */
static const char write_sql_idempotency_insert[] =
	"INSERT INTO idempotency (key, request_hash, status, response_json, created_ms, expires_ms)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	" ON CONFLICT (key) DO UPDATE SET request_hash = excluded.request_hash,"
	" status = excluded.status, response_json = excluded.response_json,"
	" created_ms = excluded.created_ms, expires_ms = excluded.expires_ms"
	" WHERE idempotency.expires_ms <= excluded.created_ms";
static const char write_sql_idempotency_purge[] = "DELETE FROM idempotency WHERE expires_ms <= ?1";

/* Strings are bound SQLITE_STATIC: the caller owns them and waits in
 * commit() until the transaction is over. */
void store_bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
	if (text != NULL)
		sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, index);
}

/* Step a statement that returns no rows and hand it back to the cache. */
int store_step_done(struct store_conn *writer, sqlite3_stmt *stmt, const char *what, struct tnd_error *err)
{
	int rc = sqlite3_step(stmt);
	int r = rc == SQLITE_DONE ? 0 : store_fail(err, writer->db, rc, what);

	store_stmt_done(stmt);
	return r;
}

/* One label row: INSERT or DELETE (key, value, tenant). */
static int write_label_row(struct store_conn *writer, const char *sql, const char *tenant_id,
			   const struct store_label *label, const char *what, struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, sql, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, label->key);
	store_bind_text(stmt, 2, label->value);
	store_bind_text(stmt, 3, tenant_id);
	return store_step_done(writer, stmt, what, err);
}

static bool write_label_in(const struct store_label *label, const struct store_label *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(label->key, set[i].key) == 0 && strcmp(label->value, set[i].value) == 0)
			return true;
	return false;
}

/* Move the label rows of @tenant_id from @old to @new: only the pairs that
 * changed are written (a tenant has a few labels, so the quadratic scan
 * costs less than sorting). */
static int write_labels_move(struct store_conn *writer, const char *tenant_id, const struct store_label *old,
			     size_t n_old, const struct store_label *new, size_t n_new, struct tnd_error *err)
{
	int r;

	for (size_t i = 0; i < n_old; i++) {
		if (write_label_in(&old[i], new, n_new))
			continue;
		r = write_label_row(writer, write_sql_label_delete, tenant_id, &old[i], "delete label", err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n_new; i++) {
		if (write_label_in(&new[i], old, n_old))
			continue;
		r = write_label_row(writer, write_sql_label_insert, tenant_id, &new[i], "insert label", err);
		if (r < 0)
			return r;
	}
	return 0;
}

static void write_bind_tenant(sqlite3_stmt *stmt, const struct tnd_tenant_record *rec)
{
	store_bind_text(stmt, 1, rec->id);
	sqlite3_bind_int64(stmt, 2, rec->revision);
	sqlite3_bind_int64(stmt, 3, rec->version);
	sqlite3_bind_int64(stmt, 4, rec->observed_version);
	store_bind_text(stmt, 5, rec->phase);
	store_bind_text(stmt, 6, rec->state);
	store_bind_text(stmt, 7, rec->plan);
	store_bind_text(stmt, 8, rec->isolation);
	store_bind_text(stmt, 9, rec->region);
	store_bind_text(stmt, 10, rec->labels_json);
	store_bind_text(stmt, 11, rec->manifest_json);
	store_bind_text(stmt, 12, rec->status_json);
	sqlite3_bind_int64(stmt, 13, rec->created_ms);
	sqlite3_bind_int64(stmt, 14, rec->updated_ms);
}

static int write_tenant_insert(struct store_conn *writer, const struct store_prepared_write *pw,
			       struct tnd_error *err)
{
	const struct tnd_tenant_record *rec = pw->record;
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, write_sql_tenant_insert, &stmt, err);
	if (r < 0)
		return r;
	write_bind_tenant(stmt, rec);
	r = store_step_done(writer, stmt, "insert tenant", err);
	if (r == -EEXIST)
		tnd_error_set(err, "tenant %s exists (ids are never reused, not even after deletion)",
			      rec->id);
	if (r < 0)
		return r;
	return write_labels_move(writer, rec->id, NULL, 0, pw->labels, pw->n_labels, err);
}

/* Run one of the UPDATE statements; *@ret_changed says whether it matched. */
static int write_tenant_update_run(struct store_conn *writer, const char *sql,
				   const struct store_prepared_write *pw, bool *ret_changed,
				   struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, sql, &stmt, err);
	if (r < 0)
		return r;
	write_bind_tenant(stmt, pw->record);
	sqlite3_bind_int64(stmt, 15, pw->expect_revision);
	r = store_step_done(writer, stmt, "update tenant", err);
	if (r < 0)
		return r;
	*ret_changed = sqlite3_changes(writer->db) == 1;
	return 0;
}

/* The update did not match: a missing tenant, a stale revision, or new
 * labels.  In the last case, update the row and move its label rows from
 * the labels stored in the row to the new ones. */
static int write_tenant_update_slow(const struct tnd_host *host, struct store_conn *writer,
				    const struct store_prepared_write *pw, struct tnd_error *err)
{
	const struct tnd_tenant_record *rec = pw->record;
	struct store_prepared_write old = { 0 };
	sqlite3_stmt *stmt;
	bool changed = false;
	int rc, r;

	r = store_conn_prepare_static(writer, write_sql_tenant_current, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_int64(stmt, 0) != pw->expect_revision) {
		tnd_error_set(err, "tenant %s is at revision %lld, not %lld", rec->id,
			      (long long)sqlite3_column_int64(stmt, 0), (long long)pw->expect_revision);
		r = -ESTALE;
	} else if (rc == SQLITE_ROW) {
		/* Stored labels were validated when written: failing to parse
		 * them now means the file was damaged. */
		struct tnd_error parse_err = { { 0 } };

		r = store_labels_parse(host, (const char *)sqlite3_column_text(stmt, 1), &old, &parse_err);
		if (r < 0) {
			tnd_error_set(err, "tenant %s: stored labels are unreadable: %s", rec->id, parse_err.message);
			r = r == -ENOMEM ? r : -EIO;
		}
	} else if (rc == SQLITE_DONE) {
		tnd_error_set(err, "tenant %s does not exist", rec->id);
		r = -ENOENT;
	} else {
		r = store_fail(err, writer->db, rc, "read tenant revision");
	}
	store_stmt_done(stmt);
	if (r < 0)
		goto out;

	r = write_tenant_update_run(writer, write_sql_tenant_update, pw, &changed, err);
	if (r == 0 && !changed) {
		tnd_error_set(err, "tenant %s: update matched no row", rec->id);
		r = -EIO;
	}
	if (r == 0)
		r = write_labels_move(writer, rec->id, old.labels, old.n_labels, pw->labels, pw->n_labels, err);
out:
	free(old.labels);
	return r;
}

static int write_tenant_update(const struct tnd_host *host, struct store_conn *writer,
			       const struct store_prepared_write *pw, struct tnd_error *err)
{
	bool changed = false;
	int r;

	r = write_tenant_update_run(writer, write_sql_tenant_update_same_labels, pw, &changed, err);
	if (r < 0 || changed)
		return r;
	return write_tenant_update_slow(host, writer, pw, err);
}

static int write_version_append(struct store_conn *writer, const struct tnd_version_record *rec,
				struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, write_sql_version_append, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->tenant_id);
	sqlite3_bind_int64(stmt, 2, rec->version);
	store_bind_text(stmt, 3, rec->manifest_json);
	store_bind_text(stmt, 4, rec->actor);
	store_bind_text(stmt, 5, rec->request_id);
	sqlite3_bind_int64(stmt, 6, rec->time_ms);
	r = store_step_done(writer, stmt, "append version", err);
	if (r == -EEXIST)
		tnd_error_set(err, "tenant %s already has version %lld", rec->tenant_id,
			      (long long)rec->version);
	else if (r == -ENOENT)
		tnd_error_set(err, "version for tenant %s, which does not exist", rec->tenant_id);
	return r;
}

static int write_phase_append(struct store_conn *writer, const struct tnd_phase_record *rec,
			      struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, write_sql_phase_append, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->tenant_id);
	store_bind_text(stmt, 2, rec->from_phase);
	store_bind_text(stmt, 3, rec->to_phase);
	sqlite3_bind_int64(stmt, 4, rec->version);
	store_bind_text(stmt, 5, rec->actor);
	store_bind_text(stmt, 6, rec->request_id);
	store_bind_text(stmt, 7, rec->reason);
	sqlite3_bind_int64(stmt, 8, rec->time_ms);
	r = store_step_done(writer, stmt, "append phase transition", err);
	if (r == -ENOENT)
		tnd_error_set(err, "phase transition for tenant %s, which does not exist", rec->tenant_id);
	return r;
}

static int write_idempotency_insert(struct store_conn *writer, const struct tnd_idempotency_record *rec,
				    struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, write_sql_idempotency_insert, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->key);
	store_bind_text(stmt, 2, rec->request_hash);
	sqlite3_bind_int(stmt, 3, rec->status);
	store_bind_text(stmt, 4, rec->response_json);
	sqlite3_bind_int64(stmt, 5, rec->created_ms);
	sqlite3_bind_int64(stmt, 6, rec->expires_ms);
	r = store_step_done(writer, stmt, "insert idempotency record", err);
	if (r < 0)
		return r;
	if (sqlite3_changes(writer->db) == 0) {
		/* The key is not logged or echoed: it carries the actor's name. */
		tnd_error_set(err, "an unexpired idempotency record with this key exists");
		return -EEXIST;
	}
	return 0;
}

static int write_idempotency_purge(struct store_conn *writer, int64_t before_ms, struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, write_sql_idempotency_purge, &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(stmt, 1, before_ms);
	return store_step_done(writer, stmt, "purge idempotency records", err);
}

int store_write_apply(const struct tnd_host *host, struct store_conn *writer,
		      const struct store_prepared_write *write, struct tnd_error *err)
{
	switch (write->kind) {
	case TND_WRITE_TENANT_INSERT:
		return write_tenant_insert(writer, write, err);
	case TND_WRITE_TENANT_UPDATE:
		return write_tenant_update(host, writer, write, err);
	case TND_WRITE_VERSION_APPEND:
		return write_version_append(writer, write->record, err);
	case TND_WRITE_PHASE_APPEND:
		return write_phase_append(writer, write->record, err);
	case TND_WRITE_IDEMPOTENCY_INSERT:
		return write_idempotency_insert(writer, write->record, err);
	case STORE_WRITE_PURGE_IDEMPOTENCY:
		return write_idempotency_purge(writer, write->purge_before_ms, err);
	case TND_WRITE_WORKFLOW_INSERT:
	case TND_WRITE_WORKFLOW_UPDATE:
	case TND_WRITE_CREDENTIAL_PUT:
	case TND_WRITE_CREDENTIAL_DELETE:
		return store_reconcile_apply(writer, write, err);
	case TND_WRITE_OVERRIDE_INSERT:
		return store_override_apply(writer, write, err);
	case TND_WRITE_AUDIT:
		return store_audit_apply(host, writer, write->record, err);
	case TND_WRITE_TOKEN_INSERT:
	case TND_WRITE_TOKEN_REVOKE:
	case TND_WRITE_GRANT_INSERT:
	case TND_WRITE_GRANT_DECIDE:
		return store_tokens_apply(writer, write, err);
	case TND_WRITE_EVENT_APPEND:
		return store_event_apply(writer, write, err);
	case TND_WRITE_QUOTA_APPEND:
		return store_quota_apply(writer, write, err);
	case TND_WRITE_WEBHOOK_INSERT:
	case TND_WRITE_WEBHOOK_UPDATE:
	case TND_WRITE_DELIVERY_PUT:
	case TND_WRITE_DELIVERY_REQUEUE:
		return store_webhooks_apply(writer, write, err);
	default:
		tnd_error_set(err, "write kind %u is not supported by this driver", write->kind);
		return -ENOTSUP;
	}
}
