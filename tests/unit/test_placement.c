/*
 * test_placement.c — the placement resolver on validated, normalized
 * manifests: preference, fallback when a region is disabled, the order of
 * allowedRegions, the residency filter, and the errors that name the rule
 * that left no region.
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
#include "placement.h"
#include "region_usage.h"
#include "util.h"

#define TENANT(spec) \
	"{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"acme\"},\"spec\":" spec "}"
/* a business-plan tenant (residency eu by default) with these placement members */
#define BUSINESS(placement) TENANT("{\"plan\":\"business\",\"placement\":{" placement "}}")

static int setup(void **state)
{
	*state = fixture_conf_new();
	return 0;
}

static int teardown(void **state)
{
	fixture_conf_free(*state);
	return 0;
}

/* Parse, validate (must pass), normalize, resolve.  Returns the resolver's
 * result; *ret_out gets the placement or the errors (caller frees). */
static int resolve(const struct tnd_conf *conf, const char *manifest, json_t **ret_out)
{
	json_t *errors = json_array(), *doc = NULL, *normal, *placement = NULL;
	int r;

	assert_int_equal(manifest_parse(manifest, strlen(manifest), MANIFEST_FORMAT_JSON, NULL, &doc, errors), 0);
	if (manifest_validate(doc, conf, errors) < 0)
		fail_msg("invalid test manifest: %s", json_string_value(json_object_get(json_array_get(errors, 0), "reason")));
	normal = manifest_normalize(doc, conf);
	r = placement_resolve(conf, normal, &placement, errors);
	if (r == 0) {
		assert_int_equal(json_array_size(errors), 0);
		*ret_out = placement;
		json_decref(errors);
	} else {
		assert_null(placement);
		assert_true(json_array_size(errors) > 0);
		*ret_out = errors;
	}
	json_decref(normal);
	json_decref(doc);
	return r;
}

static void assert_region(struct tnd_conf *conf, const char *manifest, const char *region)
{
	json_t *out = NULL;

	assert_int_equal(resolve(conf, manifest, &out), 0);
	assert_string_equal(json_string_value(json_object_get(out, "region")), region);
	json_decref(out);
}

static void test_result(void **state)
{
	json_t *out = NULL, *expected;

	assert_int_equal(resolve(*state,
				 TENANT("{\"plan\":\"business\",\"isolation\":\"dedicated\",\"placement\":"
					"{\"allowedRegions\":[\"eu-west-1\",\"eu-central-1\"],"
					"\"preferredRegion\":\"eu-central-1\",\"standbyRegion\":\"eu-west-1\"}}"),
				 &out),
			 0);
	expected = json_pack("{s:s, s:s, s:s, s:s}", "region", "eu-central-1", "isolation", "dedicated",
			     "residency", "eu", "standbyRegion", "eu-west-1");
	assert_true(json_equal(out, expected));
	json_decref(expected);
	json_decref(out);

	/* defaults from the plan; no standby asked for, none given */
	assert_int_equal(resolve(*state, TENANT("{\"plan\":\"enterprise\"}"), &out), 0);
	assert_string_equal(json_string_value(json_object_get(out, "isolation")), "dedicated");
	assert_string_equal(json_string_value(json_object_get(out, "residency")), "us");
	assert_string_equal(json_string_value(json_object_get(out, "region")), "us-east-1");
	assert_null(json_object_get(out, "standbyRegion"));
	json_decref(out);
}

static void test_preferred(void **state)
{
	struct tnd_conf *conf = *state;
	const char *manifest = TENANT("{\"plan\":\"business\",\"placement\":{\"allowedRegions\":"
				      "[\"eu-west-1\",\"eu-central-1\",\"eu-north-1\"],\"preferredRegion\":\"eu-central-1\"}}");

	assert_region(conf, manifest, "eu-central-1");
	/* disabled preferred region: fall back to the first enabled candidate */
	fixture_conf_region(conf, "eu-central-1")->enabled = false;
	assert_region(conf, manifest, "eu-west-1");
	fixture_conf_region(conf, "eu-west-1")->enabled = false;
	assert_region(conf, manifest, "eu-north-1");
	/* preferred without allowedRegions: any region of the zone */
	assert_region(conf, TENANT("{\"plan\":\"business\",\"placement\":{\"preferredRegion\":\"eu-central-1\"}}"),
		      "eu-north-1");
}

static void test_allowed_order(void **state)
{
	struct tnd_conf *conf = *state;

	assert_region(conf, BUSINESS("\"allowedRegions\":[\"eu-north-1\",\"eu-west-1\"]"), "eu-north-1");
	assert_region(conf, BUSINESS("\"allowedRegions\":[\"eu-west-1\",\"eu-north-1\"]"), "eu-west-1");
	fixture_conf_region(conf, "eu-north-1")->enabled = false;
	assert_region(conf, BUSINESS("\"allowedRegions\":[\"eu-north-1\",\"eu-central-1\",\"eu-west-1\"]"),
		      "eu-central-1");
}

static void test_residency_filter(void **state)
{
	struct tnd_conf *conf = *state;

	/* without allowedRegions: the zone's regions in config order */
	assert_region(conf, TENANT("{\"plan\":\"business\"}"), "eu-west-1");
	assert_region(conf, TENANT("{\"plan\":\"business\",\"placement\":{\"residency\":\"us\"}}"), "us-east-1");
	fixture_conf_region(conf, "us-east-1")->enabled = false;
	assert_region(conf, TENANT("{\"plan\":\"business\",\"placement\":{\"residency\":\"us\"}}"), "us-west-2");
	fixture_conf_region(conf, "eu-west-1")->enabled = false;
	assert_region(conf, TENANT("{\"plan\":\"free\"}"), "eu-central-1");
}

static void test_all_disabled(void **state)
{
	struct tnd_conf *conf = *state;
	json_t *errors = NULL;

	fixture_conf_region(conf, "eu-west-1")->enabled = false;
	fixture_conf_region(conf, "eu-central-1")->enabled = false;
	assert_int_equal(resolve(conf,
				 TENANT("{\"plan\":\"business\",\"placement\":{\"allowedRegions\":[\"eu-west-1\","
					"\"eu-central-1\"],\"preferredRegion\":\"eu-west-1\"}}"),
				 &errors),
			 -EINVAL);
	assert_true(fixture_has_error(errors, "spec.placement.preferredRegion", "region eu-west-1 is disabled"));
	assert_true(fixture_has_error(errors, "spec.placement.allowedRegions",
				      "no region in residency zone eu can take the tenant: eu-west-1 is disabled, "
				      "eu-central-1 is disabled"));
	json_decref(errors);

	/* eu-north-1 still works for a tenant that did not restrict itself */
	assert_region(conf, TENANT("{\"plan\":\"business\"}"), "eu-north-1");
	fixture_conf_region(conf, "eu-north-1")->enabled = false;
	assert_int_equal(resolve(conf, TENANT("{\"plan\":\"business\"}"), &errors), -EINVAL);
	assert_true(fixture_has_error(errors, "spec.placement.residency",
				      "no region in residency zone eu can take the tenant: eu-west-1 is disabled, "
				      "eu-central-1 is disabled, eu-north-1 is disabled"));
	json_decref(errors);
}

static void test_standby(void **state)
{
	struct tnd_conf *conf = *state;
	json_t *errors = NULL;

	/* validation accepts a standby anywhere; placement enforces residency */
	assert_int_equal(resolve(conf,
				 TENANT("{\"plan\":\"business\",\"placement\":{\"standbyRegion\":\"us-east-1\"}}"),
				 &errors),
			 -EINVAL);
	assert_true(fixture_has_error(errors, "spec.placement.standbyRegion",
				      "region us-east-1 is in residency zone us, not eu"));
	json_decref(errors);

	/* so does a preferred region outside the zone: a mistake, not an outage */
	assert_int_equal(resolve(conf,
				 TENANT("{\"plan\":\"business\",\"placement\":{\"preferredRegion\":\"us-east-1\"}}"),
				 &errors),
			 -EINVAL);
	assert_true(fixture_has_error(errors, "spec.placement.preferredRegion", "residency zone us, not eu"));
	json_decref(errors);

	/* the standby is never also the primary */
	assert_region(conf, TENANT("{\"plan\":\"business\",\"placement\":{\"standbyRegion\":\"eu-west-1\"}}"),
		      "eu-central-1");
	fixture_conf_region(conf, "eu-west-1")->enabled = false;
	assert_int_equal(resolve(conf,
				 TENANT("{\"plan\":\"business\",\"placement\":{\"allowedRegions\":[\"eu-west-1\","
					"\"eu-central-1\"],\"preferredRegion\":\"eu-west-1\","
					"\"standbyRegion\":\"eu-central-1\"}}"),
				 &errors),
			 -EINVAL);
	assert_true(fixture_has_error(errors, "spec.placement.allowedRegions",
				      "eu-west-1 is disabled, eu-central-1 is the standby region"));
	json_decref(errors);
}

/* Region capacity counts the tenants placed (region_usage) and reservations. */
static void test_capacity(void **state)
{
	struct tnd_conf *conf = *state;
	struct tnd_region_conf *west = fixture_conf_region(conf, "eu-west-1");
	json_t *errors = NULL;

	region_usage_reset();
	west->capacity = 2;
	assert_region(conf, BUSINESS("\"preferredRegion\":\"eu-west-1\""), "eu-west-1");
	/* one tenant placed, one create between its reservation and its commit */
	region_usage_add("eu-west-1", 1);
	assert_true(region_usage_reserve(west));
	assert_false(region_usage_reserve(west)); /* full: a second racer loses */
	assert_int_equal(region_usage_count("eu-west-1"), 2);
	/* full: the preferred region is passed over for the next in the zone */
	assert_region(conf, BUSINESS("\"preferredRegion\":\"eu-west-1\""), "eu-central-1");
	assert_int_equal(resolve(conf, BUSINESS("\"allowedRegions\":[\"eu-west-1\"]"), &errors), -EINVAL);
	assert_true(fixture_has_error(errors, "spec.placement.allowedRegions",
				      "no region in residency zone eu can take the tenant: eu-west-1 is at capacity"));
	json_decref(errors);

	/* the reservation's commit failed: the slot is free again */
	region_usage_settle("eu-west-1", false);
	assert_int_equal(region_usage_count("eu-west-1"), 1);
	assert_region(conf, BUSINESS("\"allowedRegions\":[\"eu-west-1\"]"), "eu-west-1");
	/* committed, then deleted */
	assert_true(region_usage_reserve(west));
	region_usage_settle("eu-west-1", true);
	assert_int_equal(region_usage_count("eu-west-1"), 2);
	region_usage_add("eu-west-1", -1);
	assert_int_equal(region_usage_count("eu-west-1"), 1);
	/* capacity 0 is unlimited */
	west->capacity = 0;
	for (int i = 0; i < 100; i++)
		assert_true(region_usage_reserve(west));
	region_usage_reset();
	assert_int_equal(region_usage_count("eu-west-1"), 0);
}

static void test_not_normalized(void **state)
{
	static const char *const docs[] = { "null", "[]", "{}", TENANT("{\"plan\":\"business\"}"),
					    TENANT("{\"plan\":\"nope\",\"isolation\":\"shared\",\"placement\":{\"residency\":\"eu\"}}") };

	for (size_t i = 0; i < TND_ARRAY_SIZE(docs); i++) {
		json_t *doc = json_loads(docs[i], JSON_DECODE_ANY, NULL), *errors = json_array(), *out = NULL;

		assert_int_equal(placement_resolve(*state, doc, &out, errors), -EINVAL);
		assert_null(out);
		assert_true(fixture_has_error(errors, "", "normalized"));
		json_decref(errors);
		json_decref(doc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allowed_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_residency_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_standby, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capacity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_normalized, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
