/*
 * pg_test_harness.c — loading and driving the PostgreSQL isolation plugins
 * from the tests, and looking at the cluster (see pg_test_harness.h).
 */
#include "autoconfig.h"

#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host.h"
#include "pg_test_harness.h"
#include "testutil.h"
#include "util.h"

static struct pgt_cluster harness_cluster;

const struct pgt_cluster *pgt_cluster(void)
{
	const char *file = getenv("PGISO_CONNINFO_FILE");
	const char *log = getenv("PGISO_SERVER_LOG");
	const char *port = getenv("PGPORT");
	struct tnd_error err = { { 0 } };
	size_t len;

	if (harness_cluster.conninfo != NULL)
		return &harness_cluster;
	if (file == NULL || log == NULL || port == NULL) {
		fprintf(stderr, "SKIP: no cluster (run through test_pg_isolation.sh, which starts one)\n");
		exit(77);
	}
	if (tnd_read_file(file, 1 << 16, &harness_cluster.conninfo, &len, &err) < 0) {
		fprintf(stderr, "reading %s: %s\n", file, err.message);
		exit(99);
	}
	harness_cluster.conninfo[strcspn(harness_cluster.conninfo, "\n")] = '\0';
	harness_cluster.conninfo_file = tnd_xstrdup(file);
	harness_cluster.server_log = tnd_xstrdup(log);
	harness_cluster.port = atoi(port);
	return &harness_cluster;
}

struct pgt_plugin *pgt_plugin_load(const char *name)
{
	struct pgt_plugin *p = tnd_xcalloc(1, sizeof(*p));
	char *path = tnd_xasprintf("%s/plugins/%s/.libs/%s.so", testutil_builddir(), name, name);
	struct tnd_error err = { { 0 } };
	json_t *settings = json_object();

	pgt_cluster();
	p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (p->dl == NULL)
		fail_msg("dlopen %s: %s", path, dlerror());
	free(path);
	p->desc = dlsym(p->dl, TND_PLUGIN_SYMBOL);
	assert_non_null(p->desc);
	assert_int_equal(p->desc->kind, TND_PLUGIN_ISOLATION);
	assert_string_equal(p->desc->name, name);
	p->ops = p->desc->ops;
	assert_int_equal(p->ops->size, sizeof(struct tnd_isolation_ops));
	p->name = name;
	p->schema = strcmp(name, "dedicated_db") != 0;
	p->database = strcmp(name, "shared_schema") != 0;
	p->isolation = !p->database ? "shared" : !p->schema ? "dedicated" : "hybrid";
	p->host = host_new(name, "/nonexistent");
	if (p->desc->init(p->host, host_json(settings), &p->ctx, &err) != 0)
		fail_msg("init %s: %s", name, err.message);
	json_decref(settings);
	p->scratch = testutil_mkdtemp("pgiso");
	return p;
}

void pgt_plugin_unload(struct pgt_plugin *p)
{
	if (p == NULL)
		return;
	p->desc->fini(p->ctx);
	host_free(p->host);
	dlclose(p->dl);
	testutil_rmrf(p->scratch);
	free(p->scratch);
	free(p);
}

json_t *pgt_data_plane(const char *conninfo_file, const char *shared_database)
{
	json_t *dp = json_object();

	if (conninfo_file != NULL)
		json_object_set_new(dp, "conninfo_file", json_string(conninfo_file));
	if (shared_database != NULL)
		json_object_set_new(dp, "shared_database", json_string(shared_database));
	json_object_set_new(dp, "host_for_tenants", json_string("127.0.0.1"));
	json_object_set_new(dp, "port_for_tenants", json_integer(pgt_cluster()->port));
	return dp;
}

void pgt_role_name(const char *tenant_id, char out[64])
{
	snprintf(out, 64, "t_%s", tenant_id);
	for (char *c = out; *c != '\0'; c++)
		if (*c == '-')
			*c = '_';
}

json_t *pgt_request(const struct pgt_plugin *p, const char *tenant_id, const char *state, const char *password,
		    json_t *data_plane)
{
	json_t *req = json_object();

	if (tenant_id != NULL)
		json_object_set_new(req, "tenantId", json_string(tenant_id));
	json_object_set_new(req, "version", json_integer(1));
	json_object_set_new(req, "isolation", json_string(p->isolation));
	json_object_set_new(req, "region", json_string("eu-west-1"));
	if (state != NULL)
		json_object_set_new(req, "state", json_string(state));
	if (data_plane != NULL)
		json_object_set_new(req, "dataPlane", data_plane);
	json_object_set_new(req, "quotas", json_pack("{s:i, s:i, s:i, s:i}", "computeUnits", 4, "storageGb", 50,
						     "eventsPerMinute", 600, "concurrentOperations", 2));
	json_object_set_new(req, "resources", json_object());
	if (password != NULL && tenant_id != NULL) {
		char role[64];
		pgt_role_name(tenant_id, role);
		json_object_set_new(req, "credentials", json_pack("{s:s, s:s}", "username", role, "password", password));
	}
	return req;
}

int pgt_run(struct pgt_plugin *p, enum pgt_op op, json_t *request, json_t **ret_result, struct tnd_error *err)
{
	tnd_isolation_step_fn *const fns[] = {
		[PGT_PROVISION] = p->ops->provision, [PGT_OBSERVE] = p->ops->observe, [PGT_SUSPEND] = p->ops->suspend,
		[PGT_RESUME] = p->ops->resume,       [PGT_ARCHIVE] = p->ops->archive, [PGT_DESTROY] = p->ops->destroy,
	};
	struct tnd_buf out;
	int r;

	tnd_buf_init(&out);
	memset(err, 0, sizeof(*err));
	r = fns[op](p->ctx, host_json(request), &out, err);
	if (r == 0) {
		json_error_t jerr;
		json_t *doc = json_loads(out.data ? out.data : "", 0, &jerr);

		if (doc == NULL)
			fail_msg("op %d returned invalid JSON (%s): %s", (int)op, jerr.text, out.data ? out.data : "");
		if (!json_is_object(json_object_get(doc, "resources")))
			fail_msg("op %d result has no resources object: %s", (int)op, out.data);
		if (ret_result != NULL)
			*ret_result = doc;
		else
			json_decref(doc);
	} else {
		assert_true(err->message[0] != '\0'); /* every failure says why */
	}
	tnd_buf_free(&out);
	return r;
}

int pgt_try(struct pgt_plugin *p, enum pgt_op op, const char *tenant_id, const char *state, const char *password,
	    struct tnd_error *err)
{
	json_t *req = pgt_request(p, tenant_id, state, password, pgt_data_plane(pgt_cluster()->conninfo_file, NULL));
	int r = pgt_run(p, op, req, NULL, err);

	json_decref(req);
	return r;
}

json_t *pgt_ok(struct pgt_plugin *p, enum pgt_op op, const char *tenant_id, const char *state,
	       const char *password)
{
	json_t *req = pgt_request(p, tenant_id, state, password, pgt_data_plane(pgt_cluster()->conninfo_file, NULL));
	struct tnd_error err;
	json_t *result = NULL;
	int r = pgt_run(p, op, req, &result, &err);

	json_decref(req);
	if (r != 0)
		fail_msg("%s op %d on %s: %d (%s)", p->name, (int)op, tenant_id, r, err.message);
	return result;
}

PGconn *pgt_admin(const char *dbname)
{
	const char *keys[] = { "dbname", "dbname", NULL };
	const char *values[] = { pgt_cluster()->conninfo, dbname ? dbname : "postgres", NULL };
	PGconn *conn = PQconnectdbParams(keys, values, 1);

	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("admin connection to %s: %s", values[1], PQerrorMessage(conn));
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	return conn;
}

PGconn *pgt_login(const char *role, const char *password, const char *dbname, char *why, size_t why_cap)
{
	char port[16];
	const char *keys[] = { "host", "port", "user", "password", "dbname", "sslmode", "gssencmode", "connect_timeout",
			       NULL };
	const char *values[] = { "127.0.0.1", port, role, password, dbname, "disable", "disable", "30", NULL };
	PGconn *conn;

	snprintf(port, sizeof(port), "%d", pgt_cluster()->port);
	conn = PQconnectdbParams(keys, values, 0);
	if (PQstatus(conn) == CONNECTION_OK) {
		if (why != NULL && why_cap > 0)
			why[0] = '\0';
		return conn;
	}
	if (why != NULL && why_cap > 0)
		snprintf(why, why_cap, "%s", PQerrorMessage(conn));
	PQfinish(conn);
	return NULL;
}

bool pgt_exec(PGconn *conn, const char *sql, char sqlstate[6])
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType status = PQresultStatus(res);
	bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;

	if (sqlstate != NULL) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		snprintf(sqlstate, 6, "%s", ok || state == NULL ? "" : state);
	}
	PQclear(res);
	return ok;
}

const char *pgt_value(PGconn *conn, const char *sql)
{
	static char value[1024];
	PGresult *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		fail_msg("query failed: %s: %s", sql, PQerrorMessage(conn));
	snprintf(value, sizeof(value), "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return value;
}

const char *pgt_admin_value(const char *dbname, const char *sql)
{
	PGconn *conn = pgt_admin(dbname);
	const char *value = pgt_value(conn, sql);

	PQfinish(conn);
	return value;
}

void pgt_admin_exec(const char *dbname, const char *sql)
{
	PGconn *conn = pgt_admin(dbname);

	if (!pgt_exec(conn, sql, NULL))
		fail_msg("admin: %s: %s", sql, PQerrorMessage(conn));
	PQfinish(conn);
}

static char *harness_passwords[64];
static size_t harness_n_passwords;

void pgt_remember_password(const char *password)
{
	if (harness_n_passwords < sizeof(harness_passwords) / sizeof(harness_passwords[0]))
		harness_passwords[harness_n_passwords++] = tnd_xstrdup(password);
}

const char *pgt_password(size_t index)
{
	return index < harness_n_passwords ? harness_passwords[index] : NULL;
}

void pgt_harness_free(void)
{
	for (size_t i = 0; i < harness_n_passwords; i++)
		free(harness_passwords[i]);
	harness_n_passwords = 0;
	free(harness_cluster.conninfo);
	free(harness_cluster.conninfo_file);
	free(harness_cluster.server_log);
	memset(&harness_cluster, 0, sizeof(harness_cluster));
}

bool pgt_drift_has(json_t *result, const char *needle)
{
	json_t *drift = json_object_get(json_object_get(result, "observed"), "drift");
	size_t i;
	json_t *entry;

	json_array_foreach(drift, i, entry)
		if (strstr(json_string_value(entry), needle) != NULL)
			return true;
	return false;
}

size_t pgt_drift_count(json_t *result)
{
	json_t *drift = json_object_get(json_object_get(result, "observed"), "drift");

	assert_true(json_is_array(drift));
	return json_array_size(drift);
}
