/*
 * manifest_parse.c — the front door for manifest text: content types, the
 * {path, reason} error records, and the checks every format shares (size
 * first, then encoding) before the JSON or YAML back end builds a tree.
 *
 * The size limit is checked before anything reads the body so that an
 * oversized request costs nothing but its length.  The encoding is checked
 * once here, for both formats, so that a bad byte is reported the same way
 * (with its line) whatever the Content-Type said.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest.h"
#include "manifest_private.h"
#include "util.h"

/* Used when a caller passes no limits (tools, tests); the daemon always
 * passes api.max_body_bytes and api.max_depth from its config. */
static const struct manifest_limits manifest_default_limits = {
	.max_bytes = 1024 * 1024,
	.max_depth = 32,
};

static const struct {
	const char *media_type;
	enum manifest_format format;
} manifest_media_types[] = {
	{ "application/json", MANIFEST_FORMAT_JSON },
	{ "application/yaml", MANIFEST_FORMAT_YAML },
	{ "application/x-yaml", MANIFEST_FORMAT_YAML },
	{ "text/yaml", MANIFEST_FORMAT_YAML },
	{ "text/x-yaml", MANIFEST_FORMAT_YAML },
};

enum manifest_format manifest_format_from_content_type(const char *content_type)
{
	const char *start, *end;

	if (content_type == NULL)
		return 0;
	start = content_type + strspn(content_type, " \t");
	end = start + strcspn(start, ";");
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (size_t i = 0; i < TND_ARRAY_SIZE(manifest_media_types); i++) {
		const char *media_type = manifest_media_types[i].media_type;

		/* media types are case-insensitive (RFC 9110 §8.3.1) */
		if (strlen(media_type) == (size_t)(end - start) &&
		    strncasecmp(start, media_type, (size_t)(end - start)) == 0)
			return manifest_media_types[i].format;
	}
	return 0;
}

void manifest_error_add(json_t *errors, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *reason;
	int r;

	if (errors == NULL || !json_is_array(errors))
		return;
	va_start(ap, fmt);
	r = vasprintf(&reason, fmt, ap);
	va_end(ap);
	if (r < 0)
		abort();
	/* paths and reasons quote user input; json_string() refuses anything but
	 * valid UTF-8, and a lost error would turn a rejection into silence */
	if (!tnd_utf8_valid(reason, (size_t)r)) {
		free(reason);
		reason = tnd_xstrdup("(reason not representable: invalid UTF-8)");
	}
	if (path == NULL || !tnd_utf8_valid(path, strlen(path)))
		path = path ? "(path not representable: invalid UTF-8)" : "";
	json_array_append_new(errors, json_pack("{s:s, s:s}", "path", path, "reason", reason));
	free(reason);
}

const char *manifest_excerpt(const char *s, struct manifest_excerpt *buf)
{
	size_t cut = MANIFEST_EXCERPT_MAX;

	if (strlen(s) <= MANIFEST_EXCERPT_MAX)
		return s;
	/* s[cut] is the first byte left out; never leave half a character */
	while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(buf->text, s, cut);
	memcpy(buf->text + cut, "...", sizeof("..."));
	return buf->text;
}

/* Report where the first invalid byte is.  '\n' never occurs inside a
 * multi-byte sequence, so checking line by line finds the right line. */
static int manifest_check_encoding(const char *data, size_t len, json_t *errors)
{
	size_t line = 1;
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (!tnd_utf8_valid(p, line_len)) {
			if (memchr(p, '\0', line_len))
				manifest_error_add(errors, "", "line %zu: NUL byte in document", line);
			else
				manifest_error_add(errors, "", "line %zu: invalid UTF-8", line);
			return -EINVAL;
		}
		p += line_len + 1;
		line++;
	}
	return 0;
}

static int manifest_check_size(size_t len, const struct manifest_limits *limits, json_t *errors)
{
	if (len > limits->max_bytes) {
		manifest_error_add(errors, "", "document is %zu bytes, over the limit of %zu", len,
				   limits->max_bytes);
		return -EFBIG;
	}
	return 0;
}

int manifest_parse(const char *data, size_t len, enum manifest_format format,
		   const struct manifest_limits *limits, json_t **ret_doc, json_t *errors)
{
	json_t *docs = NULL, *doc;
	int r;

	if (limits == NULL)
		limits = &manifest_default_limits;
	r = manifest_check_size(len, limits, errors);
	if (r < 0)
		return r;
	if (data == NULL) {
		if (len > 0)
			return -EINVAL;
		data = "";
	}
	r = manifest_check_encoding(data, len, errors);
	if (r < 0)
		return r;

	switch (format) {
	case MANIFEST_FORMAT_JSON:
		return manifest_json_parse(data, len, limits, ret_doc, errors);
	case MANIFEST_FORMAT_YAML:
		r = manifest_yaml_parse(data, len, limits, true, &docs, errors);
		if (r < 0)
			return r;
		if (json_array_size(docs) == 0) {
			json_decref(docs);
			manifest_error_add(errors, "", "empty document");
			return -EINVAL;
		}
		doc = json_incref(json_array_get(docs, 0));
		json_decref(docs);
		*ret_doc = doc;
		return 0;
	}
	manifest_error_add(errors, "", "unsupported manifest format");
	return -EINVAL;
}

int manifest_parse_yaml_stream(const char *data, size_t len, const struct manifest_limits *limits,
			       json_t **ret_docs, json_t *errors)
{
	json_t *docs = NULL;
	int r;

	if (limits == NULL)
		limits = &manifest_default_limits;
	r = manifest_check_size(len, limits, errors);
	if (r < 0)
		return r;
	if (data == NULL) {
		if (len > 0)
			return -EINVAL;
		data = "";
	}
	r = manifest_check_encoding(data, len, errors);
	if (r < 0)
		return r;
	r = manifest_yaml_parse(data, len, limits, false, &docs, errors);
	if (r < 0)
		return r;
	if (json_array_size(docs) == 0) {
		json_decref(docs);
		manifest_error_add(errors, "", "the stream contains no documents");
		return -EINVAL;
	}
	*ret_docs = docs;
	return 0;
}
