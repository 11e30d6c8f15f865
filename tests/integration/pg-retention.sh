#!/usr/bin/env bash
# Retention and prune on PostgreSQL (issue 20): the daemon deletes the
# runs of a workflow with "retention": "1s" and keeps the others
# (ORCH_RETENTION=forever), run_counts following; `orchestrator prune`
# on the URL counts with --dry-run and deletes by filter beside the
# running daemon; `orchestrator backup` says to use pg_dump. Skipped
# without PostgreSQL.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/serve-lib.sh"
. "$HERE/pg-lib.sh"

pg_need_support
pg_start || finish
DB=$ORCH_TEST_PG_URL

for w in brief kept; do
	cat >"$WF/$w.json" <<EOF
{
  "name": "$w",
  "trigger": { "webhook": { "path": "/hooks/$w", "mode": "async" } },
  $([ $w = brief ] && echo '"retention": "1s",')
  "steps": [ { "name": "shape", "uses": "transform",
    "with": { "i": "{{input.i}}" } } ]
}
EOF
done
# wait_pg QUERY VALUE: until QUERY gives VALUE (bounded: 15 s).
wait_pg() {
	wait_eq 15 "$2" pg_sql "$1"
}
post() {
	timeout 60 python3 "$HERE/post-hooks.py" 127.0.0.1 "$SERVE_PORT" \
	    "/hooks/$1" "$2"
}

ORCH_RETENTION=forever serve_start --access-log off || finish
expect_eq "10 runs of brief" 10 "$(post brief 10)"
expect_eq "10 runs of kept" 10 "$(post kept 10)"
expect_true "brief's runs go after a second" wait_pg \
    "SELECT count(*) FROM runs WHERE workflow = 'brief'" 0
expect_true "kept's finish" wait_pg \
    "SELECT count(*) FROM runs WHERE workflow = 'kept' AND
    state = 'succeeded'" 10
expect_eq "their steps and transitions went" 0 \
    "$(pg_sql "SELECT (SELECT count(*) FROM steps WHERE run_id NOT IN
    (SELECT id FROM runs)) + (SELECT count(*) FROM transitions WHERE
    run_id NOT IN (SELECT id FROM runs))")"
expect_eq "run_counts followed" 0 \
    "$(pg_sql "SELECT coalesce(sum(n), 0) FROM run_counts WHERE
    workflow = 'brief'")"
req GET /metrics
expect_contains "/metrics counts them" "$BODY" \
    "orchestrator_store_runs_deleted_total 10"

expect_exit 0 orch prune --db "$DB" --dry-run
expect_eq "prune --dry-run on PostgreSQL" "would delete 10 finished runs" \
    "$(out)"
expect_exit 0 orch prune --db "$DB" --workflow brief
expect_eq "--workflow brief: none left" "deleted 0 finished runs" "$(out)"
expect_exit 0 orch prune --db "$DB" --workflow kept --state succeeded
expect_eq "prune by filter beside the daemon" "deleted 10 finished runs" \
    "$(out)"
expect_eq "no run is left" 0 "$(pg_sql "SELECT count(*) FROM runs")"
expect_eq "nor counted" 0 \
    "$(pg_sql "SELECT coalesce(sum(n), 0) FROM run_counts")"
expect_exit 1 orch backup --db "$DB" "$T/copy.db"
expect_contains "backup says pg_dump" "$(err)" "backed up with pg_dump"
req GET /healthz
expect_code "the daemon is healthy after all that" 200
serve_stop
expect_eq "the daemon drained" 0 "$SERVE_RC"

finish
