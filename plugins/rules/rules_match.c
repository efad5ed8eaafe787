/*
 * rules_match.c — matching one request's facts against a rule set (see
 * rules_internal.h and docs/policy-rules.md).  Pure functions: no I/O, no
 * clock (the time is the request's), no allocation but the reasons array.
 */
#include "autoconfig.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules_internal.h"

/* A fact the request lacks never matches a pattern; an empty matcher
 * matches anything. */
static bool rules_patterns_match(const struct rules_patterns *p, const char *fact)
{
	if (p->n == 0)
		return true;
	if (fact == NULL)
		return false;
	for (size_t i = 0; i < p->n; i++)
		if (fnmatch(p->items[i], fact, 0) == 0)
			return true;
	return false;
}

static bool rules_roles_match(const struct rules_patterns *p, const struct rules_input *in)
{
	if (p->n == 0)
		return true;
	for (size_t i = 0; i < in->n_roles; i++)
		if (rules_patterns_match(p, in->roles[i]))
			return true;
	return false;
}

/* Every label of the rule must be on the tenant, with a matching value. */
static bool rules_labels_match(const struct rules_rule *rule, const struct rules_input *in)
{
	for (size_t i = 0; i < rule->n_labels; i++) {
		bool found = false;
		for (size_t j = 0; j < in->n_labels && !found; j++)
			found = strcmp(rule->labels[i].key, in->label_keys[j]) == 0 &&
				fnmatch(rule->labels[i].value, in->label_values[j], 0) == 0;
		if (!found)
			return false;
	}
	return true;
}

static bool rules_when_match(const struct rules_when *w, int64_t time_ms)
{
	/* floor division: times before 1970 still get the right day and hour */
	int64_t secs = time_ms >= 0 ? time_ms / 1000 : -((-time_ms + 999) / 1000);
	time_t t = (time_t)secs;
	struct tm tm;

	if (w->has_from && time_ms < w->from_ms)
		return false;
	if (w->has_until && time_ms >= w->until_ms)
		return false;
	if (w->days == 0 && !w->has_hours)
		return true;
	if (gmtime_r(&t, &tm) == NULL)
		return false;
	if (w->days != 0 && !(w->days & (1u << tm.tm_wday)))
		return false;
	if (w->has_hours) {
		if (w->hour_from <= w->hour_until) {
			if (tm.tm_hour < w->hour_from || tm.tm_hour >= w->hour_until)
				return false;
		} else if (tm.tm_hour < w->hour_from && tm.tm_hour >= w->hour_until) {
			return false; /* e.g. [22, 6): outside is 6..21 */
		}
	}
	return true;
}

bool rules_rule_matches(const struct rules_rule *rule, const struct rules_input *in)
{
	return rules_patterns_match(&rule->actions, in->action) && rules_roles_match(&rule->roles, in) &&
	       rules_patterns_match(&rule->plans, in->plan) && rules_patterns_match(&rule->isolation, in->isolation) &&
	       rules_patterns_match(&rule->regions, in->region) &&
	       rules_patterns_match(&rule->residency, in->residency) && rules_labels_match(rule, in) &&
	       (!rule->has_when || rules_when_match(&rule->when, in->time_ms));
}

void rules_evaluate(const struct rules_set *set, const struct rules_input *in, struct rules_outcome *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->reasons = calloc(set->n + 1, sizeof(*ret->reasons));
	for (size_t i = 0; i < set->n; i++) {
		const struct rules_rule *rule = &set->rules[i];

		if (!rules_rule_matches(rule, in))
			continue;
		if (rule->effect == RULES_DENY) {
			if (ret->reasons)
				ret->reasons[ret->n_reasons++] = rule->reason;
			ret->effect = RULES_DENY;
			continue;
		}
		if (ret->effect == RULES_DENY)
			return; /* an allow below a matching deny does not lift it */
		ret->effect = RULES_ALLOW;
		ret->decided_by = rule;
		return;
	}
	if (ret->effect == RULES_DENY)
		return;
	ret->effect = set->default_effect;
	if (ret->effect == RULES_DENY && ret->reasons)
		ret->reasons[ret->n_reasons++] = set->default_reason ? set->default_reason : "denied by default";
}

void rules_outcome_clear(struct rules_outcome *out)
{
	free(out->reasons);
	out->reasons = NULL;
	out->n_reasons = 0;
}
