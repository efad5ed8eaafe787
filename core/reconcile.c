/*
 * reconcile.c — attaching reconcile work to a mutation (see reconcile.h and
 * docs/reconcile.md): settle at once, or supersede the tenant's active
 * workflows and write a new one, with the tenant's sealed credentials, in
 * the mutation's own transaction.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "events.h"
#include "credentials.h"
#include "host.h"
#include "log.h"
#include "reconcile.h"
#include "registry.h"
#include "tenant_service.h"
#include "util.h"
#include "workflow.h"

#define LOG_COMPONENT "reconcile"

static pthread_mutex_t reconcile_lock = PTHREAD_MUTEX_INITIALIZER;
static struct credentials_key *reconcile_credentials;
static void (*reconcile_wake_fn)(void *userdata);
static void *reconcile_wake_userdata;

void reconcile_setup(struct credentials_key *key, void (*wake)(void *userdata), void *userdata)
{
	pthread_mutex_lock(&reconcile_lock);
	credentials_key_free(reconcile_credentials);
	reconcile_credentials = key;
	reconcile_wake_fn = wake;
	reconcile_wake_userdata = userdata;
	pthread_mutex_unlock(&reconcile_lock);
}

void reconcile_shutdown(void)
{
	reconcile_setup(NULL, NULL, NULL);
}

const struct credentials_key *reconcile_key(void)
{
	return reconcile_credentials;
}

void reconcile_wake(void)
{
	void (*wake)(void *);
	void *userdata;

	pthread_mutex_lock(&reconcile_lock);
	wake = reconcile_wake_fn;
	userdata = reconcile_wake_userdata;
	pthread_mutex_unlock(&reconcile_lock);
	if (wake)
		wake(userdata);
}

bool reconcile_active(const struct tnd_conf *conf, struct registry *reg)
{
	return conf_reconcile_enabled(conf) && registry_supports_reconcile(reg) && reconcile_credentials != NULL;
}

/* --- status ---------------------------------------------------------------------- */

json_t *reconcile_conditions(const char *type, const char *reason, const char *message, const char *workflow_id,
			     int64_t now_ms)
{
	char when[32];

	tnd_format_time(now_ms, when);
	return json_pack("[{s:s,s:s,s:s,s:s,s:s?,s:s}]", "type", type, "status", "True", "reason", reason, "message",
			 message, "workflow", workflow_id, "lastTransitionTime", when);
}

/* Settle @next at once: the phase follows its desired state in this very transaction. */
static void reconcile_settle(struct tenant_row *next, int64_t now_ms, enum tnd_phase *ret_from)
{
	json_t *status = json_deep_copy(next->status);
	char when[32];

	*ret_from = TND_PHASE_INVALID;
	if (next->phase != next->state) {
		*ret_from = next->phase;
		next->phase = next->state;
		json_object_set_new(status, "phase", json_string(lifecycle_phase_name(next->phase)));
		tnd_format_time(now_ms, when);
		json_object_set_new(status, "lastTransitionTime", json_string(when));
	}
	next->observed_version = next->version;
	json_object_set_new(status, "observedVersion", json_integer(next->version));
	json_object_set_new(status, "conditions", json_array());
	json_decref(next->status);
	next->status = status;
}

/* The spec without its state: a pure state change re-applies no parameters. */
static bool reconcile_same_spec(const json_t *a, const json_t *b)
{
	json_t *sa = json_deep_copy(json_object_get(a, "spec"));
	json_t *sb = json_deep_copy(json_object_get(b, "spec"));
	bool same;

	json_object_del(sa, "state");
	json_object_del(sb, "state");
	same = json_equal(sa, sb);
	json_decref(sa);
	json_decref(sb);
	return same;
}

json_t *reconcile_effective_quotas(const struct tnd_conf *conf, const json_t *manifest)
{
	const json_t *spec = json_object_get(manifest, "spec");
	const struct tnd_plan_conf *plan = conf_plan(conf, json_string_value(json_object_get(spec, "plan")));
	json_t *quotas = json_object();
	json_t *overrides = json_object_get(spec, "quotas");
	const char *key;
	json_t *value;

	if (plan) {
		json_object_set_new(quotas, "computeUnits", json_integer(plan->quotas.compute_units));
		json_object_set_new(quotas, "storageGb", json_integer(plan->quotas.storage_gb));
		json_object_set_new(quotas, "eventsPerMinute", json_integer(plan->quotas.events_per_minute));
		json_object_set_new(quotas, "concurrentOperations", json_integer(plan->quotas.concurrent_operations));
	}
	json_object_foreach(overrides, key, value)
		json_object_set(quotas, key, value);
	return quotas;
}

/* --- workflows ---------------------------------------------------------------------- */

struct reconcile_active_list {
	struct workflow **items;
	size_t n;
};

static int reconcile_collect_active(const struct workflow *wf, void *userdata)
{
	struct reconcile_active_list *list = userdata;
	struct workflow *copy = tnd_xcalloc(1, sizeof(*copy));

	*copy = *wf;
	copy->id = tnd_xstrdup(wf->id);
	copy->tenant_id = tnd_xstrdup(wf->tenant_id);
	copy->kind = tnd_xstrdup(wf->kind);
	copy->doc = json_deep_copy(wf->doc);
	list->items = tnd_xrealloc(list->items, (list->n + 1) * sizeof(*list->items));
	list->items[list->n++] = copy;
	return 0;
}

static int reconcile_list_active(struct registry *reg, const char *tenant_id, struct reconcile_active_list *list,
				 struct tnd_error *err)
{
	struct tnd_workflow_query query = { .size = sizeof(query), .tenant_id = tenant_id, .active = 1, .limit = 100 };

	return registry_workflow_list(reg, &query, reconcile_collect_active, list, err);
}

/* Active workflows, and Failed ones: a newer desire makes both obsolete
 * (a Failed workflow of an old version could never be retried, and would
 * keep alerting). */
static int reconcile_list_replaceable(struct registry *reg, const char *tenant_id,
				      struct reconcile_active_list *list, struct tnd_error *err)
{
	struct tnd_workflow_query failed = { .size = sizeof(failed), .tenant_id = tenant_id, .state = "Failed",
					     .limit = 1000 };
	int r = reconcile_list_active(reg, tenant_id, list, err);

	if (r < 0)
		return r;
	return registry_workflow_list(reg, &failed, reconcile_collect_active, list, err);
}

static void reconcile_list_free(struct reconcile_active_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		workflow_free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

/* Seal a fresh password for @tenant_id unless it has credentials already. */
static int reconcile_ensure_credentials(struct registry *reg, struct registry_txn *txn, const char *tenant_id,
					struct tnd_error *err)
{
	char *key_id = NULL, *sealed = NULL, password[44];
	int r = registry_credential_get(reg, tenant_id, &key_id, &sealed, err);

	free(key_id);
	free(sealed);
	if (r == 0)
		return 0;
	if (r != -ENOENT)
		return r;
	credentials_password_generate(password);
	r = credentials_seal(reconcile_credentials, tenant_id, password, &sealed, err);
	explicit_bzero(password, sizeof(password));
	if (r < 0)
		return r;
	registry_txn_put_credential(txn, tenant_id, credentials_key_id(reconcile_credentials), sealed, tnd_now_ms());
	free(sealed);
	return 0;
}

static int reconcile_any_visit(const struct workflow *wf, void *userdata)
{
	(void)wf;
	*(bool *)userdata = true;
	return 0;
}

/* True when some workflow, in any state, was ever written for @tenant_id. */
static int reconcile_had_workflows(struct registry *reg, const char *tenant_id, bool *ret_had, struct tnd_error *err)
{
	struct tnd_workflow_query query = { .size = sizeof(query), .tenant_id = tenant_id, .limit = 1 };
	bool had = false;
	int r = registry_workflow_list(reg, &query, reconcile_any_visit, &had, err);

	if (r < 0)
		return r;
	*ret_had = had;
	return 0;
}

static bool reconcile_plan_provisions(const struct workflow_plan *plan)
{
	for (size_t i = 0; i < plan->n_steps; i++)
		if (strcmp(plan->steps[i], "provision") == 0)
			return true;
	return false;
}

/* Add a new workflow for @next following @plan, and mark @next Reconciling. */
static int reconcile_add_workflow(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
				  struct tenant_row *next, const struct workflow_plan *plan, const char *actor,
				  const char *request_id, const json_t *drift, struct tnd_error *err)
{
	const struct tnd_region_conf *region = conf_region(conf, next->region);
	const char *plugin = conf_region_isolation_plugin(region, isolation_parse(next->isolation));
	struct workflow *wf;
	json_t *status;
	char message[160];
	int64_t now = tnd_now_ms();
	int r;

	if (plugin == NULL) {
		tnd_error_set(err, "region %s offers no isolation plugin for mode %s", next->region ? next->region : "(none)",
			      next->isolation ? next->isolation : "(none)");
		return -ENXIO;
	}
	if (reconcile_plan_provisions(plan)) {
		r = reconcile_ensure_credentials(reg, txn, next->id, err);
		if (r < 0)
			return r;
	}
	wf = workflow_new(next->id, next->version, next->state, plan, plugin, next->region, next->isolation, actor,
			  request_id, now);
	if (drift)
		json_object_set(wf->doc, "drift", (json_t *)drift);
	registry_txn_put_workflow(txn, wf, -1);
	snprintf(message, sizeof(message), "%s to version %lld (%s)", wf->kind, (long long)next->version,
		 lifecycle_state_name(next->state));
	status = json_deep_copy(next->status);
	json_object_set_new(status, "conditions", reconcile_conditions("Reconciling", wf->kind, message, wf->id, now));
	json_decref(next->status);
	next->status = status;
	workflow_free(wf);
	return 0;
}

int reconcile_attach(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
		     const struct tenant_row *before, struct tenant_row *next, const struct request_ctx *rctx,
		     enum tnd_phase *ret_transition_from, struct tnd_error *err)
{
	struct reconcile_active_list active = { NULL, 0 };
	struct workflow_plan plan;
	int64_t now = tnd_now_ms();
	int r;

	*ret_transition_from = TND_PHASE_INVALID;
	if (!reconcile_active(conf, reg)) {
		/* registry-only mode: there is no data plane to follow */
		reconcile_settle(next, now, ret_transition_from);
		return 0;
	}
	workflow_plan_steps(next->phase, next->state, before ? !reconcile_same_spec(before->manifest, next->manifest) : true,
			    false, &plan);
	/*
	 * "A draft owns nothing" holds only while no workflow ever ran for it:
	 * an activation that failed, or one superseded just now while its
	 * provision may still be running on a worker, can have created the
	 * tenant's role and files.  Deleting such a draft destroys whatever is
	 * there (destroy is idempotent: nothing there is success), after the
	 * running step, as the orchestrator runs one step per tenant at a time.
	 */
	if (plan.n_steps == 0 && next->state == TND_PHASE_DELETED && before) {
		bool had = false;

		r = reconcile_had_workflows(reg, next->id, &had, err);
		if (r < 0)
			return r;
		if (had) {
			plan.kind = "delete";
			plan.steps[0] = "destroy";
			plan.n_steps = 1;
		}
	}
	/* one active workflow per tenant: the newest desire wins */
	if (before) {
		r = reconcile_list_replaceable(reg, next->id, &active, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < active.n; i++) {
			struct workflow *wf = active.items[i];
			int64_t expect = wf->revision;
			wf->revision++;
			wf->state = WORKFLOW_SUPERSEDED;
			wf->updated_ms = now;
			json_object_set_new(wf->doc, "supersededBy", json_integer(next->version));
			registry_txn_put_workflow(txn, wf, expect);
		}
		reconcile_list_free(&active);
	}
	if (plan.n_steps == 0) {
		reconcile_settle(next, now, ret_transition_from);
		if (next->state == TND_PHASE_DELETED)
			registry_txn_delete_credential(txn, next->id);
		return 0;
	}
	return reconcile_add_workflow(reg, conf, txn, next, &plan, rctx->actor, rctx->request_id, NULL, err);
}

int reconcile_start_for(struct registry *reg, const struct tnd_conf *conf, const struct tenant_row *row,
			const json_t *drift, const char *reason, struct tnd_error *err)
{
	struct reconcile_active_list active = { NULL, 0 };
	struct tenant_row next = *row;
	struct workflow_plan plan;
	struct registry_txn txn;
	enum tnd_phase from = row->phase;
	int r;

	r = reconcile_list_active(reg, row->id, &active, err);
	if (r < 0)
		return r;
	if (active.n > 0) {
		reconcile_list_free(&active);
		return -EALREADY;
	}
	/* a drifted settled tenant is rebuilt in place; an unsettled one is planned
	 * from where it is (parameters re-applied: we cannot tell what changed) */
	workflow_plan_steps(from, row->state, true, drift != NULL, &plan);
	if (plan.n_steps == 0)
		return 0;
	next.revision = row->revision + 1;
	next.status = json_deep_copy(row->status);
	next.updated_ms = tnd_now_ms();
	registry_txn_init(&txn);
	r = reconcile_add_workflow(reg, conf, &txn, &next, &plan, "tenancyd", reason, drift, err);
	if (r == 0 && drift)
		events_add_drift_detected(reg, conf, &txn, &next, drift, next.updated_ms);
	if (r == 0) {
		registry_txn_put_tenant(&txn, &next, row->revision);
		r = registry_commit(reg, &txn, NULL, err);
	}
	registry_txn_clear(&txn);
	json_decref(next.status);
	if (r == 0)
		reconcile_wake();
	return r;
}
