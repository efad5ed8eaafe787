/*
 * plugin_loader.c — finding, checking, loading and unloading plugins
 * through ABI v1 (see plugin_loader.h and include/tenancyd/plugin.h).
 *
 * The checks run in a fixed order, cheapest and least trusting first: the
 * file's ownership before dlopen() (dlopen runs the object's constructors,
 * so an object anyone could have planted must never be mapped), the
 * descriptor's header (magic, ABI) before any field whose position depends
 * on the ABI, sizes before the fields they cover, and init() last.  Each
 * refusal is logged once, here, as "plugin refused: <file>: <reason>", and
 * the same text goes to the caller's struct tnd_error.
 *
 * Not thread-safe: a set is built and cleared by one thread (start-up,
 * SIGHUP handling, `tenancyd -t`), which also keeps dlerror() meaningful.
 */
#include "autoconfig.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tenancyd/isolation.h>
#include <tenancyd/notifier.h>
#include <tenancyd/policy.h>
#include <tenancyd/storage.h>

#include "conf.h"
#include "host.h"
#include "log.h"
#include "plugin_loader.h"
#include "util.h"

#define LOG_COMPONENT "plugin_loader"

#define LOADER_NAME_MAX 64

/* Bytes of @type up to and including @field. */
#define LOADER_SIZE_THROUGH(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* The v1 descriptor fields every plugin must have; check_config and
 * description are optional and read only when the size covers them. */
#define LOADER_DESC_MIN_SIZE LOADER_SIZE_THROUGH(struct tnd_plugin, ops)

/*
 * What the set actually holds: the public record plus what only the loader
 * needs.  ctx may legitimately be NULL after init(), so whether fini() is
 * owed is tracked separately.
 */
struct loader_entry {
	struct tnd_loaded_plugin plugin;
	bool initialized;
};

static struct loader_entry *loader_entry_of(struct tnd_loaded_plugin *plugin)
{
	return (struct loader_entry *)((char *)plugin - offsetof(struct loader_entry, plugin));
}

const char *plugin_kind_name(enum tnd_plugin_kind kind)
{
	switch (kind) {
	case TND_PLUGIN_ISOLATION: return "isolation";
	case TND_PLUGIN_POLICY: return "policy";
	case TND_PLUGIN_STORAGE: return "storage";
	case TND_PLUGIN_NOTIFIER: return "notifier";
	}
	return "unknown";
}

/* --- refusals ------------------------------------------------------------------ */

/* The one place a refusal is reported: one error line, the same text in @err. */
static TND_PRINTF(4, 5) int loader_refuse(struct tnd_error *err, const char *path, int r,
					  const char *fmt, ...)
{
	char reason[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	log_error("plugin refused: %s: %s", path, reason);
	tnd_error_set(err, "plugin refused: %s: %s", path, reason);
	return r;
}

/* [a-z][a-z0-9_]{0,63}: safe as a file name, a log label and a metric label. */
static bool loader_name_valid(const char *name)
{
	size_t len;

	if (name == NULL || !(name[0] >= 'a' && name[0] <= 'z'))
		return false;
	len = strlen(name);
	if (len > LOADER_NAME_MAX)
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* --- finding and vetting the file ------------------------------------------------ */

/* The absolute path to load (caller frees).  Absolute, because dlopen()
 * searches LD_LIBRARY_PATH and the cache for a name without a slash. */
static char *loader_find_file(const struct plugin_load_options *opts, const char *name, const char *file)
{
	const char *dir = opts->dir ? opts->dir : TND_PLUGINDIR;
	char *candidate, *path;
	struct stat st;

	if (file != NULL)
		return tnd_path_absolute(file);
	if (opts->build_dir != NULL) {
		candidate = tnd_xasprintf("%s/plugins/%s/.libs/%s.so", opts->build_dir, name, name);
		if (stat(candidate, &st) == 0) {
			path = tnd_path_absolute(candidate);
			free(candidate);
			return path;
		}
		free(candidate);
	}
	candidate = tnd_xasprintf("%s/%s.so", dir, name);
	path = tnd_path_absolute(candidate);
	free(candidate);
	return path;
}

/* Step 1: nobody but root or the daemon's user can have put this code here. */
static int loader_check_file(const struct plugin_load_options *opts, const char *path, struct tnd_error *err)
{
	struct tnd_error why = { .message = "" };
	const char *reason;
	size_t path_len = strlen(path);
	struct stat st;
	int r;

	if (opts->allow_unsafe_permissions) {
		/* still tell a missing file apart from a broken one */
		if (stat(path, &st) < 0)
			return loader_refuse(err, path, -errno, "%s", strerror(errno));
		return 0;
	}
	r = tnd_file_check(path, TND_FILE_TRUSTED, &why);
	if (r == 0)
		return 0;
	/* tnd_file_check() names the file itself; do not say it twice */
	reason = why.message;
	if (strncmp(reason, path, path_len) == 0 && strncmp(reason + path_len, ": ", 2) == 0)
		reason += path_len + 2;
	return loader_refuse(err, path, r, "%s", reason);
}

/* --- checking the descriptor ---------------------------------------------------------- */

/* The v1 size of @kind's ops table through its last mandatory op; 0 if the
 * kind is unknown. */
static size_t loader_ops_min_size(uint32_t kind)
{
	switch (kind) {
	case TND_PLUGIN_STORAGE: return LOADER_SIZE_THROUGH(struct tnd_storage_ops, idempotency_get);
	case TND_PLUGIN_ISOLATION: return LOADER_SIZE_THROUGH(struct tnd_isolation_ops, destroy);
	case TND_PLUGIN_POLICY: return LOADER_SIZE_THROUGH(struct tnd_policy_ops, evaluate);
	case TND_PLUGIN_NOTIFIER: return LOADER_SIZE_THROUGH(struct tnd_notifier_ops, deliver);
	}
	return 0;
}

/* The first mandatory op of @kind that @ops lacks, or NULL.  Only called
 * once the table's size is known to cover every mandatory op. */
static const char *loader_missing_op(uint32_t kind, const void *ops)
{
	switch (kind) {
	case TND_PLUGIN_STORAGE: {
		const struct tnd_storage_ops *s = ops;
		if (s->commit == NULL) return "commit";
		if (s->tenant_get == NULL) return "tenant_get";
		if (s->tenant_search == NULL) return "tenant_search";
		if (s->version_list == NULL) return "version_list";
		if (s->version_get == NULL) return "version_get";
		if (s->phase_list == NULL) return "phase_list";
		if (s->idempotency_get == NULL) return "idempotency_get";
		return NULL;
	}
	case TND_PLUGIN_ISOLATION: {
		const struct tnd_isolation_ops *i = ops;
		if (i->provision == NULL) return "provision";
		if (i->observe == NULL) return "observe";
		if (i->suspend == NULL) return "suspend";
		if (i->resume == NULL) return "resume";
		if (i->archive == NULL) return "archive";
		if (i->destroy == NULL) return "destroy";
		return NULL;
	}
	case TND_PLUGIN_POLICY:
		return ((const struct tnd_policy_ops *)ops)->evaluate ? NULL : "evaluate";
	case TND_PLUGIN_NOTIFIER:
		return ((const struct tnd_notifier_ops *)ops)->deliver ? NULL : "deliver";
	}
	return NULL;
}

/* Steps 4 to 9: everything that can be judged without running the plugin. */
static int loader_check_descriptor(const struct tnd_plugin *desc, const char *path, enum tnd_plugin_kind kind,
				   const char *name, const struct plugin_set *set, struct tnd_error *err)
{
	const struct tnd_loaded_plugin *loaded;
	size_t ops_min;
	const char *op;

	if (desc->magic != TND_PLUGIN_MAGIC)
		return loader_refuse(err, path, -ENOEXEC, "bad magic 0x%08x (expected 0x%08x)",
				     (unsigned)desc->magic, TND_PLUGIN_MAGIC);
	if (desc->abi_major != TND_ABI_MAJOR)
		return loader_refuse(err, path, -EPROTONOSUPPORT,
				     "ABI %u.%u has another major version than the core's %u.%u",
				     desc->abi_major, desc->abi_minor, TND_ABI_MAJOR, TND_ABI_MINOR);
	if (desc->abi_minor > TND_ABI_MINOR)
		return loader_refuse(err, path, -EPROTONOSUPPORT, "ABI %u.%u is newer than the core's %u.%u",
				     desc->abi_major, desc->abi_minor, TND_ABI_MAJOR, TND_ABI_MINOR);
	/* A larger size than ours is fine: a reader only uses the fields it knows. */
	if (desc->size < LOADER_DESC_MIN_SIZE)
		return loader_refuse(err, path, -EPROTO,
				     "truncated descriptor: %u bytes, ABI %u.%u needs at least %zu",
				     (unsigned)desc->size, TND_ABI_MAJOR, TND_ABI_MINOR,
				     (size_t)LOADER_DESC_MIN_SIZE);
	/* A NULL table and an unknown kind are reported below, in their own words. */
	ops_min = loader_ops_min_size(desc->kind);
	if (desc->ops != NULL && ops_min > 0 && *(const uint32_t *)desc->ops < ops_min)
		return loader_refuse(err, path, -EPROTO,
				     "truncated %s ops table: %u bytes, ABI %u.%u needs at least %zu",
				     plugin_kind_name(desc->kind), (unsigned)*(const uint32_t *)desc->ops,
				     TND_ABI_MAJOR, TND_ABI_MINOR, ops_min);
	if (desc->kind != (uint32_t)kind)
		return loader_refuse(err, path, -EINVAL, "kind %s (%u) does not match the %s section",
				     plugin_kind_name(desc->kind), (unsigned)desc->kind, plugin_kind_name(kind));
	if (desc->name == NULL || desc->name[0] == '\0')
		return loader_refuse(err, path, -EPROTO, "missing name");
	/* The requested name is checked against [a-z][a-z0-9_]{0,63} before the
	 * file is even looked up, so equality makes the descriptor's name valid. */
	if (strcmp(desc->name, name) != 0)
		return loader_refuse(err, path, -EINVAL, "name \"%.*s\" does not match the configured name \"%s\"",
				     LOADER_NAME_MAX, desc->name, name);
	loaded = plugin_set_find(set, desc->name);
	if (loaded != NULL)
		return loader_refuse(err, path, -EEXIST, "duplicate name \"%s\": already loaded from %s",
				     desc->name, loaded->path);
	if (desc->init == NULL || desc->fini == NULL)
		return loader_refuse(err, path, -EPROTO, "missing mandatory op %s",
				     desc->init == NULL ? "init" : "fini");
	if (desc->ops == NULL)
		return loader_refuse(err, path, -EPROTO, "missing mandatory %s ops table", plugin_kind_name(kind));
	op = loader_missing_op(desc->kind, desc->ops);
	if (op != NULL)
		return loader_refuse(err, path, -EPROTO, "missing mandatory op %s.%s", plugin_kind_name(kind), op);
	return 0;
}

static tnd_plugin_check_config_fn *loader_check_config_fn(const struct tnd_plugin *desc)
{
	return TND_HAS_FIELD(desc, struct tnd_plugin, check_config) ? desc->check_config : NULL;
}

static const char *loader_description(const struct tnd_plugin *desc)
{
	return TND_HAS_FIELD(desc, struct tnd_plugin, description) ? desc->description : NULL;
}

/* Step 10: init(), or check_config() in check-only mode. */
static int loader_start(const struct plugin_load_options *opts, struct loader_entry *entry, const json_t *settings,
			struct tnd_error *err)
{
	struct tnd_loaded_plugin *plugin = &entry->plugin;
	const struct tnd_plugin *desc = plugin->desc;
	struct tnd_error why = { .message = "" };
	json_t *empty = NULL;
	const char *what;
	void *ctx = NULL;
	int r;

	if (settings == NULL)
		settings = empty = json_object();
	if (opts->check_only) {
		tnd_plugin_check_config_fn *check = loader_check_config_fn(desc);
		what = "check_config";
		r = check ? check(plugin->host, host_json(settings), &why) : 0;
	} else {
		what = "init";
		r = desc->init(plugin->host, host_json(settings), &ctx, &why);
	}
	json_decref(empty);
	if (r == 0) {
		plugin->ctx = ctx;
		entry->initialized = !opts->check_only;
		return 0;
	}
	/* A positive return breaks the contract; still a failure, never success. */
	if (r > 0)
		return loader_refuse(err, plugin->path, -EPROTO,
				     "%s failed: %s (returned %d, not a negative errno)", what,
				     why.message[0] ? why.message : "no detail given", r);
	return loader_refuse(err, plugin->path, r, "%s failed: %s (%s)", what,
			     why.message[0] ? why.message : "no detail given", strerror(-r));
}

static void loader_entry_free(struct loader_entry *entry)
{
	if (entry == NULL)
		return;
	if (entry->initialized)
		entry->plugin.desc->fini(entry->plugin.ctx);
	host_free(entry->plugin.host);
	if (entry->plugin.dl != NULL)
		dlclose(entry->plugin.dl);
	free(entry->plugin.path);
	free(entry);
}

/* --- the public functions ------------------------------------------------------------- */

int plugin_load(const struct plugin_load_options *opts, struct plugin_set *set, enum tnd_plugin_kind kind,
		const char *name, const char *file, const json_t *settings,
		struct tnd_loaded_plugin **ret_plugin, struct tnd_error *err)
{
	struct loader_entry *entry;
	const struct tnd_plugin *desc;
	char *path;
	void *dl;
	int r;

	/* The name becomes part of a path: refuse "../x" before touching the disk. */
	if (!loader_name_valid(name))
		return loader_refuse(err, file ? file : (name && *name ? name : "(unnamed)"), -EINVAL,
				     "invalid plugin name \"%.*s\": want [a-z][a-z0-9_]{0,63}",
				     LOADER_NAME_MAX + 1, name ? name : "");

	path = loader_find_file(opts, name, file);
	r = loader_check_file(opts, path, err);
	if (r < 0) {
		free(path);
		return r;
	}

	dlerror();
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		const char *why = dlerror();
		r = loader_refuse(err, path, -ENOEXEC, "dlopen failed: %s", why ? why : "unknown error");
		free(path);
		return r;
	}

	dlerror();
	desc = dlsym(dl, TND_PLUGIN_SYMBOL);
	if (desc == NULL) {
		r = loader_refuse(err, path, -ENOEXEC, "missing descriptor: no symbol %s", TND_PLUGIN_SYMBOL);
		goto refused;
	}
	r = loader_check_descriptor(desc, path, kind, name, set, err);
	if (r < 0)
		goto refused;

	entry = tnd_xcalloc(1, sizeof(*entry));
	entry->plugin.path = path;
	entry->plugin.name = desc->name;
	entry->plugin.kind = kind;
	entry->plugin.desc = desc;
	entry->plugin.ops = desc->ops;
	entry->plugin.host = host_new(desc->name, opts->state_dir);
	entry->plugin.dl = dl;
	r = loader_start(opts, entry, settings, err);
	if (r < 0) {
		loader_entry_free(entry);
		return r;
	}

	set->items = tnd_xrealloc(set->items, (set->n + 1) * sizeof(*set->items));
	set->items[set->n++] = &entry->plugin;
	log_info("plugin %s: %s %s %s (ABI %u.%u)%s%s from %s", opts->check_only ? "checked" : "loaded",
		 plugin_kind_name(kind), desc->name, desc->version ? desc->version : "-", desc->abi_major,
		 desc->abi_minor, loader_description(desc) ? ": " : "",
		 loader_description(desc) ? loader_description(desc) : "", path);
	if (ret_plugin != NULL)
		*ret_plugin = &entry->plugin;
	return 0;

refused:
	dlclose(dl);
	free(path);
	return r;
}

/* Load one config entry; on refusal prefix @err with where it was configured. */
static int loader_load_conf_entry(const struct plugin_load_options *opts, const struct tnd_conf *conf,
				  struct plugin_set *set, enum tnd_plugin_kind kind,
				  const struct tnd_plugin_conf *entry, struct tnd_error *err)
{
	struct tnd_error why = { .message = "" };
	int r;

	r = plugin_load(opts, set, kind, entry->name, entry->file, entry->settings, NULL, &why);
	if (r == 0)
		return 0;
	if (conf->path != NULL && entry->line > 0)
		tnd_error_set(err, "%s:%d: %s", conf->path, entry->line, why.message);
	else if (conf->path != NULL)
		tnd_error_set(err, "%s: %s", conf->path, why.message);
	else
		tnd_error_set(err, "%s", why.message);
	return r;
}

int plugin_load_all(const struct plugin_load_options *opts, const struct tnd_conf *conf,
		    struct plugin_set *set, struct tnd_error *err)
{
	/* The caller's options win; the config fills what they leave open. */
	struct plugin_load_options o = *opts;
	int r;

	if (o.dir == NULL)
		o.dir = conf->plugins.dir;
	if (conf->plugins.allow_unsafe_permissions)
		o.allow_unsafe_permissions = true;
	if (o.state_dir == NULL)
		o.state_dir = conf->daemon.state_dir;

	/* storage first: everything else may assume the registry exists */
	if (conf->plugins.storage.name != NULL) {
		r = loader_load_conf_entry(&o, conf, set, TND_PLUGIN_STORAGE, &conf->plugins.storage, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < conf->plugins.n_isolation; i++) {
		struct plugin_load_options iso = o;
		iso.check_only = o.check_only || o.isolation_check_only;
		r = loader_load_conf_entry(&iso, conf, set, TND_PLUGIN_ISOLATION, &conf->plugins.isolation[i], err);
		if (r < 0)
			return r;
	}
	if (conf->plugins.policy != NULL) {
		r = loader_load_conf_entry(&o, conf, set, TND_PLUGIN_POLICY, conf->plugins.policy, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < conf->plugins.n_notifiers; i++) {
		r = loader_load_conf_entry(&o, conf, set, TND_PLUGIN_NOTIFIER, &conf->plugins.notifiers[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

struct tnd_loaded_plugin *plugin_set_find_kind(const struct plugin_set *set, enum tnd_plugin_kind kind)
{
	for (size_t i = 0; set != NULL && i < set->n; i++)
		if (set->items[i]->kind == kind)
			return set->items[i];
	return NULL;
}

struct tnd_loaded_plugin *plugin_set_find(const struct plugin_set *set, const char *name)
{
	for (size_t i = 0; set != NULL && name != NULL && i < set->n; i++)
		if (strcmp(set->items[i]->name, name) == 0)
			return set->items[i];
	return NULL;
}

void plugin_set_clear(struct plugin_set *set)
{
	if (set == NULL)
		return;
	/* reverse order: a later plugin may still use an earlier one in fini() */
	for (size_t i = set->n; i > 0; i--)
		loader_entry_free(loader_entry_of(set->items[i - 1]));
	free(set->items);
	set->items = NULL;
	set->n = 0;
}

void plugin_set_print(const struct plugin_set *set, FILE *out)
{
	static const char *const headers[] = { "NAME", "KIND", "VERSION", "ABI" };
	size_t width[TND_ARRAY_SIZE(headers)];
	char abi[16];

	for (size_t c = 0; c < TND_ARRAY_SIZE(headers); c++)
		width[c] = strlen(headers[c]);
	for (size_t i = 0; set != NULL && i < set->n; i++) {
		const struct tnd_loaded_plugin *p = set->items[i];
		int n = snprintf(abi, sizeof(abi), "%u.%u", p->desc->abi_major, p->desc->abi_minor);
		const size_t len[] = { strlen(p->name), strlen(plugin_kind_name(p->kind)),
				       strlen(p->desc->version ? p->desc->version : "-"), (size_t)n };
		for (size_t c = 0; c < TND_ARRAY_SIZE(headers); c++)
			if (len[c] > width[c])
				width[c] = len[c];
	}
	fprintf(out, "%-*s  %-*s  %-*s  %-*s  FILE\n", (int)width[0], headers[0], (int)width[1], headers[1],
		(int)width[2], headers[2], (int)width[3], headers[3]);
	for (size_t i = 0; set != NULL && i < set->n; i++) {
		const struct tnd_loaded_plugin *p = set->items[i];
		snprintf(abi, sizeof(abi), "%u.%u", p->desc->abi_major, p->desc->abi_minor);
		fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", (int)width[0], p->name, (int)width[1],
			plugin_kind_name(p->kind), (int)width[2], p->desc->version ? p->desc->version : "-",
			(int)width[3], abi, p->path);
	}
}
