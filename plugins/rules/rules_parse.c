/*
 * rules_parse.c — reading a rules file (libconfig syntax, format in
 * docs/policy-rules.md) into a struct rules_set, checking everything a
 * typo could break: unknown keys, types, effects, day names, hour ranges,
 * timestamps.  Errors name "<file>:<line>: <cause>".
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libconfig.h>

#include "rules_internal.h"

static const char *const rules_root_keys[] = { "default", "default_reason", "rules", NULL };
static const char *const rules_rule_keys[] = { "name", "effect", "reason", "actions", "roles", "plans",
					       "isolation", "regions", "residency", "labels", "when", NULL };
static const char *const rules_when_keys[] = { "days", "hours", "from", "until", NULL };
static const char *const rules_day_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

struct rules_reader {
	const char *origin;
	struct tnd_error *err;
};

static int rules_fail(struct rules_reader *rd, const config_setting_t *where, const char *fmt, ...)
	TND_PRINTF(3, 4);

static int rules_fail(struct rules_reader *rd, const config_setting_t *where, const char *fmt, ...)
{
	char cause[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cause, sizeof(cause), fmt, ap);
	va_end(ap);
	if (where && config_setting_source_line(where) > 0)
		tnd_error_set(rd->err, "%s:%u: %s", rd->origin, config_setting_source_line(where), cause);
	else
		tnd_error_set(rd->err, "%s: %s", rd->origin, cause);
	return -EINVAL;
}

static int rules_check_keys(struct rules_reader *rd, const config_setting_t *group, const char *const *keys,
			    const char *what)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *member = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(member);
		bool known = false;

		for (size_t k = 0; keys[k] && !known; k++)
			known = name && strcmp(name, keys[k]) == 0;
		if (!known)
			return rules_fail(rd, member, "unknown key '%s' in %s", name ? name : "?", what);
	}
	return 0;
}

static char *rules_strdup(const char *s)
{
	char *copy = strdup(s);

	if (copy == NULL)
		abort(); /* as the core's tnd_xstrdup: out of memory is not recoverable here */
	return copy;
}

/* A string member, or NULL if absent.  -EINVAL on another type or "". */
static int rules_get_string(struct rules_reader *rd, const config_setting_t *group, const char *key,
			    const char **ret)
{
	const config_setting_t *s = config_setting_get_member(group, key);

	*ret = NULL;
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING || config_setting_get_string(s)[0] == '\0')
		return rules_fail(rd, s, "'%s' must be a non-empty string", key);
	*ret = config_setting_get_string(s);
	return 0;
}

static int rules_get_effect(struct rules_reader *rd, const config_setting_t *group, const char *key,
			    enum rules_effect *ret)
{
	const config_setting_t *s = config_setting_get_member(group, key);
	const char *value;
	int r = rules_get_string(rd, group, key, &value);

	if (r < 0)
		return r;
	if (value == NULL)
		return rules_fail(rd, group, "'%s' is required (\"allow\" or \"deny\")", key);
	if (strcmp(value, "allow") == 0)
		*ret = RULES_ALLOW;
	else if (strcmp(value, "deny") == 0)
		*ret = RULES_DENY;
	else
		return rules_fail(rd, s, "'%s' is \"%s\", must be \"allow\" or \"deny\"", key, value);
	return 0;
}

/* A matcher: one string, or a non-empty list of strings. */
static int rules_get_patterns(struct rules_reader *rd, const config_setting_t *rule, const char *key,
			      struct rules_patterns *ret)
{
	const config_setting_t *s = config_setting_get_member(rule, key);
	int n;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		if (config_setting_get_string(s)[0] == '\0')
			return rules_fail(rd, s, "'%s' must not be empty", key);
		ret->items = calloc(1, sizeof(*ret->items));
		if (ret->items == NULL)
			abort();
		ret->items[0] = rules_strdup(config_setting_get_string(s));
		ret->n = 1;
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
		return rules_fail(rd, s, "'%s' must be a string or a list of strings", key);
	n = config_setting_length(s);
	if (n == 0)
		return rules_fail(rd, s, "'%s' must not be an empty list (leave it out to match anything)", key);
	ret->items = calloc((size_t)n, sizeof(*ret->items));
	if (ret->items == NULL)
		abort();
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING || config_setting_get_string(e)[0] == '\0')
			return rules_fail(rd, e, "'%s' must hold non-empty strings", key);
		ret->items[ret->n++] = rules_strdup(config_setting_get_string(e));
	}
	return 0;
}

static void rules_add_label(struct rules_rule *out, const char *key, size_t key_len, const char *value)
{
	out->labels[out->n_labels].key = strndup(key, key_len);
	out->labels[out->n_labels].value = rules_strdup(value);
	if (out->labels[out->n_labels].key == NULL)
		abort();
	out->n_labels++;
}

/*
 * `labels`: a group { tier = "gold"; } or, for keys libconfig cannot name
 * (a dot in them), a list [ "app.kubernetes.io/name=x" ] — or "tier=gold".
 */
static int rules_get_labels(struct rules_reader *rd, const config_setting_t *rule, struct rules_rule *out)
{
	const config_setting_t *s = config_setting_get_member(rule, "labels");
	bool group;
	int n;

	if (s == NULL)
		return 0;
	group = config_setting_type(s) == CONFIG_TYPE_GROUP;
	if (!group && config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
		return rules_fail(rd, s, "'labels' must be a group { key = \"value\"; } or a list [ \"key=value\" ]");
	n = config_setting_length(s);
	if (n == 0)
		return rules_fail(rd, s, "'labels' must not be empty (leave it out to match anything)");
	out->labels = calloc((size_t)n, sizeof(*out->labels));
	if (out->labels == NULL)
		abort();
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *text, *eq;

		if (config_setting_type(e) != CONFIG_TYPE_STRING || config_setting_get_string(e)[0] == '\0')
			return group ? rules_fail(rd, e, "label '%s' must be a non-empty string", config_setting_name(e))
				     : rules_fail(rd, e, "'labels' must hold \"key=value\" strings");
		text = config_setting_get_string(e);
		if (group) {
			rules_add_label(out, config_setting_name(e), strlen(config_setting_name(e)), text);
			continue;
		}
		eq = strchr(text, '=');
		if (eq == NULL || eq == text || eq[1] == '\0')
			return rules_fail(rd, e, "label \"%s\" is not key=value", text);
		rules_add_label(out, text, (size_t)(eq - text), eq + 1);
	}
	return 0;
}

int rules_parse_time(const char *text, int64_t *ret_ms)
{
	int year, mon, day, hour, min, sec, used = 0, frac_ms = 0;
	struct tm tm = { 0 };
	const char *p;
	time_t t;

	if (text == NULL || sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min, &sec, &used) != 6 ||
	    used != 19)
		return -EINVAL;
	p = text + used;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				frac_ms = frac_ms * 10 + (*p - '0');
		if (digits == 0)
			return -EINVAL;
		for (; digits < 3; digits++)
			frac_ms *= 10;
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm normalizes 31 February into March: refuse what moved */
	if (tm.tm_mday != day || tm.tm_mon != mon - 1)
		return -EINVAL;
	*ret_ms = (int64_t)t * 1000 + frac_ms;
	return 0;
}

static int rules_get_time(struct rules_reader *rd, const config_setting_t *when, const char *key, bool *ret_has,
			  int64_t *ret_ms)
{
	const char *text;
	int r = rules_get_string(rd, when, key, &text);

	if (r < 0 || text == NULL)
		return r;
	if (rules_parse_time(text, ret_ms) < 0)
		return rules_fail(rd, config_setting_get_member(when, key),
				  "'%s' is \"%s\", want a UTC time like \"2026-12-24T18:00:00Z\"", key, text);
	*ret_has = true;
	return 0;
}

static int rules_get_days(struct rules_reader *rd, const config_setting_t *when, unsigned *ret)
{
	const config_setting_t *s = config_setting_get_member(when, "days");
	int n;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
		return rules_fail(rd, s, "'days' must be a list like [\"sat\", \"sun\"]");
	n = config_setting_length(s);
	if (n == 0)
		return rules_fail(rd, s, "'days' must not be empty");
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *name = config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
		size_t d;

		for (d = 0; name && d < 7; d++)
			if (strcmp(name, rules_day_names[d]) == 0)
				break;
		if (name == NULL || d == 7)
			return rules_fail(rd, e, "'days' holds \"%s\"; days are mon, tue, wed, thu, fri, sat, sun",
					  name ? name : "?");
		*ret |= 1u << d;
	}
	return 0;
}

static int rules_get_hours(struct rules_reader *rd, const config_setting_t *when, struct rules_when *w)
{
	const config_setting_t *s = config_setting_get_member(when, "hours");
	int v[2];

	if (s == NULL)
		return 0;
	if ((config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) ||
	    config_setting_length(s) != 2)
		return rules_fail(rd, s, "'hours' must be [from, until], UTC hours 0 to 24");
	for (int i = 0; i < 2; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_INT)
			return rules_fail(rd, e, "'hours' must hold integers");
		v[i] = config_setting_get_int(e);
		if (v[i] < 0 || v[i] > 24)
			return rules_fail(rd, e, "hour %d is outside 0 to 24", v[i]);
	}
	if (v[0] == 24)
		return rules_fail(rd, s, "'hours' starts at 24; a window starts at 0 to 23");
	if (v[0] == v[1])
		return rules_fail(rd, s, "'hours' [%d, %d] is empty", v[0], v[1]);
	w->has_hours = true;
	w->hour_from = v[0];
	w->hour_until = v[1];
	return 0;
}

static int rules_get_when(struct rules_reader *rd, const config_setting_t *rule, struct rules_rule *out)
{
	const config_setting_t *s = config_setting_get_member(rule, "when");
	struct rules_when *w = &out->when;
	int r;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return rules_fail(rd, s, "'when' must be a group { days, hours, from, until }");
	if ((r = rules_check_keys(rd, s, rules_when_keys, "'when'")) < 0 || (r = rules_get_days(rd, s, &w->days)) < 0 ||
	    (r = rules_get_hours(rd, s, w)) < 0 || (r = rules_get_time(rd, s, "from", &w->has_from, &w->from_ms)) < 0 ||
	    (r = rules_get_time(rd, s, "until", &w->has_until, &w->until_ms)) < 0)
		return r;
	if (w->days == 0 && !w->has_hours && !w->has_from && !w->has_until)
		return rules_fail(rd, s, "'when' is empty");
	if (w->has_from && w->has_until && w->from_ms >= w->until_ms)
		return rules_fail(rd, s, "'when': from is not before until");
	out->has_when = true;
	return 0;
}

static int rules_parse_rule(struct rules_reader *rd, const config_setting_t *s, size_t index, struct rules_rule *out)
{
	const char *name, *reason;
	int r;

	out->line = (int)config_setting_source_line(s);
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return rules_fail(rd, s, "rule %zu must be a group { ... }", index + 1);
	if ((r = rules_check_keys(rd, s, rules_rule_keys, "a rule")) < 0 ||
	    (r = rules_get_string(rd, s, "name", &name)) < 0 || (r = rules_get_effect(rd, s, "effect", &out->effect)) < 0 ||
	    (r = rules_get_string(rd, s, "reason", &reason)) < 0)
		return r;
	if (name)
		out->name = rules_strdup(name);
	else if (asprintf(&out->name, "rule %zu", index + 1) < 0)
		abort();
	if (out->effect == RULES_DENY && reason == NULL)
		return rules_fail(rd, s, "%s: a deny rule needs a 'reason' (callers are told it)", out->name);
	if (reason)
		out->reason = rules_strdup(reason);
	if ((r = rules_get_patterns(rd, s, "actions", &out->actions)) < 0 ||
	    (r = rules_get_patterns(rd, s, "roles", &out->roles)) < 0 ||
	    (r = rules_get_patterns(rd, s, "plans", &out->plans)) < 0 ||
	    (r = rules_get_patterns(rd, s, "isolation", &out->isolation)) < 0 ||
	    (r = rules_get_patterns(rd, s, "regions", &out->regions)) < 0 ||
	    (r = rules_get_patterns(rd, s, "residency", &out->residency)) < 0 ||
	    (r = rules_get_labels(rd, s, out)) < 0 || (r = rules_get_when(rd, s, out)) < 0)
		return r;
	return 0;
}

int rules_parse(const char *text, const char *origin, struct rules_set **ret_set, struct tnd_error *err)
{
	struct rules_reader rd = { origin, err };
	struct rules_set *set = calloc(1, sizeof(*set));
	const config_setting_t *root, *list;
	const char *reason;
	config_t cfg;
	int r = -EINVAL;

	if (set == NULL)
		return -ENOMEM;
	config_init(&cfg);
	if (config_read_string(&cfg, text) != CONFIG_TRUE) {
		tnd_error_set(err, "%s:%d: %s", origin, config_error_line(&cfg), config_error_text(&cfg));
		goto out;
	}
	root = config_root_setting(&cfg);
	if ((r = rules_check_keys(&rd, root, rules_root_keys, "the rules file")) < 0 ||
	    (r = rules_get_effect(&rd, root, "default", &set->default_effect)) < 0 ||
	    (r = rules_get_string(&rd, root, "default_reason", &reason)) < 0)
		goto out;
	if (reason)
		set->default_reason = rules_strdup(reason);
	list = config_setting_get_member(root, "rules");
	if (list != NULL) {
		if (config_setting_type(list) != CONFIG_TYPE_LIST) {
			r = rules_fail(&rd, list, "'rules' must be a list ( { ... }, { ... } )");
			goto out;
		}
		set->rules = calloc((size_t)config_setting_length(list) + 1, sizeof(*set->rules));
		if (set->rules == NULL)
			abort();
		for (int i = 0; i < config_setting_length(list); i++) {
			r = rules_parse_rule(&rd, config_setting_get_elem(list, (unsigned)i), (size_t)i,
					     &set->rules[set->n]);
			set->n++; /* counted even when half-parsed, so it is freed */
			if (r < 0)
				goto out;
		}
	}
	r = 0;
out:
	config_destroy(&cfg);
	if (r < 0) {
		rules_set_free(set);
		return r;
	}
	*ret_set = set;
	return 0;
}

static void rules_patterns_free(struct rules_patterns *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->items[i]);
	free(p->items);
}

void rules_set_free(struct rules_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++) {
		struct rules_rule *rule = &set->rules[i];
		free(rule->name);
		free(rule->reason);
		rules_patterns_free(&rule->actions);
		rules_patterns_free(&rule->roles);
		rules_patterns_free(&rule->plans);
		rules_patterns_free(&rule->isolation);
		rules_patterns_free(&rule->regions);
		rules_patterns_free(&rule->residency);
		for (size_t j = 0; j < rule->n_labels; j++) {
			free(rule->labels[j].key);
			free(rule->labels[j].value);
		}
		free(rule->labels);
	}
	free(set->rules);
	free(set->default_reason);
	free(set);
}
