/*
 * What the engine tells the outside about itself: counters and the step
 * duration histogram for /metrics, and the observer that sees every
 * committed transition (long polls and event streams).
 */
#include "config.h"

#include <string.h>

#include "engine-internal.h"

const int64_t engine_hist_bounds[ENGINE_HIST_BUCKETS] = {
	1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

/* Counts one finished step attempt and its duration. */
void
engine_stat_step(struct engine *e, int ok, int64_t ms)
{
	size_t i;

	if (ok)
		e->stats.steps_ok++;
	else
		e->stats.steps_failed++;
	for (i = 0; i < ENGINE_HIST_BUCKETS && ms > engine_hist_bounds[i]; i++)
		;
	e->stats.step_ms_bucket[i]++;
	e->stats.step_ms_count++;
	e->stats.step_ms_sum += (double)ms;
}

void
engine_get_stats(const struct engine *e, struct engine_stats *out)
{
	*out = e->stats;
	out->active = e->active;
}

void
engine_set_observer(struct engine *e, engine_observer_fn fn, void *arg)
{
	e->observer = fn;
	e->observer_arg = arg;
}

/* Tells the observer about a committed transition of run; ev has what
 * the transition said, this adds the run's id, workflow and output. */
void
engine_notify(struct run *run, struct engine_event *ev)
{
	struct engine *e = run->engine;

	if (e->observer == NULL)
		return;
	ev->run_id = run->rec.id;
	ev->workflow = run->rec.workflow;
	ev->output = ev->state == RUN_SUCCEEDED ? run->rec.output : NULL;
	e->observer(ev, e->observer_arg);
}

void
engine_pause(struct engine *e)
{
	e->paused = 1;
}

size_t
engine_calls(const struct engine *e)
{
	return e->stats.calls;
}
