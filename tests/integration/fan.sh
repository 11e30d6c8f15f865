#!/usr/bin/env bash
# Fan-out and fan-in (README "Fan-out: map and parallel"): a map runs its
# steps once per item as runs of their own, at most max_concurrency at
# once (counted at the sink), and its output is theirs in item order; a
# parallel step's output is each branch's under its name. Too many failed
# items fail the step naming them and start no more; a retry of the run
# runs only the failed items again; after SIGKILL no finished item runs
# again. validate reports the mistakes at FILE:LINE:COLUMN.
. "$(dirname "$0")/serve-lib.sh"

# validate: "steps" and "branches" where they belong, names in the items'
# own steps.
cat > bad.json <<'EOF'
{ "name": "bad", "steps": [
  { "name": "each", "uses": "map" },
  { "name": "both", "uses": "parallel", "branches": { "B!": [] } },
  { "name": "t", "uses": "transform", "steps": [] },
  { "name": "m", "uses": "map", "with": { "max_concurrency": 0 },
    "steps": [ { "name": "x", "uses": "transform",
                 "with": { "y": "{{steps.nope.z}}" } } ] } ] }
EOF
expect_exit 1 orch validate bad.json
expect_contains "a map without steps is named" "$(err)" \
    'bad.json:2:3: missing required key "steps" in steps[0]'
expect_contains "a bad branch name is named" "$(err)" \
    'bad.json:3:55: steps[1].branches.B!: invalid branch name "B!"'
expect_contains "steps on another step type" "$(err)" \
    'bad.json:4:39: steps[2].steps: only a map step takes "steps"'
expect_contains "a bad option" "$(err)" \
    'steps[3].with: map "max_concurrency" must be a whole number from 1'
expect_contains "an item's template names its own steps" "$(err)" \
    'steps[3].steps[0].with.y: steps.nope: no step named "nope"'

# Output in item order, {{item}} and {{item_index}}, a parallel step.
cat > fan.json <<'EOF'
{ "name": "fan", "steps": [
  { "name": "each", "uses": "map",
    "with": { "items": "{{input.items}}", "max_concurrency": 2 },
    "steps": [
      { "name": "price", "uses": "transform",
        "with": { "sku": "{{item.sku}}", "n": "{{item_index}}" } },
      { "name": "total", "uses": "transform",
        "with": { "sku": "{{input.sku}}", "at": "{{steps.price.n}}" } } ] },
  { "name": "both", "uses": "parallel", "branches": {
      "count": [ { "name": "c", "uses": "transform",
                   "with": { "n": "{{input[2].at}}" } } ],
      "first": [ { "name": "f", "uses": "transform",
                   "with": { "sku": "{{input[0].sku}}" } } ] } } ] }
EOF
expect_exit 0 orch run fan.json --input - <<< \
    '{"items": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}, {"sku": "d"}]}'
expect_eq "the map's output is its items', in order, then parallel's" \
    '{"count": {"n": 2}, "first": {"sku": "a"}}' \
    "$(json "$OUT" '__import__("json").dumps(d, sort_keys=True)')"
expect_exit 0 orch runs --json
expect_eq "runs lists the run, not its items" "fan" \
    "$(jsonl "$OUT" '" ".join(r["workflow"] for r in d)')"
expect_exit 0 orch runs --json --workflow fan/each
expect_eq "runs --workflow lists a map's items" 4 \
    "$(jsonl "$OUT" 'len(d)')"

# prune --workflow takes a workflow's map items with its runs.
expect_exit 0 orch prune --db "$DB" --workflow fan --dry-run
expect_contains "prune counts the items too" "$(out)$(err)" "7"
expect_exit 0 orch prune --db "$DB" --workflow fan
expect_eq "the run, its items and branches are gone" 0 \
    "$(sqlite_q "$DB" "SELECT count(*) FROM runs WHERE workflow = 'fan' OR
        workflow LIKE 'fan/%'")"

# show --workflow lists a map's steps and a parallel step's branches under
# their step.
expect_exit 0 orch show --workflow fan --workflows .
expect_contains "a map's steps, numbered under it" "$(out)" \
    "1.2        total  transform"
expect_contains "a branch's steps, under its name" "$(out)" \
    "2.first.1  f      transform"

# The cap, at the sink: 6 items, at most 2 at once, each 300 ms.
SINK_DELAY_MS=300 sink_start
cat > "$WF/prices.json" <<EOF
{ "name": "prices",
  "trigger": { "webhook": { "path": "/hooks/prices" } },
  "allow": { "hosts": ["127.0.0.1:$SP"] },
  "steps": [
  { "name": "each", "uses": "map",
    "with": { "items": "{{input.items}}", "max_concurrency": "{{input.conc}}",
              "tolerated_failures": "{{input.tolerated}}" },
    "steps": [
      { "name": "post", "uses": "http.request", "retry": { "max_attempts": 1 },
        "with": { "method": "POST", "url": "http://127.0.0.1:$SP/{{item}}" } }
    ] } ] }
EOF
serve_start
state_of() {	# state_of RUN: its state, from the store
	orch show "$1" --json | json - 'd["state"]'
}
trigger() {	# trigger JSON: posts it, waits for the run; RUN gets its id
	req POST /hooks/prices -H 'Content-Type: application/json' \
	    -H 'Prefer: wait=30' -d "$1"
	RUN=$(header Run-Id)
}
trigger '{"items": ["a/1", "a/2", "a/3", "a/4", "a/5", "a/6"], "tolerated": 0,
          "conc": 2}'
expect_eq "six items, all posted" 6 "$(grep -c '"/a/' "$T/sink.jsonl")"
expect_eq "never more than max_concurrency at once, and that many" 2 \
    "$(jsonl "$T/sink.jsonl" 'max(x["inflight"] for x in d)')"

# The run's event stream tells each item's end, with the progress.
req POST /hooks/prices -H 'Content-Type: application/json' \
    -d '{"items": ["e/1", "e/2", "e/3", "e/4"], "tolerated": 0, "conc": 2}'
RUN=$(header Run-Id)
curl -s -N --max-time 20 "$URL/runs/$RUN/events" > sse.txt
# (the stream may open after the first item ended: each is 300 ms)
expect_true "SSE: item events" test "$(grep -c '^event: item' sse.txt)" -ge 2
expect_eq "SSE: the last one counts them all" "4 4 0" \
    "$(sed -n '/^event: item/{n;s/^data: //p}' sse.txt | tail -1 |
        json - '"%d %d %d" % (d["total"], d["succeeded"], d["running"])')"
expect_contains "SSE: then the run's end" "$(cat sse.txt)" "event: finished"

# One item fails for good, none tolerated: the step fails naming it, and
# the items after it never start (max_concurrency 1 would be slower).
: > "$T/sink.jsonl"
trigger '{"items": ["b/1", "fail/2", "b/3", "b/4", "b/5", "b/6", "b/7",
          "b/8"], "tolerated": 0, "conc": 2}'
orch show "$RUN" --json >show.json
expect_eq "too many failed items fail the run" failed \
    "$(json show.json 'd["state"]')"
expect_contains "the error names the failed item" \
    "$(json show.json 'd["error"]')" "1 of 8 items failed (0 may): item 1:"
expect_true "the items after the failure are not all started" \
    test "$(grep -c '"/b/' "$T/sink.jsonl")" -lt 7

# Tolerated: the output has null for the failed item.
trigger '{"items": ["c/1", "fail/2", "c/3"], "tolerated": 1, "conc": 2}'
orch show "$RUN" --json >show.json
expect_eq "a tolerated failure: the run succeeds" succeeded \
    "$(json show.json 'd["state"]')"
expect_eq "a tolerated failure is null in the output" \
    '[{"ok": true}, null, {"ok": true}]' \
    "$(json show.json '__import__("json").dumps([x and x["body"]
        for x in d["output"]])')"

# A map's progress without its items: counted in show and the API, the
# failed ones listed, one item's run by its number.
expect_eq "show counts the items by state" "3 2 1 0" \
    "$(json show.json '" ".join(str(d["items"]["each"][k]) for k in
        ("total", "succeeded", "failed", "running"))')"
req GET "/runs/$RUN/items?state=failed"
expect_eq "the API lists the failed items" "200 1 failed" \
    "$CODE $(json "$T/body" '" ".join(str(x[k]) for x in d["items"]
        for k in ("item", "state"))')"
expect_exit 0 orch show "$RUN" --item 1
expect_contains "show --item shows that item's run" "$(out)" \
    "parent     $RUN, step each, item 1"
expect_contains "show --item: the item's own steps" "$(out)" "post"
expect_exit 0 orch show "$RUN"
expect_contains "show prints the progress" "$(out)" \
    "$(printf 'each  3      2          1       0          0')"
expect_exit 1 orch show "$RUN" --item 7
expect_contains "an item that is not there" "$(err)" \
    "step each has no item 7 (yet)"

# A retry of the run runs the failed items only (one at a time: the
# first failure stops the map before the items after it start).
: > "$T/sink.jsonl"
trigger '{"items": ["d/1", "fail-once/2", "d/3", "d/4"], "tolerated": 0,
          "conc": 1}'
expect_eq "the first try failed" failed "$(state_of "$RUN")"
expect_exit 0 orch retry "$RUN" --url "$URL"
wait_eq 10 succeeded state_of "$RUN"
expect_eq "the retried run succeeded" succeeded "$(state_of "$RUN")"
expect_eq "the items that had succeeded were not posted again" \
    "d/1=1 d/3=1 d/4=1 fail-once/2=2" \
    "$(jsonl "$T/sink.jsonl" '" ".join("%s=%d" % (p, n) for p, n in
        sorted(__import__("collections").Counter(x["path"][1:] for x in d).items()))')"

# A retry with a new input runs the map again on the new items: a new
# visit of the step, whose items are its own.
trigger '{"items": ["g/1", "fail/2"], "tolerated": 0, "conc": 2}'
printf '{"items": ["h/1", "h/2", "h/3"], "tolerated": 0, "conc": 2}' > new.json
expect_exit 0 orch retry "$RUN" --url "$URL" --input new.json
wait_eq 10 succeeded state_of "$RUN"
orch show "$RUN" --json > show.json
expect_eq "the new input's items are the output" "h/1 h/2 h/3" \
    "$(json show.json '" ".join(x["body"]["ok"] and p for x, p in
        zip(d["output"], ["h/1", "h/2", "h/3"]))')"
expect_eq "show counts the latest visit's items" "3 3" \
    "$(json show.json '"%d %d" % (d["items"]["each"]["total"],
        d["items"]["each"]["succeeded"])')"
serve_stop

# SIGKILL in the middle of a map: no finished item runs again.
: > "$T/sink.jsonl"
serve_start
items=$(python3 -c 'import json; print(json.dumps(["k/%d" % i for i in range(12)]))')
req POST /hooks/prices -H 'Content-Type: application/json' \
    -d "{\"items\": $items, \"tolerated\": 0, \"conc\": 2}"
RUN=$(json "$T/body" 'd["run_id"]')
for i in $(seq 1 100); do
	[ "$(grep -c '"/k/' "$T/sink.jsonl")" -ge 5 ] && break
	sleep 0.05
done
serve_kill
done_items=$(sqlite_q "$DB" "SELECT group_concat(item) FROM runs WHERE
    parent_id = '$RUN' AND state = 'succeeded'")
serve_start
wait_eq 20 succeeded state_of "$RUN"
expect_eq "the map finished after the crash" succeeded "$(state_of "$RUN")"
expect_true "some items had finished before the kill" test -n "$done_items"
expect_eq "no item that had finished was posted again" "" \
    "$(jsonl "$T/sink.jsonl" '" ".join(p for p, n in
        __import__("collections").Counter(x["path"][1:] for x in d).items()
        if n > 1 and int(p[2:]) in ['"${done_items:-}"'])')"
expect_eq "every item was posted" 12 \
    "$(jsonl "$T/sink.jsonl" 'len(set(x["path"] for x in d))')"
expect_eq "the output has every item, in order" \
    "$(python3 -c 'print(" ".join(str(i) for i in range(12)))')" \
    "$(orch show "$RUN" --json | json - '" ".join(str(i) for i, x in
        enumerate(d["output"]) if x["status"] == 200)')"
serve_stop
finish
