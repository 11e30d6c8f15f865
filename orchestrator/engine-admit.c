/*
 * Admission: which runs may start. A workflow with "concurrency": N lets N
 * of its runs hold a slot (from their start until they are final); the
 * others wait, committed as queued, in arrival order, in a queue whose
 * length is bounded (engine_config.max_queue) so that an overload is
 * refused with ORC_EFULL (429) instead of growing memory. Runs in memory
 * are bounded too (max_active). Idempotency keys are indexed here, so a
 * repeated trigger finds its first run before that run is even committed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "engine-internal.h"
#include "hmap.h"
#include "log.h"
#include "workflow.h"

/* Idempotency keys are valid for a day (SPEC section 3). */
#define ENGINE_KEY_TTL_MS (24LL * 3600 * 1000)

/* The gate of a workflow, made on first use. */
static struct engine_gate *
engine_gate(struct engine *e, const char *workflow)
{
	struct engine_gate *g = hmap_get(e->gates, workflow);

	if (g == NULL) {
		g = xcalloc(1, sizeof *g);
		hmap_set(e->gates, workflow, g);
	}
	return g;
}

/* Appends a run to its gate's queue. */
static void
gate_push(struct engine_gate *g, struct run *run)
{
	run->wait_prev = g->tail;
	run->wait_next = NULL;
	if (g->tail != NULL)
		g->tail->wait_next = run;
	else
		g->head = run;
	g->tail = run;
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

/* Gives a run a slot and starts it. */
static void
gate_start(struct engine_gate *g, struct run *run)
{
	run->has_slot = 1;
	g->running++;
	engine_run_apply(run, FSM_START, NULL);
}

/* Starts a queued (or resumed) run when its workflow has room; force:
 * it was running before a restart and takes its slot regardless. */
void
engine_admit(struct run *run, int force)
{
	struct engine_gate *g = engine_gate(run->engine, run->rec.workflow);
	int limit = workflow_concurrency(run->wf);

	if (run->has_slot || run->waiting)
		return;
	if (!run->engine->paused &&
	    (force || limit <= 0 || g->running < limit))
		gate_start(g, run);
	else
		gate_push(g, run);
}

/* A run is final (or leaves memory): frees its slot for the next one. */
void
engine_release(struct run *run)
{
	struct engine_gate *g = hmap_get(run->engine->gates,
	    run->rec.workflow);
	struct run *next;
	int limit = workflow_concurrency(run->wf);

	if (g == NULL)
		return;
	if (run->waiting)
		gate_unlink(g, run);
	if (!run->has_slot)
		return;
	run->has_slot = 0;
	g->running--;
	while (!run->engine->paused && g->head != NULL &&
	    (limit <= 0 || g->running < limit)) {
		next = g->head;
		gate_unlink(g, next);
		if (next->rec.state == RUN_QUEUED && !next->done)
			gate_start(g, next);
	}
}

/* Refuses a new run when memory or the workflow's queue is full. */
int
engine_admit_check(struct engine *e, struct workflow *wf,
    struct orc_error *err)
{
	struct engine_gate *g = hmap_get(e->gates, workflow_name(wf));
	int limit = workflow_concurrency(wf);

	if (e->paused) {
		orc_error_set(err, ORC_EFULL, "the server is shutting down");
		return -1;
	}
	if (e->active >= e->max_active) {
		orc_error_set(err, ORC_EFULL, "%zu runs in flight: the limit",
		    e->active);
		return -1;
	}
	if (g != NULL && limit > 0 && g->running >= limit &&
	    g->nwaiting >= e->max_queue) {
		orc_error_set(err, ORC_EFULL, "workflow %s: %d runs running "
		    "and %zu queued: the limit", workflow_name(wf), g->running,
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

/* The run that a workflow's key already made in the last day, if any. */
int
engine_key_find(struct engine *e, const char *workflow, const char *key,
    char id[RUN_ID_LEN + 1])
{
	char *k = engine_key_index(workflow, key);
	struct run *run = hmap_get(e->by_key, k);
	struct orc_error err;
	int rc;

	free(k);
	if (run != NULL) {
		memcpy(id, run->rec.id, RUN_ID_LEN + 1);
		return 1;
	}
	rc = store_find_idempotent(e->store, workflow, key,
	    orc_now_ms() - ENGINE_KEY_TTL_MS, id, &err);
	if (rc < 0)
		log_warn("%s: %s", __func__, err.message);
	return rc > 0;
}

/* Indexes a new run by its key until it leaves memory. */
void
engine_key_add(struct run *run, const char *key)
{
	run->rec.idempotency_key = xstrdup(key);
	run->key_index = engine_key_index(run->rec.workflow, key);
	hmap_set(run->engine->by_key, run->key_index, run);
}

/* Frees every gate. */
void
engine_gates_free(struct engine *e)
{
	struct engine_gate *g;
	size_t i;

	for (i = 0; i < e->ndefs; i++)
		if ((g = hmap_remove(e->gates, workflow_name(e->defs[i]))) !=
		    NULL)
			free(g);
	hmap_free(e->gates);
}
