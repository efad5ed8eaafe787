/*
 * lifecycle.h — the tenant lifecycle state machine (DESIGN.md §4), the one
 * place that knows which phase may follow which.
 *
 *   Draft → Active → Suspended → Active
 *   Active | Suspended → Archived
 *   Draft | Archived → Deleted      (a tombstone; the id is never reused)
 *
 * The API asks it before recording a desired state; the controller (later)
 * asks it before starting a workflow.
 */
#ifndef TND_LIFECYCLE_H
#define TND_LIFECYCLE_H

#include <stdbool.h>

#include <tenancyd/plugin.h>

enum tnd_phase {
	TND_PHASE_INVALID = -1,
	TND_PHASE_DRAFT = 0,
	TND_PHASE_ACTIVE,
	TND_PHASE_SUSPENDED,
	TND_PHASE_ARCHIVED,
	TND_PHASE_DELETED,
};

/** "Draft" ... "Deleted". */
const char *lifecycle_phase_name(enum tnd_phase phase);
/** "draft" ... "deleted" (the spec.state spelling). */
const char *lifecycle_state_name(enum tnd_phase phase);
/** Parse a phase ("Active") or a state ("active"), case-insensitively. */
enum tnd_phase lifecycle_phase_parse(const char *name);

/** True if a tenant in @from may move to @to (same phase is not a transition). */
bool lifecycle_transition_allowed(enum tnd_phase from, enum tnd_phase to);

/**
 * Check a requested change of desired state.  0 when @to equals @from or the
 * transition is allowed; otherwise -EPERM with @err reading e.g.
 * "cannot go from Draft to Suspended: allowed from Draft: Active, Deleted".
 */
int lifecycle_check(enum tnd_phase from, enum tnd_phase to, struct tnd_error *err);

/**
 * The shortest sequence of allowed transitions from @from to @to (@ret_path
 * holds every phase after @from, ending with @to).
 * Returns its length (0 when @from == @to), or -1 when @to is unreachable.
 * A workflow that jumps phases (a suspend that overtook an activation)
 * records the path it stands for, so the history only holds transitions
 * the lifecycle allows.
 */
int lifecycle_path(enum tnd_phase from, enum tnd_phase to, enum tnd_phase ret_path[5]);

/** The states a manifest's spec.state may ask for (everything but deleted,
 *  which only DELETE requests). */
bool lifecycle_state_requestable(enum tnd_phase phase);

#endif /* TND_LIFECYCLE_H */
