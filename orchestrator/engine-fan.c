/*
 * Fan-out and fan-in: the map and parallel steps (steps/map.c). Each item
 * of a map, each branch of a parallel step, is a child run of its own:
 * a run of the step's sub-workflow ("WORKFLOW/STEP"), committed like any
 * run, with its own retries, timeouts and history, linked to the parent's
 * step and its item number in the store. The parent's step is an attempt
 * in flight that starts children up to its concurrency, counts them as
 * they finish, and ends with their outputs in item order.
 *
 * Nothing here is kept only in memory: an attempt that starts again
 * (after a crash, on another node) reads its children from the store,
 * never starts a finished item again, and waits for the unfinished ones,
 * which are resumed as any run is. A redrive of the parent starts its
 * failed and cancelled items again, each from where it failed.
 *
 * A workflow step is a fan-out of one: its child is a run of another
 * workflow (its current definition, by name), which "runs" lists; with
 * "wait" the step ends as the child does, else at once with its id.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "diag.h"
#include "engine-internal.h"
#include "log.h"
#include "steps.h"
#include "strbuf.h"
#include "workflow.h"

/* How often an attempt reads its children back from the store, to count
 * those that finished where it could not hear them (another node). */
#define FAN_POLL_MS	30000
/* After the engine refused a child (full), when to try again. */
#define FAN_FULL_MS	1000
/* Failed items named in the step's error, at most, and how much of each
 * item's own error (nested maps and children would grow it each level). */
#define FAN_ERRORS	3
#define FAN_ERROR_LEN	300

enum fan_item { FAN_UNSTARTED, FAN_RUNNING, FAN_OK, FAN_FAILED };

struct fan {
	struct run		*run;		/* the parent */
	struct step_call	*call;
	const struct workflow_step *ws;
	enum step_fan		 kind;
	struct workflow		*child;		/* a workflow step's */
	int			 wait;		/* for it to end */
	json_t			*items;		/* a map's; NULL: branches */
	size_t			 n;
	unsigned char		*state;		/* enum fan_item, per item */
	char			(*ids)[RUN_ID_LEN + 1];	/* "" until made */
	size_t			 next;		/* first item maybe unstarted */
	size_t			 running, ok, failed;
	size_t			 max_running, tolerated;
	struct strbuf		 errors;	/* the first failed items' */
	size_t			 nerrors;
	struct event		*poll;
};

/* The sub-workflow item i runs. */
static struct workflow *
fan_workflow(const struct fan *fan, size_t i)
{
	if (fan->kind == STEP_FAN_WORKFLOW)
		return fan->child;
	return workflow_step_sub(fan->ws, fan->kind == STEP_FAN_ITEMS ? 0 : i);
}

/* Notes an item's error for the step's message. */
static void
fan_note_error(struct fan *fan, size_t i, const char *error)
{
	const char *branch = workflow_step_branch(fan->ws, i);

	if (fan->nerrors++ >= FAN_ERRORS)
		return;
	if (error == NULL)
		error = "failed";
	if (fan->kind == STEP_FAN_WORKFLOW)
		strbuf_printf(&fan->errors, "run %s of workflow %s: %.*s%s",
		    fan->ids[i][0] != '\0' ? fan->ids[i] : "-",
		    workflow_name(fan->child), FAN_ERROR_LEN, error,
		    strlen(error) > FAN_ERROR_LEN ? "..." : "");
	else if (branch != NULL)
		strbuf_printf(&fan->errors, "%sbranch %s: %.*s%s",
		    fan->nerrors > 1 ? "; " : "", branch, FAN_ERROR_LEN, error,
		    strlen(error) > FAN_ERROR_LEN ? "..." : "");
	else
		strbuf_printf(&fan->errors, "%sitem %zu: %.*s%s",
		    fan->nerrors > 1 ? "; " : "", i, FAN_ERROR_LEN, error,
		    strlen(error) > FAN_ERROR_LEN ? "..." : "");
}

/* Tells the run's watchers (its event stream) that item i ended. */
static void
fan_notify(struct fan *fan, size_t i, enum run_state state)
{
	struct engine_event ev;
	json_t *p;

	if (fan->run->engine->observer == NULL)
		return;
	p = json_pack("{sssIsssIsIsIsI}", "step", fan->run->rec.step,
	    "item", (json_int_t)i, "state", run_state_name(state),
	    "total", (json_int_t)fan->n, "succeeded", (json_int_t)fan->ok,
	    "failed", (json_int_t)fan->failed, "running",
	    (json_int_t)fan->running);
	memset(&ev, 0, sizeof ev);
	ev.event = "item_finished";
	ev.state = fan->run->rec.state;
	ev.step = fan->run->rec.step;
	ev.seq = fan->run->rec.seq;
	ev.attempt = fan->run->rec.attempt;
	ev.at = orc_now_ms();
	ev.progress = p;
	engine_notify(fan->run, &ev);
	json_decref(p);
}

/* Item i finished as state (final) with error. */
static void
fan_item_final(struct fan *fan, size_t i, enum run_state state,
    const char *error)
{
	if (i >= fan->n || fan->state[i] != FAN_RUNNING)
		return;
	fan->running--;
	if (state == RUN_SUCCEEDED) {
		fan->state[i] = FAN_OK;
		fan->ok++;
	} else {
		fan->state[i] = FAN_FAILED;
		fan->failed++;
		fan_note_error(fan, i, error != NULL ? error :
		    run_state_name(state));
	}
	fan_notify(fan, i, state);
}

/* Stops the attempt's own work: its timer, and the children when cancel
 * is set (they run on otherwise, to be counted by the next attempt). */
static void
fan_free(struct fan *fan, int cancel)
{
	struct orc_error err;
	size_t i;

	for (i = 0; cancel && i < fan->n; i++) {
		if (fan->state[i] == FAN_RUNNING &&
		    engine_cancel(fan->run->engine, fan->ids[i], &err) < 0)
			log_debug("%s: run %s item %zu: %s", __func__,
			    fan->run->rec.id, i, err.message);
	}
	fan->run->fan = NULL;
	if (fan->poll != NULL)
		event_free(fan->poll);
	workflow_unref(fan->child);
	json_decref(fan->items);
	free(fan->state);
	free(fan->ids);
	strbuf_free(&fan->errors);
	free(fan);
}

/* The run's fan-out stops (the attempt is cancelled or timed out, the run
 * is dropped or freed); cancel: its running children are cancelled too. */
void
engine_fan_stop(struct run *run, int cancel)
{
	if (run->fan != NULL)
		fan_free(run->fan, cancel);
}

struct fan_gather {
	struct fan	*fan;
	json_t		*out;
};

/* Puts a finished child's output in its place. */
static int
fan_gather_cb(const struct child_rec *c, void *arg)
{
	struct fan_gather *g = arg;
	const char *branch;

	if (g->fan->kind == STEP_FAN_WORKFLOW) {
		json_decref(g->out);
		g->out = json_incref(c->output != NULL ? c->output :
		    json_null());
		return 1;
	}
	if (c->item < 0 || (size_t)c->item >= g->fan->n)
		return 0;
	if (g->fan->kind == STEP_FAN_ITEMS) {
		json_array_set(g->out, (size_t)c->item, c->state ==
		    RUN_SUCCEEDED && c->output != NULL ? c->output :
		    json_null());
		return 0;
	}
	branch = workflow_step_branch(g->fan->ws, (size_t)c->item);
	json_object_set(g->out, branch, c->output != NULL ? c->output :
	    json_null());
	return 0;
}

/* Every item is final: the step's output is theirs, in order (a failed
 * item that was tolerated is null), read back from the store. */
static void
fan_succeed(struct fan *fan)
{
	struct child_filter f = { fan->run->rec.step, fan->run->rec.seq, -1,
	    -1, 0, 1 };
	struct step_call *call = fan->call;
	struct fan_gather g = { fan, NULL };
	struct orc_error err;
	size_t i;

	if (fan->kind == STEP_FAN_ITEMS) {
		g.out = json_array();
		for (i = 0; i < fan->n; i++)
			json_array_append_new(g.out, json_null());
	} else
		g.out = json_object();

	if (store_list_children(fan->run->engine->store, fan->run->rec.id,
	    &f, fan_gather_cb, &g, &err) != 0) {
		json_decref(g.out);
		fan_free(fan, 0);
		step_call_fail(call, 1, "reading the outputs of its items: %s",
		    err.message);
		return;
	}
	fan_free(fan, 0);
	step_call_succeed(call, g.out);
}

/* Too many items failed: the rest are not started, the running ones are
 * cancelled, and the step fails naming the failed ones. Not worth a
 * retry of the step: each item had its own; a redrive starts them again. */
static void
fan_fail(struct fan *fan)
{
	struct step_call *call = fan->call;
	char *msg;

	if (fan->kind == STEP_FAN_ITEMS)
		msg = xasprintf("%zu of %zu items failed (%zu may): %s%s",
		    fan->failed, fan->n, fan->tolerated, fan->errors.s ?
		    fan->errors.s : "", fan->nerrors > FAN_ERRORS ? "; ..." :
		    "");
	else
		msg = xasprintf("%s%s", fan->errors.s ? fan->errors.s : "",
		    fan->nerrors > FAN_ERRORS ? "; ..." : "");
	fan_free(fan, 1);
	step_call_fail(call, 0, "%s", msg);
	free(msg);
}

/* Starts item i: a new child run, or its failed run again (redrive).
 * -1 when the engine is full (the item stays to do), else 0. */
static int
fan_start_item(struct fan *fan, size_t i)
{
	struct run *run = fan->run;
	struct engine_redrive rd;
	struct orc_error err;
	const json_t *input;
	int rc;

	if (fan->ids[i][0] != '\0') {
		memset(&rd, 0, sizeof rd);
		rc = engine_redrive(run->engine, fan->ids[i], &rd, NULL, &err);
	} else {
		input = fan->items != NULL ? json_array_get(fan->items, i) :
		    step_call_input(fan->call);
		rc = engine_run_child(run, fan_workflow(fan, i), input,
		    fan->kind == STEP_FAN_WORKFLOW ? -1 : (int64_t)i,
		    fan->ids[i], &err);
	}
	if (rc != 0 && err.code == ORC_EFULL)
		return -1;
	fan->state[i] = FAN_RUNNING;
	fan->running++;
	if (rc != 0)
		fan_item_final(fan, i, RUN_FAILED, err.message);
	return 0;
}

/* Starts items while there is room; finishes the step when all are final
 * or too many failed. May free fan. */
static void
fan_pump(struct fan *fan)
{
	struct timeval tv = { FAN_POLL_MS / 1000, 0 };
	struct step_call *call = fan->call;

	/* Draining: count what ends, start nothing. */
	while (!fan->run->engine->paused && fan->failed <= fan->tolerated &&
	    fan->next < fan->n && fan->running < fan->max_running) {
		if (fan->state[fan->next] == FAN_UNSTARTED &&
		    fan_start_item(fan, fan->next) != 0) {
			tv.tv_sec = FAN_FULL_MS / 1000;
			break;
		}
		fan->next++;
	}
	if (fan->failed > fan->tolerated) {
		fan_fail(fan);
		return;
	}
	/* Not waiting for it: the child's id is the output. */
	if (fan->kind == STEP_FAN_WORKFLOW && !fan->wait &&
	    fan->ids[0][0] != '\0') {
		json_t *id = json_string(fan->ids[0]);

		fan_free(fan, 0);
		step_call_succeed(call, id);
		return;
	}
	if (fan->running == 0 && fan->next >= fan->n) {
		fan_succeed(fan);
		return;
	}
	evtimer_add(fan->poll, &tv);
}

struct fan_load {
	struct fan	*fan;
	int		 redo;		/* failed items start again */
	int		 first;		/* the attempt's start */
};

/* Takes a child's state from the store. */
static int
fan_load_cb(const struct child_rec *c, void *arg)
{
	struct fan_load *fl = arg;
	struct fan *fan = fl->fan;
	/* A child workflow has no item number: it is the only one. */
	size_t i = c->item < 0 ? 0 : (size_t)c->item;

	if (i >= fan->n)
		return 0;
	if (fl->first) {
		memcpy(fan->ids[i], c->id, sizeof fan->ids[i]);
		if (c->state == RUN_SUCCEEDED) {
			fan->state[i] = FAN_OK;
			fan->ok++;
			return 0;
		}
		/* A failed item of a redriven step stays to do: again. */
		if (run_state_is_final(c->state) && fl->redo)
			return 0;
		fan->state[i] = FAN_RUNNING;
		fan->running++;
		if (run_state_is_final(c->state))
			fan_item_final(fan, i, c->state, c->error);
		return 0;
	}
	if (run_state_is_final(c->state))
		fan_item_final(fan, i, c->state, c->error);
	return 0;
}

/* Reads the children back: at the start, or to count what finished out
 * of earshot. -1 with err. */
static int
fan_load(struct fan *fan, int redo, int first, struct orc_error *err)
{
	struct fan_load fl = { fan, redo, first };
	struct child_filter f = { fan->run->rec.step, fan->run->rec.seq, -1,
	    -1, 0, 0 };

	return store_list_children(fan->run->engine->store, fan->run->rec.id,
	    &f, fan_load_cb, &fl, err);
}

/* The poll: children that finished unheard, or room after a refusal. */
static void
fan_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fan *fan = arg;
	struct orc_error err;

	(void)fd;
	(void)what;
	if (fan_load(fan, 0, 0, &err) != 0)
		log_warn("%s: run %s step %s: %s", __func__, fan->run->rec.id,
		    fan->run->rec.step, err.message);
	fan->next = 0;
	fan_pump(fan);
}

/* Sizes a map from its rendered "with" and input: -1 with a message
 * (caller frees) when they are not what the step takes. */
static int
fan_size_map(struct fan *fan, const json_t *with, const json_t *input,
    char **why)
{
	struct step_map_opts o;
	const json_t *items;

	if (step_map_read(with, &o, 0, why) != 0)
		return -1;
	if ((items = json_object_get(with, "items")) == NULL)
		items = input;
	if (!json_is_array(items)) {
		*why = xasprintf("map \"items\" must be an array, not %s",
		    json_is_null(items) ? "null" : json_is_object(items) ?
		    "an object" : "a single value");
		return -1;
	}
	if (json_array_size(items) > (size_t)o.max_items) {
		*why = xasprintf("map has %zu items, more than max_items "
		    "(%lld)", json_array_size(items), (long long)o.max_items);
		return -1;
	}
	fan->items = json_incref((json_t *)items);
	fan->n = json_array_size(items);
	fan->max_running = (size_t)o.max_concurrency;
	fan->tolerated = step_map_tolerated(&o, fan->n);
	return 0;
}

/* How deep a run is in child workflows and map items: 0 for a run of its
 * own. */
static int64_t
fan_depth(const struct run *run)
{
	return json_integer_value(json_object_get(RUN_PARENT(run), "depth"));
}

/* The current definition of the workflow called name: the server's,
 * else the workflows folder's (read once), else one the engine ran. */
static struct workflow *
fan_named(struct engine *e, const char *name)
{
	struct diag *d;
	size_t i;
	int n;

	if (!e->named_set) {
		e->named_set = 1;
		d = diag_create();
		if ((n = workflow_load_dir(e->workflows_dir, &e->named,
		    d)) > 0)
			e->nnamed = (size_t)n;
		diag_free(d);
	}
	for (i = 0; i < e->nnamed; i++)
		if (strcmp(workflow_name(e->named[i]), name) == 0)
			return e->named[i];
	for (i = e->ndefs; i > 0; i--)
		if (strcmp(workflow_name(e->defs[i - 1]), name) == 0)
			return e->defs[i - 1];
	return NULL;
}

/* Sizes a workflow step's fan-out: one child, of the workflow with.workflow
 * names, on with.input (default: the step's input). -1 with *why. */
static int
fan_size_workflow(struct fan *fan, const json_t *with, const json_t *input,
    char **why)
{
	const char *name = json_string_value(json_object_get(with,
	    "workflow"));
	const json_t *in = json_object_get(with, "input");
	const json_t *wait = json_object_get(with, "wait");

	if (name == NULL || (wait != NULL && !json_is_boolean(wait))) {
		*why = xstrdup(name == NULL ? "workflow \"workflow\" must be a "
		    "workflow's name" : "workflow \"wait\" must be true or "
		    "false");
		return -1;
	}
	if (fan_depth(fan->run) >= STEP_WORKFLOW_DEPTH) {
		*why = xasprintf("workflow %s: child workflows nest %d deep "
		    "at most", name, STEP_WORKFLOW_DEPTH);
		return -1;
	}
	if ((fan->child = fan_named(fan->run->engine, name)) == NULL) {
		*why = xasprintf("no workflow %s is loaded (the server's "
		    "workflows, or the folder %s)", name,
		    fan->run->engine->workflows_dir);
		return -1;
	}
	workflow_ref(fan->child);
	fan->items = json_pack("[O]", in != NULL ? in : input);
	fan->n = fan->max_running = 1;
	fan->wait = !json_is_false(wait);
	return 0;
}

void
engine_set_workflows(struct engine *e, struct workflow **list, size_t n)
{
	size_t i;

	workflow_list_free(e->named, e->nnamed);
	e->named = xcalloc(n > 0 ? n : 1, sizeof *e->named);
	for (i = 0; i < n; i++)
		e->named[i] = workflow_ref(list[i]);
	e->nnamed = n;
	e->named_set = 1;
}

/* Frees what the engine keeps for fan-out steps. */
void
engine_fan_free(struct engine *e)
{
	workflow_list_free(e->named, e->nnamed);
	free(e->workflows_dir);
}

/* Sizes a new fan-out by its kind: -1 with *why (caller frees). */
static int
fan_size(struct fan *fan, const json_t *with, const json_t *input,
    char **why)
{
	switch (fan->kind) {
	case STEP_FAN_ITEMS:
		return fan_size_map(fan, with, input, why);
	case STEP_FAN_WORKFLOW:
		return fan_size_workflow(fan, with, input, why);
	default:
		fan->n = fan->max_running = workflow_step_subs(fan->ws);
		return 0;
	}
}

/* The map or parallel step's attempt (call, started and waiting) begins
 * its children, or carries on with those a crash or a redrive left. */
void
engine_fan_start(struct run *run, struct step_call *call)
{
	const struct workflow_step *ws = workflow_step_at(run->wf,
	    (size_t)run->idx);
	struct fan *fan = xcalloc(1, sizeof *fan);
	struct orc_error err;
	char *why = NULL;
	int redo = run->fan_redo;

	run->fan_redo = 0;
	fan->run = run;
	fan->call = call;
	fan->ws = ws;
	fan->kind = workflow_step_entry(ws)->fan;
	run->fan = fan;
	if (fan_size(fan, step_call_with(call), step_call_input(call),
	    &why) != 0) {
		fan_free(fan, 0);
		step_call_fail(call, 0, "%s", why);
		free(why);
		return;
	}
	fan->state = xcalloc(fan->n > 0 ? fan->n : 1, 1);
	fan->ids = xcalloc(fan->n > 0 ? fan->n : 1, sizeof *fan->ids);
	fan->poll = evtimer_new(run->engine->base, fan_poll_cb, fan);
	if (fan_load(fan, redo, 1, &err) != 0) {
		fan_free(fan, 0);
		step_call_fail(call, 1, "reading its items: %s", err.message);
		return;
	}
	fan_pump(fan);
}

/* Where a child run came from: its parent's id, step and item, from its
 * trigger. 0, or -1 when run is no child. */
static int
fan_parent(const struct run *run, const char **id, const char **step,
    int64_t *item)
{
	const json_t *p = RUN_PARENT(run);

	*id = json_string_value(json_object_get(p, "run"));
	*step = json_string_value(json_object_get(p, "step"));
	/* A child workflow has none: the only child of its step. */
	*item = json_integer_value(json_object_get(p, "item"));
	return *id != NULL && *step != NULL ? 0 : -1;
}

/* A child run is final and committed: its parent's step counts it, when
 * the parent is in this process and still at that step. */
void
engine_fan_child_done(struct run *child)
{
	struct run *parent;
	const char *id, *step;
	int64_t item;

	if (fan_parent(child, &id, &step, &item) != 0 ||
	    (parent = engine_run_find(child->engine, id)) == NULL ||
	    parent->fan == NULL || parent->rec.step == NULL ||
	    strcmp(parent->rec.step, step) != 0 || item < 0 ||
	    item >= (int64_t)parent->fan->n ||
	    strcmp(parent->fan->ids[item], child->rec.id) != 0)
		return;
	fan_item_final(parent->fan, (size_t)item, child->rec.state,
	    child->rec.error);
	fan_pump(parent->fan);
}

/* The trigger of a child run: where it came from (item -1: none, a
 * child workflow), and how deep it is. */
json_t *
engine_fan_trigger(const struct run *parent, int64_t item)
{
	json_t *t = json_pack("{s:s, s:{s:s, s:s, s:i, s:I}}", "source",
	    "parent", "parent", "run", parent->rec.id, "step",
	    parent->rec.step, "seq", parent->rec.seq, "depth",
	    (json_int_t)fan_depth(parent) + 1);

	if (item >= 0)
		json_object_set_new(json_object_get(t, "parent"), "item",
		    json_integer(item));
	return t;
}
