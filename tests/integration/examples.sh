#!/usr/bin/env bash
# The shipped examples stay working: every workflows/*.json validates, and
# every example with an input, workflows/inputs/NAME.json, runs to success
# on that input, its output meeting the workflow's "output" contract.
# An example that talks to 127.0.0.1:9100, the documented address of
# contrib/example-service.py (background-task), runs against that service
# started on a free port, from a copy of the example with the address
# rewritten.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/service-lib.sh"

wfdir=$TOP_SRCDIR/workflows
n_wf=0
n_run=0
for f in "$wfdir"/*.json; do
	n_wf=$((n_wf + 1))
	base=$(basename "$f" .json)
	name=$(json "$f" 'd["name"]')
	expect_exit 0 orch validate "$f"
	expect_eq "$base validates" 1 \
	    "$(grep -c "^$f: ok (workflow $name," "$OUT")"
	expect_eq "$base: the file is named after its workflow" "$base" "$name"

	in=$wfdir/inputs/$base.json
	[ -f "$in" ] || continue
	n_run=$((n_run + 1))
	if grep -q '127\.0\.0\.1:9100' "$f" "$in"; then
		[ -n "$SVC_PID" ] || svc_start --quiet || continue
		svc_copy_example "$base" "$T/svc"
		expect_exit 0 orch run "$T/svc/$base.json" \
		    --input "$T/svc/inputs/$base.json"
	else
		expect_exit 0 orch run "$f" --input "$in"
	fi
	cp "$OUT" "$base.out.json"
	expect_true "$base: the output is JSON" json "$base.out.json" 'd'
	id=$(newest_run)
	expect_eq "$base: the run succeeded" succeeded \
	    "$(orch show "$id" --json | json - 'd["state"]')"
	expect_eq "$base: the stored output is the printed one" \
	    "$(json "$base.out.json" 'd')" \
	    "$(orch show "$id" --json | json - 'd["output"]')"
	# The output has what the workflow's "output" schema requires.
	missing=$(python3 -c '
import json, sys
wf = json.load(open(sys.argv[1]))
out = json.load(open(sys.argv[2]))
req = wf.get("output", {}).get("required", [])
print(" ".join(k for k in req if k not in out))
' "$f" "$base.out.json")
	expect_eq "$base: the output has the required keys" "" "$missing"
done
expect_ne "there are example workflows" 0 "$n_wf"
expect_ne "at least one example has an input to run" 0 "$n_run"

# Each input file belongs to an example.
for in in "$wfdir"/inputs/*.json; do
	[ -e "$in" ] || continue
	base=$(basename "$in" .json)
	expect_file "$(basename "$in") has its workflow" "$wfdir/$base.json"
	expect_true "$(basename "$in") is JSON" json "$in" 'd'
done

finish
