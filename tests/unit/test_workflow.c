/*
 * test_workflow.c — workflow planning (which ops take a tenant from its
 * phase to its desired state), the step bookkeeping that makes checkpoints,
 * retries with exponential backoff and full jitter, and sealed credentials.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "credentials.h"
#include "testutil.h"
#include "util.h"
#include "workflow.h"

static void assert_plan(enum tnd_phase from, enum tnd_phase to, bool spec_changed, bool repair, const char *kind,
			const char *s1, const char *s2)
{
	struct workflow_plan plan;

	workflow_plan_steps(from, to, spec_changed, repair, &plan);
	assert_string_equal(plan.kind, kind);
	assert_int_equal(plan.n_steps, (s1 != NULL) + (s2 != NULL));
	if (s1)
		assert_string_equal(plan.steps[0], s1);
	if (s2)
		assert_string_equal(plan.steps[1], s2);
}

static void test_plans(void **state)
{
	(void)state;
	/* a draft owns nothing: no steps whatever changes */
	assert_plan(TND_PHASE_DRAFT, TND_PHASE_DRAFT, true, false, "update", NULL, NULL);
	assert_plan(TND_PHASE_DRAFT, TND_PHASE_DELETED, false, false, "delete", NULL, NULL);
	assert_plan(TND_PHASE_DRAFT, TND_PHASE_ACTIVE, true, false, "activate", "provision", NULL);
	assert_plan(TND_PHASE_ACTIVE, TND_PHASE_ACTIVE, true, false, "update", "provision", NULL);
	assert_plan(TND_PHASE_ACTIVE, TND_PHASE_ACTIVE, false, true, "repair", "provision", NULL);
	assert_plan(TND_PHASE_ACTIVE, TND_PHASE_SUSPENDED, false, false, "suspend", "suspend", NULL);
	/* a plan change on the way to Suspended re-applies parameters first */
	assert_plan(TND_PHASE_ACTIVE, TND_PHASE_SUSPENDED, true, false, "suspend", "provision", "suspend");
	assert_plan(TND_PHASE_SUSPENDED, TND_PHASE_ACTIVE, false, false, "resume", "resume", NULL);
	assert_plan(TND_PHASE_SUSPENDED, TND_PHASE_ACTIVE, true, false, "resume", "provision", NULL);
	assert_plan(TND_PHASE_SUSPENDED, TND_PHASE_SUSPENDED, false, true, "repair", "provision", "suspend");
	assert_plan(TND_PHASE_ACTIVE, TND_PHASE_ARCHIVED, false, false, "archive", "archive", NULL);
	/* never active (its activation superseded or failed): build, then archive */
	assert_plan(TND_PHASE_DRAFT, TND_PHASE_ARCHIVED, false, false, "archive", "provision", "archive");
	assert_plan(TND_PHASE_SUSPENDED, TND_PHASE_ARCHIVED, true, false, "archive", "archive", NULL);
	assert_plan(TND_PHASE_ARCHIVED, TND_PHASE_ARCHIVED, true, false, "update", "archive", NULL);
	assert_plan(TND_PHASE_ARCHIVED, TND_PHASE_ARCHIVED, false, true, "repair", "provision", "archive");
	assert_plan(TND_PHASE_ARCHIVED, TND_PHASE_DELETED, false, false, "delete", "destroy", NULL);
}

static struct workflow *two_step_workflow(void)
{
	struct workflow_plan plan;

	workflow_plan_steps(TND_PHASE_ACTIVE, TND_PHASE_SUSPENDED, true, false, &plan);
	return workflow_new("acme-corp", 4, TND_PHASE_SUSPENDED, &plan, "shared_schema", "eu-west-1", "shared", "ops",
			    "req-1", 1000);
}

static void test_new_workflow_document(void **state)
{
	struct workflow *wf = two_step_workflow();
	json_t *api;

	(void)state;
	assert_true(strncmp(wf->id, "wf-0000000001000-", 17) == 0);
	assert_int_equal(wf->state, WORKFLOW_PENDING);
	assert_int_equal(wf->step, 0);
	assert_int_equal(workflow_step_count(wf), 2);
	assert_string_equal(workflow_step_op(wf, 0), "provision");
	assert_string_equal(workflow_step_op(wf, 1), "suspend");
	assert_null(workflow_step_op(wf, 2));
	assert_int_equal(workflow_target_phase(wf), TND_PHASE_SUSPENDED);
	assert_string_equal(workflow_plugin(wf), "shared_schema");
	api = workflow_to_json(wf);
	assert_string_equal(json_string_value(json_object_get(api, "state")), "Pending");
	assert_string_equal(json_string_value(json_object_get(api, "targetState")), "suspended");
	assert_int_equal(json_integer_value(json_object_get(api, "targetVersion")), 4);
	assert_non_null(json_object_get(api, "nextAttemptAt"));
	json_decref(api);
	workflow_free(wf);
}

static void test_steps_advance_the_checkpoint(void **state)
{
	struct workflow *wf = two_step_workflow();
	json_t *step;

	(void)state;
	workflow_step_started(wf, 0, 2000, "local-1");
	assert_false(workflow_step_succeeded(wf, 0, 2100, 100.0, "local-1"));
	assert_int_equal(wf->step, 1);
	assert_int_equal(wf->state, WORKFLOW_RUNNING);
	step = json_array_get(json_object_get(wf->doc, "steps"), 0);
	assert_string_equal(json_string_value(json_object_get(step, "status")), "succeeded");
	assert_int_equal(json_integer_value(json_object_get(step, "attempts")), 1);
	assert_string_equal(json_string_value(json_object_get(step, "worker")), "local-1");
	assert_true(workflow_step_succeeded(wf, 1, 2200, 50.0, "local-2"));
	assert_int_equal(wf->state, WORKFLOW_SUCCEEDED);
	assert_int_equal(wf->step, 2);
	workflow_free(wf);
}

static void test_failures_back_off_then_fail(void **state)
{
	struct workflow *wf = two_step_workflow();
	int64_t now = 10000;

	(void)state;
	for (int attempt = 1; attempt < 5; attempt++) {
		int64_t ceiling = 100LL << (attempt - 1);
		assert_false(workflow_step_failed(wf, 0, "connection refused", now, 5.0, "local-1", 5, 100, 100000));
		assert_int_equal(wf->attempts, attempt);
		assert_int_equal(wf->state, WORKFLOW_PENDING);
		/* full jitter: anywhere from now to now + base·2^(attempt-1) */
		assert_true(wf->next_attempt_ms >= now);
		assert_true(wf->next_attempt_ms <= now + ceiling);
		assert_string_equal(json_string_value(json_object_get(wf->doc, "error")), "provision: connection refused");
	}
	assert_true(workflow_step_failed(wf, 0, "connection refused", now, 5.0, "local-1", 5, 100, 100000));
	assert_int_equal(wf->state, WORKFLOW_FAILED);
	assert_int_equal(wf->step, 0);
	workflow_free(wf);
}

static void test_backoff_grows_and_is_capped(void **state)
{
	int64_t max_seen[8] = { 0 };

	(void)state;
	for (int i = 0; i < 4000; i++)
		for (int a = 0; a < 8; a++) {
			int64_t d = workflow_backoff_ms(a, 100, 5000);
			assert_true(d >= 0);
			assert_true(d <= (100LL << a < 5000 ? 100LL << a : 5000));
			if (d > max_seen[a])
				max_seen[a] = d;
		}
	/* with 4000 draws the maxima approach each ceiling: the delay really grows */
	for (int a = 0; a < 6; a++)
		assert_true(max_seen[a] > (100LL << a) * 9 / 10 || max_seen[a] > 4500);
	assert_true(max_seen[7] <= 5000);
}

static void test_credentials_seal_and_open(void **state)
{
	char *dir = testutil_mkdtemp("cred");
	char *path = testutil_write_file(dir, "key", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", 0600);
	char *hexpath = testutil_write_file(dir, "hexkey",
					    "3031323334353637383961626364656630313233343536373839616263646566\n", 0600);
	char *loose = testutil_write_file(dir, "loose", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n", 0644);
	struct credentials_key *key = NULL, *same = NULL, *other = NULL;
	struct tnd_error err = { "" };
	char password[44], user[48], *sealed = NULL, *plain = NULL;

	(void)state;
	assert_int_equal(credentials_key_load(path, &key, &err), 0);
	/* hex and base64 of the same 32 bytes are the same key */
	assert_int_equal(credentials_key_load(hexpath, &same, &err), 0);
	assert_string_equal(credentials_key_id(key), credentials_key_id(same));
	assert_int_equal(credentials_key_load(loose, &other, &err), -EPERM);

	credentials_password_generate(password);
	assert_int_equal(strlen(password), 43);
	credentials_username("acme-corp", user);
	assert_string_equal(user, "t_acme_corp");
	assert_int_equal(credentials_seal(key, "acme-corp", password, &sealed, &err), 0);
	assert_null(strstr(sealed, password));
	assert_int_equal(credentials_open(same, credentials_key_id(key), "acme-corp", sealed, &plain, &err), 0);
	assert_string_equal(plain, password);
	free(plain);
	/* bound to the tenant: another tenant's row cannot use it */
	assert_int_equal(credentials_open(key, credentials_key_id(key), "globex", sealed, &plain, &err), -EBADMSG);
	/* another key id is refused before trying */
	assert_int_equal(credentials_open(key, "0000000000000000", "acme-corp", sealed, &plain, &err), -ENOKEY);
	/* a flipped byte does not authenticate */
	sealed[20] = sealed[20] == 'A' ? 'B' : 'A';
	assert_int_equal(credentials_open(key, credentials_key_id(key), "acme-corp", sealed, &plain, &err), -EBADMSG);

	free(sealed);
	credentials_key_free(key);
	credentials_key_free(same);
	free(path);
	free(hexpath);
	free(loose);
	testutil_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plans),
		cmocka_unit_test(test_new_workflow_document),
		cmocka_unit_test(test_steps_advance_the_checkpoint),
		cmocka_unit_test(test_failures_back_off_then_fail),
		cmocka_unit_test(test_backoff_grows_and_is_capped),
		cmocka_unit_test(test_credentials_seal_and_open),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
