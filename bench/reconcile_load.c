/*
 * reconcile_load.c — the reconcile benchmark client: N tenants applied
 * through the API by C concurrent clients, each then followed until it is
 * Active (its workflow provisioned it on the data plane).
 *
 * Measuring must not load the daemon it measures: while applies run, a
 * poller only asks whether any workflow is still Pending or Running (two
 * one-row queries every few milliseconds).  When none is, the Succeeded
 * workflows are read once: a tenant became Active when its workflow's last
 * checkpoint committed (updatedAt), and its apply→Active latency is that
 * moment minus the moment its PUT returned (both wall-clock, same host).
 *
 *   reconcile_load --url URL --token-file FILE [--tenants 2000] [--clients 32]
 *                  [--prefix r] [--poll-ms 5] [--timeout-s 300]
 *
 * Prints "key value" lines: tenants, active, tenants_per_s (apply of the
 * first to Active of the last), apply_to_active_p50_ms, _p99_ms.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

struct tenant_timing {
	double applied_ms;   /* when the PUT returned 2xx */
	double active_ms;    /* when the poller first saw it Active */
};

static const char *load_url;
static char load_auth[256];
static const char *load_prefix = "r";
static int load_tenants = 2000;
static int load_clients = 32;
static int load_poll_ms = 5;
static int load_timeout_s = 300;
static struct tenant_timing *load_timing;
static atomic_int load_next;
static atomic_int load_errors;
static atomic_int load_active;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* "2026-11-28T10:21:07.123Z" → ms since the epoch */
static double parse_time_ms(const char *text)
{
	struct tm tm = { 0 };
	int ms = 0;

	if (text == NULL || sscanf(text, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
				   &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (double)timegm(&tm) * 1000.0 + ms;
}

struct body {
	char *data;
	size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
	struct body *b = userdata;
	size_t add = size * n;

	b->data = realloc(b->data, b->len + add + 1);
	memcpy(b->data + b->len, data, add);
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

static size_t discard(char *data, size_t size, size_t n, void *userdata)
{
	(void)data;
	(void)userdata;
	return size * n;
}

static void *apply_main(void *arg)
{
	CURL *curl = curl_easy_init();
	struct curl_slist *headers = NULL;
	char url[512], body[512], id[64];
	int i;

	(void)arg;
	headers = curl_slist_append(headers, load_auth);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	while ((i = atomic_fetch_add(&load_next, 1)) < load_tenants) {
		long code = 0;
		snprintf(id, sizeof(id), "%s-%d", load_prefix, i);
		snprintf(url, sizeof(url), "%s/v1/tenants/%s", load_url, id);
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"%s\","
			 "\"labels\":{\"bench\":\"%s\"}},\"spec\":{\"plan\":\"business\"}}",
			 id, load_prefix);
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		if (curl_easy_perform(curl) != CURLE_OK || curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
		    (code != 201 && code != 200)) {
			atomic_fetch_add(&load_errors, 1);
			continue;
		}
		load_timing[i].applied_ms = now_ms();
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return NULL;
}

static json_t *get_json(CURL *curl, const char *url)
{
	struct body b = { NULL, 0 };
	json_t *doc = NULL;

	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(curl) == CURLE_OK && b.data)
		doc = json_loads(b.data, 0, NULL);
	free(b.data);
	return doc;
}

/* True while some workflow is Pending or Running. */
static bool work_remains(CURL *curl)
{
	static const char *const states[] = { "Pending", "Running" };
	char url[512];

	for (size_t i = 0; i < 2; i++) {
		json_t *doc;
		bool some;
		snprintf(url, sizeof(url), "%s/v1/workflows?state=%s&limit=1", load_url, states[i]);
		doc = get_json(curl, url);
		some = doc == NULL || json_array_size(json_object_get(doc, "items")) > 0;
		json_decref(doc);
		if (some)
			return true;
	}
	return false;
}

/* Stamp every tenant of this run with the time its workflow succeeded. */
static void read_succeeded(CURL *curl)
{
	char url[768], cursor[64] = "";
	size_t plen = strlen(load_prefix);

	for (;;) {
		json_t *doc, *item;
		const char *next;
		size_t k;

		snprintf(url, sizeof(url), "%s/v1/workflows?state=Succeeded&limit=1000%s%s", load_url,
			 cursor[0] ? "&cursor=" : "", cursor);
		doc = get_json(curl, url);
		json_array_foreach(json_object_get(doc, "items"), k, item) {
			const char *id = json_string_value(json_object_get(item, "tenantId"));
			if (id && strncmp(id, load_prefix, plen) == 0 && id[plen] == '-') {
				int n = atoi(id + plen + 1);
				if (n >= 0 && n < load_tenants && load_timing[n].active_ms == 0) {
					load_timing[n].active_ms =
						parse_time_ms(json_string_value(json_object_get(item, "updatedAt")));
					atomic_fetch_add(&load_active, 1);
				}
			}
		}
		next = json_string_value(json_object_get(doc, "nextCursor"));
		if (next)
			snprintf(cursor, sizeof(cursor), "%s", next);
		json_decref(doc);
		if (next == NULL)
			return;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "url", required_argument, NULL, 'u' },      { "token-file", required_argument, NULL, 't' },
		{ "tenants", required_argument, NULL, 'n' },  { "clients", required_argument, NULL, 'c' },
		{ "prefix", required_argument, NULL, 'p' },   { "poll-ms", required_argument, NULL, 'P' },
		{ "timeout-s", required_argument, NULL, 'T' }, { NULL, 0, NULL, 0 },
	};
	const char *token_file = NULL;
	pthread_t *threads;
	char token[128] = "";
	double start, first_applied = 0, last_active = 0, *latencies;
	int opt, n_lat = 0;
	struct curl_slist *headers = NULL;
	CURL *poller;
	FILE *f;

	while ((opt = getopt_long(argc, argv, "u:t:n:c:p:P:T:", options, NULL)) != -1) {
		switch (opt) {
		case 'u': load_url = optarg; break;
		case 't': token_file = optarg; break;
		case 'n': load_tenants = atoi(optarg); break;
		case 'c': load_clients = atoi(optarg); break;
		case 'p': load_prefix = optarg; break;
		case 'P': load_poll_ms = atoi(optarg); break;
		case 'T': load_timeout_s = atoi(optarg); break;
		default: return 2;
		}
	}
	if (load_url == NULL || token_file == NULL || load_tenants < 1 || load_clients < 1) {
		fprintf(stderr, "usage: reconcile_load --url URL --token-file FILE [--tenants N] [--clients N]\n");
		return 2;
	}
	f = fopen(token_file, "r");
	if (f == NULL || fgets(token, sizeof(token), f) == NULL) {
		perror(token_file);
		return 1;
	}
	fclose(f);
	token[strcspn(token, "\n")] = '\0';
	snprintf(load_auth, sizeof(load_auth), "Authorization: Bearer %s", token);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	load_timing = calloc((size_t)load_tenants, sizeof(*load_timing));
	threads = calloc((size_t)load_clients, sizeof(*threads));

	poller = curl_easy_init();
	headers = curl_slist_append(headers, load_auth);
	curl_easy_setopt(poller, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(poller, CURLOPT_WRITEFUNCTION, collect);

	start = now_ms();
	for (int i = 0; i < load_clients; i++)
		pthread_create(&threads[i], NULL, apply_main, NULL);
	for (int i = 0; i < load_clients; i++)
		pthread_join(threads[i], NULL);
	while (now_ms() - start < load_timeout_s * 1000.0) {
		struct timespec pause = { 0, load_poll_ms * 1000000L };
		if (!work_remains(poller))
			break;
		nanosleep(&pause, NULL);
	}
	read_succeeded(poller);

	latencies = calloc((size_t)load_tenants, sizeof(double));
	for (int i = 0; i < load_tenants; i++) {
		if (load_timing[i].applied_ms == 0 || load_timing[i].active_ms == 0)
			continue;
		if (first_applied == 0 || load_timing[i].applied_ms < first_applied)
			first_applied = load_timing[i].applied_ms;
		if (load_timing[i].active_ms > last_active)
			last_active = load_timing[i].active_ms;
		/* a tenant seen Active before its PUT returned counts as 0 ms */
		latencies[n_lat++] = load_timing[i].active_ms > load_timing[i].applied_ms
					     ? load_timing[i].active_ms - load_timing[i].applied_ms
					     : 0;
	}
	qsort(latencies, (size_t)n_lat, sizeof(double), cmp_double);
	printf("tenants %d\n", load_tenants);
	printf("active %d\n", n_lat);
	printf("errors %d\n", atomic_load(&load_errors));
	printf("tenants_per_s %.1f\n", n_lat && last_active > start ? n_lat / ((last_active - start) / 1000.0) : 0.0);
	printf("apply_to_active_p50_ms %.1f\n", n_lat ? latencies[n_lat / 2] : 0.0);
	printf("apply_to_active_p99_ms %.1f\n", n_lat ? latencies[(int)(n_lat * 0.99)] : 0.0);
	curl_slist_free_all(headers);
	curl_easy_cleanup(poller);
	free(latencies);
	free(threads);
	free(load_timing);
	curl_global_cleanup();
	return n_lat == load_tenants ? 0 : 1;
}
