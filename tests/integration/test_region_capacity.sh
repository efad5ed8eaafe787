#!/bin/bash
# test_region_capacity.sh — region capacity (tenancyd.conf regions[].capacity)
# through the real daemon: the tenants placed in a region (desired state not
# deleted) never exceed it, even under concurrent creates.
#
#   * apac has one region, ap-southeast-1, capacity 5: four tenants fit,
#     then 16 parallel creates race for the last slot and exactly one wins;
#     the others get 422 naming the full region; GET /v1/regions counts 5;
#   * deleting a tenant frees its slot;
#   * after kill -9 and a restart the counts come back from the registry;
#   * a preferred region at capacity falls back to another of the zone;
#   * SIGHUP raising the capacity makes room.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/reconcile_lib.sh"

tnd_require_cmd curl
tnd_setup

rcl_prepare_state "$TND_TMP/state"
config=$TND_STATE/tenancyd.conf
with_capacity() { # APAC-CAPACITY — the dev config with capacities set
	sed -E -e "s/(name = \"ap-southeast-1\"; residency = \"apac\"; enabled = true;)/\1 capacity = $1;/" \
		-e 's/(name = "us-east-1"; residency = "us"; enabled = true;)/\1 capacity = 1;/' \
		"$TND_STATE/dev.conf"
}
with_capacity 5 >"$config"
[ "$(grep -c 'capacity = ' "$config")" = 2 ] ||
	tnd_hard_error "the generated config has changed: cannot set region capacities in $config"
tnd_daemon_start_config "$config"

# apac ID [STATE] — create a tenant in the apac zone (a draft by default:
# nothing to provision, and it may be deleted at once)
apac() {
	tnd_curl PUT "/v1/tenants/$1" -H 'Content-Type: application/json' --data-binary \
		"{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"$1\"},
		  \"spec\":{\"plan\":\"business\",\"state\":\"${2:-draft}\",\"placement\":{\"residency\":\"apac\"}}}"
}

# region_tenants NAME — the tenants GET /v1/regions counts in region NAME
region_tenants() {
	tnd_curl GET /v1/regions
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/regions"
	rcl_json -e /items /name /tenants | awk -F '\t' -v r="$1" '$1 == r { print $2 }'
}

tnd_step "four tenants fit in a region of capacity 5"
for i in 1 2 3 4; do
	apac "ap-$i"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "create ap-$i: $TND_BODY"
	tnd_assert_eq ap-southeast-1 "$(rcl_json /status/placement/region)" "ap-$i's region"
done
tnd_assert_eq 4 "$(region_tenants ap-southeast-1)" "tenants counted in ap-southeast-1"

tnd_step "16 parallel creates race for the last slot: exactly one wins"
auth=$TND_TMP/admin.auth
(umask 077 && printf 'Authorization: Bearer %s\n' "$(head -n 1 "$TND_ADMIN_TOKEN_FILE")" >"$auth")
racers=()
for i in $(seq 1 16); do
	curl -sS -o "$TND_TMP/race-$i.body" -w '%{http_code}\n' -X PUT -H "@$auth" \
		-H 'Content-Type: application/json' --data-binary \
		"{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"race-$i\"},
		  \"spec\":{\"plan\":\"business\",\"state\":\"draft\",\"placement\":{\"residency\":\"apac\"}}}" \
		"$TND_URL/v1/tenants/race-$i" >"$TND_TMP/race-$i.status" &
	racers+=($!)
done
wait "${racers[@]}" # not the daemon, also a child of this shell
won=0 lost=0
for i in $(seq 1 16); do
	case $(cat "$TND_TMP/race-$i.status") in
	201) won=$((won + 1)) ;;
	422)
		lost=$((lost + 1))
		grep -q 'ap-southeast-1 is at capacity' "$TND_TMP/race-$i.body" ||
			tnd_fail "race-$i's 422 does not name the full region: $(cat "$TND_TMP/race-$i.body")"
		;;
	*) tnd_fail "race-$i answered $(cat "$TND_TMP/race-$i.status"): $(cat "$TND_TMP/race-$i.body")" ;;
	esac
done
tnd_assert_eq "1 15" "$won $lost" "creates that won and lost the last slot"
tnd_assert_eq 5 "$(region_tenants ap-southeast-1)" "tenants counted in ap-southeast-1"
tnd_curl GET "/v1/tenants?region=ap-southeast-1&limit=100"
tnd_assert_eq 5 "$(rcl_json -l /items)" "tenants the registry holds in ap-southeast-1"

tnd_step "a full region refuses, naming the rule"
apac ap-extra
tnd_assert_problem 422 placement-rejected "a create into the full region"
tnd_assert_contains "$TND_BODY" "ap-southeast-1 is at capacity" "the problem"

tnd_step "deleting a tenant frees its slot"
tnd_curl DELETE /v1/tenants/ap-1
tnd_assert_eq 200 "$TND_HTTP_STATUS" "DELETE ap-1: $TND_BODY"
tnd_assert_eq 4 "$(region_tenants ap-southeast-1)" "tenants counted after the delete"
apac ap-extra
tnd_assert_eq 201 "$TND_HTTP_STATUS" "create ap-extra into the freed slot: $TND_BODY"

tnd_step "after kill -9 the counts come back from the registry"
tnd_daemon_kill
tnd_daemon_start_config "$config"
tnd_assert_eq 5 "$(region_tenants ap-southeast-1)" "tenants counted after the restart"
apac ap-after
tnd_assert_problem 422 placement-rejected "a create into the full region"

tnd_step "a preferred region at capacity falls back to another in the zone"
regions=()
for id in us-a us-b; do
	tnd_curl PUT "/v1/tenants/$id" -H 'Content-Type: application/json' --data-binary \
		"{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"$id\"},
		  \"spec\":{\"plan\":\"business\",\"state\":\"draft\",
		  \"placement\":{\"residency\":\"us\",\"preferredRegion\":\"us-east-1\"}}}"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "create $id: $TND_BODY"
	regions+=("$(rcl_json /status/placement/region)")
done
tnd_assert_eq "us-east-1 us-west-2" "${regions[*]}" "regions of two tenants preferring us-east-1 (capacity 1)"

tnd_step "SIGHUP raising the capacity makes room"
with_capacity 6 >"$config"
tnd_daemon_reload || tnd_fail "the reload with capacity 6 was rejected"
apac ap-after
tnd_assert_eq 201 "$TND_HTTP_STATUS" "create ap-after with capacity 6: $TND_BODY"
tnd_assert_eq 6 "$(region_tenants ap-southeast-1)" "tenants counted in ap-southeast-1"

tnd_pass
