/*
 * cli_cmd_tokens.c — the access commands of tenancyctl: `tokens create`
 * (the secret is printed once, alone on stdout, so it can be piped into a
 * file), `tokens list`, `tokens revoke ID`, and `breakglass request`,
 * `list`, `approve ID`, `deny ID`.  See docs/api.md for the routes.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_output.h"
#include "cli_render.h"
#include "util.h"

static char *tokens_one_path(const char *base, const char *id, const char *suffix)
{
	char *escaped = cli_http_escape(id);
	char *path = tnd_xasprintf("%s/%s%s", base, escaped, suffix ? suffix : "");

	free(escaped);
	return path;
}

/* POST @path with @body (consumed); the 2xx answer in *@ret. */
static int tokens_post(struct cli_ctx *ctx, const char *path, json_t *body, json_t **ret)
{
	char *text = json_dumps(body, JSON_COMPACT);
	struct cli_request req = { .method = "POST", .path = path, .content_type = "application/json",
				   .body = text, .body_len = strlen(text) };
	int r = cli_call(ctx, &req, NULL, false, ret, NULL);

	free(text);
	json_decref(body);
	return r;
}

/* --- tokens ----------------------------------------------------------------------------- */

int cli_cmd_token_create(struct cli_ctx *ctx, const struct cli_token_options *opts)
{
	json_t *body = json_pack("{s:s,s:s}", "name", opts->name, "role", opts->role), *doc = NULL;
	const char *secret;
	char b[3][CLI_TEXT_BUF];
	int r;

	if (opts->tenant)
		json_object_set_new(body, "tenant", json_string(opts->tenant));
	if (opts->ttl_s)
		json_object_set_new(body, "ttlSeconds", json_integer(opts->ttl_s));
	r = tokens_post(ctx, "/v1/tokens", body, &doc);
	if (r < 0)
		return r;
	secret = json_string_value(json_object_get(doc, "token"));
	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, doc);
	} else if (secret == NULL) {
		fputs("error: the server's answer holds no token\n", ctx->err);
		r = -EBADMSG;
	} else {
		/* the details on stderr; stdout is the secret alone, for a pipe */
		fputs("token/", ctx->err);
		cli_print_sanitized(ctx->err, cli_json_text(doc, "/id", b[0]));
		fputs(" created (", ctx->err);
		cli_print_sanitized(ctx->err, cli_json_text(doc, "/name", b[1]));
		fputs(", role ", ctx->err);
		cli_print_sanitized(ctx->err, cli_json_text(doc, "/role", b[2]));
		fputs("); the secret below is shown only this once: store it now\n", ctx->err);
		cli_print_sanitized(ctx->out, secret);
		fputc('\n', ctx->out);
	}
	json_decref(doc);
	return r;
}

int cli_cmd_token_list(struct cli_ctx *ctx, bool all)
{
	static const char *const headers[] = { "ID", "NAME", "ROLE", "TENANT", "STATE", "EXPIRES", "AGE" };
	struct cli_request req = { .method = "GET", .path = all ? "/v1/tokens?all=true&limit=1000"
								 : "/v1/tokens?limit=1000" };
	struct cli_table *table;
	const json_t *item;
	json_t *page = NULL;
	size_t i;
	int r = cli_call(ctx, &req, NULL, false, &page, NULL);

	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, page);
		json_decref(page);
		return 0;
	}
	table = cli_table_new(TND_ARRAY_SIZE(headers), headers);
	json_array_foreach(json_object_get(page, "items"), i, item) {
		char b[6][CLI_TEXT_BUF], age[CLI_AGE_MAX];
		const char *cells[7];

		cli_format_age_since(json_string_value(json_object_get(item, "createdAt")), ctx->now_ms, age);
		cells[0] = cli_json_text(item, "/id", b[0]);
		cells[1] = cli_json_text(item, "/name", b[1]);
		cells[2] = cli_json_text(item, "/role", b[2]);
		cells[3] = cli_json_text(item, "/tenant", b[3]);
		cells[4] = cli_json_text(item, "/state", b[4]);
		cells[5] = cli_json_text(item, "/expiresAt", b[5]);
		cells[6] = age;
		cli_table_add_row(table, cells);
	}
	if (cli_table_rows(table) == 0)
		fputs("no tokens found (the tokens file's are not listed)\n", ctx->err);
	else
		cli_table_print(table, ctx->out);
	cli_table_free(table);
	json_decref(page);
	return 0;
}

int cli_cmd_token_revoke(struct cli_ctx *ctx, const char *id)
{
	char *path = tokens_one_path("/v1/tokens", id, NULL);
	struct cli_request req = { .method = "DELETE", .path = path };
	json_t *doc = NULL;
	int r = cli_call(ctx, &req, NULL, false, &doc, NULL);

	free(path);
	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, doc);
	} else {
		fputs("token/", ctx->out);
		cli_print_sanitized(ctx->out, id);
		fputs(" revoked\n", ctx->out);
	}
	json_decref(doc);
	return 0;
}

/* --- break-glass -------------------------------------------------------------------------- */

static void breakglass_print_one(struct cli_ctx *ctx, const json_t *doc, const char *verb)
{
	char b[4][CLI_TEXT_BUF];

	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, doc);
		return;
	}
	fputs("breakglass/", ctx->out);
	cli_print_sanitized(ctx->out, cli_json_text(doc, "/id", b[0]));
	fprintf(ctx->out, " %s (", verb);
	cli_print_sanitized(ctx->out, cli_json_text(doc, "/state", b[1]));
	fputs(", requested by ", ctx->out);
	cli_print_sanitized(ctx->out, cli_json_text(doc, "/requester", b[2]));
	fputs(", expires ", ctx->out);
	cli_print_sanitized(ctx->out, cli_json_text(doc, "/expiresAt", b[3]));
	fputs(")\n", ctx->out);
}

int cli_cmd_breakglass_request(struct cli_ctx *ctx, const char *reason, long ttl_s)
{
	json_t *body = json_pack("{s:s}", "reason", reason), *doc = NULL;
	int r;

	if (ttl_s)
		json_object_set_new(body, "ttlSeconds", json_integer(ttl_s));
	r = tokens_post(ctx, "/v1/breakglass", body, &doc);
	if (r < 0)
		return r;
	breakglass_print_one(ctx, doc, "requested");
	if (ctx->output == CLI_OUTPUT_TABLE)
		fputs("a different admin approves it with: tenancyctl breakglass approve ID\n", ctx->err);
	json_decref(doc);
	return 0;
}

int cli_cmd_breakglass_list(struct cli_ctx *ctx, const char *state)
{
	static const char *const headers[] = { "ID", "REQUESTER", "STATE", "TTL", "EXPIRES", "DECIDED-BY", "REASON" };
	char *escaped = state ? cli_http_escape(state) : NULL;
	char *path = tnd_xasprintf("/v1/breakglass?limit=1000%s%s", escaped ? "&state=" : "", escaped ? escaped : "");
	struct cli_request req = { .method = "GET", .path = path };
	struct cli_table *table;
	const json_t *item;
	json_t *page = NULL;
	size_t i;
	int r = cli_call(ctx, &req, NULL, false, &page, NULL);

	free(path);
	free(escaped);
	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, page);
		json_decref(page);
		return 0;
	}
	table = cli_table_new(TND_ARRAY_SIZE(headers), headers);
	json_array_foreach(json_object_get(page, "items"), i, item) {
		char b[6][CLI_TEXT_BUF];
		const char *cells[7];

		cells[0] = cli_json_text(item, "/id", b[0]);
		cells[1] = cli_json_text(item, "/requester", b[1]);
		cells[2] = cli_json_text(item, "/state", b[2]);
		cells[3] = cli_json_text(item, "/ttlSeconds", b[3]);
		cells[4] = cli_json_text(item, "/expiresAt", b[4]);
		cells[5] = cli_json_text(item, "/decidedBy", b[5]);
		cells[6] = json_string_value(json_object_get(item, "reason"));
		cli_table_add_row(table, cells);
	}
	if (cli_table_rows(table) == 0)
		fputs("no break-glass grants found\n", ctx->err);
	else
		cli_table_print(table, ctx->out);
	cli_table_free(table);
	json_decref(page);
	return 0;
}

int cli_cmd_breakglass_decide(struct cli_ctx *ctx, const char *id, bool approve)
{
	char *path = tokens_one_path("/v1/breakglass", id, approve ? "/approve" : "/deny");
	json_t *doc = NULL;
	int r = tokens_post(ctx, path, json_object(), &doc);

	free(path);
	if (r < 0)
		return r;
	breakglass_print_one(ctx, doc, approve ? "approved" : "denied");
	json_decref(doc);
	return 0;
}
