# Helper of the tests that run the README's examples as written, sourced
# after lib.sh.
#
# - readme_runs WHAT MIN FROM UNTIL [ARGS...] runs, in the current folder,
#   the console blocks of README.md between the lines FROM and UNTIL with
#   tests/integration/readme-run.py (ARGS are its --sub and --out options;
#   its comment says what it compares and how loosely), prints its report
#   (kept in $T/readme-N.out) and asserts that every command did as shown
#   and that there were at least MIN of them. WHAT names the part of the
#   README in the assertions.

README_RUNS=0

# readme_runs WHAT MIN FROM UNTIL [ARGS...]: see above.
readme_runs() {
	local what=$1 min=$2 from=$3 until=$4 out rc n
	shift 4
	README_RUNS=$((README_RUNS + 1))
	out=$T/readme-$README_RUNS.out
	python3 "$TOP_SRCDIR/tests/integration/readme-run.py" \
	    "$TOP_SRCDIR/README.md" "$from" "$until" "$@" >"$out" 2>&1
	rc=$?
	cat "$out"
	expect_eq "the README's $what runs as written and prints what it shows" \
	    0 "$rc"
	n=$(sed -n 's/^commands: \([0-9]*\),.*/\1/p' "$out")
	expect_eq "the README's $what has at least $min commands" yes \
	    "$([ "${n:-0}" -ge "$min" ] && echo yes || echo "no: ${n:-none}")"
}
