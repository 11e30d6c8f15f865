#!/usr/bin/env bash
# orchestrator replay reaches nothing outside unless --live: an
# http.request step answers with the replayed run's recorded output, a
# step the run never recorded fails saying so, ctx.fetch is refused, local
# buckets go to a temporary folder that is removed afterwards; with --live
# the request reaches the sink.
. "$(dirname "$0")/serve-lib.sh"

sink_start
sent() {	# requests the sink got so far
	wc -l <"$T/sink.jsonl"
}

cat >"$WF/notify.json" <<JSON
{ "name": "notify",
  "defaults": { "retry": { "max_attempts": 1 } },
  "allow": { "hosts": ["127.0.0.1:$SP"], "buckets": ["out"] },
  "steps": [
    { "name": "tell", "uses": "http.request",
      "with": { "method": "POST", "url": "http://127.0.0.1:$SP/tell",
        "body": { "n": "{{input.n}}" } } },
    { "name": "keep", "uses": "bucket.put",
      "with": { "bucket": "out", "key": "n.json" } } ] }
JSON
expect_exit 0 orch run "$WF/notify.json" --input - <<<'{"n": 7}'
run=$(newest_run)
expect_eq "the live run told the sink" 1 "$(sent)"
# Replays make their temporary buckets under TMPDIR: this test's own.
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"

# Replayed: the recorded answer, nothing sent.
expect_exit 0 orch replay "$run" --file "$WF/notify.json"
expect_eq "replay: nothing reached the sink" 1 "$(sent)"
expect_eq "replay: the output is the bucket write of the recorded answer" \
    n.json "$(json "$OUT" 'd["key"]')"
expect_eq "replay: its temporary buckets are gone" "" \
    "$(ls -d "$TMPDIR"/orchestrator-replay-* 2>/dev/null)"

# A new outward step has no recorded output: it fails, saying so.
sed 's/"name": "tell"/"name": "shout"/' "$WF/notify.json" >"$T/renamed.json"
expect_exit 1 orch replay "$run" --file "$T/renamed.json"
expect_contains "replay: an unrecorded outward step is named" "$(err)" \
    "step shout reaches outside (http.request)"
expect_contains "replay: it says how to call it" "$(err)" "--live"
expect_eq "replay: still nothing sent" 1 "$(sent)"

# ctx.fetch is refused too.
cat >"$WF/fetch.lua" <<LUA
return function(input, ctx) return ctx.fetch("http://127.0.0.1:$SP/f") end
LUA
cat >"$WF/fetcher.json" <<JSON
{ "name": "fetcher", "defaults": { "retry": { "max_attempts": 1 } },
  "allow": { "hosts": ["127.0.0.1:$SP"] },
  "steps": [ { "name": "f", "uses": "lua", "script": "fetch.lua" } ] }
JSON
expect_exit 0 orch run "$WF/fetcher.json"
frun=$(newest_run)
before=$(sent)
expect_exit 1 orch replay "$frun" --file "$WF/fetcher.json"
expect_contains "replay: ctx.fetch is refused" "$(err)" \
    "ctx.fetch is not available here"
expect_eq "replay: ctx.fetch sent nothing" "$before" "$(sent)"
expect_exit 1 orch replay "$frun" --file "$WF/fetcher.json" --workers 0
expect_contains "replay in process: ctx.fetch is refused" "$(err)" \
    "ctx.fetch is not available here"

# --live calls for real.
expect_exit 0 orch replay "$run" --file "$WF/notify.json" --live
expect_eq "replay --live: the sink was told" $((before + 1)) "$(sent)"

finish
