/*
 * api_events.c — GET /v1/events: replay of the event outbox by sequence
 * (docs/events.md, docs/api.md).
 *
 * `after` is the last sequence the caller has seen; the answer holds the
 * events after it in sequence order and `nextAfter`, the cursor for the
 * next call.  With `wait=SECONDS` an empty answer is held back until an
 * event commits or the wait ends (long poll, capped), so a follower does
 * not have to poll hard.  A tenant-scoped token sees its own tenant's
 * events only.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "conf.h"
#include "events.h"
#include "registry.h"
#include "util.h"

#define API_EVENTS_DEFAULT_LIMIT 100
#define API_EVENTS_MAX_LIMIT 1000
/* the longest long poll; below the default connection timeout */
#define API_EVENTS_MAX_WAIT_S 30
/* a waiting request looks again this often: for a drain, and for events
 * another instance sharing the registry committed (they wake no one here) */
#define API_EVENTS_WAIT_SLICE_MS 1000

static bool api_events_integer(const char *text, long long min, long long max, long long *ret)
{
	char *end;
	long long v;

	if (text == NULL)
		return true;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (*text == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

static bool api_events_type_valid(const char *type)
{
	size_t n = strlen(type);

	if (n == 0 || n > 48)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((type[i] >= 'a' && type[i] <= 'z') || type[i] == '_' || type[i] == '.'))
			return false;
	return true;
}

enum MHD_Result api_events_list(struct api_request *req)
{
	struct registry *reg = req->server->registry;
	long long after = 0, limit = API_EVENTS_DEFAULT_LIMIT, wait_s = 0;
	struct events_query query = { 0 };
	struct tnd_error err = { "" };
	int64_t deadline_us, last_seq = 0;
	json_t *items = NULL;
	int r;

	if (!registry_supports_events(reg))
		return api_fail(req, 501, "not-implemented", "Not implemented",
				"the storage driver keeps no event outbox (storage ABI 1.2 needed)");
	if (!api_events_integer(api_query(req, "after"), 0, INT64_MAX, &after))
		return api_fail(req, 400, "bad-request", "Bad request", "after must be a sequence number (0 or more)");
	if (!api_events_integer(api_query(req, "limit"), 1, API_EVENTS_MAX_LIMIT, &limit))
		return api_fail(req, 400, "bad-request", "Bad request", "limit must be an integer from 1 to %d",
				API_EVENTS_MAX_LIMIT);
	if (!api_events_integer(api_query(req, "wait"), 0, 3600, &wait_s))
		return api_fail(req, 400, "bad-request", "Bad request", "wait must be a number of seconds");
	query.after_seq = after;
	query.limit = (uint32_t)limit;
	query.tenant_id = api_query(req, "tenant");
	query.type = api_query(req, "type");
	if (query.type && !api_events_type_valid(query.type))
		return api_fail(req, 400, "bad-request", "Bad request",
				"type must be an event type, e.g. tenancy.tenant.created or created");
	if (req->principal.role == TND_ROLE_TENANT) {
		/* another tenant's id is answered as unknown, never confirmed */
		if (query.tenant_id && strcmp(query.tenant_id, req->principal.tenant) != 0)
			return api_fail(req, 404, "not-found", "Not found", "tenant %s does not exist", query.tenant_id);
		query.tenant_id = req->principal.tenant;
	}
	if (wait_s > API_EVENTS_MAX_WAIT_S)
		wait_s = API_EVENTS_MAX_WAIT_S;
	if (req->conf->api.connection_timeout_s > 1 && wait_s >= req->conf->api.connection_timeout_s)
		wait_s = req->conf->api.connection_timeout_s - 1;
	deadline_us = tnd_monotonic_us() + wait_s * 1000000;

	for (;;) {
		/* taken before the read: a commit between the read and the wait still wakes it */
		uint64_t generation = events_generation();
		int64_t left_ms;

		r = events_list(reg, &query, &items, &last_seq, &err);
		if (r < 0)
			return api_fail(req, 503, "storage-unavailable", "Storage unavailable", "events not read: %s",
					err.message);
		left_ms = (deadline_us - tnd_monotonic_us()) / 1000;
		if (json_array_size(items) > 0 || left_ms <= 0 || atomic_load(&req->server->draining))
			break;
		json_decref(items);
		items = NULL;
		events_wait(generation, left_ms < API_EVENTS_WAIT_SLICE_MS ? left_ms : API_EVENTS_WAIT_SLICE_MS);
	}
	return api_send_json(req, 200, json_pack("{s:o, s:I}", "items", items, "nextAfter", (json_int_t)last_seq), NULL,
			     NULL);
}
