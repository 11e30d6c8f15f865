#!/usr/bin/env bash
# Fan-out on PostgreSQL with two nodes: a map whose node is killed in the
# middle is taken over by the other node, parent and items, and finishes
# without running a finished item again; a child workflow's output comes
# back through the store. Skipped when the PostgreSQL binaries are missing
# or the build has no PostgreSQL support.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-180}
export ORC_TEST_TIMEOUT
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/serve-lib.sh"
. "$HERE/pg-lib.sh"

pg_need_support
# Short leases: a dead node's runs are taken over within seconds.
export ORCH_LEASE_MS=2000
trap 'pg_nodes_cleanup; serve_cleanup; [ -z "$SINK_PID" ] ||
    kill "$SINK_PID" 2>/dev/null; pg_cleanup; lib_cleanup' EXIT
pg_start || finish
DB=$ORCH_TEST_PG_URL
SINK_DELAY_MS=300 sink_start

cat >"$WF/prices.json" <<EOF
{ "name": "prices",
  "trigger": { "webhook": { "path": "/hooks/prices" } },
  "allow": { "hosts": ["127.0.0.1:$SP"] },
  "steps": [
  { "name": "each", "uses": "map",
    "with": { "items": "{{input.items}}", "max_concurrency": 2 },
    "steps": [
      { "name": "post", "uses": "http.request",
        "with": { "method": "POST", "url": "http://127.0.0.1:$SP/{{item}}" } }
    ] } ] }
EOF
cat >"$WF/double.json" <<'EOF'
{ "name": "double", "steps": [
  { "name": "calc", "uses": "transform", "with": { "n": "{{input.n}}" } } ] }
EOF
cat >"$WF/caller.json" <<'EOF'
{ "name": "caller", "trigger": { "webhook": { "path": "/hooks/caller" } },
  "steps": [ { "name": "sub", "uses": "workflow",
    "with": { "workflow": "double", "input": { "n": "{{input.n}}" } } } ] }
EOF
J=(-H 'Content-Type: application/json')
state() { pg_sql "SELECT state FROM runs WHERE id = '$1'"; }

serve_start || finish
A_PID=$SERVE_PID A_URL=$URL
PIDS+=("$A_PID")
SERVE_PID=
serve_start || finish
B_URL=$URL
PIDS+=("$SERVE_PID")

URL=$B_URL
req POST /hooks/caller "${J[@]}" -H 'Prefer: wait=20' -d '{"n": 5}'
expect_eq "a child workflow's output, on PostgreSQL" '{"n": 5}' \
    "$(json "$T/body" '__import__("json").dumps(d)')"

URL=$A_URL
items=$(python3 -c 'import json; print(json.dumps(["k/%d" % i for i in range(8)]))')
req POST /hooks/prices "${J[@]}" -d "{\"items\": $items}"
RUN=$(header Run-Id)
for i in $(seq 1 100); do
	[ "$(grep -c '"/k/' "$T/sink.jsonl")" -ge 3 ] && break
	sleep 0.05
done
kill -9 "$A_PID"
wait "$A_PID" 2>/dev/null
done_items=$(pg_sql "SELECT string_agg(item::text, ',') FROM runs WHERE
    parent_id = '$RUN' AND state = 'succeeded'")
wait_eq 30 succeeded state "$RUN"
expect_eq "node B finished the map of the killed node A" succeeded \
    "$(state "$RUN")"
expect_true "some items had finished on node A" test -n "$done_items"
expect_eq "no item that had finished was posted again" "" \
    "$(jsonl "$T/sink.jsonl" '" ".join(p for p, n in
        __import__("collections").Counter(x["path"][1:] for x in d).items()
        if n > 1 and int(p[2:]) in ['"${done_items:-}"'])')"
URL=$B_URL
req GET "/runs/$RUN"
expect_eq "the output has every item, in order" \
    "$(python3 -c 'print(" ".join("k/%d" % i for i in range(8)))')" \
    "$(json "$T/body" '" ".join(x["status"] == 200 and "k/%d" % i or "-"
        for i, x in enumerate(d["output"]))')"
finish
