#!/usr/bin/env bash
# The command line against a server (SPEC section 5): `orchestrator
# trigger`, and runs, show, retry and cancel with --url or ORCH_URL. First
# without a server (a clear connection error, exit 1; usage errors exit
# 2), then against the real daemon on a free loopback port: async and
# --wait triggers, a failed and a still-running --wait, runs and show
# printing exactly what they print from the database, cancel and retry
# (one and bulk) on the server, and the API token.
. "$(dirname "$0")/serve-lib.sh"

unset ORCH_URL
ORDER_IN=$TOP_SRCDIR/workflows/inputs/order-report.json

# A loopback port nothing listens on: bound by the kernel, then freed.
free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
DEAD=http://127.0.0.1:$(free_port)
REFUSED="$DEAD: connection refused (is \`orchestrator serve\` running?)"

# --- No server: every command says so in one line and exits 1. ---
expect_exit 1 orch trigger order-report --url "$DEAD"
expect_eq "trigger without a server: one clear line" \
    "orchestrator trigger: $REFUSED" "$(err)"
expect_eq "trigger without a server: nothing on stdout" "" "$(out)"
expect_exit 1 orch trigger order-report --wait --url "$DEAD"
expect_eq "trigger --wait without a server" \
    "orchestrator trigger: $REFUSED" "$(err)"
for c in runs "show 01M8H00000000000000000000" \
    "cancel 01M8H00000000000000000000" "retry 01M8H00000000000000000000" \
    "retry --workflow order-report"; do
	set -- $c
	expect_exit 1 orch "$@" --url "$DEAD"
	expect_eq "$1 --url without a server: one clear line" \
	    "orchestrator $1: $REFUSED" "$(err)"
done
expect_eq "--url does not touch the database" no \
    "$([ -e "$DB" ] && echo yes || echo no)"

# ORCH_URL is the default server of trigger, runs, show...
expect_exit 1 env ORCH_URL="$DEAD" "$ORCH_BIN" trigger order-report
expect_eq "trigger takes ORCH_URL" "orchestrator trigger: $REFUSED" "$(err)"
expect_exit 1 env ORCH_URL="$DEAD" "$ORCH_BIN" runs
expect_eq "runs takes ORCH_URL" "orchestrator runs: $REFUSED" "$(err)"
# ... but an explicit --db means the database.
expect_exit 1 env ORCH_URL="$DEAD" "$ORCH_BIN" runs --db "$T/none.db"
expect_contains "runs --db beats ORCH_URL" "$(err)" "$T/none.db"
# Without either, trigger tries the default address (nothing there here,
# or a server of someone else's: either way not a usage error).
run_cmd "$ORCH_BIN" trigger order-report --input /dev/null/x
expect_eq "an unreadable --input fails before connecting" 1 "$LAST_RC"
expect_contains "an unreadable --input is named" "$(err)" "/dev/null/x"

# A URL that is not one: named, exit 1.
expect_exit 1 orch trigger order-report --url "ftp://127.0.0.1:1"
expect_contains "a non-HTTP url is named" "$(err)" \
    "ftp://127.0.0.1:1: not a usable URL"

# Usage errors: exit 2 with the usage.
expect_exit 2 orch trigger
expect_contains "trigger without a name" "$(err)" \
    "orchestrator trigger: expected one workflow name"
expect_contains "trigger usage on stderr" "$(err)" \
    "usage: orchestrator trigger NAME"
expect_exit 2 orch trigger a b --url "$DEAD"
expect_contains "trigger with two names" "$(err)" "expected one workflow name"
expect_exit 2 orch trigger a --wait=soon --url "$DEAD"
expect_contains "--wait needs seconds" "$(err)" '--wait: expected a number'
expect_exit 2 orch trigger a --wait=-3 --url "$DEAD"
expect_contains "--wait is not negative" "$(err)" '"-3"'
expect_exit 2 orch trigger a --no-such-option
expect_contains "trigger: a bad option" "$(err)" \
    'orchestrator trigger: bad option "--no-such-option"'
expect_exit 2 orch trigger a --url
expect_contains "--url needs a value" "$(err)" "needs a value"
expect_exit 2 orch show --url "$DEAD"
expect_contains "show --url still needs a run id" "$(err)" \
    "expected one run id"
expect_exit 2 orch cancel --url "$DEAD"
expect_contains "cancel --url still needs a run id" "$(err)" \
    "expected one run id"

# --- Against the daemon. ---
cp "$TOP_SRCDIR/workflows/order-report.json" \
    "$TOP_SRCDIR/workflows/order_report.lua" "$WF/"
# Slow enough to be cancelled, or to outlast a short --wait.
cat >"$WF/slow.json" <<'JSON'
{
  "name": "slow",
  "steps": [
    { "name": "nap", "uses": "wait", "with": { "ms": 4000, "durable": false } },
    { "name": "shape", "uses": "transform", "with": { "done": true } }
  ]
}
JSON
# Fails at once and for good: its output never matches its schema.
cat >"$WF/broken.json" <<'JSON'
{
  "name": "broken",
  "output": { "type": "object", "required": ["total"] },
  "steps": [
    { "name": "shape", "uses": "transform", "with": { "n": 1 } }
  ]
}
JSON
export ORCH_API_TOKEN=client-token-$$
API_TOKEN=$ORCH_API_TOKEN
serve_start || finish

# trigger: the run id on stdout; the run exists and finishes.
expect_exit 0 orch trigger order-report --input "$ORDER_IN" --url "$URL"
id1=$(out)
expect_eq "trigger prints a run id" 26 "${#id1}"
expect_eq "trigger prints nothing on stderr" "" "$(err)"
expect_eq "the triggered run succeeds" succeeded "$(wait_final "$id1")"

# trigger --wait: the output, the same as the run's stored output.
expect_exit 0 orch trigger order-report --input - --wait --url "$URL" \
    <"$ORDER_IN"
cp "$OUT" "$T/waited.json"
expect_eq "trigger --wait prints the output" orders/A-1001.json \
    "$(json "$T/waited.json" 'd["key"]')"
id2=$(orch runs --url "$URL" --json --limit 1 | json - 'd["id"]')
orch show "$id2" --url "$URL" --json >"$T/show2.json"
expect_eq "trigger --wait printed the run's output" \
    "$(json "$T/show2.json" 'd["output"]')" "$(json "$T/waited.json" 'd')"
expect_eq "trigger --wait names the run on stderr" "run $id2 succeeded" \
    "$(err)"

# ORCH_URL works like --url.
expect_exit 0 env ORCH_URL="$URL" "$ORCH_BIN" trigger order-report \
    --input "$ORDER_IN" --wait 10
expect_eq "trigger --wait N under ORCH_URL" orders/A-1001.json \
    "$(json "$OUT" 'd["key"]')"

# A run that fails within the wait: its error and id on stderr, exit 1.
expect_exit 1 orch trigger broken --wait 10 --url "$URL"
expect_contains "a failed --wait names the run" "$(err)" \
    "orchestrator trigger: run "
expect_contains "a failed --wait gives the error" "$(err)" "failed: "
expect_contains "a failed --wait names the missing output" "$(err)" "total"
expect_eq "a failed --wait prints nothing on stdout" "" "$(out)"

# A run slower than the wait: still running, the id on stdout, exit 0.
expect_exit 0 orch trigger slow --wait=1 --url "$URL"
id3=$(out)
expect_eq "a long run: its id on stdout" 26 "${#id3}"
expect_eq "a long run: said on stderr" "run $id3 still running" "$(err)"

# Unknown workflow: the server's message.
expect_exit 1 orch trigger no-such-flow --url "$URL"
expect_contains "an unknown workflow: the status" "$(err)" \
    "orchestrator trigger: server answered 404: "
expect_contains "an unknown workflow: named" "$(err)" "no-such-flow"

# The token goes along; a wrong one is refused with the server's words.
expect_exit 1 env ORCH_API_TOKEN=wrong "$ORCH_BIN" runs --url "$URL"
expect_contains "a wrong token: 401" "$(err)" \
    "orchestrator runs: server answered 401: "

# cancel --url: the slow run, on the server.
expect_exit 0 orch cancel "$id3" --url "$URL"
expect_eq "cancel --url says so" "run $id3 cancelled" "$(out)"
expect_eq "the run is cancelled" cancelled "$(wait_final "$id3")"
expect_exit 1 orch cancel "$id3" --url "$URL"
expect_contains "cancelling it again: the server's answer" "$(err)" \
    "orchestrator cancel: server answered 4"
nope=01M8H00000000000000000000
expect_exit 1 orch show $nope --url "$URL"
expect_eq "show of an unknown run: the server's message" \
    "orchestrator show: server answered 404: run $nope not found" "$(err)"

# Another one, cancelled, for the bulk retry.
id4=$(orch trigger slow --url "$URL")
expect_exit 0 orch cancel "$id4" --url "$URL"
expect_eq "the second slow run is cancelled" cancelled "$(wait_final "$id4")"

# runs and show: exactly what they print from the database.
expect_exit 0 orch runs --url "$URL" --json --limit 100
cp "$OUT" "$T/runs-url.jsonl"
expect_exit 0 orch runs --json --limit 100
expect_eq "runs --url --json equals runs --json" \
    "$(cat "$T/runs-url.jsonl")" "$(out)"
expect_eq "runs --url lists every run" 6 \
    "$(grep -c . "$T/runs-url.jsonl")"
for f in "--state cancelled" "--workflow order-report --limit 2" \
    "--limit 1 --before $id3"; do
	expect_exit 0 orch runs --url "$URL" --json $f
	cp "$OUT" "$T/a"
	expect_exit 0 orch runs --json $f
	expect_eq "runs --url --json $f" "$(cat "$T/a")" "$(out)"
	expect_ne "runs --json $f lists something" "" "$(out)"
done
# The table: same rows (the age column moves on between the two calls).
cols() { awk '{ print $1, $2, $3, $4, $5 }' "$1"; }
expect_exit 0 orch runs --url "$URL"
cols "$OUT" >"$T/a"
expect_exit 0 orch runs
cols "$OUT" >"$T/b"
expect_eq "runs --url prints the table runs prints" "$(cat "$T/b")" \
    "$(cat "$T/a")"
idb=$(orch runs --url "$URL" --json --workflow broken | json - 'd["id"]')
expect_eq "runs --url --workflow finds the failed run" 26 "${#idb}"
for id in "$id1" "$id2" "$id3" "$idb"; do
	expect_exit 0 orch show "$id" --url "$URL"
	cp "$OUT" "$T/a"
	expect_exit 0 orch show "$id"
	expect_eq "show --url $id equals show" "$(cat "$T/a")" "$(out)"
	expect_exit 0 orch show "$id" --url "$URL" --json
	cp "$OUT" "$T/a"
	expect_exit 0 orch show "$id" --json
	expect_eq "show --url --json $id equals show --json" \
	    "$(cat "$T/a")" "$(out)"
done

# retry --url: the server redrives the run; printed as show prints it.
expect_exit 0 orch retry "$id3" --url "$URL"
expect_contains "retry --url prints the run" "$(out)" "run        $id3"
expect_not_contains "retry --url: no longer cancelled" \
    "$(head -n 3 "$OUT")" "cancelled"
expect_eq "the retried run succeeds on the server" succeeded \
    "$(wait_final "$id3")"
expect_exit 0 orch retry --workflow slow --state cancelled --url "$URL"
expect_eq "bulk retry --url says how many" "retrying 1 run" "$(err)"
expect_eq "the bulk-retried run succeeds" succeeded "$(wait_final "$id4")"
# With an edited input from a step on: the server takes both.
echo '{"edited": true}' >"$T/edited.json"
expect_exit 0 orch retry "$idb" --from-step shape --input "$T/edited.json" \
    --url "$URL"
expect_contains "retry --url --input: the edited input" "$(out)" \
    '{"edited":true}'
expect_eq "the edited retry fails again (its output schema)" failed \
    "$(wait_final "$idb")"
expect_exit 1 orch retry "$idb" --from-step no-such-step --url "$URL"
expect_contains "retry --url from an unknown step: refused" "$(err)" \
    "orchestrator retry: server answered 4"
expect_exit 1 orch retry "$id1" --url "$URL"
expect_contains "retrying a run that succeeded: the server refuses" \
    "$(err)" "orchestrator retry: server answered 4"

serve_stop TERM
expect_eq "the daemon stops on SIGTERM" 0 "$SERVE_RC"
finish
