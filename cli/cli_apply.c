/*
 * cli_apply.c — splitting apply input into documents (see cli_apply.h).
 *
 * libyaml's marks count characters, not bytes ("ü" moves index by one), so
 * marks are turned into byte offsets by walking the (validated) UTF-8 text
 * alongside the events; marks only move forward, so the walk is linear.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "cli_apply.h"
#include "util.h"

static const char apply_utf8_bom[] = "\xef\xbb\xbf";

bool cli_documents_look_like_json(const char *source, const char *data, size_t len)
{
	size_t n = strlen(source), i = 0;

	if (n >= 5 && strcmp(source + n - 5, ".json") == 0)
		return true;
	if (len >= 3 && memcmp(data, apply_utf8_bom, 3) == 0)
		i = 3;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	return i < len && data[i] == '{';
}

const char *cli_document_content_type(const struct cli_document *doc)
{
	return doc->format == CLI_DOCUMENT_JSON ? "application/json" : "application/yaml";
}

char *cli_document_body(const struct cli_document *doc, size_t *ret_len)
{
	size_t pad = doc->format == CLI_DOCUMENT_YAML && doc->line > 1 ? doc->line - 1 : 0;
	char *body = tnd_xmalloc(pad + doc->len + 1);

	memset(body, '\n', pad);
	memcpy(body + pad, doc->text, doc->len);
	body[pad + doc->len] = '\0';
	*ret_len = pad + doc->len;
	return body;
}

static void apply_document_free(struct cli_document *doc)
{
	free(doc->source);
	free(doc->text);
	free(doc->id);
}

void cli_document_list_clear(struct cli_document_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->n; i++)
		apply_document_free(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

static void apply_list_push(struct cli_document_list *list, struct cli_document *doc)
{
	list->items = tnd_xrealloc(list->items, (list->n + 1) * sizeof(*list->items));
	list->items[list->n++] = *doc;
}

/* --- JSON ------------------------------------------------------------------------------ */

static int apply_split_json(const char *data, size_t len, const char *source, struct cli_document *ret,
			    struct tnd_error *err)
{
	json_error_t jerr;
	json_t *doc = json_loadb(data, len, 0, &jerr);
	const char *id;

	if (doc == NULL) {
		tnd_error_set(err, "%s: line %d, column %d: %s", source, jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(doc)) {
		tnd_error_set(err, "%s: a JSON manifest is an object ({...})", source);
		json_decref(doc);
		return -EINVAL;
	}
	id = json_string_value(json_object_get(json_object_get(doc, "metadata"), "id"));
	memset(ret, 0, sizeof(*ret));
	ret->source = tnd_xstrdup(source);
	ret->number = 1;
	ret->line = 1;
	ret->format = CLI_DOCUMENT_JSON;
	ret->text = tnd_xstrndup(data, len);
	ret->len = len;
	ret->id = id ? tnd_xstrdup(id) : NULL;
	json_decref(doc);
	return 0;
}

/* --- YAML ------------------------------------------------------------------------------ */

/* Character index → byte offset, moving forward only. */
struct apply_cursor {
	const char *data;
	size_t len;
	size_t chars;
	size_t bytes;
};

static size_t apply_cursor_seek(struct apply_cursor *c, size_t char_index)
{
	while (c->chars < char_index && c->bytes < c->len) {
		c->bytes++;
		while (c->bytes < c->len && ((unsigned char)c->data[c->bytes] & 0xc0) == 0x80)
			c->bytes++;
		c->chars++;
	}
	return c->bytes;
}

/* Where we are inside a document: one frame per open mapping or sequence. */
struct apply_frame {
	bool mapping;
	bool expect_key;
	char *key;  /* the last scalar key of a mapping */
};

struct apply_doc_state {
	struct apply_frame *frames;
	size_t depth;
	size_t cap;
	char *id;
	bool empty;  /* the root is a plain empty scalar: a document of comments only */
};

static void apply_state_reset(struct apply_doc_state *st)
{
	while (st->depth > 0)
		free(st->frames[--st->depth].key);
	free(st->id);
	st->id = NULL;
	st->empty = false;
}

/* A node starts: a key or a value of the enclosing mapping, an item, or the root. */
static void apply_state_node(struct apply_doc_state *st, const yaml_event_t *ev)
{
	struct apply_frame *parent = st->depth ? &st->frames[st->depth - 1] : NULL;
	bool scalar = ev->type == YAML_SCALAR_EVENT;

	if (parent == NULL) {
		st->empty = scalar && ev->data.scalar.length == 0 && ev->data.scalar.plain_implicit &&
			    ev->data.scalar.tag == NULL;
	} else if (parent->mapping && parent->expect_key) {
		free(parent->key);
		parent->key = scalar ? tnd_xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length)
				     : NULL;
		parent->expect_key = false;
	} else if (parent->mapping) {
		/* metadata.id: a scalar value of key "id" in the value of key "metadata" of the root */
		if (scalar && st->depth == 2 && st->id == NULL && st->frames[0].mapping &&
		    tnd_streq(st->frames[0].key, "metadata") && tnd_streq(parent->key, "id"))
			st->id = tnd_xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		parent->expect_key = true;
	}
	if (ev->type == YAML_MAPPING_START_EVENT || ev->type == YAML_SEQUENCE_START_EVENT) {
		if (st->depth == st->cap) {
			st->cap = st->cap ? st->cap * 2 : 8;
			st->frames = tnd_xrealloc(st->frames, st->cap * sizeof(*st->frames));
		}
		st->frames[st->depth++] = (struct apply_frame){ ev->type == YAML_MAPPING_START_EVENT, true, NULL };
	}
}

static void apply_yaml_error(const yaml_parser_t *parser, const char *source, struct tnd_error *err)
{
	const char *problem = parser->problem ? parser->problem : "cannot parse the YAML";

	if (parser->error == YAML_READER_ERROR)
		tnd_error_set(err, "%s: %s at byte %zu", source, problem, parser->problem_offset);
	else if (parser->context)
		tnd_error_set(err, "%s: line %zu, column %zu: %s %s (line %zu)", source,
			      parser->problem_mark.line + 1, parser->problem_mark.column + 1, problem,
			      parser->context, parser->context_mark.line + 1);
	else
		tnd_error_set(err, "%s: line %zu, column %zu: %s", source, parser->problem_mark.line + 1,
			      parser->problem_mark.column + 1, problem);
}

struct apply_yaml_run {
	const char *source;
	struct apply_cursor cursor;
	struct apply_doc_state state;
	size_t slice_start;      /* byte where the next document's text begins */
	size_t counted_to;       /* lines are counted up to this byte ... */
	size_t counted_lines;    /* ... and there are this many '\n' before it */
	bool after_explicit_end; /* the previous document ended with "..." */
	unsigned number;
	struct cli_document_list found;
};

static void apply_yaml_document_start(struct apply_yaml_run *run, const yaml_event_t *ev)
{
	size_t start = apply_cursor_seek(&run->cursor, ev->start_mark.index);

	/* the rest of a "..." line (a comment, spaces) belongs to neither document */
	if (run->after_explicit_end) {
		const char *nl = memchr(run->cursor.data + run->slice_start, '\n', start - run->slice_start);
		if (nl)
			run->slice_start = (size_t)(nl - run->cursor.data) + 1;
	}
	apply_state_reset(&run->state);
}

static void apply_yaml_document_end(struct apply_yaml_run *run, const yaml_event_t *ev)
{
	size_t begin = run->slice_start, end;
	struct cli_document doc;

	for (; run->counted_to < begin; run->counted_to++)
		run->counted_lines += run->cursor.data[run->counted_to] == '\n';
	end = apply_cursor_seek(&run->cursor, ev->end_mark.index);
	run->slice_start = end;
	run->after_explicit_end = !ev->data.document_end.implicit;
	if (run->state.empty)
		return;
	memset(&doc, 0, sizeof(doc));
	doc.source = tnd_xstrdup(run->source);
	doc.number = ++run->number;
	doc.line = run->counted_lines + 1;
	doc.format = CLI_DOCUMENT_YAML;
	doc.text = tnd_xstrndup(run->cursor.data + begin, end - begin);
	doc.len = end - begin;
	doc.id = run->state.id;
	run->state.id = NULL;
	apply_list_push(&run->found, &doc);
}

static int apply_split_yaml(const char *data, size_t len, const char *source, struct cli_document_list *ret,
			    struct tnd_error *err)
{
	struct apply_yaml_run run = { .source = source };
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	int r = 0;

	run.cursor.data = data;
	run.cursor.len = len;
	if (!yaml_parser_initialize(&parser)) {
		tnd_error_set(err, "%s: out of memory", source);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	/* told the encoding, libyaml counts a byte order mark as the character it is */
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			apply_yaml_error(&parser, source, err);
			r = -EINVAL;
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			apply_yaml_document_start(&run, &ev);
			break;
		case YAML_DOCUMENT_END_EVENT:
			apply_yaml_document_end(&run, &ev);
			break;
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			apply_state_node(&run.state, &ev);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (run.state.depth > 0)
				free(run.state.frames[--run.state.depth].key);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	apply_state_reset(&run.state);
	free(run.state.frames);
	if (r == 0) {
		for (size_t i = 0; i < run.found.n; i++)
			apply_list_push(ret, &run.found.items[i]);
		free(run.found.items);
	} else {
		cli_document_list_clear(&run.found);
	}
	return r;
}

int cli_documents_split(const char *data, size_t len, const char *source, struct cli_document_list *list,
			struct tnd_error *err)
{
	size_t before = list->n;
	int r;

	/* the server takes UTF-8 only; say so here rather than once per document there */
	if (!tnd_utf8_valid(data, len)) {
		tnd_error_set(err, "%s: not valid UTF-8 text (manifests are UTF-8, without NUL bytes)", source);
		return -EINVAL;
	}
	if (cli_documents_look_like_json(source, data, len)) {
		struct cli_document doc;
		r = apply_split_json(data, len, source, &doc, err);
		if (r == 0)
			apply_list_push(list, &doc);
		return r;
	}
	r = apply_split_yaml(data, len, source, list, err);
	if (r == 0 && list->n == before) {
		tnd_error_set(err, "%s: no manifest found (only comments or empty documents)", source);
		return -EINVAL;
	}
	return r;
}
