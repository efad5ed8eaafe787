/*
 * cli_cmd_apply.c — `tenancyctl apply -f FILE...`: read every file, cut it
 * into documents (cli_apply.c), and PUT each to /v1/tenants/{metadata.id}
 * as the operator wrote it, reporting created / configured / unchanged;
 * with --wait, then follow the applied tenants until they are settled.
 */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_apply.h"
#include "cli_commands.h"
#include "cli_output.h"
#include "cli_wait.h"
#include "host.h"
#include "util.h"

/* The API's limit on Idempotency-Key. */
#define APPLY_IDEMPOTENCY_KEY_MAX 255

static int apply_read_all(struct cli_ctx *ctx, const char *const *files, size_t n_files,
			  struct cli_document_list *docs)
{
	int failed = 0;

	for (size_t i = 0; i < n_files; i++) {
		bool is_stdin = strcmp(files[i], "-") == 0;
		const char *name = is_stdin ? "<stdin>" : files[i];
		struct tnd_error err = { "" };
		char *data = NULL;
		size_t len = 0;
		int r = tnd_read_file(is_stdin ? "/dev/stdin" : files[i], CLI_APPLY_MAX_BYTES, &data, &len, &err);

		if (r < 0) {
			fprintf(ctx->err, "error: cannot read %s\n", err.message);
			failed = r;
			continue;
		}
		r = cli_documents_split(data, len, name, docs, &err);
		free(data);
		if (r < 0) {
			fprintf(ctx->err, "error: %s\n", err.message);
			failed = r;
		}
	}
	return failed;
}

/* "tenant/acme (file.yaml:12, document 2)" */
static char *apply_context(const struct cli_document *doc)
{
	return tnd_xasprintf("tenant/%s (%s:%zu, document %u)", doc->id ? doc->id : "?", doc->source, doc->line,
			     doc->number);
}

/* The tenant's version now: 0 if it does not exist. */
static int apply_current_version(struct cli_ctx *ctx, const struct cli_document *doc, const char *context,
				 json_int_t *ret_version)
{
	char *path = cli_tenant_path(doc->id, NULL);
	struct cli_request req = { .method = "GET", .path = path };
	json_t *current = NULL;
	int r = cli_call(ctx, &req, context, true, &current, NULL);

	free(path);
	if (r == -ENOENT) {
		*ret_version = 0;
		return 0;
	}
	if (r < 0)
		return r;
	*ret_version = json_integer_value(json_pointer_get(current, "/metadata/version"));
	json_decref(current);
	return 0;
}

/* PUT one document; *@ret_version is the version the answer names. */
static int apply_document(struct cli_ctx *ctx, const struct cli_document *doc, const char *idempotency_key,
			  json_t *applied, int64_t *ret_version)
{
	char *context = apply_context(doc);
	char *path = cli_tenant_path(doc->id, NULL);
	struct cli_response resp = { 0 };
	json_int_t before = 0, after;
	json_t *result = NULL;
	struct cli_request req = { .method = "PUT", .path = path, .content_type = cli_document_content_type(doc),
				   .if_match = ctx->if_match, .idempotency_key = idempotency_key };
	size_t body_len;
	char *body = cli_document_body(doc, &body_len);
	const char *outcome;
	int r;

	/*
	 * The API answers 200 both for a new version and for an identical
	 * manifest; the version before the PUT tells the two apart.
	 */
	r = apply_current_version(ctx, doc, context, &before);
	if (r == 0) {
		req.body = body;
		req.body_len = body_len;
		r = cli_call(ctx, &req, context, false, &result, &resp);
	}
	if (r == 0) {
		after = json_integer_value(json_pointer_get(result, "/metadata/version"));
		outcome = resp.status == 201 ? "created" : after > before ? "configured" : "unchanged";
		*ret_version = after;
		if (ctx->output == CLI_OUTPUT_JSON) {
			json_array_append(applied, result);
		} else {
			fputs("tenant/", ctx->out);
			cli_print_sanitized(ctx->out, doc->id);
			fprintf(ctx->out, " %s (version %" JSON_INTEGER_FORMAT ")\n", outcome, after);
		}
	}
	json_decref(result);
	cli_response_clear(&resp);
	free(body);
	free(path);
	free(context);
	return r;
}

/*
 * One Idempotency-Key per document: the API scopes a key to one request,
 * so with several documents document N gets "KEY#N" (N counts across all
 * files), and retrying the same command replays each document's answer.
 */
static char *apply_idempotency_key(const struct cli_ctx *ctx, size_t index, size_t n_docs)
{
	if (ctx->idempotency_key == NULL)
		return NULL;
	if (n_docs == 1)
		return tnd_xstrdup(ctx->idempotency_key);
	return tnd_xasprintf("%s#%zu", ctx->idempotency_key, index + 1);
}

int cli_cmd_apply(struct cli_ctx *ctx, const char *const *files, size_t n_files)
{
	struct cli_document_list docs = { NULL, 0 };
	struct cli_wait_target *targets = NULL;
	json_t *applied = json_array();
	size_t failures = 0, n_targets = 0, i;
	int wait_error = 0;
	int r = apply_read_all(ctx, files, n_files, &docs);

	if (r < 0) {
		fputs("error: nothing was applied\n", ctx->err);
		goto out;
	}
	if (ctx->idempotency_key && docs.n > 1) {
		char *longest = apply_idempotency_key(ctx, docs.n - 1, docs.n);
		bool too_long = strlen(longest) > APPLY_IDEMPOTENCY_KEY_MAX;
		free(longest);
		if (too_long) {
			fprintf(ctx->err, "error: --idempotency-key is too long to derive the per-document keys "
				"KEY#1..KEY#%zu (at most %d characters); nothing was applied\n", docs.n,
				APPLY_IDEMPOTENCY_KEY_MAX);
			r = -EINVAL;
			goto out;
		}
	}
	for (i = 0; i < docs.n; i++) {
		const struct cli_document *doc = &docs.items[i];
		int64_t version = 0;
		char *key;

		if (doc->id == NULL || doc->id[0] == '\0') {
			fprintf(ctx->err, "error: %s: document %u (line %zu): metadata.id is missing or not a "
				"string, so the tenant to apply it to is unknown\n", doc->source, doc->number, doc->line);
			failures++;
			continue;
		}
		key = apply_idempotency_key(ctx, i, docs.n);
		r = apply_document(ctx, doc, key, applied, &version);
		free(key);
		if (r == 0 && ctx->wait_s > 0) {
			targets = tnd_xrealloc(targets, (n_targets + 1) * sizeof(*targets));
			targets[n_targets++] = (struct cli_wait_target){ .id = doc->id, .version = version };
		}
		if (r == -ENOTCONN) {
			/* no server to talk to: the other documents would fail the same way */
			i++;
			failures++;
			break;
		}
		if (r < 0)
			failures++;
	}
	if (i < docs.n)
		fprintf(ctx->err, "error: stopped; %zu more document(s) were not sent\n", docs.n - i);
	if (n_targets > 0) {
		/* all documents first, then the waits: the tenants reconcile side by side */
		int waited;
		fflush(ctx->out);
		waited = cli_wait_settled(ctx, targets, n_targets, (int64_t)ctx->wait_s * 1000);
		/* -o json --wait shows the tenants as they are now, not the writes' answers */
		json_array_clear(applied);
		for (size_t t = 0; t < n_targets; t++)
			if (targets[t].tenant)
				json_array_append(applied, targets[t].tenant);
		wait_error = waited;
	}
	if (ctx->output == CLI_OUTPUT_JSON && json_array_size(applied) > 0) {
		if (docs.n == 1) {
			cli_print_json(ctx->out, json_array_get(applied, 0));
		} else {
			json_t *doc = json_pack("{s:O}", "items", applied);
			cli_print_json(ctx->out, doc);
			json_decref(doc);
		}
	}
	if (docs.n > 1 && failures > 0)
		fprintf(ctx->err, "error: %zu of %zu document(s) failed\n", failures + (docs.n - i), docs.n);
	r = failures > 0 || i < docs.n ? -EIO : wait_error;
out:
	cli_wait_targets_clear(targets, n_targets);
	free(targets);
	json_decref(applied);
	cli_document_list_clear(&docs);
	return r;
}
