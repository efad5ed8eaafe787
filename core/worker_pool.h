/*
 * worker_pool.h — the core's side of the worker processes: it binds the
 * ROUTER socket, spawns and supervises local workers (tenancyd-worker),
 * accepts remote ones (tcp:// with CURVE), exchanges heartbeats, hands out
 * tasks (one isolation-plugin op each) and reports their results.
 *
 * Tasks are leased: a task with no result within its lease, or whose worker
 * stops heartbeating or exits, is dispatched again (to any worker).  A late
 * result of a superseded dispatch is dropped, so each submit() produces
 * exactly one done() call.  Plugin ops are idempotent, which is what makes
 * a second dispatch safe.
 *
 * The wire protocol is docs/worker-protocol.md.  Frames that are malformed,
 * oversized, of another protocol version or from an unknown peer are
 * dropped and counted (metric tenancyd_worker_frames_dropped_total).
 */
#ifndef TND_WORKER_POOL_H
#define TND_WORKER_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <tenancyd/plugin.h>

struct tnd_conf;
struct worker_pool;

/** One plugin op to run on some worker. */
struct worker_task {
	const char *id;          /* unique; names the task in done() and logs */
	const char *plugin;      /* isolation plugin name, as configured */
	const char *op;          /* provision, observe, suspend, resume, archive, destroy */
	const json_t *request;   /* the isolation request (tenancyd/isolation.h); copied */
	int64_t lease_ms;        /* re-dispatch when unanswered this long */
	int max_dispatches;      /* give up with -ETIMEDOUT after this many leases (>= 1) */
};

struct worker_result {
	int rc;                  /* the plugin's return (0 or -errno); -ETIMEDOUT: every lease ran out;
				    -ESHUTDOWN: the pool stopped first */
	json_t *result;          /* the plugin's result document when rc == 0 (borrowed), else NULL */
	const char *error;       /* the plugin's error text when rc != 0 (borrowed), else "" */
	const char *worker_id;   /* the worker that answered, or "" */
	double duration_ms;      /* submit to answer */
	int dispatches;          /* how many times it was handed out */
};

/**
 * Called once per submitted task, on the pool's own thread: keep it short
 * (queue the result and return).  Borrowed pointers die when it returns.
 */
typedef void worker_done_fn(const char *task_id, const struct worker_result *result, void *userdata);

/**
 * Bind conf->workers.endpoint, start the I/O thread, and spawn
 * conf->daemon.workers local workers running `<command> -c @config_path
 * --connect <endpoint> --id local-N` (respawned with backoff when they
 * exit).  Remote workers may connect too when the endpoint is tcp://.
 */
int worker_pool_start(const struct tnd_conf *conf, const char *config_path, worker_done_fn *done,
		      void *userdata, struct worker_pool **ret_pool, struct tnd_error *err);

/** Queue a task (thread-safe).  -EEXIST if a task with that id is pending. */
int worker_pool_submit(struct worker_pool *pool, const struct worker_task *task);

struct worker_pool_stats {
	unsigned workers_ready;      /* connected and heartbeating */
	unsigned workers_busy;       /* running a task */
	unsigned tasks_queued;       /* waiting for a worker */
	unsigned tasks_running;
	uint64_t frames_dropped;     /* malformed, oversized, wrong version, unknown peer */
	uint64_t respawns;           /* local workers restarted after an exit */
};
void worker_pool_stats(struct worker_pool *pool, struct worker_pool_stats *ret_stats);

/** Stop: no new dispatches, pending tasks complete with -ESHUTDOWN, workers
 *  are told to exit (and killed after a grace period).  Accepts NULL. */
void worker_pool_stop(struct worker_pool *pool);

#endif /* TND_WORKER_POOL_H */
