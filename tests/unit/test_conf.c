/*
 * test_conf.c — loading tenancyd.conf: defaults of a minimal file, the
 * shipped example, every class of error with its file:line, free-form
 * settings converted to JSON, relative paths, file ownership checks, and the
 * current snapshot under concurrent readers and replacements.  The
 * `reconcile` and `workers` sections and regions' `isolation` groups are
 * tested in test_conf_reconcile.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <tenancyd/host.h>

#include "conf.h"
#include "conf_fixture.h"
#include "testutil.h"
#include "tokens.h"
#include "util.h"

/* --- valid files ------------------------------------------------------------- */

static void test_minimal_defaults(void **state)
{
	struct tnd_conf *conf = load_ok(MINIMAL);
	char *expected_tokens = tnd_xasprintf("%s/tokens", conf_dir);
	char *expected_path = tnd_xasprintf("%s/tenancyd.conf", conf_dir);
	struct tnd_principal who;

	(void)state;
	assert_string_equal(conf->path, expected_path);
	assert_string_equal(conf->daemon.state_dir, TND_LOCALSTATEDIR);
	assert_null(conf->daemon.pid_file);
	assert_null(conf->daemon.log_file);
	assert_int_equal(conf->daemon.log_level, TND_LOG_INFO);
	assert_null(conf->daemon.user);
	assert_int_equal(conf->daemon.workers, 2);
	/* the events' source defaults to the host name: never empty */
	assert_non_null(conf->daemon.instance);
	assert_true(conf->daemon.instance[0] != '\0');
	assert_false(conf->audit.disabled); /* the audit trail is on unless turned off */

	assert_string_equal(conf->api.listen, "127.0.0.1:0");
	assert_string_equal(conf->api.host, "127.0.0.1");
	assert_int_equal(conf->api.port, 0);
	assert_string_equal(conf->api.tokens_file, expected_tokens);
	assert_int_equal(conf->api.max_body_bytes, 1048576);
	assert_int_equal(conf->api.max_depth, 32);
	assert_int_equal(conf->api.max_connections, 512);
	assert_int_equal(conf->api.connection_timeout_s, 30);
	assert_int_equal(conf->api.drain_timeout_s, 10);
	assert_int_equal(conf->api.idempotency_ttl_s, 86400);

	assert_string_equal(conf->plugins.dir, TND_PLUGINDIR);
	assert_false(conf->plugins.allow_unsafe_permissions);
	assert_string_equal(conf->plugins.storage.name, "sqlite");
	assert_null(conf->plugins.storage.file);
	assert_true(json_is_object(conf->plugins.storage.settings));
	assert_int_equal(json_object_size(conf->plugins.storage.settings), 0);
	assert_int_equal(conf->plugins.storage.line, 6);
	assert_null(conf->plugins.policy);
	assert_int_equal(conf->plugins.n_isolation, 0);
	assert_int_equal(conf->plugins.n_notifiers, 0);

	assert_int_equal(conf->n_regions, 1);
	assert_string_equal(conf->regions[0].name, "eu-west-1");
	assert_string_equal(conf->regions[0].residency, "eu");
	assert_true(conf->regions[0].enabled);
	assert_null(conf->regions[0].standby);
	assert_int_equal(conf->regions[0].capacity, 0);
	assert_int_equal(json_object_size(conf->regions[0].data_plane), 0);

	assert_int_equal(conf->n_plans, 1);
	assert_string_equal(conf->plans[0].code, "free");
	assert_null(conf->plans[0].description);
	assert_int_equal(conf->plans[0].isolation_modes, TND_ISOLATION_SHARED);
	assert_int_equal(conf->plans[0].default_isolation, TND_ISOLATION_SHARED);
	assert_string_equal(conf->plans[0].default_residency, "eu");
	assert_int_equal(conf->plans[0].quotas.events_per_minute, 60);
	/* Without max_quotas a manifest cannot raise its quotas. */
	assert_memory_equal(&conf->plans[0].max_quotas, &conf->plans[0].quotas, sizeof(struct tnd_quotas));
	/* Without ceiling_quotas an override cannot pass max_quotas; no budget. */
	assert_memory_equal(&conf->plans[0].ceiling_quotas, &conf->plans[0].max_quotas, sizeof(struct tnd_quotas));
	assert_int_equal(conf->plans[0].max_total_compute_units, 0);

	assert_int_equal(tokens_count(conf->tokens), 1);
	assert_int_equal(tokens_authenticate(conf->tokens, conf_token, &who), 0);
	assert_string_equal(who.name, "ops");

	conf_unref(conf);
	free(expected_tokens);
	free(expected_path);
}

/* The shipped example, as generated for this build, with a tokens file next to it. */
static void test_shipped_example_loads(void **state)
{
	char *example = tnd_xasprintf("%s/etc/tenancyd.conf", testutil_builddir());
	struct tnd_error err = { "" };
	const struct tnd_plan_conf *plan;
	const struct tnd_region_conf *region;
	struct tnd_conf *conf;
	char *text = NULL;

	(void)state;
	if (tnd_read_file(example, 1 << 20, &text, NULL, &err) != 0)
		fail_msg("%s", err.message);
	conf = load_ok(text);

	assert_int_equal(conf->n_regions, 5);
	assert_int_equal(conf->n_plans, 3);
	assert_string_equal(conf->daemon.user, "tenancyd");
	assert_string_equal(conf->api.host, "127.0.0.1");
	assert_int_equal(conf->api.port, 8470);
	assert_string_equal(conf->plugins.storage.name, "sqlite");
	assert_string_equal(json_string_value(json_object_get(conf->plugins.storage.settings, "synchronous")),
			    "full");
	assert_string_equal(conf->plugins.dir, TND_PLUGINDIR);
	assert_string_equal(conf->daemon.state_dir, TND_LOCALSTATEDIR);

	plan = conf_plan(conf, "free");
	assert_non_null(plan);
	assert_int_equal(plan->isolation_modes, TND_ISOLATION_SHARED);
	plan = conf_plan(conf, "business");
	assert_int_equal(plan->isolation_modes, TND_ISOLATION_SHARED | TND_ISOLATION_DEDICATED);
	plan = conf_plan(conf, "enterprise");
	assert_int_equal(plan->isolation_modes,
			 TND_ISOLATION_SHARED | TND_ISOLATION_DEDICATED | TND_ISOLATION_HYBRID);

	region = conf_region(conf, "eu-west-1");
	assert_string_equal(region->standby, "eu-central-1");
	assert_string_equal(conf_region(conf, "eu-central-1")->standby, "eu-west-1");
	assert_string_equal(conf_region(conf, "us-west-2")->residency, "us");
	assert_string_equal(json_string_value(json_object_get(region->data_plane, "shared_database")), "tenancy");
	/* the reconcile engine is a commented recipe: registry-only, defaults */
	assert_false(conf_reconcile_enabled(conf));
	assert_null(region->shared_plugin);
	assert_null(conf->reconcile.credentials_key_file);
	assert_int_equal(conf->reconcile.resync_interval_s, 60);
	assert_string_equal(conf->workers.endpoint, "ipc://" TND_LOCALSTATEDIR "/workers.sock");
	assert_int_equal(conf->workers.heartbeat_timeout_ms, 5000);
	assert_true(conf_residency_known(conf, "eu"));
	assert_true(conf_residency_known(conf, "us"));
	assert_true(conf_residency_known(conf, "apac"));
	assert_false(conf_residency_known(conf, "mars"));

	conf_unref(conf);
	free(text);
	free(example);
}

static void test_settings_to_json(void **state)
{
	const char *text = API_OK
		"plugins: {\n"
		"  storage: { name = \"sqlite\"; settings: {\n"
		"    count = 42; big = 5000000000L; hex = 0x10; negative = -7;\n"
		"    ratio = 0.25; on = true; off = false; path = \"reg.db\";\n"
		"    ports = [ 1, 2, 3 ]; names = [ \"a\", \"b\" ]; empty = [ ];\n"
		"    mixed = ( 1, \"two\", 3.5, { deep: { deeper = [ true ]; }; }, ( ) );\n"
		"    nested: { a: { b = \"c\"; }; };\n"
		"  }; };\n"
		"};\n"
		"regions = (\n  { name = \"eu-west-1\"; residency = \"eu\";\n"
		"    data_plane: { host = \"pg1\"; port = 5432; replicas = ( \"pg2\", \"pg3\" ); }; }\n);\n"
		PLANS_OK;
	json_t *want_settings = json_loads(
		"{\"count\": 42, \"big\": 5000000000, \"hex\": 16, \"negative\": -7,"
		" \"ratio\": 0.25, \"on\": true, \"off\": false, \"path\": \"reg.db\","
		" \"ports\": [1, 2, 3], \"names\": [\"a\", \"b\"], \"empty\": [],"
		" \"mixed\": [1, \"two\", 3.5, {\"deep\": {\"deeper\": [true]}}, []],"
		" \"nested\": {\"a\": {\"b\": \"c\"}}}", 0, NULL);
	json_t *want_plane = json_loads("{\"host\": \"pg1\", \"port\": 5432, \"replicas\": [\"pg2\", \"pg3\"]}",
					0, NULL);
	struct tnd_conf *conf = load_ok(text);

	(void)state;
	assert_non_null(want_settings);
	if (!json_equal(conf->plugins.storage.settings, want_settings)) {
		char *got = json_dumps(conf->plugins.storage.settings, JSON_SORT_KEYS);
		fail_msg("settings converted to %s", got);
	}
	/* Integers stay integers and floats stay reals, not just equal numbers. */
	assert_true(json_is_integer(json_object_get(conf->plugins.storage.settings, "big")));
	assert_true(json_is_real(json_object_get(conf->plugins.storage.settings, "ratio")));
	assert_true(json_equal(conf->regions[0].data_plane, want_plane));
	json_decref(want_settings);
	json_decref(want_plane);
	conf_unref(conf);
}

static void test_every_section_parsed(void **state)
{
	const char *text =
		"daemon: {\n  state_dir = \"/srv/tnd\"; pid_file = \"/run/t.pid\"; log_file = \"-\";\n"
		"  log_level = \"debug\"; user = \"_tenancyd\"; workers = 0; instance = \"cp-EU.1\";\n};\n"
		"api: {\n  listen = \"[::1]:8470\"; tokens_file = \"tokens\"; max_body_bytes = 1024;\n"
		"  max_depth = 256; max_connections = 65535; connection_timeout = 3600;\n"
		"  drain_timeout = 0; idempotency_ttl = 2592000;\n};\n"
		"plugins: {\n  dir = \"/opt/tnd/plugins\"; allow_unsafe_permissions = true;\n"
		"  storage: { name = \"sqlite\"; };\n"
		"  isolation = ( { name = \"shared_schema\"; file = \"/opt/x/shared_schema.so\";\n"
		"                  settings: { schema_prefix = \"t_\"; }; },\n"
		"                { name = \"dedicated_db\"; } );\n"
		"  policy: { name = \"rules\"; settings: { file = \"policy.rules\"; }; };\n"
		"  notifiers = ( { name = \"webhook\"; } );\n};\n"
		"reconcile: { credentials_key_file = \"credentials.key\"; };\n"
		"regions = (\n"
		"  { name = \"eu-west-1\"; residency = \"eu\"; standby = \"eu-central-1\"; capacity = 100; },\n"
		"  { name = \"eu-central-1\"; residency = \"eu\"; enabled = false; },\n"
		"  { name = \"1st-us\"; residency = \"us-gov\"; }\n);\n"
		"plans = (\n"
		"  { code = \"biz_2-x\"; description = \"Business\"; isolation = [ \"dedicated\", \"hybrid\" ];\n"
		"    default_isolation = \"hybrid\"; default_residency = \"us-gov\";\n"
		"    " QUOTAS_1 "\n"
		"    max_quotas: { compute_units = 2; storage_gb = 3; events_per_minute = 60; concurrent_operations = 4; };\n"
		"    ceiling_quotas: { compute_units = 8; storage_gb = 3; events_per_minute = 61; concurrent_operations = 4; };\n"
		"    max_total_compute_units = 500; }\n"
		");\n";
	struct tnd_conf *conf = load_ok(text);

	(void)state;
	assert_string_equal(conf->daemon.state_dir, "/srv/tnd");
	assert_string_equal(conf->daemon.pid_file, "/run/t.pid");
	assert_null(conf->daemon.log_file);
	assert_int_equal(conf->daemon.log_level, TND_LOG_DEBUG);
	assert_string_equal(conf->daemon.user, "_tenancyd");
	assert_int_equal(conf->daemon.workers, 0);
	assert_string_equal(conf->daemon.instance, "cp-EU.1");

	assert_string_equal(conf->api.listen, "[::1]:8470");
	assert_string_equal(conf->api.host, "::1");
	assert_int_equal(conf->api.port, 8470);
	assert_int_equal(conf->api.max_body_bytes, 1024);
	assert_int_equal(conf->api.max_depth, 256);
	assert_int_equal(conf->api.max_connections, 65535);
	assert_int_equal(conf->api.connection_timeout_s, 3600);
	assert_int_equal(conf->api.drain_timeout_s, 0);
	assert_int_equal(conf->api.idempotency_ttl_s, 2592000);

	assert_string_equal(conf->plugins.dir, "/opt/tnd/plugins");
	assert_true(conf->plugins.allow_unsafe_permissions);
	assert_int_equal(conf->plugins.n_isolation, 2);
	assert_string_equal(conf->plugins.isolation[0].file, "/opt/x/shared_schema.so");
	assert_string_equal(json_string_value(json_object_get(conf->plugins.isolation[0].settings, "schema_prefix")),
			    "t_");
	assert_int_equal(conf->plugins.isolation[0].line, line_of(text, "shared_schema"));
	assert_string_equal(conf->plugins.isolation[1].name, "dedicated_db");
	assert_null(conf->plugins.isolation[1].file);
	assert_string_equal(conf->plugins.policy->name, "rules");
	assert_int_equal(conf->plugins.n_notifiers, 1);
	assert_string_equal(conf->plugins.notifiers[0].name, "webhook");

	assert_int_equal(conf->n_regions, 3);
	assert_string_equal(conf->regions[0].standby, "eu-central-1");
	assert_int_equal(conf->regions[0].capacity, 100);
	assert_false(conf->regions[1].enabled);

	assert_int_equal(conf->plans[0].isolation_modes, TND_ISOLATION_DEDICATED | TND_ISOLATION_HYBRID);
	assert_int_equal(conf->plans[0].default_isolation, TND_ISOLATION_HYBRID);
	assert_string_equal(conf->plans[0].description, "Business");
	assert_int_equal(conf->plans[0].max_quotas.concurrent_operations, 4);
	assert_int_equal(conf->plans[0].ceiling_quotas.compute_units, 8);
	assert_int_equal(conf->plans[0].ceiling_quotas.events_per_minute, 61);
	assert_int_equal(conf->plans[0].max_total_compute_units, 500);
	conf_unref(conf);
}

/* Relative paths start at the config file's directory, wherever the daemon runs. */
static void test_relative_paths(void **state)
{
	const char *text =
		"daemon: { state_dir = \"state\"; pid_file = \"run/../tenancyd.pid\"; log_file = \"./logs//t.log\"; };\n"
		"api: { tokens_file = \"secrets/tokens\"; };\n"
		"plugins: { dir = \"plugins\"; storage: { name = \"sqlite\"; file = \"../elsewhere/sqlite.so\"; }; };\n"
		REGIONS_OK PLANS_OK;
	char *sub = tnd_xasprintf("%s/etc", conf_dir);
	char *secrets = tnd_xasprintf("%s/etc/secrets", conf_dir);
	char *cwd = getcwd(NULL, 0);
	struct tnd_error err = { "" };
	struct tnd_conf *conf = NULL;
	char *path, *expect;

	(void)state;
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(mkdir(secrets, 0700), 0);
	free(testutil_write_file(secrets, "tokens", "# none yet\n", 0600));
	free(testutil_write_file(sub, "tenancyd.conf", text, 0600));

	/* Load through a path relative to a working directory elsewhere. */
	assert_int_equal(chdir(conf_dir), 0);
	path = tnd_xstrdup("etc/../etc/tenancyd.conf");
	if (conf_load(path, &conf, &err) != 0)
		fail_msg("%s", err.message);
	assert_int_equal(chdir(cwd), 0);

	expect = tnd_xasprintf("%s/tenancyd.conf", sub);
	assert_string_equal(conf->path, expect);
	free(expect);
	expect = tnd_xasprintf("%s/state", sub);
	assert_string_equal(conf->daemon.state_dir, expect);
	free(expect);
	expect = tnd_xasprintf("%s/tenancyd.pid", sub);
	assert_string_equal(conf->daemon.pid_file, expect);
	free(expect);
	expect = tnd_xasprintf("%s/logs/t.log", sub);
	assert_string_equal(conf->daemon.log_file, expect);
	free(expect);
	expect = tnd_xasprintf("%s/secrets/tokens", sub);
	assert_string_equal(conf->api.tokens_file, expect);
	free(expect);
	expect = tnd_xasprintf("%s/plugins", sub);
	assert_string_equal(conf->plugins.dir, expect);
	free(expect);
	expect = tnd_xasprintf("%s/elsewhere/sqlite.so", conf_dir);
	assert_string_equal(conf->plugins.storage.file, expect);
	free(expect);

	conf_unref(conf);
	testutil_rmrf(sub);
	free(path);
	free(cwd);
	free(sub);
	free(secrets);
}

/* --- errors ------------------------------------------------------------------ */

static void test_syntax_error(void **state)
{
	(void)state;
	assert_conf_error(API_OK "plugins: {\n  storage: { name = ; }; #!\n};\n" REGIONS_OK PLANS_OK,
			  "syntax error");
}

static void test_audit_disabled(void **state)
{
	struct tnd_conf *conf = load_ok(MINIMAL "audit: { enabled = false; };\n");

	(void)state;
	assert_true(conf->audit.disabled);
	conf_unref(conf);
	assert_conf_error(MINIMAL "audit: { enabled = \"no\"; }; #!\n", "audit.enabled");
}

static void test_unknown_keys(void **state)
{
	(void)state;
	assert_conf_error(MINIMAL "audit: { key = \"x\"; }; #!\n", "unknown setting 'audit.key'");
	assert_conf_error("api: {\n  listn = \"127.0.0.1:1\"; #!\n  tokens_file = \"tokens\";\n};\n"
			  PLUGINS_OK REGIONS_OK PLANS_OK,
			  "unknown setting 'api.listn'");
	assert_conf_error(API_OK "plugins: {\n  storage: { name = \"sqlite\"; setings: { }; }; #!\n};\n"
			  REGIONS_OK PLANS_OK,
			  "unknown setting 'plugins.storage.setings'");
	assert_conf_error(API_OK PLUGINS_OK
			  "regions = (\n  { name = \"a\"; residency = \"eu\"; },\n"
			  "  { name = \"b\"; residency = \"eu\"; stanby = \"a\"; } #!\n);\n" PLANS_OK,
			  "unknown setting 'regions[1].stanby'");
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"free\"; isolation = [ \"shared\" ]; default_residency = \"eu\";\n"
			  "    quotas: { compute_units = 1; storage_gb = 1; events_per_minute = 60;\n"
			  "              concurrent_operations = 1; cpu = 2; }; } #!\n);\n",
			  "unknown setting 'plans[0].quotas.cpu'");
	assert_conf_error("daemon: { loglevel = \"info\"; }; #!\n" MINIMAL, "unknown setting 'daemon.loglevel'");
}

static void test_wrong_types(void **state)
{
	(void)state;
	assert_conf_error("daemon: {\n  workers = \"2\"; #!\n};\n" MINIMAL,
			  "'daemon.workers' must be an integer, not a string");
	assert_conf_error("daemon: {\n  workers = 2.0; #!\n};\n" MINIMAL,
			  "'daemon.workers' must be an integer, not a floating-point number");
	assert_conf_error(API_OK PLUGINS_OK
			  "regions = (\n  { name = \"a\"; residency = \"eu\"; enabled = 1; } #!\n);\n" PLANS_OK,
			  "'regions[0].enabled' must be a boolean (true or false), not an integer");
	assert_conf_error(API_OK PLUGINS_OK "regions: { name = \"a\"; }; #!\n" PLANS_OK,
			  "'regions' must be a list ( ... ), not a group");
	assert_conf_error(API_OK PLUGINS_OK "regions = ( \"eu-west-1\" ); #!\n" PLANS_OK,
			  "'regions[0]' must be a group { ... }, not a string");
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"free\"; isolation = \"shared\"; #!\n"
			  "    default_residency = \"eu\"; " QUOTAS_1 " }\n);\n",
			  "'plans[0].isolation' must be an array [ ... ], not a string");
	assert_conf_error(API_OK "plugins: {\n  storage = \"sqlite\"; #!\n};\n" REGIONS_OK PLANS_OK,
			  "'plugins.storage' must be a group { ... }, not a string");
	assert_conf_error(API_OK "plugins: {\n  storage: { name = \"sqlite\"; settings = 1; }; #!\n};\n"
			  REGIONS_OK PLANS_OK,
			  "'plugins.storage.settings' must be a group");
}

static void test_out_of_range(void **state)
{
	(void)state;
	assert_conf_error("api: {\n  tokens_file = \"tokens\";\n  max_depth = 2; #!\n};\n"
			  PLUGINS_OK REGIONS_OK PLANS_OK,
			  "'api.max_depth' is 2, must be between 4 and 256");
	assert_conf_error("api: {\n  tokens_file = \"tokens\";\n  idempotency_ttl = 2592001; #!\n};\n"
			  PLUGINS_OK REGIONS_OK PLANS_OK,
			  "'api.idempotency_ttl' is 2592001, must be between 60 and 2592000");
	assert_conf_error("api: {\n  tokens_file = \"tokens\";\n  max_body_bytes = 1023; #!\n};\n"
			  PLUGINS_OK REGIONS_OK PLANS_OK,
			  "'api.max_body_bytes' is 1023");
	assert_conf_error("api: {\n  tokens_file = \"tokens\";\n  drain_timeout = -1; #!\n};\n"
			  PLUGINS_OK REGIONS_OK PLANS_OK,
			  "'api.drain_timeout' is -1, must be between 0 and 600");
	assert_conf_error("daemon: {\n  workers = 65; #!\n};\n" MINIMAL,
			  "'daemon.workers' is 65, must be between 0 and 64");
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"free\"; isolation = [ \"shared\" ]; default_residency = \"eu\";\n"
			  "    quotas: { compute_units = 0; #!\n"
			  "    storage_gb = 1; events_per_minute = 60; concurrent_operations = 1; }; }\n);\n",
			  "'plans[0].quotas.compute_units' is 0, must be between 1 and");
}

static void test_bad_values(void **state)
{
	(void)state;
	assert_conf_error("daemon: {\n  log_level = \"verbose\"; #!\n};\n" MINIMAL,
			  "'daemon.log_level' is 'verbose'");
	assert_conf_error("daemon: {\n  instance = \"cp/1\"; #!\n};\n" MINIMAL,
			  "'daemon.instance' is not a valid instance name: 'cp/1'");
	assert_conf_error("daemon: {\n  instance = \"-cp\"; #!\n};\n" MINIMAL,
			  "'daemon.instance' is not a valid instance name");
	assert_conf_error("api: {\n  listen = \"localhost:8470\"; #!\n  tokens_file = \"tokens\";\n};\n"
			  PLUGINS_OK REGIONS_OK PLANS_OK, "'api.listen' is 'localhost:8470'");
	assert_conf_error("api: {\n  listen = \"127.0.0.1:65536\"; #!\n  tokens_file = \"tokens\";\n};\n"
			  PLUGINS_OK REGIONS_OK PLANS_OK, "'api.listen' is '127.0.0.1:65536'");
	assert_conf_error("api: {\n  listen = \"::1:80\"; #!\n  tokens_file = \"tokens\";\n};\n"
			  PLUGINS_OK REGIONS_OK PLANS_OK, "want <IPv4 address>:<port> or [<IPv6 address>]:<port>");
	assert_conf_error("api: {\n  listen = \"[::1]80\"; #!\n  tokens_file = \"tokens\";\n};\n"
			  PLUGINS_OK REGIONS_OK PLANS_OK, "'api.listen' is '[::1]80'");
	assert_conf_error("api: {\n  listen = \"127.0.0.1:\"; #!\n  tokens_file = \"tokens\";\n};\n"
			  PLUGINS_OK REGIONS_OK PLANS_OK, "'api.listen'");
	assert_conf_error(API_OK "plugins: {\n  storage: { name = \"SQLite\"; }; #!\n};\n" REGIONS_OK PLANS_OK,
			  "plugin name 'SQLite' is invalid");
	assert_conf_error(API_OK PLUGINS_OK "regions = (\n  { name = \"EU-west\"; residency = \"eu\"; } #!\n);\n"
			  PLANS_OK, "region name 'EU-west' is invalid");
	assert_conf_error(API_OK PLUGINS_OK "regions = (\n  { name = \"eu-west-1\"; residency = \"1eu\"; } #!\n);\n"
			  PLANS_OK, "residency zone '1eu' is invalid");
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"Free\"; #!\n isolation = [ \"shared\" ]; default_residency = \"eu\";\n"
			  "    " QUOTAS_1 " }\n);\n",
			  "plan code 'Free' is invalid");
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"free\"; isolation = [ \"shared\", \"sharded\" ]; #!\n"
			  "    default_residency = \"eu\"; " QUOTAS_1 " }\n);\n",
			  "unknown isolation mode 'sharded'");
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"free\"; isolation = [ ]; #!\n"
			  "    default_residency = \"eu\"; " QUOTAS_1 " }\n);\n",
			  "must name at least one isolation mode");
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"free\"; isolation = [ \"shared\", \"shared\" ]; #!\n"
			  "    default_residency = \"eu\"; " QUOTAS_1 " }\n);\n",
			  "lists isolation mode 'shared' twice");
	assert_conf_error(API_OK PLUGINS_OK "regions = ( ); #!\n" PLANS_OK, "at least one region");
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK "plans = ( ); #!\n", "at least one plan");
	assert_conf_error("daemon: {\n  state_dir = \"\"; #!\n};\n" MINIMAL, "'daemon.state_dir' must not be empty");
}

static void test_missing_required(void **state)
{
	struct tnd_conf *conf = NULL;
	struct tnd_error err = { "" };
	char *path, *expect;

	(void)state;
	assert_conf_error("api: { #!\n  listen = \"127.0.0.1:0\";\n};\n" PLUGINS_OK REGIONS_OK PLANS_OK,
			  "missing required setting 'api.tokens_file'");
	assert_conf_error(API_OK PLUGINS_OK
			  "regions = (\n  { name = \"eu-west-1\"; } #!\n);\n" PLANS_OK,
			  "missing required setting 'regions[0].residency'");

	/* A top-level section has no line to point at: the file is named alone. */
	path = write_conf(API_OK PLUGINS_OK REGIONS_OK);
	expect = tnd_xasprintf("%s: missing required setting 'plans'", path);
	assert_int_equal(conf_load(path, &conf, &err), -EINVAL);
	assert_string_equal(err.message, expect);
	free(expect);
	free(path);
}

static void test_duplicates(void **state)
{
	const char *regions = API_OK PLUGINS_OK
		"regions = (\n  { name = \"eu-west-1\"; residency = \"eu\"; }, #first\n"
		"  { name = \"eu-central-1\"; residency = \"eu\"; },\n"
		"  { name = \"eu-west-1\"; residency = \"eu\"; } #!\n);\n" PLANS_OK;
	const char *plans = API_OK PLUGINS_OK REGIONS_OK
		"plans = (\n  { code = \"free\"; isolation = [ \"shared\" ]; default_residency = \"eu\"; #first\n"
		"    " QUOTAS_1 " },\n"
		"  { code = \"free\"; isolation = [ \"shared\" ]; default_residency = \"eu\"; #!\n"
		"    " QUOTAS_1 " }\n);\n";
	const char *plugins = API_OK
		"plugins: {\n  storage: { name = \"sqlite\"; }; #first\n"
		"  notifiers = ( { name = \"webhook\"; },\n   { name = \"sqlite\"; } ); #!\n};\n"
		REGIONS_OK PLANS_OK;
	char *cause;

	(void)state;
	cause = tnd_xasprintf("duplicate region name 'eu-west-1' (first defined at line %u)",
			      line_of(regions, "#first"));
	assert_conf_error(regions, cause);
	free(cause);
	cause = tnd_xasprintf("duplicate plan code 'free' (first defined at line %u)", line_of(plans, "#first"));
	assert_conf_error(plans, cause);
	free(cause);
	cause = tnd_xasprintf("plugin 'sqlite' is configured twice (first at line %u)", line_of(plugins, "#first"));
	assert_conf_error(plugins, cause);
	free(cause);
}

static void test_references(void **state)
{
	(void)state;
	assert_conf_error(API_OK PLUGINS_OK
			  "regions = (\n  { name = \"eu-west-1\"; residency = \"eu\";\n"
			  "    standby = \"eu-north-1\"; } #!\n);\n" PLANS_OK,
			  "standby region 'eu-north-1' of region 'eu-west-1' is not defined in 'regions'");
	assert_conf_error(API_OK PLUGINS_OK
			  "regions = (\n  { name = \"eu-west-1\"; residency = \"eu\"; standby = \"eu-west-1\"; } #!\n);\n"
			  PLANS_OK,
			  "region 'eu-west-1' cannot be its own standby");
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"free\"; isolation = [ \"shared\", \"dedicated\" ];\n"
			  "    default_isolation = \"hybrid\"; #!\n"
			  "    default_residency = \"eu\"; " QUOTAS_1 " }\n);\n",
			  "default_isolation 'hybrid' of plan 'free' is not in its isolation list");
	assert_conf_error(API_OK PLUGINS_OK
			  "regions = (\n  { name = \"eu-west-1\"; residency = \"eu\"; },\n"
			  "  { name = \"us-east-1\"; residency = \"us\"; }\n);\n"
			  "plans = (\n  { code = \"free\"; isolation = [ \"shared\" ];\n"
			  "    default_residency = \"apac\"; #!\n    " QUOTAS_1 " }\n);\n",
			  "default_residency 'apac' of plan 'free' is not the residency of any region (known: eu, us)");
}

static void test_quota_above_max(void **state)
{
	(void)state;
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"biz\"; isolation = [ \"shared\" ]; default_residency = \"eu\";\n"
			  "    quotas: { compute_units = 4;\n"
			  "      storage_gb = 600; #!\n"
			  "      events_per_minute = 60; concurrent_operations = 1; };\n"
			  "    max_quotas: { compute_units = 16; storage_gb = 500; events_per_minute = 6000;\n"
			  "      concurrent_operations = 8; }; }\n);\n",
			  "'plans[0].quotas.storage_gb' is 600, above max_quotas.storage_gb (500)");
}

static void test_ceiling_below_max(void **state)
{
	(void)state;
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"biz\"; isolation = [ \"shared\" ]; default_residency = \"eu\";\n"
			  "    quotas: { compute_units = 4; storage_gb = 5; events_per_minute = 60; concurrent_operations = 1; };\n"
			  "    max_quotas: { compute_units = 16; #!\n"
			  "      storage_gb = 500; events_per_minute = 6000; concurrent_operations = 8; };\n"
			  "    ceiling_quotas: { compute_units = 8; storage_gb = 500; events_per_minute = 6000;\n"
			  "      concurrent_operations = 8; }; }\n);\n",
			  "'plans[0].max_quotas.compute_units' is 16, above ceiling_quotas.compute_units (8)");
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"biz\"; isolation = [ \"shared\" ]; default_residency = \"eu\";\n"
			  "    " QUOTAS_1 "\n    max_total_compute_units = -1; #!\n  }\n);\n",
			  "'plans[0].max_total_compute_units' is -1, must be between 0 and 1000000000");
}

static void test_tokens_file_problems(void **state)
{
	char *path;

	(void)state;
	assert_conf_error("api: {\n  tokens_file = \"no-such-tokens\"; #!\n};\n" PLUGINS_OK REGIONS_OK PLANS_OK,
			  "api.tokens_file: ");
	assert_conf_error("api: {\n  tokens_file = \"no-such-tokens\"; #!\n};\n" PLUGINS_OK REGIONS_OK PLANS_OK,
			  "/no-such-tokens: No such file or directory");

	path = testutil_write_file(conf_dir, "tokens-0644", "# readable by all\n", 0644);
	assert_conf_error("api: {\n  tokens_file = \"tokens-0644\"; #!\n};\n" PLUGINS_OK REGIONS_OK PLANS_OK,
			  "accessible by group or others (mode 0644, want 0600)");
	free(path);

	/* The tokens file's own errors keep its name and line. */
	path = testutil_write_file(conf_dir, "tokens-bad", "# ok\nx superuser sha256:00\n", 0600);
	assert_conf_error("api: {\n  tokens_file = \"tokens-bad\"; #!\n};\n" PLUGINS_OK REGIONS_OK PLANS_OK,
			  "tokens-bad:2: unknown role");
	free(path);
}

static void test_config_file_safety(void **state)
{
	struct tnd_conf *conf = NULL;
	struct tnd_error err = { "" };
	char *path, *missing, *include;

	(void)state;
	path = testutil_write_file(conf_dir, "group-writable.conf", MINIMAL, 0664);
	assert_int_equal(conf_load(path, &conf, &err), -EPERM);
	assert_non_null(strstr(err.message, path));
	assert_non_null(strstr(err.message, "writable by group or others (mode 0664)"));
	assert_null(conf);
	free(path);

	/* Readable by all is fine for the config: it holds no secrets. */
	path = testutil_write_file(conf_dir, "world-readable.conf", MINIMAL, 0644);
	assert_int_equal(conf_load(path, &conf, &err), 0);
	conf_unref(conf);
	conf = NULL;
	free(path);

	missing = tnd_xasprintf("%s/missing.conf", conf_dir);
	assert_int_equal(conf_load(missing, &conf, &err), -ENOENT);
	assert_non_null(strstr(err.message, missing));
	free(missing);

	/* An @include'd file is held to the same standard. */
	include = testutil_write_file(conf_dir, "plans.inc", PLANS_OK, 0666);
	path = testutil_write_file(conf_dir, "with-include.conf", API_OK PLUGINS_OK REGIONS_OK
				   "@include \"plans.inc\"\n", 0600);
	assert_int_equal(conf_load(path, &conf, &err), -EINVAL);
	assert_non_null(strstr(err.message, "refusing included file"));
	assert_non_null(strstr(err.message, "plans.inc: writable by group or others"));
	assert_int_equal(chmod(include, 0644), 0);
	assert_int_equal(conf_load(path, &conf, &err), 0);
	assert_int_equal(conf->n_plans, 1);
	conf_unref(conf);
	free(include);
	free(path);
}

/* --- references and the current snapshot ------------------------------------ */

static void test_ref_unref(void **state)
{
	struct tnd_conf *conf = load_ok(MINIMAL);

	(void)state;
	assert_ptr_equal(conf_ref(conf), conf);
	conf_unref(conf);
	/* Still alive: one reference left (valgrind/ASan would catch otherwise). */
	assert_string_equal(conf->plans[0].code, "free");
	conf_unref(conf);
	conf_unref(NULL);
	assert_null(conf_ref(NULL));
}

static atomic_bool hammer_stop;
static atomic_uint hammer_bad;
static atomic_ulong hammer_reads;

static void *hammer_reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&hammer_stop)) {
		struct tnd_conf *conf = conf_current_get1();
		struct tnd_principal who;

		/* Touch strings, JSON and tokens: any of them freed under us is a
		 * use-after-free for ASan and valgrind to report. */
		if (conf == NULL || strcmp(conf->regions[0].name, "eu-west-1") != 0 ||
		    json_integer_value(json_object_get(conf->regions[0].data_plane, "generation")) !=
			    (json_int_t)conf->daemon.workers ||
		    tokens_authenticate(conf->tokens, conf_token, &who) != 0)
			atomic_fetch_add(&hammer_bad, 1);
		conf_unref(conf);
		atomic_fetch_add(&hammer_reads, 1);
	}
	return NULL;
}

static struct tnd_conf *load_generation(unsigned generation)
{
	char *text = tnd_xasprintf("daemon: { workers = %u; };\n" API_OK PLUGINS_OK
				   "regions = ( { name = \"eu-west-1\"; residency = \"eu\";\n"
				   "  data_plane: { generation = %u; }; } );\n" PLANS_OK,
				   generation % 65, generation % 65);
	struct tnd_conf *conf = load_ok(text);

	free(text);
	return conf;
}

static void test_current_under_concurrency(void **state)
{
	enum { READERS = 4, REPLACEMENTS = 1000 };
	pthread_t threads[READERS];
	struct tnd_conf *last;

	(void)state;
	conf_current_replace(load_generation(0));
	atomic_store(&hammer_stop, false);
	for (int i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, hammer_reader, NULL), 0);
	for (unsigned i = 1; i <= REPLACEMENTS; i++)
		conf_current_replace(load_generation(i));
	atomic_store(&hammer_stop, true);
	for (int i = 0; i < READERS; i++)
		pthread_join(threads[i], NULL);

	assert_int_equal(atomic_load(&hammer_bad), 0);
	assert_true(atomic_load(&hammer_reads) > 0);
	print_message("%lu reads during %d replacements\n", atomic_load(&hammer_reads), REPLACEMENTS);

	last = conf_current_get1();
	assert_int_equal(last->daemon.workers, REPLACEMENTS % 65);
	conf_unref(last);
	/* Clearing drops the last reference, so nothing leaks at exit. */
	conf_current_replace(NULL);
	assert_null(conf_current_get1());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_shipped_example_loads),
		cmocka_unit_test(test_settings_to_json),
		cmocka_unit_test(test_every_section_parsed),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_audit_disabled),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_quota_above_max),
		cmocka_unit_test(test_ceiling_below_max),
		cmocka_unit_test(test_tokens_file_problems),
		cmocka_unit_test(test_config_file_safety),
		cmocka_unit_test(test_ref_unref),
		cmocka_unit_test(test_current_under_concurrency),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
