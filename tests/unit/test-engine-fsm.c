/*
 * Tests of the run state machine, exhaustively: every phase against every
 * event, for every combination of the conditions (attempts left,
 * retryable, output valid, on_failure, debounce). The expected answers
 * come from a table written from the README's lifecycle and the comments
 * of engine-fsm.h, in a form of its own (each condition required, refused
 * or ignored); every combination must match a row. Properties that hold
 * whatever the row (final phases finish, a change the store does not keep
 * leaves the stored state alone, every phase is reachable, ...) are
 * checked on every answer too.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-fsm.h"
#include "test.h"

#define ANY	-1
#define NPH	FSM_STATE_COUNT
#define NEV	FSM_EVENT_COUNT
#define NCOND	(1u << FSM_IF_COUNT)

/* One expectation: conditions (ANY matches all) and the answer. */
struct want_rule {
	int		 phase;		/* enum fsm_state or ANY */
	int		 event;		/* enum fsm_event or ANY */
	int		 left, retryable, output_ok, on_failure, debounce;
	int		 legal;
	enum fsm_state	 to;
	unsigned	 effects;
	const char	*name;		/* NULL: kept in memory only */
};

#define A	ANY
#define F_FIN	FSM_FINISH
#define F_DL	FSM_DEAD_LETTER
#define F_STOP	FSM_CANCEL_STEP
#define F_GO	(FSM_NEXT_ATTEMPT | FSM_START_STEP)
#define F_ADM	FSM_ADMISSION

/* The waiting phases answer a cancel and a run timeout alike. */
#define WAITING(p)							\
	{ p, FSM_CANCEL, A, A, A, A, A, 1, FSM_CANCELLED, F_FIN,	\
	    "cancelled" },						\
	{ p, FSM_RUN_TIMEOUT, A, A, A, 1, A, 1, FSM_DEAD_PENDING, F_DL,	\
	    "run_timed_out" },						\
	{ p, FSM_RUN_TIMEOUT, A, A, A, 0, A, 1, FSM_FAILED, F_FIN,	\
	    "run_timed_out" }
/* So do the phases of a step, which also stop what is in flight. */
#define STEPPING(p)							\
	{ p, FSM_CANCEL, A, A, A, A, A, 1, FSM_CANCELLED, F_STOP | F_FIN, \
	    "cancelled" },						\
	{ p, FSM_RUN_TIMEOUT, A, A, A, 1, A, 1, FSM_DEAD_PENDING,	\
	    F_STOP | F_DL, "run_timed_out" },				\
	{ p, FSM_RUN_TIMEOUT, A, A, A, 0, A, 1, FSM_FAILED,		\
	    F_STOP | F_FIN, "run_timed_out" }

/* A step's outcome, from a phase it ran or waited in. */
#define OUTCOMES(p)							\
	{ p, FSM_STEP_OK, A, A, A, A, A, 1, FSM_RUNNING, FSM_ADVANCE,	\
	    "step_succeeded" },						\
	{ p, FSM_STEP_LAST_OK, A, A, 1, A, A, 1, FSM_SUCCEEDED, F_FIN,	\
	    "succeeded" },						\
	{ p, FSM_STEP_LAST_OK, A, A, 0, 1, A, 1, FSM_DEAD_PENDING, F_DL, \
	    "output_invalid" },						\
	{ p, FSM_STEP_LAST_OK, A, A, 0, 0, A, 1, FSM_FAILED, F_FIN,	\
	    "output_invalid" },						\
	{ p, FSM_STEP_FAILED, 1, 1, A, A, A, 1, FSM_RETRYING, FSM_BACKOFF, \
	    "step_failed" },						\
	{ p, FSM_STEP_FAILED, A, A, A, 1, A, 1, FSM_DEAD_PENDING, F_DL,	\
	    "failed" },							\
	{ p, FSM_STEP_FAILED, A, A, A, 0, A, 1, FSM_FAILED, F_FIN, "failed" }

static const struct want_rule want_rules[] = {
	{ FSM_NEW, FSM_CREATE, A, A, A, A, 1, 1, FSM_DEBOUNCED, 0,
	    "created" },
	{ FSM_NEW, FSM_CREATE, A, A, A, A, 0, 1, FSM_QUEUED, F_ADM,
	    "created" },

	{ FSM_QUEUED, FSM_RESUME, A, A, A, A, 1, 1, FSM_DEBOUNCED, 0, NULL },
	{ FSM_QUEUED, FSM_RESUME, A, A, A, A, 0, 1, FSM_QUEUED, F_ADM, NULL },
	{ FSM_QUEUED, FSM_ADMIT, A, A, A, A, A, 1, FSM_RUNNING, F_GO,
	    "started" },
	{ FSM_QUEUED, FSM_WAIT_FOR_SLOT, A, A, A, A, A, 1, FSM_WAIT_SLOT, 0,
	    "waiting" },
	{ FSM_QUEUED, FSM_WAIT_FOR_TOKEN, A, A, A, A, A, 1, FSM_WAIT_TOKEN,
	    0, "waiting" },
	WAITING(FSM_QUEUED),

	{ FSM_DEBOUNCED, FSM_ABSORB, A, A, A, A, A, 1, FSM_DEBOUNCED,
	    FSM_SET_INPUT, "debounced" },
	{ FSM_DEBOUNCED, FSM_DUE, A, A, A, A, A, 1, FSM_QUEUED, F_ADM, NULL },
	WAITING(FSM_DEBOUNCED),

	{ FSM_WAIT_SLOT, FSM_ADMIT, A, A, A, A, A, 1, FSM_RUNNING, F_GO,
	    "started" },
	{ FSM_WAIT_SLOT, FSM_WAIT_FOR_TOKEN, A, A, A, A, A, 1, FSM_WAIT_TOKEN,
	    0, "waiting" },
	WAITING(FSM_WAIT_SLOT),
	{ FSM_WAIT_TOKEN, FSM_ADMIT, A, A, A, A, A, 1, FSM_RUNNING, F_GO,
	    "started" },
	{ FSM_WAIT_TOKEN, FSM_WAIT_FOR_SLOT, A, A, A, A, A, 1, FSM_WAIT_SLOT,
	    0, "waiting" },
	{ FSM_WAIT_TOKEN, FSM_DUE, A, A, A, A, A, 1, FSM_WAIT_TOKEN, F_ADM,
	    NULL },
	WAITING(FSM_WAIT_TOKEN),

	{ FSM_RUNNING, FSM_RESUME, A, A, A, A, A, 1, FSM_RUNNING,
	    FSM_START_STEP, "resumed" },
	OUTCOMES(FSM_RUNNING),
	{ FSM_RUNNING, FSM_SUSPEND, A, A, A, A, A, 1, FSM_WAITING, FSM_SLEEP,
	    "waiting" },
	/* A timeout is worth another attempt, retryable or not. */
	{ FSM_RUNNING, FSM_STEP_TIMEOUT, 1, A, A, A, A, 1, FSM_RETRYING,
	    FSM_BACKOFF, "step_timed_out" },
	{ FSM_RUNNING, FSM_STEP_TIMEOUT, 0, A, A, 1, A, 1, FSM_DEAD_PENDING,
	    F_DL, "failed" },
	{ FSM_RUNNING, FSM_STEP_TIMEOUT, 0, A, A, 0, A, 1, FSM_FAILED, F_FIN,
	    "failed" },
	STEPPING(FSM_RUNNING),
	/* Waiting: a signal, or the due time, is the step's outcome. */
	{ FSM_WAITING, FSM_RESUME, A, A, A, A, A, 1, FSM_WAITING, FSM_SLEEP,
	    NULL },
	OUTCOMES(FSM_WAITING),
	STEPPING(FSM_WAITING),
	{ FSM_RETRYING, FSM_DUE, A, A, A, A, A, 1, FSM_RUNNING, F_GO,
	    "retried" },
	STEPPING(FSM_RETRYING),

	/* The dead letter: on_failure's attempts are not recorded one by
	 * one, its outcome is. */
	{ FSM_DEAD_PENDING, FSM_RESUME, A, A, A, A, A, 1, FSM_DEAD_RUNNING,
	    F_GO, NULL },
	{ FSM_DEAD_PENDING, FSM_STEP_FAILED, A, A, A, A, A, 1, FSM_FAILED,
	    F_FIN, "on_failure_failed" },
	{ FSM_DEAD_PENDING, FSM_REDRIVE, A, A, A, A, A, 1, FSM_QUEUED,
	    FSM_RESET | F_ADM, "redriven" },
	{ FSM_DEAD_RUNNING, FSM_STEP_LAST_OK, A, A, A, A, A, 1, FSM_FAILED,
	    F_FIN, "on_failure_succeeded" },
	{ FSM_DEAD_RUNNING, FSM_STEP_FAILED, 1, 1, A, A, A, 1,
	    FSM_DEAD_BACKOFF, FSM_BACKOFF, NULL },
	{ FSM_DEAD_RUNNING, FSM_STEP_FAILED, A, A, A, A, A, 1, FSM_FAILED,
	    F_FIN, "on_failure_failed" },
	{ FSM_DEAD_RUNNING, FSM_STEP_TIMEOUT, A, A, A, A, A, 1, FSM_FAILED,
	    F_FIN, "on_failure_failed" },
	{ FSM_DEAD_BACKOFF, FSM_DUE, A, A, A, A, A, 1, FSM_DEAD_RUNNING,
	    F_GO, NULL },

	{ FSM_FAILED, FSM_REDRIVE, A, A, A, A, A, 1, FSM_QUEUED,
	    FSM_RESET | F_ADM, "redriven" },
	{ FSM_CANCELLED, FSM_REDRIVE, A, A, A, A, A, 1, FSM_QUEUED,
	    FSM_RESET | F_ADM, "redriven" },

	/*
	 * Everything else does not apply: step results while waiting or
	 * final (late results after a cancel), a second cancel, admission
	 * of a running run, a redrive of an unfinished or succeeded run,
	 * a run timeout of a final run or of its dead letter.
	 */
	{ A, A, A, A, A, A, A, 0, 0, 0, NULL }
};

/* Whether a rule's condition holds for a value. */
static int
match(int want, unsigned conds, unsigned bit)
{
	return want == ANY || want == ((conds & bit) != 0);
}

/* The first expectation for an input. */
static const struct want_rule *
want_for(const struct fsm_input *in)
{
	const struct want_rule *r;
	size_t i;

	for (i = 0; i < sizeof want_rules / sizeof want_rules[0]; i++) {
		r = &want_rules[i];
		if ((r->phase == ANY || r->phase == (int)in->state) &&
		    (r->event == ANY || r->event == (int)in->event) &&
		    match(r->left, in->conds, FSM_IF_ATTEMPTS_LEFT) &&
		    match(r->retryable, in->conds, FSM_IF_RETRYABLE) &&
		    match(r->output_ok, in->conds, FSM_IF_OUTPUT_OK) &&
		    match(r->on_failure, in->conds, FSM_IF_ON_FAILURE) &&
		    match(r->debounce, in->conds, FSM_IF_DEBOUNCE))
			return r;
	}
	return NULL;
}

/* Describes an input for a failure message. */
static void
report(const struct fsm_input *in, const struct fsm_result *got,
    const struct want_rule *want, const char *what)
{
	fprintf(stderr, "%s: %s + %s conds 0x%02x: got legal %d %s 0x%03x "
	    "%s, want legal %d %s 0x%03x %s\n", what,
	    engine_fsm_state_name(in->state), engine_fsm_event_name(in->event),
	    in->conds, got->legal, engine_fsm_state_name(got->state),
	    got->effects, got->event ? got->event : "-",
	    want ? want->legal : -1, want ? engine_fsm_state_name(want->to) :
	    "?", want ? want->effects : 0, want && want->name ? want->name :
	    "-");
}

/* Whether two transition names are the same (both NULL included). */
static int
same_name(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* Every phase x event x conditions against the expectations. */
static void
test_engine_fsm_exhaustive(void)
{
	const struct want_rule *want;
	struct fsm_input in;
	struct fsm_result got;
	int checked = 0, wrong = 0, legal = 0;
	unsigned p, ev, c;

	for (p = 0; p < NPH; p++)
	for (ev = 0; ev < NEV; ev++)
	for (c = 0; c < NCOND; c++) {
		in.state = (enum fsm_state)p;
		in.event = (enum fsm_event)ev;
		in.conds = c;
		got = engine_fsm(&in);
		want = want_for(&in);
		checked++;
		if (want == NULL || got.legal != want->legal) {
			report(&in, &got, want, "legal");
			wrong++;
		} else if (!want->legal) {
			/* An event that does not apply changes nothing. */
			if (got.state != in.state || got.effects != 0 ||
			    got.event != NULL) {
				report(&in, &got, want, "illegal changed");
				wrong++;
			}
		} else if (got.state != want->to ||
		    got.effects != want->effects ||
		    !same_name(got.event, want->name)) {
			report(&in, &got, want, "answer");
			wrong++;
		} else
			legal++;
	}
	CHECK(checked == NPH * NEV * (int)NCOND);
	CHECK(legal > 0);
	CHECK(wrong == 0);
}

/* Whether a phase is final. */
static int
final(unsigned p)
{
	return p == FSM_SUCCEEDED || p == FSM_FAILED || p == FSM_CANCELLED;
}

/* Whether a phase waits before its first step. */
static int
waiting(unsigned p)
{
	return p == FSM_QUEUED || p == FSM_DEBOUNCED || p == FSM_WAIT_SLOT ||
	    p == FSM_WAIT_TOKEN;
}

/* Whether a phase is the dead letter's. */
static int
dead(unsigned p)
{
	return p == FSM_DEAD_PENDING || p == FSM_DEAD_RUNNING ||
	    p == FSM_DEAD_BACKOFF;
}

/* Properties of one legal answer; how many it breaks. */
static int
answer_bad(unsigned p, unsigned ev, const struct fsm_result *r)
{
	enum dead_state d1, d2;
	int bad = 0;

	/* A final phase, and only that, finishes the run. */
	bad += !!(r->effects & FSM_FINISH) != final(r->state);
	/* The dead letter starts from a failure outside it. */
	bad += !!(r->effects & FSM_DEAD_LETTER) !=
	    (r->state == FSM_DEAD_PENDING && !dead(p));
	/* A backoff exactly when the run waits to try again. */
	bad += !!(r->effects & FSM_BACKOFF) !=
	    (r->state == FSM_RETRYING || r->state == FSM_DEAD_BACKOFF);
	/* A step starts only in a phase that runs one. */
	bad += (r->effects & FSM_START_STEP) && r->state != FSM_RUNNING &&
	    r->state != FSM_DEAD_RUNNING;
	/* Nothing is in flight before the first step or once final. */
	bad += (r->effects & FSM_CANCEL_STEP) && (waiting(p) || final(p));
	/* A final run never moves except by a redrive. */
	bad += final(p) && ev != FSM_REDRIVE;
	/* A change the store does not keep must not show in it. */
	bad += r->event == NULL && (engine_fsm_stored(p, &d1) !=
	    engine_fsm_stored(r->state, &d2) || d1 != d2);
	bad += r->event != NULL && r->event[0] == '\0';
	return bad;
}

/* Properties that hold for every legal answer, whatever the table says. */
static void
test_engine_fsm_invariants(void)
{
	struct fsm_input in;
	struct fsm_result r;
	int legal_pairs[NPH][NEV], bad = 0;
	unsigned p, ev, c;

	memset(legal_pairs, 0, sizeof legal_pairs);
	for (p = 0; p < NPH; p++)
	for (ev = 0; ev < NEV; ev++)
	for (c = 0; c < NCOND; c++) {
		in.state = (enum fsm_state)p;
		in.event = (enum fsm_event)ev;
		in.conds = c;
		r = engine_fsm(&in);
		if (!r.legal)
			continue;
		legal_pairs[p][ev] = 1;
		bad += answer_bad(p, ev, &r);
	}
	CHECK(bad == 0);
	/* Succeeded runs accept nothing, redrive included. */
	for (ev = 0; ev < NEV; ev++)
		CHECK(!legal_pairs[FSM_SUCCEEDED][ev]);
	/* A cancel and a run timeout apply until the run failed or ended. */
	for (p = 0; p < NPH; p++) {
		int live = p != FSM_NEW && !final(p) && !dead(p);

		CHECK(legal_pairs[p][FSM_CANCEL] == live);
		CHECK(legal_pairs[p][FSM_RUN_TIMEOUT] == live);
	}
}

/* Every phase can be reached from a new run, and every rule answers
 * some input (none is hidden behind an earlier one). */
static void
test_engine_fsm_reachable(void)
{
	const struct fsm_rule *rules;
	struct fsm_input in;
	struct fsm_result r;
	int seen[NPH], used[128], grew = 1;
	unsigned p, ev, c;
	size_t n, i;

	rules = engine_fsm_rules(&n);
	REQUIRE(n <= 128);
	memset(seen, 0, sizeof seen);
	memset(used, 0, sizeof used);
	seen[FSM_NEW] = 1;
	while (grew) {
		grew = 0;
		for (p = 0; p < NPH; p++)
		for (ev = 0; ev < NEV && seen[p]; ev++)
		for (c = 0; c < NCOND; c++) {
			in.state = (enum fsm_state)p;
			in.event = (enum fsm_event)ev;
			in.conds = c;
			r = engine_fsm(&in);
			if (r.legal && !seen[r.state])
				seen[r.state] = grew = 1;
			for (i = 0; r.legal && i < n; i++)
				if (rules[i].from == in.state &&
				    rules[i].event == in.event &&
				    (c & rules[i].when) == rules[i].when) {
					used[i] = 1;
					break;
				}
		}
	}
	for (p = 0; p < NPH; p++)
		CHECK(seen[p]);
	for (i = 0; i < n; i++)
		CHECK(used[i]);
}

/* Drives one phase by a list of events; the names recorded. */
static enum fsm_state
drive(enum fsm_state p, unsigned conds, const enum fsm_event *evs, size_t n,
    const char *const *names)
{
	struct fsm_input in;
	struct fsm_result r;
	size_t i;

	for (i = 0; i < n; i++) {
		in.state = p;
		in.event = evs[i];
		in.conds = conds;
		r = engine_fsm(&in);
		CHECK(r.legal);
		CHECK(same_name(r.event, names[i]));
		p = r.state;
	}
	return p;
}

/* A debounced run: created, absorbs a trigger, its window ends, it
 * waits for a slot and a token, then starts. */
static void
test_engine_fsm_admission_sequence(void)
{
	static const enum fsm_event evs[] = {
		FSM_CREATE, FSM_ABSORB, FSM_DUE, FSM_WAIT_FOR_SLOT,
		FSM_WAIT_FOR_TOKEN, FSM_DUE, FSM_ADMIT
	};
	static const char *const names[] = {
		"created", "debounced", NULL, "waiting", "waiting", NULL,
		"started"
	};

	CHECK(drive(FSM_NEW, FSM_IF_DEBOUNCE | FSM_IF_ATTEMPTS_LEFT, evs, 7,
	    names) == FSM_RUNNING);
}

/* A step fails for good, on_failure fails once, is retried, succeeds. */
static void
test_engine_fsm_dead_letter_sequence(void)
{
	static const enum fsm_event evs[] = {
		FSM_STEP_FAILED, FSM_RESUME, FSM_STEP_FAILED, FSM_DUE,
		FSM_STEP_LAST_OK
	};
	static const char *const names[] = {
		"failed", NULL, NULL, NULL, "on_failure_succeeded"
	};
	unsigned c = FSM_IF_ON_FAILURE | FSM_IF_RETRYABLE |
	    FSM_IF_ATTEMPTS_LEFT;
	struct fsm_input in;

	/* Not retryable: the step fails for good at once. */
	in.state = FSM_RUNNING;
	in.event = FSM_STEP_FAILED;
	in.conds = FSM_IF_ON_FAILURE | FSM_IF_ATTEMPTS_LEFT;
	CHECK(engine_fsm(&in).state == FSM_DEAD_PENDING);
	CHECK(drive(FSM_RUNNING, c & ~FSM_IF_RETRYABLE, evs, 1, names) ==
	    FSM_DEAD_PENDING);
	CHECK(drive(FSM_DEAD_PENDING, c, evs + 1, 4, names + 1) ==
	    FSM_FAILED);
	/* A dead letter is no run: it is neither cancelled nor timed out. */
	in.state = FSM_DEAD_RUNNING;
	in.event = FSM_CANCEL;
	CHECK(!engine_fsm(&in).legal);
}

/* A run waits for a signal, gets it, then sleeps and times out its own
 * timeout; a loaded waiting run sleeps again, and is stored as waiting. */
static void
test_engine_fsm_waiting_sequence(void)
{
	static const enum fsm_event evs[] = {
		FSM_ADMIT, FSM_SUSPEND, FSM_STEP_OK, FSM_SUSPEND, FSM_RESUME,
		FSM_RUN_TIMEOUT
	};
	static const char *const names[] = {
		"started", "waiting", "step_succeeded", "waiting", NULL,
		"run_timed_out"
	};
	struct fsm_input in;
	enum dead_state d;

	CHECK(drive(FSM_QUEUED, FSM_IF_ATTEMPTS_LEFT, evs, 6, names) ==
	    FSM_FAILED);
	CHECK(engine_fsm_stored(FSM_WAITING, &d) == RUN_WAITING);
	CHECK(engine_fsm_loaded(RUN_WAITING, DEAD_NONE) == FSM_WAITING);
	/* No attempt is in flight while it waits: no step timeout. */
	in.state = FSM_WAITING;
	in.event = FSM_STEP_TIMEOUT;
	in.conds = FSM_IF_ATTEMPTS_LEFT;
	CHECK(!engine_fsm(&in).legal);
	in.event = FSM_CANCEL;
	CHECK(engine_fsm(&in).state == FSM_CANCELLED);
}

/* A step that times out every time: two retries, then failed for good. */
static void
test_engine_fsm_timeout_sequence(void)
{
	static const enum fsm_event evs[] = {
		FSM_ADMIT, FSM_STEP_TIMEOUT, FSM_DUE, FSM_STEP_TIMEOUT, FSM_DUE
	};
	static const char *const names[] = {
		"started", "step_timed_out", "retried", "step_timed_out",
		"retried"
	};
	struct fsm_input in;
	struct fsm_result r;

	CHECK(drive(FSM_QUEUED, FSM_IF_ATTEMPTS_LEFT, evs, 5, names) ==
	    FSM_RUNNING);
	in.state = FSM_RUNNING;
	in.event = FSM_STEP_TIMEOUT;
	in.conds = FSM_IF_ON_FAILURE;	/* no attempts left */
	r = engine_fsm(&in);
	CHECK(r.state == FSM_DEAD_PENDING && r.effects == FSM_DEAD_LETTER);
	CHECK_STR(r.event, "failed");
}

/* Names, the stored form of each phase, and the printed table. */
static void
test_engine_fsm_names_and_print(void)
{
	enum dead_state d;
	char buf[8192];
	size_t n, len;
	FILE *f;
	unsigned p;

	CHECK_STR(engine_fsm_event_name(FSM_ADMIT), "admit");
	CHECK_STR(engine_fsm_event_name((enum fsm_event)NEV), "?");
	CHECK_STR(engine_fsm_state_name(FSM_WAIT_TOKEN), "wait_token");
	CHECK_STR(engine_fsm_state_name((enum fsm_state)-1), "?");
	CHECK_STR(engine_fsm_cond_name(FSM_IF_DEBOUNCE), "debounce");
	CHECK_STR(engine_fsm_effect_name(FSM_SET_INPUT), "set_input");
	CHECK_STR(engine_fsm_effect_name(3), "?");
	CHECK(engine_fsm_stored(FSM_DEAD_BACKOFF, &d) == RUN_FAILED &&
	    d == DEAD_PENDING);
	CHECK(engine_fsm_stored(FSM_WAIT_SLOT, &d) == RUN_QUEUED &&
	    d == DEAD_NONE);
	/* A stored phase reads back as the phase a run resumes in. */
	for (p = FSM_QUEUED; p < NPH; p++) {
		enum run_state s = engine_fsm_stored((enum fsm_state)p, &d);
		enum fsm_state back = engine_fsm_loaded(s, d);

		CHECK(engine_fsm_stored(back, &d) == s);
	}
	REQUIRE((f = fmemopen(buf, sizeof buf, "w")) != NULL);
	engine_fsm_print(f);
	len = (size_t)ftell(f);
	fclose(f);
	buf[len < sizeof buf ? len : sizeof buf - 1] = '\0';
	engine_fsm_rules(&n);
	CHECK(strncmp(buf, "PHASE", 5) == 0);
	for (p = 0, len = 0; buf[len] != '\0'; len++)
		p += buf[len] == '\n';
	CHECK(p == n + 1);
	CHECK(strstr(buf, "running       step_failed     "
	    "attempts_left,retryable  retrying      step_failed") != NULL);
}

int
main(void)
{
	TEST_RUN(test_engine_fsm_exhaustive);
	TEST_RUN(test_engine_fsm_invariants);
	TEST_RUN(test_engine_fsm_reachable);
	TEST_RUN(test_engine_fsm_admission_sequence);
	TEST_RUN(test_engine_fsm_dead_letter_sequence);
	TEST_RUN(test_engine_fsm_timeout_sequence);
	TEST_RUN(test_engine_fsm_waiting_sequence);
	TEST_RUN(test_engine_fsm_names_and_print);
	TEST_DONE();
}
