#!/usr/bin/env bash
# Runs that wait, on PostgreSQL with two nodes: a run that waits on one
# node is signalled through the other, which takes it from the store and
# finishes it; a sleeper that node A put in the store alone wakes at its
# time on node B after A is killed. Skipped when the PostgreSQL binaries
# are missing or the build has no PostgreSQL support.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-180}
export ORC_TEST_TIMEOUT
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/serve-lib.sh"
. "$HERE/pg-lib.sh"

pg_need_support
# Short leases: the nodes look for due sleepers at least every half lease.
export ORCH_LEASE_MS=2000
trap 'pg_nodes_cleanup; serve_cleanup; pg_cleanup; lib_cleanup' EXIT
pg_start || finish
DB=$ORCH_TEST_PG_URL

# A run that waits for a signal to its step "ask" (a minute at most).
cp "$TOP_SRCDIR/tests/data/waiting/approve.json" "$WF/"
cat >"$WF/sleepy.json" <<'JSON'
{ "name": "sleepy",
  "trigger": { "webhook": { "path": "/hooks/sleepy" } },
  "steps": [ { "name": "nap", "uses": "wait", "with": { "ms": 11000 } } ] }
JSON
J=(-H 'Content-Type: application/json')
state() { pg_sql "SELECT state FROM runs WHERE id = '$1'"; }

serve_start --log-level info || finish
A_PID=$SERVE_PID A_URL=$URL
PIDS+=("$A_PID")
SERVE_PID=
serve_start --log-level info || finish
B_URL=$URL
PIDS+=("$SERVE_PID")

URL=$A_URL
req POST /hooks/approve "${J[@]}" -d '{"order": 1}'
expect_code "node A takes the trigger" 202
id=$(body 'd["run_id"]')
req POST /hooks/sleepy "${J[@]}" -d '{}'
far=$(body 'd["run_id"]')
expect_true "the sleeper waits" wait_eq 10 waiting state "$far"
expect_eq "the other run waits too" waiting "$(state "$id")"
expect_eq "nobody holds the sleepers" "" \
    "$(pg_sql "SELECT lease_owner FROM runs WHERE id = '$far'")"

# Node B takes the signal for a run node A put to sleep.
URL=$B_URL
req POST "/runs/$id/signals/ask" "${J[@]}" -d '{"via": "B"}'
expect_code "node B delivers the signal" 200
expect_true "the run succeeds" wait_eq 10 succeeded state "$id"
req POST "/runs/$id/signals/ask" "${J[@]}" -d '{}'
expect_code "a second signal, on node B" 409

# Node A dies; node B wakes A's sleeper at its time.
kill -9 "$A_PID"
expect_true "B wakes the sleeper" wait_eq 20 succeeded state "$far"
took=$(pg_sql "SELECT finished_at - created_at FROM runs WHERE id = '$far'")
expect_true "at its time ($took ms)" test "$took" -ge 11000 -a "$took" -lt 14000

finish
