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

#include "conf.h"
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
	const char	*error;		/* why it failed: the run's error */
	const char	*reason;	/* why it waits: the transition's */
	int		 retryable;
	int		 output_ok;
	json_t		*output;	/* the finished step's, borrowed */
	int		 next_idx;	/* where STEP_OK goes */
	int64_t		 duration_ms;
	unsigned	 store_flags;	/* extra STORE_RUN_* for the change */
	int64_t		 retry_after_ms; /* the step's minimum backoff */
	int64_t		 due_at;	/* FSM_SUSPEND's */
	const json_t	*input;		/* FSM_ABSORB's, borrowed */
	const struct engine_watch *notify; /* told once committed */
};

static void	run_step_done_cb(struct step_call *, void *);
static void	run_start(struct run *);
static void	run_start_dead(struct run *);
static void	run_attempt_timer_cb(evutil_socket_t, short, void *);
static void	run_due_timer_cb(evutil_socket_t, short, void *);
static void	run_gate_pump(struct engine_gate *);
static void	run_admission(struct run *);
static void	run_sleep(struct run *);
static void	run_wake(struct run *);
static void	run_leave_asleep(struct run *);
static int	run_put_away(struct run *);
static void	run_arm(struct run *, struct event *, int64_t);
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

/* The steps' HTTP client, as the configuration says. */
static struct fetch *
engine_fetch_create(struct event_base *base, const struct orc_config *conf)
{
	struct fetch_config fc;

	memset(&fc, 0, sizeof fc);
	fc.buffer_max = conf->fetch_buffer;
	fc.no_thread = !conf->fetch_thread;
	return fetch_create(base, &fc);
}

struct engine *
engine_create(struct event_base *base, struct store *store,
    const struct engine_config *cfg)
{
	struct engine *e = xcalloc(1, sizeof *e);
	const struct orc_config *conf;
	struct orc_config defaults;
	struct timeval tv;
	char host[128];

	e->base = base;
	e->store = store;
	e->buckets_dir = xstrdup(cfg->buckets_dir ? cfg->buckets_dir :
	    "buckets");
	if (cfg->conf == NULL)
		conf_defaults(&defaults);
	conf = cfg->conf != NULL ? cfg->conf : &defaults;
	e->lease_ms = cfg->lease_ms > 0 ? cfg->lease_ms : conf->lease_ms;
	e->crash_resumes = conf->crash_resumes;
	if (gethostname(host, sizeof host) != 0)
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	e->owner = xasprintf("%s:%ld:%04x", host, (long)getpid(),
	    (unsigned)orc_random(0x10000));
	e->fetch = engine_fetch_create(base, conf);
	e->pool = pool_create(base, conf->io_threads);
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
	e->rate_tokens = hmap_create();
	e->debounce = hmap_create();
	e->max_queue = cfg->max_queue ? cfg->max_queue : 10000;
	e->keep_waiting = cfg->keep_waiting || cfg->replay != NULL;
	engine_callback_init(e, cfg);
	e->workflows_dir = xstrdup(cfg->workflows_dir != NULL ?
	    cfg->workflows_dir : conf->workflows);
	e->max_active = cfg->max_active ? cfg->max_active : 100000;
	e->cancel_ev = event_new(base, -1, EV_PERSIST, engine_cancel_cb, e);
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	event_add(e->cancel_ev, &tv);
	store_set_refused_cb(store, engine_store_refused, e);
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
	struct engine_gate *g;

	if ((g = engine_release(run)) != NULL)
		run_gate_pump(g);
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
	engine_fan_stop(run, 0);
	if (run->call != NULL) {
		step_call_free(run->call);
		e->stats.calls--;
	}
	event_free(run->attempt_timer);
	event_free(run->due_timer);
	if (run->deadline != NULL)
		event_free(run->deadline);
	run_rec_clear(&run->rec);
	free(run->call_error);
	engine_flow_keys_clear(&run->keys);
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

/* Records a transition that changes no state, with why. */
static void
run_note(struct run *run, const char *event, const char *reason)
{
	struct transition_rec tr;

	run_note_init(run, &tr, event, run->rec.updated_at);
	tr.error = (char *)reason;
	run_submit(run, &tr, NULL, 0, 0, 0);
}

/* Starts what a gate lets start; the run at its head that waits for a
 * rate token is told so, and wakes when the token is there. */
static void
run_gate_pump(struct engine_gate *g)
{
	struct admit_decision d;
	struct run_event ev;
	char why[96];

	while (engine_gate_next(g, &d)) {
		if (d.wait_ms == 0) {
			run_apply(d.run, FSM_ADMIT, NULL);
			continue;
		}
		snprintf(why, sizeof why, "its rate limit: a token is free in "
		    "%lld ms", (long long)d.wait_ms);
		memset(&ev, 0, sizeof ev);
		ev.reason = why;
		run_apply(d.run, FSM_WAIT_FOR_TOKEN, &ev);
		run_arm(d.run, d.run->due_timer, d.wait_ms);
		break;
	}
}

/* A queued run asks its gate: it starts, or it learns why it waits. */
static void
run_admission(struct run *run)
{
	struct run_event ev;
	char why[128];

	if (run->engine->paused)
		return;
	run_gate_pump(engine_admit_queue(run));
	if (run->phase != FSM_RUNNING &&
	    engine_admit_blocked(run, why, sizeof why)) {
		memset(&ev, 0, sizeof ev);
		ev.reason = why;
		run_apply(run, FSM_WAIT_FOR_SLOT, &ev);
	}
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
	engine_fan_free(e);
	engine_flow_free(e);
	engine_gates_free(e);
	hmap_free(e->by_id);
	hmap_free(e->by_key);
	for (i = 0; i < e->ndefs; i++)
		workflow_unref(e->defs[i]);
	free(e->defs);
	store_set_refused_cb(e->store, NULL, NULL);
	event_free(e->renew);
	event_free(e->cancel_ev);
	engine_callback_free(e);
	if (e->wake_ev != NULL)
		event_free(e->wake_ev);
	if (e->claim_ev != NULL)
		event_free(e->claim_ev);
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
	run->phase = FSM_NEW;
	run->attempt_timer = evtimer_new(e->base, run_attempt_timer_cb, run);
	run->due_timer = evtimer_new(e->base, run_due_timer_cb, run);
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
	r.step = run->rec.step;
	r.due_at = run->rec.due_at;
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
	struct engine_gate *g;

	if (run->done)
		return;
	run->done = 1;
	run->engine->active--;
	run->engine->stats.finished[run->rec.state]++;
	if ((g = engine_release(run)) != NULL)
		run_gate_pump(g);
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
	if (RUN_PARENT(run) != NULL)
		engine_fan_child_done(run);
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

/* Arms one of the run's timers for ms from now. */
static void
run_arm(struct run *run, struct event *timer, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	/* libevent counts from the time it cached at the top of this loop
	 * turn: refresh it, or a Retry-After could be honoured early. */
	event_base_update_cache_time(run->engine->base);
	evtimer_add(timer, &tv);
}

/* The step the run is in: its current one, or on_failure. */
static const struct workflow_step *
run_step(const struct run *run)
{
	if (RUN_IN_DEAD(run))
		return workflow_on_failure(run->wf);
	return run->idx >= 0 ? workflow_step_at(run->wf, (size_t)run->idx) :
	    NULL;
}

/* The name of the attempt in flight's step (on_failure's too). */
static const char *
run_call_name(struct run *run)
{
	return RUN_IN_DEAD(run) ?
	    workflow_step_name(workflow_on_failure(run->wf)) : run->rec.step;
}

/* Stops the attempt in flight, if any, and the run's timers. */
static void
run_stop_step(struct run *run)
{
	evtimer_del(run->attempt_timer);
	evtimer_del(run->due_timer);
	engine_fan_stop(run, 1);
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

/* The templates' view of the run: input, trigger, steps, run; a map's
 * item and its number in the item's steps. */
static json_t *
run_template_ctx(struct run *run, const char *step, int attempt)
{
	json_t *ctx, *item;

	ctx = json_pack("{sOsOsOs{sssssssisi}}",
	    "input", run->step_input ? run->step_input : json_null(),
	    "trigger", run->rec.input ? run->rec.input : json_null(),
	    "steps", run->steps_out,
	    "run", "id", run->rec.id, "workflow", run->rec.workflow,
	    "step", step, "seq", run->rec.seq, "attempt", attempt);
	if (workflow_is_sub(run->wf)) {
		item = json_object_get(RUN_PARENT(run), "item");
		json_object_set(ctx, "item", run->rec.input);
		json_object_set(ctx, "item_index", item ? item : json_null());
	}
	return ctx;
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
	if (ctx != NULL && workflow_step_callback(ws))
		json_object_set_new(ctx, "callback",
		    engine_callback_ctx(run, attempt));
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
	/* A fan-out step may have no timeout: its items have theirs. */
	if (workflow_step_timeout_ms(ws) > 0)
		run_arm(run, run->attempt_timer, workflow_step_timeout_ms(ws));
	log_debug("%s: run %s step %s seq %d attempt %d started", __func__,
	    run->rec.id, name, run->rec.seq, attempt);
	if (step_call_start(run->call) == STEP_DONE)
		run_step_done_cb(run->call, run);
	else if (p.entry->fan != STEP_FAN_NONE)
		engine_fan_start(run, run->call);
}

/* Starts the current attempt of the current step. */
static void
run_start(struct run *run)
{
	/* Draining: the step stays where the store has it, to resume. */
	if (run->engine->paused)
		return;
	run_call(run, workflow_step_at(run->wf, (size_t)run->idx),
	    run->step_input, run->rec.attempt);
}

/* After a step succeeded: which step follows in *idx, -1 for none. -1
 * when the step named a next step that does not exist. What the step
 * chose wins over its "next" and "end", which win over the file's order. */
static int
run_next_idx(struct run *run, struct step_call *call, int *idx)
{
	const struct workflow_step *ws = workflow_step_at(run->wf,
	    (size_t)run->idx);
	const char *next = call ? step_call_next(call) : NULL;

	if (next == NULL && ws != NULL)
		next = workflow_step_next(ws);
	if (next == NULL) {
		*idx = run->idx + 1 < (int)workflow_step_count(run->wf) &&
		    (ws == NULL || !workflow_step_ends(ws)) ? run->idx + 1 : -1;
		return 0;
	}
	return (*idx = workflow_step_index(run->wf, next)) < 0 ? -1 : 0;
}

/* The event a step's output means: the next step, or the last one (whose
 * output must hold the workflow's output schema); a next step that does
 * not exist fails the step. call chose the next step, or is NULL. */
static enum fsm_event
run_output_event(struct run *run, struct step_call *call,
    struct run_event *ev, char **msg)
{
	struct orc_error err;

	if (run_next_idx(run, call, &ev->next_idx) != 0) {
		*msg = xasprintf("step %s chose a next step that does not "
		    "exist (\"%s\")", run->rec.step, step_call_next(call));
		ev->error = *msg;
		return FSM_STEP_FAILED;
	}
	if (ev->next_idx >= 0)
		return FSM_STEP_OK;
	ev->output_ok = 1;
	if (workflow_output_schema(run->wf) != NULL &&
	    schema_validate(workflow_output_schema(run->wf), ev->output,
	    &err) != 0) {
		*msg = xasprintf("output does not match the workflow's output "
		    "schema: %s", err.message);
		ev->error = *msg;
		ev->output_ok = 0;
	}
	return FSM_STEP_LAST_OK;
}

/* The step suspended the run; the transition says what it waits for. */
static void
run_suspend(struct run *run, struct run_event *ev)
{
	const struct step_entry *entry = workflow_step_entry(run_step(run));
	char at[40], *why;

	format_time(ev->due_at, at, sizeof at);
	if (workflow_step_callback(run_step(run)))
		why = xasprintf("a callback to step %s (POST "
		    "/callbacks/TOKEN), until %s", run->rec.step, at);
	else if (entry->due == STEP_DUE_FAILS)
		why = xasprintf("a signal to step %s (POST /runs/%s/signals/%s), "
		    "until %s", run->rec.step, run->rec.id, run->rec.step, at);
	else
		why = xasprintf("its time: step %s sleeps until %s",
		    run->rec.step, at);
	ev->reason = why;
	if (ENGINE_TRACING(run))
		engine_trace_step_end(run, run->rec.step, "waiting", NULL);
	run_apply(run, FSM_SUSPEND, ev);
	free(why);
}

/* Turns a finished attempt into the event it means. */
static void
run_step_result(struct run *run, struct step_call *call)
{
	struct run_event ev;
	enum fsm_event kind;
	char *msg = NULL;

	memset(&ev, 0, sizeof ev);
	ev.duration_ms = orc_now_ms() - run->call_started;
	if (call != NULL && (ev.due_at = step_call_suspended(call)) > 0) {
		run_suspend(run, &ev);
		return;
	}
	/* Its work done, a callback step waits for the callback; in a
	 * replay, its recorded output is the callback's already. */
	if (call != NULL && step_call_ok(call) &&
	    run->engine->replay == NULL &&
	    workflow_step_callback(run_step(run))) {
		ev.due_at = engine_callback_due(run);
		run_suspend(run, &ev);
		return;
	}
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
		kind = run_output_event(run, call, &ev, &msg);
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

/* The event of a waiting step's outcome, its duration counted from the
 * start of the wait. */
static void
run_wait_event(struct run *run, struct run_event *ev,
    const struct engine_watch *notify)
{
	memset(ev, 0, sizeof *ev);
	ev->duration_ms = orc_now_ms() - run->rec.updated_at;
	ev->notify = notify;
	/* Loaded from the store: the step began when the wait did. */
	if (run->call_started == 0)
		run->call_started = run->rec.updated_at;
}

/* A waiting step failed: error (the run's error, naming the step), worth
 * a retry or not. notify is told once that is committed. */
void
engine_run_fail(struct run *run, const char *error, int retryable,
    const struct engine_watch *notify)
{
	struct run_event ev;

	run_wait_event(run, &ev, notify);
	ev.error = error;
	ev.retryable = retryable;
	engine_stat_step(run->engine, 0, ev.duration_ms);
	run_apply(run, FSM_STEP_FAILED, &ev);
}

/* A waiting step's outcome: output (a signal's body; stolen), or NULL for
 * its due time, which passes the input through or fails the step (a
 * callback's wait worth a retry, as a step timeout is). notify is told
 * once that is committed. */
void
engine_run_output(struct run *run, json_t *output,
    const struct engine_watch *notify)
{
	const struct workflow_step *ws = run_step(run);
	struct run_event ev;
	enum fsm_event kind;
	char *msg = NULL, since[24];
	int callback = workflow_step_callback(ws);

	run_wait_event(run, &ev, notify);
	if (output == NULL && (callback ||
	    workflow_step_entry(ws)->due == STEP_DUE_FAILS)) {
		format_duration(ev.duration_ms, since, sizeof since);
		msg = xasprintf("step %s timed out after %s waiting for a %s",
		    run->rec.step, since, callback ? "callback" : "signal");
		engine_run_fail(run, msg, callback, notify);
		free(msg);
		return;
	}
	ev.output = output != NULL ? output : json_incref(run->step_input);
	kind = run_output_event(run, NULL, &ev, &msg);
	engine_stat_step(run->engine, kind != FSM_STEP_FAILED,
	    ev.duration_ms);
	run_apply(run, kind, &ev);
	json_decref(ev.output);
	free(msg);
}

/* An attempt of on_failure finished: retried, or the run is done. */
static void
run_dead_result(struct run *run, struct step_call *call)
{
	const struct workflow_step *ws = workflow_on_failure(run->wf);
	struct run_event ev;
	int ok = call != NULL && step_call_ok(call);

	memset(&ev, 0, sizeof ev);
	ev.error = ok ? NULL : call != NULL ? step_call_error(call) :
	    run->call_error;
	ev.retryable = call != NULL && step_call_retryable(call);
	ev.duration_ms = orc_now_ms() - run->call_started;
	if (ENGINE_TRACING(run))
		engine_trace_step_end(run, workflow_step_name(ws), ok ?
		    "succeeded" : "failed", ev.error);
	log_info("%s: run %s on_failure attempt %d %s", __func__, run->rec.id,
	    run->dead_attempt, ok ? "succeeded" : "failed");
	run_apply(run, ok ? FSM_STEP_LAST_OK : FSM_STEP_FAILED, &ev);
}

/* A step (or on_failure) finished, now or later. */
static void
run_step_done_cb(struct step_call *call, void *arg)
{
	struct run *run = arg;
	int dead = RUN_IN_DEAD(run);

	evtimer_del(run->attempt_timer);
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
	/* Dropped (engine-load.c): nothing was written, nothing follows. */
	if (run->lost) {
		if (c->observed) {
			free((char *)c->ev.step);
			free((char *)c->ev.error);
		}
		free(c);
		run_maybe_free(run);
		return;
	}
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
	if ((eff & FSM_ADMISSION) && run->phase == FSM_QUEUED)
		run_admission(run);
	else if ((eff & FSM_ADVANCE) && run->phase == FSM_RUNNING &&
	    run->rec.seq == c->seq && run->call == NULL)
		run_start(run);
	else if ((eff & FSM_DEAD_LETTER) && run->phase == FSM_DEAD_PENDING)
		run_apply(run, FSM_RESUME, NULL);
	else if (eff & FSM_FINISH)
		run_finish(run);
	free(c);
	if (run->asleep && run->pending == 0 && run->phase == FSM_WAITING) {
		run_leave_asleep(run);
		return;
	}
	run_maybe_free(run);
}

/* How run_submit's change came about. */
#define RUN_SUBMIT_CREATED	0x1	/* it creates the run */
#define RUN_SUBMIT_REPLAYABLE	0x2	/* a crash before its commit makes it
					   again, the same: a start, or a pure
					   step's success */

_Static_assert(WORKFLOW_FOREVER == STORE_FOREVER,
    "a definition's retention is stored as the workflow says it");

/* Whether nothing waits for the commit of a change with these effects:
 * it finishes the run, no one asked to hear of that at once (a sync
 * webhook), and no run waits for the slot it frees. Long polls and event
 * streams hear of it up to STORE_LAZY_MS later. */
static int
run_finish_may_wait(const struct run *run, unsigned effects)
{
	/* A child's end moves its parent's map on: not later. */
	return (effects & FSM_FINISH) && run->watch.finished == NULL &&
	    !engine_gate_has_waiting(run) &&
	    RUN_PARENT(run) == NULL;
}

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
	ch.lazy = run_finish_may_wait(run, effects);
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

/* The record changes of on_failure's outcome: the run keeps its error. */
static void
run_update_dead(struct run *run, const struct fsm_result *res,
    enum fsm_event kind)
{
	if (res->state == FSM_FAILED)
		run->rec.dead = kind == FSM_STEP_LAST_OK ? DEAD_DONE :
		    DEAD_FAILED;
}

/* A new input of a debounced run and the new end of its window. */
static void
run_update_input(struct run *run, const json_t *input)
{
	json_decref(run->rec.input);
	run->rec.input = json_deep_copy(input);
	json_decref(run->step_input);
	run->step_input = json_incref(run->rec.input);
	run->rec.due_at = engine_flow_window_end(run->wf, run->rec.created_at,
	    run->rec.updated_at);
}

/* When the run's own timeout passes (counted from its creation), or 0. */
static int64_t
run_deadline_at(const struct run *run)
{
	int64_t limit = workflow_timeout_ms(run->wf);

	return limit > 0 ? run->rec.created_at + limit : 0;
}

/* due, or the run's own timeout when that comes first. */
static int64_t
run_due_capped(const struct run *run, int64_t due)
{
	int64_t deadline = run_deadline_at(run);

	return deadline > 0 && deadline < due ? deadline : due;
}

/*
 * A step suspends the run until due: the run is due then, or at its own
 * timeout when that comes first. A run due soon stays in memory; one due
 * later lets its lease go with this change and leaves memory once it is
 * committed (run_committed_cb), kept in the store alone until it is due
 * or signalled (engine-load.c takes it back).
 */
static void
run_update_sleep(struct run *run, int64_t due)
{
	run->rec.due_at = run_due_capped(run, due);
	run_put_away(run);
}

/* Whether a waiting run leaves memory: it waits long, and the engine
 * lets waiting runs go. Then its lease goes with its next write, and it
 * leaves once that is committed (run_committed_cb). 1 when it does. */
static int
run_put_away(struct run *run)
{
	if (run->engine->keep_waiting ||
	    run->rec.due_at - orc_now_ms() <= ENGINE_WAIT_IN_MEMORY_MS)
		return 0;
	free(run->rec.lease_owner);
	run->rec.lease_owner = NULL;
	run->asleep = 1;
	return 1;
}

/* Applies the record changes that an fsm result asks for. */
static void
run_update(struct run *run, enum fsm_state from, enum fsm_event kind,
    const struct fsm_result *res, const struct run_event *ev)
{
	const struct retry_policy *p;
	enum run_state was = run->rec.state;
	enum dead_state dead;
	int in_dead = RUN_IN_DEAD(run);

	run->phase = res->state;
	run->rec.state = engine_fsm_stored(res->state, &dead);
	run->rec.updated_at = from == FSM_NEW ? run->rec.created_at :
	    orc_now_ms();
	if (in_dead) {
		run_update_dead(run, res, kind);
		return;
	}
	if (dead == DEAD_PENDING)
		run->rec.dead = DEAD_PENDING;
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
	if (res->effects & FSM_SET_INPUT)
		run_update_input(run, ev->input);
	if (kind == FSM_SUSPEND)
		run_update_sleep(run, ev->due_at);
	/* A window opens at the run's creation (or is the stored one). */
	if (res->state == FSM_DEBOUNCED && run->rec.due_at == 0)
		run->rec.due_at = engine_flow_window_end(run->wf,
		    run->rec.created_at, run->rec.created_at);
	/*
	 * The run's error says why it failed, or why the step it retries
	 * failed last: a step that succeeds puts its earlier attempts'
	 * failures behind it. Each attempt's error stays in its transition.
	 */
	if ((res->effects & FSM_ADVANCE) || res->state == FSM_SUCCEEDED) {
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
	if (!run_state_is_final(was) && run_state_is_final(run->rec.state))
		run->rec.finished_at = run->rec.updated_at;
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

/* The conditions of the state machine's rules that hold for the run. */
static unsigned
run_conds(const struct run *run, const struct workflow_step *ws,
    const struct run_event *ev)
{
	int attempt = RUN_IN_DEAD(run) ? run->dead_attempt : run->rec.attempt;
	unsigned c = 0;

	if (attempt < (ws != NULL ? workflow_step_retry(ws)->max_attempts : 1))
		c |= FSM_IF_ATTEMPTS_LEFT;
	if (ev != NULL && ev->retryable)
		c |= FSM_IF_RETRYABLE;
	if (ev == NULL || ev->output_ok)
		c |= FSM_IF_OUTPUT_OK;
	if (workflow_on_failure(run->wf) != NULL)
		c |= FSM_IF_ON_FAILURE;
	if (run->keys.debounce != NULL)
		c |= FSM_IF_DEBOUNCE;
	return c;
}

/* A run that was letting its lease go to sleep in the store moves on in
 * memory after all (a signal came first): it takes its lease again, with
 * the next token, as a claim would. The flags the write needs. */
static unsigned
run_wake_lease(struct run *run)
{
	struct engine *e = run->engine;

	run->asleep = 0;
	free(run->rec.lease_owner);
	run->rec.lease_owner = xstrdup(e->owner);
	run->rec.lease_until = orc_now_ms() + e->lease_ms;
	run->rec.lease_epoch++;
	return STORE_RUN_SET_LEASE;
}

/* Records the change of a run that the store keeps, and submits it. */
static void
run_record(struct run *run, enum fsm_state from, enum fsm_event kind,
    const struct fsm_result *res, const struct run_event *ev)
{
	const struct workflow_step *ws = run_step(run);
	struct transition_rec tr;
	struct step_rec sr, *srp = NULL;
	enum dead_state dead;
	int in_dead = RUN_IN_DEAD(run);
	unsigned how = 0, flags = ev ? ev->store_flags : 0;
	char *step;

	/* The record's step name changes below; the rows keep this one. */
	step = in_dead ? xstrdup(ENGINE_STEP_ON_FAILURE) :
	    run->rec.step ? xstrdup(run->rec.step) : NULL;
	memset(&tr, 0, sizeof tr);
	memcpy(tr.run_id, run->rec.id, sizeof tr.run_id);
	tr.from_state = from == FSM_NEW ? -1 :
	    (int)engine_fsm_stored(from, &dead);
	tr.to_state = engine_fsm_stored(res->state, &dead);
	tr.event = (char *)res->event;
	tr.step = step;
	tr.seq = run->rec.seq;
	run_update(run, from, kind, res, ev);
	tr.at = run->rec.updated_at;
	tr.attempt = in_dead ? run->dead_attempt : run->rec.attempt;
	tr.error = ev == NULL ? NULL : (char *)(ev->error != NULL ?
	    ev->error : ev->reason);
	tr.duration_ms = ev ? ev->duration_ms : 0;
	if (!in_dead && (kind == FSM_STEP_OK || kind == FSM_STEP_LAST_OK)) {
		srp = &sr;
		run_advance(run, ev, step, srp);
	}
	if (res->effects & FSM_ADVANCE) {
		run_move_to(run, ev->next_idx, json_incref(ev->output));
		run->rec.attempt = 1;
	} else if (!in_dead && kind == FSM_STEP_LAST_OK) {
		run_move_to(run, -1, NULL);
		if (res->state == FSM_SUCCEEDED)
			run->rec.output = json_incref(ev->output);
	}
	if (run->asleep && from == FSM_WAITING)
		flags |= run_wake_lease(run);
	if (from == FSM_NEW)
		how |= RUN_SUBMIT_CREATED;
	if (kind == FSM_ADMIT || kind == FSM_DUE || kind == FSM_RESUME ||
	    (kind == FSM_STEP_OK && run_step_is_pure(ws)))
		how |= RUN_SUBMIT_REPLAYABLE;
	run_submit(run, &tr, srp, flags, res->effects, how);
	if (ev != NULL && ev->notify != NULL)
		run->last_commit->notify = *ev->notify;
	free(step);
}

/* Carries out what must happen at once, not once committed. */
static void
run_act(struct run *run, const struct fsm_result *res,
    const struct workflow_step *done)
{
	const struct workflow_step *ws;
	int64_t ms;

	if (res->effects & FSM_START_STEP) {
		if (RUN_IN_DEAD(run))
			run_start_dead(run);
		else
			run_start(run);
	} else if ((res->effects & FSM_ADVANCE) &&
	    run_may_run_ahead(run, done))
		run_start(run);
	if (res->effects & FSM_BACKOFF) {
		ws = run_step(run);
		ms = RUN_IN_DEAD(run) ? run_backoff_ms(workflow_step_retry(ws),
		    run->dead_attempt) : run->rec.due_at - run->rec.updated_at;
		run_arm(run, run->due_timer, ms);
	}
	if (res->state == FSM_DEBOUNCED) {
		engine_flow_window_open(run);
		run_arm(run, run->due_timer, run->rec.due_at - orc_now_ms());
	}
	if (res->effects & FSM_SLEEP)
		run_sleep(run);
}

/* The one place a run changes phase: decide, record, submit, act. */
static void
run_apply(struct run *run, enum fsm_event kind, const struct run_event *ev)
{
	const struct workflow_step *ws = run_step(run);
	struct fsm_input in;
	struct fsm_result res;
	enum fsm_state from = run->phase;

	in.state = from;
	in.event = kind;
	in.conds = run_conds(run, ws, ev);
	res = engine_fsm(&in);
	if (!res.legal) {
		log_debug("%s: run %s ignores %s while %s", __func__,
		    run->rec.id, engine_fsm_event_name(kind),
		    engine_fsm_state_name(from));
		return;
	}
	if (res.effects & FSM_CANCEL_STEP)
		run_stop_step(run);
	if (from == FSM_RETRYING && res.state == FSM_RUNNING)
		run->engine->stats.retries++;
	log_debug("%s: run %s %s -> %s (%s)", __func__, run->rec.id,
	    engine_fsm_state_name(from), engine_fsm_state_name(res.state),
	    engine_fsm_event_name(kind));
	if (res.event != NULL) {
		run_record(run, from, kind, &res, ev);
	} else {
		/* A change the store does not keep (it shows no difference). */
		run->phase = res.state;
		if ((res.effects & FSM_NEXT_ATTEMPT) && RUN_IN_DEAD(run))
			run->dead_attempt++;
	}
	run_act(run, &res, ws);
	if (res.event == NULL && (res.effects & FSM_ADMISSION))
		run_admission(run);
}

/* A step's (or on_failure's) attempt ran out of time. */
static void
run_attempt_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	struct run_event ev;
	char *msg;

	if (run->call == NULL)
		return;
	memset(&ev, 0, sizeof ev);
	if (RUN_IN_DEAD(run))
		msg = xstrdup("on_failure timed out");
	else {
		msg = xasprintf("step %s timed out after %lld ms",
		    run->rec.step, (long long)workflow_step_timeout_ms(
		    run_step(run)));
		ev.retryable = 1;
	}
	ev.error = msg;
	ev.duration_ms = orc_now_ms() - run->call_started;
	if (!RUN_IN_DEAD(run))
		engine_stat_step(run->engine, 0, ev.duration_ms);
	if (ENGINE_TRACING(run))
		engine_trace_step_end(run, run_call_name(run), "timed_out",
		    msg);
	run_stop_step(run);
	run_apply(run, FSM_STEP_TIMEOUT, &ev);
	free(msg);
	run_maybe_free(run);
}

/* The run's due time came: a backoff's end, a window's, a token's, a
 * waiting step's. */
static void
run_due_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;

	if (run->phase == FSM_WAITING)
		run_wake(run);
	else
		run_apply(run, FSM_DUE, NULL);
	run_maybe_free(run);
}

/* The run's own timeout passed. */
static void
run_time_out(struct run *run)
{
	struct run_event ev;
	char *msg;

	memset(&ev, 0, sizeof ev);
	msg = xasprintf("run timed out after %lld ms",
	    (long long)workflow_timeout_ms(run->wf));
	ev.error = msg;
	run_apply(run, FSM_RUN_TIMEOUT, &ev);
	free(msg);
}

/* The run's own timeout. */
static void
run_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;

	run_time_out(run);
	run_maybe_free(run);
}

/* A waiting run's due time came: its own timeout, or its step's. */
static void
run_wake(struct run *run)
{
	int64_t deadline = run_deadline_at(run);

	if (deadline > 0 && deadline <= orc_now_ms())
		run_time_out(run);
	else
		engine_run_output(run, NULL, NULL);
}

/*
 * A waiting run (just suspended, or loaded) waits for its due time: it
 * wakes now when that has passed, stays in memory when it is near, else
 * lets its lease go and leaves memory once that is committed.
 */
static void
run_sleep(struct run *run)
{
	int64_t left = run->rec.due_at - orc_now_ms();

	if (left <= 0) {
		run_wake(run);
		return;
	}
	if (run->asleep)
		return;
	if (run_put_away(run))
		run_submit(run, NULL, NULL, 0, 0, 0);
	else
		run_arm(run, run->due_timer, left);
}

/* A waiting run is due later (a callback's heartbeat), its own timeout
 * still first: the new time is stored, and the run sleeps till then. */
void
engine_run_extend(struct run *run, int64_t due)
{
	int asleep = run->asleep;

	run->rec.due_at = run_due_capped(run, due);
	run_sleep(run);
	/* Unless run_sleep put it away just now, writing it. */
	if (asleep || !run->asleep)
		run_submit(run, NULL, NULL, 0, 0, 0);
}

/* A run put away to sleep is committed: it leaves memory, and who waits
 * for it learns that it waits. */
static void
run_leave_asleep(struct run *run)
{
	evtimer_del(run->due_timer);
	log_debug("%s: run %s waits in the store until %lld", __func__,
	    run->rec.id, (long long)run->rec.due_at);
	run_tell(run, run->watch.finished);
	engine_wake_note(run->engine, run->rec.due_at);
	run_free(run);
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

/* Arms the run's own timeout, counted from its creation (a run taken
 * back from the store). */
void
engine_run_arm_deadline(struct run *run)
{
	run_arm_deadline(run, run->rec.created_at);
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
	run_call(run, ws, in, run->dead_attempt);
	json_decref(in);
}

/* Puts a loaded run where its phase says it should be. */
void
engine_run_continue(struct run *run)
{
	run_arm_deadline(run, run->rec.created_at);
	switch (run->phase) {
	case FSM_QUEUED:
	case FSM_DEAD_PENDING:
	case FSM_WAITING:
		run_apply(run, FSM_RESUME, NULL);
		break;
	case FSM_RUNNING:
		/* Draining: it stays running in the store, to resume. */
		if (run->engine->paused)
			break;
		engine_admit_hold(run);
		run_apply(run, FSM_RESUME, NULL);
		break;
	case FSM_RETRYING:
		run_arm(run, run->due_timer, run->rec.due_at - orc_now_ms());
		break;
	default:
		run_finish(run);
		run_maybe_free(run);
		break;
	}
}

/* The run is not this process's any more (another took its lease over):
 * it stops what it does here and is forgotten, without a word to the
 * store. */
void
engine_run_drop(struct run *run)
{
	struct engine_gate *g;

	/* Its children go on: the process that took it counts them. */
	engine_fan_stop(run, 0);
	run_stop_step(run);
	if (run->deadline != NULL)
		evtimer_del(run->deadline);
	if (!run->done) {
		run->done = 1;
		run->engine->active--;
	}
	if ((g = engine_release(run)) != NULL)
		run_gate_pump(g);
	if (run->pending == 0)
		engine_run_free_now(run);
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
	/* A map's failed items start again, its finished ones do not. */
	run->fan_redo = 1;
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

/* A new run in memory, not submitted yet; it takes over keys. */
static struct run *
run_build(struct engine *e, struct workflow *wf, const json_t *input,
    const json_t *trigger, const struct engine_watch *watch,
    struct flow_keys *keys)
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
	run->keys = *keys;
	memset(keys, 0, sizeof *keys);
	run_move_to(run, 0, json_incref(run->rec.input));
	return run;
}

/* Submits a built run's first change: it exists once that commits. */
static void
run_create(struct run *run, const char *key, char id[RUN_ID_LEN + 1])
{
	struct run_event ev;
	char why[96], at[40];

	if (key != NULL)
		engine_key_add(run, key);
	memset(&ev, 0, sizeof ev);
	ev.store_flags = STORE_RUN_INSERT;
	run_apply(run, FSM_CREATE, &ev);
	if (run->phase == FSM_DEBOUNCED) {
		snprintf(why, sizeof why, "its debounce window, until %s",
		    format_time(run->rec.due_at, at, sizeof at));
		run_note(run, "waiting", why);
	}
	run_arm_deadline(run, run->rec.created_at);
	run->engine->stats.submitted++;
	if (id != NULL)
		memcpy(id, run->rec.id, RUN_ID_LEN + 1);
	log_debug("%s: run %s of %s submitted", __func__, run->rec.id,
	    run->rec.workflow);
}

/* A trigger inside the debounce window of a run with the same keys
 * replaces that run's input: 1 with its id, 0 when no window is open. */
static int
run_absorb(struct engine *e, const struct flow_keys *keys,
    const json_t *input, const struct engine_watch *watch,
    char id[RUN_ID_LEN + 1])
{
	struct run *run = engine_flow_window(e, keys);
	struct run_event ev;

	if (run == NULL || run->phase != FSM_DEBOUNCED || run->done)
		return 0;
	memset(&ev, 0, sizeof ev);
	ev.input = input;
	ev.reason = "a later trigger replaced the input";
	ev.store_flags = STORE_RUN_SET_INPUT;
	ev.notify = watch;
	run_apply(run, FSM_ABSORB, &ev);
	memcpy(id, run->rec.id, RUN_ID_LEN + 1);
	return 1;
}

/* Checks a trigger that makes a new run: its input, its flow keys (each
 * rendered once, here), a debounce window that takes it. */
static int
run_check_trigger(struct workflow *wf,
    const json_t *input, struct flow_keys *keys, struct orc_error *err)
{
	const json_t *schema = workflow_input_schema(wf);
	struct orc_error bad;

	if (schema != NULL && schema_validate(schema, input, &bad) != 0) {
		orc_error_set(err, bad.code, "input of workflow %s: %s",
		    workflow_name(wf), bad.message);
		return -1;
	}
	return engine_flow_keys(wf, input, keys, err);
}

/* A child run of parent's step, linked to it: a map item or a branch (a
 * sub-workflow: no input schema, no flow control of its own), or a child
 * workflow's run, whose input its schema checks (item -1). */
int
engine_run_child(struct run *parent, struct workflow *wf,
    const json_t *input, int64_t item, char id[RUN_ID_LEN + 1],
    struct orc_error *err)
{
	struct engine *e = parent->engine;
	struct flow_keys keys;
	struct run *run;
	json_t *trigger;

	if (run_check_trigger(wf, input, &keys, err) != 0)
		return -1;
	trigger = engine_fan_trigger(parent, item);
	run = run_build(e, wf, input, trigger, NULL, &keys);
	json_decref(trigger);
	if (engine_admit_check(e, run, err) != 0) {
		engine_run_free_now(run);
		return -1;
	}
	run->rec.parent_id = xstrdup(parent->rec.id);
	run->rec.parent_step = xstrdup(parent->rec.step);
	run->rec.parent_seq = parent->rec.seq;
	run->rec.item = item;
	run_create(run, NULL, id);
	return 0;
}

/* engine_submit_keyed; in_store: look the key up in the store too. */
static int
engine_submit_key(struct engine *e, struct workflow *wf,
    const json_t *input, const json_t *trigger, const char *key,
    const struct engine_watch *watch, char id[RUN_ID_LEN + 1],
    enum engine_found *found, int in_store, struct orc_error *err)
{
	enum engine_found kind = ENGINE_FOUND_NONE;
	char other[RUN_ID_LEN + 1];
	struct flow_keys keys;
	struct run *run;
	int token;

	if (key != NULL && engine_key_find(e, workflow_name(wf), key, other,
	    in_store))
		kind = ENGINE_FOUND_KEY;
	else if (run_check_trigger(wf, input, &keys, err) != 0)
		return -1;
	else if (run_absorb(e, &keys, input, watch, other)) {
		engine_flow_keys_clear(&keys);
		kind = ENGINE_FOUND_WINDOW;
	}
	if (found != NULL)
		*found = kind;
	if (kind != ENGINE_FOUND_NONE) {
		if (id != NULL)
			memcpy(id, other, sizeof other);
		return 0;
	}
	run = run_build(e, wf, input, trigger, watch, &keys);
	if (engine_admit_check(e, run, err) != 0 ||
	    (token = engine_flow_reject(e, wf, &run->keys, err)) < 0) {
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
    enum engine_found *found, struct orc_error *err)
{
	return engine_submit_key(e, wf, input, trigger, key, watch, id,
	    found, 1, err);
}

int
engine_submit_checked(struct engine *e, struct workflow *wf,
    const json_t *input, const json_t *trigger, const char *key,
    const struct engine_watch *watch, char id[RUN_ID_LEN + 1],
    enum engine_found *found, struct orc_error *err)
{
	return engine_submit_key(e, wf, input, trigger, key, watch, id,
	    found, 0, err);
}

int
engine_submit(struct engine *e, struct workflow *wf, const json_t *input,
    const json_t *trigger, const struct engine_watch *watch,
    char id[RUN_ID_LEN + 1], struct orc_error *err)
{
	return engine_submit_keyed(e, wf, input, trigger, NULL, watch, id,
	    NULL, err);
}
