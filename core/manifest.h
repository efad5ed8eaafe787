/*
 * manifest.h — tenant manifests v1 (DESIGN.md §3): parsing YAML or JSON into
 * one JSON tree under hard limits, validating it against the schema and the
 * catalogue in the config, and normalizing it.
 *
 * Parsing rejects, with one error each: bodies over the size limit, nesting
 * deeper than the depth limit, duplicate keys, invalid UTF-8, syntax errors,
 * YAML aliases/anchors/custom tags, and (for the single-document parser)
 * more than one document.  Validation collects every problem it finds, each
 * as {"path": "spec.placement.allowedRegions[2]", "reason": "..."}: unknown
 * fields, wrong types, bad ids and labels, unknown plan/region/residency,
 * server-owned fields (status, metadata.version, ...).
 */
#ifndef TND_MANIFEST_H
#define TND_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <tenancyd/plugin.h>

struct tnd_conf;

enum manifest_format {
	MANIFEST_FORMAT_JSON = 1,
	MANIFEST_FORMAT_YAML = 2,
};

struct manifest_limits {
	size_t max_bytes;     /* whole document */
	unsigned max_depth;   /* objects/arrays nested deeper than this are rejected */
};

/** Map a Content-Type header value (parameters such as charset allowed) to a
 *  format: application/json, application/yaml, application/x-yaml, text/yaml,
 *  text/x-yaml.  0 if unsupported. */
enum manifest_format manifest_format_from_content_type(const char *content_type);

/** Append {"path": @path, "reason": <formatted>} to the array @errors. */
void manifest_error_add(json_t *errors, const char *path, const char *fmt, ...) TND_PRINTF(3, 4);

/**
 * Parse exactly one document.  0 and *@ret_doc (new reference), or:
 * -EFBIG over max_bytes, -EINVAL for anything else, with the problems
 * appended to @errors (path "" for document-level problems).
 */
int manifest_parse(const char *data, size_t len, enum manifest_format format,
		   const struct manifest_limits *limits, json_t **ret_doc, json_t *errors);

/** Parse a YAML stream of one or more documents (tenancyctl apply -f) into a
 *  JSON array of documents.  Same limits, per document and in total. */
int manifest_parse_yaml_stream(const char *data, size_t len, const struct manifest_limits *limits,
			       json_t **ret_docs, json_t *errors);

/** ^[a-z][a-z0-9-]{1,38}[a-z0-9]$ */
bool manifest_tenant_id_valid(const char *id);
/** [A-Za-z0-9._-]{1,63} */
bool manifest_label_valid(const char *s);

/**
 * Validate @doc against the v1 schema and the catalogue of @conf (plans,
 * regions, residency zones).  Appends every problem to @errors; returns 0
 * if there were none, -EINVAL otherwise.
 */
int manifest_validate(const json_t *doc, const struct tnd_conf *conf, json_t *errors);

/**
 * The canonical form of a valid manifest: defaults filled in (spec.state
 * "active"; spec.isolation and spec.placement.residency from the plan;
 * metadata.labels {}), members in schema order, absent optionals omitted.
 * Two manifests that mean the same produce equal JSON.  New reference.
 */
json_t *manifest_normalize(const json_t *doc, const struct tnd_conf *conf);

#endif /* TND_MANIFEST_H */
