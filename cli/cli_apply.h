/*
 * cli_apply.h — cutting what `tenancyctl apply -f` reads into the documents
 * it sends, one PUT each.
 *
 * The server, not the CLI, parses and validates manifests, so each document
 * goes out as the operator wrote it: a YAML stream is cut at the marks
 * libyaml's parser events give for DOCUMENT-START and DOCUMENT-END, and a
 * JSON file (named *.json, or starting with '{') is one document.  The CLI
 * only reads metadata.id, because the tenant id is part of the URL.
 */
#ifndef TND_CLI_APPLY_H
#define TND_CLI_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include <tenancyd/plugin.h>

enum cli_document_format {
	CLI_DOCUMENT_JSON = 1,
	CLI_DOCUMENT_YAML = 2,
};

struct cli_document {
	char *source;          /* the file it came from ("<stdin>" for -) */
	unsigned number;       /* 1-based among the non-empty documents of its source */
	size_t line;           /* 1-based line of text[0] in the source */
	enum cli_document_format format;
	char *text;            /* the operator's bytes, NUL-terminated */
	size_t len;
	char *id;              /* metadata.id, or NULL when absent or not a scalar */
};

struct cli_document_list {
	struct cli_document *items;
	size_t n;
};

/**
 * Append the documents of @data (the content of @source) to @list.
 *
 * YAML: document N's text runs from the end of document N-1 (the start of
 * the next line when N-1 ended with "...") to the end of document N, so it
 * keeps its "---", comments and directives; text after a final "..." and
 * documents holding nothing but comments are dropped.  JSON: the whole of
 * @data.
 *
 * The whole input is checked before anything is appended: invalid UTF-8,
 * a YAML syntax error (with line and column), malformed JSON, or no document
 * at all is -EINVAL with @err naming @source, and @list is unchanged.
 */
int cli_documents_split(const char *data, size_t len, const char *source, struct cli_document_list *list,
			struct tnd_error *err);
void cli_document_list_clear(struct cli_document_list *list);

/** True if @data is to be read as one JSON document: @source ends in ".json",
 *  or the first non-blank character is '{'. */
bool cli_documents_look_like_json(const char *source, const char *data, size_t len);

/** "application/json" or "application/yaml". */
const char *cli_document_content_type(const struct cli_document *doc);

/**
 * The request body for @doc: its text, for YAML preceded by line-1 empty
 * lines, so that the line numbers in the server's errors are line numbers
 * of the operator's file.  Caller frees.
 */
char *cli_document_body(const struct cli_document *doc, size_t *ret_len);

#endif /* TND_CLI_APPLY_H */
