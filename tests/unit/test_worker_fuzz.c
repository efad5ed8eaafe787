/*
 * test_worker_fuzz.c — hostile peers on both ends of the worker protocol.
 *
 * Core side: raw DEALER sockets connect to a running pool's ROUTER and send
 * one bad message of every kind (each drop reason must be counted), then
 * thousands of random ones: random frame counts, sizes up to 2 MiB, random
 * bytes, mutated and mistyped bodies, results for tasks nobody gave them.
 * Meanwhile and afterwards, real tasks must complete on the real worker.
 *
 * Worker side: a fake ROUTER plays the core for a real tenancyd-worker and
 * sends it garbage; the worker must count exactly the bad messages of the
 * scripted part (it reports them in its heartbeats), keep heartbeating,
 * keep serving tasks, and exit cleanly on SHUTDOWN.
 *
 * The random part uses a fixed seed (override: TND_FUZZ_SEED) and prints
 * it, so a failure can be replayed.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "log.h"
#include "metrics.h"
#include "util.h"
#include "worker_proto.h"
#include "worker_testlib.h"

#define FUZZ_MESSAGES 3000
#define FUZZ_REVERSE_MESSAGES 2000
#define FUZZ_BIG (2 * 1024 * 1024)

/* --- a reproducible generator ------------------------------------------------------------- */

static uint64_t fuzz_state;

static void fuzz_seed(void)
{
	const char *env = getenv("TND_FUZZ_SEED");

	fuzz_state = env ? strtoull(env, NULL, 0) : UINT64_C(0x5eed7e4a);
	if (fuzz_state == 0)
		fuzz_state = 1;
	fprintf(stderr, "fuzz seed: %#llx (set TND_FUZZ_SEED to replay)\n", (unsigned long long)fuzz_state);
}

static uint64_t fuzz_next(void)
{
	/* xorshift64* */
	fuzz_state ^= fuzz_state >> 12;
	fuzz_state ^= fuzz_state << 25;
	fuzz_state ^= fuzz_state >> 27;
	return fuzz_state * UINT64_C(2685821657736338717);
}

static size_t fuzz_below(size_t n)
{
	return n ? (size_t)(fuzz_next() % n) : 0;
}

/* Valid bodies of every type, to mutate. */
static const char *const fuzz_templates[] = {
	"{\"workerId\":\"w\",\"pid\":42,\"plugins\":[\"nope\"],\"protocol\":1,\"version\":\"0.1\"}",
	"{\"busy\":false}",
	"{\"busy\":true,\"taskId\":\"t1\",\"framesDropped\":3}",
	"{\"taskId\":\"t1\",\"dispatch\":1,\"rc\":0,\"result\":{\"resources\":{}}}",
	"{\"taskId\":\"t1\",\"dispatch\":2,\"rc\":-11,\"error\":\"x\"}",
	"{}",
	"{\"heartbeatIntervalMs\":100,\"heartbeatTimeoutMs\":5000}",
	"{\"taskId\":\"t1\",\"dispatch\":1,\"plugin\":\"good_isolation\",\"op\":\"observe\",\"request\":{}}",
};
static const char *const fuzz_values[] = { "1", "-1", "0", "1.5", "\"s\"", "\"\"", "true", "null", "[]", "{}",
					   "[1,{\"a\":[]}]", "99999999999", "\"\\u00e9\"" };

/* A body: random bytes, a mutated template, a mistyped template or deep nesting. */
static char *fuzz_body(size_t max, size_t *ret_len)
{
	const char *tmpl = fuzz_templates[fuzz_below(TND_ARRAY_SIZE(fuzz_templates))];
	size_t len, kind = fuzz_below(5);
	char *out;

	if (kind == 0) {
		len = fuzz_below(fuzz_below(10) == 0 ? max : 512);
		out = tnd_xmalloc(len + 1);
		for (size_t i = 0; i < len; i++)
			out[i] = (char)fuzz_next();
	} else if (kind == 1) {
		/* flip, drop or insert a few bytes */
		len = strlen(tmpl);
		out = tnd_xmalloc(len + 8);
		memcpy(out, tmpl, len);
		for (size_t n = 1 + fuzz_below(3); n > 0 && len > 0; n--) {
			size_t at = fuzz_below(len);
			switch (fuzz_below(3)) {
			case 0: out[at] = (char)fuzz_next(); break;
			case 1: memmove(out + at, out + at + 1, len - at - 1); len--; break;
			default: memmove(out + at + 1, out + at, len - at); out[at] = (char)fuzz_next(); len++; break;
			}
		}
	} else if (kind == 2) {
		/* the first member's value replaced by a value of some other type */
		const char *colon = strchr(tmpl, ':'), *end;
		const char *value = fuzz_values[fuzz_below(TND_ARRAY_SIZE(fuzz_values))];
		if (colon == NULL)
			return fuzz_body(max, ret_len);
		end = colon + 1 + strcspn(colon + 1, ",}");
		out = tnd_xasprintf("%.*s%s%s", (int)(colon + 1 - tmpl), tmpl, value, end);
		len = strlen(out);
	} else if (kind == 3) {
		size_t depth = 28 + fuzz_below(12);
		out = tnd_xmalloc(2 * depth + 16);
		len = (size_t)sprintf(out, "{\"a\":");
		for (size_t i = 0; i < depth; i++)
			out[len++] = '[';
		for (size_t i = 0; i < depth; i++)
			out[len++] = ']';
		out[len++] = '}';
	} else {
		out = tnd_xasprintf("{\"%llx\":%s}", (unsigned long long)fuzz_next(),
				    fuzz_values[fuzz_below(TND_ARRAY_SIZE(fuzz_values))]);
		len = strlen(out);
	}
	*ret_len = len;
	return out;
}

/*
 * Send one random message: 1-6 frames; usually [version][type][body] with
 * some of them wrong.  @max_frame bounds a random frame; @words are the
 * type words it may use (a SHUTDOWN must not reach the worker under test).
 */
static void fuzz_send(void *socket, const void *identity, size_t identity_len, size_t max_frame,
		      const char *const *words, size_t n_words)
{
	size_t n_frames = fuzz_below(4) == 0 ? 1 + fuzz_below(6) : 3;
	unsigned char version = fuzz_below(8) == 0 ? (unsigned char)fuzz_next() : 1;

	if (identity_len > 0 && zmq_send(socket, identity, identity_len, ZMQ_SNDMORE) < 0)
		return;
	for (size_t i = 0; i < n_frames; i++) {
		int flags = i + 1 < n_frames ? ZMQ_SNDMORE : 0;
		size_t len;
		char *data;

		if (i == 0) {
			zmq_send(socket, &version, 1, flags);
			continue;
		}
		if (i == 1 && fuzz_below(6) != 0) {
			const char *word = words[fuzz_below(n_words)];
			zmq_send(socket, word, strlen(word), flags);
			continue;
		}
		data = fuzz_body(max_frame, &len);
		zmq_send(socket, data, len, flags);
		free(data);
	}
}

static void *fuzz_dealer(void *ctx, const char *endpoint, const char *id)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0, timeout = 2000;

	assert_non_null(s);
	if (id)
		assert_int_equal(zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id)), 0);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
	assert_int_equal(zmq_connect(s, endpoint), 0);
	return s;
}

static void send3(void *socket, const void *identity, size_t identity_len, const void *version, size_t version_len,
		  const char *type, const char *body)
{
	if (identity_len)
		zmq_send(socket, identity, identity_len, ZMQ_SNDMORE);
	zmq_send(socket, version, version_len, ZMQ_SNDMORE);
	zmq_send(socket, type, strlen(type), ZMQ_SNDMORE);
	zmq_send(socket, body, strlen(body), 0);
}

/* --- the core under fire ------------------------------------------------------------------------ */

static const char *const core_reasons[] = { "frames", "oversized", "version", "type", "utf8", "json",
					    "depth", "fields", "unknown_peer", "foreign_task" };

static bool wait_drops(const uint64_t *before, int timeout_ms)
{
	int64_t deadline = tnd_monotonic_us() + (int64_t)timeout_ms * 1000;

	for (;;) {
		bool all = true;
		for (size_t i = 0; i < TND_ARRAY_SIZE(core_reasons); i++)
			all = all && wt_dropped(core_reasons[i]) > before[i];
		if (all)
			return true;
		if (tnd_monotonic_us() > deadline)
			return false;
		wt_sleep_ms(10);
	}
}

/* One message for each reason the core drops, from one well-behaved socket. */
static void core_scripted(void *dealer)
{
	static const unsigned char v1 = 1, v2 = 2;
	size_t part = 600 * 1024;
	char *blob = tnd_xmalloc(part);
	char *deep = tnd_xmalloc(100);
	size_t at = 0;

	memset(blob, ' ', part);
	zmq_send(dealer, &v1, 1, ZMQ_SNDMORE); /* frames: two */
	zmq_send(dealer, "BYE", 3, 0);
	zmq_send(dealer, &v1, 1, ZMQ_SNDMORE); /* oversized: 1.2 MB in three frames */
	zmq_send(dealer, blob, part, ZMQ_SNDMORE);
	zmq_send(dealer, blob, part, 0);
	send3(dealer, NULL, 0, &v2, 1, "BYE", "{}");                      /* version */
	send3(dealer, NULL, 0, &v1, 1, "TASK", "{}");                     /* type: not for the core */
	send3(dealer, NULL, 0, &v1, 1, "BYE", "{\"a\":\"\xfe\"}");        /* utf8 */
	send3(dealer, NULL, 0, &v1, 1, "BYE", "{\"a\":");                 /* json */
	at += (size_t)sprintf(deep, "{\"a\":");
	for (int i = 0; i < 40; i++)
		deep[at++] = '[';
	deep[at] = '\0';
	send3(dealer, NULL, 0, &v1, 1, "BYE", deep);                      /* depth */
	send3(dealer, NULL, 0, &v1, 1, "HEARTBEAT", "{\"busy\":\"no\"}"); /* fields */
	send3(dealer, NULL, 0, &v1, 1, "HEARTBEAT", "{\"busy\":false}");  /* unknown_peer */
	send3(dealer, NULL, 0, &v1, 1, "HELLO",
	      "{\"workerId\":\"fuzz-script\",\"pid\":1,\"plugins\":[\"nope\"],\"protocol\":1,\"version\":\"x\"}");
	send3(dealer, NULL, 0, &v1, 1, "RESULT", "{\"taskId\":\"never-given\",\"dispatch\":1,\"rc\":0,\"result\":{}}");
	free(blob);
	free(deep);
}

static void test_core_survives_garbage(void **state)
{
	static const char *const words[] = { "HELLO", "HEARTBEAT", "RESULT", "BYE", "WELCOME", "TASK", "SHUTDOWN",
					     "NOPE", "hello", "" };
	struct wt_env env;
	struct wt_results results;
	struct worker_pool *pool = NULL;
	struct tnd_error err = { "" };
	struct worker_pool_stats before, after;
	uint64_t reasons_before[TND_ARRAY_SIZE(core_reasons)];
	void *ctx, *scripted, *big, *dealers[6];
	char *endpoint;
	unsigned one = 1;
	int submitted = 0;

	log_set_level(TND_LOG_WARNING);
	fuzz_seed();
	wt_env_init(&env, "fuzzcore", 1);
	wt_results_init(&results);
	if (worker_pool_start(env.conf, env.config_path, wt_done_cb, &results, &pool, &err) < 0)
		fail_msg("worker_pool_start: %s", err.message);
	assert_true(wt_wait_stats(pool, wt_pred_ready, &one, 10000));
	worker_pool_stats(pool, &before);
	for (size_t i = 0; i < TND_ARRAY_SIZE(core_reasons); i++)
		reasons_before[i] = wt_dropped(core_reasons[i]);

	endpoint = tnd_xasprintf("ipc://%s/state/workers.sock", env.dir);
	ctx = zmq_ctx_new();
	scripted = fuzz_dealer(ctx, endpoint, "fuzz-script");
	core_scripted(scripted);
	assert_true(wait_drops(reasons_before, 10000));

	/* frames above 1 MiB make libzmq drop the connection: only this socket sends them */
	big = fuzz_dealer(ctx, endpoint, "fuzz-big");
	for (size_t i = 0; i < TND_ARRAY_SIZE(dealers); i++) {
		char id[16];
		snprintf(id, sizeof(id), "fuzz-%zu", i);
		dealers[i] = fuzz_dealer(ctx, endpoint, i == 0 ? NULL : id); /* one with a generated id */
		if (i % 2 == 1) {
			char *hello = tnd_xasprintf("{\"workerId\":\"%s\",\"pid\":1,\"plugins\":[\"nope\"],"
						    "\"protocol\":1,\"version\":\"x\"}", id);
			static const unsigned char v1 = 1;
			send3(dealers[i], NULL, 0, &v1, 1, "HELLO", hello);
			free(hello);
		}
	}
	for (int i = 0; i < FUZZ_MESSAGES; i++) {
		if (i % 500 == 0)
			fuzz_send(big, NULL, 0, FUZZ_BIG, words, TND_ARRAY_SIZE(words));
		else
			fuzz_send(dealers[fuzz_below(TND_ARRAY_SIZE(dealers))], NULL, 0, 512 * 1024, words,
				  TND_ARRAY_SIZE(words));
		if (i % 100 == 0) {
			char id[32];
			snprintf(id, sizeof(id), "real-%d", submitted++);
			wt_submit(pool, id, "good_isolation", "observe", json_pack("{s:s}", "tenantId", "t1"), 5000, 3);
		}
	}
	for (int i = 0; i < 20; i++) {
		char id[32];
		snprintf(id, sizeof(id), "real-%d", submitted++);
		wt_submit(pool, id, "flaky_isolation", "observe", json_pack("{s:s}", "tenantId", "t1"), 5000, 3);
	}
	assert_true(wt_wait_done(&results, (size_t)submitted, 30000));
	for (int i = 0; i < submitted; i++) {
		char id[32];
		struct wt_done d;
		snprintf(id, sizeof(id), "real-%d", i);
		assert_int_equal(wt_count(&results, id, &d), 1);
		assert_int_equal(d.rc, 0);
		assert_string_equal(d.worker_id, "local-1");
	}
	worker_pool_stats(pool, &after);
	fprintf(stderr, "core: %llu messages dropped\n",
		(unsigned long long)(after.frames_dropped - before.frames_dropped));
	/* nearly every random message is bad; some are lost with the connections they broke */
	assert_true(after.frames_dropped - before.frames_dropped >= FUZZ_MESSAGES / 2);
	assert_int_equal(after.respawns, 0);
	assert_true(after.workers_ready >= 1);

	zmq_close(scripted);
	zmq_close(big);
	for (size_t i = 0; i < TND_ARRAY_SIZE(dealers); i++)
		zmq_close(dealers[i]);
	zmq_ctx_term(ctx);
	worker_pool_stop(pool);
	free(endpoint);
	wt_results_free(&results);
	wt_env_free(&env);
}

/* --- the worker under fire ------------------------------------------------------------------------ */

/* the worker under test, killed by the teardown if the test fails midway */
static pid_t fake_worker;

static int fake_teardown(void **state)
{
	if (fake_worker > 0)
		wt_wait_exit(fake_worker, 0);
	fake_worker = 0;
	return 0;
}

struct fake_core {
	void *ctx, *router;
	pid_t worker;
	int64_t last_dropped;   /* framesDropped of the latest heartbeat */
	unsigned heartbeats;
	unsigned hellos;
};

/* Receive for up to @ms; remember heartbeats; return the RESULT for @task_id if seen (caller clears). */
static bool fake_pump(struct fake_core *fc, int ms, const char *task_id, struct worker_msg *ret_result)
{
	int64_t deadline = tnd_monotonic_us() + (int64_t)ms * 1000;

	for (;;) {
		int64_t left = (deadline - tnd_monotonic_us()) / 1000;
		zmq_pollitem_t item = { fc->router, 0, ZMQ_POLLIN, 0 };
		struct worker_frames f;
		struct worker_msg msg;
		enum worker_drop reason;

		if (left <= 0)
			return false;
		if (zmq_poll(&item, 1, (long)left) <= 0)
			continue;
		if (worker_proto_recv(fc->router, true, &f) < 0)
			continue;
		/* everything a real worker sends must be well-formed */
		if (worker_proto_decode(WORKER_SIDE_CORE, &f, &msg, &reason) < 0)
			fail_msg("the worker sent a message the core would drop: %s", worker_drop_name(reason));
		worker_frames_clear(&f);
		if (msg.type == WORKER_MSG_HEARTBEAT) {
			fc->heartbeats++;
			fc->last_dropped = msg.u.heartbeat.frames_dropped;
		} else if (msg.type == WORKER_MSG_HELLO) {
			fc->hellos++;
		} else if (msg.type == WORKER_MSG_RESULT && task_id && strcmp(msg.u.result.task_id, task_id) == 0) {
			*ret_result = msg;
			return true;
		}
		worker_msg_clear(&msg);
	}
}

static void fake_send(struct fake_core *fc, const char *type, const char *body)
{
	static const unsigned char v1 = 1;

	send3(fc->router, "victim", 6, &v1, 1, type, body);
}

static bool fake_wait_dropped(struct fake_core *fc, int64_t want, int ms)
{
	int64_t deadline = tnd_monotonic_us() + (int64_t)ms * 1000;

	while (fc->last_dropped != want && tnd_monotonic_us() < deadline)
		fake_pump(fc, 50, NULL, NULL);
	return fc->last_dropped == want;
}

#define WELCOME_FAST "{\"heartbeatIntervalMs\":100,\"heartbeatTimeoutMs\":5000}"

static void test_worker_survives_garbage(void **state)
{
	static const char *const words[] = { "HELLO", "HEARTBEAT", "RESULT", "BYE", "WELCOME", "TASK", "NOPE", "" };
	static const unsigned char v1 = 1, v7 = 7;
	struct fake_core fc;
	struct wt_env env;
	struct worker_msg result;
	char *endpoint, *marker;
	int yes = 1, zero = 0, status;

	log_set_level(TND_LOG_WARNING);
	fuzz_seed();
	memset(&fc, 0, sizeof(fc));
	fc.last_dropped = -1;
	wt_env_init(&env, "fuzzworker", 0);
	endpoint = tnd_xasprintf("ipc://%s/fake.sock", env.dir);
	marker = tnd_xasprintf("%s/slow-once", env.dir);
	fc.ctx = zmq_ctx_new();
	fc.router = zmq_socket(fc.ctx, ZMQ_ROUTER);
	zmq_setsockopt(fc.router, ZMQ_ROUTER_HANDOVER, &yes, sizeof(yes));
	zmq_setsockopt(fc.router, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_bind(fc.router, endpoint), 0);
	{
		const char *args[] = { "-c", env.config_path, "--connect", endpoint, "--id", "victim",
				       "--foreground-log-level", "error", NULL };
		fc.worker = fake_worker = wt_spawn_worker(args);
	}
	/* HELLO first; until WELCOME, TASK and HEARTBEAT are unexpected */
	for (int i = 0; i < 100 && fc.hellos == 0; i++)
		fake_pump(&fc, 50, NULL, NULL);
	assert_int_equal(fc.hellos, 1);
	fake_send(&fc, "TASK", "{\"taskId\":\"early\",\"dispatch\":1,\"plugin\":\"good_isolation\",\"op\":\"observe\","
			       "\"request\":{}}");
	fake_send(&fc, "HEARTBEAT", "{}");
	fake_send(&fc, "WELCOME", WELCOME_FAST);
	/* one op running: a second TASK is refused as busy */
	{
		char *task = tnd_xasprintf("{\"taskId\":\"slow\",\"dispatch\":1,\"plugin\":\"flaky_isolation\","
					   "\"op\":\"observe\",\"request\":{\"sleepMs\":400,\"once\":\"%s\"}}", marker);
		fake_send(&fc, "TASK", task);
		fake_send(&fc, "TASK", task);
		free(task);
	}
	/* and one of each malformed kind */
	zmq_send(fc.router, "victim", 6, ZMQ_SNDMORE);
	zmq_send(fc.router, &v1, 1, ZMQ_SNDMORE);
	zmq_send(fc.router, "TASK", 4, 0);                                               /* frames */
	send3(fc.router, "victim", 6, &v7, 1, "HEARTBEAT", "{}");                       /* version */
	fake_send(&fc, "RESULT", "{}");                                                  /* type */
	fake_send(&fc, "HEARTBEAT", "{\"x\":\"\xc3\x28\"}");                             /* utf8 */
	fake_send(&fc, "HEARTBEAT", "{\"x\"");                                           /* json */
	fake_send(&fc, "HEARTBEAT", "{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"); /* depth */
	fake_send(&fc, "WELCOME", "{\"heartbeatIntervalMs\":1,\"heartbeatTimeoutMs\":2}"); /* fields */
	/* 2 unexpected + 1 busy + 7 malformed, and the slow task still answers */
	assert_true(fake_pump(&fc, 5000, "slow", &result));
	assert_int_equal(result.u.result.rc, 0);
	worker_msg_clear(&result);
	assert_true(fake_wait_dropped(&fc, 10, 3000));

	/* random garbage, with WELCOMEs now and then to keep it registered */
	for (int i = 0; i < FUZZ_REVERSE_MESSAGES; i++) {
		if (i % 200 == 0)
			fake_send(&fc, "WELCOME", WELCOME_FAST);
		fuzz_send(fc.router, "victim", 6, i % 400 == 7 ? FUZZ_BIG : 256 * 1024, words, TND_ARRAY_SIZE(words));
		if (i % 50 == 0)
			fake_pump(&fc, 1, NULL, NULL);
	}
	/* the big frames broke its connection a few times: allow for reconnecting */
	fc.heartbeats = 0;
	for (int i = 0; i < 40 && fc.heartbeats < 5; i++) {
		fake_send(&fc, "WELCOME", WELCOME_FAST);
		fake_pump(&fc, 250, NULL, NULL);
	}
	fprintf(stderr, "worker: %lld messages dropped, %u HELLOs\n", (long long)fc.last_dropped, fc.hellos);
	assert_true(fc.heartbeats >= 5);
	assert_true(fc.last_dropped > 10);

	/* still serving */
	fake_send(&fc, "TASK", "{\"taskId\":\"final\",\"dispatch\":1,\"plugin\":\"good_isolation\",\"op\":\"observe\","
			       "\"request\":{}}");
	assert_true(fake_pump(&fc, 3000, "final", &result));
	assert_int_equal(result.u.result.rc, 0);
	assert_non_null(json_object_get(result.u.result.result, "observed"));
	worker_msg_clear(&result);

	fake_send(&fc, "SHUTDOWN", "{}");
	status = wt_wait_exit(fc.worker, 5000);
	assert_true(status >= 0 && WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	fake_worker = 0;
	zmq_close(fc.router);
	zmq_ctx_term(fc.ctx);
	free(marker);
	free(endpoint);
	wt_env_free(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_survives_garbage),
		cmocka_unit_test_teardown(test_worker_survives_garbage, fake_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
