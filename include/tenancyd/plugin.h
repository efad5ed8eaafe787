/*
 * tenancyd/plugin.h — the plugin descriptor and the rules of ABI v1.
 *
 * A tenancyd plugin is one shared object that exports exactly one symbol:
 * the const descriptor made by TND_PLUGIN_DEFINE().  Everything else in the
 * object stays hidden (build with -fvisibility=hidden, or link with
 * -export-symbols-regex '^tnd_plugin_v1$').  The core exports no symbols:
 * a plugin reaches the daemon only through the host table (host.h) it
 * receives in init().
 *
 * Compatibility rules (read these before changing any public struct):
 *
 *  1. Every table starts with its own size (uint32_t), filled by the side
 *     that builds it with sizeof() as that side was compiled.
 *  2. A minor version bump only ever appends fields at the end of a table,
 *     or appends values to an enum.  Nothing is removed, reordered or
 *     retyped.  Anything else is a major bump.
 *  3. The reader of a table uses a field only when the table's size covers
 *     it (TND_HAS_FIELD) and the field is not NULL.  The core does this for
 *     plugin tables; a plugin does it for the host table when it wants a
 *     field newer than the minor it was built against.
 *  4. The core loads a plugin whose ABI major equals its own and whose minor
 *     is not newer than its own.  It refuses everything else.
 *  5. Functions return 0 on success or a negative errno.  Out parameters are
 *     named ret_… and are left untouched on failure.  Human-readable detail
 *     goes into a struct tnd_error or the host log; a plugin never prints.
 *  6. Memory crosses the boundary in one direction only: strings the core
 *     hands in are borrowed for the duration of the call (…_get0 style);
 *     output the plugin produces goes into a struct tnd_buf that the core
 *     owns and grows through host->buf_append().
 *
 * Minors: 1.1 appended reconcile workflows and credentials to the storage
 * ops; 1.2 appends the audit trail (storage write kind TND_WRITE_AUDIT,
 * the audit_list and audit_head_get storage ops, host->audit_hash,
 * host->audit_sign_records and host->audit_sign_head).
 * A 1.2 core loads 1.0 and 1.1 plugins (it checks sizes before using the
 * appended fields); a 1.1 core refuses a 1.2 plugin (rule 4).
 */
#ifndef TENANCYD_PLUGIN_H
#define TENANCYD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** "TNDP" — the first four bytes of every descriptor. */
#define TND_PLUGIN_MAGIC 0x504e4454u
/** The ABI this header describes. */
#define TND_ABI_MAJOR 1
#define TND_ABI_MINOR 2
/** The one symbol every plugin exports. */
#define TND_PLUGIN_SYMBOL "tnd_plugin_v1"

#if defined(__GNUC__)
#define TND_EXPORT __attribute__((visibility("default")))
#define TND_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TND_EXPORT
#define TND_PRINTF(fmt, args)
#endif

/** True when a table of the given (runtime) size contains @field. */
#define TND_HAS_FIELD(table, type, field) \
	((table)->size >= offsetof(type, field) + sizeof(((type *)0)->field))

/** The four kinds of plugin; a config section accepts exactly one kind. */
enum tnd_plugin_kind {
	TND_PLUGIN_ISOLATION = 1,
	TND_PLUGIN_POLICY = 2,
	TND_PLUGIN_STORAGE = 3,
	TND_PLUGIN_NOTIFIER = 4,
};

/** Human detail of a failure; fixed size so nobody has to free it. */
struct tnd_error {
	char message[512];
};

/** Fill @err (which may be NULL) printf-style.  Header-only, so plugins
 *  need no symbol from the core to report errors. */
static inline TND_PRINTF(2, 3) void tnd_error_set(struct tnd_error *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/** A growable output buffer owned by the core.  Plugins append to it only
 *  through host->buf_append() and friends; they never free or realloc it. */
struct tnd_buf {
	char *data;    /**< NUL-terminated after every append */
	size_t len;
	size_t cap;
};

struct tnd_host;
struct tnd_json;

/**
 * Create the plugin's context.
 * @param host    the core's services; valid until fini() returns
 * @param config  the plugin's `settings` group from tenancyd.conf, as a JSON
 *                object (read it with host->json_*); borrowed for this call
 * @param ret_ctx receives the plugin's context on success
 * @param err     detail on failure
 * @return 0 or a negative errno; on failure the plugin must not leak.
 */
typedef int tnd_plugin_init_fn(const struct tnd_host *host, const struct tnd_json *config,
			       void **ret_ctx, struct tnd_error *err);
/** Release everything init() created.  Accepts NULL. */
typedef void tnd_plugin_fini_fn(void *ctx);
/** Optional: validate @config without side effects (used by `tenancyd -t`). */
typedef int tnd_plugin_check_config_fn(const struct tnd_host *host, const struct tnd_json *config,
				       struct tnd_error *err);

/** The descriptor.  Build it with TND_PLUGIN_DEFINE(); never by hand. */
struct tnd_plugin {
	uint32_t magic;         /**< TND_PLUGIN_MAGIC */
	uint16_t abi_major;     /**< TND_ABI_MAJOR the plugin was built with */
	uint16_t abi_minor;     /**< TND_ABI_MINOR the plugin was built with */
	uint32_t size;          /**< sizeof(struct tnd_plugin) as the plugin saw it */
	uint32_t kind;          /**< enum tnd_plugin_kind */
	const char *name;       /**< unique, [a-z][a-z0-9_]*, equals the file's base name */
	const char *version;    /**< the plugin's own version string */
	uint64_t capabilities;  /**< kind-specific TND_CAP_* bits */
	tnd_plugin_init_fn *init;                 /**< mandatory */
	tnd_plugin_fini_fn *fini;                 /**< mandatory */
	const void *ops;        /**< the kind's ops table; its first field is uint32_t size */
	tnd_plugin_check_config_fn *check_config; /**< optional */
	const char *description;                  /**< optional one-line summary */
};

/**
 * Define the plugin's descriptor.  Use once per shared object, at file scope:
 *
 *   TND_PLUGIN_DEFINE(TND_PLUGIN_STORAGE, "sqlite", PACKAGE_VERSION,
 *                     TND_STORAGE_CAP_GROUP_COMMIT, sqlite_init, sqlite_fini,
 *                     &sqlite_ops, sqlite_check_config, "SQLite registry");
 */
#define TND_PLUGIN_DEFINE(kind_, name_, version_, caps_, init_, fini_, ops_, check_, descr_) \
	TND_EXPORT extern const struct tnd_plugin tnd_plugin_v1;                          \
	TND_EXPORT const struct tnd_plugin tnd_plugin_v1 = {                              \
		.magic = TND_PLUGIN_MAGIC,                                                  \
		.abi_major = TND_ABI_MAJOR,                                                 \
		.abi_minor = TND_ABI_MINOR,                                                 \
		.size = sizeof(struct tnd_plugin),                                          \
		.kind = (kind_),                                                            \
		.name = (name_),                                                            \
		.version = (version_),                                                      \
		.capabilities = (caps_),                                                    \
		.init = (init_),                                                            \
		.fini = (fini_),                                                            \
		.ops = (ops_),                                                              \
		.check_config = (check_),                                                   \
		.description = (descr_),                                                    \
	}

#ifdef __cplusplus
}
#endif

#endif /* TENANCYD_PLUGIN_H */
