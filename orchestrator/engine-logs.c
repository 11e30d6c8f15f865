/*
 * A run's log lines on their way to the store. A finished (or stopped)
 * step attempt hands its lines over; they wait here, bounded as a run's
 * log is (steps.h: struct step_log_bound), and ride with the run's next
 * change, in the same grouped commit as its transition: never a commit
 * of their own. When the run ends, one more line says how many lines
 * were dropped, if any were.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "log.h"
#include "steps.h"

struct engine_logs {
	struct log_rec		*pending;	/* not submitted yet */
	size_t			 npending;
	size_t			 cap;
	struct step_log_bound	 bound;		/* the run's, so far */
	size_t			 told;		/* drops a line said */
};

/* Appends one line (its message taken) to the run's pending lines. */
static void
engine_logs_push(struct run *run, int64_t at, const char *step,
    int attempt, int level, char *message)
{
	struct engine_logs	*el = run->logs;
	struct log_rec		*l;

	if (el->npending == el->cap) {
		el->cap = el->cap == 0 ? 8 : el->cap * 2;
		el->pending = xrealloc(el->pending,
		    el->cap * sizeof *el->pending);
	}
	l = &el->pending[el->npending++];
	memset(l, 0, sizeof *l);
	memcpy(l->run_id, run->rec.id, sizeof l->run_id);
	l->at = at;
	l->step = step != NULL ? xstrdup(step) : NULL;
	l->attempt = attempt;
	l->level = level;
	l->message = message;
}

/* Takes the lines an attempt logged, within the run's bound. */
void
engine_logs_take(struct run *run, const struct step_call *call)
{
	const struct step_log	*lines;
	size_t			 n, dropped, i, keep;
	char			*msg;

	lines = step_call_logs(call, &n, &dropped);
	if (n == 0 && dropped == 0)
		return;
	if (run->logs == NULL)
		run->logs = xcalloc(1, sizeof *run->logs);
	run->logs->bound.dropped += dropped;
	for (i = 0; i < n; i++) {
		if (!step_log_admit(&run->logs->bound, strlen(lines[i].text),
		    &keep))
			continue;
		msg = xstrdup(lines[i].text);
		step_log_cut(msg, keep);
		engine_logs_push(run, lines[i].at, step_call_step_name(call),
		    step_call_attempt(call), lines[i].level, msg);
	}
}

/* Puts the pending lines on the run's change; a change that ends the run
 * also says how many lines were dropped. */
void
engine_logs_attach(struct run *run, struct store_change *ch)
{
	struct engine_logs *el = run->logs;

	if (el == NULL)
		return;
	if (run_state_is_final(run->rec.state) &&
	    el->bound.dropped > el->told) {
		engine_logs_push(run, orc_now_ms(), NULL, 0, LOG_WARN,
		    xasprintf("%zu more log lines dropped (a run keeps %d "
		    "lines, %d bytes)", el->bound.dropped - el->told,
		    STEP_LOG_LINES, STEP_LOG_BYTES));
		el->told = el->bound.dropped;
	}
	ch->logs = el->pending;
	ch->nlogs = el->npending;
}

/* The change is submitted (the store copied its lines): forget them. */
void
engine_logs_sent(struct run *run)
{
	struct engine_logs *el = run->logs;

	if (el == NULL)
		return;
	while (el->npending > 0)
		log_rec_clear(&el->pending[--el->npending]);
}

/* Frees the run's lines, pending or not. */
void
engine_logs_free(struct run *run)
{
	if (run->logs == NULL)
		return;
	engine_logs_sent(run);
	free(run->logs->pending);
	free(run->logs);
	run->logs = NULL;
}
