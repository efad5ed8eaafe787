/*
 * test_worker_proto.c — the worker protocol's messages (core/worker_proto.c):
 * every type built, sent over real sockets and decoded on the side that
 * receives it; and every reason a message is dropped, with the cases that
 * must not be dropped next to them (limits are inclusive, unknown members
 * are ignored).  The drops that depend on state (unknown peer, foreign or
 * stale results, busy or not-yet-welcomed workers) are the pool's and the
 * worker's business: test_worker_pool.c and test_worker_fuzz.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "util.h"
#include "worker_proto.h"

/* --- helpers ----------------------------------------------------------------------------- */

static void frames_fill(struct worker_frames *f, size_t n, const void *const *data, const size_t *sizes)
{
	memset(f, 0, sizeof(*f));
	f->n_frames = n;
	for (size_t i = 0; i < n; i++) {
		f->total += sizes[i];
		if (i < 3) {
			f->data[i] = tnd_xmalloc(sizes[i] + 1);
			memcpy(f->data[i], data[i], sizes[i]);
			f->size[i] = sizes[i];
		}
	}
}

/* Decode [version][type][body]; the reason on a drop, -1 when accepted (msg filled). */
static int decode_raw(enum worker_side side, const void *version, size_t version_len, const char *type,
		      const void *body, size_t body_len, struct worker_msg *msg)
{
	const void *data[3] = { version, type, body };
	size_t sizes[3] = { version_len, strlen(type), body_len };
	struct worker_frames f;
	enum worker_drop reason = WORKER_DROP_COUNT_;
	int r;

	frames_fill(&f, 3, data, sizes);
	r = worker_proto_decode(side, &f, msg, &reason);
	worker_frames_clear(&f);
	if (r == 0)
		return -1;
	assert_int_equal(r, -EBADMSG);
	return (int)reason;
}

static int decode_text(enum worker_side side, const char *type, const char *body)
{
	static const unsigned char v1 = 1;
	struct worker_msg msg;
	int r = decode_raw(side, &v1, 1, type, body, strlen(body), &msg);

	if (r < 0)
		worker_msg_clear(&msg);
	return r;
}

#define assert_accepted(side, type, body) assert_int_equal(decode_text((side), (type), (body)), -1)
#define assert_dropped(side, type, body, reason) assert_int_equal(decode_text((side), (type), (body)), (reason))

#define CORE WORKER_SIDE_CORE
#define WORKER WORKER_SIDE_WORKER

#define HELLO_OK "{\"workerId\":\"w-1\",\"pid\":42,\"plugins\":[\"good_isolation\"],\"protocol\":1,\"version\":\"0.1\"}"
#define RESULT_OK "{\"taskId\":\"t1\",\"dispatch\":1,\"rc\":0,\"result\":{\"resources\":{}}}"
#define TASK_OK "{\"taskId\":\"t1\",\"dispatch\":2,\"plugin\":\"p\",\"op\":\"observe\",\"request\":{\"tenantId\":\"a\"}}"

/* --- round trips over real sockets --------------------------------------------------------------- */

struct pair {
	void *ctx, *router, *dealer;
};

static void pair_open(struct pair *p)
{
	p->ctx = zmq_ctx_new();
	p->router = zmq_socket(p->ctx, ZMQ_ROUTER);
	p->dealer = zmq_socket(p->ctx, ZMQ_DEALER);
	assert_int_equal(zmq_setsockopt(p->dealer, ZMQ_ROUTING_ID, "w-1", 3), 0);
	assert_int_equal(zmq_bind(p->router, "inproc://proto-test"), 0);
	assert_int_equal(zmq_connect(p->dealer, "inproc://proto-test"), 0);
}

static void pair_close(struct pair *p)
{
	zmq_close(p->dealer);
	zmq_close(p->router);
	zmq_ctx_term(p->ctx);
}

/* Receive one message, waiting up to a second. */
static void recv_wait(void *socket, bool with_identity, struct worker_frames *f)
{
	zmq_pollitem_t item = { socket, 0, ZMQ_POLLIN, 0 };

	assert_int_equal(zmq_poll(&item, 1, 1000), 1);
	assert_int_equal(worker_proto_recv(socket, with_identity, f), 0);
}

/* dealer → router, decoded by the core */
static void up(struct pair *p, enum worker_msg_type type, json_t *body, struct worker_msg *msg)
{
	struct worker_frames f;
	enum worker_drop reason;

	assert_int_equal(worker_proto_send(p->dealer, NULL, 0, type, body), 0);
	json_decref(body);
	recv_wait(p->router, true, &f);
	assert_int_equal(f.identity_len, 3);
	assert_memory_equal(f.identity, "w-1", 3);
	assert_int_equal(f.n_frames, 3);
	assert_int_equal(worker_proto_decode(CORE, &f, msg, &reason), 0);
	assert_int_equal(msg->type, type);
	worker_frames_clear(&f);
}

/* router → dealer, decoded by the worker */
static void down(struct pair *p, enum worker_msg_type type, json_t *body, struct worker_msg *msg)
{
	struct worker_frames f;
	enum worker_drop reason;

	assert_int_equal(worker_proto_send(p->router, "w-1", 3, type, body), 0);
	json_decref(body);
	recv_wait(p->dealer, false, &f);
	assert_int_equal(f.identity_len, 0);
	assert_int_equal(worker_proto_decode(WORKER, &f, msg, &reason), 0);
	assert_int_equal(msg->type, type);
	worker_frames_clear(&f);
}

static void test_round_trips(void **state)
{
	const char *plugins[] = { "good_isolation", "flaky_isolation" };
	json_t *request = json_pack("{s:s, s:{s:s}}", "tenantId", "acme", "credentials", "password", "x");
	json_t *result = json_pack("{s:{s:s}}", "resources", "schema", "t_acme");
	struct worker_msg msg;
	struct pair p;

	pair_open(&p);
	/* HELLO carries the routing id it must match; the core compares them */
	up(&p, WORKER_MSG_HELLO, worker_proto_hello("w-1", 1234, plugins, 2, "0.1.0", true, "t9"), &msg);
	assert_string_equal(msg.u.hello.worker_id, "w-1");
	assert_int_equal(msg.u.hello.pid, 1234);
	assert_int_equal(json_array_size(msg.u.hello.plugins), 2);
	assert_string_equal(json_string_value(json_array_get(msg.u.hello.plugins, 1)), "flaky_isolation");
	assert_string_equal(msg.u.hello.version, "0.1.0");
	assert_true(msg.u.hello.busy);
	assert_string_equal(msg.u.hello.task_id, "t9");
	worker_msg_clear(&msg);

	up(&p, WORKER_MSG_HEARTBEAT, worker_proto_heartbeat(true, "t1", 7), &msg);
	assert_true(msg.u.heartbeat.busy);
	assert_string_equal(msg.u.heartbeat.task_id, "t1");
	assert_int_equal(msg.u.heartbeat.frames_dropped, 7);
	worker_msg_clear(&msg);
	up(&p, WORKER_MSG_HEARTBEAT, worker_proto_heartbeat(false, NULL, -1), &msg);
	assert_false(msg.u.heartbeat.busy);
	assert_null(msg.u.heartbeat.task_id);
	assert_int_equal(msg.u.heartbeat.frames_dropped, -1);
	worker_msg_clear(&msg);

	up(&p, WORKER_MSG_RESULT, worker_proto_result("t1", 3, 0, result, "ignored"), &msg);
	assert_string_equal(msg.u.result.task_id, "t1");
	assert_int_equal(msg.u.result.dispatch, 3);
	assert_int_equal(msg.u.result.rc, 0);
	assert_true(json_equal(msg.u.result.result, result));
	assert_string_equal(msg.u.result.error, "");
	worker_msg_clear(&msg);
	up(&p, WORKER_MSG_RESULT, worker_proto_result("t1", 1, -EAGAIN, NULL, "connection refused"), &msg);
	assert_int_equal(msg.u.result.rc, -EAGAIN);
	assert_null(msg.u.result.result);
	assert_string_equal(msg.u.result.error, "connection refused");
	worker_msg_clear(&msg);
	/* a plugin's message with a stray byte still makes a valid body */
	up(&p, WORKER_MSG_RESULT, worker_proto_result("t1", 1, -EIO, NULL, "bad \xff byte"), &msg);
	assert_string_equal(msg.u.result.error, "bad ? byte");
	worker_msg_clear(&msg);

	up(&p, WORKER_MSG_BYE, NULL, &msg);
	worker_msg_clear(&msg);

	down(&p, WORKER_MSG_WELCOME, worker_proto_welcome(250, 2000), &msg);
	assert_int_equal(msg.u.welcome.interval_ms, 250);
	assert_int_equal(msg.u.welcome.timeout_ms, 2000);
	worker_msg_clear(&msg);
	down(&p, WORKER_MSG_HEARTBEAT, NULL, &msg);
	worker_msg_clear(&msg);
	down(&p, WORKER_MSG_TASK, worker_proto_task("t1", 2, "good_isolation", "provision", request), &msg);
	assert_string_equal(msg.u.task.task_id, "t1");
	assert_int_equal(msg.u.task.dispatch, 2);
	assert_string_equal(msg.u.task.plugin, "good_isolation");
	assert_string_equal(msg.u.task.op, "provision");
	assert_true(json_equal(msg.u.task.request, request));
	worker_msg_clear(&msg);
	down(&p, WORKER_MSG_SHUTDOWN, NULL, &msg);
	worker_msg_clear(&msg);

	/* to a peer that is gone: ROUTER_MANDATORY says so */
	{
		int yes = 1;
		assert_int_equal(zmq_setsockopt(p.router, ZMQ_ROUTER_MANDATORY, &yes, sizeof(yes)), 0);
		assert_int_equal(worker_proto_send(p.router, "nobody", 6, WORKER_MSG_HEARTBEAT, NULL), -EHOSTUNREACH);
	}
	pair_close(&p);
	json_decref(request);
	json_decref(result);
}

static void test_send_limit(void **state)
{
	size_t big = WORKER_PROTO_MAX_MESSAGE;
	char *filler = tnd_xmalloc(big + 1);
	json_t *request, *task;
	struct pair p;

	memset(filler, 'a', big);
	filler[big] = '\0';
	request = json_pack("{s:s}", "blob", filler);
	task = worker_proto_task("t", 1, "p", "observe", request);
	pair_open(&p);
	assert_int_equal(worker_proto_send(p.router, "w-1", 3, WORKER_MSG_TASK, task), -EMSGSIZE);
	pair_close(&p);
	json_decref(task);
	json_decref(request);
	free(filler);
}

static void test_recv_counts_every_frame(void **state)
{
	struct worker_frames f;
	struct pair p;

	pair_open(&p);
	for (int i = 0; i < 5; i++)
		assert_true(zmq_send(p.dealer, "abc", 3, i < 4 ? ZMQ_SNDMORE : 0) == 3);
	recv_wait(p.router, true, &f);
	assert_int_equal(f.n_frames, 5);
	assert_int_equal(f.total, 15);
	assert_int_equal(f.size[2], 3);
	worker_frames_clear(&f);
	assert_int_equal(worker_proto_recv(p.router, true, &f), -EAGAIN);
	pair_close(&p);
}

/* --- drops ---------------------------------------------------------------------------------------- */

static void test_drop_frames(void **state)
{
	static const unsigned char v1 = 1;
	const void *data[4] = { &v1, "HELLO", HELLO_OK, "x" };
	size_t sizes[4] = { 1, 5, strlen(HELLO_OK), 1 };
	struct worker_frames f;
	struct worker_msg msg;
	enum worker_drop reason;

	for (size_t n = 1; n <= 4; n++) {
		if (n == 3)
			continue;
		frames_fill(&f, n, data, sizes);
		assert_int_equal(worker_proto_decode(CORE, &f, &msg, &reason), -EBADMSG);
		assert_int_equal(reason, WORKER_DROP_FRAMES);
		worker_frames_clear(&f);
	}
	frames_fill(&f, 3, data, sizes);
	assert_int_equal(worker_proto_decode(CORE, &f, &msg, &reason), 0);
	worker_msg_clear(&msg);
	worker_frames_clear(&f);
}

static void test_drop_oversized(void **state)
{
	static const unsigned char v1 = 1;
	size_t fill = WORKER_PROTO_MAX_MESSAGE - 1 - strlen("HEARTBEAT") - strlen("{\"busy\":false,\"x\":\"\"}");
	char *body = tnd_xasprintf("{\"busy\":false,\"x\":\"%*s\"}", (int)fill, "");
	struct worker_msg msg;

	/* exactly the limit passes, one byte more does not */
	assert_int_equal(decode_raw(CORE, &v1, 1, "HEARTBEAT", body, strlen(body), &msg), -1);
	worker_msg_clear(&msg);
	free(body);
	body = tnd_xasprintf("{\"busy\":false,\"x\":\"%*s\"}", (int)fill + 1, "");
	assert_int_equal(decode_raw(CORE, &v1, 1, "HEARTBEAT", body, strlen(body), &msg), WORKER_DROP_OVERSIZED);
	free(body);
}

static void test_drop_version(void **state)
{
	static const unsigned char v0 = 0, v2 = 2, v11[2] = { 1, 1 };
	struct worker_msg msg;

	assert_int_equal(decode_raw(CORE, &v0, 1, "HELLO", HELLO_OK, strlen(HELLO_OK), &msg), WORKER_DROP_VERSION);
	assert_int_equal(decode_raw(CORE, &v2, 1, "HELLO", HELLO_OK, strlen(HELLO_OK), &msg), WORKER_DROP_VERSION);
	assert_int_equal(decode_raw(CORE, v11, 2, "HELLO", HELLO_OK, strlen(HELLO_OK), &msg), WORKER_DROP_VERSION);
	assert_int_equal(decode_raw(CORE, "", 0, "HELLO", HELLO_OK, strlen(HELLO_OK), &msg), WORKER_DROP_VERSION);
	assert_int_equal(decode_raw(CORE, "1", 1, "HELLO", HELLO_OK, strlen(HELLO_OK), &msg), WORKER_DROP_VERSION);
}

static void test_drop_type(void **state)
{
	static const char *const to_core_only[] = { "HELLO", "RESULT", "BYE" };
	static const char *const to_worker_only[] = { "WELCOME", "TASK", "SHUTDOWN" };

	assert_dropped(CORE, "NOPE", "{}", WORKER_DROP_TYPE);
	assert_dropped(CORE, "hello", HELLO_OK, WORKER_DROP_TYPE);
	assert_dropped(CORE, "HELLO ", HELLO_OK, WORKER_DROP_TYPE);
	assert_dropped(CORE, "", "{}", WORKER_DROP_TYPE);
	/* a type of the other direction */
	for (size_t i = 0; i < 3; i++) {
		assert_dropped(WORKER, to_core_only[i], "{}", WORKER_DROP_TYPE);
		assert_dropped(CORE, to_worker_only[i], "{}", WORKER_DROP_TYPE);
	}
	assert_accepted(CORE, "BYE", "{}");
	assert_accepted(WORKER, "SHUTDOWN", "{}");
	assert_accepted(WORKER, "HEARTBEAT", "{}");
	{
		/* a NUL inside the type word */
		static const unsigned char v1 = 1;
		struct worker_msg msg;
		const void *data[3] = { &v1, "BYE\0", "{}" };
		size_t sizes[3] = { 1, 4, 2 };
		struct worker_frames f;
		enum worker_drop reason;
		frames_fill(&f, 3, data, sizes);
		assert_int_equal(worker_proto_decode(CORE, &f, &msg, &reason), -EBADMSG);
		assert_int_equal(reason, WORKER_DROP_TYPE);
		worker_frames_clear(&f);
	}
}

static void test_drop_utf8(void **state)
{
	static const unsigned char v1 = 1;
	struct worker_msg msg;

	assert_dropped(CORE, "BYE", "{\"a\":\"\xff\"}", WORKER_DROP_UTF8);
	assert_dropped(CORE, "BYE", "{\"a\":\"\xc3\"}", WORKER_DROP_UTF8);         /* truncated */
	assert_dropped(CORE, "BYE", "{\"a\":\"\xed\xa0\x80\"}", WORKER_DROP_UTF8); /* a surrogate */
	assert_dropped(CORE, "BYE", "{\"a\":\"\xc0\xaf\"}", WORKER_DROP_UTF8);     /* overlong */
	assert_int_equal(decode_raw(CORE, &v1, 1, "BYE", "{}\0", 3, &msg), WORKER_DROP_UTF8);
	assert_accepted(CORE, "BYE", "{\"a\":\"gr\xc3\xbc\xc3\x9f \xe2\x82\xac\"}");
}

static void test_drop_json(void **state)
{
	assert_dropped(CORE, "BYE", "", WORKER_DROP_JSON);
	assert_dropped(CORE, "BYE", "not json", WORKER_DROP_JSON);
	assert_dropped(CORE, "BYE", "{", WORKER_DROP_JSON);
	assert_dropped(CORE, "BYE", "[]", WORKER_DROP_JSON);
	assert_dropped(CORE, "BYE", "\"text\"", WORKER_DROP_JSON);
	assert_dropped(CORE, "BYE", "{} {}", WORKER_DROP_JSON);
	assert_dropped(CORE, "BYE", "{\"a\":1,\"a\":2}", WORKER_DROP_JSON);
	assert_dropped(CORE, "BYE", "{\"a\":\"\\u0000\"}", WORKER_DROP_JSON);
	assert_dropped(CORE, "BYE", "{\"a\":99999999999999999999999}", WORKER_DROP_JSON);
}

static char *nested(unsigned depth)
{
	/* an object holding `a`: (depth - 1) nested arrays */
	size_t n = depth - 1;
	char *s = tnd_xmalloc(2 * n + 16);
	size_t at = 0;

	at += (size_t)sprintf(s, "{\"a\":");
	for (size_t i = 0; i < n; i++)
		s[at++] = '[';
	for (size_t i = 0; i < n; i++)
		s[at++] = ']';
	s[at++] = '}';
	s[at] = '\0';
	return s;
}

static void test_drop_depth(void **state)
{
	char *ok = nested(WORKER_PROTO_MAX_DEPTH), *deep = nested(WORKER_PROTO_MAX_DEPTH + 1);

	assert_accepted(CORE, "BYE", ok);
	assert_dropped(CORE, "BYE", deep, WORKER_DROP_DEPTH);
	/* brackets inside strings are text, not nesting */
	assert_accepted(CORE, "BYE", "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[\"}");
	assert_true(worker_proto_depth_ok("[[]]", 4, 2));
	assert_false(worker_proto_depth_ok("[[[]]]", 6, 2));
	free(ok);
	free(deep);
}

static void test_drop_fields(void **state)
{
	static const struct {
		enum worker_side side;
		const char *type;
		const char *body;
	} bad[] = {
		{ CORE, "HELLO", "{}" },
		{ CORE, "HELLO", "{\"workerId\":5,\"pid\":42,\"plugins\":[],\"protocol\":1,\"version\":\"0.1\"}" },
		{ CORE, "HELLO", "{\"workerId\":\"bad id\",\"pid\":42,\"plugins\":[],\"protocol\":1,\"version\":\"0.1\"}" },
		{ CORE, "HELLO", "{\"workerId\":\"\",\"pid\":42,\"plugins\":[],\"protocol\":1,\"version\":\"0.1\"}" },
		{ CORE, "HELLO", "{\"workerId\":\"w\",\"pid\":0,\"plugins\":[],\"protocol\":1,\"version\":\"0.1\"}" },
		{ CORE, "HELLO", "{\"workerId\":\"w\",\"pid\":\"42\",\"plugins\":[],\"protocol\":1,\"version\":\"0.1\"}" },
		{ CORE, "HELLO", "{\"workerId\":\"w\",\"pid\":4.2,\"plugins\":[],\"protocol\":1,\"version\":\"0.1\"}" },
		{ CORE, "HELLO", "{\"workerId\":\"w\",\"pid\":42,\"plugins\":\"p\",\"protocol\":1,\"version\":\"0.1\"}" },
		{ CORE, "HELLO", "{\"workerId\":\"w\",\"pid\":42,\"plugins\":[1],\"protocol\":1,\"version\":\"0.1\"}" },
		{ CORE, "HELLO", "{\"workerId\":\"w\",\"pid\":42,\"plugins\":[],\"protocol\":2,\"version\":\"0.1\"}" },
		{ CORE, "HELLO", "{\"workerId\":\"w\",\"pid\":42,\"plugins\":[],\"protocol\":1}" },
		{ CORE, "HELLO", "{\"workerId\":\"w\",\"pid\":42,\"plugins\":[],\"protocol\":1,\"version\":\"0.1\",\"busy\":1}" },
		{ CORE, "HELLO", "{\"workerId\":\"w\",\"pid\":42,\"plugins\":[],\"protocol\":1,\"version\":\"0.1\",\"taskId\":7}" },
		{ CORE, "HEARTBEAT", "{}" },
		{ CORE, "HEARTBEAT", "{\"busy\":1}" },
		{ CORE, "HEARTBEAT", "{\"busy\":true,\"taskId\":3}" },
		{ CORE, "HEARTBEAT", "{\"busy\":true,\"framesDropped\":-1}" },
		{ CORE, "HEARTBEAT", "{\"busy\":true,\"framesDropped\":1.5}" },
		{ CORE, "RESULT", "{\"dispatch\":1,\"rc\":-5}" },
		{ CORE, "RESULT", "{\"taskId\":\"\",\"dispatch\":1,\"rc\":-5}" },
		{ CORE, "RESULT", "{\"taskId\":\"t\",\"dispatch\":0,\"rc\":-5}" },
		{ CORE, "RESULT", "{\"taskId\":\"t\",\"dispatch\":\"1\",\"rc\":-5}" },
		{ CORE, "RESULT", "{\"taskId\":\"t\",\"dispatch\":1,\"rc\":1}" },
		{ CORE, "RESULT", "{\"taskId\":\"t\",\"dispatch\":1,\"rc\":-4096}" },
		{ CORE, "RESULT", "{\"taskId\":\"t\",\"dispatch\":1,\"rc\":0}" },
		{ CORE, "RESULT", "{\"taskId\":\"t\",\"dispatch\":1,\"rc\":0,\"result\":[]}" },
		{ CORE, "RESULT", "{\"taskId\":\"t\",\"dispatch\":1,\"rc\":-5,\"error\":5}" },
		{ WORKER, "WELCOME", "{}" },
		{ WORKER, "WELCOME", "{\"heartbeatIntervalMs\":5,\"heartbeatTimeoutMs\":5000}" },
		{ WORKER, "WELCOME", "{\"heartbeatIntervalMs\":1000,\"heartbeatTimeoutMs\":1000}" },
		{ WORKER, "WELCOME", "{\"heartbeatIntervalMs\":1000,\"heartbeatTimeoutMs\":3600001}" },
		{ WORKER, "WELCOME", "{\"heartbeatIntervalMs\":\"1000\",\"heartbeatTimeoutMs\":5000}" },
		{ WORKER, "TASK", "{\"taskId\":\"t1\",\"dispatch\":1,\"op\":\"observe\",\"request\":{}}" },
		{ WORKER, "TASK", "{\"taskId\":\"t1\",\"dispatch\":1,\"plugin\":\"p\",\"op\":\"observe\",\"request\":[]}" },
		{ WORKER, "TASK", "{\"taskId\":\"t1\",\"dispatch\":0,\"plugin\":\"p\",\"op\":\"observe\",\"request\":{}}" },
		{ WORKER, "TASK", "{\"taskId\":\"t1\",\"dispatch\":1,\"plugin\":\"p\",\"op\":3,\"request\":{}}" },
		{ WORKER, "TASK", "{\"taskId\":null,\"dispatch\":1,\"plugin\":\"p\",\"op\":\"observe\",\"request\":{}}" },
	};
	char *long_id, *long_task;

	for (size_t i = 0; i < TND_ARRAY_SIZE(bad); i++)
		if (decode_text(bad[i].side, bad[i].type, bad[i].body) != WORKER_DROP_FIELDS)
			fail_msg("not dropped for its fields: %s %s", bad[i].type, bad[i].body);

	/* the good versions, and the bounds that are still good */
	assert_accepted(CORE, "HELLO", HELLO_OK);
	assert_accepted(CORE, "RESULT", RESULT_OK);
	assert_accepted(CORE, "RESULT", "{\"taskId\":\"t\",\"dispatch\":1,\"rc\":-4095}");
	assert_accepted(WORKER, "TASK", TASK_OK);
	assert_accepted(WORKER, "WELCOME", "{\"heartbeatIntervalMs\":10,\"heartbeatTimeoutMs\":3600000}");
	assert_accepted(CORE, "HEARTBEAT", "{\"busy\":false,\"framesDropped\":0}");

	long_id = tnd_xasprintf("{\"workerId\":\"%0*d\",\"pid\":1,\"plugins\":[],\"protocol\":1,\"version\":\"v\"}",
				WORKER_PROTO_ID_MAX, 0);
	assert_accepted(CORE, "HELLO", long_id);
	free(long_id);
	long_id = tnd_xasprintf("{\"workerId\":\"%0*d\",\"pid\":1,\"plugins\":[],\"protocol\":1,\"version\":\"v\"}",
				WORKER_PROTO_ID_MAX + 1, 0);
	assert_dropped(CORE, "HELLO", long_id, WORKER_DROP_FIELDS);
	free(long_id);
	long_task = tnd_xasprintf("{\"taskId\":\"%0*d\",\"dispatch\":1,\"rc\":-1}", WORKER_PROTO_TASK_ID_MAX + 1, 0);
	assert_dropped(CORE, "RESULT", long_task, WORKER_DROP_FIELDS);
	free(long_task);
}

static void test_unknown_members_ignored(void **state)
{
	/* how a later revision of version 1 stays readable */
	assert_accepted(CORE, "HELLO",
			"{\"workerId\":\"w\",\"pid\":42,\"plugins\":[],\"protocol\":1,\"version\":\"0.1\","
			"\"region\":\"eu-west-1\",\"labels\":{\"gpu\":[1,2]}}");
	assert_accepted(WORKER, "SHUTDOWN", "{\"reason\":\"upgrade\"}");
	assert_accepted(WORKER, "HEARTBEAT", "{\"load\":0.5}");
}

static void test_names(void **state)
{
	static const char *const expected[] = { "frames",       "oversized",    "version",        "type",
						 "utf8",         "json",         "depth",          "fields",
						 "unknown_peer", "foreign_task", "stale_dispatch", "unexpected",
						 "busy" };

	assert_int_equal(TND_ARRAY_SIZE(expected), WORKER_DROP_COUNT_);
	for (int r = 0; r < WORKER_DROP_COUNT_; r++)
		assert_string_equal(worker_drop_name((enum worker_drop)r), expected[r]);
	assert_string_equal(worker_drop_name(WORKER_DROP_COUNT_), "unknown");
	assert_string_equal(worker_proto_type_word(WORKER_MSG_SHUTDOWN), "SHUTDOWN");

	assert_true(worker_proto_id_valid("local-1", 7));
	assert_true(worker_proto_id_valid("host.example_2", 14));
	assert_false(worker_proto_id_valid("", 0));
	assert_false(worker_proto_id_valid("a b", 3));
	assert_false(worker_proto_id_valid("a/b", 3));
	assert_false(worker_proto_id_valid("\0ab", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_send_limit),
		cmocka_unit_test(test_recv_counts_every_frame),
		cmocka_unit_test(test_drop_frames),
		cmocka_unit_test(test_drop_oversized),
		cmocka_unit_test(test_drop_version),
		cmocka_unit_test(test_drop_type),
		cmocka_unit_test(test_drop_utf8),
		cmocka_unit_test(test_drop_json),
		cmocka_unit_test(test_drop_depth),
		cmocka_unit_test(test_drop_fields),
		cmocka_unit_test(test_unknown_members_ignored),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
