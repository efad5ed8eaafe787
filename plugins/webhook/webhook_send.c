/*
 * webhook_send.c — one webhook delivery attempt: parse and check the URL,
 * resolve the host and refuse forbidden addresses (SSRF), pin the
 * connection to the addresses that were checked, sign, POST once with a
 * pooled libcurl handle, and read the status, the latency and Retry-After.
 *
 * The signing secret and the request body never reach a log line or the
 * outcome; libcurl's error text names at most the host.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "webhook.h"
#include "webhook_retry_after.h"

#define SEND_ADDRESSES_MAX 1024

/* What the callbacks of one transfer share with webhook_send(). */
struct send_transfer {
	const struct webhook_allow *allow;
	char retry_after[64]; /* the last response's Retry-After, "" if none */
	char refused[160];    /* set when the socket callback refused an address */
};

/* --- the URL ------------------------------------------------------------------------------- */

struct send_target {
	char *scheme, *host, *port; /* from libcurl's URL parser, freed with curl_free */
	char bare_host[256];        /* without IPv6 brackets, for getaddrinfo */
	unsigned port_number;
};

static void send_target_clear(struct send_target *t)
{
	curl_free(t->scheme);
	curl_free(t->host);
	curl_free(t->port);
	memset(t, 0, sizeof(*t));
}

/* An internationalised host must be resolved, and pinned, under the ASCII
 * (punycode) name that libcurl itself will look up, or the pin would not
 * match.  Where libcurl cannot tell us that name (CURLU_PUNYCODE is 7.88+,
 * and fails in some builds), the URL must carry the xn-- form itself. */
static int send_host_ascii(CURLU *u, char **host, struct tnd_error *err)
{
	bool ascii = true;

	for (const unsigned char *p = (const unsigned char *)*host; *p != '\0'; p++)
		ascii = ascii && *p < 0x80;
	if (ascii)
		return 0;
#ifdef CURLU_PUNYCODE
	{
		char *encoded = NULL;

		if (curl_url_get(u, CURLUPART_HOST, &encoded, CURLU_PUNYCODE) == CURLUE_OK) {
			curl_free(*host);
			*host = encoded;
			return 0;
		}
		curl_free(encoded);
	}
#endif
	tnd_error_set(err, "subscription url's host is not ASCII and this libcurl cannot convert it: "
		      "give its punycode (xn--) form");
	return -EINVAL;
}

static int send_target_parse(const char *url, struct send_target *t, struct tnd_error *err)
{
	CURLU *u = curl_url();
	char *zone = NULL;
	size_t len;
	int r = -EINVAL;

	memset(t, 0, sizeof(*t));
	if (u == NULL)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &t->scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &t->host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &t->port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		tnd_error_set(err, "subscription url is not a valid absolute URL");
		goto out;
	}
	if (strcmp(t->scheme, "http") != 0 && strcmp(t->scheme, "https") != 0) {
		tnd_error_set(err, "subscription url must be http:// or https://, not %s://", t->scheme);
		goto out;
	}
	r = send_host_ascii(u, &t->host, err);
	if (r < 0)
		goto out;
	r = -EINVAL;
	if (curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK) {
		tnd_error_set(err, "subscription url must not name an IPv6 zone");
		goto out;
	}
	len = strlen(t->host);
	if (t->host[0] == '[' && len > 2 && t->host[len - 1] == ']')
		snprintf(t->bare_host, sizeof(t->bare_host), "%.*s", (int)(len - 2), t->host + 1);
	else if (len < sizeof(t->bare_host))
		snprintf(t->bare_host, sizeof(t->bare_host), "%s", t->host);
	else {
		tnd_error_set(err, "subscription url's host name is too long");
		goto out;
	}
	t->port_number = (unsigned)strtoul(t->port, NULL, 10);
	r = 0;
out:
	curl_free(zone);
	curl_url_cleanup(u);
	if (r < 0)
		send_target_clear(t);
	return r;
}

/* --- libcurl callbacks --------------------------------------------------------------------- */

static size_t send_discard_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

/* Remember Retry-After of the final response (a new status line starts over). */
static size_t send_header(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct send_transfer *tr = userdata;
	size_t len = size * nmemb;
	static const char name[] = "retry-after:";

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
		tr->retry_after[0] = '\0';
	else if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		size_t n = len - (sizeof(name) - 1);

		if (n >= sizeof(tr->retry_after))
			n = sizeof(tr->retry_after) - 1;
		memcpy(tr->retry_after, data + sizeof(name) - 1, n);
		tr->retry_after[n] = '\0';
	}
	return len;
}

/* The last line of the SSRF guard: whatever address libcurl is about to
 * connect to (pinned or not, IPv4 or IPv6) is checked again here. */
static curl_socket_t send_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	struct send_transfer *tr = clientp;
	enum webhook_addr_class cls = webhook_addr_classify(&address->addr);

	if (!webhook_addr_allowed(tr->allow, cls)) {
		char text[INET6_ADDRSTRLEN] = "?";
		const void *raw = address->family == AF_INET
					  ? (const void *)&((const struct sockaddr_in *)&address->addr)->sin_addr
					  : (const void *)&((const struct sockaddr_in6 *)&address->addr)->sin6_addr;

		if (address->family == AF_INET || address->family == AF_INET6)
			inet_ntop(address->family, raw, text, sizeof(text));
		snprintf(tr->refused, sizeof(tr->refused), "refused: connecting to %s, a %s address", text,
			 webhook_addr_class_name(cls));
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

/* --- one attempt --------------------------------------------------------------------------- */

static struct curl_slist *send_headers(const struct webhook_request *req, int64_t timestamp,
				       const char *signature)
{
	struct curl_slist *list = NULL, *next;
	char line[320];
	const char *fixed[] = {
		"Content-Type: application/cloudevents+json; charset=utf-8",
		"Expect:", /* no 100-continue round trip before the body */
	};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if ((next = curl_slist_append(list, fixed[i])) == NULL)
			goto fail;
		list = next;
	}
	snprintf(line, sizeof(line), "webhook-id: %s", req->id);
	if ((next = curl_slist_append(list, line)) == NULL)
		goto fail;
	list = next;
	snprintf(line, sizeof(line), "webhook-timestamp: %" PRId64, timestamp);
	if ((next = curl_slist_append(list, line)) == NULL)
		goto fail;
	list = next;
	snprintf(line, sizeof(line), "webhook-signature: %s", signature);
	if ((next = curl_slist_append(list, line)) == NULL)
		goto fail;
	return next;
fail:
	curl_slist_free_all(list);
	return NULL;
}

static void send_options(CURL *h, const struct webhook_ctx *ctx, const struct webhook_request *req,
			 struct curl_slist *headers, struct curl_slist *pin, struct send_transfer *tr, char *errbuf)
{
	const struct webhook_settings *s = &ctx->settings;

	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* several threads: no SIGALRM for timeouts */
	curl_easy_setopt(h, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is an answer, not a new target */
	curl_easy_setopt(h, CURLOPT_PROXY, "");          /* a proxy would resolve the host past our check */
	curl_easy_setopt(h, CURLOPT_RESOLVE, pin);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, send_open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, tr);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, s->user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)s->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, send_discard_body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, send_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, tr);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (s->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
}

/* The CURLOPT_RESOLVE list pinning host:port to the checked addresses. */
static int send_pin(const struct send_target *t, const char *addresses, struct curl_slist **ret_pin)
{
	char entry[SEND_ADDRESSES_MAX + 320];
	struct curl_slist *pin, *next;

	*ret_pin = NULL;
	if (t->host[0] == '[') /* an IPv6 literal: nothing to resolve, the socket check covers it */
		return 0;
	/* drop what an earlier transfer on this handle pinned, then pin anew */
	snprintf(entry, sizeof(entry), "-%s:%u", t->host, t->port_number);
	if ((pin = curl_slist_append(NULL, entry)) == NULL)
		return -ENOMEM;
	snprintf(entry, sizeof(entry), "%s:%u:%s", t->host, t->port_number, addresses);
	if ((next = curl_slist_append(pin, entry)) == NULL) {
		curl_slist_free_all(pin);
		return -ENOMEM;
	}
	*ret_pin = next;
	return 0;
}

static void send_outcome(CURL *h, CURLcode rc, const struct send_transfer *tr, const char *errbuf,
			 int64_t now_ms, struct webhook_outcome *out)
{
	long status = 0;
	int64_t wait_ms;

	if (rc != CURLE_OK) {
		out->status = 0;
		snprintf(out->error, sizeof(out->error), "%s%s%s", curl_easy_strerror(rc), errbuf[0] ? ": " : "",
			 errbuf);
		return;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	out->status = status;
	out->disable = status == 410;
	if (tr->retry_after[0] != '\0' && webhook_retry_after_parse(tr->retry_after, now_ms, &wait_ms) == 0)
		out->retry_after_ms = wait_ms;
}

int webhook_send(struct webhook_ctx *ctx, const struct webhook_request *req, struct webhook_outcome *ret,
		 struct tnd_error *err)
{
	const struct tnd_host *host = ctx->host;
	struct webhook_outcome out = { 0 };
	struct send_transfer tr = { .allow = &ctx->settings.allow };
	struct send_target target;
	struct curl_slist *pin = NULL, *headers = NULL;
	char addresses[SEND_ADDRESSES_MAX], why[256] = "", signature[WEBHOOK_SIGNATURE_MAX];
	char errbuf[CURL_ERROR_SIZE] = "";
	int64_t started_us, now_ms, timestamp;
	CURL *h = NULL;
	CURLcode rc;
	int r;

	r = send_target_parse(req->url, &target, err);
	if (r < 0)
		return r;
	snprintf(out.target, sizeof(out.target), "%s://%s:%u", target.scheme, target.host, target.port_number);
	started_us = host->clock_monotonic_us(host);
	r = webhook_resolve(target.bare_host, target.port_number, &ctx->settings.allow, addresses,
			    sizeof(addresses), why, sizeof(why));
	if (r == -EHOSTUNREACH) {
		/* a name that does not resolve (now) is a failed attempt the dispatcher retries */
		out.latency_ms = (double)(host->clock_monotonic_us(host) - started_us) / 1000.0;
		snprintf(out.error, sizeof(out.error), "%s", why);
		goto done;
	}
	if (r < 0) {
		tnd_error_set(err, "%s", why);
		goto fail;
	}
	r = send_pin(&target, addresses, &pin);
	if (r < 0)
		goto fail;

	now_ms = host->clock_realtime_ms(host);
	timestamp = now_ms / 1000;
	r = webhook_sign(req->key, req->id, timestamp, req->body, req->body_len, signature);
	if (r < 0) {
		tnd_error_set(err, "cannot compute the signature (libcrypto failed)");
		goto fail;
	}
	headers = send_headers(req, timestamp, signature);
	h = webhook_pool_take(&ctx->pool);
	if (headers == NULL || h == NULL) {
		r = -ENOMEM;
		tnd_error_set(err, "out of memory");
		goto fail;
	}
	/* No curl_easy_reset(): send_options() sets the same options on every
	 * transfer, and a reset costs about a quarter of a keep-alive POST. */
	send_options(h, ctx, req, headers, pin, &tr, errbuf);
	rc = curl_easy_perform(h);
	out.latency_ms = (double)(host->clock_monotonic_us(host) - started_us) / 1000.0;
	/* libcurl may write the error buffer outside a transfer (when it closes
	 * a pooled connection), so unhook our stack copy; the callbacks' data
	 * pointers are only used during a transfer and replaced before the next. */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	/* Every pinned address passed the guard, so a refusal here means
	 * something tried to go around it; only when nothing else connected
	 * is the attempt "not made" (a refused address among several that
	 * happy eyeballs tried, with an allowed one answering, is a delivery). */
	if (tr.refused[0] != '\0' && rc != CURLE_OK) {
		r = -EPERM;
		tnd_error_set(err, "%s", tr.refused);
		goto fail;
	}
	send_outcome(h, rc, &tr, errbuf, host->clock_realtime_ms(host), &out);
done:
	webhook_pool_give(&ctx->pool, h);
	curl_slist_free_all(headers);
	curl_slist_free_all(pin);
	send_target_clear(&target);
	*ret = out;
	return 0;
fail:
	webhook_pool_give(&ctx->pool, h);
	curl_slist_free_all(headers);
	curl_slist_free_all(pin);
	send_target_clear(&target);
	return r;
}
