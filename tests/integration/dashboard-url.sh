#!/usr/bin/env bash
# The live dashboard on a server (--url), in tmux: it starts and says
# what the API cannot give; runs/s counts every run finished in the last
# 10 s, the same figure as the database gives at the same moment (250
# runs in a burst: 25.0, where a sample of the newest 200 runs said 20.0
# at most); a run opened is followed while it runs, to its end; s sorts,
# y copies, Tab says there is no workflows table; q quits.
. "$(dirname "$0")/serve-lib.sh"
. "$TOP_SRCDIR/tests/integration/dashboard-lib.sh"
export LANG=C.UTF-8 LC_ALL=C.UTF-8

N=250
cat >"$WF/quick.json" <<'JSON'
{ "name": "quick",
  "trigger": { "webhook": { "path": "/hooks/quick", "mode": "async" } },
  "concurrency": 500,
  "steps": [ { "name": "pause", "uses": "wait", "with": { "ms": 5, "durable": false } } ] }
JSON
cat >"$WF/slow.json" <<'JSON'
{ "name": "slow",
  "trigger": { "webhook": { "path": "/hooks/slow", "mode": "async" } },
  "steps": [ { "name": "first", "uses": "wait", "with": { "ms": 10, "durable": false } },
             { "name": "long", "uses": "wait", "with": { "ms": 3000, "durable": false } } ] }
JSON
serve_start --access-log off || finish

dash_start "env TERM=screen NO_COLOR=1 '$ORCH_BIN' dashboard --url '$URL' \
    --interval 200ms"
started=$(date +%s)
expect_true "--url: the dashboard starts" wait_screen \
    "orchestrator dashboard  $URL"
expect_true "--url: it says what it lacks" wait_screen \
    "--url: no counts per workflow"
expect_true "--url: runs/s from the second reading" wait_screen "runs/s 0.0 "

# The burst once the dashboard has read for 10 s (the window's start is
# then before the burst), ending well within the window.
sleep $((9 - ($(date +%s) - started)))
expect_eq "the burst posted" "$N" "$(python3 \
    "$TOP_SRCDIR/tests/integration/post-hooks.py" 127.0.0.1 \
    "$SERVE_PORT" /hooks/quick "$N")"
# finished: the server's count of succeeded runs.
finished() {
	curl -s --max-time 5 "$URL/metrics" | awk '
	    $1 == "orchestrator_runs{state=\"succeeded\"}" { print $2 }'
}
for i in $(seq 100); do
	[ "$(finished)" = "$N" ] && break
	sleep 0.1
done
expect_eq "every run of the burst succeeded" "$N" "$(finished)"
expect_true "--url: runs/s counts every run finished" wait_screen \
    "runs/s 25.0 "
expect_exit 0 "$ORCH_BIN" dashboard --once --db "$DB"
expect_contains "--db at the same moment: the same runs/s" "$(out)" \
    "runs/s 25.0 "

# A run opened while it runs is followed to its end.
req POST /hooks/slow -d '{}'
slow=$(json "$T/body" 'd["run_id"]')
tm send-keys -t dash / "$slow" Enter
expect_true "/: the slow run found" wait_screen "$slow  slow"
tm send-keys -t dash Enter
expect_true "the run opened, followed" wait_screen \
    "run $slow  slow  running  [following]"
expect_true "followed: its end shows without a key" wait_screen \
    "run $slow  slow  succeeded  [following]"
expect_true "followed: the last transition too" wait_screen \
    "succeeded             succeeded  long"
tm send-keys -t dash y
expect_true "y in the run view: its id" wait_screen \
    "copied to the clipboard: $slow"
expect_eq "y: the id on the clipboard (OSC 52)" "$slow" \
    "$(tm show-buffer 2>&1)"
tm send-keys -t dash Escape Escape

tm send-keys -t dash s
expect_true "--url: s sorts" wait_screen "sort=duration"
tm send-keys -t dash Tab
expect_true "--url: Tab says there is no workflows table" wait_screen \
    "no workflows table: --url has no counts per workflow"
tm send-keys -t dash q
expect_true "q quits" gone

finish
