#!/usr/bin/env bash
# Branching without Lua (README "Branching"): orchestrator run takes the
# route a choice step's rules pick, "next" and "end" move the run, and
# show lists the steps taken, in order. The refund-router example is the
# one the README prints; a choice with no match and no default fails the
# run naming the step; a lua step's own choice wins over its "next".
. "$(dirname "$0")/lib.sh"

wf=$TOP_SRCDIR/workflows/refund-router.json
[ -f "$wf" ] || hard_error "no refund-router example"

# The README's example is the file itself, so that it runs as shown.
expect_true "the README's Branching example is workflows/refund-router.json" \
    python3 -c '
import json, sys
text = open(sys.argv[1]).read()
text = text[text.index("### Branching"):]
block = text[text.index("```json\n") + 8:]
sys.exit(json.loads(block[:block.index("```")]) != json.load(open(sys.argv[2])))
' "$TOP_SRCDIR/README.md" "$wf"

# route INPUT: runs the example on INPUT (JSON text); sets ROUTE to the
# steps the run took, with spaces, then its decision.
route() {
	local id
	expect_exit 0 orch run "$wf" --input - <<< "$1"
	id=$(newest_run)
	ROUTE=$(orch show "$id" --json | json - \
	    '" ".join(s["name"] for s in d["steps"]) + " " + d["output"]["decision"]')
}

route '{"id": "R-1", "amount": 30, "currency": "EUR"}'
expect_eq "a small refund from a known customer is approved" \
    "decode route approve summary approved" "$ROUTE"
route '{"id": "R-2", "amount": 80, "currency": "USD"}'
expect_eq "a large refund goes to review" \
    "decode route review summary review" "$ROUTE"
route '{"id": "R-3", "amount": 5, "currency": "EUR",
        "customer": {"tags": ["new"]}}'
expect_eq "a new customer goes to review (contains in an array)" \
    "decode route review summary review" "$ROUTE"
route '{"id": "R-4", "amount": 5, "currency": "GBP"}'
expect_eq "an unknown currency is rejected, and end stops the run there" \
    "decode route reject rejected" "$ROUTE"
route '{"id": "R-5", "currency": "EUR"}'
expect_eq "no amount is rejected (exists: false)" \
    "decode route reject rejected" "$ROUTE"
id=$(newest_run)
expect_eq "the run ended by end: true has that step's output" \
    "decision=rejected id=R-5 queue=none" "$(orch show "$id" --json |
    json - '" ".join(k + "=" + d["output"][k] for k in sorted(d["output"]))')"
expect_exit 0 orch show "$id"
expect_contains "show lists the route taken" "$(out)" "reject"
expect_not_contains "show lists no step the run skipped" "$(out)" "summary"
# The choice step's output is its input, unchanged.
expect_eq "the choice step passes its input through" \
    "$(orch show "$id" --json | json - 'd["steps"][0]["output"]')" \
    "$(orch show "$id" --json | json - 'd["steps"][1]["output"]')"

# No rule matches and there is no default: the run fails, for good (one
# attempt), naming the step.
cat > strict.json <<'EOF'
{ "name": "strict", "steps": [
  { "name": "pick", "uses": "choice", "with": { "rules": [
    { "when": { "path": "kind", "equals": "bug" }, "next": "bug" } ] } },
  { "name": "bug", "uses": "transform", "with": { "queue": "eng" } } ] }
EOF
expect_exit 0 orch run strict.json --input - <<< '{"kind": "bug"}'
expect_eq "a matching rule is taken" eng "$(json "$OUT" 'd["queue"]')"
expect_exit 1 orch run strict.json --input - <<< '{"kind": "idea"}'
id=$(newest_run)
orch show "$id" --json > strict.out
expect_eq "no match and no default: the run failed" failed \
    "$(json strict.out 'd["state"]')"
expect_eq "no match and no default: the error names the step" \
    'step pick: no rule matched the input and there is no "default"' \
    "$(json strict.out 'd["error"]')"
expect_eq "no match is not retried" 1 "$(json strict.out 'd["attempt"]')"

# A lua step's own choice wins over its "next"; "next" applies when the
# script names no step.
cat > pick.lua <<'EOF'
return function(input)
  if input.jump then return input, "b" end
  return input
end
EOF
cat > lua-next.json <<'EOF'
{ "name": "lua-next", "steps": [
  { "name": "a", "uses": "lua", "script": "pick.lua", "next": "c" },
  { "name": "b", "uses": "transform", "with": { "at": "b" }, "end": true },
  { "name": "c", "uses": "transform", "with": { "at": "c" } } ] }
EOF
expect_exit 0 orch run lua-next.json --input - <<< '{"jump": true}'
expect_eq "the script's choice wins over next" b "$(json "$OUT" 'd["at"]')"
expect_exit 0 orch run lua-next.json --input - <<< '{"jump": false}'
expect_eq "next applies when the script chooses nothing" c \
    "$(json "$OUT" 'd["at"]')"

finish
