/*
 * lifecycle.c — the tenant lifecycle state machine (DESIGN.md §4).  The
 * transition table below is the only place that says which phase may
 * follow which; everything else (messages, the API's 409s, the
 * controller's choice of workflow) is derived from it.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lifecycle.h"
#include "util.h"

#define LIFECYCLE_N_PHASES (TND_PHASE_DELETED + 1)

static const struct {
	const char *phase_name;  /* status.phase spelling */
	const char *state_name;  /* spec.state spelling */
	bool requestable;        /* may a manifest ask for it? */
} lifecycle_phases[LIFECYCLE_N_PHASES] = {
	[TND_PHASE_DRAFT] = { "Draft", "draft", true },
	[TND_PHASE_ACTIVE] = { "Active", "active", true },
	[TND_PHASE_SUSPENDED] = { "Suspended", "suspended", true },
	[TND_PHASE_ARCHIVED] = { "Archived", "archived", true },
	/* a tombstone only DELETE creates; the id is never reused */
	[TND_PHASE_DELETED] = { "Deleted", "deleted", false },
};

/* lifecycle_transitions[from][to] */
static const bool lifecycle_transitions[LIFECYCLE_N_PHASES][LIFECYCLE_N_PHASES] = {
	[TND_PHASE_DRAFT] = { [TND_PHASE_ACTIVE] = true, [TND_PHASE_DELETED] = true },
	[TND_PHASE_ACTIVE] = { [TND_PHASE_SUSPENDED] = true, [TND_PHASE_ARCHIVED] = true },
	[TND_PHASE_SUSPENDED] = { [TND_PHASE_ACTIVE] = true, [TND_PHASE_ARCHIVED] = true },
	[TND_PHASE_ARCHIVED] = { [TND_PHASE_DELETED] = true },
	[TND_PHASE_DELETED] = { 0 },
};

static bool lifecycle_phase_valid(enum tnd_phase phase)
{
	return phase >= TND_PHASE_DRAFT && phase <= TND_PHASE_DELETED;
}

const char *lifecycle_phase_name(enum tnd_phase phase)
{
	return lifecycle_phase_valid(phase) ? lifecycle_phases[phase].phase_name : NULL;
}

const char *lifecycle_state_name(enum tnd_phase phase)
{
	return lifecycle_phase_valid(phase) ? lifecycle_phases[phase].state_name : NULL;
}

enum tnd_phase lifecycle_phase_parse(const char *name)
{
	for (int i = 0; name && i < LIFECYCLE_N_PHASES; i++)
		if (strcasecmp(name, lifecycle_phases[i].phase_name) == 0)
			return (enum tnd_phase)i;
	return TND_PHASE_INVALID;
}

bool lifecycle_transition_allowed(enum tnd_phase from, enum tnd_phase to)
{
	return lifecycle_phase_valid(from) && lifecycle_phase_valid(to) && lifecycle_transitions[from][to];
}

bool lifecycle_state_requestable(enum tnd_phase phase)
{
	return lifecycle_phase_valid(phase) && lifecycle_phases[phase].requestable;
}

int lifecycle_check(enum tnd_phase from, enum tnd_phase to, struct tnd_error *err)
{
	char allowed[128] = "";

	if (!lifecycle_phase_valid(from) || !lifecycle_phase_valid(to)) {
		tnd_error_set(err, "unknown lifecycle phase");
		return -EINVAL;
	}
	if (from == to || lifecycle_transitions[from][to])
		return 0;

	for (int i = 0; i < LIFECYCLE_N_PHASES; i++) {
		if (!lifecycle_transitions[from][i])
			continue;
		if (*allowed)
			strcat(allowed, ", ");
		strcat(allowed, lifecycle_phases[i].phase_name);
	}
	tnd_error_set(err, "cannot go from %s to %s: allowed from %s: %s", lifecycle_phases[from].phase_name,
		      lifecycle_phases[to].phase_name, lifecycle_phases[from].phase_name,
		      *allowed ? allowed : "none");
	return -EPERM;
}

int lifecycle_path(enum tnd_phase from, enum tnd_phase to, enum tnd_phase ret_path[5])
{
	enum tnd_phase previous[5];
	enum tnd_phase queue[5];
	bool seen[5] = { false };
	size_t head = 0, tail = 0;
	int n = 0;

	if (from < TND_PHASE_DRAFT || from > TND_PHASE_DELETED || to < TND_PHASE_DRAFT || to > TND_PHASE_DELETED)
		return -1;
	if (from == to)
		return 0;
	/* breadth first over the five phases */
	queue[tail++] = from;
	seen[from] = true;
	while (head < tail) {
		enum tnd_phase p = queue[head++];
		for (int q = TND_PHASE_DRAFT; q <= TND_PHASE_DELETED; q++) {
			if (seen[q] || !lifecycle_transition_allowed(p, (enum tnd_phase)q))
				continue;
			seen[q] = true;
			previous[q] = p;
			queue[tail++] = (enum tnd_phase)q;
		}
	}
	if (!seen[to])
		return -1;
	for (enum tnd_phase p = to; p != from; p = previous[p])
		n++;
	for (enum tnd_phase p = to, i = (enum tnd_phase)(n - 1); p != from; p = previous[p], i--)
		ret_path[i] = p;
	return n;
}
