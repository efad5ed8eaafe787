/*
 * conf_catalog.c — lookups in a loaded config's catalogue: plans, regions,
 * residency zones and isolation mode names.  Kept apart from conf.c (which
 * parses and checks the file) because validation, placement and the API
 * only ever need these read-only queries.
 */
#include "autoconfig.h"

#include <string.h>

#include "conf.h"
#include "util.h"

static const struct {
	unsigned bit;
	const char *name;
} conf_isolation_names[] = {
	{ TND_ISOLATION_SHARED, "shared" },
	{ TND_ISOLATION_DEDICATED, "dedicated" },
	{ TND_ISOLATION_HYBRID, "hybrid" },
};

unsigned isolation_parse(const char *name)
{
	for (size_t i = 0; i < TND_ARRAY_SIZE(conf_isolation_names); i++)
		if (tnd_streq(name, conf_isolation_names[i].name))
			return conf_isolation_names[i].bit;
	return 0;
}

const char *isolation_name(unsigned bit)
{
	for (size_t i = 0; i < TND_ARRAY_SIZE(conf_isolation_names); i++)
		if (bit == conf_isolation_names[i].bit)
			return conf_isolation_names[i].name;
	return NULL;
}

const struct tnd_plan_conf *conf_plan(const struct tnd_conf *conf, const char *code)
{
	for (size_t i = 0; conf && code && i < conf->n_plans; i++)
		if (strcmp(conf->plans[i].code, code) == 0)
			return &conf->plans[i];
	return NULL;
}

const struct tnd_region_conf *conf_region(const struct tnd_conf *conf, const char *name)
{
	for (size_t i = 0; conf && name && i < conf->n_regions; i++)
		if (strcmp(conf->regions[i].name, name) == 0)
			return &conf->regions[i];
	return NULL;
}

bool conf_residency_known(const struct tnd_conf *conf, const char *zone)
{
	for (size_t i = 0; conf && zone && i < conf->n_regions; i++)
		if (strcmp(conf->regions[i].residency, zone) == 0)
			return true;
	return false;
}

const char *conf_region_isolation_plugin(const struct tnd_region_conf *region, unsigned mode)
{
	if (region == NULL)
		return NULL;
	switch (mode) {
	case TND_ISOLATION_SHARED: return region->shared_plugin;
	case TND_ISOLATION_DEDICATED: return region->dedicated_plugin;
	case TND_ISOLATION_HYBRID: return region->hybrid_plugin;
	default: return NULL;
	}
}

bool conf_reconcile_enabled(const struct tnd_conf *conf)
{
	return conf != NULL && conf->plugins.n_isolation > 0;
}
