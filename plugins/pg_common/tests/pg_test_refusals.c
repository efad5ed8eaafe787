/*
 * pg_test_refusals.c — what the plugins refuse and how they fail: hostile
 * tenant ids (refused before any connection), invalid requests and data
 * planes (clear messages, never a secret), a statement timeout turned into
 * -EAGAIN, several tenants provisioned at once, and an admin that is not a
 * superuser (CREATEROLE + CREATEDB).  Also the op timings we report.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
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

#define REFUSALS_SECRET "hunter2-secret"

static char *refusals_secret_file(const struct pgt_plugin *p, const char *name, const char *text, mode_t mode)
{
	return testutil_write_file(p->scratch, name, text, mode);
}

static void refusals_expect(struct pgt_plugin *p, enum pgt_op op, json_t *request, int want, const char *needle)
{
	struct tnd_error err;
	int r = pgt_run(p, op, request, NULL, &err);

	if (r != want || (needle != NULL && strstr(err.message, needle) == NULL))
		fail_msg("op %d: want %d with \"%s\", got %d: %s", (int)op, want, needle ? needle : "", r, err.message);
	assert_null(strstr(err.message, REFUSALS_SECRET));
	json_decref(request);
}

void test_pg_hostile_ids(void **state)
{
	struct pgt_plugin *p = *state;
	static const char *const hostile[] = {
		"a\"; DROP ROLE x; --", "x\"; DROP ROLE x; --", "acme'; DROP ROLE x; --", "Acme", "ab", "-abc", "abc-",
		"abc_def", "a2345678901234567890123456789012345678901", "", "abc\ndef", "abc def", "t_x",
	};
	char *unreachable = refusals_secret_file(p, "unreachable.conninfo",
						 "host=127.0.0.1 port=1 user=tnd_admin password=" REFUSALS_SECRET, 0600);
	char *log;
	size_t len;
	struct tnd_error err;

	pgt_admin_exec(NULL, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'x') "
			     "THEN CREATE ROLE x NOLOGIN; END IF; END $$");
	for (int op = PGT_PROVISION; op <= PGT_DESTROY; op++) {
		for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
			/* refused with a reachable cluster, and with none: -EINVAL, never
			 * -EAGAIN, so the id was judged before any connection */
			refusals_expect(p, (enum pgt_op)op,
					pgt_request(p, hostile[i], "active", "pw-unused",
						    pgt_data_plane(pgt_cluster()->conninfo_file, NULL)),
					-EINVAL, "tenantId");
			refusals_expect(p, (enum pgt_op)op,
					pgt_request(p, hostile[i], "active", "pw-unused", pgt_data_plane(unreachable, NULL)),
					-EINVAL, "tenantId");
		}
		refusals_expect(p, (enum pgt_op)op,
				pgt_request(p, NULL, "active", "pw", pgt_data_plane(pgt_cluster()->conninfo_file, NULL)),
				-EINVAL, "tenantId");
	}
	assert_string_equal(pgt_admin_value(NULL, "SELECT count(*) FROM pg_roles WHERE rolname = 'x'"), "1");
	/* and no statement carrying it ever reached the server */
	assert_int_equal(tnd_read_file(pgt_cluster()->server_log, 1 << 30, &log, &len, &err), 0);
	assert_null(strstr(log, "DROP ROLE x"));
	free(log);
	free(unreachable);
}

void test_pg_invalid_requests(void **state)
{
	struct pgt_plugin *p = *state;
	char id[48], role[64], sql[128], port[160];
	const char *admin = pgt_cluster()->conninfo_file;
	char *open_file, *missing, *garbage, *empty, *unreachable, *wrong_password;
	json_t *req;

	snprintf(id, sizeof(id), "%.2s-refused", p->isolation);
	pgt_role_name(id, role);
	open_file = refusals_secret_file(p, "open.conninfo", "host=/tmp user=tnd_admin password=" REFUSALS_SECRET, 0644);
	missing = tnd_xasprintf("%s/missing.conninfo", p->scratch);
	garbage = refusals_secret_file(p, "garbage.conninfo", "host=x password" REFUSALS_SECRET, 0600);
	empty = refusals_secret_file(p, "empty.conninfo", "\n", 0600);
	unreachable = refusals_secret_file(p, "unreachable2.conninfo",
					   "host=127.0.0.1 port=1 user=tnd_admin connect_timeout=2 password=" REFUSALS_SECRET,
					   0600);
	snprintf(port, sizeof(port), "host=127.0.0.1 port=%d user=tnd_admin dbname=postgres sslmode=disable "
		 "gssencmode=disable password=" REFUSALS_SECRET, pgt_cluster()->port);
	wrong_password = refusals_secret_file(p, "wrong.conninfo", port, 0600);

	refusals_expect(p, PGT_PROVISION, pgt_request(p, id, "active", "pw", NULL), -EINVAL, "dataPlane");
	refusals_expect(p, PGT_OBSERVE, pgt_request(p, id, "active", NULL, json_object()), -EINVAL, "conninfo_file");
	refusals_expect(p, PGT_PROVISION, pgt_request(p, id, "active", "pw", pgt_data_plane(open_file, NULL)), -EPERM,
			"mode 0644");
	refusals_expect(p, PGT_PROVISION, pgt_request(p, id, "active", "pw", pgt_data_plane(missing, NULL)), -ENOENT,
			"missing.conninfo");
	refusals_expect(p, PGT_PROVISION, pgt_request(p, id, "active", "pw", pgt_data_plane(garbage, NULL)), -EINVAL,
			"not hold a valid libpq connection string");
	refusals_expect(p, PGT_DESTROY, pgt_request(p, id, "deleted", NULL, pgt_data_plane(empty, NULL)), -EINVAL,
			"is empty");
	refusals_expect(p, PGT_PROVISION, pgt_request(p, id, "active", "pw", pgt_data_plane(unreachable, NULL)),
			-EAGAIN, "connecting to PostgreSQL");
	refusals_expect(p, PGT_OBSERVE, pgt_request(p, id, "active", NULL, pgt_data_plane(wrong_password, NULL)),
			-EAGAIN, "password authentication failed");

	/* requests this plugin cannot serve */
	req = pgt_request(p, id, "active", "pw", pgt_data_plane(admin, NULL));
	json_object_set_new(req, "isolation", json_string(p->database ? "shared" : "dedicated"));
	refusals_expect(p, PGT_PROVISION, req, -EINVAL, "serves isolation");
	refusals_expect(p, PGT_PROVISION, pgt_request(p, id, "active", NULL, pgt_data_plane(admin, NULL)), -EINVAL,
			"credentials.password");
	req = pgt_request(p, id, "active", "pw", pgt_data_plane(admin, NULL));
	json_object_set_new(json_object_get(req, "credentials"), "username", json_string("postgres"));
	refusals_expect(p, PGT_PROVISION, req, -EINVAL, "credentials.username");
	refusals_expect(p, PGT_OBSERVE, pgt_request(p, id, "paused", NULL, pgt_data_plane(admin, NULL)), -EINVAL,
			"state");
	refusals_expect(p, PGT_PROVISION, pgt_request(p, id, "deleted", "pw", pgt_data_plane(admin, NULL)), -EINVAL,
			"deleted");
	req = pgt_request(p, id, "active", "pw", pgt_data_plane(admin, NULL));
	json_object_set_new(json_object_get(req, "dataPlane"), "port_for_tenants", json_integer(70000));
	refusals_expect(p, PGT_PROVISION, req, -EINVAL, "port_for_tenants");
	refusals_expect(p, PGT_PROVISION,
			pgt_request(p, id, "active", "pw",
				    pgt_data_plane(admin, "a234567890123456789012345678901234567890123456789012345678901234")),
			-EINVAL, "shared_database");
	req = pgt_request(p, id, "active", "pw", pgt_data_plane(admin, NULL));
	json_object_set_new(json_object_get(req, "quotas"), "concurrentOperations", json_integer(0));
	refusals_expect(p, PGT_PROVISION, req, -EINVAL, "concurrentOperations");
	if (p->database)
		refusals_expect(p, PGT_PROVISION, pgt_request(p, id, "active", "pw", pgt_data_plane(admin, role)),
				-EINVAL, "tenant's own database");

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_roles WHERE rolname = '%s'", role);
	assert_string_equal(pgt_admin_value(NULL, sql), "0");
	free(open_file);
	free(missing);
	free(garbage);
	free(empty);
	free(unreachable);
	free(wrong_password);
}

/* A lock the op waits on longer than statement_timeout_ms: -EAGAIN, then fine. */
void test_pg_statement_timeout(void **state)
{
	struct pgt_plugin *p = *state;
	json_t *settings = json_pack("{s:i, s:i}", "statement_timeout_ms", 300, "connect_timeout", 2);
	char id[48], role[64], password[64], sql[128];
	struct tnd_error err = { { 0 } };
	void *impatient = NULL;
	json_t *req;
	PGconn *locker;

	snprintf(id, sizeof(id), "%.2s-patience", p->isolation);
	pgt_role_name(id, role);
	snprintf(password, sizeof(password), "PwT-%s", id);
	pgt_remember_password(password);
	if (p->desc->init(p->host, host_json(settings), &impatient, &err) != 0)
		fail_msg("init: %s", err.message);
	json_decref(settings);
	json_decref(pgt_ok(p, PGT_PROVISION, id, "active", password));

	locker = pgt_admin(NULL);
	assert_true(pgt_exec(locker, "BEGIN", NULL));
	snprintf(sql, sizeof(sql), "ALTER ROLE %s CONNECTION LIMIT 3", role);
	assert_true(pgt_exec(locker, sql, NULL));
	req = pgt_request(p, id, NULL, NULL, pgt_data_plane(pgt_cluster()->conninfo_file, NULL));
	memset(&err, 0, sizeof(err));
	{
		struct tnd_buf out;
		int r;

		tnd_buf_init(&out);
		r = p->ops->suspend(impatient, host_json(req), &out, &err);
		tnd_buf_free(&out);
		if (r != -EAGAIN || strstr(err.message, "statement timeout") == NULL)
			fail_msg("suspend behind a lock: %d %s", r, err.message);
	}
	assert_true(pgt_exec(locker, "ROLLBACK", NULL));
	PQfinish(locker);
	json_decref(req);
	p->desc->fini(impatient);
	json_decref(pgt_ok(p, PGT_SUSPEND, id, NULL, NULL));
	json_decref(pgt_ok(p, PGT_DESTROY, id, "deleted", NULL));
}

/* --- several tenants at once -------------------------------------------------------- */

#define CONCURRENT_TENANTS 4

struct concurrent_job {
	struct pgt_plugin *p;
	enum pgt_op op;
	char id[48];
	char password[64];
	int result;
	char message[512];
	int64_t micros;
};

/* No cmocka in threads: record, assert after the join. */
static void *concurrent_run(void *arg)
{
	struct concurrent_job *job = arg;
	tnd_isolation_step_fn *fn = job->op == PGT_PROVISION ? job->p->ops->provision : job->p->ops->destroy;
	json_t *req = pgt_request(job->p, job->id, job->op == PGT_PROVISION ? "active" : "deleted",
				  job->op == PGT_PROVISION ? job->password : NULL,
				  pgt_data_plane(pgt_cluster()->conninfo_file, NULL));
	struct tnd_error err = { { 0 } };
	struct tnd_buf out;
	int64_t start = tnd_monotonic_us();

	tnd_buf_init(&out);
	job->result = fn(job->p->ctx, host_json(req), &out, &err);
	job->micros = tnd_monotonic_us() - start;
	snprintf(job->message, sizeof(job->message), "%s", err.message);
	tnd_buf_free(&out);
	json_decref(req);
	return NULL;
}

static int64_t concurrent_round(struct concurrent_job *jobs, enum pgt_op op)
{
	pthread_t threads[CONCURRENT_TENANTS];
	int64_t start = tnd_monotonic_us();

	for (int i = 0; i < CONCURRENT_TENANTS; i++) {
		jobs[i].op = op;
		assert_int_equal(pthread_create(&threads[i], NULL, concurrent_run, &jobs[i]), 0);
	}
	for (int i = 0; i < CONCURRENT_TENANTS; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < CONCURRENT_TENANTS; i++)
		if (jobs[i].result != 0)
			fail_msg("%s %s: %d %s", op == PGT_PROVISION ? "provision" : "destroy", jobs[i].id, jobs[i].result,
				 jobs[i].message);
	return tnd_monotonic_us() - start;
}

/* Every op once for one tenant, timed (the numbers in the report), then
 * CONCURRENT_TENANTS tenants provisioned and destroyed at the same time:
 * GRANTs on the shared database from several workers at once must not
 * fail ("tuple concurrently updated"); the ACL lock serializes them. */
void test_pg_concurrent(void **state)
{
	struct pgt_plugin *p = *state;
	static const char *const names[] = { "provision", "observe", "suspend", "resume", "archive", "destroy" };
	static const char *const states[] = { "active", "active", NULL, NULL, NULL, "deleted" };
	struct concurrent_job jobs[CONCURRENT_TENANTS];
	char id[48], password[64], line[256] = "";
	int64_t took;

	snprintf(id, sizeof(id), "%.2s-timed", p->isolation);
	snprintf(password, sizeof(password), "PwT-%s", id);
	pgt_remember_password(password);
	for (int op = PGT_PROVISION; op <= PGT_DESTROY; op++) {
		int64_t start = tnd_monotonic_us();
		json_decref(pgt_ok(p, (enum pgt_op)op, id, states[op], op == PGT_PROVISION ? password : NULL));
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s %.1f ms", names[op],
			 (double)(tnd_monotonic_us() - start) / 1000.0);
	}
	print_message("timing %s (one tenant):%s\n", p->name, line);

	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < CONCURRENT_TENANTS; i++) {
		jobs[i].p = p;
		snprintf(jobs[i].id, sizeof(jobs[i].id), "%.2s-parallel-%d", p->isolation, i);
		snprintf(jobs[i].password, sizeof(jobs[i].password), "PwP-%s", jobs[i].id);
		pgt_remember_password(jobs[i].password);
	}
	took = concurrent_round(jobs, PGT_PROVISION);
	print_message("timing %s: %d provisions at once in %.1f ms\n", p->name, CONCURRENT_TENANTS, (double)took / 1000.0);
	for (int i = 0; i < CONCURRENT_TENANTS; i++) {
		char role[64];
		PGconn *conn;

		pgt_role_name(jobs[i].id, role);
		conn = pgt_login(role, jobs[i].password, p->schema ? "tenancy" : role, NULL, 0);
		assert_non_null(conn);
		PQfinish(conn);
	}
	took = concurrent_round(jobs, PGT_DESTROY);
	print_message("timing %s: %d destroys at once in %.1f ms\n", p->name, CONCURRENT_TENANTS, (double)took / 1000.0);
}

/* --- an admin that is not a superuser ------------------------------------------------ */

void test_pg_createrole_admin(void **state)
{
	struct pgt_plugin *p = *state;
	char ops[64], shared[64], conninfo[256], sql[256], id[48], role[64], password[64];
	char *file;
	struct tnd_error err;
	json_t *req, *result;
	PGconn *held;

	snprintf(ops, sizeof(ops), "tnd_ops_%s", p->isolation);
	snprintf(shared, sizeof(shared), "ops_%s", p->isolation);
	snprintf(id, sizeof(id), "%.2s-delegated", p->isolation);
	pgt_role_name(id, role);
	snprintf(password, sizeof(password), "PwO-%s", id);
	pgt_remember_password(password);
	snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN CREATEROLE CREATEDB PASSWORD 'ops-%s'", ops, p->isolation);
	pgt_admin_exec(NULL, sql);
	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%d user=%s password=ops-%s dbname=postgres "
		 "sslmode=disable gssencmode=disable", pgt_cluster()->port, ops, p->isolation);
	file = refusals_secret_file(p, "ops.conninfo", conninfo, 0600);

	/* the whole lifecycle through the delegated admin */
	req = pgt_request(p, id, "active", password, pgt_data_plane(file, shared));
	if (pgt_run(p, PGT_PROVISION, req, NULL, &err) != 0)
		fail_msg("provision as %s: %s", ops, err.message);
	held = pgt_login(role, password, p->schema ? shared : role, NULL, 0);
	assert_non_null(held);
	assert_true(pgt_exec(held, "CREATE TABLE items (i int); INSERT INTO items VALUES (1)", NULL));
	snprintf(sql, sizeof(sql), "SELECT pg_has_role('%s', '%s', 'MEMBER')", ops, role);
	assert_string_equal(pgt_admin_value(NULL, sql), "t");
	json_decref(req);
	for (int op = PGT_SUSPEND; op <= PGT_DESTROY; op++) {
		static const char *const states[] = { [PGT_SUSPEND] = "suspended", [PGT_RESUME] = "active",
						      [PGT_ARCHIVE] = "archived", [PGT_DESTROY] = "deleted" };
		req = pgt_request(p, id, states[op], NULL, pgt_data_plane(file, shared));
		if (pgt_run(p, (enum pgt_op)op, req, NULL, &err) != 0)
			fail_msg("op %d as %s: %s", op, ops, err.message);
		if (op == PGT_SUSPEND) {
			assert_false(pgt_exec(held, "SELECT 1", NULL)); /* its session ended */
			PQfinish(held);
		}
		if (op != PGT_DESTROY) {
			result = NULL;
			if (pgt_run(p, PGT_OBSERVE, req, &result, &err) != 0)
				fail_msg("observe as %s: %s", ops, err.message);
			if (pgt_drift_count(result) != 0)
				fail_msg("observe as %s after op %d: %s", ops, op, json_dumps(result, JSON_COMPACT));
			json_decref(result);
		}
		json_decref(req);
	}
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_roles WHERE rolname = '%s'", role);
	assert_string_equal(pgt_admin_value(NULL, sql), "0");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_database WHERE datname = '%s'", role);
	assert_string_equal(pgt_admin_value(NULL, sql), "0");
	if (p->schema) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", role);
		assert_string_equal(pgt_admin_value(shared, sql), "0");
		snprintf(sql, sizeof(sql), "DROP DATABASE %s", shared);
		pgt_admin_exec(NULL, sql);
	}
	snprintf(sql, sizeof(sql), "DROP ROLE %s", ops);
	pgt_admin_exec(NULL, sql);
	free(file);
}
