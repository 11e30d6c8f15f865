# Helpers of the tests that need contrib/example-service.py, the local
# service of the background-task example, sourced after lib.sh (and after
# serve-lib.sh when the test also runs the daemon).
#
# - svc_start [ARGS...] starts the service on a free loopback port with
#   ARGS (its options: --delay-ms, --fail-500, ...), recording callbacks
#   to $SVC_RECORD ($T/callbacks.jsonl); it reads the port from the
#   "listening on" line, bounded. It sets SVC_PID, SVC_PORT, SVC_URL.
# - svc_stop stops it; it is killed when the test exits anyway.
# - svc_control JSON changes its failure settings at run time.
# - svc_job_callback RUN [ATTEMPT] prints the callback_url of the latest
#   job (or of that attempt's) the service got from RUN: jobs that carry
#   "result": {"run": "{{run.id}}", "attempt": "{{run.attempt}}"}.
# - svc_copy_example NAME DIR copies workflows/NAME.json, the scripts of
#   the folder and inputs/NAME.json into DIR (and DIR/inputs) with the
#   example's address of the service, 127.0.0.1:9100, replaced by
#   $SVC_PORT's.

SVC_PY=$TOP_SRCDIR/contrib/example-service.py
SVC_PID=
SVC_PORT=
SVC_URL=
SVC_RECORD=$T/callbacks.jsonl
SVC_STARTS=0

# Kills the service, then does the cleanup of the libraries below.
svc_cleanup() {
	if [ -n "$SVC_PID" ] && kill -0 "$SVC_PID" 2>/dev/null; then
		kill -9 "$SVC_PID" 2>/dev/null
		wait "$SVC_PID" 2>/dev/null
	fi
	SVC_PID=
}
if [ "$(type -t serve_cleanup)" = function ]; then
	trap 'svc_cleanup; serve_cleanup; lib_cleanup' EXIT
else
	trap 'svc_cleanup; lib_cleanup' EXIT
fi

# svc_start [ARGS...]: see above. Returns 1 (a failure counted) when the
# service does not come up within 10 s.
svc_start() {
	local i port= log re
	re='s/^example-service: listening on http:\/\/127\.0\.0\.1:'
	re=$re'\([0-9]*\)$/\1/p'
	SVC_STARTS=$((SVC_STARTS + 1))
	log=$T/service-$SVC_STARTS.log
	python3 "$SVC_PY" --port 0 --record "$SVC_RECORD" "$@" 2>"$log" &
	SVC_PID=$!
	for i in $(seq 1 200); do
		port=$(sed -n "$re" "$log" | head -n 1)
		[ -n "$port" ] && break
		if ! kill -0 "$SVC_PID" 2>/dev/null; then
			fail "the example service exited: $(head -c 2000 "$log")"
			SVC_PID=
			return 1
		fi
		sleep 0.05
	done
	if [ -z "$port" ]; then
		fail "the example service did not say its port: $(cat "$log")"
		return 1
	fi
	SVC_PORT=$port
	SVC_URL=http://127.0.0.1:$port
}

svc_stop() {
	svc_cleanup
}

# svc_control JSON: sets the service's failure counts and delay.
svc_control() {
	curl -s --max-time 5 -X POST --data "$1" "$SVC_URL/_control" \
	    >/dev/null
}

# svc_job_callback RUN [ATTEMPT]: see above; fails when there is none.
svc_job_callback() {
	python3 - "$SVC_RECORD" "$1" "${2:-0}" <<'PY'
import json, sys
rec, run, attempt = sys.argv[1], sys.argv[2], int(sys.argv[3])
url = None
for line in open(rec):
    d = json.loads(line)
    if d["path"] != "/jobs":
        continue
    r = json.loads(d["body"])["result"]
    if r["run"] == run and attempt in (0, r["attempt"]):
        url = json.loads(d["body"])["callback_url"]
if url is None:
    sys.exit("the service got no job from run %s" % run)
print(url)
PY
}

# svc_copy_example NAME DIR: see above.
svc_copy_example() {
	local name=$1 dir=$2 f
	mkdir -p "$dir/inputs"
	for f in "$TOP_SRCDIR/workflows/$name.json" \
	    "$TOP_SRCDIR"/workflows/*.lua; do
		sed "s/127\.0\.0\.1:9100/127.0.0.1:$SVC_PORT/g" "$f" \
		    >"$dir/$(basename "$f")"
	done
	if [ -f "$TOP_SRCDIR/workflows/inputs/$name.json" ]; then
		sed "s/127\.0\.0\.1:9100/127.0.0.1:$SVC_PORT/g" \
		    "$TOP_SRCDIR/workflows/inputs/$name.json" \
		    >"$dir/inputs/$name.json"
	fi
}
