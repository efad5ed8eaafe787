/*
 * test_webhook_retry_after.c — Retry-After as delta-seconds and as each of
 * the three HTTP-date formats, past dates, the one-day cap, and what is
 * refused.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "webhook_retry_after.h"

/* Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example */
#define EXAMPLE_SECONDS INT64_C(784111777)

static int64_t parse(const char *value, int64_t now_ms)
{
	int64_t ms = -1;

	if (webhook_retry_after_parse(value, now_ms, &ms) < 0)
		fail_msg("refused: \"%s\"", value);
	return ms;
}

static void test_delta_seconds(void **state)
{
	assert_int_equal(parse("0", 0), 0);
	assert_int_equal(parse("3", 0), 3000);
	assert_int_equal(parse(" 120 ", 0), 120000);
	assert_int_equal(parse("120\r\n", 0), 120000);
	assert_int_equal(parse("86400", 0), WEBHOOK_RETRY_AFTER_MAX_MS);
	assert_int_equal(parse("86401", 0), WEBHOOK_RETRY_AFTER_MAX_MS);
	assert_int_equal(parse("99999999999999999999999999", 0), WEBHOOK_RETRY_AFTER_MAX_MS);
}

static void test_http_dates(void **state)
{
	int64_t s = 0;
	int64_t now_ms = (EXAMPLE_SECONDS - 30) * 1000;

	assert_int_equal(webhook_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &s), 0);
	assert_int_equal(s, EXAMPLE_SECONDS);
	assert_int_equal(webhook_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &s), 0);
	assert_int_equal(s, EXAMPLE_SECONDS);
	assert_int_equal(webhook_http_date_parse("Sun Nov  6 08:49:37 1994", &s), 0);
	assert_int_equal(s, EXAMPLE_SECONDS);
	assert_int_equal(webhook_http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", &s), 0);
	assert_int_equal(s, 0);
	assert_int_equal(webhook_http_date_parse("Tue, 29 Feb 2000 23:59:59 GMT", &s), 0);
	assert_int_equal(s, INT64_C(951868799));
	assert_int_equal(webhook_http_date_parse("Sat, 28 Nov 2026 14:00:00 GMT", &s), 0);
	assert_int_equal(s, INT64_C(1795874400));
	/* relative to now: 30 s ahead, and a date in the past is "now" */
	assert_int_equal(parse("Sun, 06 Nov 1994 08:49:37 GMT", now_ms), 30000);
	assert_int_equal(parse("Sun, 06 Nov 1994 08:49:37 GMT", now_ms + 60000), 0);
	assert_int_equal(parse("Sun Nov  6 08:49:37 1994", now_ms), 30000);
	/* far ahead: capped */
	assert_int_equal(parse("Fri, 31 Dec 9999 23:59:59 GMT", now_ms), WEBHOOK_RETRY_AFTER_MAX_MS);
}

static void test_refused(void **state)
{
	static const char *const bad[] = {
		"", "   ", "-1", "1.5", "3s", "0x10", "soon",
		"Sun, 6 Nov 1994 08:49:37 GMT",   /* one-digit day */
		"Sun, 06 Nov 1994 08:49:37 UTC",  /* not GMT */
		"Sun, 06 Nov 1994 08:49 GMT",     /* no seconds */
		"Sun, 06 Nov 1994 24:00:00 GMT",  /* no hour 24 */
		"Sun, 31 Nov 1994 08:49:37 GMT",  /* no 31 November */
		"Sun, 29 Feb 1900 08:49:37 GMT",  /* 1900 is not leap */
		"Sun, 06 Foo 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08:49:37 GMT x",
		"Sunday, 06-Nov-1994 08:49:37 GMT",
		"Sun Nov 6 08:49:37 1994",        /* asctime pads the day with a blank */
	};
	int64_t ms = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (webhook_retry_after_parse(bad[i], 0, &ms) != -EINVAL)
			fail_msg("accepted: \"%s\"", bad[i]);
	assert_int_equal(ms, 42);
	assert_int_equal(webhook_retry_after_parse(NULL, 0, &ms), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delta_seconds),
		cmocka_unit_test(test_http_dates),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
