/*
 * security_events.c — records the steps of token and break-glass
 * management (see security_events.h).  Callers pass no secrets: a token's
 * secret and hash never reach this file.
 */
#include "autoconfig.h"

#include <string.h>

#include "log.h"
#include "security_events.h"

#define LOG_COMPONENT "security"

void security_event_record(const struct security_event *ev)
{
	/* the audit record is written with the change itself (api_audit_success)
	 * or with the refusal (api_send_problem): this is the log line only */
	log_emit(strcmp(ev->outcome, "allowed") == 0 ? TND_LOG_NOTICE : TND_LOG_WARNING, LOG_COMPONENT, NULL,
		 "%s %s by %s (%s)%s%s: %s [request %s]", ev->action, ev->outcome, ev->actor, ev->actor_role,
		 ev->target ? " on " : "", ev->target ? ev->target : "", ev->detail ? ev->detail : "",
		 ev->request_id ? ev->request_id : "-");
}
