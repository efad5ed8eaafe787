/*
 * cli_cmd_quotas.c — `tenancyctl quotas ID [--history]`: a tenant's
 * effective quotas beside its plan's defaults, maxima and ceilings, and
 * with --history every recorded change of them (GET
 * /v1/tenants/{id}/quotas, following nextCursor).
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_output.h"
#include "cli_render.h"
#include "util.h"

static const char *const quotas_names[] = { "computeUnits", "storageGb", "eventsPerMinute", "concurrentOperations" };

/* GET one page of the quotas document, after history seq @cursor (NULL: from the start). */
static int quotas_page(struct cli_ctx *ctx, const char *id, const char *cursor, json_t **ret)
{
	struct cli_request req = { .method = "GET" };
	char *escaped = cursor ? cli_http_escape(cursor) : NULL;
	char *suffix = tnd_xasprintf("/quotas?limit=1000%s%s", escaped ? "&cursor=" : "", escaped ? escaped : "");
	char *path = cli_tenant_path(id, suffix);
	int r;

	req.path = path;
	r = cli_call(ctx, &req, NULL, false, ret, NULL);
	free(path);
	free(suffix);
	free(escaped);
	return r;
}

static void quotas_print_summary(struct cli_ctx *ctx, const json_t *doc)
{
	static const char *const headers[] = { "QUOTA", "EFFECTIVE", "PLAN-DEFAULT", "PLAN-MAX", "CEILING" };
	struct cli_table *table = cli_table_new(TND_ARRAY_SIZE(headers), headers);
	const json_t *plan = json_object_get(doc, "plan");
	char b[4][CLI_TEXT_BUF];

	for (size_t i = 0; i < TND_ARRAY_SIZE(quotas_names); i++) {
		char pointer[48];
		const char *cells[5];

		cells[0] = quotas_names[i];
		snprintf(pointer, sizeof(pointer), "/effective/%s", quotas_names[i]);
		cells[1] = cli_json_text(doc, pointer, b[0]);
		snprintf(pointer, sizeof(pointer), "/defaults/%s", quotas_names[i]);
		cells[2] = cli_json_text(plan, pointer, b[1]);
		snprintf(pointer, sizeof(pointer), "/max/%s", quotas_names[i]);
		cells[3] = cli_json_text(plan, pointer, b[2]);
		snprintf(pointer, sizeof(pointer), "/ceiling/%s", quotas_names[i]);
		cells[4] = cli_json_text(plan, pointer, b[3]);
		cli_table_add_row(table, cells);
	}
	fprintf(ctx->out, "tenant %s, plan %s\n", json_string_value(json_object_get(doc, "tenantId")),
		json_string_value(json_object_get(plan, "code")));
	cli_table_print(table, ctx->out);
	cli_table_free(table);
	if (json_object_get(plan, "maxTotalComputeUnits"))
		fprintf(ctx->out, "plan compute budget: %s of %s units in use\n",
			cli_json_text(plan, "/computeUnitsInUse", b[0]), cli_json_text(plan, "/maxTotalComputeUnits", b[1]));
}

static void quotas_print_history(struct cli_ctx *ctx, const json_t *history)
{
	static const char *const headers[] = { "SEQ", "VERSION", "TIME", "SOURCE", "ACTOR", "CU", "GB", "EPM", "OPS" };
	struct cli_table *table = cli_table_new(TND_ARRAY_SIZE(headers), headers);
	const json_t *item;
	size_t i;

	json_array_foreach(history, i, item) {
		char b[9][CLI_TEXT_BUF];
		const char *cells[] = {
			cli_json_text(item, "/seq", b[0]),		       cli_json_text(item, "/version", b[1]),
			cli_json_text(item, "/time", b[2]),		       cli_json_text(item, "/source", b[3]),
			cli_json_text(item, "/actor", b[4]),		       cli_json_text(item, "/quotas/computeUnits", b[5]),
			cli_json_text(item, "/quotas/storageGb", b[6]),      cli_json_text(item, "/quotas/eventsPerMinute", b[7]),
			cli_json_text(item, "/quotas/concurrentOperations", b[8]),
		};
		cli_table_add_row(table, cells);
	}
	cli_table_print(table, ctx->out);
	cli_table_free(table);
}

int cli_cmd_quotas(struct cli_ctx *ctx, const char *id, bool history)
{
	json_t *doc = NULL, *all;
	char *cursor = NULL;
	int r = quotas_page(ctx, id, NULL, &doc);

	if (r < 0)
		return r;
	all = json_array();
	json_array_extend(all, json_object_get(doc, "history"));
	/* follow the cursor only when the history is wanted */
	while (history && json_is_string(json_object_get(doc, "nextCursor"))) {
		json_t *page = NULL;

		free(cursor);
		cursor = tnd_xstrdup(json_string_value(json_object_get(doc, "nextCursor")));
		r = quotas_page(ctx, id, cursor, &page);
		if (r < 0)
			break;
		json_array_extend(all, json_object_get(page, "history"));
		json_object_set(doc, "nextCursor", json_object_get(page, "nextCursor"));
		json_decref(page);
	}
	if (r == 0) {
		if (history)
			json_object_set(doc, "history", all);
		else
			json_object_del(doc, "history");
		json_object_set_new(doc, "nextCursor", json_null());
		if (ctx->output == CLI_OUTPUT_JSON) {
			cli_print_json(ctx->out, doc);
		} else {
			quotas_print_summary(ctx, doc);
			if (history) {
				fputc('\n', ctx->out);
				quotas_print_history(ctx, all);
			}
		}
	}
	free(cursor);
	json_decref(all);
	json_decref(doc);
	return r;
}
