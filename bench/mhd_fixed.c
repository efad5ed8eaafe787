/*
 * mhd_fixed.c — the ceiling for the read benchmark: a minimal
 * libmicrohttpd server, threaded exactly like tenancyd's API (one thread
 * per connection), answering every request with the same 1 KiB JSON body.
 *
 *   mhd_fixed PORT      serves until SIGTERM/SIGINT
 */
#include "autoconfig.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>
#include <pthread.h>

static char fixed_body[1024];

static enum MHD_Result fixed_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				    const char *version, const char *upload_data, size_t *upload_data_size,
				    void **con_cls)
{
	static int first_call_marker;
	struct MHD_Response *resp;
	enum MHD_Result r;

	(void)cls;
	(void)url;
	(void)method;
	(void)version;
	(void)upload_data;
	/* like tenancyd: never answer on the first call (it would cost keep-alive) */
	if (*con_cls == NULL) {
		*con_cls = &first_call_marker;
		return MHD_YES;
	}
	*upload_data_size = 0;
	resp = MHD_create_response_from_buffer(sizeof(fixed_body), fixed_body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	r = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return r;
}

int main(int argc, char **argv)
{
	struct MHD_Daemon *daemon;
	sigset_t set;
	int sig;

	if (argc != 2) {
		fprintf(stderr, "usage: mhd_fixed PORT\n");
		return 2;
	}
	memset(fixed_body, ' ', sizeof(fixed_body));
	memcpy(fixed_body, "{\"padding\":\"", 12);
	memset(fixed_body + 12, 'x', sizeof(fixed_body) - 14);
	memcpy(fixed_body + sizeof(fixed_body) - 2, "\"}", 2);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)atoi(argv[1]),
				  NULL, NULL, fixed_access, NULL, MHD_OPTION_CONNECTION_LIMIT, 512u,
				  MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
	if (daemon == NULL) {
		fprintf(stderr, "mhd_fixed: cannot listen on port %s\n", argv[1]);
		return 1;
	}
	sigwait(&set, &sig);
	MHD_stop_daemon(daemon);
	return 0;
}
