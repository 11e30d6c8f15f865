#!/usr/bin/env bash
# The README's examples before the walk-through run as written: every
# command of the quick start's console block ("With the server running,
# from a second terminal") against a daemon serving a copy of workflows/,
# and the console block of "A full example" in a fresh folder holding a
# copy of workflows/. What they print must be what the README shows,
# run ids, hashes, times and durations aside (readme-run.py says how).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/serve-lib.sh"
. "$here/readme-lib.sh"

cp -r "$TOP_SRCDIR/workflows" "$T/workflows"
rm -f "$WF"/*.json
cp "$T"/workflows/*.json "$T"/workflows/*.lua "$WF/"
cd "$T" || hard_error "cannot enter $T"
serve_start || finish
readme_runs "quick start" 7 \
    "With the server running, from a second terminal:" "## Concepts" \
    --sub localhost:8080 "127.0.0.1:$SERVE_PORT" \
    --sub orchestrator/orchestrator "$ORCH_BIN"

# The full example runs in this process, on ./orchestrator.db and
# ./buckets of a fresh folder, as for a user without ORCH_BUCKETS.
mkdir "$T/full" && cp -r "$TOP_SRCDIR/workflows" "$T/full/workflows"
cd "$T/full" || hard_error "cannot enter $T/full"
unset ORCH_BUCKETS
readme_runs "full example" 4 "## A full example" "## Walk-through" \
    --sub orchestrator/orchestrator "$ORCH_BIN"
finish
