/*
 * api_tokens.c — POST, GET and DELETE /v1/tokens: API tokens kept in the
 * registry, next to those of the tokens file (which stays the bootstrap
 * source and keeps working unchanged).
 *
 * Creating a token generates its secret (the same "tnd_" format as the
 * tokens file), stores only its SHA-256 and returns the secret in that one
 * answer; listing shows everything but secrets and hashes.  The in-memory
 * index (token_index.c) learns of a create or revoke only after it
 * committed, so authentication never reads the registry and a revoked
 * token fails on the next request.  A client sets name, role, tenant and
 * lifetime; id, hash, times and revocation are the server's, and a body
 * naming any of them is refused (422).
 *
 * Also here: loading the indexes at start, and the small body helpers the
 * break-glass routes share.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "breakglass.h"
#include "conf.h"
#include "log.h"
#include "manifest.h"
#include "problem.h"
#include "registry.h"
#include "registry_tokens.h"
#include "security_events.h"
#include "token_index.h"
#include "util.h"

#define LOG_COMPONENT "tokens"
#define TOKEN_TTL_MAX_S (3660LL * 86400)   /* ten years and a bit */
#define TOKEN_LOAD_PAGE 1000

/* --- shared helpers ------------------------------------------------------------------- */

void api_new_id(const char *prefix, int64_t now_ms, char out[48])
{
	unsigned char random[4];

	if (tnd_random_bytes(random, sizeof(random)) < 0)
		memset(random, 0, sizeof(random));
	snprintf(out, 48, "%s-%013lld-%02x%02x%02x%02x", prefix, (long long)now_ms, random[0], random[1], random[2],
		 random[3]);
}

json_t *api_body_object(struct api_request *req, bool empty_ok, enum MHD_Result *ret_result)
{
	json_t *body;

	if (empty_ok && req->body.len == 0)
		return json_object();
	body = json_loadb(req->body.data ? req->body.data : "", req->body.len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(body)) {
		json_decref(body);
		*ret_result = api_fail(req, 400, "malformed-document", "Malformed document",
				       "the body must be one JSON object");
		return NULL;
	}
	return body;
}

void api_reject_unknown(const json_t *body, const char *const *known, json_t *errors)
{
	const char *key;
	json_t *value;

	json_object_foreach ((json_t *)body, key, value) {
		bool found = false;

		for (const char *const *k = known; *k && !found; k++)
			found = strcmp(*k, key) == 0;
		if (!found)
			json_array_append_new(errors, json_pack("{s:s,s:s}", "path", key, "reason",
								"unknown or server-owned member"));
	}
}

enum MHD_Result api_send_invalid(struct api_request *req, const char *what, json_t *errors)
{
	struct problem *p = problem_new(422, "validation-failed", "Request invalid", "the %s has %zu problem(s)", what,
					json_array_size(errors));

	problem_set_errors(p, errors);
	return api_send_problem(req, p);
}

/* --- loading at start ------------------------------------------------------------------- */

struct api_tokens_loader {
	struct api_server *server;
	char last[48];
	size_t seen, bad;
	int64_t now_ms;
};

static int api_tokens_load_token(const struct tnd_token_record *rec, void *userdata)
{
	struct api_tokens_loader *l = userdata;

	tnd_strlcpy(l->last, rec->id, sizeof(l->last));
	l->seen++;
	if (token_index_add(l->server->token_index, rec) < 0)
		l->bad++;
	return 0;
}

static int api_tokens_load_grant(const struct tnd_grant_record *rec, void *userdata)
{
	struct api_tokens_loader *l = userdata;

	tnd_strlcpy(l->last, rec->id, sizeof(l->last));
	l->seen++;
	breakglass_add(l->server->breakglass, rec, l->now_ms);
	return 0;
}

int api_tokens_load(struct api_server *server, struct tnd_error *err)
{
	struct api_tokens_loader l = { .server = server, .now_ms = tnd_now_ms() };
	int r;

	server->token_index = token_index_new();
	server->breakglass = breakglass_new();
	if (!registry_supports_tokens(server->registry)) {
		log_notice("the storage driver predates registry tokens (storage ABI 1.2): only the tokens file "
			   "authenticates, /v1/tokens and /v1/breakglass answer 501");
		return 0;
	}
	do {
		struct tnd_token_query q = { .size = sizeof(q), .after_id = l.last[0] ? l.last : NULL,
					     .limit = TOKEN_LOAD_PAGE };
		l.seen = 0;
		r = registry_token_list(server->registry, &q, api_tokens_load_token, &l, err);
	} while (r == 0 && l.seen == TOKEN_LOAD_PAGE);
	if (r < 0)
		return r;
	if (l.bad)
		log_warning("%zu registry token(s) could not be indexed (unknown role or malformed hash): they do "
			    "not authenticate", l.bad);
	l.last[0] = '\0';
	do {
		struct tnd_grant_query q = { .size = sizeof(q), .state = "approved",
					     .after_id = l.last[0] ? l.last : NULL, .limit = TOKEN_LOAD_PAGE };
		l.seen = 0;
		r = registry_grant_list(server->registry, &q, api_tokens_load_grant, &l, err);
	} while (r == 0 && l.seen == TOKEN_LOAD_PAGE);
	if (r < 0)
		return r;
	log_info("%zu registry token(s) loaded", token_index_count(server->token_index));
	return 0;
}

void api_tokens_unload(struct api_server *server)
{
	token_index_free(server->token_index);
	breakglass_free(server->breakglass);
	server->token_index = NULL;
	server->breakglass = NULL;
}

/* --- the representation --------------------------------------------------------------- */

static const char *api_token_state(const struct tnd_token_record *rec, int64_t now_ms)
{
	if (rec->revoked_ms)
		return "revoked";
	if (rec->expires_ms && now_ms >= rec->expires_ms)
		return "expired";
	return "active";
}

static json_t *api_time_or_null(int64_t ms)
{
	char when[32];

	if (ms == 0)
		return json_null();
	tnd_format_time(ms, when);
	return json_string(when);
}

/* Never the hash: it is as good as the secret for an offline guess. */
static json_t *api_token_json(const struct tnd_token_record *rec, int64_t now_ms)
{
	return json_pack("{s:s,s:s,s:s,s:s?,s:s,s:o,s:s,s:o,s:o,s:s?}", "id", rec->id, "name", rec->name, "role",
			 rec->role, "tenant", rec->tenant_id, "state", api_token_state(rec, now_ms), "createdAt",
			 api_time_or_null(rec->created_ms), "createdBy", rec->created_by, "expiresAt",
			 api_time_or_null(rec->expires_ms), "revokedAt", api_time_or_null(rec->revoked_ms),
			 "revokedBy", rec->revoked_by);
}

static enum MHD_Result api_tokens_unsupported(struct api_request *req)
{
	return api_fail(req, 501, "not-implemented", "Not implemented",
			"the storage driver does not store tokens (storage ABI 1.2 needed)");
}

/* --- POST /v1/tokens ------------------------------------------------------------------- */

/* Check the body and fill @rec's client fields; false with @errors filled. */
static bool api_token_check(const json_t *body, struct tnd_token_record *rec, int64_t *ret_ttl, json_t *errors)
{
	static const char *const known[] = { "name", "role", "tenant", "ttlSeconds", NULL };
	const json_t *ttl = json_object_get(body, "ttlSeconds");
	enum tnd_role role;

	api_reject_unknown(body, known, errors);
	rec->name = json_string_value(json_object_get(body, "name"));
	if (rec->name == NULL || !tokens_name_valid(rec->name))
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "name", "reason",
							"required: 1 to 64 of A-Z a-z 0-9 . _ -"));
	rec->role = json_string_value(json_object_get(body, "role"));
	role = rec->role ? role_parse(rec->role) : TND_ROLE_NONE;
	if (role == TND_ROLE_NONE)
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "role", "reason",
							"required: admin, operator, auditor, viewer or tenant"));
	rec->tenant_id = json_string_value(json_object_get(body, "tenant"));
	if (role == TND_ROLE_TENANT && (rec->tenant_id == NULL || !manifest_tenant_id_valid(rec->tenant_id)))
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "tenant", "reason",
							"role tenant needs the tenant id it may read"));
	else if (role != TND_ROLE_TENANT && json_object_get(body, "tenant"))
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "tenant", "reason",
							"only a token of role tenant names a tenant"));
	*ret_ttl = 0;
	if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 1 ||
		    json_integer_value(ttl) > TOKEN_TTL_MAX_S))
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "ttlSeconds", "reason",
							"must be an integer from 1 to 316224000"));
	else if (ttl)
		*ret_ttl = json_integer_value(ttl);
	return json_array_size(errors) == 0;
}

enum MHD_Result api_token_create(struct api_request *req)
{
	struct tnd_token_record rec = { .size = sizeof(rec) };
	json_t *body, *errors, *answer;
	struct registry_txn txn;
	struct tnd_error err;
	char id[48], hash[65], secret[TND_TOKEN_SIZE], detail[160];
	enum MHD_Result result;
	int64_t ttl;
	int r;

	if (!registry_supports_tokens(req->server->registry))
		return api_tokens_unsupported(req);
	/* a grant is time-limited; a token it made would outlive it */
	if (req->principal.base_role != TND_ROLE_ADMIN) {
		security_event_record(&req->principal, req->request_id,
					      "token.create", NULL, "denied", "break-glass grants do not create tokens");
		return api_fail(req, 403, "forbidden", "Forbidden",
				"tokens are created by admin tokens, not under a break-glass grant");
	}
	body = api_body_object(req, false, &result);
	if (body == NULL)
		return result;
	errors = json_array();
	if (!api_token_check(body, &rec, &ttl, errors)) {
		json_decref(body);
		return api_send_invalid(req, "token", errors);
	}
	json_decref(errors);
	rec.created_ms = tnd_now_ms();
	if ((req->conf->tokens && tokens_has_name(req->conf->tokens, rec.name)) ||
	    token_index_name_taken(req->server->token_index, rec.name, rec.created_ms)) {
		/* rec.name points into @body: answer before freeing it */
		result = api_fail(req, 409, "conflict", "Conflict", "a token named %s exists; revoke it first", rec.name);
		json_decref(body);
		return result;
	}
	api_new_id("tok", rec.created_ms, id);
	tokens_generate(secret);
	tokens_hash(secret, hash);
	rec.id = id;
	rec.hash = hash;
	rec.created_by = req->principal.name;
	rec.request_id = req->request_id;
	rec.expires_ms = ttl ? rec.created_ms + ttl * 1000 : 0;
	registry_txn_init(&txn);
	registry_txn_add_token(&txn, &rec);
	api_audit_success(req, &txn, rec.tenant_id, id, rec.role);
	r = registry_commit(req->server->registry, &txn, NULL, &err);
	registry_txn_clear(&txn);
	if (r == 0 && token_index_add(req->server->token_index, &rec) < 0) {
		/* stored but not indexed (cannot happen for a record that passed
		 * the checks above): revoke it, or it would start to work at the
		 * next restart with a secret nobody was given */
		registry_txn_init(&txn);
		registry_txn_revoke_token(&txn, id, "tenancyd", rec.created_ms);
		if (registry_commit(req->server->registry, &txn, NULL, &err) < 0)
			log_error("token %s was stored but not indexed, and could not be revoked: %s", id,
				  err.message);
		registry_txn_clear(&txn);
		tnd_error_set(&err, "the token could not be indexed");
		r = -EIO;
	}
	if (r < 0) {
		explicit_bzero(secret, sizeof(secret));
		json_decref(body);
		security_event_record(&req->principal, req->request_id, "token.create", id, "failed", err.message);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "token not stored: %s",
				r == -EEXIST ? "its id or hash is taken" : err.message);
	}
	snprintf(detail, sizeof(detail), "token %s, role %s%s%s", rec.name, rec.role, rec.tenant_id ? " of tenant " : "",
		 rec.tenant_id ? rec.tenant_id : "");
	security_event_record(&req->principal, req->request_id, "token.create", id, "allowed", detail);
	answer = api_token_json(&rec, rec.created_ms);
	/* the only time the secret leaves the server */
	json_object_set_new(answer, "token", json_string(secret));
	explicit_bzero(secret, sizeof(secret));
	json_decref(body);
	{
		char location[96];

		snprintf(location, sizeof(location), "/v1/tokens/%s", id);
		return api_send_json(req, 201, answer, NULL, location);
	}
}

/* --- GET /v1/tokens ----------------------------------------------------------------------- */

struct api_token_lister {
	json_t *items;
	bool all;
	int64_t now_ms;
	size_t seen;
	char last[48];
};

static int api_token_collect(const struct tnd_token_record *rec, void *userdata)
{
	struct api_token_lister *l = userdata;

	l->seen++;
	tnd_strlcpy(l->last, rec->id, sizeof(l->last));
	if (l->all || strcmp(api_token_state(rec, l->now_ms), "active") == 0)
		json_array_append_new(l->items, api_token_json(rec, l->now_ms));
	return 0;
}

enum MHD_Result api_token_list(struct api_request *req)
{
	const char *all = api_query(req, "all");
	struct tnd_token_query q = { .size = sizeof(q), .after_id = api_query(req, "cursor") };
	struct api_token_lister l = { .now_ms = tnd_now_ms() };
	struct tnd_error err;
	int r;

	if (!registry_supports_tokens(req->server->registry))
		return api_tokens_unsupported(req);
	l.all = all && strcmp(all, "true") == 0;
	q.limit = 100;
	if (!api_query_limit(req, 1000, &q.limit))
		return api_fail_limit(req, 1000);
	l.items = json_array();
	r = registry_token_list(req->server->registry, &q, api_token_collect, &l, &err);
	if (r < 0) {
		json_decref(l.items);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "%s", err.message);
	}
	/* the cursor walks stored rows, so a page may show fewer (the active ones) */
	return api_send_json(req, 200,
			     json_pack("{s:o,s:o}", "items", l.items, "nextCursor",
				       l.seen == q.limit ? json_string(l.last) : json_null()),
			     NULL, NULL);
}

/* --- DELETE /v1/tokens/{id} ------------------------------------------------------------------ */

enum MHD_Result api_token_revoke(struct api_request *req)
{
	const char *id = req->params[0];
	struct registry_txn txn;
	struct tnd_error err;
	json_t *answer;
	int64_t now_ms = tnd_now_ms();
	int r;

	if (!registry_supports_tokens(req->server->registry))
		return api_tokens_unsupported(req);
	registry_txn_init(&txn);
	registry_txn_revoke_token(&txn, id, req->principal.name, now_ms);
	api_audit_success(req, &txn, NULL, id, "revoked");
	r = registry_commit(req->server->registry, &txn, NULL, &err);
	registry_txn_clear(&txn);
	if (r == -ENOENT)
		return api_fail(req, 404, "not-found", "Not found", "token %s does not exist", id);
	if (r == -EALREADY)
		return api_fail(req, 409, "conflict", "Conflict", "token %s is revoked already", id);
	if (r < 0) {
		security_event_record(&req->principal, req->request_id, "token.revoke", id, "failed", err.message);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "%s", err.message);
	}
	/* committed: from the next request on, it no longer authenticates */
	token_index_revoke(req->server->token_index, id);
	security_event_record(&req->principal, req->request_id, "token.revoke", id, "allowed", "revoked");
	{
		struct tnd_token_query q = { .size = sizeof(q), .id = id, .limit = 1 };
		struct api_token_lister l = { .now_ms = now_ms, .all = true, .items = json_array() };

		r = registry_token_list(req->server->registry, &q, api_token_collect, &l, &err);
		if (r < 0 || json_array_size(l.items) != 1) {
			json_decref(l.items);
			return api_send_json(req, 200, json_pack("{s:s,s:s}", "id", id, "state", "revoked"), NULL, NULL);
		}
		answer = json_incref(json_array_get(l.items, 0));
		json_decref(l.items);
		return api_send_json(req, 200, answer, NULL, NULL);
	}
}
