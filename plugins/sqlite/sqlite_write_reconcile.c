/*
 * sqlite_write_reconcile.c — the write kinds storage ABI 1.1 appended:
 * reconcile workflows (insert, and update under the same optimistic lock
 * as tenants) and a tenant's encrypted credentials (put, delete).
 * Validation runs in the committing thread, application in the group
 * commit leader's transaction (see sqlite_commit.c).  A failed
 * precondition (-EEXIST, -ENOENT, -ESTALE) is found before any row
 * changes, so it never makes the leader replay its group.
 */
#include "autoconfig.h"

#include <errno.h>
#include <string.h>

#include "sqlite_internal.h"

/* The states storage.h names; the workflows_active index and the list op
 * spell Pending and Running literally, so a state is exactly one of these. */
static const char *const reconcile_states[] = { "Pending", "Running", "Succeeded", "Failed", "Superseded" };

/* --- validation, in the caller's thread --------------------------------------------- */

static bool reconcile_state_known(const char *state)
{
	for (size_t i = 0; i < sizeof(reconcile_states) / sizeof(reconcile_states[0]); i++)
		if (strcmp(state, reconcile_states[i]) == 0)
			return true;
	return false;
}

static int reconcile_prepare_workflow(const struct tnd_write *write, struct tnd_error *err)
{
	const struct tnd_workflow_record *rec = write->record;

	if (rec->size < STORE_RECORD_SIZE(struct tnd_workflow_record, updated_ms)) {
		tnd_error_set(err, "workflow record has size %u, smaller than ABI 1.1's", rec->size);
		return -EINVAL;
	}
	if (!store_has_text(rec->id) || !store_has_text(rec->tenant_id) || !store_has_text(rec->kind) ||
	    !store_has_text(rec->state)) {
		tnd_error_set(err, "workflow record lacks %s",
			      !store_has_text(rec->id)	      ? "an id"
			      : !store_has_text(rec->tenant_id) ? "a tenant id"
			      : !store_has_text(rec->kind)      ? "a kind"
								: "a state");
		return -EINVAL;
	}
	if (!reconcile_state_known(rec->state)) {
		tnd_error_set(err,
			      "workflow %s: state \"%s\" is not one of Pending, Running, Succeeded, Failed, "
			      "Superseded",
			      rec->id, rec->state);
		return -EINVAL;
	}
	/* The same rule as for tenants: the stored revision moves by exactly
	 * one per write. */
	if (write->kind == TND_WRITE_WORKFLOW_UPDATE && rec->revision != write->expect_revision + 1) {
		tnd_error_set(err, "workflow %s: update to revision %lld must be based on revision %lld, not %lld",
			      rec->id, (long long)rec->revision, (long long)rec->revision - 1,
			      (long long)write->expect_revision);
		return -EINVAL;
	}
	return store_check_json_object(rec->document_json, "document_json", err);
}

static int reconcile_prepare_credential(const struct tnd_write *write, struct tnd_error *err)
{
	const struct tnd_credential_record *rec = write->record;

	/* A delete reads only the tenant id, so a record that ends there will do. */
	if (rec->size < (write->kind == TND_WRITE_CREDENTIAL_DELETE
				 ? STORE_RECORD_SIZE(struct tnd_credential_record, tenant_id)
				 : STORE_RECORD_SIZE(struct tnd_credential_record, updated_ms))) {
		tnd_error_set(err, "credential record has size %u, smaller than ABI 1.1's", rec->size);
		return -EINVAL;
	}
	if (!store_has_text(rec->tenant_id)) {
		tnd_error_set(err, "credential record lacks a tenant id");
		return -EINVAL;
	}
	if (write->kind == TND_WRITE_CREDENTIAL_PUT && (!store_has_text(rec->key_id) || !store_has_text(rec->ciphertext))) {
		tnd_error_set(err, "credentials of tenant %s lack %s", rec->tenant_id,
			      store_has_text(rec->key_id) ? "a ciphertext" : "a key id");
		return -EINVAL;
	}
	return 0;
}

int store_reconcile_prepare(const struct tnd_write *write, struct tnd_error *err)
{
	switch (write->kind) {
	case TND_WRITE_WORKFLOW_INSERT:
	case TND_WRITE_WORKFLOW_UPDATE:
		return reconcile_prepare_workflow(write, err);
	case TND_WRITE_CREDENTIAL_PUT:
	case TND_WRITE_CREDENTIAL_DELETE:
		return reconcile_prepare_credential(write, err);
	default:
		tnd_error_set(err, "write kind %u is not a workflow or credential write", write->kind);
		return -ENOTSUP;
	}
}

/* --- applying, in the writer's transaction ----------------------------------------- */

static const char reconcile_sql_workflow_insert[] =
	"INSERT INTO workflows (id, revision, tenant_id, kind, target_version, state, step, attempts,"
	" next_attempt_ms, document_json, created_ms, updated_ms)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
/*
 * tenant_id is left out of SET and required to match instead: SQLite
 * rewrites the entry of every index whose column is assigned, even to the
 * same value, and workflows_by_tenant is keyed by tenant, so each update
 * would dirty one more random leaf (twice the pages in a test of 200
 * updates).  A workflow belongs to one tenant for its whole life; an
 * update naming another one matches nothing and is refused below.
 */
static const char reconcile_sql_workflow_update[] =
	"UPDATE workflows SET revision = ?2, kind = ?4, target_version = ?5, state = ?6, step = ?7,"
	" attempts = ?8, next_attempt_ms = ?9, document_json = ?10, created_ms = ?11, updated_ms = ?12"
	" WHERE id = ?1 AND revision = ?13 AND tenant_id = ?3";
static const char reconcile_sql_workflow_current[] = "SELECT revision, tenant_id FROM workflows WHERE id = ?1";
static const char reconcile_sql_credential_put[] =
	"INSERT INTO tenant_credentials (tenant_id, key_id, ciphertext, updated_ms) VALUES (?1, ?2, ?3, ?4)"
	" ON CONFLICT (tenant_id) DO UPDATE SET key_id = excluded.key_id, ciphertext = excluded.ciphertext,"
	" updated_ms = excluded.updated_ms";
static const char reconcile_sql_credential_delete[] = "DELETE FROM tenant_credentials WHERE tenant_id = ?1";

static void reconcile_bind_workflow(sqlite3_stmt *stmt, const struct tnd_workflow_record *rec)
{
	store_bind_text(stmt, 1, rec->id);
	sqlite3_bind_int64(stmt, 2, rec->revision);
	store_bind_text(stmt, 3, rec->tenant_id);
	store_bind_text(stmt, 4, rec->kind);
	sqlite3_bind_int64(stmt, 5, rec->target_version);
	store_bind_text(stmt, 6, rec->state);
	sqlite3_bind_int64(stmt, 7, rec->step);
	sqlite3_bind_int64(stmt, 8, rec->attempts);
	sqlite3_bind_int64(stmt, 9, rec->next_attempt_ms);
	store_bind_text(stmt, 10, rec->document_json);
	sqlite3_bind_int64(stmt, 11, rec->created_ms);
	sqlite3_bind_int64(stmt, 12, rec->updated_ms);
}

static int reconcile_workflow_insert(struct store_conn *writer, const struct tnd_workflow_record *rec,
				     struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, reconcile_sql_workflow_insert, &stmt, err);
	if (r < 0)
		return r;
	reconcile_bind_workflow(stmt, rec);
	r = store_step_done(writer, stmt, "insert workflow", err);
	if (r == -EEXIST)
		tnd_error_set(err, "workflow %s exists", rec->id);
	return r;
}

/* The update matched no row: tell a missing workflow, a stale revision and
 * another tenant apart.  Nothing was changed, so the group goes on. */
static int reconcile_workflow_unmatched(struct store_conn *writer, const struct store_prepared_write *pw,
					struct tnd_error *err)
{
	const struct tnd_workflow_record *rec = pw->record;
	sqlite3_stmt *stmt;
	int rc, r;

	r = store_conn_prepare_static(writer, reconcile_sql_workflow_current, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_int64(stmt, 0) != pw->expect_revision) {
		tnd_error_set(err, "workflow %s is at revision %lld, not %lld", rec->id,
			      (long long)sqlite3_column_int64(stmt, 0), (long long)pw->expect_revision);
		r = -ESTALE;
	} else if (rc == SQLITE_ROW) {
		tnd_error_set(err, "workflow %s belongs to tenant %s, not %s; its tenant cannot change", rec->id,
			      (const char *)sqlite3_column_text(stmt, 1), rec->tenant_id);
		r = -EINVAL;
	} else if (rc == SQLITE_DONE) {
		tnd_error_set(err, "workflow %s does not exist", rec->id);
		r = -ENOENT;
	} else {
		r = store_fail(err, writer->db, rc, "read workflow revision");
	}
	store_stmt_done(stmt);
	return r;
}

static int reconcile_workflow_update(struct store_conn *writer, const struct store_prepared_write *pw,
				     struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, reconcile_sql_workflow_update, &stmt, err);
	if (r < 0)
		return r;
	reconcile_bind_workflow(stmt, pw->record);
	sqlite3_bind_int64(stmt, 13, pw->expect_revision);
	r = store_step_done(writer, stmt, "update workflow", err);
	if (r < 0)
		return r;
	if (sqlite3_changes(writer->db) == 1)
		return 0;
	return reconcile_workflow_unmatched(writer, pw, err);
}

static int reconcile_credential_put(struct store_conn *writer, const struct tnd_credential_record *rec,
				    struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, reconcile_sql_credential_put, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->tenant_id);
	store_bind_text(stmt, 2, rec->key_id);
	store_bind_text(stmt, 3, rec->ciphertext);
	sqlite3_bind_int64(stmt, 4, rec->updated_ms);
	r = store_step_done(writer, stmt, "put credentials", err);
	if (r == -ENOENT)
		tnd_error_set(err, "credentials for tenant %s, which does not exist", rec->tenant_id);
	return r;
}

static int reconcile_credential_delete(struct store_conn *writer, const struct tnd_credential_record *rec,
				       struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, reconcile_sql_credential_delete, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->tenant_id);
	return store_step_done(writer, stmt, "delete credentials", err);
}

int store_reconcile_apply(struct store_conn *writer, const struct store_prepared_write *write,
			  struct tnd_error *err)
{
	switch (write->kind) {
	case TND_WRITE_WORKFLOW_INSERT:
		return reconcile_workflow_insert(writer, write->record, err);
	case TND_WRITE_WORKFLOW_UPDATE:
		return reconcile_workflow_update(writer, write, err);
	case TND_WRITE_CREDENTIAL_PUT:
		return reconcile_credential_put(writer, write->record, err);
	case TND_WRITE_CREDENTIAL_DELETE:
		return reconcile_credential_delete(writer, write->record, err);
	default:
		tnd_error_set(err, "write kind %u is not a workflow or credential write", write->kind);
		return -ENOTSUP;
	}
}
