#!/bin/bash
# test_reconcile_fuzz.sh — hostile frames on a running daemon's worker socket
# (docs/worker-protocol.md, "Drops"; tests/unit/test_worker_fuzz.c does the
# same to the pool in-process).  worker_frames sends, to
# ipc://<state>/workers.sock, one message for each reason the core drops
# (each counted once in tenancyd_worker_frames_dropped_total{reason}), then
# thousands of random ones while tenants are applied.  The daemon must count
# every one exactly once, keep its two workers (no respawn, no re-register),
# take no task away from them, and bring every tenant to Active meanwhile.
#
# TND_FUZZ_MESSAGES (default 20000) and TND_FUZZ_SEED (default: random,
# printed) replay a run.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/reconcile_lib.sh"

tnd_require_cmd curl
tnd_setup
started=$(date +%s)
messages=${TND_FUZZ_MESSAGES:-20000}
seed=${TND_FUZZ_SEED:-$(($(date +%s%N) % 4294967291 + 1))}
echo "fuzz: $messages random messages, seed $seed (TND_FUZZ_SEED=$seed replays them)"
sender=$top_builddir/tests/integration/worker_frames

tnd_daemon_start
endpoint=ipc://$TND_STATE/workers.sock
[ -S "$TND_STATE/workers.sock" ] || tnd_fail "no worker socket at $TND_STATE/workers.sock"
tnd_assert_eq 600 "$(stat -c %a "$TND_STATE/workers.sock")" "mode of the worker socket"
rcl_apply fz-before business shared
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT fz-before"
rcl_wait_phase fz-before Active

dropped() { # [REASON] — the drop counter (of REASON, or all)
	if [ -n "${1:-}" ]; then
		rcl_metric tenancyd_worker_frames_dropped_total "reason=\"$1\""
	else
		rcl_metric tenancyd_worker_frames_dropped_total
	fi
}

# wait_dropped N — until the counter reaches N; then it must stay there
wait_dropped() {
	local want=$1 deadline=$(($(date +%s) + RCL_TIMEOUT)) now
	while now=$(dropped); [ "$now" -lt "$want" ]; do
		[ "$(date +%s)" -lt "$deadline" ] || tnd_fail "only $now of $want messages counted as dropped"
		sleep 0.1
	done
	sleep 0.5
	tnd_assert_eq "$want" "$(dropped)" "messages counted as dropped"
}

ready=$(rcl_metric tenancyd_workers_ready)
tnd_assert_eq 2 "$ready" "workers ready before the fuzzing"
mapfile -t workers < <(rcl_workers)

tnd_step "one message per drop reason: each counted once"
reasons="frames oversized version type utf8 json depth fields unknown_peer foreign_task"
declare -A before
for reason in $reasons; do
	before[$reason]=$(dropped "$reason")
done
total=$(dropped)
tnd_run "$sender" "$endpoint" scripted
tnd_assert_rc 0 "worker_frames scripted"
sent=$TND_OUT
tnd_assert_eq 10 "$sent" "scripted messages sent"
wait_dropped $((total + sent))
for reason in $reasons; do
	tnd_assert_eq $((before[$reason] + 1)) "$(dropped "$reason")" "drops counted as $reason"
done
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "worker fuzz-peer registered" "the hostile peer's registration"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "worker fuzz-peer (pid 1) is gone: it said goodbye" "its goodbye"

tnd_step "random messages while tenants are applied: every one dropped, the work done"
total=$(dropped)
"$sender" "$endpoint" random "$messages" "$seed" >"$TND_TMP/sender.out" 2>"$TND_TMP/sender.err" &
sender_pid=$!
n=0
while kill -0 "$sender_pid" 2>/dev/null || [ "$n" -lt 6 ]; do
	n=$((n + 1))
	mode=$(case $((n % 3)) in 0) echo shared ;; 1) echo dedicated ;; 2) echo hybrid ;; esac)
	rcl_apply "fz-$n" enterprise "$mode"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT fz-$n during the fuzzing"
	[ "$n" -lt 200 ] || break
done
wait "$sender_pid" || tnd_fail "worker_frames random failed: $(cat "$TND_TMP/sender.err")"
tnd_assert_eq "$messages" "$(cat "$TND_TMP/sender.out")" "random messages sent"
wait_dropped $((total + messages))
for i in $(seq 1 "$n"); do
	rcl_wait_phase "fz-$i" Active
done
echo "$n tenants applied and activated during the fuzzing"
tnd_curl POST /v1/tenants/fz-1/suspend
tnd_assert_eq 200 "$TND_HTTP_STATUS" "suspend fz-1 after the fuzzing"
rcl_wait_phase fz-1 Suspended

tnd_step "the workers were never disturbed"
tnd_assert_eq 2 "$(rcl_metric tenancyd_workers_ready)" "workers ready after the fuzzing"
tnd_assert_eq 0 "$(rcl_metric tenancyd_worker_respawns_total)" "worker respawns"
tnd_assert_eq "${workers[*]}" "$(rcl_workers | tr '\n' ' ' | sed 's/ $//')" "the worker processes"
tnd_assert_eq 2 "$(grep -c '"msg":"worker local-[12] registered' "$TND_DAEMON_LOG")" "worker registrations"
tnd_assert_eq 0 "$(grep -c 'dispatching it again' "$TND_DAEMON_LOG")" "tasks handed on"
tnd_curl GET "/v1/workflows?state=Failed"
tnd_assert_eq 0 "$(rcl_json -l /items)" "Failed workflows"
echo "$(dropped) messages dropped in all"

tnd_daemon_stop
echo "test_reconcile_fuzz.sh took $(($(date +%s) - started)) s"
tnd_pass
