/*
 * webhook_sink_client.h — starting, reading and stopping the flaky webhook
 * sink (tests/tools/webhook_sink.py) from a C test.
 */
#ifndef TND_WEBHOOK_SINK_CLIENT_H
#define TND_WEBHOOK_SINK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sink {
	pid_t pid;
	unsigned port;
	char *dir;      /* scratch directory: log and port file */
	char *log_path; /* JSON Lines, one object per request */
};

/* One recorded request. */
struct sink_request {
	char path[128];
	char id[128];
	char content_type[128];
	int64_t attempt;
	int64_t timestamp;
	int64_t peer_port;
	bool signature_valid;
};

/** True when python3 can run the sink (otherwise the test skips). */
bool sink_available(void);
/** Start the sink with @secret, serving HTTPS when @tls_cert and
 *  @tls_key (PEM files) are given; 0 or -1 (and a message printed). */
int sink_start(struct sink *sink, const char *secret, const char *tls_cert, const char *tls_key);
/** Kill it and remove its directory. */
void sink_stop(struct sink *sink);
/** The requests recorded so far, in arrival order, at most @max; returns the count. */
size_t sink_requests(const struct sink *sink, struct sink_request *out, size_t max);

#endif /* TND_WEBHOOK_SINK_CLIENT_H */
