/*
 * worker_testlib.h — what the worker tests share: a scratch directory with
 * a tenancyd.conf naming the fixture isolation plugins, a collector for
 * the pool's done() calls, and running tenancyd-worker by hand.
 */
#ifndef TND_WORKER_TESTLIB_H
#define TND_WORKER_TESTLIB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "conf.h"
#include "worker_pool.h"

struct wt_env {
	char *dir;           /* scratch directory (removed by wt_env_free) */
	char *config_path;
	struct tnd_conf *conf;
	/* what conf_load put into conf->workers, restored before the unref */
	char *saved_endpoint, *saved_command, *saved_secret, *saved_authorized;
	char *endpoint, *command, *secret, *authorized;
};

/** A config with @n_workers local workers and the good_isolation and
 *  flaky_isolation fixtures; fast heartbeats (100 ms / 1000 ms). */
void wt_env_init(struct wt_env *env, const char *tag, int n_workers);
/** Set conf->workers.endpoint (and the CURVE files, NULL for none). */
void wt_env_set_endpoint(struct wt_env *env, const char *endpoint, const char *secret_key_file,
			 const char *authorized_keys_file);
void wt_env_free(struct wt_env *env);

/** One done() call. */
struct wt_done {
	char *task_id;
	int rc;
	char *error;
	char *worker_id;
	int dispatches;
	json_t *result;
};

struct wt_results {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct wt_done *items;
	size_t n;
};

void wt_results_init(struct wt_results *res);
void wt_results_free(struct wt_results *res);
/** The worker_done_fn to hand to worker_pool_start (userdata: struct wt_results *). */
void wt_done_cb(const char *task_id, const struct worker_result *result, void *userdata);
/** Wait until at least @n done() calls arrived; false on timeout. */
bool wt_wait_done(struct wt_results *res, size_t n, int timeout_ms);
/** How many done() calls named @task_id; the first one in *@ret (may be NULL). */
size_t wt_count(struct wt_results *res, const char *task_id, struct wt_done *ret);

/** Submit (asserting success) a task; @request is stolen. */
void wt_submit(struct worker_pool *pool, const char *id, const char *plugin, const char *op, json_t *request,
	       int64_t lease_ms, int max_dispatches);
/** Poll worker_pool_stats until @pred holds; false on timeout. */
bool wt_wait_stats(struct worker_pool *pool, bool (*pred)(const struct worker_pool_stats *, void *), void *arg,
		   int timeout_ms);
bool wt_pred_ready(const struct worker_pool_stats *s, void *arg); /* arg: (unsigned *) wanted workers_ready */

/** The number in the file (a pid the flaky plugin wrote), or 0 if none yet. */
long wt_read_number(const char *path);
/** tenancyd-worker from the build tree with @args (NULL-terminated, after argv[0]). */
pid_t wt_spawn_worker(const char *const *args);
/** Wait for @pid to exit (up to @timeout_ms); its wait status, or -1 on timeout (then it is killed). */
int wt_wait_exit(pid_t pid, int timeout_ms);
void wt_sleep_ms(int ms);
/** The counter tenancyd_worker_frames_dropped_total{reason="@reason"}. */
uint64_t wt_dropped(const char *reason);

#endif /* TND_WORKER_TESTLIB_H */
