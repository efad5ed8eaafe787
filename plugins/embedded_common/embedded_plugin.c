/*
 * embedded_plugin.c — what the three embedded isolation plugins share on
 * the core's side of the ABI: their settings, init()/fini()/check_config(),
 * reading an isolation request (isolation.h) into a struct
 * embedded_request, and writing the "resources" member of a result.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"

#define PLUGIN_DEFAULT_BUSY_TIMEOUT_MS 5000
#define PLUGIN_DEFAULT_ITERATIONS EMBEDDED_PASSWORD_DEFAULT_ITERATIONS
/* storageGb beyond this would overflow the byte count; no disk is that big */
#define PLUGIN_MAX_STORAGE_GB (INT64_C(1) << 30)

/* --- settings ----------------------------------------------------------------------------- */

static int plugin_setting_int(const struct tnd_host *host, const struct tnd_json *config, const char *name,
			      int64_t min, int64_t max, int *value, struct tnd_error *err)
{
	char pointer[64];
	int64_t v;
	int r;

	snprintf(pointer, sizeof(pointer), "/%s", name);
	r = host->json_get_int(host, config, pointer, &v);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		tnd_error_set(err, "setting \"%s\" must be an integer", name);
		return -EINVAL;
	}
	if (v < min || v > max) {
		tnd_error_set(err, "setting \"%s\" must be between %lld and %lld, not %lld", name, (long long)min,
			      (long long)max, (long long)v);
		return -ERANGE;
	}
	*value = (int)v;
	return 0;
}

/* Parse @config (the plugin's settings group) into @ctx; touches no file.
 * The data-plane directory is not a setting: it comes with each request
 * (the region's data_plane group), so one plugin serves every region. */
static int plugin_settings_parse(const struct tnd_host *host, const struct tnd_json *config,
				 struct embedded_ctx *ctx, struct tnd_error *err)
{
	size_t n = 0;
	int type, r;

	ctx->busy_timeout_ms = PLUGIN_DEFAULT_BUSY_TIMEOUT_MS;
	ctx->password_iterations = PLUGIN_DEFAULT_ITERATIONS;
	type = config != NULL ? host->json_type(host, config, "") : TND_JSON_ABSENT;
	if (type == TND_JSON_ABSENT || type == TND_JSON_NULL)
		return 0;
	if (type != TND_JSON_OBJECT || host->json_get_size(host, config, "", &n) < 0) {
		tnd_error_set(err, "settings must be a group of key = value pairs");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *key = NULL;

		if (host->json_get_key(host, config, "", i, &key) < 0) {
			tnd_error_set(err, "cannot read setting %zu", i);
			return -EINVAL;
		}
		if (strcmp(key, "busy_timeout_ms") != 0 && strcmp(key, "password_iterations") != 0) {
			tnd_error_set(err, "unknown setting \"%s\" (known: busy_timeout_ms, password_iterations)", key);
			return -EINVAL;
		}
	}
	r = plugin_setting_int(host, config, "busy_timeout_ms", 0, 600000, &ctx->busy_timeout_ms, err);
	if (r < 0)
		return r;
	return plugin_setting_int(host, config, "password_iterations", EMBEDDED_PASSWORD_MIN_ITERATIONS, 10000000,
				  &ctx->password_iterations, err);
}

int embedded_check_config(const struct tnd_host *host, const struct tnd_json *config, struct tnd_error *err)
{
	struct embedded_ctx ctx = { .host = host };

	return plugin_settings_parse(host, config, &ctx, err);
}

int embedded_ctx_new(const struct tnd_host *host, const struct tnd_json *config, enum embedded_isolation isolation,
		     void **ret_ctx, struct tnd_error *err)
{
	struct embedded_ctx settings = { .host = host, .isolation = isolation };
	struct embedded_ctx *ctx;
	int r;

	r = plugin_settings_parse(host, config, &settings, err);
	if (r < 0)
		return r;
	ctx = malloc(sizeof(*ctx));
	if (ctx == NULL)
		return -ENOMEM;
	*ctx = settings;
	host->log(host, TND_LOG_DEBUG, "embedded %s isolation ready (PBKDF2 iterations %d, busy timeout %d ms)",
		  embedded_isolation_word(isolation), ctx->password_iterations, ctx->busy_timeout_ms);
	*ret_ctx = ctx;
	return 0;
}

void embedded_ctx_free(void *ctx)
{
	free(ctx);
}

/* --- requests ------------------------------------------------------------------------------ */

void embedded_request_clear(struct embedded_request *req)
{
	embedded_tenant_clear(&req->tenant);
	embedded_plane_clear(&req->plane);
}

/* An optional string member: -EINVAL if present with another type. */
static int plugin_request_string(const struct tnd_host *host, const struct tnd_json *request, const char *pointer,
				 const char **ret_value, struct tnd_error *err)
{
	int r = host->json_get_string(host, request, pointer, ret_value);

	if (r == -ENOENT) {
		*ret_value = NULL;
		return 0;
	}
	if (r < 0) {
		tnd_error_set(err, "request member %s must be a string", pointer);
		return -EINVAL;
	}
	return 0;
}

static int plugin_request_credentials(const struct embedded_ctx *ctx, const struct tnd_json *request,
				      struct embedded_request *req, struct tnd_error *err)
{
	const struct tnd_host *host = ctx->host;
	const char *username, *password;
	int r;

	r = plugin_request_string(host, request, "/credentials/username", &username, err);
	if (r < 0)
		return r;
	/* The role is always t_<id>: observe, suspend and the rest get no
	 * credentials and must find the same role. */
	if (username != NULL && strcmp(username, req->tenant.name) != 0) {
		tnd_error_set(err, "credentials.username must be the tenant's role %s", req->tenant.name);
		return -EINVAL;
	}
	/* Never echo the password, not even in an error. */
	if (host->json_get_string(host, request, "/credentials/password", &password) == 0) {
		if (password[0] == '\0' || strlen(password) > EMBEDDED_PASSWORD_MAX) {
			tnd_error_set(err, "credentials.password must have 1 to %d bytes", EMBEDDED_PASSWORD_MAX);
			return -EINVAL;
		}
		req->password = password;
	} else if (host->json_type(host, request, "/credentials/password") != TND_JSON_ABSENT) {
		tnd_error_set(err, "credentials.password must be a string");
		return -EINVAL;
	}
	return 0;
}

int embedded_request_parse(const struct embedded_ctx *ctx, const struct tnd_json *request,
			   struct embedded_request *ret_req, struct tnd_error *err)
{
	static const char *const states[] = { "active", "suspended", "archived", "deleted" };
	const struct tnd_host *host = ctx->host;
	struct embedded_request req = { 0 };
	const char *dir = NULL, *tenant_id = NULL, *isolation = NULL;
	int64_t storage_gb = 0;
	bool known = false;
	int r;

	r = plugin_request_string(host, request, "/tenantId", &tenant_id, err);
	if (r < 0)
		return r;
	if (tenant_id == NULL) {
		tnd_error_set(err, "request has no tenantId");
		return -EINVAL;
	}
	if (!embedded_tenant_id_valid(tenant_id)) {
		tnd_error_set(err, "tenantId is not a tenant id (^[a-z][a-z0-9-]{1,38}[a-z0-9]$)");
		return -EINVAL;
	}
	r = plugin_request_string(host, request, "/isolation", &isolation, err);
	if (r < 0)
		return r;
	/* A request for another mode would make the wrong resources. */
	if (isolation != NULL && strcmp(isolation, embedded_isolation_word(ctx->isolation)) != 0) {
		tnd_error_set(err, "request is for isolation \"%s\", this plugin serves \"%s\"", isolation,
			      embedded_isolation_word(ctx->isolation));
		return -EINVAL;
	}
	r = plugin_request_string(host, request, "/state", &req.state, err);
	if (r < 0)
		return r;
	for (size_t i = 0; req.state != NULL && i < sizeof(states) / sizeof(states[0]); i++)
		known = known || strcmp(req.state, states[i]) == 0;
	if (req.state != NULL && !known) {
		tnd_error_set(err, "request state \"%s\" is not active, suspended, archived or deleted", req.state);
		return -EINVAL;
	}
	r = host->json_get_int(host, request, "/quotas/storageGb", &storage_gb);
	if (r == 0 && (storage_gb < 0 || storage_gb > PLUGIN_MAX_STORAGE_GB)) {
		tnd_error_set(err, "quotas.storageGb %lld is out of range", (long long)storage_gb);
		return -EINVAL;
	}
	if (r < 0 && r != -ENOENT) {
		tnd_error_set(err, "quotas.storageGb must be an integer");
		return -EINVAL;
	}
	req.storage_bytes = r == 0 ? storage_gb * 1024 * 1024 * 1024 : 0;
	r = plugin_request_string(host, request, "/dataPlane/dir", &dir, err);
	if (r < 0)
		return r;
	r = embedded_plane_resolve(host->state_dir, dir, &req.plane, err);
	if (r < 0)
		return r;
	r = embedded_tenant_init(&req.plane, ctx->isolation, tenant_id, &req.tenant, err);
	if (r == 0)
		r = plugin_request_credentials(ctx, request, &req, err);
	if (r < 0) {
		embedded_request_clear(&req);
		return r;
	}
	*ret_req = req;
	return 0;
}

/* --- results -------------------------------------------------------------------------------- */

/* ,"<key>":"<value>" (no comma when @first) */
static int plugin_member(const struct tnd_host *host, struct tnd_buf *out, bool first, const char *key,
			 const char *value)
{
	int r = host->buf_printf(host, out, "%s\"%s\":", first ? "" : ",", key);

	return r < 0 ? r : host->buf_append_json_string(host, out, value);
}

int embedded_resources_append(const struct embedded_ctx *ctx, const struct embedded_request *req,
			      struct tnd_buf *out)
{
	const struct tnd_host *host = ctx->host;
	const struct embedded_tenant *t = &req->tenant;
	int r;

	switch (ctx->isolation) {
	case EMBEDDED_SHARED:
		r = host->buf_printf(host, out, "\"resources\":{");
		if (r == 0)
			r = plugin_member(host, out, true, "database", req->plane.shared_db);
		if (r == 0)
			r = plugin_member(host, out, false, "schema", t->name);
		if (r == 0)
			r = plugin_member(host, out, false, "file", t->schema_file);
		break;
	case EMBEDDED_DEDICATED:
		r = host->buf_printf(host, out, "\"resources\":{");
		if (r == 0)
			r = plugin_member(host, out, true, "database", t->data_file);
		if (r == 0)
			r = plugin_member(host, out, false, "schema", "main");
		break;
	case EMBEDDED_HYBRID:
		r = host->buf_printf(host, out, "\"resources\":{\"control\":{");
		if (r == 0)
			r = plugin_member(host, out, true, "database", req->plane.shared_db);
		if (r == 0)
			r = plugin_member(host, out, false, "schema", t->name);
		if (r == 0)
			r = plugin_member(host, out, false, "file", t->schema_file);
		if (r == 0)
			r = host->buf_printf(host, out, "},\"data\":{");
		if (r == 0)
			r = plugin_member(host, out, true, "database", t->data_file);
		if (r == 0)
			r = plugin_member(host, out, false, "schema", "main");
		if (r == 0)
			r = host->buf_printf(host, out, "}");
		break;
	default:
		return -EINVAL;
	}
	if (r == 0)
		r = plugin_member(host, out, false, "role", t->name);
	if (r == 0)
		r = host->buf_printf(host, out, "}");
	return r;
}
