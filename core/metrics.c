/*
 * metrics.c — in-process metric series and their Prometheus text rendering.
 *
 * Series live in a fixed hash table keyed by (name, labels); families keep
 * each name's HELP text and type.  One mutex guards both: updates are a
 * hash lookup and an add, far below the cost of the work being measured.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "metrics.h"
#include "util.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

static const double metrics_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
					  0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
#define METRICS_NBUCKETS TND_ARRAY_SIZE(metrics_buckets)
#define METRICS_TABLE 512

struct metric_series {
	struct metric_series *next;       /* hash chain */
	struct metric_series *order_next; /* insertion order, for stable output */
	char *name;
	char *labels;
	char *help;
	enum metric_type type;
	uint64_t counter;
	double gauge;
	uint64_t bucket_counts[METRICS_NBUCKETS];
	uint64_t count;
	double sum;
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric_series *metrics_table[METRICS_TABLE];
static struct metric_series *metrics_first, *metrics_last;

static unsigned metrics_hash(const char *name, const char *labels)
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ '{') * 16777619u;
	for (const char *p = labels ? labels : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % METRICS_TABLE;
}

/* Called with metrics_lock held. */
static struct metric_series *metrics_lookup(const char *name, const char *help, const char *labels,
					    enum metric_type type)
{
	unsigned h = metrics_hash(name, labels);
	struct metric_series *s;

	for (s = metrics_table[h]; s; s = s->next)
		if (strcmp(s->name, name) == 0 && strcmp(s->labels, labels ? labels : "") == 0)
			return s;
	s = tnd_xcalloc(1, sizeof(*s));
	s->name = tnd_xstrdup(name);
	s->labels = tnd_xstrdup(labels ? labels : "");
	s->help = tnd_xstrdup(help ? help : name);
	s->type = type;
	s->next = metrics_table[h];
	metrics_table[h] = s;
	if (metrics_last)
		metrics_last->order_next = s;
	else
		metrics_first = s;
	metrics_last = s;
	return s;
}

void metrics_counter_add(const char *name, const char *help, const char *labels, uint64_t delta)
{
	pthread_mutex_lock(&metrics_lock);
	metrics_lookup(name, help, labels, METRIC_COUNTER)->counter += delta;
	pthread_mutex_unlock(&metrics_lock);
}

void metrics_gauge_set(const char *name, const char *help, const char *labels, double value)
{
	pthread_mutex_lock(&metrics_lock);
	metrics_lookup(name, help, labels, METRIC_GAUGE)->gauge = value;
	pthread_mutex_unlock(&metrics_lock);
}

void metrics_observe(const char *name, const char *help, const char *labels, double value)
{
	struct metric_series *s;

	pthread_mutex_lock(&metrics_lock);
	s = metrics_lookup(name, help, labels, METRIC_HISTOGRAM);
	for (size_t i = 0; i < METRICS_NBUCKETS; i++)
		if (value <= metrics_buckets[i])
			s->bucket_counts[i]++;
	s->count++;
	s->sum += value;
	pthread_mutex_unlock(&metrics_lock);
}

uint64_t metrics_counter_get(const char *name, const char *labels)
{
	unsigned h = metrics_hash(name, labels);
	uint64_t v = 0;

	pthread_mutex_lock(&metrics_lock);
	for (struct metric_series *s = metrics_table[h]; s; s = s->next)
		if (strcmp(s->name, name) == 0 && strcmp(s->labels, labels ? labels : "") == 0)
			v = s->counter;
	pthread_mutex_unlock(&metrics_lock);
	return v;
}

static void metrics_render_labels(struct tnd_buf *out, const char *labels, const char *extra)
{
	bool have = labels && *labels;

	if (!have && !extra)
		return;
	tnd_buf_addf(out, "{%s%s%s}", have ? labels : "", have && extra ? "," : "", extra ? extra : "");
}

void metrics_render(struct tnd_buf *out)
{
	static const char *const type_names[] = { "counter", "gauge", "histogram" };

	pthread_mutex_lock(&metrics_lock);
	for (struct metric_series *s = metrics_first; s; s = s->order_next) {
		bool first = true;
		/* HELP/TYPE once per family: only when no earlier series had this name */
		for (struct metric_series *p = metrics_first; p != s; p = p->order_next)
			if (strcmp(p->name, s->name) == 0) {
				first = false;
				break;
			}
		if (first)
			tnd_buf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", s->name, s->help, s->name,
				     type_names[s->type]);
		switch (s->type) {
		case METRIC_COUNTER:
			tnd_buf_addf(out, "%s", s->name);
			metrics_render_labels(out, s->labels, NULL);
			tnd_buf_addf(out, " %llu\n", (unsigned long long)s->counter);
			break;
		case METRIC_GAUGE:
			tnd_buf_addf(out, "%s", s->name);
			metrics_render_labels(out, s->labels, NULL);
			tnd_buf_addf(out, " %.17g\n", s->gauge);
			break;
		case METRIC_HISTOGRAM:
			for (size_t i = 0; i < METRICS_NBUCKETS; i++) {
				char le[48];
				snprintf(le, sizeof(le), "le=\"%g\"", metrics_buckets[i]);
				tnd_buf_addf(out, "%s_bucket", s->name);
				metrics_render_labels(out, s->labels, le);
				tnd_buf_addf(out, " %llu\n", (unsigned long long)s->bucket_counts[i]);
			}
			tnd_buf_addf(out, "%s_bucket", s->name);
			metrics_render_labels(out, s->labels, "le=\"+Inf\"");
			tnd_buf_addf(out, " %llu\n%s_sum", (unsigned long long)s->count, s->name);
			metrics_render_labels(out, s->labels, NULL);
			tnd_buf_addf(out, " %.17g\n%s_count", s->sum, s->name);
			metrics_render_labels(out, s->labels, NULL);
			tnd_buf_addf(out, " %llu\n", (unsigned long long)s->count);
			break;
		}
	}
	pthread_mutex_unlock(&metrics_lock);
}

void metrics_reset(void)
{
	pthread_mutex_lock(&metrics_lock);
	for (struct metric_series *s = metrics_first, *n; s; s = n) {
		n = s->order_next;
		free(s->name);
		free(s->labels);
		free(s->help);
		free(s);
	}
	memset(metrics_table, 0, sizeof(metrics_table));
	metrics_first = metrics_last = NULL;
	pthread_mutex_unlock(&metrics_lock);
}
