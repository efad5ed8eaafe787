/*
 * test_sqlite_unsettled.c — the `unsettled` filter of tenant_search
 * (storage ABI 1.1), through the built sqlite.so: which tenants it selects
 * (version not yet observed, or a phase other than the desired state,
 * compared across their capitalization), combined with other filters, in
 * pages, as tenants settle and unsettle, and that a query from a core built
 * for ABI 1.0, whose size ends before the field, is served as before.  The
 * index that serves it is checked by EXPLAIN in test_sqlite_migration.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sqlite_harness.h"
#include "testutil.h"
#include "util.h"

/* Ids of one search (one page), comma-separated. */
static char *search_ids(struct harness *h, const struct tnd_tenant_query *query)
{
	struct tenant_list list = { 0 };
	struct tnd_buf out = { 0 };

	assert_int_equal(harness_search(h, query, &list), 0);
	for (size_t i = 0; i < list.n; i++)
		h->host->buf_printf(h->host, &out, "%s%s", i ? "," : "", list.items[i].id);
	tenant_list_free(&list);
	return out.data ? out.data : tnd_xstrdup("");
}

#define assert_search(h, query, expected)              \
	do {                                           \
		char *ids_ = search_ids((h), (query)); \
		assert_string_equal(ids_, (expected)); \
		free(ids_);                            \
	} while (0)

/* Every id a tenant search finds, paging with after_id. */
static char *search_all_ids(struct harness *h, const struct tnd_tenant_query *query)
{
	struct tnd_tenant_query q = *query;
	struct tnd_buf ids = { 0 };
	char cursor[64] = "";

	for (;;) {
		struct tenant_list page = { 0 };

		q.after_id = cursor[0] ? cursor : NULL;
		assert_int_equal(harness_search(h, &q, &page), 0);
		for (size_t i = 0; i < page.n; i++) {
			assert_true(strcmp(page.items[i].id, cursor) > 0);
			snprintf(cursor, sizeof(cursor), "%s", page.items[i].id);
			h->host->buf_printf(h->host, &ids, "%s%s", ids.len ? "," : "", page.items[i].id);
		}
		if (page.n == 0) {
			tenant_list_free(&page);
			break;
		}
		tenant_list_free(&page);
	}
	return ids.data ? ids.data : tnd_xstrdup("");
}

/* --- the filter ---------------------------------------------------------------------------- */

#define UNSETTLED_N 60

/* Tenant u-<i>: settled or not by i % 6, label half=yes on even i. */
static struct tnd_tenant_record unsettled_tenant(const char *id, int i)
{
	struct tnd_tenant_record rec = harness_tenant(id, "Active", i % 2 == 0 ? "{\"half\":\"yes\"}" : "{}");

	rec.version = 3;
	rec.observed_version = 3;
	switch (i % 6) {
	case 0: /* settled: Active is "active" */
		break;
	case 1: /* the data plane is behind */
		rec.observed_version = 2;
		break;
	case 2: /* being suspended */
		rec.state = "suspended";
		break;
	case 3: /* settled suspended */
		rec.phase = "Suspended";
		rec.state = "suspended";
		break;
	case 4: /* a settled tombstone */
		rec.phase = "Deleted";
		rec.state = "deleted";
		break;
	default: /* a draft being activated */
		rec.phase = "Draft";
		break;
	}
	return rec;
}

static char *unsettled_expected(struct harness *h, bool (*keep)(int i))
{
	struct tnd_buf ids = { 0 };

	for (int i = 0; i < UNSETTLED_N; i++)
		if (keep(i))
			h->host->buf_printf(h->host, &ids, "%su-%02d", ids.len ? "," : "", i);
	return ids.data ? ids.data : tnd_xstrdup("");
}

static bool keep_unsettled(int i)
{
	return i % 6 == 1 || i % 6 == 2 || i % 6 == 5;
}

static bool keep_unsettled_active(int i)
{
	return i % 6 == 1 || i % 6 == 2;
}

static bool keep_unsettled_half(int i)
{
	return keep_unsettled(i) && i % 2 == 0;
}

static bool keep_live(int i)
{
	return i % 6 != 4;
}

/* Paging through @query finds exactly the tenants @keep selects. */
static void unsettled_expect(struct harness *h, const struct tnd_tenant_query *query, bool (*keep)(int i))
{
	char *expected = unsettled_expected(h, keep);
	char *got = search_all_ids(h, query);

	assert_string_equal(got, expected);
	free(got);
	free(expected);
}

static void test_unsettled_filter(void **state)
{
	struct harness *h = *state;
	const char *half = "half", *yes = "yes";
	struct tnd_tenant_query q = { .size = sizeof(q), .unsettled = 1, .limit = 4 };
	struct tnd_tenant_record rec;
	struct tnd_error err = { { 0 } };
	char id[16];

	for (int i = 0; i < UNSETTLED_N; i++) {
		snprintf(id, sizeof(id), "u-%02d", i);
		rec = unsettled_tenant(id, i);
		assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &rec, &err), 0);
	}

	unsettled_expect(h, &q, keep_unsettled);
	assert_search(h, &q, "u-01,u-02,u-05,u-07");
	q.phase = "Active";
	unsettled_expect(h, &q, keep_unsettled_active);
	q.phase = NULL;
	q.label_keys = &half;
	q.label_values = &yes;
	q.n_labels = 1;
	unsettled_expect(h, &q, keep_unsettled_half);
	q.n_labels = 0;

	/* a core built for 1.0 passes a query that ends before the field:
	 * whatever lies behind it is not read */
	q.size = offsetof(struct tnd_tenant_query, unsettled);
	q.limit = 100;
	unsettled_expect(h, &q, keep_live);
	q.size = sizeof(q);
	q.unsettled = 0;
	unsettled_expect(h, &q, keep_live);
	q.unsettled = 1;

	/* settling takes a tenant out, a new version puts one in */
	rec = unsettled_tenant("u-01", 1);
	rec.observed_version = 3;
	rec.revision = 2;
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_UPDATE, 1, &rec, &err), 0);
	rec = unsettled_tenant("u-00", 0);
	rec.version = 4;
	rec.revision = 2;
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_UPDATE, 1, &rec, &err), 0);
	q.limit = 3;
	assert_search(h, &q, "u-00,u-02,u-05");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unsettled_filter, harness_setup_open, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
