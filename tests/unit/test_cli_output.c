/*
 * test_cli_output.c — tenancyctl's pure parts: table alignment, ages and
 * times, error (problem+json) rendering, config file parsing and endpoint
 * resolution, and cutting apply input into documents.
 */
#include "autoconfig.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cli_apply.h"
#include "cli_config.h"
#include "cli_output.h"
#include "testutil.h"
#include "util.h"

/* --- rendering into memory ----------------------------------------------------------- */

struct capture {
	FILE *fp;
	char *text;
	size_t len;
};

static FILE *capture_open(struct capture *c)
{
	c->text = NULL;
	c->len = 0;
	c->fp = open_memstream(&c->text, &c->len);
	assert_non_null(c->fp);
	return c->fp;
}

/* Close the stream; the text stays until capture_free(). */
static const char *capture_close(struct capture *c)
{
	fclose(c->fp);
	c->fp = NULL;
	return c->text;
}

static void capture_free(struct capture *c)
{
	free(c->text);
	c->text = NULL;
}

/* --- tables -------------------------------------------------------------------------- */

static void test_table_alignment(void **state)
{
	static const char *const headers[] = { "ID", "PHASE", "REGION" };
	static const char *const row1[] = { "acme-corp", "Active", "eu-west-1" };
	static const char *const row2[] = { "zürich-ag", "", "ap-southeast-1" };
	static const char *const row3[] = { "x", "Suspended", NULL };
	struct cli_table *table = cli_table_new(3, headers);
	struct capture c;

	(void)state;
	cli_table_add_row(table, row1);
	cli_table_add_row(table, row2);
	cli_table_add_row(table, row3);
	assert_int_equal(cli_table_rows(table), 3);
	cli_table_print(table, capture_open(&c));
	/* widths count characters ("zürich-ag" is 9 wide, 10 bytes); empty cells show "-";
	 * the last column is never padded, so no line ends in a space */
	assert_string_equal(capture_close(&c),
			    "ID          PHASE       REGION\n"
			    "acme-corp   Active      eu-west-1\n"
			    "zürich-ag   -           ap-southeast-1\n"
			    "x           Suspended   -\n");
	capture_free(&c);
	cli_table_free(table);
}

static void test_table_header_only_and_control_characters(void **state)
{
	static const char *const headers[] = { "NAME", "NOTE" };
	static const char *const row[] = { "a\tb", "bell\a\x1b[31m" };
	struct cli_table *table = cli_table_new(2, headers);
	struct capture c;

	(void)state;
	cli_table_print(table, capture_open(&c));
	assert_string_equal(capture_close(&c), "NAME   NOTE\n");
	capture_free(&c);

	/* a server cannot break the alignment or send terminal escapes */
	cli_table_add_row(table, row);
	cli_table_print(table, capture_open(&c));
	assert_string_equal(capture_close(&c), "NAME   NOTE\na?b    bell??[31m\n");
	capture_free(&c);
	cli_table_free(table);
	cli_table_free(NULL);
}

static void test_fields_alignment(void **state)
{
	const char *pairs[] = { "ID", "acme", "Display name", "Acme Corp", "Labels", "" };
	struct capture c;

	(void)state;
	cli_print_fields(capture_open(&c), pairs, 3);
	assert_string_equal(capture_close(&c),
			    "ID:            acme\n"
			    "Display name:  Acme Corp\n"
			    "Labels:        -\n");
	capture_free(&c);
}

/* --- ages and times ------------------------------------------------------------------- */

static void test_age_like_kubectl(void **state)
{
	static const struct {
		int64_t seconds;
		const char *age;
	} cases[] = {
		{ -5, "<invalid>" }, { -2, "<invalid>" }, { -1, "0s" }, { 0, "0s" }, { 45, "45s" },
		{ 119, "119s" }, { 120, "2m" }, { 180, "3m" }, { 200, "3m20s" }, { 599, "9m59s" },
		{ 600, "10m" }, { 630, "10m" }, { 10799, "179m" }, { 10800, "3h" }, { 18000, "5h" },
		{ 18600, "5h10m" }, { 28800, "8h" }, { 29400, "8h" }, { 47 * 3600, "47h" }, { 48 * 3600, "2d" },
		{ 53 * 3600, "2d5h" }, { 8 * 86400, "8d" }, { 8 * 86400 + 3600, "8d" }, { 400 * 86400LL, "400d" },
		{ 730 * 86400LL, "2y" }, { 770 * 86400LL, "2y40d" }, { 2920 * 86400LL, "8y" },
		{ 3700 * 86400LL, "10y" },
	};
	char age[CLI_AGE_MAX];

	(void)state;
	for (size_t i = 0; i < TND_ARRAY_SIZE(cases); i++) {
		cli_format_age(cases[i].seconds, age);
		if (strcmp(age, cases[i].age) != 0)
			fail_msg("%lld s: expected %s, got %s", (long long)cases[i].seconds, cases[i].age, age);
	}
}

static void test_parse_time(void **state)
{
	static const char *const bad[] = {
		"", "yesterday", "2026-11-28 10:00:00Z", "2026-13-01T00:00:00Z", "2026-11-28T10:00:00+02:00",
		"2026-11-28T10:00:00", "2026-11-28T10:00:00.Z", "2026-11-28T25:00:00Z", "2026-11-28T10:00:00Zjunk",
	};
	int64_t ms = -1;

	(void)state;
	assert_int_equal(cli_parse_time("2000-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 946684800000LL);
	assert_int_equal(cli_parse_time("1970-01-01T00:00:01.5Z", &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(cli_parse_time("2026-11-28T10:21:07.123Z", &ms), 0);
	assert_int_equal(ms % 1000, 123);
	for (size_t i = 0; i < TND_ARRAY_SIZE(bad); i++) {
		ms = 42;
		if (cli_parse_time(bad[i], &ms) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(ms, 42);
	}
	assert_int_equal(cli_parse_time(NULL, &ms), -EINVAL);
}

static void test_age_since(void **state)
{
	int64_t now;
	char age[CLI_AGE_MAX];

	(void)state;
	assert_int_equal(cli_parse_time("2026-11-28T10:05:00Z", &now), 0);
	cli_format_age_since("2026-11-28T10:00:00.000Z", now, age);
	assert_string_equal(age, "5m");
	cli_format_age_since("2026-11-26T05:00:00.000Z", now, age);
	assert_string_equal(age, "2d5h");
	/* a server clock half a second ahead is "now", not an error */
	cli_format_age_since("2026-11-28T10:05:00.500Z", now, age);
	assert_string_equal(age, "0s");
	cli_format_age_since("2026-11-28T10:05:03Z", now, age);
	assert_string_equal(age, "<invalid>");
	cli_format_age_since(NULL, now, age);
	assert_string_equal(age, "-");
	cli_format_age_since("garbage", now, age);
	assert_string_equal(age, "-");
}

/* --- error rendering ------------------------------------------------------------------- */

static char *render_error(const char *context, long status, const char *content_type, const char *body,
			  const char *request_id)
{
	struct cli_error_response resp = { status, content_type, body, body ? strlen(body) : 0, request_id };
	struct capture c;

	cli_print_error_response(capture_open(&c), context, &resp);
	capture_close(&c);
	return c.text;
}

static void test_problem_with_errors(void **state)
{
	const char *body =
		"{\"type\":\"urn:tenancyd:problem:validation-failed\",\"title\":\"Manifest invalid\",\"status\":422,"
		"\"detail\":\"the manifest has 2 problem(s)\",\"errors\":["
		"{\"path\":\"spec.placement.allowedRegions[2]\",\"reason\":\"unknown region mars-1\"},"
		"{\"path\":\"metadata.labels.tier\",\"reason\":\"label value must match [A-Za-z0-9._-]{1,63}\"},"
		"{\"path\":\"\",\"reason\":\"line 3: duplicate key 'spec'\"}],"
		"\"requestId\":\"6f1c-42\"}";
	char *text;

	(void)state;
	text = render_error(NULL, 422, "application/problem+json", body, "header-id");
	/* the body's requestId is the one the server logged; it wins over the header */
	assert_string_equal(text, "error: 422 Manifest invalid: the manifest has 2 problem(s)\n"
				  "  spec.placement.allowedRegions[2]: unknown region mars-1\n"
				  "  metadata.labels.tier: label value must match [A-Za-z0-9._-]{1,63}\n"
				  "  line 3: duplicate key 'spec'\n"
				  "  (request id 6f1c-42)\n");
	free(text);
}

static void test_problem_context_and_header_request_id(void **state)
{
	const char *body = "{\"type\":\"urn:tenancyd:problem:invalid-transition\",\"title\":\"Lifecycle transition "
			   "not allowed\",\"status\":409,\"detail\":\"tenant initech: cannot go from Draft to Suspended\"}";
	char *text;

	(void)state;
	text = render_error("tenant/initech (a.yaml:3, document 1)", 409, "application/problem+json; charset=utf-8",
			    body, "req-7");
	assert_string_equal(text, "error: tenant/initech (a.yaml:3, document 1): 409 Lifecycle transition not allowed: "
				  "tenant initech: cannot go from Draft to Suspended\n"
				  "  (request id req-7)\n");
	free(text);

	/* no title: the reason phrase; a proxy's wrong content type does not hide a problem */
	text = render_error(NULL, 404, "application/json", "{\"status\":404,\"title\":\"\",\"detail\":\"gone\"}", NULL);
	assert_string_equal(text, "error: 404 Not Found: gone\n");
	free(text);
}

static void test_problem_sanitized(void **state)
{
	const char *body = "{\"title\":\"Bad\\u001b[2J\",\"status\":400,\"detail\":\"multi\\nline\","
			   "\"errors\":[{\"path\":\"a\\u0007\",\"reason\":\"r\"}]}";
	char *text;

	(void)state;
	text = render_error(NULL, 400, "application/problem+json", body, NULL);
	assert_string_equal(text, "error: 400 Bad?[2J: multi?line\n  a?: r\n");
	free(text);
}

static void test_non_problem_bodies(void **state)
{
	char *long_body = tnd_xmalloc(1001), *text, *expected;

	(void)state;
	text = render_error(NULL, 502, "text/html", "<html>\n<body>Bad gateway</body>\n</html>\n", NULL);
	assert_string_equal(text, "error: 502 Bad Gateway\n  <html> <body>Bad gateway</body> </html> \n");
	free(text);

	memset(long_body, 'x', 1000);
	long_body[1000] = '\0';
	text = render_error(NULL, 500, "text/plain", long_body, "r1");
	expected = tnd_xasprintf("error: 500 Internal Server Error\n  %.*s... (700 more bytes)\n  (request id r1)\n",
				 CLI_ERROR_BODY_MAX, long_body);
	assert_string_equal(text, expected);
	free(text);
	free(expected);

	/* the cut never splits a UTF-8 character: 299 bytes, then "ü" straddling byte 300 */
	memset(long_body, 'a', 299);
	memcpy(long_body + 299, "\xc3\xbc", 2);
	memset(long_body + 301, 'b', 99);
	long_body[400] = '\0';
	text = render_error(NULL, 503, NULL, long_body, NULL);
	expected = tnd_xasprintf("error: 503 Service Unavailable\n  %.*s... (101 more bytes)\n", 299, long_body);
	assert_string_equal(text, expected);
	free(text);
	free(expected);

	text = render_error(NULL, 500, NULL, "", "r2");
	assert_string_equal(text, "error: 500 Internal Server Error\n  (request id r2)\n");
	free(text);
	text = render_error("ctx", 418, "application/json", "{\"not\":\"a problem\"}", NULL);
	assert_string_equal(text, "error: ctx: 418\n  {\"not\":\"a problem\"}\n");
	free(text);
	free(long_body);
}

/* --- config file ---------------------------------------------------------------------------- */

static void test_config_parse(void **state)
{
	struct cli_config_file cfg = { NULL, 0, NULL, 0 };
	struct tnd_error err = { "" };

	(void)state;
	assert_int_equal(cli_config_parse("# tenancyctl config\n"
					  "url = https://tenancy.example.com:8470/\n"
					  "\n"
					  "  token-file = \"tokens/admin.token\"  \n"
					  "   # indented comment\n",
					  "/etc/tc/config", "/home/op", &cfg, &err), 0);
	assert_string_equal(cfg.url, "https://tenancy.example.com:8470/");
	assert_int_equal(cfg.url_line, 2);
	/* a relative token-file is next to the config file */
	assert_string_equal(cfg.token_file, "/etc/tc/tokens/admin.token");
	assert_int_equal(cfg.token_file_line, 4);
	cli_config_file_clear(&cfg);

	assert_int_equal(cli_config_parse("token-file=~/.tenancy/token", "/etc/tc/config", "/home/op", &cfg, &err), 0);
	assert_string_equal(cfg.token_file, "/home/op/.tenancy/token");
	assert_null(cfg.url);
	cli_config_file_clear(&cfg);

	assert_int_equal(cli_config_parse("", "/c", NULL, &cfg, &err), 0);
	assert_null(cfg.url);
	assert_null(cfg.token_file);
	cli_config_file_clear(NULL);
}

static void test_config_parse_errors(void **state)
{
	static const struct {
		const char *text;
		const char *message;
	} cases[] = {
		{ "url http://x\n", "/c:1: expected 'key = value'" },
		{ "# c\ncolour = blue\n", "/c:2: unknown key 'colour' (known: url, token-file)" },
		{ "url = http://a\n\nurl = http://b\n", "/c:3: url given twice (first on line 1)" },
		{ "token-file = a\ntoken-file = b\n", "/c:2: token-file given twice (first on line 1)" },
		{ "url =\n", "/c:1: url has an empty value" },
	};
	struct cli_config_file cfg = { NULL, 0, NULL, 0 };
	struct tnd_error err = { "" };

	(void)state;
	for (size_t i = 0; i < TND_ARRAY_SIZE(cases); i++) {
		assert_int_equal(cli_config_parse(cases[i].text, "/c", "/h", &cfg, &err), -EINVAL);
		assert_string_equal(err.message, cases[i].message);
		assert_null(cfg.url);
	}
	/* a secret inline is refused, and the message does not repeat it */
	assert_int_equal(cli_config_parse("token = s3cr3t-value\n", "/c", "/h", &cfg, &err), -EINVAL);
	assert_non_null(strstr(err.message, "/c:1: tokens are not written in the config file"));
	assert_null(strstr(err.message, "s3cr3t"));
}

/* A scratch directory with a config file and three token files. */
struct resolve_fixture {
	char *dir;
	char *config;
	char *flag_token_file;
	char *env_token_file;
	char *config_token_file;
};

static int resolve_setup(void **state)
{
	struct resolve_fixture *f = tnd_xcalloc(1, sizeof(*f));
	char *text;

	f->dir = testutil_mkdtemp("cli-config");
	f->flag_token_file = testutil_write_file(f->dir, "flag.token", "token-from-flag-file\n", 0600);
	f->env_token_file = testutil_write_file(f->dir, "env.token", "  token-from-env-file  \n# note\n", 0600);
	f->config_token_file = testutil_write_file(f->dir, "config.token", "token-from-config-file", 0400);
	text = tnd_xasprintf("url = http://config.example:8470\ntoken-file = config.token\n");
	f->config = testutil_write_file(f->dir, "config", text, 0644);
	free(text);
	*state = f;
	return 0;
}

static int resolve_teardown(void **state)
{
	struct resolve_fixture *f = *state;

	testutil_rmrf(f->dir);
	free(f->dir);
	free(f->config);
	free(f->flag_token_file);
	free(f->env_token_file);
	free(f->config_token_file);
	free(f);
	return 0;
}

static void expect_endpoint(const struct cli_sources *src, const char *url, const char *url_source, const char *token,
			    const char *token_source)
{
	struct cli_endpoint ep = { NULL, NULL, NULL, NULL };
	struct tnd_error err = { "" };
	int r = cli_endpoint_resolve(src, &ep, &err);

	if (r != 0)
		fail_msg("resolve failed: %s", err.message);
	assert_string_equal(ep.url, url);
	assert_string_equal(ep.url_source, url_source);
	if (token) {
		assert_non_null(ep.token);
		assert_string_equal(ep.token, token);
		assert_string_equal(ep.token_source, token_source);
	} else {
		assert_null(ep.token);
		assert_null(ep.token_source);
	}
	cli_endpoint_clear(&ep);
}

static void test_resolve_precedence(void **state)
{
	struct resolve_fixture *f = *state;
	char *config_url_source = tnd_xasprintf("%s:1", f->config);
	char *config_token_source = tnd_xasprintf("%s:2", f->config);
	struct cli_sources src = {
		.flag_url = "http://flag.example:1/",
		.flag_token = "token-from-flag",
		.env_url = "http://env.example:2",
		.env_token = "token-from-env",
		.env_token_file = f->env_token_file,
		.config_path = f->config,
		.home = f->dir,
	};

	(void)state;
	/* flags first (the trailing '/' of a URL is dropped) */
	expect_endpoint(&src, "http://flag.example:1", "--url", "token-from-flag", "--token");
	src.flag_token = NULL;
	src.flag_token_file = f->flag_token_file;
	expect_endpoint(&src, "http://flag.example:1", "--url", "token-from-flag-file", "--token-file");
	/* then the environment: TENANCYD_TOKEN before TENANCYD_TOKEN_FILE */
	src.flag_url = NULL;
	src.flag_token_file = NULL;
	expect_endpoint(&src, "http://env.example:2", "TENANCYD_URL", "token-from-env", "TENANCYD_TOKEN");
	src.env_token = "";
	expect_endpoint(&src, "http://env.example:2", "TENANCYD_URL", "token-from-env-file", "TENANCYD_TOKEN_FILE");
	/* then the config file, with the line that said it */
	src.env_url = NULL;
	src.env_token_file = NULL;
	expect_endpoint(&src, "http://config.example:8470", config_url_source, "token-from-config-file",
			config_token_source);
	/* and the default URL, without a token */
	src.config_path = NULL;
	expect_endpoint(&src, CLI_DEFAULT_URL, "default", NULL, NULL);
	/* a missing default config file is no error; a named one is */
	src.config_path = "/nonexistent/tenancyctl/config";
	expect_endpoint(&src, CLI_DEFAULT_URL, "default", NULL, NULL);
	{
		struct cli_endpoint ep = { NULL, NULL, NULL, NULL };
		struct tnd_error err = { "" };

		src.config_path_explicit = true;
		assert_int_equal(cli_endpoint_resolve(&src, &ep, &err), -ENOENT);
		assert_non_null(strstr(err.message, "/nonexistent/tenancyctl/config"));
		assert_null(ep.url);
	}
	free(config_url_source);
	free(config_token_source);
}

static void test_resolve_refusals(void **state)
{
	struct resolve_fixture *f = *state;
	char *open_file = testutil_write_file(f->dir, "open.token", "do-not-show-me\n", 0644);
	char *empty_file = testutil_write_file(f->dir, "empty.token", "\n", 0600);
	struct cli_sources src = { .flag_token_file = open_file };
	struct cli_endpoint ep = { NULL, NULL, NULL, NULL };
	struct tnd_error err = { "" };
	char *token = NULL;

	(void)state;
	/* like ssh: a token file others can read is not used */
	assert_int_equal(cli_endpoint_resolve(&src, &ep, &err), -EPERM);
	assert_non_null(strstr(err.message, "--token-file: refusing token file"));
	assert_non_null(strstr(err.message, "chmod 600"));
	assert_null(strstr(err.message, "do-not-show-me"));
	assert_null(ep.url);

	assert_int_equal(cli_token_file_read(empty_file, &token, &err), -EINVAL);
	assert_null(token);
	src.flag_token_file = NULL;
	src.env_token = "has space";
	assert_int_equal(cli_endpoint_resolve(&src, &ep, &err), -EINVAL);
	assert_null(strstr(err.message, "has space"));
	src.env_token = NULL;
	src.flag_url = "ftp://example";
	assert_int_equal(cli_endpoint_resolve(&src, &ep, &err), -EINVAL);
	assert_string_equal(err.message, "--url: the URL must start with http:// or https://");
	src.flag_url = "http://";
	assert_int_equal(cli_endpoint_resolve(&src, &ep, &err), -EINVAL);
	src.flag_url = "http://a b";
	assert_int_equal(cli_endpoint_resolve(&src, &ep, &err), -EINVAL);

	/* a broken config file is reported even when flags say everything */
	src.flag_url = "http://ok:1";
	src.config_path = testutil_write_file(f->dir, "bad-config", "colour = blue\n", 0644);
	assert_int_equal(cli_endpoint_resolve(&src, &ep, &err), -EINVAL);
	assert_non_null(strstr(err.message, "unknown key 'colour'"));
	free((char *)src.config_path);
	free(open_file);
	free(empty_file);
}

/* --- apply input -------------------------------------------------------------------------------- */

static const char stream_doc1[] =
	"# leading comment: Zürich ü\n"
	"apiVersion: tenancy/v1\n"
	"kind: Tenant\n"
	"metadata:\n"
	"  id: first-one\n"
	"spec: {plan: free}\n";
static const char stream_doc2[] =
	"---\n"
	"# second: explicit start and end, ümlauts\n"
	"metadata:\n"
	"  labels: {id: decoy}\n"
	"  id: \"second-one\"\n"
	"spec:\n"
	"  plan: business\n"
	"...";
static const char stream_doc3[] =
	"--- # third\n"
	"metadata:\n"
	"  displayName: \"Zürich AG\"\n"
	"  id: third-one\n"
	"spec: {plan: free, id: nope}\n";

static void expect_document(const struct cli_document *doc, const char *source, unsigned number, size_t line,
			    const char *text, const char *id)
{
	assert_string_equal(doc->source, source);
	assert_int_equal(doc->number, number);
	assert_int_equal(doc->line, line);
	assert_int_equal(doc->len, strlen(text));
	assert_string_equal(doc->text, text);
	if (id)
		assert_string_equal(doc->id, id);
	else
		assert_null(doc->id);
}

static void test_split_yaml_stream(void **state)
{
	char *stream = tnd_xasprintf("%s%s # end of second\n%s---\n# a document of comments only\n", stream_doc1,
				     stream_doc2, stream_doc3);
	struct cli_document_list list = { NULL, 0 };
	struct tnd_error err = { "" };
	size_t body_len;
	char *body;

	(void)state;
	assert_int_equal(cli_documents_split(stream, strlen(stream), "tenants.yaml", &list, &err), 0);
	assert_int_equal(list.n, 3);
	/* exact slices: comments and markers stay with their document; the rest of
	 * the "..." line and the comment-only document are dropped */
	expect_document(&list.items[0], "tenants.yaml", 1, 1, stream_doc1, "first-one");
	expect_document(&list.items[1], "tenants.yaml", 2, 7, stream_doc2, "second-one");
	expect_document(&list.items[2], "tenants.yaml", 3, 15, stream_doc3, "third-one");
	assert_int_equal(list.items[1].format, CLI_DOCUMENT_YAML);
	assert_string_equal(cli_document_content_type(&list.items[1]), "application/yaml");

	/* the body keeps the server's line numbers equal to the file's */
	body = cli_document_body(&list.items[2], &body_len);
	assert_int_equal(body_len, 14 + strlen(stream_doc3));
	assert_memory_equal(body, "\n\n\n\n\n\n\n\n\n\n\n\n\n\n", 14);
	assert_string_equal(body + 14, stream_doc3);
	free(body);
	body = cli_document_body(&list.items[0], &body_len);
	assert_string_equal(body, stream_doc1);
	free(body);
	cli_document_list_clear(&list);
	assert_int_equal(list.n, 0);
	free(stream);
}

static void test_split_yaml_edge_cases(void **state)
{
	static const char bom[] = "\xef\xbb\xbfmetadata: {id: bom-doc}\n---\nmetadata: {id: second}\n";
	static const char no_id[] = "kind: Tenant\nmetadata:\n  displayName: X\n---\nmetadata:\n  id: {a: b}\n"
				    "---\n- metadata\n- id\n";
	struct cli_document_list list = { NULL, 0 };
	struct tnd_error err = { "" };

	(void)state;
	/* a byte order mark is not a character to libyaml, but it is 3 bytes here */
	assert_int_equal(cli_documents_split(bom, strlen(bom), "bom.yaml", &list, &err), 0);
	assert_int_equal(list.n, 2);
	expect_document(&list.items[0], "bom.yaml", 1, 1, "\xef\xbb\xbfmetadata: {id: bom-doc}\n", "bom-doc");
	expect_document(&list.items[1], "bom.yaml", 2, 2, "---\nmetadata: {id: second}\n", "second");
	cli_document_list_clear(&list);

	/* documents without a usable metadata.id are kept, with id NULL, for apply to report */
	assert_int_equal(cli_documents_split(no_id, strlen(no_id), "x.yaml", &list, &err), 0);
	assert_int_equal(list.n, 3);
	assert_null(list.items[0].id);
	assert_null(list.items[1].id);
	assert_null(list.items[2].id);
	assert_int_equal(list.items[2].line, 7);
	cli_document_list_clear(&list);
}

static void test_split_errors_leave_list_alone(void **state)
{
	static const char first[] = "metadata: {id: kept}\n";
	static const char broken[] = "metadata:\n  id: x\n  - bad\n";
	static const char broken_late[] = "a: 1\n---\nmetadata: {id: ok}\n---\nkey: [unclosed\n";
	struct cli_document_list list = { NULL, 0 };
	struct tnd_error err = { "" };

	(void)state;
	assert_int_equal(cli_documents_split(first, strlen(first), "first.yaml", &list, &err), 0);
	assert_int_equal(list.n, 1);

	assert_int_equal(cli_documents_split(broken, strlen(broken), "broken.yaml", &list, &err), -EINVAL);
	assert_non_null(strstr(err.message, "broken.yaml: line 3, column 3: "));
	assert_int_equal(list.n, 1);
	/* a syntax error in a later document: the earlier ones are not taken either */
	assert_int_equal(cli_documents_split(broken_late, strlen(broken_late), "late.yaml", &list, &err), -EINVAL);
	assert_non_null(strstr(err.message, "late.yaml: line 6, column 1: "));
	assert_int_equal(list.n, 1);

	assert_int_equal(cli_documents_split("a: \xff\n", 5, "latin1.yaml", &list, &err), -EINVAL);
	assert_string_equal(err.message, "latin1.yaml: not valid UTF-8 text (manifests are UTF-8, without NUL bytes)");
	assert_int_equal(cli_documents_split("# nothing\n---\n", 14, "empty.yaml", &list, &err), -EINVAL);
	assert_string_equal(err.message, "empty.yaml: no manifest found (only comments or empty documents)");
	assert_int_equal(cli_documents_split("", 0, "zero.yaml", &list, &err), -EINVAL);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.items[0].id, "kept");
	cli_document_list_clear(&list);
}

static void test_split_json(void **state)
{
	static const char json[] = "  {\"metadata\": {\"id\": \"initech\"}, \"spec\": {\"plan\": \"free\"}}\n";
	struct cli_document_list list = { NULL, 0 };
	struct tnd_error err = { "" };

	(void)state;
	assert_true(cli_documents_look_like_json("a.json", "x: 1", 4));
	assert_true(cli_documents_look_like_json("<stdin>", "\n {\"a\":1}", 9));
	assert_false(cli_documents_look_like_json("a.yaml", "x: {a: 1}", 9));
	assert_false(cli_documents_look_like_json("a.jsonx", "", 0));

	/* a JSON file is one document, sent whole, even when its name does not say so */
	assert_int_equal(cli_documents_split(json, strlen(json), "<stdin>", &list, &err), 0);
	assert_int_equal(list.n, 1);
	expect_document(&list.items[0], "<stdin>", 1, 1, json, "initech");
	assert_int_equal(list.items[0].format, CLI_DOCUMENT_JSON);
	assert_string_equal(cli_document_content_type(&list.items[0]), "application/json");
	cli_document_list_clear(&list);

	assert_int_equal(cli_documents_split("{\"metadata\": ", 13, "t.json", &list, &err), -EINVAL);
	assert_non_null(strstr(err.message, "t.json: line 1, column"));
	assert_int_equal(cli_documents_split("[1]", 3, "t.json", &list, &err), -EINVAL);
	assert_string_equal(err.message, "t.json: a JSON manifest is an object ({...})");
	assert_int_equal(cli_documents_split("{\"metadata\": {\"id\": 7}}", 23, "t.json", &list, &err), 0);
	assert_null(list.items[0].id);
	assert_int_equal(list.n, 1);
	cli_document_list_clear(&list);
}

/* The shipped examples: each is one document whose id is its file name. */
static void test_split_examples(void **state)
{
	static const char *const names[] = { "acme-corp.yaml", "globex.yaml", "initech.json", "umbrella.yaml" };

	(void)state;
	for (size_t i = 0; i < TND_ARRAY_SIZE(names); i++) {
		char *path = tnd_xasprintf("%s/etc/examples/%s", testutil_srcdir(), names[i]);
		struct cli_document_list list = { NULL, 0 };
		struct tnd_error err = { "" };
		char *data = NULL;
		size_t len = 0;

		assert_int_equal(tnd_read_file(path, 1 << 20, &data, &len, &err), 0);
		assert_int_equal(cli_documents_split(data, len, path, &list, &err), 0);
		assert_int_equal(list.n, 1);
		assert_int_equal(list.items[0].len, len);
		assert_memory_equal(list.items[0].text, data, len);
		assert_int_equal(strncmp(names[i], list.items[0].id, strlen(list.items[0].id)), 0);
		assert_int_equal(names[i][strlen(list.items[0].id)], '.');
		cli_document_list_clear(&list);
		free(data);
		free(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_alignment),
		cmocka_unit_test(test_table_header_only_and_control_characters),
		cmocka_unit_test(test_fields_alignment),
		cmocka_unit_test(test_age_like_kubectl),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_age_since),
		cmocka_unit_test(test_problem_with_errors),
		cmocka_unit_test(test_problem_context_and_header_request_id),
		cmocka_unit_test(test_problem_sanitized),
		cmocka_unit_test(test_non_problem_bodies),
		cmocka_unit_test(test_config_parse),
		cmocka_unit_test(test_config_parse_errors),
		cmocka_unit_test_setup_teardown(test_resolve_precedence, resolve_setup, resolve_teardown),
		cmocka_unit_test_setup_teardown(test_resolve_refusals, resolve_setup, resolve_teardown),
		cmocka_unit_test(test_split_yaml_stream),
		cmocka_unit_test(test_split_yaml_edge_cases),
		cmocka_unit_test(test_split_errors_leave_list_alone),
		cmocka_unit_test(test_split_json),
		cmocka_unit_test(test_split_examples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
