/*
 * pg_observe.c — what exists of a tenant on the data plane, and how it
 * differs from what request.state implies.  Every connection here is set
 * read-only first, so observe cannot change anything even by mistake.
 *
 * Drift is one short English line per difference; the orchestrator starts
 * a repair for any, and operators read them in the workflow document.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_common.h"

static TND_PRINTF(2, 3) void observe_drift(struct pgiso_observation *obs, const char *fmt, ...)
{
	va_list ap;

	if (obs->n_drift >= PGISO_DRIFT_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(obs->drift[obs->n_drift++], sizeof(obs->drift[0]), fmt, ap);
	va_end(ap);
}

static bool observe_bool(const PGresult *res, int column)
{
	return strcmp(PQgetvalue(res, 0, column), "t") == 0;
}

/* {"archivedAt": "<time>"} as pgiso_role_mark_archived() writes it. */
static void observe_archived_at(const char *comment, char out[64])
{
	const char *p = strstr(comment, "\"archivedAt\"");
	size_t n;

	out[0] = '\0';
	if (p == NULL || (p = strchr(p + 12, '"')) == NULL)
		return;
	p++;
	n = strspn(p, "0123456789-T:.Z");
	if (n > 0 && n < 64 && p[n] == '"')
		snprintf(out, 64, "%.*s", (int)n, p);
}

struct observe_role {
	bool exists, login;
};

static int observe_role(struct pgiso_conn *admin, struct pgiso_observation *obs, struct observe_role *role,
			struct tnd_error *err)
{
	static const char *const attributes[] = { "SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS" };
	const struct pgiso_request *req = admin->req;
	const char *params[1] = { req->role };
	PGresult *res;
	int r;

	r = pgiso_query(admin, "reading the role",
			"SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, "
			"coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname = $1",
			1, params, &res, err);
	if (r < 0)
		return r;
	role->exists = PQntuples(res) > 0;
	if (!role->exists) {
		PQclear(res);
		if (req->state != PGISO_STATE_DELETED)
			observe_drift(obs, "role %s does not exist", req->role);
		return 0;
	}
	role->login = observe_bool(res, 0);
	for (int i = 0; i < 5; i++)
		if (observe_bool(res, i + 1))
			observe_drift(obs, "role %s has %s", req->role, attributes[i]);
	observe_archived_at(PQgetvalue(res, 0, 6), obs->archived_at);
	PQclear(res);
	if (req->state == PGISO_STATE_DELETED)
		observe_drift(obs, "role %s still exists", req->role);
	else if (req->state == PGISO_STATE_ACTIVE && !role->login)
		observe_drift(obs, "login disabled while active");
	else if (req->state != PGISO_STATE_ACTIVE && role->login)
		observe_drift(obs, "login enabled while %s", pgiso_state_name(req->state));
	return 0;
}

struct observe_database {
	bool exists, open;
};

/* A database's owner, PUBLIC's access and the role's CONNECT and CREATE.
 * @own: the tenant's own database (else the shared one). */
static int observe_database(struct pgiso_conn *admin, const char *name, bool own, struct pgiso_observation *obs,
			    struct observe_database *db, bool *ret_create, struct tnd_error *err)
{
	const struct pgiso_request *req = admin->req;
	const char *params[2] = { name, req->role };
	const char *kind = own ? "database" : "shared database";
	PGresult *res;
	int r;

	r = pgiso_query(admin, "reading a database",
			"SELECT pg_get_userbyid(d.datdba), d.datallowconn, "
			"EXISTS (SELECT 1 FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
			"WHERE a.grantee = 0), "
			"coalesce(has_database_privilege(r.oid, d.oid, 'CONNECT'), false), "
			"coalesce(has_database_privilege(r.oid, d.oid, 'CREATE'), false) "
			"FROM pg_database d LEFT JOIN pg_roles r ON r.rolname = $2 WHERE d.datname = $1",
			2, params, &res, err);
	if (r < 0)
		return r;
	db->exists = PQntuples(res) > 0;
	db->open = db->exists && observe_bool(res, 1);
	*ret_create = false;
	if (!db->exists) {
		if (req->state != PGISO_STATE_DELETED)
			observe_drift(obs, "%s %s does not exist", kind, name);
		PQclear(res);
		return 0;
	}
	if (own && req->state == PGISO_STATE_DELETED)
		observe_drift(obs, "database %s still exists", name);
	if (own && strcmp(PQgetvalue(res, 0, 0), req->role) != 0)
		observe_drift(obs, "database %s is owned by %s, not %s", name, PQgetvalue(res, 0, 0), req->role);
	if (!db->open)
		observe_drift(obs, "%s %s does not allow connections", kind, name);
	if (observe_bool(res, 2))
		observe_drift(obs, "PUBLIC has privileges on %s %s", kind, name);
	if (req->state != PGISO_STATE_DELETED && !observe_bool(res, 3))
		observe_drift(obs, "role %s may not connect to %s %s", req->role, kind, name);
	*ret_create = observe_bool(res, 4);
	if (!own && *ret_create)
		observe_drift(obs, "role %s may create schemas in the shared database %s", req->role, name);
	PQclear(res);
	return 0;
}

/* In a connection to one of the tenant's databases: schema @schema exists,
 * is owned by @owner, PUBLIC has nothing on it, and the role may use it.
 * *ret_exists tells whether it exists. */
static int observe_schema(struct pgiso_conn *conn, const char *schema, const char *owner,
			  struct pgiso_observation *obs, bool *ret_exists, struct tnd_error *err)
{
	const struct pgiso_request *req = conn->req;
	const char *params[2] = { schema, req->role };
	PGresult *res;
	int r;

	r = pgiso_query(conn, "reading a schema",
			"SELECT pg_get_userbyid(n.nspowner), "
			"EXISTS (SELECT 1 FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a "
			"WHERE a.grantee = 0), "
			"coalesce(has_schema_privilege(r.oid, n.oid, 'USAGE'), false) "
			"FROM pg_namespace n LEFT JOIN pg_roles r ON r.rolname = $2 WHERE n.nspname = $1",
			2, params, &res, err);
	if (r < 0)
		return r;
	*ret_exists = PQntuples(res) > 0;
	if (!*ret_exists) {
		if (req->state != PGISO_STATE_DELETED)
			observe_drift(obs, "schema %s does not exist in database %s", schema, conn->database);
		PQclear(res);
		return 0;
	}
	if (strcmp(schema, owner) == 0 && req->state == PGISO_STATE_DELETED)
		observe_drift(obs, "schema %s still exists in database %s", schema, conn->database);
	if (strcmp(PQgetvalue(res, 0, 0), owner) != 0)
		observe_drift(obs, "schema %s is owned by %s, not %s", schema, PQgetvalue(res, 0, 0), owner);
	if (observe_bool(res, 1))
		observe_drift(obs, "PUBLIC has privileges on schema %s of database %s", schema, conn->database);
	if (req->state != PGISO_STATE_DELETED && !observe_bool(res, 2))
		observe_drift(obs, "role %s lacks USAGE on schema %s of database %s", req->role, schema,
			      conn->database);
	PQclear(res);
	return 0;
}

/* The role's write privileges in the tenant's schemas of this database:
 * @schema, or (NULL) public and every schema the role owns. */
static int observe_writes(struct pgiso_conn *conn, const char *schema, long *ret_schemas, long *ret_tables,
			  struct tnd_error *err)
{
	const char *params[2] = { conn->req->role, schema };
	PGresult *res;
	int r;

	r = pgiso_query(conn, "reading write privileges",
			"WITH s AS (SELECT n.oid, r.oid AS role FROM pg_namespace n, pg_roles r "
			"WHERE r.rolname = $1 AND (n.nspname = $2::text "
			"OR ($2::text IS NULL AND (n.nspname = 'public' OR n.nspowner = r.oid)))) "
			"SELECT (SELECT count(*) FROM s WHERE has_schema_privilege(s.role, s.oid, 'CREATE')), "
			"(SELECT count(*) FROM s JOIN pg_class c ON c.relnamespace = s.oid "
			"WHERE c.relkind IN ('r', 'p', 'v', 'f') "
			"AND has_table_privilege(s.role, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))",
			2, params, &res, err);
	if (r < 0)
		return r;
	*ret_schemas = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	*ret_tables = strtol(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}

/* Writes found in one database, judged against the desired state. */
static void observe_judge_writes(const struct pgiso_request *req, const char *where, long schemas, long tables,
				 bool db_create, struct pgiso_observation *obs)
{
	bool writable = schemas > 0 || tables > 0 || db_create;

	obs->writable = obs->writable || writable;
	if (req->state == PGISO_STATE_ACTIVE && schemas == 0)
		observe_drift(obs, "role %s may not create in its schema in %s while active", req->role, where);
	if (req->state == PGISO_STATE_ARCHIVED && writable)
		observe_drift(obs, "write privileges while archived in %s: CREATE on %ld schema(s)%s, "
			      "writes on %ld table(s)", where, schemas, db_create ? " and the database" : "", tables);
}

static int observe_connect(struct pgiso_conn *admin, const char *database, struct pgiso_conn *ret_conn,
			   struct tnd_error *err)
{
	struct pgiso_conn conn;
	int r;

	r = pgiso_connect(admin->ctx, admin->req, database, &conn, err);
	if (r < 0)
		return r;
	r = pgiso_exec(&conn, "making the session read-only", "SET default_transaction_read_only = on", err);
	if (r < 0) {
		pgiso_disconnect(&conn);
		return r;
	}
	*ret_conn = conn;
	return 0;
}

static int observe_search_path(struct pgiso_conn *conn, struct pgiso_observation *obs, struct tnd_error *err)
{
	const char *params[1] = { conn->req->role };
	char wanted[PGISO_NAME_MAX + 16];
	PGresult *res;
	int r;

	r = pgiso_query(conn, "reading the role's settings",
			"SELECT coalesce((SELECT array_to_string(setconfig, e'\\n') FROM pg_db_role_setting "
			"WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) "
			"AND setrole = (SELECT oid FROM pg_roles WHERE rolname = $1)), '')",
			1, params, &res, err);
	if (r < 0)
		return r;
	snprintf(wanted, sizeof(wanted), "search_path=%s", conn->req->role);
	if (strstr(PQgetvalue(res, 0, 0), wanted) == NULL)
		observe_drift(obs, "search_path of role %s in database %s is not %s", conn->req->role, conn->database,
			      conn->req->role);
	PQclear(res);
	return 0;
}

/* The schema in the shared database. */
static int observe_shared(struct pgiso_conn *admin, const struct observe_role *role, struct pgiso_observation *obs,
			  bool *ret_exists, struct tnd_error *err)
{
	const struct pgiso_request *req = admin->req;
	struct observe_database db;
	struct pgiso_conn conn;
	long schemas = 0, tables = 0;
	bool create, schema = false;
	int r;

	*ret_exists = false;
	r = observe_database(admin, req->shared_database, false, obs, &db, &create, err);
	if (r < 0 || !db.open)
		return r;
	r = observe_connect(admin, req->shared_database, &conn, err);
	if (r < 0)
		return r;
	r = observe_schema(&conn, req->role, req->role, obs, &schema, err);
	if (r == 0 && schema && role->exists && req->state != PGISO_STATE_DELETED)
		r = observe_search_path(&conn, obs, err);
	if (r == 0 && schema && role->exists)
		r = observe_writes(&conn, req->role, &schemas, &tables, err);
	if (r == 0 && schema && role->exists && req->state != PGISO_STATE_DELETED) {
		char where[2 * PGISO_NAME_MAX + 16];
		snprintf(where, sizeof(where), "schema %s", req->role);
		observe_judge_writes(req, where, schemas, tables, false, obs);
	}
	pgiso_disconnect(&conn);
	*ret_exists = schema;
	return r;
}

/* The tenant's own database. */
static int observe_dedicated(struct pgiso_conn *admin, const struct observe_role *role,
			     struct pgiso_observation *obs, bool *ret_exists, struct tnd_error *err)
{
	const struct pgiso_request *req = admin->req;
	struct observe_database db;
	struct pgiso_conn conn;
	long schemas = 0, tables = 0;
	bool create, public_schema;
	int r;

	r = observe_database(admin, req->role, true, obs, &db, &create, err);
	*ret_exists = r == 0 && db.exists;
	if (r < 0 || !db.open)
		return r;
	r = observe_connect(admin, req->role, &conn, err);
	if (r < 0)
		return r;
	r = observe_schema(&conn, "public", req->role, obs, &public_schema, err);
	if (r == 0 && role->exists)
		r = observe_writes(&conn, NULL, &schemas, &tables, err);
	if (r == 0 && role->exists && req->state != PGISO_STATE_DELETED) {
		char where[PGISO_NAME_MAX + 16];
		snprintf(where, sizeof(where), "database %s", req->role);
		observe_judge_writes(req, where, schemas, tables, create, obs);
	}
	pgiso_disconnect(&conn);
	return r;
}

int pgiso_observe_collect(struct pgiso_conn *admin, struct pgiso_observation *obs, struct tnd_error *err)
{
	struct observe_role role = { 0 };
	bool schema = true, database = true;
	int r;

	memset(obs, 0, sizeof(*obs));
	r = pgiso_exec(admin, "making the session read-only", "SET default_transaction_read_only = on", err);
	if (r == 0)
		r = observe_role(admin, obs, &role, err);
	if (r == 0 && (admin->ctx->mode & PGISO_SCHEMA))
		r = observe_shared(admin, &role, obs, &schema, err);
	if (r == 0 && (admin->ctx->mode & PGISO_DATABASE))
		r = observe_dedicated(admin, &role, obs, &database, err);
	if (r < 0)
		return r;
	obs->login = role.exists && role.login;
	obs->exists = role.exists && schema && database;
	obs->anything = role.exists || ((admin->ctx->mode & PGISO_SCHEMA) && schema) ||
			((admin->ctx->mode & PGISO_DATABASE) && database);
	return 0;
}
