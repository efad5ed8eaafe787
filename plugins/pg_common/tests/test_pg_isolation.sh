#!/bin/sh
# test_pg_isolation.sh — start a throwaway PostgreSQL cluster
# (tests/lib/pgcluster.sh), run the isolation plugins' cmocka program
# against it, stop it.  SKIP (77) when the server binaries are absent.
#
#   PGISO_TEST_RUNNER   prefix for the program, e.g.
#                       "$top_builddir/libtool --mode=execute valgrind -q --error-exitcode=1 ..."
#   PGISO_KEEP=1        keep the cluster's directory (its server.log) afterwards
set -u
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
harness="$srcdir/tests/lib/pgcluster.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/tnd-pg-XXXXXX") || exit 99
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	bash "$harness" stop "$dir"
	if [ "${PGISO_KEEP:-0}" = 1 ]; then
		echo "kept $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT

t0=$(date +%s%N)
env=$(bash "$harness" start "$dir")
rc=$?
[ $rc -eq 77 ] && exit 77
if [ $rc -ne 0 ]; then
	echo "FAIL: could not start a PostgreSQL cluster" >&2
	exit 99
fi
eval "$env"
export PGHOST PGPORT
export PGISO_CONNINFO_FILE="$dir/admin.conninfo" PGISO_SERVER_LOG="$dir/server.log"
t1=$(date +%s%N)
echo "cluster up in $(( (t1 - t0) / 1000000 )) ms: $env"

# shellcheck disable=SC2086 # the runner is a command line
${PGISO_TEST_RUNNER:-} "$builddir/plugins/pg_common/tests/test_pg_isolation"
rc=$?
t2=$(date +%s%N)
echo "tests ran in $(( (t2 - t1) / 1000000 )) ms (exit $rc)"
if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
	echo "--- the server's last errors ($dir/server.log):"
	grep -E 'ERROR|FATAL|PANIC|WARNING' "$dir/server.log" | tail -n 40
fi
exit $rc
