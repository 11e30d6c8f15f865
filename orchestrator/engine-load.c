/*
 * Runs that come back from the store: resumed after a crash, retried by an
 * operator, or cancelled while no process executes them. Each is rebuilt in
 * memory from its record, its pinned definition and its finished steps,
 * then handed to the driver in engine.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "diag.h"
#include "engine-internal.h"
#include "log.h"
#include "proc.h"
#include "schema.h"
#include "steps.h"
#include "workflow.h"

static struct workflow *engine_def_file(struct engine *, const char *,
		    struct orc_error *);

/* The definition a run is pinned to (rec's hash): in memory, else from
 * the store; a map's items and a branch are a workflow inside it. */
static struct workflow *
engine_def_get(struct engine *e, const struct run_rec *rec,
    struct orc_error *err)
{
	struct workflow *wf, *sub;

	if ((wf = engine_def_file(e, rec->def_hash, err)) == NULL ||
	    rec->workflow == NULL || strchr(rec->workflow, '/') == NULL)
		return wf;
	if ((sub = workflow_sub_find(wf, rec->workflow)) == NULL)
		orc_error_set(err, ORC_EINVAL, "run %s: its definition %.12s "
		    "has no %s", rec->id, rec->def_hash, rec->workflow);
	return sub;
}

/* The definition of a file by its hash: in memory, else from the store. */
static struct workflow *
engine_def_file(struct engine *e, const char *hash, struct orc_error *err)
{
	struct def_rec def;
	struct workflow *wf;
	struct diag *d;
	size_t i;

	for (i = 0; i < e->ndefs; i++)
		if (strcmp(workflow_hash(e->defs[i]), hash) == 0)
			return e->defs[i];
	if (store_get_definition(e->store, hash, &def, err) != 0)
		return NULL;
	d = diag_create();
	wf = workflow_load_text(def.body, strlen(def.body), def.path, d);
	if (wf == NULL)
		orc_error_set(err, ORC_EINVAL, "stored definition %.12s of "
		    "%s no longer loads: %s", hash, def.name,
		    diag_count(d) ? diag_at(d, 0) : "unknown problem");
	def_rec_clear(&def);
	diag_free(d);
	if (wf == NULL)
		return NULL;
	engine_def_add(e, wf);
	workflow_unref(wf);
	return wf;
}

struct load_steps {
	struct run	*run;
	int		 upto;		/* visits before this seq count */
	json_t		*prev;		/* output of visit upto - 1 */
};

/* Keeps each step's latest output before the run's current visit. */
static int
load_step_cb(const struct step_rec *sr, void *arg)
{
	struct load_steps *ls = arg;

	if (sr->seq >= ls->upto)
		return 0;
	json_object_set(ls->run->steps_out, sr->name, sr->output);
	if (sr->seq == ls->upto - 1) {
		json_decref(ls->prev);
		ls->prev = json_incref(sr->output);
	}
	return 0;
}

/* Rebuilds the outputs and the current step's input up to seq. */
static int
run_load_steps(struct run *run, int seq, struct orc_error *err)
{
	struct load_steps ls = { run, seq, NULL };

	json_object_clear(run->steps_out);
	if (store_list_steps(run->engine->store, run->rec.id, load_step_cb,
	    &ls, err) != 0)
		return -1;
	json_decref(run->step_input);
	if (seq == 0)
		run->step_input = json_incref(run->rec.input);
	else if (ls.prev != NULL)
		run->step_input = ls.prev;
	else {
		orc_error_set(err, ORC_ESTORE, "run %s: the output of step "
		    "visit %d is missing from the store", run->rec.id, seq - 1);
		return -1;
	}
	return 0;
}

/* A run in memory from its stored record; wf NULL: the pinned one. */
struct run *
engine_run_load(struct engine *e, const struct run_rec *rec,
    struct workflow *wf, struct orc_error *err)
{
	struct run *run;

	if (wf == NULL && (wf = engine_def_get(e, rec, err)) == NULL)
		return NULL;
	run = engine_run_new(e, wf, NULL);
	run_rec_copy(&run->rec, rec);
	run->phase = engine_fsm_loaded(rec->state, rec->dead);
	engine_flow_keys_loaded(wf, rec->input, &run->keys, rec->id);
	engine_run_index(run);
	run->idx = rec->step ? workflow_step_index(wf, rec->step) : -1;
	if ((rec->step != NULL && run->idx < 0) ||
	    run_load_steps(run, rec->seq, err) != 0) {
		if (rec->step != NULL && run->idx < 0)
			orc_error_set(err, ORC_EINVAL, "run %s: step %s is not "
			    "in its definition", rec->id, rec->step);
		engine_run_free_now(run);
		return NULL;
	}
	return run;
}

struct resume_ctx {
	struct engine			*e;
	const struct engine_watch	*watch;
	int				 count;
	struct run_rec			*recs;
	size_t				 n;
};

/* Collects claimed runs; they are started once the claim is over. */
static int
resume_claim_cb(const struct run_rec *rec, void *arg)
{
	struct resume_ctx *rc = arg;

	rc->recs = xrealloc(rc->recs, (rc->n + 1) * sizeof *rc->recs);
	memset(&rc->recs[rc->n], 0, sizeof *rc->recs);
	run_rec_copy(&rc->recs[rc->n++], rec);
	return 0;
}

/* Claims runs (see store_claim_runs) into rc->recs. */
static int
engine_claim(struct engine *e, const char *const *ids, const char *workflow,
    struct resume_ctx *rc, struct orc_error *err)
{
	return store_claim_runs(e->store, e->owner, orc_now_ms() + e->lease_ms,
	    ids, workflow, proc_owner_gone, NULL, resume_claim_cb, rc, err);
}

/* Frees what engine_claim collected. */
static void
resume_ctx_clear(struct resume_ctx *rc)
{
	size_t i;

	for (i = 0; i < rc->n; i++)
		run_rec_clear(&rc->recs[i]);
	free(rc->recs);
}

/* Counting the times a run's current step (or its on_failure) was cut
 * short by a crash. */
struct crash_count {
	int		 seq;		/* the run's current step visit */
	const char	*step;		/* its name, or on_failure's */
	int		 crashes;
	int		 stopped;	/* the last transition is a stop's note */
};

/* A "resumed" that no stop's note came before followed a crash. */
static int
crash_count_cb(const struct transition_rec *tr, void *arg)
{
	struct crash_count *cc = arg;

	if (tr->seq == cc->seq && !cc->stopped && tr->step != NULL &&
	    strcmp(tr->step, cc->step) == 0 &&
	    strcmp(tr->event, ENGINE_EVENT_RESUMED) == 0)
		cc->crashes++;
	cc->stopped = strcmp(tr->event, ENGINE_EVENT_STOPPED) == 0;
	return 0;
}

/*
 * Whether a run taken over in a step, or in its on_failure, must not go
 * on: the processes running it died more than limit times, counting the
 * one just noticed but not the restarts that drained first. A step (or an
 * on_failure) that kills its process would otherwise be resumed, and kill
 * it, forever. A step then fails (the run may still run on_failure), an
 * on_failure fails and the run is done. 1 when it gave up.
 */
static int
resume_crash_loop(struct run *run, int limit)
{
	int dead = run->rec.state == RUN_FAILED &&
	    run->rec.dead == DEAD_PENDING;
	struct crash_count cc = { run->rec.seq, NULL, 0, 0 };
	struct orc_error err;
	char *msg;

	cc.step = dead ? ENGINE_STEP_ON_FAILURE : run->rec.step;
	if ((run->rec.state != RUN_RUNNING && !dead) || cc.step == NULL)
		return 0;
	if (store_list_transitions(run->engine->store, run->rec.id,
	    crash_count_cb, &cc, &err) != 0) {
		log_warn("%s: run %s: %s", __func__, run->rec.id, err.message);
		return 0;
	}
	if (!cc.stopped)
		cc.crashes++;	/* this take-over follows a crash too */
	if (cc.crashes <= limit) {
		/* A step's "resumed" is the fsm's; on_failure's is a note. */
		if (dead)
			engine_run_note_dead(run, ENGINE_EVENT_RESUMED);
		return 0;
	}
	msg = xasprintf("%s%s: the process running it died %d times before "
	    "it finished; it is not %s again (ORCH_CRASH_RESUMES=%d)",
	    dead ? "" : "step ", cc.step, cc.crashes, dead ? "run" :
	    "resumed", limit);
	log_error("%s: run %s: %s", __func__, run->rec.id, msg);
	/* A step fails (on_failure may follow); an owed on_failure fails. */
	engine_run_apply(run, FSM_STEP_FAILED, msg);
	free(msg);
	return 1;
}

/* Loads and continues claimed runs; how many it took. */
static int
engine_resume_recs(struct engine *e, const struct run_rec *recs, size_t n,
    const struct engine_watch *watch)
{
	struct orc_error lerr;
	struct run *run;
	size_t i;
	int count = 0;

	for (i = 0; i < n; i++) {
		if (engine_run_find(e, recs[i].id) != NULL)
			continue;
		if ((run = engine_run_load(e, &recs[i], NULL, &lerr)) ==
		    NULL) {
			log_error("%s: %s", __func__, lerr.message);
			continue;
		}
		if (watch != NULL)
			run->watch = *watch;
		count++;
		if (resume_crash_loop(run, e->crash_resumes))
			continue;
		log_info("%s: run %s resumes at step %s (%s)", __func__,
		    run->rec.id, run->rec.step ? run->rec.step : "-",
		    run_state_name(run->rec.state));
		engine_run_continue(run);
	}
	return count;
}

int
engine_resume(struct engine *e, const char *const *ids, const char *workflow,
    const struct engine_watch *watch, int *count, struct orc_error *err)
{
	struct resume_ctx rc = { e, watch, 0, NULL, 0 };
	int rv;

	rv = engine_claim(e, ids, workflow, &rc, err);
	if (rv == 0)
		rc.count = engine_resume_recs(e, rc.recs, rc.n, watch);
	resume_ctx_clear(&rc);
	if (count != NULL)
		*count = rc.count;
	return rv;
}

static void	engine_wake_arm(struct engine *);

/* The commit thread claimed runs for engine_claim_async. */
static void
engine_claimed_cb(const struct run_rec *recs, size_t n,
    const struct orc_error *err, void *arg)
{
	struct engine *e = arg;
	int count;

	e->claims--;
	/* Freeing: the runs stay claimed by this process, which is about
	 * to end; the next one takes them over at once. */
	if (e->paused)
		return;
	if (err != NULL) {
		log_warn("%s: %s", __func__, err->message);
		return;
	}
	if ((count = engine_resume_recs(e, recs, n, NULL)) > 0)
		log_info("%s: took over %d runs", __func__, count);
	if (e->wake_ev != NULL)
		engine_wake_arm(e);
}

/* Takes over the runs of processes that died, like engine_resume of every
 * run, with the claim done by the store's commit thread. */
static void
engine_claim_async(struct engine *e)
{
	e->claims++;
	store_claim_runs_async(e->store, e->owner, orc_now_ms() + e->lease_ms,
	    proc_owner_gone, NULL, engine_claimed_cb, e);
}

/* The next sleeper is due (or it is time to look): claim what is due. */
static void
engine_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	e->wake_at = 0;
	if (e->paused)
		return;
	engine_claim_async(e);
}

/* Arms the wake for at (ms since the epoch). */
static void
engine_wake_at(struct engine *e, int64_t at)
{
	int64_t ms = at - orc_now_ms();
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	e->wake_at = at;
	evtimer_add(e->wake_ev, &tv);
}

/* Arms the wake for the next sleeper in the store, or disarms it when
 * none sleeps. The periodic claim reads this again after each claim, so
 * a run another node puts to sleep is seen within half a lease. */
static void
engine_wake_arm(struct engine *e)
{
	struct orc_error err;
	int64_t due = 0;

	if (store_next_wake(e->store, &due, &err) != 0)
		log_warn("%s: %s", __func__, err.message);
	if (due > 0) {
		engine_wake_at(e, due);
		return;
	}
	evtimer_del(e->wake_ev);
	e->wake_at = 0;
}

/* A run went to sleep in the store until due: wake then, if sooner. */
void
engine_wake_note(struct engine *e, int64_t due)
{
	if (e->wake_ev != NULL && (e->wake_at == 0 || due < e->wake_at))
		engine_wake_at(e, due);
}

/* The periodic claim: none once paused, as a drain takes nothing new. */
static void
engine_claim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	if (!e->paused)
		engine_claim_async(e);
}

/* Every half lease, so that a dead node's runs wait at most about one lease
 * and a half; and the runs waiting in the store alone, taken back when
 * they are due. */
void
engine_claim_start(struct engine *e)
{
	struct timeval tv;

	if (e->wake_ev == NULL)
		e->wake_ev = evtimer_new(e->base, engine_wake_cb, e);
	engine_wake_arm(e);

	tv.tv_sec = (time_t)(e->lease_ms / 2000);
	tv.tv_usec = (suseconds_t)(e->lease_ms / 2 % 1000) * 1000;
	if (e->claim_ev == NULL)
		e->claim_ev = event_new(e->base, -1, EV_PERSIST,
		    engine_claim_cb, e);
	if (e->claim_ev == NULL)
		fatal("%s: event_new failed", __func__);
	event_add(e->claim_ev, &tv);
}

/*
 * Drops a run whose writes the store refused: another process holds it
 * now (or, for a new run, its cron fire is another run's), so this one
 * stops it here, without a word to the store, and forgets it once its
 * pending commits have called back (engine.c skips what they would do).
 */
static void
engine_run_lost(struct run *run, const char *existing)
{
	struct engine *e = run->engine;

	if (run->lost)
		return;
	run->lost = 1;
	e->stats.lost++;
	if (existing != NULL)
		log_warn("%s: run %s of %s: key %s is run %s's already; "
		    "dropped", __func__, run->rec.id, run->rec.workflow,
		    run->rec.idempotency_key, existing);
	else
		log_warn("%s: run %s of %s: another process took its lease "
		    "over; dropped", __func__, run->rec.id, run->rec.workflow);
	engine_run_drop(run);
}

void
engine_store_refused(const char *run_id, const char *existing, void *arg)
{
	struct engine *e = arg;
	struct run *run;

	if ((run = engine_run_find(e, run_id)) != NULL)
		engine_run_lost(run, existing);
}

/* Refuses a run that a live process other than this one holds. */
static int
run_check_lease(struct engine *e, const struct run_rec *rec,
    struct orc_error *err)
{
	if (rec->lease_owner == NULL || strcmp(rec->lease_owner, e->owner) == 0
	    || rec->lease_until < orc_now_ms() ||
	    proc_owner_gone(rec->lease_owner, NULL))
		return 0;
	orc_error_set(err, ORC_EBUSY, "run %s is held by %s until its lease "
	    "expires", rec->id, rec->lease_owner);
	return -1;
}

struct find_visit {
	const char	*name;
	int		 seq;
};

/* The latest finished visit of a step. */
static int
find_visit_cb(const struct step_rec *sr, void *arg)
{
	struct find_visit *fv = arg;

	if (strcmp(sr->name, fv->name) == 0)
		fv->seq = sr->seq;
	return 0;
}

/* Where a redrive starts: the visit to run again. */
static int
redrive_seq(struct engine *e, const struct run_rec *rec,
    const struct engine_redrive *rd, struct orc_error *err)
{
	struct find_visit fv = { rd->from_step, -1 };

	if (rd->from_step == NULL) {
		if (rd->input != NULL)
			return 0;
		if (rec->step == NULL) {
			orc_error_set(err, ORC_ESTATE, "run %s failed after "
			    "its last step; name a step with --from-step",
			    rec->id);
			return -1;
		}
		return rec->seq;
	}
	if (rec->step != NULL && strcmp(rec->step, rd->from_step) == 0)
		return rec->seq;
	if (store_list_steps(e->store, rec->id, find_visit_cb, &fv, err) != 0)
		return -1;
	if (fv.seq < 0)
		orc_error_set(err, ORC_ENOTFOUND, "run %s never reached step "
		    "\"%s\"", rec->id, rd->from_step);
	return fv.seq;
}

/* Loads a final run and sets it up to run again from a step. */
static struct run *
redrive_load(struct engine *e, struct run_rec *rec,
    const struct engine_redrive *rd, struct orc_error *err)
{
	struct workflow *wf = rd->latest;
	struct run *run;
	int seq;

	if ((seq = redrive_seq(e, rec, rd, err)) < 0)
		return NULL;
	if (rd->input != NULL) {
		json_decref(rec->input);
		rec->input = json_deep_copy(rd->input);
	}
	rec->seq = seq;
	if ((run = engine_run_load(e, rec, wf, err)) == NULL)
		return NULL;
	if (seq == 0 || rd->from_step != NULL) {
		const char *name = seq == 0 && rd->from_step == NULL ?
		    workflow_step_name(workflow_step_at(run->wf, 0)) :
		    rd->from_step;

		run->idx = workflow_step_index(run->wf, name);
		free(run->rec.step);
		run->rec.step = xstrdup(name);
	}
	if (run->idx < 0) {
		orc_error_set(err, ORC_ENOTFOUND, "step \"%s\" is not in the "
		    "definition of run %s", run->rec.step, rec->id);
		engine_run_free_now(run);
		return NULL;
	}
	return run;
}

/* Checks an edited input against the definition the run will use. */
static int
redrive_check_input(struct run *run, const struct engine_redrive *rd,
    struct orc_error *err)
{
	const json_t *schema = workflow_input_schema(run->wf);

	if (rd->input == NULL || schema == NULL)
		return 0;
	return schema_validate(schema, rd->input, err);
}

int
engine_redrive(struct engine *e, const char *id,
    const struct engine_redrive *rd, const struct engine_watch *watch,
    struct orc_error *err)
{
	struct run_rec rec;
	struct run *run = NULL;
	unsigned flags = STORE_RUN_SET_LEASE;
	int failed_seq;

	if (engine_run_find(e, id) != NULL) {
		orc_error_set(err, ORC_ESTATE, "run %s is still running", id);
		return -1;
	}
	memset(&rec, 0, sizeof rec);
	if (store_get_run(e->store, id, &rec, err) != 0)
		return -1;
	if (rec.state != RUN_FAILED && rec.state != RUN_CANCELLED) {
		orc_error_set(err, ORC_ESTATE, "run %s is %s; only failed or "
		    "cancelled runs can be retried", rec.id,
		    run_state_name(rec.state));
		goto fail;
	}
	failed_seq = rec.seq;
	if (run_check_lease(e, &rec, err) != 0 ||
	    (run = redrive_load(e, &rec, rd, err)) == NULL)
		goto fail;
	if (redrive_check_input(run, rd, err) != 0) {
		engine_run_free_now(run);
		goto fail;
	}
	if (rd->input != NULL)
		flags |= STORE_RUN_SET_INPUT;
	/* Going back, or on another input: its map steps start afresh. */
	if (rd->input != NULL || run->rec.seq != failed_seq ||
	    (rec.step != NULL && strcmp(run->rec.step, rec.step) != 0))
		flags |= STORE_RUN_DETACH;
	if (rd->latest != NULL) {
		flags |= STORE_RUN_SET_DEF;
		free(run->rec.def_hash);
		run->rec.def_hash = xstrdup(workflow_hash(rd->latest));
	}
	free(run->rec.lease_owner);
	run->rec.lease_owner = xstrdup(e->owner);
	run->rec.lease_until = orc_now_ms() + e->lease_ms;
	/* Taking the lease: the next token (STORE_RUN_SET_LEASE). */
	run->rec.lease_epoch++;
	if (watch != NULL)
		run->watch = *watch;
	run_rec_clear(&rec);
	engine_run_redrive(run, flags);
	return 0;
fail:
	run_rec_clear(&rec);
	return -1;
}

int
engine_cancel(struct engine *e, const char *id, struct orc_error *err)
{
	struct resume_ctx rc = { e, NULL, 0, NULL, 0 };
	struct run_rec rec;
	struct run *run;
	const char *ids[2] = { id, NULL };
	int rv = -1;

	if ((run = engine_run_find(e, id)) != NULL && !run->done) {
		/* Final but still committing, or running its on_failure. */
		if (run_state_is_final(run->rec.state)) {
			orc_error_set(err, ORC_ESTATE, "run %s is already %s",
			    run->rec.id, run_state_name(run->rec.state));
			return -1;
		}
		engine_run_apply(run, FSM_CANCEL, "cancelled by request");
		return 0;
	}
	memset(&rec, 0, sizeof rec);
	if (store_get_run(e->store, id, &rec, err) != 0)
		return -1;
	if (run_state_is_final(rec.state))
		orc_error_set(err, ORC_ESTATE, "run %s is already %s", rec.id,
		    run_state_name(rec.state));
	else if (run_check_lease(e, &rec, err) != 0) {
		/* Another live process runs it: it takes the request within
		 * a second (engine_cancel_poll) and stops the run. */
		if (err->code == ORC_EBUSY &&
		    store_request_cancel(e->store, rec.id, err) == 0) {
			orc_error_set(err, ORC_EBUSY, "run %s is held by %s: "
			    "cancel requested", rec.id, rec.lease_owner);
			rv = 1;
		}
	} else if (engine_claim(e, ids, NULL, &rc, err) == 0) {
		if (rc.n != 1)
			orc_error_set(err, ORC_EBUSY, "run %s could not be "
			    "claimed", rec.id);
		else if ((run = engine_run_load(e, &rc.recs[0], NULL, err)) !=
		    NULL) {
			engine_run_apply(run, FSM_CANCEL,
			    "cancelled by request");
			rv = 0;
		}
	}
	resume_ctx_clear(&rc);
	run_rec_clear(&rec);
	return rv;
}

/* Whether a run (its record, its definition) waits for a signal on step
 * (arg); err says what it waits for instead. */
static int
signal_check(const struct run_rec *rec, struct workflow *wf, const void *arg,
    struct orc_error *err)
{
	const struct workflow_step *ws;
	const char *step = arg;
	int idx;

	if (rec->state != RUN_WAITING) {
		orc_error_set(err, ORC_ESTATE, "run %s is %s: it waits for no "
		    "signal", rec->id, run_state_name(rec->state));
		return -1;
	}
	idx = rec->step != NULL ? workflow_step_index(wf, rec->step) : -1;
	ws = idx >= 0 ? workflow_step_at(wf, (size_t)idx) : NULL;
	if (ws == NULL || workflow_step_entry(ws)->due != STEP_DUE_FAILS) {
		orc_error_set(err, ORC_ESTATE, "run %s waits for %s on step "
		    "%s, not for a signal", rec->id, ws != NULL &&
		    workflow_step_callback(ws) ? "a callback" : "its time",
		    rec->step != NULL ? rec->step : "-");
		return -1;
	}
	if (strcmp(rec->step, step) != 0) {
		orc_error_set(err, ORC_ESTATE, "run %s waits for a signal on "
		    "step %s, not on %s", rec->id, rec->step, step);
		return -1;
	}
	return 0;
}

/* A run that waits in the store, claimed and loaded when check says it
 * waits for this: the run, or NULL with err. */
static struct run *
waiting_take_stored(struct engine *e, const char *id,
    engine_wait_check_fn check, const void *arg, struct orc_error *err)
{
	struct resume_ctx rc = { e, NULL, 0, NULL, 0 };
	const char *ids[2] = { id, NULL };
	struct workflow *wf;
	struct run_rec rec;
	struct run *run = NULL;

	memset(&rec, 0, sizeof rec);
	if (store_get_run(e->store, id, &rec, err) != 0)
		return NULL;
	if ((wf = engine_def_get(e, &rec, err)) == NULL ||
	    check(&rec, wf, arg, err) != 0 ||
	    run_check_lease(e, &rec, err) != 0 ||
	    engine_claim(e, ids, NULL, &rc, err) != 0)
		goto out;
	if (rc.n != 1)
		orc_error_set(err, ORC_EBUSY, "run %s is being taken up by "
		    "another process; try again", rec.id);
	else if ((run = engine_run_load(e, &rc.recs[0], NULL, err)) != NULL) {
		/* It may have moved between the read and the claim. */
		if (check(&run->rec, run->wf, arg, err) != 0) {
			engine_run_continue(run);
			run = NULL;
			goto out;
		}
		engine_run_arm_deadline(run);
	}
out:
	resume_ctx_clear(&rc);
	run_rec_clear(&rec);
	return run;
}

/* See engine-internal.h. */
struct run *
engine_waiting_take(struct engine *e, const char *id,
    engine_wait_check_fn check, const void *arg, int *loaded,
    struct orc_error *err)
{
	struct run *run = engine_run_find(e, id);

	*loaded = run == NULL || run->done;
	if (*loaded)
		return waiting_take_stored(e, id, check, arg, err);
	if (check(&run->rec, run->wf, arg, err) != 0)
		return NULL;
	evtimer_del(run->due_timer);
	return run;
}

int
engine_signal(struct engine *e, const char *id, const char *step,
    json_t *body, const struct engine_watch *watch, struct orc_error *err)
{
	struct run *run;
	int loaded;

	if ((run = engine_waiting_take(e, id, signal_check, step, &loaded,
	    err)) == NULL)
		return -1;
	if (loaded && watch != NULL)
		run->watch = *watch;
	engine_run_output(run, json_incref(body), loaded ? NULL : watch);
	return 0;
}

/* The cancel requests this process's runs got (engine_cancel_poll). */
static void
engine_cancels_cb(const char *const *ids, size_t n,
    const struct orc_error *err, void *arg)
{
	struct engine *e = arg;
	struct run *run;
	size_t i;

	e->cancel_polling = 0;
	e->claims--;
	if (err != NULL) {
		log_warn("%s: %s", __func__, err->message);
		return;
	}
	for (i = 0; i < n && !e->paused; i++) {
		if ((run = engine_run_find(e, ids[i])) == NULL || run->done ||
		    run_state_is_final(run->rec.state))
			continue;
		log_info("%s: run %s cancelled by a request from another "
		    "process", __func__, ids[i]);
		engine_run_apply(run, FSM_CANCEL, "cancelled by request");
	}
}

/* Looks for requests to cancel the runs this process executes (one look
 * at a time, by the commit thread). */
void
engine_cancel_poll(struct engine *e)
{
	if (e->cancel_polling || e->active == 0 || e->paused)
		return;
	e->cancel_polling = 1;
	e->claims++;
	store_take_cancels_async(e->store, e->owner, engine_cancels_cb, e);
}
