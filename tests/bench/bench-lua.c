/*
 * The cost of a trivial lua step (make bench): the same attempt, through
 * step_call as the engine runs it, of a script that returns its input, and
 * of the transform step as the baseline; the difference is what Lua adds
 * per step (target: at most 10 microseconds), state reuse and the compiled
 * script cache included. Then the same script on a worker process
 * (worker.h): the round trip of one call at a time, and the CPU a call
 * costs the daemon and the worker together when many are in flight, side
 * by side with the in-process cost (target: at most 15 us more).
 */
#include "config.h"

#include <sys/resource.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "fetch.h"
#include "orchestrator.h"
#include "script.h"
#include "steps.h"
#include "worker.h"

#define BENCH_RUNS	200000
#define BENCH_WORKER_RUNS	100000
#define BENCH_IN_FLIGHT	256

/* Nanoseconds on the monotonic clock. */
static int64_t
bench_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU seconds of this process so far. */
static double
bench_cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Runs n attempts of entry on step and input; CPU ns per attempt. */
static double
bench_steps(const struct step_entry *entry, json_t *step, json_t *input,
    const char *dir, int n)
{
	struct step_call_params p;
	struct step_call *call;
	double t0;
	int i;

	memset(&p, 0, sizeof p);
	p.entry = entry;
	p.step = step;
	p.input = input;
	p.run_id = "01BENCH";
	p.workflow = "bench";
	p.workflow_dir = dir;
	p.step_name = "s";
	p.attempt = 1;
	t0 = bench_cpu_self();
	for (i = 0; i < n; i++) {
		call = step_call_create(&p, NULL, NULL);
		if (step_call_start(call) != STEP_DONE ||
		    !step_call_ok(call)) {
			fprintf(stderr, "bench-lua: %s failed: %s\n",
			    entry->name, step_call_error(call));
			exit(1);
		}
		json_decref(step_call_take_output(call));
		step_call_free(call);
	}
	return (bench_cpu_self() - t0) * 1e9 / n;
}

/* CPU seconds of a process so far, from /proc; 0 when unknown. */
static double
bench_cpu_of(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(buf, sizeof buf, f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return 0;
	/* Fields 14 and 15 (utime, stime) after the command's ")". */
	for (i = 0; i < 11 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct bench_worker {
	struct event_base	*base;
	struct worker_pool	*pool;
	struct script_job	 job;
	int			 left;		/* to start */
	int			 open;		/* in flight */
	int			 in_flight;	/* at most */
};

static void	bench_worker_start(struct bench_worker *);

/* A call ended: start the next one. */
static void
bench_worker_done(void *arg, int ok, json_t *output, const char *next,
    int retryable, const char *message)
{
	struct bench_worker *b = arg;

	if (!ok) {
		fprintf(stderr, "bench-lua: worker call failed: %s\n",
		    message);
		exit(1);
	}
	json_decref(output);
	b->open--;
	bench_worker_start(b);
	if (b->open == 0 && b->left == 0)
		event_base_loopbreak(b->base);
}

/* Starts calls until in_flight are open or none are left. */
static void
bench_worker_start(struct bench_worker *b)
{
	struct orc_error err;

	while (b->left > 0 && b->open < b->in_flight) {
		if (worker_call_start(b->pool, &b->job, NULL, NULL, NULL, NULL,
		    bench_worker_done, b, &err) == NULL) {
			fprintf(stderr, "bench-lua: %s\n", err.message);
			exit(1);
		}
		b->left--;
		b->open++;
	}
}

/* n calls, at most in_flight at once (1: one round trip after the other);
 * wall ns per call into *wall, CPU ns per call (both processes) back. */
static double
bench_worker_calls(struct bench_worker *b, int n, int in_flight,
    double *wall)
{
	long pid = worker_pool_pid(b->pool, 0);
	double cpu0 = bench_cpu_self() + bench_cpu_of(pid);
	int64_t t0 = bench_ns();

	b->in_flight = in_flight;
	b->left = n;
	bench_worker_start(b);
	event_base_dispatch(b->base);
	*wall = (double)(bench_ns() - t0) / n;
	return (bench_cpu_self() + bench_cpu_of(pid) - cpu0) * 1e9 / n;
}

/* The same script on one worker process. */
static void
bench_worker(const char *dir, json_t *input, double lua_ns)
{
	struct bench_worker b;
	struct fetch *fetch;
	double rt_wall, wall, cpu;

	memset(&b, 0, sizeof b);
	b.base = event_base_new();
	fetch = fetch_create(b.base, NULL);
	b.pool = worker_pool_create(b.base, fetch, 1, NULL);
	b.job.dir = dir;
	b.job.script = "s.lua";
	b.job.workflow = "bench";
	b.job.run_id = "01BENCH";
	b.job.step = "s";
	b.job.attempt = 1;
	b.job.input = input;
	b.job.timeout_ms = 30000;
	/* Warm up: the worker, its state and the compiled script. */
	(void)bench_worker_calls(&b, 1000, BENCH_IN_FLIGHT, &wall);
	(void)bench_worker_calls(&b, BENCH_WORKER_RUNS / 10, 1, &rt_wall);
	cpu = bench_worker_calls(&b, BENCH_WORKER_RUNS, BENCH_IN_FLIGHT,
	    &wall);
	printf("bench-lua: on a worker process: %.1f us a round trip (one "
	    "call at a time); %d calls %d at a time: %.2f us of CPU a call "
	    "(daemon and worker), %.2f us more than in process (target <= "
	    "15), %.0f calls/s\n", rt_wall / 1000, BENCH_WORKER_RUNS,
	    BENCH_IN_FLIGHT, cpu / 1000, (cpu - lua_ns) / 1000,
	    1e9 / wall);
	worker_pool_free(b.pool);
	fetch_free(fetch);
	event_base_free(b.base);
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/orc-bench-XXXXXX", *path, *cmd;
	struct script_stats st;
	json_t *step, *input;
	double lua_ns, base_ns;
	FILE *f;

	if (argc == 2 && strcmp(argv[1], "__worker") == 0)
		return worker_child_main(3, 4, NULL);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	path = xasprintf("%s/s.lua", dir);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		return 1;
	}
	fputs("return function(input, ctx) return input end\n", f);
	fclose(f);
	step = json_pack("{ssssss}", "name", "s", "uses", "lua", "script",
	    "s.lua");
	input = json_pack("{sss[ii]}", "id", "A-1", "items", 1, 2);

	/* Warm up: the state and the compiled script. */
	bench_steps(&step_lua_entry, step, input, dir, 1000);
	lua_ns = bench_steps(&step_lua_entry, step, input, dir, BENCH_RUNS);
	base_ns = bench_steps(&step_transform_entry, step, input, dir,
	    BENCH_RUNS);
	script_get_stats(&st);
	printf("bench-lua: %d runs of a trivial lua step: %.2f us per step "
	    "(transform step: %.2f us); lua adds %.2f us (target <= 10)\n",
	    BENCH_RUNS, lua_ns / 1000, base_ns / 1000,
	    (lua_ns - base_ns) / 1000);
	printf("bench-lua: %llu lua state(s), %llu compile(s)\n",
	    (unsigned long long)st.states_created,
	    (unsigned long long)st.compiles);
	bench_worker(dir, input, lua_ns);

	json_decref(step);
	json_decref(input);
	script_shutdown();
	unlink(path);
	free(path);
	cmd = xasprintf("rmdir '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-lua: cannot remove %s\n", dir);
	free(cmd);
	return 0;
}
