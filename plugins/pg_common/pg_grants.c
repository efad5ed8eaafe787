/*
 * pg_grants.c — the privileges a tenant's role holds inside one of its
 * databases, shared by the schema (shared database) and database
 * (dedicated) steps: default privileges for what the role creates, and
 * write privileges on its tables and schemas, granted for an active or
 * suspended tenant and revoked for an archived one.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_common.h"

int pgiso_default_privileges(struct pgiso_conn *conn, bool writable, struct tnd_error *err)
{
	char *role = pgiso_ident(conn, conn->req->role, err);
	int r;

	if (role == NULL)
		return -ENOMEM;
	/* PostgreSQL grants EXECUTE on new functions and USAGE on new types to
	 * PUBLIC; nothing a tenant creates should reach other roles by default */
	r = pgiso_execf(conn, "setting default privileges", err,
			"ALTER DEFAULT PRIVILEGES FOR ROLE %s REVOKE ALL ON TABLES FROM PUBLIC; "
			"ALTER DEFAULT PRIVILEGES FOR ROLE %s REVOKE ALL ON SEQUENCES FROM PUBLIC; "
			"ALTER DEFAULT PRIVILEGES FOR ROLE %s REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC; "
			"ALTER DEFAULT PRIVILEGES FOR ROLE %s REVOKE USAGE ON TYPES FROM PUBLIC; "
			"ALTER DEFAULT PRIVILEGES FOR ROLE %s %s INSERT, UPDATE, DELETE, TRUNCATE ON TABLES %s %s",
			role, role, role, role, role, writable ? "GRANT" : "REVOKE", writable ? "TO" : "FROM", role);
	PQfreemem(role);
	return r;
}

static int grants_schema_writes(struct pgiso_conn *conn, const char *role, const char *schema, bool writable,
				struct tnd_error *err)
{
	char *name = pgiso_ident(conn, schema, err);
	int r;

	if (name == NULL)
		return -ENOMEM;
	if (writable)
		r = pgiso_execf(conn, "granting write privileges", err,
				"GRANT USAGE, CREATE ON SCHEMA %s TO %s; "
				"GRANT INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA %s TO %s; "
				"GRANT USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA %s TO %s",
				name, role, name, role, name, role);
	else
		/* reads stay: archived data is kept readable for the admin and,
		 * should login be re-enabled by hand, for the tenant */
		r = pgiso_execf(conn, "revoking write privileges", err,
				"GRANT USAGE ON SCHEMA %s TO %s; "
				"REVOKE CREATE ON SCHEMA %s FROM %s; "
				"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA %s FROM %s; "
				"REVOKE USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA %s FROM %s",
				name, role, name, role, name, role, name, role);
	PQfreemem(name);
	return r;
}

int pgiso_table_writes(struct pgiso_conn *conn, const char *schema, bool writable, struct tnd_error *err)
{
	const char *params[1] = { conn->req->role };
	char *role;
	PGresult *res = NULL;
	int r = 0;

	role = pgiso_ident(conn, conn->req->role, err);
	if (role == NULL)
		return -ENOMEM;
	if (schema != NULL) {
		r = grants_schema_writes(conn, role, schema, writable, err);
		goto out;
	}
	/* the tenant's own database: public and every schema the role made */
	r = pgiso_query(conn, "listing the tenant's schemas",
			"SELECT nspname FROM pg_namespace WHERE nspname = 'public' "
			"OR nspowner = (SELECT oid FROM pg_roles WHERE rolname = $1) ORDER BY 1",
			1, params, &res, err);
	for (int i = 0; r == 0 && i < PQntuples(res); i++)
		r = grants_schema_writes(conn, role, PQgetvalue(res, i, 0), writable, err);
	PQclear(res);
out:
	PQfreemem(role);
	return r;
}
