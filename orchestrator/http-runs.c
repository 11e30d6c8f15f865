/*
 * The runs API: list with filters and paging, show with steps,
 * transitions and log lines, the log lines alone, long poll (?wait=MS),
 * Server-Sent Events, retry, bulk retry and cancel. Long polls and event streams are waiters on a run,
 * fed by the server's engine observer through http_runs_event().
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "engine.h"
#include "hmap.h"
#include "http-internal.h"
#include "log.h"
#include "runjson.h"
#include "workflow.h"

#define RUNS_LIMIT		50
#define RUNS_LIMIT_MAX		1000
#define RUNS_WAIT_MAX_MS	300000
#define RUNS_BULK_MAX		10000

/* Parses a non-negative integer query parameter; -1 when it is bad. */
static long long
runs_number(const char *s)
{
	char *end;
	long long n;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	n = strtoll(s, &end, 10);
	return *end == '\0' ? n : -1;
}

/* Reads a run, answering 404 (or 500) when it cannot. */
static int
runs_load(struct http_req *hr, const char *id, struct run_rec *r)
{
	struct orc_error err;

	memset(r, 0, sizeof *r);
	orc_error_clear(&err);
	if (store_get_run(hr->srv->store, id, r, &err) != 0) {
		if (err.code != ORC_ENOTFOUND)
			err.code = ORC_ESTORE;
		http_error_orc(hr, &err);
		run_rec_clear(r);
		return -1;
	}
	snprintf(hr->run_id, sizeof hr->run_id, "%s", r->id);
	return 0;
}

/* Answers 200 with the run, its steps and transitions. */
static void
runs_reply_run(struct http_req *hr, const char *id)
{
	struct orc_error err;
	struct run_rec r;
	json_t *o;

	if (runs_load(hr, id, &r) != 0)
		return;
	if ((o = runjson_show(hr->srv->store, &r, &err)) == NULL) {
		err.code = ORC_ESTORE;
		http_error_orc(hr, &err);
	} else
		http_reply_json(hr, 200, o);
	json_decref(o);
	run_rec_clear(&r);
}

struct runs_page {
	json_t		*runs;
	char		 last[RUN_ID_LEN + 1];
};

/* Adds one run of a page, without its input and output. */
static int
runs_page_cb(const struct run_rec *r, void *arg)
{
	struct runs_page *p = arg;
	json_t *o = runjson_run(r);

	json_object_del(o, "input");
	json_object_del(o, "output");
	json_array_append_new(p->runs, o);
	snprintf(p->last, sizeof p->last, "%s", r->id);
	return 0;
}

/* The "state" of a query into *state (-1 when absent): 0, or -1
 * (answered) for an unknown state. */
static int
runs_query_state(struct http_req *hr, int *state)
{
	enum run_state st;
	const char *s;

	*state = -1;
	if ((s = http_query(hr, "state")) == NULL)
		return 0;
	if (run_state_parse(s, &st) != 0) {
		http_error(hr, "bad_request", "state: unknown state \"%s\"", s);
		return -1;
	}
	*state = (int)st;
	return 0;
}

/* The "limit" of a query into *limit (RUNS_LIMIT when absent): 0, or -1
 * (answered) when it is out of range. */
static int
runs_query_limit(struct http_req *hr, int *limit)
{
	const char *s = http_query(hr, "limit");
	long long n = RUNS_LIMIT;

	if (s != NULL && ((n = runs_number(s)) < 1 || n > RUNS_LIMIT_MAX)) {
		http_error(hr, "bad_request", "limit: expected 1 to %d",
		    RUNS_LIMIT_MAX);
		return -1;
	}
	*limit = (int)n;
	return 0;
}

/* Fills a filter from workflow=, state=, since=, error=; -1 after
 * answering 400. */
static int
runs_filter(struct http_req *hr, struct run_filter *f)
{
	const char *s;

	memset(f, 0, sizeof *f);
	f->workflow = http_query(hr, "workflow");
	f->error_like = http_query(hr, "error");
	if (runs_query_state(hr, &f->state) != 0)
		return -1;
	if ((s = http_query(hr, "since")) != NULL &&
	    (f->since = runs_number(s)) < 0) {
		http_error(hr, "bad_request", "since: expected ms since the "
		    "epoch");
		return -1;
	}
	return 0;
}

void
http_runs_list(struct http_req *hr, char **args)
{
	struct runs_page p;
	struct run_filter f;
	struct orc_error err;
	json_t *o;

	if (runs_filter(hr, &f) != 0 || runs_query_limit(hr, &f.limit) != 0)
		return;
	f.before_id = http_query(hr, "before");
	memset(&p, 0, sizeof p);
	p.runs = json_array();
	if (store_list_runs(hr->srv->store, &f, runs_page_cb, &p, &err) !=
	    0) {
		err.code = ORC_ESTORE;
		http_error_orc(hr, &err);
		json_decref(p.runs);
		return;
	}
	o = json_pack("{so}", "runs", p.runs);
	json_object_set_new(o, "next_before", (int)json_array_size(p.runs) ==
	    f.limit ? json_string(p.last) : json_null());
	http_reply_json(hr, 200, o);
	json_decref(o);
}

/* Frees a waiter with its request. */
static void
runs_waiter_free(void *arg)
{
	struct http_waiter *w = arg;

	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}

/* Takes a waiter off its run and drops its reference on the request. */
static void
runs_waiter_done(struct http_waiter *w)
{
	struct http_req *hr = w->hr;

	if (w->timer != NULL) {
		event_free(w->timer);
		w->timer = NULL;
	}
	if (hr->srv != NULL)
		http_waiter_remove(hr->srv, hr->run_id, w);
	hr->on_gone = NULL;
	http_req_unref(hr);
}

/* The client of a waiter went away. */
static void
runs_waiter_gone(struct http_req *hr)
{
	runs_waiter_done(hr->data);
}

/* Makes the request a waiter on its run. */
static struct http_waiter *
runs_waiter_new(struct http_req *hr, int stream)
{
	struct http_waiter *w = xcalloc(1, sizeof *w);

	w->hr = hr;
	w->stream = stream;
	hr->data = w;
	hr->free_data = runs_waiter_free;
	hr->on_gone = runs_waiter_gone;
	http_req_ref(hr);
	http_req_hold(hr);
	http_waiter_add(hr->srv, hr->run_id, w);
	return w;
}

/* A long poll's time is up: the run as it is now. */
static void
runs_poll_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_waiter *w = arg;

	runs_reply_run(w->hr, w->hr->run_id);
	runs_waiter_done(w);
}

void
http_runs_get(struct http_req *hr, char **args)
{
	struct http_waiter *w;
	struct run_rec r;
	struct timeval tv;
	const char *s;
	long long ms = 0;
	int final;

	if ((s = http_query(hr, "wait")) != NULL &&
	    (ms = runs_number(s)) < 0) {
		http_error(hr, "bad_request", "wait: expected milliseconds");
		return;
	}
	if (runs_load(hr, args[0], &r) != 0)
		return;
	final = run_state_is_final(r.state);
	run_rec_clear(&r);
	if (ms == 0 || final) {
		runs_reply_run(hr, args[0]);
		return;
	}
	if (ms > RUNS_WAIT_MAX_MS)
		ms = RUNS_WAIT_MAX_MS;
	w = runs_waiter_new(hr, 0);
	w->timer = evtimer_new(hr->srv->base, runs_poll_timer_cb, w);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(w->timer, &tv);
}

/* Sends one Server-Sent Event. */
static void
runs_sse(struct http_req *hr, const char *event, const json_t *data)
{
	char *s = json_dumps(data, JSON_COMPACT);
	char *msg = xasprintf("event: %s\ndata: %s\n\n", event, s);

	http_stream_send(hr, msg, strlen(msg));
	free(msg);
	free(s);
}

/* What runs_sse_logs sends to. */
struct runs_sse_to {
	struct http_waiter	*w;
	int64_t			 until;
	const char		*step;	/* the transition's, or NULL */
};

/*
 * Whether a log line (logged at, by step) goes before a transition (at
 * t_at, of t_step) in a stream. Times are in ms, so a step's last line,
 * its success and the next step's first line may share one: in that ms
 * only the transition's own step's lines go first.
 */
static int
runs_log_before(int64_t at, const char *step, int64_t t_at,
    const char *t_step)
{
	if (at != t_at)
		return at < t_at;
	return step != NULL && t_step != NULL && strcmp(step, t_step) == 0;
}

/* Sends one log line as "event: log", and remembers it was sent; stops
 * at a line that goes after the transition (until, step). */
static int
runs_sse_log_cb(const struct log_rec *l, void *arg)
{
	struct runs_sse_to *to = arg;
	json_t *o;

	if (!runs_log_before(l->at, l->step, to->until, to->step))
		return 1;
	o = runjson_log(l);
	runs_sse(to->w->hr, "log", o);
	json_decref(o);
	to->w->log_after = l->id;
	return 0;
}

/* Sends the stored log lines the stream has not sent yet, logged at or
 * before until: they are committed with the transition that ends their
 * attempt (or with a later one), and go before it. */
static void
runs_sse_logs(struct http_waiter *w, const char *run_id, int64_t until,
    const char *step)
{
	struct runs_sse_to to = { w, until, step };
	struct orc_error err;

	if (store_list_logs(w->hr->srv->store, run_id, w->log_after,
	    runs_sse_log_cb, &to, &err) != 0)
		log_warn("%s: run %s: %s", __func__, run_id, err.message);
}

/* A stream's replay of what is stored: the transitions, each after the
 * log lines written before it. */
struct runs_replay {
	struct http_waiter	*w;
	const json_t		*logs;
	size_t			 next;
	int64_t			 last_at;	/* of the last transition */
};

/* Sends the stored log lines up to at, then a stored transition. */
static int
runs_sse_stored_cb(const struct transition_rec *t, void *arg)
{
	struct runs_replay *rp = arg;
	const json_t *l;
	json_t *o = runjson_transition(t);

	while ((l = json_array_get(rp->logs, rp->next)) != NULL &&
	    runs_log_before(json_integer_value(json_object_get(l, "at")),
	    json_string_value(json_object_get(l, "step")), t->at, t->step)) {
		runs_sse(rp->w->hr, "log", l);
		rp->w->log_after = json_integer_value(json_object_get(l,
		    "id"));
		rp->next++;
	}
	runs_sse(rp->w->hr, "transition", o);
	json_decref(o);
	rp->last_at = t->at;
	return 0;
}

/* The last event of a stream: the run's final state. */
static void
runs_sse_finished(struct http_req *hr, const char *id, enum run_state state,
    const char *error, const json_t *output)
{
	json_t *o = json_pack("{ssss}", "run_id", id, "state",
	    run_state_name(state));

	json_object_set_new(o, "error", error ? json_string(error) :
	    json_null());
	json_object_set(o, "output", output ? (json_t *)output : json_null());
	runs_sse(hr, "finished", o);
	json_decref(o);
	http_stream_end(hr);
}

void
http_runs_events(struct http_req *hr, char **args)
{
	struct http_waiter w0;
	struct runs_replay rp;
	struct orc_error err;
	struct run_rec r;
	json_t *logs;
	int rc;

	if (runs_load(hr, args[0], &r) != 0)
		return;
	http_stream_start(hr);
	if (!hr->streaming) {
		/* HEAD: answered with the headers alone. */
		run_rec_clear(&r);
		return;
	}
	memset(&w0, 0, sizeof w0);
	w0.hr = hr;
	rp.w = &w0;
	rp.next = 0;
	rp.last_at = 0;
	rp.logs = logs = runjson_logs(hr->srv->store, r.id, 0, &err);
	rc = logs == NULL || store_list_transitions(hr->srv->store, r.id,
	    runs_sse_stored_cb, &rp, &err) != 0;
	json_decref(logs);
	/*
	 * Lines committed while the transitions were read come next; those
	 * of changes not observed yet wait for their transition, unless the
	 * run is over.
	 */
	if (rc == 0)
		runs_sse_logs(&w0, r.id, run_state_is_final(r.state) ?
		    INT64_MAX : rp.last_at, NULL);
	if (rc != 0 || run_state_is_final(r.state))
		runs_sse_finished(hr, r.id, r.state, r.error, r.output);
	else
		runs_waiter_new(hr, 1)->log_after = w0.log_after;
	run_rec_clear(&r);
}

void
http_runs_logs(struct http_req *hr, char **args)
{
	struct orc_error err;
	struct run_rec r;
	const char *s;
	long long after = 0;
	json_t *a, *o;

	if ((s = http_query(hr, "after")) != NULL &&
	    (after = runs_number(s)) < 0) {
		http_error(hr, "bad_request", "after: expected a log line's id");
		return;
	}
	if (runs_load(hr, args[0], &r) != 0)
		return;
	if ((a = runjson_logs(hr->srv->store, r.id, after, &err)) == NULL) {
		err.code = ORC_ESTORE;
		http_error_orc(hr, &err);
	} else {
		o = json_pack("{ssso}", "run_id", r.id, "logs", a);
		http_reply_json(hr, 200, o);
		json_decref(o);
	}
	run_rec_clear(&r);
}

/* Appends one item of a map as {"item", "id", "state", "error"}. */
static int
runs_item_cb(const struct child_rec *c, void *arg)
{
	json_array_append_new(arg, json_pack("{sIssssss?}", "item",
	    (json_int_t)c->item, "id", c->id, "state",
	    run_state_name(c->state), "error", c->error));
	return 0;
}

/* Reads the query of GET /runs/ID/items into f: 0, or -1 (answered). */
static int
runs_items_filter(struct http_req *hr, struct child_filter *f)
{
	const char *s;

	memset(f, 0, sizeof *f);
	f->seq = -1;
	f->after = -1;
	f->step = http_query(hr, "step");
	if (runs_query_state(hr, &f->state) != 0 ||
	    runs_query_limit(hr, &f->limit) != 0)
		return -1;
	if ((s = http_query(hr, "after")) != NULL &&
	    (f->after = runs_number(s)) < 0) {
		http_error(hr, "bad_request", "after: expected an item number");
		return -1;
	}
	return 0;
}

/*
 * GET /runs/ID/items?step=S[&state=ST][&after=N][&limit=M]: a page of the
 * items of the run's map (or parallel) step S, by item number; "next" is
 * the after of the next page, null at the end. Without step, the run's
 * only fan-out step.
 */
void
http_runs_items(struct http_req *hr, char **args)
{
	struct child_filter f;
	struct orc_error err;
	struct run_rec r;
	char *only = NULL;
	json_t *a, *o;
	size_t n;
	int rc = 0;

	if (runs_items_filter(hr, &f) != 0 || runs_load(hr, args[0], &r) != 0)
		return;
	if (f.step == NULL &&
	    (rc = runjson_only_step(hr->srv->store, r.id, &only, &n, &err)) == 0)
		f.step = only;
	a = json_array();
	if (rc != 0) {
		err.code = ORC_ESTORE;
		http_error_orc(hr, &err);
	} else if (f.step == NULL)
		http_error(hr, "bad_request", "step: name the map or parallel "
		    "step (the run has %zu)", n);
	else if (store_list_children(hr->srv->store, r.id, &f, runs_item_cb,
	    a, &err) != 0) {
		err.code = ORC_ESTORE;
		http_error_orc(hr, &err);
	} else {
		o = json_pack("{sssssOso?}", "run_id", r.id, "step", f.step,
		    "items", a, "next", (int)json_array_size(a) == f.limit ?
		    json_integer(json_integer_value(json_object_get(
		    json_array_get(a, json_array_size(a) - 1), "item"))) :
		    NULL);
		http_reply_json(hr, 200, o);
		json_decref(o);
	}
	json_decref(a);
	free(only);
	run_rec_clear(&r);
}

/* A committed transition as its stream event. */
static json_t *
runs_event_json(const struct engine_event *ev)
{
	json_t *o;

	o = json_pack("{sIsssssisisI}", "at", (json_int_t)ev->at,
	    "to", run_state_name(ev->state), "event", ev->event,
	    "seq", ev->seq, "attempt", ev->attempt,
	    "duration_ms", (json_int_t)ev->duration_ms);
	json_object_set_new(o, "step", ev->step ? json_string(ev->step) :
	    json_null());
	json_object_set_new(o, "error", ev->error ? json_string(ev->error) :
	    json_null());
	return o;
}

void
http_runs_event(struct http_server *srv, const struct engine_event *ev)
{
	struct http_waiters *list;
	struct http_waiter *w;
	json_t *o;

	if ((list = hmap_get(srv->waiters, ev->run_id)) == NULL)
		return;
	/* A map's progress: to the streams, not a transition. */
	if (ev->progress != NULL) {
		TAILQ_FOREACH(w, list, entry) {
			if (w->stream)
				runs_sse(w->hr, "item", ev->progress);
		}
		return;
	}
	if (strcmp(ev->event, "finished") != 0) {
		o = runs_event_json(ev);
		TAILQ_FOREACH(w, list, entry) {
			if (!w->stream)
				continue;
			runs_sse_logs(w, ev->run_id, ev->at, ev->step);
			runs_sse(w->hr, "transition", o);
		}
		json_decref(o);
		return;
	}
	/* Every waiter is done; the list goes with the last one. */
	while ((list = hmap_get(srv->waiters, ev->run_id)) != NULL) {
		w = TAILQ_FIRST(list);
		if (w->stream) {
			runs_sse_logs(w, ev->run_id, INT64_MAX, NULL);
			runs_sse_finished(w->hr, ev->run_id, ev->state,
			    ev->error, ev->output);
		}
		else
			runs_reply_run(w->hr, ev->run_id);
		runs_waiter_done(w);
	}
}

/* An answer that waits for the commit of what was queued before it. */
struct runs_after {
	struct http_req	*hr;
	char		 id[RUN_ID_LEN + 1];
};

/* The commit landed: the answer shows the change. */
static void
runs_after_cb(void *arg)
{
	struct runs_after *a = arg;

	if (http_req_live(a->hr))
		runs_reply_run(a->hr, a->id);
	http_req_unref(a->hr);
	free(a);
}

/* Answers once what the engine queued is committed, so the answer shows
 * the change: a callback behind it in the store's queue, not a commit on
 * the loop (the loop waits for no disk). */
static void
runs_reply_after(struct http_req *hr, const char *id)
{
	struct runs_after *a = xcalloc(1, sizeof *a);
	struct store_change ch;

	a->hr = hr;
	snprintf(a->id, sizeof a->id, "%s", id);
	http_req_ref(hr);
	http_req_hold(hr);
	memset(&ch, 0, sizeof ch);
	ch.cb = runs_after_cb;
	ch.arg = a;
	store_submit(hr->srv->store, &ch);
}

/* Reads retry's optional body {"from_step", "input", "latest"}. */
static json_t *
runs_retry_body(struct http_req *hr)
{
	json_error_t jerr;
	size_t len;
	char *s = http_body(hr, &len);
	json_t *o;

	if (len == 0)
		o = json_object();
	else if ((o = json_loadb(s, len, 0, &jerr)) == NULL)
		http_error(hr, "bad_json", "body is not a JSON object: %s at "
		    "line %d column %d", jerr.text, jerr.line, jerr.column);
	else if (json_unpack_ex(o, &jerr, JSON_STRICT, "{s?s,s?o,s?b}",
	    "from_step", &(const char *){ NULL }, "input", &(json_t *){ NULL },
	    "latest", &(int){ 0 }) != 0) {
		http_error(hr, "invalid_input", "retry body: %s", jerr.text);
		json_decref(o);
		o = NULL;
	}
	free(s);
	return o;
}

void
http_runs_retry(struct http_req *hr, char **args)
{
	struct engine_redrive rd;
	struct orc_error err;
	struct run_rec r;
	json_t *body;

	if ((body = runs_retry_body(hr)) == NULL)
		return;
	if (runs_load(hr, args[0], &r) != 0) {
		json_decref(body);
		return;
	}
	memset(&rd, 0, sizeof rd);
	rd.from_step = json_string_value(json_object_get(body, "from_step"));
	rd.input = json_object_get(body, "input");
	orc_error_clear(&err);
	if (json_is_true(json_object_get(body, "latest")) &&
	    (rd.latest = http_workflow_by_name(hr->srv, r.workflow)) == NULL)
		orc_error_set(&err, ORC_ENOTFOUND, "workflow %s is not loaded",
		    r.workflow);
	if (err.code != 0 || engine_redrive(hr->srv->engine, r.id, &rd, NULL,
	    &err) != 0)
		http_error_orc(hr, &err);
	else
		runs_reply_after(hr, r.id);
	run_rec_clear(&r);
	json_decref(body);
}

void
http_runs_cancel(struct http_req *hr, char **args)
{
	struct orc_error err;
	json_t *o;

	orc_error_clear(&err);
	switch (engine_cancel(hr->srv->engine, args[0], &err)) {
	case 0:
		runs_reply_after(hr, args[0]);
		break;
	case 1:
		/* Another node runs it and takes the request. */
		o = json_pack("{ssssss}", "id", args[0], "cancel", "requested",
		    "message", err.message);
		http_reply_json(hr, 202, o);
		json_decref(o);
		break;
	default:
		http_error_orc(hr, &err);
	}
}

/* A signal or callback: its JSON body (empty: {}), and the key that makes
 * a repeat of it answer as it did. */
struct runs_delivery {
	json_t		*body;
	const char	*key;		/* Idempotency-Key, or NULL */
	char		 sha[65];	/* of the body as sent */
};

/*
 * Reads a signal's or callback's body; with an Idempotency-Key used on
 * this path already, answers as the first request did (the same body) or
 * with 409 (another). 0: deliver it; -1: answered (d->body is NULL).
 */
static int
runs_delivery_read(struct http_req *hr, const char *what,
    struct runs_delivery *d)
{
	struct request_key rk;
	struct orc_error err;
	json_error_t jerr;
	size_t len;
	char *s = http_body(hr, &len);
	int found = 0;

	orc_sha256_hex(s, len, d->sha);
	d->key = http_header(hr, "Idempotency-Key");
	d->body = len == 0 ? json_object() : json_loadb(s, len,
	    JSON_DECODE_ANY, &jerr);
	free(s);
	if (d->body == NULL) {
		http_error(hr, "bad_json", "%s body is not JSON: %s at line %d "
		    "column %d", what, jerr.text, jerr.line, jerr.column);
		return -1;
	}
	if (d->key != NULL && (found = store_request_key_get(hr->srv->store,
	    hr->path, d->key, orc_now_ms() - ENGINE_KEY_TTL_MS, &rk,
	    &err)) != 0) {
		if (found < 0)
			http_error_orc(hr, &err);
		else if (strcmp(rk.body_sha, d->sha) != 0)
			http_error(hr, "conflict", "Idempotency-Key %s was "
			    "used for this %s with another body", d->key,
			    what);
		else {
			http_add_header(hr, "Idempotent-Replayed", "true");
			runs_reply_run(hr, rk.run_id);
		}
		json_decref(d->body);
		d->body = NULL;
		return -1;
	}
	return 0;
}

/* A delivery to run id is made: its key is kept for a repeat, and the
 * answer is the run once committed. */
static void
runs_delivered(struct http_req *hr, struct runs_delivery *d, const char *id)
{
	struct request_key rk;

	if (d->key != NULL) {
		memset(&rk, 0, sizeof rk);
		snprintf(rk.run_id, sizeof rk.run_id, "%s", id);
		memcpy(rk.body_sha, d->sha, sizeof rk.body_sha);
		store_request_key_put(hr->srv->store, hr->path, d->key, &rk,
		    orc_now_ms() - ENGINE_KEY_TTL_MS);
	}
	runs_reply_after(hr, id);
}

/* POST /runs/ID/signals/STEP: the JSON body (empty: {}) is the output of
 * the step the run waits on; answered with the run once committed. */
void
http_runs_signal(struct http_req *hr, char **args)
{
	struct runs_delivery d;
	struct orc_error err;

	if (runs_delivery_read(hr, "signal", &d) != 0)
		return;
	orc_error_clear(&err);
	if (engine_signal(hr->srv->engine, args[0], args[1], d.body, NULL,
	    &err) != 0)
		http_error_orc(hr, &err);
	else
		runs_delivered(hr, &d, args[0]);
	json_decref(d.body);
}

/* Delivers a callback; answers the run once committed. A callback that
 * came early, or a run another process holds, is worth a retry soon. */
static void
runs_callback(struct http_req *hr, const char *token,
    const struct engine_callback *cb, struct runs_delivery *d)
{
	struct orc_error err;
	char id[RUN_ID_LEN + 1] = "";

	orc_error_clear(&err);
	if (engine_callback(hr->srv->engine, token, cb, id, &err) == 0) {
		runs_delivered(hr, d, id);
		return;
	}
	if (err.code == ORC_EBUSY)
		http_add_header(hr, "Retry-After", "1");
	http_error_orc(hr, &err);
}

/* Reads a callback of this kind and delivers it: /fail's body must be
 * {"error": "why", "retryable": false}. */
static void
runs_callback_read(struct http_req *hr, const char *token,
    enum engine_callback_kind kind)
{
	struct engine_callback cb;
	struct runs_delivery d;
	json_error_t jerr;

	if (runs_delivery_read(hr, "callback", &d) != 0)
		return;
	memset(&cb, 0, sizeof cb);
	cb.kind = kind;
	cb.body = d.body;
	if (kind == ENGINE_CALLBACK_FAIL && json_unpack_ex(d.body, &jerr,
	    JSON_STRICT, "{s:s,s?b}", "error", &cb.error, "retryable",
	    &cb.retryable) != 0)
		http_error(hr, "bad_request", "a failing callback's body is "
		    "{\"error\": \"why\", \"retryable\": false}: %s",
		    jerr.text);
	else
		runs_callback(hr, token, &cb, &d);
	json_decref(d.body);
}

/* POST /callbacks/TOKEN: the JSON body (empty: {}) is the step's output. */
void
http_callback_post(struct http_req *hr, char **args)
{
	runs_callback_read(hr, args[0], ENGINE_CALLBACK_SUCCEED);
}

/* POST /callbacks/TOKEN/fail: the step fails, retried or not. */
void
http_callback_fail(struct http_req *hr, char **args)
{
	runs_callback_read(hr, args[0], ENGINE_CALLBACK_FAIL);
}

/* POST /callbacks/TOKEN/heartbeat: the wait goes on, timeout_ms more. */
void
http_callback_heartbeat(struct http_req *hr, char **args)
{
	runs_callback_read(hr, args[0], ENGINE_CALLBACK_HEARTBEAT);
}

/* Collects the ids of a bulk retry. */
static int
runs_collect_cb(const struct run_rec *r, void *arg)
{
	json_array_append_new(arg, json_string(r->id));
	return 0;
}

void
http_runs_bulk_retry(struct http_req *hr, char **args)
{
	struct engine_redrive rd;
	struct run_filter f;
	struct orc_error err;
	json_t *ids, *o;
	size_t i;
	int n = 0;

	if (runs_filter(hr, &f) != 0)
		return;
	if (f.state < 0)
		f.state = RUN_FAILED;
	if (f.state != RUN_FAILED && f.state != RUN_CANCELLED) {
		http_error(hr, "bad_request", "state: only failed or cancelled "
		    "runs can be retried");
		return;
	}
	f.limit = RUNS_BULK_MAX;
	ids = json_array();
	if (store_list_runs(hr->srv->store, &f, runs_collect_cb, ids, &err) !=
	    0) {
		err.code = ORC_ESTORE;
		http_error_orc(hr, &err);
		json_decref(ids);
		return;
	}
	memset(&rd, 0, sizeof rd);
	for (i = 0; i < json_array_size(ids); i++) {
		if (engine_redrive(hr->srv->engine, json_string_value(
		    json_array_get(ids, i)), &rd, NULL, NULL) == 0)
			n++;
	}
	json_decref(ids);
	o = json_pack("{si}", "retried", n);
	http_reply_json(hr, 200, o);
	json_decref(o);
}
