#!/usr/bin/env bash
# The text dashboard (SPEC section 7). --once on an empty database, on a
# seeded one (real runs from `orchestrator run`, bulk rows with sqlite3)
# and on one with long names and error texts; then the live dashboard
# inside tmux (its own server socket, a fixed 120x40 window): the header
# and tables show the seeded counts, f filters, Enter opens the right run,
# r and c change the run in the store (checked with show --json), w takes
# the start of a name and says which names an unclear one matches, Tab
# and Enter pick a workflow from its table, s sorts, y copies a run id
# (OSC 52, into tmux's buffer), the run view follows and pauses, the
# window resized redraws, too small says so, q quits.
. "$(dirname "$0")/lib.sh"
. "$TOP_SRCDIR/tests/integration/dashboard-lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
export LANG=C.UTF-8 LC_ALL=C.UTF-8

mkdir wf
cat > wf/ok.json <<'EOF'
{ "name": "ok-flow",
  "steps": [ { "name": "pause", "uses": "wait", "with": { "ms": 5, "durable": false } } ] }
EOF
cat > wf/bad.json <<'EOF'
{ "name": "failing-flow",
  "defaults": { "retry": { "max_attempts": 2, "backoff_ms": 10 } },
  "steps": [ { "name": "slow", "uses": "wait", "with": { "ms": 300, "durable": false },
               "timeout_ms": 20 } ] }
EOF

# width [FILE]: the widest line, in characters (UTF-8).
width() {
	python3 -c 'import sys
print(max((len(l.rstrip("\n")) for l in open(sys.argv[1],
    encoding="utf-8")), default=0))' "${1:-/dev/stdin}"
}

# An empty database: made (migrated) by a command that opens it to write.
expect_exit 1 "$ORCH_BIN" cancel 01AAAAAAAAAAAAAAAAAAAAAAAA --db empty.db
expect_exit 0 "$ORCH_BIN" dashboard --once --db empty.db
expect_contains "empty: the header" "$(out)" \
    "in flight 0  queued 0  retrying 0  failed 5m 0  p50 -  p99 -"
expect_contains "empty: no workflows" "$(out)" "(no runs yet)"
expect_contains "empty: no runs" "$(out)" "(no runs)"
expect_eq "--once prints no escape codes" 0 \
    "$(grep -c $'\033' "$OUT")"
expect_exit 1 "$ORCH_BIN" dashboard --once --db nothere.db
expect_contains "a missing database is named" "$(err)" "nothere.db"
expect_exit 2 "$ORCH_BIN" dashboard --interval soon --db empty.db
expect_contains "a bad interval is a usage error" "$(err)" "--interval"
expect_exit 2 "$ORCH_BIN" dashboard --db empty.db </dev/null
expect_contains "without a terminal: use --once" "$(err)" "--once"

# Seeded: three runs that succeed, two that fail, 40 queued in bulk.
for i in 1 2 3; do
	expect_exit 0 orch run wf/ok.json
done
for i in 1 2; do
	expect_exit 1 orch run wf/bad.json
done
failed_run=$(orch runs --state failed --limit 1 --json | json - 'd["id"]')
now=$(($(date +%s) * 1000))
sqlite3 "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1
    FROM n WHERE i < 40) INSERT INTO runs (id, workflow, def_hash, state,
    created_at, updated_at) SELECT printf('01BULK%020d', i), 'bulk-flow',
    (SELECT def_hash FROM runs WHERE workflow = 'ok-flow' LIMIT 1),
    'queued', $now - 3600000 + i, $now - 3600000 + i FROM n" ||
    hard_error "cannot seed with sqlite3"
# Rows written behind the store's back: recount the finished ones as the
# store keeps them (run_counts).
recount() {
	sqlite3 "$DB" "DELETE FROM run_counts; INSERT INTO run_counts
	    SELECT workflow, state, count(*) FROM runs WHERE state IN
	    ('succeeded', 'failed', 'cancelled') GROUP BY 1, 2"
}
recount
expect_exit 0 "$ORCH_BIN" dashboard --once --db "$DB"
expect_contains "seeded: the header" "$(out)" \
    "in flight 0  queued 40  retrying 0  failed 5m 2"
expect_true "seeded: p50 and p99 are durations" \
    grep -Eq 'p50 [0-9.]+m?s  p99 [0-9.]+m?s' "$OUT"
expect_true "seeded: ok-flow 3 succeeded of 3" grep -Eq \
    '^ok-flow +0 +0 +0 +3 +0 +0 +0 +3$' "$OUT"
expect_true "seeded: failing-flow 2 failed of 2" grep -Eq \
    '^failing-flow +0 +0 +0 +0 +2 +0 +0 +2$' "$OUT"
expect_true "seeded: bulk-flow 40 queued" grep -Eq \
    '^bulk-flow +40 +0 +0 +0 +0 +0 +0 +40$' "$OUT"
expect_true "seeded: the failed run's row" grep -Eq \
    "^$failed_run +failing-flow +failed +slow +2 .*step slow timed out" \
    "$OUT"

# Long names and error texts (with a newline) fit the width.
long=$(printf 'a-workflow-with-a-name-far-too-long-for-its-column-%.0s' 1 2)
sqlite3 "$DB" "INSERT INTO runs (id, workflow, def_hash, state, step,
    error, created_at, updated_at, finished_at) VALUES
    ('01ZZZZZZZZZZZZZZZZZZZZZZZZ', '$long', 'x', 'failed',
    'a-step-named-at-length-too',
    'first line of a long error' || char(10) || 'second line: ' ||
    '$long$long', $now, $now, $now + 5),
    ('01AAAAAAAAAAAAAAAAAAAAAAAA', 'ok-other', 'x', 'succeeded', NULL,
    NULL, $now - 7200000, $now - 7100000, $now - 7100000)"
recount
expect_exit 0 env COLUMNS=100 LINES=30 "$ORCH_BIN" dashboard --once \
    --db "$DB"
expect_eq "long: no line wider than 100 columns" 100 "$(width "$OUT")"
expect_true "long: the name is cut with an ellipsis" \
    grep -q "^a-workflow-with-a-name[a-z-]*… " "$OUT"
expect_eq "long: 30 rows at most" 1 "$(($(wc -l < "$OUT") <= 30))"
expect_exit 0 env COLUMNS=180 "$ORCH_BIN" dashboard --once --db "$DB"
expect_eq "long: no line wider than 180 columns" 180 "$(width "$OUT")"
expect_true "long: the error's newline is a space" \
    grep -q "first line of a long error second line" "$OUT"
expect_exit 0 env LANG=C LC_ALL=C COLUMNS=100 "$ORCH_BIN" dashboard \
    --once --db "$DB"
expect_true "C locale: ASCII ellipsis" \
    grep -q "^a-workflow-with-a-name[a-z-]*\.\.\. " "$OUT"

# The live dashboard in tmux, on a server socket of its own.
dash_start "env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=screen NO_COLOR=1 \
    '$ORCH_BIN' dashboard --db '$DB' --interval 200ms"
expect_true "tmux: the dashboard starts" wait_screen "orchestrator dashboard"
expect_true "tmux: the header counts" wait_screen \
    "in flight 0  queued 40  retrying 0  failed 5m 3"
expect_true "tmux: the workflows table" wait_screen "bulk-flow"
# bulk_row: the bulk-flow row shows 40 queued.
bulk_row() { screen | grep -Eq '^bulk-flow +40 +0 +0 +0 +0 +0 +0 +40'; }
expect_true "tmux: 40 queued bulk-flow" bulk_row

# f five times: queued, running, retrying, succeeded, failed.
tm send-keys -t dash f f f f f
expect_true "f: the filter shows in the title" wait_screen "state=failed"
sleep 0.5
expect_eq "f: only failed runs listed" 0 "$(screen | grep -E '^01' |
    grep -vc ' failed ')"
expect_eq "f: three failed runs" 3 "$(screen | grep -Ec '^01[A-Z0-9]{24} ')"

# The newest failed run is the long one; j to the next: failed_run.
tm send-keys -t dash j Enter
expect_true "Enter opens the selected run" wait_screen "run $failed_run"
expect_true "the run shows its transitions" wait_screen "step_timed_out"
expect_true "the run is followed" wait_screen "failing-flow  failed  [following]"
tm send-keys -t dash f
expect_true "f pauses it" wait_screen "[paused: f follows]"
tm send-keys -t dash f
expect_true "f again follows it" wait_screen "[following]"
sleep 0.3

before=$(orch show "$failed_run" --json | json - 'len(d["transitions"])')
tm send-keys -t dash r
expect_true "r asks first" wait_screen "retry run $failed_run? (y/n)"
tm send-keys -t dash y
expect_true "r: retried" wait_screen "run $failed_run retried"
expect_true "the run view shows the redrive as it happens" wait_screen \
    "redriven"
# The retried run runs here and fails again (the step still times out).
ntrans() { orch show "$failed_run" --json | json - 'len(d["transitions"])'; }
for i in $(seq 100); do
	[ "$(ntrans)" -gt "$((before + 2))" ] && break
	sleep 0.1
done
expect_true "r: the run was redriven in the store" \
    [ "$(ntrans)" -gt "$before" ]
expect_eq "r: the new transitions begin with redriven" redriven \
    "$(orch show "$failed_run" --json |
    json - 'd["transitions"]['"$before"']["event"]')"

# Back, clear the filter, search a bulk run by id prefix, cancel it.
tm send-keys -t dash Escape
sleep 0.3
tm send-keys -t dash Escape / 01bulk00000000000000000007 Enter
expect_true "/: the search shows in the title" wait_screen \
    "search=01bulk00000000000000000007"
expect_true "/: the run found" wait_screen "01BULK00000000000000000007"
tm send-keys -t dash c
expect_true "c asks first" wait_screen \
    "cancel run 01BULK00000000000000000007? (y/n)"
tm send-keys -t dash y
expect_true "c: cancelled" wait_screen \
    "run 01BULK00000000000000000007 cancelled"
expect_eq "c: the store says cancelled" cancelled \
    "$(orch show 01BULK00000000000000000007 --json | json - 'd["state"]')"
tm send-keys -t dash Escape
expect_true "the header follows: 39 queued" wait_screen "queued 39"

# F goes straight to the failed runs; c on one says there is nothing to
# cancel instead of asking; F again shows all.
tm send-keys -t dash F
expect_true "F: only failed runs" wait_screen "state=failed"
tm send-keys -t dash c
expect_true "c on a failed run: nothing to cancel, no question" \
    wait_screen "is failed already: nothing to cancel"
tm send-keys -t dash F
sleep 0.3
expect_eq "F again: the state filter is off" 0 "$(screen | grep -c 'state=')"
# Ctrl-U clears the prompt's text.
tm send-keys -t dash w x y z C-u bulk-flow Enter
expect_true "w with Ctrl-U: the typed filter only" wait_screen \
    "workflow=bulk-flow"
tm send-keys -t dash Escape

# w takes the start of a name; an unclear one lists what it matches.
tm send-keys -t dash w ok Enter
expect_true "w: an unclear start lists the names" wait_screen \
    '2 workflows start with "ok": ok-flow, ok-other'
tm send-keys -t dash C-u bul Enter
expect_true "w: a unique start is the name" wait_screen "workflow=bulk-flow"
tm send-keys -t dash Escape
# Tab: the workflows table (a-workflow..., bulk-flow, failing-flow...).
tm send-keys -t dash Tab
expect_true "Tab: to the workflows table" wait_screen \
    "enter filter on the workflow"
tm send-keys -t dash j j Enter
expect_true "Tab, j j, Enter: filtered on the third workflow" wait_screen \
    "workflow=failing-flow"
tm send-keys -t dash Escape

# s sorts by duration: the oldest bulk run, queued for an hour, first;
# S reverses; three more s: back to the newest first.
# first_run: the first row of the runs table.
first_run() { screen | grep -Eo '^01[A-Z0-9]{24}' | head -1; }
tm send-keys -t dash s
expect_true "s: the order in the title" wait_screen "sort=duration"
expect_eq "s: the longest run first" 01BULK00000000000000000001 \
    "$(first_run)"
tm send-keys -t dash S
expect_true "S: reversed" wait_screen "sort=duration,reversed"
sleep 0.3
expect_ne "S: the longest is not first" 01BULK00000000000000000001 \
    "$(first_run)"
tm send-keys -t dash s s s
sleep 0.5
expect_eq "s back to age: no order in the title" 0 \
    "$(screen | grep -c 'sort=')"

# y copies the selected run's id: shown, and in tmux's buffer by OSC 52.
first=$(first_run)
tm send-keys -t dash y
expect_true "y: the id in the status line" wait_screen \
    "copied to the clipboard: $first"
expect_eq "y: the id on the clipboard (OSC 52)" "$first" \
    "$(tm show-buffer 2>&1)"
tm send-keys -t dash Escape

# Resize: smaller redraws; too small says so; larger again.
tm resize-window -t dash -x 90 -y 20
# narrow: redrawn within 90 columns, the status line on row 20.
narrow() {
	local i
	for i in $(seq 50); do
		[ "$(screen | width)" -le 90 ] &&
		    screen | sed -n 20p | grep -q 'j/k move' && return 0
		sleep 0.1
	done
	return 1
}
expect_true "resize: redrawn at 90x20" narrow
expect_true "resize: the header still there" wait_screen "queued 39"
tm resize-window -t dash -x 60 -y 10
expect_true "too small says so" wait_screen "terminal too small: 60x10"
tm resize-window -t dash -x 120 -y 40
expect_true "larger again" wait_screen "bulk-flow"

# ? and q.
tm send-keys -t dash '?'
expect_true "? shows the keys" wait_screen "search by run id prefix"
tm send-keys -t dash x q
expect_true "q quits" gone

finish
