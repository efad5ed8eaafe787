/*
 * test_tokens.c — the API tokens file and bearer-token authentication:
 * generate/hash/format/load/authenticate round trips, every line error with
 * its line number, file permission checks, malformed tokens, and lookups in
 * a large file.
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

#include <cmocka.h>

#include "testutil.h"
#include "tokens.h"
#include "util.h"

static char *tokens_dir;

static int setup_dir(void **state)
{
	(void)state;
	tokens_dir = testutil_mkdtemp("tokens");
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	testutil_rmrf(tokens_dir);
	free(tokens_dir);
	return 0;
}

/* Load @text from a 0600 file; returns tokens_load's result. */
static int load_text(const char *text, struct tnd_tokens **ret, struct tnd_error *err, char **ret_path)
{
	char *path = testutil_write_file(tokens_dir, "tokens", text, 0600);
	int r = tokens_load(path, ret, err);

	if (ret_path)
		*ret_path = path;
	else
		free(path);
	return r;
}

/* tokens_load must fail with "<path>:<line>: ...<cause>...". */
static void assert_load_error(const char *text, unsigned line, const char *cause)
{
	struct tnd_tokens *tokens = NULL;
	struct tnd_error err = { "" };
	char *path = NULL, *prefix;
	int r = load_text(text, &tokens, &err, &path);

	prefix = tnd_xasprintf("%s:%u: ", path, line);
	if (r != -EINVAL || !tnd_str_has_prefix(err.message, prefix) || strstr(err.message, cause) == NULL)
		fail_msg("text %s\n  got r=%d message '%s'\n  want '%s' ... '%s'", text, r, err.message,
			 prefix, cause);
	assert_null(tokens);
	free(prefix);
	free(path);
}

static void test_generate_shape(void **state)
{
	char a[TND_TOKEN_SIZE], b[TND_TOKEN_SIZE];

	(void)state;
	tokens_generate(a);
	tokens_generate(b);
	assert_int_equal(strlen(a), TND_TOKEN_LEN);
	assert_int_equal(strlen(a), 47);
	assert_true(tnd_str_has_prefix(a, "tnd_"));
	assert_int_equal(strspn(a + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	assert_string_not_equal(a, b);
}

static void test_hash_is_sha256_hex(void **state)
{
	char hash[65];

	(void)state;
	/* FIPS 180-2 test vector. */
	tokens_hash("abc", hash);
	assert_string_equal(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_roles(void **state)
{
	(void)state;
	for (enum tnd_role role = TND_ROLE_TENANT; role <= TND_ROLE_ADMIN; role++)
		assert_int_equal(role_parse(role_name(role)), role);
	assert_int_equal(role_parse("root"), TND_ROLE_NONE);
	assert_int_equal(role_parse("none"), TND_ROLE_NONE);
	assert_int_equal(role_parse(NULL), TND_ROLE_NONE);
	assert_string_equal(role_name(TND_ROLE_OPERATOR), "operator");
}

static void test_round_trip(void **state)
{
	static const struct {
		const char *name;
		enum tnd_role role;
		const char *tenant;
	} specs[] = {
		{ "root.admin", TND_ROLE_ADMIN, NULL },
		{ "ci-pipeline", TND_ROLE_OPERATOR, NULL },
		{ "compliance", TND_ROLE_AUDITOR, NULL },
		{ "Status_Page", TND_ROLE_VIEWER, NULL },
		{ "acme", TND_ROLE_TENANT, "acme-corp" },
	};
	char tokens_text[TND_ARRAY_SIZE(specs)][TND_TOKEN_SIZE];
	char *text = tnd_xstrdup("# tokens\n\n");
	struct tnd_tokens *tokens = NULL;
	struct tnd_error err = { "" };

	(void)state;
	for (size_t i = 0; i < TND_ARRAY_SIZE(specs); i++) {
		char *line, *joined;

		tokens_generate(tokens_text[i]);
		line = tokens_format_line(specs[i].name, specs[i].role, tokens_text[i], specs[i].tenant);
		assert_non_null(line);
		assert_int_equal(line[strlen(line) - 1], '\n');
		/* Never the token itself, only its hash. */
		assert_null(strstr(line, tokens_text[i]));
		joined = tnd_xasprintf("%s%s", text, line);
		free(text);
		free(line);
		text = joined;
	}
	assert_int_equal(load_text(text, &tokens, &err, NULL), 0);
	assert_int_equal(tokens_count(tokens), TND_ARRAY_SIZE(specs));

	for (size_t i = 0; i < TND_ARRAY_SIZE(specs); i++) {
		struct tnd_principal who;

		memset(&who, 0x55, sizeof(who));
		assert_int_equal(tokens_authenticate(tokens, tokens_text[i], &who), 0);
		assert_string_equal(who.name, specs[i].name);
		assert_int_equal(who.role, specs[i].role);
		assert_string_equal(who.tenant, specs[i].tenant ? specs[i].tenant : "");
	}
	tokens_free(tokens);
	free(text);
}

static void test_format_line_refuses_what_load_would(void **state)
{
	char token[TND_TOKEN_SIZE];

	(void)state;
	tokens_generate(token);
	assert_null(tokens_format_line("has space", TND_ROLE_ADMIN, token, NULL));
	assert_null(tokens_format_line("", TND_ROLE_ADMIN, token, NULL));
	assert_null(tokens_format_line("x", TND_ROLE_NONE, token, NULL));
	assert_null(tokens_format_line("x", TND_ROLE_TENANT, token, NULL));
	assert_null(tokens_format_line("x", TND_ROLE_ADMIN, token, "acme-corp"));
	assert_null(tokens_format_line("x", TND_ROLE_TENANT, token, "Acme"));
}

static void test_comments_whitespace_crlf(void **state)
{
	char token[TND_TOKEN_SIZE], hash[65];
	struct tnd_tokens *tokens = NULL;
	struct tnd_error err = { "" };
	struct tnd_principal who;
	char *text;

	(void)state;
	tokens_generate(token);
	tokens_hash(token, hash);
	/* Tabs, a trailing comment, CRLF endings, upper-case hex, no final newline. */
	for (char *p = hash; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	text = tnd_xasprintf("   # indented comment\r\n\r\n\tops\toperator\tsha256:%s   # who: the ops team\r\n"
			     "#last", hash);
	assert_int_equal(load_text(text, &tokens, &err, NULL), 0);
	assert_int_equal(tokens_count(tokens), 1);
	assert_int_equal(tokens_authenticate(tokens, token, &who), 0);
	assert_string_equal(who.name, "ops");
	assert_int_equal(who.role, TND_ROLE_OPERATOR);
	tokens_free(tokens);
	free(text);

	assert_int_equal(load_text("# only comments\n\n", &tokens, &err, NULL), 0);
	assert_int_equal(tokens_count(tokens), 0);
	assert_int_equal(tokens_authenticate(tokens, token, &who), -ENOENT);
	tokens_free(tokens);
}

#define HASH_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_line_errors(void **state)
{
	(void)state;
	assert_load_error("a admin " HASH_A "\n\nb admin\n", 3, "expected '<name> <role>");
	assert_load_error("# c\nb admin " HASH_B " x y\n", 2, "too many fields");
	assert_load_error("bad/name admin " HASH_A "\n", 1, "token name is invalid");
	assert_load_error("a root " HASH_A "\n", 1, "unknown role (want admin");
	assert_load_error("a admin " HASH_A "\nb viewer sha256:abc\n", 2, "'sha256:' followed by 64 hex digits");
	assert_load_error("a admin md5:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 1, "'sha256:' followed by 64 hex digits");
	assert_load_error("a admin sha256:gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg\n",
			  1, "64 hex digits");
}

static void test_nul_byte_refused(void **state)
{
	static const char text[] = "a admin " HASH_A "\nb\0admin " HASH_B "\n";
	struct tnd_tokens *tokens = NULL;
	struct tnd_error err = { "" };
	char *path = tnd_xasprintf("%s/tokens-nul", tokens_dir);

	(void)state;
	assert_int_equal(tnd_write_file_atomic(path, text, sizeof(text) - 1, 0600, &err), 0);
	assert_int_equal(tokens_load(path, &tokens, &err), -EINVAL);
	assert_non_null(strstr(err.message, "NUL byte"));
	assert_null(tokens);
	free(path);
}

/* The file is secret: no field is ever quoted back, even when misplaced. */
static void test_secrets_never_echoed(void **state)
{
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeX";
	char token[TND_TOKEN_SIZE];
	char *texts[4];

	(void)state;
	tokens_generate(token);
	texts[0] = tnd_xasprintf("a admin sha256:%s\n", hex);
	texts[1] = tnd_xasprintf("sha256:%s admin " HASH_A "\n", hex);
	texts[2] = tnd_xasprintf("a %s " HASH_A "\n", token);
	texts[3] = tnd_xasprintf("t tenant " HASH_A " %s\n", token);
	for (size_t i = 0; i < TND_ARRAY_SIZE(texts); i++) {
		struct tnd_tokens *tokens = NULL;
		struct tnd_error err = { "" };

		assert_int_equal(load_text(texts[i], &tokens, &err, NULL), -EINVAL);
		assert_null(strstr(err.message, "0123456789abcdef"));
		assert_null(strstr(err.message, token + 4));
		free(texts[i]);
	}
	/* A raw token pasted as the name is refused, not taken as a name. */
	texts[0] = tnd_xasprintf("%s admin " HASH_A "\n", token);
	assert_load_error(texts[0], 1, "the name field holds a raw token");
	free(texts[0]);
}

static void test_tenant_role_rules(void **state)
{
	(void)state;
	assert_load_error("t tenant " HASH_A "\n", 1, "role 'tenant' requires a tenant id");
	assert_load_error("ok viewer " HASH_B "\nt admin " HASH_A " acme-corp\n", 2,
			  "role 'admin' takes no tenant id");
	assert_load_error("t tenant " HASH_A " Acme\n", 1, "tenant id is invalid");
	assert_load_error("t tenant " HASH_A " ab\n", 1, "tenant id is invalid");
	assert_load_error("t tenant " HASH_A " acme-\n", 1, "tenant id is invalid");
}

static void test_duplicates(void **state)
{
	(void)state;
	assert_load_error("same admin " HASH_A "\n# gap\nother viewer " HASH_B "\nsame viewer "
			  "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\n",
			  4, "duplicate token name 'same' (first at line 1)");
	assert_load_error("one admin " HASH_A "\ntwo viewer " HASH_A "\n", 2,
			  "token 'two' has the same hash as token 'one' (line 1)");
	/* Several problems: the earliest second occurrence is reported. */
	assert_load_error("x admin " HASH_A "\ny admin " HASH_B "\ny admin "
			  "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\nz admin " HASH_A "\n",
			  3, "duplicate token name 'y'");
}

static void test_file_permissions(void **state)
{
	struct tnd_tokens *tokens = NULL;
	struct tnd_error err = { "" };
	char *path, *missing;

	(void)state;
	path = testutil_write_file(tokens_dir, "tokens-0644", "a admin " HASH_A "\n", 0644);
	assert_int_equal(tokens_load(path, &tokens, &err), -EPERM);
	assert_non_null(strstr(err.message, path));
	assert_non_null(strstr(err.message, "0644"));
	assert_null(tokens);
	free(path);

	path = testutil_write_file(tokens_dir, "tokens-0400", "a admin " HASH_A "\n", 0400);
	assert_int_equal(tokens_load(path, &tokens, &err), 0);
	tokens_free(tokens);
	free(path);

	missing = tnd_xasprintf("%s/none", tokens_dir);
	assert_int_equal(tokens_load(missing, &tokens, &err), -ENOENT);
	assert_non_null(strstr(err.message, missing));
	free(missing);
}

static void test_malformed_presented_tokens(void **state)
{
	char token[TND_TOKEN_SIZE], other[TND_TOKEN_SIZE], bad[80];
	struct tnd_tokens *tokens = NULL;
	struct tnd_error err = { "" };
	struct tnd_principal who, untouched;
	char *line;

	(void)state;
	tokens_generate(token);
	line = tokens_format_line("a", TND_ROLE_ADMIN, token, NULL);
	assert_int_equal(load_text(line, &tokens, &err, NULL), 0);
	free(line);

	memset(&who, 0x5a, sizeof(who));
	untouched = who;
	assert_int_equal(tokens_authenticate(tokens, NULL, &who), -ENOENT);
	assert_int_equal(tokens_authenticate(tokens, "", &who), -ENOENT);
	/* Wrong prefix, same length. */
	snprintf(bad, sizeof(bad), "tnx_%s", token + 4);
	assert_int_equal(tokens_authenticate(tokens, bad, &who), -ENOENT);
	/* One character short and one too many. */
	snprintf(bad, sizeof(bad), "%.46s", token);
	assert_int_equal(tokens_authenticate(tokens, bad, &who), -ENOENT);
	snprintf(bad, sizeof(bad), "%sA", token);
	assert_int_equal(tokens_authenticate(tokens, bad, &who), -ENOENT);
	/* Outside the base64url alphabet (standard base64, padding). */
	snprintf(bad, sizeof(bad), "%.46s+", token);
	assert_int_equal(tokens_authenticate(tokens, bad, &who), -ENOENT);
	snprintf(bad, sizeof(bad), "%.46s=", token);
	assert_int_equal(tokens_authenticate(tokens, bad, &who), -ENOENT);
	/* Well formed, but not in the file. */
	tokens_generate(other);
	assert_int_equal(tokens_authenticate(tokens, other, &who), -ENOENT);
	/* The hash itself is not a credential. */
	tokens_hash(token, bad);
	assert_int_equal(tokens_authenticate(tokens, bad, &who), -ENOENT);
	assert_memory_equal(&who, &untouched, sizeof(who));

	assert_int_equal(tokens_authenticate(tokens, token, &who), 0);
	assert_string_equal(who.name, "a");
	tokens_free(tokens);
}

static void test_thousand_tokens(void **state)
{
	enum { N = 1000 };
	char (*issued)[TND_TOKEN_SIZE] = tnd_xcalloc(N, TND_TOKEN_SIZE);
	size_t cap = N * 128, len = 0;
	char *text = tnd_xmalloc(cap);
	struct tnd_tokens *tokens = NULL;
	struct tnd_error err = { "" };
	int64_t start;

	(void)state;
	text[0] = '\0';
	for (int i = 0; i < N; i++) {
		enum tnd_role role = (enum tnd_role)(TND_ROLE_TENANT + i % 5);
		char name[32], tenant[32];
		char *line;

		snprintf(name, sizeof(name), "client-%04d", i);
		snprintf(tenant, sizeof(tenant), "tenant-%04d", i);
		tokens_generate(issued[i]);
		line = tokens_format_line(name, role, issued[i], role == TND_ROLE_TENANT ? tenant : NULL);
		assert_non_null(line);
		len += (size_t)snprintf(text + len, cap - len, "%s", line);
		free(line);
	}
	assert_int_equal(load_text(text, &tokens, &err, NULL), 0);
	assert_int_equal(tokens_count(tokens), N);

	start = tnd_monotonic_us();
	for (int i = 0; i < N; i++) {
		struct tnd_principal who;
		char name[32];

		snprintf(name, sizeof(name), "client-%04d", i);
		assert_int_equal(tokens_authenticate(tokens, issued[i], &who), 0);
		assert_string_equal(who.name, name);
		assert_int_equal(who.role, TND_ROLE_TENANT + i % 5);
		if (who.role == TND_ROLE_TENANT) {
			char tenant[32];
			snprintf(tenant, sizeof(tenant), "tenant-%04d", i);
			assert_string_equal(who.tenant, tenant);
		}
	}
	print_message("1000 lookups: %.1f us each\n", (double)(tnd_monotonic_us() - start) / N);
	for (int i = 0; i < N; i++) {
		char stranger[TND_TOKEN_SIZE];
		struct tnd_principal who;

		tokens_generate(stranger);
		assert_int_equal(tokens_authenticate(tokens, stranger, &who), -ENOENT);
	}
	tokens_free(tokens);
	free(text);
	free(issued);
}

/* The shipped example documents the format; it must be a valid file. */
static void test_example_file_loads(void **state)
{
	char *example = tnd_xasprintf("%s/etc/tokens.example", testutil_srcdir());
	struct tnd_tokens *tokens = NULL;
	struct tnd_error err = { "" };
	char *text = NULL;

	(void)state;
	assert_int_equal(tnd_read_file(example, 1 << 20, &text, NULL, &err), 0);
	if (load_text(text, &tokens, &err, NULL) != 0)
		fail_msg("%s", err.message);
	assert_int_equal(tokens_count(tokens), 5);
	tokens_free(tokens);
	free(text);
	free(example);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_shape),
		cmocka_unit_test(test_hash_is_sha256_hex),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format_line_refuses_what_load_would),
		cmocka_unit_test(test_comments_whitespace_crlf),
		cmocka_unit_test(test_line_errors),
		cmocka_unit_test(test_nul_byte_refused),
		cmocka_unit_test(test_secrets_never_echoed),
		cmocka_unit_test(test_tenant_role_rules),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_file_permissions),
		cmocka_unit_test(test_malformed_presented_tokens),
		cmocka_unit_test(test_thousand_tokens),
		cmocka_unit_test(test_example_file_loads),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
