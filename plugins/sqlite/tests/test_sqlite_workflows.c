/*
 * test_sqlite_workflows.c — what storage ABI 1.1 added to the sqlite
 * plugin, driven through the built sqlite.so as the core drives it:
 * reconcile workflows (every field, insert and update preconditions, list
 * filters and cursors checked against a model), encrypted credentials
 * (put, replace, get, delete), and atomicity of commits mixing tenant,
 * workflow, credential and phase writes.  The `unsettled` tenant filter is
 * tested with the other searches in test_sqlite_storage.c, concurrency and
 * kill -9 in test_sqlite_concurrency.c, schema migration and query plans
 * in test_sqlite_migration.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host.h"
#include "sqlite_harness.h"
#include "testutil.h"
#include "util.h"

/* --- helpers ------------------------------------------------------------------------------ */

/* Every id @query finds, paging by its limit with after_id; each page is
 * checked to hold at most the limit, in strictly increasing id order. */
static char *list_all_ids(struct harness *h, const struct tnd_workflow_query *query)
{
	struct tnd_workflow_query q = *query;
	struct tnd_buf ids = { 0 };
	struct tnd_error err = { { 0 } };
	char cursor[64] = "";
	size_t page_cap = q.limit == 0 ? 100 : q.limit;

	for (;;) {
		struct workflow_list page = { 0 };
		int r;

		q.after_id = cursor[0] ? cursor : NULL;
		r = h->ops->workflow_list(h->ctx, &q, harness_collect_workflow, &page, &err);
		if (r != 0)
			fail_msg("workflow_list: %d %s", r, err.message);
		assert_true(page.n <= page_cap);
		for (size_t i = 0; i < page.n; i++) {
			assert_true(strcmp(page.items[i].id, cursor) > 0);
			snprintf(cursor, sizeof(cursor), "%s", page.items[i].id);
			tnd_buf_addf(&ids, "%s%s", ids.len ? "," : "", page.items[i].id);
		}
		if (page.n < page_cap) {
			workflow_list_free(&page);
			break;
		}
		workflow_list_free(&page);
	}
	return ids.data ? tnd_buf_steal(&ids) : tnd_xstrdup("");
}

#define assert_ids(got_expr, expected)                 \
	do {                                           \
		char *got_ = (got_expr);               \
		assert_string_equal(got_, (expected)); \
		free(got_);                            \
	} while (0)

static int64_t phase_count(struct harness *h, const char *tenant_id)
{
	struct tnd_error err = { { 0 } };
	struct int_list list = { 0 };
	size_t n;

	assert_int_equal(h->ops->phase_list(h->ctx, tenant_id, 0, 0, harness_collect_phase, &list, &err), 0);
	n = list.n;
	int_list_free(&list);
	return (int64_t)n;
}

/* --- workflows: records and preconditions ------------------------------------------------- */

static void test_workflow_roundtrip(void **state)
{
	struct harness *h = *state;
	struct tnd_workflow_record rec = {
		.size = sizeof(rec),
		.id = "wf-20261128-0001",
		.revision = 4,
		.tenant_id = "acme-corp",
		.kind = "update",
		.target_version = 7,
		.state = "Running",
		.step = 2,
		.attempts = 3,
		.next_attempt_ms = 1700000009999,
		.document_json = " {\"steps\":[{\"op\":\"provision\",\"error\":\"timeout\"}],\"drift\":[]}\n",
		.created_ms = 1700000000123,
		.updated_ms = 1700000000456,
	};
	struct tnd_error err = { { 0 } };
	struct workflow_list list = { 0 };

	/* no tenant "acme-corp" exists: workflows do not reference tenants */
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_INSERT, 0, &rec, &err), 0);
	harness_get_workflow(h, rec.id, &list);
	assert_string_equal(list.items[0].id, rec.id);
	assert_int_equal(list.items[0].revision, 4);
	assert_string_equal(list.items[0].tenant_id, rec.tenant_id);
	assert_string_equal(list.items[0].kind, rec.kind);
	assert_int_equal(list.items[0].target_version, 7);
	assert_string_equal(list.items[0].state, rec.state);
	assert_int_equal(list.items[0].step, 2);
	assert_int_equal(list.items[0].attempts, 3);
	assert_int_equal(list.items[0].next_attempt_ms, rec.next_attempt_ms);
	assert_string_equal(list.items[0].document_json, rec.document_json);
	assert_int_equal(list.items[0].created_ms, rec.created_ms);
	assert_int_equal(list.items[0].updated_ms, rec.updated_ms);
	workflow_list_free(&list);

	assert_int_equal(h->ops->workflow_get(h->ctx, "wf-none", harness_collect_workflow, &list, &err), -ENOENT);
	assert_non_null(strstr(err.message, "wf-none"));
	assert_int_equal(list.n, 0);
	assert_int_equal(h->ops->workflow_get(h->ctx, NULL, NULL, NULL, &err), -EINVAL);
	/* a NULL visitor is allowed: existence only */
	assert_int_equal(h->ops->workflow_get(h->ctx, rec.id, NULL, NULL, &err), 0);
}

static void test_workflow_insert_refusals(void **state)
{
	struct harness *h = *state;
	struct tnd_workflow_record good = harness_workflow("wf-good", "t1", "Pending");
	struct tnd_workflow_record bad;
	struct tnd_write writes[2] = {
		{ .kind = TND_WRITE_WORKFLOW_INSERT, .record = &good },
		{ .kind = TND_WRITE_WORKFLOW_INSERT, .record = &bad },
	};
	const char *const states[] = { "Pending", "Running", "Succeeded", "Failed", "Superseded" };
	const char *const bad_states[] = { "pending", "Done", "", "Running ", NULL };
	const char *const bad_documents[] = { "[]", "\"x\"", "{", "", "null", NULL };
	struct tnd_error err = { { 0 } };
	size_t failed = 99;

	/* NULL (and empty) required fields, each after a good write */
	for (int field = 0; field < 10; field++) {
		const char *missing = field < 5 ? NULL : "";

		bad = harness_workflow("wf-bad", "t1", "Pending");
		if (field % 5 == 0)
			bad.id = missing;
		else if (field % 5 == 1)
			bad.tenant_id = missing;
		else if (field % 5 == 2)
			bad.kind = missing;
		else if (field % 5 == 3)
			bad.state = missing;
		else
			bad.document_json = missing;
		failed = 99;
		assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -EINVAL);
		assert_int_equal(failed, 1);
	}
	for (size_t i = 0; bad_states[i] != NULL; i++) {
		bad = harness_workflow("wf-bad", "t1", bad_states[i]);
		assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -EINVAL);
		if (bad_states[i][0] != '\0')
			assert_non_null(strstr(err.message, bad_states[i]));
	}
	for (size_t i = 0; bad_documents[i] != NULL; i++) {
		bad = harness_workflow("wf-bad", "t1", "Pending");
		bad.document_json = bad_documents[i];
		assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -EINVAL);
		assert_non_null(strstr(err.message, "document_json"));
	}
	/* a record from before ABI 1.1 cannot be a workflow */
	bad = harness_workflow("wf-bad", "t1", "Pending");
	bad.size = 16;
	assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -EINVAL);
	writes[1].record = NULL;
	assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -EINVAL);
	assert_int_equal(h->ops->workflow_get(h->ctx, "wf-good", NULL, NULL, &err), -ENOENT);

	/* every valid state is taken */
	for (size_t i = 0; i < 5; i++) {
		char id[32];
		struct tnd_workflow_record w;

		snprintf(id, sizeof(id), "wf-state-%zu", i);
		w = harness_workflow(id, "t1", states[i]);
		assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_INSERT, 0, &w, &err), 0);
	}

	/* a duplicate id, alone or behind a good write */
	writes[1].record = &bad;
	bad = harness_workflow("wf-state-0", "t2", "Running");
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_INSERT, 0, &bad, &err), -EEXIST);
	assert_non_null(strstr(err.message, "wf-state-0"));
	failed = 99;
	assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -EEXIST);
	assert_int_equal(failed, 1);
	assert_int_equal(h->ops->workflow_get(h->ctx, "wf-good", NULL, NULL, &err), -ENOENT);
}

static void test_workflow_update_preconditions(void **state)
{
	struct harness *h = *state;
	struct tnd_workflow_record rec = harness_workflow("wf-u", "t1", "Pending");
	struct tnd_error err = { { 0 } };
	struct workflow_list list = { 0 };

	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_INSERT, 0, &rec, &err), 0);

	/* stale: nothing written */
	rec.state = "Running";
	rec.step = 1;
	rec.document_json = "{\"changed\":true}";
	rec.revision = 6;
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_UPDATE, 5, &rec, &err), -ESTALE);
	assert_non_null(strstr(err.message, "revision 1"));
	harness_get_workflow(h, "wf-u", &list);
	assert_int_equal(list.items[0].revision, 1);
	assert_string_equal(list.items[0].state, "Pending");
	assert_int_equal(list.items[0].step, 0);
	assert_string_equal(list.items[0].document_json, "{\"steps\":[{\"op\":\"provision\"}]}");

	/* the new revision must be the expected one plus one */
	rec.revision = 3;
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_UPDATE, 1, &rec, &err), -EINVAL);
	rec.revision = 1;
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_UPDATE, 1, &rec, &err), -EINVAL);

	/* missing */
	rec.id = "wf-ghost";
	rec.revision = 2;
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_UPDATE, 1, &rec, &err), -ENOENT);
	assert_int_equal(h->ops->workflow_get(h->ctx, "wf-ghost", NULL, NULL, &err), -ENOENT);

	/* a workflow stays with its tenant */
	rec.id = "wf-u";
	rec.tenant_id = "t2";
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_UPDATE, 1, &rec, &err), -EINVAL);
	assert_non_null(strstr(err.message, "t1"));
	harness_get_workflow(h, "wf-u", &list);
	assert_int_equal(list.items[0].revision, 1);

	/* and a good update replaces every other field */
	rec = (struct tnd_workflow_record){
		.size = sizeof(rec), .id = "wf-u", .revision = 2, .tenant_id = "t1", .kind = "repair",
		.target_version = 9, .state = "Failed", .step = 3, .attempts = 5, .next_attempt_ms = 77,
		.document_json = "{\"error\":\"gave up\"}", .created_ms = 11, .updated_ms = 99,
	};
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_UPDATE, 1, &rec, &err), 0);
	harness_get_workflow(h, "wf-u", &list);
	assert_int_equal(list.items[0].revision, 2);
	assert_string_equal(list.items[0].tenant_id, "t1");
	assert_string_equal(list.items[0].kind, "repair");
	assert_int_equal(list.items[0].target_version, 9);
	assert_string_equal(list.items[0].state, "Failed");
	assert_int_equal(list.items[0].step, 3);
	assert_int_equal(list.items[0].attempts, 5);
	assert_int_equal(list.items[0].next_attempt_ms, 77);
	assert_string_equal(list.items[0].document_json, "{\"error\":\"gave up\"}");
	assert_int_equal(list.items[0].created_ms, 11);
	assert_int_equal(list.items[0].updated_ms, 99);
	workflow_list_free(&list);

	/* the old revision is now stale */
	rec.revision = 2;
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_UPDATE, 1, &rec, &err), -ESTALE);
}

/* --- atomicity across kinds ---------------------------------------------------------------- */

/* Tenant "mix", its workflow and credentials as they were before the
 * commits that must fail. */
static void mix_expect_unchanged(struct harness *h)
{
	struct tnd_error err = { { 0 } };
	struct tenant_list tenants = { 0 };
	struct workflow_list list = { 0 };

	assert_int_equal(h->ops->tenant_get(h->ctx, "mix", harness_collect_tenant, &tenants, &err), 0);
	assert_int_equal(tenants.items[0].revision, 1);
	assert_int_equal(tenants.items[0].observed_version, 0);
	assert_string_equal(tenants.items[0].labels_json, "{\"a\":\"b\"}");
	tenant_list_free(&tenants);
	harness_get_workflow(h, "wf-mix", &list);
	assert_int_equal(list.items[0].revision, 1);
	assert_string_equal(list.items[0].state, "Running");
	workflow_list_free(&list);
	assert_int_equal(h->ops->credential_get(h->ctx, "mix", NULL, NULL, &err), -ENOENT);
	assert_int_equal(phase_count(h, "mix"), 0);
}

static void test_mixed_commit_atomicity(void **state)
{
	struct harness *h = *state;
	struct tnd_tenant_record tenant = harness_tenant("mix", "Active", "{\"a\":\"b\"}");
	struct tnd_workflow_record wf = harness_workflow("wf-mix", "mix", "Running");
	struct tnd_credential_record cred = {
		.size = sizeof(cred), .tenant_id = "mix", .key_id = "k1", .ciphertext = "Y2lwaGVy", .updated_ms = 5,
	};
	struct tnd_phase_record phase = {
		.size = sizeof(phase), .tenant_id = "nobody", .from_phase = "Draft", .to_phase = "Active",
		.version = 2, .actor = "orchestrator", .time_ms = 5,
	};
	struct tnd_write writes[4] = {
		{ .kind = TND_WRITE_TENANT_UPDATE, .expect_revision = 1, .record = &tenant },
		{ .kind = TND_WRITE_WORKFLOW_UPDATE, .expect_revision = 1, .record = &wf },
		{ .kind = TND_WRITE_CREDENTIAL_PUT, .record = &cred },
		{ .kind = TND_WRITE_PHASE_APPEND, .record = &phase },
	};
	struct tnd_error err = { { 0 } };
	struct tenant_list tenants = { 0 };
	struct workflow_list list = { 0 };
	size_t failed = 99;

	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &tenant, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_INSERT, 0, &wf, &err), 0);
	/* a step's checkpoint: tenant settles, workflow done, label changed too */
	tenant.revision = 2;
	tenant.observed_version = 1;
	tenant.labels_json = "{\"a\":\"c\"}";
	wf.revision = 2;
	wf.step = 1;
	wf.state = "Succeeded";

	/* the last write fails after the first three changed rows: none stays */
	assert_int_equal(h->ops->commit(h->ctx, writes, 4, &failed, &err), -ENOENT);
	assert_int_equal(failed, 3);
	mix_expect_unchanged(h);

	/* the same with a stale workflow update last */
	phase.tenant_id = "mix";
	writes[1] = (struct tnd_write){ .kind = TND_WRITE_PHASE_APPEND, .record = &phase };
	writes[3] = (struct tnd_write){ .kind = TND_WRITE_WORKFLOW_UPDATE, .expect_revision = 7, .record = &wf };
	wf.revision = 8;
	failed = 99;
	assert_int_equal(h->ops->commit(h->ctx, writes, 4, &failed, &err), -ESTALE);
	assert_int_equal(failed, 3);
	mix_expect_unchanged(h);

	/* and with every precondition met, all four land */
	writes[3].expect_revision = 1;
	wf.revision = 2;
	failed = 99;
	assert_int_equal(h->ops->commit(h->ctx, writes, 4, &failed, &err), 0);
	assert_int_equal(h->ops->tenant_get(h->ctx, "mix", harness_collect_tenant, &tenants, &err), 0);
	assert_int_equal(tenants.items[0].revision, 2);
	assert_int_equal(tenants.items[0].observed_version, 1);
	assert_string_equal(tenants.items[0].labels_json, "{\"a\":\"c\"}");
	tenant_list_free(&tenants);
	harness_get_workflow(h, "wf-mix", &list);
	assert_int_equal(list.items[0].revision, 2);
	assert_string_equal(list.items[0].state, "Succeeded");
	assert_int_equal(list.items[0].step, 1);
	workflow_list_free(&list);
	assert_int_equal(h->ops->credential_get(h->ctx, "mix", NULL, NULL, &err), 0);
	assert_int_equal(phase_count(h, "mix"), 1);
}

/* --- listing -------------------------------------------------------------------------------- */

#define LIST_N 300

static const char *const list_states[] = { "Pending", "Running", "Succeeded", "Failed", "Superseded" };
static const char *const list_tenants[] = { "t-a", "t-b", "t-c" };

struct list_model {
	char id[16];
	const char *tenant_id;
	const char *state;
	int64_t next_attempt_ms;
};

/* The ids the header's rules select from @model (which is in id order). */
static char *list_expected(const struct list_model *model, size_t n, const struct tnd_workflow_query *q)
{
	struct tnd_buf ids = { 0 };

	for (size_t i = 0; i < n; i++) {
		const struct list_model *m = &model[i];
		bool is_active = strcmp(m->state, "Pending") == 0 || strcmp(m->state, "Running") == 0;

		if (q->tenant_id != NULL && strcmp(q->tenant_id, m->tenant_id) != 0)
			continue;
		if (q->state != NULL && strcmp(q->state, m->state) != 0)
			continue;
		if (q->active && !is_active)
			continue;
		if (q->active && q->due_before_ms != 0 && m->next_attempt_ms > q->due_before_ms)
			continue;
		tnd_buf_addf(&ids, "%s%s", ids.len ? "," : "", m->id);
	}
	return ids.data ? tnd_buf_steal(&ids) : tnd_xstrdup("");
}

static void list_check(struct harness *h, const struct list_model *model, size_t n, struct tnd_workflow_query q,
		       size_t expect_at_least)
{
	char *expected = list_expected(model, n, &q);
	size_t n_expected = expected[0] ? 1 : 0;

	for (const char *c = expected; *c; c++)
		n_expected += *c == ',';
	if (n_expected < expect_at_least)
		fail_msg("the fixture selects %zu workflows, the test wants at least %zu", n_expected, expect_at_least);
	for (uint32_t limit = 7; limit <= 100; limit += 93) {
		q.limit = limit;
		assert_ids(list_all_ids(h, &q), expected);
	}
	free(expected);
}

static void test_workflow_list(void **state)
{
	struct harness *h = *state;
	struct list_model *model = tnd_xcalloc(LIST_N, sizeof(*model));
	struct tnd_workflow_record *recs = tnd_xcalloc(LIST_N, sizeof(*recs));
	struct tnd_write *writes = tnd_xcalloc(LIST_N, sizeof(*writes));
	struct tnd_workflow_query q;
	struct tnd_error err = { { 0 } };
	char *expected;

	/* inserted out of id order, so that id order is not insertion order */
	for (size_t k = 0; k < LIST_N; k++) {
		size_t i = (k * 7) % LIST_N;

		snprintf(model[i].id, sizeof(model[i].id), "wf-%04zu", i);
		model[i].tenant_id = list_tenants[i % 3];
		model[i].state = list_states[(i / 2) % 5];
		model[i].next_attempt_ms = (int64_t)((i * 37) % 1000);
		recs[k] = harness_workflow(model[i].id, model[i].tenant_id, model[i].state);
		recs[k].next_attempt_ms = model[i].next_attempt_ms;
		writes[k] = (struct tnd_write){ .kind = TND_WRITE_WORKFLOW_INSERT, .record = &recs[k] };
	}
	assert_int_equal(h->ops->commit(h->ctx, writes, LIST_N, NULL, &err), 0);

	list_check(h, model, LIST_N, (struct tnd_workflow_query){ .size = sizeof(q) }, LIST_N);
	list_check(h, model, LIST_N, (struct tnd_workflow_query){ .size = sizeof(q), .tenant_id = "t-b" }, 100);
	list_check(h, model, LIST_N, (struct tnd_workflow_query){ .size = sizeof(q), .tenant_id = "t-none" }, 0);
	for (size_t s = 0; s < 5; s++)
		list_check(h, model, LIST_N, (struct tnd_workflow_query){ .size = sizeof(q), .state = list_states[s] }, 60);
	list_check(h, model, LIST_N, (struct tnd_workflow_query){ .size = sizeof(q), .active = 1 }, 120);
	list_check(h, model, LIST_N,
		   (struct tnd_workflow_query){ .size = sizeof(q), .active = 1, .due_before_ms = 500 }, 50);
	list_check(h, model, LIST_N,
		   (struct tnd_workflow_query){ .size = sizeof(q), .active = 1, .due_before_ms = 500, .tenant_id = "t-a" },
		   15);
	list_check(h, model, LIST_N,
		   (struct tnd_workflow_query){ .size = sizeof(q), .state = "Running", .tenant_id = "t-c" }, 15);
	list_check(h, model, LIST_N,
		   (struct tnd_workflow_query){ .size = sizeof(q), .state = "Pending", .active = 1, .due_before_ms = 300 },
		   10);
	/* contradictory filters are ANDed: nothing */
	list_check(h, model, LIST_N, (struct tnd_workflow_query){ .size = sizeof(q), .state = "Failed", .active = 1 }, 0);
	/* due_before_ms applies with active only */
	q = (struct tnd_workflow_query){ .size = sizeof(q), .due_before_ms = 1, .state = "Failed" };
	expected = list_expected(model, LIST_N, &(struct tnd_workflow_query){ .state = "Failed" });
	assert_ids(list_all_ids(h, &q), expected);
	free(expected);

	/* updates move workflows in and out of the active set and its times */
	for (size_t i = 0; i < LIST_N; i += 7) {
		bool was_active = strcmp(model[i].state, "Pending") == 0 || strcmp(model[i].state, "Running") == 0;
		struct tnd_workflow_record w = harness_workflow(model[i].id, model[i].tenant_id,
								was_active ? "Succeeded" : "Pending");

		w.revision = 2;
		w.next_attempt_ms = 250;
		assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_UPDATE, 1, &w, &err), 0);
		model[i].state = w.state;
		model[i].next_attempt_ms = 250;
	}
	list_check(h, model, LIST_N, (struct tnd_workflow_query){ .size = sizeof(q), .active = 1 }, 100);
	list_check(h, model, LIST_N,
		   (struct tnd_workflow_query){ .size = sizeof(q), .active = 1, .due_before_ms = 250 }, 40);
	list_check(h, model, LIST_N, (struct tnd_workflow_query){ .size = sizeof(q), .state = "Succeeded" }, 60);

	/* a visitor that stops ends the read */
	{
		struct workflow_list some = { .stop_after = 3 };

		q = (struct tnd_workflow_query){ .size = sizeof(q) };
		assert_int_equal(h->ops->workflow_list(h->ctx, &q, harness_collect_workflow, &some, &err), 0);
		assert_int_equal(some.n, 3);
		assert_string_equal(some.items[2].id, "wf-0002");
		workflow_list_free(&some);
	}
	/* a query from before ABI 1.1 sizes is refused; NULL lists everything */
	q.size = 8;
	assert_int_equal(h->ops->workflow_list(h->ctx, &q, NULL, NULL, &err), -EINVAL);
	assert_int_equal(h->ops->workflow_list(h->ctx, NULL, NULL, NULL, &err), 0);

	free(model);
	free(recs);
	free(writes);
}

static void test_workflow_list_limits(void **state)
{
	struct harness *h = *state;
	enum { N = 1005 };
	struct tnd_workflow_record *recs = tnd_xcalloc(N, sizeof(*recs));
	struct tnd_write *writes = tnd_xcalloc(N, sizeof(*writes));
	char (*ids)[16] = tnd_xcalloc(N, sizeof(*ids));
	struct tnd_workflow_query q = { .size = sizeof(q) };
	struct tnd_error err = { { 0 } };

	for (size_t i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "wf-%05zu", i);
		recs[i] = harness_workflow(ids[i], "t", "Pending");
		writes[i] = (struct tnd_write){ .kind = TND_WRITE_WORKFLOW_INSERT, .record = &recs[i] };
	}
	assert_int_equal(h->ops->commit(h->ctx, writes, N, NULL, &err), 0);
	for (int active = 0; active <= 1; active++) {
		const uint32_t limits[] = { 0, 1, 1000, 1001, 5000 };
		const size_t expected[] = { 100, 1, 1000, 1000, 1000 };

		q.active = active;
		for (size_t i = 0; i < 5; i++) {
			struct workflow_list list = { 0 };

			q.limit = limits[i];
			assert_int_equal(h->ops->workflow_list(h->ctx, &q, harness_collect_workflow, &list, &err), 0);
			assert_int_equal(list.n, expected[i]);
			assert_string_equal(list.items[0].id, "wf-00000");
			workflow_list_free(&list);
		}
	}
	free(recs);
	free(writes);
	free(ids);
}

/* Reads and commits from inside a visit: rows are copied out first, so a
 * pool of one read connection does not deadlock. */
static int visit_and_write(const struct tnd_workflow_record *rec, void *userdata)
{
	struct harness *h = userdata;
	struct tnd_workflow_record next = harness_workflow(rec->id, rec->tenant_id, "Running");
	struct tnd_error err = { { 0 } };

	next.revision = rec->revision + 1;
	assert_int_equal(h->ops->workflow_get(h->ctx, rec->id, NULL, NULL, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_UPDATE, rec->revision, &next, &err), 0);
	return 0;
}

static int visit_credential_and_reread(const struct tnd_credential_record *rec, void *userdata)
{
	struct harness *h = userdata;
	struct tnd_error err = { { 0 } };

	assert_int_equal(h->ops->credential_get(h->ctx, rec->tenant_id, NULL, NULL, &err), 0);
	return 0;
}

static void test_visitor_reentry(void **state)
{
	struct harness *h = *state;
	struct tnd_workflow_record a = harness_workflow("wf-re-1", "re", "Pending");
	struct tnd_workflow_record b = harness_workflow("wf-re-2", "re", "Pending");
	struct tnd_credential_record cred = {
		.size = sizeof(cred), .tenant_id = "re", .key_id = "k", .ciphertext = "c", .updated_ms = 1,
	};
	struct tnd_workflow_query q = { .size = sizeof(q), .active = 1 };
	struct tnd_error err = { { 0 } };
	struct workflow_list list = { 0 };

	harness_close(h);
	assert_int_equal(harness_open(h, "{\"readers\": 1}", &err), 0);
	harness_insert(h, "re");
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_INSERT, 0, &a, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_INSERT, 0, &b, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_PUT, 0, &cred, &err), 0);
	assert_int_equal(h->ops->workflow_list(h->ctx, &q, visit_and_write, h, &err), 0);
	assert_int_equal(h->ops->workflow_get(h->ctx, "wf-re-1", visit_and_write, h, &err), 0);
	harness_get_workflow(h, "wf-re-1", &list);
	assert_int_equal(list.items[0].revision, 3);
	harness_get_workflow(h, "wf-re-2", &list);
	assert_int_equal(list.items[0].revision, 2);
	workflow_list_free(&list);
	assert_int_equal(h->ops->credential_get(h->ctx, "re", visit_credential_and_reread, h, &err), 0);
}

/* --- credentials ---------------------------------------------------------------------------- */

static int collect_credential(const struct tnd_credential_record *rec, void *userdata)
{
	char **out = userdata;

	free(*out);
	*out = tnd_xasprintf("%s|%s|%s|%lld", rec->tenant_id, rec->key_id, rec->ciphertext, (long long)rec->updated_ms);
	return 0;
}

static void test_credentials(void **state)
{
	struct harness *h = *state;
	struct tnd_credential_record cred = {
		.size = sizeof(cred), .tenant_id = "vault", .key_id = "key-2026-01",
		.ciphertext = "bm9uY2UxMjM0NTY3OGNpcGhlcnRleHR0YWc", .updated_ms = 100,
	};
	/* a delete's record may end at the tenant id */
	struct tnd_credential_record gone = {
		.size = offsetof(struct tnd_credential_record, tenant_id) + sizeof(const char *), .tenant_id = "vault",
	};
	struct tnd_error err = { { 0 } };
	char *got = NULL;

	harness_insert(h, "vault");
	harness_insert(h, "other");
	assert_int_equal(h->ops->credential_get(h->ctx, "vault", collect_credential, &got, &err), -ENOENT);
	assert_null(got);

	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_PUT, 0, &cred, &err), 0);
	assert_int_equal(h->ops->credential_get(h->ctx, "vault", collect_credential, &got, &err), 0);
	assert_string_equal(got, "vault|key-2026-01|bm9uY2UxMjM0NTY3OGNpcGhlcnRleHR0YWc|100");

	/* put again replaces (key rotation) */
	cred.key_id = "key-2026-07";
	cred.ciphertext = "cm90YXRlZA";
	cred.updated_ms = 200;
	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_PUT, 0, &cred, &err), 0);
	assert_int_equal(h->ops->credential_get(h->ctx, "vault", collect_credential, &got, &err), 0);
	assert_string_equal(got, "vault|key-2026-07|cm90YXRlZA|200");
	assert_int_equal(h->ops->credential_get(h->ctx, "other", collect_credential, &got, &err), -ENOENT);

	/* refusals: no tenant, no key id, no ciphertext, a tenant that does not exist */
	cred.key_id = NULL;
	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_PUT, 0, &cred, &err), -EINVAL);
	cred.key_id = "k";
	cred.ciphertext = "";
	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_PUT, 0, &cred, &err), -EINVAL);
	cred.ciphertext = "x";
	cred.tenant_id = NULL;
	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_PUT, 0, &cred, &err), -EINVAL);
	cred.tenant_id = "nobody";
	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_PUT, 0, &cred, &err), -ENOENT);
	assert_non_null(strstr(err.message, "nobody"));
	assert_int_equal(h->ops->credential_get(h->ctx, "vault", collect_credential, &got, &err), 0);
	assert_string_equal(got, "vault|key-2026-07|cm90YXRlZA|200");

	/* delete reads only the tenant id; deleting what is absent is fine */
	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_DELETE, 0, &gone, &err), 0);
	assert_int_equal(h->ops->credential_get(h->ctx, "vault", NULL, NULL, &err), -ENOENT);
	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_DELETE, 0, &gone, &err), 0);
	gone.tenant_id = "never-had-any";
	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_DELETE, 0, &gone, &err), 0);
	gone.tenant_id = NULL;
	assert_int_equal(harness_commit1(h, TND_WRITE_CREDENTIAL_DELETE, 0, &gone, &err), -EINVAL);
	assert_int_equal(h->ops->credential_get(h->ctx, NULL, NULL, NULL, &err), -EINVAL);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_workflow_roundtrip, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_workflow_insert_refusals, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_workflow_update_preconditions, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_mixed_commit_atomicity, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_workflow_list, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_workflow_list_limits, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_visitor_reentry, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_credentials, harness_setup_open, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
