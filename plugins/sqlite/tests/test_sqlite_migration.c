/*
 * test_sqlite_migration.c — the registry's schema moves forward with its
 * data, and its searches stay on indexes.
 *
 * A database written with schema version 1 or 2 (built here with the DDL
 * those versions shipped, frozen below, and rows shaped as their writers
 * wrote them) opens through the built sqlite.so, migrates to the newest
 * version, reads back every record unchanged, answers every kind of search
 * (the unsettled filter of version 3 included), takes new writes (workflows
 * and credentials too), and ends with exactly the schema of a fresh
 * database.  EXPLAIN QUERY PLAN of the statements sqlite_search.c builds
 * (compiled into this test) shows which index serves each kind of search.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "host.h"
#include "sqlite_harness.h"
#include "sqlite_internal.h"
#include "testutil.h"
#include "util.h"

/* Schema version 1 exactly as shipped (store_schema_v1 in sqlite_schema.c
 * at version 1).  Never edit: it stands for databases in the field.  The
 * end of test_migrate_v1 checks that migrating it gives the very schema a
 * fresh database gets, which fails if this copy drifts from the shipped one. */
static const char migration_schema_v1[] =
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

/* Schema version 2 exactly as shipped (store_schema_v2), applied to a
 * version 1 file as the version 2 plugin did.  Never edit either. */
static const char migration_schema_v2[] =
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

#define MIGRATION_FILLERS 300
/* The schema version this test knows how to check, and every version a
 * migration leads to, in order. */
#define MIGRATION_LATEST 9
static const int migration_versions[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

/* The migration steps from @from to the latest: versions above @from. */
static int migration_steps_after(int from)
{
	int n = 0;

	for (size_t i = 0; i < sizeof(migration_versions) / sizeof(migration_versions[0]); i++)
		n += migration_versions[i] > from;
	return n;
}

/* --- direct access to the file ------------------------------------------------------------- */

static sqlite3 *migration_db(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	return db;
}

static void migration_exec(sqlite3 *db, const char *sql)
{
	char *message = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK)
		fail_msg("%s: %s", sql, message);
}

/* Every row of @sql, columns joined by '|', rows by '\n'. */
static char *migration_rows(const char *path, const char *sql)
{
	sqlite3 *db = migration_db(path);
	sqlite3_stmt *stmt = NULL;
	struct tnd_buf out = { 0 };

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		for (int c = 0; c < sqlite3_column_count(stmt); c++) {
			const unsigned char *text = sqlite3_column_text(stmt, c);
			tnd_buf_addf(&out, "%s%s", c ? "|" : "", text ? (const char *)text : "NULL");
		}
		tnd_buf_addf(&out, "\n");
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return out.data ? tnd_buf_steal(&out) : tnd_xstrdup("");
}

/* What the migration must carry over unchanged: head rows and lineage. */
static char *migration_kept_rows(const char *path)
{
	char *tenants = migration_rows(path, "SELECT * FROM tenants ORDER BY id");
	char *versions = migration_rows(path, "SELECT * FROM tenant_versions ORDER BY tenant_id, version");
	char *both = tnd_xasprintf("%s%s", tenants, versions);

	free(tenants);
	free(versions);
	return both;
}

/* A version 1 registry, written as the version 1 plugin wrote it. */
static void migration_make_v1(const char *path)
{
	sqlite3 *db = migration_db(path);

	migration_exec(db, "PRAGMA journal_mode=WAL");
	migration_exec(db, "BEGIN");
	migration_exec(db, migration_schema_v1);
	migration_exec(db,
		       "INSERT INTO tenants VALUES"
		       " ('acme', 3, 2, 2, 'Active', 'active', 'business', 'shared', 'eu-west-1',"
		       "  '{\"team\":\"core\",\"env\":\"prod\"}', '{\"v\":2}', '{\"phase\":\"Active\"}', 10, 30),"
		       " ('beta', 2, 1, 1, 'Suspended', 'suspended', 'enterprise', 'dedicated', 'us-east-1',"
		       "  '{\"env\":\"prod\"}', '{\"v\":1}', '{}', 11, 21),"
		       " ('gamma', 1, 1, 0, 'Draft', 'draft', 'free', 'hybrid', NULL, '{}', '{\"v\":1}', '{}', 12, 12),"
		       " ('gone', 4, 1, 1, 'Deleted', 'deleted', 'business', 'shared', 'eu-west-1',"
		       "  '{\"env\":\"dev\"}', '{\"v\":1}', '{}', 13, 43),"
		       /* being suspended: its phase is not yet the desired state */
		       " ('zeta', 3, 3, 3, 'Active', 'suspended', 'business', 'shared', 'eu-west-1', '{}',"
		       "  '{\"v\":3}', '{}', 14, 34);"
		       "INSERT INTO tenant_labels VALUES ('acme', 'env', 'prod'), ('acme', 'team', 'core'),"
		       " ('beta', 'env', 'prod'), ('gone', 'env', 'dev');"
		       "INSERT INTO tenant_versions VALUES ('acme', 1, '{\"v\":1}', 'alice', 'req-1', 10),"
		       " ('acme', 2, '{\"v\":2}', 'bob', NULL, 30), ('beta', 1, '{\"v\":1}', 'alice', 'req-2', 11);"
		       "INSERT INTO phase_transitions (tenant_id, from_phase, to_phase, version, actor, request_id,"
		       " reason, time_ms) VALUES ('acme', NULL, 'Draft', 1, 'alice', 'req-1', 'created', 10),"
		       " ('beta', NULL, 'Draft', 1, 'alice', 'req-2', 'created', 11),"
		       " ('acme', 'Draft', 'Active', 1, 'alice', 'req-1', 'applied', 10),"
		       " ('beta', 'Draft', 'Suspended', 1, 'ops', NULL, 'billing', 21);"
		       "INSERT INTO idempotency VALUES ('alice\nk1', 'hash', 201, '{\"ok\":true}', 10, 9000000000000);");
	/* Enough tenants that every b-tree spans pages. */
	for (int i = 0; i < MIGRATION_FILLERS; i++) {
		char sql[512];

		snprintf(sql, sizeof(sql),
			 "INSERT INTO tenants VALUES ('filler-%03d', 1, 1, 1, 'Active', 'active', 'business',"
			 " 'shared', 'eu-west-1', '{\"filler\":\"yes\"}', '{\"v\":1}', '{}', 1, 1);"
			 "INSERT INTO tenant_labels VALUES ('filler-%03d', 'filler', 'yes');",
			 i, i);
		migration_exec(db, sql);
	}
	migration_exec(db, "PRAGMA user_version=1; PRAGMA application_id=1416520786"); /* 0x546e6452 */
	migration_exec(db, "COMMIT");
	sqlite3_close(db);
}

/* A version 2 registry: a version 1 one that the version 2 plugin migrated
 * (a fresh version 2 file has the same schema). */
static void migration_make_v2(const char *path)
{
	sqlite3 *db;

	migration_make_v1(path);
	db = migration_db(path);
	migration_exec(db, "BEGIN");
	migration_exec(db, migration_schema_v2);
	migration_exec(db, "PRAGMA user_version=2");
	migration_exec(db, "COMMIT");
	sqlite3_close(db);
}

/* --- searching ---------------------------------------------------------------------------- */

/* The ids @query finds, comma-separated. */
static char *migration_search(struct harness *h, const struct tnd_tenant_query *query)
{
	struct tenant_list found = { 0 };
	struct tnd_buf ids = { 0 };

	assert_int_equal(harness_search(h, query, &found), 0);
	for (size_t i = 0; i < found.n; i++)
		tnd_buf_addf(&ids, "%s%s", i ? "," : "", found.items[i].id);
	tenant_list_free(&found);
	return ids.data ? tnd_buf_steal(&ids) : tnd_xstrdup("");
}

static void migration_expect_search(struct harness *h, const struct tnd_tenant_query *query, const char *ids)
{
	char *got = migration_search(h, query);

	assert_string_equal(got, ids);
	free(got);
}

/* The searches that exercise each index, and their answers on the fixture. */
static void migration_check_searches(struct harness *h)
{
	const char *env = "env", *prod = "prod", *team = "team", *core = "core", *filler = "filler", *yes = "yes";
	const char *two_keys[] = { "team", "env" }, *two_values[] = { "core", "prod" };
	struct tnd_tenant_query q = { .size = sizeof(q) };
	struct tenant_list found = { 0 };

	q.phase = "Suspended";
	migration_expect_search(h, &q, "beta");
	q.phase = "Draft";
	migration_expect_search(h, &q, "gamma");
	q.phase = "Deleted";
	migration_expect_search(h, &q, "gone");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .isolation = "dedicated" };
	migration_expect_search(h, &q, "beta");
	q.isolation = "hybrid";
	migration_expect_search(h, &q, "gamma");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .region = "us-east-1" };
	migration_expect_search(h, &q, "beta");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .plan = "free" };
	migration_expect_search(h, &q, "gamma");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .label_keys = &env, .label_values = &prod, .n_labels = 1 };
	migration_expect_search(h, &q, "acme,beta");
	q.label_keys = &team;
	q.label_values = &core;
	migration_expect_search(h, &q, "acme");
	q.label_keys = two_keys;
	q.label_values = two_values;
	q.n_labels = 2;
	migration_expect_search(h, &q, "acme");
	/* the unfiltered list skips the tombstone unless asked */
	q = (struct tnd_tenant_query){ .size = sizeof(q), .limit = 3 };
	migration_expect_search(h, &q, "acme,beta,filler-000");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .after_id = "filler-299", .include_deleted = 1 };
	migration_expect_search(h, &q, "gamma,gone,zeta");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .phase = "Active", .isolation = "shared",
				       .region = "eu-west-1", .plan = "business", .after_id = "filler-297" };
	migration_expect_search(h, &q, "filler-298,filler-299,zeta");
	/* version 3 indexed the tenants that were already there */
	q = (struct tnd_tenant_query){ .size = sizeof(q), .unsettled = 1 };
	migration_expect_search(h, &q, "gamma,zeta");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .label_keys = &filler, .label_values = &yes,
				       .n_labels = 1, .limit = 1000 };
	assert_int_equal(harness_search(h, &q, &found), 0);
	assert_int_equal(found.n, MIGRATION_FILLERS);
	tenant_list_free(&found);
}

/* --- the tests ---------------------------------------------------------------------------- */

/* Version 3's tables take writes on a migrated file. */
static void migration_check_reconcile_tables(struct harness *h)
{
	struct tnd_workflow_record wf = {
		.size = sizeof(wf), .id = "wf-0001", .revision = 1, .tenant_id = "zeta", .kind = "suspend",
		.target_version = 3, .state = "Pending", .step = 0, .attempts = 0, .next_attempt_ms = 0,
		.document_json = "{\"steps\":[]}", .created_ms = 40, .updated_ms = 40,
	};
	struct tnd_credential_record cred = {
		.size = sizeof(cred), .tenant_id = "acme", .key_id = "k1", .ciphertext = "AAAA", .updated_ms = 40,
	};
	struct tnd_workflow_query active = { .size = sizeof(active), .active = 1 };
	struct tnd_error err = { { 0 } };
	char *rows;

	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_INSERT, 0, &wf, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_PUT, 0, &cred, &err), 0);
	assert_int_equal(h->ops->workflow_get(h->ctx, "wf-0001", NULL, NULL, &err), 0);
	assert_int_equal(h->ops->workflow_list(h->ctx, &active, NULL, NULL, &err), 0);
	assert_int_equal(h->ops->credential_get(h->ctx, "acme", NULL, NULL, &err), 0);
	assert_int_equal(h->ops->credential_get(h->ctx, "beta", NULL, NULL, &err), -ENOENT);
	rows = migration_rows(h->db_path, "SELECT id, state FROM workflows");
	assert_string_equal(rows, "wf-0001|Pending\n");
	free(rows);
}

/* Open the fixture file of version @from and check everything about the migration. */
static void migration_expect_migrated(struct harness *h, int from)
{
	struct tnd_tenant_record acme = harness_tenant("acme", "Active", "{\"team\":\"edge\",\"env\":\"prod\"}");
	struct tnd_phase_record p = {
		.size = sizeof(p), .tenant_id = "acme", .from_phase = "Active", .to_phase = "Suspended",
		.version = 2, .actor = "ops", .time_ms = 50,
	};
	const char *team = "team", *edge = "edge", *core = "core";
	struct tnd_tenant_query q = { .size = sizeof(q), .label_keys = &team, .label_values = &edge, .n_labels = 1 };
	struct tnd_error err = { { 0 } };
	struct tenant_list found = { 0 };
	struct int_list list = { 0 };
	char *before, *after, *fresh_path, *fresh_schema, *line;
	int latest = MIGRATION_LATEST;

	before = migration_kept_rows(h->db_path);
	assert_int_equal(harness_open(h, NULL, &err), 0);
	for (size_t i = 0; i + 1 < sizeof(migration_versions) / sizeof(migration_versions[0]); i++) {
		if (migration_versions[i] < from)
			continue;
		line = tnd_xasprintf("schema migrated from version %d to %d", migration_versions[i],
				     migration_versions[i + 1]);
		assert_true(testutil_log_contains(line));
		free(line);
	}
	assert_int_equal(testutil_log_count("schema migrated"), migration_steps_after(from));

	/* the file: newest version, intact, every row carried over */
	after = migration_rows(h->db_path, "PRAGMA user_version");
	line = tnd_xasprintf("%d\n", latest);
	assert_string_equal(after, line);
	free(line);
	free(after);
	after = migration_rows(h->db_path, "PRAGMA integrity_check");
	assert_string_equal(after, "ok\n");
	free(after);
	after = migration_rows(h->db_path, "PRAGMA foreign_key_check");
	assert_string_equal(after, "");
	free(after);
	after = migration_kept_rows(h->db_path);
	assert_string_equal(after, before);
	free(after);
	free(before);
	after = migration_rows(h->db_path, "SELECT tenant_id, key, value FROM tenant_labels"
					   " WHERE tenant_id NOT LIKE 'filler-%' ORDER BY 1, 2");
	assert_string_equal(after, "acme|env|prod\nacme|team|core\nbeta|env|prod\ngone|env|dev\n");
	free(after);

	/* through the plugin: records, lineage, transitions, idempotency, searches */
	assert_int_equal(h->ops->tenant_get(h->ctx, "acme", harness_collect_tenant, &found, &err), 0);
	assert_int_equal(found.n, 1);
	assert_string_equal(found.items[0].labels_json, "{\"team\":\"core\",\"env\":\"prod\"}");
	assert_string_equal(found.items[0].manifest_json, "{\"v\":2}");
	assert_int_equal(found.items[0].revision, 3);
	assert_int_equal(found.items[0].updated_ms, 30);
	tenant_list_free(&found);
	assert_int_equal(h->ops->version_get(h->ctx, "acme", 2, harness_collect_version, &list, &err), 0);
	assert_string_equal(list.texts[0], "acme|{\"v\":2}|bob|(null)|30");
	int_list_free(&list);
	assert_int_equal(h->ops->phase_list(h->ctx, "acme", 0, 0, harness_collect_phase, &list, &err), 0);
	assert_int_equal(list.n, 2);
	assert_int_equal(list.values[0], 1);
	assert_int_equal(list.values[1], 3);
	assert_string_equal(list.texts[1], "Draft>Active v1 alice req-1 applied");
	int_list_free(&list);
	assert_int_equal(h->ops->idempotency_get(h->ctx, "alice\nk1", 100, NULL, NULL, &err), 0);
	migration_check_searches(h);

	/* new writes: labels move, and seqs go on after the old ones */
	acme.revision = 4;
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_UPDATE, 3, &acme, &err), 0);
	migration_expect_search(h, &q, "acme");
	q.label_values = &core;
	migration_expect_search(h, &q, "");
	assert_int_equal(harness_commit1(h, TND_WRITE_PHASE_APPEND, 0, &p, &err), 0);
	assert_int_equal(h->ops->phase_list(h->ctx, "acme", 3, 0, harness_collect_phase, &list, &err), 0);
	assert_int_equal(list.n, 1);
	assert_int_equal(list.values[0], 5);
	int_list_free(&list);
	migration_check_reconcile_tables(h);

	/* reopened: nothing left to migrate */
	harness_close(h);
	assert_int_equal(harness_open(h, NULL, &err), 0);
	assert_int_equal(testutil_log_count("schema migrated"), migration_steps_after(from));
	harness_close(h);

	/* and the migrated schema is the one a fresh database gets */
	assert_int_equal(harness_open(h, "{\"path\":\"fresh.db\"}", &err), 0);
	harness_close(h);
	fresh_path = tnd_xasprintf("%s/fresh.db", h->dir);
	fresh_schema = migration_rows(fresh_path, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name");
	after = migration_rows(h->db_path, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name");
	assert_string_equal(after, fresh_schema);
	free(after);
	free(fresh_schema);
	free(fresh_path);
}

static void test_migrate_v1(void **state)
{
	struct harness *h = *state;

	migration_make_v1(h->db_path);
	migration_expect_migrated(h, 1);
}

static void test_migrate_v2(void **state)
{
	struct harness *h = *state;
	char *version;

	migration_make_v2(h->db_path);
	version = migration_rows(h->db_path, "PRAGMA user_version");
	assert_string_equal(version, "2\n");
	free(version);
	migration_expect_migrated(h, 2);
}

/* The plan of the statement store_search_sql() builds for @query. */
static char *migration_plan(const char *path, const struct tnd_tenant_query *query)
{
	struct store_param params[STORE_SEARCH_PARAMS_MAX];
	struct tnd_error err = { { 0 } };
	char sql[8192], *explain, *plan;
	size_t n = 0;

	assert_int_equal(store_search_sql(query, "id, manifest_json", sql, sizeof(sql), params, &n, &err), 0);
	explain = tnd_xasprintf("EXPLAIN QUERY PLAN %s", sql);
	plan = migration_rows(path, explain);
	free(explain);
	return plan;
}

/* @query is served by @index and needs no sort (it reads in id order, so
 * it stops at the limit). */
static void migration_expect_plan(const char *path, const struct tnd_tenant_query *query, const char *index)
{
	char *plan = migration_plan(path, query);

	if (strstr(plan, index) == NULL || strstr(plan, "TEMP B-TREE") != NULL || strstr(plan, "SCAN tenants\n"))
		fail_msg("expected a plan on %s, got:\n%s", index, plan);
	free(plan);
}

/* The plan of the statement store_workflow_list_sql() builds for @query. */
static char *migration_workflow_plan(const char *path, const struct tnd_workflow_query *query)
{
	struct store_param params[STORE_WORKFLOW_PARAMS_MAX];
	struct tnd_error err = { { 0 } };
	char sql[1024], *explain, *plan;
	size_t n = 0;

	assert_int_equal(store_workflow_list_sql(query, "id, document_json", sql, sizeof(sql), params, &n, &err), 0);
	explain = tnd_xasprintf("EXPLAIN QUERY PLAN %s", sql);
	plan = migration_rows(path, explain);
	free(explain);
	return plan;
}

static void migration_expect_workflow_plan(const char *path, const struct tnd_workflow_query *query,
					   const char *index)
{
	char *plan = migration_workflow_plan(path, query);

	if (strstr(plan, index) == NULL || strstr(plan, "TEMP B-TREE") != NULL || strstr(plan, "SCAN workflows\n"))
		fail_msg("expected a plan on %s, got:\n%s", index, plan);
	free(plan);
}

static void test_search_plans(void **state)
{
	struct harness *h = *state;
	const char *key = "env", *value = "prod";
	struct tnd_tenant_query q = { .size = sizeof(q) };

	harness_insert(h, "planned");
	harness_close(h);

	migration_expect_plan(h->db_path, &q, "SCAN tenants USING INDEX tenants_search");
	q.after_id = "m";
	migration_expect_plan(h->db_path, &q, "SEARCH tenants USING INDEX tenants_search (id>?)");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .phase = "Suspended", .after_id = "m" };
	migration_expect_plan(h->db_path, &q, "USING INDEX tenants_by_phase (phase=? AND id>?)");
	q.phase = "Deleted";
	migration_expect_plan(h->db_path, &q, "USING INDEX tenants_by_phase (phase=? AND id>?)");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .isolation = "dedicated" };
	migration_expect_plan(h->db_path, &q, "USING INDEX tenants_by_isolation (isolation=?)");
	/* the common values are most tenants: walked in id order */
	q = (struct tnd_tenant_query){ .size = sizeof(q), .phase = "Active", .isolation = "shared" };
	migration_expect_plan(h->db_path, &q, "USING INDEX tenants_search");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .region = "eu-west-1", .plan = "business" };
	migration_expect_plan(h->db_path, &q, "USING INDEX tenants_search");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .label_keys = &key, .label_values = &value, .n_labels = 1 };
	migration_expect_plan(h->db_path, &q, "SEARCH tenant_labels USING PRIMARY KEY (key=? AND value=?)");
	q.region = "eu-west-1";
	migration_expect_plan(h->db_path, &q, "SEARCH tenant_labels USING PRIMARY KEY (key=? AND value=?)");

	/* unsettled: the partial index, whatever else is asked; so a registry
	 * of 100k settled tenants is never walked for the few unsettled */
	q = (struct tnd_tenant_query){ .size = sizeof(q), .unsettled = 1 };
	migration_expect_plan(h->db_path, &q, "SCAN tenants USING INDEX tenants_unsettled");
	q.after_id = "m";
	migration_expect_plan(h->db_path, &q, "SEARCH tenants USING INDEX tenants_unsettled (id>?)");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .unsettled = 1, .phase = "Active", .isolation = "shared",
				       .region = "eu-west-1", .plan = "business" };
	migration_expect_plan(h->db_path, &q, "USING INDEX tenants_unsettled");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .unsettled = 1, .phase = "Suspended" };
	migration_expect_plan(h->db_path, &q, "USING INDEX tenants_unsettled");
	q = (struct tnd_tenant_query){ .size = sizeof(q), .unsettled = 1, .label_keys = &key,
				       .label_values = &value, .n_labels = 1 };
	migration_expect_plan(h->db_path, &q, "USING INDEX tenants_unsettled");
	/* a 1.0-sized query has no unsettled field: the flag behind it is not read */
	q = (struct tnd_tenant_query){ .size = offsetof(struct tnd_tenant_query, unsettled), .unsettled = 1 };
	migration_expect_plan(h->db_path, &q, "SCAN tenants USING INDEX tenants_search");
}

static void test_workflow_plans(void **state)
{
	struct harness *h = *state;
	struct tnd_workflow_query q = { .size = sizeof(q) };

	harness_insert(h, "planned");
	harness_close(h);

	/* the orchestrator's poll: active, due, in id order, from a cursor */
	q = (struct tnd_workflow_query){ .size = sizeof(q), .active = 1, .due_before_ms = 1000 };
	migration_expect_workflow_plan(h->db_path, &q, "SCAN workflows USING INDEX workflows_active");
	q.after_id = "wf-1";
	migration_expect_workflow_plan(h->db_path, &q, "SEARCH workflows USING INDEX workflows_active (id>?)");
	q = (struct tnd_workflow_query){ .size = sizeof(q), .state = "Running" };
	migration_expect_workflow_plan(h->db_path, &q, "USING INDEX workflows_active");
	q = (struct tnd_workflow_query){ .size = sizeof(q), .state = "Failed", .after_id = "wf-1" };
	migration_expect_workflow_plan(h->db_path, &q, "SEARCH workflows USING INDEX workflows_failed (id>?)");
	/* a tenant's workflows */
	q = (struct tnd_workflow_query){ .size = sizeof(q), .tenant_id = "acme", .after_id = "wf-1" };
	migration_expect_workflow_plan(h->db_path, &q, "USING INDEX workflows_by_tenant (tenant_id=? AND id>?)");
	q.active = 1;
	migration_expect_workflow_plan(h->db_path, &q, "USING INDEX workflows_by_tenant (tenant_id=? AND id>?)");
	/* everything, and the common states: the primary key in id order */
	q = (struct tnd_workflow_query){ .size = sizeof(q), .after_id = "wf-1" };
	migration_expect_workflow_plan(h->db_path, &q, "USING INDEX sqlite_autoindex_workflows_1 (id>?)");
	q.state = "Succeeded";
	migration_expect_workflow_plan(h->db_path, &q, "USING INDEX sqlite_autoindex_workflows_1 (id>?)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_v1, harness_setup_closed, harness_teardown),
		cmocka_unit_test_setup_teardown(test_migrate_v2, harness_setup_closed, harness_teardown),
		cmocka_unit_test_setup_teardown(test_search_plans, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_workflow_plans, harness_setup_open, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
