/*
 * api_workflows.c — the reconcile routes: workflows (list, one, retry) and
 * a tenant's data-plane credentials (admin only).  See docs/reconcile.md.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "audit.h"
#include "conf.h"
#include "credentials.h"
#include "host.h"
#include "lifecycle.h"
#include "log.h"
#include "orchestrator.h"
#include "policy_gate.h"
#include "problem.h"
#include "reconcile.h"
#include "registry.h"
#include "tokens.h"
#include "util.h"
#include "workflow.h"

#define LOG_COMPONENT "api"

#define API_WORKFLOWS_DEFAULT 100
#define API_WORKFLOWS_MAX 1000

static enum MHD_Result api_no_reconcile(struct api_request *req)
{
	return api_fail(req, 404, "not-found", "Not found",
			"this tenancyd runs without a data plane (no isolation plugin configured)");
}

static enum MHD_Result api_wf_storage_failed(struct api_request *req, int r, const struct tnd_error *err)
{
	log_error("registry read failed: %s (%s)", err->message[0] ? err->message : "no detail", strerror(-r));
	return api_fail(req, 503, "storage-unavailable", "Registry unavailable", "the registry could not be read");
}

/* The stored workflow plus, while a step runs, what is in flight. */
static json_t *api_workflow_json(struct api_request *req, const struct workflow *wf)
{
	json_t *out = workflow_to_json(wf);
	json_t *live = orchestrator_live(req->server->orchestrator, wf->id);

	if (live)
		json_object_set_new(out, "running", live);
	return out;
}

/* --- GET /v1/workflows ---------------------------------------------------------- */

struct api_wf_list {
	struct api_request *req;
	json_t *items;
	char last_id[40];
	uint32_t seen;
};

static int api_wf_list_visit(const struct workflow *wf, void *userdata)
{
	struct api_wf_list *st = userdata;

	st->seen++;
	tnd_strlcpy(st->last_id, wf->id, sizeof(st->last_id));
	json_array_append_new(st->items, api_workflow_json(st->req, wf));
	return 0;
}

enum MHD_Result api_workflows_list(struct api_request *req)
{
	struct tnd_workflow_query query = { .size = sizeof(query), .limit = API_WORKFLOWS_DEFAULT };
	struct api_wf_list st = { req, NULL, "", 0 };
	const char *tenant = api_query(req, "tenant");
	const char *state = api_query(req, "state");
	const char *cursor = api_query(req, "cursor");
	struct tnd_error err = { "" };
	json_t *body;
	int r;

	if (!registry_supports_reconcile(req->server->registry))
		return api_no_reconcile(req);
	if (req->principal.role == TND_ROLE_TENANT) {
		if (tenant && strcmp(tenant, req->principal.tenant) != 0)
			return api_fail(req, 404, "not-found", "Not found", "tenant %s does not exist", tenant);
		tenant = req->principal.tenant;
	}
	if (state && workflow_state_parse(state) == WORKFLOW_INVALID)
		return api_fail(req, 400, "bad-request", "Bad request",
				"state must be one of Pending, Running, Succeeded, Failed, Superseded");
	if (!api_query_limit(req, API_WORKFLOWS_MAX, &query.limit))
		return api_fail_limit(req, API_WORKFLOWS_MAX);
	if (cursor && (strncmp(cursor, "wf-", 3) != 0 || strlen(cursor) >= sizeof(st.last_id)))
		return api_fail(req, 400, "bad-request", "Bad request", "cursor is not one this server issued");
	query.tenant_id = tenant;
	query.state = state;
	query.after_id = cursor;
	st.items = json_array();
	r = registry_workflow_list(req->server->registry, &query, api_wf_list_visit, &st, &err);
	if (r < 0) {
		json_decref(st.items);
		return api_wf_storage_failed(req, r, &err);
	}
	body = json_object();
	json_object_set_new(body, "items", st.items);
	json_object_set_new(body, "nextCursor", st.seen == query.limit ? json_string(st.last_id) : json_null());
	return api_send_json(req, 200, body, NULL, NULL);
}

/* --- GET /v1/workflows/{id} ---------------------------------------------------------- */

/* 0 with the workflow, or a response queued (404 also for another tenant's). */
static bool api_wf_load(struct api_request *req, struct workflow **ret, enum MHD_Result *ret_result)
{
	struct tnd_error err = { "" };
	int r;

	if (!registry_supports_reconcile(req->server->registry)) {
		*ret_result = api_no_reconcile(req);
		return false;
	}
	r = registry_workflow_get(req->server->registry, req->params[0], ret, &err);
	if (r == 0 && req->principal.role == TND_ROLE_TENANT && strcmp((*ret)->tenant_id, req->principal.tenant) != 0) {
		workflow_free(*ret);
		r = -ENOENT;
	}
	if (r == -ENOENT) {
		*ret_result = api_fail(req, 404, "not-found", "Not found", "workflow %s does not exist", req->params[0]);
		return false;
	}
	if (r < 0) {
		*ret_result = api_wf_storage_failed(req, r, &err);
		return false;
	}
	return true;
}

enum MHD_Result api_workflow_get(struct api_request *req)
{
	struct workflow *wf = NULL;
	enum MHD_Result result;

	if (!api_wf_load(req, &wf, &result))
		return result;
	log_context_set_tenant(wf->tenant_id);
	result = api_send_json(req, 200, api_workflow_json(req, wf), NULL, NULL);
	workflow_free(wf);
	return result;
}

/* --- POST /v1/workflows/{id}/retry --------------------------------------------------- */

/* The policy's word on retrying @wf of tenant @row: true to go on, else a
 * 403 or 503 was queued. */
static bool api_retry_allowed(struct api_request *req, const struct workflow *wf, const struct tenant_row *row,
			      enum MHD_Result *ret)
{
	const struct policy_subject subject = {
		.action = "workflow.retry",
		.actor_id = req->principal.name,
		.actor_role = role_name(req->principal.role),
		.tenant_id = wf->tenant_id,
		.manifest = row->manifest,
		.phase = lifecycle_phase_name(row->phase),
		.placement = json_object_get(row->status, "placement"),
		.plan = row->plan,
		.request_id = req->request_id,
	};
	struct policy_decision decision;
	bool allowed = policy_gate_check(&subject, req->conf->plugins.policy_timeout_ms, &decision) == POLICY_ALLOW;

	if (!allowed)
		*ret = api_send_problem(req, policy_problem(&subject, &decision));
	policy_decision_clear(&decision);
	return allowed;
}

enum MHD_Result api_workflow_retry(struct api_request *req)
{
	struct workflow *wf = NULL;
	struct tenant_row *row = NULL, next;
	struct tnd_error err = { "" };
	struct registry_txn txn;
	enum MHD_Result result;
	json_t *step;
	int64_t now = tnd_now_ms(), expect;
	char message[128];
	int r;

	if (!api_wf_load(req, &wf, &result))
		return result;
	log_context_set_tenant(wf->tenant_id);
	if (wf->state != WORKFLOW_FAILED) {
		result = api_fail(req, 409, "conflict", "Not retryable", "workflow %s is %s; only a Failed workflow can be retried",
				  wf->id, workflow_state_name(wf->state));
		goto out;
	}
	r = registry_tenant_get(req->server->registry, wf->tenant_id, &row, &err);
	if (r < 0) {
		result = api_wf_storage_failed(req, r, &err);
		goto out;
	}
	if (row->version != wf->target_version || row->observed_version == row->version) {
		result = api_fail(req, 409, "conflict", "Not retryable",
				  "workflow %s realizes version %lld, but tenant %s is at version %lld (observed %lld)",
				  wf->id, (long long)wf->target_version, row->id, (long long)row->version,
				  (long long)row->observed_version);
		goto out;
	}
	if (!api_retry_allowed(req, wf, row, &result))
		goto out;
	expect = wf->revision;
	wf->revision++;
	wf->state = wf->step > 0 ? WORKFLOW_RUNNING : WORKFLOW_PENDING;
	wf->attempts = 0;
	wf->next_attempt_ms = now;
	wf->updated_ms = now;
	json_object_set_new(wf->doc, "error", json_null());
	json_object_set_new(wf->doc, "retriedBy", json_string(req->principal.name));
	step = json_array_get(json_object_get(wf->doc, "steps"), (size_t)wf->step);
	if (step) {
		json_object_set_new(step, "status", json_string("pending"));
		json_object_set_new(step, "attempts", json_integer(0));
	}
	next = *row;
	next.revision = row->revision + 1;
	next.updated_ms = now;
	next.status = json_deep_copy(row->status);
	snprintf(message, sizeof(message), "%s retried by %s", wf->kind, req->principal.name);
	json_object_set_new(next.status, "conditions", reconcile_conditions("Reconciling", wf->kind, message, wf->id, now));
	registry_txn_init(&txn);
	registry_txn_put_tenant(&txn, &next, row->revision);
	registry_txn_put_workflow(&txn, wf, expect);
	{
		char target[160];
		struct audit_event ev = {
			.tenant_id = wf->tenant_id,
			.actor = req->principal.name,
			.action = "workflow.retry",
			.target = target,
			.previous_state = "Failed",
			.new_state = workflow_state_name(wf->state),
			.outcome = AUDIT_OUTCOME_SUCCEEDED,
			.request_id = req->request_id,
			.correlation_id = wf->id,
		};
		snprintf(target, sizeof(target), "workflow/%s", wf->id);
		registry_txn_add_audit(&txn, &ev);
	}
	r = registry_commit(req->server->registry, &txn, NULL, &err);
	registry_txn_clear(&txn);
	json_decref(next.status);
	if (r == -ESTALE || r == -ENOENT) {
		result = api_fail(req, 409, "conflict", "Concurrent modification",
				  "workflow %s or its tenant changed meanwhile; look again", wf->id);
		goto out;
	}
	if (r < 0) {
		log_error("workflow retry not committed: %s", err.message);
		result = api_fail(req, 503, "storage-unavailable", "Registry unavailable", "the retry was not recorded");
		goto out;
	}
	log_notice("workflow %s (%s of tenant %s) retried by %s", wf->id, wf->kind, wf->tenant_id, req->principal.name);
	reconcile_wake();
	result = api_send_json(req, 200, api_workflow_json(req, wf), NULL, NULL);
out:
	tenant_row_free(row);
	workflow_free(wf);
	return result;
}

/* --- GET /v1/tenants/{id}/credentials ---------------------------------------------------- */

enum MHD_Result api_tenant_credentials(struct api_request *req)
{
	const struct credentials_key *key = reconcile_key();
	char *key_id = NULL, *sealed = NULL, *password = NULL, username[48];
	struct tnd_error err = { "" };
	enum MHD_Result result;
	int r;

	if (!registry_supports_reconcile(req->server->registry) || key == NULL)
		return api_no_reconcile(req);
	r = registry_credential_get(req->server->registry, req->params[0], &key_id, &sealed, &err);
	if (r == 0)
		r = credentials_open(key, key_id, req->params[0], sealed, &password, &err);
	free(key_id);
	free(sealed);
	if (r == -ENOENT)
		return api_fail(req, 404, "not-found", "Not found", "tenant %s has no data-plane credentials",
				req->params[0]);
	if (r < 0) {
		log_error("credentials of tenant %s cannot be opened: %s", req->params[0], err.message);
		return api_fail(req, 503, "credentials-unavailable", "Credentials unavailable",
				"the stored credentials cannot be decrypted with the configured key");
	}
	credentials_username(req->params[0], username);
	/* the one place a password leaves the daemon: never logged, never cached */
	log_notice("data-plane credentials of tenant %s read by %s", req->params[0], req->principal.name);
	result = api_send_json(req, 200, json_pack("{s:s,s:s,s:s,s:s}", "tenantId", req->params[0], "username", username,
						   "password", password, "keyId", credentials_key_id(key)),
			       NULL, NULL);
	explicit_bzero(password, strlen(password));
	free(password);
	return result;
}
