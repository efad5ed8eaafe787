/*
 * pg_role.c — the tenant's login role t_<id>: creating or correcting it
 * (password sent only as a SCRAM verifier, connection limit, no elevated
 * attributes), LOGIN on and off, ending its sessions in every database,
 * the archive mark in its comment, and dropping it with everything it owns.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_common.h"

/* How long suspend/archive/destroy wait for a role's sessions to end. */
#define ROLE_TERMINATE_TIMEOUT_US (10 * 1000 * 1000)

static const char role_lookup_sql[] = "SELECT oid FROM pg_roles WHERE rolname = $1";

int pgiso_role_exists(struct pgiso_conn *admin, bool *ret_exists, struct tnd_error *err)
{
	const char *params[1] = { admin->req->role };
	PGresult *res;
	int r;

	r = pgiso_query(admin, "looking up the role", role_lookup_sql, 1, params, &res, err);
	if (r < 0)
		return r;
	*ret_exists = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

/* A non-superuser admin (CREATEROLE + CREATEDB) acts on a tenant's objects
 * through membership in the tenant's role, which CREATEROLE may grant. */
static int role_admin_membership(struct pgiso_conn *admin, const char *role_ident, struct tnd_error *err)
{
	const char *params[1] = { admin->req->role };
	PGresult *res;
	bool member;
	int r;

	if (admin->superuser)
		return 0;
	r = pgiso_query(admin, "checking the admin's membership", "SELECT pg_has_role(current_user, $1, 'MEMBER')",
			1, params, &res, err);
	if (r < 0)
		return r;
	member = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (member)
		return 0;
	return pgiso_execf(admin, "granting the admin membership in the role", err, "GRANT %s TO CURRENT_USER",
			   role_ident);
}

int pgiso_role_ensure(struct pgiso_conn *admin, bool login, struct tnd_error *err)
{
	const struct pgiso_request *req = admin->req;
	char *verifier = NULL, *role = NULL, *password = NULL;
	char limit[16];
	bool exists;
	int r;

	/* the server (and its statement log) sees a SCRAM verifier, never the password */
	verifier = PQencryptPasswordConn(admin->pg, req->password, req->role, "scram-sha-256");
	if (verifier == NULL) {
		tnd_error_set(err, "computing the password verifier: %s", PQerrorMessage(admin->pg));
		return -EIO;
	}
	role = pgiso_ident(admin, req->role, err);
	password = pgiso_literal(admin, verifier, err);
	if (role == NULL || password == NULL) {
		r = -ENOMEM;
		goto out;
	}
	snprintf(limit, sizeof(limit), "%d", req->connection_limit);
	r = pgiso_begin(admin, err);
	if (r < 0)
		goto out;
	r = pgiso_role_exists(admin, &exists, err);
	if (r < 0)
		goto rollback;
	if (!exists)
		r = pgiso_execf(admin, "creating the role", err,
				"CREATE ROLE %s %s NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
				"CONNECTION LIMIT %s PASSWORD %s",
				role, login ? "LOGIN" : "NOLOGIN", limit, password);
	else
		/* only a superuser may even name SUPERUSER, REPLICATION or BYPASSRLS
		 * in ALTER ROLE; observe reports them when set */
		r = pgiso_execf(admin, "correcting the role", err,
				"ALTER ROLE %s %s %s NOCREATEDB NOCREATEROLE CONNECTION LIMIT %s PASSWORD %s", role,
				login ? "LOGIN" : "NOLOGIN",
				admin->superuser ? "NOSUPERUSER NOREPLICATION NOBYPASSRLS" : "", limit, password);
	if (r < 0)
		goto rollback;
	r = role_admin_membership(admin, role, err);
	if (r < 0)
		goto rollback;
	r = pgiso_commit(admin, err);
	goto out;
rollback:
	pgiso_rollback(admin);
out:
	explicit_bzero(verifier, strlen(verifier));
	PQfreemem(verifier);
	if (password != NULL)
		explicit_bzero(password, strlen(password));
	PQfreemem(password);
	PQfreemem(role);
	return r;
}

int pgiso_role_set_login(struct pgiso_conn *admin, bool login, struct tnd_error *err)
{
	char *role;
	bool exists;
	int r;

	r = pgiso_role_exists(admin, &exists, err);
	if (r < 0)
		return r;
	if (!exists) {
		tnd_error_set(err, "role %s does not exist: the tenant was never provisioned here", admin->req->role);
		return -ENOENT;
	}
	role = pgiso_ident(admin, admin->req->role, err);
	if (role == NULL)
		return -ENOMEM;
	r = pgiso_execf(admin, login ? "enabling login" : "disabling login", err, "ALTER ROLE %s %s", role,
			login ? "LOGIN" : "NOLOGIN");
	PQfreemem(role);
	return r;
}

int pgiso_role_terminate_sessions(struct pgiso_conn *admin, struct tnd_error *err)
{
	const struct tnd_host *host = admin->ctx->host;
	const char *params[1] = { admin->req->role };
	/* the sessions are listed first (MATERIALIZED), then each is ended;
	 * PostgreSQL 14 can wait for each backend to be gone */
	const char *sql = admin->server_version >= 140000
				  ? "WITH s AS MATERIALIZED (SELECT pid FROM pg_stat_activity "
				    "WHERE usesysid = (SELECT oid FROM pg_roles WHERE rolname = $1) "
				    "AND pid <> pg_backend_pid()) "
				    "SELECT count(pg_terminate_backend(pid, 1000)) FROM s"
				  : "WITH s AS MATERIALIZED (SELECT pid FROM pg_stat_activity "
				    "WHERE usesysid = (SELECT oid FROM pg_roles WHERE rolname = $1) "
				    "AND pid <> pg_backend_pid()) "
				    "SELECT count(pg_terminate_backend(pid)) FROM s";
	int64_t deadline = host->clock_monotonic_us(host) + ROLE_TERMINATE_TIMEOUT_US;
	long total = 0;

	/* each round sees a fresh pg_stat_activity; done when a round finds none */
	for (;;) {
		PGresult *res;
		long found;
		int r;

		r = pgiso_query(admin, "ending the role's sessions", sql, 1, params, &res, err);
		if (r < 0)
			return r;
		found = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (found == 0)
			break;
		total += found;
		if (host->clock_monotonic_us(host) > deadline) {
			tnd_error_set(err, "%ld session(s) of role %s did not end within %d s", found, admin->req->role,
				      ROLE_TERMINATE_TIMEOUT_US / 1000000);
			return -EAGAIN;
		}
		if (admin->server_version < 140000)
			nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
	}
	if (total > 0)
		host->log(host, TND_LOG_INFO, "ended %ld session(s) of role %s", total, admin->req->role);
	return 0;
}

static void role_format_time(int64_t ms, char out[32])
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&seconds, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + strlen(out), 32 - strlen(out), ".%03dZ", (int)(ms % 1000));
}

int pgiso_role_mark_archived(struct pgiso_conn *admin, struct tnd_error *err)
{
	const struct tnd_host *host = admin->ctx->host;
	const char *params[1] = { admin->req->role };
	char when[32], comment[96];
	char *role = NULL, *literal = NULL;
	PGresult *res;
	int r;

	r = pgiso_query(admin, "reading the role's comment",
			"SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", 1, params,
			&res, err);
	if (r < 0)
		return r;
	/* keep the first archive time: a repair re-runs archive */
	if (PQntuples(res) > 0 && strstr(PQgetvalue(res, 0, 0), "\"archivedAt\"") != NULL) {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	role_format_time(host->clock_realtime_ms(host), when);
	snprintf(comment, sizeof(comment), "{\"archivedAt\": \"%s\"}", when);
	role = pgiso_ident(admin, admin->req->role, err);
	literal = pgiso_literal(admin, comment, err);
	if (role == NULL || literal == NULL)
		r = -ENOMEM;
	else
		r = pgiso_execf(admin, "recording the archive time", err, "COMMENT ON ROLE %s IS %s", role, literal);
	PQfreemem(role);
	PQfreemem(literal);
	return r;
}

/* DROP OWNED BY in database @database (NULL: the admin connection's).  In
 * the shared database it holds the ACL lock: it revokes CONNECT there. */
static int role_drop_owned_in(struct pgiso_conn *admin, const char *database, const char *role,
			      struct tnd_error *err)
{
	struct pgiso_conn other = { 0 }, *conn = admin;
	bool shared = database != NULL && strcmp(database, admin->req->shared_database) == 0;
	int r;

	if (database != NULL) {
		r = pgiso_connect(admin->ctx, admin->req, database, &other, err);
		if (r < 0)
			return r;
		conn = &other;
	}
	r = pgiso_begin(conn, err);
	if (r == 0 && shared)
		r = pgiso_lock_shared_acl(conn, err);
	if (r == 0)
		r = pgiso_execf(conn, "dropping what the role owns", err, "DROP OWNED BY %s", role);
	if (r == 0)
		r = pgiso_commit(conn, err);
	else
		pgiso_rollback(conn);
	pgiso_disconnect(&other);
	return r;
}

int pgiso_role_drop(struct pgiso_conn *admin, struct tnd_error *err)
{
	const char *params[1] = { admin->req->role };
	char *role;
	PGresult *res;
	bool exists;
	int r;

	r = pgiso_role_exists(admin, &exists, err);
	if (r < 0 || !exists)
		return r;
	role = pgiso_ident(admin, admin->req->role, err);
	if (role == NULL)
		return -ENOMEM;
	/* every other database where the role still owns objects or holds privileges */
	r = pgiso_query(admin, "finding the databases the role touched",
			"SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid "
			"WHERE s.refclassid = 'pg_authid'::regclass "
			"AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1) "
			"AND d.datallowconn AND d.datname <> current_database() ORDER BY 1",
			1, params, &res, err);
	if (r < 0)
		goto out;
	for (int i = 0; i < PQntuples(res) && r == 0; i++)
		r = role_drop_owned_in(admin, PQgetvalue(res, i, 0), role, err);
	PQclear(res);
	/* and here, which also revokes its privileges on shared objects */
	if (r == 0)
		r = role_drop_owned_in(admin, NULL, role, err);
	if (r == 0)
		r = pgiso_execf(admin, "dropping the role", err, "DROP ROLE IF EXISTS %s", role);
out:
	PQfreemem(role);
	return r;
}
