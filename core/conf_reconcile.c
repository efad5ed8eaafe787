/*
 * conf_reconcile.c — the `reconcile` section (controller and orchestrator
 * timing, the tenant credentials key) and the `workers` section (how worker
 * processes reach the core: endpoint, heartbeats, CURVE keys) of
 * tenancyd.conf.
 *
 * Key files are read here only to check their shape, so that `tenancyd -t`
 * and SIGHUP catch a wrong key before anything depends on it.  The modules
 * that use a key read it again: no key material is kept in a config
 * snapshot, and none is ever quoted in a message.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "conf_reconcile.h"
#include "util.h"

/* AES-256-GCM key for tenant credentials (docs/reconcile.md) */
#define RECONCILE_KEY_BYTES 32
#define RECONCILE_KEY_FILE_MAX 4096
/* A CURVE key (32 bytes) in ZeroMQ's Z85 encoding. */
#define WORKERS_Z85_KEY_LEN 40
/* About 1500 keys: more workers than one core drives, and small enough
 * that the quadratic duplicate check stays instant. */
#define WORKERS_AUTHORIZED_KEYS_MAX 65536
/* sun_path holds 108 bytes on Linux and 104 on the BSDs; ZeroMQ needs the
 * terminating NUL too.  100 leaves room on every platform. */
#define WORKERS_IPC_PATH_MAX 100

static const char *const reconcile_keys[] = {
	"resync_interval", "retry_base_ms", "retry_cap_ms", "max_attempts", "step_timeout",
	"archive_retention_days", "credentials_key_file", NULL,
};
static const char *const workers_keys[] = {
	"endpoint", "command", "heartbeat_interval_ms", "heartbeat_timeout_ms",
	"curve_secret_key_file", "authorized_keys_file", NULL,
};

static const char workers_z85_alphabet[] =
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
static const char reconcile_hex_digits[] = "0123456789abcdefABCDEF";

/* --- key files ----------------------------------------------------------------- */

/*
 * Check @path under @policy and read it; trailing whitespace (the final
 * newline an editor adds) is dropped.  Errors name the setting and the
 * file, as the tokens file's do.  The caller wipes and frees *@ret_text.
 */
static int reconcile_read_key_file(struct conf_reader *reader, config_setting_t *where, const char *setting,
				   const char *path, enum tnd_file_policy policy, size_t max, char **ret_text,
				   size_t *ret_len)
{
	struct tnd_error file_err;
	char *text = NULL;
	size_t len = 0;
	int r;

	r = tnd_file_check(path, policy, &file_err);
	if (r == 0)
		r = tnd_read_file(path, max, &text, &len, &file_err);
	if (r < 0)
		return conf_fail(reader, where, "%s: %s", setting, file_err.message);
	while (len > 0 && strchr(" \t\r\n", text[len - 1]) != NULL)
		text[--len] = '\0';
	*ret_text = text;
	*ret_len = len;
	return 0;
}

static void reconcile_wipe_free(char *text, size_t len)
{
	if (text == NULL)
		return;
	explicit_bzero(text, len);
	free(text);
}

static unsigned reconcile_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned)(c - 'a' + 10);
	return (unsigned)(c - 'A' + 10);
}

/* Base64 in the standard or the URL alphabet (not both at once), padding
 * optional but correct when present.  0, -EINVAL, or -ENOBUFS beyond @cap. */
static int reconcile_base64_decode(const char *text, size_t len, unsigned char *out, size_t cap,
				   size_t *ret_len)
{
	size_t padding = 0;
	char *url;
	int r;

	while (padding < len && text[len - 1 - padding] == '=')
		padding++;
	if (padding > 2 || (padding > 0 && len % 4 != 0))
		return -EINVAL;
	len -= padding;
	if ((memchr(text, '+', len) || memchr(text, '/', len)) && (memchr(text, '-', len) || memchr(text, '_', len)))
		return -EINVAL;
	url = tnd_xstrndup(text, len);
	for (size_t i = 0; i < len; i++)
		if (url[i] == '+')
			url[i] = '-';
		else if (url[i] == '/')
			url[i] = '_';
	r = tnd_base64url_decode(url, len, out, cap, ret_len);
	reconcile_wipe_free(url, len);
	return r;
}

/* 64 hex digits, or base64; the decoded length in *@ret_len. */
static int reconcile_key_decode(const char *text, size_t len, unsigned char *out, size_t cap, size_t *ret_len)
{
	if (len == 2 * RECONCILE_KEY_BYTES && strspn(text, reconcile_hex_digits) == len) {
		for (size_t i = 0; i < RECONCILE_KEY_BYTES; i++)
			out[i] = (unsigned char)(reconcile_hex_value(text[2 * i]) << 4 |
						 reconcile_hex_value(text[2 * i + 1]));
		*ret_len = RECONCILE_KEY_BYTES;
		return 0;
	}
	return reconcile_base64_decode(text, len, out, cap, ret_len);
}

static int reconcile_check_credentials_key(struct conf_reader *reader, config_setting_t *where,
					   const char *path)
{
	static const char setting[] = "reconcile.credentials_key_file";
	unsigned char key[3 * RECONCILE_KEY_BYTES];
	size_t text_len = 0, key_len = 0;
	char *text = NULL;
	int r;

	r = reconcile_read_key_file(reader, where, setting, path, TND_FILE_SECRET, RECONCILE_KEY_FILE_MAX,
				    &text, &text_len);
	if (r < 0)
		return r;
	r = reconcile_key_decode(text, text_len, key, sizeof(key), &key_len);
	explicit_bzero(key, sizeof(key));
	reconcile_wipe_free(text, text_len);

	if (text_len == 0)
		return conf_fail(reader, where, "%s: %s: the file is empty; want a %d-byte key as base64 or %d hex digits",
				 setting, path, RECONCILE_KEY_BYTES, 2 * RECONCILE_KEY_BYTES);
	if (r == -ENOBUFS)
		return conf_fail(reader, where, "%s: %s: the key decodes to more than %zu bytes, want exactly %d",
				 setting, path, sizeof(key), RECONCILE_KEY_BYTES);
	if (r < 0)
		return conf_fail(reader, where,
				 "%s: %s: the key is neither base64 nor hex; want %d bytes as base64 (standard or "
				 "URL alphabet) or %d hex digits",
				 setting, path, RECONCILE_KEY_BYTES, 2 * RECONCILE_KEY_BYTES);
	if (key_len != RECONCILE_KEY_BYTES)
		return conf_fail(reader, where, "%s: %s: the key decodes to %zu bytes, want exactly %d (AES-256)",
				 setting, path, key_len, RECONCILE_KEY_BYTES);
	return 0;
}

/* 40 characters of the Z85 alphabet that decode to 32 bytes. */
static bool workers_z85_key_valid(const char *s, size_t len)
{
	char copy[WORKERS_Z85_KEY_LEN + 1];
	uint8_t decoded[32];
	bool ok;

	if (len != WORKERS_Z85_KEY_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0' || strchr(workers_z85_alphabet, s[i]) == NULL)
			return false;
	memcpy(copy, s, len);
	copy[len] = '\0';
	/* zmq_z85_decode also refuses a group whose value overflows 32 bits. */
	ok = zmq_z85_decode(decoded, copy) != NULL;
	explicit_bzero(copy, sizeof(copy));
	explicit_bzero(decoded, sizeof(decoded));
	return ok;
}

static int workers_check_secret_key(struct conf_reader *reader, config_setting_t *where, const char *path)
{
	static const char setting[] = "workers.curve_secret_key_file";
	size_t len = 0;
	char *text = NULL;
	bool ok;
	int r;

	r = reconcile_read_key_file(reader, where, setting, path, TND_FILE_SECRET, RECONCILE_KEY_FILE_MAX, &text,
				    &len);
	if (r < 0)
		return r;
	ok = workers_z85_key_valid(text, len);
	reconcile_wipe_free(text, len);
	if (!ok)
		return conf_fail(reader, where,
				 "%s: %s: not a CURVE secret key; want %d Z85 characters (as zmq_curve_keypair() "
				 "makes them)",
				 setting, path, WORKERS_Z85_KEY_LEN);
	return 0;
}

/*
 * One Z85 public key per line, optionally followed by a `#` comment; blank
 * lines and lines starting with `#` are ignored.  '#' is a Z85 character,
 * but never the first of a valid key: it stands for 84, and 84 * 85^4
 * overflows the 32 bits a group of five characters encodes.
 */
static int workers_check_authorized_keys(struct conf_reader *reader, config_setting_t *where, const char *path)
{
	static const char setting[] = "workers.authorized_keys_file";
	struct {
		const char *key;
		unsigned line;
	} *keys = NULL;
	size_t n_keys = 0, len = 0;
	char *text = NULL, *line, *next;
	unsigned number = 0;
	int r;

	r = reconcile_read_key_file(reader, where, setting, path, TND_FILE_TRUSTED, WORKERS_AUTHORIZED_KEYS_MAX,
				    &text, &len);
	if (r < 0)
		return r;
	for (line = text; line != NULL && r == 0; line = next) {
		size_t word;
		const char *rest;

		number++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line += strspn(line, " \t\r");
		word = strcspn(line, " \t\r");
		rest = line + word + strspn(line + word, " \t\r");
		if (word == 0 || line[0] == '#')
			continue;
		if (!workers_z85_key_valid(line, word) || (rest[0] != '\0' && rest[0] != '#')) {
			r = conf_fail(reader, where,
				      "%s: %s:%u: not a CURVE public key; want %d Z85 characters, optionally "
				      "followed by a # comment",
				      setting, path, number, WORKERS_Z85_KEY_LEN);
			break;
		}
		for (size_t i = 0; i < n_keys; i++)
			if (memcmp(keys[i].key, line, WORKERS_Z85_KEY_LEN) == 0) {
				r = conf_fail(reader, where, "%s: %s:%u: the same key as line %u", setting, path,
					      number, keys[i].line);
				break;
			}
		keys = tnd_xrealloc(keys, (n_keys + 1) * sizeof(*keys));
		keys[n_keys].key = line;
		keys[n_keys++].line = number;
	}
	if (r == 0 && n_keys == 0)
		r = conf_fail(reader, where, "%s: %s: no keys; want one Z85 public key per line", setting, path);
	free(keys);
	free(text);
	return r;
}

/* --- reconcile ------------------------------------------------------------------ */

static int reconcile_parse(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf)
{
	int64_t resync = 60, base = 500, cap = 60000, attempts = 8, step = 120, retention = 30;
	config_setting_t *group = NULL, *where;
	char path[256];
	int r;

	r = conf_get_aggregate(reader, root, "reconcile", CONFIG_TYPE_GROUP, false, &group);
	if (r < 0)
		return r;
	if (group) {
		r = conf_check_keys(reader, group, reconcile_keys);
		if (r < 0)
			return r;
		if ((r = conf_get_int(reader, group, "resync_interval", false, 1, 86400, &resync)) < 0 ||
		    (r = conf_get_int(reader, group, "retry_base_ms", false, 10, 600000, &base)) < 0 ||
		    (r = conf_get_int(reader, group, "retry_cap_ms", false, 10, 86400000, &cap)) < 0 ||
		    (r = conf_get_int(reader, group, "max_attempts", false, 1, 1000, &attempts)) < 0 ||
		    (r = conf_get_int(reader, group, "step_timeout", false, 1, 86400, &step)) < 0 ||
		    (r = conf_get_int(reader, group, "archive_retention_days", false, 0, 36500, &retention)) < 0)
			return r;
		/* The backoff grows from the base up to the cap; a cap below the
		 * base is a contradiction, whichever of the two was written. */
		if (cap < base) {
			where = config_setting_get_member(group, "retry_cap_ms");
			if (where)
				return conf_fail(reader, where, "'%s' is %lld, below retry_base_ms (%lld)",
						 conf_setting_path(where, path, sizeof(path)), (long long)cap,
						 (long long)base);
			where = config_setting_get_member(group, "retry_base_ms");
			return conf_fail(reader, where,
					 "'%s' is %lld, above the default retry_cap_ms (%lld); set retry_cap_ms too",
					 conf_setting_path(where, path, sizeof(path)), (long long)base, (long long)cap);
		}
		r = conf_get_path(reader, group, "credentials_key_file", false, &conf->reconcile.credentials_key_file);
		if (r < 0)
			return r;
	}
	conf->reconcile.resync_interval_s = resync;
	conf->reconcile.retry_base_ms = base;
	conf->reconcile.retry_cap_ms = cap;
	conf->reconcile.max_attempts = (int)attempts;
	conf->reconcile.step_timeout_s = step;
	conf->reconcile.archive_retention_days = retention;

	if (conf->reconcile.credentials_key_file)
		return reconcile_check_credentials_key(reader, config_setting_get_member(group, "credentials_key_file"),
						       conf->reconcile.credentials_key_file);
	/* Registry-only mode (no isolation plugin) stores no credentials. */
	if (conf_reconcile_enabled(conf)) {
		where = group ? group
			      : config_setting_get_member(config_setting_get_member(root, "plugins"), "isolation");
		return conf_fail(reader, where,
				 "missing required setting 'reconcile.credentials_key_file': plugins.isolation "
				 "configures isolation plugins, and the tenants' data-plane credentials are "
				 "encrypted with this key");
	}
	return 0;
}

/* --- workers --------------------------------------------------------------------- */

/*
 * "tcp://<address>:<port>" with a numeric port.  ZeroMQ's wildcards are
 * refused: the same endpoint is what local workers connect to, and neither
 * "*" as an address nor an ephemeral port can be connected to (0.0.0.0
 * listens on every address and can).
 */
static bool workers_tcp_endpoint_valid(const char *endpoint)
{
	const char *address = endpoint + strlen("tcp://");
	const char *colon = strrchr(address, ':');
	const char *port;

	if (colon == NULL || colon == address || (colon - address == 1 && address[0] == '*'))
		return false;
	port = colon + 1;
	if (port[0] == '\0' || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port))
		return false;
	return strtoul(port, NULL, 10) >= 1 && strtoul(port, NULL, 10) <= 65535;
}

static int workers_parse_endpoint(struct conf_reader *reader, config_setting_t *group, struct tnd_conf *conf,
				  bool *ret_tcp)
{
	const char *endpoint = NULL, *socket_path;
	config_setting_t *where;
	char *joined, *absolute;
	size_t len;
	int r;

	if (group) {
		r = conf_get_string(reader, group, "endpoint", false, &endpoint);
		if (r < 0)
			return r;
	}
	if (endpoint == NULL) {
		conf->workers.endpoint = tnd_xasprintf("ipc://%s/workers.sock", conf->daemon.state_dir);
		len = strlen(conf->workers.endpoint) - strlen("ipc://");
		/* Only a daemon that runs workers binds the socket; a registry-only
		 * daemon may keep a state_dir of any length. */
		if (conf_reconcile_enabled(conf) && len > WORKERS_IPC_PATH_MAX)
			return conf_fail(reader, group,
					 "the default 'workers.endpoint' (%s) has a socket path of %zu bytes, more "
					 "than the %d a Unix socket path may have; set workers.endpoint to a shorter "
					 "ipc:// path",
					 conf->workers.endpoint, len, WORKERS_IPC_PATH_MAX);
		return 0;
	}

	where = config_setting_get_member(group, "endpoint");
	if (tnd_str_has_prefix(endpoint, "tcp://")) {
		if (!workers_tcp_endpoint_valid(endpoint))
			return conf_fail(reader, where,
					 "'workers.endpoint' is '%s', want tcp://<address>:<port> with a port number "
					 "(and 0.0.0.0 rather than * for every address)",
					 endpoint);
		conf->workers.endpoint = tnd_xstrdup(endpoint);
		*ret_tcp = true;
		return 0;
	}
	if (!tnd_str_has_prefix(endpoint, "ipc://"))
		return conf_fail(reader, where,
				 "'workers.endpoint' is '%s', want ipc://<socket path> or tcp://<address>:<port>",
				 endpoint);
	socket_path = endpoint + strlen("ipc://");
	if (socket_path[0] == '\0')
		return conf_fail(reader, where, "'workers.endpoint' names no socket path after ipc://");
	/* Relative, like every path in the file, to the file's directory. */
	joined = socket_path[0] == '/' ? tnd_xstrdup(socket_path) : tnd_xasprintf("%s/%s", reader->dir, socket_path);
	absolute = tnd_path_absolute(joined);
	free(joined);
	conf->workers.endpoint = tnd_xasprintf("ipc://%s", absolute);
	len = strlen(absolute);
	free(absolute);
	if (len > WORKERS_IPC_PATH_MAX)
		return conf_fail(reader, where,
				 "'workers.endpoint' has a socket path of %zu bytes (%s), more than the %d a Unix "
				 "socket path may have",
				 len, conf->workers.endpoint, WORKERS_IPC_PATH_MAX);
	return 0;
}

static int workers_parse_heartbeat(struct conf_reader *reader, config_setting_t *group, struct tnd_conf *conf)
{
	int64_t interval = 1000, timeout = 5000;
	config_setting_t *where;
	char path[256];
	int r;

	if (group) {
		if ((r = conf_get_int(reader, group, "heartbeat_interval_ms", false, 50, 60000, &interval)) < 0 ||
		    (r = conf_get_int(reader, group, "heartbeat_timeout_ms", false, 1, 600000, &timeout)) < 0)
			return r;
		/* One lost heartbeat must not declare a worker gone. */
		if (timeout <= 2 * interval) {
			where = config_setting_get_member(group, "heartbeat_timeout_ms");
			if (where)
				return conf_fail(reader, where,
						 "'%s' is %lld, must be more than twice heartbeat_interval_ms (%lld)",
						 conf_setting_path(where, path, sizeof(path)), (long long)timeout,
						 (long long)interval);
			where = config_setting_get_member(group, "heartbeat_interval_ms");
			return conf_fail(reader, where,
					 "'%s' is %lld, but the default heartbeat_timeout_ms (%lld) must be more "
					 "than twice it; set heartbeat_timeout_ms too",
					 conf_setting_path(where, path, sizeof(path)), (long long)interval,
					 (long long)timeout);
		}
	}
	conf->workers.heartbeat_interval_ms = interval;
	conf->workers.heartbeat_timeout_ms = timeout;
	return 0;
}

/* A tcp:// endpoint is reachable from other hosts: CURVE encrypts the
 * traffic (it carries tenant passwords) and authenticates the workers. */
static int workers_parse_curve(struct conf_reader *reader, config_setting_t *group, bool tcp, struct tnd_conf *conf)
{
	static const char *const required[] = { "curve_secret_key_file", "authorized_keys_file" };
	int r;

	if (group == NULL)
		return 0;
	for (size_t i = 0; tcp && i < TND_ARRAY_SIZE(required); i++)
		if (config_setting_get_member(group, required[i]) == NULL)
			return conf_fail(reader, config_setting_get_member(group, "endpoint"),
					 "'workers.endpoint' is tcp://, which requires 'workers.%s' (workers on other "
					 "hosts are encrypted and authenticated with CURVE)",
					 required[i]);

	r = conf_get_path(reader, group, "curve_secret_key_file", false, &conf->workers.curve_secret_key_file);
	if (r < 0)
		return r;
	r = conf_get_path(reader, group, "authorized_keys_file", false, &conf->workers.authorized_keys_file);
	if (r < 0)
		return r;
	if (conf->workers.curve_secret_key_file) {
		r = workers_check_secret_key(reader, config_setting_get_member(group, "curve_secret_key_file"),
					     conf->workers.curve_secret_key_file);
		if (r < 0)
			return r;
	}
	if (conf->workers.authorized_keys_file)
		return workers_check_authorized_keys(reader, config_setting_get_member(group, "authorized_keys_file"),
						     conf->workers.authorized_keys_file);
	return 0;
}

static int workers_parse(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf)
{
	config_setting_t *group = NULL;
	bool tcp = false;
	int r;

	r = conf_get_aggregate(reader, root, "workers", CONFIG_TYPE_GROUP, false, &group);
	if (r < 0)
		return r;
	if (group) {
		r = conf_check_keys(reader, group, workers_keys);
		if (r < 0)
			return r;
	}
	if ((r = workers_parse_endpoint(reader, group, conf, &tcp)) < 0 ||
	    (r = workers_parse_heartbeat(reader, group, conf)) < 0)
		return r;
	if (group) {
		r = conf_get_path(reader, group, "command", false, &conf->workers.command);
		if (r < 0)
			return r;
	}
	return workers_parse_curve(reader, group, tcp, conf);
}

/* --- both sections ------------------------------------------------------------------ */

int conf_reconcile_parse(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf)
{
	int r = reconcile_parse(reader, root, conf);

	if (r < 0)
		return r;
	return workers_parse(reader, root, conf);
}

void conf_reconcile_free(struct tnd_conf *conf)
{
	free(conf->reconcile.credentials_key_file);
	free(conf->workers.endpoint);
	free(conf->workers.command);
	free(conf->workers.curve_secret_key_file);
	free(conf->workers.authorized_keys_file);
	conf->reconcile.credentials_key_file = NULL;
	conf->workers.endpoint = NULL;
	conf->workers.command = NULL;
	conf->workers.curve_secret_key_file = NULL;
	conf->workers.authorized_keys_file = NULL;
}
