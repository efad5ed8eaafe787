/*
 * webhook_sink_client.c — the C side of tests/tools/webhook_sink.py: spawn
 * it on an ephemeral port, read its JSON Lines record, kill it.
 */
#include "autoconfig.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "testutil.h"
#include "util.h"
#include "webhook_sink_client.h"

bool sink_available(void)
{
	return system("python3 -c 'import http.server' >/dev/null 2>&1") == 0;
}

int sink_start(struct sink *sink, const char *secret, const char *tls_cert, const char *tls_key)
{
	char *script = tnd_xasprintf("%s/tests/tools/webhook_sink.py", testutil_srcdir());
	char *port_file;
	pid_t pid;

	memset(sink, 0, sizeof(*sink));
	sink->dir = testutil_mkdtemp("webhook-sink");
	sink->log_path = tnd_xasprintf("%s/requests.jsonl", sink->dir);
	port_file = tnd_xasprintf("%s/port", sink->dir);
	pid = fork();
	if (pid == 0) {
		if (tls_cert != NULL)
			execlp("python3", "python3", script, "--secret", secret, "--log", sink->log_path, "--port-file",
			       port_file, "--tls-cert", tls_cert, "--tls-key", tls_key, (char *)NULL);
		else
			execlp("python3", "python3", script, "--secret", secret, "--log", sink->log_path, "--port-file",
			       port_file, (char *)NULL);
		_exit(127);
	}
	free(script);
	if (pid < 0) {
		free(port_file);
		return -1;
	}
	sink->pid = pid;
	for (int i = 0; i < 200 && sink->port == 0; i++) { /* up to 10 s */
		FILE *f = fopen(port_file, "r");
		struct timespec pause = { 0, 50 * 1000 * 1000 };

		if (f != NULL) {
			if (fscanf(f, "%u", &sink->port) != 1)
				sink->port = 0;
			fclose(f);
		}
		if (sink->port == 0)
			nanosleep(&pause, NULL);
	}
	free(port_file);
	if (sink->port == 0) {
		fprintf(stderr, "webhook sink did not start\n");
		sink_stop(sink);
		return -1;
	}
	return 0;
}

void sink_stop(struct sink *sink)
{
	if (sink->pid > 0) {
		kill(sink->pid, SIGTERM);
		waitpid(sink->pid, NULL, 0);
	}
	if (sink->dir != NULL)
		testutil_rmrf(sink->dir);
	free(sink->dir);
	free(sink->log_path);
	memset(sink, 0, sizeof(*sink));
}

static void sink_copy(char *dst, size_t cap, json_t *value)
{
	snprintf(dst, cap, "%s", json_is_string(value) ? json_string_value(value) : "");
}

size_t sink_requests(const struct sink *sink, struct sink_request *out, size_t max)
{
	FILE *f = fopen(sink->log_path, "r");
	char line[4096];
	size_t n = 0;

	if (f == NULL)
		return 0;
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		json_t *o = json_loads(line, 0, NULL);

		if (o == NULL)
			continue; /* a line still being written */
		memset(&out[n], 0, sizeof(out[n]));
		sink_copy(out[n].path, sizeof(out[n].path), json_object_get(o, "path"));
		sink_copy(out[n].id, sizeof(out[n].id), json_object_get(o, "id"));
		sink_copy(out[n].content_type, sizeof(out[n].content_type), json_object_get(o, "contentType"));
		out[n].attempt = json_integer_value(json_object_get(o, "attempt"));
		out[n].timestamp = json_integer_value(json_object_get(o, "timestamp"));
		out[n].peer_port = json_integer_value(json_object_get(o, "peerPort"));
		out[n].signature_valid = json_is_true(json_object_get(o, "signatureValid"));
		json_decref(o);
		n++;
	}
	fclose(f);
	return n;
}
