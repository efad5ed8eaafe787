/*
 * embedded_shared_schema.c — the embedded_shared_schema isolation plugin:
 * the "shared" mode on the embedded SQLite data plane, a schema per tenant
 * (a file of its own, attached under the schema's name and registered in
 * the shared database's catalogue).  Everything but the descriptor lives
 * in plugins/embedded_common/, shared with the other two embedded modes
 * (README.md there).
 */
#include "autoconfig.h"

#include "embedded.h"

static tnd_plugin_init_fn shared_init;

static int shared_init(const struct tnd_host *host, const struct tnd_json *config, void **ret_ctx,
		       struct tnd_error *err)
{
	return embedded_ctx_new(host, config, EMBEDDED_SHARED, ret_ctx, err);
}

TND_PLUGIN_DEFINE(TND_PLUGIN_ISOLATION, "embedded_shared_schema", PACKAGE_VERSION, 0, shared_init, embedded_ctx_free,
		  &embedded_isolation_ops, embedded_check_config,
		  "embedded SQLite data plane, shared: a schema file per tenant in the shared database");
