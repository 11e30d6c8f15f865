/*
 * The cost of a trivial lua step (make bench): the same attempt, through
 * step_call as the engine runs it, of a script that returns its input, and
 * of the transform step as the baseline; the difference is what Lua adds
 * per step (target: at most 10 microseconds), state reuse and the compiled
 * script cache included.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "orchestrator.h"
#include "script.h"
#include "steps.h"

#define BENCH_RUNS	200000

/* Nanoseconds on the monotonic clock. */
static int64_t
bench_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs n attempts of entry on step and input; ns per attempt. */
static double
bench_steps(const struct step_entry *entry, json_t *step, json_t *input,
    const char *dir, int n)
{
	struct step_call_params p;
	struct step_call *call;
	int64_t t0;
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
	t0 = bench_ns();
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
	return (double)(bench_ns() - t0) / n;
}

int
main(void)
{
	char dir[] = "/tmp/orc-bench-XXXXXX", *path, *cmd;
	struct script_stats st;
	json_t *step, *input;
	double lua_ns, base_ns;
	FILE *f;

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
