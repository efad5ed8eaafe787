/*
 * api_internal.h — what the API's files share: the per-request state, the
 * route table, and the response helpers.  Not used outside core/api_*.c.
 */
#ifndef TND_API_INTERNAL_H
#define TND_API_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include <tenancyd/host.h>

#include "tokens.h"

struct registry_txn;

struct registry;
struct tnd_conf;
struct problem;

#define API_MAX_PARAMS 4

struct orchestrator;
struct ratelimit;
struct token_index;
struct breakglass;

struct api_server {
	struct MHD_Daemon *daemon;
	struct registry *registry;
	struct orchestrator *orchestrator;   /* NULL without a data plane */
	struct ratelimit *limiter;           /* rate-limit buckets (api_ratelimit.c) */
	struct token_index *token_index;     /* registry tokens (api_tokens.c) */
	struct breakglass *breakglass;       /* approved grants (api_breakglass.c) */
	uint16_t port;
	atomic_uint in_flight;
	atomic_bool draining;
};

#define API_RATELIMIT_POLICIES 2

/** A rate limit that applied to a request, for its RateLimit headers. */
struct api_ratelimit_policy {
	const char *name;                    /* "tenant-read", "tenant-write", "token" */
	uint32_t quota, window_s, remaining, reset_s;
};

/** One HTTP request from first byte to completion. */
struct api_request {
	struct api_server *server;
	struct MHD_Connection *conn;
	const char *method;                  /* borrowed from MHD */
	char *path;                          /* owned */
	char request_id[129];
	struct tnd_conf *conf;               /* the snapshot this request uses (referenced) */
	struct tnd_principal principal;      /* valid after authentication */
	struct tnd_buf body;
	bool body_too_large;
	char *params[API_MAX_PARAMS];        /* {id}, {n}: owned copies */
	size_t n_params;
	int64_t start_us;
	unsigned status;                     /* what was sent, for the access log */
	bool counted;                        /* included in server->in_flight */
	struct {
		struct api_ratelimit_policy policies[API_RATELIMIT_POLICIES];
		size_t n;
		uint32_t retry_after_s;      /* a 429: its Retry-After */
		bool tenant_write;           /* a write to params[0]: forget its plan when done */
	} ratelimit;
	char audit_action[96];               /* a mutating route: its audit action, "" once audited */
	const char *audit_tenant;            /* the {id} of a tenant route, borrowed */
};

/** Handlers queue exactly one response and return its MHD result. */
typedef enum MHD_Result api_handler_fn(struct api_request *req);

/* api_router.c */
enum MHD_Result api_route(struct api_request *req);

/* api_ratelimit.c */
/** Charge @req (authenticated and authorized) to its buckets: @tenant_id's
 *  (NULL: the route names no tenant) and its token's.  False: refused, and
 *  the 429 was queued with its result in *@ret_result. */
bool api_ratelimit_admit(struct api_request *req, const char *tenant_id, enum MHD_Result *ret_result);
/** RateLimit-Policy, RateLimit and Retry-After for what @req was charged. */
void api_ratelimit_add_headers(const struct api_request *req, struct MHD_Response *resp);
/** Forget what the limiter remembers of @tenant_id (its plan, overrides). */
void api_ratelimit_forget(struct api_request *req, const char *tenant_id);
/** At a request's end: a successful write to a tenant may have changed its
 *  plan (or created it), so the limiter looks it up again. */
void api_ratelimit_request_done(struct api_request *req);

/* handlers: api_tokens.c */
api_handler_fn api_token_create;
api_handler_fn api_token_list;
api_handler_fn api_token_revoke;
/** Load registry tokens and approved grants into fresh in-memory indexes
 *  (empty ones when the driver predates them). */
int api_tokens_load(struct api_server *server, struct tnd_error *err);
void api_tokens_unload(struct api_server *server);
/** A new id "<prefix>-<13-digit ms>-<8 hex>": unique, sorts by creation time. */
void api_new_id(const char *prefix, int64_t now_ms, char out[48]);
/** The request's JSON object body, or NULL after queueing a 400 in *@ret_result.
 *  An empty body is {} when @empty_ok. */
json_t *api_body_object(struct api_request *req, bool empty_ok, enum MHD_Result *ret_result);
/** Members of @body not in @known (NULL-terminated) as 422 errors in @errors. */
void api_reject_unknown(const json_t *body, const char *const *known, json_t *errors);
/** Queue a 422 with @errors (consumed); @what names the document. */
enum MHD_Result api_send_invalid(struct api_request *req, const char *what, json_t *errors);

/* handlers: api_breakglass.c */
api_handler_fn api_breakglass_request;
api_handler_fn api_breakglass_list;
api_handler_fn api_breakglass_get;
api_handler_fn api_breakglass_approve;
api_handler_fn api_breakglass_deny;

/* handlers: api_overrides.c */
api_handler_fn api_override_create;
api_handler_fn api_override_list;

/* api_response.c */
/** Queue @resp (adds X-Request-Id and Cache-Control) and release it. */
enum MHD_Result api_queue_response(struct api_request *req, unsigned status, struct MHD_Response *resp);
enum MHD_Result api_send_json(struct api_request *req, unsigned status, json_t *body, const char *etag,
			      const char *location);
enum MHD_Result api_send_text(struct api_request *req, unsigned status, const char *content_type,
			      const char *text, size_t len);
enum MHD_Result api_send_problem(struct api_request *req, struct problem *problem);
/** Send 304 Not Modified for a representation whose ETag is @etag. */
enum MHD_Result api_send_not_modified(struct api_request *req, const char *etag);
/** Shorthand: a new problem of @status/@slug/@title with a formatted detail. */
enum MHD_Result api_fail(struct api_request *req, unsigned status, const char *slug, const char *title,
			 const char *fmt, ...) TND_PRINTF(5, 6);
/** Send a stored-form response {status, headers, body} (fresh or replayed). */
enum MHD_Result api_send_stored(struct api_request *req, const json_t *response);
/** Send a 405 naming the allowed methods. */
enum MHD_Result api_send_method_not_allowed(struct api_request *req, const char *allow);
const char *api_header(const struct api_request *req, const char *name);
const char *api_query(const struct api_request *req, const char *name);
/** ?limit=: absent leaves *@ret as it is; an integer from 1 to @max is
 *  stored; anything else is false (answer with api_fail_limit). */
bool api_query_limit(const struct api_request *req, uint32_t max, uint32_t *ret);
/** The 400 of a bad ?limit=. */
enum MHD_Result api_fail_limit(struct api_request *req, uint32_t max);

/* handlers: api_tenants.c */
api_handler_fn api_tenant_put;
api_handler_fn api_tenant_get;
api_handler_fn api_tenant_list;
api_handler_fn api_tenant_versions;
api_handler_fn api_tenant_version;
api_handler_fn api_tenant_transitions;
api_handler_fn api_tenant_suspend;
api_handler_fn api_tenant_resume;
api_handler_fn api_tenant_archive;
api_handler_fn api_tenant_delete;

/* handlers: api_quotas.c */
api_handler_fn api_tenant_quotas;

/* handlers: api_workflows.c */
api_handler_fn api_workflows_list;
api_handler_fn api_workflow_get;
api_handler_fn api_workflow_retry;
api_handler_fn api_tenant_credentials;

/* api_audit.c: the record of a mutating request that is refused */
/** The router calls it once the route is known (a no-op for reads). */
void api_audit_begin(struct api_request *req, const char *method, const char *pattern);
/** Audit @problem for a mutating request; the problem to send (a 503
 *  replacing it when the record could not be written). */
struct problem *api_audit_problem(struct api_request *req, struct problem *problem);
/** Add the record of @req, which succeeds, to @txn (the change's own
 *  transaction); @tenant_id and @target NULL: the route's. */
void api_audit_success(struct api_request *req, struct registry_txn *txn, const char *tenant_id,
		       const char *target, const char *new_state);

/* handlers: api_audit.c */
api_handler_fn api_audit_search;
api_handler_fn api_audit_verify;
api_handler_fn api_audit_public_key;

/* handlers: api_events.c */
api_handler_fn api_events_list;

/* handlers: api_webhooks.c, api_deliveries.c */
api_handler_fn api_webhook_create;
api_handler_fn api_webhook_list;
api_handler_fn api_webhook_get;
api_handler_fn api_webhook_delete;
api_handler_fn api_delivery_list;
api_handler_fn api_delivery_requeue;
api_handler_fn api_delivery_requeue_bulk;
/** RFC 3339 UTC ("2026-11-28T13:54:27Z", fractions allowed) or epoch ms (api_audit.c). */
bool api_time_parse(const char *text, int64_t *ret_ms);

/* handlers: api_system.c */
api_handler_fn api_healthz;
api_handler_fn api_readyz;
api_handler_fn api_metrics;
api_handler_fn api_plans;
api_handler_fn api_regions;

#endif /* TND_API_INTERNAL_H */
