/*
 * tenancyd/notifier.h — the event notifier ops table (plugin kind NOTIFIER).
 *
 * The dispatcher reads the event outbox in sequence order and hands each
 * event to every notifier whose subscription matches.  deliver() makes one
 * attempt; retries, backoff and dead letters are the dispatcher's job.
 *
 * Delivery (JSON):  { "event": { ...CloudEvent 1.0... },
 *                     "subscription": { "id": "...", "url": "...", ... },
 *                     "attempt": 1 }
 * Result (JSON the plugin appends to @result):
 *                   { "status": 204, "latencyMs": 12.5, "retryAfterMs": 0,
 *                     "disable": false }
 *
 * Return 0 when the attempt was made (whatever its outcome, which goes in
 * the result), a negative errno when it could not be made at all.
 */
#ifndef TENANCYD_NOTIFIER_H
#define TENANCYD_NOTIFIER_H

#include <tenancyd/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int tnd_notifier_deliver_fn(void *ctx, const struct tnd_json *delivery, struct tnd_buf *result,
				    struct tnd_error *err);

/** The ops table.  Mandatory: deliver. */
struct tnd_notifier_ops {
	uint32_t size;
	tnd_notifier_deliver_fn *deliver;
};

#ifdef __cplusplus
}
#endif

#endif /* TENANCYD_NOTIFIER_H */
