/*
 * api_ratelimit.c — the API's rate limits: which buckets a request is
 * charged to, the 429 answer, and the RateLimit headers every limited
 * answer carries.
 *
 * An authenticated request that names a tenant (/v1/tenants/{id}...) is
 * charged to that tenant's bucket for its class — "read" (GET, HEAD) or
 * "write" (every other method) — with the limits of the tenant's plan,
 * then to the bucket of its API token.  A refused request is charged to
 * neither.  Requests are charged only after authentication and the route's
 * role checks, so nobody can drain a tenant's budget without a token that
 * may call that route, and a tenant-scoped token naming another tenant is
 * answered 404 before any bucket is looked at.
 *
 * The plan comes from the registry's tenant row, and an administrative
 * override (api_overrides.c) from the registry's overrides; both are
 * remembered in the bucket table for api.rate_limits.plan_cache_ttl
 * seconds (or until the override ends, if sooner); an unknown tenant gets
 * the api defaults, exactly as a tenant of a plan without limits does, so
 * the answer does not tell whether the tenant exists.  Limits are read from
 * the request's config snapshot: a SIGHUP applies new ones to the next
 * request, to buckets already in the table.
 *
 * Headers (draft-ietf-httpapi-ratelimit-headers, structured fields): each
 * policy that applied is named "tenant-read", "tenant-write" or "token":
 *   RateLimit-Policy: "tenant-read";q=100;w=1, "token";q=200;w=1
 *   RateLimit: "tenant-read";r=99;t=1, "token";r=199;t=1
 * and a 429 also carries Retry-After in seconds.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "registry.h"
#include "util.h"

#define API_RATELIMIT_KEY_MAX 160

/* What decides a tenant's limits: its plan, and the newest active override
 * (-1: not overridden). */
struct api_ratelimit_tenant {
	char plan[33];                 /* plan codes are at most 32 characters */
	int64_t read, write, window;
	int64_t override_expires_ms;   /* 0: no override */
};

static int api_ratelimit_override_visit(const struct tnd_override_record *rec, void *userdata)
{
	struct api_ratelimit_tenant *t = userdata;
	json_t *limits = json_loads(rec->limits_json, 0, NULL);
	json_t *v;

	/* ordered by id, i.e. by creation: the last one visited is the newest */
	t->read = (v = json_object_get(limits, "read")) ? json_integer_value(v) : -1;
	t->write = (v = json_object_get(limits, "write")) ? json_integer_value(v) : -1;
	t->window = (v = json_object_get(limits, "window")) ? json_integer_value(v) : -1;
	t->override_expires_ms = rec->expires_ms;
	json_decref(limits);
	return 0;
}

/* Read @tenant_id's plan and overrides from the registry ("" plan if unknown). */
static void api_ratelimit_read_tenant(struct api_request *req, const char *tenant_id, struct api_ratelimit_tenant *t)
{
	struct registry *reg = req->server->registry;
	struct tnd_override_query query = { .size = sizeof(query), .tenant_id = tenant_id, .limit = 1000 };
	struct tenant_row *row = NULL;
	struct tnd_error err;

	if (reg == NULL)
		return;
	if (registry_tenant_get(reg, tenant_id, &row, &err) == 0) {
		tnd_strlcpy(t->plan, row->plan ? row->plan : "", sizeof(t->plan));
		tenant_row_free(row);
	}
	if (registry_supports_overrides(reg)) {
		query.active_at_ms = tnd_now_ms();
		registry_override_list(reg, &query, api_ratelimit_override_visit, t, &err);
	}
}

/* @tenant_id's plan and overrides, remembered for plan_cache_ttl seconds
 * (or until the override ends, if sooner). */
static void api_ratelimit_tenant(struct api_request *req, const char *tenant_id, struct api_ratelimit_tenant *t)
{
	struct ratelimit *rl = req->server->limiter;
	char key[API_RATELIMIT_KEY_MAX], memo[RATELIMIT_MEMO_MAX];
	uint32_t ttl = req->conf->api.rate_limit_plan_ttl_s;
	long long read, write, window;
	int plan_len;

	*t = (struct api_ratelimit_tenant){ .read = -1, .write = -1, .window = -1 };
	snprintf(key, sizeof(key), "plan\x1f%s", tenant_id);
	if (ratelimit_memo_get(rl, key, memo, sizeof(memo)) &&
	    sscanf(memo, "%lld %lld %lld %n", &read, &write, &window, &plan_len) == 3) {
		t->read = read;
		t->write = write;
		t->window = window;
		tnd_strlcpy(t->plan, memo + plan_len, sizeof(t->plan));
		return;
	}
	api_ratelimit_read_tenant(req, tenant_id, t);
	if (t->override_expires_ms) {
		int64_t left_s = (t->override_expires_ms - tnd_now_ms() + 999) / 1000;

		if (left_s < (int64_t)ttl)
			ttl = left_s > 0 ? (uint32_t)left_s : 1;
	}
	/* unknown tenants are remembered too: a flood of made-up ids must not
	 * become a flood of registry reads */
	snprintf(memo, sizeof(memo), "%lld %lld %lld %s", (long long)t->read, (long long)t->write,
		 (long long)t->window, t->plan);
	ratelimit_memo_set(rl, key, memo, ttl);
}

void api_ratelimit_forget(struct api_request *req, const char *tenant_id)
{
	char key[API_RATELIMIT_KEY_MAX];

	if (req->server->limiter == NULL)
		return;
	snprintf(key, sizeof(key), "plan\x1f%s", tenant_id);
	ratelimit_memo_set(req->server->limiter, key, "", 0); /* expired at once */
}

static void api_ratelimit_note(struct api_request *req, const char *policy, struct ratelimit_limit limit,
			       const struct ratelimit_verdict *verdict)
{
	struct api_ratelimit_policy *p;

	if (limit.quota == 0 || req->ratelimit.n >= API_RATELIMIT_POLICIES)
		return;
	p = &req->ratelimit.policies[req->ratelimit.n++];
	p->name = policy;
	p->quota = limit.quota;
	p->window_s = limit.window_s;
	p->remaining = verdict->remaining;
	p->reset_s = verdict->reset_s;
}

static enum MHD_Result api_ratelimit_refuse(struct api_request *req, const char *scope, const char *policy,
					    struct ratelimit_limit limit, const struct ratelimit_verdict *verdict)
{
	char labels[64];

	req->ratelimit.n = 0;
	api_ratelimit_note(req, policy, limit, verdict);
	req->ratelimit.retry_after_s = verdict->retry_after_s;
	snprintf(labels, sizeof(labels), "scope=\"%s\"", scope);
	metrics_counter_add("tenancyd_ratelimit_rejections_total",
			    "Requests refused with 429 because a rate limit was exhausted.", labels, 1);
	return api_fail(req, 429, "rate-limited", "Too many requests",
			"the %s rate limit (%u requests per %u s) is exhausted; retry in %u s", policy,
			(unsigned)limit.quota, (unsigned)limit.window_s, (unsigned)verdict->retry_after_s);
}

bool api_ratelimit_admit(struct api_request *req, const char *tenant_id, enum MHD_Result *ret_result)
{
	const struct tnd_rate_limits *defaults = &req->conf->api.rate_limits;
	struct ratelimit *rl = req->server->limiter;
	struct ratelimit_limit tenant_limit = { 0, 1 }, token_limit;
	struct ratelimit_verdict verdict;
	char key[API_RATELIMIT_KEY_MAX], tenant_key[API_RATELIMIT_KEY_MAX] = "";
	bool read = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
	const char *tenant_policy = read ? "tenant-read" : "tenant-write";

	if (rl == NULL)
		return true;
	if (tenant_id) {
		const struct tnd_plan_conf *plan;
		const struct tnd_rate_limits *limits = defaults;
		struct api_ratelimit_tenant t;
		int64_t override;

		api_ratelimit_tenant(req, tenant_id, &t);
		plan = t.plan[0] ? conf_plan(req->conf, t.plan) : NULL;
		if (plan)
			limits = &plan->rate_limits;
		override = read ? t.read : t.write;
		tenant_limit.quota = override >= 0 ? (uint32_t)override : read ? limits->read : limits->write;
		tenant_limit.window_s = override >= 0 && t.window > 0 ? (uint32_t)t.window : limits->window_s;
		snprintf(tenant_key, sizeof(tenant_key), "tenant\x1f%s\x1f%c", tenant_id, read ? 'r' : 'w');
		ratelimit_take(rl, tenant_key, tenant_limit, &verdict);
		if (!verdict.allowed) {
			*ret_result = api_ratelimit_refuse(req, "tenant", tenant_policy, tenant_limit, &verdict);
			return false;
		}
		api_ratelimit_note(req, tenant_policy, tenant_limit, &verdict);
		req->ratelimit.tenant_write = !read;
	}
	token_limit = (struct ratelimit_limit){ defaults->token, defaults->window_s };
	snprintf(key, sizeof(key), "token\x1f%s", req->principal.name);
	ratelimit_take(rl, key, token_limit, &verdict);
	if (!verdict.allowed) {
		if (tenant_id)
			ratelimit_refund(rl, tenant_key, tenant_limit);
		*ret_result = api_ratelimit_refuse(req, "token", "token", token_limit, &verdict);
		return false;
	}
	api_ratelimit_note(req, "token", token_limit, &verdict);
	return true;
}

void api_ratelimit_request_done(struct api_request *req)
{
	if (req->ratelimit.tenant_write && req->status >= 200 && req->status < 300 && req->n_params > 0)
		api_ratelimit_forget(req, req->params[0]);
}

void api_ratelimit_add_headers(const struct api_request *req, struct MHD_Response *resp)
{
	char policy[256] = "", state[256] = "";
	size_t pn = 0, sn = 0;

	for (size_t i = 0; i < req->ratelimit.n; i++) {
		const struct api_ratelimit_policy *p = &req->ratelimit.policies[i];
		int a = snprintf(policy + pn, sizeof(policy) - pn, "%s\"%s\";q=%u;w=%u", i ? ", " : "", p->name,
				 (unsigned)p->quota, (unsigned)p->window_s);
		int b = snprintf(state + sn, sizeof(state) - sn, "%s\"%s\";r=%u;t=%u", i ? ", " : "", p->name,
				 (unsigned)p->remaining, (unsigned)p->reset_s);

		if (a < 0 || b < 0 || (size_t)a >= sizeof(policy) - pn || (size_t)b >= sizeof(state) - sn)
			break;
		pn += (size_t)a;
		sn += (size_t)b;
	}
	if (pn > 0) {
		MHD_add_response_header(resp, "RateLimit-Policy", policy);
		MHD_add_response_header(resp, "RateLimit", state);
	}
	if (req->ratelimit.retry_after_s > 0) {
		char seconds[16];

		snprintf(seconds, sizeof(seconds), "%u", (unsigned)req->ratelimit.retry_after_s);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, seconds);
	}
}
