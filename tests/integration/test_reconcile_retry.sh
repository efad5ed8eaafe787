#!/bin/bash
# test_reconcile_retry.sh — failing steps through the real daemon
# (docs/reconcile.md, "Retries"): the region's isolation is served by the
# flaky_isolation fixture, told by files in a fault directory (its data
# plane's faultDir) to fail the first K attempts of an op for a tenant, or
# every attempt.  reconcile: retry_base_ms 50, retry_cap_ms 400,
# max_attempts 4.
#
#   * K = 2: the step runs 3 times and the workflow succeeds; every delay
#     seen while polling lies in [0, min(cap, base * 2^(attempt-1))] after
#     the failure, and no attempt starts before its nextAttemptAt;
#   * K = max_attempts - 1 still succeeds, at the limit;
#   * always: Failed after max_attempts with the error, the tenant's
#     ReconcileFailed condition, tenancyd_reconcile_failures_total + 1, and
#     no automatic restart over several resyncs; POST .../retry (operator,
#     not viewer) makes it Pending with fresh attempts; it fails again while
#     the fault stays, and succeeds once the fault is gone: tenant Active;
#   * a failure in the second step of a workflow: the retry resumes at that
#     step (state Running), the first step is not run again;
#   * thirty tenants failing at once: each op runs exactly max_attempts
#     times (no step handed out again while its result awaits its checkpoint).
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/reconcile_lib.sh"

tnd_require_cmd curl
tnd_setup
started=$(date +%s)

base_ms=50
cap_ms=400
max_attempts=4
faults=$TND_TMP/faults
mkdir -m 700 "$faults"
rcl_prepare_state "$TND_TMP/state"
config=$TND_STATE/tenancyd.conf
{
	rcl_config_head 2
	cat <<-EOF
		plugins: {
		  dir = "$top_builddir/tests/fixtures/plugins/.libs";
		  allow_unsafe_permissions = true;
		  storage: { name = "sqlite"; settings: { path = "registry.db"; }; };
		  isolation = ( { name = "flaky_isolation"; } );
		};
		regions = (
		  { name = "lab-1"; residency = "lab";
		    isolation: { shared = "flaky_isolation"; dedicated = "flaky_isolation"; };
		    data_plane: { faultDir = "$faults"; }; }
		);
		plans = (
		  { code = "basic"; isolation = [ "shared", "dedicated" ]; default_residency = "lab";
		    quotas: { compute_units = 1; storage_gb = 1; events_per_minute = 60; concurrent_operations = 1; }; }
		);
	EOF
} >"$config"
if ! grep -q "retry_base_ms = $base_ms;" "$config" || ! grep -q "max_attempts = $max_attempts;" "$config"; then
	tnd_hard_error "rcl_config_head changed: this test assumes base $base_ms ms, $max_attempts attempts"
fi
tnd_daemon_start_config "$config"

# ceiling K — the most the delay after the K-th failed attempt may be
ceiling() {
	local c=$base_ms i
	for ((i = 1; i < $1; i++)); do
		c=$((c * 2))
	done
	[ "$c" -le "$cap_ms" ] || c=$cap_ms
	echo "$c"
}

# watch WORKFLOW — poll it every few ms until it is no longer Pending or
# Running; each distinct retry wait seen goes to $TND_TMP/waits as
# "workflow attempt failedAt-ms nextAttemptAt-ms".  Leaves it in $TND_BODY.
watch() {
	local id=$1 state attempts step line deadline=$(($(date +%s) + RCL_TIMEOUT))
	while :; do
		tnd_curl GET "/v1/workflows/$id"
		tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/workflows/$id"
		state=$(rcl_json /state)
		case $state in
		Pending | Running) ;;
		*) return 0 ;;
		esac
		attempts=$(rcl_json /attempts)
		step=$(rcl_json /step)
		if [ "$attempts" -gt 0 ] && [ "$(rcl_json "/steps/$step/status")" = failed ]; then
			line="$id $attempts $(rcl_time_ms "$(rcl_json "/steps/$step/finishedAt")") $(rcl_time_ms "$(rcl_json /nextAttemptAt)")"
			grep -qxF -- "$line" "$TND_TMP/waits" 2>/dev/null || echo "$line" >>"$TND_TMP/waits"
		fi
		[ "$(date +%s)" -lt "$deadline" ] || tnd_fail "workflow $id still $state after $RCL_TIMEOUT s: $TND_BODY"
		sleep 0.01
	done
}

# log_retries WORKFLOW — "attempt log-time-ms retry-at-ms" for each failed
# attempt the daemon logged ("... failed (attempt N), retrying at MS: ...")
log_retries() {
	grep -F "\"msg\":\"workflow $1: " "$TND_DAEMON_LOG" | grep -F 'retrying at' |
		sed -E 's/^\{"time":"([^"]*)".*\(attempt ([0-9]+)\), retrying at ([0-9]+):.*/\2 \1 \3/' |
		while read -r attempt when at; do
			echo "$attempt $(rcl_time_ms "$when") $at"
		done
}

# assert_backoff_honoured WORKFLOW FAILURES — the daemon logged FAILURES
# retries of the workflow, each attempt after the first started no earlier
# than the retry time the previous failure set.
assert_backoff_honoured() {
	local id=$1 n=$2 prev_at=0 attempt when at
	tnd_assert_eq "$n" "$(log_retries "$id" | wc -l)" "retries of $id in the log"
	while read -r attempt when at; do
		# a failure is logged after its attempt ran, so after that attempt began
		[ "$prev_at" -eq 0 ] || [ "$when" -ge "$prev_at" ] ||
			tnd_fail "$id: attempt $attempt failed at $when, before its retry time $prev_at"
		[ "$at" -le $((when + $(ceiling "$attempt"))) ] ||
			tnd_fail "$id: retry $at after attempt $attempt is further than $(ceiling "$attempt") ms from $when"
		prev_at=$at
	done < <(log_retries "$id")
	echo "$prev_at"
}

failures_before=$(rcl_metric tenancyd_reconcile_failures_total)

tnd_step "a step failing twice: retried with backoff, then Succeeded with 3 attempts"
echo 2 >"$faults/rt-twice.provision"
rcl_apply rt-twice basic shared
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT rt-twice"
wf=$(rcl_json /status/conditions/0/workflow)
watch "$wf"
tnd_assert_eq Succeeded "$(rcl_json /state)" "state of $wf"
tnd_assert_eq 3 "$(rcl_json /steps/0/attempts)" "attempts of the provision step"
tnd_assert_eq succeeded "$(rcl_json /steps/0/status)" "status of the provision step"
tnd_assert_eq null "$(rcl_json /error)" "error of a workflow that succeeded in the end"
tnd_assert_eq 2 "$(cat "$faults/rt-twice.provision.count")" "failed attempts the fixture counted"
last_retry=$(assert_backoff_honoured "$wf" 2)
[ "$(rcl_time_ms "$(rcl_json /steps/0/startedAt)")" -ge $((last_retry - 2)) ] ||
	tnd_fail "the third attempt started before its retry time $last_retry: $TND_BODY"
rcl_wait_phase rt-twice Active

tnd_step "max_attempts - 1 failures still succeed, at the limit"
echo $((max_attempts - 1)) >"$faults/rt-twice.suspend"
tnd_curl POST /v1/tenants/rt-twice/suspend
tnd_assert_eq 200 "$TND_HTTP_STATUS" "suspend rt-twice"
wf=$(rcl_json /status/conditions/0/workflow)
watch "$wf"
tnd_assert_eq Succeeded "$(rcl_json /state)" "state of $wf"
tnd_assert_eq "$max_attempts" "$(rcl_json /steps/0/attempts)" "attempts of the suspend step"
assert_backoff_honoured "$wf" $((max_attempts - 1)) >/dev/null
rcl_wait_phase rt-twice Suspended

tnd_step "a step failing always: Failed after max_attempts, ReconcileFailed, counted"
echo always >"$faults/rt-never.provision"
steps_failed_before=$(rcl_metric tenancyd_reconcile_steps_total 'op="provision",outcome="failure"')
rcl_apply rt-never basic dedicated
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT rt-never"
wf=$(rcl_json /status/conditions/0/workflow)
watch "$wf"
tnd_assert_eq Failed "$(rcl_json /state)" "state of $wf"
tnd_assert_eq "$max_attempts" "$(rcl_json /steps/0/attempts)" "attempts of the failed step"
tnd_assert_eq failed "$(rcl_json /steps/0/status)" "status of the failed step"
error="provision: flaky failure: injected, attempt $max_attempts"
tnd_assert_eq "$error" "$(rcl_json /error)" "error of $wf"
tnd_assert_eq "$error" "$(rcl_json /steps/0/error)" "error of the failed step"
assert_backoff_honoured "$wf" $((max_attempts - 1)) >/dev/null
rcl_tenant rt-never
tnd_assert_eq Draft "$(rcl_json /status/phase)" "phase of rt-never"
tnd_assert_eq ReconcileFailed "$(rcl_json /status/conditions/0/type)" "condition of rt-never"
tnd_assert_eq True "$(rcl_json /status/conditions/0/status)" "condition status of rt-never"
tnd_assert_eq activate "$(rcl_json /status/conditions/0/reason)" "condition reason of rt-never"
tnd_assert_eq "$wf" "$(rcl_json /status/conditions/0/workflow)" "condition workflow of rt-never"
tnd_assert_contains "$(rcl_json /status/conditions/0/message)" "flaky failure" "condition message of rt-never"
# and one reconcile_failed event, written with the Failed checkpoint (docs/events.md)
tnd_curl GET "/v1/events?tenant=rt-never&type=reconcile_failed"
tnd_assert_eq "1 $wf $error" "$(rcl_json -l /items) $(rcl_json /items/0/data/workflowId) $(rcl_json /items/0/data/error)" \
	"reconcile_failed event of rt-never"
tnd_assert_eq $((failures_before + 1)) "$(rcl_metric tenancyd_reconcile_failures_total)" \
	"tenancyd_reconcile_failures_total after one failed workflow"
tnd_assert_eq $((steps_failed_before + max_attempts)) \
	"$(rcl_metric tenancyd_reconcile_steps_total 'op="provision",outcome="failure"')" "failed provision steps"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "workflow $wf (activate of tenant rt-never) failed after $max_attempts attempts" \
	"the log line of the failure"
# a failed version waits for an operator: resyncs (every second) start nothing
sleep 3
rcl_workflows rt-never
tnd_assert_eq "$wf:Failed" "$(rcl_json -e /items /id /state | tr '\t' ':')" "rt-never's workflows after 3 resyncs"
tnd_assert_eq "$max_attempts" "$(cat "$faults/rt-never.provision.count")" "attempts the fixture saw"

tnd_step "retry: operator only; Pending with fresh attempts; fails again while the fault stays"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" POST "/v1/workflows/$wf/retry"
tnd_assert_problem 403 forbidden "a viewer retrying"
tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" POST "/v1/workflows/$wf/retry"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "an operator retrying $wf"
tnd_assert_eq Pending "$(rcl_json /state)" "state after the retry"
tnd_assert_eq 0 "$(rcl_json /attempts)" "attempts after the retry"
tnd_assert_eq 0 "$(rcl_json /steps/0/attempts)" "step attempts after the retry"
tnd_assert_eq pending "$(rcl_json /steps/0/status)" "step status after the retry"
tnd_assert_eq null "$(rcl_json /error)" "error after the retry"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "workflow $wf (activate of tenant rt-never) retried by operator" \
	"the log names who retried"
watch "$wf"
tnd_assert_eq Failed "$(rcl_json /state)" "state of $wf after a retry into the same fault"
tnd_assert_eq "$max_attempts" "$(rcl_json /steps/0/attempts)" "attempts of the second round"
tnd_assert_eq "provision: flaky failure: injected, attempt $((2 * max_attempts))" "$(rcl_json /error)" \
	"error of the second round"
tnd_assert_eq $((failures_before + 2)) "$(rcl_metric tenancyd_reconcile_failures_total)" \
	"tenancyd_reconcile_failures_total after the second failure"

tnd_step "retry after the fault is gone: Succeeded, tenant Active"
rm -f "$faults/rt-never.provision"
tnd_curl POST "/v1/workflows/$wf/retry"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "retry $wf"
tnd_assert_eq Pending "$(rcl_json /state)" "state after the last retry"
watch "$wf"
tnd_assert_eq Succeeded "$(rcl_json /state)" "state of $wf in the end"
tnd_assert_eq 1 "$(rcl_json /steps/0/attempts)" "attempts of the successful round"
rcl_wait_phase rt-never Active
tnd_assert_eq "[]" "$(rcl_json /status/conditions)" "rt-never's conditions once Active"
tnd_curl POST "/v1/workflows/$wf/retry"
tnd_assert_problem 409 conflict "retry of a workflow that succeeded"
tnd_assert_eq $((failures_before + 2)) "$(rcl_metric tenancyd_reconcile_failures_total)" \
	"tenancyd_reconcile_failures_total in the end"

tnd_step "a failure in a later step: the retry resumes there"
# rt-twice is Suspended: a new plan parameter runs provision, then suspend
rm -f "$faults/rt-twice.suspend" "$faults/rt-twice.suspend.count"
echo always >"$faults/rt-twice.suspend"
rcl_apply rt-twice basic shared suspended relabelled
tnd_assert_eq 200 "$TND_HTTP_STATUS" "PUT rt-twice (a new label)"
wf=$(rcl_json /status/conditions/0/workflow)
watch "$wf"
tnd_assert_eq Failed "$(rcl_json /state)" "state of $wf"
tnd_assert_eq update "$(rcl_json /kind)" "kind of $wf"
tnd_assert_eq 1 "$(rcl_json /step)" "checkpoint of $wf"
tnd_assert_eq "provision:succeeded:1 suspend:failed:$max_attempts" \
	"$(rcl_json -e /steps /op /status /attempts | tr '\t\n' ':  ' | sed 's/ $//')" "steps of $wf"
provisions=$(grep -c "\"msg\":\"workflow $wf: step 0 (provision)" "$TND_DAEMON_LOG")
rm -f "$faults/rt-twice.suspend"
tnd_curl POST "/v1/workflows/$wf/retry"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "retry $wf"
tnd_assert_eq Running "$(rcl_json /state)" "state of a retried workflow past its first step"
watch "$wf"
tnd_assert_eq Succeeded "$(rcl_json /state)" "state of $wf in the end"
tnd_assert_eq "provision:succeeded:1 suspend:succeeded:1" \
	"$(rcl_json -e /steps /op /status /attempts | tr '\t\n' ':  ' | sed 's/ $//')" "steps of $wf in the end"
tnd_assert_eq "$provisions" "$(grep -c "\"msg\":\"workflow $wf: step 0 (provision)" "$TND_DAEMON_LOG")" \
	"provision runs of $wf (none after the retry)"
rcl_wait_phase rt-twice Suspended
tnd_assert_eq relabelled "$(rcl_json /metadata/labels/rev)" "rt-twice's new label"

tnd_step "many tenants failing at once: each op runs exactly max_attempts times"
# results queue up for the committers while the scheduler scans: a tenant
# whose failure is not yet a checkpoint must not get its step again
crowd=30
for i in $(seq 1 "$crowd"); do
	echo always >"$faults/rt-crowd-$i.provision"
done
for i in $(seq 1 "$crowd"); do
	rcl_apply "rt-crowd-$i" basic shared
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT rt-crowd-$i"
done
deadline=$(($(date +%s) + RCL_TIMEOUT))
while tnd_curl GET "/v1/workflows?state=Failed&limit=1000" &&
	[ "$(rcl_json -e /items /tenantId | grep -c '^rt-crowd-')" -lt "$crowd" ]; do
	[ "$(date +%s)" -lt "$deadline" ] || tnd_fail "not every rt-crowd-* workflow failed within $RCL_TIMEOUT s"
	sleep 0.1
done
sleep 1 # a run too many would show by now
for i in $(seq 1 "$crowd"); do
	tnd_assert_eq "$max_attempts" "$(cat "$faults/rt-crowd-$i.provision.count")" "provision runs for rt-crowd-$i"
done

tnd_step "the delays seen while polling lie within the backoff bounds"
[ -s "$TND_TMP/waits" ] || tnd_fail "polling never saw a workflow waiting for its next attempt"
checked=0
while read -r id attempt failed_at next_at; do
	delay=$((next_at - failed_at))
	echo "$id: after attempt $attempt, next attempt $delay ms later (at most $(ceiling "$attempt"))"
	[ "$delay" -ge 0 ] || tnd_fail "$id: nextAttemptAt before the failure (attempt $attempt)"
	[ "$delay" -le "$(ceiling "$attempt")" ] ||
		tnd_fail "$id: a delay of $delay ms after attempt $attempt, above min($cap_ms, $base_ms * 2^$((attempt - 1)))"
	checked=$((checked + 1))
done <"$TND_TMP/waits"
echo "$checked retry waits observed and checked"

tnd_daemon_stop
echo "test_reconcile_retry.sh took $(($(date +%s) - started)) s"
tnd_pass
