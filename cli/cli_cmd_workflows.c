/*
 * cli_cmd_workflows.c — the reconcile commands of tenancyctl: `workflows`
 * (the list, paged), `workflow ID` (one in detail), `retry ID` (a Failed
 * workflow runs again) and `credentials ID` (a tenant's data-plane login).
 * See docs/reconcile.md for the routes.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_output.h"
#include "cli_render.h"
#include "cli_wait.h"
#include "host.h"
#include "util.h"

/* --- workflows ------------------------------------------------------------------------ */

/* The API's states are capitalized ("Failed"); operators may type "failed". */
static char *workflows_state_name(const char *state)
{
	char *name = tnd_xstrdup(state);

	for (char *p = name; *p; p++)
		if (p == name && *p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
		else if (p != name && *p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return name;
}

static char *workflows_path(const struct cli_workflow_list_options *opts, const char *cursor)
{
	struct tnd_buf query;
	char *state = opts->state ? workflows_state_name(opts->state) : NULL;
	char limit[16];
	char *path;

	tnd_buf_init(&query);
	cli_http_query_add(&query, "tenant", opts->tenant);
	cli_http_query_add(&query, "state", state);
	if (opts->limit) {
		snprintf(limit, sizeof(limit), "%u", opts->limit);
		cli_http_query_add(&query, "limit", limit);
	}
	cli_http_query_add(&query, "cursor", cursor);
	path = tnd_xasprintf("/v1/workflows%s", query.data ? query.data : "");
	tnd_buf_free(&query);
	free(state);
	return path;
}

int cli_cmd_workflows(struct cli_ctx *ctx, const struct cli_workflow_list_options *opts)
{
	struct cli_table *table = cli_workflow_table_new();
	json_t *merged = json_array(), *page = NULL;
	char *cursor = NULL;
	bool more = false;
	int r;

	for (;;) {
		char *path = workflows_path(opts, cursor);
		struct cli_request req = { .method = "GET", .path = path };
		const json_t *item, *next;
		size_t i;

		r = cli_call(ctx, &req, NULL, false, &page, NULL);
		free(path);
		if (r < 0)
			goto out;
		json_array_foreach(json_object_get(page, "items"), i, item) {
			cli_workflow_table_add(table, item, ctx->now_ms);
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
		fputs("no workflows found\n", ctx->err);
	} else {
		cli_table_print(table, ctx->out);
	}
	if (more && !opts->all)
		fprintf(ctx->err, "(more workflows exist than these %zu; use --all to list every page)\n",
			json_array_size(json_object_get(page, "items")));
out:
	json_decref(page);
	json_decref(merged);
	free(cursor);
	cli_table_free(table);
	return r;
}

static char *workflows_one_path(const char *id, const char *suffix)
{
	char *escaped = cli_http_escape(id);
	char *path = tnd_xasprintf("/v1/workflows/%s%s", escaped, suffix ? suffix : "");

	free(escaped);
	return path;
}

int cli_cmd_workflow(struct cli_ctx *ctx, const char *id)
{
	char *path = workflows_one_path(id, NULL);
	struct cli_request req = { .method = "GET", .path = path };
	json_t *wf = NULL;
	int r = cli_call(ctx, &req, NULL, false, &wf, NULL);

	free(path);
	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON)
		cli_print_json(ctx->out, wf);
	else
		cli_print_workflow(ctx->out, wf, ctx->now_ms);
	json_decref(wf);
	return 0;
}

int cli_cmd_retry(struct cli_ctx *ctx, const char *id)
{
	char *path = workflows_one_path(id, "/retry");
	struct cli_request req = { .method = "POST", .path = path };
	struct cli_wait_target target = { 0 };
	json_t *wf = NULL;
	char b[3][CLI_TEXT_BUF];
	int r = cli_call(ctx, &req, NULL, false, &wf, NULL);

	free(path);
	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_TABLE || ctx->wait_s == 0) {
		if (ctx->output == CLI_OUTPUT_JSON) {
			cli_print_json(ctx->out, wf);
		} else {
			fputs("workflow/", ctx->out);
			cli_print_sanitized(ctx->out, id);
			fputs(" retried (", ctx->out);
			cli_print_sanitized(ctx->out, cli_json_text(wf, "/kind", b[0]));
			fputs(" of tenant/", ctx->out);
			cli_print_sanitized(ctx->out, cli_json_text(wf, "/tenantId", b[1]));
			fputs(", now ", ctx->out);
			cli_print_sanitized(ctx->out, cli_json_text(wf, "/state", b[2]));
			fputs(")\n", ctx->out);
		}
	}
	if (ctx->wait_s > 0) {
		/* the retried workflow realizes its target version of its tenant */
		target.id = json_string_value(json_object_get(wf, "tenantId"));
		target.version = json_integer_value(json_object_get(wf, "targetVersion"));
		if (target.id == NULL) {
			fputs("error: the server's answer names no tenantId to wait for\n", ctx->err);
			r = -EBADMSG;
		} else {
			r = cli_wait_settled(ctx, &target, 1, (int64_t)ctx->wait_s * 1000);
			if (ctx->output == CLI_OUTPUT_JSON && target.tenant)
				cli_print_json(ctx->out, target.tenant);
		}
		cli_wait_targets_clear(&target, 1);
	}
	json_decref(wf);
	return r;
}

/* --- credentials ------------------------------------------------------------------------ */

int cli_cmd_credentials(struct cli_ctx *ctx, const char *id)
{
	char *path = cli_tenant_path(id, "/credentials");
	struct cli_request req = { .method = "GET", .path = path };
	json_t *doc = NULL;
	char b[4][CLI_TEXT_BUF];
	int r = cli_call(ctx, &req, NULL, false, &doc, NULL);

	free(path);
	if (r < 0)
		return r;
	/* said on stderr so that it reaches the person even when stdout is piped */
	fputs("warning: printing the data-plane password of tenant/", ctx->err);
	cli_print_sanitized(ctx->err, id);
	fputs("; it is a secret: do not paste it into logs or tickets\n", ctx->err);
	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, doc);
	} else {
		const char *fields[] = {
			"Tenant", cli_json_text(doc, "/tenantId", b[0]),
			"Username", cli_json_text(doc, "/username", b[1]),
			"Password", cli_json_text(doc, "/password", b[2]),
			"Key id", cli_json_text(doc, "/keyId", b[3]),
		};
		cli_print_fields(ctx->out, fields, TND_ARRAY_SIZE(fields) / 2);
	}
	json_decref(doc);
	return 0;
}
