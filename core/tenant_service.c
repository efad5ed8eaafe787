/*
 * tenant_service.c — the mutation pipeline for tenants (see tenant_service.h).
 *
 * Every mutation reads the head row, decides, and commits one transaction
 * guarded by the row's revision; a concurrent writer makes the commit fail
 * with -ESTALE and the whole decision is taken again on fresh data, so
 * If-Match, lifecycle and no-op checks always judge the state they replace.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "conf.h"
#include "events.h"
#include "host.h"
#include "lifecycle.h"
#include "log.h"
#include "manifest.h"
#include "placement.h"
#include "policy_gate.h"
#include "problem.h"
#include "reconcile.h"
#include "region_usage.h"
#include "registry.h"
#include "tenant_quotas.h"
#include "tenant_service.h"
#include "util.h"

#define LOG_COMPONENT "tenants"

/* Optimistic retries before giving up on a tenant that is being hammered. */
#define SERVICE_MAX_ATTEMPTS 16

/* --- documents and responses ------------------------------------------------ */

json_t *tenant_response(int status, const json_t *body, int64_t version, const char *location)
{
	json_t *response = json_object();
	json_t *headers = json_object();

	json_object_set_new(response, "status", json_integer(status));
	if (version > 0)
		json_object_set_new(headers, "ETag", json_sprintf("\"%lld\"", (long long)version));
	if (location)
		json_object_set_new(headers, "Location", json_string(location));
	json_object_set_new(response, "headers", headers);
	json_object_set(response, "body", (json_t *)body);
	return response;
}

static json_t *service_row_response(int status, const struct tenant_row *row, bool created)
{
	json_t *doc = tenant_document(row);
	char *location = created ? tnd_xasprintf("/v1/tenants/%s", row->id) : NULL;
	json_t *response = tenant_response(status, doc, row->version, location);

	json_decref(doc);
	free(location);
	return response;
}

/* --- conditions ----------------------------------------------------------------- */

/*
 * RFC 9110 §13.1.1: If-Match is "*" or a list of strong entity tags; it is
 * false when the resource does not exist, and weak tags never match.
 */
static bool service_if_match(const char *header, bool exists, int64_t version)
{
	char want[32];
	const char *p = header;
	size_t want_len;

	if (header == NULL)
		return true;
	if (!exists)
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strcmp(p, "*") == 0)
		return true;
	snprintf(want, sizeof(want), "\"%lld\"", (long long)version);
	want_len = strlen(want);
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncmp(p, want, want_len) == 0 && (p[want_len] == '\0' || p[want_len] == ',' ||
						       p[want_len] == ' ' || p[want_len] == '\t'))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

static struct problem *service_precondition_failed(const char *id, bool exists, int64_t version)
{
	if (!exists)
		return problem_new(412, "precondition-failed", "Precondition failed",
				   "If-Match given but tenant %s does not exist", id);
	return problem_new(412, "precondition-failed", "Precondition failed",
			   "If-Match does not match the current version of tenant %s (ETag \"%lld\")", id,
			   (long long)version);
}

static struct problem *service_storage_problem(const char *what, int r, const struct tnd_error *err)
{
	log_error("%s failed: %s (%s)", what, err->message[0] ? err->message : "no detail", strerror(-r));
	return problem_new(503, "storage-unavailable", "Registry unavailable",
			   "the registry could not complete the request; it was not applied");
}

/* --- status ------------------------------------------------------------------------ */

static json_t *service_status(enum tnd_phase phase, int64_t observed_version, const json_t *placement,
			      int64_t now_ms)
{
	json_t *status = json_object();
	json_t *place = json_deep_copy(placement);
	char when[32];

	if (json_object_get(place, "resources") == NULL)
		json_object_set_new(place, "resources", json_object());
	json_object_set_new(status, "phase", json_string(lifecycle_phase_name(phase)));
	json_object_set_new(status, "observedVersion", json_integer(observed_version));
	json_object_set_new(status, "placement", place);
	json_object_set_new(status, "conditions", json_array());
	tnd_format_time(now_ms, when);
	json_object_set_new(status, "lastTransitionTime", json_string(when));
	return status;
}

/* --- committing ----------------------------------------------------------------------- */

enum service_outcome {
	SERVICE_DONE,
	SERVICE_RETRY,
	SERVICE_FAILED,
};

/* Replay the response a concurrent request with the same Idempotency-Key stored. */
static enum service_outcome service_replay(struct registry *reg, const struct request_ctx *rctx,
					   json_t **ret_response, struct problem **ret_problem)
{
	struct idempotent_response stored;
	struct tnd_error err = { "" };
	int r = registry_idempotency_get(reg, rctx->idempotency_key, &stored, &err);

	if (r < 0) {
		*ret_problem = service_storage_problem("idempotency replay", r, &err);
		return SERVICE_FAILED;
	}
	if (!tnd_streq(stored.request_hash, rctx->request_hash)) {
		json_decref(stored.response);
		*ret_problem = problem_new(422, "idempotency-key-reused", "Idempotency-Key reused",
					   "this Idempotency-Key was already used with a different request");
		return SERVICE_FAILED;
	}
	*ret_response = stored.response;
	return SERVICE_DONE;
}

/* The request's own audit record, in the transaction of its change. */
static void service_audit(struct registry_txn *txn, const struct request_ctx *rctx, const char *id,
			  enum tnd_phase from, enum tnd_phase to)
{
	char target[160];
	struct audit_event ev = {
		.tenant_id = id,
		.actor = rctx->actor,
		.action = rctx->action ? rctx->action : "tenant.apply",
		.target = rctx->target,
		.previous_state = from == TND_PHASE_INVALID ? NULL : lifecycle_state_name(from),
		.new_state = lifecycle_state_name(to),
		.outcome = AUDIT_OUTCOME_SUCCEEDED,
		.reason = from == to ? "unchanged" : NULL,
		.request_id = rctx->request_id,
		.correlation_id = rctx->request_id,
	};

	if (ev.target == NULL) {
		snprintf(target, sizeof(target), "/v1/tenants/%s", id);
		ev.target = target;
	}
	registry_txn_add_audit(txn, &ev);
}

/*
 * Commit @txn (adding the idempotency record of @response first).  Hands
 * @response over to *ret_response on success, drops it otherwise.  An
 * audit write that fails (sealing included) fails it all: 503.
 */
static enum service_outcome service_commit(struct registry *reg, struct registry_txn *txn,
					   const struct request_ctx *rctx, json_t *response,
					   json_t **ret_response, struct problem **ret_problem)
{
	struct tnd_error err = { "" };
	size_t failed = SIZE_MAX;
	int64_t now = tnd_now_ms();
	int r;

	if (rctx->idempotency_key) {
		json_t *status = json_object_get(response, "status");
		registry_txn_add_idempotency(txn, rctx->idempotency_key, rctx->request_hash,
					     (int)json_integer_value(status), response, now, rctx->idempotency_ttl_ms);
	}
	r = registry_commit(reg, txn, &failed, &err);
	if (r == 0) {
		*ret_response = response;
		return SERVICE_DONE;
	}
	json_decref(response);
	if (r == -EEXIST && txn->idempotency_index >= 0 && failed == (size_t)txn->idempotency_index)
		return service_replay(reg, rctx, ret_response, ret_problem);
	if (r == -ESTALE || r == -EEXIST)
		return SERVICE_RETRY; /* a concurrent writer won; decide again on fresh data */
	*ret_problem = service_storage_problem("commit", r, &err);
	return SERVICE_FAILED;
}

/* --- policy and dry runs ------------------------------------------------------------ */

/*
 * The last gate before a commit: ask the policy about @action on @row as it
 * would be (its manifest and placement), in phase @phase (NULL: new).  True
 * to go on; a dry run goes on after a denial too, to report it.  False with
 * *ret_problem: 403 denied, 503 the policy could not decide (fail closed).
 */
static bool service_policy(const struct tnd_conf *conf, const char *action, const struct request_ctx *rctx,
			   const struct tenant_row *row, const char *phase, struct policy_decision *decision,
			   struct problem **ret_problem)
{
	const struct policy_subject subject = {
		.action = action,
		.actor_id = rctx->actor,
		.actor_role = rctx->actor_role,
		.tenant_id = row->id,
		.manifest = row->manifest,
		.phase = phase,
		.placement = json_object_get(row->status, "placement"),
		.plan = row->plan,
		.request_id = rctx->request_id,
	};
	enum policy_verdict verdict = policy_gate_check(&subject, conf->plugins.policy_timeout_ms, decision);

	if (verdict == POLICY_ALLOW || (verdict == POLICY_DENY && rctx->dry_run))
		return true;
	*ret_problem = policy_problem(&subject, decision);
	policy_decision_clear(decision);
	return false;
}

/* What a dry run answers: the decision and the tenant as it would be. */
static json_t *service_dry_run_response(const char *action, const struct policy_decision *decision,
					const struct tenant_row *row, const char *outcome)
{
	json_t *body = json_object();
	json_t *response;

	json_object_set_new(body, "dryRun", json_true());
	json_object_set_new(body, "action", json_string(action));
	json_object_set_new(body, "decision", json_string(decision->verdict == POLICY_ALLOW ? "allow" : "deny"));
	json_object_set(body, "reasons", decision->reasons);
	json_object_set(body, "obligations", decision->obligations);
	json_object_set_new(body, "outcome", json_string(outcome));
	json_object_set_new(body, "tenant", tenant_document(row));
	response = tenant_response(200, body, 0, NULL);
	json_decref(body);
	return response;
}

/* A response that changes nothing still asks the policy (it answers the
 * request, not the change) and records its Idempotency-Key. */
static enum service_outcome service_unchanged(struct registry *reg, const struct tnd_conf *conf,
					      const struct tenant_row *row, const char *action,
					      const struct request_ctx *rctx, json_t **ret_response,
					      struct problem **ret_problem)
{
	struct policy_decision decision;
	struct registry_txn txn;
	enum service_outcome outcome;
	json_t *response;

	if (!service_policy(conf, action, rctx, row, lifecycle_phase_name(row->phase), &decision, ret_problem))
		return SERVICE_FAILED;
	if (rctx->dry_run) {
		*ret_response = service_dry_run_response(action, &decision, row, "unchanged");
		policy_decision_clear(&decision);
		return SERVICE_DONE;
	}
	policy_decision_clear(&decision);
	response = service_row_response(200, row, false);
	registry_txn_init(&txn);
	service_audit(&txn, rctx, row->id, row->state, row->state);
	/* quotas: a reloaded plan or an ended override is recorded by the next apply */
	tenant_quotas_refresh(reg, conf, &txn, row, rctx, tnd_now_ms());
	if (rctx->idempotency_key == NULL && txn.n == 0) {
		registry_txn_clear(&txn);
		*ret_response = response;
		return SERVICE_DONE;
	}
	outcome = service_commit(reg, &txn, rctx, response, ret_response, ret_problem);
	registry_txn_clear(&txn);
	return outcome;
}

/* --- apply ---------------------------------------------------------------------------- */

/* What reconcile_attach() failing means for the caller. */
static enum service_outcome service_reconcile_failed(int r, const char *id, const struct tnd_error *err,
						     struct problem **ret_problem)
{
	if (r == -ESTALE)
		return SERVICE_RETRY;
	if (r == -ENXIO) {
		*ret_problem = problem_new(422, "placement-rejected", "Placement rejected", "tenant %s: %s", id,
					   err->message);
		return SERVICE_FAILED;
	}
	*ret_problem = service_storage_problem("reconcile planning", r, err);
	return SERVICE_FAILED;
}

static struct problem *service_lifecycle_problem(const char *id, enum tnd_phase from, enum tnd_phase to)
{
	struct tnd_error err = { "" };
	struct problem *p;

	lifecycle_check(from, to, &err);
	p = problem_new(409, "invalid-transition", "Lifecycle transition not allowed", "tenant %s: %s", id,
			err.message);
	return p;
}

static struct problem *service_deleted_problem(const char *id)
{
	return problem_new(409, "tenant-deleted", "Tenant deleted",
			   "tenant %s was deleted; tenant ids are never reused", id);
}

/*
 * Resolve the placement of a new tenant and reserve a slot in its region
 * (region capacity).  Another create may take the last slot between the
 * resolver's look and the reservation; resolving again then picks another
 * candidate or names the full region.  0 and the placement, or -1 and a
 * 422 problem.
 */
static int service_place(const struct tnd_conf *conf, const json_t *norm, json_t **ret_placement,
			 struct problem **ret_problem)
{
	for (int attempt = 0; attempt < SERVICE_MAX_ATTEMPTS; attempt++) {
		json_t *errors = json_array(), *placement = NULL;
		const struct tnd_region_conf *region;

		if (placement_resolve(conf, norm, &placement, errors) < 0) {
			*ret_problem = problem_new(422, "placement-rejected", "Placement rejected",
						   "no placement satisfies the manifest");
			problem_set_errors(*ret_problem, errors);
			return -1;
		}
		json_decref(errors);
		region = conf_region(conf, json_string_value(json_object_get(placement, "region")));
		if (region && region_usage_reserve(region)) {
			*ret_placement = placement;
			return 0;
		}
		json_decref(placement);
	}
	*ret_problem = problem_new(422, "placement-rejected", "Placement rejected",
				   "every region the manifest allows is at capacity");
	return -1;
}

static enum service_outcome service_create(struct registry *reg, const struct tnd_conf *conf, const json_t *norm,
					   const char *id, const struct request_ctx *rctx, json_t **ret_response,
					   struct problem **ret_problem)
{
	const json_t *spec = json_object_get(norm, "spec");
	enum tnd_phase target = lifecycle_phase_parse(json_string_value(json_object_get(spec, "state")));
	json_t *placement = NULL;
	struct policy_decision decision = { 0 };
	struct tenant_row row = { 0 };
	struct tenant_quota_hold hold = { .reserved = 0 };
	struct tnd_error err = { "" };
	struct registry_txn txn;
	enum service_outcome outcome;
	enum tnd_phase from;
	int64_t now = tnd_now_ms();
	int r;

	if (rctx->if_match) {
		*ret_problem = service_precondition_failed(id, false, 0);
		return SERVICE_FAILED;
	}
	/* a tenant is born Draft and may go straight on to Active */
	if (target != TND_PHASE_DRAFT && !lifecycle_transition_allowed(TND_PHASE_DRAFT, target)) {
		*ret_problem = service_lifecycle_problem(id, TND_PHASE_DRAFT, target);
		return SERVICE_FAILED;
	}
	if (service_place(conf, norm, &placement, ret_problem) < 0)
		return SERVICE_FAILED;

	row.id = (char *)id;
	row.revision = 1;
	row.version = 1;
	row.phase = TND_PHASE_DRAFT;
	row.state = target;
	row.plan = (char *)json_string_value(json_object_get(spec, "plan"));
	row.isolation = (char *)json_string_value(json_object_get(placement, "isolation"));
	row.region = (char *)json_string_value(json_object_get(placement, "region"));
	row.labels = json_object_get(json_object_get(norm, "metadata"), "labels");
	row.manifest = (json_t *)norm;
	row.status = service_status(TND_PHASE_DRAFT, 0, placement, now);
	row.created_ms = now;
	row.updated_ms = now;

	registry_txn_init(&txn);
	if (!service_policy(conf, "tenant.apply", rctx, &row, NULL, &decision, ret_problem)) {
		outcome = SERVICE_FAILED;
		goto out;
	}
	/* quotas: the plan's compute budget, the quota history (tenant_quotas.c) */
	*ret_problem = tenant_quotas_prepare(reg, conf, &txn, NULL, &row, rctx, now, &hold);
	if (*ret_problem) {
		outcome = SERVICE_FAILED;
		goto out;
	}
	r = reconcile_attach(reg, conf, &txn, NULL, &row, rctx, &from, &err);
	if (r < 0) {
		outcome = service_reconcile_failed(r, id, &err, ret_problem);
		goto out;
	}
	if (rctx->dry_run) {
		*ret_response = service_dry_run_response("tenant.apply", &decision, &row, "created");
		outcome = SERVICE_DONE;
		goto out;
	}
	registry_txn_put_tenant(&txn, &row, -1);
	service_audit(&txn, rctx, id, TND_PHASE_INVALID, target);
	registry_txn_add_version(&txn, id, 1, norm, rctx->actor, rctx->request_id, now);
	registry_txn_add_transition(&txn, id, TND_PHASE_INVALID, TND_PHASE_DRAFT, 1, rctx->actor, rctx->request_id,
				    "created", now);
	if (from != TND_PHASE_INVALID)
		registry_txn_add_transition(&txn, id, from, row.phase, 1, rctx->actor, rctx->request_id, "applied",
					    now);
	events_add_for_transitions(reg, conf, &txn, &row, NULL, now);

	outcome = service_commit(reg, &txn, rctx, service_row_response(201, &row, true), ret_response,
				 ret_problem);
	if (outcome == SERVICE_DONE) {
		log_info("tenant %s created (%s, %s in %s)", id, lifecycle_phase_name(row.phase), row.isolation,
			 row.region);
		reconcile_wake();
	}
out:
	/* an Idempotency-Key replay is DONE without this txn committing */
	region_usage_settle(row.region, txn.committed);
	tenant_quotas_settle(&hold, txn.committed);
	policy_decision_clear(&decision);
	registry_txn_clear(&txn);
	json_decref(row.status);
	json_decref(placement);
	return outcome;
}

/* Placement is pinned once chosen: moving isolation, residency or region is a migration. */
static struct problem *service_check_pinned(const struct tenant_row *row, const json_t *norm)
{
	const json_t *spec = json_object_get(norm, "spec");
	const json_t *place = json_object_get(spec, "placement");
	const char *isolation = json_string_value(json_object_get(spec, "isolation"));
	const char *residency = json_string_value(json_object_get(place, "residency"));
	const char *old_residency =
		json_string_value(json_object_get(json_object_get(json_object_get(row->manifest, "spec"), "placement"),
						  "residency"));
	const json_t *allowed = json_object_get(place, "allowedRegions");

	if (!tnd_streq(isolation, row->isolation))
		return problem_new(409, "migration-required", "Migration required",
				   "tenant %s runs with isolation %s; changing it to %s is a migration "
				   "(POST /v1/tenants/%s/migrations)",
				   row->id, row->isolation, isolation, row->id);
	if (old_residency && !tnd_streq(residency, old_residency))
		return problem_new(409, "migration-required", "Migration required",
				   "tenant %s lives in residency zone %s; moving it to %s is a migration", row->id,
				   old_residency, residency);
	if (json_is_array(allowed) && row->region) {
		size_t i;
		json_t *r;
		json_array_foreach(allowed, i, r)
			if (tnd_streq(json_string_value(r), row->region))
				return NULL;
		return problem_new(409, "migration-required", "Migration required",
				   "tenant %s is placed in %s, which the new allowedRegions exclude; moving it is a "
				   "migration (POST /v1/tenants/%s/migrations)",
				   row->id, row->region, row->id);
	}
	return NULL;
}

/* Record a new version of @row with manifest @manifest and desired state @target. */
static enum service_outcome service_update(struct registry *reg, const struct tnd_conf *conf,
					   const struct tenant_row *row, json_t *manifest, enum tnd_phase target,
					   const char *action, const char *reason, const struct request_ctx *rctx,
					   json_t **ret_response, struct problem **ret_problem)
{
	struct policy_decision decision = { 0 };
	struct tenant_row next = *row;
	struct tenant_quota_hold hold = { .reserved = 0 };
	const json_t *spec = json_object_get(manifest, "spec");
	struct tnd_error err = { "" };
	struct registry_txn txn;
	enum service_outcome outcome;
	enum tnd_phase from;
	int64_t now = tnd_now_ms();
	int r;

	next.revision = row->revision + 1;
	next.version = row->version + 1;
	next.state = target;
	next.plan = (char *)json_string_value(json_object_get(spec, "plan"));
	next.labels = json_object_get(json_object_get(manifest, "metadata"), "labels");
	if (next.labels == NULL)
		next.labels = row->labels;
	next.manifest = manifest;
	next.status = json_deep_copy(row->status);
	next.updated_ms = now;

	registry_txn_init(&txn);
	if (!service_policy(conf, action, rctx, &next, lifecycle_phase_name(row->phase), &decision, ret_problem)) {
		outcome = SERVICE_FAILED;
		goto out;
	}
	/* quotas: scale-up gate, the plan's compute budget, the quota history (tenant_quotas.c) */
	*ret_problem = tenant_quotas_prepare(reg, conf, &txn, row, &next, rctx, now, &hold);
	if (*ret_problem) {
		outcome = SERVICE_FAILED;
		goto out;
	}
	r = reconcile_attach(reg, conf, &txn, row, &next, rctx, &from, &err);
	if (r < 0) {
		outcome = service_reconcile_failed(r, row->id, &err, ret_problem);
		goto out;
	}
	if (rctx->dry_run) {
		*ret_response = service_dry_run_response(action, &decision, &next, "updated");
		outcome = SERVICE_DONE;
		goto out;
	}
	registry_txn_put_tenant(&txn, &next, row->revision);
	service_audit(&txn, rctx, row->id, row->state, target);
	registry_txn_add_version(&txn, row->id, next.version, manifest, rctx->actor, rctx->request_id, now);
	if (from != TND_PHASE_INVALID)
		registry_txn_add_transition(&txn, row->id, from, next.phase, next.version, rctx->actor,
					    rctx->request_id, reason, now);
	events_add_plan_updated(reg, conf, &txn, row, &next, rctx->request_id, now);
	events_add_for_transitions(reg, conf, &txn, &next, NULL, now);
	outcome = service_commit(reg, &txn, rctx, service_row_response(200, &next, false), ret_response,
				 ret_problem);
	if (outcome == SERVICE_DONE) {
		log_info("tenant %s updated to version %lld (%s, desired %s)", row->id, (long long)next.version,
			 lifecycle_phase_name(next.phase), lifecycle_state_name(next.state));
		/* a deleted tenant's slot is free for another (region capacity) */
		if (txn.committed && next.state == TND_PHASE_DELETED && row->state != TND_PHASE_DELETED &&
		    row->region)
			region_usage_add(row->region, -1);
		reconcile_wake();
	}
out:
	tenant_quotas_settle(&hold, txn.committed);
	policy_decision_clear(&decision);
	registry_txn_clear(&txn);
	json_decref(next.status);
	return outcome;
}

static enum service_outcome service_apply_existing(struct registry *reg, const struct tnd_conf *conf,
						   const struct tenant_row *row,
						   const json_t *norm, const struct request_ctx *rctx,
						   json_t **ret_response, struct problem **ret_problem)
{
	const json_t *spec = json_object_get(norm, "spec");
	enum tnd_phase target = lifecycle_phase_parse(json_string_value(json_object_get(spec, "state")));
	json_t *manifest;
	enum service_outcome outcome;

	if (row->phase == TND_PHASE_DELETED || row->state == TND_PHASE_DELETED) {
		*ret_problem = service_deleted_problem(row->id);
		return SERVICE_FAILED;
	}
	if (!service_if_match(rctx->if_match, true, row->version)) {
		*ret_problem = service_precondition_failed(row->id, true, row->version);
		return SERVICE_FAILED;
	}
	if (json_equal(norm, row->manifest))
		return service_unchanged(reg, conf, row, "tenant.apply", rctx, ret_response, ret_problem);
	*ret_problem = service_check_pinned(row, norm);
	if (*ret_problem)
		return SERVICE_FAILED;
	/* judged from the desired state: while a workflow runs the phase lags,
	 * and the caller's change follows the one it requested before */
	if (target != row->state && !lifecycle_transition_allowed(row->state, target)) {
		*ret_problem = service_lifecycle_problem(row->id, row->state, target);
		return SERVICE_FAILED;
	}
	manifest = json_deep_copy(norm);
	outcome = service_update(reg, conf, row, manifest, target, "tenant.apply", "applied", rctx, ret_response,
				 ret_problem);
	json_decref(manifest);
	return outcome;
}

int tenant_apply(struct registry *reg, const struct tnd_conf *conf, const json_t *doc, const char *url_id,
		 const struct request_ctx *rctx, json_t **ret_response, struct problem **ret_problem)
{
	json_t *errors = json_array();
	const char *id;
	json_t *norm;
	enum service_outcome outcome = SERVICE_RETRY;

	if (manifest_validate(doc, conf, errors) < 0) {
		*ret_problem = problem_new(422, "validation-failed", "Manifest invalid",
					   "the manifest has %zu problem(s)", json_array_size(errors));
		problem_set_errors(*ret_problem, errors);
		return -1;
	}
	id = json_string_value(json_pointer_get(doc, "/metadata/id"));
	if (!tnd_streq(id, url_id)) {
		manifest_error_add(errors, "metadata.id", "must equal the tenant id in the URL (%s)", url_id);
		*ret_problem = problem_new(422, "validation-failed", "Manifest invalid",
					   "metadata.id does not match the URL");
		problem_set_errors(*ret_problem, errors);
		return -1;
	}
	json_decref(errors);
	norm = manifest_normalize(doc, conf);
	/* quotas: concurrentOperations (tenant_quotas.c) */
	*ret_problem = tenant_quotas_enter(reg, conf, id, norm, rctx);
	if (*ret_problem) {
		json_decref(norm);
		return -1;
	}

	for (int attempt = 0; attempt < SERVICE_MAX_ATTEMPTS && outcome == SERVICE_RETRY; attempt++) {
		struct tenant_row *row = NULL;
		struct tnd_error err = { "" };
		int r = registry_tenant_get(reg, id, &row, &err);

		if (r == -ENOENT) {
			outcome = service_create(reg, conf, norm, id, rctx, ret_response, ret_problem);
		} else if (r < 0) {
			*ret_problem = service_storage_problem("tenant read", r, &err);
			outcome = SERVICE_FAILED;
		} else {
			outcome = service_apply_existing(reg, conf, row, norm, rctx, ret_response, ret_problem);
			tenant_row_free(row);
		}
	}
	tenant_quotas_leave(id, rctx);
	json_decref(norm);
	if (outcome == SERVICE_RETRY)
		*ret_problem = problem_new(409, "conflict", "Concurrent modification",
					   "tenant %s is being modified concurrently; retry", id);
	return outcome == SERVICE_DONE ? 0 : -1;
}

/* --- lifecycle sugar ------------------------------------------------------------------------- */

static const struct {
	enum tnd_phase target;
	const char *reason;
	const char *policy_action;
} service_actions[] = {
	[TENANT_ACTION_SUSPEND] = { TND_PHASE_SUSPENDED, "suspended", "tenant.suspend" },
	[TENANT_ACTION_RESUME] = { TND_PHASE_ACTIVE, "resumed", "tenant.resume" },
	[TENANT_ACTION_ARCHIVE] = { TND_PHASE_ARCHIVED, "archived", "tenant.archive" },
	[TENANT_ACTION_DELETE] = { TND_PHASE_DELETED, "deleted", "tenant.delete" },
};

static enum service_outcome service_act_once(struct registry *reg, const struct tnd_conf *conf, const char *id,
					     enum tenant_action action,
					     const struct request_ctx *rctx, json_t **ret_response,
					     struct problem **ret_problem)
{
	enum tnd_phase target = service_actions[action].target;
	struct tenant_row *row = NULL;
	struct tnd_error err = { "" };
	enum service_outcome outcome;
	json_t *manifest;
	int r = registry_tenant_get(reg, id, &row, &err);

	if (r == -ENOENT) {
		*ret_problem = problem_new(404, "not-found", "Not found", "tenant %s does not exist", id);
		return SERVICE_FAILED;
	}
	if (r < 0) {
		*ret_problem = service_storage_problem("tenant read", r, &err);
		return SERVICE_FAILED;
	}
	if (row->phase == TND_PHASE_DELETED || row->state == TND_PHASE_DELETED) {
		*ret_problem = action == TENANT_ACTION_DELETE
				       ? problem_new(409, "tenant-deleted", "Tenant deleted",
						     "tenant %s is already Deleted", id)
				       : service_deleted_problem(id);
		outcome = SERVICE_FAILED;
	} else if (!service_if_match(rctx->if_match, true, row->version)) {
		*ret_problem = service_precondition_failed(id, true, row->version);
		outcome = SERVICE_FAILED;
	} else if (row->state == target) {
		outcome = service_unchanged(reg, conf, row, service_actions[action].policy_action, rctx, ret_response,
					    ret_problem);
	} else if (action == TENANT_ACTION_RESUME && row->state != TND_PHASE_SUSPENDED) {
		*ret_problem = problem_new(409, "invalid-transition", "Lifecycle transition not allowed",
					   "tenant %s: resume applies to a Suspended tenant, this one is %s", id,
					   lifecycle_phase_name(row->state));
		outcome = SERVICE_FAILED;
	} else if (!lifecycle_transition_allowed(row->state, target)) {
		*ret_problem = service_lifecycle_problem(id, row->state, target);
		outcome = SERVICE_FAILED;
	} else {
		manifest = json_deep_copy(row->manifest);
		json_object_set_new(json_object_get(manifest, "spec"), "state",
				    json_string(lifecycle_state_name(target)));
		outcome = service_update(reg, conf, row, manifest, target, service_actions[action].policy_action,
					 service_actions[action].reason, rctx, ret_response, ret_problem);
		json_decref(manifest);
	}
	tenant_row_free(row);
	return outcome;
}

int tenant_act(struct registry *reg, const struct tnd_conf *conf, const char *id, enum tenant_action action,
	       const struct request_ctx *rctx, json_t **ret_response, struct problem **ret_problem)
{
	enum service_outcome outcome = SERVICE_RETRY;

	/* quotas: concurrentOperations (tenant_quotas.c) */
	*ret_problem = tenant_quotas_enter(reg, conf, id, NULL, rctx);
	if (*ret_problem)
		return -1;
	for (int attempt = 0; attempt < SERVICE_MAX_ATTEMPTS && outcome == SERVICE_RETRY; attempt++)
		outcome = service_act_once(reg, conf, id, action, rctx, ret_response, ret_problem);
	tenant_quotas_leave(id, rctx);
	if (outcome == SERVICE_RETRY)
		*ret_problem = problem_new(409, "conflict", "Concurrent modification",
					   "tenant %s is being modified concurrently; retry", id);
	return outcome == SERVICE_DONE ? 0 : -1;
}
