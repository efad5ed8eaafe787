/*
 * test_webhook_deliver.c — the built webhook.so, loaded as the core loads
 * it (dlopen, tnd_plugin_v1, a host_new() host), driving deliver() against
 * the local flaky sink (tests/tools/webhook_sink.py), which checks every
 * signature: 2xx, 500, 429 with Retry-After (seconds and HTTP-date), 410,
 * a redirect not followed, timeout, connection reset and refused, HTTPS
 * verified with ca_file through the pinned address, the SSRF refusal of
 * loopback unless allowed, retries keeping webhook-id,
 * keep-alive, concurrent deliveries, malformed deliveries and settings,
 * and no secret in any log line or result.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <tenancyd/host.h>
#include <tenancyd/notifier.h>

#include "host.h"
#include "testutil.h"
#include "util.h"
#include "webhook_sink_client.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SECRET_KEY_PART "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define LOOPBACK_OK "{\"allow_loopback\": true}"

static struct {
	void *dl;
	const struct tnd_plugin *desc;
	const struct tnd_notifier_ops *ops;
	struct tnd_host *host;
	char *dir;
	struct sink sink;
} T;

static json_t *json_or_fail(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);

	if (v == NULL)
		fail_msg("bad JSON in test: %s: %s", text, jerr.text);
	return v;
}

static void *open_ctx(const char *settings)
{
	json_t *config = json_or_fail(settings);
	struct tnd_error err = { "" };
	void *ctx = NULL;
	int r = T.desc->init(T.host, host_json(config), &ctx, &err);

	json_decref(config);
	if (r != 0)
		fail_msg("init(%s): %d %s", settings, r, err.message);
	return ctx;
}

/* A delivery of a CloudEvent with @event_id to @url, as the dispatcher builds it. */
static json_t *delivery_new(const char *url, const char *event_id, const char *secret)
{
	json_t *d = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:i}}, s:{s:s, s:s}, s:i}",
			      "event", "specversion", "1.0", "id", event_id, "source", "tenancyd://test", "type",
			      "tenancy.tenant.suspended", "subject", "acme-corp", "time", "2026-11-28T14:00:00Z",
			      "sequence", "00000000000000000042", "data", "tenantId", "acme-corp", "previousState",
			      "active", "newState", "suspended", "version", 3, "subscription", "id", "sub-1", "url",
			      url, "attempt", 1);

	if (secret != NULL)
		json_object_set_new(json_object_get(d, "subscription"), "secret", json_string(secret));
	return d;
}

/* deliver() to http://127.0.0.1:<sink>@path; on 0 *ret_result is the parsed result. */
static int deliver_to(void *ctx, const char *url, const char *event_id, const char *secret, json_t **ret_result,
		      struct tnd_error *err)
{
	json_t *d = delivery_new(url, event_id, secret);
	struct tnd_buf out = { 0 };
	int r = T.ops->deliver(ctx, host_json(d), &out, err);

	json_decref(d);
	if (r == 0) {
		assert_non_null(out.data);
		assert_null(strstr(out.data, SECRET_KEY_PART));
		*ret_result = json_or_fail(out.data);
	} else {
		assert_true(out.len == 0);
	}
	free(out.data);
	return r;
}

static json_t *deliver_ok(void *ctx, const char *path, const char *event_id)
{
	char *url = tnd_xasprintf("http://127.0.0.1:%u%s", T.sink.port, path);
	struct tnd_error err = { "" };
	json_t *result = NULL;
	int r = deliver_to(ctx, url, event_id, SECRET, &result, &err);

	if (r != 0)
		fail_msg("deliver %s: %d %s", url, r, err.message);
	free(url);
	return result;
}

static int64_t result_int(const json_t *result, const char *key)
{
	const json_t *v = json_object_get(result, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static double result_latency(const json_t *result)
{
	const json_t *v = json_object_get(result, "latencyMs");

	assert_true(json_is_number(v));
	return json_number_value(v);
}

static const char *result_error(const json_t *result)
{
	const json_t *v = json_object_get(result, "error");

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The sink's records of @event_id, in order; returns the count. */
static size_t records_of(const char *event_id, struct sink_request *out, size_t max)
{
	static struct sink_request all[4096];
	size_t n = sink_requests(&T.sink, all, 4096), k = 0;

	for (size_t i = 0; i < n && k < max; i++)
		if (strcmp(all[i].id, event_id) == 0)
			out[k++] = all[i];
	return k;
}

/* --- fixtures ----------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	char *path = tnd_xasprintf("%s/plugins/webhook/.libs/webhook.so", testutil_builddir());

	T.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (T.dl == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		free(path);
		return -1;
	}
	free(path);
	T.desc = dlsym(T.dl, TND_PLUGIN_SYMBOL);
	if (T.desc == NULL || T.desc->kind != TND_PLUGIN_NOTIFIER || strcmp(T.desc->name, "webhook") != 0)
		return -1;
	T.ops = T.desc->ops;
	T.dir = testutil_mkdtemp("webhook-test");
	T.host = host_new("webhook", T.dir);
	return sink_start(&T.sink, SECRET, NULL, NULL);
}

static int group_teardown(void **state)
{
	sink_stop(&T.sink);
	host_free(T.host);
	testutil_rmrf(T.dir);
	free(T.dir);
	if (T.dl != NULL)
		dlclose(T.dl);
	return 0;
}

/* --- outcomes ------------------------------------------------------------------------------- */

static void test_delivered(void **state)
{
	void *ctx = open_ctx(LOOPBACK_OK);
	struct sink_request rec[4];
	json_t *result = deliver_ok(ctx, "/ok", "evt-delivered");
	int64_t now = time(NULL);

	assert_int_equal(result_int(result, "status"), 204);
	assert_true(result_latency(result) > 0.0);
	assert_int_equal(result_int(result, "retryAfterMs"), 0);
	assert_true(json_is_false(json_object_get(result, "disable")));
	assert_null(result_error(result));
	json_decref(result);

	assert_int_equal(records_of("evt-delivered", rec, 4), 1);
	assert_true(rec[0].signature_valid);
	assert_string_equal(rec[0].content_type, "application/cloudevents+json; charset=utf-8");
	assert_true(rec[0].timestamp >= now - 5 && rec[0].timestamp <= now + 1);
	T.desc->fini(ctx);
}

static void test_server_error(void **state)
{
	void *ctx = open_ctx(LOOPBACK_OK);
	json_t *result = deliver_ok(ctx, "/status/500", "evt-500");

	assert_int_equal(result_int(result, "status"), 500);
	assert_true(json_is_false(json_object_get(result, "disable")));
	assert_null(result_error(result));
	json_decref(result);
	result = deliver_ok(ctx, "/status/200", "evt-200");
	assert_int_equal(result_int(result, "status"), 200);
	json_decref(result);
	T.desc->fini(ctx);
}

static void test_retry_after(void **state)
{
	void *ctx = open_ctx(LOOPBACK_OK);
	json_t *result = deliver_ok(ctx, "/status/429?retry_after=3", "evt-429");
	char path[128], date[64];
	time_t then = time(NULL) + 20;
	int64_t ms;

	assert_int_equal(result_int(result, "status"), 429);
	assert_int_equal(result_int(result, "retryAfterMs"), 3000);
	json_decref(result);

	/* the HTTP-date form, URL-encoded: about 20 s from now */
	strftime(date, sizeof(date), "%a,%%20%d%%20%b%%20%Y%%20%H:%M:%S%%20GMT", gmtime(&then));
	snprintf(path, sizeof(path), "/status/503?retry_after=%s", date);
	result = deliver_ok(ctx, path, "evt-503");
	assert_int_equal(result_int(result, "status"), 503);
	ms = result_int(result, "retryAfterMs");
	assert_true(ms > 17000 && ms <= 20000);
	json_decref(result);

	/* garbage is ignored, not an error */
	result = deliver_ok(ctx, "/status/429?retry_after=soon", "evt-429-garbage");
	assert_int_equal(result_int(result, "status"), 429);
	assert_int_equal(result_int(result, "retryAfterMs"), 0);
	json_decref(result);
	T.desc->fini(ctx);
}

static void test_gone_disables(void **state)
{
	void *ctx = open_ctx(LOOPBACK_OK);
	json_t *result = deliver_ok(ctx, "/status/410", "evt-410");

	assert_int_equal(result_int(result, "status"), 410);
	assert_true(json_is_true(json_object_get(result, "disable")));
	json_decref(result);
	T.desc->fini(ctx);
}

static void test_redirect_not_followed(void **state)
{
	void *ctx = open_ctx(LOOPBACK_OK);
	struct sink_request rec[4];
	json_t *result = deliver_ok(ctx, "/status/302", "evt-302");

	assert_int_equal(result_int(result, "status"), 302);
	json_decref(result);
	assert_int_equal(records_of("evt-302", rec, 4), 1); /* /ok was never asked */
	T.desc->fini(ctx);
}

static void test_timeout(void **state)
{
	void *ctx = open_ctx("{\"allow_loopback\": true, \"connect_timeout_ms\": 300, \"timeout_ms\": 300}");
	json_t *result = deliver_ok(ctx, "/sleep/1500", "evt-timeout");

	assert_int_equal(result_int(result, "status"), 0);
	assert_non_null(result_error(result));
	assert_non_null(strstr(result_error(result), "imeout"));
	assert_true(result_latency(result) >= 290.0 && result_latency(result) < 1400.0);
	json_decref(result);
	T.desc->fini(ctx);
}

static void test_connection_reset(void **state)
{
	void *ctx = open_ctx(LOOPBACK_OK);
	struct sink_request rec[4];
	json_t *result = deliver_ok(ctx, "/reset", "evt-reset");

	assert_int_equal(result_int(result, "status"), 0);
	assert_non_null(result_error(result));
	json_decref(result);
	assert_int_equal(records_of("evt-reset", rec, 4), 1);
	assert_true(rec[0].signature_valid);
	T.desc->fini(ctx);
}

static void test_connection_refused(void **state)
{
	void *ctx = open_ctx(LOOPBACK_OK);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct tnd_error err = { "" };
	json_t *result = NULL;
	char *url;

	/* a port that was just free: nobody listens there */
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	url = tnd_xasprintf("http://127.0.0.1:%u/ok", ntohs(sa.sin_port));
	assert_int_equal(deliver_to(ctx, url, "evt-refused", SECRET, &result, &err), 0);
	assert_int_equal(result_int(result, "status"), 0);
	assert_non_null(result_error(result));
	json_decref(result);
	free(url);
	T.desc->fini(ctx);
}

/* An internationalised name is resolved (and pinned) as the punycode
 * libcurl would use (.invalid never resolves: the attempt fails, naming
 * the name it tried), or refused when this libcurl cannot convert it. */
static void test_idn_host(void **state)
{
	void *ctx = open_ctx("{}");
	struct tnd_error err = { "" };
	json_t *result = NULL;
	int r = deliver_to(ctx, "http://b\xc3\xbc" "cher.invalid/ok", "evt-idn", SECRET, &result, &err);

	T.desc->fini(ctx);
	if (r == -EINVAL) {
		assert_non_null(strstr(err.message, "xn--"));
		return;
	}
	assert_int_equal(r, 0);
	assert_int_equal(result_int(result, "status"), 0);
	assert_non_null(result_error(result));
	if (strstr(result_error(result), "xn--bcher-kva.invalid") == NULL)
		fail_msg("not resolved as punycode: %s", result_error(result));
	json_decref(result);
}

/* HTTPS through the pinned address: the certificate is still checked
 * against the URL's host name (SNI and verification are unaffected by
 * CURLOPT_RESOLVE), with ca_file, and refused without it. */
static void test_https(void **state)
{
	char *cert = tnd_xasprintf("%s/sink-cert.pem", T.dir), *key = tnd_xasprintf("%s/sink-key.pem", T.dir);
	char *make = tnd_xasprintf("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
				   "-keyout '%s' -out '%s' -days 1 -subj /CN=localhost "
				   "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
				   key, cert);
	char *settings = tnd_xasprintf("{\"allow_loopback\": true, \"ca_file\": \"%s\"}", cert);
	struct sink tls_sink;
	struct sink_request rec[2];
	struct tnd_error err = { "" };
	json_t *result = NULL;
	void *ctx, *plain;
	char *url;

	if (system(make) != 0) {
		free(make);
		free(settings);
		free(cert);
		free(key);
		skip(); /* no openssl command */
	}
	assert_int_equal(sink_start(&tls_sink, SECRET, cert, key), 0);
	ctx = open_ctx(settings);
	plain = open_ctx(LOOPBACK_OK);

	url = tnd_xasprintf("https://localhost:%u/ok", tls_sink.port);
	assert_int_equal(deliver_to(ctx, url, "evt-https", SECRET, &result, &err), 0);
	assert_int_equal(result_int(result, "status"), 204);
	json_decref(result);
	assert_int_equal(sink_requests(&tls_sink, rec, 2), 1);
	assert_string_equal(rec[0].id, "evt-https");
	assert_true(rec[0].signature_valid);

	/* the system's trust store does not know the sink's certificate */
	assert_int_equal(deliver_to(plain, url, "evt-https-untrusted", SECRET, &result, &err), 0);
	assert_int_equal(result_int(result, "status"), 0);
	assert_non_null(result_error(result));
	if (strstr(result_error(result), "certificate") == NULL)
		fail_msg("not a certificate error: %s", result_error(result));
	json_decref(result);
	free(url);

	T.desc->fini(plain);
	T.desc->fini(ctx);
	sink_stop(&tls_sink);
	free(make);
	free(settings);
	free(cert);
	free(key);
}

/* --- retries, keep-alive, threads ------------------------------------------------------------ */

static void test_flaky_retries_keep_id(void **state)
{
	void *ctx = open_ctx(LOOPBACK_OK);
	struct sink_request rec[8];
	int64_t expect[] = { 500, 500, 204 };

	for (size_t i = 0; i < 3; i++) {
		json_t *result = deliver_ok(ctx, "/flaky/2", "evt-flaky");

		assert_int_equal(result_int(result, "status"), expect[i]);
		json_decref(result);
	}
	assert_int_equal(records_of("evt-flaky", rec, 8), 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(rec[i].attempt, (int64_t)i + 1);
		assert_true(rec[i].signature_valid);
	}
	T.desc->fini(ctx);
}

static void test_keep_alive(void **state)
{
	void *ctx = open_ctx("{\"allow_loopback\": true, \"pool_size\": 1}");
	struct sink_request rec[4];
	int64_t first_port = 0;

	for (int i = 0; i < 20; i++) {
		char id[32];
		json_t *result;

		snprintf(id, sizeof(id), "evt-keepalive-%d", i);
		result = deliver_ok(ctx, "/ok", id);
		assert_int_equal(result_int(result, "status"), 204);
		json_decref(result);
		assert_int_equal(records_of(id, rec, 4), 1);
		if (i == 0)
			first_port = rec[0].peer_port;
		assert_int_equal(rec[0].peer_port, first_port); /* one connection for all twenty */
	}
	T.desc->fini(ctx);
}

#define THREADS 4
#define PER_THREAD 25

struct worker {
	void *ctx;
	int index;
	int delivered;
};

static void *worker_run(void *opaque)
{
	struct worker *w = opaque;
	char *url = tnd_xasprintf("http://127.0.0.1:%u/ok", T.sink.port);

	for (int i = 0; i < PER_THREAD; i++) {
		char id[48];
		struct tnd_error err = { "" };
		json_t *d, *result;
		struct tnd_buf out = { 0 };

		snprintf(id, sizeof(id), "evt-thread-%d-%d", w->index, i);
		d = delivery_new(url, id, SECRET);
		if (T.ops->deliver(w->ctx, host_json(d), &out, &err) == 0 && (result = json_loads(out.data, 0, NULL))) {
			w->delivered += json_integer_value(json_object_get(result, "status")) == 204;
			json_decref(result);
		}
		free(out.data);
		json_decref(d);
	}
	free(url);
	return NULL;
}

static void test_concurrent(void **state)
{
	void *ctx = open_ctx("{\"allow_loopback\": true, \"pool_size\": 4}");
	struct worker workers[THREADS];
	pthread_t threads[THREADS];
	struct sink_request rec[2];

	for (int t = 0; t < THREADS; t++) {
		workers[t] = (struct worker){ .ctx = ctx, .index = t };
		assert_int_equal(pthread_create(&threads[t], NULL, worker_run, &workers[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(threads[t], NULL);
		assert_int_equal(workers[t].delivered, PER_THREAD);
	}
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < PER_THREAD; i++) {
			char id[48];

			snprintf(id, sizeof(id), "evt-thread-%d-%d", t, i);
			assert_int_equal(records_of(id, rec, 2), 1);
			assert_true(rec[0].signature_valid);
		}
	T.desc->fini(ctx);
}

/* --- refusals --------------------------------------------------------------------------------- */

static void test_loopback_refused(void **state)
{
	void *ctx = open_ctx("{}");
	const char *hosts[] = { "127.0.0.1",	      "localhost", "[::1]",	"[::ffff:127.0.0.1]",
				"2130706433",	      "0.0.0.0",   "127.1",	"%6c%6fcalhost",
				"LOCALHOST",	      "localhost." };
	struct sink_request rec[2];

	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		char *url = tnd_xasprintf("http://%s:%u/ok", hosts[i], T.sink.port);
		struct tnd_error err = { "" };
		json_t *result = NULL;
		int r = deliver_to(ctx, url, "evt-ssrf", SECRET, &result, &err);

		/* "localhost." resolves only where DNS answers for it; where it
		 * does not, the attempt fails before any connection is made */
		if (r == 0 && strcmp(hosts[i], "localhost.") == 0 && result_int(result, "status") == 0 &&
		    result_error(result) != NULL &&
		    strstr(result_error(result), "cannot resolve") != NULL) {
			json_decref(result);
			free(url);
			continue;
		}
		if (r != -EPERM)
			fail_msg("%s: deliver returned %d (%s), not -EPERM", url, r, err.message);
		assert_non_null(strstr(err.message, "refused"));
		/* it names the setting that would allow it, or says none can */
		assert_true(strstr(err.message, "allow_loopback") || strstr(err.message, "never allowed"));
		free(url);
	}
	assert_int_equal(records_of("evt-ssrf", rec, 2), 0);
	T.desc->fini(ctx);
}

static void test_bad_deliveries(void **state)
{
	void *ctx = open_ctx(LOOPBACK_OK);
	char *ok_url = tnd_xasprintf("http://127.0.0.1:%u/ok", T.sink.port);
	const char *bad_urls[] = { "ftp://127.0.0.1/x", "file:///etc/passwd", "not a url", "gopher://127.0.0.1:70/",
				   "http://[fe80::1%25lo]/" };
	struct tnd_error err = { "" };
	json_t *result = NULL;

	for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
		if (deliver_to(ctx, bad_urls[i], "evt-bad", SECRET, &result, &err) != -EINVAL)
			fail_msg("%s accepted", bad_urls[i]);
	assert_int_equal(deliver_to(ctx, ok_url, "evt-bad", NULL, &result, &err), -EINVAL);
	assert_non_null(strstr(err.message, "secret"));
	assert_int_equal(deliver_to(ctx, ok_url, "evt-bad", "whsec_short", &result, &err), -EINVAL);
	assert_int_equal(deliver_to(ctx, ok_url, "evt-bad", SECRET_KEY_PART, &result, &err), -EINVAL);
	assert_null(strstr(err.message, SECRET_KEY_PART));
	assert_int_equal(deliver_to(ctx, ok_url, "evt\r\nX-Injected: 1", SECRET, &result, &err), -EINVAL);
	free(ok_url);
	T.desc->fini(ctx);
}

static void test_settings(void **state)
{
	static const char *const bad[] = {
		"{\"allow_loopbak\": true}",
		"{\"timeout_ms\": 0}",
		"{\"timeout_ms\": \"10s\"}",
		"{\"connect_timeout_ms\": 5000, \"timeout_ms\": 1000}",
		"{\"allow_private\": 1}",
		"{\"pool_size\": 0}",
		"{\"user_agent\": \"\"}",
		"[]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *config = json_or_fail(bad[i]);
		struct tnd_error err = { "" };
		int r = T.desc->check_config(T.host, host_json(config), &err);

		json_decref(config);
		if (r >= 0)
			fail_msg("settings %s accepted", bad[i]);
		assert_true(err.message[0] != '\0');
	}
	T.desc->fini(open_ctx("{\"allow_private\": true, \"allow_link_local\": true, \"ca_file\": \"/nonexistent\","
			      " \"user_agent\": \"acme/1\", \"timeout_ms\": 5000, \"connect_timeout_ms\": 5000}"));
}

static void test_no_secret_logged(void **state)
{
	void *ctx;
	json_t *result;

	testutil_log_capture_start();
	ctx = open_ctx(LOOPBACK_OK);
	result = deliver_ok(ctx, "/ok", "evt-logs");
	json_decref(result);
	result = deliver_ok(ctx, "/reset", "evt-logs-reset");
	json_decref(result);
	T.desc->fini(ctx);
	assert_true(testutil_log_contains("evt-logs"));
	assert_false(testutil_log_contains(SECRET_KEY_PART));
	assert_false(testutil_log_contains("whsec_"));
	testutil_log_capture_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delivered),
		cmocka_unit_test(test_server_error),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_gone_disables),
		cmocka_unit_test(test_redirect_not_followed),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_connection_reset),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_https),
		cmocka_unit_test(test_idn_host),
		cmocka_unit_test(test_flaky_retries_keep_id),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_loopback_refused),
		cmocka_unit_test(test_bad_deliveries),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_no_secret_logged),
	};

	if (!sink_available()) {
		fprintf(stderr, "python3 not available: skipping the webhook sink tests\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
