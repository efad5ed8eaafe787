/*
 * worker_testlib.c — helpers shared by the worker tests (worker_testlib.h).
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"
#include "testutil.h"
#include "tokens.h"
#include "util.h"
#include "worker_testlib.h"

#define WT_QUOTAS "quotas: { compute_units = 1; storage_gb = 1; events_per_minute = 60; concurrent_operations = 1; };"

void wt_sleep_ms(int ms)
{
	struct timespec t = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

void wt_env_init(struct wt_env *env, const char *tag, int n_workers)
{
	struct tnd_error err = { "" };
	char token[TND_TOKEN_SIZE];
	char *line, *text, *state;

	memset(env, 0, sizeof(*env));
	env->dir = testutil_mkdtemp(tag);
	state = tnd_xasprintf("%s/state", env->dir);
	assert_int_equal(tnd_mkdir_p(state, 0700), 0);
	free(state);
	tokens_generate(token);
	line = tokens_format_line("ops", TND_ROLE_OPERATOR, token, NULL);
	free(testutil_write_file(env->dir, "tokens", line, 0600));
	free(line);
	/* isolation plugins make the credentials key mandatory (32 bytes, base64) */
	free(testutil_write_file(env->dir, "credentials.key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", 0600));
	text = tnd_xasprintf("daemon: { state_dir = \"state\"; log_level = \"warning\"; workers = %d; };\n"
			     "reconcile: { credentials_key_file = \"credentials.key\"; };\n"
			     "api: { listen = \"127.0.0.1:0\"; tokens_file = \"tokens\"; };\n"
			     "plugins: {\n"
			     "  dir = \"%s/tests/fixtures/plugins/.libs\";\n"
			     "  allow_unsafe_permissions = true;\n"
			     "  storage: { name = \"good_storage\"; };\n"
			     "  isolation = ( { name = \"good_isolation\"; }, { name = \"flaky_isolation\"; } );\n"
			     "};\n"
			     "regions = ( { name = \"eu-west-1\"; residency = \"eu\"; } );\n"
			     "plans = ( { code = \"free\"; isolation = [ \"shared\" ]; default_residency = \"eu\";\n"
			     "  " WT_QUOTAS " } );\n",
			     n_workers, testutil_builddir());
	env->config_path = testutil_write_file(env->dir, "tenancyd.conf", text, 0600);
	free(text);
	if (conf_load(env->config_path, &env->conf, &err) < 0)
		fail_msg("test config: %s", err.message);

	/* the test drives the `workers` section through the snapshot itself */
	env->saved_endpoint = env->conf->workers.endpoint;
	env->saved_command = env->conf->workers.command;
	env->saved_secret = env->conf->workers.curve_secret_key_file;
	env->saved_authorized = env->conf->workers.authorized_keys_file;
	/* TND_TEST_WORKER_COMMAND: e.g. a script running the worker under valgrind */
	env->command = getenv("TND_TEST_WORKER_COMMAND")
			       ? tnd_xstrdup(getenv("TND_TEST_WORKER_COMMAND"))
			       : tnd_xasprintf("%s/tenancyd-worker", testutil_builddir());
	env->conf->workers.command = env->command;
	env->conf->workers.heartbeat_interval_ms = 100;
	env->conf->workers.heartbeat_timeout_ms = 1000;
}

void wt_env_set_endpoint(struct wt_env *env, const char *endpoint, const char *secret_key_file,
			 const char *authorized_keys_file)
{
	free(env->endpoint);
	free(env->secret);
	free(env->authorized);
	env->endpoint = endpoint ? tnd_xstrdup(endpoint) : NULL;
	env->secret = secret_key_file ? tnd_xstrdup(secret_key_file) : NULL;
	env->authorized = authorized_keys_file ? tnd_xstrdup(authorized_keys_file) : NULL;
	env->conf->workers.endpoint = env->endpoint;
	env->conf->workers.curve_secret_key_file = env->secret;
	env->conf->workers.authorized_keys_file = env->authorized;
}

void wt_env_free(struct wt_env *env)
{
	env->conf->workers.endpoint = env->saved_endpoint;
	env->conf->workers.command = env->saved_command;
	env->conf->workers.curve_secret_key_file = env->saved_secret;
	env->conf->workers.authorized_keys_file = env->saved_authorized;
	conf_unref(env->conf);
	free(env->endpoint);
	free(env->command);
	free(env->secret);
	free(env->authorized);
	free(env->config_path);
	testutil_rmrf(env->dir);
	free(env->dir);
	memset(env, 0, sizeof(*env));
}

/* --- results ------------------------------------------------------------------------ */

void wt_results_init(struct wt_results *res)
{
	memset(res, 0, sizeof(*res));
	pthread_mutex_init(&res->lock, NULL);
	pthread_cond_init(&res->cond, NULL);
}

void wt_results_free(struct wt_results *res)
{
	for (size_t i = 0; i < res->n; i++) {
		free(res->items[i].task_id);
		free(res->items[i].error);
		free(res->items[i].worker_id);
		json_decref(res->items[i].result);
	}
	free(res->items);
	pthread_mutex_destroy(&res->lock);
	pthread_cond_destroy(&res->cond);
}

void wt_done_cb(const char *task_id, const struct worker_result *result, void *userdata)
{
	struct wt_results *res = userdata;
	struct wt_done *d;

	pthread_mutex_lock(&res->lock);
	res->items = tnd_xrealloc(res->items, (res->n + 1) * sizeof(*res->items));
	d = &res->items[res->n++];
	d->task_id = tnd_xstrdup(task_id);
	d->rc = result->rc;
	d->error = tnd_xstrdup(result->error);
	d->worker_id = tnd_xstrdup(result->worker_id);
	d->dispatches = result->dispatches;
	d->result = result->result ? json_deep_copy(result->result) : NULL;
	pthread_cond_broadcast(&res->cond);
	pthread_mutex_unlock(&res->lock);
}

bool wt_wait_done(struct wt_results *res, size_t n, int timeout_ms)
{
	struct timespec deadline;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&res->lock);
	while (res->n < n)
		if (pthread_cond_timedwait(&res->cond, &res->lock, &deadline) == ETIMEDOUT)
			break;
	ok = res->n >= n;
	pthread_mutex_unlock(&res->lock);
	return ok;
}

size_t wt_count(struct wt_results *res, const char *task_id, struct wt_done *ret)
{
	size_t count = 0;

	pthread_mutex_lock(&res->lock);
	for (size_t i = 0; i < res->n; i++)
		if (strcmp(res->items[i].task_id, task_id) == 0) {
			if (count == 0 && ret)
				*ret = res->items[i]; /* shallow: the collector keeps owning it */
			count++;
		}
	pthread_mutex_unlock(&res->lock);
	return count;
}

/* --- the pool ------------------------------------------------------------------------- */

void wt_submit(struct worker_pool *pool, const char *id, const char *plugin, const char *op, json_t *request,
	       int64_t lease_ms, int max_dispatches)
{
	struct worker_task task = {
		.id = id,
		.plugin = plugin,
		.op = op,
		.request = request,
		.lease_ms = lease_ms,
		.max_dispatches = max_dispatches,
	};

	assert_int_equal(worker_pool_submit(pool, &task), 0);
	json_decref(request);
}

bool wt_wait_stats(struct worker_pool *pool, bool (*pred)(const struct worker_pool_stats *, void *), void *arg,
		   int timeout_ms)
{
	int64_t deadline = tnd_monotonic_us() + (int64_t)timeout_ms * 1000;

	for (;;) {
		struct worker_pool_stats s;

		worker_pool_stats(pool, &s);
		if (pred(&s, arg))
			return true;
		if (tnd_monotonic_us() >= deadline)
			return false;
		wt_sleep_ms(10);
	}
}

bool wt_pred_ready(const struct worker_pool_stats *s, void *arg)
{
	return s->workers_ready == *(unsigned *)arg;
}

uint64_t wt_dropped(const char *reason)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
	return metrics_counter_get("tenancyd_worker_frames_dropped_total", labels);
}

/* --- processes ------------------------------------------------------------------------- */

long wt_read_number(const char *path)
{
	struct tnd_error err;
	char *text = NULL;
	long n;

	if (tnd_read_file(path, 64, &text, NULL, &err) < 0)
		return 0;
	n = strtol(text, NULL, 10);
	free(text);
	return n;
}

pid_t wt_spawn_worker(const char *const *args)
{
	char *argv[32];
	size_t n = 0;
	pid_t pid;

	argv[n++] = tnd_xasprintf("%s/tenancyd-worker", testutil_builddir());
	for (; args[n - 1] && n < TND_ARRAY_SIZE(argv) - 1; n++)
		argv[n] = (char *)args[n - 1];
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	free(argv[0]);
	return pid;
}

int wt_wait_exit(pid_t pid, int timeout_ms)
{
	int64_t deadline = tnd_monotonic_us() + (int64_t)timeout_ms * 1000;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (tnd_monotonic_us() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		wt_sleep_ms(10);
	}
}
