/*
 * util.h — small helpers shared by the daemon, tenancyctl and the tests:
 * time, hashing and encodings, random identifiers, UTF-8 checks, safe file
 * handling (ownership checks, atomic writes).  Nothing here knows about
 * tenants.
 */
#ifndef TND_UTIL_H
#define TND_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <tenancyd/plugin.h>

#define TND_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* --- memory: the daemon treats allocation failure as fatal ----------------- */
void *tnd_xmalloc(size_t size);
void *tnd_xcalloc(size_t n, size_t size);
void *tnd_xrealloc(void *ptr, size_t size);
char *tnd_xstrdup(const char *s);
char *tnd_xstrndup(const char *s, size_t n);
char *tnd_xasprintf(const char *fmt, ...) TND_PRINTF(1, 2);

/** Free *p and set it to NULL; for __attribute__((cleanup)). */
void tnd_freep(void *p);
#define _cleanup_free_ __attribute__((cleanup(tnd_freep)))

/* --- strings ----------------------------------------------------------------- */
/** Copy with truncation; always NUL-terminates when cap > 0.  Returns strlen(src). */
size_t tnd_strlcpy(char *dst, const char *src, size_t cap);
bool tnd_streq(const char *a, const char *b); /* NULL-safe */
bool tnd_str_has_prefix(const char *s, const char *prefix);
/** True if @len bytes at @s are well-formed UTF-8 without NUL bytes. */
bool tnd_utf8_valid(const char *s, size_t len);

/* --- time -------------------------------------------------------------------- */
int64_t tnd_now_ms(void);        /* wall clock, ms since epoch */
int64_t tnd_monotonic_us(void);  /* monotonic, µs */
/** Format @ms as RFC 3339 UTC with milliseconds ("2026-11-28T10:21:07.123Z"). */
void tnd_format_time(int64_t ms, char buf[32]);

/* --- hashing, randomness, encodings ----------------------------------------- */
/** Lower-case hex SHA-256 of @len bytes. */
void tnd_sha256_hex(const void *data, size_t len, char out[65]);
/** Cryptographically strong random bytes; 0 or -EIO. */
int tnd_random_bytes(void *buf, size_t len);
/** A random UUID (version 4) as 36 characters + NUL. */
void tnd_uuid4(char out[37]);
/** base64url without padding.  Returns the encoded length (excl. NUL); @out needs
 *  4*ceil(len/3)+1 bytes. */
size_t tnd_base64url_encode(const void *data, size_t len, char *out);
/** Decode base64url (padding optional).  0 or -EINVAL; -ENOBUFS if @cap is too small. */
int tnd_base64url_decode(const char *in, size_t in_len, unsigned char *out, size_t cap,
			 size_t *ret_len);
/** Constant-time comparison of @len bytes. */
bool tnd_memeq_consttime(const void *a, const void *b, size_t len);

/* --- files -------------------------------------------------------------------- */
enum tnd_file_policy {
	TND_FILE_TRUSTED,  /* code or config: not writable by group/others, owner root or us */
	TND_FILE_SECRET,   /* as TRUSTED, and no access at all for group/others (0600/0400) */
};
/**
 * Refuse a file that could have been planted or read by someone else:
 * symlink or not a regular file, owned by neither root nor the effective
 * user, group/world-writable (SECRET: any group/other permission), or in a
 * directory writable by group/others without the sticky bit.  0, -ENOENT or
 * -EPERM with the reason in @err.
 */
int tnd_file_check(const char *path, enum tnd_file_policy policy, struct tnd_error *err);
/** Read a whole file of at most @max bytes (NUL-terminated). */
int tnd_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len, struct tnd_error *err);
/** Write @len bytes to @path atomically (temp file, fsync, rename, fsync dir). */
int tnd_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			  struct tnd_error *err);
/** mkdir -p with @mode for created components. */
int tnd_mkdir_p(const char *path, mode_t mode);
/** Absolute, normalized form of @path (the file need not exist); caller frees. */
char *tnd_path_absolute(const char *path);

#endif /* TND_UTIL_H */
