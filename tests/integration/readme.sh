#!/usr/bin/env bash
# The README's examples before the walk-through run as written: every
# command of the quick start's console block ("With the server running,
# from a second terminal") against a daemon serving a copy of workflows/,
# and the console block of "A full example" in a fresh folder holding a
# copy of workflows/. What they print must be what the README shows,
# compared by readme-run.py (its comment says what it compares loosely:
# run ids, hashes, times and durations).
. "$(dirname "$0")/serve-lib.sh"

RUNNER=$TOP_SRCDIR/tests/integration/readme-run.py
cp -r "$TOP_SRCDIR/workflows" "$T/workflows"
rm -f "$WF"/*.json
cp "$T"/workflows/*.json "$T"/workflows/*.lua "$WF/"
cd "$T" || hard_error "cannot enter $T"
serve_start || finish

python3 "$RUNNER" "$TOP_SRCDIR/README.md" \
    "With the server running, from a second terminal:" "## Concepts" \
    --sub localhost:8080 "127.0.0.1:$SERVE_PORT" \
    --sub orchestrator/orchestrator "$ORCH_BIN" >"$T/readme.out" 2>&1
rc=$?
cat "$T/readme.out"
expect_eq "the README's quick start runs as written and prints what it shows" \
    0 "$rc"
expect_true "the README's quick start has its commands" \
    grep -q "^commands: [5-9]" "$T/readme.out"

# The full example runs in this process, on ./orchestrator.db and
# ./buckets of a fresh folder.
mkdir "$T/full" && cp -r "$TOP_SRCDIR/workflows" "$T/full/workflows"
cd "$T/full" || hard_error "cannot enter $T/full"
env -u ORCH_BUCKETS python3 "$RUNNER" "$TOP_SRCDIR/README.md" \
    "## A full example" "## Walk-through" \
    --sub orchestrator/orchestrator "$ORCH_BIN" >"$T/full.out" 2>&1
rc=$?
cat "$T/full.out"
expect_eq "the README's full example runs as written and prints what it shows" \
    0 "$rc"
expect_true "the README's full example has its commands" \
    grep -q "^commands: [4-9]" "$T/full.out"
finish
