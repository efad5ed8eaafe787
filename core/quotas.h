/*
 * quotas.h — a tenant's effective quotas (DESIGN.md §3, §10; issue 4).
 *
 * Effective quotas are the plan's defaults, overlaid by the manifest's
 * spec.quotas (validated against the plan's max_quotas), overlaid by the
 * tenant's active administrative overrides (POST /v1/overrides, bounded by
 * the plan's ceiling_quotas), field by field, newest override last.  They
 * are recorded in the registry's quota history (storage ABI 1.2: quotas)
 * in the transaction of every accepted write that changes them, so billing
 * can compare them over time.
 */
#ifndef TND_QUOTAS_H
#define TND_QUOTAS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "conf.h"

struct registry;
struct registry_txn;

/** The four quotas, by API name and config name, in schema order. */
struct quota_field {
	const char *name;          /* "computeUnits" (manifest, API) */
	const char *conf_name;     /* "compute_units" (tenancyd.conf) */
	size_t offset;             /* of the int64_t in struct tnd_quotas */
};
#define QUOTA_N_FIELDS 4
extern const struct quota_field quota_fields[QUOTA_N_FIELDS];

int64_t quota_get(const struct tnd_quotas *q, const struct quota_field *field);
void quota_set(struct tnd_quotas *q, const struct quota_field *field, int64_t value);
/** The field called @name ("storageGb"), or NULL. */
const struct quota_field *quota_field_find(const char *name);

/** Plan defaults overlaid by @manifest's spec.quotas (@manifest may be NULL). */
void quotas_from_manifest(const struct tnd_plan_conf *plan, const json_t *manifest, struct tnd_quotas *ret);
/** Overlay the quota members of an override's limits object onto @q. */
void quotas_apply_override(struct tnd_quotas *q, const json_t *limits);
bool quotas_equal(const struct tnd_quotas *a, const struct tnd_quotas *b);
/** The first field raised from @from to @to, or NULL if none is. */
const struct quota_field *quotas_first_raise(const struct tnd_quotas *from, const struct tnd_quotas *to);
/** {"computeUnits": .., ...} (new reference). */
json_t *quotas_to_json(const struct tnd_quotas *q);
/** Parse what quotas_to_json() wrote; false if a field is missing. */
bool quotas_from_json(const json_t *obj, struct tnd_quotas *ret);

/**
 * The effective quotas of tenant @tenant_id with plan @plan and manifest
 * @manifest, with the overrides active at @now_ms (read from the registry
 * when it stores them).  0, or a negative errno from the registry.
 */
int quotas_effective(struct registry *reg, const struct tnd_plan_conf *plan, const char *tenant_id,
		     const json_t *manifest, int64_t now_ms, struct tnd_quotas *ret, struct tnd_error *err);

/** The newest recorded quotas of @tenant_id: 0, -ENOENT if none (or no
 *  driver support), or another negative errno. */
int quotas_last_recorded(struct registry *reg, const char *tenant_id, struct tnd_quotas *ret,
			 struct tnd_error *err);

/** What a quota history entry says about its change. */
struct quota_change {
	const char *tenant_id;
	int64_t version;
	const char *source;         /* "manifest", "plan", "override" */
	const char *actor;
	const char *request_id;
	int64_t time_ms;
	bool first;                 /* the tenant is new: it has no history to compare with */
};

/**
 * Add a history entry for @effective to @txn unless it equals the newest
 * recorded one.  Nothing without driver support.  0 (and *@ret_added), or a
 * negative errno from reading the history.
 */
int quotas_record_if_changed(struct registry *reg, struct registry_txn *txn, const struct tnd_quotas *effective,
			     const struct quota_change *change, bool *ret_added, struct tnd_error *err);

#endif /* TND_QUOTAS_H */
