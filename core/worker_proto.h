/*
 * worker_proto.h — the worker protocol's messages (docs/worker-protocol.md):
 * building them, sending and receiving their frames over ZeroMQ, and
 * checking everything that arrives before anyone acts on it.  Shared by
 * the core's worker pool and by tenancyd-worker, so both sides apply the
 * same limits and drop the same things for the same reasons.
 */
#ifndef TND_WORKER_PROTO_H
#define TND_WORKER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define WORKER_PROTO_VERSION 1
/* the three frames of a message together */
#define WORKER_PROTO_MAX_MESSAGE (1024 * 1024)
#define WORKER_PROTO_MAX_DEPTH 32
#define WORKER_PROTO_ID_MAX 64
#define WORKER_PROTO_TASK_ID_MAX 256
#define WORKER_PROTO_MAX_PLUGINS 64
/* bounds a WELCOME may set */
#define WORKER_PROTO_INTERVAL_MIN_MS 10
#define WORKER_PROTO_INTERVAL_MAX_MS 600000
#define WORKER_PROTO_TIMEOUT_MAX_MS 3600000
#define WORKER_PROTO_DEFAULT_INTERVAL_MS 1000
#define WORKER_PROTO_DEFAULT_TIMEOUT_MS 5000

enum worker_msg_type {
	/* worker → core */
	WORKER_MSG_HELLO,
	WORKER_MSG_HEARTBEAT, /* both directions */
	WORKER_MSG_RESULT,
	WORKER_MSG_BYE,
	/* core → worker */
	WORKER_MSG_WELCOME,
	WORKER_MSG_TASK,
	WORKER_MSG_SHUTDOWN,
};

/** Who is receiving: decides which types are acceptable and their bodies. */
enum worker_side {
	WORKER_SIDE_CORE,
	WORKER_SIDE_WORKER,
};

/** Why a message was dropped; the names are the metric's reason labels. */
enum worker_drop {
	WORKER_DROP_FRAMES,
	WORKER_DROP_OVERSIZED,
	WORKER_DROP_VERSION,
	WORKER_DROP_TYPE,
	WORKER_DROP_UTF8,
	WORKER_DROP_JSON,
	WORKER_DROP_DEPTH,
	WORKER_DROP_FIELDS,
	WORKER_DROP_UNKNOWN_PEER,
	WORKER_DROP_FOREIGN_TASK,
	WORKER_DROP_STALE_DISPATCH,
	WORKER_DROP_UNEXPECTED,
	WORKER_DROP_BUSY,
	WORKER_DROP_COUNT_,
};

const char *worker_drop_name(enum worker_drop reason);
/** The type's wire word ("HELLO", ...). */
const char *worker_proto_type_word(enum worker_msg_type type);

/** A decoded, checked message.  Strings and JSON values borrow from @body. */
struct worker_msg {
	enum worker_msg_type type;
	json_t *body; /* owned */
	union {
		struct {
			const char *worker_id;
			int64_t pid;
			const json_t *plugins; /* array of strings */
			const char *version;
			bool busy;
			const char *task_id; /* NULL if absent */
		} hello;
		struct {
			bool busy;               /* worker → core only */
			const char *task_id;     /* NULL if absent */
			int64_t frames_dropped;  /* -1 if absent */
		} heartbeat;
		struct {
			const char *task_id;
			int dispatch;
			int rc;
			json_t *result; /* rc == 0 only */
			const char *error; /* "" if absent */
		} result;
		struct {
			int64_t interval_ms;
			int64_t timeout_ms;
		} welcome;
		struct {
			const char *task_id;
			int dispatch;
			const char *plugin;
			const char *op;
			json_t *request;
		} task;
	} u;
};

/** One received message as raw frames (the ROUTER's routing id excluded). */
struct worker_frames {
	unsigned char identity[256];
	size_t identity_len;       /* 0 when received on a DEALER */
	size_t n_frames;           /* frames after the identity, all counted */
	size_t total;              /* their summed size */
	/* the first three frames after the identity, owned */
	void *data[3];
	size_t size[3];
};

void worker_frames_clear(struct worker_frames *frames);

/**
 * Check @frames as received by @side.  0 and a message to
 * worker_msg_clear(), or -EBADMSG and the reason in *@ret_reason.
 */
int worker_proto_decode(enum worker_side side, const struct worker_frames *frames, struct worker_msg *ret_msg,
			enum worker_drop *ret_reason);
void worker_msg_clear(struct worker_msg *msg);

/** True if JSON text @text nests arrays and objects at most @max_depth deep. */
bool worker_proto_depth_ok(const char *text, size_t len, unsigned max_depth);

/** True if @id is a valid worker id ([A-Za-z0-9._-]{1,64}). */
bool worker_proto_id_valid(const char *id, size_t len);

/**
 * Receive one whole message from @socket without blocking (every part is
 * consumed, however many there are).  @with_identity: the socket is a
 * ROUTER and the first part is the peer's routing id.  0, -EAGAIN when
 * nothing is waiting, or another -errno from libzmq.
 */
int worker_proto_recv(void *socket, bool with_identity, struct worker_frames *ret_frames);

/**
 * Send a message of @type with @body (NULL: {}) without blocking; with
 * @identity (length @identity_len > 0) first when @socket is a ROUTER.
 * -EMSGSIZE when the message would exceed the limit; -errno from libzmq
 * (-EHOSTUNREACH: the peer is gone, -EAGAIN: its queue is full).
 */
int worker_proto_send(void *socket, const void *identity, size_t identity_len, enum worker_msg_type type,
		      const json_t *body);

/* Bodies, built here so both sides agree on member names (new references). */
json_t *worker_proto_hello(const char *worker_id, int64_t pid, const char *const *plugins, size_t n_plugins,
			   const char *version, bool busy, const char *task_id);
json_t *worker_proto_heartbeat(bool busy, const char *task_id, int64_t frames_dropped);
/** @result is used (not stolen) when rc == 0; @error when rc != 0 (may be NULL). */
json_t *worker_proto_result(const char *task_id, int dispatch, int rc, const json_t *result, const char *error);
json_t *worker_proto_welcome(int64_t interval_ms, int64_t timeout_ms);
json_t *worker_proto_task(const char *task_id, int dispatch, const char *plugin, const char *op,
			  const json_t *request);

#endif /* TND_WORKER_PROTO_H */
