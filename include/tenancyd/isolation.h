/*
 * tenancyd/isolation.h — the isolation strategy ops table (plugin kind ISOLATION).
 *
 * An isolation plugin turns a tenant's placement into real resources on a
 * data plane (a schema, a database, a login role) and reports what exists.
 * Workers call these ops while executing workflow steps; every op must be
 * idempotent, because a step may be retried after a crash at any point:
 * provisioning something that already exists in the wanted shape succeeds,
 * deleting something already gone succeeds.
 *
 * Request (a JSON document, read with host->json_*):
 *   { "tenantId": "acme-corp", "version": 3, "isolation": "shared",
 *     "region": "eu-west-1",
 *     "dataPlane": { ...the region's data plane settings from tenancyd.conf... },
 *     "spec": { ...the tenant's normalized spec... },
 *     "resources": { ...what the last successful step reported, or {}... } }
 *
 * Result (JSON text the plugin appends to @result):
 *   { "resources": { "database": "...", "schema": "...", "role": "..." },
 *     "credentials": { "username": "...", "password": "..." },   (provision only, optional)
 *     "observed": { "exists": true, "login": true, "drift": ["..."] } }  (observe)
 *
 * Return 0 on success or a negative errno; -EAGAIN marks a transient failure
 * worth retrying, anything else is still retried by the orchestrator's
 * backoff policy but reported as it is.
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
	tnd_isolation_step_fn *provision; /**< create role, schema/database, grants */
	tnd_isolation_step_fn *observe;   /**< report what exists and any drift */
	tnd_isolation_step_fn *suspend;   /**< NOLOGIN and end the tenant's sessions */
	tnd_isolation_step_fn *resume;    /**< LOGIN again */
	tnd_isolation_step_fn *archive;   /**< no login, no writes, data kept */
	tnd_isolation_step_fn *destroy;   /**< drop every object and the role */
};

#ifdef __cplusplus
}
#endif

#endif /* TENANCYD_ISOLATION_H */
