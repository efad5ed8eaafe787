/*
 * test_sqlite_lifecycle.c — the sqlite storage plugin's life around the
 * data, through the built sqlite.so: its descriptor and what it exports,
 * settings validation (check_config and init), the versioned schema (fresh,
 * too new, somebody else's file) and persistence across fini/init.
 */
#include "autoconfig.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sqlite_harness.h"
#include "testutil.h"
#include "util.h"

/* The first column of the first row of @sql on the file @path, as text. */
static char *direct_query(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	char *value = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	if (sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_text(stmt, 0) != NULL)
		value = tnd_xstrdup((const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return value;
}

static void direct_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* --- the descriptor ------------------------------------------------------------------ */

static void test_descriptor(void **state)
{
	struct harness *h = *state;
	const struct tnd_plugin *d = h->desc;

	assert_int_equal(d->magic, TND_PLUGIN_MAGIC);
	assert_int_equal(d->abi_major, TND_ABI_MAJOR);
	assert_true(d->abi_minor <= TND_ABI_MINOR);
	assert_int_equal(d->size, sizeof(struct tnd_plugin));
	assert_int_equal(d->kind, TND_PLUGIN_STORAGE);
	assert_string_equal(d->name, "sqlite");
	assert_string_equal(d->version, PACKAGE_VERSION);
	assert_true(d->capabilities & TND_STORAGE_CAP_GROUP_COMMIT);
	assert_false(d->capabilities & TND_STORAGE_CAP_SHARED);
	assert_non_null(d->init);
	assert_non_null(d->fini);
	assert_non_null(d->check_config);
	assert_int_equal(h->ops->size, sizeof(struct tnd_storage_ops));
	assert_non_null(h->ops->commit);
	assert_non_null(h->ops->tenant_get);
	assert_non_null(h->ops->tenant_search);
	assert_non_null(h->ops->version_list);
	assert_non_null(h->ops->version_get);
	assert_non_null(h->ops->phase_list);
	assert_non_null(h->ops->idempotency_get);
	assert_non_null(h->ops->maintain);
	assert_non_null(h->ops->ping);
	/* ABI 1.1 */
	assert_non_null(h->ops->workflow_get);
	assert_non_null(h->ops->workflow_list);
	assert_non_null(h->ops->credential_get);
	/* only the descriptor leaves the object */
	assert_null(dlsym(h->dl, "store_commit"));
	assert_null(dlsym(h->dl, "store_conn_open"));
	assert_null(dlsym(h->dl, "plugin_init"));
}

/* --- settings ------------------------------------------------------------------------------ */

static size_t dir_entries(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(dir);
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

static void expect_refused(struct harness *h, const char *settings, int expected, const char *needle)
{
	struct tnd_error err = { { 0 } };

	assert_int_equal(harness_check(h, settings, &err), expected);
	if (strstr(err.message, needle) == NULL)
		fail_msg("check_config(%s): \"%s\" lacks \"%s\"", settings, err.message, needle);
	memset(&err, 0, sizeof(err));
	assert_int_equal(harness_open(h, settings, &err), expected);
	assert_non_null(strstr(err.message, needle));
}

static void test_settings(void **state)
{
	struct harness *h = *state;
	struct tnd_error err = { { 0 } };
	char *settings, *abs_path;

	assert_int_equal(harness_check(h, "{}", &err), 0);
	assert_int_equal(harness_check(h, "null", &err), 0);
	assert_int_equal(harness_check(h,
				       "{\"path\":\"x.db\",\"synchronous\":\"normal\",\"busy_timeout_ms\":100,"
				       "\"group_commit_max\":4,\"readers\":2}",
				       &err),
			 0);
	assert_int_equal(harness_check(h, "{\"synchronous\":\"extra\"}", &err), 0);

	expect_refused(h, "{\"pathh\":\"x.db\"}", -EINVAL, "\"pathh\"");
	expect_refused(h, "{\"readers\":\"8\"}", -EINVAL, "\"readers\"");
	expect_refused(h, "{\"path\":5}", -EINVAL, "\"path\"");
	expect_refused(h, "{\"path\":\"\"}", -EINVAL, "\"path\"");
	expect_refused(h, "{\"synchronous\":\"sometimes\"}", -EINVAL, "sometimes");
	expect_refused(h, "{\"synchronous\":true}", -EINVAL, "\"synchronous\"");
	expect_refused(h, "{\"busy_timeout_ms\":1.5}", -EINVAL, "\"busy_timeout_ms\"");
	expect_refused(h, "{\"group_commit_max\":0}", -ERANGE, "\"group_commit_max\"");
	expect_refused(h, "{\"readers\":100000}", -ERANGE, "\"readers\"");
	expect_refused(h, "[1,2]", -EINVAL, "settings");
	/* nothing above touched the disk */
	assert_int_equal(dir_entries(h->dir), 0);

	/* a directory that does not exist is reported with the path */
	assert_true(harness_open(h, "{\"path\":\"missing/registry.db\"}", &err) < 0);
	assert_non_null(strstr(err.message, "missing/registry.db"));

	/* absolute paths are taken as they are; relative ones go to the state dir */
	abs_path = tnd_xasprintf("%s/elsewhere.db", h->dir);
	settings = tnd_xasprintf("{\"path\":\"%s\",\"synchronous\":\"normal\"}", abs_path);
	assert_int_equal(harness_open(h, settings, &err), 0);
	harness_insert(h, "somewhere");
	harness_close(h);
	assert_int_equal(access(abs_path, F_OK), 0);
	assert_int_equal(access(h->db_path, F_OK), -1);
	free(settings);
	free(abs_path);
}

/* --- schema and persistence --------------------------------------------------------------- */

static void test_schema_fresh(void **state)
{
	struct harness *h = *state;
	struct stat st;
	char *value;

	harness_insert(h, "s-1");
	value = direct_query(h->db_path, "PRAGMA user_version");
	assert_string_equal(value, "9");
	free(value);
	value = direct_query(h->db_path, "PRAGMA journal_mode");
	assert_string_equal(value, "wal");
	free(value);
	value = direct_query(h->db_path, "PRAGMA integrity_check");
	assert_string_equal(value, "ok");
	free(value);
	value = direct_query(h->db_path, "PRAGMA foreign_key_check");
	assert_null(value);
	assert_true(testutil_log_contains("schema migrated from version 0 to 1"));
	assert_true(testutil_log_contains("schema migrated from version 1 to 2"));
	assert_true(testutil_log_contains("schema migrated from version 2 to 3"));
	assert_true(testutil_log_contains("schema migrated from version 3 to 4"));
	assert_true(testutil_log_contains("schema migrated from version 4 to 5"));
	assert_true(testutil_log_contains("schema migrated from version 5 to 6"));
	assert_true(testutil_log_contains("schema migrated from version 6 to 7"));
	assert_true(testutil_log_contains("schema migrated from version 7 to 8"));
	assert_true(testutil_log_contains("schema migrated from version 8 to 9"));

	/* every tenant's manifest is in there: owner-only */
	assert_int_equal(stat(h->db_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* The WAL-coalescing VFS is registered while a store is open and gone
	 * after the last fini(), so the core may dlclose() the plugin. */
	assert_non_null(sqlite3_vfs_find("tenancyd-walbuf"));
	harness_close(h);
	assert_null(sqlite3_vfs_find("tenancyd-walbuf"));
}

static void test_schema_newer_refused(void **state)
{
	struct harness *h = *state;
	struct tnd_error err = { { 0 } };
	char *other;

	direct_exec(h->db_path, "PRAGMA user_version = 99");
	assert_int_equal(harness_open(h, NULL, &err), -EPROTONOSUPPORT);
	assert_non_null(strstr(err.message, "99"));
	assert_non_null(strstr(err.message, "newer"));
	assert_null(h->ctx);

	/* somebody else's database is not taken over either */
	other = tnd_xasprintf("%s/other.db", h->dir);
	direct_exec(other, "CREATE TABLE accounts (id INTEGER PRIMARY KEY)");
	assert_int_equal(harness_open(h, "{\"path\":\"other.db\"}", &err), -EINVAL);
	assert_non_null(strstr(err.message, "not a tenancyd registry"));
	free(other);
}

static void test_reopen_persists(void **state)
{
	struct harness *h = *state;
	struct tnd_version_record v = {
		.size = sizeof(v), .tenant_id = "keep", .version = 1, .manifest_json = "{\"v\":1}",
		.actor = "alice", .time_ms = 3,
	};
	struct tnd_phase_record p = {
		.size = sizeof(p), .tenant_id = "keep", .to_phase = "Draft", .version = 1, .actor = "alice",
	};
	struct tnd_idempotency_record idem = {
		.size = sizeof(idem), .key = "k", .request_hash = "h", .status = 201, .response_json = "{}",
		.created_ms = 1, .expires_ms = INT64_MAX,
	};
	struct tnd_workflow_record wf = {
		.size = sizeof(wf), .id = "wf-keep", .revision = 1, .tenant_id = "keep", .kind = "activate",
		.target_version = 1, .state = "Pending", .document_json = "{}", .created_ms = 3, .updated_ms = 3,
	};
	struct tnd_credential_record cred = {
		.size = sizeof(cred), .tenant_id = "keep", .key_id = "k1", .ciphertext = "c1", .updated_ms = 3,
	};
	struct tnd_tenant_record rec = harness_tenant("keep", "Draft", "{\"team\":\"core\"}");
	struct tnd_write writes[] = {
		{ .kind = TND_WRITE_TENANT_INSERT, .record = &rec },
		{ .kind = TND_WRITE_VERSION_APPEND, .record = &v },
		{ .kind = TND_WRITE_PHASE_APPEND, .record = &p },
		{ .kind = TND_WRITE_IDEMPOTENCY_INSERT, .record = &idem },
		{ .kind = TND_WRITE_WORKFLOW_INSERT, .record = &wf },
		{ .kind = TND_WRITE_CREDENTIAL_PUT, .record = &cred },
	};
	const char *key = "team", *value = "core";
	struct tnd_tenant_query q = { .size = sizeof(q), .label_keys = &key, .label_values = &value, .n_labels = 1 };
	struct tnd_error err = { { 0 } };
	struct tenant_list found = { 0 };
	struct int_list list = { 0 };
	char *integrity;

	assert_int_equal(h->ops->commit(h->ctx, writes, 6, NULL, &err), 0);
	harness_close(h);
	integrity = direct_query(h->db_path, "PRAGMA integrity_check");
	assert_string_equal(integrity, "ok");
	free(integrity);

	assert_int_equal(harness_open(h, NULL, &err), 0);
	assert_true(harness_exists(h, "keep"));
	assert_int_equal(harness_search(h, &q, &found), 0);
	assert_int_equal(found.n, 1);
	assert_string_equal(found.items[0].labels_json, "{\"team\":\"core\"}");
	tenant_list_free(&found);
	assert_int_equal(h->ops->version_get(h->ctx, "keep", 1, harness_collect_version, &list, &err), 0);
	assert_string_equal(list.texts[0], "keep|{\"v\":1}|alice|(null)|3");
	int_list_free(&list);
	assert_int_equal(h->ops->phase_list(h->ctx, "keep", 0, 0, harness_collect_phase, &list, &err), 0);
	assert_int_equal(list.n, 1);
	int_list_free(&list);
	assert_int_equal(h->ops->idempotency_get(h->ctx, "k", 2, NULL, NULL, &err), 0);
	assert_int_equal(h->ops->workflow_get(h->ctx, "wf-keep", NULL, NULL, &err), 0);
	assert_int_equal(h->ops->credential_get(h->ctx, "keep", NULL, NULL, &err), 0);
	/* the schema was migrated once (nine steps), not again */
	assert_int_equal(testutil_log_count("schema migrated"), 9);
	assert_int_equal(h->ops->ping(h->ctx, &err), 0);
	assert_int_equal(h->ops->maintain(h->ctx, 0, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_descriptor, harness_setup_closed, harness_teardown),
		cmocka_unit_test_setup_teardown(test_settings, harness_setup_closed, harness_teardown),
		cmocka_unit_test_setup_teardown(test_schema_fresh, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_schema_newer_refused, harness_setup_closed, harness_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_persists, harness_setup_open, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
