/*
 * events.h — the event outbox of DESIGN §6 (see docs/events.md).
 *
 * Mutations add their CloudEvents to the registry txn that makes the
 * change, so an event exists exactly when its change does (DESIGN §1).
 * The storage driver assigns each event's sequence inside the commit;
 * reading the outbox fills `sequence` in.  Readers that want to wait for
 * new events (long-polling replay) sleep on events_wait(), which every
 * commit carrying events wakes.
 */
#ifndef TND_EVENTS_H
#define TND_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "lifecycle.h"

struct registry;
struct registry_txn;
struct tnd_conf;
struct tenant_row;
struct workflow;
struct tnd_error;

#define EVENTS_TYPE_PREFIX "tenancy.tenant."

/**
 * Add the events the phase transitions already in @txn stand for: the
 * first phase of a tenant (none → Draft) is `created` (with @row's plan,
 * isolation and region), every other hop its phase event (activated,
 * suspended, resumed, archived, deleted).  @workflow_id (may be NULL) names
 * the workflow whose checkpoint moved the phase.  Call it once, after the
 * transitions were added and before the commit.  Does nothing when the
 * driver keeps no outbox.
 */
void events_add_for_transitions(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
				const struct tenant_row *row, const char *workflow_id, int64_t now_ms);

/** `plan_updated`, when version @after of a tenant changes the plan of @before. */
void events_add_plan_updated(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
			     const struct tenant_row *before, const struct tenant_row *after, const char *request_id,
			     int64_t now_ms);

/** `reconcile_failed`: @wf (of tenant @row) went Failed with @error. */
void events_add_reconcile_failed(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
				 const struct tenant_row *row, const struct workflow *wf, const char *error,
				 int64_t now_ms);

/** `drift_detected`: the data plane of @row drifted (@drift: the reasons);
 *  added to the txn that starts the repair. */
void events_add_drift_detected(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
			       const struct tenant_row *row, const json_t *drift, int64_t now_ms);

/** `drift_corrected`: repair workflow @wf of @row finished. */
void events_add_drift_corrected(struct registry *reg, const struct tnd_conf *conf, struct registry_txn *txn,
				const struct tenant_row *row, const struct workflow *wf, int64_t now_ms);

/** The filter of a replay. */
struct events_query {
	int64_t after_seq;
	uint32_t limit;
	const char *tenant_id;  /* NULL: every tenant */
	const char *type;       /* full ("tenancy.tenant.created") or short ("created"); NULL: all */
};

/**
 * Read events after query->after_seq, as CloudEvents with `sequence`
 * filled in, into a new JSON array; *@ret_last_seq is the seq of the last
 * event read (query->after_seq if none).  -ENOTSUP without an outbox.
 */
int events_list(struct registry *reg, const struct events_query *query, json_t **ret_items, int64_t *ret_last_seq,
		struct tnd_error *err);

/** A commit carrying events succeeded: wake the waiters. */
void events_committed(void);
/** The count of such commits so far; pass it to events_wait(). */
uint64_t events_generation(void);
/** Sleep until a commit with events after @generation, or @timeout_ms.  True if woken by one. */
bool events_wait(uint64_t generation, int64_t timeout_ms);

/** The sequence as CloudEvents carries it: 20 zero-padded decimal digits. */
void events_format_sequence(int64_t seq, char out[24]);

#endif /* TND_EVENTS_H */
