/*
 * Unit tests for lua steps (script.c): each runs a real script through the
 * lua step entry and step_call, as the engine does. They cover the JSON
 * conversion both ways, ctx, the sandbox rule by rule, the limits (and
 * that the next run still works), errors with their tracebacks,
 * branching, state reuse without leaking globals, the loader's compile
 * check, and fetches that yield: many steps waiting on a slow local HTTP
 * server at once, and a cancelled one.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <fcntl.h>
#include <stdarg.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <jansson.h>

#include "diag.h"
#include "fetch.h"
#include "orchestrator.h"
#include "script.h"
#include "steps.h"
#include "worker.h"
#include "workflow.h"
#include "test.h"

/* Parses test JSON or stops. */
static json_t *
j(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	if (v == NULL) {
		fprintf(stderr, "bad test JSON: %s\n", text);
		exit(99);
	}
	return v;
}

/* Set for the second pass: every call without a loop of its own runs on
 * this pool's worker processes (the program answers "__worker"). */
static struct event_base	*wk_base;
static struct fetch		*wk_fetch;
static struct worker_pool	*wk_pool;

/* What one test run passes besides the script. */
struct opts {
	const char		*step_extra;	/* JSON members */
	const char		*input;		/* JSON, or NULL */
	const char		*allow;
	const char		*secrets;
	const char		*trigger;
	const char		*steps;
	int64_t			 timeout_ms;
	struct event_base	*base;
	struct fetch		*fetch;
};

/* Creates a call of the lua step on s.lua. */
static struct step_call *
make_call(const struct opts *o, step_done_cb cb, void *arg)
{
	struct step_call_params p;
	struct step_call *call;
	json_t *step, *input = NULL, *allow = NULL, *secrets = NULL;
	json_t *trigger = NULL, *steps = NULL;
	char *text;

	text = xasprintf("{\"name\": \"s\", \"uses\": \"lua\", \"script\": "
	    "\"s.lua\"%s%s}", o != NULL && o->step_extra ? ", " : "",
	    o != NULL && o->step_extra ? o->step_extra : "");
	step = j(text);
	free(text);
	if (o != NULL && o->input)
		input = j(o->input);
	if (o != NULL && o->allow)
		allow = j(o->allow);
	if (o != NULL && o->secrets)
		secrets = j(o->secrets);
	if (o != NULL && o->trigger)
		trigger = j(o->trigger);
	if (o != NULL && o->steps)
		steps = j(o->steps);
	memset(&p, 0, sizeof p);
	p.entry = &step_lua_entry;
	p.step = step;
	p.input = input;
	p.run_id = "01TESTRUN";
	p.workflow = "wf";
	p.workflow_dir = test_dir;
	p.step_name = "s";
	p.attempt = 2;
	p.allow = allow;
	p.secrets = secrets;
	p.trigger = trigger;
	p.steps = steps;
	p.timeout_ms = o != NULL ? o->timeout_ms : 0;
	p.base = o != NULL ? o->base : NULL;
	p.fetch = o != NULL ? o->fetch : NULL;
	if (wk_pool != NULL && p.base == NULL) {
		p.base = wk_base;
		p.fetch = wk_fetch;
		p.workers = wk_pool;
	}
	call = step_call_create(&p, cb, arg);
	json_decref(step);
	json_decref(input);
	json_decref(allow);
	json_decref(secrets);
	json_decref(trigger);
	json_decref(steps);
	return call;
}

/* A call on a worker ended. */
static void
run_done_cb(struct step_call *call, void *arg)
{
	*(int *)arg = 1;
}

/* Runs s.lua (written from script) to the end: at once in this process,
 * or on a worker, with the loop turning until the answer is in. */
static struct step_call *
run(const char *script, const struct opts *o)
{
	struct step_call *call;
	int done = 0;

	if (script != NULL)
		test_put_file("s.lua", script);
	call = make_call(o, run_done_cb, &done);
	if (step_call_start(call) == STEP_DONE)
		return call;
	if (wk_pool != NULL && (o == NULL || o->base == NULL)) {
		while (!done)
			event_base_loop(wk_base, EVLOOP_ONCE);
		return call;
	}
	fprintf(stderr, "the script waits\n");
	exit(99);
}

/* The output of a finished call as compact JSON with sorted keys. */
static char *
output_text(struct step_call *call)
{
	json_t *out = step_call_take_output(call);
	char *s;

	if (out == NULL)
		return xstrdup("(none)");
	s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(out);
	return s;
}

/* Runs a script and checks its output text. */
static void
expect_output(const char *script, const struct opts *o, const char *want)
{
	struct step_call *call = run(script, o);
	char *got;

	if (!step_call_ok(call))
		fprintf(stderr, "error: %s\n", step_call_error(call));
	CHECK(step_call_ok(call));
	got = output_text(call);
	CHECK_STR(got, want);
	free(got);
	step_call_free(call);
}

/* Runs a script and checks that it fails with a message holding want. */
static void
expect_error(const char *script, const struct opts *o, const char *want,
    int retryable)
{
	struct step_call *call = run(script, o);

	CHECK(step_call_finished(call) && !step_call_ok(call));
	CHECK_CONTAINS(step_call_error(call), want);
	if (retryable >= 0)
		CHECK(step_call_retryable(call) == retryable);
	step_call_free(call);
}

/* Values out: integers, reals, arrays, objects, empty tables, null. */
static void
test_script_output_conversion(void)
{
	expect_output("return function(input, ctx)\n"
	    "  return { i = 3, f = 1.5, g = 2.0, a = {1, 2, 3}, e = {},\n"
	    "    ea = ctx.json.array(), m = ctx.json.array({4}),\n"
	    "    s = 'x', t = true, n = ctx.json.null,\n"
	    "    o = { z = 1, b = { c = 'd' } }, big = math.maxinteger }\n"
	    "end\n", NULL,
	    "{\"a\":[1,2,3],\"big\":9223372036854775807,\"e\":{},"
	    "\"ea\":[],\"f\":1.5,\"g\":2.0,\"i\":3,\"m\":[4],\"n\":null,"
	    "\"o\":{\"b\":{\"c\":\"d\"},\"z\":1},\"s\":\"x\",\"t\":true}");
}

/* nil members are absent; other top-level values. */
static void
test_script_output_nil_members(void)
{
	expect_output("return function() return { a = nil, b = 1 } end\n",
	    NULL, "{\"b\":1}");
	/* No return at all is null; a string output is a JSON string. */
	expect_output("return function() end\n", NULL, "null");
	expect_output("return function() return 'hi' end\n", NULL, "\"hi\"");
	expect_output("return function() return 7 // 2 end\n", NULL, "3");
	expect_output("return function() return 7 / 2 end\n", NULL, "3.5");
}

/* Values in: the input survives the round trip unchanged. */
static void
test_script_input_round_trip(void)
{
	const char *in = "{\"a\":[],\"b\":{},\"c\":[1,null,3],\"d\":1.0,"
	    "\"e\":7,\"f\":\"\\u00e9t\\u00e9\",\"g\":[[],[{}]],\"h\":false}";
	struct opts o;

	memset(&o, 0, sizeof o);
	o.input = in;
	expect_output("return function(input) return input end\n", &o,
	    "{\"a\":[],\"b\":{},\"c\":[1,null,3],\"d\":1.0,\"e\":7,"
	    "\"f\":\"\xc3\xa9t\xc3\xa9\",\"g\":[[],[{}]],\"h\":false}");
	/* Types as Lua sees them. */
	expect_output("return function(input, ctx)\n"
	    "  return { math.type(input.e), math.type(input.d), "
	    "#input.c, input.c[2] == ctx.json.null, type(input.b) }\n"
	    "end\n", &o, "[\"integer\",\"float\",3,true,\"table\"]");
	/* A null input is nil. */
	memset(&o, 0, sizeof o);
	expect_output("return function(input) return input == nil end\n",
	    &o, "true");
}

/* What cannot be JSON fails the step, naming the path. */
static void
test_script_output_errors(void)
{
	expect_error("return function() return { x = 0/0 } end\n", NULL,
	    "output.x: NaN is not valid JSON", 0);
	expect_error("return function() return { a = { math.huge } } end\n",
	    NULL, "output.a[0]: infinity is not valid JSON", 0);
	expect_error("return function() local t = {} t.self = t "
	    "return { t } end\n", NULL,
	    "output[0].self: the table contains itself (a cycle)", 0);
	expect_error("return function() return { 1, x = 2 } end\n", NULL,
	    "output: the table mixes integer keys and string keys", 0);
	expect_error("return function() return { b = { [1] = 1, [3] = 3 } }"
	    " end\n", NULL, "output.b[1]: the array has a hole", 0);
	expect_error("return function() return { f = print or pairs } end\n",
	    NULL, "output.f: a function cannot be converted to JSON", 0);
	expect_error("return function() return { s = '\\xff' } end\n", NULL,
	    "output.s: the string is not valid UTF-8", 0);
	expect_error("return function() return { [1.5] = 1 } end\n", NULL,
	    "output: key 1.5 is not an array index or a string", 0);
	expect_error("return function() return { [true] = 1 } end\n", NULL,
	    "output: a boolean key cannot be a JSON object key", 0);
	expect_error("return function() return { [0] = 1 } end\n", NULL,
	    "key 0 is not an array index", 0);
	expect_error("return function(i, ctx) return ctx.json.array({ x = 1 })"
	    " end\n", NULL, "output: an array has string keys", 0);
}

/* ctx: the run's identity, trigger, steps, json, env, log. */
static void
test_script_ctx(void)
{
	struct opts o;

	memset(&o, 0, sizeof o);
	o.trigger = "{\"id\": \"T-1\"}";
	o.steps = "{\"decode\": {\"n\": 2}}";
	o.secrets = "[\"ORC_TEST_SECRET\", \"ORC_TEST_UNSET\"]";
	setenv("ORC_TEST_SECRET", "s3cret", 1);
	unsetenv("ORC_TEST_UNSET");
	expect_output("return function(input, ctx)\n"
	    "  ctx.log('info', 'run %s attempt %d', ctx.run_id, ctx.attempt)\n"
	    "  return { ctx.run_id, ctx.workflow, ctx.step, ctx.attempt,\n"
	    "    ctx.trigger.id, ctx.steps.decode.n,\n"
	    "    ctx.env('ORC_TEST_SECRET'),\n    ctx.env('ORC_TEST_UNSET') == nil,\n"
	    "    ctx.json.encode({ b = 1, a = { 1.5 } }),\n"
	    "    ctx.json.decode('[1, {\"x\": null}]')[2].x == ctx.json.null,\n"
	    "    select(2, ctx.json.decode('{bad')) ~= nil }\n"
	    "end\n", &o,
	    "[\"01TESTRUN\",\"wf\",\"s\",2,\"T-1\",2,\"s3cret\",true,"
	    "\"{\\\"a\\\":[1.5],\\\"b\\\":1}\",true,true]");
	/* A name not in "secrets" is refused, even if it is set. */
	expect_error("return function(input, ctx) return ctx.env('HOME') "
	    "end\n", &o, "secret HOME is not listed in the workflow's "
	    "secrets", 0);
	expect_error("return function(input, ctx) return ctx.log('loud', "
	    "'x') end\n", &o, "invalid option 'loud'", -1);
	expect_error("return function(input, ctx) ctx.json.encode = nil "
	    "end\n", &o, "read-only", -1);
	expect_error("return function(input, ctx) return ctx.json.encode("
	    "{ 0/0 }) end\n", &o, "json.encode: [0]: NaN", -1);
	/* Without an event loop fetch says so (a worker has the daemon's). */
	if (wk_pool == NULL)
		expect_error("return function(input, ctx) return ctx.fetch("
		    "'http://127.0.0.1:1/') end\n", &o, "not available here",
		    -1);
}

/* Each forbidden global or function is absent or refused. */
static void
test_script_sandbox_absent(void)
{
	expect_output("return function()\n"
	    "  local t = {}\n"
	    "  for _, n in ipairs({ 'io', 'debug', 'loadfile', 'dofile',\n"
	    "      'package', 'collectgarbage', 'coroutine', 'print',\n"
	    "      'loadstring', 'module', 'setfenv', 'getfenv' }) do\n"
	    "    t[#t + 1] = n .. '=' .. type(_G[n])\n"
	    "  end\n"
	    "  for _, n in ipairs({ 'execute', 'remove', 'rename', 'exit',\n"
	    "      'getenv', 'tmpname', 'setlocale' }) do\n"
	    "    t[#t + 1] = 'os.' .. n .. '=' .. type(os[n])\n"
	    "  end\n"
	    "  t[#t + 1] = 'string.dump=' .. type(string.dump)\n"
	    "  t[#t + 1] = 'dump method=' .. type(('').dump)\n"
	    "  t[#t + 1] = 'os.time=' .. type(os.time())\n"
	    "  t[#t + 1] = 'os.clock=' .. type(os.clock())\n"
	    "  t[#t + 1] = 'os.date=' .. type(os.date('%Y'))\n"
	    "  t[#t + 1] = 'unpack=' .. select(2, unpack({ 1, 2 }))\n"
	    "  t[#t + 1] = 'utf8=' .. utf8.len('\\u{e9}')\n"
	    "  return t\n"
	    "end\n", NULL,
	    "[\"io=nil\",\"debug=nil\",\"loadfile=nil\",\"dofile=nil\","
	    "\"package=nil\",\"collectgarbage=nil\",\"coroutine=nil\","
	    "\"print=nil\",\"loadstring=nil\",\"module=nil\",\"setfenv=nil\","
	    "\"getfenv=nil\",\"os.execute=nil\",\"os.remove=nil\","
	    "\"os.rename=nil\",\"os.exit=nil\",\"os.getenv=nil\","
	    "\"os.tmpname=nil\",\"os.setlocale=nil\",\"string.dump=nil\","
	    "\"dump method=nil\",\"os.time=number\",\"os.clock=number\","
	    "\"os.date=string\",\"unpack=2\",\"utf8=1\"]");
}

/* Shared tables cannot be changed, by any route. */
static void
test_script_sandbox_readonly(void)
{
	expect_error("return function() string.upper = nil end\n", NULL,
	    "attempt to modify a read-only table", -1);
	expect_error("return function() rawset(math, 'pi', 3) end\n", NULL,
	    "attempt to modify a read-only table", -1);
	expect_error("return function() setmetatable(table, {}) end\n", NULL,
	    "cannot change a protected metatable", -1);
	expect_output("return function()\n"
	    "  local n = 0\n"
	    "  for k in pairs(math) do n = n + 1 end\n"
	    "  return { getmetatable('') == false, getmetatable(_G) == false,"
	    "\n    getmetatable(os) == false, n > 20 }\n"
	    "end\n", NULL, "[true,true,true,true]");
}

/* load: text only, in the run's globals; binary chunks refused. */
static void
test_script_sandbox_load(void)
{
	expect_output("return function()\n"
	    "  local f1, e1 = load('\\27Lua\\84\\0')\n"
	    "  local f2, e2 = load('return 1', 'x', 'b')\n"
	    "  local f3, e3 = load('return 1', 'x', 'bt')\n"
	    "  x = 41\n"
	    "  local f4 = load('x = x + 1; return io')\n"
	    "  local io_seen = f4()\n"
	    "  local f5 = load('return y', 'c', 't', { y = 5 })\n"
	    "  return { f1 == nil and e1:find('binary') ~= nil,\n"
	    "    f2 == nil and e2 == 'binary chunks are not allowed',\n"
	    "    f3 == nil, x, io_seen == nil, f5(),\n"
	    "    select(2, load(function() return nil end)) }\n"
	    "end\n", NULL,
	    "[true,true,true,42,true,5,\"load takes a string here\"]");
}

/* load with exactly three arguments runs in the run's globals, not as
 * its own _ENV (the chunk once landed in the env argument's slot). */
static void
test_script_sandbox_load_three(void)
{
	expect_output("return function()\n"
	    "  x = 7\n"
	    "  local f = load('return x, type(_ENV)', 'n', 't')\n"
	    "  local a, b = f()\n"
	    "  return { a, b }\n"
	    "end\n", NULL, "[7,\"table\"]");
}

/* Finalisers are refused (Lua runs them with hooks off); metatables
 * without one work, and a protected one stays protected. */
static void
test_script_sandbox_no_gc(void)
{
	expect_error("return function() setmetatable({}, {__gc = function() "
	    "while true do end end}) end\n", NULL,
	    "finalisers (__gc) are not available", -1);
	expect_error("return function() setmetatable({}, {__gc = false}) "
	    "end\n", NULL, "finalisers (__gc) are not available", -1);
	expect_output("return function()\n"
	    "  local t = setmetatable({}, {__index = function() return 3 "
	    "end})\n"
	    "  local p = setmetatable({}, {__metatable = 'no'})\n"
	    "  local ok = pcall(setmetatable, p, {})\n"
	    "  return { t.x, ok, getmetatable(p), "
	    "getmetatable(setmetatable(t, nil)) == nil }\n"
	    "end\n", NULL, "[3,false,\"no\",true]");
	expect_error("return function(input, ctx) "
	    "return setmetatable(ctx.fatal('x'), {}) end\n", NULL,
	    "cannot change a protected metatable", -1);
}

/* ctx.log keeps at most SCRIPT_LOG_LINES lines a run, then says how many
 * it dropped. */
static void
test_script_log_bounded(void)
{
	char *out;
	FILE *f;
	int fd, saved, lines = 0, dropped = 0;
	char line[4096];

	fflush(stderr);
	saved = dup(2);
	fd = open("log.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fd, 2);
	close(fd);
	expect_output("return function(input, ctx)\n"
	    "  for i = 1, 5000 do ctx.log('error', 'line %d', i) end\n"
	    "  return 1\n"
	    "end\n", NULL, "1");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen("log.txt", "r");
	REQUIRE(f != NULL);
	while (fgets(line, sizeof line, f) != NULL) {
		if (strstr(line, "step s: line ") != NULL)
			lines++;
		if ((out = strstr(line, "4000 more log lines dropped")) != NULL)
			dropped++;
	}
	fclose(f);
	CHECK(lines == SCRIPT_LOG_LINES);
	CHECK(dropped == 1);
}

/* require: modules in the workflow's folder only. */
static void
test_script_sandbox_require(void)
{
	test_put_file("helper.lua", "counter = (counter or 0) + 1\n"
	    "return { double = function(n) return 2 * n end }\n");
	mkdir("sub", 0755);
	test_put_file("sub/inner.lua", "return 1\n");
	expect_output("return function()\n"
	    "  local h = require('helper')\n"
	    "  local h2 = require('helper')\n"
	    "  return { h.double(21), h == h2, counter }\n"
	    "end\n", NULL, "[42,true,1]");
	expect_error("return function() return require('../helper') end\n",
	    NULL, "only modules in the workflow's folder", -1);
	expect_error("return function() return require('sub/inner') end\n",
	    NULL, "only modules in the workflow's folder", -1);
	expect_error("return function() return require('sub.inner') end\n",
	    NULL, "only modules in the workflow's folder", -1);
	expect_error("return function() return require('missing') end\n",
	    NULL, "require \"missing\": cannot read", -1);
	test_put_file("loop.lua", "return require('loop')\n");
	expect_error("return function() return require('loop') end\n",
	    NULL, "requires itself", -1);
}

/* One run's globals are not seen by the next; the state is reused. */
static void
test_script_no_leaks_between_runs(void)
{
	struct script_stats before, after;
	const char *script = "seen = seen\n"
	    "return function(input)\n"
	    "  local was = { leak = leak, seen = seen }\n"
	    "  leak = input\n"
	    "  _G.also = input\n"
	    "  pcall(rawset, string, 'x', 1)\n"
	    "  return { was = was, also = also, sx = string.x }\n"
	    "end\n";
	struct opts o;

	test_put_file("s.lua", script);
	memset(&o, 0, sizeof o);
	o.input = "1";
	expect_output(NULL, &o, "{\"also\":1,\"was\":{}}");
	script_get_stats(&before);
	o.input = "2";
	expect_output(NULL, &o, "{\"also\":2,\"was\":{}}");
	o.input = "3";
	expect_output(NULL, &o, "{\"also\":3,\"was\":{}}");
	script_get_stats(&after);
	/* Same state, same compiled chunk. */
	CHECK(after.states_created == before.states_created);
	CHECK(after.compiles == before.compiles);
	CHECK(after.runs == before.runs + 2);
	CHECK(after.idle >= 1);

	/* An edited script is compiled again. */
	sleep(0);
	test_put_file("s.lua", "return function() return 'edited!' end\n");
	expect_output(NULL, &o, "\"edited!\"");
	script_get_stats(&after);
	CHECK(after.compiles == before.compiles + 1);
}

/* Busy loops stop at the time limit and at the instruction limit. */
static void
test_script_limits_time_and_instructions(void)
{
	struct opts o;
	int64_t t0, dt;

	memset(&o, 0, sizeof o);
	o.timeout_ms = 200;
	/* Out of reach: an empty loop can run the default 100 million
	 * instructions in less than 200 ms on a fast core. */
	o.step_extra = "\"instructions\": 1000000000000";
	t0 = orc_mono_ms();
	expect_error("return function()\n  while true do end\nend\n", &o,
	    "lua time limit of 200 ms exceeded", 1);
	dt = orc_mono_ms() - t0;
	CHECK(dt >= 190 && dt < 1500);
	/* pcall cannot catch its way past it. */
	t0 = orc_mono_ms();
	expect_error("return function()\n"
	    "  while true do pcall(function() while true do end end) end\n"
	    "end\n", &o, "lua time limit of 200 ms exceeded", 1);
	CHECK(orc_mono_ms() - t0 < 1500);
	/* The traceback names the line of the loop. */
	expect_error("return function()\n  while true do end\nend\n", &o,
	    "s.lua:2:", 1);

	memset(&o, 0, sizeof o);
	o.step_extra = "\"instructions\": 100000";
	expect_error("return function() local n = 0 while true do n = n + 1 "
	    "end end\n", &o, "lua instruction limit of 100000 exceeded", 0);
	/* Under the limit all is well, and the next run works. */
	expect_output("return function() local n = 0 for i = 1, 1000 do "
	    "n = n + i end return n end\n", &o, "500500");
}

/* An allocation loop stops at the memory limit; the next run works. */
static void
test_script_limits_memory(void)
{
	struct opts o;

	memset(&o, 0, sizeof o);
	o.step_extra = "\"memory_mb\": 8";
	expect_error("return function()\n"
	    "  local t = {}\n"
	    "  for i = 1, 1e9 do t[i] = string.rep('x', 100) .. i end\n"
	    "end\n", &o, "lua memory limit of 8 MiB exceeded", 0);
	expect_error("return function()\n"
	    "  return #string.rep('x', 64 * 1024 * 1024)\n"
	    "end\n", &o, "lua memory limit of 8 MiB exceeded", 0);
	/* Caught by pcall, it still fails the attempt. */
	expect_error("return function()\n"
	    "  pcall(string.rep, 'x', 64 * 1024 * 1024)\n"
	    "  return 1\n"
	    "end\n", &o, "lua memory limit of 8 MiB exceeded", 0);
	expect_output("return function() return #string.rep('x', 1024 * 1024)"
	    " end\n", &o, "1048576");
	/* The default (64 MiB) allows more than 8. */
	expect_output("return function() return #string.rep('x', 16 * 1024 * "
	    "1024) end\n", NULL, "16777216");
}

/* Errors: message and traceback; retryable, fatal, compile errors. */
static void
test_script_errors(void)
{
	struct step_call *call;

	call = run("return function(input)\n"
	    "  local x = nil\n"
	    "  return x.y\n"
	    "end\n", NULL);
	CHECK(!step_call_ok(call));
	CHECK_CONTAINS(step_call_error(call), "s.lua:3: attempt to index a "
	    "nil value (local 'x')");
	CHECK_CONTAINS(step_call_error(call), "stack traceback:");
	CHECK_CONTAINS(step_call_error(call), "s.lua:3: in function");
	CHECK(step_call_retryable(call));
	step_call_free(call);

	expect_error("return function(input, ctx)\n"
	    "  error(ctx.fatal('bad order'))\nend\n", NULL,
	    "s.lua:2: bad order", 0);
	expect_error("return function(input, ctx)\n"
	    "  error(ctx.retryable('price service: 503'))\nend\n", NULL,
	    "s.lua:2: price service: 503", 1);
	expect_error("return function() error({}) end\n", NULL,
	    "(error object is a table value)", 1);
	expect_error("return function()\n  local = 1\nend\n", NULL,
	    "s.lua:2: <name> expected near '='", 0);
	expect_error("return 42\n", NULL,
	    "s.lua must return a function (input, ctx), not a number", 1);
	expect_error("error('at load')\n", NULL, "s.lua:1: at load", 1);
	unlink("s.lua");
	expect_error(NULL, NULL, "cannot read", 0);
}

/* A second result names the next step. */
static void
test_script_branching(void)
{
	const char *script = "return function(input)\n"
	    "  if input.kind == 'bug' then return input, 'file_bug' end\n"
	    "  if input.kind == 'bad' then return input, 42 end\n"
	    "  return input\n"
	    "end\n";
	struct step_call *call;
	struct opts o;

	memset(&o, 0, sizeof o);
	o.input = "{\"kind\": \"bug\"}";
	call = run(script, &o);
	CHECK(step_call_ok(call));
	CHECK_STR(step_call_next(call), "file_bug");
	step_call_free(call);
	o.input = "{\"kind\": \"question\"}";
	call = run(script, &o);
	CHECK(step_call_ok(call));
	CHECK(step_call_next(call) == NULL);
	step_call_free(call);
	o.input = "{\"kind\": \"bad\"}";
	expect_error(script, &o, "s.lua returned a number as the next step",
	    0);
}

/* The loader compiles scripts: a syntax error names both files. */
static void
test_script_loader_check(void)
{
	struct orc_error err;
	struct workflow *wf;
	struct diag *d;

	test_put_file("ok.lua", "return function() return 1 end\n");
	test_put_file("bad.lua", "return function()\n  if then\nend\n");
	CHECK(script_check("ok.lua", "ok.lua", &err) == 0);
	CHECK(script_check("bad.lua", "bad.lua", &err) == -1);
	CHECK_CONTAINS(err.message, "bad.lua:2: unexpected symbol near "
	    "'then'");
	CHECK(script_check("none.lua", "none.lua", &err) == -1);

	test_put_file("wf.json", "{\n  \"name\": \"wf\",\n  \"steps\": [\n"
	    "    { \"name\": \"a\", \"uses\": \"lua\", \"script\": "
	    "\"bad.lua\" }\n  ]\n}\n");
	d = diag_create();
	wf = workflow_load_file("wf.json", d);
	CHECK(wf == NULL);
	REQUIRE(diag_count(d) == 1);
	CHECK_CONTAINS(diag_at(d, 0), "wf.json:4:");
	CHECK_CONTAINS(diag_at(d, 0), "bad.lua:2: unexpected symbol");
	diag_free(d);

	test_put_file("wf.json", "{\n  \"name\": \"wf\",\n  \"steps\": [\n"
	    "    { \"name\": \"a\", \"uses\": \"lua\", \"script\": "
	    "\"ok.lua\" }\n  ]\n}\n");
	d = diag_create();
	wf = workflow_load_file("wf.json", d);
	CHECK(wf != NULL);
	CHECK(diag_count(d) == 0);
	workflow_unref(wf);
	diag_free(d);
}

/* A local HTTP server that answers each request after a delay. */
struct slow_server {
	struct event_base	*base;
	struct evhttp		*http;
	int			 port;
	int			 requests;
};

/* The delayed answer. */
static void
slow_reply_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evhttp_request *req = arg;
	struct evbuffer *b = evbuffer_new();

	evbuffer_add_printf(b, "{\"ok\": true, \"n\": 7}");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* A request: answer it in 200 ms. */
static void
slow_request_cb(struct evhttp_request *req, void *arg)
{
	struct slow_server *s = arg;
	struct timeval tv = { 0, 200000 };

	s->requests++;
	event_base_once(s->base, -1, EV_TIMEOUT, slow_reply_cb, req, &tv);
}

/* Starts the server on a free port. */
static void
slow_server_start(struct slow_server *s, struct event_base *base)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;

	memset(s, 0, sizeof *s);
	s->base = base;
	s->http = evhttp_new(base);
	evhttp_set_gencb(s->http, slow_request_cb, s);
	bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
	if (bs == NULL || getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &len) != 0) {
		perror("bind");
		exit(99);
	}
	s->port = ntohs(sin.sin_port);
}

/* Counts finished calls. */
static void
count_done_cb(struct step_call *call, void *arg)
{
	int *done = arg;

	(*done)++;
}

/* Stops the loop when it runs too long. */
static void
stop_loop_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Runs the loop until *done reaches n or 10 s pass. */
static void
loop_until(struct event_base *base, int *done, int n)
{
	struct timeval tv = { 10, 0 }, tick = { 0, 5000 };
	struct event *guard = evtimer_new(base, stop_loop_cb, base);
	int64_t start = orc_mono_ms();

	evtimer_add(guard, &tv);
	while (*done < n && orc_mono_ms() - start < 10000) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	event_free(guard);
}

/* 50 steps wait on a 200 ms server at once: about 200 ms, not 10 s. */
static void
test_script_fetch_concurrent(void)
{
	struct event_base *base = event_base_new();
	struct step_call *calls[50];
	struct slow_server s;
	struct fetch *f;
	struct opts o;
	char *script, *got, allow[64];
	int i, done = 0, waiting = 0, ok = 0;
	int64_t t0, dt;

	REQUIRE(base != NULL);
	slow_server_start(&s, base);
	f = fetch_create(base, NULL);
	REQUIRE(f != NULL);
	script = xasprintf("return function(input, ctx)\n"
	    "  local r = ctx.fetch('http://127.0.0.1:%d/x', { method = 'POST',"
	    " body = { id = input }, headers = { ['X-Test'] = 'yes' },"
	    " timeout_ms = 5000 })\n"
	    "  return { status = r.status, ok = r.json.ok, n = r.json.n,\n"
	    "    ct = r.headers['content-type'], input = input }\n"
	    "end\n", s.port);
	test_put_file("s.lua", script);
	free(script);
	snprintf(allow, sizeof allow, "{\"hosts\": [\"127.0.0.1:%d\"]}",
	    s.port);
	memset(&o, 0, sizeof o);
	o.base = base;
	o.fetch = f;
	o.allow = allow;
	o.input = "5";
	t0 = orc_mono_ms();
	for (i = 0; i < 50; i++) {
		calls[i] = make_call(&o, count_done_cb, &done);
		if (step_call_start(calls[i]) == STEP_WAIT)
			waiting++;
	}
	CHECK(waiting == 50);
	loop_until(base, &done, 50);
	dt = orc_mono_ms() - t0;
	fprintf(stderr, "50 concurrent lua fetches of a 200 ms server: "
	    "%lld ms\n", (long long)dt);
	CHECK(done == 50);
	CHECK(s.requests == 50);
	CHECK(dt >= 190 && dt < 2000);
	for (i = 0; i < 50; i++) {
		if (step_call_ok(calls[i])) {
			got = output_text(calls[i]);
			if (strcmp(got, "{\"ct\":\"application/json\",\"input\""
			    ":5,\"n\":7,\"ok\":true,\"status\":200}") == 0)
				ok++;
			else
				fprintf(stderr, "got %s\n", got);
			free(got);
		} else if (step_call_finished(calls[i]))
			fprintf(stderr, "error %s\n",
			    step_call_error(calls[i]));
		step_call_free(calls[i]);
	}
	CHECK(ok == 50);

	/* A host outside allow.hosts is refused, not retried. */
	o.allow = "{\"hosts\": [\"example.com\"]}";
	test_put_file("s.lua", "return function(input, ctx)\n"
	    "  return ctx.fetch('http://127.0.0.1:1/')\nend\n");
	expect_error(NULL, &o, "not", 0);

	/* A transport error is nil and a message. */
	o.allow = NULL;
	test_put_file("s.lua", "return function(input, ctx)\n"
	    "  local r, err = ctx.fetch('http://127.0.0.1:1/')\n"
	    "  return { r == nil, type(err) }\nend\n");
	done = 0;
	calls[0] = make_call(&o, count_done_cb, &done);
	if (step_call_start(calls[0]) == STEP_WAIT)
		loop_until(base, &done, 1);
	got = step_call_ok(calls[0]) ? output_text(calls[0]) :
	    xstrdup(step_call_error(calls[0]));
	CHECK_STR(got, "[true,\"string\"]");
	free(got);
	step_call_free(calls[0]);

	/* Cancelled while it waits: torn down, and the next run works. */
	script = xasprintf("return function(input, ctx)\n"
	    "  local r = ctx.fetch('http://127.0.0.1:%d/slow')\n"
	    "  return r.status\nend\n", s.port);
	test_put_file("s.lua", script);
	free(script);
	done = 0;
	calls[0] = make_call(&o, count_done_cb, &done);
	CHECK(step_call_start(calls[0]) == STEP_WAIT);
	step_call_cancel(calls[0]);
	step_call_free(calls[0]);
	CHECK(fetch_active(f) == 0);
	calls[0] = make_call(&o, count_done_cb, &done);
	CHECK(step_call_start(calls[0]) == STEP_WAIT);
	loop_until(base, &done, 1);
	CHECK(done == 1);
	got = step_call_ok(calls[0]) ? output_text(calls[0]) : xstrdup("x");
	CHECK_STR(got, "200");
	free(got);
	step_call_free(calls[0]);

	fetch_free(f);
	evhttp_free(s.http);
	/* Let the server's pending replies to the cancelled request go. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
}

/* The tests of the script semantics: in this process, then on workers. */
static void
run_all(void)
{
	TEST_RUN(test_script_output_conversion);
	TEST_RUN(test_script_output_nil_members);
	TEST_RUN(test_script_input_round_trip);
	TEST_RUN(test_script_output_errors);
	TEST_RUN(test_script_ctx);
	TEST_RUN(test_script_sandbox_absent);
	TEST_RUN(test_script_sandbox_readonly);
	TEST_RUN(test_script_sandbox_load);
	TEST_RUN(test_script_sandbox_require);
	TEST_RUN(test_script_limits_time_and_instructions);
	TEST_RUN(test_script_limits_memory);
	TEST_RUN(test_script_errors);
	TEST_RUN(test_script_branching);
	TEST_RUN(test_script_sandbox_load_three);
	TEST_RUN(test_script_sandbox_no_gc);
	TEST_RUN(test_script_log_bounded);
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "__worker") == 0)
		return worker_child_main(3, 4, NULL);
	run_all();
	/* What only this process can tell: its states, the loader, its own
	 * loop's fetches. */
	TEST_RUN(test_script_no_leaks_between_runs);
	TEST_RUN(test_script_loader_check);
	TEST_RUN(test_script_fetch_concurrent);
	script_shutdown();
	/* The same scripts on a worker process. */
	wk_base = event_base_new();
	wk_fetch = fetch_create(wk_base, NULL);
	wk_pool = worker_pool_create(wk_base, wk_fetch, 1, NULL);
	run_all();
	worker_pool_free(wk_pool);
	fetch_free(wk_fetch);
	event_base_free(wk_base);
	TEST_DONE();
}
