/*
 * state_lock.h — one tenancyd per state directory.
 *
 * The registry, api.url and (in --dev) the generated config and tokens live
 * in the state directory; two daemons on one directory would corrupt each
 * other's view.  An flock() on <state_dir>/tenancyd.lock, held for the
 * process's life, makes the second one refuse to start.
 */
#ifndef TND_STATE_LOCK_H
#define TND_STATE_LOCK_H

#include <tenancyd/plugin.h>

/** Take (or confirm we already hold) the lock of @state_dir.  0, or -EBUSY
 *  with @err naming the holder's pid, or another negative errno. */
int state_lock_acquire(const char *state_dir, struct tnd_error *err);

#endif /* TND_STATE_LOCK_H */
