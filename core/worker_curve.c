/*
 * worker_curve.c — CURVE key files and the ZAP handler for the worker
 * transport (see worker_curve.h, docs/worker-protocol.md "CURVE").
 *
 * libzmq asks the handler bound at inproc://zeromq.zap.01 of the socket's
 * context about every CURVE handshake; without a handler it would admit
 * any key.  The handler thread answers each request from the key set
 * loaded at start; the set never changes while it runs, so no locking.
 */
#include "autoconfig.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "log.h"
#include "metrics.h"
#include "util.h"
#include "worker_curve.h"

#define LOG_COMPONENT "workers"

#define CURVE_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define CURVE_KEY_BYTES 32
#define CURVE_KEYS_FILE_MAX (1024 * 1024)
/* a ZAP request has 6 frames plus the mechanism's credentials */
#define CURVE_ZAP_FRAMES 8
#define CURVE_LOG_INTERVAL_US 1000000

struct worker_zap {
	void *socket; /* REP, used by the thread only once started */
	unsigned char (*keys)[CURVE_KEY_BYTES];
	size_t n_keys;
	pthread_t thread;
	atomic_bool stop;
	atomic_uint_fast64_t refused;
	/* log rate limit (thread only) */
	int64_t last_log_us;
	uint64_t unlogged;
};

static bool curve_z85_key_decode(const char *text, size_t len, unsigned char out[CURVE_KEY_BYTES])
{
	char z85[WORKER_CURVE_KEY_LEN + 1];

	if (len != WORKER_CURVE_KEY_LEN)
		return false;
	memcpy(z85, text, len);
	z85[len] = '\0';
	return zmq_z85_decode(out, z85) != NULL;
}

int worker_curve_key_read(const char *path, enum tnd_file_policy policy, char ret_z85[WORKER_CURVE_KEY_LEN + 1],
			  struct tnd_error *err)
{
	unsigned char binary[CURVE_KEY_BYTES];
	char *data = NULL;
	size_t len = 0, start = 0, end;
	int r;

	r = tnd_file_check(path, policy, err);
	if (r < 0)
		return r;
	r = tnd_read_file(path, 4096, &data, &len, err);
	if (r < 0)
		return r;
	while (start < len && isspace((unsigned char)data[start]))
		start++;
	end = len;
	while (end > start && isspace((unsigned char)data[end - 1]))
		end--;
	if (!curve_z85_key_decode(data + start, end - start, binary)) {
		tnd_error_set(err, "%s: not a Z85 CURVE key (want 40 characters)", path);
		free(data);
		return -EINVAL;
	}
	memcpy(ret_z85, data + start, WORKER_CURVE_KEY_LEN);
	ret_z85[WORKER_CURVE_KEY_LEN] = '\0';
	free(data);
	return 0;
}

/* One key per line, anything after it a comment; blank and '#' lines skipped. */
static int curve_keys_load(struct worker_zap *zap, const char *path, struct tnd_error *err)
{
	char *data = NULL, *line;
	unsigned line_no = 0;
	int r;

	r = tnd_file_check(path, TND_FILE_TRUSTED, err);
	if (r < 0)
		return r;
	r = tnd_read_file(path, CURVE_KEYS_FILE_MAX, &data, NULL, err);
	if (r < 0)
		return r;
	/* split by hand: strtok_r would skip empty lines and lose the numbering */
	line = data;
	while (line != NULL) {
		char *next = strchr(line, '\n');
		size_t key_len;

		if (next)
			*next++ = '\0';
		line_no++;
		while (isspace((unsigned char)*line))
			line++;
		if (*line != '\0' && *line != '#') {
			key_len = strcspn(line, " \t\r");
			zap->keys = tnd_xrealloc(zap->keys, (zap->n_keys + 1) * sizeof(*zap->keys));
			if (!curve_z85_key_decode(line, key_len, zap->keys[zap->n_keys])) {
				tnd_error_set(err, "%s:%u: not a Z85 CURVE public key (want 40 characters)", path,
					      line_no);
				free(data);
				return -EINVAL;
			}
			zap->n_keys++;
		}
		line = next;
	}
	free(data);
	return 0;
}

static bool curve_key_authorized(const struct worker_zap *zap, const unsigned char *key)
{
	for (size_t i = 0; i < zap->n_keys; i++)
		if (tnd_memeq_consttime(zap->keys[i], key, CURVE_KEY_BYTES))
			return true;
	return false;
}

static void curve_zap_refused(struct worker_zap *zap, const char *mechanism, const unsigned char *key,
			      const char *address)
{
	int64_t now = tnd_monotonic_us();
	char z85[WORKER_CURVE_KEY_LEN + 1] = "";

	atomic_fetch_add(&zap->refused, 1);
	metrics_counter_add("tenancyd_worker_curve_refused_total",
			    "Worker connections refused at the CURVE handshake (key not authorized)", NULL, 1);
	/* a peer retrying in a loop must not flood the log */
	if (zap->last_log_us != 0 && now - zap->last_log_us < CURVE_LOG_INTERVAL_US) {
		zap->unlogged++;
		return;
	}
	if (key)
		zmq_z85_encode(z85, key, CURVE_KEY_BYTES);
	log_warning("refused a worker connection from %s: %s key %s is not in the authorized keys%s", address,
		    mechanism, key ? z85 : "(none)", zap->unlogged ? " (and earlier refusals not logged)" : "");
	zap->last_log_us = now;
	zap->unlogged = 0;
}

/* Receive every part of one request; keep the first CURVE_ZAP_FRAMES. */
static int curve_zap_recv(void *socket, zmq_msg_t frames[CURVE_ZAP_FRAMES], size_t *ret_n)
{
	size_t n = 0;
	int more = 1;

	while (more) {
		zmq_msg_t part;

		zmq_msg_init(&part);
		if (zmq_msg_recv(&part, socket, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			int e = errno;
			zmq_msg_close(&part);
			for (size_t i = 0; i < n && i < CURVE_ZAP_FRAMES; i++)
				zmq_msg_close(&frames[i]);
			return -e;
		}
		more = zmq_msg_more(&part);
		if (n < CURVE_ZAP_FRAMES) {
			zmq_msg_init(&frames[n]);
			zmq_msg_move(&frames[n], &part);
		}
		zmq_msg_close(&part);
		n++;
	}
	*ret_n = n;
	return 0;
}

static bool curve_frame_is(zmq_msg_t *frame, const char *text)
{
	return zmq_msg_size(frame) == strlen(text) && memcmp(zmq_msg_data(frame), text, strlen(text)) == 0;
}

static void curve_zap_answer(struct worker_zap *zap)
{
	zmq_msg_t frames[CURVE_ZAP_FRAMES];
	const char *status = "500", *text = "malformed ZAP request";
	char address[128] = "";
	size_t n = 0, kept;

	if (curve_zap_recv(zap->socket, frames, &n) < 0)
		return;
	kept = n < CURVE_ZAP_FRAMES ? n : CURVE_ZAP_FRAMES;
	/* version, request id, domain, address, routing id, mechanism, credentials... */
	if (n >= 6 && curve_frame_is(&frames[0], "1.0")) {
		size_t len = zmq_msg_size(&frames[3]) < sizeof(address) - 1 ? zmq_msg_size(&frames[3])
									       : sizeof(address) - 1;
		memcpy(address, zmq_msg_data(&frames[3]), len);
		address[len] = '\0';
		if (!tnd_utf8_valid(address, len))
			tnd_strlcpy(address, "(unprintable address)", sizeof(address));
		if (curve_frame_is(&frames[5], "NULL")) {
			/* only the ipc:// endpoint of local workers runs without CURVE */
			status = "200";
			text = "OK";
		} else if (curve_frame_is(&frames[5], "CURVE") && n == 7 &&
			   zmq_msg_size(&frames[6]) == CURVE_KEY_BYTES) {
			const unsigned char *key = zmq_msg_data(&frames[6]);
			if (curve_key_authorized(zap, key)) {
				status = "200";
				text = "OK";
			} else {
				status = "400";
				text = "key not authorized";
				curve_zap_refused(zap, "CURVE", key, address);
			}
		} else {
			status = "400";
			text = "mechanism not allowed";
			curve_zap_refused(zap, "a non-CURVE", NULL, address);
		}
	}
	/* a REP socket must answer before it can receive again */
	zmq_send(zap->socket, "1.0", 3, ZMQ_SNDMORE);
	if (n >= 2)
		zmq_send(zap->socket, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), ZMQ_SNDMORE);
	else
		zmq_send(zap->socket, "", 0, ZMQ_SNDMORE);
	zmq_send(zap->socket, status, 3, ZMQ_SNDMORE);
	zmq_send(zap->socket, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(zap->socket, "", 0, ZMQ_SNDMORE);
	zmq_send(zap->socket, "", 0, 0);
	for (size_t i = 0; i < kept; i++)
		zmq_msg_close(&frames[i]);
}

static void *curve_zap_thread(void *arg)
{
	struct worker_zap *zap = arg;

	while (!atomic_load(&zap->stop)) {
		zmq_pollitem_t item = { zap->socket, 0, ZMQ_POLLIN, 0 };
		int r = zmq_poll(&item, 1, 100);

		if (r < 0 && errno == ETERM)
			break;
		if (r > 0)
			curve_zap_answer(zap);
	}
	zmq_close(zap->socket);
	return NULL;
}

int worker_zap_start(void *zmq_ctx, const char *authorized_keys_file, struct worker_zap **ret_zap,
		     struct tnd_error *err)
{
	struct worker_zap *zap = tnd_xcalloc(1, sizeof(*zap));
	int linger = 0, r;

	r = curve_keys_load(zap, authorized_keys_file, err);
	if (r < 0)
		goto fail;
	zap->socket = zmq_socket(zmq_ctx, ZMQ_REP);
	if (zap->socket == NULL || zmq_setsockopt(zap->socket, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
	    zmq_bind(zap->socket, CURVE_ZAP_ENDPOINT) < 0) {
		r = -errno;
		tnd_error_set(err, "cannot start the ZAP handler: %s", zmq_strerror(errno));
		goto fail;
	}
	r = -pthread_create(&zap->thread, NULL, curve_zap_thread, zap);
	if (r < 0) {
		tnd_error_set(err, "cannot start the ZAP handler thread: %s", strerror(-r));
		goto fail;
	}
	log_info("worker CURVE authentication: %zu authorized key(s) from %s", zap->n_keys, authorized_keys_file);
	*ret_zap = zap;
	return 0;
fail:
	if (zap->socket)
		zmq_close(zap->socket);
	free(zap->keys);
	free(zap);
	return r;
}

uint64_t worker_zap_refused(const struct worker_zap *zap)
{
	return zap ? atomic_load(&zap->refused) : 0;
}

void worker_zap_stop(struct worker_zap *zap)
{
	if (zap == NULL)
		return;
	atomic_store(&zap->stop, true);
	pthread_join(zap->thread, NULL);
	free(zap->keys);
	free(zap);
}
