/*
 * workflow.c — reconcile workflows: planning steps, the workflow document,
 * retries with backoff (see workflow.h).
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "workflow.h"

static const char *const workflow_state_names[] = {
	[WORKFLOW_PENDING] = "Pending",     [WORKFLOW_RUNNING] = "Running",       [WORKFLOW_SUCCEEDED] = "Succeeded",
	[WORKFLOW_FAILED] = "Failed",       [WORKFLOW_SUPERSEDED] = "Superseded",
};

const char *workflow_state_name(enum workflow_state state)
{
	if (state < WORKFLOW_PENDING || state > WORKFLOW_SUPERSEDED)
		return NULL;
	return workflow_state_names[state];
}

enum workflow_state workflow_state_parse(const char *name)
{
	for (int s = WORKFLOW_PENDING; s <= WORKFLOW_SUPERSEDED; s++)
		if (tnd_streq(name, workflow_state_names[s]))
			return (enum workflow_state)s;
	return WORKFLOW_INVALID;
}

bool workflow_state_active(enum workflow_state state)
{
	return state == WORKFLOW_PENDING || state == WORKFLOW_RUNNING;
}

void workflow_free(struct workflow *wf)
{
	if (wf == NULL)
		return;
	free(wf->id);
	free(wf->tenant_id);
	free(wf->kind);
	json_decref(wf->doc);
	free(wf);
}

static void plan_set(struct workflow_plan *plan, const char *kind, const char *a, const char *b)
{
	plan->kind = kind;
	plan->n_steps = 0;
	if (a)
		plan->steps[plan->n_steps++] = a;
	if (b)
		plan->steps[plan->n_steps++] = b;
}

void workflow_plan_steps(enum tnd_phase from, enum tnd_phase target, bool spec_changed, bool repair,
			 struct workflow_plan *ret_plan)
{
	/* provision is idempotent and leaves the role able to log in: it re-applies
	 * parameters and rebuilds what drifted; a suspended or archived tenant
	 * then needs its state op again */
	bool rebuild = spec_changed || repair;

	switch (target) {
	case TND_PHASE_DRAFT:
		plan_set(ret_plan, "update", NULL, NULL); /* a draft owns nothing */
		break;
	case TND_PHASE_ACTIVE:
		if (from == TND_PHASE_DRAFT)
			plan_set(ret_plan, "activate", "provision", NULL);
		else if (from == TND_PHASE_SUSPENDED)
			plan_set(ret_plan, "resume", rebuild ? "provision" : "resume", NULL);
		else
			plan_set(ret_plan, repair ? "repair" : "update", "provision", NULL);
		break;
	case TND_PHASE_SUSPENDED:
		if (from == TND_PHASE_ACTIVE)
			plan_set(ret_plan, "suspend", rebuild ? "provision" : "suspend", rebuild ? "suspend" : NULL);
		else
			plan_set(ret_plan, repair ? "repair" : "update", "provision", "suspend");
		break;
	case TND_PHASE_ARCHIVED:
		if (from == TND_PHASE_ARCHIVED)
			plan_set(ret_plan, repair ? "repair" : "update", repair ? "provision" : "archive",
				 repair ? "archive" : NULL);
		else if (from == TND_PHASE_DRAFT)
			/* its activation was superseded or failed: archive needs something
			 * to archive (the plugins refuse a role that does not exist) */
			plan_set(ret_plan, "archive", "provision", "archive");
		else
			plan_set(ret_plan, "archive", "archive", NULL);
		break;
	case TND_PHASE_DELETED:
		if (from == TND_PHASE_DRAFT)
			plan_set(ret_plan, "delete", NULL, NULL);
		else
			plan_set(ret_plan, "delete", "destroy", NULL);
		break;
	default:
		plan_set(ret_plan, "update", NULL, NULL);
		break;
	}
}

void workflow_id_generate(int64_t now_ms, char out[40])
{
	unsigned char r[4];

	if (tnd_random_bytes(r, sizeof(r)) < 0)
		memset(r, 0, sizeof(r));
	snprintf(out, 40, "wf-%013lld-%02x%02x%02x%02x", (long long)now_ms, r[0], r[1], r[2], r[3]);
}

struct workflow *workflow_new(const char *tenant_id, int64_t target_version, enum tnd_phase target,
			      const struct workflow_plan *plan, const char *plugin, const char *region,
			      const char *isolation, const char *actor, const char *request_id, int64_t now_ms)
{
	struct workflow *wf = tnd_xcalloc(1, sizeof(*wf));
	json_t *steps = json_array();
	char id[40];

	workflow_id_generate(now_ms, id);
	wf->id = tnd_xstrdup(id);
	wf->revision = 1;
	wf->tenant_id = tnd_xstrdup(tenant_id);
	wf->kind = tnd_xstrdup(plan->kind);
	wf->target_version = target_version;
	wf->state = WORKFLOW_PENDING;
	wf->next_attempt_ms = now_ms;
	wf->created_ms = now_ms;
	wf->updated_ms = now_ms;
	for (size_t i = 0; i < plan->n_steps; i++)
		json_array_append_new(steps, json_pack("{s:s,s:s,s:i}", "op", plan->steps[i], "status", "pending",
						       "attempts", 0));
	wf->doc = json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:o,s:n}", "targetState", lifecycle_state_name(target),
			    "plugin", plugin, "region", region, "isolation", isolation, "actor", actor, "requestId",
			    request_id, "steps", steps, "error");
	return wf;
}

size_t workflow_step_count(const struct workflow *wf)
{
	return json_array_size(json_object_get(wf->doc, "steps"));
}

static json_t *workflow_step(const struct workflow *wf, int64_t index)
{
	if (index < 0)
		return NULL;
	return json_array_get(json_object_get(wf->doc, "steps"), (size_t)index);
}

const char *workflow_step_op(const struct workflow *wf, int64_t index)
{
	return json_string_value(json_object_get(workflow_step(wf, index), "op"));
}

enum tnd_phase workflow_target_phase(const struct workflow *wf)
{
	return lifecycle_phase_parse(json_string_value(json_object_get(wf->doc, "targetState")));
}

const char *workflow_plugin(const struct workflow *wf)
{
	return json_string_value(json_object_get(wf->doc, "plugin"));
}

static void workflow_set_time(json_t *obj, const char *key, int64_t ms)
{
	char when[32];

	tnd_format_time(ms, when);
	json_object_set_new(obj, key, json_string(when));
}

void workflow_step_started(struct workflow *wf, int64_t index, int64_t now_ms, const char *worker)
{
	json_t *step = workflow_step(wf, index);

	if (step == NULL)
		return;
	json_object_set_new(step, "status", json_string("running"));
	workflow_set_time(step, "startedAt", now_ms);
	if (worker && *worker)
		json_object_set_new(step, "worker", json_string(worker));
}

static void workflow_step_finish(json_t *step, const char *status, int64_t now_ms, double duration_ms,
				 const char *worker)
{
	json_object_set_new(step, "status", json_string(status));
	json_object_set_new(step, "attempts", json_integer(json_integer_value(json_object_get(step, "attempts")) + 1));
	/* steps are dispatched without a commit: the attempt's start is known at its end */
	workflow_set_time(step, "startedAt", now_ms - (int64_t)duration_ms);
	workflow_set_time(step, "finishedAt", now_ms);
	json_object_set_new(step, "durationMs", json_real(duration_ms));
	if (worker && *worker)
		json_object_set_new(step, "worker", json_string(worker));
}

bool workflow_step_succeeded(struct workflow *wf, int64_t index, int64_t now_ms, double duration_ms,
			     const char *worker)
{
	json_t *step = workflow_step(wf, index);

	if (step) {
		workflow_step_finish(step, "succeeded", now_ms, duration_ms, worker);
		json_object_del(step, "error");
	}
	wf->step = index + 1;
	wf->attempts = 0;
	wf->updated_ms = now_ms;
	wf->next_attempt_ms = now_ms;
	json_object_set_new(wf->doc, "error", json_null());
	if ((size_t)wf->step >= workflow_step_count(wf)) {
		wf->state = WORKFLOW_SUCCEEDED;
		return true;
	}
	wf->state = WORKFLOW_RUNNING;
	return false;
}

bool workflow_step_failed(struct workflow *wf, int64_t index, const char *error, int64_t now_ms, double duration_ms,
			  const char *worker, int max_attempts, int64_t base_ms, int64_t cap_ms)
{
	json_t *step = workflow_step(wf, index);
	char message[600];

	snprintf(message, sizeof(message), "%s: %s", workflow_step_op(wf, index) ? workflow_step_op(wf, index) : "step",
		 error && *error ? error : "failed");
	if (step) {
		workflow_step_finish(step, "failed", now_ms, duration_ms, worker);
		json_object_set_new(step, "error", json_string(message));
	}
	wf->attempts++;
	wf->updated_ms = now_ms;
	json_object_set_new(wf->doc, "error", json_string(message));
	if (wf->attempts >= max_attempts) {
		wf->state = WORKFLOW_FAILED;
		return true;
	}
	if (wf->step > 0)
		wf->state = WORKFLOW_RUNNING;
	wf->next_attempt_ms = now_ms + workflow_backoff_ms(wf->attempts - 1, base_ms, cap_ms);
	return false;
}

int64_t workflow_backoff_ms(int64_t attempt, int64_t base_ms, int64_t cap_ms)
{
	int64_t ceiling = base_ms;
	uint64_t r;

	for (int64_t i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	if (ceiling <= 0)
		return 0;
	if (tnd_random_bytes(&r, sizeof(r)) < 0)
		return ceiling;
	return (int64_t)(r % (uint64_t)(ceiling + 1));
}

json_t *workflow_to_json(const struct workflow *wf)
{
	json_t *out = json_object();
	char when[32];

	json_object_set_new(out, "id", json_string(wf->id));
	json_object_set_new(out, "tenantId", json_string(wf->tenant_id));
	json_object_set_new(out, "kind", json_string(wf->kind));
	json_object_set_new(out, "targetVersion", json_integer(wf->target_version));
	json_object_set(out, "targetState", json_object_get(wf->doc, "targetState"));
	json_object_set_new(out, "state", json_string(workflow_state_name(wf->state)));
	json_object_set_new(out, "step", json_integer(wf->step));
	json_object_set_new(out, "attempts", json_integer(wf->attempts));
	if (workflow_state_active(wf->state)) {
		tnd_format_time(wf->next_attempt_ms, when);
		json_object_set_new(out, "nextAttemptAt", json_string(when));
	}
	json_object_set(out, "steps", json_object_get(wf->doc, "steps"));
	json_object_set(out, "error", json_object_get(wf->doc, "error"));
	if (json_object_get(wf->doc, "drift"))
		json_object_set(out, "drift", json_object_get(wf->doc, "drift"));
	if (json_object_get(wf->doc, "supersededBy"))
		json_object_set(out, "supersededBy", json_object_get(wf->doc, "supersededBy"));
	if (json_object_get(wf->doc, "retriedBy"))
		json_object_set(out, "retriedBy", json_object_get(wf->doc, "retriedBy"));
	json_object_set(out, "plugin", json_object_get(wf->doc, "plugin"));
	json_object_set(out, "region", json_object_get(wf->doc, "region"));
	json_object_set(out, "requestId", json_object_get(wf->doc, "requestId"));
	tnd_format_time(wf->created_ms, when);
	json_object_set_new(out, "createdAt", json_string(when));
	tnd_format_time(wf->updated_ms, when);
	json_object_set_new(out, "updatedAt", json_string(when));
	return out;
}
