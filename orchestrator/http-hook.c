/*
 * Triggers over HTTP: a POST to a workflow's webhook path, or POST
 * /workflows/NAME/runs with the API token. The body is checked (size,
 * signature, content type, the workflow's input schema) and submitted to
 * the engine. The answer comes from the engine's callbacks: 202 only once
 * the run is committed; in sync mode (or with "Prefer: wait=N") the
 * run's output when it finishes in time, else the same 202.
 *
 * The client may go away while we wait. The request context then stays
 * alive, answering nothing, until the engine's last callback drops its
 * reference.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "engine.h"
#include "form.h"
#include "http-internal.h"
#include "log.h"
#include "trace.h"
#include "workflow.h"

#define HOOK_SYNC_TIMEOUT_MS	10000
#define HOOK_PREFER_MAX_S	300

/* A trigger waiting on the engine. */
struct hook_ctx {
	struct http_req		*hr;
	struct workflow		*wf;		/* referenced */
	struct event		*timer;		/* the wait's deadline */
	int64_t			 wait_ms;	/* 0: answer when committed */
	int			 form;		/* the body was read as a form */
	int			 accepted;	/* the run is committed */
	int			 timed_out;	/* the wait is over */
	json_t			*input, *meta;	/* while the key is looked up */
};

/* Frees a trigger's context with its request's. */
static void
hook_free(void *arg)
{
	struct hook_ctx *hc = arg;

	if (hc->timer != NULL)
		event_free(hc->timer);
	json_decref(hc->input);
	json_decref(hc->meta);
	workflow_unref(hc->wf);
	free(hc);
}

/* Stops the wait's timer: answered, or nobody left to answer. */
static void
hook_stop_timer(struct hook_ctx *hc)
{
	if (hc->timer != NULL) {
		event_free(hc->timer);
		hc->timer = NULL;
	}
}

/* The client went away: nothing to answer, only the timer to stop. */
static void
hook_gone(struct http_req *hr)
{
	hook_stop_timer(hr->data);
}

/* Run-Id and Location: every trigger answer names its run, a sync one
 * too, whose body is the output. */
static void
hook_add_run_headers(struct http_req *hr, const char *run_id)
{
	char url[64];

	if (run_id == NULL || *run_id == '\0')
		return;
	snprintf(url, sizeof url, "/runs/%s", run_id);
	http_add_header(hr, "Run-Id", run_id);
	http_add_header(hr, "Location", url);
}

/* 202 with the run id, its status URL and the run's headers. */
static void
hook_reply_accepted(struct http_req *hr, const char *run_id)
{
	char url[64];
	json_t *o;

	snprintf(url, sizeof url, "/runs/%s", run_id);
	hook_add_run_headers(hr, run_id);
	o = json_pack("{ssss}", "run_id", run_id, "status_url", url);
	http_reply_json(hr, 202, o);
	json_decref(o);
}

/* A final run: 200 with the output, or 500 with the error and run id;
 * the run's headers on both. */
static void
hook_reply_final(struct http_req *hr, enum run_state state,
    const json_t *output, const char *error)
{
	json_t *null = json_null();

	hook_add_run_headers(hr, hr->run_id);
	if (state == RUN_SUCCEEDED)
		http_reply_json(hr, 200, output != NULL ? output : null);
	else
		http_error(hr, "run_failed", "%s", error != NULL ? error :
		    run_state_name(state));
	json_decref(null);
}

/* The engine committed the run: the earliest a 202 may go out. */
static void
hook_accepted_cb(const struct engine_result *res, void *arg)
{
	struct http_req *hr = arg;
	struct hook_ctx *hc = hr->data;

	snprintf(hr->run_id, sizeof hr->run_id, "%s", res->run_id);
	hc->accepted = 1;
	if (hc->wait_ms == 0 || hc->timed_out)
		hook_reply_accepted(hr, res->run_id);
	if (hc->wait_ms == 0)
		http_req_unref(hr);	/* no other callback comes */
}

/* The run is final: answer a caller still waiting, then let go. */
static void
hook_finished_cb(const struct engine_result *res, void *arg)
{
	struct http_req *hr = arg;
	struct hook_ctx *hc = hr->data;

	hook_stop_timer(hc);
	if (hr->run_id[0] == '\0')
		snprintf(hr->run_id, sizeof hr->run_id, "%s", res->run_id);
	/* It waits long (a signal, a time): the answer is that of an
	 * asynchronous trigger. */
	if (res->state == RUN_WAITING)
		hook_reply_accepted(hr, hr->run_id);
	else
		hook_reply_final(hr, res->state, res->output, res->error);
	http_req_unref(hr);
}

/* The wait is over: the async answer, once the run is committed. */
static void
hook_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_req *hr = arg;
	struct hook_ctx *hc = hr->data;

	hc->timed_out = 1;
	if (hc->accepted)
		hook_reply_accepted(hr, hr->run_id);
}

/* The webhook's settings, or NULL. */
static const json_t *
hook_settings(struct workflow *wf)
{
	return json_object_get(workflow_trigger(wf), "webhook");
}

/* Checks X-Signature-256 against the raw body; answers on failure. */
static int
hook_check_signature(struct http_req *hr, const char *secret_env,
    const char *body, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0, i;
	const char *secret, *sig;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	if ((secret = getenv(secret_env)) == NULL || *secret == '\0') {
		log_error("%s: webhook %s: %s is not set", __func__, hr->path,
		    secret_env);
		http_error(hr, "internal", "webhook %s: its secret is not "
		    "configured", hr->path);
		return -1;
	}
	sig = http_header(hr, "X-Signature-256");
	if (sig == NULL || strncmp(sig, "sha256=", 7) != 0) {
		http_error(hr, "unauthorized", "webhook %s: missing "
		    "X-Signature-256: sha256=HEX", hr->path);
		return -1;
	}
	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)body, len, mac, &maclen);
	for (i = 0; i < maclen; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	sig += 7;
	if (strlen(sig) != 2 * maclen ||
	    CRYPTO_memcmp(hex, sig, 2 * maclen) != 0) {
		http_error(hr, "unauthorized", "webhook %s: the signature does "
		    "not match the body", hr->path);
		return -1;
	}
	return 0;
}

/*
 * A form-typed body that is a whole JSON object or array, or NULL. curl's
 * -d sends application/x-www-form-urlencoded unless told otherwise, so
 * most JSON posted by hand arrives under that type. A form cannot start
 * with '{' or '[' and also parse as JSON: such a form would be one key
 * with no value, which nobody sends on purpose.
 */
static json_t *
hook_form_json(const char *body, size_t len)
{
	size_t i;

	for (i = 0; i < len && isspace((unsigned char)body[i]); i++)
		;
	if (i == len || (body[i] != '{' && body[i] != '['))
		return NULL;
	/* Without JSON_DECODE_ANY jansson takes objects and arrays only. */
	return json_loadb(body, len, 0, NULL);
}

/* The body as a JSON value by its content type; NULL after answering.
 * *form tells whether it was read as a form. */
static json_t *
hook_decode(struct http_req *hr, const char *body, size_t len, int *form)
{
	const char *ct = http_header(hr, "Content-Type");
	json_error_t jerr;
	size_t n;
	json_t *v;

	if (len == 0)
		return json_object();
	n = ct != NULL ? strcspn(ct, "; \t") : 0;
	if (ct != NULL && n == 16 && strncasecmp(ct, "application/json",
	    n) == 0) {
		if ((v = json_loadb(body, len, JSON_DECODE_ANY, &jerr)) ==
		    NULL)
			http_error(hr, "bad_json", "body is not valid JSON: %s "
			    "at line %d column %d", jerr.text, jerr.line,
			    jerr.column);
		return v;
	}
	if (ct != NULL && n == 33 && strncasecmp(ct,
	    "application/x-www-form-urlencoded", n) == 0) {
		if ((v = hook_form_json(body, len)) != NULL)
			return v;
		*form = 1;
		if ((v = form_decode(body, len, 0)) == NULL)
			http_error(hr, "bad_request", "body is not valid "
			    "form-urlencoded text");
		return v;
	}
	if (ct != NULL && n == 10 && strncasecmp(ct, "text/plain", n) == 0) {
		if ((v = json_stringn(body, len)) == NULL)
			http_error(hr, "bad_request", "body is not UTF-8 "
			    "text");
		return v;
	}
	http_error(hr, "unsupported_media_type", "content type \"%s\" is not "
	    "one of application/json, application/x-www-form-urlencoded, "
	    "text/plain", ct != NULL ? ct : "");
	return NULL;
}

/*
 * {"source", "path", "headers"}: never the credentials. While the engine
 * traces, a valid W3C traceparent too, written again in canonical form:
 * the run's spans become children of the caller's, after a restart too.
 */
static json_t *
hook_trigger_meta(struct http_req *hr, int webhook)
{
	static const char *const keep[] = {
		"Content-Type", "User-Agent", "X-Request-Id", NULL
	};
	json_t *headers = json_object(), *meta;
	struct trace_ctx tc;
	const char *v;
	char lower[32], tp[TRACE_PARENT_LEN + 1];
	size_t i, j;

	for (i = 0; keep[i] != NULL; i++) {
		if ((v = http_header(hr, keep[i])) == NULL)
			continue;
		for (j = 0; keep[i][j] != '\0'; j++)
			lower[j] = (char)tolower((unsigned char)keep[i][j]);
		lower[j] = '\0';
		json_object_set_new(headers, lower, json_string(v));
	}
	meta = json_pack("{ssssso}", "source", webhook ? "webhook" : "api",
	    "path", hr->path, "headers", headers);
	if (engine_trace(hr->srv->engine) != NULL &&
	    trace_parent_parse(http_header(hr, "traceparent"), &tc) == 0) {
		trace_parent_format(&tc, tp);
		json_object_set_new(meta, "traceparent", json_string(tp));
	}
	return meta;
}

/* How long to wait for the output: Prefer: wait=N, else the webhook's
 * sync mode, else 0 (answer when committed). */
static int64_t
hook_wait_ms(struct http_req *hr, const json_t *hook)
{
	const char *p = http_header(hr, "Prefer");
	const json_t *t;
	char applied[32];
	long n;

	for (; p != NULL && *p != '\0'; p += strcspn(p, ",;")) {
		p += strspn(p, " \t,;");
		if (strncasecmp(p, "wait=", 5) != 0)
			continue;
		n = strtol(p + 5, NULL, 10);
		if (n < 0)
			n = 0;
		if (n > HOOK_PREFER_MAX_S)
			n = HOOK_PREFER_MAX_S;
		snprintf(applied, sizeof applied, "wait=%ld", n);
		http_add_header(hr, "Preference-Applied", applied);
		return n * 1000;
	}
	t = json_object_get(hook, "mode");
	if (!json_is_string(t) || strcmp(json_string_value(t), "sync") != 0)
		return 0;
	t = json_object_get(hook, "sync_timeout_ms");
	return json_is_integer(t) ? json_integer_value(t) :
	    HOOK_SYNC_TIMEOUT_MS;
}

/* Idempotency-Key matched an earlier run: answer as it would have. */
static void
hook_replay(struct http_req *hr, const char *id, int64_t wait_ms)
{
	struct orc_error err;
	struct run_rec r;

	snprintf(hr->run_id, sizeof hr->run_id, "%s", id);
	http_add_header(hr, "Idempotent-Replayed", "true");
	memset(&r, 0, sizeof r);
	if (wait_ms > 0 && store_get_run(hr->srv->store, id, &r, &err) == 0 &&
	    run_state_is_final(r.state))
		hook_reply_final(hr, r.state, r.output, r.error);
	else
		hook_reply_accepted(hr, id);
	run_rec_clear(&r);
}

/* Submits the run and holds the request for the engine's callbacks;
 * checked: the key was looked up in the store already. */
static void
hook_submit(struct http_req *hr, struct hook_ctx *hc, const json_t *input,
    const json_t *meta, int checked)
{
	struct engine_watch w = { hook_accepted_cb, NULL, hr };
	struct orc_error err;
	char id[RUN_ID_LEN + 1];
	struct timeval tv;
	enum engine_found found = ENGINE_FOUND_NONE;
	int rc;

	if (hc->wait_ms > 0)
		w.finished = hook_finished_cb;
	orc_error_clear(&err);
	http_req_ref(hr);	/* the engine's, until its last callback */
	rc = (checked ? engine_submit_checked : engine_submit_keyed)(
	    hr->srv->engine, hc->wf, input, meta,
	    http_header(hr, "Idempotency-Key"), &w, id, &found, &err);
	if (found == ENGINE_FOUND_WINDOW) {
		/* A debounce window took it: answered 202 once committed. */
		hc->wait_ms = 0;
		http_add_header(hr, "Debounced", "true");
	} else if (rc != 0 || found != ENGINE_FOUND_NONE) {
		http_req_unref(hr);
		/* A form that misses the schema was likely meant as JSON. */
		if (rc != 0 && err.code == ORC_EINVAL && hc->form)
			http_error(hr, "invalid_input", "%s (the body was read "
			    "as a form, as its Content-Type says; send JSON "
			    "with Content-Type: application/json)",
			    err.message);
		else if (rc != 0)
			http_error_orc(hr, &err);
		else
			hook_replay(hr, id, hc->wait_ms);
		return;
	}
	if (hr->run_id[0] == '\0')
		snprintf(hr->run_id, sizeof hr->run_id, "%s", id);
	if (hr->answered)
		return;
	http_req_hold(hr);
	if (hc->wait_ms > 0 && !hr->answered) {
		hc->timer = evtimer_new(hr->srv->base, hook_timer_cb, hr);
		tv.tv_sec = hc->wait_ms / 1000;
		tv.tv_usec = (hc->wait_ms % 1000) * 1000;
		evtimer_add(hc->timer, &tv);
	}
}

/* The key's look-up is over: replay its run, or submit. */
static void
hook_key_cb(const char *id, void *arg)
{
	struct http_req *hr = arg;
	struct hook_ctx *hc = hr->data;

	if (!http_req_live(hr))
		;	/* gone: no run is made for nobody */
	else if (id != NULL)
		hook_replay(hr, id, hc->wait_ms);
	else
		hook_submit(hr, hc, hc->input, hc->meta, 1);
	http_req_unref(hr);
}

/* With an Idempotency-Key, the store is read off the loop first. */
static void
hook_lookup(struct http_req *hr, struct hook_ctx *hc, json_t *input,
    json_t *meta)
{
	hc->input = json_incref(input);
	hc->meta = json_incref(meta);
	http_req_ref(hr);
	http_req_hold(hr);
	engine_key_lookup(hr->srv->engine, workflow_name(hc->wf),
	    http_header(hr, "Idempotency-Key"), hook_key_cb, hr);
}

void
http_hook_post(struct http_req *hr, struct workflow *wf, int webhook)
{
	const json_t *hook = hook_settings(wf), *t;
	struct hook_ctx *hc;
	json_t *input, *meta;
	size_t len;
	char *body;
	int form = 0;

	/* Commits fail: a run taken now would wait, its body held, with
	 * no bound but memory. The client retries instead. */
	if (!store_healthy(hr->srv->store)) {
		http_error(hr, "store_unavailable", "the store cannot commit "
		    "now (see GET /healthz and the server's log); retry "
		    "later");
		return;
	}
	body = http_body(hr, &len);
	t = json_object_get(hook, "max_body_bytes");
	if (json_is_integer(t) && (json_int_t)len > json_integer_value(t)) {
		http_error(hr, "payload_too_large", "body of %zu bytes is over "
		    "the %lld of workflow %s", len,
		    (long long)json_integer_value(t), workflow_name(wf));
		free(body);
		return;
	}
	t = json_object_get(hook, "secret_env");
	if ((webhook && json_is_string(t) && hook_check_signature(hr,
	    json_string_value(t), body, len) != 0) ||
	    (input = hook_decode(hr, body, len, &form)) == NULL) {
		free(body);
		return;
	}
	free(body);
	/* The engine checks the input against the workflow's schema. */
	hc = xcalloc(1, sizeof *hc);
	hc->hr = hr;
	hc->wf = workflow_ref(wf);
	hc->wait_ms = hook_wait_ms(hr, hook);
	hc->form = form;
	hr->data = hc;
	hr->free_data = hook_free;
	hr->on_gone = hook_gone;
	meta = hook_trigger_meta(hr, webhook);
	if (http_header(hr, "Idempotency-Key") != NULL)
		hook_lookup(hr, hc, input, meta);
	else
		hook_submit(hr, hc, input, meta, 0);
	json_decref(meta);
	json_decref(input);
}
