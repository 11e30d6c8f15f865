/*
 * Tests of the run state machine, exhaustively: every state against every
 * event, for every combination of attempt, max_attempts, retryable,
 * output_ok and has_on_failure in a range around the boundaries. The
 * expected answers come from a table written from SPEC section 3 and the
 * comments of engine-fsm.h, one row per rule, first match wins; every
 * combination must match a row. Properties that hold whatever the row
 * (final states finish, only failures send a dead letter, ...) are checked
 * on every answer too.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-fsm.h"
#include "test.h"

#define ANY	-1

/* One rule: conditions (ANY matches all) and the answer. */
struct fsm_rule {
	int		 state;		/* enum run_state or ANY */
	int		 event;		/* enum fsm_event or ANY */
	int		 attempts_left;	/* attempt < max_attempts */
	int		 retryable;
	int		 output_ok;
	int		 has_on_failure;
	int		 legal;
	enum run_state	 to;
	unsigned	 effects;
	const char	*name;
};

#define F_FIN	FSM_FINISH
#define F_DL	FSM_DEAD_LETTER
#define F_STOP	FSM_CANCEL_STEP

static const struct fsm_rule fsm_rules[] = {
	/* queued: waiting for its first start (or a redrive's). */
	{ RUN_QUEUED, FSM_START, ANY, ANY, ANY, ANY,
	    1, RUN_RUNNING, FSM_NEXT_ATTEMPT | FSM_START_STEP, "started" },
	{ RUN_QUEUED, FSM_CANCEL, ANY, ANY, ANY, ANY,
	    1, RUN_CANCELLED, F_FIN, "cancelled" },
	{ RUN_QUEUED, FSM_RUN_TIMEOUT, ANY, ANY, ANY, 0,
	    1, RUN_FAILED, F_FIN, "run_timed_out" },
	{ RUN_QUEUED, FSM_RUN_TIMEOUT, ANY, ANY, ANY, 1,
	    1, RUN_FAILED, F_FIN | F_DL, "run_timed_out" },

	/* running: a step attempt is (or was, before a restart) in flight. */
	{ RUN_RUNNING, FSM_START, ANY, ANY, ANY, ANY,
	    1, RUN_RUNNING, FSM_START_STEP, "resumed" },
	{ RUN_RUNNING, FSM_STEP_OK, ANY, ANY, ANY, ANY,
	    1, RUN_RUNNING, FSM_ADVANCE, "step_succeeded" },
	{ RUN_RUNNING, FSM_STEP_LAST_OK, ANY, ANY, 1, ANY,
	    1, RUN_SUCCEEDED, F_FIN, "succeeded" },
	/* An output that breaks the schema fails the run, not retried. */
	{ RUN_RUNNING, FSM_STEP_LAST_OK, ANY, ANY, 0, 0,
	    1, RUN_FAILED, F_FIN, "output_invalid" },
	{ RUN_RUNNING, FSM_STEP_LAST_OK, ANY, ANY, 0, 1,
	    1, RUN_FAILED, F_FIN | F_DL, "output_invalid" },
	{ RUN_RUNNING, FSM_STEP_FAILED, 1, 1, ANY, ANY,
	    1, RUN_RETRYING, FSM_BACKOFF, "step_failed" },
	{ RUN_RUNNING, FSM_STEP_FAILED, ANY, ANY, ANY, 0,
	    1, RUN_FAILED, F_FIN, "failed" },
	{ RUN_RUNNING, FSM_STEP_FAILED, ANY, ANY, ANY, 1,
	    1, RUN_FAILED, F_FIN | F_DL, "failed" },
	/* A timeout is always worth another attempt while any are left. */
	{ RUN_RUNNING, FSM_STEP_TIMEOUT, 1, ANY, ANY, ANY,
	    1, RUN_RETRYING, FSM_BACKOFF, "step_timed_out" },
	{ RUN_RUNNING, FSM_STEP_TIMEOUT, ANY, ANY, ANY, 0,
	    1, RUN_FAILED, F_FIN, "failed" },
	{ RUN_RUNNING, FSM_STEP_TIMEOUT, ANY, ANY, ANY, 1,
	    1, RUN_FAILED, F_FIN | F_DL, "failed" },
	{ RUN_RUNNING, FSM_CANCEL, ANY, ANY, ANY, ANY,
	    1, RUN_CANCELLED, F_STOP | F_FIN, "cancelled" },
	{ RUN_RUNNING, FSM_RUN_TIMEOUT, ANY, ANY, ANY, 0,
	    1, RUN_FAILED, F_STOP | F_FIN, "run_timed_out" },
	{ RUN_RUNNING, FSM_RUN_TIMEOUT, ANY, ANY, ANY, 1,
	    1, RUN_FAILED, F_STOP | F_FIN | F_DL, "run_timed_out" },

	/* retrying: waiting out a backoff; the timer must be stopped. */
	{ RUN_RETRYING, FSM_START, ANY, ANY, ANY, ANY,
	    1, RUN_RUNNING, FSM_NEXT_ATTEMPT | FSM_START_STEP, "retried" },
	{ RUN_RETRYING, FSM_CANCEL, ANY, ANY, ANY, ANY,
	    1, RUN_CANCELLED, F_STOP | F_FIN, "cancelled" },
	{ RUN_RETRYING, FSM_RUN_TIMEOUT, ANY, ANY, ANY, 0,
	    1, RUN_FAILED, F_STOP | F_FIN, "run_timed_out" },
	{ RUN_RETRYING, FSM_RUN_TIMEOUT, ANY, ANY, ANY, 1,
	    1, RUN_FAILED, F_STOP | F_FIN | F_DL, "run_timed_out" },

	/* Final states: only failed and cancelled runs can be redriven. */
	{ RUN_FAILED, FSM_REDRIVE, ANY, ANY, ANY, ANY,
	    1, RUN_QUEUED, FSM_RESET, "redriven" },
	{ RUN_CANCELLED, FSM_REDRIVE, ANY, ANY, ANY, ANY,
	    1, RUN_QUEUED, FSM_RESET, "redriven" },

	/*
	 * Everything else does not apply: step results in queued, retrying
	 * and final states (late results after a cancel), a second cancel,
	 * a start of a final run, a redrive of an unfinished or succeeded
	 * run, a run timeout of a final run.
	 */
	{ ANY, ANY, ANY, ANY, ANY, ANY, 0, 0, 0, NULL }
};

/* Whether a rule's condition holds for a value. */
static int
match(int want, int have)
{
	return want == ANY || want == have;
}

/* The first rule for an input. */
static const struct fsm_rule *
rule_for(const struct fsm_input *in)
{
	size_t i;
	const struct fsm_rule *r;

	for (i = 0; i < sizeof fsm_rules / sizeof fsm_rules[0]; i++) {
		r = &fsm_rules[i];
		if (match(r->state, (int)in->state) &&
		    match(r->event, (int)in->event) &&
		    match(r->attempts_left, in->attempt < in->max_attempts) &&
		    match(r->retryable, in->retryable != 0) &&
		    match(r->output_ok, in->output_ok != 0) &&
		    match(r->has_on_failure, in->has_on_failure != 0))
			return r;
	}
	return NULL;
}

/* Describes an input for a failure message. */
static void
report(const struct fsm_input *in, const struct fsm_result *got,
    const struct fsm_rule *want, const char *what)
{
	fprintf(stderr, "%s: state %s event %s attempt %d/%d retryable %d "
	    "output_ok %d on_failure %d: got legal %d %s 0x%02x %s, want "
	    "legal %d %s 0x%02x %s\n", what, run_state_name(in->state),
	    engine_fsm_event_name(in->event), in->attempt, in->max_attempts,
	    in->retryable, in->output_ok, in->has_on_failure, got->legal,
	    run_state_name(got->state), got->effects,
	    got->event ? got->event : "(null)", want ? want->legal : -1,
	    want ? run_state_name(want->to) : "?", want ? want->effects : 0,
	    want && want->name ? want->name : "(null)");
}

/* Every state x event x variation against the table. */
static void
test_engine_fsm_exhaustive(void)
{
	struct fsm_input in;
	struct fsm_result got;
	const struct fsm_rule *want;
	int s, ev, attempt, max, retryable, ok, hof;
	int checked = 0, wrong = 0, legal = 0;

	for (s = 0; s < RUN_STATE_COUNT; s++)
	for (ev = 0; ev < FSM_EVENT_COUNT; ev++)
	for (attempt = 0; attempt <= 4; attempt++)
	for (max = 1; max <= 3; max++)
	for (retryable = 0; retryable <= 1; retryable++)
	for (ok = 0; ok <= 1; ok++)
	for (hof = 0; hof <= 1; hof++) {
		memset(&in, 0, sizeof in);
		in.state = (enum run_state)s;
		in.event = (enum fsm_event)ev;
		in.attempt = attempt;
		in.max_attempts = max;
		in.retryable = retryable;
		in.output_ok = ok;
		in.has_on_failure = hof;
		got = engine_fsm(&in);
		want = rule_for(&in);
		checked++;
		if (want == NULL) {
			report(&in, &got, NULL, "no rule");
			wrong++;
			continue;
		}
		if (got.legal != want->legal) {
			report(&in, &got, want, "legal");
			wrong++;
			continue;
		}
		if (!want->legal) {
			/* An event that does not apply changes nothing. */
			if (got.state != in.state || got.effects != 0 ||
			    got.event != NULL) {
				report(&in, &got, want, "illegal changed");
				wrong++;
			}
			continue;
		}
		legal++;
		if (got.state != want->to || got.effects != want->effects ||
		    got.event == NULL || strcmp(got.event, want->name) != 0) {
			report(&in, &got, want, "answer");
			wrong++;
		}
	}
	CHECK(checked == RUN_STATE_COUNT * FSM_EVENT_COUNT * 5 * 3 * 8);
	CHECK(legal > 0);
	CHECK(wrong == 0);
}

/* Properties that hold for every legal answer, whatever the table says. */
static void
test_engine_fsm_invariants(void)
{
	struct fsm_input in;
	struct fsm_result r;
	int s, ev, attempt, max, retryable, ok, hof, bad = 0;
	int legal_pairs[RUN_STATE_COUNT][FSM_EVENT_COUNT];

	memset(legal_pairs, 0, sizeof legal_pairs);
	for (s = 0; s < RUN_STATE_COUNT; s++)
	for (ev = 0; ev < FSM_EVENT_COUNT; ev++)
	for (attempt = 0; attempt <= 4; attempt++)
	for (max = 1; max <= 3; max++)
	for (retryable = 0; retryable <= 1; retryable++)
	for (ok = 0; ok <= 1; ok++)
	for (hof = 0; hof <= 1; hof++) {
		memset(&in, 0, sizeof in);
		in.state = (enum run_state)s;
		in.event = (enum fsm_event)ev;
		in.attempt = attempt;
		in.max_attempts = max;
		in.retryable = retryable;
		in.output_ok = ok;
		in.has_on_failure = hof;
		r = engine_fsm(&in);
		if (!r.legal)
			continue;
		legal_pairs[s][ev] = 1;
		/* A final state, and only that, finishes the run. */
		bad += !!(r.effects & FSM_FINISH) !=
		    run_state_is_final(r.state);
		/* The dead letter: failures with on_failure, no others. */
		bad += !!(r.effects & FSM_DEAD_LETTER) !=
		    (r.state == RUN_FAILED && hof);
		/* A backoff exactly when the run waits to retry. */
		bad += !!(r.effects & FSM_BACKOFF) !=
		    (r.state == RUN_RETRYING);
		/* Starting a step only in running. */
		bad += (r.effects & FSM_START_STEP) &&
		    r.state != RUN_RUNNING;
		/* Nothing is in flight in a queued run or a final one. */
		bad += (r.effects & FSM_CANCEL_STEP) &&
		    (s == RUN_QUEUED || run_state_is_final((enum run_state)s));
		/* A final run never moves except by a redrive. */
		bad += run_state_is_final((enum run_state)s) &&
		    ev != FSM_REDRIVE;
		bad += r.event == NULL || r.event[0] == '\0';
	}
	CHECK(bad == 0);
	/* Succeeded runs accept nothing, redrive included. */
	for (ev = 0; ev < FSM_EVENT_COUNT; ev++)
		CHECK(!legal_pairs[RUN_SUCCEEDED][ev]);
	/* A cancel applies to every unfinished state, to no final one. */
	for (s = 0; s < RUN_STATE_COUNT; s++)
		CHECK(legal_pairs[s][FSM_CANCEL] ==
		    !run_state_is_final((enum run_state)s));
	for (s = 0; s < RUN_STATE_COUNT; s++)
		CHECK(legal_pairs[s][FSM_RUN_TIMEOUT] ==
		    !run_state_is_final((enum run_state)s));
}

/* A step that times out every time: two retries, then failed for good. */
static void
test_engine_fsm_timeout_sequence(void)
{
	struct fsm_input in;
	struct fsm_result r;
	int attempt = 0, i;
	static const char *const want[] = {
		"started", "step_timed_out", "retried", "step_timed_out",
		"retried", "failed"
	};

	memset(&in, 0, sizeof in);
	in.state = RUN_QUEUED;
	in.max_attempts = 3;
	in.has_on_failure = 1;
	for (i = 0; i < 6; i++) {
		in.event = i % 2 == 0 ? FSM_START : FSM_STEP_TIMEOUT;
		in.attempt = attempt;
		r = engine_fsm(&in);
		REQUIRE(r.legal);
		CHECK_STR(r.event, want[i]);
		if (r.effects & FSM_NEXT_ATTEMPT)
			attempt++;
		in.state = r.state;
	}
	CHECK(attempt == 3);
	CHECK(in.state == RUN_FAILED);
	CHECK(r.effects == (FSM_FINISH | FSM_DEAD_LETTER));
	/* Once failed, a late result is ignored; a redrive queues it. */
	in.event = FSM_STEP_TIMEOUT;
	CHECK(!engine_fsm(&in).legal);
	in.event = FSM_REDRIVE;
	r = engine_fsm(&in);
	CHECK(r.legal && r.state == RUN_QUEUED && r.effects == FSM_RESET);
}

/* A fatal step failure does not retry even with attempts left. */
static void
test_engine_fsm_fatal_failure(void)
{
	struct fsm_input in;
	struct fsm_result r;

	memset(&in, 0, sizeof in);
	in.state = RUN_RUNNING;
	in.event = FSM_STEP_FAILED;
	in.attempt = 1;
	in.max_attempts = 5;
	in.retryable = 0;
	r = engine_fsm(&in);
	CHECK(r.legal && r.state == RUN_FAILED && r.effects == FSM_FINISH);
	CHECK_STR(r.event, "failed");
	in.retryable = 1;
	r = engine_fsm(&in);
	CHECK(r.legal && r.state == RUN_RETRYING);
	CHECK_STR(r.event, "step_failed");
	in.attempt = 5;
	r = engine_fsm(&in);
	CHECK(r.legal && r.state == RUN_FAILED);
}

/* Event names, and "?" for a value out of range. */
static void
test_engine_fsm_event_names(void)
{
	CHECK_STR(engine_fsm_event_name(FSM_START), "start");
	CHECK_STR(engine_fsm_event_name(FSM_STEP_OK), "step_ok");
	CHECK_STR(engine_fsm_event_name(FSM_STEP_LAST_OK), "step_last_ok");
	CHECK_STR(engine_fsm_event_name(FSM_STEP_FAILED), "step_failed");
	CHECK_STR(engine_fsm_event_name(FSM_STEP_TIMEOUT), "step_timeout");
	CHECK_STR(engine_fsm_event_name(FSM_RUN_TIMEOUT), "run_timeout");
	CHECK_STR(engine_fsm_event_name(FSM_CANCEL), "cancel");
	CHECK_STR(engine_fsm_event_name(FSM_REDRIVE), "redrive");
	CHECK_STR(engine_fsm_event_name((enum fsm_event)FSM_EVENT_COUNT), "?");
	CHECK_STR(engine_fsm_event_name((enum fsm_event)-1), "?");
}

int
main(void)
{
	TEST_RUN(test_engine_fsm_exhaustive);
	TEST_RUN(test_engine_fsm_invariants);
	TEST_RUN(test_engine_fsm_timeout_sequence);
	TEST_RUN(test_engine_fsm_fatal_failure);
	TEST_RUN(test_engine_fsm_event_names);
	TEST_DONE();
}
