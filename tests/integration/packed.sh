#!/usr/bin/env bash
# Packed JSON columns (issue 20, store-pack.h): the example order-report,
# run five times with `orchestrator run`, stores its step outputs and run
# inputs deflated against one dictionary per workflow and field, in a
# fraction of their bytes, and show, show --json and a backup's copy read
# them back as the run wrote them; ORCH_COMPRESS=0 writes text; a missing
# dictionary is an error.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
EX=$TOP_SRCDIR/workflows

for i in 1 2 3 4 5; do
	expect_exit 0 orch run "$EX/order-report.json" \
	    --input "$EX/inputs/order-report.json"
done
ID=$(newest_run)
expect_eq "a dictionary per step and one for the input" \
    "\$input decode encode process publish" \
    "$(sqlite_q "$DB" "SELECT group_concat(field, ' ') FROM (SELECT field
    FROM dictionaries WHERE workflow = 'order-report' ORDER BY field)")"
expect_eq "every step output packed" "20 of 20" \
    "$(sqlite_q "$DB" "SELECT sum(typeof(output) = 'blob') || ' of ' ||
    count(*) FROM steps")"
expect_eq "every input packed" 5 \
    "$(sqlite_q "$DB" "SELECT count(*) FROM runs WHERE
    typeof(input) = 'blob'")"

expect_exit 0 orch show "$ID" --json
cp "$OUT" "$T/show.json"
expect_eq "show --json reads the outputs" \
    "decode:A-1001 process:acme encode:str publish:orders/A-1001.json" \
    "$(json "$T/show.json" '" ".join("%s:%s" % (s["name"],
    (lambda o: o.get("id") or o.get("customer") or o.get("key")
    if isinstance(o, dict) else type(o).__name__[:3])(s["output"]))
    for s in d["steps"])')"
raw=$(json "$T/show.json" 'sum(len(__import__("json").dumps(s["output"],
    separators=(",", ":"))) for s in d["steps"])')
stored=$(sqlite_q "$DB" "SELECT sum(length(output)) FROM steps WHERE
    run_id = '$ID'")
expect_true "stored in under a fifth of the text ($stored of $raw)" \
    [ $((stored * 5)) -lt "$raw" ]
expect_exit 0 orch show "$ID"
expect_contains "show prints an output" "$(out)" '"first_sku":"widget"'
# The format as store-pack.h gives it, read by Python's zlib.
expect_eq "a packed output read without the daemon" \
    "$(json "$T/show.json" 'd["steps"][1]["output"]')" \
    "$(sqlite_json "$DB" "SELECT output FROM steps WHERE run_id = '$ID'
    AND seq = 1" | json - d)"

# A backup's copy carries the dictionaries.
expect_exit 0 "$ORCH_BIN" backup "$T/copy.db" --db "$DB"
expect_exit 0 "$ORCH_BIN" show "$ID" --json --db "$T/copy.db"
expect_eq "the copy reads the same run" "$(cat "$T/show.json")" "$(out)"

# ORCH_COMPRESS=0: new values as text, the packed ones read as before.
ORCH_COMPRESS=0 expect_exit 0 orch run "$EX/order-report.json" \
    --input "$EX/inputs/order-report.json"
TEXT=$(newest_run)
expect_eq "ORCH_COMPRESS=0 stores text" "text text text text" \
    "$(sqlite_q "$DB" "SELECT group_concat(typeof(output), ' ') FROM
    (SELECT output FROM steps WHERE run_id = '$TEXT' ORDER BY seq)")"
ORCH_COMPRESS=0 expect_exit 0 orch show "$ID" --json
expect_eq "and reads the packed runs" "$(cat "$T/show.json")" "$(out)"
ORCH_COMPRESS=maybe expect_exit 1 orch runs
expect_contains "a bad ORCH_COMPRESS is named" "$(err)" ORCH_COMPRESS

# A damaged store: without its dictionary a packed output is an error
# that names it, not a wrong document.
sqlite_q "$DB" "DELETE FROM dictionaries WHERE field = 'process'"
expect_exit 1 orch show "$ID" --json
expect_contains "the missing dictionary is named" "$(err)" \
    "which is not there"
finish
