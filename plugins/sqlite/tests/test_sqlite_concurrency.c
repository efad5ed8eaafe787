/*
 * test_sqlite_concurrency.c — the sqlite storage plugin under concurrent
 * load and crashes, through the built sqlite.so: group commit really
 * batches (and every commit is visible and durable), a commit that fails
 * its preconditions does not drag its group down, concurrent workflow
 * updates keep the optimistic lock (all applied on distinct workflows,
 * exactly one winner per round on the same one), and every commit that was
 * acknowledged (tenant inserts, workflow updates) survives kill -9 of the
 * process with an intact database.
 */
#include "autoconfig.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "host.h"
#include "metrics.h"
#include "sqlite_harness.h"
#include "testutil.h"
#include "util.h"

/* cmocka's assertions are not thread-safe: worker threads count problems
 * and the main thread asserts on the counts. */
struct worker {
	struct harness *h;
	pthread_barrier_t *start;
	int index;
	int n_commits;
	int errors;          /* unexpected results */
	int invisible;       /* committed but not seen by a read right after */
	int failed_as_expected;
	char message[1024];
};

static void worker_note(struct worker *w, const char *what, int r, const struct tnd_error *err)
{
	if (w->message[0] == '\0')
		snprintf(w->message, sizeof(w->message), "%s: %d %s", what, r, err->message);
	w->errors++;
}

/* --- many committers ------------------------------------------------------------------ */

#define MT_THREADS 32
#define MT_COMMITS 50

static void *worker_commit(void *arg)
{
	struct worker *w = arg;
	struct tnd_error err = { { 0 } };
	char id[32];

	pthread_barrier_wait(w->start);
	for (int i = 0; i < w->n_commits; i++) {
		struct tnd_tenant_record rec;
		struct tnd_version_record v = {
			.size = sizeof(v), .version = 1, .manifest_json = "{}", .actor = "load", .time_ms = i,
		};
		struct tnd_write writes[2] = {
			{ .kind = TND_WRITE_TENANT_INSERT, .record = &rec },
			{ .kind = TND_WRITE_VERSION_APPEND, .record = &v },
		};
		int r;

		snprintf(id, sizeof(id), "mt-%02d-%03d", w->index, i);
		rec = harness_tenant(id, "Active", "{\"load\":\"yes\"}");
		v.tenant_id = id;
		r = w->h->ops->commit(w->h->ctx, writes, 2, NULL, &err);
		if (r != 0) {
			worker_note(w, id, r, &err);
			continue;
		}
		/* A commit that returned is visible to any read started after. */
		r = w->h->ops->tenant_get(w->h->ctx, id, NULL, NULL, &err);
		if (r != 0)
			w->invisible++;
	}
	return NULL;
}

static void test_concurrent_commits_batch(void **state)
{
	struct harness *h = *state;
	struct worker workers[MT_THREADS];
	pthread_t threads[MT_THREADS];
	pthread_barrier_t start;
	struct tnd_tenant_query q = { .size = sizeof(q), .limit = 1000 };
	struct tenant_list list = { 0 };
	const char *key = "load", *value = "yes";
	uint64_t commits0 = metrics_counter_get("tenancyd_plugin_sqlite_commits_total", NULL);
	uint64_t txs0 = metrics_counter_get("tenancyd_plugin_sqlite_transactions_total", NULL);
	uint64_t commits, txs;
	char cursor[32] = "";
	size_t n_found = 0;

	pthread_barrier_init(&start, NULL, MT_THREADS);
	for (int i = 0; i < MT_THREADS; i++) {
		workers[i] = (struct worker){ .h = h, .start = &start, .index = i, .n_commits = MT_COMMITS };
		assert_int_equal(pthread_create(&threads[i], NULL, worker_commit, &workers[i]), 0);
	}
	for (int i = 0; i < MT_THREADS; i++) {
		pthread_join(threads[i], NULL);
		if (workers[i].errors)
			fail_msg("worker %d: %d errors, first: %s", i, workers[i].errors, workers[i].message);
		assert_int_equal(workers[i].invisible, 0);
	}
	pthread_barrier_destroy(&start);

	/* every one of them is there, exactly once */
	q.label_keys = &key;
	q.label_values = &value;
	q.n_labels = 1;
	do {
		q.after_id = cursor[0] ? cursor : NULL;
		tenant_list_free(&list);
		assert_int_equal(harness_search(h, &q, &list), 0);
		n_found += list.n;
		if (list.n > 0)
			snprintf(cursor, sizeof(cursor), "%s", list.items[list.n - 1].id);
	} while (list.n > 0);
	assert_int_equal(n_found, MT_THREADS * MT_COMMITS);

	/*
	 * Batching happened.  The threads start together at a barrier, so 31
	 * of them queue while the first leader is in its fsync, and from then
	 * on each group takes whoever queued during the previous one.  Even
	 * with fsync nearly free (tmpfs), a group's SQL takes long enough for
	 * 32 runnable threads on few cores to pile up; halving the transaction
	 * count is far below what we see (groups of ~10-30) and so not flaky.
	 */
	commits = metrics_counter_get("tenancyd_plugin_sqlite_commits_total", NULL) - commits0;
	txs = metrics_counter_get("tenancyd_plugin_sqlite_transactions_total", NULL) - txs0;
	print_message("%llu logical commits in %llu transactions (%.1f per fsync)\n",
		      (unsigned long long)commits, (unsigned long long)txs, txs ? (double)commits / (double)txs : 0.0);
	assert_int_equal(commits, MT_THREADS * MT_COMMITS);
	assert_true(txs < commits / 2);
	tenant_list_free(&list);
}

/* --- failures inside a group --------------------------------------------------------------- */

#define ISO_THREADS 16
#define ISO_COMMITS 30

/*
 * Even iterations commit a fresh tenant; odd ones commit a fresh tenant
 * followed by a write that must fail (an existing id, or a stale revision).
 * The fresh tenant of a failed commit must not exist afterwards, the
 * others must.
 */
static void *worker_mixed(void *arg)
{
	struct worker *w = arg;
	struct tnd_error err = { { 0 } };
	char id[32];

	pthread_barrier_wait(w->start);
	for (int i = 0; i < w->n_commits; i++) {
		struct tnd_tenant_record fresh, clash = harness_tenant("iso-existing", "Active", "{}");
		struct tnd_write writes[2] = { { .kind = TND_WRITE_TENANT_INSERT, .record = &fresh } };
		size_t failed = 99;
		int r, expected = 0;

		snprintf(id, sizeof(id), "iso-%02d-%03d", w->index, i);
		fresh = harness_tenant(id, "Active", "{}");
		if (i % 2 == 1 && i % 4 == 1) {
			writes[1] = (struct tnd_write){ .kind = TND_WRITE_TENANT_INSERT, .record = &clash };
			expected = -EEXIST;
		} else if (i % 2 == 1) {
			clash.revision = 100;
			writes[1] = (struct tnd_write){ .kind = TND_WRITE_TENANT_UPDATE, .expect_revision = 99,
							.record = &clash };
			expected = -ESTALE;
		}
		r = w->h->ops->commit(w->h->ctx, writes, expected ? 2 : 1, &failed, &err);
		if (r != expected) {
			worker_note(w, id, r, &err);
		} else if (expected) {
			if (failed != 1)
				worker_note(w, "failed index", (int)failed, &err);
			else
				w->failed_as_expected++;
		}
		r = w->h->ops->tenant_get(w->h->ctx, id, NULL, NULL, &err);
		if ((r == 0) != (expected == 0))
			worker_note(w, "presence after commit", r, &err);
	}
	return NULL;
}

static void test_group_isolation(void **state)
{
	struct harness *h = *state;
	struct worker workers[ISO_THREADS];
	pthread_t threads[ISO_THREADS];
	pthread_barrier_t start;
	uint64_t replays0, replays;
	char id[32];

	harness_insert(h, "iso-existing");
	replays0 = metrics_counter_get("tenancyd_plugin_sqlite_group_replays_total", NULL);
	pthread_barrier_init(&start, NULL, ISO_THREADS);
	for (int i = 0; i < ISO_THREADS; i++) {
		workers[i] = (struct worker){ .h = h, .start = &start, .index = i, .n_commits = ISO_COMMITS };
		assert_int_equal(pthread_create(&threads[i], NULL, worker_mixed, &workers[i]), 0);
	}
	for (int i = 0; i < ISO_THREADS; i++) {
		pthread_join(threads[i], NULL);
		if (workers[i].errors)
			fail_msg("worker %d: %d errors, first: %s", i, workers[i].errors, workers[i].message);
		assert_int_equal(workers[i].failed_as_expected, ISO_COMMITS / 2);
	}
	pthread_barrier_destroy(&start);

	/*
	 * Half the failing commits fail after their fresh tenant went in, so
	 * their group was rolled back and replayed without them.  With 16
	 * threads released at once, groups of several commits form (see
	 * test_concurrent_commits_batch), so some group had such a commit
	 * and another one: a replay.
	 */
	replays = metrics_counter_get("tenancyd_plugin_sqlite_group_replays_total", NULL) - replays0;
	print_message("%llu group replays\n", (unsigned long long)replays);
	assert_true(replays > 0);

	/* checked again after the dust settled */
	for (int t = 0; t < ISO_THREADS; t++)
		for (int i = 0; i < ISO_COMMITS; i++) {
			snprintf(id, sizeof(id), "iso-%02d-%03d", t, i);
			assert_int_equal(harness_exists(h, id), i % 2 == 0);
		}
}

/* --- concurrent workflow updates -------------------------------------------------------------- */

#define WF_THREADS 16
#define WF_UPDATES 40
#define WF_ROUNDS 20

static void *worker_workflow_own(void *arg)
{
	struct worker *w = arg;
	struct tnd_error err = { { 0 } };
	char id[32], doc[64];

	snprintf(id, sizeof(id), "wf-own-%02d", w->index);
	pthread_barrier_wait(w->start);
	for (int i = 1; i <= w->n_commits; i++) {
		struct tnd_workflow_record rec = harness_workflow(id, "tenant", "Running");
		int r;

		snprintf(doc, sizeof(doc), "{\"update\":%d}", i);
		rec.revision = i + 1;
		rec.step = i;
		rec.document_json = doc;
		r = harness_commit1(w->h, TND_WRITE_WORKFLOW_UPDATE, i, &rec, &err);
		if (r != 0)
			worker_note(w, id, r, &err);
	}
	return NULL;
}

static void test_workflow_updates_distinct(void **state)
{
	struct harness *h = *state;
	struct worker workers[WF_THREADS];
	pthread_t threads[WF_THREADS];
	pthread_barrier_t start;
	struct workflow_list list = { 0 };
	struct tnd_error err = { { 0 } };
	uint64_t commits0, txs0, commits, txs;
	char id[32];

	for (int i = 0; i < WF_THREADS; i++) {
		struct tnd_workflow_record rec;

		snprintf(id, sizeof(id), "wf-own-%02d", i);
		rec = harness_workflow(id, "tenant", "Pending");
		assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_INSERT, 0, &rec, &err), 0);
	}
	commits0 = metrics_counter_get("tenancyd_plugin_sqlite_commits_total", NULL);
	txs0 = metrics_counter_get("tenancyd_plugin_sqlite_transactions_total", NULL);
	pthread_barrier_init(&start, NULL, WF_THREADS);
	for (int i = 0; i < WF_THREADS; i++) {
		workers[i] = (struct worker){ .h = h, .start = &start, .index = i, .n_commits = WF_UPDATES };
		assert_int_equal(pthread_create(&threads[i], NULL, worker_workflow_own, &workers[i]), 0);
	}
	for (int i = 0; i < WF_THREADS; i++) {
		pthread_join(threads[i], NULL);
		if (workers[i].errors)
			fail_msg("worker %d: %d errors, first: %s", i, workers[i].errors, workers[i].message);
	}
	pthread_barrier_destroy(&start);

	/* every update applied, in order */
	for (int i = 0; i < WF_THREADS; i++) {
		snprintf(id, sizeof(id), "wf-own-%02d", i);
		harness_get_workflow(h, id, &list);
		assert_int_equal(list.items[0].revision, WF_UPDATES + 1);
		assert_int_equal(list.items[0].step, WF_UPDATES);
		assert_string_equal(list.items[0].document_json, "{\"update\":40}");
	}
	workflow_list_free(&list);
	/* and grouped (see test_concurrent_commits_batch for why this holds) */
	commits = metrics_counter_get("tenancyd_plugin_sqlite_commits_total", NULL) - commits0;
	txs = metrics_counter_get("tenancyd_plugin_sqlite_transactions_total", NULL) - txs0;
	print_message("%llu workflow updates in %llu transactions\n", (unsigned long long)commits,
		      (unsigned long long)txs);
	assert_int_equal(commits, WF_THREADS * WF_UPDATES);
	assert_true(txs < commits);
}

/* Per round: all threads leave a barrier together and try to move the one
 * workflow from the round's revision to the next, each writing a phase
 * transition first (so a loser fails after it changed rows, and its group
 * must be replayed without it). */
struct same_worker {
	struct worker base;
	pthread_barrier_t *round_done;
	int results[WF_ROUNDS];
};

static void *worker_workflow_same(void *arg)
{
	struct same_worker *sw = arg;
	struct worker *w = &sw->base;
	struct tnd_error err = { { 0 } };
	char reason[32];

	for (int round = 0; round < WF_ROUNDS; round++) {
		struct tnd_workflow_record rec = harness_workflow("wf-same", "same", "Running");
		struct tnd_phase_record phase = {
			.size = sizeof(phase), .tenant_id = "same", .from_phase = "Active", .to_phase = "Active",
			.version = 1, .actor = "orchestrator", .reason = reason, .time_ms = round,
		};
		struct tnd_write writes[2] = {
			{ .kind = TND_WRITE_PHASE_APPEND, .record = &phase },
			{ .kind = TND_WRITE_WORKFLOW_UPDATE, .expect_revision = round + 1, .record = &rec },
		};

		snprintf(reason, sizeof(reason), "r%02d-t%02d", round, w->index);
		rec.revision = round + 2;
		rec.step = w->index;
		pthread_barrier_wait(w->start);
		sw->results[round] = w->h->ops->commit(w->h->ctx, writes, 2, NULL, &err);
		pthread_barrier_wait(sw->round_done);
	}
	return NULL;
}

static void test_workflow_updates_same(void **state)
{
	struct harness *h = *state;
	struct same_worker workers[WF_THREADS];
	pthread_t threads[WF_THREADS];
	pthread_barrier_t start, round_done;
	struct tnd_workflow_record rec = harness_workflow("wf-same", "same", "Pending");
	struct workflow_list list = { 0 };
	struct int_list phases = { 0 };
	struct tnd_error err = { { 0 } };
	uint64_t replays0, replays;

	harness_insert(h, "same");
	assert_int_equal(harness_commit1(h, TND_WRITE_WORKFLOW_INSERT, 0, &rec, &err), 0);
	replays0 = metrics_counter_get("tenancyd_plugin_sqlite_group_replays_total", NULL);
	pthread_barrier_init(&start, NULL, WF_THREADS);
	pthread_barrier_init(&round_done, NULL, WF_THREADS);
	for (int i = 0; i < WF_THREADS; i++) {
		workers[i] = (struct same_worker){
			.base = { .h = h, .start = &start, .index = i },
			.round_done = &round_done,
		};
		assert_int_equal(pthread_create(&threads[i], NULL, worker_workflow_same, &workers[i]), 0);
	}
	for (int i = 0; i < WF_THREADS; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&round_done);

	/* exactly one winner per round, every other one stale, and the
	 * winner's phase transition is the only one written */
	assert_int_equal(h->ops->phase_list(h->ctx, "same", 0, 0, harness_collect_phase, &phases, &err), 0);
	assert_int_equal(phases.n, WF_ROUNDS);
	for (int round = 0; round < WF_ROUNDS; round++) {
		int winner = -1, n_stale = 0;
		char reason[32];

		for (int i = 0; i < WF_THREADS; i++) {
			if (workers[i].results[round] == 0) {
				if (winner >= 0)
					fail_msg("round %d: threads %d and %d both won", round, winner, i);
				winner = i;
			} else if (workers[i].results[round] == -ESTALE) {
				n_stale++;
			} else {
				fail_msg("round %d thread %d: %d", round, i, workers[i].results[round]);
			}
		}
		assert_true(winner >= 0);
		assert_int_equal(n_stale, WF_THREADS - 1);
		snprintf(reason, sizeof(reason), " r%02d-t%02d", round, winner);
		if (strstr(phases.texts[round], reason) == NULL)
			fail_msg("round %d: transition \"%s\" is not the winner's (%s)", round, phases.texts[round], reason);
		if (round == WF_ROUNDS - 1) {
			harness_get_workflow(h, "wf-same", &list);
			assert_int_equal(list.items[0].revision, WF_ROUNDS + 1);
			assert_int_equal(list.items[0].step, winner);
			workflow_list_free(&list);
		}
	}
	int_list_free(&phases);
	replays = metrics_counter_get("tenancyd_plugin_sqlite_group_replays_total", NULL) - replays0;
	/* The losers failed after their transition went in, so a group with a
	 * loser and anyone else was replayed; 16 threads leaving a barrier
	 * make such groups every round (one replay per round, typically). */
	print_message("%llu group replays in %d rounds\n", (unsigned long long)replays, WF_ROUNDS);
	assert_true(replays > 0);
}

/* --- kill -9 ------------------------------------------------------------------------------ */

#define CRASH_ROUNDS 3
#define CRASH_THREADS 4          /* inserting tenants */
#define CRASH_WORKFLOW_THREADS 2 /* updating a workflow each */
#define CRASH_ID_SIZE 32

struct crash_child {
	struct harness *h;
	int fd;
	int round;
	int index;
};

/* Commit forever; report each id only once commit() has returned 0. */
static void *crash_committer(void *arg)
{
	struct crash_child *c = arg;
	struct tnd_error err = { { 0 } };
	char id[CRASH_ID_SIZE];

	for (int i = 0;; i++) {
		struct tnd_tenant_record rec;

		memset(id, 0, sizeof(id));
		snprintf(id, sizeof(id), "crash-%d-%d-%06d", c->round, c->index, i);
		rec = harness_tenant(id, "Active", "{\"crash\":\"1\"}");
		if (harness_commit1(c->h, TND_WRITE_TENANT_INSERT, 0, &rec, &err) != 0)
			_exit(3);
		/* one record per write(), below PIPE_BUF: atomic between threads */
		if (write(c->fd, id, sizeof(id)) != (ssize_t)sizeof(id))
			_exit(4);
	}
	return NULL;
}

/* Insert a workflow, then update it forever; report "<id> <revision>"
 * once each commit has returned 0.  The row's step and document carry its
 * revision, so a torn row would show. */
static void *crash_workflow_updater(void *arg)
{
	struct crash_child *c = arg;
	struct tnd_error err = { { 0 } };
	/* room for "<id> <any int64>" in one record */
	char id[CRASH_ID_SIZE - 21], ack[CRASH_ID_SIZE], doc[64];

	snprintf(id, sizeof(id), "cwf-%d-%d", c->round, c->index);
	for (int64_t revision = 1;; revision++) {
		struct tnd_workflow_record rec = harness_workflow(id, "crash-tenant", "Running");

		snprintf(doc, sizeof(doc), "{\"revision\":%lld}", (long long)revision);
		rec.revision = revision;
		rec.step = revision;
		rec.document_json = doc;
		if (harness_commit1(c->h, revision == 1 ? TND_WRITE_WORKFLOW_INSERT : TND_WRITE_WORKFLOW_UPDATE,
				    revision - 1, &rec, &err) != 0)
			_exit(6);
		memset(ack, 0, sizeof(ack));
		snprintf(ack, sizeof(ack), "%s %lld", id, (long long)revision);
		if (write(c->fd, ack, sizeof(ack)) != (ssize_t)sizeof(ack))
			_exit(4);
	}
	return NULL;
}

static void crash_child_run(struct harness *h, int fd, int round)
{
	enum { N = CRASH_THREADS + CRASH_WORKFLOW_THREADS };
	struct crash_child children[N];
	pthread_t threads[N];
	struct tnd_error err = { { 0 } };

	if (harness_open(h, NULL, &err) != 0)
		_exit(2);
	for (int i = 0; i < N; i++) {
		children[i] = (struct crash_child){ .h = h, .fd = fd, .round = round, .index = i };
		if (pthread_create(&threads[i], NULL, i < CRASH_THREADS ? crash_committer : crash_workflow_updater,
				   &children[i]) != 0)
			_exit(5);
	}
	for (int i = 0; i < N; i++)
		pthread_join(threads[i], NULL);
	_exit(0);
}

/* Each workflow of @acks (records "<id> <revision>", in the order they were
 * acknowledged) has at least its last acknowledged revision, at most one
 * more (a commit made durable just before the kill, not yet reported), and
 * a row consistent with its revision.  Returns the number of workflows. */
static size_t crash_check_workflows(struct harness *h, int round, const char *acks, size_t n_acks)
{
	char ids[CRASH_WORKFLOW_THREADS][CRASH_ID_SIZE] = { { 0 } };
	long long acked[CRASH_WORKFLOW_THREADS] = { 0 };
	struct workflow_list list = { 0 };
	size_t n = 0;

	for (size_t i = 0; i < n_acks; i++) {
		char id[CRASH_ID_SIZE];
		long long revision;
		size_t k;

		if (sscanf(acks + i * CRASH_ID_SIZE, "%31s %lld", id, &revision) != 2)
			fail_msg("round %d: bad workflow acknowledgement", round);
		for (k = 0; k < n && strcmp(ids[k], id) != 0; k++)
			;
		if (k == n) {
			assert_true(n < CRASH_WORKFLOW_THREADS);
			snprintf(ids[n++], CRASH_ID_SIZE, "%s", id);
		}
		/* one thread per workflow: its acknowledgements come in order */
		assert_true(revision == acked[k] + 1);
		acked[k] = revision;
	}
	for (size_t k = 0; k < n; k++) {
		char doc[64];

		harness_get_workflow(h, ids[k], &list);
		if (list.items[0].revision < acked[k] || list.items[0].revision > acked[k] + 1)
			fail_msg("round %d: %s is at revision %lld after kill -9, %lld was acknowledged", round, ids[k],
				 (long long)list.items[0].revision, acked[k]);
		snprintf(doc, sizeof(doc), "{\"revision\":%lld}", (long long)list.items[0].revision);
		assert_int_equal(list.items[0].step, list.items[0].revision);
		assert_string_equal(list.items[0].document_json, doc);
	}
	workflow_list_free(&list);
	return n;
}

/* Read whole records from @fd until @deadline_us (or EOF if 0); append to @ids. */
static void crash_read_acks(int fd, int64_t deadline_us, char **ids, size_t *n_ids, size_t *cap)
{
	char record[CRASH_ID_SIZE];
	size_t have = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int timeout_ms = -1;
		ssize_t n;

		if (deadline_us) {
			int64_t left = deadline_us - tnd_monotonic_us();
			if (left <= 0)
				return;
			timeout_ms = (int)(left / 1000) + 1;
		}
		if (poll(&pfd, 1, timeout_ms) <= 0)
			continue;
		n = read(fd, record + have, sizeof(record) - have);
		if (n <= 0)
			return;
		have += (size_t)n;
		if (have < sizeof(record))
			continue;
		have = 0;
		if (*n_ids == *cap) {
			*cap = *cap ? *cap * 2 : 256;
			*ids = tnd_xrealloc(*ids, *cap * CRASH_ID_SIZE);
		}
		memcpy(*ids + *n_ids * CRASH_ID_SIZE, record, CRASH_ID_SIZE);
		(*n_ids)++;
	}
}

static void test_crash_durability(void **state)
{
	struct harness *h = *state;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();

	print_message("crash test seed %u\n", seed);
	srand(seed);
	harness_close(h);
	for (int round = 0; round < CRASH_ROUNDS; round++) {
		struct tnd_error err = { { 0 } };
		char *ids = NULL, *integrity, *workflow_acks;
		size_t n_ids = 0, cap = 0, n_workflow_acks, n_workflows;
		int fds[2], status;
		pid_t pid;

		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child_run(h, fds[1], round);
		}
		close(fds[1]);
		/* wait for the first acknowledgement (slow under valgrind), then a
		 * random 20-300 ms more before pulling the plug */
		while (n_ids == 0) {
			crash_read_acks(fds[0], tnd_monotonic_us() + 50000, &ids, &n_ids, &cap);
			if (waitpid(pid, &status, WNOHANG) == pid)
				fail_msg("crash child exited early with status %d", status);
		}
		crash_read_acks(fds[0], tnd_monotonic_us() + 20000 + (rand() % 280) * 1000, &ids, &n_ids, &cap);
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		crash_read_acks(fds[0], 0, &ids, &n_ids, &cap);
		close(fds[0]);

		/* reopen (WAL recovery) and find every acknowledged commit */
		if (harness_open(h, NULL, &err) != 0)
			fail_msg("reopen after kill -9: %s", err.message);
		n_workflow_acks = 0;
		workflow_acks = tnd_xcalloc(n_ids ? n_ids : 1, CRASH_ID_SIZE);
		for (size_t i = 0; i < n_ids; i++) {
			const char *id = ids + i * CRASH_ID_SIZE;

			if (strncmp(id, "cwf-", 4) == 0) {
				memcpy(workflow_acks + n_workflow_acks++ * CRASH_ID_SIZE, id, CRASH_ID_SIZE);
				continue;
			}
			if (!harness_exists(h, id))
				fail_msg("round %d: acknowledged %s is missing after kill -9", round, id);
		}
		n_workflows = crash_check_workflows(h, round, workflow_acks, n_workflow_acks);
		print_message("round %d: %zu acknowledged commits (%zu workflow updates of %zu workflows) "
			      "survived kill -9\n",
			      round, n_ids, n_workflow_acks, n_workflows);
		harness_close(h);
		free(workflow_acks);
		free(ids);

		integrity = NULL;
		{
			sqlite3 *db = NULL;
			sqlite3_stmt *stmt = NULL;

			assert_int_equal(sqlite3_open_v2(h->db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
			assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, NULL), SQLITE_OK);
			assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
			integrity = tnd_xstrdup((const char *)sqlite3_column_text(stmt, 0));
			sqlite3_finalize(stmt);
			sqlite3_close(db);
		}
		assert_string_equal(integrity, "ok");
		free(integrity);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent_commits_batch, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_group_isolation, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_workflow_updates_distinct, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_workflow_updates_same, harness_setup_open, harness_teardown),
		cmocka_unit_test_setup_teardown(test_crash_durability, harness_setup_open, harness_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
