/*
 * test_doc_cache.c — the tenant document cache: hits and misses, the
 * write protocol that keeps readers from ever seeing a document older than
 * the last completed write, eviction bounds, and a concurrent stress run.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "doc_cache.h"

/* A lookup whose ticket the caller does not need. */
static const struct doc_entry *get(struct doc_cache *cache, const char *id)
{
	uint64_t ticket;

	return doc_cache_get1(cache, id, &ticket);
}

/* A read-through: miss, "read storage", fill with the miss's ticket. */
static void fill_now(struct doc_cache *cache, const char *id, int64_t revision, int64_t version, const char *text)
{
	uint64_t ticket;
	const struct doc_entry *e = doc_cache_get1(cache, id, &ticket);

	if (e == NULL)
		e = doc_cache_fill(cache, id, ticket, revision, version, text);
	doc_entry_unref(e);
}

static void test_fill_then_hit(void **state)
{
	struct doc_cache *cache = doc_cache_new(100);
	const struct doc_entry *e;
	uint64_t hits, misses, ticket;

	(void)state;
	assert_null(doc_cache_get1(cache, "acme", &ticket));
	e = doc_cache_fill(cache, "acme", ticket, 3, 2, "{\"v\":2}");
	assert_string_equal(e->text, "{\"v\":2}");
	assert_int_equal(e->len, 7);
	doc_entry_unref(e);
	e = get(cache, "acme");
	assert_non_null(e);
	assert_int_equal(e->revision, 3);
	assert_int_equal(e->version, 2);
	doc_entry_unref(e);
	doc_cache_stats(cache, &hits, &misses);
	assert_int_equal(hits, 1);
	assert_int_equal(misses, 1);
	doc_cache_free(cache);
}

static void test_write_blocks_stale_fill(void **state)
{
	struct doc_cache *cache = doc_cache_new(100);
	const struct doc_entry *e;
	uint64_t ticket;

	(void)state;
	fill_now(cache, "acme", 1, 1, "{\"v\":1}");
	/* a reader misses... */
	doc_cache_write_begin(cache, "acme");
	doc_cache_write_end(cache, "acme", 0, 0, NULL);
	assert_null(doc_cache_get1(cache, "acme", &ticket));
	/* ...reads storage, and before it fills, a write begins and ends */
	doc_cache_write_begin(cache, "acme");
	assert_null(get(cache, "acme"));
	doc_cache_write_end(cache, "acme", 0, 0, NULL);
	/* its (possibly old) row is refused, but it still gets a copy to answer with */
	e = doc_cache_fill(cache, "acme", ticket, 1, 1, "{\"v\":1}");
	assert_string_equal(e->text, "{\"v\":1}");
	doc_entry_unref(e);
	assert_null(get(cache, "acme"));

	/* a write that hands over its document publishes it */
	doc_cache_write_begin(cache, "acme");
	doc_cache_write_end(cache, "acme", 2, 2, "{\"v\":2}");
	e = get(cache, "acme");
	assert_non_null(e);
	assert_int_equal(e->revision, 2);
	doc_entry_unref(e);
	doc_cache_free(cache);
}

static void test_miss_during_a_write_gets_no_ticket(void **state)
{
	struct doc_cache *cache = doc_cache_new(100);
	uint64_t ticket;

	(void)state;
	doc_cache_write_begin(cache, "other"); /* same shard or not: any write in progress */
	assert_null(doc_cache_get1(cache, "other", &ticket));
	assert_true(ticket == DOC_CACHE_NO_TICKET);
	doc_entry_unref(doc_cache_fill(cache, "other", ticket, 1, 1, "{}"));
	doc_cache_write_end(cache, "other", 0, 0, NULL);
	assert_null(get(cache, "other"));
	doc_cache_free(cache);
}

static void test_older_revision_never_replaces_newer(void **state)
{
	struct doc_cache *cache = doc_cache_new(100);
	const struct doc_entry *e;

	(void)state;
	doc_cache_write_begin(cache, "acme");
	doc_cache_write_end(cache, "acme", 5, 3, "{\"v\":3}");
	doc_cache_write_begin(cache, "acme");
	doc_cache_write_begin(cache, "acme");
	/* the first of two overlapping writers to finish cannot publish */
	doc_cache_write_end(cache, "acme", 6, 4, "{\"v\":4}");
	assert_null(get(cache, "acme"));
	doc_cache_write_end(cache, "acme", 7, 5, "{\"v\":5}");
	e = get(cache, "acme");
	assert_non_null(e);
	assert_int_equal(e->version, 5);
	doc_entry_unref(e);
	doc_cache_free(cache);
}

static void test_entries_outlive_replacement(void **state)
{
	struct doc_cache *cache = doc_cache_new(100);
	const struct doc_entry *held;

	(void)state;
	fill_now(cache, "acme", 1, 1, "{\"old\":true}");
	held = get(cache, "acme");
	assert_non_null(held);
	doc_cache_write_begin(cache, "acme");
	doc_cache_write_end(cache, "acme", 2, 2, "{\"new\":true}");
	/* the reader's document is still intact (ASan/valgrind would catch a free) */
	assert_string_equal(held->text, "{\"old\":true}");
	doc_entry_unref(held);
	doc_cache_free(cache);
}

static void test_capacity_is_bounded(void **state)
{
	struct doc_cache *cache = doc_cache_new(640);
	size_t present = 0;
	char id[32];

	(void)state;
	for (int i = 0; i < 20000; i++) {
		snprintf(id, sizeof(id), "t-%d", i);
		fill_now(cache, id, 1, 1, "{}");
	}
	for (int i = 0; i < 20000; i++) {
		const struct doc_entry *e;
		snprintf(id, sizeof(id), "t-%d", i);
		e = get(cache, id);
		if (e) {
			present++;
			doc_entry_unref(e);
		}
	}
	/* 64 shards of capacity/64 + 1 each */
	assert_true(present > 0);
	assert_true(present <= 640 + 64);
	doc_cache_free(cache);
}

static void test_disabled_cache_never_hits(void **state)
{
	struct doc_cache *cache = doc_cache_new(0);
	const struct doc_entry *e;
	uint64_t ticket;

	(void)state;
	assert_null(doc_cache_get1(cache, "acme", &ticket));
	e = doc_cache_fill(cache, "acme", ticket, 1, 1, "{}");
	assert_non_null(e);
	doc_entry_unref(e);
	assert_null(get(cache, "acme"));
	doc_cache_free(cache);
}

/*
 * Stress: writers bump a per-tenant "storage" revision under the protocol;
 * readers check that a hit is never older than the revision the last
 * *completed* write published before the read started.
 */
#define STRESS_TENANTS 8
#define STRESS_ROUNDS 20000

struct stress {
	struct doc_cache *cache;
	pthread_mutex_t storage_lock;
	int64_t storage[STRESS_TENANTS];          /* committed revision */
	atomic_llong published[STRESS_TENANTS];   /* revision of the last completed write */
	atomic_int violations;
};

static void *stress_writer(void *arg)
{
	struct stress *st = arg;
	char id[16], text[32];

	for (int i = 0; i < STRESS_ROUNDS; i++) {
		int t = i % STRESS_TENANTS;
		int64_t rev;
		snprintf(id, sizeof(id), "t%d", t);
		doc_cache_write_begin(st->cache, id);
		pthread_mutex_lock(&st->storage_lock);
		rev = ++st->storage[t];
		pthread_mutex_unlock(&st->storage_lock);
		snprintf(text, sizeof(text), "%lld", (long long)rev);
		doc_cache_write_end(st->cache, id, rev, rev, (i & 1) ? text : NULL);
		/* publish monotonically: another writer may have finished a newer one */
		for (long long seen = atomic_load(&st->published[t]);
		     seen < rev && !atomic_compare_exchange_weak(&st->published[t], &seen, rev);)
			;
	}
	return NULL;
}

static void *stress_reader(void *arg)
{
	struct stress *st = arg;
	char id[16], text[32];
	uint64_t ticket;

	for (int i = 0; i < STRESS_ROUNDS; i++) {
		int t = (i * 7) % STRESS_TENANTS;
		int64_t floor = atomic_load(&st->published[t]);
		const struct doc_entry *e;
		snprintf(id, sizeof(id), "t%d", t);
		e = doc_cache_get1(st->cache, id, &ticket);
		if (e == NULL) {
			int64_t rev;
			pthread_mutex_lock(&st->storage_lock);
			rev = st->storage[t];
			pthread_mutex_unlock(&st->storage_lock);
			snprintf(text, sizeof(text), "%lld", (long long)rev);
			e = doc_cache_fill(st->cache, id, ticket, rev, rev, text);
		}
		if (e->revision < floor || atoll(e->text) != e->revision)
			atomic_fetch_add(&st->violations, 1);
		doc_entry_unref(e);
	}
	return NULL;
}

static void test_concurrent_readers_never_go_back(void **state)
{
	struct stress st = { .cache = doc_cache_new(1000) };
	pthread_t threads[6];

	(void)state;
	pthread_mutex_init(&st.storage_lock, NULL);
	for (int i = 0; i < 6; i++)
		pthread_create(&threads[i], NULL, i < 2 ? stress_writer : stress_reader, &st);
	for (int i = 0; i < 6; i++)
		pthread_join(threads[i], NULL);
	assert_int_equal(atomic_load(&st.violations), 0);
	pthread_mutex_destroy(&st.storage_lock);
	doc_cache_free(st.cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_then_hit),
		cmocka_unit_test(test_write_blocks_stale_fill),
		cmocka_unit_test(test_miss_during_a_write_gets_no_ticket),
		cmocka_unit_test(test_older_revision_never_replaces_newer),
		cmocka_unit_test(test_entries_outlive_replacement),
		cmocka_unit_test(test_capacity_is_bounded),
		cmocka_unit_test(test_disabled_cache_never_hits),
		cmocka_unit_test(test_concurrent_readers_never_go_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
