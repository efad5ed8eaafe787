#!/bin/bash
# test_quotas.sh — plans and quotas through the real daemon (docs/api.md,
# "Quotas"), with the `rules` policy plugin denying operators' scale-ups:
#
#   * a manifest above the plan's max_quotas: 422 naming quota, requested
#     and allowed, at errors[].path spec.quotas.storageGb;
#   * GET /v1/tenants/{id}/quotas: effective quotas, plan bounds, and a
#     history entry per accepted change of them (not per version), with
#     source, version and request id; paged by cursor; a tenant token reads
#     its own;
#   * a raise goes through tenant.scale_up (operator denied, admin allowed);
#   * overrides of quotas: past max_quotas up to ceiling_quotas (recorded
#     in the history), refused past the ceiling;
#   * the plan's compute budget: 16 parallel creates each needing the last
#     2 units: exactly one 201, fifteen 403 naming quota, requested,
#     allowed; a delete gives units back; the sums survive kill -9;
#   * SIGHUP changing a plan's defaults: the next apply records them.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/reconcile_lib.sh"

tnd_require_cmd curl
tnd_setup

rcl_prepare_state "$TND_TMP/state"
config=$TND_STATE/tenancyd.conf
rules=$TND_TMP/policy.rules
printf '%s\n' 'default = "allow";' \
	'rules = ( { effect = "deny"; reason = "scale-ups need an admin"; actions = "tenant.scale_up"; roles = "operator"; } );' \
	>"$rules"
chmod 0644 "$rules"

# make_config EVENTS — dev.conf with the rules policy, a compute budget of 40
# and ceilings for plan business, whose default events_per_minute is EVENTS
make_config() {
	awk -v rules="$rules" -v events="$1" '
		/^plugins: *\{/ { print; print "  policy: { name = \"rules\"; settings: { rules_file = \"" rules "\"; }; };"; next }
		/^ *resync_interval = / { print "  resync_interval = 3600;"; next }
		/compute_units = 4;  storage_gb = 50;  events_per_minute = 600;/ { sub(/events_per_minute = 600;/, "events_per_minute = " events ";") }
		/max_quotas: \{ compute_units = 16; storage_gb = 500;/ {
			sub(/; \},$/, "; ceiling_quotas: { compute_units = 64; storage_gb = 2000; events_per_minute = 20000; concurrent_operations = 16; }; max_total_compute_units = 40; },")
		}
		{ print }' "$TND_STATE/dev.conf" >"$config"
	chmod 0644 "$config"
	grep -q 'max_total_compute_units = 40' "$config" || tnd_hard_error "dev.conf's business plan has changed"
	grep -q "events_per_minute = $1;" "$config" || tnd_hard_error "dev.conf's business defaults have changed"
}
make_config 600
tnd_daemon_start_config "$config"

# put ID QUOTAS-JSON [LABEL] [curl options] — PUT a draft business tenant with spec.quotas
put() {
	local id=$1 quotas=$2 label=${3:-one}
	shift 3 2>/dev/null || shift $#
	tnd_curl PUT "/v1/tenants/$id" -H 'Content-Type: application/json' --data-binary \
		"{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"$id\",\"labels\":{\"l\":\"$label\"}},
		  \"spec\":{\"plan\":\"business\",\"state\":\"draft\",\"quotas\":$quotas}}" "$@"
}
put_as() { # TOKEN-FILE ID QUOTAS-JSON
	tnd_curl_as "$1" PUT "/v1/tenants/$2" -H 'Content-Type: application/json' --data-binary \
		"{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"$2\",\"labels\":{\"l\":\"one\"}},
		  \"spec\":{\"plan\":\"business\",\"state\":\"draft\",\"quotas\":$3}}"
}
quotas() { # ID [QUERY]
	tnd_curl GET "/v1/tenants/$1/quotas${2:-}"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/tenants/$1/quotas${2:-}: $TND_BODY"
}

tnd_step "a manifest above the plan's maximum: 422 naming quota, requested and allowed"
put q-1 '{"storageGb":900}'
tnd_assert_problem 422 validation-failed "storageGb above max_quotas"
tnd_assert_eq spec.quotas.storageGb "$(rcl_json /errors/0/path)" "the error's path"
tnd_assert_contains "$(rcl_json /errors/0/reason)" "storageGb 900 exceeds the plan's maximum of 500" "the reason"

tnd_step "a create records the effective quotas: plan defaults overlaid by the manifest"
put q-1 '{"computeUnits":8}' one -H 'X-Request-Id: rid-create'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "create q-1: $TND_BODY"
quotas q-1
tnd_assert_eq "8 50 600 2" "$(rcl_json /effective/computeUnits) $(rcl_json /effective/storageGb) $(rcl_json /effective/eventsPerMinute) $(rcl_json /effective/concurrentOperations)" "effective quotas"
tnd_assert_eq "4 16 64 40" "$(rcl_json /plan/defaults/computeUnits) $(rcl_json /plan/max/computeUnits) $(rcl_json /plan/ceiling/computeUnits) $(rcl_json /plan/maxTotalComputeUnits)" "plan bounds"
tnd_assert_eq 1 "$(rcl_json -l /history)" "history entries"
tnd_assert_eq "1 manifest rid-create 8" "$(rcl_json /history/0/version) $(rcl_json /history/0/source) $(rcl_json /history/0/requestId) $(rcl_json /history/0/quotas/computeUnits)" "the first entry"

tnd_step "lowering is no scale-up: an operator may"
put_as "$TND_OPERATOR_TOKEN_FILE" q-1 '{"computeUnits":6}'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "operator lowers computeUnits: $TND_BODY"

tnd_step "a raise is a scale-up: the policy denies the operator, allows the admin"
put_as "$TND_OPERATOR_TOKEN_FILE" q-1 '{"computeUnits":10}'
tnd_assert_problem 403 policy-denied "operator raises computeUnits"
tnd_assert_contains "$TND_BODY" "scale-ups need an admin" "the denial"
put q-1 '{"computeUnits":10}'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "admin raises computeUnits: $TND_BODY"
X

tnd_step "a version that leaves the quotas alone adds no history entry"
put q-1 '{"computeUnits":10}' two
tnd_assert_eq 200 "$TND_HTTP_STATUS" "label change: $TND_BODY"
quotas q-1
tnd_assert_eq 3 "$(rcl_json -l /history)" "history entries after four versions"
tnd_assert_eq "1 2 3" "$(rcl_json -e /history /version | tr '\n' ' ' | sed 's/ $//')" "versions of the entries"
tnd_assert_eq "8 6 10" "$(rcl_json -e /history /quotas/computeUnits | tr '\n' ' ' | sed 's/ $//')" "computeUnits over time"

tnd_step "an override may pass the plan's maximum, not its ceiling"
tnd_curl POST /v1/overrides -H 'Content-Type: application/json' \
	--data-binary '{"tenant":"q-1","computeUnits":100,"ttlSeconds":600}'
tnd_assert_problem 422 validation-failed "override above the ceiling"
tnd_assert_contains "$(rcl_json /errors/0/reason)" "computeUnits 100 exceeds the ceiling of 64" "the reason"
tnd_curl POST /v1/overrides -H 'Content-Type: application/json' -H 'X-Request-Id: rid-override' \
	--data-binary '{"tenant":"q-1","computeUnits":30,"storageGb":1000,"ttlSeconds":600,"reason":"migration"}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "override within the ceiling: $TND_BODY"
quotas q-1
tnd_assert_eq "30 1000" "$(rcl_json /effective/computeUnits) $(rcl_json /effective/storageGb)" "effective with the override"
tnd_assert_eq 4 "$(rcl_json -l /history)" "history entries after the override"
tnd_assert_eq "override rid-override 30 4" "$(rcl_json /history/3/source) $(rcl_json /history/3/requestId) $(rcl_json /history/3/quotas/computeUnits) $(rcl_json /history/3/version)" "the override's entry"

tnd_step "the history pages by cursor"
quotas q-1 '?limit=2'
tnd_assert_eq "2 2" "$(rcl_json -l /history) $(rcl_json /nextCursor)" "first page"
quotas q-1 '?limit=2&cursor=2'
tnd_assert_eq "3 4" "$(rcl_json -e /history /seq | tr '\n' ' ' | sed 's/ $//')" "second page"
quotas q-1 '?cursor=4'
tnd_assert_eq "0 null" "$(rcl_json -l /history) $(rcl_json /nextCursor)" "past the end"
tnd_curl GET /v1/tenants/q-1/quotas?cursor=x
tnd_assert_problem 400 bad-request "a bad cursor"
tnd_curl GET /v1/tenants/no-such/quotas
tnd_assert_problem 404 not-found "quotas of no tenant"

tnd_step "a tenant token reads its own quotas only"
tenant_token=tnd_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
printf 'q1-reader tenant sha256:%s q-1\n' "$(printf '%s' "$tenant_token" | sha256sum | cut -d' ' -f1)" \
	>>"$TND_STATE/tokens"
(umask 077 && printf '%s\n' "$tenant_token" >"$TND_TMP/tenant.token")
tnd_daemon_reload || tnd_fail "the daemon rejected the tokens file with a tenant token"
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/tenants/q-1/quotas
tnd_assert_eq 200 "$TND_HTTP_STATUS" "its own quotas"
put q-2 '{"computeUnits":16}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "create q-2: $TND_BODY"
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/tenants/q-2/quotas
tnd_assert_problem 404 not-found "another tenant's quotas"

tnd_step "16 parallel creates each needing the last 2 compute units: exactly one wins"
# held: q-1 10 (overrides are not charged), q-2 16; q-3 takes 12 more: 38 of 40
put q-3 '{"computeUnits":12}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "create q-3: $TND_BODY"
quotas q-3
tnd_assert_eq 38 "$(rcl_json /plan/computeUnitsInUse)" "compute units in use"
admin_auth=$TND_TMP/admin.auth
(umask 077 && printf 'Authorization: Bearer %s\n' "$(head -n 1 "$TND_ADMIN_TOKEN_FILE")" >"$admin_auth")
racers=()
for i in $(seq 1 16); do
	curl -sS -o "$TND_TMP/race-$i.body" -w '%{http_code}\n' -X PUT -H "@$admin_auth" \
		-H 'Content-Type: application/json' --data-binary \
		"{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"race-$i\"},
		  \"spec\":{\"plan\":\"business\",\"state\":\"draft\",\"quotas\":{\"computeUnits\":2}}}" \
		"$TND_URL/v1/tenants/race-$i" >"$TND_TMP/race-$i.status" &
	racers+=($!)
done
wait "${racers[@]}" # not the daemon, also a child of this shell
won=0 lost=0
for i in $(seq 1 16); do
	case $(cat "$TND_TMP/race-$i.status") in
	201) won=$((won + 1)) ;;
	403)
		lost=$((lost + 1))
		body=$(cat "$TND_TMP/race-$i.body")
		tnd_assert_eq "urn:tenancyd:problem:quota-exceeded computeUnits 2 0" \
			"$(printf '%s' "$body" | tnd_json /type) $(printf '%s' "$body" | tnd_json /quota) $(printf '%s' "$body" | tnd_json /requested) $(printf '%s' "$body" | tnd_json /allowed)" \
			"race-$i's 403"
		tnd_assert_contains "$body" "computeUnits: requested 2, allowed 0" "race-$i's detail"
		;;
	*) tnd_fail "race-$i answered $(cat "$TND_TMP/race-$i.status"): $(cat "$TND_TMP/race-$i.body")" ;;
	esac
done
tnd_assert_eq "1 15" "$won $lost" "creates that won and lost the last units"
quotas q-3
tnd_assert_eq 40 "$(rcl_json /plan/computeUnitsInUse)" "compute units in use after the race"

tnd_step "a raise past the budget is refused too; a delete gives units back"
put q-3 '{"computeUnits":13}'
tnd_assert_problem 403 quota-exceeded "a raise past the budget"
tnd_assert_contains "$(rcl_json /detail)" "requested 1, allowed 0" "the refusal"
tnd_curl DELETE /v1/tenants/q-2
tnd_assert_eq 200 "$TND_HTTP_STATUS" "DELETE q-2: $TND_BODY"
put q-3 '{"computeUnits":13}'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "the raise after a delete: $TND_BODY"

tnd_step "after kill -9 the sums come back from the registry"
tnd_daemon_kill
tnd_daemon_start_config "$config"
quotas q-3
tnd_assert_eq 25 "$(rcl_json /plan/computeUnitsInUse)" "compute units in use after the restart"
tnd_assert_eq 4 "$(quotas q-1 && rcl_json -l /history)" "q-1's history after the restart"

tnd_step "SIGHUP changing the plan's defaults: the next apply records them"
make_config 700
tnd_daemon_reload || tnd_fail "the reload with events_per_minute 700 was rejected"
put q-3 '{"computeUnits":13}' one -H 'X-Request-Id: rid-reapply'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "re-apply of q-3 unchanged: $TND_BODY"
quotas q-3
n=$(rcl_json -l /history)
tnd_assert_eq "700 plan rid-reapply" "$(rcl_json /history/$((n - 1))/quotas/eventsPerMinute) $(rcl_json /history/$((n - 1))/source) $(rcl_json /history/$((n - 1))/requestId)" "the newest entry"
put q-3 '{"computeUnits":13}'
quotas q-3
tnd_assert_eq "$n" "$(rcl_json -l /history)" "another unchanged re-apply adds nothing"

tnd_step "tenancyctl quotas ID [--history]"
: >"$TND_TMP/empty.conf"
ctl() {
	TENANCYCTL_CONFIG=$TND_TMP/empty.conf TENANCYD_URL=$TND_URL TENANCYD_TOKEN_FILE=$TND_ADMIN_TOKEN_FILE \
		tnd_run "$top_builddir/tenancyctl" "$@"
}
ctl quotas q-1
tnd_assert_rc 0 "tenancyctl quotas q-1"
tnd_assert_match "$TND_OUT" 'computeUnits +30 +4 +16 +64' "the computeUnits row"
tnd_assert_not_contains "$TND_OUT" "SOURCE" "the table without --history"
ctl quotas q-1 --history
tnd_assert_rc 0 "tenancyctl quotas q-1 --history"
tnd_assert_match "$TND_OUT" '4 +4 +[-0-9T:.Z]+ +override +admin +30 +1000' "the override's row"
ctl -o json quotas q-1 --history
tnd_assert_eq 4 "$(printf '%s' "$TND_OUT" | tnd_json -l /history)" "history entries in JSON"
ctl quotas no-such
tnd_assert_rc 1 "tenancyctl quotas of no tenant"

tnd_pass
