/*
 * api_webhooks.c — POST, GET and DELETE /v1/webhooks: webhook
 * subscriptions (DESIGN §7, docs/webhooks.md, docs/api.md).
 *
 * Creating one generates its `whsec_` secret, stores it sealed with the
 * credentials key (webhook_secret.c) and returns it in that one answer;
 * nothing else ever shows it.  A new subscription receives the events
 * committed after it: its cursor starts at the outbox's end.  The URL is
 * checked for shape here (http or https, a host); whether its address may
 * be reached is the webhook plugin's SSRF guard, at each attempt.
 * Deleting keeps the row (state "deleted") for its deliveries' history.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "events.h"
#include "log.h"
#include "manifest.h"
#include "registry.h"
#include "registry_webhooks.h"
#include "util.h"
#include "webhook_secret.h"

#define LOG_COMPONENT "webhooks"
#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_TYPES_MAX 32

static enum MHD_Result api_webhooks_unsupported(struct api_request *req)
{
	return api_fail(req, 501, "not-implemented", "Not implemented",
			"the storage driver keeps no webhook subscriptions (storage ABI 1.2 needed)");
}

static json_t *api_webhook_json(const struct tnd_webhook_record *rec)
{
	char created[32], updated[32];
	json_t *types = rec->types_json ? json_loads(rec->types_json, 0, NULL) : NULL;

	tnd_format_time(rec->created_ms, created);
	tnd_format_time(rec->updated_ms, updated);
	/* never the secret, sealed or not */
	return json_pack("{s:s, s:s, s:o, s:s?, s:s, s:s, s:s, s:s}", "id", rec->id, "url", rec->url, "types",
			 types ? types : json_null(), "tenant", rec->tenant_id, "state", rec->state, "createdAt",
			 created, "createdBy", rec->created_by, "updatedAt", updated);
}

/* http:// or https://, then a non-empty host; no spaces or controls. */
static bool api_webhook_url_valid(const char *url)
{
	const char *host;
	size_t n = strlen(url);

	if (n == 0 || n > WEBHOOK_URL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return false;
	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else
		return false;
	return *host != '\0' && *host != '/' && *host != ':' && *host != '?' && *host != '#';
}

static bool api_webhook_type_valid(const char *type)
{
	size_t n = strlen(type);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((type[i] >= 'a' && type[i] <= 'z') || type[i] == '_' || type[i] == '.'))
			return false;
	return true;
}

static void api_webhook_check(const json_t *body, json_t *errors)
{
	static const char *const known[] = { "url", "types", "tenant", NULL };
	const json_t *types = json_object_get(body, "types"), *tenant = json_object_get(body, "tenant");
	const char *url = json_string_value(json_object_get(body, "url"));

	api_reject_unknown(body, known, errors);
	if (url == NULL || !api_webhook_url_valid(url))
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "url", "reason",
							"required: an http:// or https:// URL with a host"));
	if (types && !json_is_null(types)) {
		size_t i;
		json_t *t;
		if (!json_is_array(types) || json_array_size(types) == 0 || json_array_size(types) > WEBHOOK_TYPES_MAX)
			json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "types", "reason",
								"1 to 32 event types, or absent for every type"));
		else
			json_array_foreach (types, i, t)
				if (!json_is_string(t) || !api_webhook_type_valid(json_string_value(t))) {
					char path[32];
					snprintf(path, sizeof(path), "types/%zu", i);
					json_array_append_new(errors,
							      json_pack("{s:s,s:s}", "path", path, "reason",
									"an event type, e.g. tenancy.tenant.created "
									"or created"));
				}
	}
	if (tenant && !json_is_null(tenant) &&
	    (!json_is_string(tenant) || !manifest_tenant_id_valid(json_string_value(tenant))))
		json_array_append_new(errors, json_pack("{s:s,s:s}", "path", "tenant", "reason", "a tenant id"));
}

struct api_webhook_last {
	int64_t seq;
	size_t seen;
};

static int api_webhook_last_visit(const struct tnd_event_record *rec, void *userdata)
{
	struct api_webhook_last *l = userdata;

	l->seq = rec->seq;
	l->seen++;
	return 0;
}

/* The outbox's last seq: where a new subscription starts. */
static int api_webhook_outbox_end(struct registry *reg, int64_t *ret_seq, struct tnd_error *err)
{
	struct api_webhook_last l = { 0 };
	int r;

	do {
		struct tnd_event_query q = { .size = sizeof(q), .after_seq = l.seq, .limit = 1000 };
		l.seen = 0;
		r = registry_event_list(reg, &q, api_webhook_last_visit, &l, err);
	} while (r == 0 && l.seen == 1000);
	*ret_seq = l.seq;
	return r;
}

enum MHD_Result api_webhook_create(struct api_request *req)
{
	struct registry *reg = req->server->registry;
	struct tnd_webhook_record rec = { .size = sizeof(rec) };
	char id[48], secret[WEBHOOK_SECRET_SIZE];
	char *sealed = NULL, *key_id = NULL, *types_text = NULL;
	json_t *body, *errors, *answer, *types;
	struct tnd_error err = { "" };
	struct registry_txn txn;
	enum MHD_Result result;
	int r;

	if (!registry_supports_webhooks(reg) || !registry_supports_events(reg))
		return api_webhooks_unsupported(req);
	if (!webhook_secret_available())
		return api_fail(req, 503, "no-credentials-key", "No credentials key",
				"subscription secrets are sealed with reconcile.credentials_key_file, which is not set");
	body = api_body_object(req, false, &result);
	if (body == NULL)
		return result;
	errors = json_array();
	api_webhook_check(body, errors);
	if (json_array_size(errors) > 0) {
		json_decref(body);
		return api_send_invalid(req, "subscription", errors);
	}
	json_decref(errors);
	types = json_object_get(body, "types");
	if (types && json_is_array(types))
		types_text = json_dumps(types, JSON_COMPACT);
	rec.created_ms = rec.updated_ms = tnd_now_ms();
	api_new_id("whk", rec.created_ms, id);
	if (webhook_secret_generate(secret) < 0 || webhook_secret_seal(id, secret, &sealed, &key_id, &err) < 0 ||
	    api_webhook_outbox_end(reg, &rec.cursor_seq, &err) < 0) {
		explicit_bzero(secret, sizeof(secret));
		free(types_text);
		free(sealed);
		free(key_id);
		json_decref(body);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "subscription not created: %s",
				err.message[0] ? err.message : "no random bytes");
	}
	rec.id = id;
	rec.url = json_string_value(json_object_get(body, "url"));
	rec.types_json = types_text;
	rec.tenant_id = json_string_value(json_object_get(body, "tenant"));
	rec.key_id = key_id;
	rec.secret_sealed = sealed;
	rec.state = "active";
	rec.created_by = req->principal.name;
	rec.request_id = req->request_id;
	registry_txn_init(&txn);
	registry_txn_add_webhook(&txn, &rec);
	api_audit_success(req, &txn, rec.tenant_id, id, "active");
	r = registry_commit(reg, &txn, NULL, &err);
	registry_txn_clear(&txn);
	if (r < 0) {
		explicit_bzero(secret, sizeof(secret));
		free(types_text);
		free(sealed);
		free(key_id);
		json_decref(body);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "subscription not stored: %s",
				err.message);
	}
	log_notice("webhook subscription %s created by %s for %s", id, req->principal.name, rec.url);
	answer = api_webhook_json(&rec);
	/* the only time the secret leaves the server */
	json_object_set_new(answer, "secret", json_string(secret));
	explicit_bzero(secret, sizeof(secret));
	free(types_text);
	free(sealed);
	free(key_id);
	json_decref(body);
	return api_send_json(req, 201, answer, NULL, NULL);
}

static int api_webhook_collect(const struct tnd_webhook_record *rec, void *userdata)
{
	json_array_append_new(userdata, api_webhook_json(rec));
	return 0;
}

#define API_WEBHOOKS_PAGE 100

enum MHD_Result api_webhook_list(struct api_request *req)
{
	struct tnd_webhook_query q = { .size = sizeof(q), .limit = API_WEBHOOKS_PAGE };
	struct tnd_error err = { "" };
	json_t *items, *last;

	if (!registry_supports_webhooks(req->server->registry))
		return api_webhooks_unsupported(req);
	q.after_id = api_query(req, "cursor");
	items = json_array();
	if (registry_webhook_list(req->server->registry, &q, api_webhook_collect, items, &err) < 0) {
		json_decref(items);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "subscriptions not read: %s",
				err.message);
	}
	last = json_array_size(items) == API_WEBHOOKS_PAGE ? json_array_get(items, API_WEBHOOKS_PAGE - 1) : NULL;
	return api_send_json(req, 200,
			     json_pack("{s:o, s:o}", "items", items, "nextCursor",
				       last ? json_incref(json_object_get(last, "id")) : json_null()),
			     NULL, NULL);
}

/* The subscription {id} (not deleted) as JSON into *@ret; a response sent otherwise. */
static bool api_webhook_find(struct api_request *req, json_t **ret, enum MHD_Result *ret_result)
{
	struct tnd_webhook_query q = { .size = sizeof(q), .id = req->params[0], .limit = 1 };
	struct tnd_error err = { "" };
	json_t *items = json_array();

	if (registry_webhook_list(req->server->registry, &q, api_webhook_collect, items, &err) < 0) {
		json_decref(items);
		*ret_result = api_fail(req, 503, "storage-unavailable", "Storage unavailable",
				       "subscription not read: %s", err.message);
		return false;
	}
	if (json_array_size(items) == 0) {
		json_decref(items);
		*ret_result = api_fail(req, 404, "not-found", "Not found", "subscription %s does not exist",
				       req->params[0]);
		return false;
	}
	*ret = json_incref(json_array_get(items, 0));
	json_decref(items);
	return true;
}

enum MHD_Result api_webhook_get(struct api_request *req)
{
	enum MHD_Result result;
	json_t *item;

	if (!registry_supports_webhooks(req->server->registry))
		return api_webhooks_unsupported(req);
	if (!api_webhook_find(req, &item, &result))
		return result;
	return api_send_json(req, 200, item, NULL, NULL);
}

enum MHD_Result api_webhook_delete(struct api_request *req)
{
	struct tnd_error err = { "" };
	struct registry_txn txn;
	enum MHD_Result result;
	json_t *item;
	int64_t now_ms = tnd_now_ms();
	char updated[32];
	int r;

	if (!registry_supports_webhooks(req->server->registry))
		return api_webhooks_unsupported(req);
	if (!api_webhook_find(req, &item, &result))
		return result;
	registry_txn_init(&txn);
	registry_txn_update_webhook(&txn, req->params[0], "deleted", 0, now_ms);
	api_audit_success(req, &txn, json_string_value(json_object_get(item, "tenant")), req->params[0], "deleted");
	r = registry_commit(req->server->registry, &txn, NULL, &err);
	registry_txn_clear(&txn);
	if (r < 0) {
		json_decref(item);
		return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "subscription not deleted: %s",
				err.message);
	}
	log_notice("webhook subscription %s deleted by %s", req->params[0], req->principal.name);
	tnd_format_time(now_ms, updated);
	json_object_set_new(item, "state", json_string("deleted"));
	json_object_set_new(item, "updatedAt", json_string(updated));
	return api_send_json(req, 200, item, NULL, NULL);
}
