/*
 * doc_cache.c — rendered tenant documents in memory (see doc_cache.h for
 * the write/read protocol that keeps them fresh).
 *
 * The cache is split into shards, each with its own mutex, hash chains and
 * LRU list, so concurrent readers of different tenants rarely meet.
 * Entries are reference-counted and immutable: a reader keeps its document
 * while a writer replaces the slot's entry.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "doc_cache.h"
#include "util.h"

#define DOC_CACHE_SHARDS 64
#define DOC_CACHE_BUCKETS 256 /* per shard */

struct doc_entry_ref {
	atomic_int refs;
	struct doc_entry entry; /* must be last: flexible text */
};

struct doc_slot {
	struct doc_slot *chain;          /* hash bucket */
	struct doc_slot *newer, *older;  /* LRU list */
	char *id;
	struct doc_entry_ref *doc;       /* NULL while dropped */
	int writers;                     /* writes in progress: no fills */
	int64_t ended;                   /* highest revision a finished write reported */
};

struct doc_shard {
	pthread_mutex_t lock;
	/* bumped by every write_begin and write_end in the shard; a reader's
	 * fill is accepted only if no write began or ended since its miss */
	uint64_t write_seq;
	unsigned writing;  /* writes in progress in the shard */
	struct doc_slot *buckets[DOC_CACHE_BUCKETS];
	struct doc_slot *newest, *oldest;
	size_t count;
	size_t capacity;
};

struct doc_cache {
	struct doc_shard shards[DOC_CACHE_SHARDS];
	bool enabled;
	atomic_uint_fast64_t hits;
	atomic_uint_fast64_t misses;
};

static uint32_t doc_hash(const char *id)
{
	uint32_t h = 2166136261u;

	for (const char *p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

struct doc_cache *doc_cache_new(size_t capacity)
{
	struct doc_cache *cache = tnd_xcalloc(1, sizeof(*cache));

	cache->enabled = capacity > 0;
	for (size_t i = 0; i < DOC_CACHE_SHARDS; i++) {
		pthread_mutex_init(&cache->shards[i].lock, NULL);
		cache->shards[i].capacity = capacity / DOC_CACHE_SHARDS + 1;
	}
	return cache;
}

static void doc_ref_drop(struct doc_entry_ref *ref)
{
	if (ref && atomic_fetch_sub(&ref->refs, 1) == 1)
		free(ref);
}

void doc_entry_unref(const struct doc_entry *entry)
{
	if (entry)
		doc_ref_drop((struct doc_entry_ref *)((char *)entry - offsetof(struct doc_entry_ref, entry)));
}

void doc_cache_free(struct doc_cache *cache)
{
	if (cache == NULL)
		return;
	for (size_t i = 0; i < DOC_CACHE_SHARDS; i++) {
		struct doc_shard *shard = &cache->shards[i];
		for (struct doc_slot *s = shard->newest, *next; s; s = next) {
			next = s->older;
			doc_ref_drop(s->doc);
			free(s->id);
			free(s);
		}
		pthread_mutex_destroy(&shard->lock);
	}
	free(cache);
}

static struct doc_shard *doc_shard_of(struct doc_cache *cache, const char *id, uint32_t *ret_bucket)
{
	uint32_t h = doc_hash(id);

	*ret_bucket = (h / DOC_CACHE_SHARDS) % DOC_CACHE_BUCKETS;
	return &cache->shards[h % DOC_CACHE_SHARDS];
}

/* --- LRU list (shard lock held) ------------------------------------------------ */

static void doc_lru_unlink(struct doc_shard *shard, struct doc_slot *s)
{
	if (s->newer)
		s->newer->older = s->older;
	else
		shard->newest = s->older;
	if (s->older)
		s->older->newer = s->newer;
	else
		shard->oldest = s->newer;
	s->newer = s->older = NULL;
}

static void doc_lru_push(struct doc_shard *shard, struct doc_slot *s)
{
	s->older = shard->newest;
	s->newer = NULL;
	if (shard->newest)
		shard->newest->newer = s;
	shard->newest = s;
	if (shard->oldest == NULL)
		shard->oldest = s;
}

static struct doc_slot *doc_find(struct doc_shard *shard, uint32_t bucket, const char *id)
{
	for (struct doc_slot *s = shard->buckets[bucket]; s; s = s->chain)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

static void doc_remove(struct doc_shard *shard, struct doc_slot *victim)
{
	uint32_t bucket = (doc_hash(victim->id) / DOC_CACHE_SHARDS) % DOC_CACHE_BUCKETS;

	for (struct doc_slot **pp = &shard->buckets[bucket]; *pp; pp = &(*pp)->chain)
		if (*pp == victim) {
			*pp = victim->chain;
			break;
		}
	doc_lru_unlink(shard, victim);
	doc_ref_drop(victim->doc);
	free(victim->id);
	free(victim);
	shard->count--;
}

/* Evict the least recently used slots that no writer holds. */
static void doc_evict(struct doc_shard *shard)
{
	struct doc_slot *s = shard->oldest;

	while (shard->count > shard->capacity && s) {
		struct doc_slot *newer = s->newer;
		if (s->writers == 0)
			doc_remove(shard, s);
		s = newer;
	}
}

static struct doc_slot *doc_find_or_add(struct doc_shard *shard, uint32_t bucket, const char *id)
{
	struct doc_slot *s = doc_find(shard, bucket, id);

	if (s)
		return s;
	s = tnd_xcalloc(1, sizeof(*s));
	s->id = tnd_xstrdup(id);
	s->chain = shard->buckets[bucket];
	shard->buckets[bucket] = s;
	doc_lru_push(shard, s);
	shard->count++;
	return s;
}

static struct doc_entry_ref *doc_ref_new(int64_t revision, int64_t version, const char *text)
{
	size_t len = strlen(text);
	struct doc_entry_ref *ref = tnd_xmalloc(sizeof(*ref) + len + 1);

	atomic_init(&ref->refs, 1);
	ref->entry.revision = revision;
	ref->entry.version = version;
	ref->entry.len = len;
	memcpy(ref->entry.text, text, len + 1);
	return ref;
}

/* --- the protocol ---------------------------------------------------------------- */

const struct doc_entry *doc_cache_get1(struct doc_cache *cache, const char *id, uint64_t *ret_ticket)
{
	struct doc_entry_ref *ref = NULL;
	struct doc_shard *shard;
	struct doc_slot *s;
	uint32_t bucket;

	*ret_ticket = DOC_CACHE_NO_TICKET;
	if (!cache->enabled)
		return NULL;
	shard = doc_shard_of(cache, id, &bucket);
	pthread_mutex_lock(&shard->lock);
	s = doc_find(shard, bucket, id);
	if (s && s->doc && s->writers == 0) {
		ref = s->doc;
		atomic_fetch_add(&ref->refs, 1);
		doc_lru_unlink(shard, s);
		doc_lru_push(shard, s);
	} else if (shard->writing == 0) {
		*ret_ticket = shard->write_seq;
	}
	pthread_mutex_unlock(&shard->lock);
	atomic_fetch_add(ref ? &cache->hits : &cache->misses, 1);
	return ref ? &ref->entry : NULL;
}

void doc_cache_write_begin(struct doc_cache *cache, const char *id)
{
	struct doc_shard *shard;
	struct doc_slot *s;
	uint32_t bucket;

	if (!cache->enabled)
		return;
	shard = doc_shard_of(cache, id, &bucket);
	pthread_mutex_lock(&shard->lock);
	s = doc_find_or_add(shard, bucket, id);
	s->writers++;
	shard->writing++;
	shard->write_seq++;
	doc_ref_drop(s->doc);
	s->doc = NULL;
	pthread_mutex_unlock(&shard->lock);
}

void doc_cache_write_end(struct doc_cache *cache, const char *id, int64_t revision, int64_t version,
			 const char *text)
{
	struct doc_entry_ref *fresh;
	struct doc_shard *shard;
	struct doc_slot *s;
	uint32_t bucket;

	if (!cache->enabled)
		return;
	fresh = text ? doc_ref_new(revision, version, text) : NULL;
	shard = doc_shard_of(cache, id, &bucket);
	pthread_mutex_lock(&shard->lock);
	s = doc_find(shard, bucket, id); /* present: write_begin added it and writers > 0 pins it */
	shard->writing--;
	shard->write_seq++;
	if (s) {
		s->writers--;
		/* with another write still in flight its outcome is unknown, and a
		 * write that finished first with a newer revision wins: stay dropped */
		if (fresh && s->writers == 0 && revision >= s->ended &&
		    (s->doc == NULL || s->doc->entry.revision < revision)) {
			doc_ref_drop(s->doc);
			s->doc = fresh;
			fresh = NULL;
		}
		if (revision > s->ended)
			s->ended = revision;
	}
	doc_evict(shard);
	pthread_mutex_unlock(&shard->lock);
	doc_ref_drop(fresh);
}

const struct doc_entry *doc_cache_fill(struct doc_cache *cache, const char *id, uint64_t ticket, int64_t revision,
				       int64_t version, const char *text)
{
	struct doc_entry_ref *fresh = doc_ref_new(revision, version, text);
	struct doc_shard *shard;
	struct doc_slot *s;
	uint32_t bucket;

	if (!cache->enabled || ticket == DOC_CACHE_NO_TICKET)
		return &fresh->entry;
	shard = doc_shard_of(cache, id, &bucket);
	pthread_mutex_lock(&shard->lock);
	/* any write that overlapped our storage read bumped write_seq */
	if (shard->write_seq == ticket) {
		s = doc_find_or_add(shard, bucket, id);
		if (s->doc == NULL || s->doc->entry.revision < revision) {
			doc_ref_drop(s->doc);
			atomic_fetch_add(&fresh->refs, 1); /* one for the cache, one for the caller */
			s->doc = fresh;
		}
		doc_evict(shard);
	}
	pthread_mutex_unlock(&shard->lock);
	return &fresh->entry;
}

void doc_cache_stats(struct doc_cache *cache, uint64_t *ret_hits, uint64_t *ret_misses)
{
	*ret_hits = atomic_load(&cache->hits);
	*ret_misses = atomic_load(&cache->misses);
}
