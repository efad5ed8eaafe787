/*
 * cli_commands.h — the commands of tenancyctl, each one or a few API calls
 * and what they print.  A command prints its own errors (once, where it
 * knows the context) and returns 0 or a negative errno; tenancyctl.c maps
 * that to the exit code.
 */
#ifndef TND_CLI_COMMANDS_H
#define TND_CLI_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cli_http.h"

enum cli_output_format {
	CLI_OUTPUT_TABLE,
	CLI_OUTPUT_JSON,
};

/* What every command works with. */
struct cli_ctx {
	struct cli_http *http;
	enum cli_output_format output;
	const char *if_match;          /* If-Match value as sent ("\"3\"" or "*"), or NULL */
	const char *idempotency_key;   /* or NULL */
	bool have_token;               /* for the hint after a 401 */
	FILE *out;
	FILE *err;
	int64_t now_ms;                /* for ages */
	long wait_s;                   /* --wait: follow the tenant until settled, this long; 0: do not */
};

struct cli_list_options {
	const char *state;
	const char *isolation;
	const char *region;
	const char *plan;
	const char *const *labels;     /* "key=value" */
	size_t n_labels;
	unsigned limit;                /* page size; 0: the server's default */
	bool all;                      /* follow nextCursor through every page */
};

struct cli_workflow_list_options {
	const char *tenant;
	const char *state;             /* any case: "failed" is sent as "Failed" */
	unsigned limit;                /* page size; 0: the server's default */
	bool all;                      /* follow nextCursor through every page */
};

struct cli_event_options {
	long long after;               /* replay events after this sequence (0: all) */
	const char *tenant;            /* NULL: every tenant */
	const char *type;              /* "created" or "tenancy.tenant.created"; NULL: all */
	bool follow;                   /* then keep waiting for new events */
	long wait_s;                   /* long-poll wait of each --follow request */
};

enum cli_lifecycle_action {
	CLI_SUSPEND,
	CLI_RESUME,
	CLI_ARCHIVE,
	CLI_DELETE,
};

/* Apply input larger than this is refused. */
#define CLI_APPLY_MAX_BYTES (64u * 1024 * 1024)

/**
 * Apply every document of @files ("-" is stdin): nothing is sent unless
 * every file reads and splits cleanly; then each document is applied in
 * turn, a failing one does not stop the others (a connection failure
 * does).  -EINVAL if the input was unusable, -EIO if any document failed.
 * With ctx->wait_s, the applied tenants are then followed until settled
 * (cli_wait.h); a failed or timed-out wait is -ECANCELED or -ETIMEDOUT.
 */
int cli_cmd_apply(struct cli_ctx *ctx, const char *const *files, size_t n_files);
int cli_cmd_get(struct cli_ctx *ctx, const char *id);
int cli_cmd_list(struct cli_ctx *ctx, const struct cli_list_options *opts);
int cli_cmd_history(struct cli_ctx *ctx, const char *id);
/** A tenant's effective quotas and plan bounds; with @history, every recorded change. */
int cli_cmd_quotas(struct cli_ctx *ctx, const char *id, bool history);
/** suspend/resume/archive/delete; with ctx->wait_s, then wait until settled. */
int cli_cmd_lifecycle(struct cli_ctx *ctx, enum cli_lifecycle_action action, const char *id);
int cli_cmd_plans(struct cli_ctx *ctx);
int cli_cmd_regions(struct cli_ctx *ctx);

/* cli_cmd_workflows.c */
int cli_cmd_workflows(struct cli_ctx *ctx, const struct cli_workflow_list_options *opts);
int cli_cmd_workflow(struct cli_ctx *ctx, const char *id);
/** POST /v1/workflows/{id}/retry; with ctx->wait_s, then wait until its tenant is settled. */
int cli_cmd_retry(struct cli_ctx *ctx, const char *id);
/** Print a tenant's data-plane login (with a warning on ctx->err). */
int cli_cmd_credentials(struct cli_ctx *ctx, const char *id);

/* cli_cmd_audit.c */
struct cli_audit_options {
	const char *tenant, *actor, *action, *outcome, *after, *until;
	const char *from;              /* verify: first seq */
	const char *export_file;       /* verify offline: a JSON Lines export ("-": stdin) ... */
	const char *keys[8];           /* ... checked with these public key files (PEM) ... */
	size_t n_keys;
	const char *anchor;            /* ... reaching "SEQ:HASH" if set */
	unsigned limit;                /* page size; 0: the server's default */
	bool all;                      /* list: every page */
};
/** audit verify|list|export|public-key; verify returns -EBADMSG for a broken trail. */
int cli_cmd_audit(struct cli_ctx *ctx, const char *subcommand, const struct cli_audit_options *opts);

/* cli_cmd_tokens.c */
struct cli_token_options {
	const char *name;
	const char *role;              /* admin, operator, auditor, viewer, tenant */
	const char *tenant;            /* role tenant: the tenant it reads */
	long ttl_s;                    /* 0: never expires */
};
/** POST /v1/tokens; the secret alone on stdout (details on stderr). */
int cli_cmd_token_create(struct cli_ctx *ctx, const struct cli_token_options *opts);
int cli_cmd_token_list(struct cli_ctx *ctx, bool all);
int cli_cmd_token_revoke(struct cli_ctx *ctx, const char *id);
int cli_cmd_breakglass_request(struct cli_ctx *ctx, const char *reason, long ttl_s);
int cli_cmd_breakglass_list(struct cli_ctx *ctx, const char *state);
int cli_cmd_breakglass_decide(struct cli_ctx *ctx, const char *id, bool approve);

/* cli_cmd_webhooks.c */
struct cli_delivery_options {
	const char *status;            /* pending, delivered, failed, dead */
	const char *subscription;
	const char *from, *until;      /* requeue-all: creation time range (RFC 3339 or epoch ms) */
	unsigned limit;                /* page size; 0: 100 */
	bool all;                      /* list: every page */
};
/** POST /v1/webhooks; the secret alone on stdout (details on stderr).
 *  @types: comma-separated event types or NULL. */
int cli_cmd_webhook_create(struct cli_ctx *ctx, const char *url, const char *types, const char *tenant);
int cli_cmd_webhook_list(struct cli_ctx *ctx);
int cli_cmd_webhook_delete(struct cli_ctx *ctx, const char *id);
int cli_cmd_delivery_list(struct cli_ctx *ctx, const struct cli_delivery_options *opts);
int cli_cmd_delivery_requeue(struct cli_ctx *ctx, const char *id);
int cli_cmd_delivery_requeue_all(struct cli_ctx *ctx, const struct cli_delivery_options *opts);

/* cli_cmd_events.c */
/** Print the events after opts->after (JSON Lines with -o json); with
 *  opts->follow, then wait for new ones until interrupted or an error. */
int cli_cmd_events(struct cli_ctx *ctx, const struct cli_event_options *opts);

/* --- shared by the command files ------------------------------------------------- */

/**
 * Send @req and parse a 2xx JSON answer into *@ret_json.  Anything else is
 * printed to ctx->err (with @context, which may be NULL) and returns
 * -ENOTCONN (no answer: connection failure, timeout), -EFBIG (oversized
 * answer), -EPROTO (an HTTP error status) or -EBADMSG (a 2xx that is not
 * JSON).  With @allow_404, a 404 returns -ENOENT silently.  On success the
 * response itself goes to *@ret_resp if that is not NULL.
 */
int cli_call(struct cli_ctx *ctx, const struct cli_request *req, const char *context, bool allow_404,
	     json_t **ret_json, struct cli_response *ret_resp);

/** "/v1/tenants/<escaped id><suffix>" (caller frees). */
char *cli_tenant_path(const char *id, const char *suffix);

#endif /* TND_CLI_COMMANDS_H */
