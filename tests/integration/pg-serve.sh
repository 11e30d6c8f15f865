#!/usr/bin/env bash
# The daemon on PostgreSQL (SPEC section 3): `orchestrator serve --db
# postgresql://...` on a server this test starts (pg-lib.sh) answers
# webhooks, sync and async, with an idempotency key; the runs complete and
# are in the database; `orchestrator runs` and `show` read them there; a
# restart on the same database takes over the runs a SIGKILL left
# unfinished. Skipped when the PostgreSQL binaries are missing or the
# build has no PostgreSQL support.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-180}
export ORC_TEST_TIMEOUT
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/serve-lib.sh"
. "$HERE/pg-lib.sh"

# A build without libpq says so; then there is nothing to test.
pg_need_support
pg_start || finish
DB=$ORCH_TEST_PG_URL

cat >"$WF/hello.json" <<'JSON'
{
  "name": "hello",
  "trigger": { "webhook": { "path": "/hooks/hello", "mode": "sync" } },
  "steps": [
    { "name": "shape", "uses": "transform",
      "with": { "greeting": "hello {{input.who}}", "run": "{{run.id}}" } },
    { "name": "encode", "uses": "json.encode" }
  ]
}
JSON
cat >"$WF/slow.json" <<'JSON'
{
  "name": "slow",
  "trigger": { "webhook": { "path": "/hooks/slow", "mode": "async" } },
  "steps": [
    { "name": "nap", "uses": "wait", "with": { "ms": 1500, "durable": false } },
    { "name": "shape", "uses": "transform", "with": { "n": "{{input.n}}" } }
  ]
}
JSON

serve_start || finish
req POST /hooks/hello -H 'Content-Type: application/json' \
    -d '{"who":"pg"}'
expect_code "a sync webhook" 200
sync_id=$(header X-Run-Id)
[ -n "$sync_id" ] || sync_id=$(body 'd.get("run_id", "")')
expect_contains "its output" "$BODY" "hello pg"

# Async webhooks: 202 with the run id, all complete.
ids=()
for i in $(seq 1 20); do
	req POST /hooks/slow -H 'Content-Type: application/json' \
	    -H "Idempotency-Key: k$i" -d "{\"n\":$i}"
	[ "$CODE" = 202 ] && ids+=("$(body 'd["run_id"]')")
done
expect_eq "20 async webhooks acknowledged" 20 "${#ids[@]}"
req POST /hooks/slow -H 'Content-Type: application/json' \
    -H "Idempotency-Key: k1" -d '{"n":1}'
expect_eq "a repeated idempotency key returns the first run" "${ids[0]}" \
    "$(body 'd["run_id"]')"
done=0
for id in "${ids[@]}"; do
	[ "$(wait_final "$id" 30)" = succeeded ] && done=$((done + 1))
done
expect_eq "every async run succeeded" 20 "$done"

# The rows are in PostgreSQL, and the CLI reads them there.
expect_eq "the runs are in the database" 21 \
    "$(pg_sql "SELECT count(*) FROM runs WHERE state = 'succeeded'")"
expect_eq "the counters agree" 20 \
    "$(pg_sql "SELECT n FROM run_counts WHERE workflow = 'slow' AND \
    state = 'succeeded'")"
expect_exit 0 orch runs --workflow slow --limit 100 --json
expect_eq "orchestrator runs lists them" 20 "$(grep -c '"succeeded"' "$OUT")"
expect_exit 0 orch show "${ids[0]}"
expect_contains "orchestrator show reads one" "$(out)" "${ids[0]}"
expect_exit 1 orch runs --db "postgresql://orc:s3cret@127.0.0.1:1/x"
expect_not_contains "a failed connection hides the password" "$(err)" \
    "s3cret"

# SIGKILL mid-run; a restart on the same database takes them over.
kill_ids=()
for i in $(seq 1 10); do
	req POST /hooks/slow -H 'Content-Type: application/json' \
	    -d "{\"n\":$((100 + i))}"
	[ "$CODE" = 202 ] && kill_ids+=("$(body 'd["run_id"]')")
done
serve_kill
unfinished=$(pg_sql "SELECT count(*) FROM runs WHERE state IN \
    ('queued', 'running', 'retrying', 'waiting')")
# The requests are sequential: under load the first may finish before the
# kill. The takeover is shown as long as some were left unfinished.
expect_true "the kill left runs unfinished ($unfinished of 10)" \
    test "$unfinished" -ge 1
serve_start --log-level info || finish
done=0
for id in "${kill_ids[@]}"; do
	[ "$(wait_final "$id" 30)" = succeeded ] && done=$((done + 1))
done
expect_eq "the restart finished every acknowledged run" 10 "$done"
expect_eq "each run's steps were stored once" 0 \
    "$(pg_sql "SELECT count(*) FROM (SELECT run_id, seq FROM steps \
    GROUP BY 1, 2 HAVING count(*) > 1) d")"
serve_stop TERM
expect_eq "SIGTERM: exit 0" 0 "$SERVE_RC"
finish
