/*
 * ratelimit.h — the bucket table behind the API's rate limits: one
 * token bucket per key ("tenant t1, writes", "token ci"), kept as a GCRA
 * theoretical arrival time, in a table split into independently locked
 * shards, with idle buckets evicted so memory stays bounded.
 *
 * The table knows nothing of HTTP, tenants or plans: a caller names a key
 * and the limit that applies to it on this call (limits come from the
 * config snapshot of the request, so a reload changes them at once without
 * touching the table).  The table also remembers short-lived string values
 * ("memos", e.g. a tenant's plan) in the same shards, so the API can avoid
 * a registry read per request.  The clock is injectable for tests.
 */
#ifndef TND_RATELIMIT_H
#define TND_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/** Monotonic nanoseconds; @userdata as given to ratelimit_new(). */
typedef int64_t ratelimit_clock_fn(void *userdata);

/** @quota requests per @window_s seconds, all of which may come at once
 *  (the burst is the quota).  @quota 0: unlimited, nothing is tracked. */
struct ratelimit_limit {
	uint32_t quota;
	uint32_t window_s;
};

/** What one ratelimit_take() decided. */
struct ratelimit_verdict {
	bool allowed;
	uint32_t remaining;       /* requests still admitted now, after this one */
	uint32_t reset_s;         /* seconds until the bucket is full again (rounded up) */
	uint32_t retry_after_s;   /* refused: seconds until one request is admitted (>= 1) */
};

#define RATELIMIT_QUOTA_MAX 1000000u
#define RATELIMIT_WINDOW_MAX 86400u
#define RATELIMIT_MEMO_MAX 128

/**
 * A table of at most @max_entries buckets and memos spread over @n_shards
 * shards (rounded up to a power of two, at least 1).  @clock NULL: the
 * monotonic clock.
 */
struct ratelimit *ratelimit_new(unsigned n_shards, size_t max_entries, ratelimit_clock_fn *clock,
				void *clock_userdata);
/** Accepts NULL. */
void ratelimit_free(struct ratelimit *rl);

/**
 * Charge one request to bucket @key under @limit.  Always fills *@ret; a
 * refused request charges nothing.  An unlimited @limit admits without
 * touching the table (remaining and reset are 0).
 */
void ratelimit_take(struct ratelimit *rl, const char *key, struct ratelimit_limit limit,
		    struct ratelimit_verdict *ret);
/** Give back one request taken from @key under @limit (a later bucket of the
 *  same request refused it).  Never makes the bucket fuller than idle. */
void ratelimit_refund(struct ratelimit *rl, const char *key, struct ratelimit_limit limit);

/** The memo @key if set and younger than its ttl: copied to @buf, true. */
bool ratelimit_memo_get(struct ratelimit *rl, const char *key, char *buf, size_t cap);
/** Remember @value (at most RATELIMIT_MEMO_MAX - 1 bytes kept) for @ttl_s seconds. */
void ratelimit_memo_set(struct ratelimit *rl, const char *key, const char *value, uint32_t ttl_s);

/** Drop every bucket that is full again and every expired memo: they hold no
 *  state a fresh entry would not.  Returns how many were dropped. */
size_t ratelimit_evict_idle(struct ratelimit *rl);
/** Entries (buckets and memos) held now. */
size_t ratelimit_size(struct ratelimit *rl);
/** How many entries were evicted while still in use because the table was full. */
uint64_t ratelimit_forced_evictions(struct ratelimit *rl);
unsigned ratelimit_shard_count(const struct ratelimit *rl);
/** The shard @key lives in (tests show shards are independent). */
unsigned ratelimit_shard_of(const struct ratelimit *rl, const char *key);

#endif /* TND_RATELIMIT_H */
