/*
 * test_embedded_shared_schema.c — the embedded_shared_schema plugin,
 * dlopen'ed from the build: the shared lifecycle scenarios, and what is
 * particular to the shared mode (the catalogue row in shared.db, the schema
 * attached by name next to an in-memory main).
 */
#include "autoconfig.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "embedded_harness.h"
#include "embedded_scenarios.h"
#include "util.h"

static void test_shared_namespace(void **state)
{
	struct eh *h = *state;
	char *schema_file = eh_schema_file(h, "acme-corp"), *want, *value, *dedicated;
	sqlite3 *db;

	json_decref(eh_ok(h, h->ops->provision, "acme-corp", "active"));
	assert_int_equal(eh_catalog_count(h, "shared.db", "tenancy_schemas", "acme-corp"), 1);
	/* shared mode makes no dedicated database */
	dedicated = tnd_xasprintf("%s/dedicated", h->dir);
	assert_int_equal(eh_mode(dedicated), -1);
	free(dedicated);

	assert_int_equal(eh_open(h, "acme-corp", eh_password("acme-corp"), &db), 0);
	/* main is private and in memory; the schema is the tenant's file, by name */
	value = eh_query1(db, "SELECT group_concat(name || '=' || file, ';') FROM pragma_database_list");
	want = tnd_xasprintf("main=;t_acme_corp=%s", schema_file);
	assert_string_equal(value, want);
	free(value);
	free(want);
	/* an object created outside the schema would vanish: refused */
	assert_int_equal(eh_exec(db, "CREATE TABLE orders (id INTEGER)"), SQLITE_AUTH);
	assert_int_equal(eh_exec(db, "CREATE TABLE t_acme_corp.orders (id INTEGER); INSERT INTO orders VALUES (7)"),
			 SQLITE_OK);
	value = eh_query1(db, "SELECT id FROM t_acme_corp.orders");
	assert_string_equal(value, "7");
	free(value);
	sqlite3_close(db);
	free(schema_file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		EMBEDDED_SCENARIOS(eh_setup_shared),
		cmocka_unit_test_setup_teardown(test_shared_namespace, eh_setup_shared, eh_teardown),
	};

	return cmocka_run_group_tests_name("embedded_shared_schema", tests, NULL, NULL);
}
