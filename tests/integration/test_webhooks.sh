#!/bin/bash
# test_webhooks.sh — the webhook dispatcher against the real daemon and
# tests/tools/webhook_sink.py: subscriptions (secret once, never again),
# delivery of every event with a valid signature, retries of a flaky
# endpoint under the same webhook-id, dead letters and requeue, Retry-After,
# 410 disabling a subscription, a timing-out endpoint not delaying a healthy
# one, and no event lost across kill -9.
#
# The daemon runs the --dev config plus the webhook notifier (loopback
# allowed, 1 s attempt timeout) and a fast retry schedule: base 200 ms,
# cap 1000 ms, 6 attempts.  Each behaviour has its own subscription,
# filtered to its own tenant, and its own sink path (the sink counts
# attempts per path and webhook-id).
# shellcheck disable=SC2016
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_require_cmd curl python3
tnd_setup

SINK_LOG=$TND_TMP/sink.log
SECRETS=$TND_TMP/secrets
: >"$SECRETS"
: >"$SINK_LOG"
python3 "$top_srcdir/tests/tools/webhook_sink.py" --secrets-file "$SECRETS" --log "$SINK_LOG" \
	--port-file "$TND_TMP/sink.port" &
SINK_PID=$!
for _ in $(seq 100); do
	[ -s "$TND_TMP/sink.port" ] && break
	sleep 0.1
done
[ -s "$TND_TMP/sink.port" ] || tnd_hard_error "the webhook sink did not start"
SINK="http://127.0.0.1:$(cat "$TND_TMP/sink.port")"

tnd_step "a --dev config with the webhook notifier"
tnd_daemon_start
tnd_daemon_stop
sed -e 's|^  storage: {|  notifiers = ( { name = "webhook"; settings: { allow_loopback = true; timeout_ms = 1000; connect_timeout_ms = 500; }; } );\n  storage: {|' \
	"$TND_STATE/tenancyd.conf" >"$TND_TMP/hooks.conf"
cat >>"$TND_TMP/hooks.conf" <<'EOF'
webhooks: { retry_base_ms = 200; retry_cap_ms = 1000; max_attempts = 6; workers = 4;
            per_subscription = 2; poll_interval_ms = 50; };
EOF
grep -q 'name = "webhook"' "$TND_TMP/hooks.conf" || tnd_hard_error "could not add the notifier to the config"
tnd_run "$top_builddir/tenancyd" -t -c "$TND_TMP/hooks.conf"
tnd_assert_rc 0 "tenancyd -t on the webhook config"
sed -e 's/retry_cap_ms = 1000;/retry_cap_ms = 100;/' "$TND_TMP/hooks.conf" >"$TND_TMP/bad.conf"
tnd_run "$top_builddir/tenancyd" -t -c "$TND_TMP/bad.conf"
tnd_assert_rc 1 "tenancyd -t with a cap below the base"
tnd_assert_contains "$TND_ERR$TND_OUT" "webhooks.retry_cap_ms" "the refusal names the key"
sed -e 's/max_attempts = 6;/max_attempts = 6; retries = 3;/' "$TND_TMP/hooks.conf" >"$TND_TMP/bad.conf"
tnd_run "$top_builddir/tenancyd" -t -c "$TND_TMP/bad.conf"
tnd_assert_rc 1 "tenancyd -t with an unknown webhooks key"
# the shipped example config has no credentials key: a webhook notifier needs one
sed -e 's|^  storage: {|  notifiers = ( { name = "webhook"; } );\n  storage: {|' "$top_builddir/etc/tenancyd.conf" \
	>"$TND_TMP/nokey.conf"
tnd_run "$top_builddir/tenancyd" -t -c "$TND_TMP/nokey.conf"
tnd_assert_rc 1 "tenancyd -t with the webhook notifier and no credentials key"
tnd_assert_contains "$TND_ERR$TND_OUT" "needs reconcile.credentials_key_file" "the refusal says why"
tnd_daemon_start_config "$TND_TMP/hooks.conf"
grep -q 'webhook dispatcher running' "$TND_DAEMON_LOG" || tnd_fail "the dispatcher did not start"

json() {
	printf '%s' "$TND_BODY" | tnd_json "$@"
}

# subscribe PATH [TENANT] — a subscription; its id in $SUB, its secret to the sink
subscribe() {
	local body
	if [ -n "${2:-}" ]; then
		body=$(printf '{"url":"%s%s","tenant":"%s"}' "$SINK" "$1" "$2")
	else
		body=$(printf '{"url":"%s%s"}' "$SINK" "$1")
	fi
	tnd_curl POST /v1/webhooks -H 'Content-Type: application/json' --data-binary "$body"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "subscribe $1"
	SUB=$(json /id)
	case $(json /secret) in
	whsec_*) json /secret >>"$SECRETS" ;;
	*) tnd_fail "no whsec_ secret in the create answer: $TND_BODY" ;;
	esac
}

put() {
	tnd_curl PUT "/v1/tenants/$1" -H 'Content-Type: application/json' --data-binary \
		"$(printf '{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"%s"},"spec":{"plan":"business"}}' "$1")"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT $1"
}

# sink PYTHON-EXPRESSION — evaluated over the sink's log: `rows` is the list
# of requests, `by(path)` those of one path; prints the value.
sink() {
	python3 - "$SINK_LOG" "$1" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def by(path):
    return [r for r in rows if r["path"] == path]
print(eval(sys.argv[2]))
EOF
}

# wait_for DESCRIPTION SECONDS COMMAND... — until COMMAND succeeds
wait_for() {
	local what=$1 ticks=$(($2 * 10))
	shift 2
	until "$@"; do
		ticks=$((ticks - 1))
		[ "$ticks" -gt 0 ] || tnd_fail "timed out waiting for: $what"
		sleep 0.1
	done
}

# delivery_field SUB FIELD — FIELD of SUB's deliveries, one a line
delivery_field() {
	tnd_curl GET "/v1/deliveries?subscription=$1&limit=1000"
	json -e /items "/$2"
}

tnd_step "subscriptions: created with a secret shown once"
subscribe /ok
S_OK=$SUB
tnd_curl GET "/v1/webhooks/$S_OK"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET the subscription"
tnd_assert_not_contains "$TND_BODY" "whsec_" "GET shows no secret"
tnd_curl GET /v1/webhooks
tnd_assert_not_contains "$TND_BODY" "whsec_" "the list shows no secret"
tnd_assert_eq "$S_OK" "$(json -e /items /id)" "the list"
tnd_curl POST /v1/webhooks -H 'Content-Type: application/json' --data-binary '{"url":"ftp://example.com/x"}'
tnd_assert_problem 422 validation-failed "an ftp URL"
tnd_curl POST /v1/webhooks -H 'Content-Type: application/json' --data-binary '{"url":"http://x/","secret":"whsec_x"}'
tnd_assert_problem 422 validation-failed "a client-chosen secret"
tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" POST /v1/webhooks -H 'Content-Type: application/json' \
	--data-binary "{\"url\":\"$SINK/ok\"}"
tnd_assert_eq 403 "$TND_HTTP_STATUS" "an operator may not subscribe"
subscribe /flaky/2 flaky-t
S_FLAKY=$SUB
subscribe /flaky/6 dead-t
S_DEAD=$SUB
subscribe '/status/429?retry_after=2' ra-t
S_RA=$SUB
subscribe /status/410 gone-t
S_GONE=$SUB
subscribe /sleep/3000 slow-t
S_SLOW=$SUB
subscribe /ok
S_GONE_SOON=$SUB
tnd_curl DELETE "/v1/webhooks/$S_GONE_SOON"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "delete a subscription"
tnd_curl GET "/v1/webhooks/$S_GONE_SOON"
tnd_assert_eq 404 "$TND_HTTP_STATUS" "a deleted subscription is gone"

tnd_step "a timing-out endpoint does not delay a healthy one"
put slow-t
put h-1
put h-2
put h-3
# every event so far reaches /ok once with a valid signature, while the
# slow subscription's deliveries are still being retried
ok_complete() {
	local n_events
	tnd_curl GET '/v1/events?limit=1000'
	json -e /items /id | sort -u >"$TND_TMP/ids"
	n_events=$(wc -l <"$TND_TMP/ids")
	[ "$n_events" -gt 0 ] &&
		[ "$(sink "len(set(open('$TND_TMP/ids').read().split()) - {r['id'] for r in by('/ok')})")" = 0 ]
}
wait_for "every event at /ok" 20 ok_complete
slow_states=$(delivery_field "$S_SLOW" status | sort -u | tr '\n' ' ')
tnd_assert_eq "pending " "$slow_states" "the slow subscription is still retrying when the healthy one is done"
tnd_assert_eq 0 "$(sink "len([r for r in by('/ok') if not r['signatureValid']])")" "every signature at /ok is valid"
tnd_assert_eq "$(sink "len([r for r in rows if not r['signatureValid']])")" 0 "every signature is valid"

tnd_step "a flaky endpoint: delivered on the third attempt, same webhook-id"
put flaky-t
tnd_wait_settled flaky-t
flaky_done() {
	[ -n "$(delivery_field "$S_FLAKY" status)" ] &&
		[ "$(delivery_field "$S_FLAKY" status | sort -u)" = delivered ]
}
wait_for "the flaky subscription's deliveries" 30 flaky_done
tnd_assert_eq 3 "$(delivery_field "$S_FLAKY" attempts | sort -u)" "three attempts each"
tnd_curl GET "/v1/deliveries?subscription=$S_FLAKY&limit=1"
tnd_assert_eq '[500,500,204] [1,2,3]' "$(json -e /items | head -n 1 | python3 -c '
import json, sys
h = json.load(sys.stdin)["history"]
print(json.dumps([a["status"] for a in h], separators=(",", ":")), json.dumps([a["attempt"] for a in h], separators=(",", ":")))')" \
	"each attempt is recorded: number and status"
tnd_assert_eq "[1, 2, 3]" "$(sink "sorted({r['attempt'] for r in by('/flaky/2')})")" "attempts 1..3 per webhook-id"
n_flaky=$(delivery_field "$S_FLAKY" eventId | wc -l)
tnd_assert_eq "$((n_flaky * 3))" "$(sink "len(by('/flaky/2'))")" "three requests per event, each id retried"
tnd_assert_eq "$n_flaky" "$(sink "len({r['id'] for r in by('/flaky/2')})")" "retries keep the webhook-id"
tnd_assert_eq True "$(sink "all(r['signatureValid'] for r in by('/flaky/2'))")" "retries are signed"
# full jitter: each wait is random in [0, min(cap, base * 2^(n-1))], so the
# waits are not monotonic, but their ceilings grow: check each against its own
waits=$(grep -o "to subscription $S_FLAKY: attempt [0-9]*, status 500, [0-9]* ms: pending (next in [0-9]* ms)" \
	"$TND_DAEMON_LOG" | sed 's/.*attempt \([0-9]*\),.*next in \([0-9]*\) ms)/\1 \2/')
[ "$(printf '%s\n' "$waits" | grep -c .)" = "$((n_flaky * 2))" ] || tnd_fail "expected two logged retries per flaky delivery, got: $waits"
printf '%s\n' "$waits" | while read -r n wait; do
	ceiling=$((200 << (n - 1)))
	[ "$ceiling" -le 1000 ] || ceiling=1000
	[ "$wait" -ge 0 ] && [ "$wait" -le "$ceiling" ] || tnd_fail "retry after attempt $n waited $wait ms, over its ceiling $ceiling"
done || exit 1

tnd_step "500 until the last attempt: dead, then requeued and delivered"
put dead-t
tnd_wait_settled dead-t
dead_done() {
	[ -n "$(delivery_field "$S_DEAD" status)" ] && [ "$(delivery_field "$S_DEAD" status | sort -u)" = dead ]
}
wait_for "dead letters" 30 dead_done
tnd_assert_eq 6 "$(delivery_field "$S_DEAD" attempts | sort -u)" "dead after max_attempts"
tnd_curl GET "/v1/deliveries?status=dead&subscription=$S_DEAD"
DEAD_ID=$(json -e /items /id | head -n 1)
n_dead=$(json -e /items /id | wc -l)
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" GET "/v1/deliveries?status=dead"
tnd_assert_eq 403 "$TND_HTTP_STATUS" "a viewer reads no deliveries"
tnd_curl POST "/v1/deliveries/$S_OK-nope/requeue"
tnd_assert_eq 404 "$TND_HTTP_STATUS" "requeue an unknown delivery"
tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" POST "/v1/deliveries/$DEAD_ID/requeue"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "requeue one dead delivery"
tnd_assert_eq pending "$(json /status)" "requeued: pending"
tnd_assert_eq 0 "$(json /attempts)" "requeued with fresh attempts"
if [ "$n_dead" -gt 1 ]; then
	tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" POST /v1/deliveries/requeue -H 'Content-Type: application/json' \
		--data-binary "{\"subscription\":\"$S_DEAD\",\"from\":\"2000-01-01T00:00:00Z\",\"until\":\"2100-01-01T00:00:00Z\"}"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "bulk requeue"
	tnd_assert_eq "$((n_dead - 1))" "$(json /requeued)" "bulk requeue counts the rest"
fi
requeued_done() {
	[ "$(delivery_field "$S_DEAD" status | sort -u)" = delivered ]
}
wait_for "the requeued deliveries" 20 requeued_done
tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" POST "/v1/deliveries/$DEAD_ID/requeue"
tnd_assert_problem 409 conflict "a delivered delivery is not requeued"

tnd_step "429 with Retry-After: 2 s between attempts"
put ra-t
ra_two() {
	[ "$(sink "max([r['attempt'] for r in by('/status/429')] or [0])")" -ge 2 ]
}
wait_for "a second attempt at the 429 endpoint" 30 ra_two
gap=$(sink "min(b['receivedAt'] - a['receivedAt'] for a, b in zip(sorted(by('/status/429'), key=lambda r: (r['id'], r['attempt'])), sorted(by('/status/429'), key=lambda r: (r['id'], r['attempt']))[1:]) if a['id'] == b['id'])")
python3 -c "import sys; sys.exit(0 if float('$gap') >= 1.9 else 1)" ||
	tnd_fail "attempts after Retry-After: 2 came $gap s apart"

tnd_step "410 disables the subscription"
put gone-t
tnd_wait_settled gone-t
gone_done() {
	tnd_curl GET "/v1/webhooks/$S_GONE"
	[ "$(json /state)" = disabled ]
}
wait_for "the 410 subscription disabled" 20 gone_done
sleep 1
n_gone=$(sink "len(by('/status/410'))")
[ "$n_gone" -ge 1 ] && [ "$n_gone" -le 2 ] ||
	tnd_fail "$n_gone requests to the 410 endpoint: only those in flight (per_subscription = 2) may follow the first"
tnd_assert_eq 1 "$(sink "max(r['attempt'] for r in by('/status/410'))")" "no retry after 410"
tnd_assert_eq failed "$(delivery_field "$S_GONE" status | sort -u | tr '\n' ' ' | sed 's/ $//')" \
	"the subscription's deliveries are failed"

tnd_step "kill -9 loses no event"
# a slow (300 ms, within the timeout) subscription keeps attempts in flight at the kill
tnd_curl GET '/v1/events?limit=1000'
json -e /items /id | sort -u >"$TND_TMP/ids-before-slow"
subscribe /sleep/300
for i in 1 2 3 4 5; do
	put "k-$i"
done
in_flight=$(sink "len(by('/sleep/300'))")
tnd_daemon_kill
tnd_daemon_start_config "$TND_TMP/hooks.conf"
put k-after
wait_for "every event at /ok after the restart" 30 ok_complete
slow_complete() {
	tnd_curl GET '/v1/events?limit=1000'
	json -e /items /id | sort -u | comm -13 "$TND_TMP/ids-before-slow" - >"$TND_TMP/ids-slow"
	[ "$(sink "len(set(open('$TND_TMP/ids-slow').read().split()) - {r['id'] for r in by('/sleep/300')})")" = 0 ]
}
wait_for "every event since its creation at the slow subscription" 60 slow_complete
echo "the slow subscription had $in_flight of $(wc -l <"$TND_TMP/ids-slow") events when the daemon was killed"
tnd_assert_eq 0 "$(sink "len([r for r in by('/ok') if not r['signatureValid']])")" "valid signatures after the restart"

tnd_step "tenancyctl webhooks and deliveries"
: >"$TND_TMP/empty.conf"
export TENANCYCTL_CONFIG=$TND_TMP/empty.conf TENANCYD_URL=$TND_URL TENANCYD_TOKEN_FILE=$TND_ADMIN_TOKEN_FILE
ctl=$top_builddir/tenancyctl
tnd_run "$ctl" webhooks create "$SINK/ok" --type created,deleted --tenant cli-t
tnd_assert_rc 0 "webhooks create"
tnd_assert_match "$TND_OUT" '^whsec_[A-Za-z0-9+/=]+$' "the secret alone on stdout"
tnd_assert_contains "$TND_ERR" "shown only this once" "the warning on stderr"
CLI_HOOK=$(printf '%s' "$TND_ERR" | sed -n 's|^webhook/\([^ ]*\) created.*|\1|p')
[ -n "$CLI_HOOK" ] || tnd_fail "no webhook id on stderr: $TND_ERR"
tnd_run "$ctl" webhooks list
tnd_assert_rc 0 "webhooks list"
tnd_assert_contains "$TND_OUT" "$CLI_HOOK" "the list shows it"
tnd_assert_contains "$TND_OUT" '["created","deleted"]' "with its types"
tnd_assert_not_contains "$TND_OUT" "whsec_" "and no secret"
tnd_run "$ctl" deliveries list --subscription "$S_FLAKY" --state delivered
tnd_assert_rc 0 "deliveries list"
tnd_assert_eq "$n_flaky" "$(printf '%s\n' "$TND_OUT" | grep -c '^dlv-')" "one row per flaky delivery"
tnd_run "$ctl" -o json deliveries list --subscription "$S_DEAD" --all
tnd_assert_rc 0 "deliveries list -o json"
tnd_assert_eq delivered "$(printf '%s' "$TND_OUT" | tnd_json -e /items /status | sort -u)" "as JSON"
tnd_run "$ctl" deliveries requeue-all --subscription "$S_DEAD" --after 2000-01-01T00:00:00Z
tnd_assert_rc 0 "deliveries requeue-all"
tnd_assert_eq "0 dead deliveries requeued" "$TND_OUT" "nothing dead to requeue"
tnd_run "$ctl" deliveries requeue "$DEAD_ID"
tnd_assert_rc 1 "requeue a delivered delivery"
TENANCYD_TOKEN_FILE=$TND_VIEWER_TOKEN_FILE tnd_run "$ctl" deliveries list
tnd_assert_rc 1 "a viewer lists no deliveries"
tnd_run "$ctl" webhooks delete "$CLI_HOOK"
tnd_assert_rc 0 "webhooks delete"
tnd_assert_eq "webhook/$CLI_HOOK deleted" "$TND_OUT" "webhooks delete says so"
tnd_run "$ctl" deliveries requeue
tnd_assert_rc 2 "requeue without an id is a usage error"

tnd_step "metrics"
tnd_curl GET /metrics
tnd_assert_contains "$TND_BODY" 'tenancyd_webhook_attempts_total{outcome="delivered"}' "attempts are counted"
tnd_assert_contains "$TND_BODY" 'tenancyd_webhook_attempt_duration_seconds' "latencies are observed"

tnd_step "no secret in the log"
grep -q 'whsec_' "$TND_DAEMON_LOG" && tnd_fail "a secret is in the daemon log"
tnd_daemon_stop
kill "$SINK_PID" 2>/dev/null
wait "$SINK_PID" 2>/dev/null
tnd_pass
