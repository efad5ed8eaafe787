/*
 * sqlite_plugin.c — the sqlite storage plugin's face to the core: its one
 * exported descriptor, the ops table, its settings (parsed and validated
 * through the host's JSON accessors), check_config(), and init()/fini(),
 * which open and close the writer, the schema, the read pool and the group
 * commit queue in order.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

/* --- settings ----------------------------------------------------------------------------- */

static const char *const plugin_setting_names[] = {
	"path", "synchronous", "busy_timeout_ms", "group_commit_max", "readers",
};

static const struct {
	const char *name;
	int level; /* PRAGMA synchronous */
} plugin_synchronous_levels[] = {
	{ "normal", 1 },
	{ "full", 2 },
	{ "extra", 3 },
};

static void plugin_settings_free(struct store_settings *settings)
{
	free(settings->path);
	settings->path = NULL;
}

static int plugin_setting_int(const struct tnd_host *host, const struct tnd_json *config, const char *name,
			      int64_t min, int64_t max, int64_t *value, struct tnd_error *err)
{
	char pointer[64];
	int r;

	snprintf(pointer, sizeof(pointer), "/%s", name);
	r = host->json_get_int(host, config, pointer, value);
	if (r == -ENOENT)
		return 0; /* keep the default */
	if (r < 0) {
		tnd_error_set(err, "setting \"%s\" must be an integer", name);
		return -EINVAL;
	}
	if (*value < min || *value > max) {
		tnd_error_set(err, "setting \"%s\" must be between %lld and %lld, not %lld", name,
			      (long long)min, (long long)max, (long long)*value);
		return -ERANGE;
	}
	return 0;
}

static int plugin_setting_string(const struct tnd_host *host, const struct tnd_json *config,
				 const char *name, const char **value, struct tnd_error *err)
{
	char pointer[64];
	int r;

	snprintf(pointer, sizeof(pointer), "/%s", name);
	r = host->json_get_string(host, config, pointer, value);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		tnd_error_set(err, "setting \"%s\" must be a string", name);
		return -EINVAL;
	}
	return 0;
}

/* Parse @config into @ret_settings; touches no file. */
static int plugin_settings_parse(const struct tnd_host *host, const struct tnd_json *config,
				 struct store_settings *ret_settings, struct tnd_error *err)
{
	const char *path = "registry.db", *synchronous = "full";
	int64_t busy_timeout_ms = 5000, group_commit_max = 128, readers = 8;
	struct store_settings settings = { 0 };
	size_t n = 0;
	int r, type;

	type = config != NULL ? host->json_type(host, config, "") : TND_JSON_ABSENT;
	if (type != TND_JSON_ABSENT && type != TND_JSON_NULL) {
		if (type != TND_JSON_OBJECT || host->json_get_size(host, config, "", &n) < 0) {
			tnd_error_set(err, "settings must be a group of key = value pairs");
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++) {
			const char *key = NULL;
			bool known = false;

			if (host->json_get_key(host, config, "", i, &key) < 0) {
				tnd_error_set(err, "cannot read setting %zu", i);
				return -EINVAL;
			}
			for (size_t k = 0; k < sizeof(plugin_setting_names) / sizeof(plugin_setting_names[0]); k++)
				known = known || strcmp(key, plugin_setting_names[k]) == 0;
			if (!known) {
				tnd_error_set(err,
					      "unknown setting \"%s\" (known: path, synchronous, busy_timeout_ms, "
					      "group_commit_max, readers)",
					      key);
				return -EINVAL;
			}
		}
		r = plugin_setting_string(host, config, "path", &path, err);
		if (r < 0)
			return r;
		r = plugin_setting_string(host, config, "synchronous", &synchronous, err);
		if (r < 0)
			return r;
		r = plugin_setting_int(host, config, "busy_timeout_ms", 0, 3600000, &busy_timeout_ms, err);
		if (r < 0)
			return r;
		r = plugin_setting_int(host, config, "group_commit_max", 1, 100000, &group_commit_max, err);
		if (r < 0)
			return r;
		r = plugin_setting_int(host, config, "readers", 1, 256, &readers, err);
		if (r < 0)
			return r;
	}

	if (path[0] == '\0') {
		tnd_error_set(err, "setting \"path\" must not be empty");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(plugin_synchronous_levels) / sizeof(plugin_synchronous_levels[0]); i++)
		if (strcmp(synchronous, plugin_synchronous_levels[i].name) == 0) {
			settings.synchronous = plugin_synchronous_levels[i].level;
			settings.synchronous_name = plugin_synchronous_levels[i].name;
		}
	if (settings.synchronous == 0) {
		tnd_error_set(err, "setting \"synchronous\" must be \"full\", \"extra\" or \"normal\", not \"%s\"",
			      synchronous);
		return -EINVAL;
	}

	/* Relative paths live in the daemon's state directory. */
	if (path[0] != '/' && host->state_dir != NULL && host->state_dir[0] != '\0') {
		size_t len = strlen(host->state_dir) + 1 + strlen(path) + 1;

		settings.path = malloc(len);
		if (settings.path != NULL)
			snprintf(settings.path, len, "%s/%s", host->state_dir, path);
	} else {
		settings.path = strdup(path);
	}
	if (settings.path == NULL) {
		tnd_error_set(err, "out of memory");
		return -ENOMEM;
	}
	settings.busy_timeout_ms = busy_timeout_ms;
	settings.group_commit_max = (uint32_t)group_commit_max;
	settings.readers = (uint32_t)readers;
	*ret_settings = settings;
	return 0;
}

/* --- init, fini, check_config ------------------------------------------------------------- */

static tnd_plugin_init_fn plugin_init;
static tnd_plugin_fini_fn plugin_fini;
static tnd_plugin_check_config_fn plugin_check_config;

static int plugin_check_host(const struct tnd_host *host, struct tnd_error *err)
{
	if (host == NULL || !TND_HAS_FIELD(host, struct tnd_host, metric_observe) || host->log == NULL ||
	    host->json_type == NULL || host->json_parse == NULL || host->metric_counter_add == NULL ||
	    host->metric_observe == NULL || host->clock_monotonic_us == NULL) {
		tnd_error_set(err, "the host table lacks services this plugin needs");
		return -EINVAL;
	}
	return 0;
}

static int plugin_check_config(const struct tnd_host *host, const struct tnd_json *config,
			       struct tnd_error *err)
{
	struct store_settings settings;
	int r;

	r = plugin_check_host(host, err);
	if (r < 0)
		return r;
	r = plugin_settings_parse(host, config, &settings, err);
	if (r < 0)
		return r;
	plugin_settings_free(&settings);
	return 0;
}

static int plugin_init(const struct tnd_host *host, const struct tnd_json *config, void **ret_ctx,
		       struct tnd_error *err)
{
	struct store *store;
	int r;

	r = plugin_check_host(host, err);
	if (r < 0)
		return r;
	if (!sqlite3_threadsafe()) {
		tnd_error_set(err, "the SQLite library was built without thread support");
		return -ENOTSUP;
	}
	store = calloc(1, sizeof(*store));
	if (store == NULL) {
		tnd_error_set(err, "out of memory");
		return -ENOMEM;
	}
	store->host = host;
	r = plugin_settings_parse(host, config, &store->settings, err);
	if (r < 0)
		goto fail;
	r = store_walbuf_acquire(err);
	if (r < 0)
		goto fail;
	store->walbuf_acquired = true;
	/* The writer first: it creates the file, switches it to WAL and
	 * migrates the schema before any reader looks at it. */
	r = store_conn_open(&store->settings, true, &store->writer, err);
	if (r < 0)
		goto fail;
	r = store_schema_migrate(host, store->writer, err);
	if (r < 0)
		goto fail;
	r = store_pool_open(&store->readers, &store->settings, err);
	if (r < 0)
		goto fail;
	store_queue_init(&store->queue);

	host->log(host, TND_LOG_INFO,
		  "registry %s open: schema %d, synchronous=%s, group_commit_max=%u, readers=%u",
		  store->settings.path, store_schema_latest(), store->settings.synchronous_name,
		  store->settings.group_commit_max, store->settings.readers);
	*ret_ctx = store;
	return 0;

fail:
	store_conn_close(store->writer);
	if (store->walbuf_acquired)
		store_walbuf_release();
	plugin_settings_free(&store->settings);
	free(store);
	return r;
}

static void plugin_fini(void *ctx)
{
	struct store *store = ctx;

	if (store == NULL)
		return;
	/* Commits already queued finish first; then nothing new gets in. */
	store_queue_close(&store->queue);
	store_pool_close(&store->readers);
	/* The writer closes last: as the last connection it checkpoints the
	 * WAL into the database and removes it. */
	store_conn_close(store->writer);
	store_walbuf_release();
	store_queue_destroy(&store->queue);
	store->host->log(store->host, TND_LOG_INFO, "registry %s closed", store->settings.path);
	plugin_settings_free(&store->settings);
	free(store);
}

/* --- the descriptor ----------------------------------------------------------------------- */

static const struct tnd_storage_ops plugin_ops = {
	.size = sizeof(struct tnd_storage_ops),
	.commit = store_commit,
	.tenant_get = store_tenant_get,
	.tenant_search = store_tenant_search,
	.version_list = store_version_list,
	.version_get = store_version_get,
	.phase_list = store_phase_list,
	.idempotency_get = store_idempotency_get,
	.maintain = store_maintain,
	.ping = store_ping,
	.workflow_get = store_workflow_get,
	.workflow_list = store_workflow_list,
	.credential_get = store_credential_get,
	.override_list = store_override_list,
	.audit_list = store_audit_list,
	.audit_head_get = store_audit_head_get,
	.token_list = store_token_list,
	.grant_list = store_grant_list,
	.event_list = store_event_list,
	.quota_list = store_quota_list,
	.webhook_list = store_webhook_list,
	.delivery_list = store_delivery_list,
};

TND_PLUGIN_DEFINE(TND_PLUGIN_STORAGE, "sqlite", PACKAGE_VERSION, TND_STORAGE_CAP_GROUP_COMMIT, plugin_init,
		  plugin_fini, &plugin_ops, plugin_check_config,
		  "SQLite registry: WAL, durable group commit, versioned schema");
