/*
 * The run state machine. One switch per state; each case lists the events
 * that state accepts. Anything else is not legal and the driver ignores it
 * (a late step result after a cancel, a second cancel, ...).
 */
#include "config.h"

#include "engine-fsm.h"

static const char *const fsm_event_names[FSM_EVENT_COUNT] = {
	"start", "step_ok", "step_last_ok", "step_failed", "step_timeout",
	"run_timeout", "cancel", "redrive"
};

const char *
engine_fsm_event_name(enum fsm_event ev)
{
	return (unsigned)ev < FSM_EVENT_COUNT ? fsm_event_names[ev] : "?";
}

/* Sets the result fields in one line per case. */
static struct fsm_result
fsm_to(enum run_state state, unsigned effects, const char *event)
{
	struct fsm_result r;

	r.legal = 1;
	r.state = state;
	r.effects = effects;
	r.event = event;
	return r;
}

/* A run that failed for good: final, with its dead letter if any. */
static struct fsm_result
fsm_fail(const struct fsm_input *in, unsigned extra, const char *event)
{
	return fsm_to(RUN_FAILED, extra | FSM_FINISH |
	    (in->has_on_failure ? FSM_DEAD_LETTER : 0), event);
}

/* An attempt that failed: retry while attempts are left. */
static struct fsm_result
fsm_attempt_failed(const struct fsm_input *in, int retryable,
    const char *event)
{
	if (retryable && in->attempt < in->max_attempts)
		return fsm_to(RUN_RETRYING, FSM_BACKOFF, event);
	return fsm_fail(in, 0, "failed");
}

/* Events that stop a run whatever it is doing. */
static struct fsm_result
fsm_stop(const struct fsm_input *in, unsigned cancel_step)
{
	if (in->event == FSM_CANCEL)
		return fsm_to(RUN_CANCELLED, cancel_step | FSM_FINISH,
		    "cancelled");
	return fsm_fail(in, cancel_step, "run_timed_out");
}

struct fsm_result
engine_fsm(const struct fsm_input *in)
{
	struct fsm_result none = { 0, in->state, 0, NULL };

	switch (in->state) {
	case RUN_QUEUED:
		if (in->event == FSM_START)
			return fsm_to(RUN_RUNNING,
			    FSM_NEXT_ATTEMPT | FSM_START_STEP, "started");
		if (in->event == FSM_CANCEL || in->event == FSM_RUN_TIMEOUT)
			return fsm_stop(in, 0);
		break;
	case RUN_RUNNING:
		switch (in->event) {
		case FSM_START:		/* after a restart: same attempt */
			return fsm_to(RUN_RUNNING, FSM_START_STEP,
			    ENGINE_EVENT_RESUMED);
		case FSM_STEP_OK:
			return fsm_to(RUN_RUNNING, FSM_ADVANCE,
			    "step_succeeded");
		case FSM_STEP_LAST_OK:
			if (!in->output_ok)
				return fsm_fail(in, 0, "output_invalid");
			return fsm_to(RUN_SUCCEEDED, FSM_FINISH, "succeeded");
		case FSM_STEP_FAILED:
			return fsm_attempt_failed(in, in->retryable,
			    "step_failed");
		case FSM_STEP_TIMEOUT:
			return fsm_attempt_failed(in, 1, "step_timed_out");
		case FSM_CANCEL:
		case FSM_RUN_TIMEOUT:
			return fsm_stop(in, FSM_CANCEL_STEP);
		default:
			break;
		}
		break;
	case RUN_RETRYING:
		if (in->event == FSM_START)
			return fsm_to(RUN_RUNNING,
			    FSM_NEXT_ATTEMPT | FSM_START_STEP, "retried");
		if (in->event == FSM_CANCEL || in->event == FSM_RUN_TIMEOUT)
			return fsm_stop(in, FSM_CANCEL_STEP);
		break;
	case RUN_FAILED:
	case RUN_CANCELLED:
		if (in->event == FSM_REDRIVE)
			return fsm_to(RUN_QUEUED, FSM_RESET, "redriven");
		break;
	case RUN_SUCCEEDED:
		break;
	}
	return none;
}
