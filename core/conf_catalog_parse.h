/*
 * conf_catalog_parse.h — reading the catalogue sections of tenancyd.conf
 * (`regions` and `plans`) into a struct tnd_conf, with their cross-checks.
 * Internal to the config loader; the read-only lookups live in
 * conf_catalog.c.
 */
#ifndef TND_CONF_CATALOG_PARSE_H
#define TND_CONF_CATALOG_PARSE_H

#include <libconfig.h>

#include "conf.h"
#include "conf_reader.h"

/**
 * Read `regions` and then `plans` from @root into @conf (which owns what is
 * stored even on failure; conf_catalog_free() releases it).  Checks names,
 * duplicates, standby references, the isolation plugins a region names
 * (so @conf must already hold the plugins section), isolation modes,
 * residency zones and quota bounds.  0 or -EINVAL with the reader's error
 * set.
 */
int conf_catalog_parse(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf);
/** Free the regions and plans of @conf. */
void conf_catalog_free(struct tnd_conf *conf);

#endif /* TND_CONF_CATALOG_PARSE_H */
