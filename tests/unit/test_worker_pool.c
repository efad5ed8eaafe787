/*
 * test_worker_pool.c — the worker pool with real tenancyd-worker processes
 * it spawns: tasks complete exactly once; a worker killed mid-task costs a
 * re-dispatch and a respawn; a frozen one is dropped after the heartbeat
 * timeout and comes back; a lease that runs out re-dispatches and the
 * late result is dropped; exhausted dispatches give -ETIMEDOUT; plugin
 * failures and bad plugin output come back as errors; stop() completes
 * what is pending with -ESHUTDOWN and leaves no process behind.
 *
 * The ops come from the fixtures good_isolation (always succeeds) and
 * flaky_isolation (sleeps, fails or crashes when the request says so).
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "metrics.h"
#include "util.h"
#include "worker_testlib.h"

struct fixture {
	struct wt_env env;
	struct wt_results results;
	struct worker_pool *pool;
};

static int setup(void **state)
{
	struct fixture *f = tnd_xcalloc(1, sizeof(*f));
	struct tnd_error err = { "" };
	unsigned two = 2;

	log_set_level(getenv("TND_TEST_DEBUG") ? TND_LOG_DEBUG : TND_LOG_WARNING);
	wt_env_init(&f->env, "workerpool", 2);
	wt_results_init(&f->results);
	if (worker_pool_start(f->env.conf, f->env.config_path, wt_done_cb, &f->results, &f->pool, &err) < 0)
		fail_msg("worker_pool_start: %s", err.message);
	/* both workers registered: dispatch order is then predictable */
	assert_true(wt_wait_stats(f->pool, wt_pred_ready, &two, 10000));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	worker_pool_stop(f->pool);
	wt_results_free(&f->results);
	wt_env_free(&f->env);
	free(f);
	return 0;
}

static char *scratch(struct fixture *f, const char *name)
{
	return tnd_xasprintf("%s/%s", f->env.dir, name);
}

static bool pred_running(const struct worker_pool_stats *s, void *arg)
{
	return s->tasks_running == *(unsigned *)arg;
}

static bool pred_respawned(const struct worker_pool_stats *s, void *arg)
{
	return s->respawns >= 1 && s->workers_ready == *(unsigned *)arg;
}

static bool pred_idle(const struct worker_pool_stats *s, void *arg)
{
	return s->workers_busy == 0 && s->workers_ready == *(unsigned *)arg;
}

/* --- the cases ----------------------------------------------------------------------------- */

static void test_hundred_tasks_once_each(void **state)
{
	static const char *const ops[] = { "provision", "observe", "suspend", "resume", "archive", "destroy" };
	struct fixture *f = *state;
	bool served_by[3] = { false, false, false };
	int64_t start = tnd_monotonic_us();

	for (int i = 0; i < 100; i++) {
		char id[32], tenant[32];
		snprintf(id, sizeof(id), "task-%03d", i);
		snprintf(tenant, sizeof(tenant), "tenant-%d", i);
		wt_submit(f->pool, id, i % 2 ? "good_isolation" : "flaky_isolation", ops[i % 6],
			  json_pack("{s:s}", "tenantId", tenant), 10000, 3);
	}
	assert_true(wt_wait_done(&f->results, 100, 20000));
	fprintf(stderr, "100 tasks on 2 workers: %.1f ms\n", (double)(tnd_monotonic_us() - start) / 1000.0);
	for (int i = 0; i < 100; i++) {
		struct wt_done d;
		char id[32], tenant[32];
		snprintf(id, sizeof(id), "task-%03d", i);
		snprintf(tenant, sizeof(tenant), "tenant-%d", i);
		assert_int_equal(wt_count(&f->results, id, &d), 1);
		assert_int_equal(d.rc, 0);
		assert_int_equal(d.dispatches, 1);
		assert_non_null(json_object_get(d.result, "resources"));
		if (i % 2 == 0) {
			/* the flaky plugin echoes the request and names the op it ran */
			assert_string_equal(json_string_value(json_object_get(d.result, "echo")), tenant);
			assert_string_equal(json_string_value(json_object_get(d.result, "op")), ops[i % 6]);
		}
		assert_true(tnd_streq(d.worker_id, "local-1") || tnd_streq(d.worker_id, "local-2"));
		served_by[d.worker_id[6] - '0'] = true;
	}
	/* two idle workers at the first dispatch: each got work */
	assert_true(served_by[1] && served_by[2]);
	wt_sleep_ms(300);
	assert_int_equal(f->results.n, 100); /* and nothing arrives twice later */
}

static void test_submit_refusals(void **state)
{
	struct fixture *f = *state;
	char *marker = scratch(f, "slow-once");
	json_t *request = json_pack("{s:s, s:i, s:s}", "tenantId", "t1", "sleepMs", 800, "once", marker);
	struct worker_task task = { "dup", "flaky_isolation", "provision", request, 10000, 1 };
	struct worker_task bad = task;

	assert_int_equal(worker_pool_submit(f->pool, &task), 0);
	assert_int_equal(worker_pool_submit(f->pool, &task), -EEXIST);
	bad.id = "bad";
	bad.op = "explode";
	assert_int_equal(worker_pool_submit(f->pool, &bad), -EINVAL);
	bad.op = "observe";
	bad.max_dispatches = 0;
	assert_int_equal(worker_pool_submit(f->pool, &bad), -EINVAL);
	bad.max_dispatches = 1;
	bad.lease_ms = 0;
	assert_int_equal(worker_pool_submit(f->pool, &bad), -EINVAL);
	assert_true(wt_wait_done(&f->results, 1, 5000));
	/* done: the id is free again */
	assert_int_equal(worker_pool_submit(f->pool, &task), 0);
	assert_true(wt_wait_done(&f->results, 2, 5000));
	assert_int_equal(wt_count(&f->results, "dup", NULL), 2);
	json_decref(request);
	free(marker);
}

static void test_killed_worker(void **state)
{
	struct fixture *f = *state;
	char *pid_file = scratch(f, "victim.pid"), *marker = scratch(f, "victim-once");
	unsigned one = 1, two = 2;
	struct wt_done d;
	long victim = 0;

	wt_submit(f->pool, "victim", "flaky_isolation", "provision",
		  json_pack("{s:s, s:s, s:s, s:i}", "tenantId", "t1", "pidFile", pid_file, "once", marker, "sleepMs",
			    20000),
		  30000, 3);
	assert_true(wt_wait_stats(f->pool, pred_running, &one, 5000));
	for (int i = 0; i < 500 && victim == 0; i++, wt_sleep_ms(10))
		victim = wt_read_number(pid_file);
	assert_true(victim > 0);
	assert_int_equal(kill((pid_t)victim, SIGKILL), 0);

	assert_true(wt_wait_done(&f->results, 1, 10000));
	assert_int_equal(wt_count(&f->results, "victim", &d), 1);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.dispatches, 2);
	assert_true(json_integer_value(json_object_get(d.result, "pid")) != victim);
	/* the killed worker comes back */
	assert_true(wt_wait_stats(f->pool, pred_respawned, &two, 10000));
	assert_int_equal(kill((pid_t)victim, 0), -1);
	assert_int_equal(errno, ESRCH);
	free(pid_file);
	free(marker);
}

static void test_silent_worker(void **state)
{
	struct fixture *f = *state;
	char *pid_file = scratch(f, "frozen.pid"), *marker = scratch(f, "frozen-once");
	uint64_t late_before = wt_dropped("stale_dispatch") + wt_dropped("unknown_peer");
	unsigned one = 1, two = 2;
	struct worker_pool_stats stats;
	struct wt_done d;
	long frozen = 0;

	wt_submit(f->pool, "frozen", "flaky_isolation", "provision",
		  json_pack("{s:s, s:s, s:s, s:i}", "tenantId", "t1", "pidFile", pid_file, "once", marker, "sleepMs",
			    1500),
		  30000, 3);
	assert_true(wt_wait_stats(f->pool, pred_running, &one, 5000));
	for (int i = 0; i < 500 && frozen == 0; i++, wt_sleep_ms(10))
		frozen = wt_read_number(pid_file);
	assert_true(frozen > 0);
	/* alive but silent: no exit to reap, only the heartbeat timeout (1 s) tells */
	assert_int_equal(kill((pid_t)frozen, SIGSTOP), 0);
	assert_true(wt_wait_done(&f->results, 1, 5000));
	assert_int_equal(wt_count(&f->results, "frozen", &d), 1);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.dispatches, 2);
	assert_true(json_integer_value(json_object_get(d.result, "pid")) != frozen);
	worker_pool_stats(f->pool, &stats);
	assert_int_equal(stats.workers_ready, 1);

	/* thawed, it finds the core silent and registers again; its late result is
	 * dropped: as stale once it re-registered, from an unknown peer before */
	assert_int_equal(kill((pid_t)frozen, SIGCONT), 0);
	assert_true(wt_wait_stats(f->pool, pred_idle, &two, 10000));
	for (int i = 0; i < 300 && wt_dropped("stale_dispatch") + wt_dropped("unknown_peer") == late_before; i++)
		wt_sleep_ms(10);
	assert_true(wt_dropped("stale_dispatch") + wt_dropped("unknown_peer") > late_before);
	worker_pool_stats(f->pool, &stats);
	assert_int_equal(stats.respawns, 0);
	assert_int_equal(wt_count(&f->results, "frozen", NULL), 1);
	free(pid_file);
	free(marker);
}

static void test_lease_runs_out(void **state)
{
	struct fixture *f = *state;
	char *marker = scratch(f, "slow-once");
	uint64_t stale_before = wt_dropped("stale_dispatch");
	struct worker_pool_stats before, after;
	unsigned two = 2;
	struct wt_done d;

	worker_pool_stats(f->pool, &before);
	wt_submit(f->pool, "slow", "flaky_isolation", "provision",
		  json_pack("{s:s, s:s, s:i}", "tenantId", "t1", "once", marker, "sleepMs", 1500), 400, 3);
	assert_true(wt_wait_done(&f->results, 1, 5000));
	assert_int_equal(wt_count(&f->results, "slow", &d), 1);
	assert_int_equal(d.rc, 0);
	assert_int_equal(d.dispatches, 2);
	/* the first worker finishes its sleep and answers for dispatch 1 */
	assert_true(wt_wait_stats(f->pool, pred_idle, &two, 5000));
	wt_sleep_ms(200);
	assert_int_equal(wt_count(&f->results, "slow", NULL), 1);
	assert_int_equal(wt_dropped("stale_dispatch"), stale_before + 1);
	worker_pool_stats(f->pool, &after);
	assert_int_equal(after.frames_dropped, before.frames_dropped + 1);
	free(marker);
}

static void test_dispatches_exhausted(void **state)
{
	struct fixture *f = *state;
	int64_t start = tnd_monotonic_us();
	unsigned two = 2;
	struct wt_done d;

	wt_submit(f->pool, "hopeless", "flaky_isolation", "observe",
		  json_pack("{s:s, s:i}", "tenantId", "t1", "sleepMs", 1500), 300, 2);
	assert_true(wt_wait_done(&f->results, 1, 5000));
	assert_int_equal(wt_count(&f->results, "hopeless", &d), 1);
	assert_int_equal(d.rc, -ETIMEDOUT);
	assert_int_equal(d.dispatches, 2);
	assert_non_null(strstr(d.error, "no result after 2 dispatch(es)"));
	assert_string_equal(d.worker_id, "");
	/* two leases of 300 ms, well before either sleep ended */
	assert_true(tnd_monotonic_us() - start < 1400 * 1000);
	assert_true(wt_wait_stats(f->pool, pred_idle, &two, 5000));
	wt_sleep_ms(200);
	assert_int_equal(wt_count(&f->results, "hopeless", NULL), 1);
}

static void test_plugin_errors(void **state)
{
	struct fixture *f = *state;
	struct wt_done d;

	wt_submit(f->pool, "fails", "flaky_isolation", "suspend", json_pack("{s:s, s:i}", "tenantId", "t1", "fail", 11),
		  5000, 3);
	wt_submit(f->pool, "garbage", "flaky_isolation", "resume",
		  json_pack("{s:s, s:b}", "tenantId", "t1", "garbage", 1), 5000, 3);
	wt_submit(f->pool, "huge", "flaky_isolation", "observe",
		  json_pack("{s:s, s:i}", "tenantId", "t1", "bigResult", 1100000), 5000, 3);
	assert_true(wt_wait_done(&f->results, 3, 10000));

	assert_int_equal(wt_count(&f->results, "fails", &d), 1);
	assert_int_equal(d.rc, -EAGAIN); /* 11 */
	assert_string_equal(d.error, "flaky failure");
	assert_null(d.result);
	assert_int_equal(d.dispatches, 1);

	assert_int_equal(wt_count(&f->results, "garbage", &d), 1);
	assert_int_equal(d.rc, -EPROTO);
	assert_non_null(strstr(d.error, "not a JSON object"));
	assert_null(d.result);

	assert_int_equal(wt_count(&f->results, "huge", &d), 1);
	assert_int_equal(d.rc, -EMSGSIZE);
	assert_non_null(strstr(d.error, "exceeds"));
}

static void test_stop_completes_pending(void **state)
{
	struct fixture *f = *state;
	char *pid_files[2] = { scratch(f, "a.pid"), scratch(f, "b.pid") };
	unsigned two = 2;
	pid_t pids[2];
	int64_t start;

	for (int i = 0; i < 2; i++) {
		char id[16];
		snprintf(id, sizeof(id), "long-%d", i);
		wt_submit(f->pool, id, "flaky_isolation", "provision",
			  json_pack("{s:s, s:s, s:i}", "tenantId", "t1", "pidFile", pid_files[i], "sleepMs", 30000),
			  60000, 3);
	}
	for (int i = 0; i < 3; i++) {
		char id[16];
		snprintf(id, sizeof(id), "queued-%d", i);
		wt_submit(f->pool, id, "good_isolation", "observe", json_pack("{s:s}", "tenantId", "t1"), 60000, 3);
	}
	/* a plugin nobody serves: it waits in the queue */
	wt_submit(f->pool, "orphan", "no_such_plugin", "observe", json_pack("{}"), 60000, 3);
	assert_true(wt_wait_stats(f->pool, pred_running, &two, 5000));
	for (int i = 0; i < 2; i++) {
		for (int t = 0; t < 500 && wt_read_number(pid_files[i]) == 0; t++)
			wt_sleep_ms(10);
		pids[i] = (pid_t)wt_read_number(pid_files[i]);
		assert_true(pids[i] > 0);
	}
	/* both workers are asleep in their ops: nothing has completed */
	assert_int_equal(f->results.n, 0);

	start = tnd_monotonic_us();
	worker_pool_stop(f->pool);
	f->pool = NULL;
	/* the workers abandon their ops within their grace, well before our 5 s */
	assert_true(tnd_monotonic_us() - start < 4500 * 1000);
	assert_int_equal(f->results.n, 6);
	for (size_t i = 0; i < f->results.n; i++) {
		assert_int_equal(f->results.items[i].rc, -ESHUTDOWN);
		assert_null(f->results.items[i].result);
	}
	assert_int_equal(wt_count(&f->results, "orphan", NULL), 1);
	/* no child left, not even a zombie */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(kill(pids[i], 0), -1);
		assert_int_equal(errno, ESRCH);
	}
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	free(pid_files[0]);
	free(pid_files[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hundred_tasks_once_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_worker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_runs_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dispatches_exhausted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plugin_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_completes_pending, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
