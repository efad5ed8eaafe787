/*
 * region_usage.c — tenants per region, for region capacity (see
 * region_usage.h).
 *
 * A handful of regions, so a small array under one mutex: it is taken only
 * by creates, deletes and the catalogue, never on the read path.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"
#include "region_usage.h"
#include "registry.h"

#define REGION_USAGE_PAGE 500

struct region_count {
	char *name;
	int64_t placed;    /* committed tenants whose desired state is not deleted */
	int64_t reserved;  /* creates between their reservation and their commit */
};

static pthread_mutex_t usage_lock = PTHREAD_MUTEX_INITIALIZER;
static struct region_count *usage;
static size_t n_usage;

/* The entry of @name, created on first use (lock held). */
static struct region_count *usage_entry(const char *name)
{
	for (size_t i = 0; i < n_usage; i++)
		if (strcmp(usage[i].name, name) == 0)
			return &usage[i];
	usage = tnd_xrealloc(usage, (n_usage + 1) * sizeof(*usage));
	usage[n_usage] = (struct region_count){ tnd_xstrdup(name), 0, 0 };
	return &usage[n_usage++];
}

void region_usage_reset(void)
{
	pthread_mutex_lock(&usage_lock);
	for (size_t i = 0; i < n_usage; i++)
		free(usage[i].name);
	free(usage);
	usage = NULL;
	n_usage = 0;
	pthread_mutex_unlock(&usage_lock);
}

struct usage_scan {
	struct region_count *counts;
	size_t n;
	char last_id[128];
	size_t seen;
};

static int usage_scan_visit(const struct tenant_row *row, void *userdata)
{
	struct usage_scan *scan = userdata;
	size_t i;

	scan->seen++;
	tnd_strlcpy(scan->last_id, row->id, sizeof(scan->last_id));
	if (row->region == NULL || row->state == TND_PHASE_DELETED)
		return 0;
	for (i = 0; i < scan->n; i++)
		if (strcmp(scan->counts[i].name, row->region) == 0)
			break;
	if (i == scan->n) {
		scan->counts = tnd_xrealloc(scan->counts, (scan->n + 1) * sizeof(*scan->counts));
		scan->counts[scan->n++] = (struct region_count){ tnd_xstrdup(row->region), 0, 0 };
	}
	scan->counts[i].placed++;
	return 0;
}

int region_usage_load(struct registry *reg, struct tnd_error *err)
{
	struct usage_scan scan = { NULL, 0, "", 0 };
	int r = 0;

	for (;;) {
		struct tnd_tenant_query query = { .size = sizeof(query), .limit = REGION_USAGE_PAGE };
		char after[128];

		tnd_strlcpy(after, scan.last_id, sizeof(after));
		query.after_id = after[0] ? after : NULL;
		scan.seen = 0;
		r = registry_tenant_search(reg, &query, usage_scan_visit, &scan, err);
		if (r < 0 || scan.seen < REGION_USAGE_PAGE)
			break;
	}
	if (r < 0) {
		for (size_t i = 0; i < scan.n; i++)
			free(scan.counts[i].name);
		free(scan.counts);
		return r;
	}

	pthread_mutex_lock(&usage_lock);
	for (size_t i = 0; i < n_usage; i++)
		usage[i].placed = 0;
	for (size_t i = 0; i < scan.n; i++) {
		usage_entry(scan.counts[i].name)->placed = scan.counts[i].placed;
		free(scan.counts[i].name);
	}
	pthread_mutex_unlock(&usage_lock);
	free(scan.counts);
	return 0;
}

int64_t region_usage_count(const char *region)
{
	int64_t n;

	pthread_mutex_lock(&usage_lock);
	{
		struct region_count *c = usage_entry(region);
		n = c->placed + c->reserved;
	}
	pthread_mutex_unlock(&usage_lock);
	return n;
}

bool region_usage_has_room(const struct tnd_region_conf *region)
{
	return region->capacity <= 0 || region_usage_count(region->name) < region->capacity;
}

bool region_usage_reserve(const struct tnd_region_conf *region)
{
	struct region_count *c;
	bool ok;

	pthread_mutex_lock(&usage_lock);
	c = usage_entry(region->name);
	ok = region->capacity <= 0 || c->placed + c->reserved < region->capacity;
	if (ok)
		c->reserved++;
	pthread_mutex_unlock(&usage_lock);
	return ok;
}

void region_usage_settle(const char *region, bool committed)
{
	struct region_count *c;

	pthread_mutex_lock(&usage_lock);
	c = usage_entry(region);
	if (c->reserved > 0)
		c->reserved--;
	if (committed)
		c->placed++;
	pthread_mutex_unlock(&usage_lock);
}

void region_usage_add(const char *region, int64_t delta)
{
	struct region_count *c;

	pthread_mutex_lock(&usage_lock);
	c = usage_entry(region);
	c->placed += delta;
	if (c->placed < 0)
		c->placed = 0;
	pthread_mutex_unlock(&usage_lock);
}
