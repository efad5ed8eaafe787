/*
 * rules_internal.h — what the rules policy plugin's files share: a parsed
 * rule set (rules_parse.c), the facts of one request it is matched against
 * and the matching itself (rules_match.c).  Both are plain C with no host
 * calls, so the unit tests drive them directly; rules_plugin.c is the face
 * to the core.  The file format is docs/policy-rules.md.
 */
#ifndef TND_RULES_INTERNAL_H
#define TND_RULES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tenancyd/plugin.h>

enum rules_effect {
	RULES_ALLOW = 1,
	RULES_DENY = 2,
};

/* A matcher: the fact must match one of these glob patterns (fnmatch). */
struct rules_patterns {
	char **items;
	size_t n;          /* 0: the rule does not look at this fact */
};

struct rules_label {
	char *key;         /* exact */
	char *value;       /* glob */
};

/* A time window; every part given must hold.  All in UTC. */
struct rules_when {
	unsigned days;     /* bit per tm_wday (bit 0 Sunday); 0: any day */
	bool has_hours;
	int hour_from;     /* [hour_from, hour_until), 0..24; wraps past midnight when from > until */
	int hour_until;
	bool has_from;
	int64_t from_ms;   /* inclusive */
	bool has_until;
	int64_t until_ms;  /* exclusive */
};

struct rules_rule {
	char *name;        /* "rule N" when the file gives none */
	int line;
	enum rules_effect effect;
	char *reason;      /* required for deny; optional for allow */
	struct rules_patterns actions, roles, plans, isolation, regions, residency;
	struct rules_label *labels;
	size_t n_labels;
	bool has_when;
	struct rules_when when;
};

struct rules_set {
	struct rules_rule *rules;
	size_t n;
	enum rules_effect default_effect;
	char *default_reason;  /* reason of a default deny */
};

/** Parse rule-file text (libconfig syntax).  @origin names it in errors
 *  ("<origin>:<line>: <cause>").  0 and a new set, or -EINVAL. */
int rules_parse(const char *text, const char *origin, struct rules_set **ret_set, struct tnd_error *err);
void rules_set_free(struct rules_set *set);

/** "2026-11-28T10:00:00Z" (optionally with fractional seconds) → ms since
 *  the epoch.  0 or -EINVAL. */
int rules_parse_time(const char *text, int64_t *ret_ms);

/* The facts of one request, borrowed from it. */
#define RULES_MAX_ROLES 8
#define RULES_MAX_LABELS 64
struct rules_input {
	const char *action;
	const char *roles[RULES_MAX_ROLES];
	size_t n_roles;
	const char *plan;
	const char *isolation;
	const char *region;
	const char *residency;
	const char *label_keys[RULES_MAX_LABELS];
	const char *label_values[RULES_MAX_LABELS];
	size_t n_labels;
	int64_t time_ms;
};

struct rules_outcome {
	enum rules_effect effect;
	const char **reasons;      /* borrowed from the set; caller frees the array */
	size_t n_reasons;
	const struct rules_rule *decided_by;  /* the allow rule that ended evaluation, or NULL */
};

/**
 * Evaluate @in against @set: top to bottom, every matching deny rule adds
 * its reason; a matching allow rule ends evaluation (allowed, unless a deny
 * above it matched); nothing matched → the default.
 */
void rules_evaluate(const struct rules_set *set, const struct rules_input *in, struct rules_outcome *ret);
void rules_outcome_clear(struct rules_outcome *out);
/** True when @rule matches @in (tests, and the evaluation above). */
bool rules_rule_matches(const struct rules_rule *rule, const struct rules_input *in);

#endif /* TND_RULES_INTERNAL_H */
