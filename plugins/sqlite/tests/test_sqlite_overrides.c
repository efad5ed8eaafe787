/*
 * test_sqlite_overrides.c — what storage ABI 1.2 added to the sqlite
 * plugin, driven through the built sqlite.so: overrides inserted and read
 * back field by field, the refusals (duplicate id, missing fields, a
 * record smaller than 1.2's, an expiry before creation), the list filters
 * (tenant, active at a time, cursor, limit), and an override failing with
 * the rest of its commit.
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
#include "sqlite_harness.h"
#include "testutil.h"
#include "util.h"

static struct tnd_override_record override(const char *id, const char *tenant, int64_t created, int64_t expires)
{
	return (struct tnd_override_record){
		.size = sizeof(struct tnd_override_record), .id = id, .tenant_id = tenant,
		.limits_json = "{\"read\":50}", .actor = "admin", .request_id = "rid-1", .reason = "load test",
		.created_ms = created, .expires_ms = expires,
	};
}

/* Ids (comma-separated) and, for the first, every field, of what @query finds. */
struct collected {
	struct tnd_buf ids;
	char first[512];
};

static int collect(const struct tnd_override_record *rec, void *userdata)
{
	struct collected *c = userdata;

	if (c->ids.len == 0)
		snprintf(c->first, sizeof(c->first), "%s|%s|%s|%s|%s|%s|%lld|%lld", rec->id, rec->tenant_id,
			 rec->limits_json, rec->actor, rec->request_id ? rec->request_id : "(null)",
			 rec->reason ? rec->reason : "(null)", (long long)rec->created_ms, (long long)rec->expires_ms);
	tnd_buf_addf(&c->ids, "%s%s", c->ids.len ? "," : "", rec->id);
	return 0;
}

static char *list_ids(struct harness *h, const char *tenant, int64_t active_at, const char *after, uint32_t limit,
		      char *first, size_t cap)
{
	struct tnd_override_query q = { .size = sizeof(q), .tenant_id = tenant, .active_at_ms = active_at,
					.after_id = after, .limit = limit };
	struct collected c = { 0 };
	struct tnd_error err = { { 0 } };
	int r = h->ops->override_list(h->ctx, &q, collect, &c, &err);

	if (r != 0)
		fail_msg("override_list: %d %s", r, err.message);
	if (first)
		snprintf(first, cap, "%s", c.first);
	return c.ids.data ? tnd_buf_steal(&c.ids) : tnd_xstrdup("");
}

#define assert_ids(got_expr, expected)                 \
	do {                                           \
		char *got_ = (got_expr);               \
		assert_string_equal(got_, (expected)); \
		free(got_);                            \
	} while (0)

static void test_roundtrip_and_filters(void **state)
{
	struct harness *h = *state;
	struct tnd_override_record a = override("ovr-1", "t1", 1000, 5000);
	struct tnd_override_record b = override("ovr-2", "t2", 2000, 3000);
	struct tnd_override_record c = override("ovr-3", "t1", 3000, 9000);
	struct tnd_error err = { { 0 } };
	char first[512];

	assert_non_null(h->ops->override_list);
	c.request_id = NULL;
	c.reason = NULL;
	assert_int_equal(harness_commit1(h, TND_WRITE_OVERRIDE_INSERT, 0, &a, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_OVERRIDE_INSERT, 0, &b, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_OVERRIDE_INSERT, 0, &c, &err), 0);

	assert_ids(list_ids(h, NULL, 0, NULL, 0, first, sizeof(first)), "ovr-1,ovr-2,ovr-3");
	assert_string_equal(first, "ovr-1|t1|{\"read\":50}|admin|rid-1|load test|1000|5000");
	assert_ids(list_ids(h, "t1", 0, NULL, 0, NULL, 0), "ovr-1,ovr-3");
	assert_ids(list_ids(h, "t1", 4000, NULL, 0, first, sizeof(first)), "ovr-1,ovr-3");
	assert_string_equal(first, "ovr-1|t1|{\"read\":50}|admin|rid-1|load test|1000|5000");
	/* active at: expires strictly later */
	assert_ids(list_ids(h, NULL, 5000, NULL, 0, first, sizeof(first)), "ovr-3");
	assert_string_equal(first, "ovr-3|t1|{\"read\":50}|admin|(null)|(null)|3000|9000");
	assert_ids(list_ids(h, NULL, 2999, NULL, 0, NULL, 0), "ovr-1,ovr-2,ovr-3");
	assert_ids(list_ids(h, "t2", 3000, NULL, 0, NULL, 0), "");
	assert_ids(list_ids(h, "nobody", 0, NULL, 0, NULL, 0), "");
	/* paging */
	assert_ids(list_ids(h, NULL, 0, NULL, 2, NULL, 0), "ovr-1,ovr-2");
	assert_ids(list_ids(h, NULL, 0, "ovr-2", 2, NULL, 0), "ovr-3");
	/* NULL query: everything */
	{
		struct collected all = { 0 };

		assert_int_equal(h->ops->override_list(h->ctx, NULL, collect, &all, &err), 0);
		assert_string_equal(all.ids.data, "ovr-1,ovr-2,ovr-3");
		tnd_buf_free(&all.ids);
	}
}

static void test_refusals(void **state)
{
	struct harness *h = *state;
	struct tnd_override_record rec = override("ovr-1", "t1", 1000, 5000);
	struct tnd_error err = { { 0 } };

	assert_int_equal(harness_commit1(h, TND_WRITE_OVERRIDE_INSERT, 0, &rec, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_OVERRIDE_INSERT, 0, &rec, &err), -EEXIST);
	rec = override("ovr-2", NULL, 1000, 5000);
	assert_int_equal(harness_commit1(h, TND_WRITE_OVERRIDE_INSERT, 0, &rec, &err), -EINVAL);
	rec = override("ovr-2", "t1", 1000, 1000);
	assert_int_equal(harness_commit1(h, TND_WRITE_OVERRIDE_INSERT, 0, &rec, &err), -EINVAL);
	rec = override("ovr-2", "t1", 1000, 5000);
	rec.limits_json = "[1]";
	assert_int_equal(harness_commit1(h, TND_WRITE_OVERRIDE_INSERT, 0, &rec, &err), -EINVAL);
	rec = override("ovr-2", "t1", 1000, 5000);
	rec.size = sizeof(uint32_t) + sizeof(void *); /* an older core's record */
	assert_int_equal(harness_commit1(h, TND_WRITE_OVERRIDE_INSERT, 0, &rec, &err), -EINVAL);
	{
		struct tnd_override_query q = { .size = sizeof(uint32_t) };

		assert_int_equal(h->ops->override_list(h->ctx, &q, collect, NULL, &err), -EINVAL);
	}
	assert_ids(list_ids(h, NULL, 0, NULL, 0, NULL, 0), "ovr-1");
}

static void test_fails_with_its_commit(void **state)
{
	struct harness *h = *state;
	struct tnd_override_record rec = override("ovr-9", "t1", 1000, 5000);
	struct tnd_phase_record phase = {
		.size = sizeof(phase), .tenant_id = "nobody", .from_phase = "Draft", .to_phase = "Active",
		.version = 2, .actor = "admin", .time_ms = 5,
	};
	struct tnd_write writes[2] = {
		{ .kind = TND_WRITE_OVERRIDE_INSERT, .record = &rec },
		{ .kind = TND_WRITE_PHASE_APPEND, .record = &phase },
	};
	struct tnd_error err = { { 0 } };
	size_t failed = 99;

	assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -ENOENT);
	assert_int_equal(failed, 1);
	assert_ids(list_ids(h, NULL, 0, NULL, 0, NULL, 0), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_and_filters, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_fails_with_its_commit, harness_setup_open, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
