/*
 * problem.c — RFC 9457 problem details (see problem.h).
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "problem.h"
#include "util.h"

struct problem *problem_new(int status, const char *slug, const char *title, const char *fmt, ...)
{
	struct problem *p = tnd_xcalloc(1, sizeof(*p));
	va_list ap;

	p->status = status;
	p->slug = slug;
	p->title = title;
	va_start(ap, fmt);
	if (vasprintf(&p->detail, fmt, ap) < 0)
		p->detail = NULL;
	va_end(ap);
	if (p->detail == NULL)
		p->detail = tnd_xstrdup(title);
	return p;
}

void problem_set_errors(struct problem *p, json_t *errors)
{
	json_decref(p->errors);
	p->errors = errors;
}

void problem_set_extension(struct problem *p, const char *key, json_t *value)
{
	if (p->extensions == NULL)
		p->extensions = json_object();
	json_object_set_new(p->extensions, key, value);
}

void problem_free(struct problem *p)
{
	if (p == NULL)
		return;
	free(p->detail);
	json_decref(p->errors);
	json_decref(p->extensions);
	free(p);
}

json_t *problem_to_json(const struct problem *p, const char *request_id)
{
	json_t *body = json_object();
	char type[128];

	/* extensions first: the standard members below always win */
	if (p->extensions)
		json_object_update(body, p->extensions);
	snprintf(type, sizeof(type), "urn:tenancyd:problem:%s", p->slug);
	json_object_set_new(body, "type", json_string(type));
	json_object_set_new(body, "title", json_string(p->title));
	json_object_set_new(body, "status", json_integer(p->status));
	json_object_set_new(body, "detail", json_string(p->detail));
	if (p->errors)
		json_object_set(body, "errors", p->errors);
	if (request_id)
		json_object_set_new(body, "requestId", json_string(request_id));
	return body;
}
