/*
 * log.c — structured JSON-lines logging (see log.h).
 *
 * Each line is built in a stack buffer and written with one write(2) on an
 * O_APPEND descriptor, so lines from different threads never interleave.
 * The descriptor is swapped atomically on reopen.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static atomic_int log_fd = STDERR_FILENO;
static atomic_int log_level = TND_LOG_INFO;
static char *log_path;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static log_sink_fn *log_sink;
static void *log_sink_userdata;

static _Thread_local char log_request_id[129];
static _Thread_local char log_tenant_id[64];

static const char *const log_level_names[] = {
	[TND_LOG_ERROR] = "error", [TND_LOG_WARNING] = "warning", [TND_LOG_NOTICE] = "notice",
	[TND_LOG_INFO] = "info",   [TND_LOG_DEBUG] = "debug",
};

const char *log_level_name(int level)
{
	if (level < TND_LOG_ERROR || level > TND_LOG_DEBUG)
		return "unknown";
	return log_level_names[level];
}

int log_level_parse(const char *name)
{
	for (int l = TND_LOG_ERROR; l <= TND_LOG_DEBUG; l++)
		if (tnd_streq(name, log_level_names[l]))
			return l;
	return -1;
}

static int log_open_fd(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
}

int log_open(const char *path, int level)
{
	int fd = STDERR_FILENO, old;

	if (path != NULL && strcmp(path, "-") != 0) {
		fd = log_open_fd(path);
		if (fd < 0)
			return -errno;
	}
	pthread_mutex_lock(&log_lock);
	free(log_path);
	log_path = (fd == STDERR_FILENO) ? NULL : tnd_xstrdup(path);
	old = atomic_exchange(&log_fd, fd);
	pthread_mutex_unlock(&log_lock);
	if (old != STDERR_FILENO && old != fd)
		close(old);
	atomic_store(&log_level, level);
	return 0;
}

int log_reopen(void)
{
	int fd, old;

	pthread_mutex_lock(&log_lock);
	if (log_path == NULL) {
		pthread_mutex_unlock(&log_lock);
		return 0;
	}
	fd = log_open_fd(log_path);
	if (fd < 0) {
		int e = errno;
		pthread_mutex_unlock(&log_lock);
		return -e;
	}
	old = atomic_exchange(&log_fd, fd);
	pthread_mutex_unlock(&log_lock);
	/* A thread that loaded the old fd just before the swap may still write
	 * one line to it; closing it is still safe (write gets EBADF at worst). */
	if (old != STDERR_FILENO)
		close(old);
	return 0;
}

int log_reopen_if_moved(void)
{
	struct stat on_disk, open_file;
	bool moved;

	pthread_mutex_lock(&log_lock);
	moved = log_path != NULL && fstat(atomic_load(&log_fd), &open_file) == 0 &&
		(stat(log_path, &on_disk) < 0 || on_disk.st_ino != open_file.st_ino || on_disk.st_dev != open_file.st_dev);
	pthread_mutex_unlock(&log_lock);
	return moved ? log_reopen() : 0;
}

void log_close(void)
{
	int old;

	pthread_mutex_lock(&log_lock);
	free(log_path);
	log_path = NULL;
	old = atomic_exchange(&log_fd, STDERR_FILENO);
	pthread_mutex_unlock(&log_lock);
	if (old != STDERR_FILENO)
		close(old);
}

void log_set_level(int level)
{
	atomic_store(&log_level, level);
}

int log_get_level(void)
{
	return atomic_load(&log_level);
}

void log_set_sink(log_sink_fn *sink, void *userdata)
{
	log_sink = sink;
	log_sink_userdata = userdata;
}

void log_context_set(const char *request_id, const char *tenant_id)
{
	tnd_strlcpy(log_request_id, request_id ? request_id : "", sizeof(log_request_id));
	tnd_strlcpy(log_tenant_id, tenant_id ? tenant_id : "", sizeof(log_tenant_id));
}

void log_context_set_tenant(const char *tenant_id)
{
	tnd_strlcpy(log_tenant_id, tenant_id ? tenant_id : "", sizeof(log_tenant_id));
}

void log_context_clear(void)
{
	log_request_id[0] = '\0';
	log_tenant_id[0] = '\0';
}

/* Append @s to @out as a JSON string body (no quotes), escaping as RFC 8259 requires. */
static size_t log_escape(char *out, size_t cap, size_t at, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (const unsigned char *p = (const unsigned char *)s; *p && at + 7 < cap; p++) {
		unsigned char c = *p;
		if (c == '"' || c == '\\') {
			out[at++] = '\\';
			out[at++] = (char)c;
		} else if (c == '\n') {
			out[at++] = '\\';
			out[at++] = 'n';
		} else if (c < 0x20) {
			out[at++] = '\\';
			out[at++] = 'u';
			out[at++] = '0';
			out[at++] = '0';
			out[at++] = hex[c >> 4];
			out[at++] = hex[c & 0xf];
		} else {
			out[at++] = (char)c;
		}
	}
	return at;
}

static size_t log_append(char *out, size_t cap, size_t at, const char *s)
{
	size_t n = strlen(s);

	if (at + n >= cap)
		n = cap - at - 1;
	memcpy(out + at, s, n);
	return at + n;
}

/*
 * Lines are assembled by hand rather than through jansson: logging sits on
 * every request's path and a JSON object per line cost more than the rest
 * of a read.  Keys are fixed, values escaped; @fields_json (a JSON object
 * text produced by tenancyd itself) is spliced in member by member.
 */
void log_emitv(int level, const char *component, const char *fields_json, const char *fmt, va_list ap)
{
	char msg[2048], when[32], line[4096 + 256];
	size_t at = 0, cap = sizeof(line) - 2;

	if (level > atomic_load(&log_level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!tnd_utf8_valid(msg, strlen(msg))) {
		/* never let a hostile byte sequence break the JSON line */
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	}
	tnd_format_time(tnd_now_ms(), when);
	at = log_append(line, cap, at, "{\"time\":\"");
	at = log_append(line, cap, at, when);
	at = log_append(line, cap, at, "\",\"level\":\"");
	at = log_append(line, cap, at, log_level_name(level));
	if (component) {
		at = log_append(line, cap, at, "\",\"component\":\"");
		at = log_escape(line, cap, at, component);
	}
	at = log_append(line, cap, at, "\",\"msg\":\"");
	at = log_escape(line, cap, at, msg);
	if (log_request_id[0]) {
		at = log_append(line, cap, at, "\",\"requestId\":\"");
		at = log_escape(line, cap, at, log_request_id);
	}
	if (log_tenant_id[0]) {
		at = log_append(line, cap, at, "\",\"tenantId\":\"");
		at = log_escape(line, cap, at, log_tenant_id);
	}
	at = log_append(line, cap, at, "\"");
	if (fields_json) {
		const char *open = strchr(fields_json, '{');
		const char *close = strrchr(fields_json, '}');
		if (open && close && close > open + 1 && at + (size_t)(close - open) + 1 < cap) {
			line[at++] = ',';
			memcpy(line + at, open + 1, (size_t)(close - open - 1));
			at += (size_t)(close - open - 1);
		}
	}
	line[at++] = '}';
	line[at] = '\n';
	{
		ssize_t w = write(atomic_load(&log_fd), line, at + 1);
		(void)w;
	}
	line[at] = '\0';
	if (log_sink)
		log_sink(level, line, log_sink_userdata);
}

void log_emit(int level, const char *component, const char *fields_json, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emitv(level, component, fields_json, fmt, ap);
	va_end(ap);
}
