#!/bin/bash
# test_reconcile.sh — the reconcile engine end to end on the embedded data
# plane of `tenancyd --dev` (docs/reconcile.md, DESIGN §1, §3, §4):
#
#   * an apply answers 201 with a Reconciling condition and the tenant
#     becomes Active with status.placement.resources naming files that exist;
#   * GET /v1/workflows?tenant= and /v1/workflows/{id} show kind, steps,
#     attempts, timings and the worker;
#   * the tenant's password from GET /v1/tenants/{id}/credentials opens its
#     files through the embedded plane's own door (embedded_open_as checks
#     the salted hash in roles.db), in every isolation mode;
#   * suspend, resume, archive and delete each run a workflow and leave the
#     phase and the data plane (roles.db flags, file modes, files) as they
#     should be; the password is in no log line and no file;
#   * applies while a workflow is still pending supersede it: newest wins;
#   * drift: with reconcile.resync_interval lowered by SIGHUP, a data file
#     deleted by hand is recreated, and a login enabled by hand for a
#     suspended tenant is switched off again, each within about one resync.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/reconcile_lib.sh"

tnd_require_cmd curl sqlite3
tnd_setup
started=$(date +%s)
tnd_daemon_start
grep -q embedded_shared_schema "$TND_STATE/tenancyd.conf" ||
	tnd_fail "tenancyd --dev runs without the embedded data plane (are its plugins built?)"

# tenant id, plan, isolation mode, isolation plugin
tenants="rc-shared:business:shared:embedded_shared_schema
rc-dedicated:business:dedicated:embedded_dedicated_db
rc-hybrid:enterprise:hybrid:embedded_hybrid"

name_of() { # t_<id> with dashes as underscores
	local id=$1
	echo "t_${id//-/_}"
}

plane_of() { # the data-plane directory of the tenant's region
	rcl_tenant "$1"
	echo "$TND_STATE/dataplane/$(rcl_json /status/placement/region)"
}

role_flags() { # DIR NAME — "login|writable", or nothing when there is no role
	rcl_sql "$1/roles.db" "SELECT login, writable FROM tenancy_roles WHERE name = '$2'"
}

file_mode() {
	stat -c %a "$1"
}

# the files a tenant of ISOLATION has in DIR
files_of() {
	local dir=$1 isolation=$2 name=$3
	case $isolation in
	shared) echo "$dir/shared/$name.db" ;;
	dedicated) echo "$dir/dedicated/$name.db" ;;
	hybrid) echo "$dir/shared/$name.db $dir/dedicated/$name.db" ;;
	esac
}

# a table of the tenant's own: qualified by the schema in shared mode
table_of() {
	case $1 in
	shared) echo "$2.orders" ;;
	*) echo orders ;;
	esac
}

# assert_workflow_done ID KIND OP... — the workflow succeeded, ran these ops
# once each, with timings and a worker.
assert_workflow_done() {
	local id=$1 kind=$2 i=0 op started finished
	shift 2
	tnd_curl GET "/v1/workflows/$id"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/workflows/$id"
	tnd_assert_eq "$kind" "$(rcl_json /kind)" "kind of workflow $id"
	tnd_assert_eq Succeeded "$(rcl_json /state)" "state of workflow $id"
	tnd_assert_eq "$#" "$(rcl_json -l /steps)" "steps of workflow $id"
	tnd_assert_eq "$#" "$(rcl_json /step)" "checkpoint of workflow $id"
	tnd_assert_eq null "$(rcl_json /error)" "error of workflow $id"
	for op in "$@"; do
		tnd_assert_eq "$op" "$(rcl_json "/steps/$i/op")" "op of step $i of $id"
		tnd_assert_eq succeeded "$(rcl_json "/steps/$i/status")" "status of step $i of $id"
		tnd_assert_eq 1 "$(rcl_json "/steps/$i/attempts")" "attempts of step $i of $id"
		tnd_assert_match "$(rcl_json "/steps/$i/worker")" '^local-[12]$' "worker of step $i of $id"
		tnd_assert_match "$(rcl_json "/steps/$i/durationMs")" '^[0-9.e+-]+$' "duration of step $i of $id"
		started=$(rcl_time_ms "$(rcl_json "/steps/$i/startedAt")")
		finished=$(rcl_time_ms "$(rcl_json "/steps/$i/finishedAt")")
		[ "$started" -le "$finished" ] || tnd_fail "step $i of $id finished before it started: $TND_BODY"
		i=$((i + 1))
	done
	[ "$(rcl_time_ms "$(rcl_json /createdAt)")" -le "$(rcl_time_ms "$(rcl_json /updatedAt)")" ] ||
		tnd_fail "workflow $id updated before it was created: $TND_BODY"
}

# lifecycle ID VERB — POST /v1/tenants/ID/VERB (or DELETE), then the newest
# workflow must be of kind KIND and succeed, and the tenant settle in PHASE.
lifecycle() {
	local id=$1 verb=$2 kind=$3 op=$4 phase=$5 wf
	if [ "$verb" = delete ]; then
		tnd_curl DELETE "/v1/tenants/$id"
	else
		tnd_curl POST "/v1/tenants/$id/$verb"
	fi
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "$verb $id"
	tnd_assert_eq Reconciling "$(rcl_json /status/conditions/0/type)" "condition after $verb $id"
	tnd_assert_eq "$kind" "$(rcl_json /status/conditions/0/reason)" "condition reason after $verb $id"
	wf=$(rcl_json /status/conditions/0/workflow)
	rcl_wait_phase "$id" "$phase"
	assert_workflow_done "$wf" "$kind" "$op"
	tnd_assert_eq "$wf" "$(rcl_latest_workflow "$id")" "newest workflow of $id after $verb"
}

tnd_step "apply: 201 with a Reconciling condition, then Active with resources on disk"
declare -A first_wf
while IFS=: read -r id plan isolation plugin; do
	rcl_apply "$id" "$plan" "$isolation"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT $id"
	tnd_assert_eq Draft "$(rcl_json /status/phase)" "phase of $id right after the apply"
	tnd_assert_eq 0 "$(rcl_json /status/observedVersion)" "observedVersion of $id right after the apply"
	tnd_assert_eq Reconciling "$(rcl_json /status/conditions/0/type)" "condition of $id"
	tnd_assert_eq True "$(rcl_json /status/conditions/0/status)" "condition status of $id"
	tnd_assert_eq activate "$(rcl_json /status/conditions/0/reason)" "condition reason of $id"
	first_wf[$id]=$(rcl_json /status/conditions/0/workflow)
	tnd_assert_match "${first_wf[$id]}" '^wf-' "workflow named by the condition of $id"
done <<<"$tenants"
while IFS=: read -r id plan isolation plugin; do
	rcl_wait_phase "$id" Active
	tnd_assert_eq 1 "$(rcl_json /status/observedVersion)" "observedVersion of $id"
	dir=$TND_STATE/dataplane/$(rcl_json /status/placement/region)
	name=$(name_of "$id")
	res=/status/placement/resources
	case $isolation in
	shared)
		tnd_assert_eq "$dir/shared.db" "$(rcl_json $res/database)" "$id: resources.database"
		tnd_assert_eq "$name" "$(rcl_json $res/schema)" "$id: resources.schema"
		tnd_assert_eq "$dir/shared/$name.db" "$(rcl_json $res/file)" "$id: resources.file"
		;;
	dedicated)
		tnd_assert_eq "$dir/dedicated/$name.db" "$(rcl_json $res/database)" "$id: resources.database"
		tnd_assert_eq main "$(rcl_json $res/schema)" "$id: resources.schema"
		;;
	hybrid)
		tnd_assert_eq "$dir/shared.db" "$(rcl_json $res/control/database)" "$id: resources.control.database"
		tnd_assert_eq "$name" "$(rcl_json $res/control/schema)" "$id: resources.control.schema"
		tnd_assert_eq "$dir/shared/$name.db" "$(rcl_json $res/control/file)" "$id: resources.control.file"
		tnd_assert_eq "$dir/dedicated/$name.db" "$(rcl_json $res/data/database)" "$id: resources.data.database"
		tnd_assert_eq main "$(rcl_json $res/data/schema)" "$id: resources.data.schema"
		;;
	esac
	tnd_assert_eq "$name" "$(rcl_json $res/role)" "$id: resources.role"
	for f in $(files_of "$dir" "$isolation" "$name"); do
		[ -f "$f" ] || tnd_fail "$id: $f does not exist"
		tnd_assert_eq 600 "$(file_mode "$f")" "mode of $f"
	done
	tnd_assert_eq "1|1" "$(role_flags "$dir" "$name")" "$id: login|writable in roles.db"
	if [ "$isolation" != dedicated ]; then
		tnd_assert_eq "$name" "$(rcl_sql "$dir/shared.db" "SELECT role FROM tenancy_schemas WHERE name = '$name'")" \
			"$id: schema registered in shared.db"
	fi
done <<<"$tenants"

tnd_step "workflows: list by tenant and one by id, with steps, attempts and timings"
while IFS=: read -r id plan isolation plugin; do
	rcl_workflows "$id"
	tnd_assert_eq 1 "$(rcl_json -l /items)" "workflows of $id"
	tnd_assert_eq null "$(rcl_json /nextCursor)" "nextCursor of the workflows of $id"
	listed=$(rcl_json /items/0)
	tnd_assert_eq "${first_wf[$id]}" "$(rcl_json /items/0/id)" "the workflow of $id is the one its condition named"
	tnd_assert_eq "$id" "$(rcl_json /items/0/tenantId)" "tenantId of the workflow of $id"
	tnd_assert_eq 1 "$(rcl_json /items/0/targetVersion)" "targetVersion of the workflow of $id"
	tnd_assert_eq active "$(rcl_json /items/0/targetState)" "targetState of the workflow of $id"
	tnd_assert_eq "$plugin" "$(rcl_json /items/0/plugin)" "plugin of the workflow of $id"
	assert_workflow_done "${first_wf[$id]}" activate provision
	tnd_assert_eq "$listed" "$(rcl_json '')" "the workflow of $id, listed and by id"
done <<<"$tenants"
tnd_curl GET "/v1/workflows?tenant=rc-shared&state=Succeeded"
tnd_assert_eq 1 "$(rcl_json -l /items)" "Succeeded workflows of rc-shared"
tnd_curl GET "/v1/workflows?tenant=rc-shared&state=Failed"
tnd_assert_eq 0 "$(rcl_json -l /items)" "Failed workflows of rc-shared"
tnd_curl GET "/v1/workflows?state=Finished"
tnd_assert_problem 400 bad-request "an unknown workflow state"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" GET "/v1/workflows/${first_wf[rc-shared]}"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "a viewer reads a workflow"
tnd_curl GET /v1/workflows/wf-0000000000000-00000000
tnd_assert_problem 404 not-found "a workflow that does not exist"
tnd_curl POST "/v1/workflows/${first_wf[rc-shared]}/retry"
tnd_assert_problem 409 conflict "retry of a Succeeded workflow"

tnd_step "credentials: admin only; the password opens the tenant's files (embedded_open_as)"
declare -A password
tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" GET /v1/tenants/rc-shared/credentials
tnd_assert_problem 403 forbidden "an operator reading credentials"
while IFS=: read -r id plan isolation plugin; do
	name=$(name_of "$id")
	dir=$(plane_of "$id")
	tnd_curl GET "/v1/tenants/$id/credentials"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/tenants/$id/credentials"
	tnd_assert_eq "$id" "$(rcl_json /tenantId)" "credentials tenantId of $id"
	tnd_assert_eq "$name" "$(rcl_json /username)" "credentials username of $id"
	password[$id]=$(rcl_json /password)
	[ "${#password[$id]}" -ge 32 ] || tnd_fail "$id: a password of ${#password[$id]} characters"
	hash=$(rcl_sql "$dir/roles.db" "SELECT password_hash FROM tenancy_roles WHERE name = '$name'")
	[ -n "$hash" ] || tnd_fail "$id: no password hash in roles.db"
	tnd_assert_not_contains "$hash" "${password[$id]}" "$id: the stored hash"
	table=$(table_of "$isolation" "$name")
	rcl_embedded_login "$dir" "$isolation" "$id" "${password[$id]}" \
		"CREATE TABLE $table (id INTEGER PRIMARY KEY, item TEXT)" \
		"INSERT INTO $table (item) VALUES ('first order of $id')" "SELECT item FROM $table"
	tnd_assert_rc 0 "$id logs in with the password from the credentials API and writes"
	tnd_assert_eq "first order of $id" "$TND_OUT" "$id reads its own row back"
	rcl_embedded_login "$dir" "$isolation" "$id" "${password[$id]}x" "SELECT 1"
	tnd_assert_rc 3 "$id with a wrong password"
done <<<"$tenants"
# one tenant's password opens no other tenant
rcl_embedded_login "$(plane_of rc-dedicated)" dedicated rc-dedicated "${password[rc-shared]}" "SELECT 1"
tnd_assert_rc 3 "rc-dedicated with rc-shared's password"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "data-plane credentials of tenant rc-shared read by admin" \
	"the log records who read credentials"

tnd_step "suspend, resume, archive, delete: a workflow each, phase and data plane follow"
while IFS=: read -r id plan isolation plugin; do
	name=$(name_of "$id")
	dir=$(plane_of "$id")
	table=$(table_of "$isolation" "$name")

	lifecycle "$id" suspend suspend suspend Suspended
	tnd_assert_eq "0|1" "$(role_flags "$dir" "$name")" "$id suspended: login|writable"
	rcl_embedded_login "$dir" "$isolation" "$id" "${password[$id]}" "SELECT 1"
	tnd_assert_rc 3 "$id logs in while suspended"
	for f in $(files_of "$dir" "$isolation" "$name"); do
		[ -f "$f" ] || tnd_fail "$id suspended: $f is gone"
	done

	lifecycle "$id" resume resume resume Active
	tnd_assert_eq "1|1" "$(role_flags "$dir" "$name")" "$id resumed: login|writable"
	rcl_embedded_login "$dir" "$isolation" "$id" "${password[$id]}" "SELECT item FROM $table"
	tnd_assert_rc 0 "$id logs in after resume"
	tnd_assert_eq "first order of $id" "$TND_OUT" "$id's data survived suspend and resume"

	lifecycle "$id" archive archive archive Archived
	tnd_assert_eq "0|0" "$(role_flags "$dir" "$name")" "$id archived: login|writable"
	[ -n "$(rcl_sql "$dir/roles.db" "SELECT archived_at FROM tenancy_roles WHERE name = '$name'")" ] ||
		tnd_fail "$id archived: no archived_at in roles.db"
	for f in $(files_of "$dir" "$isolation" "$name"); do
		tnd_assert_eq 400 "$(file_mode "$f")" "mode of $f when archived"
	done
	rcl_embedded_login "$dir" "$isolation" "$id" "${password[$id]}" "SELECT 1"
	tnd_assert_rc 3 "$id logs in while archived"
	tnd_run "$top_builddir/tests/integration/embedded_login" --archived "$dir" "$isolation" "$id" \
		"SELECT item FROM $table"
	tnd_assert_rc 0 "the operator's read-only export of archived $id"
	tnd_assert_eq "first order of $id" "$TND_OUT" "archived $id keeps its data"

	lifecycle "$id" delete delete destroy Deleted
	tnd_assert_eq "" "$(role_flags "$dir" "$name")" "$id deleted: its role in roles.db"
	tnd_assert_eq "" "$(rcl_sql "$dir/shared.db" "SELECT name FROM tenancy_schemas WHERE name = '$name'")" \
		"$id deleted: its schema in shared.db"
	for f in $(files_of "$dir" "$isolation" "$name"); do
		[ ! -e "$f" ] || tnd_fail "$id deleted: $f is still there"
	done
	tnd_assert_eq "" "$(find "$dir" -name "$name.db*")" "$id deleted: no file of it left in $dir"
	tnd_curl GET "/v1/tenants/$id/credentials"
	tnd_assert_problem 404 not-found "credentials of deleted $id"

	tnd_curl GET "/v1/tenants/$id/transitions"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET transitions of $id"
	tnd_assert_eq "null>Draft Draft>Active Active>Suspended Suspended>Active Active>Archived Archived>Deleted" \
		"$(rcl_json -e /items /from /to | tr '\t\n' '> ' | sed 's/ $//')" "phase transitions of $id"
	rcl_workflows "$id"
	tnd_assert_eq "activate suspend resume archive delete" "$(rcl_json -e /items /kind | tr '\n' ' ' | sed 's/ $//')" \
		"workflow kinds of $id"
	tnd_assert_eq "Succeeded Succeeded Succeeded Succeeded Succeeded" \
		"$(rcl_json -e /items /state | tr '\n' ' ' | sed 's/ $//')" "workflow states of $id"
done <<<"$tenants"
for id in rc-shared rc-dedicated rc-hybrid; do
	if grep -rqF -- "${password[$id]}" "$TND_DAEMON_LOG" "$TND_STATE"; then
		tnd_fail "$id's password is written somewhere: $(grep -rlF -- "${password[$id]}" "$TND_DAEMON_LOG" "$TND_STATE")"
	fi
done

tnd_step "applies while a workflow is pending supersede it; the newest wins"
mapfile -t workers < <(rcl_workers)
[ "${#workers[@]}" = 2 ] || tnd_fail "expected 2 worker processes, found: ${workers[*]}"
# stopped workers take the first task but answer nothing: its workflow stays Pending
kill -STOP "${workers[@]}"
rcl_apply rc-super business shared active one
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT rc-super (version 1)"
rcl_apply rc-super business shared active two
tnd_assert_eq 200 "$TND_HTTP_STATUS" "PUT rc-super (version 2)"
rcl_apply rc-super business shared active three
tnd_assert_eq 200 "$TND_HTTP_STATUS" "PUT rc-super (version 3)"
tnd_assert_eq 3 "$(rcl_json /metadata/version)" "version of rc-super"
newest=$(rcl_json /status/conditions/0/workflow)
rcl_workflows rc-super
kill -CONT "${workers[@]}"
tnd_assert_eq "Superseded:1 Superseded:2 Pending:3" \
	"$(rcl_json -e /items /state /targetVersion | tr '\t\n' ': ' | sed 's/ $//')" \
	"rc-super's workflows while the workers are stopped"
tnd_assert_eq "$newest" "$(rcl_json /items/2/id)" "the condition names the newest workflow"
rcl_wait_phase rc-super Active
tnd_assert_eq 3 "$(rcl_json /status/observedVersion)" "rc-super realized the newest version"
tnd_assert_eq three "$(rcl_json /metadata/labels/rev)" "rc-super's labels"
rcl_workflows rc-super
tnd_assert_eq "Superseded:1 Superseded:2 Succeeded:3" \
	"$(rcl_json -e /items /state /targetVersion | tr '\t\n' ': ' | sed 's/ $//')" "rc-super's workflows in the end"
tnd_curl GET "/v1/tenants/rc-super/transitions"
tnd_assert_eq "null>Draft Draft>Active" "$(rcl_json -e /items /from /to | tr '\t\n' '> ' | sed 's/ $//')" \
	"rc-super went Active once"

tnd_step "a draft deleted while its superseded activation still runs: nothing is left"
# the activation's provision is on a stopped worker; archive, then delete,
# supersede it while the tenant is still a Draft
mapfile -t workers < <(rcl_workers)
kill -STOP "${workers[@]}"
rcl_apply rc-ghost enterprise hybrid
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT rc-ghost"
tnd_curl POST /v1/tenants/rc-ghost/archive
tnd_assert_eq 200 "$TND_HTTP_STATUS" "archive rc-ghost (still a Draft)"
tnd_curl DELETE /v1/tenants/rc-ghost
tnd_assert_eq 200 "$TND_HTTP_STATUS" "delete rc-ghost (still a Draft)"
kill -CONT "${workers[@]}"
rcl_wait_phase rc-ghost Deleted
# the superseded provision did run (its result was dropped): wait for its mark
deadline=$(($(date +%s) + RCL_TIMEOUT))
until grep -q '"msg":"provision t_rc_ghost' "$TND_DAEMON_LOG"; do
	[ "$(date +%s)" -lt "$deadline" ] || tnd_fail "the superseded provision of rc-ghost never ran"
	sleep 0.05
done
dir=$(plane_of rc-ghost)
tnd_assert_eq "" "$(role_flags "$dir" t_rc_ghost)" "rc-ghost's role"
tnd_assert_eq "" "$(rcl_sql "$dir/shared.db" "SELECT name FROM tenancy_schemas WHERE name = 't_rc_ghost'")" \
	"rc-ghost's schema"
tnd_assert_eq "" "$(find "$dir" -name 't_rc_ghost.db*')" "rc-ghost's files"
rcl_workflows rc-ghost
tnd_assert_eq "activate:Superseded archive:Superseded delete:Succeeded" \
	"$(rcl_json -e /items /kind /state | tr '\t\n' ': ' | sed 's/ $//')" "rc-ghost's workflows"
tnd_assert_eq destroy "$(rcl_json /items/2/steps/0/op)" "the deletion of a draft that may own resources destroys them"
tnd_curl GET /v1/tenants/rc-ghost/transitions
tnd_assert_eq "null>Draft Draft>Deleted" "$(rcl_json -e /items /from /to | tr '\t\n' '> ' | sed 's/ $//')" \
	"rc-ghost's phases"
# a draft no workflow ever touched still goes at once
rcl_apply rc-never-active business shared draft
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT rc-never-active (a draft)"
tnd_assert_eq "[]" "$(rcl_json /status/conditions)" "a draft has nothing to reconcile"
tnd_curl DELETE /v1/tenants/rc-never-active
tnd_assert_eq 200 "$TND_HTTP_STATUS" "delete rc-never-active"
tnd_assert_eq Deleted "$(rcl_json /status/phase)" "a draft without workflows is deleted at once"
rcl_workflows rc-never-active
tnd_assert_eq 0 "$(rcl_json -l /items)" "workflows of rc-never-active"

tnd_step "drift: a data file deleted by hand is recreated within a resync"
rcl_apply rc-drift business dedicated
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT rc-drift"
rcl_apply rc-asleep business shared
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT rc-asleep"
rcl_wait_phase rc-drift Active
rcl_wait_phase rc-asleep Active
lifecycle rc-asleep suspend suspend suspend Suspended
# the generated config: reconcile.* apply on SIGHUP
resync=1
rcl_set_reconcile "$TND_STATE/tenancyd.conf" resync_interval "$resync"
tnd_assert_contains "$(cat "$TND_STATE/tenancyd.conf")" "resync_interval = $resync;" "the edited config"
dir=$(plane_of rc-drift)
data=$dir/dedicated/t_rc_drift.db
rcl_workflows rc-drift
wfs_before=$(rcl_json -l /items)
rm -f "$data"
t0=$(rcl_now_ms)
deadline=$((t0 + (resync + 15) * 1000))
until [ -f "$data" ] && [ "$(grep -c 'drift on tenant rc-drift' "$TND_DAEMON_LOG")" -ge 1 ]; do
	[ "$(rcl_now_ms)" -lt "$deadline" ] || tnd_fail "$data not recreated $((resync + 15)) s after it was deleted"
	sleep 0.05
done
echo "rc-drift: data file recreated $(($(rcl_now_ms) - t0)) ms after it was deleted (resync_interval $resync s)"
rcl_wait_phase rc-drift Active
tnd_assert_match "$(cat "$TND_DAEMON_LOG")" "drift on tenant rc-drift: .*data file $data missing" \
	"the log names the drift"
rcl_workflows rc-drift
tnd_assert_eq $((wfs_before + 1)) "$(rcl_json -l /items)" "workflows of rc-drift after the repair"
wf=$(rcl_json -e /items /id | tail -n 1)
assert_workflow_done "$wf" repair provision
tnd_assert_contains "$(rcl_json /drift)" "data file $data missing" "the repair workflow records the drift"
tnd_assert_eq 1 "$(rcl_json /targetVersion)" "the repair realizes the current version"
tnd_assert_eq "1|1" "$(role_flags "$dir" t_rc_drift)" "rc-drift after the repair: login|writable"
tnd_curl GET /v1/tenants/rc-drift/credentials
rcl_embedded_login "$dir" dedicated rc-drift "$(rcl_json /password)" "SELECT count(*) FROM sqlite_master"
tnd_assert_rc 0 "rc-drift logs in to its recreated (empty) database"
tnd_assert_eq 0 "$(rcl_metric tenancyd_observe_failures_total)" "observe failures"
[ "$(rcl_metric tenancyd_drift_detected_total)" -ge 1 ] || tnd_fail "tenancyd_drift_detected_total did not count"
# the drift and its repair are events too (docs/events.md)
tnd_curl GET "/v1/events?tenant=rc-drift&type=drift_detected"
tnd_assert_contains "$(rcl_json /items/0/data/drift)" "data file $data missing" "drift_detected event of rc-drift"
tnd_curl GET "/v1/events?tenant=rc-drift&type=drift_corrected"
tnd_assert_eq "$wf" "$(rcl_json /items/0/data/workflowId)" "drift_corrected event names the repair"

tnd_step "drift: a login enabled by hand for a suspended tenant is disabled within a resync"
dir=$(plane_of rc-asleep)
tnd_assert_eq "0|1" "$(role_flags "$dir" t_rc_asleep)" "rc-asleep suspended: login|writable"
rcl_sql "$dir/roles.db" "UPDATE tenancy_roles SET login = 1 WHERE name = 't_rc_asleep'" >/dev/null
tnd_assert_eq "1|1" "$(role_flags "$dir" t_rc_asleep)" "rc-asleep after the hand edit"
t0=$(rcl_now_ms)
deadline=$((t0 + (resync + 15) * 1000))
until [ "$(role_flags "$dir" t_rc_asleep)" = "0|1" ]; do
	[ "$(rcl_now_ms)" -lt "$deadline" ] || tnd_fail "rc-asleep may still log in $((resync + 15)) s after the hand edit"
	sleep 0.05
done
echo "rc-asleep: login disabled again $(($(rcl_now_ms) - t0)) ms after the hand edit"
rcl_wait_phase rc-asleep Suspended
tnd_assert_match "$(cat "$TND_DAEMON_LOG")" 'drift on tenant rc-asleep: .*login enabled while suspended' \
	"the log names the login drift"
wf=$(rcl_latest_workflow rc-asleep)
assert_workflow_done "$wf" repair provision suspend
tnd_assert_contains "$(rcl_json /drift)" "login enabled while suspended" "the repair workflow records the drift"
tnd_curl GET /v1/tenants/rc-asleep/credentials
rcl_embedded_login "$dir" shared rc-asleep "$(rcl_json /password)" "SELECT 1"
tnd_assert_rc 3 "rc-asleep logs in after the repair"
# settled tenants with nothing drifted: the resyncs start nothing more
sleep $((resync * 3))
for id in rc-drift rc-asleep rc-super; do
	rcl_workflows "$id"
	tnd_assert_eq "" "$(rcl_json -e /items /state | grep -v -e Succeeded -e Superseded)" \
		"unfinished workflows of $id after quiet resyncs"
done
drift_lines=$(grep -c 'drift on tenant' "$TND_DAEMON_LOG")
sleep $((resync * 3))
tnd_assert_eq "$drift_lines" "$(grep -c 'drift on tenant' "$TND_DAEMON_LOG")" "drift lines once the repairs are done"

tnd_step "stop: the workers go with the daemon"
mapfile -t workers < <(rcl_workers)
tnd_daemon_stop
for pid in "${workers[@]}"; do
	_tnd_wait_gone "$pid" 10 || tnd_fail "worker $pid outlived the daemon"
done
echo "test_reconcile.sh took $(($(date +%s) - started)) s"
tnd_pass
