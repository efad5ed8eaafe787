/*
 * test_embedded_dedicated_db.c — the embedded_dedicated_db plugin,
 * dlopen'ed from the build: the shared lifecycle scenarios, and what is
 * particular to the dedicated mode (one file as main, nothing in the
 * shared database).
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

static void test_dedicated_database(void **state)
{
	struct eh *h = *state;
	char *data_file = eh_data_file(h, "acme-corp"), *want, *value, *path;
	sqlite3 *db;

	json_decref(eh_ok(h, h->ops->provision, "acme-corp", "active"));
	/* nothing in the shared database: no catalogue, no schema directory */
	path = tnd_xasprintf("%s/shared.db", h->dir);
	assert_int_equal(eh_mode(path), -1);
	free(path);
	path = tnd_xasprintf("%s/shared", h->dir);
	assert_int_equal(eh_mode(path), -1);
	free(path);
	path = tnd_xasprintf("%s/dedicated", h->dir);
	assert_int_equal(eh_mode(path), 0700);
	free(path);

	assert_int_equal(eh_open(h, "acme-corp", eh_password("acme-corp"), &db), 0);
	value = eh_query1(db, "SELECT group_concat(name || '=' || file, ';') FROM pragma_database_list");
	want = tnd_xasprintf("main=%s", data_file);
	assert_string_equal(value, want);
	free(value);
	free(want);
	/* unqualified names land in the tenant's own database */
	assert_int_equal(eh_exec(db, "CREATE TABLE orders (id INTEGER); INSERT INTO orders VALUES (7)"), SQLITE_OK);
	value = eh_query1(db, "SELECT id FROM main.orders");
	assert_string_equal(value, "7");
	free(value);
	sqlite3_close(db);
	free(data_file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		EMBEDDED_SCENARIOS(eh_setup_dedicated),
		cmocka_unit_test_setup_teardown(test_dedicated_database, eh_setup_dedicated, eh_teardown),
	};

	return cmocka_run_group_tests_name("embedded_dedicated_db", tests, NULL, NULL);
}
