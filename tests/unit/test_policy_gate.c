/*
 * test_policy_gate.c — the core's policy gate (core/policy_gate.c) against
 * the faulty_policy fixture loaded through the real loader: no plugin
 * allows; allow and deny with reasons; a plugin error, garbage, a missing
 * decision and an answer over the deadline are errors (fail closed) and
 * counted by cause; the §9 request carries every field; the 403/503
 * problems.
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
#include <jansson.h>

#include "metrics.h"
#include "plugin_loader.h"
#include "policy_gate.h"
#include "problem.h"
#include "testutil.h"
#include "util.h"

struct gate_fixture {
	char *dir;
	char *mode_file;
	struct plugin_set set;
};

static void set_mode(struct gate_fixture *f, const char *mode)
{
	free(testutil_write_file(f->dir, "mode", mode, 0600));
}

static int gate_setup(void **state)
{
	struct gate_fixture *f = calloc(1, sizeof(*f));
	struct plugin_load_options opts = { 0 };
	struct tnd_error err = { "" };
	struct tnd_loaded_plugin *plugin = NULL;
	char *libs = tnd_xasprintf("%s/tests/fixtures/plugins/.libs", testutil_builddir());
	json_t *settings;

	f->dir = testutil_mkdtemp("gate");
	f->mode_file = tnd_xasprintf("%s/mode", f->dir);
	settings = json_pack("{s:s}", "mode_file", f->mode_file);
	opts.dir = libs;
	opts.allow_unsafe_permissions = true;
	opts.state_dir = f->dir;
	if (plugin_load(&opts, &f->set, TND_PLUGIN_POLICY, "faulty_policy", NULL, settings, &plugin, &err) != 0)
		fail_msg("cannot load faulty_policy: %s", err.message);
	json_decref(settings);
	free(libs);
	policy_gate_install(plugin);
	metrics_reset();
	*state = f;
	return 0;
}

static int gate_teardown(void **state)
{
	struct gate_fixture *f = *state;

	policy_gate_install(NULL);
	plugin_set_clear(&f->set);
	testutil_rmrf(f->dir);
	free(f->dir);
	free(f->mode_file);
	free(f);
	return 0;
}

static const struct policy_subject subject = {
	.action = "tenant.suspend",
	.actor_id = "ops-bot",
	.actor_role = "operator",
	.tenant_id = "acme",
	.phase = "Active",
	.plan = "business",
	.request_id = "req-1",
};

static void test_no_plugin_allows(void **state)
{
	struct policy_decision d;

	(void)state;
	policy_gate_install(NULL);
	assert_false(policy_gate_active());
	assert_int_equal(policy_gate_check(&subject, 100, &d), POLICY_ALLOW);
	assert_int_equal(d.latency_us, 0);
	assert_null(policy_problem(&subject, &d));
	policy_decision_clear(&d);
}

static void test_allow_and_deny(void **state)
{
	struct gate_fixture *f = *state;
	struct policy_decision d;
	struct problem *p;
	json_t *body;

	set_mode(f, "allow");
	assert_true(policy_gate_active());
	assert_int_equal(policy_gate_check(&subject, 1000, &d), POLICY_ALLOW);
	assert_int_equal(json_array_size(d.reasons), 0);
	policy_decision_clear(&d);

	set_mode(f, "deny");
	assert_int_equal(policy_gate_check(&subject, 1000, &d), POLICY_DENY);
	assert_string_equal(json_string_value(json_array_get(d.reasons, 0)), "faulty says no");
	p = policy_problem(&subject, &d);
	assert_int_equal(p->status, 403);
	body = problem_to_json(p, "req-1");
	assert_string_equal(json_string_value(json_object_get(body, "type")), "urn:tenancyd:problem:policy-denied");
	assert_string_equal(json_string_value(json_array_get(json_object_get(body, "reasons"), 0)), "faulty says no");
	assert_string_equal(json_string_value(json_object_get(body, "action")), "tenant.suspend");
	assert_non_null(strstr(json_string_value(json_object_get(body, "detail")), "faulty says no"));
	json_decref(body);
	problem_free(p);
	policy_decision_clear(&d);
	assert_int_equal(metrics_counter_get("tenancyd_policy_decisions_total", "decision=\"allow\""), 1);
	assert_int_equal(metrics_counter_get("tenancyd_policy_decisions_total", "decision=\"deny\""), 1);
}

/* Each way a policy can fail is an error, counted by cause, and a 503. */
static void test_fail_closed(void **state)
{
	static const struct {
		const char *mode;
		const char *cause;
		const char *error;
	} cases[] = {
		{ "error", "error", "told to fail" },
		{ "malformed", "malformed", "not JSON" },
		{ "nodecision", "malformed", "no decision" },
		{ "sleep 120", "timeout", "over the 50 ms limit" },
	};
	struct gate_fixture *f = *state;

	for (size_t i = 0; i < TND_ARRAY_SIZE(cases); i++) {
		struct policy_decision d;
		struct problem *p;
		char labels[64];

		set_mode(f, cases[i].mode);
		assert_int_equal(policy_gate_check(&subject, 50, &d), POLICY_ERROR);
		if (strstr(d.error, cases[i].error) == NULL)
			fail_msg("mode %s: error \"%s\" lacks \"%s\"", cases[i].mode, d.error, cases[i].error);
		p = policy_problem(&subject, &d);
		assert_int_equal(p->status, 503);
		assert_string_equal(p->slug, "policy-unavailable");
		problem_free(p);
		snprintf(labels, sizeof(labels), "cause=\"%s\"", cases[i].cause);
		assert_true(metrics_counter_get("tenancyd_policy_errors_total", labels) >= 1);
		policy_decision_clear(&d);
	}
	assert_int_equal(metrics_counter_get("tenancyd_policy_errors_total", "cause=\"malformed\""), 2);
	/* within the deadline, a slow answer is fine */
	set_mode(f, "sleep 20");
	{
		struct policy_decision d;
		assert_int_equal(policy_gate_check(&subject, 1000, &d), POLICY_ALLOW);
		assert_true(d.latency_us >= 20000);
		policy_decision_clear(&d);
	}
}

static void test_request_shape(void **state)
{
	json_t *manifest = json_pack("{s:{s:s}}", "spec", "plan", "business");
	json_t *placement = json_pack("{s:s,s:s}", "region", "eu-west-1", "isolation", "shared");
	struct policy_subject s = subject;
	json_t *request;
	char *text;

	(void)state;
	s.manifest = manifest;
	s.placement = placement;
	request = policy_request_new(&s, 1795860000123LL);
	text = json_dumps(request, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text,
			    "{\"action\":\"tenant.suspend\",\"actor\":{\"id\":\"ops-bot\",\"roles\":[\"operator\"]},"
			    "\"context\":{\"plan\":\"business\",\"region\":\"eu-west-1\",\"requestId\":\"req-1\","
			    "\"time\":\"2026-11-28T10:00:00.123Z\"},\"tenant\":{\"id\":\"acme\",\"manifest\":{\"spec\":"
			    "{\"plan\":\"business\"}},\"phase\":\"Active\",\"placement\":{\"isolation\":\"shared\","
			    "\"region\":\"eu-west-1\"}}}");
	free(text);
	json_decref(request);
	/* a new tenant: no phase, no manifest given */
	s.phase = NULL;
	s.manifest = NULL;
	request = policy_request_new(&s, 0);
	assert_true(json_is_null(json_object_get(json_object_get(request, "tenant"), "phase")));
	assert_true(json_is_null(json_object_get(json_object_get(request, "tenant"), "manifest")));
	json_decref(request);
	json_decref(manifest);
	json_decref(placement);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_shape),
		cmocka_unit_test_setup_teardown(test_no_plugin_allows, gate_setup, gate_teardown),
		cmocka_unit_test_setup_teardown(test_allow_and_deny, gate_setup, gate_teardown),
		cmocka_unit_test_setup_teardown(test_fail_closed, gate_setup, gate_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
