/*
 * api_response.c — how the API answers: JSON bodies, RFC 9457 problems,
 * replayed idempotent responses, and the headers every answer carries
 * (X-Request-Id, Cache-Control, and the RateLimit headers of api_ratelimit.c).
 */
#include "autoconfig.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "problem.h"
#include "util.h"

enum MHD_Result api_queue_response(struct api_request *req, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result r;

	MHD_add_response_header(resp, "X-Request-Id", req->request_id);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	api_ratelimit_add_headers(req, resp);
	r = MHD_queue_response(req->conn, status, resp);
	MHD_destroy_response(resp);
	req->status = status;
	return r;
}

static struct MHD_Response *api_json_response(json_t *body, const char *content_type)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	struct MHD_Response *resp;

	if (text == NULL)
		text = tnd_xstrdup("null");
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	return resp;
}

enum MHD_Result api_send_json(struct api_request *req, unsigned status, json_t *body, const char *etag,
			      const char *location)
{
	struct MHD_Response *resp = api_json_response(body, "application/json");

	json_decref(body);
	if (etag)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	if (location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	return api_queue_response(req, status, resp);
}

enum MHD_Result api_send_text(struct api_request *req, unsigned status, const char *content_type,
			      const char *text, size_t len)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	return api_queue_response(req, status, resp);
}

static struct MHD_Response *api_problem_response(struct api_request *req, const struct problem *problem)
{
	json_t *body = problem_to_json(problem, req->request_id);
	struct MHD_Response *resp = api_json_response(body, "application/problem+json");

	json_decref(body);
	if (problem->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"tenancyd\"");
	return resp;
}

enum MHD_Result api_send_not_modified(struct api_request *req, const char *etag)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

	/* RFC 9110 §15.4.5: a 304 carries the ETag and Cache-Control a 200 would */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	return api_queue_response(req, MHD_HTTP_NOT_MODIFIED, resp);
}

enum MHD_Result api_send_problem(struct api_request *req, struct problem *problem)
{
	unsigned status;
	struct MHD_Response *resp;

	problem = api_audit_problem(req, problem);
	status = (unsigned)problem->status;
	resp = api_problem_response(req, problem);

	problem_free(problem);
	return api_queue_response(req, status, resp);
}

enum MHD_Result api_fail(struct api_request *req, unsigned status, const char *slug, const char *title,
			 const char *fmt, ...)
{
	struct problem *p;
	char detail[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	p = problem_new((int)status, slug, title, "%s", detail);
	return api_send_problem(req, p);
}

enum MHD_Result api_send_method_not_allowed(struct api_request *req, const char *allow)
{
	struct problem *p = problem_new(405, "method-not-allowed", "Method not allowed",
					"%s is not supported on %s; allowed: %s", req->method, req->path, allow);
	struct MHD_Response *resp = api_problem_response(req, p);

	problem_free(p);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	return api_queue_response(req, 405, resp);
}

enum MHD_Result api_send_stored(struct api_request *req, const json_t *response)
{
	unsigned status = (unsigned)json_integer_value(json_object_get(response, "status"));
	const json_t *headers = json_object_get(response, "headers");
	json_t *body = json_object_get(response, "body");
	bool problem = status >= 400;
	struct MHD_Response *resp = api_json_response(body, problem ? "application/problem+json" : "application/json");
	const char *name;
	json_t *value;

	json_object_foreach((json_t *)headers, name, value)
		if (json_is_string(value))
			MHD_add_response_header(resp, name, json_string_value(value));
	return api_queue_response(req, status ? status : 500, resp);
}

const char *api_header(const struct api_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *api_query(const struct api_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool api_query_limit(const struct api_request *req, uint32_t max, uint32_t *ret)
{
	const char *text = api_query(req, "limit");
	char *end;
	unsigned long v;

	if (text == NULL)
		return true;
	if (*text < '0' || *text > '9')
		return false; /* strtoul would take "-1" and " 5" */
	v = strtoul(text, &end, 10);
	if (*end != '\0' || v < 1 || v > max)
		return false;
	*ret = (uint32_t)v;
	return true;
}

enum MHD_Result api_fail_limit(struct api_request *req, uint32_t max)
{
	return api_fail(req, 400, "bad-request", "Bad request", "limit must be an integer from 1 to %u", max);
}
