/*
 * cli_cmd_events.c — `tenancyctl events`: the event stream replayed from
 * GET /v1/events (docs/events.md), page after page by sequence, as JSON
 * Lines (-o json: one CloudEvent per line, as the server sent it) or as a
 * short table; with --follow it then keeps long-polling (wait=) and
 * prints each new event as it commits, until interrupted.
 */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_commands.h"
#include "cli_output.h"
#include "host.h"
#include "util.h"

/* the server's largest page */
#define EVENTS_PAGE 1000

static char *events_path(const struct cli_event_options *opts, long long after, long wait_s)
{
	struct tnd_buf path;
	char *escaped;

	tnd_buf_init(&path);
	tnd_buf_addf(&path, "/v1/events?after=%lld&limit=%d", after, EVENTS_PAGE);
	if (opts->tenant) {
		escaped = cli_http_escape(opts->tenant);
		tnd_buf_addf(&path, "&tenant=%s", escaped);
		free(escaped);
	}
	if (opts->type) {
		escaped = cli_http_escape(opts->type);
		tnd_buf_addf(&path, "&type=%s", escaped);
		free(escaped);
	}
	if (wait_s > 0)
		tnd_buf_addf(&path, "&wait=%ld", wait_s);
	return path.data;
}

static const char *events_text(const json_t *event, const char *pointer)
{
	const char *text = json_string_value(json_pointer_get(event, pointer));

	return text && text[0] ? text : "-";
}

static void events_print_header(FILE *out)
{
	fprintf(out, "%-10s %-24s %-28s %-24s %-22s %s\n", "SEQUENCE", "TIME", "TYPE", "TENANT", "STATE", "VERSION");
}

/* One row: the sequence without its zero padding, the type without its prefix. */
static void events_print_row(FILE *out, const json_t *event)
{
	const char *sequence = events_text(event, "/sequence"), *type = events_text(event, "/type");
	const json_t *version = json_pointer_get(event, "/data/version");
	char state[96], line[512];

	while (sequence[0] == '0' && sequence[1] != '\0')
		sequence++;
	if (strncmp(type, "tenancy.tenant.", 15) == 0)
		type += 15;
	if (json_is_string(json_pointer_get(event, "/data/previousState")) &&
	    !tnd_streq(events_text(event, "/data/previousState"), events_text(event, "/data/newState")))
		snprintf(state, sizeof(state), "%s->%s", events_text(event, "/data/previousState"),
			 events_text(event, "/data/newState"));
	else
		snprintf(state, sizeof(state), "%s", events_text(event, "/data/newState"));
	snprintf(line, sizeof(line), "%-10s %-24s %-28s %-24s %-22s %lld", sequence, events_text(event, "/time"), type,
		 events_text(event, "/subject"), state, (long long)json_integer_value(version));
	cli_print_sanitized(out, line);
	fputc('\n', out);
}

static void events_print(struct cli_ctx *ctx, const json_t *event)
{
	if (ctx->output == CLI_OUTPUT_JSON) {
		char *text = json_dumps(event, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (text) {
			fputs(text, ctx->out);
			fputc('\n', ctx->out);
		}
		free(text);
	} else {
		events_print_row(ctx->out, event);
	}
}

/* One GET; prints its events and moves *@after on.  0 and the number of
 * events in *@ret_n, or a negative errno (already reported). */
static int events_page(struct cli_ctx *ctx, const struct cli_event_options *opts, long long *after, long wait_s,
		       bool *header, size_t *ret_n)
{
	char *path = events_path(opts, *after, wait_s);
	struct cli_request req = { .method = "GET", .path = path };
	const json_t *event, *next;
	json_t *page = NULL;
	size_t i;
	int r = cli_call(ctx, &req, NULL, false, &page, NULL);

	free(path);
	if (r < 0)
		return r;
	*ret_n = json_array_size(json_object_get(page, "items"));
	if (ctx->output == CLI_OUTPUT_TABLE && !*header && (*ret_n > 0 || opts->follow)) {
		events_print_header(ctx->out);
		*header = true;
	}
	json_array_foreach(json_object_get(page, "items"), i, event)
		events_print(ctx, event);
	next = json_object_get(page, "nextAfter");
	if (json_is_integer(next) && json_integer_value(next) > *after)
		*after = json_integer_value(next);
	json_decref(page);
	fflush(ctx->out);
	return 0;
}

int cli_cmd_events(struct cli_ctx *ctx, const struct cli_event_options *opts)
{
	long long after = opts->after;
	size_t n = 0, printed = 0;
	bool header = false;
	int r;

	/* replay what is there, page after page, without waiting */
	do {
		r = events_page(ctx, opts, &after, 0, &header, &n);
		if (r < 0)
			return r;
		printed += n;
	} while (n == EVENTS_PAGE);
	if (!opts->follow) {
		if (printed == 0 && ctx->output == CLI_OUTPUT_TABLE)
			fputs("no events found\n", ctx->err);
		return 0;
	}
	/* caught up: each request waits on the server for the next events */
	for (;;) {
		r = events_page(ctx, opts, &after, opts->wait_s, &header, &n);
		if (r < 0)
			return r;
	}
}
