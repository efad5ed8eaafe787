/*
 * token_index.c — the in-memory index of registry tokens (see
 * token_index.h): entries sorted by the hex SHA-256 of the secret, found
 * by binary search and confirmed in constant time, as in tokens.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "token_index.h"
#include "util.h"

struct token_index_entry {
	char hash[65];
	char id[48];
	int64_t expires_ms;          /* 0: never */
	struct tnd_principal principal;
};

struct token_index {
	pthread_rwlock_t lock;
	struct token_index_entry *entries;   /* sorted by hash */
	size_t n, cap;
};

struct token_index *token_index_new(void)
{
	struct token_index *index = tnd_xcalloc(1, sizeof(*index));

	pthread_rwlock_init(&index->lock, NULL);
	return index;
}

void token_index_free(struct token_index *index)
{
	if (index == NULL)
		return;
	pthread_rwlock_destroy(&index->lock);
	free(index->entries);
	free(index);
}

/* The position of @hash, or where it would go; *@ret_found says which. */
static size_t token_index_find(const struct token_index *index, const char *hash, bool *ret_found)
{
	size_t lo = 0, hi = index->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(index->entries[mid].hash, hash, 64);

		if (c == 0) {
			*ret_found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_found = false;
	return lo;
}

static bool token_index_hash_valid(const char *hash)
{
	return hash && strlen(hash) == 64 && strspn(hash, "0123456789abcdef") == 64;
}

int token_index_add(struct token_index *index, const struct tnd_token_record *rec)
{
	struct token_index_entry entry = { .expires_ms = rec->expires_ms };
	enum tnd_role role = rec->role ? role_parse(rec->role) : TND_ROLE_NONE;
	size_t at;
	bool found;

	if (rec->revoked_ms != 0)
		return 0;
	if (role == TND_ROLE_NONE || !token_index_hash_valid(rec->hash) || rec->id == NULL || rec->name == NULL ||
	    strlen(rec->id) >= sizeof(entry.id) || (role == TND_ROLE_TENANT) != (rec->tenant_id != NULL))
		return -EINVAL;
	memcpy(entry.hash, rec->hash, 65);
	tnd_strlcpy(entry.id, rec->id, sizeof(entry.id));
	tnd_strlcpy(entry.principal.name, rec->name, sizeof(entry.principal.name));
	entry.principal.role = role;
	entry.principal.base_role = role;
	if (rec->tenant_id)
		tnd_strlcpy(entry.principal.tenant, rec->tenant_id, sizeof(entry.principal.tenant));
	tnd_strlcpy(entry.principal.subject, rec->id, sizeof(entry.principal.subject));

	pthread_rwlock_wrlock(&index->lock);
	at = token_index_find(index, entry.hash, &found);
	for (size_t i = 0; !found && i < index->n; i++)
		found = strcmp(index->entries[i].id, entry.id) == 0;
	if (found) {
		pthread_rwlock_unlock(&index->lock);
		return -EEXIST;
	}
	if (index->n == index->cap) {
		index->cap = index->cap ? 2 * index->cap : 16;
		index->entries = tnd_xrealloc(index->entries, index->cap * sizeof(*index->entries));
	}
	memmove(&index->entries[at + 1], &index->entries[at], (index->n - at) * sizeof(*index->entries));
	index->entries[at] = entry;
	index->n++;
	pthread_rwlock_unlock(&index->lock);
	return 0;
}

int token_index_revoke(struct token_index *index, const char *id)
{
	int r = -ENOENT;

	pthread_rwlock_wrlock(&index->lock);
	for (size_t i = 0; i < index->n; i++)
		if (strcmp(index->entries[i].id, id) == 0) {
			memmove(&index->entries[i], &index->entries[i + 1], (index->n - i - 1) * sizeof(*index->entries));
			index->n--;
			r = 0;
			break;
		}
	pthread_rwlock_unlock(&index->lock);
	return r;
}

int token_index_authenticate(struct token_index *index, const char *token, int64_t now_ms,
			     struct tnd_principal *ret)
{
	const struct token_index_entry *entry;
	char hash[65];
	size_t at;
	bool found;
	int r;

	/* malformed input never costs a hash */
	if (index == NULL || !tokens_well_formed(token))
		return -ENOENT;
	tokens_hash(token, hash);
	pthread_rwlock_rdlock(&index->lock);
	at = token_index_find(index, hash, &found);
	entry = found ? &index->entries[at] : NULL;
	if (entry == NULL || !tnd_memeq_consttime(entry->hash, hash, 64)) {
		r = -ENOENT;
	} else if (entry->expires_ms != 0 && now_ms >= entry->expires_ms) {
		r = -EKEYEXPIRED;
	} else {
		*ret = entry->principal;
		r = 0;
	}
	pthread_rwlock_unlock(&index->lock);
	explicit_bzero(hash, sizeof(hash));
	return r;
}

bool token_index_name_taken(struct token_index *index, const char *name, int64_t now_ms)
{
	bool taken = false;

	pthread_rwlock_rdlock(&index->lock);
	for (size_t i = 0; !taken && i < index->n; i++)
		taken = strcmp(index->entries[i].principal.name, name) == 0 &&
			(index->entries[i].expires_ms == 0 || now_ms < index->entries[i].expires_ms);
	pthread_rwlock_unlock(&index->lock);
	return taken;
}

size_t token_index_count(struct token_index *index)
{
	size_t n;

	pthread_rwlock_rdlock(&index->lock);
	n = index->n;
	pthread_rwlock_unlock(&index->lock);
	return n;
}
