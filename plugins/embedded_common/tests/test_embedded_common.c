/*
 * test_embedded_common.c — the embedded data plane's shared parts: tenant
 * names, resolving dataPlane.dir, password hashes, the three descriptors
 * and their settings, several worker processes provisioning on one data
 * plane at once, and the temporary files a killed creator leaves behind.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "embedded_harness.h"
#include "host.h"
#include "testutil.h"
#include "util.h"

static void test_tenant_names(void **state)
{
	char name[EMBEDDED_NAME_MAX + 1];

	assert_int_equal(embedded_tenant_name("acme-corp", name), 0);
	assert_string_equal(name, "t_acme_corp");
	assert_int_equal(embedded_tenant_name("a1b", name), 0);
	assert_string_equal(name, "t_a1b");
	assert_int_equal(embedded_tenant_name("a234567890123456789012345678901234567890", name), 0);
	assert_int_equal(strlen(name), EMBEDDED_NAME_MAX);
	assert_true(embedded_tenant_id_valid("a--b"));
	assert_false(embedded_tenant_id_valid("a2345678901234567890123456789012345678901"));
	assert_false(embedded_tenant_id_valid(NULL));
	assert_false(embedded_tenant_id_valid("1abc"));
	assert_false(embedded_tenant_id_valid("abc-"));
	assert_false(embedded_tenant_id_valid("ab"));
	assert_false(embedded_tenant_id_valid("ab\xc3\xa9"));
	assert_int_equal(embedded_tenant_name("a;b", name), -EINVAL);
}

static void test_plane_resolve(void **state)
{
	struct embedded_plane plane;
	struct embedded_tenant tenant;
	struct tnd_error err = { { 0 } };
	static const char *const refused[] = { "", "..", "../x", "a/../b", "a/..", "/srv/../etc", "/", "//",
					       "bad\001name", "bad\xff" };

	assert_int_equal(embedded_plane_resolve("/var/lib/tenancyd", "data-plane/", &plane, &err), 0);
	assert_string_equal(plane.dir, "/var/lib/tenancyd/data-plane");
	assert_string_equal(plane.roles_db, "/var/lib/tenancyd/data-plane/roles.db");
	assert_string_equal(plane.shared_db, "/var/lib/tenancyd/data-plane/shared.db");
	assert_int_equal(embedded_tenant_init(&plane, EMBEDDED_HYBRID, "acme-corp", &tenant, &err), 0);
	assert_string_equal(tenant.schema_file, "/var/lib/tenancyd/data-plane/shared/t_acme_corp.db");
	assert_string_equal(tenant.data_file, "/var/lib/tenancyd/data-plane/dedicated/t_acme_corp.db");
	embedded_tenant_clear(&tenant);
	assert_int_equal(embedded_tenant_init(&plane, EMBEDDED_SHARED, "acme-corp", &tenant, &err), 0);
	assert_null(tenant.data_file);
	embedded_tenant_clear(&tenant);
	assert_int_equal(embedded_tenant_init(&plane, EMBEDDED_DEDICATED, "../etc", &tenant, &err), -EINVAL);
	embedded_plane_clear(&plane);

	/* absolute: used as given; "..." is a name, not a way up */
	assert_int_equal(embedded_plane_resolve("/var/lib/tenancyd", "/srv/tenants/.../x", &plane, &err), 0);
	assert_string_equal(plane.dir, "/srv/tenants/.../x");
	embedded_plane_clear(&plane);

	for (size_t i = 0; i < TND_ARRAY_SIZE(refused); i++) {
		memset(&err, 0, sizeof(err));
		assert_int_equal(embedded_plane_resolve("/var/lib/tenancyd", refused[i], &plane, &err), -EINVAL);
		assert_true(err.message[0] != '\0');
	}
	assert_int_equal(embedded_plane_resolve("/var/lib/tenancyd", NULL, &plane, &err), -EINVAL);
	/* relative needs an absolute state directory */
	assert_int_equal(embedded_plane_resolve(NULL, "plane", &plane, &err), -EINVAL);
	assert_int_equal(embedded_plane_resolve("relative/state", "plane", &plane, &err), -EINVAL);
}

static void test_password_hash(void **state)
{
	unsigned char salt1[EMBEDDED_PASSWORD_SALT_SIZE] = { 1, 2, 3 }, salt2[EMBEDDED_PASSWORD_SALT_SIZE] = { 4 };
	char hash1[EMBEDDED_PASSWORD_HASH_MAX], hash2[EMBEDDED_PASSWORD_HASH_MAX], tampered[EMBEDDED_PASSWORD_HASH_MAX];
	char *long_password = tnd_xcalloc(1, EMBEDDED_PASSWORD_MAX + 2);

	assert_int_equal(embedded_password_hash("hunter2", salt1, 100000, hash1), 0);
	assert_true(tnd_str_has_prefix(hash1, "pbkdf2-sha256$100000$01020300000000000000000000000000$"));
	assert_int_equal(strlen(hash1), strlen("pbkdf2-sha256$100000$") + 32 + 1 + 64);
	assert_null(strstr(hash1, "hunter2"));
	assert_int_equal(embedded_password_iterations(hash1), 100000);
	assert_int_equal(embedded_password_verify(hash1, "hunter2"), 0);
	assert_int_equal(embedded_password_verify(hash1, "hunter3"), -EACCES);
	assert_int_equal(embedded_password_verify(hash1, ""), -EACCES);
	/* another salt, another hash, same password */
	assert_int_equal(embedded_password_hash("hunter2", salt2, 100000, hash2), 0);
	assert_string_not_equal(hash1, hash2);
	assert_int_equal(embedded_password_verify(hash2, "hunter2"), 0);
	/* one flipped digit of the key */
	memcpy(tampered, hash1, sizeof(tampered));
	tampered[strlen(tampered) - 1] = tampered[strlen(tampered) - 1] == '0' ? '1' : '0';
	assert_int_equal(embedded_password_verify(tampered, "hunter2"), -EACCES);
	/* not ours, or malformed */
	assert_int_equal(embedded_password_verify("hunter2", "hunter2"), -EINVAL);
	assert_int_equal(embedded_password_verify("pbkdf2-sha256$0$00$00", "x"), -EINVAL);
	assert_int_equal(embedded_password_verify("pbkdf2-sha256$100000$zz$00", "x"), -EINVAL);
	assert_int_equal(embedded_password_verify("pbkdf2-sha256$999999999999$00$00", "x"), -EINVAL);
	assert_int_equal(embedded_password_iterations("md5$x"), 0);
	/* the cost has a floor; passwords have a ceiling */
	assert_int_equal(embedded_password_hash("hunter2", salt1, 0, hash2), -EINVAL);
	memset(long_password, 'x', EMBEDDED_PASSWORD_MAX + 1);
	assert_int_equal(embedded_password_hash(long_password, salt1, 100000, hash2), -EINVAL);
	assert_int_equal(embedded_password_verify(hash1, long_password), -EACCES);
	free(long_password);
}

static void test_descriptors_and_settings(void **state)
{
	static const enum embedded_isolation modes[] = { EMBEDDED_SHARED, EMBEDDED_DEDICATED, EMBEDDED_HYBRID };

	testutil_log_capture_start();
	for (size_t i = 0; i < TND_ARRAY_SIZE(modes); i++) {
		static const char *const bad[] = {
			"{\"dir\": \"plane\"}",                /* the directory is per region, not a setting */
			"{\"password_iterations\": 0}",        /* below the floor */
			"{\"busy_timeout_ms\": \"soon\"}",
			"{\"busy_timeout_ms\": -1}",
			"[1, 2]",
		};
		struct tnd_error err = { { 0 } };
		struct eh h;
		void *ctx = NULL;

		eh_load(&h, modes[i]);
		assert_int_equal(h.desc->abi_major, TND_ABI_MAJOR);
		assert_int_equal(h.desc->size, sizeof(struct tnd_plugin));
		assert_int_equal(h.ops->size, sizeof(struct tnd_isolation_ops));
		assert_non_null(h.ops->provision);
		assert_non_null(h.ops->observe);
		assert_non_null(h.ops->suspend);
		assert_non_null(h.ops->resume);
		assert_non_null(h.ops->archive);
		assert_non_null(h.ops->destroy);
		assert_non_null(h.desc->check_config);
		assert_non_null(strstr(h.desc->description, embedded_isolation_word(modes[i])));
		h.desc->fini(NULL);

		for (size_t k = 0; k < TND_ARRAY_SIZE(bad); k++) {
			json_t *config = json_loads(bad[k], 0, NULL);

			assert_non_null(config);
			memset(&err, 0, sizeof(err));
			assert_true(h.desc->check_config(h.host, host_json(config), &err) < 0);
			assert_true(err.message[0] != '\0');
			assert_true(h.desc->init(h.host, host_json(config), &ctx, &err) < 0);
			assert_null(ctx);
			json_decref(config);
		}
		{
			json_t *config = json_loads("{\"busy_timeout_ms\": 250, \"password_iterations\": 200000}", 0, NULL);

			assert_int_equal(h.desc->check_config(h.host, host_json(config), &err), 0);
			assert_int_equal(h.desc->check_config(h.host, NULL, &err), 0);
			json_decref(config);
		}
		eh_unload(&h);
	}
	testutil_log_capture_stop();
}

static char *iterations_stored_hash(const struct eh *h)
{
	char *path = tnd_xasprintf("%s/roles.db", h->dir), *hash;
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	hash = eh_query1(db, "SELECT password_hash FROM tenancy_roles");
	sqlite3_close(db);
	free(path);
	assert_non_null(hash);
	return hash;
}

/* Raising password_iterations rehashes a role at its next provision;
 * lowering it again does not weaken the stored hash. */
static void test_iterations_upgrade(void **state)
{
	json_t *config = json_loads("{\"password_iterations\": 150000}", 0, NULL);
	struct tnd_error err = { { 0 } };
	struct eh h;
	void *stronger = NULL, *weaker;
	char *hash;

	testutil_log_capture_start();
	eh_load(&h, EMBEDDED_DEDICATED);
	json_decref(eh_ok(&h, h.ops->provision, "acme-corp", "active"));
	hash = iterations_stored_hash(&h);
	assert_true(tnd_str_has_prefix(hash, "pbkdf2-sha256$1$"));
	free(hash);

	assert_int_equal(h.desc->init(h.host, host_json(config), &stronger, &err), 0);
	weaker = h.ctx;
	h.ctx = stronger;
	json_decref(eh_ok(&h, h.ops->provision, "acme-corp", "active"));
	hash = iterations_stored_hash(&h);
	assert_true(tnd_str_has_prefix(hash, "pbkdf2-sha256$150000$"));
	free(hash);

	h.ctx = weaker;
	json_decref(eh_ok(&h, h.ops->provision, "acme-corp", "active"));
	hash = iterations_stored_hash(&h);
	assert_true(tnd_str_has_prefix(hash, "pbkdf2-sha256$150000$"));
	free(hash);
	h.desc->fini(stronger);
	eh_unload(&h);
	json_decref(config);
	testutil_log_capture_stop();
}

#define WORKERS 3
#define TENANTS_PER_WORKER 3

/* One worker process: provisions its own tenants and, like every other
 * worker, the same "contested" tenant (a lease that expired). */
static int worker_run(const struct eh *h, int worker)
{
	int failures = 0;

	for (int i = 0; i <= TENANTS_PER_WORKER; i++) {
		char tenant[32];
		struct tnd_error err = { { 0 } };
		json_t *request;
		struct tnd_buf out;

		if (i == TENANTS_PER_WORKER)
			snprintf(tenant, sizeof(tenant), "contested");
		else
			snprintf(tenant, sizeof(tenant), "w%d-tenant-%d", worker, i);
		request = eh_request(h, tenant, "active", eh_password(tenant));
		tnd_buf_init(&out);
		if (h->ops->provision(h->ctx, host_json(request), &out, &err) != 0) {
			fprintf(stderr, "worker %d: provision of %s failed: %s\n", worker, tenant, err.message);
			failures++;
		}
		tnd_buf_free(&out);
		json_decref(request);
	}
	return failures;
}

static void test_concurrent_workers(void **state)
{
	struct eh h;
	pid_t pids[WORKERS];
	int status;
	json_t *obs;
	char tenant[32];
	sqlite3 *db;

	testutil_log_capture_start();
	eh_load(&h, EMBEDDED_HYBRID);
	/* no data plane yet: the workers race to create it too */
	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0)
			_exit(worker_run(&h, w) == 0 ? 0 : 1);
	}
	for (int w = 0; w < WORKERS; w++) {
		assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	for (int w = 0; w <= WORKERS; w++) {
		for (int i = 0; i < (w < WORKERS ? TENANTS_PER_WORKER : 1); i++) {
			if (w < WORKERS)
				snprintf(tenant, sizeof(tenant), "w%d-tenant-%d", w, i);
			else
				snprintf(tenant, sizeof(tenant), "contested");
			obs = eh_observe(&h, tenant, "active");
			if (eh_drift_count(obs) != 0)
				fail_msg("%s drifted after concurrent provisioning", tenant);
			json_decref(obs);
			assert_int_equal(eh_catalog_count(&h, "roles.db", "tenancy_roles", tenant), 1);
			assert_int_equal(eh_catalog_count(&h, "shared.db", "tenancy_schemas", tenant), 1);
		}
	}
	/* one of the racers' hashes won; the password is the same either way
	 * (each login costs a PBKDF2: one is enough under valgrind) */
	assert_int_equal(eh_open(&h, "contested", eh_password("contested"), &db), 0);
	sqlite3_close(db);
	/* no temporary file survived */
	assert_int_equal(eh_tree_count_names(h.dir, ".tmp-"), 0);
	eh_unload(&h);
	testutil_log_capture_stop();
}

static bool exists(const char *dir, const char *name)
{
	struct stat st;
	char *path = tnd_xasprintf("%s/%s", dir, name);
	bool found = lstat(path, &st) == 0;

	free(path);
	return found;
}

/*
 * A worker killed while it made a tenant's file leaves <file>.tmp-<tag> and
 * maybe its journal; the next creation of that file, or a provision that
 * finds it, sweeps them, but never a temporary file whose creator is alive
 * (it holds flock() on it) nor another file's.
 */
static void test_stale_temporaries(void **state)
{
	char *dir = testutil_mkdtemp("embedded-tmp"), *path = tnd_xasprintf("%s/t_x.db", dir), *live;
	struct tnd_error err = { "" };
	bool created = false;
	int fd;

	(void)state;
	free(testutil_write_file(dir, "t_x.db.tmp-dead", "half a database", 0600));
	free(testutil_write_file(dir, "t_x.db.tmp-dead-journal", "its journal", 0600));
	free(testutil_write_file(dir, "t_x.db.tmp-gone-journal", "a journal whose file went", 0600));
	live = testutil_write_file(dir, "t_x.db.tmp-live", "", 0600);
	free(testutil_write_file(dir, "t_x.db.tmp-live-journal", "", 0600));
	free(testutil_write_file(dir, "t_xy.db.tmp-other", "another tenant's", 0600));
	fd = open(live, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0); /* a creator at work */

	assert_int_equal(embedded_db_file_create(path, "mine", &created, &err), 0);
	assert_true(created);
	assert_true(exists(dir, "t_x.db"));
	assert_false(exists(dir, "t_x.db.tmp-dead"));
	assert_false(exists(dir, "t_x.db.tmp-dead-journal"));
	assert_false(exists(dir, "t_x.db.tmp-gone-journal"));
	assert_false(exists(dir, "t_x.db.tmp-mine"));
	assert_true(exists(dir, "t_x.db.tmp-live"));
	assert_true(exists(dir, "t_x.db.tmp-live-journal"));
	assert_true(exists(dir, "t_xy.db.tmp-other"));

	/* the creator died: the next provision (the file exists) sweeps its leftovers */
	close(fd);
	assert_int_equal(embedded_db_file_create(path, "again", &created, &err), 0);
	assert_false(created);
	assert_false(exists(dir, "t_x.db.tmp-live"));
	assert_false(exists(dir, "t_x.db.tmp-live-journal"));
	assert_true(exists(dir, "t_xy.db.tmp-other"));

	free(live);
	free(path);
	testutil_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tenant_names),
		cmocka_unit_test(test_plane_resolve),
		cmocka_unit_test(test_password_hash),
		cmocka_unit_test(test_descriptors_and_settings),
		cmocka_unit_test(test_iterations_upgrade),
		cmocka_unit_test(test_concurrent_workers),
		cmocka_unit_test(test_stale_temporaries),
	};

	return cmocka_run_group_tests_name("embedded_common", tests, NULL, NULL);
}
