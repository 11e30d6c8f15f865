#!/usr/bin/env bash
# Runs unit test programs under valgrind's memcheck: `make check-valgrind`
# runs every one of them (tests/unit/test-* and the fuzz corpus runners,
# tests/fuzz/*-regress). Each must exit 0 with no invalid access and no
# definite or indirect leak; a program's log is kept as PROGRAM.vg.log
# when it fails. Skipped (exit 77) in an ASan build, which valgrind cannot
# run. Usage: valgrind-unit.sh PROGRAM...; VALGRIND overrides the command
# (default valgrind), VG_TIMEOUT the seconds each may take (default 600).
set -u
vg=${VALGRIND:-valgrind}
command -v "${vg%% *}" >/dev/null || { echo "SKIP: no $vg"; exit 77; }
[ $# -gt 0 ] || { echo "usage: $0 PROGRAM..." >&2; exit 2; }
pass=0
failed=()
for p in "$@"; do
	if grep -q __asan_init "$p" 2>/dev/null; then
		echo "SKIP: $p is built with ASan; configure without" \
		    "--enable-asan for valgrind"
		exit 77
	fi
	log=$p.vg.log
	timeout "${VG_TIMEOUT:-600}" $vg -q --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	    --track-fds=no --log-file="$log" "$p" >"$p.vg.out" 2>&1
	rc=$?
	if [ $rc -eq 0 ] && ! grep -q 'ERROR SUMMARY: [1-9]' "$log"; then
		pass=$((pass + 1))
		echo "ok - $p"
		rm -f "$log" "$p.vg.out"
	else
		failed+=("$p")
		echo "FAIL - $p (exit $rc; $log, $p.vg.out)"
		head -n 40 "$log" | sed 's/^/    | /'
		tail -n 5 "$p.vg.out" | sed 's/^/    > /'
	fi
done
echo "$pass passed, ${#failed[@]} failed under $vg"
[ ${#failed[@]} -eq 0 ]
