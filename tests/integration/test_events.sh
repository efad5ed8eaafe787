#!/bin/bash
# test_events.sh — the event outbox end to end on `tenancyd --dev` (the
# embedded data plane with workers; docs/events.md, DESIGN §1 and §6):
#
#   * one tenant through create → Active → suspend → resume → archive →
#     delete yields exactly created, activated, suspended, resumed,
#     archived, deleted (plus plan_updated for a plan change), with the
#     CloudEvents attributes, the data fields (previous/new state, version,
#     the X-Request-Id sent as requestId and correlation id) and strictly
#     increasing, gap-free sequences (one writer);
#   * replay from the middle (after=) returns exactly the rest; filters by
#     tenant and type; a tenant-scoped token sees only its own events;
#   * concurrent applies from several clients: every acknowledged create
#     has exactly one created event, none for a refused one, and sequences
#     are unique and strictly increasing;
#   * kill -9 of the daemon amid applies, repeatedly: after the restart
#     every 2xx create has its created event;
#   * a long poll (wait=) returns as soon as an event commits, and
#     `tenancyctl events --follow` prints a new event.
#
# TND_EVENTS_CLIENTS and TND_EVENTS_PER_CLIENT size the concurrent part,
# TND_EVENTS_KILLS the crash part.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_require_cmd curl
tnd_setup
tnd_daemon_start

clients=${TND_EVENTS_CLIENTS:-6}
per_client=${TND_EVENTS_PER_CLIENT:-25}
kills=${TND_EVENTS_KILLS:-3}

json() {
	printf '%s' "$TND_BODY" | tnd_json "$@"
}

manifest() { # ID [PLAN [STATE]]
	printf '{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"%s"},"spec":{"plan":"%s","state":"%s"}}' \
		"$1" "${2:-free}" "${3:-active}"
}

# events QUERY — every event matching QUERY (after=0, all pages), one line
# each: sequence (as a number), type without prefix, subject, previousState,
# newState, version, requestId, correlationid.  Into $TND_TMP/events.
events() {
	local after=0 n query=${1:-} seq rest
	: >"$TND_TMP/events"
	while :; do
		tnd_curl GET "/v1/events?after=$after&limit=1000$query"
		tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/events?after=$after$query"
		n=$(json -l /items)
		[ "$n" -gt 0 ] || break
		json -e /items /sequence /type /subject /data/previousState /data/newState /data/version \
			/data/requestId /correlationid | while IFS=$'\t' read -r seq rest; do
			printf '%d\t%s\n' "$((10#$seq))" "${rest//tenancy.tenant./}"
		done >>"$TND_TMP/events"
		after=$(json /nextAfter)
	done
}

# check_increasing FILE — the first column strictly increases.
check_increasing() {
	awk -F'\t' 'NR > 1 && $1 <= prev { print "sequence " $1 " after " prev; bad = 1 } { prev = $1 }
		END { exit bad }' "$1" || tnd_fail "sequences do not increase strictly"
}

# --- one tenant through its whole life ---------------------------------------------------

tnd_step "one tenant's lifecycle"
tnd_curl PUT /v1/tenants/ev-life -H 'Content-Type: application/json' -H 'X-Request-Id: life-create' \
	--data-binary "$(manifest ev-life free)"
tnd_assert_eq 201 "$TND_HTTP_STATUS" "create ev-life"
tnd_wait_phase ev-life Active
tnd_curl PUT /v1/tenants/ev-life -H 'Content-Type: application/json' -H 'X-Request-Id: life-plan' \
	--data-binary "$(manifest ev-life business)"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "plan change of ev-life"
tnd_wait_settled ev-life
for action in suspend:Suspended resume:Active archive:Archived; do
	tnd_curl POST "/v1/tenants/ev-life/${action%%:*}" -H "X-Request-Id: life-${action%%:*}"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "${action%%:*} ev-life"
	tnd_wait_phase ev-life "${action##*:}"
done
tnd_curl DELETE /v1/tenants/ev-life -H 'X-Request-Id: life-delete'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "delete ev-life"
tnd_wait_phase ev-life Deleted

events "&tenant=ev-life"
cut -f2- "$TND_TMP/events" >"$TND_TMP/life.got"
cat >"$TND_TMP/life.want" <<'WANT'
created	ev-life	null	Draft	1	life-create	life-create
activated	ev-life	Draft	Active	1	life-create	life-create
plan_updated	ev-life	Active	Active	2	life-plan	life-plan
suspended	ev-life	Active	Suspended	3	life-suspend	life-suspend
resumed	ev-life	Suspended	Active	4	life-resume	life-resume
archived	ev-life	Active	Archived	5	life-archive	life-archive
deleted	ev-life	Archived	Deleted	6	life-delete	life-delete
WANT
tnd_assert_eq "$(cat "$TND_TMP/life.want")" "$(cat "$TND_TMP/life.got")" "ev-life's events"
# one writer: consecutive sequences, from 1 on a fresh registry
tnd_assert_eq "1 2 3 4 5 6 7" "$(cut -f1 "$TND_TMP/events" | tr '\n' ' ' | sed 's/ $//')" "ev-life's sequences"

tnd_step "CloudEvents attributes"
tnd_curl GET "/v1/events?after=0&limit=1"
event=$(json /items/0)
tnd_assert_eq 1.0 "$(json /items/0/specversion)" "specversion"
tnd_assert_eq 00000000000000000001 "$(json /items/0/sequence)" "zero-padded sequence"
tnd_assert_eq tenancy.tenant.created "$(json /items/0/type)" "type"
tnd_assert_eq ev-life "$(json /items/0/subject)" "subject"
tnd_assert_eq application/json "$(json /items/0/datacontenttype)" "datacontenttype"
tnd_assert_contains "$(json /items/0/source)" "tenancyd://" "source"
[[ $(json /items/0/id) =~ ^[0-9a-f-]{36}$ ]] || tnd_fail "event id is not a UUID: $event"
[[ $(json /items/0/time) =~ ^20[0-9-]{8}T[0-9:.]+Z$ ]] || tnd_fail "event time is not RFC 3339: $event"
tnd_assert_eq ev-life "$(json /items/0/data/tenantId)" "data.tenantId"
tnd_assert_eq free "$(json /items/0/data/plan)" "data.plan of created"
tnd_assert_eq 1 "$(json /nextAfter)" "nextAfter"
first_id=$(json /items/0/id)
tnd_curl GET "/v1/events?after=0&limit=1"
tnd_assert_eq "$first_id" "$(json /items/0/id)" "an event's id on a second read"
tnd_curl GET "/v1/events?tenant=ev-life&type=plan_updated"
tnd_assert_eq "free business" "$(json /items/0/data/previousPlan) $(json /items/0/data/newPlan)" "plan_updated plans"
tnd_curl GET "/v1/events?tenant=ev-life&type=tenancy.tenant.activated"
tnd_assert_eq 1 "$(json -l /items)" "type filter, full name"
tnd_assert_contains "$(json /items/0/data/workflowId)" "wf-" "activated names its workflow"

# --- replay from the middle, filters, errors, roles ---------------------------------------

tnd_step "replay from the middle"
tnd_curl GET "/v1/events?after=3"
tnd_assert_eq "suspended resumed archived deleted" "$(json -e /items /type | sed 's/tenancy.tenant.//' | tr '\n' ' ' |
	sed 's/ $//')" "events after 3"
tnd_assert_eq 7 "$(json /nextAfter)" "nextAfter after the last"
tnd_curl GET "/v1/events?after=3&limit=2"
tnd_assert_eq "4 5" "$(json -e /items /sequence | sed 's/^0*//' | tr '\n' ' ' | sed 's/ $//')" "a page of 2 after 3"
tnd_assert_eq 5 "$(json /nextAfter)" "nextAfter of that page"
tnd_curl GET "/v1/events?after=7"
tnd_assert_eq "0 7" "$(json -l /items) $(json /nextAfter)" "nothing after the last event"
for bad in "after=-1" "after=x" "limit=0" "limit=1001" "wait=x" "type=Bad%20Type"; do
	tnd_curl GET "/v1/events?$bad"
	tnd_assert_problem 400 bad-request "GET /v1/events?$bad"
done
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" GET /v1/events
tnd_assert_eq 200 "$TND_HTTP_STATUS" "a viewer replays events"
tnd_curl_as - GET /v1/events
tnd_assert_problem 401 unauthorized "events without a token"

tnd_step "a tenant-scoped token"
tnd_curl PUT /v1/tenants/ev-other -H 'Content-Type: application/json' --data-binary "$(manifest ev-other)"
tnd_assert_eq 201 "$TND_HTTP_STATUS" "create ev-other"
tenant_token=tnd_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
printf 'other-reader tenant sha256:%s ev-other\n' "$(printf '%s' "$tenant_token" | sha256sum | cut -d' ' -f1)" \
	>>"$TND_STATE/tokens"
(umask 077 && printf '%s\n' "$tenant_token" >"$TND_TMP/tenant.token")
tnd_daemon_reload || tnd_fail "the daemon rejected the tokens file with a tenant token"
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/events
tnd_assert_eq 200 "$TND_HTTP_STATUS" "tenant token: events"
tnd_assert_eq ev-other "$(json -e /items /subject | sort -u)" "tenant token sees its own events only"
tnd_curl_as "$TND_TMP/tenant.token" GET "/v1/events?tenant=ev-life"
tnd_assert_problem 404 not-found "tenant token: another tenant's events"

# --- long poll and --follow -----------------------------------------------------------------

tnd_step "long poll"
tnd_wait_settled ev-other
tnd_curl GET "/v1/events?after=0&limit=1000"
head_seq=$(json /nextAfter)
(umask 077 && printf 'Authorization: Bearer %s\n' "$(head -n 1 "$TND_ADMIN_TOKEN_FILE")" >"$TND_TMP/admin.auth")
(sleep 1 && curl -s -o /dev/null -X POST -H "@$TND_TMP/admin.auth" "$TND_URL/v1/tenants/ev-other/suspend") &
suspender=$!
started=$(date +%s%3N)
tnd_curl GET "/v1/events?after=$head_seq&wait=20"
elapsed=$(($(date +%s%3N) - started))
wait "$suspender" # (a bare `wait` would wait for the daemon too)
tnd_assert_eq 200 "$TND_HTTP_STATUS" "long poll"
[ "$(json -l /items)" -ge 1 ] || tnd_fail "long poll returned no event: $TND_BODY"
[ "$elapsed" -lt 15000 ] || tnd_fail "long poll took $elapsed ms for an event committed after about 1 s"
started=$(date +%s%3N)
tnd_curl GET "/v1/events?after=999999&wait=1"
elapsed=$(($(date +%s%3N) - started))
tnd_assert_eq "0 999999" "$(json -l /items) $(json /nextAfter)" "an empty long poll"
[ "$elapsed" -ge 900 ] || tnd_fail "an empty long poll of 1 s returned after $elapsed ms"

tnd_step "tenancyctl events --follow"
export TENANCYD_URL=$TND_URL TENANCYD_TOKEN_FILE=$TND_ADMIN_TOKEN_FILE
tnd_run "$top_builddir/tenancyctl" events --tenant ev-life
tnd_assert_rc 0 "tenancyctl events"
tnd_assert_contains "$TND_OUT" "plan_updated" "tenancyctl events table"
tnd_run "$top_builddir/tenancyctl" events -o json --type deleted
tnd_assert_rc 0 "tenancyctl events -o json"
tnd_assert_eq 1 "$(printf '%s\n' "$TND_OUT" | wc -l)" "JSON Lines: one deleted event"
printf '%s' "$TND_OUT" | tnd_json /type >/dev/null || tnd_fail "tenancyctl events -o json is not JSON: $TND_OUT"
"$top_builddir/tenancyctl" --timeout 10 events --follow --after "$head_seq" -o json >"$TND_TMP/follow.out" 2>&1 &
follower=$!
sleep 1
tnd_curl PUT /v1/tenants/ev-followed -H 'Content-Type: application/json' --data-binary "$(manifest ev-followed)"
tnd_assert_eq 201 "$TND_HTTP_STATUS" "create ev-followed"
deadline=$(($(date +%s) + 20))
until grep -q '"subject":"ev-followed"' "$TND_TMP/follow.out"; do
	kill -0 "$follower" 2>/dev/null || tnd_fail "tenancyctl events --follow exited: $(cat "$TND_TMP/follow.out")"
	[ "$(date +%s)" -lt "$deadline" ] || tnd_fail "--follow printed no event of ev-followed: $(cat "$TND_TMP/follow.out")"
	sleep 0.1
done
kill "$follower"
wait "$follower" 2>/dev/null

# --- concurrent applies -----------------------------------------------------------------------

tnd_step "concurrent applies from $clients clients"
client() { # C — create per_client tenants; "id status" per request into acks.C
	local c=$1 i id code
	for ((i = 0; i < per_client; i++)); do
		id=$(printf 'ev-c%d-%03d' "$c" "$i")
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X PUT -H "@$TND_TMP/admin.auth" \
			-H 'Content-Type: application/json' --data-binary "$(manifest "$id")" "$TND_URL/v1/tenants/$id")
		printf '%s %s\n' "$id" "$code"
	done >"$TND_TMP/acks.$c"
}
pids=()
for ((c = 0; c < clients; c++)); do
	client "$c" &
	pids+=($!)
done
wait "${pids[@]}"
cat "$TND_TMP"/acks.* >"$TND_TMP/acks"
awk '$2 == 201 { print $1 }' "$TND_TMP/acks" | sort >"$TND_TMP/acked"
acked=$(wc -l <"$TND_TMP/acked")
[ "$acked" -gt 0 ] || tnd_fail "no create was acknowledged: $(head -n 5 "$TND_TMP/acks")"
events "&type=created"
awk -F'\t' '{ print $3 }' "$TND_TMP/events" | grep '^ev-c' | sort >"$TND_TMP/created"
tnd_assert_eq "$(cat "$TND_TMP/acked")" "$(cat "$TND_TMP/created")" \
	"created events of the concurrent creates (acknowledged: $acked)"
events ""
check_increasing "$TND_TMP/events"
tnd_assert_eq 0 "$(cut -f1 "$TND_TMP/events" | sort | uniq -d | wc -l)" "duplicate sequences"
echo "$acked acknowledged creates, each with one created event; $(wc -l <"$TND_TMP/events") events in order"

# --- kill -9 amid applies ---------------------------------------------------------------------

tnd_step "kill -9 amid applies ($kills times)"
: >"$TND_TMP/crash.acks"
crash_writer() { # W K — create until a request gets no answer; acknowledged ids to crash.acks.W
	local w=$1 k=$2 i=0 id code
	while :; do
		id=$(printf 'ev-k%d-w%d-%04d' "$k" "$w" "$i")
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PUT -H "@$TND_TMP/admin.auth" \
			-H 'Content-Type: application/json' --data-binary "$(manifest "$id")" "$TND_URL/v1/tenants/$id")
		case $code in
		201) echo "$id" ;;
		000) break ;;
		esac
		i=$((i + 1))
	done >"$TND_TMP/crash.acks.$w"
}
for ((k = 0; k < kills; k++)); do
	pids=()
	for w in 0 1 2 3; do
		crash_writer "$w" "$k" &
		pids+=($!)
	done
	sleep "0.$((RANDOM % 8 + 2))"
	tnd_daemon_kill
	wait "${pids[@]}"
	cat "$TND_TMP"/crash.acks.[0-9] >>"$TND_TMP/crash.acks"
	tnd_daemon_restart
done
sort "$TND_TMP/crash.acks" >"$TND_TMP/crash.acked"
crash_acked=$(wc -l <"$TND_TMP/crash.acked")
[ "$crash_acked" -gt 0 ] || tnd_fail "no create was acknowledged between the kills"
events "&type=created"
awk -F'\t' '{ print $3 }' "$TND_TMP/events" | grep '^ev-k' | sort >"$TND_TMP/crash.created"
missing=$(comm -23 "$TND_TMP/crash.acked" "$TND_TMP/crash.created")
[ -z "$missing" ] || tnd_fail "acknowledged creates without a created event after kill -9: $missing"
# an event without an acknowledgement is fine (killed after the commit,
# before the answer), but only for a tenant that exists
for id in $(comm -13 "$TND_TMP/crash.acked" "$TND_TMP/crash.created"); do
	tnd_curl GET "/v1/tenants/$id"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "tenant $id of an unacknowledged created event"
done
events ""
check_increasing "$TND_TMP/events"
echo "$crash_acked acknowledged creates across $kills kills, each with its created event"

tnd_daemon_stop
tnd_pass
