#!/usr/bin/env bash
# The data lifecycle on SQLite (issue 20). `orchestrator prune` beside a
# running server: every filter, --dry-run, usage errors naming the option,
# blob files going with their runs (and only theirs) but dead letters
# staying, a prune during a burst of webhooks that deletes no live run.
# Then the daemon's retention: a workflow's "retention" deletes its runs,
# the default (ORCH_RETENTION) applies to the others, "forever" keeps, and
# a run keeps the retention of the definition it ran with after the file
# changes; /metrics counts the deletions (and the dashboard through --url
# shows the size it gives).
# Bad values are refused naming the file or the variable.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/serve-lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"

# sql QUERY: one value from the database, beside the daemon.
sql() {
	sqlite_q "$DB" "$1"
}
# runs_of WORKFLOW: its runs in the database.
runs_of() {
	sql "SELECT count(*) FROM runs WHERE workflow = '$1'"
}
# wait_sql QUERY VALUE [SECONDS]: until QUERY gives VALUE (bounded).
wait_sql() {
	wait_eq "${3:-20}" "$2" sql "$1"
}
# post PATH N: N async webhooks; prints the 202s.
post() {
	timeout 90 python3 "$here/post-hooks.py" 127.0.0.1 "$SERVE_PORT" \
	    "/hooks/$1" "$2"
}
# metric NAME: one value of GET /metrics.
metric() {
	curl -s --max-time 5 "$URL/metrics" | awk -v m="$1" '
	    $1 == m { n = $2 } END { print n + 0 }'
}
# The distinct blob references the rows hold.
blob_refs() {
	sql "SELECT count(*) FROM (SELECT input v FROM runs UNION SELECT
	    trigger FROM runs UNION SELECT output FROM runs UNION SELECT
	    output FROM steps) WHERE v LIKE '{\"\$blob\":%'"
}
blob_files() {
	ls "$T/blobs" 2>/dev/null | wc -l
}
FINAL="state IN ('succeeded', 'failed', 'cancelled')"

# wf NAME RETENTION STEP: an async workflow (RETENTION "" for none)
# whose output is large enough to be a blob (ORCH_BLOB_BYTES below).
wf() {
	cat >"$WF/$1.json" <<EOF
{
  "name": "$1",
  "trigger": { "webhook": { "path": "/hooks/$1", "mode": "async" } },
  ${2:+\"retention\": \"$2\",}
  "steps": [
    { "name": "pad", "uses": "transform", "with": { "i": "{{input.i}}",
      "pad": "................................................{{input.i}}" } },
    { "name": "last", "uses": "$3", "retry": { "max_attempts": 1 } }
  ]
}
EOF
}
wf a "" json.encode
# b fails, and its on_failure writes a dead letter: user data, kept.
cat >"$WF/b.json" <<'EOF'
{
  "name": "b",
  "trigger": { "webhook": { "path": "/hooks/b", "mode": "async" } },
  "allow": { "buckets": ["dead-letters"] },
  "steps": [
    { "name": "last", "uses": "base64.decode",
      "retry": { "max_attempts": 1 } }
  ],
  "on_failure": { "uses": "bucket.put",
    "with": { "bucket": "dead-letters", "key": "b/{{run.id}}.json" } }
}
EOF
wf keep forever json.encode
wf short 1s json.encode

# Validation names the file, line and column; the daemon names the
# variable.
cp "$WF/a.json" "$T/bad.json"
sed -i 's/"name": "a",/"name": "a", "retention": "7 days",/' "$T/bad.json"
expect_exit 1 orch validate "$T/bad.json"
expect_contains "a bad retention is refused at its place" "$(err)" \
    "bad.json:2:16: retention: \"7 days\" is not a duration"
ORCH_RETENTION=soon expect_exit 1 orch serve --workflows "$WF" --db "$DB" \
    --listen 127.0.0.1:0
expect_contains "a bad ORCH_RETENTION is refused" "$(err)" \
    "ORCH_RETENTION \"soon\" is not a duration"

# 1. prune, with nothing deleted by retention meanwhile.
export ORCH_BLOB_BYTES=64
ORCH_RETENTION=forever serve_start --access-log off || finish
expect_eq "20 runs of a" 20 "$(post a 20)"
expect_eq "10 runs of b" 10 "$(post b 10)"
expect_eq "5 runs of keep" 5 "$(post keep 5)"
expect_true "all 35 are final" wait_sql \
    "SELECT count(*) FROM runs WHERE $FINAL" 35
expect_eq "b's runs failed" 10 \
    "$(sql "SELECT count(*) FROM runs WHERE workflow = 'b' AND
    state = 'failed'")"
before=$(blob_files)
expect_eq "outputs went to blob files" True \
    "$([ "$before" -ge 40 ] && echo True || echo False)"

expect_exit 2 orch prune --db "$DB" --state running
expect_contains "--state must be final" "$(err)" \
    "--state: \"running\" is not a finished state"
expect_exit 2 orch prune --db "$DB" --older-than 7y
expect_contains "--older-than must be a duration" "$(err)" \
    "--older-than: \"7y\" is not a duration"
expect_exit 0 orch prune --db "$DB" --dry-run
expect_eq "the dry run counts them all" "would delete 35 finished runs" \
    "$(out)"
expect_eq "and deletes none" 35 "$(sql 'SELECT count(*) FROM runs')"
expect_exit 0 orch prune --db "$DB" --older-than 1h
expect_eq "none is an hour old" "deleted 0 finished runs" "$(out)"
expect_exit 0 orch prune --db "$DB" --workflow b --dry-run
expect_eq "--workflow" "would delete 10 finished runs" "$(out)"
expect_exit 0 orch prune --db "$DB" --state failed
expect_eq "--state failed" "deleted 10 finished runs" "$(out)"
expect_eq "b has no runs left" 0 "$(runs_of b)"
expect_eq "their dead letters stay" 10 \
    "$(ls "$T/buckets/dead-letters/b" 2>/dev/null | wc -l)"
sleep 1.1
expect_exit 0 orch prune --db "$DB" --workflow a --state succeeded \
    --older-than 1s
expect_eq "--workflow --state --older-than" "deleted 20 finished runs" \
    "$(out)"
expect_eq "a has no runs left" 0 "$(runs_of a)"
expect_eq "their steps and transitions went too" 0 \
    "$(sql "SELECT (SELECT count(*) FROM steps WHERE run_id NOT IN
    (SELECT id FROM runs)) + (SELECT count(*) FROM transitions WHERE
    run_id NOT IN (SELECT id FROM runs))")"
expect_eq "keep's are still there" 10 "$(sql "SELECT count(*) FROM steps")"
after=$(blob_files)
expect_eq "blob files went with their runs" True \
    "$([ "$after" -lt "$before" ] && echo True || echo False)"
expect_eq "and only theirs: one file per reference left" "$(blob_refs)" \
    "$after"

# A prune during a burst: no live run is touched, nothing waits long.
post a 300 >"$T/posted" &
poster=$!
for i in 1 2 3 4 5; do
	orch prune --db "$DB" --workflow a >>"$T/pruned" 2>&1 ||
	    echo "prune failed" >>"$T/pruned"
	sleep 0.1
done
wait "$poster"
expect_eq "the burst was accepted" 300 "$(cat "$T/posted")"
expect_not_contains "every prune succeeded" "$(cat "$T/pruned")" \
    "failed"
expect_true "the burst's runs all finish" wait_sql \
    "SELECT count(*) FROM runs WHERE NOT $FINAL" 0
expect_not_contains "no run was deleted under the daemon" \
    "$(cat "$SERVE_LOG")" "not found"
expect_eq "and none failed" 0 \
    "$(sql "SELECT count(*) FROM runs WHERE workflow = 'a' AND
    state <> 'succeeded'")"
req GET /metrics
expect_contains "/metrics has the store's size" "$BODY" \
    "orchestrator_store_bytes "
expect_contains "and the oldest finished run's age" "$BODY" \
    "orchestrator_oldest_finished_run_age_seconds "
COLUMNS=120 expect_exit 0 orch dashboard --once --url "$URL"
expect_true "the dashboard's title shows the size /metrics gives" \
    grep -Eq 'store [0-9.]+[KMG]  [0-9:]+Z' "$OUT"
serve_stop
expect_eq "the daemon drained" 0 "$SERVE_RC"

# 2. Retention: short's 1 s, the default (1 h) for a, forever for keep.
orch prune --db "$DB" --workflow a >/dev/null
ORCH_RETENTION=1h serve_start --access-log off || finish
expect_eq "10 runs of short" 10 "$(post short 10)"
expect_eq "10 runs of a" 10 "$(post a 10)"
expect_true "short's runs go once a second old" wait_sql \
    "SELECT count(*) FROM runs WHERE workflow = 'short'" 0 15
expect_true "a's finish" wait_sql \
    "SELECT count(*) FROM runs WHERE workflow = 'a' AND $FINAL" 10
sleep 1.5
expect_eq "a's stay (the default is 1 h)" 10 "$(runs_of a)"
expect_eq "keep's stay" 5 "$(runs_of keep)"
expect_eq "/metrics counts the deletions" 10 \
    "$(metric orchestrator_store_runs_deleted_total)"
# keep now says 1 s: its new runs go, its old ones ran with "forever".
wf keep 1s json.encode
kill -HUP "$SERVE_PID"
sleep 0.5
expect_eq "3 new runs of keep" 3 "$(post keep 3)"
expect_true "keep's new runs go" wait_sql \
    "SELECT count(*) FROM runs WHERE workflow = 'keep'" 5 15
sleep 1.5
expect_eq "its old runs keep their definition's retention" 5 \
    "$(runs_of keep)"
serve_stop
expect_eq "the daemon drained" 0 "$SERVE_RC"

finish
