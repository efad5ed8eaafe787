/*
 * sqlite_write_quotas.c — the write kind the "ABI 1.2: quotas" block
 * appended (TND_WRITE_QUOTA_APPEND): one entry of a tenant's effective-quota
 * history, validated in the committing thread and inserted in the group
 * commit leader's transaction, so it lands with the version or override
 * that changed the quotas (see sqlite_commit.c).  The per-tenant seq is
 * assigned here, inside that transaction.
 */
#include "autoconfig.h"

#include <errno.h>
#include <string.h>

#include "sqlite_internal.h"

int store_quota_prepare(const struct tnd_write *write, struct tnd_error *err)
{
	const struct tnd_quota_record *rec = write->record;

	if (rec->size < STORE_RECORD_SIZE(struct tnd_quota_record, time_ms)) {
		tnd_error_set(err, "quota record has size %u, smaller than ABI 1.2's", rec->size);
		return -EINVAL;
	}
	if (!store_has_text(rec->tenant_id) || !store_has_text(rec->source) || !store_has_text(rec->actor)) {
		tnd_error_set(err, "quota record lacks %s",
			      !store_has_text(rec->tenant_id) ? "a tenant id"
			      : !store_has_text(rec->source)  ? "a source"
							      : "an actor");
		return -EINVAL;
	}
	return store_check_json_object(rec->quotas_json, "quotas_json", err);
}

static const char quotas_sql_insert[] =
	"INSERT INTO quota_history (tenant_id, seq, version, quotas_json, source, actor, request_id, time_ms)"
	" VALUES (?1, (SELECT coalesce(max(seq), 0) + 1 FROM quota_history WHERE tenant_id = ?1),"
	" ?2, ?3, ?4, ?5, ?6, ?7)";

int store_quota_apply(struct store_conn *writer, const struct store_prepared_write *write, struct tnd_error *err)
{
	const struct tnd_quota_record *rec = write->record;
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, quotas_sql_insert, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->tenant_id);
	sqlite3_bind_int64(stmt, 2, rec->version);
	store_bind_text(stmt, 3, rec->quotas_json);
	store_bind_text(stmt, 4, rec->source);
	store_bind_text(stmt, 5, rec->actor);
	store_bind_text(stmt, 6, rec->request_id);
	sqlite3_bind_int64(stmt, 7, rec->time_ms);
	return store_step_done(writer, stmt, "append quota history", err);
}
