/*
 * manifest_fixture.c — the catalogue and helpers described in manifest_fixture.h.
 */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_fixture.h"
#include "util.h"

static void fixture_conf_add_region(struct tnd_conf *conf, const char *name, const char *residency)
{
	struct tnd_region_conf *region = &conf->regions[conf->n_regions++];

	*region = (struct tnd_region_conf){
		.name = tnd_xstrdup(name),
		.residency = tnd_xstrdup(residency),
		.enabled = true,
		.data_plane = json_object(),
	};
}

static void fixture_conf_add_plan(struct tnd_conf *conf, const char *code, unsigned modes, unsigned isolation,
			      const char *residency, struct tnd_quotas max_quotas)
{
	struct tnd_plan_conf *plan = &conf->plans[conf->n_plans++];

	*plan = (struct tnd_plan_conf){
		.code = tnd_xstrdup(code),
		.isolation_modes = modes,
		.default_isolation = isolation,
		.default_residency = tnd_xstrdup(residency),
		.quotas = { 1, 1, 10, 1 },
		.max_quotas = max_quotas,
	};
}

struct tnd_conf *fixture_conf_new(void)
{
	struct tnd_conf *conf = tnd_xcalloc(1, sizeof(*conf));

	conf->regions = tnd_xcalloc(5, sizeof(*conf->regions));
	fixture_conf_add_region(conf, "eu-west-1", "eu");
	fixture_conf_add_region(conf, "eu-central-1", "eu");
	fixture_conf_add_region(conf, "eu-north-1", "eu");
	fixture_conf_add_region(conf, "us-east-1", "us");
	fixture_conf_add_region(conf, "us-west-2", "us");

	conf->plans = tnd_xcalloc(3, sizeof(*conf->plans));
	fixture_conf_add_plan(conf, "free", TND_ISOLATION_SHARED, TND_ISOLATION_SHARED, "eu",
			  (struct tnd_quotas){ 2, 10, 100, 1 });
	fixture_conf_add_plan(conf, "business", TND_ISOLATION_SHARED | TND_ISOLATION_DEDICATED,
			  TND_ISOLATION_SHARED, "eu", (struct tnd_quotas){ 16, 100, 1000, 4 });
	fixture_conf_add_plan(conf, "enterprise",
			  TND_ISOLATION_SHARED | TND_ISOLATION_DEDICATED | TND_ISOLATION_HYBRID,
			  TND_ISOLATION_DEDICATED, "us", (struct tnd_quotas){ 64, 1000, 10000, 16 });
	return conf;
}

void fixture_conf_free(struct tnd_conf *conf)
{
	if (conf == NULL)
		return;
	for (size_t i = 0; i < conf->n_regions; i++) {
		free(conf->regions[i].name);
		free(conf->regions[i].residency);
		json_decref(conf->regions[i].data_plane);
	}
	for (size_t i = 0; i < conf->n_plans; i++) {
		free(conf->plans[i].code);
		free(conf->plans[i].default_residency);
	}
	free(conf->regions);
	free(conf->plans);
	free(conf);
}

struct tnd_region_conf *fixture_conf_region(struct tnd_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->n_regions; i++)
		if (strcmp(conf->regions[i].name, name) == 0)
			return &conf->regions[i];
	abort();
}

bool fixture_has_error(const json_t *errors, const char *path, const char *reason_part)
{
	size_t i;
	json_t *e;
	char *dump;

	json_array_foreach (errors, i, e) {
		const char *p = json_string_value(json_object_get(e, "path"));
		const char *reason = json_string_value(json_object_get(e, "reason"));

		if (p && reason && strcmp(p, path) == 0 && strstr(reason, reason_part))
			return true;
	}
	dump = json_dumps(errors, JSON_INDENT(2));
	fprintf(stderr, "no error {path: \"%s\", reason: ~\"%s\"} among:\n%s\n", path, reason_part,
		dump ? dump : "(null)");
	free(dump);
	return false;
}
