/*
 * Admission: which runs may start. Runs wait at a gate: a workflow's, or
 * with "concurrency_key" one per key. A gate lets "concurrency" runs hold a
 * slot (from their start until they are final); the others wait, committed
 * as queued, highest "priority" first and in arrival order among equals,
 * and a run at the head also waits for a token of its rate limit
 * (engine-flow.c). A gate's queue is bounded (engine_config.max_queue) and
 * so are the runs in memory (max_active), so that an overload is refused
 * with ORC_EFULL (429) instead of growing memory. Idempotency keys are
 * indexed here, so a repeated trigger finds its first run before that run
 * is even committed.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "engine-internal.h"
#include "hmap.h"
#include "log.h"
#include "workflow.h"

/* Idempotency keys are valid for a day (SPEC section 3). */

static void	gate_pump(struct engine_gate *);

/* A gate's rate-limit wait is over: start what may start. */
static void
gate_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	gate_pump(arg);
}

/* The gate of that name, made on first use. */
static struct engine_gate *
engine_gate(struct engine *e, const char *key, int limit)
{
	struct engine_gate *g = hmap_get(e->gates, key);

	if (g == NULL) {
		g = xcalloc(1, sizeof *g);
		g->engine = e;
		g->key = xstrdup(key);
		g->timer = evtimer_new(e->base, gate_timer_cb, g);
		hmap_set(e->gates, key, g);
	}
	g->limit = limit;
	return g;
}

/* Inserts a run after the last one of equal or higher priority. */
static void
gate_push(struct engine_gate *g, struct run *run)
{
	struct run *after = g->tail;

	while (after != NULL && after->priority < run->priority)
		after = after->wait_prev;
	run->wait_prev = after;
	run->wait_next = after != NULL ? after->wait_next : g->head;
	if (run->wait_next != NULL)
		run->wait_next->wait_prev = run;
	else
		g->tail = run;
	if (after != NULL)
		after->wait_next = run;
	else
		g->head = run;
	g->nwaiting++;
	run->waiting = 1;
	run->engine->stats.waiting++;
}

/* Takes a run out of its gate's queue. */
static void
gate_unlink(struct engine_gate *g, struct run *run)
{
	if (run->wait_prev != NULL)
		run->wait_prev->wait_next = run->wait_next;
	else
		g->head = run->wait_next;
	if (run->wait_next != NULL)
		run->wait_next->wait_prev = run->wait_prev;
	else
		g->tail = run->wait_prev;
	run->wait_prev = run->wait_next = NULL;
	g->nwaiting--;
	run->waiting = 0;
	run->engine->stats.waiting--;
}

/* Records in the run's timeline why it waits ("waiting": the reason is
 * the transition's text), once per kind of reason (a slot: 1, a rate
 * limit's token: 2), so show, the API and the dashboard can say. */
static void
gate_tell_wait(struct run *run, int kind, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (run->told_wait == kind || run->engine->paused)
		return;
	run->told_wait = kind;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	run->rec.updated_at = orc_now_ms();
	engine_run_note(run, "waiting", why, 0, NULL);
}

/* Gives a run a slot and starts it. */
static void
gate_start(struct engine_gate *g, struct run *run)
{
	run->has_slot = 1;
	g->running++;
	engine_run_apply(run, FSM_START, NULL);
}

/* Starts waiting runs while the gate has slots and their rate limits
 * have tokens; when a token is missing, comes back when it is there. */
static void
gate_pump(struct engine_gate *g)
{
	struct timeval tv;
	struct run *run;
	int64_t wait = 0;

	while (!g->engine->paused && g->head != NULL &&
	    (g->limit <= 0 || g->running < g->limit)) {
		run = g->head;
		if (!engine_flow_take(run, &wait)) {
			gate_tell_wait(run, 2, "its rate limit: a token is "
			    "free in %lld ms", (long long)wait);
			tv.tv_sec = wait / 1000;
			tv.tv_usec = (wait % 1000) * 1000;
			evtimer_add(g->timer, &tv);
			return;
		}
		gate_unlink(g, run);
		if (run->rec.state == RUN_QUEUED && !run->done)
			gate_start(g, run);
	}
}

/* Starts a queued (or resumed) run when its gate lets it; force: it was
 * running before a restart and takes its slot regardless. */
void
engine_admit(struct run *run, int force)
{
	struct orc_error err;
	struct engine_gate *g;

	if (run->has_slot || run->waiting || run->debounce_key != NULL)
		return;
	if (run->gate_key == NULL)
		engine_flow_keys(run, &err);
	g = engine_gate(run->engine, run->gate_key,
	    workflow_concurrency(run->wf));
	if (force && !run->engine->paused) {
		run->token_taken = 1;
		gate_start(g, run);
		return;
	}
	gate_push(g, run);
	gate_pump(g);
	if (run->waiting && g->limit > 0 && g->running >= g->limit)
		gate_tell_wait(run, 1, "a slot: its %s, %d of %d running",
		    strchr(g->key, '\x1f') != NULL ? "concurrency key is full" :
		    "concurrency limit is reached", g->running, g->limit);
}

/* A run is final (or leaves memory): frees its slot for the next one. */
void
engine_release(struct run *run)
{
	struct engine_gate *g;

	engine_flow_forget(run);
	if (run->gate_key == NULL ||
	    (g = hmap_get(run->engine->gates, run->gate_key)) == NULL)
		return;
	if (run->waiting)
		gate_unlink(g, run);
	if (!run->has_slot)
		return;
	run->has_slot = 0;
	g->running--;
	gate_pump(g);
}

/* Refuses a new run when memory or its gate's queue is full. */
int
engine_admit_check(struct engine *e, struct run *run, struct orc_error *err)
{
	struct engine_gate *g = hmap_get(e->gates, run->gate_key);
	int limit = workflow_concurrency(run->wf);

	if (e->paused) {
		orc_error_set(err, ORC_EFULL, "the server is shutting down");
		return -1;
	}
	if (e->active > e->max_active) {
		orc_error_set(err, ORC_EFULL, "%zu runs in flight: the limit",
		    e->active - 1);
		return -1;
	}
	if (g != NULL && limit > 0 && g->running >= limit &&
	    g->nwaiting >= e->max_queue) {
		orc_error_set(err, ORC_EFULL, "workflow %s: %d runs running "
		    "and %zu queued: the limit", run->rec.workflow, g->running,
		    g->nwaiting);
		return -1;
	}
	return 0;
}

/* The index key of an idempotency key: workflow, a separator, key. */
static char *
engine_key_index(const char *workflow, const char *key)
{
	return xasprintf("%s\x1f%s", workflow, key);
}

/* The run of a workflow's key that is in memory, if any. */
static int
engine_key_in_memory(struct engine *e, const char *workflow, const char *key,
    char id[RUN_ID_LEN + 1])
{
	char *k = engine_key_index(workflow, key);
	struct run *run = hmap_get(e->by_key, k);

	free(k);
	if (run == NULL)
		return 0;
	memcpy(id, run->rec.id, RUN_ID_LEN + 1);
	return 1;
}

/* The run that a workflow's key already made in the last day, if any: in
 * memory, then (when in_store) in the store. */
int
engine_key_find(struct engine *e, const char *workflow, const char *key,
    char id[RUN_ID_LEN + 1], int in_store)
{
	struct orc_error err;
	int rc;

	if (engine_key_in_memory(e, workflow, key, id))
		return 1;
	if (!in_store)
		return 0;
	rc = store_find_idempotent(e->store, workflow, key,
	    orc_now_ms() - ENGINE_KEY_TTL_MS, id, &err);
	if (rc < 0)
		log_warn("%s: %s", __func__, err.message);
	return rc > 0;
}

/* A look-up waiting for the store. */
struct engine_key_ctx {
	engine_key_cb	 cb;
	void		*arg;
};

/* The store's answer, on the loop. */
static void
engine_key_found_cb(const char *id, const struct orc_error *err, void *arg)
{
	struct engine_key_ctx *kc = arg;

	if (err != NULL)
		log_warn("%s: %s", __func__, err->message);
	kc->cb(id, kc->arg);
	free(kc);
}

/* Looks a key up in memory, else in the store off the loop. */
void
engine_key_lookup(struct engine *e, const char *workflow, const char *key,
    engine_key_cb cb, void *arg)
{
	struct engine_key_ctx *kc;
	char id[RUN_ID_LEN + 1];

	if (engine_key_in_memory(e, workflow, key, id)) {
		cb(id, arg);
		return;
	}
	kc = xcalloc(1, sizeof *kc);
	kc->cb = cb;
	kc->arg = arg;
	store_find_idempotent_async(e->store, workflow, key, orc_now_ms() -
	    ENGINE_KEY_TTL_MS, engine_key_found_cb, kc);
}

/* Indexes a new run by its key until it leaves memory. */
void
engine_key_add(struct run *run, const char *key)
{
	run->rec.idempotency_key = xstrdup(key);
	run->key_index = engine_key_index(run->rec.workflow, key);
	hmap_set(run->engine->by_key, run->key_index, run);
}

/* Frees one gate (hmap_each). */
static void
gate_free(const char *key, void *value, void *arg)
{
	struct engine_gate *g = value;

	event_free(g->timer);
	free(g->key);
	free(g);
}

/* Frees every gate. */
void
engine_gates_free(struct engine *e)
{
	hmap_each(e->gates, gate_free, NULL);
	hmap_free(e->gates);
}
