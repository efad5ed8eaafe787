/*
 * orchestrator_checkpoint.c — turning a step's result into a checkpoint.
 *
 * One registry transaction per result (the transaction rule, DESIGN §1):
 * the workflow (its step record and the checkpoint: the index of the next
 * step, or its end), the tenant's status (resources, conditions) and, when
 * the last step is done, the phase, observedVersion, the phase transition
 * and (for a deletion) the tenant's credentials, and the events of what
 * changed (phase hops, a failure: events.h).  The workflow write
 * carries its revision: a workflow superseded meanwhile makes the commit
 * fail and the result is dropped; a tenant changed meanwhile (a new apply)
 * makes it retry on fresh data.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "conf.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "orchestrator_internal.h"
#include "reconcile.h"
#include "registry.h"
#include "util.h"
#include "workflow.h"

#define LOG_COMPONENT "orchestrator"

#define CHECKPOINT_ATTEMPTS 16

enum checkpoint_outcome {
	CHECKPOINT_DONE,
	CHECKPOINT_DROPPED,  /* the workflow moved on without us: nothing to record */
	CHECKPOINT_RETRY,    /* the tenant changed under us: decide again */
	CHECKPOINT_ERROR,
};

/* What the step reported as existing now becomes status.placement.resources. */
static void checkpoint_resources(json_t *status, const json_t *result)
{
	json_t *resources = json_object_get(result, "resources");
	json_t *placement = json_object_get(status, "placement");

	if (json_is_object(resources) && json_is_object(placement))
		json_object_set(placement, "resources", resources);
}

static void checkpoint_finish(struct tenant_row *next, const struct workflow *wf, struct registry_txn *txn,
			      int64_t now)
{
	enum tnd_phase target = workflow_target_phase(wf);
	const char *request_id = json_string_value(json_object_get(wf->doc, "requestId"));
	char when[32];

	if (next->phase != target) {
		enum tnd_phase path[5];
		int n = lifecycle_path(next->phase, target, path);
		enum tnd_phase from = next->phase;

		/* one record per allowed hop (Draft → Active → Suspended when a
		 * suspend overtook the activation); an impossible jump is recorded
		 * as it happened rather than hidden */
		if (n <= 0) {
			path[0] = target;
			n = 1;
		}
		for (int i = 0; i < n; i++) {
			registry_txn_add_transition(txn, next->id, from, path[i], wf->target_version, "tenancyd",
						    request_id ? request_id : wf->id, wf->kind, now);
			from = path[i];
		}
		next->phase = target;
		json_object_set_new(next->status, "phase", json_string(lifecycle_phase_name(target)));
		tnd_format_time(now, when);
		json_object_set_new(next->status, "lastTransitionTime", json_string(when));
	}
	next->observed_version = wf->target_version;
	json_object_set_new(next->status, "observedVersion", json_integer(wf->target_version));
	json_object_set_new(next->status, "conditions", json_array());
	if (target == TND_PHASE_DELETED) {
		json_object_set_new(json_object_get(next->status, "placement"), "resources", json_object());
		registry_txn_delete_credential(txn, next->id);
	}
}

/* The step's audit record: which step of which workflow, and how it ended. */
static void checkpoint_audit(struct registry_txn *txn, const struct workflow *wf, const struct orch_job *job,
			     const char *error, int64_t now)
{
	const char *request_id = json_string_value(json_object_get(wf->doc, "requestId"));
	char target[160], from[64], reason[640];
	struct audit_event ev = {
		.time_ms = now,
		.tenant_id = wf->tenant_id,
		.actor = "tenancyd",
		.action = "workflow.step",
		.target = target,
		.previous_state = from,
		.new_state = workflow_state_name(wf->state),
		.outcome = job->rc == 0 ? AUDIT_OUTCOME_SUCCEEDED : AUDIT_OUTCOME_FAILED,
		.reason = reason,
		.request_id = request_id ? request_id : wf->id,
		.correlation_id = wf->id,
	};

	snprintf(target, sizeof(target), "workflow/%s", wf->id);
	snprintf(from, sizeof(from), "step %lld", (long long)job->step);
	/* the error is cut to its first 500 bytes: the record says what happened, the workflow has it all */
	snprintf(reason, sizeof(reason), "%s %s%s%.500s", wf->kind, job->op[0] ? job->op : "step", error ? ": " : "",
		 error ? error : "");
	registry_txn_add_audit(txn, &ev);
}

/* The events of this checkpoint, in its txn: the phase hops of a finished
 * workflow, a repair's drift_corrected, or reconcile_failed (@failure set). */
static void checkpoint_events(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
			      const struct tenant_row *next, const struct workflow *wf, bool finished,
			      const char *failure, int64_t now)
{
	if (finished) {
		events_add_for_transitions(reg, conf, txn, next, wf->id, now);
		if (tnd_streq(wf->kind, "repair"))
			events_add_drift_corrected(reg, conf, txn, next, wf, now);
	}
	if (failure)
		events_add_reconcile_failed(reg, conf, txn, next, wf, failure, now);
}

static enum checkpoint_outcome checkpoint_once(struct orchestrator *orch, const struct tnd_conf *conf,
					       const struct orch_job *job, bool *ret_finished, bool *ret_failed)
{
	struct workflow *wf = NULL;
	struct tenant_row *row = NULL, next;
	struct tnd_error err = { "" };
	struct registry_txn txn;
	enum checkpoint_outcome outcome = CHECKPOINT_DONE;
	int64_t now = tnd_now_ms(), wf_expect;
	size_t failed_index = SIZE_MAX;
	char message[700];
	int r;

	r = registry_workflow_get(orch->reg, job->workflow_id, &wf, &err);
	if (r < 0) {
		log_warning("workflow %s: cannot read it back: %s", job->workflow_id, err.message);
		return r == -ENOENT ? CHECKPOINT_DROPPED : CHECKPOINT_ERROR;
	}
	/* superseded, retried by hand, or a duplicate result of a re-dispatched step */
	if (!workflow_state_active(wf->state) || wf->step != job->step) {
		workflow_free(wf);
		return CHECKPOINT_DROPPED;
	}
	r = registry_tenant_get(orch->reg, wf->tenant_id, &row, &err);
	if (r < 0) {
		workflow_free(wf);
		return r == -ENOENT ? CHECKPOINT_DROPPED : CHECKPOINT_ERROR;
	}

	next = *row;
	next.revision = row->revision + 1;
	next.status = json_deep_copy(row->status);
	next.updated_ms = now;
	wf_expect = wf->revision;
	wf->revision++;
	registry_txn_init(&txn);

	if (job->rc == 0) {
		size_t n = workflow_step_count(wf);
		checkpoint_resources(next.status, job->result);
		*ret_finished = workflow_step_succeeded(wf, job->step, now, job->duration_ms, job->worker);
		if (*ret_finished) {
			checkpoint_finish(&next, wf, &txn, now);
		} else {
			snprintf(message, sizeof(message), "%s: step %lld of %zu done", wf->kind, (long long)wf->step, n);
			json_object_set_new(next.status, "conditions",
					    reconcile_conditions("Reconciling", wf->kind, message, wf->id, now));
		}
	} else {
		*ret_failed = workflow_step_failed(wf, job->step, job->error, now, job->duration_ms, job->worker,
						   conf->reconcile.max_attempts, conf->reconcile.retry_base_ms,
						   conf->reconcile.retry_cap_ms);
		snprintf(message, sizeof(message), "%s", json_string_value(json_object_get(wf->doc, "error")));
		json_object_set_new(next.status, "conditions",
				    *ret_failed ? reconcile_conditions("ReconcileFailed", wf->kind, message, wf->id, now)
						: reconcile_conditions("Reconciling", wf->kind, message, wf->id, now));
	}
	checkpoint_events(orch->reg, conf, &txn, &next, wf, *ret_finished, *ret_failed ? message : NULL, now);
	registry_txn_put_tenant(&txn, &next, row->revision);
	registry_txn_put_workflow(&txn, wf, wf_expect);
	checkpoint_audit(&txn, wf, job, job->rc == 0 ? NULL : message, now);
	r = registry_commit(orch->reg, &txn, &failed_index, &err);
	if (r == -ESTALE || r == -ENOENT) {
		/* index 0 is the tenant (the head row goes first): retry on fresh data;
		 * anything else is the workflow, superseded meanwhile */
		outcome = failed_index == 0 ? CHECKPOINT_RETRY : CHECKPOINT_DROPPED;
	} else if (r < 0) {
		log_error("workflow %s: checkpoint not committed: %s", wf->id, err.message);
		outcome = CHECKPOINT_ERROR;
	} else if (*ret_failed) {
		log_error("workflow %s (%s of tenant %s) failed after %lld attempts: %s", wf->id, wf->kind, wf->tenant_id,
			  (long long)wf->attempts, message);
	} else if (job->rc != 0) {
		log_warning("workflow %s: %s failed (attempt %lld), retrying at %lld: %s", wf->id, job->op,
			    (long long)wf->attempts, (long long)wf->next_attempt_ms, message);
	} else if (*ret_finished) {
		log_info("workflow %s: tenant %s is %s at version %lld (%s)", wf->id, wf->tenant_id,
			 lifecycle_phase_name(next.phase), (long long)wf->target_version, wf->kind);
	}
	registry_txn_clear(&txn);
	json_decref(next.status);
	tenant_row_free(row);
	workflow_free(wf);
	return outcome;
}

bool orch_checkpoint(struct orchestrator *orch, struct orch_job *job)
{
	struct tnd_conf *conf = conf_current_get1();
	enum checkpoint_outcome outcome = CHECKPOINT_RETRY;
	bool finished = false, failed = false;
	char labels[64];

	if (job->rc == -ESHUTDOWN) {
		conf_unref(conf);
		return false; /* stopping: the step runs again after the restart */
	}
	for (int attempt = 0; attempt < CHECKPOINT_ATTEMPTS && outcome != CHECKPOINT_DONE &&
			      outcome != CHECKPOINT_DROPPED; attempt++) {
		finished = failed = false;
		if (outcome == CHECKPOINT_ERROR)
			usleep(100000); /* a registry hiccup: the step's result is still good */
		outcome = checkpoint_once(orch, conf, job, &finished, &failed);
	}
	conf_unref(conf);
	if (outcome != CHECKPOINT_DONE) {
		if (outcome != CHECKPOINT_DROPPED)
			log_error("workflow %s: result of step %lld dropped after %d attempts; it will run again",
				  job->workflow_id, (long long)job->step, CHECKPOINT_ATTEMPTS);
		return false;
	}
	snprintf(labels, sizeof(labels), "op=\"%s\",outcome=\"%s\"", job->op, job->rc == 0 ? "success" : "failure");
	metrics_counter_add("tenancyd_reconcile_steps_total", "Workflow steps completed, by op and outcome.", labels, 1);
	snprintf(labels, sizeof(labels), "op=\"%s\"", job->op);
	metrics_observe("tenancyd_reconcile_step_duration_seconds", "Time from dispatch to result of a step.", labels,
			job->duration_ms / 1000.0);
	pthread_mutex_lock(&orch->lock);
	if (job->rc == 0)
		orch->stats.steps_succeeded++;
	else
		orch->stats.steps_failed++;
	if (finished)
		orch->stats.workflows_succeeded++;
	if (failed)
		orch->stats.workflows_failed++;
	pthread_mutex_unlock(&orch->lock);
	if (failed)
		metrics_counter_add("tenancyd_reconcile_failures_total",
				    "Workflows that failed after their last attempt (alert on increase).", NULL, 1);
	return job->rc == 0 && !finished;
}
