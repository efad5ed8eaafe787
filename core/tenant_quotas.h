/*
 * tenant_quotas.h — what the tenant service asks about quotas before it
 * commits a change (issue 4): the plan's shared compute budget, the
 * scale-up policy gate, the quota history entry of the change, and the
 * concurrentOperations limit of mutating requests.  tenant_service.c calls
 * these at a few marked points; the logic lives here.
 */
#ifndef TND_TENANT_QUOTAS_H
#define TND_TENANT_QUOTAS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "conf.h"

struct problem;
struct registry;
struct registry_txn;
struct request_ctx;
struct tenant_row;

/** Budget units held back for one change, settled after its commit. */
struct tenant_quota_hold {
	char plan[40];          /* the plan the units were reserved in ("" if none) */
	int64_t reserved;       /* units reserved there */
	char release_plan[40];  /* the plan giving units back on commit ("" if none) */
	int64_t release;        /* units it gives back */
};

/**
 * Check and record the quotas of a change from @old (NULL: a create) to
 * @next at @now_ms: reserve budget units (403 quota-exceeded naming quota,
 * requested and allowed), ask the policy about a scale-up (403/503), and
 * add the quota history entry to @txn if the effective quotas change.
 * NULL to go on (settle @hold after the commit), or the problem.
 */
struct problem *tenant_quotas_prepare(struct registry *reg, const struct tnd_conf *conf,
				      struct registry_txn *txn, const struct tenant_row *old,
				      const struct tenant_row *next, const struct request_ctx *rctx, int64_t now_ms,
				      struct tenant_quota_hold *hold);
/** After the commit (or instead of it): keep or give back what @hold holds. */
void tenant_quotas_settle(struct tenant_quota_hold *hold, bool committed);

/** An unchanged re-apply of @row: add a history entry if the effective
 *  quotas changed since the last one (a plan reloaded, an override ended).
 *  True if one was added. */
bool tenant_quotas_refresh(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
			   const struct tenant_row *row, const struct request_ctx *rctx, int64_t now_ms);

/**
 * Enter one mutating request on tenant @id (manifest @manifest for a
 * tenant that may not exist yet, else NULL), within its effective
 * concurrentOperations; requests sharing rctx->idempotency_key count once.
 * NULL when entered (call tenant_quotas_leave()), or a 409 problem.
 */
struct problem *tenant_quotas_enter(struct registry *reg, const struct tnd_conf *conf, const char *id,
				    const json_t *manifest, const struct request_ctx *rctx);
void tenant_quotas_leave(const char *id, const struct request_ctx *rctx);

#endif /* TND_TENANT_QUOTAS_H */
