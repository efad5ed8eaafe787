/*
 * hybrid.c — the hybrid isolation plugin: each tenant a control schema in
 * the shared PostgreSQL database and its own data database, one login role.
 * Everything but the descriptor lives in plugins/pg_common (shared with the
 * other PostgreSQL isolation plugins); see README.md for the mapping.
 */
#include "autoconfig.h"

#include "pg_common.h"

static tnd_plugin_init_fn hybrid_init;

static int hybrid_init(const struct tnd_host *host, const struct tnd_json *config, void **ret_ctx,
		 struct tnd_error *err)
{
	return pgiso_ctx_new(host, config, PGISO_MODE_HYBRID, "hybrid", ret_ctx, err);
}

static const struct tnd_isolation_ops hybrid_ops = {
	.size = sizeof(struct tnd_isolation_ops),
	.provision = pgiso_provision,
	.observe = pgiso_observe,
	.suspend = pgiso_suspend,
	.resume = pgiso_resume,
	.archive = pgiso_archive,
	.destroy = pgiso_destroy,
};

TND_PLUGIN_DEFINE(TND_PLUGIN_ISOLATION, "hybrid", PACKAGE_VERSION, 0, hybrid_init, pgiso_ctx_free,
		  &hybrid_ops, pgiso_check_config,
		  "PostgreSQL: control schema in a shared database, data in a database per tenant");
