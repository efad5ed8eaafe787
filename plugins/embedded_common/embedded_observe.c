/*
 * embedded_observe.c — the observe step of the embedded data plane: what
 * of a tenant exists (role row, schema registration, files), whether it
 * may log in and write, and every difference from the shape that
 * request.state implies.  Opens everything read-only and creates nothing,
 * not even the data-plane directory.
 */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "embedded.h"

struct observe_state {
	bool role_exists;
	struct embedded_role role;
	bool schema_registered;
	struct embedded_file_state schema_file, data_file;
	struct embedded_file_state dir, schema_dir, dedicated_dir;
};

struct observe_drift {
	const struct tnd_host *host;
	struct tnd_buf *out;
	size_t n;
	int r; /* the first append error */
};

static TND_PRINTF(2, 3) void observe_drift_add(struct observe_drift *drift, const char *fmt, ...)
{
	char text[PATH_MAX + 128];
	va_list ap;

	if (drift->r < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (drift->n++ > 0)
		drift->r = drift->host->buf_printf(drift->host, drift->out, ",");
	if (drift->r == 0)
		drift->r = drift->host->buf_append_json_string(drift->host, drift->out, text);
}

/* Read the catalogues; a catalogue that does not exist says "missing". */
static int observe_read(const struct embedded_ctx *ctx, const struct embedded_request *req,
			struct observe_state *state, struct tnd_error *err)
{
	sqlite3 *db = NULL;
	int r;

	embedded_file_inspect(req->plane.dir, &state->dir);
	embedded_file_inspect(req->plane.schema_dir, &state->schema_dir);
	embedded_file_inspect(req->plane.dedicated_dir, &state->dedicated_dir);
	if (req->tenant.schema_file != NULL)
		embedded_file_inspect(req->tenant.schema_file, &state->schema_file);
	if (req->tenant.data_file != NULL)
		embedded_file_inspect(req->tenant.data_file, &state->data_file);

	r = embedded_roles_open(req->plane.roles_db, false, ctx->busy_timeout_ms, &db, err);
	if (r == 0) {
		r = embedded_role_get(db, req->tenant.name, &state->role, err);
		state->role_exists = r == 0;
		sqlite3_close(db);
		db = NULL;
	}
	if (r < 0 && r != -ENOENT)
		return r;
	if (!embedded_has_schema(ctx->isolation))
		return 0;
	r = embedded_schemas_open(req->plane.shared_db, false, ctx->busy_timeout_ms, &db, err);
	if (r == 0) {
		r = embedded_schema_lookup(db, req->tenant.name, err);
		state->schema_registered = r == 0;
		sqlite3_close(db);
	}
	return r < 0 && r != -ENOENT ? r : 0;
}

static void observe_file_drift(struct observe_drift *drift, const char *what, const char *path,
			       const struct embedded_file_state *file, mode_t want_mode)
{
	if (!file->exists)
		observe_drift_add(drift, "%s %s missing", what, path);
	else if (!file->regular)
		observe_drift_add(drift, "%s %s is not a regular file", what, path);
	else if (!file->owned)
		observe_drift_add(drift, "%s %s is not owned by the daemon's user", what, path);
	else if (file->mode != want_mode)
		observe_drift_add(drift, "%s %s has mode %04o, want %04o", what, path, (unsigned)file->mode,
				  (unsigned)want_mode);
}

static void observe_dir_drift(struct observe_drift *drift, const char *what, const char *path,
			      const struct embedded_file_state *dir)
{
	/* a missing directory shows as its files missing */
	if (dir->exists && dir->mode != 0700)
		observe_drift_add(drift, "%s %s has mode %04o, want 0700", what, path, (unsigned)dir->mode);
}

static void observe_gone_drift(const struct embedded_ctx *ctx, const struct embedded_request *req,
			       const struct observe_state *state, struct observe_drift *drift)
{
	if (state->role_exists)
		observe_drift_add(drift, "role %s still exists", req->tenant.name);
	if (state->schema_registered)
		observe_drift_add(drift, "schema %s still registered in %s", req->tenant.name, req->plane.shared_db);
	if (state->schema_file.exists)
		observe_drift_add(drift, "schema file %s still exists", req->tenant.schema_file);
	if (state->data_file.exists)
		observe_drift_add(drift, "data file %s still exists", req->tenant.data_file);
}

static void observe_live_drift(const struct embedded_ctx *ctx, const struct embedded_request *req,
			       const struct observe_state *state, struct observe_drift *drift)
{
	const char *s = req->state;
	bool archived = strcmp(s, "archived") == 0;
	mode_t want_mode = archived ? 0400 : 0600;

	observe_dir_drift(drift, "data-plane directory", req->plane.dir, &state->dir);
	if (embedded_has_schema(ctx->isolation))
		observe_dir_drift(drift, "schema directory", req->plane.schema_dir, &state->schema_dir);
	if (embedded_has_data(ctx->isolation))
		observe_dir_drift(drift, "dedicated directory", req->plane.dedicated_dir, &state->dedicated_dir);
	if (!state->role_exists)
		observe_drift_add(drift, "role %s missing", req->tenant.name);
	if (embedded_has_schema(ctx->isolation)) {
		if (!state->schema_registered)
			observe_drift_add(drift, "schema %s not registered in %s", req->tenant.name,
					  req->plane.shared_db);
		observe_file_drift(drift, "schema file", req->tenant.schema_file, &state->schema_file, want_mode);
	}
	if (embedded_has_data(ctx->isolation))
		observe_file_drift(drift, "data file", req->tenant.data_file, &state->data_file, want_mode);
	if (!state->role_exists)
		return;
	if (strcmp(s, "active") == 0 && !state->role.login)
		observe_drift_add(drift, "login disabled while active");
	if (strcmp(s, "active") != 0 && state->role.login)
		observe_drift_add(drift, "login enabled while %s", s);
	if (!archived && !state->role.writable)
		observe_drift_add(drift, "writes disabled while %s", s);
	if (archived && state->role.writable)
		observe_drift_add(drift, "writes enabled while archived");
}

static bool observe_file_usable(const struct embedded_file_state *file)
{
	return file->exists && file->regular;
}

int embedded_op_observe(void *opaque, const struct tnd_json *request, struct tnd_buf *result, struct tnd_error *err)
{
	const struct embedded_ctx *ctx = opaque;
	const struct tnd_host *host = ctx->host;
	struct embedded_request req;
	struct observe_state state = { 0 };
	struct observe_drift drift = { .host = host, .out = result };
	bool exists, writable;
	int r;

	r = embedded_request_parse(ctx, request, &req, err);
	if (r < 0)
		return r;
	if (req.state == NULL) {
		tnd_error_set(err, "observe needs request.state to know what to compare with");
		embedded_request_clear(&req);
		return -EINVAL;
	}
	r = observe_read(ctx, &req, &state, err);
	if (r < 0) {
		embedded_request_clear(&req);
		return r;
	}
	exists = state.role_exists;
	if (embedded_has_schema(ctx->isolation))
		exists = exists && state.schema_registered && observe_file_usable(&state.schema_file);
	if (embedded_has_data(ctx->isolation))
		exists = exists && observe_file_usable(&state.data_file);
	/* What embedded_open_as() goes by; file modes are reported as drift
	 * (they do not stop the daemon's user, least of all root). */
	writable = state.role_exists && state.role.writable;

	r = host->buf_printf(host, result, "{");
	if (r == 0)
		r = exists ? embedded_resources_append(ctx, &req, result)
			   : host->buf_printf(host, result, "\"resources\":{}");
	if (r == 0)
		r = host->buf_printf(host, result, ",\"observed\":{\"exists\":%s,\"login\":%s,\"writable\":%s,\"drift\":[",
				     exists ? "true" : "false", state.role_exists && state.role.login ? "true" : "false",
				     writable ? "true" : "false");
	if (r == 0) {
		if (strcmp(req.state, "deleted") == 0)
			observe_gone_drift(ctx, &req, &state, &drift);
		else
			observe_live_drift(ctx, &req, &state, &drift);
		r = drift.r;
	}
	if (r == 0)
		r = host->buf_printf(host, result, "]}}");
	if (r == 0)
		host->log(host, TND_LOG_DEBUG, "observe %s (%s, want %s): exists %s, %zu difference(s)", req.tenant.name,
			  embedded_isolation_word(ctx->isolation), req.state, exists ? "yes" : "no", drift.n);
	embedded_request_clear(&req);
	return r;
}
