/*
 * Flow control from a workflow's keys: "concurrency_key"
 * splits a workflow's concurrency into one gate per key, "priority" orders
 * the runs waiting at a gate, "rate_limit" is a pool of tokens per workflow
 * or per key (a run waits for a token, or with "on_limit": "reject" the
 * trigger is refused), and "debounce" holds a run queued for wait_ms after
 * the last trigger with its key (at most max_wait_ms after the first): the
 * later triggers replace its input and are answered with its id.
 *
 * Every key is a template over the trigger's input, rendered once per
 * trigger (and again from the stored input after a restart), so nothing
 * here needs a table of its own: waiting runs are queued runs in the
 * store, a debounce window is the run's due_at. This file is policy: it
 * answers questions and keeps its indexes; the driver (engine.c) moves
 * the runs.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* "workflow" or "workflow\x1fkey": the name of a gate, tokens, window. */
static char *
flow_name(const struct workflow *wf, const char *key)
{
	if (key == NULL)
		return xstrdup(workflow_name(wf));
	return xasprintf("%s\x1f%s", workflow_name(wf), key);
}

/* Renders every flow key of a trigger of wf, once: the gate, the rate
 * tokens, the debounce window and the priority. */
int
engine_flow_keys(const struct workflow *wf, const json_t *input,
    struct flow_keys *k, struct orc_error *err)
{
	const json_t *ck = flow_get(wf, "concurrency_key");
	const json_t *rl = flow_get(wf, "rate_limit");
	const json_t *pr = flow_get(wf, "priority");
	const json_t *db = flow_get(wf, "debounce");
	char *s = NULL;

	memset(k, 0, sizeof *k);
	if (ck != NULL && (s = flow_render(wf, ck, input, "concurrency_key",
	    err)) == NULL)
		goto fail;
	k->gate = flow_name(wf, s);
	free(s);
	s = NULL;
	if (rl != NULL && json_object_get(rl, "key") != NULL &&
	    (s = flow_render(wf, json_object_get(rl, "key"), input,
	    "rate_limit.key", err)) == NULL)
		goto fail;
	if (rl != NULL)
		k->rate = flow_name(wf, s);
	free(s);
	s = NULL;
	if (db != NULL && (s = flow_render(wf, json_object_get(db, "key"),
	    input, "debounce.key", err)) == NULL)
		goto fail;
	if (db != NULL)
		k->debounce = flow_name(wf, s);
	free(s);
	if (pr != NULL) {
		if ((s = flow_render(wf, pr, input, "priority", err)) == NULL)
			goto fail;
		k->priority = (int)strtol(s, NULL, 10);
		free(s);
	}
	return 0;
fail:
	engine_flow_keys_clear(k);
	return -1;
}

/* The keys of a run read back from the store: as engine_flow_keys, but a
 * template that names nothing falls back to the workflow-wide gate. */
void
engine_flow_keys_loaded(const struct workflow *wf, const json_t *input,
    struct flow_keys *k, const char *run_id)
{
	struct orc_error err;

	if (engine_flow_keys(wf, input, k, &err) == 0)
		return;
	log_warn("%s: run %s: %s", __func__, run_id, err.message);
	k->gate = xstrdup(workflow_name(wf));
}

void
engine_flow_keys_clear(struct flow_keys *k)
{
	free(k->gate);
	free(k->rate);
	free(k->debounce);
	memset(k, 0, sizeof *k);
}

/* The tokens of a rate key, made full on first use. */
static struct flow_tokens *
flow_tokens_of(struct engine *e, const char *name, const json_t *rl)
{
	struct flow_tokens *b = hmap_get(e->rate_tokens, name);
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
		hmap_set(e->rate_tokens, name, b);
	}
	return b;
}

/* Takes a token: 1, or 0 and how long until one is there. */
static int
flow_take(struct flow_tokens *b, int64_t *wait_ms)
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

	if (rl == NULL || run->token_taken || run->keys.rate == NULL)
		return 1;
	if (!flow_take(flow_tokens_of(run->engine, run->keys.rate, rl), wait_ms))
		return 0;
	run->token_taken = 1;
	return 1;
}

/* "on_limit": "reject": takes a token for a new run now or refuses it
 * (ORC_EFULL). 1 when a token was taken, 0 when no limit applies. */
int
engine_flow_reject(struct engine *e, const struct workflow *wf,
    const struct flow_keys *k, struct orc_error *err)
{
	const json_t *rl = flow_get(wf, "rate_limit");
	const char *mode = json_string_value(json_object_get(rl, "on_limit"));
	int64_t wait = 0;

	if (rl == NULL || mode == NULL || strcmp(mode, "reject") != 0)
		return 0;
	if (flow_take(flow_tokens_of(e, k->rate, rl), &wait))
		return 1;
	orc_error_set(err, ORC_EFULL, "workflow %s is over its rate limit of "
	    "%g per second; a token is free in %lld ms", workflow_name(wf),
	    json_number_value(json_object_get(rl, "per_second")),
	    (long long)wait);
	return -1;
}

/* The end of a debounce window opened at created_at by a trigger at now:
 * wait_ms after the trigger, at most max_wait_ms after the first. */
int64_t
engine_flow_window_end(const struct workflow *wf, int64_t created_at,
    int64_t now)
{
	const json_t *db = flow_get(wf, "debounce");
	int64_t wait = json_integer_value(json_object_get(db, "wait_ms"));
	int64_t max = json_integer_value(json_object_get(db, "max_wait_ms"));
	int64_t due = now + wait;

	if (max > 0 && due > created_at + max)
		due = created_at + max;
	return due;
}

/* The run whose debounce window takes a trigger with these keys, or NULL. */
struct run *
engine_flow_window(struct engine *e, const struct flow_keys *k)
{
	return k->debounce != NULL ? hmap_get(e->debounce, k->debounce) :
	    NULL;
}

/* Opens (or, after a restart, reopens) a run's debounce window: later
 * triggers with its key find it until engine_flow_forget. */
void
engine_flow_window_open(struct run *run)
{
	if (run->keys.debounce == NULL || run->in_window)
		return;
	if (run->rec.due_at == 0)
		run->rec.due_at = engine_flow_window_end(run->wf,
		    run->rec.created_at, run->rec.created_at);
	hmap_set(run->engine->debounce, run->keys.debounce, run);
	run->in_window = 1;
}

/* The run no longer takes triggers of its window (started, final, freed). */
void
engine_flow_forget(struct run *run)
{
	struct engine *e = run->engine;

	if (!run->in_window)
		return;
	if (hmap_get(e->debounce, run->keys.debounce) == run)
		hmap_remove(e->debounce, run->keys.debounce);
	run->in_window = 0;
}

/* Frees the tokens of a rate key (hmap_each). */
static void
flow_free_tokens(const char *key, void *value, void *arg)
{
	free(value);
}

/* Frees the rate tokens and the debounce index (the runs are freed already). */
void
engine_flow_free(struct engine *e)
{
	hmap_each(e->rate_tokens, flow_free_tokens, NULL);
	hmap_free(e->rate_tokens);
	hmap_free(e->debounce);
}
