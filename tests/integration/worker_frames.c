/*
 * worker_frames.c — a hostile peer for a running daemon's worker socket
 * (docs/worker-protocol.md, "Drops"), for test_reconcile_fuzz.sh:
 *
 *   worker_frames ENDPOINT scripted
 *       one message for each reason the core drops: frames, oversized,
 *       version, type, utf8, json, depth, fields, unknown_peer from an
 *       unregistered DEALER; then, as a registered peer serving no plugin
 *       (so it is never given a task), a RESULT for a task it never had
 *       (foreign_task), and BYE.
 *   worker_frames ENDPOINT random COUNT SEED
 *       COUNT random messages from an unregistered DEALER: random frame
 *       counts and bytes, protocol words with random, truncated, too deep or
 *       mistyped bodies, valid bodies (from a peer nobody registered), frames
 *       up to 300 KB.  None may be taken: the core drops each exactly once.
 *
 * Every frame stays below ZMQ_MAXMSGSIZE, so libzmq delivers every message
 * and the core's drop counter must grow by exactly the number sent; the
 * program prints that number.  It lingers until all is delivered.
 * Exit status 0, 1 on a ZeroMQ error, 2 usage.
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#define FRAMES_LINGER_MS 30000
#define FRAMES_BIG (300 * 1024)

static uint64_t frames_state;

static uint64_t frames_rand(void)
{
	/* xorshift64*: reproducible from the seed the script prints */
	frames_state ^= frames_state >> 12;
	frames_state ^= frames_state << 25;
	frames_state ^= frames_state >> 27;
	return frames_state * UINT64_C(2685821657736338717);
}

static size_t frames_below(size_t n)
{
	return n ? (size_t)(frames_rand() % n) : 0;
}

static int frames_send(void *socket, const void *data, size_t size, bool more)
{
	if (zmq_send(socket, data, size, more ? ZMQ_SNDMORE : 0) < 0) {
		fprintf(stderr, "worker_frames: zmq_send: %s\n", zmq_strerror(zmq_errno()));
		return -1;
	}
	return 0;
}

/* The three frames of a message: version byte, type word, body. */
static int frames_send3(void *socket, unsigned char version, const char *type, const char *body, size_t body_len)
{
	if (frames_send(socket, &version, 1, true) < 0 || frames_send(socket, type, strlen(type), true) < 0)
		return -1;
	return frames_send(socket, body, body_len, false);
}

static int frames_send3s(void *socket, unsigned char version, const char *type, const char *body)
{
	return frames_send3(socket, version, type, body, strlen(body));
}

static void *frames_dealer(void *ctx, const char *endpoint, const char *routing_id)
{
	int linger = FRAMES_LINGER_MS;
	void *dealer = zmq_socket(ctx, ZMQ_DEALER);

	if (dealer == NULL)
		return NULL;
	zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof(linger));
	if (routing_id)
		zmq_setsockopt(dealer, ZMQ_ROUTING_ID, routing_id, strlen(routing_id));
	if (zmq_connect(dealer, endpoint) < 0) {
		fprintf(stderr, "worker_frames: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
		zmq_close(dealer);
		return NULL;
	}
	return dealer;
}

/* Wait up to @timeout_ms for a message; its type frame into @type. */
static int frames_receive_type(void *socket, char *type, size_t cap, int timeout_ms)
{
	zmq_pollitem_t item = { socket, 0, ZMQ_POLLIN, 0 };
	int part = 0, more = 1;
	size_t more_size = sizeof(more);

	type[0] = '\0';
	if (zmq_poll(&item, 1, timeout_ms) <= 0)
		return -1;
	while (more) {
		char buf[256];
		int n = zmq_recv(socket, buf, sizeof(buf), 0);
		if (n < 0)
			return -1;
		if (part++ == 1) {
			size_t len = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
			memcpy(type, buf, len);
			type[len] = '\0';
		}
		zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &more_size);
	}
	return 0;
}

static int frames_scripted(void *ctx, const char *endpoint)
{
	static const char hello[] =
		"{\"workerId\":\"fuzz-peer\",\"pid\":1,\"plugins\":[\"no_such_plugin\"],\"protocol\":1,\"version\":\"0\"}";
	char *blob = malloc(600 * 1024), deep[128], type[32];
	void *anon = frames_dealer(ctx, endpoint, NULL), *peer = NULL;
	size_t at;
	int r = -1;

	if (blob == NULL || anon == NULL)
		goto out;
	memset(blob, ' ', 600 * 1024);
	at = (size_t)sprintf(deep, "{\"a\":");
	for (int i = 0; i < 40; i++)
		deep[at++] = '[';
	deep[at] = '\0';
	if (frames_send(anon, "\x01", 1, true) < 0 || frames_send(anon, "BYE", 3, false) < 0 || /* frames */
	    frames_send(anon, "\x01", 1, true) < 0 || frames_send(anon, blob, 600 * 1024, true) < 0 ||
	    frames_send(anon, blob, 600 * 1024, false) < 0 ||                                /* oversized */
	    frames_send3s(anon, 2, "BYE", "{}") < 0 ||                                      /* version */
	    frames_send3s(anon, 1, "TASK", "{}") < 0 ||                                     /* type */
	    frames_send3s(anon, 1, "BYE", "{\"a\":\"\xfe\"}") < 0 ||                        /* utf8 */
	    frames_send3s(anon, 1, "BYE", "{\"a\":") < 0 ||                                 /* json */
	    frames_send3s(anon, 1, "BYE", deep) < 0 ||                                      /* depth */
	    frames_send3s(anon, 1, "HEARTBEAT", "{\"busy\":\"no\"}") < 0 ||                 /* fields */
	    frames_send3s(anon, 1, "HEARTBEAT", "{\"busy\":false}") < 0)                   /* unknown_peer */
		goto out;
	/* a registered peer: HELLO, wait for WELCOME, a RESULT nobody asked for */
	peer = frames_dealer(ctx, endpoint, "fuzz-peer");
	if (peer == NULL || frames_send3s(peer, 1, "HELLO", hello) < 0)
		goto out;
	if (frames_receive_type(peer, type, sizeof(type), 10000) < 0 || strcmp(type, "WELCOME") != 0) {
		fprintf(stderr, "worker_frames: no WELCOME for a HELLO (got '%s')\n", type);
		goto out;
	}
	if (frames_send3s(peer, 1, "RESULT", "{\"taskId\":\"never-given\",\"dispatch\":1,\"rc\":0,\"result\":{}}") < 0 ||
	    frames_send3s(peer, 1, "BYE", "{}") < 0)                                        /* foreign_task */
		goto out;
	printf("10\n");
	r = 0;
out:
	free(blob);
	if (anon)
		zmq_close(anon);
	if (peer)
		zmq_close(peer);
	return r;
}

static void frames_random_bytes(char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)frames_rand();
}

/* A random body: garbage, broken or too deep JSON, the wrong fields, or right ones. */
static size_t frames_random_body(char *buf, size_t cap)
{
	static const char *const bodies[] = {
		"{}",
		"{\"busy\":false}",
		"{\"busy\":true,\"taskId\":\"t-1\",\"framesDropped\":3}",
		"{\"taskId\":\"wf-1/0/1\",\"dispatch\":1,\"rc\":0,\"result\":{\"resources\":{}}}",
		"{\"taskId\":\"wf-1/0/1\",\"dispatch\":0,\"rc\":-5}",
		"{\"workerId\":\"someone-else\",\"pid\":7,\"plugins\":[],\"protocol\":1,\"version\":\"1\"}",
		"{\"busy\":1}",
		"[1,2,3]",
		"\"text\"",
		"{\"a\":1,\"a\":2}",
		"{\"rc\":1.5e3}",
		"null",
	};
	size_t len;

	switch (frames_below(5)) {
	case 0:
		len = frames_below(cap < 4096 ? cap : 4096);
		frames_random_bytes(buf, len);
		return len;
	case 1: {
		const char *b = bodies[frames_below(sizeof(bodies) / sizeof(bodies[0]))];
		len = strlen(b);
		memcpy(buf, b, len);
		return len;
	}
	case 2: { /* truncated */
		const char *b = bodies[frames_below(sizeof(bodies) / sizeof(bodies[0]))];
		len = frames_below(strlen(b));
		memcpy(buf, b, len);
		return len;
	}
	case 3: { /* too deep */
		size_t depth = 33 + frames_below(200);
		for (len = 0; len < depth && len < cap; len++)
			buf[len] = frames_below(2) ? '[' : '{';
		return len;
	}
	default: { /* one byte flipped */
		const char *b = bodies[frames_below(sizeof(bodies) / sizeof(bodies[0]))];
		len = strlen(b);
		memcpy(buf, b, len);
		buf[frames_below(len)] ^= (char)(1u << frames_below(8));
		return len;
	}
	}
}

static int frames_random(void *ctx, const char *endpoint, long count)
{
	static const char *const words[] = { "HELLO", "HEARTBEAT", "RESULT", "BYE", "WELCOME", "TASK", "SHUTDOWN",
					     "NOPE", "hello", "" };
	char *buf = malloc(FRAMES_BIG);
	void *anon = frames_dealer(ctx, endpoint, NULL);
	int r = -1;

	if (buf == NULL || anon == NULL)
		goto out;
	for (long i = 0; i < count; i++) {
		size_t kind = frames_below(10);
		int ok;

		if (kind < 3) {
			/* random frames: any count but three, or three of random bytes */
			size_t n = kind == 0 ? 3 : 1 + frames_below(6);
			ok = 0;
			for (size_t f = 0; f < n && ok == 0; f++) {
				size_t len = frames_below(kind == 2 && f == n - 1 ? FRAMES_BIG : 512);
				frames_random_bytes(buf, len);
				if (kind == 0 && f == 0 && len == 1 && buf[0] == 1)
					buf[0] = 2; /* keep it from being a version byte: garbage stays garbage */
				ok = frames_send(anon, buf, len, f + 1 < n);
			}
		} else {
			const char *word = words[frames_below(sizeof(words) / sizeof(words[0]))];
			unsigned char version = frames_below(8) ? 1 : (unsigned char)frames_rand();
			size_t len = frames_random_body(buf, FRAMES_BIG);
			ok = frames_send3(anon, version, word, buf, len);
		}
		if (ok < 0)
			goto out;
	}
	printf("%ld\n", count);
	r = 0;
out:
	free(buf);
	if (anon)
		zmq_close(anon);
	return r;
}

int main(int argc, char **argv)
{
	void *ctx;
	int r;

	if (argc == 3 && strcmp(argv[2], "scripted") == 0) {
		ctx = zmq_ctx_new();
		r = frames_scripted(ctx, argv[1]);
	} else if (argc == 5 && strcmp(argv[2], "random") == 0) {
		frames_state = strtoull(argv[4], NULL, 0);
		if (frames_state == 0)
			frames_state = 1;
		ctx = zmq_ctx_new();
		r = frames_random(ctx, argv[1], strtol(argv[3], NULL, 10));
	} else {
		fprintf(stderr, "usage: worker_frames ENDPOINT scripted | worker_frames ENDPOINT random COUNT SEED\n");
		return 2;
	}
	fflush(stdout);
	zmq_ctx_term(ctx); /* waits for the linger: every message delivered */
	return r < 0 ? 1 : 0;
}
