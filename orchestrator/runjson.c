/*
 * The JSON shape of runs, steps and transitions, shared by the command
 * line and the HTTP API so that both speak the same documents.
 */
#include "config.h"

#include <string.h>

#include "format.h"
#include "log.h"
#include "runjson.h"

json_t *
runjson_run(const struct run_rec *r)
{
	json_t *o = json_pack("{sssssssisisI}", "id", r->id,
	    "workflow", r->workflow, "state", run_state_name(r->state),
	    "seq", r->seq, "attempt", r->attempt, "created_at",
	    (json_int_t)r->created_at);

	json_object_set_new(o, "step", r->step ? json_string(r->step) :
	    json_null());
	json_object_set_new(o, "definition", json_string(r->def_hash));
	json_object_set_new(o, "updated_at", json_integer(r->updated_at));
	json_object_set_new(o, "finished_at", r->finished_at ?
	    json_integer(r->finished_at) : json_null());
	json_object_set_new(o, "error", r->error ? json_string(r->error) :
	    json_null());
	json_object_set(o, "input", r->input ? r->input : json_null());
	json_object_set(o, "output", r->output ? r->output : json_null());
	if (r->dead != DEAD_NONE)
		json_object_set_new(o, "on_failure", json_string(
		    r->dead == DEAD_PENDING ? "pending" :
		    r->dead == DEAD_DONE ? "succeeded" : "failed"));
	return o;
}

json_t *
runjson_step(const struct step_rec *s)
{
	return json_pack("{sisssisIsIsO}", "seq", s->seq, "name", s->name,
	    "attempts", s->attempts, "started_at", (json_int_t)s->started_at,
	    "finished_at", (json_int_t)s->finished_at, "output", s->output ?
	    s->output : json_null());
}

json_t *
runjson_transition(const struct transition_rec *t)
{
	json_t *o;

	o = json_pack("{sIsssssssisisIss*}", "at", (json_int_t)t->at,
	    "from", t->from_state < 0 ? "" :
	    run_state_name((enum run_state)t->from_state),
	    "to", run_state_name(t->to_state), "event", t->event,
	    "seq", t->seq, "attempt", t->attempt,
	    "duration_ms", (json_int_t)t->duration_ms, "error", t->error);
	json_object_set_new(o, "step", t->step ? json_string(t->step) :
	    json_null());
	return o;
}

json_t *
runjson_log(const struct log_rec *l)
{
	return json_pack("{sIsIss?sissss?}", "id", (json_int_t)l->id,
	    "at", (json_int_t)l->at, "step", l->step, "attempt", l->attempt,
	    "level", log_level_name((enum log_level)l->level),
	    "message", l->message);
}

/* Appends one step to the array in arg. */
static int
runjson_step_cb(const struct step_rec *s, void *arg)
{
	json_array_append_new(arg, runjson_step(s));
	return 0;
}

/* Appends one transition to the array in arg. */
static int
runjson_transition_cb(const struct transition_rec *t, void *arg)
{
	json_array_append_new(arg, runjson_transition(t));
	return 0;
}

/* Counts one (step, state, n) row of a run's items into the object arg:
 * STEP -> {"total", "succeeded", "failed", "cancelled", "running"}. */
static int
runjson_items_cb(const char *step, enum run_state state, int64_t n,
    void *arg)
{
	const char *key = run_state_is_final(state) ? run_state_name(state) :
	    "running";
	json_t *o, *v;

	if (step == NULL)
		return 0;
	if ((o = json_object_get(arg, step)) == NULL) {
		o = json_pack("{sisisisisi}", "total", 0, "succeeded", 0,
		    "failed", 0, "cancelled", 0, "running", 0);
		json_object_set_new(arg, step, o);
	}
	v = json_object_get(o, "total");
	json_integer_set(v, json_integer_value(v) + n);
	v = json_object_get(o, key);
	json_integer_set(v, json_integer_value(v) + n);
	return 0;
}

json_t *
runjson_items(struct store *st, const char *run_id, struct orc_error *err)
{
	json_t *o = json_object();

	if (store_count_children(st, run_id, runjson_items_cb, o, err) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Appends a child as {"step", "item", "id", "state"} to the array arg. */
static int
runjson_child_cb(const struct child_rec *c, void *arg)
{
	json_t *o = json_pack("{sIssss}", "item", (json_int_t)c->item, "id",
	    c->id, "state", run_state_name(c->state));

	json_array_append_new(arg, o);
	return 0;
}

/* The first RUNJSON_CHILDREN children of each step counted in items, as
 * an array; NULL and err when a read fails. */
static json_t *
runjson_children(struct store *st, const char *run_id, const json_t *items,
    struct orc_error *err)
{
	struct child_filter f = { NULL, -1, -1, -1, RUNJSON_CHILDREN, 0 };
	json_t *a = json_array(), *one, *counts, *c;
	const char *step;
	size_t i;

	json_object_foreach((json_t *)items, step, counts) {
		f.step = step;
		one = json_array();
		if (store_list_children(st, run_id, &f, runjson_child_cb, one,
		    err) != 0) {
			json_decref(one);
			json_decref(a);
			return NULL;
		}
		json_array_foreach(one, i, c)
			json_object_set_new(c, "step", json_string(step));
		json_array_extend(a, one);
		json_decref(one);
	}
	return a;
}

int
runjson_only_step(struct store *st, const char *run_id, char **step,
    size_t *n, struct orc_error *err)
{
	json_t *counts, *o;
	const char *name;

	*step = NULL;
	if ((counts = runjson_items(st, run_id, err)) == NULL)
		return -1;
	*n = json_object_size(counts);
	json_object_foreach(counts, name, o) {
		if (*n == 1)
			*step = xstrdup(name);
	}
	json_decref(counts);
	return 0;
}

json_t *
runjson_show(struct store *st, const struct run_rec *r,
    struct orc_error *err)
{
	json_t *o = runjson_run(r), *a, *parent;

	a = json_array();
	json_object_set_new(o, "steps", a);
	if (store_list_steps(st, r->id, runjson_step_cb, a, err) != 0) {
		json_decref(o);
		return NULL;
	}
	a = json_array();
	json_object_set_new(o, "transitions", a);
	if (store_list_transitions(st, r->id, runjson_transition_cb, a,
	    err) != 0) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "waiting_for", runjson_waiting(r, a));
	if ((a = runjson_logs(st, r->id, 0, err)) == NULL) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "logs", a);
	/* A map's progress, counted in the store: not its items. */
	if ((a = runjson_items(st, r->id, err)) == NULL) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "items", a);
	if ((a = runjson_children(st, r->id, a, err)) == NULL) {
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "children", a);
	/* What started it: never a webhook's credentials (http-hook.c). */
	json_object_set(o, "trigger", r->trigger != NULL ? r->trigger :
	    json_null());
	parent = json_object_get(r->trigger, "parent");
	json_object_set(o, "parent", parent != NULL ? parent : json_null());
	return o;
}

/* Appends one log line to the array in arg. */
static int
runjson_log_cb(const struct log_rec *l, void *arg)
{
	json_array_append_new(arg, runjson_log(l));
	return 0;
}

json_t *
runjson_logs(struct store *st, const char *run_id, int64_t after_id,
    struct orc_error *err)
{
	json_t *a = json_array();

	if (store_list_logs(st, run_id, after_id, runjson_log_cb, a,
	    err) != 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* Why a run that is not running waits, from its state and the last note
 * of its timeline ("waiting": a slot, a key, a rate limit, a debounce
 * window); null when it does not wait. */
json_t *
runjson_waiting(const struct run_rec *r, const json_t *transitions)
{
	const json_t *t;
	const char *ev, *why;
	char at[40];
	size_t i;

	if (r->state == RUN_RETRYING) {
		format_time(r->due_at, at, sizeof at);
		return json_sprintf("a retry of step %s (attempt %d failed), "
		    "due at %s", r->step != NULL ? r->step : "-", r->attempt,
		    at);
	}
	if (r->state != RUN_QUEUED && r->state != RUN_WAITING)
		return json_null();
	for (i = json_array_size(transitions); i-- > 0;) {
		t = json_array_get(transitions, i);
		ev = json_string_value(json_object_get(t, "event"));
		why = json_string_value(json_object_get(t, "error"));
		if (ev != NULL && strcmp(ev, "waiting") == 0 && why != NULL)
			return json_string(why);
		/* Only a note after the run's last move counts. */
		if (ev != NULL && strcmp(ev, "debounced") != 0)
			break;
	}
	if (r->state == RUN_WAITING) {
		format_time(r->due_at, at, sizeof at);
		return json_sprintf("step %s, until %s at the latest",
		    r->step != NULL ? r->step : "-", at);
	}
	return json_string("its turn to start");
}

json_t *
runjson_schedule(const struct schedule_rec *r)
{
	return json_pack("{s:s, s:s, s:s?, s:I, s:I, s:s?, s:I, s:I}",
	    "workflow", r->workflow, "schedule", r->schedule,
	    "timezone", r->timezone, "next_at", (json_int_t)r->next_at,
	    "last_fire_at", (json_int_t)r->last_fire_at,
	    "last_run_id", r->last_run_id, "fired", (json_int_t)r->fired,
	    "skipped", (json_int_t)r->skipped);
}

/* A string member, copied, or NULL. */
static char *
runjson_strdup(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? xstrdup(v) : NULL;
}

int
runjson_schedule_rec(const json_t *o, struct schedule_rec *r)
{
	memset(r, 0, sizeof *r);
	if (!json_is_string(json_object_get(o, "workflow")) ||
	    !json_is_string(json_object_get(o, "schedule")))
		return -1;
	r->workflow = runjson_strdup(o, "workflow");
	r->schedule = runjson_strdup(o, "schedule");
	r->timezone = runjson_strdup(o, "timezone");
	r->last_run_id = runjson_strdup(o, "last_run_id");
	r->next_at = json_integer_value(json_object_get(o, "next_at"));
	r->last_fire_at = json_integer_value(json_object_get(o,
	    "last_fire_at"));
	r->fired = json_integer_value(json_object_get(o, "fired"));
	r->skipped = json_integer_value(json_object_get(o, "skipped"));
	return 0;
}
