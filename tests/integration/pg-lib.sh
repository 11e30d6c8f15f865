# A throwaway PostgreSQL server for the tests of the PostgreSQL store,
# sourced by tests/integration/pg-*.sh and store-pg.sh after lib.sh (and
# serve-lib.sh when the test drives the daemon).
#
# - pg_start makes a cluster with initdb in a temp folder of its own
#   (/tmp/orc-test-pg-XXXXXX: as root the server runs as the postgres
#   user, which must be able to enter it), starts it on a free loopback
#   port with its unix socket in that folder, creates the database
#   orc_test and exports ORCH_TEST_PG_URL (postgresql://orc@127.0.0.1:PORT/
#   orc_test, trust authentication, no password). Bounded: PG_START_TIMEOUT
#   seconds (default 30).
# - The server is stopped (immediate mode) and its folder removed when the
#   test exits, and also by a watchdog when the test itself is killed.
# - pg_sql SQL runs SQL with psql on that database and prints the rows
#   unaligned, without headers.
# - Skips (77) when the PostgreSQL binaries are missing (PG_BINDIR, or the
#   newest /usr/lib/postgresql/*/bin).
# - fsync is off unless PG_FSYNC=on: the tests do not pull the plug, and
#   the benchmark sets it on.
# - pg_need_support skips (77) when the daemon was built without libpq.
# - pg_nodes_cleanup kills (-9) every daemon whose pid is in PIDS, for the
#   tests that run several nodes; call it first in the EXIT trap.

PG_BINDIR=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null |
    sort -V | tail -n 1)}
if [ -z "$PG_BINDIR" ] || [ ! -x "$PG_BINDIR/initdb" ] ||
    [ ! -x "$PG_BINDIR/pg_ctl" ] || [ ! -x "$PG_BINDIR/postgres" ]; then
	skip "PostgreSQL server binaries not found (apt-get install" \
	    "postgresql, or set PG_BINDIR)"
fi
command -v psql >/dev/null || [ -x "$PG_BINDIR/psql" ] ||
    skip "psql not found (apt-get install postgresql-client)"
PSQL=$PG_BINDIR/psql
[ -x "$PSQL" ] || PSQL=$(command -v psql)

PG_DIR=
PG_PORT=
PG_RUN=()
PG_WATCHDOG=

# As root, the server refuses to run: its commands run as postgres.
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 ||
	    skip "running as root and there is no postgres user"
	command -v runuser >/dev/null || skip "runuser(1) is not installed"
	PG_RUN=(runuser -u postgres --)
fi

# A free loopback port (another process may take it before the server
# does: pg_start tries again then).
pg_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Stops the server and removes its folder; harmless when none runs.
pg_cleanup() {
	if [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ]; then
		if [ -f "$PG_DIR/data/postmaster.pid" ]; then
			timeout 20 "${PG_RUN[@]}" "$PG_BINDIR/pg_ctl" \
			    -D "$PG_DIR/data" -m immediate -w stop \
			    >/dev/null 2>&1
		fi
		rm -rf -- "$PG_DIR"
	fi
	if [ -n "$PG_WATCHDOG" ]; then
		kill "$PG_WATCHDOG" 2>/dev/null
		wait "$PG_WATCHDOG" 2>/dev/null
	fi
	PG_DIR=
	PG_WATCHDOG=
}

if declare -F serve_cleanup >/dev/null; then
	trap 'serve_cleanup; pg_cleanup; lib_cleanup' EXIT
else
	trap 'pg_cleanup; lib_cleanup' EXIT
fi

# Starts the watchdog: should this shell die without its EXIT trap (the
# global timeout's SIGKILL), it stops the server and removes the folder.
pg_watchdog() {
	local me=$$ dir=$PG_DIR
	(
		trap '' TERM INT HUP
		exec >/dev/null 2>&1 </dev/null
		while kill -0 "$me" 2>/dev/null && [ -d "$dir" ]; do
			sleep 1
		done
		[ -d "$dir" ] || exit 0
		timeout 20 "${PG_RUN[@]}" "$PG_BINDIR/pg_ctl" \
		    -D "$dir/data" -m immediate -w stop
		rm -rf -- "$dir"
	) &
	PG_WATCHDOG=$!
	disown "$PG_WATCHDOG" 2>/dev/null
	# The EXIT trap must not wait on a disowned job: kill it by pid.
}

# pg_start: see above. Returns 1 (and counts a failure) when the server
# does not come up.
pg_start() {
	local tries t0=${PG_START_TIMEOUT:-30}
	PG_DIR=$(mktemp -d /tmp/orc-test-pg-XXXXXX) ||
	    hard_error "cannot make a temp dir for PostgreSQL"
	chmod 755 "$PG_DIR"
	[ ${#PG_RUN[@]} -eq 0 ] || chown postgres: "$PG_DIR"
	pg_watchdog
	if ! timeout "$t0" "${PG_RUN[@]}" "$PG_BINDIR/initdb" \
	    -D "$PG_DIR/data" -U orc -A trust -E UTF8 --locale=C \
	    --no-sync >"$PG_DIR/initdb.log" 2>&1; then
		fail "initdb failed: $(tail -n 5 "$PG_DIR/initdb.log")"
		return 1
	fi
	for tries in 1 2 3; do
		PG_PORT=$(pg_free_port)
		if timeout "$t0" "${PG_RUN[@]}" "$PG_BINDIR/pg_ctl" \
		    -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t "$t0" \
		    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 \
		    -c fsync=${PG_FSYNC:-off} -c max_connections=100" \
		    start >"$PG_DIR/pg_ctl.log" 2>&1; then
			break
		fi
		PG_PORT=
	done
	if [ -z "$PG_PORT" ]; then
		fail "PostgreSQL did not start: $(tail -n 5 \
		    "$PG_DIR/server.log" 2>/dev/null)"
		return 1
	fi
	if ! timeout "$t0" "$PSQL" -X -q -h 127.0.0.1 -p "$PG_PORT" -U orc \
	    -d postgres -c "CREATE DATABASE orc_test" >/dev/null 2>&1; then
		fail "cannot create the database orc_test"
		return 1
	fi
	ORCH_TEST_PG_URL=postgresql://orc@127.0.0.1:$PG_PORT/orc_test
	export ORCH_TEST_PG_URL
	return 0
}

# pg_need_support: see above.
pg_need_support() {
	if "$ORCH_BIN" runs --db postgresql://127.0.0.1:1/x 2>&1 |
	    grep -q "built without PostgreSQL support"; then
		skip "built without PostgreSQL support"
	fi
}

PIDS=()
# pg_nodes_cleanup: see above.
pg_nodes_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}

# pg_sql SQL: see above.
pg_sql() {
	timeout "$ORC_CMD_TIMEOUT" "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 \
	    -d "$ORCH_TEST_PG_URL" -c "$1"
}
