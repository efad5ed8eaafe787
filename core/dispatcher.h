/*
 * dispatcher.h — webhook delivery (DESIGN §7, docs/webhooks.md): reads the
 * event outbox in sequence order, records one delivery per (event,
 * subscription) durably, and makes the attempts on a small thread pool
 * through the `webhook` notifier plugin, with retries, Retry-After, 410
 * and dead letters.  At least once: a delivery row and the cursor past
 * its event commit together, and a delivery is pending until an attempt's
 * outcome has committed, so a crash at any point repeats, never loses.
 */
#ifndef TND_DISPATCHER_H
#define TND_DISPATCHER_H

#include <tenancyd/plugin.h>

struct dispatcher;
struct registry;
struct tnd_conf;
struct tnd_loaded_plugin;

/** Start the threads; @notifier is the loaded `webhook` plugin (borrowed). */
int dispatcher_start(struct registry *reg, const struct tnd_conf *conf, const struct tnd_loaded_plugin *notifier,
		     struct dispatcher **ret_dispatcher, struct tnd_error *err);
/** Stop: attempts in flight finish (their outcome is recorded), queued ones
 *  stay pending for the next start.  Accepts NULL. */
void dispatcher_stop(struct dispatcher *d);

#endif /* TND_DISPATCHER_H */
