/*
 * api_breakglass.c — /v1/breakglass: request, list, approve and deny
 * break-glass grants (DESIGN.md §5; breakglass.h).
 *
 * An operator or admin asks for a time-limited admin role with a reason;
 * the request is pending until a different admin approves or denies it.
 * The requester never decides their own request, and a token raised by a
 * grant never decides any (it is one person already acting beyond their
 * role).  An approval lasts ttlSeconds from the moment it is given; the
 * requester's token then acts as admin on every request until it expires.
 * A pending request lapses after ttlSeconds too.  The state is computed
 * from the stored decision and the clock: pending, approved, expired,
 * denied.  The client sets only reason and ttlSeconds; everything else
 * (state, requester, decisions, times) is the server's.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "breakglass.h"
#include "log.h"
#include "registry.h"
#include "registry_tokens.h"
#include "security_events.h"
#include "util.h"

#define LOG_COMPONENT "breakglass"
#define BREAKGLASS_REASON_MAX 500

static json_t *breakglass_time(int64_t ms)
{
	char when[32];

	if (ms == 0)
		return json_null();
	tnd_format_time(ms, when);
	return json_string(when);
}

static json_t *breakglass_json(const struct tnd_grant_record *rec, int64_t now_ms)
{
	int64_t expires = rec->expires_ms;

	/* a pending request lapses at requestedAt + ttlSeconds */
	if (strcmp(rec->state, "pending") == 0)
		expires = rec->requested_ms + rec->ttl_s * 1000;
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:o,s:s?,s:s?,s:o,s:o}", "id", rec->id, "requester",
			 rec->requester, "requesterToken", rec->subject, "role", rec->role, "reason", rec->reason,
			 "ttlSeconds", (json_int_t)rec->ttl_s, "state", breakglass_state(rec, now_ms), "requestedAt",
			 breakglass_time(rec->requested_ms), "requestId", rec->request_id, "decidedBy", rec->decided_by,
			 "decidedAt", breakglass_time(rec->decided_ms), "expiresAt", breakglass_time(expires));
}

static enum MHD_Result breakglass_unsupported(struct api_request *req)
{
	return api_fail(req, 501, "not-implemented", "Not implemented",
			"the storage driver does not store break-glass grants (storage ABI 1.2 needed)");
}

static bool breakglass_reason_valid(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (len < 1 || len > BREAKGLASS_REASON_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* --- POST /v1/breakglass --------------------------------------------------------------- */

enum MHD_Result api_breakglass_request(struct api_request *req)
{
	static const char *const known[] = { "reason", "ttlSeconds", NULL };
	struct tnd_grant_record rec = { .size = sizeof(rec), .role = "admin", .state = "pending" };
	const json_t *ttl;
	json_t *body, *errors;
	struct registry_txn txn;
	struct tnd_error err;
	enum MHD_Result result;
	char id[48];
	int r;

	if (!registry_supports_tokens(req->server->registry))
		return breakglass_unsupported(req);
	body = api_body_object(req, false, &result);
	if (body == NULL)
		return result;
	errors = json_array();
	api_reject_unknown(body, known, errors);
	rec.reason = json_string_value(json_object_get(body, "reason"));
	if (!breakglass_reason_valid(rec.reason))
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "reason", "reason",
							"required: why, in 1 to 500 printable bytes"));
	ttl = json_object_get(body, "ttlSeconds");
	rec.ttl_s = BREAKGLASS_TTL_DEFAULT_S;
	if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
		    json_integer_value(ttl) > BREAKGLASS_TTL_MAX_S))
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "ttlSeconds", "reason",
							"must be an integer from 1 to 86400"));
	else if (ttl)
		rec.ttl_s = json_integer_value(ttl);
	if (json_array_size(errors) > 0) {
		json_decref(body);
		return api_send_invalid(req, "break-glass request", errors);
	}
	json_decref(errors);
	rec.requested_ms = tnd_now_ms();
	api_new_id("bg", rec.requested_ms, id);
	rec.id = id;
	rec.subject = req->principal.subject;
	rec.requester = req->principal.name;
	rec.request_id = req->request_id;
	registry_txn_init(&txn);
	registry_txn_add_grant(&txn, &rec);
	api_audit_success(req, &txn, NULL, id, "pending");
	r = registry_commit(req->server->registry, &txn, NULL, &err);
	registry_txn_clear(&txn);
	if (r < 0) {
		json_decref(body);
		security_event_record(&req->principal, req->request_id,
					      "breakglass.request", id, "failed", err.message);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "request not stored: %s",
				err.message);
	}
	{
		char detail[BREAKGLASS_REASON_MAX + 64];
		char location[96];

		snprintf(detail, sizeof(detail), "admin for %llds: %s", (long long)rec.ttl_s, rec.reason);
		security_event_record(&req->principal, req->request_id, "breakglass.request", id, "allowed", detail);
		snprintf(location, sizeof(location), "/v1/breakglass/%s", id);
		result = api_send_json(req, 201, breakglass_json(&rec, rec.requested_ms), NULL, location);
	}
	json_decref(body);
	return result;
}

/* --- reading ------------------------------------------------------------------------------ */

struct breakglass_lister {
	json_t *items;
	const char *state;       /* computed state to keep, or NULL */
	int64_t now_ms;
	size_t seen;
	char last[48];
};

static int breakglass_collect(const struct tnd_grant_record *rec, void *userdata)
{
	struct breakglass_lister *l = userdata;

	l->seen++;
	tnd_strlcpy(l->last, rec->id, sizeof(l->last));
	if (l->state == NULL || strcmp(l->state, breakglass_state(rec, l->now_ms)) == 0)
		json_array_append_new(l->items, breakglass_json(rec, l->now_ms));
	return 0;
}

enum MHD_Result api_breakglass_list(struct api_request *req)
{
	struct tnd_grant_query q = { .size = sizeof(q), .after_id = api_query(req, "cursor"), .limit = 100 };
	struct breakglass_lister l = { .now_ms = tnd_now_ms(), .state = api_query(req, "state") };
	struct tnd_error err;
	int r;

	if (!registry_supports_tokens(req->server->registry))
		return breakglass_unsupported(req);
	if (l.state && strcmp(l.state, "pending") && strcmp(l.state, "approved") && strcmp(l.state, "expired") &&
	    strcmp(l.state, "denied"))
		return api_fail(req, 400, "bad-request", "Bad request",
				"state must be pending, approved, expired or denied");
	if (!api_query_limit(req, 1000, &q.limit))
		return api_fail_limit(req, 1000);
	l.items = json_array();
	r = registry_grant_list(req->server->registry, &q, breakglass_collect, &l, &err);
	if (r < 0) {
		json_decref(l.items);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "%s", err.message);
	}
	return api_send_json(req, 200,
			     json_pack("{s:o,s:o}", "items", l.items, "nextCursor",
				       l.seen == q.limit ? json_string(l.last) : json_null()),
			     NULL, NULL);
}

/* The fields the deciding routes need, copied out of the driver's record. */
struct breakglass_found {
	bool found;
	char subject[80], requester[65], state[16];
	int64_t ttl_s, requested_ms, expires_ms;
};

static int breakglass_find(const struct tnd_grant_record *rec, void *userdata)
{
	struct breakglass_found *f = userdata;

	f->found = true;
	tnd_strlcpy(f->subject, rec->subject, sizeof(f->subject));
	tnd_strlcpy(f->requester, rec->requester, sizeof(f->requester));
	tnd_strlcpy(f->state, rec->state, sizeof(f->state));
	f->ttl_s = rec->ttl_s;
	f->requested_ms = rec->requested_ms;
	f->expires_ms = rec->expires_ms;
	return 1;
}

/* Grant @id as JSON: 0, -ENOENT, or another negative errno (in @err). */
static int breakglass_read(struct api_request *req, const char *id, json_t **ret_doc, struct tnd_error *err)
{
	struct tnd_grant_query q = { .size = sizeof(q), .id = id, .limit = 1 };
	struct breakglass_lister l = { .now_ms = tnd_now_ms(), .items = json_array() };
	int r = registry_grant_list(req->server->registry, &q, breakglass_collect, &l, err);

	if (r == 0 && json_array_size(l.items) == 0)
		r = -ENOENT;
	if (r == 0)
		*ret_doc = json_incref(json_array_get(l.items, 0));
	json_decref(l.items);
	return r;
}

enum MHD_Result api_breakglass_get(struct api_request *req)
{
	struct tnd_error err;
	json_t *doc;
	int r;

	if (!registry_supports_tokens(req->server->registry))
		return breakglass_unsupported(req);
	r = breakglass_read(req, req->params[0], &doc, &err);
	if (r == -ENOENT)
		return api_fail(req, 404, "not-found", "Not found", "break-glass grant %s does not exist",
				req->params[0]);
	if (r < 0)
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "%s", err.message);
	return api_send_json(req, 200, doc, NULL, NULL);
}

/* --- approve and deny ------------------------------------------------------------------ */

static enum MHD_Result breakglass_decide(struct api_request *req, bool approve)
{
	const char *action = approve ? "breakglass.approve" : "breakglass.deny";
	const char *id = req->params[0];
	struct tnd_grant_query q = { .size = sizeof(q), .id = id, .limit = 1 };
	struct breakglass_found f = { 0 };
	struct tnd_grant_record rec = { .size = sizeof(rec) };
	struct registry_txn txn;
	struct tnd_error err;
	enum MHD_Result result;
	json_t *body, *errors, *doc;
	int64_t now_ms = tnd_now_ms();
	const char *state;
	int r;

	if (!registry_supports_tokens(req->server->registry))
		return breakglass_unsupported(req);
	/* nothing to set: an empty body or {} */
	body = api_body_object(req, true, &result);
	if (body == NULL)
		return result;
	errors = json_array();
	api_reject_unknown(body, (const char *const[]){ NULL }, errors);
	json_decref(body);
	if (json_array_size(errors) > 0)
		return api_send_invalid(req, "decision", errors);
	json_decref(errors);
	if (req->principal.base_role != TND_ROLE_ADMIN) {
		security_event_record(&req->principal, req->request_id,
					      action, id, "denied", "a break-glass grant does not decide grants");
		return api_fail(req, 403, "forbidden", "Forbidden",
				"break-glass grants are decided by admin tokens, not under a break-glass grant");
	}
	r = registry_grant_list(req->server->registry, &q, breakglass_find, &f, &err);
	if (r < 0)
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "%s", err.message);
	if (!f.found)
		return api_fail(req, 404, "not-found", "Not found", "break-glass grant %s does not exist", id);
	if (approve && (strcmp(f.subject, req->principal.subject) == 0 ||
			strcmp(f.requester, req->principal.name) == 0)) {
		security_event_record(&req->principal, req->request_id,
					      action, id, "denied", "the requester may not approve their own grant");
		return api_fail(req, 403, "forbidden", "Forbidden",
				"break-glass grant %s was requested by you: a different admin must approve it", id);
	}
	rec.id = id;
	rec.subject = f.subject;
	rec.state = f.state;
	rec.ttl_s = f.ttl_s;
	rec.requested_ms = f.requested_ms;
	rec.expires_ms = f.expires_ms;
	state = breakglass_state(&rec, now_ms);
	if (strcmp(state, "pending") != 0)
		return api_fail(req, 409, "conflict", "Conflict", "break-glass grant %s is %s, not pending", id, state);

	rec.state = approve ? "approved" : "denied";
	rec.decided_by = req->principal.name;
	rec.decided_ms = now_ms;
	rec.expires_ms = approve ? now_ms + f.ttl_s * 1000 : 0;
	registry_txn_init(&txn);
	registry_txn_decide_grant(&txn, id, rec.state, rec.decided_by, rec.decided_ms, rec.expires_ms);
	api_audit_success(req, &txn, NULL, id, rec.state);
	r = registry_commit(req->server->registry, &txn, NULL, &err);
	registry_txn_clear(&txn);
	if (r == -ESTALE)
		return api_fail(req, 409, "conflict", "Conflict", "break-glass grant %s was decided meanwhile", id);
	if (r < 0) {
		security_event_record(&req->principal, req->request_id, action, id, "failed", err.message);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "%s", err.message);
	}
	/* committed: the requester's next request runs as admin */
	if (approve)
		breakglass_add(req->server->breakglass, &rec, now_ms);
	{
		char detail[160];
		char until[32];

		tnd_format_time(rec.expires_ms, until);
		snprintf(detail, sizeof(detail), "grant of %s %s%s%s", f.requester, rec.state,
			 approve ? ", admin until " : "", approve ? until : "");
		security_event_record(&req->principal, req->request_id, action, id, "allowed", detail);
	}
	r = breakglass_read(req, id, &doc, &err);
	if (r < 0)
		return api_send_json(req, 200, json_pack("{s:s,s:s}", "id", id, "state", rec.state), NULL, NULL);
	return api_send_json(req, 200, doc, NULL, NULL);
}

enum MHD_Result api_breakglass_approve(struct api_request *req)
{
	return breakglass_decide(req, true);
}

enum MHD_Result api_breakglass_deny(struct api_request *req)
{
	return breakglass_decide(req, false);
}
