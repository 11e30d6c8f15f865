# Helpers of the end-to-end benchmarks (bench-e2e.sh, bench-w1.sh,
# bench-map.sh),
# sourced after they set BENCH_NAME, bin, dir, pid and svc:
# - die MESSAGE: prints "BENCH_NAME: MESSAGE" and exits 1.
# - bench_need COMMAND...: dies unless each command is installed.
# - bench_cleanup: kills the daemon ($pid) and the service ($svc) and
#   removes $dir unless KEEP is set.
# - bench_workdir: sets dir to $BENCH_DIR or a new temp folder, with wf/
#   in it, and traps bench_cleanup on EXIT.
# - bench_need_sink: dies unless tests/bench/bench-sink ($sink) is built.
# - waitport LOG PREFIX PID: the port a process says it listens on.
# - bench_serve ARGS...: starts "$bin serve" on a free port with the
#   workflows of $dir/wf and a fresh database in $dir, waits until
#   /healthz answers, and sets pid, port and url.

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}

bench_need() {
	local c
	[ -x "$bin" ] || die "$bin: no binary (build it first: make)"
	for c in "$@"; do
		command -v "$c" >/dev/null || case $c in
		wrk) die "wrk is not installed (contrib/setup.sh bench" \
		    "installs it)" ;;
		*) die "$c is not installed" ;;
		esac
	done
}

bench_cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$svc" ] && kill -9 "$svc" 2>/dev/null && wait "$svc" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf -- "$dir"
}

bench_workdir() {
	dir=${BENCH_DIR:-$(mktemp -d \
	    "${TMPDIR:-/tmp}/orc-$BENCH_NAME-XXXXXX")} ||
		die "cannot make a temp dir"
	mkdir -p "$dir/wf" || die "$dir: cannot make wf/"
	trap bench_cleanup EXIT
}

bench_need_sink() {
	[ -x "$sink" ] || die "$sink: not built (make tests/bench/bench-sink)"
}

waitport() {
	local i p
	for i in $(seq 1 200); do
		p=$(sed -n "s/^$2: listening on http:\/\/127\.0\.0\.1:"`
		    `"\([0-9]*\).*/\1/p" "$1" | head -n 1)
		[ -n "$p" ] && { echo "$p"; return 0; }
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

bench_serve() {
	local i
	unset ORCH_SYNCHRONOUS ORCH_API_TOKEN
	[ -n "${BENCH_SYNCHRONOUS:-}" ] &&
		export ORCH_SYNCHRONOUS=$BENCH_SYNCHRONOUS
	"$bin" serve --workflows "$dir/wf" --db "$dir/orch.db" \
		--listen 127.0.0.1:0 --access-log off \
		${BENCH_WORKERS:+--workers "$BENCH_WORKERS"} \
		--log-level warn --max-queue 100000 "$@" 2>"$dir/serve.log" &
	pid=$!
	port=$(waitport "$dir/serve.log" orchestrator "$pid") ||
		die "the daemon did not start: $(cat "$dir/serve.log")"
	url=http://127.0.0.1:$port
	for i in $(seq 1 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = \
		    200 ] && break
		sleep 0.1
	done
}
