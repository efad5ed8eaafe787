/*
 * worker_pool.c — the core's side of the worker processes (worker_pool.h,
 * docs/worker-protocol.md): the ROUTER socket, worker registrations,
 * FIFO dispatch, leases, heartbeats, and the hand-off of results.
 *
 * One I/O thread owns the ROUTER socket and everything about workers and
 * dispatched tasks; ZeroMQ sockets are not thread-safe, so other threads
 * never touch them.  submit() and stats() share only a small part with it,
 * under `lock`: the ids of pending tasks (for -EEXIST), the inbox of new
 * tasks, the stop flag and the published stats.  submit() wakes the I/O
 * thread through an eventfd that zmq_poll() watches next to the socket.
 *
 * Binding the endpoints is worker_listen.c, local worker processes
 * worker_spawn.c, CURVE and ZAP worker_curve.c, message checks
 * worker_proto.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <zmq.h>

#include "buildtree.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "worker_listen.h"
#include "worker_pool.h"
#include "worker_proto.h"
#include "worker_spawn.h"

#define LOG_COMPONENT "workers"

#define POOL_STOP_GRACE_MS 5000
/* exits of local workers are noticed by polling waitpid at least this often */
#define POOL_POLL_CAP_MS 100
#define POOL_RECV_BATCH 256
/* room for the TASK envelope around a request */
#define POOL_REQUEST_MAX (WORKER_PROTO_MAX_MESSAGE - 4096)
#define POOL_WORKER_BINARY "tenancyd-worker"

static const char *const pool_ops[] = { "provision", "observe", "suspend", "resume", "archive", "destroy" };

struct pool_task {
	char *id;
	char *plugin;
	char *op;
	json_t *request;
	int64_t lease_ms;
	int max_dispatches;
	int dispatches;
	int64_t submitted_us;
	int64_t lease_deadline_us;
	struct pool_worker *worker; /* holding the current lease, or NULL */
	struct pool_task *prev, *next; /* inbox or queue */
};

struct pool_worker {
	char id[WORKER_PROTO_ID_MAX + 1];
	size_t id_len;
	int64_t pid;
	char **plugins;
	size_t n_plugins;
	struct pool_task *task; /* current lease */
	int task_dispatch;
	/* running an op of a lease that ended (or from before its HELLO):
	 * given nothing until it answers or heartbeats that it is idle */
	bool stale_busy;
	char *stale_task_id;
	int stale_dispatch;
	int64_t last_seen_us;
	int64_t idle_since_us;
	struct pool_worker *next;
};

struct pool_list {
	struct pool_task *head, *tail;
};

struct worker_pool {
	worker_done_fn *done;
	void *userdata;
	int64_t interval_ms;
	int64_t timeout_ms;
	void *zmq_ctx;
	void *router;
	struct worker_listener listener;
	struct worker_spawner *spawner;
	int wake_fd;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;  /* guards the members below */
	void *task_ids;        /* tsearch() tree of pending tasks by id */
	struct pool_list inbox;
	bool stopping;
	struct worker_pool_stats stats;

	/* I/O thread only */
	struct pool_list queue;
	struct pool_worker *workers;
	int64_t next_heartbeat_us;
};

/* --- task lists and the pending-id tree ------------------------------------------------- */

static void pool_list_push_back(struct pool_list *list, struct pool_task *task)
{
	task->next = NULL;
	task->prev = list->tail;
	if (list->tail)
		list->tail->next = task;
	else
		list->head = task;
	list->tail = task;
}

static void pool_list_push_front(struct pool_list *list, struct pool_task *task)
{
	task->prev = NULL;
	task->next = list->head;
	if (list->head)
		list->head->prev = task;
	else
		list->tail = task;
	list->head = task;
}

static void pool_list_remove(struct pool_list *list, struct pool_task *task)
{
	if (task->prev)
		task->prev->next = task->next;
	else
		list->head = task->next;
	if (task->next)
		task->next->prev = task->prev;
	else
		list->tail = task->prev;
	task->prev = task->next = NULL;
}

static int pool_task_compare(const void *a, const void *b)
{
	return strcmp(((const struct pool_task *)a)->id, ((const struct pool_task *)b)->id);
}

/* The pending task named @id (call with lock held), or NULL. */
static struct pool_task *pool_task_find_locked(struct worker_pool *pool, const char *id)
{
	struct pool_task key = { .id = (char *)id };
	void *node = tfind(&key, &pool->task_ids, pool_task_compare);

	return node ? *(struct pool_task **)node : NULL;
}

static void pool_task_free(struct pool_task *task)
{
	free(task->id);
	free(task->plugin);
	free(task->op);
	json_decref(task->request);
	free(task);
}

/* --- metrics and drops ------------------------------------------------------------------ */

static void pool_drop(struct worker_pool *pool, enum worker_drop reason, const struct worker_frames *frames)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "reason=\"%s\"", worker_drop_name(reason));
	metrics_counter_add("tenancyd_worker_frames_dropped_total",
			    "Worker protocol messages dropped (malformed, oversized, wrong version, unknown peer)",
			    labels, 1);
	pthread_mutex_lock(&pool->lock);
	pool->stats.frames_dropped++;
	pthread_mutex_unlock(&pool->lock);
	/* debug only: a misbehaving peer must not be able to flood the log */
	log_debug("dropped a worker message (%s) of %zu frame(s), %zu bytes", worker_drop_name(reason),
		  frames ? frames->n_frames : 0, frames ? frames->total : 0);
}

/* --- completing tasks -------------------------------------------------------------------- */

static void pool_complete(struct worker_pool *pool, struct pool_task *task, int rc, json_t *result,
			  const char *error, const char *worker_id)
{
	struct worker_result res;
	char labels[64];
	const char *outcome = rc == 0 ? "ok" : rc == -ETIMEDOUT ? "timeout" : rc == -ESHUTDOWN ? "shutdown" : "error";

	pthread_mutex_lock(&pool->lock);
	tdelete(task, &pool->task_ids, pool_task_compare);
	pthread_mutex_unlock(&pool->lock);

	memset(&res, 0, sizeof(res));
	res.rc = rc;
	res.result = rc == 0 ? result : NULL;
	res.error = rc != 0 && error ? error : "";
	res.worker_id = worker_id ? worker_id : "";
	res.duration_ms = (double)(tnd_monotonic_us() - task->submitted_us) / 1000.0;
	res.dispatches = task->dispatches;
	snprintf(labels, sizeof(labels), "op=\"%s\"", task->op);
	metrics_observe("tenancyd_worker_task_duration_seconds", "Worker tasks, from submit to answer", labels,
			res.duration_ms / 1000.0);
	snprintf(labels, sizeof(labels), "outcome=\"%s\"", outcome);
	metrics_counter_add("tenancyd_worker_tasks_completed_total", "Worker tasks completed, by outcome", labels, 1);
	if (rc != 0 && rc != -ESHUTDOWN)
		log_info("task %s (%s %s) failed after %d dispatch(es): %s", task->id, task->plugin, task->op,
			 task->dispatches, res.error);
	pool->done(task->id, &res, pool->userdata);
	pool_task_free(task);
}

/* A lease ended without a result: dispatch again, or give up. */
static void pool_lease_ended(struct worker_pool *pool, struct pool_task *task, const char *why)
{
	task->worker = NULL;
	if (task->dispatches >= task->max_dispatches) {
		char error[160];
		snprintf(error, sizeof(error), "no result after %d dispatch(es) (last: %s)", task->dispatches, why);
		pool_complete(pool, task, -ETIMEDOUT, NULL, error, NULL);
		return;
	}
	log_notice("task %s (%s %s): %s; dispatching it again", task->id, task->plugin, task->op, why);
	/* it was submitted before anything queued behind it */
	pool_list_push_front(&pool->queue, task);
}

/* --- workers ------------------------------------------------------------------------------- */

static struct pool_worker *pool_worker_find(struct worker_pool *pool, const void *id, size_t len)
{
	for (struct pool_worker *w = pool->workers; w; w = w->next)
		if (w->id_len == len && memcmp(w->id, id, len) == 0)
			return w;
	return NULL;
}

static void pool_worker_free(struct pool_worker *w)
{
	for (size_t i = 0; i < w->n_plugins; i++)
		free(w->plugins[i]);
	free(w->plugins);
	free(w->stale_task_id);
	free(w);
}

/* Forget @w; its lease, if any, ends. */
static void pool_worker_lost(struct worker_pool *pool, struct pool_worker *w, const char *why)
{
	struct pool_worker **link;

	for (link = &pool->workers; *link && *link != w; link = &(*link)->next)
		;
	if (*link)
		*link = w->next;
	log_notice("worker %s (pid %" PRId64 ") is gone: %s", w->id, w->pid, why);
	if (w->task) {
		char reason[128];
		struct pool_task *task = w->task;
		snprintf(reason, sizeof(reason), "worker %s is gone (%s)", w->id, why);
		w->task = NULL;
		pool_lease_ended(pool, task, reason);
	}
	pool_worker_free(w);
}

static bool pool_worker_serves(const struct pool_worker *w, const char *plugin)
{
	for (size_t i = 0; i < w->n_plugins; i++)
		if (strcmp(w->plugins[i], plugin) == 0)
			return true;
	return false;
}

static void pool_worker_stale(struct pool_worker *w, const char *task_id, int dispatch)
{
	w->stale_busy = true;
	free(w->stale_task_id);
	w->stale_task_id = task_id ? tnd_xstrdup(task_id) : NULL;
	w->stale_dispatch = dispatch;
}

static void pool_worker_idle(struct pool_worker *w, int64_t now)
{
	w->stale_busy = false;
	free(w->stale_task_id);
	w->stale_task_id = NULL;
	w->idle_since_us = now;
}

/* Spawned worker @worker_id (pid @pid) exited: its registration is stale. */
static void pool_on_worker_exit(const char *worker_id, pid_t pid, void *userdata)
{
	struct worker_pool *pool = userdata;
	struct pool_worker *w = pool_worker_find(pool, worker_id, strlen(worker_id));

	if (w && w->pid == (int64_t)pid)
		pool_worker_lost(pool, w, "its process exited");
}

/* --- messages ------------------------------------------------------------------------------ */

static void pool_on_hello(struct worker_pool *pool, const struct worker_frames *frames, struct worker_msg *msg,
			  int64_t now)
{
	const char *id = msg->u.hello.worker_id;
	struct pool_worker *w;
	json_t *welcome, *name;
	size_t i;
	int r;

	if (strlen(id) != frames->identity_len || memcmp(id, frames->identity, frames->identity_len) != 0) {
		pool_drop(pool, WORKER_DROP_FIELDS, frames);
		return;
	}
	w = pool_worker_find(pool, id, frames->identity_len);
	if (w)
		pool_worker_lost(pool, w, "it registered again");

	w = tnd_xcalloc(1, sizeof(*w));
	memcpy(w->id, id, frames->identity_len);
	w->id_len = frames->identity_len;
	w->pid = msg->u.hello.pid;
	w->plugins = tnd_xcalloc(json_array_size(msg->u.hello.plugins) + 1, sizeof(*w->plugins));
	json_array_foreach(msg->u.hello.plugins, i, name)
		w->plugins[w->n_plugins++] = tnd_xstrdup(json_string_value(name));
	w->last_seen_us = now;
	w->idle_since_us = now;
	if (msg->u.hello.busy)
		pool_worker_stale(w, msg->u.hello.task_id, 0);

	welcome = worker_proto_welcome(pool->interval_ms, pool->timeout_ms);
	r = worker_proto_send(pool->router, w->id, w->id_len, WORKER_MSG_WELCOME, welcome);
	json_decref(welcome);
	if (r < 0) {
		log_warning("cannot welcome worker %s: %s", w->id, zmq_strerror(-r));
		pool_worker_free(w);
		return;
	}
	w->next = pool->workers;
	pool->workers = w;
	{
		char *plugins = json_dumps(msg->u.hello.plugins, JSON_COMPACT);
		log_info("worker %s registered (pid %" PRId64 ", version %s, plugins %s)%s", w->id, w->pid,
			 msg->u.hello.version, plugins ? plugins : "?",
			 w->stale_busy ? "; still busy with an earlier task" : "");
		free(plugins);
	}
}

static void pool_on_result(struct worker_pool *pool, struct pool_worker *w, const struct worker_frames *frames,
			   struct worker_msg *msg, int64_t now)
{
	const char *task_id = msg->u.result.task_id;
	int dispatch = msg->u.result.dispatch;
	struct pool_task *task = w->task, *pending;
	bool stale;

	if (task && strcmp(task->id, task_id) == 0 && w->task_dispatch == dispatch) {
		w->task = NULL;
		task->worker = NULL;
		pool_worker_idle(w, now);
		pool_complete(pool, task, msg->u.result.rc, msg->u.result.result, msg->u.result.error, w->id);
		return;
	}
	/* dispatch 0: announced in a HELLO, the number unknown */
	stale = w->stale_busy && tnd_streq(w->stale_task_id, task_id) &&
		(w->stale_dispatch == 0 || w->stale_dispatch == dispatch);
	if (!stale) {
		pthread_mutex_lock(&pool->lock);
		pending = pool_task_find_locked(pool, task_id);
		stale = pending != NULL && dispatch < pending->dispatches;
		pthread_mutex_unlock(&pool->lock);
	}
	pool_drop(pool, stale ? WORKER_DROP_STALE_DISPATCH : WORKER_DROP_FOREIGN_TASK, frames);
	/* a worker runs one op at a time: having answered, it is free */
	if (w->task == NULL)
		pool_worker_idle(w, now);
}

static void pool_on_message(struct worker_pool *pool, const struct worker_frames *frames, int64_t now)
{
	struct worker_msg msg;
	enum worker_drop reason;
	struct pool_worker *w;

	if (worker_proto_decode(WORKER_SIDE_CORE, frames, &msg, &reason) < 0) {
		pool_drop(pool, reason, frames);
		return;
	}
	if (msg.type == WORKER_MSG_HELLO) {
		pool_on_hello(pool, frames, &msg, now);
		worker_msg_clear(&msg);
		return;
	}
	w = pool_worker_find(pool, frames->identity, frames->identity_len);
	if (w == NULL) {
		pool_drop(pool, WORKER_DROP_UNKNOWN_PEER, frames);
		worker_msg_clear(&msg);
		return;
	}
	w->last_seen_us = now;
	switch (msg.type) {
	case WORKER_MSG_HEARTBEAT:
		/* while it holds a lease, a heartbeat may predate the TASK: ignore it */
		if (w->task == NULL) {
			if (msg.u.heartbeat.busy && !w->stale_busy)
				pool_worker_stale(w, msg.u.heartbeat.task_id, 0);
			else if (!msg.u.heartbeat.busy && w->stale_busy)
				pool_worker_idle(w, now);
		}
		break;
	case WORKER_MSG_RESULT:
		pool_on_result(pool, w, frames, &msg, now);
		break;
	case WORKER_MSG_BYE:
		pool_worker_lost(pool, w, "it said goodbye");
		break;
	default:
		break; /* decode() lets no other type through to the core */
	}
	worker_msg_clear(&msg);
}

static void pool_receive(struct worker_pool *pool)
{
	for (int i = 0; i < POOL_RECV_BATCH; i++) {
		struct worker_frames frames;
		int r = worker_proto_recv(pool->router, true, &frames);

		if (r < 0) {
			if (r != -EAGAIN && r != -EINTR)
				log_warning("receiving from workers: %s", zmq_strerror(-r));
			return;
		}
		pool_on_message(pool, &frames, tnd_monotonic_us());
		worker_frames_clear(&frames);
	}
}

/* --- dispatch, leases, heartbeats ------------------------------------------------------------ */

/* The idle worker serving @plugin that has waited longest, or NULL. */
static struct pool_worker *pool_pick_worker(struct worker_pool *pool, const char *plugin)
{
	struct pool_worker *best = NULL;

	for (struct pool_worker *w = pool->workers; w; w = w->next)
		if (w->task == NULL && !w->stale_busy && pool_worker_serves(w, plugin) &&
		    (best == NULL || w->idle_since_us < best->idle_since_us))
			best = w;
	return best;
}

static bool pool_any_idle(const struct worker_pool *pool)
{
	for (const struct pool_worker *w = pool->workers; w; w = w->next)
		if (w->task == NULL && !w->stale_busy)
			return true;
	return false;
}

static void pool_dispatch(struct worker_pool *pool, int64_t now)
{
	struct pool_task *task, *next;

	for (task = pool->queue.head; task && pool_any_idle(pool); task = next) {
		struct pool_worker *w = pool_pick_worker(pool, task->plugin);
		json_t *body;
		int r;

		next = task->next;
		if (w == NULL)
			continue; /* nobody serves its plugin right now; later tasks may still go */
		pool_list_remove(&pool->queue, task);
		task->dispatches++;
		body = worker_proto_task(task->id, task->dispatches, task->plugin, task->op, task->request);
		r = worker_proto_send(pool->router, w->id, w->id_len, WORKER_MSG_TASK, body);
		json_decref(body);
		if (r < 0) {
			/* not handed out: the dispatch does not count */
			task->dispatches--;
			pool_list_push_front(&pool->queue, task);
			pool_worker_lost(pool, w, r == -EHOSTUNREACH ? "its connection is closed" : "it stopped reading");
			next = pool->queue.head;
			continue;
		}
		w->task = task;
		w->task_dispatch = task->dispatches;
		task->worker = w;
		task->lease_deadline_us = now + task->lease_ms * 1000;
		metrics_counter_add("tenancyd_worker_tasks_dispatched_total", "Tasks handed to a worker", NULL, 1);
		if (task->dispatches > 1)
			metrics_counter_add("tenancyd_worker_tasks_redispatched_total",
					    "Tasks handed out again after a lease ended without a result", NULL, 1);
		log_debug("task %s (%s %s) dispatch %d to worker %s", task->id, task->plugin, task->op,
			  task->dispatches, w->id);
	}
}

static void pool_check_leases(struct worker_pool *pool, int64_t now)
{
	for (struct pool_worker *w = pool->workers; w; w = w->next) {
		struct pool_task *task = w->task;
		char why[160];

		if (task == NULL || now < task->lease_deadline_us)
			continue;
		/* the worker is still running it: it gets nothing new until it answers */
		w->task = NULL;
		pool_worker_stale(w, task->id, w->task_dispatch);
		snprintf(why, sizeof(why), "no result from worker %s within the lease of %" PRId64 " ms", w->id,
			 task->lease_ms);
		pool_lease_ended(pool, task, why);
	}
}

static void pool_heartbeat(struct worker_pool *pool, int64_t now)
{
	struct pool_worker *w, *next;

	for (w = pool->workers; w; w = next) {
		next = w->next;
		if (now - w->last_seen_us > pool->timeout_ms * 1000) {
			char why[64];
			snprintf(why, sizeof(why), "silent for %" PRId64 " ms", (now - w->last_seen_us) / 1000);
			pool_worker_lost(pool, w, why);
		}
	}
	if (now < pool->next_heartbeat_us)
		return;
	pool->next_heartbeat_us = now + pool->interval_ms * 1000;
	for (w = pool->workers; w; w = next) {
		int r = worker_proto_send(pool->router, w->id, w->id_len, WORKER_MSG_HEARTBEAT, NULL);

		next = w->next;
		/* a full queue is left to the heartbeat timeout */
		if (r == -EHOSTUNREACH)
			pool_worker_lost(pool, w, "its connection is closed");
	}
}

static int64_t pool_next_wakeup(const struct worker_pool *pool, int64_t now, int64_t spawn_due)
{
	int64_t next = now + POOL_POLL_CAP_MS * 1000;

	if (pool->next_heartbeat_us < next)
		next = pool->next_heartbeat_us;
	if (spawn_due < next)
		next = spawn_due;
	for (const struct pool_worker *w = pool->workers; w; w = w->next)
		if (w->task && w->task->lease_deadline_us < next)
			next = w->task->lease_deadline_us;
	return next;
}

static void pool_publish_stats(struct worker_pool *pool)
{
	struct worker_pool_stats s;
	unsigned queued = 0;

	pthread_mutex_lock(&pool->lock);
	s = pool->stats;
	pthread_mutex_unlock(&pool->lock);
	s.workers_ready = s.workers_busy = s.tasks_running = 0;
	for (const struct pool_worker *w = pool->workers; w; w = w->next) {
		s.workers_ready++;
		s.workers_busy += w->task != NULL || w->stale_busy;
		s.tasks_running += w->task != NULL;
	}
	for (const struct pool_task *t = pool->queue.head; t; t = t->next)
		queued++;
	s.respawns = worker_spawner_respawns(pool->spawner);
	metrics_gauge_set("tenancyd_workers_ready", "Workers connected and heartbeating", NULL, s.workers_ready);
	metrics_gauge_set("tenancyd_workers_busy", "Workers running a task", NULL, s.workers_busy);
	pthread_mutex_lock(&pool->lock);
	for (const struct pool_task *t = pool->inbox.head; t; t = t->next)
		queued++;
	s.tasks_queued = queued;
	s.frames_dropped = pool->stats.frames_dropped;
	pool->stats = s;
	pthread_mutex_unlock(&pool->lock);
}

/* --- the I/O thread ------------------------------------------------------------------------------ */

static void pool_shutdown(struct worker_pool *pool)
{
	struct pool_task *task;
	struct pool_worker *w;

	while ((task = pool->queue.head) != NULL) {
		pool_list_remove(&pool->queue, task);
		pool_complete(pool, task, -ESHUTDOWN, NULL, "the worker pool stopped", NULL);
	}
	for (w = pool->workers; w; w = w->next) {
		if (w->task) {
			task = w->task;
			w->task = NULL;
			pool_complete(pool, task, -ESHUTDOWN, NULL, "the worker pool stopped", NULL);
		}
		worker_proto_send(pool->router, w->id, w->id_len, WORKER_MSG_SHUTDOWN, NULL);
	}
	worker_spawner_stop(pool->spawner, POOL_STOP_GRACE_MS);
	while ((w = pool->workers) != NULL) {
		pool->workers = w->next;
		pool_worker_free(w);
	}
}

static void *pool_run(void *arg)
{
	struct worker_pool *pool = arg;
	int64_t spawn_due = INT64_MAX;

	pool->next_heartbeat_us = tnd_monotonic_us() + pool->interval_ms * 1000;
	for (;;) {
		int64_t now = tnd_monotonic_us(), wake = pool_next_wakeup(pool, now, spawn_due);
		zmq_pollitem_t items[2] = {
			{ pool->router, 0, ZMQ_POLLIN, 0 },
			{ NULL, pool->wake_fd, ZMQ_POLLIN, 0 },
		};
		long timeout_ms = wake > now ? (long)((wake - now + 999) / 1000) : 0;
		bool stopping;

		if (zmq_poll(items, 2, timeout_ms) < 0 && errno != EINTR) {
			log_error("worker pool: zmq_poll: %s", zmq_strerror(errno));
			break;
		}
		if (items[1].revents & ZMQ_POLLIN) {
			uint64_t count;
			ssize_t n = read(pool->wake_fd, &count, sizeof(count));
			(void)n;
		}
		pthread_mutex_lock(&pool->lock);
		while (pool->inbox.head) {
			struct pool_task *task = pool->inbox.head;
			pool_list_remove(&pool->inbox, task);
			pool_list_push_back(&pool->queue, task);
		}
		stopping = pool->stopping;
		pthread_mutex_unlock(&pool->lock);
		if (stopping)
			break;

		if (items[0].revents & ZMQ_POLLIN)
			pool_receive(pool);
		if (pool->spawner)
			spawn_due = worker_spawner_tick(pool->spawner, pool_on_worker_exit, pool);
		now = tnd_monotonic_us();
		pool_check_leases(pool, now);
		pool_heartbeat(pool, now);
		pool_dispatch(pool, now);
		pool_publish_stats(pool);
	}
	pool_shutdown(pool);
	pool_publish_stats(pool);
	zmq_close(pool->router);
	pool->router = NULL;
	return NULL;
}

/* --- start and stop -------------------------------------------------------------------------------- */

static void pool_destroy(struct worker_pool *pool)
{
	if (pool->router)
		zmq_close(pool->router);
	worker_listener_close(&pool->listener);
	if (pool->zmq_ctx)
		zmq_ctx_term(pool->zmq_ctx);
	worker_spawner_free(pool->spawner);
	if (pool->wake_fd >= 0)
		close(pool->wake_fd);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

static char *pool_worker_command(const struct tnd_conf *conf)
{
	const char *build = daemon_build_dir();

	if (conf->workers.command)
		return tnd_xstrdup(conf->workers.command);
	if (build)
		return tnd_xasprintf("%s/%s", build, POOL_WORKER_BINARY);
	return tnd_xstrdup(TND_SBINDIR "/" POOL_WORKER_BINARY);
}

static int pool_open(struct worker_pool *pool, const struct tnd_conf *conf, const char *config_path,
		     struct tnd_error *err)
{
	char *command = NULL;
	int64_t max_size = WORKER_PROTO_MAX_MESSAGE;
	int zero = 0, yes = 1, r;

	pool->zmq_ctx = zmq_ctx_new();
	pool->router = pool->zmq_ctx ? zmq_socket(pool->zmq_ctx, ZMQ_ROUTER) : NULL;
	if (pool->router == NULL || zmq_setsockopt(pool->router, ZMQ_ROUTER_MANDATORY, &yes, sizeof(yes)) < 0 ||
	    zmq_setsockopt(pool->router, ZMQ_ROUTER_HANDOVER, &yes, sizeof(yes)) < 0 ||
	    zmq_setsockopt(pool->router, ZMQ_MAXMSGSIZE, &max_size, sizeof(max_size)) < 0 ||
	    zmq_setsockopt(pool->router, ZMQ_LINGER, &zero, sizeof(zero)) < 0) {
		r = -errno;
		tnd_error_set(err, "cannot create the worker socket: %s", zmq_strerror(-r));
		return r;
	}
	r = worker_listen(pool->zmq_ctx, pool->router, conf, &pool->listener, err);
	if (r < 0)
		return r;
	pool->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool->wake_fd < 0) {
		r = -errno;
		tnd_error_set(err, "eventfd: %s", strerror(-r));
		return r;
	}
	if (conf->daemon.workers > 0) {
		struct worker_spawn_options spawn = { 0 };

		command = pool_worker_command(conf);
		if (access(command, X_OK) < 0) {
			r = -errno;
			tnd_error_set(err, "cannot run the worker program %s: %s", command, strerror(errno));
			free(command);
			return r;
		}
		spawn.command = command;
		spawn.config_path = config_path ? config_path : conf->path;
		spawn.endpoint = pool->listener.local_endpoint;
		spawn.count = conf->daemon.workers;
		pool->spawner = worker_spawner_new(&spawn);
		free(command);
	}
	return 0;
}

int worker_pool_start(const struct tnd_conf *conf, const char *config_path, worker_done_fn *done,
		      void *userdata, struct worker_pool **ret_pool, struct tnd_error *err)
{
	struct worker_pool *pool = tnd_xcalloc(1, sizeof(*pool));
	int r;

	pthread_mutex_init(&pool->lock, NULL);
	pool->wake_fd = -1;
	pool->done = done;
	pool->userdata = userdata;
	pool->interval_ms = conf->workers.heartbeat_interval_ms > 0 ? conf->workers.heartbeat_interval_ms
								     : WORKER_PROTO_DEFAULT_INTERVAL_MS;
	pool->timeout_ms = conf->workers.heartbeat_timeout_ms > 0 ? conf->workers.heartbeat_timeout_ms
								   : WORKER_PROTO_DEFAULT_TIMEOUT_MS;
	if (pool->interval_ms < WORKER_PROTO_INTERVAL_MIN_MS || pool->interval_ms > WORKER_PROTO_INTERVAL_MAX_MS ||
	    pool->timeout_ms <= pool->interval_ms || pool->timeout_ms > WORKER_PROTO_TIMEOUT_MAX_MS) {
		tnd_error_set(err, "worker heartbeats: want %d <= interval (%" PRId64 " ms) < timeout (%" PRId64
				   " ms) <= %d", WORKER_PROTO_INTERVAL_MIN_MS, pool->interval_ms, pool->timeout_ms,
			      WORKER_PROTO_TIMEOUT_MAX_MS);
		pool_destroy(pool);
		return -EINVAL;
	}
	r = pool_open(pool, conf, config_path, err);
	if (r == 0) {
		r = -pthread_create(&pool->thread, NULL, pool_run, pool);
		if (r < 0)
			tnd_error_set(err, "cannot start the worker pool thread: %s", strerror(-r));
	}
	if (r < 0) {
		pool_destroy(pool);
		return r;
	}
	pool->thread_started = true;
	*ret_pool = pool;
	return 0;
}

static bool pool_op_known(const char *op)
{
	for (size_t i = 0; i < TND_ARRAY_SIZE(pool_ops); i++)
		if (tnd_streq(op, pool_ops[i]))
			return true;
	return false;
}

int worker_pool_submit(struct worker_pool *pool, const struct worker_task *spec)
{
	struct pool_task *task;
	uint64_t one = 1;
	char *text;
	size_t len;
	int r = 0;

	if (spec->id == NULL || spec->id[0] == '\0' || strlen(spec->id) > WORKER_PROTO_TASK_ID_MAX ||
	    !tnd_utf8_valid(spec->id, strlen(spec->id)) || spec->plugin == NULL || spec->plugin[0] == '\0' ||
	    strlen(spec->plugin) > 64 || !pool_op_known(spec->op) || !json_is_object(spec->request) ||
	    spec->lease_ms <= 0 || spec->max_dispatches < 1)
		return -EINVAL;
	text = json_dumps(spec->request, JSON_COMPACT);
	if (text == NULL)
		return -EINVAL;
	len = strlen(text);
	free(text);
	if (len > POOL_REQUEST_MAX)
		return -EMSGSIZE;

	task = tnd_xcalloc(1, sizeof(*task));
	task->id = tnd_xstrdup(spec->id);
	task->plugin = tnd_xstrdup(spec->plugin);
	task->op = tnd_xstrdup(spec->op);
	task->request = json_deep_copy(spec->request);
	task->lease_ms = spec->lease_ms;
	task->max_dispatches = spec->max_dispatches;
	task->submitted_us = tnd_monotonic_us();

	pthread_mutex_lock(&pool->lock);
	if (pool->stopping)
		r = -ESHUTDOWN;
	else if (pool_task_find_locked(pool, spec->id) != NULL)
		r = -EEXIST;
	else {
		tsearch(task, &pool->task_ids, pool_task_compare);
		pool_list_push_back(&pool->inbox, task);
		pool->stats.tasks_queued++;
	}
	pthread_mutex_unlock(&pool->lock);
	if (r < 0) {
		pool_task_free(task);
		return r;
	}
	if (write(pool->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warning("cannot wake the worker pool: %s", strerror(errno));
	return 0;
}

void worker_pool_stats(struct worker_pool *pool, struct worker_pool_stats *ret_stats)
{
	pthread_mutex_lock(&pool->lock);
	*ret_stats = pool->stats;
	pthread_mutex_unlock(&pool->lock);
}

void worker_pool_stop(struct worker_pool *pool)
{
	uint64_t one = 1;

	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_mutex_unlock(&pool->lock);
	if (write(pool->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warning("cannot wake the worker pool: %s", strerror(errno));
	if (pool->thread_started)
		pthread_join(pool->thread, NULL);
	pool_destroy(pool);
}
