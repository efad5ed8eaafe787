/*
 * jsonq.c — a tiny JSON checker for the integration scripts, so they need
 * neither jq nor python3 (neither is in a minimal Debian):
 *
 *   jsonq < doc               exit 0 if stdin is one well-formed JSON text
 *   jsonq POINTER < doc       print the value at an RFC 6901 pointer: strings
 *                             raw, anything else as compact JSON
 *   jsonq -l POINTER < doc    print the number of items (array, object) or
 *                             characters (string) at POINTER
 *   jsonq -e ARRAY [MEMBER...] < doc
 *                             for each element of the array at pointer ARRAY
 *                             print one line: the values at the MEMBER
 *                             pointers (relative to the element; none: the
 *                             element itself), separated by tabs, printed as
 *                             above.  Meant for ids, numbers and the like:
 *                             a string with a tab or newline in it would
 *                             blur the lines.
 *
 * With -s first, stdin is a stream of JSON objects or arrays (separated by
 * optional whitespace, as `curl URL1 URL2 ...` prints them) and the query
 * runs on each in turn; without a query each is only checked.  A scan over
 * many responses then costs one process, not one per response.
 *
 * Exit status 1 with a message on stderr for malformed input or a pointer
 * that names nothing (for -e: no array at ARRAY, or a MEMBER missing in
 * some element); 2 for usage.
 */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "host.h"

struct jsonq_query {
	enum { JSONQ_CHECK, JSONQ_VALUE, JSONQ_LENGTH, JSONQ_EACH } mode;
	const char *pointer;
	char **members;
	int n_members;
};

static void jsonq_print_value(const json_t *value)
{
	if (json_is_string(value)) {
		fputs(json_string_value(value), stdout);
	} else {
		char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
		fputs(text ? text : "", stdout);
		free(text);
	}
}

static int jsonq_each(const json_t *doc, const struct jsonq_query *q)
{
	const json_t *array = json_pointer_get(doc, q->pointer);
	const json_t *element;
	size_t i;

	if (!json_is_array(array)) {
		fprintf(stderr, "jsonq: no array at %s\n", q->pointer);
		return 1;
	}
	json_array_foreach(array, i, element) {
		for (int m = 0; m < q->n_members || (m == 0 && q->n_members == 0); m++) {
			const json_t *value = q->n_members ? json_pointer_get(element, q->members[m]) : element;

			if (value == NULL) {
				fprintf(stderr, "jsonq: nothing at %s in %s/%zu\n", q->members[m], q->pointer, i);
				return 1;
			}
			if (m > 0)
				fputc('\t', stdout);
			jsonq_print_value(value);
		}
		fputc('\n', stdout);
	}
	return 0;
}

static int jsonq_run(const json_t *doc, const struct jsonq_query *q)
{
	const json_t *value;

	switch (q->mode) {
	case JSONQ_CHECK:
		return 0;
	case JSONQ_EACH:
		return jsonq_each(doc, q);
	case JSONQ_VALUE:
	case JSONQ_LENGTH:
		break;
	}
	value = json_pointer_get(doc, q->pointer);
	if (value == NULL) {
		fprintf(stderr, "jsonq: nothing at %s\n", q->pointer);
		return 1;
	}
	if (q->mode == JSONQ_LENGTH) {
		if (json_is_array(value))
			printf("%zu\n", json_array_size(value));
		else if (json_is_object(value))
			printf("%zu\n", json_object_size(value));
		else if (json_is_string(value))
			printf("%zu\n", json_string_length(value));
		else {
			fprintf(stderr, "jsonq: %s has no length\n", q->pointer);
			return 1;
		}
		return 0;
	}
	jsonq_print_value(value);
	fputc('\n', stdout);
	return 0;
}

/* Read all of stdin; jansson's stream decoder cannot tell where a text ended. */
static char *jsonq_slurp(size_t *ret_len)
{
	size_t len = 0, cap = 65536, n;
	char *buf = malloc(cap);

	while (buf && (n = fread(buf + len, 1, cap - len, stdin)) > 0) {
		len += n;
		if (len == cap) {
			char *bigger = realloc(buf, cap * 2);
			if (bigger == NULL) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	*ret_len = len;
	return buf;
}

static int jsonq_stream(const struct jsonq_query *q)
{
	json_error_t err;
	size_t len = 0, off = 0, count = 0;
	char *buf = jsonq_slurp(&len);
	int status = 0;

	if (buf == NULL) {
		fputs("jsonq: out of memory\n", stderr);
		return 1;
	}
	while (status == 0) {
		json_t *doc;

		while (off < len && (buf[off] == ' ' || buf[off] == '\t' || buf[off] == '\r' || buf[off] == '\n'))
			off++;
		if (off >= len)
			break;
		/* objects and arrays only: then the decoder stops right after the
		 * closing bracket and err.position says where the next text starts */
		doc = json_loadb(buf + off, len - off, JSON_DISABLE_EOF_CHECK, &err);
		if (doc == NULL) {
			fprintf(stderr, "jsonq: text %zu of the stream is not JSON: line %d, column %d: %s\n",
				count + 1, err.line, err.column, err.text);
			status = 1;
			break;
		}
		off += (size_t)err.position;
		count++;
		status = jsonq_run(doc, q);
		json_decref(doc);
	}
	free(buf);
	return status;
}

int main(int argc, char **argv)
{
	struct jsonq_query q = { JSONQ_CHECK, NULL, NULL, 0 };
	bool stream = false;
	json_error_t err;
	json_t *doc;
	int status, i = 1;

	if (i < argc && strcmp(argv[i], "-s") == 0) {
		stream = true;
		i++;
	}
	if (argc - i == 2 && strcmp(argv[i], "-l") == 0) {
		q.mode = JSONQ_LENGTH;
		q.pointer = argv[i + 1];
	} else if (argc - i >= 2 && strcmp(argv[i], "-e") == 0) {
		q.mode = JSONQ_EACH;
		q.pointer = argv[i + 1];
		q.members = argv + i + 2;
		q.n_members = argc - i - 2;
	} else if (argc - i == 1 && argv[i][0] != '-') {
		q.mode = JSONQ_VALUE;
		q.pointer = argv[i];
	} else if (argc - i != 0) {
		fputs("usage: jsonq [-s] [[-l] POINTER | -e ARRAY [MEMBER...]] < json\n", stderr);
		return 2;
	}
	if (stream)
		return jsonq_stream(&q);
	doc = json_loadf(stdin, JSON_DECODE_ANY, &err);
	if (doc == NULL) {
		fprintf(stderr, "jsonq: not JSON: line %d, column %d: %s\n", err.line, err.column, err.text);
		return 1;
	}
	status = jsonq_run(doc, &q);
	json_decref(doc);
	return status;
}
