/*
 * sqlite_write_tokens.c — the write kinds storage ABI 1.2 appended for API
 * tokens and break-glass grants (TND_WRITE_TOKEN_INSERT, _TOKEN_REVOKE,
 * _GRANT_INSERT, _GRANT_DECIDE; tables `tokens` and `breakglass_grants`,
 * schema version 6): validated in the committing thread, applied in the
 * group commit leader's transaction like every other write.
 *
 * A revoke or decide that matches no row changed nothing, so it fails on
 * its own without making the leader replay its group.
 */
#include "autoconfig.h"

#include <errno.h>
#include <string.h>

#include "sqlite_internal.h"

static bool tokens_role_valid(const char *role)
{
	static const char *const roles[] = { "admin", "operator", "auditor", "viewer", "tenant" };

	for (size_t i = 0; role && i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(role, roles[i]) == 0)
			return true;
	return false;
}

static bool tokens_hash_valid(const char *hash)
{
	return hash && strlen(hash) == 64 && strspn(hash, "0123456789abcdef") == 64;
}

static int tokens_prepare_token(const struct tnd_write *write, struct tnd_error *err)
{
	const struct tnd_token_record *rec = write->record;

	if (rec->size < STORE_RECORD_SIZE(struct tnd_token_record, revoked_by)) {
		tnd_error_set(err, "token record has size %u, smaller than ABI 1.2's", rec->size);
		return -EINVAL;
	}
	if (!store_has_text(rec->id)) {
		tnd_error_set(err, "token record lacks an id");
		return -EINVAL;
	}
	if (write->kind == TND_WRITE_TOKEN_REVOKE) {
		if (rec->revoked_ms <= 0 || !store_has_text(rec->revoked_by)) {
			tnd_error_set(err, "revoking token %s needs a time and who revokes it", rec->id);
			return -EINVAL;
		}
		return 0;
	}
	if (!store_has_text(rec->name) || !store_has_text(rec->created_by) || !tokens_role_valid(rec->role)) {
		tnd_error_set(err, "token record %s lacks a name, a creator or a known role", rec->id);
		return -EINVAL;
	}
	if ((strcmp(rec->role, "tenant") == 0) != store_has_text(rec->tenant_id)) {
		tnd_error_set(err, "token %s: a tenant id goes with role tenant and only with it", rec->id);
		return -EINVAL;
	}
	if (!tokens_hash_valid(rec->hash)) {
		tnd_error_set(err, "token %s: the hash must be 64 lower-case hex digits", rec->id);
		return -EINVAL;
	}
	if (rec->expires_ms != 0 && rec->expires_ms <= rec->created_ms) {
		tnd_error_set(err, "token %s expires before it is created", rec->id);
		return -EINVAL;
	}
	if (rec->revoked_ms != 0) {
		tnd_error_set(err, "token %s: a token is inserted unrevoked", rec->id);
		return -EINVAL;
	}
	return 0;
}

static int tokens_prepare_grant(const struct tnd_write *write, struct tnd_error *err)
{
	const struct tnd_grant_record *rec = write->record;

	if (rec->size < STORE_RECORD_SIZE(struct tnd_grant_record, expires_ms)) {
		tnd_error_set(err, "grant record has size %u, smaller than ABI 1.2's", rec->size);
		return -EINVAL;
	}
	if (!store_has_text(rec->id) || !store_has_text(rec->state)) {
		tnd_error_set(err, "grant record lacks an id or a state");
		return -EINVAL;
	}
	if (write->kind == TND_WRITE_GRANT_DECIDE) {
		bool approved = strcmp(rec->state, "approved") == 0;

		if ((!approved && strcmp(rec->state, "denied") != 0) || !store_has_text(rec->decided_by) ||
		    rec->decided_ms <= 0 || (approved && rec->expires_ms <= rec->decided_ms)) {
			tnd_error_set(err, "grant %s: a decision is approved (with an expiry) or denied, by someone, "
				      "at some time", rec->id);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(rec->state, "pending") != 0 || !store_has_text(rec->subject) ||
	    !store_has_text(rec->requester) || !store_has_text(rec->role) || !store_has_text(rec->reason) ||
	    rec->ttl_s <= 0) {
		tnd_error_set(err, "grant %s: a new grant is pending, with a subject, requester, role, reason "
			      "and lifetime", rec->id);
		return -EINVAL;
	}
	return 0;
}

int store_tokens_prepare(const struct tnd_write *write, struct tnd_error *err)
{
	switch (write->kind) {
	case TND_WRITE_TOKEN_INSERT:
	case TND_WRITE_TOKEN_REVOKE:
		return tokens_prepare_token(write, err);
	case TND_WRITE_GRANT_INSERT:
	case TND_WRITE_GRANT_DECIDE:
		return tokens_prepare_grant(write, err);
	default:
		tnd_error_set(err, "write kind %u is not a token or grant write", write->kind);
		return -ENOTSUP;
	}
}

static const char tokens_sql_insert[] =
	"INSERT INTO tokens (id, name, role, tenant_id, hash, created_by, request_id, created_ms, expires_ms)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char tokens_sql_revoke[] =
	"UPDATE tokens SET revoked_ms = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked_ms IS NULL";
static const char tokens_sql_exists[] = "SELECT 1 FROM tokens WHERE id = ?1";
static const char grants_sql_insert[] =
	"INSERT INTO breakglass_grants (id, subject, requester, role, reason, ttl_s, state, request_id,"
	" requested_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8)";
static const char grants_sql_decide[] =
	"UPDATE breakglass_grants SET state = ?2, decided_by = ?3, decided_ms = ?4, expires_ms = ?5"
	" WHERE id = ?1 AND state = 'pending'";
static const char grants_sql_exists[] = "SELECT 1 FROM breakglass_grants WHERE id = ?1";

/* An UPDATE matched nothing: absent (-ENOENT) or in the wrong state (@stale). */
static int tokens_unmatched(struct store_conn *writer, const char *sql, const char *what, const char *id, int stale,
			    struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int rc, r;

	r = store_conn_prepare_static(writer, sql, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		tnd_error_set(err, "%s %s is %s", what, id, stale == -EALREADY ? "revoked already" : "decided already");
		r = stale;
	} else if (rc == SQLITE_DONE) {
		tnd_error_set(err, "%s %s does not exist", what, id);
		r = -ENOENT;
	} else {
		r = store_fail(err, writer->db, rc, what);
	}
	store_stmt_done(stmt);
	return r;
}

static int tokens_apply_insert(struct store_conn *writer, const struct tnd_token_record *rec, struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r = store_conn_prepare_static(writer, tokens_sql_insert, &stmt, err);

	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->id);
	store_bind_text(stmt, 2, rec->name);
	store_bind_text(stmt, 3, rec->role);
	store_bind_text(stmt, 4, store_has_text(rec->tenant_id) ? rec->tenant_id : NULL);
	store_bind_text(stmt, 5, rec->hash);
	store_bind_text(stmt, 6, rec->created_by);
	store_bind_text(stmt, 7, rec->request_id);
	sqlite3_bind_int64(stmt, 8, rec->created_ms);
	if (rec->expires_ms)
		sqlite3_bind_int64(stmt, 9, rec->expires_ms);
	r = store_step_done(writer, stmt, "insert token", err);
	if (r == -EEXIST)
		tnd_error_set(err, "token %s (or its hash) exists", rec->id);
	return r;
}

static int tokens_apply_revoke(struct store_conn *writer, const struct tnd_token_record *rec, struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r = store_conn_prepare_static(writer, tokens_sql_revoke, &stmt, err);

	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->id);
	sqlite3_bind_int64(stmt, 2, rec->revoked_ms);
	store_bind_text(stmt, 3, rec->revoked_by);
	r = store_step_done(writer, stmt, "revoke token", err);
	if (r < 0 || sqlite3_changes(writer->db) == 1)
		return r;
	return tokens_unmatched(writer, tokens_sql_exists, "token", rec->id, -EALREADY, err);
}

static int tokens_apply_grant_insert(struct store_conn *writer, const struct tnd_grant_record *rec,
				     struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r = store_conn_prepare_static(writer, grants_sql_insert, &stmt, err);

	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->id);
	store_bind_text(stmt, 2, rec->subject);
	store_bind_text(stmt, 3, rec->requester);
	store_bind_text(stmt, 4, rec->role);
	store_bind_text(stmt, 5, rec->reason);
	sqlite3_bind_int64(stmt, 6, rec->ttl_s);
	store_bind_text(stmt, 7, rec->request_id);
	sqlite3_bind_int64(stmt, 8, rec->requested_ms);
	r = store_step_done(writer, stmt, "insert grant", err);
	if (r == -EEXIST)
		tnd_error_set(err, "grant %s exists", rec->id);
	return r;
}

static int tokens_apply_grant_decide(struct store_conn *writer, const struct tnd_grant_record *rec,
				     struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r = store_conn_prepare_static(writer, grants_sql_decide, &stmt, err);

	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->id);
	store_bind_text(stmt, 2, rec->state);
	store_bind_text(stmt, 3, rec->decided_by);
	sqlite3_bind_int64(stmt, 4, rec->decided_ms);
	if (strcmp(rec->state, "approved") == 0)
		sqlite3_bind_int64(stmt, 5, rec->expires_ms);
	r = store_step_done(writer, stmt, "decide grant", err);
	if (r < 0 || sqlite3_changes(writer->db) == 1)
		return r;
	return tokens_unmatched(writer, grants_sql_exists, "grant", rec->id, -ESTALE, err);
}

int store_tokens_apply(struct store_conn *writer, const struct store_prepared_write *write, struct tnd_error *err)
{
	switch (write->kind) {
	case TND_WRITE_TOKEN_INSERT:
		return tokens_apply_insert(writer, write->record, err);
	case TND_WRITE_TOKEN_REVOKE:
		return tokens_apply_revoke(writer, write->record, err);
	case TND_WRITE_GRANT_INSERT:
		return tokens_apply_grant_insert(writer, write->record, err);
	case TND_WRITE_GRANT_DECIDE:
		return tokens_apply_grant_decide(writer, write->record, err);
	default:
		tnd_error_set(err, "write kind %u is not a token or grant write", write->kind);
		return -ENOTSUP;
	}
}
