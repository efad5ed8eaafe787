/*
 * conf_webhooks.h — the `webhooks` section: the dispatcher's retry
 * schedule and its worker pool (conf_webhooks.c, tenancyd.conf(5)).
 */
#ifndef TND_CONF_WEBHOOKS_H
#define TND_CONF_WEBHOOKS_H

#include <libconfig.h>

#include "conf.h"
#include "conf_reader.h"

int conf_webhooks_parse(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf);

#endif /* TND_CONF_WEBHOOKS_H */
