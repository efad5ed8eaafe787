/*
 * pg_conn.c — admin connections and statements: connecting with the
 * request's conninfo (one connection per database an op needs, opened and
 * closed by the op: no cache, so no state is shared between threads and a
 * broken connection never outlives its op), quoting, running statements,
 * and turning PostgreSQL errors into an errno and one line of detail that
 * never holds a secret or the SQL text.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_common.h"

/* pg_advisory_xact_lock key for the shared database's ACLs ("tndA"). */
#define CONN_SHARED_ACL_LOCK_KEY "1953391681"

/* Copy @raw into @out on one line, with every occurrence of the secrets
 * of @req replaced by "***". */
static void conn_scrub(const struct pgiso_request *req, const char *raw, char *out, size_t cap)
{
	const char *secrets[2] = { req ? req->conninfo_password : NULL, req ? req->password : NULL };
	size_t o = 0;

	if (cap == 0)
		return;
	while (*raw != '\0' && o + 1 < cap) {
		size_t skip = 0;

		for (size_t i = 0; i < 2 && skip == 0; i++) {
			size_t n = secrets[i] ? strlen(secrets[i]) : 0;
			if (n > 0 && strncmp(raw, secrets[i], n) == 0)
				skip = n;
		}
		if (skip > 0) {
			for (const char *m = "***"; *m != '\0' && o + 1 < cap; m++)
				out[o++] = *m;
			raw += skip;
			continue;
		}
		out[o++] = (*raw == '\n' || *raw == '\r' || *raw == '\t') ? ' ' : *raw;
		raw++;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

static void conn_notice(void *arg, const PGresult *res)
{
	const struct pgiso_ctx *ctx = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	char line[512];

	/* libpq would print notices on stderr; a plugin never prints */
	conn_scrub(NULL, message ? message : "", line, sizeof(line));
	ctx->host->log(ctx->host, severity && strcmp(severity, "WARNING") == 0 ? TND_LOG_WARNING : TND_LOG_DEBUG,
		       "postgresql %s: %s", severity ? severity : "notice", line);
}

static void conn_param(const char **keys, const char **values, size_t *n, const char *key, const char *value)
{
	keys[*n] = key;
	values[*n] = value;
	(*n)++;
}

int pgiso_connect(const struct pgiso_ctx *ctx, const struct pgiso_request *req, const char *database,
		  struct pgiso_conn *ret_conn, struct tnd_error *err)
{
	const char *keys[6], *values[6];
	char timeout[16], setup[128], message[512];
	struct pgiso_conn conn = { .ctx = ctx, .req = req };
	const char *superuser;
	size_t n = 0;
	int r;

	snprintf(timeout, sizeof(timeout), "%d", ctx->connect_timeout_s);
	/* the first dbname is expanded as a connection string; a later one
	 * names the database and overrides the string's */
	conn_param(keys, values, &n, "dbname", req->conninfo);
	if (database != NULL)
		conn_param(keys, values, &n, "dbname", database);
	conn_param(keys, values, &n, "application_name", ctx->application_name);
	conn_param(keys, values, &n, "connect_timeout", timeout);
	conn_param(keys, values, &n, NULL, NULL);

	conn.pg = PQconnectdbParams(keys, values, 1);
	if (conn.pg == NULL) {
		tnd_error_set(err, "connecting to PostgreSQL: out of memory");
		return -ENOMEM;
	}
	snprintf(conn.database, sizeof(conn.database), "%s", database ? database : "");
	if (PQstatus(conn.pg) != CONNECTION_OK) {
		conn_scrub(req, PQerrorMessage(conn.pg), message, sizeof(message));
		tnd_error_set(err, "connecting to PostgreSQL%s%s: %s", database ? " database " : "",
			      database ? database : "", message);
		PQfinish(conn.pg);
		return -EAGAIN;
	}
	PQsetNoticeReceiver(conn.pg, conn_notice, (void *)ctx);
	superuser = PQparameterStatus(conn.pg, "is_superuser");
	conn.superuser = superuser != NULL && strcmp(superuser, "on") == 0;
	conn.server_version = PQserverVersion(conn.pg);
	snprintf(setup, sizeof(setup), "SET statement_timeout = %d; SET client_min_messages = warning",
		 ctx->statement_timeout_ms);
	r = pgiso_exec(&conn, "setting up the session", setup, err);
	if (r < 0) {
		PQfinish(conn.pg);
		return r;
	}
	*ret_conn = conn;
	return 0;
}

void pgiso_disconnect(struct pgiso_conn *conn)
{
	if (conn->pg != NULL)
		PQfinish(conn->pg);
	conn->pg = NULL;
}

/* Which errno a failed statement means to the orchestrator: -EAGAIN for
 * what a retry can cure (lost connection, timeouts, lock and serialization
 * conflicts, a concurrent creator of the same object), -EACCES for missing
 * admin privileges, -EIO for the rest. */
static int conn_errno(const char *sqlstate, const char *primary, ConnStatusType status)
{
	static const char *const transient[] = {
		"55P03", /* lock_not_available */
		"55006", /* object_in_use: a database still has sessions */
		"57014", /* query_canceled: statement_timeout */
		"23505", /* unique_violation: a catalog row inserted concurrently */
		"42710", /* duplicate_object: a role created concurrently */
		"42P04", /* duplicate_database */
		"42P06", /* duplicate_schema */
	};

	if (status != CONNECTION_OK || sqlstate == NULL)
		return -EAGAIN;
	/* 08 connection, 40 transaction rollback, 53 resources, 57P admin shutdown */
	if (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "40", 2) == 0 ||
	    strncmp(sqlstate, "53", 2) == 0 || strncmp(sqlstate, "57P", 3) == 0)
		return -EAGAIN;
	for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
		if (strcmp(sqlstate, transient[i]) == 0)
			return -EAGAIN;
	if (strcmp(sqlstate, "42501") == 0)
		return -EACCES;
	/* two GRANTs on one catalog row at once: the loser may simply retry */
	if (primary != NULL && strstr(primary, "tuple concurrently updated") != NULL)
		return -EAGAIN;
	return -EIO;
}

/* Detail for a failed statement: never the SQL text, which may hold a
 * password verifier (PQerrorMessage would quote it as "LINE 1: ..."). */
static int conn_fail(struct pgiso_conn *conn, const PGresult *res, const char *what, struct tnd_error *err)
{
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	char message[320], extra[192] = "";

	if (primary != NULL) {
		conn_scrub(conn->req, primary, message, sizeof(message));
	} else {
		/* a client-side error (lost connection): its first line only */
		char first[320];
		snprintf(first, sizeof(first), "%s", PQerrorMessage(conn->pg));
		first[strcspn(first, "\n")] = '\0';
		conn_scrub(conn->req, first, message, sizeof(message));
	}
	if (detail != NULL)
		conn_scrub(conn->req, detail, extra, sizeof(extra));
	tnd_error_set(err, "%s%s%s: %s%s%s%s [SQLSTATE %s]", what, conn->database[0] ? " in database " : "",
		      conn->database, message, extra[0] ? " (" : "", extra, extra[0] ? ")" : "",
		      sqlstate ? sqlstate : "none");
	snprintf(conn->last_sqlstate, sizeof(conn->last_sqlstate), "%s", sqlstate ? sqlstate : "");
	return conn_errno(sqlstate, primary, PQstatus(conn->pg));
}

static int conn_result(struct pgiso_conn *conn, PGresult *res, const char *what, PGresult **ret_res,
		       struct tnd_error *err)
{
	ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int r;

	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
		conn->last_sqlstate[0] = '\0';
		if (ret_res != NULL)
			*ret_res = res;
		else
			PQclear(res);
		return 0;
	}
	r = conn_fail(conn, res, what, err);
	PQclear(res);
	return r;
}

int pgiso_exec(struct pgiso_conn *conn, const char *what, const char *sql, struct tnd_error *err)
{
	return conn_result(conn, PQexec(conn->pg, sql), what, NULL, err);
}

int pgiso_execf(struct pgiso_conn *conn, const char *what, struct tnd_error *err, const char *fmt, ...)
{
	va_list ap;
	char *sql = NULL;
	int n, r;

	va_start(ap, fmt);
	n = vasprintf(&sql, fmt, ap);
	va_end(ap);
	if (n < 0) {
		tnd_error_set(err, "%s: out of memory", what);
		return -ENOMEM;
	}
	r = pgiso_exec(conn, what, sql, err);
	/* it may have carried a password verifier */
	explicit_bzero(sql, (size_t)n);
	free(sql);
	return r;
}

int pgiso_query(struct pgiso_conn *conn, const char *what, const char *sql, int n_params,
		const char *const *params, PGresult **ret_res, struct tnd_error *err)
{
	PGresult *res = PQexecParams(conn->pg, sql, n_params, NULL, params, NULL, NULL, 0);

	return conn_result(conn, res, what, ret_res, err);
}

int pgiso_begin(struct pgiso_conn *conn, struct tnd_error *err)
{
	return pgiso_exec(conn, "BEGIN", "BEGIN", err);
}

int pgiso_commit(struct pgiso_conn *conn, struct tnd_error *err)
{
	return pgiso_exec(conn, "COMMIT", "COMMIT", err);
}

void pgiso_rollback(struct pgiso_conn *conn)
{
	PQclear(PQexec(conn->pg, "ROLLBACK"));
}

const char *pgiso_last_sqlstate(const struct pgiso_conn *conn)
{
	return conn->last_sqlstate;
}

char *pgiso_ident(struct pgiso_conn *conn, const char *name, struct tnd_error *err)
{
	char *quoted = PQescapeIdentifier(conn->pg, name, strlen(name));

	if (quoted == NULL)
		tnd_error_set(err, "quoting identifier \"%s\": %s", name, PQerrorMessage(conn->pg));
	return quoted;
}

char *pgiso_literal(struct pgiso_conn *conn, const char *value, struct tnd_error *err)
{
	char *quoted = PQescapeLiteral(conn->pg, value, strlen(value));

	if (quoted == NULL)
		tnd_error_set(err, "quoting a literal: %s", PQerrorMessage(conn->pg));
	return quoted;
}

int pgiso_lock_shared_acl(struct pgiso_conn *conn, struct tnd_error *err)
{
	/* advisory locks live in one database: this one is always taken while
	 * connected to the shared database, by every op that changes its ACLs */
	return pgiso_exec(conn, "locking the shared database's privileges",
			  "SELECT pg_advisory_xact_lock(" CONN_SHARED_ACL_LOCK_KEY ")", err);
}

void pgiso_tenant_endpoint(const struct pgiso_conn *conn, const char **ret_host, int *ret_port)
{
	const char *port = PQport(conn->pg);
	long value = port ? strtol(port, NULL, 10) : 0;

	*ret_host = conn->req->tenant_host ? conn->req->tenant_host : PQhost(conn->pg);
	if (conn->req->tenant_port > 0)
		*ret_port = conn->req->tenant_port;
	else
		*ret_port = value > 0 && value < 65536 ? (int)value : 5432;
}
