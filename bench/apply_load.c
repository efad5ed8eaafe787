/*
 * apply_load.c — the durable-applies benchmark client: N concurrent clients
 * (threads, one keep-alive connection each) apply distinct tenants through
 * PUT /v1/tenants/{id} and report throughput and latency percentiles.
 *
 *   apply_load --url URL --token-file FILE [--clients 32] [--count 4000] [--prefix b]
 *
 * Prints "key value" lines: applies_per_s, p50_ms, p99_ms, errors.
 */
#include "autoconfig.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct load_client {
	pthread_t thread;
	int index;
	int count;
	double *latencies_ms;
	int done;
	int errors;
};

static const char *load_url;
static char load_auth[256];
static const char *load_prefix = "b";
static int load_clients = 32;

static double load_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static size_t load_discard(char *data, size_t size, size_t n, void *userdata)
{
	(void)data;
	(void)userdata;
	return size * n;
}

static void *load_run(void *arg)
{
	struct load_client *c = arg;
	CURL *curl = curl_easy_init();
	struct curl_slist *headers = NULL;
	char url[512], body[512], id[64];

	headers = curl_slist_append(headers, load_auth);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, load_discard);
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	for (int i = 0; i < c->count; i++) {
		long code = 0;
		double start;

		snprintf(id, sizeof(id), "%s-%d-%d", load_prefix, c->index, i);
		snprintf(url, sizeof(url), "%s/v1/tenants/%s", load_url, id);
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"%s\","
			 "\"labels\":{\"bench\":\"apply\"}},\"spec\":{\"plan\":\"business\"}}",
			 id);
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		start = load_now_ms();
		if (curl_easy_perform(curl) != CURLE_OK ||
		    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || (code != 201 && code != 200)) {
			c->errors++;
			continue;
		}
		c->latencies_ms[c->done++] = load_now_ms() - start;
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	return NULL;
}

static int load_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "url", required_argument, NULL, 'u' },     { "token-file", required_argument, NULL, 't' },
		{ "clients", required_argument, NULL, 'c' }, { "count", required_argument, NULL, 'n' },
		{ "prefix", required_argument, NULL, 'p' },  { NULL, 0, NULL, 0 },
	};
	const char *token_file = NULL;
	int count = 4000, opt, total = 0, errors = 0;
	struct load_client *clients;
	double *all, start, elapsed_ms;
	char token[128] = "";
	FILE *f;

	while ((opt = getopt_long(argc, argv, "u:t:c:n:p:", options, NULL)) != -1) {
		switch (opt) {
		case 'u': load_url = optarg; break;
		case 't': token_file = optarg; break;
		case 'c': load_clients = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		case 'p': load_prefix = optarg; break;
		default: return 2;
		}
	}
	if (load_url == NULL || token_file == NULL || load_clients < 1 || count < load_clients) {
		fprintf(stderr, "usage: apply_load --url URL --token-file FILE [--clients N] [--count N] [--prefix P]\n");
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
	clients = calloc((size_t)load_clients, sizeof(*clients));
	start = load_now_ms();
	for (int i = 0; i < load_clients; i++) {
		clients[i].index = i;
		clients[i].count = count / load_clients;
		clients[i].latencies_ms = calloc((size_t)clients[i].count, sizeof(double));
		pthread_create(&clients[i].thread, NULL, load_run, &clients[i]);
	}
	for (int i = 0; i < load_clients; i++) {
		pthread_join(clients[i].thread, NULL);
		total += clients[i].done;
		errors += clients[i].errors;
	}
	elapsed_ms = load_now_ms() - start;
	all = calloc((size_t)total + 1, sizeof(double));
	for (int i = 0, k = 0; i < load_clients; i++)
		for (int j = 0; j < clients[i].done; j++)
			all[k++] = clients[i].latencies_ms[j];
	qsort(all, (size_t)total, sizeof(double), load_cmp);
	printf("applies %d\n", total);
	printf("errors %d\n", errors);
	printf("applies_per_s %.1f\n", total / (elapsed_ms / 1000.0));
	printf("p50_ms %.2f\n", total ? all[total / 2] : 0.0);
	printf("p99_ms %.2f\n", total ? all[(int)(total * 0.99)] : 0.0);
	for (int i = 0; i < load_clients; i++)
		free(clients[i].latencies_ms);
	free(clients);
	free(all);
	curl_global_cleanup();
	return errors ? 1 : 0;
}
