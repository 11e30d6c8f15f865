#!/usr/bin/env bash
# Waiting runs cost the daemon next to nothing: 20,000 runs that wait for
# a signal (longer than the daemon keeps in memory) grow its resident
# memory by less than 100 MB, and they are all in the store, waiting. One
# of them is then signalled and finishes. Bounded: the burst has 90 s.
. "$(dirname "$0")/serve-lib.sh"

N=${WAITING_RUNS:-20000}
# AddressSanitizer's allocator keeps freed memory in quarantine (and the
# build has no jemalloc): the memory bound says nothing there, the rest
# of the test still holds.
SANITIZED=
ldd "$ORCH_BIN" 2>/dev/null | grep -q libasan && SANITIZED=1
cat >"$WF/parked.json" <<'JSON'
{ "name": "parked",
  "trigger": { "webhook": { "path": "/hooks/parked" } },
  "steps": [
    { "name": "ask", "uses": "wait.signal", "with": { "timeout_ms": 3600000 } },
    { "name": "done", "uses": "json.encode" } ] }
JSON

# rss: the daemon's resident memory, in KiB.
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVE_PID/status"; }
# waiting: how many runs the store has waiting.
waiting() { sqlite_q "$DB" "SELECT count(*) FROM runs WHERE state = 'waiting'"; }

serve_start || finish
# Warm up (the first runs allocate what every later one reuses).
req POST /hooks/parked -H 'Content-Type: application/json' -d '{}'
expect_code "a first run" 202
expect_true "it waits" wait_eq 10 1 waiting
before=$(rss)
sent=$(timeout 90 python3 "$TOP_SRCDIR/tests/integration/post-hooks.py" \
    127.0.0.1 "$SERVE_PORT" /hooks/parked "$N")
expect_eq "$N webhooks acknowledged" "$N" "$sent"
expect_true "all of them wait in the store" wait_eq 60 $((N + 1)) waiting
# They left memory once their waits were committed.
expect_true "none is left in memory" wait_eq 20 0 sh -c \
    "curl -s $URL/metrics | sed -n 's/^orchestrator_runs_active //p'"
after=$(rss)
grew=$(( (after - before) / 1024 ))
echo "rss before ${before} KiB, after ${after} KiB: +${grew} MiB for $N waiting runs"
[ -n "$SANITIZED" ] ||
	expect_true "the daemon grew by less than 100 MB (+$grew MiB)" \
	    test "$grew" -lt 100

id=$(sqlite_q "$DB" "SELECT id FROM runs WHERE state = 'waiting' LIMIT 1")
req POST "/runs/$id/signals/ask" -H 'Content-Type: application/json' \
    -d '{"go": 1}'
expect_code "one of them is signalled" 200
expect_eq "it is done" succeeded \
    "$(sqlite_q "$DB" "SELECT state FROM runs WHERE id = '$id'")"

finish
