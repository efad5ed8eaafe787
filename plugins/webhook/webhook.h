/*
 * webhook.h — what the webhook notifier's files share: its settings, the
 * pool of reusable libcurl handles (keep-alive across deliveries), and one
 * delivery attempt (webhook_send.c).
 */
#ifndef TND_WEBHOOK_H
#define TND_WEBHOOK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include <tenancyd/host.h>
#include <tenancyd/notifier.h>

#include "webhook_address.h"
#include "webhook_signature.h"

struct webhook_settings {
	int64_t connect_timeout_ms;
	int64_t timeout_ms;
	int64_t pool_size;          /* idle handles kept for reuse */
	struct webhook_allow allow; /* allow_loopback, allow_private, allow_link_local */
	char *ca_file;              /* NULL: the system's trust store */
	char *user_agent;
};

/* Idle easy handles, most recently used on top: each keeps its own
 * connection cache, so taking the warmest one reuses a live connection. */
struct webhook_pool {
	pthread_mutex_t lock;
	CURL **idle;
	size_t n_idle;
	size_t cap;
};

struct webhook_ctx {
	const struct tnd_host *host;
	struct webhook_settings settings;
	struct webhook_pool pool;
};

int webhook_pool_init(struct webhook_pool *pool, size_t cap);
/** An idle handle, or a new one; NULL when out of memory. */
CURL *webhook_pool_take(struct webhook_pool *pool);
/** Return @handle for reuse (or clean it up when the pool is full). */
void webhook_pool_give(struct webhook_pool *pool, CURL *handle);
void webhook_pool_destroy(struct webhook_pool *pool);

/* One attempt, as the dispatcher asked for it. */
struct webhook_request {
	const char *url;
	const char *id; /* webhook-id: the event id */
	const char *body;
	size_t body_len;
	const struct webhook_key *key;
};

/* What became of it: the fields of the result JSON (notifier.h). */
struct webhook_outcome {
	long status;          /* HTTP status, 0 when no response arrived */
	double latency_ms;
	int64_t retry_after_ms;
	bool disable;         /* 410 Gone */
	char error[256];      /* transport failure, "" otherwise */
	char target[128];     /* scheme://host:port, for logs (never the path or userinfo) */
};

/**
 * Make one POST attempt.  0 when it was made (its outcome, success or not,
 * in @ret); -EINVAL for a URL that is not http(s) or malformed, -EPERM for
 * a target the SSRF guard refuses, -ENOMEM; @err says why.
 */
int webhook_send(struct webhook_ctx *ctx, const struct webhook_request *req, struct webhook_outcome *ret,
		 struct tnd_error *err);

#endif /* TND_WEBHOOK_H */
