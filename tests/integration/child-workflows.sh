#!/usr/bin/env bash
# Child workflows (README "Child workflows"): a workflow step starts a run
# of another workflow, which runs lists with its parent; with "wait" the
# step's output is the child's output and a failed child fails the step,
# without it the output is the child's run id. Cancelling the parent
# cancels the child it waits for; nesting is bounded; a child's input is
# checked against its workflow's schema.
. "$(dirname "$0")/serve-lib.sh"

cat > "$WF/double.json" <<'EOF'
{ "name": "double",
  "input": { "type": "object", "required": ["n"] },
  "steps": [
    { "name": "calc", "uses": "transform",
      "with": { "twice": "{{input.n}}", "from": "{{run.workflow}}" } } ] }
EOF
cat > "$WF/hold.json" <<'EOF'
{ "name": "hold", "steps": [ { "name": "gate", "uses": "wait.signal" } ] }
EOF
cat > "$WF/caller.json" <<'EOF'
{ "name": "caller",
  "trigger": { "webhook": { "path": "/hooks/caller" } },
  "steps": [
    { "name": "sub", "uses": "workflow",
      "with": { "workflow": "{{input.child}}", "input": "{{input.with}}" } },
    { "name": "fire", "uses": "workflow",
      "with": { "workflow": "double", "input": { "n": 7 }, "wait": false } },
    { "name": "both", "uses": "transform",
      "with": { "sub": "{{steps.sub}}", "fired": "{{steps.fire}}" } } ] }
EOF
cat > "$WF/deep.json" <<'EOF'
{ "name": "deep",
  "trigger": { "webhook": { "path": "/hooks/deep" } },
  "steps": [
    { "name": "again", "uses": "workflow", "with": { "workflow": "deep" } } ] }
EOF
expect_exit 0 orch validate "$WF"
cat > bad.json <<'EOF'
{ "name": "bad", "steps": [
  { "name": "a", "uses": "workflow" },
  { "name": "b", "uses": "workflow", "with": { "workflow": 3, "wait": 1 } } ] }
EOF
expect_exit 1 orch validate bad.json
expect_contains "a workflow step names its workflow" "$(err)" \
    'bad.json:2:3: steps[0].with: a workflow step names its workflow'
expect_contains "the name is a string" "$(err)" \
    "steps[1].with.workflow: expected a workflow's name"
expect_contains "wait is true or false" "$(err)" \
    'steps[1].with.wait: expected true or false'

# orchestrator run finds the child's workflow in --workflows.
expect_exit 0 orch run "$WF/caller.json" --workflows "$WF" --input - <<< \
    '{"child": "double", "with": {"n": 2}}'
expect_eq "run: the child's output" 2 "$(json "$OUT" 'd["sub"]["twice"]')"
expect_exit 1 orch run "$WF/caller.json" --workflows "$T" --input - <<< \
    '{"child": "double", "with": {"n": 2}}'
expect_contains "run: a workflow not in the folder" "$(err)" \
    "no workflow double is loaded"

serve_start
state_of() {	# state_of RUN: its state, from the store
	orch show "$1" --json | json - 'd["state"]'
}
post() {	# post PATH JSON: triggers and waits; RUN gets the run's id
	req POST "$1" -H 'Content-Type: application/json' \
	    -H 'Prefer: wait=30' -d "$2"
	RUN=$(header Run-Id)
}
post /hooks/caller '{"child": "double", "with": {"n": 21}}'
expect_eq "the caller succeeded" 200 "$CODE"
expect_eq "with wait, the step's output is the child's output" \
    '{"twice": 21, "from": "double"}' \
    "$(json "$T/body" '__import__("json").dumps(d["sub"])')"
fired=$(json "$T/body" 'd["fired"]')
expect_true "without wait, the output is the child's run id" \
    test "${#fired}" -eq 26
wait_eq 10 succeeded state_of "$fired"
expect_eq "that child ran, with the input given" 7 \
    "$(orch show "$fired" --json | json - 'd["output"]["twice"]')"
orch show "$fired" --json > fired.json
expect_eq "the child names its parent and step" "$RUN fire" \
    "$(json fired.json 'd["parent"]["run"] + " " + d["parent"]["step"]')"
expect_exit 0 orch runs --json --workflow double
expect_eq "runs lists the children (two from run, two here)" 4 \
    "$(jsonl "$OUT" 'len(d)')"
expect_exit 0 orch show "$RUN"
expect_contains "the parent's show lists its children" "$(out)" \
    "fire  -     $fired  succeeded"
orch show "$RUN" --json > caller.json
expect_eq "show counts the parent's children" "1 1" \
    "$(json caller.json '"%d %d" % (d["items"]["sub"]["succeeded"],
        d["items"]["fire"]["total"])')"

# A failed child fails the step, naming it; an input its workflow refuses
# fails it too, and nothing is created.
post /hooks/caller '{"child": "double", "with": {"m": 1}}'
orch show "$RUN" --json > caller.json
expect_eq "a child's input is checked" failed "$(json caller.json 'd["state"]')"
expect_contains "the error says why" "$(json caller.json 'd["error"]')" \
    "input of workflow double"
post /hooks/caller '{"child": "nope", "with": {}}'
expect_contains "an unknown workflow fails the step, saying so" \
    "$(orch show "$RUN" --json | json - 'd["error"]')" \
    "no workflow nope is loaded"

# Cancelling the parent cancels the child it waits for.
req POST /hooks/caller -H 'Content-Type: application/json' \
    -d '{"child": "hold", "with": {}}'
RUN=$(header Run-Id)
child=
for i in $(seq 1 100); do
	child=$(orch runs --json --workflow hold | json - 'd["id"]' 2>/dev/null)
	[ -n "$child" ] && [ "$(state_of "$child")" = waiting ] && break
	sleep 0.1
done
expect_exit 0 orch cancel "$RUN" --url "$URL"
wait_eq 10 cancelled state_of "$child"
expect_eq "the waiting child is cancelled with its parent" cancelled \
    "$(state_of "$child")"

# Nesting is bounded: a workflow that starts itself stops at 16.
post /hooks/deep '{}'
expect_eq "a run 16 deep fails its step" 1 \
    "$(sqlite_q "$DB" "SELECT count(*) FROM runs WHERE workflow = 'deep'
        AND error = 'step again: workflow deep: child workflows nest 16 deep at most'")"
expect_eq "every level failed with it" 17 \
    "$(sqlite_q "$DB" "SELECT count(*) FROM runs WHERE workflow = 'deep'
        AND state = 'failed'")"
serve_stop
finish
