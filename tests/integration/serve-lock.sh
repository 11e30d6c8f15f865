#!/usr/bin/env bash
# One `serve` per SQLite file (issue 24, item 6). A second daemon on the
# database of a running one must not start: it exits 1 at once with a
# message naming the file, the holder's pid and the lock file, before it
# opens the database. The read-only commands (runs, show, schedules) and
# a one-off `run` keep working beside the daemon. The lock goes with its
# process, however it ends: after a SIGKILL a new daemon starts at once,
# and resumes what the first left.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-120}
export ORC_TEST_TIMEOUT
. "$(dirname "$0")/serve-lib.sh"

cat >"$WF/one.json" <<'JSON'
{ "name": "one",
  "trigger": { "webhook": { "path": "/hooks/one", "mode": "async" } },
  "steps": [ { "name": "nap", "uses": "wait", "with": { "ms": 100, "durable": false } } ] }
JSON

serve_start || finish
FIRST=$SERVE_PID
req POST /hooks/one -H 'Content-Type: application/json' --data-binary '{}'
expect_code "a webhook to the first daemon" 202
RUN=$(body 'd["run_id"]')

# A second daemon on the same file: refused, naming the holder.
expect_exit 1 "$ORCH_BIN" serve --workflows "$WF" --db "$DB" \
    --buckets "$T/buckets" --listen 127.0.0.1:0
expect_contains "it names the file and says why" "$(err)" \
    "$DB is already served by another orchestrator serve"
expect_contains "it names the holder's pid" "$(err)" "(pid $FIRST,"
expect_contains "it names the lock file" "$(err)" "lock file $DB.lock"
expect_not_contains "it did not get to listen" "$(err)" "listening on"
expect_eq "the lock file holds the holder's pid" "$FIRST" \
    "$(cat "$DB.lock")"
req GET /healthz
expect_code "the first daemon still serves" 200

# Beside it: the read-only commands and a one-off run.
expect_exit 0 orch runs
expect_contains "runs lists the daemon's run" "$(out)" "$RUN"
expect_exit 0 orch show "$RUN"
expect_exit 0 "$ORCH_BIN" schedules --db "$DB"
expect_exit 0 orch run "$WF/one.json" --input - <<<'{}'

# SIGKILL: the system drops the lock; a new daemon starts and serves.
serve_kill
serve_start || finish
expect_ne "a new daemon after a SIGKILL" "$FIRST" "$SERVE_PID"
for i in $(seq 1 50); do
	req GET "/runs/$RUN"
	[ "$(body 'd["state"]' 2>/dev/null)" = succeeded ] && break
	sleep 0.1
done
expect_eq "the first daemon's run is done" succeeded "$(body 'd["state"]')"
serve_stop TERM
expect_eq "SIGTERM: exit 0" 0 "$SERVE_RC"
finish
