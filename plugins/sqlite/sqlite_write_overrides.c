/*
 * sqlite_write_overrides.c — the write kind storage ABI 1.2 appended for
 * administrative overrides (TND_WRITE_OVERRIDE_INSERT): validated in the
 * committing thread, inserted in the group commit leader's transaction,
 * so an override lands in the same transaction as the rest of its
 * mutation (see sqlite_commit.c).
 */
#include "autoconfig.h"

#include <errno.h>
#include <string.h>

#include "sqlite_internal.h"

int store_override_prepare(const struct tnd_write *write, struct tnd_error *err)
{
	const struct tnd_override_record *rec = write->record;

	if (rec->size < STORE_RECORD_SIZE(struct tnd_override_record, expires_ms)) {
		tnd_error_set(err, "override record has size %u, smaller than ABI 1.2's", rec->size);
		return -EINVAL;
	}
	if (!store_has_text(rec->id) || !store_has_text(rec->tenant_id) || !store_has_text(rec->actor)) {
		tnd_error_set(err, "override record lacks %s",
			      !store_has_text(rec->id)	      ? "an id"
			      : !store_has_text(rec->tenant_id) ? "a tenant id"
								: "an actor");
		return -EINVAL;
	}
	if (rec->expires_ms <= rec->created_ms) {
		tnd_error_set(err, "override %s expires before it is created", rec->id);
		return -EINVAL;
	}
	return store_check_json_object(rec->limits_json, "limits_json", err);
}

static const char overrides_sql_insert[] =
	"INSERT INTO overrides (id, tenant_id, limits_json, actor, request_id, reason, created_ms, expires_ms)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

int store_override_apply(struct store_conn *writer, const struct store_prepared_write *write,
			 struct tnd_error *err)
{
	const struct tnd_override_record *rec = write->record;
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, overrides_sql_insert, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->id);
	store_bind_text(stmt, 2, rec->tenant_id);
	store_bind_text(stmt, 3, rec->limits_json);
	store_bind_text(stmt, 4, rec->actor);
	store_bind_text(stmt, 5, rec->request_id);
	store_bind_text(stmt, 6, rec->reason);
	sqlite3_bind_int64(stmt, 7, rec->created_ms);
	sqlite3_bind_int64(stmt, 8, rec->expires_ms);
	r = store_step_done(writer, stmt, "insert override", err);
	if (r == -EEXIST)
		tnd_error_set(err, "override %s exists", rec->id);
	return r;
}
