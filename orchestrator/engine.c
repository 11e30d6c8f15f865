/*
 * The engine's driver. engine_fsm() decides; this file carries out what it
 * decided: it updates the run record, submits the change to the store and,
 * in the change's commit callback, does what must wait for durability (the
 * next step, the caller's answer, the dead letter). Steps are started
 * through the step_call interface and may finish at once or later.
 */
#include "config.h"

#include <errno.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "engine-internal.h"
#include "fetch.h"
#include "format.h"
#include "hmap.h"
#include "id.h"
#include "log.h"
#include "loop.h"
#include "pool.h"
#include "worker.h"
#include "schema.h"
#include "script.h"
#include "steps.h"
#include "template.h"
#include "trace.h"
#include "workflow.h"

/* What a commit callback must do for one change. */
struct run_commit {
	struct run	*run;
	unsigned	 effects;
	int		 seq;		/* the run's seq after the change */
	int		 created;	/* the change created the run */
	int		 barrier;	/* not replayable (run_submit) */
	int		 observed;	/* ev is filled for the observer */
	struct engine_watch notify;	/* accepted once committed, or none */
	struct engine_event ev;		/* step and error are copies */
};

/* What the driver knows about an event besides its kind. */
struct run_event {
	const char	*error;
	int		 retryable;
	int		 output_ok;
	json_t		*output;	/* the finished step's, borrowed */
	int		 next_idx;	/* where STEP_OK goes */
	int64_t		 duration_ms;
	unsigned	 store_flags;	/* extra STORE_RUN_* for the change */
	int64_t		 retry_after_ms; /* the step's minimum backoff */
};

static void	run_step_done_cb(struct step_call *, void *);
static void	run_start_dead(struct run *);
static void	run_timer_cb(evutil_socket_t, short, void *);
static void	run_apply(struct run *, enum fsm_event,
		    const struct run_event *);
static void	run_submit(struct run *, const struct transition_rec *,
		    const struct step_rec *, unsigned, unsigned, unsigned);

/* Every second: requests from other processes to cancel runs here. */
static void
engine_cancel_cb(evutil_socket_t fd, short what, void *arg)
{
	engine_cancel_poll(arg);
}

/* Renews this process's leases while it has runs. */
static void
engine_renew_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	if (e->active == 0)
		return;
	/* On the commit thread: the loop waits for no commit or lock. */
	store_renew_leases_async(e->store, e->owner, orc_now_ms() +
	    e->lease_ms);
}

struct engine *
engine_create(struct event_base *base, struct store *store,
    const struct engine_config *cfg)
{
	struct engine *e = xcalloc(1, sizeof *e);
	struct timeval tv;
	char host[128];
	const char *env;

	e->base = base;
	e->store = store;
	e->buckets_dir = xstrdup(cfg->buckets_dir ? cfg->buckets_dir :
	    "buckets");
	e->lease_ms = cfg->lease_ms;
	if (e->lease_ms <= 0 && (env = getenv("ORCH_LEASE_MS")) != NULL)
		e->lease_ms = strtoll(env, NULL, 10);
	if (e->lease_ms <= 0)
		e->lease_ms = 30000;
	if (gethostname(host, sizeof host) != 0)
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	e->owner = xasprintf("%s:%ld:%04x", host, (long)getpid(),
	    (unsigned)orc_random(0x10000));
	e->fetch = fetch_create(base);
	e->pool = pool_create(base, 0);
	if (cfg->replay != NULL)
		e->replay = json_incref((json_t *)cfg->replay);
	/* Replaying, a script's ctx.fetch finds no client: refused. */
	if (cfg->workers > 0)
		e->workers = worker_pool_create(base, e->replay != NULL ? NULL :
		    e->fetch, cfg->workers, cfg->worker_exe);
	if (cfg->loop_lag)
		e->lag = loop_lag_start(base);
	if (cfg->otlp_endpoint != NULL) {
		struct trace_config tc;

		memset(&tc, 0, sizeof tc);
		tc.endpoint = cfg->otlp_endpoint;
		e->trace = trace_create(base, e->fetch, &tc);
	}
	e->by_id = hmap_create();
	e->by_key = hmap_create();
	e->gates = hmap_create();
	e->buckets = hmap_create();
	e->debounce = hmap_create();
	e->max_queue = cfg->max_queue ? cfg->max_queue : 10000;
	e->max_active = cfg->max_active ? cfg->max_active : 100000;
	e->cancel_ev = event_new(base, -1, EV_PERSIST, engine_cancel_cb, e);
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	event_add(e->cancel_ev, &tv);
	e->renew = event_new(base, -1, EV_PERSIST, engine_renew_cb, e);
	tv.tv_sec = e->lease_ms / 3000;
	tv.tv_usec = (e->lease_ms / 3 % 1000) * 1000;
	event_add(e->renew, &tv);
	return e;
}

/* Frees a run's memory; it stays in the store as it is. */
static void
run_free(struct run *run)
{
	struct engine *e = run->engine;

	engine_release(run);
	if (hmap_get(e->by_id, run->rec.id) == run)
		hmap_remove(e->by_id, run->rec.id);
	if (run->key_index != NULL) {
		if (hmap_get(e->by_key, run->key_index) == run)
			hmap_remove(e->by_key, run->key_index);
		free(run->key_index);
	}
	if (run->prev != NULL)
		run->prev->next = run->next;
	else
		e->runs = run->next;
	if (run->next != NULL)
		run->next->prev = run->prev;
	if (!run->done)
		e->active--;
	if (run->call != NULL) {
		step_call_free(run->call);
		e->stats.calls--;
	}
	if (run->timer != NULL)
		event_free(run->timer);
	if (run->deadline != NULL)
		event_free(run->deadline);
	run_rec_clear(&run->rec);
	free(run->call_error);
	free(run->gate_key);
	free(run->rate_key);
	json_decref(run->step_input);
	json_decref(run->steps_out);
	workflow_unref(run->wf);
	engine_logs_free(run);
	free(run);
}

/* A transition that leaves the run where it is: a note of event at at. */
static void
run_note_init(struct run *run, struct transition_rec *tr, const char *event,
    int64_t at)
{
	memset(tr, 0, sizeof *tr);
	memcpy(tr->run_id, run->rec.id, sizeof tr->run_id);
	tr->at = at;
	tr->from_state = (int)run->rec.state;
	tr->to_state = run->rec.state;
	tr->event = (char *)event;
	tr->step = run->rec.step;
	tr->seq = run->rec.seq;
}

/*
 * Records that this process stops while the run is in a step: when it
 * resumes, a restart is told from a crash (engine-load.c counts crashes).
 */
static void
run_note_stopped(struct run *run)
{
	struct transition_rec tr;

	run_note_init(run, &tr, ENGINE_EVENT_STOPPED, orc_now_ms());
	tr.attempt = run->rec.attempt;
	run_submit(run, &tr, NULL, 0, 0, 0);
}

void
engine_free(struct engine *e)
{
	struct run *run;
	size_t i;

	if (e == NULL)
		return;
	/* Freeing runs frees their slots: start nothing more. */
	e->paused = 1;
	/* A claim's answer must not find the engine gone. */
	while (e->claims > 0 && store_flush(e->store, NULL) == 0)
		;
	for (run = e->runs; run != NULL; run = run->next) {
		if (run->done)
			continue;
		if (run->rec.state == RUN_RUNNING)
			run_note_stopped(run);
		else if (run->rec.state == RUN_FAILED &&
		    run->rec.dead == DEAD_PENDING)
			engine_run_note_dead(run, ENGINE_EVENT_STOPPED);
	}
	while (e->runs != NULL) {
		/* A commit may still be queued for it: let it land first. */
		if (e->runs->pending > 0 && store_flush(e->store, NULL) == 0)
			continue;
		/* It cannot land now: its callbacks must never find the
		 * runs freed here. The changes stay queued for store_close. */
		if (e->runs->pending > 0)
			store_forget_callbacks(e->store, free);
		e->runs->pending = e->runs->barriers = 0;
		run_free(e->runs);
	}
	/* Every step call is gone: no request refers to the client now. */
	worker_pool_free(e->workers);
	loop_lag_free(e->lag);
	json_decref(e->replay);
	/* Its posts go through the client: before it. */
	trace_free(e->trace);
	fetch_free(e->fetch);
	pool_free(e->pool);
	/* The loop's idle Lua states go with it. */
	script_shutdown();
	engine_flow_free(e);
	engine_gates_free(e);
	hmap_free(e->by_id);
	hmap_free(e->by_key);
	for (i = 0; i < e->ndefs; i++)
		workflow_unref(e->defs[i]);
	free(e->defs);
	event_free(e->renew);
	event_free(e->cancel_ev);
	free(e->buckets_dir);
	free(e->owner);
	free(e);
}

const char *
engine_owner(const struct engine *e)
{
	return e->owner;
}

/* The lease on runs, in ms. */
int64_t
engine_lease_ms(const struct engine *e)
{
	return e->lease_ms;
}

/* The worker processes, or NULL. */
struct worker_pool *
engine_workers(const struct engine *e)
{
	return e->workers;
}

/* The span exporter, or NULL. */
struct trace *
engine_trace(const struct engine *e)
{
	return e->trace;
}

/* The loop's lag probe, or NULL. */
struct loop_lag *
engine_loop_lag(const struct engine *e)
{
	return e->lag;
}

size_t
engine_active(const struct engine *e)
{
	return e->active;
}

/* Keeps a definition so runs pinned to it can be loaded again. */
void
engine_def_add(struct engine *e, struct workflow *wf)
{
	size_t i;

	for (i = 0; i < e->ndefs; i++)
		if (strcmp(workflow_hash(e->defs[i]), workflow_hash(wf)) == 0)
			return;
	e->defs = xrealloc(e->defs, (e->ndefs + 1) * sizeof *e->defs);
	e->defs[e->ndefs++] = workflow_ref(wf);
}

/* The run in memory with that id, or NULL. */
struct run *
engine_run_find(struct engine *e, const char *id)
{
	char up[RUN_ID_LEN + 1];
	size_t i;

	/* Ids are written in upper case; accept what a person types. */
	for (i = 0; i < RUN_ID_LEN && id[i] != '\0'; i++)
		up[i] = (char)toupper((unsigned char)id[i]);
	up[i] = '\0';
	return hmap_get(e->by_id, up);
}

/* Indexes a run by its id once it has one. */
void
engine_run_index(struct run *run)
{
	hmap_set(run->engine->by_id, run->rec.id, run);
}

/* A run in memory for wf; the caller fills its record. */
struct run *
engine_run_new(struct engine *e, struct workflow *wf,
    const struct engine_watch *watch)
{
	struct run *run = xcalloc(1, sizeof *run);

	run->engine = e;
	run->wf = workflow_ref(wf);
	run->idx = -1;
	run->steps_out = json_object();
	run->timer = evtimer_new(e->base, run_timer_cb, run);
	if (watch != NULL)
		run->watch = *watch;
	run->next = e->runs;
	if (e->runs != NULL)
		e->runs->prev = run;
	e->runs = run;
	e->active++;
	engine_def_add(e, wf);
	return run;
}

/* Tells the watcher about the run. */
static void
run_tell(struct run *run, engine_run_cb cb)
{
	struct engine_result r;

	if (cb == NULL)
		return;
	r.run_id = run->rec.id;
	r.workflow = run->rec.workflow;
	r.state = run->rec.state;
	r.output = run->rec.output;
	r.error = run->rec.error;
	cb(&r, run->watch.arg);
}

/* Tells another caller (a debounced trigger) that the run took it. */
static void
run_tell_watch(struct run *run, const struct engine_watch *w)
{
	struct engine_watch keep = run->watch;

	run->watch = *w;
	run_tell(run, w->accepted);
	run->watch = keep;
}

/* The run is final and everything about it is committed. */
static void
run_finish(struct run *run)
{
	struct engine_event ev;

	if (run->done)
		return;
	run->done = 1;
	run->engine->active--;
	run->engine->stats.finished[run->rec.state]++;
	engine_release(run);
	log_debug("%s: run %s %s", __func__, run->rec.id,
	    run_state_name(run->rec.state));
	memset(&ev, 0, sizeof ev);
	ev.event = "finished";
	ev.state = run->rec.state;
	ev.error = run->rec.error;
	ev.at = run->rec.finished_at;
	engine_notify(run, &ev);
	if (ENGINE_TRACING(run))
		engine_trace_run_end(run);
	run_tell(run, run->watch.finished);
}

/* Frees a run once nothing refers to it any more. */
static void
run_maybe_free(struct run *run)
{
	if (run->done && run->pending == 0 && run->call == NULL)
		run_free(run);
}

/* Backoff before attempt n+1: exponential, capped, with full jitter. */
static int64_t
run_backoff_ms(const struct retry_policy *p, int attempt)
{
	int64_t d = p->backoff_ms;
	int i;

	for (i = 1; i < attempt && d < p->backoff_max_ms; i++)
		d *= 2;
	if (d > p->backoff_max_ms)
		d = p->backoff_max_ms;
	if (p->jitter && d > 0)
		d = (int64_t)orc_random((uint64_t)d + 1);
	return d;
}

/* Arms the run's timer for ms from now. */
static void
run_arm(struct run *run, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	/* libevent counts from the time it cached at the top of this loop
	 * turn: refresh it, or a Retry-After could be honoured early. */
	event_base_update_cache_time(run->engine->base);
	evtimer_add(run->timer, &tv);
}

/* The name of the attempt in flight's step (on_failure's too). */
static const char *
run_call_name(struct run *run)
{
	return run->call_is_dead ?
	    workflow_step_name(workflow_on_failure(run->wf)) : run->rec.step;
}

/* Stops the attempt in flight, if any, and the run's timer. */
static void
run_stop_step(struct run *run)
{
	evtimer_del(run->timer);
	if (run->call != NULL) {
		if (ENGINE_TRACING(run))
			engine_trace_step_end(run, run_call_name(run),
			    "cancelled", NULL);
		step_call_cancel(run->call);
		engine_logs_take(run, run->call);
		step_call_free(run->call);
		run->call = NULL;
		run->engine->stats.calls--;
	}
}

/* The templates' view of the run: input, trigger, steps, run. */
static json_t *
run_template_ctx(struct run *run, const char *step, int attempt)
{
	return json_pack("{sOsOsOs{sssssssisi}}",
	    "input", run->step_input ? run->step_input : json_null(),
	    "trigger", run->rec.input ? run->rec.input : json_null(),
	    "steps", run->steps_out,
	    "run", "id", run->rec.id, "workflow", run->rec.workflow,
	    "step", step, "seq", run->rec.seq, "attempt", attempt);
}

/* Starts one attempt of a step (or of on_failure) with its input. */
static void
run_call(struct run *run, const struct workflow_step *ws, const json_t *input,
    int attempt)
{
	struct step_call_params p;
	struct orc_error err;
	json_t *ctx, *with = NULL, *replayed;
	char *key, tp[TRACE_PARENT_LEN + 1];
	const char *name = workflow_step_name(ws);

	/* Opened first: an attempt whose templates fail has a span too. */
	if (ENGINE_TRACING(run))
		engine_trace_step_start(run, tp);

	/* The templates' view is built only for a step that has some. */
	ctx = workflow_step_with(ws) != NULL ?
	    run_template_ctx(run, name, attempt) : NULL;
	if (ctx != NULL &&
	    (with = template_render(workflow_step_with(ws), ctx, &err)) ==
	    NULL) {
		json_decref(ctx);
		/* A template that names nothing will not improve on retry. */
		log_warn("%s: run %s step %s: %s", __func__, run->rec.id, name,
		    err.message);
		free(run->call_error);
		run->call_error = xstrdup(err.message);
		run->call_started = orc_now_ms();
		run->call = NULL;
		run_step_done_cb(NULL, run);
		return;
	}
	json_decref(ctx);
	key = xasprintf("%s:%s:%d", run->rec.id, name, run->rec.seq);
	memset(&p, 0, sizeof p);
	p.entry = workflow_step_entry(ws);
	p.step = workflow_step_json(ws);
	p.with = with;
	p.input = input;
	p.run_id = run->rec.id;
	p.workflow = run->rec.workflow;
	p.workflow_dir = workflow_dir(run->wf);
	p.step_name = name;
	p.attempt = attempt;
	p.idempotency_key = key;
	p.base = run->engine->base;
	p.buckets_dir = run->engine->buckets_dir;
	p.input_schema = workflow_input_schema(run->wf);
	p.allow = workflow_allow(run->wf);
	p.secrets = json_object_get(workflow_json(run->wf), "secrets");
	p.fetch = run->engine->replay != NULL ? NULL : run->engine->fetch;
	p.pool = run->engine->pool;
	p.workers = run->engine->workers;
	p.trigger = run->rec.input;
	p.steps = run->steps_out;
	p.timeout_ms = workflow_step_timeout_ms(ws);
	p.traceparent = ENGINE_TRACING(run) ? tp : NULL;
	replayed = run->engine->replay != NULL ?
	    engine_replay_step(run->engine->replay, &p) : NULL;
	run->call = step_call_create(&p, run_step_done_cb, run);
	json_decref(replayed);
	run->engine->stats.calls++;
	json_decref(with);
	free(key);
	run->call_started = orc_now_ms();
	run_arm(run, workflow_step_timeout_ms(ws));
	log_debug("%s: run %s step %s seq %d attempt %d started", __func__,
	    run->rec.id, name, run->rec.seq, attempt);
	if (step_call_start(run->call) == STEP_DONE)
		run_step_done_cb(run->call, run);
}

/* Starts the current attempt of the current step. */
void
engine_run_start(struct run *run)
{
	/* Draining: the step stays where the store has it, to resume. */
	if (run->engine->paused)
		return;
	run_call(run, workflow_step_at(run->wf, (size_t)run->idx),
	    run->step_input, run->rec.attempt);
}

/* After a step succeeded: which step follows, or -1 for none. */
static int
run_next_idx(struct run *run, struct step_call *call, struct run_event *ev)
{
	const char *next = call ? step_call_next(call) : NULL;
	int idx;

	if (next == NULL)
		return run->idx + 1 < (int)workflow_step_count(run->wf) ?
		    run->idx + 1 : -1;
	if ((idx = workflow_step_index(run->wf, next)) < 0) {
		ev->error = "chose a next step that does not exist";
		return -2;
	}
	return idx;
}

/* Turns a finished attempt into the event it means. */
static void
run_step_result(struct run *run, struct step_call *call)
{
	struct run_event ev;
	struct orc_error err;
	enum fsm_event kind;
	char *msg = NULL;

	memset(&ev, 0, sizeof ev);
	ev.duration_ms = orc_now_ms() - run->call_started;
	if (call == NULL || !step_call_ok(call)) {
		/* Users read this in show and runs: name the step. */
		msg = xasprintf("step %s: %s", run->rec.step, call == NULL ?
		    run->call_error : step_call_error(call));
		ev.error = msg;
		ev.retryable = call != NULL && step_call_retryable(call);
		ev.retry_after_ms = call != NULL ?
		    step_call_retry_after_ms(call) : 0;
		kind = FSM_STEP_FAILED;
	} else {
		ev.output = step_call_take_output(call);
		ev.next_idx = run_next_idx(run, call, &ev);
		if (ev.next_idx == -2) {
			msg = xasprintf("step %s %s (\"%s\")", run->rec.step,
			    ev.error, step_call_next(call));
			ev.error = msg;
			kind = FSM_STEP_FAILED;
		} else if (ev.next_idx >= 0)
			kind = FSM_STEP_OK;
		else {
			kind = FSM_STEP_LAST_OK;
			ev.output_ok = 1;
			if (workflow_output_schema(run->wf) != NULL &&
			    schema_validate(workflow_output_schema(run->wf),
			    ev.output, &err) != 0) {
				msg = xasprintf("output does not match the "
				    "workflow's output schema: %s",
				    err.message);
				ev.error = msg;
				ev.output_ok = 0;
			}
		}
	}
	engine_stat_step(run->engine, kind != FSM_STEP_FAILED,
	    ev.duration_ms);
	if (ENGINE_TRACING(run))
		engine_trace_step_end(run, run->rec.step, ev.error != NULL ?
		    "failed" : "succeeded", ev.error);
	run_apply(run, kind, &ev);
	json_decref(ev.output);
	free(msg);
}

/* The dead letter finished: record how, then the run is done. */
static void
run_dead_result(struct run *run, struct step_call *call)
{
	const struct workflow_step *ws = workflow_on_failure(run->wf);
	const struct retry_policy *p = workflow_step_retry(ws);
	struct transition_rec tr;
	int ok = call != NULL && step_call_ok(call);

	if (ENGINE_TRACING(run))
		engine_trace_step_end(run, workflow_step_name(ws), ok ?
		    "succeeded" : "failed", ok ? NULL : call != NULL ?
		    step_call_error(call) : run->call_error);
	if (!ok && call != NULL && step_call_retryable(call) &&
	    run->dead_attempt < p->max_attempts) {
		run_arm(run, run_backoff_ms(p, run->dead_attempt));
		return;
	}
	run->rec.dead = ok ? DEAD_DONE : DEAD_FAILED;
	run->rec.updated_at = orc_now_ms();
	memset(&tr, 0, sizeof tr);
	memcpy(tr.run_id, run->rec.id, sizeof tr.run_id);
	tr.at = run->rec.updated_at;
	tr.from_state = tr.to_state = run->rec.state;
	tr.event = ok ? "on_failure_succeeded" : "on_failure_failed";
	tr.step = ENGINE_STEP_ON_FAILURE;
	tr.seq = run->rec.seq;
	tr.attempt = run->dead_attempt;
	tr.error = ok ? NULL : (char *)(call ? step_call_error(call) :
	    run->call_error);
	tr.duration_ms = orc_now_ms() - run->call_started;
	log_info("%s: run %s on_failure %s", __func__, run->rec.id,
	    ok ? "succeeded" : "failed");
	run_submit(run, &tr, NULL, 0, FSM_FINISH, 0);
}

/* A step (or on_failure) finished, now or later. */
static void
run_step_done_cb(struct step_call *call, void *arg)
{
	struct run *run = arg;
	int dead = run->call_is_dead;

	evtimer_del(run->timer);
	if (call != NULL) {
		run->engine->stats.calls--;
		engine_logs_take(run, call);
	}
	run->call = NULL;
	if (dead)
		run_dead_result(run, call);
	else
		run_step_result(run, call);
	if (call != NULL)
		step_call_free(call);
	run_maybe_free(run);
}

/* What must wait for a change's commit happens here. */
static void
run_committed_cb(void *arg)
{
	struct run_commit *c = arg;
	struct run *run = c->run;
	unsigned eff = c->effects;

	run->pending--;
	run->barriers -= c->barrier;
	if (c->observed) {
		engine_notify(run, &c->ev);
		free((char *)c->ev.step);
		free((char *)c->ev.error);
	}
	if (c->created)
		run_tell(run, run->watch.accepted);
	if (c->notify.accepted != NULL)
		run_tell_watch(run, &c->notify);
	/* A step's completion is durable (the crash tests read this). */
	if (eff & FSM_ADVANCE)
		log_debug("%s: run %s seq %d committed", __func__, run->rec.id,
		    c->seq - 1);
	if (c->created && run->rec.state == RUN_QUEUED)
		engine_admit(run, 0);
	else if ((eff & FSM_ADVANCE) && run->rec.state == RUN_RUNNING &&
	    run->rec.seq == c->seq && run->call == NULL)
		engine_run_start(run);
	else if ((eff & FSM_RESET) && run->rec.state == RUN_QUEUED)
		engine_admit(run, 0);
	else if ((eff & FSM_DEAD_LETTER) && run->rec.dead == DEAD_PENDING)
		run_start_dead(run);
	else if (eff & FSM_FINISH)
		run_finish(run);
	free(c);
	run_maybe_free(run);
}

/* How run_submit's change came about. */
#define RUN_SUBMIT_CREATED	0x1	/* it creates the run */
#define RUN_SUBMIT_REPLAYABLE	0x2	/* a crash before its commit makes it
					   again, the same: a start, or a pure
					   step's success */

_Static_assert(WORKFLOW_FOREVER == STORE_FOREVER,
    "a definition's retention is stored as the workflow says it");

/* Submits the run's record with a transition (and a finished step). */
static void
run_submit(struct run *run, const struct transition_rec *tr,
    const struct step_rec *sr, unsigned flags, unsigned effects, unsigned how)
{
	struct run_commit *c = xcalloc(1, sizeof *c);
	struct store_change ch;
	struct def_rec def;

	c->run = run;
	c->effects = effects;
	c->seq = run->rec.seq;
	c->created = (how & RUN_SUBMIT_CREATED) != 0;
	c->barrier = (how & RUN_SUBMIT_REPLAYABLE) == 0;
	run->barriers += c->barrier;
	if (run->engine->observer != NULL && tr != NULL) {
		c->observed = 1;
		c->ev.event = tr->event;	/* static strings */
		c->ev.state = tr->to_state;
		c->ev.step = tr->step ? xstrdup(tr->step) : NULL;
		c->ev.seq = tr->seq;
		c->ev.attempt = tr->attempt;
		c->ev.error = tr->error ? xstrdup(tr->error) : NULL;
		c->ev.at = tr->at;
		c->ev.duration_ms = tr->duration_ms;
	}
	memset(&ch, 0, sizeof ch);
	ch.run = &run->rec;
	ch.flags = flags;
	ch.step = sr;
	ch.transition = tr;
	if (flags & (STORE_RUN_INSERT | STORE_RUN_SET_DEF)) {
		def.hash = (char *)workflow_hash(run->wf);
		def.name = (char *)workflow_name(run->wf);
		def.path = (char *)workflow_path(run->wf);
		def.body = (char *)workflow_text(run->wf);
		def.created_at = run->rec.updated_at;
		/* Kept with the definition: a run is purged by the retention
		 * of the definition it ran with. */
		def.retention_ms = workflow_retention_ms(run->wf);
		ch.def = &def;
	}
	ch.cb = run_committed_cb;
	ch.arg = c;
	run->last_commit = c;
	run->pending++;
	engine_logs_attach(run, &ch);
	store_submit(run->engine->store, &ch);
	engine_logs_sent(run);
}

/* Moves the run to the step at idx with the given input (stolen). */
static void
run_move_to(struct run *run, int idx, json_t *input)
{
	json_decref(run->step_input);
	run->step_input = input;
	run->idx = idx;
	free(run->rec.step);
	run->rec.step = idx >= 0 ?
	    xstrdup(workflow_step_name(workflow_step_at(run->wf,
	    (size_t)idx))) : NULL;
}

/* Records the step that just succeeded and moves past it. */
static void
run_advance(struct run *run, const struct run_event *ev, char *step,
    struct step_rec *sr)
{
	memset(sr, 0, sizeof *sr);
	memcpy(sr->run_id, run->rec.id, sizeof sr->run_id);
	sr->seq = run->rec.seq;
	sr->name = step;
	sr->attempts = run->rec.attempt;
	sr->output = ev->output;
	sr->started_at = run->call_started;
	sr->finished_at = orc_now_ms();
	json_object_set(run->steps_out, run->rec.step, ev->output);
	run->rec.seq++;
}

/* Applies the record changes that an fsm result asks for. */
static void
run_update(struct run *run, const struct fsm_result *res,
    const struct run_event *ev)
{
	const struct retry_policy *p;

	run->rec.state = res->state;
	run->rec.updated_at = orc_now_ms();
	if (res->effects & FSM_NEXT_ATTEMPT)
		run->rec.attempt++;
	if (res->effects & FSM_RESET) {
		run->rec.attempt = 0;
		run->rec.due_at = 0;
		run->rec.finished_at = 0;
		run->rec.dead = DEAD_NONE;
		free(run->rec.error);
		run->rec.error = NULL;
		json_decref(run->rec.output);
		run->rec.output = NULL;
	}
	/*
	 * The run's error says why it failed, or why the step it retries
	 * failed last: a step that succeeds puts its earlier attempts'
	 * failures behind it. Each attempt's error stays in its transition.
	 */
	if ((res->effects & FSM_ADVANCE) || res->state == RUN_SUCCEEDED) {
		free(run->rec.error);
		run->rec.error = NULL;
	}
	if (ev != NULL && ev->error != NULL) {
		free(run->rec.error);
		run->rec.error = xstrdup(ev->error);
	}
	if (res->effects & FSM_BACKOFF) {
		p = workflow_step_retry(workflow_step_at(run->wf,
		    (size_t)run->idx));
		run->rec.due_at = run->rec.updated_at +
		    run_backoff_ms(p, run->rec.attempt);
		/* A server's Retry-After is the least it will accept. */
		if (ev != NULL && ev->retry_after_ms > 0 &&
		    run->rec.due_at < run->rec.updated_at + ev->retry_after_ms)
			run->rec.due_at = run->rec.updated_at +
			    ev->retry_after_ms;
	}
	if (res->effects & FSM_FINISH)
		run->rec.finished_at = run->rec.updated_at;
	if (res->effects & FSM_DEAD_LETTER)
		run->rec.dead = DEAD_PENDING;
}

/* Whether a step touches nothing outside the run (steps.h). */
static int
run_step_is_pure(const struct workflow_step *ws)
{
	return ws != NULL && workflow_step_entry(ws)->pure;
}

/*
 * Whether the step a run just moved to may start before that move is
 * committed: when it is pure (it touches nothing outside the run), or
 * when the step that finished, done, was pure and every change of the run
 * awaiting its commit is replayable, so that what the next step is given
 * follows from committed state alone (a crash makes those changes again,
 * the same, and the next step's call is repeated, as a retry would be).
 */
static int
run_may_run_ahead(const struct run *run, const struct workflow_step *done)
{
	const struct workflow_step *next;

	if (run->idx < 0 || run->rec.state != RUN_RUNNING)
		return 0;
	next = workflow_step_at(run->wf, (size_t)run->idx);
	return run_step_is_pure(next) ||
	    (run_step_is_pure(done) && run->barriers == 0);
}

/* The one place a run changes state: decide, record, submit, act. */
static void
run_apply(struct run *run, enum fsm_event kind, const struct run_event *ev)
{
	struct fsm_input in;
	struct fsm_result res;
	struct transition_rec tr;
	struct step_rec sr, *srp = NULL;
	enum run_state from = run->rec.state;
	int idx = run->idx;
	const struct workflow_step *ws;
	char *step;

	memset(&in, 0, sizeof in);
	in.state = from;
	in.event = kind;
	in.attempt = run->rec.attempt;
	ws = idx >= 0 ? workflow_step_at(run->wf, (size_t)idx) : NULL;
	in.max_attempts = ws ? workflow_step_retry(ws)->max_attempts : 1;
	in.retryable = ev ? ev->retryable : 0;
	in.output_ok = ev ? ev->output_ok : 1;
	in.has_on_failure = workflow_on_failure(run->wf) != NULL;
	res = engine_fsm(&in);
	if (!res.legal) {
		log_debug("%s: run %s ignores %s while %s", __func__,
		    run->rec.id, engine_fsm_event_name(kind),
		    run_state_name(from));
		return;
	}
	if (res.effects & FSM_CANCEL_STEP)
		run_stop_step(run);
	if (from == RUN_RETRYING && res.state == RUN_RUNNING)
		run->engine->stats.retries++;
	/* The record's step name changes below; the rows keep this one. */
	step = run->rec.step ? xstrdup(run->rec.step) : NULL;
	memset(&tr, 0, sizeof tr);
	memcpy(tr.run_id, run->rec.id, sizeof tr.run_id);
	tr.from_state = (int)from;
	tr.to_state = res.state;
	tr.event = (char *)res.event;
	tr.step = step;
	tr.seq = run->rec.seq;
	run_update(run, &res, ev);
	tr.at = run->rec.updated_at;
	tr.attempt = run->rec.attempt;
	tr.error = ev ? (char *)ev->error : NULL;
	tr.duration_ms = ev ? ev->duration_ms : 0;
	if (kind == FSM_STEP_OK || kind == FSM_STEP_LAST_OK) {
		srp = &sr;
		run_advance(run, ev, step, srp);
	}
	if (res.effects & FSM_ADVANCE) {
		run_move_to(run, ev->next_idx, json_incref(ev->output));
		run->rec.attempt = 1;
	} else if (kind == FSM_STEP_LAST_OK) {
		run_move_to(run, -1, NULL);
		if (res.state == RUN_SUCCEEDED)
			run->rec.output = json_incref(ev->output);
	}
	log_debug("%s: run %s %s -> %s (%s)", __func__, run->rec.id,
	    run_state_name(from), run_state_name(res.state), res.event);
	run_submit(run, &tr, srp, ev ? ev->store_flags : 0, res.effects,
	    kind == FSM_START || (kind == FSM_STEP_OK && run_step_is_pure(ws)) ?
	    RUN_SUBMIT_REPLAYABLE : 0);
	free(step);
	if ((res.effects & FSM_START_STEP) || ((res.effects & FSM_ADVANCE) &&
	    run_may_run_ahead(run, ws)))
		engine_run_start(run);
	if (res.effects & FSM_BACKOFF)
		run_arm(run, run->rec.due_at - run->rec.updated_at);
}

/* Fires for a step timeout, a backoff's end or a dead letter retry. */
static void
run_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	struct run_event ev;
	char *msg;

	if (run->call != NULL && !run->call_is_dead) {
		memset(&ev, 0, sizeof ev);
		msg = xasprintf("step %s timed out after %lld ms",
		    run->rec.step, (long long)workflow_step_timeout_ms(
		    workflow_step_at(run->wf, (size_t)run->idx)));
		ev.error = msg;
		ev.retryable = 1;
		ev.duration_ms = orc_now_ms() - run->call_started;
		engine_stat_step(run->engine, 0, ev.duration_ms);
		if (ENGINE_TRACING(run))
			engine_trace_step_end(run, run->rec.step, "timed_out",
			    msg);
		run_stop_step(run);
		run_apply(run, FSM_STEP_TIMEOUT, &ev);
		free(msg);
	} else if (run->call != NULL) {
		free(run->call_error);
		run->call_error = xstrdup("on_failure timed out");
		if (ENGINE_TRACING(run))
			engine_trace_step_end(run, run_call_name(run),
			    "timed_out", run->call_error);
		run_stop_step(run);
		run_dead_result(run, NULL);
	} else if (run->rec.dead == DEAD_PENDING)
		run_start_dead(run);
	else
		run_apply(run, FSM_START, NULL);
	run_maybe_free(run);
}

/* The run's own timeout. */
static void
run_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	struct run_event ev;
	char *msg;

	memset(&ev, 0, sizeof ev);
	msg = xasprintf("run timed out after %lld ms",
	    (long long)workflow_timeout_ms(run->wf));
	ev.error = msg;
	run_apply(run, FSM_RUN_TIMEOUT, &ev);
	free(msg);
	run_maybe_free(run);
}

/* Arms the run's own timeout, counted from since (ms, wall clock). */
static void
run_arm_deadline(struct run *run, int64_t since)
{
	int64_t limit = workflow_timeout_ms(run->wf), left;
	struct timeval tv;

	if (limit <= 0 || run_state_is_final(run->rec.state))
		return;
	left = since + limit - orc_now_ms();
	if (left < 0)
		left = 0;
	if (run->deadline == NULL)
		run->deadline = evtimer_new(run->engine->base, run_deadline_cb,
		    run);
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	evtimer_add(run->deadline, &tv);
}

/* A note about the run's on_failure: engine-load.c counts the crashes in
 * it as it does for steps. */
void
engine_run_note_dead(struct run *run, const char *event)
{
	struct transition_rec tr;

	run_note_init(run, &tr, event, orc_now_ms());
	tr.step = ENGINE_STEP_ON_FAILURE;
	tr.attempt = run->dead_attempt;
	run_submit(run, &tr, NULL, 0, 0, 0);
}

/* on_failure is not run (again): it fails with why, and the run is done. */
void
engine_run_dead_give_up(struct run *run, const char *why)
{
	free(run->call_error);
	run->call_error = xstrdup(why);
	run->call_started = orc_now_ms();
	run_dead_result(run, NULL);
}

/* Runs on_failure with the failed run's data: the dead letter. */
static void
run_start_dead(struct run *run)
{
	const struct workflow_step *ws = workflow_on_failure(run->wf);
	json_t *in;

	if (run->deadline != NULL)
		evtimer_del(run->deadline);
	in = json_pack("{sssssososOsO}", "run_id", run->rec.id,
	    "workflow", run->rec.workflow,
	    "step", run->rec.step ? json_string(run->rec.step) : json_null(),
	    "error", run->rec.error ? json_string(run->rec.error) :
	    json_null(),
	    "input", run->rec.input ? run->rec.input : json_null(),
	    "steps", run->steps_out);
	run->call_is_dead = 1;
	run->dead_attempt++;
	run_call(run, ws, in, run->dead_attempt);
	json_decref(in);
}

/* Puts a loaded run where its state says it should be. */
void
engine_run_continue(struct run *run)
{
	run_arm_deadline(run, run->rec.created_at);
	switch (run->rec.state) {
	case RUN_QUEUED:
		engine_flow_debounce_start(run);
		engine_admit(run, 0);
		break;
	case RUN_RUNNING:
		engine_admit(run, 1);
		break;
	case RUN_RETRYING:
		run_arm(run, run->rec.due_at - orc_now_ms());
		break;
	case RUN_FAILED:
		if (run->rec.dead == DEAD_PENDING) {
			run_start_dead(run);
			break;
		}
		/* FALLTHROUGH */
	default:
		run_finish(run);
		run_maybe_free(run);
		break;
	}
}

/* Frees a run that never submitted anything (a load that failed). */
void
engine_run_free_now(struct run *run)
{
	if (!run->done) {
		run->done = 1;
		run->engine->active--;
	}
	run_free(run);
}

/* Queues a final run again; once that is committed it starts. */
void
engine_run_redrive(struct run *run, unsigned store_flags)
{
	struct run_event ev;

	memset(&ev, 0, sizeof ev);
	ev.store_flags = store_flags;
	run_apply(run, FSM_REDRIVE, &ev);
	/* A redriven run gets its whole timeout again, not what was left
	 * of it since its creation (long gone). */
	run_arm_deadline(run, run->rec.updated_at);
}

/* Public entry to run_apply for engine-load.c. */
void
engine_run_apply(struct run *run, enum fsm_event kind, const char *error)
{
	struct run_event ev;

	memset(&ev, 0, sizeof ev);
	ev.error = error;
	run_apply(run, kind, &ev);
	run_maybe_free(run);
}

/* A new run in memory, not submitted yet. */
static struct run *
run_build(struct engine *e, struct workflow *wf, const json_t *input,
    const json_t *trigger, const struct engine_watch *watch)
{
	struct run *run;

	run = engine_run_new(e, wf, watch);
	id_new(run->rec.id);
	engine_run_index(run);
	run->rec.workflow = xstrdup(workflow_name(wf));
	run->rec.def_hash = xstrdup(workflow_hash(wf));
	run->rec.state = RUN_QUEUED;
	/* Referenced, not copied: nobody changes them once submitted. */
	run->rec.input = json_incref((json_t *)input);
	run->rec.trigger = trigger ? json_incref((json_t *)trigger) :
	    json_object();
	run->rec.created_at = run->rec.updated_at = orc_now_ms();
	run->rec.lease_owner = xstrdup(e->owner);
	run->rec.lease_until = run->rec.created_at + e->lease_ms;
	run_move_to(run, 0, json_incref(run->rec.input));
	return run;
}

/* Submits a built run's first change: it exists once that commits. */
static void
run_create(struct run *run, const char *key, char id[RUN_ID_LEN + 1])
{
	struct transition_rec tr;

	if (key != NULL)
		engine_key_add(run, key);
	engine_flow_debounce_start(run);
	memset(&tr, 0, sizeof tr);
	memcpy(tr.run_id, run->rec.id, sizeof tr.run_id);
	tr.at = run->rec.created_at;
	tr.from_state = -1;
	tr.to_state = RUN_QUEUED;
	tr.event = "created";
	tr.step = run->rec.step;
	run_submit(run, &tr, NULL, STORE_RUN_INSERT, 0, RUN_SUBMIT_CREATED);
	if (run->debounce_key != NULL) {
		char why[96], at[40];

		snprintf(why, sizeof why, "its debounce window, until %s",
		    format_time(run->rec.due_at, at, sizeof at));
		run->told_wait = 3;
		engine_run_note(run, "waiting", why, 0, NULL);
	}
	run_arm_deadline(run, run->rec.created_at);
	run->engine->stats.submitted++;
	if (id != NULL)
		memcpy(id, run->rec.id, RUN_ID_LEN + 1);
	log_debug("%s: run %s of %s submitted", __func__, run->rec.id,
	    run->rec.workflow);
}

/* engine_submit_keyed; in_store: look the key up in the store too. */
static int
engine_submit_key(struct engine *e, struct workflow *wf,
    const json_t *input, const json_t *trigger, const char *key,
    const struct engine_watch *watch, char id[RUN_ID_LEN + 1],
    int *existing, int in_store, struct orc_error *err)
{
	const json_t *schema = workflow_input_schema(wf);
	char found[RUN_ID_LEN + 1];
	struct orc_error bad;
	struct run *run;
	int kind = 0, token;

	if (existing != NULL)
		*existing = 0;
	if (key != NULL && engine_key_find(e, workflow_name(wf), key, found,
	    in_store))
		kind = 1;	/* the key's first run */
	else if (schema != NULL && schema_validate(schema, input, &bad) != 0) {
		orc_error_set(err, bad.code, "input of workflow %s: %s",
		    workflow_name(wf), bad.message);
		return -1;
	} else if ((kind = engine_flow_debounce(e, wf, input, watch, found,
	    err)) < 0)
		return -1;
	else if (kind > 0)
		kind = 2;	/* a run in its debounce window took it */
	if (kind > 0) {
		if (existing != NULL)
			*existing = kind;
		if (id != NULL)
			memcpy(id, found, sizeof found);
		return 0;
	}
	run = run_build(e, wf, input, trigger, watch);
	if (engine_flow_keys(run, err) != 0 ||
	    engine_admit_check(e, run, err) != 0 ||
	    (token = engine_flow_reject(e, wf, input, err)) < 0) {
		engine_run_free_now(run);
		return -1;
	}
	run->token_taken = token;
	run_create(run, key, id);
	return 0;
}

int
engine_submit_keyed(struct engine *e, struct workflow *wf,
    const json_t *input, const json_t *trigger, const char *key,
    const struct engine_watch *watch, char id[RUN_ID_LEN + 1],
    int *existing, struct orc_error *err)
{
	return engine_submit_key(e, wf, input, trigger, key, watch, id,
	    existing, 1, err);
}

int
engine_submit_checked(struct engine *e, struct workflow *wf,
    const json_t *input, const json_t *trigger, const char *key,
    const struct engine_watch *watch, char id[RUN_ID_LEN + 1],
    int *existing, struct orc_error *err)
{
	return engine_submit_key(e, wf, input, trigger, key, watch, id,
	    existing, 0, err);
}

/* Records a transition that changes no state ("debounced"); watch's
 * accepted (if any) is called once it is committed. */
void
engine_run_note(struct run *run, const char *event, const char *reason,
    unsigned store_flags,
    const struct engine_watch *watch)
{
	struct transition_rec tr;

	run_note_init(run, &tr, event, run->rec.updated_at);
	tr.error = (char *)reason;
	run_submit(run, &tr, NULL, store_flags, 0, 0);
	if (watch != NULL)
		run->last_commit->notify = *watch;
}

int
engine_submit(struct engine *e, struct workflow *wf, const json_t *input,
    const json_t *trigger, const struct engine_watch *watch,
    char id[RUN_ID_LEN + 1], struct orc_error *err)
{
	return engine_submit_keyed(e, wf, input, trigger, NULL, watch, id,
	    NULL, err);
}

/* A killed process whose parent has not reaped it yet still answers
 * kill(pid, 0), but it will never renew a lease: it counts as gone. */
static int
engine_pid_is_zombie(long pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2] == 'Z' || p[2] == 'X';
}

/* Whether owner ("host:pid:tag") is a process of this host that is gone. */
int
engine_owner_dead(const char *owner, void *arg)
{
	char host[128];
	const char *colon = strchr(owner, ':');
	long pid;

	if (colon == NULL || gethostname(host, sizeof host) != 0)
		return 0;
	host[sizeof host - 1] = '\0';
	if ((size_t)(colon - owner) != strlen(host) ||
	    strncmp(owner, host, strlen(host)) != 0)
		return 0;
	pid = strtol(colon + 1, NULL, 10);
	if (pid <= 0)
		return 0;
	if (kill((pid_t)pid, 0) != 0)
		return errno == ESRCH;
	return engine_pid_is_zombie(pid);
}
