/*
 * webhook_schedule.c — exponential backoff with full jitter and the
 * verdict on one delivery attempt (see webhook_schedule.h).
 */
#include "autoconfig.h"

#include <errno.h>

#include "webhook_schedule.h"

int64_t webhook_backoff_ceiling(const struct webhook_retry_policy *policy, int64_t attempts)
{
	int64_t ceiling = policy->base_ms;

	if (attempts < 1)
		attempts = 1;
	for (int64_t i = 1; i < attempts && ceiling < policy->cap_ms; i++)
		ceiling *= 2; /* stops at the cap: no overflow */
	return ceiling < policy->cap_ms ? ceiling : policy->cap_ms;
}

int64_t webhook_backoff_delay(const struct webhook_retry_policy *policy, int64_t attempts, uint64_t random)
{
	int64_t ceiling = webhook_backoff_ceiling(policy, attempts);

	return ceiling <= 0 ? 0 : (int64_t)(random % ((uint64_t)ceiling + 1));
}

enum webhook_verdict webhook_judge(const struct webhook_retry_policy *policy, const struct webhook_attempt *attempt,
				   int64_t attempts, int64_t now_ms, uint64_t random, int64_t *ret_next_ms)
{
	int64_t wait;

	*ret_next_ms = 0;
	if (attempt->rc < 0) {
		/* not attempted: the SSRF guard refused the target, or the
		 * subscription is malformed.  No retry changes that; an operator
		 * fixes the settings and requeues. */
		if (attempt->rc == -ENOMEM)
			goto retry;
		return WEBHOOK_DEAD;
	}
	if (attempt->status >= 200 && attempt->status <= 299)
		return WEBHOOK_DELIVERED;
	if (attempt->disable || attempt->status == 410)
		return WEBHOOK_DISABLE;
retry:
	if (attempts >= policy->max_attempts)
		return WEBHOOK_DEAD;
	wait = webhook_backoff_delay(policy, attempts, random);
	if (attempt->retry_after_ms > wait)
		wait = attempt->retry_after_ms;
	*ret_next_ms = now_ms + wait;
	return WEBHOOK_RETRY;
}

const char *webhook_verdict_state(enum webhook_verdict verdict)
{
	switch (verdict) {
	case WEBHOOK_DELIVERED: return "delivered";
	case WEBHOOK_RETRY: return "pending";
	case WEBHOOK_DEAD: return "dead";
	case WEBHOOK_DISABLE: return "failed";
	}
	return "dead";
}
