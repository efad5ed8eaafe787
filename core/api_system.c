/*
 * api_system.c — the routes about the daemon rather than tenants: liveness,
 * readiness, metrics, and the catalogue (plans and regions) from the config.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "conf.h"
#include "host.h"
#include "metrics.h"
#include "region_usage.h"
#include "registry.h"
#include "util.h"

enum MHD_Result api_healthz(struct api_request *req)
{
	return api_send_json(req, 200, json_pack("{s:s}", "status", "ok"), NULL, NULL);
}

enum MHD_Result api_readyz(struct api_request *req)
{
	struct tnd_error err = { "" };

	if (atomic_load(&req->server->draining))
		return api_fail(req, 503, "not-ready", "Not ready", "shutting down");
	if (registry_ping(req->server->registry, &err) < 0)
		return api_fail(req, 503, "not-ready", "Not ready", "the registry does not answer");
	return api_send_json(req, 200, json_pack("{s:s}", "status", "ready"), NULL, NULL);
}

enum MHD_Result api_metrics(struct api_request *req)
{
	struct tnd_buf out;
	enum MHD_Result r;

	tnd_buf_init(&out);
	metrics_render(&out);
	r = api_send_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "", out.len);
	tnd_buf_free(&out);
	return r;
}

static json_t *api_quotas_json(const struct tnd_quotas *q)
{
	return json_pack("{s:I,s:I,s:I,s:I}", "computeUnits", (json_int_t)q->compute_units, "storageGb",
			 (json_int_t)q->storage_gb, "eventsPerMinute", (json_int_t)q->events_per_minute,
			 "concurrentOperations", (json_int_t)q->concurrent_operations);
}

enum MHD_Result api_plans(struct api_request *req)
{
	json_t *items = json_array();

	for (size_t i = 0; i < req->conf->n_plans; i++) {
		const struct tnd_plan_conf *plan = &req->conf->plans[i];
		json_t *modes = json_array();
		json_t *item;

		for (unsigned bit = 1; bit <= TND_ISOLATION_HYBRID; bit <<= 1)
			if (plan->isolation_modes & bit)
				json_array_append_new(modes, json_string(isolation_name(bit)));
		item = json_pack("{s:s,s:s?,s:o,s:s,s:s,s:o,s:o}", "code", plan->code, "description",
				 plan->description, "isolation", modes, "defaultIsolation",
				 isolation_name(plan->default_isolation), "defaultResidency", plan->default_residency,
				 "quotas", api_quotas_json(&plan->quotas), "maxQuotas", api_quotas_json(&plan->max_quotas));
		/* what the plan's tenants may call per window; 0: unlimited */
		json_object_set_new(item, "rateLimits",
				    json_pack("{s:I,s:I,s:I}", "window", (json_int_t)plan->rate_limits.window_s, "read",
					      (json_int_t)plan->rate_limits.read, "write",
					      (json_int_t)plan->rate_limits.write));
		json_array_append_new(items, item);
	}
	return api_send_json(req, 200, json_pack("{s:o}", "items", items), NULL, NULL);
}

enum MHD_Result api_regions(struct api_request *req)
{
	json_t *items = json_array();

	/* data_plane settings are not shown: they name hosts and secret files */
	for (size_t i = 0; i < req->conf->n_regions; i++) {
		const struct tnd_region_conf *region = &req->conf->regions[i];
		json_array_append_new(items, json_pack("{s:s,s:s,s:b,s:s?,s:I,s:I}", "name", region->name,
						       "residency", region->residency, "enabled", region->enabled,
						       "standby", region->standby, "capacity",
						       (json_int_t)region->capacity, "tenants",
						       (json_int_t)region_usage_count(region->name)));
	}
	return api_send_json(req, 200, json_pack("{s:o}", "items", items), NULL, NULL);
}
