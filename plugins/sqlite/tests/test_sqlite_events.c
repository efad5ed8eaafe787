/*
 * test_sqlite_events.c — the event outbox storage ABI 1.2 added to the
 * sqlite plugin, driven through the built sqlite.so: events appended and
 * read back field by field with driver-assigned sequences, the list
 * filters (after, limit, tenant, type), the refusals, the transaction
 * rule (an event fails with the rest of its commit and leaves no visible
 * sequence behind), sequences continuing across a reopen, and many
 * threads committing through group commit (some commits failing on
 * purpose) yielding unique, gap-free, strictly increasing sequences in
 * each committer's own order, with every acknowledged event present and
 * no failed one.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
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

static struct tnd_event_record event(const char *id, const char *tenant, const char *type, int64_t time_ms)
{
	return (struct tnd_event_record){
		.size = sizeof(struct tnd_event_record), .seq = 999, .id = id, .tenant_id = tenant, .type = type,
		.time_ms = time_ms, .event_json = "{\"specversion\":\"1.0\"}",
	};
}

/* What a read found: "seq:id" pairs and, for the first, every field. */
struct collected {
	struct tnd_buf items;
	char first[512];
	size_t n;
};

static int collect(const struct tnd_event_record *rec, void *userdata)
{
	struct collected *c = userdata;

	if (c->n++ == 0)
		snprintf(c->first, sizeof(c->first), "%lld|%s|%s|%s|%lld|%s", (long long)rec->seq, rec->id,
			 rec->tenant_id, rec->type, (long long)rec->time_ms, rec->event_json);
	tnd_buf_addf(&c->items, "%s%lld:%s", c->items.len ? "," : "", (long long)rec->seq, rec->id);
	return 0;
}

static char *list(struct harness *h, int64_t after, uint32_t limit, const char *tenant, const char *type,
		  char *first, size_t cap)
{
	struct tnd_event_query q = { .size = sizeof(q), .after_seq = after, .limit = limit, .tenant_id = tenant,
				     .type = type };
	struct collected c = { 0 };
	struct tnd_error err = { { 0 } };
	int r = h->ops->event_list(h->ctx, &q, collect, &c, &err);

	if (r != 0)
		fail_msg("event_list: %d %s", r, err.message);
	if (first)
		snprintf(first, cap, "%s", c.first);
	return c.items.data ? tnd_buf_steal(&c.items) : tnd_xstrdup("");
}

#define assert_list(got_expr, expected)                \
	do {                                           \
		char *got_ = (got_expr);               \
		assert_string_equal(got_, (expected)); \
		free(got_);                            \
	} while (0)

static void test_roundtrip_and_filters(void **state)
{
	struct harness *h = *state;
	struct tnd_event_record a = event("ev-a", "t1", "tenancy.tenant.created", 1000);
	struct tnd_event_record b = event("ev-b", "t2", "tenancy.tenant.created", 2000);
	struct tnd_event_record c = event("ev-c", "t1", "tenancy.tenant.activated", 3000);
	struct tnd_error err = { { 0 } };
	char first[512];

	assert_non_null(h->ops->event_list);
	assert_list(list(h, 0, 0, NULL, NULL, NULL, 0), "");
	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &a, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &b, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &c, &err), 0);

	/* the driver numbers them (the record's seq is ignored on write) */
	assert_list(list(h, 0, 0, NULL, NULL, first, sizeof(first)), "1:ev-a,2:ev-b,3:ev-c");
	assert_string_equal(first, "1|ev-a|t1|tenancy.tenant.created|1000|{\"specversion\":\"1.0\"}");
	assert_list(list(h, 1, 0, NULL, NULL, NULL, 0), "2:ev-b,3:ev-c");
	assert_list(list(h, 3, 0, NULL, NULL, NULL, 0), "");
	assert_list(list(h, 0, 2, NULL, NULL, NULL, 0), "1:ev-a,2:ev-b");
	assert_list(list(h, 2, 2, NULL, NULL, NULL, 0), "3:ev-c");
	assert_list(list(h, 0, 0, "t1", NULL, NULL, 0), "1:ev-a,3:ev-c");
	assert_list(list(h, 1, 0, "t1", NULL, NULL, 0), "3:ev-c");
	assert_list(list(h, 0, 0, NULL, "tenancy.tenant.created", NULL, 0), "1:ev-a,2:ev-b");
	assert_list(list(h, 0, 0, "t1", "tenancy.tenant.created", NULL, 0), "1:ev-a");
	assert_list(list(h, 0, 0, "nobody", NULL, NULL, 0), "");
	/* a NULL query: everything */
	{
		struct collected all = { 0 };

		assert_int_equal(h->ops->event_list(h->ctx, NULL, collect, &all, &err), 0);
		assert_string_equal(all.items.data, "1:ev-a,2:ev-b,3:ev-c");
		tnd_buf_free(&all.items);
	}
	/* several events in one commit get consecutive sequences in write order */
	{
		struct tnd_event_record d = event("ev-d", "t3", "tenancy.tenant.created", 4000);
		struct tnd_event_record e = event("ev-e", "t3", "tenancy.tenant.activated", 4000);
		struct tnd_write writes[2] = {
			{ .kind = TND_WRITE_EVENT_APPEND, .record = &d },
			{ .kind = TND_WRITE_EVENT_APPEND, .record = &e },
		};

		assert_int_equal(h->ops->commit(h->ctx, writes, 2, NULL, &err), 0);
		assert_list(list(h, 3, 0, NULL, NULL, NULL, 0), "4:ev-d,5:ev-e");
	}
	/* sequences go on after a reopen */
	harness_close(h);
	assert_int_equal(harness_open(h, NULL, &err), 0);
	{
		struct tnd_event_record f = event("ev-f", "t1", "tenancy.tenant.suspended", 5000);

		assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &f, &err), 0);
		assert_list(list(h, 4, 0, NULL, NULL, NULL, 0), "5:ev-e,6:ev-f");
	}
}

static void test_refusals(void **state)
{
	struct harness *h = *state;
	struct tnd_event_record rec = event("ev-1", "t1", "tenancy.tenant.created", 1000);
	struct tnd_error err = { { 0 } };

	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &rec, &err), 0);
	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &rec, &err), -EEXIST);
	rec = event(NULL, "t1", "tenancy.tenant.created", 1000);
	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &rec, &err), -EINVAL);
	rec = event("ev-2", NULL, "tenancy.tenant.created", 1000);
	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &rec, &err), -EINVAL);
	rec = event("ev-2", "t1", "", 1000);
	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &rec, &err), -EINVAL);
	rec = event("ev-2", "t1", "tenancy.tenant.created", 1000);
	rec.event_json = "[1]";
	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &rec, &err), -EINVAL);
	rec = event("ev-2", "t1", "tenancy.tenant.created", 1000);
	rec.size = sizeof(uint32_t) + sizeof(int64_t); /* an older core's record */
	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &rec, &err), -EINVAL);
	{
		struct tnd_event_query q = { .size = sizeof(uint32_t) };

		assert_int_equal(h->ops->event_list(h->ctx, &q, collect, NULL, &err), -EINVAL);
	}
	/* nothing of the refused ones, and the next sequence is the next number */
	rec = event("ev-3", "t1", "tenancy.tenant.activated", 1000);
	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &rec, &err), 0);
	assert_list(list(h, 0, 0, NULL, NULL, NULL, 0), "1:ev-1,2:ev-3");
}

/* The transaction rule: an event fails with the rest of its commit. */
static void test_fails_with_its_commit(void **state)
{
	struct harness *h = *state;
	struct tnd_event_record rec = event("ev-9", "t1", "tenancy.tenant.activated", 1000);
	struct tnd_phase_record phase = {
		.size = sizeof(phase), .tenant_id = "nobody", .from_phase = "Draft", .to_phase = "Active",
		.version = 2, .actor = "admin", .time_ms = 5,
	};
	struct tnd_write writes[2] = {
		{ .kind = TND_WRITE_EVENT_APPEND, .record = &rec },
		{ .kind = TND_WRITE_PHASE_APPEND, .record = &phase },
	};
	struct tnd_error err = { { 0 } };
	size_t failed = 99;

	assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -ENOENT);
	assert_int_equal(failed, 1);
	assert_list(list(h, 0, 0, NULL, NULL, NULL, 0), "");
	/* the failed commit's number was never seen, so it is not missing either */
	rec.id = "ev-10";
	assert_int_equal(harness_commit1(h, TND_WRITE_EVENT_APPEND, 0, &rec, &err), 0);
	assert_list(list(h, 0, 0, NULL, NULL, NULL, 0), "1:ev-10");
}

/* --- many committers through group commit -------------------------------------------- */

#define EV_THREADS 16
#define EV_COMMITS 60
/* every EV_FAIL_EVERY-th commit of a thread carries a write that fails */
#define EV_FAIL_EVERY 7

struct committer {
	struct harness *h;
	pthread_barrier_t *start;
	int index;
	int acknowledged;
	int errors;
	char message[512];
};

static void *committer_run(void *arg)
{
	struct committer *w = arg;
	struct tnd_phase_record bad = {
		.size = sizeof(bad), .tenant_id = "nobody", .from_phase = "Draft", .to_phase = "Active",
		.version = 2, .actor = "admin", .time_ms = 5,
	};

	pthread_barrier_wait(w->start);
	for (int i = 0; i < EV_COMMITS; i++) {
		char id[64], tenant[32];
		struct tnd_event_record rec;
		struct tnd_write writes[2];
		struct tnd_error err = { { 0 } };
		bool fail = i % EV_FAIL_EVERY == EV_FAIL_EVERY - 1;
		int r;

		snprintf(id, sizeof(id), "ev-w%02d-%03d", w->index, i);
		snprintf(tenant, sizeof(tenant), "t%02d", w->index);
		rec = event(id, tenant, "tenancy.tenant.created", i);
		writes[0] = (struct tnd_write){ .kind = TND_WRITE_EVENT_APPEND, .record = &rec };
		writes[1] = (struct tnd_write){ .kind = TND_WRITE_PHASE_APPEND, .record = &bad };
		r = w->h->ops->commit(w->h->ctx, writes, fail ? 2 : 1, NULL, &err);
		if (r == 0 && !fail) {
			w->acknowledged++;
		} else if (!(fail && r == -ENOENT)) {
			if (w->message[0] == '\0')
				snprintf(w->message, sizeof(w->message), "%s: %d %.400s", id, r, err.message);
			w->errors++;
		}
	}
	return NULL;
}

/* Everything read back in pages, as a dispatcher would. */
struct paged {
	int64_t last_seq;
	int64_t expected_next;  /* gap-free: 1, 2, 3, ... */
	int last_index[EV_THREADS];
	int problems;
	size_t n;
	char message[512];
};

static int paged_visit(const struct tnd_event_record *rec, void *userdata)
{
	struct paged *p = userdata;
	int thread = -1, index = -1;

	if (rec->seq != p->expected_next && p->problems++ == 0)
		snprintf(p->message, sizeof(p->message), "seq %lld where %lld was expected", (long long)rec->seq,
			 (long long)p->expected_next);
	p->expected_next = rec->seq + 1;
	p->last_seq = rec->seq;
	p->n++;
	if (sscanf(rec->id, "ev-w%d-%d", &thread, &index) != 2 || thread < 0 || thread >= EV_THREADS) {
		if (p->problems++ == 0)
			snprintf(p->message, sizeof(p->message), "unexpected event %s", rec->id);
		return 0;
	}
	/* a committer's events appear in its commit order; failed ones never */
	if ((index <= p->last_index[thread] || index % EV_FAIL_EVERY == EV_FAIL_EVERY - 1) && p->problems++ == 0)
		snprintf(p->message, sizeof(p->message), "event %s at seq %lld out of order or failed",
			 rec->id, (long long)rec->seq);
	p->last_index[thread] = index;
	return 0;
}

static void test_concurrent_committers(void **state)
{
	struct harness *h = *state;
	struct committer workers[EV_THREADS];
	pthread_t threads[EV_THREADS];
	pthread_barrier_t start;
	struct paged paged = { .expected_next = 1 };
	struct tnd_error err = { { 0 } };
	int acknowledged = 0;

	pthread_barrier_init(&start, NULL, EV_THREADS);
	for (int i = 0; i < EV_THREADS; i++) {
		workers[i] = (struct committer){ .h = h, .start = &start, .index = i };
		assert_int_equal(pthread_create(&threads[i], NULL, committer_run, &workers[i]), 0);
	}
	for (int i = 0; i < EV_THREADS; i++) {
		pthread_join(threads[i], NULL);
		if (workers[i].errors)
			fail_msg("committer %d: %d unexpected results, first: %s", i, workers[i].errors,
				 workers[i].message);
		acknowledged += workers[i].acknowledged;
	}
	pthread_barrier_destroy(&start);
	for (int i = 0; i < EV_THREADS; i++)
		paged.last_index[i] = -1;
	for (;;) {
		struct tnd_event_query q = { .size = sizeof(q), .after_seq = paged.last_seq, .limit = 97 };
		size_t before = paged.n;

		assert_int_equal(h->ops->event_list(h->ctx, &q, paged_visit, &paged, &err), 0);
		if (paged.n == before)
			break;
	}
	if (paged.problems)
		fail_msg("%d problem(s), first: %s", paged.problems, paged.message);
	assert_int_equal((int)paged.n, acknowledged);
	assert_int_equal(acknowledged, EV_THREADS * (EV_COMMITS - EV_COMMITS / EV_FAIL_EVERY));
	assert_int_equal(paged.last_seq, acknowledged);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_and_filters, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_fails_with_its_commit, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_committers, harness_setup_open, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
