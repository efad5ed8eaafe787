/*
 * test_pg_isolation.c — the PostgreSQL isolation plugins (shared_schema,
 * dedicated_db, hybrid) against a real, throwaway cluster: one cmocka
 * group per plugin running the same tests (pg_test_lifecycle.c,
 * pg_test_refusals.c), then checks of the settings and of what reached the
 * server's statement log.  Run through test_pg_isolation.sh, which starts
 * the cluster; without one the program SKIPs.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host.h"
#include "pg_test_harness.h"
#include "testutil.h"
#include "util.h"

static int setup_shared_schema(void **state)
{
	*state = pgt_plugin_load("shared_schema");
	return 0;
}

static int setup_dedicated_db(void **state)
{
	*state = pgt_plugin_load("dedicated_db");
	return 0;
}

static int setup_hybrid(void **state)
{
	*state = pgt_plugin_load("hybrid");
	return 0;
}

static int teardown_plugin(void **state)
{
	pgt_plugin_unload(*state);
	return 0;
}

/* check_config() and init() judge the plugin's own settings. */
static void test_pg_settings(void **state)
{
	static const struct {
		const char *json;
		int want;
	} cases[] = {
		{ "{}", 0 },
		{ "{\"connect_timeout\": 2, \"statement_timeout_ms\": 1000}", 0 },
		{ "{\"connect_timeout\": 0}", -ERANGE },
		{ "{\"statement_timeout_ms\": 99}", -ERANGE },
		{ "{\"statement_timeout_ms\": \"30s\"}", -EINVAL },
		{ "{\"conninfo_file\": \"/etc/x\"}", -EINVAL }, /* belongs in the data plane */
		{ "[]", -EINVAL },
	};
	struct pgt_plugin *p = pgt_plugin_load("hybrid");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *settings = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
		struct tnd_error err = { { 0 } };
		void *ctx = (void *)&ctx;
		int r;

		assert_non_null(settings);
		r = p->desc->check_config(p->host, host_json(settings), &err);
		if (r != cases[i].want)
			fail_msg("check_config %s: %d (%s)", cases[i].json, r, err.message);
		r = p->desc->init(p->host, host_json(settings), &ctx, &err);
		assert_int_equal(r, cases[i].want);
		if (r == 0)
			p->desc->fini(ctx);
		else
			assert_ptr_equal(ctx, (void *)&ctx); /* untouched on failure */
		json_decref(settings);
	}
	pgt_plugin_unload(p);
	(void)state;
}

/* Every statement reached the log (log_statement = all): no tenant password
 * did, only SCRAM verifiers; no admin password; no hostile id. */
static void test_pg_secrets_never_logged(void **state)
{
	struct tnd_error err = { { 0 } };
	size_t len, n = 0;
	char *log;

	assert_int_equal(tnd_read_file(pgt_cluster()->server_log, 1 << 30, &log, &len, &err), 0);
	assert_non_null(strstr(log, "PASSWORD 'SCRAM-SHA-256$")); /* so the check below can fail */
	for (const char *pw; (pw = pgt_password(n)) != NULL; n++)
		if (strstr(log, pw) != NULL)
			fail_msg("tenant password %s appears in the server log", pw);
	assert_true(n >= 20);
	assert_null(strstr(log, "hunter2"));
	assert_null(strstr(log, "DROP ROLE x"));
	free(log);
	(void)state;
}

#define PG_PLUGIN_TESTS                                      \
	cmocka_unit_test(test_pg_hostile_ids),               \
	cmocka_unit_test(test_pg_invalid_requests),          \
	cmocka_unit_test(test_pg_lifecycle),                 \
	cmocka_unit_test(test_pg_drift),                     \
	cmocka_unit_test(test_pg_default_endpoint),          \
	cmocka_unit_test(test_pg_statement_timeout),         \
	cmocka_unit_test(test_pg_concurrent),                \
	cmocka_unit_test(test_pg_createrole_admin)

int main(void)
{
	const struct CMUnitTest plugin_tests[] = { PG_PLUGIN_TESTS };
	const struct CMUnitTest cluster_tests[] = {
		cmocka_unit_test(test_pg_settings),
		cmocka_unit_test(test_pg_secrets_never_logged),
	};
	int failures = 0;

	pgt_cluster(); /* SKIP without one */
	testutil_log_capture_start();
	failures += cmocka_run_group_tests_name("shared_schema", plugin_tests, setup_shared_schema, teardown_plugin);
	failures += cmocka_run_group_tests_name("dedicated_db", plugin_tests, setup_dedicated_db, teardown_plugin);
	failures += cmocka_run_group_tests_name("hybrid", plugin_tests, setup_hybrid, teardown_plugin);
	failures += cmocka_run_group_tests_name("cluster", cluster_tests, NULL, NULL);
	testutil_log_capture_stop();
	pgt_harness_free();
	return failures == 0 ? 0 : 1;
}
