/*
 * manifest_private.h — what the manifest files share among themselves and
 * nobody else needs: the JSON and YAML back ends behind manifest_parse()
 * (manifest_parse.c, which has already checked the size limit and the
 * encoding before calling them), and the quota fields that validation and
 * normalization both walk in schema order.
 */
#ifndef TND_MANIFEST_PRIVATE_H
#define TND_MANIFEST_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "conf.h"
#include "manifest.h"

/* Messages quote user input; a 100 kB value is no clearer than its start. */
#define MANIFEST_EXCERPT_MAX 64
struct manifest_excerpt {
	char text[MANIFEST_EXCERPT_MAX + sizeof("...")];
};
/** @s itself if short, else its first MANIFEST_EXCERPT_MAX bytes (cut on a
 *  character boundary) and "..." in @buf. */
const char *manifest_excerpt(const char *s, struct manifest_excerpt *buf);
/* for use as a printf argument: the buffer lives until the end of the block */
#define MANIFEST_EXCERPT(s) manifest_excerpt((s), &(struct manifest_excerpt){ { 0 } })

/* spec.quotas members, in schema (and canonical output) order. */
struct manifest_quota_field {
	const char *name;     /* "storageGb" */
	size_t offset;        /* of the int64_t in struct tnd_quotas */
};
extern const struct manifest_quota_field manifest_quota_fields[4];

static inline int64_t manifest_quota_get(const struct tnd_quotas *quotas,
					 const struct manifest_quota_field *field)
{
	return *(const int64_t *)(const void *)((const char *)quotas + field->offset);
}

/**
 * Parse one JSON document of @len bytes (already known to be valid UTF-8
 * without NUL bytes).  0 and *@ret_doc, or -EINVAL with the problems
 * appended to @errors.
 */
int manifest_json_parse(const char *data, size_t len, const struct manifest_limits *limits,
			json_t **ret_doc, json_t *errors);

/**
 * Parse a YAML stream of @len bytes (valid UTF-8, no NUL bytes) into an
 * array of documents.  With @single, a second document is an error.
 * 0 and *@ret_docs (possibly empty), or -EINVAL with the problems appended
 * to @errors.
 */
int manifest_yaml_parse(const char *data, size_t len, const struct manifest_limits *limits,
			bool single, json_t **ret_docs, json_t *errors);

#endif /* TND_MANIFEST_PRIVATE_H */
