/*
 * The wait step: a durable timer. It suspends the run until "ms"
 * milliseconds from now or "until" a time (ms since the epoch, or an RFC
 * 3339 time such as "2026-12-07T06:00:00Z"), then passes its input
 * through unchanged. The due time is stored with the run when the wait
 * starts, so a restart or a crash does not move it, and a run that sleeps
 * long is kept in the store alone, not in memory (engine.c).
 *
 * With "durable": false, or a step "timeout_ms" shorter than the wait, it
 * is an ordinary attempt instead: a timer in memory (that the timeout
 * cuts short, and that a restart starts again), the way to stand in for a
 * slow call.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "format.h"
#include "orchestrator.h"
#include "steps.h"

/* About 100 years: a bound that keeps due times far from overflowing. */
#define WAIT_MS_MAX	3153600000000LL

static const char *const wait_keys[] = { "ms", "until", "durable", NULL };

/* Reads a count of ms: an integer, a whole real, or a string of digits
 * (a template inside a longer string renders to text). */
int
step_wait_read_ms(const json_t *v, int64_t *msp)
{
	const char *s;
	char *end;
	long long ms;
	double d;

	if (json_is_integer(v))
		ms = json_integer_value(v);
	else if (json_is_real(v)) {
		d = json_real_value(v);
		if (d < 0 || d > (double)WAIT_MS_MAX || d != (long long)d)
			return -1;
		ms = (long long)d;
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		if (*s < '0' || *s > '9')
			return -1;
		errno = 0;
		ms = strtoll(s, &end, 10);
		if (errno != 0 || *end != '\0')
			return -1;
	} else
		return -1;
	if (ms < 0 || ms > WAIT_MS_MAX)
		return -1;
	*msp = ms;
	return 0;
}

/* Reads "until": ms since the epoch, or an RFC 3339 time. */
static int
wait_read_until(const json_t *v, int64_t *at)
{
	if (step_wait_read_ms(v, at) == 0)
		return 0;
	return json_is_string(v) ? format_parse_time(json_string_value(v),
	    at) : -1;
}

/* The due time of a wait started now, or -1 with why in err. */
static int64_t
wait_due(const json_t *with, const char **err)
{
	const json_t *ms = json_object_get(with, "ms");
	const json_t *until = json_object_get(with, "until");
	int64_t v;

	if ((ms == NULL) == (until == NULL)) {
		*err = ms == NULL ? "wait needs \"ms\" or \"until\"" :
		    "wait takes \"ms\" or \"until\", not both";
		return -1;
	}
	if (ms != NULL) {
		if (step_wait_read_ms(ms, &v) != 0) {
			*err = "wait \"ms\" must be a whole number of "
			    "milliseconds, at least 0";
			return -1;
		}
		return orc_now_ms() + v;
	}
	if (wait_read_until(until, &v) != 0) {
		*err = "wait \"until\" must be ms since the epoch or an RFC "
		    "3339 time such as \"2026-12-07T06:00:00Z\"";
		return -1;
	}
	return v;
}

/* The timer of a wait that its step's timeout cuts short fired. */
static void
wait_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct step_call *call = arg;

	event_free(step_call_data(call));
	step_call_set_data(call, NULL);
	/* Last: the engine's callback may free the call. */
	step_call_succeed(call, json_incref((json_t *)step_call_input(call)));
}

/* The step's own "timeout_ms", or 0 when it has none (the default
 * timeout of steps does not bound a wait). */
int64_t
step_wait_own_timeout(struct step_call *call)
{
	const json_t *v = json_object_get(step_call_step(call), "timeout_ms");

	return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* Suspends the run until its due time (one in the past wakes at once),
 * or waits in memory when the step's timeout comes first. */
static enum step_status
wait_start(struct step_call *call)
{
	const char *err = NULL;
	int64_t due = wait_due(step_call_with(call), &err), left;
	int64_t limit = step_wait_own_timeout(call);
	struct timeval tv;
	struct event *ev;
	int in_memory;

	if (due < 0) {
		step_call_fail(call, 0, "%s", err);
		return STEP_DONE;
	}
	left = due - orc_now_ms();
	in_memory = json_is_false(json_object_get(step_call_with(call),
	    "durable")) || (limit > 0 && left > limit);
	if (!in_memory || step_call_base(call) == NULL) {
		step_call_suspend(call, due);
		return STEP_DONE;
	}
	if ((ev = evtimer_new(step_call_base(call), wait_timer_cb, call)) ==
	    NULL)
		fatal("%s: out of memory", __func__);
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	evtimer_add(ev, &tv);
	step_call_set_data(call, ev);
	return STEP_WAIT;
}

/* Cancelled (its timeout, its run) before the timer fired: drop it. */
static void
wait_cancel(struct step_call *call)
{
	if (step_call_data(call) != NULL)
		event_free(step_call_data(call));
	step_call_set_data(call, NULL);
}

/* Checks "ms" or "until" as written, unless a template. */
static void
wait_check(const json_t *with, struct step_checker *chk)
{
	const json_t *ms = json_object_get(with, "ms");
	const json_t *until = json_object_get(with, "until");
	const char *err = NULL;

	if ((ms != NULL && step_value_is_template(ms)) ||
	    (until != NULL && step_value_is_template(until)))
		return;
	if (wait_due(with, &err) < 0)
		step_check_error(chk, ms != NULL ? "with.ms" : until != NULL ?
		    "with.until" : "with", "%s", err);
	if (json_object_get(with, "durable") != NULL &&
	    !json_is_boolean(json_object_get(with, "durable")))
		step_check_error(chk, "with.durable", "wait \"durable\" must "
		    "be true or false");
}

const struct step_entry step_wait_entry = {
	.name = "wait",
	.summary = "sleep until \"ms\" from now or \"until\" a time, durably; "
	    "passes the input through",
	.keys = wait_keys,
	.check = wait_check,
	.start = wait_start,
	.cancel = wait_cancel,
	.due = STEP_DUE_SUCCEEDS
};
