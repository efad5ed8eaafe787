/*
 * test_ratelimit.c — the rate-limit bucket table on an injected clock:
 * burst and refill, the Retry-After and reset values, refused requests
 * charging nothing, refunds, limits changed under a live bucket (a reload),
 * eviction keeping memory bounded, shards that do not disturb each other,
 * memos, and the config groups that feed it (api and plan rate_limits).
 */
#include "autoconfig.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "conf_fixture.h"
#include "ratelimit.h"

#define MS 1000000LL
#define S 1000000000LL

static int64_t fake_now;

static int64_t fake_clock(void *userdata)
{
	(void)userdata;
	return fake_now;
}

static struct ratelimit *new_table(unsigned shards, size_t max_entries)
{
	fake_now = 1000 * S;
	return ratelimit_new(shards, max_entries, fake_clock, NULL);
}

static struct ratelimit_verdict take(struct ratelimit *rl, const char *key, uint32_t quota, uint32_t window)
{
	struct ratelimit_verdict v;

	ratelimit_take(rl, key, (struct ratelimit_limit){ quota, window }, &v);
	return v;
}

/* How many of @n requests at the current instant are admitted. */
static unsigned admitted(struct ratelimit *rl, const char *key, uint32_t quota, uint32_t window, unsigned n)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += take(rl, key, quota, window).allowed;
	return ok;
}

static void test_burst_then_refill(void **state)
{
	struct ratelimit *rl = new_table(4, 1000);
	struct ratelimit_verdict v;

	(void)state;
	/* the whole quota at once, counting down */
	for (unsigned i = 0; i < 10; i++) {
		v = take(rl, "a", 10, 1);
		assert_true(v.allowed);
		assert_int_equal(v.remaining, 9 - i);
	}
	assert_false(take(rl, "a", 10, 1).allowed);
	/* one request's worth comes back every window/quota */
	fake_now += 100 * MS;
	assert_int_equal(admitted(rl, "a", 10, 1, 5), 1);
	fake_now += 250 * MS;
	assert_int_equal(admitted(rl, "a", 10, 1, 5), 2);
	/* a full window later the full burst is back, and no more */
	fake_now += S;
	assert_int_equal(admitted(rl, "a", 10, 1, 50), 10);

	/* a longer window: 100 per 10 s is a burst of 100 refilling at 10/s */
	assert_int_equal(admitted(rl, "b", 100, 10, 150), 100);
	fake_now += S;
	assert_int_equal(admitted(rl, "b", 100, 10, 150), 10);
	ratelimit_free(rl);
}

static void test_retry_after_and_reset(void **state)
{
	struct ratelimit *rl = new_table(1, 100);
	struct ratelimit_verdict v;

	(void)state;
	v = take(rl, "k", 1, 60);
	assert_true(v.allowed);
	assert_int_equal(v.remaining, 0);
	assert_int_equal(v.reset_s, 60);
	v = take(rl, "k", 1, 60);
	assert_false(v.allowed);
	assert_int_equal(v.retry_after_s, 60);
	assert_int_equal(v.reset_s, 60);
	fake_now += 30 * S;
	v = take(rl, "k", 1, 60);
	assert_false(v.allowed);
	assert_int_equal(v.retry_after_s, 30);
	/* rounded up, never 0 while refused */
	fake_now += 29 * S + 500 * MS;
	v = take(rl, "k", 1, 60);
	assert_false(v.allowed);
	assert_int_equal(v.retry_after_s, 1);
	fake_now += 500 * MS;
	assert_true(take(rl, "k", 1, 60).allowed);

	/* quota 4 per 2 s: after the burst the next one is 0.5 s away → 1 s */
	assert_int_equal(admitted(rl, "q", 4, 2, 4), 4);
	v = take(rl, "q", 4, 2);
	assert_false(v.allowed);
	assert_int_equal(v.retry_after_s, 1);
	assert_int_equal(v.reset_s, 2);
	ratelimit_free(rl);
}

static void test_refused_charges_nothing_and_refund(void **state)
{
	struct ratelimit *rl = new_table(1, 100);

	(void)state;
	assert_int_equal(admitted(rl, "k", 10, 1, 10), 10);
	/* hammering while empty does not push the next slot further away */
	assert_int_equal(admitted(rl, "k", 10, 1, 1000), 0);
	fake_now += 100 * MS;
	assert_int_equal(admitted(rl, "k", 10, 1, 5), 1);
	/* a refund gives exactly one back */
	ratelimit_refund(rl, "k", (struct ratelimit_limit){ 10, 1 });
	assert_int_equal(admitted(rl, "k", 10, 1, 5), 1);
	/* ... and never more than a full bucket */
	fake_now += 10 * S;
	for (int i = 0; i < 20; i++)
		ratelimit_refund(rl, "k", (struct ratelimit_limit){ 10, 1 });
	assert_int_equal(admitted(rl, "k", 10, 1, 50), 10);
	/* a refund of an unknown key is harmless */
	ratelimit_refund(rl, "nobody", (struct ratelimit_limit){ 10, 1 });
	ratelimit_free(rl);
}

static void test_unlimited_tracks_nothing(void **state)
{
	struct ratelimit *rl = new_table(4, 100);

	(void)state;
	assert_int_equal(admitted(rl, "free", 0, 1, 10000), 10000);
	assert_int_equal(ratelimit_size(rl), 0);
	ratelimit_free(rl);
}

/* A reload changes the limit a live bucket is judged by, at once. */
static void test_limit_change_applies_to_live_bucket(void **state)
{
	struct ratelimit *rl = new_table(1, 100);

	(void)state;
	assert_int_equal(admitted(rl, "k", 10, 1, 5), 5);    /* 5 counted */
	/* lowered to 2 per second: 5 counted is more than a full window */
	assert_int_equal(admitted(rl, "k", 2, 1, 5), 0);
	fake_now += 500 * MS;
	assert_int_equal(admitted(rl, "k", 2, 1, 5), 1);
	/* raised to 100 per second: what was counted (a full bucket of 2)
	 * leaves 98 at once */
	assert_int_equal(admitted(rl, "k", 100, 1, 500), 98);
	/* a full window later the full new burst */
	fake_now += S;
	assert_int_equal(admitted(rl, "k", 100, 1, 500), 100);
	/* exhausted under 1 per minute, then 10 per second: one counted, 9 left */
	assert_int_equal(admitted(rl, "m", 1, 60, 5), 1);
	assert_int_equal(admitted(rl, "m", 10, 1, 50), 9);
	ratelimit_free(rl);
}

static void test_idle_buckets_are_evicted(void **state)
{
	struct ratelimit *rl = new_table(4, 64);
	char key[32];

	(void)state;
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "tenant-%d", i);
		assert_true(take(rl, key, 5, 1).allowed);
	}
	assert_int_equal(ratelimit_size(rl), 40);
	assert_int_equal(ratelimit_evict_idle(rl), 0);   /* all still refilling */
	fake_now += S;
	assert_int_equal(ratelimit_evict_idle(rl), 40);  /* all full again */
	assert_int_equal(ratelimit_size(rl), 0);
	/* an evicted bucket was full: a new one behaves the same */
	assert_int_equal(admitted(rl, "tenant-3", 5, 1, 10), 5);
	ratelimit_free(rl);
}

static void test_memory_is_bounded(void **state)
{
	struct ratelimit *rl = new_table(4, 64);
	char key[32];

	(void)state;
	/* 10000 tenants at one instant, every bucket busy: the table holds at
	 * most its capacity, dropping the entries closest to full */
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "tenant-%d", i);
		assert_true(take(rl, key, 5, 1).allowed);
		assert_true(ratelimit_size(rl) <= 64);
	}
	assert_true(ratelimit_forced_evictions(rl) >= 10000 - 64);
	/* idle entries are swept on insert once a shard is full, without forcing */
	fake_now += 2 * S;
	{
		uint64_t forced = ratelimit_forced_evictions(rl);

		for (int i = 0; i < 10000; i++) {
			snprintf(key, sizeof(key), "other-%d", i);
			take(rl, key, 5, 1);
			fake_now += S; /* each one idle before the next arrives */
		}
		assert_int_equal(ratelimit_forced_evictions(rl), forced);
	}
	ratelimit_free(rl);
}

/* Two keys that live in different shards. */
static void keys_in_two_shards(struct ratelimit *rl, char *a, char *b, size_t cap)
{
	snprintf(a, cap, "key-0");
	for (int i = 1; i < 1000; i++) {
		snprintf(b, cap, "key-%d", i);
		if (ratelimit_shard_of(rl, a) != ratelimit_shard_of(rl, b))
			return;
	}
	fail_msg("no two keys in different shards");
}

static void test_shards_are_independent(void **state)
{
	struct ratelimit *rl = new_table(2, 16); /* 8 entries per shard */
	unsigned used[2] = { 0, 0 };
	char a[32], b[32], key[32];
	unsigned shard_b;

	(void)state;
	assert_int_equal(ratelimit_shard_count(rl), 2);
	keys_in_two_shards(rl, a, b, sizeof(a));
	shard_b = ratelimit_shard_of(rl, b);
	/* b's bucket is exhausted and busy for a minute */
	assert_int_equal(admitted(rl, b, 3, 60, 3), 3);
	/* flood a's shard far past its capacity: only it evicts */
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "flood-%d", i);
		if (ratelimit_shard_of(rl, key) == shard_b)
			continue;
		take(rl, key, 3, 60);
		used[1 - shard_b]++;
	}
	assert_true(used[1 - shard_b] > 100);
	assert_true(ratelimit_forced_evictions(rl) > 0);
	assert_false(take(rl, b, 3, 60).allowed);     /* b's state survived */

	/* keys spread over every shard of a bigger table */
	{
		struct ratelimit *big = new_table(16, 16000);
		unsigned hits[16] = { 0 };

		assert_int_equal(ratelimit_shard_count(big), 16);
		for (int i = 0; i < 1600; i++) {
			snprintf(key, sizeof(key), "tenant-%d\x1fr", i);
			hits[ratelimit_shard_of(big, key)]++;
		}
		for (int i = 0; i < 16; i++)
			assert_true(hits[i] > 50 && hits[i] < 150);
		ratelimit_free(big);
	}
	ratelimit_free(rl);
}

/* Threads on their own keys, real clock: no admission is lost or doubled. */
struct worker_arg {
	struct ratelimit *rl;
	int id;
	unsigned ok;
};

static void *worker(void *p)
{
	struct worker_arg *arg = p;
	char key[32];

	snprintf(key, sizeof(key), "thread-%d", arg->id);
	for (int i = 0; i < 20000; i++) {
		struct ratelimit_verdict v;

		/* a day's window: no refill during the run */
		ratelimit_take(arg->rl, key, (struct ratelimit_limit){ 1000, 86400 }, &v);
		arg->ok += v.allowed;
	}
	return NULL;
}

static void test_concurrent_exact_counts(void **state)
{
	struct ratelimit *rl = ratelimit_new(8, 1000, NULL, NULL);
	struct worker_arg args[8];
	pthread_t threads[8];

	(void)state;
	for (int i = 0; i < 8; i++) {
		args[i] = (struct worker_arg){ rl, i, 0 };
		pthread_create(&threads[i], NULL, worker, &args[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(args[i].ok, 1000);
	}
	ratelimit_free(rl);
}

static void test_memos(void **state)
{
	struct ratelimit *rl = new_table(4, 100);
	char buf[RATELIMIT_MEMO_MAX];

	(void)state;
	assert_false(ratelimit_memo_get(rl, "plan\x1f" "t1", buf, sizeof(buf)));
	ratelimit_memo_set(rl, "plan\x1f" "t1", "business", 10);
	assert_true(ratelimit_memo_get(rl, "plan\x1f" "t1", buf, sizeof(buf)));
	assert_string_equal(buf, "business");
	/* a memo and a bucket of the same name are different entries */
	assert_true(take(rl, "plan\x1f" "t1", 1, 60).allowed);
	assert_true(ratelimit_memo_get(rl, "plan\x1f" "t1", buf, sizeof(buf)));
	ratelimit_memo_set(rl, "plan\x1f" "t1", "", 10);
	assert_true(ratelimit_memo_get(rl, "plan\x1f" "t1", buf, sizeof(buf)));
	assert_string_equal(buf, "");
	fake_now += 10 * S;
	assert_false(ratelimit_memo_get(rl, "plan\x1f" "t1", buf, sizeof(buf)));
	ratelimit_free(rl);
}

/* --- the config groups ------------------------------------------------------ */

#define PLANS_LIMITED                                                                                   \
	"plans = (\n"                                                                                   \
	"  { code = \"free\"; isolation = [ \"shared\" ]; default_residency = \"eu\";\n"             \
	"    " QUOTAS_1 "\n"                                                                           \
	"    rate_limits: { read = 10; write = 2; }; },\n"                                             \
	"  { code = \"big\"; isolation = [ \"shared\" ]; default_residency = \"eu\";\n"              \
	"    " QUOTAS_1 " }\n"                                                                          \
	");\n"

static void test_conf_defaults_unlimited(void **state)
{
	struct tnd_conf *conf = load_ok(MINIMAL);

	(void)state;
	assert_int_equal(conf->api.rate_limits.read, 0);
	assert_int_equal(conf->api.rate_limits.write, 0);
	assert_int_equal(conf->api.rate_limits.token, 0);
	assert_int_equal(conf->api.rate_limits.window_s, 1);
	assert_int_equal(conf->api.rate_limit_shards, 64);
	assert_int_equal(conf->api.rate_limit_max_buckets, 100000);
	assert_int_equal(conf->api.rate_limit_plan_ttl_s, 10);
	assert_int_equal(conf->plans[0].rate_limits.read, 0);
	conf_unref(conf);
}

static void test_conf_plan_overrides_api(void **state)
{
	struct tnd_conf *conf = load_ok(
		"api: {\n  listen = \"127.0.0.1:0\";\n  tokens_file = \"tokens\";\n"
		"  rate_limits: { window = 2; read = 100; write = 20; token = 300; max_buckets = 5000; shards = 8;"
		" plan_cache_ttl = 3; };\n};\n" PLUGINS_OK REGIONS_OK PLANS_LIMITED);
	const struct tnd_plan_conf *free_plan, *big;

	(void)state;
	assert_int_equal(conf->api.rate_limits.window_s, 2);
	assert_int_equal(conf->api.rate_limits.read, 100);
	assert_int_equal(conf->api.rate_limits.write, 20);
	assert_int_equal(conf->api.rate_limits.token, 300);
	assert_int_equal(conf->api.rate_limit_max_buckets, 5000);
	assert_int_equal(conf->api.rate_limit_shards, 8);
	assert_int_equal(conf->api.rate_limit_plan_ttl_s, 3);
	free_plan = conf_plan(conf, "free");
	big = conf_plan(conf, "big");
	/* the plan's keys win; the window it does not name is the api's */
	assert_int_equal(free_plan->rate_limits.read, 10);
	assert_int_equal(free_plan->rate_limits.write, 2);
	assert_int_equal(free_plan->rate_limits.window_s, 2);
	/* a plan without the group inherits the api defaults */
	assert_int_equal(big->rate_limits.read, 100);
	assert_int_equal(big->rate_limits.write, 20);
	conf_unref(conf);
}

static void test_conf_errors(void **state)
{
	(void)state;
	assert_conf_error("api: {\n  listen = \"127.0.0.1:0\";\n  tokens_file = \"tokens\";\n"
			  "  rate_limits: { reads = 5; }; #!\n};\n" PLUGINS_OK REGIONS_OK PLANS_OK,
			  "unknown setting");
	assert_conf_error("api: {\n  listen = \"127.0.0.1:0\";\n  tokens_file = \"tokens\";\n"
			  "  rate_limits: {\n    window = 0; #!\n  };\n};\n" PLUGINS_OK REGIONS_OK PLANS_OK,
			  "window");
	assert_conf_error("api: {\n  listen = \"127.0.0.1:0\";\n  tokens_file = \"tokens\";\n"
			  "  rate_limits: {\n    read = -1; #!\n  };\n};\n" PLUGINS_OK REGIONS_OK PLANS_OK,
			  "read");
	/* tokens are limited in the api group only */
	assert_conf_error(API_OK PLUGINS_OK REGIONS_OK
			  "plans = (\n  { code = \"free\"; isolation = [ \"shared\" ]; default_residency = \"eu\";\n"
			  "    " QUOTAS_1 "\n    rate_limits: { token = 5; }; } #!\n);\n",
			  "unknown setting");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refill),
		cmocka_unit_test(test_retry_after_and_reset),
		cmocka_unit_test(test_refused_charges_nothing_and_refund),
		cmocka_unit_test(test_unlimited_tracks_nothing),
		cmocka_unit_test(test_limit_change_applies_to_live_bucket),
		cmocka_unit_test(test_idle_buckets_are_evicted),
		cmocka_unit_test(test_memory_is_bounded),
		cmocka_unit_test(test_shards_are_independent),
		cmocka_unit_test(test_concurrent_exact_counts),
		cmocka_unit_test(test_memos),
		cmocka_unit_test(test_conf_defaults_unlimited),
		cmocka_unit_test(test_conf_plan_overrides_api),
		cmocka_unit_test(test_conf_errors),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
