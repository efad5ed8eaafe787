/*
 * pg_test_lifecycle.c — one isolation mode against a real cluster: two
 * tenants provisioned, what each can and cannot reach when logged in with
 * its own password, idempotent provisioning and password change, suspend
 * (sessions end), resume, archive (data kept, writes gone), drift made by
 * hand and found by observe, destroy (nothing left), and the other tenant
 * untouched throughout.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg_test_harness.h"
#include "util.h"

/* Where a tenant's data lives in a mode: (database, schema) pairs. */
struct place {
	char database[64];
	char schema[64];
	bool shared; /* the shared database */
};

static size_t lifecycle_places(const struct pgt_plugin *p, const char *role, struct place out[2])
{
	size_t n = 0;

	if (p->schema) {
		snprintf(out[n].database, 64, "tenancy");
		snprintf(out[n].schema, 64, "%s", role);
		out[n++].shared = true;
	}
	if (p->database) {
		snprintf(out[n].database, 64, "%s", role);
		snprintf(out[n].schema, 64, "public");
		out[n++].shared = false;
	}
	return n;
}

static PGconn *lifecycle_login_ok(const char *role, const char *password, const char *database)
{
	char why[512];
	PGconn *conn = pgt_login(role, password, database, why, sizeof(why));

	if (conn == NULL)
		fail_msg("%s could not log in to %s: %s", role, database, why);
	return conn;
}

/* A login that must fail, for the reason @expected. */
static void lifecycle_login_refused(const char *role, const char *password, const char *database,
				    const char *expected)
{
	char why[512];
	PGconn *conn = pgt_login(role, password, database, why, sizeof(why));

	if (conn != NULL)
		fail_msg("%s logged in to %s", role, database);
	if (strstr(why, expected) == NULL)
		fail_msg("%s to %s: want \"%s\", got: %s", role, database, expected, why);
}

static void lifecycle_exec_ok(PGconn *conn, const char *sql)
{
	if (!pgt_exec(conn, sql, NULL))
		fail_msg("%s: %s", sql, PQerrorMessage(conn));
}

/* The tenant creates, fills and reads a table in each of its places; the
 * table is created unqualified, so the search_path decides where it lands. */
static void lifecycle_own_work(const struct pgt_plugin *p, const char *role, const char *password, const char *note)
{
	struct place places[2];
	size_t n = lifecycle_places(p, role, places);

	for (size_t i = 0; i < n; i++) {
		PGconn *conn = lifecycle_login_ok(role, password, places[i].database);
		char sql[256];

		assert_string_equal(pgt_value(conn, "SELECT current_schema()"), places[i].schema);
		lifecycle_exec_ok(conn, "CREATE TABLE items (id serial PRIMARY KEY, note text)");
		snprintf(sql, sizeof(sql), "INSERT INTO items (note) VALUES ('%s')", note);
		lifecycle_exec_ok(conn, sql);
		assert_string_equal(pgt_value(conn, "SELECT note FROM items"), note);
		PQfinish(conn);
	}
}

/* @role (A) logged in cannot reach @other's (B's) data in any way we can name. */
static void lifecycle_cannot_reach(const struct pgt_plugin *p, const char *role, const char *password,
				   const char *other)
{
	struct place places[2];
	size_t n = lifecycle_places(p, other, places);
	char sql[256], state[6];

	for (size_t i = 0; i < n; i++) {
		PGconn *conn;

		if (!places[i].shared) {
			/* B's own database: no CONNECT for A, even with A's valid password */
			lifecycle_login_refused(role, password, places[i].database, "permission denied for database");
			continue;
		}
		conn = lifecycle_login_ok(role, password, places[i].database);
		snprintf(sql, sizeof(sql), "SELECT * FROM %s.items", other);
		assert_false(pgt_exec(conn, sql, state));
		assert_string_equal(state, "42501");
		snprintf(sql, sizeof(sql), "INSERT INTO %s.items (note) VALUES ('x')", other);
		assert_false(pgt_exec(conn, sql, state));
		assert_string_equal(state, "42501");
		snprintf(sql, sizeof(sql), "CREATE TABLE %s.planted (i int)", other);
		assert_false(pgt_exec(conn, sql, state));
		assert_string_equal(state, "42501");
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM information_schema.tables WHERE table_schema = '%s'",
			 other);
		assert_string_equal(pgt_value(conn, sql), "0");
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM information_schema.schemata WHERE schema_name = '%s'",
			 other);
		assert_string_equal(pgt_value(conn, sql), "0");
		/* nor anywhere else in the shared database */
		assert_false(pgt_exec(conn, "CREATE TABLE public.planted (i int)", state));
		assert_string_equal(state, "42501");
		assert_false(pgt_exec(conn, "CREATE SCHEMA planted", state));
		assert_string_equal(state, "42501");
		/* What the README admits: the catalogs show B's schema's name. */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", other);
		assert_string_equal(pgt_value(conn, sql), "1");
		PQfinish(conn);
	}
}

static void lifecycle_expect_resources(const struct pgt_plugin *p, json_t *result, const char *role)
{
	json_t *want;
	int port = pgt_cluster()->port;

	if (!p->database)
		want = json_pack("{s:s, s:s, s:s, s:s, s:i}", "database", "tenancy", "schema", role, "role", role,
				 "host", "127.0.0.1", "port", port);
	else if (!p->schema)
		want = json_pack("{s:s, s:s, s:s, s:s, s:i}", "database", role, "schema", "public", "role", role,
				 "host", "127.0.0.1", "port", port);
	else
		want = json_pack("{s:{s:s, s:s}, s:{s:s, s:s}, s:s, s:s, s:i}", "control", "database", "tenancy",
				 "schema", role, "data", "database", role, "schema", "public", "role", role, "host",
				 "127.0.0.1", "port", port);
	if (!json_equal(json_object_get(result, "resources"), want)) {
		char *got = json_dumps(result, JSON_COMPACT);
		fail_msg("resources: %s", got);
	}
	json_decref(want);
}

/* Log in, then check the session dies when @op runs and no new login works. */
static void lifecycle_stop_ends_sessions(struct pgt_plugin *p, enum pgt_op op, const char *id, const char *role,
					 const char *password)
{
	struct place places[2];
	PGconn *held;
	char sql[160];

	lifecycle_places(p, role, places);
	held = lifecycle_login_ok(role, password, places[0].database);
	json_decref(pgt_ok(p, op, id, NULL, NULL));
	assert_false(pgt_exec(held, "SELECT 1", NULL));
	assert_int_equal(PQstatus(held), CONNECTION_BAD);
	PQfinish(held);
	lifecycle_login_refused(role, password, places[0].database, "is not permitted to log in");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE usename = '%s'", role);
	assert_string_equal(pgt_admin_value(NULL, sql), "0");
}

static void lifecycle_observe_clean(struct pgt_plugin *p, const char *id, const char *state, bool login,
				    bool writable)
{
	json_t *result = pgt_ok(p, PGT_OBSERVE, id, state, NULL);
	json_t *observed = json_object_get(result, "observed");

	if (pgt_drift_count(result) != 0 || !json_is_true(json_object_get(observed, "exists")) ||
	    json_is_true(json_object_get(observed, "login")) != login ||
	    json_is_true(json_object_get(observed, "writable")) != writable) {
		char *text = json_dumps(result, JSON_COMPACT);
		fail_msg("observe %s (%s): %s", id, state, text);
	}
	json_decref(result);
}

/* Admin's view: the tenant's data and its write privileges. */
static void lifecycle_check_archived(const struct pgt_plugin *p, const char *role)
{
	struct place places[2];
	size_t n = lifecycle_places(p, role, places);
	char sql[512];

	for (size_t i = 0; i < n; i++) {
		PGconn *admin = pgt_admin(places[i].database);

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.items", places[i].schema);
		assert_string_equal(pgt_value(admin, sql), "1"); /* data kept */
		snprintf(sql, sizeof(sql),
			 "SELECT has_table_privilege('%s', '%s.items', 'INSERT, UPDATE, DELETE, TRUNCATE')::text || "
			 "has_table_privilege('%s', '%s.items', 'SELECT')::text || "
			 "has_schema_privilege('%s', '%s', 'CREATE')::text",
			 role, places[i].schema, role, places[i].schema, role, places[i].schema);
		assert_string_equal(pgt_value(admin, sql), "falsetruefalse");
		if (!places[i].shared) {
			snprintf(sql, sizeof(sql), "SELECT has_database_privilege('%s', '%s', 'CREATE')", role, role);
			assert_string_equal(pgt_value(admin, sql), "f");
		}
		PQfinish(admin);
	}
	snprintf(sql, sizeof(sql), "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = '%s'",
		 role);
	assert_non_null(strstr(pgt_admin_value(NULL, sql), "\"archivedAt\""));
}

/* Nothing of @role remains anywhere in the cluster. */
static void lifecycle_check_gone(const char *role)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_roles WHERE rolname = '%s'", role);
	assert_string_equal(pgt_admin_value(NULL, sql), "0");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_database WHERE datname = '%s'", role);
	assert_string_equal(pgt_admin_value(NULL, sql), "0");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", role);
	assert_string_equal(pgt_admin_value("tenancy", sql), "0");
	/* no grant, default privilege or setting left behind for a dropped role */
	assert_string_equal(pgt_admin_value("tenancy", "SELECT count(*) FROM pg_shdepend WHERE refclassid = "
						       "'pg_authid'::regclass AND refobjid NOT IN "
						       "(SELECT oid FROM pg_authid)"),
			    "0");
	assert_string_equal(pgt_admin_value("tenancy", "SELECT count(*) FROM pg_default_acl WHERE defaclrole "
						       "NOT IN (SELECT oid FROM pg_authid)"),
			    "0");
	assert_string_equal(pgt_admin_value(NULL, "SELECT count(*) FROM pg_db_role_setting WHERE setrole <> 0 "
						  "AND setrole NOT IN (SELECT oid FROM pg_authid)"),
			    "0");
}

void test_pg_lifecycle(void **state)
{
	struct pgt_plugin *p = *state;
	char a[48], b[48], ra[64], rb[64], pa1[64], pa2[64], pb[64], sql[256];
	struct place places[2];
	struct tnd_error err;
	json_t *first, *again, *observed;
	PGconn *conn;

	snprintf(a, sizeof(a), "%.2s-alpha", p->isolation);
	snprintf(b, sizeof(b), "%.2s-beta", p->isolation);
	pgt_role_name(a, ra);
	pgt_role_name(b, rb);
	snprintf(pa1, sizeof(pa1), "Pw1-%s-%s", a, "q'\"\\x");
	snprintf(pa2, sizeof(pa2), "Pw2-%s-Z9", a);
	snprintf(pb, sizeof(pb), "PwB-%s-7", b);
	pgt_remember_password(pa1);
	pgt_remember_password(pa2);
	pgt_remember_password(pb);
	lifecycle_places(p, ra, places);

	/* provision both; each works in its own place and reaches nothing of the other */
	first = pgt_ok(p, PGT_PROVISION, a, "active", pa1);
	lifecycle_expect_resources(p, first, ra);
	json_decref(pgt_ok(p, PGT_PROVISION, b, "active", pb));
	lifecycle_own_work(p, ra, pa1, "alpha row");
	lifecycle_own_work(p, rb, pb, "beta secret");
	lifecycle_cannot_reach(p, ra, pa1, rb);
	lifecycle_cannot_reach(p, rb, pb, ra);
	snprintf(sql, sizeof(sql), "SELECT rolconnlimit FROM pg_roles WHERE rolname = '%s'", ra);
	assert_string_equal(pgt_admin_value(NULL, sql), "10"); /* concurrentOperations 2 x 5 */
	lifecycle_observe_clean(p, a, "active", true, true);

	/* provisioning again: same result, data kept; a new password replaces the old */
	again = pgt_ok(p, PGT_PROVISION, a, "active", pa1);
	assert_true(json_equal(first, again));
	json_decref(again);
	json_decref(first);
	json_decref(pgt_ok(p, PGT_PROVISION, a, "active", pa2));
	lifecycle_login_refused(ra, pa1, places[0].database, "password authentication failed");
	conn = lifecycle_login_ok(ra, pa2, places[0].database);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.items", places[0].schema);
	assert_string_equal(pgt_value(conn, sql), "1");
	PQfinish(conn);

	/* suspend: sessions end, no login; twice is fine */
	lifecycle_stop_ends_sessions(p, PGT_SUSPEND, a, ra, pa2);
	json_decref(pgt_ok(p, PGT_SUSPEND, a, NULL, NULL));
	lifecycle_observe_clean(p, a, "suspended", false, true);
	/* an admin lets it log in again: observe tells, and changes nothing */
	snprintf(sql, sizeof(sql), "ALTER ROLE %s LOGIN", ra);
	pgt_admin_exec(NULL, sql);
	for (int round = 0; round < 2; round++) {
		json_t *result = pgt_ok(p, PGT_OBSERVE, a, "suspended", NULL);
		assert_true(pgt_drift_has(result, "login enabled while suspended"));
		json_decref(result);
	}
	snprintf(sql, sizeof(sql), "SELECT rolcanlogin FROM pg_roles WHERE rolname = '%s'", ra);
	assert_string_equal(pgt_admin_value(NULL, sql), "t");
	lifecycle_stop_ends_sessions(p, PGT_SUSPEND, a, ra, pa2); /* the repair */
	lifecycle_observe_clean(p, a, "suspended", false, true);
	observed = pgt_ok(p, PGT_OBSERVE, a, "active", NULL);
	assert_true(pgt_drift_has(observed, "login disabled while active"));
	json_decref(observed);

	/* resume */
	json_decref(pgt_ok(p, PGT_RESUME, a, NULL, NULL));
	PQfinish(lifecycle_login_ok(ra, pa2, places[0].database));
	lifecycle_observe_clean(p, a, "active", true, true);

	/* archive: sessions end, no login, data kept, no write privileges */
	lifecycle_stop_ends_sessions(p, PGT_ARCHIVE, a, ra, pa2);
	lifecycle_check_archived(p, ra);
	lifecycle_observe_clean(p, a, "archived", false, false);
	observed = pgt_ok(p, PGT_OBSERVE, a, "archived", NULL);
	json_decref(pgt_ok(p, PGT_ARCHIVE, a, NULL, NULL));
	again = pgt_ok(p, PGT_OBSERVE, a, "archived", NULL);
	assert_non_null(json_string_value(json_object_get(json_object_get(observed, "observed"), "archivedAt")));
	assert_true(json_equal(observed, again)); /* archiving again keeps the first archive time */
	json_decref(again);
	json_decref(observed);

	/* drift while archived: login and a write grant given back by hand */
	snprintf(sql, sizeof(sql), "ALTER ROLE %s LOGIN", ra);
	pgt_admin_exec(NULL, sql);
	snprintf(sql, sizeof(sql), "GRANT INSERT ON %s.items TO %s", places[0].schema, ra);
	pgt_admin_exec(places[0].database, sql);
	observed = pgt_ok(p, PGT_OBSERVE, a, "archived", NULL);
	assert_true(pgt_drift_has(observed, "login enabled while archived"));
	assert_true(pgt_drift_has(observed, "write privileges while archived"));
	assert_true(json_is_true(json_object_get(json_object_get(observed, "observed"), "writable")));
	json_decref(observed);
	/* the repair a workflow runs (provision, then archive): never a login or write window */
	json_decref(pgt_ok(p, PGT_PROVISION, a, "archived", pa2));
	snprintf(sql, sizeof(sql), "SELECT rolcanlogin FROM pg_roles WHERE rolname = '%s'", ra);
	assert_string_equal(pgt_admin_value(NULL, sql), "f");
	lifecycle_check_archived(p, ra);
	json_decref(pgt_ok(p, PGT_ARCHIVE, a, NULL, NULL));
	lifecycle_observe_clean(p, a, "archived", false, false);

	/* destroy: nothing of A remains; again is fine; B untouched */
	first = pgt_ok(p, PGT_DESTROY, a, "deleted", NULL);
	assert_int_equal(json_object_size(json_object_get(first, "resources")), 0);
	json_decref(first);
	lifecycle_check_gone(ra);
	json_decref(pgt_ok(p, PGT_DESTROY, a, "deleted", NULL));
	observed = pgt_ok(p, PGT_OBSERVE, a, "deleted", NULL);
	assert_int_equal(pgt_drift_count(observed), 0);
	assert_false(json_is_true(json_object_get(json_object_get(observed, "observed"), "exists")));
	assert_int_equal(json_object_size(json_object_get(observed, "resources")), 0);
	json_decref(observed);
	observed = pgt_ok(p, PGT_OBSERVE, a, "active", NULL);
	assert_true(pgt_drift_has(observed, "does not exist"));
	json_decref(observed);
	assert_int_equal(pgt_try(p, PGT_SUSPEND, a, NULL, NULL, &err), -ENOENT);
	assert_int_equal(pgt_try(p, PGT_RESUME, a, NULL, NULL, &err), -ENOENT);

	lifecycle_places(p, rb, places);
	for (size_t i = 0; i < (p->schema && p->database ? 2u : 1u); i++) {
		conn = lifecycle_login_ok(rb, pb, places[i].database);
		assert_string_equal(pgt_value(conn, "SELECT note FROM items"), "beta secret");
		PQfinish(conn);
	}
	lifecycle_observe_clean(p, b, "active", true, true);
	json_decref(pgt_ok(p, PGT_DESTROY, b, "deleted", NULL));
	lifecycle_check_gone(rb);
}

/* One change an operator makes by hand, and the drift observe must report. */
struct drift_case {
	const char *database; /* where to run it; NULL: the admin's database */
	const char *sql;      /* "@" stands for the tenant's role */
	const char *drift;    /* a piece of the drift line */
	bool missing;         /* observe must report exists: false */
};

static const struct drift_case drift_schema_cases[] = {
	{ "tenancy", "DROP SCHEMA @ CASCADE", "schema", true },
	{ "tenancy", "GRANT USAGE ON SCHEMA @ TO PUBLIC", "PUBLIC has privileges on schema", false },
	{ "tenancy", "ALTER SCHEMA @ OWNER TO tnd_admin", "is owned by tnd_admin", false },
	{ NULL, "REVOKE CONNECT ON DATABASE tenancy FROM @", "may not connect", false },
	{ NULL, "ALTER ROLE @ IN DATABASE tenancy RESET search_path", "search_path", false },
	{ NULL, "ALTER ROLE @ CREATEDB", "has CREATEDB", false },
};

static const struct drift_case drift_database_cases[] = {
	{ NULL, "DROP DATABASE @ WITH (FORCE)", "database", true },
	{ NULL, "GRANT CONNECT ON DATABASE @ TO PUBLIC", "PUBLIC has privileges on database", false },
	{ NULL, "ALTER DATABASE @ OWNER TO tnd_admin", "is owned by tnd_admin", false },
	{ "@", "GRANT USAGE ON SCHEMA public TO PUBLIC", "PUBLIC has privileges on schema public", false },
	{ "@", "ALTER SCHEMA public OWNER TO pg_database_owner", "owned by pg_database_owner", false },
	{ NULL, "REVOKE CONNECT ON DATABASE @ FROM @", "may not connect", false },
};

/* @text with every "@" replaced by @role. */
static void drift_expand(const char *text, const char *role, char *out, size_t cap)
{
	size_t o = 0;

	for (; *text != '\0' && o + 1 < cap; text++) {
		if (*text == '@')
			o += (size_t)snprintf(out + o, cap - o, "%s", role);
		else
			out[o++] = *text;
	}
	out[o < cap ? o : cap - 1] = '\0';
}

static void drift_run(struct pgt_plugin *p, const char *id, const char *role, const char *password,
		      const struct drift_case *c)
{
	char sql[256], database[64];
	json_t *result;

	drift_expand(c->sql, role, sql, sizeof(sql));
	if (c->database != NULL)
		drift_expand(c->database, role, database, sizeof(database));
	pgt_admin_exec(c->database ? database : NULL, sql);
	result = pgt_ok(p, PGT_OBSERVE, id, "active", NULL);
	if (!pgt_drift_has(result, c->drift) ||
	    json_is_true(json_object_get(json_object_get(result, "observed"), "exists")) == c->missing) {
		char *text = json_dumps(result, JSON_COMPACT);
		fail_msg("after `%s`: want drift \"%s\": %s", sql, c->drift, text);
	}
	json_decref(result);
	/* what a repair workflow runs */
	json_decref(pgt_ok(p, PGT_PROVISION, id, "active", password));
	lifecycle_observe_clean(p, id, "active", true, true);
}

/* Drift an operator makes by hand, each found by observe and repaired by provision. */
void test_pg_drift(void **state)
{
	struct pgt_plugin *p = *state;
	char id[48], role[64], password[64];

	snprintf(id, sizeof(id), "%.2s-gamma", p->isolation);
	pgt_role_name(id, role);
	snprintf(password, sizeof(password), "PwC-%s", id);
	pgt_remember_password(password);
	json_decref(pgt_ok(p, PGT_PROVISION, id, "active", password));
	lifecycle_own_work(p, role, password, "gamma");
	for (size_t i = 0; p->schema && i < sizeof(drift_schema_cases) / sizeof(drift_schema_cases[0]); i++)
		drift_run(p, id, role, password, &drift_schema_cases[i]);
	for (size_t i = 0; p->database && i < sizeof(drift_database_cases) / sizeof(drift_database_cases[0]); i++)
		drift_run(p, id, role, password, &drift_database_cases[i]);
	json_decref(pgt_ok(p, PGT_DESTROY, id, "deleted", NULL));
	lifecycle_check_gone(role);
}

/* Without host_for_tenants/port_for_tenants the admin connection's own are reported. */
void test_pg_default_endpoint(void **state)
{
	struct pgt_plugin *p = *state;
	char id[48], password[64];
	json_t *request, *result = NULL, *dp = json_pack("{s:s}", "conninfo_file", pgt_cluster()->conninfo_file);
	struct tnd_error err;

	snprintf(id, sizeof(id), "%.2s-delta", p->isolation);
	snprintf(password, sizeof(password), "PwD-%s", id);
	pgt_remember_password(password);
	request = pgt_request(p, id, "active", password, dp);
	if (pgt_run(p, PGT_PROVISION, request, &result, &err) != 0)
		fail_msg("provision: %s", err.message);
	assert_string_equal(json_string_value(json_object_get(json_object_get(result, "resources"), "host")),
			    getenv("PGHOST"));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(result, "resources"), "port")),
			 pgt_cluster()->port);
	json_decref(result);
	json_decref(request);
	json_decref(pgt_ok(p, PGT_DESTROY, id, "deleted", NULL));
}
