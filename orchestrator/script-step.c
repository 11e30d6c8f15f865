/*
 * The lua step's glue between the engine's step_call and a script run:
 * on a worker process when the engine has a pool of them (worker.h), else
 * on the calling thread, with this file as the run's host (script.h): its
 * fetches start on the loop's client after the workflow's allow list
 * passes them, its log lines go to the run's log, its secrets come
 * from the environment and its files from the workflow's folder.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "log.h"
#include "orchestrator.h"
#include "permit.h"
#include "script.h"
#include "steps.h"
#include "trace.h"
#include "worker.h"

struct script_step {
	struct step_call	*call;
	struct script_job	 job;
	struct script_exec	*ex;		/* in this process */
	struct worker_call	*wc;		/* on a worker */
	struct fetch_req	*req;
};

/* Ends the step: the result goes to the engine, last. */
static void
script_step_end(struct script_step *ss, int ok, json_t *output,
    const char *next, int retryable, const char *message)
{
	struct step_call *call = ss->call;

	step_call_set_data(call, NULL);
	free(ss);
	if (!ok) {
		step_call_fail(call, retryable, "%s", message);
		return;
	}
	if (next != NULL)
		step_call_set_next(call, next);
	step_call_succeed(call, output);
}

/* script_host.done and the worker's done: the same end. */
static void
script_step_done(void *arg, int ok, json_t *output, const char *next,
    int retryable, const char *message)
{
	script_step_end(arg, ok, output, next, retryable, message);
}

/* A fetch's answer, on the loop. */
static void
script_step_fetch_cb(const struct fetch_response *resp, void *arg)
{
	struct script_step *ss = arg;

	ss->req = NULL;
	script_fetch_done(ss->ex, resp);
}

/* script_host.fetch: allow checked, then the loop's client. */
static int
script_step_fetch(void *arg, struct script_exec *ex,
    const struct fetch_request *rq, struct orc_error *err)
{
	struct script_step *ss = arg;
	struct fetch *fetch = step_call_fetch(ss->call);
	struct fetch_request traced;
	const char **headers;
	char line[TRACE_PARENT_LEN + 16];

	if (permit_url(step_call_allow(ss->call), rq->url, err) != 0)
		return -1;
	if (fetch == NULL) {
		orc_error_set(err, ORC_EUNSUPPORTED, "ctx.fetch is not available "
		    "here (no event loop, or a replay without --live)");
		return -1;
	}
	ss->ex = ex;
	/* The attempt's traceparent, unless the script sent its own. */
	headers = trace_headers_add(rq->headers,
	    step_call_traceparent(ss->call), line);
	if (headers != NULL) {
		traced = *rq;
		traced.headers = headers;
		rq = &traced;
	}
	ss->req = fetch_start(fetch, rq, script_step_fetch_cb, ss, err);
	free(headers);
	return ss->req != NULL ? 0 : -1;
}

/* script_host.fetch_cancel. */
static void
script_step_fetch_cancel(void *arg)
{
	struct script_step *ss = arg;

	if (ss->req != NULL)
		fetch_cancel(ss->req);
	ss->req = NULL;
}

/* script_host.log and the worker's: the run's log (steps.h). */
static void
script_step_log(void *arg, int level, const char *msg, size_t len)
{
	struct script_step *ss = arg;

	step_call_log_text(ss->call, level, msg, len);
}

/* script_host.secret: a listed name's variable. */
static int
script_step_secret(void *arg, const char *name, const char **value)
{
	struct script_step *ss = arg;
	const json_t *e;
	size_t i;

	json_array_foreach(step_call_secrets(ss->call), i, e) {
		if (json_is_string(e) && strcmp(json_string_value(e),
		    name) == 0) {
			*value = getenv(name);
			return 0;
		}
	}
	return -1;
}

/* script_host.source: the workflow's folder. */
static int
script_step_source(void *arg, const char *name,
    const struct script_ident *have, char **text, size_t *len,
    struct script_ident *got, struct orc_error *err)
{
	struct script_step *ss = arg;

	return script_read_source(ss->job.dir, name, have, text, len, got,
	    err);
}

/* script_host.ctx_value: the call's own. */
static const json_t *
script_step_ctx_value(void *arg, int which)
{
	struct script_step *ss = arg;

	return which == 0 ? step_call_trigger(ss->call) :
	    step_call_steps(ss->call);
}

static const struct script_host script_step_host = {
	.fetch = script_step_fetch,
	.fetch_cancel = script_step_fetch_cancel,
	.log = script_step_log,
	.secret = script_step_secret,
	.source = script_step_source,
	.ctx_value = script_step_ctx_value,
	.done = script_step_done
};

/* Reads a positive integer key of the step; 0 when absent. */
static int64_t
script_step_int(const json_t *step, const char *key)
{
	const json_t *v = json_object_get(step, key);

	if (json_is_integer(v) && json_integer_value(v) > 0)
		return json_integer_value(v);
	return 0;
}

/* The job of a call: what the script runs on, and its limits. */
static void
script_step_job(struct step_call *call, const char *script,
    struct script_job *j)
{
	const json_t *step = step_call_step(call);
	const char *dir = step_call_workflow_dir(call);

	memset(j, 0, sizeof *j);
	j->dir = dir != NULL ? dir : ".";
	j->script = script;
	j->workflow = step_call_workflow(call);
	j->run_id = step_call_run_id(call);
	j->step = step_call_step_name(call);
	j->attempt = step_call_attempt(call);
	j->input = step_call_input(call);
	j->timeout_ms = step_call_timeout_ms(call);
	if (j->timeout_ms <= 0)
		j->timeout_ms = script_step_int(step, "timeout_ms");
	j->instructions = script_step_int(step, "instructions");
	j->memory_mb = (size_t)script_step_int(step, "memory_mb");
	j->traceparent = step_call_traceparent(call);
}

/* The lua step: starts the run of its script. */
enum step_status
script_step_start(struct step_call *call)
{
	const char *script = json_string_value(json_object_get(
	    step_call_step(call), "script"));
	struct worker_pool *pool = step_call_workers(call);
	struct script_step *ss;
	struct script_exec *ex;
	struct orc_error err;

	if (script == NULL) {
		step_call_fail(call, 0, "lua step has no \"script\"");
		return STEP_DONE;
	}
	ss = xcalloc(1, sizeof *ss);
	ss->call = call;
	script_step_job(call, script, &ss->job);
	step_call_set_data(call, ss);
	if (pool != NULL) {
		ss->wc = worker_call_start(pool, &ss->job,
		    step_call_trigger(call), step_call_steps(call),
		    step_call_allow(call), step_call_secrets(call),
		    script_step_done, ss, &err);
		if (ss->wc != NULL) {
			worker_call_set_log(ss->wc, script_step_log);
			return STEP_WAIT;
		}
		script_step_end(ss, 0, NULL, NULL, 1, err.message);
		return STEP_DONE;
	}
	/* NULL: it ended already, and ss with it. */
	if ((ex = script_run(&ss->job, &script_step_host, ss)) == NULL)
		return STEP_DONE;
	ss->ex = ex;
	return STEP_WAIT;
}

/* The engine gave up on the run (timeout, cancel). */
void
script_step_cancel(struct step_call *call)
{
	struct script_step *ss = step_call_data(call);

	if (ss == NULL)
		return;
	step_call_set_data(call, NULL);
	if (ss->wc != NULL)
		worker_call_cancel(ss->wc);
	else
		script_cancel(ss->ex);
	free(ss);
}

/* What script_check_chunk's run ended with. */
struct script_check {
	const char		*dir;
	int			 done;
	int			 ok;
	char			*message;
};

/* The check's host: no fetch, no secrets, no log; files from the folder. */
static int
script_check_fetch(void *arg, struct script_exec *ex,
    const struct fetch_request *rq, struct orc_error *err)
{
	orc_error_set(err, ORC_EUNSUPPORTED, "ctx.fetch is not available "
	    "while the script is checked");
	return -1;
}

static void
script_check_nothing(void *arg)
{
}

static void
script_check_log(void *arg, int level, const char *msg, size_t len)
{
}

static int
script_check_secret(void *arg, const char *name, const char **value)
{
	*value = NULL;
	return 0;
}

static int
script_check_source(void *arg, const char *name,
    const struct script_ident *have, char **text, size_t *len,
    struct script_ident *got, struct orc_error *err)
{
	struct script_check *sc = arg;

	return script_read_source(sc->dir, name, have, text, len, got, err);
}

static const json_t *
script_check_ctx(void *arg, int which)
{
	return NULL;
}

static void
script_check_done(void *arg, int ok, json_t *output, const char *next,
    int retryable, const char *message)
{
	struct script_check *sc = arg;

	json_decref(output);
	sc->done = 1;
	sc->ok = ok;
	sc->message = message != NULL ? xstrdup(message) : NULL;
}

static const struct script_host script_check_host = {
	.fetch = script_check_fetch,
	.fetch_cancel = script_check_nothing,
	.log = script_check_log,
	.secret = script_check_secret,
	.source = script_check_source,
	.ctx_value = script_check_ctx,
	.done = script_check_done
};

/* Runs the main chunk: does it return a function? */
int
script_check_chunk(const char *dir, const char *script, struct orc_error *err)
{
	struct script_check sc = { dir, 0, 0, NULL };
	struct script_exec *ex;
	struct script_job j;
	char *tb;

	memset(&j, 0, sizeof j);
	j.dir = dir;
	j.script = script;
	j.workflow = "validate";
	j.run_id = "-";
	j.step = "-";
	j.timeout_ms = 2000;
	j.instructions = 10000000;
	j.check_only = 1;
	/* Nothing yields here (no fetch): it ends before script_run does. */
	if ((ex = script_run(&j, &script_check_host, &sc)) != NULL)
		script_cancel(ex);
	if (!sc.done || !sc.ok) {
		/* The first line names the file and line; the traceback of
		 * a main chunk says no more. */
		if (sc.message != NULL && (tb = strstr(sc.message,
		    "\nstack traceback:")) != NULL)
			*tb = '\0';
		orc_error_set(err, ORC_EINVAL, "%s", sc.message != NULL ?
		    sc.message : "the script did not finish");
		free(sc.message);
		return -1;
	}
	free(sc.message);
	return 0;
}
