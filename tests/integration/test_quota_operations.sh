#!/bin/bash
# test_quota_operations.sh — the concurrentOperations quota through the real
# daemon: mutating requests in flight per tenant are capped at the tenant's
# effective concurrentOperations, and one more is refused at once with 409
# too-many-operations naming quota, requested and allowed.  The faulty_policy
# fixture sleeps in every evaluation, so that requests overlap for sure.
#
#   * concurrentOperations 1: three parallel updates, one 200, two 409;
#   * concurrentOperations 2: three parallel updates, two 200, one 409;
#   * other tenants are not held up by a busy one;
#   * once the requests are done, the next one passes.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/reconcile_lib.sh"

tnd_require_cmd curl
tnd_setup

rcl_prepare_state "$TND_TMP/state"
config=$TND_STATE/tenancyd.conf
mode_file=$TND_TMP/policy.mode
echo allow >"$mode_file"
awk -v so="$top_builddir/tests/fixtures/plugins/.libs/faulty_policy.so" -v mode="$mode_file" '
	/^plugins: *\{/ { print; print "  policy_timeout_ms = 10000;"; print "  policy: { name = \"faulty_policy\"; file = \"" so "\"; settings: { mode_file = \"" mode "\"; }; };"; next }
	/^ *resync_interval = / { print "  resync_interval = 3600;"; next }
	{ print }' "$TND_STATE/dev.conf" >"$config"
chmod 0644 "$config"
grep -q 'policy_timeout_ms = 10000' "$config" || tnd_hard_error "dev.conf has no plugins group"
tnd_daemon_start_config "$config"

# manifest ID OPS LABEL — a draft business tenant with concurrentOperations OPS
manifest() {
	printf '{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"%s","labels":{"l":"%s"}},' "$1" "$3"
	printf '"spec":{"plan":"business","state":"draft","quotas":{"concurrentOperations":%s}}}' "$2"
}
admin_auth=$TND_TMP/admin.auth
(umask 077 && printf 'Authorization: Bearer %s\n' "$(head -n 1 "$TND_ADMIN_TOKEN_FILE")" >"$admin_auth")

# parallel ID OPS N — N parallel updates of tenant ID (each a new label);
# prints "OK REFUSED" and checks every refusal
parallel() {
	local id=$1 ops=$2 n=$3 i ok=0 refused=0 body pids=()
	for i in $(seq 1 "$n"); do
		curl -sS -o "$TND_TMP/$id-$i.body" -w '%{http_code}\n' -X PUT -H "@$admin_auth" \
			-H 'Content-Type: application/json' --data-binary "$(manifest "$id" "$ops" "p$i-$RANDOM")" \
			"$TND_URL/v1/tenants/$id" >"$TND_TMP/$id-$i.status" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in $(seq 1 "$n"); do
		case $(cat "$TND_TMP/$id-$i.status") in
		200) ok=$((ok + 1)) ;;
		409)
			refused=$((refused + 1))
			body=$(cat "$TND_TMP/$id-$i.body")
			tnd_assert_eq "urn:tenancyd:problem:too-many-operations concurrentOperations $ops" \
				"$(printf '%s' "$body" | tnd_json /type) $(printf '%s' "$body" | tnd_json /quota) $(printf '%s' "$body" | tnd_json /allowed)" \
				"$id-$i's 409"
			tnd_assert_contains "$body" "concurrentOperations: requested $((ops + 1)), allowed $ops" "$id-$i's detail"
			;;
		*) tnd_fail "$id-$i answered $(cat "$TND_TMP/$id-$i.status"): $(cat "$TND_TMP/$id-$i.body")" ;;
		esac
	done
	echo "$ok $refused"
}

for ops in 1 2; do
	id=$([ "$ops" = 1 ] && echo one || echo two)
	tnd_curl PUT "/v1/tenants/$id" -H 'Content-Type: application/json' --data-binary "$(manifest "$id" "$ops" first)"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "create $id: $TND_BODY"
done

echo "sleep 1500" >"$mode_file"
tnd_step "concurrentOperations 1: of three overlapping updates one passes"
tnd_assert_eq "1 2" "$(parallel one 1 3)" "updates of tenant one that passed and were refused"

tnd_step "concurrentOperations 2: of three overlapping updates two pass"
tnd_assert_eq "2 1" "$(parallel two 2 3)" "updates of tenant two that passed and were refused"

tnd_step "a busy tenant holds up no other"
curl -sS -o /dev/null -X PUT -H "@$admin_auth" -H 'Content-Type: application/json' \
	--data-binary "$(manifest one 1 busy)" "$TND_URL/v1/tenants/one" &
busy=$!
sleep 0.3
tnd_curl POST /v1/tenants/two/archive
tnd_assert_problem 409 invalid-transition "archive of a Draft (not refused as too many operations)"
tnd_curl POST /v1/tenants/one/suspend
tnd_assert_problem 409 too-many-operations "a lifecycle action on the busy tenant"
wait "$busy"

tnd_step "when the operations are done the next one passes"
echo allow >"$mode_file"
tnd_curl PUT /v1/tenants/one -H 'Content-Type: application/json' --data-binary "$(manifest one 1 after)"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "update after the others finished: $TND_BODY"

tnd_pass
