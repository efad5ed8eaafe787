/*
 * sqlite_schema.c — the registry's schema and its versioned migrations.
 *
 * The schema version lives in PRAGMA user_version and the file is marked as
 * ours with PRAGMA application_id.  store_schema_migrate() runs on open: it
 * applies every migration newer than the file, one transaction per step (so
 * a failing step leaves the file at the previous version), and refuses a
 * file whose version is newer than this plugin knows: an older tenancyd
 * must never write to a registry that a newer one has reshaped.
 *
 * To change the schema, append one entry to store_migrations[]; never edit
 * an entry that has shipped.
 */
#include "autoconfig.h"

#include <errno.h>
#include <string.h>

#include "sqlite_internal.h"

/* "TndR": tells our registry apart from any other SQLite file. */
#define STORE_APPLICATION_ID 0x546e6452

struct store_migration {
	int version;         /* user_version once this step has run */
	const char *summary; /* for the log */
	const char *sql;     /* one or more statements */
};

/* Version 1.  Head rows are never deleted (Deleted is a tombstone phase), so
 * the primary key alone makes ids unreusable.  Each search filter has an
 * index ending in id, so a filtered search walks it in id order and stops at
 * the limit without sorting.  Labels are a table of their own, kept in sync
 * with tenants.labels_json by the writer, so label filters use an index. */
static const char store_schema_v1[] =
	"CREATE TABLE tenants ("
	" id TEXT PRIMARY KEY NOT NULL,"
	" revision INTEGER NOT NULL,"
	" version INTEGER NOT NULL,"
	" observed_version INTEGER NOT NULL,"
	" phase TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" plan TEXT NOT NULL,"
	" isolation TEXT NOT NULL,"
	" region TEXT,"
	" labels_json TEXT NOT NULL,"
	" manifest_json TEXT NOT NULL,"
	" status_json TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL);"
	"CREATE INDEX tenants_by_phase ON tenants(phase, id);"
	"CREATE INDEX tenants_by_isolation ON tenants(isolation, id);"
	"CREATE INDEX tenants_by_region ON tenants(region, id);"
	"CREATE INDEX tenants_by_plan ON tenants(plan, id);"
	"CREATE TABLE tenant_labels ("
	" tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	" key TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" PRIMARY KEY (tenant_id, key)) WITHOUT ROWID;"
	"CREATE INDEX tenant_labels_by_value ON tenant_labels(key, value, tenant_id);"
	"CREATE TABLE tenant_versions ("
	" tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	" version INTEGER NOT NULL,"
	" manifest_json TEXT NOT NULL,"
	" actor TEXT NOT NULL,"
	" request_id TEXT,"
	" time_ms INTEGER NOT NULL,"
	" PRIMARY KEY (tenant_id, version));"
	/* AUTOINCREMENT: a seq is never handed out twice, even if old
	 * transitions are pruned one day. */
	"CREATE TABLE phase_transitions ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	" from_phase TEXT,"
	" to_phase TEXT NOT NULL,"
	" version INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" request_id TEXT,"
	" reason TEXT,"
	" time_ms INTEGER NOT NULL);"
	"CREATE INDEX phase_transitions_by_tenant ON phase_transitions(tenant_id, seq);"
	"CREATE TABLE idempotency ("
	" key TEXT PRIMARY KEY NOT NULL,"
	" request_hash TEXT NOT NULL,"
	" status INTEGER NOT NULL,"
	" response_json TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" expires_ms INTEGER NOT NULL);"
	"CREATE INDEX idempotency_by_expiry ON idempotency(expires_ms);";

/*
 * Version 2: fewer b-trees written per tenant insert, because each one is a
 * leaf page dirtied at a random place, so a WAL frame written, checksummed,
 * synced and later checkpointed (see README.md, "Where the time goes").
 *
 * - The four filter indexes (phase, isolation, region, plan; one leaf each
 *   per insert) become one covering index in id order: a filtered search
 *   walks it, tests the filter columns in the index and reads only the
 *   matching rows, up to the limit.  It also serves the unfiltered list,
 *   which read every head row before.  Phase and isolation keep an index
 *   for their uncommon values, the ones an operator looks for (Suspended,
 *   Draft, dedicated tenants...), partial so that the usual insert (an
 *   Active, shared tenant) does not write it; the search names those
 *   values literally so that SQLite can use them.
 * - Labels keep one b-tree, keyed the way label searches read it; the
 *   writer finds a tenant's old labels in tenants.labels_json.
 */
static const char store_schema_v2[] =
	"CREATE TABLE tenant_labels_v2 ("
	" key TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	" PRIMARY KEY (key, value, tenant_id)) WITHOUT ROWID;"
	"INSERT INTO tenant_labels_v2 (key, value, tenant_id) SELECT key, value, tenant_id FROM tenant_labels;"
	"DROP TABLE tenant_labels;"
	"ALTER TABLE tenant_labels_v2 RENAME TO tenant_labels;"
	"DROP INDEX tenants_by_phase;"
	"DROP INDEX tenants_by_isolation;"
	"DROP INDEX tenants_by_region;"
	"DROP INDEX tenants_by_plan;"
	"CREATE INDEX tenants_search ON tenants(id, phase, isolation, region, plan);"
	"CREATE INDEX tenants_by_phase ON tenants(phase, id) WHERE phase <> 'Active';"
	"CREATE INDEX tenants_by_isolation ON tenants(isolation, id) WHERE isolation <> 'shared';";

/*
 * Version 3 (storage ABI 1.1): reconcile workflows, encrypted credentials,
 * and an index of unsettled tenants.  Nothing here is written by a tenant
 * create in registry-only mode, so creates keep their cost.
 *
 * - workflows: no foreign key to tenants.  storage.h lets a workflow name a
 *   tenant that no longer exists; tenants are never deleted today, but the
 *   driver does not make the core's ordering of writes (workflow before or
 *   after the head row in one commit) a constraint, and the lookup would be
 *   one more b-tree read per workflow write.
 * - workflows_by_tenant serves "workflows of a tenant" in id order.
 * - workflows_active is what the orchestrator polls every few hundred ms:
 *   only Pending and Running workflows are in it (partial), in id order,
 *   with next_attempt_ms in the entry, so "active and due before T" walks
 *   the few active entries, tests the time on the entry and reads only the
 *   rows it returns.  Finished workflows (nearly all of them, forever) cost
 *   it nothing.  The list op repeats the WHERE term literally, which is
 *   what lets SQLite use a partial index.
 * - workflows_failed: what an operator lists and alerts on; written only
 *   when a workflow enters or leaves Failed.
 * - tenant_credentials: one small row per tenant (WITHOUT ROWID: one b-tree,
 *   not a table plus its primary key index), tied to an existing tenant.
 * - tenants_unsettled: tenants whose data plane has not caught up
 *   (observedVersion behind version, or phase not the desired state; phase
 *   is capitalized, state is not).  Settled tenants, nearly all of a large
 *   registry, are not in it, so neither a search for the unsettled nor a
 *   settled tenant's writes pay for it.
 */
static const char store_schema_v3[] =
	"CREATE TABLE workflows ("
	" id TEXT PRIMARY KEY NOT NULL,"
	" revision INTEGER NOT NULL,"
	" tenant_id TEXT NOT NULL,"
	" kind TEXT NOT NULL,"
	" target_version INTEGER NOT NULL,"
	" state TEXT NOT NULL,"
	" step INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL,"
	" next_attempt_ms INTEGER NOT NULL,"
	" document_json TEXT NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL);"
	"CREATE INDEX workflows_by_tenant ON workflows(tenant_id, id);"
	"CREATE INDEX workflows_active ON workflows(id, next_attempt_ms) WHERE state IN ('Pending', 'Running');"
	"CREATE INDEX workflows_failed ON workflows(id) WHERE state = 'Failed';"
	"CREATE TABLE tenant_credentials ("
	" tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id),"
	" key_id TEXT NOT NULL,"
	" ciphertext TEXT NOT NULL,"
	" updated_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX tenants_unsettled ON tenants(id) WHERE observed_version <> version OR lower(phase) <> state;";

/*
 * Version 4 (storage ABI 1.2): time-limited administrative overrides of a
 * tenant's rate limits.  Rows are only inserted; expired ones stay as
 * history.  The index serves "this tenant's active overrides", the read
 * behind every rate-limit plan lookup of a tenant.
 */
static const char store_schema_v4[] =
	"CREATE TABLE overrides ("
	" id TEXT PRIMARY KEY,"
	" tenant_id TEXT NOT NULL,"
	" limits_json TEXT NOT NULL,"
	" actor TEXT NOT NULL,"
	" request_id TEXT,"
	" reason TEXT,"
	" created_ms INTEGER NOT NULL,"
	" expires_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX overrides_by_tenant ON overrides(tenant_id, expires_ms);";

/*
 * Version 5 (storage ABI 1.2): the audit trail.  seq is assigned by the
 * writer (head seq + 1) rather than by SQLite, because the hash chain
 * covers it: a plain INTEGER PRIMARY KEY, no AUTOINCREMENT.  audit_head is
 * the chain head (one row), signed apart from the records so that cutting
 * records off the end shows (docs/audit.md).  Only the tenant filter gets
 * an index: every mutation writes a record, and the other filters of an
 * audit search are rare enough to scan in seq order.
 */
static const char store_schema_v5[] =
	"CREATE TABLE audit_log ("
	" seq INTEGER PRIMARY KEY NOT NULL,"
	" time_ms INTEGER NOT NULL,"
	" tenant_id TEXT,"
	" actor TEXT,"
	" action TEXT,"
	" target TEXT,"
	" previous_state TEXT,"
	" new_state TEXT,"
	" outcome TEXT,"
	" reason TEXT,"
	" request_id TEXT,"
	" correlation_id TEXT,"
	" key_id TEXT NOT NULL,"
	" prev_hash TEXT NOT NULL,"
	" hash TEXT NOT NULL,"
	" signature TEXT NOT NULL);"
	"CREATE INDEX audit_by_tenant ON audit_log(tenant_id, seq) WHERE tenant_id IS NOT NULL;"
	"CREATE TABLE audit_head ("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" seq INTEGER NOT NULL,"
	" hash TEXT NOT NULL,"
	" key_id TEXT NOT NULL,"
	" signature TEXT NOT NULL);";

/*
 * Version 6 (storage ABI 1.2): API tokens made through the API (only the
 * SHA-256 of each secret, unique) and break-glass grants.  Neither is ever
 * deleted: revoked tokens and decided or expired grants stay as history.
 */
static const char store_schema_v6[] =
	"CREATE TABLE tokens ("
	" id TEXT PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" role TEXT NOT NULL,"
	" tenant_id TEXT,"
	" hash TEXT NOT NULL UNIQUE,"
	" created_by TEXT NOT NULL,"
	" request_id TEXT,"
	" created_ms INTEGER NOT NULL,"
	" expires_ms INTEGER,"
	" revoked_ms INTEGER,"
	" revoked_by TEXT) WITHOUT ROWID;"
	"CREATE TABLE breakglass_grants ("
	" id TEXT PRIMARY KEY,"
	" subject TEXT NOT NULL,"
	" requester TEXT NOT NULL,"
	" role TEXT NOT NULL,"
	" reason TEXT NOT NULL,"
	" ttl_s INTEGER NOT NULL,"
	" state TEXT NOT NULL,"
	" request_id TEXT,"
	" requested_ms INTEGER NOT NULL,"
	" decided_by TEXT,"
	" decided_ms INTEGER,"
	" expires_ms INTEGER) WITHOUT ROWID;"
	"CREATE INDEX breakglass_grants_by_state ON breakglass_grants(state, id);";

/*
 * Version 7 (storage ABI 1.2): the event outbox.
 * seq is an AUTOINCREMENT rowid assigned in the serialized write path:
 * strictly increasing in commit order and never reused, even after old
 * rows are purged.  Replay pages by seq; a tenant's events by its index.
 */
static const char store_schema_v7[] =
	"CREATE TABLE events ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT NOT NULL UNIQUE,"
	" tenant_id TEXT NOT NULL,"
	" type TEXT NOT NULL,"
	" time_ms INTEGER NOT NULL,"
	" event_json TEXT NOT NULL);"
	"CREATE INDEX events_by_tenant ON events(tenant_id, seq);";

/*
 * Version 8 (storage ABI 1.2: quotas): the history of each tenant's
 * effective quotas, appended with the version or override that changed
 * them.
 */
static const char store_schema_v8[] =
	"CREATE TABLE quota_history ("
	" tenant_id TEXT NOT NULL,"
	" seq INTEGER NOT NULL,"
	" version INTEGER NOT NULL,"
	" quotas_json TEXT NOT NULL,"
	" source TEXT NOT NULL,"
	" actor TEXT NOT NULL,"
	" request_id TEXT,"
	" time_ms INTEGER NOT NULL,"
	" PRIMARY KEY (tenant_id, seq)) WITHOUT ROWID;";

/*
 * Version 9 (storage ABI 1.2): webhook subscriptions and their deliveries.
 * A subscription's cursor_seq is the
 * outbox seq up to which its deliveries exist: the dispatcher creates the
 * rows and moves the cursor in one transaction.  The dispatcher finds due
 * work through deliveries_due, the dead-letter list through
 * deliveries_by_state.
 */
static const char store_schema_v9[] =
	"CREATE TABLE webhooks ("
	" id TEXT PRIMARY KEY NOT NULL,"
	" url TEXT NOT NULL,"
	" types_json TEXT,"
	" tenant_id TEXT,"
	" key_id TEXT NOT NULL,"
	" secret_sealed TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" cursor_seq INTEGER NOT NULL,"
	" created_by TEXT NOT NULL,"
	" request_id TEXT,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE deliveries ("
	" id TEXT PRIMARY KEY NOT NULL,"
	" subscription_id TEXT NOT NULL,"
	" event_seq INTEGER NOT NULL,"
	" event_id TEXT NOT NULL,"
	" event_type TEXT NOT NULL,"
	" state TEXT NOT NULL,"
	" attempts INTEGER NOT NULL,"
	" next_attempt_ms INTEGER NOT NULL,"
	" last_status INTEGER NOT NULL,"
	" last_error TEXT,"
	" latency_ms INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" updated_ms INTEGER NOT NULL,"
	" attempts_json TEXT) WITHOUT ROWID;"
	"CREATE INDEX deliveries_by_state ON deliveries(state, id);"
	"CREATE INDEX deliveries_due ON deliveries(next_attempt_ms) WHERE state = 'pending';"
	"CREATE INDEX deliveries_by_subscription ON deliveries(subscription_id, id);";


static const struct store_migration store_migrations[] = {
	{ 1, "initial schema: tenants, labels, versions, phase transitions, idempotency",
	  store_schema_v1 },
	{ 2, "one covering search index, partial phase and isolation indexes, labels in one b-tree",
	  store_schema_v2 },
	{ 3, "reconcile workflows, tenant credentials, index of unsettled tenants", store_schema_v3 },
	{ 4, "administrative overrides of tenants' rate limits", store_schema_v4 },
	{ 5, "audit trail: hash-chained signed records and the signed chain head", store_schema_v5 },
	{ 6, "API tokens and break-glass grants", store_schema_v6 },
	{ 7, "the event outbox", store_schema_v7 },
	{ 8, "history of tenants' effective quotas", store_schema_v8 },
	{ 9, "webhook subscriptions and deliveries", store_schema_v9 },
};

#define STORE_N_MIGRATIONS (sizeof(store_migrations) / sizeof(store_migrations[0]))

int store_schema_latest(void)
{
	return store_migrations[STORE_N_MIGRATIONS - 1].version;
}

static int schema_read_int(struct store_conn *conn, const char *sql, int64_t *ret_value,
			   struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int rc, r;

	r = store_conn_prepare(conn, sql, &stmt, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*ret_value = sqlite3_column_int64(stmt, 0);
		r = 0;
	} else {
		r = store_fail(err, conn->db, rc, sql);
	}
	store_stmt_done(stmt);
	return r;
}

static int schema_exec(struct store_conn *conn, const char *sql, struct tnd_error *err)
{
	char *message = NULL;
	int rc = sqlite3_exec(conn->db, sql, NULL, NULL, &message);

	if (rc != SQLITE_OK) {
		tnd_error_set(err, "schema: %s", message ? message : sqlite3_errstr(rc));
		sqlite3_free(message);
		return store_errno(rc) < 0 ? store_errno(rc) : -EIO;
	}
	return 0;
}

/* Check the file is ours and not from the future; with the write lock held
 * so that two processes opening a fresh file cannot both migrate it. */
static int schema_check(struct store_conn *conn, int64_t *ret_version, struct tnd_error *err)
{
	int64_t application_id = 0, version = 0, n_objects = 0;
	int r;

	r = schema_read_int(conn, "PRAGMA application_id", &application_id, err);
	if (r < 0)
		return r;
	r = schema_read_int(conn, "PRAGMA user_version", &version, err);
	if (r < 0)
		return r;
	r = schema_read_int(conn, "SELECT count(*) FROM sqlite_master", &n_objects, err);
	if (r < 0)
		return r;

	if (application_id != STORE_APPLICATION_ID && (application_id != 0 || n_objects > 0)) {
		tnd_error_set(err, "%s is not a tenancyd registry (application_id %#llx, %lld schema objects)",
			      sqlite3_db_filename(conn->db, "main"), (unsigned long long)application_id,
			      (long long)n_objects);
		return -EINVAL;
	}
	if (version > store_schema_latest()) {
		tnd_error_set(err,
			      "%s has registry schema version %lld, newer than the %d this plugin knows; "
			      "run the tenancyd release that wrote it",
			      sqlite3_db_filename(conn->db, "main"), (long long)version,
			      store_schema_latest());
		return -EPROTONOSUPPORT;
	}
	if (version < 0) {
		tnd_error_set(err, "%s has an invalid registry schema version %lld",
			      sqlite3_db_filename(conn->db, "main"), (long long)version);
		return -EINVAL;
	}
	*ret_version = version;
	return 0;
}

/* One step, in its own transaction. */
static int schema_step(const struct tnd_host *host, struct store_conn *conn, bool *ret_done,
		       struct tnd_error *err)
{
	const struct store_migration *next = NULL;
	int64_t version;
	char sql[96];
	int r;

	r = store_conn_run(conn, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	r = schema_check(conn, &version, err);
	if (r < 0)
		goto rollback;
	for (size_t i = 0; i < STORE_N_MIGRATIONS; i++)
		if (store_migrations[i].version > version) {
			next = &store_migrations[i];
			break;
		}
	if (next == NULL) {
		*ret_done = true;
		return store_conn_run(conn, "ROLLBACK", err);
	}

	r = schema_exec(conn, next->sql, err);
	if (r < 0)
		goto rollback;
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", next->version);
	r = schema_exec(conn, sql, err);
	if (r < 0)
		goto rollback;
	snprintf(sql, sizeof(sql), "PRAGMA application_id=%d", STORE_APPLICATION_ID);
	r = schema_exec(conn, sql, err);
	if (r < 0)
		goto rollback;
	r = store_conn_run(conn, "COMMIT", err);
	if (r < 0)
		goto rollback;
	host->log(host, TND_LOG_NOTICE, "registry %s: schema migrated from version %lld to %d (%s)",
		  sqlite3_db_filename(conn->db, "main"), (long long)version, next->version,
		  next->summary);
	*ret_done = false;
	return 0;

rollback:
	if (!sqlite3_get_autocommit(conn->db))
		sqlite3_exec(conn->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int store_schema_migrate(const struct tnd_host *host, struct store_conn *writer, struct tnd_error *err)
{
	bool done = false;
	int r;

	while (!done) {
		r = schema_step(host, writer, &done, err);
		if (r < 0)
			return r;
	}
	return 0;
}
