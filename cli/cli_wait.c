/*
 * cli_wait.c — following tenants until they are settled (see cli_wait.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli_output.h"
#include "cli_render.h"
#include "cli_wait.h"
#include "host.h"
#include "util.h"

static const json_t *wait_failed_condition(const json_t *tenant)
{
	const json_t *condition;
	size_t i;

	json_array_foreach(json_pointer_get(tenant, "/status/conditions"), i, condition)
		if (tnd_streq(json_string_value(json_object_get(condition, "type")), "ReconcileFailed"))
			return condition;
	return NULL;
}

enum cli_settle cli_tenant_settle(const json_t *tenant, int64_t min_version, const json_t **ret_condition)
{
	const json_t *observed = json_pointer_get(tenant, "/status/observedVersion");
	const char *phase = json_string_value(json_pointer_get(tenant, "/status/phase"));
	const char *desired = json_string_value(json_pointer_get(tenant, "/spec/state"));
	const json_t *failed;

	/* the phase is capitalized ("Active"), the desired state is not ("active") */
	if (json_is_integer(observed) && json_integer_value(observed) >= min_version && phase && desired &&
	    strcasecmp(phase, desired) == 0)
		return CLI_SETTLE_DONE;
	failed = wait_failed_condition(tenant);
	if (failed == NULL)
		return CLI_SETTLE_PENDING;
	if (ret_condition)
		*ret_condition = failed;
	return CLI_SETTLE_FAILED;
}

/* "active" -> "Active" */
static char *wait_capitalized(const char *state)
{
	char *copy = tnd_xstrdup(state && state[0] ? state : "?");

	if (copy[0] >= 'a' && copy[0] <= 'z')
		copy[0] = (char)(copy[0] - 'a' + 'A');
	return copy;
}

char *cli_settle_describe(const json_t *tenant, int64_t min_version)
{
	char b[3][CLI_TEXT_BUF];
	char *desired = wait_capitalized(cli_json_text(tenant, "/spec/state", b[0]));
	const char *phase = cli_json_text(tenant, "/status/phase", b[1]);
	const char *observed = cli_json_text(tenant, "/status/observedVersion", b[2]);
	const json_t *conditions = json_pointer_get(tenant, "/status/conditions");
	const json_t *condition;
	struct tnd_buf buf;
	size_t i;

	tnd_buf_init(&buf);
	tnd_buf_addf(&buf, "to be %s at version %lld (now %s, observed version %s", desired, (long long)min_version,
		     phase[0] ? phase : "?", observed[0] ? observed : "?");
	json_array_foreach(conditions, i, condition) {
		const char *type = cli_json_text(condition, "/type", b[0]);
		const char *reason = cli_json_text(condition, "/reason", b[1]);
		const char *message = cli_json_text(condition, "/message", b[2]);

		tnd_buf_addf(&buf, "; %s", type[0] ? type : "?");
		if (reason[0])
			tnd_buf_addf(&buf, " (%s)", reason);
		if (message[0])
			tnd_buf_addf(&buf, ": %s", message);
	}
	tnd_buf_addf(&buf, ")");
	free(desired);
	return tnd_buf_steal(&buf);
}

/* --- polling -------------------------------------------------------------------------- */

static void wait_sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void wait_print_settled(struct cli_ctx *ctx, const struct cli_wait_target *t)
{
	char b[2][CLI_TEXT_BUF];

	if (ctx->output == CLI_OUTPUT_JSON)
		return; /* the caller prints the documents */
	fputs("tenant/", ctx->out);
	cli_print_sanitized(ctx->out, t->id);
	fputc(' ', ctx->out);
	cli_print_sanitized(ctx->out, cli_json_text(t->tenant, "/spec/state", b[0]));
	fprintf(ctx->out, " (version %s)\n", cli_json_text(t->tenant, "/status/observedVersion", b[1]));
}

static void wait_print_failed(struct cli_ctx *ctx, const struct cli_wait_target *t, const json_t *condition)
{
	char b[3][CLI_TEXT_BUF];
	const char *workflow = cli_json_text(condition, "/workflow", b[0]);
	const char *reason = cli_json_text(condition, "/reason", b[1]);
	const char *message = cli_json_text(condition, "/message", b[2]);

	fputs("error: tenant/", ctx->err);
	cli_print_sanitized(ctx->err, t->id);
	fputs(": reconcile failed", ctx->err);
	if (reason[0]) {
		fputs(" (", ctx->err);
		cli_print_sanitized(ctx->err, reason);
		fputc(')', ctx->err);
	}
	fputs(": ", ctx->err);
	cli_print_sanitized(ctx->err, message[0] ? message : "no message");
	fputc('\n', ctx->err);
	if (workflow[0]) {
		fputs("  (see 'tenancyctl workflow ", ctx->err);
		cli_print_sanitized(ctx->err, workflow);
		fputs("'; once the cause is fixed, 'tenancyctl retry ", ctx->err);
		cli_print_sanitized(ctx->err, workflow);
		fputs("')\n", ctx->err);
	}
}

static void wait_print_timeout(struct cli_ctx *ctx, const struct cli_wait_target *t, int64_t timeout_ms)
{
	char *what = cli_settle_describe(t->tenant, t->version);

	fputs("error: ", ctx->err);
	if (timeout_ms % 1000 == 0)
		fprintf(ctx->err, "timed out after %lld s", (long long)(timeout_ms / 1000));
	else
		fprintf(ctx->err, "timed out after %.1f s", (double)timeout_ms / 1000);
	fputs(" waiting for tenant/", ctx->err);
	cli_print_sanitized(ctx->err, t->id);
	fputc(' ', ctx->err);
	cli_print_sanitized(ctx->err, what);
	fputc('\n', ctx->err);
	free(what);
}

/* Read target @t once and judge it; 0 or the request's error. */
static int wait_poll(struct cli_ctx *ctx, struct cli_wait_target *t)
{
	char *path = cli_tenant_path(t->id, NULL);
	char *context = tnd_xasprintf("waiting for tenant/%s", t->id);
	struct cli_request req = { .method = "GET", .path = path };
	const json_t *condition = NULL;
	json_t *doc = NULL;
	int r = cli_call(ctx, &req, context, false, &doc, NULL);

	free(path);
	free(context);
	if (r < 0)
		return r;
	json_decref(t->tenant);
	t->tenant = doc;
	t->outcome = cli_tenant_settle(doc, t->version, &condition);
	if (t->outcome == CLI_SETTLE_DONE)
		wait_print_settled(ctx, t);
	else if (t->outcome == CLI_SETTLE_FAILED)
		wait_print_failed(ctx, t, condition);
	return 0;
}

int cli_wait_settled(struct cli_ctx *ctx, struct cli_wait_target *targets, size_t n, int64_t timeout_ms)
{
	int64_t deadline = tnd_now_ms() + timeout_ms, interval = CLI_WAIT_POLL_FIRST_MS;
	bool failed = false;

	for (size_t i = 0; i < n; i++)
		targets[i].outcome = CLI_SETTLE_PENDING;
	for (;;) {
		size_t pending = 0;
		int64_t now;

		for (size_t i = 0; i < n; i++) {
			int r;
			if (targets[i].outcome != CLI_SETTLE_PENDING)
				continue;
			r = wait_poll(ctx, &targets[i]);
			if (r < 0)
				return r;
			failed |= targets[i].outcome == CLI_SETTLE_FAILED;
			pending += targets[i].outcome == CLI_SETTLE_PENDING;
		}
		if (pending == 0)
			return failed ? -ECANCELED : 0;
		now = tnd_now_ms();
		if (now >= deadline) {
			for (size_t i = 0; i < n; i++)
				if (targets[i].outcome == CLI_SETTLE_PENDING)
					wait_print_timeout(ctx, &targets[i], timeout_ms);
			return -ETIMEDOUT;
		}
		/* one last look right at the deadline rather than after it */
		wait_sleep_ms(interval < deadline - now ? interval : deadline - now);
		interval = interval * 3 / 2 < CLI_WAIT_POLL_MAX_MS ? interval * 3 / 2 : CLI_WAIT_POLL_MAX_MS;
	}
}

void cli_wait_targets_clear(struct cli_wait_target *targets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(targets[i].tenant);
		targets[i].tenant = NULL;
	}
}
