/*
 * Steps that wait for a callback ("wait_for_callback": true). The step's
 * templates get {{callback.url}} and {{callback.token}}; once its own work
 * succeeds the run waits (engine.c suspends it) until POST /callbacks/TOKEN
 * gives the step's output, /fail fails it, or the step's timeout_ms,
 * counted from the attempt's start, passes (a failure worth a retry, as a
 * step timeout is); /heartbeat pushes that time on by timeout_ms.
 *
 * The token (callback.c) carries the run, visit and attempt, so a
 * callback finds its run as a signal does (engine_waiting_take), on any
 * node; it is used once because the run stops waiting on that visit and
 * attempt. The MAC key is the store's, read at the first use.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "callback.h"
#include "conf.h"
#include "engine-internal.h"
#include "log.h"
#include "orchestrator.h"
#include "workflow.h"

/* Takes the callbacks' base URL from the environment's settings. */
void
engine_callback_init(struct engine *e, const struct engine_config *cfg)
{
	const struct orc_config *c = cfg->conf;
	char *url;

	if (c != NULL && c->public_url != NULL)
		engine_set_public_url(e, c->public_url);
	else {
		url = xasprintf("http://%s", c != NULL ? c->listen :
		    CONF_LISTEN_DEFAULT);
		engine_set_public_url(e, url);
		free(url);
	}
}

void
engine_set_public_url(struct engine *e, const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	free(e->public_url);
	e->public_url = xstrndup(url, n);
}

/* Frees what engine_callback_init took. */
void
engine_callback_free(struct engine *e)
{
	free(e->public_url);
	free(e->cb_secret);
}

/* The MAC key, read from the store once; NULL with err. */
static const uint8_t *
callback_secret(struct engine *e, struct orc_error *err)
{
	uint8_t *s;

	if (e->cb_secret != NULL)
		return e->cb_secret;
	s = xmalloc(CALLBACK_SECRET_LEN);
	if (store_secret(e->store, "callback", s, CALLBACK_SECRET_LEN,
	    err) != 0) {
		free(s);
		return NULL;
	}
	return e->cb_secret = s;
}

/* {"url", "token"} for this attempt of the run's step; null (so that a
 * template naming it fails the step) when the key cannot be read. */
json_t *
engine_callback_ctx(struct run *run, int attempt)
{
	struct callback_ref ref;
	struct orc_error err;
	const uint8_t *secret;
	char tok[CALLBACK_TOKEN_LEN + 1], *url;
	json_t *o;

	if ((secret = callback_secret(run->engine, &err)) == NULL) {
		log_error("%s: run %s step %s: %s", __func__, run->rec.id,
		    run->rec.step, err.message);
		return json_null();
	}
	memset(&ref, 0, sizeof ref);
	snprintf(ref.run_id, sizeof ref.run_id, "%s", run->rec.id);
	ref.seq = run->rec.seq;
	ref.attempt = attempt;
	callback_token_make(secret, &ref, tok);
	url = xasprintf("%s/callbacks/%s", run->engine->public_url, tok);
	o = json_pack("{ssss}", "url", url, "token", tok);
	free(url);
	return o;
}

/* When a callback step's wait ends: its timeout from the attempt's start. */
int64_t
engine_callback_due(const struct run *run)
{
	const struct workflow_step *ws = workflow_step_at(run->wf,
	    (size_t)run->idx);

	return run->call_started + workflow_step_timeout_ms(ws);
}

/* Whether the run (record, definition) waits for the callback of ref
 * (arg): its visit and attempt, on a step that waits for callbacks. */
static int
callback_check(const struct run_rec *rec, struct workflow *wf,
    const void *arg, struct orc_error *err)
{
	const struct callback_ref *ref = arg;
	const struct workflow_step *ws;
	int idx;

	idx = rec->step != NULL ? workflow_step_index(wf, rec->step) : -1;
	ws = idx >= 0 ? workflow_step_at(wf, (size_t)idx) : NULL;
	if (ws == NULL || !workflow_step_callback(ws) ||
	    rec->seq != ref->seq || rec->attempt != ref->attempt) {
		orc_error_set(err, ORC_ESTATE, "run %s waits for this callback "
		    "no more: it is %s, at step %s", rec->id,
		    run_state_name(rec->state), rec->step ? rec->step : "-");
		return -1;
	}
	if (rec->state == RUN_RUNNING) {
		/* The service answered before the step's own work did. */
		orc_error_set(err, ORC_EBUSY, "run %s still runs step %s: the "
		    "callback came before the step's work finished; try "
		    "again", rec->id, rec->step);
		return -1;
	}
	if (rec->state != RUN_WAITING) {
		orc_error_set(err, ORC_ESTATE, "run %s waits for this callback "
		    "no more: it is %s", rec->id, run_state_name(rec->state));
		return -1;
	}
	return 0;
}

/* Applies what a callback says to the run that waits for it. */
static void
callback_apply(struct run *run, const struct engine_callback *cb)
{
	const struct workflow_step *ws = workflow_step_at(run->wf,
	    (size_t)run->idx);
	char *msg;

	switch (cb->kind) {
	case ENGINE_CALLBACK_SUCCEED:
		engine_run_output(run, json_incref(cb->body), NULL);
		break;
	case ENGINE_CALLBACK_FAIL:
		msg = xasprintf("step %s: the callback says: %s",
		    run->rec.step, cb->error);
		engine_run_fail(run, msg, cb->retryable, NULL);
		free(msg);
		break;
	case ENGINE_CALLBACK_HEARTBEAT:
		engine_run_extend(run, orc_now_ms() +
		    workflow_step_timeout_ms(ws));
		break;
	}
}

int
engine_callback(struct engine *e, const char *token,
    const struct engine_callback *cb, char id[RUN_ID_LEN + 1],
    struct orc_error *err)
{
	struct callback_ref ref;
	const uint8_t *secret;
	struct run *run;
	int loaded;

	if ((secret = callback_secret(e, err)) == NULL)
		return -1;
	if (callback_token_check(secret, token, &ref) != 0) {
		orc_error_set(err, ORC_ENOTFOUND, "no such callback");
		return -1;
	}
	snprintf(id, RUN_ID_LEN + 1, "%s", ref.run_id);
	if ((run = engine_waiting_take(e, ref.run_id, callback_check, &ref,
	    &loaded, err)) == NULL)
		return -1;
	log_debug("%s: run %s step %s: %s callback", __func__, run->rec.id,
	    run->rec.step, cb->kind == ENGINE_CALLBACK_HEARTBEAT ?
	    "heartbeat" : "a");
	callback_apply(run, cb);
	return 0;
}
