/*
 * quota_inflight.c — per-tenant counters of mutating requests in flight
 * (see quota_inflight.h).  Only tenants with something in flight have an
 * entry, so a short array under one mutex is enough: its length is bounded
 * by the API's concurrent requests.
 */
#include "autoconfig.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "quota_inflight.h"
#include "util.h"

struct inflight_entry {
	char *tenant_id;
	int64_t count;
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

bool quota_inflight_enter(const char *tenant_id, int64_t limit, int64_t *ret_in_flight)
{
	bool ok;
	size_t i;

	pthread_mutex_lock(&inflight_lock);
	i = inflight_find(tenant_id);
	if (i == n_inflight) {
		if (n_inflight == cap_inflight) {
			cap_inflight = cap_inflight ? 2 * cap_inflight : 16;
			inflight = tnd_xrealloc(inflight, cap_inflight * sizeof(*inflight));
		}
		inflight[n_inflight++] = (struct inflight_entry){ tnd_xstrdup(tenant_id), 0 };
	}
	ok = limit <= 0 || inflight[i].count < limit;
	if (ret_in_flight)
		*ret_in_flight = inflight[i].count;
	if (ok)
		inflight[i].count++;
	if (inflight[i].count == 0) {
		free(inflight[i].tenant_id);
		inflight[i] = inflight[--n_inflight];
	}
	pthread_mutex_unlock(&inflight_lock);
	return ok;
}

void quota_inflight_leave(const char *tenant_id)
{
	size_t i;

	pthread_mutex_lock(&inflight_lock);
	i = inflight_find(tenant_id);
	if (i < n_inflight && --inflight[i].count <= 0) {
		free(inflight[i].tenant_id);
		inflight[i] = inflight[--n_inflight];
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
