/*
 * sqlite_conn.c — SQLite connections for the sqlite storage plugin: opening
 * and configuring the writer (WAL, synchronous level, foreign keys) and the
 * readers (query_only), the per-connection prepared statement cache, the
 * pool that hands read connections to concurrent read ops, and the mapping
 * of SQLite result codes to negative errnos.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite_internal.h"

/* SQLite checkpoints after every 1000 WAL frames by default.  A group
 * commit of a few dozen tenants dirties a hundred or more index pages (ids
 * land all over every index), so that meant a checkpoint, with its own
 * fsync of the database, every few transactions.  At 10000 frames (~40 MiB)
 * a checkpoint copies each hot page once for many transactions: about 15%
 * more commits/s with 32 clients. */
#define STORE_WAL_AUTOCHECKPOINT_FRAMES 10000
/* A WAL file that grew during a burst is truncated back to this size at
 * the next checkpoint, instead of staying large forever. */
#define STORE_JOURNAL_SIZE_LIMIT (64 * 1024 * 1024)

int store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
			return -EEXIST;
		if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			return -ENOENT;
		return -EINVAL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -EINVAL;
	case SQLITE_INTERRUPT:
		return -EINTR;
	default:
		/* IOERR, CORRUPT, NOTADB, CANTOPEN, PROTOCOL, ... */
		return -EIO;
	}
}

int store_fail(struct tnd_error *err, sqlite3 *db, int rc, const char *what)
{
	const char *message = NULL;
	int r = store_errno(rc);

	/* The connection's message is more specific ("UNIQUE constraint failed:
	 * tenants.id") but only when it belongs to this error. */
	if (db != NULL && sqlite3_extended_errcode(db) == rc)
		message = sqlite3_errmsg(db);
	if (message != NULL && strcmp(message, sqlite3_errstr(rc)) != 0)
		tnd_error_set(err, "%s: %s (%s)", what, message, sqlite3_errstr(rc));
	else
		tnd_error_set(err, "%s: %s", what, sqlite3_errstr(rc));
	if (r == -EIO && db != NULL && sqlite3_system_errno(db) > 0 &&
	    ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN))
		r = -sqlite3_system_errno(db);
	return r < 0 ? r : -EIO;
}

/* --- connections ------------------------------------------------------------------ */

/* Run one pragma; if @buf is not NULL, the first column of its answer is
 * copied there ("" when it answers nothing). */
static int conn_pragma(sqlite3 *db, const char *sql, char *buf, size_t cap, struct tnd_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store_fail(err, db, rc, sql);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && buf != NULL && cap > 0) {
		const unsigned char *text = sqlite3_column_text(stmt, 0);
		snprintf(buf, cap, "%s", text ? (const char *)text : "");
	} else if (buf != NULL && cap > 0) {
		buf[0] = '\0';
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		int r = store_fail(err, db, rc, sql);
		sqlite3_finalize(stmt);
		return r;
	}
	sqlite3_finalize(stmt);
	return 0;
}

/* SQLite creates the database with mode 0644 minus the umask, and gives
 * the -wal and -shm files the database's mode.  The registry holds every
 * tenant's manifest, so create it 0600 ourselves when it does not exist. */
static int conn_create_private(const char *path, struct tnd_error *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		tnd_error_set(err, "cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	close(fd);
	return 0;
}

int store_conn_open(const struct store_settings *settings, bool writer, struct store_conn **ret_conn,
		    struct tnd_error *err)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	struct store_conn *conn;
	char sql[96];
	char mode[32];
	sqlite3 *db = NULL;
	int rc, r;

	if (writer) {
		r = conn_create_private(settings->path, err);
		if (r < 0)
			return r;
		flags |= SQLITE_OPEN_CREATE;
	}
	/* Only the writer, and only when each commit syncs the WAL, may
	 * buffer its WAL appends (see sqlite_walbuf.c). */
	rc = sqlite3_open_v2(settings->path, &db, flags,
			     writer && settings->synchronous >= 2 ? STORE_WALBUF_VFS : NULL);
	if (rc != SQLITE_OK) {
		char what[600];
		snprintf(what, sizeof(what), "cannot open %s", settings->path);
		r = store_fail(err, db, rc, what);
		sqlite3_close(db);
		return r;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, (int)settings->busy_timeout_ms);

	if (writer) {
		/* The first statement reads the header: a file that is not a
		 * database fails here with a clear "file is not a database". */
		r = conn_pragma(db, "PRAGMA journal_mode=WAL", mode, sizeof(mode), err);
		if (r < 0)
			goto fail;
		if (strcmp(mode, "wal") != 0) {
			tnd_error_set(err, "%s: cannot switch to WAL mode (journal_mode is %s)",
				      settings->path, mode);
			r = -EIO;
			goto fail;
		}
		snprintf(sql, sizeof(sql), "PRAGMA synchronous=%d", settings->synchronous);
		r = conn_pragma(db, sql, NULL, 0, err);
		if (r < 0)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit=%d", STORE_JOURNAL_SIZE_LIMIT);
		r = conn_pragma(db, sql, NULL, 0, err);
		if (r < 0)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint=%d", STORE_WAL_AUTOCHECKPOINT_FRAMES);
		r = conn_pragma(db, sql, NULL, 0, err);
		if (r < 0)
			goto fail;
		r = conn_pragma(db, "PRAGMA foreign_keys=ON", NULL, 0, err);
		if (r < 0)
			goto fail;
		/* Savepoints (a group replayed after a failure) and statement
		 * journals copy the pages they touch into a sub-journal.  With
		 * the default temp_store that is a temporary file past 64 KiB,
		 * so a pwrite() per page; in memory it is a memcpy. */
		r = conn_pragma(db, "PRAGMA temp_store=MEMORY", NULL, 0, err);
		if (r < 0)
			goto fail;
	} else {
		/* Readers can never write, whatever a bug elsewhere asks of them. */
		r = conn_pragma(db, "PRAGMA query_only=ON", NULL, 0, err);
		if (r < 0)
			goto fail;
	}

	conn = calloc(1, sizeof(*conn));
	if (conn == NULL) {
		tnd_error_set(err, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	conn->db = db;
	*ret_conn = conn;
	return 0;

fail:
	sqlite3_close(db);
	return r;
}

void store_conn_close(struct store_conn *conn)
{
	if (conn == NULL)
		return;
	for (size_t i = 0; i < STORE_STMT_CACHE_SLOTS; i++) {
		sqlite3_finalize(conn->slots[i].stmt);
		free(conn->slots[i].sql);
	}
	sqlite3_close(conn->db);
	free(conn);
}

/* --- the statement cache ----------------------------------------------------------- */

static uint64_t conn_hash(const char *s)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
	return h;
}

int store_conn_prepare(struct store_conn *conn, const char *sql, sqlite3_stmt **ret_stmt,
		       struct tnd_error *err)
{
	uint64_t hash = conn_hash(sql);
	struct store_stmt_slot *victim = NULL;
	sqlite3_stmt *stmt = NULL;
	char *copy;
	int rc;

	for (size_t i = 0; i < STORE_STMT_CACHE_SLOTS; i++) {
		struct store_stmt_slot *slot = &conn->slots[i];

		if (slot->stmt != NULL && slot->hash == hash && strcmp(slot->sql, sql) == 0) {
			slot->last_used = ++conn->use_clock;
			*ret_stmt = slot->stmt;
			return 0;
		}
		/* Never evict a statement that is still stepping. */
		if (slot->stmt != NULL && sqlite3_stmt_busy(slot->stmt))
			continue;
		if (victim == NULL || slot->stmt == NULL ||
		    (victim->stmt != NULL && slot->last_used < victim->last_used))
			victim = slot;
	}

	rc = sqlite3_prepare_v3(conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(stmt);
		return store_fail(err, conn->db, rc, "prepare");
	}
	if (victim == NULL) {
		/* Every slot is in use: a programming error, but stay correct. */
		sqlite3_finalize(stmt);
		tnd_error_set(err, "statement cache exhausted");
		return -ENOBUFS;
	}
	copy = strdup(sql);
	if (copy == NULL) {
		sqlite3_finalize(stmt);
		tnd_error_set(err, "out of memory");
		return -ENOMEM;
	}
	sqlite3_finalize(victim->stmt);
	free(victim->sql);
	victim->sql = copy;
	victim->origin = NULL;
	victim->hash = hash;
	victim->stmt = stmt;
	victim->last_used = ++conn->use_clock;
	*ret_stmt = stmt;
	return 0;
}

int store_conn_prepare_static(struct store_conn *conn, const char *sql, sqlite3_stmt **ret_stmt,
			      struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int r;

	for (size_t i = 0; i < STORE_STMT_CACHE_SLOTS; i++) {
		struct store_stmt_slot *slot = &conn->slots[i];

		if (slot->origin == sql && slot->stmt != NULL) {
			slot->last_used = ++conn->use_clock;
			*ret_stmt = slot->stmt;
			return 0;
		}
	}
	r = store_conn_prepare(conn, sql, &stmt, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < STORE_STMT_CACHE_SLOTS; i++)
		if (conn->slots[i].stmt == stmt)
			conn->slots[i].origin = sql;
	*ret_stmt = stmt;
	return 0;
}

void store_stmt_done(sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

int store_conn_run(struct store_conn *conn, const char *sql, struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int rc, r;

	r = store_conn_prepare_static(conn, sql, &stmt, err);
	if (r < 0)
		return r;
	do
		rc = sqlite3_step(stmt);
	while (rc == SQLITE_ROW);
	r = rc == SQLITE_DONE ? 0 : store_fail(err, conn->db, rc, sql);
	store_stmt_done(stmt);
	return r;
}

/* --- the read pool ------------------------------------------------------------------ */

int store_pool_open(struct store_pool *pool, const struct store_settings *settings,
		    struct tnd_error *err)
{
	size_t n = settings->readers;
	int r;

	memset(pool, 0, sizeof(*pool));
	pool->all = calloc(n, sizeof(*pool->all));
	pool->idle = calloc(n, sizeof(*pool->idle));
	if (pool->all == NULL || pool->idle == NULL) {
		free(pool->all);
		free(pool->idle);
		tnd_error_set(err, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		r = store_conn_open(settings, false, &pool->all[i], err);
		if (r < 0) {
			for (size_t j = 0; j < i; j++)
				store_conn_close(pool->all[j]);
			free(pool->all);
			free(pool->idle);
			return r;
		}
		pool->idle[i] = pool->all[i];
	}
	pool->n_all = n;
	pool->n_idle = n;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->available, NULL);
	return 0;
}

struct store_conn *store_pool_acquire(struct store_pool *pool)
{
	struct store_conn *conn;

	pthread_mutex_lock(&pool->lock);
	while (pool->n_idle == 0)
		pthread_cond_wait(&pool->available, &pool->lock);
	conn = pool->idle[--pool->n_idle];
	pthread_mutex_unlock(&pool->lock);
	return conn;
}

void store_pool_release(struct store_pool *pool, struct store_conn *conn)
{
	pthread_mutex_lock(&pool->lock);
	pool->idle[pool->n_idle++] = conn;
	/* One waiter suffices: store_pool_close() runs when no op is left, so
	 * it is then the only one waiting. */
	pthread_cond_signal(&pool->available);
	pthread_mutex_unlock(&pool->lock);
}

void store_pool_close(struct store_pool *pool)
{
	if (pool->all == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	while (pool->n_idle < pool->n_all)
		pthread_cond_wait(&pool->available, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
	for (size_t i = 0; i < pool->n_all; i++)
		store_conn_close(pool->all[i]);
	free(pool->all);
	free(pool->idle);
	pthread_mutex_destroy(&pool->lock);
	pthread_cond_destroy(&pool->available);
	memset(pool, 0, sizeof(*pool));
}
