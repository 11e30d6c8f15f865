#!/usr/bin/env bash
# orchestrator run, runs and show (SPEC sections 1-3 and 5) on the
# order-report example: the input is checked against the workflow's schema
# (a refused input creates no run), the run publishes a pretty JSON report
# into the "reports" bucket, its output is printed as JSON, and the store
# holds the run with its steps and its timeline of transitions in order.
. "$(dirname "$0")/lib.sh"

wf=$TOP_SRCDIR/workflows/order-report.json
input=$TOP_SRCDIR/workflows/inputs/order-report.json
[ -f "$wf" ] && [ -f "$input" ] || hard_error "no order-report example"

# Refused inputs first, on an empty store: exit 1, the path at fault named,
# and no run created.
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["items"][0]["qty"] = 0
json.dump(d, open("qty0.json", "w"))
del d["customer"]
json.dump(d, open("nocustomer.json", "w"))
' "$input"
expect_exit 1 orch run "$wf" --input qty0.json
expect_contains "qty 0 is refused at items[0].qty" "$(err)" \
    "input of workflow order-report: items[0].qty: must be >= 1"
expect_eq "a refused input prints nothing on stdout" "" "$(out)"
expect_eq "a refused input names no run" 0 \
    "$(grep -cE '^run [0-9A-Z]{26} ' "$ERR")"
expect_exit 1 orch run "$wf" --input nocustomer.json
expect_contains "a missing property is named" "$(err)" \
    "customer: required property missing"
expect_exit 1 orch run "$wf" --input - <<< '[1]'
expect_contains "a non-object input is refused at the root" "$(err)" \
    "(root): expected object, got array"

# Input that is not JSON: the file, line and column of the bad token.
printf '{"id": "A-1",\n  "customer": nope}\n' > notjson.json
# jansson's column is the last character of the token it choked on.
col=$(awk 'NR == 2 { print index($0, "nope") + 3 }' notjson.json)
expect_exit 1 orch run "$wf" --input notjson.json
expect_contains "bad JSON input is named with its position" "$(err)" \
    "orchestrator run: notjson.json:2:$col: "
expect_eq "notjson.json:2:$col ends the bad token" nope \
    "$(sed -n 2p notjson.json | cut -c"$((col - 3))-$col")"
expect_exit 1 orch run "$wf" --input - < notjson.json
expect_contains "bad JSON on stdin is named <stdin>" "$(err)" \
    "orchestrator run: <stdin>:2:$col: "
expect_exit 1 orch run "$wf" --input no-such-input.json
expect_contains "a missing input file is named" "$(err)" \
    "no-such-input.json: No such file or directory"
expect_not_contains "a missing input file has no made-up position" \
    "$(err)" ":-1"

# None of that created a run.
expect_exit 0 orch runs --json
expect_eq "refused inputs created no run" "" "$(out)"

# The run, buckets in a folder given by --buckets.
expect_exit 0 orch run "$wf" --input "$input" --buckets "$T/bk"
cp "$OUT" run1.json
run1=$(newest_run)
expect_eq "the run id is 26 characters (ULID)" 26 "${#run1}"
expect_eq "run tells the run id on stderr" 1 "$(grep -c "^run $run1 " "$ERR")"
expect_true "run prints its output as JSON" json run1.json 'd'
id=$(json "$input" 'd["id"]')
expect_eq "output names the bucket" reports "$(json run1.json 'd["bucket"]')"
expect_eq "output names the key" "orders/$id.json" \
    "$(json run1.json 'd["key"]')"
report=$T/bk/reports/orders/$id.json
expect_file "the report is in the bucket folder" "$report"
expect_eq "output bytes is the file size" "$(wc -c < "$report")" \
    "$(json run1.json 'd["bytes"]')"
expect_eq "output sha256 is the file's" \
    "$(sha256sum "$report" | cut -d' ' -f1)" "$(json run1.json 'd["sha256"]')"
expect_eq "no temp file is left beside it" "$id.json" \
    "$(ls -A "$T/bk/reports/orders")"
# Pretty JSON: indented by two spaces, one key a line (the Lua step's
# keys come out sorted).
expect_eq "the report is pretty JSON" 1 \
    "$(grep -cx '  "order": "'"$id"'",' "$report")"
expect_eq "the report's keys are sorted" '  "customer": "'"$(json "$input" \
    'd["customer"]')"'",' "$(sed -n 2p "$report")"
expect_eq "report.order" "$id" "$(json "$report" 'd["order"]')"
expect_eq "report.customer" "$(json "$input" 'd["customer"]')" \
    "$(json "$report" 'd["customer"]')"
expect_eq "report.lines are the items" \
    "$(json "$input" '__import__("json").dumps(d["items"], sort_keys=True)')" \
    "$(json "$report" '__import__("json").dumps(d["lines"], sort_keys=True)')"
expect_eq "report.line_count (lua)" "$(json "$input" 'len(d["items"])')" \
    "$(json "$report" 'd["line_count"]')"
expect_eq "report.total_qty (lua)" \
    "$(json "$input" 'sum(i["qty"] for i in d["items"])')" \
    "$(json "$report" 'd["total_qty"]')"
expect_eq "report.first_sku" "$(json "$input" 'd["items"][0]["sku"]')" \
    "$(json "$report" 'd["first_sku"]')"
expect_eq "report.summary" \
    "order $id for $(json "$input" 'd["customer"]')" \
    "$(json "$report" 'd["summary"]')"
expect_eq "report.run is the run id" "$run1" "$(json "$report" 'd["run"]')"

# Input from stdin, buckets from ORCH_BUCKETS.
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["id"] = "B-2002"
d["customer"] = "globex"
print(json.dumps(d))
' "$input" > b2002.json
expect_exit 0 orch run "$wf" --input - < b2002.json
cp "$OUT" run2.json
run2=$(newest_run)
expect_eq "stdin input: the key has its id" orders/B-2002.json \
    "$(json run2.json 'd["key"]')"
expect_file "stdin input: the report is under ORCH_BUCKETS" \
    "$ORCH_BUCKETS/reports/orders/B-2002.json"
expect_eq "stdin input: its customer" globex \
    "$(json "$ORCH_BUCKETS/reports/orders/B-2002.json" 'd["customer"]')"

# runs: both, newest first, succeeded.
expect_exit 0 orch runs
expect_contains "runs has a header" "$(head -n 1 "$OUT")" "STATE"
expect_eq "runs lists run 1 succeeded" 1 \
    "$(grep -cE "^$run1 +order-report +succeeded " "$OUT")"
expect_eq "runs lists run 2 succeeded" 1 \
    "$(grep -cE "^$run2 +order-report +succeeded " "$OUT")"
expect_exit 0 orch runs --json
cp "$OUT" runs.jsonl
expect_true "runs --json is JSON lines" jsonl runs.jsonl 'd'
expect_eq "runs --json: the two runs, newest first" "$run2 $run1" \
    "$(jsonl runs.jsonl '" ".join(r["id"] for r in d)')"
expect_eq "runs --json: both succeeded" "succeeded succeeded" \
    "$(jsonl runs.jsonl '" ".join(r["state"] for r in d)')"
expect_eq "runs --json: workflow" "order-report order-report" \
    "$(jsonl runs.jsonl '" ".join(r["workflow"] for r in d)')"
expect_exit 0 orch runs --json --limit 1
expect_eq "runs --limit 1: the newest" "$run2" \
    "$(jsonl "$OUT" '" ".join(r["id"] for r in d)')"
expect_exit 0 orch runs --json --state failed
expect_eq "runs --state failed: none" "" "$(out)"
expect_exit 0 orch runs --json --workflow no-such-workflow
expect_eq "runs --workflow: filters" "" "$(out)"

# show --json: the run, its steps in order, its transitions in order.
expect_exit 0 orch show "$run1" --json
cp "$OUT" show1.json
expect_true "show --json is JSON" json show1.json 'd'
expect_eq "show: id" "$run1" "$(json show1.json 'd["id"]')"
expect_eq "show: state" succeeded "$(json show1.json 'd["state"]')"
expect_eq "show: no error" null "$(json show1.json 'd["error"]')"
expect_eq "show: input is the input file" "$(json "$input" 'd')" \
    "$(json show1.json 'd["input"]')"
expect_eq "show: output is what run printed" "$(json run1.json 'd')" \
    "$(json show1.json 'd["output"]')"
expect_eq "show: definition is the file's sha256" \
    "$(sha256sum "$wf" | cut -d' ' -f1)" "$(json show1.json 'd["definition"]')"
expect_eq "show: steps in order" "decode process encode publish" \
    "$(json show1.json '" ".join(s["name"] for s in d["steps"])')"
expect_eq "show: steps' seq" "[0, 1, 2, 3]" \
    "$(json show1.json '[s["seq"] for s in d["steps"]]')"
expect_eq "show: one attempt each" "[1, 1, 1, 1]" \
    "$(json show1.json '[s["attempts"] for s in d["steps"]]')"
expect_eq "show: the decode step's output is the input" \
    "$(json "$input" 'd')" "$(json show1.json 'd["steps"][0]["output"]')"
expect_eq "show: the encode step's output is the report's text" \
    "$(cat "$report")" "$(json show1.json 'd["steps"][2]["output"]')"
expect_eq "show: transitions in order" \
    "created started step_succeeded step_succeeded step_succeeded succeeded" \
    "$(json show1.json '" ".join(t["event"] for t in d["transitions"])')"
expect_eq "show: states move queued, running, succeeded" \
    "queued running running running running succeeded" \
    "$(json show1.json '" ".join(t["to"] for t in d["transitions"])')"
expect_eq "show: each transition starts where the last ended" true \
    "$(json show1.json 'all(a["to"] == b["from"] for a, b in
        zip(d["transitions"], d["transitions"][1:]))')"
expect_eq "show: transitions in time order" true \
    "$(json show1.json '([t["at"] for t in d["transitions"]] ==
        sorted(t["at"] for t in d["transitions"]))')"
expect_eq "show: step_succeeded for each step but the last" \
    "decode process encode" \
    "$(json show1.json '" ".join(t["step"] for t in d["transitions"]
        if t["event"] == "step_succeeded")')"

# show as text: the header and the timeline, in order.
expect_exit 0 orch show "$run1"
cp "$OUT" show1.txt
expect_eq "show text: the run" "run        $run1" "$(head -n 1 show1.txt)"
expect_contains "show text: the state" "$(cat show1.txt)" \
    "state      succeeded"
expect_contains "show text: has a timeline" "$(cat show1.txt)" \
    "$(printf '\ntimeline\n')"
timeline=$(sed -n '/^timeline$/,/^$/p' show1.txt |
    awk 'NR > 2 && NF > 0 { print $2 }' | tr '\n' ' ')
expect_eq "show text: the timeline's events in order" \
    "created started step_succeeded step_succeeded step_succeeded succeeded " \
    "$timeline"
expect_contains "show text: ends with the output" \
    "$(sed -n '/^output$/,$p' show1.txt)" '"key": "orders/'"$id"'.json"'

# ORCH_DB is the default database.
expect_exit 0 env ORCH_DB="$T/env.db" "$ORCH_BIN" run "$wf" --input "$input"
expect_exit 0 "$ORCH_BIN" runs --db "$T/env.db" --json
expect_eq "ORCH_DB: the run is there" 1 "$(wc -l < "$OUT")"
expect_exit 0 orch runs --json
expect_eq "ORCH_DB: not in the other database" 2 "$(wc -l < "$OUT")"

finish
