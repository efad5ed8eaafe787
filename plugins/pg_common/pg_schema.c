/*
 * pg_schema.c — the tenant's schema t_<id> in the region's shared database
 * (shared_schema, and hybrid's control schema): the shared database itself
 * and its hardening, the schema with its owner and grants, revoking writes
 * on archive, dropping it on destroy.  Every transaction here that changes
 * the shared database's ACLs holds pgiso_lock_shared_acl(), because
 * workers provision different tenants in it at the same time.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_common.h"

/* *ret_state: 0 no shared database, 1 it exists but takes no connections
 * (pgiso_shared_db_ensure() stopped half-way), 2 it is ready. */
static int schema_shared_db_state(struct pgiso_conn *admin, int *ret_state, struct tnd_error *err)
{
	const char *params[1] = { admin->req->shared_database };
	PGresult *res;
	int r;

	r = pgiso_query(admin, "looking up the shared database",
			"SELECT datallowconn FROM pg_database WHERE datname = $1", 1, params, &res, err);
	if (r < 0)
		return r;
	*ret_state = PQntuples(res) == 0 ? 0 : strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? 2 : 1;
	PQclear(res);
	return 0;
}

static int schema_shared_db_exists(struct pgiso_conn *admin, bool *ret_exists, struct tnd_error *err)
{
	int state, r;

	r = schema_shared_db_state(admin, &state, err);
	if (r == 0)
		*ret_exists = state > 0;
	return r;
}

int pgiso_shared_db_ensure(struct pgiso_conn *admin, struct tnd_error *err)
{
	char *database;
	int state, r;

	r = schema_shared_db_state(admin, &state, err);
	if (r < 0 || state == 2)
		return r;
	database = pgiso_ident(admin, admin->req->shared_database, err);
	if (database == NULL)
		return -ENOMEM;
	/* Born closed, so that nobody connects before PUBLIC has lost CONNECT.
	 * CREATE DATABASE runs outside a transaction block; another worker
	 * may create it at the same moment, which is just as good.  Nobody can
	 * change its ACL while it takes no connections, so no lock is needed. */
	if (state == 0) {
		r = pgiso_execf(admin, "creating the shared database", err, "CREATE DATABASE %s ALLOW_CONNECTIONS false",
				database);
		if (r < 0 && strcmp(pgiso_last_sqlstate(admin), "42P04") == 0)
			r = 0;
	}
	if (r == 0)
		r = pgiso_begin(admin, err);
	if (r == 0) {
		r = pgiso_execf(admin, "opening the shared database", err,
				"REVOKE CONNECT, TEMPORARY ON DATABASE %s FROM PUBLIC; "
				"ALTER DATABASE %s ALLOW_CONNECTIONS true",
				database, database);
		if (r == 0)
			r = pgiso_commit(admin, err);
		else
			pgiso_rollback(admin);
	}
	if (r == 0)
		admin->ctx->host->log(admin->ctx->host, TND_LOG_NOTICE, "shared database %s is ready",
				      admin->req->shared_database);
	PQfreemem(database);
	return r;
}

/* The schema's owner, "" when it does not exist. */
static int schema_owner(struct pgiso_conn *conn, char owner[PGISO_NAME_MAX + 1], struct tnd_error *err)
{
	const char *params[1] = { conn->req->role };
	PGresult *res;
	int r;

	r = pgiso_query(conn, "looking up the schema",
			"SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1", 1, params, &res,
			err);
	if (r < 0)
		return r;
	snprintf(owner, PGISO_NAME_MAX + 1, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return 0;
}

static int schema_ensure_in(struct pgiso_conn *conn, const char *role, const char *database, bool writable,
			    struct tnd_error *err)
{
	char owner[PGISO_NAME_MAX + 1];
	int r;

	r = pgiso_lock_shared_acl(conn, err);
	if (r < 0)
		return r;
	/* the shared database: only tenants' roles connect, nobody creates in public */
	r = pgiso_execf(conn, "hardening the shared database", err,
			"REVOKE CONNECT, TEMPORARY ON DATABASE %s FROM PUBLIC; "
			"REVOKE ALL ON SCHEMA public FROM PUBLIC; "
			"GRANT CONNECT ON DATABASE %s TO %s; "
			"REVOKE CREATE ON DATABASE %s FROM %s",
			database, database, role, database, role);
	if (r < 0)
		return r;
	r = schema_owner(conn, owner, err);
	if (r < 0)
		return r;
	if (owner[0] == '\0')
		r = pgiso_execf(conn, "creating the schema", err, "CREATE SCHEMA %s AUTHORIZATION %s", role, role);
	else if (strcmp(owner, conn->req->role) != 0)
		r = pgiso_execf(conn, "correcting the schema's owner", err, "ALTER SCHEMA %s OWNER TO %s", role,
				role);
	if (r < 0)
		return r;
	r = pgiso_execf(conn, "granting the schema", err,
			"REVOKE ALL ON SCHEMA %s FROM PUBLIC; "
			"ALTER ROLE %s IN DATABASE %s SET search_path = %s",
			role, role, database, role);
	if (r < 0)
		return r;
	r = pgiso_default_privileges(conn, writable, err);
	if (r < 0)
		return r;
	return pgiso_table_writes(conn, conn->req->role, writable, err);
}

int pgiso_schema_ensure(struct pgiso_conn *admin, bool writable, struct tnd_error *err)
{
	struct pgiso_conn conn;
	char *role = NULL, *database = NULL;
	int r;

	r = pgiso_connect(admin->ctx, admin->req, admin->req->shared_database, &conn, err);
	if (r < 0)
		return r;
	role = pgiso_ident(&conn, conn.req->role, err);
	database = pgiso_ident(&conn, conn.req->shared_database, err);
	if (role == NULL || database == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = pgiso_begin(&conn, err);
	if (r < 0)
		goto out;
	r = schema_ensure_in(&conn, role, database, writable, err);
	if (r == 0)
		r = pgiso_commit(&conn, err);
	else
		pgiso_rollback(&conn);
out:
	PQfreemem(role);
	PQfreemem(database);
	pgiso_disconnect(&conn);
	return r;
}

int pgiso_schema_revoke_writes(struct pgiso_conn *admin, struct tnd_error *err)
{
	char owner[PGISO_NAME_MAX + 1];
	struct pgiso_conn conn;
	bool exists = false;
	int r;

	r = schema_shared_db_exists(admin, &exists, err);
	if (r < 0 || !exists)
		return r; /* nothing there to write to; observe reports what is missing */
	r = pgiso_connect(admin->ctx, admin->req, admin->req->shared_database, &conn, err);
	if (r < 0)
		return r;
	r = pgiso_begin(&conn, err);
	if (r < 0)
		goto out;
	r = schema_owner(&conn, owner, err);
	if (r == 0 && owner[0] != '\0')
		r = pgiso_default_privileges(&conn, false, err);
	if (r == 0 && owner[0] != '\0')
		r = pgiso_table_writes(&conn, conn.req->role, false, err);
	if (r == 0)
		r = pgiso_commit(&conn, err);
	else
		pgiso_rollback(&conn);
out:
	pgiso_disconnect(&conn);
	return r;
}

int pgiso_schema_drop(struct pgiso_conn *admin, struct tnd_error *err)
{
	struct pgiso_conn conn;
	char *role = NULL;
	bool exists = false, role_exists = false;
	int r;

	r = schema_shared_db_exists(admin, &exists, err);
	if (r < 0 || !exists)
		return r;
	r = pgiso_connect(admin->ctx, admin->req, admin->req->shared_database, &conn, err);
	if (r < 0)
		return r;
	role = pgiso_ident(&conn, conn.req->role, err);
	if (role == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = pgiso_begin(&conn, err);
	if (r == 0)
		r = pgiso_lock_shared_acl(&conn, err);
	if (r == 0)
		r = pgiso_execf(&conn, "dropping the schema", err, "DROP SCHEMA IF EXISTS %s CASCADE", role);
	if (r == 0)
		r = pgiso_role_exists(&conn, &role_exists, err);
	/* its CONNECT grant and default privileges here, under the lock */
	if (r == 0 && role_exists)
		r = pgiso_execf(&conn, "dropping what the role owns", err, "DROP OWNED BY %s", role);
	if (r == 0)
		r = pgiso_commit(&conn, err);
	else
		pgiso_rollback(&conn);
out:
	PQfreemem(role);
	pgiso_disconnect(&conn);
	return r;
}
