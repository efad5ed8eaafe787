/*
 * conf_ratelimit.c — `api.rate_limits` and `plans[].rate_limits`: quotas
 * per window for reads and writes per tenant and for each API token, and
 * the size of the bucket table.  A plan's group overrides only the keys it
 * names; the rest come from the api group.  0 means unlimited, and an
 * absent api group limits nothing, so existing configs keep working.
 */
#include "autoconfig.h"

#include "conf_ratelimit.h"
#include "ratelimit.h"

static const char *const conf_ratelimit_api_keys[] = {
	"window", "read", "write", "token", "max_buckets", "shards", "plan_cache_ttl", NULL,
};
static const char *const conf_ratelimit_plan_keys[] = { "window", "read", "write", NULL };

/* window/read/write (and token when @with_token) from @group into @limits. */
static int conf_ratelimit_read_limits(struct conf_reader *reader, config_setting_t *group, bool with_token,
				      struct tnd_rate_limits *limits)
{
	int64_t window = limits->window_s, read = limits->read, write = limits->write, token = limits->token;
	int r;

	if ((r = conf_get_int(reader, group, "window", false, 1, RATELIMIT_WINDOW_MAX, &window)) < 0 ||
	    (r = conf_get_int(reader, group, "read", false, 0, RATELIMIT_QUOTA_MAX, &read)) < 0 ||
	    (r = conf_get_int(reader, group, "write", false, 0, RATELIMIT_QUOTA_MAX, &write)) < 0)
		return r;
	if (with_token && (r = conf_get_int(reader, group, "token", false, 0, RATELIMIT_QUOTA_MAX, &token)) < 0)
		return r;
	limits->window_s = (uint32_t)window;
	limits->read = (uint32_t)read;
	limits->write = (uint32_t)write;
	limits->token = (uint32_t)token;
	return 0;
}

int conf_ratelimit_parse_api(struct conf_reader *reader, config_setting_t *api_group, struct tnd_conf *conf)
{
	config_setting_t *group = NULL;
	int64_t max_buckets = 100000, shards = 64, plan_ttl = 10;
	int r;

	conf->api.rate_limits = (struct tnd_rate_limits){ .window_s = 1 };
	conf->api.rate_limit_max_buckets = (size_t)max_buckets;
	conf->api.rate_limit_shards = (unsigned)shards;
	conf->api.rate_limit_plan_ttl_s = (uint32_t)plan_ttl;
	r = conf_get_aggregate(reader, api_group, "rate_limits", CONFIG_TYPE_GROUP, false, &group);
	if (r < 0 || group == NULL)
		return r;
	r = conf_check_keys(reader, group, conf_ratelimit_api_keys);
	if (r < 0)
		return r;
	r = conf_ratelimit_read_limits(reader, group, true, &conf->api.rate_limits);
	if (r < 0)
		return r;
	if ((r = conf_get_int(reader, group, "max_buckets", false, 64, 100000000, &max_buckets)) < 0 ||
	    (r = conf_get_int(reader, group, "shards", false, 1, 4096, &shards)) < 0 ||
	    (r = conf_get_int(reader, group, "plan_cache_ttl", false, 1, 3600, &plan_ttl)) < 0)
		return r;
	conf->api.rate_limit_max_buckets = (size_t)max_buckets;
	conf->api.rate_limit_shards = (unsigned)shards;
	conf->api.rate_limit_plan_ttl_s = (uint32_t)plan_ttl;
	return 0;
}

int conf_ratelimit_parse_plan(struct conf_reader *reader, config_setting_t *plan_group,
			      const struct tnd_conf *conf, struct tnd_plan_conf *plan)
{
	config_setting_t *group = NULL;
	int r;

	plan->rate_limits = conf->api.rate_limits;
	plan->rate_limits.token = 0; /* tokens are limited by the api group alone */
	r = conf_get_aggregate(reader, plan_group, "rate_limits", CONFIG_TYPE_GROUP, false, &group);
	if (r < 0 || group == NULL)
		return r;
	r = conf_check_keys(reader, group, conf_ratelimit_plan_keys);
	if (r < 0)
		return r;
	return conf_ratelimit_read_limits(reader, group, false, &plan->rate_limits);
}
