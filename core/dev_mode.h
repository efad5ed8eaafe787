/*
 * dev_mode.h — preparing a state directory for `tenancyd --dev`.
 */
#ifndef TND_DEV_MODE_H
#define TND_DEV_MODE_H

#include <stdbool.h>

#include <tenancyd/plugin.h>

#define DEV_MODE_DEFAULT_LISTEN "127.0.0.1:8470"

/**
 * Create or reuse @state_dir (NULL: a new directory under $TMPDIR), write
 * admin/operator/viewer tokens (0600, reused if present), a tokens file and
 * a tenancyd.conf listening on @listen (NULL: DEV_MODE_DEFAULT_LISTEN).
 * The config runs the reconcile engine on the embedded data plane if
 * dev_mode_embedded_plugins_found(), and is registry-only otherwise.
 * On success *@ret_config_path is the config to run (caller frees).
 */
int dev_mode_prepare(const char *state_dir, const char *listen, char **ret_config_path, struct tnd_error *err);

/**
 * dev_mode_prepare() with the engine chosen by the caller: @reconcile adds
 * the embedded isolation plugins (plugins.isolation, every region's
 * `isolation` and `data_plane` groups) and a `reconcile` section whose
 * credentials key (<state_dir>/credentials.key, 32 random bytes in base64,
 * mode 0600) is generated if absent and otherwise kept.
 */
int dev_mode_prepare_engine(const char *state_dir, const char *listen, bool reconcile, char **ret_config_path,
			    struct tnd_error *err);

/** True if the embedded isolation plugins can be loaded: embedded_shared_schema.so
 *  in this build tree (<build>/plugins/<name>/.libs/) or in the plugin directory. */
bool dev_mode_embedded_plugins_found(void);

#endif /* TND_DEV_MODE_H */
