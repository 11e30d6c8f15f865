#!/usr/bin/env bash
# The dashboard's p50/p99 count a run that succeeded after a redrive from
# the redrive, not from its creation: a run created an hour ago that
# failed, redriven now on a mended definition (retry --latest), reads as
# the milliseconds it took since, in `dashboard --once`.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"

mkdir wf
# write_wf TIMEOUT_MS: a one-step workflow whose 50 ms wait fails when
# its timeout is shorter.
write_wf() {
	cat > wf/slow.json <<-JSON
	{ "name": "slow-flow",
	  "defaults": { "retry": { "max_attempts": 1 } },
	  "steps": [ { "name": "pause", "uses": "wait",
	               "with": { "ms": 50, "durable": false },
	               "timeout_ms": $1 } ] }
	JSON
}

write_wf 10
expect_exit 1 orch run wf/slow.json
id=$(orch runs --state failed --limit 1 --json | json - 'd["id"]')
expect_ne "the run failed" "" "$id"
# As if it was created (and failed) an hour ago.
sqlite_q "$DB" "UPDATE runs SET created_at = created_at - 3600000,
    finished_at = finished_at - 3600000 WHERE id = '$id'" >/dev/null ||
    hard_error "cannot backdate the run"

write_wf 5000
expect_exit 0 orch retry "$id" --latest --workflows wf
expect_exit 0 orch show "$id" --json
expect_eq "the redriven run succeeded" succeeded \
    "$(json "$OUT" 'd["state"]')"
expect_exit 0 "$ORCH_BIN" dashboard --once --db "$DB"
expect_true "p50 and p99 count from the redrive" \
    grep -Eq 'p50 [0-9]+ms  p99 [0-9]+ms' "$OUT"
expect_not_contains "not from the creation" "$(out)" "p99 1h"

finish
