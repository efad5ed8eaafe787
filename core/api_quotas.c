/*
 * api_quotas.c — GET /v1/tenants/{id}/quotas: a tenant's effective quotas
 * now (plan defaults, manifest, active overrides), its plan's bounds, and
 * the recorded history of its effective quotas (storage ABI 1.2: quotas),
 * oldest first, paged by `cursor` (a history seq) and `limit`.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "conf.h"
#include "quota_usage.h"
#include "quotas.h"
#include "registry.h"
#include "util.h"

#define API_QUOTAS_PAGE_MAX 1000

static json_t *api_quotas_plan(const struct tnd_plan_conf *plan)
{
	json_t *obj = json_object();

	json_object_set_new(obj, "code", json_string(plan->code));
	json_object_set_new(obj, "defaults", quotas_to_json(&plan->quotas));
	json_object_set_new(obj, "max", quotas_to_json(&plan->max_quotas));
	json_object_set_new(obj, "ceiling", quotas_to_json(&plan->ceiling_quotas));
	if (plan->max_total_compute_units > 0) {
		json_object_set_new(obj, "maxTotalComputeUnits", json_integer(plan->max_total_compute_units));
		json_object_set_new(obj, "computeUnitsInUse", json_integer(quota_usage_used(plan->code)));
	}
	return obj;
}

static int api_quotas_history_visit(const struct tnd_quota_record *rec, void *userdata)
{
	json_t *quotas = json_loads(rec->quotas_json, 0, NULL);
	char when[32];

	tnd_format_time(rec->time_ms, when);
	json_array_append_new(userdata, json_pack("{s:I,s:I,s:o,s:s,s:s,s:s,s:s?}", "seq", (json_int_t)rec->seq,
						  "version", (json_int_t)rec->version, "quotas",
						  quotas ? quotas : json_object(), "source", rec->source, "actor",
						  rec->actor, "time", when, "requestId", rec->request_id));
	return 0;
}

enum MHD_Result api_tenant_quotas(struct api_request *req)
{
	struct registry *reg = req->server->registry;
	struct tnd_quota_query query = { .size = sizeof(query), .tenant_id = req->params[0], .limit = 100 };
	const char *cursor = api_query(req, "cursor");
	const struct tnd_plan_conf *plan;
	struct tenant_row *row = NULL;
	struct tnd_quotas effective;
	struct tnd_error err = { "" };
	json_t *body, *history;
	int r;

	if (cursor) {
		char *end;
		long long v = strtoll(cursor, &end, 10);

		if (*cursor == '\0' || *end != '\0' || v < 0)
			return api_fail(req, 400, "bad-request", "Bad request", "cursor must be a history seq");
		query.after_seq = v;
	}
	if (!api_query_limit(req, API_QUOTAS_PAGE_MAX, &query.limit))
		return api_fail_limit(req, API_QUOTAS_PAGE_MAX);
	r = registry_tenant_get(reg, req->params[0], &row, &err);
	if (r == -ENOENT)
		return api_fail(req, 404, "not-found", "Not found", "tenant %s does not exist", req->params[0]);
	if (r < 0)
		return api_fail(req, 503, "storage-unavailable", "Registry unavailable", "%s", err.message);
	plan = conf_plan(req->conf, row->plan);
	if (plan == NULL) {
		tenant_row_free(row);
		return api_fail(req, 409, "plan-unknown", "Plan unknown",
				"tenant %s has plan %s, which the configuration no longer lists", req->params[0],
				row->plan);
	}
	r = quotas_effective(reg, plan, row->id, row->manifest, tnd_now_ms(), &effective, &err);
	history = json_array();
	if (r == 0 && registry_supports_quotas(reg))
		r = registry_quota_list(reg, &query, api_quotas_history_visit, history, &err);
	if (r < 0) {
		tenant_row_free(row);
		json_decref(history);
		return api_fail(req, 503, "storage-unavailable", "Registry unavailable", "%s", err.message);
	}
	body = json_object();
	json_object_set_new(body, "tenantId", json_string(row->id));
	json_object_set_new(body, "version", json_integer(row->version));
	json_object_set_new(body, "effective", quotas_to_json(&effective));
	json_object_set_new(body, "plan", api_quotas_plan(plan));
	{
		size_t n = json_array_size(history);
		json_t *last = n ? json_object_get(json_array_get(history, n - 1), "seq") : NULL;

		json_object_set_new(body, "history", history);
		json_object_set_new(body, "nextCursor",
				    n == query.limit && last ? json_sprintf("%lld", (long long)json_integer_value(last))
							     : json_null());
	}
	tenant_row_free(row);
	return api_send_json(req, 200, body, NULL, NULL);
}
