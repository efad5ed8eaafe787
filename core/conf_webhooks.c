/*
 * conf_webhooks.c — parsing the `webhooks` section (see conf_webhooks.h).
 * Every key is optional; an absent section keeps the defaults.  The
 * per-attempt timeout is the webhook plugin's (its timeout_ms setting).
 *
 *   webhooks: {
 *     retry_base_ms = 1000;        # first backoff ceiling
 *     retry_cap_ms = 3600000;      # largest backoff ceiling
 *     max_attempts = 10;           # then the delivery is dead
 *     workers = 4;                 # attempts in flight at once
 *     per_subscription = 2;        # of which for one subscription
 *     poll_interval_ms = 200;      # how often due retries are looked for
 *   };
 */
#include "autoconfig.h"

#include <string.h>

#include "conf_webhooks.h"

static const char *const webhooks_keys[] = {
	"retry_base_ms", "retry_cap_ms", "max_attempts", "workers", "per_subscription", "poll_interval_ms", NULL,
};

int conf_webhooks_parse(struct conf_reader *reader, config_setting_t *root, struct tnd_conf *conf)
{
	config_setting_t *group = NULL;
	int64_t base = 1000, cap = 3600000, attempts = 10, workers = 4, per_sub = 2, poll = 200;
	int r;

	r = conf_get_aggregate(reader, root, "webhooks", CONFIG_TYPE_GROUP, false, &group);
	if (r < 0)
		return r;
	if (group != NULL) {
		if ((r = conf_check_keys(reader, group, webhooks_keys)) < 0 ||
		    (r = conf_get_int(reader, group, "retry_base_ms", false, 1, 86400000, &base)) < 0 ||
		    (r = conf_get_int(reader, group, "retry_cap_ms", false, 1, 7 * 86400000LL, &cap)) < 0 ||
		    (r = conf_get_int(reader, group, "max_attempts", false, 1, 1000, &attempts)) < 0 ||
		    (r = conf_get_int(reader, group, "workers", false, 1, 256, &workers)) < 0 ||
		    (r = conf_get_int(reader, group, "per_subscription", false, 1, 256, &per_sub)) < 0 ||
		    (r = conf_get_int(reader, group, "poll_interval_ms", false, 10, 60000, &poll)) < 0)
			return r;
		if (cap < base)
			return conf_fail(reader, config_setting_get_member(group, "retry_cap_ms"),
					 "webhooks.retry_cap_ms (%lld) is below webhooks.retry_base_ms (%lld)",
					 (long long)cap, (long long)base);
	}
	/* the dispatcher seals subscription secrets with the credentials key */
	for (size_t i = 0; i < conf->plugins.n_notifiers; i++)
		if (strcmp(conf->plugins.notifiers[i].name, "webhook") == 0 && conf->reconcile.credentials_key_file == NULL)
			return conf_fail(reader, config_setting_get_member(config_setting_get_member(root, "plugins"), "notifiers"),
					 "the webhook notifier needs reconcile.credentials_key_file: subscription "
					 "secrets are sealed with it");
	conf->webhooks.retry_base_ms = base;
	conf->webhooks.retry_cap_ms = cap;
	conf->webhooks.max_attempts = attempts;
	conf->webhooks.workers = (int)workers;
	conf->webhooks.per_subscription = (int)per_sub;
	conf->webhooks.poll_interval_ms = poll;
	return 0;
}
