/*
 * manifest_yaml.c — YAML manifests: libyaml's event API driven by a loop
 * with an explicit, bounded stack, building the same jansson tree a JSON
 * manifest gives.
 *
 * Why events and not libyaml's document loader: the loader builds the
 * whole node graph first (and expands aliases into it), so a 100000-deep
 * flow sequence or a billion-laughs document would cost memory before we
 * could say no.  Here the depth limit is enforced at the start event that
 * crosses it, anchors and aliases are refused the moment they appear, and
 * nothing recurses.
 *
 * Plain scalars are typed like the YAML 1.2 core schema: true/false →
 * boolean, null/~/empty → null, decimal integers → integer, floats → real;
 * everything else, including the YAML 1.1 yes/no/on/off, stays a string.
 * Hexadecimal and octal forms (0x1f, 0o17) also stay strings: manifests
 * only hold small decimal numbers, and a string gets a clear "expected
 * integer" from validation.  Quoted scalars are always strings.  The
 * standard tags !!str !!int !!float !!bool !!null !!map !!seq are honoured;
 * any other tag is refused rather than silently ignored.
 */
#include "autoconfig.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "manifest_private.h"
#include "util.h"

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* One open mapping or sequence. */
struct manifest_yaml_frame {
	json_t *node;       /* borrowed: already attached to its parent or the root */
	char *pending_key;  /* mappings: the key whose value comes next, or NULL */
};

struct manifest_yaml_state {
	const char *data;
	size_t len;
	const struct manifest_limits *limits;
	bool single;
	json_t *errors;
	json_t *docs;       /* finished documents */
	json_t *root;       /* the document being built, or NULL */
	struct manifest_yaml_frame *frames; /* limits->max_depth entries */
	size_t depth;
};

static int manifest_yaml_fail(struct manifest_yaml_state *st, const yaml_mark_t *mark, const char *fmt,
			      ...) TND_PRINTF(3, 4);

static int manifest_yaml_fail(struct manifest_yaml_state *st, const yaml_mark_t *mark, const char *fmt,
			      ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	manifest_error_add(st->errors, "", "line %zu: %s", mark->line + 1, msg);
	free(msg);
	return -EINVAL;
}

/* "!!int" for the standard tags, the tag as written otherwise. */
static const char *manifest_yaml_tag_display(const char *tag, char *buf, size_t cap)
{
	if (tnd_str_has_prefix(tag, YAML_TAG_PREFIX)) {
		snprintf(buf, cap, "!!%s", tag + strlen(YAML_TAG_PREFIX));
		return buf;
	}
	return tag;
}

static bool manifest_yaml_tag_is(const char *tag, const char *name)
{
	return tnd_str_has_prefix(tag, YAML_TAG_PREFIX) && strcmp(tag + strlen(YAML_TAG_PREFIX), name) == 0;
}

static bool manifest_yaml_is_null(const char *s)
{
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
	       strcmp(s, "NULL") == 0;
}

/* 1 true, 0 false, -1 not a boolean */
static int manifest_yaml_bool(const char *s)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		return 1;
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return 0;
	return -1;
}

static size_t manifest_yaml_digits(const char *s)
{
	return strspn(s, "0123456789");
}

/* [-+]?[0-9]+ */
static bool manifest_yaml_looks_int(const char *s)
{
	size_t n;

	if (*s == '-' || *s == '+')
		s++;
	n = manifest_yaml_digits(s);
	return n > 0 && s[n] == '\0';
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool manifest_yaml_looks_float(const char *s)
{
	size_t n;

	if (*s == '-' || *s == '+')
		s++;
	if (*s == '.') {
		n = manifest_yaml_digits(s + 1);
		if (n == 0)
			return false;
		s += 1 + n;
	} else {
		n = manifest_yaml_digits(s);
		if (n == 0)
			return false;
		s += n;
		if (*s == '.')
			s += 1 + manifest_yaml_digits(s + 1);
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		n = manifest_yaml_digits(s);
		if (n == 0)
			return false;
		s += n;
	}
	return *s == '\0';
}

/* .inf, -.Inf, .NaN ... (core schema spellings) */
static bool manifest_yaml_looks_nonfinite(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	return strcmp(s, ".inf") == 0 || strcmp(s, ".Inf") == 0 || strcmp(s, ".INF") == 0 ||
	       strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0;
}

static json_t *manifest_yaml_int(struct manifest_yaml_state *st, const yaml_event_t *ev, const char *s)
{
	long long v;
	char *end;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE || *end != '\0') {
		manifest_yaml_fail(st, &ev->start_mark, "integer %s is out of range", MANIFEST_EXCERPT(s));
		return NULL;
	}
	return json_integer((json_int_t)v);
}

static json_t *manifest_yaml_real(struct manifest_yaml_state *st, const yaml_event_t *ev, const char *s)
{
	double v;

	if (manifest_yaml_looks_nonfinite(s)) {
		manifest_yaml_fail(st, &ev->start_mark, "%s: infinity and NaN cannot be represented",
				   MANIFEST_EXCERPT(s));
		return NULL;
	}
	v = strtod(s, NULL);
	if (!isfinite(v)) {
		manifest_yaml_fail(st, &ev->start_mark, "number %s is out of range", MANIFEST_EXCERPT(s));
		return NULL;
	}
	return json_real(v);
}

/* The scalar of @ev as a JSON value, or NULL after reporting why not. */
static json_t *manifest_yaml_scalar(struct manifest_yaml_state *st, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	char tagbuf[64];
	int b;

	/* a double-quoted "\0" escape yields a NUL the encoding check never saw */
	if (memchr(s, '\0', len)) {
		manifest_yaml_fail(st, &ev->start_mark, "NUL character in a string");
		return NULL;
	}
	if (!tnd_utf8_valid(s, len)) {
		manifest_yaml_fail(st, &ev->start_mark, "invalid UTF-8 in a string");
		return NULL;
	}

	if (tag == NULL) {
		if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
			return json_stringn(s, len);
		if (manifest_yaml_is_null(s))
			return json_null();
		if ((b = manifest_yaml_bool(s)) >= 0)
			return json_boolean(b);
		if (manifest_yaml_looks_int(s))
			return manifest_yaml_int(st, ev, s);
		if (manifest_yaml_looks_float(s) || manifest_yaml_looks_nonfinite(s))
			return manifest_yaml_real(st, ev, s);
		return json_stringn(s, len);
	}

	if (manifest_yaml_tag_is(tag, "str"))
		return json_stringn(s, len);
	if (manifest_yaml_tag_is(tag, "null") && manifest_yaml_is_null(s))
		return json_null();
	if (manifest_yaml_tag_is(tag, "bool") && (b = manifest_yaml_bool(s)) >= 0)
		return json_boolean(b);
	if (manifest_yaml_tag_is(tag, "int") && manifest_yaml_looks_int(s))
		return manifest_yaml_int(st, ev, s);
	if (manifest_yaml_tag_is(tag, "float") &&
	    (manifest_yaml_looks_float(s) || manifest_yaml_looks_int(s) || manifest_yaml_looks_nonfinite(s)))
		return manifest_yaml_real(st, ev, s);

	tag = manifest_yaml_tag_display(tag, tagbuf, sizeof(tagbuf));
	if (strcmp(tag, "!!str") == 0 || strcmp(tag, "!!null") == 0 || strcmp(tag, "!!bool") == 0 ||
	    strcmp(tag, "!!int") == 0 || strcmp(tag, "!!float") == 0)
		manifest_yaml_fail(st, &ev->start_mark, "'%s' is not a valid %s", MANIFEST_EXCERPT(s), tag);
	else if (strcmp(tag, "!!map") == 0 || strcmp(tag, "!!seq") == 0)
		manifest_yaml_fail(st, &ev->start_mark, "tag %s cannot be used on a scalar", tag);
	else
		manifest_yaml_fail(st, &ev->start_mark, "tag %s is not supported", tag);
	return NULL;
}

static struct manifest_yaml_frame *manifest_yaml_top(struct manifest_yaml_state *st)
{
	return st->depth > 0 ? &st->frames[st->depth - 1] : NULL;
}

/* True when the next node of the innermost mapping is a key. */
static bool manifest_yaml_expects_key(struct manifest_yaml_state *st)
{
	struct manifest_yaml_frame *top = manifest_yaml_top(st);

	return top && json_is_object(top->node) && top->pending_key == NULL;
}

/* Hand @node (a new reference) to the innermost container or make it the
 * document's root. */
static void manifest_yaml_attach(struct manifest_yaml_state *st, json_t *node)
{
	struct manifest_yaml_frame *top = manifest_yaml_top(st);

	if (top == NULL) {
		st->root = node;
	} else if (json_is_array(top->node)) {
		json_array_append_new(top->node, node);
	} else {
		json_object_set_new(top->node, top->pending_key, node);
		free(top->pending_key);
		top->pending_key = NULL;
	}
}

static int manifest_yaml_on_scalar(struct manifest_yaml_state *st, const yaml_event_t *ev)
{
	struct manifest_yaml_frame *top;
	json_t *value;

	if (ev->data.scalar.anchor)
		return manifest_yaml_fail(st, &ev->start_mark, "anchors and aliases are not supported");
	value = manifest_yaml_scalar(st, ev);
	if (value == NULL)
		return -EINVAL;
	if (!manifest_yaml_expects_key(st)) {
		manifest_yaml_attach(st, value);
		return 0;
	}

	top = manifest_yaml_top(st);
	if (!json_is_string(value)) {
		json_decref(value);
		return manifest_yaml_fail(st, &ev->start_mark, "mapping key '%s' is not a string",
					  MANIFEST_EXCERPT((const char *)ev->data.scalar.value));
	}
	if (json_object_get(top->node, json_string_value(value))) {
		manifest_yaml_fail(st, &ev->start_mark, "duplicate key '%s'",
				   MANIFEST_EXCERPT(json_string_value(value)));
		json_decref(value);
		return -EINVAL;
	}
	top->pending_key = tnd_xstrdup(json_string_value(value));
	json_decref(value);
	return 0;
}

static int manifest_yaml_on_collection_start(struct manifest_yaml_state *st, const yaml_event_t *ev)
{
	bool mapping = ev->type == YAML_MAPPING_START_EVENT;
	const char *anchor = (const char *)(mapping ? ev->data.mapping_start.anchor
						    : ev->data.sequence_start.anchor);
	const char *tag = (const char *)(mapping ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
	char tagbuf[64];
	json_t *node;

	if (anchor)
		return manifest_yaml_fail(st, &ev->start_mark, "anchors and aliases are not supported");
	if (tag && !manifest_yaml_tag_is(tag, mapping ? "map" : "seq")) {
		const char *shown = manifest_yaml_tag_display(tag, tagbuf, sizeof(tagbuf));

		if (strcmp(shown, "!!map") == 0 || strcmp(shown, "!!seq") == 0 || strcmp(shown, "!!str") == 0 ||
		    strcmp(shown, "!!int") == 0 || strcmp(shown, "!!float") == 0 ||
		    strcmp(shown, "!!bool") == 0 || strcmp(shown, "!!null") == 0)
			return manifest_yaml_fail(st, &ev->start_mark, "tag %s cannot be used on a %s", shown,
						  mapping ? "mapping" : "sequence");
		return manifest_yaml_fail(st, &ev->start_mark, "tag %s is not supported", shown);
	}
	if (manifest_yaml_expects_key(st))
		return manifest_yaml_fail(st, &ev->start_mark, "mapping keys must be strings, not %s",
					  mapping ? "mappings" : "sequences");
	if (st->depth + 1 > st->limits->max_depth)
		return manifest_yaml_fail(st, &ev->start_mark, "nesting deeper than %u levels",
					  st->limits->max_depth);

	node = mapping ? json_object() : json_array();
	manifest_yaml_attach(st, node);
	st->frames[st->depth++] = (struct manifest_yaml_frame){ .node = node };
	return 0;
}

/* libyaml's own complaint, with the line it points at. */
static int manifest_yaml_parser_error(struct manifest_yaml_state *st, const yaml_parser_t *parser)
{
	size_t line = parser->problem_mark.line + 1, column = parser->problem_mark.column + 1;
	const char *problem = parser->problem ? parser->problem : "malformed YAML";

	if (parser->error == YAML_READER_ERROR) {
		/* the reader reports a byte offset, not a mark */
		line = 1;
		for (size_t i = 0; i < parser->problem_offset && i < st->len; i++)
			line += st->data[i] == '\n';
		manifest_error_add(st->errors, "", "line %zu: %s", line, problem);
	} else if (parser->context) {
		manifest_error_add(st->errors, "", "line %zu, column %zu: %s %s started on line %zu", line, column,
				   problem, parser->context, parser->context_mark.line + 1);
	} else {
		manifest_error_add(st->errors, "", "line %zu, column %zu: %s", line, column, problem);
	}
	return -EINVAL;
}

/* Handle one event; 1 at the end of the stream, 0 to go on, -EINVAL. */
static int manifest_yaml_on_event(struct manifest_yaml_state *st, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (st->single && json_array_size(st->docs) > 0)
			return manifest_yaml_fail(st, &ev->start_mark,
						  "more than one document; send one manifest at a time");
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		json_array_append_new(st->docs, st->root);
		st->root = NULL;
		return 0;
	case YAML_ALIAS_EVENT:
		return manifest_yaml_fail(st, &ev->start_mark, "aliases are not supported");
	case YAML_SCALAR_EVENT:
		return manifest_yaml_on_scalar(st, ev);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return manifest_yaml_on_collection_start(st, ev);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		st->depth--;
		return 0;
	case YAML_STREAM_START_EVENT:
	case YAML_NO_EVENT:
		return 0;
	}
	return 0;
}

int manifest_yaml_parse(const char *data, size_t len, const struct manifest_limits *limits,
			bool single, json_t **ret_docs, json_t *errors)
{
	struct manifest_yaml_state st = {
		.data = data,
		.len = len,
		.limits = limits,
		.single = single,
		.errors = errors,
		.docs = json_array(),
		.frames = tnd_xcalloc(limits->max_depth + (size_t)1, sizeof(struct manifest_yaml_frame)),
	};
	yaml_parser_t parser;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	/* the caller checked the bytes as UTF-8; never let a BOM switch to UTF-16 */
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

	while (r == 0) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			r = manifest_yaml_parser_error(&st, &parser);
			break;
		}
		r = manifest_yaml_on_event(&st, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);

	for (size_t i = 0; i < st.depth; i++)
		free(st.frames[i].pending_key);
	free(st.frames);
	json_decref(st.root);
	if (r < 0) {
		json_decref(st.docs);
		return r;
	}
	*ret_docs = st.docs;
	return 0;
}
