/*
 * embedded_dedicated_db.c — the embedded_dedicated_db isolation plugin:
 * the "dedicated" mode on the embedded SQLite data plane, a database file
 * per tenant.  Everything but the descriptor lives in
 * plugins/embedded_common/, shared with the other two embedded modes
 * (README.md there).
 */
#include "autoconfig.h"

#include "embedded.h"

static tnd_plugin_init_fn dedicated_init;

static int dedicated_init(const struct tnd_host *host, const struct tnd_json *config, void **ret_ctx,
			  struct tnd_error *err)
{
	return embedded_ctx_new(host, config, EMBEDDED_DEDICATED, ret_ctx, err);
}

TND_PLUGIN_DEFINE(TND_PLUGIN_ISOLATION, "embedded_dedicated_db", PACKAGE_VERSION, 0, dedicated_init, embedded_ctx_free,
		  &embedded_isolation_ops, embedded_check_config,
		  "embedded SQLite data plane, dedicated: a database file per tenant");
