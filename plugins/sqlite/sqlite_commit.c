/*
 * sqlite_commit.c — group commit: commit() and the writer side of maintain().
 *
 * Design: leader/follower, no writer thread.  A committing thread queues its
 * request; if no leader is active it becomes the leader itself, takes up to
 * group_commit_max queued requests, runs them in one BEGIN IMMEDIATE ...
 * COMMIT (one WAL fsync) with each logical commit inside its own SAVEPOINT,
 * then wakes the followers it served and hands leadership to the oldest
 * request still queued.  Commits that arrive while a leader is inside its
 * fsync pile up and become the next group, so the group size adapts to the
 * load by itself: 1 when idle (no context switch at all: the caller commits
 * in its own thread), up to group_commit_max under contention.
 *
 * Followers sleep on a semaphore of their own, posted after the queue lock
 * is released: with a condition variable signalled under the lock, each
 * woken follower would first block on that lock again, and the wake-ups of
 * a group would run one after another instead of at once.  The next leader
 * is woken before the followers, so the next group's SQL overlaps with
 * waking the last one's callers.
 *
 * Each logical commit must fail alone.  Wrapping every one in a SAVEPOINT
 * does that, but costs a copy of every page it touches into the statement
 * sub-journal, about a fifth of the writer's time.  So a group first runs
 * optimistically, without savepoints.  If a write fails, the leader rolls
 * the whole transaction back and replays it: the commits before the failing
 * one again without savepoints (they succeeded on the same state, and SQLite
 * is deterministic), the failing one not at all (it fails again on that
 * same state, so its first error stands), and the rest each inside its own
 * SAVEPOINT, as any of them may fail too.  A failure thus costs at most one
 * extra run of the group; the common case pays for no savepoint at all.
 *
 * If SQLite aborts the transaction or the COMMIT itself fails, every commit
 * of the group fails: none of them is durable.
 */
#include "autoconfig.h"

#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

enum commit_state {
	COMMIT_WAITING, /* queued behind a leader */
	COMMIT_LEADING, /* this request's thread runs the next group */
	COMMIT_DONE,    /* result is final */
};

struct store_commit_request {
	const struct store_prepared_write *writes;
	size_t n_writes;
	int result;
	size_t failed_index;
	struct tnd_error err;
	bool failed;               /* failed in this group: skipped when the group is replayed */
	bool guarded;              /* runs inside a SAVEPOINT: it comes after a failure */
	enum commit_state state;   /* written under the queue lock, read after the post */
	sem_t wake;                /* posted once: group done, or lead the next group */
	struct store_commit_request *next;
};

void store_queue_init(struct store_commit_queue *queue)
{
	memset(queue, 0, sizeof(*queue));
	pthread_mutex_init(&queue->lock, NULL);
	pthread_cond_init(&queue->idle, NULL);
}

void store_queue_close(struct store_commit_queue *queue)
{
	pthread_mutex_lock(&queue->lock);
	queue->closing = true;
	/* The leader hands over to queued requests before stepping down, so
	 * an idle queue means every accepted commit has finished. */
	while (queue->leader_active)
		pthread_cond_wait(&queue->idle, &queue->lock);
	pthread_mutex_unlock(&queue->lock);
}

void store_queue_destroy(struct store_commit_queue *queue)
{
	pthread_mutex_destroy(&queue->lock);
	pthread_cond_destroy(&queue->idle);
}

/* --- one group, run by the leader without the queue lock ------------------------------ */

/* Mark every request of @batch that has not failed on its own as failed:
 * their writes went down with the group's transaction. */
static void commit_fail_group(struct store_commit_request *batch, int r, const char *why)
{
	for (struct store_commit_request *req = batch; req; req = req->next) {
		if (req->failed)
			continue;
		req->failed = true;
		req->result = r;
		req->failed_index = 0;
		tnd_error_set(&req->err, "group transaction failed, nothing was written: %s", why);
	}
}

/* Apply the writes of one logical commit; on failure *@ret_index names the
 * failing write and req->err says why. */
static int commit_apply(const struct tnd_host *host, struct store_conn *writer, struct store_commit_request *req,
			size_t *ret_index)
{
	int r;

	for (size_t i = 0; i < req->n_writes; i++) {
		r = store_write_apply(host, writer, &req->writes[i], &req->err);
		if (r < 0) {
			*ret_index = i;
			return r;
		}
	}
	return 0;
}

/* One logical commit inside its own SAVEPOINT, so that its failure undoes
 * only its own writes. */
static int commit_apply_guarded(const struct tnd_host *host, struct store_conn *writer,
				struct store_commit_request *req, size_t *ret_index)
{
	struct tnd_error ignored;
	int r;

	*ret_index = 0;
	r = store_conn_run(writer, "SAVEPOINT logical_commit", &req->err);
	if (r < 0)
		return r;
	r = commit_apply(host, writer, req, ret_index);
	if (r == 0) {
		r = store_conn_run(writer, "RELEASE logical_commit", &req->err);
		if (r == 0)
			return 0;
		*ret_index = 0;
	}
	/* Undo only this logical commit.  If even that fails, give up the
	 * whole transaction; the caller sees autocommit and fails the group. */
	if (!sqlite3_get_autocommit(writer->db) &&
	    (store_conn_run(writer, "ROLLBACK TO logical_commit", &ignored) < 0 ||
	     store_conn_run(writer, "RELEASE logical_commit", &ignored) < 0))
		sqlite3_exec(writer->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* One run of the group in an open transaction.  Returns 0 when every
 * request has its result, -EAGAIN when an unguarded request failed after it
 * had changed rows (it is marked failed, those after it guarded, and the
 * transaction must be rolled back and the group run again), or another
 * negative errno when SQLite aborted the transaction (the group failed). */
static int commit_run_pass(const struct tnd_host *host, struct store_conn *writer,
			   struct store_commit_request *batch)
{
	for (struct store_commit_request *req = batch; req; req = req->next) {
		int changes = sqlite3_total_changes(writer->db);
		size_t index = 0;
		int r;

		if (req->failed)
			continue;
		r = req->guarded ? commit_apply_guarded(host, writer, req, &index)
				 : commit_apply(host, writer, req, &index);
		req->result = r;
		req->failed_index = r < 0 ? index : 0;
		if (r == 0)
			continue;
		req->failed = true;
		if (sqlite3_get_autocommit(writer->db)) {
			/* SQLite rolled the transaction back (I/O error, disk
			 * full, ...): the earlier commits of the group are lost,
			 * and the rest cannot run in it. */
			host->log(host, TND_LOG_ERROR, "group transaction aborted: %s", req->err.message);
			commit_fail_group(batch, r, req->err.message);
			return r;
		}
		/* SQLite undoes a failed statement by itself, and a write that
		 * changed rows counts them in total_changes.  So a request that
		 * failed before any of its statements changed a row (a taken id,
		 * a stale revision: the usual failures) left nothing behind, and
		 * the transaction goes on without a replay.  (The counter is an
		 * int that may wrap; only equality matters here.) */
		if (req->guarded || sqlite3_total_changes(writer->db) == changes)
			continue;
		for (struct store_commit_request *later = req->next; later; later = later->next)
			later->guarded = true;
		return -EAGAIN;
	}
	return 0;
}

static bool commit_any_left(const struct store_commit_request *batch)
{
	for (; batch; batch = batch->next)
		if (!batch->failed)
			return true;
	return false;
}

static void commit_run_group(struct store *store, struct store_commit_request *batch)
{
	const struct tnd_host *host = store->host;
	struct store_conn *writer = store->writer;
	struct tnd_error err = { { 0 } };
	uint64_t n_ok = 0, n_failed = 0;
	int64_t start_us = host->clock_monotonic_us(host);
	int r;

	/* Each replay follows a request newly marked failed, so this ends. */
	for (;;) {
		r = store_conn_run(writer, "BEGIN IMMEDIATE", &err);
		if (r < 0) {
			host->log(host, TND_LOG_ERROR, "cannot begin a transaction: %s", err.message);
			commit_fail_group(batch, r, err.message);
			goto count;
		}
		writer->audit_head_pending = false;
		r = commit_run_pass(host, writer, batch);
		if (r < 0 && r != -EAGAIN)
			goto count;
		if (r == 0 || !commit_any_left(batch))
			break;
		r = store_conn_run(writer, "ROLLBACK", &err);
		if (r < 0) {
			host->log(host, TND_LOG_ERROR, "cannot roll a group back to replay it: %s", err.message);
			if (!sqlite3_get_autocommit(writer->db))
				sqlite3_exec(writer->db, "ROLLBACK", NULL, NULL, NULL);
			commit_fail_group(batch, r, err.message);
			goto count;
		}
		host->metric_counter_add(host, "sqlite_group_replays_total", NULL, 1);
	}

	for (struct store_commit_request *req = batch; req; req = req->next)
		if (!req->failed)
			n_ok++;
	if (n_ok == 0) {
		/* Nothing to make durable: skip the fsync. */
		r = store_conn_run(writer, "ROLLBACK", &err);
		if (r < 0)
			host->log(host, TND_LOG_WARNING, "rollback of an empty group failed: %s", err.message);
		goto count;
	}
	/* the audit chain head, once for the whole group (sqlite_write_audit.c) */
	r = store_audit_sign_head(host, writer, &err);
	if (r < 0) {
		host->log(host, TND_LOG_ERROR, "cannot sign the audit chain head, the group of %llu fails: %s",
			  (unsigned long long)n_ok, err.message);
		if (!sqlite3_get_autocommit(writer->db))
			sqlite3_exec(writer->db, "ROLLBACK", NULL, NULL, NULL);
		commit_fail_group(batch, r, err.message);
		goto count;
	}
	r = store_conn_run(writer, "COMMIT", &err);
	if (r < 0) {
		host->log(host, TND_LOG_ERROR, "commit of a group of %llu failed: %s",
			  (unsigned long long)n_ok, err.message);
		if (!sqlite3_get_autocommit(writer->db))
			sqlite3_exec(writer->db, "ROLLBACK", NULL, NULL, NULL);
		commit_fail_group(batch, r, err.message);
		goto count;
	}
	host->metric_counter_add(host, "sqlite_transactions_total", NULL, 1);
	host->metric_observe(host, "sqlite_transaction_seconds", NULL,
			     (double)(host->clock_monotonic_us(host) - start_us) / 1e6);

count:
	n_ok = 0;
	for (struct store_commit_request *req = batch; req; req = req->next) {
		/* maintain() is housekeeping, not a logical commit of the core */
		if (req->n_writes == 1 && req->writes[0].kind == STORE_WRITE_PURGE_IDEMPOTENCY)
			continue;
		if (!req->failed)
			n_ok++;
		else
			n_failed++;
	}
	if (n_ok > 0)
		host->metric_counter_add(host, "sqlite_commits_total", NULL, n_ok);
	if (n_failed > 0)
		host->metric_counter_add(host, "sqlite_commit_failures_total", NULL, n_failed);
}

/* --- the queue ------------------------------------------------------------------------ */

/* Take up to group_commit_max requests from the head of the queue, which
 * is the leader's own.  Called with the queue lock held. */
static struct store_commit_request *commit_take_group(struct store *store)
{
	struct store_commit_queue *queue = &store->queue;
	struct store_commit_request *batch = queue->head, *last = batch;
	uint32_t n = 1;

	while (last->next != NULL && n < store->settings.group_commit_max) {
		last = last->next;
		n++;
	}
	queue->head = last->next;
	if (queue->head == NULL)
		queue->tail = NULL;
	last->next = NULL;
	return batch;
}

static void commit_wait(struct store_commit_request *req)
{
	while (sem_wait(&req->wake) < 0)
		; /* EINTR: a signal handler ran; keep waiting */
}

static void commit_lead(struct store *store, struct store_commit_request *self)
{
	struct store_commit_queue *queue = &store->queue;
	struct store_commit_request *batch, *next_leader;

	pthread_mutex_lock(&queue->lock);
	batch = commit_take_group(store);
	pthread_mutex_unlock(&queue->lock);

	commit_run_group(store, batch);

	pthread_mutex_lock(&queue->lock);
	next_leader = queue->head;
	if (next_leader != NULL) {
		next_leader->state = COMMIT_LEADING;
	} else {
		queue->leader_active = false;
		pthread_cond_broadcast(&queue->idle);
	}
	for (struct store_commit_request *done = batch; done; done = done->next)
		done->state = COMMIT_DONE;
	pthread_mutex_unlock(&queue->lock);

	/* A request belongs to its caller again once posted, so read its
	 * next pointer first. */
	if (next_leader != NULL)
		sem_post(&next_leader->wake);
	for (struct store_commit_request *done = batch, *next; done; done = next) {
		next = done->next;
		if (done != self)
			sem_post(&done->wake);
	}
}

int store_commit_submit(struct store *store, const struct store_prepared_write *prepared,
			size_t n_writes, size_t *ret_failed_index, struct tnd_error *err)
{
	struct store_commit_queue *queue = &store->queue;
	struct store_commit_request req = {
		.writes = prepared,
		.n_writes = n_writes,
		.state = COMMIT_WAITING,
	};
	bool lead = false;

	if (sem_init(&req.wake, 0, 0) < 0) {
		tnd_error_set(err, "sem_init: %s", strerror(errno));
		return -errno;
	}
	pthread_mutex_lock(&queue->lock);
	if (queue->closing) {
		pthread_mutex_unlock(&queue->lock);
		sem_destroy(&req.wake);
		tnd_error_set(err, "the registry is closing");
		return -ESHUTDOWN;
	}
	if (queue->tail)
		queue->tail->next = &req;
	else
		queue->head = &req;
	queue->tail = &req;
	/* No leader means an empty queue: this request leads a group of one,
	 * in its own thread, without any hand-off. */
	if (!queue->leader_active) {
		queue->leader_active = true;
		lead = true;
	}
	pthread_mutex_unlock(&queue->lock);

	if (!lead) {
		commit_wait(&req);
		/* sem_post/sem_wait order the leader's writes before our reads */
		lead = req.state == COMMIT_LEADING;
	}
	if (lead)
		commit_lead(store, &req);
	sem_destroy(&req.wake);

	if (req.result < 0) {
		if (ret_failed_index)
			*ret_failed_index = req.failed_index;
		tnd_error_set(err, "%s", req.err.message);
	}
	return req.result;
}

/* --- the ops ---------------------------------------------------------------------------- */

int store_commit(void *ctx, const struct tnd_write *writes, size_t n_writes, size_t *ret_failed_index,
		 struct tnd_error *err)
{
	struct store *store = ctx;
	struct store_prepared_write *prepared = NULL;
	size_t failed_index = 0;
	int r;

	if (n_writes == 0)
		return 0;
	if (writes == NULL) {
		tnd_error_set(err, "commit of %zu writes without a write array", n_writes);
		return -EINVAL;
	}
	r = store_writes_prepare(store->host, writes, n_writes, &prepared, &failed_index, err);
	if (r < 0) {
		if (ret_failed_index)
			*ret_failed_index = failed_index;
		return r;
	}
	r = store_commit_submit(store, prepared, n_writes, ret_failed_index, err);
	store_writes_free(prepared, n_writes);
	return r;
}

int store_maintain(void *ctx, int64_t now_ms, struct tnd_error *err)
{
	struct store *store = ctx;
	const struct tnd_host *host = store->host;
	struct store_prepared_write purge = {
		.kind = STORE_WRITE_PURGE_IDEMPOTENCY,
		.purge_before_ms = now_ms,
	};
	struct store_conn *conn;
	int rc, n_log = 0, n_checkpointed = 0, r;

	/* The purge is a write, so it queues like one and never contends
	 * with the leader for the write lock. */
	r = store_commit_submit(store, &purge, 1, NULL, err);
	if (r < 0)
		return r;

	/* PASSIVE never waits for readers or the writer; whatever it cannot
	 * copy now is copied next time or by SQLite's auto-checkpoint. */
	conn = store_pool_acquire(&store->readers);
	rc = sqlite3_wal_checkpoint_v2(conn->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &n_log, &n_checkpointed);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		r = store_fail(err, conn->db, rc, "wal checkpoint");
	store_pool_release(&store->readers, conn);
	if (r < 0)
		return r;
	host->log(host, TND_LOG_DEBUG, "maintenance: WAL has %d frames, %d checkpointed", n_log,
		  n_checkpointed);
	return 0;
}
