/*
 * worker_curve.h — CURVE security for workers on tcp:// endpoints: reading
 * Z85 key files (core and worker), and the core's ZAP handler (RFC 27)
 * that admits only the worker public keys listed in the authorized keys
 * file.
 */
#ifndef TND_WORKER_CURVE_H
#define TND_WORKER_CURVE_H

#include <stdint.h>

#include "util.h"

/* a Z85-encoded CURVE key: 40 characters */
#define WORKER_CURVE_KEY_LEN 40

/**
 * Read a key file holding one Z85 key (surrounding whitespace allowed).
 * @policy TND_FILE_SECRET for secret keys (mode 0600), TND_FILE_TRUSTED for
 * public ones.  0, or -errno with the reason in @err.
 */
int worker_curve_key_read(const char *path, enum tnd_file_policy policy, char ret_z85[WORKER_CURVE_KEY_LEN + 1],
			  struct tnd_error *err);

struct worker_zap;

/**
 * Load @authorized_keys_file and answer ZAP requests of @zmq_ctx on a
 * thread of its own.  The handler is bound when this returns, so a CURVE
 * socket bound afterwards never admits anyone unchecked.
 */
int worker_zap_start(void *zmq_ctx, const char *authorized_keys_file, struct worker_zap **ret_zap,
		     struct tnd_error *err);
/** Handshakes refused so far. */
uint64_t worker_zap_refused(const struct worker_zap *zap);
/** Stop the handler thread and close its socket.  Accepts NULL. */
void worker_zap_stop(struct worker_zap *zap);

#endif /* TND_WORKER_CURVE_H */
