/*
 * cli_output.h — what tenancyctl shows a person: aligned tables, kubectl-style
 * ages, label/value summaries, pretty JSON, and failed HTTP responses
 * (RFC 9457 problems) rendered readably.  Every printer takes a FILE *, so the
 * unit tests render into memory with open_memstream().
 *
 * Text that comes from the server is printed through cli_sanitize rules:
 * control characters never reach the terminal.
 */
#ifndef TND_CLI_OUTPUT_H
#define TND_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Separates table columns (as kubectl does). */
#define CLI_TABLE_GAP 3
/* Large enough for any cli_format_age() result. */
#define CLI_AGE_MAX 32

struct cli_table;

/** A table with @n_columns columns titled @headers (copied). */
struct cli_table *cli_table_new(size_t n_columns, const char *const *headers);
/** Append a row of exactly n_columns cells (copied); a NULL or empty cell shows as "-". */
void cli_table_add_row(struct cli_table *table, const char *const *cells);
size_t cli_table_rows(const struct cli_table *table);
/** Print header and rows, columns as wide as their widest cell (in characters),
 *  CLI_TABLE_GAP spaces between columns and no trailing spaces. */
void cli_table_print(const struct cli_table *table, FILE *out);
void cli_table_free(struct cli_table *table);

/** Width of UTF-8 text in characters (code points). */
size_t cli_text_width(const char *s);

/**
 * A duration as kubectl shows ages: "45s", "3m20s", "3m", "5h10m", "9h",
 * "2d5h", "12d", "2y40d", "9y"; "0s" for a clock slightly behind (up to 1s)
 * and "<invalid>" for a time further in the future.
 */
void cli_format_age(int64_t seconds, char out[CLI_AGE_MAX]);
/** Parse an RFC 3339 UTC time as the server writes it ("2026-11-28T10:21:07.123Z",
 *  fraction optional) into ms since the epoch.  0 or -EINVAL. */
int cli_parse_time(const char *text, int64_t *ret_ms);
/** The age of @rfc3339 at @now_ms, or "-" if it is missing or unparsable. */
void cli_format_age_since(const char *rfc3339, int64_t now_ms, char out[CLI_AGE_MAX]);

/** Print @text with control characters (and DEL) replaced by '?'. */
void cli_print_sanitized(FILE *out, const char *text);

/** Print @value indented (2 spaces), keys in the order the server sent them. */
void cli_print_json(FILE *out, const json_t *value);

/**
 * Aligned "Label:  value" lines.  @pairs holds @n label/value pairs
 * (labels[i*2], values[i*2+1]); a NULL or empty value shows as "-".
 */
void cli_print_fields(FILE *out, const char *const *pairs, size_t n);

/** A failed HTTP exchange, as cli_print_error_response() needs it. */
struct cli_error_response {
	long status;
	const char *content_type;  /* may be NULL */
	const char *body;          /* may be NULL; need not be NUL-terminated */
	size_t body_len;
	const char *request_id;    /* X-Request-Id of the response, may be NULL */
};

/* Non-problem bodies are cut to this many bytes. */
#define CLI_ERROR_BODY_MAX 300

/**
 * Print a failed response to @out:
 *
 *     error: <context>: 422 Manifest invalid: the manifest has 2 problem(s)
 *       spec.placement.allowedRegions[2]: unknown region mars-1
 *       (request id 6f1c…)
 *
 * A problem+json body gives title, detail and errors[]; any other body is
 * shown on one line, cut to CLI_ERROR_BODY_MAX bytes.  @context may be NULL.
 */
void cli_print_error_response(FILE *out, const char *context, const struct cli_error_response *resp);

/** The reason phrase of an HTTP status ("Not Found"), or "" if unknown. */
const char *cli_http_reason(long status);

#endif /* TND_CLI_OUTPUT_H */
