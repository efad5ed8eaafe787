/*
 * gates_cost.c — what the governance gates cost per apply, measured on the
 * daemon's own code: the placement resolver with the region-capacity
 * reservation, the policy gate asking the `rules` plugin (loaded through
 * the real loader) with a realistic rule file, and the quota checks of an
 * apply (effective quotas, concurrent operations, the plan's budget).  Each apply's manifest is parsed, validated and normalized before
 * the clock starts; what is timed is what the tenant service runs on top.
 *
 *   bench/gates_cost --config FILE --plugin-dir DIR --rules FILE [--applies N]
 *
 * Prints "key value" lines (bench/run reads them): p50/p99 in µs of each
 * gate and of all of them together.
 */
#include "autoconfig.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "manifest.h"
#include "placement.h"
#include "plugin_loader.h"
#include "policy_gate.h"
#include "quota_inflight.h"
#include "quota_usage.h"
#include "quotas.h"
#include "region_usage.h"
#include "util.h"

static int64_t gates_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int gates_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static void gates_print(const char *name, int64_t *ns, size_t n)
{
	qsort(ns, n, sizeof(*ns), gates_cmp);
	printf("%s_p50_us %.2f\n", name, (double)ns[n / 2] / 1000.0);
	printf("%s_p99_us %.2f\n", name, (double)ns[(n * 99) / 100] / 1000.0);
}

/* A normalized manifest of the kind bench/apply_load sends, varied. */
static json_t *gates_manifest(const struct tnd_conf *conf, size_t i)
{
	static const char *const plans[] = { "business", "enterprise", "free" };
	static const char *const zones[] = { "eu", "us", "eu", "apac" };
	const char *plan = plans[i % TND_ARRAY_SIZE(plans)];
	char text[640];
	json_t *doc, *errors = json_array(), *norm;

	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"gate-%zu\","
		 "\"labels\":{\"team\":\"t%zu\",\"env\":\"prod\"}},\"spec\":{\"plan\":\"%s\",\"state\":\"active\","
		 "\"placement\":{\"residency\":\"%s\"}%s}}",
		 i, i % 17, plan, strcmp(plan, "free") == 0 ? "eu" : zones[i % TND_ARRAY_SIZE(zones)],
		 strcmp(plan, "free") == 0 ? "" : ",\"quotas\":{\"computeUnits\":2,\"storageGb\":10}");
	doc = json_loads(text, 0, NULL);
	if (doc == NULL || manifest_validate(doc, conf, errors) < 0) {
		char *why = json_dumps(errors, JSON_COMPACT);
		fprintf(stderr, "gates_cost: manifest %zu invalid: %s\n", i, why ? why : "?");
		exit(1);
	}
	norm = manifest_normalize(doc, conf);
	json_decref(doc);
	json_decref(errors);
	return norm;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "plugin-dir", required_argument, NULL, 'p' },
		{ "rules", required_argument, NULL, 'r' },
		{ "applies", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *plugin_dir = NULL, *rules = NULL;
	size_t n = 20000;
	struct tnd_conf *conf = NULL;
	struct tnd_error err = { "" };
	struct plugin_set set = { 0 };
	struct plugin_load_options opts = { 0 };
	struct tnd_loaded_plugin *plugin = NULL;
	int64_t *placement_ns, *policy_ns, *quota_ns, *total_ns;
	json_t *settings;
	size_t denied = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'p': plugin_dir = optarg; break;
		case 'r': rules = optarg; break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (config == NULL || plugin_dir == NULL || rules == NULL || n < 100) {
		fprintf(stderr, "usage: gates_cost --config FILE --plugin-dir DIR --rules FILE [--applies N>=100]\n");
		return 2;
	}
	if (conf_load(config, &conf, &err) < 0) {
		fprintf(stderr, "gates_cost: %s\n", err.message);
		return 1;
	}
	conf_current_replace(conf_ref(conf));
	opts.dir = plugin_dir;
	opts.state_dir = "/tmp";
	settings = json_pack("{s:s}", "rules_file", rules);
	if (plugin_load(&opts, &set, TND_PLUGIN_POLICY, "rules", NULL, settings, &plugin, &err) != 0) {
		fprintf(stderr, "gates_cost: cannot load the rules plugin: %s\n", err.message);
		return 1;
	}
	json_decref(settings);
	policy_gate_install(plugin);

	placement_ns = tnd_xcalloc(n, sizeof(*placement_ns));
	policy_ns = tnd_xcalloc(n, sizeof(*policy_ns));
	quota_ns = tnd_xcalloc(n, sizeof(*quota_ns));
	total_ns = tnd_xcalloc(n, sizeof(*total_ns));
	for (size_t i = 0; i < n; i++) {
		json_t *norm = gates_manifest(conf, i), *placement = NULL, *errors = json_array();
		const json_t *spec = json_object_get(norm, "spec");
		struct policy_decision decision = { 0 };
		struct policy_subject subject = { 0 };
		const struct tnd_region_conf *region;
		int64_t t0, t1, t2, t3;

		t0 = gates_now_ns();
		/* placement: resolve, then reserve the region's slot (settled as
		 * the commit would) */
		if (placement_resolve(conf, norm, &placement, errors) < 0) {
			fprintf(stderr, "gates_cost: placement of manifest %zu failed\n", i);
			return 1;
		}
		region = conf_region(conf, json_string_value(json_object_get(placement, "region")));
		if (region == NULL || !region_usage_reserve(region))
			return 1;
		region_usage_settle(region->name, true);
		t1 = gates_now_ns();

		/* policy: the §9 request through the rules plugin, as an operator
		 * (admins short-circuit on the first rule) */
		subject.action = "tenant.apply";
		subject.actor_id = "bench";
		subject.actor_role = "operator";
		subject.tenant_id = json_string_value(json_object_get(json_object_get(norm, "metadata"), "id"));
		subject.manifest = norm;
		subject.placement = placement;
		subject.plan = json_string_value(json_object_get(spec, "plan"));
		subject.request_id = "00000000-0000-4000-8000-000000000000";
		if (policy_gate_check(&subject, POLICY_GATE_DEFAULT_TIMEOUT_MS, &decision) == POLICY_DENY)
			denied++;
		policy_decision_clear(&decision);
		t2 = gates_now_ns();

		/* quotas: the effective quotas (plan defaults under the manifest's),
		 * the concurrent-operations slot, and the plan's compute-unit
		 * budget reserved and settled as a commit would (the registry
		 * reads of overrides and quota history are not in this figure) */
		{
			const struct tnd_plan_conf *plan = conf_plan(conf, subject.plan);
			struct tnd_quotas q;
			int64_t used = 0, in_flight = 0;

			quotas_from_manifest(plan, norm, &q);
			if (!quota_inflight_enter(subject.tenant_id, NULL, q.concurrent_operations, &in_flight))
				denied++;
			else
				quota_inflight_leave(subject.tenant_id, NULL);
			if (quota_usage_reserve(plan, q.compute_units, &used))
				quota_usage_settle(plan->code, q.compute_units, true);
			else
				denied++;
		}
		t3 = gates_now_ns();

		placement_ns[i] = t1 - t0;
		policy_ns[i] = t2 - t1;
		quota_ns[i] = t3 - t2;
		total_ns[i] = t3 - t0;
		json_decref(errors);
		json_decref(placement);
		json_decref(norm);
	}

	printf("applies %zu\n", n);
	printf("policy_denied %zu\n", denied);
	gates_print("placement", placement_ns, n);
	gates_print("policy", policy_ns, n);
	gates_print("quota", quota_ns, n);
	gates_print("gates", total_ns, n);

	free(placement_ns);
	free(policy_ns);
	free(quota_ns);
	free(total_ns);
	policy_gate_install(NULL);
	plugin_set_clear(&set);
	region_usage_reset();
	quota_usage_reset();
	conf_current_replace(NULL);
	conf_unref(conf);
	return 0;
}
