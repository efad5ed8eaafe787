/*
 * ratelimit.c — the rate-limit bucket table (see ratelimit.h).
 *
 * Locking: there is no global lock.  The table is split into a power of
 * two of shards, each a small chained hash table behind its own mutex; a
 * key's hash picks its shard, so requests for different tenants or tokens
 * contend only when they hash into the same shard, and then for a few
 * dozen nanoseconds.  Nothing else is shared between shards (the entry
 * count is per shard), and shards are cache-line aligned.
 *
 * Buckets are GCRA (the "generic cell rate algorithm", a token bucket kept
 * as one timestamp): with T = window / quota, a bucket's theoretical
 * arrival time (tat) moves T forward per admitted request, and a request
 * is admitted while tat - now stays within the window.  A bucket whose tat
 * is in the past is full; it carries no information a new bucket would
 * not, so evicting it is free.  When a bucket's limit changes, the requests
 * it has counted carry over (so raising a limit gives room at once and
 * lowering it takes room away at once).  Shards sweep such entries when they fill
 * up and at least every RATELIMIT_SWEEP_NS; if a shard is full of busy
 * buckets, the one closest to full is dropped (and counted), so memory is
 * bounded by max_entries whatever the number of tenants.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ratelimit.h"
#include "util.h"

#define RATELIMIT_NS 1000000000LL
#define RATELIMIT_SWEEP_NS (10 * RATELIMIT_NS)
#define RATELIMIT_MIN_PER_SHARD 8u

struct ratelimit_entry {
	struct ratelimit_entry *next;
	uint64_t hash;
	int64_t until_ns;     /* bucket: its tat; memo: when it expires */
	int64_t step_ns;      /* bucket: the window / quota its tat was counted in */
	bool memo;
	char *value;          /* memo: RATELIMIT_MEMO_MAX bytes after the key */
	char key[];
};

struct ratelimit_shard {
	alignas(64) pthread_mutex_t lock;
	struct ratelimit_entry **heads;
	size_t n_heads;           /* a power of two */
	size_t count;
	size_t capacity;
	int64_t last_sweep_ns;
	uint64_t forced;
};

struct ratelimit {
	struct ratelimit_shard *shards;
	unsigned n_shards;        /* a power of two */
	ratelimit_clock_fn *clock;
	void *clock_userdata;
};

static int64_t ratelimit_monotonic_ns(void *userdata)
{
	struct timespec ts;

	(void)userdata;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * RATELIMIT_NS + ts.tv_nsec;
}

/* FNV-1a: keys are short, and the shard and chain come from one hash. */
static uint64_t ratelimit_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static size_t ratelimit_pow2(size_t n)
{
	size_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

struct ratelimit *ratelimit_new(unsigned n_shards, size_t max_entries, ratelimit_clock_fn *clock,
				void *clock_userdata)
{
	struct ratelimit *rl = tnd_xcalloc(1, sizeof(*rl));
	size_t per_shard;

	rl->n_shards = (unsigned)ratelimit_pow2(n_shards ? n_shards : 1);
	rl->clock = clock ? clock : ratelimit_monotonic_ns;
	rl->clock_userdata = clock_userdata;
	per_shard = max_entries / rl->n_shards;
	if (per_shard < RATELIMIT_MIN_PER_SHARD)
		per_shard = RATELIMIT_MIN_PER_SHARD;
	/* one cache line (at least) per shard: neighbours never share a line */
	rl->shards = aligned_alloc(64, rl->n_shards * sizeof(*rl->shards));
	if (rl->shards == NULL)
		abort();
	memset(rl->shards, 0, rl->n_shards * sizeof(*rl->shards));
	for (unsigned i = 0; i < rl->n_shards; i++) {
		struct ratelimit_shard *shard = &rl->shards[i];

		pthread_mutex_init(&shard->lock, NULL);
		shard->capacity = per_shard;
		/* chains of about two entries when the shard is full */
		shard->n_heads = ratelimit_pow2(per_shard / 2 + 1);
		shard->heads = tnd_xcalloc(shard->n_heads, sizeof(*shard->heads));
	}
	return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	for (unsigned i = 0; i < rl->n_shards; i++) {
		struct ratelimit_shard *shard = &rl->shards[i];

		for (size_t h = 0; h < shard->n_heads; h++)
			for (struct ratelimit_entry *e = shard->heads[h], *next; e; e = next) {
				next = e->next;
				free(e);
			}
		free(shard->heads);
		pthread_mutex_destroy(&shard->lock);
	}
	free(rl->shards);
	free(rl);
}

static struct ratelimit_shard *ratelimit_shard(const struct ratelimit *rl, uint64_t hash)
{
	return &rl->shards[(hash >> 40) & (rl->n_shards - 1)];
}

unsigned ratelimit_shard_count(const struct ratelimit *rl)
{
	return rl->n_shards;
}

unsigned ratelimit_shard_of(const struct ratelimit *rl, const char *key)
{
	return (unsigned)(ratelimit_shard(rl, ratelimit_hash(key)) - rl->shards);
}

/* Shard locked by the caller. */
static struct ratelimit_entry **ratelimit_find(struct ratelimit_shard *shard, uint64_t hash, const char *key,
					       bool memo)
{
	struct ratelimit_entry **link = &shard->heads[hash & (shard->n_heads - 1)];

	for (; *link; link = &(*link)->next)
		if ((*link)->hash == hash && (*link)->memo == memo && strcmp((*link)->key, key) == 0)
			return link;
	return link;
}

/* Drop the entries that are idle at @now_ns; shard locked. */
static size_t ratelimit_sweep(struct ratelimit_shard *shard, int64_t now_ns)
{
	size_t dropped = 0;

	for (size_t h = 0; h < shard->n_heads; h++) {
		struct ratelimit_entry **link = &shard->heads[h];

		while (*link) {
			struct ratelimit_entry *e = *link;

			if (e->until_ns <= now_ns) {
				*link = e->next;
				free(e);
				dropped++;
			} else {
				link = &e->next;
			}
		}
	}
	shard->count -= dropped;
	shard->last_sweep_ns = now_ns;
	return dropped;
}

/* The shard is full of busy entries: drop the one that expires first. */
static void ratelimit_drop_oldest(struct ratelimit_shard *shard)
{
	struct ratelimit_entry **victim = NULL;

	for (size_t h = 0; h < shard->n_heads; h++)
		for (struct ratelimit_entry **link = &shard->heads[h]; *link; link = &(*link)->next)
			if (victim == NULL || (*link)->until_ns < (*victim)->until_ns)
				victim = link;
	if (victim) {
		struct ratelimit_entry *e = *victim;

		*victim = e->next;
		free(e);
		shard->count--;
		shard->forced++;
	}
}

/* Make room for one entry and insert it; shard locked. */
static struct ratelimit_entry *ratelimit_insert(struct ratelimit_shard *shard, uint64_t hash, const char *key,
						bool memo, int64_t now_ns)
{
	size_t key_len = strlen(key);
	struct ratelimit_entry *e;
	size_t head;

	if (shard->count >= shard->capacity || now_ns - shard->last_sweep_ns >= RATELIMIT_SWEEP_NS)
		ratelimit_sweep(shard, now_ns);
	if (shard->count >= shard->capacity)
		ratelimit_drop_oldest(shard);
	e = tnd_xcalloc(1, sizeof(*e) + key_len + 1 + (memo ? RATELIMIT_MEMO_MAX : 0));
	e->hash = hash;
	e->memo = memo;
	memcpy(e->key, key, key_len + 1);
	if (memo)
		e->value = e->key + key_len + 1;
	head = hash & (shard->n_heads - 1);
	e->next = shard->heads[head];
	shard->heads[head] = e;
	shard->count++;
	return e;
}

static uint32_t ratelimit_ceil_s(int64_t ns)
{
	if (ns <= 0)
		return 0;
	return (uint32_t)((ns + RATELIMIT_NS - 1) / RATELIMIT_NS);
}

static void ratelimit_intervals(struct ratelimit_limit limit, int64_t *ret_window, int64_t *ret_step)
{
	uint32_t quota = limit.quota > RATELIMIT_QUOTA_MAX ? RATELIMIT_QUOTA_MAX : limit.quota;
	uint32_t window = limit.window_s == 0 ? 1 : limit.window_s > RATELIMIT_WINDOW_MAX ? RATELIMIT_WINDOW_MAX
											      : limit.window_s;

	*ret_window = (int64_t)window * RATELIMIT_NS;
	*ret_step = *ret_window / quota;
	if (*ret_step < 1)
		*ret_step = 1;
}

void ratelimit_take(struct ratelimit *rl, const char *key, struct ratelimit_limit limit,
		    struct ratelimit_verdict *ret)
{
	uint64_t hash = ratelimit_hash(key);
	struct ratelimit_shard *shard = ratelimit_shard(rl, hash);
	struct ratelimit_entry **link, *e;
	int64_t now, window, step, tat, next;

	memset(ret, 0, sizeof(*ret));
	ret->allowed = true;
	if (limit.quota == 0)
		return;
	ratelimit_intervals(limit, &window, &step);
	now = rl->clock(rl->clock_userdata);

	pthread_mutex_lock(&shard->lock);
	link = ratelimit_find(shard, hash, key, false);
	e = *link;
	tat = e && e->until_ns > now ? e->until_ns : now;
	if (e && tat > now && e->step_ns > 0 && e->step_ns != step) {
		/* the limit changed (a reload, an override): the bucket keeps the
		 * number of requests it has counted, not the time they occupy, and
		 * never owes more than one window */
		double used = (double)(tat - now) / (double)e->step_ns;

		tat = now + (int64_t)(used * (double)step);
		if (tat - now > window)
			tat = now + window;
		e->until_ns = tat; /* kept even if this request is refused */
	}
	if (e)
		e->step_ns = step;
	next = tat + step;
	if (next - now > window) {
		/* refused: charge nothing; one request fits once tat - now <= window - step */
		ret->allowed = false;
		ret->remaining = 0;
		ret->reset_s = ratelimit_ceil_s(tat - now);
		ret->retry_after_s = ratelimit_ceil_s(next - window - now);
		if (ret->retry_after_s == 0)
			ret->retry_after_s = 1;
	} else {
		if (e == NULL)
			e = ratelimit_insert(shard, hash, key, false, now);
		e->until_ns = next;
		e->step_ns = step;
		ret->remaining = (uint32_t)((window - (next - now)) / step);
		ret->reset_s = ratelimit_ceil_s(next - now);
	}
	pthread_mutex_unlock(&shard->lock);
}

void ratelimit_refund(struct ratelimit *rl, const char *key, struct ratelimit_limit limit)
{
	uint64_t hash = ratelimit_hash(key);
	struct ratelimit_shard *shard = ratelimit_shard(rl, hash);
	struct ratelimit_entry *e;
	int64_t window, step;

	if (limit.quota == 0)
		return;
	ratelimit_intervals(limit, &window, &step);
	pthread_mutex_lock(&shard->lock);
	e = *ratelimit_find(shard, hash, key, false);
	if (e)
		e->until_ns -= step; /* below now it simply reads as full */
	pthread_mutex_unlock(&shard->lock);
}

bool ratelimit_memo_get(struct ratelimit *rl, const char *key, char *buf, size_t cap)
{
	uint64_t hash = ratelimit_hash(key);
	struct ratelimit_shard *shard = ratelimit_shard(rl, hash);
	int64_t now = rl->clock(rl->clock_userdata);
	struct ratelimit_entry *e;
	bool found = false;

	pthread_mutex_lock(&shard->lock);
	e = *ratelimit_find(shard, hash, key, true);
	if (e && e->until_ns > now) {
		tnd_strlcpy(buf, e->value, cap);
		found = true;
	}
	pthread_mutex_unlock(&shard->lock);
	return found;
}

void ratelimit_memo_set(struct ratelimit *rl, const char *key, const char *value, uint32_t ttl_s)
{
	uint64_t hash = ratelimit_hash(key);
	struct ratelimit_shard *shard = ratelimit_shard(rl, hash);
	int64_t now = rl->clock(rl->clock_userdata);
	struct ratelimit_entry *e;

	pthread_mutex_lock(&shard->lock);
	e = *ratelimit_find(shard, hash, key, true);
	if (e == NULL)
		e = ratelimit_insert(shard, hash, key, true, now);
	tnd_strlcpy(e->value, value, RATELIMIT_MEMO_MAX);
	e->until_ns = now + (int64_t)ttl_s * RATELIMIT_NS;
	pthread_mutex_unlock(&shard->lock);
}

size_t ratelimit_evict_idle(struct ratelimit *rl)
{
	int64_t now = rl->clock(rl->clock_userdata);
	size_t dropped = 0;

	for (unsigned i = 0; i < rl->n_shards; i++) {
		pthread_mutex_lock(&rl->shards[i].lock);
		dropped += ratelimit_sweep(&rl->shards[i], now);
		pthread_mutex_unlock(&rl->shards[i].lock);
	}
	return dropped;
}

size_t ratelimit_size(struct ratelimit *rl)
{
	size_t n = 0;

	for (unsigned i = 0; i < rl->n_shards; i++) {
		pthread_mutex_lock(&rl->shards[i].lock);
		n += rl->shards[i].count;
		pthread_mutex_unlock(&rl->shards[i].lock);
	}
	return n;
}

uint64_t ratelimit_forced_evictions(struct ratelimit *rl)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < rl->n_shards; i++) {
		pthread_mutex_lock(&rl->shards[i].lock);
		n += rl->shards[i].forced;
		pthread_mutex_unlock(&rl->shards[i].lock);
	}
	return n;
}
