#!/usr/bin/env bash
# orchestrator validate (SPEC sections 1 and 5): the examples are valid; a
# broken workflow gets every one of its problems reported, each as
# FILE:LINE:COLUMN: message, and exit 1. The test does not trust the
# positions the tool prints: it finds each offending token in the file
# itself (line with grep, column with awk) and checks the printed position
# is that one, and reads the file back at the printed position.
. "$(dirname "$0")/lib.sh"

wfdir=$TOP_SRCDIR/workflows

# The examples: each file alone and all together, "ok" with the name and
# the number of steps the file declares.
examples=$(ls "$wfdir"/*.json)
expect_ne "there are example workflows" "" "$examples"
for f in $examples; do
	name=$(json "$f" 'd["name"]')
	n=$(json "$f" 'len(d["steps"])')
	expect_exit 0 orch validate "$f"
	expect_eq "$(basename "$f") is ok" \
	    "$f: ok (workflow $name, $n steps)" "$(out)"
	expect_eq "$(basename "$f"): nothing on stderr" "" "$(err)"
done
expect_exit 0 orch validate $examples
expect_eq "all examples at once: one ok line each" \
    "$(echo "$examples" | wc -l)" "$(grep -c ': ok (workflow ' "$OUT")"

# pos_of FILE ANCHOR: "LINE:COLUMN" of the one occurrence of the fixed
# string ANCHOR in FILE (the position of its first character). Fails the
# test when ANCHOR is not there exactly once.
pos_of() {
	local n
	n=$(grep -cF -- "$2" "$1")
	if [ "$n" -ne 1 ]; then
		fail "anchor [$2] is in $1 $n times, not once"
		echo "0:0"
		return
	fi
	awk -v a="$2" 'index($0, a) { print NR ":" index($0, a); exit }' "$1"
}

# text_at FILE LINE COLUMN LENGTH: LENGTH characters of FILE from there.
text_at() {
	sed -n "${2}p" "$1" | cut -c"$3-$(($3 + $4 - 1))"
}

# A workflow with many problems, each on a token of its own. Every line of
# the table is ANCHOR<TAB>MESSAGE: the problem must be reported at the
# first character of ANCHOR with exactly that message. Its Lua script has
# a syntax error on its line 2.
printf 'return function(input)\n  if then\nend\n' > x.lua
cat > broken.json <<'EOF'
{
  "name": "broken_one",
  "colour": "blue",
  "description": 42,
  "concurrency": "many",
  "defaults": { "retry": { "max_attempts": 0, "backoff": 5 } },
  "input": {
    "type": "object",
    "properties": {
      "id": { "type": "string", "pattern": "^A" }
    }
  },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "script", "uses": "lua", "script": "x.lua" },
    { "name": "mystery", "uses": "frobnicate" },
    { "name": "decode", "uses": "json.encode" },
    { "name": "nap", "uses": "wait", "with": { "ms": 10, "seconds": 1 } },
    { "name": "put", "uses": "bucket.put",
      "with": { "bucket": "b", "key": "{{secrets.token}}.json" } }
  ]
}
EOF
tab=$(printf '\t')
types="json.decode, json.encode, base64.decode, base64.encode, bucket.put,"
types="$types wait, wait.signal, transform, http.request, lua, bucket.get,"
types="$types choice, map, parallel, workflow"
cat > expected.tsv <<EOF
"colour"${tab}unknown key "colour"
"description"${tab}description: expected a string
"concurrency"${tab}concurrency: expected a positive integer
"max_attempts"${tab}defaults.retry.max_attempts: expected a positive integer
"backoff"${tab}unknown key "backoff" in defaults.retry
"id": { "type": "string", "pattern"${tab}input.properties.id: unknown schema keyword "pattern"
"script": "x.lua"${tab}steps[1].script: the script does not compile: x.lua:2: unexpected symbol near 'then'
"uses": "frobnicate"${tab}steps[2].uses: unknown step type "frobnicate" (the types are $types)
"name": "decode", "uses": "json.encode"${tab}steps[3].name: duplicate step name "decode"
"seconds"${tab}unknown key "seconds" in steps[4].with (allowed: ms, until, durable)
"key": "{{secrets${tab}steps[5].with.key: unknown template root "secrets" (expected input, trigger, steps, run, or item and item_index in a map's steps)
EOF
# The schema problem is reported at the schema that holds the bad keyword
# (the key "id"), which is on the same line as the keyword.

# expect_problems FILE TABLE: validate FILE reports the problems of TABLE
# (ANCHOR<TAB>MESSAGE lines), each at its anchor, no more, in file order;
# its stderr is kept in FILE's name with .err for .json.
expect_problems() {
	local f=$1 table=$2 errf=${1%.json}.err anchor msg pos want n got
	local line col
	expect_exit 1 orch validate "$f"
	expect_eq "$f: nothing on stdout" "" "$(out)"
	cp "$ERR" "$errf"
	expect_eq "$f: one line per problem, no more" \
	    "$(wc -l < "$table")" "$(wc -l < "$errf")"
	while IFS="$tab" read -r anchor msg; do
		pos=$(pos_of "$f" "$anchor")
		want="$f:$pos: $msg"
		n=$(grep -cxF -- "$want" "$errf")
		expect_eq "reported at $pos: $msg" 1 "$n"
		# Read the file where the printed line says: the token.
		got=$(grep -F -- ": $msg" "$errf" | head -n 1)
		line=$(echo "$got" | cut -d: -f2)
		col=$(echo "$got" | cut -d: -f3)
		expect_eq "$f:$line:$col holds [${anchor:0:20}]" \
		    "$anchor" "$(text_at "$f" "${line:-0}" "${col:-0}" \
		    ${#anchor})"
	done < "$table"
	# Problems come in the order of the file.
	expect_eq "$f: problems are in file order" \
	    "$(cut -d: -f2 "$errf" | sort -n | tr '\n' ' ')" \
	    "$(cut -d: -f2 "$errf" | tr '\n' ' ')"
}
expect_problems broken.json expected.tsv

# Branching (README "Branching"): targets that name no step, rules that
# can never match, a loop with no way out, next and end where they cannot
# be.
cat > branch.json <<'EOF'
{
  "name": "branch",
  "steps": [
    { "name": "pick", "uses": "choice", "next": "again", "with": {
        "rules": [
          { "when": { "path": "kind", "equals": "bug" }, "next": "bgu" },
          { "when": { "path": "n", "lt": true }, "next": "fix" },
          { "when": { "path": "tags", "in": [] }, "next": "fix" },
          { "when": { "path": "id", "prefix": 42 }, "next": "fix" },
          { "when": { "path": "a..b", "equals": 1, "gt": 2 }, "next": "fix" }
        ],
        "default": "ok" } },
    { "name": "fix", "uses": "transform", "next": "again" },
    { "name": "again", "uses": "transform", "next": "fix" },
    { "name": "ok", "uses": "transform", "next": "ok", "end": true }
  ],
  "on_failure": { "uses": "transform", "next": "ok" }
}
EOF
steps='(the steps are "pick", "fix", "again", "ok")'
cat > branch.tsv <<EOF
"next": "again", "with"${tab}steps[0].next: a choice step chooses its next step itself: it takes no "next"
"next": "bgu"${tab}steps[0].with.rules[0].next: no step named "bgu" $steps
"lt"${tab}steps[0].with.rules[1].when.lt: "lt" compares numbers or strings: a boolean can never match
"in"${tab}steps[0].with.rules[2].when.in: an empty "in" list can never match
"prefix"${tab}steps[0].with.rules[3].when.prefix: "prefix" matches strings: a number can never match
"path": "a..b"${tab}steps[0].with.rules[4].when.path: bad path "a..b" (use field names, dots and [index])
"when": { "path": "a..b"${tab}steps[0].with.rules[4].when: a condition has one operator; combine several with "all"
{ "name": "fix"${tab}steps[1]: steps "fix" and "again" loop with no way out: no rule, "next" or "end" leads from them to the end of the run
"end"${tab}steps[3].end: a step has "next" or "end", not both
"next": "ok" }${tab}on_failure.next: the failure handler ends the run: it takes no "next"
EOF
expect_problems branch.json branch.tsv

# A JSON syntax error: jansson's position, which is the last character of
# the token it choked on ("uses", where a comma should come before it).
cat > syntax.json <<'EOF'
{
  "name": "syntax",
  "steps": [
    { "name": "a" "uses": "wait" }
  ]
}
EOF
expect_exit 1 orch validate syntax.json
pos=$(pos_of syntax.json '"uses"')
want="syntax.json:${pos%:*}:$((${pos#*:} + 5)): '}' expected near '\"uses\"'"
expect_eq "syntax error: one line at the token" "$want" "$(err)"
col=$(err | cut -d: -f3)
expect_eq "syntax.json: the printed column ends the token \"uses\"" \
    '"uses"' "$(text_at syntax.json "${pos%:*}" $((${col:-6} - 5)) 6)"

# A duplicate key is refused, at the repeated key.
cat > dup.json <<'EOF'
{
  "name": "dup",
  "steps": [ { "name": "a", "uses": "json.decode" } ],
  "nombre": 1,
  "name": "dup-again"
}
EOF
expect_exit 1 orch validate dup.json
pos=$(pos_of dup.json '"name": "dup-again"')
want="dup.json:${pos%:*}:$((${pos#*:} + 5)): duplicate object key"
want="$want near '\"name\"'"
expect_eq "duplicate key: one line at the repeated key" "$want" "$(err)"

# Several files at once: each checked, every problem of each reported, an
# ok line for the good one, exit 1 because one is bad.
good=$wfdir/order-report.json
expect_exit 1 orch validate syntax.json "$good" broken.json dup.json
expect_eq "several files: the good one is ok" 1 \
    "$(grep -c "^$good: ok (workflow order-report" "$OUT")"
expect_eq "several files: every problem of every file" \
    $(($(wc -l < expected.tsv) + 2)) "$(wc -l < "$ERR")"
expect_eq "several files: broken.json's problems are all there" \
    "$(cat broken.err)" "$(grep '^broken\.json:' "$ERR")"

# Not a workflow at all, and no file.
echo '[1, 2]' > array.json
expect_exit 1 orch validate array.json
want="array.json:1:1: expected an object with the workflow's"
expect_eq "an array is not a workflow" "$want \"name\" and \"steps\"" \
    "$(err)"
expect_exit 1 orch validate no-such-file.json
expect_contains "a missing file is named" "$(err)" "no-such-file.json"
expect_eq "a missing file: one line" 1 "$(wc -l < "$ERR")"

# A step type that is part of a real one: the real one is suggested.
cat > near.json <<'EOF'
{ "name": "near", "steps": [ { "name": "get", "uses": "http" } ] }
EOF
expect_exit 1 orch validate near.json
expect_contains "a partial step type: the real one suggested" "$(err)" \
    'unknown step type "http": did you mean "http.request"? (the types are'

# A folder: every *.json in it, as serve loads them; an empty folder is
# refused with a reason, not a read error.
mkdir -p folder/empty
cp "$good" "$wfdir"/*.lua folder/
cp near.json folder/
expect_exit 1 orch validate folder
expect_eq "a folder: its good file is ok" \
    "folder/order-report.json: ok (workflow order-report, 4 steps)" "$(out)"
expect_contains "a folder: its bad file's problem" "$(err)" \
    "folder/near.json:1:"
rm folder/near.json
expect_exit 0 orch validate folder/
expect_contains "a folder with a trailing slash" "$(out)" \
    "folder/order-report.json: ok"
expect_exit 1 orch validate folder/empty
expect_eq "a folder without workflows says so" \
    "folder/empty: no *.json workflow files in this folder" "$(err)"
expect_exit 1 orch run folder
expect_eq "run of a folder: the reason, not a read error" \
    "folder: Is a directory" "$(err)"

# Webhook paths: one the server routes itself is a problem of the file
# alone; two files of a folder with one path are a problem naming both.
hook() {	# hook NAME PATH
	printf '{\n  "name": "%s",\n  "trigger": { "webhook": { "path": "%s" } },
  "steps": [ { "name": "s", "uses": "json.encode" } ]\n}\n' "$1" "$2"
}
for p in /healthz /metrics /runs /runs/retry /runs/abc/cancel /workflows \
    /workflows/w/runs; do
	hook shadow "$p" > shadow.json
	expect_exit 1 orch validate shadow.json
	expect_contains "webhook path $p shadows the API" "$(err)" \
	    "shadow.json:3:29: trigger.webhook.path: \"$p\" is the server's"
done
hook shadow /hooks/healthz > shadow.json
expect_exit 0 orch validate shadow.json
mkdir -p paths
hook first /hooks/same > paths/a.json
hook second /hooks/same > paths/b.json
hook third /hooks/other > paths/c.json
expect_exit 1 orch validate paths
want='paths/b.json:3:29: webhook path "/hooks/same" already used by'
want="$want paths/a.json (workflow first); give one of them another path"
expect_eq "a path used twice: the later file refused, naming the first" \
    "$want" "$(err)"
expect_contains "a path used twice: the others are ok" "$(out)" \
    "paths/c.json: ok (workflow third, 1 step)"
expect_exit 0 orch validate paths/a.json paths/b.json
expect_eq "files named one by one are checked alone" 2 \
    "$(grep -c ': ok' "$OUT")"

# A fixed copy of the broken workflow validates: the problems were the
# only thing wrong with it.
sed -e '/"colour"/d' -e 's/"description": 42/"description": "x"/' \
    -e 's/"many"/4/' -e 's/"max_attempts": 0, "backoff": 5/"max_attempts": 2/' \
    -e 's/, "pattern": "^A"//' -e '/"uses": "lua"/d' \
    -e '/"frobnicate"/d' \
    -e 's/"decode", "uses": "json.encode"/"encode", "uses": "json.encode"/' \
    -e 's/, "seconds": 1//' -e 's/secrets.token/run.id/' \
    broken.json > fixed.json
expect_exit 0 orch validate fixed.json
expect_eq "the fixed copy is ok" \
    "fixed.json: ok (workflow broken_one, 4 steps)" "$(out)"

# A Lua script's main chunk must return the step's function: validate
# runs the chunk (sandboxed); loading only compiles it.
cat >luacheck.json <<'JSON'
{ "name": "luacheck", "steps": [
  { "name": "a", "uses": "lua", "script": "number.lua" },
  { "name": "b", "uses": "lua", "script": "oops.lua" },
  { "name": "c", "uses": "lua", "script": "good.lua" } ] }
JSON
printf 'return 42\n' >number.lua
printf 'local t = nil\nreturn t.x\n' >oops.lua
printf 'local m = require("helper")\nreturn function(i) return m.f(i) end\n' \
    >good.lua
printf 'return { f = function(i) return i end }\n' >helper.lua
expect_exit 1 orch validate luacheck.json
expect_contains "a chunk that returns a number is named" "$(err)" \
    "luacheck.json: step a: number.lua must return a function (input, ctx), not a number"
expect_contains "a chunk that fails says where" "$(err)" \
    "luacheck.json: step b: oops.lua:2: attempt to index a nil value"
expect_not_contains "a good chunk (with require) passes" "$(err)" "step c"
printf 'return function() return 1 end\n' >number.lua
printf 'return function() return 2 end\n' >oops.lua
expect_exit 0 orch validate luacheck.json

finish
