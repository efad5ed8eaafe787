/*
 * test_manifest_parse.c — parsing manifests: every rejection class of
 * manifest_parse() and manifest_parse_yaml_stream() in both formats
 * (size, depth, duplicate keys, encoding, NUL, aliases, tags, documents),
 * YAML scalar typing, and a fuzz-ish loop over prefixes and random
 * mutations that must never crash and never fail silently.
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

#include "manifest.h"
#include "manifest_fixture.h"
#include "placement.h"
#include "util.h"

static const struct manifest_limits limits = { .max_bytes = 64 * 1024, .max_depth = 16 };

static const char valid_yaml[] =
	"# a tenant\n"
	"apiVersion: tenancy/v1\n"
	"kind: Tenant\n"
	"metadata:\n"
	"  id: acme-corp\n"
	"  displayName: Acme Corp\n"
	"  labels: {tier: gold, env: prod}\n"
	"spec:\n"
	"  plan: business\n"
	"  isolation: dedicated\n"
	"  placement:\n"
	"    residency: eu\n"
	"    allowedRegions: [eu-west-1, eu-central-1]\n"
	"    preferredRegion: eu-west-1\n"
	"    standbyRegion: eu-central-1\n"
	"  state: active\n"
	"  quotas:\n"
	"    computeUnits: 4\n"
	"    storageGb: 50\n";

static const char valid_json[] =
	"{\"apiVersion\": \"tenancy/v1\", \"kind\": \"Tenant\",\n"
	" \"metadata\": {\"id\": \"acme-corp\", \"labels\": {\"tier\": \"gold\"}},\n"
	" \"spec\": {\"plan\": \"business\", \"placement\": {\"allowedRegions\": [\"eu-west-1\"]},\n"
	"          \"quotas\": {\"storageGb\": 50}}}\n";

/* Parse @text expecting failure with @expected_r; the errors (caller frees). */
static json_t *parse_fail(const char *text, size_t len, enum manifest_format format, int expected_r)
{
	json_t *errors = json_array(), *doc = NULL;
	int r = manifest_parse(text, len, format, &limits, &doc, errors);

	assert_int_equal(r, expected_r);
	assert_null(doc);
	assert_true(json_array_size(errors) > 0);
	return errors;
}

static void assert_parse_fails(const char *text, enum manifest_format format, const char *reason_part)
{
	json_t *errors = parse_fail(text, strlen(text), format, -EINVAL);

	assert_true(fixture_has_error(errors, "", reason_part));
	json_decref(errors);
}

static json_t *parse_ok(const char *text, enum manifest_format format)
{
	json_t *errors = json_array(), *doc = NULL;
	int r = manifest_parse(text, strlen(text), format, &limits, &doc, errors);

	if (r < 0)
		fixture_has_error(errors, "?", "?"); /* prints them */
	assert_int_equal(r, 0);
	assert_non_null(doc);
	assert_int_equal(json_array_size(errors), 0);
	json_decref(errors);
	return doc;
}

/* "[[[...]]]" or "{"a":{"a":...}}" nested @depth deep; caller frees. */
static char *nested(size_t depth, const char *open, const char *close, const char *leaf)
{
	size_t lo = strlen(open), lc = strlen(close), ll = strlen(leaf);
	char *s = tnd_xmalloc(depth * (lo + lc) + ll + 1), *p = s;

	for (size_t i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, leaf, ll);
	p += ll;
	for (size_t i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void test_content_type(void **state)
{
	assert_int_equal(manifest_format_from_content_type("application/json"), MANIFEST_FORMAT_JSON);
	assert_int_equal(manifest_format_from_content_type("Application/JSON; charset=utf-8"),
			 MANIFEST_FORMAT_JSON);
	assert_int_equal(manifest_format_from_content_type("application/yaml"), MANIFEST_FORMAT_YAML);
	assert_int_equal(manifest_format_from_content_type("application/x-yaml"), MANIFEST_FORMAT_YAML);
	assert_int_equal(manifest_format_from_content_type(" text/yaml ;charset=utf-8"), MANIFEST_FORMAT_YAML);
	assert_int_equal(manifest_format_from_content_type("text/x-yaml"), MANIFEST_FORMAT_YAML);
	assert_int_equal(manifest_format_from_content_type("text/plain"), 0);
	assert_int_equal(manifest_format_from_content_type("application/jsonx"), 0);
	assert_int_equal(manifest_format_from_content_type(""), 0);
	assert_int_equal(manifest_format_from_content_type(NULL), 0);
}

static void test_oversize(void **state)
{
	size_t len = limits.max_bytes + 1;
	char *big = tnd_xmalloc(len);
	json_t *errors, *docs = NULL;

	/* not even valid UTF-8: the size is checked before anything reads the body */
	memset(big, 0xff, len);
	errors = parse_fail(big, len, MANIFEST_FORMAT_JSON, -EFBIG);
	assert_true(fixture_has_error(errors, "", "over the limit"));
	json_decref(errors);
	errors = parse_fail(big, len, MANIFEST_FORMAT_YAML, -EFBIG);
	json_decref(errors);
	errors = json_array();
	assert_int_equal(manifest_parse_yaml_stream(big, len, &limits, &docs, errors), -EFBIG);
	assert_null(docs);
	json_decref(errors);
	free(big);
}

static void test_depth_json(void **state)
{
	char *at_limit = nested(limits.max_depth, "[", "]", "1");
	char *over = nested(limits.max_depth + 1, "[", "]", "1");
	char *hostile = nested(100000, "[", "]", "1");
	char *objects = nested(limits.max_depth + 1, "{\"a\":", "}", "1");
	struct manifest_limits roomy = { .max_bytes = 1024 * 1024, .max_depth = 16 };
	json_t *doc, *errors = json_array();

	doc = parse_ok(at_limit, MANIFEST_FORMAT_JSON);
	json_decref(doc);
	assert_parse_fails(over, MANIFEST_FORMAT_JSON, "nesting deeper than 16 levels");
	assert_parse_fails(objects, MANIFEST_FORMAT_JSON, "nesting deeper than 16 levels");
	/* jansson's own limit stops this one while parsing */
	doc = NULL;
	assert_int_equal(manifest_parse(hostile, strlen(hostile), MANIFEST_FORMAT_JSON, &roomy, &doc, errors),
			 -EINVAL);
	assert_null(doc);
	assert_true(fixture_has_error(errors, "", "nesting deeper than"));
	json_decref(errors);
	free(at_limit);
	free(over);
	free(hostile);
	free(objects);
}

static void test_depth_yaml(void **state)
{
	char *at_limit = nested(limits.max_depth, "[", "]", "1");
	char *over = nested(limits.max_depth + 1, "[", "]", "1");
	char *hostile = nested(100000, "[", "]", "1");
	char *block = tnd_xstrdup("");
	struct manifest_limits roomy = { .max_bytes = 1024 * 1024, .max_depth = 16 };
	json_t *doc, *errors = json_array();
	int64_t start;

	doc = parse_ok(at_limit, MANIFEST_FORMAT_YAML);
	json_decref(doc);
	assert_parse_fails(over, MANIFEST_FORMAT_YAML, "line 1: nesting deeper than 16 levels");

	/* block mappings count the same way */
	for (unsigned i = 0; i <= limits.max_depth; i++) {
		char *next = tnd_xasprintf("%s%*sk%u:\n", block, (int)(2 * i), "", i);

		free(block);
		block = next;
	}
	assert_parse_fails(block, MANIFEST_FORMAT_YAML, "line 17: nesting deeper than 16 levels");

	/* 100000 levels: refused at level 17, long before libyaml or we could
	 * build anything deep (generous bound: valgrind runs this too) */
	doc = NULL;
	start = tnd_monotonic_us();
	assert_int_equal(manifest_parse(hostile, strlen(hostile), MANIFEST_FORMAT_YAML, &roomy, &doc, errors),
			 -EINVAL);
	assert_true(tnd_monotonic_us() - start < 5 * 1000 * 1000);
	assert_null(doc);
	assert_true(fixture_has_error(errors, "", "nesting deeper than 16 levels"));
	json_decref(errors);
	free(at_limit);
	free(over);
	free(hostile);
	free(block);
}

static void test_duplicate_keys(void **state)
{
	assert_parse_fails("{\"a\": 1,\n \"b\": {\"c\": 1, \"c\": 2}}", MANIFEST_FORMAT_JSON,
			   "line 2, column");
	assert_parse_fails("{\"a\": 1, \"a\": 1}", MANIFEST_FORMAT_JSON, "duplicate");
	assert_parse_fails("apiVersion: tenancy/v1\n"
			   "kind: Tenant\n"
			   "metadata:\n"
			   "  id: acme\n"
			   "spec:\n"
			   "  plan: free\n"
			   "  plan: business\n",
			   MANIFEST_FORMAT_YAML, "line 7: duplicate key 'plan'");
	/* the same key spelled differently is still the same key */
	assert_parse_fails("a: 1\n\"a\": 2\n", MANIFEST_FORMAT_YAML, "line 2: duplicate key 'a'");
}

static void test_invalid_utf8(void **state)
{
	assert_parse_fails("{\"a\": 1,\n \"k\xff\": 2}", MANIFEST_FORMAT_JSON, "line 2: invalid UTF-8");
	assert_parse_fails("{\"a\": \"v\xc3\x28\"}", MANIFEST_FORMAT_JSON, "line 1: invalid UTF-8");
	assert_parse_fails("a: 1\nk\xed\xa0\x80: 2\n", MANIFEST_FORMAT_YAML, "line 2: invalid UTF-8");
	assert_parse_fails("a: 1\nb: 2\nc: v\xc0\xaf\n", MANIFEST_FORMAT_YAML, "line 3: invalid UTF-8");
}

static void test_nul(void **state)
{
	static const char raw_nul[] = "a: 1\nb: x\0y\n";
	json_t *errors;

	assert_parse_fails("{\"metadata\": {\"displayName\": \"a\\u0000b\"}}", MANIFEST_FORMAT_JSON,
			   "NUL character (\\u0000) in the string at metadata.displayName");
	assert_parse_fails("[\"ok\", \"\\u0000\"]", MANIFEST_FORMAT_JSON, "at [1]");
	assert_parse_fails("{\"a\\u0000\": 1}", MANIFEST_FORMAT_JSON, "NUL");
	assert_parse_fails("a: 1\nb: \"x\\0y\"\n", MANIFEST_FORMAT_YAML, "line 2: NUL character");
	errors = parse_fail(raw_nul, sizeof(raw_nul) - 1, MANIFEST_FORMAT_YAML, -EINVAL);
	assert_true(fixture_has_error(errors, "", "line 2: NUL byte"));
	json_decref(errors);
}

static void test_yaml_aliases_and_tags(void **state)
{
	json_t *doc;

	assert_parse_fails("a: &x 1\nb: *x\n", MANIFEST_FORMAT_YAML, "line 1: anchors and aliases are not supported");
	assert_parse_fails("a: 1\nb: *x\n", MANIFEST_FORMAT_YAML, "line 2: aliases are not supported");
	assert_parse_fails("a: &x [1, 2]\n", MANIFEST_FORMAT_YAML, "anchors and aliases are not supported");
	assert_parse_fails("a: [\"lol\", \"lol\"]\nb: &b [*a, *a]\n", MANIFEST_FORMAT_YAML, "not supported");
	assert_parse_fails("a: !foo bar\n", MANIFEST_FORMAT_YAML, "line 1: tag !foo is not supported");
	assert_parse_fails("a: !!binary aGk=\n", MANIFEST_FORMAT_YAML, "tag !!binary is not supported");
	assert_parse_fails("a: !foo {b: 1}\n", MANIFEST_FORMAT_YAML, "tag !foo is not supported");
	assert_parse_fails("a: !!seq {b: 1}\n", MANIFEST_FORMAT_YAML, "tag !!seq cannot be used on a mapping");
	assert_parse_fails("a: !!map x\n", MANIFEST_FORMAT_YAML, "tag !!map cannot be used on a scalar");
	assert_parse_fails("a: !!int abc\n", MANIFEST_FORMAT_YAML, "'abc' is not a valid !!int");
	assert_parse_fails("a: !!bool yes\n", MANIFEST_FORMAT_YAML, "'yes' is not a valid !!bool");

	doc = parse_ok("s: !!str 12\ni: !!int \"12\"\nf: !!float 3\nb: !!bool \"true\"\nn: !!null ''\n"
		       "m: !!map {k: v}\nq: !!seq [1]\n",
		       MANIFEST_FORMAT_YAML);
	assert_string_equal(json_string_value(json_object_get(doc, "s")), "12");
	assert_int_equal(json_integer_value(json_object_get(doc, "i")), 12);
	assert_true(json_is_real(json_object_get(doc, "f")));
	assert_true(json_is_true(json_object_get(doc, "b")));
	assert_true(json_is_null(json_object_get(doc, "n")));
	assert_true(json_is_object(json_object_get(doc, "m")));
	assert_true(json_is_array(json_object_get(doc, "q")));
	json_decref(doc);
}

static void test_yaml_scalars(void **state)
{
	json_t *doc = parse_ok("t1: true\nt2: True\nt3: TRUE\nf1: false\n"
			       "y: yes\nn: no\non: on\noff: off\n"
			       "n1: null\nn2: ~\nn3:\n"
			       "i1: 12\ni2: -7\ni3: +3\ni4: 007\n"
			       "r1: 1.5\nr2: 1e3\nr3: -.5\n"
			       "s1: \"12\"\ns2: 'true'\ns3: 0x1F\ns4: 1.2.3\ns5: eu-west-1\ns6: \"\"\n",
			       MANIFEST_FORMAT_YAML);

	assert_true(json_is_true(json_object_get(doc, "t1")));
	assert_true(json_is_true(json_object_get(doc, "t2")));
	assert_true(json_is_true(json_object_get(doc, "t3")));
	assert_true(json_is_false(json_object_get(doc, "f1")));
	/* YAML 1.2: no YAML 1.1 booleans */
	assert_string_equal(json_string_value(json_object_get(doc, "y")), "yes");
	assert_string_equal(json_string_value(json_object_get(doc, "n")), "no");
	assert_string_equal(json_string_value(json_object_get(doc, "on")), "on");
	assert_string_equal(json_string_value(json_object_get(doc, "off")), "off");
	assert_true(json_is_null(json_object_get(doc, "n1")));
	assert_true(json_is_null(json_object_get(doc, "n2")));
	assert_true(json_is_null(json_object_get(doc, "n3")));
	assert_int_equal(json_integer_value(json_object_get(doc, "i1")), 12);
	assert_int_equal(json_integer_value(json_object_get(doc, "i2")), -7);
	assert_int_equal(json_integer_value(json_object_get(doc, "i3")), 3);
	assert_int_equal(json_integer_value(json_object_get(doc, "i4")), 7);
	assert_true(json_is_real(json_object_get(doc, "r1")));
	assert_true(json_real_value(json_object_get(doc, "r2")) == 1000.0);
	assert_true(json_real_value(json_object_get(doc, "r3")) == -0.5);
	assert_string_equal(json_string_value(json_object_get(doc, "s1")), "12");
	assert_string_equal(json_string_value(json_object_get(doc, "s2")), "true");
	assert_string_equal(json_string_value(json_object_get(doc, "s3")), "0x1F");
	assert_string_equal(json_string_value(json_object_get(doc, "s4")), "1.2.3");
	assert_string_equal(json_string_value(json_object_get(doc, "s5")), "eu-west-1");
	assert_string_equal(json_string_value(json_object_get(doc, "s6")), "");
	json_decref(doc);

	doc = parse_ok("a: 9223372036854775807\nb: -9223372036854775808\n", MANIFEST_FORMAT_YAML);
	assert_true(json_integer_value(json_object_get(doc, "a")) == INT64_MAX);
	assert_true(json_integer_value(json_object_get(doc, "b")) == INT64_MIN);
	json_decref(doc);
	assert_parse_fails("a: 9223372036854775808\n", MANIFEST_FORMAT_YAML,
			   "line 1: integer 9223372036854775808 is out of range");
	assert_parse_fails("a: 1\nb: 1e999\n", MANIFEST_FORMAT_YAML, "line 2: number 1e999 is out of range");
	assert_parse_fails("a: .inf\n", MANIFEST_FORMAT_YAML, "infinity and NaN");
	assert_parse_fails("{\"a\": 99999999999999999999}", MANIFEST_FORMAT_JSON, "line 1, column");
}

static void test_yaml_keys(void **state)
{
	assert_parse_fails("1: a\n", MANIFEST_FORMAT_YAML, "line 1: mapping key '1' is not a string");
	assert_parse_fails("a: 1\nnull: x\n", MANIFEST_FORMAT_YAML, "line 2: mapping key 'null' is not a string");
	assert_parse_fails("true: x\n", MANIFEST_FORMAT_YAML, "is not a string");
	assert_parse_fails("? [a]\n: b\n", MANIFEST_FORMAT_YAML, "mapping keys must be strings, not sequences");
	assert_parse_fails("{a: 1, {b: 2}: 3}\n", MANIFEST_FORMAT_YAML, "mapping keys must be strings, not mappings");
	json_decref(parse_ok("\"1\": a\n!!str 2: b\n", MANIFEST_FORMAT_YAML));
}

static void test_documents(void **state)
{
	static const char bad_stream[] = "---\na: 1\n---\nb: *x\n";
	static const char three[] = "---\nmetadata: {id: one}\n---\nmetadata: {id: two}\n...\n---\n[3]\n";
	json_t *docs = NULL, *errors = json_array();

	assert_parse_fails("---\na: 1\n---\nb: 2\n", MANIFEST_FORMAT_YAML,
			   "line 3: more than one document");
	assert_parse_fails("", MANIFEST_FORMAT_YAML, "empty document");
	assert_parse_fails("# only a comment\n", MANIFEST_FORMAT_YAML, "empty document");
	assert_parse_fails("", MANIFEST_FORMAT_JSON, "line 1");

	assert_int_equal(manifest_parse_yaml_stream(three, strlen(three), &limits, &docs, errors), 0);
	assert_int_equal(json_array_size(errors), 0);
	assert_int_equal(json_array_size(docs), 3);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(docs, 0), "metadata"), "id")),
			    "one");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(docs, 1), "metadata"), "id")),
			    "two");
	assert_int_equal(json_integer_value(json_array_get(json_array_get(docs, 2), 0)), 3);
	json_decref(docs);

	/* one bad document fails the whole stream, naming its line */
	docs = NULL;
	assert_int_equal(manifest_parse_yaml_stream(bad_stream, strlen(bad_stream), &limits, &docs, errors),
			 -EINVAL);
	assert_null(docs);
	assert_true(fixture_has_error(errors, "", "line 4: aliases are not supported"));
	assert_int_equal(manifest_parse_yaml_stream("", 0, &limits, &docs, errors), -EINVAL);
	assert_true(fixture_has_error(errors, "", "no documents"));
	json_decref(errors);
}

static void test_syntax_errors(void **state)
{
	json_t *doc;

	assert_parse_fails("{\n  \"a\": 1,\n  \"b\": }\n", MANIFEST_FORMAT_JSON, "line 3, column");
	assert_parse_fails("{\"a\": 1} trailing", MANIFEST_FORMAT_JSON, "line 1");
	assert_parse_fails("a: 1\nb: [1, 2\n", MANIFEST_FORMAT_YAML, "line 3, column");
	assert_parse_fails("a: 1\n  b: 2\n", MANIFEST_FORMAT_YAML, "line 2, column");
	assert_parse_fails("a: \"\x01\"\n", MANIFEST_FORMAT_YAML, "line 1: control characters");
	/* a scalar or an array is a syntactically fine document; validation judges it */
	doc = parse_ok("just a string\n", MANIFEST_FORMAT_YAML);
	assert_true(json_is_string(doc));
	json_decref(doc);
	doc = parse_ok("[1, 2]", MANIFEST_FORMAT_JSON);
	assert_true(json_is_array(doc));
	json_decref(doc);
}

/* Whatever happens, a rejection must say why and a success must be usable. */
static void fuzz_one(const struct tnd_conf *conf, const char *data, size_t len, enum manifest_format format)
{
	json_t *errors = json_array(), *doc = NULL, *normal, *placement = NULL;
	int r = manifest_parse(data, len, format, &limits, &doc, errors);

	if (r == 0) {
		assert_non_null(doc);
		assert_int_equal(json_array_size(errors), 0);
		r = manifest_validate(doc, conf, errors);
		if (r == 0) {
			normal = manifest_normalize(doc, conf);
			assert_non_null(normal);
			assert_int_equal(manifest_validate(normal, conf, errors), 0);
			r = placement_resolve(conf, normal, &placement, errors);
			json_decref(placement);
			json_decref(normal);
		}
	}
	if (r < 0)
		assert_true(json_array_size(errors) > 0);
	else
		assert_int_equal(json_array_size(errors), 0);
	json_decref(doc);
	json_decref(errors);
}

static void test_fuzz(void **state)
{
	static const struct {
		const char *text;
		enum manifest_format format;
	} seeds[] = { { valid_yaml, MANIFEST_FORMAT_YAML }, { valid_json, MANIFEST_FORMAT_JSON } };
	static const char interesting[] = "\0\xff\xc3{}[]:,\"'&*!#-\n \t\\0123456789";
	struct tnd_conf *conf = fixture_conf_new();
	unsigned seed = (unsigned)tnd_now_ms();

	fprintf(stderr, "fuzz seed %u\n", seed);
	srand(seed);
	for (size_t s = 0; s < TND_ARRAY_SIZE(seeds); s++) {
		size_t len = strlen(seeds[s].text);
		char *buf = tnd_xmalloc(len);

		fuzz_one(conf, seeds[s].text, len, seeds[s].format);
		for (size_t n = 0; n < len; n++)
			fuzz_one(conf, seeds[s].text, n, seeds[s].format);
		for (int i = 0; i < 2000; i++) {
			int edits = 1 + rand() % 4;

			memcpy(buf, seeds[s].text, len);
			for (int e = 0; e < edits; e++) {
				size_t at = (size_t)rand() % len;

				buf[at] = rand() % 2 ? (char)(rand() % 256)
						     : interesting[(size_t)rand() % (sizeof(interesting) - 1)];
			}
			fuzz_one(conf, buf, len, seeds[s].format);
		}
		free(buf);
	}
	fixture_conf_free(conf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_depth_json),
		cmocka_unit_test(test_depth_yaml),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_yaml_aliases_and_tags),
		cmocka_unit_test(test_yaml_scalars),
		cmocka_unit_test(test_yaml_keys),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
