/*
 * test_sqlite_audit.c — the audit write kind and reads of storage ABI 1.2 in
 * the sqlite driver, hashed and signed by the real core (host_new's
 * audit_hash and audit_sign_records with a key loaded by audit_keys_load): many threads committing audit records
 * through group commit, some of them in commits that fail, must leave one
 * chain numbered 1..N without a gap or a fork that verifies; a failed seal
 * fails its commit and writes nothing; a trail whose head is gone is not
 * extended; and the search filters and cursor.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "audit.h"
#include "audit_verify.h"
#include "sqlite_harness.h"
#include "testutil.h"
#include "util.h"

#define AUDIT_THREADS 8
#define AUDIT_PER_THREAD 60

static int setup(void **state)
{
	struct harness *h = tnd_xcalloc(1, sizeof(*h));
	struct tnd_error err = { { 0 } };
	char *key;

	harness_load(h, "audit");
	key = tnd_xasprintf("%s/audit.key", h->dir);
	assert_int_equal(audit_keys_load(key, true, NULL, 0, &err), 0);
	free(key);
	assert_int_equal(harness_open(h, "{\"group_commit_max\": 16}", &err), 0);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;

	harness_unload(h);
	audit_stop();
	free(h);
	return 0;
}

static struct tnd_audit_record audit_record(const char *tenant, const char *actor, const char *action,
					    const char *outcome, int64_t time_ms)
{
	struct tnd_audit_record rec = {
		.size = sizeof(rec),
		.time_ms = time_ms,
		.tenant_id = tenant,
		.actor = actor,
		.action = action,
		.target = "/v1/test",
		.outcome = outcome,
		.request_id = "req",
	};
	return rec;
}

struct feed {
	struct audit_verifier *v;
	int64_t last;
	size_t n;
};

static int feed_visit(const struct tnd_audit_record *rec, void *userdata)
{
	struct feed *f = userdata;

	f->n++;
	f->last = rec->seq;
	return audit_verifier_feed(f->v, rec) ? 0 : 1;
}

struct head_copy {
	struct tnd_audit_head head;
	char hash[65], key_id[17], signature[89];
	bool found;
};

static int head_visit(const struct tnd_audit_head *head, void *userdata)
{
	struct head_copy *c = userdata;

	c->found = true;
	c->head = *head;
	snprintf(c->hash, sizeof(c->hash), "%s", head->hash);
	snprintf(c->key_id, sizeof(c->key_id), "%s", head->key_id);
	snprintf(c->signature, sizeof(c->signature), "%s", head->signature);
	c->head.hash = c->hash;
	c->head.key_id = c->key_id;
	c->head.signature = c->signature;
	return 1;
}

/* Feed every record to a verifier and check the head; records checked, or -1. */
static int64_t trail_verify(struct harness *h)
{
	struct audit_verifier v;
	struct tnd_audit_query q = { .size = sizeof(q), .limit = 1000 };
	struct tnd_error err = { { 0 } };
	struct head_copy head = { .found = false };
	int r;

	audit_verifier_init(&v, audit_keyring_get0(), 1);
	for (;;) {
		struct feed f = { &v, 0, 0 };
		assert_int_equal(h->ops->audit_list(h->ctx, &q, feed_visit, &f, &err), 0);
		if (f.n < q.limit || v.first_bad)
			break;
		q.after_seq = f.last;
	}
	r = h->ops->audit_head_get(h->ctx, head_visit, &head, &err);
	assert_true(r == 0 || r == -ENOENT);
	if (!audit_verifier_finish(&v, head.found ? &head.head : NULL)) {
		print_message("trail broken at %lld: %s\n", (long long)v.first_bad, v.reason);
		return -1;
	}
	return v.checked;
}

/* --- concurrency ------------------------------------------------------------------------- */

struct worker {
	struct harness *h;
	int index;
	int ok;
	int failed;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct tnd_error err = { { 0 } };

	for (int i = 0; i < AUDIT_PER_THREAD; i++) {
		char id[32], actor[32];
		struct tnd_tenant_record tenant;
		struct tnd_audit_record rec;
		struct tnd_write writes[2];
		int r;

		snprintf(actor, sizeof(actor), "w%d", w->index);
		/* every fifth commit re-inserts tenant "taken": it fails, and its
		 * audit record must vanish with it */
		if (i % 5 == 4)
			snprintf(id, sizeof(id), "taken");
		else
			snprintf(id, sizeof(id), "t-%d-%d", w->index, i);
		tenant = harness_tenant(id, "Active", "{}");
		rec = audit_record(id, actor, "tenant.apply", "succeeded", 1000 + i);
		writes[0] = (struct tnd_write){ .kind = TND_WRITE_TENANT_INSERT, .record = &tenant };
		writes[1] = (struct tnd_write){ .kind = TND_WRITE_AUDIT, .record = &rec };
		/* every third: the record alone, as for a refused request */
		if (i % 3 == 2)
			r = w->h->ops->commit(w->h->ctx, &writes[1], 1, NULL, &err);
		else
			r = w->h->ops->commit(w->h->ctx, writes, 2, NULL, &err);
		if (r == 0)
			w->ok++;
		else if (r == -EEXIST)
			w->failed++;
		else
			fail_msg("commit: %d %s", r, err.message);
	}
	return NULL;
}

static void test_concurrent_chain(void **state)
{
	struct harness *h = *state;
	struct worker workers[AUDIT_THREADS];
	pthread_t threads[AUDIT_THREADS];
	int ok = 0, failed = 0;

	harness_insert(h, "taken");
	for (int i = 0; i < AUDIT_THREADS; i++) {
		workers[i] = (struct worker){ .h = h, .index = i };
		assert_int_equal(pthread_create(&threads[i], NULL, worker_run, &workers[i]), 0);
	}
	for (int i = 0; i < AUDIT_THREADS; i++) {
		pthread_join(threads[i], NULL);
		ok += workers[i].ok;
		failed += workers[i].failed;
	}
	assert_true(failed > 0);
	assert_int_equal(ok + failed, AUDIT_THREADS * AUDIT_PER_THREAD);
	/* one record per successful commit, numbered 1..ok, chained and signed */
	assert_int_equal(trail_verify(h), ok);
}

/* --- failures ------------------------------------------------------------------------------ */

static void test_failed_seal_writes_nothing(void **state)
{
	struct harness *h = *state;
	struct tnd_audit_record rec = audit_record("a", "alice", "tenant.apply", "succeeded", 5);
	struct tnd_tenant_record tenant = harness_tenant("sealed-out", "Active", "{}");
	struct tnd_write writes[2] = {
		{ .kind = TND_WRITE_TENANT_INSERT, .record = &tenant },
		{ .kind = TND_WRITE_AUDIT, .record = &rec },
	};
	struct tnd_error err = { { 0 } };
	size_t failed = 99;

	assert_int_equal(harness_commit1(h, TND_WRITE_AUDIT, 0, &rec, &err), 0);
	audit_test_fail_seal(true);
	assert_int_equal(h->ops->commit(h->ctx, writes, 2, &failed, &err), -EIO);
	audit_test_fail_seal(false);
	assert_int_equal(failed, 1);
	assert_false(harness_exists(h, "sealed-out"));
	/* the next record takes the number the failed one would have had */
	assert_int_equal(harness_commit1(h, TND_WRITE_AUDIT, 0, &rec, &err), 0);
	assert_int_equal(trail_verify(h), 2);
}

/* Signing happens before COMMIT, for the whole group: its failure fails the
 * transaction, and neither the record nor the change it carries is kept. */
static void test_failed_signing_fails_the_transaction(void **state)
{
	struct harness *h = *state;
	struct tnd_audit_record rec = audit_record("a", "alice", "tenant.apply", "succeeded", 5);
	struct tnd_tenant_record tenant = harness_tenant("unsigned", "Active", "{}");
	struct tnd_write writes[2] = {
		{ .kind = TND_WRITE_TENANT_INSERT, .record = &tenant },
		{ .kind = TND_WRITE_AUDIT, .record = &rec },
	};
	struct tnd_error err = { { 0 } };

	assert_int_equal(harness_commit1(h, TND_WRITE_AUDIT, 0, &rec, &err), 0);
	audit_test_fail_signing(true);
	assert_int_equal(h->ops->commit(h->ctx, writes, 2, NULL, &err), -EIO);
	audit_test_fail_signing(false);
	assert_false(harness_exists(h, "unsigned"));
	assert_int_equal(trail_verify(h), 1);
	assert_int_equal(h->ops->commit(h->ctx, writes, 2, NULL, &err), 0);
	assert_true(harness_exists(h, "unsigned"));
	assert_int_equal(trail_verify(h), 2);
}

static void test_missing_head_is_not_extended(void **state)
{
	struct harness *h = *state;
	struct tnd_audit_record rec = audit_record(NULL, "alice", "x", "succeeded", 5);
	struct tnd_error err = { { 0 } };
	sqlite3 *db;

	assert_int_equal(harness_commit1(h, TND_WRITE_AUDIT, 0, &rec, &err), 0);
	assert_int_equal(sqlite3_open(h->db_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM audit_head", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(harness_commit1(h, TND_WRITE_AUDIT, 0, &rec, &err), -EBADMSG);
	assert_int_equal(trail_verify(h), -1);
}

static void test_invalid_records(void **state)
{
	struct harness *h = *state;
	struct tnd_audit_record rec = audit_record(NULL, "alice", NULL, "succeeded", 5);
	struct tnd_error err = { { 0 } };

	assert_int_equal(harness_commit1(h, TND_WRITE_AUDIT, 0, &rec, &err), -EINVAL);
	rec.action = "x";
	rec.size = 8;
	assert_int_equal(harness_commit1(h, TND_WRITE_AUDIT, 0, &rec, &err), -EINVAL);
	assert_int_equal(h->ops->audit_head_get(h->ctx, NULL, NULL, &err), -ENOENT);
}

/* --- search --------------------------------------------------------------------------------- */

struct seqs {
	int64_t seq[64];
	size_t n;
};

static int seqs_visit(const struct tnd_audit_record *rec, void *userdata)
{
	struct seqs *s = userdata;

	if (s->n < 64)
		s->seq[s->n++] = rec->seq;
	return 0;
}

static size_t search(struct harness *h, struct tnd_audit_query q, struct seqs *out)
{
	struct tnd_error err = { { 0 } };

	memset(out, 0, sizeof(*out));
	q.size = sizeof(q);
	assert_int_equal(h->ops->audit_list(h->ctx, &q, seqs_visit, out, &err), 0);
	return out->n;
}

static void test_search(void **state)
{
	struct harness *h = *state;
	struct tnd_error err = { { 0 } };
	struct seqs s;
	static const struct {
		const char *tenant, *actor, *action, *outcome;
		int64_t time;
	} rows[] = {
		{ "a", "alice", "tenant.apply", "succeeded", 100 },  { "b", "bob", "tenant.apply", "rejected", 200 },
		{ "a", "bob", "tenant.suspend", "denied", 300 },     { NULL, "alice", "workflow.retry", "failed", 400 },
		{ "a", "tenancyd", "workflow.step", "succeeded", 500 },
	};

	for (size_t i = 0; i < TND_ARRAY_SIZE(rows); i++) {
		struct tnd_audit_record rec =
			audit_record(rows[i].tenant, rows[i].actor, rows[i].action, rows[i].outcome, rows[i].time);
		assert_int_equal(harness_commit1(h, TND_WRITE_AUDIT, 0, &rec, &err), 0);
	}
	assert_int_equal(search(h, (struct tnd_audit_query){ .tenant_id = "a" }, &s), 3);
	assert_int_equal(s.seq[0], 1);
	assert_int_equal(s.seq[2], 5);
	assert_int_equal(search(h, (struct tnd_audit_query){ .actor = "bob" }, &s), 2);
	assert_int_equal(search(h, (struct tnd_audit_query){ .tenant_id = "a", .actor = "bob" }, &s), 1);
	assert_int_equal(s.seq[0], 3);
	assert_int_equal(search(h, (struct tnd_audit_query){ .action = "workflow.retry" }, &s), 1);
	assert_int_equal(search(h, (struct tnd_audit_query){ .outcome = "succeeded" }, &s), 2);
	assert_int_equal(search(h, (struct tnd_audit_query){ .after_ms = 200, .until_ms = 400 }, &s), 2);
	assert_int_equal(s.seq[0], 2);
	assert_int_equal(search(h, (struct tnd_audit_query){ .after_seq = 3 }, &s), 2);
	assert_int_equal(s.seq[0], 4);
	assert_int_equal(search(h, (struct tnd_audit_query){ .limit = 2 }, &s), 2);
	assert_int_equal(search(h, (struct tnd_audit_query){ .actor = "nobody" }, &s), 0);
	assert_int_equal(trail_verify(h), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_seal_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_signing_fails_the_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_head_is_not_extended, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_records, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
