/*
 * worker_session.c — tenancyd-worker's conversation with the core
 * (docs/worker-protocol.md): a DEALER socket, HELLO and WELCOME,
 * heartbeats both ways, TASK to the op thread and its RESULT back, and a
 * fresh connection whenever the core falls silent.
 *
 * The loop polls three things: the core's socket, the op thread's socket
 * and a signalfd; so a running op, a dead core and SIGTERM are all just
 * events here, and a heartbeat is never late because an op is slow.
 */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <zmq.h>

#include "util.h"
#include "worker.h"
#include "worker_proto.h"

/* BYE gets this long to leave before the socket closes */
#define SESSION_BYE_LINGER_MS 500
/* messages handled per turn of the loop, so that a flood never delays a heartbeat */
#define SESSION_RECV_BATCH 64

struct session {
	const struct worker_session_options *opts;
	struct worker_runner *runner;
	void *ctx;
	void *dealer;              /* NULL: not connected */
	bool welcomed;
	int64_t interval_ms;
	int64_t timeout_ms;
	int64_t last_heard_us;     /* the last valid message from the core */
	int64_t next_heartbeat_us;
	int64_t frames_dropped;
	bool done;
	bool abandon_op;           /* leave at once, even with an op running */
	int exit_code;
};

static void *session_connect(struct session *s)
{
	const struct worker_session_options *o = s->opts;
	int64_t max_size = WORKER_PROTO_MAX_MESSAGE;
	int zero = 0, ivl_max = 2000;
	void *dealer = zmq_socket(s->ctx, ZMQ_DEALER);

	if (dealer == NULL)
		return NULL;
	if (zmq_setsockopt(dealer, ZMQ_ROUTING_ID, o->worker_id, strlen(o->worker_id)) < 0 ||
	    zmq_setsockopt(dealer, ZMQ_MAXMSGSIZE, &max_size, sizeof(max_size)) < 0 ||
	    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
	    zmq_setsockopt(dealer, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max)) < 0)
		goto fail;
	if (o->server_key &&
	    (zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY, o->server_key, strlen(o->server_key) + 1) < 0 ||
	     zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, o->public_key, strlen(o->public_key) + 1) < 0 ||
	     zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, o->secret_key, strlen(o->secret_key) + 1) < 0))
		goto fail;
	if (zmq_connect(dealer, o->endpoint) < 0)
		goto fail;
	return dealer;
fail:
	worker_log(TND_LOG_ERROR, "cannot connect to %s: %s", o->endpoint, zmq_strerror(errno));
	zmq_close(dealer);
	return NULL;
}

static void session_disconnect(struct session *s)
{
	if (s->dealer)
		zmq_close(s->dealer);
	s->dealer = NULL;
	s->welcomed = false;
}

static int session_send(struct session *s, enum worker_msg_type type, json_t *body)
{
	int r = s->dealer ? worker_proto_send(s->dealer, NULL, 0, type, body) : -ENOTCONN;

	json_decref(body);
	return r;
}

static void session_hello(struct session *s)
{
	const struct worker_job *job = worker_runner_current(s->runner);
	int r;

	s->dealer = session_connect(s);
	s->welcomed = false;
	s->interval_ms = WORKER_PROTO_DEFAULT_INTERVAL_MS;
	s->timeout_ms = WORKER_PROTO_DEFAULT_TIMEOUT_MS;
	s->last_heard_us = tnd_monotonic_us();
	if (s->dealer == NULL)
		return; /* retried after the timeout */
	r = session_send(s, WORKER_MSG_HELLO,
			 worker_proto_hello(s->opts->worker_id, getpid(), s->opts->plugin_names, s->opts->n_plugins,
					    PACKAGE_VERSION, job != NULL, job ? job->task_id : NULL));
	if (r < 0)
		worker_log(TND_LOG_WARNING, "cannot send HELLO to %s: %s", s->opts->endpoint, zmq_strerror(-r));
	else
		worker_log(TND_LOG_INFO, "connecting to %s", s->opts->endpoint);
}

static void session_heartbeat(struct session *s, int64_t now)
{
	const struct worker_job *job = worker_runner_current(s->runner);

	s->next_heartbeat_us = now + s->interval_ms * 1000;
	/* follow a log file that logrotate moved away (SIGUSR1 does it at once) */
	log_reopen_if_moved();
	/* a full queue means the core is not reading: the timeout deals with that */
	session_send(s, WORKER_MSG_HEARTBEAT,
		     worker_proto_heartbeat(job != NULL, job ? job->task_id : NULL, s->frames_dropped));
}

static void session_send_result(struct session *s, struct worker_job *job)
{
	json_t *body = worker_proto_result(job->task_id, job->dispatch, job->rc, job->result, job->error);
	int r;

	r = worker_proto_send(s->dealer, NULL, 0, WORKER_MSG_RESULT, body);
	json_decref(body);
	if (r == -EMSGSIZE) {
		char error[160];
		snprintf(error, sizeof(error), "plugin %s: the result of %s exceeds the protocol's %d bytes",
			 job->plugin, job->op, WORKER_PROTO_MAX_MESSAGE);
		body = worker_proto_result(job->task_id, job->dispatch, -EMSGSIZE, NULL, error);
		r = worker_proto_send(s->dealer, NULL, 0, WORKER_MSG_RESULT, body);
		json_decref(body);
	}
	if (r < 0)
		worker_log(TND_LOG_WARNING, "cannot send the result of task %s: %s", job->task_id, zmq_strerror(-r));
}

static void session_job_finished(struct session *s)
{
	struct worker_job *job = worker_runner_finished(s->runner);

	if (job == NULL)
		return;
	worker_log(job->rc == 0 ? TND_LOG_DEBUG : TND_LOG_INFO, "task %s: %s %s %s%s%s", job->task_id, job->plugin,
		   job->op, job->rc == 0 ? "succeeded" : "failed", job->rc == 0 ? "" : ": ",
		   job->rc == 0 ? "" : job->error);
	if (s->dealer)
		session_send_result(s, job);
	worker_job_free(job);
	/* tell the core at once that this worker is free again */
	if (s->welcomed)
		session_heartbeat(s, tnd_monotonic_us());
}

static void session_drop(struct session *s, enum worker_drop reason)
{
	s->frames_dropped++;
	worker_log(TND_LOG_DEBUG, "dropped a message from the core: %s", worker_drop_name(reason));
}

static void session_on_task(struct session *s, struct worker_msg *msg)
{
	struct worker_job *job;
	int r;

	if (worker_runner_current(s->runner)) {
		session_drop(s, WORKER_DROP_BUSY);
		return;
	}
	job = worker_job_new(msg->u.task.task_id, msg->u.task.dispatch, msg->u.task.plugin, msg->u.task.op,
			     msg->u.task.request);
	r = worker_runner_run(s->runner, job);
	if (r < 0) {
		job->rc = -EAGAIN;
		job->error = tnd_xasprintf("worker %s could not start the op", s->opts->worker_id);
		session_send_result(s, job);
		worker_job_free(job);
		return;
	}
	/* never the request: it carries credentials */
	worker_log(TND_LOG_DEBUG, "task %s: %s %s (dispatch %d)", job->task_id, job->plugin, job->op, job->dispatch);
}

static void session_on_message(struct session *s, struct worker_msg *msg, int64_t now)
{
	s->last_heard_us = now;
	switch (msg->type) {
	case WORKER_MSG_WELCOME:
		if (!s->welcomed)
			worker_log(TND_LOG_INFO, "registered with the core at %s", s->opts->endpoint);
		s->welcomed = true;
		s->interval_ms = msg->u.welcome.interval_ms;
		s->timeout_ms = msg->u.welcome.timeout_ms;
		s->next_heartbeat_us = now;
		break;
	case WORKER_MSG_HEARTBEAT:
		if (!s->welcomed)
			session_drop(s, WORKER_DROP_UNEXPECTED);
		break;
	case WORKER_MSG_TASK:
		if (!s->welcomed)
			session_drop(s, WORKER_DROP_UNEXPECTED);
		else
			session_on_task(s, msg);
		break;
	case WORKER_MSG_SHUTDOWN:
		worker_log(TND_LOG_NOTICE, "the core asked this worker to exit");
		s->done = true;
		break;
	default:
		break; /* decode() lets no other type through to a worker */
	}
}

static void session_receive(struct session *s)
{
	for (int i = 0; i < SESSION_RECV_BATCH && s->dealer && !s->done; i++) {
		struct worker_frames frames;
		struct worker_msg msg;
		enum worker_drop reason;

		if (worker_proto_recv(s->dealer, false, &frames) < 0)
			return;
		if (worker_proto_decode(WORKER_SIDE_WORKER, &frames, &msg, &reason) < 0) {
			session_drop(s, reason);
		} else {
			session_on_message(s, &msg, tnd_monotonic_us());
			worker_msg_clear(&msg);
		}
		worker_frames_clear(&frames);
	}
}

static void session_on_signal(struct session *s)
{
	struct signalfd_siginfo info;
	int linger = SESSION_BYE_LINGER_MS;

	if (read(s->opts->signal_fd, &info, sizeof(info)) != (ssize_t)sizeof(info))
		return;
	if (info.ssi_signo == SIGUSR1) {
		/* logrotate moved the daemon's log file, which we share */
		int r = log_reopen();
		if (r < 0)
			worker_log(TND_LOG_ERROR, "SIGUSR1: cannot reopen the log file: %s", strerror(-r));
		return;
	}
	worker_log(TND_LOG_NOTICE, "%s: exiting", strsignal((int)info.ssi_signo));
	/*
	 * A local worker says no BYE: its core sees the exit itself (waitpid)
	 * and hands the task on at once.  And a signal may mean that the core
	 * died (PR_SET_PDEATHSIG; it fires when the forking thread exits, so
	 * getppid() may not show it yet): a BYE would then wait in the socket
	 * for whatever binds the endpoint next -- a core restarted on the same
	 * state dir, whose own fresh local-<n> would be dropped as gone.
	 */
	if (s->dealer && s->welcomed && !s->opts->spawned_by_core) {
		/* the core re-dispatches our task at once instead of waiting out the lease */
		zmq_setsockopt(s->dealer, ZMQ_LINGER, &linger, sizeof(linger));
		session_send(s, WORKER_MSG_BYE, NULL);
	}
	/*
	 * Nor does a local worker let its op finish: if the core died, a core
	 * restarted meanwhile hands the tenant's next step to a fresh worker
	 * (it cannot know of ours), and our op, landing after that step, would
	 * undo it -- a provision after a destroy leaves a deleted tenant's role
	 * behind.  Ops are idempotent, so whoever runs the step next starts
	 * over safely; a process killed mid-op is what the plugins expect.
	 */
	s->abandon_op = s->opts->spawned_by_core;
	s->done = true;
}

/* Let a running op finish briefly; abandon it (and the process) if it does not. */
static void session_finish(struct session *s)
{
	int grace_ms = s->abandon_op ? 0 : WORKER_FINISH_GRACE_MS;
	int64_t deadline = tnd_monotonic_us() + grace_ms * 1000LL;

	while (worker_runner_current(s->runner) && tnd_monotonic_us() < deadline) {
		zmq_pollitem_t item = { worker_runner_socket(s->runner), 0, ZMQ_POLLIN, 0 };
		if (zmq_poll(&item, 1, 50) > 0)
			worker_job_free(worker_runner_finished(s->runner));
	}
	if (worker_runner_current(s->runner)) {
		/* ops are idempotent: whoever runs this task next starts over safely */
		worker_log(TND_LOG_WARNING, "abandoning task %s (%s) still running after %d ms",
			   worker_runner_current(s->runner)->task_id, worker_runner_current(s->runner)->op, grace_ms);
		session_disconnect(s);
		_exit(0);
	}
	session_disconnect(s);
}

int worker_session_run(void *zmq_ctx, const struct worker_session_options *opts, struct worker_runner *runner)
{
	struct session s;

	memset(&s, 0, sizeof(s));
	s.opts = opts;
	s.runner = runner;
	s.ctx = zmq_ctx;
	s.exit_code = 0;
	session_hello(&s);
	while (!s.done) {
		int64_t now = tnd_monotonic_us(), wake = s.last_heard_us + s.timeout_ms * 1000;
		zmq_pollitem_t items[3] = {
			{ worker_runner_socket(runner), 0, ZMQ_POLLIN, 0 },
			{ NULL, opts->signal_fd, ZMQ_POLLIN, 0 },
			{ s.dealer, 0, ZMQ_POLLIN, 0 },
		};

		if (s.welcomed && s.next_heartbeat_us < wake)
			wake = s.next_heartbeat_us;
		if (zmq_poll(items, s.dealer ? 3 : 2, wake > now ? (long)((wake - now + 999) / 1000) : 0) < 0 &&
		    errno != EINTR) {
			worker_log(TND_LOG_ERROR, "zmq_poll: %s", zmq_strerror(errno));
			s.exit_code = 1;
			break;
		}
		if (items[1].revents & ZMQ_POLLIN)
			session_on_signal(&s);
		if (s.dealer && (items[2].revents & ZMQ_POLLIN))
			session_receive(&s);
		if (s.done)
			break;
		now = tnd_monotonic_us();
		/* before a finished op is reported: the core that forgot us must
		 * hear a HELLO first, or it would drop the result unread */
		if (now - s.last_heard_us > s.timeout_ms * 1000) {
			worker_log(TND_LOG_WARNING, "no word from the core at %s for %" PRId64 " ms: reconnecting",
				   opts->endpoint, (now - s.last_heard_us) / 1000);
			session_disconnect(&s);
			session_hello(&s);
		}
		if (items[0].revents & ZMQ_POLLIN)
			session_job_finished(&s);
		if (s.welcomed && tnd_monotonic_us() >= s.next_heartbeat_us)
			session_heartbeat(&s, tnd_monotonic_us());
	}
	session_finish(&s);
	return s.exit_code;
}
