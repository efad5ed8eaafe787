/*
 * tenancyd/host.h — the services the core lends to a plugin.
 *
 * The core builds one host table per loaded plugin and passes it to init().
 * It stays valid until the plugin's fini() returns.  Every function takes
 * the table itself as its first argument, which is how the core knows which
 * plugin is calling (log lines and metrics are labelled with its name).
 *
 * All functions are safe to call from any thread.  The table is append-only
 * (see plugin.h); check TND_HAS_FIELD() before using a field that is newer
 * than the minor you build against.
 *
 * JSON: documents the core hands to a plugin (its configuration, policy
 * requests, isolation requests) are opaque struct tnd_json handles read with
 * JSON Pointers (RFC 6901, "" is the whole document, "/spec/plan" a member,
 * "/labels/0" an array element).  Output is JSON text appended to a
 * struct tnd_buf.  A plugin that prefers its own JSON library may parse
 * json_dump() output instead.
 */
#ifndef TENANCYD_HOST_H
#define TENANCYD_HOST_H

#include <tenancyd/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Log levels, numbered as syslog(3). */
enum tnd_log_level {
	TND_LOG_ERROR = 3,
	TND_LOG_WARNING = 4,
	TND_LOG_NOTICE = 5,
	TND_LOG_INFO = 6,
	TND_LOG_DEBUG = 7,
};

/** What json_type() reports. */
enum tnd_json_type {
	TND_JSON_ABSENT = 0, /**< the pointer names nothing */
	TND_JSON_OBJECT,
	TND_JSON_ARRAY,
	TND_JSON_STRING,
	TND_JSON_INTEGER,
	TND_JSON_REAL,
	TND_JSON_BOOLEAN,
	TND_JSON_NULL,
};

struct tnd_audit_record;
struct tnd_audit_digest;

struct tnd_host {
	uint32_t size;          /**< sizeof(struct tnd_host) as the core built it */
	uint16_t abi_major;
	uint16_t abi_minor;
	const char *plugin_name; /**< the name this plugin was loaded under */
	const char *state_dir;   /**< the daemon's state directory (absolute) */

	/* --- logging and time ------------------------------------------------ */

	/** One structured log line, labelled with the plugin's name and the
	 *  request and tenant the calling thread is serving.  Never pass secrets. */
	void (*log)(const struct tnd_host *host, int level, const char *fmt, ...) TND_PRINTF(3, 4);
	/** Wall-clock time, milliseconds since the Unix epoch. */
	int64_t (*clock_realtime_ms)(const struct tnd_host *host);
	/** Monotonic time in microseconds, for durations. */
	int64_t (*clock_monotonic_us)(const struct tnd_host *host);
	/** Fill @buf with cryptographically strong random bytes.  0 or -EIO. */
	int (*random_bytes)(const struct tnd_host *host, void *buf, size_t len);

	/* --- secrets --------------------------------------------------------- */

	/**
	 * Read a secret file (a key, a password, a connection string).  Refuses
	 * -EPERM a file that is a symlink, not a regular file, readable or
	 * writable by group or others, or owned by someone other than root or
	 * the daemon's user.  Trailing newlines are stripped; the result is
	 * NUL-terminated.  -ENOBUFS when @cap is too small.
	 */
	int (*secret_read)(const struct tnd_host *host, const char *path, char *buf, size_t cap,
			   size_t *ret_len, struct tnd_error *err);

	/* --- JSON documents -------------------------------------------------- */

	/** Parse @len bytes of JSON text into a new document (free with json_free). */
	int (*json_parse)(const struct tnd_host *host, const char *text, size_t len,
			  struct tnd_json **ret_doc, struct tnd_error *err);
	/** Free a document made by json_parse().  Accepts NULL. */
	void (*json_free)(const struct tnd_host *host, struct tnd_json *doc);
	/** The type of the value at @pointer, TND_JSON_ABSENT if none. */
	int (*json_type)(const struct tnd_host *host, const struct tnd_json *doc, const char *pointer);
	/** Borrow the string at @pointer (valid while @doc lives).  -ENOENT, -EINVAL on type. */
	int (*json_get_string)(const struct tnd_host *host, const struct tnd_json *doc,
			       const char *pointer, const char **ret_value);
	/** The integer at @pointer.  -ENOENT, -EINVAL on type. */
	int (*json_get_int)(const struct tnd_host *host, const struct tnd_json *doc,
			    const char *pointer, int64_t *ret_value);
	/** The boolean at @pointer as 0/1.  -ENOENT, -EINVAL on type. */
	int (*json_get_bool)(const struct tnd_host *host, const struct tnd_json *doc,
			     const char *pointer, int *ret_value);
	/** The number of elements (array) or members (object) at @pointer. */
	int (*json_get_size)(const struct tnd_host *host, const struct tnd_json *doc,
			     const char *pointer, size_t *ret_size);
	/** Borrow the @index-th member name of the object at @pointer (stable order). */
	int (*json_get_key)(const struct tnd_host *host, const struct tnd_json *doc,
			    const char *pointer, size_t index, const char **ret_key);
	/** Append the compact JSON text of the value at @pointer to @out. */
	int (*json_dump)(const struct tnd_host *host, const struct tnd_json *doc,
			 const char *pointer, struct tnd_buf *out);

	/* --- output buffers -------------------------------------------------- */

	/** Append raw bytes.  0 or -ENOMEM. */
	int (*buf_append)(const struct tnd_host *host, struct tnd_buf *buf, const char *data, size_t len);
	/** Append printf-style text. */
	int (*buf_printf)(const struct tnd_host *host, struct tnd_buf *buf, const char *fmt, ...)
		TND_PRINTF(3, 4);
	/** Append @value as a quoted, escaped JSON string (must be valid UTF-8). */
	int (*buf_append_json_string)(const struct tnd_host *host, struct tnd_buf *buf, const char *value);

	/* --- metrics --------------------------------------------------------- */

	/** Add @delta to counter @name{@labels}; labels are `k="v",k2="v2"` or NULL.
	 *  The name is prefixed with tenancyd_plugin_ by the core. */
	void (*metric_counter_add)(const struct tnd_host *host, const char *name, const char *labels,
				   uint64_t delta);
	/** Record one observation (seconds) in histogram @name{@labels}. */
	void (*metric_observe)(const struct tnd_host *host, const char *name, const char *labels,
			       double value);

	/** The core's private data; plugins never touch it. */
	void *core_private;

	/* --- ABI 1.2: audit --------------------------------------------------- */

	/**
	 * Hash audit record @rec as number @seq after the record whose hash is
	 * @prev_hash (64 hex digits; 64 zeros before the first): SHA-256 over
	 * its canonical form (docs/audit.md), and the id of the key that will
	 * sign it.  Storage drivers call it inside the transaction that writes
	 * @rec, in commit order.  0, or a negative errno (no signing key) that
	 * must fail the commit.
	 */
	int (*audit_hash)(const struct tnd_host *host, const struct tnd_audit_record *rec, int64_t seq,
			  const char *prev_hash, struct tnd_audit_digest *ret_digest, struct tnd_error *err);
	/**
	 * Sign @n record hashes (hex, from audit_hash) into @ret_signatures
	 * (base64, NUL-terminated), possibly on several threads.  Drivers call
	 * it once before committing a transaction that appended audit records,
	 * for all of them: signing in commit order one by one would serialize
	 * it behind the single writer.  0, or a negative errno that must fail
	 * the transaction.
	 */
	int (*audit_sign_records)(const struct tnd_host *host, size_t n, const char *const *hashes,
				  char (*ret_signatures)[89], struct tnd_error *err);
	/**
	 * Sign the chain head (record @seq with hash @hash) into @ret_signature
	 * (base64, NUL-terminated).  Drivers call it once before committing a
	 * transaction that appended audit records.  0 or a negative errno.
	 */
	int (*audit_sign_head)(const struct tnd_host *host, int64_t seq, const char *hash, char ret_signature[89],
			       struct tnd_error *err);
};

#ifdef __cplusplus
}
#endif

#endif /* TENANCYD_HOST_H */
