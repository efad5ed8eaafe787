/*
 * embedded_scenarios.c — the lifecycle scenarios shared by the three
 * embedded isolation plugins' tests (see embedded_scenarios.h).  Tenant A
 * is acme-corp, tenant B globex; "connecting as" a tenant is
 * embedded_open_as(), the data plane's consumer access function.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "embedded_harness.h"
#include "embedded_scenarios.h"
#include "testutil.h"
#include "util.h"

#define A "acme-corp"
#define B "globex"
#define A_NAME "t_acme_corp"
#define B_NAME "t_globex"

/* --- helpers --------------------------------------------------------------------------------- */

static sqlite3 *sc_open_ok(const struct eh *h, const char *tenant)
{
	sqlite3 *db = NULL;
	int r = eh_open(h, tenant, eh_password(tenant), &db);

	if (r != 0)
		fail_msg("%s cannot open its own data: %d", tenant, r);
	return db;
}

/* Insert @value into the tenant's items table (created on first use). */
static int sc_write(const struct eh *h, sqlite3 *db, const char *tenant, const char *value)
{
	const char *schema = eh_data_schema(h, tenant);
	char *sql = tnd_xasprintf("CREATE TABLE IF NOT EXISTS \"%s\".items (v TEXT);"
				  " INSERT INTO \"%s\".items (v) VALUES ('%s')",
				  schema, schema, value);
	int rc = eh_exec(db, sql);

	free(sql);
	return rc;
}

/* Every value of the tenant's items table, comma-separated; NULL if it has none. */
static char *sc_read(const struct eh *h, sqlite3 *db, const char *tenant)
{
	char *sql = tnd_xasprintf("SELECT group_concat(v) FROM \"%s\".items", eh_data_schema(h, tenant));
	char *value = eh_query1(db, sql);

	free(sql);
	return value;
}

static void sc_expect_string(const json_t *object, const char *key, const char *want)
{
	const char *got = json_string_value(json_object_get(object, key));

	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("resources.%s is %s, want %s", key, got ? got : "(absent)", want);
}

/* The result's resources are the mode's shape (DESIGN §3 with file paths). */
static void sc_check_resources(const struct eh *h, const json_t *result, const char *tenant, const char *name)
{
	const json_t *res = json_object_get(result, "resources");
	char *shared_db = tnd_xasprintf("%s/shared.db", h->dir);
	char *schema_file = eh_schema_file(h, tenant), *data_file = eh_data_file(h, tenant);

	sc_expect_string(res, "role", name);
	switch (h->isolation) {
	case EMBEDDED_SHARED:
		sc_expect_string(res, "database", shared_db);
		sc_expect_string(res, "schema", name);
		sc_expect_string(res, "file", schema_file);
		assert_int_equal(json_object_size(res), 4);
		break;
	case EMBEDDED_DEDICATED:
		sc_expect_string(res, "database", data_file);
		sc_expect_string(res, "schema", "main");
		assert_int_equal(json_object_size(res), 3);
		break;
	case EMBEDDED_HYBRID:
		sc_expect_string(json_object_get(res, "control"), "database", shared_db);
		sc_expect_string(json_object_get(res, "control"), "schema", name);
		sc_expect_string(json_object_get(res, "control"), "file", schema_file);
		sc_expect_string(json_object_get(res, "data"), "database", data_file);
		sc_expect_string(json_object_get(res, "data"), "schema", "main");
		assert_int_equal(json_object_size(res), 3);
		break;
	}
	free(shared_db);
	free(schema_file);
	free(data_file);
}

/* The mode's files of @tenant all have @mode. */
static void sc_expect_file_modes(const struct eh *h, const char *tenant, int mode)
{
	char *schema_file = eh_schema_file(h, tenant), *data_file = eh_data_file(h, tenant);

	if (h->isolation != EMBEDDED_DEDICATED)
		assert_int_equal(eh_mode(schema_file), mode);
	if (h->isolation != EMBEDDED_SHARED)
		assert_int_equal(eh_mode(data_file), mode);
	free(schema_file);
	free(data_file);
}

static char *sc_role_column(const struct eh *h, const char *name, const char *column)
{
	char *path = tnd_xasprintf("%s/roles.db", h->dir);
	char *sql = tnd_xasprintf("SELECT %s FROM tenancy_roles WHERE name = '%s'", column, name);
	sqlite3 *db = NULL;
	char *value = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	value = eh_query1(db, sql);
	sqlite3_close(db);
	free(sql);
	free(path);
	return value;
}

static void sc_expect_role(const struct eh *h, const char *name, const char *login, const char *writable)
{
	char *got_login = sc_role_column(h, name, "login"), *got_writable = sc_role_column(h, name, "writable");

	assert_non_null(got_login);
	assert_string_equal(got_login, login);
	assert_string_equal(got_writable, writable);
	free(got_login);
	free(got_writable);
}

static int sc_call(const struct eh *h, tnd_isolation_step_fn *op, json_t *request, struct tnd_error *err)
{
	int r = eh_call(h, op, request, NULL, err);

	json_decref(request);
	return r;
}

/* --- scenarios ------------------------------------------------------------------------------ */

void scenario_provision_isolates(void **state)
{
	struct eh *h = *state;
	json_t *result;
	sqlite3 *a, *b, *other = NULL;
	char *value, *sql, *b_file, *hash;

	result = eh_ok(h, h->ops->provision, A, "active");
	sc_check_resources(h, result, A, A_NAME);
	json_decref(result);
	json_decref(eh_ok(h, h->ops->provision, B, "active"));

	/* modes: the directory 0700, every tenant file and catalogue 0600 */
	assert_int_equal(eh_mode(h->dir), 0700);
	sc_expect_file_modes(h, A, 0600);
	sc_expect_file_modes(h, B, 0600);
	value = tnd_xasprintf("%s/roles.db", h->dir);
	assert_int_equal(eh_mode(value), 0600);
	free(value);
	sc_expect_role(h, A_NAME, "1", "1");
	hash = sc_role_column(h, A_NAME, "password_hash");
	assert_true(tnd_str_has_prefix(hash, "pbkdf2-sha256$1$"));
	free(hash);

	/* A writes and reads its own namespace */
	a = sc_open_ok(h, A);
	assert_int_equal(sc_write(h, a, A, "a-row"), SQLITE_OK);
	value = sc_read(h, a, A);
	assert_string_equal(value, "a-row");
	free(value);

	/* A's connection cannot reach B's file, by ATTACH or by name */
	b_file = eh_main_file(h, B);
	sql = tnd_xasprintf("ATTACH '%s' AS b", b_file);
	assert_int_not_equal(eh_exec(a, sql), SQLITE_OK);
	free(sql);
	assert_int_not_equal(eh_exec(a, "SELECT * FROM " B_NAME ".items"), SQLITE_OK);
	assert_int_not_equal(eh_exec(a, "DETACH " A_NAME), SQLITE_OK);
	free(b_file);

	/* nobody logs in as A or B with a password that is not theirs */
	assert_int_equal(eh_open(h, B, eh_password(A), &other), -EACCES);
	assert_int_equal(eh_open(h, A, eh_password(B), &other), -EACCES);
	assert_int_equal(eh_open(h, A, "wrong", &other), -EACCES);
	assert_int_equal(eh_open(h, A, NULL, &other), -EACCES);
	assert_int_equal(eh_open(h, "initech", eh_password(A), &other), -ENOENT);
	assert_null(other);

	/* B sees nothing of A's, and its own writes stay its own */
	b = sc_open_ok(h, B);
	assert_null(sc_read(h, b, B));
	assert_int_equal(sc_write(h, b, B, "b-row"), SQLITE_OK);
	value = sc_read(h, b, B);
	assert_string_equal(value, "b-row");
	free(value);
	value = sc_read(h, a, A);
	assert_string_equal(value, "a-row");
	free(value);
	sqlite3_close(a);
	sqlite3_close(b);
}

void scenario_provision_idempotent(void **state)
{
	struct eh *h = *state;
	json_t *first, *second, *request;
	char *hash1, *hash2, *updated1, *updated2, *value;
	struct tnd_error err = { { 0 } };
	sqlite3 *db, *other = NULL;

	first = eh_ok(h, h->ops->provision, A, "active");
	db = sc_open_ok(h, A);
	assert_int_equal(sc_write(h, db, A, "kept"), SQLITE_OK);
	sqlite3_close(db);
	hash1 = sc_role_column(h, A_NAME, "password_hash");
	updated1 = sc_role_column(h, A_NAME, "updated_at");

	second = eh_ok(h, h->ops->provision, A, "active");
	assert_true(json_equal(first, second));
	hash2 = sc_role_column(h, A_NAME, "password_hash");
	updated2 = sc_role_column(h, A_NAME, "updated_at");
	/* same salt, same row: nothing was rewritten */
	assert_string_equal(hash1, hash2);
	assert_string_equal(updated1, updated2);
	assert_true(testutil_log_contains("provision " A_NAME " (") &&
		    testutil_log_contains("nothing to change"));
	db = sc_open_ok(h, A);
	value = sc_read(h, db, A);
	assert_string_equal(value, "kept");
	free(value);
	sqlite3_close(db);

	/* a new password in the request replaces the old one; the data stays */
	request = eh_request(h, A, "active", "another-Passw0rd-for-acme");
	assert_int_equal(sc_call(h, h->ops->provision, request, &err), 0);
	assert_int_equal(eh_open(h, A, eh_password(A), &other), -EACCES);
	assert_int_equal(eh_open(h, A, "another-Passw0rd-for-acme", &db), 0);
	value = sc_read(h, db, A);
	assert_string_equal(value, "kept");
	free(value);
	sqlite3_close(db);

	json_decref(first);
	json_decref(second);
	free(hash1);
	free(hash2);
	free(updated1);
	free(updated2);
}

void scenario_suspend_resume(void **state)
{
	struct eh *h = *state;
	json_t *provisioned, *result;
	sqlite3 *db, *other = NULL;
	char *value;

	provisioned = eh_ok(h, h->ops->provision, A, "active");
	json_decref(eh_ok(h, h->ops->provision, B, "active"));
	db = sc_open_ok(h, A);
	assert_int_equal(sc_write(h, db, A, "before-suspend"), SQLITE_OK);
	sqlite3_close(db);

	result = eh_ok(h, h->ops->suspend, A, "suspended");
	assert_true(json_equal(result, provisioned));
	json_decref(result);
	sc_expect_role(h, A_NAME, "0", "1");
	assert_int_equal(eh_open(h, A, eh_password(A), &other), -EACCES);
	assert_null(other);
	sqlite3_close(sc_open_ok(h, B));
	/* suspending twice is the same as once */
	json_decref(eh_ok(h, h->ops->suspend, A, "suspended"));
	assert_int_equal(eh_open(h, A, eh_password(A), &other), -EACCES);

	result = eh_ok(h, h->ops->resume, A, "active");
	assert_true(json_equal(result, provisioned));
	json_decref(result);
	json_decref(eh_ok(h, h->ops->resume, A, "active"));
	sc_expect_role(h, A_NAME, "1", "1");
	db = sc_open_ok(h, A);
	assert_int_equal(sc_write(h, db, A, "after-resume"), SQLITE_OK);
	value = sc_read(h, db, A);
	assert_string_equal(value, "before-suspend,after-resume");
	free(value);
	sqlite3_close(db);
	json_decref(provisioned);
}

void scenario_archive(void **state)
{
	struct eh *h = *state;
	json_t *observed;
	sqlite3 *db, *other = NULL;
	char *value, *archived_at, *archived_again;

	json_decref(eh_ok(h, h->ops->provision, A, "active"));
	json_decref(eh_ok(h, h->ops->provision, B, "active"));
	db = sc_open_ok(h, A);
	assert_int_equal(sc_write(h, db, A, "archived-data"), SQLITE_OK);
	sqlite3_close(db);

	json_decref(eh_ok(h, h->ops->archive, A, "archived"));
	sc_expect_role(h, A_NAME, "0", "0");
	sc_expect_file_modes(h, A, 0400);
	archived_at = sc_role_column(h, A_NAME, "archived_at");
	assert_non_null(archived_at);

	/* no login for A any more (isolation.h: archive = no login, no writes) */
	assert_int_equal(eh_open(h, A, eh_password(A), &other), -EACCES);
	assert_null(other);
	/* the data is kept, and readable only read-only (operator export) */
	assert_int_equal(embedded_open_archived(h->dir, h->isolation, A, &db), 0);
	value = sc_read(h, db, A);
	assert_string_equal(value, "archived-data");
	free(value);
	assert_int_equal(sc_write(h, db, A, "late-write"), SQLITE_READONLY);
	sqlite3_close(db);
	assert_int_equal(embedded_open_archived(h->dir, h->isolation, B, &other), -EPERM);
	sqlite3_close(sc_open_ok(h, B));
	/* login drifting back on (by hand) still gives no writes: the role is
	 * not writable, so the connection is read-only */
	eh_catalog_exec(h, "roles.db", "UPDATE tenancy_roles SET login = 1 WHERE name = '" A_NAME "'");
	db = sc_open_ok(h, A);
	assert_int_equal(sc_write(h, db, A, "late-write"), SQLITE_READONLY);
	sqlite3_close(db);
	json_decref(eh_ok(h, h->ops->archive, A, "archived"));
	assert_int_equal(eh_open(h, A, eh_password(A), &other), -EACCES);

	/* archiving again changes nothing, not even the time of archival */
	json_decref(eh_ok(h, h->ops->archive, A, "archived"));
	archived_again = sc_role_column(h, A_NAME, "archived_at");
	assert_string_equal(archived_at, archived_again);
	observed = eh_observe(h, A, "archived");
	assert_int_equal(eh_drift_count(observed), 0);
	assert_true(eh_observed_flag(observed, "exists"));
	assert_false(eh_observed_flag(observed, "login"));
	assert_false(eh_observed_flag(observed, "writable"));
	json_decref(observed);

	/* provision returns it to the active shape (an update workflow then archives again) */
	json_decref(eh_ok(h, h->ops->provision, A, "active"));
	sc_expect_file_modes(h, A, 0600);
	assert_null(sc_role_column(h, A_NAME, "archived_at"));
	db = sc_open_ok(h, A);
	assert_int_equal(sc_write(h, db, A, "writable-again"), SQLITE_OK);
	sqlite3_close(db);
	free(archived_at);
	free(archived_again);
}

void scenario_observe_drift(void **state)
{
	struct eh *h = *state;
	char *file = eh_main_file(h, A);
	json_t *obs;
	sqlite3 *db;

	json_decref(eh_ok(h, h->ops->provision, A, "active"));
	json_decref(eh_ok(h, h->ops->provision, B, "active"));

	obs = eh_observe(h, A, "active");
	assert_int_equal(eh_drift_count(obs), 0);
	assert_true(eh_observed_flag(obs, "exists") && eh_observed_flag(obs, "login") &&
		    eh_observed_flag(obs, "writable"));
	sc_check_resources(h, obs, A, A_NAME);
	json_decref(obs);
	/* the same data plane is drift for a tenant that should be suspended */
	obs = eh_observe(h, A, "suspended");
	assert_true(eh_drift_has(obs, "login enabled while suspended"));
	json_decref(obs);

	/* a file deleted by hand: missing, and observe does not recreate it */
	db = sc_open_ok(h, A);
	assert_int_equal(sc_write(h, db, A, "lost"), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(unlink(file), 0);
	obs = eh_observe(h, A, "active");
	assert_false(eh_observed_flag(obs, "exists"));
	assert_true(eh_drift_has(obs, "missing"));
	assert_true(eh_drift_has(obs, file));
	assert_int_equal(json_object_size(json_object_get(obs, "resources")), 0);
	json_decref(obs);
	assert_int_equal(eh_mode(file), -1);
	/* a second provision repairs it, empty: what was deleted by hand is lost */
	json_decref(eh_ok(h, h->ops->provision, A, "active"));
	obs = eh_observe(h, A, "active");
	assert_int_equal(eh_drift_count(obs), 0);
	json_decref(obs);
	db = sc_open_ok(h, A);
	assert_null(sc_read(h, db, A));
	sqlite3_close(db);

	/* login switched on by hand while suspended */
	json_decref(eh_ok(h, h->ops->suspend, A, "suspended"));
	obs = eh_observe(h, A, "suspended");
	assert_int_equal(eh_drift_count(obs), 0);
	assert_false(eh_observed_flag(obs, "login"));
	json_decref(obs);
	eh_catalog_exec(h, "roles.db", "UPDATE tenancy_roles SET login = 1 WHERE name = '" A_NAME "'");
	obs = eh_observe(h, A, "suspended");
	assert_true(eh_drift_has(obs, "login enabled while suspended"));
	assert_true(eh_observed_flag(obs, "login"));
	json_decref(obs);
	json_decref(eh_ok(h, h->ops->suspend, A, "suspended"));
	obs = eh_observe(h, A, "suspended");
	assert_int_equal(eh_drift_count(obs), 0);
	json_decref(obs);
	obs = eh_observe(h, A, "active");
	assert_true(eh_drift_has(obs, "login disabled while active"));
	json_decref(obs);

	/* chmod 0644 by hand: reported, left alone by observe, fixed by provision */
	json_decref(eh_ok(h, h->ops->resume, A, "active"));
	assert_int_equal(chmod(file, 0644), 0);
	obs = eh_observe(h, A, "active");
	assert_true(eh_drift_has(obs, "has mode 0644, want 0600"));
	json_decref(obs);
	assert_int_equal(eh_mode(file), 0644);
	json_decref(eh_ok(h, h->ops->provision, A, "active"));
	assert_int_equal(eh_mode(file), 0600);

	/* archived: writable again by hand, or its files made writable */
	json_decref(eh_ok(h, h->ops->archive, A, "archived"));
	eh_catalog_exec(h, "roles.db", "UPDATE tenancy_roles SET writable = 1 WHERE name = '" A_NAME "'");
	assert_int_equal(chmod(file, 0600), 0);
	obs = eh_observe(h, A, "archived");
	assert_true(eh_drift_has(obs, "writes enabled while archived"));
	assert_true(eh_drift_has(obs, "has mode 0600, want 0400"));
	assert_true(eh_observed_flag(obs, "writable"));
	assert_false(eh_observed_flag(obs, "login"));
	json_decref(obs);

	/* the role row deleted by hand */
	eh_catalog_exec(h, "roles.db", "DELETE FROM tenancy_roles WHERE name = '" A_NAME "'");
	obs = eh_observe(h, A, "archived");
	assert_true(eh_drift_has(obs, "role " A_NAME " missing"));
	assert_false(eh_observed_flag(obs, "exists"));
	json_decref(obs);

	/* B was never touched */
	obs = eh_observe(h, B, "active");
	assert_int_equal(eh_drift_count(obs), 0);
	json_decref(obs);
	free(file);
}

void scenario_destroy(void **state)
{
	struct eh *h = *state;
	char *file = eh_main_file(h, A), *leftover, *value;
	json_t *result;
	sqlite3 *db, *other = NULL;

	json_decref(eh_ok(h, h->ops->provision, A, "active"));
	json_decref(eh_ok(h, h->ops->provision, B, "active"));
	db = sc_open_ok(h, B);
	assert_int_equal(sc_write(h, db, B, "b-survives"), SQLITE_OK);
	sqlite3_close(db);
	json_decref(eh_ok(h, h->ops->archive, A, "archived"));
	/* what a crash inside provision would leave behind */
	leftover = tnd_xasprintf("%s.tmp-0123456789abcdef", file);
	free(testutil_write_file("/", leftover + 1, "half-made", 0600));
	assert_true(eh_tree_count_names(h->dir, A_NAME) > 0);

	result = eh_ok(h, h->ops->destroy, A, "deleted");
	assert_int_equal(json_object_size(json_object_get(result, "resources")), 0);
	json_decref(result);
	assert_int_equal(eh_tree_count_names(h->dir, A_NAME), 0);
	assert_int_equal(eh_catalog_count(h, "roles.db", "tenancy_roles", A), 0);
	assert_int_equal(eh_catalog_count(h, "shared.db", "tenancy_schemas", A), 0);
	assert_int_equal(eh_open(h, A, eh_password(A), &other), -ENOENT);

	/* destroying again, or something never provisioned, succeeds */
	json_decref(eh_ok(h, h->ops->destroy, A, "deleted"));
	json_decref(eh_ok(h, h->ops->destroy, "never-there", "deleted"));
	result = eh_observe(h, A, "deleted");
	assert_int_equal(eh_drift_count(result), 0);
	assert_false(eh_observed_flag(result, "exists"));
	json_decref(result);

	/* B is intact */
	result = eh_observe(h, B, "active");
	assert_int_equal(eh_drift_count(result), 0);
	json_decref(result);
	db = sc_open_ok(h, B);
	value = sc_read(h, db, B);
	assert_string_equal(value, "b-survives");
	free(value);
	sqlite3_close(db);
	assert_int_equal(eh_catalog_count(h, "roles.db", "tenancy_roles", B), 1);

	/* observe against "deleted" reports what is still there */
	result = eh_observe(h, B, "deleted");
	assert_true(eh_drift_has(result, "role " B_NAME " still exists"));
	json_decref(result);
	free(leftover);
	free(file);
}

/* Nothing, not even a directory, was created in the state directory. */
static void sc_expect_empty_state_dir(const struct eh *h)
{
	DIR *d = opendir(h->state_dir);
	struct dirent *entry;

	assert_non_null(d);
	while ((entry = readdir(d)) != NULL)
		if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
			fail_msg("%s/%s was created", h->state_dir, entry->d_name);
	closedir(d);
}

/* ... nor next to it. */
static void sc_expect_untouched(const struct eh *h, const char *escape_name)
{
	char *escaped = tnd_xasprintf("%s/../%s", h->state_dir, escape_name);

	sc_expect_empty_state_dir(h);
	assert_int_equal(eh_mode(escaped), -1);
	free(escaped);
}

void scenario_bad_dir(void **state)
{
	struct eh *h = *state;
	tnd_isolation_step_fn *ops[] = { h->ops->provision, h->ops->observe, h->ops->suspend,
					 h->ops->resume,    h->ops->archive, h->ops->destroy };
	const char *base = strrchr(h->state_dir, '/') + 1;
	char *escape_name = tnd_xasprintf("escape-%s", base);
	char *escapes[] = { tnd_xasprintf("../%s", escape_name), tnd_xasprintf("x/../../%s", escape_name),
			    tnd_xasprintf("%s/..", EH_DIR_SETTING), tnd_xasprintf("%s/../../%s", h->state_dir, escape_name) };

	for (size_t i = 0; i < TND_ARRAY_SIZE(ops); i++) {
		json_t *bad_dirs[] = { json_integer(42), json_string(""), json_null(), json_string(escapes[0]),
				       json_string(escapes[1]), json_string(escapes[2]), json_string(escapes[3]) };
		struct tnd_error err = { { 0 } };
		json_t *request;

		/* no dataPlane at all, and dataPlane without dir */
		request = eh_request(h, A, "active", eh_password(A));
		json_object_del(request, "dataPlane");
		assert_int_equal(sc_call(h, ops[i], request, &err), -EINVAL);
		assert_non_null(strstr(err.message, "dataPlane.dir"));
		request = eh_request(h, A, "active", eh_password(A));
		json_object_set_new(request, "dataPlane", json_object());
		assert_int_equal(sc_call(h, ops[i], request, &err), -EINVAL);
		for (size_t k = 0; k < TND_ARRAY_SIZE(bad_dirs); k++) {
			memset(&err, 0, sizeof(err));
			request = eh_request(h, A, "active", eh_password(A));
			json_object_set_new(json_object_get(request, "dataPlane"), "dir", bad_dirs[k]);
			assert_int_equal(sc_call(h, ops[i], request, &err), -EINVAL);
			assert_true(err.message[0] != '\0');
		}
		sc_expect_untouched(h, escape_name);
	}
	for (size_t k = 0; k < TND_ARRAY_SIZE(escapes); k++)
		free(escapes[k]);
	free(escape_name);
}

void scenario_hostile_ids(void **state)
{
	struct eh *h = *state;
	tnd_isolation_step_fn *ops[] = { h->ops->provision, h->ops->observe, h->ops->suspend,
					 h->ops->resume,    h->ops->archive, h->ops->destroy };
	static const char *const ids[] = {
		"../x", "a;b", "../../etc/passwd", "acme/corp", "acme corp", "Acme-corp", "", "ab", "acme-",
		"-acme", "acme_corp", "acme.corp", "acme-corp'--", "a123456789012345678901234567890123456789z",
	};

	for (size_t i = 0; i < TND_ARRAY_SIZE(ops); i++) {
		struct tnd_error err = { { 0 } };
		json_t *request;

		for (size_t k = 0; k < TND_ARRAY_SIZE(ids); k++) {
			request = eh_request(h, ids[k], "active", "some-Password-1");
			assert_int_equal(sc_call(h, ops[i], request, &err), -EINVAL);
			assert_non_null(strstr(err.message, "tenantId"));
		}
		request = eh_request(h, A, "active", eh_password(A));
		json_object_del(request, "tenantId");
		assert_int_equal(sc_call(h, ops[i], request, &err), -EINVAL);
		request = eh_request(h, A, "active", eh_password(A));
		json_object_set_new(request, "tenantId", json_integer(7));
		assert_int_equal(sc_call(h, ops[i], request, &err), -EINVAL);
		/* refused before anything was created */
		sc_expect_empty_state_dir(h);
	}
	/* the consumer side refuses them too */
	for (size_t k = 0; k < TND_ARRAY_SIZE(ids); k++) {
		sqlite3 *db = NULL;

		assert_int_equal(eh_open(h, ids[k], "x", &db), -EINVAL);
		assert_null(db);
	}
}

void scenario_no_secret_leak(void **state)
{
	struct eh *h = *state;
	static const char rotated[] = "Rotated-Secret-9fK2pQ";
	char *a_password = tnd_xstrdup(eh_password(A)), *b_password = tnd_xstrdup(eh_password(B));
	const char *passwords[] = { a_password, b_password, rotated };
	struct tnd_error err = { { 0 } };
	json_t *request, *obs;
	sqlite3 *db, *other = NULL;

	json_decref(eh_ok(h, h->ops->provision, A, "active"));
	json_decref(eh_ok(h, h->ops->provision, B, "active"));
	json_decref(eh_ok(h, h->ops->provision, A, "active"));
	db = sc_open_ok(h, A);
	assert_int_equal(sc_write(h, db, A, "row"), SQLITE_OK);
	sqlite3_close(db);
	request = eh_request(h, A, "active", rotated);
	assert_int_equal(sc_call(h, h->ops->provision, request, &err), 0);
	/* a refused request with a password in it */
	request = eh_request(h, A, "active", rotated);
	json_object_set_new(json_object_get(request, "credentials"), "username", json_string("t_someone_else"));
	assert_int_equal(sc_call(h, h->ops->provision, request, &err), -EINVAL);
	for (size_t i = 0; i < TND_ARRAY_SIZE(passwords); i++)
		assert_null(strstr(err.message, passwords[i]));
	assert_int_equal(eh_open(h, A, b_password, &other), -EACCES);
	json_decref(eh_ok(h, h->ops->suspend, A, "suspended"));
	json_decref(eh_ok(h, h->ops->resume, A, "active"));
	json_decref(eh_ok(h, h->ops->archive, A, "archived"));
	obs = eh_observe(h, A, "archived");
	json_decref(obs);

	/* the capture works (the ops did log), and no line has a password */
	assert_true(testutil_log_contains("provision " A_NAME));
	assert_true(testutil_log_contains("archive " A_NAME));
	for (size_t i = 0; i < TND_ARRAY_SIZE(passwords); i++)
		assert_false(testutil_log_contains(passwords[i]));
	/* no file holds a password; the grep does see the hashes, so it reads
	 * every file, journals included */
	assert_true(eh_tree_contains_bytes(h->dir, "pbkdf2-sha256$"));
	for (size_t i = 0; i < TND_ARRAY_SIZE(passwords); i++)
		assert_false(eh_tree_contains_bytes(h->dir, passwords[i]));
	free(a_password);
	free(b_password);
}

void scenario_credentials_rules(void **state)
{
	struct eh *h = *state;
	struct tnd_error err = { { 0 } };
	tnd_isolation_step_fn *state_ops[] = { h->ops->suspend, h->ops->resume, h->ops->archive };
	json_t *request;
	sqlite3 *db;

	/* the state steps need a role, and cannot make one */
	for (size_t i = 0; i < TND_ARRAY_SIZE(state_ops); i++) {
		request = eh_request(h, A, "suspended", NULL);
		assert_int_equal(sc_call(h, state_ops[i], request, &err), -ENOENT);
		assert_non_null(strstr(err.message, A_NAME));
	}
	/* a new role needs a password */
	request = eh_request(h, A, "active", NULL);
	assert_int_equal(sc_call(h, h->ops->provision, request, &err), -EINVAL);
	assert_non_null(strstr(err.message, "credentials.password"));
	assert_int_equal(eh_tree_count_names(h->dir, A_NAME), 0);
	request = eh_request(h, A, "active", "");
	assert_int_equal(sc_call(h, h->ops->provision, request, &err), -EINVAL);
	request = eh_request(h, A, "active", eh_password(A));
	json_object_set_new(json_object_get(request, "credentials"), "username", json_string("postgres"));
	assert_int_equal(sc_call(h, h->ops->provision, request, &err), -EINVAL);
	assert_non_null(strstr(err.message, A_NAME));
	/* a request for another isolation mode is not served */
	request = eh_request(h, A, "active", eh_password(A));
	json_object_set_new(request, "isolation", json_string(h->isolation == EMBEDDED_SHARED ? "dedicated" : "shared"));
	assert_int_equal(sc_call(h, h->ops->provision, request, &err), -EINVAL);
	assert_int_equal(eh_tree_count_names(h->dir, A_NAME), 0);

	/* once the role exists, a provision without credentials (a repair) keeps
	 * its password, and realizes the requested state: a suspended tenant
	 * being repaired gets no login window */
	json_decref(eh_ok(h, h->ops->provision, A, "active"));
	json_decref(eh_ok(h, h->ops->suspend, A, "suspended"));
	request = eh_request(h, A, "suspended", NULL);
	assert_int_equal(sc_call(h, h->ops->provision, request, &err), 0);
	sc_expect_role(h, A_NAME, "0", "1");
	request = eh_request(h, A, "active", NULL);
	assert_int_equal(sc_call(h, h->ops->provision, request, &err), 0);
	db = sc_open_ok(h, A);
	sqlite3_close(db);

	/* observe needs a known desired state */
	request = eh_request(h, A, "active", NULL);
	json_object_del(request, "state");
	assert_int_equal(sc_call(h, h->ops->observe, request, &err), -EINVAL);
	request = eh_request(h, A, "frozen", NULL);
	assert_int_equal(sc_call(h, h->ops->observe, request, &err), -EINVAL);
}

void scenario_quota(void **state)
{
	struct eh *h = *state;
	char *sql, *max_pages, *page_size, *stored;
	sqlite3 *db;

	json_decref(eh_ok(h, h->ops->provision, A, "active"));
	stored = sc_role_column(h, A_NAME, "storage_bytes");
	assert_string_equal(stored, "53687091200"); /* storageGb 50 */
	db = sc_open_ok(h, A);
	assert_int_equal(sc_write(h, db, A, "x"), SQLITE_OK);
	sql = tnd_xasprintf("PRAGMA \"%s\".page_size", eh_data_schema(h, A));
	page_size = eh_query1(db, sql);
	free(sql);
	sql = tnd_xasprintf("PRAGMA \"%s\".max_page_count", eh_data_schema(h, A));
	max_pages = eh_query1(db, sql);
	free(sql);
	assert_int_equal(atoll(max_pages), 53687091200LL / atoll(page_size));
	sqlite3_close(db);
	free(stored);
	free(max_pages);
	free(page_size);
}
