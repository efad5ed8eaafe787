/*
 * cli_wait.h — `--wait`: after a write, follow the tenant until the
 * reconcile engine has settled it (docs/reconcile.md): its observed version
 * has reached the version the write made and its phase is the desired
 * state.  A ReconcileFailed condition ends the wait with the failure; so
 * does the deadline.
 */
#ifndef TND_CLI_WAIT_H
#define TND_CLI_WAIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli_commands.h"

/* The default of a bare --wait, and the largest --wait=SECONDS. */
#define CLI_WAIT_DEFAULT_S 60
#define CLI_WAIT_MAX_S 86400
/* Polling starts this often and slows down to CLI_WAIT_POLL_MAX_MS. */
#define CLI_WAIT_POLL_FIRST_MS 100
#define CLI_WAIT_POLL_MAX_MS 1000

enum cli_settle {
	CLI_SETTLE_PENDING,  /* not yet: the engine is (or will be) working on it */
	CLI_SETTLE_DONE,     /* observedVersion >= the awaited version, phase == desired state */
	CLI_SETTLE_FAILED,   /* a ReconcileFailed condition: an operator must act */
};

/**
 * Judge tenant document @tenant (as GET /v1/tenants/{id} returns it)
 * against @min_version, the version the write returned.  For
 * CLI_SETTLE_FAILED, *@ret_condition (if not NULL) is the ReconcileFailed
 * condition (borrowed from @tenant).
 */
enum cli_settle cli_tenant_settle(const json_t *tenant, int64_t min_version, const json_t **ret_condition);

/**
 * What a tenant is waiting for, for a timeout message: "to be Active at
 * version 2 (now Draft, observed version 1; Reconciling (activate): ...)".
 * Caller frees.
 */
char *cli_settle_describe(const json_t *tenant, int64_t min_version);

struct cli_wait_target {
	const char *id;      /* tenant id */
	int64_t version;     /* the version the write returned */
	json_t *tenant;      /* out: the last document read (settled, failed or not); caller decrefs */
	enum cli_settle outcome;
};

/**
 * Poll GET /v1/tenants/{id} of every target until each is settled or
 * failed, or @timeout_ms passes (every CLI_WAIT_POLL_FIRST_MS at first,
 * slowing to CLI_WAIT_POLL_MAX_MS).  In table output each settled tenant
 * is printed as "tenant/<id> <state> (version N)"; a failure prints the
 * condition's message, its workflow and how to retry it; the timeout names
 * what each unsettled tenant waits for.  Returns 0 if all settled,
 * -ECANCELED if any failed, -ETIMEDOUT, or the error of a failed request
 * (printed by cli_call).
 */
int cli_wait_settled(struct cli_ctx *ctx, struct cli_wait_target *targets, size_t n, int64_t timeout_ms);

/** Release what cli_wait_settled() left in @targets. */
void cli_wait_targets_clear(struct cli_wait_target *targets, size_t n);

#endif /* TND_CLI_WAIT_H */
