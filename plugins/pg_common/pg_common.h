/*
 * pg_common.h — what the three PostgreSQL isolation plugins (shared_schema,
 * dedicated_db, hybrid) share: one context type parameterized by the mode,
 * request parsing, connections and statements, and the per-resource steps
 * the ops are assembled from.  Built as the convenience library
 * libpgcommon.la and linked into each plugin; nothing here is exported (the
 * plugins are built with -fvisibility=hidden and export only tnd_plugin_v1),
 * and nothing here calls the core except through the host table.
 */
#ifndef TND_PG_COMMON_H
#define TND_PG_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include <tenancyd/host.h>
#include <tenancyd/isolation.h>
#include <tenancyd/plugin.h>

/* A mode is the set of resources a tenant gets. */
#define PGISO_SCHEMA   1u /* schema t_<id> in the shared database */
#define PGISO_DATABASE 2u /* database t_<id> */

enum pgiso_mode {
	PGISO_MODE_SHARED = PGISO_SCHEMA,
	PGISO_MODE_DEDICATED = PGISO_DATABASE,
	PGISO_MODE_HYBRID = PGISO_SCHEMA | PGISO_DATABASE,
};

/* PostgreSQL's NAMEDATALEN - 1: the longest identifier it keeps. */
#define PGISO_NAME_MAX 63
/* The longest admin connection string read from conninfo_file. */
#define PGISO_CONNINFO_MAX 4096

struct pgiso_ctx {
	const struct tnd_host *host;
	unsigned mode;             /* enum pgiso_mode */
	const char *isolation;     /* the request's "isolation" this plugin serves */
	char application_name[64]; /* tenancyd-<plugin> */
	int connect_timeout_s;
	int statement_timeout_ms;
};

/* The desired state carried by a request. */
enum pgiso_state {
	PGISO_STATE_ACTIVE,
	PGISO_STATE_SUSPENDED,
	PGISO_STATE_ARCHIVED,
	PGISO_STATE_DELETED,
};

/* One parsed request.  Strings are borrowed from the request document
 * except the ones held in arrays here. */
struct pgiso_request {
	const char *tenant_id;
	char role[PGISO_NAME_MAX + 1];   /* t_<id>, '-' -> '_': role, schema and dedicated database */
	enum pgiso_state state;          /* PGISO_STATE_ACTIVE when the request names none */
	bool has_state;
	const char *password;            /* credentials.password (provision only) */
	int connection_limit;            /* quotas.concurrentOperations x 5; -1: none */
	char shared_database[PGISO_NAME_MAX + 1];
	const char *tenant_host;         /* dataPlane.host_for_tenants, or NULL */
	int tenant_port;                 /* dataPlane.port_for_tenants, or 0 */
	char conninfo[PGISO_CONNINFO_MAX]; /* the admin connection string: a secret */
	char conninfo_password[256];     /* its password, scrubbed from libpq messages */
};

/* What a request must carry besides tenantId and dataPlane. */
#define PGISO_NEED_PASSWORD 1u

/* --- pg_settings.c: context -------------------------------------------------------- */

int pgiso_ctx_new(const struct tnd_host *host, const struct tnd_json *config, unsigned mode,
		  const char *plugin_name, void **ret_ctx, struct tnd_error *err);
tnd_plugin_fini_fn pgiso_ctx_free;
tnd_plugin_check_config_fn pgiso_check_config;

/* --- pg_request.c: requests -------------------------------------------------------- */

/** True when @id is a tenant id (^[a-z][a-z0-9-]{1,38}[a-z0-9]$). */
bool pgiso_tenant_id_valid(const char *id);
/** Parse and validate @doc; reads the conninfo secret.  Everything that can be
 *  refused is refused here, before any connection is made. */
int pgiso_request_parse(const struct pgiso_ctx *ctx, const struct tnd_json *doc, unsigned need,
			struct pgiso_request *ret_req, struct tnd_error *err);
/** Wipe the secrets of a parsed request. */
void pgiso_request_clear(struct pgiso_request *req);
const char *pgiso_state_name(enum pgiso_state state);

/* --- pg_conn.c: connections and statements ------------------------------------------- */

/** One connection of one op, with what the statements need to report errors. */
struct pgiso_conn {
	PGconn *pg;
	const struct pgiso_ctx *ctx;
	const struct pgiso_request *req;
	char database[PGISO_NAME_MAX + 1]; /* "" for the conninfo's own database */
	bool superuser;                    /* the admin is a superuser (else CREATEROLE) */
	int server_version;                /* PQserverVersion() */
	char last_sqlstate[6];             /* of the last failed statement, "" if none */
};

/** Connect to @database (NULL: the database the conninfo names) as the admin,
 *  with application_name and statement_timeout set.  -EAGAIN when the server
 *  cannot be reached; the message never contains the password. */
int pgiso_connect(const struct pgiso_ctx *ctx, const struct pgiso_request *req, const char *database,
		  struct pgiso_conn *ret_conn, struct tnd_error *err);
/** Close the connection (accepts a closed one). */
void pgiso_disconnect(struct pgiso_conn *conn);

/** Run one or more statements without parameters; @what names the step in errors.
 *  The SQL text itself never reaches @err (it may hold a password verifier). */
int pgiso_exec(struct pgiso_conn *conn, const char *what, const char *sql, struct tnd_error *err);
/** printf-style pgiso_exec(); every identifier must come from pgiso_ident(). */
int pgiso_execf(struct pgiso_conn *conn, const char *what, struct tnd_error *err, const char *fmt, ...)
	TND_PRINTF(4, 5);
/** Run a query with text parameters; on success the caller PQclear()s *ret_res. */
int pgiso_query(struct pgiso_conn *conn, const char *what, const char *sql, int n_params,
		const char *const *params, PGresult **ret_res, struct tnd_error *err);
/** BEGIN / COMMIT / ROLLBACK (ROLLBACK never fails the caller). */
int pgiso_begin(struct pgiso_conn *conn, struct tnd_error *err);
int pgiso_commit(struct pgiso_conn *conn, struct tnd_error *err);
void pgiso_rollback(struct pgiso_conn *conn);
/** The SQLSTATE of the last failed statement on @conn ("" if none). */
const char *pgiso_last_sqlstate(const struct pgiso_conn *conn);

/** @name quoted as an identifier (PQescapeIdentifier); free with PQfreemem().
 *  NULL on failure, with the reason in @err. */
char *pgiso_ident(struct pgiso_conn *conn, const char *name, struct tnd_error *err);
/** @value quoted as a literal (PQescapeLiteral); free with PQfreemem(). */
char *pgiso_literal(struct pgiso_conn *conn, const char *value, struct tnd_error *err);

/** Take the transaction-level advisory lock that serializes changes to the
 *  shared database's ACLs (concurrent GRANTs on one object fail otherwise). */
int pgiso_lock_shared_acl(struct pgiso_conn *conn, struct tnd_error *err);

/** The host and port to report to tenants: the request's *_for_tenants, or
 *  the admin connection's own. */
void pgiso_tenant_endpoint(const struct pgiso_conn *conn, const char **ret_host, int *ret_port);

/* --- pg_role.c: the tenant's login role ------------------------------------------------ */

/** Create or correct the role: @login, the password from the request (sent as
 *  a SCRAM verifier), connection limit, no elevated attributes. */
int pgiso_role_ensure(struct pgiso_conn *admin, bool login, struct tnd_error *err);
/** True in *ret_exists when the role exists. */
int pgiso_role_exists(struct pgiso_conn *admin, bool *ret_exists, struct tnd_error *err);
/** ALTER ROLE LOGIN / NOLOGIN; -ENOENT when the role does not exist. */
int pgiso_role_set_login(struct pgiso_conn *admin, bool login, struct tnd_error *err);
/** End every session of the role, in every database, and check none remain. */
int pgiso_role_terminate_sessions(struct pgiso_conn *admin, struct tnd_error *err);
/** Record the archive time in the role's comment unless one is recorded. */
int pgiso_role_mark_archived(struct pgiso_conn *admin, struct tnd_error *err);
/** DROP OWNED BY in every database where the role still owns or holds
 *  something, then DROP ROLE; all IF EXISTS. */
int pgiso_role_drop(struct pgiso_conn *admin, struct tnd_error *err);

/* --- pg_schema.c: the schema in the shared database ------------------------------------ */

/** Create the shared database if missing; PUBLIC loses CONNECT and TEMP on it
 *  and everything on its public schema. */
int pgiso_shared_db_ensure(struct pgiso_conn *admin, struct tnd_error *err);
/** In the shared database: CONNECT for the role, its schema with its grants,
 *  search_path, default privileges; write privileges unless @writable is false. */
int pgiso_schema_ensure(struct pgiso_conn *admin, bool writable, struct tnd_error *err);
/** Revoke the role's write privileges in its schema (archive). */
int pgiso_schema_revoke_writes(struct pgiso_conn *admin, struct tnd_error *err);
/** DROP SCHEMA CASCADE and the role's grants in the shared database. */
int pgiso_schema_drop(struct pgiso_conn *admin, struct tnd_error *err);

/* --- pg_database.c: the tenant's own database ------------------------------------------ */

/** Create (or correct the owner of) database t_<id> and its grants. */
int pgiso_database_ensure(struct pgiso_conn *admin, bool writable, struct tnd_error *err);
/** Revoke the role's write privileges in its database (archive). */
int pgiso_database_revoke_writes(struct pgiso_conn *admin, struct tnd_error *err);
/** DROP DATABASE IF EXISTS ... WITH (FORCE). */
int pgiso_database_drop(struct pgiso_conn *admin, struct tnd_error *err);

/** In a connection to one of the tenant's databases: the role's default
 *  privileges (nothing it creates is granted to PUBLIC; writes on its own
 *  tables granted or revoked as @writable says). */
int pgiso_default_privileges(struct pgiso_conn *conn, bool writable, struct tnd_error *err);
/** In a connection to one of the tenant's databases: grant or revoke the
 *  role's write privileges on every table of @schema (NULL: every schema
 *  that is not PostgreSQL's own) and CREATE on those schemas. */
int pgiso_table_writes(struct pgiso_conn *conn, const char *schema, bool writable, struct tnd_error *err);

/* --- pg_observe.c ------------------------------------------------------------------------ */

#define PGISO_DRIFT_MAX 32

/** What observe found. */
struct pgiso_observation {
	bool exists;      /* every resource of the mode exists */
	bool anything;    /* at least one resource of the tenant exists */
	bool login;
	bool writable;
	char archived_at[64]; /* from the role's comment, or "" */
	char drift[PGISO_DRIFT_MAX][192]; /* one difference each, in the order found */
	size_t n_drift;
};

int pgiso_observe_collect(struct pgiso_conn *admin, struct pgiso_observation *obs, struct tnd_error *err);

/* --- pg_ops.c: the ops table every plugin uses ------------------------------------------- */

tnd_isolation_step_fn pgiso_provision;
tnd_isolation_step_fn pgiso_observe;
tnd_isolation_step_fn pgiso_suspend;
tnd_isolation_step_fn pgiso_resume;
tnd_isolation_step_fn pgiso_archive;
tnd_isolation_step_fn pgiso_destroy;

#endif /* TND_PG_COMMON_H */
