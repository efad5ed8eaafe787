/*
 * dev_mode.h — preparing a state directory for `tenancyd --dev`.
 */
#ifndef TND_DEV_MODE_H
#define TND_DEV_MODE_H

#include <tenancyd/plugin.h>

#define DEV_MODE_DEFAULT_LISTEN "127.0.0.1:8470"

/** The plans and regions of the development config (libconfig text). */
extern const char dev_mode_catalog[];

/**
 * Create or reuse @state_dir (NULL: a new directory under $TMPDIR), write
 * admin/operator/viewer tokens (0600, reused if present), a tokens file and
 * a tenancyd.conf listening on @listen (NULL: DEV_MODE_DEFAULT_LISTEN).
 * On success *@ret_config_path is the config to run (caller frees).
 */
int dev_mode_prepare(const char *state_dir, const char *listen, char **ret_config_path, struct tnd_error *err);

#endif /* TND_DEV_MODE_H */
