#!/usr/bin/env bash
# The store's behavioural tests (tests/unit/test-store.c, built as
# tests/unit/test-store-pg) on a real PostgreSQL server that this test
# starts in a temp folder and stops at the end (pg-lib.sh). Skipped when
# the build has no PostgreSQL support or the server binaries are missing.
# TEST_STORE_PG_PROG runs another build of it (an ASan one). Under
# VALGRIND_PG=1 the program runs under valgrind (a build without
# sanitizers), which must report no error and no leak.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-240}
export ORC_TEST_TIMEOUT
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

PROG=${TEST_STORE_PG_PROG:-$(dirname "$ORCH_BIN")/../tests/unit/test-store-pg}
[ -x "$PROG" ] || skip "no $PROG (configured --without-postgres?)"
. "$HERE/pg-lib.sh"

pg_start || finish

run=("$PROG")
if [ -n "${VALGRIND_PG:-}" ]; then
	command -v valgrind >/dev/null || skip "valgrind is not installed"
	run=(valgrind -q --leak-check=full --error-exitcode=3 "$PROG")
fi
ORC_CMD_TIMEOUT=200 expect_exit 0 "${run[@]}"
out | sed 's/^/  | /'
expect_contains "the tests ran" "$(out)" " passed, 0 failed"
expect_not_contains "none failed" "$(out)" "FAIL"
finish
