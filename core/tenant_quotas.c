/*
 * tenant_quotas.c — the quota checks of the tenant service (see
 * tenant_quotas.h): a plan's shared compute budget, reserved before the
 * commit like a region's capacity (region_usage.c), the `tenant.scale_up`
 * policy gate, the quota history entry written in the change's own
 * transaction, and the per-tenant limit of concurrent mutating requests.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"
#include "log.h"
#include "policy_gate.h"
#include "problem.h"
#include "quota_inflight.h"
#include "quota_usage.h"
#include "quotas.h"
#include "registry.h"
#include "tenant_quotas.h"
#include "tenant_service.h"
#include "util.h"

#define LOG_COMPONENT "quotas"

static struct problem *tq_storage_problem(const char *what, int r, const struct tnd_error *err)
{
	log_error("%s failed: %s (%s)", what, err->message[0] ? err->message : "no detail", strerror(-r));
	return problem_new(503, "storage-unavailable", "Registry unavailable",
			   "the registry could not complete the request; it was not applied");
}

/* 403 naming the quota, what was asked for and what the budget still allows. */
static struct problem *tq_budget_problem(const struct tnd_plan_conf *plan, int64_t requested, int64_t used)
{
	int64_t allowed = plan->max_total_compute_units - used;
	struct problem *p;
	json_t *errors;

	if (allowed < 0)
		allowed = 0;
	p = problem_new(403, "quota-exceeded", "Quota exceeded",
			"computeUnits: requested %lld, allowed %lld (plan %s has a budget of %lld compute units "
			"across its tenants, %lld in use)",
			(long long)requested, (long long)allowed, plan->code, (long long)plan->max_total_compute_units,
			(long long)used);
	{
		char *reason = tnd_xasprintf("requested %lld compute units, the plan's budget allows %lld more",
					     (long long)requested, (long long)allowed);
		errors = json_pack("[{s:s,s:s}]", "path", "spec.quotas.computeUnits", "reason", reason);
		free(reason);
	}
	problem_set_errors(p, errors);
	problem_set_extension(p, "quota", json_string("computeUnits"));
	problem_set_extension(p, "requested", json_integer(requested));
	problem_set_extension(p, "allowed", json_integer(allowed));
	problem_set_extension(p, "limit", json_integer(plan->max_total_compute_units));
	return p;
}

/* Reserve what moving from @old to @next adds to a budget; note what it frees. */
static struct problem *tq_reserve(const struct tnd_conf *conf, struct registry *reg, const struct tenant_row *old,
				  const struct tenant_row *next, struct tenant_quota_hold *hold)
{
	const struct tnd_plan_conf *plan = conf_plan(conf, next->plan);
	const struct tnd_plan_conf *old_plan = old ? conf_plan(conf, old->plan) : NULL;
	int64_t units = 0, old_units = 0, used = 0;
	struct tnd_quotas q;
	struct tnd_error err = { "" };

	if (!quota_usage_loaded_for(conf) && quota_usage_load(reg, conf, &err) < 0)
		log_warning("cannot recount compute units per plan: %s", err.message);
	if (plan && next->state != TND_PHASE_DELETED) {
		quotas_from_manifest(plan, next->manifest, &q);
		units = q.compute_units;
	}
	if (old_plan && old->state != TND_PHASE_DELETED) {
		quotas_from_manifest(old_plan, old->manifest, &q);
		old_units = q.compute_units;
	}
	if (old_plan && plan && tnd_streq(old->plan, next->plan)) {
		/* the same plan: only the difference moves */
		units -= old_units;
		if (units < 0) {
			tnd_strlcpy(hold->release_plan, next->plan, sizeof(hold->release_plan));
			hold->release = -units;
			return NULL;
		}
	} else if (old_plan && old_units > 0) {
		tnd_strlcpy(hold->release_plan, old->plan, sizeof(hold->release_plan));
		hold->release = old_units;
	}
	if (plan == NULL || units <= 0)
		return NULL;
	if (!quota_usage_reserve(plan, units, &used))
		return tq_budget_problem(plan, units, used);
	tnd_strlcpy(hold->plan, plan->code, sizeof(hold->plan));
	hold->reserved = units;
	return NULL;
}

void tenant_quotas_settle(struct tenant_quota_hold *hold, bool committed)
{
	if (hold->plan[0])
		quota_usage_settle(hold->plan, hold->reserved, committed);
	if (committed && hold->release_plan[0])
		quota_usage_add(hold->release_plan, -hold->release);
	memset(hold, 0, sizeof(*hold));
}

/* Ask the policy about raising quotas from @current to @requested. */
static struct problem *tq_scale_up_gate(const struct tnd_conf *conf, const struct tenant_row *next,
					const struct request_ctx *rctx, const struct tnd_quotas *current,
					const struct tnd_quotas *requested)
{
	json_t *extra = json_pack("{s:{s:o,s:o}}", "quotas", "requested", quotas_to_json(requested), "current",
				  quotas_to_json(current));
	const struct policy_subject subject = {
		.action = "tenant.scale_up",
		.actor_id = rctx->actor,
		.actor_role = rctx->actor_role,
		.tenant_id = next->id,
		.manifest = next->manifest,
		.phase = lifecycle_phase_name(next->phase),
		.placement = json_object_get(next->status, "placement"),
		.plan = next->plan,
		.request_id = rctx->request_id,
		.context_extra = extra,
	};
	struct policy_decision decision;
	struct problem *p = NULL;
	enum policy_verdict verdict = policy_gate_check(&subject, conf->plugins.policy_timeout_ms, &decision);

	if (verdict != POLICY_ALLOW)
		p = policy_problem(&subject, &decision);
	policy_decision_clear(&decision);
	json_decref(extra);
	return p;
}

/* "plan" when the manifest's plan and quotas stayed and still the effective quotas moved. */
static const char *tq_source(const struct tenant_row *old, const struct tenant_row *next)
{
	const json_t *a, *b;

	if (old == NULL || !tnd_streq(old->plan, next->plan))
		return "manifest";
	a = json_object_get(json_object_get(old->manifest, "spec"), "quotas");
	b = json_object_get(json_object_get(next->manifest, "spec"), "quotas");
	return (a == NULL && b == NULL) || (a && b && json_equal(a, b)) ? "plan" : "manifest";
}

struct problem *tenant_quotas_prepare(struct registry *reg, const struct tnd_conf *conf,
				      struct registry_txn *txn, const struct tenant_row *old,
				      const struct tenant_row *next, const struct request_ctx *rctx, int64_t now_ms,
				      struct tenant_quota_hold *hold)
{
	const struct tnd_plan_conf *plan = conf_plan(conf, next->plan);
	struct tnd_quotas effective, current;
	struct tnd_error err = { "" };
	struct problem *p;
	bool added;
	int r;

	memset(hold, 0, sizeof(*hold));
	if (plan == NULL)
		return NULL; /* validation names an unknown plan before this */
	r = quotas_effective(reg, plan, next->id, next->manifest, now_ms, &effective, &err);
	if (r < 0)
		return tq_storage_problem("override read", r, &err);
	if (old && next->state != TND_PHASE_DELETED) {
		r = quotas_last_recorded(reg, old->id, &current, &err);
		if (r == -ENOENT) {
			const struct tnd_plan_conf *old_plan = conf_plan(conf, old->plan);
			r = old_plan ? quotas_effective(reg, old_plan, old->id, old->manifest, now_ms, &current, &err)
				     : (current = effective, 0);
		}
		if (r < 0)
			return tq_storage_problem("quota history read", r, &err);
		if (quotas_first_raise(&current, &effective)) {
			p = tq_scale_up_gate(conf, next, rctx, &current, &effective);
			if (p)
				return p;
		}
	}
	p = tq_reserve(conf, reg, old, next, hold);
	if (p)
		return p;
	if (rctx->dry_run)
		return NULL;
	{
		const struct quota_change change = {
			.tenant_id = next->id,
			.version = next->version,
			.source = tq_source(old, next),
			.actor = rctx->actor,
			.request_id = rctx->request_id,
			.time_ms = now_ms,
			.first = old == NULL,
		};
		r = quotas_record_if_changed(reg, txn, &effective, &change, &added, &err);
	}
	if (r < 0) {
		tenant_quotas_settle(hold, false);
		return tq_storage_problem("quota history read", r, &err);
	}
	return NULL;
}

bool tenant_quotas_refresh(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
			   const struct tenant_row *row, const struct request_ctx *rctx, int64_t now_ms)
{
	const struct tnd_plan_conf *plan = conf_plan(conf, row->plan);
	const struct quota_change change = {
		.tenant_id = row->id,
		.version = row->version,
		.source = "plan",
		.actor = rctx->actor,
		.request_id = rctx->request_id,
		.time_ms = now_ms,
	};
	struct tnd_quotas effective;
	struct tnd_error err = { "" };
	bool added = false;

	if (plan == NULL || rctx->dry_run || row->state == TND_PHASE_DELETED)
		return false;
	if (quotas_effective(reg, plan, row->id, row->manifest, now_ms, &effective, &err) < 0 ||
	    quotas_record_if_changed(reg, txn, &effective, &change, &added, &err) < 0) {
		log_warning("tenant %s: quota history not refreshed: %s", row->id, err.message);
		return false;
	}
	return added;
}

/*
 * The concurrentOperations in force for tenant @id: the newest recorded;
 * without history (a new tenant, or one older than quota history), from
 * the request's @manifest and its plan, else from the stored row.  One
 * registry read in the common cases.  0: unknown (no limit).
 */
static int64_t tq_concurrency(struct registry *reg, const struct tnd_conf *conf, const char *id,
			      const json_t *manifest)
{
	const struct tnd_plan_conf *plan;
	struct tenant_row *row = NULL;
	struct tnd_quotas q;
	struct tnd_error err = { "" };
	int64_t limit = 0;

	if (quotas_last_recorded(reg, id, &q, &err) == 0)
		return q.concurrent_operations;
	if (manifest) {
		plan = conf_plan(conf, json_string_value(json_object_get(json_object_get(manifest, "spec"), "plan")));
		if (plan == NULL)
			return 0;
		quotas_from_manifest(plan, manifest, &q);
		return q.concurrent_operations;
	}
	if (registry_tenant_get(reg, id, &row, &err) == 0) {
		plan = conf_plan(conf, row->plan);
		if (plan && quotas_effective(reg, plan, id, row->manifest, tnd_now_ms(), &q, &err) == 0)
			limit = q.concurrent_operations;
		tenant_row_free(row);
	}
	return limit;
}

struct problem *tenant_quotas_enter(struct registry *reg, const struct tnd_conf *conf, const char *id,
				    const json_t *manifest, const struct request_ctx *rctx)
{
	int64_t limit = tq_concurrency(reg, conf, id, manifest), in_flight = 0;
	struct problem *p;

	if (quota_inflight_enter(id, rctx->idempotency_key, limit, &in_flight))
		return NULL;
	p = problem_new(409, "too-many-operations", "Too many concurrent operations",
			"concurrentOperations: requested %lld, allowed %lld (tenant %s already has %lld operation(s) "
			"in flight; retry when one has finished)",
			(long long)(in_flight + 1), (long long)limit, id, (long long)in_flight);
	problem_set_extension(p, "quota", json_string("concurrentOperations"));
	problem_set_extension(p, "requested", json_integer(in_flight + 1));
	problem_set_extension(p, "allowed", json_integer(limit));
	return p;
}

void tenant_quotas_leave(const char *id, const struct request_ctx *rctx)
{
	quota_inflight_leave(id, rctx->idempotency_key);
}
