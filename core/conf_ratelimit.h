/*
 * conf_ratelimit.h — the `rate_limits` groups of tenancyd.conf: the
 * defaults and table size in `api`, and each plan's own limits.  Internal
 * to the config loader.
 */
#ifndef TND_CONF_RATELIMIT_H
#define TND_CONF_RATELIMIT_H

#include <libconfig.h>

#include "conf.h"
#include "conf_reader.h"

/** Read api.rate_limits (optional; absent: nothing is limited) into @conf. */
int conf_ratelimit_parse_api(struct conf_reader *reader, config_setting_t *api_group, struct tnd_conf *conf);
/** Read @plan_group's `rate_limits` (optional) into @plan, starting from
 *  the api defaults already in @conf. */
int conf_ratelimit_parse_plan(struct conf_reader *reader, config_setting_t *plan_group,
			      const struct tnd_conf *conf, struct tnd_plan_conf *plan);

#endif /* TND_CONF_RATELIMIT_H */
