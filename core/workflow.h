/*
 * workflow.h — reconcile workflows as the core sees them: what steps take a
 * tenant from its phase to its desired state, the workflow's document
 * (steps with attempts, timings and errors), retry backoff, and the API
 * representation.  Pure logic: no I/O, no threads.
 */
#ifndef TND_WORKFLOW_H
#define TND_WORKFLOW_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "lifecycle.h"

#define WORKFLOW_MAX_STEPS 4

enum workflow_state {
	WORKFLOW_INVALID = -1,
	WORKFLOW_PENDING = 0,
	WORKFLOW_RUNNING,
	WORKFLOW_SUCCEEDED,
	WORKFLOW_FAILED,
	WORKFLOW_SUPERSEDED,
};

const char *workflow_state_name(enum workflow_state state);
enum workflow_state workflow_state_parse(const char *name);
/** Pending or Running. */
bool workflow_state_active(enum workflow_state state);

/** An owned copy of a workflow record. */
struct workflow {
	char *id;
	int64_t revision;
	char *tenant_id;
	char *kind;
	int64_t target_version;
	enum workflow_state state;
	int64_t step;             /* next step to run: the checkpoint */
	int64_t attempts;         /* failed attempts of that step */
	int64_t next_attempt_ms;
	json_t *doc;              /* {targetState, plugin, region, isolation, actor, requestId,
				     steps: [{op, status, attempts, startedAt, finishedAt, durationMs,
				     worker, error}], error, drift?} */
	int64_t created_ms;
	int64_t updated_ms;
};

void workflow_free(struct workflow *wf);

/** What a workflow must do.  0 steps: nothing on the data plane (settle at once). */
struct workflow_plan {
	const char *kind;                      /* activate, update, suspend, resume, archive, delete, repair */
	const char *steps[WORKFLOW_MAX_STEPS]; /* isolation ops in order */
	size_t n_steps;
};

/**
 * Plan the steps from phase @from to desired phase @target.  @spec_changed:
 * the spec differs in more than its state (plan, quotas, ...), so parameters
 * must be re-applied; @repair: the data plane drifted and must be rebuilt.
 */
void workflow_plan_steps(enum tnd_phase from, enum tnd_phase target, bool spec_changed, bool repair,
			 struct workflow_plan *ret_plan);

/**
 * A new Pending workflow for tenant @tenant_id realizing @target_version in
 * state @target, with the steps of @plan, run by isolation plugin @plugin in
 * @region for isolation mode @isolation.
 */
struct workflow *workflow_new(const char *tenant_id, int64_t target_version, enum tnd_phase target,
			      const struct workflow_plan *plan, const char *plugin, const char *region,
			      const char *isolation, const char *actor, const char *request_id, int64_t now_ms);

size_t workflow_step_count(const struct workflow *wf);
/** The op of step @index, or NULL past the end. */
const char *workflow_step_op(const struct workflow *wf, int64_t index);
/** The desired state the workflow realizes. */
enum tnd_phase workflow_target_phase(const struct workflow *wf);
const char *workflow_plugin(const struct workflow *wf);

/** Record on the document that step @index started (attempt number = attempts + 1). */
void workflow_step_started(struct workflow *wf, int64_t index, int64_t now_ms, const char *worker);
/** Record success of step @index, advance the checkpoint; true when it was the last step. */
bool workflow_step_succeeded(struct workflow *wf, int64_t index, int64_t now_ms, double duration_ms,
			     const char *worker);
/**
 * Record a failure of step @index.  Either schedules a retry (Pending, next
 * attempt after backoff) or, at @max_attempts, makes the workflow Failed.
 * Returns true when it failed for good.
 */
bool workflow_step_failed(struct workflow *wf, int64_t index, const char *error, int64_t now_ms, double duration_ms,
			  const char *worker, int max_attempts, int64_t base_ms, int64_t cap_ms);

/** Exponential backoff with full jitter: uniform in [0, min(cap, base · 2^attempt)]. */
int64_t workflow_backoff_ms(int64_t attempt, int64_t base_ms, int64_t cap_ms);

/** A new workflow id: "wf-" + zero-padded creation ms + "-" + 8 random hex digits (sorts by time). */
void workflow_id_generate(int64_t now_ms, char out[40]);

/** The API representation (new reference). */
json_t *workflow_to_json(const struct workflow *wf);

#endif /* TND_WORKFLOW_H */
