/*
 * cli_http.c — the libcurl client of tenancyctl (see cli_http.h).
 *
 * One easy handle lives as long as the client: curl_easy_reset() between
 * requests clears the options but keeps the connection cache, so a whole
 * `list --all` or a 150-document apply runs over one TCP connection.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "cli_http.h"
#include "host.h"
#include "cli_output.h"
#include "util.h"

struct cli_http {
	CURL *curl;
	char *base_url;
	char *auth_header;        /* "Authorization: Bearer …"; wiped on free */
	char *request_id;
	long timeout_s;
	FILE *verbose;
	char errbuf[CURL_ERROR_SIZE];
};

/* What the callbacks collect for one response. */
struct http_sink {
	char *data;
	size_t len;
	size_t cap;
	bool too_big;
	char *content_type;
	char *request_id;
};

static bool http_global_ready;

struct cli_http *cli_http_new(const struct cli_http_options *opts)
{
	struct cli_http *http;

	if (!http_global_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return NULL;
		http_global_ready = true;
	}
	http = tnd_xcalloc(1, sizeof(*http));
	http->curl = curl_easy_init();
	if (http->curl == NULL) {
		free(http);
		return NULL;
	}
	http->base_url = tnd_xstrdup(opts->base_url);
	if (opts->token)
		http->auth_header = tnd_xasprintf("Authorization: Bearer %s", opts->token);
	http->request_id = opts->request_id ? tnd_xstrdup(opts->request_id) : NULL;
	http->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 30;
	http->verbose = opts->verbose;
	return http;
}

void cli_http_free(struct cli_http *http)
{
	if (http == NULL)
		return;
	curl_easy_cleanup(http->curl);
	if (http->auth_header) {
		explicit_bzero(http->auth_header, strlen(http->auth_header));
		free(http->auth_header);
	}
	free(http->base_url);
	free(http->request_id);
	free(http);
	/* one client per invocation: its end is libcurl's end */
	curl_global_cleanup();
	http_global_ready = false;
}

void cli_response_clear(struct cli_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	free(resp->content_type);
	free(resp->request_id);
	memset(resp, 0, sizeof(*resp));
}

/* --- small helpers ------------------------------------------------------------------- */

char *cli_http_escape(const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(text);
	char *out = tnd_xmalloc(len * 3 + 1), *o = out;

	/* RFC 3986 unreserved characters pass; everything else is %XX */
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '.' || *p == '_' || *p == '~') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 0xf];
		}
	}
	*o = '\0';
	return out;
}

void cli_http_query_add(struct tnd_buf *query, const char *name, const char *value)
{
	char *escaped;

	if (value == NULL)
		return;
	escaped = cli_http_escape(value);
	tnd_buf_addf(query, "%c%s=%s", query->len ? '&' : '?', name, escaped);
	free(escaped);
}

char *cli_http_redact_url(const char *url)
{
	const char *authority = strstr(url, "://");
	const char *at, *end;

	if (authority == NULL)
		return tnd_xstrdup(url);
	authority += 3;
	end = authority + strcspn(authority, "/?#");
	at = memchr(authority, '@', (size_t)(end - authority));
	if (at == NULL)
		return tnd_xstrdup(url);
	return tnd_xasprintf("%.*s***%s", (int)(authority - url), url, at);
}

static bool http_header_value_ok(const char *value)
{
	for (const unsigned char *p = (const unsigned char *)value; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* --- callbacks ------------------------------------------------------------------------- */

static size_t http_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct http_sink *sink = userdata;
	size_t n = size * nmemb;

	if (sink->len + n > CLI_HTTP_MAX_RESPONSE) {
		sink->too_big = true;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	if (sink->len + n + 1 > sink->cap) {
		while (sink->len + n + 1 > sink->cap)
			sink->cap = sink->cap ? sink->cap * 2 : 4096;
		sink->data = tnd_xrealloc(sink->data, sink->cap);
	}
	memcpy(sink->data + sink->len, data, n);
	sink->len += n;
	sink->data[sink->len] = '\0';
	return n;
}

/* The value of header line @line if it is header @name, trimmed (caller frees); else NULL. */
static char *http_header_match(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	const char *v, *end = line + len;

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	v = line + n + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return tnd_xstrndup(v, (size_t)(end - v));
}

static size_t http_on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
	struct http_sink *sink = userdata;
	size_t len = size * nmemb;
	char *value;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new status line (after a 100 Continue): forget the interim headers */
		free(sink->content_type);
		free(sink->request_id);
		sink->content_type = sink->request_id = NULL;
	} else if ((value = http_header_match(line, len, "Content-Type"))) {
		free(sink->content_type);
		sink->content_type = value;
	} else if ((value = http_header_match(line, len, "X-Request-Id"))) {
		free(sink->request_id);
		sink->request_id = value;
	}
	return len;
}

/* --- sending ------------------------------------------------------------------------------- */

static struct curl_slist *http_add_header(struct curl_slist *list, const char *name, const char *value)
{
	char *line = tnd_xasprintf("%s: %s", name, value);
	struct curl_slist *next = curl_slist_append(list, line);

	free(line);
	return next;
}

static struct curl_slist *http_headers(const struct cli_http *http, const struct cli_request *req)
{
	struct curl_slist *headers = NULL;

	headers = http_add_header(headers, "Accept", "application/json, application/problem+json");
	if (http->auth_header)
		headers = curl_slist_append(headers, http->auth_header);
	if (http->request_id)
		headers = http_add_header(headers, "X-Request-Id", http->request_id);
	if (req->if_match)
		headers = http_add_header(headers, "If-Match", req->if_match);
	if (req->idempotency_key)
		headers = http_add_header(headers, "Idempotency-Key", req->idempotency_key);
	if (req->content_type)
		headers = http_add_header(headers, "Content-Type", req->content_type);
	else
		headers = curl_slist_append(headers, "Content-Type:"); /* a body-less POST is no form */
	/* the API answers at once; waiting for 100 Continue only adds a round trip */
	headers = curl_slist_append(headers, "Expect:");
	return headers;
}

static void http_log_request(const struct cli_http *http, const struct cli_request *req, const char *url,
			     const struct curl_slist *headers)
{
	char *shown = cli_http_redact_url(url);

	fprintf(http->verbose, "> %s %s\n", req->method, shown);
	for (const struct curl_slist *h = headers; h; h = h->next) {
		if (h->data[strlen(h->data) - 1] == ':')
			continue; /* header removals, not sent */
		if (strncasecmp(h->data, "Authorization:", 14) == 0)
			fputs("> Authorization: Bearer <redacted>\n", http->verbose);
		else
			fprintf(http->verbose, "> %s\n", h->data);
	}
	if (req->body)
		fprintf(http->verbose, "> (%zu bytes of %s)\n", req->body_len, req->content_type);
	free(shown);
}

static void http_log_response(const struct cli_http *http, const struct cli_response *resp, double seconds)
{
	fprintf(http->verbose, "< %ld %s (%.1f ms, %s connection, %zu bytes)\n", resp->status,
		cli_http_reason(resp->status), seconds * 1000.0, resp->reused ? "reused" : "new", resp->len);
	if (resp->content_type)
		fprintf(http->verbose, "< Content-Type: %s\n", resp->content_type);
	if (resp->request_id)
		fprintf(http->verbose, "< X-Request-Id: %s\n", resp->request_id);
}

static void http_describe_failure(struct cli_http *http, CURLcode code, const char *url, struct tnd_error *err)
{
	const char *reason = http->errbuf[0] ? http->errbuf : curl_easy_strerror(code);
	char *shown = cli_http_redact_url(url);

	if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY)
		tnd_error_set(err, "cannot connect to %s: %s", shown, reason);
	else if (code == CURLE_OPERATION_TIMEDOUT)
		tnd_error_set(err, "no answer from %s within %ld s (--timeout): %s", shown, http->timeout_s, reason);
	else
		tnd_error_set(err, "request to %s failed: %s", shown, reason);
	free(shown);
}

int cli_http_send(struct cli_http *http, const struct cli_request *req, struct cli_response *ret,
		  struct tnd_error *err)
{
	struct http_sink sink = { NULL, 0, 0, false, NULL, NULL };
	char *url = tnd_xasprintf("%s%s", http->base_url, req->path);
	struct curl_slist *headers;
	struct cli_response resp = { 0 };
	long connects = 0;
	double seconds = 0;
	CURLcode code;
	CURL *c = http->curl;

	if ((req->if_match && !http_header_value_ok(req->if_match)) ||
	    (req->idempotency_key && !http_header_value_ok(req->idempotency_key)) ||
	    (http->request_id && !http_header_value_ok(http->request_id))) {
		tnd_error_set(err, "a header value contains control characters");
		free(url);
		return -EINVAL;
	}
	headers = http_headers(http, req);
	curl_easy_reset(c);
	http->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, http->timeout_s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, http->errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tenancyctl/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &sink);
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body || strcmp(req->method, "DELETE") != 0) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		}
	}
	if (http->verbose)
		http_log_request(http, req, url, headers);

	code = curl_easy_perform(c);
	curl_slist_free_all(headers);
	if (code != CURLE_OK) {
		if (sink.too_big)
			tnd_error_set(err, "the response from %s is larger than %u bytes", http->base_url,
				      CLI_HTTP_MAX_RESPONSE);
		else
			http_describe_failure(http, code, url, err);
		free(sink.data);
		free(sink.content_type);
		free(sink.request_id);
		free(url);
		return sink.too_big ? -EFBIG : -EIO;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &seconds);
	resp.body = sink.data ? sink.data : tnd_xstrdup("");
	resp.len = sink.len;
	resp.content_type = sink.content_type;
	resp.request_id = sink.request_id;
	resp.reused = connects == 0;
	if (http->verbose)
		http_log_response(http, &resp, seconds);
	free(url);
	*ret = resp;
	return 0;
}
