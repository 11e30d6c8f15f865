#!/usr/bin/env bash
# The commands under valgrind: no invalid access and no definite or
# indirect leak, on success and on failure paths (a failed run with its
# retries and on_failure, a redrive, a replay, an invalid workflow, a usage
# error). Skipped (77) in an ASan build or without valgrind: automake sets
# VALGRIND from configure; by hand, VALGRIND=valgrind bash valgrind.sh.
. "$(dirname "$0")/lib.sh"

[ "${ENABLE_ASAN:-no}" = yes ] && skip "an ASan build cannot run under valgrind"
[ -n "${VALGRIND:-}" ] || skip "no valgrind (VALGRIND is empty)"
command -v "${VALGRIND%% *}" >/dev/null || skip "$VALGRIND is not installed"
grep -q __asan_init "$ORCH_BIN" && skip "$ORCH_BIN is built with ASan"

wfdir=$TOP_SRCDIR/workflows
n=0

# A daemon linked with jemalloc: valgrind replaces its malloc as it does
# the C library's (a no-op for a binary without it).
VG_MALLOC=--soname-synonyms=somalloc=*jemalloc*

# vg CODE ARGS...: the orch command line under valgrind; it must exit CODE
# (valgrind's own error code, 99, means it found errors), and its log must
# show no error and no definite leak.
vg() {
	local code=$1 log
	shift
	n=$((n + 1))
	log=$T/vg-$n.log
	orch_args "$@"
	run_cmd $VALGRIND -q --leak-check=full $VG_MALLOC \
	    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	    --log-file="$log" "${ORCH_ARGS[@]}"
	LAST_CMD="valgrind $* (log $log)"
	if [ "$LAST_RC" -eq 99 ]; then
		fail "valgrind found errors in [$*]"
		sed 's/^/    | /' "$log" | head -n 60
	else
		pass "valgrind: no error in [$*]"
	fi
	expect_eq "valgrind: exit $code from [$*]" "$code" "$LAST_RC"
	# -q leaves the log empty when all is well; without -q the summary
	# would say so. Either is fine; a leak summary must show 0 definite.
	if grep -q 'definitely lost: [1-9]' "$log" ||
	    grep -q 'ERROR SUMMARY: [1-9]' "$log"; then
		fail "valgrind log of [$*] reports errors or leaks"
		sed 's/^/    | /' "$log" | head -n 60
	else
		pass "valgrind log of [$*] is clean"
	fi
}

# vg_full ARGS...: the same without -q, to see the leak summary itself.
vg_full() {
	local code=$1 log
	shift
	n=$((n + 1))
	log=$T/vg-$n.log
	orch_args "$@"
	run_cmd $VALGRIND --leak-check=full $VG_MALLOC \
	    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	    --log-file="$log" "${ORCH_ARGS[@]}"
	LAST_CMD="valgrind $* (log $log)"
	expect_ne "valgrind: no error in [$*]" 99 "$LAST_RC"
	expect_eq "valgrind: exit $code from [$*]" "$code" "$LAST_RC"
	if grep -q 'definitely lost: 0 bytes' "$log" ||
	    grep -q 'no leaks are possible' "$log"; then
		pass "valgrind: nothing definitely lost in [$*]"
	else
		fail "valgrind: a leak in [$*]"
		sed 's/^/    | /' "$log" | tail -n 40
	fi
	expect_contains "valgrind: 0 errors in [$*]" \
	    "$(grep 'ERROR SUMMARY' "$log")" "ERROR SUMMARY: 0 errors"
}

# A run that succeeds, and the read commands on it.
vg_full 0 run "$wfdir/order-report.json" \
    --input "$wfdir/inputs/order-report.json"
expect_contains "the run under valgrind published the report" "$(out)" \
    '"bucket": "reports"'
id=$(newest_run)
expect_eq "the run under valgrind is stored" 26 "${#id}"
vg_full 0 runs
vg 0 runs --json
vg_full 0 show "$id"
vg 0 show "$id" --json
vg 1 show 01NOSUCHRUN0000000000000000

# validate: the examples, and a workflow with problems.
vg_full 0 validate "$wfdir/order-report.json" "$wfdir/flaky-export.json"
cat > broken.json <<'EOF'
{
  "name": "broken",
  "colour": 1,
  "input": { "type": "object", "pattern": "x" },
  "steps": [
    { "name": "a", "uses": "frobnicate" },
    { "name": "a", "uses": "lua" },
    { "name": "b", "uses": "bucket.put",
      "with": { "bucket": "x", "key": "{{nope.x}}" } }
  ]
}
EOF
printf '{ "name": "x", "name": "y" }\n' > dup.json
vg_full 1 validate broken.json dup.json

# The failing run: timeouts, retries with backoff, on_failure.
vg_full 1 run "$wfdir/flaky-export.json"
failed=$(newest_run)
expect_eq "the flaky run under valgrind failed" failed \
    "$(orch show "$failed" --json | json - 'd["state"]')"
expect_file "its dead letter is written" \
    "$ORCH_BUCKETS/dead-letters/flaky-export/$failed.json"

# Replay and retry on a fixed definition; cancel of a finished run.
mkdir fixed
sed 's/"ms": 5000/"ms": 10/' "$wfdir/flaky-export.json" \
    > fixed/flaky-export.json
vg_full 0 replay "$failed" --file fixed/flaky-export.json
vg_full 0 retry "$failed" --latest --workflows "$T/fixed"
vg 1 retry "$failed"
vg 1 cancel "$failed"

# Refused input and a usage error.
echo '{"id": "x", "customer": "c", "items": [{"sku": "a", "qty": 0}]}' \
    > bad-input.json
vg 1 run "$wfdir/order-report.json" --input bad-input.json
vg 2 runs --no-such-option

finish
