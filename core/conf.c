/*
 * conf.c — loading tenancyd.conf into an immutable, reference-counted
 * snapshot (the `daemon`, `api` and `plugins` sections; `regions` and
 * `plans` are in conf_catalog_parse.c, `reconcile` and `workers` in
 * conf_reconcile.c), and the process-wide "current" snapshot that SIGHUP
 * replaces.
 */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "conf.h"
#include "conf_catalog_parse.h"
#include "conf_ratelimit.h"
#include "conf_reader.h"
#include "conf_audit.h"
#include "conf_webhooks.h"
#include "conf_reconcile.h"
#include "log.h"
#include "policy_gate.h"
#include "tokens.h"
#include "util.h"

#define CONF_DEFAULT_LISTEN "127.0.0.1:8470"

/* The public struct carries no reference count; the snapshot wraps it. */
struct conf_snapshot {
	struct tnd_conf conf;   /* first, so a struct tnd_conf * is also ours */
	atomic_uint refs;
};

static const char *const conf_root_keys[] = {
	"daemon", "api", "plugins", "reconcile", "workers", "regions", "plans", "audit", "webhooks", NULL,
};
static const char *const conf_daemon_keys[] = {
	"state_dir", "pid_file", "log_file", "log_level", "user", "workers", "instance", NULL,
};
static const char *const conf_api_keys[] = {
	"listen", "tokens_file", "max_body_bytes", "max_depth", "max_connections",
	"connection_timeout", "drain_timeout", "idempotency_ttl", "rate_limits", NULL,
};
static const char *const conf_plugins_keys[] = {
	"dir", "allow_unsafe_permissions", "storage", "isolation", "policy", "policy_timeout_ms", "notifiers", NULL,
};
static const char *const conf_plugin_keys[] = { "name", "file", "settings", NULL };

/* --- daemon ------------------------------------------------------------------ */

/* A login name as useradd accepts it; existence is checked when dropping
 * privileges, not here, so `tenancyd -t` works on a build host. */
static bool conf_user_name_valid(const char *s)
{
	return conf_name_valid(s, 32, CONF_CHARS_LOWER CONF_CHARS_DIGIT "_",
			       CONF_CHARS_LOWER CONF_CHARS_DIGIT "_.-");
}

/* The name in events' source (tenancyd://<instance>): what a URI
 * authority and a hostname both accept. */
static bool conf_instance_valid(const char *s)
{
	return conf_name_valid(s, 63, CONF_CHARS_LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ" CONF_CHARS_DIGIT,
			       CONF_CHARS_LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ" CONF_CHARS_DIGIT ".-");
}

/* daemon.instance, default the host name (or "localhost" if it has none
 * that qualifies). */
static int conf_parse_instance(struct conf_reader *reader, config_setting_t *group, struct tnd_conf *conf)
{
	const char *instance = NULL;
	char host[256] = "";
	int r;

	if (group) {
		r = conf_get_string(reader, group, "instance", false, &instance);
		if (r < 0)
			return r;
	}
	if (instance) {
		if (!conf_instance_valid(instance))
			return conf_fail(reader, config_setting_get_member(group, "instance"),
					 "'daemon.instance' is not a valid instance name: '%s' (letters, digits, "
					 "'.' and '-', at most 63)",
					 instance);
		conf->daemon.instance = tnd_xstrdup(instance);
		return 0;
	}
	if (gethostname(host, sizeof(host) - 1) < 0 || !conf_instance_valid(host))
		tnd_strlcpy(host, "localhost", sizeof(host));
	conf->daemon.instance = tnd_xstrdup(host);
	return 0;
}

static int conf_parse_daemon(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf)
{
	config_setting_t *group = NULL;
	const char *level = NULL, *user = NULL, *log_file = NULL;
	int64_t workers = 2;
	int r;

	conf->daemon.log_level = TND_LOG_INFO;
	conf->daemon.workers = 2;
	r = conf_get_aggregate(reader, root, "daemon", CONFIG_TYPE_GROUP, false, &group);
	if (r < 0)
		return r;
	if (group == NULL) {
		conf->daemon.state_dir = tnd_xstrdup(TND_LOCALSTATEDIR);
		return conf_parse_instance(reader, NULL, conf);
	}
	r = conf_check_keys(reader, group, conf_daemon_keys);
	if (r < 0)
		return r;
	r = conf_parse_instance(reader, group, conf);
	if (r < 0)
		return r;

	r = conf_get_path(reader, group, "state_dir", false, &conf->daemon.state_dir);
	if (r < 0)
		return r;
	if (conf->daemon.state_dir == NULL)
		conf->daemon.state_dir = tnd_xstrdup(TND_LOCALSTATEDIR);
	r = conf_get_path(reader, group, "pid_file", false, &conf->daemon.pid_file);
	if (r < 0)
		return r;

	/* "-" means stderr and is not a path to resolve. */
	r = conf_get_string(reader, group, "log_file", false, &log_file);
	if (r < 0)
		return r;
	if (log_file && !tnd_streq(log_file, "-")) {
		r = conf_get_path(reader, group, "log_file", false, &conf->daemon.log_file);
		if (r < 0)
			return r;
	}

	r = conf_get_string(reader, group, "log_level", false, &level);
	if (r < 0)
		return r;
	if (level) {
		conf->daemon.log_level = log_level_parse(level);
		if (conf->daemon.log_level < 0)
			return conf_fail(reader, config_setting_get_member(group, "log_level"),
					 "'daemon.log_level' is '%s', want error, warning, notice, info or debug",
					 level);
	}

	r = conf_get_string(reader, group, "user", false, &user);
	if (r < 0)
		return r;
	if (user) {
		if (!conf_user_name_valid(user))
			return conf_fail(reader, config_setting_get_member(group, "user"),
					 "'daemon.user' is not a valid user name: '%s'", user);
		conf->daemon.user = tnd_xstrdup(user);
	}

	r = conf_get_int(reader, group, "workers", false, 0, 64, &workers);
	if (r < 0)
		return r;
	conf->daemon.workers = (int)workers;
	return 0;
}

/* --- api --------------------------------------------------------------------- */

/* "a.b.c.d:port" or "[v6]:port" with a numeric address, so binding never
 * depends on name resolution at startup. */
static int conf_parse_listen(struct conf_reader *reader, config_setting_t *where, const char *listen,
			     struct tnd_conf *conf)
{
	unsigned char addr[sizeof(struct in6_addr)];
	const char *colon, *port_text;
	char *host;
	unsigned long port = 0;
	bool ok;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (close == NULL || close[1] != ':')
			goto bad;
		host = tnd_xstrndup(listen + 1, (size_t)(close - listen - 1));
		ok = inet_pton(AF_INET6, host, addr) == 1;
		port_text = close + 2;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL)
			goto bad;
		host = tnd_xstrndup(listen, (size_t)(colon - listen));
		ok = inet_pton(AF_INET, host, addr) == 1;
		port_text = colon + 1;
	}
	if (!ok) {
		free(host);
		goto bad;
	}
	if (port_text[0] == '\0' || strlen(port_text) > 5 ||
	    strspn(port_text, CONF_CHARS_DIGIT) != strlen(port_text)) {
		free(host);
		goto bad;
	}
	port = strtoul(port_text, NULL, 10);
	if (port > 65535) {
		free(host);
		goto bad;
	}
	conf->api.listen = tnd_xstrdup(listen);
	conf->api.host = host;
	conf->api.port = (uint16_t)port;
	return 0;
bad:
	return conf_fail(reader, where,
			 "'api.listen' is '%s', want <IPv4 address>:<port> or [<IPv6 address>]:<port>",
			 listen);
}

static int conf_parse_api(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf)
{
	config_setting_t *group = NULL, *where;
	const char *listen = CONF_DEFAULT_LISTEN;
	int64_t body = 1048576, depth = 32, connections = 512, timeout = 30, drain = 10,
		ttl = 86400;
	int r;

	r = conf_get_aggregate(reader, root, "api", CONFIG_TYPE_GROUP, true, &group);
	if (r < 0)
		return r;
	r = conf_check_keys(reader, group, conf_api_keys);
	if (r < 0)
		return r;
	r = conf_get_string(reader, group, "listen", false, &listen);
	if (r < 0)
		return r;
	where = config_setting_get_member(group, "listen");
	r = conf_parse_listen(reader, where ? where : group, listen, conf);
	if (r < 0)
		return r;
	r = conf_get_path(reader, group, "tokens_file", true, &conf->api.tokens_file);
	if (r < 0)
		return r;

	if ((r = conf_get_int(reader, group, "max_body_bytes", false, 1024, 67108864, &body)) < 0 ||
	    (r = conf_get_int(reader, group, "max_depth", false, 4, 256, &depth)) < 0 ||
	    (r = conf_get_int(reader, group, "max_connections", false, 1, 65535, &connections)) < 0 ||
	    (r = conf_get_int(reader, group, "connection_timeout", false, 1, 3600, &timeout)) < 0 ||
	    (r = conf_get_int(reader, group, "drain_timeout", false, 0, 600, &drain)) < 0 ||
	    (r = conf_get_int(reader, group, "idempotency_ttl", false, 60, 30 * 86400, &ttl)) < 0)
		return r;
	conf->api.max_body_bytes = (size_t)body;
	conf->api.max_depth = (unsigned)depth;
	conf->api.max_connections = (unsigned)connections;
	conf->api.connection_timeout_s = (unsigned)timeout;
	conf->api.drain_timeout_s = (unsigned)drain;
	conf->api.idempotency_ttl_s = ttl;
	return conf_ratelimit_parse_api(reader, group, conf);
}

/* --- plugins ----------------------------------------------------------------- */

static bool conf_plugin_name_valid(const char *s)
{
	return conf_name_valid(s, 64, CONF_CHARS_LOWER, CONF_CHARS_LOWER CONF_CHARS_DIGIT "_");
}

static void conf_plugin_clear(struct tnd_plugin_conf *plugin)
{
	free(plugin->name);
	free(plugin->file);
	json_decref(plugin->settings);
	memset(plugin, 0, sizeof(*plugin));
}

/* The plugin named @name other than @self, if any.  Unparsed entries of the
 * (zeroed) arrays have no name yet and never match. */
static const struct tnd_plugin_conf *conf_plugin_find(const struct tnd_conf *conf, const char *name,
							const struct tnd_plugin_conf *self)
{
	const struct tnd_plugin_conf *match = NULL;

	if (&conf->plugins.storage != self && tnd_streq(conf->plugins.storage.name, name))
		match = &conf->plugins.storage;
	if (conf->plugins.policy && conf->plugins.policy != self && tnd_streq(conf->plugins.policy->name, name))
		match = conf->plugins.policy;
	for (size_t i = 0; i < conf->plugins.n_isolation; i++)
		if (&conf->plugins.isolation[i] != self && tnd_streq(conf->plugins.isolation[i].name, name))
			match = &conf->plugins.isolation[i];
	for (size_t i = 0; i < conf->plugins.n_notifiers; i++)
		if (&conf->plugins.notifiers[i] != self && tnd_streq(conf->plugins.notifiers[i].name, name))
			match = &conf->plugins.notifiers[i];
	return match;
}

static int conf_parse_plugin(struct conf_reader *reader, config_setting_t *group,
			     const struct tnd_conf *conf, struct tnd_plugin_conf *plugin)
{
	const struct tnd_plugin_conf *other;
	config_setting_t *where;
	const char *name = NULL;
	int r;

	plugin->line = (int)config_setting_source_line(group);
	r = conf_check_keys(reader, group, conf_plugin_keys);
	if (r < 0)
		return r;
	r = conf_get_string(reader, group, "name", true, &name);
	if (r < 0)
		return r;
	where = config_setting_get_member(group, "name");
	if (!conf_plugin_name_valid(name))
		return conf_fail(reader, where, "plugin name '%s' is invalid (want [a-z][a-z0-9_]{0,63})", name);
	/* One name is one shared object of one kind: it can be configured once. */
	other = conf_plugin_find(conf, name, plugin);
	if (other)
		return conf_fail(reader, where, "plugin '%s' is configured twice (first at line %d)",
				 name, other->line);
	plugin->name = tnd_xstrdup(name);
	r = conf_get_path(reader, group, "file", false, &plugin->file);
	if (r < 0)
		return r;
	return conf_get_json_object(reader, group, "settings", &plugin->settings);
}

/* A plugin list (`isolation`, `notifiers`): a list of plugin groups. */
static int conf_parse_plugin_list(struct conf_reader *reader, config_setting_t *group, const char *key,
				  struct tnd_conf *conf, struct tnd_plugin_conf **ret_plugins, size_t *ret_n)
{
	config_setting_t *list = NULL;
	int n, r;

	r = conf_get_aggregate(reader, group, key, CONFIG_TYPE_LIST, false, &list);
	if (r < 0 || list == NULL)
		return r;
	n = config_setting_length(list);
	if (n == 0)
		return 0;
	*ret_plugins = tnd_xcalloc((size_t)n, sizeof(**ret_plugins));
	for (int i = 0; i < n; i++) {
		config_setting_t *element = NULL;

		r = conf_list_group(reader, list, i, &element);
		if (r < 0)
			return r;
		/* Counted before parsing so that conf_free() sees a half-filled entry. */
		(*ret_n)++;
		r = conf_parse_plugin(reader, element, conf, &(*ret_plugins)[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

static int conf_parse_plugins(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf)
{
	config_setting_t *group = NULL, *storage = NULL, *policy = NULL;
	int r;

	r = conf_get_aggregate(reader, root, "plugins", CONFIG_TYPE_GROUP, true, &group);
	if (r < 0)
		return r;
	r = conf_check_keys(reader, group, conf_plugins_keys);
	if (r < 0)
		return r;
	r = conf_get_path(reader, group, "dir", false, &conf->plugins.dir);
	if (r < 0)
		return r;
	if (conf->plugins.dir == NULL)
		conf->plugins.dir = tnd_xstrdup(TND_PLUGINDIR);
	r = conf_get_bool(reader, group, "allow_unsafe_permissions", false,
			  &conf->plugins.allow_unsafe_permissions);
	if (r < 0)
		return r;

	r = conf_get_aggregate(reader, group, "storage", CONFIG_TYPE_GROUP, true, &storage);
	if (r < 0)
		return r;
	r = conf_parse_plugin(reader, storage, conf, &conf->plugins.storage);
	if (r < 0)
		return r;

	conf->plugins.policy_timeout_ms = POLICY_GATE_DEFAULT_TIMEOUT_MS;
	r = conf_get_int(reader, group, "policy_timeout_ms", false, 1, 60000, &conf->plugins.policy_timeout_ms);
	if (r < 0)
		return r;
	r = conf_get_aggregate(reader, group, "policy", CONFIG_TYPE_GROUP, false, &policy);
	if (r < 0)
		return r;
	if (policy) {
		conf->plugins.policy = tnd_xcalloc(1, sizeof(*conf->plugins.policy));
		r = conf_parse_plugin(reader, policy, conf, conf->plugins.policy);
		if (r < 0)
			return r;
	}

	r = conf_parse_plugin_list(reader, group, "isolation", conf, &conf->plugins.isolation,
				   &conf->plugins.n_isolation);
	if (r < 0)
		return r;
	return conf_parse_plugin_list(reader, group, "notifiers", conf, &conf->plugins.notifiers,
				      &conf->plugins.n_notifiers);
}

/* --- the whole file ---------------------------------------------------------- */

static void conf_free(struct tnd_conf *conf)
{
	if (conf == NULL)
		return;
	free(conf->path);
	free(conf->daemon.state_dir);
	free(conf->daemon.instance);
	free(conf->daemon.pid_file);
	free(conf->daemon.log_file);
	free(conf->daemon.user);
	free(conf->api.listen);
	free(conf->api.host);
	free(conf->api.tokens_file);
	free(conf->plugins.dir);
	conf_plugin_clear(&conf->plugins.storage);
	for (size_t i = 0; i < conf->plugins.n_isolation; i++)
		conf_plugin_clear(&conf->plugins.isolation[i]);
	free(conf->plugins.isolation);
	if (conf->plugins.policy)
		conf_plugin_clear(conf->plugins.policy);
	free(conf->plugins.policy);
	for (size_t i = 0; i < conf->plugins.n_notifiers; i++)
		conf_plugin_clear(&conf->plugins.notifiers[i]);
	free(conf->plugins.notifiers);
	conf_catalog_free(conf);
	conf_reconcile_free(conf);
	conf_audit_free(conf);
	tokens_free(conf->tokens);
	free(conf);
}

/* An @include'd file is as much configuration as the main file, so it must
 * be as safely owned.  libconfig records an included file's name as written,
 * relative to the include directory (the main file's). */
static int conf_check_included(struct conf_reader *reader, config_setting_t *setting,
			       const char **last_checked)
{
	const char *file = config_setting_source_file(setting);
	struct tnd_error check_err;
	int r;

	if (file && !tnd_streq(file, reader->file) && !tnd_streq(file, *last_checked)) {
		char *full = file[0] == '/' ? tnd_xstrdup(file) : tnd_xasprintf("%s/%s", reader->dir, file);

		r = tnd_file_check(full, TND_FILE_TRUSTED, &check_err);
		free(full);
		if (r < 0)
			return conf_fail(reader, setting, "refusing included file: %s", check_err.message);
		/* Settings of one file are contiguous: check each file once per run. */
		*last_checked = file;
	}
	if (config_setting_is_aggregate(setting))
		for (int i = 0; i < config_setting_length(setting); i++) {
			r = conf_check_included(reader, config_setting_get_elem(setting, (unsigned)i),
						last_checked);
			if (r < 0)
				return r;
		}
	return 0;
}

static int conf_parse(struct conf_reader *reader, config_t *cfg, struct tnd_conf *conf)
{
	config_setting_t *root = config_root_setting(cfg);
	struct tnd_error tokens_err;
	const char *last_checked = NULL;
	int r;

	r = conf_check_included(reader, root, &last_checked);
	if (r < 0)
		return r;
	r = conf_check_keys(reader, root, conf_root_keys);
	if (r < 0)
		return r;
	if ((r = conf_parse_daemon(reader, root, conf)) < 0 ||
	    (r = conf_parse_api(reader, root, conf)) < 0 ||
	    (r = conf_parse_plugins(reader, root, conf)) < 0 ||
	    (r = conf_catalog_parse(reader, root, conf)) < 0 ||
	    (r = conf_reconcile_parse(reader, root, conf)) < 0 ||
	    (r = conf_audit_parse(reader, root, conf)) < 0 ||
	    (r = conf_webhooks_parse(reader, root, conf)) < 0)
		return r;

	/* Tokens load last: a file that fails its own checks should not hide
	 * mistakes in the config itself. */
	r = tokens_load(conf->api.tokens_file, &conf->tokens, &tokens_err);
	if (r < 0) {
		config_setting_t *where = config_lookup(cfg, "api.tokens_file");
		conf_fail(reader, where, "api.tokens_file: %s", tokens_err.message);
		return r;
	}
	return 0;
}

int conf_load(const char *path, struct tnd_conf **ret_conf, struct tnd_error *err)
{
	struct conf_snapshot *snapshot;
	struct tnd_error check_err;
	struct conf_reader reader;
	char *dir_copy;
	config_t cfg;
	int r;

	/* The check's message starts with the path, as "<file>: <cause>" should. */
	r = tnd_file_check(path, TND_FILE_TRUSTED, &check_err);
	if (r < 0) {
		tnd_error_set(err, "%s%s", check_err.message, r == -EPERM ? "; refusing to load it" : "");
		return r;
	}

	snapshot = tnd_xcalloc(1, sizeof(*snapshot));
	atomic_init(&snapshot->refs, 1);
	snapshot->conf.path = tnd_path_absolute(path);
	dir_copy = tnd_xstrdup(snapshot->conf.path);
	reader = (struct conf_reader){ .file = path, .dir = dirname(dir_copy), .err = err };

	config_init(&cfg);
	/* Relative @include directives, like relative paths, start at the file. */
	config_set_include_dir(&cfg, reader.dir);
	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		int read_errno = errno;
		/* A parse error inside an @include'd file names that file. */
		const char *file = config_error_file(&cfg) ? config_error_file(&cfg) : path;

		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			tnd_error_set(err, "%s: %s", file, strerror(read_errno));
		else
			tnd_error_set(err, "%s:%d: %s", file, config_error_line(&cfg), config_error_text(&cfg));
		r = -EINVAL;
	} else {
		r = conf_parse(&reader, &cfg, &snapshot->conf);
	}
	config_destroy(&cfg);
	free(dir_copy);

	if (r < 0) {
		conf_free(&snapshot->conf);
		return r;
	}
	*ret_conf = &snapshot->conf;
	return 0;
}

/* --- references and the current snapshot ------------------------------------ */

struct tnd_conf *conf_ref(struct tnd_conf *conf)
{
	if (conf)
		atomic_fetch_add_explicit(&((struct conf_snapshot *)conf)->refs, 1, memory_order_relaxed);
	return conf;
}

void conf_unref(struct tnd_conf *conf)
{
	struct conf_snapshot *snapshot = (struct conf_snapshot *)conf;

	if (conf == NULL)
		return;
	/* acq_rel: the thread that frees must see every other holder's reads done. */
	if (atomic_fetch_sub_explicit(&snapshot->refs, 1, memory_order_acq_rel) == 1)
		conf_free(conf);
}

/* A mutex rather than a bare atomic pointer: loading the pointer and taking
 * a reference must be one step, or a concurrent replace could free the
 * snapshot in between. */
static pthread_mutex_t conf_current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tnd_conf *conf_current;

struct tnd_conf *conf_current_get1(void)
{
	struct tnd_conf *conf;

	pthread_mutex_lock(&conf_current_lock);
	conf = conf_ref(conf_current);
	pthread_mutex_unlock(&conf_current_lock);
	return conf;
}

void conf_current_replace(struct tnd_conf *conf)
{
	struct tnd_conf *old;

	pthread_mutex_lock(&conf_current_lock);
	old = conf_current;
	conf_current = conf;
	pthread_mutex_unlock(&conf_current_lock);
	/* Outside the lock: freeing a big snapshot must not stall readers. */
	conf_unref(old);
}
