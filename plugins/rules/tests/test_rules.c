/*
 * test_rules.c — the rules policy plugin: the file format (every key, and
 * the errors a typo makes), every matcher with a match and a miss, time
 * windows at their boundaries (the clock is the request's context.time),
 * evaluation order and defaults, and the plugin itself through a real host
 * table: settings, unsafe files, reload keeping the old rules on a bad file.
 * Also prints the latency of one evaluation through the plugin (p50, p99).
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <tenancyd/policy.h>

#include "host.h"
#include "rules_internal.h"
#include "testutil.h"
#include "util.h"

extern const struct tnd_plugin tnd_plugin_v1;

/* --- helpers ------------------------------------------------------------------------ */

static struct rules_set *parse_ok(const char *text)
{
	struct tnd_error err = { "" };
	struct rules_set *set = NULL;
	int r = rules_parse(text, "test.rules", &set, &err);

	if (r != 0)
		fail_msg("rules_parse failed: %s", err.message);
	return set;
}

/* Parsing @text fails with a message containing @needle. */
static void parse_fails(const char *text, const char *needle)
{
	struct tnd_error err = { "" };
	struct rules_set *set = NULL;

	assert_int_equal(rules_parse(text, "test.rules", &set, &err), -EINVAL);
	assert_null(set);
	if (strstr(err.message, needle) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", err.message, needle);
}

static int64_t at(const char *iso)
{
	int64_t ms = 0;

	assert_int_equal(rules_parse_time(iso, &ms), 0);
	return ms;
}

/* A request's facts with everything set and matching nothing in particular. */
static struct rules_input base_input(void)
{
	struct rules_input in = { 0 };

	in.action = "tenant.apply";
	in.roles[0] = "operator";
	in.n_roles = 1;
	in.plan = "business";
	in.isolation = "shared";
	in.region = "eu-west-1";
	in.residency = "eu";
	in.label_keys[0] = "tier";
	in.label_values[0] = "gold";
	in.label_keys[1] = "team";
	in.label_values[1] = "payments";
	in.n_labels = 2;
	in.time_ms = at("2026-11-25T12:00:00Z"); /* a Wednesday */
	return in;
}

/* The one rule of "default = \"allow\"; rules = ( { effect = \"deny\"; reason = \"r\"; BODY } );" */
static bool one_rule_matches(const char *body, const struct rules_input *in)
{
	char text[1024];
	struct rules_set *set;
	bool m;

	snprintf(text, sizeof(text), "default = \"allow\";\nrules = ( { effect = \"deny\"; reason = \"r\"; %s } );\n",
		 body);
	set = parse_ok(text);
	assert_int_equal(set->n, 1);
	m = rules_rule_matches(&set->rules[0], in);
	rules_set_free(set);
	return m;
}

/* --- the file format ---------------------------------------------------------------------- */

static void test_parse_full(void **state)
{
	struct rules_set *set = parse_ok(
		"# a comment\n"
		"default = \"deny\";\n"
		"default_reason = \"nothing is allowed unless a rule says so\";\n"
		"rules = (\n"
		"  { name = \"ops\"; effect = \"allow\"; roles = [\"admin\", \"operator\"]; },\n"
		"  { effect = \"deny\"; reason = \"frozen\"; actions = \"tenant.*\"; plans = [\"free\"];\n"
		"    isolation = \"dedicated\"; regions = [\"eu-*\"]; residency = \"eu\";\n"
		"    labels = { tier = \"gold\"; };\n"
		"    when = { days = [\"sat\", \"sun\"]; hours = [22, 6];\n"
		"             from = \"2026-12-20T00:00:00Z\"; until = \"2027-01-04T00:00:00.500Z\"; }; }\n"
		");\n");

	(void)state;
	assert_int_equal(set->default_effect, RULES_DENY);
	assert_string_equal(set->default_reason, "nothing is allowed unless a rule says so");
	assert_int_equal(set->n, 2);
	assert_string_equal(set->rules[0].name, "ops");
	assert_int_equal(set->rules[0].effect, RULES_ALLOW);
	assert_int_equal(set->rules[0].roles.n, 2);
	assert_string_equal(set->rules[1].name, "rule 2");
	assert_int_equal(set->rules[1].line, 6);
	assert_string_equal(set->rules[1].reason, "frozen");
	assert_int_equal(set->rules[1].actions.n, 1);
	assert_int_equal(set->rules[1].n_labels, 1);
	assert_true(set->rules[1].has_when);
	assert_int_equal(set->rules[1].when.days, (1u << 6) | (1u << 0));
	assert_int_equal(set->rules[1].when.hour_from, 22);
	assert_int_equal(set->rules[1].when.hour_until, 6);
	assert_int_equal(set->rules[1].when.until_ms, at("2027-01-04T00:00:00Z") + 500);
	rules_set_free(set);
}

static void test_parse_errors(void **state)
{
	(void)state;
	parse_fails("rules = ();", "'default' is required");
	parse_fails("default = \"maybe\";", "must be \"allow\" or \"deny\"");
	parse_fails("default = \"allow\"; colour = 1;", "unknown key 'colour'");
	parse_fails("default = \"allow\";\nrules = ( { effect = \"deny\"; } );", "test.rules:2: rule 1: a deny rule needs a 'reason'");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; action = \"x\"; } );", "unknown key 'action'");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; actions = []; } );", "must not be an empty list");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; actions = 3; } );", "string or a list");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; labels = { tier = 1; }; } );", "label 'tier'");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; labels = [ \"tier\" ]; } );", "not key=value");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; when = { }; } );", "'when' is empty");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; when = { days = [\"caturday\"]; }; } );",
		    "days are mon");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; when = { hours = [9, 25]; }; } );",
		    "hour 25 is outside");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; when = { hours = [9, 9]; }; } );", "is empty");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; when = { hours = [9]; }; } );", "[from, until]");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; when = { from = \"tomorrow\"; }; } );",
		    "want a UTC time");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; when = { from = \"2026-02-31T00:00:00Z\"; }; } );",
		    "want a UTC time");
	parse_fails("default = \"allow\"; rules = ( { effect = \"allow\"; when = { from = \"2027-01-01T00:00:00Z\"; "
		    "until = \"2026-01-01T00:00:00Z\"; }; } );",
		    "from is not before until");
	parse_fails("default = \"allow\"\nrules = (", "test.rules:2:");
}

/* The example shipped in etc/ parses, and means what its comments say. */
static void test_parse_shipped_example(void **state)
{
	char *path = tnd_xasprintf("%s/etc/policy.rules", testutil_srcdir());
	struct tnd_error err = { "" };
	struct rules_set *set = NULL;
	struct rules_outcome out;
	struct rules_input in;
	char *text = NULL;

	(void)state;
	if (tnd_read_file(path, 1 << 20, &text, NULL, &err) != 0)
		fail_msg("%s", err.message);
	if (rules_parse(text, path, &set, &err) != 0)
		fail_msg("%s", err.message);
	in = base_input();
	in.action = "tenant.delete";
	in.time_ms = at("2026-11-28T12:00:00Z"); /* a Saturday */
	rules_evaluate(set, &in, &out);
	assert_int_equal(out.effect, RULES_DENY);
	assert_string_equal(out.reasons[0], "tenants are not deleted at weekends");
	rules_outcome_clear(&out);
	in.roles[0] = "admin";
	rules_evaluate(set, &in, &out);
	assert_int_equal(out.effect, RULES_ALLOW);
	rules_outcome_clear(&out);
	rules_set_free(set);
	free(text);
	free(path);
}

static void test_parse_time(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(rules_parse_time("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(rules_parse_time("2026-11-28T10:00:00.123Z", &ms), 0);
	assert_int_equal(ms, 1795860000123LL);
	assert_int_equal(rules_parse_time("2026-11-28T10:00:00.1Z", &ms), 0);
	assert_int_equal(ms % 1000, 100);
	assert_int_equal(rules_parse_time("2026-11-28T10:00:00", &ms), -EINVAL);
	assert_int_equal(rules_parse_time("2026-11-28T10:00:00+01:00", &ms), -EINVAL);
	assert_int_equal(rules_parse_time("2026-11-28 10:00:00Z", &ms), -EINVAL);
	assert_int_equal(rules_parse_time("2026-11-28T10:00:00.Z", &ms), -EINVAL);
}

/* --- every matcher: a match and a miss ----------------------------------------------------------- */

static void test_match_actions(void **state)
{
	struct rules_input in = base_input();

	(void)state;
	assert_true(one_rule_matches("actions = \"tenant.apply\";", &in));
	assert_true(one_rule_matches("actions = \"tenant.*\";", &in));
	assert_true(one_rule_matches("actions = [\"tenant.delete\", \"tenant.app?y\"];", &in));
	assert_false(one_rule_matches("actions = \"tenant.delete\";", &in));
	assert_false(one_rule_matches("actions = [\"workflow.*\", \"tenant.suspend\"];", &in));
	in.action = "workflow.step.provision";
	assert_true(one_rule_matches("actions = \"workflow.step.*\";", &in));
	assert_true(one_rule_matches("actions = \"*\";", &in));
	/* no matcher: any action */
	assert_true(one_rule_matches("", &in));
}

static void test_match_roles(void **state)
{
	struct rules_input in = base_input();

	(void)state;
	assert_true(one_rule_matches("roles = \"operator\";", &in));
	assert_true(one_rule_matches("roles = [\"admin\", \"operator\"];", &in));
	assert_false(one_rule_matches("roles = [\"admin\", \"viewer\"];", &in));
	in.roles[1] = "system";
	in.n_roles = 2;
	assert_true(one_rule_matches("roles = \"system\";", &in));
	in.n_roles = 0;
	assert_false(one_rule_matches("roles = \"operator\";", &in));
}

static void test_match_plan_isolation_region_residency(void **state)
{
	struct rules_input in = base_input();

	(void)state;
	assert_true(one_rule_matches("plans = [\"free\", \"business\"];", &in));
	assert_false(one_rule_matches("plans = \"free\";", &in));
	assert_true(one_rule_matches("isolation = \"shared\";", &in));
	assert_false(one_rule_matches("isolation = [\"dedicated\", \"hybrid\"];", &in));
	assert_true(one_rule_matches("regions = \"eu-*\";", &in));
	assert_false(one_rule_matches("regions = [\"us-east-1\", \"eu-central-1\"];", &in));
	assert_true(one_rule_matches("residency = \"eu\";", &in));
	assert_false(one_rule_matches("residency = \"us\";", &in));
	/* all given matchers must hold */
	assert_true(one_rule_matches("plans = \"business\"; regions = \"eu-west-1\"; residency = \"eu\";", &in));
	assert_false(one_rule_matches("plans = \"business\"; regions = \"eu-west-1\"; residency = \"us\";", &in));
	/* a fact the request lacks never matches */
	in.region = NULL;
	in.residency = NULL;
	assert_false(one_rule_matches("regions = \"*\";", &in));
	assert_false(one_rule_matches("residency = \"eu\";", &in));
}

static void test_match_labels(void **state)
{
	struct rules_input in = base_input();

	(void)state;
	assert_true(one_rule_matches("labels = { tier = \"gold\"; };", &in));
	assert_true(one_rule_matches("labels = { tier = \"gold\"; team = \"pay*\"; };", &in));
	assert_true(one_rule_matches("labels = { team = \"*\"; };", &in));
	assert_false(one_rule_matches("labels = { tier = \"silver\"; };", &in));
	assert_false(one_rule_matches("labels = { tier = \"gold\"; team = \"search\"; };", &in));
	assert_false(one_rule_matches("labels = { owner = \"*\"; };", &in)); /* absent key */
	/* the list form, for keys libconfig cannot name */
	in.label_keys[2] = "app.example.com";
	in.label_values[2] = "billing";
	in.n_labels = 3;
	assert_true(one_rule_matches("labels = [ \"app.example.com=bill*\", \"tier=gold\" ];", &in));
	assert_false(one_rule_matches("labels = [ \"app.example.com=search\" ];", &in));
	in.n_labels = 0;
	assert_false(one_rule_matches("labels = { tier = \"gold\"; };", &in));
}

/* --- time windows at their boundaries ------------------------------------------------------------- */

static void test_when_days(void **state)
{
	struct rules_input in = base_input();
	const char *weekend = "when = { days = [\"sat\", \"sun\"]; };";

	(void)state;
	in.time_ms = at("2026-11-28T00:00:00Z"); /* Saturday, first ms */
	assert_true(one_rule_matches(weekend, &in));
	in.time_ms = at("2026-11-29T23:59:59.999Z"); /* Sunday, last ms */
	assert_true(one_rule_matches(weekend, &in));
	in.time_ms = at("2026-11-27T23:59:59.999Z"); /* Friday, last ms */
	assert_false(one_rule_matches(weekend, &in));
	in.time_ms = at("2026-11-30T00:00:00Z"); /* Monday, first ms */
	assert_false(one_rule_matches(weekend, &in));
	in.time_ms = at("2026-11-30T00:00:00Z");
	assert_true(one_rule_matches("when = { days = [\"mon\"]; };", &in));
}

static void test_when_hours(void **state)
{
	struct rules_input in = base_input();
	const char *office = "when = { hours = [9, 17]; };";
	const char *night = "when = { hours = [22, 6]; };";

	(void)state;
	in.time_ms = at("2026-11-25T09:00:00Z");
	assert_true(one_rule_matches(office, &in));
	in.time_ms = at("2026-11-25T08:59:59.999Z");
	assert_false(one_rule_matches(office, &in));
	in.time_ms = at("2026-11-25T16:59:59.999Z");
	assert_true(one_rule_matches(office, &in));
	in.time_ms = at("2026-11-25T17:00:00Z");
	assert_false(one_rule_matches(office, &in));
	/* wrapping past midnight */
	in.time_ms = at("2026-11-25T22:00:00Z");
	assert_true(one_rule_matches(night, &in));
	in.time_ms = at("2026-11-25T21:59:59.999Z");
	assert_false(one_rule_matches(night, &in));
	in.time_ms = at("2026-11-26T05:59:59.999Z");
	assert_true(one_rule_matches(night, &in));
	in.time_ms = at("2026-11-26T06:00:00Z");
	assert_false(one_rule_matches(night, &in));
	in.time_ms = at("2026-11-26T00:00:00Z");
	assert_true(one_rule_matches(night, &in));
	/* until 24: to the end of the day */
	in.time_ms = at("2026-11-26T23:59:59.999Z");
	assert_true(one_rule_matches("when = { hours = [18, 24]; };", &in));
	/* days and hours together: Saturday 10:00-12:00 only */
	in.time_ms = at("2026-11-28T11:00:00Z");
	assert_true(one_rule_matches("when = { days = [\"sat\"]; hours = [10, 12]; };", &in));
	in.time_ms = at("2026-11-25T11:00:00Z");
	assert_false(one_rule_matches("when = { days = [\"sat\"]; hours = [10, 12]; };", &in));
}

static void test_when_absolute(void **state)
{
	struct rules_input in = base_input();
	const char *freeze = "when = { from = \"2026-12-20T00:00:00Z\"; until = \"2027-01-04T00:00:00Z\"; };";

	(void)state;
	in.time_ms = at("2026-12-20T00:00:00Z"); /* from is inclusive */
	assert_true(one_rule_matches(freeze, &in));
	in.time_ms = at("2026-12-19T23:59:59.999Z");
	assert_false(one_rule_matches(freeze, &in));
	in.time_ms = at("2027-01-03T23:59:59.999Z");
	assert_true(one_rule_matches(freeze, &in));
	in.time_ms = at("2027-01-04T00:00:00Z"); /* until is exclusive */
	assert_false(one_rule_matches(freeze, &in));
	/* open-ended */
	in.time_ms = at("2030-01-01T00:00:00Z");
	assert_true(one_rule_matches("when = { from = \"2026-12-20T00:00:00Z\"; };", &in));
	assert_false(one_rule_matches("when = { until = \"2026-12-20T00:00:00Z\"; };", &in));
	/* absolute and weekly together */
	in.time_ms = at("2026-12-26T12:00:00Z"); /* a Saturday inside the freeze */
	assert_true(one_rule_matches("when = { days = [\"sat\"]; from = \"2026-12-20T00:00:00Z\"; };", &in));
	in.time_ms = at("2026-12-24T12:00:00Z"); /* a Thursday inside it */
	assert_false(one_rule_matches("when = { days = [\"sat\"]; from = \"2026-12-20T00:00:00Z\"; };", &in));
}

/* --- evaluation order and defaults ------------------------------------------------------------------ */

static void test_evaluate_order_and_defaults(void **state)
{
	struct rules_input in = base_input();
	struct rules_outcome out;
	struct rules_set *set;

	(void)state;
	/* default allow, nothing matches */
	set = parse_ok("default = \"allow\"; rules = ( { effect = \"deny\"; reason = \"x\"; plans = \"free\"; } );");
	rules_evaluate(set, &in, &out);
	assert_int_equal(out.effect, RULES_ALLOW);
	assert_int_equal(out.n_reasons, 0);
	rules_outcome_clear(&out);
	rules_set_free(set);

	/* default deny, with and without a reason */
	set = parse_ok("default = \"deny\"; default_reason = \"closed\";");
	rules_evaluate(set, &in, &out);
	assert_int_equal(out.effect, RULES_DENY);
	assert_int_equal(out.n_reasons, 1);
	assert_string_equal(out.reasons[0], "closed");
	rules_outcome_clear(&out);
	rules_set_free(set);
	set = parse_ok("default = \"deny\";");
	rules_evaluate(set, &in, &out);
	assert_int_equal(out.effect, RULES_DENY);
	assert_string_equal(out.reasons[0], "denied by default");
	rules_outcome_clear(&out);
	rules_set_free(set);

	/* an allow rule short-circuits what follows, the default included */
	set = parse_ok("default = \"deny\"; rules = ( { name = \"ops\"; effect = \"allow\"; roles = \"operator\"; },"
		       " { effect = \"deny\"; reason = \"never\"; } );");
	rules_evaluate(set, &in, &out);
	assert_int_equal(out.effect, RULES_ALLOW);
	assert_non_null(out.decided_by);
	assert_string_equal(out.decided_by->name, "ops");
	rules_outcome_clear(&out);
	rules_set_free(set);

	/* every matching deny adds its reason; an allow below them does not lift them */
	set = parse_ok("default = \"allow\"; rules = ("
		       " { effect = \"deny\"; reason = \"eu frozen\"; residency = \"eu\"; },"
		       " { effect = \"deny\"; reason = \"not for free\"; plans = \"free\"; },"
		       " { effect = \"deny\"; reason = \"gold needs review\"; labels = { tier = \"gold\"; }; },"
		       " { effect = \"allow\"; },"
		       " { effect = \"deny\"; reason = \"after the allow\"; } );");
	rules_evaluate(set, &in, &out);
	assert_int_equal(out.effect, RULES_DENY);
	assert_int_equal(out.n_reasons, 2);
	assert_string_equal(out.reasons[0], "eu frozen");
	assert_string_equal(out.reasons[1], "gold needs review");
	assert_null(out.decided_by);
	rules_outcome_clear(&out);
	rules_set_free(set);
}

/* --- the plugin through a real host table ------------------------------------------------------------- */

struct plugin_fixture {
	char *dir;
	char *rules_path;
	struct tnd_host *host;
	const struct tnd_policy_ops *ops;
	void *ctx;
};

static const char deny_eu_rules[] =
	"default = \"allow\";\n"
	"rules = ( { effect = \"deny\"; reason = \"EU tenants are frozen\"; actions = \"tenant.*\"; residency = \"eu\"; } );\n";

static int plugin_setup(void **state)
{
	struct plugin_fixture *f = calloc(1, sizeof(*f));

	f->dir = testutil_mkdtemp("rules");
	f->rules_path = testutil_write_file(f->dir, "policy.rules", deny_eu_rules, 0644);
	f->host = host_new("rules", f->dir);
	f->ops = tnd_plugin_v1.ops;
	*state = f;
	return 0;
}

static int plugin_teardown(void **state)
{
	struct plugin_fixture *f = *state;

	if (f->ctx)
		tnd_plugin_v1.fini(f->ctx);
	host_free(f->host);
	testutil_rmrf(f->dir);
	free(f->dir);
	free(f->rules_path);
	free(f);
	return 0;
}

static int plugin_init(struct plugin_fixture *f, json_t *settings, struct tnd_error *err)
{
	int r = tnd_plugin_v1.init(f->host, host_json(settings), &f->ctx, err);

	json_decref(settings);
	return r;
}

/* Evaluate a §9 request for @action on a tenant residing in @residency at
 * @time; returns the parsed answer. */
static json_t *plugin_ask(struct plugin_fixture *f, const char *action, const char *residency, const char *time)
{
	json_t *request = json_pack(
		"{s:s, s:{s:s, s:[s]}, s:{s:s, s:{s:{s:s, s:{s:s}}, s:{s:s, s:s, s:{s:s}}}, s:s, s:{s:s, s:s}},"
		" s:{s:s, s:s, s:s, s:s}}",
		"action", action, "actor", "id", "ops-bot", "roles", "operator", "tenant", "id", "acme", "manifest",
		"metadata", "id", "acme", "labels", "tier", "gold", "spec", "plan", "business", "isolation", "shared",
		"placement", "residency", residency, "phase", "Active", "placement", "region", "eu-west-1",
		"isolation", "shared", "context", "region", "eu-west-1", "plan", "business", "time", time,
		"requestId", "r-1");
	struct tnd_error err = { "" };
	struct tnd_buf out;
	json_t *answer;

	assert_non_null(request);
	tnd_buf_init(&out);
	if (f->ops->evaluate(f->ctx, host_json(request), &out, &err) != 0)
		fail_msg("evaluate failed: %s", err.message);
	answer = json_loadb(out.data, out.len, 0, NULL);
	assert_non_null(answer);
	tnd_buf_free(&out);
	json_decref(request);
	return answer;
}

static const char *decision_of(const json_t *answer)
{
	return json_string_value(json_object_get(answer, "decision"));
}

static void test_plugin_evaluate(void **state)
{
	struct plugin_fixture *f = *state;
	struct tnd_error err = { "" };
	json_t *answer;

	assert_int_equal(plugin_init(f, json_pack("{s:s}", "rules_file", f->rules_path), &err), 0);
	answer = plugin_ask(f, "tenant.suspend", "eu", "2026-11-25T12:00:00.000Z");
	assert_string_equal(decision_of(answer), "deny");
	assert_string_equal(json_string_value(json_array_get(json_object_get(answer, "reasons"), 0)),
			    "EU tenants are frozen");
	assert_true(json_is_object(json_object_get(answer, "obligations")));
	json_decref(answer);
	answer = plugin_ask(f, "tenant.suspend", "us", "2026-11-25T12:00:00.000Z");
	assert_string_equal(decision_of(answer), "allow");
	assert_int_equal(json_array_size(json_object_get(answer, "reasons")), 0);
	json_decref(answer);
	answer = plugin_ask(f, "workflow.step.provision", "eu", "2026-11-25T12:00:00.000Z");
	assert_string_equal(decision_of(answer), "allow");
	json_decref(answer);
}

/* The request's context.time is the clock rules see. */
static void test_plugin_request_time(void **state)
{
	struct plugin_fixture *f = *state;
	struct tnd_error err = { "" };
	json_t *answer;

	free(testutil_write_file(f->dir, "policy.rules",
				 "default = \"allow\"; rules = ( { effect = \"deny\"; reason = \"weekend\";"
				 " when = { days = [\"sat\", \"sun\"]; }; } );",
				 0644));
	assert_int_equal(plugin_init(f, json_pack("{s:s}", "rules_file", f->rules_path), &err), 0);
	answer = plugin_ask(f, "tenant.apply", "eu", "2026-11-28T00:00:00.000Z");
	assert_string_equal(decision_of(answer), "deny");
	json_decref(answer);
	answer = plugin_ask(f, "tenant.apply", "eu", "2026-11-27T23:59:59.999Z");
	assert_string_equal(decision_of(answer), "allow");
	json_decref(answer);
}

static void test_plugin_settings(void **state)
{
	struct plugin_fixture *f = *state;
	struct tnd_error err = { "" };
	char *missing;

	assert_int_equal(plugin_init(f, json_object(), &err), -EINVAL);
	assert_non_null(strstr(err.message, "rules_file"));
	assert_int_equal(plugin_init(f, json_pack("{s:s}", "rules_file", "policy.rules"), &err), -EINVAL);
	assert_non_null(strstr(err.message, "absolute path"));
	assert_int_equal(plugin_init(f, json_pack("{s:s,s:i}", "rules_file", f->rules_path, "colour", 1), &err),
			 -EINVAL);
	assert_non_null(strstr(err.message, "unknown setting 'colour'"));
	missing = tnd_xasprintf("%s/nope.rules", f->dir);
	assert_int_equal(plugin_init(f, json_pack("{s:s}", "rules_file", missing), &err), -ENOENT);
	free(missing);
	assert_null(f->ctx);
	/* check_config (tenancyd -t) parses the file too */
	{
		json_t *settings = json_pack("{s:s}", "rules_file", f->rules_path);
		assert_int_equal(tnd_plugin_v1.check_config(f->host, host_json(settings), &err), 0);
		free(testutil_write_file(f->dir, "policy.rules", "default = \"perhaps\";", 0644));
		assert_int_equal(tnd_plugin_v1.check_config(f->host, host_json(settings), &err), -EINVAL);
		assert_non_null(strstr(err.message, "policy.rules:1:"));
		json_decref(settings);
	}
}

static void test_plugin_unsafe_file(void **state)
{
	struct plugin_fixture *f = *state;
	struct tnd_error err = { "" };

	assert_int_equal(chmod(f->rules_path, 0664), 0);
	assert_int_equal(plugin_init(f, json_pack("{s:s}", "rules_file", f->rules_path), &err), -EPERM);
	assert_non_null(strstr(err.message, "writable by group or others"));
	assert_int_equal(chmod(f->rules_path, 0646), 0);
	assert_int_equal(plugin_init(f, json_pack("{s:s}", "rules_file", f->rules_path), &err), -EPERM);
	assert_int_equal(chmod(f->rules_path, 0640), 0);
	assert_int_equal(plugin_init(f, json_pack("{s:s}", "rules_file", f->rules_path), &err), 0);
}

static void test_plugin_reload(void **state)
{
	struct plugin_fixture *f = *state;
	struct tnd_error err = { "" };
	json_t *answer;

	assert_int_equal(plugin_init(f, json_pack("{s:s}", "rules_file", f->rules_path), &err), 0);
	/* a bad file: the reload fails, the old rules stay */
	free(testutil_write_file(f->dir, "policy.rules", "default = \"allow\"; rules = ( { effect = \"deny\"; } );",
				 0644));
	assert_int_equal(f->ops->reload(f->ctx, &err), -EINVAL);
	assert_non_null(strstr(err.message, "needs a 'reason'"));
	answer = plugin_ask(f, "tenant.apply", "eu", "2026-11-25T12:00:00.000Z");
	assert_string_equal(decision_of(answer), "deny");
	json_decref(answer);
	/* an unsafe file: the same */
	free(testutil_write_file(f->dir, "policy.rules", "default = \"allow\";", 0644));
	assert_int_equal(chmod(f->rules_path, 0666), 0);
	assert_int_equal(f->ops->reload(f->ctx, &err), -EPERM);
	answer = plugin_ask(f, "tenant.apply", "eu", "2026-11-25T12:00:00.000Z");
	assert_string_equal(decision_of(answer), "deny");
	json_decref(answer);
	/* a good file: swapped in */
	assert_int_equal(chmod(f->rules_path, 0644), 0);
	assert_int_equal(f->ops->reload(f->ctx, &err), 0);
	answer = plugin_ask(f, "tenant.apply", "eu", "2026-11-25T12:00:00.000Z");
	assert_string_equal(decision_of(answer), "allow");
	json_decref(answer);
	/* a missing file: the rules stay */
	assert_int_equal(unlink(f->rules_path), 0);
	assert_int_equal(f->ops->reload(f->ctx, &err), -ENOENT);
	answer = plugin_ask(f, "tenant.apply", "eu", "2026-11-25T12:00:00.000Z");
	assert_string_equal(decision_of(answer), "allow");
	json_decref(answer);
}

static void test_plugin_malformed_request(void **state)
{
	struct plugin_fixture *f = *state;
	struct tnd_error err = { "" };
	json_t *request = json_pack("{s:{}}", "actor");
	struct tnd_buf out;

	assert_int_equal(plugin_init(f, json_pack("{s:s}", "rules_file", f->rules_path), &err), 0);
	tnd_buf_init(&out);
	assert_int_equal(f->ops->evaluate(f->ctx, host_json(request), &out, &err), -EINVAL);
	assert_non_null(strstr(err.message, "no action"));
	tnd_buf_free(&out);
	json_decref(request);
}

static int compare_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Not a pass/fail check: how long one evaluation of a realistic rule set
 * takes through the plugin (host JSON access, matching, the answer). */
static void test_plugin_latency(void **state)
{
	enum { RUNS = 20000 };
	struct plugin_fixture *f = *state;
	struct tnd_error err = { "" };
	static int64_t samples[RUNS];
	json_t *request;
	struct tnd_buf out;

	free(testutil_write_file(
		f->dir, "policy.rules",
		"default = \"allow\"; rules = (\n"
		"  { effect = \"allow\"; roles = \"admin\"; },\n"
		"  { effect = \"deny\"; reason = \"freeze\"; actions = \"tenant.*\"; when = { from = \"2026-12-20T00:00:00Z\";"
		"    until = \"2027-01-04T00:00:00Z\"; }; },\n"
		"  { effect = \"deny\"; reason = \"weekend\"; when = { days = [\"sat\", \"sun\"]; hours = [0, 6]; }; },\n"
		"  { effect = \"deny\"; reason = \"no dedicated on free\"; plans = \"free\"; isolation = \"dedicated\"; },\n"
		"  { effect = \"deny\"; reason = \"us data stays in us\"; residency = \"us\"; regions = \"eu-*\"; },\n"
		"  { effect = \"deny\"; reason = \"gold needs review\"; actions = \"tenant.delete\"; labels = { tier = \"gold\"; }; },\n"
		"  { effect = \"deny\"; reason = \"viewers\"; roles = [\"viewer\", \"tenant\"]; },\n"
		"  { effect = \"deny\"; reason = \"eu suspend\"; actions = \"tenant.suspend\"; residency = \"eu\"; }\n"
		");\n",
		0644));
	assert_int_equal(plugin_init(f, json_pack("{s:s}", "rules_file", f->rules_path), &err), 0);
	request = json_pack("{s:s, s:{s:s, s:[s]}, s:{s:s, s:{s:{s:s, s:{s:s}}, s:{s:s, s:{s:s}}}, s:{s:s, s:s}},"
			    " s:{s:s, s:s, s:s}}",
			    "action", "tenant.apply", "actor", "id", "ops-bot", "roles", "operator", "tenant", "id", "acme",
			    "manifest", "metadata", "id", "acme", "labels", "tier", "gold", "spec", "plan", "business",
			    "placement", "residency", "eu", "placement", "region", "eu-west-1", "isolation", "shared",
			    "context", "region", "eu-west-1", "plan", "business", "time", "2026-11-25T12:00:00.000Z");
	tnd_buf_init(&out);
	for (int i = 0; i < RUNS; i++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		tnd_buf_reset(&out);
		assert_int_equal(f->ops->evaluate(f->ctx, host_json(request), &out, &err), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		samples[i] = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
	}
	assert_non_null(strstr(out.data, "\"allow\""));
	qsort(samples, RUNS, sizeof(samples[0]), compare_i64);
	printf("# rules evaluation through the plugin (8 rules, %d runs): p50 %.2f us, p99 %.2f us, max %.2f us\n",
	       RUNS, samples[RUNS / 2] / 1000.0, samples[RUNS * 99 / 100] / 1000.0, samples[RUNS - 1] / 1000.0);
	tnd_buf_free(&out);
	json_decref(request);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_shipped_example),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_match_actions),
		cmocka_unit_test(test_match_roles),
		cmocka_unit_test(test_match_plan_isolation_region_residency),
		cmocka_unit_test(test_match_labels),
		cmocka_unit_test(test_when_days),
		cmocka_unit_test(test_when_hours),
		cmocka_unit_test(test_when_absolute),
		cmocka_unit_test(test_evaluate_order_and_defaults),
		cmocka_unit_test_setup_teardown(test_plugin_evaluate, plugin_setup, plugin_teardown),
		cmocka_unit_test_setup_teardown(test_plugin_request_time, plugin_setup, plugin_teardown),
		cmocka_unit_test_setup_teardown(test_plugin_settings, plugin_setup, plugin_teardown),
		cmocka_unit_test_setup_teardown(test_plugin_unsafe_file, plugin_setup, plugin_teardown),
		cmocka_unit_test_setup_teardown(test_plugin_reload, plugin_setup, plugin_teardown),
		cmocka_unit_test_setup_teardown(test_plugin_malformed_request, plugin_setup, plugin_teardown),
		cmocka_unit_test_setup_teardown(test_plugin_latency, plugin_setup, plugin_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
