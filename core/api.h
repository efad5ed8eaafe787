/*
 * api.h — the HTTP management API server, as the daemon sees it: start it
 * on the configured address, learn the port it got, drain it on SIGTERM.
 */
#ifndef TND_API_H
#define TND_API_H

#include <stdbool.h>
#include <stdint.h>

#include <tenancyd/plugin.h>

struct registry;
struct tnd_conf;
struct api_server;

/** Listen on @conf->api.host:port and serve requests against @reg.  The
 *  config in force is read per request (conf_current_get1). */
int api_server_start(const struct tnd_conf *conf, struct registry *reg, struct api_server **ret_server,
		     struct tnd_error *err);
struct orchestrator;
/** Let the workflow routes show what is in flight. */
void api_server_attach_orchestrator(struct api_server *server, struct orchestrator *orch);
/** The port actually bound (differs from the config when it asked for 0). */
uint16_t api_server_port(const struct api_server *server);
/** Stop accepting connections; /readyz turns 503 at once. */
void api_server_quiesce(struct api_server *server);
/** Wait until in-flight requests are answered or @timeout_s passes;
 *  returns the number still in flight. */
unsigned api_server_drain(struct api_server *server, unsigned timeout_s);
/** Close every connection and free the server.  Accepts NULL. */
void api_server_stop(struct api_server *server);

#endif /* TND_API_H */
