/*
 * conf_catalog_parse.c — the `regions` and `plans` sections of
 * tenancyd.conf: what each entry may contain, and the checks that span
 * entries (unique names, standby regions that exist, isolation plugins a
 * region names that plugins.isolation configures, plans whose default
 * residency some region serves, quotas within their maxima).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_catalog_parse.h"
#include "conf_ratelimit.h"
#include "util.h"

#define CATALOG_CAPACITY_MAX 1000000000
/* Quotas are counts and sizes; a billion of anything is a typo. */
#define CATALOG_QUOTA_MAX 1000000000

static const char *const catalog_region_keys[] = {
	"name", "residency", "enabled", "standby", "capacity", "isolation", "data_plane", NULL,
};
/* a region's `isolation` group: which isolation plugin serves each mode there */
static const char *const catalog_region_isolation_keys[] = { "shared", "dedicated", "hybrid", NULL };
static const char *const catalog_plan_keys[] = {
	"code", "description", "isolation", "default_isolation", "default_residency",
	"quotas", "max_quotas", "rate_limits", NULL,
};
static const char *const catalog_quota_keys[] = {
	"compute_units", "storage_gb", "events_per_minute", "concurrent_operations", NULL,
};

static bool catalog_region_name_valid(const char *s)
{
	return conf_name_valid(s, 63, CONF_CHARS_LOWER CONF_CHARS_DIGIT,
			       CONF_CHARS_LOWER CONF_CHARS_DIGIT "-");
}

static bool catalog_zone_valid(const char *s)
{
	return conf_name_valid(s, 32, CONF_CHARS_LOWER, CONF_CHARS_LOWER CONF_CHARS_DIGIT "-");
}

static bool catalog_plan_code_valid(const char *s)
{
	return conf_name_valid(s, 32, CONF_CHARS_LOWER, CONF_CHARS_LOWER CONF_CHARS_DIGIT "_-");
}

static bool catalog_isolation_plugin_configured(const struct tnd_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->plugins.n_isolation; i++)
		if (tnd_streq(conf->plugins.isolation[i].name, name))
			return true;
	return false;
}

/* The names in plugins.isolation, comma-separated, for error messages. */
static void catalog_isolation_plugin_names(const struct tnd_conf *conf, char *buf, size_t cap)
{
	size_t len = 0;

	tnd_strlcpy(buf, "none", cap);
	for (size_t i = 0; i < conf->plugins.n_isolation && len < cap; i++) {
		int n = snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", conf->plugins.isolation[i].name);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

/*
 * The optional `isolation` group of a region.  A mode without a plugin here
 * is not offered in the region; whether a tenant's plan allows it is
 * placement's question, not the file's, so nothing is cross-checked with
 * the plans.  The plugins section is parsed before the catalogue, so the
 * names can be checked now.
 */
static int catalog_parse_region_isolation(struct conf_reader *reader, config_setting_t *region_group,
					  const struct tnd_conf *conf, struct tnd_region_conf *region)
{
	char **slots[] = { &region->shared_plugin, &region->dedicated_plugin, &region->hybrid_plugin };
	config_setting_t *group = NULL;
	char path[256], names[512];
	int r;

	r = conf_get_aggregate(reader, region_group, "isolation", CONFIG_TYPE_GROUP, false, &group);
	if (r < 0 || group == NULL)
		return r;
	r = conf_check_keys(reader, group, catalog_region_isolation_keys);
	if (r < 0)
		return r;
	for (size_t i = 0; i < TND_ARRAY_SIZE(slots); i++) {
		const char *key = catalog_region_isolation_keys[i];
		config_setting_t *where;
		const char *name = NULL;

		r = conf_get_string(reader, group, key, false, &name);
		if (r < 0)
			return r;
		if (name == NULL)
			continue;
		where = config_setting_get_member(group, key);
		if (!catalog_isolation_plugin_configured(conf, name)) {
			catalog_isolation_plugin_names(conf, names, sizeof(names));
			return conf_fail(reader, where,
					 "'%s' of region '%s' names isolation plugin '%s', which plugins.isolation "
					 "does not configure (configured: %s)",
					 conf_setting_path(where, path, sizeof(path)), region->name, name, names);
		}
		*slots[i] = tnd_xstrdup(name);
	}
	return 0;
}

static int catalog_parse_region(struct conf_reader *reader, config_setting_t *group,
				const struct tnd_conf *conf, struct tnd_region_conf *region)
{
	const char *name = NULL, *residency = NULL, *standby = NULL;
	config_setting_t *where;
	char path[256];
	int r;

	r = conf_check_keys(reader, group, catalog_region_keys);
	if (r < 0)
		return r;
	r = conf_get_string(reader, group, "name", true, &name);
	if (r < 0)
		return r;
	if (!catalog_region_name_valid(name))
		return conf_fail(reader, config_setting_get_member(group, "name"),
				 "region name '%s' is invalid (want [a-z0-9][a-z0-9-]{0,62})", name);
	region->name = tnd_xstrdup(name);

	r = conf_get_string(reader, group, "residency", true, &residency);
	if (r < 0)
		return r;
	if (!catalog_zone_valid(residency))
		return conf_fail(reader, config_setting_get_member(group, "residency"),
				 "residency zone '%s' is invalid (want [a-z][a-z0-9-]{0,31})", residency);
	region->residency = tnd_xstrdup(residency);

	region->enabled = true;
	r = conf_get_bool(reader, group, "enabled", false, &region->enabled);
	if (r < 0)
		return r;

	r = conf_get_string(reader, group, "standby", false, &standby);
	if (r < 0)
		return r;
	if (standby) {
		/* Existence is checked once every region is known. */
		where = config_setting_get_member(group, "standby");
		if (!catalog_region_name_valid(standby))
			return conf_fail(reader, where, "'%s' is not a valid region name: '%s'",
					 conf_setting_path(where, path, sizeof(path)), standby);
		region->standby = tnd_xstrdup(standby);
	}

	region->capacity = 0;
	r = conf_get_int(reader, group, "capacity", false, 0, CATALOG_CAPACITY_MAX, &region->capacity);
	if (r < 0)
		return r;
	r = catalog_parse_region_isolation(reader, group, conf, region);
	if (r < 0)
		return r;
	return conf_get_json_object(reader, group, "data_plane", &region->data_plane);
}

static int catalog_parse_regions(struct conf_reader *reader, config_setting_t *root,
				 struct tnd_conf *conf)
{
	config_setting_t *list = NULL;
	int n, r;

	r = conf_get_aggregate(reader, root, "regions", CONFIG_TYPE_LIST, true, &list);
	if (r < 0)
		return r;
	n = config_setting_length(list);
	if (n == 0)
		return conf_fail(reader, list, "'regions' must define at least one region");
	conf->regions = tnd_xcalloc((size_t)n, sizeof(*conf->regions));

	for (int i = 0; i < n; i++) {
		config_setting_t *group = NULL;

		r = conf_list_group(reader, list, i, &group);
		if (r < 0)
			return r;
		/* Count it first: conf_catalog_free() must see a half-filled entry. */
		conf->n_regions++;
		r = catalog_parse_region(reader, group, conf, &conf->regions[i]);
		if (r < 0)
			return r;
		for (int j = 0; j < i; j++)
			if (strcmp(conf->regions[j].name, conf->regions[i].name) == 0)
				return conf_fail(reader, config_setting_get_member(group, "name"),
						 "duplicate region name '%s' (first defined at line %u)",
						 conf->regions[i].name,
						 config_setting_source_line(config_setting_get_elem(list, (unsigned)j)));
	}

	for (int i = 0; i < n; i++) {
		const struct tnd_region_conf *region = &conf->regions[i];
		config_setting_t *where;

		if (region->standby == NULL)
			continue;
		where = config_setting_get_member(config_setting_get_elem(list, (unsigned)i), "standby");
		if (strcmp(region->standby, region->name) == 0)
			return conf_fail(reader, where, "region '%s' cannot be its own standby",
					 region->name);
		if (conf_region(conf, region->standby) == NULL)
			return conf_fail(reader, where,
					 "standby region '%s' of region '%s' is not defined in 'regions'",
					 region->standby, region->name);
	}
	return 0;
}

static int catalog_parse_quotas(struct conf_reader *reader, config_setting_t *group,
				struct tnd_quotas *quotas)
{
	int r = conf_check_keys(reader, group, catalog_quota_keys);

	if (r >= 0)
		r = conf_get_int(reader, group, "compute_units", true, 1, CATALOG_QUOTA_MAX,
				 &quotas->compute_units);
	if (r >= 0)
		r = conf_get_int(reader, group, "storage_gb", true, 1, CATALOG_QUOTA_MAX,
				 &quotas->storage_gb);
	if (r >= 0)
		r = conf_get_int(reader, group, "events_per_minute", true, 1, CATALOG_QUOTA_MAX,
				 &quotas->events_per_minute);
	if (r >= 0)
		r = conf_get_int(reader, group, "concurrent_operations", true, 1, CATALOG_QUOTA_MAX,
				 &quotas->concurrent_operations);
	return r;
}

/* Each default quota must fit under its maximum, or no tenant of the plan
 * could ever be valid. */
static int catalog_check_quota_bounds(struct conf_reader *reader, config_setting_t *quotas_group,
				      const struct tnd_quotas *quotas, const struct tnd_quotas *max)
{
	const struct {
		const char *key;
		int64_t value, max;
	} pairs[] = {
		{ "compute_units", quotas->compute_units, max->compute_units },
		{ "storage_gb", quotas->storage_gb, max->storage_gb },
		{ "events_per_minute", quotas->events_per_minute, max->events_per_minute },
		{ "concurrent_operations", quotas->concurrent_operations, max->concurrent_operations },
	};
	char path[256];

	for (size_t i = 0; i < TND_ARRAY_SIZE(pairs); i++) {
		config_setting_t *where = config_setting_get_member(quotas_group, pairs[i].key);

		if (pairs[i].value > pairs[i].max)
			return conf_fail(reader, where, "'%s' is %lld, above max_quotas.%s (%lld)",
					 conf_setting_path(where, path, sizeof(path)),
					 (long long)pairs[i].value, pairs[i].key, (long long)pairs[i].max);
	}
	return 0;
}

static int catalog_parse_isolation(struct conf_reader *reader, config_setting_t *plan_group,
				   struct tnd_plan_conf *plan)
{
	config_setting_t *array = NULL, *where;
	const char *default_name = NULL;
	char path[256];
	int n, r;

	r = conf_get_aggregate(reader, plan_group, "isolation", CONFIG_TYPE_ARRAY, true, &array);
	if (r < 0)
		return r;
	n = config_setting_length(array);
	if (n == 0)
		return conf_fail(reader, array, "'%s' must name at least one isolation mode",
				 conf_setting_path(array, path, sizeof(path)));
	for (int i = 0; i < n; i++) {
		config_setting_t *element = config_setting_get_elem(array, (unsigned)i);
		const char *name = config_setting_get_string(element);
		unsigned bit = isolation_parse(name);

		if (name == NULL)
			return conf_fail(reader, element, "'%s' must be an array of strings",
					 conf_setting_path(array, path, sizeof(path)));
		if (bit == 0)
			return conf_fail(reader, element,
					 "'%s' lists unknown isolation mode '%s' (want shared, dedicated or hybrid)",
					 conf_setting_path(array, path, sizeof(path)), name);
		if (plan->isolation_modes & bit)
			return conf_fail(reader, element, "'%s' lists isolation mode '%s' twice",
					 conf_setting_path(array, path, sizeof(path)), name);
		plan->isolation_modes |= bit;
		if (i == 0)
			plan->default_isolation = bit;
	}

	/* Without default_isolation, the first mode listed is the default. */
	r = conf_get_string(reader, plan_group, "default_isolation", false, &default_name);
	if (r < 0 || default_name == NULL)
		return r;
	where = config_setting_get_member(plan_group, "default_isolation");
	plan->default_isolation = isolation_parse(default_name);
	if (plan->default_isolation == 0)
		return conf_fail(reader, where,
				 "'%s' is '%s', want shared, dedicated or hybrid",
				 conf_setting_path(where, path, sizeof(path)), default_name);
	if ((plan->isolation_modes & plan->default_isolation) == 0)
		return conf_fail(reader, where,
				 "default_isolation '%s' of plan '%s' is not in its isolation list",
				 default_name, plan->code);
	return 0;
}

/* A comma-separated list of the zones regions serve, for error messages. */
static void catalog_known_zones(const struct tnd_conf *conf, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < conf->n_regions && len < cap; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(conf->regions[i].residency, conf->regions[j].residency) == 0;
		if (!seen) {
			int n = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "",
					 conf->regions[i].residency);
			if (n < 0)
				break;
			len += (size_t)n;
		}
	}
}

static int catalog_parse_plan(struct conf_reader *reader, config_setting_t *group,
			      const struct tnd_conf *conf, struct tnd_plan_conf *plan)
{
	const char *code = NULL, *description = NULL, *residency = NULL;
	config_setting_t *quotas_group = NULL, *max_group = NULL;
	char zones[256];
	int r;

	r = conf_check_keys(reader, group, catalog_plan_keys);
	if (r < 0)
		return r;
	r = conf_get_string(reader, group, "code", true, &code);
	if (r < 0)
		return r;
	if (!catalog_plan_code_valid(code))
		return conf_fail(reader, config_setting_get_member(group, "code"),
				 "plan code '%s' is invalid (want [a-z][a-z0-9_-]{0,31})", code);
	plan->code = tnd_xstrdup(code);

	r = conf_get_string(reader, group, "description", false, &description);
	if (r < 0)
		return r;
	if (description)
		plan->description = tnd_xstrdup(description);

	r = catalog_parse_isolation(reader, group, plan);
	if (r < 0)
		return r;

	r = conf_get_string(reader, group, "default_residency", true, &residency);
	if (r < 0)
		return r;
	if (!conf_residency_known(conf, residency)) {
		catalog_known_zones(conf, zones, sizeof(zones));
		return conf_fail(reader, config_setting_get_member(group, "default_residency"),
				 "default_residency '%s' of plan '%s' is not the residency of any region (known: %s)",
				 residency, plan->code, zones);
	}
	plan->default_residency = tnd_xstrdup(residency);

	r = conf_get_aggregate(reader, group, "quotas", CONFIG_TYPE_GROUP, true, &quotas_group);
	if (r < 0)
		return r;
	r = catalog_parse_quotas(reader, quotas_group, &plan->quotas);
	if (r < 0)
		return r;
	/* Without max_quotas, a manifest may lower its quotas but never raise them. */
	plan->max_quotas = plan->quotas;
	r = conf_get_aggregate(reader, group, "max_quotas", CONFIG_TYPE_GROUP, false, &max_group);
	if (r < 0)
		return r;
	if (max_group) {
		r = catalog_parse_quotas(reader, max_group, &plan->max_quotas);
		if (r < 0)
			return r;
	}
	r = catalog_check_quota_bounds(reader, quotas_group, &plan->quotas, &plan->max_quotas);
	if (r < 0)
		return r;
	return conf_ratelimit_parse_plan(reader, group, conf, plan);
}

static int catalog_parse_plans(struct conf_reader *reader, config_setting_t *root,
			       struct tnd_conf *conf)
{
	config_setting_t *list = NULL;
	int n, r;

	r = conf_get_aggregate(reader, root, "plans", CONFIG_TYPE_LIST, true, &list);
	if (r < 0)
		return r;
	n = config_setting_length(list);
	if (n == 0)
		return conf_fail(reader, list, "'plans' must define at least one plan");
	conf->plans = tnd_xcalloc((size_t)n, sizeof(*conf->plans));

	for (int i = 0; i < n; i++) {
		config_setting_t *group = NULL;

		r = conf_list_group(reader, list, i, &group);
		if (r < 0)
			return r;
		conf->n_plans++;
		r = catalog_parse_plan(reader, group, conf, &conf->plans[i]);
		if (r < 0)
			return r;
		for (int j = 0; j < i; j++)
			if (strcmp(conf->plans[j].code, conf->plans[i].code) == 0)
				return conf_fail(reader, config_setting_get_member(group, "code"),
						 "duplicate plan code '%s' (first defined at line %u)",
						 conf->plans[i].code,
						 config_setting_source_line(config_setting_get_elem(list, (unsigned)j)));
	}
	return 0;
}

int conf_catalog_parse(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf)
{
	/* Regions first: plans refer to the residency zones they define. */
	int r = catalog_parse_regions(reader, root, conf);

	if (r < 0)
		return r;
	return catalog_parse_plans(reader, root, conf);
}

void conf_catalog_free(struct tnd_conf *conf)
{
	for (size_t i = 0; i < conf->n_regions; i++) {
		free(conf->regions[i].name);
		free(conf->regions[i].residency);
		free(conf->regions[i].standby);
		free(conf->regions[i].shared_plugin);
		free(conf->regions[i].dedicated_plugin);
		free(conf->regions[i].hybrid_plugin);
		json_decref(conf->regions[i].data_plane);
	}
	free(conf->regions);
	for (size_t i = 0; i < conf->n_plans; i++) {
		free(conf->plans[i].code);
		free(conf->plans[i].description);
		free(conf->plans[i].default_residency);
	}
	free(conf->plans);
	conf->regions = NULL;
	conf->plans = NULL;
	conf->n_regions = conf->n_plans = 0;
}
