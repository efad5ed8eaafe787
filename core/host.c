/*
 * host.c — the services the core lends to plugins (tenancyd/host.h), one
 * table per plugin so log lines and metrics carry the plugin's name, plus
 * the jansson bridge: a struct tnd_json is a json_t, read with RFC 6901
 * JSON Pointers.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "host.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

struct host_private {
	char *plugin_name;
	char *state_dir;
	char *component; /* "plugin:<name>" */
};

/* --- buffers ---------------------------------------------------------------- */

void tnd_buf_init(struct tnd_buf *buf)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
}

void tnd_buf_free(struct tnd_buf *buf)
{
	free(buf->data);
	tnd_buf_init(buf);
}

void tnd_buf_reset(struct tnd_buf *buf)
{
	buf->len = 0;
	if (buf->data)
		buf->data[0] = '\0';
}

int tnd_buf_add(struct tnd_buf *buf, const char *data, size_t len)
{
	if (buf->len + len + 1 > buf->cap) {
		size_t cap = buf->cap ? buf->cap : 256;
		while (cap < buf->len + len + 1)
			cap *= 2;
		buf->data = tnd_xrealloc(buf->data, cap);
		buf->cap = cap;
	}
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return 0;
}

static int buf_vaddf(struct tnd_buf *buf, const char *fmt, va_list ap)
{
	va_list copy;
	int n;

	va_copy(copy, ap);
	n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n < 0)
		return -EINVAL;
	if (buf->len + (size_t)n + 1 > buf->cap) {
		size_t cap = buf->cap ? buf->cap : 256;
		while (cap < buf->len + (size_t)n + 1)
			cap *= 2;
		buf->data = tnd_xrealloc(buf->data, cap);
		buf->cap = cap;
	}
	vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
	buf->len += (size_t)n;
	return 0;
}

int tnd_buf_addf(struct tnd_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vaddf(buf, fmt, ap);
	va_end(ap);
	return r;
}

char *tnd_buf_steal(struct tnd_buf *buf)
{
	char *data = buf->data ? buf->data : tnd_xstrdup("");

	tnd_buf_init(buf);
	return data;
}

/* --- JSON pointers -------------------------------------------------------------- */

json_t *json_pointer_get(const json_t *doc, const char *pointer)
{
	const json_t *cur = doc;
	const char *p = pointer;

	if (doc == NULL || pointer == NULL)
		return NULL;
	if (*p == '\0')
		return (json_t *)doc;
	if (*p != '/')
		return NULL;
	while (*p == '/' && cur != NULL) {
		char token[256];
		size_t n = 0;

		p++;
		while (*p && *p != '/') {
			char c = *p++;
			if (c == '~') {
				if (*p == '0')
					c = '~';
				else if (*p == '1')
					c = '/';
				else
					return NULL;
				p++;
			}
			if (n + 1 >= sizeof(token))
				return NULL;
			token[n++] = c;
		}
		token[n] = '\0';
		if (json_is_object(cur)) {
			cur = json_object_get(cur, token);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long idx;
			if (n == 0 || (n > 1 && token[0] == '0'))
				return NULL;
			errno = 0;
			idx = strtoul(token, &end, 10);
			if (*end != '\0' || errno)
				return NULL;
			cur = json_array_get(cur, idx);
		} else {
			return NULL;
		}
	}
	return (json_t *)cur;
}

/* --- the host table's functions ---------------------------------------------------- */

static const struct host_private *host_priv(const struct tnd_host *host)
{
	return host->core_private;
}

static TND_PRINTF(3, 4) void host_log(const struct tnd_host *host, int level, const char *fmt, ...)
{
	va_list ap;

	if (level < TND_LOG_ERROR)
		level = TND_LOG_ERROR;
	if (level > TND_LOG_DEBUG)
		level = TND_LOG_DEBUG;
	va_start(ap, fmt);
	log_emitv(level, host_priv(host)->component, NULL, fmt, ap);
	va_end(ap);
}

static int64_t host_clock_realtime_ms(const struct tnd_host *host)
{
	return tnd_now_ms();
}

static int64_t host_clock_monotonic_us(const struct tnd_host *host)
{
	return tnd_monotonic_us();
}

static int host_random_bytes(const struct tnd_host *host, void *buf, size_t len)
{
	return tnd_random_bytes(buf, len);
}

static int host_secret_read(const struct tnd_host *host, const char *path, char *buf, size_t cap,
			    size_t *ret_len, struct tnd_error *err)
{
	char *data = NULL;
	size_t len = 0;
	int r;

	if (path == NULL || buf == NULL || cap == 0) {
		tnd_error_set(err, "secret_read: bad arguments");
		return -EINVAL;
	}
	r = tnd_file_check(path, TND_FILE_SECRET, err);
	if (r < 0)
		return r;
	r = tnd_read_file(path, 1 << 20, &data, &len, err);
	if (r < 0)
		return r;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (len + 1 > cap) {
		explicit_bzero(data, len);
		free(data);
		tnd_error_set(err, "%s: secret longer than %zu bytes", path, cap - 1);
		return -ENOBUFS;
	}
	memcpy(buf, data, len);
	buf[len] = '\0';
	explicit_bzero(data, len);
	free(data);
	if (ret_len)
		*ret_len = len;
	return 0;
}

static int host_json_parse(const struct tnd_host *host, const char *text, size_t len,
			   struct tnd_json **ret_doc, struct tnd_error *err)
{
	json_error_t jerr;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);

	if (doc == NULL) {
		tnd_error_set(err, "JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	*ret_doc = (struct tnd_json *)doc;
	return 0;
}

static void host_json_free(const struct tnd_host *host, struct tnd_json *doc)
{
	json_decref((json_t *)doc);
}

static int host_json_type(const struct tnd_host *host, const struct tnd_json *doc, const char *pointer)
{
	json_t *v = json_pointer_get(host_json_value(doc), pointer);

	if (v == NULL)
		return TND_JSON_ABSENT;
	switch (json_typeof(v)) {
	case JSON_OBJECT: return TND_JSON_OBJECT;
	case JSON_ARRAY: return TND_JSON_ARRAY;
	case JSON_STRING: return TND_JSON_STRING;
	case JSON_INTEGER: return TND_JSON_INTEGER;
	case JSON_REAL: return TND_JSON_REAL;
	case JSON_TRUE:
	case JSON_FALSE: return TND_JSON_BOOLEAN;
	case JSON_NULL: return TND_JSON_NULL;
	default: return TND_JSON_ABSENT;
	}
}

static int host_json_get_string(const struct tnd_host *host, const struct tnd_json *doc,
				const char *pointer, const char **ret_value)
{
	json_t *v = json_pointer_get(host_json_value(doc), pointer);

	if (v == NULL)
		return -ENOENT;
	if (!json_is_string(v))
		return -EINVAL;
	*ret_value = json_string_value(v);
	return 0;
}

static int host_json_get_int(const struct tnd_host *host, const struct tnd_json *doc,
			     const char *pointer, int64_t *ret_value)
{
	json_t *v = json_pointer_get(host_json_value(doc), pointer);

	if (v == NULL)
		return -ENOENT;
	if (!json_is_integer(v))
		return -EINVAL;
	*ret_value = json_integer_value(v);
	return 0;
}

static int host_json_get_bool(const struct tnd_host *host, const struct tnd_json *doc,
			      const char *pointer, int *ret_value)
{
	json_t *v = json_pointer_get(host_json_value(doc), pointer);

	if (v == NULL)
		return -ENOENT;
	if (!json_is_boolean(v))
		return -EINVAL;
	*ret_value = json_is_true(v);
	return 0;
}

static int host_json_get_size(const struct tnd_host *host, const struct tnd_json *doc,
			      const char *pointer, size_t *ret_size)
{
	json_t *v = json_pointer_get(host_json_value(doc), pointer);

	if (v == NULL)
		return -ENOENT;
	if (json_is_array(v))
		*ret_size = json_array_size(v);
	else if (json_is_object(v))
		*ret_size = json_object_size(v);
	else
		return -EINVAL;
	return 0;
}

static int host_json_get_key(const struct tnd_host *host, const struct tnd_json *doc,
			     const char *pointer, size_t index, const char **ret_key)
{
	json_t *v = json_pointer_get(host_json_value(doc), pointer);
	const char *key;
	json_t *value;
	size_t i = 0;

	if (v == NULL)
		return -ENOENT;
	if (!json_is_object(v))
		return -EINVAL;
	/* jansson keeps insertion order, so the index is stable while @doc lives */
	json_object_foreach(v, key, value) {
		if (i++ == index) {
			*ret_key = key;
			return 0;
		}
	}
	return -ENOENT;
}

static int host_json_dump(const struct tnd_host *host, const struct tnd_json *doc, const char *pointer,
			  struct tnd_buf *out)
{
	json_t *v = json_pointer_get(host_json_value(doc), pointer);
	char *text;
	int r;

	if (v == NULL)
		return -ENOENT;
	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	if (text == NULL)
		return -ENOMEM;
	r = tnd_buf_add(out, text, strlen(text));
	free(text);
	return r;
}

static int host_buf_append(const struct tnd_host *host, struct tnd_buf *buf, const char *data, size_t len)
{
	return tnd_buf_add(buf, data, len);
}

static TND_PRINTF(3, 4) int host_buf_printf(const struct tnd_host *host, struct tnd_buf *buf,
					    const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vaddf(buf, fmt, ap);
	va_end(ap);
	return r;
}

static int host_buf_append_json_string(const struct tnd_host *host, struct tnd_buf *buf, const char *value)
{
	json_t *s;
	char *text;
	int r;

	if (value == NULL || !tnd_utf8_valid(value, strlen(value)))
		return -EINVAL;
	s = json_string(value);
	text = json_dumps(s, JSON_ENCODE_ANY);
	json_decref(s);
	if (text == NULL)
		return -ENOMEM;
	r = tnd_buf_add(buf, text, strlen(text));
	free(text);
	return r;
}

static void host_metric_counter_add(const struct tnd_host *host, const char *name, const char *labels,
				    uint64_t delta)
{
	char full[160];

	snprintf(full, sizeof(full), "tenancyd_plugin_%s", name);
	metrics_counter_add(full, "Counter reported by a plugin.", labels, delta);
}

static void host_metric_observe(const struct tnd_host *host, const char *name, const char *labels,
				double value)
{
	char full[160];

	snprintf(full, sizeof(full), "tenancyd_plugin_%s", name);
	metrics_observe(full, "Histogram reported by a plugin.", labels, value);
}

static int host_audit_hash(const struct tnd_host *host, const struct tnd_audit_record *rec, int64_t seq,
			   const char *prev_hash, struct tnd_audit_digest *ret_digest, struct tnd_error *err)
{
	(void)host;
	return audit_digest(rec, seq, prev_hash, ret_digest, err);
}

static int host_audit_sign_records(const struct tnd_host *host, size_t n, const char *const *hashes,
				   char (*ret_signatures)[89], struct tnd_error *err)
{
	(void)host;
	return audit_sign_records(n, hashes, ret_signatures, err);
}

static int host_audit_sign_head(const struct tnd_host *host, int64_t seq, const char *hash, char ret_signature[89],
				struct tnd_error *err)
{
	(void)host;
	return audit_sign_head(seq, hash, ret_signature, err);
}

struct tnd_host *host_new(const char *plugin_name, const char *state_dir)
{
	struct tnd_host *host = tnd_xcalloc(1, sizeof(*host));
	struct host_private *priv = tnd_xcalloc(1, sizeof(*priv));

	priv->plugin_name = tnd_xstrdup(plugin_name);
	priv->state_dir = tnd_xstrdup(state_dir ? state_dir : "");
	priv->component = tnd_xasprintf("plugin:%s", plugin_name);

	host->size = sizeof(*host);
	host->abi_major = TND_ABI_MAJOR;
	host->abi_minor = TND_ABI_MINOR;
	host->plugin_name = priv->plugin_name;
	host->state_dir = priv->state_dir;
	host->log = host_log;
	host->clock_realtime_ms = host_clock_realtime_ms;
	host->clock_monotonic_us = host_clock_monotonic_us;
	host->random_bytes = host_random_bytes;
	host->secret_read = host_secret_read;
	host->json_parse = host_json_parse;
	host->json_free = host_json_free;
	host->json_type = host_json_type;
	host->json_get_string = host_json_get_string;
	host->json_get_int = host_json_get_int;
	host->json_get_bool = host_json_get_bool;
	host->json_get_size = host_json_get_size;
	host->json_get_key = host_json_get_key;
	host->json_dump = host_json_dump;
	host->buf_append = host_buf_append;
	host->buf_printf = host_buf_printf;
	host->buf_append_json_string = host_buf_append_json_string;
	host->metric_counter_add = host_metric_counter_add;
	host->metric_observe = host_metric_observe;
	host->core_private = priv;
	host->audit_hash = host_audit_hash;
	host->audit_sign_records = host_audit_sign_records;
	host->audit_sign_head = host_audit_sign_head;
	return host;
}

void host_free(struct tnd_host *host)
{
	struct host_private *priv;

	if (host == NULL)
		return;
	priv = host->core_private;
	free(priv->plugin_name);
	free(priv->state_dir);
	free(priv->component);
	free(priv);
	free(host);
}
