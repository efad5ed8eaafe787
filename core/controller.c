/*
 * controller.c — the level-triggered controller (see controller.h).
 *
 * Each resync walks the unsettled tenants (an indexed search) and then a
 * budget of settled ones for drift, continuing where the previous resync
 * stopped, so a large registry is observed in rounds without a burst.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "controller.h"
#include "log.h"
#include "metrics.h"
#include "orchestrator.h"
#include "reconcile.h"
#include "registry.h"
#include "util.h"
#include "workflow.h"

#define LOG_COMPONENT "controller"

#define CONTROLLER_PAGE 200
/* settled tenants observed per resync; the rest wait for the next rounds */
#define CONTROLLER_OBSERVE_BUDGET 500

struct controller {
	struct registry *reg;
	struct orchestrator *orch;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	bool kicked;
	atomic_uint_fast64_t resyncs;
	char drift_cursor[64];   /* where the drift walk resumes */
};

/* --- unsettled tenants ----------------------------------------------------------- */

struct controller_failed_probe {
	int64_t version;
	bool failed;
};

static int controller_failed_visit(const struct workflow *wf, void *userdata)
{
	struct controller_failed_probe *probe = userdata;

	if (wf->target_version == probe->version && wf->state == WORKFLOW_FAILED)
		probe->failed = true;
	return 0;
}

/* A workflow of this very version already failed for good: that waits for an
 * operator's retry, not for another automatic round. */
static bool controller_waits_for_operator(struct controller *ctl, const struct tenant_row *row)
{
	struct tnd_workflow_query query = { .size = sizeof(query), .tenant_id = row->id, .limit = 1000 };
	struct controller_failed_probe probe = { row->version, false };
	struct tnd_error err = { "" };

	if (registry_workflow_list(ctl->reg, &query, controller_failed_visit, &probe, &err) < 0)
		return true;
	return probe.failed;
}

struct controller_rows {
	struct tenant_row **items;
	size_t n;
	char last_id[64];
};

static int controller_collect(const struct tenant_row *row, void *userdata)
{
	struct controller_rows *rows = userdata;
	struct tenant_row *copy = tnd_xcalloc(1, sizeof(*copy));

	*copy = *row;
	copy->id = tnd_xstrdup(row->id);
	copy->plan = tnd_xstrdup(row->plan);
	copy->isolation = tnd_xstrdup(row->isolation);
	copy->region = tnd_xstrdup(row->region);
	copy->labels = json_incref(row->labels);
	copy->manifest = json_incref(row->manifest);
	copy->status = json_incref(row->status);
	rows->items = tnd_xrealloc(rows->items, (rows->n + 1) * sizeof(*rows->items));
	rows->items[rows->n++] = copy;
	tnd_strlcpy(rows->last_id, row->id, sizeof(rows->last_id));
	return 0;
}

static void controller_rows_free(struct controller_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++)
		tenant_row_free(rows->items[i]);
	free(rows->items);
	rows->items = NULL;
	rows->n = 0;
}

static void controller_settle_unsettled(struct controller *ctl, const struct tnd_conf *conf)
{
	struct tnd_tenant_query query = { .size = sizeof(query), .limit = CONTROLLER_PAGE, .unsettled = 1,
					  .include_deleted = 1 };
	struct tnd_error err = { "" };
	char after[64] = "";
	unsigned started = 0;

	for (;;) {
		struct controller_rows rows = { NULL, 0, "" };
		if (registry_tenant_search(ctl->reg, &query, controller_collect, &rows, &err) < 0) {
			log_warning("resync: cannot list unsettled tenants: %s", err.message);
			break;
		}
		for (size_t i = 0; i < rows.n; i++) {
			const struct tenant_row *row = rows.items[i];
			int r;
			if (controller_waits_for_operator(ctl, row))
				continue;
			r = reconcile_start_for(ctl->reg, conf, row, NULL, "resync", &err);
			if (r == 0)
				started++;
			else if (r != -EALREADY && r != -ESTALE)
				log_warning("resync: cannot start a workflow for tenant %s: %s", row->id, err.message);
		}
		tnd_strlcpy(after, rows.last_id, sizeof(after));
		query.after_id = after;
		controller_rows_free(&rows);
		if (rows.last_id[0] == '\0' || started > 100000)
			break;
	}
	if (started)
		log_notice("resync: started %u workflow(s) for unsettled tenants", started);
}

/* --- drift ------------------------------------------------------------------------ */

static void controller_observed(const char *tenant_id, int rc, const json_t *result, const char *error, void *userdata)
{
	struct controller *ctl = userdata;
	const json_t *observed = json_object_get(result, "observed");
	const json_t *drift = json_object_get(observed, "drift");
	struct tnd_conf *conf;
	struct tenant_row *row = NULL;
	struct tnd_error err = { "" };
	json_t *reasons;
	char *text;
	int r;

	if (rc != 0) {
		log_warning("observe of tenant %s failed: %s", tenant_id, error);
		metrics_counter_add("tenancyd_observe_failures_total", "observe ops that failed.", NULL, 1);
		return;
	}
	if (json_is_true(json_object_get(observed, "exists")) && json_array_size(drift) == 0)
		return;
	reasons = json_is_array(drift) && json_array_size(drift) ? json_incref((json_t *)drift)
								 : json_pack("[s]", "resources are missing");
	text = json_dumps(reasons, JSON_COMPACT);
	/* the event-worthy record: audit and events (their issue) hook in here */
	log_warning("drift on tenant %s: %s", tenant_id, text ? text : "?");
	free(text);
	metrics_counter_add("tenancyd_drift_detected_total", "Tenants whose data plane drifted from the desired state.",
			    NULL, 1);
	conf = conf_current_get1();
	if (registry_tenant_get(ctl->reg, tenant_id, &row, &err) == 0) {
		r = reconcile_start_for(ctl->reg, conf, row, reasons, "drift", &err);
		if (r < 0 && r != -EALREADY && r != -ESTALE)
			log_warning("cannot start a repair for tenant %s: %s", tenant_id, err.message);
		tenant_row_free(row);
	}
	conf_unref(conf);
	json_decref(reasons);
}

static bool controller_settled(const struct tenant_row *row)
{
	return row->observed_version == row->version && row->phase == row->state;
}

static void controller_observe_round(struct controller *ctl)
{
	static const char *const phases[] = { "Active", "Suspended", "Archived" };
	unsigned budget = CONTROLLER_OBSERVE_BUDGET;
	struct tnd_error err = { "" };

	/* one walk over all tenants in id order, resuming at the cursor */
	for (int pass = 0; pass < 2 && budget > 0; pass++) {
		struct tnd_tenant_query query = { .size = sizeof(query), .limit = CONTROLLER_PAGE };
		char after[64];

		tnd_strlcpy(after, ctl->drift_cursor, sizeof(after));
		query.after_id = after[0] ? after : NULL;
		for (;;) {
			struct controller_rows rows = { NULL, 0, "" };
			if (registry_tenant_search(ctl->reg, &query, controller_collect, &rows, &err) < 0) {
				log_warning("resync: cannot list tenants: %s", err.message);
				return;
			}
			for (size_t i = 0; i < rows.n && budget > 0; i++) {
				const struct tenant_row *row = rows.items[i];
				bool wanted = false;
				for (size_t p = 0; p < TND_ARRAY_SIZE(phases); p++)
					wanted |= strcmp(lifecycle_phase_name(row->phase), phases[p]) == 0;
				tnd_strlcpy(ctl->drift_cursor, row->id, sizeof(ctl->drift_cursor));
				if (!wanted || !controller_settled(row))
					continue;
				if (orchestrator_observe(ctl->orch, row, controller_observed, ctl) == 0)
					budget--;
			}
			tnd_strlcpy(after, rows.last_id, sizeof(after));
			query.after_id = after;
			controller_rows_free(&rows);
			if (budget == 0)
				return;
			if (rows.last_id[0] == '\0')
				break;
		}
		ctl->drift_cursor[0] = '\0'; /* reached the end: wrap around */
	}
}

/* --- the loop ----------------------------------------------------------------------- */

static void *controller_main(void *arg)
{
	struct controller *ctl = arg;

	pthread_mutex_lock(&ctl->lock);
	while (!ctl->stopping) {
		struct tnd_conf *conf = conf_current_get1();
		struct timespec until;
		int64_t interval = conf->reconcile.resync_interval_s > 0 ? conf->reconcile.resync_interval_s : 60;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += interval;
		while (!ctl->stopping && !ctl->kicked &&
		       pthread_cond_timedwait(&ctl->cond, &ctl->lock, &until) != ETIMEDOUT)
			;
		ctl->kicked = false;
		if (ctl->stopping) {
			conf_unref(conf);
			break;
		}
		pthread_mutex_unlock(&ctl->lock);
		controller_settle_unsettled(ctl, conf);
		controller_observe_round(ctl);
		atomic_fetch_add(&ctl->resyncs, 1);
		conf_unref(conf);
		pthread_mutex_lock(&ctl->lock);
	}
	pthread_mutex_unlock(&ctl->lock);
	return NULL;
}

int controller_start(struct registry *reg, struct orchestrator *orch, struct controller **ret, struct tnd_error *err)
{
	struct controller *ctl = tnd_xcalloc(1, sizeof(*ctl));

	ctl->reg = reg;
	ctl->orch = orch;
	pthread_mutex_init(&ctl->lock, NULL);
	pthread_cond_init(&ctl->cond, NULL);
	/* the first resync right away: catch what a crash or an upgrade left */
	ctl->kicked = true;
	if (pthread_create(&ctl->thread, NULL, controller_main, ctl) != 0) {
		tnd_error_set(err, "cannot start the controller thread");
		pthread_mutex_destroy(&ctl->lock);
		pthread_cond_destroy(&ctl->cond);
		free(ctl);
		return -EAGAIN;
	}
	*ret = ctl;
	return 0;
}

void controller_kick(struct controller *ctl)
{
	pthread_mutex_lock(&ctl->lock);
	ctl->kicked = true;
	pthread_cond_signal(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
}

uint64_t controller_resyncs(struct controller *ctl)
{
	return atomic_load(&ctl->resyncs);
}

void controller_stop(struct controller *ctl)
{
	if (ctl == NULL)
		return;
	pthread_mutex_lock(&ctl->lock);
	ctl->stopping = true;
	pthread_cond_signal(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
	pthread_join(ctl->thread, NULL);
	pthread_mutex_destroy(&ctl->lock);
	pthread_cond_destroy(&ctl->cond);
	free(ctl);
}
