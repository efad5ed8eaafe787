/*
 * pg_ops.c — the six isolation ops, the same for the three plugins: each
 * parses its request (refusing before any SQL), connects as the admin,
 * runs the steps its context's mode needs (schema in the shared database,
 * own database, or both), and reports the resources of isolation.h.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_common.h"

/* One op in progress: its parsed request and admin connection. */
struct ops_call {
	const struct pgiso_ctx *ctx;
	const char *name;
	struct pgiso_request req;
	struct pgiso_conn admin;
	int64_t start_us;
};

static int ops_start(void *opaque, const char *name, const struct tnd_json *request, unsigned need,
		     struct ops_call *call, struct tnd_error *err)
{
	const struct pgiso_ctx *ctx = opaque;
	int r;

	memset(call, 0, sizeof(*call));
	call->ctx = ctx;
	call->name = name;
	call->start_us = ctx->host->clock_monotonic_us(ctx->host);
	r = pgiso_request_parse(ctx, request, need, &call->req, err);
	if (r < 0)
		return r;
	r = pgiso_connect(ctx, &call->req, NULL, &call->admin, err);
	if (r < 0)
		pgiso_request_clear(&call->req);
	return r;
}

/* Close the call; one log line and one metric observation per op. */
static int ops_finish(struct ops_call *call, int r)
{
	const struct tnd_host *host = call->ctx->host;
	double seconds = (double)(host->clock_monotonic_us(host) - call->start_us) / 1e6;
	char labels[96];

	pgiso_disconnect(&call->admin);
	snprintf(labels, sizeof(labels), "op=\"%s\",result=\"%s\"", call->name, r == 0 ? "ok" : "error");
	host->metric_observe(host, "postgresql_op_seconds", labels, seconds);
	if (r == 0)
		host->log(host, TND_LOG_INFO, "%s %s (%s isolation): done in %.0f ms", call->name, call->req.role,
			  call->ctx->isolation, seconds * 1000.0);
	pgiso_request_clear(&call->req);
	return r;
}

static int ops_string(const struct tnd_host *host, struct tnd_buf *out, const char *key, const char *value)
{
	int r = host->buf_printf(host, out, "\"%s\":", key);

	return r < 0 ? r : host->buf_append_json_string(host, out, value);
}

/* {"resources": {...}} without the closing brace of the outer object. */
static int ops_resources(const struct ops_call *call, struct tnd_buf *out)
{
	const struct tnd_host *host = call->ctx->host;
	const struct pgiso_request *req = &call->req;
	const char *tenant_host;
	int port, r;

	pgiso_tenant_endpoint(&call->admin, &tenant_host, &port);
	r = host->buf_printf(host, out, "{\"resources\":{");
	if (r == 0 && call->ctx->mode == PGISO_MODE_SHARED) {
		r = ops_string(host, out, "database", req->shared_database);
		r = r ? r : host->buf_printf(host, out, ",");
		r = r ? r : ops_string(host, out, "schema", req->role);
	} else if (r == 0 && call->ctx->mode == PGISO_MODE_DEDICATED) {
		r = ops_string(host, out, "database", req->role);
		r = r ? r : host->buf_printf(host, out, ",\"schema\":\"public\"");
	} else if (r == 0) {
		r = host->buf_printf(host, out, "\"control\":{");
		r = r ? r : ops_string(host, out, "database", req->shared_database);
		r = r ? r : host->buf_printf(host, out, ",");
		r = r ? r : ops_string(host, out, "schema", req->role);
		r = r ? r : host->buf_printf(host, out, "},\"data\":{");
		r = r ? r : ops_string(host, out, "database", req->role);
		r = r ? r : host->buf_printf(host, out, ",\"schema\":\"public\"}");
	}
	r = r ? r : host->buf_printf(host, out, ",");
	r = r ? r : ops_string(host, out, "role", req->role);
	r = r ? r : host->buf_printf(host, out, ",");
	r = r ? r : ops_string(host, out, "host", tenant_host ? tenant_host : "");
	r = r ? r : host->buf_printf(host, out, ",\"port\":%d}", port);
	return r;
}

/* Suspended or archived: no login, no session left, and for archived no
 * write privileges and the archive time recorded. */
static int ops_stop(struct ops_call *call, bool archive, struct tnd_error *err)
{
	struct pgiso_conn *admin = &call->admin;
	int r;

	r = pgiso_role_set_login(admin, false, err);
	if (r == 0)
		r = pgiso_role_terminate_sessions(admin, err);
	if (r == 0 && archive && (call->ctx->mode & PGISO_SCHEMA))
		r = pgiso_schema_revoke_writes(admin, err);
	if (r == 0 && archive && (call->ctx->mode & PGISO_DATABASE))
		r = pgiso_database_revoke_writes(admin, err);
	if (r == 0 && archive)
		r = pgiso_role_mark_archived(admin, err);
	return r;
}

int pgiso_provision(void *opaque, const struct tnd_json *request, struct tnd_buf *result, struct tnd_error *err)
{
	struct ops_call call;
	enum pgiso_state state;
	int r;

	r = ops_start(opaque, "provision", request, PGISO_NEED_PASSWORD, &call, err);
	if (r < 0)
		return r;
	/* the request's state is the one wanted once this step is done: a
	 * suspended or archived tenant's role is corrected without a moment of
	 * login, an archived one's resources without write privileges */
	state = call.req.state;
	if (state == PGISO_STATE_DELETED) {
		tnd_error_set(err, "provision cannot realize state deleted (that is destroy)");
		r = -EINVAL;
		goto out;
	}
	r = pgiso_role_ensure(&call.admin, state == PGISO_STATE_ACTIVE, err);
	if (r == 0 && (call.ctx->mode & PGISO_SCHEMA))
		r = pgiso_shared_db_ensure(&call.admin, err);
	if (r == 0 && (call.ctx->mode & PGISO_SCHEMA))
		r = pgiso_schema_ensure(&call.admin, state != PGISO_STATE_ARCHIVED, err);
	if (r == 0 && (call.ctx->mode & PGISO_DATABASE))
		r = pgiso_database_ensure(&call.admin, state != PGISO_STATE_ARCHIVED, err);
	if (r == 0 && state != PGISO_STATE_ACTIVE)
		r = ops_stop(&call, state == PGISO_STATE_ARCHIVED, err);
	if (r == 0)
		r = ops_resources(&call, result);
	if (r == 0)
		r = call.ctx->host->buf_printf(call.ctx->host, result, "}");
out:
	return ops_finish(&call, r);
}

int pgiso_suspend(void *opaque, const struct tnd_json *request, struct tnd_buf *result, struct tnd_error *err)
{
	struct ops_call call;
	int r;

	r = ops_start(opaque, "suspend", request, 0, &call, err);
	if (r < 0)
		return r;
	r = ops_stop(&call, false, err);
	if (r == 0)
		r = ops_resources(&call, result);
	if (r == 0)
		r = call.ctx->host->buf_printf(call.ctx->host, result, "}");
	return ops_finish(&call, r);
}

int pgiso_resume(void *opaque, const struct tnd_json *request, struct tnd_buf *result, struct tnd_error *err)
{
	struct ops_call call;
	int r;

	r = ops_start(opaque, "resume", request, 0, &call, err);
	if (r < 0)
		return r;
	r = pgiso_role_set_login(&call.admin, true, err);
	if (r == 0)
		r = ops_resources(&call, result);
	if (r == 0)
		r = call.ctx->host->buf_printf(call.ctx->host, result, "}");
	return ops_finish(&call, r);
}

int pgiso_archive(void *opaque, const struct tnd_json *request, struct tnd_buf *result, struct tnd_error *err)
{
	struct ops_call call;
	int r;

	r = ops_start(opaque, "archive", request, 0, &call, err);
	if (r < 0)
		return r;
	r = ops_stop(&call, true, err);
	if (r == 0)
		r = ops_resources(&call, result);
	if (r == 0)
		r = call.ctx->host->buf_printf(call.ctx->host, result, "}");
	return ops_finish(&call, r);
}

int pgiso_destroy(void *opaque, const struct tnd_json *request, struct tnd_buf *result, struct tnd_error *err)
{
	struct ops_call call;
	bool exists;
	int r;

	r = ops_start(opaque, "destroy", request, 0, &call, err);
	if (r < 0)
		return r;
	/* no new sessions, then none left, then nothing of the tenant */
	r = pgiso_role_exists(&call.admin, &exists, err);
	if (r == 0 && exists)
		r = pgiso_role_set_login(&call.admin, false, err);
	if (r == 0 && exists)
		r = pgiso_role_terminate_sessions(&call.admin, err);
	if (r == 0 && (call.ctx->mode & PGISO_DATABASE))
		r = pgiso_database_drop(&call.admin, err);
	if (r == 0 && (call.ctx->mode & PGISO_SCHEMA))
		r = pgiso_schema_drop(&call.admin, err);
	if (r == 0)
		r = pgiso_role_drop(&call.admin, err);
	if (r == 0)
		r = call.ctx->host->buf_printf(call.ctx->host, result, "{\"resources\":{}}");
	return ops_finish(&call, r);
}

static int ops_append_observation(const struct ops_call *call, const struct pgiso_observation *obs,
				  struct tnd_buf *out)
{
	const struct tnd_host *host = call->ctx->host;
	int r;

	if (obs->anything)
		r = ops_resources(call, out);
	else
		r = host->buf_printf(host, out, "{\"resources\":{}");
	r = r ? r : host->buf_printf(host, out, ",\"observed\":{\"exists\":%s,\"login\":%s,\"writable\":%s,\"drift\":[",
				     obs->exists ? "true" : "false", obs->login ? "true" : "false",
				     obs->writable ? "true" : "false");
	for (size_t i = 0; r == 0 && i < obs->n_drift; i++) {
		r = i > 0 ? host->buf_printf(host, out, ",") : 0;
		r = r ? r : host->buf_append_json_string(host, out, obs->drift[i]);
	}
	r = r ? r : host->buf_printf(host, out, "]");
	if (r == 0 && obs->archived_at[0] != '\0') {
		r = host->buf_printf(host, out, ",");
		r = r ? r : ops_string(host, out, "archivedAt", obs->archived_at);
	}
	return r ? r : host->buf_printf(host, out, "}}");
}

int pgiso_observe(void *opaque, const struct tnd_json *request, struct tnd_buf *result, struct tnd_error *err)
{
	struct pgiso_observation *obs;
	struct ops_call call;
	int r;

	r = ops_start(opaque, "observe", request, 0, &call, err);
	if (r < 0)
		return r;
	obs = calloc(1, sizeof(*obs));
	if (obs == NULL)
		r = -ENOMEM;
	else
		r = pgiso_observe_collect(&call.admin, obs, err);
	if (r == 0)
		r = ops_append_observation(&call, obs, result);
	free(obs);
	return ops_finish(&call, r);
}
