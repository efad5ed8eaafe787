#!/bin/bash
# test_reconcile_chaos.sh — the reconcile engine under kill -9, on the
# embedded data plane (DESIGN §1: "a crash anywhere resumes from the last
# checkpoint"; every op is idempotent).  The daemon runs the config
# `tenancyd --dev` generates, with one change: password hashes of 200000
# PBKDF2 rounds, so that a provision takes some 30 ms and kills find steps
# running, not only finished.
#
# Each cycle reads the desired state of a set of tenant slots from the API,
# sends a few random lifecycle requests that the lifecycle allows (create
# active or draft, activate a draft, update a label, suspend, resume,
# archive, delete; a deleted slot gets a new tenant id), and meanwhile a
# timer SIGKILLs either the core (restarted on the same state dir) or one of
# its worker processes (the core respawns it), 0-300 ms into the requests.
#
# Afterwards, with every tenant settled (no workflow Pending, Running or
# Failed):
#   * the data plane holds exactly what the tenants' phases imply, once:
#     every role in roles.db, schema in shared.db and file under shared/ and
#     dedicated/ belongs to an Active, Suspended or Archived tenant, with the
#     flags and file modes of its phase, and every such tenant has all of
#     them; Draft, Deleted and never-created tenants have nothing; no other
#     file (temporaries, journals) is left;
#   * every workflow is terminal; a Succeeded one ran all its steps; a
#     Superseded one was overtaken by a newer version; no version was
#     realized twice;
#   * each tenant's phase transitions chain (from = previous to), each
#     realizes the desired state of its version, versions only grow, the
#     last one is the current phase; and the desired states of its lineage
#     only ever took steps the lifecycle allows.
#
# TND_CHAOS_CYCLES (default 50) and TND_CHAOS_SEED (default: random,
# printed) replay a run.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/reconcile_lib.sh"

tnd_require_cmd curl sqlite3
tnd_setup
started=$(date +%s)

cycles=${TND_CHAOS_CYCLES:-50}
seed=${TND_CHAOS_SEED:-$((($$ + $(date +%s)) % 32768))}
RANDOM=$seed
echo "chaos: $cycles cycles, seed $seed (TND_CHAOS_SEED=$seed replays the requests)"
slots=8
modes=(shared dedicated hybrid)

rcl_prepare_state "$TND_TMP/state"
config=$TND_STATE/chaos.conf
sed -E 's/\{ name = "(embedded_[a-z_]+)"; \}/{ name = "\1"; settings: { password_iterations = 200000; }; }/' \
	"$TND_STATE/dev.conf" >"$config"
[ "$(grep -c 'password_iterations = 200000' "$config")" = 3 ] ||
	tnd_hard_error "the generated config has changed: no three embedded isolation plugins in $config"
tnd_daemon_start_config "$config"

auth_file=$TND_TMP/admin.auth
(umask 077 && printf 'Authorization: Bearer %s\n' "$(head -n 1 "$TND_ADMIN_TOKEN_FILE")" >"$auth_file")

# req METHOD PATH [JSON] — one request that may meet a dead daemon: sets
# code (000: no answer) and leaves the body in $TND_TMP/req.body.
req() {
	local method=$1 path=$2 data=${3:-}
	local args=(-s -o "$TND_TMP/req.body" -w '%{http_code}' --max-time 20 -X "$method" -H "@$auth_file")
	[ -z "$data" ] || args+=(-H 'Content-Type: application/json' --data-binary "$data")
	code=$(curl "${args[@]}" "$TND_URL$path" 2>/dev/null) || true
	[ -n "$code" ] || code=000
}

# --- the slots: each holds one tenant id at a time --------------------------------------

declare -a slot_id slot_gen slot_state
declare -A ever   # every id ever sent a create: id -> isolation mode
for ((s = 0; s < slots; s++)); do
	slot_gen[s]=0
	slot_id[s]=ch-$s-0
	slot_state[s]=none
done

# refresh — the desired state of every slot's tenant, from the API.
refresh() {
	local s state
	for ((s = 0; s < slots; s++)); do
		req GET "/v1/tenants/${slot_id[s]}"
		case $code in
		200)
			state=$(tnd_json /spec/state <"$TND_TMP/req.body")
			if [ "$state" = deleted ]; then
				slot_gen[s]=$((slot_gen[s] + 1))
				slot_id[s]=ch-$s-${slot_gen[s]}
				state=none
			fi
			slot_state[s]=$state
			;;
		404) slot_state[s]=none ;;
		*) tnd_fail "GET /v1/tenants/${slot_id[s]}: status $code: $(cat "$TND_TMP/req.body")" ;;
		esac
	done
}

# act SLOT — one random request the slot's desired state allows; returns 1
# when the daemon did not answer.
act() {
	local s=$1 id=${slot_id[$1]} mode=${modes[$(($1 % 3))]} roll=$((RANDOM % 100)) verb path method=POST
	local body='' next=
	case ${slot_state[s]} in
	none)
		if [ "$roll" -lt 80 ]; then next=active; else next=draft; fi
		body=$(rcl_manifest "$id" enterprise "$mode" "$next" "r$RANDOM")
		method=PUT path=/v1/tenants/$id verb="create $next"
		ever[$id]=$mode
		;;
	draft)
		if [ "$roll" -lt 70 ]; then
			body=$(rcl_manifest "$id" enterprise "$mode" active "r$RANDOM")
			method=PUT path=/v1/tenants/$id verb=activate next=active
		else
			method=DELETE path=/v1/tenants/$id verb=delete next=deleted
		fi
		;;
	active)
		if [ "$roll" -lt 35 ]; then
			path=/v1/tenants/$id/suspend verb=suspend next=suspended
		elif [ "$roll" -lt 80 ]; then
			body=$(rcl_manifest "$id" enterprise "$mode" active "r$RANDOM")
			method=PUT path=/v1/tenants/$id verb=update next=active
		else
			path=/v1/tenants/$id/archive verb=archive next=archived
		fi
		;;
	suspended)
		if [ "$roll" -lt 50 ]; then
			path=/v1/tenants/$id/resume verb=resume next=active
		elif [ "$roll" -lt 80 ]; then
			body=$(rcl_manifest "$id" enterprise "$mode" suspended "r$RANDOM")
			method=PUT path=/v1/tenants/$id verb=update next=suspended
		else
			path=/v1/tenants/$id/archive verb=archive next=archived
		fi
		;;
	archived)
		# half the time leave it archived: tenants in every phase remain
		[ "$roll" -lt 50 ] || return 0
		method=DELETE path=/v1/tenants/$id verb=delete next=deleted
		;;
	esac
	req "$method" "$path" "$body"
	case $code in
	000) return 1 ;;
	200 | 201) ;;
	*) tnd_fail "$verb $id (desired ${slot_state[s]}): status $code: $(cat "$TND_TMP/req.body")" ;;
	esac
	requests=$((requests + 1))
	echo "$verb $id" >>"$TND_TMP/requests"
	if [ "$next" = deleted ]; then
		slot_gen[s]=$((slot_gen[s] + 1))
		slot_id[s]=ch-$s-${slot_gen[s]}
		next=none
	fi
	slot_state[s]=$next
	return 0
}

# chaos — SIGKILL the core (and restart it on the same state dir) or one of
# its workers, whichever the cycle drew.
chaos() {
	local victim active
	sleep "0.0$((RANDOM % 3))$((RANDOM % 10))" # 0-29 ms: into the steps just started
	if [ "$target" = core ]; then
		kill -KILL "$TND_PID"
		{ wait "$TND_PID"; } 2>/dev/null
		TND_PID=
		core_kills=$((core_kills + 1))
		# the registry at rest: did the crash cut workflows short?
		active=$(rcl_sql "$TND_STATE/registry.db" \
			"SELECT count(*) FROM workflows WHERE state IN ('Pending', 'Running')")
		[ "$active" = 0 ] || core_hits=$((core_hits + 1))
		interrupted=$((interrupted + active))
		tnd_daemon_start_config "$config" >/dev/null
	else
		mapfile -t pids < <(rcl_workers)
		if [ "${#pids[@]}" -eq 0 ]; then
			spared=$((spared + 1)) # every worker is being respawned
			return 0
		fi
		victim=${pids[$((RANDOM % ${#pids[@]}))]}
		kill -KILL "$victim" 2>/dev/null
		worker_kills=$((worker_kills + 1))
	fi
}

tnd_step "$cycles cycles of requests and kill -9"
requests=0 core_kills=0 worker_kills=0 spared=0 core_hits=0 interrupted=0
: >"$TND_TMP/requests"
: >"$TND_TMP/realized"
for ((cycle = 1; cycle <= cycles; cycle++)); do
	refresh
	if [ $((RANDOM % 100)) -lt 40 ]; then target=core; else target=worker; fi
	n=$((3 + RANDOM % 5))
	kill_at=$((1 + RANDOM % n))
	for ((i = 1; i <= n; i++)); do
		act $((RANDOM % slots)) || tnd_fail "no answer while the daemon should be up"
		[ "$i" != "$kill_at" ] || chaos
	done
done
redispatched=$(grep -c 'is gone (its process exited); dispatching it again' "$TND_DAEMON_LOG")
echo "$cycles cycles: $requests requests answered 2xx; $core_kills core kills ($core_hits cut" \
	"$interrupted workflows short), $worker_kills worker kills ($redispatched running steps handed on;" \
	"$spared cycles found no worker to kill)"
if [ "$cycles" -ge 50 ]; then
	if [ "$core_kills" -lt 5 ] || [ "$worker_kills" -lt 5 ]; then
		tnd_fail "too little chaos: $core_kills core and $worker_kills worker kills"
	fi
	# most of them land while steps run; demand a few, so the test keeps its teeth
	[ "$core_hits" -ge 3 ] || tnd_fail "only $core_hits core kills caught workflows running: the chaos misses"
	[ "$redispatched" -ge 3 ] || tnd_fail "only $redispatched worker kills caught a step running: the chaos misses"
fi

tnd_step "every tenant settles"
settle_start=$(date +%s)
ids=$(printf '%s\n' "${!ever[@]}" | sort)
for id in $ids; do
	req GET "/v1/tenants/$id"
	[ "$code" = 404 ] && continue # its create was never answered nor applied
	rcl_wait_settled "$id" 120
done
for state in Pending Running Failed; do
	tnd_curl GET "/v1/workflows?state=$state&limit=1000"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET workflows $state"
	tnd_assert_eq 0 "$(rcl_json -l /items)" "$state workflows once settled: $(rcl_json -e /items /id /tenantId)"
done
echo "settled $(($(date +%s) - settle_start)) s after the last cycle"

tnd_step "the data plane holds exactly what the phases imply"
checks=0
: >"$TND_TMP/expected"
: >"$TND_TMP/tenants"
for id in $ids; do
	req GET "/v1/tenants/$id"
	if [ "$code" = 404 ]; then
		echo "$id none" >>"$TND_TMP/tenants"
		continue
	fi
	tnd_assert_eq 200 "$code" "GET /v1/tenants/$id"
	phase=$(tnd_json /status/phase <"$TND_TMP/req.body")
	region=$(tnd_json /status/placement/region <"$TND_TMP/req.body")
	echo "$id $phase" >>"$TND_TMP/tenants"
	name=t_${id//-/_}
	case $phase in
	Active) flags="1|1" mode=600 ;;
	Suspended) flags="0|1" mode=600 ;;
	Archived) flags="0|0" mode=400 ;;
	*) continue ;; # Draft and Deleted own nothing
	esac
	{
		echo "$region role $name $flags"
		case ${ever[$id]} in
		shared) echo "$region schema $name $name" && echo "$region file shared/$name.db $mode" ;;
		dedicated) echo "$region file dedicated/$name.db $mode" ;;
		hybrid)
			echo "$region schema $name $name" && echo "$region file shared/$name.db $mode"
			echo "$region file dedicated/$name.db $mode"
			;;
		esac
	} >>"$TND_TMP/expected"
done
: >"$TND_TMP/actual"
for dir in "$TND_STATE"/dataplane/*/; do
	[ -d "$dir" ] || continue
	region=$(basename "$dir")
	[ ! -f "$dir/roles.db" ] ||
		rcl_sql "$dir/roles.db" "SELECT name, login || '|' || writable FROM tenancy_roles" |
		awk -F'|' -v r="$region" '{ print r " role " $1 " " $2 "|" $3 }' >>"$TND_TMP/actual"
	[ ! -f "$dir/shared.db" ] ||
		rcl_sql "$dir/shared.db" "SELECT name, role FROM tenancy_schemas" |
		awk -F'|' -v r="$region" '{ print r " schema " $1 " " $2 }' >>"$TND_TMP/actual"
	for sub in shared dedicated; do
		[ -d "$dir/$sub" ] || continue
		for f in "$dir/$sub"/* "$dir/$sub"/.[!.]*; do
			[ -e "$f" ] || continue
			echo "$region file $sub/$(basename "$f") $(stat -c %a "$f")" >>"$TND_TMP/actual"
		done
	done
done
sort -o "$TND_TMP/expected" "$TND_TMP/expected"
sort -o "$TND_TMP/actual" "$TND_TMP/actual"
if ! diff -u "$TND_TMP/expected" "$TND_TMP/actual" >"$TND_TMP/plane.diff"; then
	cat "$TND_TMP/plane.diff" >&2
	tnd_fail "the data plane differs from what the tenants' phases imply (- missing, + extra)"
fi
checks=$((checks + $(wc -l <"$TND_TMP/expected")))
[ "$(sort -u "$TND_TMP/actual" | wc -l)" = "$(wc -l <"$TND_TMP/actual")" ] || tnd_fail "a resource is listed twice"
echo "$(wc -l <"$TND_TMP/expected") data-plane resources as expected; tenants by phase:" \
	"$(awk '{ print $2 }' "$TND_TMP/tenants" | sort | uniq -c | tr -s ' \n' ' ')"

tnd_step "workflows are terminal and consistent; transitions follow the lifecycle"
# the lifecycle (DESIGN §4), as desired states
legal_step() {
	case $1:$2 in
	draft:active | active:suspended | suspended:active | active:archived | suspended:archived | \
		draft:deleted | archived:deleted) return 0 ;;
	esac
	return 1
}
n_workflows=0 n_transitions=0
for id in $ids; do
	grep -qx "$id none" "$TND_TMP/tenants" && continue
	rcl_tenant "$id"
	version=$(rcl_json /metadata/version)
	phase=$(rcl_json /status/phase)

	# the lineage: the desired state of every version
	tnd_curl GET "/v1/tenants/$id/versions?limit=1000"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "lineage of $id"
	mapfile -t desired < <(rcl_json -e /items /version /manifest/spec/state)
	tnd_assert_eq "$version" "${#desired[@]}" "versions in the lineage of $id"
	declare -A state_of=()
	prev=
	for line in "${desired[@]}"; do
		v=${line%%$'\t'*} s=${line#*$'\t'}
		state_of[$v]=$s
		if [ -z "$prev" ]; then
			[ "$s" = active ] || [ "$s" = draft ] || tnd_fail "$id was created $s"
		elif [ "$s" != "$prev" ]; then
			legal_step "$prev" "$s" || tnd_fail "$id: desired state went $prev -> $s at version $v"
		fi
		prev=$s
		checks=$((checks + 1))
	done

	# workflows: terminal, complete, overtaken, realized once
	rcl_workflows "$id"
	while IFS=$'\t' read -r wf kind state target step; do
		n_workflows=$((n_workflows + 1))
		checks=$((checks + 1))
		case $state in
		Succeeded)
			tnd_curl GET "/v1/workflows/$wf"
			tnd_assert_eq "$step" "$(rcl_json -l /steps)" "$wf ($kind of $id) ended before its last step"
			! rcl_json -e /steps /status | grep -qvx succeeded ||
				tnd_fail "$wf ($kind of $id) succeeded with a step that did not: $TND_BODY"
			[ "$target" -le "$version" ] || tnd_fail "$wf realized version $target of $id, which is at $version"
			[ "$kind" = repair ] || echo "$id $target" >>"$TND_TMP/realized"
			;;
		Superseded)
			[ "$target" -lt "$version" ] || tnd_fail "$wf ($kind of $id) superseded, yet it targets the newest version"
			;;
		*) tnd_fail "$wf ($kind of $id) is $state after settling" ;;
		esac
	done < <(rcl_json -e /items /id /kind /state /targetVersion /step)

	# transitions: a chain, each realizing its version's desired state, once
	tnd_curl GET "/v1/tenants/$id/transitions?limit=1000"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "transitions of $id"
	# A version whose desired phase has no direct edge from the current one
	# passes through the phases between (Draft -> Active -> Suspended, Active
	# -> Archived -> Deleted): several transitions at that version, the last
	# one reaching its desired state.
	prev_to=null prev_version=0 via=
	while IFS=$'\t' read -r from to tversion; do
		n_transitions=$((n_transitions + 1))
		checks=$((checks + 1))
		[ "$from" = "$prev_to" ] || tnd_fail "$id: a transition $from -> $to after one to $prev_to"
		[ "$from" != "$to" ] || tnd_fail "$id: a transition $from -> $to"
		if [ "$from" = null ]; then
			tnd_assert_eq "Draft:1" "$to:$tversion" "$id's first transition"
		else
			if [ -n "$via" ]; then
				tnd_assert_eq "$via" "$tversion" "$id: the version of $from -> $to, a step on the way"
			else
				# one transition per version, but for the creation's Draft
				[ "$tversion" -gt "$prev_version" ] ||
					{ [ "$from:$prev_version" = Draft:1 ] && [ "$tversion" = 1 ]; } ||
					tnd_fail "$id: transition $from -> $to at version $tversion after one at $prev_version"
			fi
			if [ "${to,,}" = "${state_of[$tversion]:-?}" ]; then
				via=
			else
				case $to in
				Active | Archived) via=$tversion ;;
				*) tnd_fail "$id: $from -> $to at version $tversion, whose desired state is ${state_of[$tversion]:-?}" ;;
				esac
			fi
			case $from:$to in
			*:Draft | Deleted:* | Archived:Active | Archived:Suspended)
				tnd_fail "$id: the phase went $from -> $to"
				;;
			esac
		fi
		prev_to=$to prev_version=$tversion
	done < <(rcl_json -e /items /from /to /version)
	[ -z "$via" ] || tnd_fail "$id: stopped on the way to ${state_of[$via]} at version $via"
	tnd_assert_eq "$phase" "$prev_to" "$id's last transition leads to its phase"
	unset state_of
done
dups=$(sort "$TND_TMP/realized" | uniq -d)
[ -z "$dups" ] || tnd_fail "versions realized by more than one workflow (tenant version): $dups"
echo "$n_workflows workflows and $n_transitions transitions checked"

tnd_step "no worker of a killed core spoke to its successor"
# A killed core's workers get SIGTERM (PR_SET_PDEATHSIG).  Their goodbye must
# not reach the next core, which binds the same socket and names its own
# workers local-1... alike: it would drop its fresh workers as gone.  Only
# SIGKILL reached workers here, so no core may have heard a goodbye.
goodbyes=$(grep -c 'is gone: it said goodbye' "$TND_DAEMON_LOG")
tnd_assert_eq 0 "$goodbyes" "workers that said goodbye to a core that never asked them to leave"

tnd_step "an op of a killed core's worker never lands after its successor's steps"
# A provision that hashes a new password for over a second (6000000 PBKDF2
# rounds, spent just before the role is written) runs when the core dies.
# The core restarts with the usual cost, provisions again quickly, and the
# tenant is archived and deleted.  A worker that outlived its core would
# write the role after the destroy: a deleted tenant's role, for good.
tnd_daemon_stop
slow=$TND_STATE/slow.conf
sed 's/password_iterations = 200000/password_iterations = 6000000/' "$config" >"$slow"
tnd_daemon_start_config "$slow" >/dev/null
rcl_apply ch-late enterprise dedicated
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT ch-late"
sleep 0.15 # its provision is hashing now
kill -KILL "$TND_PID"
{ wait "$TND_PID"; } 2>/dev/null
TND_PID=
tnd_daemon_start_config "$config" >/dev/null
tnd_curl POST /v1/tenants/ch-late/archive
tnd_assert_eq 200 "$TND_HTTP_STATUS" "archive ch-late after the restart"
tnd_curl DELETE /v1/tenants/ch-late
tnd_assert_eq 200 "$TND_HTTP_STATUS" "delete ch-late after the restart"
rcl_wait_phase ch-late Deleted 120
sleep 3 # longer than the old provision could still take
dir=$TND_STATE/dataplane/eu-west-1
tnd_assert_eq "" "$(rcl_sql "$dir/roles.db" "SELECT name FROM tenancy_roles WHERE name = 't_ch_late'")" \
	"the role of deleted ch-late"
tnd_assert_eq "" "$(find "$dir" -name 't_ch_late.db*')" "the files of deleted ch-late"

tnd_daemon_stop
echo "chaos: $cycles cycles, $requests requests, $core_kills core kills, $worker_kills worker kills," \
	"$checks checks; took $(($(date +%s) - started)) s"
tnd_pass
