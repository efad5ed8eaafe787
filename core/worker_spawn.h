/*
 * worker_spawn.h — the core's local worker processes: starting them with
 * fork+exec, reaping them, restarting them with exponential backoff, and
 * ending them at stop.  Used by the worker pool's I/O thread only (it
 * polls for exits; there is no SIGCHLD handler).
 */
#ifndef TND_WORKER_SPAWN_H
#define TND_WORKER_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

#define WORKER_SPAWN_BACKOFF_MIN_MS 100
#define WORKER_SPAWN_BACKOFF_MAX_MS 10000
/* a worker that lived this long restarts the backoff from the minimum */
#define WORKER_SPAWN_STABLE_MS 60000

struct worker_spawner;

struct worker_spawn_options {
	const char *command;      /* the tenancyd-worker executable */
	const char *config_path;  /* handed to -c */
	const char *endpoint;     /* handed to --connect */
	int count;                /* workers local-1 .. local-<count> */
};

/** Called for each worker process that exited (reaped), with its id and pid. */
typedef void worker_exit_fn(const char *worker_id, pid_t pid, void *userdata);

struct worker_spawner *worker_spawner_new(const struct worker_spawn_options *opts);

/**
 * Reap the workers that exited (calling @on_exit for each) and start the
 * ones whose (re)start is due.  Returns when something is due next
 * (tnd_monotonic_us() clock), INT64_MAX if nothing is.
 */
int64_t worker_spawner_tick(struct worker_spawner *spawner, worker_exit_fn *on_exit, void *userdata);

/** Restarts after an exit so far. */
uint64_t worker_spawner_respawns(const struct worker_spawner *spawner);

/** SIGTERM every worker, wait up to @grace_ms for them to exit, SIGKILL the
 *  rest, and reap all of them.  Nothing is restarted afterwards. */
void worker_spawner_stop(struct worker_spawner *spawner, int64_t grace_ms);

/** Accepts NULL; call worker_spawner_stop() first. */
void worker_spawner_free(struct worker_spawner *spawner);

#endif /* TND_WORKER_SPAWN_H */
