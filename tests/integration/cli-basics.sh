#!/usr/bin/env bash
# The command line itself (SPEC section 5): --help and --version, each
# command's --help, and the exit codes of mistakes: 2 for a usage error
# (unknown command, bad option, missing argument) with the usage on stderr,
# non-zero with a clear message for the commands this version lacks.
. "$(dirname "$0")/lib.sh"

commands="run validate runs show retry replay cancel resume serve trigger
    dashboard schedules prune backup"

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

# Bad option values are usage errors too.
expect_exit 2 orch runs --state sleeping
expect_contains "runs --state names the bad state" "$(err)" '"sleeping"'
expect_exit 2 orch runs --limit 0
expect_contains "runs --limit 0 is refused" "$(err)" "--limit"
expect_exit 2 orch runs --log-level chatty
expect_contains "--log-level names the option" "$(err)" "--log-level"
expect_exit 2 orch retry --workflow w --state succeeded
expect_contains "bulk retry only of failed or cancelled" "$(err)" "--state"

# A read error is one line naming what is at fault, exit 1.
expect_exit 1 orch runs
expect_contains "runs without a database names it" "$(err)" "$DB"
expect_exit 0 orch run "$TOP_SRCDIR/workflows/order-report.json" \
    --input "$TOP_SRCDIR/workflows/inputs/order-report.json"
expect_exit 1 orch show 01NOSUCHRUN0000000000000000
expect_eq "show of an unknown run: one line naming it" \
    "orchestrator show: run 01NOSUCHRUN0000000000000000 not found" "$(err)"

finish
