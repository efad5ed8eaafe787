/*
 * sqlite_walbuf.c — a thin SQLite VFS over the default one that coalesces
 * the writer's WAL appends into one write per commit.
 *
 * Why: SQLite writes each WAL frame as two pwrite() calls (a 24-byte frame
 * header, then the page), and a group commit of a few dozen tenants appends
 * a few hundred frames, because new ids land all over every index.  On
 * Linux each of those small writes pays the syscall and the page-cache
 * bookkeeping of every 4 KiB folio it touches; with a fast fsync that, not
 * the disk, is what limits commits per second.  Buffering a transaction's
 * appends and writing them at once cuts the pwrite() calls by two orders of
 * magnitude.
 *
 * Why it is safe: only the writer connection opens the database through
 * this VFS, and only when synchronous is FULL or EXTRA, where SQLite calls
 * xSync on the WAL at every commit *before* it publishes the new frames in
 * the wal-index; the buffer is written out at the latest there.  So no other
 * connection (reader or checkpointer) can be told about a frame that is
 * still in our buffer, and a frame lost with the process was never part of
 * an acknowledged commit.  Anything that is not a contiguous append (reads
 * of the WAL, overwrites, truncation, size queries, close) writes the buffer
 * out first, so the writer itself always sees its own file as if no buffer
 * existed.  All other files pass straight through to the default VFS.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"

/* Appends beyond this are written out early; a transaction of 128 commits
 * rarely needs more than a few MiB of WAL. */
#define WALBUF_CAPACITY (8u * 1024 * 1024)
/* The unix VFS takes at most 128 KiB - 1 per xWrite (it masks the length
 * with 0x1ffff, as no page is larger than 64 KiB), so the buffer goes out
 * in pieces of 64 KiB: still one pwrite() per ~16 frames instead of two
 * per frame. */
#define WALBUF_CHUNK (64u * 1024)

struct walbuf_file {
	sqlite3_file base;     /* pMethods = &walbuf_methods */
	sqlite3_file *real;    /* the default VFS's file, right after this struct */
	unsigned char *buf;
	size_t len;
	size_t cap;
	sqlite3_int64 start;   /* file offset of buf[0] */
};

/* sqlite3_file objects must stay 8-byte aligned after our header. */
#define WALBUF_HEADER_SIZE ((sizeof(struct walbuf_file) + 7) & ~(size_t)7)

static sqlite3_vfs *walbuf_real_vfs;
static sqlite3_vfs walbuf_vfs;
static pthread_mutex_t walbuf_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned walbuf_users;

static struct walbuf_file *walbuf_of(sqlite3_file *file)
{
	return (struct walbuf_file *)file;
}

static int walbuf_flush(struct walbuf_file *w)
{
	int rc = SQLITE_OK;

	for (size_t done = 0; done < w->len && rc == SQLITE_OK; done += WALBUF_CHUNK) {
		size_t n = w->len - done < WALBUF_CHUNK ? w->len - done : WALBUF_CHUNK;

		rc = w->real->pMethods->xWrite(w->real, w->buf + done, (int)n, w->start + (sqlite3_int64)done);
	}
	w->len = 0;
	return rc;
}

static int walbuf_close(sqlite3_file *file)
{
	struct walbuf_file *w = walbuf_of(file);
	int rc = walbuf_flush(w);
	int rc_close = w->real->pMethods->xClose(w->real);

	free(w->buf);
	w->buf = NULL;
	w->cap = 0;
	return rc != SQLITE_OK ? rc : rc_close;
}

static int walbuf_read(sqlite3_file *file, void *data, int amount, sqlite3_int64 offset)
{
	struct walbuf_file *w = walbuf_of(file);
	int rc = walbuf_flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xRead(w->real, data, amount, offset);
}

static int walbuf_write(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset)
{
	struct walbuf_file *w = walbuf_of(file);
	size_t n = (size_t)amount;
	int rc;

	if (w->len > 0 && (offset != w->start + (sqlite3_int64)w->len || w->len + n > WALBUF_CAPACITY)) {
		rc = walbuf_flush(w);
		if (rc != SQLITE_OK)
			return rc;
	}
	if (n > WALBUF_CHUNK)
		return w->real->pMethods->xWrite(w->real, data, amount, offset);
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256 * 1024;
		unsigned char *grown;

		while (cap < w->len + n)
			cap *= 2;
		grown = realloc(w->buf, cap);
		if (grown == NULL) {
			/* no memory for the buffer: write through instead */
			rc = walbuf_flush(w);
			return rc != SQLITE_OK ? rc : w->real->pMethods->xWrite(w->real, data, amount, offset);
		}
		w->buf = grown;
		w->cap = cap;
	}
	if (w->len == 0)
		w->start = offset;
	memcpy(w->buf + w->len, data, n);
	w->len += n;
	return SQLITE_OK;
}

static int walbuf_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct walbuf_file *w = walbuf_of(file);
	int rc = walbuf_flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int walbuf_sync(sqlite3_file *file, int flags)
{
	struct walbuf_file *w = walbuf_of(file);
	int rc = walbuf_flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

static int walbuf_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct walbuf_file *w = walbuf_of(file);
	int rc = walbuf_flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xFileSize(w->real, size);
}

static int walbuf_lock_file(sqlite3_file *file, int level)
{
	return walbuf_of(file)->real->pMethods->xLock(walbuf_of(file)->real, level);
}

static int walbuf_unlock_file(sqlite3_file *file, int level)
{
	return walbuf_of(file)->real->pMethods->xUnlock(walbuf_of(file)->real, level);
}

static int walbuf_check_reserved_lock(sqlite3_file *file, int *result)
{
	return walbuf_of(file)->real->pMethods->xCheckReservedLock(walbuf_of(file)->real, result);
}

static int walbuf_file_control(sqlite3_file *file, int op, void *arg)
{
	return walbuf_of(file)->real->pMethods->xFileControl(walbuf_of(file)->real, op, arg);
}

static int walbuf_sector_size(sqlite3_file *file)
{
	return walbuf_of(file)->real->pMethods->xSectorSize(walbuf_of(file)->real);
}

static int walbuf_device_characteristics(sqlite3_file *file)
{
	return walbuf_of(file)->real->pMethods->xDeviceCharacteristics(walbuf_of(file)->real);
}

/* Version 1: SQLite maps no shared memory and no pages of a WAL file. */
static const sqlite3_io_methods walbuf_methods = {
	.iVersion = 1,
	.xClose = walbuf_close,
	.xRead = walbuf_read,
	.xWrite = walbuf_write,
	.xTruncate = walbuf_truncate,
	.xSync = walbuf_sync,
	.xFileSize = walbuf_file_size,
	.xLock = walbuf_lock_file,
	.xUnlock = walbuf_unlock_file,
	.xCheckReservedLock = walbuf_check_reserved_lock,
	.xFileControl = walbuf_file_control,
	.xSectorSize = walbuf_sector_size,
	.xDeviceCharacteristics = walbuf_device_characteristics,
};

static int walbuf_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
	struct walbuf_file *w = walbuf_of(file);
	int rc;

	/* Everything but the WAL is the default VFS's own file, in place. */
	if (!(flags & SQLITE_OPEN_WAL))
		return walbuf_real_vfs->xOpen(walbuf_real_vfs, name, file, flags, out_flags);

	memset(w, 0, sizeof(*w));
	w->real = (sqlite3_file *)((char *)file + WALBUF_HEADER_SIZE);
	rc = walbuf_real_vfs->xOpen(walbuf_real_vfs, name, w->real, flags, out_flags);
	/* SQLite calls xClose only when pMethods is set */
	w->base.pMethods = w->real->pMethods != NULL ? &walbuf_methods : NULL;
	return rc;
}

static int walbuf_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	return walbuf_real_vfs->xDelete(walbuf_real_vfs, name, sync_dir);
}

static int walbuf_access(sqlite3_vfs *vfs, const char *name, int flags, int *result)
{
	return walbuf_real_vfs->xAccess(walbuf_real_vfs, name, flags, result);
}

static int walbuf_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	return walbuf_real_vfs->xFullPathname(walbuf_real_vfs, name, n, out);
}

static int walbuf_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	return walbuf_real_vfs->xRandomness(walbuf_real_vfs, n, out);
}

static int walbuf_sleep(sqlite3_vfs *vfs, int microseconds)
{
	return walbuf_real_vfs->xSleep(walbuf_real_vfs, microseconds);
}

static int walbuf_current_time(sqlite3_vfs *vfs, double *now)
{
	return walbuf_real_vfs->xCurrentTime(walbuf_real_vfs, now);
}

static int walbuf_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	return walbuf_real_vfs->xGetLastError(walbuf_real_vfs, n, out);
}

static int walbuf_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *now)
{
	return walbuf_real_vfs->xCurrentTimeInt64(walbuf_real_vfs, now);
}

int store_walbuf_acquire(struct tnd_error *err)
{
	int rc = SQLITE_OK;

	pthread_mutex_lock(&walbuf_lock);
	if (walbuf_users == 0) {
		walbuf_real_vfs = sqlite3_vfs_find(NULL);
		if (walbuf_real_vfs == NULL || walbuf_real_vfs->iVersion < 2) {
			pthread_mutex_unlock(&walbuf_lock);
			tnd_error_set(err, "the default SQLite VFS is missing or too old");
			return -ENOTSUP;
		}
		walbuf_vfs = (sqlite3_vfs){
			.iVersion = 2,
			.szOsFile = (int)WALBUF_HEADER_SIZE + walbuf_real_vfs->szOsFile,
			.mxPathname = walbuf_real_vfs->mxPathname,
			.zName = STORE_WALBUF_VFS,
			.xOpen = walbuf_open,
			.xDelete = walbuf_delete,
			.xAccess = walbuf_access,
			.xFullPathname = walbuf_full_pathname,
			.xRandomness = walbuf_randomness,
			.xSleep = walbuf_sleep,
			.xCurrentTime = walbuf_current_time,
			.xGetLastError = walbuf_get_last_error,
			.xCurrentTimeInt64 = walbuf_current_time_int64,
		};
		rc = sqlite3_vfs_register(&walbuf_vfs, 0);
	}
	if (rc == SQLITE_OK)
		walbuf_users++;
	pthread_mutex_unlock(&walbuf_lock);
	if (rc != SQLITE_OK) {
		tnd_error_set(err, "cannot register the %s VFS: %s", STORE_WALBUF_VFS, sqlite3_errstr(rc));
		return store_errno(rc);
	}
	return 0;
}

void store_walbuf_release(void)
{
	pthread_mutex_lock(&walbuf_lock);
	/* Unregistered with the last user: SQLite must not keep a pointer
	 * into this object after the core dlclose()s it. */
	if (walbuf_users > 0 && --walbuf_users == 0)
		sqlite3_vfs_unregister(&walbuf_vfs);
	pthread_mutex_unlock(&walbuf_lock);
}
