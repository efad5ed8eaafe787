/*
 * embedded_harness.c — loading and driving a built embedded isolation
 * plugin from the tests, and inspecting its data plane (see
 * embedded_harness.h).
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

#include <cmocka.h>

#include "embedded_harness.h"
#include "host.h"
#include "testutil.h"
#include "util.h"

const char *eh_plugin_name(enum embedded_isolation isolation)
{
	switch (isolation) {
	case EMBEDDED_SHARED:
		return "embedded_shared_schema";
	case EMBEDDED_DEDICATED:
		return "embedded_dedicated_db";
	case EMBEDDED_HYBRID:
		return "embedded_hybrid";
	}
	return NULL;
}

void eh_load(struct eh *h, enum embedded_isolation isolation)
{
	struct tnd_error err = { { 0 } };
	json_t *settings = json_object();
	char *path;

	memset(h, 0, sizeof(*h));
	h->isolation = isolation;
	h->plugin_name = eh_plugin_name(isolation);
	path = tnd_xasprintf("%s/plugins/%s/.libs/%s.so", testutil_builddir(), h->plugin_name, h->plugin_name);
	h->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h->dl == NULL)
		fail_msg("dlopen %s: %s", path, dlerror());
	free(path);
	h->desc = dlsym(h->dl, TND_PLUGIN_SYMBOL);
	assert_non_null(h->desc);
	assert_int_equal(h->desc->kind, TND_PLUGIN_ISOLATION);
	assert_string_equal(h->desc->name, h->plugin_name);
	h->ops = h->desc->ops;
	assert_non_null(h->ops);
	h->state_dir = testutil_mkdtemp(h->plugin_name);
	h->dir = tnd_xasprintf("%s/%s", h->state_dir, EH_DIR_SETTING);
	h->host = host_new(h->plugin_name, h->state_dir);
	if (h->desc->init(h->host, host_json(settings), &h->ctx, &err) != 0)
		fail_msg("init: %s", err.message);
	json_decref(settings);
}

void eh_unload(struct eh *h)
{
	if (h->ctx != NULL)
		h->desc->fini(h->ctx);
	testutil_rmrf(h->state_dir);
	free(h->state_dir);
	free(h->dir);
	host_free(h->host);
	dlclose(h->dl);
	memset(h, 0, sizeof(*h));
}

static int eh_setup(void **state, enum embedded_isolation isolation)
{
	struct eh *h = tnd_xcalloc(1, sizeof(*h));

	testutil_log_capture_start();
	eh_load(h, isolation);
	*state = h;
	return 0;
}

int eh_setup_shared(void **state)
{
	return eh_setup(state, EMBEDDED_SHARED);
}

int eh_setup_dedicated(void **state)
{
	return eh_setup(state, EMBEDDED_DEDICATED);
}

int eh_setup_hybrid(void **state)
{
	return eh_setup(state, EMBEDDED_HYBRID);
}

int eh_teardown(void **state)
{
	struct eh *h = *state;

	eh_unload(h);
	free(h);
	testutil_log_capture_stop();
	return 0;
}

const char *eh_password(const char *tenant)
{
	static __thread char password[96];

	snprintf(password, sizeof(password), "Pw!%s-Zq81vXk3LmR7", tenant);
	return password;
}

json_t *eh_request(const struct eh *h, const char *tenant, const char *state, const char *password)
{
	char name[EMBEDDED_NAME_MAX + 1] = "t_?";
	json_t *request;

	if (embedded_tenant_id_valid(tenant))
		embedded_tenant_name(tenant, name);
	request = json_pack("{s:s, s:i, s:s, s:s, s:s, s:{s:s}, s:{s:i, s:i, s:i, s:i}, s:{}}", "tenantId", tenant,
			    "version", 1, "isolation", embedded_isolation_word(h->isolation), "region", "eu-west-1",
			    "state", state, "dataPlane", "dir", EH_DIR_SETTING, "quotas", "computeUnits", 4, "storageGb",
			    50, "eventsPerMinute", 600, "concurrentOperations", 2, "resources");
	assert_non_null(request);
	if (password != NULL)
		json_object_set_new(request, "credentials",
				    json_pack("{s:s, s:s}", "username", name, "password", password));
	return request;
}

int eh_call(const struct eh *h, tnd_isolation_step_fn *op, json_t *request, json_t **ret_result,
	    struct tnd_error *err)
{
	struct tnd_buf out;
	json_error_t jerr;
	int r;

	tnd_buf_init(&out);
	r = op(h->ctx, host_json(request), &out, err);
	if (ret_result != NULL)
		*ret_result = NULL;
	if (r == 0) {
		json_t *result = json_loads(out.data ? out.data : "", 0, &jerr);

		if (result == NULL)
			fail_msg("op result is not JSON (%s): %s", jerr.text, out.data ? out.data : "(empty)");
		if (!json_is_object(json_object_get(result, "resources")))
			fail_msg("op result has no resources object: %s", out.data);
		if (ret_result != NULL)
			*ret_result = result;
		else
			json_decref(result);
	}
	tnd_buf_free(&out);
	return r;
}

json_t *eh_ok(const struct eh *h, tnd_isolation_step_fn *op, const char *tenant, const char *state)
{
	struct tnd_error err = { { 0 } };
	json_t *request = eh_request(h, tenant, state, op == h->ops->provision ? eh_password(tenant) : NULL);
	json_t *result = NULL;
	int r = eh_call(h, op, request, &result, &err);

	json_decref(request);
	if (r != 0)
		fail_msg("op on %s failed: %d %s", tenant, r, err.message);
	return result;
}

json_t *eh_observe(const struct eh *h, const char *tenant, const char *state)
{
	json_t *result = eh_ok(h, h->ops->observe, tenant, state);
	json_t *observed = json_object_get(result, "observed");

	if (!json_is_object(observed) || !json_is_array(json_object_get(observed, "drift")) ||
	    !json_is_boolean(json_object_get(observed, "exists")) || !json_is_boolean(json_object_get(observed, "login")) ||
	    !json_is_boolean(json_object_get(observed, "writable"))) {
		char *text = json_dumps(result, 0);

		fail_msg("observe result lacks observed{exists, login, writable, drift}: %s", text);
	}
	return result;
}

bool eh_drift_has(const json_t *result, const char *needle)
{
	const json_t *drift = json_object_get(json_object_get(result, "observed"), "drift");
	size_t i;
	json_t *entry;

	json_array_foreach (drift, i, entry)
		if (strstr(json_string_value(entry), needle) != NULL)
			return true;
	return false;
}

size_t eh_drift_count(const json_t *result)
{
	return json_array_size(json_object_get(json_object_get(result, "observed"), "drift"));
}

bool eh_observed_flag(const json_t *result, const char *flag)
{
	return json_is_true(json_object_get(json_object_get(result, "observed"), flag));
}

int eh_open(const struct eh *h, const char *tenant, const char *password, sqlite3 **ret_db)
{
	return embedded_open_as(h->dir, h->isolation, tenant, password, ret_db);
}

const char *eh_data_schema(const struct eh *h, const char *tenant)
{
	static __thread char name[EMBEDDED_NAME_MAX + 1];

	if (h->isolation != EMBEDDED_SHARED)
		return "main";
	assert_int_equal(embedded_tenant_name(tenant, name), 0);
	return name;
}

char *eh_schema_file(const struct eh *h, const char *tenant)
{
	char name[EMBEDDED_NAME_MAX + 1];

	assert_int_equal(embedded_tenant_name(tenant, name), 0);
	return tnd_xasprintf("%s/shared/%s.db", h->dir, name);
}

char *eh_data_file(const struct eh *h, const char *tenant)
{
	char name[EMBEDDED_NAME_MAX + 1];

	assert_int_equal(embedded_tenant_name(tenant, name), 0);
	return tnd_xasprintf("%s/dedicated/%s.db", h->dir, name);
}

char *eh_main_file(const struct eh *h, const char *tenant)
{
	return h->isolation == EMBEDDED_SHARED ? eh_schema_file(h, tenant) : eh_data_file(h, tenant);
}

int eh_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) & 0xff;
}

char *eh_query1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	char *value = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW &&
	    sqlite3_column_text(stmt, 0) != NULL)
		value = tnd_xstrdup((const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	return value;
}

void eh_catalog_exec(const struct eh *h, const char *db_name, const char *sql)
{
	char *path = tnd_xasprintf("%s/%s", h->dir, db_name);
	sqlite3 *db = NULL;
	char *message = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK)
		fail_msg("%s on %s: %s", sql, path, message);
	sqlite3_close(db);
	free(path);
}

int eh_catalog_count(const struct eh *h, const char *db_name, const char *table, const char *tenant)
{
	char name[EMBEDDED_NAME_MAX + 1];
	char *path = tnd_xasprintf("%s/%s", h->dir, db_name);
	char *sql, *value;
	sqlite3 *db = NULL;
	int n = 0;

	assert_int_equal(embedded_tenant_name(tenant, name), 0);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
		sql = tnd_xasprintf("SELECT count(*) FROM %s WHERE name = '%s'", table, name);
		value = eh_query1(db, sql);
		n = value != NULL ? atoi(value) : 0;
		free(value);
		free(sql);
	}
	sqlite3_close(db);
	free(path);
	return n;
}

typedef bool eh_visit_fn(const char *path, const char *name, const void *userdata);

static size_t eh_walk(const char *dir, eh_visit_fn *visit, const void *userdata)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((entry = readdir(d)) != NULL) {
		struct stat st;
		char *path;

		if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
			continue;
		path = tnd_xasprintf("%s/%s", dir, entry->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			n += eh_walk(path, visit, userdata);
		else if (visit(path, entry->d_name, userdata))
			n++;
		free(path);
	}
	closedir(d);
	return n;
}

static bool eh_name_matches(const char *path, const char *name, const void *needle)
{
	return strstr(name, needle) != NULL;
}

size_t eh_tree_count_names(const char *dir, const char *needle)
{
	return eh_walk(dir, eh_name_matches, needle);
}

static bool eh_bytes_match(const char *path, const char *name, const void *needle)
{
	size_t needle_len = strlen(needle), len = 0;
	char *data = NULL;
	bool found = false;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return false;
	if (fseek(f, 0, SEEK_END) == 0) {
		long size = ftell(f);

		rewind(f);
		if (size > 0) {
			data = tnd_xmalloc((size_t)size);
			len = fread(data, 1, (size_t)size, f);
		}
	}
	fclose(f);
	for (size_t i = 0; !found && len >= needle_len && i <= len - needle_len; i++)
		found = memcmp(data + i, needle, needle_len) == 0;
	free(data);
	return found;
}

bool eh_tree_contains_bytes(const char *dir, const char *needle)
{
	return eh_walk(dir, eh_bytes_match, needle) > 0;
}

int eh_mode(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}
