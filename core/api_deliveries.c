/*
 * api_deliveries.c — GET /v1/deliveries, POST /v1/deliveries/{id}/requeue
 * and POST /v1/deliveries/requeue: the dispatcher's delivery rows and the
 * dead-letter list (DESIGN §7, docs/webhooks.md, docs/api.md).
 *
 * Requeueing moves dead deliveries back to pending with no attempts and
 * due at once; the dispatcher picks them up within its poll interval.
 * Only dead deliveries are requeued: a pending one is already queued, a
 * delivered one arrived, a failed one belongs to a disabled subscription.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "events.h"
#include "log.h"
#include "registry.h"
#include "registry_webhooks.h"
#include "util.h"

#define LOG_COMPONENT "webhooks"
#define API_DELIVERIES_DEFAULT 100
#define API_DELIVERIES_MAX 1000

static enum MHD_Result api_deliveries_unsupported(struct api_request *req)
{
	return api_fail(req, 501, "not-implemented", "Not implemented",
			"the storage driver keeps no webhook deliveries (storage ABI 1.2 needed)");
}

static json_t *api_time_json(int64_t ms)
{
	char when[32];

	if (ms <= 0)
		return json_null();
	tnd_format_time(ms, when);
	return json_string(when);
}

static json_t *api_delivery_json(const struct tnd_delivery_record *rec)
{
	json_t *history = rec->attempts_json ? json_loads(rec->attempts_json, 0, NULL) : NULL, *item;
	char sequence[24];

	events_format_sequence(rec->event_seq, sequence);
	item = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:s?, s:I, s:o, s:o}", "id", rec->id,
			 "subscription", rec->subscription_id, "eventId", rec->event_id, "eventType", rec->event_type,
			 "sequence", sequence, "status", rec->state, "attempts", (json_int_t)rec->attempts,
			 "nextAttemptAt",
			 api_time_json(strcmp(rec->state, "pending") == 0 ? rec->next_attempt_ms : 0),
			 "lastStatus", (json_int_t)rec->last_status, "lastError", rec->last_error, "latencyMs",
			 (json_int_t)rec->latency_ms, "createdAt", api_time_json(rec->created_ms), "updatedAt",
			 api_time_json(rec->updated_ms));
	json_object_set_new(item, "history", json_is_array(history) ? history : json_array());
	if (!json_is_array(history))
		json_decref(history);
	return item;
}

static bool api_delivery_state_valid(const char *state)
{
	return strcmp(state, "pending") == 0 || strcmp(state, "delivered") == 0 || strcmp(state, "failed") == 0 ||
	       strcmp(state, "dead") == 0;
}

struct api_delivery_page {
	json_t *items;
	char last[128];
};

static int api_delivery_collect(const struct tnd_delivery_record *rec, void *userdata)
{
	struct api_delivery_page *p = userdata;

	json_array_append_new(p->items, api_delivery_json(rec));
	tnd_strlcpy(p->last, rec->id, sizeof(p->last));
	return 0;
}

enum MHD_Result api_delivery_list(struct api_request *req)
{
	struct tnd_delivery_query q = { .size = sizeof(q), .limit = API_DELIVERIES_DEFAULT };
	struct api_delivery_page page = { 0 };
	struct tnd_error err = { "" };
	json_t *answer;

	if (!registry_supports_webhooks(req->server->registry))
		return api_deliveries_unsupported(req);
	q.state = api_query(req, "status");
	if (q.state && !api_delivery_state_valid(q.state))
		return api_fail(req, 400, "bad-request", "Bad request",
				"status must be pending, delivered, failed or dead");
	q.subscription_id = api_query(req, "subscription");
	q.after_id = api_query(req, "cursor");
	if (!api_query_limit(req, API_DELIVERIES_MAX, &q.limit))
		return api_fail_limit(req, API_DELIVERIES_MAX);
	page.items = json_array();
	if (registry_delivery_list(req->server->registry, &q, api_delivery_collect, &page, &err) < 0) {
		json_decref(page.items);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "deliveries not read: %s",
				err.message);
	}
	answer = json_pack("{s:o}", "items", page.items);
	json_object_set_new(answer, "nextCursor",
			    json_array_size(page.items) == q.limit ? json_string(page.last) : json_null());
	return api_send_json(req, 200, answer, NULL, NULL);
}

enum MHD_Result api_delivery_requeue(struct api_request *req)
{
	struct tnd_delivery_query q = { .size = sizeof(q), .id = req->params[0], .limit = 1 };
	struct api_delivery_page page = { .items = json_array() };
	struct tnd_error err = { "" };
	struct registry_txn txn;
	const char *state;
	int64_t now_ms = tnd_now_ms();
	int r;

	if (!registry_supports_webhooks(req->server->registry)) {
		json_decref(page.items);
		return api_deliveries_unsupported(req);
	}
	if (registry_delivery_list(req->server->registry, &q, api_delivery_collect, &page, &err) < 0) {
		json_decref(page.items);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "delivery not read: %s",
				err.message);
	}
	if (json_array_size(page.items) == 0) {
		json_decref(page.items);
		return api_fail(req, 404, "not-found", "Not found", "delivery %s does not exist", req->params[0]);
	}
	state = json_string_value(json_object_get(json_array_get(page.items, 0), "status"));
	if (strcmp(state, "dead") != 0) {
		enum MHD_Result result = api_fail(req, 409, "conflict", "Conflict",
						  "delivery %s is %s; only dead deliveries are requeued",
						  req->params[0], state);
		json_decref(page.items);
		return result;
	}
	json_decref(page.items);
	registry_txn_init(&txn);
	registry_txn_requeue_deliveries(&txn, &(struct tnd_delivery_requeue){
		.size = sizeof(struct tnd_delivery_requeue), .id = req->params[0], .now_ms = now_ms });
	api_audit_success(req, &txn, NULL, req->params[0], "pending");
	r = registry_commit(req->server->registry, &txn, NULL, &err);
	registry_txn_clear(&txn);
	if (r < 0)
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "delivery not requeued: %s",
				err.message);
	log_notice("delivery %s requeued by %s", req->params[0], req->principal.name);
	page.items = json_array();
	if (registry_delivery_list(req->server->registry, &q, api_delivery_collect, &page, &err) < 0 ||
	    json_array_size(page.items) == 0) {
		json_decref(page.items);
		return api_send_json(req, 200, json_pack("{s:s, s:s}", "id", req->params[0], "status", "pending"),
				     NULL, NULL);
	}
	{
		json_t *item = json_incref(json_array_get(page.items, 0));
		json_decref(page.items);
		return api_send_json(req, 200, item, NULL, NULL);
	}
}

struct api_requeue_count {
	int64_t from_ms, until_ms;
	size_t matched, seen;
	char last[128];
};

static int api_requeue_count_visit(const struct tnd_delivery_record *rec, void *userdata)
{
	struct api_requeue_count *c = userdata;

	c->seen++;
	tnd_strlcpy(c->last, rec->id, sizeof(c->last));
	if ((c->from_ms == 0 || rec->created_ms >= c->from_ms) && (c->until_ms == 0 || rec->created_ms < c->until_ms))
		c->matched++;
	return 0;
}

enum MHD_Result api_delivery_requeue_bulk(struct api_request *req)
{
	static const char *const known[] = { "subscription", "from", "until", NULL };
	struct api_requeue_count count = { 0 };
	struct tnd_error err = { "" };
	struct registry_txn txn;
	enum MHD_Result result;
	const char *sub, *from, *until;
	json_t *body, *errors;
	int r;

	if (!registry_supports_webhooks(req->server->registry))
		return api_deliveries_unsupported(req);
	body = api_body_object(req, true, &result);
	if (body == NULL)
		return result;
	errors = json_array();
	api_reject_unknown(body, known, errors);
	sub = json_string_value(json_object_get(body, "subscription"));
	from = json_string_value(json_object_get(body, "from"));
	until = json_string_value(json_object_get(body, "until"));
	if (json_object_get(body, "subscription") && (sub == NULL || sub[0] == '\0'))
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "subscription", "reason",
							"a subscription id"));
	if (json_object_get(body, "from") && (from == NULL || !api_time_parse(from, &count.from_ms)))
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "from", "reason",
							"an RFC 3339 UTC time or epoch milliseconds"));
	if (json_object_get(body, "until") && (until == NULL || !api_time_parse(until, &count.until_ms)))
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "until", "reason",
							"an RFC 3339 UTC time or epoch milliseconds"));
	if (json_array_size(errors) > 0) {
		json_decref(body);
		return api_send_invalid(req, "requeue", errors);
	}
	json_decref(errors);
	/* how many: the same selection, counted before (a delivery dying
	 * meanwhile is requeued too, and then not counted) */
	do {
		struct tnd_delivery_query q = { .size = sizeof(q), .subscription_id = sub, .state = "dead",
						.after_id = count.last[0] ? count.last : NULL, .limit = 1000 };
		count.seen = 0;
		r = registry_delivery_list(req->server->registry, &q, api_requeue_count_visit, &count, &err);
	} while (r == 0 && count.seen == 1000);
	if (r == 0) {
		registry_txn_init(&txn);
		registry_txn_requeue_deliveries(&txn, &(struct tnd_delivery_requeue){
			.size = sizeof(struct tnd_delivery_requeue), .subscription_id = sub, .from_ms = count.from_ms,
			.until_ms = count.until_ms, .now_ms = tnd_now_ms() });
		api_audit_success(req, &txn, NULL, sub ? sub : "deliveries", "pending");
		r = registry_commit(req->server->registry, &txn, NULL, &err);
		registry_txn_clear(&txn);
	}
	json_decref(body);
	if (r < 0)
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "deliveries not requeued: %s",
				err.message);
	log_notice("%zu dead deliver%s requeued by %s", count.matched, count.matched == 1 ? "y" : "ies",
		   req->principal.name);
	return api_send_json(req, 200, json_pack("{s:I}", "requeued", (json_int_t)count.matched), NULL, NULL);
}
