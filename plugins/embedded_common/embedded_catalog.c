/*
 * embedded_catalog.c — the two small SQLite catalogues of the embedded
 * data plane: roles.db (tenancy_roles: each tenant's login role, its
 * password hash, login and write flags) and shared.db (tenancy_schemas:
 * which schemas the shared database holds).  Workers in several processes
 * write them at once, so every change is one statement or one IMMEDIATE
 * transaction under a busy timeout, in WAL mode; a lock that does not come
 * in time is -EAGAIN, which the orchestrator retries.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embedded.h"

static const char catalog_roles_sql[] =
	"CREATE TABLE IF NOT EXISTS tenancy_roles ("
	" name TEXT PRIMARY KEY,"
	" password_hash TEXT NOT NULL,"
	" login INTEGER NOT NULL CHECK (login IN (0, 1)),"
	" writable INTEGER NOT NULL CHECK (writable IN (0, 1)),"
	" comment TEXT,"
	" storage_bytes INTEGER,"   /* the storage quota, applied by embedded_open_as() */
	" archived_at INTEGER,"     /* ms since the epoch, set by archive */
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL)";

static const char catalog_schemas_sql[] =
	"CREATE TABLE IF NOT EXISTS tenancy_schemas ("
	" name TEXT PRIMARY KEY,"
	" role TEXT NOT NULL,"
	" created_at INTEGER NOT NULL)";

int embedded_sqlite_fail(struct tnd_error *err, sqlite3 *db, int rc, const char *what)
{
	const char *message = db != NULL && sqlite3_extended_errcode(db) == rc ? sqlite3_errmsg(db) : NULL;

	if (message != NULL && strcmp(message, sqlite3_errstr(rc)) != 0)
		tnd_error_set(err, "%s: %s (%s)", what, message, sqlite3_errstr(rc));
	else
		tnd_error_set(err, "%s: %s", what, sqlite3_errstr(rc));
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EAGAIN;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		if (db != NULL && sqlite3_system_errno(db) > 0)
			return -sqlite3_system_errno(db);
		return -EIO;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* SQLite creates a database 0644 minus the umask, and its -wal and -shm
 * with the database's mode: make it 0600 ourselves first. */
static int catalog_create_private(const char *path, struct tnd_error *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct stat st;

	if (fd < 0) {
		tnd_error_set(err, "cannot create %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0) {
		int r = -errno;

		tnd_error_set(err, "cannot chmod 0600 %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	close(fd);
	return 0;
}

static int catalog_table_exists(sqlite3 *db, const char *table, struct tnd_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &stmt,
				NULL);
	if (rc != SQLITE_OK)
		return embedded_sqlite_fail(err, db, rc, "cannot read the catalogue");
	sqlite3_bind_text(stmt, 1, table, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return -ENOENT;
	return embedded_sqlite_fail(err, db, rc, "cannot read the catalogue");
}

/*
 * Several workers write roles.db and shared.db for different tenants at
 * once, each holding the write lock for well under a millisecond.
 * SQLite's own busy handler sleeps 1, 2, 5, 10... ms between tries, so a
 * worker that meets the lock loses far more time asleep than the holder
 * needs; wait in steps that start at 50 µs instead.
 */
static int catalog_busy(void *userdata, int tries)
{
	int64_t limit_us = (int64_t)(intptr_t)userdata * 1000, waited_us = 0, step_us;

	/* time already waited: 50 µs doubling to 2 ms, then 2 ms steps */
	for (int i = 0; i < tries && waited_us <= limit_us; i++)
		waited_us += i < 6 ? 50LL << i : 2000;
	if (waited_us > limit_us)
		return 0;
	step_us = tries < 6 ? 50LL << tries : 2000;
	usleep((useconds_t)step_us);
	return 1;
}

void embedded_busy_wait(sqlite3 *db, int timeout_ms)
{
	sqlite3_busy_handler(db, catalog_busy, (void *)(intptr_t)timeout_ms);
}

static int catalog_open(const char *path, bool create, int busy_timeout_ms, const char *table,
			const char *create_sql, sqlite3 **ret_db, struct tnd_error *err)
{
	sqlite3 *db = NULL;
	int rc, r;

	if (create) {
		r = catalog_create_private(path, err);
		if (r < 0)
			return r;
	} else if (access(path, F_OK) < 0) {
		tnd_error_set(err, "%s does not exist", path);
		return -ENOENT;
	}
	rc = sqlite3_open_v2(path, &db,
			     (create ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		r = embedded_sqlite_fail(err, db, rc, path);
		sqlite3_close(db);
		return r;
	}
	embedded_busy_wait(db, busy_timeout_ms);
	sqlite3_extended_result_codes(db, 1);
	if (create) {
		/* WAL, so that a consumer logging in never waits for a worker.
		 * Workers creating a fresh catalog at the same moment can meet
		 * SQLITE_BUSY that no busy handler sees (switching the journal
		 * mode, or recovering the WAL index): try again for a while. */
		for (int waited_ms = 0;; waited_ms++) {
			rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
			if (rc == SQLITE_OK)
				rc = sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
			if (rc == SQLITE_OK)
				rc = sqlite3_exec(db, create_sql, NULL, NULL, NULL);
			if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= busy_timeout_ms)
				break;
			usleep(1000);
		}
		r = rc == SQLITE_OK ? 0 : embedded_sqlite_fail(err, db, rc, path);
	} else {
		r = catalog_table_exists(db, table, err);
		if (r == -ENOENT)
			tnd_error_set(err, "%s has no table %s", path, table);
	}
	if (r < 0) {
		sqlite3_close(db);
		return r;
	}
	*ret_db = db;
	return 0;
}

int embedded_roles_open(const char *path, bool create, int busy_timeout_ms, sqlite3 **ret_db,
			struct tnd_error *err)
{
	return catalog_open(path, create, busy_timeout_ms, "tenancy_roles", catalog_roles_sql, ret_db, err);
}

int embedded_schemas_open(const char *path, bool create, int busy_timeout_ms, sqlite3 **ret_db,
			  struct tnd_error *err)
{
	return catalog_open(path, create, busy_timeout_ms, "tenancy_schemas", catalog_schemas_sql, ret_db, err);
}

/* Prepare @sql and bind @name as ?1. */
static int catalog_prepare(sqlite3 *db, const char *sql, const char *name, sqlite3_stmt **ret_stmt,
			   struct tnd_error *err)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		return embedded_sqlite_fail(err, db, rc, "cannot prepare a catalogue statement");
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	*ret_stmt = stmt;
	return 0;
}

/* Step a statement that returns no rows; @ret_changes (may be NULL) gets
 * the number of rows it changed. */
static int catalog_finish(sqlite3 *db, sqlite3_stmt *stmt, const char *what, int *ret_changes,
			  struct tnd_error *err)
{
	int rc = sqlite3_step(stmt);
	int r = 0;

	if (rc != SQLITE_DONE)
		r = embedded_sqlite_fail(err, db, rc, what);
	else if (ret_changes != NULL)
		*ret_changes = sqlite3_changes(db);
	sqlite3_finalize(stmt);
	return r;
}

int embedded_role_get(sqlite3 *db, const char *name, struct embedded_role *ret_role, struct tnd_error *err)
{
	struct embedded_role role;
	sqlite3_stmt *stmt;
	int rc, r;

	memset(&role, 0, sizeof(role));
	r = catalog_prepare(db,
			    "SELECT password_hash, login, writable, coalesce(storage_bytes, 0), coalesce(archived_at, 0)"
			    " FROM tenancy_roles WHERE name = ?1",
			    name, &stmt, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const unsigned char *hash = sqlite3_column_text(stmt, 0);

		snprintf(role.password_hash, sizeof(role.password_hash), "%s", hash ? (const char *)hash : "");
		role.login = sqlite3_column_int(stmt, 1) != 0;
		role.writable = sqlite3_column_int(stmt, 2) != 0;
		role.storage_bytes = sqlite3_column_int64(stmt, 3);
		role.archived_at = sqlite3_column_int64(stmt, 4);
		*ret_role = role;
	} else if (rc == SQLITE_DONE) {
		tnd_error_set(err, "role %s does not exist", name);
		r = -ENOENT;
	} else {
		r = embedded_sqlite_fail(err, db, rc, "cannot read tenancy_roles");
	}
	sqlite3_finalize(stmt);
	return r;
}

int embedded_role_put(sqlite3 *db, const char *name, const char *password_hash, int64_t storage_bytes,
		      const char *comment, bool login, bool writable, int64_t now_ms, bool *ret_changed,
		      struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int changes = 0, r;

	/* One statement: it either inserts, or updates only a row that
	 * differs, so sqlite3_changes() says whether anything changed.  A
	 * writable role is not archived; a read-only one keeps its archive time. */
	r = catalog_prepare(db,
			    "INSERT INTO tenancy_roles (name, password_hash, login, writable, comment, storage_bytes,"
			    " archived_at, created_at, updated_at) VALUES (?1, ?2, ?6, ?7, ?3, ?4, NULL, ?5, ?5)"
			    " ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, login = ?6,"
			    " writable = ?7, comment = excluded.comment, storage_bytes = excluded.storage_bytes,"
			    " archived_at = CASE WHEN ?7 = 1 THEN NULL ELSE archived_at END, updated_at = excluded.updated_at"
			    " WHERE password_hash IS NOT excluded.password_hash OR login IS NOT ?6 OR writable IS NOT ?7"
			    " OR comment IS NOT excluded.comment OR storage_bytes IS NOT excluded.storage_bytes"
			    " OR (?7 = 1 AND archived_at IS NOT NULL)",
			    name, &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_text(stmt, 2, password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, comment, -1, SQLITE_STATIC);
	if (storage_bytes > 0)
		sqlite3_bind_int64(stmt, 4, storage_bytes);
	else
		sqlite3_bind_null(stmt, 4);
	sqlite3_bind_int64(stmt, 5, now_ms);
	sqlite3_bind_int(stmt, 6, login ? 1 : 0);
	sqlite3_bind_int(stmt, 7, writable ? 1 : 0);
	r = catalog_finish(db, stmt, "cannot write tenancy_roles", &changes, err);
	if (r == 0)
		*ret_changed = changes > 0;
	return r;
}

int embedded_role_set(sqlite3 *db, const char *name, bool login, int writable, int64_t archived_at_ms,
		      int64_t now_ms, bool *ret_changed, struct tnd_error *err)
{
	struct embedded_role role;
	sqlite3_stmt *stmt;
	int changes = 0, r;

	r = catalog_prepare(db,
			    "UPDATE tenancy_roles SET login = ?2,"
			    " writable = CASE WHEN ?3 < 0 THEN writable ELSE ?3 END,"
			    " archived_at = CASE WHEN ?4 < 0 THEN archived_at WHEN ?4 = 0 THEN NULL"
			    "  ELSE coalesce(archived_at, ?4) END,"
			    " updated_at = ?5"
			    " WHERE name = ?1 AND (login IS NOT ?2 OR (?3 >= 0 AND writable IS NOT ?3)"
			    "  OR (?4 = 0 AND archived_at IS NOT NULL) OR (?4 > 0 AND archived_at IS NULL))",
			    name, &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_int(stmt, 2, login ? 1 : 0);
	sqlite3_bind_int(stmt, 3, writable);
	sqlite3_bind_int64(stmt, 4, archived_at_ms);
	sqlite3_bind_int64(stmt, 5, now_ms);
	r = catalog_finish(db, stmt, "cannot update tenancy_roles", &changes, err);
	if (r < 0)
		return r;
	if (changes == 0) {
		/* nothing differed, or there is no such role */
		r = embedded_role_get(db, name, &role, err);
		if (r < 0)
			return r;
	}
	*ret_changed = changes > 0;
	return 0;
}

int embedded_role_delete(sqlite3 *db, const char *name, bool *ret_deleted, struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int changes = 0, r;

	r = catalog_prepare(db, "DELETE FROM tenancy_roles WHERE name = ?1", name, &stmt, err);
	if (r < 0)
		return r;
	r = catalog_finish(db, stmt, "cannot delete from tenancy_roles", &changes, err);
	if (r == 0)
		*ret_deleted = changes > 0;
	return r;
}

int embedded_schema_register(sqlite3 *db, const char *name, int64_t now_ms, bool *ret_created,
			     struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int changes = 0, r;

	r = catalog_prepare(db, "INSERT INTO tenancy_schemas (name, role, created_at) VALUES (?1, ?1, ?2)"
				" ON CONFLICT (name) DO UPDATE SET role = excluded.role WHERE role IS NOT excluded.role",
			    name, &stmt, err);
	if (r < 0)
		return r;
	sqlite3_bind_int64(stmt, 2, now_ms);
	r = catalog_finish(db, stmt, "cannot write tenancy_schemas", &changes, err);
	if (r == 0)
		*ret_created = changes > 0;
	return r;
}

int embedded_schema_lookup(sqlite3 *db, const char *name, struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int rc, r;

	r = catalog_prepare(db, "SELECT 1 FROM tenancy_schemas WHERE name = ?1", name, &stmt, err);
	if (r < 0)
		return r;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		r = 0;
	} else if (rc == SQLITE_DONE) {
		tnd_error_set(err, "schema %s is not registered", name);
		r = -ENOENT;
	} else {
		r = embedded_sqlite_fail(err, db, rc, "cannot read tenancy_schemas");
	}
	sqlite3_finalize(stmt);
	return r;
}

int embedded_schema_unregister(sqlite3 *db, const char *name, bool *ret_deleted, struct tnd_error *err)
{
	sqlite3_stmt *stmt;
	int changes = 0, r;

	r = catalog_prepare(db, "DELETE FROM tenancy_schemas WHERE name = ?1", name, &stmt, err);
	if (r < 0)
		return r;
	r = catalog_finish(db, stmt, "cannot delete from tenancy_schemas", &changes, err);
	if (r == 0)
		*ret_deleted = changes > 0;
	return r;
}
