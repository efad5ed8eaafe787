/*
 * metrics.h — in-process counters, gauges and histograms, rendered in the
 * Prometheus text exposition format.  Cheap enough for hot paths: one
 * mutex-protected lookup per update.
 */
#ifndef TND_METRICS_H
#define TND_METRICS_H

#include <stdint.h>

#include <tenancyd/plugin.h>

/** @labels is NULL or `k="v",k2="v2"` (values already escaped). */
void metrics_counter_add(const char *name, const char *help, const char *labels, uint64_t delta);
void metrics_gauge_set(const char *name, const char *help, const char *labels, double value);
/** Observe @value seconds in a histogram with the default latency buckets. */
void metrics_observe(const char *name, const char *help, const char *labels, double value);
/** Current value of a counter (tests, /readyz). */
uint64_t metrics_counter_get(const char *name, const char *labels);
/** Render everything in the Prometheus text format into @out. */
void metrics_render(struct tnd_buf *out);
/** Forget every series (tests). */
void metrics_reset(void);

#endif /* TND_METRICS_H */
