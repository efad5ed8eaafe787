/*
 * test_lifecycle.c — the lifecycle state machine: every cell of the 5×5
 * transition table against DESIGN.md §4 written out independently, the
 * 409 message, and the phase/state name round trips.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lifecycle.h"

#define D TND_PHASE_DRAFT
#define A TND_PHASE_ACTIVE
#define S TND_PHASE_SUSPENDED
#define R TND_PHASE_ARCHIVED
#define X TND_PHASE_DELETED

/* DESIGN.md §4, row = from, column = to (D A S R X). */
static const bool expected[5][5] = {
	/* D */ { 0, 1, 0, 0, 1 },
	/* A */ { 0, 0, 1, 1, 0 },
	/* S */ { 0, 1, 0, 1, 0 },
	/* R */ { 0, 0, 0, 0, 1 },
	/* X */ { 0, 0, 0, 0, 0 },
};

static void test_table(void **state)
{
	static const enum tnd_phase phases[] = { D, A, S, R, X };

	for (int from = 0; from < 5; from++) {
		for (int to = 0; to < 5; to++) {
			struct tnd_error err = { "" };
			int r = lifecycle_check(phases[from], phases[to], &err);

			if (lifecycle_transition_allowed(phases[from], phases[to]) != expected[from][to])
				fail_msg("%s -> %s", lifecycle_phase_name(phases[from]),
					 lifecycle_phase_name(phases[to]));
			if (from == to || expected[from][to]) {
				assert_int_equal(r, 0);
				continue;
			}
			assert_int_equal(r, -EPERM);
			/* the 409 names both phases */
			assert_non_null(strstr(err.message, lifecycle_phase_name(phases[from])));
			assert_non_null(strstr(err.message, lifecycle_phase_name(phases[to])));
		}
	}
	/* staying put is allowed by lifecycle_check but is no transition */
	assert_false(lifecycle_transition_allowed(A, A));
}

static void test_messages(void **state)
{
	struct tnd_error err = { "" };

	assert_int_equal(lifecycle_check(D, S, &err), -EPERM);
	assert_string_equal(err.message, "cannot go from Draft to Suspended: allowed from Draft: Active, Deleted");
	assert_int_equal(lifecycle_check(A, X, &err), -EPERM);
	assert_string_equal(err.message,
			    "cannot go from Active to Deleted: allowed from Active: Suspended, Archived");
	assert_int_equal(lifecycle_check(X, A, &err), -EPERM);
	assert_string_equal(err.message, "cannot go from Deleted to Active: allowed from Deleted: none");
	assert_int_equal(lifecycle_check(R, A, NULL), -EPERM);
	assert_int_equal(lifecycle_check(TND_PHASE_INVALID, A, &err), -EINVAL);
	assert_int_equal(lifecycle_check(A, (enum tnd_phase)5, &err), -EINVAL);
	assert_false(lifecycle_transition_allowed(TND_PHASE_INVALID, A));
}

static void test_names(void **state)
{
	static const char *const phase_names[] = { "Draft", "Active", "Suspended", "Archived", "Deleted" };
	static const char *const state_names[] = { "draft", "active", "suspended", "archived", "deleted" };

	for (int p = D; p <= X; p++) {
		assert_string_equal(lifecycle_phase_name((enum tnd_phase)p), phase_names[p]);
		assert_string_equal(lifecycle_state_name((enum tnd_phase)p), state_names[p]);
		assert_int_equal(lifecycle_phase_parse(phase_names[p]), p);
		assert_int_equal(lifecycle_phase_parse(state_names[p]), p);
		assert_int_equal(lifecycle_phase_parse(lifecycle_phase_name((enum tnd_phase)p)), p);
	}
	assert_int_equal(lifecycle_phase_parse("SUSPENDED"), S);
	assert_int_equal(lifecycle_phase_parse("paused"), TND_PHASE_INVALID);
	assert_int_equal(lifecycle_phase_parse("activ"), TND_PHASE_INVALID);
	assert_int_equal(lifecycle_phase_parse(""), TND_PHASE_INVALID);
	assert_int_equal(lifecycle_phase_parse(NULL), TND_PHASE_INVALID);
	assert_null(lifecycle_phase_name(TND_PHASE_INVALID));
	assert_null(lifecycle_state_name((enum tnd_phase)5));
}

static void test_requestable(void **state)
{
	assert_true(lifecycle_state_requestable(D));
	assert_true(lifecycle_state_requestable(A));
	assert_true(lifecycle_state_requestable(S));
	assert_true(lifecycle_state_requestable(R));
	assert_false(lifecycle_state_requestable(X));
	assert_false(lifecycle_state_requestable(TND_PHASE_INVALID));
}

/* The history a jumping workflow records must be made of allowed hops. */
static void test_paths(void **state)
{
	enum tnd_phase path[5];

	(void)state;
	assert_int_equal(lifecycle_path(TND_PHASE_ACTIVE, TND_PHASE_ACTIVE, path), 0);
	assert_int_equal(lifecycle_path(TND_PHASE_DRAFT, TND_PHASE_ACTIVE, path), 1);
	assert_int_equal(path[0], TND_PHASE_ACTIVE);
	assert_int_equal(lifecycle_path(TND_PHASE_DRAFT, TND_PHASE_SUSPENDED, path), 2);
	assert_int_equal(path[0], TND_PHASE_ACTIVE);
	assert_int_equal(path[1], TND_PHASE_SUSPENDED);
	assert_int_equal(lifecycle_path(TND_PHASE_DRAFT, TND_PHASE_ARCHIVED, path), 2);
	assert_int_equal(path[1], TND_PHASE_ARCHIVED);
	/* Active → Deleted goes through Archived */
	assert_int_equal(lifecycle_path(TND_PHASE_ACTIVE, TND_PHASE_DELETED, path), 2);
	assert_int_equal(path[0], TND_PHASE_ARCHIVED);
	assert_int_equal(path[1], TND_PHASE_DELETED);
	/* nothing leaves Deleted, nothing returns to Draft */
	assert_int_equal(lifecycle_path(TND_PHASE_DELETED, TND_PHASE_ACTIVE, path), -1);
	assert_int_equal(lifecycle_path(TND_PHASE_ACTIVE, TND_PHASE_DRAFT, path), -1);
	assert_int_equal(lifecycle_path(TND_PHASE_INVALID, TND_PHASE_ACTIVE, path), -1);
	/* every hop of every path is an allowed transition */
	for (int a = TND_PHASE_DRAFT; a <= TND_PHASE_DELETED; a++)
		for (int b = TND_PHASE_DRAFT; b <= TND_PHASE_DELETED; b++) {
			int n = lifecycle_path((enum tnd_phase)a, (enum tnd_phase)b, path);
			enum tnd_phase from = (enum tnd_phase)a;
			for (int i = 0; i < n; i++) {
				assert_true(lifecycle_transition_allowed(from, path[i]));
				from = path[i];
			}
			if (n > 0)
				assert_int_equal(from, b);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_requestable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
