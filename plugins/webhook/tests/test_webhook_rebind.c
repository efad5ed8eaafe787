/*
 * test_webhook_rebind.c — DNS rebinding cannot get past the SSRF guard.
 *
 * This program defines getaddrinfo() itself (exported with
 * --export-dynamic, so the dlopened webhook.so and its libcurl call it):
 * the name "rebind.test" first resolves to a public address, then to
 * 127.0.0.1, as a hostile DNS server with a zero TTL would answer.  The
 * plugin checks the first answer, pins it, and libcurl must connect there
 * without asking again, so the loopback sink never sees the request.  A
 * control delivery, allowed to reach loopback, shows that the name does
 * lead to the sink when the answer is 127.0.0.1.
 */
#include "autoconfig.h"

#include <dlfcn.h>
#include <netdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <tenancyd/host.h>
#include <tenancyd/notifier.h>

#include "host.h"
#include "testutil.h"
#include "util.h"
#include "webhook_sink_client.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define REBIND_NAME "rebind.test"
#define REBIND_PUBLIC "203.0.113.7" /* TEST-NET-3: public to the guard, routed nowhere */

static atomic_int rebind_lookups;

typedef int getaddrinfo_fn(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
	static getaddrinfo_fn *real;

	if (real == NULL)
		real = (getaddrinfo_fn *)dlsym(RTLD_NEXT, "getaddrinfo");
	if (node != NULL && strcmp(node, REBIND_NAME) == 0)
		node = atomic_fetch_add(&rebind_lookups, 1) == 0 ? REBIND_PUBLIC : "127.0.0.1";
	return real(node, service, hints, res);
}

static struct {
	void *dl;
	const struct tnd_plugin *desc;
	const struct tnd_notifier_ops *ops;
	struct tnd_host *host;
	char *dir;
	struct sink sink;
} T;

static void *open_ctx(const char *settings)
{
	json_t *config = json_loads(settings, 0, NULL);
	struct tnd_error err = { "" };
	void *ctx = NULL;

	assert_non_null(config);
	if (T.desc->init(T.host, host_json(config), &ctx, &err) != 0)
		fail_msg("init: %s", err.message);
	json_decref(config);
	return ctx;
}

static json_t *deliver(void *ctx, const char *event_id)
{
	char *url = tnd_xasprintf("http://" REBIND_NAME ":%u/ok", T.sink.port);
	json_t *d = json_pack("{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s}, s:i}", "event", "specversion", "1.0", "id",
			      event_id, "source", "tenancyd://test", "type", "tenancy.tenant.created", "subscription",
			      "id", "sub-1", "url", url, "secret", SECRET, "attempt", 1);
	struct tnd_buf out = { 0 };
	struct tnd_error err = { "" };
	json_t *result;

	if (T.ops->deliver(ctx, host_json(d), &out, &err) != 0)
		fail_msg("deliver: %s", err.message);
	result = json_loads(out.data, 0, NULL);
	assert_non_null(result);
	free(out.data);
	json_decref(d);
	free(url);
	return result;
}

static size_t sink_count(const char *event_id)
{
	static struct sink_request all[256];
	size_t n = sink_requests(&T.sink, all, 256), k = 0;

	for (size_t i = 0; i < n; i++)
		k += strcmp(all[i].id, event_id) == 0;
	return k;
}

static void test_rebinding_is_pinned_out(void **state)
{
	void *ctx = open_ctx("{\"connect_timeout_ms\": 300, \"timeout_ms\": 300}");
	json_t *result;

	atomic_store(&rebind_lookups, 0);
	result = deliver(ctx, "evt-rebind");
	/* the pinned public address does not answer; nothing reached loopback */
	assert_int_equal(json_integer_value(json_object_get(result, "status")), 0);
	assert_true(json_is_string(json_object_get(result, "error")));
	json_decref(result);
	assert_int_equal(atomic_load(&rebind_lookups), 1); /* libcurl never asked again */
	assert_int_equal(sink_count("evt-rebind"), 0);
	T.desc->fini(ctx);
}

static void test_control_name_leads_to_sink(void **state)
{
	void *ctx = open_ctx("{\"allow_loopback\": true}");
	json_t *result;

	atomic_store(&rebind_lookups, 1); /* every answer is now 127.0.0.1 */
	result = deliver(ctx, "evt-rebind-control");
	assert_int_equal(json_integer_value(json_object_get(result, "status")), 204);
	json_decref(result);
	assert_int_equal(sink_count("evt-rebind-control"), 1);
	T.desc->fini(ctx);
}

static int group_setup(void **state)
{
	char *path = tnd_xasprintf("%s/plugins/webhook/.libs/webhook.so", testutil_builddir());

	T.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	free(path);
	if (T.dl == NULL)
		return -1;
	T.desc = dlsym(T.dl, TND_PLUGIN_SYMBOL);
	if (T.desc == NULL)
		return -1;
	T.ops = T.desc->ops;
	T.dir = testutil_mkdtemp("webhook-rebind");
	T.host = host_new("webhook", T.dir);
	return sink_start(&T.sink, SECRET, NULL, NULL);
}

static int group_teardown(void **state)
{
	sink_stop(&T.sink);
	host_free(T.host);
	testutil_rmrf(T.dir);
	free(T.dir);
	dlclose(T.dl);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rebinding_is_pinned_out),
		cmocka_unit_test(test_control_name_leads_to_sink),
	};

	if (!sink_available()) {
		fprintf(stderr, "python3 not available: skipping\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
