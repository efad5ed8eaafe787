/*
 * test_quotas.c — effective quotas (plan defaults, manifest, overrides),
 * their comparison and JSON form; a plan's shared compute budget
 * (quota_usage.c) including 16 threads racing for the last units; and the
 * per-tenant limit of operations in flight (quota_inflight.c).
 */
#include "autoconfig.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "quota_inflight.h"
#include "quota_usage.h"
#include "quotas.h"

static struct tnd_plan_conf test_plan(const char *code, int64_t budget)
{
	return (struct tnd_plan_conf){
		.code = (char *)code,
		.quotas = { 2, 10, 100, 1 },
		.max_quotas = { 8, 100, 1000, 4 },
		.ceiling_quotas = { 32, 500, 5000, 8 },
		.max_total_compute_units = budget,
	};
}

static void test_plan_defaults_and_manifest(void **state)
{
	struct tnd_plan_conf plan = test_plan("business", 0);
	json_t *manifest = json_pack("{s:{s:s,s:{s:i,s:i}}}", "spec", "plan", "business", "quotas", "storageGb", 50,
				     "concurrentOperations", 3);
	struct tnd_quotas q;

	(void)state;
	quotas_from_manifest(&plan, NULL, &q);
	assert_true(quotas_equal(&q, &plan.quotas));
	quotas_from_manifest(&plan, manifest, &q);
	assert_int_equal(q.compute_units, 2);
	assert_int_equal(q.storage_gb, 50);
	assert_int_equal(q.events_per_minute, 100);
	assert_int_equal(q.concurrent_operations, 3);
	/* with no registry there are no overrides: effective = plan + manifest */
	{
		struct tnd_quotas e;
		assert_int_equal(quotas_effective(NULL, &plan, "acme", manifest, 0, &e, NULL), 0);
		assert_true(quotas_equal(&e, &q));
	}
	json_decref(manifest);
}

static void test_overrides_overlay(void **state)
{
	struct tnd_plan_conf plan = test_plan("business", 0);
	json_t *older = json_pack("{s:i,s:i,s:i}", "read", 50, "computeUnits", 20, "storageGb", 300);
	json_t *newer = json_pack("{s:i}", "computeUnits", 24);
	json_t *junk = json_pack("{s:s,s:i}", "storageGb", "lots", "eventsPerMinute", 0);
	struct tnd_quotas q;

	(void)state;
	quotas_from_manifest(&plan, NULL, &q);
	quotas_apply_override(&q, older);
	quotas_apply_override(&q, newer);
	/* field by field, the newest override last; rate-limit members ignored */
	assert_int_equal(q.compute_units, 24);
	assert_int_equal(q.storage_gb, 300);
	assert_int_equal(q.events_per_minute, 100);
	/* nothing but positive integers overlays */
	quotas_apply_override(&q, junk);
	assert_int_equal(q.storage_gb, 300);
	assert_int_equal(q.events_per_minute, 100);
	json_decref(older);
	json_decref(newer);
	json_decref(junk);
}

static void test_compare_and_json(void **state)
{
	struct tnd_quotas a = { 2, 10, 100, 1 }, b = a, c;
	json_t *obj;

	(void)state;
	assert_true(quotas_equal(&a, &b));
	assert_null(quotas_first_raise(&a, &b));
	b.events_per_minute = 50; /* lowering is not a raise */
	assert_null(quotas_first_raise(&a, &b));
	b.storage_gb = 11;
	assert_string_equal(quotas_first_raise(&a, &b)->name, "storageGb");
	assert_false(quotas_equal(&a, &b));

	obj = quotas_to_json(&b);
	assert_int_equal(json_integer_value(json_object_get(obj, "computeUnits")), 2);
	assert_int_equal(json_integer_value(json_object_get(obj, "concurrentOperations")), 1);
	assert_true(quotas_from_json(obj, &c));
	assert_true(quotas_equal(&b, &c));
	json_object_del(obj, "storageGb");
	assert_false(quotas_from_json(obj, &c));
	json_decref(obj);
	assert_string_equal(quota_field_find("eventsPerMinute")->conf_name, "events_per_minute");
	assert_null(quota_field_find("read"));
}

static void test_budget_reserve_settle(void **state)
{
	struct tnd_plan_conf plan = test_plan("metered", 10), open = test_plan("open", 0);
	int64_t used = -1;

	(void)state;
	quota_usage_reset();
	assert_true(quota_usage_reserve(&plan, 6, &used));
	assert_int_equal(used, 6);
	/* 6 reserved + 5 > 10: refused, and *used says how many are taken */
	assert_false(quota_usage_reserve(&plan, 5, &used));
	assert_int_equal(used, 6);
	quota_usage_settle("metered", 6, true);
	assert_int_equal(quota_usage_used("metered"), 6);
	assert_true(quota_usage_reserve(&plan, 4, NULL));
	quota_usage_settle("metered", 4, false); /* the commit failed: freed again */
	assert_int_equal(quota_usage_used("metered"), 6);
	quota_usage_add("metered", -6);          /* the tenant was deleted */
	assert_int_equal(quota_usage_used("metered"), 0);
	/* a plan without a budget never refuses */
	assert_true(quota_usage_reserve(&open, 1000000, NULL));
	quota_usage_reset();
}

struct race {
	const struct tnd_plan_conf *plan;
	pthread_barrier_t *start;
	int won;
};

static void *race_thread(void *arg)
{
	struct race *r = arg;

	pthread_barrier_wait(r->start);
	r->won = quota_usage_reserve(r->plan, 2, NULL);
	/* hold the reservation a moment, as a commit does */
	if (r->won)
		quota_usage_settle(r->plan->code, 2, true);
	return NULL;
}

static void test_budget_race_exactly_one(void **state)
{
	struct tnd_plan_conf plan = test_plan("metered", 10);
	pthread_t threads[16];
	struct race races[16];
	pthread_barrier_t start;
	int won = 0;

	(void)state;
	quota_usage_reset();
	quota_usage_add("metered", 8); /* 2 units left: room for one more tenant */
	pthread_barrier_init(&start, NULL, 16);
	for (int i = 0; i < 16; i++) {
		races[i] = (struct race){ &plan, &start, 0 };
		assert_int_equal(pthread_create(&threads[i], NULL, race_thread, &races[i]), 0);
	}
	for (int i = 0; i < 16; i++) {
		pthread_join(threads[i], NULL);
		won += races[i].won;
	}
	pthread_barrier_destroy(&start);
	assert_int_equal(won, 1);
	assert_int_equal(quota_usage_used("metered"), 10);
	quota_usage_reset();
}

static void test_inflight_limit(void **state)
{
	int64_t seen = -1;

	(void)state;
	assert_true(quota_inflight_enter("acme", NULL, 2, &seen));
	assert_int_equal(seen, 0);
	assert_true(quota_inflight_enter("acme", NULL, 2, &seen));
	assert_false(quota_inflight_enter("acme", NULL, 2, &seen));
	assert_int_equal(seen, 2);
	/* other tenants are counted apart */
	assert_true(quota_inflight_enter("beta", NULL, 1, NULL));
	assert_false(quota_inflight_enter("beta", NULL, 1, NULL));
	quota_inflight_leave("acme", NULL);
	assert_int_equal(quota_inflight_count("acme"), 1);
	assert_true(quota_inflight_enter("acme", NULL, 2, NULL));
	quota_inflight_leave("acme", NULL);
	quota_inflight_leave("acme", NULL);
	quota_inflight_leave("beta", NULL);
	assert_int_equal(quota_inflight_count("acme"), 0);
	assert_int_equal(quota_inflight_count("beta"), 0);
	/* unknown limit: never refused */
	assert_true(quota_inflight_enter("gamma", NULL, 0, NULL));
	quota_inflight_leave("gamma", NULL);
	/* a refusal leaves nothing behind */
	assert_true(quota_inflight_enter("delta", NULL, 1, NULL));
	assert_false(quota_inflight_enter("delta", NULL, 1, NULL));
	quota_inflight_leave("delta", NULL);
	assert_int_equal(quota_inflight_count("delta"), 0);
	/* requests sharing an Idempotency-Key are one operation */
	assert_true(quota_inflight_enter("eps", "k1", 1, NULL));
	assert_true(quota_inflight_enter("eps", "k1", 1, NULL));
	assert_false(quota_inflight_enter("eps", "k2", 1, NULL));
	assert_false(quota_inflight_enter("eps", NULL, 1, NULL));
	assert_int_equal(quota_inflight_count("eps"), 1);
	quota_inflight_leave("eps", "k1");
	assert_int_equal(quota_inflight_count("eps"), 1);
	quota_inflight_leave("eps", "k1");
	assert_int_equal(quota_inflight_count("eps"), 0);
	assert_true(quota_inflight_enter("eps", "k2", 1, NULL));
	quota_inflight_leave("eps", "k2");
	assert_int_equal(quota_inflight_count("eps"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_defaults_and_manifest),
		cmocka_unit_test(test_overrides_overlay),
		cmocka_unit_test(test_compare_and_json),
		cmocka_unit_test(test_budget_reserve_settle),
		cmocka_unit_test(test_budget_race_exactly_one),
		cmocka_unit_test(test_inflight_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
