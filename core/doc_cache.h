/*
 * doc_cache.h — rendered tenant documents (the JSON a GET returns), kept
 * in memory so a read of an unchanged tenant costs a hash lookup instead of
 * a registry read, three JSON parses and a serialization.
 *
 * Correctness rests on every write to a tenant passing through this
 * process's registry (true for a storage driver without
 * TND_STORAGE_CAP_SHARED; the registry does not use the cache otherwise):
 *
 *   writer: doc_cache_write_begin(id)  → the entry is dropped, and until
 *           doc_cache_write_end(id, …) nobody may fill it;
 *           commit to storage;
 *           doc_cache_write_end(id, revision, doc) → the new document
 *           (or NULL: the next reader renders and fills it).
 *   reader: doc_cache_get1(id, &ticket) → hit; or, on a miss, read
 *           storage, then doc_cache_fill(id, ticket, revision, doc), which
 *           is ignored if any write in the same shard was in progress at
 *           the miss or began or ended since (the read may predate it), or
 *           a newer revision is cached.
 *
 * So a reader never sees a document older than the last acknowledged write,
 * even when the write only invalidated and its slot was evicted since.
 */
#ifndef TND_DOC_CACHE_H
#define TND_DOC_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct doc_cache;

/** An immutable cached document; hold it with a reference. */
struct doc_entry {
	int64_t revision;
	int64_t version;
	size_t len;
	char text[]; /* NUL-terminated JSON */
};

/** A cache of at most @capacity documents (0: disabled, every call a no-op/miss). */
struct doc_cache *doc_cache_new(size_t capacity);
void doc_cache_free(struct doc_cache *cache);

#define DOC_CACHE_NO_TICKET UINT64_MAX

/** The cached document of @id with a new reference, or NULL and a ticket
 *  to hand to doc_cache_fill() after reading storage. */
const struct doc_entry *doc_cache_get1(struct doc_cache *cache, const char *id, uint64_t *ret_ticket);
void doc_entry_unref(const struct doc_entry *entry);

void doc_cache_write_begin(struct doc_cache *cache, const char *id);
/** The new document, or @text NULL to leave the entry dropped (the write
 *  failed, or the writer prefers the next reader to render it). */
void doc_cache_write_end(struct doc_cache *cache, const char *id, int64_t revision, int64_t version,
			 const char *text);
/** Offer a document read from storage; returns it as an entry with a
 *  reference for the caller, whether or not the cache kept it. */
const struct doc_entry *doc_cache_fill(struct doc_cache *cache, const char *id, uint64_t ticket, int64_t revision,
				       int64_t version, const char *text);

/** Hits and misses so far (tests, metrics). */
void doc_cache_stats(struct doc_cache *cache, uint64_t *ret_hits, uint64_t *ret_misses);

#endif /* TND_DOC_CACHE_H */
