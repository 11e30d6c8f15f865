/*
 * The wait step: pauses a run for "ms" milliseconds (at most a day) on the
 * event loop, without holding a thread, then passes its input through
 * unchanged. Useful before publishing, and to keep runs in flight in tests.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "orchestrator.h"
#include "steps.h"

#define WAIT_MS_MAX	86400000LL

static const char *const wait_keys[] = { "ms", NULL };

/* Reads "ms" as an integer in range: a number or a string of digits. */
static int
wait_ms(const json_t *v, long long *msp)
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
		/* A template inside a longer string renders to text. */
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

/* The timer fired: the wait is over. */
static void
wait_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	struct step_call *call = arg;
	struct event *ev = step_call_data(call);

	event_free(ev);
	step_call_set_data(call, NULL);
	/* Last: the engine's callback may free the call. */
	step_call_succeed(call, json_incref((json_t *)step_call_input(call)));
}

/* Starts the timer. */
static enum step_status
wait_start(struct step_call *call)
{
	struct event_base *base = step_call_base(call);
	struct event *ev;
	struct timeval tv;
	long long ms;

	if (wait_ms(json_object_get(step_call_with(call), "ms"), &ms) != 0) {
		step_call_fail(call, 0, "wait \"ms\" must be an integer from 0 "
		    "to %lld", WAIT_MS_MAX);
		return STEP_DONE;
	}
	if (base == NULL) {
		step_call_fail(call, 0, "wait needs an event loop");
		return STEP_DONE;
	}

	if ((ev = evtimer_new(base, wait_timer_cb, call)) == NULL)
		fatal("%s: out of memory", __func__);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (evtimer_add(ev, &tv) != 0)
		fatal("%s: cannot add a timer", __func__);
	step_call_set_data(call, ev);
	return STEP_WAIT;
}

/* Cancelled before the timer fired: drop it. */
static void
wait_cancel(struct step_call *call)
{
	struct event *ev = step_call_data(call);

	if (ev != NULL)
		event_free(ev);
	step_call_set_data(call, NULL);
}

/* Checks "ms" as written: present, and in range unless a template. */
static void
wait_check(const json_t *with, struct step_checker *chk)
{
	const json_t *v = json_object_get(with, "ms");
	long long ms;

	if (v == NULL) {
		step_check_error(chk, "with.ms", "wait needs \"ms\"");
		return;
	}
	if (step_value_is_template(v))
		return;
	if (wait_ms(v, &ms) != 0)
		step_check_error(chk, "with.ms", "wait \"ms\" must be an "
		    "integer from 0 to %lld", WAIT_MS_MAX);
}

const struct step_entry step_wait_entry = {
	.name = "wait",
	.summary = "pause for \"ms\" milliseconds, passing the input through",
	.keys = wait_keys,
	.check = wait_check,
	.start = wait_start,
	.cancel = wait_cancel
};
