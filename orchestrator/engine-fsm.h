/*
 * The run state machine as a pure function: given a run's phase and an
 * event, what is its new phase and what must the driver do. No I/O, no
 * clocks, no allocation: engine.c carries out the effects, and the unit
 * test checks every phase against every event.
 *
 * A phase is finer than the state a run has in the store: a queued run
 * may wait for its debounce window, a slot or a rate token, a failed run
 * may still have its on_failure to run. engine_fsm_stored() says which
 * stored state (and dead-letter state) each phase is kept as, so nothing
 * outside the engine sees the phases.
 */
#ifndef ENGINE_FSM_H
#define ENGINE_FSM_H

#include <stdio.h>

#include "store.h"

enum fsm_state {
	FSM_NEW,		/* built, not submitted */
	FSM_QUEUED,		/* committed, waiting for admission */
	FSM_DEBOUNCED,		/* queued, its debounce window open */
	FSM_WAIT_SLOT,		/* queued, its gate's slots all taken */
	FSM_WAIT_TOKEN,		/* queued, its rate limit has no token */
	FSM_RUNNING,		/* a step attempt is in flight */
	FSM_RETRYING,		/* waiting out a backoff */
	FSM_SUCCEEDED,
	FSM_DEAD_PENDING,	/* failed, on_failure to start */
	FSM_DEAD_RUNNING,	/* failed, an on_failure attempt in flight */
	FSM_DEAD_BACKOFF,	/* failed, on_failure waits to try again */
	FSM_FAILED,
	FSM_CANCELLED,
	FSM_WAITING		/* a step waits for a signal or its time */
};
#define FSM_STATE_COUNT 14

enum fsm_event {
	FSM_CREATE,		/* the first change of a new run */
	FSM_ADMIT,		/* admission gave it a slot (and a token) */
	FSM_WAIT_FOR_SLOT,	/* admission: its gate is full */
	FSM_WAIT_FOR_TOKEN,	/* admission: no rate token yet */
	FSM_ABSORB,		/* a trigger in its window replaced the input */
	FSM_DUE,		/* the run's due time came */
	FSM_RESUME,		/* taken up again after a restart */
	FSM_STEP_OK,		/* a step succeeded and another follows */
	FSM_STEP_LAST_OK,	/* the last step (or on_failure) succeeded */
	FSM_STEP_FAILED,	/* an attempt failed (see FSM_IF_RETRYABLE) */
	FSM_STEP_TIMEOUT,	/* an attempt ran out of time */
	FSM_RUN_TIMEOUT,	/* the run's own timeout passed */
	FSM_CANCEL,
	FSM_REDRIVE,		/* retry of a failed or cancelled run */
	FSM_SUSPEND		/* the step waits: for a signal, for a time */
};
#define FSM_EVENT_COUNT 15

/* The transition a run in a step gets when it is taken up again, and the
 * note a stopping process records for each run it leaves in a step
 * (engine-load.c tells crashes from restarts by them). */
#define ENGINE_EVENT_RESUMED	"resumed"
#define ENGINE_EVENT_STOPPED	"stopped"
/* The step name transitions of on_failure carry. */
#define ENGINE_STEP_ON_FAILURE	"on_failure"

/* Conditions a rule may ask for (fsm_input.conds). */
#define FSM_IF_ATTEMPTS_LEFT	0x01	/* attempt < max_attempts */
#define FSM_IF_RETRYABLE	0x02	/* the failure is worth a retry */
#define FSM_IF_OUTPUT_OK	0x04	/* the output schema holds */
#define FSM_IF_ON_FAILURE	0x08	/* the workflow has on_failure */
#define FSM_IF_DEBOUNCE		0x10	/* the workflow debounces */
#define FSM_IF_COUNT		5

/* Effects, carried out by the driver in this order. */
#define FSM_CANCEL_STEP	0x001	/* stop the attempt in flight, the timers */
#define FSM_NEXT_ATTEMPT 0x002	/* attempt + 1 (on_failure's in dead) */
#define FSM_START_STEP	0x004	/* start the current step now */
#define FSM_ADVANCE	0x008	/* record the step, move to the next, start
				   it once that is committed */
#define FSM_BACKOFF	0x010	/* wait out a backoff, then FSM_DUE */
#define FSM_FINISH	0x020	/* the run is final once committed */
#define FSM_DEAD_LETTER	0x040	/* start on_failure once committed */
#define FSM_RESET	0x080	/* redrive: attempt 0, error cleared */
#define FSM_ADMISSION	0x100	/* ask admission (once committed) */
#define FSM_SET_INPUT	0x200	/* a new input and window end */
#define FSM_SLEEP	0x400	/* wait for the due time: in memory when it
				   is near, else in the store alone */
#define FSM_EFFECT_COUNT 11

struct fsm_input {
	enum fsm_state	state;
	enum fsm_event	event;
	unsigned	conds;		/* FSM_IF_* that hold */
};

struct fsm_result {
	int		 legal;		/* 0: the event does not apply */
	enum fsm_state	 state;
	unsigned	 effects;
	const char	*event;		/* the transition recorded, or NULL
					   for a change kept in memory */
};

/* One row of the machine: first match wins. */
struct fsm_rule {
	enum fsm_state	 from;
	enum fsm_event	 event;
	unsigned	 when;		/* FSM_IF_* that must hold */
	enum fsm_state	 to;
	unsigned	 effects;
	const char	*name;		/* the transition, or NULL */
};

struct fsm_result engine_fsm(const struct fsm_input *);
/* The rules in order, for printing (orchestrator fsm). */
const struct fsm_rule *engine_fsm_rules(size_t *n);
/* How a phase is stored: its run state and dead-letter state. */
enum run_state	 engine_fsm_stored(enum fsm_state, enum dead_state *);
/* The phase of a run loaded from the store in that state. */
enum fsm_state	 engine_fsm_loaded(enum run_state, enum dead_state);
const char	*engine_fsm_state_name(enum fsm_state);
const char	*engine_fsm_event_name(enum fsm_event);
const char	*engine_fsm_cond_name(unsigned cond);
const char	*engine_fsm_effect_name(unsigned effect);
/* Prints the machine as a table (orchestrator fsm). */
void		 engine_fsm_print(FILE *);

#endif
