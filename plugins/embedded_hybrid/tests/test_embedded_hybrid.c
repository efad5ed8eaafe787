/*
 * test_embedded_hybrid.c — the embedded_hybrid plugin, dlopen'ed from the
 * build: the shared lifecycle scenarios, and what is particular to the
 * hybrid mode (a control schema in the shared database and a data file,
 * both in one connection, each watched by observe).
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "embedded_harness.h"
#include "embedded_scenarios.h"
#include "util.h"

static void test_hybrid_control_and_data(void **state)
{
	struct eh *h = *state;
	char *data_file = eh_data_file(h, "acme-corp"), *schema_file = eh_schema_file(h, "acme-corp"), *want, *value;
	json_t *obs;
	sqlite3 *db;

	json_decref(eh_ok(h, h->ops->provision, "acme-corp", "active"));
	assert_int_equal(eh_catalog_count(h, "shared.db", "tenancy_schemas", "acme-corp"), 1);
	assert_int_equal(eh_open(h, "acme-corp", eh_password("acme-corp"), &db), 0);
	value = eh_query1(db, "SELECT group_concat(name || '=' || file, ';') FROM pragma_database_list");
	want = tnd_xasprintf("main=%s;t_acme_corp=%s", data_file, schema_file);
	assert_string_equal(value, want);
	free(value);
	free(want);
	assert_int_equal(eh_exec(db, "CREATE TABLE t_acme_corp.settings (k TEXT); INSERT INTO settings VALUES ('plan');"
				     "CREATE TABLE main.orders (id INTEGER); INSERT INTO orders VALUES (7)"),
			 SQLITE_OK);
	sqlite3_close(db);

	/* each half is watched: the control file, the catalogue row */
	assert_int_equal(unlink(schema_file), 0);
	obs = eh_observe(h, "acme-corp", "active");
	assert_true(eh_drift_has(obs, "schema file"));
	assert_false(eh_drift_has(obs, "data file"));
	json_decref(obs);
	eh_catalog_exec(h, "shared.db", "DELETE FROM tenancy_schemas WHERE name = 't_acme_corp'");
	obs = eh_observe(h, "acme-corp", "active");
	assert_true(eh_drift_has(obs, "schema t_acme_corp not registered"));
	json_decref(obs);
	json_decref(eh_ok(h, h->ops->provision, "acme-corp", "active"));
	obs = eh_observe(h, "acme-corp", "active");
	assert_int_equal(eh_drift_count(obs), 0);
	json_decref(obs);
	/* the data half survived the repair of the control half */
	assert_int_equal(eh_open(h, "acme-corp", eh_password("acme-corp"), &db), 0);
	value = eh_query1(db, "SELECT id FROM main.orders");
	assert_string_equal(value, "7");
	free(value);
	sqlite3_close(db);
	free(data_file);
	free(schema_file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		EMBEDDED_SCENARIOS(eh_setup_hybrid),
		cmocka_unit_test_setup_teardown(test_hybrid_control_and_data, eh_setup_hybrid, eh_teardown),
	};

	return cmocka_run_group_tests_name("embedded_hybrid", tests, NULL, NULL);
}
