/*
 * cli_output.c — tables, ages, summaries, JSON and error rendering for
 * tenancyctl (see cli_output.h).
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli_output.h"
#include "util.h"

/* --- sanitizing ------------------------------------------------------------------ */

static bool output_is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* A copy of @text with control characters replaced, so a server can never
 * move the cursor or break a table row. */
static char *output_sanitized_copy(const char *text)
{
	char *copy = tnd_xstrdup(text ? text : "");

	for (char *p = copy; *p; p++)
		if (output_is_control((unsigned char)*p))
			*p = '?';
	return copy;
}

void cli_print_sanitized(FILE *out, const char *text)
{
	for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++)
		fputc(output_is_control(*p) ? '?' : *p, out);
}

size_t cli_text_width(const char *s)
{
	size_t width = 0;

	/* count every byte that does not continue a UTF-8 sequence */
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p & 0xc0) != 0x80)
			width++;
	return width;
}

/* --- tables ----------------------------------------------------------------------- */

struct cli_table {
	size_t n_columns;
	char **headers;
	char ***rows;
	size_t n_rows;
	size_t cap_rows;
};

struct cli_table *cli_table_new(size_t n_columns, const char *const *headers)
{
	struct cli_table *table = tnd_xcalloc(1, sizeof(*table));

	table->n_columns = n_columns;
	table->headers = tnd_xcalloc(n_columns, sizeof(char *));
	for (size_t i = 0; i < n_columns; i++)
		table->headers[i] = output_sanitized_copy(headers[i]);
	return table;
}

void cli_table_add_row(struct cli_table *table, const char *const *cells)
{
	char **row = tnd_xcalloc(table->n_columns, sizeof(char *));

	for (size_t i = 0; i < table->n_columns; i++)
		row[i] = output_sanitized_copy(cells[i] && cells[i][0] ? cells[i] : "-");
	if (table->n_rows == table->cap_rows) {
		table->cap_rows = table->cap_rows ? table->cap_rows * 2 : 16;
		table->rows = tnd_xrealloc(table->rows, table->cap_rows * sizeof(*table->rows));
	}
	table->rows[table->n_rows++] = row;
}

size_t cli_table_rows(const struct cli_table *table)
{
	return table->n_rows;
}

static void output_table_row(char *const *cells, const size_t *widths, size_t n, FILE *out)
{
	for (size_t i = 0; i < n; i++) {
		fputs(cells[i], out);
		if (i + 1 < n)
			fprintf(out, "%*s", (int)(widths[i] - cli_text_width(cells[i]) + CLI_TABLE_GAP), "");
	}
	fputc('\n', out);
}

void cli_table_print(const struct cli_table *table, FILE *out)
{
	size_t *widths = tnd_xcalloc(table->n_columns, sizeof(size_t));

	for (size_t c = 0; c < table->n_columns; c++) {
		widths[c] = cli_text_width(table->headers[c]);
		for (size_t r = 0; r < table->n_rows; r++) {
			size_t w = cli_text_width(table->rows[r][c]);
			if (w > widths[c])
				widths[c] = w;
		}
	}
	output_table_row(table->headers, widths, table->n_columns, out);
	for (size_t r = 0; r < table->n_rows; r++)
		output_table_row(table->rows[r], widths, table->n_columns, out);
	free(widths);
}

void cli_table_free(struct cli_table *table)
{
	if (table == NULL)
		return;
	for (size_t c = 0; c < table->n_columns; c++)
		free(table->headers[c]);
	free(table->headers);
	for (size_t r = 0; r < table->n_rows; r++) {
		for (size_t c = 0; c < table->n_columns; c++)
			free(table->rows[r][c]);
		free(table->rows[r]);
	}
	free(table->rows);
	free(table);
}

/* --- times and ages ---------------------------------------------------------------- */

/*
 * The same thresholds as kubectl (k8s.io/apimachinery duration.HumanDuration),
 * so operators read ages the way they already do: two units while the
 * second one still matters, one unit after that.
 */
void cli_format_age(int64_t seconds, char out[CLI_AGE_MAX])
{
	int64_t minutes = seconds / 60, hours = seconds / 3600, days = hours / 24;

	if (seconds < -1)
		snprintf(out, CLI_AGE_MAX, "<invalid>");
	else if (seconds < 0)
		snprintf(out, CLI_AGE_MAX, "0s");
	else if (seconds < 60 * 2)
		snprintf(out, CLI_AGE_MAX, "%llds", (long long)seconds);
	else if (minutes < 10 && seconds % 60 != 0)
		snprintf(out, CLI_AGE_MAX, "%lldm%llds", (long long)minutes, (long long)(seconds % 60));
	else if (minutes < 60 * 3)
		snprintf(out, CLI_AGE_MAX, "%lldm", (long long)minutes);
	else if (hours < 8 && minutes % 60 != 0)
		snprintf(out, CLI_AGE_MAX, "%lldh%lldm", (long long)hours, (long long)(minutes % 60));
	else if (hours < 48)
		snprintf(out, CLI_AGE_MAX, "%lldh", (long long)hours);
	else if (hours < 24 * 8 && hours % 24 != 0)
		snprintf(out, CLI_AGE_MAX, "%lldd%lldh", (long long)days, (long long)(hours % 24));
	else if (hours < 24 * 365 * 2)
		snprintf(out, CLI_AGE_MAX, "%lldd", (long long)days);
	else if (hours < 24 * 365 * 8 && days % 365 != 0)
		snprintf(out, CLI_AGE_MAX, "%lldy%lldd", (long long)(days / 365), (long long)(days % 365));
	else
		snprintf(out, CLI_AGE_MAX, "%lldy", (long long)(days / 365));
}

static bool output_digits(const char *s, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

int cli_parse_time(const char *text, int64_t *ret_ms)
{
	struct tm tm = { 0 };
	int year, month, day, hour, minute, second, ms = 0;
	const char *p;
	time_t t;

	if (text == NULL || strlen(text) < 20)
		return -EINVAL;
	if (!output_digits(text, 4, &year) || text[4] != '-' || !output_digits(text + 5, 2, &month) || text[7] != '-' ||
	    !output_digits(text + 8, 2, &day) || (text[10] != 'T' && text[10] != 't') ||
	    !output_digits(text + 11, 2, &hour) || text[13] != ':' || !output_digits(text + 14, 2, &minute) ||
	    text[16] != ':' || !output_digits(text + 17, 2, &second))
		return -EINVAL;
	p = text + 19;
	if (*p == '.') {
		int scale = 100;
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ms += (*p - '0') * scale;
	}
	if (!(strcmp(p, "Z") == 0 || strcmp(p, "z") == 0 || strcmp(p, "+00:00") == 0))
		return -EINVAL;
	if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = minute;
	tm.tm_sec = second;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret_ms = (int64_t)t * 1000 + ms;
	return 0;
}

void cli_format_age_since(const char *rfc3339, int64_t now_ms, char out[CLI_AGE_MAX])
{
	int64_t then;

	if (cli_parse_time(rfc3339, &then) < 0) {
		snprintf(out, CLI_AGE_MAX, "-");
		return;
	}
	/* floor division: a time 0.5 s in the future is -1 s, which still reads "0s" */
	cli_format_age((now_ms - then) >= 0 ? (now_ms - then) / 1000 : -((then - now_ms + 999) / 1000), out);
}

/* --- JSON and summaries ---------------------------------------------------------------- */

void cli_print_json(FILE *out, const json_t *value)
{
	json_dumpf(value, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	fputc('\n', out);
}

void cli_print_fields(FILE *out, const char *const *pairs, size_t n)
{
	size_t width = 0;

	for (size_t i = 0; i < n; i++) {
		size_t w = cli_text_width(pairs[2 * i]) + 1;
		if (w > width)
			width = w;
	}
	for (size_t i = 0; i < n; i++) {
		const char *value = pairs[2 * i + 1];
		fprintf(out, "%s:%*s", pairs[2 * i], (int)(width - cli_text_width(pairs[2 * i]) + 1), "");
		cli_print_sanitized(out, value && value[0] ? value : "-");
		fputc('\n', out);
	}
}

/* --- errors ------------------------------------------------------------------------------ */

const char *cli_http_reason(long status)
{
	static const struct {
		long status;
		const char *reason;
	} reasons[] = {
		{ 200, "OK" }, { 201, "Created" }, { 204, "No Content" }, { 304, "Not Modified" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 406, "Not Acceptable" }, { 408, "Request Timeout" },
		{ 409, "Conflict" }, { 410, "Gone" }, { 411, "Length Required" }, { 412, "Precondition Failed" },
		{ 413, "Content Too Large" }, { 414, "URI Too Long" }, { 415, "Unsupported Media Type" },
		{ 422, "Unprocessable Content" }, { 429, "Too Many Requests" }, { 500, "Internal Server Error" },
		{ 501, "Not Implemented" }, { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
	};

	for (size_t i = 0; i < TND_ARRAY_SIZE(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "";
}

static void output_error_head(FILE *out, const char *context, long status)
{
	fputs("error: ", out);
	if (context) {
		cli_print_sanitized(out, context);
		fputs(": ", out);
	}
	fprintf(out, "%ld", status);
}

static bool output_is_problem(const struct cli_error_response *resp, const json_t *body)
{
	if (!json_is_object(body))
		return false;
	if (resp->content_type && strncasecmp(resp->content_type, "application/problem+json", 24) == 0)
		return true;
	/* a proxy may rewrite the type; the members still say what it is */
	return json_is_string(json_object_get(body, "title")) && json_is_integer(json_object_get(body, "status"));
}

static void output_problem(FILE *out, const char *context, const struct cli_error_response *resp,
			   const json_t *problem)
{
	const char *title = json_string_value(json_object_get(problem, "title"));
	const char *detail = json_string_value(json_object_get(problem, "detail"));
	const char *request_id = json_string_value(json_object_get(problem, "requestId"));
	const json_t *errors = json_object_get(problem, "errors");
	const json_t *item;
	size_t i;

	if (title == NULL || title[0] == '\0')
		title = cli_http_reason(resp->status);
	output_error_head(out, context, resp->status);
	if (title[0]) {
		fputc(' ', out);
		cli_print_sanitized(out, title);
	}
	if (detail && detail[0] && strcmp(detail, title) != 0) {
		fputs(": ", out);
		cli_print_sanitized(out, detail);
	}
	fputc('\n', out);
	json_array_foreach(errors, i, item) {
		const char *path = json_string_value(json_object_get(item, "path"));
		const char *reason = json_string_value(json_object_get(item, "reason"));

		fputs("  ", out);
		if (path && path[0]) {
			cli_print_sanitized(out, path);
			fputs(": ", out);
		}
		cli_print_sanitized(out, reason ? reason : "(no reason given)");
		fputc('\n', out);
	}
	if (request_id == NULL)
		request_id = resp->request_id;
	if (request_id) {
		fputs("  (request id ", out);
		cli_print_sanitized(out, request_id);
		fputs(")\n", out);
	}
}

/* One line of an unexpected body: whitespace folded, cut on a character boundary. */
static void output_raw_body(FILE *out, const char *body, size_t len)
{
	size_t cut = len > CLI_ERROR_BODY_MAX ? CLI_ERROR_BODY_MAX : len;

	while (cut < len && cut > 0 && ((unsigned char)body[cut] & 0xc0) == 0x80)
		cut--;
	fputs("  ", out);
	for (size_t i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)body[i];
		fputc(c == '\n' || c == '\r' || c == '\t' ? ' ' : output_is_control(c) ? '?' : c, out);
	}
	if (cut < len)
		fprintf(out, "... (%zu more bytes)", len - cut);
	fputc('\n', out);
}

void cli_print_error_response(FILE *out, const char *context, const struct cli_error_response *resp)
{
	json_t *body = NULL;
	const char *reason = cli_http_reason(resp->status);
	size_t content = 0;

	if (resp->body && resp->body_len)
		body = json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY, NULL);
	if (output_is_problem(resp, body)) {
		output_problem(out, context, resp, body);
		json_decref(body);
		return;
	}
	json_decref(body);
	output_error_head(out, context, resp->status);
	if (reason[0])
		fprintf(out, " %s", reason);
	fputc('\n', out);
	for (size_t i = 0; resp->body && i < resp->body_len; i++)
		if (resp->body[i] != ' ' && resp->body[i] != '\n' && resp->body[i] != '\r' && resp->body[i] != '\t')
			content++;
	if (content > 0)
		output_raw_body(out, resp->body, resp->body_len);
	if (resp->request_id) {
		fputs("  (request id ", out);
		cli_print_sanitized(out, resp->request_id);
		fputs(")\n", out);
	}
}
