#!/usr/bin/env bash
# The command line itself (SPEC section 5): --help and --version, each
# command's --help, and the exit codes of mistakes: 2 for a usage error
# (unknown command, bad option, missing argument) with the usage on stderr,
# non-zero with a clear message for the commands this version lacks.
. "$(dirname "$0")/lib.sh"

commands="run validate runs show retry replay cancel resume serve trigger
    dashboard schedules prune backup fsm signal"

# --help: the overview on stdout, every command listed, exit 0.
expect_exit 0 orch --help
help=$(out)
expect_contains "--help shows the usage" "$help" \
    "usage: orchestrator COMMAND"
expect_contains "--help tells the exit codes" "$help" \
    "Exit codes: 0 ok, 1 the work failed, 2 usage error"
for c in $commands; do
	# Each command on a line of its own, followed by its summary.
	n=$(grep -cE "^  $c +[a-z]" "$OUT")
	expect_eq "--help lists $c" 1 "$n"
done
expect_eq "--help writes nothing on stderr" "" "$(err)"
expect_exit 0 orch -h
expect_contains "-h is --help" "$(out)" "usage: orchestrator COMMAND"

# --version: the version configure.ac declares.
want=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' \
    "$TOP_SRCDIR/configure.ac")
expect_ne "configure.ac declares a version" "" "$want"
expect_exit 0 orch --version
expect_eq "--version prints the version" "orchestrator $want" "$(out)"

# No command at all: the usage on stderr, exit 2.
expect_exit 2 orch
expect_contains "no command prints the usage on stderr" "$(err)" \
    "usage: orchestrator COMMAND"
expect_eq "no command prints nothing on stdout" "" "$(out)"

# COMMAND --help: its usage on stdout, exit 0, nothing done.
for c in $commands; do
	expect_exit 0 orch "$c" --help
	expect_eq "$c --help: first line is its usage" \
	    "usage: orchestrator $c" "$(head -n 1 "$OUT" | cut -d' ' -f1-3)"
	expect_eq "$c --help: nothing on stderr" "" "$(err)"
done
# ... and tells each option its usage names, on a line of its own.
for c in $commands schedules; do
	expect_exit 0 orch "$c" --help
	opts=$(sed '/^$/q' "$OUT" | grep -oE -- '--[a-z-]+' | sort -u)
	for o in $opts; do
		expect_true "$c --help tells $o" test \
		    "$(grep -cE -- "^  $o( |\$)" "$OUT")" -ge 1
	done
done
expect_exit 0 orch retry --help
expect_contains "bulk retry's usage has --latest" \
    "$(sed -n '/--workflow W/,/^$/p' "$OUT" | head -n 3)" "[--latest]"
expect_exit 0 orch dashboard --help
expect_contains "--interval says its unit" "$(grep -- '--interval' "$OUT")" \
    "seconds"
# --help wins wherever it is, and does not touch the database.
expect_exit 0 "$ORCH_BIN" runs --json --help
expect_contains "runs --json --help is the usage" "$(out)" \
    "usage: orchestrator runs"
expect_eq "--help creates no database" "" "$(ls "$T" | grep -v '^out$\|^err$')"

# An unknown command: exit 2, named on stderr.
expect_exit 2 orch frobnicate
expect_contains "unknown command is named" "$(err)" \
    'unknown command "frobnicate"'
expect_eq "unknown command prints nothing on stdout" "" "$(out)"

# A bad option: exit 2 with the command's usage on stderr.
for c in run runs show retry replay cancel resume; do
	expect_exit 2 orch "$c" --no-such-option x
	expect_contains "$c --no-such-option: usage on stderr" "$(err)" \
	    "usage: orchestrator $c "
	expect_contains "$c --no-such-option: the message names $c" \
	    "$(err)" "orchestrator $c: bad option"
	expect_eq "$c --no-such-option: nothing on stdout" "" "$(out)"
done

# Missing arguments: exit 2 with the usage.
expect_exit 2 orch run
expect_contains "run without a file says so" "$(err)" \
    "orchestrator run: expected one workflow file"
expect_exit 2 orch validate
expect_contains "validate without files says so" "$(err)" \
    "usage: orchestrator validate"
expect_exit 2 orch show
expect_contains "show without a run id says so" "$(err)" \
    "orchestrator show: expected one run id"
expect_exit 2 orch cancel
expect_contains "cancel without a run id says so" "$(err)" \
    "orchestrator cancel: expected one run id"
expect_exit 2 orch retry
expect_contains "retry without a run id says so" "$(err)" \
    "usage: orchestrator retry"
expect_exit 2 orch replay 01ABC
expect_contains "replay without --file says so" "$(err)" \
    "usage: orchestrator replay"
expect_exit 2 orch run a.json b.json
expect_contains "run with two files is a usage error" "$(err)" \
    "usage: orchestrator run"

# A mistyped option: what it may have meant.
expect_exit 2 orch runs -n 2
expect_contains "runs -n: --limit suggested" "$(err)" \
    'orchestrator runs: bad option "-n": did you mean --limit?'
expect_exit 2 orch runs --lmit 2
expect_contains "runs --lmit: --limit suggested" "$(err)" \
    'bad option "--lmit": did you mean --limit?'
expect_exit 2 orch runs --limit
expect_contains "runs --limit without its value says so" "$(err)" \
    'orchestrator runs: option "--limit" needs a value'
expect_exit 2 orch runs --frobnicate
expect_contains "an option like none: the command's help" "$(err)" \
    'bad option "--frobnicate" (see orchestrator runs --help)'

# Bad option values are usage errors too.
expect_exit 2 orch runs --state sleeping
expect_contains "runs --state names the bad state" "$(err)" '"sleeping"'
expect_contains "runs --state lists the states" "$(err)" \
    "one of queued, running, retrying, succeeded, failed, cancelled"
expect_exit 2 orch runs --limit 0
expect_contains "runs --limit 0 is refused" "$(err)" "--limit"
expect_exit 2 orch runs --log-level chatty
expect_contains "--log-level names the option" "$(err)" "--log-level"
expect_exit 2 orch retry --workflow w --state succeeded
expect_contains "bulk retry only of failed or cancelled" "$(err)" "--state"

# A read error is one line naming what is at fault, exit 1. No database
# yet: said so, with how to get one, and none is created.
nodb="no database at $DB: start \`orchestrator serve\` first, or point --db"
nodb="$nodb or ORCH_DB at one"
for c in runs "show 01NOSUCHRUN0000000000000000" schedules; do
	expect_exit 1 "$ORCH_BIN" $c --db "$DB"
	expect_eq "$c without a database says how to get one" \
	    "orchestrator ${c%% *}: $nodb" "$(err)"
done
expect_exit 1 "$ORCH_BIN" dashboard --once --db "$DB"
expect_eq "dashboard without a database says how to get one" \
    "orchestrator dashboard: $nodb" "$(err)"
expect_true "no database was created" test ! -e "$DB"
expect_exit 0 orch run "$TOP_SRCDIR/workflows/order-report.json" \
    --input "$TOP_SRCDIR/workflows/inputs/order-report.json"
# Run ids are upper case; one typed in lower case is found all the same.
id=$(orch runs --json --limit 1 | json - 'd["id"]')
expect_exit 0 orch show "$(echo "$id" | tr 'A-Z' 'a-z')"
expect_contains "show of a lower case id finds the run" "$(out)" "$id"
expect_exit 1 orch cancel "$(echo "$id" | tr 'A-Z' 'a-z')"
expect_contains "cancel of a lower case id finds the run" "$(err)" \
    "run $id is already succeeded"
expect_exit 1 orch retry "$(echo "$id" | tr 'A-Z' 'a-z')"
expect_contains "retry of a lower case id finds the run" "$(err)" \
    "run $id is succeeded"
expect_exit 1 orch show 01NOSUCHRUN0000000000000000
expect_eq "show of an unknown run: one line naming it" \
    "orchestrator show: run 01NOSUCHRUN0000000000000000 not found" "$(err)"

# fsm prints the state machine; the README's lifecycle table is that
# output, so the document cannot drift from the code.
expect_exit 0 orch fsm
expect_contains "fsm prints its header" "$(out)" "PHASE         EVENT"
expect_contains "fsm prints the dead letter" "$(out)" \
    "dead_running  step_last_ok"
python3 - "$TOP_SRCDIR/README.md" > "$T/readme-fsm.txt" <<'PY'
import sys
text = open(sys.argv[1]).read()
start = text.index("```text\n", text.index("### Run lifecycle")) + 8
sys.stdout.write(text[start:text.index("```", start)])
PY
expect_eq "the README's lifecycle table is orchestrator fsm's output" "" \
    "$(diff "$T/readme-fsm.txt" "$OUT")"
expect_exit 2 orch fsm extra
expect_contains "fsm takes no argument" "$(err)" 'unexpected "extra"'

# A setting from the environment that is not allowed stops the command,
# naming the variable, before anything runs.
for c in serve "run $TOP_SRCDIR/workflows/order-report.json"; do
	expect_exit 1 env ORCH_LEASE_MS=10s "$ORCH_BIN" $c --db "$DB"
	expect_eq "${c%% *} names a bad ORCH_LEASE_MS" "orchestrator ${c%% *}: \
ORCH_LEASE_MS \"10s\" is not a number from 1 to 4611686018427387903" \
	    "$(err)"
done
# Every command reads them, the ones that only read the database too;
# --help still answers.
expect_exit 1 env ORCH_FETCH_THREAD=yes "$ORCH_BIN" runs --db "$DB"
expect_eq "runs names a bad ORCH_FETCH_THREAD" \
    'orchestrator runs: ORCH_FETCH_THREAD "yes" is not 0 or 1' "$(err)"
expect_exit 1 env ORCH_WORKER_NICE=20 "$ORCH_BIN" serve --db "$DB"
expect_contains "serve names a bad ORCH_WORKER_NICE" "$(err)" \
    'ORCH_WORKER_NICE "20" is not a number from 0 to 19'
expect_exit 1 env ORCH_SYNCHRONOUS=sometimes "$ORCH_BIN" prune --db "$DB"
expect_eq "prune names a bad ORCH_SYNCHRONOUS" "orchestrator prune: \
ORCH_SYNCHRONOUS \"sometimes\" is not FULL, NORMAL or OFF" "$(err)"
expect_exit 0 env ORCH_WORKERS=99 "$ORCH_BIN" runs --help
# The database from ORCH_DB when --db is not given.
expect_exit 0 env ORCH_DB="$DB" "$ORCH_BIN" runs --json
expect_exit 1 env ORCH_DB="$T/none.db" "$ORCH_BIN" runs
expect_contains "runs reads ORCH_DB" "$(err)" "no database at $T/none.db"

finish
