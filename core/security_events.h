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

struct security_event {
	const char *action;      /* "token.create", "breakglass.approve", ... */
	const char *actor;       /* the principal's name */
	const char *actor_role;  /* its own role (break-glass does not count) */
	const char *target;      /* token or grant id; may be NULL */
	const char *outcome;     /* "allowed", "denied", "failed" */
	const char *request_id;
	const char *detail;      /* for people; never a secret or a hash */
};

void security_event_record(const struct security_event *ev);

#endif /* TND_SECURITY_EVENTS_H */
