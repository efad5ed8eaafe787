/*
 * worker_listen.h — binding the core's worker endpoints on the pool's
 * ROUTER socket: ipc:// for local workers (a 0600 socket file), tcp:// with
 * CURVE and the ZAP handler for remote ones (docs/worker-protocol.md).
 */
#ifndef TND_WORKER_LISTEN_H
#define TND_WORKER_LISTEN_H

#include <tenancyd/plugin.h>

struct tnd_conf;
struct worker_zap;

struct worker_listener {
	char *local_endpoint;    /* the ipc:// endpoint for spawned workers, NULL if none */
	char *ipc_path;          /* the socket file bound, removed by worker_listener_close() */
	struct worker_zap *zap;  /* tcp:// only */
};

/**
 * Bind conf->workers.endpoint (default ipc://<state_dir>/workers.sock) on
 * @router.  A tcp:// endpoint also gets ipc://<state_dir>/workers.sock for
 * local workers when conf->daemon.workers > 0.  On failure what was set up
 * stays in *@ret for worker_listener_close().
 */
int worker_listen(void *zmq_ctx, void *router, const struct tnd_conf *conf, struct worker_listener *ret,
		  struct tnd_error *err);

/** Stop the ZAP handler and remove the socket file.  Call after closing the
 *  router and before terminating the context. */
void worker_listener_close(struct worker_listener *listener);

#endif /* TND_WORKER_LISTEN_H */
