/*
 * worker_listen.c — binding the worker endpoints (worker_listen.h).
 *
 * libzmq copies a socket's options into each endpoint when it is bound, so
 * one ROUTER serves both kinds: the ipc:// endpoint is bound first, without
 * any security mechanism, then CURVE is switched on and the tcp:// endpoint
 * bound.  The ZAP handler is started before that bind, because libzmq
 * admits every CURVE client when no handler is listening.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "conf.h"
#include "log.h"
#include "util.h"
#include "worker_curve.h"
#include "worker_listen.h"

#define LOG_COMPONENT "workers"

#define LISTEN_ZAP_DOMAIN "tenancyd-workers"

/*
 * Bind an ipc:// endpoint that only our user may connect to.  A socket file
 * left by an earlier run is removed first (the state directory's lock says
 * no other tenancyd uses it); anything else at that path is refused.
 */
static int listen_ipc(void *router, const char *endpoint, struct worker_listener *l, struct tnd_error *err)
{
	const char *path = endpoint + strlen("ipc://");
	struct stat st;

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			tnd_error_set(err, "worker endpoint %s: %s exists and is not a socket", endpoint, path);
			return -EEXIST;
		}
		unlink(path);
	}
	if (zmq_bind(router, endpoint) < 0) {
		int e = errno;
		tnd_error_set(err, "cannot bind the worker endpoint %s: %s", endpoint, zmq_strerror(e));
		return -e;
	}
	l->ipc_path = tnd_xstrdup(path);
	if (chmod(path, 0600) < 0) {
		int e = errno;
		tnd_error_set(err, "cannot restrict %s to mode 0600: %s", path, strerror(e));
		return -e;
	}
	log_info("workers: listening on %s", endpoint);
	return 0;
}

/* tcp:// is CURVE only: the server key and the ZAP handler come first. */
static int listen_tcp(void *zmq_ctx, void *router, const struct tnd_conf *conf, const char *endpoint,
		      struct worker_listener *l, struct tnd_error *err)
{
	char secret[WORKER_CURVE_KEY_LEN + 1], public[WORKER_CURVE_KEY_LEN + 1], bound[256] = "";
	size_t bound_len = sizeof(bound);
	int yes = 1, r;

	if (conf->workers.curve_secret_key_file == NULL || conf->workers.authorized_keys_file == NULL) {
		tnd_error_set(err, "worker endpoint %s: tcp:// needs workers.curve_secret_key_file and "
				   "workers.authorized_keys_file (workers authenticate with CURVE)", endpoint);
		return -EINVAL;
	}
	r = worker_curve_key_read(conf->workers.curve_secret_key_file, TND_FILE_SECRET, secret, err);
	if (r < 0)
		return r;
	if (zmq_curve_public(public, secret) < 0) {
		explicit_bzero(secret, sizeof(secret));
		tnd_error_set(err, "%s: cannot derive the public key", conf->workers.curve_secret_key_file);
		return -EINVAL;
	}
	r = worker_zap_start(zmq_ctx, conf->workers.authorized_keys_file, &l->zap, err);
	if (r == 0 && (zmq_setsockopt(router, ZMQ_CURVE_SERVER, &yes, sizeof(yes)) < 0 ||
		       zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, secret, WORKER_CURVE_KEY_LEN + 1) < 0 ||
		       zmq_setsockopt(router, ZMQ_CURVE_PUBLICKEY, public, WORKER_CURVE_KEY_LEN + 1) < 0 ||
		       zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, LISTEN_ZAP_DOMAIN, strlen(LISTEN_ZAP_DOMAIN)) < 0 ||
		       zmq_bind(router, endpoint) < 0)) {
		r = -errno;
		tnd_error_set(err, "cannot bind the worker endpoint %s: %s", endpoint, zmq_strerror(-r));
	}
	explicit_bzero(secret, sizeof(secret));
	if (r < 0)
		return r;
	zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, bound, &bound_len);
	log_notice("workers: listening on %s (CURVE; server public key %s)", bound, public);
	return 0;
}

int worker_listen(void *zmq_ctx, void *router, const struct tnd_conf *conf, struct worker_listener *ret,
		  struct tnd_error *err)
{
	char *endpoint = conf->workers.endpoint ? tnd_xstrdup(conf->workers.endpoint)
						: tnd_xasprintf("ipc://%s/workers.sock", conf->daemon.state_dir);
	int r;

	memset(ret, 0, sizeof(*ret));
	if (tnd_str_has_prefix(endpoint, "ipc://")) {
		r = listen_ipc(router, endpoint, ret, err);
		ret->local_endpoint = tnd_xstrdup(endpoint);
	} else if (tnd_str_has_prefix(endpoint, "tcp://")) {
		/* local workers keep to ipc://, bound before CURVE is switched on */
		r = 0;
		if (conf->daemon.workers > 0) {
			ret->local_endpoint = tnd_xasprintf("ipc://%s/workers.sock", conf->daemon.state_dir);
			r = listen_ipc(router, ret->local_endpoint, ret, err);
		}
		if (r == 0)
			r = listen_tcp(zmq_ctx, router, conf, endpoint, ret, err);
	} else {
		tnd_error_set(err, "worker endpoint %s: want ipc://PATH or tcp://HOST:PORT", endpoint);
		r = -EINVAL;
	}
	free(endpoint);
	return r;
}

void worker_listener_close(struct worker_listener *listener)
{
	worker_zap_stop(listener->zap);
	if (listener->ipc_path)
		unlink(listener->ipc_path);
	free(listener->ipc_path);
	free(listener->local_endpoint);
	memset(listener, 0, sizeof(*listener));
}
