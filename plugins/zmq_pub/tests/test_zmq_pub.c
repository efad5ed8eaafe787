/*
 * test_zmq_pub.c — the built zmq_pub.so, loaded as the core loads it,
 * publishing to a SUB socket that subscribes to a topic prefix: the two
 * frames [type, CloudEvent JSON], prefix filtering, whole messages from
 * several delivering threads at once, over ipc:// and tcp://, and the
 * settings and deliveries it refuses.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <zmq.h>

#include <tenancyd/host.h>
#include <tenancyd/notifier.h>

#include "host.h"
#include "testutil.h"
#include "util.h"

static struct {
	void *dl;
	const struct tnd_plugin *desc;
	const struct tnd_notifier_ops *ops;
	struct tnd_host *host;
	char *dir;
	void *zctx;
} T;

static int init_with(const char *settings, void **ret_ctx, struct tnd_error *err)
{
	json_t *config = json_loads(settings, JSON_DECODE_ANY, NULL);
	int r;

	assert_non_null(config);
	r = T.desc->init(T.host, host_json(config), ret_ctx, err);
	json_decref(config);
	return r;
}

static int deliver(void *ctx, const char *type, const char *id)
{
	json_t *d = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:{s:s}}, s:{s:s}, s:i}", "event", "specversion", "1.0",
			      "id", id, "source", "tenancyd://test", "type", type, "subject", "acme-corp", "data",
			      "tenantId", "acme-corp", "subscription", "id", "zmq", "attempt", 1);
	struct tnd_buf out = { 0 };
	struct tnd_error err = { "" };
	int r;

	if (type == NULL)
		json_object_del(json_object_get(d, "event"), "type");
	r = T.ops->deliver(ctx, host_json(d), &out, &err);
	if (r == 0) {
		json_t *result = json_loads(out.data, 0, NULL);

		assert_non_null(result);
		assert_int_equal(json_integer_value(json_object_get(result, "status")), 202);
		assert_true(json_is_false(json_object_get(result, "disable")));
		json_decref(result);
	}
	free(out.data);
	json_decref(d);
	return r;
}

/* One two-frame message within @timeout_ms: 1, or 0 on timeout. */
static int receive(void *sub, char *topic, size_t topic_cap, char *body, size_t body_cap, int timeout_ms)
{
	zmq_pollitem_t item = { .socket = sub, .events = ZMQ_POLLIN };
	int more = 0, n;
	size_t more_len = sizeof(more);

	if (zmq_poll(&item, 1, timeout_ms) <= 0)
		return 0;
	n = zmq_recv(sub, topic, topic_cap - 1, 0);
	assert_true(n > 0);
	topic[n] = '\0';
	assert_int_equal(zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_len), 0);
	assert_int_equal(more, 1);
	n = zmq_recv(sub, body, body_cap - 1, 0);
	assert_true(n > 0);
	body[n] = '\0';
	assert_int_equal(zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_len), 0);
	assert_int_equal(more, 0); /* exactly two frames */
	return 1;
}

static void *subscribe(const char *endpoint, const char *prefix)
{
	void *sub = zmq_socket(T.zctx, ZMQ_SUB);
	int hwm = 100000;

	assert_non_null(sub);
	zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix)), 0);
	assert_int_equal(zmq_connect(sub, endpoint), 0);
	return sub;
}

/* Publish until the subscription has reached the publisher (ZeroMQ's
 * "slow joiner"); checks the first message that arrives. */
static void await_subscription(void *ctx, void *sub)
{
	char topic[256], body[4096];

	for (int i = 0; i < 100; i++) {
		assert_int_equal(deliver(ctx, "tenancy.tenant.created", "evt-created"), 0);
		assert_int_equal(deliver(ctx, "tenancy.tenant.suspended", "evt-suspended"), 0);
		if (receive(sub, topic, sizeof(topic), body, sizeof(body), 50)) {
			json_t *event = json_loads(body, 0, NULL);

			/* the prefix filter let only .suspended through */
			assert_string_equal(topic, "tenancy.tenant.suspended");
			assert_non_null(event);
			assert_string_equal(json_string_value(json_object_get(event, "id")), "evt-suspended");
			assert_string_equal(json_string_value(json_object_get(event, "type")), topic);
			json_decref(event);
			return;
		}
	}
	fail_msg("the subscriber received nothing in 5 s");
}

/* Drain what the warm-up left behind. */
static void drain(void *sub)
{
	char topic[256], body[4096];

	while (receive(sub, topic, sizeof(topic), body, sizeof(body), 100))
		assert_string_equal(topic, "tenancy.tenant.suspended");
}

/* --- fixtures ----------------------------------------------------------------------------- */

static int group_setup(void **state)
{
	char *path = tnd_xasprintf("%s/plugins/zmq_pub/.libs/zmq_pub.so", testutil_builddir());

	T.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (T.dl == NULL) {
		fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
		free(path);
		return -1;
	}
	free(path);
	T.desc = dlsym(T.dl, TND_PLUGIN_SYMBOL);
	if (T.desc == NULL || T.desc->kind != TND_PLUGIN_NOTIFIER || strcmp(T.desc->name, "zmq_pub") != 0)
		return -1;
	T.ops = T.desc->ops;
	T.dir = testutil_mkdtemp("zmq-pub-test");
	T.host = host_new("zmq_pub", T.dir);
	T.zctx = zmq_ctx_new();
	return T.zctx ? 0 : -1;
}

static int group_teardown(void **state)
{
	zmq_ctx_term(T.zctx);
	host_free(T.host);
	testutil_rmrf(T.dir);
	free(T.dir);
	dlclose(T.dl);
	return 0;
}

/* --- tests --------------------------------------------------------------------------------- */

static void test_publish_ipc(void **state)
{
	char *endpoint = tnd_xasprintf("ipc://%s/events.sock", T.dir);
	char *settings = tnd_xasprintf("{\"endpoint\": \"%s\"}", endpoint);
	struct tnd_error err = { "" };
	void *ctx = NULL, *sub;

	assert_int_equal(init_with(settings, &ctx, &err), 0);
	sub = subscribe(endpoint, "tenancy.tenant.sus");
	await_subscription(ctx, sub);
	zmq_close(sub);
	T.desc->fini(ctx);
	free(settings);
	free(endpoint);
}

static void test_publish_tcp(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct tnd_error err = { "" };
	char *endpoint, *settings;
	void *ctx = NULL, *sub;

	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	endpoint = tnd_xasprintf("tcp://127.0.0.1:%u", ntohs(sa.sin_port));
	settings = tnd_xasprintf("{\"endpoint\": \"%s\", \"send_hwm\": 1000}", endpoint);
	assert_int_equal(init_with(settings, &ctx, &err), 0);
	sub = subscribe(endpoint, "tenancy.tenant.suspended");
	await_subscription(ctx, sub);
	zmq_close(sub);
	T.desc->fini(ctx);
	free(settings);
	free(endpoint);
}

#define THREADS 4
#define PER_THREAD 250

struct worker {
	void *ctx;
	int index;
	int failures;
};

static void *worker_run(void *opaque)
{
	struct worker *w = opaque;

	for (int i = 0; i < PER_THREAD; i++) {
		char id[48];

		snprintf(id, sizeof(id), "evt-%d-%d", w->index, i);
		w->failures += deliver(w->ctx, "tenancy.tenant.suspended", id) != 0;
	}
	return NULL;
}

static void test_concurrent_publishers(void **state)
{
	char *endpoint = tnd_xasprintf("ipc://%s/threads.sock", T.dir);
	char *settings = tnd_xasprintf("{\"endpoint\": \"%s\", \"send_hwm\": 100000}", endpoint);
	struct tnd_error err = { "" };
	struct worker workers[THREADS];
	pthread_t threads[THREADS];
	bool seen[THREADS][PER_THREAD];
	char topic[256], body[4096];
	void *ctx = NULL, *sub;
	int received = 0;

	memset(seen, 0, sizeof(seen));
	assert_int_equal(init_with(settings, &ctx, &err), 0);
	sub = subscribe(endpoint, "tenancy.tenant.suspended");
	await_subscription(ctx, sub);
	drain(sub);
	for (int t = 0; t < THREADS; t++) {
		workers[t] = (struct worker){ .ctx = ctx, .index = t };
		assert_int_equal(pthread_create(&threads[t], NULL, worker_run, &workers[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(threads[t], NULL);
		assert_int_equal(workers[t].failures, 0);
	}
	/* every message arrives whole (receive() checks the two frames), once */
	while (received < THREADS * PER_THREAD && receive(sub, topic, sizeof(topic), body, sizeof(body), 5000)) {
		json_t *event = json_loads(body, 0, NULL);
		int t = -1, i = -1;

		assert_non_null(event);
		assert_string_equal(topic, "tenancy.tenant.suspended");
		assert_int_equal(sscanf(json_string_value(json_object_get(event, "id")), "evt-%d-%d", &t, &i), 2);
		assert_true(t >= 0 && t < THREADS && i >= 0 && i < PER_THREAD);
		assert_false(seen[t][i]);
		seen[t][i] = true;
		received++;
		json_decref(event);
	}
	assert_int_equal(received, THREADS * PER_THREAD);
	zmq_close(sub);
	T.desc->fini(ctx);
	free(settings);
	free(endpoint);
}

static void test_refusals(void **state)
{
	char *unbindable = tnd_xasprintf("{\"endpoint\": \"ipc://%s/no/such/dir/x.sock\"}", T.dir);
	const char *bad[] = {
		"{}",
		"{\"endpoint\": \"inproc://x\"}",
		"{\"endpoint\": \"tcp://127.0.0.1:1\", \"sndhwm\": 5}",
		"{\"endpoint\": \"tcp://127.0.0.1:1\", \"send_hwm\": 0}",
		"{\"endpoint\": 5}",
		unbindable,
	};
	char *endpoint = tnd_xasprintf("ipc://%s/refusals.sock", T.dir);
	char *settings = tnd_xasprintf("{\"endpoint\": \"%s\"}", endpoint);
	void *ctx = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tnd_error err = { "" };

		if (init_with(bad[i], &ctx, &err) >= 0)
			fail_msg("settings %s accepted", bad[i]);
		assert_true(err.message[0] != '\0');
	}
	assert_int_equal(init_with(settings, &ctx, &(struct tnd_error){ "" }), 0);
	assert_int_equal(deliver(ctx, NULL, "evt-no-type"), -EINVAL);
	T.desc->fini(ctx);
	free(settings);
	free(endpoint);
	free(unbindable);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_ipc),
		cmocka_unit_test(test_publish_tcp),
		cmocka_unit_test(test_concurrent_publishers),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
