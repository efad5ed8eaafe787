/*
 * cli_http.h — tenancyctl's HTTP client: one libcurl handle per invocation,
 * so consecutive requests reuse one kept-alive connection, with the bearer
 * token, X-Request-Id, If-Match and Idempotency-Key headers the API takes.
 *
 * Verbose mode prints each exchange to a stream; the Authorization header
 * is shown as "Bearer <redacted>", never with the token.
 */
#ifndef TND_CLI_HTTP_H
#define TND_CLI_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <tenancyd/plugin.h>

/* Responses larger than this are refused (the API never sends one). */
#define CLI_HTTP_MAX_RESPONSE (64u * 1024 * 1024)

struct cli_http;

struct cli_http_options {
	const char *base_url;    /* "http://host:port", no trailing '/' */
	const char *token;       /* NULL: no Authorization header */
	long timeout_s;          /* whole request, > 0 */
	const char *request_id;  /* X-Request-Id on every request, or NULL */
	FILE *verbose;           /* exchange log, or NULL */
};

/** A client (the options are copied).  NULL only if libcurl cannot start. */
struct cli_http *cli_http_new(const struct cli_http_options *opts);
/** Close the connection and wipe the token.  Accepts NULL. */
void cli_http_free(struct cli_http *http);

struct cli_request {
	const char *method;          /* "GET", "PUT", "POST", "DELETE" */
	const char *path;            /* "/v1/tenants/x?limit=5", already escaped */
	const char *content_type;    /* with a body */
	const char *body;            /* NULL: none (POST sends an empty body) */
	size_t body_len;
	const char *if_match;        /* header value as is, e.g. "\"3\"" */
	const char *idempotency_key;
};

struct cli_response {
	long status;
	char *body;           /* NUL-terminated, never NULL after success */
	size_t len;
	char *content_type;   /* NULL if absent */
	char *request_id;     /* X-Request-Id, NULL if absent */
	bool reused;          /* no new connection was opened for it */
};

/**
 * Send @req and wait for the whole response.  0 with *@ret filled (whatever
 * the status), or -EIO with @err naming the URL and curl's reason (connection
 * refused, timeout, ...) and -EFBIG for an oversized response.
 */
int cli_http_send(struct cli_http *http, const struct cli_request *req, struct cli_response *ret,
		  struct tnd_error *err);
void cli_response_clear(struct cli_response *resp);

/** @text percent-encoded for a path segment or query value (caller frees). */
char *cli_http_escape(const char *text);
/** Append "?name=value" (or "&name=value" once @query has one) with @value
 *  percent-encoded; a NULL @value appends nothing. */
void cli_http_query_add(struct tnd_buf *query, const char *name, const char *value);

/** @url with any user:password@ replaced by "***@", for messages (caller frees). */
char *cli_http_redact_url(const char *url);

#endif /* TND_CLI_HTTP_H */
