/*
 * reconcile.h — attaching reconcile work to a mutation (docs/reconcile.md).
 *
 * When a mutation changes a tenant's desired state (new version, new
 * spec.state), reconcile_attach() decides, inside that mutation's
 * transaction, how the data plane will follow: either at once (registry-only
 * mode, or nothing to do on the data plane: the phase follows in the same
 * transaction), or through a new workflow written in the same transaction,
 * which supersedes any active one of the tenant and seals the tenant's
 * credentials when it will provision.
 *
 * The module keeps the daemon-wide pieces the mutation paths need: the
 * credentials key and the orchestrator's wake-up.
 */
#ifndef TND_RECONCILE_H
#define TND_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <tenancyd/plugin.h>

#include "lifecycle.h"

struct credentials_key;
struct registry;
struct registry_txn;
struct request_ctx;
struct tenant_row;
struct tnd_conf;
struct workflow;

/** Install the credentials key (taken over) and the wake-up called after a
 *  workflow was committed.  reconcile_shutdown() releases them. */
void reconcile_setup(struct credentials_key *key, void (*wake)(void *userdata), void *userdata);
void reconcile_shutdown(void);
const struct credentials_key *reconcile_key(void);
/** Tell the orchestrator new work was committed. */
void reconcile_wake(void);

/** True when mutations go through workflows (isolation plugins configured,
 *  storage ABI >= 1.1 and a credentials key installed). */
bool reconcile_active(const struct tnd_conf *conf, struct registry *reg);

/**
 * @next is the row about to be written (new version/state in place, phase
 * and status still the current ones); @before the current row, or NULL for
 * a tenant being created (its phase is Draft).  Adds to @txn what the
 * change needs and updates @next (phase, observed version and status when
 * settled at once; a Reconciling condition otherwise).
 *
 * Returns 0, or -ESTALE when an active workflow changed while deciding
 * (take the whole decision again), or another negative errno with @err.
 * *@ret_transition_from is the phase @next had before a direct settlement
 * (TND_PHASE_INVALID when the phase did not change at once).
 */
int reconcile_attach(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
		     const struct tenant_row *before, struct tenant_row *next, const struct request_ctx *rctx,
		     enum tnd_phase *ret_transition_from, struct tnd_error *err);

/**
 * For the controller: a workflow for @row (which is unsettled, or @drift
 * non-NULL: drifted), written with the row's Reconciling condition in one
 * transaction.  -EALREADY when the tenant has an active workflow.
 */
int reconcile_start_for(struct registry *reg, const struct tnd_conf *conf, const struct tenant_row *row,
			const json_t *drift, const char *reason, struct tnd_error *err);

/** Build the Reconciling / ReconcileFailed condition list for a status. */
json_t *reconcile_conditions(const char *type, const char *reason, const char *message, const char *workflow_id,
			     int64_t now_ms);

/** The effective quotas of a tenant: its plan's, overridden by spec.quotas. */
json_t *reconcile_effective_quotas(const struct tnd_conf *conf, const json_t *manifest);

#endif /* TND_RECONCILE_H */
