/*
 * embedded_ops.c — the isolation steps that change the embedded data
 * plane: provision, suspend, resume, archive, destroy (observe is in
 * embedded_observe.c).  Each is idempotent, and ordered so that a crash
 * between two of its changes leaves nothing a tenant could misuse: login
 * is granted last by provision and taken first by everything else.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "embedded.h"

/* What a step changed, for its one log line. */
struct ops_changes {
	char text[256];
};

static void ops_note(struct ops_changes *changes, const char *what)
{
	size_t len = strlen(changes->text);

	snprintf(changes->text + len, sizeof(changes->text) - len, "%s%s", len > 0 ? ", " : "", what);
}

static void ops_log(const struct embedded_ctx *ctx, const char *step, const struct embedded_request *req,
		    const struct ops_changes *changes)
{
	if (changes->text[0] != '\0')
		ctx->host->log(ctx->host, TND_LOG_INFO, "%s %s (%s): %s", step, req->tenant.name,
			       embedded_isolation_word(ctx->isolation), changes->text);
	else
		ctx->host->log(ctx->host, TND_LOG_DEBUG, "%s %s (%s): nothing to change", step, req->tenant.name,
			       embedded_isolation_word(ctx->isolation));
}

static int ops_result(const struct embedded_ctx *ctx, const struct embedded_request *req, struct tnd_buf *result)
{
	int r = ctx->host->buf_printf(ctx->host, result, "{");

	if (r == 0)
		r = embedded_resources_append(ctx, req, result);
	if (r == 0)
		r = ctx->host->buf_printf(ctx->host, result, "}");
	return r;
}

/* A name for temporary files no other worker can pick at the same time. */
static int ops_tmp_tag(const struct embedded_ctx *ctx, char tag[17], struct tnd_error *err)
{
	unsigned char bytes[8];

	if (ctx->host->random_bytes(ctx->host, bytes, sizeof(bytes)) < 0) {
		tnd_error_set(err, "no random bytes for a temporary file name");
		return -EIO;
	}
	for (size_t i = 0; i < sizeof(bytes); i++)
		snprintf(tag + 2 * i, 3, "%02x", bytes[i]);
	return 0;
}

/* The tenant's database file at @path exists, 0600. */
static int ops_file_ensure(const struct embedded_ctx *ctx, const char *path, const char *what,
			   struct ops_changes *changes, struct tnd_error *err)
{
	char tag[17], note[64];
	bool created = false, changed = false;
	int r;

	r = ops_tmp_tag(ctx, tag, err);
	if (r == 0)
		r = embedded_db_file_create(path, tag, &created, err);
	if (r == 0)
		r = embedded_file_chmod(path, 0600, &changed, err);
	if (r < 0)
		return r;
	if (created) {
		snprintf(note, sizeof(note), "created %s", what);
		ops_note(changes, note);
	} else if (changed) {
		snprintf(note, sizeof(note), "%s mode set to 0600", what);
		ops_note(changes, note);
	}
	return 0;
}

static int ops_dir_ensure(const char *path, const char *what, struct ops_changes *changes, struct tnd_error *err)
{
	char note[64];
	bool changed = false;
	int r = embedded_dir_prepare(path, &changed, err);

	if (r == 0 && changed) {
		snprintf(note, sizeof(note), "%s mode set to 0700", what);
		ops_note(changes, note);
	}
	return r;
}

/* The hash to store: the stored one while the password still matches it
 * (and was hashed with at least today's cost), else a fresh salted one. */
static int ops_password_hash(const struct embedded_ctx *ctx, const struct embedded_request *req,
			     const struct embedded_role *existing, char hash[EMBEDDED_PASSWORD_HASH_MAX],
			     struct ops_changes *changes, struct tnd_error *err)
{
	unsigned char salt[EMBEDDED_PASSWORD_SALT_SIZE];
	int r;

	/* (provision refused a new role without a password already) */
	if (existing != NULL &&
	    (req->password == NULL ||
	     (embedded_password_iterations(existing->password_hash) >= ctx->password_iterations &&
	      embedded_password_verify(existing->password_hash, req->password) == 0))) {
		memcpy(hash, existing->password_hash, EMBEDDED_PASSWORD_HASH_MAX);
		return 0;
	}
	if (ctx->host->random_bytes(ctx->host, salt, sizeof(salt)) < 0) {
		tnd_error_set(err, "no random bytes for a password salt");
		return -EIO;
	}
	r = embedded_password_hash(req->password, salt, ctx->password_iterations, hash);
	if (r < 0) {
		tnd_error_set(err, "cannot hash the password of role %s", req->tenant.name);
		return r;
	}
	if (existing != NULL)
		ops_note(changes, "password changed");
	return 0;
}

int embedded_op_provision(void *opaque, const struct tnd_json *request, struct tnd_buf *result,
			  struct tnd_error *err)
{
	const struct embedded_ctx *ctx = opaque;
	const struct tnd_host *host = ctx->host;
	struct embedded_request req;
	struct embedded_role existing;
	struct ops_changes changes = { { 0 } };
	char hash[EMBEDDED_PASSWORD_HASH_MAX], comment[96];
	sqlite3 *roles = NULL, *schemas = NULL;
	bool has_role = false, changed = false;
	int r;

	r = embedded_request_parse(ctx, request, &req, err);
	if (r < 0)
		return r;
	r = ops_dir_ensure(req.plane.dir, "data-plane directory", &changes, err);
	if (r == 0)
		r = embedded_roles_open(req.plane.roles_db, true, ctx->busy_timeout_ms, &roles, err);
	if (r == 0) {
		r = embedded_role_get(roles, req.tenant.name, &existing, err);
		has_role = r == 0;
		if (r == -ENOENT)
			r = 0;
	}
	/* Refuse a role we could not create before making any file for it. */
	if (r == 0 && !has_role && req.password == NULL) {
		tnd_error_set(err, "role %s does not exist and the request carries no credentials.password to create it",
			      req.tenant.name);
		r = -EINVAL;
	}
	if (r == 0 && embedded_has_schema(ctx->isolation)) {
		r = ops_dir_ensure(req.plane.schema_dir, "schema directory", &changes, err);
		if (r == 0)
			r = ops_file_ensure(ctx, req.tenant.schema_file, "schema file", &changes, err);
		if (r == 0)
			r = embedded_schemas_open(req.plane.shared_db, true, ctx->busy_timeout_ms, &schemas, err);
		if (r == 0)
			r = embedded_schema_register(schemas, req.tenant.name, host->clock_realtime_ms(host), &changed,
						     err);
		if (r == 0 && changed)
			ops_note(&changes, "registered schema in shared.db");
	}
	if (r == 0 && embedded_has_data(ctx->isolation)) {
		r = ops_dir_ensure(req.plane.dedicated_dir, "dedicated directory", &changes, err);
		if (r == 0)
			r = ops_file_ensure(ctx, req.tenant.data_file, "data file", &changes, err);
	}
	/* Login last: a tenant half provisioned cannot log in yet. */
	if (r == 0)
		r = ops_password_hash(ctx, &req, has_role ? &existing : NULL, hash, &changes, err);
	if (r == 0) {
		snprintf(comment, sizeof(comment), "tenancyd tenant %s (%s)", req.tenant.id,
			 embedded_isolation_word(ctx->isolation));
		/* realize request.state: a suspended or archived tenant being
		 * re-provisioned (update, repair) never gets a login window */
		bool login = req.state == NULL || strcmp(req.state, "active") == 0;
		bool writable = req.state == NULL || strcmp(req.state, "archived") != 0;
		r = embedded_role_put(roles, req.tenant.name, hash, req.storage_bytes, comment, login, writable,
				      host->clock_realtime_ms(host), &changed, err);
		if (r == 0 && changed)
			ops_note(&changes, has_role ? (login ? "updated role (login on, writable)" : "updated role (no login)")
						    : "created role");
	}
	sqlite3_close(schemas);
	sqlite3_close(roles);
	if (r == 0) {
		ops_log(ctx, "provision", &req, &changes);
		r = ops_result(ctx, &req, result);
	}
	embedded_request_clear(&req);
	return r;
}

/* Set the role's flags (login is changed first, files after) and, with
 * @file_mode, the mode of every file of the mode. */
static int ops_state_change(const struct embedded_ctx *ctx, const char *step, const struct tnd_json *request,
			    bool login, int writable, int64_t archived_at, mode_t file_mode, struct tnd_buf *result,
			    struct tnd_error *err)
{
	const struct tnd_host *host = ctx->host;
	struct embedded_request req;
	struct ops_changes changes = { { 0 } };
	sqlite3 *roles = NULL;
	bool changed = false;
	int r;

	r = embedded_request_parse(ctx, request, &req, err);
	if (r < 0)
		return r;
	/* Without a role there is nothing to change, and nothing this step
	 * could create: it takes a provision (which has the password). */
	if (access(req.plane.roles_db, F_OK) < 0) {
		tnd_error_set(err, "role %s does not exist (no %s): provision the tenant first", req.tenant.name,
			      req.plane.roles_db);
		r = -ENOENT;
	}
	if (r == 0)
		r = embedded_roles_open(req.plane.roles_db, true, ctx->busy_timeout_ms, &roles, err);
	if (r == 0)
		r = embedded_role_set(roles, req.tenant.name, login, writable, archived_at == 0 ? -1 : archived_at,
				      host->clock_realtime_ms(host), &changed, err);
	if (r == -ENOENT)
		tnd_error_set(err, "role %s does not exist: provision the tenant first", req.tenant.name);
	if (r == 0 && changed)
		ops_note(&changes, login ? "login enabled" : writable == 0 ? "login and writes disabled" : "login disabled");
	sqlite3_close(roles);
	if (r == 0 && file_mode != 0) {
		const char *files[] = { req.tenant.schema_file, req.tenant.data_file };

		for (size_t i = 0; r == 0 && i < sizeof(files) / sizeof(files[0]); i++) {
			if (files[i] == NULL)
				continue;
			r = embedded_file_chmod(files[i], file_mode, &changed, err);
			if (r == 0 && changed)
				ops_note(&changes, i == 0 ? "schema file made read-only" : "data file made read-only");
		}
	}
	if (r == 0) {
		ops_log(ctx, step, &req, &changes);
		r = ops_result(ctx, &req, result);
	}
	embedded_request_clear(&req);
	return r;
}

int embedded_op_suspend(void *opaque, const struct tnd_json *request, struct tnd_buf *result, struct tnd_error *err)
{
	/* Connections already open are not ended: there is no server to end
	 * them (README.md, "What it does not give"). */
	return ops_state_change(opaque, "suspend", request, false, -1, 0, 0, result, err);
}

int embedded_op_resume(void *opaque, const struct tnd_json *request, struct tnd_buf *result, struct tnd_error *err)
{
	return ops_state_change(opaque, "resume", request, true, -1, 0, 0, result, err);
}

int embedded_op_archive(void *opaque, const struct tnd_json *request, struct tnd_buf *result, struct tnd_error *err)
{
	const struct embedded_ctx *ctx = opaque;

	return ops_state_change(ctx, "archive", request, false, 0, ctx->host->clock_realtime_ms(ctx->host), 0400,
				result, err);
}

int embedded_op_destroy(void *opaque, const struct tnd_json *request, struct tnd_buf *result, struct tnd_error *err)
{
	const struct embedded_ctx *ctx = opaque;
	const struct tnd_host *host = ctx->host;
	struct embedded_request req;
	struct ops_changes changes = { { 0 } };
	sqlite3 *db = NULL;
	unsigned removed = 0;
	bool deleted = false;
	int r;

	r = embedded_request_parse(ctx, request, &req, err);
	if (r < 0)
		return r;
	/* The role first, so that nothing half-destroyed can be logged into. */
	if (access(req.plane.roles_db, F_OK) == 0) {
		r = embedded_roles_open(req.plane.roles_db, true, ctx->busy_timeout_ms, &db, err);
		if (r == 0)
			r = embedded_role_delete(db, req.tenant.name, &deleted, err);
		if (r == 0 && deleted)
			ops_note(&changes, "dropped role");
		sqlite3_close(db);
		db = NULL;
	}
	if (r == 0 && embedded_has_schema(ctx->isolation) && access(req.plane.shared_db, F_OK) == 0) {
		r = embedded_schemas_open(req.plane.shared_db, true, ctx->busy_timeout_ms, &db, err);
		if (r == 0)
			r = embedded_schema_unregister(db, req.tenant.name, &deleted, err);
		if (r == 0 && deleted)
			ops_note(&changes, "unregistered schema");
		sqlite3_close(db);
	}
	if (r == 0 && req.tenant.schema_file != NULL) {
		r = embedded_db_file_remove(req.tenant.schema_file, &removed, err);
		if (r == 0 && removed > 0)
			ops_note(&changes, "removed schema file");
	}
	if (r == 0 && req.tenant.data_file != NULL) {
		r = embedded_db_file_remove(req.tenant.data_file, &removed, err);
		if (r == 0 && removed > 0)
			ops_note(&changes, "removed data file");
	}
	if (r == 0) {
		ops_log(ctx, "destroy", &req, &changes);
		r = host->buf_printf(host, result, "{\"resources\":{}}");
	}
	embedded_request_clear(&req);
	return r;
}

const struct tnd_isolation_ops embedded_isolation_ops = {
	.size = sizeof(struct tnd_isolation_ops),
	.provision = embedded_op_provision,
	.observe = embedded_op_observe,
	.suspend = embedded_op_suspend,
	.resume = embedded_op_resume,
	.archive = embedded_op_archive,
	.destroy = embedded_op_destroy,
};
