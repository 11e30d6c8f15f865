/*
 * Flow control from a workflow's keys (SPEC section 1): "concurrency_key"
 * splits a workflow's concurrency into one gate per key, "priority" orders
 * the runs waiting at a gate, "rate_limit" is a token bucket per workflow
 * or per key (a run waits for a token, or with "on_limit": "reject" the
 * trigger is refused), and "debounce" holds a run queued for wait_ms after
 * the last trigger with its key (at most max_wait_ms after the first): the
 * later triggers replace its input and are answered with its id.
 *
 * Every key is a template over the trigger's input, rendered again from
 * the stored input after a restart, so nothing here needs a table of its
 * own: waiting runs are queued runs in the store, a debounce window is the
 * run's due_at.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "engine-internal.h"
#include "hmap.h"
#include "log.h"
#include "template.h"
#include "workflow.h"

/* The workflow's key, or NULL. */
static const json_t *
flow_get(const struct workflow *wf, const char *key)
{
	return json_object_get(workflow_json(wf), key);
}

/* Renders a key template over input; a non-string value is used as its
 * JSON text. NULL with err when it names nothing. */
static char *
flow_render(const struct workflow *wf, const json_t *tmpl,
    const json_t *input, const char *what, struct orc_error *err)
{
	struct orc_error e1;
	json_t *ctx;
	char *s;

	if (json_is_integer(tmpl))
		return xasprintf("%lld", (long long)json_integer_value(tmpl));
	if (!json_is_string(tmpl))
		return xstrdup("");
	ctx = json_pack("{sOsOs{ss}}", "input", input, "trigger", input,
	    "run", "workflow", workflow_name(wf));
	s = template_render_string(json_string_value(tmpl), ctx, &e1);
	json_decref(ctx);
	if (s == NULL)
		orc_error_set(err, ORC_EINVAL, "%s of workflow %s: %s", what,
		    workflow_name(wf), e1.message);
	return s;
}

/* "workflow" or "workflow\x1fkey": the name of a gate, bucket, window. */
static char *
flow_name(const struct workflow *wf, const char *key)
{
	if (key == NULL)
		return xstrdup(workflow_name(wf));
	return xasprintf("%s\x1f%s", workflow_name(wf), key);
}

/* The gate and rate keys and the priority of a run of wf with input. */
static int
flow_keys(const struct workflow *wf, const json_t *input, char **gate,
    char **rate, int *priority, struct orc_error *err)
{
	const json_t *ck = flow_get(wf, "concurrency_key");
	const json_t *rl = flow_get(wf, "rate_limit");
	const json_t *pr = flow_get(wf, "priority");
	char *k = NULL, *p;

	*gate = *rate = NULL;
	*priority = 0;
	if (ck != NULL && (k = flow_render(wf, ck, input, "concurrency_key",
	    err)) == NULL)
		return -1;
	*gate = flow_name(wf, k);
	free(k);
	k = NULL;
	if (rl != NULL) {
		if (json_object_get(rl, "key") != NULL && (k = flow_render(wf,
		    json_object_get(rl, "key"), input, "rate_limit.key",
		    err)) == NULL)
			goto fail;
		*rate = flow_name(wf, k);
		free(k);
	}
	if (pr != NULL) {
		if ((p = flow_render(wf, pr, input, "priority", err)) == NULL)
			goto fail;
		*priority = (int)strtol(p, NULL, 10);
		free(p);
	}
	return 0;
fail:
	free(*gate);
	free(*rate);
	*gate = *rate = NULL;
	return -1;
}

/* Sets the run's keys from its input; falls back to the workflow-wide
 * gate (and logs why) when a template names nothing. */
int
engine_flow_keys(struct run *run, struct orc_error *err)
{
	free(run->gate_key);
	free(run->rate_key);
	if (flow_keys(run->wf, run->rec.input, &run->gate_key, &run->rate_key,
	    &run->priority, err) == 0)
		return 0;
	log_warn("%s: run %s: %s", __func__, run->rec.id, err->message);
	run->gate_key = xstrdup(run->rec.workflow);
	return -1;
}

/* The bucket of a rate key, made full on first use. */
static struct engine_bucket *
flow_bucket(struct engine *e, const char *name, const json_t *rl)
{
	struct engine_bucket *b = hmap_get(e->buckets, name);
	const json_t *burst = json_object_get(rl, "burst");

	if (b == NULL) {
		b = xcalloc(1, sizeof *b);
		b->rate = json_number_value(json_object_get(rl, "per_second"));
		b->burst = json_is_integer(burst) ?
		    (double)json_integer_value(burst) : ceil(b->rate);
		if (b->burst < 1)
			b->burst = 1;
		b->tokens = b->burst;
		b->last_ms = orc_mono_ms();
		hmap_set(e->buckets, name, b);
	}
	return b;
}

/* Takes a token: 1, or 0 and how long until one is there. */
static int
flow_take(struct engine_bucket *b, int64_t *wait_ms)
{
	int64_t now = orc_mono_ms();

	b->tokens += (double)(now - b->last_ms) * b->rate / 1000.0;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
	b->last_ms = now;
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 1;
	}
	*wait_ms = (int64_t)ceil((1.0 - b->tokens) * 1000.0 / b->rate);
	if (*wait_ms < 1)
		*wait_ms = 1;
	return 0;
}

/* Whether the run may start now as far as its rate limit goes. */
int
engine_flow_take(struct run *run, int64_t *wait_ms)
{
	const json_t *rl = flow_get(run->wf, "rate_limit");

	if (rl == NULL || run->token_taken || run->rate_key == NULL)
		return 1;
	if (!flow_take(flow_bucket(run->engine, run->rate_key, rl), wait_ms))
		return 0;
	run->token_taken = 1;
	return 1;
}

/* "on_limit": "reject": takes a token for a new run now or refuses it
 * (ORC_EFULL). 1 when a token was taken, 0 when no limit applies. */
int
engine_flow_reject(struct engine *e, struct workflow *wf, const json_t *input,
    struct orc_error *err)
{
	const json_t *rl = flow_get(wf, "rate_limit");
	const char *mode = json_string_value(json_object_get(rl, "on_limit"));
	char *gate, *rate;
	int64_t wait = 0;
	int prio, ok;

	if (rl == NULL || mode == NULL || strcmp(mode, "reject") != 0)
		return 0;
	if (flow_keys(wf, input, &gate, &rate, &prio, err) != 0)
		return -1;
	ok = flow_take(flow_bucket(e, rate, rl), &wait);
	free(gate);
	free(rate);
	if (ok)
		return 1;
	orc_error_set(err, ORC_EFULL, "workflow %s is over its rate limit of "
	    "%g per second; a token is free in %lld ms", workflow_name(wf),
	    json_number_value(json_object_get(rl, "per_second")),
	    (long long)wait);
	return -1;
}

/* The window of a debounced run ended: it goes to admission. */
static void
flow_due_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;

	engine_flow_forget(run);
	log_debug("%s: run %s debounce window over", __func__, run->rec.id);
	engine_admit(run, 0);
}

/* (Re)arms the run's window end at rec.due_at. */
static void
flow_arm(struct run *run)
{
	int64_t ms = run->rec.due_at - orc_now_ms();
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	if (run->due == NULL)
		run->due = evtimer_new(run->engine->base, flow_due_cb, run);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(run->due, &tv);
}

/* The debounce window key of a trigger, or NULL (no debounce, or err). */
static char *
flow_debounce_key(struct workflow *wf, const json_t *input,
    struct orc_error *err)
{
	const json_t *db = flow_get(wf, "debounce");
	char *k, *name;

	if (db == NULL)
		return NULL;
	if ((k = flow_render(wf, json_object_get(db, "key"), input,
	    "debounce.key", err)) == NULL)
		return NULL;
	name = flow_name(wf, k);
	free(k);
	return name;
}

/* A trigger inside a run's debounce window replaces that run's input:
 * 1 with its id (watch's accepted is called once that is committed); 0
 * when no window is open (or the workflow has none). */
int
engine_flow_debounce(struct engine *e, struct workflow *wf,
    const json_t *input, const struct engine_watch *watch,
    char id[RUN_ID_LEN + 1], struct orc_error *err)
{
	const json_t *db = flow_get(wf, "debounce");
	struct run *run;
	int64_t now = orc_now_ms(), wait, max;
	char *name;

	if (db == NULL)
		return 0;
	if ((name = flow_debounce_key(wf, input, err)) == NULL)
		return -1;
	run = hmap_get(e->debounce, name);
	free(name);
	if (run == NULL || run->rec.state != RUN_QUEUED || run->done)
		return 0;
	json_decref(run->rec.input);
	run->rec.input = json_deep_copy(input);
	json_decref(run->step_input);
	run->step_input = json_incref(run->rec.input);
	wait = json_integer_value(json_object_get(db, "wait_ms"));
	max = json_integer_value(json_object_get(db, "max_wait_ms"));
	run->rec.due_at = now + wait;
	if (max > 0 && run->rec.due_at > run->rec.created_at + max)
		run->rec.due_at = run->rec.created_at + max;
	run->rec.updated_at = now;
	engine_run_note(run, "debounced", "a later trigger replaced the input",
	    STORE_RUN_SET_INPUT, watch);
	flow_arm(run);
	memcpy(id, run->rec.id, RUN_ID_LEN + 1);
	return 1;
}

/* Opens (or, after a restart, reopens) a new run's debounce window. */
void
engine_flow_debounce_start(struct run *run)
{
	const json_t *db = flow_get(run->wf, "debounce");
	struct orc_error err;

	if (db == NULL || run->debounce_key != NULL)
		return;
	if ((run->debounce_key = flow_debounce_key(run->wf, run->rec.input,
	    &err)) == NULL)
		return;
	if (run->rec.due_at == 0)
		run->rec.due_at = run->rec.created_at +
		    json_integer_value(json_object_get(db, "wait_ms"));
	hmap_set(run->engine->debounce, run->debounce_key, run);
	flow_arm(run);
}

/* The run no longer takes triggers of its window (started, final, freed). */
void
engine_flow_forget(struct run *run)
{
	struct engine *e = run->engine;

	if (run->due != NULL) {
		event_free(run->due);
		run->due = NULL;
	}
	if (run->debounce_key == NULL)
		return;
	if (hmap_get(e->debounce, run->debounce_key) == run)
		hmap_remove(e->debounce, run->debounce_key);
	free(run->debounce_key);
	run->debounce_key = NULL;
}

/* Frees a bucket (hmap_each). */
static void
flow_free_bucket(const char *key, void *value, void *arg)
{
	free(value);
}

/* Frees the buckets and the debounce index (the runs are freed already). */
void
engine_flow_free(struct engine *e)
{
	hmap_each(e->buckets, flow_free_bucket, NULL);
	hmap_free(e->buckets);
	hmap_free(e->debounce);
}
