/*
 * jsonq.c — a tiny JSON checker for the integration scripts, so they need
 * neither jq nor python3 (neither is in a minimal Debian):
 *
 *   jsonq < doc               exit 0 if stdin is one well-formed JSON text
 *   jsonq POINTER < doc       print the value at an RFC 6901 pointer: strings
 *                             raw, anything else as compact JSON
 *   jsonq -l POINTER < doc    print the number of items (array, object) or
 *                             characters (string) at POINTER
 *
 * Exit status 1 with a message on stderr for malformed input or a pointer
 * that names nothing; 2 for usage.
 */
#include "autoconfig.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "host.h"

int main(int argc, char **argv)
{
	const char *pointer = NULL;
	bool length = false;
	json_error_t err;
	json_t *doc, *value;

	if (argc == 3 && strcmp(argv[1], "-l") == 0) {
		length = true;
		pointer = argv[2];
	} else if (argc == 2 && argv[1][0] != '-') {
		pointer = argv[1];
	} else if (argc != 1) {
		fputs("usage: jsonq [[-l] POINTER] < json\n", stderr);
		return 2;
	}
	doc = json_loadf(stdin, JSON_DECODE_ANY, &err);
	if (doc == NULL) {
		fprintf(stderr, "jsonq: not JSON: line %d, column %d: %s\n", err.line, err.column, err.text);
		return 1;
	}
	if (pointer == NULL) {
		json_decref(doc);
		return 0;
	}
	value = json_pointer_get(doc, pointer);
	if (value == NULL) {
		fprintf(stderr, "jsonq: nothing at %s\n", pointer);
		json_decref(doc);
		return 1;
	}
	if (length) {
		if (json_is_array(value))
			printf("%zu\n", json_array_size(value));
		else if (json_is_object(value))
			printf("%zu\n", json_object_size(value));
		else if (json_is_string(value))
			printf("%zu\n", json_string_length(value));
		else {
			fprintf(stderr, "jsonq: %s has no length\n", pointer);
			json_decref(doc);
			return 1;
		}
	} else if (json_is_string(value)) {
		printf("%s\n", json_string_value(value));
	} else {
		char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
		printf("%s\n", text ? text : "");
		free(text);
	}
	json_decref(doc);
	return 0;
}
