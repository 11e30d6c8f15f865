#!/usr/bin/env bash
# The README's walk-through ("a background task end to end") runs as
# written: the service and the daemon are started as its terminals 1 and
# 2 say, on free loopback ports instead of 9100 and 8080 (the workflow's
# copy is rewritten to the service's port), then every command of its
# console blocks is run in order from the folder they name, and what it
# prints must be what the README shows, run ids, hashes, times and
# durations aside (readme-run.py says how). The test's addresses are put
# back to the README's in what the commands print.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/serve-lib.sh"
. "$here/service-lib.sh"
. "$here/readme-lib.sh"

README=$TOP_SRCDIR/README.md
SVC_CMD='python3 contrib/example-service.py --record callbacks.jsonl'
SERVE_CMD='orchestrator/orchestrator serve --workflows workflows'
SERVE_CMD=$SERVE_CMD' --db orchestrator.db'

# The terminals' commands are the ones this test stands for: svc_start
# records to $T/callbacks.jsonl, serve_start serves $WF with $DB from $T.
expect_true "the README starts the service as this test does" \
    grep -qxF "$SVC_CMD" "$README"
expect_true "the README starts the daemon as this test does" \
    grep -qxF "$SERVE_CMD" "$README"

WF=$T/workflows
DB=$T/orchestrator.db
svc_start || finish
svc_copy_example background-task "$WF"
serve_start || finish

readme_runs walk-through 10 \
    "## Walk-through: a background task end to end" "## Reference" \
    --sub localhost:8080 "127.0.0.1:$SERVE_PORT" \
    --sub localhost:9100 "127.0.0.1:$SVC_PORT" \
    --sub 127.0.0.1:9100 "127.0.0.1:$SVC_PORT" \
    --sub orchestrator/orchestrator "$ORCH_BIN" \
    --out "127.0.0.1:$SVC_PORT" 127.0.0.1:9100
finish
