/*
 * quota_usage.c — compute units per plan, for plans' shared budgets (see
 * quota_usage.h).
 *
 * A handful of plans, so a small array under one mutex, taken by creates,
 * raises and deletes only.  The conf the sums were counted under is held
 * (a reference), so that a reload is noticed by pointer without the
 * address being reused.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"
#include "quota_usage.h"
#include "quotas.h"
#include "registry.h"

#define QUOTA_USAGE_PAGE 500

struct plan_usage {
	char *plan;
	int64_t held;      /* units of committed tenants whose desired state is not deleted */
	int64_t reserved;  /* units between their reservation and their commit */
};

static pthread_mutex_t usage_lock = PTHREAD_MUTEX_INITIALIZER;
static struct plan_usage *usage;
static size_t n_usage;
static struct tnd_conf *usage_conf;

/* The entry of @plan, created on first use (lock held). */
static struct plan_usage *usage_entry(const char *plan)
{
	for (size_t i = 0; i < n_usage; i++)
		if (strcmp(usage[i].plan, plan) == 0)
			return &usage[i];
	usage = tnd_xrealloc(usage, (n_usage + 1) * sizeof(*usage));
	usage[n_usage] = (struct plan_usage){ tnd_xstrdup(plan), 0, 0 };
	return &usage[n_usage++];
}

void quota_usage_reset(void)
{
	pthread_mutex_lock(&usage_lock);
	for (size_t i = 0; i < n_usage; i++)
		free(usage[i].plan);
	free(usage);
	usage = NULL;
	n_usage = 0;
	if (usage_conf)
		conf_unref(usage_conf);
	usage_conf = NULL;
	pthread_mutex_unlock(&usage_lock);
}

struct usage_scan {
	const struct tnd_conf *conf;
	struct plan_usage *sums;
	size_t n;
	char last_id[128];
	size_t seen;
};

static int usage_scan_visit(const struct tenant_row *row, void *userdata)
{
	struct usage_scan *scan = userdata;
	const struct tnd_plan_conf *plan;
	struct tnd_quotas q;
	size_t i;

	scan->seen++;
	tnd_strlcpy(scan->last_id, row->id, sizeof(scan->last_id));
	plan = row->plan ? conf_plan(scan->conf, row->plan) : NULL;
	if (plan == NULL || row->state == TND_PHASE_DELETED)
		return 0;
	quotas_from_manifest(plan, row->manifest, &q);
	for (i = 0; i < scan->n; i++)
		if (strcmp(scan->sums[i].plan, row->plan) == 0)
			break;
	if (i == scan->n) {
		scan->sums = tnd_xrealloc(scan->sums, (scan->n + 1) * sizeof(*scan->sums));
		scan->sums[scan->n++] = (struct plan_usage){ tnd_xstrdup(row->plan), 0, 0 };
	}
	scan->sums[i].held += q.compute_units;
	return 0;
}

int quota_usage_load(struct registry *reg, const struct tnd_conf *conf, struct tnd_error *err)
{
	struct usage_scan scan = { conf, NULL, 0, "", 0 };
	int r = 0;

	for (;;) {
		struct tnd_tenant_query query = { .size = sizeof(query), .limit = QUOTA_USAGE_PAGE };
		char after[128];

		tnd_strlcpy(after, scan.last_id, sizeof(after));
		query.after_id = after[0] ? after : NULL;
		scan.seen = 0;
		r = registry_tenant_search(reg, &query, usage_scan_visit, &scan, err);
		if (r < 0 || scan.seen < QUOTA_USAGE_PAGE)
			break;
	}
	if (r == 0) {
		pthread_mutex_lock(&usage_lock);
		for (size_t i = 0; i < n_usage; i++)
			usage[i].held = 0;
		for (size_t i = 0; i < scan.n; i++)
			usage_entry(scan.sums[i].plan)->held = scan.sums[i].held;
		if (usage_conf)
			conf_unref(usage_conf);
		usage_conf = conf_ref((struct tnd_conf *)conf);
		pthread_mutex_unlock(&usage_lock);
	}
	for (size_t i = 0; i < scan.n; i++)
		free(scan.sums[i].plan);
	free(scan.sums);
	return r;
}

bool quota_usage_loaded_for(const struct tnd_conf *conf)
{
	bool same;

	pthread_mutex_lock(&usage_lock);
	same = usage_conf == conf;
	pthread_mutex_unlock(&usage_lock);
	return same;
}

int64_t quota_usage_used(const char *plan)
{
	int64_t n;

	pthread_mutex_lock(&usage_lock);
	{
		struct plan_usage *u = usage_entry(plan);
		n = u->held + u->reserved;
	}
	pthread_mutex_unlock(&usage_lock);
	return n;
}

bool quota_usage_reserve(const struct tnd_plan_conf *plan, int64_t units, int64_t *ret_used)
{
	struct plan_usage *u;
	bool ok;

	pthread_mutex_lock(&usage_lock);
	u = usage_entry(plan->code);
	ok = plan->max_total_compute_units <= 0 || units <= 0 ||
	     u->held + u->reserved + units <= plan->max_total_compute_units;
	if (ok && units > 0)
		u->reserved += units;
	if (ret_used)
		*ret_used = u->held + u->reserved;
	pthread_mutex_unlock(&usage_lock);
	return ok;
}

void quota_usage_settle(const char *plan, int64_t units, bool committed)
{
	struct plan_usage *u;

	if (units <= 0)
		return;
	pthread_mutex_lock(&usage_lock);
	u = usage_entry(plan);
	u->reserved -= units;
	if (u->reserved < 0)
		u->reserved = 0;
	if (committed)
		u->held += units;
	pthread_mutex_unlock(&usage_lock);
}

void quota_usage_add(const char *plan, int64_t delta)
{
	struct plan_usage *u;

	pthread_mutex_lock(&usage_lock);
	u = usage_entry(plan);
	u->held += delta;
	if (u->held < 0)
		u->held = 0;
	pthread_mutex_unlock(&usage_lock);
}
