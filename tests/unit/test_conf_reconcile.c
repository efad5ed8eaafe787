/*
 * test_conf_reconcile.c — the settings of the reconcile engine in
 * tenancyd.conf: regions' `isolation` groups, the `reconcile` section (with
 * its credentials key file) and the `workers` section (endpoint, heartbeats,
 * CURVE key files).  Defaults, bounds, relative paths, the lookups
 * conf_region_isolation_plugin() and conf_reconcile_enabled(), and every
 * error with its file:line.  Error configs mark the line the error must
 * name with "#!" (see conf_fixture.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <zmq.h>

#include "conf.h"
#include "conf_fixture.h"
#include "testutil.h"
#include "util.h"

#define PLUGINS_ISOLATION \
	"plugins: {\n  storage: { name = \"sqlite\"; };\n" \
	"  isolation = ( { name = \"shared_schema\"; }, { name = \"dedicated_db\"; } ); #isolation\n};\n"
#define RECONCILE_KEY "reconcile: { credentials_key_file = \"credentials.key\"; };\n"
/* MINIMAL plus the lines of one more section */
#define WITH_RECONCILE(lines) MINIMAL "reconcile: {\n" lines "};\n"
#define WITH_WORKERS(lines) MINIMAL "workers: {\n" lines "};\n"

/* A random CURVE key in Z85, as zmq_curve_keypair() writes one. */
static void z85_key(char out[41])
{
	uint8_t bytes[32];

	assert_int_equal(tnd_random_bytes(bytes, sizeof(bytes)), 0);
	assert_non_null(zmq_z85_encode(out, bytes, sizeof(bytes)));
}

/* conf_load of @text fails naming the #! line and @cause, and the message
 * quotes nothing of the key file's content @secret. */
static void assert_key_error(const char *text, const char *secret, const char *cause)
{
	struct tnd_conf *conf = NULL;
	struct tnd_error err = { "" };
	char *path = write_conf(text);
	char probe[9];

	assert_conf_error(text, cause);
	assert_int_equal(conf_load(path, &conf, &err), -EINVAL);
	/* any 8 characters of the key would be a leak; the head is a fair probe */
	tnd_strlcpy(probe, secret, sizeof(probe));
	if (strlen(probe) == 8 && strstr(err.message, probe))
		fail_msg("the message quotes the key: %s", err.message);
	free(path);
}

/* --- valid files ------------------------------------------------------------- */

static void test_defaults_without_sections(void **state)
{
	struct tnd_conf *conf = load_ok(MINIMAL);

	(void)state;
	assert_int_equal(conf->reconcile.resync_interval_s, 60);
	assert_int_equal(conf->reconcile.retry_base_ms, 500);
	assert_int_equal(conf->reconcile.retry_cap_ms, 60000);
	assert_int_equal(conf->reconcile.max_attempts, 8);
	assert_int_equal(conf->reconcile.step_timeout_s, 120);
	assert_int_equal(conf->reconcile.archive_retention_days, 30);
	assert_null(conf->reconcile.credentials_key_file);

	assert_string_equal(conf->workers.endpoint, "ipc://" TND_LOCALSTATEDIR "/workers.sock");
	assert_null(conf->workers.command);
	assert_int_equal(conf->workers.heartbeat_interval_ms, 1000);
	assert_int_equal(conf->workers.heartbeat_timeout_ms, 5000);
	assert_null(conf->workers.curve_secret_key_file);
	assert_null(conf->workers.authorized_keys_file);

	/* no isolation plugin: registry-only, and no region offers a mode */
	assert_false(conf_reconcile_enabled(conf));
	assert_null(conf->regions[0].shared_plugin);
	assert_null(conf->regions[0].dedicated_plugin);
	assert_null(conf->regions[0].hybrid_plugin);
	assert_null(conf_region_isolation_plugin(&conf->regions[0], TND_ISOLATION_SHARED));
	conf_unref(conf);

	/* empty sections are the same as absent ones */
	conf = load_ok(MINIMAL "reconcile: { };\nworkers: { };\n");
	assert_int_equal(conf->reconcile.retry_cap_ms, 60000);
	assert_int_equal(conf->workers.heartbeat_timeout_ms, 5000);
	assert_string_equal(conf->workers.endpoint, "ipc://" TND_LOCALSTATEDIR "/workers.sock");
	conf_unref(conf);
}

static void test_every_setting(void **state)
{
	const char *text =
		"daemon: { state_dir = \"/srv/tnd\"; };\n" API_OK
		"plugins: {\n  storage: { name = \"sqlite\"; };\n"
		"  isolation = ( { name = \"shared_schema\"; }, { name = \"dedicated_db\"; }, { name = \"hybrid\"; } );\n};\n"
		"reconcile: {\n  resync_interval = 86400; retry_base_ms = 10; retry_cap_ms = 86400000;\n"
		"  max_attempts = 1000; step_timeout = 1; archive_retention_days = 0;\n"
		"  credentials_key_file = \"credentials.key\";\n};\n"
		"workers: {\n  endpoint = \"ipc:///run/tnd/w.sock\"; command = \"/usr/libexec/tenancyd-worker\";\n"
		"  heartbeat_interval_ms = 50; heartbeat_timeout_ms = 101;\n};\n"
		"regions = (\n"
		"  { name = \"eu-west-1\"; residency = \"eu\";\n"
		"    isolation: { shared = \"shared_schema\"; dedicated = \"dedicated_db\"; hybrid = \"hybrid\"; };\n"
		"    data_plane: { conninfo_file = \"/etc/tenancyd/pg-eu-west-1.conninfo\"; }; },\n"
		"  { name = \"eu-central-1\"; residency = \"eu\"; isolation: { shared = \"shared_schema\"; }; },\n"
		"  { name = \"us-east-1\"; residency = \"us\"; isolation: { }; }\n);\n"
		/* a plan may allow modes a region does not offer: placement decides */
		"plans = (\n  { code = \"enterprise\"; isolation = [ \"shared\", \"dedicated\", \"hybrid\" ];\n"
		"    default_residency = \"eu\"; " QUOTAS_1 " }\n);\n";
	struct tnd_conf *conf = load_ok(text);
	char *key = tnd_xasprintf("%s/credentials.key", conf_dir);
	const struct tnd_region_conf *west, *central, *east;

	(void)state;
	assert_int_equal(conf->reconcile.resync_interval_s, 86400);
	assert_int_equal(conf->reconcile.retry_base_ms, 10);
	assert_int_equal(conf->reconcile.retry_cap_ms, 86400000);
	assert_int_equal(conf->reconcile.max_attempts, 1000);
	assert_int_equal(conf->reconcile.step_timeout_s, 1);
	assert_int_equal(conf->reconcile.archive_retention_days, 0);
	assert_string_equal(conf->reconcile.credentials_key_file, key);
	assert_string_equal(conf->workers.endpoint, "ipc:///run/tnd/w.sock");
	assert_string_equal(conf->workers.command, "/usr/libexec/tenancyd-worker");
	assert_int_equal(conf->workers.heartbeat_interval_ms, 50);
	assert_int_equal(conf->workers.heartbeat_timeout_ms, 101);
	assert_true(conf_reconcile_enabled(conf));

	west = conf_region(conf, "eu-west-1");
	central = conf_region(conf, "eu-central-1");
	east = conf_region(conf, "us-east-1");
	assert_string_equal(conf_region_isolation_plugin(west, TND_ISOLATION_SHARED), "shared_schema");
	assert_string_equal(conf_region_isolation_plugin(west, TND_ISOLATION_DEDICATED), "dedicated_db");
	assert_string_equal(conf_region_isolation_plugin(west, TND_ISOLATION_HYBRID), "hybrid");
	assert_string_equal(conf_region_isolation_plugin(central, TND_ISOLATION_SHARED), "shared_schema");
	assert_null(conf_region_isolation_plugin(central, TND_ISOLATION_DEDICATED));
	assert_null(conf_region_isolation_plugin(central, TND_ISOLATION_HYBRID));
	assert_null(conf_region_isolation_plugin(east, TND_ISOLATION_SHARED));
	/* the group sits next to data_plane without disturbing it */
	assert_string_equal(json_string_value(json_object_get(west->data_plane, "conninfo_file")),
			    "/etc/tenancyd/pg-eu-west-1.conninfo");
	/* a lookup takes exactly one mode bit */
	assert_null(conf_region_isolation_plugin(west, 0));
	assert_null(conf_region_isolation_plugin(west, TND_ISOLATION_SHARED | TND_ISOLATION_DEDICATED));
	assert_null(conf_region_isolation_plugin(NULL, TND_ISOLATION_SHARED));
	assert_false(conf_reconcile_enabled(NULL));
	conf_unref(conf);

	/* the other ends of the ranges; a cap equal to the base is allowed */
	conf = load_ok(WITH_RECONCILE("  resync_interval = 1; retry_base_ms = 600000; retry_cap_ms = 600000;\n"
				      "  max_attempts = 1; step_timeout = 86400; archive_retention_days = 36500;\n")
		       "workers: { heartbeat_interval_ms = 60000; heartbeat_timeout_ms = 600000; };\n");
	assert_int_equal(conf->reconcile.resync_interval_s, 1);
	assert_int_equal(conf->reconcile.retry_base_ms, 600000);
	assert_int_equal(conf->reconcile.retry_cap_ms, 600000);
	assert_int_equal(conf->reconcile.max_attempts, 1);
	assert_int_equal(conf->reconcile.step_timeout_s, 86400);
	assert_int_equal(conf->reconcile.archive_retention_days, 36500);
	assert_int_equal(conf->workers.heartbeat_interval_ms, 60000);
	assert_int_equal(conf->workers.heartbeat_timeout_ms, 600000);
	conf_unref(conf);
	free(key);
}

/* Every spelling of a 32-byte key the brief allows, with or without the final newline. */
static void test_credentials_key_forms(void **state)
{
	static const char *const keys[] = {
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
		"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\n",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",     /* standard, padded */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",        /* standard, unpadded */
		"+/7//v/+//7//v/+//7//v/+//7//v/+//7//v/+//4=\r\n", /* standard alphabet only */
		"-_7__v_-__7__v_-__7__v_-__7__v_-__7__v_-__4\n",    /* URL alphabet only */
	};

	(void)state;
	for (size_t i = 0; i < TND_ARRAY_SIZE(keys); i++) {
		struct tnd_conf *conf;

		free(testutil_write_file(conf_dir, "form.key", keys[i], 0600));
		conf = load_ok(PLUGINS_ISOLATION API_OK REGIONS_OK PLANS_OK
			       "reconcile: { credentials_key_file = \"form.key\"; };\n");
		assert_true(conf_reconcile_enabled(conf));
		conf_unref(conf);
	}
	/* also valid (and checked) without any isolation plugin */
	free(testutil_write_file(conf_dir, "form.key", keys[0], 0400));
	conf_unref(load_ok(WITH_RECONCILE("  credentials_key_file = \"form.key\";\n")));
}

static void test_tcp_with_curve_keys(void **state)
{
	char secret[41], key1[41], key2[41];
	char *authorized, *text;
	struct tnd_conf *conf;

	(void)state;
	z85_key(secret);
	z85_key(key1);
	z85_key(key2);
	text = tnd_xasprintf("%s\n", secret);
	free(testutil_write_file(conf_dir, "curve.secret", text, 0600));
	free(text);
	authorized = tnd_xasprintf("# workers allowed to connect\n\n  %s   # worker-1\r\n#%s (retired)\n%s\n",
				   key1, key1, key2);
	/* the authorized keys are public: readable by all is fine */
	free(testutil_write_file(conf_dir, "authorized", authorized, 0644));
	free(authorized);

	conf = load_ok(WITH_WORKERS("  endpoint = \"tcp://0.0.0.0:8471\";\n"
				    "  curve_secret_key_file = \"curve.secret\";\n"
				    "  authorized_keys_file = \"authorized\";\n"));
	assert_string_equal(conf->workers.endpoint, "tcp://0.0.0.0:8471");
	text = tnd_xasprintf("%s/curve.secret", conf_dir);
	assert_string_equal(conf->workers.curve_secret_key_file, text);
	free(text);
	text = tnd_xasprintf("%s/authorized", conf_dir);
	assert_string_equal(conf->workers.authorized_keys_file, text);
	free(text);
	conf_unref(conf);

	conf = load_ok(WITH_WORKERS("  endpoint = \"tcp://[::1]:65535\";\n"
				    "  curve_secret_key_file = \"curve.secret\";\n"
				    "  authorized_keys_file = \"authorized\";\n"));
	assert_string_equal(conf->workers.endpoint, "tcp://[::1]:65535");
	conf_unref(conf);
}

/* Relative paths start at the config file's directory, the ipc:// socket's too. */
static void test_relative_paths(void **state)
{
	char *sub = tnd_xasprintf("%s/etc", conf_dir);
	char *keys = tnd_xasprintf("%s/etc/keys", conf_dir);
	char secret[41], public[41], *text, *expect;
	struct tnd_error err = { "" };
	struct tnd_conf *conf = NULL;
	char *path;

	(void)state;
	z85_key(secret);
	z85_key(public);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mkdir(keys, 0700), 0);
	free(testutil_write_file(sub, "tokens", "# none\n", 0600));
	free(testutil_write_file(keys, "credentials.key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 0600));
	free(testutil_write_file(keys, "curve.secret", secret, 0600));
	free(testutil_write_file(keys, "authorized", public, 0600));
	path = testutil_write_file(sub, "tenancyd.conf",
				   API_OK PLUGINS_ISOLATION REGIONS_OK PLANS_OK
				   "reconcile: { credentials_key_file = \"keys/../keys/credentials.key\"; };\n"
				   "workers: { endpoint = \"ipc://run/../w.sock\"; command = \"bin/tenancyd-worker\"; };\n",
				   0600);
	if (conf_load(path, &conf, &err) != 0)
		fail_msg("%s", err.message);
	expect = tnd_xasprintf("%s/keys/credentials.key", sub);
	assert_string_equal(conf->reconcile.credentials_key_file, expect);
	free(expect);
	expect = tnd_xasprintf("ipc://%s/w.sock", sub);
	assert_string_equal(conf->workers.endpoint, expect);
	free(expect);
	expect = tnd_xasprintf("%s/bin/tenancyd-worker", sub);
	assert_string_equal(conf->workers.command, expect);
	free(expect);
	conf_unref(conf);
	conf = NULL;
	free(path);

	/* the default socket follows a relative state_dir */
	text = tnd_xasprintf("daemon: { state_dir = \"state\"; };\n" API_OK PLUGINS_OK REGIONS_OK PLANS_OK
			     "workers: { endpoint = \"tcp://127.0.0.1:8471\";\n"
			     "  curve_secret_key_file = \"keys/curve.secret\"; authorized_keys_file = \"./keys/authorized\"; };\n");
	path = testutil_write_file(sub, "tenancyd.conf", text, 0600);
	free(text);
	if (conf_load(path, &conf, &err) != 0)
		fail_msg("%s", err.message);
	expect = tnd_xasprintf("%s/curve.secret", keys);
	assert_string_equal(conf->workers.curve_secret_key_file, expect);
	free(expect);
	expect = tnd_xasprintf("%s/authorized", keys);
	assert_string_equal(conf->workers.authorized_keys_file, expect);
	free(expect);
	conf_unref(conf);
	conf = NULL;
	free(path);

	path = testutil_write_file(sub, "tenancyd.conf",
				   "daemon: { state_dir = \"state\"; };\n" API_OK PLUGINS_OK REGIONS_OK PLANS_OK, 0600);
	if (conf_load(path, &conf, &err) != 0)
		fail_msg("%s", err.message);
	expect = tnd_xasprintf("ipc://%s/state/workers.sock", sub);
	assert_string_equal(conf->workers.endpoint, expect);
	free(expect);
	conf_unref(conf);
	free(path);

	testutil_rmrf(sub);
	free(keys);
	free(sub);
}

/* @text with the first @from at or after @after replaced by @to (which must be there). */
static char *replace_once(char *text, const char *after, const char *from, const char *to)
{
	char *start = strstr(text, after), *hit, *result;

	if (start == NULL || (hit = strstr(start, from)) == NULL)
		fail_msg("the shipped example no longer contains '%s' after '%s'", from, after);
	result = tnd_xasprintf("%.*s%s%s", (int)(hit - text), text, to, hit + strlen(from));
	free(text);
	return result;
}

/* The shipped example keeps the reconcile engine as a commented recipe;
 * uncommented as its comments say, it must load and mean what they say. */
static void test_shipped_recipe(void **state)
{
	static const char *const regions[] = { "eu-west-1", "eu-central-1", "us-east-1", "us-west-2",
					       "ap-southeast-1" };
	static const char *const plugins[] = { "shared_schema", "dedicated_db", "hybrid" };
	static const char region_isolation[] =
		"isolation: { shared = \"shared_schema\"; dedicated = \"dedicated_db\"; hybrid = \"hybrid\"; };";
	char *example = tnd_xasprintf("%s/etc/tenancyd.conf", testutil_builddir());
	struct tnd_error err = { "" };
	struct tnd_conf *conf;
	char *text = NULL, *commented;

	(void)state;
	if (tnd_read_file(example, 1 << 20, &text, NULL, &err) != 0)
		fail_msg("%s", err.message);
	text = replace_once(text, "plugins: {", "  # isolation = (\n", "  isolation = (\n");
	for (size_t i = 0; i < TND_ARRAY_SIZE(plugins); i++) {
		char *from = tnd_xasprintf("  #   { name = \"%s\"; }", plugins[i]);
		char *to = tnd_xasprintf("    { name = \"%s\"; }", plugins[i]);

		text = replace_once(text, "isolation = (", from, to);
		free(from);
		free(to);
	}
	text = replace_once(text, "isolation = (", "  # );", "  );");
	text = replace_once(text, "reconcile: {", "# credentials_key_file = \"credentials.key\";",
			    "credentials_key_file = \"credentials.key\";");
	commented = tnd_xasprintf("# %s", region_isolation);
	for (size_t i = 0; i < TND_ARRAY_SIZE(regions); i++) {
		char *name = tnd_xasprintf("name = \"%s\";", regions[i]);
		text = replace_once(text, name, commented, region_isolation);
		free(name);
	}
	free(commented);
	conf = load_ok(text);

	assert_true(conf_reconcile_enabled(conf));
	assert_int_equal(conf->plugins.n_isolation, 3);
	assert_non_null(conf->reconcile.credentials_key_file);
	for (size_t i = 0; i < TND_ARRAY_SIZE(regions); i++) {
		const struct tnd_region_conf *region = conf_region(conf, regions[i]);
		char *conninfo = tnd_xasprintf("%s/pg-%s.conninfo", TND_SYSCONFDIR, regions[i]);

		assert_string_equal(conf_region_isolation_plugin(region, TND_ISOLATION_SHARED), "shared_schema");
		assert_string_equal(conf_region_isolation_plugin(region, TND_ISOLATION_DEDICATED), "dedicated_db");
		assert_string_equal(conf_region_isolation_plugin(region, TND_ISOLATION_HYBRID), "hybrid");
		assert_string_equal(json_string_value(json_object_get(region->data_plane, "conninfo_file")), conninfo);
		assert_string_equal(json_string_value(json_object_get(region->data_plane, "shared_database")),
				    "tenancy");
		free(conninfo);
	}
	conf_unref(conf);
	free(text);
	free(example);
}

/* --- regions' isolation groups ------------------------------------------------- */

static void test_region_isolation_errors(void **state)
{
	(void)state;
	assert_conf_error(API_OK PLUGINS_ISOLATION RECONCILE_KEY
			  "regions = (\n  { name = \"eu-west-1\"; residency = \"eu\";\n"
			  "    isolation: { shared = \"shared_schema\";\n"
			  "      dedicated = \"dedicated\"; }; } #!\n);\n" PLANS_OK,
			  "'regions[0].isolation.dedicated' of region 'eu-west-1' names isolation plugin 'dedicated', "
			  "which plugins.isolation does not configure (configured: shared_schema, dedicated_db)");
	/* another kind of plugin is not an isolation plugin */
	assert_conf_error(API_OK PLUGINS_ISOLATION RECONCILE_KEY
			  "regions = (\n  { name = \"eu-west-1\"; residency = \"eu\";\n"
			  "    isolation: { hybrid = \"sqlite\"; }; } #!\n);\n" PLANS_OK,
			  "names isolation plugin 'sqlite', which plugins.isolation does not configure");
	assert_conf_error(API_OK PLUGINS_OK
			  "regions = (\n  { name = \"eu-west-1\"; residency = \"eu\";\n"
			  "    isolation: { shared = \"shared_schema\"; }; } #!\n);\n" PLANS_OK,
			  "names isolation plugin 'shared_schema', which plugins.isolation does not configure "
			  "(configured: none)");
	assert_conf_error(API_OK PLUGINS_ISOLATION RECONCILE_KEY
			  "regions = (\n  { name = \"eu-west-1\"; residency = \"eu\";\n"
			  "    isolation: { sharde = \"shared_schema\"; }; } #!\n);\n" PLANS_OK,
			  "unknown setting 'regions[0].isolation.sharde'");
	assert_conf_error(API_OK PLUGINS_ISOLATION RECONCILE_KEY
			  "regions = (\n  { name = \"eu-west-1\"; residency = \"eu\";\n"
			  "    isolation = [ \"shared_schema\" ]; } #!\n);\n" PLANS_OK,
			  "'regions[0].isolation' must be a group { ... }, not an array");
	assert_conf_error(API_OK PLUGINS_ISOLATION RECONCILE_KEY
			  "regions = (\n  { name = \"eu-west-1\"; residency = \"eu\";\n"
			  "    isolation: { shared = true; }; } #!\n);\n" PLANS_OK,
			  "'regions[0].isolation.shared' must be a string, not a boolean");
}

/* --- reconcile ------------------------------------------------------------------ */

static void test_reconcile_errors(void **state)
{
	(void)state;
	assert_conf_error(WITH_RECONCILE("  resync = 60; #!\n"), "unknown setting 'reconcile.resync'");
	assert_conf_error(MINIMAL "reconcile = 60; #!\n", "'reconcile' must be a group { ... }, not an integer");
	assert_conf_error(WITH_RECONCILE("  resync_interval = \"60\"; #!\n"),
			  "'reconcile.resync_interval' must be an integer, not a string");

	assert_conf_error(WITH_RECONCILE("  resync_interval = 0; #!\n"),
			  "'reconcile.resync_interval' is 0, must be between 1 and 86400");
	assert_conf_error(WITH_RECONCILE("  resync_interval = 86401; #!\n"),
			  "'reconcile.resync_interval' is 86401, must be between 1 and 86400");
	assert_conf_error(WITH_RECONCILE("  retry_base_ms = 9; #!\n"),
			  "'reconcile.retry_base_ms' is 9, must be between 10 and 600000");
	assert_conf_error(WITH_RECONCILE("  retry_base_ms = 600001; retry_cap_ms = 700000; #!\n"),
			  "'reconcile.retry_base_ms' is 600001, must be between 10 and 600000");
	assert_conf_error(WITH_RECONCILE("  retry_cap_ms = 86400001; #!\n"),
			  "'reconcile.retry_cap_ms' is 86400001, must be between 10 and 86400000");
	assert_conf_error(WITH_RECONCILE("  retry_base_ms = 500;\n  retry_cap_ms = 499; #!\n"),
			  "'reconcile.retry_cap_ms' is 499, below retry_base_ms (500)");
	assert_conf_error(WITH_RECONCILE("  retry_base_ms = 60001; #!\n"),
			  "'reconcile.retry_base_ms' is 60001, above the default retry_cap_ms (60000); set "
			  "retry_cap_ms too");
	assert_conf_error(WITH_RECONCILE("  max_attempts = 0; #!\n"),
			  "'reconcile.max_attempts' is 0, must be between 1 and 1000");
	assert_conf_error(WITH_RECONCILE("  max_attempts = 1001; #!\n"),
			  "'reconcile.max_attempts' is 1001, must be between 1 and 1000");
	assert_conf_error(WITH_RECONCILE("  step_timeout = 0; #!\n"),
			  "'reconcile.step_timeout' is 0, must be between 1 and 86400");
	assert_conf_error(WITH_RECONCILE("  step_timeout = 86401; #!\n"),
			  "'reconcile.step_timeout' is 86401, must be between 1 and 86400");
	assert_conf_error(WITH_RECONCILE("  archive_retention_days = -1; #!\n"),
			  "'reconcile.archive_retention_days' is -1, must be between 0 and 36500");
	assert_conf_error(WITH_RECONCILE("  archive_retention_days = 36501; #!\n"),
			  "'reconcile.archive_retention_days' is 36501, must be between 0 and 36500");
	assert_conf_error(WITH_RECONCILE("  credentials_key_file = \"\"; #!\n"),
			  "'reconcile.credentials_key_file' must not be empty");
}

static void test_credentials_key_required(void **state)
{
	(void)state;
	/* the section exists: its line */
	assert_conf_error(API_OK PLUGINS_ISOLATION REGIONS_OK PLANS_OK
			  "reconcile: { #!\n  resync_interval = 30;\n};\n",
			  "missing required setting 'reconcile.credentials_key_file': plugins.isolation configures "
			  "isolation plugins");
	/* no section: the line that made it required */
	assert_conf_error(API_OK
			  "plugins: {\n  storage: { name = \"sqlite\"; };\n"
			  "  isolation = ( { name = \"shared_schema\"; } ); #!\n};\n" REGIONS_OK PLANS_OK,
			  "missing required setting 'reconcile.credentials_key_file'");
}

static void test_credentials_key_errors(void **state)
{
	static const struct {
		const char *content;
		mode_t mode;
		const char *cause;
	} cases[] = {
		{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 0644,
		  "secret file is accessible by group or others (mode 0644, want 0600)" },
		{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 0640,
		  "secret file is accessible by group or others (mode 0640, want 0600)" },
		/* 31 bytes */
		{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n", 0600,
		  "the key decodes to 31 bytes, want exactly 32 (AES-256)" },
		/* 33 bytes */
		{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n", 0600, "the key decodes to 33 bytes" },
		/* 31 bytes of hex (62 digits) are neither hex of a key nor canonical base64 */
		{ "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e\n", 0600,
		  "the key is neither base64 nor hex; want 32 bytes as base64 (standard or URL alphabet) "
		  "or 64 hex digits" },
		{ "this is not a key at all!\n", 0600, "the key is neither base64 nor hex" },
		{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8===\n", 0600, "the key is neither base64 nor hex" },
		{ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A=\n", 0600, "the key is neither base64 nor hex" },
		/* both alphabets at once */
		{ "+_7//v/+//7//v/+//7//v/+//7//v/+//7//v/+//4=\n", 0600, "the key is neither base64 nor hex" },
		{ "\n", 0600, "the file is empty" },
		{ "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
		  "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n", 0600, "the key decodes to more than 96 bytes" },
	};
	char *text = WITH_RECONCILE("  credentials_key_file = \"bad.key\"; #!\n");

	(void)state;
	for (size_t i = 0; i < TND_ARRAY_SIZE(cases); i++) {
		char *cause = tnd_xasprintf("reconcile.credentials_key_file: %s/bad.key: %s", conf_dir, cases[i].cause);

		free(testutil_write_file(conf_dir, "bad.key", cases[i].content, cases[i].mode));
		assert_key_error(text, cases[i].content, cause);
		free(cause);
	}
	assert_conf_error(WITH_RECONCILE("  credentials_key_file = \"no-such.key\"; #!\n"),
			  "/no-such.key: No such file or directory");
}

/* --- workers --------------------------------------------------------------------- */

static void test_workers_errors(void **state)
{
	(void)state;
	assert_conf_error(WITH_WORKERS("  endpont = \"ipc://w.sock\"; #!\n"), "unknown setting 'workers.endpont'");
	assert_conf_error(MINIMAL "workers = ( ); #!\n", "'workers' must be a group { ... }, not a list");
	assert_conf_error(WITH_WORKERS("  endpoint = \"inproc://workers\"; #!\n"),
			  "'workers.endpoint' is 'inproc://workers', want ipc://<socket path> or tcp://<address>:<port>");
	assert_conf_error(WITH_WORKERS("  endpoint = \"/run/workers.sock\"; #!\n"),
			  "'workers.endpoint' is '/run/workers.sock', want ipc://");
	assert_conf_error(WITH_WORKERS("  endpoint = \"ipc://\"; #!\n"),
			  "'workers.endpoint' names no socket path after ipc://");
	assert_conf_error(WITH_WORKERS("  endpoint = \"tcp://10.0.0.1\"; #!\n"),
			  "'workers.endpoint' is 'tcp://10.0.0.1', want tcp://<address>:<port>");
	assert_conf_error(WITH_WORKERS("  endpoint = \"tcp://:8471\"; #!\n"), "want tcp://<address>:<port>");
	assert_conf_error(WITH_WORKERS("  endpoint = \"tcp://10.0.0.1:65536\"; #!\n"), "want tcp://<address>:<port>");
	assert_conf_error(WITH_WORKERS("  endpoint = \"tcp://10.0.0.1:0\"; #!\n"), "want tcp://<address>:<port>");
	/* local workers connect to the same endpoint: no wildcards */
	assert_conf_error(WITH_WORKERS("  endpoint = \"tcp://*:8471\"; #!\n"),
			  "'workers.endpoint' is 'tcp://*:8471', want tcp://<address>:<port> with a port number "
			  "(and 0.0.0.0 rather than * for every address)");
	assert_conf_error(WITH_WORKERS("  endpoint = \"tcp://0.0.0.0:*\"; #!\n"), "with a port number");
	assert_conf_error(WITH_WORKERS("  command = \"\"; #!\n"), "'workers.command' must not be empty");

	assert_conf_error(WITH_WORKERS("  heartbeat_interval_ms = 49; #!\n"),
			  "'workers.heartbeat_interval_ms' is 49, must be between 50 and 60000");
	assert_conf_error(WITH_WORKERS("  heartbeat_interval_ms = 60001; #!\n"),
			  "'workers.heartbeat_interval_ms' is 60001, must be between 50 and 60000");
	assert_conf_error(WITH_WORKERS("  heartbeat_timeout_ms = 600001; #!\n"),
			  "'workers.heartbeat_timeout_ms' is 600001, must be between 1 and 600000");
	assert_conf_error(WITH_WORKERS("  heartbeat_interval_ms = 1000;\n  heartbeat_timeout_ms = 2000; #!\n"),
			  "'workers.heartbeat_timeout_ms' is 2000, must be more than twice heartbeat_interval_ms (1000)");
	assert_conf_error(WITH_WORKERS("  heartbeat_interval_ms = 2500; #!\n"),
			  "'workers.heartbeat_interval_ms' is 2500, but the default heartbeat_timeout_ms (5000) must "
			  "be more than twice it");
}

static void test_ipc_path_length(void **state)
{
	char name[128], *text, *path, *cause, *state_dir;
	size_t room = 100 - strlen(conf_dir) - 1;
	struct tnd_error err = { "" };
	struct tnd_conf *conf = NULL;

	(void)state;
	assert_true(room > 10 && room < sizeof(name));
	/* exactly 100 bytes, relative to the config's directory: fine */
	memset(name, 'w', room);
	name[room] = '\0';
	text = tnd_xasprintf(MINIMAL "workers: { endpoint = \"ipc://%s\"; };\n", name);
	conf = load_ok(text);
	assert_int_equal(strlen(conf->workers.endpoint), strlen("ipc://") + 100);
	conf_unref(conf);
	conf = NULL;
	free(text);

	/* 101 bytes: too long for sun_path */
	strcat(name, "w");
	text = tnd_xasprintf(MINIMAL "workers: {\n  endpoint = \"ipc://%s\"; #!\n};\n", name);
	assert_conf_error(text, "'workers.endpoint' has a socket path of 101 bytes");
	assert_conf_error(text, "more than the 100 a Unix socket path may have");
	free(text);

	/* A default socket path that is too long matters only when workers run. */
	memset(name, 's', 100);
	name[100] = '\0';
	state_dir = tnd_xasprintf("/var/lib/%s", name);
	text = tnd_xasprintf("daemon: { state_dir = \"%s\"; };\n" API_OK PLUGINS_OK REGIONS_OK PLANS_OK, state_dir);
	conf = load_ok(text);
	conf_unref(conf);
	conf = NULL;
	free(text);
	text = tnd_xasprintf("daemon: { state_dir = \"%s\"; };\n" API_OK PLUGINS_ISOLATION RECONCILE_KEY REGIONS_OK
			     PLANS_OK, state_dir);
	path = write_conf(text);
	/* no workers section: no line to point at, the file is named alone */
	cause = tnd_xasprintf("%s: the default 'workers.endpoint' (ipc://%s/workers.sock) has a socket path of %zu "
			      "bytes, more than the 100",
			      path, state_dir, strlen(state_dir) + strlen("/workers.sock"));
	assert_int_equal(conf_load(path, &conf, &err), -EINVAL);
	if (!tnd_str_has_prefix(err.message, cause))
		fail_msg("got '%s'\nwant '%s'", err.message, cause);
	assert_null(conf);
	free(cause);
	free(path);
	free(text);
	free(state_dir);
}

static void test_tcp_requires_curve(void **state)
{
	char secret[41], public[41];

	(void)state;
	z85_key(secret);
	z85_key(public);
	free(testutil_write_file(conf_dir, "curve.secret", secret, 0600));
	free(testutil_write_file(conf_dir, "authorized", public, 0600));
	assert_conf_error(WITH_WORKERS("  endpoint = \"tcp://0.0.0.0:8471\"; #!\n"),
			  "'workers.endpoint' is tcp://, which requires 'workers.curve_secret_key_file'");
	assert_conf_error(WITH_WORKERS("  endpoint = \"tcp://0.0.0.0:8471\"; #!\n"
				       "  curve_secret_key_file = \"curve.secret\";\n"),
			  "'workers.endpoint' is tcp://, which requires 'workers.authorized_keys_file'");
	assert_conf_error(WITH_WORKERS("  endpoint = \"tcp://0.0.0.0:8471\"; #!\n"
				       "  authorized_keys_file = \"authorized\";\n"),
			  "requires 'workers.curve_secret_key_file'");
}

static void test_curve_secret_key_errors(void **state)
{
	static const struct {
		const char *content;
		mode_t mode;
		const char *cause;
	} cases[] = {
		{ "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", 0644, "secret file is accessible by group or others" },
		{ "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf", 0600, "not a CURVE secret key; want 40 Z85 characters" },
		{ "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7x", 0600, "not a CURVE secret key" },
		/* ',' and '"' are not in the Z85 alphabet */
		{ "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]y,7", 0600, "not a CURVE secret key" },
		{ "rq:rM>}U?@Lns47E1%kR.o@n\"FcmmsL/@{H8]yf7\n", 0600, "not a CURVE secret key" },
		/* the right alphabet and length, but "#####" overflows 32 bits */
		{ "########################################", 0600, "not a CURVE secret key" },
		{ "", 0600, "not a CURVE secret key" },
	};
	char public[41], *authorized, *text;

	(void)state;
	z85_key(public);
	authorized = testutil_write_file(conf_dir, "authorized", public, 0600);
	text = WITH_WORKERS("  endpoint = \"tcp://0.0.0.0:8471\";\n"
			    "  curve_secret_key_file = \"curve.secret\"; #!\n"
			    "  authorized_keys_file = \"authorized\";\n");
	for (size_t i = 0; i < TND_ARRAY_SIZE(cases); i++) {
		char *cause = tnd_xasprintf("workers.curve_secret_key_file: %s/curve.secret: %s", conf_dir,
					    cases[i].cause);

		free(testutil_write_file(conf_dir, "curve.secret", cases[i].content, cases[i].mode));
		assert_key_error(text, cases[i].content, cause);
		free(cause);
	}
	/* the same key, well kept, with the final newline an editor adds */
	free(testutil_write_file(conf_dir, "curve.secret", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\n", 0600));
	conf_unref(load_ok(text));
	free(authorized);
}

static void test_authorized_keys_errors(void **state)
{
	char secret[41], key1[41], key2[41], *content, *cause;
	const char *text = WITH_WORKERS("  endpoint = \"tcp://0.0.0.0:8471\";\n"
					"  curve_secret_key_file = \"curve.secret\";\n"
					"  authorized_keys_file = \"authorized\"; #!\n");
	const char *prefix = "workers.authorized_keys_file: ";

	(void)state;
	z85_key(secret);
	z85_key(key1);
	z85_key(key2);
	free(testutil_write_file(conf_dir, "curve.secret", secret, 0600));

	free(testutil_write_file(conf_dir, "authorized", "", 0600));
	cause = tnd_xasprintf("%s%s/authorized: no keys; want one Z85 public key per line", prefix, conf_dir);
	assert_conf_error(text, cause);
	free(cause);
	free(testutil_write_file(conf_dir, "authorized", "# nobody yet\n\n#\n", 0600));
	cause = tnd_xasprintf("%s%s/authorized: no keys", prefix, conf_dir);
	assert_conf_error(text, cause);
	free(cause);

	content = tnd_xasprintf("# workers\n%s\nnot-a-key\n%s\n", key1, key2);
	free(testutil_write_file(conf_dir, "authorized", content, 0600));
	free(content);
	cause = tnd_xasprintf("%s%s/authorized:3: not a CURVE public key; want 40 Z85 characters", prefix, conf_dir);
	assert_conf_error(text, cause);
	free(cause);

	/* after a key, only a comment */
	content = tnd_xasprintf("%s worker-1\n", key1);
	free(testutil_write_file(conf_dir, "authorized", content, 0600));
	free(content);
	cause = tnd_xasprintf("%s%s/authorized:1: not a CURVE public key", prefix, conf_dir);
	assert_conf_error(text, cause);
	free(cause);

	content = tnd_xasprintf("# workers\n%s\n%s\n\n%s # again\n", key1, key2, key1);
	free(testutil_write_file(conf_dir, "authorized", content, 0600));
	free(content);
	cause = tnd_xasprintf("%s%s/authorized:5: the same key as line 2", prefix, conf_dir);
	assert_conf_error(text, cause);
	free(cause);

	/* public, but not writable by others */
	free(testutil_write_file(conf_dir, "authorized", key1, 0664));
	assert_conf_error(text, "/authorized: writable by group or others (mode 0664)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_without_sections),
		cmocka_unit_test(test_every_setting),
		cmocka_unit_test(test_credentials_key_forms),
		cmocka_unit_test(test_tcp_with_curve_keys),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_shipped_recipe),
		cmocka_unit_test(test_region_isolation_errors),
		cmocka_unit_test(test_reconcile_errors),
		cmocka_unit_test(test_credentials_key_required),
		cmocka_unit_test(test_credentials_key_errors),
		cmocka_unit_test(test_workers_errors),
		cmocka_unit_test(test_ipc_path_length),
		cmocka_unit_test(test_tcp_requires_curve),
		cmocka_unit_test(test_curve_secret_key_errors),
		cmocka_unit_test(test_authorized_keys_errors),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
