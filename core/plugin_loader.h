/*
 * plugin_loader.h — loading shared-object plugins through ABI v1.
 *
 * plugin_load() finds the file, checks its ownership and permissions,
 * dlopen()s it, reads the one exported descriptor and checks it (magic, ABI
 * major/minor, sizes of descriptor and ops table, kind, name, mandatory
 * ops), then calls init().  Every refusal is logged once, naming the file
 * and the reason, and returned as a negative errno with the same text in
 * @err.  Nothing is left loaded after a refusal.
 */
#ifndef TND_PLUGIN_LOADER_H
#define TND_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include <tenancyd/host.h>
#include <tenancyd/plugin.h>

struct tnd_conf;

struct tnd_loaded_plugin {
	char *path;                        /* the file that was loaded (absolute) */
	const char *name;                  /* == desc->name */
	enum tnd_plugin_kind kind;
	const struct tnd_plugin *desc;     /* inside the mapped object */
	const void *ops;                   /* desc->ops, size-checked for the kind */
	void *ctx;                         /* from init(); NULL when only checked */
	struct tnd_host *host;             /* the host table this plugin was given */
	void *dl;                          /* dlopen handle */
};

struct plugin_load_options {
	const char *dir;                   /* installed plugin directory */
	const char *build_dir;             /* if set, also look in <build_dir>/plugins/<name>/.libs/ first */
	bool allow_unsafe_permissions;     /* skip ownership/permission checks (development) */
	const char *state_dir;             /* handed to plugins through the host table */
	bool check_only;                   /* call check_config() instead of init() (`tenancyd -t`) */
	bool isolation_check_only;         /* plugin_load_all: only check isolation plugins (the
					      daemon's workers run them; the core never calls their ops) */
};

/** A set of loaded plugins; names are unique within a set. */
struct plugin_set {
	struct tnd_loaded_plugin **items;
	size_t n;
};

/**
 * Load one plugin for a config section of kind @kind.  @name is the name the
 * config uses (must equal the descriptor's name); @file is an explicit path
 * or NULL (then <build_dir>/plugins/<name>/.libs/<name>.so, then
 * <dir>/<name>.so).  @settings is the JSON object handed to init().  The
 * plugin joins @set on success (duplicate names are refused).
 */
int plugin_load(const struct plugin_load_options *opts, struct plugin_set *set, enum tnd_plugin_kind kind,
		const char *name, const char *file, const json_t *settings,
		struct tnd_loaded_plugin **ret_plugin, struct tnd_error *err);

/** Load every plugin the config names (storage, isolation, policy, notifiers).
 *  Stops at the first refusal; what loaded so far stays in @set. */
int plugin_load_all(const struct plugin_load_options *opts, const struct tnd_conf *conf,
		    struct plugin_set *set, struct tnd_error *err);

/** The first plugin of @kind in @set (e.g. the storage driver), or NULL. */
struct tnd_loaded_plugin *plugin_set_find_kind(const struct plugin_set *set, enum tnd_plugin_kind kind);
struct tnd_loaded_plugin *plugin_set_find(const struct plugin_set *set, const char *name);
/** fini() (if initialized), dlclose and free every plugin, in reverse load order. */
void plugin_set_clear(struct plugin_set *set);

/** `tenancyd --list-plugins`: one line per plugin: name, kind, version, ABI, file. */
void plugin_set_print(const struct plugin_set *set, FILE *out);

const char *plugin_kind_name(enum tnd_plugin_kind kind);

#endif /* TND_PLUGIN_LOADER_H */
