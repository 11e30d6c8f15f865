# Shared helpers of the integration tests, sourced by each
# tests/integration/*.sh. They drive the real binary like a user would.
#
# - The binary is $ORCH_BIN, the sources $TOP_SRCDIR (automake exports both;
#   the defaults suit a manual run: bash tests/integration/run.sh).
# - The whole test runs under timeout(1) (ORC_TEST_TIMEOUT seconds, default
#   180) and every command under its own (ORC_CMD_TIMEOUT, default 60).
# - Each test works in its own temp dir, $T, removed when every assertion
#   passed and kept (its path printed) otherwise, or with KEEP=1.
# - orch COMMAND ARGS... calls the binary with --db $T/orch.db for the
#   commands that take one; the buckets go to $T/buckets (ORCH_BUCKETS).
# - expect_exit CODE cmd... runs cmd, keeps its stdout in $T/out ($OUT) and
#   its stderr in $T/err ($ERR) for the assertions that follow.
# - sqlite_q FILE QUERY prints what a query on a SQLite file gives (beside
#   a daemon: it waits up to 5 s for a lock); sqlite_json FILE QUERY the
#   JSON text of a column, packed or not; wait_eq SECONDS VALUE cmd...
#   runs cmd every 0.1 s until it prints VALUE, 1 when it never did.
# - The last line is "N passed, N failed", N counting assertions; the exit
#   code is 0 only when none failed, 77 (skip) from skip(), 1 otherwise.

ORCH_BIN=${ORCH_BIN:-/work/main/orchestrator/orchestrator}
TOP_SRCDIR=${TOP_SRCDIR:-/work/main}
export ORCH_BIN TOP_SRCDIR

# The global timeout: re-run this script under timeout(1) once.
if [ -z "${ORC_TEST_UNDER_TIMEOUT:-}" ]; then
	export ORC_TEST_UNDER_TIMEOUT=1
	timeout -k 10 "${ORC_TEST_TIMEOUT:-180}" bash "$0" "$@"
	rc=$?
	# On 124 the test printed its summary in its TERM trap; on 137
	# (killed) it could not.
	if [ $rc -eq 137 ]; then
		echo "FAIL - $(basename "$0") killed after" \
		    "${ORC_TEST_TIMEOUT:-180} s"
		echo "0 passed, 1 failed"
	fi
	[ $rc -eq 124 ] || [ $rc -eq 137 ] && exit 1
	exit $rc
fi

set -u

TEST_NAME=$(basename "$0" .sh)
ORC_CMD_TIMEOUT=${ORC_CMD_TIMEOUT:-60}
PASSED=0
FAILED=0
LAST_CMD=
LAST_RC=
LAST_SHOWN=

# Hermetic environment: no setting of the user's leaks into a test.
unset ORCH_DB ORCH_WORKFLOWS ORCH_LISTEN ORCH_API_TOKEN ORCH_LOG_LEVEL ORCH_URL

# Skips the test (automake's 77) with a reason.
skip() {
	echo "SKIP: $TEST_NAME: $*"
	exit 77
}

# A hard error of the test itself, not of the binary (automake's 99).
hard_error() {
	echo "ERROR: $TEST_NAME: $*" >&2
	exit 99
}

[ -x "$ORCH_BIN" ] || hard_error "no binary at $ORCH_BIN (build it first)"
[ -d "$TOP_SRCDIR/workflows" ] || hard_error "no sources at $TOP_SRCDIR"
command -v timeout >/dev/null || skip "timeout(1) is not installed"

T=$(mktemp -d "/tmp/orc-test-$TEST_NAME-XXXXXX") ||
    hard_error "cannot make a temp dir"
OUT=$T/out
ERR=$T/err
DB=$T/orch.db
export ORCH_BUCKETS=$T/buckets
: >"$OUT"
: >"$ERR"
cd "$T" || hard_error "cannot enter $T"

# Removes the temp dir only when the test passed (and KEEP is not set);
# else tells where it is, unless finish did.
lib_cleanup() {
	if [ "$FAILED" -eq 0 ] && [ -z "${KEEP:-}" ]; then
		cd / && rm -rf -- "$T"
	elif [ -z "${FINISHED:-}" ]; then
		echo "kept $T"
	fi
}
# Stopped by the global timeout (SIGTERM) or by hand: a failure.
lib_interrupted() {
	echo "FAIL - $TEST_NAME interrupted (timed out?)"
	FAILED=$((FAILED + 1))
	FINISHED=1
	echo "kept $T"
	echo "$PASSED passed, $FAILED failed"
	exit 1
}
trap lib_cleanup EXIT
trap lib_interrupted INT TERM

# Where an assertion was called from: "file:line".
lib_caller() {
	local i=1
	while [ "${BASH_SOURCE[$i]:-}" = "${BASH_SOURCE[0]}" ]; do
		i=$((i + 1))
	done
	echo "$(basename "${BASH_SOURCE[$i]:-?}"):${BASH_LINENO[$((i - 1))]:-?}"
}

pass() {
	PASSED=$((PASSED + 1))
	echo "ok - $*"
}

# Counts a failed assertion and prints it with the last command's context.
fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL - $* (at $(lib_caller))"
	# The last command's output, once per command.
	if [ -n "$LAST_CMD" ] && [ -z "$LAST_SHOWN" ]; then
		LAST_SHOWN=1
		echo "  last command: $LAST_CMD"
		echo "  its exit code: $LAST_RC"
		if [ -s "$OUT" ]; then
			echo "  its stdout:"
			head -n 30 "$OUT" | sed 's/^/    | /'
		fi
		if [ -s "$ERR" ]; then
			echo "  its stderr:"
			head -n 30 "$ERR" | sed 's/^/    | /'
		fi
	fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1: expected [$2], got [$3]"
	fi
}

# expect_ne DESCRIPTION UNEXPECTED ACTUAL
expect_ne() {
	if [ "$2" != "$3" ]; then
		pass "$1"
	else
		fail "$1: got [$3], which it must not be"
	fi
}

# expect_contains DESCRIPTION HAYSTACK NEEDLE (a fixed string)
expect_contains() {
	case "$2" in
	*"$3"*) pass "$1" ;;
	*) fail "$1: [$3] not in [$(printf '%s' "$2" | head -c 2000)]" ;;
	esac
}

# expect_not_contains DESCRIPTION HAYSTACK NEEDLE
expect_not_contains() {
	case "$2" in
	*"$3"*) fail "$1: [$3] is in [$(printf '%s' "$2" | head -c 2000)]" ;;
	*) pass "$1" ;;
	esac
}

# expect_file DESCRIPTION PATH: a non-empty regular file.
expect_file() {
	if [ -f "$2" ] && [ -s "$2" ]; then
		pass "$1"
	else
		fail "$1: no file $2"
	fi
}

# expect_true DESCRIPTION cmd...: cmd exits 0 (its output is not kept).
# A shell function (json, jsonl) bounds its own time.
expect_true() {
	local desc=$1 t=
	shift
	[ "$(type -t "$1")" = function ] || t="timeout $ORC_CMD_TIMEOUT"
	if $t "$@" >/dev/null 2>&1; then
		pass "$desc"
	else
		fail "$desc"
	fi
}

# Runs cmd under the per-command timeout, stdout to $OUT, stderr to $ERR;
# sets LAST_RC. "orch" as cmd is the binary as orch runs it. Standard
# input is the caller's.
run_cmd() {
	LAST_CMD="$*"
	LAST_SHOWN=
	if [ "${1:-}" = orch ]; then
		shift
		orch_args "$@"
		set -- "${ORCH_ARGS[@]}"
	fi
	timeout -k 5 "$ORC_CMD_TIMEOUT" "$@" >"$OUT" 2>"$ERR"
	LAST_RC=$?
	return $LAST_RC
}

# expect_exit CODE cmd...: cmd exits with CODE; $OUT and $ERR keep its
# output for the assertions that follow.
expect_exit() {
	local code=$1
	shift
	run_cmd "$@"
	if [ "$LAST_RC" -eq 124 ] && [ "$code" -ne 124 ]; then
		fail "exit $code from [$*]: timed out after $ORC_CMD_TIMEOUT s"
	elif [ "$LAST_RC" -eq "$code" ]; then
		pass "exit $code from [$*]"
	else
		fail "exit $code from [$*]: got $LAST_RC"
	fi
}

# Sets ORCH_ARGS to the binary's command line for "orch ARGS...": --db in
# the temp dir for the commands that take one.
orch_args() {
	local cmd=${1:-}
	case "$cmd" in
	run|runs|show|retry|replay|cancel|resume|signal)
		shift
		ORCH_ARGS=("$ORCH_BIN" "$cmd" --db "$DB" "$@")
		;;
	*)
		ORCH_ARGS=("$ORCH_BIN" "$@")
		;;
	esac
}

# The binary (see orch_args), under the per-command timeout.
orch() {
	orch_args "$@"
	timeout -k 5 "$ORC_CMD_TIMEOUT" "${ORCH_ARGS[@]}"
}

# The text of the last command's stdout and stderr.
out() { cat "$OUT"; }
err() { cat "$ERR"; }

# The id of the newest run in the database ("" when there is none).
newest_run() {
	orch runs --json --limit 1 2>/dev/null | json - 'd["id"]' 2>/dev/null
}

# json FILE EXPR: prints a Python expression over the JSON document in
# FILE, bound to d ("-" reads stdin). A value that is not a string is
# printed as JSON. Exits non-zero when the file is not JSON.
json() {
	timeout "$ORC_CMD_TIMEOUT" python3 -c '
import json, sys
f = sys.argv[1]
try:
    d = json.load(sys.stdin if f == "-" else open(f))
    v = eval(sys.argv[2], {"d": d})
except Exception as e:
    sys.exit("json %s: %s: %s" % (f, type(e).__name__, e))
print(v if isinstance(v, str) else json.dumps(v))
' "$1" "$2"
}

# jsonl FILE EXPR: the same over a file of JSON lines, bound to a list d.
jsonl() {
	timeout "$ORC_CMD_TIMEOUT" python3 -c '
import json, sys
try:
    d = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    v = eval(sys.argv[2], {"d": d})
except Exception as e:
    sys.exit("jsonl %s: %s: %s" % (sys.argv[1], type(e).__name__, e))
print(v if isinstance(v, str) else json.dumps(v))
' "$1" "$2"
}

# sqlite_q FILE QUERY: see above.
sqlite_q() {
	timeout "$ORC_CMD_TIMEOUT" sqlite3 -cmd ".timeout 5000" "$1" "$2"
}

# sqlite_json FILE SQL: the text of the JSON column one query on a
# SQLite store returns, inflated when it is packed (store-pack.h: 0x01,
# the dictionary's id and the text's length as varints, then raw deflate
# against the dictionary's body).
sqlite_json() {
	timeout "$ORC_CMD_TIMEOUT" python3 -c '
import sqlite3, sys, zlib
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
v = db.execute(sys.argv[2]).fetchone()[0]
def varint(b, i):
    x = shift = 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7f) << shift
        shift += 7
        if not c & 0x80:
            return x, i
if isinstance(v, bytes) and v[:1] == b"\x01":
    d, i = varint(v, 1)
    n, i = varint(v, i)
    z = db.execute("SELECT body FROM dictionaries WHERE id = ?",
        (d,)).fetchone()[0]
    v = zlib.decompressobj(-12, zdict=z).decompress(v[i:])
    if len(v) != n:
        sys.exit("sqlite_json: %d bytes, not %d" % (len(v), n))
    v = v.decode()
print(v)' "$1" "$2"
}

# wait_eq SECONDS VALUE cmd...: see above.
wait_eq() {
	local n=$(($1 * 10)) want=$2 i
	shift 2
	for i in $(seq 1 "$n"); do
		[ "$("$@")" = "$want" ] && return 0
		sleep 0.1
	done
	return 1
}

# Prints the summary line and exits: 0 only when every assertion passed.
finish() {
	if [ $((PASSED + FAILED)) -eq 0 ]; then
		fail "$TEST_NAME made no assertion"
	fi
	FINISHED=1
	if [ "$FAILED" -ne 0 ] || [ -n "${KEEP:-}" ]; then
		echo "kept $T"
	fi
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ] && exit 0
	exit 1
}

command -v python3 >/dev/null || skip "python3 is not installed"
