/*
 * worker_proto.c — the worker protocol's messages (see worker_proto.h and
 * docs/worker-protocol.md): frame I/O over libzmq, body builders, and the
 * checks every received message passes before either side acts on it.
 *
 * Decoding is strict on what it needs and lenient on what it does not:
 * a missing or mistyped member drops the message, an unknown member is
 * ignored (that is how a revision of version 1 stays compatible).
 */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "util.h"
#include "worker_proto.h"

static const char *const proto_drop_names[WORKER_DROP_COUNT_] = {
	[WORKER_DROP_FRAMES] = "frames",
	[WORKER_DROP_OVERSIZED] = "oversized",
	[WORKER_DROP_VERSION] = "version",
	[WORKER_DROP_TYPE] = "type",
	[WORKER_DROP_UTF8] = "utf8",
	[WORKER_DROP_JSON] = "json",
	[WORKER_DROP_DEPTH] = "depth",
	[WORKER_DROP_FIELDS] = "fields",
	[WORKER_DROP_UNKNOWN_PEER] = "unknown_peer",
	[WORKER_DROP_FOREIGN_TASK] = "foreign_task",
	[WORKER_DROP_STALE_DISPATCH] = "stale_dispatch",
	[WORKER_DROP_UNEXPECTED] = "unexpected",
	[WORKER_DROP_BUSY] = "busy",
};

static const char *const proto_type_words[] = {
	[WORKER_MSG_HELLO] = "HELLO",     [WORKER_MSG_HEARTBEAT] = "HEARTBEAT", [WORKER_MSG_RESULT] = "RESULT",
	[WORKER_MSG_BYE] = "BYE",         [WORKER_MSG_WELCOME] = "WELCOME",     [WORKER_MSG_TASK] = "TASK",
	[WORKER_MSG_SHUTDOWN] = "SHUTDOWN",
};

const char *worker_drop_name(enum worker_drop reason)
{
	if ((unsigned)reason >= WORKER_DROP_COUNT_)
		return "unknown";
	return proto_drop_names[reason];
}

const char *worker_proto_type_word(enum worker_msg_type type)
{
	if ((unsigned)type >= TND_ARRAY_SIZE(proto_type_words))
		return "?";
	return proto_type_words[type];
}

bool worker_proto_id_valid(const char *id, size_t len)
{
	if (len == 0 || len > WORKER_PROTO_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* --- frames ---------------------------------------------------------------------- */

void worker_frames_clear(struct worker_frames *frames)
{
	for (size_t i = 0; i < TND_ARRAY_SIZE(frames->data); i++) {
		free(frames->data[i]);
		frames->data[i] = NULL;
		frames->size[i] = 0;
	}
	frames->n_frames = 0;
	frames->total = 0;
	frames->identity_len = 0;
}

int worker_proto_recv(void *socket, bool with_identity, struct worker_frames *ret_frames)
{
	struct worker_frames f;
	bool first = true;

	memset(&f, 0, sizeof(f));
	for (;;) {
		zmq_msg_t part;
		size_t size;
		int more;

		zmq_msg_init(&part);
		/* libzmq delivers a multipart message whole, so only the first
		 * part can be "not there yet" */
		if (zmq_msg_recv(&part, socket, first ? ZMQ_DONTWAIT : 0) < 0) {
			int e = errno;
			zmq_msg_close(&part);
			worker_frames_clear(&f);
			return -e;
		}
		size = zmq_msg_size(&part);
		if (first && with_identity) {
			f.identity_len = size < sizeof(f.identity) ? size : sizeof(f.identity);
			memcpy(f.identity, zmq_msg_data(&part), f.identity_len);
		} else {
			size_t index = f.n_frames++;
			f.total += size;
			/* past the limit the message is dropped anyway: copy nothing more */
			if (index < TND_ARRAY_SIZE(f.data) && f.total <= WORKER_PROTO_MAX_MESSAGE) {
				f.data[index] = tnd_xmalloc(size + 1);
				memcpy(f.data[index], zmq_msg_data(&part), size);
				((char *)f.data[index])[size] = '\0';
				f.size[index] = size;
			}
		}
		more = zmq_msg_more(&part);
		zmq_msg_close(&part);
		first = false;
		if (!more)
			break;
	}
	*ret_frames = f;
	return 0;
}

int worker_proto_send(void *socket, const void *identity, size_t identity_len, enum worker_msg_type type,
		      const json_t *body)
{
	static const unsigned char version = WORKER_PROTO_VERSION;
	const char *word = worker_proto_type_word(type);
	json_t *empty = NULL;
	char *text;
	size_t len;
	int r = 0;

	if (body == NULL)
		body = empty = json_object();
	text = json_dumps(body, JSON_COMPACT);
	json_decref(empty);
	if (text == NULL)
		return -EINVAL;
	len = strlen(text);
	if (1 + strlen(word) + len > WORKER_PROTO_MAX_MESSAGE) {
		free(text);
		return -EMSGSIZE;
	}
	/* HWM and routing are decided on the first part: once it is queued,
	 * the remaining parts of the message are too */
	if (identity_len > 0 && zmq_send(socket, identity, identity_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		r = -errno;
	else if (zmq_send(socket, &version, 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
		 zmq_send(socket, word, strlen(word), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
		 zmq_send(socket, text, len, ZMQ_DONTWAIT) < 0)
		r = -errno;
	free(text);
	return r;
}

/* --- body builders ---------------------------------------------------------------- */

json_t *worker_proto_hello(const char *worker_id, int64_t pid, const char *const *plugins, size_t n_plugins,
			   const char *version, bool busy, const char *task_id)
{
	json_t *names = json_array();
	json_t *body;

	for (size_t i = 0; i < n_plugins; i++)
		json_array_append_new(names, json_string(plugins[i]));
	body = json_pack("{s:s, s:I, s:o, s:i, s:s, s:b}", "workerId", worker_id, "pid", (json_int_t)pid,
			 "plugins", names, "protocol", WORKER_PROTO_VERSION, "version", version, "busy", busy);
	if (body && task_id)
		json_object_set_new(body, "taskId", json_string(task_id));
	return body;
}

json_t *worker_proto_heartbeat(bool busy, const char *task_id, int64_t frames_dropped)
{
	json_t *body = json_pack("{s:b}", "busy", busy);

	if (task_id)
		json_object_set_new(body, "taskId", json_string(task_id));
	if (frames_dropped >= 0)
		json_object_set_new(body, "framesDropped", json_integer(frames_dropped));
	return body;
}

/* Error texts come from plugins; never let a stray byte make the body unbuildable. */
static json_t *proto_string_lossy(const char *text)
{
	json_t *s;
	char *copy;

	if (tnd_utf8_valid(text, strlen(text)))
		return json_string(text);
	copy = tnd_xstrdup(text);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	s = json_string(copy);
	free(copy);
	return s;
}

json_t *worker_proto_result(const char *task_id, int dispatch, int rc, const json_t *result, const char *error)
{
	json_t *body = json_pack("{s:s, s:i, s:i}", "taskId", task_id, "dispatch", dispatch, "rc", rc);

	if (body == NULL)
		return NULL;
	if (rc == 0)
		json_object_set(body, "result", (json_t *)result);
	else if (error && *error)
		json_object_set_new(body, "error", proto_string_lossy(error));
	return body;
}

json_t *worker_proto_welcome(int64_t interval_ms, int64_t timeout_ms)
{
	return json_pack("{s:I, s:I}", "heartbeatIntervalMs", (json_int_t)interval_ms, "heartbeatTimeoutMs",
			 (json_int_t)timeout_ms);
}

json_t *worker_proto_task(const char *task_id, int dispatch, const char *plugin, const char *op,
			  const json_t *request)
{
	return json_pack("{s:s, s:i, s:s, s:s, s:O}", "taskId", task_id, "dispatch", dispatch, "plugin", plugin,
			 "op", op, "request", (json_t *)request);
}

/* --- decoding ---------------------------------------------------------------------- */

/* Nesting of arrays and objects, counted on the text so that a hostile
 * body is refused before the parser recurses into it. */
bool worker_proto_depth_ok(const char *text, size_t len, unsigned max_depth)
{
	unsigned depth = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth)
				return false;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return true;
}

static bool proto_receives(enum worker_side side, enum worker_msg_type type)
{
	if (type == WORKER_MSG_HEARTBEAT)
		return true;
	if (side == WORKER_SIDE_CORE)
		return type == WORKER_MSG_HELLO || type == WORKER_MSG_RESULT || type == WORKER_MSG_BYE;
	return type == WORKER_MSG_WELCOME || type == WORKER_MSG_TASK || type == WORKER_MSG_SHUTDOWN;
}

static int proto_type_lookup(const void *word, size_t len, enum worker_msg_type *ret_type)
{
	for (size_t t = 0; t < TND_ARRAY_SIZE(proto_type_words); t++)
		if (strlen(proto_type_words[t]) == len && memcmp(proto_type_words[t], word, len) == 0) {
			*ret_type = (enum worker_msg_type)t;
			return 0;
		}
	return -ENOENT;
}

/* Member getters: NULL / false when missing or mistyped. */
static const char *proto_string(const json_t *body, const char *key, size_t max)
{
	const json_t *v = json_object_get(body, key);

	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > max)
		return NULL;
	return json_string_value(v);
}

static bool proto_int(const json_t *body, const char *key, json_int_t min, json_int_t max, json_int_t *ret)
{
	const json_t *v = json_object_get(body, key);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return false;
	*ret = json_integer_value(v);
	return true;
}

/* An optional member: true if absent or of the right type. */
static bool proto_optional_string(const json_t *body, const char *key, size_t max, const char **ret)
{
	const json_t *v = json_object_get(body, key);

	*ret = NULL;
	if (v == NULL)
		return true;
	*ret = proto_string(body, key, max);
	return *ret != NULL;
}

static bool proto_optional_bool(const json_t *body, const char *key, bool *ret)
{
	const json_t *v = json_object_get(body, key);

	*ret = false;
	if (v == NULL)
		return true;
	if (!json_is_boolean(v))
		return false;
	*ret = json_is_true(v);
	return true;
}

static bool proto_check_hello(json_t *body, struct worker_msg *msg)
{
	const json_t *plugins = json_object_get(body, "plugins");
	json_int_t pid, protocol;
	const json_t *name;
	size_t i;

	msg->u.hello.worker_id = proto_string(body, "workerId", WORKER_PROTO_ID_MAX);
	msg->u.hello.version = proto_string(body, "version", 128);
	if (msg->u.hello.worker_id == NULL || msg->u.hello.version == NULL ||
	    !worker_proto_id_valid(msg->u.hello.worker_id, strlen(msg->u.hello.worker_id)) ||
	    !proto_int(body, "pid", 1, INT_MAX, &pid) ||
	    !proto_int(body, "protocol", WORKER_PROTO_VERSION, WORKER_PROTO_VERSION, &protocol) ||
	    !json_is_array(plugins) || json_array_size(plugins) > WORKER_PROTO_MAX_PLUGINS ||
	    !proto_optional_bool(body, "busy", &msg->u.hello.busy) ||
	    !proto_optional_string(body, "taskId", WORKER_PROTO_TASK_ID_MAX, &msg->u.hello.task_id))
		return false;
	json_array_foreach(plugins, i, name)
		if (!json_is_string(name) || json_string_length(name) == 0 || json_string_length(name) > 64)
			return false;
	msg->u.hello.pid = pid;
	msg->u.hello.plugins = plugins;
	return true;
}

static bool proto_check_heartbeat(enum worker_side side, json_t *body, struct worker_msg *msg)
{
	const json_t *busy = json_object_get(body, "busy");
	json_int_t dropped = -1;

	msg->u.heartbeat.frames_dropped = -1;
	if (side == WORKER_SIDE_WORKER)
		return true; /* the core's heartbeat carries nothing */
	if (!json_is_boolean(busy) ||
	    !proto_optional_string(body, "taskId", WORKER_PROTO_TASK_ID_MAX, &msg->u.heartbeat.task_id))
		return false;
	if (json_object_get(body, "framesDropped") && !proto_int(body, "framesDropped", 0, INT64_MAX, &dropped))
		return false;
	msg->u.heartbeat.busy = json_is_true(busy);
	msg->u.heartbeat.frames_dropped = dropped;
	return true;
}

static bool proto_check_result(json_t *body, struct worker_msg *msg)
{
	json_int_t dispatch, rc;
	const json_t *error = json_object_get(body, "error");

	msg->u.result.task_id = proto_string(body, "taskId", WORKER_PROTO_TASK_ID_MAX);
	if (msg->u.result.task_id == NULL || !proto_int(body, "dispatch", 1, INT_MAX, &dispatch) ||
	    !proto_int(body, "rc", -4095, 0, &rc))
		return false;
	if (error != NULL && !json_is_string(error))
		return false;
	msg->u.result.dispatch = (int)dispatch;
	msg->u.result.rc = (int)rc;
	msg->u.result.error = error ? json_string_value(error) : "";
	msg->u.result.result = NULL;
	if (rc == 0) {
		msg->u.result.result = json_object_get(body, "result");
		if (!json_is_object(msg->u.result.result))
			return false;
	}
	return true;
}

static bool proto_check_welcome(json_t *body, struct worker_msg *msg)
{
	json_int_t interval, timeout;

	if (!proto_int(body, "heartbeatIntervalMs", WORKER_PROTO_INTERVAL_MIN_MS, WORKER_PROTO_INTERVAL_MAX_MS,
		       &interval) ||
	    !proto_int(body, "heartbeatTimeoutMs", interval + 1, WORKER_PROTO_TIMEOUT_MAX_MS, &timeout))
		return false;
	msg->u.welcome.interval_ms = interval;
	msg->u.welcome.timeout_ms = timeout;
	return true;
}

static bool proto_check_task(json_t *body, struct worker_msg *msg)
{
	json_int_t dispatch;

	msg->u.task.task_id = proto_string(body, "taskId", WORKER_PROTO_TASK_ID_MAX);
	msg->u.task.plugin = proto_string(body, "plugin", 64);
	msg->u.task.op = proto_string(body, "op", 64);
	msg->u.task.request = json_object_get(body, "request");
	if (msg->u.task.task_id == NULL || msg->u.task.plugin == NULL || msg->u.task.op == NULL ||
	    !json_is_object(msg->u.task.request) || !proto_int(body, "dispatch", 1, INT_MAX, &dispatch))
		return false;
	msg->u.task.dispatch = (int)dispatch;
	return true;
}

static bool proto_check_body(enum worker_side side, json_t *body, struct worker_msg *msg)
{
	switch (msg->type) {
	case WORKER_MSG_HELLO: return proto_check_hello(body, msg);
	case WORKER_MSG_HEARTBEAT: return proto_check_heartbeat(side, body, msg);
	case WORKER_MSG_RESULT: return proto_check_result(body, msg);
	case WORKER_MSG_WELCOME: return proto_check_welcome(body, msg);
	case WORKER_MSG_TASK: return proto_check_task(body, msg);
	case WORKER_MSG_BYE:
	case WORKER_MSG_SHUTDOWN: return true;
	}
	return false;
}

int worker_proto_decode(enum worker_side side, const struct worker_frames *frames, struct worker_msg *ret_msg,
			enum worker_drop *ret_reason)
{
	struct worker_msg msg;
	enum worker_drop reason;
	json_error_t jerr;
	json_t *body;

	memset(&msg, 0, sizeof(msg));
	if (frames->total > WORKER_PROTO_MAX_MESSAGE) {
		reason = WORKER_DROP_OVERSIZED;
		goto drop;
	}
	if (frames->n_frames != 3) {
		reason = WORKER_DROP_FRAMES;
		goto drop;
	}
	if (frames->size[0] != 1 || ((const unsigned char *)frames->data[0])[0] != WORKER_PROTO_VERSION) {
		reason = WORKER_DROP_VERSION;
		goto drop;
	}
	if (proto_type_lookup(frames->data[1], frames->size[1], &msg.type) < 0 || !proto_receives(side, msg.type)) {
		reason = WORKER_DROP_TYPE;
		goto drop;
	}
	if (!tnd_utf8_valid(frames->data[2], frames->size[2])) {
		reason = WORKER_DROP_UTF8;
		goto drop;
	}
	if (!worker_proto_depth_ok(frames->data[2], frames->size[2], WORKER_PROTO_MAX_DEPTH)) {
		reason = WORKER_DROP_DEPTH;
		goto drop;
	}
	body = json_loadb(frames->data[2], frames->size[2], JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(body)) {
		json_decref(body);
		reason = WORKER_DROP_JSON;
		goto drop;
	}
	msg.body = body;
	if (!proto_check_body(side, body, &msg)) {
		json_decref(body);
		reason = WORKER_DROP_FIELDS;
		goto drop;
	}
	*ret_msg = msg;
	return 0;
drop:
	*ret_reason = reason;
	return -EBADMSG;
}

void worker_msg_clear(struct worker_msg *msg)
{
	if (msg == NULL)
		return;
	json_decref(msg->body);
	memset(msg, 0, sizeof(*msg));
}
