/*
 * Admission: which runs may start. This file is policy: it answers which
 * run may start and why one waits, and the driver (engine.c) moves the
 * runs through the state machine. Runs wait at a gate: a workflow's, or
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "hmap.h"
#include "log.h"
#include "workflow.h"

/* The gate of that name, made on first use. */
static struct engine_gate *
engine_gate(struct engine *e, const char *key, int limit)
{
	struct engine_gate *g = hmap_get(e->gates, key);

	if (g == NULL) {
		g = xcalloc(1, sizeof *g);
		g->engine = e;
		g->key = xstrdup(key);
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

	while (after != NULL && after->keys.priority < run->keys.priority)
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

/* Gives a run one of its gate's slots. */
static void
gate_take_slot(struct engine_gate *g, struct run *run)
{
	run->has_slot = 1;
	g->running++;
}

/* The run's gate. */
static struct engine_gate *
gate_of(struct run *run)
{
	return engine_gate(run->engine, run->keys.gate,
	    workflow_concurrency(run->wf));
}

/* Puts a queued run in its gate's queue (unless it is there or holds a
 * slot); engine_gate_next then says when it may start. */
struct engine_gate *
engine_admit_queue(struct run *run)
{
	struct engine_gate *g = gate_of(run);

	if (!run->has_slot && !run->waiting)
		gate_push(g, run);
	return g;
}

/* A run that was running before a restart takes its slot regardless. */
void
engine_admit_hold(struct run *run)
{
	if (run->has_slot)
		return;
	run->token_taken = 1;
	gate_take_slot(gate_of(run), run);
}

/*
 * The next decision of a gate: 1 with a run that holds a slot now and may
 * start (wait_ms 0), or with the run at the head that waits wait_ms for a
 * token of its rate limit; 0 when nothing can start (no slot, no one
 * waiting, or the engine is stopping).
 */
int
engine_gate_next(struct engine_gate *g, struct admit_decision *d)
{
	struct run *run;

	memset(d, 0, sizeof *d);
	while (!g->engine->paused && g->head != NULL &&
	    (g->limit <= 0 || g->running < g->limit)) {
		run = g->head;
		if (!engine_flow_take(run, &d->wait_ms)) {
			d->run = run;
			return 1;
		}
		gate_unlink(g, run);
		if (run->rec.state != RUN_QUEUED || run->done)
			continue;
		gate_take_slot(g, run);
		d->run = run;
		d->wait_ms = 0;
		return 1;
	}
	return 0;
}

/* Whether a queued run waits because its gate is full; why says so. */
int
engine_admit_blocked(struct run *run, char *why, size_t len)
{
	struct engine_gate *g = gate_of(run);

	if (!run->waiting || g->limit <= 0 || g->running < g->limit)
		return 0;
	snprintf(why, len, "a slot: its %s, %d of %d running",
	    strchr(g->key, '\x1f') != NULL ? "concurrency key is full" :
	    "concurrency limit is reached", g->running, g->limit);
	return 1;
}

/* Whether runs wait in the run's gate for a slot it may free. */
int
engine_gate_has_waiting(const struct run *run)
{
	struct engine_gate *g;

	if (run->keys.gate == NULL ||
	    (g = hmap_get(run->engine->gates, run->keys.gate)) == NULL)
		return 0;
	return g->nwaiting > 0;
}

/* A run is final (or leaves memory): it leaves its gate. The gate, for
 * the driver to ask engine_gate_next, when that may let a run start. */
struct engine_gate *
engine_release(struct run *run)
{
	struct engine_gate *g;
	int was_waiting = run->waiting;

	engine_flow_forget(run);
	if (run->keys.gate == NULL ||
	    (g = hmap_get(run->engine->gates, run->keys.gate)) == NULL)
		return NULL;
	if (run->waiting)
		gate_unlink(g, run);
	if (!run->has_slot)
		return was_waiting ? g : NULL;
	run->has_slot = 0;
	g->running--;
	return g;
}

/* Refuses a new run when memory or its gate's queue is full. */
int
engine_admit_check(struct engine *e, struct run *run, struct orc_error *err)
{
	struct engine_gate *g = hmap_get(e->gates, run->keys.gate);
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
