/*
 * pg_test_harness.h — what the PostgreSQL isolation tests share: loading a
 * built plugin the way the core does (dlopen, tnd_plugin_v1, a host_new()
 * host table), building requests and running ops on them, and libpq
 * helpers to look at the cluster as the admin and to log in as a tenant
 * over TCP with its password.
 *
 * The cluster comes from the environment test_pg_isolation.sh sets:
 * PGISO_CONNINFO_FILE (the admin conninfo, 0600), PGISO_SERVER_LOG, PGPORT.
 */
#ifndef TND_PG_TEST_HARNESS_H
#define TND_PG_TEST_HARNESS_H

#include <stdbool.h>

#include <jansson.h>
#include <libpq-fe.h>

#include <tenancyd/host.h>
#include <tenancyd/isolation.h>

/* The ops a test can run, in isolation.h's order. */
enum pgt_op { PGT_PROVISION, PGT_OBSERVE, PGT_SUSPEND, PGT_RESUME, PGT_ARCHIVE, PGT_DESTROY };

struct pgt_plugin {
	void *dl;
	const struct tnd_plugin *desc;
	const struct tnd_isolation_ops *ops;
	struct tnd_host *host;
	void *ctx;
	const char *name;      /* shared_schema, dedicated_db, hybrid */
	const char *isolation; /* shared, dedicated, hybrid */
	bool schema;           /* the mode has a schema in the shared database */
	bool database;         /* the mode has a database per tenant */
	char *scratch;         /* a private directory for secret files */
};

/** The cluster's settings; skips the whole program (exit 77) when unset. */
struct pgt_cluster {
	char *conninfo_file; /* admin, over the unix socket */
	char *conninfo;      /* its content */
	char *server_log;
	int port;            /* TCP port on 127.0.0.1 */
};
const struct pgt_cluster *pgt_cluster(void);
/** Free what the harness keeps for the whole program. */
void pgt_harness_free(void);

/** dlopen plugins/<name>/.libs/<name>.so and init() it with "{}". */
struct pgt_plugin *pgt_plugin_load(const char *name);
void pgt_plugin_unload(struct pgt_plugin *p);

/** A dataPlane object: the cluster's conninfo file, tenants told 127.0.0.1:port. */
json_t *pgt_data_plane(const char *conninfo_file, const char *shared_database);
/** A request (new reference); @password NULL for none, @data_plane stolen. */
json_t *pgt_request(const struct pgt_plugin *p, const char *tenant_id, const char *state, const char *password,
		    json_t *data_plane);

/** Run @op on @request; on success *ret_result (if given) is the parsed result. */
int pgt_run(struct pgt_plugin *p, enum pgt_op op, json_t *request, json_t **ret_result, struct tnd_error *err);
/** The same, for a tenant with the cluster's default data plane; fails the test on error. */
json_t *pgt_ok(struct pgt_plugin *p, enum pgt_op op, const char *tenant_id, const char *state,
	       const char *password);
/** Run @op for @tenant_id with the default data plane and return its result. */
int pgt_try(struct pgt_plugin *p, enum pgt_op op, const char *tenant_id, const char *state, const char *password,
	    struct tnd_error *err);

/** t_<id> with '-' -> '_' (static buffer per call site: copy it). */
void pgt_role_name(const char *tenant_id, char out[64]);

/** Admin connection to @dbname (NULL: postgres); fails the test on error. */
PGconn *pgt_admin(const char *dbname);
/** Tenant login over TCP; NULL with the server's message in @why (may be NULL). */
PGconn *pgt_login(const char *role, const char *password, const char *dbname, char *why, size_t why_cap);
/** Run @sql; true when it succeeded.  @sqlstate (if given) receives the error's. */
bool pgt_exec(PGconn *conn, const char *sql, char sqlstate[6]);
/** The first column of the first row, or "" when none (static buffer). */
const char *pgt_value(PGconn *conn, const char *sql);
/** pgt_value() of an admin connection to @dbname, opened for the query. */
const char *pgt_admin_value(const char *dbname, const char *sql);

/** Run @sql as the admin in @dbname (NULL: postgres); fails the test on error. */
void pgt_admin_exec(const char *dbname, const char *sql);

/** Remember a tenant password the tests used, to prove none reached the
 *  server's statement log; pgt_password(i) lists them (NULL past the end). */
void pgt_remember_password(const char *password);
const char *pgt_password(size_t index);

/** The observed document's drift array contains an entry containing @needle. */
bool pgt_drift_has(json_t *result, const char *needle);
size_t pgt_drift_count(json_t *result);

/* --- the tests (cmocka state: the struct pgt_plugin of the group) ------------------ */

/* pg_test_lifecycle.c */
void test_pg_lifecycle(void **state);
void test_pg_drift(void **state);
void test_pg_default_endpoint(void **state);
/* pg_test_refusals.c */
void test_pg_hostile_ids(void **state);
void test_pg_invalid_requests(void **state);
void test_pg_statement_timeout(void **state);
void test_pg_concurrent(void **state);
void test_pg_createrole_admin(void **state);

#endif /* TND_PG_TEST_HARNESS_H */
