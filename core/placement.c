/*
 * placement.c — where a tenant lives: one region (and its standby) within
 * the tenant's residency zone, and its isolation mode.
 *
 * Two kinds of rule meet here.  Static rules (a region outside the
 * residency zone, an isolation mode the plan does not allow) are mistakes
 * in the manifest and always fail.  Availability (a disabled region, later
 * a full one) is the operator's doing and changes over time, so the
 * resolver falls back from the preferred region to the next candidate and
 * fails only when no candidate is left, naming the rule that emptied the
 * list.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "manifest.h"
#include "placement.h"
#include "region_usage.h"
#include "util.h"

struct placement_state {
	const struct tnd_conf *conf;
	json_t *errors;
	size_t n_problems;
};

#define placement_problem(st, path, ...)                                   \
	do {                                                               \
		manifest_error_add((st)->errors, (path), __VA_ARGS__);     \
		(st)->n_problems++;                                        \
	} while (0)

/*
 * Region capacity (tnd_region_conf.capacity, 0 = unlimited) against the
 * tenants counted there, reservations included.  The check is advisory:
 * the tenant service reserves the chosen region's slot before it commits,
 * and resolves again if another create took it meanwhile.
 */
static bool placement_region_has_capacity(const struct tnd_region_conf *region)
{
	return region_usage_has_room(region);
}

/* A named region must exist and lie in @zone; reports at @path. */
static const struct tnd_region_conf *placement_region_in_zone(struct placement_state *st, const char *path,
							       const char *name, const char *zone)
{
	const struct tnd_region_conf *region = conf_region(st->conf, name);

	if (region == NULL) {
		placement_problem(st, path, "unknown region '%s'", name);
		return NULL;
	}
	if (strcmp(region->residency, zone) != 0) {
		placement_problem(st, path, "region %s is in residency zone %s, not %s", region->name,
				  region->residency, zone);
		return NULL;
	}
	return region;
}

/* Why none of @regions can take the tenant: "eu-west-1 is disabled, ...". */
static char *placement_refusals(struct placement_state *st, const struct tnd_region_conf **regions, size_t n,
				const struct tnd_region_conf *standby);

/* The regions to choose from, in preference order: allowedRegions as given,
 * or every region of the zone in config order.  Caller frees the array. */
static const struct tnd_region_conf **placement_candidates(struct placement_state *st, const json_t *allowed,
							   const char *zone, size_t *ret_n)
{
	const struct tnd_region_conf **regions = tnd_xcalloc(st->conf->n_regions + json_array_size(allowed),
							     sizeof(*regions));
	size_t n = 0;

	if (allowed) {
		for (size_t i = 0; i < json_array_size(allowed); i++) {
			_cleanup_free_ char *path = tnd_xasprintf("spec.placement.allowedRegions[%zu]", i);
			const char *name = json_string_value(json_array_get(allowed, i));
			const struct tnd_region_conf *region =
				name ? placement_region_in_zone(st, path, name, zone) : NULL;

			if (region)
				regions[n++] = region;
		}
	} else {
		for (size_t i = 0; i < st->conf->n_regions; i++)
			if (strcmp(st->conf->regions[i].residency, zone) == 0)
				regions[n++] = &st->conf->regions[i];
	}
	*ret_n = n;
	return regions;
}

/* Why @region cannot host the tenant now, or NULL if it can. */
static const char *placement_unavailable(struct placement_state *st, const struct tnd_region_conf *region,
					 const struct tnd_region_conf *standby)
{
	if (!region->enabled)
		return "is disabled";
	if (!placement_region_has_capacity(region))
		return "is at capacity";
	/* a standby that is also the primary protects nothing */
	if (region == standby)
		return "is the standby region";
	return NULL;
}

static char *placement_refusals(struct placement_state *st, const struct tnd_region_conf **regions, size_t n,
				const struct tnd_region_conf *standby)
{
	char *list = tnd_xstrdup("");

	for (size_t i = 0; i < n; i++) {
		char *next = tnd_xasprintf("%s%s%s %s", list, i ? ", " : "", regions[i]->name,
					   placement_unavailable(st, regions[i], standby));

		free(list);
		list = next;
	}
	return list;
}

static const struct tnd_region_conf *placement_choose(struct placement_state *st, const json_t *placement,
						      const char *zone,
						      const struct tnd_region_conf *standby)
{
	const json_t *allowed = json_object_get(placement, "allowedRegions");
	const char *preferred_name = json_string_value(json_object_get(placement, "preferredRegion"));
	const struct tnd_region_conf *preferred = NULL, *chosen = NULL, **candidates;
	_cleanup_free_ char *names = NULL;
	size_t n;

	if (preferred_name)
		preferred = placement_region_in_zone(st, "spec.placement.preferredRegion", preferred_name, zone);
	candidates = placement_candidates(st, json_is_array(allowed) ? allowed : NULL, zone, &n);
	if (st->n_problems > 0) {
		free(candidates);
		return NULL;
	}

	if (preferred && placement_unavailable(st, preferred, standby) == NULL)
		chosen = preferred;
	for (size_t i = 0; chosen == NULL && i < n; i++)
		if (placement_unavailable(st, candidates[i], standby) == NULL)
			chosen = candidates[i];

	if (chosen == NULL) {
		names = placement_refusals(st, candidates, n, standby);
		if (preferred)
			placement_problem(st, "spec.placement.preferredRegion", "region %s %s", preferred->name,
					  placement_unavailable(st, preferred, standby));
		if (n == 0)
			placement_problem(st, "spec.placement.residency", "no region in residency zone %s", zone);
		else
			placement_problem(st,
					  json_is_array(allowed) ? "spec.placement.allowedRegions"
								 : "spec.placement.residency",
					  "no region in residency zone %s can take the tenant: %s", zone, names);
	}
	free(candidates);
	return chosen;
}

int placement_resolve(const struct tnd_conf *conf, const json_t *manifest, json_t **ret_placement,
		      json_t *errors)
{
	struct placement_state st = { .conf = conf, .errors = errors };
	const json_t *spec = json_object_get(manifest, "spec");
	const json_t *placement = json_object_get(spec, "placement");
	const char *zone = json_string_value(json_object_get(placement, "residency"));
	const char *isolation = json_string_value(json_object_get(spec, "isolation"));
	const char *standby_name = json_string_value(json_object_get(placement, "standbyRegion"));
	const struct tnd_plan_conf *plan = conf_plan(conf, json_string_value(json_object_get(spec, "plan")));
	const struct tnd_region_conf *standby = NULL, *region;
	json_t *result;

	if (conf == NULL || plan == NULL || zone == NULL || isolation == NULL) {
		placement_problem(&st, "", "placement needs a valid, normalized manifest");
		return -EINVAL;
	}
	if (!(isolation_parse(isolation) & plan->isolation_modes))
		placement_problem(&st, "spec.isolation", "isolation %s is not allowed by plan %s", isolation,
				  plan->code);
	if (standby_name)
		standby = placement_region_in_zone(&st, "spec.placement.standbyRegion", standby_name, zone);
	if (st.n_problems > 0)
		return -EINVAL;

	region = placement_choose(&st, placement, zone, standby);
	if (region == NULL)
		return -EINVAL;

	result = json_pack("{s:s, s:s, s:s}", "region", region->name, "isolation", isolation, "residency", zone);
	if (standby)
		json_object_set_new(result, "standbyRegion", json_string(standby->name));
	*ret_placement = result;
	return 0;
}
