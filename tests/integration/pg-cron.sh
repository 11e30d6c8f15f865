#!/usr/bin/env bash
# Cron triggers with several nodes on one PostgreSQL database (issues 8 and
# 9): two `orchestrator serve` daemons share the database and the test
# clock (ORCH_TEST_CLOCK_FILE), both load the same workflow with a cron
# trigger firing every minute. Each fire must start one run, not one per
# node: only the node holding the scheduler's lock fires. When that node
# is killed, the other takes over and fires the next minutes, without
# firing again the minutes the first one already fired.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/serve-lib.sh"
. "$HERE/pg-lib.sh"

pg_need_support
trap 'pg_nodes_cleanup; serve_cleanup; pg_cleanup; lib_cleanup' EXIT

pg_start || finish
DB=$ORCH_TEST_PG_URL
test_clock_init

# nruns: how many runs the cron workflow has, and how many distinct fire
# times they were started for ("RUNS FIRES").
nruns() {
	pg_sql "SELECT count(*) || ' ' || count(DISTINCT idempotency_key)
	    FROM runs WHERE workflow = 'tick'"
}

# wait_runs N: waits (at most 10 s) until the workflow has N runs.
wait_runs() {
	local i
	for i in $(seq 1 100); do
		[ "$(nruns | cut -d' ' -f1)" -ge "$1" ] && break
		sleep 0.1
	done
}

cat >"$WF/tick.json" <<'JSON'
{
  "name": "tick",
  "trigger": { "cron": { "schedule": "* * * * *", "overlap": "allow" } },
  "steps": [
    { "name": "shape", "uses": "transform",
      "with": { "at": "{{trigger.scheduled_at}}" } }
  ]
}
JSON

clock 0 30
for k in 1 2; do
	serve_start --log-level info || finish
	PIDS+=("$SERVE_PID")
done
expect_eq "two nodes up" 2 "${#PIDS[@]}"

# Three minutes pass: three fires, one run each, on whichever node leads.
for m in 1 2 3; do
	clock "$m" 1
	wait_runs "$m"
done
sleep 1.5
expect_eq "3 fires on 2 nodes: 3 runs for 3 fire times" "3 3" "$(nruns)"
# fired K [MS]: whether node K's log says it started a fire (the fire at
# MS, when given).
fired() {
	grep -q "sched_start: workflow tick: fire at ${2:-}" \
	    "$T/serve-$(($1 + 1)).log"
}
leader=
for k in 0 1; do
	fired "$k" && leader="$leader $k"
done
leader=${leader# }
expect_eq "one node fired" 1 "$(echo $leader | wc -w)"
[ "$(echo $leader | wc -w)" = 1 ] || finish

# The leader dies; the other node fires the next minutes, once each.
kill -9 "${PIDS[$leader]}"
wait "${PIDS[$leader]}" 2>/dev/null
for m in 4 5; do
	clock "$m" 1
	wait_runs "$((m))"
done
sleep 1.5
expect_eq "after the leader's death: 5 runs for 5 fire times" "5 5" \
    "$(nruns)"
other=$((1 - leader))
expect_eq "the other node took over" yes \
    "$(fired "$other" $((T0 + 4 * MIN)) && echo yes)"
expect_eq "every run succeeded" 5 \
    "$(pg_sql "SELECT count(*) FROM runs WHERE workflow = 'tick'
        AND state = 'succeeded'")"
finish
