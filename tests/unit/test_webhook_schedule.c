/*
 * test_webhook_schedule.c — the webhook retry schedule and the verdict on
 * one attempt (core/webhook_schedule.c): backoff ceilings doubling up to
 * the cap without overflow, full jitter staying inside [0, ceiling],
 * every outcome (2xx, 410 or the plugin's disable, retryable statuses,
 * timeouts, refusals), Retry-After overriding a shorter backoff, and the
 * last attempt making a delivery dead.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "webhook_schedule.h"

static const struct webhook_retry_policy policy = { .base_ms = 1000, .cap_ms = 60000, .max_attempts = 5 };

static void test_ceiling_doubles_to_the_cap(void **state)
{
	(void)state;
	assert_int_equal(webhook_backoff_ceiling(&policy, 0), 1000);
	assert_int_equal(webhook_backoff_ceiling(&policy, 1), 1000);
	assert_int_equal(webhook_backoff_ceiling(&policy, 2), 2000);
	assert_int_equal(webhook_backoff_ceiling(&policy, 3), 4000);
	assert_int_equal(webhook_backoff_ceiling(&policy, 6), 32000);
	assert_int_equal(webhook_backoff_ceiling(&policy, 7), 60000);
	assert_int_equal(webhook_backoff_ceiling(&policy, 8), 60000);
	/* no overflow however many attempts */
	assert_int_equal(webhook_backoff_ceiling(&policy, INT64_MAX), 60000);
	{
		struct webhook_retry_policy huge = { .base_ms = INT64_MAX / 4, .cap_ms = INT64_MAX / 2, .max_attempts = 9 };
		assert_int_equal(webhook_backoff_ceiling(&huge, 100), INT64_MAX / 2);
	}
}

static void test_full_jitter_stays_in_range(void **state)
{
	(void)state;
	assert_int_equal(webhook_backoff_delay(&policy, 3, 0), 0);
	assert_int_equal(webhook_backoff_delay(&policy, 3, 4000), 4000);
	assert_int_equal(webhook_backoff_delay(&policy, 3, 4001), 0);
	for (uint64_t r = 1; r < 2000000; r = r * 3 + 7) {
		for (int64_t a = 1; a < 12; a++) {
			int64_t d = webhook_backoff_delay(&policy, a, r * 2654435761u);
			assert_true(d >= 0);
			assert_true(d <= webhook_backoff_ceiling(&policy, a));
		}
	}
}

static enum webhook_verdict judge(int rc, int64_t status, int64_t retry_after_ms, bool disable, int64_t attempts,
				  int64_t *next)
{
	struct webhook_attempt a = { .rc = rc, .status = status, .retry_after_ms = retry_after_ms, .disable = disable };

	return webhook_judge(&policy, &a, attempts, 100000, 1999, next);
}

static void test_verdicts(void **state)
{
	int64_t next;

	(void)state;
	/* 2xx: delivered, whatever Retry-After says */
	assert_int_equal(judge(0, 200, 0, false, 1, &next), WEBHOOK_DELIVERED);
	assert_int_equal(judge(0, 204, 5000, false, 1, &next), WEBHOOK_DELIVERED);
	assert_int_equal(judge(0, 299, 0, false, 5, &next), WEBHOOK_DELIVERED);
	/* 410 (or the plugin's disable): the subscription goes */
	assert_int_equal(judge(0, 410, 0, false, 1, &next), WEBHOOK_DISABLE);
	assert_int_equal(judge(0, 410, 0, true, 5, &next), WEBHOOK_DISABLE);
	/* retried: 5xx, 4xx, 3xx, no response (timeout, reset) */
	assert_int_equal(judge(0, 500, 0, false, 1, &next), WEBHOOK_RETRY);
	assert_int_equal(next, 100000 + 1999 % 1001);
	assert_int_equal(judge(0, 302, 0, false, 2, &next), WEBHOOK_RETRY);
	assert_int_equal(judge(0, 404, 0, false, 2, &next), WEBHOOK_RETRY);
	assert_int_equal(judge(0, 0, 0, false, 3, &next), WEBHOOK_RETRY);
	assert_true(next >= 100000 && next <= 100000 + 4000);
	/* the last attempt: dead */
	assert_int_equal(judge(0, 500, 0, false, 5, &next), WEBHOOK_DEAD);
	assert_int_equal(next, 0);
	assert_int_equal(judge(0, 0, 0, false, 6, &next), WEBHOOK_DEAD);
	/* not attempted because it never can be (SSRF refusal, bad URL, no event): dead at once */
	assert_int_equal(judge(-EPERM, 0, 0, false, 1, &next), WEBHOOK_DEAD);
	assert_int_equal(judge(-EINVAL, 0, 0, false, 1, &next), WEBHOOK_DEAD);
	assert_int_equal(judge(-ENOENT, 0, 0, false, 1, &next), WEBHOOK_DEAD);
	/* out of memory is passing: retried */
	assert_int_equal(judge(-ENOMEM, 0, 0, false, 1, &next), WEBHOOK_RETRY);
	assert_int_equal(judge(-ENOMEM, 0, 0, false, 5, &next), WEBHOOK_DEAD);
}

static void test_retry_after_honoured(void **state)
{
	int64_t next;

	(void)state;
	/* longer than the backoff ceiling: it wins */
	assert_int_equal(judge(0, 429, 30000, false, 1, &next), WEBHOOK_RETRY);
	assert_int_equal(next, 100000 + 30000);
	assert_int_equal(judge(0, 503, 2000, false, 2, &next), WEBHOOK_RETRY);
	assert_int_equal(next, 100000 + 2000);
	/* shorter than the jittered wait: the backoff stands */
	{
		struct webhook_attempt a = { .status = 503, .retry_after_ms = 1 };
		assert_int_equal(webhook_judge(&policy, &a, 3, 0, 3999, &next), WEBHOOK_RETRY);
		assert_int_equal(next, 3999);
	}
	/* but never past the last attempt */
	assert_int_equal(judge(0, 429, 30000, false, 5, &next), WEBHOOK_DEAD);
}

static void test_states(void **state)
{
	(void)state;
	assert_string_equal(webhook_verdict_state(WEBHOOK_DELIVERED), "delivered");
	assert_string_equal(webhook_verdict_state(WEBHOOK_RETRY), "pending");
	assert_string_equal(webhook_verdict_state(WEBHOOK_DEAD), "dead");
	assert_string_equal(webhook_verdict_state(WEBHOOK_DISABLE), "failed");
}

/* A delivery driven through its life: a flaky endpoint, then one that never answers. */
static void test_a_delivery_through_its_life(void **state)
{
	struct webhook_attempt fail = { .status = 500 }, ok = { .status = 204 };
	int64_t attempts = 0, next = 0, now = 0;
	enum webhook_verdict v;

	(void)state;
	for (int i = 0; i < 2; i++) {
		v = webhook_judge(&policy, &fail, ++attempts, now, (uint64_t)i * 7919, &next);
		assert_int_equal(v, WEBHOOK_RETRY);
		assert_true(next - now <= webhook_backoff_ceiling(&policy, attempts));
		now = next;
	}
	assert_int_equal(webhook_judge(&policy, &ok, ++attempts, now, 1, &next), WEBHOOK_DELIVERED);
	assert_int_equal(attempts, 3);

	attempts = 0;
	do
		v = webhook_judge(&policy, &fail, ++attempts, now, 12345, &next);
	while (v == WEBHOOK_RETRY);
	assert_int_equal(v, WEBHOOK_DEAD);
	assert_int_equal(attempts, policy.max_attempts);
	/* a requeue starts again from attempt 1: retried, not dead */
	assert_int_equal(webhook_judge(&policy, &fail, 1, now, 1, &next), WEBHOOK_RETRY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ceiling_doubles_to_the_cap),
		cmocka_unit_test(test_full_jitter_stays_in_range),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_retry_after_honoured),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_a_delivery_through_its_life),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
