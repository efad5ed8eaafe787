/*
 * policy_gate.h — asking the policy plugin (DESIGN.md §9) before every
 * mutation and every workflow step.
 *
 * The gate builds the §9 request {action, actor, tenant, context} from a
 * struct policy_subject, calls the configured policy plugin's evaluate() on
 * the calling thread, and turns the answer into a verdict: allow, deny (with
 * the plugin's reasons) or error.  Anything but a well-formed allow or deny
 * answered within plugins.policy_timeout_ms is an error, and callers fail
 * closed on errors (the API answers 503, a workflow step fails its attempt).
 * With no policy plugin configured every request is allowed.
 *
 * Every evaluation is measured (tenancyd_policy_evaluation_seconds),
 * counted (tenancyd_policy_decisions_total, tenancyd_policy_errors_total),
 * logged, and handed to policy_gate_audit() — the one place the audit
 * record of a decision will be written.
 */
#ifndef TND_POLICY_GATE_H
#define TND_POLICY_GATE_H

#include <stdint.h>

#include <jansson.h>

struct tnd_loaded_plugin;
struct problem;

/** Default for plugins.policy_timeout_ms. */
#define POLICY_GATE_DEFAULT_TIMEOUT_MS 500

/** What is being asked for, and by whom.  Every pointer is borrowed; any may be NULL. */
struct policy_subject {
	const char *action;          /* "tenant.apply", "workflow.step.provision", ... */
	const char *actor_id;        /* the token's name, or "tenancyd" for workflow steps */
	const char *actor_role;      /* "admin", "operator", ..., "system" */
	const char *tenant_id;
	const json_t *manifest;      /* the manifest the tenant would have */
	const char *phase;           /* its current phase ("Active"); NULL for a new tenant */
	const json_t *placement;     /* {region, isolation, ...} */
	const char *plan;
	const char *request_id;
};

enum policy_verdict {
	POLICY_ALLOW,
	POLICY_DENY,
	POLICY_ERROR,
};

struct policy_decision {
	enum policy_verdict verdict;
	json_t *reasons;             /* array of strings; owned, never NULL after policy_gate_check */
	json_t *obligations;         /* object; owned, never NULL after policy_gate_check */
	char error[256];             /* POLICY_ERROR: why, for logs and the 503 detail */
	int64_t latency_us;          /* how long the plugin took (0 without a plugin) */
};

/** Use @plugin (a loaded policy plugin, or NULL for none) from now on.  The
 *  caller keeps it loaded until policy_gate_install(NULL). */
void policy_gate_install(const struct tnd_loaded_plugin *plugin);
/** True when a policy plugin is installed. */
int policy_gate_active(void);
/** SIGHUP: ask the plugin to re-read its rules (its reload op, if any); on
 *  failure the plugin keeps its old rules and the failure is logged. */
void policy_gate_reload(void);

/** The §9 request for @subject at wall-clock time @now_ms (new reference). */
json_t *policy_request_new(const struct policy_subject *subject, int64_t now_ms);

/**
 * Evaluate @subject with a deadline of @timeout_ms.  Always fills @ret (free
 * with policy_decision_clear) and returns its verdict.
 */
enum policy_verdict policy_gate_check(const struct policy_subject *subject, int64_t timeout_ms,
				      struct policy_decision *ret);
void policy_decision_clear(struct policy_decision *decision);

/** "reason one; reason two" (caller frees), for error texts. */
char *policy_reasons_text(const struct policy_decision *decision);

/** The API's answer to a deny (403) or an error (503); NULL for allow. */
struct problem *policy_problem(const struct policy_subject *subject, const struct policy_decision *decision);

/**
 * The audit hook: called once per evaluated decision (allow, deny or error).
 * Today it only logs; the audit issue writes the audit record here.
 */
void policy_gate_audit(const struct policy_subject *subject, const struct policy_decision *decision);

#endif /* TND_POLICY_GATE_H */
