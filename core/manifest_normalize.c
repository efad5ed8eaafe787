/*
 * manifest_normalize.c — the canonical form of a valid manifest: defaults
 * filled in from the plan, members in schema order, absent optionals
 * omitted.  The registry compares canonical forms to decide whether an
 * apply changes anything (re-applying an identical spec is a no-op, and
 * "state omitted" must equal "state: active"), so the output is built from
 * scratch in a fixed order rather than patched into a copy of the input:
 * jansson serialises members in insertion order.
 */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "manifest.h"
#include "manifest_private.h"
#include "util.h"

static void manifest_copy_member(json_t *dst, const json_t *src, const char *name)
{
	json_t *v = json_object_get(src, name);

	if (v)
		json_object_set_new(dst, name, json_deep_copy(v));
}

static int manifest_strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Labels are a set, so their canonical order is by key. */
static json_t *manifest_normalize_labels(const json_t *labels)
{
	size_t n = json_object_size(labels), i = 0;
	const char **keys = tnd_xcalloc(n, sizeof(*keys));
	json_t *out = json_object(), *value;
	const char *key;

	json_object_foreach ((json_t *)labels, key, value)
		keys[i++] = key;
	qsort(keys, n, sizeof(*keys), manifest_strcmp_ptr);
	for (i = 0; i < n; i++)
		json_object_set_new(out, keys[i], json_deep_copy(json_object_get(labels, keys[i])));
	free(keys);
	return out;
}

static json_t *manifest_normalize_metadata(const json_t *metadata)
{
	json_t *out = json_object();
	const json_t *labels = json_object_get(metadata, "labels");

	manifest_copy_member(out, metadata, "id");
	manifest_copy_member(out, metadata, "displayName");
	json_object_set_new(out, "labels", labels ? manifest_normalize_labels(labels) : json_object());
	return out;
}

static json_t *manifest_normalize_placement(const json_t *placement, const struct tnd_plan_conf *plan)
{
	json_t *out = json_object();
	const json_t *residency = json_object_get(placement, "residency");

	json_object_set_new(out, "residency",
			    residency ? json_deep_copy(residency) : json_string(plan->default_residency));
	/* allowedRegions keeps its order: it is the fallback order when the
	 * preferred region is unavailable, so two orders mean two things */
	manifest_copy_member(out, placement, "allowedRegions");
	manifest_copy_member(out, placement, "preferredRegion");
	manifest_copy_member(out, placement, "standbyRegion");
	return out;
}

/*
 * Only the quotas the manifest asks for.  The plan's defaults are not
 * copied in: they apply at runtime, so that changing a plan's defaults in
 * the config reaches every tenant that did not override them, without a
 * new spec version for each.
 */
static json_t *manifest_normalize_quotas(const json_t *quotas)
{
	json_t *out = json_object();

	for (size_t i = 0; i < TND_ARRAY_SIZE(manifest_quota_fields); i++)
		manifest_copy_member(out, quotas, manifest_quota_fields[i].name);
	return out;
}

static json_t *manifest_normalize_spec(const json_t *spec, const struct tnd_plan_conf *plan)
{
	json_t *out = json_object(), *quotas;
	const json_t *isolation = json_object_get(spec, "isolation");
	const json_t *state = json_object_get(spec, "state");
	const json_t *placement = json_object_get(spec, "placement");

	manifest_copy_member(out, spec, "plan");
	json_object_set_new(out, "isolation",
			    isolation ? json_deep_copy(isolation)
				      : json_string(isolation_name(plan->default_isolation)));
	json_object_set_new(out, "state", state ? json_deep_copy(state) : json_string("active"));
	json_object_set_new(out, "placement", manifest_normalize_placement(placement, plan));

	quotas = manifest_normalize_quotas(json_object_get(spec, "quotas"));
	/* "quotas: {}" asks for nothing, exactly like no quotas at all */
	if (json_object_size(quotas) > 0)
		json_object_set_new(out, "quotas", quotas);
	else
		json_decref(quotas);
	return out;
}

json_t *manifest_normalize(const json_t *doc, const struct tnd_conf *conf)
{
	const json_t *metadata = json_object_get(doc, "metadata");
	const json_t *spec = json_object_get(doc, "spec");
	const struct tnd_plan_conf *plan;
	json_t *out;

	/* only valid manifests have a canonical form; refuse rather than guess */
	if (!json_is_object(metadata) || !json_is_object(spec))
		return NULL;
	plan = conf_plan(conf, json_string_value(json_object_get(spec, "plan")));
	if (plan == NULL)
		return NULL;

	out = json_object();
	manifest_copy_member(out, doc, "apiVersion");
	manifest_copy_member(out, doc, "kind");
	json_object_set_new(out, "metadata", manifest_normalize_metadata(metadata));
	json_object_set_new(out, "spec", manifest_normalize_spec(spec, plan));
	return out;
}
