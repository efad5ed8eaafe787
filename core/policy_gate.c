/*
 * policy_gate.c — the policy gate (see policy_gate.h): the §9 request, the
 * call into the policy plugin under a deadline, checking its answer, and
 * the metrics, log lines and audit hook of every decision.
 *
 * The plugin runs on the calling thread (an API thread or the orchestrator's
 * scheduler).  The deadline is judged after the call returns: an answer that
 * took longer than plugins.policy_timeout_ms is discarded and the request
 * fails closed, exactly as if no answer had come.  This bounds what a slow
 * policy can make the daemon do, not how long a hung plugin can hold its
 * thread; running plugins on a thread of their own would buy that at the
 * cost of a thread hand-off per request and of plugins still running after
 * their caller gave up (see docs/policy-rules.md, "Timeouts").
 */
#include "autoconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tenancyd/policy.h>

#include "host.h"
#include "log.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "policy_gate.h"
#include "problem.h"
#include "util.h"

#define LOG_COMPONENT "policy"

/* Longest answer a policy plugin may give; longer ones are malformed. */
#define POLICY_MAX_RESPONSE (256 * 1024)

static _Atomic(const struct tnd_loaded_plugin *) policy_plugin;

void policy_gate_install(const struct tnd_loaded_plugin *plugin)
{
	atomic_store(&policy_plugin, plugin);
	if (plugin)
		log_notice("policy plugin %s guards every mutation and workflow step", plugin->name);
}

int policy_gate_active(void)
{
	return atomic_load(&policy_plugin) != NULL;
}

void policy_gate_reload(void)
{
	const struct tnd_loaded_plugin *plugin = atomic_load(&policy_plugin);
	const struct tnd_policy_ops *ops;
	struct tnd_error err = { "" };
	int r;

	if (plugin == NULL)
		return;
	ops = plugin->ops;
	if (!TND_HAS_FIELD(ops, struct tnd_policy_ops, reload) || ops->reload == NULL) {
		log_info("policy plugin %s has nothing to reload", plugin->name);
		return;
	}
	r = ops->reload(plugin->ctx, &err);
	if (r < 0)
		log_error("policy plugin %s: reload failed, the previous rules stay in force: %s (%s)", plugin->name,
			  err.message[0] ? err.message : "no detail", strerror(-r));
	else
		log_notice("policy plugin %s: rules reloaded", plugin->name);
}

/* --- the request ---------------------------------------------------------------- */

static json_t *policy_string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *policy_request_new(const struct policy_subject *s, int64_t now_ms)
{
	json_t *roles = json_array();
	json_t *request, *actor, *tenant, *context;
	const char *region = json_string_value(json_object_get(s->placement, "region"));
	char when[32];

	if (s->actor_role)
		json_array_append_new(roles, json_string(s->actor_role));
	actor = json_object();
	json_object_set_new(actor, "id", policy_string_or_null(s->actor_id));
	json_object_set_new(actor, "roles", roles);

	tenant = json_object();
	json_object_set_new(tenant, "id", policy_string_or_null(s->tenant_id));
	json_object_set_new(tenant, "manifest", s->manifest ? json_deep_copy(s->manifest) : json_null());
	json_object_set_new(tenant, "phase", policy_string_or_null(s->phase));
	json_object_set_new(tenant, "placement", s->placement ? json_deep_copy(s->placement) : json_object());

	tnd_format_time(now_ms, when);
	context = json_object();
	json_object_set_new(context, "region", policy_string_or_null(region));
	json_object_set_new(context, "plan", policy_string_or_null(s->plan));
	json_object_set_new(context, "time", json_string(when));
	json_object_set_new(context, "requestId", policy_string_or_null(s->request_id));

	request = json_object();
	json_object_set_new(request, "action", policy_string_or_null(s->action));
	json_object_set_new(request, "actor", actor);
	json_object_set_new(request, "tenant", tenant);
	json_object_set_new(request, "context", context);
	return request;
}

/* --- the answer ------------------------------------------------------------------ */

static void policy_error(struct policy_decision *d, const char *cause, const char *fmt, ...) TND_PRINTF(3, 4);

static void policy_error(struct policy_decision *d, const char *cause, const char *fmt, ...)
{
	char labels[64];
	va_list ap;

	d->verdict = POLICY_ERROR;
	va_start(ap, fmt);
	vsnprintf(d->error, sizeof(d->error), fmt, ap);
	va_end(ap);
	snprintf(labels, sizeof(labels), "cause=\"%s\"", cause);
	metrics_counter_add("tenancyd_policy_errors_total",
			    "Policy evaluations that failed (plugin error, malformed answer, timeout); each failed closed",
			    labels, 1);
}

/* Fill @d from the plugin's answer; false (and @d->error) if it is malformed. */
static bool policy_parse_answer(const struct tnd_buf *out, struct policy_decision *d)
{
	json_error_t jerr;
	json_t *answer, *reasons, *obligations, *reason;
	const char *decision;
	size_t i;

	if (out->len == 0 || out->len > POLICY_MAX_RESPONSE) {
		snprintf(d->error, sizeof(d->error), "answer of %zu bytes", out->len);
		return false;
	}
	answer = json_loadb(out->data, out->len, JSON_REJECT_DUPLICATES, &jerr);
	if (answer == NULL) {
		snprintf(d->error, sizeof(d->error), "answer is not JSON: %s", jerr.text);
		return false;
	}
	decision = json_string_value(json_object_get(answer, "decision"));
	reasons = json_object_get(answer, "reasons");
	obligations = json_object_get(answer, "obligations");
	if (!json_is_object(answer) || decision == NULL ||
	    (strcmp(decision, "allow") != 0 && strcmp(decision, "deny") != 0)) {
		snprintf(d->error, sizeof(d->error), "answer has no decision \"allow\" or \"deny\"");
		goto malformed;
	}
	if (reasons != NULL && !json_is_array(reasons)) {
		snprintf(d->error, sizeof(d->error), "reasons is not an array");
		goto malformed;
	}
	json_array_foreach(reasons, i, reason)
		if (!json_is_string(reason)) {
			snprintf(d->error, sizeof(d->error), "reasons[%zu] is not a string", i);
			goto malformed;
		}
	if (obligations != NULL && !json_is_object(obligations)) {
		snprintf(d->error, sizeof(d->error), "obligations is not an object");
		goto malformed;
	}
	d->verdict = strcmp(decision, "allow") == 0 ? POLICY_ALLOW : POLICY_DENY;
	if (reasons)
		json_array_extend(d->reasons, reasons);
	if (obligations)
		json_object_update(d->obligations, obligations);
	if (d->verdict == POLICY_DENY && json_array_size(d->reasons) == 0)
		json_array_append_new(d->reasons, json_string("denied by policy"));
	json_decref(answer);
	return true;
malformed:
	json_decref(answer);
	return false;
}

/* --- evaluating ------------------------------------------------------------------- */

enum policy_verdict policy_gate_check(const struct policy_subject *subject, int64_t timeout_ms,
				      struct policy_decision *d)
{
	const struct tnd_loaded_plugin *plugin = atomic_load(&policy_plugin);
	const struct tnd_policy_ops *ops;
	struct tnd_error err = { "" };
	struct tnd_buf out;
	json_t *request;
	int64_t start;
	char labels[160];
	int r;

	memset(d, 0, sizeof(*d));
	d->reasons = json_array();
	d->obligations = json_object();
	if (plugin == NULL) {
		d->verdict = POLICY_ALLOW;
		return d->verdict; /* no policy configured: allowed, and nothing to record */
	}
	ops = plugin->ops;
	if (timeout_ms <= 0)
		timeout_ms = POLICY_GATE_DEFAULT_TIMEOUT_MS;

	request = policy_request_new(subject, tnd_now_ms());
	tnd_buf_init(&out);
	start = tnd_monotonic_us();
	r = ops->evaluate(plugin->ctx, host_json(request), &out, &err);
	d->latency_us = tnd_monotonic_us() - start;
	json_decref(request);
	metrics_observe("tenancyd_policy_evaluation_seconds", "Time the policy plugin took to evaluate a request",
			NULL, (double)d->latency_us / 1e6);

	if (d->latency_us > timeout_ms * 1000)
		policy_error(d, "timeout", "policy plugin %s answered after %lld ms, over the %lld ms limit",
			     plugin->name, (long long)(d->latency_us / 1000), (long long)timeout_ms);
	else if (r < 0)
		policy_error(d, "error", "policy plugin %s failed: %s (%s)", plugin->name,
			     err.message[0] ? err.message : "no detail", strerror(-r));
	else if (r > 0)
		policy_error(d, "error", "policy plugin %s returned %d, not 0 or a negative errno", plugin->name, r);
	else if (!policy_parse_answer(&out, d)) {
		char why[sizeof(d->error)];
		tnd_strlcpy(why, d->error, sizeof(why));
		policy_error(d, "malformed", "policy plugin %s gave a malformed answer: %s", plugin->name, why);
	}
	tnd_buf_free(&out);

	if (d->verdict != POLICY_ERROR) {
		snprintf(labels, sizeof(labels), "decision=\"%s\"", d->verdict == POLICY_ALLOW ? "allow" : "deny");
		metrics_counter_add("tenancyd_policy_decisions_total", "Policy decisions, by outcome", labels, 1);
	}
	policy_gate_audit(subject, d);
	return d->verdict;
}

void policy_decision_clear(struct policy_decision *d)
{
	if (d == NULL)
		return;
	json_decref(d->reasons);
	json_decref(d->obligations);
	d->reasons = NULL;
	d->obligations = NULL;
}

char *policy_reasons_text(const struct policy_decision *d)
{
	struct tnd_buf text;
	json_t *reason;
	size_t i;

	tnd_buf_init(&text);
	json_array_foreach(d->reasons, i, reason)
		tnd_buf_addf(&text, "%s%s", i ? "; " : "", json_string_value(reason));
	if (text.len == 0)
		tnd_buf_addf(&text, "%s", d->verdict == POLICY_ERROR ? d->error : "no reason given");
	return tnd_buf_steal(&text);
}

struct problem *policy_problem(const struct policy_subject *s, const struct policy_decision *d)
{
	struct problem *p;
	char *reasons;

	switch (d->verdict) {
	case POLICY_ALLOW:
		return NULL;
	case POLICY_DENY:
		reasons = policy_reasons_text(d);
		p = problem_new(403, "policy-denied", "Denied by policy", "%s on tenant %s was denied: %s",
				s->action, s->tenant_id ? s->tenant_id : "-", reasons);
		free(reasons);
		problem_set_extension(p, "reasons", json_deep_copy(d->reasons));
		problem_set_extension(p, "action", json_string(s->action));
		return p;
	case POLICY_ERROR:
		/* the plugin's detail went to the log; callers only learn that it failed */
		p = problem_new(503, "policy-unavailable", "Policy unavailable",
				"the policy backend could not decide on %s; the request was not applied", s->action);
		return p;
	}
	return NULL;
}

/* --- the audit hook ------------------------------------------------------------------- */

void policy_gate_audit(const struct policy_subject *s, const struct policy_decision *d)
{
	static const char *const names[] = { [POLICY_ALLOW] = "allow", [POLICY_DENY] = "deny",
					     [POLICY_ERROR] = "error" };
	json_t *fields = json_pack("{s:{s:s,s:s?,s:s?,s:s,s:O,s:I}}", "policy", "action", s->action, "actor",
				   s->actor_id, "tenant", s->tenant_id, "decision", names[d->verdict], "reasons",
				   d->reasons, "us", (json_int_t)d->latency_us);
	char *text = json_dumps(fields, JSON_COMPACT);

	/* TODO(audit issue): write the audit record of this decision here, in
	 * the mutation's transaction where there is one (DESIGN.md §8, §9). */
	switch (d->verdict) {
	case POLICY_ALLOW:
		log_emit(TND_LOG_INFO, LOG_COMPONENT, text, "%s on %s allowed", s->action,
			 s->tenant_id ? s->tenant_id : "-");
		break;
	case POLICY_DENY:
		log_emit(TND_LOG_NOTICE, LOG_COMPONENT, text, "%s on %s denied", s->action,
			 s->tenant_id ? s->tenant_id : "-");
		break;
	case POLICY_ERROR:
		log_emit(TND_LOG_ERROR, LOG_COMPONENT, text, "%s on %s failed closed: %s", s->action,
			 s->tenant_id ? s->tenant_id : "-", d->error);
		break;
	}
	free(text);
	json_decref(fields);
}
