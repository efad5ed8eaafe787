#!/bin/bash
# tests/lib/pgcluster.sh — a throwaway PostgreSQL cluster for tests.
#
#   pgcluster.sh start DIR    initdb + start; prints "PGPORT=<port> PGHOST=<socket dir>"
#   pgcluster.sh stop DIR     stop it (harmless when it is not running)
#
# Layout under DIR (created if missing, left owned by the caller):
#   DIR/data/           the cluster (owned by postgres when run as root)
#   DIR/run/            its unix socket directory
#   DIR/server.log      the server's log, statements included (log_statement=all)
#   DIR/admin.conninfo  0600, the caller's: a libpq conninfo for the superuser
#                       tnd_admin over the unix socket
#   DIR/env             PGHOST=... PGPORT=... (what `start` printed)
#
# Authentication (pg_hba.conf): tnd_admin over the unix socket with trust,
# everyone over TCP on 127.0.0.1 with scram-sha-256, nothing else.  So tenant
# roles must log in with their password, over TCP, as a client would.
#
# DIR itself stays the caller's, so the secret file in it passes the daemon's
# ownership checks (tnd_file_check refuses a directory owned by another
# user); only data/ and run/ are handed to postgres.
#
# As root the server binaries run as the postgres user (initdb refuses root).
# Exit statuses: 0 started/stopped; 77 (automake's SKIP) when the PostgreSQL
# server binaries are absent; 1 on any other failure, and also instead of 77
# when TND_REQUIRE_POSTGRES=1 (CI sets it: the PostgreSQL tests must run).
set -euo pipefail

pgc_die() {
	echo "pgcluster: $*" >&2
	exit 1
}

pgc_skip() {
	if [ "${TND_REQUIRE_POSTGRES:-0}" = 1 ]; then
		echo "pgcluster: TND_REQUIRE_POSTGRES=1 but $*" >&2
		exit 1
	fi
	echo "pgcluster: SKIP: $*" >&2
	exit 77
}

# The directory holding initdb and pg_ctl: $PG_BINDIR, pg_config's bindir,
# or the newest /usr/lib/postgresql/*/bin.
pgc_bindir() {
	local d candidates=()

	[ -n "${PG_BINDIR:-}" ] && candidates+=("$PG_BINDIR")
	if command -v pg_config >/dev/null 2>&1; then
		candidates+=("$(pg_config --bindir 2>/dev/null || true)")
	fi
	while read -r d; do
		candidates+=("$d")
	done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5 -n -r)
	for d in "${candidates[@]}"; do
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# Run a server binary as the cluster's owner.
pgc_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pgc_port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pgc_start() {
	local dir=$1 bindir port
	local data run log

	bindir=$(pgc_bindir) || pgc_skip "no PostgreSQL server binaries (install postgresql)"
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		pgc_skip "running as root needs a postgres user to own the cluster"
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	data=$dir/data
	run=$dir/run
	log=$dir/server.log
	[ -e "$data" ] && pgc_die "$data exists already"
	# postgres must be able to reach data/ and run/ through DIR
	chmod 0755 "$dir"
	mkdir -m 0700 "$data" "$run"
	: >"$log"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$data" "$run" "$log"
		runuser -u postgres -- test -x "$dir" ||
			pgc_die "$dir: the postgres user cannot reach it (a parent directory is private)"
	fi

	pgc_as_owner "$bindir/initdb" -D "$data" --username=tnd_admin --auth-local=trust \
		--auth-host=scram-sha-256 --encoding=UTF8 --locale=C --no-sync --no-instructions \
		>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; pgc_die "initdb failed"; }
	pgc_as_owner tee "$data/pg_hba.conf" >/dev/null <<-EOF
		# written by tests/lib/pgcluster.sh
		local all tnd_admin trust
		host all all 127.0.0.1/32 scram-sha-256
	EOF

	for _ in 1 2 3 4 5 6 7 8; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		pgc_port_in_use "$port" && continue
		# settings for a disposable cluster: no durability, small, every
		# statement logged so tests can prove what never reaches the server
		pgc_as_owner tee "$data/postgresql.auto.conf" >/dev/null <<-EOF
			listen_addresses = '127.0.0.1'
			port = $port
			unix_socket_directories = '$run'
			fsync = off
			synchronous_commit = off
			full_page_writes = off
			shared_buffers = 32MB
			max_connections = 60
			password_encryption = 'scram-sha-256'
			log_statement = 'all'
			log_connections = on
			log_line_prefix = '%m [%p] %u@%d '
		EOF
		if pgc_as_owner "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null 2>&1; then
			(
				umask 077
				printf 'host=%s port=%s user=tnd_admin dbname=postgres\n' "$run" "$port" >"$dir/admin.conninfo"
			)
			printf 'PGPORT=%s PGHOST=%s\n' "$port" "$run" | tee "$dir/env"
			return 0
		fi
		# most likely someone took the port between the check and the bind
		grep -q 'Address already in use\|could not create any TCP/IP sockets' "$log" || break
	done
	tail -n 20 "$log" >&2
	pgc_die "the server did not start"
}

pgc_stop() {
	local dir=$1 bindir

	[ -f "$dir/data/postmaster.pid" ] || return 0
	bindir=$(pgc_bindir) || pgc_die "no PostgreSQL server binaries"
	pgc_as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null ||
		pgc_as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
}

case "${1:-}:${2:-}" in
start:?*) pgc_start "$2" ;;
stop:?*) pgc_stop "$2" ;;
*)
	echo "usage: $0 start DIR | stop DIR" >&2
	exit 2
	;;
esac
