/*
 * ratelimit_cost.c — what the API's rate limiter costs per request, and
 * that it takes no global lock: ns per ratelimit_take() with one thread on
 * one hot bucket and on 10000 tenants' buckets, then with THREADS threads
 * on distinct tenants, once on the sharded table (the daemon's default of
 * 64 shards) and once on a table of one shard, i.e. one global lock.  The
 * single-lock figure is the ceiling the sharding is meant to beat.
 *
 *   bench/ratelimit_cost [--seconds N] [--threads N]
 *
 * Prints "key value" lines (bench/run reads them).
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ratelimit.h"

#define BENCH_TENANTS 10000

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench_thread {
	struct ratelimit *rl;
	unsigned id;
	double seconds;
	uint64_t ops;
	pthread_t thread;
};

/* Distinct tenants per thread, as many concurrent clients of different
 * tenants would be; a quota no one exhausts, so every call does full work. */
static void *bench_worker(void *p)
{
	struct bench_thread *t = p;
	static const struct ratelimit_limit limit = { 1000000, 1 };
	char keys[64][48];
	double end = bench_now() + t->seconds;
	uint64_t ops = 0;

	for (unsigned i = 0; i < 64; i++)
		snprintf(keys[i], sizeof(keys[i]), "tenant\x1f" "t%u-%u\x1fr", t->id, i);
	while (bench_now() < end)
		for (unsigned i = 0; i < 1024; i++) {
			struct ratelimit_verdict v;

			ratelimit_take(t->rl, keys[i & 63], limit, &v);
			ops++;
		}
	t->ops = ops;
	return NULL;
}

/* ns per check, all threads together (wall time / total checks). */
static double bench_threads(unsigned shards, unsigned n, double seconds)
{
	struct ratelimit *rl = ratelimit_new(shards, 100000, NULL, NULL);
	struct bench_thread *threads = calloc(n, sizeof(*threads));
	uint64_t total = 0;
	double start = bench_now(), elapsed;

	for (unsigned i = 0; i < n; i++) {
		threads[i] = (struct bench_thread){ .rl = rl, .id = i, .seconds = seconds };
		pthread_create(&threads[i].thread, NULL, bench_worker, &threads[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(threads[i].thread, NULL);
		total += threads[i].ops;
	}
	elapsed = bench_now() - start;
	free(threads);
	ratelimit_free(rl);
	return elapsed * 1e9 / (double)total;
}

/* ns per check on one thread, cycling through BENCH_TENANTS buckets (the
 * table's memory, not one hot cache line). */
static double bench_many_tenants(double seconds)
{
	struct ratelimit *rl = ratelimit_new(64, 100000, NULL, NULL);
	static const struct ratelimit_limit limit = { 1000000, 1 };
	char (*keys)[48] = calloc(BENCH_TENANTS, sizeof(*keys));
	uint64_t ops = 0;
	double start, end;

	for (unsigned i = 0; i < BENCH_TENANTS; i++)
		snprintf(keys[i], sizeof(keys[i]), "tenant\x1f" "tenant-%u\x1fr", i);
	start = bench_now();
	end = start + seconds;
	while (bench_now() < end)
		for (unsigned i = 0; i < 1024; i++) {
			struct ratelimit_verdict v;

			ratelimit_take(rl, keys[ops % BENCH_TENANTS], limit, &v);
			ops++;
		}
	end = bench_now();
	free(keys);
	ratelimit_free(rl);
	return (end - start) * 1e9 / (double)ops;
}

int main(int argc, char **argv)
{
	double seconds = 2;
	unsigned threads = 4;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--threads") == 0)
			threads = (unsigned)atoi(argv[i + 1]);
	}
	printf("ns_per_check_1thread_64keys %.1f\n", bench_threads(64, 1, seconds));
	printf("ns_per_check_1thread_%ukeys %.1f\n", BENCH_TENANTS, bench_many_tenants(seconds));
	printf("ns_per_check_%uthreads_64shards %.1f\n", threads, bench_threads(64, threads, seconds));
	printf("ns_per_check_%uthreads_1shard %.1f\n", threads, bench_threads(1, threads, seconds));
	return 0;
}
