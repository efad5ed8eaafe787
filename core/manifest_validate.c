/*
 * manifest_validate.c — the v1 manifest schema (DESIGN.md §3) checked
 * against a parsed tree and the config's catalogue (plans, regions,
 * residency zones).
 *
 * Validation never stops at the first problem: an operator fixing a
 * manifest should see every mistake in one round trip, each with the path
 * of the offending field.  It must also never trust the tree's shape, since
 * it is the code that establishes it: every access checks the type first.
 * Catalogue checks that depend on another field (isolation vs. plan,
 * regions vs. residency zone) are skipped when that other field is itself
 * wrong, so one mistake is reported once rather than cascading.
 */
#include "autoconfig.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "lifecycle.h"
#include "manifest.h"
#include "manifest_private.h"
#include "util.h"

#define MANIFEST_API_VERSION "tenancy/v1"
#define MANIFEST_KIND "Tenant"
#define MANIFEST_MAX_LABELS 64
#define MANIFEST_MAX_DISPLAY_NAME 200
#define MANIFEST_MAX_ALLOWED_REGIONS 16
/* A hostile body can hold a hundred thousand unknown fields; the answer
 * need not list them all. */
#define MANIFEST_MAX_REPORTED_PROBLEMS 100

const struct manifest_quota_field manifest_quota_fields[4] = {
	{ "computeUnits", offsetof(struct tnd_quotas, compute_units) },
	{ "storageGb", offsetof(struct tnd_quotas, storage_gb) },
	{ "eventsPerMinute", offsetof(struct tnd_quotas, events_per_minute) },
	{ "concurrentOperations", offsetof(struct tnd_quotas, concurrent_operations) },
};

struct manifest_check {
	const struct tnd_conf *conf;
	json_t *errors;        /* may be NULL: the caller only wants the verdict */
	size_t n_problems;
};

static void manifest_problem(struct manifest_check *c, const char *path, const char *fmt, ...)
	TND_PRINTF(3, 4);

static void manifest_problem(struct manifest_check *c, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *reason;

	if (++c->n_problems > MANIFEST_MAX_REPORTED_PROBLEMS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&reason, fmt, ap) < 0)
		abort();
	va_end(ap);
	manifest_error_add(c->errors, path, "%s", reason);
	free(reason);
}

/* "spec" + "plan" → "spec.plan"; caller frees. */
static char *manifest_path(const char *parent, const char *name)
{
	return *parent ? tnd_xasprintf("%s.%s", parent, name) : tnd_xstrdup(name);
}

static const char *manifest_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "value";
}

/* Type checks that report "expected <type>" at @path; false on mismatch. */
static bool manifest_expect(struct manifest_check *c, const char *path, const json_t *v, json_type type)
{
	if (json_typeof(v) == type)
		return true;
	switch (type) {
	case JSON_OBJECT:
		manifest_problem(c, path, "expected object");
		break;
	case JSON_ARRAY:
		manifest_problem(c, path, "expected array");
		break;
	case JSON_STRING:
		manifest_problem(c, path, "expected string");
		break;
	default:
		/* booleans and reals such as 4.0 are deliberately not integers */
		manifest_problem(c, path, "expected integer");
		break;
	}
	return false;
}

static bool manifest_in_list(const char *name, const char *const *list)
{
	for (; list && *list; list++)
		if (strcmp(name, *list) == 0)
			return true;
	return false;
}

/* Report members of @obj that are neither @known nor checked elsewhere:
 * server-owned ones with advice, the rest as unknown. */
static void manifest_check_members(struct manifest_check *c, const json_t *obj, const char *path,
				   const char *const *known, const char *const *server_owned)
{
	const char *key;
	json_t *value;

	json_object_foreach ((json_t *)obj, key, value) {
		_cleanup_free_ char *member = NULL;

		if (manifest_in_list(key, known))
			continue;
		member = manifest_path(path, key);
		if (manifest_in_list(key, server_owned))
			manifest_problem(c, member, "server-owned field; remove it");
		else
			manifest_problem(c, member, "unknown field");
	}
}

/* The member @name of @obj if present and of @type; problems reported. */
static const json_t *manifest_member(struct manifest_check *c, const json_t *obj, const char *path,
				     const char *name, json_type type, bool required)
{
	const json_t *v = json_object_get(obj, name);
	_cleanup_free_ char *member = manifest_path(path, name);

	if (v == NULL) {
		if (required)
			manifest_problem(c, member, "required field");
		return NULL;
	}
	return manifest_expect(c, member, v, type) ? v : NULL;
}

bool manifest_tenant_id_valid(const char *id)
{
	size_t len;

	if (id == NULL)
		return false;
	len = strlen(id);
	if (len < 3 || len > 40)
		return false;
	if (!(id[0] >= 'a' && id[0] <= 'z'))
		return false;
	for (size_t i = 1; i < len; i++) {
		char ch = id[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!alnum && !(ch == '-' && i < len - 1))
			return false;
	}
	return true;
}

bool manifest_label_valid(const char *s)
{
	size_t len;

	if (s == NULL)
		return false;
	len = strlen(s);
	return len >= 1 && len <= 63 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* Characters (code points) in a valid UTF-8 string; -1 if it holds a
 * control character (C0, DEL or C1). */
static long manifest_display_chars(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	long chars = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return -1;
		/* U+0080..U+009F are encoded as C2 80 .. C2 9F */
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return -1;
		if ((p[i] & 0xc0) != 0x80)
			chars++;
	}
	return chars;
}

static void manifest_check_labels(struct manifest_check *c, const json_t *labels)
{
	const char *key;
	json_t *value;

	if (json_object_size(labels) > MANIFEST_MAX_LABELS)
		manifest_problem(c, "metadata.labels", "too many labels: %zu (at most %d)",
				 json_object_size(labels), MANIFEST_MAX_LABELS);
	json_object_foreach ((json_t *)labels, key, value) {
		_cleanup_free_ char *path = manifest_path("metadata.labels", key);

		if (!manifest_label_valid(key))
			manifest_problem(c, path, "invalid label key '%s': must match [A-Za-z0-9._-]{1,63}",
					 MANIFEST_EXCERPT(key));
		if (manifest_expect(c, path, value, JSON_STRING) &&
		    !manifest_label_valid(json_string_value(value)))
			manifest_problem(c, path, "invalid label value '%s': must match [A-Za-z0-9._-]{1,63}",
					 MANIFEST_EXCERPT(json_string_value(value)));
	}
}

static void manifest_check_metadata(struct manifest_check *c, const json_t *metadata)
{
	static const char *const known[] = { "id", "displayName", "labels", NULL };
	static const char *const server_owned[] = { "version", "createdAt", "updatedAt", "uid", NULL };
	const json_t *v;

	v = manifest_member(c, metadata, "metadata", "id", JSON_STRING, true);
	if (v && !manifest_tenant_id_valid(json_string_value(v)))
		manifest_problem(c, "metadata.id",
				 "invalid tenant id '%s': must match ^[a-z][a-z0-9-]{1,38}[a-z0-9]$ "
				 "(3 to 40 lower-case letters, digits and dashes)",
				 MANIFEST_EXCERPT(json_string_value(v)));

	v = manifest_member(c, metadata, "metadata", "displayName", JSON_STRING, false);
	if (v) {
		long chars = manifest_display_chars(json_string_value(v), json_string_length(v));

		if (chars < 0)
			manifest_problem(c, "metadata.displayName", "control characters are not allowed");
		else if (chars < 1 || chars > MANIFEST_MAX_DISPLAY_NAME)
			manifest_problem(c, "metadata.displayName", "must be 1 to %d characters, got %ld",
					 MANIFEST_MAX_DISPLAY_NAME, chars);
	}

	v = manifest_member(c, metadata, "metadata", "labels", JSON_OBJECT, false);
	if (v)
		manifest_check_labels(c, v);

	manifest_check_members(c, metadata, "metadata", known, server_owned);
}

/* "shared, hybrid" from a plan's isolation bits; caller frees. */
static char *manifest_isolation_list(unsigned modes)
{
	char *list = tnd_xstrdup("");

	for (unsigned bit = 1; bit <= TND_ISOLATION_HYBRID; bit <<= 1) {
		char *next;

		if (!(modes & bit))
			continue;
		next = tnd_xasprintf("%s%s%s", list, *list ? ", " : "", isolation_name(bit));
		free(list);
		list = next;
	}
	return list;
}

static char *manifest_plan_list(const struct tnd_conf *conf)
{
	char *list = tnd_xstrdup("");

	for (size_t i = 0; conf && i < conf->n_plans; i++) {
		char *next = tnd_xasprintf("%s%s%s", list, *list ? ", " : "", conf->plans[i].code);

		free(list);
		list = next;
	}
	return list;
}

static void manifest_check_isolation(struct manifest_check *c, const json_t *spec,
				     const struct tnd_plan_conf *plan)
{
	const json_t *v = manifest_member(c, spec, "spec", "isolation", JSON_STRING, false);
	unsigned bit;

	if (v == NULL)
		return;
	bit = isolation_parse(json_string_value(v));
	if (bit == 0) {
		manifest_problem(c, "spec.isolation",
				 "unknown isolation mode '%s': expected shared, dedicated or hybrid",
				 MANIFEST_EXCERPT(json_string_value(v)));
	} else if (plan && !(plan->isolation_modes & bit)) {
		_cleanup_free_ char *allowed = manifest_isolation_list(plan->isolation_modes);

		manifest_problem(c, "spec.isolation", "isolation %s is not allowed by plan %s (allowed: %s)",
				 json_string_value(v), plan->code, allowed);
	}
}

static void manifest_check_state(struct manifest_check *c, const json_t *spec)
{
	const json_t *v = manifest_member(c, spec, "spec", "state", JSON_STRING, false);
	enum tnd_phase phase;
	const char *s;

	if (v == NULL)
		return;
	s = json_string_value(v);
	phase = lifecycle_phase_parse(s);
	/* spec.state is spelled in lower case; "Active" is a phase, not a state */
	if (phase == TND_PHASE_INVALID || strcmp(s, lifecycle_state_name(phase)) != 0)
		manifest_problem(c, "spec.state",
				 "unknown state '%s': expected draft, active, suspended or archived",
				 MANIFEST_EXCERPT(s));
	else if (!lifecycle_state_requestable(phase))
		manifest_problem(c, "spec.state",
				 "state '%s' cannot be requested in a manifest; delete the tenant with "
				 "DELETE /v1/tenants/{id} instead",
				 s);
}

/* The known region named by string @v at @path, or NULL after reporting. */
static const struct tnd_region_conf *manifest_check_region(struct manifest_check *c, const char *path,
							   const json_t *v)
{
	const struct tnd_region_conf *region;

	if (!manifest_expect(c, path, v, JSON_STRING))
		return NULL;
	region = conf_region(c->conf, json_string_value(v));
	if (region == NULL)
		manifest_problem(c, path, "unknown region '%s'", MANIFEST_EXCERPT(json_string_value(v)));
	return region;
}

static bool manifest_string_array_has(const json_t *array, const char *s)
{
	for (size_t i = 0; i < json_array_size(array); i++)
		if (tnd_streq(json_string_value(json_array_get(array, i)), s))
			return true;
	return false;
}

/* allowedRegions; returns the array if it can be used to check
 * preferredRegion against (right type and size), else NULL. */
static const json_t *manifest_check_allowed_regions(struct manifest_check *c, const json_t *placement,
						    const char *zone, bool zone_defaulted)
{
	const char *path = "spec.placement.allowedRegions";
	const json_t *regions = manifest_member(c, placement, "spec.placement", "allowedRegions",
						JSON_ARRAY, false);
	_cleanup_free_ bool *seen = NULL;  /* by index in conf->regions: linear even for huge arrays */
	size_t n;

	if (regions == NULL)
		return NULL;
	seen = tnd_xcalloc(c->conf ? c->conf->n_regions : 0, sizeof(*seen));
	n = json_array_size(regions);
	if (n < 1 || n > MANIFEST_MAX_ALLOWED_REGIONS)
		manifest_problem(c, path, "must list 1 to %d regions, got %zu", MANIFEST_MAX_ALLOWED_REGIONS, n);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *item = tnd_xasprintf("%s[%zu]", path, i);
		const json_t *v = json_array_get(regions, i);
		const struct tnd_region_conf *region = manifest_check_region(c, item, v);

		if (region == NULL)
			continue;
		if (seen[region - c->conf->regions])
			manifest_problem(c, item, "duplicate region '%s'", region->name);
		else if (zone && strcmp(region->residency, zone) != 0)
			manifest_problem(c, item, "region %s is in residency zone %s, not %s%s", region->name,
					 region->residency, zone,
					 zone_defaulted ? " (the plan's default residency)" : "");
		seen[region - c->conf->regions] = true;
	}
	return n >= 1 && n <= MANIFEST_MAX_ALLOWED_REGIONS ? regions : NULL;
}

static void manifest_check_placement(struct manifest_check *c, const json_t *placement,
				     const struct tnd_plan_conf *plan)
{
	static const char *const known[] = { "residency", "allowedRegions", "preferredRegion",
					     "standbyRegion", NULL };
	const struct tnd_region_conf *preferred = NULL, *standby = NULL;
	const json_t *v, *allowed;
	const char *zone = NULL;
	bool zone_defaulted = false;

	v = json_object_get(placement, "residency");
	if (v == NULL) {
		zone = plan ? plan->default_residency : NULL;
		zone_defaulted = true;
	} else if (manifest_expect(c, "spec.placement.residency", v, JSON_STRING)) {
		if (conf_residency_known(c->conf, json_string_value(v)))
			zone = json_string_value(v);
		else
			manifest_problem(c, "spec.placement.residency", "unknown residency zone '%s'",
					 MANIFEST_EXCERPT(json_string_value(v)));
	}

	allowed = manifest_check_allowed_regions(c, placement, zone, zone_defaulted);

	v = json_object_get(placement, "preferredRegion");
	if (v) {
		preferred = manifest_check_region(c, "spec.placement.preferredRegion", v);
		if (preferred && allowed && !manifest_string_array_has(allowed, preferred->name))
			manifest_problem(c, "spec.placement.preferredRegion",
					 "preferredRegion %s is not among allowedRegions", preferred->name);
	}

	v = json_object_get(placement, "standbyRegion");
	if (v) {
		standby = manifest_check_region(c, "spec.placement.standbyRegion", v);
		if (standby && standby == preferred)
			manifest_problem(c, "spec.placement.standbyRegion",
					 "standbyRegion must differ from preferredRegion (both are %s)",
					 standby->name);
	}

	manifest_check_members(c, placement, "spec.placement", known, NULL);
}

static void manifest_check_quotas(struct manifest_check *c, const json_t *quotas,
				  const struct tnd_plan_conf *plan)
{
	static const char *const known[] = { "computeUnits", "storageGb", "eventsPerMinute",
					     "concurrentOperations", NULL };

	for (size_t i = 0; i < TND_ARRAY_SIZE(manifest_quota_fields); i++) {
		const struct manifest_quota_field *field = &manifest_quota_fields[i];
		const json_t *v = manifest_member(c, quotas, "spec.quotas", field->name, JSON_INTEGER, false);
		_cleanup_free_ char *path = NULL;
		json_int_t requested;

		if (v == NULL)
			continue;
		path = manifest_path("spec.quotas", field->name);
		requested = json_integer_value(v);
		if (requested < 1)
			manifest_problem(c, path, "%s must be a positive integer, got %" JSON_INTEGER_FORMAT,
					 field->name, requested);
		else if (plan && requested > manifest_quota_get(&plan->max_quotas, field))
			manifest_problem(c, path,
					 "%s %" JSON_INTEGER_FORMAT " exceeds the plan's maximum of %" PRId64,
					 field->name, requested, manifest_quota_get(&plan->max_quotas, field));
	}
	manifest_check_members(c, quotas, "spec.quotas", known, NULL);
}

static void manifest_check_spec(struct manifest_check *c, const json_t *spec)
{
	static const char *const known[] = { "plan", "isolation", "state", "placement", "quotas", NULL };
	const struct tnd_plan_conf *plan = NULL;
	const json_t *v;

	v = manifest_member(c, spec, "spec", "plan", JSON_STRING, true);
	if (v) {
		plan = conf_plan(c->conf, json_string_value(v));
		if (plan == NULL) {
			_cleanup_free_ char *plans = manifest_plan_list(c->conf);

			manifest_problem(c, "spec.plan", "unknown plan '%s' (known plans: %s)",
					 MANIFEST_EXCERPT(json_string_value(v)), *plans ? plans : "none");
		}
	}

	manifest_check_isolation(c, spec, plan);
	manifest_check_state(c, spec);

	v = manifest_member(c, spec, "spec", "placement", JSON_OBJECT, false);
	if (v)
		manifest_check_placement(c, v, plan);

	v = manifest_member(c, spec, "spec", "quotas", JSON_OBJECT, false);
	if (v)
		manifest_check_quotas(c, v, plan);

	manifest_check_members(c, spec, "spec", known, NULL);
}

int manifest_validate(const json_t *doc, const struct tnd_conf *conf, json_t *errors)
{
	static const char *const known[] = { "apiVersion", "kind", "metadata", "spec", NULL };
	static const char *const server_owned[] = { "status", NULL };
	struct manifest_check c = { .conf = conf, .errors = errors };
	const json_t *v;

	if (doc == NULL || !json_is_object(doc)) {
		manifest_problem(&c, "", "expected an object (a Tenant manifest), got %s",
				 doc ? manifest_type_name(doc) : "nothing");
		return -EINVAL;
	}

	v = manifest_member(&c, doc, "", "apiVersion", JSON_STRING, true);
	if (v && strcmp(json_string_value(v), MANIFEST_API_VERSION) != 0)
		manifest_problem(&c, "apiVersion", "unsupported apiVersion '%s'; expected %s",
				 MANIFEST_EXCERPT(json_string_value(v)), MANIFEST_API_VERSION);
	v = manifest_member(&c, doc, "", "kind", JSON_STRING, true);
	if (v && strcmp(json_string_value(v), MANIFEST_KIND) != 0)
		manifest_problem(&c, "kind", "unsupported kind '%s'; expected %s",
				 MANIFEST_EXCERPT(json_string_value(v)), MANIFEST_KIND);
	v = manifest_member(&c, doc, "", "metadata", JSON_OBJECT, true);
	if (v)
		manifest_check_metadata(&c, v);
	v = manifest_member(&c, doc, "", "spec", JSON_OBJECT, true);
	if (v)
		manifest_check_spec(&c, v);
	manifest_check_members(&c, doc, "", known, server_owned);

	if (c.n_problems > MANIFEST_MAX_REPORTED_PROBLEMS)
		manifest_error_add(errors, "", "%zu more problems not shown",
				   c.n_problems - MANIFEST_MAX_REPORTED_PROBLEMS);
	return c.n_problems == 0 ? 0 : -EINVAL;
}
