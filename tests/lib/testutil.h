/*
 * testutil.h — helpers shared by the cmocka unit tests: scratch
 * directories, writing fixture files, capturing log lines.
 */
#ifndef TND_TESTUTIL_H
#define TND_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/** A fresh empty directory under $TMPDIR (or /tmp); caller frees the string
 *  and removes it with testutil_rmrf(). */
char *testutil_mkdtemp(const char *tag);
/** rm -rf @path. */
void testutil_rmrf(const char *path);
/** Write @text to @dir/@name with @mode; returns the full path (caller frees). */
char *testutil_write_file(const char *dir, const char *name, const char *text, mode_t mode);

/** Start capturing log lines (the daemon's log goes to /dev/null meanwhile). */
void testutil_log_capture_start(void);
/** True if some captured line contains @needle. */
bool testutil_log_contains(const char *needle);
/** Number of captured lines containing @needle. */
size_t testutil_log_count(const char *needle);
/** Stop capturing and forget the lines. */
void testutil_log_capture_stop(void);

/** Absolute build and source directories of this tree (from the build). */
const char *testutil_builddir(void);
const char *testutil_srcdir(void);

#endif /* TND_TESTUTIL_H */
