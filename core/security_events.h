/*
 * security_events.h — one record per step of token and break-glass
 * management (token created/revoked, grant requested/approved/denied,
 * and the refusals among them).
 *
 * Each is a log line.  The audit record of such a request is written by the
 * handler in the change's own transaction (api_audit_success()), or, for a
 * refusal, by api_send_problem(); this log is the operator's readable trace
 * beside it.
 */
#ifndef TND_SECURITY_EVENTS_H
#define TND_SECURITY_EVENTS_H

struct tnd_principal;

/**
 * Log one step: @action ("token.create", "breakglass.approve", ...) by
 * @who (its name and own role: a break-glass grant does not count) in
 * request @request_id, on @target (token or grant id; may be NULL), with
 * @outcome ("allowed", "denied", "failed") and @detail for people (never a
 * secret or a hash; may be NULL).
 */
void security_event_record(const struct tnd_principal *who, const char *request_id, const char *action,
			   const char *target, const char *outcome, const char *detail);

#endif /* TND_SECURITY_EVENTS_H */
