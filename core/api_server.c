/*
 * api_server.c — libmicrohttpd glue: start and stop the server, collect a
 * request's body under the size limit, hand complete requests to the
 * router, account for in-flight requests so SIGTERM can drain them.
 *
 * One thread per connection: handlers may block on the registry (a durable
 * commit waits for its group's fsync), and a blocked handler must not stall
 * other connections.  The connection limit bounds the threads.
 *
 * MHD calls the access handler at least twice per request.  The first call
 * only sets up state: queueing a response there (before MHD has seen the
 * whole request) makes MHD close the connection after it, which costs
 * keep-alive and several times the throughput.  Only an oversized declared
 * body is answered on the first call, on purpose: that connection should close.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "api_internal.h"
#include "conf.h"
#include "host.h"
#include "log.h"
#include "metrics.h"
#include "breakglass.h"
#include "ratelimit.h"
#include "token_index.h"
#include "util.h"

#define LOG_COMPONENT "api"

static bool api_request_id_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_' || c == '.' || c == ':'))
			return false;
	}
	return n >= 1 && n <= 128;
}

/*
 * Request ids need to be unique, not secret: a per-thread xorshift128+
 * seeded once from getrandom() saves a system call per request.
 */
static void api_request_id_generate(char out[37])
{
	static _Thread_local uint64_t state[2];
	unsigned char b[16];

	if (state[0] == 0 && state[1] == 0)
		while (tnd_random_bytes(state, sizeof(state)) < 0 || (state[0] == 0 && state[1] == 0))
			;
	for (int half = 0; half < 2; half++) {
		uint64_t s1 = state[0];
		const uint64_t s0 = state[1];
		uint64_t v;

		state[0] = s0;
		s1 ^= s1 << 23;
		state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
		v = state[1] + s0;
		memcpy(b + 8 * half, &v, 8);
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static struct api_request *api_request_new(struct api_server *server, struct MHD_Connection *conn,
					   const char *url, const char *method)
{
	struct api_request *req = tnd_xcalloc(1, sizeof(*req));
	const char *rid;

	req->server = server;
	req->conn = conn;
	req->method = method;
	req->path = tnd_xstrdup(url);
	req->start_us = tnd_monotonic_us();
	req->conf = conf_current_get1();
	tnd_buf_init(&req->body);
	rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
	if (rid && api_request_id_valid(rid))
		tnd_strlcpy(req->request_id, rid, sizeof(req->request_id));
	else
		api_request_id_generate(req->request_id);
	atomic_fetch_add(&server->in_flight, 1);
	req->counted = true;
	return req;
}

static void api_request_free(struct api_request *req)
{
	if (req->counted)
		atomic_fetch_sub(&req->server->in_flight, 1);
	conf_unref(req->conf);
	for (size_t i = 0; i < req->n_params; i++)
		free(req->params[i]);
	tnd_buf_free(&req->body);
	free(req->path);
	free(req);
}

static void api_access_log(const struct api_request *req)
{
	double ms = (double)(tnd_monotonic_us() - req->start_us) / 1000.0;
	bool read_ok = (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) && req->status < 500;
	char fields[256], labels[96];

	snprintf(labels, sizeof(labels), "method=\"%s\",code=\"%u\"", req->method, req->status);
	metrics_counter_add("tenancyd_http_requests_total", "HTTP requests answered.", labels, 1);
	snprintf(labels, sizeof(labels), "method=\"%s\"", req->method);
	metrics_observe("tenancyd_http_request_duration_seconds", "Time to answer an HTTP request.", labels,
			ms / 1000.0);
	/* reads are logged at debug: at tens of thousands per second they would
	 * drown everything else (a 404 answers a question, it is no incident);
	 * every write, every refused write and every server error is logged */
	snprintf(fields, sizeof(fields), "{\"method\":\"%s\",\"status\":%u,\"ms\":%.3f,\"bytesIn\":%zu}",
		 req->method, req->status, ms, req->body.len);
	log_emit(read_ok ? TND_LOG_DEBUG : TND_LOG_INFO, "http", fields, "%s %s", req->method, req->path);
}

static enum MHD_Result api_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct api_server *server = cls;
	struct api_request *req = *con_cls;

	(void)version;
	if (req == NULL) {
		const char *length;

		req = api_request_new(server, conn, url, method);
		*con_cls = req;
		length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (length && strtoull(length, NULL, 10) > req->conf->api.max_body_bytes) {
			log_context_set(req->request_id, NULL);
			return api_fail(req, MHD_HTTP_CONTENT_TOO_LARGE, "payload-too-large", "Payload too large",
					"the body is larger than the limit of %zu bytes",
					req->conf->api.max_body_bytes);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!req->body_too_large) {
			if (req->body.len + *upload_data_size > req->conf->api.max_body_bytes) {
				req->body_too_large = true;
				tnd_buf_free(&req->body);
			} else {
				tnd_buf_add(&req->body, upload_data, *upload_data_size);
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->status != 0)
		return MHD_YES; /* answered already (early 413) */
	log_context_set(req->request_id, NULL);
	if (req->body_too_large)
		return api_fail(req, MHD_HTTP_CONTENT_TOO_LARGE, "payload-too-large", "Payload too large",
				"the body is larger than the limit of %zu bytes", req->conf->api.max_body_bytes);
	return api_route(req);
}

static void api_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			  enum MHD_RequestTerminationCode toe)
{
	struct api_request *req = *con_cls;

	(void)cls;
	(void)conn;
	if (req == NULL)
		return;
	if (req->status == 0) {
		req->status = 499; /* client went away before an answer */
	} else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		log_context_set(req->request_id, NULL);
		log_debug("%s %s: connection ended before the response was sent (%d)", req->method, req->path,
			  (int)toe);
	}
	log_context_set(req->request_id, NULL);
	api_access_log(req);
	log_context_clear();
	api_ratelimit_request_done(req);
	api_request_free(req);
	*con_cls = NULL;
}

static void api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	log_emitv(TND_LOG_WARNING, "http", NULL, fmt, ap);
}

int api_server_start(const struct tnd_conf *conf, struct registry *reg, struct api_server **ret_server,
		     struct tnd_error *err)
{
	struct api_server *server = tnd_xcalloc(1, sizeof(*server));
	struct sockaddr_storage addr;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
			 MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;

	memset(&addr, 0, sizeof(addr));
	if (inet_pton(AF_INET, conf->api.host, &((struct sockaddr_in *)&addr)->sin_addr) == 1) {
		((struct sockaddr_in *)&addr)->sin_family = AF_INET;
		((struct sockaddr_in *)&addr)->sin_port = htons(conf->api.port);
	} else if (inet_pton(AF_INET6, conf->api.host, &((struct sockaddr_in6 *)&addr)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&addr)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&addr)->sin6_port = htons(conf->api.port);
		flags |= MHD_USE_IPv6;
	} else {
		tnd_error_set(err, "api.listen: '%s' is not a numeric IPv4 or IPv6 address", conf->api.host);
		free(server);
		return -EINVAL;
	}
	server->registry = reg;
	/* sized once: a reload changes limits, not the table */
	server->limiter = ratelimit_new(conf->api.rate_limit_shards, conf->api.rate_limit_max_buckets, NULL, NULL);
	/* registry tokens and approved break-glass grants, before the first request */
	if (api_tokens_load(server, err) < 0) {
		api_tokens_unload(server);
		ratelimit_free(server->limiter);
		free(server);
		return -EIO;
	}
	server->daemon = MHD_start_daemon(
		flags, conf->api.port, NULL, NULL, api_access, server, MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, server,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)conf->api.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)conf->api.connection_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, api_completed, server,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
		MHD_OPTION_END);
	if (server->daemon == NULL) {
		tnd_error_set(err, "cannot listen on %s: %s", conf->api.listen,
			      errno ? strerror(errno) : "libmicrohttpd refused to start");
		api_tokens_unload(server);
		ratelimit_free(server->limiter);
		free(server);
		return -EADDRINUSE;
	}
	info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
	server->port = info ? info->port : conf->api.port;
	*ret_server = server;
	return 0;
}

void api_server_attach_orchestrator(struct api_server *server, struct orchestrator *orch)
{
	server->orchestrator = orch;
}

uint16_t api_server_port(const struct api_server *server)
{
	return server->port;
}

void api_server_quiesce(struct api_server *server)
{
	MHD_socket fd;

	if (atomic_exchange(&server->draining, true))
		return;
	fd = MHD_quiesce_daemon(server->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

unsigned api_server_drain(struct api_server *server, unsigned timeout_s)
{
	int64_t deadline = tnd_monotonic_us() + (int64_t)timeout_s * 1000000;

	while (atomic_load(&server->in_flight) > 0 && tnd_monotonic_us() < deadline)
		usleep(10000);
	return atomic_load(&server->in_flight);
}

void api_server_stop(struct api_server *server)
{
	if (server == NULL)
		return;
	MHD_stop_daemon(server->daemon);
	api_tokens_unload(server);
	ratelimit_free(server->limiter);
	free(server);
}
