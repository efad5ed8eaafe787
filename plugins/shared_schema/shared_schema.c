/*
 * shared_schema.c — the shared_schema isolation plugin: each tenant a schema
 * and a login role in the region's shared PostgreSQL database.
 * Everything but the descriptor lives in plugins/pg_common (shared with the
 * other PostgreSQL isolation plugins); see README.md for the mapping.
 */
#include "autoconfig.h"

#include "pg_common.h"

static tnd_plugin_init_fn shared_init;

static int shared_init(const struct tnd_host *host, const struct tnd_json *config, void **ret_ctx,
		 struct tnd_error *err)
{
	return pgiso_ctx_new(host, config, PGISO_MODE_SHARED, "shared_schema", ret_ctx, err);
}

static const struct tnd_isolation_ops shared_ops = {
	.size = sizeof(struct tnd_isolation_ops),
	.provision = pgiso_provision,
	.observe = pgiso_observe,
	.suspend = pgiso_suspend,
	.resume = pgiso_resume,
	.archive = pgiso_archive,
	.destroy = pgiso_destroy,
};

TND_PLUGIN_DEFINE(TND_PLUGIN_ISOLATION, "shared_schema", PACKAGE_VERSION, 0, shared_init, pgiso_ctx_free,
		  &shared_ops, pgiso_check_config,
		  "PostgreSQL: a schema per tenant in a shared database");
