/*
 * util.c — small helpers shared by the daemon, tenancyctl and the tests.
 * See util.h; nothing here knows about tenants.
 */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "util.h"

static void util_oom(void)
{
	static const char msg[] = "{\"level\":\"error\",\"msg\":\"out of memory\"}\n";
	ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *tnd_xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (p == NULL)
		util_oom();
	return p;
}

void *tnd_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		util_oom();
	return p;
}

void *tnd_xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (p == NULL)
		util_oom();
	return p;
}

char *tnd_xstrdup(const char *s)
{
	char *p;

	if (s == NULL)
		return NULL;
	p = strdup(s);
	if (p == NULL)
		util_oom();
	return p;
}

char *tnd_xstrndup(const char *s, size_t n)
{
	char *p;

	if (s == NULL)
		return NULL;
	p = strndup(s, n);
	if (p == NULL)
		util_oom();
	return p;
}

char *tnd_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (r < 0)
		util_oom();
	return p;
}

void tnd_freep(void *p)
{
	void **pp = p;

	free(*pp);
	*pp = NULL;
}

size_t tnd_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n = strlen(src);

	if (cap > 0) {
		size_t c = n < cap - 1 ? n : cap - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

bool tnd_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool tnd_str_has_prefix(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool tnd_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t need;
		uint32_t cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			need = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i - 1 < need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		/* overlong forms, surrogates, beyond U+10FFFF */
		if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += need + 1;
	}
	return true;
}

int64_t tnd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tnd_monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void tnd_format_time(int64_t ms, char buf[32])
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char tmp[96];

	gmtime_r(&secs, &tm);
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	tnd_strlcpy(buf, tmp, 32);
}

void tnd_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[SHA256_DIGEST_LENGTH];

	SHA256(data, len, digest);
	for (size_t i = 0; i < sizeof(digest); i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 0xf];
	}
	out[64] = '\0';
}

int tnd_random_bytes(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t r = getrandom(p, len, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -EIO;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

void tnd_uuid4(char out[37])
{
	unsigned char b[16];

	if (tnd_random_bytes(b, sizeof(b)) < 0)
		abort();
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t tnd_base64url_encode(const void *data, size_t len, char *out)
{
	const unsigned char *in = data;
	size_t o = 0, i = 0;

	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url_alphabet[(v >> 18) & 63];
		out[o++] = b64url_alphabet[(v >> 12) & 63];
		out[o++] = b64url_alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int tnd_base64url_decode(const char *in, size_t in_len, unsigned char *out, size_t cap,
			 size_t *ret_len)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	while (in_len > 0 && in[in_len - 1] == '=')
		in_len--;
	if (in_len % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < in_len; i++) {
		int v = b64url_value(in[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -ENOBUFS;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* leftover bits must be zero for a canonical encoding */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	*ret_len = o;
	return 0;
}

bool tnd_memeq_consttime(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

static int util_check_dir(const char *path, struct tnd_error *err)
{
	char *copy = tnd_xstrdup(path);
	char *dir = dirname(copy);
	struct stat st;
	int r = 0;

	if (stat(dir, &st) < 0) {
		r = -errno;
		tnd_error_set(err, "%s: cannot stat directory: %s", dir, strerror(errno));
	} else if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		r = -EPERM;
		tnd_error_set(err, "%s: directory is writable by group or others", dir);
	} else if (st.st_uid != 0 && st.st_uid != geteuid()) {
		r = -EPERM;
		tnd_error_set(err, "%s: directory is owned by uid %u, neither root nor the daemon's user",
			      dir, (unsigned)st.st_uid);
	}
	free(copy);
	return r;
}

int tnd_file_check(const char *path, enum tnd_file_policy policy, struct tnd_error *err)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		int e = errno;
		tnd_error_set(err, "%s: %s", path, strerror(e));
		return -e;
	}
	if (S_ISLNK(st.st_mode)) {
		/* Packaged plugins are sometimes symlinked; judge the target and its directory. */
		char *real = realpath(path, NULL);
		int r;
		if (real == NULL) {
			tnd_error_set(err, "%s: dangling symlink", path);
			return -ENOENT;
		}
		r = tnd_file_check(real, policy, err);
		free(real);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		tnd_error_set(err, "%s: not a regular file", path);
		return -EPERM;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		tnd_error_set(err, "%s: owned by uid %u, neither root nor the daemon's user (uid %u)",
			      path, (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		tnd_error_set(err, "%s: writable by group or others (mode %04o)", path,
			      (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	if (policy == TND_FILE_SECRET && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		tnd_error_set(err, "%s: secret file is accessible by group or others (mode %04o, want 0600)",
			      path, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return util_check_dir(path, err);
}

int tnd_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len, struct tnd_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 4096;
	char *data;

	if (fd < 0) {
		int e = errno;
		tnd_error_set(err, "%s: %s", path, strerror(e));
		return -e;
	}
	data = tnd_xmalloc(cap);
	for (;;) {
		ssize_t r;
		if (len + 1 >= cap) {
			cap *= 2;
			data = tnd_xrealloc(data, cap);
		}
		r = read(fd, data + len, cap - len - 1);
		if (r < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			tnd_error_set(err, "%s: %s", path, strerror(e));
			free(data);
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			tnd_error_set(err, "%s: larger than %zu bytes", path, max);
			free(data);
			close(fd);
			return -EFBIG;
		}
	}
	close(fd);
	data[len] = '\0';
	*ret_data = data;
	if (ret_len)
		*ret_len = len;
	return 0;
}

int tnd_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			  struct tnd_error *err)
{
	char *tmp = tnd_xasprintf("%s.tmp.%ld", path, (long)getpid());
	char *copy = tnd_xstrdup(path);
	const char *p = data;
	int fd, dfd, r = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		r = -errno;
		tnd_error_set(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		goto fail;
	}
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto fail;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	goto out;
fail:
	tnd_error_set(err, "%s: %s", path, strerror(-r));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	free(copy);
	return r;
}

int tnd_mkdir_p(const char *path, mode_t mode)
{
	char *copy = tnd_xstrdup(path);
	int r = 0;

	for (char *p = copy + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(copy, mode) < 0 && errno != EEXIST) {
				r = -errno;
				break;
			}
			*p = saved;
			if (saved == '\0')
				break;
		}
	}
	free(copy);
	return r;
}

char *tnd_path_absolute(const char *path)
{
	char cwd[PATH_MAX];
	char *joined, *out, *o;
	const char *s;

	if (path[0] == '/') {
		joined = tnd_xstrdup(path);
	} else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return tnd_xstrdup(path);
		joined = tnd_xasprintf("%s/%s", cwd, path);
	}
	/* collapse "//", "/./" and "/x/../" lexically */
	out = tnd_xmalloc(strlen(joined) + 2);
	o = out;
	s = joined;
	while (*s) {
		const char *seg;
		size_t n;
		while (*s == '/')
			s++;
		seg = s;
		while (*s && *s != '/')
			s++;
		n = (size_t)(s - seg);
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (o > out && *--o != '/')
				;
			continue;
		}
		*o++ = '/';
		memcpy(o, seg, n);
		o += n;
	}
	if (o == out)
		*o++ = '/';
	*o = '\0';
	free(joined);
	return out;
}
