/*
 * The wait.signal step: the run waits until a signal for this step
 * arrives (POST /runs/ID/signals/STEP, or `orchestrator signal`); the
 * signal's JSON body is the step's output. Past "timeout_ms" (7 days by
 * default) the step fails, saying it timed out. The wait is stored with
 * the run, which the daemon keeps in the store alone while it waits.
 */
#include "config.h"

#include "orchestrator.h"
#include "steps.h"

#define WAIT_SIGNAL_DEFAULT_MS	(7LL * 24 * 3600 * 1000)

static const char *const wait_signal_keys[] = { "timeout_ms", NULL };

/* The wait's length: timeout_ms, or the default. -1 when it is bad. */
static int64_t
wait_signal_ms(const json_t *with)
{
	const json_t *v = json_object_get(with, "timeout_ms");
	int64_t ms;

	if (v == NULL)
		return WAIT_SIGNAL_DEFAULT_MS;
	return step_wait_read_ms(v, &ms) == 0 && ms > 0 ? ms : -1;
}

/* Suspends the run until a signal, or its timeout: "timeout_ms" of with,
 * or the step's own when that is shorter. */
static enum step_status
wait_signal_start(struct step_call *call)
{
	int64_t ms = wait_signal_ms(step_call_with(call));
	int64_t own = step_wait_own_timeout(call);

	if (ms < 0) {
		step_call_fail(call, 0, "wait.signal \"timeout_ms\" must be a "
		    "whole number of milliseconds, more than 0");
		return STEP_DONE;
	}
	if (own > 0 && own < ms)
		ms = own;
	step_call_suspend(call, orc_now_ms() + ms);
	return STEP_DONE;
}

/* Checks "timeout_ms" as written, unless a template. */
static void
wait_signal_check(const json_t *with, struct step_checker *chk)
{
	const json_t *v = json_object_get(with, "timeout_ms");

	if (v != NULL && !step_value_is_template(v) && wait_signal_ms(with) < 0)
		step_check_error(chk, "with.timeout_ms", "wait.signal "
		    "\"timeout_ms\" must be a whole number of milliseconds, "
		    "more than 0");
}

const struct step_entry step_wait_signal_entry = {
	.name = "wait.signal",
	.summary = "wait for a signal (POST /runs/ID/signals/STEP); its body "
	    "is the output",
	.keys = wait_signal_keys,
	.check = wait_signal_check,
	.start = wait_signal_start,
	.due = STEP_DUE_FAILS
};
