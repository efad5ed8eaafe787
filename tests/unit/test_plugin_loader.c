/*
 * test_plugin_loader.c — the plugin loader against its fixture plugins
 * (tests/fixtures/plugins/): every refusal reason, each good kind, the
 * accepted descriptor shapes, file lookup, check-only mode, plugin_load_all
 * and the listing.
 *
 * The fixtures are copied into a private 0700 directory first, so the
 * ownership checks see files whose modes the test controls rather than
 * whatever umask the build ran with.
 */
#include "autoconfig.h"

#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <tenancyd/isolation.h>
#include <tenancyd/notifier.h>
#include <tenancyd/policy.h>
#include <tenancyd/storage.h>

#include "conf.h"
#include "host.h"
#include "plugin_loader.h"
#include "testutil.h"
#include "util.h"

static const char *const fixture_names[] = {
	"good_storage", "good_isolation", "good_policy", "good_notifier", "future_fields",
	"older_layout", "no_descriptor", "bad_magic", "wrong_major", "newer_minor", "older_minor",
	"truncated_descriptor", "truncated_ops", "wrong_kind", "no_name", "mismatched_name",
	"missing_init", "no_ops", "missing_op", "failing_init", "failing_check",
};

/* the private copy of every fixture, and a scratch directory per test */
static char *fixtures_dir;
static char *scratch_dir;

/* --- helpers ---------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to, mode_t mode)
{
	struct tnd_error err = { .message = "" };
	char *data = NULL;
	size_t len = 0;

	if (tnd_read_file(from, 256u << 20, &data, &len, &err) < 0 ||
	    tnd_write_file_atomic(to, data, len, mode, &err) < 0)
		fail_msg("copying %s: %s", from, err.message);
	free(data);
}

/* @dir/@name.so (caller frees) */
static char *so_path(const char *dir, const char *name)
{
	return tnd_xasprintf("%s/%s.so", dir, name);
}

static char *fixture_path(const char *name)
{
	return so_path(fixtures_dir, name);
}

/* Copy fixture @name into a new directory under the scratch dir. */
static char *fixture_copy(const char *subdir, const char *name, mode_t mode)
{
	char *dir = tnd_xasprintf("%s/%s", scratch_dir, subdir);
	char *from = fixture_path(name), *to = so_path(dir, name);

	assert_int_equal(tnd_mkdir_p(dir, 0755), 0);
	copy_file(from, to, mode);
	free(from);
	free(dir);
	return to;
}

static char *read_text(const char *path)
{
	struct tnd_error err;
	char *data = NULL;
	size_t len;

	return tnd_read_file(path, 1 << 16, &data, &len, &err) < 0 ? NULL : data;
}

static bool is_mapped(const char *path)
{
	void *dl = dlopen(path, RTLD_NOW | RTLD_NOLOAD);

	if (dl == NULL)
		return false;
	dlclose(dl);
	return true;
}

static json_t *journal_settings(const char *journal)
{
	return json_pack("{s:s}", "journal", journal);
}

/*
 * A refusal: the code, the reason and the file in @err, exactly one error
 * line (naming the file), and nothing left in the set or in memory.
 */
static void assert_refused(int r, int expected, const struct tnd_error *err, const char *reason, const char *path,
			   const struct plugin_set *set, size_t n_before)
{
	char *line = tnd_xasprintf("plugin refused: %s: ", path);

	assert_int_equal(r, expected);
	if (strstr(err->message, reason) == NULL)
		fail_msg("reason \"%s\" not in \"%s\"", reason, err->message);
	assert_true(tnd_str_has_prefix(err->message, line));
	assert_int_equal(testutil_log_count("\"level\":\"error\""), 1);
	assert_int_equal(testutil_log_count(line), 1);
	assert_int_equal(set->n, n_before);
	assert_false(is_mapped(path));
	free(line);
}

/* Load fixture @name from the private copy into a section of @kind and expect a refusal. */
static void expect_fixture_refused(enum tnd_plugin_kind kind, const char *name, int expected, const char *reason)
{
	struct plugin_load_options opts = { .dir = fixtures_dir };
	struct plugin_set set = { 0 };
	struct tnd_loaded_plugin *plugin = NULL;
	struct tnd_error err = { .message = "" };
	char *path = fixture_path(name);
	int r;

	r = plugin_load(&opts, &set, kind, name, NULL, NULL, &plugin, &err);
	assert_refused(r, expected, &err, reason, path, &set, 0);
	assert_null(plugin);
	plugin_set_clear(&set);
	free(path);
}

/* --- fixtures (cmocka's) ------------------------------------------------------------ */

static int group_setup(void **state)
{
	fixtures_dir = testutil_mkdtemp("plugins");
	for (size_t i = 0; i < TND_ARRAY_SIZE(fixture_names); i++) {
		char *from = tnd_xasprintf("%s/tests/fixtures/plugins/.libs/%s.so", testutil_builddir(),
					   fixture_names[i]);
		char *to = fixture_path(fixture_names[i]);
		copy_file(from, to, 0755);
		free(from);
		free(to);
	}
	return 0;
}

static int group_teardown(void **state)
{
	testutil_rmrf(fixtures_dir);
	free(fixtures_dir);
	return 0;
}

static int test_setup(void **state)
{
	scratch_dir = testutil_mkdtemp("loader");
	testutil_log_capture_start();
	return 0;
}

static int test_teardown(void **state)
{
	testutil_log_capture_stop();
	testutil_rmrf(scratch_dir);
	free(scratch_dir);
	return 0;
}

/* --- the good plugins, one per kind --------------------------------------------------- */

struct kind_case {
	enum tnd_plugin_kind kind;
	const char *name;
	/* calls one op through the loaded table and checks its answer */
	void (*exercise)(const struct tnd_loaded_plugin *plugin);
};

static void exercise_storage(const struct tnd_loaded_plugin *plugin)
{
	const struct tnd_storage_ops *ops = plugin->ops;
	struct tnd_tenant_record rec = { .size = sizeof(rec), .id = "acme-corp" };
	struct tnd_write write = { .kind = TND_WRITE_TENANT_INSERT, .record = &rec };
	struct tnd_error err = { .message = "" };
	size_t failed = 99;

	assert_int_equal(ops->tenant_get(plugin->ctx, "acme-corp", NULL, NULL, &err), -ENOENT);
	assert_int_equal(ops->commit(plugin->ctx, &write, 1, &failed, &err), -EROFS);
	assert_int_equal(failed, 0);
	assert_non_null(strstr(err.message, "read-only"));
	/* an optional op, used the way core code must: size and NULL checked */
	assert_true(TND_HAS_FIELD(ops, struct tnd_storage_ops, ping) && ops->ping != NULL);
	assert_int_equal(ops->ping(plugin->ctx, &err), 0);
}

static void exercise_isolation(const struct tnd_loaded_plugin *plugin)
{
	const struct tnd_isolation_ops *ops = plugin->ops;
	struct tnd_error err = { .message = "" };
	struct tnd_buf out;
	json_t *request = json_pack("{s:s}", "tenantId", "acme-corp");

	tnd_buf_init(&out);
	assert_int_equal(ops->provision(plugin->ctx, host_json(request), &out, &err), 0);
	assert_string_equal(out.data, "{\"resources\":{}}");
	tnd_buf_free(&out);
	json_decref(request);
}

static void exercise_policy(const struct tnd_loaded_plugin *plugin)
{
	const struct tnd_policy_ops *ops = plugin->ops;
	struct tnd_error err = { .message = "" };
	struct tnd_buf out;
	json_t *request = json_pack("{s:s}", "action", "tenant.apply");

	tnd_buf_init(&out);
	assert_int_equal(ops->evaluate(plugin->ctx, host_json(request), &out, &err), 0);
	assert_non_null(strstr(out.data, "\"decision\":\"allow\""));
	tnd_buf_free(&out);
	json_decref(request);
}

static void exercise_notifier(const struct tnd_loaded_plugin *plugin)
{
	const struct tnd_notifier_ops *ops = plugin->ops;
	struct tnd_error err = { .message = "" };
	struct tnd_buf out;
	json_t *delivery = json_pack("{s:i}", "attempt", 1);

	tnd_buf_init(&out);
	assert_int_equal(ops->deliver(plugin->ctx, host_json(delivery), &out, &err), 0);
	assert_non_null(strstr(out.data, "\"status\":204"));
	tnd_buf_free(&out);
	json_decref(delivery);
}

static struct kind_case case_storage = { TND_PLUGIN_STORAGE, "good_storage", exercise_storage };
static struct kind_case case_isolation = { TND_PLUGIN_ISOLATION, "good_isolation", exercise_isolation };
static struct kind_case case_policy = { TND_PLUGIN_POLICY, "good_policy", exercise_policy };
static struct kind_case case_notifier = { TND_PLUGIN_NOTIFIER, "good_notifier", exercise_notifier };

static void test_good_plugin(void **state)
{
	const struct kind_case *c = *state;
	struct plugin_load_options opts = { .dir = fixtures_dir, .state_dir = "/var/lib/tenancyd" };
	struct plugin_set set = { 0 };
	struct tnd_loaded_plugin *plugin = NULL;
	struct tnd_error err = { .message = "" };
	char *journal = tnd_xasprintf("%s/journal", scratch_dir);
	char *path = fixture_path(c->name), *text, *expected, *ready;
	json_t *settings = journal_settings(journal);

	assert_int_equal(plugin_load(&opts, &set, c->kind, c->name, NULL, settings, &plugin, &err), 0);
	assert_int_equal(set.n, 1);
	assert_ptr_equal(set.items[0], plugin);
	assert_string_equal(plugin->name, c->name);
	assert_int_equal(plugin->kind, c->kind);
	assert_string_equal(plugin->path, path);
	assert_ptr_equal(plugin->ops, plugin->desc->ops);
	assert_non_null(plugin->ctx);
	assert_string_equal(plugin->host->plugin_name, c->name);
	assert_string_equal(plugin->host->state_dir, "/var/lib/tenancyd");
	assert_ptr_equal(plugin_set_find(&set, c->name), plugin);
	assert_ptr_equal(plugin_set_find_kind(&set, c->kind), plugin);
	assert_true(is_mapped(path));

	/* init() ran with the settings: it found the journal path in them */
	text = read_text(journal);
	expected = tnd_xasprintf("init %s\n", c->name);
	assert_non_null(text);
	assert_string_equal(text, expected);
	free(text);
	free(expected);
	/* its host->log line carries the plugin's name as component */
	ready = tnd_xasprintf("\"component\":\"plugin:%s\",\"msg\":\"%s ready\"", c->name, c->name);
	assert_int_equal(testutil_log_count(ready), 1);
	free(ready);
	assert_int_equal(testutil_log_count("\"level\":\"error\""), 0);

	c->exercise(plugin);

	plugin_set_clear(&set);
	assert_int_equal(set.n, 0);
	assert_null(set.items);
	text = read_text(journal);
	expected = tnd_xasprintf("init %s\nfini %s\n", c->name, c->name);
	assert_string_equal(text, expected);
	assert_false(is_mapped(path));
	free(text);
	free(expected);
	json_decref(settings);
	free(journal);
	free(path);
}

/* --- accepted descriptor shapes ------------------------------------------------------- */

static void test_future_fields_accepted(void **state)
{
	struct plugin_load_options opts = { .dir = fixtures_dir };
	struct plugin_set set = { 0 };
	struct tnd_loaded_plugin *plugin = NULL;
	struct tnd_error err = { .message = "" };

	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "future_fields", NULL, NULL, &plugin, &err), 0);
	assert_true(plugin->desc->size > sizeof(struct tnd_plugin));
	assert_int_equal(plugin->desc->abi_minor, TND_ABI_MINOR);
	/* the v1 fields it does have are all used, the optional description too */
	assert_int_equal(testutil_log_count("descriptor with fields the core does not know"), 1);
	assert_non_null(plugin->ctx);
	plugin_set_clear(&set);
}

/* A driver built for ABI 1.0 loads into a 1.1 core, which sees the newer ops absent. */
static void test_older_minor_accepted(void **state)
{
	struct plugin_load_options opts = { .dir = fixtures_dir };
	struct plugin_set set = { 0 };
	struct tnd_loaded_plugin *plugin = NULL;
	struct tnd_error err = { .message = "" };
	const struct tnd_storage_ops *ops;

	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_STORAGE, "older_minor", NULL, NULL, &plugin, &err), 0);
	assert_int_equal(plugin->desc->abi_minor, 0);
	ops = plugin->ops;
	assert_true(TND_HAS_FIELD(ops, struct tnd_storage_ops, ping));
	assert_false(TND_HAS_FIELD(ops, struct tnd_storage_ops, workflow_get));
	assert_false(TND_HAS_FIELD(ops, struct tnd_storage_ops, credential_get));
	plugin_set_clear(&set);
}

static void test_older_layout_honours_size(void **state)
{
	struct plugin_load_options opts = { .dir = fixtures_dir, .check_only = true };
	struct plugin_set set = { 0 };
	struct tnd_loaded_plugin *plugin = NULL;
	struct tnd_error err = { .message = "" };

	/* check_config lies beyond the size and would fail if it were called */
	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_NOTIFIER, "older_layout", NULL, NULL, &plugin, &err), 0);
	assert_false(TND_HAS_FIELD(plugin->desc, struct tnd_plugin, check_config));
	assert_null(plugin->ctx);
	assert_int_equal(testutil_log_count("BEYOND-SIZE"), 0);
	plugin_set_clear(&set);

	opts.check_only = false;
	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_NOTIFIER, "older_layout", NULL, NULL, &plugin, &err), 0);
	assert_non_null(plugin->ctx);
	assert_int_equal(testutil_log_count("BEYOND-SIZE"), 0);
	plugin_set_clear(&set);
}

/* --- refusal 1: unsafe path, ownership, permissions ----------------------------------- */

static void test_refuse_world_writable_file(void **state)
{
	struct plugin_load_options opts = { 0 };
	struct plugin_set set = { 0 };
	struct tnd_error err = { .message = "" };
	char *path = fixture_copy("lax", "good_policy", 0644);

	chmod(path, 0666);
	assert_refused(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "good_policy", path, NULL, NULL, &err), -EPERM,
		       &err, "writable by group or others (mode 0666)", path, &set, 0);
	free(path);
}

static void test_refuse_writable_directory(void **state)
{
	struct plugin_load_options opts = { 0 };
	struct plugin_set set = { 0 };
	struct tnd_error err = { .message = "" };
	char *path = fixture_copy("open", "good_policy", 0755);
	char *dir = tnd_xasprintf("%s/open", scratch_dir);

	chmod(dir, 0777);
	assert_refused(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "good_policy", path, NULL, NULL, &err), -EPERM,
		       &err, "directory is writable by group or others", path, &set, 0);
	chmod(dir, 0755);
	free(dir);
	free(path);
}

static void test_refuse_foreign_owner(void **state)
{
	struct plugin_load_options opts = { 0 };
	struct plugin_set set = { 0 };
	struct tnd_error err = { .message = "" };
	char *path;

	if (geteuid() != 0)
		skip(); /* only root can give a file away */
	path = fixture_copy("foreign", "good_policy", 0755);
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_refused(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "good_policy", path, NULL, NULL, &err), -EPERM,
		       &err, "owned by uid 65534", path, &set, 0);
	free(path);
}

static void test_refuse_not_regular_file(void **state)
{
	struct plugin_load_options opts = { .dir = scratch_dir };
	struct plugin_set set = { 0 };
	struct tnd_error err = { .message = "" };
	char *path = so_path(scratch_dir, "good_policy");

	assert_int_equal(mkdir(path, 0755), 0);
	assert_refused(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "good_policy", NULL, NULL, NULL, &err), -EPERM,
		       &err, "not a regular file", path, &set, 0);
	free(path);
}

static void test_refuse_missing_file(void **state)
{
	struct plugin_load_options opts = { .dir = scratch_dir };
	struct plugin_set set = { 0 };
	struct tnd_error err = { .message = "" };
	char *path = so_path(scratch_dir, "good_policy");

	assert_refused(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "good_policy", NULL, NULL, NULL, &err), -ENOENT,
		       &err, "No such file", path, &set, 0);
	/* even when permissions are not checked, a missing file is named as such */
	testutil_log_capture_start();
	opts.allow_unsafe_permissions = true;
	assert_refused(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "good_policy", NULL, NULL, NULL, &err), -ENOENT,
		       &err, "No such file", path, &set, 0);
	free(path);
}

static void test_allow_unsafe_permissions(void **state)
{
	struct plugin_load_options opts = { .allow_unsafe_permissions = true };
	struct plugin_set set = { 0 };
	struct tnd_error err = { .message = "" };
	char *path = fixture_copy("lax", "good_policy", 0644);

	chmod(path, 0666);
	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "good_policy", path, NULL, NULL, &err), 0);
	assert_int_equal(set.n, 1);
	plugin_set_clear(&set);
	free(path);
}

/* --- refusals 2 to 10 --------------------------------------------------------------------- */

static void test_refuse_not_elf(void **state)
{
	struct plugin_load_options opts = { .dir = scratch_dir };
	struct plugin_set set = { 0 };
	struct tnd_error err = { .message = "" };
	char *path = testutil_write_file(scratch_dir, "not_elf.so", "this is not a shared object\n", 0644);

	assert_refused(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "not_elf", NULL, NULL, NULL, &err), -ENOEXEC,
		       &err, "dlopen failed: ", path, &set, 0);
	/* dlerror()'s own words are passed on */
	assert_non_null(strstr(err.message, "not_elf.so"));
	free(path);
}

/* Fixtures refused for their defect alone; each case runs as its own test. */
struct refusal_case {
	enum tnd_plugin_kind kind; /* the section it is loaded into */
	const char *name;
	int expected;
	const char *reason;
};

static struct refusal_case refuse_no_descriptor = { TND_PLUGIN_POLICY, "no_descriptor", -ENOEXEC,
	"missing descriptor: no symbol tnd_plugin_v1" };
static struct refusal_case refuse_bad_magic = { TND_PLUGIN_POLICY, "bad_magic", -ENOEXEC,
	"bad magic 0x12345678 (expected 0x504e4454)" };
#define STR2(x) #x
#define STR(x) STR2(x)
#define CORE_ABI STR(TND_ABI_MAJOR) "." STR(TND_ABI_MINOR)
static struct refusal_case refuse_wrong_major = { TND_PLUGIN_POLICY, "wrong_major", -EPROTONOSUPPORT,
	"has another major version than the core's " CORE_ABI };
static struct refusal_case refuse_newer_minor = { TND_PLUGIN_POLICY, "newer_minor", -EPROTONOSUPPORT,
	"is newer than the core's " CORE_ABI };
static struct refusal_case refuse_wrong_kind = { TND_PLUGIN_STORAGE, "wrong_kind", -EINVAL,
	"kind isolation (1) does not match the storage section" };
static struct refusal_case refuse_no_name = { TND_PLUGIN_POLICY, "no_name", -EPROTO, "missing name" };
static struct refusal_case refuse_mismatched_name = { TND_PLUGIN_POLICY, "mismatched_name", -EINVAL,
	"name \"renamed_policy\" does not match the configured name \"mismatched_name\"" };
static struct refusal_case refuse_missing_init = { TND_PLUGIN_POLICY, "missing_init", -EPROTO,
	"missing mandatory op init" };
static struct refusal_case refuse_no_ops = { TND_PLUGIN_POLICY, "no_ops", -EPROTO,
	"missing mandatory policy ops table" };
static struct refusal_case refuse_missing_op = { TND_PLUGIN_STORAGE, "missing_op", -EPROTO,
	"missing mandatory op storage.commit" };
static struct refusal_case refuse_failing_init = { TND_PLUGIN_POLICY, "failing_init", -EINVAL,
	"init failed: failing_init refuses to start, as designed (Invalid argument)" };

static void test_refusal(void **state)
{
	const struct refusal_case *c = *state;

	expect_fixture_refused(c->kind, c->name, c->expected, c->reason);
}

static void test_refuse_truncated_descriptor(void **state)
{
	char *reason = tnd_xasprintf("truncated descriptor: %zu bytes, ABI " CORE_ABI " needs at least %zu",
				     offsetof(struct tnd_plugin, ops), offsetof(struct tnd_plugin, check_config));

	expect_fixture_refused(TND_PLUGIN_POLICY, "truncated_descriptor", -EPROTO, reason);
	free(reason);
}

static void test_refuse_truncated_ops(void **state)
{
	char *reason = tnd_xasprintf("truncated storage ops table: %zu bytes, ABI " CORE_ABI " needs at least %zu",
				     offsetof(struct tnd_storage_ops, idempotency_get),
				     offsetof(struct tnd_storage_ops, maintain));

	expect_fixture_refused(TND_PLUGIN_STORAGE, "truncated_ops", -EPROTO, reason);
	free(reason);
}

static void test_refuse_duplicate(void **state)
{
	struct plugin_load_options opts = { .dir = fixtures_dir };
	struct plugin_set set = { 0 };
	struct tnd_loaded_plugin *first = NULL, *second = NULL;
	struct tnd_error err = { .message = "" };
	char *path = fixture_path("good_storage"), *reason;
	int r;

	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_STORAGE, "good_storage", NULL, NULL, &first, &err), 0);
	testutil_log_capture_start();
	r = plugin_load(&opts, &set, TND_PLUGIN_STORAGE, "good_storage", NULL, NULL, &second, &err);
	assert_int_equal(r, -EEXIST);
	reason = tnd_xasprintf("plugin refused: %s: duplicate name \"good_storage\": already loaded from %s", path, path);
	assert_string_equal(err.message, reason);
	assert_int_equal(testutil_log_count("\"level\":\"error\""), 1);
	assert_null(second);
	assert_int_equal(set.n, 1);
	/* the refusal's dlclose() must not have unmapped the first load */
	assert_true(is_mapped(path));
	exercise_storage(first);
	plugin_set_clear(&set);
	assert_false(is_mapped(path));
	free(reason);
	free(path);
}

static void test_refuse_invalid_requested_name(void **state)
{
	static const char *const bad[] = { "../good_policy", "Good_policy", "good-policy", "_x", "",
		"a_name_that_is_far_too_long_to_be_a_plugin_name_because_it_has_65" };
	struct plugin_load_options opts = { .dir = fixtures_dir };
	struct plugin_set set = { 0 };

	for (size_t i = 0; i < TND_ARRAY_SIZE(bad); i++) {
		struct tnd_error err = { .message = "" };

		testutil_log_capture_start();
		assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_POLICY, bad[i], NULL, NULL, NULL, &err), -EINVAL);
		assert_non_null(strstr(err.message, "invalid plugin name"));
		assert_int_equal(testutil_log_count("\"level\":\"error\""), 1);
		assert_int_equal(set.n, 0);
	}
	/* 64 characters is the longest name allowed: found, then refused for the file */
	{
		struct tnd_error err = { .message = "" };
		const char *longest = "a_name_that_is_just_long_enough_to_be_a_plugin_name_64_chars_xyz";

		assert_int_equal(strlen(longest), 64);
		assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_POLICY, longest, NULL, NULL, NULL, &err), -ENOENT);
	}
}

/* --- check-only mode ---------------------------------------------------------------------- */

static void test_check_only_calls_check_config_not_init(void **state)
{
	struct plugin_load_options opts = { .dir = fixtures_dir, .check_only = true };
	struct plugin_set set = { 0 };
	struct tnd_loaded_plugin *plugin = NULL;
	struct tnd_error err = { .message = "" };
	char *journal = tnd_xasprintf("%s/journal", scratch_dir);
	char *path = fixture_path("good_policy");
	json_t *settings = journal_settings(journal);
	json_t *bad_settings = json_pack("{s:i}", "journal", 5);
	struct stat st;

	/* good settings: checked, not started, and not stopped either */
	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "good_policy", NULL, settings, &plugin, &err), 0);
	assert_null(plugin->ctx);
	assert_int_equal(testutil_log_count("good_policy ready"), 0);
	plugin_set_clear(&set);
	assert_int_equal(stat(journal, &st), -1);

	/* check_config sees the settings: a wrong type is refused */
	assert_refused(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "good_policy", NULL, bad_settings, NULL, &err),
		       -EINVAL, &err, "check_config failed: setting journal must be a string (Invalid argument)",
		       path, &set, 0);
	free(path);

	/* the plugin whose check_config fails everything */
	testutil_log_capture_start();
	path = fixture_path("failing_check");
	assert_refused(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "failing_check", NULL, NULL, NULL, &err), -EINVAL,
		       &err, "check_config failed: failing_check rejects every configuration", path, &set, 0);

	/* ...starts normally when not in check-only mode: init, not check_config */
	opts.check_only = false;
	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "failing_check", NULL, settings, &plugin, &err), 0);
	assert_non_null(plugin->ctx);
	plugin_set_clear(&set);
	{
		char *text = read_text(journal);
		assert_string_equal(text, "init failing_check\nfini failing_check\n");
		free(text);
	}
	json_decref(settings);
	json_decref(bad_settings);
	free(journal);
	free(path);
}

/* --- file lookup ---------------------------------------------------------------------------- */

static void test_lookup_build_dir_then_dir(void **state)
{
	char *build = tnd_xasprintf("%s/build", scratch_dir);
	char *built = fixture_copy("build/plugins/good_policy/.libs", "good_policy", 0755);
	struct plugin_load_options opts = { .dir = fixtures_dir, .build_dir = build };
	struct plugin_set set = { 0 };
	struct tnd_loaded_plugin *plugin = NULL;
	struct tnd_error err = { .message = "" };
	char *installed = fixture_path("good_notifier");

	/* the build tree wins over the installed directory... */
	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "good_policy", NULL, NULL, &plugin, &err), 0);
	assert_string_equal(plugin->path, built);
	/* ...and the installed directory serves what the build tree lacks */
	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_NOTIFIER, "good_notifier", NULL, NULL, &plugin, &err), 0);
	assert_string_equal(plugin->path, installed);
	plugin_set_clear(&set);

	/* an explicit file beats both, and a relative one is made absolute */
	opts.build_dir = NULL;
	assert_int_equal(chdir(fixtures_dir), 0);
	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_NOTIFIER, "good_notifier", "./good_notifier.so", NULL,
				     &plugin, &err), 0);
	assert_string_equal(plugin->path, installed);
	plugin_set_clear(&set);
	assert_int_equal(chdir("/"), 0);

	free(installed);
	free(built);
	free(build);
}

/* --- plugin_load_all, clear order, listing -------------------------------------------------- */

struct conf_fixture {
	struct tnd_conf conf;
	struct tnd_plugin_conf isolation[1];
	struct tnd_plugin_conf policy;
	struct tnd_plugin_conf notifiers[2];
};

/* conf.c is written elsewhere; the struct is public, so build it by hand */
static void conf_fixture_init(struct conf_fixture *f, json_t *settings)
{
	memset(f, 0, sizeof(*f));
	f->conf.path = (char *)"/etc/tenancyd/tenancyd.conf";
	f->conf.daemon.state_dir = (char *)"/var/lib/tenancyd";
	f->conf.plugins.dir = fixtures_dir;
	f->conf.plugins.storage = (struct tnd_plugin_conf){ (char *)"good_storage", NULL, settings, 10 };
	f->isolation[0] = (struct tnd_plugin_conf){ (char *)"good_isolation", NULL, settings, 14 };
	f->policy = (struct tnd_plugin_conf){ (char *)"good_policy", NULL, settings, 18 };
	f->notifiers[0] = (struct tnd_plugin_conf){ (char *)"good_notifier", NULL, settings, 22 };
	f->conf.plugins.isolation = f->isolation;
	f->conf.plugins.n_isolation = 1;
	f->conf.plugins.policy = &f->policy;
	f->conf.plugins.notifiers = f->notifiers;
	f->conf.plugins.n_notifiers = 1;
}

static void test_load_all_order(void **state)
{
	static const char *const order[] = { "good_storage", "good_isolation", "good_policy", "good_notifier" };
	struct plugin_load_options opts = { 0 };
	struct plugin_set set = { 0 };
	struct tnd_error err = { .message = "" };
	char *journal = tnd_xasprintf("%s/journal", scratch_dir);
	json_t *settings = journal_settings(journal);
	struct conf_fixture f;
	char *text;

	conf_fixture_init(&f, settings);
	assert_int_equal(plugin_load_all(&opts, &f.conf, &set, &err), 0);
	assert_int_equal(set.n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(set.items[i]->name, order[i]);
	/* the config's state dir reaches the plugins when the options leave it open */
	assert_string_equal(set.items[0]->host->state_dir, "/var/lib/tenancyd");
	assert_ptr_equal(plugin_set_find_kind(&set, TND_PLUGIN_POLICY), set.items[2]);
	assert_null(plugin_set_find(&set, "sqlite"));
	plugin_set_clear(&set);

	text = read_text(journal);
	assert_string_equal(text, "init good_storage\ninit good_isolation\ninit good_policy\ninit good_notifier\n"
				  "fini good_notifier\nfini good_policy\nfini good_isolation\nfini good_storage\n");
	free(text);
	json_decref(settings);
	free(journal);
}

static void test_load_all_stops_at_refusal(void **state)
{
	struct plugin_load_options opts = { 0 };
	struct plugin_set set = { 0 };
	struct tnd_error err = { .message = "" };
	struct conf_fixture f;
	json_t *settings = json_object();
	char *prefix;

	conf_fixture_init(&f, settings);
	f.notifiers[1] = (struct tnd_plugin_conf){ (char *)"bad_magic", NULL, settings, 26 };
	f.conf.plugins.n_notifiers = 2;
	assert_int_equal(plugin_load_all(&opts, &f.conf, &set, &err), -ENOEXEC);
	prefix = tnd_xasprintf("/etc/tenancyd/tenancyd.conf:26: plugin refused: %s/bad_magic.so: bad magic",
			       fixtures_dir);
	assert_true(tnd_str_has_prefix(err.message, prefix));
	assert_int_equal(testutil_log_count("\"level\":\"error\""), 1);
	/* what loaded before the refusal stays loaded, for the caller to clear */
	assert_int_equal(set.n, 4);
	plugin_set_clear(&set);
	free(prefix);
	json_decref(settings);
}

static void test_print(void **state)
{
	struct plugin_load_options opts = { 0 };
	struct plugin_set set = { 0 };
	struct tnd_error err = { .message = "" };
	json_t *settings = json_object();
	struct conf_fixture f;
	char *text = NULL, *line, *saveptr = NULL;
	size_t size = 0, kind_col, lines = 0;
	FILE *out;

	conf_fixture_init(&f, settings);
	assert_int_equal(plugin_load_all(&opts, &f.conf, &set, &err), 0);
	opts.dir = fixtures_dir;
	assert_int_equal(plugin_load(&opts, &set, TND_PLUGIN_POLICY, "future_fields", NULL, settings, NULL, &err), 0);
	out = open_memstream(&text, &size);
	plugin_set_print(&set, out);
	fclose(out);

	line = strtok_r(text, "\n", &saveptr);
	assert_true(tnd_str_has_prefix(line, "NAME "));
	kind_col = (size_t)(strstr(line, "KIND") - line);
	assert_non_null(strstr(line, "VERSION"));
	assert_non_null(strstr(line, " ABI "));
	assert_non_null(strstr(line, "FILE"));
	while ((line = strtok_r(NULL, "\n", &saveptr)) != NULL) {
		const struct tnd_loaded_plugin *p = set.items[lines++];
		const char *kind = plugin_kind_name(p->kind);
		assert_true(tnd_str_has_prefix(line, p->name));
		/* columns line up under the header */
		assert_true(tnd_str_has_prefix(line + kind_col, kind));
		assert_non_null(strstr(line, p->desc->version));
		assert_non_null(strstr(line, " " CORE_ABI " "));
		assert_non_null(strstr(line, p->path));
	}
	assert_int_equal(lines, 5);
	assert_string_equal(plugin_kind_name(TND_PLUGIN_STORAGE), "storage");
	assert_string_equal(plugin_kind_name((enum tnd_plugin_kind)99), "unknown");
	plugin_set_clear(&set);
	free(text);
	json_decref(settings);
}

#define LOADER_TEST(fn) cmocka_unit_test_setup_teardown(fn, test_setup, test_teardown)
#define LOADER_REFUSAL_TEST(c) { "test_" #c, test_refusal, test_setup, test_teardown, &(c) }
#define LOADER_KIND_TEST(c)                                                                          \
	{ "test_good_plugin(" #c ")", test_good_plugin, test_setup, test_teardown, &(c) }

int main(void)
{
	const struct CMUnitTest tests[] = {
		LOADER_KIND_TEST(case_storage),
		LOADER_KIND_TEST(case_isolation),
		LOADER_KIND_TEST(case_policy),
		LOADER_KIND_TEST(case_notifier),
		LOADER_TEST(test_future_fields_accepted),
		LOADER_TEST(test_older_layout_honours_size),
		LOADER_TEST(test_older_minor_accepted),
		LOADER_TEST(test_refuse_world_writable_file),
		LOADER_TEST(test_refuse_writable_directory),
		LOADER_TEST(test_refuse_foreign_owner),
		LOADER_TEST(test_refuse_not_regular_file),
		LOADER_TEST(test_refuse_missing_file),
		LOADER_TEST(test_allow_unsafe_permissions),
		LOADER_TEST(test_refuse_not_elf),
		LOADER_REFUSAL_TEST(refuse_no_descriptor),
		LOADER_REFUSAL_TEST(refuse_bad_magic),
		LOADER_REFUSAL_TEST(refuse_wrong_major),
		LOADER_REFUSAL_TEST(refuse_newer_minor),
		LOADER_TEST(test_refuse_truncated_descriptor),
		LOADER_TEST(test_refuse_truncated_ops),
		LOADER_REFUSAL_TEST(refuse_wrong_kind),
		LOADER_REFUSAL_TEST(refuse_no_name),
		LOADER_REFUSAL_TEST(refuse_mismatched_name),
		LOADER_TEST(test_refuse_duplicate),
		LOADER_TEST(test_refuse_invalid_requested_name),
		LOADER_REFUSAL_TEST(refuse_missing_init),
		LOADER_REFUSAL_TEST(refuse_no_ops),
		LOADER_REFUSAL_TEST(refuse_missing_op),
		LOADER_REFUSAL_TEST(refuse_failing_init),
		LOADER_TEST(test_check_only_calls_check_config_not_init),
		LOADER_TEST(test_lookup_build_dir_then_dir),
		LOADER_TEST(test_load_all_order),
		LOADER_TEST(test_load_all_stops_at_refusal),
		LOADER_TEST(test_print),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
