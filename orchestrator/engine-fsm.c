/*
 * The run state machine, as a table: one row per rule, the first row
 * whose phase, event and conditions match decides. Anything without a row
 * is not legal and the driver ignores it (a late step result after a
 * cancel, a second cancel, ...). `orchestrator fsm` prints this table, and
 * the README's lifecycle section is that output.
 */
#include "config.h"

#include <string.h>

#include "engine-fsm.h"

static const char *const fsm_state_names[FSM_STATE_COUNT] = {
	"new", "queued", "debounced", "wait_slot", "wait_token", "running",
	"retrying", "succeeded", "dead_pending", "dead_running",
	"dead_backoff", "failed", "cancelled", "waiting"
};

static const char *const fsm_event_names[FSM_EVENT_COUNT] = {
	"create", "admit", "wait_for_slot", "wait_for_token", "absorb", "due",
	"resume", "step_ok", "step_last_ok", "step_failed", "step_timeout",
	"run_timeout", "cancel", "redrive", "suspend"
};

static const char *const fsm_cond_names[FSM_IF_COUNT] = {
	"attempts_left", "retryable", "output_ok", "on_failure", "debounce"
};

static const char *const fsm_effect_names[FSM_EFFECT_COUNT] = {
	"cancel_step", "next_attempt", "start_step", "advance", "backoff",
	"finish", "dead_letter", "reset", "admission", "set_input", "sleep"
};

/* Shorthands for the table. */
#define LEFT	FSM_IF_ATTEMPTS_LEFT
#define RETRY	(FSM_IF_ATTEMPTS_LEFT | FSM_IF_RETRYABLE)
#define OUT_OK	FSM_IF_OUTPUT_OK
#define ON_FAIL	FSM_IF_ON_FAILURE
#define DEBOUNCE FSM_IF_DEBOUNCE
#define STOP	FSM_CANCEL_STEP
#define START	(FSM_NEXT_ATTEMPT | FSM_START_STEP)
#define FIN	FSM_FINISH
#define DL	FSM_DEAD_LETTER

/* The rows a waiting phase has: admitted, stopped, timed out. */
#define FSM_WAITING_ROWS(phase)						\
	{ phase, FSM_CANCEL, 0, FSM_CANCELLED, FIN, "cancelled" },	\
	{ phase, FSM_RUN_TIMEOUT, ON_FAIL, FSM_DEAD_PENDING, DL,	\
	    "run_timed_out" },						\
	{ phase, FSM_RUN_TIMEOUT, 0, FSM_FAILED, FIN, "run_timed_out" }

/* The rows a phase with a step in flight or pending has. */
#define FSM_STEP_STOP_ROWS(phase)					\
	{ phase, FSM_CANCEL, 0, FSM_CANCELLED, STOP | FIN,		\
	    "cancelled" },						\
	{ phase, FSM_RUN_TIMEOUT, ON_FAIL, FSM_DEAD_PENDING, STOP | DL, \
	    "run_timed_out" },						\
	{ phase, FSM_RUN_TIMEOUT, 0, FSM_FAILED, STOP | FIN,	\
	    "run_timed_out" }

/* What a step's outcome does, from a phase where it was in flight or
 * waited. */
#define FSM_STEP_RESULT_ROWS(phase)					\
	{ phase, FSM_STEP_OK, 0, FSM_RUNNING, FSM_ADVANCE,		\
	    "step_succeeded" },						\
	{ phase, FSM_STEP_LAST_OK, OUT_OK, FSM_SUCCEEDED, FIN,		\
	    "succeeded" },						\
	/* An output that breaks the schema fails the run, not retried. */ \
	{ phase, FSM_STEP_LAST_OK, ON_FAIL, FSM_DEAD_PENDING, DL,	\
	    "output_invalid" },						\
	{ phase, FSM_STEP_LAST_OK, 0, FSM_FAILED, FIN, "output_invalid" }, \
	{ phase, FSM_STEP_FAILED, RETRY, FSM_RETRYING, FSM_BACKOFF,	\
	    "step_failed" },						\
	{ phase, FSM_STEP_FAILED, ON_FAIL, FSM_DEAD_PENDING, DL, "failed" }, \
	{ phase, FSM_STEP_FAILED, 0, FSM_FAILED, FIN, "failed" }

static const struct fsm_rule fsm_rules[] = {
	/* Created: admission once committed, or a debounce window. */
	{ FSM_NEW, FSM_CREATE, DEBOUNCE, FSM_DEBOUNCED, 0, "created" },
	{ FSM_NEW, FSM_CREATE, 0, FSM_QUEUED, FSM_ADMISSION, "created" },
	/* Queued: a slot (and a rate token), or a reason to wait. */
	{ FSM_QUEUED, FSM_RESUME, DEBOUNCE, FSM_DEBOUNCED, 0, NULL },
	{ FSM_QUEUED, FSM_RESUME, 0, FSM_QUEUED, FSM_ADMISSION, NULL },
	{ FSM_QUEUED, FSM_ADMIT, 0, FSM_RUNNING, START, "started" },
	{ FSM_QUEUED, FSM_WAIT_FOR_SLOT, 0, FSM_WAIT_SLOT, 0, "waiting" },
	{ FSM_QUEUED, FSM_WAIT_FOR_TOKEN, 0, FSM_WAIT_TOKEN, 0,
	    "waiting" },
	FSM_WAITING_ROWS(FSM_QUEUED),
	/* Debounced: later triggers replace the input until the window
	 * ends; then admission. */
	{ FSM_DEBOUNCED, FSM_ABSORB, 0, FSM_DEBOUNCED, FSM_SET_INPUT,
	    "debounced" },
	{ FSM_DEBOUNCED, FSM_DUE, 0, FSM_QUEUED, FSM_ADMISSION, NULL },
	FSM_WAITING_ROWS(FSM_DEBOUNCED),
	/* Waiting at its gate: each reason is recorded once. */
	{ FSM_WAIT_SLOT, FSM_ADMIT, 0, FSM_RUNNING, START, "started" },
	{ FSM_WAIT_SLOT, FSM_WAIT_FOR_TOKEN, 0, FSM_WAIT_TOKEN, 0,
	    "waiting" },
	FSM_WAITING_ROWS(FSM_WAIT_SLOT),
	{ FSM_WAIT_TOKEN, FSM_ADMIT, 0, FSM_RUNNING, START, "started" },
	{ FSM_WAIT_TOKEN, FSM_WAIT_FOR_SLOT, 0, FSM_WAIT_SLOT, 0,
	    "waiting" },
	{ FSM_WAIT_TOKEN, FSM_DUE, 0, FSM_WAIT_TOKEN, FSM_ADMISSION, NULL },
	FSM_WAITING_ROWS(FSM_WAIT_TOKEN),
	/* Running: a step attempt is (or was, before a restart) in flight. */
	{ FSM_RUNNING, FSM_RESUME, 0, FSM_RUNNING, FSM_START_STEP,
	    ENGINE_EVENT_RESUMED },
	FSM_STEP_RESULT_ROWS(FSM_RUNNING),
	/* The step waits: the run sleeps until a signal or its due time. */
	{ FSM_RUNNING, FSM_SUSPEND, 0, FSM_WAITING, FSM_SLEEP, "waiting" },
	/* A timeout is always worth another attempt while any are left. */
	{ FSM_RUNNING, FSM_STEP_TIMEOUT, LEFT, FSM_RETRYING, FSM_BACKOFF,
	    "step_timed_out" },
	{ FSM_RUNNING, FSM_STEP_TIMEOUT, ON_FAIL, FSM_DEAD_PENDING, DL,
	    "failed" },
	{ FSM_RUNNING, FSM_STEP_TIMEOUT, 0, FSM_FAILED, FIN, "failed" },
	FSM_STEP_STOP_ROWS(FSM_RUNNING),
	/* Waiting: a signal (or the due time) is the step's outcome. */
	{ FSM_WAITING, FSM_RESUME, 0, FSM_WAITING, FSM_SLEEP, NULL },
	FSM_STEP_RESULT_ROWS(FSM_WAITING),
	FSM_STEP_STOP_ROWS(FSM_WAITING),
	/* Retrying: waiting out a backoff. */
	{ FSM_RETRYING, FSM_DUE, 0, FSM_RUNNING, START, "retried" },
	FSM_STEP_STOP_ROWS(FSM_RETRYING),
	/* The dead letter: on_failure with its own attempts. It is run
	 * once the failure is committed, or again after a restart. */
	{ FSM_DEAD_PENDING, FSM_RESUME, 0, FSM_DEAD_RUNNING, START, NULL },
	/* Given up before it starts (it crashed its process too often). */
	{ FSM_DEAD_PENDING, FSM_STEP_FAILED, 0, FSM_FAILED, FIN,
	    "on_failure_failed" },
	{ FSM_DEAD_RUNNING, FSM_STEP_LAST_OK, 0, FSM_FAILED, FIN,
	    "on_failure_succeeded" },
	{ FSM_DEAD_RUNNING, FSM_STEP_FAILED, RETRY, FSM_DEAD_BACKOFF,
	    FSM_BACKOFF, NULL },
	{ FSM_DEAD_RUNNING, FSM_STEP_FAILED, 0, FSM_FAILED, FIN,
	    "on_failure_failed" },
	{ FSM_DEAD_RUNNING, FSM_STEP_TIMEOUT, 0, FSM_FAILED, FIN,
	    "on_failure_failed" },
	{ FSM_DEAD_BACKOFF, FSM_DUE, 0, FSM_DEAD_RUNNING, START, NULL },
	/* Final: only failed and cancelled runs can be redriven (and a
	 * failed one whose on_failure is owed: it is then not run). */
	{ FSM_DEAD_PENDING, FSM_REDRIVE, 0, FSM_QUEUED,
	    FSM_RESET | FSM_ADMISSION, "redriven" },
	{ FSM_FAILED, FSM_REDRIVE, 0, FSM_QUEUED, FSM_RESET | FSM_ADMISSION,
	    "redriven" },
	{ FSM_CANCELLED, FSM_REDRIVE, 0, FSM_QUEUED,
	    FSM_RESET | FSM_ADMISSION, "redriven" }
};

#define FSM_RULE_COUNT (sizeof fsm_rules / sizeof fsm_rules[0])

struct fsm_result
engine_fsm(const struct fsm_input *in)
{
	struct fsm_result r = { 0, in->state, 0, NULL };
	const struct fsm_rule *rule;
	size_t i;

	for (i = 0; i < FSM_RULE_COUNT; i++) {
		rule = &fsm_rules[i];
		if (rule->from != in->state || rule->event != in->event ||
		    (in->conds & rule->when) != rule->when)
			continue;
		r.legal = 1;
		r.state = rule->to;
		r.effects = rule->effects;
		r.event = rule->name;
		break;
	}
	return r;
}

const struct fsm_rule *
engine_fsm_rules(size_t *n)
{
	*n = FSM_RULE_COUNT;
	return fsm_rules;
}

enum run_state
engine_fsm_stored(enum fsm_state s, enum dead_state *dead)
{
	*dead = DEAD_NONE;
	switch (s) {
	case FSM_RUNNING:
		return RUN_RUNNING;
	case FSM_RETRYING:
		return RUN_RETRYING;
	case FSM_SUCCEEDED:
		return RUN_SUCCEEDED;
	case FSM_DEAD_PENDING:
	case FSM_DEAD_RUNNING:
	case FSM_DEAD_BACKOFF:
		*dead = DEAD_PENDING;
		return RUN_FAILED;
	case FSM_FAILED:
		return RUN_FAILED;
	case FSM_CANCELLED:
		return RUN_CANCELLED;
	case FSM_WAITING:
		return RUN_WAITING;
	default:
		return RUN_QUEUED;
	}
}

enum fsm_state
engine_fsm_loaded(enum run_state s, enum dead_state dead)
{
	switch (s) {
	case RUN_RUNNING:
		return FSM_RUNNING;
	case RUN_RETRYING:
		return FSM_RETRYING;
	case RUN_SUCCEEDED:
		return FSM_SUCCEEDED;
	case RUN_FAILED:
		return dead == DEAD_PENDING ? FSM_DEAD_PENDING : FSM_FAILED;
	case RUN_CANCELLED:
		return FSM_CANCELLED;
	case RUN_WAITING:
		return FSM_WAITING;
	default:
		return FSM_QUEUED;
	}
}

const char *
engine_fsm_state_name(enum fsm_state s)
{
	return (unsigned)s < FSM_STATE_COUNT ? fsm_state_names[s] : "?";
}

const char *
engine_fsm_event_name(enum fsm_event ev)
{
	return (unsigned)ev < FSM_EVENT_COUNT ? fsm_event_names[ev] : "?";
}

/* The name of bit in a table of count names, or "?". */
static const char *
fsm_bit_name(const char *const *names, unsigned count, unsigned bit)
{
	unsigned i;

	for (i = 0; i < count; i++)
		if (bit == 1u << i)
			return names[i];
	return "?";
}

/* The name of one FSM_IF_* bit. */
const char *
engine_fsm_cond_name(unsigned cond)
{
	return fsm_bit_name(fsm_cond_names, FSM_IF_COUNT, cond);
}

/* The name of one effect bit. */
const char *
engine_fsm_effect_name(unsigned effect)
{
	return fsm_bit_name(fsm_effect_names, FSM_EFFECT_COUNT, effect);
}

/* Writes the names of the bits of mask with sep between them, or "-". */
static void
fsm_print_bits(FILE *f, unsigned mask, unsigned count,
    const char *(*name)(unsigned), int width)
{
	char buf[160];
	size_t len = 0;
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < count; i++) {
		if (!(mask & (1u << i)))
			continue;
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s",
		    len > 0 ? "," : "", name(1u << i));
		if (len >= sizeof buf)
			break;
	}
	fprintf(f, "%-*s", width, len > 0 ? buf : "-");
}

void
engine_fsm_print(FILE *f)
{
	const struct fsm_rule *r;
	size_t i;

	fprintf(f, "%-13s %-15s %-24s %-13s %-21s %s\n", "PHASE", "EVENT",
	    "WHEN", "TO", "RECORDED", "EFFECTS");
	for (i = 0; i < FSM_RULE_COUNT; i++) {
		r = &fsm_rules[i];
		fprintf(f, "%-13s %-15s ", engine_fsm_state_name(r->from),
		    engine_fsm_event_name(r->event));
		fsm_print_bits(f, r->when, FSM_IF_COUNT, engine_fsm_cond_name,
		    24);
		fprintf(f, " %-13s %-21s ", engine_fsm_state_name(r->to),
		    r->name != NULL ? r->name : "-");
		fsm_print_bits(f, r->effects, FSM_EFFECT_COUNT,
		    engine_fsm_effect_name, 0);
		fputc('\n', f);
	}
}
