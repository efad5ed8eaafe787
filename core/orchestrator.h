/*
 * orchestrator.h — running workflows: pick due workflows from the registry
 * (one per tenant at a time), dispatch each step to a worker, and commit the
 * step's result together with its checkpoint and the tenant's new status in
 * one transaction; retry failures with backoff; fail for good after the
 * last attempt.  Also runs one-off `observe` tasks for the controller.
 */
#ifndef TND_ORCHESTRATOR_H
#define TND_ORCHESTRATOR_H

#include <jansson.h>

#include <tenancyd/plugin.h>

struct registry;
struct orchestrator;

/** Start the worker pool (spawning conf->daemon.workers workers run with
 *  @config_path) and the orchestrator's threads. */
int orchestrator_start(struct registry *reg, const char *config_path, struct orchestrator **ret,
		       struct tnd_error *err);
/** New or retried work was committed: look now, not at the next tick. */
void orchestrator_wake(struct orchestrator *orch);
/** What is in flight for workflow @id ({"step", "op", "since", "worker"?}), or NULL. */
json_t *orchestrator_live(struct orchestrator *orch, const char *workflow_id);

/** Result of an observe task: rc, the plugin's result document (borrowed) or error text. */
typedef void orchestrator_observed_fn(const char *tenant_id, int rc, const json_t *result, const char *error,
				      void *userdata);
/** Run `observe` for a tenant row (tenant_row) on a worker; @done is called
 *  on an orchestrator thread.  -EBUSY when the tenant has a task in flight. */
struct tenant_row;
int orchestrator_observe(struct orchestrator *orch, const struct tenant_row *row, orchestrator_observed_fn *done,
			 void *userdata);

/** Counters for /metrics and tests. */
struct orchestrator_stats {
	unsigned in_flight;
	uint64_t steps_succeeded;
	uint64_t steps_failed;
	uint64_t workflows_succeeded;
	uint64_t workflows_failed;
};
void orchestrator_stats(struct orchestrator *orch, struct orchestrator_stats *ret);

/** Stop dispatching, let in-flight results commit (bounded wait), stop the
 *  workers.  Accepts NULL. */
void orchestrator_stop(struct orchestrator *orch);

#endif /* TND_ORCHESTRATOR_H */
