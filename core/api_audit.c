/*
 * api_audit.c — the audit trail over HTTP: search (GET /v1/audit), chain
 * verification (GET /v1/audit/verify), the signing key (GET
 * /v1/audit/public-key), and the audit records of mutating requests that
 * were turned down (api_audit_begin / api_audit_problem, called by the
 * router and api_send_problem).  Successful mutations write their record in
 * their own transaction (tenant_service.c, api_workflows.c).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_internal.h"
#include "audit.h"
#include "audit_key.h"
#include "audit_record.h"
#include "audit_verify.h"
#include "log.h"
#include "problem.h"
#include "registry.h"
#include "util.h"

#define LOG_COMPONENT "audit"

#define API_AUDIT_DEFAULT 100
#define API_AUDIT_MAX 1000

/* --- records of refused mutating requests ---------------------------------------------- */

static const struct {
	const char *method;
	const char *pattern;
	const char *action;
} api_audit_actions[] = {
	{ "PUT", "/v1/tenants/{id}", "tenant.apply" },
	{ "DELETE", "/v1/tenants/{id}", "tenant.delete" },
	{ "POST", "/v1/tenants/{id}/suspend", "tenant.suspend" },
	{ "POST", "/v1/tenants/{id}/resume", "tenant.resume" },
	{ "POST", "/v1/tenants/{id}/archive", "tenant.archive" },
	{ "POST", "/v1/workflows/{id}/retry", "workflow.retry" },
	{ "POST", "/v1/overrides", "override.create" },
	{ "POST", "/v1/tokens", "token.create" },
	{ "DELETE", "/v1/tokens/{id}", "token.revoke" },
	{ "POST", "/v1/breakglass", "breakglass.request" },
	{ "POST", "/v1/breakglass/{id}/approve", "breakglass.approve" },
	{ "POST", "/v1/breakglass/{id}/deny", "breakglass.deny" },
	{ "POST", "/v1/webhooks", "webhook.create" },
	{ "DELETE", "/v1/webhooks/{id}", "webhook.delete" },
	{ "POST", "/v1/deliveries/{id}/requeue", "delivery.requeue" },
	{ "POST", "/v1/deliveries/requeue", "delivery.requeue_bulk" },
};

void api_audit_begin(struct api_request *req, const char *method, const char *pattern)
{
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		return;
	snprintf(req->audit_action, sizeof(req->audit_action), "%s %s", method, pattern);
	for (size_t i = 0; i < TND_ARRAY_SIZE(api_audit_actions); i++)
		if (strcmp(method, api_audit_actions[i].method) == 0 && strcmp(pattern, api_audit_actions[i].pattern) == 0)
			tnd_strlcpy(req->audit_action, api_audit_actions[i].action, sizeof(req->audit_action));
	req->audit_tenant = strncmp(pattern, "/v1/tenants/{id}", 16) == 0 && req->n_params > 0 ? req->params[0] : NULL;
}

void api_audit_success(struct api_request *req, struct registry_txn *txn, const char *tenant_id,
		       const char *target, const char *new_state)
{
	struct audit_event ev = { 0 };

	if (req->audit_action[0] == '\0')
		return;
	ev.tenant_id = tenant_id ? tenant_id : req->audit_tenant;
	ev.actor = req->principal.name[0] ? req->principal.name : NULL;
	ev.action = req->audit_action;
	ev.target = target ? target : req->path;
	ev.new_state = new_state;
	ev.outcome = AUDIT_OUTCOME_SUCCEEDED;
	ev.request_id = req->request_id;
	ev.correlation_id = req->request_id;
	registry_txn_add_audit(txn, &ev);
}

static const char *api_audit_outcome(int status)
{
	if (status == 401 || status == 403 || status == 429)
		return AUDIT_OUTCOME_DENIED;
	return status >= 500 ? AUDIT_OUTCOME_FAILED : AUDIT_OUTCOME_REJECTED;
}

struct problem *api_audit_problem(struct api_request *req, struct problem *problem)
{
	struct tnd_error err = { "" };
	struct audit_event ev = { 0 };
	char *reason;
	int r;

	if (req->audit_action[0] == '\0' || !audit_enabled())
		return problem;
	reason = tnd_xasprintf("%d %s: %.300s", problem->status, problem->slug, problem->detail ? problem->detail : "");
	ev.tenant_id = req->audit_tenant;
	ev.actor = req->principal.name[0] ? req->principal.name : NULL;
	ev.action = req->audit_action;
	ev.target = req->path;
	ev.outcome = api_audit_outcome(problem->status);
	ev.reason = reason;
	ev.request_id = req->request_id;
	ev.correlation_id = req->request_id;
	r = audit_record_event(req->server->registry, &ev, &err);
	free(reason);
	req->audit_action[0] = '\0';
	if (r < 0 && problem->status != 503) {
		problem_free(problem);
		return problem_new(503, "audit-unavailable", "Audit trail unavailable",
				   "the request could not be audited, so it was not processed");
	}
	return problem;
}

/* --- access ------------------------------------------------------------------------------- */

/* The trail is for auditors and admins only; an operator runs the lifecycle
 * but does not read the record of it. */
static bool api_audit_allowed(struct api_request *req, enum MHD_Result *ret)
{
	if (req->principal.role == TND_ROLE_AUDITOR || req->principal.role == TND_ROLE_ADMIN) {
		if (audit_enabled())
			return true;
		*ret = api_fail(req, 501, "audit-unsupported", "No audit trail",
				"the storage driver has no audit trail (storage ABI older than 1.2)");
		return false;
	}
	*ret = api_fail(req, 403, "forbidden", "Forbidden", "role %s may not read the audit trail",
			role_name(req->principal.role));
	return false;
}

static bool api_audit_int(const char *text, int64_t min, int64_t max, int64_t *ret)
{
	char *end;
	long long v;

	if (text == NULL || *text == '\0')
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

/* RFC 3339 UTC ("2026-11-28T13:54:27Z", fractions allowed) or epoch milliseconds. */
static bool api_audit_time(const char *text, int64_t *ret_ms)
{
	struct tm tm = { 0 };
	const char *p;
	int64_t ms = 0;

	if (api_audit_int(text, 1, INT64_MAX, ret_ms))
		return true;
	if (text == NULL || (p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return false;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return false;
	*ret_ms = (int64_t)timegm(&tm) * 1000 + ms;
	return true;
}

bool api_time_parse(const char *text, int64_t *ret_ms)
{
	return api_audit_time(text, ret_ms);
}

/* --- GET /v1/audit --------------------------------------------------------------------- */

struct api_audit_list {
	json_t *items;
	int64_t last_seq;
	uint32_t seen;
};

static int api_audit_list_visit(const struct tnd_audit_record *rec, void *userdata)
{
	struct api_audit_list *st = userdata;

	st->seen++;
	st->last_seq = rec->seq;
	json_array_append_new(st->items, audit_record_json(rec));
	return 0;
}

enum MHD_Result api_audit_search(struct api_request *req)
{
	struct tnd_audit_query query = { .size = sizeof(query), .limit = API_AUDIT_DEFAULT };
	struct api_audit_list st = { NULL, 0, 0 };
	const char *after = api_query(req, "after"), *until = api_query(req, "until");
	const char *limit = api_query(req, "limit"), *cursor = api_query(req, "cursor");
	struct tnd_error err = { "" };
	enum MHD_Result ret;
	int64_t v;
	json_t *body;
	int r;

	if (!api_audit_allowed(req, &ret))
		return ret;
	query.tenant_id = api_query(req, "tenant");
	query.actor = api_query(req, "actor");
	query.action = api_query(req, "action");
	query.outcome = api_query(req, "outcome");
	if (after && !api_audit_time(after, &query.after_ms))
		return api_fail(req, 400, "bad-request", "Bad request",
				"after must be an RFC 3339 UTC time (2026-01-31T12:00:00Z) or epoch milliseconds");
	if (until && !api_audit_time(until, &query.until_ms))
		return api_fail(req, 400, "bad-request", "Bad request",
				"until must be an RFC 3339 UTC time (2026-01-31T12:00:00Z) or epoch milliseconds");
	if (limit) {
		if (!api_audit_int(limit, 1, API_AUDIT_MAX, &v))
			return api_fail(req, 400, "bad-request", "Bad request", "limit must be an integer from 1 to %d",
					API_AUDIT_MAX);
		query.limit = (uint32_t)v;
	}
	if (cursor) {
		if (!api_audit_int(cursor, 0, INT64_MAX, &query.after_seq))
			return api_fail(req, 400, "bad-request", "Bad request", "cursor is not one this server issued");
	}
	st.items = json_array();
	r = registry_audit_list(req->server->registry, &query, api_audit_list_visit, &st, &err);
	if (r < 0) {
		json_decref(st.items);
		log_error("audit search failed: %s", err.message);
		return api_fail(req, 503, "storage-unavailable", "Registry unavailable", "the registry could not be read");
	}
	body = json_object();
	json_object_set_new(body, "items", st.items);
	json_object_set_new(body, "nextCursor",
			    st.seen == query.limit ? json_sprintf("%lld", (long long)st.last_seq) : json_null());
	return api_send_json(req, 200, body, NULL, NULL);
}

/* --- GET /v1/audit/verify ------------------------------------------------------------------ */

enum MHD_Result api_audit_verify(struct api_request *req)
{
	const char *from = api_query(req, "from");
	struct tnd_error err = { "" };
	enum MHD_Result ret;
	json_t *report;
	int64_t seq = 1;
	int r;

	if (!api_audit_allowed(req, &ret))
		return ret;
	if (from && !api_audit_int(from, 1, INT64_MAX, &seq))
		return api_fail(req, 400, "bad-request", "Bad request", "from must be a record seq (1 or more)");
	r = audit_verify_registry(req->server->registry, audit_keyring_get0(), seq, &report, &err);
	if (r < 0) {
		log_error("audit verification could not read the trail: %s", err.message);
		return api_fail(req, 503, "storage-unavailable", "Registry unavailable", "the registry could not be read");
	}
	if (!json_is_true(json_object_get(report, "ok")))
		log_warning("audit verification failed at record %lld: %s",
			    (long long)json_integer_value(json_object_get(report, "firstBadSeq")),
			    json_string_value(json_object_get(report, "reason")));
	return api_send_json(req, 200, report, NULL, NULL);
}

/* --- GET /v1/audit/public-key ------------------------------------------------------------ */

enum MHD_Result api_audit_public_key(struct api_request *req)
{
	const struct audit_keyring *ring = audit_keyring_get0();
	enum MHD_Result ret;
	json_t *body, *keys;
	const char *id, *pem;

	if (!api_audit_allowed(req, &ret))
		return ret;
	body = json_object();
	json_object_set_new(body, "keyId", json_string(audit_key_id()));
	json_object_set_new(body, "algorithm", json_string("Ed25519"));
	json_object_set_new(body, "publicKeyPem", json_string(audit_public_key_pem()));
	keys = json_array();
	for (size_t i = 0; ring && (id = audit_keyring_id(ring, i, &pem)) != NULL; i++)
		json_array_append_new(keys, json_pack("{s:s, s:s}", "keyId", id, "publicKeyPem", pem));
	json_object_set_new(body, "verifyKeys", keys);
	return api_send_json(req, 200, body, NULL, NULL);
}
