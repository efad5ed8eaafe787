/*
 * conf_reconcile.h — reading the `reconcile` and `workers` sections of
 * tenancyd.conf into a struct tnd_conf, with their ranges, defaults and
 * referenced key files.  Internal to the config loader (conf.c).
 */
#ifndef TND_CONF_RECONCILE_H
#define TND_CONF_RECONCILE_H

#include <libconfig.h>

#include "conf.h"
#include "conf_reader.h"

/**
 * Read `reconcile` and `workers` from @root into @conf, which must already
 * hold the `daemon` and `plugins` sections (the default worker endpoint
 * lives in daemon.state_dir; the credentials key is required once
 * plugins.isolation is non-empty).  Key files are checked for ownership and
 * shape, never quoted.  @conf owns what is stored even on failure
 * (conf_reconcile_free() releases it).  0 or -EINVAL with the reader's
 * error set.
 */
int conf_reconcile_parse(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf);
/** Free what conf_reconcile_parse() stored in @conf. */
void conf_reconcile_free(struct tnd_conf *conf);

#endif /* TND_CONF_RECONCILE_H */
