#!/bin/bash
# test_cli.sh — tenancyctl against the real daemon (tenancyd --dev, with its
# workers and embedded data plane): apply the shipped examples and --wait
# until the reconcile engine settled them, list/get/history, lifecycle with
# --wait, the workflow commands (list, detail, retry), a reconcile that fails
# and its retry, a --wait that times out, credentials, errors (409, 401, 403,
# 412, 422), exit codes, filters, --all paging over 150 tenants, token
# handling.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_setup
tnd_daemon_start

examples=$top_srcdir/etc/examples
admin_token=$(head -n 1 "$TND_ADMIN_TOKEN_FILE")

# A clean environment: the daemon under test, its admin token, no user config.
: >"$TND_TMP/empty.conf"
export TENANCYCTL_CONFIG=$TND_TMP/empty.conf
export TENANCYD_URL=$TND_URL
export TENANCYD_TOKEN_FILE=$TND_ADMIN_TOKEN_FILE
unset TENANCYD_TOKEN

ctl() {
	tnd_run "$top_builddir/tenancyctl" "$@"
}

# The PHASE column of tenant $1 in the last `list` output.
phase_of() {
	printf '%s\n' "$TND_OUT" | awk -v id="$1" '$1 == id { print $2 }'
}

# The ids (first column, header dropped) of the last table, one per line.
listed_ids() {
	printf '%s\n' "$TND_OUT" | awk 'NR > 1 { print $1 }'
}

tnd_step "catalogue"
ctl plans
tnd_assert_rc 0 "plans"
tnd_assert_match "$TND_OUT" '^CODE +ISOLATION +DEFAULT +RESIDENCY +QUOTAS\(cu/gb/epm/ops\)$' "plans header"
tnd_assert_match "$TND_OUT" '^business +shared,dedicated +shared +eu +4/50/600/2$' "business plan row"
ctl regions
tnd_assert_rc 0 "regions"
tnd_assert_match "$TND_OUT" '^eu-west-1 +eu +yes +eu-central-1 +[0-9]+$' "eu-west-1 row"
tnd_assert_match "$TND_OUT" '^ap-southeast-1 +apac +yes +- +[0-9]+$' "region without standby"

tnd_step "apply every example and wait until they are settled"
files=()
for f in "$examples"/*; do
	files+=(-f "$f")
done
tnd_assert_eq 8 "${#files[@]}" "number of -f arguments for etc/examples"
ctl apply "${files[@]}" --wait
tnd_assert_rc 0 "apply etc/examples --wait"
# every document is applied first, then each tenant is reported once it is
# settled, in the order they settle
tnd_assert_eq "tenant/acme-corp created (version 1)
tenant/globex created (version 1)
tenant/initech created (version 1)
tenant/umbrella created (version 1)" "$(printf '%s\n' "$TND_OUT" | head -n 4)" "apply output"
tnd_assert_eq "tenant/acme-corp active (version 1)
tenant/globex active (version 1)
tenant/initech draft (version 1)
tenant/umbrella active (version 1)" "$(printf '%s\n' "$TND_OUT" | tail -n +5 | LC_ALL=C sort)" "--wait output"
tnd_assert_eq "" "$TND_ERR" "apply --wait stderr"

tnd_step "list shows the four tenants with their phases"
ctl list
tnd_assert_rc 0 "list"
tnd_assert_match "$TND_OUT" '^ID +PHASE +PLAN +ISOLATION +REGION +VERSION +AGE$' "list header"
tnd_assert_eq 5 "$(printf '%s\n' "$TND_OUT" | wc -l)" "list line count (header + 4)"
tnd_assert_eq "Draft" "$(phase_of initech)" "initech phase"
tnd_assert_eq "Active" "$(phase_of acme-corp)" "acme-corp phase"
tnd_assert_eq "Active" "$(phase_of globex)" "globex phase"
tnd_assert_eq "Active" "$(phase_of umbrella)" "umbrella phase"
tnd_assert_match "$TND_OUT" '^globex +Active +enterprise +dedicated +us-east-1 +1 +[0-9]+s$' "globex row"
tnd_assert_eq "" "$(printf '%s\n' "$TND_OUT" | grep -n ' $')" "lines with trailing spaces"

tnd_step "get"
ctl get acme-corp
tnd_assert_rc 0 "get acme-corp"
tnd_assert_match "$TND_OUT" '^ID: +acme-corp$' "get: id"
tnd_assert_match "$TND_OUT" '^Display name: +Acme Corp$' "get: display name"
tnd_assert_match "$TND_OUT" '^Phase: +Active$' "get: phase"
tnd_assert_match "$TND_OUT" '^Desired state: +active$' "get: desired state"
tnd_assert_match "$TND_OUT" '^Version: +1$' "get: version"
tnd_assert_match "$TND_OUT" '^Observed version: +1$' "get: observed version"
tnd_assert_not_contains "$TND_OUT" "Conditions:" "get: a settled tenant has no conditions"
tnd_assert_match "$TND_OUT" '^Plan: +business$' "get: plan"
tnd_assert_match "$TND_OUT" '^Isolation: +shared$' "get: isolation"
tnd_assert_match "$TND_OUT" '^Region: +eu-west-1 \(standby eu-central-1\)$' "get: region"
tnd_assert_match "$TND_OUT" '^Residency: +eu$' "get: residency"
tnd_assert_match "$TND_OUT" '^Labels: +.*tier=gold' "get: labels"
tnd_assert_match "$TND_OUT" '^Created: +20[0-9-]+T[0-9:.]+Z \([0-9]+s ago\)$' "get: created"
ctl get no-such-tenant
tnd_assert_rc 1 "get of an unknown tenant"
tnd_assert_contains "$TND_ERR" "error: 404" "get 404 message"

tnd_step "-o json is the server's JSON"
ctl -o json get acme-corp
tnd_assert_rc 0 "get -o json"
printf '%s' "$TND_OUT" | tnd_json || tnd_fail "get -o json is not JSON"
tnd_assert_eq acme-corp "$(printf '%s' "$TND_OUT" | tnd_json /metadata/id)" "json metadata.id"
tnd_assert_eq Active "$(printf '%s' "$TND_OUT" | tnd_json /status/phase)" "json status.phase"
ctl list -o json
tnd_assert_rc 0 "list -o json (option after the command)"
tnd_assert_eq 4 "$(printf '%s' "$TND_OUT" | tnd_json -l /items)" "json items"
tnd_assert_eq null "$(printf '%s' "$TND_OUT" | tnd_json /nextCursor)" "json nextCursor"
for cmd in plans regions "history acme-corp"; do
	# shellcheck disable=SC2086
	ctl -o json $cmd
	tnd_assert_rc 0 "$cmd -o json"
	printf '%s' "$TND_OUT" | tnd_json || tnd_fail "$cmd -o json is not JSON"
done

tnd_step "re-apply is unchanged; a change is configured"
ctl apply -f "$examples/acme-corp.yaml"
tnd_assert_rc 0 "re-apply acme-corp"
tnd_assert_eq "tenant/acme-corp unchanged (version 1)" "$TND_OUT" "re-apply output"
sed 's/displayName: Acme Corp/displayName: Acme Corporation/' "$examples/acme-corp.yaml" >"$TND_TMP/acme.yaml"
ctl apply -f - --wait=60 <"$TND_TMP/acme.yaml"
tnd_assert_rc 0 "apply changed acme-corp from stdin"
tnd_assert_eq "tenant/acme-corp configured (version 2)
tenant/acme-corp active (version 2)" "$TND_OUT" "changed apply output"

tnd_step "lifecycle, waiting for each step"
ctl suspend acme-corp --wait
tnd_assert_rc 0 "suspend"
tnd_assert_eq "tenant/acme-corp suspended (version 3)
tenant/acme-corp suspended (version 3)" "$TND_OUT" "suspend output"
ctl list --state suspended
tnd_assert_eq acme-corp "$(listed_ids)" "list --state suspended"
ctl resume acme-corp --wait
tnd_assert_rc 0 "resume"
tnd_assert_eq "tenant/acme-corp resumed (version 4)
tenant/acme-corp active (version 4)" "$TND_OUT" "resume output"
ctl -o json archive acme-corp --wait
tnd_assert_rc 0 "archive"
# -o json --wait: the settled tenant, not the write's answer
tnd_assert_eq "Archived archived 5 5 0" \
	"$(printf '%s' "$TND_OUT" | tnd_json /status/phase) $(printf '%s' "$TND_OUT" | tnd_json /spec/state) $(printf '%s' "$TND_OUT" | tnd_json /metadata/version) $(printf '%s' "$TND_OUT" | tnd_json /status/observedVersion) $(printf '%s' "$TND_OUT" | tnd_json -l /status/conditions)" \
	"archive -o json --wait prints the settled tenant"
ctl delete acme-corp --wait=120
tnd_assert_rc 0 "delete"
tnd_assert_eq "tenant/acme-corp deleted (version 6)
tenant/acme-corp deleted (version 6)" "$TND_OUT" "delete output"
ctl get acme-corp
tnd_assert_match "$TND_OUT" '^Phase: +Deleted$' "deleted tenant is a tombstone"
tnd_assert_match "$TND_OUT" '^Observed version: +6$' "the deletion is done on the data plane"
ctl apply -f "$examples/acme-corp.yaml"
tnd_assert_rc 1 "apply onto a deleted tenant"
tnd_assert_contains "$TND_ERR" "409 Tenant deleted" "tenant-deleted problem"

tnd_step "illegal transitions are 409 and exit 1"
ctl suspend initech
tnd_assert_rc 1 "suspend a Draft tenant"
tnd_assert_contains "$TND_ERR" "error: 409 Lifecycle transition not allowed: tenant initech: " "409 title and detail"
tnd_assert_contains "$TND_ERR" "Draft" "409 names the current phase"
tnd_assert_match "$TND_ERR" '^  \(request id [A-Za-z0-9._:-]+\)$' "409 request id line"
ctl archive initech
tnd_assert_rc 1 "archive a Draft tenant"
tnd_assert_contains "$TND_ERR" "error: 409" "archive of Draft"
ctl resume globex --wait
tnd_assert_rc 0 "resume an Active tenant (already there: no new version)"
tnd_assert_eq "tenant/globex resumed (version 1)
tenant/globex active (version 1)" "$TND_OUT" "resume of Active (settled already)"

tnd_step "authentication"
ctl --token not-a-valid-token list
tnd_assert_rc 1 "bad token"
tnd_assert_contains "$TND_ERR" "error: 401 Unauthorized" "401 message"
tnd_run env -u TENANCYD_TOKEN_FILE "$top_builddir/tenancyctl" list
tnd_assert_rc 1 "no token"
tnd_assert_contains "$TND_ERR" "401" "401 without a token"
tnd_assert_contains "$TND_ERR" "hint: no token is configured" "401 hint"
ctl --token-file "$TND_VIEWER_TOKEN_FILE" suspend globex
tnd_assert_rc 1 "viewer may not suspend"
tnd_assert_contains "$TND_ERR" "error: 403" "403 message"

tnd_step "usage errors exit 2"
for args in "frobnicate" "get" "apply" "list --bogus" "get globex --state active" "-o yaml list" \
	"list --limit 0" "plans extra" "suspend globex --all" "--timeout -1 list" "workflows --label a=b" \
	"list --tenant globex" "get globex --wait" "workflow" "retry" "credentials" "workflow wf-1 wf-2" \
	"suspend globex --wait=0" "suspend globex --wait=86401" "suspend globex --wait=soon" "workflows --limit 1001"; do
	# shellcheck disable=SC2086
	ctl $args
	tnd_assert_rc 2 "tenancyctl $args"
	tnd_assert_contains "$TND_ERR" "tenancyctl" "usage message for '$args'"
done
ctl --help
tnd_assert_rc 0 "--help"
tnd_assert_contains "$TND_OUT" "Usage: tenancyctl" "help text"
ctl list --help
tnd_assert_rc 0 "list --help"
tnd_assert_contains "$TND_OUT" "--label K=V" "list help text"
ctl suspend globex --wait 30
tnd_assert_rc 2 "--wait with its value after a space"
tnd_assert_contains "$TND_ERR" "write --wait=30" "the --wait=SECONDS hint"
ctl workflows --help
tnd_assert_rc 0 "workflows --help"
tnd_assert_contains "$TND_OUT" "ID TENANT KIND VERSION STATE STEP ATTEMPTS AGE" "workflows help text"
ctl --version
tnd_assert_rc 0 "--version"
tnd_assert_match "$TND_OUT" '^tenancyctl [0-9]+\.[0-9]+\.[0-9]+' "version output"

tnd_step "history"
ctl history acme-corp
tnd_assert_rc 0 "history"
tnd_assert_match "$TND_OUT" '^VERSION +TIME +ACTOR +REQUEST-ID$' "versions header"
tnd_assert_match "$TND_OUT" '^SEQ +FROM +TO +VERSION +TIME +ACTOR +REASON$' "transitions header"
versions=$(printf '%s\n' "$TND_OUT" | sed -n '2,/^$/p' | awk 'NF { print $1 }' | tr '\n' ' ')
tnd_assert_eq "1 2 3 4 5 6 " "$versions" "versions listed"
# the tenant is created Draft by its caller; the later transitions are the
# reconcile engine's, recorded when the last step of a workflow is done
tnd_assert_match "$TND_OUT" '^[0-9]+ +- +Draft +1 +[^ ]+ +admin +created$' "transition to Draft by the caller"
tnd_assert_match "$TND_OUT" '^[0-9]+ +Draft +Active +1 +[^ ]+ +tenancyd +activate$' "transition Draft -> Active"
tnd_assert_match "$TND_OUT" '^[0-9]+ +Active +Suspended +3 ' "transition Active -> Suspended"
tnd_assert_match "$TND_OUT" '^[0-9]+ +Suspended +Active +4 ' "transition Suspended -> Active"
tnd_assert_match "$TND_OUT" '^[0-9]+ +Active +Archived +5 ' "transition Active -> Archived"
tnd_assert_match "$TND_OUT" '^[0-9]+ +Archived +Deleted +6 +[^ ]+ +tenancyd +delete$' "transition Archived -> Deleted"
ctl -o json history acme-corp
tnd_assert_eq 6 "$(printf '%s' "$TND_OUT" | tnd_json -l /versions)" "json versions"
tnd_assert_eq 6 "$(printf '%s' "$TND_OUT" | tnd_json /versions/5/version)" "last json version"

tnd_step "request ids reach the lineage"
ctl --request-id cli-test-req-1 suspend umbrella
tnd_assert_rc 0 "suspend with --request-id"
ctl history umbrella
tnd_assert_match "$TND_OUT" '^2 +[^ ]+ +[^ ]+ +cli-test-req-1$' "request id in the versions table"
ctl resume umbrella
tnd_assert_rc 0 "resume umbrella"

tnd_step "If-Match"
ctl --if-match 7 suspend globex
tnd_assert_rc 1 "suspend with a stale If-Match"
tnd_assert_contains "$TND_ERR" "error: 412 Precondition failed" "412 message"
ctl --if-match 7 apply -f "$examples/globex.yaml"
tnd_assert_rc 1 "apply with a stale If-Match"
tnd_assert_contains "$TND_ERR" "412" "apply 412"
ctl --if-match 1 suspend globex
tnd_assert_rc 0 "suspend with the right If-Match"
tnd_assert_eq "tenant/globex suspended (version 2)" "$TND_OUT" "suspend under If-Match"

tnd_step "Idempotency-Key"
ctl --idempotency-key resume-globex-1 resume globex
tnd_assert_eq "tenant/globex resumed (version 3)" "$TND_OUT" "first keyed resume"
ctl --idempotency-key resume-globex-1 resume globex
tnd_assert_rc 0 "replayed keyed resume"
tnd_assert_eq "tenant/globex resumed (version 3)" "$TND_OUT" "replayed keyed resume"
ctl --idempotency-key resume-globex-1 suspend globex
tnd_assert_rc 1 "same key, other request"
tnd_assert_contains "$TND_ERR" "422" "key reuse is 422"

tnd_step "list filters"
ctl list --state draft
tnd_assert_eq initech "$(listed_ids)" "--state draft"
ctl list --isolation dedicated
tnd_assert_eq globex "$(listed_ids)" "--isolation dedicated"
ctl list --region ap-southeast-1
tnd_assert_eq umbrella "$(listed_ids)" "--region ap-southeast-1"
ctl list --plan enterprise
tnd_assert_eq "globex
umbrella" "$(listed_ids)" "--plan enterprise"
ctl list --label tier=gold --label compliance=strict
tnd_assert_eq umbrella "$(listed_ids)" "two --label filters"
ctl list --state deleted
tnd_assert_eq acme-corp "$(listed_ids)" "--state deleted"
ctl list --plan no-such-plan
tnd_assert_rc 0 "empty list"
tnd_assert_eq "" "$TND_OUT" "empty list prints no table"
tnd_assert_contains "$TND_ERR" "no tenants found" "empty list note"

tnd_step "workflows: the list"
ctl workflows --tenant acme-corp
tnd_assert_rc 0 "workflows --tenant acme-corp"
tnd_assert_match "$TND_OUT" '^ID +TENANT +KIND +VERSION +STATE +STEP +ATTEMPTS +AGE$' "workflows header"
# one workflow per version of acme-corp, each of one step, each done
tnd_assert_eq "acme-corp activate 1 Succeeded 1/1 0
acme-corp update 2 Succeeded 1/1 0
acme-corp suspend 3 Succeeded 1/1 0
acme-corp resume 4 Succeeded 1/1 0
acme-corp archive 5 Succeeded 1/1 0
acme-corp delete 6 Succeeded 1/1 0" "$(printf '%s\n' "$TND_OUT" | awk 'NR > 1 { print $2, $3, $4, $5, $6, $7 }')" \
	"acme-corp's workflows"
tnd_assert_match "$TND_OUT" '^wf-[0-9]+-[0-9a-f]+ +acme-corp +activate ' "workflow ids"
activate_wf=$(printf '%s\n' "$TND_OUT" | awk '$3 == "activate" { print $1 }')
ctl workflows --tenant acme-corp --state SUCCEEDED --limit 2
tnd_assert_rc 0 "workflows --state SUCCEEDED --limit 2"
tnd_assert_eq 2 "$(listed_ids | wc -l)" "a page of 2 workflows"
tnd_assert_contains "$TND_ERR" "use --all" "hint about more workflows"
ctl workflows --tenant acme-corp --state failed
tnd_assert_rc 0 "workflows --state failed"
tnd_assert_eq "" "$TND_OUT" "no failed workflow of acme-corp"
tnd_assert_contains "$TND_ERR" "no workflows found" "empty workflow list note"
ctl -o json workflows --limit 1000
tnd_assert_rc 0 "workflows -o json"
every_wf=$(printf '%s' "$TND_OUT" | tnd_json -e /items /id)
tnd_assert_eq null "$(printf '%s' "$TND_OUT" | tnd_json /nextCursor)" "all workflows fit one page of 1000"
ctl workflows --limit 2 --all
tnd_assert_rc 0 "workflows --limit 2 --all"
tnd_assert_eq "$every_wf" "$(listed_ids)" "--all pages through every workflow, oldest first"
ctl -o json workflows --tenant acme-corp --limit 4 --all
tnd_assert_eq 6 "$(printf '%s' "$TND_OUT" | tnd_json -l /items)" "merged json workflows"
tnd_assert_eq activate "$(printf '%s' "$TND_OUT" | tnd_json /items/0/kind)" "json workflow kind"
ctl workflows --state bogus
tnd_assert_rc 1 "workflows --state bogus"
tnd_assert_contains "$TND_ERR" "error: 400" "a state the server does not know"

tnd_step "workflows: one in detail, and retry"
ctl workflow "$activate_wf"
tnd_assert_rc 0 "workflow $activate_wf"
tnd_assert_match "$TND_OUT" "^ID: +$activate_wf\$" "workflow: id"
tnd_assert_match "$TND_OUT" '^Tenant: +acme-corp$' "workflow: tenant"
tnd_assert_match "$TND_OUT" '^Kind: +activate$' "workflow: kind"
tnd_assert_match "$TND_OUT" '^Target: +version 1, active$' "workflow: target"
tnd_assert_match "$TND_OUT" '^State: +Succeeded$' "workflow: state"
tnd_assert_match "$TND_OUT" '^Progress: +1 of 1 step\(s\) done$' "workflow: progress"
tnd_assert_match "$TND_OUT" '^Plugin: +embedded_shared_schema$' "workflow: plugin"
tnd_assert_match "$TND_OUT" '^  STEP +OP +STATUS +ATTEMPTS +STARTED +DURATION +WORKER +ERROR$' "workflow: steps header"
tnd_assert_match "$TND_OUT" '^  1 +provision +succeeded +1 +20[0-9-]+T[0-9:.]+Z +[0-9.]+(us|ms|s) +local-[12] +-$' \
	"workflow: the provision step"
tnd_assert_not_contains "$TND_OUT" "Error:" "a succeeded workflow has no error"
ctl -o json workflow "$activate_wf"
tnd_assert_eq "$activate_wf provision" \
	"$(printf '%s' "$TND_OUT" | tnd_json /id) $(printf '%s' "$TND_OUT" | tnd_json /steps/0/op)" "workflow -o json"
ctl workflow wf-0000000000000-00000000
tnd_assert_rc 1 "an unknown workflow"
tnd_assert_contains "$TND_ERR" "error: 404" "unknown workflow message"
ctl retry "$activate_wf"
tnd_assert_rc 1 "retry of a Succeeded workflow"
tnd_assert_contains "$TND_ERR" "error: 409" "retry of a Succeeded workflow is 409"
tnd_assert_contains "$TND_ERR" "only a Failed workflow can be retried" "409 says why"
ctl --token-file "$TND_VIEWER_TOKEN_FILE" retry "$activate_wf"
tnd_assert_rc 1 "a viewer may not retry"
tnd_assert_contains "$TND_ERR" "error: 403" "retry as viewer"

tnd_step "credentials"
ctl credentials globex
tnd_assert_rc 0 "credentials as admin"
tnd_assert_match "$TND_OUT" '^Tenant: +globex$' "credentials: tenant"
tnd_assert_match "$TND_OUT" '^Username: +t_globex$' "credentials: username"
tnd_assert_match "$TND_OUT" '^Password: +[A-Za-z0-9+/=_-]{20,}$' "credentials: password"
tnd_assert_contains "$TND_ERR" "warning: printing the data-plane password of tenant/globex" "the secret warning"
password=$(printf '%s\n' "$TND_OUT" | awk '$1 == "Password:" { print $2 }')
ctl -o json credentials umbrella
tnd_assert_rc 0 "credentials -o json"
tnd_assert_eq t_umbrella "$(printf '%s' "$TND_OUT" | tnd_json /username)" "json username"
[ "$(printf '%s' "$TND_OUT" | tnd_json /password)" != "$password" ] || tnd_fail "two tenants share a password"
tnd_assert_contains "$TND_ERR" "warning:" "the secret warning with -o json"
ctl --token-file "$TND_VIEWER_TOKEN_FILE" credentials globex
tnd_assert_rc 1 "credentials as viewer"
tnd_assert_contains "$TND_ERR" "error: 403" "credentials are admin only"
tnd_assert_not_contains "$TND_OUT$TND_ERR" "$password" "the viewer sees no password"
ctl credentials acme-corp
tnd_assert_rc 1 "credentials of a deleted tenant"
tnd_assert_contains "$TND_ERR" "error: 404" "a deleted tenant's credentials are gone"
ctl credentials initech
tnd_assert_rc 1 "credentials of a Draft tenant"
tnd_assert_contains "$TND_ERR" "error: 404" "a Draft tenant has no credentials yet"

tnd_step "a reconcile that fails, and its retry"
# the data plane of us-west-2 (where no tenant lives yet) cannot be created
# while a file is in the way; two attempts, 10-20 ms apart
dataplane=$TND_STATE/dataplane/us-west-2
[ ! -e "$dataplane" ] || tnd_hard_error "$dataplane exists already"
: >"$dataplane"
sed -i 's/^reconcile: {$/reconcile: {\n  max_attempts = 2; retry_base_ms = 10; retry_cap_ms = 20;/' "$TND_STATE/tenancyd.conf"
grep -q 'max_attempts = 2;' "$TND_STATE/tenancyd.conf" || tnd_hard_error "could not edit the reconcile settings"
tnd_daemon_reload || tnd_fail "the daemon rejected reconcile.max_attempts = 2"
# west ID [ISOLATION] — a manifest of a tenant placed in us-west-2
west() {
	printf 'apiVersion: tenancy/v1\nkind: Tenant\nmetadata: {id: %s}\nspec:\n  plan: business\n  isolation: %s\n  placement: {residency: us, allowedRegions: [us-west-2]}\n' \
		"$1" "${2:-shared}"
}
west westy >"$TND_TMP/westy.yaml"
ctl apply -f "$TND_TMP/westy.yaml" --wait=60
tnd_assert_rc 1 "apply --wait of a tenant that cannot be provisioned"
tnd_assert_eq "tenant/westy created (version 1)" "$TND_OUT" "the write itself succeeded"
tnd_assert_match "$TND_ERR" '^error: tenant/westy: reconcile failed \(activate\): provision: .*us-west-2.*not a directory$' \
	"the failure and its cause"
failed_wf=$(printf '%s\n' "$TND_ERR" | sed -n "s/.*'tenancyctl retry \(wf-[0-9a-f-]*\)'.*/\1/p")
[ -n "$failed_wf" ] || tnd_fail "the failure does not say which workflow to retry: $TND_ERR"
ctl workflows --tenant westy --state failed
tnd_assert_eq "$failed_wf westy activate 1 Failed 0/1:provision 2" \
	"$(printf '%s\n' "$TND_OUT" | awk 'NR > 1 { print $1, $2, $3, $4, $5, $6, $7 }')" "the failed workflow"
ctl get westy
tnd_assert_match "$TND_OUT" '^Phase: +Draft$' "a failed activation leaves the phase"
tnd_assert_match "$TND_OUT" '^Observed version: +0$' "nothing of westy is observed"
tnd_assert_match "$TND_OUT" "^  ReconcileFailed \\(activate\\): provision: .*not a directory \\[workflow $failed_wf\\]\$" \
	"get shows the ReconcileFailed condition"
ctl workflow "$failed_wf"
tnd_assert_match "$TND_OUT" '^State: +Failed$' "failed workflow: state"
tnd_assert_match "$TND_OUT" '^Error: +provision: .*not a directory$' "failed workflow: error"
tnd_assert_match "$TND_OUT" '^  1 +provision +failed +2 +.* +provision: .*not a directory$' "failed workflow: the step"
rm "$dataplane"
ctl retry "$failed_wf" --wait
tnd_assert_rc 0 "retry --wait once the cause is gone"
tnd_assert_eq "workflow/$failed_wf retried (activate of tenant/westy, now Pending)
tenant/westy active (version 1)" "$TND_OUT" "retry --wait output"
ctl workflow "$failed_wf"
tnd_assert_match "$TND_OUT" '^State: +Succeeded$' "the retried workflow succeeded"
tnd_assert_match "$TND_OUT" '^  1 +provision +succeeded +1 ' "the retried step succeeded"
ctl retry "$failed_wf"
tnd_assert_rc 1 "a second retry"
tnd_assert_contains "$TND_ERR" "error: 409" "a succeeded workflow is not retried again"

tnd_step "--wait gives up after its timeout"
# now many attempts, 3 s apart: the tenant stays Reconciling well past 1 s;
# a dedicated tenant cannot be provisioned while a file is where the
# region's directory of dedicated databases goes
dataplane=$TND_STATE/dataplane/us-west-2/dedicated
[ ! -e "$dataplane" ] || tnd_hard_error "$dataplane exists already"
: >"$dataplane"
sed -i 's/max_attempts = 2; retry_base_ms = 10; retry_cap_ms = 20;/max_attempts = 100; retry_base_ms = 3000; retry_cap_ms = 3000;/' \
	"$TND_STATE/tenancyd.conf"
tnd_daemon_reload || tnd_fail "the daemon rejected reconcile.retry_base_ms = 3000"
west westy-two dedicated >"$TND_TMP/westy-two.yaml"
start=$(date +%s%3N)
ctl apply -f "$TND_TMP/westy-two.yaml" --wait=1
took=$(($(date +%s%3N) - start))
tnd_assert_rc 1 "apply --wait=1 of a tenant that is still reconciling"
tnd_assert_eq "tenant/westy-two created (version 1)" "$TND_OUT" "the write of westy-two"
tnd_assert_match "$TND_ERR" '^error: timed out after 1 s waiting for tenant/westy-two to be Active at version 1 \(now Draft, observed version 0; Reconciling \(activate\): ' \
	"the timeout says what it waited for"
if [ "$took" -lt 1000 ] || [ "$took" -ge 10000 ]; then
	tnd_fail "apply --wait=1 took $took ms"
fi
rm "$dataplane"
# the next attempt, at most 3 s later, provisions it
tnd_wait_settled westy-two
tnd_assert_eq Active "$(printf '%s' "$TND_BODY" | tnd_json /status/phase)" "westy-two after the cause is gone"

tnd_step "apply a stream of 150 documents"
for i in $(seq 0 149); do
	printf -- '---\n# tenant %d of the paging batch\napiVersion: tenancy/v1\nkind: Tenant\nmetadata:\n  id: page-%03d\n  labels: {batch: paging}\nspec:\n  plan: free\n' "$i" "$i"
done >"$TND_TMP/paging.yaml"
ctl apply -f "$TND_TMP/paging.yaml"
tnd_assert_rc 0 "apply 150 documents"
tnd_assert_eq 150 "$(printf '%s\n' "$TND_OUT" | grep -c '^tenant/page-[0-9]* created (version 1)$')" "created lines"

tnd_step "paging"
ctl list --label batch=paging --limit 40
tnd_assert_rc 0 "first page"
tnd_assert_eq 40 "$(listed_ids | wc -l)" "rows of one page"
tnd_assert_contains "$TND_ERR" "use --all" "hint about more pages"
ctl -v list --label batch=paging --limit 40 --all
tnd_assert_rc 0 "list --all"
tnd_assert_eq 150 "$(listed_ids | wc -l)" "rows of all pages"
tnd_assert_eq 150 "$(listed_ids | sort -u | wc -l)" "distinct rows of all pages"
tnd_assert_eq "$(seq -f 'page-%03g' 0 149)" "$(listed_ids)" "all pages in id order"
tnd_assert_not_contains "$TND_ERR" "use --all" "no hint with --all"
# one connection for the four requests (keep-alive)
tnd_assert_eq 4 "$(printf '%s\n' "$TND_ERR" | grep -c '^> GET ')" "requests for 150 tenants in pages of 40"
tnd_assert_eq 1 "$(printf '%s\n' "$TND_ERR" | grep -c ', new connection,')" "new connections"
tnd_assert_contains "$TND_ERR" "> Authorization: Bearer <redacted>" "verbose shows the header redacted"
tnd_assert_not_contains "$TND_ERR" "$admin_token" "verbose output and the token"
ctl -o json list --label batch=paging --limit 40 --all
tnd_assert_rc 0 "list --all -o json"
tnd_assert_eq 150 "$(printf '%s' "$TND_OUT" | tnd_json -l /items)" "merged json items"
tnd_assert_eq page-149 "$(printf '%s' "$TND_OUT" | tnd_json /items/149/metadata/id)" "last merged item"
tnd_assert_eq 1 "$(printf '%s' "$TND_OUT" | tnd_json -l "")" "merged document has only items"

tnd_step "a stream with failing documents goes on, then exits 1"
cat >"$TND_TMP/mixed.yaml" <<'EOF'
# first: fine
apiVersion: tenancy/v1
kind: Tenant
metadata: {id: mixed-ok}
spec: {plan: free}
---
# second: no id
apiVersion: tenancy/v1
kind: Tenant
metadata: {displayName: Nobody}
spec: {plan: free}
---
apiVersion: tenancy/v1
kind: Tenant
metadata: {id: mixed-bad}
spec:
  plan: business
  placement: {residency: eu, allowedRegions: [mars-1]}
---
apiVersion: tenancy/v1
kind: Tenant
metadata: {id: mixed-ok-too}
spec: {plan: free}
EOF
ctl apply -f "$TND_TMP/mixed.yaml"
tnd_assert_rc 1 "apply with failing documents"
tnd_assert_eq "tenant/mixed-ok created (version 1)
tenant/mixed-ok-too created (version 1)" "$TND_OUT" "the good documents were applied"
tnd_assert_contains "$TND_ERR" "mixed.yaml: document 2 (line 6): metadata.id is missing" "missing id names the document"
tnd_assert_contains "$TND_ERR" "error: tenant/mixed-bad ($TND_TMP/mixed.yaml:12, document 3): 422" "422 names the document"
tnd_assert_contains "$TND_ERR" "mars-1" "422 lists the problem"
tnd_assert_contains "$TND_ERR" "2 of 4 document(s) failed" "summary"

tnd_step "broken input applies nothing"
printf 'metadata:\n  id: broken-one\n  - oops\n' >"$TND_TMP/broken.yaml"
ctl apply -f "$examples/globex.yaml" -f "$TND_TMP/broken.yaml"
tnd_assert_rc 1 "apply of broken YAML"
tnd_assert_contains "$TND_ERR" "broken.yaml: line 3" "YAML error with its line"
tnd_assert_contains "$TND_ERR" "nothing was applied" "nothing applied"
tnd_assert_eq "" "$TND_OUT" "no tenant output"

tnd_step "token files must be private"
cp "$TND_ADMIN_TOKEN_FILE" "$TND_TMP/open.token"
chmod 644 "$TND_TMP/open.token"
ctl --token-file "$TND_TMP/open.token" list
tnd_assert_rc 1 "world-readable token file"
tnd_assert_contains "$TND_ERR" "refusing token file" "refusal message"
tnd_assert_not_contains "$TND_ERR$TND_OUT" "$admin_token" "refusal and the token"

tnd_step "config file"
printf '# written by test_cli.sh\nurl = %s\ntoken-file = %s\n' "$TND_URL" "$TND_ADMIN_TOKEN_FILE" >"$TND_TMP/config"
tnd_run env -u TENANCYD_URL -u TENANCYD_TOKEN_FILE TENANCYCTL_CONFIG="$TND_TMP/config" \
	"$top_builddir/tenancyctl" get globex
tnd_assert_rc 0 "get through the config file"
tnd_assert_match "$TND_OUT" '^ID: +globex$' "config file endpoint"
tnd_run env TENANCYD_URL=http://127.0.0.1:1 TENANCYCTL_CONFIG="$TND_TMP/config" \
	"$top_builddir/tenancyctl" get globex
tnd_assert_rc 1 "the environment wins over the config file"

tnd_step "connection failures name the URL"
ctl --url http://127.0.0.1:1 list
tnd_assert_rc 1 "unreachable server"
tnd_assert_contains "$TND_ERR" "http://127.0.0.1:1/v1/tenants" "the URL in the message"

tnd_step "the daemon stops cleanly"
tnd_daemon_stop
tnd_pass
