/*
 * cli_commands.c — the read and lifecycle commands of tenancyctl (get, list,
 * history, suspend/resume/archive/delete, plans, regions) and the one way
 * they all call the API (cli_call).  `apply` lives in cli_cmd_apply.c, the
 * workflow commands in cli_cmd_workflows.c, --wait in cli_wait.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_output.h"
#include "cli_render.h"
#include "cli_wait.h"
#include "host.h"
#include "util.h"

/* history pages: the server's maximum, so a long lineage needs few requests */
#define COMMANDS_HISTORY_PAGE 1000

/* --- calling the API ------------------------------------------------------------------ */

char *cli_tenant_path(const char *id, const char *suffix)
{
	char *escaped = cli_http_escape(id);
	char *path = tnd_xasprintf("/v1/tenants/%s%s", escaped, suffix ? suffix : "");

	free(escaped);
	return path;
}

int cli_call(struct cli_ctx *ctx, const struct cli_request *req, const char *context, bool allow_404,
	     json_t **ret_json, struct cli_response *ret_resp)
{
	struct cli_response resp = { 0 };
	struct tnd_error err = { "" };
	json_error_t jerr;
	json_t *json;
	int r = cli_http_send(ctx->http, req, &resp, &err);

	if (r < 0) {
		fprintf(ctx->err, "error: %s\n", err.message);
		return r == -EIO ? -ENOTCONN : r;
	}
	if (resp.status == 404 && allow_404) {
		cli_response_clear(&resp);
		return -ENOENT;
	}
	if (resp.status < 200 || resp.status > 299) {
		struct cli_error_response shown = { resp.status, resp.content_type, resp.body, resp.len,
						    resp.request_id };
		cli_print_error_response(ctx->err, context, &shown);
		if (resp.status == 401 && !ctx->have_token)
			fputs("  hint: no token is configured; use --token-file, TENANCYD_TOKEN_FILE or "
			      "token-file in the config file\n", ctx->err);
		cli_response_clear(&resp);
		return -EPROTO;
	}
	json = json_loadb(resp.body, resp.len, 0, &jerr);
	if (json == NULL) {
		fprintf(ctx->err, "error: %s%sthe server's %ld answer is not JSON (%s)\n", context ? context : "",
			context ? ": " : "", resp.status, jerr.text);
		cli_response_clear(&resp);
		return -EBADMSG;
	}
	*ret_json = json;
	if (ret_resp)
		*ret_resp = resp;
	else
		cli_response_clear(&resp);
	return 0;
}

static int commands_get(struct cli_ctx *ctx, const char *path, const char *context, json_t **ret_json)
{
	struct cli_request req = { .method = "GET", .path = path };

	return cli_call(ctx, &req, context, false, ret_json, NULL);
}

/* --- get ---------------------------------------------------------------------------------- */

int cli_cmd_get(struct cli_ctx *ctx, const char *id)
{
	char *path = cli_tenant_path(id, NULL);
	json_t *doc = NULL;
	int r = commands_get(ctx, path, NULL, &doc);

	free(path);
	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON)
		cli_print_json(ctx->out, doc);
	else
		cli_print_tenant(ctx->out, doc, ctx->now_ms);
	json_decref(doc);
	return 0;
}

/* --- list ------------------------------------------------------------------------------------ */

static char *commands_list_path(const struct cli_list_options *opts, const char *cursor)
{
	struct tnd_buf query;
	char limit[16];
	char *path;

	tnd_buf_init(&query);
	cli_http_query_add(&query, "state", opts->state);
	cli_http_query_add(&query, "isolation", opts->isolation);
	cli_http_query_add(&query, "region", opts->region);
	cli_http_query_add(&query, "plan", opts->plan);
	for (size_t i = 0; i < opts->n_labels; i++)
		cli_http_query_add(&query, "label", opts->labels[i]);
	if (opts->limit) {
		snprintf(limit, sizeof(limit), "%u", opts->limit);
		cli_http_query_add(&query, "limit", limit);
	}
	cli_http_query_add(&query, "cursor", cursor);
	path = tnd_xasprintf("/v1/tenants%s", query.data ? query.data : "");
	tnd_buf_free(&query);
	return path;
}

static void commands_list_row(struct cli_table *table, const json_t *tenant, int64_t now_ms)
{
	char b[6][32], age[CLI_AGE_MAX];
	const char *cells[7];

	cli_format_age_since(json_string_value(json_pointer_get(tenant, "/metadata/createdAt")), now_ms, age);
	cells[0] = cli_json_text(tenant, "/metadata/id", b[0]);
	cells[1] = cli_json_text(tenant, "/status/phase", b[1]);
	cells[2] = cli_json_text(tenant, "/spec/plan", b[2]);
	cells[3] = cli_json_text_either(tenant, "/status/placement/isolation", "/spec/isolation", b[3]);
	cells[4] = cli_json_text(tenant, "/status/placement/region", b[4]);
	cells[5] = cli_json_text(tenant, "/metadata/version", b[5]);
	cells[6] = age;
	cli_table_add_row(table, cells);
}

int cli_cmd_list(struct cli_ctx *ctx, const struct cli_list_options *opts)
{
	static const char *const headers[] = { "ID", "PHASE", "PLAN", "ISOLATION", "REGION", "VERSION", "AGE" };
	struct cli_table *table = cli_table_new(TND_ARRAY_SIZE(headers), headers);
	json_t *merged = json_array(), *page = NULL;
	char *cursor = NULL;
	bool more = false;
	int r;

	for (;;) {
		char *path = commands_list_path(opts, cursor);
		const json_t *items, *item, *next;
		size_t i;

		r = commands_get(ctx, path, NULL, &page);
		free(path);
		if (r < 0)
			goto out;
		items = json_object_get(page, "items");
		json_array_foreach(items, i, item) {
			commands_list_row(table, item, ctx->now_ms);
			json_array_append(merged, (json_t *)item);
		}
		next = json_object_get(page, "nextCursor");
		more = json_is_string(next) && json_string_length(next) > 0;
		if (!opts->all || !more)
			break;
		/* a cursor that does not move would loop forever */
		if (cursor && strcmp(cursor, json_string_value(next)) == 0) {
			fprintf(ctx->err, "error: the server returned the same nextCursor twice; stopping\n");
			r = -EPROTO;
			goto out;
		}
		free(cursor);
		cursor = tnd_xstrdup(json_string_value(next));
		json_decref(page);
		page = NULL;
	}
	if (ctx->output == CLI_OUTPUT_JSON && opts->all) {
		json_t *doc = json_pack("{s:O}", "items", merged);
		cli_print_json(ctx->out, doc);
		json_decref(doc);
	} else if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, page);
	} else if (cli_table_rows(table) == 0) {
		fputs("no tenants found\n", ctx->err);
	} else {
		cli_table_print(table, ctx->out);
	}
	if (more && !opts->all)
		fprintf(ctx->err, "(more tenants exist than these %zu; use --all to list every page)\n",
			json_array_size(json_object_get(page, "items")));
out:
	json_decref(page);
	json_decref(merged);
	free(cursor);
	cli_table_free(table);
	return r;
}

/* --- history ------------------------------------------------------------------------------------ */

/* Every item of a lineage list, following "next" (the `after` of the next page). */
static int commands_all_pages(struct cli_ctx *ctx, const char *id, const char *what, json_t **ret_items)
{
	json_t *all = json_array();
	json_int_t after = 0;

	for (;;) {
		char suffix[96];
		char *path;
		json_t *page = NULL, *next;
		int r;

		snprintf(suffix, sizeof(suffix), "/%s?limit=%d&after=%" JSON_INTEGER_FORMAT, what,
			 COMMANDS_HISTORY_PAGE, after);
		path = cli_tenant_path(id, suffix);
		r = commands_get(ctx, path, NULL, &page);
		free(path);
		if (r < 0) {
			json_decref(all);
			return r;
		}
		json_array_extend(all, json_object_get(page, "items"));
		next = json_object_get(page, "next");
		if (!json_is_integer(next) || json_integer_value(next) <= after) {
			json_decref(page);
			break;
		}
		after = json_integer_value(next);
		json_decref(page);
	}
	*ret_items = all;
	return 0;
}

static void commands_print_versions(struct cli_ctx *ctx, const json_t *versions)
{
	static const char *const headers[] = { "VERSION", "TIME", "ACTOR", "REQUEST-ID" };
	struct cli_table *table = cli_table_new(TND_ARRAY_SIZE(headers), headers);
	const json_t *item;
	size_t i;

	json_array_foreach(versions, i, item) {
		char b[4][32];
		const char *cells[] = { cli_json_text(item, "/version", b[0]), cli_json_text(item, "/time", b[1]),
					cli_json_text(item, "/actor", b[2]), cli_json_text(item, "/requestId", b[3]) };
		cli_table_add_row(table, cells);
	}
	cli_table_print(table, ctx->out);
	cli_table_free(table);
}

static void commands_print_transitions(struct cli_ctx *ctx, const json_t *transitions)
{
	static const char *const headers[] = { "SEQ", "FROM", "TO", "VERSION", "TIME", "ACTOR", "REASON" };
	struct cli_table *table = cli_table_new(TND_ARRAY_SIZE(headers), headers);
	const json_t *item;
	size_t i;

	json_array_foreach(transitions, i, item) {
		char b[7][32];
		const char *cells[] = { cli_json_text(item, "/seq", b[0]),     cli_json_text(item, "/from", b[1]),
					cli_json_text(item, "/to", b[2]),      cli_json_text(item, "/version", b[3]),
					cli_json_text(item, "/time", b[4]),    cli_json_text(item, "/actor", b[5]),
					cli_json_text(item, "/reason", b[6]) };
		cli_table_add_row(table, cells);
	}
	cli_table_print(table, ctx->out);
	cli_table_free(table);
}

int cli_cmd_history(struct cli_ctx *ctx, const char *id)
{
	json_t *versions = NULL, *transitions = NULL;
	int r = commands_all_pages(ctx, id, "versions", &versions);

	if (r == 0)
		r = commands_all_pages(ctx, id, "transitions", &transitions);
	if (r == 0 && ctx->output == CLI_OUTPUT_JSON) {
		json_t *doc = json_pack("{s:O,s:O}", "versions", versions, "transitions", transitions);
		cli_print_json(ctx->out, doc);
		json_decref(doc);
	} else if (r == 0) {
		commands_print_versions(ctx, versions);
		fputc('\n', ctx->out);
		commands_print_transitions(ctx, transitions);
	}
	json_decref(versions);
	json_decref(transitions);
	return r;
}

/* --- lifecycle -------------------------------------------------------------------------------------- */

int cli_cmd_lifecycle(struct cli_ctx *ctx, enum cli_lifecycle_action action, const char *id)
{
	static const struct {
		const char *method;
		const char *suffix;
		const char *done;
	} actions[] = {
		[CLI_SUSPEND] = { "POST", "/suspend", "suspended" },
		[CLI_RESUME] = { "POST", "/resume", "resumed" },
		[CLI_ARCHIVE] = { "POST", "/archive", "archived" },
		[CLI_DELETE] = { "DELETE", NULL, "deleted" },
	};
	char *path = cli_tenant_path(id, actions[action].suffix);
	struct cli_request req = { .method = actions[action].method, .path = path, .if_match = ctx->if_match,
				   .idempotency_key = ctx->idempotency_key };
	json_t *doc = NULL;
	char b[32];
	int r = cli_call(ctx, &req, NULL, false, &doc, NULL);

	free(path);
	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON && ctx->wait_s == 0) {
		cli_print_json(ctx->out, doc);
	} else if (ctx->output == CLI_OUTPUT_TABLE) {
		fputs("tenant/", ctx->out);
		cli_print_sanitized(ctx->out, id);
		fprintf(ctx->out, " %s (version %s)\n", actions[action].done, cli_json_text(doc, "/metadata/version", b));
	}
	if (ctx->wait_s > 0) {
		/* -o json --wait prints the settled tenant instead of the write's answer */
		struct cli_wait_target target = { .id = id,
						  .version = json_integer_value(json_pointer_get(doc, "/metadata/version")) };
		fflush(ctx->out);
		r = cli_wait_settled(ctx, &target, 1, (int64_t)ctx->wait_s * 1000);
		if (ctx->output == CLI_OUTPUT_JSON && target.tenant)
			cli_print_json(ctx->out, target.tenant);
		cli_wait_targets_clear(&target, 1);
	}
	json_decref(doc);
	return r;
}

/* --- catalogue ----------------------------------------------------------------------------------------- */

static char *commands_join(const json_t *array)
{
	struct tnd_buf buf;
	const json_t *item;
	size_t i;

	tnd_buf_init(&buf);
	json_array_foreach(array, i, item)
		tnd_buf_addf(&buf, "%s%s", i ? "," : "", json_is_string(item) ? json_string_value(item) : "?");
	return buf.data ? tnd_buf_steal(&buf) : tnd_xstrdup("");
}

int cli_cmd_plans(struct cli_ctx *ctx)
{
	static const char *const headers[] = { "CODE", "ISOLATION", "DEFAULT", "RESIDENCY", "QUOTAS(cu/gb/epm/ops)" };
	json_t *doc = NULL;
	const json_t *plan;
	size_t i;
	int r = commands_get(ctx, "/v1/plans", NULL, &doc);

	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, doc);
	} else {
		struct cli_table *table = cli_table_new(TND_ARRAY_SIZE(headers), headers);
		json_array_foreach(json_object_get(doc, "items"), i, plan) {
			char b[7][32];
			char *modes = commands_join(json_object_get(plan, "isolation"));
			char *quotas = tnd_xasprintf("%s/%s/%s/%s", cli_json_text(plan, "/quotas/computeUnits", b[0]),
						     cli_json_text(plan, "/quotas/storageGb", b[1]),
						     cli_json_text(plan, "/quotas/eventsPerMinute", b[2]),
						     cli_json_text(plan, "/quotas/concurrentOperations", b[3]));
			const char *cells[] = { cli_json_text(plan, "/code", b[4]), modes,
						cli_json_text(plan, "/defaultIsolation", b[5]),
						cli_json_text(plan, "/defaultResidency", b[6]), quotas };
			cli_table_add_row(table, cells);
			free(modes);
			free(quotas);
		}
		cli_table_print(table, ctx->out);
		cli_table_free(table);
	}
	json_decref(doc);
	return 0;
}

int cli_cmd_regions(struct cli_ctx *ctx)
{
	static const char *const headers[] = { "NAME", "RESIDENCY", "ENABLED", "STANDBY", "CAPACITY" };
	json_t *doc = NULL;
	const json_t *region;
	size_t i;
	int r = commands_get(ctx, "/v1/regions", NULL, &doc);

	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, doc);
	} else {
		struct cli_table *table = cli_table_new(TND_ARRAY_SIZE(headers), headers);
		json_array_foreach(json_object_get(doc, "items"), i, region) {
			char b[5][32];
			const char *cells[] = { cli_json_text(region, "/name", b[0]), cli_json_text(region, "/residency", b[1]),
						cli_json_text(region, "/enabled", b[2]), cli_json_text(region, "/standby", b[3]),
						cli_json_text(region, "/capacity", b[4]) };
			cli_table_add_row(table, cells);
		}
		cli_table_print(table, ctx->out);
		cli_table_free(table);
	}
	json_decref(doc);
	return 0;
}
