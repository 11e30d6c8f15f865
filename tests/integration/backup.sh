#!/usr/bin/env bash
# orchestrator backup (issue 20): a copy of a live SQLite store taken
# during a burst of webhooks passes PRAGMA integrity_check, holds the
# blob files its rows refer to in the folder beside it, and a server
# started on it (the restore) finishes the runs that were in flight when
# it was taken. Refusals: an existing file, a PostgreSQL URL, no FILE.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/serve-lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
COPY=$T/bk/copy.db
mkdir -p "$T/bk"


cat >"$WF/fast.json" <<'EOF'
{
  "name": "fast",
  "trigger": { "webhook": { "path": "/hooks/fast", "mode": "async" } },
  "steps": [
    { "name": "pad", "uses": "transform", "with": { "i": "{{input.i}}",
      "pad": "................................................{{input.i}}" } }
  ]
}
EOF
cat >"$WF/slow.json" <<'EOF'
{
  "name": "slow",
  "trigger": { "webhook": { "path": "/hooks/slow", "mode": "async" } },
  "steps": [
    { "name": "nap", "uses": "wait", "with": { "ms": 4000, "durable": false } },
    { "name": "pad", "uses": "transform", "with": { "i": "{{input.i}}",
      "pad": "................................................{{input.i}}" } }
  ]
}
EOF

expect_exit 2 orch backup --db "$DB"
expect_contains "FILE is needed" "$(err)" "FILE: where to write the copy"
expect_exit 1 orch backup --db postgresql://nobody@127.0.0.1:1/none "$COPY"
expect_contains "PostgreSQL says pg_dump (or cannot connect)" "$(err)" \
    "postgresql://nobody@127.0.0.1:1/none"

export ORCH_BLOB_BYTES=64
serve_start --access-log off || finish
expect_eq "5 slow runs" 5 "$(timeout 60 python3 "$here/post-hooks.py" \
    127.0.0.1 "$SERVE_PORT" /hooks/slow 5)"
timeout 90 python3 "$here/post-hooks.py" 127.0.0.1 "$SERVE_PORT" \
    /hooks/fast 2000 >"$T/posted" &
poster=$!
# Under load, with finished runs (their outputs are blobs) in the copy.
# fast_done: whether 50 runs of fast finished.
fast_done() {
	[ "$(sqlite_q "$DB" "SELECT count(*) FROM runs WHERE workflow =
	    'fast' AND state = 'succeeded'")" -ge 50 ] && echo yes
}
wait_eq 10 yes fast_done
expect_exit 0 orch backup --db "$DB" "$COPY"
expect_contains "it says what it copied" "$(out)" "backed up $DB to $COPY"
wait "$poster"
expect_eq "the burst went on meanwhile" 2000 "$(cat "$T/posted")"
expect_eq "the copy passes integrity_check" ok \
    "$(sqlite_q "$COPY" 'PRAGMA integrity_check')"
expect_eq "the slow runs were in flight in it" 5 \
    "$(sqlite_q "$COPY" "SELECT count(*) FROM runs WHERE workflow = 'slow'
    AND state IN ('queued', 'running', 'retrying', 'waiting')")"
expect_eq "their leases were let go" 0 \
    "$(sqlite_q "$COPY" "SELECT count(*) FROM runs WHERE lease_owner IS NOT
    NULL")"
refs=$(sqlite_q "$COPY" "SELECT v FROM (SELECT input v FROM runs UNION
    SELECT trigger FROM runs UNION SELECT output FROM runs UNION SELECT
    output FROM steps) WHERE v LIKE '{\"\$blob\":%'" |
    sed 's/.*sha256:\([0-9a-f]*\).*/\1/')
nrefs=$(echo "$refs" | grep -c .)
missing=0
for h in $refs; do
	[ -f "$T/bk/blobs/$h" ] || missing=$((missing + 1))
done
expect_eq "the copy refers to blobs (outputs of finished runs)" True \
    "$([ "$nrefs" -gt 50 ] && echo True || echo False)"
expect_eq "each is in the folder beside it" 0 "$missing"
expect_exit 1 orch backup --db "$DB" "$COPY"
expect_contains "an existing file is not overwritten" "$(err)" \
    "$COPY already exists"
serve_stop
expect_eq "the daemon drained" 0 "$SERVE_RC"

# The restore: a server on the copy finishes the runs it holds.
DB=$COPY
serve_start --access-log off || finish
wait_eq 20 0 sqlite_q "$COPY" "SELECT count(*) FROM runs WHERE state NOT
    IN ('succeeded', 'failed', 'cancelled')"
expect_eq "every run of the copy finished" 0 \
    "$(sqlite_q "$COPY" "SELECT count(*) FROM runs WHERE state <> 'succeeded'")"
id=$(sqlite_q "$COPY" "SELECT id FROM runs WHERE workflow = 'slow' LIMIT 1")
req GET "/runs/$id"
expect_eq "a resumed run's output reads from the copied blobs" \
    "................................................0" \
    "$(body 'd["output"]["pad"][:-1] + "0"')"
serve_stop
expect_eq "the restored daemon drained" 0 "$SERVE_RC"

finish
