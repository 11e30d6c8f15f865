#!/usr/bin/env bash
# Run logs: ctx.log lines and http.request's line per attempt are stored
# with the run whatever the daemon's log level (warn here), secrets
# masked and URLs without query or userinfo; GET /runs/ID/logs, the run
# document, show and the event stream (event: log) return them; a run
# keeps 1,000 lines, then one says how many were dropped; prune deletes
# them with the run.
. "$(dirname "$0")/serve-lib.sh"

export RUNLOGS_TOKEN=tok-$$-secret
ONCE='"defaults": { "retry": { "max_attempts": 1 } }'

# lua_workflow NAME SCRIPT [AFTER [BEFORE]]: a webhook workflow of one lua
# step s, with the steps AFTER after it and BEFORE before it.
lua_workflow() {
	printf '%s\n' "$2" >"$WF/$1.lua"
	cat >"$WF/$1.json" <<JSON
{ "name": "$1", "trigger": { "webhook": { "path": "/hooks/$1" } }, $ONCE,
  "secrets": ["RUNLOGS_TOKEN"],
  "steps": [ ${4:+$4, }{ "name": "s", "uses": "lua", "script": "$1.lua",
    "timeout_ms": 5000 }${3:+, $3} ] }
JSON
}

lua_workflow talk 'return function(input, ctx)
  ctx.log("info", "hello %s", input.who)
  ctx.log("debug", "token is %s", ctx.env("RUNLOGS_TOKEN"))
  ctx.log("error", "bad byte \255 kept")
  return input
end' '{ "name": "get", "uses": "http.request",
    "with": { "url": "{{trigger.url}}" } }' \
    '{ "name": "nap", "uses": "wait", "with": { "ms": "{{input.nap}}", "durable": false } }'
lua_workflow chatty 'return function(input, ctx)
  for i = 1, 1200 do ctx.log("info", "line %d", i) end return 1 end'

serve_start --log-level warn --access-log off || exit 1
HOSTPORT=127.0.0.1:$SERVE_PORT

# post NAME BODY: an async trigger; prints the run id.
post() {
	curl -s --max-time 10 -X POST -H 'Content-Type: application/json' \
	    -d "$2" "$URL/hooks/$1" | json - 'd["run_id"]' 2>/dev/null
}

TALK=$(post talk "{\"who\": \"ada\", \"nap\": 0,
    \"url\": \"http://user:pw@$HOSTPORT/healthz?key=q-$$\"}")
expect_eq "talk: succeeded" succeeded "$(wait_final "$TALK")"
req GET "/runs/$TALK/logs"
expect_code "GET /runs/ID/logs" 200
expect_eq "the run's id" "$TALK" "$(body 'd["run_id"]')"
expect_eq "four lines" 4 "$(body 'len(d["logs"])')"
expect_eq "ctx.log's line, step and attempt" "s 1 info hello ada" \
    "$(body '(lambda l: "%s %d %s %s" % (l["step"], l["attempt"],
    l["level"], l["message"]))(d["logs"][0])')"
expect_eq "debug is kept at log level warn" "token is [secret]" \
    "$(body 'd["logs"][1]["message"]')"
expect_eq "a broken byte becomes ?" "bad byte ? kept" \
    "$(body 'd["logs"][2]["message"]')"
expect_eq "http.request's line" \
    "get info GET http://$HOSTPORT/healthz?...: 200 in" \
    "$(body '(lambda l: "%s %s %s" % (l["step"], l["level"],
    l["message"].rsplit(" ", 2)[0]))(d["logs"][3])')"
expect_not_contains "the secret is never stored" "$BODY" "$RUNLOGS_TOKEN"
expect_not_contains "nor the query" "$BODY" "q-$$"
expect_not_contains "nor the userinfo" "$BODY" "pw@"
expect_not_contains "the secret is not in stderr" "$(cat "$SERVE_LOG")" \
    "$RUNLOGS_TOKEN"
req GET "/runs/$TALK/logs?after=$(body 'd["logs"][1]["id"]')"
expect_eq "?after= pages" 2 "$(body 'len(d["logs"])')"
req GET "/runs/$TALK/logs?after=x"
expect_error "a bad ?after=" 400 bad_request
req GET "/runs/01ZZZZZZZZZZZZZZZZZZZZZZZZ/logs"
expect_error "an unknown run's logs" 404 not_found
req GET "/runs/$TALK"
expect_eq "the run document has them" 4 "$(body 'len(d["logs"])')"

# show, reading the daemon's database.
expect_exit 0 orch show "$TALK"
expect_contains "show: a logs section" "$(out)" "logs"
expect_contains "show: the line with its step" "$(out)" "s     1        info   hello ada"
expect_exit 0 orch show --url "$URL" "$TALK"
expect_contains "show --url: the same line" "$(out)" "hello ada"

# The stream, open before the steps that log: the lines of an attempt,
# then its transition.
SLOW=$(post talk "{\"who\": \"bob\", \"nap\": 1000,
    \"url\": \"http://$HOSTPORT/healthz\"}")
curl -s -N --max-time 10 "$URL/runs/$SLOW/events" >"$T/sse" 2>/dev/null
sse=$(tr -d '\r' <"$T/sse")
expect_contains "SSE: event: log" "$sse" "event: log"
expect_contains "SSE: the line" "$sse" "hello bob"
expect_eq "SSE: every line once" 4 "$(grep -c '^event: log' "$T/sse")"
# sse_order FILE: the stream's log lines and steps' successes, as
# log:STEP and step_succeeded:STEP on one line.
sse_order() {
	python3 -c '
import json, sys
ev = None
out = []
for line in open(sys.argv[1]).read().replace("\r", "").split("\n"):
    if line.startswith("event: "):
        ev = line[7:]
    elif line.startswith("data: ") and ev in ("log", "transition"):
        d = json.loads(line[6:])
        if ev == "log" or d["event"] == "step_succeeded":
            out.append("%s:%s" % (d.get("event", ev), d["step"]))
print(" ".join(out))' "$1"
}
expect_eq "SSE: each step's lines, then its success" \
    "step_succeeded:nap log:s log:s log:s step_succeeded:s log:get" \
    "$(sse_order "$T/sse")"
# A replay of the finished run interleaves them the same way.
curl -s -N --max-time 10 "$URL/runs/$SLOW/events" >"$T/sse2" 2>/dev/null
expect_eq "SSE replay: the same order" "$(sse_order "$T/sse")" \
    "$(sse_order "$T/sse2")"

# Bounds: 1,000 lines, then the one that says what was dropped.
CHATTY=$(post chatty '{}')
expect_eq "chatty: succeeded" succeeded "$(wait_final "$CHATTY")"
req GET "/runs/$CHATTY/logs"
expect_eq "chatty: 1000 lines and one more" 1001 "$(body 'len(d["logs"])')"
expect_eq "chatty: the last says what was dropped" \
    "200 more log lines dropped" \
    "$(body 'd["logs"][-1]["message"].split(" (")[0]')"

# prune deletes them with the run.
serve_stop
expect_eq "daemon stopped" 0 "$SERVE_RC"
expect_exit 0 orch prune --db "$DB"
expect_eq "no line is left" 0 "$(sqlite_q "$DB" "SELECT count(*) FROM run_logs" 2>&1)"
finish
