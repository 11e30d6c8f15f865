#!/usr/bin/env bash
# Fencing on PostgreSQL (issue 24): two `orchestrator serve` nodes share a
# database with short leases. Node A starts runs whose step waits; A is
# stopped (SIGSTOP) past its lease mid-step, node B takes the runs over
# and runs the step again, then A is continued (SIGCONT) while B works.
# A's step then ends, and A tries to commit it with the lease token it
# had: the store refuses, A drops the runs (one log line each, counted by
# orchestrator_runs_lost_total) and writes nothing more of them. Each run
# succeeds once, with one success of its waiting step: B's.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/serve-lib.sh"
. "$HERE/pg-lib.sh"

pg_need_support
export ORCH_LEASE_MS=1500
trap 'kill -CONT "${PIDS[@]}" 2>/dev/null; pg_nodes_cleanup; serve_cleanup;
    pg_cleanup; lib_cleanup' EXIT

pg_start || finish
DB=$ORCH_TEST_PG_URL

cat >"$WF/nap.json" <<'JSON'
{
  "name": "nap",
  "trigger": { "webhook": { "path": "/hooks/nap", "mode": "async" } },
  "steps": [
    { "name": "nap", "uses": "wait", "with": { "ms": 4000, "durable": false } },
    { "name": "shape", "uses": "transform", "with": { "done": true } }
  ]
}
JSON

serve_start --log-level info || finish
PIDS+=("$SERVE_PID")
A=$SERVE_PID
A_URL=$URL
A_LOG=$SERVE_LOG
SERVE_PID=
serve_start --log-level info || finish
PIDS+=("$SERVE_PID")
B=$SERVE_PID
SERVE_PID=

URL=$A_URL
for n in 1 2 3; do
	req POST /hooks/nap -H 'Content-Type: application/json' -d "{}"
	expect_eq "trigger $n on node A" 202 "$CODE"
done

# q SQL: one value from the database.
q() { pg_sql "$1"; }
# wait_q DESC SECONDS WANT SQL: waits (bounded) until SQL gives WANT.
wait_q() {
	wait_eq "$2" "$3" q "$4"
	expect_eq "$1" "$3" "$(q "$4")"
}

wait_q "A runs the three naps" 10 3 "SELECT count(*) FROM runs WHERE
    state = 'running' AND step = 'nap' AND lease_owner LIKE '%:$A:%'"
kill -STOP "$A"
wait_q "B takes the three runs over" 10 3 "SELECT count(*) FROM runs
    WHERE lease_owner LIKE '%:$B:%'"
kill -CONT "$A"

LOST='another process took its lease over; dropped'
wait_eq 10 3 grep -c "$LOST" "$A_LOG"
expect_eq "A drops the three runs" 3 "$(grep -c "$LOST" "$A_LOG")"
wait_q "every run succeeds" 15 3 "SELECT count(*) FROM runs WHERE
    state = 'succeeded'"
sleep 1
# Transitions store states and events as codes (orchestrator/store-row.h):
# state 3 succeeded, event 3 step_succeeded, 17 resumed.
expect_eq "one success per run" "3 3" \
    "$(q "SELECT count(*) || ' ' || count(DISTINCT run_id) FROM
        transitions WHERE to_state = 3")"
expect_eq "one success of the waiting step per run" 3 \
    "$(q "SELECT count(*) FROM transitions WHERE event = '3'
        AND step = 'nap'")"
expect_eq "B resumed each run once" 3 \
    "$(q "SELECT count(*) FROM transitions WHERE event = '17'")"
URL=$A_URL
req GET /metrics
expect_contains "A counts the runs it lost" "$BODY" \
    "orchestrator_runs_lost_total 3"
expect_contains "A runs nothing now" "$BODY" "orchestrator_runs_active 0"
expect_true "both nodes are still up" kill -0 "$A" "$B"
finish
