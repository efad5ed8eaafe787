#!/bin/bash
# test_policy.sh — the policy gate through the real daemon (docs/api.md,
# "Policy"; docs/policy-rules.md), on the embedded data plane of --dev with
# the `rules` policy plugin:
#
#   * deny-all rules (swapped in by SIGHUP): every mutating route (PUT create,
#     update and no-op, suspend, resume, archive, DELETE, workflow retry)
#     answers 403 problem+json with the rules' reasons, and the registry is
#     unchanged (every tenant document, its versions, the tenant list);
#   * ?dryRun=true: 200 with the decision (deny, then allow), the tenant as it
#     would be, and nothing written (no tenant, no version, no workflow, no
#     Idempotency-Key record); a bad dryRun value is 400;
#   * allow rules let the same requests through;
#   * workflow steps are asked too: a denied step fails its attempts and the
#     workflow goes Failed with the reasons; retrying it is itself gated;
#   * a bad rules file on SIGHUP keeps the old rules;
#   * a failing policy (faulty_policy fixture: error, garbage, no decision,
#     slower than plugins.policy_timeout_ms) fails closed: 503 and
#     tenancyd_policy_errors_total by cause, nothing written.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/reconcile_lib.sh"

tnd_require_cmd curl
tnd_setup

rules=$TND_TMP/policy.rules
mode_file=$TND_TMP/policy.mode
rcl_prepare_state "$TND_TMP/state"

# write_rules TEXT — the rules file (mode 0644: the plugin refuses a
# group/world-writable one)
write_rules() {
	printf '%s\n' "$1" >"$rules"
	chmod 0644 "$rules"
}

# make_config FILE POLICY-GROUP — dev.conf with fast retries, no periodic
# resync (nothing but the test's requests may write), and POLICY-GROUP as
# plugins.policy (timeout 300 ms)
make_config() {
	awk -v policy="$2" '
		/^plugins: *\{/ { print; print "  policy_timeout_ms = 300;"; print "  policy: " policy ";"; next }
		/^ *resync_interval = / { print "  resync_interval = 3600;"; print "  retry_base_ms = 20;"; print "  retry_cap_ms = 100;"; print "  max_attempts = 3;"; next }
		{ print }' "$TND_STATE/dev.conf" >"$1"
	chmod 0644 "$1"
	grep -q 'policy_timeout_ms = 300' "$1" || tnd_hard_error "dev.conf has no plugins group"
	grep -q 'max_attempts = 3' "$1" || tnd_hard_error "dev.conf has no reconcile group"
}

# json_put ID BODY [QUERY] [curl options...] — PUT a JSON manifest as admin
json_put() {
	local id=$1 body=$2 query=${3:-}
	shift 3 2>/dev/null || shift $#
	tnd_curl PUT "/v1/tenants/$id$query" -H 'Content-Type: application/json' --data-binary "$body" "$@"
}

# snapshot — every tenant's document and versions, and the tenant list, as one text
snapshot() {
	local id
	tnd_curl GET "/v1/tenants?limit=1000"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/tenants"
	printf '%s\n' "$TND_BODY"
	for id in $(rcl_json -e /items /metadata/id); do
		tnd_curl GET "/v1/tenants/$id"
		printf '%s %s\n' "$id" "$TND_BODY"
		tnd_curl GET "/v1/tenants/$id/versions?limit=1000"
		printf '%s versions %s\n' "$id" "$(rcl_json -l /items)"
	done
	tnd_curl GET "/v1/workflows?limit=1000"
	printf 'workflows %s\n' "$(rcl_json -l /items)"
}

# assert_denied WHAT — the last answer was 403 policy-denied carrying the deny-all reasons
assert_denied() {
	tnd_assert_problem 403 policy-denied "$1"
	tnd_assert_eq "change freeze" "$(rcl_json /reasons/0)" "first reason of $1"
	# the default's reason is not added: a rule matched
	tnd_assert_eq 1 "$(rcl_json -l /reasons)" "number of reasons of $1"
	tnd_assert_contains "$(rcl_json /detail)" "change freeze" "detail of $1"
}

config=$TND_STATE/tenancyd.conf
write_rules 'default = "allow";'
make_config "$config" "{ name = \"rules\"; settings: { rules_file = \"$rules\"; }; }"
tnd_daemon_start_config "$config"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "policy plugin rules guards every mutation" "the start-up log"

tnd_step "allow rules: tenants for every route"
rcl_apply pol-active business shared active
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT pol-active"
rcl_apply pol-paused business shared active
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT pol-paused"
rcl_apply pol-draft business shared draft
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT pol-draft"
rcl_wait_phase pol-paused Active
tnd_curl POST /v1/tenants/pol-paused/suspend
tnd_assert_eq 200 "$TND_HTTP_STATUS" "suspend pol-paused"
rcl_wait_phase pol-active Active
rcl_wait_phase pol-paused Suspended
rcl_wait_phase pol-draft Draft
allow_decisions=$(rcl_metric tenancyd_policy_decisions_total 'decision="allow"')
[ "$allow_decisions" -ge 4 ] || tnd_fail "tenancyd_policy_decisions_total{decision=\"allow\"} is $allow_decisions"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" '"msg":"tenant.suspend on pol-paused allowed"' "the decision log line"
[ "$(rcl_metric tenancyd_policy_evaluation_seconds_count)" -ge 4 ] || tnd_fail "no policy latency observed"

tnd_step "workflow steps are asked: a denied step fails, the workflow goes Failed with the reasons"
write_rules 'default = "allow";
rules = ( { effect = "deny"; reason = "data plane frozen"; actions = "workflow.step.*"; } );'
tnd_daemon_reload || tnd_fail "SIGHUP with step-denying rules"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "policy plugin rules: rules reloaded" "the reload log"
rcl_apply pol-stuck business shared active
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT pol-stuck (the API action is allowed)"
stuck_wf=$(rcl_json /status/conditions/0/workflow)
rcl_wait_workflow "$stuck_wf" Failed
tnd_assert_contains "$(rcl_json /error)" "denied by policy: data plane frozen" "error of $stuck_wf"
tnd_assert_eq 3 "$(rcl_json /steps/0/attempts)" "attempts of the denied step"
rcl_tenant pol-stuck
tnd_assert_eq Draft "$(rcl_json /status/phase)" "phase of pol-stuck"

tnd_step "deny-all rules, swapped in by SIGHUP"
write_rules 'default = "deny";
default_reason = "no exceptions";
rules = ( { name = "freeze"; effect = "deny"; reason = "change freeze"; } );'
tnd_daemon_reload || tnd_fail "SIGHUP with deny-all rules"
before=$(snapshot)

tnd_step "deny-all: every mutating route is 403 with the reasons"
json_put pol-new "$(rcl_manifest pol-new business shared active)"
assert_denied "PUT of a new tenant"
json_put pol-active "$(rcl_manifest pol-active business shared active 2)"
assert_denied "PUT changing a tenant"
json_put pol-active "$(rcl_manifest pol-active business shared active)"
assert_denied "PUT re-applying a tenant unchanged"
tnd_curl POST /v1/tenants/pol-active/suspend
assert_denied "suspend"
tnd_curl POST /v1/tenants/pol-paused/resume
assert_denied "resume"
tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" POST /v1/tenants/pol-active/archive
assert_denied "archive (operator)"
tnd_curl DELETE /v1/tenants/pol-draft
assert_denied "DELETE"
tnd_curl POST "/v1/workflows/$stuck_wf/retry"
assert_denied "workflow retry"
tnd_assert_eq "workflow.retry" "$(rcl_json /action)" "action of the denied retry"
# with an Idempotency-Key: denied, and no record kept (retried after allow below)
tnd_curl POST /v1/tenants/pol-active/suspend -H 'Idempotency-Key: pol-key-1'
assert_denied "suspend with an Idempotency-Key"
# what is not a mutation is not asked
tnd_curl GET /v1/tenants/pol-active
tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET under deny-all"
tnd_curl GET /v1/tenants/pol-active/credentials
tnd_assert_eq 200 "$TND_HTTP_STATUS" "credentials under deny-all"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" '"msg":"tenant.delete on pol-draft denied"' "the denial log line"

tnd_step "deny-all: the registry is unchanged"
after=$(snapshot)
tnd_assert_eq "$before" "$after" "tenants, versions and workflows after the denied requests"

tnd_step "dry runs report the denial and write nothing"
json_put pol-new "$(rcl_manifest pol-new business shared active)" '?dryRun=true'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "dry-run PUT under deny-all"
tnd_assert_eq true "$(rcl_json /dryRun)" "dryRun"
tnd_assert_eq deny "$(rcl_json /decision)" "decision"
tnd_assert_eq "change freeze" "$(rcl_json /reasons/0)" "reasons"
tnd_assert_eq tenant.apply "$(rcl_json /action)" "action"
tnd_curl POST '/v1/tenants/pol-active/suspend?dryRun=true'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "dry-run suspend under deny-all"
tnd_assert_eq deny "$(rcl_json /decision)" "decision of the dry-run suspend"
tnd_assert_eq tenant.suspend "$(rcl_json /action)" "action of the dry-run suspend"
# the other gates still answer as themselves
tnd_curl POST '/v1/tenants/pol-draft/suspend?dryRun=true'
tnd_assert_problem 409 invalid-transition "dry-run suspend of a draft"
tnd_curl POST '/v1/tenants/pol-active/suspend?dryRun=yes'
tnd_assert_problem 400 bad-request "dryRun=yes"
tnd_assert_eq "$before" "$(snapshot)" "the registry after dry runs under deny-all"

tnd_step "a bad rules file on SIGHUP keeps the old rules"
write_rules 'default = "allow"; rules = ( { effect = "deny"; } );'
tnd_daemon_reload || tnd_fail "SIGHUP (tenancyd.conf itself is fine)"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "reload failed, the previous rules stay in force" "the reload log"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "a deny rule needs a 'reason'" "the reload log names the cause"
tnd_curl POST /v1/tenants/pol-active/suspend
assert_denied "suspend after the bad reload"
write_rules 'default = "allow";'
chmod 0666 "$rules"
tnd_daemon_reload || tnd_fail "SIGHUP"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "writable by group or others" "the reload log of an unsafe file"
tnd_curl POST /v1/tenants/pol-active/suspend
assert_denied "suspend after the unsafe reload"

tnd_step "allow rules: dry runs report allow and still write nothing"
write_rules 'default = "allow";
rules = ( { effect = "deny"; reason = "no deletes"; actions = "tenant.delete"; } );'
tnd_daemon_reload || tnd_fail "SIGHUP with allow rules"
json_put pol-new "$(rcl_manifest pol-new business shared active)" '?dryRun=true' -H 'Idempotency-Key: pol-key-2'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "dry-run PUT under allow"
tnd_assert_eq allow "$(rcl_json /decision)" "decision"
tnd_assert_eq created "$(rcl_json /outcome)" "outcome"
tnd_assert_eq 0 "$(rcl_json -l /reasons)" "reasons of an allow"
tnd_assert_eq pol-new "$(rcl_json /tenant/metadata/id)" "the tenant as it would be"
tnd_assert_eq eu-west-1 "$(rcl_json /tenant/status/placement/region)" "its placement"
tnd_curl POST '/v1/tenants/pol-active/suspend?dryRun=true'
tnd_assert_eq allow "$(rcl_json /decision)" "decision of the dry-run suspend"
tnd_assert_eq updated "$(rcl_json /outcome)" "outcome of the dry-run suspend"
tnd_assert_eq suspended "$(rcl_json /tenant/spec/state)" "desired state the suspend would set"
tnd_curl DELETE '/v1/tenants/pol-draft?dryRun=true'
tnd_assert_eq deny "$(rcl_json /decision)" "decision of the dry-run delete"
tnd_assert_eq "no deletes" "$(rcl_json /reasons/0)" "reason of the dry-run delete"
tnd_assert_eq "$before" "$(snapshot)" "the registry after dry runs under allow"
tnd_curl GET /v1/tenants/pol-new
tnd_assert_eq 404 "$TND_HTTP_STATUS" "the dry-run tenant does not exist"

tnd_step "allow rules let the requests through"
# the key a denied request and a dry run used is free: nothing was recorded
json_put pol-new "$(rcl_manifest pol-new business shared active)" '' -H 'Idempotency-Key: pol-key-2'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT pol-new under allow"
tnd_curl POST /v1/tenants/pol-active/suspend -H 'Idempotency-Key: pol-key-1'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "suspend under allow (reusing the denied request's key)"
tnd_curl POST /v1/tenants/pol-paused/resume
tnd_assert_eq 200 "$TND_HTTP_STATUS" "resume under allow"
tnd_curl DELETE /v1/tenants/pol-draft
assert_denied_delete() {
	tnd_assert_problem 403 policy-denied "DELETE under allow-but-no-deletes"
	tnd_assert_eq "no deletes" "$(rcl_json /reasons/0)" "reason"
}
assert_denied_delete
tnd_curl POST "/v1/workflows/$stuck_wf/retry"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "retry of $stuck_wf under allow"
rcl_wait_phase pol-stuck Active
rcl_wait_phase pol-new Active
rcl_wait_phase pol-active Suspended
rcl_wait_phase pol-paused Active
denied=$(rcl_metric tenancyd_policy_decisions_total 'decision="deny"')
[ "$denied" -ge 10 ] || tnd_fail "tenancyd_policy_decisions_total{decision=\"deny\"} is $denied"
tnd_assert_eq 0 "$(rcl_metric tenancyd_policy_errors_total)" "policy errors so far"
tnd_daemon_stop

tnd_step "a failing policy fails closed: 503, counted by cause, nothing written"
make_config "$config" "{ name = \"faulty_policy\"; file = \"$top_builddir/tests/fixtures/plugins/.libs/faulty_policy.so\"; settings: { mode_file = \"$mode_file\"; }; }"
echo allow >"$mode_file"
tnd_daemon_start_config "$config"
before=$(snapshot)
# fail_closed MODE CAUSE — with the fixture in MODE, mutations are 503 and
# tenancyd_policy_errors_total{cause=CAUSE} counts each
fail_closed() {
	local mode=$1 cause=$2 errors
	echo "$mode" >"$mode_file"
	errors=$(rcl_metric tenancyd_policy_errors_total "cause=\"$cause\"")
	json_put pol-other "$(rcl_manifest pol-other business shared active)"
	tnd_assert_problem 503 policy-unavailable "PUT with the policy in mode $mode"
	tnd_curl POST /v1/tenants/pol-paused/suspend
	tnd_assert_problem 503 policy-unavailable "suspend with the policy in mode $mode"
	tnd_curl POST '/v1/tenants/pol-paused/suspend?dryRun=true'
	tnd_assert_problem 503 policy-unavailable "dry-run suspend with the policy in mode $mode"
	tnd_assert_eq $((errors + 3)) "$(rcl_metric tenancyd_policy_errors_total "cause=\"$cause\"")" \
		"tenancyd_policy_errors_total{cause=\"$cause\"}"
}
fail_closed error error
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "faulty_policy: told to fail" "the log names the plugin's error"
fail_closed malformed malformed
fail_closed nodecision malformed
fail_closed "sleep 450" timeout
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "over the 300 ms limit" "the log of a timeout"
tnd_assert_eq "$before" "$(snapshot)" "the registry after the policy failures"
# a fast enough answer is fine again
echo "sleep 50" >"$mode_file"
tnd_curl POST /v1/tenants/pol-paused/suspend
tnd_assert_eq 200 "$TND_HTTP_STATUS" "suspend with a policy answering in 50 ms"
echo deny >"$mode_file"
tnd_curl POST /v1/tenants/pol-paused/resume
tnd_assert_problem 403 policy-denied "resume denied by the fixture"
tnd_assert_eq "faulty says no" "$(rcl_json /reasons/0)" "the fixture's reason"
echo allow >"$mode_file"
rcl_wait_phase pol-paused Suspended
tnd_daemon_stop
tnd_pass
