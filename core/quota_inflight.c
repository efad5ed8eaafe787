/*
 * quota_inflight.c — per-tenant counters of mutating requests in flight
 * (see quota_inflight.h).  Only tenants with something in flight have an
 * entry, so a short array under one mutex is enough: its length is bounded
 * by the API's concurrent requests.  Each entry also lists the
 * Idempotency-Keys in flight, since requests sharing one are one operation.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "quota_inflight.h"
#include "util.h"

struct inflight_key {
	char *key;
	int64_t refs;        /* requests carrying it */
};

struct inflight_entry {
	char *tenant_id;
	int64_t count;       /* distinct operations */
	struct inflight_key *keys;
	size_t n_keys;
};

static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static struct inflight_entry *inflight;
static size_t n_inflight, cap_inflight;

/* The index of @tenant_id's entry, or n_inflight (lock held). */
static size_t inflight_find(const char *tenant_id)
{
	size_t i;

	for (i = 0; i < n_inflight; i++)
		if (strcmp(inflight[i].tenant_id, tenant_id) == 0)
			break;
	return i;
}

static struct inflight_key *inflight_key_find(struct inflight_entry *e, const char *key)
{
	for (size_t k = 0; key && k < e->n_keys; k++)
		if (strcmp(e->keys[k].key, key) == 0)
			return &e->keys[k];
	return NULL;
}

/* Drop entry @i once nothing is in flight on it (lock held). */
static void inflight_drop_if_idle(size_t i)
{
	if (inflight[i].count > 0)
		return;
	free(inflight[i].tenant_id);
	free(inflight[i].keys);
	inflight[i] = inflight[--n_inflight];
}

bool quota_inflight_enter(const char *tenant_id, const char *key, int64_t limit, int64_t *ret_in_flight)
{
	struct inflight_entry *e;
	struct inflight_key *k;
	bool ok;
	size_t i;

	pthread_mutex_lock(&inflight_lock);
	i = inflight_find(tenant_id);
	if (i == n_inflight) {
		if (n_inflight == cap_inflight) {
			cap_inflight = cap_inflight ? 2 * cap_inflight : 16;
			inflight = tnd_xrealloc(inflight, cap_inflight * sizeof(*inflight));
		}
		inflight[n_inflight++] = (struct inflight_entry){ tnd_xstrdup(tenant_id), 0, NULL, 0 };
	}
	e = &inflight[i];
	if (ret_in_flight)
		*ret_in_flight = e->count;
	k = inflight_key_find(e, key);
	if (k) {
		/* the same Idempotency-Key: the same operation, answered once */
		k->refs++;
		ok = true;
	} else {
		ok = limit <= 0 || e->count < limit;
		if (ok) {
			e->count++;
			if (key) {
				e->keys = tnd_xrealloc(e->keys, (e->n_keys + 1) * sizeof(*e->keys));
				e->keys[e->n_keys++] = (struct inflight_key){ tnd_xstrdup(key), 1 };
			}
		}
	}
	inflight_drop_if_idle(i);
	pthread_mutex_unlock(&inflight_lock);
	return ok;
}

void quota_inflight_leave(const char *tenant_id, const char *key)
{
	struct inflight_entry *e;
	struct inflight_key *k;
	size_t i;

	pthread_mutex_lock(&inflight_lock);
	i = inflight_find(tenant_id);
	if (i < n_inflight) {
		e = &inflight[i];
		k = inflight_key_find(e, key);
		if (k == NULL || --k->refs == 0) {
			if (k) {
				free(k->key);
				*k = e->keys[--e->n_keys];
			}
			e->count--;
		}
		inflight_drop_if_idle(i);
	}
	pthread_mutex_unlock(&inflight_lock);
}

int64_t quota_inflight_count(const char *tenant_id)
{
	int64_t n = 0;
	size_t i;

	pthread_mutex_lock(&inflight_lock);
	i = inflight_find(tenant_id);
	if (i < n_inflight)
		n = inflight[i].count;
	pthread_mutex_unlock(&inflight_lock);
	return n;
}
