/*
 * testutil.c — helpers shared by the cmocka unit tests (see testutil.h).
 */
#include "autoconfig.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "testutil.h"
#include "util.h"

char *testutil_mkdtemp(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *tmpl = tnd_xasprintf("%s/tnd-%s-XXXXXX", base && *base ? base : "/tmp", tag);

	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		abort();
	}
	chmod(tmpl, 0700);
	return tmpl;
}

static int rmrf_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void testutil_rmrf(const char *path)
{
	if (path)
		nftw(path, rmrf_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *testutil_write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *path = tnd_xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		perror(path);
		abort();
	}
	fchmod(fd, mode);
	close(fd);
	return path;
}

static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static char **capture_lines;
static size_t capture_n;

static void capture_sink(int level, const char *line, void *userdata)
{
	(void)level;
	(void)userdata;
	pthread_mutex_lock(&capture_lock);
	capture_lines = tnd_xrealloc(capture_lines, (capture_n + 1) * sizeof(*capture_lines));
	capture_lines[capture_n++] = tnd_xstrdup(line);
	pthread_mutex_unlock(&capture_lock);
}

void testutil_log_capture_start(void)
{
	testutil_log_capture_stop();
	log_open("/dev/null", TND_LOG_DEBUG);
	log_set_sink(capture_sink, NULL);
}

size_t testutil_log_count(const char *needle)
{
	size_t n = 0;

	pthread_mutex_lock(&capture_lock);
	for (size_t i = 0; i < capture_n; i++)
		if (strstr(capture_lines[i], needle))
			n++;
	pthread_mutex_unlock(&capture_lock);
	return n;
}

bool testutil_log_contains(const char *needle)
{
	return testutil_log_count(needle) > 0;
}

void testutil_log_capture_stop(void)
{
	log_set_sink(NULL, NULL);
	pthread_mutex_lock(&capture_lock);
	for (size_t i = 0; i < capture_n; i++)
		free(capture_lines[i]);
	free(capture_lines);
	capture_lines = NULL;
	capture_n = 0;
	pthread_mutex_unlock(&capture_lock);
	log_close();
}

const char *testutil_builddir(void)
{
	return TND_ABS_BUILDDIR;
}

const char *testutil_srcdir(void)
{
	return TND_ABS_SRCDIR;
}
