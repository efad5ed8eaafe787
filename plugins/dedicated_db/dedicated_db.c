/*
 * dedicated_db.c — the dedicated_db isolation plugin: each tenant its own
 * PostgreSQL database, owned by its login role.
 * Everything but the descriptor lives in plugins/pg_common (shared with the
 * other PostgreSQL isolation plugins); see README.md for the mapping.
 */
#include "autoconfig.h"

#include "pg_common.h"

static tnd_plugin_init_fn dedicated_init;

static int dedicated_init(const struct tnd_host *host, const struct tnd_json *config, void **ret_ctx,
		 struct tnd_error *err)
{
	return pgiso_ctx_new(host, config, PGISO_MODE_DEDICATED, "dedicated_db", ret_ctx, err);
}

static const struct tnd_isolation_ops dedicated_ops = {
	.size = sizeof(struct tnd_isolation_ops),
	.provision = pgiso_provision,
	.observe = pgiso_observe,
	.suspend = pgiso_suspend,
	.resume = pgiso_resume,
	.archive = pgiso_archive,
	.destroy = pgiso_destroy,
};

TND_PLUGIN_DEFINE(TND_PLUGIN_ISOLATION, "dedicated_db", PACKAGE_VERSION, 0, dedicated_init, pgiso_ctx_free,
		  &dedicated_ops, pgiso_check_config,
		  "PostgreSQL: a database per tenant");
