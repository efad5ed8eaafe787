/*
 * test_sqlite_storage.c — the sqlite storage plugin, driven through its
 * descriptor and ops exactly as the core drives it (the built sqlite.so,
 * dlopen'ed, with a real host table): records, preconditions, atomicity of
 * multi-write commits, lineage, phases, search and cursors, idempotency.
 * Workflows and credentials are in test_sqlite_workflows.c, the unsettled
 * search filter in test_sqlite_unsettled.c.
 * The descriptor, settings, schema and persistence are tested in
 * test_sqlite_lifecycle.c; concurrency, group commit and crash durability
 * in test_sqlite_concurrency.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"
#include "sqlite_harness.h"
#include "testutil.h"
#include "util.h"

static void get_tenant(struct harness *h, const char *id, struct tenant_list *list)
{
	struct tnd_error err = { { 0 } };
	int r = h->ops->tenant_get(h->ctx, id, harness_collect_tenant, list, &err);

	if (r != 0)
		fail_msg("tenant_get %s: %d %s", id, r, err.message);
	assert_int_equal(list->n, 1);
}

/* Ids of a search, comma-separated, e.g. "a1,a3". */
static char *search_ids(struct harness *h, const struct tnd_tenant_query *query)
{
	struct tenant_list list = { 0 };
	struct tnd_buf out = { 0 };
	char *ids;

	assert_int_equal(harness_search(h, query, &list), 0);
	for (size_t i = 0; i < list.n; i++)
		h->host->buf_printf(h->host, &out, "%s%s", i ? "," : "", list.items[i].id);
	tenant_list_free(&list);
	ids = out.data ? out.data : tnd_xstrdup("");
	return ids;
}

#define assert_search(h, query, expected)                      \
	do {                                                   \
		char *ids_ = search_ids((h), (query));         \
		assert_string_equal(ids_, (expected));         \
		free(ids_);                                    \
	} while (0)

/* --- tenants -------------------------------------------------------------------------- */

static void test_tenant_roundtrip(void **state)
{
	struct harness *h = *state;
	struct tnd_tenant_record rec = {
		.size = sizeof(rec),
		.id = "acme-corp",
		.revision = 7,
		.version = 3,
		.observed_version = 2,
		.phase = "Suspended",
		.state = "suspended",
		.plan = "enterprise",
		.isolation = "hybrid",
		.region = "eu-central-1",
		.labels_json = "{\"tier\":\"gold\",\"a/b~c\":\"x y\"}",
		.manifest_json = "{\"metadata\":{\"id\":\"acme-corp\"},\"spec\":{\"plan\":\"enterprise\"}}",
		.status_json = "{\"phase\":\"Suspended\",\"observedVersion\":2}",
		.created_ms = 1700000000123,
		.updated_ms = 1700000000456,
	};
	struct tnd_tenant_record bare = harness_tenant("bare-tenant", "Draft", "{}");
	struct tnd_tenant_query by_odd_label = { .size = sizeof(by_odd_label), .n_labels = 1 };
	const char *key = "a/b~c", *value = "x y";
	struct tnd_error err = { { 0 } };
	struct tenant_list list = { 0 };

	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &rec, &err), 0);
	get_tenant(h, "acme-corp", &list);
	assert_string_equal(list.items[0].id, rec.id);
	assert_int_equal(list.items[0].revision, 7);
	assert_int_equal(list.items[0].version, 3);
	assert_int_equal(list.items[0].observed_version, 2);
	assert_string_equal(list.items[0].phase, rec.phase);
	assert_string_equal(list.items[0].state, rec.state);
	assert_string_equal(list.items[0].plan, rec.plan);
	assert_string_equal(list.items[0].isolation, rec.isolation);
	assert_string_equal(list.items[0].region, rec.region);
	assert_string_equal(list.items[0].labels_json, rec.labels_json);
	assert_string_equal(list.items[0].manifest_json, rec.manifest_json);
	assert_string_equal(list.items[0].status_json, rec.status_json);
	assert_int_equal(list.items[0].created_ms, rec.created_ms);
	assert_int_equal(list.items[0].updated_ms, rec.updated_ms);
	tenant_list_free(&list);

	/* an unplaced tenant keeps region NULL */
	bare.region = NULL;
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &bare, &err), 0);
	get_tenant(h, "bare-tenant", &list);
	assert_null(list.items[0].region);
	tenant_list_free(&list);

	/* label keys needing JSON Pointer escapes are indexed too */
	by_odd_label.label_keys = &key;
	by_odd_label.label_values = &value;
	assert_search(h, &by_odd_label, "acme-corp");

	assert_int_equal(h->ops->tenant_get(h->ctx, "nobody", NULL, NULL, &err), -ENOENT);
	assert_int_equal(h->ops->tenant_get(h->ctx, NULL, NULL, NULL, &err), -EINVAL);
}

static void test_insert_existing_id(void **state)
{
	struct harness *h = *state;
	struct tnd_tenant_record rec = harness_tenant("dup", "Archived", "{}");
	struct tnd_error err = { { 0 } };
	struct tenant_list list = { 0 };

	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &rec, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &rec, &err), -EEXIST);
	assert_non_null(strstr(err.message, "dup"));

	/* a tombstone still owns its id */
	rec.phase = "Deleted";
	rec.state = "deleted";
	rec.revision = 2;
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_UPDATE, 1, &rec, &err), 0);
	rec.phase = "Draft";
	rec.revision = 1;
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &rec, &err), -EEXIST);
	get_tenant(h, "dup", &list);
	assert_string_equal(list.items[0].phase, "Deleted");
	assert_int_equal(list.items[0].revision, 2);
	tenant_list_free(&list);
}

static void test_update_preconditions(void **state)
{
	struct harness *h = *state;
	struct tnd_tenant_record rec = harness_tenant("upd", "Active", "{\"tier\":\"gold\"}");
	const char *key = "tier", *gold = "gold", *silver = "silver";
	struct tnd_tenant_query by_tier = { .size = sizeof(by_tier), .label_keys = &key, .n_labels = 1 };
	struct tnd_error err = { { 0 } };
	struct tenant_list list = { 0 };

	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &rec, &err), 0);

	rec.plan = "enterprise";
	rec.labels_json = "{\"tier\":\"silver\"}";
	rec.revision = 6;
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_UPDATE, 5, &rec, &err), -ESTALE);
	assert_non_null(strstr(err.message, "revision 1"));
	get_tenant(h, "upd", &list);
	assert_int_equal(list.items[0].revision, 1);
	assert_string_equal(list.items[0].plan, "business");
	assert_string_equal(list.items[0].labels_json, "{\"tier\":\"gold\"}");
	tenant_list_free(&list);

	/* the new revision must be the expected one plus one */
	rec.revision = 3;
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_UPDATE, 1, &rec, &err), -EINVAL);

	rec.id = "ghost";
	rec.revision = 2;
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_UPDATE, 1, &rec, &err), -ENOENT);
	assert_false(harness_exists(h, "ghost"));

	rec.id = "upd";
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_UPDATE, 1, &rec, &err), 0);
	get_tenant(h, "upd", &list);
	assert_int_equal(list.items[0].revision, 2);
	assert_string_equal(list.items[0].plan, "enterprise");
	tenant_list_free(&list);

	/* the label index follows labels_json */
	by_tier.label_values = &gold;
	assert_search(h, &by_tier, "");
	by_tier.label_values = &silver;
	assert_search(h, &by_tier, "upd");
}

static void test_commit_atomicity(void **state)
{
	struct harness *h = *state;
	struct tnd_tenant_record taken = harness_tenant("taken", "Active", "{}");
	struct tnd_tenant_record new1 = harness_tenant("new-1", "Active", "{\"a\":\"b\"}");
	struct tnd_tenant_record new2 = harness_tenant("new-2", "Active", "{}");
	struct tnd_tenant_record bad = harness_tenant("new-3", "Active", "{}");
	struct tnd_version_record v1 = {
		.size = sizeof(v1), .tenant_id = "new-1", .version = 1, .manifest_json = "{}",
		.actor = "alice", .request_id = "req-1", .time_ms = 5,
	};
	struct tnd_phase_record p1 = {
		.size = sizeof(p1), .tenant_id = "new-1", .to_phase = "Active", .version = 1,
		.actor = "alice", .time_ms = 5,
	};
	struct tnd_write writes[3];
	struct tnd_error err = { { 0 } };
	size_t failed = 99;
	const char *const bad_labels[] = { "[1]", "{\"k\":1}", "not json", "{\"k\":{\"x\":\"y\"}}", NULL };

	harness_insert(h, "taken");

	/* a failing third write leaves the first two unwritten */
	writes[0] = (struct tnd_write){ .kind = TND_WRITE_TENANT_INSERT, .record = &new1 };
	writes[1] = (struct tnd_write){ .kind = TND_WRITE_VERSION_APPEND, .record = &v1 };
	writes[2] = (struct tnd_write){ .kind = TND_WRITE_TENANT_INSERT, .record = &taken };
	assert_int_equal(h->ops->commit(h->ctx, writes, 3, &failed, &err), -EEXIST);
	assert_int_equal(failed, 2);
	assert_false(harness_exists(h, "new-1"));
	assert_int_equal(h->ops->version_get(h->ctx, "new-1", 1, NULL, NULL, &err), -ENOENT);

	/* a stale update in second place */
	writes[1] = (struct tnd_write){ .kind = TND_WRITE_TENANT_UPDATE, .expect_revision = 9, .record = &taken };
	taken.revision = 10;
	failed = 99;
	assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -ESTALE);
	assert_int_equal(failed, 1);
	assert_false(harness_exists(h, "new-1"));

	/* malformed records are refused before anything runs */
	writes[1] = (struct tnd_write){ .kind = TND_WRITE_TENANT_INSERT, .record = &new2 };
	writes[2] = (struct tnd_write){ .kind = TND_WRITE_TENANT_INSERT, .record = &bad };
	for (size_t i = 0; bad_labels[i] != NULL; i++) {
		bad.labels_json = bad_labels[i];
		failed = 99;
		assert_int_equal(h->ops->commit(h->ctx, writes, 3, &failed, &err), -EINVAL);
		assert_int_equal(failed, 2);
		assert_non_null(strstr(err.message, "labels_json"));
	}
	bad = harness_tenant(NULL, "Active", "{}");
	assert_int_equal(h->ops->commit(h->ctx, writes, 3, &failed, &err), -EINVAL);
	assert_int_equal(failed, 2);
	bad = harness_tenant("new-3", "Active", "{}");
	bad.manifest_json = NULL;
	assert_int_equal(h->ops->commit(h->ctx, writes, 3, &failed, &err), -EINVAL);
	bad = harness_tenant("new-3", "Active", "{}");
	bad.size = 8;
	assert_int_equal(h->ops->commit(h->ctx, writes, 3, &failed, &err), -EINVAL);
	writes[2] = (struct tnd_write){ .kind = TND_WRITE_TENANT_INSERT, .record = NULL };
	assert_int_equal(h->ops->commit(h->ctx, writes, 3, &failed, &err), -EINVAL);
	assert_false(harness_exists(h, "new-1"));
	assert_false(harness_exists(h, "new-2"));

	/* and a good multi-write commit lands whole */
	writes[1] = (struct tnd_write){ .kind = TND_WRITE_VERSION_APPEND, .record = &v1 };
	writes[2] = (struct tnd_write){ .kind = TND_WRITE_PHASE_APPEND, .record = &p1 };
	assert_int_equal(h->ops->commit(h->ctx, writes, 3, &failed, &err), 0);
	assert_true(harness_exists(h, "new-1"));
	assert_int_equal(h->ops->version_get(h->ctx, "new-1", 1, NULL, NULL, &err), 0);

	/* an empty commit writes nothing and succeeds */
	assert_int_equal(h->ops->commit(h->ctx, NULL, 0, &failed, &err), 0);
}

static void test_unknown_write_kind(void **state)
{
	struct harness *h = *state;
	struct tnd_tenant_record rec = harness_tenant("nk-1", "Active", "{}");
	struct tnd_write writes[2] = {
		{ .kind = TND_WRITE_TENANT_INSERT, .record = &rec },
		{ .kind = 99, .record = &rec },
	};
	struct tnd_error err = { { 0 } };
	size_t failed = 0;

	assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -ENOTSUP);
	assert_int_equal(failed, 1);
	assert_non_null(strstr(err.message, "99"));
	writes[1].kind = 0;
	assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -ENOTSUP);
	/* the driver's private maintenance kind is not reachable from the core */
	writes[1].kind = 0x7fff0001u;
	assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -ENOTSUP);
	assert_false(harness_exists(h, "nk-1"));
}

/* --- lineage and phases --------------------------------------------------------------- */

static void test_lineage(void **state)
{
	struct harness *h = *state;
	struct tnd_version_record v = {
		.size = sizeof(v), .tenant_id = "lin", .actor = "alice", .request_id = "req", .time_ms = 10,
	};
	struct tnd_error err = { { 0 } };
	struct int_list list = { 0 };
	char manifest[64];

	harness_insert(h, "lin");
	for (int i = 1; i <= 5; i++) {
		snprintf(manifest, sizeof(manifest), "{\"v\":%d}", i);
		v.version = i;
		v.manifest_json = manifest;
		v.request_id = i == 4 ? NULL : "req";
		assert_int_equal(harness_commit1(h, TND_WRITE_VERSION_APPEND, 0, &v, &err), 0);
	}
	v.version = 3;
	assert_int_equal(harness_commit1(h, TND_WRITE_VERSION_APPEND, 0, &v, &err), -EEXIST);
	v.tenant_id = "nobody";
	assert_int_equal(harness_commit1(h, TND_WRITE_VERSION_APPEND, 0, &v, &err), -ENOENT);

	assert_int_equal(h->ops->version_list(h->ctx, "lin", 0, 2, harness_collect_version, &list, &err), 0);
	assert_int_equal(list.n, 2);
	assert_int_equal(list.values[0], 1);
	assert_int_equal(list.values[1], 2);
	assert_string_equal(list.texts[0], "lin|{\"v\":1}|alice|req|10");
	int_list_free(&list);
	assert_int_equal(h->ops->version_list(h->ctx, "lin", 2, 2, harness_collect_version, &list, &err), 0);
	assert_int_equal(list.n, 2);
	assert_int_equal(list.values[0], 3);
	assert_int_equal(list.values[1], 4);
	assert_string_equal(list.texts[1], "lin|{\"v\":4}|alice|(null)|10");
	int_list_free(&list);
	assert_int_equal(h->ops->version_list(h->ctx, "lin", 4, 2, harness_collect_version, &list, &err), 0);
	assert_int_equal(list.n, 1);
	assert_int_equal(list.values[0], 5);
	int_list_free(&list);
	assert_int_equal(h->ops->version_list(h->ctx, "lin", 5, 2, harness_collect_version, &list, &err), 0);
	assert_int_equal(list.n, 0);
	assert_int_equal(h->ops->version_list(h->ctx, "lin", 0, 0, harness_collect_version, &list, &err), 0);
	assert_int_equal(list.n, 5);
	int_list_free(&list);
	list.stop_after = 1;
	assert_int_equal(h->ops->version_list(h->ctx, "lin", 0, 0, harness_collect_version, &list, &err), 0);
	assert_int_equal(list.n, 1);
	int_list_free(&list);
	list.stop_after = 0;

	assert_int_equal(h->ops->version_get(h->ctx, "lin", 3, harness_collect_version, &list, &err), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.texts[0], "lin|{\"v\":3}|alice|req|10");
	int_list_free(&list);
	assert_int_equal(h->ops->version_get(h->ctx, "lin", 9, harness_collect_version, &list, &err), -ENOENT);
	assert_int_equal(list.n, 0);
}

static void test_phases(void **state)
{
	struct harness *h = *state;
	struct tnd_phase_record p = { .size = sizeof(p), .actor = "ctl", .time_ms = 1 };
	const char *const steps[][3] = { { NULL, "Draft", NULL }, { "Draft", "Active", NULL },
					 { "Active", "Suspended", "billing" } };
	struct tnd_error err = { { 0 } };
	struct int_list list = { 0 };
	int64_t after;

	harness_insert(h, "ph-a");
	harness_insert(h, "ph-b");
	for (size_t i = 0; i < 3; i++) {
		p.tenant_id = "ph-a";
		p.from_phase = steps[i][0];
		p.to_phase = steps[i][1];
		p.reason = steps[i][2];
		p.version = (int64_t)i + 1;
		p.request_id = i == 1 ? "req-2" : NULL;
		p.seq = 12345; /* ignored on write */
		assert_int_equal(harness_commit1(h, TND_WRITE_PHASE_APPEND, 0, &p, &err), 0);
		/* another tenant's transitions interleave in the global sequence */
		p.tenant_id = "ph-b";
		assert_int_equal(harness_commit1(h, TND_WRITE_PHASE_APPEND, 0, &p, &err), 0);
	}
	p.tenant_id = "nobody";
	assert_int_equal(harness_commit1(h, TND_WRITE_PHASE_APPEND, 0, &p, &err), -ENOENT);

	assert_int_equal(h->ops->phase_list(h->ctx, "ph-a", 0, 2, harness_collect_phase, &list, &err), 0);
	assert_int_equal(list.n, 2);
	assert_true(list.values[0] < list.values[1]);
	assert_string_equal(list.texts[0], "->Draft v1 ctl - -");
	assert_string_equal(list.texts[1], "Draft>Active v2 ctl req-2 -");
	after = list.values[1];
	int_list_free(&list);
	assert_int_equal(h->ops->phase_list(h->ctx, "ph-a", after, 2, harness_collect_phase, &list, &err), 0);
	assert_int_equal(list.n, 1);
	assert_true(list.values[0] > after);
	assert_string_equal(list.texts[0], "Active>Suspended v3 ctl - billing");
	int_list_free(&list);
	assert_int_equal(h->ops->phase_list(h->ctx, "ph-b", 0, 0, harness_collect_phase, &list, &err), 0);
	assert_int_equal(list.n, 3);
	int_list_free(&list);
}

/* --- search ---------------------------------------------------------------------------- */

static void search_fixture_insert(struct harness *h, const char *id, const char *phase, const char *isolation,
				  const char *region, const char *plan, const char *labels)
{
	struct tnd_tenant_record rec = harness_tenant(id, phase, labels);
	struct tnd_error err = { { 0 } };

	rec.isolation = isolation;
	rec.region = region;
	rec.plan = plan;
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &rec, &err), 0);
}

static void test_search_filters(void **state)
{
	struct harness *h = *state;
	const char *gold_prod_keys[] = { "tier", "env" }, *gold_prod_values[] = { "gold", "prod" };
	struct tnd_tenant_query q = { .size = sizeof(q) };
	struct tnd_error err = { { 0 } };
	struct tenant_list list = { .stop_after = 2 };

	search_fixture_insert(h, "a1", "Active", "shared", "eu-west-1", "business",
			      "{\"tier\":\"gold\",\"env\":\"prod\"}");
	search_fixture_insert(h, "a2", "Active", "dedicated", "eu-central-1", "enterprise",
			      "{\"tier\":\"gold\",\"env\":\"dev\"}");
	search_fixture_insert(h, "a3", "Suspended", "shared", "eu-central-1", "business",
			      "{\"tier\":\"silver\",\"env\":\"prod\"}");
	search_fixture_insert(h, "a4", "Draft", "hybrid", NULL, "starter", "{}");
	search_fixture_insert(h, "a5", "Deleted", "shared", "eu-west-1", "business",
			      "{\"tier\":\"gold\",\"env\":\"prod\"}");

	assert_search(h, NULL, "a1,a2,a3,a4");
	assert_search(h, &q, "a1,a2,a3,a4");
	q.include_deleted = 1;
	assert_search(h, &q, "a1,a2,a3,a4,a5");
	q.include_deleted = 0;

	q.phase = "Active";
	assert_search(h, &q, "a1,a2");
	q.isolation = "dedicated";
	assert_search(h, &q, "a2");
	q.phase = NULL;
	q.isolation = "shared";
	assert_search(h, &q, "a1,a3");
	q.isolation = NULL;
	q.region = "eu-central-1";
	assert_search(h, &q, "a2,a3");
	q.region = NULL;
	q.plan = "business";
	assert_search(h, &q, "a1,a3");
	q.plan = NULL;
	q.phase = "Deleted"; /* asking for tombstones shows them */
	assert_search(h, &q, "a5");
	q.phase = NULL;

	q.label_keys = gold_prod_keys;
	q.label_values = gold_prod_values;
	q.n_labels = 1;
	assert_search(h, &q, "a1,a2");
	q.n_labels = 2;
	assert_search(h, &q, "a1");
	q.include_deleted = 1;
	assert_search(h, &q, "a1,a5");
	q.include_deleted = 0;
	gold_prod_values[1] = "staging";
	assert_search(h, &q, "");
	q.n_labels = 0;

	q.after_id = "a2";
	assert_search(h, &q, "a3,a4");
	q.after_id = NULL;
	q.limit = 3;
	assert_search(h, &q, "a1,a2,a3");
	q.limit = 0;

	/* a visitor that stops ends the read without an error */
	assert_int_equal(harness_search(h, &q, &list), 0);
	assert_int_equal(list.n, 2);
	tenant_list_free(&list);

	q.n_labels = 1;
	q.label_keys = NULL;
	assert_int_equal(h->ops->tenant_search(h->ctx, &q, NULL, NULL, &err), -EINVAL);
	q.n_labels = 0;
	q.size = 4;
	assert_int_equal(h->ops->tenant_search(h->ctx, &q, NULL, NULL, &err), -EINVAL);
}

static void test_search_pagination(void **state)
{
	struct harness *h = *state;
	struct tnd_tenant_query q = { .size = sizeof(q), .limit = 100 };
	struct tnd_tenant_record *bulk = tnd_xcalloc(800, sizeof(*bulk));
	struct tnd_write *writes = tnd_xcalloc(800, sizeof(*writes));
	char (*bulk_ids)[16] = tnd_xcalloc(800, sizeof(*bulk_ids));
	int seen[250] = { 0 };
	struct tnd_error err = { { 0 } };
	char id[32], cursor[32] = "";
	size_t pages = 0, n_total = 0, n_late = 0;

	for (int i = 0; i < 250; i++) {
		snprintf(id, sizeof(id), "p-%04d", i * 10 + 10);
		harness_insert(h, id);
	}
	for (;;) {
		struct tenant_list list = { 0 };

		q.after_id = cursor[0] ? cursor : NULL;
		assert_int_equal(harness_search(h, &q, &list), 0);
		if (list.n == 0)
			break;
		assert_true(list.n <= 100);
		for (size_t i = 0; i < list.n; i++) {
			int n;
			/* strictly increasing, across pages too */
			assert_true(strcmp(list.items[i].id, cursor) > 0);
			snprintf(cursor, sizeof(cursor), "%s", list.items[i].id);
			n_total++;
			if (sscanf(cursor, "p-%d", &n) == 1 && n % 10 == 0 && n >= 10 && n <= 2500)
				seen[n / 10 - 1]++;
			else
				n_late++;
		}
		tenant_list_free(&list);
		pages++;
		if (pages == 1) {
			/* inserted behind the cursor: never shown; ahead: shown once */
			harness_insert(h, "p-0005");
			harness_insert(h, "p-1005");
			harness_insert(h, "p-9999");
		}
	}
	for (int i = 0; i < 250; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(n_late, 2); /* p-1005 and p-9999, not p-0005 */
	assert_int_equal(n_total, 252);
	assert_int_equal(pages, 3);

	/* limits: 0 means 100, anything above 1000 means 1000 (one 800-write commit) */
	for (int i = 0; i < 800; i++) {
		snprintf(bulk_ids[i], sizeof(bulk_ids[i]), "q-%04d", i);
		bulk[i] = harness_tenant(bulk_ids[i], "Active", "{}");
		writes[i] = (struct tnd_write){ .kind = TND_WRITE_TENANT_INSERT, .record = &bulk[i] };
	}
	assert_int_equal(h->ops->commit(h->ctx, writes, 800, NULL, &err), 0);
	for (uint32_t limit = 0; limit <= 5000; limit += 5000) {
		struct tenant_list list = { 0 };
		q.after_id = NULL;
		q.limit = limit;
		assert_int_equal(harness_search(h, &q, &list), 0);
		assert_int_equal(list.n, limit == 0 ? 100 : 1000);
		tenant_list_free(&list);
	}
	free(bulk);
	free(writes);
	free(bulk_ids);
}

/* A visitor that reads again from inside the visit: rows are copied out
 * first, so even a pool of one connection does not deadlock. */
static int visit_and_reread(const struct tnd_tenant_record *rec, void *userdata)
{
	struct harness *h = userdata;
	struct tnd_error err = { { 0 } };

	assert_int_equal(h->ops->tenant_get(h->ctx, rec->id, NULL, NULL, &err), 0);
	return 0;
}

static void test_visitor_reentry(void **state)
{
	struct harness *h = *state;
	struct tnd_error err = { { 0 } };

	harness_close(h);
	assert_int_equal(harness_open(h, "{\"readers\": 1}", &err), 0);
	harness_insert(h, "re-1");
	harness_insert(h, "re-2");
	assert_int_equal(h->ops->tenant_search(h->ctx, NULL, visit_and_reread, h, &err), 0);
	assert_int_equal(h->ops->tenant_get(h->ctx, "re-1", visit_and_reread, h, &err), 0);
}

/* --- idempotency -------------------------------------------------------------------------- */

static int collect_idempotency(const struct tnd_idempotency_record *rec, void *userdata)
{
	char **out = userdata;

	free(*out);
	*out = tnd_xasprintf("%s|%s|%d|%s|%lld|%lld", rec->key, rec->request_hash, rec->status,
			     rec->response_json, (long long)rec->created_ms, (long long)rec->expires_ms);
	return 0;
}

static void test_idempotency(void **state)
{
	struct harness *h = *state;
	struct tnd_idempotency_record rec = {
		.size = sizeof(rec), .key = "alice\nk1", .request_hash = "h1", .status = 201,
		.response_json = "{\"ok\":true}", .created_ms = 1000, .expires_ms = 2000,
	};
	struct tnd_error err = { { 0 } };
	char *got = NULL;

	assert_int_equal(harness_commit1(h, TND_WRITE_IDEMPOTENCY_INSERT, 0, &rec, &err), 0);
	assert_int_equal(h->ops->idempotency_get(h->ctx, "alice\nk1", 1500, collect_idempotency, &got, &err), 0);
	assert_string_equal(got, "alice\nk1|h1|201|{\"ok\":true}|1000|2000");
	/* expired at exactly expires_ms */
	assert_int_equal(h->ops->idempotency_get(h->ctx, "alice\nk1", 2000, collect_idempotency, &got, &err),
			 -ENOENT);
	assert_int_equal(h->ops->idempotency_get(h->ctx, "bob\nk1", 1500, NULL, NULL, &err), -ENOENT);

	/* unexpired: refused, and the stored one stays */
	rec.request_hash = "h2";
	rec.created_ms = 1500;
	assert_int_equal(harness_commit1(h, TND_WRITE_IDEMPOTENCY_INSERT, 0, &rec, &err), -EEXIST);
	assert_int_equal(h->ops->idempotency_get(h->ctx, "alice\nk1", 1500, collect_idempotency, &got, &err), 0);
	assert_string_equal(got, "alice\nk1|h1|201|{\"ok\":true}|1000|2000");

	/* expired: replaced */
	rec.created_ms = 2000;
	rec.expires_ms = 10000;
	rec.status = 200;
	assert_int_equal(harness_commit1(h, TND_WRITE_IDEMPOTENCY_INSERT, 0, &rec, &err), 0);
	assert_int_equal(h->ops->idempotency_get(h->ctx, "alice\nk1", 2500, collect_idempotency, &got, &err), 0);
	assert_string_equal(got, "alice\nk1|h2|200|{\"ok\":true}|2000|10000");

	/* maintain() drops what has expired by its clock, and only that */
	rec.key = "alice\nk2";
	rec.created_ms = 2500;
	rec.expires_ms = 3000;
	assert_int_equal(harness_commit1(h, TND_WRITE_IDEMPOTENCY_INSERT, 0, &rec, &err), 0);
	assert_int_equal(h->ops->idempotency_get(h->ctx, "alice\nk2", 0, NULL, NULL, &err), 0);
	assert_int_equal(h->ops->maintain(h->ctx, 3500, &err), 0);
	assert_int_equal(h->ops->idempotency_get(h->ctx, "alice\nk2", 0, NULL, NULL, &err), -ENOENT);
	assert_int_equal(h->ops->idempotency_get(h->ctx, "alice\nk1", 0, NULL, NULL, &err), 0);

	rec.key = NULL;
	assert_int_equal(harness_commit1(h, TND_WRITE_IDEMPOTENCY_INSERT, 0, &rec, &err), -EINVAL);
	free(got);
}

static void test_commit_metrics(void **state)
{
	struct harness *h = *state;
	struct tnd_tenant_record rec = harness_tenant("m-1", "Active", "{}");
	struct tnd_error err = { { 0 } };
	uint64_t commits = metrics_counter_get("tenancyd_plugin_sqlite_commits_total", NULL);
	uint64_t txs = metrics_counter_get("tenancyd_plugin_sqlite_transactions_total", NULL);
	uint64_t failures = metrics_counter_get("tenancyd_plugin_sqlite_commit_failures_total", NULL);

	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &rec, &err), 0);
	assert_int_equal(metrics_counter_get("tenancyd_plugin_sqlite_commits_total", NULL), commits + 1);
	assert_int_equal(metrics_counter_get("tenancyd_plugin_sqlite_transactions_total", NULL), txs + 1);

	/* a failed precondition is counted, and costs no transaction */
	assert_int_equal(harness_commit1(h, TND_WRITE_TENANT_INSERT, 0, &rec, &err), -EEXIST);
	assert_int_equal(metrics_counter_get("tenancyd_plugin_sqlite_commits_total", NULL), commits + 1);
	assert_int_equal(metrics_counter_get("tenancyd_plugin_sqlite_transactions_total", NULL), txs + 1);
	assert_int_equal(metrics_counter_get("tenancyd_plugin_sqlite_commit_failures_total", NULL), failures + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tenant_roundtrip, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_insert_existing_id, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_update_preconditions, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_commit_atomicity, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_write_kind, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_lineage, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_phases, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_search_filters, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_search_pagination, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_visitor_reentry, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_idempotency, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_commit_metrics, harness_setup_open, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
