/*
 * pg_request.c — reading an isolation request (include/tenancyd/isolation.h)
 * into struct pgiso_request: the tenant id and the names derived from it,
 * the desired state, credentials, quotas and the region's dataPlane
 * settings, including the admin connection string read from its secret
 * file.  Everything a request can be refused for is refused here, before
 * any connection is made, so a hostile tenant id never reaches SQL.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_common.h"

#define REQUEST_DEFAULT_SHARED_DATABASE "tenancy"
/* CONNECTION LIMIT is concurrentOperations times this (see README.md). */
#define REQUEST_CONNECTIONS_PER_OPERATION 5
#define REQUEST_CONNECTION_LIMIT_MAX 10000

static const char *const request_state_names[] = {
	[PGISO_STATE_ACTIVE] = "active",
	[PGISO_STATE_SUSPENDED] = "suspended",
	[PGISO_STATE_ARCHIVED] = "archived",
	[PGISO_STATE_DELETED] = "deleted",
};

const char *pgiso_state_name(enum pgiso_state state)
{
	return request_state_names[state];
}

/* ^[a-z][a-z0-9-]{1,38}[a-z0-9]$, DESIGN §3.  Checked by hand: no regex
 * engine, no locale. */
bool pgiso_tenant_id_valid(const char *id)
{
	size_t len;

	if (id == NULL)
		return false;
	len = strlen(id);
	if (len < 3 || len > 40)
		return false;
	if (id[0] < 'a' || id[0] > 'z')
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = id[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && !(c == '-' && i < len - 1))
			return false;
	}
	return true;
}

static int request_optional_string(const struct tnd_host *host, const struct tnd_json *doc,
				   const char *pointer, const char *label, size_t max, const char **ret_value,
				   struct tnd_error *err)
{
	const char *value;
	int r;

	r = host->json_get_string(host, doc, pointer, &value);
	if (r == -ENOENT) {
		*ret_value = NULL;
		return 0;
	}
	if (r < 0) {
		tnd_error_set(err, "%s must be a string", label);
		return -EINVAL;
	}
	if (value[0] == '\0' || strlen(value) > max) {
		tnd_error_set(err, "%s must be 1 to %zu bytes long", label, max);
		return -EINVAL;
	}
	*ret_value = value;
	return 0;
}

static int request_state(const struct tnd_host *host, const struct tnd_json *doc, struct pgiso_request *req,
			 struct tnd_error *err)
{
	const char *state;
	int r;

	r = request_optional_string(host, doc, "/state", "state", 16, &state, err);
	if (r < 0)
		return r;
	req->state = PGISO_STATE_ACTIVE;
	req->has_state = state != NULL;
	if (state == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(request_state_names) / sizeof(request_state_names[0]); i++) {
		if (strcmp(state, request_state_names[i]) == 0) {
			req->state = (enum pgiso_state)i;
			return 0;
		}
	}
	tnd_error_set(err, "state \"%s\" is none of active, suspended, archived, deleted", state);
	return -EINVAL;
}

static int request_credentials(const struct tnd_host *host, const struct tnd_json *doc, unsigned need,
			       struct pgiso_request *req, struct tnd_error *err)
{
	const char *username;
	int r;

	r = request_optional_string(host, doc, "/credentials/username", "credentials.username",
				    PGISO_NAME_MAX, &username, err);
	if (r < 0)
		return r;
	if (username != NULL && strcmp(username, req->role) != 0) {
		tnd_error_set(err, "credentials.username \"%s\" is not the tenant's role name \"%s\"", username,
			      req->role);
		return -EINVAL;
	}
	r = request_optional_string(host, doc, "/credentials/password", "credentials.password", 1024,
				    &req->password, err);
	if (r < 0)
		return r;
	if ((need & PGISO_NEED_PASSWORD) && req->password == NULL) {
		tnd_error_set(err, "provision needs credentials.password");
		return -EINVAL;
	}
	return 0;
}

static int request_quotas(const struct tnd_host *host, const struct tnd_json *doc, struct pgiso_request *req,
			  struct tnd_error *err)
{
	int64_t operations;
	int r;

	req->connection_limit = -1;
	r = host->json_get_int(host, doc, "/quotas/concurrentOperations", &operations);
	if (r == -ENOENT)
		return 0;
	if (r < 0 || operations < 1) {
		tnd_error_set(err, "quotas.concurrentOperations must be a positive integer");
		return -EINVAL;
	}
	if (operations > REQUEST_CONNECTION_LIMIT_MAX / REQUEST_CONNECTIONS_PER_OPERATION)
		req->connection_limit = REQUEST_CONNECTION_LIMIT_MAX;
	else
		req->connection_limit = (int)operations * REQUEST_CONNECTIONS_PER_OPERATION;
	return 0;
}

static int request_data_plane(const struct pgiso_ctx *ctx, const struct tnd_json *doc,
			      struct pgiso_request *req, const char **ret_conninfo_file, struct tnd_error *err)
{
	const struct tnd_host *host = ctx->host;
	const char *shared_database, *conninfo_file;
	int64_t port;
	int r;

	if (host->json_type(host, doc, "/dataPlane") != TND_JSON_OBJECT) {
		tnd_error_set(err, "request has no dataPlane object (the region's data_plane settings)");
		return -EINVAL;
	}
	r = request_optional_string(host, doc, "/dataPlane/conninfo_file", "dataPlane.conninfo_file", 4096,
				    &conninfo_file, err);
	if (r < 0)
		return r;
	if (conninfo_file == NULL) {
		tnd_error_set(err, "dataPlane.conninfo_file is required: the path of a mode 0600 file holding "
			      "the admin's libpq connection string");
		return -EINVAL;
	}
	r = request_optional_string(host, doc, "/dataPlane/shared_database", "dataPlane.shared_database",
				    PGISO_NAME_MAX, &shared_database, err);
	if (r < 0)
		return r;
	snprintf(req->shared_database, sizeof(req->shared_database), "%s",
		 shared_database ? shared_database : REQUEST_DEFAULT_SHARED_DATABASE);
	if ((ctx->mode & PGISO_DATABASE) && strcmp(req->shared_database, req->role) == 0) {
		tnd_error_set(err, "dataPlane.shared_database \"%s\" is the name of the tenant's own database",
			      req->shared_database);
		return -EINVAL;
	}
	r = request_optional_string(host, doc, "/dataPlane/host_for_tenants", "dataPlane.host_for_tenants", 255,
				    &req->tenant_host, err);
	if (r < 0)
		return r;
	r = host->json_get_int(host, doc, "/dataPlane/port_for_tenants", &port);
	if (r == -ENOENT)
		port = 0;
	else if (r < 0 || port < 1 || port > 65535) {
		tnd_error_set(err, "dataPlane.port_for_tenants must be a port number (1-65535)");
		return -EINVAL;
	}
	req->tenant_port = (int)port;
	*ret_conninfo_file = conninfo_file;
	return 0;
}

/* Read the admin connection string and check it is one, keeping its
 * password so that libpq's messages can be scrubbed of it.  libpq's parse
 * errors quote pieces of the string, so they are not passed on. */
static int request_conninfo(const struct pgiso_ctx *ctx, const char *path, struct pgiso_request *req,
			    struct tnd_error *err)
{
	const struct tnd_host *host = ctx->host;
	PQconninfoOption *options;
	char *parse_error = NULL;
	struct tnd_error read_err = { { 0 } };
	size_t len = 0;
	int r;

	r = host->secret_read(host, path, req->conninfo, sizeof(req->conninfo), &len, &read_err);
	if (r < 0) {
		tnd_error_set(err, "dataPlane.conninfo_file: %s", read_err.message);
		return r;
	}
	if (len == 0) {
		tnd_error_set(err, "dataPlane.conninfo_file %s is empty", path);
		return -EINVAL;
	}
	options = PQconninfoParse(req->conninfo, &parse_error);
	PQfreemem(parse_error);
	if (options == NULL) {
		tnd_error_set(err, "dataPlane.conninfo_file %s does not hold a valid libpq connection string "
			      "(details withheld: they would quote the secret)", path);
		return -EINVAL;
	}
	for (PQconninfoOption *o = options; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
			snprintf(req->conninfo_password, sizeof(req->conninfo_password), "%s", o->val);
		if (o->val != NULL)
			explicit_bzero(o->val, strlen(o->val));
	}
	PQconninfoFree(options);
	return 0;
}

int pgiso_request_parse(const struct pgiso_ctx *ctx, const struct tnd_json *doc, unsigned need,
			struct pgiso_request *ret_req, struct tnd_error *err)
{
	const struct tnd_host *host = ctx->host;
	struct pgiso_request local, *req = &local;
	const char *isolation, *conninfo_file = NULL;
	int r;

	memset(req, 0, sizeof(*req));
	if (host->json_get_string(host, doc, "/tenantId", &req->tenant_id) < 0 ||
	    !pgiso_tenant_id_valid(req->tenant_id)) {
		tnd_error_set(err, "tenantId is missing or not a tenant id (^[a-z][a-z0-9-]{1,38}[a-z0-9]$)");
		r = -EINVAL;
		goto fail;
	}
	snprintf(req->role, sizeof(req->role), "t_%s", req->tenant_id);
	for (char *p = req->role; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';

	r = request_optional_string(host, doc, "/isolation", "isolation", 16, &isolation, err);
	if (r < 0)
		goto fail;
	if (isolation != NULL && strcmp(isolation, ctx->isolation) != 0) {
		tnd_error_set(err, "this plugin serves isolation \"%s\", not \"%s\": check regions[].isolation",
			      ctx->isolation, isolation);
		r = -EINVAL;
		goto fail;
	}
	r = request_state(host, doc, req, err);
	if (r < 0)
		goto fail;
	r = request_credentials(host, doc, need, req, err);
	if (r < 0)
		goto fail;
	r = request_quotas(host, doc, req, err);
	if (r < 0)
		goto fail;
	r = request_data_plane(ctx, doc, req, &conninfo_file, err);
	if (r < 0)
		goto fail;
	r = request_conninfo(ctx, conninfo_file, req, err);
	if (r < 0)
		goto fail;
	*ret_req = local;
	pgiso_request_clear(req);
	return 0;
fail:
	pgiso_request_clear(req);
	return r;
}

void pgiso_request_clear(struct pgiso_request *req)
{
	explicit_bzero(req->conninfo, sizeof(req->conninfo));
	explicit_bzero(req->conninfo_password, sizeof(req->conninfo_password));
	req->password = NULL;
}
