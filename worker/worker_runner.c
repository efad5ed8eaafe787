/*
 * worker_runner.c — the thread that runs isolation-plugin ops for
 * tenancyd-worker, so that an op that blocks (DDL, a slow data plane)
 * never stops the session from heartbeating.
 *
 * The session and the thread talk over an inproc PAIR socket pair and
 * pass job pointers: a job belongs to whoever last received it.  The
 * outcome is checked here, next to the plugin call: a result that is not
 * a JSON object, or a return code that is not 0 or a negative errno,
 * becomes -EPROTO with a message saying so.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include <tenancyd/isolation.h>

#include "host.h"
#include "util.h"
#include "worker.h"
#include "worker_proto.h"

#define RUNNER_ENDPOINT "inproc://tenancyd-worker-runner"

struct worker_runner {
	void *socket;                /* the session's end */
	void *thread_socket;         /* the thread's end */
	const struct plugin_set *plugins;
	pthread_t thread;
	struct worker_job *current;  /* session side: handed over, not yet back */
};

struct worker_job *worker_job_new(const char *task_id, int dispatch, const char *plugin, const char *op,
				  json_t *request)
{
	struct worker_job *job = tnd_xcalloc(1, sizeof(*job));

	job->task_id = tnd_xstrdup(task_id);
	job->dispatch = dispatch;
	job->plugin = tnd_xstrdup(plugin);
	job->op = tnd_xstrdup(op);
	job->request = json_incref(request);
	return job;
}

void worker_job_free(struct worker_job *job)
{
	if (job == NULL)
		return;
	free(job->task_id);
	free(job->plugin);
	free(job->op);
	json_decref(job->request);
	json_decref(job->result);
	free(job->error);
	free(job);
}

static tnd_isolation_step_fn *runner_op(const struct tnd_loaded_plugin *plugin, const char *op)
{
	const struct tnd_isolation_ops *ops = plugin->ops;

	if (tnd_streq(op, "provision"))
		return ops->provision;
	if (tnd_streq(op, "observe"))
		return ops->observe;
	if (tnd_streq(op, "suspend"))
		return ops->suspend;
	if (tnd_streq(op, "resume"))
		return ops->resume;
	if (tnd_streq(op, "archive"))
		return ops->archive;
	if (tnd_streq(op, "destroy"))
		return ops->destroy;
	return NULL;
}

static void runner_fail(struct worker_job *job, int rc, char *error)
{
	job->rc = rc;
	job->error = error;
}

/* The plugin's output as a JSON object, or why it is not one. */
static void runner_take_result(struct worker_job *job, const struct tnd_buf *out)
{
	json_error_t jerr;
	json_t *doc;

	if (out->data == NULL || out->len == 0) {
		runner_fail(job, -EPROTO, tnd_xasprintf("plugin %s: %s returned no result", job->plugin, job->op));
		return;
	}
	/* the result sits one level down in the RESULT body */
	if (!worker_proto_depth_ok(out->data, out->len, WORKER_PROTO_MAX_DEPTH - 1)) {
		runner_fail(job, -EPROTO, tnd_xasprintf("plugin %s: %s returned a result nested deeper than %d levels",
							job->plugin, job->op, WORKER_PROTO_MAX_DEPTH - 1));
		return;
	}
	doc = json_loadb(out->data, out->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc)) {
		json_decref(doc);
		runner_fail(job, -EPROTO,
			    tnd_xasprintf("plugin %s: %s returned a result that is not a JSON object%s%s", job->plugin,
					  job->op, doc ? "" : ": ", doc ? "" : jerr.text));
		return;
	}
	job->rc = 0;
	job->result = doc;
}

static void runner_execute(const struct plugin_set *plugins, struct worker_job *job)
{
	struct tnd_loaded_plugin *plugin = plugin_set_find(plugins, job->plugin);
	struct tnd_error err = { "" };
	tnd_isolation_step_fn *fn;
	struct tnd_buf out;
	const char *tenant;
	int rc;

	if (plugin == NULL || plugin->kind != TND_PLUGIN_ISOLATION) {
		runner_fail(job, -ENOENT, tnd_xasprintf("this worker has no isolation plugin %s", job->plugin));
		return;
	}
	fn = runner_op(plugin, job->op);
	if (fn == NULL) {
		runner_fail(job, -EINVAL, tnd_xasprintf("isolation plugins have no op %s", job->op));
		return;
	}
	/* the plugin's log lines carry the tenant it works for */
	tenant = json_string_value(json_object_get(job->request, "tenantId"));
	log_context_set(NULL, tenant);
	tnd_buf_init(&out);
	rc = fn(plugin->ctx, host_json(job->request), &out, &err);
	log_context_clear();
	if (rc > 0 || rc < -4095)
		runner_fail(job, -EPROTO,
			    tnd_xasprintf("plugin %s: %s returned %d, not 0 or a negative errno", job->plugin, job->op,
					  rc));
	else if (rc < 0)
		runner_fail(job, rc, tnd_xstrdup(err.message[0] ? err.message : strerror(-rc)));
	else
		runner_take_result(job, &out);
	tnd_buf_free(&out);
}

static void *runner_thread(void *arg)
{
	struct worker_runner *runner = arg;

	for (;;) {
		struct worker_job *job = NULL;
		int n = zmq_recv(runner->thread_socket, &job, sizeof(job), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (int)sizeof(job) || job == NULL)
			break;
		runner_execute(runner->plugins, job);
		if (zmq_send(runner->thread_socket, &job, sizeof(job), 0) < 0)
			break;
	}
	return NULL;
}

int worker_runner_start(void *zmq_ctx, const struct plugin_set *plugins, struct worker_runner **ret_runner)
{
	struct worker_runner *runner = tnd_xcalloc(1, sizeof(*runner));
	int r;

	runner->plugins = plugins;
	runner->socket = zmq_socket(zmq_ctx, ZMQ_PAIR);
	runner->thread_socket = zmq_socket(zmq_ctx, ZMQ_PAIR);
	if (runner->socket == NULL || runner->thread_socket == NULL ||
	    zmq_bind(runner->socket, RUNNER_ENDPOINT) < 0 || zmq_connect(runner->thread_socket, RUNNER_ENDPOINT) < 0) {
		r = -errno;
		goto fail;
	}
	/* the thread's socket moves to it here; pthread_create is the barrier */
	r = -pthread_create(&runner->thread, NULL, runner_thread, runner);
	if (r < 0)
		goto fail;
	*ret_runner = runner;
	return 0;
fail:
	if (runner->socket)
		zmq_close(runner->socket);
	if (runner->thread_socket)
		zmq_close(runner->thread_socket);
	free(runner);
	return r;
}

void *worker_runner_socket(struct worker_runner *runner)
{
	return runner->socket;
}

int worker_runner_run(struct worker_runner *runner, struct worker_job *job)
{
	if (runner->current)
		return -EBUSY;
	if (zmq_send(runner->socket, &job, sizeof(job), 0) < 0)
		return -errno;
	runner->current = job;
	return 0;
}

struct worker_job *worker_runner_finished(struct worker_runner *runner)
{
	struct worker_job *job = NULL;

	if (zmq_recv(runner->socket, &job, sizeof(job), ZMQ_DONTWAIT) != (int)sizeof(job))
		return NULL;
	runner->current = NULL;
	return job;
}

const struct worker_job *worker_runner_current(const struct worker_runner *runner)
{
	return runner->current;
}

int worker_runner_stop(struct worker_runner *runner)
{
	struct worker_job *none = NULL;

	if (runner == NULL)
		return 0;
	if (runner->current)
		return -EBUSY;
	zmq_send(runner->socket, &none, sizeof(none), 0);
	pthread_join(runner->thread, NULL);
	zmq_close(runner->thread_socket);
	zmq_close(runner->socket);
	free(runner);
	return 0;
}
