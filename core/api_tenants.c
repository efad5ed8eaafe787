/*
 * api_tenants.c — the /v1/tenants routes: apply, read, search, lineage,
 * lifecycle sugar and delete.  HTTP concerns only (parsing bodies and query
 * strings, Idempotency-Key, ETags); decisions live in tenant_service.c.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_internal.h"
#include "conf.h"
#include "doc_cache.h"
#include "host.h"
#include "lifecycle.h"
#include "log.h"
#include "manifest.h"
#include "problem.h"
#include "registry.h"
#include "tenant_service.h"
#include "util.h"

#define LOG_COMPONENT "api"

#define API_LIST_DEFAULT 100
#define API_LIST_MAX 1000
#define API_MAX_LABEL_FILTERS 8

/* --- shared pieces ---------------------------------------------------------- */

static enum MHD_Result api_storage_failed(struct api_request *req, int r, const struct tnd_error *err)
{
	log_error("registry read failed: %s (%s)", err->message[0] ? err->message : "no detail", strerror(-r));
	return api_fail(req, 503, "storage-unavailable", "Registry unavailable", "the registry could not be read");
}

static enum MHD_Result api_tenant_missing(struct api_request *req, const char *id)
{
	return api_fail(req, 404, "not-found", "Not found", "tenant %s does not exist", id);
}

/*
 * Idempotency-Key (POST/PUT/DELETE): the first request with a key stores its
 * response in the same transaction as its change; a repeat with the same
 * method, path and body gets that response again, a repeat with anything
 * else gets 422.  Keys are scoped to the token's name.
 */
struct api_idempotency {
	char *key;
	char hash[65];
};

/* Returns true when a stored response was sent (or an error); false to proceed. */
static bool api_idempotency_begin(struct api_request *req, struct api_idempotency *idem, enum MHD_Result *ret)
{
	const char *key = api_header(req, "Idempotency-Key");
	struct idempotent_response stored;
	struct tnd_error err = { "" };
	struct tnd_buf material;
	int r;

	idem->key = NULL;
	if (key == NULL)
		return false;
	if (strlen(key) == 0 || strlen(key) > 255 || !tnd_utf8_valid(key, strlen(key))) {
		*ret = api_fail(req, 400, "bad-request", "Bad request", "Idempotency-Key must be 1 to 255 characters");
		return true;
	}
	tnd_buf_init(&material);
	tnd_buf_addf(&material, "%s\n%s\n", req->method, req->path);
	if (req->body.len)
		tnd_buf_add(&material, req->body.data, req->body.len);
	tnd_sha256_hex(material.data, material.len, idem->hash);
	tnd_buf_free(&material);
	idem->key = tnd_xasprintf("%s\n%s", req->principal.name, key);

	r = registry_idempotency_get(req->server->registry, idem->key, &stored, &err);
	if (r == -ENOENT)
		return false;
	if (r < 0) {
		*ret = api_storage_failed(req, r, &err);
		return true;
	}
	if (strcmp(stored.request_hash, idem->hash) != 0)
		*ret = api_fail(req, 422, "idempotency-key-reused", "Idempotency-Key reused",
				"this Idempotency-Key was already used with a different request");
	else
		*ret = api_send_stored(req, stored.response);
	json_decref(stored.response);
	return true;
}

/*
 * ?dryRun=true: run every gate and write nothing (docs/api.md, "Dry runs").
 * Returns true when a 400 was queued for a bad value.
 */
static bool api_dry_run_param(struct api_request *req, bool *ret_dry_run, enum MHD_Result *ret)
{
	const char *value = api_query(req, "dryRun");

	*ret_dry_run = false;
	if (value == NULL || strcmp(value, "false") == 0)
		return false;
	if (strcmp(value, "true") == 0) {
		*ret_dry_run = true;
		return false;
	}
	*ret = api_fail(req, 400, "bad-request", "Bad request", "dryRun must be true or false");
	return true;
}

static void api_request_ctx(struct api_request *req, const struct api_idempotency *idem, bool dry_run,
			    struct request_ctx *rctx)
{
	memset(rctx, 0, sizeof(*rctx));
	rctx->request_id = req->request_id;
	rctx->actor = req->principal.name;
	rctx->actor_role = role_name(req->principal.role);
	rctx->dry_run = dry_run;
	rctx->if_match = api_header(req, MHD_HTTP_HEADER_IF_MATCH);
	rctx->idempotency_key = idem->key;
	rctx->request_hash = idem->hash;
	rctx->idempotency_ttl_ms = req->conf->api.idempotency_ttl_s * 1000;
	rctx->action = req->audit_action[0] ? req->audit_action : NULL;
	rctx->target = req->path;
}

static enum MHD_Result api_finish(struct api_request *req, int r, json_t *response, struct problem *problem)
{
	enum MHD_Result result;

	if (r < 0)
		return api_send_problem(req, problem);
	result = api_send_stored(req, response);
	json_decref(response);
	return result;
}

/* --- PUT /v1/tenants/{id} ---------------------------------------------------------- */

enum MHD_Result api_tenant_put(struct api_request *req)
{
	const char *content_type = api_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	enum manifest_format format = manifest_format_from_content_type(content_type);
	struct manifest_limits limits = { req->conf->api.max_body_bytes, req->conf->api.max_depth };
	struct api_idempotency idem = { NULL, "" };
	struct problem *problem = NULL;
	json_t *errors, *doc = NULL, *response = NULL;
	struct request_ctx rctx;
	enum MHD_Result ret;
	bool dry_run;
	int r;

	if (api_dry_run_param(req, &dry_run, &ret))
		return ret;
	if (format == 0)
		return api_fail(req, 415, "unsupported-media-type", "Unsupported media type",
				"Content-Type %s is not supported; use application/json or application/yaml",
				content_type ? content_type : "(none)");
	errors = json_array();
	r = manifest_parse(req->body.data ? req->body.data : "", req->body.len, format, &limits, &doc, errors);
	if (r == -EFBIG) {
		json_decref(errors);
		return api_fail(req, 413, "payload-too-large", "Payload too large",
				"the manifest is larger than the limit of %zu bytes", limits.max_bytes);
	}
	if (r < 0) {
		problem = problem_new(400, "malformed-document", "Malformed document",
				      "the body is not a well-formed %s document", format == MANIFEST_FORMAT_YAML ? "YAML" : "JSON");
		problem_set_errors(problem, errors);
		return api_send_problem(req, problem);
	}
	json_decref(errors);
	/* a dry run leaves no idempotency record, so it neither replays nor claims a key */
	if (!dry_run && api_idempotency_begin(req, &idem, &ret)) {
		json_decref(doc);
		free(idem.key);
		return ret;
	}
	api_request_ctx(req, &idem, dry_run, &rctx);
	r = tenant_apply(req->server->registry, req->conf, doc, req->params[0], &rctx, &response, &problem);
	json_decref(doc);
	free(idem.key);
	return api_finish(req, r, response, problem);
}

/* --- lifecycle sugar and DELETE ------------------------------------------------------ */

static enum MHD_Result api_tenant_action(struct api_request *req, enum tenant_action action)
{
	struct api_idempotency idem = { NULL, "" };
	struct problem *problem = NULL;
	json_t *response = NULL;
	struct request_ctx rctx;
	enum MHD_Result ret;
	bool dry_run;
	int r;

	if (api_dry_run_param(req, &dry_run, &ret))
		return ret;
	if (!dry_run && api_idempotency_begin(req, &idem, &ret)) {
		free(idem.key);
		return ret;
	}
	api_request_ctx(req, &idem, dry_run, &rctx);
	r = tenant_act(req->server->registry, req->conf, req->params[0], action, &rctx, &response, &problem);
	free(idem.key);
	return api_finish(req, r, response, problem);
}

enum MHD_Result api_tenant_suspend(struct api_request *req)
{
	return api_tenant_action(req, TENANT_ACTION_SUSPEND);
}

enum MHD_Result api_tenant_resume(struct api_request *req)
{
	return api_tenant_action(req, TENANT_ACTION_RESUME);
}

enum MHD_Result api_tenant_archive(struct api_request *req)
{
	return api_tenant_action(req, TENANT_ACTION_ARCHIVE);
}

enum MHD_Result api_tenant_delete(struct api_request *req)
{
	return api_tenant_action(req, TENANT_ACTION_DELETE);
}

/* --- GET /v1/tenants/{id} ------------------------------------------------------------- */

static void api_entry_release(void *text)
{
	doc_entry_unref((const struct doc_entry *)((char *)text - offsetof(struct doc_entry, text)));
}

enum MHD_Result api_tenant_get(struct api_request *req)
{
	const struct doc_entry *entry = NULL;
	struct tnd_error err = { "" };
	struct MHD_Response *resp;
	const char *if_none_match;
	enum MHD_Result result;
	char etag[32];
	int r = registry_tenant_document(req->server->registry, req->params[0], &entry, &err);

	if (r == -ENOENT)
		return api_tenant_missing(req, req->params[0]);
	if (r < 0)
		return api_storage_failed(req, r, &err);
	snprintf(etag, sizeof(etag), "\"%lld\"", (long long)entry->version);
	if_none_match = api_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (if_none_match && (strcmp(if_none_match, etag) == 0 || strcmp(if_none_match, "*") == 0)) {
		doc_entry_unref(entry);
		return api_send_not_modified(req, etag);
	}
	/* the cached text goes out as it is; MHD drops our reference when done */
	resp = MHD_create_response_from_buffer_with_free_callback(entry->len, (void *)entry->text,
								  api_entry_release);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	result = api_queue_response(req, 200, resp);
	return result;
}

/* --- GET /v1/tenants ------------------------------------------------------------------- */

struct api_list_state {
	json_t *items;
	const char *only_id;   /* tenant-scoped token: its own id */
	char last_id[64];
	uint32_t seen;
	bool passed_own;
};

static int api_list_visit(const struct tenant_row *row, void *userdata)
{
	struct api_list_state *st = userdata;

	st->seen++;
	tnd_strlcpy(st->last_id, row->id, sizeof(st->last_id));
	if (st->only_id) {
		int c = strcmp(row->id, st->only_id);
		if (c > 0) {
			st->passed_own = true;
			return 1;
		}
		if (c != 0)
			return 0;
	}
	json_array_append_new(st->items, tenant_document(row));
	return 0;
}

struct api_label_args {
	char *keys[API_MAX_LABEL_FILTERS];
	char *values[API_MAX_LABEL_FILTERS];
	size_t n;
	bool bad;
};

static enum MHD_Result api_collect_labels(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct api_label_args *labels = cls;
	const char *eq;

	(void)kind;
	if (strcmp(key, "label") != 0)
		return MHD_YES;
	eq = value ? strchr(value, '=') : NULL;
	if (eq == NULL || labels->n >= API_MAX_LABEL_FILTERS) {
		labels->bad = true;
		return MHD_NO;
	}
	labels->keys[labels->n] = tnd_xstrndup(value, (size_t)(eq - value));
	labels->values[labels->n] = tnd_xstrdup(eq + 1);
	if (!manifest_label_valid(labels->keys[labels->n]) || !manifest_label_valid(labels->values[labels->n]))
		labels->bad = true;
	labels->n++;
	return MHD_YES;
}


enum MHD_Result api_tenant_list(struct api_request *req)
{
	const char *phase_arg = api_query(req, "state") ? api_query(req, "state") : api_query(req, "phase");
	const char *cursor = api_query(req, "cursor");
	struct tnd_tenant_query query = { .size = sizeof(query), .limit = API_LIST_DEFAULT };
	struct api_list_state st = { .items = json_array() };
	struct api_label_args labels = { .n = 0 };
	struct tnd_error err = { "" };
	char after[64] = "";
	enum MHD_Result result;
	json_t *body;
	int r = 0;

	if (!api_query_limit(req, API_LIST_MAX, &query.limit)) {
		result = api_fail_limit(req, API_LIST_MAX);
		goto out;
	}
	if (phase_arg) {
		enum tnd_phase phase = lifecycle_phase_parse(phase_arg);
		if (phase == TND_PHASE_INVALID) {
			result = api_fail(req, 400, "bad-request", "Bad request",
					  "state must be one of draft, active, suspended, archived, deleted");
			goto out;
		}
		query.phase = lifecycle_phase_name(phase);
	}
	if (cursor) {
		size_t n = 0;
		r = tnd_base64url_decode(cursor, strlen(cursor), (unsigned char *)after, sizeof(after) - 1, &n);
		after[r == 0 ? n : 0] = '\0';
		if (r < 0 || !manifest_tenant_id_valid(after)) {
			result = api_fail(req, 400, "bad-request", "Bad request", "cursor is not one this server issued");
			goto out;
		}
		query.after_id = after;
	}
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, api_collect_labels, &labels);
	if (labels.bad) {
		result = api_fail(req, 400, "bad-request", "Bad request",
				  "label filters are label=key=value with [A-Za-z0-9._-]{1,63} on both sides, at most %d",
				  API_MAX_LABEL_FILTERS);
		goto out;
	}
	query.isolation = api_query(req, "isolation");
	query.region = api_query(req, "region");
	query.plan = api_query(req, "plan");
	query.label_keys = (const char *const *)labels.keys;
	query.label_values = (const char *const *)labels.values;
	query.n_labels = labels.n;

	if (req->principal.role == TND_ROLE_TENANT) {
		/* walk pages until the token's own id is reached or passed */
		st.only_id = req->principal.tenant;
		do {
			st.seen = 0;
			r = registry_tenant_search(req->server->registry, &query, api_list_visit, &st, &err);
			tnd_strlcpy(after, st.last_id, sizeof(after));
			query.after_id = after;
		} while (r == 0 && !st.passed_own && st.seen == query.limit && json_array_size(st.items) == 0);
		st.seen = 0; /* a tenant sees at most itself: never a next page */
	} else {
		r = registry_tenant_search(req->server->registry, &query, api_list_visit, &st, &err);
	}
	if (r < 0) {
		result = api_storage_failed(req, r, &err);
		goto out;
	}
	body = json_object();
	json_object_set(body, "items", st.items);
	if (st.seen == query.limit && st.last_id[0]) {
		char encoded[96];
		tnd_base64url_encode(st.last_id, strlen(st.last_id), encoded);
		json_object_set_new(body, "nextCursor", json_string(encoded));
	} else {
		json_object_set_new(body, "nextCursor", json_null());
	}
	result = api_send_json(req, 200, body, NULL, NULL);
out:
	json_decref(st.items);
	for (size_t i = 0; i < labels.n; i++) {
		free(labels.keys[i]);
		free(labels.values[i]);
	}
	return result;
}

/* --- lineage --------------------------------------------------------------------------------- */

static bool api_parse_int64(const char *text, int64_t min, int64_t *ret)
{
	char *end;
	long long v;

	if (text == NULL || *text == '\0')
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (*end != '\0' || errno || v < min)
		return false;
	*ret = v;
	return true;
}

/* 404 unless tenant @id exists; true when a response was queued. */
static bool api_require_tenant(struct api_request *req, enum MHD_Result *ret)
{
	struct tenant_row *row = NULL;
	struct tnd_error err = { "" };
	int r = registry_tenant_get(req->server->registry, req->params[0], &row, &err);

	tenant_row_free(row);
	if (r == 0)
		return false;
	*ret = r == -ENOENT ? api_tenant_missing(req, req->params[0]) : api_storage_failed(req, r, &err);
	return true;
}

typedef int api_lineage_fn(struct registry *reg, const char *id, int64_t after, uint32_t limit,
			   json_t **ret_items, struct tnd_error *err);

static enum MHD_Result api_lineage(struct api_request *req, api_lineage_fn *list, const char *key)
{
	const char *after_arg = api_query(req, "after");
	struct tnd_error err = { "" };
	int64_t after = 0;
	uint32_t limit = API_LIST_DEFAULT;
	enum MHD_Result ret;
	json_t *items, *body, *last;
	int r;

	if (after_arg && !api_parse_int64(after_arg, 0, &after))
		return api_fail(req, 400, "bad-request", "Bad request", "after must be a non-negative integer");
	if (!api_query_limit(req, API_LIST_MAX, &limit))
		return api_fail_limit(req, API_LIST_MAX);
	if (api_require_tenant(req, &ret))
		return ret;
	r = list(req->server->registry, req->params[0], after, limit, &items, &err);
	if (r < 0)
		return api_storage_failed(req, r, &err);
	body = json_object();
	last = json_array_get(items, json_array_size(items) - 1);
	json_object_set_new(body, "items", items);
	if (json_array_size(items) == limit && last)
		json_object_set_new(body, "next", json_integer(json_integer_value(json_object_get(last, key))));
	else
		json_object_set_new(body, "next", json_null());
	return api_send_json(req, 200, body, NULL, NULL);
}

enum MHD_Result api_tenant_versions(struct api_request *req)
{
	return api_lineage(req, registry_versions, "version");
}

enum MHD_Result api_tenant_transitions(struct api_request *req)
{
	return api_lineage(req, registry_transitions, "seq");
}

enum MHD_Result api_tenant_version(struct api_request *req)
{
	struct tnd_error err = { "" };
	int64_t version;
	json_t *item = NULL;
	int r;

	if (!api_parse_int64(req->params[1], 1, &version))
		return api_fail(req, 404, "not-found", "Not found", "versions are numbered from 1");
	r = registry_version(req->server->registry, req->params[0], version, &item, &err);
	if (r == -ENOENT)
		return api_fail(req, 404, "not-found", "Not found", "tenant %s has no version %lld", req->params[0],
				(long long)version);
	if (r < 0)
		return api_storage_failed(req, r, &err);
	return api_send_json(req, 200, item, NULL, NULL);
}
