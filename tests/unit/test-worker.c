/*
 * Tests of the worker processes (worker.c, worker-child.c, sandbox.c):
 * scripts run on real workers, started from this program (its main
 * answers "__worker" as the daemon's does), with their results, their
 * fetches through the daemon, a stuck call killed at its deadline, a
 * worker killed by a signal, a worker that talks nonsense or cannot
 * start, cancel, and the sandbox refusing files, sockets and exec.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "fetch.h"
#include "orchestrator.h"
#include "sandbox.h"
#include "script.h"
#include "worker.h"
#include "test.h"
#include "test-httpd.h"

/* What a call ended with. */
struct result {
	int	 done;
	int	 ok;
	int	 retryable;
	char	*output;	/* compact JSON */
	char	*next;
	char	*error;
	int64_t	 ms;		/* from the start */
	int64_t	 started;
};

static void
result_cb(void *arg, int ok, json_t *output, const char *next, int retryable,
    const char *message)
{
	struct result *r = arg;

	r->done = 1;
	r->ok = ok;
	r->retryable = retryable;
	r->output = output != NULL ? json_dumps(output, JSON_COMPACT |
	    JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	r->next = next != NULL ? xstrdup(next) : NULL;
	r->error = message != NULL ? xstrdup(message) : NULL;
	r->ms = orc_mono_ms() - r->started;
	json_decref(output);
}

static void
result_clear(struct result *r)
{
	free(r->output);
	free(r->next);
	free(r->error);
	memset(r, 0, sizeof *r);
}

/* A job on s.lua in the test's folder. */
static struct script_job
job(const char *workflow, const json_t *input, int64_t timeout_ms)
{
	struct script_job j;

	memset(&j, 0, sizeof j);
	j.dir = test_dir;
	j.script = "s.lua";
	j.workflow = workflow;
	j.run_id = "01TESTRUN";
	j.step = "s";
	j.attempt = 1;
	j.input = input;
	j.timeout_ms = timeout_ms;
	return j;
}

/* Starts a call and runs the loop until it ends (or ms pass). */
static void
call(struct event_base *base, struct worker_pool *p, const struct script_job
    *j, const json_t *allow, const json_t *secrets, struct result *r,
    int64_t ms)
{
	struct orc_error err;

	memset(r, 0, sizeof *r);
	r->started = orc_mono_ms();
	if (worker_call_start(p, j, NULL, NULL, allow, secrets, result_cb, r, &err) ==
	    NULL) {
		fprintf(stderr, "call refused: %s\n", err.message);
		exit(99);
	}
	httpd_run_until(base, &r->done, ms);
}

struct env {
	struct event_base	*base;
	struct fetch		*fetch;
	struct worker_pool	*pool;
};

static void
env_open(struct env *e, int n, const char *exe)
{
	e->base = event_base_new();
	e->fetch = fetch_create(e->base, NULL);
	e->pool = worker_pool_create(e->base, e->fetch, n, exe);
}

static void
env_close(struct env *e)
{
	worker_pool_free(e->pool);
	fetch_free(e->fetch);
	event_base_free(e->base);
}

/* Output, next step, ctx, a module, a secret listed and one not. */
static void
test_worker_output(void)
{
	struct env e;
	struct result r;
	struct script_job j;
	json_t *in = json_pack("{si}", "n", 41);
	json_t *secrets = json_pack("[s]", "TEST_WORKER_SECRET");

	setenv("TEST_WORKER_SECRET", "s3cret", 1);
	test_put_file("m.lua",
	    "return { add = function(a) return a + 1 end }\n");
	test_put_file("s.lua", "local m = require('m')\n"
	    "return function(input, ctx)\n"
	    "  ctx.log('info', 'n is %d', input.n)\n"
	    "  return { n = m.add(input.n), wf = ctx.workflow,\n"
	    "    run = ctx.run_id, secret = ctx.env('TEST_WORKER_SECRET') },"
	    " 'next'\n"
	    "end\n");
	env_open(&e, 2, NULL);
	j = job("wf", in, 5000);
	call(e.base, e.pool, &j, NULL, secrets, &r, 10000);
	REQUIRE(r.done);
	if (!r.ok)
		fprintf(stderr, "error: %s\n", r.error);
	CHECK(r.ok);
	CHECK_STR(r.output, "{\"n\":42,\"run\":\"01TESTRUN\",\"secret\":"
	    "\"s3cret\",\"wf\":\"wf\"}");
	CHECK_STR(r.next, "next");
	result_clear(&r);
	/* Not listed: refused, though the daemon has it. */
	test_put_file("s.lua", "return function(input, ctx) "
	    "return ctx.env('HOME') end\n");
	call(e.base, e.pool, &j, NULL, secrets, &r, 10000);
	CHECK(r.done && !r.ok);
	CHECK_CONTAINS(r.error, "secret HOME is not listed");
	result_clear(&r);
	/* A changed script is read again. */
	test_put_file("s.lua",
	    "return function() return 'v2, longer than v1' end\n");
	call(e.base, e.pool, &j, NULL, secrets, &r, 10000);
	CHECK_STR(r.output, "\"v2, longer than v1\"");
	result_clear(&r);
	env_close(&e);
	json_decref(in);
	json_decref(secrets);
	unsetenv("TEST_WORKER_SECRET");
}

/* A pattern that backtracks for minutes inside string.gsub: no hook runs
 * there; the worker is killed shortly after the deadline, the call fails
 * saying so, and the next call runs on a new worker. */
static void
test_worker_stuck_in_c(void)
{
	struct env e;
	struct result r;
	struct script_job j;
	struct worker_stats st;

	test_put_file("s.lua",
	    "return function() local s = string.rep('a', 100000) "
	    "return { n = #s:gsub('a*a*a*a*a*b', '') } end\n");
	env_open(&e, 1, NULL);
	j = job("wf", NULL, 300);
	call(e.base, e.pool, &j, NULL, NULL, &r, 10000);
	REQUIRE(r.done);
	CHECK(!r.ok && r.retryable);
	CHECK_CONTAINS(r.error, "lua time limit of 300 ms exceeded (stuck in "
	    "a C function");
	CHECK(r.ms >= 300 && r.ms < 300 + WORKER_GRACE_MS + 400);
	result_clear(&r);
	worker_pool_stats(e.pool, &st);
	CHECK(st.kills == 1);
	test_put_file("s.lua", "return function(input) return input end\n");
	j = job("wf", json_true(), 5000);
	call(e.base, e.pool, &j, NULL, NULL, &r, 10000);
	CHECK(r.done && r.ok);
	CHECK_STR(r.output, "true");
	result_clear(&r);
	worker_pool_stats(e.pool, &st);
	CHECK(st.restarts == 1 && st.alive == 1);
	env_close(&e);
}

/* A worker killed by a signal while it runs a call: that call fails
 * naming the signal; the daemon side carries on. */
static void
test_worker_crash(void)
{
	struct env e;
	struct result r;
	struct script_job j;
	struct orc_error err;
	long pid;

	test_put_file("s.lua", "return function() local x = 0 "
	    "while true do x = x + 1 end end\n");
	env_open(&e, 1, NULL);
	j = job("wf", NULL, 10000);
	memset(&r, 0, sizeof r);
	r.started = orc_mono_ms();
	REQUIRE(worker_call_start(e.pool, &j, NULL, NULL, NULL, NULL, result_cb, &r,
	    &err) != NULL);
	httpd_run_until(e.base, &r.done, 300);
	CHECK(!r.done);
	pid = worker_pool_pid(e.pool, 0);
	REQUIRE(pid > 0);
	/* SIGABRT: ASan builds catch SIGSEGV and exit instead. */
	kill((pid_t)pid, SIGABRT);
	httpd_run_until(e.base, &r.done, 5000);
	REQUIRE(r.done);
	CHECK(!r.ok && r.retryable);
	CHECK_CONTAINS(r.error, "killed by signal 6");
	CHECK(r.ms < 3000);
	result_clear(&r);
	env_close(&e);
}

/* Limits inside Lua: memory, instructions, finalisers refused; every
 * one fails only its own call. */
static void
test_worker_limits(void)
{
	static const struct {
		const char *script, *want;
	} cases[] = {
		{ "return function() local t = {} for i = 1, 1e9 do "
		  "t[i] = string.rep('x', 1000) .. i end end\n",
		  "memory limit" },
		{ "return function() while true do pcall(function() "
		  "while true do end end) end end\n", "limit" },
		{ "return function() setmetatable({}, {__gc = function() "
		  "while true do end end}) return 1 end\n",
		  "finalisers (__gc) are not available" },
		{ "return function() collectgarbage('stop') end\n",
		  "collectgarbage" },
		{ "return function() table.sort({3, 2, 1, 5, 4}, function() "
		  "while true do end end) end\n", "limit" },
	};
	struct env e;
	struct result r;
	struct script_job j;
	size_t i;

	env_open(&e, 1, NULL);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		test_put_file("s.lua", cases[i].script);
		j = job("wf", NULL, 2000);
		j.instructions = 20000000;
		j.memory_mb = 16;
		call(e.base, e.pool, &j, NULL, NULL, &r, 10000);
		CHECK(r.done && !r.ok);
		CHECK_CONTAINS(r.error, cases[i].want);
		result_clear(&r);
	}
	test_put_file("s.lua", "return function() return 7 end\n");
	call(e.base, e.pool, &j, NULL, NULL, &r, 10000);
	CHECK_STR(r.output, "7");
	result_clear(&r);
	env_close(&e);
}

/* One workflow cannot reach what another leaves in a state: the error
 * objects' metatable is guarded, and states are per workflow. */
static void
test_worker_spy(void)
{
	struct env e;
	struct result r;
	struct script_job j;

	env_open(&e, 1, NULL);
	test_put_file("s.lua", "return function(input, ctx)\n"
	    "  local err = ctx.retryable('x')\n"
	    "  local mt = getmetatable(err)\n"
	    "  local ok = pcall(setmetatable, err, {})\n"
	    "  return { mt = tostring(mt), set = ok }\n"
	    "end\n");
	j = job("spy", NULL, 2000);
	call(e.base, e.pool, &j, NULL, NULL, &r, 10000);
	CHECK_STR(r.output, "{\"mt\":\"false\",\"set\":false}");
	result_clear(&r);
	/* The victim's error objects work as before. */
	test_put_file("s.lua", "return function(input, ctx) "
	    "return tostring(ctx.fatal('boom')) end\n");
	j = job("victim", NULL, 2000);
	call(e.base, e.pool, &j, NULL, NULL, &r, 10000);
	CHECK_STR(r.output, "\"s.lua:1: boom\"");
	result_clear(&r);
	env_close(&e);
}

/* ctx.fetch waits in the daemon: one worker runs many calls that wait at
 * once, and allow is checked in the daemon. */
static void
test_worker_fetch(void)
{
	enum { N = 100 };
	struct env e;
	struct result r[N];
	struct script_job j;
	struct httpd *h;
	struct orc_error err;
	json_t *allow;
	int64_t t0;
	int i, all;

	env_open(&e, 1, NULL);
	h = httpd_start(e.base);
	test_put_file("s.lua", "return function(input, ctx)\n"
	    "  local r, e = ctx.fetch(input)\n"
	    "  return r and r.body or e\n"
	    "end\n");
	allow = json_pack("{s[s]}", "hosts", "127.0.0.1");
	t0 = orc_mono_ms();
	for (i = 0; i < N; i++) {
		json_t *url = json_sprintf("http://127.0.0.1:%d/slow?ms=200",
		    h->port);

		j = job("wf", url, 10000);
		memset(&r[i], 0, sizeof r[i]);
		r[i].started = t0;
		REQUIRE(worker_call_start(e.pool, &j, NULL, NULL, allow, NULL, result_cb,
		    &r[i], &err) != NULL);
		json_decref(url);
	}
	for (all = 0; !all && orc_mono_ms() - t0 < 15000;) {
		httpd_run_until(e.base, &all, 20);
		for (all = 1, i = 0; i < N; i++)
			all = all && r[i].done;
	}
	CHECK(all);
	/* One after another they would take 20 s. */
	CHECK(orc_mono_ms() - t0 < 10000);
	for (i = 0; i < N; i++) {
		CHECK(r[i].ok);
		CHECK_STR(r[i].output, "\"slow\"");
		result_clear(&r[i]);
	}
	/* Refused by allow, in the daemon: the script's error. */
	j = job("wf", json_string("http://example.invalid/"), 5000);
	call(e.base, e.pool, &j, allow, NULL, &r[0], 10000);
	CHECK(r[0].done && !r[0].ok && !r[0].retryable);
	CHECK_CONTAINS(r[0].error, "fetch http://example.invalid/");
	json_decref((json_t *)j.input);
	result_clear(&r[0]);
	json_decref(allow);
	httpd_free(h);
	env_close(&e);
}

/* Cancel: a queued call goes at once; a stuck one has its worker killed
 * after the grace; neither calls back. */
static void
test_worker_cancel(void)
{
	struct env e;
	struct result r1, r2, r3;
	struct script_job j;
	struct worker_call *c1, *c2;
	struct worker_stats st;
	struct orc_error err;
	int never = 0;

	test_put_file("s.lua",
	    "return function() local s = string.rep('a', 100000) "
	    "return { n = #s:gsub('a*a*a*a*a*b', '') } end\n");
	env_open(&e, 1, NULL);
	j = job("wf", NULL, 60000);
	memset(&r1, 0, sizeof r1);
	memset(&r2, 0, sizeof r2);
	c1 = worker_call_start(e.pool, &j, NULL, NULL, NULL, NULL, result_cb, &r1, &err);
	c2 = worker_call_start(e.pool, &j, NULL, NULL, NULL, NULL, result_cb, &r2, &err);
	REQUIRE(c1 != NULL && c2 != NULL);
	httpd_run_until(e.base, &never, 200);
	worker_call_cancel(c2);
	worker_call_cancel(c1);
	httpd_run_until(e.base, &never, WORKER_GRACE_MS + 300);
	worker_pool_stats(e.pool, &st);
	CHECK(st.kills == 1);
	CHECK(!r1.done && !r2.done);
	test_put_file("s.lua", "return function() return 'after' end\n");
	j = job("wf", NULL, 5000);
	call(e.base, e.pool, &j, NULL, NULL, &r3, 10000);
	CHECK_STR(r3.output, "\"after\"");
	result_clear(&r3);
	env_close(&e);
}

/* A "worker" that writes nonsense: killed, the call fails in the end,
 * and the pool backs off instead of spinning. */
static void
test_worker_nonsense(void)
{
	struct env e;
	struct result r;
	struct script_job j;
	struct worker_stats st;
	char exe[512];

	snprintf(exe, sizeof exe, "%s/liar.sh", test_dir);
	test_put_file("liar.sh", "#!/bin/sh\nprintf 'not a frame at all' >&3\n"
	    "sleep 5\n");
	chmod(exe, 0755);
	env_open(&e, 1, exe);
	j = job("wf", NULL, 3000);
	call(e.base, e.pool, &j, NULL, NULL, &r, 10000);
	REQUIRE(r.done);
	CHECK(!r.ok);
	CHECK(strstr(r.error, "too often") != NULL ||
	    strstr(r.error, "time limit") != NULL);
	result_clear(&r);
	worker_pool_stats(e.pool, &st);
	CHECK(st.crashes >= 1);
	/* 100, 200, 400, 800, 1600 ms: a handful in 3 s, not thousands. */
	CHECK(st.restarts <= 8);
	env_close(&e);
}

/* The probe, in a process of its own (so that valgrind, which does not
 * follow exec, leaves it alone): enters the sandbox keeping fd, tries
 * what it must not do, and exits with a bit per thing that worked. */
static int
sandbox_probe(int fd)
{
	char *argv[] = { (char *)"/bin/true", NULL };
	struct orc_error err;
	const char *what;
	int bad = 0;

	if (sandbox_enter(fd, NULL, &what, &err) != 0) {
		fprintf(stderr, "%s\n", err.message);
		return 90;
	}
	if (open("/etc/hostname", O_RDONLY) >= 0 || errno != EPERM) {
		fprintf(stderr, "open: %s\n", strerror(errno));
		bad |= 1;
	}
	if (socket(AF_INET, SOCK_STREAM, 0) >= 0)
		bad |= 2;
	execve(argv[0], argv, NULL);
	bad |= errno == EPERM ? 0 : 4;
	if (kill(getppid(), 0) == 0)
		bad |= 8;
	if (fcntl(fd + 1, F_GETFD) >= 0)	/* closed */
		bad |= 16;
	if (write(fd, "ok", 2) != 2)
		bad |= 32;
	return bad;
}

/* In the sandbox, files, sockets, exec and signals to others fail. */
static void
test_worker_sandbox(void)
{
	char self[1024], fdarg[16], *argv[4], buf[4];
	int sv[2], status, spare;
	ssize_t len;
	pid_t pid;

	len = readlink("/proc/self/exe", self, sizeof self - 1);
	REQUIRE(len > 0);
	self[len] = '\0';
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	/* One more descriptor above the kept one, to see it closed. */
	spare = dup(sv[1]);
	REQUIRE(spare == sv[1] + 1);
	snprintf(fdarg, sizeof fdarg, "%d", sv[1]);
	argv[0] = self;
	argv[1] = (char *)"__sandbox";
	argv[2] = fdarg;
	argv[3] = NULL;
	if ((pid = fork()) == 0) {
		execv(self, argv);
		_exit(127);
	}
	REQUIRE(pid > 0);
	close(sv[1]);
	close(spare);
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) != 0)
		fprintf(stderr, "sandbox leaks: %d\n", WEXITSTATUS(status));
	CHECK(WEXITSTATUS(status) == 0);
	len = read(sv[0], buf, sizeof buf);
	CHECK(len == 2);
	close(sv[0]);
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "__worker") == 0)
		return worker_child_main(3, 4, NULL);
	/* _exit: a sanitizer's exit work is refused in the sandbox. */
	if (argc == 3 && strcmp(argv[1], "__sandbox") == 0)
		_exit(sandbox_probe(atoi(argv[2])));
	signal(SIGPIPE, SIG_IGN);
	(void)httpd_dead_port;
	TEST_RUN(test_worker_output);
	TEST_RUN(test_worker_stuck_in_c);
	TEST_RUN(test_worker_crash);
	TEST_RUN(test_worker_limits);
	TEST_RUN(test_worker_spy);
	TEST_RUN(test_worker_fetch);
	TEST_RUN(test_worker_cancel);
	TEST_RUN(test_worker_nonsense);
	TEST_RUN(test_worker_sandbox);
	TEST_DONE();
}
