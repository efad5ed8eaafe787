/*
 * pg_settings.c — the plugins' own settings (the `settings` group of
 * tenancyd.conf: connect_timeout, statement_timeout_ms), check_config(),
 * and the context init() creates.  Data-plane settings are not here: they
 * arrive with every request (pg_request.c).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_common.h"

enum { SETTING_CONNECT_TIMEOUT, SETTING_STATEMENT_TIMEOUT_MS, SETTINGS_COUNT };

static const struct {
	const char *name;
	int64_t min, max, fallback;
} settings_known[SETTINGS_COUNT] = {
	[SETTING_CONNECT_TIMEOUT] = { "connect_timeout", 1, 300, 5 },                  /* seconds */
	[SETTING_STATEMENT_TIMEOUT_MS] = { "statement_timeout_ms", 100, 3600000, 30000 }, /* per statement */
};

static int settings_read(const struct tnd_host *host, const struct tnd_json *config,
			 int64_t ret_values[SETTINGS_COUNT], struct tnd_error *err)
{
	int64_t values[SETTINGS_COUNT];
	size_t n_keys = 0;
	int type = host->json_type(host, config, "");

	if (type == TND_JSON_ABSENT || type == TND_JSON_NULL)
		n_keys = 0;
	else if (type != TND_JSON_OBJECT || host->json_get_size(host, config, "", &n_keys) < 0) {
		tnd_error_set(err, "settings must be a group");
		return -EINVAL;
	}
	/* refuse what we do not know: a typo must not silently become a default */
	for (size_t i = 0; i < n_keys; i++) {
		const char *key = NULL;
		bool known = false;

		if (host->json_get_key(host, config, "", i, &key) < 0)
			return -EINVAL;
		for (size_t k = 0; k < SETTINGS_COUNT; k++)
			known = known || strcmp(key, settings_known[k].name) == 0;
		if (!known) {
			tnd_error_set(err, "unknown setting \"%s\" (known: connect_timeout, statement_timeout_ms; "
				      "data-plane settings belong in regions[].data_plane)", key);
			return -EINVAL;
		}
	}
	for (size_t k = 0; k < SETTINGS_COUNT; k++) {
		char pointer[64];
		int r;

		values[k] = settings_known[k].fallback;
		if (n_keys == 0)
			continue;
		snprintf(pointer, sizeof(pointer), "/%s", settings_known[k].name);
		r = host->json_get_int(host, config, pointer, &values[k]);
		if (r == -ENOENT) {
			values[k] = settings_known[k].fallback;
			continue;
		}
		if (r < 0) {
			tnd_error_set(err, "setting \"%s\" must be an integer", settings_known[k].name);
			return -EINVAL;
		}
		if (values[k] < settings_known[k].min || values[k] > settings_known[k].max) {
			tnd_error_set(err, "setting \"%s\" must be between %lld and %lld, not %lld",
				      settings_known[k].name, (long long)settings_known[k].min,
				      (long long)settings_known[k].max, (long long)values[k]);
			return -ERANGE;
		}
	}
	memcpy(ret_values, values, sizeof(values));
	return 0;
}

int pgiso_check_config(const struct tnd_host *host, const struct tnd_json *config, struct tnd_error *err)
{
	int64_t values[SETTINGS_COUNT];

	return settings_read(host, config, values, err);
}

int pgiso_ctx_new(const struct tnd_host *host, const struct tnd_json *config, unsigned mode,
		  const char *plugin_name, void **ret_ctx, struct tnd_error *err)
{
	int64_t values[SETTINGS_COUNT];
	struct pgiso_ctx *ctx;
	int r;

	r = settings_read(host, config, values, err);
	if (r < 0)
		return r;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return -ENOMEM;
	ctx->host = host;
	ctx->mode = mode;
	ctx->isolation = mode == PGISO_MODE_SHARED ? "shared" : mode == PGISO_MODE_DEDICATED ? "dedicated" : "hybrid";
	snprintf(ctx->application_name, sizeof(ctx->application_name), "tenancyd-%s", plugin_name);
	ctx->connect_timeout_s = (int)values[SETTING_CONNECT_TIMEOUT];
	ctx->statement_timeout_ms = (int)values[SETTING_STATEMENT_TIMEOUT_MS];
	host->log(host, TND_LOG_INFO, "%s isolation on PostgreSQL: connect_timeout %ds, statement_timeout %dms",
		  ctx->isolation, ctx->connect_timeout_s, ctx->statement_timeout_ms);
	*ret_ctx = ctx;
	return 0;
}

void pgiso_ctx_free(void *opaque)
{
	free(opaque);
}
