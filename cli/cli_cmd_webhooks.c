/*
 * cli_cmd_webhooks.c — `tenancyctl webhooks create|list|delete` and
 * `tenancyctl deliveries list|requeue|requeue-all` (docs/webhooks.md,
 * docs/api.md).  As with tokens, `webhooks create` prints the secret once,
 * alone on stdout, so it can be piped into the receiver's configuration.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_output.h"
#include "cli_render.h"
#include "host.h"
#include "util.h"

static int webhooks_send(struct cli_ctx *ctx, const char *method, const char *path, json_t *body, json_t **ret)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct cli_request req = { .method = method, .path = path, .content_type = text ? "application/json" : NULL,
				   .body = text, .body_len = text ? strlen(text) : 0 };
	int r = cli_call(ctx, &req, NULL, false, ret, NULL);

	free(text);
	json_decref(body);
	return r;
}

static char *webhooks_path(const char *base, const char *id, const char *suffix)
{
	char *escaped = cli_http_escape(id);
	char *path = tnd_xasprintf("%s/%s%s", base, escaped, suffix ? suffix : "");

	free(escaped);
	return path;
}

int cli_cmd_webhook_create(struct cli_ctx *ctx, const char *url, const char *types, const char *tenant)
{
	json_t *body = json_pack("{s:s}", "url", url), *doc = NULL;
	const char *secret;
	char b[CLI_TEXT_BUF];
	int r;

	if (types) {
		json_t *list = json_array();
		char *copy = tnd_xstrdup(types), *save = NULL;

		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(list, json_string(t));
		free(copy);
		json_object_set_new(body, "types", list);
	}
	if (tenant)
		json_object_set_new(body, "tenant", json_string(tenant));
	r = webhooks_send(ctx, "POST", "/v1/webhooks", body, &doc);
	if (r < 0)
		return r;
	secret = json_string_value(json_object_get(doc, "secret"));
	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, doc);
	} else if (secret == NULL) {
		fputs("error: the server's answer holds no secret\n", ctx->err);
		r = -EBADMSG;
	} else {
		fputs("webhook/", ctx->err);
		cli_print_sanitized(ctx->err, cli_json_text(doc, "/id", b));
		fputs(" created; its signing secret below is shown only this once: store it now\n", ctx->err);
		cli_print_sanitized(ctx->out, secret);
		fputc('\n', ctx->out);
	}
	json_decref(doc);
	return r;
}

int cli_cmd_webhook_list(struct cli_ctx *ctx)
{
	static const char *const headers[] = { "ID", "STATE", "URL", "TYPES", "TENANT", "AGE" };
	struct cli_request req = { .method = "GET", .path = "/v1/webhooks" };
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
		char b[5][CLI_TEXT_BUF], age[CLI_AGE_MAX], types[CLI_TEXT_BUF] = "*";
		const json_t *t = json_object_get(item, "types");
		const char *cells[6];

		if (json_is_array(t)) {
			char *text = json_dumps(t, JSON_COMPACT);
			tnd_strlcpy(types, text, sizeof(types));
			free(text);
		}
		cli_format_age_since(json_string_value(json_object_get(item, "createdAt")), ctx->now_ms, age);
		cells[0] = cli_json_text(item, "/id", b[0]);
		cells[1] = cli_json_text(item, "/state", b[1]);
		cells[2] = cli_json_text(item, "/url", b[2]);
		cells[3] = types;
		cells[4] = cli_json_text(item, "/tenant", b[4]);
		cells[5] = age;
		cli_table_add_row(table, cells);
	}
	if (cli_table_rows(table) == 0)
		fputs("no webhook subscriptions\n", ctx->err);
	else
		cli_table_print(table, ctx->out);
	cli_table_free(table);
	json_decref(page);
	return 0;
}

int cli_cmd_webhook_delete(struct cli_ctx *ctx, const char *id)
{
	char *path = webhooks_path("/v1/webhooks", id, NULL);
	json_t *doc = NULL;
	int r = webhooks_send(ctx, "DELETE", path, NULL, &doc);

	free(path);
	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, doc);
	} else {
		fputs("webhook/", ctx->out);
		cli_print_sanitized(ctx->out, id);
		fputs(" deleted\n", ctx->out);
	}
	json_decref(doc);
	return 0;
}

int cli_cmd_delivery_list(struct cli_ctx *ctx, const struct cli_delivery_options *opts)
{
	static const char *const headers[] = { "ID", "STATUS", "ATTEMPTS", "LAST", "EVENT-TYPE", "NEXT", "ERROR" };
	struct cli_table *table = cli_table_new(TND_ARRAY_SIZE(headers), headers);
	char *cursor = NULL;
	int r = 0;

	do {
		struct tnd_buf path = { 0 };
		struct cli_request req = { .method = "GET" };
		const json_t *item, *next;
		json_t *page = NULL;
		size_t i;

		tnd_buf_addf(&path, "/v1/deliveries?limit=%u", opts->limit ? opts->limit : 100);
		if (opts->status)
			tnd_buf_addf(&path, "&status=%s", opts->status);
		if (opts->subscription) {
			char *e = cli_http_escape(opts->subscription);
			tnd_buf_addf(&path, "&subscription=%s", e);
			free(e);
		}
		if (cursor) {
			char *e = cli_http_escape(cursor);
			tnd_buf_addf(&path, "&cursor=%s", e);
			free(e);
		}
		req.path = path.data;
		r = cli_call(ctx, &req, NULL, false, &page, NULL);
		free(path.data);
		free(cursor);
		cursor = NULL;
		if (r < 0)
			break;
		if (ctx->output == CLI_OUTPUT_JSON) {
			cli_print_json(ctx->out, page);
		} else {
			json_array_foreach(json_object_get(page, "items"), i, item) {
				char b[7][CLI_TEXT_BUF];
				const char *cells[7];

				cells[0] = cli_json_text(item, "/id", b[0]);
				cells[1] = cli_json_text(item, "/status", b[1]);
				cells[2] = cli_json_text(item, "/attempts", b[2]);
				cells[3] = cli_json_text(item, "/lastStatus", b[3]);
				cells[4] = cli_json_text(item, "/eventType", b[4]);
				cells[5] = cli_json_text(item, "/nextAttemptAt", b[5]);
				cells[6] = cli_json_text(item, "/lastError", b[6]);
				cli_table_add_row(table, cells);
			}
		}
		next = json_object_get(page, "nextCursor");
		if (opts->all && json_is_string(next))
			cursor = tnd_xstrdup(json_string_value(next));
		json_decref(page);
	} while (cursor);
	if (r == 0 && ctx->output != CLI_OUTPUT_JSON) {
		if (cli_table_rows(table) == 0)
			fputs("no deliveries found\n", ctx->err);
		else
			cli_table_print(table, ctx->out);
	}
	cli_table_free(table);
	return r;
}

int cli_cmd_delivery_requeue(struct cli_ctx *ctx, const char *id)
{
	char *path = webhooks_path("/v1/deliveries", id, "/requeue");
	json_t *doc = NULL;
	int r = webhooks_send(ctx, "POST", path, json_object(), &doc);

	free(path);
	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, doc);
	} else {
		fputs("delivery/", ctx->out);
		cli_print_sanitized(ctx->out, id);
		fputs(" requeued\n", ctx->out);
	}
	json_decref(doc);
	return 0;
}

int cli_cmd_delivery_requeue_all(struct cli_ctx *ctx, const struct cli_delivery_options *opts)
{
	json_t *body = json_object(), *doc = NULL;
	int r;

	if (opts->subscription)
		json_object_set_new(body, "subscription", json_string(opts->subscription));
	if (opts->from)
		json_object_set_new(body, "from", json_string(opts->from));
	if (opts->until)
		json_object_set_new(body, "until", json_string(opts->until));
	r = webhooks_send(ctx, "POST", "/v1/deliveries/requeue", body, &doc);
	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON)
		cli_print_json(ctx->out, doc);
	else
		fprintf(ctx->out, "%lld dead deliver%s requeued\n",
			(long long)json_integer_value(json_object_get(doc, "requeued")),
			json_integer_value(json_object_get(doc, "requeued")) == 1 ? "y" : "ies");
	json_decref(doc);
	return 0;
}
