/*
 * tenant_service.h — the mutation pipeline for tenants, independent of HTTP.
 *
 *   validate → lifecycle → placement → policy (policy_gate.h; quotas: later)
 *   → one registry transaction (head row + lineage + phase transitions +
 *     idempotency record; later audit, outbox and reconcile work)
 *
 * Results are responses in the stored form {status, headers{}, body}, the
 * same form an Idempotency-Key replay returns, so the API renders fresh and
 * replayed answers identically.  Failures are struct problem.
 */
#ifndef TND_TENANT_SERVICE_H
#define TND_TENANT_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct registry;
struct tnd_conf;
struct problem;

/** Who asks, and the request's conditions. */
struct request_ctx {
	const char *request_id;
	const char *actor;              /* the token's name */
	const char *actor_role;         /* the token's role ("admin", "operator", ...), for the policy */
	const char *if_match;           /* raw If-Match header, or NULL */
	const char *idempotency_key;    /* scoped key ("<actor>\n<key>"), or NULL */
	const char *request_hash;       /* hex SHA-256 of method, path and body */
	int64_t idempotency_ttl_ms;
	bool dry_run;                   /* ?dryRun=true: run every gate, write nothing */
	const char *action;             /* audit: "tenant.apply", "tenant.suspend", ... (NULL: derived) */
	const char *target;             /* audit: the request path, or NULL */
};

enum tenant_action {
	TENANT_ACTION_SUSPEND,
	TENANT_ACTION_RESUME,
	TENANT_ACTION_ARCHIVE,
	TENANT_ACTION_DELETE,
};

/**
 * Apply manifest @doc to tenant @url_id.  0 and *@ret_response, or -1 and
 * *@ret_problem (422 validation, 409 lifecycle/deleted/migration needed,
 * 412 If-Match, 403 denied by policy, 503 storage or policy unavailable).
 * With rctx->dry_run nothing is written and a successful answer is 200
 * {dryRun, action, decision, reasons, obligations, outcome, tenant}, a
 * policy denial included (decision "deny").
 */
int tenant_apply(struct registry *reg, const struct tnd_conf *conf, const json_t *doc, const char *url_id,
		 const struct request_ctx *rctx, json_t **ret_response, struct problem **ret_problem);

/** Lifecycle sugar: suspend, resume, archive, delete tenant @id. */
int tenant_act(struct registry *reg, const struct tnd_conf *conf, const char *id, enum tenant_action action,
	       const struct request_ctx *rctx, json_t **ret_response, struct problem **ret_problem);

/** A stored-form response {status, headers, body} (new reference). */
json_t *tenant_response(int status, const json_t *body, int64_t version, const char *location);

#endif /* TND_TENANT_SERVICE_H */
