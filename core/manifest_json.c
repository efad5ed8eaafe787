/*
 * manifest_json.c — JSON manifests: jansson does the parsing (rejecting
 * duplicate keys, with line and column on syntax errors); this file maps
 * its errors to {path, reason} records and then enforces what jansson does
 * not: our depth limit, and no NUL characters in strings.
 *
 * jansson stops at its own hard depth (JSON_PARSER_MAX_DEPTH, 2048) while
 * parsing, so a hostile document cannot build a deeper tree than that; our
 * configured limit, usually much lower, is checked on the finished tree.
 * We parse with JSON_ALLOW_NUL so that a "\u0000" escape is reported with
 * the place it occurs instead of jansson's generic message.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "manifest_private.h"
#include "util.h"

/* One step from the root to the node being checked. */
struct manifest_json_step {
	const char *key;   /* member name, or NULL for an array element */
	size_t index;
};

struct manifest_json_walk {
	const struct manifest_limits *limits;
	struct manifest_json_step *steps; /* limits->max_depth + 1 entries */
	json_t *errors;
};

/* "spec.placement.allowedRegions[2]" from the steps; caller frees. */
static char *manifest_json_path(const struct manifest_json_step *steps, size_t n)
{
	char *path = tnd_xstrdup("");

	for (size_t i = 0; i < n; i++) {
		char *next;

		if (steps[i].key)
			next = tnd_xasprintf("%s%s%s", path, *path ? "." : "", steps[i].key);
		else
			next = tnd_xasprintf("%s[%zu]", path, steps[i].index);
		free(path);
		path = next;
	}
	return path;
}

/* Depth-first check of @value at nesting @depth (the root is depth 1 when
 * it is a container).  Recursion is bounded by max_depth + 1 because we stop
 * descending at the first container that is too deep. */
static int manifest_json_check(struct manifest_json_walk *walk, json_t *value, size_t depth)
{
	const char *key;
	json_t *child;
	size_t index;
	char *path;

	if (json_is_string(value)) {
		if (memchr(json_string_value(value), '\0', json_string_length(value)) == NULL)
			return 0;
		path = manifest_json_path(walk->steps, depth);
		manifest_error_add(walk->errors, "", "NUL character (\\u0000) in the string at %s",
				   *path ? path : "the top level");
		free(path);
		return -EINVAL;
	}
	if (!json_is_object(value) && !json_is_array(value))
		return 0;
	if (depth + 1 > walk->limits->max_depth) {
		path = manifest_json_path(walk->steps, depth);
		manifest_error_add(walk->errors, "", "nesting deeper than %u levels at %s",
				   walk->limits->max_depth, *path ? path : "the top level");
		free(path);
		return -EINVAL;
	}
	if (json_is_object(value)) {
		json_object_foreach (value, key, child) {
			walk->steps[depth] = (struct manifest_json_step){ .key = key };
			if (manifest_json_check(walk, child, depth + 1) < 0)
				return -EINVAL;
		}
	} else {
		json_array_foreach (value, index, child) {
			walk->steps[depth] = (struct manifest_json_step){ .index = index };
			if (manifest_json_check(walk, child, depth + 1) < 0)
				return -EINVAL;
		}
	}
	return 0;
}

int manifest_json_parse(const char *data, size_t len, const struct manifest_limits *limits,
			json_t **ret_doc, json_t *errors)
{
	struct manifest_json_walk walk = { .limits = limits, .errors = errors };
	json_error_t jerr;
	json_t *doc;
	int r;

	/* JSON_DECODE_ANY: a scalar or array at the top is syntactically fine;
	 * validation then says what a manifest must look like. */
	doc = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (doc == NULL) {
		if (json_error_code(&jerr) == json_error_stack_overflow)
			manifest_error_add(errors, "", "line %d, column %d: nesting deeper than %u levels",
					   jerr.line, jerr.column,
					   limits->max_depth < JSON_PARSER_MAX_DEPTH ? limits->max_depth
										     : JSON_PARSER_MAX_DEPTH);
		else
			manifest_error_add(errors, "", "line %d, column %d: %s", jerr.line, jerr.column,
					   jerr.text);
		return -EINVAL;
	}

	walk.steps = tnd_xcalloc((size_t)limits->max_depth + 1, sizeof(*walk.steps));
	r = manifest_json_check(&walk, doc, 0);
	free(walk.steps);
	if (r < 0) {
		json_decref(doc);
		return r;
	}
	*ret_doc = doc;
	return 0;
}
