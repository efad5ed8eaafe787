/*
 * test_cli_http.c — tenancyctl's HTTP client against a real HTTP server
 * (libmicrohttpd on 127.0.0.1, in this process): the method, path, headers
 * and body that reach the server, one kept-alive connection for many
 * requests, and the messages for refused connections and timeouts.
 */
#include "autoconfig.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include "cli_http.h"
#include "util.h"

/* What the server saw of the last request. */
struct seen {
	pthread_mutex_t lock;
	char method[16];
	char url[256];
	char label[256];
	char *authorization, *if_match, *idempotency_key, *request_id, *content_type, *content_length;
	char body[4096];
	size_t body_len;
	unsigned connections;
};

static struct seen seen = { .lock = PTHREAD_MUTEX_INITIALIZER };

static char *header_copy(struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

	return v ? tnd_xstrdup(v) : NULL;
}

static void seen_clear(void)
{
	free(seen.authorization);
	free(seen.if_match);
	free(seen.idempotency_key);
	free(seen.request_id);
	free(seen.content_type);
	free(seen.content_length);
	seen.authorization = seen.if_match = seen.idempotency_key = seen.request_id = NULL;
	seen.content_type = seen.content_length = NULL;
	seen.body_len = 0;
	seen.label[0] = '\0';
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	(void)cls;
	(void)conn;
	(void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		pthread_mutex_lock(&seen.lock);
		seen.connections++;
		pthread_mutex_unlock(&seen.lock);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_size, void **req_cls)
{
	static int marker;
	struct MHD_Response *resp;
	const char *label, *body = "{\"ok\":true}", *type = "application/json";
	unsigned status = 200;
	enum MHD_Result r;

	(void)cls;
	(void)version;
	if (*req_cls == NULL) {
		*req_cls = &marker;
		pthread_mutex_lock(&seen.lock);
		seen_clear();
		pthread_mutex_unlock(&seen.lock);
		return MHD_YES;
	}
	if (*upload_size) {
		pthread_mutex_lock(&seen.lock);
		if (seen.body_len + *upload_size < sizeof(seen.body)) {
			memcpy(seen.body + seen.body_len, upload_data, *upload_size);
			seen.body_len += *upload_size;
		}
		pthread_mutex_unlock(&seen.lock);
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&seen.lock);
	tnd_strlcpy(seen.method, method, sizeof(seen.method));
	tnd_strlcpy(seen.url, url, sizeof(seen.url));
	label = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "label");
	tnd_strlcpy(seen.label, label ? label : "", sizeof(seen.label));
	seen.authorization = header_copy(conn, "Authorization");
	seen.if_match = header_copy(conn, "If-Match");
	seen.idempotency_key = header_copy(conn, "Idempotency-Key");
	seen.request_id = header_copy(conn, "X-Request-Id");
	seen.content_type = header_copy(conn, "Content-Type");
	seen.content_length = header_copy(conn, "Content-Length");
	pthread_mutex_unlock(&seen.lock);

	if (strcmp(url, "/slow") == 0)
		sleep(3);
	if (strcmp(url, "/problem") == 0) {
		status = 422;
		type = "application/problem+json";
		body = "{\"title\":\"Manifest invalid\",\"status\":422}";
	}
	resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "X-Request-Id", "server-req-1");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

struct fixture {
	struct MHD_Daemon *server;
	char url[64];
};

static struct MHD_Daemon *server_start(uint16_t *ret_port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
			     on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
			     MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
	assert_non_null(d);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	*ret_port = info->port;
	return d;
}

static int setup(void **state)
{
	struct fixture *f = tnd_xcalloc(1, sizeof(*f));
	uint16_t port;

	f->server = server_start(&port);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", (unsigned)port);
	pthread_mutex_lock(&seen.lock);
	seen.connections = 0;
	seen.method[0] = seen.url[0] = '\0';
	pthread_mutex_unlock(&seen.lock);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	MHD_stop_daemon(f->server);
	pthread_mutex_lock(&seen.lock);
	seen_clear();
	pthread_mutex_unlock(&seen.lock);
	free(f);
	return 0;
}

static struct cli_http *client(const struct fixture *f, const char *token, long timeout_s, FILE *verbose)
{
	struct cli_http_options opts = { f->url, token, timeout_s, "cli-req-7", verbose };
	struct cli_http *http = cli_http_new(&opts);

	assert_non_null(http);
	return http;
}

static void test_put_sends_what_the_api_needs(void **state)
{
	struct fixture *f = *state;
	struct cli_http *http = client(f, "tok-123", 5, NULL);
	static const char body[] = "\n\nmetadata: {id: acme}\n";
	struct cli_request req = { "PUT", "/v1/tenants/acme", "application/yaml", body, sizeof(body) - 1, "\"3\"",
				   "key#2" };
	struct cli_response resp = { 0 };
	struct tnd_error err = { "" };

	assert_int_equal(cli_http_send(http, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body, "{\"ok\":true}");
	assert_string_equal(resp.content_type, "application/json");
	assert_string_equal(resp.request_id, "server-req-1");
	assert_false(resp.reused);
	assert_string_equal(seen.method, "PUT");
	assert_string_equal(seen.url, "/v1/tenants/acme");
	assert_string_equal(seen.authorization, "Bearer tok-123");
	assert_string_equal(seen.if_match, "\"3\"");
	assert_string_equal(seen.idempotency_key, "key#2");
	assert_string_equal(seen.request_id, "cli-req-7");
	assert_string_equal(seen.content_type, "application/yaml");
	/* the body arrives byte for byte, leading blank lines included */
	assert_int_equal(seen.body_len, sizeof(body) - 1);
	assert_memory_equal(seen.body, body, sizeof(body) - 1);
	cli_response_clear(&resp);
	cli_http_free(http);
}

static void test_post_delete_get_and_keep_alive(void **state)
{
	struct fixture *f = *state;
	struct cli_http *http = client(f, NULL, 5, NULL);
	char *label = cli_http_escape("tier=gold plus/é");
	char *path = tnd_xasprintf("/v1/tenants?label=%s", label);
	struct cli_request post = { .method = "POST", .path = "/v1/tenants/acme/suspend" };
	struct cli_request del = { .method = "DELETE", .path = "/v1/tenants/acme" };
	struct cli_request get = { .method = "GET", .path = path };
	struct cli_response resp = { 0 };
	struct tnd_error err = { "" };

	assert_string_equal(label, "tier%3Dgold%20plus%2F%C3%A9");
	/* a body-less POST: length 0 and no form content type made up by libcurl */
	assert_int_equal(cli_http_send(http, &post, &resp, &err), 0);
	assert_string_equal(seen.method, "POST");
	assert_string_equal(seen.content_length, "0");
	assert_null(seen.content_type);
	assert_null(seen.authorization);
	assert_null(seen.if_match);
	cli_response_clear(&resp);

	assert_int_equal(cli_http_send(http, &del, &resp, &err), 0);
	assert_string_equal(seen.method, "DELETE");
	assert_int_equal(seen.body_len, 0);
	assert_true(resp.reused);
	cli_response_clear(&resp);

	assert_int_equal(cli_http_send(http, &get, &resp, &err), 0);
	assert_string_equal(seen.method, "GET");
	assert_string_equal(seen.label, "tier=gold plus/é");
	assert_true(resp.reused);
	cli_response_clear(&resp);

	/* three requests, one TCP connection */
	assert_int_equal(seen.connections, 1);
	free(label);
	free(path);
	cli_http_free(http);
}

static void test_error_status_is_a_response(void **state)
{
	struct fixture *f = *state;
	struct cli_http *http = client(f, "t", 5, NULL);
	struct cli_request req = { .method = "GET", .path = "/problem" };
	struct cli_response resp = { 0 };
	struct tnd_error err = { "" };

	assert_int_equal(cli_http_send(http, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 422);
	assert_string_equal(resp.content_type, "application/problem+json");
	assert_int_equal(resp.len, strlen(resp.body));
	cli_response_clear(&resp);
	cli_http_free(http);
}

static void test_verbose_never_shows_the_token(void **state)
{
	struct fixture *f = *state;
	char *log = NULL;
	size_t log_len = 0;
	FILE *out = open_memstream(&log, &log_len);
	struct cli_http *http = client(f, "secret-token-value", 5, out);
	struct cli_request req = { .method = "GET", .path = "/v1/plans" };
	struct cli_response resp = { 0 };
	struct tnd_error err = { "" };

	assert_int_equal(cli_http_send(http, &req, &resp, &err), 0);
	cli_response_clear(&resp);
	cli_http_free(http);
	fclose(out);
	assert_non_null(strstr(log, "> GET http://127.0.0.1:"));
	assert_non_null(strstr(log, "> Authorization: Bearer <redacted>\n"));
	assert_non_null(strstr(log, "> X-Request-Id: cli-req-7\n"));
	assert_non_null(strstr(log, "< 200 OK ("));
	assert_non_null(strstr(log, "new connection"));
	assert_null(strstr(log, "secret-token-value"));
	free(log);
}

static void test_refused_and_timeout(void **state)
{
	struct fixture *f = *state;
	struct cli_request slow = { .method = "GET", .path = "/slow" };
	struct cli_request any = { .method = "GET", .path = "/v1/tenants" };
	struct cli_response resp = { 0 };
	struct tnd_error err = { "" };
	struct cli_http *http = client(f, "t", 1, NULL);
	struct MHD_Daemon *gone;
	uint16_t port;
	char *expected;

	assert_int_equal(cli_http_send(http, &slow, &resp, &err), -EIO);
	expected = tnd_xasprintf("no answer from %s/slow within 1 s (--timeout): ", f->url);
	assert_true(tnd_str_has_prefix(err.message, expected));
	free(expected);
	cli_http_free(http);

	/* a port nobody listens on any more */
	gone = server_start(&port);
	MHD_stop_daemon(gone);
	{
		struct cli_http_options opts = { NULL, NULL, 5, NULL, NULL };
		char *url = tnd_xasprintf("http://127.0.0.1:%u", (unsigned)port);

		opts.base_url = url;
		http = cli_http_new(&opts);
		assert_int_equal(cli_http_send(http, &any, &resp, &err), -EIO);
		expected = tnd_xasprintf("cannot connect to %s/v1/tenants: ", url);
		assert_true(tnd_str_has_prefix(err.message, expected));
		free(expected);
		free(url);
		cli_http_free(http);
	}
}

static void test_header_injection_and_redaction(void **state)
{
	struct fixture *f = *state;
	struct cli_http *http = client(f, "t", 5, NULL);
	struct cli_request req = { .method = "POST", .path = "/x", .idempotency_key = "a\r\nX-Evil: 1" };
	struct cli_response resp = { 0 };
	struct tnd_error err = { "" };
	char *shown;

	assert_int_equal(cli_http_send(http, &req, &resp, &err), -EINVAL);
	assert_string_equal(seen.method, ""); /* nothing was sent */
	cli_http_free(http);

	shown = cli_http_redact_url("https://op:pa55@tenancy.example:8470/v1?x=a@b");
	assert_string_equal(shown, "https://***@tenancy.example:8470/v1?x=a@b");
	free(shown);
	shown = cli_http_redact_url("http://host/a@b");
	assert_string_equal(shown, "http://host/a@b");
	free(shown);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_sends_what_the_api_needs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_post_delete_get_and_keep_alive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_status_is_a_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verbose_never_shows_the_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_injection_and_redaction, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
