/*
 * problem.h — errors as the API reports them (RFC 9457 problem details).
 *
 * Core services return a struct problem instead of printing or choosing an
 * HTTP status themselves being unaware of HTTP; the API layer renders it as
 * application/problem+json.  `type` is one of the urn:tenancyd:problem:*
 * URIs listed in docs/api.md.
 */
#ifndef TND_PROBLEM_H
#define TND_PROBLEM_H

#include <jansson.h>

#include <tenancyd/plugin.h>

struct problem {
	int status;          /* HTTP status */
	const char *slug;    /* "validation-failed" → type urn:tenancyd:problem:validation-failed */
	const char *title;   /* short, fixed per slug */
	char *detail;        /* human explanation of this occurrence */
	json_t *errors;      /* array of {path, reason}, or NULL */
	json_t *extensions;  /* further members of the body (RFC 9457 §3.2), or NULL */
};

/** A new problem (free with problem_free). */
struct problem *problem_new(int status, const char *slug, const char *title, const char *fmt, ...)
	TND_PRINTF(4, 5);
/** Attach validation errors (takes the reference). */
void problem_set_errors(struct problem *p, json_t *errors);
/** Add extension member @key (e.g. "reasons") to the body; takes the reference. */
void problem_set_extension(struct problem *p, const char *key, json_t *value);
void problem_free(struct problem *p);
/** The problem+json body (new reference); @instance may be NULL. */
json_t *problem_to_json(const struct problem *p, const char *request_id);

#endif /* TND_PROBLEM_H */
