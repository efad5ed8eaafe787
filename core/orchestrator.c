/*
 * orchestrator.c — running workflows (see orchestrator.h, docs/reconcile.md).
 *
 * Threads: one scheduler picks due workflows and hands their current step
 * to the worker pool; ORCH_COMMITTERS committers turn results into
 * checkpoints.  Several committers matter: each checkpoint is a durable
 * registry commit, and concurrent commits share one fsync (group commit),
 * so many tenants reach Active per disk flush instead of one.
 *
 * Nothing here is authoritative: the registry is.  In-flight state only
 * stops the scheduler from handing out a tenant's work twice; after a crash
 * every workflow resumes from its last committed checkpoint.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "credentials.h"
#include "host.h"
#include "log.h"
#include "metrics.h"
#include "orchestrator.h"
#include "orchestrator_internal.h"
#include "policy_gate.h"
#include "reconcile.h"
#include "registry.h"
#include "util.h"
#include "worker_pool.h"
#include "workflow.h"

#define LOG_COMPONENT "orchestrator"

#define ORCH_TICK_MS 100
#define ORCH_SCAN_PAGE 200
#define ORCH_MAX_DISPATCHES 3

/* --- in-flight bookkeeping (lock held) ---------------------------------------- */

/*
 * The tenant's job: handed out, or back with a result that is not yet a
 * checkpoint (a job leaves the in-flight list only once its checkpoint is
 * committed).  Until then the registry still shows the step as due, so the
 * tenant would otherwise get the same step again, at once: an op run one
 * time more than max_attempts, and before its backoff.
 */
static struct orch_job *orch_find_tenant(struct orchestrator *orch, const char *tenant_id)
{
	for (struct orch_job *j = orch->inflight; j; j = j->next)
		if (strcmp(j->tenant_id, tenant_id) == 0)
			return j;
	return NULL;
}

static void orch_unlink(struct orchestrator *orch, struct orch_job *job)
{
	for (struct orch_job **pp = &orch->inflight; *pp; pp = &(*pp)->next)
		if (*pp == job) {
			*pp = job->next;
			orch->n_inflight--;
			return;
		}
}

static struct orch_job *orch_find_task(struct orchestrator *orch, const char *task_id)
{
	for (struct orch_job *j = orch->inflight; j; j = j->next)
		if (strcmp(j->task_id, task_id) == 0)
			return j;
	return NULL;
}

void orch_job_free(struct orch_job *job)
{
	if (job == NULL)
		return;
	json_decref(job->result);
	free(job->error);
	free(job);
}

/* Queue a finished job for the committers.  It stays in flight until its
 * checkpoint is committed, so the scheduler cannot hand out the same step
 * again in between. */
static void orch_push_result(struct orchestrator *orch, struct orch_job *job)
{
	pthread_mutex_lock(&orch->lock);
	job->queue_next = NULL;
	if (orch->results_tail)
		orch->results_tail->queue_next = job;
	else
		orch->results_head = job;
	orch->results_tail = job;
	pthread_cond_signal(&orch->results_cond);
	pthread_mutex_unlock(&orch->lock);
}

/* The pool's thread: copy what we need and hand over to a committer. */
static void orch_task_done(const char *task_id, const struct worker_result *res, void *userdata)
{
	struct orchestrator *orch = userdata;
	struct orch_job *job;

	pthread_mutex_lock(&orch->lock);
	job = orch_find_task(orch, task_id);
	pthread_mutex_unlock(&orch->lock);
	if (job == NULL)
		return; /* not ours (cannot happen: every task is ours) */
	job->rc = res->rc;
	job->result = res->result ? json_deep_copy(res->result) : NULL;
	job->error = tnd_xstrdup(res->error ? res->error : "");
	tnd_strlcpy(job->worker, res->worker_id ? res->worker_id : "", sizeof(job->worker));
	job->duration_ms = res->duration_ms;
	orch_push_result(orch, job);
}

/* --- dispatching ------------------------------------------------------------------ */

static json_t *orch_request(const struct tnd_conf *conf, const struct tenant_row *row, int64_t version,
			    const char *target_state)
{
	const struct tnd_region_conf *region = conf_region(conf, row->region);
	json_t *placement = json_object_get(row->status, "placement");
	json_t *resources = json_object_get(placement, "resources");

	return json_pack("{s:s,s:I,s:s?,s:s?,s:s,s:O,s:o,s:O}", "tenantId", row->id, "version", (json_int_t)version,
			 "isolation", row->isolation, "region", row->region, "state", target_state, "dataPlane",
			 region && region->data_plane ? region->data_plane : json_object(), "quotas",
			 reconcile_effective_quotas(conf, row->manifest), "resources",
			 resources ? resources : json_object());
}

/* Open the tenant's sealed password into the request; never logged. */
static int orch_add_credentials(struct orchestrator *orch, json_t *request, const char *tenant_id,
				struct tnd_error *err)
{
	const struct credentials_key *key = reconcile_key();
	char *key_id = NULL, *sealed = NULL, *password = NULL, username[48];
	int r;

	if (key == NULL) {
		tnd_error_set(err, "no credentials key configured");
		return -ENOKEY;
	}
	r = registry_credential_get(orch->reg, tenant_id, &key_id, &sealed, err);
	if (r == 0)
		r = credentials_open(key, key_id, tenant_id, sealed, &password, err);
	free(key_id);
	free(sealed);
	if (r < 0)
		return r;
	credentials_username(tenant_id, username);
	json_object_set_new(request, "credentials", json_pack("{s:s,s:s}", "username", username, "password", password));
	explicit_bzero(password, strlen(password));
	free(password);
	return 0;
}

/* A failure that happened before any worker saw the step. */
static void orch_fail_locally(struct orchestrator *orch, struct orch_job *job, int rc, const char *error)
{
	job->rc = rc;
	job->error = tnd_xstrdup(error);
	orch_push_result(orch, job);
}

/*
 * Whether @wf, read before its tenant was claimed, is still what the
 * registry holds.  A committer may have written the tenant's previous
 * result between that read and the claim (it lets the tenant go only once
 * the checkpoint is written, so a read now sees it): the step is then
 * done, or waits for its backoff.
 */
static bool orch_still_due(struct orchestrator *orch, const struct workflow *wf, uint64_t read_gen)
{
	struct workflow *fresh = NULL;
	struct tnd_error err = { "" };
	bool due;

	pthread_mutex_lock(&orch->lock);
	due = orch->checkpoint_gen == read_gen;
	pthread_mutex_unlock(&orch->lock);
	if (due)
		return true; /* no checkpoint was written since the read */

	if (registry_workflow_get(orch->reg, wf->id, &fresh, &err) < 0)
		return false; /* the next scan decides again */
	due = fresh->revision == wf->revision;
	workflow_free(fresh);
	return due;
}

/*
 * The policy's word on running step @op of @wf (action workflow.step.<op>,
 * actor "tenancyd" in role "system").  False with the reasons, or why the
 * policy could not decide, in @err: the attempt then fails like any other
 * and the usual backoff, Failed and retry machinery applies.
 */
static bool orch_policy_allows(const struct tnd_conf *conf, const struct workflow *wf, const char *op,
			       const struct tenant_row *row, struct tnd_error *err)
{
	char action[64];
	struct policy_subject subject = {
		.action = action,
		.actor_id = "tenancyd",
		.actor_role = "system",
		.tenant_id = row->id,
		.manifest = row->manifest,
		.phase = lifecycle_phase_name(row->phase),
		.placement = json_object_get(row->status, "placement"),
		.plan = row->plan,
		.request_id = wf->id,
	};
	struct policy_decision decision;
	enum policy_verdict verdict;
	char *reasons;

	snprintf(action, sizeof(action), "workflow.step.%s", op);
	verdict = policy_gate_check(&subject, conf->plugins.policy_timeout_ms, &decision);
	if (verdict == POLICY_DENY) {
		reasons = policy_reasons_text(&decision);
		tnd_error_set(err, "denied by policy: %s", reasons);
		free(reasons);
	} else if (verdict == POLICY_ERROR) {
		tnd_error_set(err, "policy unavailable: %s", decision.error);
	}
	policy_decision_clear(&decision);
	return verdict == POLICY_ALLOW;
}

static void orch_dispatch(struct orchestrator *orch, const struct tnd_conf *conf, struct orch_job *job,
			  const struct workflow *wf, uint64_t read_gen)
{
	const char *op = workflow_step_op(wf, wf->step);
	struct worker_task task = { 0 };
	struct tenant_row *row = NULL;
	struct tnd_error err = { "" };
	json_t *request;
	int r;

	if (!orch_still_due(orch, wf, read_gen)) {
		pthread_mutex_lock(&orch->lock);
		orch_unlink(orch, job);
		pthread_mutex_unlock(&orch->lock);
		orch_job_free(job);
		return;
	}
	if (op == NULL) {
		/* nothing left to run (a crash after the last step's commit cannot
		 * leave this state, but a hand-edited registry could): finish it */
		job->rc = 0;
		job->error = tnd_xstrdup("");
		orch_push_result(orch, job);
		return;
	}
	r = registry_tenant_get(orch->reg, wf->tenant_id, &row, &err);
	if (r < 0) {
		orch_fail_locally(orch, job, r, r == -ENOENT ? "tenant does not exist" : err.message);
		return;
	}
	if (!orch_policy_allows(conf, wf, op, row, &err)) {
		tenant_row_free(row);
		orch_fail_locally(orch, job, -EACCES, err.message);
		return;
	}
	request = orch_request(conf, row, wf->target_version, json_string_value(json_object_get(wf->doc, "targetState")));
	if (strcmp(op, "provision") == 0 && orch_add_credentials(orch, request, row->id, &err) < 0) {
		json_decref(request);
		tenant_row_free(row);
		orch_fail_locally(orch, job, -ENOKEY, err.message);
		return;
	}
	tenant_row_free(row);
	task.id = job->task_id;
	task.plugin = workflow_plugin(wf);
	task.op = op;
	task.request = request;
	task.lease_ms = conf->reconcile.step_timeout_s * 1000;
	task.max_dispatches = ORCH_MAX_DISPATCHES;
	log_debug("workflow %s: step %lld (%s) of tenant %s to %s", wf->id, (long long)wf->step, op, wf->tenant_id,
		  task.plugin);
	r = worker_pool_submit(orch->pool, &task);
	json_decref(request); /* the pool copied it */
	if (r < 0)
		orch_fail_locally(orch, job, r, "the worker pool refused the task");
}

struct orch_scan {
	struct orchestrator *orch;
	struct workflow **items;   /* claimed: each has its in-flight job reserved */
	struct orch_job **jobs;
	size_t n;
	size_t examined;
	bool full;
	char last_id[40];
	uint64_t read_gen;         /* checkpoint_gen before the registry read */
};

/*
 * Runs inside the registry read, on borrowed records: skip (without copying
 * or parsing anything) what is already in flight, claim the rest.  A
 * tenant's older active workflow blocks newer ones (ids sort by creation).
 */
static int orch_scan_visit(const struct tnd_workflow_record *rec, void *userdata)
{
	struct orch_scan *scan = userdata;
	struct orchestrator *orch = scan->orch;
	struct orch_job *job;
	struct workflow *wf;
	bool busy;

	pthread_mutex_lock(&orch->lock);
	if (orch->stopping || orch->n_inflight >= orch->max_inflight) {
		scan->full = true;
		pthread_mutex_unlock(&orch->lock);
		return 1;
	}
	scan->examined++;
	tnd_strlcpy(scan->last_id, rec->id, sizeof(scan->last_id));
	busy = orch_find_tenant(orch, rec->tenant_id) != NULL;
	pthread_mutex_unlock(&orch->lock);
	if (busy)
		return 0;

	wf = workflow_from_record(rec);
	job = tnd_xcalloc(1, sizeof(*job));
	snprintf(job->task_id, sizeof(job->task_id), "%s/%lld", rec->id, (long long)rec->step);
	tnd_strlcpy(job->workflow_id, rec->id, sizeof(job->workflow_id));
	tnd_strlcpy(job->tenant_id, rec->tenant_id, sizeof(job->tenant_id));
	tnd_strlcpy(job->op, workflow_step_op(wf, wf->step) ? workflow_step_op(wf, wf->step) : "", sizeof(job->op));
	job->step = rec->step;
	job->since_ms = tnd_now_ms();

	pthread_mutex_lock(&orch->lock);
	/* an observe may have claimed the tenant meanwhile */
	if (orch_find_tenant(orch, rec->tenant_id) != NULL) {
		pthread_mutex_unlock(&orch->lock);
		workflow_free(wf);
		free(job);
		return 0;
	}
	snprintf(job->task_id + strlen(job->task_id), sizeof(job->task_id) - strlen(job->task_id), "/%llu",
		 (unsigned long long)++orch->task_seq);
	job->next = orch->inflight;
	orch->inflight = job;
	orch->n_inflight++;
	pthread_mutex_unlock(&orch->lock);

	scan->items = tnd_xrealloc(scan->items, (scan->n + 1) * sizeof(*scan->items));
	scan->jobs = tnd_xrealloc(scan->jobs, (scan->n + 1) * sizeof(*scan->jobs));
	scan->items[scan->n] = wf;
	scan->jobs[scan->n] = job;
	scan->n++;
	return 0;
}

/*
 * Hand out due workflows whose tenant has nothing in flight.  A full scan
 * starts at the oldest active workflow (retries whose backoff ran out,
 * next steps of multi-step workflows); an incremental one resumes where the
 * last one stopped, which is where new workflows arrive.
 */
static void orch_schedule(struct orchestrator *orch, bool full_scan)
{
	struct tnd_conf *conf = conf_current_get1();
	struct tnd_workflow_query query = { .size = sizeof(query), .active = 1, .limit = ORCH_SCAN_PAGE };
	struct tnd_error err = { "" };
	char after[40];

	pthread_mutex_lock(&orch->lock);
	tnd_strlcpy(after, full_scan ? "" : orch->scan_cursor, sizeof(after));
	pthread_mutex_unlock(&orch->lock);
	query.due_before_ms = tnd_now_ms();
	for (;;) {
		struct orch_scan scan = { .orch = orch };
		int r;

		pthread_mutex_lock(&orch->lock);
		scan.read_gen = orch->checkpoint_gen;
		pthread_mutex_unlock(&orch->lock);
		query.after_id = after[0] ? after : NULL;
		r = registry_workflow_list_records(orch->reg, &query, orch_scan_visit, &scan, &err);
		if (r < 0)
			log_warning("cannot list due workflows: %s", err.message);
		for (size_t i = 0; i < scan.n; i++) {
			orch_dispatch(orch, conf, scan.jobs[i], scan.items[i], scan.read_gen);
			workflow_free(scan.items[i]);
		}
		free(scan.items);
		free(scan.jobs);
		if (r < 0)
			break;
		if (scan.last_id[0])
			tnd_strlcpy(after, scan.last_id, sizeof(after));
		if (scan.full) {
			/* resume here when capacity frees up */
			pthread_mutex_lock(&orch->lock);
			tnd_strlcpy(orch->scan_cursor, after, sizeof(orch->scan_cursor));
			pthread_mutex_unlock(&orch->lock);
			break;
		}
		if (scan.examined < ORCH_SCAN_PAGE) {
			/* reached the newest: the next incremental scan looks past it */
			pthread_mutex_lock(&orch->lock);
			tnd_strlcpy(orch->scan_cursor, after, sizeof(orch->scan_cursor));
			pthread_mutex_unlock(&orch->lock);
			break;
		}
	}
	conf_unref(conf);
}

static void *orch_scheduler_main(void *arg)
{
	struct orchestrator *orch = arg;
	int64_t next_full = 0;

	pthread_mutex_lock(&orch->lock);
	while (!orch->stopping) {
		bool full;

		if (!orch->wake && !orch->wake_full) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += ORCH_TICK_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&orch->scheduler_cond, &orch->lock, &until);
		}
		if (orch->stopping)
			break;
		/* every tick (and on request) look at everything: retries come due */
		full = orch->wake_full || tnd_monotonic_us() >= next_full;
		orch->wake = false;
		orch->wake_full = false;
		pthread_mutex_unlock(&orch->lock);
		orch_schedule(orch, full);
		if (full)
			next_full = tnd_monotonic_us() + ORCH_TICK_MS * 1000;
		pthread_mutex_lock(&orch->lock);
	}
	pthread_mutex_unlock(&orch->lock);
	return NULL;
}

void orch_wake_full(struct orchestrator *orch)
{
	pthread_mutex_lock(&orch->lock);
	orch->wake_full = true;
	pthread_cond_signal(&orch->scheduler_cond);
	pthread_mutex_unlock(&orch->lock);
}

void orchestrator_wake(struct orchestrator *orch)
{
	if (orch == NULL)
		return;
	pthread_mutex_lock(&orch->lock);
	orch->wake = true;
	pthread_cond_signal(&orch->scheduler_cond);
	pthread_mutex_unlock(&orch->lock);
}

/* --- checkpoints (orchestrator_checkpoint.c does the work) ---------------------------- */

static void *orch_committer_main(void *arg)
{
	struct orchestrator *orch = arg;

	for (;;) {
		struct orch_job *job;
		bool next_step = false;

		pthread_mutex_lock(&orch->lock);
		while (orch->results_head == NULL && !orch->committers_stop)
			pthread_cond_wait(&orch->results_cond, &orch->lock);
		job = orch->results_head;
		if (job == NULL) {
			pthread_mutex_unlock(&orch->lock);
			break;
		}
		orch->results_head = job->queue_next;
		if (orch->results_head == NULL)
			orch->results_tail = NULL;
		pthread_mutex_unlock(&orch->lock);

		if (job->observed)
			job->observed(job->tenant_id, job->rc, job->result, job->error ? job->error : "",
				      job->observed_userdata);
		else
			next_step = orch_checkpoint(orch, job);
		pthread_mutex_lock(&orch->lock);
		orch_unlink(orch, job);
		orch->checkpoint_gen++;
		pthread_mutex_unlock(&orch->lock);
		orch_job_free(job);
		/* capacity freed: more can be handed out; a workflow with a next step
		 * is behind the scan cursor */
		if (next_step)
			orch_wake_full(orch);
		else
			orchestrator_wake(orch);
	}
	return NULL;
}

/* --- observe for the controller ------------------------------------------------------------ */

int orchestrator_observe(struct orchestrator *orch, const struct tenant_row *row, orchestrator_observed_fn *done,
			 void *userdata)
{
	struct tnd_conf *conf = conf_current_get1();
	const char *plugin = conf_region_isolation_plugin(conf_region(conf, row->region), isolation_parse(row->isolation));
	struct worker_task task = { 0 };
	struct orch_job *job;
	json_t *request;
	int r;

	if (plugin == NULL) {
		conf_unref(conf);
		return -ENXIO;
	}
	pthread_mutex_lock(&orch->lock);
	if (orch->stopping || orch_find_tenant(orch, row->id) || orch->n_inflight >= orch->max_inflight) {
		pthread_mutex_unlock(&orch->lock);
		conf_unref(conf);
		return -EBUSY;
	}
	job = tnd_xcalloc(1, sizeof(*job));
	snprintf(job->task_id, sizeof(job->task_id), "observe/%s/%llu", row->id, (unsigned long long)++orch->task_seq);
	tnd_strlcpy(job->tenant_id, row->id, sizeof(job->tenant_id));
	tnd_strlcpy(job->op, "observe", sizeof(job->op));
	job->since_ms = tnd_now_ms();
	job->observed = done;
	job->observed_userdata = userdata;
	job->next = orch->inflight;
	orch->inflight = job;
	orch->n_inflight++;
	pthread_mutex_unlock(&orch->lock);

	request = orch_request(conf, row, row->version, lifecycle_state_name(row->state));
	task.id = job->task_id;
	task.plugin = plugin;
	task.op = "observe";
	task.request = request;
	task.lease_ms = conf->reconcile.step_timeout_s * 1000;
	task.max_dispatches = 1;
	r = worker_pool_submit(orch->pool, &task);
	json_decref(request);
	conf_unref(conf);
	if (r < 0)
		orch_fail_locally(orch, job, r, "the worker pool refused the task");
	return 0;
}

/* --- life ---------------------------------------------------------------------------------------- */

json_t *orchestrator_live(struct orchestrator *orch, const char *workflow_id)
{
	json_t *live = NULL;
	char since[32];

	if (orch == NULL)
		return NULL;
	pthread_mutex_lock(&orch->lock);
	for (struct orch_job *j = orch->inflight; j; j = j->next)
		if (strcmp(j->workflow_id, workflow_id) == 0) {
			tnd_format_time(j->since_ms, since);
			live = json_pack("{s:I,s:s,s:s}", "step", (json_int_t)j->step, "op", j->op, "since", since);
			break;
		}
	pthread_mutex_unlock(&orch->lock);
	return live;
}

void orchestrator_stats(struct orchestrator *orch, struct orchestrator_stats *ret)
{
	pthread_mutex_lock(&orch->lock);
	*ret = orch->stats;
	ret->in_flight = orch->n_inflight;
	pthread_mutex_unlock(&orch->lock);
}

int orchestrator_start(struct registry *reg, const char *config_path, struct orchestrator **ret,
		       struct tnd_error *err)
{
	struct orchestrator *orch = tnd_xcalloc(1, sizeof(*orch));
	struct tnd_conf *conf = conf_current_get1();
	int r;

	orch->reg = reg;
	/* enough to keep every worker busy while results are being committed */
	orch->max_inflight = (unsigned)(conf->daemon.workers > 0 ? conf->daemon.workers : 1) * 64;
	pthread_mutex_init(&orch->lock, NULL);
	pthread_cond_init(&orch->scheduler_cond, NULL);
	pthread_cond_init(&orch->results_cond, NULL);
	r = worker_pool_start(conf, config_path, orch_task_done, orch, &orch->pool, err);
	conf_unref(conf);
	if (r < 0) {
		pthread_mutex_destroy(&orch->lock);
		pthread_cond_destroy(&orch->scheduler_cond);
		pthread_cond_destroy(&orch->results_cond);
		free(orch);
		return r;
	}
	for (int i = 0; i < ORCH_COMMITTERS; i++)
		pthread_create(&orch->committers[i], NULL, orch_committer_main, orch);
	pthread_create(&orch->scheduler, NULL, orch_scheduler_main, orch);
	*ret = orch;
	return 0;
}

void orchestrator_stop(struct orchestrator *orch)
{
	if (orch == NULL)
		return;
	pthread_mutex_lock(&orch->lock);
	orch->stopping = true;
	pthread_cond_signal(&orch->scheduler_cond);
	pthread_mutex_unlock(&orch->lock);
	pthread_join(orch->scheduler, NULL);
	/* pending tasks come back as -ESHUTDOWN and are dropped: their workflows
	 * stay at their checkpoint and resume at the next start */
	worker_pool_stop(orch->pool);
	pthread_mutex_lock(&orch->lock);
	orch->committers_stop = true;
	pthread_cond_broadcast(&orch->results_cond);
	pthread_mutex_unlock(&orch->lock);
	for (int i = 0; i < ORCH_COMMITTERS; i++)
		pthread_join(orch->committers[i], NULL);
	while (orch->inflight) {
		struct orch_job *job = orch->inflight;
		orch->inflight = job->next;
		orch_job_free(job);
	}
	pthread_mutex_destroy(&orch->lock);
	pthread_cond_destroy(&orch->scheduler_cond);
	pthread_cond_destroy(&orch->results_cond);
	free(orch);
}
