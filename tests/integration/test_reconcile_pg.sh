#!/bin/bash
# test_reconcile_pg.sh — the reconcile engine on a real PostgreSQL data plane,
# through the daemon: a throwaway cluster (tests/lib/pgcluster.sh), a
# tenancyd.conf written the way etc/tenancyd.conf documents it (the three
# PostgreSQL isolation plugins, a region whose data_plane names the admin's
# conninfo file, 0600), and the tenants' own logins over TCP with the
# passwords the credentials API hands out.
#
# For each isolation mode (shared, dedicated, hybrid), tenants A and B:
#   * both Active, with status.placement.resources per DESIGN §3;
#   * A logs in with psql and creates, inserts and selects in its own
#     schema/database, and cannot list (information_schema), read or create
#     in B's, nor connect to B's database;
#   * suspend ends A's open session and refuses new logins; resume lets it in
#     again, its data intact;
#   * drift: ALTER ROLE ... LOGIN by hand for the suspended A is undone, and
#     A's schema (its database, for dedicated) dropped by hand is recreated,
#     each within a few resyncs (resync_interval 1 s);
#   * archive: no login, the data still there (as the admin);
#   * delete: no role, schema or database of A left.
# At the end every tenant is deleted and nothing of any remains; no tenant
# password is in the daemon's log or the server's statement log.
#
# SKIP (77) only when the PostgreSQL server binaries are absent.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/reconcile_lib.sh"

tnd_require_cmd curl psql
tnd_setup
started=$(date +%s)

# the cluster lives outside $TND_TMP (0700): its owner, postgres, must reach it
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/tnd-pg-XXXXXX") || tnd_hard_error "mktemp failed"
pgcluster=$top_srcdir/tests/lib/pgcluster.sh
# shellcheck disable=SC2317 # called by the trap
pg_cleanup() {
	local status=$?
	bash "$pgcluster" stop "$pgdir" >/dev/null 2>&1
	if [ "${TND_KEEP:-0}" = 1 ]; then
		echo "kept $pgdir" >&2
	else
		rm -rf "$pgdir"
	fi
	(exit "$status")
	tnd_cleanup
}
trap pg_cleanup EXIT
pg_env=$(bash "$pgcluster" start "$pgdir")
case $? in
0) ;;
77) tnd_skip "no PostgreSQL server binaries" ;;
*) tnd_hard_error "could not start a PostgreSQL cluster" ;;
esac
eval "$pg_env" # PGPORT, PGHOST (the socket directory)
pg_port=$PGPORT pg_socket=$PGHOST
unset PGPORT PGHOST
echo "PostgreSQL up on port $pg_port after $(($(date +%s) - started)) s"

# admin DB SQL — as the cluster's superuser over its socket; rows as a|b
admin() {
	psql "host=$pg_socket port=$pg_port user=tnd_admin dbname=$1" -X -q -A -t -v ON_ERROR_STOP=1 -c "$2" 2>&1 ||
		tnd_fail "admin SQL in $1 failed: $2"
}

# as_tenant ROLE PASSWORD DB SQL — as a tenant over TCP; sets TND_RC, TND_OUT, TND_ERR
as_tenant() {
	tnd_run env PGPASSWORD="$2" PGCONNECT_TIMEOUT=10 psql -X -q -A -t -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$pg_port" -U "$1" -d "$3" -c "$4"
}

rcl_prepare_state "$TND_TMP/state"
config=$TND_STATE/tenancyd.conf
{
	rcl_config_head 2
	cat <<-EOF
		plugins: {
		  storage: { name = "sqlite"; settings: { path = "registry.db"; }; };
		  isolation = (
		    { name = "shared_schema"; },
		    { name = "dedicated_db"; },
		    { name = "hybrid"; }
		  );
		};
		regions = (
		  { name = "pg-1"; residency = "lab";
		    isolation: { shared = "shared_schema"; dedicated = "dedicated_db"; hybrid = "hybrid"; };
		    data_plane: {
		      conninfo_file = "$pgdir/admin.conninfo";
		      shared_database = "tenancy";
		      host_for_tenants = "127.0.0.1";
		      port_for_tenants = $pg_port;
		    };
		  }
		);
		plans = (
		  { code = "pro"; isolation = [ "shared", "dedicated", "hybrid" ]; default_residency = "lab";
		    quotas: { compute_units = 2; storage_gb = 5; events_per_minute = 60; concurrent_operations = 2; }; }
		);
	EOF
} >"$config"
# the PostgreSQL ops open connections and run DDL: more attempts than the
# other tests allow, in case a step meets a lock under load
sed -i 's/max_attempts = 4;/max_attempts = 8;/' "$config"
tnd_assert_eq 600 "$(stat -c %a "$pgdir/admin.conninfo")" "mode of the conninfo file"
tnd_daemon_start_config "$config"

declare -A password
resync_wait=20 # seconds allowed for a repair: a few resyncs of 1 s, under load

# wait_for WHAT COMMAND... — until COMMAND succeeds; prints how long it took.
wait_for() {
	local what=$1 t0
	shift
	t0=$(rcl_now_ms)
	until "$@"; do
		[ $(($(rcl_now_ms) - t0)) -lt $((resync_wait * 1000)) ] || tnd_fail "$what: not within $resync_wait s"
		sleep 0.1
	done
	echo "$what: $(($(rcl_now_ms) - t0)) ms"
}

role_can_login() { # ROLE — t or f, nothing without a role
	admin postgres "SELECT rolcanlogin FROM pg_roles WHERE rolname = '$1'"
}
# shellcheck disable=SC2317 # called through wait_for
schema_exists() { # DB SCHEMA
	[ "$(admin "$1" "SELECT count(*) FROM pg_namespace WHERE nspname = '$2'")" = 1 ]
}
# shellcheck disable=SC2317 # called through wait_for
database_exists() { # DB
	[ "$(admin postgres "SELECT count(*) FROM pg_database WHERE datname = '$1'")" = 1 ]
}
# shellcheck disable=SC2317 # called through wait_for
login_is() { # ROLE t|f
	[ "$(role_can_login "$1")" = "$2" ]
}
# shellcheck disable=SC2317 # called through wait_for
session_open() { # ROLE — it has a session in the cluster
	[ "$(admin postgres "SELECT count(*) FROM pg_stat_activity WHERE usename = '$1'")" -ge 1 ]
}
drift_lines() { # TENANT — "drift on tenant" lines of it in the log so far
	grep -c "drift on tenant $1: " "$TND_DAEMON_LOG"
}

for mode in shared dedicated hybrid; do
	a=pg-$mode-a b=pg-$mode-b
	ra=t_pg_${mode}_a rb=t_pg_${mode}_b
	# where each tenant keeps its data
	case $mode in
	shared) db_a=tenancy db_b=tenancy table_b=$rb.orders ;;
	*) db_a=$ra db_b=$rb table_b=orders ;;
	esac

	tnd_step "$mode: A and B become Active with their resources"
	for id in "$a" "$b"; do
		rcl_apply "$id" pro "$mode"
		tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT $id"
	done
	for id in "$a" "$b"; do
		rcl_wait_phase "$id" Active
		role=t_${id//-/_}
		res=/status/placement/resources
		case $mode in
		shared)
			tnd_assert_eq "tenancy $role" "$(rcl_json $res/database) $(rcl_json $res/schema)" "$id: database and schema"
			;;
		dedicated)
			tnd_assert_eq "$role public" "$(rcl_json $res/database) $(rcl_json $res/schema)" "$id: database and schema"
			;;
		hybrid)
			tnd_assert_eq "tenancy $role $role public" \
				"$(rcl_json $res/control/database) $(rcl_json $res/control/schema) $(rcl_json $res/data/database) $(rcl_json $res/data/schema)" \
				"$id: control and data"
			;;
		esac
		tnd_assert_eq "$role" "$(rcl_json $res/role)" "$id: role"
		tnd_assert_eq "127.0.0.1:$pg_port" "$(rcl_json $res/host):$(rcl_json $res/port)" "$id: host and port"
		tnd_curl GET "/v1/tenants/$id/credentials"
		tnd_assert_eq 200 "$TND_HTTP_STATUS" "credentials of $id"
		tnd_assert_eq "$role" "$(rcl_json /username)" "username of $id"
		password[$id]=$(rcl_json /password)
	done

	tnd_step "$mode: A works in its own schema/database, and B's is out of its reach"
	as_tenant "$rb" "${password[$b]}" "$db_b" \
		"CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders VALUES (1, 'b secret')"
	tnd_assert_rc 0 "B creates its table"
	as_tenant "$ra" "${password[$a]}" "$db_a" \
		"CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders VALUES (1, 'a order'); SELECT item FROM orders"
	tnd_assert_rc 0 "A creates, inserts and selects in its own schema/database"
	tnd_assert_eq "a order" "$TND_OUT" "A reads its row back"
	if [ "$mode" = hybrid ]; then
		as_tenant "$ra" "${password[$a]}" tenancy \
			"CREATE TABLE settings (k text PRIMARY KEY, v text); INSERT INTO settings VALUES ('plan', 'pro'); SELECT v FROM $ra.settings"
		tnd_assert_rc 0 "A uses its control schema in the shared database"
		tnd_assert_eq pro "$TND_OUT" "A's control row"
		as_tenant "$rb" "${password[$b]}" tenancy "CREATE TABLE settings (k text)"
		tnd_assert_rc 0 "B creates in its control schema"
	fi
	if [ "$mode" = dedicated ]; then
		# a database of its own: not even the shared one lets it in
		as_tenant "$ra" "${password[$a]}" tenancy "SELECT 1"
		tnd_assert_rc 2 "A (dedicated) connects to the shared database"
		tnd_assert_contains "$TND_ERR" 'permission denied for database "tenancy"' "why A cannot connect to it"
	else
		as_tenant "$ra" "${password[$a]}" tenancy \
			"SELECT count(*) FROM information_schema.tables WHERE table_schema = '$rb'"
		tnd_assert_rc 0 "A lists tables in the shared database"
		tnd_assert_eq 0 "$TND_OUT" "B's tables A can list (information_schema)"
		as_tenant "$ra" "${password[$a]}" tenancy "SELECT * FROM $rb.$([ "$mode" = shared ] && echo orders || echo settings)"
		tnd_assert_rc 1 "A reads B's table"
		tnd_assert_contains "$TND_ERR" "permission denied for schema $rb" "why A cannot read B's table"
		as_tenant "$ra" "${password[$a]}" tenancy "CREATE TABLE $rb.intruder (x int)"
		tnd_assert_rc 1 "A creates in B's schema"
		tnd_assert_contains "$TND_ERR" "permission denied for schema $rb" "why A cannot create in B's schema"
		as_tenant "$ra" "${password[$a]}" tenancy "CREATE SCHEMA intruder"
		tnd_assert_rc 1 "A creates a schema in the shared database"
	fi
	if [ "$mode" != shared ]; then
		as_tenant "$ra" "${password[$a]}" "$rb" "SELECT item FROM orders"
		tnd_assert_rc 2 "A connects to B's database"
		tnd_assert_contains "$TND_ERR" "permission denied for database \"$rb\"" "why A cannot connect to B's database"
	fi
	tnd_assert_eq "b secret" "$(admin "$db_b" "SELECT item FROM $table_b")" "B's row, untouched"

	tnd_step "$mode: suspend ends A's open session and refuses its logins; resume lets it in"
	PGPASSWORD=${password[$a]} psql -X -q -h 127.0.0.1 -p "$pg_port" -U "$ra" -d "$db_a" \
		-c 'SELECT pg_sleep(60)' >"$TND_TMP/session.out" 2>&1 &
	session=$!
	wait_for "$a's session open" session_open "$ra"
	tnd_curl POST "/v1/tenants/$a/suspend"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "suspend $a"
	rcl_wait_phase "$a" Suspended
	deadline=$(($(date +%s) + 15))
	while kill -0 "$session" 2>/dev/null; do
		[ "$(date +%s)" -lt "$deadline" ] || tnd_fail "$a's open session survived the suspension"
		sleep 0.1
	done
	wait "$session" && tnd_fail "$a's session ended well, though it was cut: $(cat "$TND_TMP/session.out")"
	tnd_assert_contains "$(cat "$TND_TMP/session.out")" "terminat" "how A's session ended"
	tnd_assert_eq f "$(role_can_login "$ra")" "$ra may log in while suspended"
	as_tenant "$ra" "${password[$a]}" "$db_a" "SELECT 1"
	tnd_assert_rc 2 "A logs in while suspended"
	tnd_assert_contains "$TND_ERR" "not permitted to log in" "why A cannot log in"

	tnd_step "$mode: drift: a login enabled by hand for the suspended A is disabled again"
	admin postgres "ALTER ROLE $ra LOGIN" >/dev/null
	wait_for "$a: LOGIN taken back" login_is "$ra" f
	rcl_wait_phase "$a" Suspended
	rcl_workflows "$a"
	last=$(($(rcl_json -l /items) - 1))
	tnd_assert_eq repair "$(rcl_json "/items/$last/kind")" "the newest workflow of $a"
	tnd_assert_contains "$(rcl_json "/items/$last/drift")" "login" "the drift the repair recorded"
	as_tenant "$ra" "${password[$a]}" "$db_a" "SELECT 1"
	tnd_assert_rc 2 "A logs in after the repair"

	tnd_curl POST "/v1/tenants/$a/resume"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "resume $a"
	rcl_wait_phase "$a" Active
	as_tenant "$ra" "${password[$a]}" "$db_a" "SELECT item FROM orders"
	tnd_assert_rc 0 "A logs in after resume"
	tnd_assert_eq "a order" "$TND_OUT" "A's data after suspend and resume"

	tnd_step "$mode: drift: A's schema (or database) dropped by hand is recreated"
	drifts=$(drift_lines "$a")
	case $mode in
	dedicated)
		admin postgres "DROP DATABASE $ra WITH (FORCE)" >/dev/null
		wait_for "$a: database recreated" database_exists "$ra"
		;;
	*)
		admin tenancy "DROP SCHEMA $ra CASCADE" >/dev/null
		wait_for "$a: schema recreated" schema_exists tenancy "$ra"
		;;
	esac
	rcl_wait_phase "$a" Active
	[ "$(drift_lines "$a")" -gt "$drifts" ] || tnd_fail "no 'drift on tenant $a' line for the dropped schema"
	if [ "$mode" = hybrid ]; then
		# the control schema went; the data database kept A's orders
		as_tenant "$ra" "${password[$a]}" tenancy \
			"CREATE TABLE settings (k text PRIMARY KEY, v text); INSERT INTO settings VALUES ('plan', 'rebuilt'); SELECT v FROM settings"
		tnd_assert_rc 0 "A works in its recreated control schema"
		tnd_assert_eq rebuilt "$TND_OUT" "A's row in the recreated control schema"
		kept="a order"
	else
		# the data went with the schema or database; the tenant can build again
		as_tenant "$ra" "${password[$a]}" "$db_a" \
			"CREATE TABLE orders (id int, item text); INSERT INTO orders VALUES (2, 'rebuilt'); SELECT item FROM orders"
		tnd_assert_rc 0 "A works in its recreated schema/database"
		tnd_assert_eq rebuilt "$TND_OUT" "A's row in the recreated schema/database"
		kept=rebuilt
	fi

	tnd_step "$mode: archive: no login, the data kept"
	tnd_curl POST "/v1/tenants/$a/archive"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "archive $a"
	rcl_wait_phase "$a" Archived
	tnd_assert_eq f "$(role_can_login "$ra")" "$ra may log in while archived"
	as_tenant "$ra" "${password[$a]}" "$db_a" "SELECT 1"
	tnd_assert_rc 2 "A logs in while archived"
	if [ "$mode" = shared ]; then
		tnd_assert_eq "$kept" "$(admin tenancy "SELECT item FROM $ra.orders")" "archived A's data, as the admin"
	else
		tnd_assert_eq "$kept" "$(admin "$ra" "SELECT item FROM orders")" "archived A's data, as the admin"
	fi

	tnd_step "$mode: delete: nothing of A is left; B is untouched"
	tnd_curl DELETE "/v1/tenants/$a"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "delete $a"
	rcl_wait_phase "$a" Deleted
	tnd_assert_eq 0 "$(admin postgres "SELECT count(*) FROM pg_roles WHERE rolname = '$ra'")" "$ra in pg_roles"
	tnd_assert_eq 0 "$(admin postgres "SELECT count(*) FROM pg_database WHERE datname = '$ra'")" "$ra in pg_database"
	tnd_assert_eq 0 "$(admin tenancy "SELECT count(*) FROM pg_namespace WHERE nspname = '$ra'")" "$ra in pg_namespace"
	tnd_assert_eq 0 "$(admin postgres "SELECT count(*) FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid WHERE r.rolname = '$ra'")" \
		"what $ra still holds"
	as_tenant "$rb" "${password[$b]}" "$db_b" "SELECT item FROM $table_b"
	tnd_assert_rc 0 "B logs in after A is gone"
	tnd_assert_eq "b secret" "$TND_OUT" "B's data after A is gone"
done

tnd_step "every tenant deleted: nothing of any is left in the cluster"
for mode in shared dedicated hybrid; do
	for verb in archive delete; do
		if [ "$verb" = delete ]; then
			tnd_curl DELETE "/v1/tenants/pg-$mode-b"
		else
			tnd_curl POST "/v1/tenants/pg-$mode-b/$verb"
		fi
		tnd_assert_eq 200 "$TND_HTTP_STATUS" "$verb pg-$mode-b"
		rcl_wait_settled "pg-$mode-b"
	done
done
tnd_assert_eq "" "$(admin postgres "SELECT rolname FROM pg_roles WHERE rolname LIKE 't\_%'")" "tenant roles left"
tnd_assert_eq "" "$(admin postgres "SELECT datname FROM pg_database WHERE datname LIKE 't\_%'")" "tenant databases left"
tnd_assert_eq "" "$(admin tenancy "SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\_%'")" "tenant schemas left"
tnd_curl GET "/v1/workflows?state=Failed"
tnd_assert_eq 0 "$(rcl_json -l /items)" "Failed workflows"

tnd_step "no tenant password in the daemon's log or the server's statement log"
for id in "${!password[@]}"; do
	[ "${#password[$id]}" -ge 32 ] || tnd_fail "$id: a password of ${#password[$id]} characters"
	if grep -qF -- "${password[$id]}" "$TND_DAEMON_LOG" "$pgdir/server.log"; then
		tnd_fail "the password of $id is in $(grep -lF -- "${password[$id]}" "$TND_DAEMON_LOG" "$pgdir/server.log")"
	fi
done
grep -q 'ALTER ROLE' "$pgdir/server.log" || tnd_fail "the server's statement log shows no ALTER ROLE: is it logging?"

tnd_daemon_stop
echo "test_reconcile_pg.sh took $(($(date +%s) - started)) s"
tnd_pass
