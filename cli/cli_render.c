/*
 * cli_render.c — tenants and workflows as tenancyctl shows them (see
 * cli_render.h).
 */
#include "autoconfig.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli_render.h"
#include "host.h"
#include "util.h"

const char *cli_json_text(const json_t *doc, const char *pointer, char buf[CLI_TEXT_BUF])
{
	const json_t *v = json_pointer_get(doc, pointer);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, CLI_TEXT_BUF, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "yes" : "no";
	return "";
}

const char *cli_json_text_either(const json_t *doc, const char *pointer, const char *fallback,
				 char buf[CLI_TEXT_BUF])
{
	const char *v = cli_json_text(doc, pointer, buf);

	return v[0] ? v : cli_json_text(doc, fallback, buf);
}

void cli_format_duration(double ms, char out[CLI_DURATION_MAX])
{
	if (!(ms >= 0)) {
		out[0] = '\0';
	} else if (ms < 1) {
		snprintf(out, CLI_DURATION_MAX, "%.0fus", ms * 1000);
	} else if (ms < 1000) {
		snprintf(out, CLI_DURATION_MAX, "%.1fms", ms);
	} else if (ms < 60000) {
		snprintf(out, CLI_DURATION_MAX, "%.2fs", ms / 1000);
	} else {
		long long s = (long long)(ms / 1000);
		snprintf(out, CLI_DURATION_MAX, "%lldm%02llds", s / 60, s % 60);
	}
}

/* "<time> (<age> ago)", or "" without a time; caller frees. */
static char *render_when(const char *time, int64_t now_ms)
{
	char age[CLI_AGE_MAX];

	if (time == NULL || time[0] == '\0')
		return tnd_xstrdup("");
	cli_format_age_since(time, now_ms, age);
	return tnd_xasprintf("%s (%s ago)", time, age);
}

/* "<time> (in <duration>)" for a time to come, "<time> (due)" for one past. */
static char *render_when_next(const char *time, int64_t now_ms)
{
	char in[CLI_AGE_MAX];
	int64_t at;

	if (time == NULL || time[0] == '\0')
		return tnd_xstrdup("");
	if (cli_parse_time(time, &at) < 0)
		return tnd_xstrdup(time);
	if (at <= now_ms)
		return tnd_xasprintf("%s (due)", time);
	cli_format_age((at - now_ms + 999) / 1000, in);
	return tnd_xasprintf("%s (in %s)", time, in);
}

/* A JSON value on one line: a string as is, anything else compact JSON; caller frees. */
static char *render_inline(const json_t *value)
{
	char *text;

	if (json_is_string(value))
		return tnd_xstrdup(json_string_value(value));
	text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	return text ? text : tnd_xstrdup("?");
}

/* --- tenants ------------------------------------------------------------------------ */

static char *render_labels(const json_t *labels)
{
	struct tnd_buf buf;
	const char *key;
	json_t *value;

	tnd_buf_init(&buf);
	json_object_foreach((json_t *)labels, key, value)
		tnd_buf_addf(&buf, "%s%s=%s", buf.len ? ", " : "", key,
			     json_is_string(value) ? json_string_value(value) : "?");
	return buf.data ? tnd_buf_steal(&buf) : tnd_xstrdup("");
}

static void render_conditions(FILE *out, const json_t *conditions)
{
	const json_t *condition;
	size_t i;

	json_array_foreach(conditions, i, condition) {
		char b[4][CLI_TEXT_BUF];
		const char *status = cli_json_text(condition, "/status", b[0]);
		const char *reason = cli_json_text(condition, "/reason", b[1]);
		const char *message = cli_json_text(condition, "/message", b[2]);
		const char *workflow = cli_json_text(condition, "/workflow", b[3]);

		fputs(i == 0 ? "Conditions:\n  " : "  ", out);
		cli_print_sanitized(out, json_string_value(json_object_get(condition, "type")));
		/* every condition the server writes is "True"; say so only otherwise */
		if (status[0] && strcmp(status, "True") != 0) {
			fputc('=', out);
			cli_print_sanitized(out, status);
		}
		if (reason[0]) {
			fputs(" (", out);
			cli_print_sanitized(out, reason);
			fputc(')', out);
		}
		if (message[0]) {
			fputs(": ", out);
			cli_print_sanitized(out, message);
		}
		if (workflow[0]) {
			fputs(" [workflow ", out);
			cli_print_sanitized(out, workflow);
			fputc(']', out);
		}
		fputc('\n', out);
	}
}

void cli_print_tenant(FILE *out, const json_t *tenant, int64_t now_ms)
{
	char b[12][CLI_TEXT_BUF];
	const char *standby = cli_json_text(tenant, "/spec/placement/standbyRegion", b[0]);
	const char *region = cli_json_text(tenant, "/status/placement/region", b[1]);
	char *labels = render_labels(json_pointer_get(tenant, "/metadata/labels"));
	char *created = render_when(json_string_value(json_pointer_get(tenant, "/metadata/createdAt")), now_ms);
	char *updated = render_when(json_string_value(json_pointer_get(tenant, "/metadata/updatedAt")), now_ms);
	char *region_text = standby[0] ? tnd_xasprintf("%s (standby %s)", region[0] ? region : "-", standby)
				       : tnd_xstrdup(region);
	const char *fields[] = {
		"ID", cli_json_text(tenant, "/metadata/id", b[2]),
		"Display name", cli_json_text(tenant, "/metadata/displayName", b[3]),
		"Phase", cli_json_text(tenant, "/status/phase", b[4]),
		"Desired state", cli_json_text(tenant, "/spec/state", b[5]),
		"Version", cli_json_text(tenant, "/metadata/version", b[6]),
		"Observed version", cli_json_text(tenant, "/status/observedVersion", b[7]),
		"Plan", cli_json_text(tenant, "/spec/plan", b[8]),
		"Isolation", cli_json_text_either(tenant, "/status/placement/isolation", "/spec/isolation", b[9]),
		"Region", region_text,
		"Residency", cli_json_text_either(tenant, "/status/placement/residency", "/spec/placement/residency", b[10]),
		"Labels", labels,
		"Created", created,
		"Updated", updated,
	};

	cli_print_fields(out, fields, TND_ARRAY_SIZE(fields) / 2);
	render_conditions(out, json_pointer_get(tenant, "/status/conditions"));
	free(labels);
	free(created);
	free(updated);
	free(region_text);
}

/* --- workflows ------------------------------------------------------------------------ */

/* Pending, Running and Failed workflows are "at" a step: the one to run (again). */
static bool render_workflow_at_step(const json_t *wf)
{
	const char *state = json_string_value(json_object_get(wf, "state"));

	return tnd_streq(state, "Pending") || tnd_streq(state, "Running") || tnd_streq(state, "Failed");
}

struct cli_table *cli_workflow_table_new(void)
{
	static const char *const headers[] = { "ID", "TENANT", "KIND", "VERSION", "STATE", "STEP", "ATTEMPTS", "AGE" };

	return cli_table_new(TND_ARRAY_SIZE(headers), headers);
}

void cli_workflow_table_add(struct cli_table *table, const json_t *wf, int64_t now_ms)
{
	const json_t *steps = json_object_get(wf, "steps");
	json_int_t done = json_integer_value(json_object_get(wf, "step"));
	const char *op = json_string_value(json_object_get(json_array_get(steps, (size_t)done), "op"));
	char b[6][CLI_TEXT_BUF], age[CLI_AGE_MAX];
	char *step = render_workflow_at_step(wf) && op
			     ? tnd_xasprintf("%" JSON_INTEGER_FORMAT "/%zu:%s", done, json_array_size(steps), op)
			     : tnd_xasprintf("%" JSON_INTEGER_FORMAT "/%zu", done, json_array_size(steps));
	const char *cells[8];

	cli_format_age_since(json_string_value(json_object_get(wf, "createdAt")), now_ms, age);
	cells[0] = cli_json_text(wf, "/id", b[0]);
	cells[1] = cli_json_text(wf, "/tenantId", b[1]);
	cells[2] = cli_json_text(wf, "/kind", b[2]);
	cells[3] = cli_json_text(wf, "/targetVersion", b[3]);
	cells[4] = cli_json_text(wf, "/state", b[4]);
	cells[5] = step;
	cells[6] = cli_json_text(wf, "/attempts", b[5]);
	cells[7] = age;
	cli_table_add_row(table, cells);
	free(step);
}

/* The steps as a table, each line indented by two spaces. */
static void render_steps(FILE *out, const json_t *steps)
{
	static const char *const headers[] = { "STEP", "OP", "STATUS", "ATTEMPTS", "STARTED", "DURATION", "WORKER",
					       "ERROR" };
	struct cli_table *table = cli_table_new(TND_ARRAY_SIZE(headers), headers);
	const json_t *step;
	char *text = NULL;
	size_t i, len = 0;
	FILE *mem;

	json_array_foreach(steps, i, step) {
		char b[6][CLI_TEXT_BUF], number[24], duration[CLI_DURATION_MAX] = "";
		const json_t *ms = json_object_get(step, "durationMs");
		const char *cells[8];

		snprintf(number, sizeof(number), "%zu", i + 1);
		if (json_is_number(ms))
			cli_format_duration(json_number_value(ms), duration);
		cells[0] = number;
		cells[1] = cli_json_text(step, "/op", b[0]);
		cells[2] = cli_json_text(step, "/status", b[1]);
		cells[3] = cli_json_text(step, "/attempts", b[2]);
		cells[4] = cli_json_text(step, "/startedAt", b[3]);
		cells[5] = duration;
		cells[6] = cli_json_text(step, "/worker", b[4]);
		cells[7] = cli_json_text(step, "/error", b[5]);
		cli_table_add_row(table, cells);
	}
	mem = open_memstream(&text, &len);
	if (mem == NULL) {
		cli_table_print(table, out); /* unindented rather than nothing */
	} else {
		cli_table_print(table, mem);
		fclose(mem);
		for (char *line = text, *end; line && *line; line = end + 1) {
			end = strchr(line, '\n');
			fprintf(out, "  %.*s\n", end ? (int)(end - line) : (int)strlen(line), line);
			if (end == NULL)
				break;
		}
	}
	free(text);
	cli_table_free(table);
}

void cli_print_workflow(FILE *out, const json_t *wf, int64_t now_ms)
{
	const json_t *steps = json_object_get(wf, "steps");
	const json_t *running = json_object_get(wf, "running");
	const json_t *drift = json_object_get(wf, "drift");
	const json_t *error = json_object_get(wf, "error");
	json_int_t done = json_integer_value(json_object_get(wf, "step"));
	char b[12][CLI_TEXT_BUF];
	char *target = tnd_xasprintf("version %s, %s", cli_json_text(wf, "/targetVersion", b[0]),
				     cli_json_text(wf, "/targetState", b[1]));
	char *progress = tnd_xasprintf("%" JSON_INTEGER_FORMAT " of %zu step(s) done", done, json_array_size(steps));
	char *next = render_when_next(json_string_value(json_object_get(wf, "nextAttemptAt")), now_ms);
	char *created = render_when(json_string_value(json_object_get(wf, "createdAt")), now_ms);
	char *updated = render_when(json_string_value(json_object_get(wf, "updatedAt")), now_ms);
	char *error_text = error && !json_is_null(error) ? render_inline(error) : tnd_xstrdup("");
	const char *fields[] = {
		"ID", cli_json_text(wf, "/id", b[2]),
		"Tenant", cli_json_text(wf, "/tenantId", b[3]),
		"Kind", cli_json_text(wf, "/kind", b[4]),
		"Target", target,
		"State", cli_json_text(wf, "/state", b[5]),
		"Progress", progress,
		"Attempts", cli_json_text(wf, "/attempts", b[6]),
		"Next attempt", next,
		"Plugin", cli_json_text(wf, "/plugin", b[7]),
		"Region", cli_json_text(wf, "/region", b[8]),
		"Request ID", cli_json_text(wf, "/requestId", b[9]),
		"Retried by", cli_json_text(wf, "/retriedBy", b[10]),
		"Created", created,
		"Updated", updated,
		"Error", error_text,
	};
	size_t n = 0, i;
	const char *shown[TND_ARRAY_SIZE(fields)];
	const json_t *item;

	/* optional fields only when they say something */
	for (i = 0; i < TND_ARRAY_SIZE(fields); i += 2) {
		bool optional = strcmp(fields[i], "Next attempt") == 0 || strcmp(fields[i], "Retried by") == 0 ||
				strcmp(fields[i], "Error") == 0;
		if (optional && (fields[i + 1] == NULL || fields[i + 1][0] == '\0'))
			continue;
		shown[n++] = fields[i];
		shown[n++] = fields[i + 1];
	}
	cli_print_fields(out, shown, n / 2);
	if (json_array_size(steps) > 0) {
		fputs("Steps:\n", out);
		render_steps(out, steps);
	}
	if (json_array_size(drift) > 0) {
		fputs("Drift:\n", out);
		json_array_foreach(drift, i, item) {
			char *text = render_inline(item);
			fputs("  - ", out);
			cli_print_sanitized(out, text);
			fputc('\n', out);
			free(text);
		}
	}
	if (json_is_object(running)) {
		json_int_t index = json_integer_value(json_object_get(running, "step"));
		char *since = render_when(json_string_value(json_object_get(running, "since")), now_ms);
		fprintf(out, "Running: step %" JSON_INTEGER_FORMAT " (", index + 1);
		cli_print_sanitized(out, cli_json_text(running, "/op", b[11]));
		fputs(") since ", out);
		cli_print_sanitized(out, since[0] ? since : "-");
		fputc('\n', out);
		free(since);
	}
	free(target);
	free(progress);
	free(next);
	free(created);
	free(updated);
	free(error_text);
}
