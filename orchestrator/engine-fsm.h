/*
 * The run state machine as a pure function: given a run's state and an
 * event, what is its new state and what must the driver do. No I/O, no
 * clocks, no allocation: engine.c carries out the effects, and the unit
 * test checks every state against every event.
 */
#ifndef ENGINE_FSM_H
#define ENGINE_FSM_H

#include "store.h"

enum fsm_event {
	FSM_START,		/* due: first start, backoff over, resumed */
	FSM_STEP_OK,		/* a step succeeded and another follows */
	FSM_STEP_LAST_OK,	/* the last step succeeded */
	FSM_STEP_FAILED,	/* an attempt failed (see retryable) */
	FSM_STEP_TIMEOUT,	/* an attempt ran out of time */
	FSM_RUN_TIMEOUT,	/* the run's own timeout passed */
	FSM_CANCEL,
	FSM_REDRIVE		/* retry of a failed or cancelled run */
};
#define FSM_EVENT_COUNT 8

/* The transition a run in a step gets when it is taken up again, and the
 * note a stopping process records for each run it leaves in a step
 * (engine-load.c tells crashes from restarts by them). */
#define ENGINE_EVENT_RESUMED	"resumed"
#define ENGINE_EVENT_STOPPED	"stopped"
/* The step name transitions of on_failure carry. */
#define ENGINE_STEP_ON_FAILURE	"on_failure"

/* Effects, carried out by the driver in this order. */
#define FSM_CANCEL_STEP	0x01	/* stop the attempt in flight */
#define FSM_NEXT_ATTEMPT 0x02	/* attempt + 1 */
#define FSM_START_STEP	0x04	/* start the current step now */
#define FSM_ADVANCE	0x08	/* record the step, move to the next, start
				   it once that is committed */
#define FSM_BACKOFF	0x10	/* wait out a backoff, then FSM_START */
#define FSM_FINISH	0x20	/* the run is final once committed */
#define FSM_DEAD_LETTER	0x40	/* run on_failure once committed */
#define FSM_RESET	0x80	/* redrive: attempt 0, error cleared */

struct fsm_input {
	enum run_state	state;
	enum fsm_event	event;
	int		attempt;	/* of the current step */
	int		max_attempts;
	int		retryable;	/* STEP_FAILED: worth another try */
	int		output_ok;	/* STEP_LAST_OK: output schema holds */
	int		has_on_failure;
};

struct fsm_result {
	int		 legal;		/* 0: the event does not apply */
	enum run_state	 state;
	unsigned	 effects;
	const char	*event;		/* the transition's name */
};

struct fsm_result engine_fsm(const struct fsm_input *);
const char	*engine_fsm_event_name(enum fsm_event);

#endif
