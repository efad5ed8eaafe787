/*
 * cli_cmd_audit.c — `tenancyctl audit ...`: verify (GET /v1/audit/verify),
 * list (GET /v1/audit, a table), export (every matching record as JSON
 * Lines, all pages) and public-key (the signing key as PEM).  verify
 * --export checks an export offline, with the core's own verifier and the
 * public keys given, so a third party needs no server.  See docs/audit.md.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit_key.h"
#include "audit_record.h"
#include "audit_verify.h"
#include "cli_commands.h"
#include "cli_output.h"
#include "host.h"
#include "util.h"

static char *audit_list_path(const struct cli_audit_options *opts, const char *cursor)
{
	struct tnd_buf query;
	char limit[16];
	char *path;

	tnd_buf_init(&query);
	cli_http_query_add(&query, "tenant", opts->tenant);
	cli_http_query_add(&query, "actor", opts->actor);
	cli_http_query_add(&query, "action", opts->action);
	cli_http_query_add(&query, "outcome", opts->outcome);
	cli_http_query_add(&query, "after", opts->after);
	cli_http_query_add(&query, "until", opts->until);
	if (opts->limit) {
		snprintf(limit, sizeof(limit), "%u", opts->limit);
		cli_http_query_add(&query, "limit", limit);
	}
	cli_http_query_add(&query, "cursor", cursor);
	path = tnd_xasprintf("/v1/audit%s", query.data ? query.data : "");
	tnd_buf_free(&query);
	return path;
}

static const char *audit_text(const json_t *item, const char *key)
{
	const char *s = json_string_value(json_object_get(item, key));

	return s ? s : "-";
}

static void audit_print_row(FILE *out, const json_t *item)
{
	fprintf(out, "%-6lld %-24s %-16s %-18s %-10s %-14s %s -> %s\n",
		(long long)json_integer_value(json_object_get(item, "seq")), audit_text(item, "time"),
		audit_text(item, "tenantId"), audit_text(item, "action"), audit_text(item, "outcome"),
		audit_text(item, "actor"), audit_text(item, "previousState"), audit_text(item, "newState"));
}

/* list (a table, or the server's JSON) and export (JSON Lines of every page). */
static int audit_list(struct cli_ctx *ctx, const struct cli_audit_options *opts, bool export)
{
	bool all = export || opts->all, more = false;
	char *cursor = NULL;
	json_t *page = NULL;
	size_t rows = 0;
	int r;

	for (;;) {
		char *path = audit_list_path(opts, cursor);
		struct cli_request req = { .method = "GET", .path = path };
		const json_t *item, *next;
		size_t i;

		json_decref(page);
		page = NULL;
		r = cli_call(ctx, &req, NULL, false, &page, NULL);
		free(path);
		if (r < 0)
			goto out;
		json_array_foreach(json_object_get(page, "items"), i, item) {
			if (export) {
				char *line = json_dumps(item, JSON_COMPACT | JSON_PRESERVE_ORDER);
				fprintf(ctx->out, "%s\n", line);
				free(line);
			} else if (ctx->output == CLI_OUTPUT_TABLE) {
				if (rows == 0)
					fprintf(ctx->out, "%-6s %-24s %-16s %-18s %-10s %-14s %s\n", "SEQ", "TIME", "TENANT",
						"ACTION", "OUTCOME", "ACTOR", "STATES");
				audit_print_row(ctx->out, item);
			}
			rows++;
		}
		if (!export && ctx->output == CLI_OUTPUT_JSON && !all)
			cli_print_json(ctx->out, page);
		next = json_object_get(page, "nextCursor");
		more = json_is_string(next) && json_string_length(next) > 0;
		if (!all || !more)
			break;
		if (cursor && strcmp(cursor, json_string_value(next)) == 0) {
			fprintf(ctx->err, "error: the server returned the same nextCursor twice; stopping\n");
			r = -EPROTO;
			goto out;
		}
		free(cursor);
		cursor = tnd_xstrdup(json_string_value(next));
	}
	if (!export && rows == 0 && ctx->output == CLI_OUTPUT_TABLE)
		fputs("no audit records found\n", ctx->err);
	if (!export && more && !all)
		fprintf(ctx->err, "(more records exist than these %zu; use --all to list every page)\n", rows);
	if (export)
		fprintf(ctx->err, "exported %zu audit record(s)\n", rows);
out:
	json_decref(page);
	free(cursor);
	return r;
}

static void audit_print_verdict(struct cli_ctx *ctx, const struct audit_verifier *v, const char *last_hash)
{
	if (ctx->output == CLI_OUTPUT_JSON) {
		json_t *report = json_pack("{s:b, s:I, s:I, s:o, s:o, s:o}", "ok", v->first_bad == 0, "from",
					   (json_int_t)v->from, "checked", (json_int_t)v->checked, "firstBadSeq",
					   v->first_bad ? json_integer(v->first_bad) : json_null(), "reason",
					   v->first_bad ? json_string(v->reason) : json_null(), "last",
					   v->checked ? json_pack("{s:I, s:s}", "seq", (json_int_t)(v->expect_seq - 1),
								  "hash", last_hash)
						      : json_null());
		cli_print_json(ctx->out, report);
		json_decref(report);
	} else if (v->first_bad == 0) {
		fprintf(ctx->out, "audit export OK: %lld record(s) checked from seq %lld", (long long)v->checked,
			(long long)v->from);
		if (v->checked)
			fprintf(ctx->out, "; last seq %lld hash %s", (long long)(v->expect_seq - 1), last_hash);
		fputc('\n', ctx->out);
		if (v->from > 1)
			fprintf(ctx->err, "note: the export starts at record %lld; the records before it were not "
				"checked, and record %lld's link to them is taken on trust\n", (long long)v->from,
				(long long)v->from);
	} else {
		fprintf(ctx->out, "audit export BROKEN at seq %lld: %s\n", (long long)v->first_bad, v->reason);
	}
}

/* A verifier from @from, expecting the record of @anchor ("SEQ:HASH") if set. */
static void audit_verify_export_start(struct audit_verifier *v, const struct audit_keyring *ring, int64_t from,
				      const char *anchor)
{
	audit_verifier_init(v, ring, from);
	if (anchor) {
		v->anchor_seq = strtoll(anchor, NULL, 10);
		snprintf(v->anchor_hash, sizeof(v->anchor_hash), "%s", strchr(anchor, ':') + 1);
	}
}

/* verify --export: the core's verifier over a JSON Lines file, no server. */
static int audit_verify_export(struct cli_ctx *ctx, const struct cli_audit_options *opts)
{
	struct audit_keyring *ring = audit_keyring_new();
	struct audit_verifier v;
	struct tnd_error err = { "" };
	FILE *in = strcmp(opts->export_file, "-") == 0 ? stdin : fopen(opts->export_file, "r");
	char *line = NULL, last_hash[65] = "";
	size_t cap = 0, lineno = 0;
	bool started = false;
	int r = 0;

	if (in == NULL) {
		r = -errno;
		fprintf(ctx->err, "tenancyctl: %s: %s\n", opts->export_file, strerror(errno));
		audit_keyring_free(ring);
		return r;
	}
	for (size_t i = 0; i < opts->n_keys && r == 0; i++) {
		r = audit_keyring_add_file(ring, opts->keys[i], &err);
		if (r < 0)
			fprintf(ctx->err, "tenancyctl: --key %s\n", err.message);
	}
	while (r == 0 && getline(&line, &cap, in) > 0) {
		struct tnd_audit_record rec;
		json_t *item;

		lineno++;
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		item = json_loads(line, 0, NULL);
		if (item == NULL || audit_record_from_json(item, &rec) < 0) {
			fprintf(ctx->err, "tenancyctl: %s:%zu: not an audit record\n", opts->export_file, lineno);
			json_decref(item);
			r = -EINVAL;
			break;
		}
		if (!started) {
			audit_verify_export_start(&v, ring, rec.seq, opts->anchor);
			started = true;
		}
		if (audit_verifier_feed(&v, &rec))
			snprintf(last_hash, sizeof(last_hash), "%s", rec.hash);
		json_decref(item);
		if (v.first_bad)
			break;
	}
	free(line);
	if (in != stdin)
		fclose(in);
	if (r == 0) {
		if (!started)
			audit_verify_export_start(&v, ring, 1, opts->anchor);
		audit_verifier_finish_offline(&v);
		audit_print_verdict(ctx, &v, last_hash);
		r = v.first_bad ? -EBADMSG : 0;
	}
	audit_keyring_free(ring);
	return r;
}

static int audit_verify(struct cli_ctx *ctx, const struct cli_audit_options *opts)
{
	char *path;
	struct cli_request req = { .method = "GET" };
	json_t *report = NULL;
	const json_t *head;
	int r;

	if (opts->export_file)
		return audit_verify_export(ctx, opts);
	path = opts->from ? tnd_xasprintf("/v1/audit/verify?from=%s", opts->from) : tnd_xstrdup("/v1/audit/verify");
	req.path = path;
	r = cli_call(ctx, &req, "audit verify", false, &report, NULL);
	free(path);
	if (r < 0)
		return r;
	head = json_object_get(report, "head");
	if (ctx->output == CLI_OUTPUT_JSON) {
		cli_print_json(ctx->out, report);
	} else if (json_is_true(json_object_get(report, "ok"))) {
		fprintf(ctx->out, "audit trail OK: %lld record(s) checked from seq %lld",
			(long long)json_integer_value(json_object_get(report, "checked")),
			(long long)json_integer_value(json_object_get(report, "from")));
		if (json_is_object(head))
			fprintf(ctx->out, "; head seq %lld hash %s", (long long)json_integer_value(json_object_get(head, "seq")),
				json_string_value(json_object_get(head, "hash")));
		fputc('\n', ctx->out);
	} else {
		fprintf(ctx->out, "audit trail BROKEN at seq %lld: %s\n",
			(long long)json_integer_value(json_object_get(report, "firstBadSeq")),
			json_string_value(json_object_get(report, "reason")));
	}
	r = json_is_true(json_object_get(report, "ok")) ? 0 : -EBADMSG;
	json_decref(report);
	return r;
}

static int audit_public_key(struct cli_ctx *ctx)
{
	struct cli_request req = { .method = "GET", .path = "/v1/audit/public-key" };
	json_t *body = NULL;
	int r = cli_call(ctx, &req, "audit public-key", false, &body, NULL);

	if (r < 0)
		return r;
	if (ctx->output == CLI_OUTPUT_JSON)
		cli_print_json(ctx->out, body);
	else
		fputs(json_string_value(json_object_get(body, "publicKeyPem")), ctx->out);
	json_decref(body);
	return 0;
}

int cli_cmd_audit(struct cli_ctx *ctx, const char *subcommand, const struct cli_audit_options *opts)
{
	if (strcmp(subcommand, "verify") == 0)
		return audit_verify(ctx, opts);
	if (strcmp(subcommand, "list") == 0)
		return audit_list(ctx, opts, false);
	if (strcmp(subcommand, "export") == 0)
		return audit_list(ctx, opts, true);
	if (strcmp(subcommand, "public-key") == 0)
		return audit_public_key(ctx);
	fprintf(ctx->err, "tenancyctl: audit %s: unknown; use verify, list, export or public-key\n", subcommand);
	return -EINVAL;
}
