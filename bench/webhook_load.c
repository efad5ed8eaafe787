/*
 * webhook_load.c — webhook deliveries per second through the built
 * webhook.so (dlopen, host_new, deliver(): resolve + SSRF check + sign +
 * pooled keep-alive POST + result JSON) beside its ceiling, a plain
 * libcurl keep-alive POST loop with one easy handle per thread, both
 * against the same in-process libmicrohttpd sink answering 204.
 *
 *   webhook_load [--threads N] [--seconds S] [--mode plugin|curl|both]
 *
 * Prints deliveries/s and p50/p99 latency for each mode and their ratio.
 * Run from the build directory (it loads plugins/webhook/.libs/webhook.so).
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include <tenancyd/host.h>
#include <tenancyd/notifier.h>

#include "host.h"

#define LOAD_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define LOAD_MAX_SAMPLES 2000000

struct load_run {
	const char *mode;
	int threads;
	double seconds;
	unsigned port;
	/* plugin mode */
	const struct tnd_plugin *desc;
	const struct tnd_notifier_ops *ops;
	void *ctx;
	/* results */
	atomic_long done;
	atomic_long failed;
	double *latencies_ms;
	atomic_long n_latencies;
};

static const char load_event[] =
	"{\"specversion\":\"1.0\",\"id\":\"evt\",\"source\":\"tenancyd://bench\",\"type\":\"tenancy.tenant.suspended\","
	"\"subject\":\"acme-corp\",\"time\":\"2026-11-28T14:00:00Z\",\"sequence\":\"00000000000000000042\","
	"\"data\":{\"tenantId\":\"acme-corp\",\"previousState\":\"active\",\"newState\":\"suspended\",\"version\":3}}";

static double load_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the sink -------------------------------------------------------------------------------- */

static atomic_long load_connections; /* opened since the last measure: keep-alive at work? */

static void load_sink_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
				 enum MHD_ConnectionNotificationCode code)
{
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&load_connections, 1);
}

static enum MHD_Result load_sink_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
					const char *version, const char *upload_data, size_t *upload_data_size,
					void **con_cls)
{
	static int started;
	struct MHD_Response *resp;
	enum MHD_Result r;

	if (*con_cls == NULL) {
		*con_cls = &started;
		return MHD_YES;
	}
	if (*upload_data_size > 0) { /* consume the body */
		*upload_data_size = 0;
		return MHD_YES;
	}
	resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	r = MHD_queue_response(conn, 204, resp);
	MHD_destroy_response(resp);
	return r;
}

/* --- the two clients --------------------------------------------------------------------------- */

static void load_record(struct load_run *run, double started)
{
	long i = atomic_fetch_add(&run->n_latencies, 1);

	if (i < LOAD_MAX_SAMPLES)
		run->latencies_ms[i] = (load_now() - started) * 1000.0;
}

static size_t load_discard(char *data, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

static void *load_curl_thread(void *opaque)
{
	struct load_run *run = opaque;
	CURL *h = curl_easy_init();
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/cloudevents+json");
	char url[64];
	double end = load_now() + run->seconds;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", run->port);
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, load_event);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, load_discard);
	while (load_now() < end) {
		double started = load_now();
		long status = 0;

		if (curl_easy_perform(h) == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
		    status == 204)
			atomic_fetch_add(&run->done, 1);
		else
			atomic_fetch_add(&run->failed, 1);
		load_record(run, started);
	}
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	return NULL;
}

static void *load_plugin_thread(void *opaque)
{
	struct load_run *run = opaque;
	char url[64];
	json_t *delivery;
	double end = load_now() + run->seconds;
	long n = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", run->port);
	delivery = json_pack("{s:o, s:{s:s, s:s, s:s}, s:i}", "event", json_loads(load_event, 0, NULL), "subscription",
			     "id", "bench", "url", url, "secret", LOAD_SECRET, "attempt", 1);
	while (load_now() < end) {
		struct tnd_buf out = { 0 };
		struct tnd_error err = { "" };
		double started = load_now();
		char id[32];

		/* a fresh event id each time, as the dispatcher would send */
		snprintf(id, sizeof(id), "evt-%p-%ld", (void *)&n, n++);
		json_object_set_new(json_object_get(delivery, "event"), "id", json_string(id));
		if (run->ops->deliver(run->ctx, host_json(delivery), &out, &err) == 0 && out.data != NULL &&
		    strstr(out.data, "\"status\":204") != NULL)
			atomic_fetch_add(&run->done, 1);
		else
			atomic_fetch_add(&run->failed, 1);
		load_record(run, started);
		free(out.data);
	}
	json_decref(delivery);
	return NULL;
}

static int load_compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double load_measure(struct load_run *run)
{
	pthread_t *threads = calloc((size_t)run->threads, sizeof(*threads));
	double started = load_now(), elapsed, rate;
	long n;

	atomic_store(&run->done, 0);
	atomic_store(&run->failed, 0);
	atomic_store(&run->n_latencies, 0);
	atomic_store(&load_connections, 0);
	for (int t = 0; t < run->threads; t++)
		pthread_create(&threads[t], NULL, strcmp(run->mode, "curl") == 0 ? load_curl_thread : load_plugin_thread,
			       run);
	for (int t = 0; t < run->threads; t++)
		pthread_join(threads[t], NULL);
	elapsed = load_now() - started;
	free(threads);
	n = atomic_load(&run->n_latencies);
	if (n > LOAD_MAX_SAMPLES)
		n = LOAD_MAX_SAMPLES;
	qsort(run->latencies_ms, (size_t)n, sizeof(double), load_compare);
	rate = (double)atomic_load(&run->done) / elapsed;
	printf("%-7s threads=%d  %9.0f deliveries/s  p50 %.3f ms  p99 %.3f ms  (%ld ok, %ld failed, %ld connections)\n",
	       run->mode, run->threads, rate, n ? run->latencies_ms[n / 2] : 0.0,
	       n ? run->latencies_ms[(n * 99) / 100] : 0.0, (long)atomic_load(&run->done), (long)atomic_load(&run->failed),
	       (long)atomic_load(&load_connections));
	return rate;
}

static int load_plugin_open(struct load_run *run, struct tnd_host **ret_host, void **ret_dl)
{
	void *dl = dlopen("plugins/webhook/.libs/webhook.so", RTLD_NOW | RTLD_LOCAL);
	struct tnd_error err = { "" };
	json_t *settings;
	int r;

	if (dl == NULL) {
		fprintf(stderr, "webhook_load: %s (run from the build directory)\n", dlerror());
		return -1;
	}
	run->desc = dlsym(dl, TND_PLUGIN_SYMBOL);
	run->ops = run->desc->ops;
	*ret_host = host_new("webhook", "/tmp");
	settings = json_pack("{s:b, s:i}", "allow_loopback", 1, "pool_size", run->threads);
	r = run->desc->init(*ret_host, host_json(settings), &run->ctx, &err);
	json_decref(settings);
	if (r < 0) {
		fprintf(stderr, "webhook_load: init: %s\n", err.message);
		return -1;
	}
	*ret_dl = dl;
	return 0;
}

int main(int argc, char **argv)
{
	struct load_run run = { .mode = "both", .threads = 1, .seconds = 5 };
	struct sockaddr_in loopback = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct tnd_host *host = NULL;
	struct MHD_Daemon *sink;
	void *dl = NULL;
	double plugin_rate = 0, curl_rate = 0;
	const char *mode = "both";

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--threads") == 0)
			run.threads = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--seconds") == 0)
			run.seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--mode") == 0)
			mode = argv[i + 1];
	}
	if (run.threads < 1 || run.seconds <= 0) {
		fprintf(stderr, "usage: webhook_load [--threads N] [--seconds S] [--mode plugin|curl|both]\n");
		return 2;
	}
	run.latencies_ms = calloc(LOAD_MAX_SAMPLES, sizeof(double));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	sink = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0, NULL,
				NULL, load_sink_access, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&loopback,
				MHD_OPTION_NOTIFY_CONNECTION, load_sink_connection, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
				MHD_OPTION_END);
	if (sink == NULL) {
		fprintf(stderr, "webhook_load: cannot start the sink\n");
		return 1;
	}
	run.port = MHD_get_daemon_info(sink, MHD_DAEMON_INFO_BIND_PORT)->port;
	if (strcmp(mode, "curl") != 0) {
		if (load_plugin_open(&run, &host, &dl) < 0)
			return 1;
		run.mode = "plugin";
		plugin_rate = load_measure(&run);
	}
	if (strcmp(mode, "plugin") != 0) {
		run.mode = "curl";
		curl_rate = load_measure(&run);
	}
	if (plugin_rate > 0 && curl_rate > 0)
		printf("ratio plugin/curl: %.2f\n", plugin_rate / curl_rate);
	if (run.ctx != NULL)
		run.desc->fini(run.ctx);
	host_free(host);
	if (dl != NULL)
		dlclose(dl);
	MHD_stop_daemon(sink);
	curl_global_cleanup();
	free(run.latencies_ms);
	return 0;
}
