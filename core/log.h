/*
 * log.h — structured logging: one JSON object per line, with time, level,
 * component, message, and the request id and tenant id of the thread's
 * current request.  Lines go to stderr or to a file that SIGUSR1 reopens.
 * Never pass secrets to these functions.
 */
#ifndef TND_LOG_H
#define TND_LOG_H

#include <stdarg.h>

#include <tenancyd/host.h>

/** Send logs to @path (NULL or "-": stderr) at @level and above.  0 or -errno. */
int log_open(const char *path, int level);
/** Reopen the log file (after logrotate moved it).  0 or -errno; the old fd
 *  stays in use on failure. */
int log_reopen(void);
/** Reopen the log file if the path no longer names the open file (it was
 *  rotated away): for processes nobody sends SIGUSR1, like workers. */
int log_reopen_if_moved(void);
void log_set_level(int level);
int log_get_level(void);
/** "error", "warning", "notice", "info", "debug" → TND_LOG_*, or -1. */
int log_level_parse(const char *name);
const char *log_level_name(int level);
/** Close the log file; later lines go to stderr. */
void log_close(void);

/** Tag this thread's log lines with a request id and tenant id (NULL clears). */
void log_context_set(const char *request_id, const char *tenant_id);
void log_context_set_tenant(const char *tenant_id);
void log_context_clear(void);

/**
 * Write one line.  @fields_json, if not NULL, is a JSON object text whose
 * members are merged into the line (e.g. "{\"status\":200,\"ms\":1.2}").
 */
void log_emit(int level, const char *component, const char *fields_json, const char *fmt, ...)
	TND_PRINTF(4, 5);
void log_emitv(int level, const char *component, const char *fields_json, const char *fmt, va_list ap)
	TND_PRINTF(4, 0);

/* Each .c file defines LOG_COMPONENT ("api", "registry", ...) before use. */
#define log_error(...) log_emit(TND_LOG_ERROR, LOG_COMPONENT, NULL, __VA_ARGS__)
#define log_warning(...) log_emit(TND_LOG_WARNING, LOG_COMPONENT, NULL, __VA_ARGS__)
#define log_notice(...) log_emit(TND_LOG_NOTICE, LOG_COMPONENT, NULL, __VA_ARGS__)
#define log_info(...) log_emit(TND_LOG_INFO, LOG_COMPONENT, NULL, __VA_ARGS__)
#define log_debug(...) log_emit(TND_LOG_DEBUG, LOG_COMPONENT, NULL, __VA_ARGS__)

/** Test hook: when set, every line is also passed to @sink (after formatting). */
typedef void log_sink_fn(int level, const char *line, void *userdata);
void log_set_sink(log_sink_fn *sink, void *userdata);

#endif /* TND_LOG_H */
