/*
 * security_events.c — records the steps of token and break-glass
 * management (see security_events.h).  Callers pass no secrets: a token's
 * secret and hash never reach this file.
 */
#include "autoconfig.h"

#include <string.h>

#include "log.h"
#include "security_events.h"
#include "tokens.h"

#define LOG_COMPONENT "security"

void security_event_record(const struct tnd_principal *who, const char *request_id, const char *action,
			   const char *target, const char *outcome, const char *detail)
{
	/* the audit record is written with the change itself (api_audit_success)
	 * or with the refusal (api_send_problem): this is the log line only */
	log_emit(strcmp(outcome, "allowed") == 0 ? TND_LOG_NOTICE : TND_LOG_WARNING, LOG_COMPONENT, NULL,
		 "%s %s by %s (%s)%s%s: %s [request %s]", action, outcome, who->name, role_name(who->base_role),
		 target ? " on " : "", target ? target : "", detail ? detail : "", request_id ? request_id : "-");
}
