/*
 * api_overrides.c — POST and GET /v1/overrides: time-limited administrative
 * overrides of a tenant's rate limits and quotas.
 *
 * An override names a tenant, new `read` and/or `write` quotas (and
 * optionally a `window`) and/or new quotas (`computeUnits`, `storageGb`,
 * `eventsPerMinute`, `concurrentOperations`, each at most the plan's
 * ceiling_quotas), a lifetime in seconds and a reason.  One that changes
 * the tenant's effective quotas writes a quota history entry in its own
 * transaction.  It is
 * stored in the registry through the ordinary write path (one transaction,
 * storage ABI 1.2), logged, and takes effect on the tenant's next request:
 * the limiter forgets what it remembered about the tenant.  It ends on its
 * own at expiresAt (the limiter re-reads the tenant by then); expired
 * overrides stay listed with ?all=true, as history.  When several are
 * active, the newest wins.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "conf.h"
#include "log.h"
#include "manifest.h"
#include "problem.h"
#include "quotas.h"
#include "ratelimit.h"
#include "registry.h"
#include "util.h"

#define LOG_COMPONENT "overrides"
#define OVERRIDE_TTL_MAX (30 * 86400)
#define OVERRIDE_REASON_MAX 500

static json_t *api_override_json(const struct tnd_override_record *rec)
{
	json_t *limits = json_loads(rec->limits_json, 0, NULL);
	char created[32], expires[32];

	tnd_format_time(rec->created_ms, created);
	tnd_format_time(rec->expires_ms, expires);
	return json_pack("{s:s,s:s,s:o,s:s,s:s?,s:s?,s:s,s:s}", "id", rec->id, "tenant", rec->tenant_id, "limits",
			 limits ? limits : json_object(), "actor", rec->actor, "requestId", rec->request_id, "reason",
			 rec->reason, "createdAt", created, "expiresAt", expires);
}

/* An optional integer member in [min, max]; its path and reason go to @errors. */
static bool api_override_int(json_t *body, const char *key, int64_t min, int64_t max, int64_t *ret,
			     json_t *errors)
{
	json_t *v = json_object_get(body, key);

	if (v == NULL)
		return false;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		char reason[96];

		snprintf(reason, sizeof(reason), "must be an integer from %lld to %lld", (long long)min,
			 (long long)max);
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", key, "reason", reason));
		return false;
	}
	*ret = json_integer_value(v);
	return true;
}

static void api_override_error(json_t *errors, const char *path, const char *reason)
{
	json_array_append_new(errors, json_pack("{s:s,s:s}", "path", path, "reason", reason));
}

static bool api_override_sets_quota(const json_t *body)
{
	for (size_t i = 0; i < QUOTA_N_FIELDS; i++)
		if (json_object_get(body, quota_fields[i].name))
			return true;
	return false;
}

/* 422 for each quota of @limits above @plan's ceiling_quotas; NULL if none. */
static struct problem *api_override_check_ceiling(const struct tnd_plan_conf *plan, const json_t *limits)
{
	json_t *errors = json_array();
	struct problem *p;

	for (size_t i = 0; i < QUOTA_N_FIELDS; i++) {
		const json_t *v = json_object_get(limits, quota_fields[i].name);
		int64_t ceiling = quota_get(&plan->ceiling_quotas, &quota_fields[i]);
		char reason[160];

		if (v == NULL || json_integer_value(v) <= ceiling)
			continue;
		snprintf(reason, sizeof(reason), "%s %lld exceeds the ceiling of %lld for plan %s",
			 quota_fields[i].name, (long long)json_integer_value(v), (long long)ceiling, plan->code);
		api_override_error(errors, quota_fields[i].name, reason);
	}
	if (json_array_size(errors) == 0) {
		json_decref(errors);
		return NULL;
	}
	p = problem_new(422, "validation-failed", "Override invalid", "%s",
			json_string_value(json_object_get(json_array_get(errors, 0), "reason")));
	problem_set_errors(p, errors);
	return p;
}

/* The quota history entry of an override that changes @row's effective quotas. */
static int api_override_record_quotas(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
				      const struct tenant_row *row, const json_t *limits,
				      const struct tnd_override_record *rec, struct tnd_error *err)
{
	const struct tnd_plan_conf *plan = conf_plan(conf, row->plan);
	const struct quota_change change = {
		.tenant_id = row->id,
		.version = row->version,
		.source = "override",
		.actor = rec->actor,
		.request_id = rec->request_id,
		.time_ms = rec->created_ms,
	};
	struct tnd_quotas effective;
	bool added;
	int r;

	if (plan == NULL || !api_override_sets_quota(limits))
		return 0;
	r = quotas_effective(reg, plan, row->id, row->manifest, rec->created_ms, &effective, err);
	if (r < 0)
		return r;
	quotas_apply_override(&effective, limits);
	return quotas_record_if_changed(reg, txn, &effective, &change, &added, err);
}

enum MHD_Result api_override_create(struct api_request *req)
{
	struct registry *reg = req->server->registry;
	struct tnd_override_record rec = { .size = sizeof(rec) };
	json_t *body, *errors = json_array(), *limits = json_object(), *member;
	int64_t read = -1, write = -1, window = -1, ttl = 0;
	struct tenant_row *row = NULL;
	struct registry_txn txn;
	struct tnd_error err;
	const char *tenant = NULL, *reason = NULL, *key;
	char id[48], *limits_text;
	unsigned char random[4];
	struct problem *p;
	int r;

	if (!registry_supports_overrides(reg)) {
		json_decref(errors);
		json_decref(limits);
		return api_fail(req, 501, "not-implemented", "Not implemented",
				"the storage driver does not store overrides (storage ABI 1.2 needed)");
	}
	body = json_loadb(req->body.data ? req->body.data : "", req->body.len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(body)) {
		json_decref(body);
		json_decref(errors);
		json_decref(limits);
		return api_fail(req, 400, "malformed-document", "Malformed document",
				"the body must be one JSON object");
	}
	json_object_foreach (body, key, member)
		if (strcmp(key, "tenant") && strcmp(key, "read") && strcmp(key, "write") && strcmp(key, "window") &&
		    strcmp(key, "ttlSeconds") && strcmp(key, "reason") && quota_field_find(key) == NULL)
			api_override_error(errors, key, "unknown member");
	tenant = json_string_value(json_object_get(body, "tenant"));
	if (tenant == NULL || !manifest_tenant_id_valid(tenant))
		api_override_error(errors, "tenant", "must be a tenant id");
	if (api_override_int(body, "read", 0, RATELIMIT_QUOTA_MAX, &read, errors))
		json_object_set_new(limits, "read", json_integer(read));
	if (api_override_int(body, "write", 0, RATELIMIT_QUOTA_MAX, &write, errors))
		json_object_set_new(limits, "write", json_integer(write));
	if (api_override_int(body, "window", 1, RATELIMIT_WINDOW_MAX, &window, errors))
		json_object_set_new(limits, "window", json_integer(window));
	for (size_t i = 0; i < QUOTA_N_FIELDS; i++) {
		int64_t value;

		/* the plan's ceiling is checked once the tenant's plan is known */
		if (api_override_int(body, quota_fields[i].name, 1, INT32_MAX, &value, errors))
			json_object_set_new(limits, quota_fields[i].name, json_integer(value));
	}
	if (json_object_get(body, "read") == NULL && json_object_get(body, "write") == NULL &&
	    !api_override_sets_quota(body))
		api_override_error(errors, "read", "an override sets read, write, a quota, or several of them");
	if (!api_override_int(body, "ttlSeconds", 1, OVERRIDE_TTL_MAX, &ttl, errors) &&
	    json_object_get(body, "ttlSeconds") == NULL)
		api_override_error(errors, "ttlSeconds", "required: how long the override lasts");
	member = json_object_get(body, "reason");
	reason = json_string_value(member);
	if (member && (reason == NULL || strlen(reason) > OVERRIDE_REASON_MAX))
		api_override_error(errors, "reason", "must be a string of at most 500 bytes");
	if (json_array_size(errors) > 0) {
		json_decref(body);
		json_decref(limits);
		p = problem_new(422, "validation-failed", "Override invalid", "the override has %zu problem(s)",
				json_array_size(errors));
		problem_set_errors(p, errors);
		return api_send_problem(req, p);
	}
	json_decref(errors);
	/* an admin may know every tenant: name the missing one plainly */
	r = registry_tenant_get(reg, tenant, &row, &err);
	if (r < 0) {
		enum MHD_Result ret;

		/* @tenant points into @body: answer before freeing it */
		if (r == -ENOENT)
			ret = api_fail(req, 404, "not-found", "Not found", "tenant %s does not exist", tenant);
		else
			ret = api_fail(req, 503, "storage-unavailable", "Storage unavailable", "%s", err.message);
		json_decref(body);
		json_decref(limits);
		return ret;
	}
	{
		const struct tnd_plan_conf *plan = conf_plan(req->conf, row->plan);

		p = plan ? api_override_check_ceiling(plan, limits) : NULL;
		if (p) {
			tenant_row_free(row);
			json_decref(body);
			json_decref(limits);
			return api_send_problem(req, p);
		}
	}

	rec.created_ms = tnd_now_ms();
	rec.expires_ms = rec.created_ms + ttl * 1000;
	if (tnd_random_bytes(random, sizeof(random)) < 0)
		memset(random, 0, sizeof(random));
	/* sorts by creation time, like workflow ids */
	snprintf(id, sizeof(id), "ovr-%013lld-%02x%02x%02x%02x", (long long)rec.created_ms, random[0], random[1],
		 random[2], random[3]);
	limits_text = json_dumps(limits, JSON_COMPACT | JSON_PRESERVE_ORDER);
	rec.id = id;
	rec.tenant_id = tenant;
	rec.limits_json = limits_text;
	rec.actor = req->principal.name;
	rec.request_id = req->request_id;
	rec.reason = reason;
	registry_txn_init(&txn);
	registry_txn_add_override(&txn, &rec);
	api_audit_success(req, &txn, tenant, id, limits_text);
	r = api_override_record_quotas(reg, req->conf, &txn, row, limits, &rec, &err);
	tenant_row_free(row);
	if (r == 0)
		r = registry_commit(reg, &txn, NULL, &err);
	registry_txn_clear(&txn);
	if (r < 0) {
		free(limits_text);
		json_decref(body);
		json_decref(limits);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "override not stored: %s",
				err.message);
	}
	api_ratelimit_forget(req, tenant);
	{
		char until[32];

		tnd_format_time(rec.expires_ms, until);
		log_notice("override %s for tenant %s by %s: %s until %s (%s)", id, tenant, rec.actor, limits_text,
			   until, reason ? reason : "no reason given");
	}
	{
		json_t *answer = api_override_json(&rec);
		char location[96];

		snprintf(location, sizeof(location), "/v1/overrides?tenant=%s", tenant);
		free(limits_text);
		json_decref(body);
		json_decref(limits);
		return api_send_json(req, 201, answer, NULL, location);
	}
}

static int api_override_collect(const struct tnd_override_record *rec, void *userdata)
{
	json_array_append_new(userdata, api_override_json(rec));
	return 0;
}

enum MHD_Result api_override_list(struct api_request *req)
{
	struct tnd_override_query query = { .size = sizeof(query) };
	const char *all = api_query(req, "all");
	json_t *items;
	struct tnd_error err;
	int r;

	if (!registry_supports_overrides(req->server->registry))
		return api_fail(req, 501, "not-implemented", "Not implemented",
				"the storage driver does not store overrides (storage ABI 1.2 needed)");
	query.tenant_id = api_query(req, "tenant");
	query.after_id = api_query(req, "cursor");
	query.active_at_ms = all && strcmp(all, "true") == 0 ? 0 : tnd_now_ms();
	if (!api_query_limit(req, 1000, &query.limit))
		return api_fail_limit(req, 1000);
	items = json_array();
	r = registry_override_list(req->server->registry, &query, api_override_collect, items, &err);
	if (r < 0) {
		json_decref(items);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "%s", err.message);
	}
	{
		size_t n = json_array_size(items);
		json_t *last = n ? json_object_get(json_array_get(items, n - 1), "id") : NULL;
		uint32_t page = query.limit ? query.limit : 100;
		json_t *next = n == page && last ? json_copy(last) : json_null();

		return api_send_json(req, 200, json_pack("{s:o,s:o}", "items", items, "nextCursor", next), NULL, NULL);
	}
}
