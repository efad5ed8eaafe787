/*
 * pg_database.c — the tenant's own database t_<id> (dedicated_db, and
 * hybrid's data database): creating it owned by the tenant's role, its
 * database-level and public-schema grants, revoking writes on archive,
 * dropping it on destroy.  CREATE and DROP DATABASE cannot run inside a
 * transaction block, so they run alone; everything after them is a
 * transaction, and each step can be repeated.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_common.h"

/* The database's owner, "" when it does not exist. */
static int database_owner(struct pgiso_conn *admin, char owner[PGISO_NAME_MAX + 1], struct tnd_error *err)
{
	const char *params[1] = { admin->req->role };
	PGresult *res;
	int r;

	r = pgiso_query(admin, "looking up the tenant's database",
			"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", 1, params, &res, err);
	if (r < 0)
		return r;
	snprintf(owner, PGISO_NAME_MAX + 1, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return 0;
}

/* Inside the tenant's database: its public schema is the tenant's alone.
 * PostgreSQL 15 makes pg_database_owner own it, and the tenant, owning
 * the database, would hold CREATE there through that membership whatever
 * was revoked from it; so the tenant owns it directly. */
static int database_grants_inside(struct pgiso_conn *admin, bool writable, struct tnd_error *err)
{
	const char *params[1] = { "public" };
	struct pgiso_conn conn;
	PGresult *res = NULL;
	char *role;
	int r;

	r = pgiso_connect(admin->ctx, admin->req, admin->req->role, &conn, err);
	if (r < 0)
		return r;
	role = pgiso_ident(&conn, conn.req->role, err);
	if (role == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = pgiso_begin(&conn, err);
	if (r == 0)
		r = pgiso_query(&conn, "looking up schema public",
				"SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1", 1, params, &res,
				err);
	if (r == 0 && PQntuples(res) == 0)
		r = pgiso_execf(&conn, "creating schema public", err, "CREATE SCHEMA public AUTHORIZATION %s", role);
	else if (r == 0 && strcmp(PQgetvalue(res, 0, 0), conn.req->role) != 0)
		r = pgiso_execf(&conn, "giving schema public to the tenant", err, "ALTER SCHEMA public OWNER TO %s",
				role);
	PQclear(res);
	if (r == 0)
		r = pgiso_execf(&conn, "granting schema public", err,
				"REVOKE ALL ON SCHEMA public FROM PUBLIC; GRANT USAGE ON SCHEMA public TO %s", role);
	if (r == 0)
		r = pgiso_default_privileges(&conn, writable, err);
	if (r == 0)
		r = pgiso_table_writes(&conn, NULL, writable, err);
	if (r == 0)
		r = pgiso_commit(&conn, err);
	else
		pgiso_rollback(&conn);
out:
	PQfreemem(role);
	pgiso_disconnect(&conn);
	return r;
}

/* REVOKE CREATE (new schemas) and TEMPORARY on the database itself. */
static int database_revoke_create(struct pgiso_conn *admin, const char *role, struct tnd_error *err)
{
	return pgiso_execf(admin, "revoking CREATE on the tenant's database", err,
			   "REVOKE CREATE, TEMPORARY ON DATABASE %s FROM %s", role, role);
}

int pgiso_database_ensure(struct pgiso_conn *admin, bool writable, struct tnd_error *err)
{
	char owner[PGISO_NAME_MAX + 1];
	char *role;
	int r;

	role = pgiso_ident(admin, admin->req->role, err);
	if (role == NULL)
		return -ENOMEM;
	r = database_owner(admin, owner, err);
	if (r < 0)
		goto out;
	if (owner[0] == '\0') {
		/* born closed: nobody connects before PUBLIC has lost CONNECT */
		r = pgiso_execf(admin, "creating the tenant's database", err,
				"CREATE DATABASE %s OWNER %s ALLOW_CONNECTIONS false", role, role);
		if (r < 0)
			goto out;
	} else if (strcmp(owner, admin->req->role) != 0) {
		r = pgiso_execf(admin, "correcting the database's owner", err, "ALTER DATABASE %s OWNER TO %s", role,
				role);
		if (r < 0)
			goto out;
	}
	/* CREATE on the database stays until the inside is done: a non-superuser
	 * admin can only give schema public to a role that has it */
	r = pgiso_begin(admin, err);
	if (r == 0)
		r = pgiso_execf(admin, "granting the tenant's database", err,
				"REVOKE ALL ON DATABASE %s FROM PUBLIC; "
				"GRANT CONNECT, TEMPORARY, CREATE ON DATABASE %s TO %s; "
				"ALTER DATABASE %s ALLOW_CONNECTIONS true",
				role, role, role, role);
	if (r == 0)
		r = pgiso_commit(admin, err);
	else
		pgiso_rollback(admin);
	if (r == 0)
		r = database_grants_inside(admin, writable, err);
	if (r == 0 && !writable)
		r = database_revoke_create(admin, role, err);
out:
	PQfreemem(role);
	return r;
}

int pgiso_database_revoke_writes(struct pgiso_conn *admin, struct tnd_error *err)
{
	char owner[PGISO_NAME_MAX + 1];
	char *role;
	int r;

	r = database_owner(admin, owner, err);
	if (r < 0 || owner[0] == '\0')
		return r; /* nothing there to write to; observe reports what is missing */
	role = pgiso_ident(admin, admin->req->role, err);
	if (role == NULL)
		return -ENOMEM;
	/* the inside first, then no new schemas and no temporary tables */
	r = database_grants_inside(admin, false, err);
	if (r == 0)
		r = database_revoke_create(admin, role, err);
	PQfreemem(role);
	return r;
}

int pgiso_database_drop(struct pgiso_conn *admin, struct tnd_error *err)
{
	char *role = pgiso_ident(admin, admin->req->role, err);
	int r;

	if (role == NULL)
		return -ENOMEM;
	/* WITH (FORCE) (PostgreSQL 13) ends sessions that raced the NOLOGIN */
	r = pgiso_execf(admin, "dropping the tenant's database", err, "DROP DATABASE IF EXISTS %s%s", role,
			admin->server_version >= 130000 ? " WITH (FORCE)" : "");
	PQfreemem(role);
	return r;
}
