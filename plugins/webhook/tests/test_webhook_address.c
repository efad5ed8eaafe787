/*
 * test_webhook_address.c — the SSRF guard's classifier over every range it
 * knows, in IPv4, IPv6 and the IPv6 forms that embed IPv4 (mapped,
 * compatible, NAT64); the allowances; and webhook_resolve() on literals
 * and localhost (no network needed).
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "webhook_address.h"

static enum webhook_addr_class classify(const char *text)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
		return webhook_addr_classify((const struct sockaddr *)&in);
	if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1)
		return webhook_addr_classify((const struct sockaddr *)&in6);
	fail_msg("not an address in the test: %s", text);
	return WEBHOOK_ADDR_RESERVED;
}

static const struct {
	const char *address;
	enum webhook_addr_class cls;
} cases[] = {
	/* IPv4, each range at both ends and just outside */
	{ "0.0.0.0", WEBHOOK_ADDR_UNSPECIFIED },
	{ "0.255.255.255", WEBHOOK_ADDR_UNSPECIFIED },
	{ "1.0.0.0", WEBHOOK_ADDR_PUBLIC },
	{ "9.255.255.255", WEBHOOK_ADDR_PUBLIC },
	{ "10.0.0.0", WEBHOOK_ADDR_PRIVATE },
	{ "10.255.255.255", WEBHOOK_ADDR_PRIVATE },
	{ "11.0.0.0", WEBHOOK_ADDR_PUBLIC },
	{ "100.63.255.255", WEBHOOK_ADDR_PUBLIC },
	{ "100.64.0.0", WEBHOOK_ADDR_SHARED },
	{ "100.127.255.255", WEBHOOK_ADDR_SHARED },
	{ "100.128.0.0", WEBHOOK_ADDR_PUBLIC },
	{ "126.255.255.255", WEBHOOK_ADDR_PUBLIC },
	{ "127.0.0.1", WEBHOOK_ADDR_LOOPBACK },
	{ "127.255.255.254", WEBHOOK_ADDR_LOOPBACK },
	{ "128.0.0.0", WEBHOOK_ADDR_PUBLIC },
	{ "169.253.255.255", WEBHOOK_ADDR_PUBLIC },
	{ "169.254.0.0", WEBHOOK_ADDR_LINK_LOCAL },
	{ "169.254.169.254", WEBHOOK_ADDR_LINK_LOCAL }, /* cloud metadata */
	{ "169.255.0.0", WEBHOOK_ADDR_PUBLIC },
	{ "172.15.255.255", WEBHOOK_ADDR_PUBLIC },
	{ "172.16.0.0", WEBHOOK_ADDR_PRIVATE },
	{ "172.31.255.255", WEBHOOK_ADDR_PRIVATE },
	{ "172.32.0.0", WEBHOOK_ADDR_PUBLIC },
	{ "192.0.0.8", WEBHOOK_ADDR_RESERVED },
	{ "192.0.1.0", WEBHOOK_ADDR_PUBLIC },
	{ "192.167.255.255", WEBHOOK_ADDR_PUBLIC },
	{ "192.168.0.0", WEBHOOK_ADDR_PRIVATE },
	{ "192.168.255.255", WEBHOOK_ADDR_PRIVATE },
	{ "192.169.0.0", WEBHOOK_ADDR_PUBLIC },
	{ "198.17.255.255", WEBHOOK_ADDR_PUBLIC },
	{ "198.18.0.0", WEBHOOK_ADDR_RESERVED },
	{ "198.19.255.255", WEBHOOK_ADDR_RESERVED },
	{ "198.20.0.0", WEBHOOK_ADDR_PUBLIC },
	{ "223.255.255.255", WEBHOOK_ADDR_PUBLIC },
	{ "224.0.0.1", WEBHOOK_ADDR_MULTICAST },
	{ "239.255.255.255", WEBHOOK_ADDR_MULTICAST },
	{ "240.0.0.0", WEBHOOK_ADDR_RESERVED },
	{ "255.255.255.255", WEBHOOK_ADDR_RESERVED },
	{ "8.8.8.8", WEBHOOK_ADDR_PUBLIC },
	/* IPv6 */
	{ "::", WEBHOOK_ADDR_UNSPECIFIED },
	{ "::1", WEBHOOK_ADDR_LOOPBACK },
	{ "::2", WEBHOOK_ADDR_UNSPECIFIED }, /* IPv4-compatible 0.0.0.2 */
	{ "fbff:ffff::1", WEBHOOK_ADDR_PUBLIC },
	{ "fc00::", WEBHOOK_ADDR_PRIVATE },
	{ "fd12:3456:789a::1", WEBHOOK_ADDR_PRIVATE },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", WEBHOOK_ADDR_PRIVATE },
	{ "fe00::1", WEBHOOK_ADDR_PUBLIC },
	{ "fe7f:ffff::1", WEBHOOK_ADDR_PUBLIC },
	{ "fe80::", WEBHOOK_ADDR_LINK_LOCAL },
	{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", WEBHOOK_ADDR_LINK_LOCAL },
	{ "fec0::1", WEBHOOK_ADDR_PRIVATE },
	{ "feff::1", WEBHOOK_ADDR_PRIVATE },
	{ "ff00::", WEBHOOK_ADDR_MULTICAST },
	{ "ff02::1", WEBHOOK_ADDR_MULTICAST },
	{ "100::1", WEBHOOK_ADDR_RESERVED },
	{ "100:0:0:1::1", WEBHOOK_ADDR_PUBLIC },
	{ "2001:4860:4860::8888", WEBHOOK_ADDR_PUBLIC },
	{ "2606:4700::1111", WEBHOOK_ADDR_PUBLIC },
	/* IPv4-mapped: judged as the IPv4 address */
	{ "::ffff:127.0.0.1", WEBHOOK_ADDR_LOOPBACK },
	{ "::ffff:10.1.2.3", WEBHOOK_ADDR_PRIVATE },
	{ "::ffff:172.16.0.1", WEBHOOK_ADDR_PRIVATE },
	{ "::ffff:192.168.1.1", WEBHOOK_ADDR_PRIVATE },
	{ "::ffff:100.64.0.1", WEBHOOK_ADDR_SHARED },
	{ "::ffff:169.254.169.254", WEBHOOK_ADDR_LINK_LOCAL },
	{ "::ffff:0.0.0.0", WEBHOOK_ADDR_UNSPECIFIED },
	{ "::ffff:224.0.0.1", WEBHOOK_ADDR_MULTICAST },
	{ "::ffff:8.8.8.8", WEBHOOK_ADDR_PUBLIC },
	{ "::ffff:7f00:1", WEBHOOK_ADDR_LOOPBACK },
	/* IPv4-compatible (deprecated) and NAT64 */
	{ "::127.0.0.1", WEBHOOK_ADDR_LOOPBACK },
	{ "::10.0.0.1", WEBHOOK_ADDR_PRIVATE },
	{ "64:ff9b::127.0.0.1", WEBHOOK_ADDR_LOOPBACK },
	{ "64:ff9b::169.254.169.254", WEBHOOK_ADDR_LINK_LOCAL },
	{ "64:ff9b::8.8.8.8", WEBHOOK_ADDR_PUBLIC },
};

static void test_classify(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum webhook_addr_class got = classify(cases[i].address);

		if (got != cases[i].cls)
			fail_msg("%s: %s, expected %s", cases[i].address, webhook_addr_class_name(got),
				 webhook_addr_class_name(cases[i].cls));
	}
}

static void test_classify_other_family(void **state)
{
	struct sockaddr sa = { .sa_family = AF_UNIX };

	assert_int_equal(webhook_addr_classify(&sa), WEBHOOK_ADDR_RESERVED);
	assert_int_equal(webhook_addr_classify(NULL), WEBHOOK_ADDR_RESERVED);
}

static void test_allowances(void **state)
{
	const struct webhook_allow none = { 0 }, all = { true, true, true };
	const struct webhook_allow loopback_only = { .loopback = true };

	assert_true(webhook_addr_allowed(&none, WEBHOOK_ADDR_PUBLIC));
	for (int c = WEBHOOK_ADDR_LOOPBACK; c <= WEBHOOK_ADDR_RESERVED; c++)
		assert_false(webhook_addr_allowed(&none, (enum webhook_addr_class)c));
	assert_true(webhook_addr_allowed(&all, WEBHOOK_ADDR_LOOPBACK));
	assert_true(webhook_addr_allowed(&all, WEBHOOK_ADDR_PRIVATE));
	assert_true(webhook_addr_allowed(&all, WEBHOOK_ADDR_SHARED));
	assert_true(webhook_addr_allowed(&all, WEBHOOK_ADDR_LINK_LOCAL));
	/* nothing allows these */
	assert_false(webhook_addr_allowed(&all, WEBHOOK_ADDR_UNSPECIFIED));
	assert_false(webhook_addr_allowed(&all, WEBHOOK_ADDR_MULTICAST));
	assert_false(webhook_addr_allowed(&all, WEBHOOK_ADDR_RESERVED));
	assert_true(webhook_addr_allowed(&loopback_only, WEBHOOK_ADDR_LOOPBACK));
	assert_false(webhook_addr_allowed(&loopback_only, WEBHOOK_ADDR_PRIVATE));
	assert_string_equal(webhook_addr_allow_setting(WEBHOOK_ADDR_SHARED), "allow_private");
	assert_null(webhook_addr_allow_setting(WEBHOOK_ADDR_MULTICAST));
}

static void test_resolve_literals(void **state)
{
	const struct webhook_allow none = { 0 }, loopback = { .loopback = true };
	char list[256], why[256];

	assert_int_equal(webhook_resolve("127.0.0.1", 80, &none, list, sizeof(list), why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "loopback"));
	assert_non_null(strstr(why, "allow_loopback"));
	assert_int_equal(webhook_resolve("127.0.0.1", 80, &loopback, list, sizeof(list), why, sizeof(why)), 0);
	assert_string_equal(list, "127.0.0.1");
	assert_int_equal(webhook_resolve("::1", 443, &loopback, list, sizeof(list), why, sizeof(why)), 0);
	assert_string_equal(list, "[::1]");
	/* numeric forms getaddrinfo accepts are judged as what they mean */
	assert_int_equal(webhook_resolve("2130706433", 80, &none, list, sizeof(list), why, sizeof(why)), -EPERM);
	assert_int_equal(webhook_resolve("::ffff:169.254.169.254", 80, &none, list, sizeof(list), why, sizeof(why)),
			 -EPERM);
	assert_non_null(strstr(why, "link-local"));
	assert_int_equal(webhook_resolve("0.0.0.0", 80, &loopback, list, sizeof(list), why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "never allowed"));
	assert_int_equal(webhook_resolve("8.8.8.8", 80, &none, list, sizeof(list), why, sizeof(why)), 0);
	assert_string_equal(list, "8.8.8.8");
	assert_int_equal(webhook_resolve("8.8.8.8", 80, &none, list, 4, why, sizeof(why)), -ENOBUFS);
}

static void test_resolve_localhost(void **state)
{
	const struct webhook_allow none = { 0 }, loopback = { .loopback = true };
	char list[256], why[256];

	/* whatever localhost resolves to here (127.0.0.1 and/or ::1), it is loopback */
	assert_int_equal(webhook_resolve("localhost", 80, &none, list, sizeof(list), why, sizeof(why)), -EPERM);
	assert_int_equal(webhook_resolve("localhost", 80, &loopback, list, sizeof(list), why, sizeof(why)), 0);
	assert_true(strstr(list, "127.0.0.1") != NULL || strstr(list, "[::1]") != NULL);
	assert_int_equal(webhook_resolve("no-such-host.invalid", 80, &none, list, sizeof(list), why, sizeof(why)),
			 -EHOSTUNREACH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_classify_other_family),
		cmocka_unit_test(test_allowances),
		cmocka_unit_test(test_resolve_literals),
		cmocka_unit_test(test_resolve_localhost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
