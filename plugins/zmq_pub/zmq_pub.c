/*
 * zmq_pub.c — the zmq_pub notifier: binds one ZeroMQ PUB socket and
 * publishes every delivered event as two frames, [event type, CloudEvent
 * JSON], so a subscriber filters by type prefix ("tenancy.tenant." for all
 * tenant events).  ZeroMQ sockets are not thread-safe: deliver() sends
 * under a mutex.  PUB is fire-and-forget: a subscriber that is absent or
 * slower than send_hwm messages loses them, so the result's status 202
 * means "published", not "received".
 *
 * Settings: endpoint (required: ipc://path or tcp://address:port),
 * send_hwm (messages queued per subscriber, default 10000), linger_ms
 * (how long fini() may wait to flush, default 0).
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include <tenancyd/host.h>
#include <tenancyd/notifier.h>

#define PUB_TOPIC_MAX 255

struct pub_settings {
	char *endpoint;
	int send_hwm;
	int linger_ms;
};

struct pub_ctx {
	const struct tnd_host *host;
	struct pub_settings settings;
	void *zctx;
	void *socket;
	pthread_mutex_t lock; /* serialises the two frames of one message */
	char bound[512];      /* the endpoint actually bound (tcp://...:* resolved) */
};

/* --- settings ----------------------------------------------------------------------------- */

static const char *const pub_setting_names[] = { "endpoint", "send_hwm", "linger_ms" };

static int pub_setting_int(const struct tnd_host *host, const struct tnd_json *config, const char *name,
			   int64_t min, int64_t max, int fallback, int *ret, struct tnd_error *err)
{
	char pointer[64];
	int64_t value = fallback;
	int r;

	snprintf(pointer, sizeof(pointer), "/%s", name);
	r = host->json_get_int(host, config, pointer, &value);
	if (r < 0 && r != -ENOENT) {
		tnd_error_set(err, "setting \"%s\" must be an integer", name);
		return -EINVAL;
	}
	if (value < min || value > max) {
		tnd_error_set(err, "setting \"%s\" must be between %lld and %lld, not %lld", name, (long long)min,
			      (long long)max, (long long)value);
		return -ERANGE;
	}
	*ret = (int)value;
	return 0;
}

static int pub_settings_parse(const struct tnd_host *host, const struct tnd_json *config, struct pub_settings *ret,
			      struct tnd_error *err)
{
	struct pub_settings s = { 0 };
	const char *endpoint = NULL;
	size_t n_keys = 0;
	int r;

	if (host->json_type(host, config, "") != TND_JSON_OBJECT ||
	    host->json_get_size(host, config, "", &n_keys) < 0) {
		tnd_error_set(err, "settings must be a group with at least \"endpoint\"");
		return -EINVAL;
	}
	for (size_t i = 0; i < n_keys; i++) {
		const char *key = NULL;
		bool known = false;

		if (host->json_get_key(host, config, "", i, &key) < 0)
			return -EINVAL;
		for (size_t k = 0; k < sizeof(pub_setting_names) / sizeof(pub_setting_names[0]); k++)
			known = known || strcmp(key, pub_setting_names[k]) == 0;
		if (!known) {
			tnd_error_set(err, "unknown setting \"%s\" (known: endpoint, send_hwm, linger_ms)", key);
			return -EINVAL;
		}
	}
	if (host->json_get_string(host, config, "/endpoint", &endpoint) < 0 ||
	    (strncmp(endpoint, "ipc://", 6) != 0 && strncmp(endpoint, "tcp://", 6) != 0) || strlen(endpoint) < 7) {
		tnd_error_set(err, "setting \"endpoint\" is required: ipc://<path> or tcp://<address>:<port>");
		return -EINVAL;
	}
	if ((r = pub_setting_int(host, config, "send_hwm", 1, 10000000, 10000, &s.send_hwm, err)) < 0 ||
	    (r = pub_setting_int(host, config, "linger_ms", 0, 60000, 0, &s.linger_ms, err)) < 0)
		return r;
	s.endpoint = strdup(endpoint);
	if (s.endpoint == NULL) {
		tnd_error_set(err, "out of memory");
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

/* --- deliver -------------------------------------------------------------------------------- */

static tnd_notifier_deliver_fn pub_deliver;

static int pub_deliver(void *opaque, const struct tnd_json *delivery, struct tnd_buf *result, struct tnd_error *err)
{
	struct pub_ctx *ctx = opaque;
	const struct tnd_host *host = ctx->host;
	struct tnd_buf body = { 0 };
	const char *topic = NULL;
	int64_t started_us;
	int r, sent, saved_errno = 0;

	if (host->json_get_string(host, delivery, "/event/type", &topic) < 0 || topic[0] == '\0' ||
	    strlen(topic) > PUB_TOPIC_MAX) {
		tnd_error_set(err, "delivery lacks /event/type (a string of 1 to %d bytes)", PUB_TOPIC_MAX);
		return -EINVAL;
	}
	/* @body is ours: the host grows it with realloc(3), we free(3) it. */
	r = host->json_dump(host, delivery, "/event", &body);
	if (r < 0 || body.data == NULL) {
		free(body.data);
		tnd_error_set(err, "delivery lacks the object /event");
		return r < 0 ? r : -EINVAL;
	}
	started_us = host->clock_monotonic_us(host);
	pthread_mutex_lock(&ctx->lock);
	/* PUB never blocks: at the high-water mark it drops, and the two
	 * frames of a message are dropped or queued together. */
	sent = zmq_send(ctx->socket, topic, strlen(topic), ZMQ_SNDMORE);
	if (sent >= 0)
		sent = zmq_send(ctx->socket, body.data, body.len, 0);
	if (sent < 0)
		saved_errno = zmq_errno();
	pthread_mutex_unlock(&ctx->lock);
	free(body.data);
	if (sent < 0) {
		tnd_error_set(err, "publishing on %s: %s", ctx->bound, zmq_strerror(saved_errno));
		return -(saved_errno ? saved_errno : EIO);
	}
	host->metric_counter_add(host, "zmq_pub_messages_total", NULL, 1);
	return host->buf_printf(host, result, "{\"status\":202,\"latencyMs\":%.3f,\"retryAfterMs\":0,\"disable\":false}",
				(double)(host->clock_monotonic_us(host) - started_us) / 1000.0);
}

/* --- init, fini, check_config ------------------------------------------------------------- */

static tnd_plugin_init_fn pub_init;
static tnd_plugin_fini_fn pub_fini;
static tnd_plugin_check_config_fn pub_check_config;

static int pub_check_host(const struct tnd_host *host, struct tnd_error *err)
{
	if (host == NULL || !TND_HAS_FIELD(host, struct tnd_host, metric_observe) || host->log == NULL ||
	    host->json_dump == NULL || host->json_get_string == NULL || host->buf_printf == NULL ||
	    host->clock_monotonic_us == NULL || host->metric_counter_add == NULL) {
		tnd_error_set(err, "the host table lacks services this plugin needs");
		return -EINVAL;
	}
	return 0;
}

static int pub_check_config(const struct tnd_host *host, const struct tnd_json *config, struct tnd_error *err)
{
	struct pub_settings s;
	int r = pub_check_host(host, err);

	if (r == 0 && (r = pub_settings_parse(host, config, &s, err)) == 0)
		free(s.endpoint);
	return r;
}

static void pub_ctx_free(struct pub_ctx *ctx)
{
	if (ctx->socket != NULL)
		zmq_close(ctx->socket);
	if (ctx->zctx != NULL)
		zmq_ctx_term(ctx->zctx);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx->settings.endpoint);
	free(ctx);
}

static int pub_init(const struct tnd_host *host, const struct tnd_json *config, void **ret_ctx,
		    struct tnd_error *err)
{
	struct pub_ctx *ctx;
	size_t bound_len;
	int r = pub_check_host(host, err), ipv6 = 1;

	if (r < 0)
		return r;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL || pthread_mutex_init(&ctx->lock, NULL) != 0) {
		free(ctx);
		tnd_error_set(err, "out of memory");
		return -ENOMEM;
	}
	ctx->host = host;
	r = pub_settings_parse(host, config, &ctx->settings, err);
	if (r < 0)
		goto fail;
	ctx->zctx = zmq_ctx_new();
	ctx->socket = ctx->zctx ? zmq_socket(ctx->zctx, ZMQ_PUB) : NULL;
	if (ctx->socket == NULL) {
		r = -ENOMEM;
		tnd_error_set(err, "cannot create a ZeroMQ PUB socket: %s", zmq_strerror(zmq_errno()));
		goto fail;
	}
	zmq_setsockopt(ctx->socket, ZMQ_SNDHWM, &ctx->settings.send_hwm, sizeof(int));
	zmq_setsockopt(ctx->socket, ZMQ_LINGER, &ctx->settings.linger_ms, sizeof(int));
	zmq_setsockopt(ctx->socket, ZMQ_IPV6, &ipv6, sizeof(int));
	if (zmq_bind(ctx->socket, ctx->settings.endpoint) != 0) {
		r = -zmq_errno();
		tnd_error_set(err, "cannot bind %s: %s", ctx->settings.endpoint, zmq_strerror(-r));
		goto fail;
	}
	bound_len = sizeof(ctx->bound);
	if (zmq_getsockopt(ctx->socket, ZMQ_LAST_ENDPOINT, ctx->bound, &bound_len) != 0)
		snprintf(ctx->bound, sizeof(ctx->bound), "%s", ctx->settings.endpoint);
	host->log(host, TND_LOG_INFO, "zmq_pub notifier publishing on %s (send_hwm %d)", ctx->bound,
		  ctx->settings.send_hwm);
	*ret_ctx = ctx;
	return 0;
fail:
	pub_ctx_free(ctx);
	return r;
}

static void pub_fini(void *opaque)
{
	if (opaque != NULL)
		pub_ctx_free(opaque);
}

/* --- the descriptor ----------------------------------------------------------------------- */

static const struct tnd_notifier_ops pub_ops = {
	.size = sizeof(struct tnd_notifier_ops),
	.deliver = pub_deliver,
};

TND_PLUGIN_DEFINE(TND_PLUGIN_NOTIFIER, "zmq_pub", PACKAGE_VERSION, 0, pub_init, pub_fini, &pub_ops, pub_check_config,
		  "ZeroMQ PUB: [event type, CloudEvent JSON] to every subscriber");
