/*
 * tenancyd/policy.h — the policy backend ops table (plugin kind POLICY).
 *
 * The core asks the policy plugin before every mutation and every workflow
 * step.  The request and the response are the contract of DESIGN.md §9:
 *
 * Request:  { "action": "tenant.apply",
 *             "actor": { "id": "ops-bot", "roles": ["operator"] },
 *             "tenant": { "id": "...", "manifest": {...}, "phase": "Active", "placement": {...} },
 *             "context": { "region": "eu-west-1", "plan": "business",
 *                          "time": "2026-11-28T10:00:00Z", "requestId": "..." } }
 * Response: { "decision": "allow" | "deny", "reasons": ["..."], "obligations": {} }
 *
 * The plugin appends the response JSON to @response.  A non-zero return, a
 * malformed response or a timeout makes the core deny (fail closed).
 */
#ifndef TENANCYD_POLICY_H
#define TENANCYD_POLICY_H

#include <tenancyd/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int tnd_policy_evaluate_fn(void *ctx, const struct tnd_json *request, struct tnd_buf *response,
				   struct tnd_error *err);
/** Re-read rules after SIGHUP; on failure the old rules stay in force. */
typedef int tnd_policy_reload_fn(void *ctx, struct tnd_error *err);

/** The ops table.  Mandatory: evaluate.  Optional: reload. */
struct tnd_policy_ops {
	uint32_t size;
	tnd_policy_evaluate_fn *evaluate;
	tnd_policy_reload_fn *reload;
};

#ifdef __cplusplus
}
#endif

#endif /* TENANCYD_POLICY_H */
