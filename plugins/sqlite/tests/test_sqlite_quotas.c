/*
 * test_sqlite_quotas.c — the quota history the "ABI 1.2: quotas" block
 * added to the sqlite plugin, through the built sqlite.so: entries
 * appended and read back field by field with per-tenant seqs, oldest and
 * newest first with cursors and limits, the refusals, and an entry failing
 * with the rest of its commit.
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

static struct tnd_quota_record entry(const char *tenant, int64_t version, const char *quotas, int64_t time_ms)
{
	return (struct tnd_quota_record){
		.size = sizeof(struct tnd_quota_record), .tenant_id = tenant, .version = version,
		.quotas_json = quotas, .source = "manifest", .actor = "ops", .request_id = "rid-1", .time_ms = time_ms,
	};
}

static int collect(const struct tnd_quota_record *rec, void *userdata)
{
	struct tnd_buf *out = userdata;

	tnd_buf_addf(out, "%s%lld:v%lld:%s:%s:%s:%s:%lld", out->len ? ";" : "", (long long)rec->seq,
		     (long long)rec->version, rec->quotas_json, rec->source, rec->actor,
		     rec->request_id ? rec->request_id : "(null)", (long long)rec->time_ms);
	return 0;
}

static char *list(struct harness *h, const char *tenant, int64_t after, int newest_first, uint32_t limit)
{
	struct tnd_quota_query q = { .size = sizeof(q), .tenant_id = tenant, .after_seq = after,
				     .newest_first = newest_first, .limit = limit };
	struct tnd_buf out = { 0 };
	struct tnd_error err = { { 0 } };
	int r = h->ops->quota_list(h->ctx, &q, collect, &out, &err);

	if (r != 0)
		fail_msg("quota_list: %d %s", r, err.message);
	return out.data ? tnd_buf_steal(&out) : tnd_xstrdup("");
}

#define assert_list(got_expr, expected)                \
	do {                                           \
		char *got_ = (got_expr);               \
		assert_string_equal(got_, (expected)); \
		free(got_);                            \
	} while (0)

static void test_append_and_list(void **state)
{
	struct harness *h = *state;
	struct tnd_quota_record a = entry("t1", 1, "{\"computeUnits\":2}", 100);
	struct tnd_quota_record b = entry("t2", 1, "{\"computeUnits\":9}", 150);
	struct tnd_quota_record c = entry("t1", 2, "{\"computeUnits\":4}", 200);
	struct tnd_error err = { { 0 } };

	assert_int_equal(harness_commit1(h, TND_WRITE_QUOTA_APPEND, 0, &a, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_QUOTA_APPEND, 0, &b, &err), 0);
	c.request_id = NULL;
	c.source = "override";
	assert_int_equal(harness_commit1(h, TND_WRITE_QUOTA_APPEND, 0, &c, &err), 0);

	assert_list(list(h, "t1", 0, 0, 0),
		    "1:v1:{\"computeUnits\":2}:manifest:ops:rid-1:100;2:v2:{\"computeUnits\":4}:override:ops:(null):200");
	assert_list(list(h, "t2", 0, 0, 0), "1:v1:{\"computeUnits\":9}:manifest:ops:rid-1:150");
	assert_list(list(h, "t1", 1, 0, 0), "2:v2:{\"computeUnits\":4}:override:ops:(null):200");
	assert_list(list(h, "t1", 0, 0, 1), "1:v1:{\"computeUnits\":2}:manifest:ops:rid-1:100");
	/* newest first: the current entry, then older ones below a cursor */
	assert_list(list(h, "t1", 0, 1, 1), "2:v2:{\"computeUnits\":4}:override:ops:(null):200");
	assert_list(list(h, "t1", 2, 1, 0), "1:v1:{\"computeUnits\":2}:manifest:ops:rid-1:100");
	assert_list(list(h, "nobody", 0, 0, 0), "");
}

static void test_refusals(void **state)
{
	struct harness *h = *state;
	struct tnd_quota_record rec = entry("t1", 1, "{}", 1);
	struct tnd_quota_query q = { .size = sizeof(q) };
	struct tnd_error err = { { 0 } };

	rec.source = NULL;
	assert_int_equal(harness_commit1(h, TND_WRITE_QUOTA_APPEND, 0, &rec, &err), -EINVAL);
	assert_non_null(strstr(err.message, "source"));
	rec = entry("t1", 1, "[1]", 1);
	assert_int_equal(harness_commit1(h, TND_WRITE_QUOTA_APPEND, 0, &rec, &err), -EINVAL);
	rec = entry("t1", 1, "{}", 1);
	rec.size = 8;
	assert_int_equal(harness_commit1(h, TND_WRITE_QUOTA_APPEND, 0, &rec, &err), -EINVAL);
	/* a query must name its tenant */
	assert_int_equal(h->ops->quota_list(h->ctx, &q, collect, NULL, &err), -EINVAL);
	assert_list(list(h, "t1", 0, 0, 0), "");
}

static void test_fails_with_its_commit(void **state)
{
	struct harness *h = *state;
	struct tnd_tenant_record t = harness_tenant("t1", "Active", "{}");
	struct tnd_quota_record rec = entry("t1", 1, "{\"computeUnits\":2}", 1);
	struct tnd_write writes[] = {
		{ .kind = TND_WRITE_QUOTA_APPEND, .record = &rec },
		{ .kind = TND_WRITE_TENANT_INSERT, .record = &t },
	};
	struct tnd_error err = { { 0 } };
	size_t failed = 0;

	harness_insert(h, "t1");
	/* the tenant exists: the insert fails, and the history entry with it */
	assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -EEXIST);
	assert_int_equal(failed, 1);
	assert_list(list(h, "t1", 0, 0, 0), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_and_list, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_fails_with_its_commit, harness_setup_open, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
