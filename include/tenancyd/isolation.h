/*
 * tenancyd/isolation.h — the isolation strategy ops table (plugin kind ISOLATION).
 *
 * An isolation plugin turns a tenant's placement into real resources on a
 * data plane (a schema, a database, a login role) and reports what exists.
 * Worker processes (tenancyd-worker) call these ops while executing
 * workflow steps.  Every op must be idempotent, because a step may be
 * retried after a crash at any point: provisioning something that already
 * exists in the wanted shape succeeds (and corrects what differs), removing
 * something already gone succeeds.  Ops may block (network, DDL); a worker
 * runs one op at a time per plugin context, but several workers may run
 * ops for different tenants concurrently against the same data plane.
 *
 * Which plugin serves which isolation mode in which region is configured
 * per region (regions[].isolation in tenancyd.conf); the region's
 * data_plane group is handed to the plugin in every request.
 *
 * Request (a JSON document, read with host->json_*):
 *   { "tenantId":   "acme-corp",
 *     "version":    3,                  the tenant version being realized
 *     "isolation":  "shared",           shared | dedicated | hybrid
 *     "region":     "eu-west-1",
 *     "state":      "active",           the desired state once this step is done:
 *                                       active | suspended | archived | deleted
 *     "dataPlane":  { ... },            the region's data_plane settings, verbatim
 *     "quotas":     { "computeUnits": 4, "storageGb": 50,
 *                     "eventsPerMinute": 600, "concurrentOperations": 2 },
 *                                       effective quotas (plan defaults + overrides)
 *     "resources":  { ... },            what the last successful step reported, or {}
 *     "credentials": { "username": "t_acme_corp", "password": "..." } }
 *                                       provision only: the login to create or keep
 *                                       (the role name is always "t_" + id with '-' → '_').
 *                                       The core generates and stores it (encrypted);
 *                                       a plugin never invents or logs a password.
 *
 * Result (JSON text the plugin appends to @result on success):
 *   every op:  { "resources": { ... } }  what now exists, per DESIGN §3, e.g.
 *              shared    {"database": "tenancy", "schema": "t_acme_corp", "role": "t_acme_corp"}
 *              dedicated {"database": "t_acme_corp", "schema": "public", "role": "t_acme_corp"}
 *              hybrid    {"control": {"database": "tenancy", "schema": "t_acme_corp"},
 *                         "data": {"database": "t_acme_corp", "schema": "public"},
 *                         "role": "t_acme_corp"}
 *              destroy returns {"resources": {}}.
 *   observe:   adds { "observed": { "exists":   true,    every resource of the mode exists
 *                                   "login":    true,    the role may log in
 *                                   "writable": true,    the role may write its data
 *                                   "drift":    ["..."] } }
 *              where drift lists every difference between what exists and what
 *              request.state implies (missing schema, login enabled while
 *              suspended, write grants while archived, ...); [] when in sync.
 *
 * Errors: return a negative errno with detail in @err (never a secret).
 * -EAGAIN marks a transient failure (connection refused, lock timeout);
 * -EINVAL a request the plugin cannot serve (missing data-plane setting).
 * The orchestrator retries every failure with backoff up to its limit.
 */
#ifndef TENANCYD_ISOLATION_H
#define TENANCYD_ISOLATION_H

#include <tenancyd/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The plugin can move a tenant's data to another isolation mode or region. */
#define TND_ISOLATION_CAP_MIGRATE (UINT64_C(1) << 0)

typedef int tnd_isolation_step_fn(void *ctx, const struct tnd_json *request, struct tnd_buf *result,
				  struct tnd_error *err);

/** The ops table.  Every op is mandatory in v1. */
struct tnd_isolation_ops {
	uint32_t size;
	tnd_isolation_step_fn *provision; /**< create (or correct) role, schema/database, grants, realizing
					       request.state: login and writes on only when it is active */
	tnd_isolation_step_fn *observe;   /**< report what exists and any drift; changes nothing */
	tnd_isolation_step_fn *suspend;   /**< no login, and the tenant's open sessions ended */
	tnd_isolation_step_fn *resume;    /**< login again */
	tnd_isolation_step_fn *archive;   /**< no login, no writes, data kept */
	tnd_isolation_step_fn *destroy;   /**< drop every object of the tenant and its role */
};

#ifdef __cplusplus
}
#endif

#endif /* TENANCYD_ISOLATION_H */
