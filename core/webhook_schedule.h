/*
 * webhook_schedule.h — the retry schedule and the state machine of one
 * webhook delivery (DESIGN §7, docs/webhooks.md): pure functions, no I/O,
 * so the dispatcher's decisions can be unit-tested exactly.
 *
 * States: pending (waiting for its next attempt) → delivered (a 2xx),
 * dead (the last attempt failed, or the target can never be reached as
 * configured), failed (its subscription answered 410 and was disabled).
 * An operator requeues dead deliveries back to pending.
 */
#ifndef TND_WEBHOOK_SCHEDULE_H
#define TND_WEBHOOK_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

struct webhook_retry_policy {
	int64_t base_ms;        /* first ceiling of the backoff */
	int64_t cap_ms;         /* the largest ceiling */
	int64_t max_attempts;   /* attempts before a delivery is dead, >= 1 */
};

/** What one attempt came to (the plugin's result, or its refusal). */
struct webhook_attempt {
	int rc;                 /* deliver()'s return: 0 attempted, < 0 could not be attempted */
	int64_t status;         /* HTTP status, 0: no response */
	int64_t retry_after_ms; /* the answer's Retry-After, 0: none */
	bool disable;           /* the plugin says: disable the subscription (410) */
};

enum webhook_verdict {
	WEBHOOK_DELIVERED,      /* state delivered */
	WEBHOOK_RETRY,          /* state pending, at *ret_next_ms */
	WEBHOOK_DEAD,           /* state dead: to the dead-letter list */
	WEBHOOK_DISABLE,        /* state failed, and the subscription is disabled */
};

/** The backoff ceiling after @attempts failed attempts (>= 1):
 *  min(cap, base × 2^(attempts−1)). */
int64_t webhook_backoff_ceiling(const struct webhook_retry_policy *policy, int64_t attempts);
/** Full jitter: a wait uniformly in [0, ceiling], drawn from @random. */
int64_t webhook_backoff_delay(const struct webhook_retry_policy *policy, int64_t attempts, uint64_t random);

/**
 * Judge an attempt.  @attempts counts every attempt made, this one
 * included.  On WEBHOOK_RETRY *@ret_next_ms is when to try again: now plus
 * the jittered backoff, or the Retry-After if that is longer.
 */
enum webhook_verdict webhook_judge(const struct webhook_retry_policy *policy, const struct webhook_attempt *attempt,
				   int64_t attempts, int64_t now_ms, uint64_t random, int64_t *ret_next_ms);

/** The delivery state a verdict leaves: "delivered", "pending", "dead", "failed". */
const char *webhook_verdict_state(enum webhook_verdict verdict);

#endif /* TND_WEBHOOK_SCHEDULE_H */
