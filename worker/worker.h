/*
 * worker.h — the parts of tenancyd-worker (worker/): the session with the
 * core (worker_session.c) and the thread that runs plugin ops
 * (worker_runner.c).  The program's entry point is worker_main.c.
 */
#ifndef TND_WORKER_H
#define TND_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "log.h"
#include "plugin_loader.h"

/* Every line of the worker carries its id: {"workerId":"..."} (ids need no escaping). */
extern char worker_log_fields[];
#define worker_log(level, ...) log_emit((level), "worker", worker_log_fields, __VA_ARGS__)

/* --- the op thread ---------------------------------------------------------------- */

/** One TASK: handed to the runner, handed back with the outcome filled in. */
struct worker_job {
	char *task_id;
	int dispatch;
	char *plugin;
	char *op;
	json_t *request;
	/* the outcome */
	int rc;
	json_t *result;  /* rc == 0: a JSON object */
	char *error;     /* rc != 0: never NULL */
};

struct worker_job *worker_job_new(const char *task_id, int dispatch, const char *plugin, const char *op,
				  json_t *request);
void worker_job_free(struct worker_job *job);

struct worker_runner;

/** Start the op thread; it runs ops of the isolation plugins in @plugins. */
int worker_runner_start(void *zmq_ctx, const struct plugin_set *plugins, struct worker_runner **ret_runner);
/** The socket to poll: readable when a job is finished. */
void *worker_runner_socket(struct worker_runner *runner);
/** Hand @job over (the runner must be idle). */
int worker_runner_run(struct worker_runner *runner, struct worker_job *job);
/** The finished job (handed back to the caller), or NULL if none is. */
struct worker_job *worker_runner_finished(struct worker_runner *runner);
/** The job running now, or NULL. */
const struct worker_job *worker_runner_current(const struct worker_runner *runner);
/** Stop and free an idle runner.  -EBUSY (and nothing done) while an op runs. */
int worker_runner_stop(struct worker_runner *runner);

/* how long SHUTDOWN or SIGTERM waits for a running op before abandoning it */
#define WORKER_FINISH_GRACE_MS 2000

/* --- the session with the core --------------------------------------------------- */

struct worker_session_options {
	const char *worker_id;
	const char *endpoint;
	/* Z85 keys for CURVE, all NULL on ipc:// */
	const char *server_key;
	const char *public_key;
	const char *secret_key;
	const char *const *plugin_names; /* what this worker serves */
	size_t n_plugins;
	int signal_fd;                   /* signalfd for SIGTERM and SIGINT */
	bool spawned_by_core;            /* a local worker: the core forked it, watches its exit and
					    ties its life to its own (PR_SET_PDEATHSIG) */
};

/**
 * Serve the core until SHUTDOWN or a signal: connect, HELLO, heartbeats,
 * tasks; reconnect whenever the core falls silent.  Returns the process
 * exit code.  Exits the process directly when it must abandon a running op.
 */
int worker_session_run(void *zmq_ctx, const struct worker_session_options *opts, struct worker_runner *runner);

#endif /* TND_WORKER_H */
