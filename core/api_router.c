/*
 * api_router.c — the route table of the management API, path matching,
 * bearer-token authentication and the role each route needs.
 *
 * Order of judgement: unknown path → 404; known path, other method → 405
 * with Allow; no or bad token → 401; role too weak → 403; a tenant-scoped
 * token naming another tenant → 404 (so ids of other tenants never leak);
 * rate limit exhausted → 429 (api_ratelimit.c; only now, so that only a
 * caller allowed to make the request can spend a tenant's budget).
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_internal.h"
#include "breakglass.h"
#include "conf.h"
#include "log.h"
#include "token_index.h"
#include "tokens.h"
#include "util.h"

#define LOG_COMPONENT "api"

/* no token needed */
#define ROUTE_PUBLIC 0x1u
/* a tenant-scoped token may call it, but only for its own {id} */
#define ROUTE_OWN_TENANT 0x2u

struct api_route_def {
	const char *method;
	const char *pattern;
	api_handler_fn *handler;
	enum tnd_role min_role;
	unsigned flags;
};

/* The whole API surface of this version; docs/api.md describes each route. */
static const struct api_route_def api_routes[] = {
	{ "GET", "/healthz", api_healthz, TND_ROLE_NONE, ROUTE_PUBLIC },
	{ "GET", "/readyz", api_readyz, TND_ROLE_NONE, ROUTE_PUBLIC },
	{ "GET", "/metrics", api_metrics, TND_ROLE_VIEWER, 0 },
	{ "GET", "/v1/plans", api_plans, TND_ROLE_TENANT, 0 },
	{ "GET", "/v1/regions", api_regions, TND_ROLE_TENANT, 0 },
	{ "GET", "/v1/tenants", api_tenant_list, TND_ROLE_TENANT, 0 },
	{ "GET", "/v1/tenants/{id}", api_tenant_get, TND_ROLE_TENANT, ROUTE_OWN_TENANT },
	{ "PUT", "/v1/tenants/{id}", api_tenant_put, TND_ROLE_OPERATOR, 0 },
	{ "DELETE", "/v1/tenants/{id}", api_tenant_delete, TND_ROLE_OPERATOR, 0 },
	{ "GET", "/v1/tenants/{id}/versions", api_tenant_versions, TND_ROLE_TENANT, ROUTE_OWN_TENANT },
	{ "GET", "/v1/tenants/{id}/versions/{n}", api_tenant_version, TND_ROLE_TENANT, ROUTE_OWN_TENANT },
	{ "GET", "/v1/tenants/{id}/transitions", api_tenant_transitions, TND_ROLE_TENANT, ROUTE_OWN_TENANT },
	{ "GET", "/v1/tenants/{id}/quotas", api_tenant_quotas, TND_ROLE_TENANT, ROUTE_OWN_TENANT },
	{ "POST", "/v1/tenants/{id}/suspend", api_tenant_suspend, TND_ROLE_OPERATOR, 0 },
	{ "POST", "/v1/tenants/{id}/resume", api_tenant_resume, TND_ROLE_OPERATOR, 0 },
	{ "POST", "/v1/tenants/{id}/archive", api_tenant_archive, TND_ROLE_OPERATOR, 0 },
	{ "GET", "/v1/tenants/{id}/credentials", api_tenant_credentials, TND_ROLE_ADMIN, 0 },
	{ "GET", "/v1/workflows", api_workflows_list, TND_ROLE_TENANT, 0 },
	{ "GET", "/v1/workflows/{id}", api_workflow_get, TND_ROLE_TENANT, 0 },
	{ "POST", "/v1/workflows/{id}/retry", api_workflow_retry, TND_ROLE_OPERATOR, 0 },
	{ "POST", "/v1/overrides", api_override_create, TND_ROLE_ADMIN, 0 },
	{ "GET", "/v1/overrides", api_override_list, TND_ROLE_AUDITOR, 0 },
	/* audit: auditor and admin only, checked by the handlers (api_audit.c) */
	{ "GET", "/v1/audit", api_audit_search, TND_ROLE_AUDITOR, 0 },
	{ "GET", "/v1/audit/verify", api_audit_verify, TND_ROLE_AUDITOR, 0 },
	{ "GET", "/v1/audit/public-key", api_audit_public_key, TND_ROLE_AUDITOR, 0 },
	{ "POST", "/v1/tokens", api_token_create, TND_ROLE_ADMIN, 0 },
	{ "GET", "/v1/tokens", api_token_list, TND_ROLE_AUDITOR, 0 },
	{ "DELETE", "/v1/tokens/{id}", api_token_revoke, TND_ROLE_ADMIN, 0 },
	{ "POST", "/v1/breakglass", api_breakglass_request, TND_ROLE_OPERATOR, 0 },
	{ "GET", "/v1/breakglass", api_breakglass_list, TND_ROLE_AUDITOR, 0 },
	{ "GET", "/v1/breakglass/{id}", api_breakglass_get, TND_ROLE_AUDITOR, 0 },
	{ "POST", "/v1/breakglass/{id}/approve", api_breakglass_approve, TND_ROLE_ADMIN, 0 },
	{ "POST", "/v1/breakglass/{id}/deny", api_breakglass_deny, TND_ROLE_ADMIN, 0 },
	/* a tenant-scoped token sees its own tenant's events (api_events.c) */
	{ "GET", "/v1/events", api_events_list, TND_ROLE_TENANT, 0 },
	/* webhook subscriptions and their deliveries (api_webhooks.c, api_deliveries.c) */
	{ "POST", "/v1/webhooks", api_webhook_create, TND_ROLE_ADMIN, 0 },
	{ "GET", "/v1/webhooks", api_webhook_list, TND_ROLE_AUDITOR, 0 },
	{ "GET", "/v1/webhooks/{id}", api_webhook_get, TND_ROLE_AUDITOR, 0 },
	{ "DELETE", "/v1/webhooks/{id}", api_webhook_delete, TND_ROLE_ADMIN, 0 },
	{ "GET", "/v1/deliveries", api_delivery_list, TND_ROLE_AUDITOR, 0 },
	{ "POST", "/v1/deliveries/requeue", api_delivery_requeue_bulk, TND_ROLE_OPERATOR, 0 },
	{ "POST", "/v1/deliveries/{id}/requeue", api_delivery_requeue, TND_ROLE_OPERATOR, 0 },
};

/* Match @path against @pattern; on success the {params} are copied into @req. */
static bool api_match(const char *pattern, const char *path, struct api_request *req, bool capture)
{
	const char *p = pattern, *s = path;
	size_t n = 0;

	while (*p && *s) {
		if (*p == '{') {
			const char *end = s;
			while (*end && *end != '/')
				end++;
			if (end == s || n >= API_MAX_PARAMS)
				return false;
			if (capture)
				req->params[n] = tnd_xstrndup(s, (size_t)(end - s));
			n++;
			s = end;
			while (*p && *p != '}')
				p++;
			if (*p == '}')
				p++;
			continue;
		}
		if (*p != *s)
			goto mismatch;
		p++;
		s++;
	}
	if (*p == '\0' && *s == '\0') {
		if (capture)
			req->n_params = n;
		return true;
	}
mismatch:
	if (capture)
		for (size_t i = 0; i < n; i++) {
			free(req->params[i]);
			req->params[i] = NULL;
		}
	return false;
}

/* The tokens file first, then the registry's tokens (an in-memory index:
 * no registry read); then an approved break-glass grant may raise the role. */
static bool api_authenticate(struct api_request *req)
{
	const char *auth = api_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
	int64_t now_ms = tnd_now_ms();

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	while (*auth == ' ')
		auth++;
	if (!(req->conf->tokens && tokens_authenticate(req->conf->tokens, auth, &req->principal) == 0) &&
	    token_index_authenticate(req->server->token_index, auth, now_ms, &req->principal) != 0)
		return false;
	if (breakglass_elevate(req->server->breakglass, &req->principal, now_ms) &&
	    req->principal.base_role != TND_ROLE_ADMIN)
		log_notice("%s %s by %s (%s) as admin under break-glass grant %s", req->method, req->path,
			   req->principal.name, role_name(req->principal.base_role), req->principal.grant);
	return true;
}

enum MHD_Result api_route(struct api_request *req)
{
	const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
	const struct api_route_def *route = NULL;
	const char *tenant_id = NULL;
	enum MHD_Result result;
	char allow[128] = "";
	bool path_known = false;

	for (size_t i = 0; i < TND_ARRAY_SIZE(api_routes); i++) {
		if (!api_match(api_routes[i].pattern, req->path, req, false))
			continue;
		path_known = true;
		if (strcmp(api_routes[i].method, method) == 0) {
			route = &api_routes[i];
			break;
		}
		if (allow[0])
			tnd_strlcpy(allow + strlen(allow), ", ", sizeof(allow) - strlen(allow));
		tnd_strlcpy(allow + strlen(allow), api_routes[i].method, sizeof(allow) - strlen(allow));
		if (strcmp(api_routes[i].method, "GET") == 0)
			tnd_strlcpy(allow + strlen(allow), ", HEAD", sizeof(allow) - strlen(allow));
	}
	if (route == NULL) {
		if (path_known)
			return api_send_method_not_allowed(req, allow);
		return api_fail(req, 404, "not-found", "Not found", "no such resource: %s", req->path);
	}
	api_match(route->pattern, req->path, req, true);
	if (!(route->flags & ROUTE_PUBLIC)) {
		if (!api_authenticate(req))
			return api_fail(req, 401, "unauthorized", "Unauthorized",
					"a valid bearer token is required (Authorization: Bearer <token>)");
		/* from here on a refused mutating request is audited (api_audit.c) */
		api_audit_begin(req, method, route->pattern);
		if (req->principal.role < route->min_role ||
		    (req->principal.role == TND_ROLE_TENANT && route->min_role != TND_ROLE_TENANT))
			return api_fail(req, 403, "forbidden", "Forbidden", "role %s may not %s %s",
					role_name(req->principal.role), req->method, route->pattern);
		if (req->principal.role == TND_ROLE_TENANT && (route->flags & ROUTE_OWN_TENANT) &&
		    strcmp(req->params[0], req->principal.tenant) != 0)
			return api_fail(req, 404, "not-found", "Not found", "tenant %s does not exist",
					req->params[0]);
	}
	if (req->n_params > 0 && strncmp(route->pattern, "/v1/tenants/", 12) == 0) {
		tenant_id = req->params[0];
		log_context_set_tenant(tenant_id); /* the {id} of a tenant route is a tenant */
	}
	if (!(route->flags & ROUTE_PUBLIC) && !api_ratelimit_admit(req, tenant_id, &result))
		return result;
	return route->handler(req);
}
