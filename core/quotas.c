/*
 * quotas.c — computing, comparing and recording effective quotas (see
 * quotas.h).  Pure functions over struct tnd_quotas, plus the two registry
 * reads (active overrides, newest history entry) an apply needs.
 */
#include "autoconfig.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "quotas.h"
#include "registry.h"
#include "util.h"

const struct quota_field quota_fields[QUOTA_N_FIELDS] = {
	{ "computeUnits", "compute_units", offsetof(struct tnd_quotas, compute_units) },
	{ "storageGb", "storage_gb", offsetof(struct tnd_quotas, storage_gb) },
	{ "eventsPerMinute", "events_per_minute", offsetof(struct tnd_quotas, events_per_minute) },
	{ "concurrentOperations", "concurrent_operations", offsetof(struct tnd_quotas, concurrent_operations) },
};

int64_t quota_get(const struct tnd_quotas *q, const struct quota_field *field)
{
	return *(const int64_t *)(const void *)((const char *)q + field->offset);
}

void quota_set(struct tnd_quotas *q, const struct quota_field *field, int64_t value)
{
	*(int64_t *)(void *)((char *)q + field->offset) = value;
}

const struct quota_field *quota_field_find(const char *name)
{
	for (size_t i = 0; i < QUOTA_N_FIELDS; i++)
		if (tnd_streq(quota_fields[i].name, name))
			return &quota_fields[i];
	return NULL;
}

/* Overlay the positive integer members of @obj named like quota fields. */
static void quotas_overlay(struct tnd_quotas *q, const json_t *obj)
{
	for (size_t i = 0; i < QUOTA_N_FIELDS; i++) {
		const json_t *v = json_object_get(obj, quota_fields[i].name);

		if (json_is_integer(v) && json_integer_value(v) > 0)
			quota_set(q, &quota_fields[i], json_integer_value(v));
	}
}

void quotas_from_manifest(const struct tnd_plan_conf *plan, const json_t *manifest, struct tnd_quotas *ret)
{
	*ret = plan->quotas;
	quotas_overlay(ret, json_object_get(json_object_get(manifest, "spec"), "quotas"));
}

void quotas_apply_override(struct tnd_quotas *q, const json_t *limits)
{
	quotas_overlay(q, limits);
}

bool quotas_equal(const struct tnd_quotas *a, const struct tnd_quotas *b)
{
	for (size_t i = 0; i < QUOTA_N_FIELDS; i++)
		if (quota_get(a, &quota_fields[i]) != quota_get(b, &quota_fields[i]))
			return false;
	return true;
}

const struct quota_field *quotas_first_raise(const struct tnd_quotas *from, const struct tnd_quotas *to)
{
	for (size_t i = 0; i < QUOTA_N_FIELDS; i++)
		if (quota_get(to, &quota_fields[i]) > quota_get(from, &quota_fields[i]))
			return &quota_fields[i];
	return NULL;
}

json_t *quotas_to_json(const struct tnd_quotas *q)
{
	json_t *obj = json_object();

	for (size_t i = 0; i < QUOTA_N_FIELDS; i++)
		json_object_set_new(obj, quota_fields[i].name, json_integer(quota_get(q, &quota_fields[i])));
	return obj;
}

bool quotas_from_json(const json_t *obj, struct tnd_quotas *ret)
{
	struct tnd_quotas q = { 0 };

	for (size_t i = 0; i < QUOTA_N_FIELDS; i++) {
		const json_t *v = json_object_get(obj, quota_fields[i].name);

		if (!json_is_integer(v))
			return false;
		quota_set(&q, &quota_fields[i], json_integer_value(v));
	}
	*ret = q;
	return true;
}

/* Overrides are visited in id (= creation) order: the newest one's fields land last. */
static int quotas_override_visit(const struct tnd_override_record *rec, void *userdata)
{
	json_t *limits = json_loads(rec->limits_json, 0, NULL);

	quotas_apply_override(userdata, limits);
	json_decref(limits);
	return 0;
}

int quotas_effective(struct registry *reg, const struct tnd_plan_conf *plan, const char *tenant_id,
		     const json_t *manifest, int64_t now_ms, struct tnd_quotas *ret, struct tnd_error *err)
{
	struct tnd_override_query query = {
		.size = sizeof(query), .tenant_id = tenant_id, .active_at_ms = now_ms, .limit = 1000,
	};
	struct tnd_quotas q;
	int r;

	quotas_from_manifest(plan, manifest, &q);
	if (reg && registry_supports_overrides(reg)) {
		r = registry_override_list(reg, &query, quotas_override_visit, &q, err);
		if (r < 0)
			return r;
	}
	*ret = q;
	return 0;
}

struct quotas_last {
	struct tnd_quotas quotas;
	bool found;
};

static int quotas_last_visit(const struct tnd_quota_record *rec, void *userdata)
{
	struct quotas_last *last = userdata;
	json_t *obj = json_loads(rec->quotas_json, 0, NULL);

	last->found = quotas_from_json(obj, &last->quotas);
	json_decref(obj);
	return 1;
}

int quotas_last_recorded(struct registry *reg, const char *tenant_id, struct tnd_quotas *ret,
			 struct tnd_error *err)
{
	struct tnd_quota_query query = { .size = sizeof(query), .tenant_id = tenant_id, .newest_first = 1, .limit = 1 };
	struct quotas_last last = { .found = false };
	int r;

	if (!registry_supports_quotas(reg))
		return -ENOENT;
	r = registry_quota_list(reg, &query, quotas_last_visit, &last, err);
	if (r < 0)
		return r;
	if (!last.found)
		return -ENOENT;
	*ret = last.quotas;
	return 0;
}

int quotas_record_if_changed(struct registry *reg, struct registry_txn *txn, const struct tnd_quotas *effective,
			     const struct quota_change *change, bool *ret_added, struct tnd_error *err)
{
	struct tnd_quota_record rec = { .size = sizeof(rec) };
	struct tnd_quotas last;
	json_t *obj;
	char *text;
	int r;

	*ret_added = false;
	if (!registry_supports_quotas(reg))
		return 0;
	/* a tenant id is never reused: a new tenant has no history to read */
	r = change->first ? -ENOENT : quotas_last_recorded(reg, change->tenant_id, &last, err);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0 && quotas_equal(&last, effective))
		return 0;
	obj = quotas_to_json(effective);
	text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(obj);
	rec.tenant_id = change->tenant_id;
	rec.version = change->version;
	rec.quotas_json = text;
	rec.source = change->source;
	rec.actor = change->actor;
	rec.request_id = change->request_id;
	rec.time_ms = change->time_ms;
	registry_txn_add_quota(txn, &rec);
	free(text);
	*ret_added = true;
	return 0;
}
