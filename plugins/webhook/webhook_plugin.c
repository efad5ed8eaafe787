/*
 * webhook_plugin.c — the webhook notifier's face to the core: its
 * descriptor, its settings (timeouts, pool size, SSRF allowances, CA file),
 * check_config(), init()/fini(), and deliver(), which reads the delivery
 * document, makes one signed POST (webhook_send.c) and writes the result.
 *
 * Delivery fields read (notifier.h): /event (the CloudEvent, sent as the
 * body), /event/id (webhook-id), /subscription/url, /subscription/secret
 * ("whsec_…": never logged, never echoed), /attempt (logs only).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook.h"

/* --- settings ----------------------------------------------------------------------------- */

enum { SETTING_CONNECT_TIMEOUT_MS, SETTING_TIMEOUT_MS, SETTING_POOL_SIZE, SETTINGS_INT_COUNT };

static const struct {
	const char *name;
	int64_t min, max, fallback;
} plugin_int_settings[SETTINGS_INT_COUNT] = {
	[SETTING_CONNECT_TIMEOUT_MS] = { "connect_timeout_ms", 1, 60000, 3000 },
	[SETTING_TIMEOUT_MS] = { "timeout_ms", 1, 300000, 10000 },
	[SETTING_POOL_SIZE] = { "pool_size", 1, 1024, 16 },
};

static const char *const plugin_bool_settings[] = { "allow_loopback", "allow_private", "allow_link_local" };
static const char *const plugin_string_settings[] = { "ca_file", "user_agent" };

#define PLUGIN_KNOWN_SETTINGS \
	"connect_timeout_ms, timeout_ms, pool_size, allow_loopback, allow_private, allow_link_local, " \
	"ca_file, user_agent"

static void plugin_settings_free(struct webhook_settings *s)
{
	free(s->ca_file);
	free(s->user_agent);
	s->ca_file = s->user_agent = NULL;
}

static bool plugin_setting_known(const char *key)
{
	for (size_t i = 0; i < SETTINGS_INT_COUNT; i++)
		if (strcmp(key, plugin_int_settings[i].name) == 0)
			return true;
	for (size_t i = 0; i < sizeof(plugin_bool_settings) / sizeof(plugin_bool_settings[0]); i++)
		if (strcmp(key, plugin_bool_settings[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(plugin_string_settings) / sizeof(plugin_string_settings[0]); i++)
		if (strcmp(key, plugin_string_settings[i]) == 0)
			return true;
	return false;
}

static int plugin_settings_parse(const struct tnd_host *host, const struct tnd_json *config,
				 struct webhook_settings *ret, struct tnd_error *err)
{
	struct webhook_settings s = { 0 };
	int64_t ints[SETTINGS_INT_COUNT];
	int bools[3] = { 0, 0, 0 };
	const char *ca_file = NULL, *user_agent = "tenancyd-webhook/" PACKAGE_VERSION;
	size_t n_keys = 0;
	char pointer[64];
	int type = host->json_type(host, config, ""), r;

	if (type == TND_JSON_OBJECT) {
		if (host->json_get_size(host, config, "", &n_keys) < 0)
			return -EINVAL;
	} else if (type != TND_JSON_ABSENT && type != TND_JSON_NULL) {
		tnd_error_set(err, "settings must be a group");
		return -EINVAL;
	}
	/* a typo must not silently become a default (an SSRF allowance least of all) */
	for (size_t i = 0; i < n_keys; i++) {
		const char *key = NULL;

		if (host->json_get_key(host, config, "", i, &key) < 0)
			return -EINVAL;
		if (!plugin_setting_known(key)) {
			tnd_error_set(err, "unknown setting \"%s\" (known: " PLUGIN_KNOWN_SETTINGS ")", key);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < SETTINGS_INT_COUNT; i++) {
		snprintf(pointer, sizeof(pointer), "/%s", plugin_int_settings[i].name);
		ints[i] = plugin_int_settings[i].fallback;
		r = n_keys ? host->json_get_int(host, config, pointer, &ints[i]) : -ENOENT;
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			tnd_error_set(err, "setting \"%s\" must be an integer", plugin_int_settings[i].name);
			return -EINVAL;
		}
		if (ints[i] < plugin_int_settings[i].min || ints[i] > plugin_int_settings[i].max) {
			tnd_error_set(err, "setting \"%s\" must be between %lld and %lld, not %lld",
				      plugin_int_settings[i].name, (long long)plugin_int_settings[i].min,
				      (long long)plugin_int_settings[i].max, (long long)ints[i]);
			return -ERANGE;
		}
	}
	if (ints[SETTING_CONNECT_TIMEOUT_MS] > ints[SETTING_TIMEOUT_MS]) {
		tnd_error_set(err, "setting \"connect_timeout_ms\" (%lld) must not exceed \"timeout_ms\" (%lld)",
			      (long long)ints[SETTING_CONNECT_TIMEOUT_MS], (long long)ints[SETTING_TIMEOUT_MS]);
		return -ERANGE;
	}
	for (size_t i = 0; i < 3 && n_keys; i++) {
		snprintf(pointer, sizeof(pointer), "/%s", plugin_bool_settings[i]);
		r = host->json_get_bool(host, config, pointer, &bools[i]);
		if (r < 0 && r != -ENOENT) {
			tnd_error_set(err, "setting \"%s\" must be true or false", plugin_bool_settings[i]);
			return -EINVAL;
		}
	}
	if (n_keys && (r = host->json_get_string(host, config, "/ca_file", &ca_file)) < 0 && r != -ENOENT) {
		tnd_error_set(err, "setting \"ca_file\" must be a string (a path)");
		return -EINVAL;
	}
	if (n_keys && (r = host->json_get_string(host, config, "/user_agent", &user_agent)) < 0 && r != -ENOENT) {
		tnd_error_set(err, "setting \"user_agent\" must be a string");
		return -EINVAL;
	}
	if (user_agent[0] == '\0' || strpbrk(user_agent, "\r\n") != NULL) {
		tnd_error_set(err, "setting \"user_agent\" must be one non-empty line");
		return -EINVAL;
	}
	s.connect_timeout_ms = ints[SETTING_CONNECT_TIMEOUT_MS];
	s.timeout_ms = ints[SETTING_TIMEOUT_MS];
	s.pool_size = ints[SETTING_POOL_SIZE];
	s.allow.loopback = bools[0];
	s.allow.private_ = bools[1];
	s.allow.link_local = bools[2];
	s.user_agent = strdup(user_agent);
	s.ca_file = ca_file ? strdup(ca_file) : NULL;
	if (s.user_agent == NULL || (ca_file != NULL && s.ca_file == NULL)) {
		plugin_settings_free(&s);
		tnd_error_set(err, "out of memory");
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

/* --- deliver -------------------------------------------------------------------------------- */

static tnd_notifier_deliver_fn plugin_deliver;

static int plugin_delivery_string(const struct tnd_host *host, const struct tnd_json *delivery,
				  const char *pointer, size_t max, const char **ret, struct tnd_error *err)
{
	const char *value = NULL;
	int r = host->json_get_string(host, delivery, pointer, &value);

	if (r < 0 || value[0] == '\0') {
		tnd_error_set(err, "delivery lacks the string %s", pointer);
		return -EINVAL;
	}
	if (strlen(value) > max || strpbrk(value, "\r\n") != NULL) {
		tnd_error_set(err, "delivery's %s is longer than %zu bytes or spans lines", pointer, max);
		return -EINVAL;
	}
	*ret = value;
	return 0;
}

static int plugin_result(const struct tnd_host *host, const struct webhook_outcome *out, struct tnd_buf *result)
{
	int r = host->buf_printf(host, result,
				 "{\"status\":%ld,\"latencyMs\":%.3f,\"retryAfterMs\":%lld,\"disable\":%s", out->status,
				 out->latency_ms, (long long)out->retry_after_ms, out->disable ? "true" : "false");

	if (r == 0 && out->error[0] != '\0') {
		r = host->buf_printf(host, result, ",\"error\":");
		if (r == 0)
			r = host->buf_append_json_string(host, result, out->error);
	}
	return r == 0 ? host->buf_printf(host, result, "}") : r;
}

static void plugin_account(const struct tnd_host *host, const struct webhook_outcome *out)
{
	char labels[32];

	if (out->status == 0)
		snprintf(labels, sizeof(labels), "outcome=\"error\"");
	else
		snprintf(labels, sizeof(labels), "outcome=\"%ldxx\"", out->status / 100);
	host->metric_counter_add(host, "webhook_attempts_total", labels, 1);
	host->metric_observe(host, "webhook_attempt_seconds", NULL, out->latency_ms / 1000.0);
}

static int plugin_deliver(void *opaque, const struct tnd_json *delivery, struct tnd_buf *result,
			  struct tnd_error *err)
{
	struct webhook_ctx *ctx = opaque;
	const struct tnd_host *host = ctx->host;
	struct tnd_buf body = { 0 };
	struct webhook_key key;
	struct webhook_request req = { .key = &key };
	struct webhook_outcome out;
	const char *secret = NULL, *why = NULL;
	int64_t attempt = 0;
	int r;

	if ((r = plugin_delivery_string(host, delivery, "/event/id", 200, &req.id, err)) < 0 ||
	    (r = plugin_delivery_string(host, delivery, "/subscription/url", 4096, &req.url, err)) < 0 ||
	    (r = plugin_delivery_string(host, delivery, "/subscription/secret", 200, &secret, err)) < 0)
		return r;
	if (webhook_key_from_secret(secret, &key, &why) < 0) {
		tnd_error_set(err, "subscription secret: %s", why);
		return -EINVAL;
	}
	host->json_get_int(host, delivery, "/attempt", &attempt);
	/* The body is the event's compact JSON, signed byte for byte as sent.
	 * @body is ours: the host grows it with realloc(3), we free(3) it. */
	r = host->json_dump(host, delivery, "/event", &body);
	if (r < 0 || body.data == NULL) {
		tnd_error_set(err, "delivery lacks the object /event");
		r = r < 0 ? r : -EINVAL;
		goto out;
	}
	req.body = body.data;
	req.body_len = body.len;
	r = webhook_send(ctx, &req, &out, err);
	if (r < 0) /* the caller logs @err: it decides what a refused attempt means */
		goto out;
	r = plugin_result(host, &out, result);
	plugin_account(host, &out);
	host->log(host, TND_LOG_DEBUG, "webhook %s attempt %lld to %s: status %ld in %.1f ms%s%s", req.id,
		  (long long)attempt, out.target, out.status, out.latency_ms, out.error[0] ? ", " : "", out.error);
out:
	webhook_key_clear(&key);
	free(body.data);
	return r;
}

/* --- init, fini, check_config ------------------------------------------------------------- */

static tnd_plugin_init_fn plugin_init;
static tnd_plugin_fini_fn plugin_fini;
static tnd_plugin_check_config_fn plugin_check_config;

static int plugin_check_host(const struct tnd_host *host, struct tnd_error *err)
{
	if (host == NULL || !TND_HAS_FIELD(host, struct tnd_host, metric_observe) || host->log == NULL ||
	    host->json_dump == NULL || host->json_get_string == NULL || host->buf_printf == NULL ||
	    host->buf_append_json_string == NULL || host->clock_realtime_ms == NULL ||
	    host->clock_monotonic_us == NULL || host->metric_counter_add == NULL || host->metric_observe == NULL) {
		tnd_error_set(err, "the host table lacks services this plugin needs");
		return -EINVAL;
	}
	return 0;
}

static int plugin_check_config(const struct tnd_host *host, const struct tnd_json *config, struct tnd_error *err)
{
	struct webhook_settings s;
	int r = plugin_check_host(host, err);

	if (r == 0 && (r = plugin_settings_parse(host, config, &s, err)) == 0)
		plugin_settings_free(&s);
	return r;
}

static int plugin_init(const struct tnd_host *host, const struct tnd_json *config, void **ret_ctx,
		       struct tnd_error *err)
{
	struct webhook_ctx *ctx;
	int r = plugin_check_host(host, err);

	if (r < 0)
		return r;
	/* Reference-counted, and thread-safe since libcurl 7.84; the daemon
	 * loads plugins before it starts threads in any case. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		tnd_error_set(err, "libcurl failed to initialise");
		return -EIO;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		r = -ENOMEM;
		tnd_error_set(err, "out of memory");
		goto fail;
	}
	ctx->host = host;
	r = plugin_settings_parse(host, config, &ctx->settings, err);
	if (r < 0)
		goto fail;
	r = webhook_pool_init(&ctx->pool, (size_t)ctx->settings.pool_size);
	if (r < 0) {
		tnd_error_set(err, "out of memory");
		goto fail;
	}
	host->log(host, TND_LOG_INFO,
		  "webhook notifier: connect timeout %lld ms, timeout %lld ms, %lld pooled handles, "
		  "targets: public%s%s%s",
		  (long long)ctx->settings.connect_timeout_ms, (long long)ctx->settings.timeout_ms,
		  (long long)ctx->settings.pool_size, ctx->settings.allow.loopback ? ", loopback" : "",
		  ctx->settings.allow.private_ ? ", private" : "", ctx->settings.allow.link_local ? ", link-local" : "");
	*ret_ctx = ctx;
	return 0;
fail:
	if (ctx != NULL)
		plugin_settings_free(&ctx->settings);
	free(ctx);
	curl_global_cleanup();
	return r;
}

static void plugin_fini(void *opaque)
{
	struct webhook_ctx *ctx = opaque;

	if (ctx == NULL)
		return;
	webhook_pool_destroy(&ctx->pool);
	plugin_settings_free(&ctx->settings);
	free(ctx);
	curl_global_cleanup();
}

/* --- the descriptor ----------------------------------------------------------------------- */

static const struct tnd_notifier_ops plugin_ops = {
	.size = sizeof(struct tnd_notifier_ops),
	.deliver = plugin_deliver,
};

TND_PLUGIN_DEFINE(TND_PLUGIN_NOTIFIER, "webhook", PACKAGE_VERSION, 0, plugin_init, plugin_fini, &plugin_ops,
		  plugin_check_config, "Standard Webhooks: signed HTTP POST of CloudEvents, SSRF-guarded");
