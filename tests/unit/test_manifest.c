/*
 * test_manifest.c — validating and normalizing manifests: every schema and
 * catalogue rule with the exact path it reports, collection of several
 * problems at once, server-owned and unknown fields, wrong types, and the
 * canonical form (defaults, fixed order, YAML and JSON agreeing byte for
 * byte).  Parsing itself is covered by test_manifest_parse.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"
#include "manifest_fixture.h"
#include "util.h"

static struct tnd_conf *conf;

static const char base_json[] =
	"{\"apiVersion\": \"tenancy/v1\", \"kind\": \"Tenant\","
	" \"metadata\": {\"id\": \"acme-corp\", \"displayName\": \"Acme Corp\","
	"               \"labels\": {\"tier\": \"gold\", \"env\": \"prod\"}},"
	" \"spec\": {\"plan\": \"business\", \"isolation\": \"dedicated\", \"state\": \"active\","
	"          \"placement\": {\"residency\": \"eu\", \"allowedRegions\": [\"eu-west-1\", \"eu-central-1\"],"
	"                         \"preferredRegion\": \"eu-west-1\", \"standbyRegion\": \"eu-central-1\"},"
	"          \"quotas\": {\"computeUnits\": 4, \"storageGb\": 50, \"eventsPerMinute\": 600,"
	"                     \"concurrentOperations\": 2}}}";

/* The same tenant as base_json, written the way a person writes YAML. */
static const char base_yaml[] =
	"apiVersion: tenancy/v1\n"
	"kind: Tenant\n"
	"metadata:\n"
	"  labels:\n"
	"    env: prod   # order of labels does not matter\n"
	"    tier: gold\n"
	"  displayName: \"Acme Corp\"\n"
	"  id: acme-corp\n"
	"spec:\n"
	"  quotas: {storageGb: 50, computeUnits: 4, concurrentOperations: 2, eventsPerMinute: 600}\n"
	"  state: active\n"
	"  placement:\n"
	"    standbyRegion: eu-central-1\n"
	"    allowedRegions:\n"
	"      - eu-west-1\n"
	"      - eu-central-1\n"
	"    preferredRegion: 'eu-west-1'\n"
	"    residency: eu\n"
	"  isolation: dedicated\n"
	"  plan: business\n";

static json_t *parse(const char *text, enum manifest_format format)
{
	json_t *errors = json_array(), *doc = NULL;

	assert_int_equal(manifest_parse(text, strlen(text), format, NULL, &doc, errors), 0);
	json_decref(errors);
	return doc;
}

/* Replace (or with @json NULL, remove) the member at dotted @path. */
static void set_path(json_t *doc, const char *path, const char *json)
{
	char *copy = tnd_xstrdup(path), *name = copy, *dot;
	json_t *obj = doc;

	while ((dot = strchr(name, '.')) != NULL) {
		*dot = '\0';
		if (!json_is_object(json_object_get(obj, name)))
			json_object_set_new(obj, name, json_object());
		obj = json_object_get(obj, name);
		name = dot + 1;
	}
	if (json)
		json_object_set_new(obj, name, json_loads(json, JSON_DECODE_ANY, NULL));
	else
		json_object_del(obj, name);
	free(copy);
}

static json_t *validate_errors(const json_t *doc)
{
	json_t *errors = json_array();
	int r = manifest_validate(doc, conf, errors);

	assert_int_equal(r, json_array_size(errors) ? -EINVAL : 0);
	return errors;
}

static int setup(void **state)
{
	conf = fixture_conf_new();
	return 0;
}

static int teardown(void **state)
{
	fixture_conf_free(conf);
	return 0;
}

static void test_ids_and_labels(void **state)
{
	assert_true(manifest_tenant_id_valid("abc"));
	assert_true(manifest_tenant_id_valid("acme-corp-2"));
	assert_true(manifest_tenant_id_valid("a234567890123456789012345678901234567890"));
	assert_false(manifest_tenant_id_valid("a2345678901234567890123456789012345678901"));
	assert_false(manifest_tenant_id_valid("ab"));
	assert_false(manifest_tenant_id_valid("1abc"));
	assert_false(manifest_tenant_id_valid("-abc"));
	assert_false(manifest_tenant_id_valid("abc-"));
	assert_false(manifest_tenant_id_valid("Abc"));
	assert_false(manifest_tenant_id_valid("ab_c"));
	assert_false(manifest_tenant_id_valid(""));
	assert_false(manifest_tenant_id_valid(NULL));

	assert_true(manifest_label_valid("a"));
	assert_true(manifest_label_valid("Tier.v1_x-Y"));
	assert_true(manifest_label_valid("123456789012345678901234567890123456789012345678901234567890123"));
	assert_false(manifest_label_valid("1234567890123456789012345678901234567890123456789012345678901234"));
	assert_false(manifest_label_valid(""));
	assert_false(manifest_label_valid("a b"));
	assert_false(manifest_label_valid("a/b"));
	assert_false(manifest_label_valid("\xc3\xa9"));
	assert_false(manifest_label_valid(NULL));
}

static void test_valid(void **state)
{
	json_t *doc = parse(base_json, MANIFEST_FORMAT_JSON), *errors = validate_errors(doc);

	assert_int_equal(json_array_size(errors), 0);
	/* the verdict does not depend on having an error array */
	assert_int_equal(manifest_validate(doc, conf, NULL), 0);
	json_decref(errors);
	json_decref(doc);
}

struct validation_case {
	const char *set, *value;    /* change to base_json (value NULL: remove) */
	const char *set2, *value2;  /* optional second change */
	const char *path, *reason;  /* the expected problem */
	size_t count;               /* problems expected in all */
};

static const struct validation_case validation_cases[] = {
	/* top level */
	{ "apiVersion", "\"tenancy/v2\"", NULL, NULL, "apiVersion", "unsupported apiVersion 'tenancy/v2'", 1 },
	{ "apiVersion", NULL, NULL, NULL, "apiVersion", "required field", 1 },
	{ "kind", "\"Tenants\"", NULL, NULL, "kind", "unsupported kind 'Tenants'; expected Tenant", 1 },
	{ "kind", "1", NULL, NULL, "kind", "expected string", 1 },
	{ "metadata", NULL, NULL, NULL, "metadata", "required field", 1 },
	{ "metadata", "[]", NULL, NULL, "metadata", "expected object", 1 },
	{ "spec", NULL, NULL, NULL, "spec", "required field", 1 },
	{ "spec", "\"x\"", NULL, NULL, "spec", "expected object", 1 },
	{ "status", "{\"phase\": \"Active\"}", NULL, NULL, "status", "server-owned field; remove it", 1 },
	{ "extra", "1", NULL, NULL, "extra", "unknown field", 1 },
	/* metadata */
	{ "metadata.id", NULL, NULL, NULL, "metadata.id", "required field", 1 },
	{ "metadata.id", "\"Acme\"", NULL, NULL, "metadata.id", "invalid tenant id 'Acme'", 1 },
	{ "metadata.id", "\"ab\"", NULL, NULL, "metadata.id", "invalid tenant id", 1 },
	{ "metadata.id", "\"acme-\"", NULL, NULL, "metadata.id", "invalid tenant id", 1 },
	{ "metadata.id", "42", NULL, NULL, "metadata.id", "expected string", 1 },
	{ "metadata.displayName", "\"\"", NULL, NULL, "metadata.displayName", "must be 1 to 200 characters, got 0", 1 },
	{ "metadata.displayName", "\"a\\tb\"", NULL, NULL, "metadata.displayName", "control characters", 1 },
	{ "metadata.displayName", "\"a\\u0085b\"", NULL, NULL, "metadata.displayName", "control characters", 1 },
	{ "metadata.displayName", "null", NULL, NULL, "metadata.displayName", "expected string", 1 },
	{ "metadata.labels", "\"x\"", NULL, NULL, "metadata.labels", "expected object", 1 },
	{ "metadata.labels", "{\"bad key\": \"v\"}", NULL, NULL, "metadata.labels.bad key",
	  "invalid label key 'bad key'", 1 },
	{ "metadata.labels.tier", "\"gold!\"", NULL, NULL, "metadata.labels.tier", "invalid label value 'gold!'", 1 },
	{ "metadata.labels.tier", "5", NULL, NULL, "metadata.labels.tier", "expected string", 1 },
	{ "metadata.version", "3", NULL, NULL, "metadata.version", "server-owned field", 1 },
	{ "metadata.createdAt", "\"2026-01-01\"", NULL, NULL, "metadata.createdAt", "server-owned field", 1 },
	{ "metadata.updatedAt", "\"2026-01-01\"", NULL, NULL, "metadata.updatedAt", "server-owned field", 1 },
	{ "metadata.uid", "\"x\"", NULL, NULL, "metadata.uid", "server-owned field", 1 },
	{ "metadata.name", "\"x\"", NULL, NULL, "metadata.name", "unknown field", 1 },
	/* spec */
	{ "spec.plan", NULL, NULL, NULL, "spec.plan", "required field", 1 },
	{ "spec.plan", "\"platinum\"", NULL, NULL, "spec.plan",
	  "unknown plan 'platinum' (known plans: free, business, enterprise)", 1 },
	{ "spec.plan", "7", NULL, NULL, "spec.plan", "expected string", 1 },
	{ "spec.isolation", "\"isolated\"", NULL, NULL, "spec.isolation", "unknown isolation mode 'isolated'", 1 },
	{ "spec.plan", "\"free\"", "spec.quotas", NULL, "spec.isolation",
	  "isolation dedicated is not allowed by plan free (allowed: shared)", 1 },
	{ "spec.state", "\"deleted\"", NULL, NULL, "spec.state",
	  "cannot be requested in a manifest; delete the tenant", 1 },
	{ "spec.state", "\"paused\"", NULL, NULL, "spec.state", "unknown state 'paused'", 1 },
	{ "spec.state", "\"Active\"", NULL, NULL, "spec.state", "unknown state 'Active'", 1 },
	{ "spec.state", "true", NULL, NULL, "spec.state", "expected string", 1 },
	{ "spec.region", "\"eu\"", NULL, NULL, "spec.region", "unknown field", 1 },
	/* placement */
	{ "spec.placement", "\"eu\"", NULL, NULL, "spec.placement", "expected object", 1 },
	{ "spec.placement.residency", "\"mars\"", NULL, NULL, "spec.placement.residency",
	  "unknown residency zone 'mars'", 1 },
	{ "spec.placement.residency", "\"us\"", NULL, NULL, "spec.placement.allowedRegions[1]",
	  "region eu-central-1 is in residency zone eu, not us", 2 },
	{ "spec.placement.allowedRegions", "[]", NULL, NULL, "spec.placement.allowedRegions",
	  "must list 1 to 16 regions, got 0", 1 },
	{ "spec.placement.allowedRegions", "\"eu-west-1\"", NULL, NULL, "spec.placement.allowedRegions",
	  "expected array", 1 },
	{ "spec.placement.allowedRegions", "[\"eu-west-1\", \"eu-central-1\", \"us-east-1\"]", NULL, NULL,
	  "spec.placement.allowedRegions[2]", "region us-east-1 is in residency zone us, not eu", 1 },
	{ "spec.placement.allowedRegions", "[\"eu-west-1\", \"eu-central-1\", \"us-east-1\"]",
	  "spec.placement.residency", NULL, "spec.placement.allowedRegions[2]",
	  "not eu (the plan's default residency)", 1 },
	{ "spec.placement.allowedRegions", "[\"eu-west-1\", \"eu-west-1\"]", NULL, NULL,
	  "spec.placement.allowedRegions[1]", "duplicate region 'eu-west-1'", 1 },
	{ "spec.placement.allowedRegions", "[\"eu-west-1\", \"nowhere\"]", NULL, NULL,
	  "spec.placement.allowedRegions[1]", "unknown region 'nowhere'", 1 },
	{ "spec.placement.allowedRegions", "[\"eu-west-1\", 5]", NULL, NULL,
	  "spec.placement.allowedRegions[1]", "expected string", 1 },
	{ "spec.placement.preferredRegion", "\"eu-north-1\"", NULL, NULL, "spec.placement.preferredRegion",
	  "preferredRegion eu-north-1 is not among allowedRegions", 1 },
	{ "spec.placement.preferredRegion", "\"nowhere\"", NULL, NULL, "spec.placement.preferredRegion",
	  "unknown region 'nowhere'", 1 },
	{ "spec.placement.preferredRegion", "[\"eu-west-1\"]", NULL, NULL, "spec.placement.preferredRegion",
	  "expected string", 1 },
	{ "spec.placement.standbyRegion", "\"eu-west-1\"", NULL, NULL, "spec.placement.standbyRegion",
	  "standbyRegion must differ from preferredRegion", 1 },
	{ "spec.placement.standbyRegion", "\"nowhere\"", NULL, NULL, "spec.placement.standbyRegion",
	  "unknown region 'nowhere'", 1 },
	{ "spec.placement.zone", "\"eu\"", NULL, NULL, "spec.placement.zone", "unknown field", 1 },
	/* quotas */
	{ "spec.quotas", "\"lots\"", NULL, NULL, "spec.quotas", "expected object", 1 },
	{ "spec.quotas.storageGb", "500", NULL, NULL, "spec.quotas.storageGb",
	  "storageGb 500 exceeds the plan's maximum of 100", 1 },
	{ "spec.quotas.computeUnits", "17", NULL, NULL, "spec.quotas.computeUnits",
	  "computeUnits 17 exceeds the plan's maximum of 16", 1 },
	{ "spec.quotas.eventsPerMinute", "0", NULL, NULL, "spec.quotas.eventsPerMinute",
	  "eventsPerMinute must be a positive integer, got 0", 1 },
	{ "spec.quotas.concurrentOperations", "-1", NULL, NULL, "spec.quotas.concurrentOperations",
	  "must be a positive integer, got -1", 1 },
	{ "spec.quotas.computeUnits", "4.0", NULL, NULL, "spec.quotas.computeUnits", "expected integer", 1 },
	{ "spec.quotas.computeUnits", "true", NULL, NULL, "spec.quotas.computeUnits", "expected integer", 1 },
	{ "spec.quotas.computeUnits", "\"4\"", NULL, NULL, "spec.quotas.computeUnits", "expected integer", 1 },
	{ "spec.quotas.bandwidth", "1", NULL, NULL, "spec.quotas.bandwidth", "unknown field", 1 },
};

static void test_validation_rules(void **state)
{
	for (size_t i = 0; i < TND_ARRAY_SIZE(validation_cases); i++) {
		const struct validation_case *vc = &validation_cases[i];
		json_t *doc = parse(base_json, MANIFEST_FORMAT_JSON), *errors;

		set_path(doc, vc->set, vc->value);
		if (vc->set2)
			set_path(doc, vc->set2, vc->value2);
		errors = validate_errors(doc);
		if (!fixture_has_error(errors, vc->path, vc->reason) ||
		    json_array_size(errors) != vc->count)
			fail_msg("case %zu (%s): %zu problems", i, vc->set, json_array_size(errors));
		json_decref(errors);
		json_decref(doc);
	}
}

static void test_generated_limits(void **state)
{
	json_t *doc = parse(base_json, MANIFEST_FORMAT_JSON), *labels = json_object(), *regions = json_array();
	json_t *errors;
	char name[16];

	for (int i = 0; i < 65; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		json_object_set_new(labels, name, json_string("v"));
	}
	json_object_set_new(json_object_get(doc, "metadata"), "labels", labels);
	for (int i = 0; i < 17; i++)
		json_array_append_new(regions, json_string(i % 2 ? "eu-west-1" : "eu-central-1"));
	json_object_set_new(json_object_get(json_object_get(doc, "spec"), "placement"), "allowedRegions",
			    regions);
	errors = validate_errors(doc);
	assert_true(fixture_has_error(errors, "metadata.labels", "too many labels: 65 (at most 64)"));
	assert_true(fixture_has_error(errors, "spec.placement.allowedRegions", "must list 1 to 16 regions, got 17"));
	/* and each repeated region is reported where it is */
	assert_true(fixture_has_error(errors, "spec.placement.allowedRegions[16]", "duplicate region"));
	json_decref(errors);

	/* 64 labels and a 200-character (400-byte) display name are fine */
	json_object_del(json_object_get(doc, "metadata"), "labels");
	labels = json_object();
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		json_object_set_new(labels, name, json_string("v"));
	}
	json_object_set_new(json_object_get(doc, "metadata"), "labels", labels);
	set_path(doc, "spec.placement.allowedRegions", "[\"eu-west-1\", \"eu-central-1\"]");
	{
		char display[402] = "";

		for (int i = 0; i < 200; i++)
			strcat(display, "\xc3\xa9");
		json_object_set_new(json_object_get(doc, "metadata"), "displayName", json_string(display));
		errors = validate_errors(doc);
		assert_int_equal(json_array_size(errors), 0);
		json_decref(errors);
		strcat(display, "e");
		json_object_set_new(json_object_get(doc, "metadata"), "displayName", json_string(display));
		errors = validate_errors(doc);
		assert_true(fixture_has_error(errors, "metadata.displayName", "got 201"));
		json_decref(errors);
	}
	json_decref(doc);
}

static void test_problem_flood(void **state)
{
	json_t *doc = parse(base_json, MANIFEST_FORMAT_JSON), *regions = json_array(), *errors;
	char name[16];
	int64_t start;

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		json_object_set_new(doc, name, json_true());
	}
	for (int i = 0; i < 50000; i++)
		json_array_append_new(regions, json_string(i % 2 ? "eu-west-1" : "eu-north-1"));
	json_object_set_new(json_object_get(json_object_get(doc, "spec"), "placement"), "allowedRegions",
			    regions);
	start = tnd_monotonic_us();
	errors = validate_errors(doc);
	/* linear: well under a second even under valgrind */
	assert_true(tnd_monotonic_us() - start < 2 * 1000 * 1000);
	assert_int_equal(json_array_size(errors), 101);
	assert_true(fixture_has_error(errors, "spec.placement.allowedRegions", "got 50000"));
	assert_true(fixture_has_error(errors, "spec.placement.allowedRegions[2]", "duplicate region 'eu-north-1'"));
	/* 1 size + 49998 duplicates + 5000 unknown fields, 100 of them shown */
	assert_true(fixture_has_error(errors, "", "54899 more problems not shown"));
	json_decref(errors);
	json_decref(doc);
}

static void test_long_values_quoted_briefly(void **state)
{
	json_t *doc = parse(base_json, MANIFEST_FORMAT_JSON), *errors, *e;
	char plan[300];
	size_t i;

	/* 99 × "é" then "x…": the cut at 64 bytes falls inside no character */
	plan[0] = 'p';
	for (i = 1; i < 199; i += 2)
		memcpy(plan + i, "\xc3\xa9", 2);
	memset(plan + i, 'x', sizeof(plan) - i - 1);
	plan[sizeof(plan) - 1] = '\0';
	json_object_set_new(json_object_get(doc, "spec"), "plan", json_string(plan));
	errors = validate_errors(doc);
	e = json_array_get(errors, 0);
	assert_string_equal(json_string_value(json_object_get(e, "path")), "spec.plan");
	assert_non_null(strstr(json_string_value(json_object_get(e, "reason")), "...' (known plans"));
	assert_true(strlen(json_string_value(json_object_get(e, "reason"))) < 150);
	json_decref(errors);
	json_decref(doc);
}

static void test_all_problems_reported(void **state)
{
	json_t *doc = parse(base_json, MANIFEST_FORMAT_JSON), *errors;

	set_path(doc, "metadata.id", "\"Bad_Id\"");
	set_path(doc, "spec.state", "\"paused\"");
	set_path(doc, "spec.placement.allowedRegions", "[\"eu-west-1\", \"eu-central-1\", \"us-east-1\"]");
	set_path(doc, "spec.quotas.storageGb", "500");
	set_path(doc, "status", "{}");
	errors = validate_errors(doc);
	assert_int_equal(json_array_size(errors), 5);
	assert_true(fixture_has_error(errors, "metadata.id", "invalid tenant id 'Bad_Id'"));
	assert_true(fixture_has_error(errors, "spec.state", "unknown state 'paused'"));
	assert_true(fixture_has_error(errors, "spec.placement.allowedRegions[2]", "residency zone us"));
	assert_true(fixture_has_error(errors, "spec.quotas.storageGb", "500 exceeds the plan's maximum of 100"));
	assert_true(fixture_has_error(errors, "status", "server-owned field"));
	json_decref(errors);
	json_decref(doc);
}

static void test_not_an_object(void **state)
{
	static const char *const values[] = { "null", "[]", "[{\"apiVersion\": \"tenancy/v1\"}]", "\"Tenant\"",
					      "5", "4.5", "true" };
	json_t *errors;

	for (size_t i = 0; i < TND_ARRAY_SIZE(values); i++) {
		json_t *doc = json_loads(values[i], JSON_DECODE_ANY, NULL);

		errors = validate_errors(doc);
		assert_int_equal(json_array_size(errors), 1);
		assert_true(fixture_has_error(errors, "", "expected an object"));
		json_decref(errors);
		json_decref(doc);
	}
	errors = validate_errors(NULL);
	assert_true(fixture_has_error(errors, "", "expected an object"));
	json_decref(errors);
	/* {} lacks everything, each reported */
	errors = json_array();
	{
		json_t *empty = json_object();

		assert_int_equal(manifest_validate(empty, conf, errors), -EINVAL);
		assert_int_equal(json_array_size(errors), 4);
		json_decref(empty);
	}
	json_decref(errors);
}

static char *canonical(const char *text, enum manifest_format format)
{
	json_t *doc = parse(text, format), *errors = validate_errors(doc), *normal;
	char *out;

	assert_int_equal(json_array_size(errors), 0);
	normal = manifest_normalize(doc, conf);
	assert_non_null(normal);
	out = json_dumps(normal, JSON_COMPACT);
	json_decref(normal);
	json_decref(errors);
	json_decref(doc);
	return out;
}

static void test_yaml_and_json_agree(void **state)
{
	char *from_json = canonical(base_json, MANIFEST_FORMAT_JSON);
	char *from_yaml = canonical(base_yaml, MANIFEST_FORMAT_YAML);

	assert_string_equal(from_json, from_yaml);
	assert_string_equal(from_json,
			    "{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\","
			    "\"metadata\":{\"id\":\"acme-corp\",\"displayName\":\"Acme Corp\","
			    "\"labels\":{\"env\":\"prod\",\"tier\":\"gold\"}},"
			    "\"spec\":{\"plan\":\"business\",\"isolation\":\"dedicated\",\"state\":\"active\","
			    "\"placement\":{\"residency\":\"eu\",\"allowedRegions\":[\"eu-west-1\",\"eu-central-1\"],"
			    "\"preferredRegion\":\"eu-west-1\",\"standbyRegion\":\"eu-central-1\"},"
			    "\"quotas\":{\"computeUnits\":4,\"storageGb\":50,\"eventsPerMinute\":600,"
			    "\"concurrentOperations\":2}}}");
	free(from_json);
	free(from_yaml);
}

#define MINIMAL(spec) \
	"{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"acme\"},\"spec\":" spec "}"

static void assert_same_meaning(const char *a, const char *b, bool same)
{
	char *ca = canonical(a, MANIFEST_FORMAT_JSON), *cb = canonical(b, MANIFEST_FORMAT_JSON);

	if ((strcmp(ca, cb) == 0) != same)
		fail_msg("expected %s:\n%s\n%s", same ? "equal" : "different", ca, cb);
	free(ca);
	free(cb);
}

static void test_normalize_defaults(void **state)
{
	char *c = canonical(MINIMAL("{\"plan\":\"business\"}"), MANIFEST_FORMAT_JSON);

	/* quotas are not filled in: the plan's defaults apply at runtime */
	assert_string_equal(c, "{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\","
			       "\"metadata\":{\"id\":\"acme\",\"labels\":{}},"
			       "\"spec\":{\"plan\":\"business\",\"isolation\":\"shared\",\"state\":\"active\","
			       "\"placement\":{\"residency\":\"eu\"}}}");
	free(c);
	c = canonical(MINIMAL("{\"plan\":\"enterprise\"}"), MANIFEST_FORMAT_JSON);
	assert_non_null(strstr(c, "\"isolation\":\"dedicated\""));
	assert_non_null(strstr(c, "\"placement\":{\"residency\":\"us\"}"));
	free(c);

	assert_same_meaning(MINIMAL("{\"plan\":\"business\"}"), MINIMAL("{\"plan\":\"business\",\"state\":\"active\"}"),
			    true);
	assert_same_meaning(MINIMAL("{\"plan\":\"business\"}"),
			    MINIMAL("{\"state\":\"active\",\"isolation\":\"shared\",\"plan\":\"business\","
				    "\"placement\":{\"residency\":\"eu\"},\"quotas\":{}}"),
			    true);
	assert_same_meaning("{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\","
			    "\"metadata\":{\"id\":\"acme\",\"labels\":{}},\"spec\":{\"plan\":\"business\"}}",
			    MINIMAL("{\"plan\":\"business\"}"), true);
	assert_same_meaning(MINIMAL("{\"plan\":\"business\",\"quotas\":{\"storageGb\":5,\"computeUnits\":2}}"),
			    MINIMAL("{\"quotas\":{\"computeUnits\":2,\"storageGb\":5},\"plan\":\"business\"}"), true);
	assert_same_meaning(MINIMAL("{\"plan\":\"business\"}"), MINIMAL("{\"plan\":\"business\",\"state\":\"draft\"}"),
			    false);
	assert_same_meaning(MINIMAL("{\"plan\":\"business\"}"),
			    MINIMAL("{\"plan\":\"business\",\"isolation\":\"dedicated\"}"), false);
	/* allowedRegions order is the fallback order, so it matters */
	assert_same_meaning(MINIMAL("{\"plan\":\"business\","
				    "\"placement\":{\"allowedRegions\":[\"eu-west-1\",\"eu-north-1\"]}}"),
			    MINIMAL("{\"plan\":\"business\","
				    "\"placement\":{\"allowedRegions\":[\"eu-north-1\",\"eu-west-1\"]}}"),
			    false);
}

static void test_normalize_invalid(void **state)
{
	json_t *doc = json_loads("[1]", JSON_DECODE_ANY, NULL);

	/* no canonical form for what is not a manifest, and no crash */
	assert_null(manifest_normalize(doc, conf));
	json_decref(doc);
	doc = json_loads(MINIMAL("{\"plan\":\"platinum\"}"), 0, NULL);
	assert_null(manifest_normalize(doc, conf));
	json_decref(doc);
	assert_null(manifest_normalize(NULL, conf));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_labels),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_validation_rules),
		cmocka_unit_test(test_generated_limits),
		cmocka_unit_test(test_all_problems_reported),
		cmocka_unit_test(test_problem_flood),
		cmocka_unit_test(test_long_values_quoted_briefly),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_yaml_and_json_agree),
		cmocka_unit_test(test_normalize_defaults),
		cmocka_unit_test(test_normalize_invalid),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
