/*
 * sqlite_write_events.c — the write kind storage ABI 1.2 appended for the
 * event outbox (TND_WRITE_EVENT_APPEND): validated in the committing
 * thread, inserted in the group commit leader's transaction.  The row's
 * seq is the table's AUTOINCREMENT key, so it is assigned here, in the one
 * serialized write path: sequences increase in commit order across every
 * writer, a commit that fails (or a group that is rolled back and
 * replayed) leaves none visible, and a purge of old rows never lets a
 * number be handed out twice.
 */
#include "autoconfig.h"

#include <errno.h>
#include <string.h>

#include "sqlite_internal.h"

int store_event_prepare(const struct tnd_write *write, struct tnd_error *err)
{
	const struct tnd_event_record *rec = write->record;

	if (rec->size < STORE_RECORD_SIZE(struct tnd_event_record, event_json)) {
		tnd_error_set(err, "event record has size %u, smaller than ABI 1.2's", rec->size);
		return -EINVAL;
	}
	if (!store_has_text(rec->id) || !store_has_text(rec->tenant_id) || !store_has_text(rec->type)) {
		tnd_error_set(err, "event record lacks %s",
			      !store_has_text(rec->id)	      ? "an id"
			      : !store_has_text(rec->tenant_id) ? "a tenant id"
								: "a type");
		return -EINVAL;
	}
	return store_check_json_object(rec->event_json, "event_json", err);
}

static const char events_sql_insert[] =
	"INSERT INTO events (id, tenant_id, type, time_ms, event_json) VALUES (?1, ?2, ?3, ?4, ?5)";

int store_event_apply(struct store_conn *writer, const struct store_prepared_write *write, struct tnd_error *err)
{
	const struct tnd_event_record *rec = write->record;
	sqlite3_stmt *stmt;
	int r;

	r = store_conn_prepare_static(writer, events_sql_insert, &stmt, err);
	if (r < 0)
		return r;
	store_bind_text(stmt, 1, rec->id);
	store_bind_text(stmt, 2, rec->tenant_id);
	store_bind_text(stmt, 3, rec->type);
	sqlite3_bind_int64(stmt, 4, rec->time_ms);
	store_bind_text(stmt, 5, rec->event_json);
	r = store_step_done(writer, stmt, "append event", err);
	if (r == -EEXIST)
		tnd_error_set(err, "event %s exists", rec->id);
	return r;
}
