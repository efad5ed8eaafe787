/*
 * embedded_hybrid.c — the embedded_hybrid isolation plugin: the "hybrid"
 * mode on the embedded SQLite data plane, a control schema per tenant in
 * the shared database plus a data database file of its own.  Everything
 * but the descriptor lives in plugins/embedded_common/, shared with the
 * other two embedded modes (README.md there).
 */
#include "autoconfig.h"

#include "embedded.h"

static tnd_plugin_init_fn hybrid_init;

static int hybrid_init(const struct tnd_host *host, const struct tnd_json *config, void **ret_ctx,
		       struct tnd_error *err)
{
	return embedded_ctx_new(host, config, EMBEDDED_HYBRID, ret_ctx, err);
}

TND_PLUGIN_DEFINE(TND_PLUGIN_ISOLATION, "embedded_hybrid", PACKAGE_VERSION, 0, hybrid_init, embedded_ctx_free,
		  &embedded_isolation_ops, embedded_check_config,
		  "embedded SQLite data plane, hybrid: a control schema in the shared database, a data file per tenant");
