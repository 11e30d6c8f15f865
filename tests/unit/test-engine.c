/*
 * Tests of the engine on a real libevent loop with a real SQLite store in
 * the test's temporary folder, running real workflows (loaded from text)
 * made of the built-in steps: json.decode, json.encode, transform, wait
 * and bucket.put. Each test drives the loop until the runs it expects have
 * finished (a safety timer fails it after 10 s), then checks what the
 * callbacks said and what the store holds: runs, steps and transitions.
 * Resume is tested by freeing an engine in the middle of its runs, handing
 * their leases to a dead owner with SQL, and resuming them in a second
 * engine on the same store.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>

#include "conf.h"
#include "diag.h"
#include "engine.h"
#include "log.h"
#include "orchestrator.h"
#include "store.h"
#include "workflow.h"
#include "test.h"

#define DB		"engine.db"
#define MAX_RESULTS	16
#define SAFETY_MS	10000

/* What the callbacks said about one run. */
struct result {
	char		 id[RUN_ID_LEN + 1];
	enum run_state	 state;
	char		*error;
	json_t		*output;
	int		 accepted;
	int		 finished;
};

/* One test's loop, store, engine and what its runs reported. */
struct tctx {
	struct event_base	*base;
	struct store		*store;
	struct engine		*engine;
	struct event		*safety;
	int			 timed_out;
	int			 want;		/* finished runs to wait for */
	int			 nfinished;
	int			 naccepted;
	struct result		 results[MAX_RESULTS];
	size_t			 nresults;
	/* Cancel this run from a timer (the cancel test). */
	char			 cancel_id[RUN_ID_LEN + 1];
	int			 cancel_rv;
	struct orc_error	 cancel_err;
};

/* The result slot of a run, made on first sight. */
static struct result *
result_of(struct tctx *t, const char *id)
{
	size_t i;

	for (i = 0; i < t->nresults; i++)
		if (strcmp(t->results[i].id, id) == 0)
			return &t->results[i];
	if (t->nresults == MAX_RESULTS) {
		fprintf(stderr, "too many runs\n");
		exit(99);
	}
	memset(&t->results[t->nresults], 0, sizeof t->results[0]);
	snprintf(t->results[t->nresults].id, RUN_ID_LEN + 1, "%s", id);
	return &t->results[t->nresults++];
}

/* The watch callback for "the run is committed". */
static void
accepted_cb(const struct engine_result *r, void *arg)
{
	struct tctx *t = arg;

	result_of(t, r->run_id)->accepted++;
	t->naccepted++;
}

/* The watch callback for "final": records it, stops the loop when all
 * awaited runs are done. */
static void
finished_cb(const struct engine_result *r, void *arg)
{
	struct tctx *t = arg;
	struct result *res = result_of(t, r->run_id);

	res->finished++;
	res->state = r->state;
	free(res->error);
	res->error = r->error ? xstrdup(r->error) : NULL;
	json_decref(res->output);
	res->output = r->output ? json_deep_copy(r->output) : NULL;
	if (++t->nfinished >= t->want)
		event_base_loopexit(t->base, NULL);
}

/* Fires when a test waited too long. */
static void
safety_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tctx *t = arg;

	t->timed_out = 1;
	fprintf(stderr, "safety timer: %d of %d runs finished\n",
	    t->nfinished, t->want);
	event_base_loopbreak(t->base);
}

/* Opens the loop, the store and an engine in the current folder. */
static int
setup(struct tctx *t)
{
	struct engine_config cfg;
	struct orc_error err;

	memset(t, 0, sizeof *t);
	if ((t->base = event_base_new()) == NULL)
		return -1;
	if ((t->store = store_open(DB, 0, t->base, &err)) == NULL) {
		fprintf(stderr, "store_open: %s\n", err.message);
		event_base_free(t->base);
		return -1;
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.buckets_dir = "buckets";
	cfg.lease_ms = 30000;
	t->engine = engine_create(t->base, t->store, &cfg);
	t->safety = evtimer_new(t->base, safety_cb, t);
	return 0;
}

/* Frees everything setup() made and the results. */
static void
teardown(struct tctx *t)
{
	size_t i;

	engine_free(t->engine);
	store_close(t->store);
	event_free(t->safety);
	event_base_free(t->base);
	for (i = 0; i < t->nresults; i++) {
		free(t->results[i].error);
		json_decref(t->results[i].output);
	}
}

/* The watch every test uses. */
static struct engine_watch
watch(struct tctx *t)
{
	struct engine_watch w = { accepted_cb, finished_cb, t };

	return w;
}

/* Runs the loop until n runs (in total) finished; 0, or -1 on timeout. */
static int
drive(struct tctx *t, int n)
{
	struct timeval tv = { SAFETY_MS / 1000, 0 };

	t->want = n;
	if (t->nfinished >= n)
		return 0;
	evtimer_add(t->safety, &tv);
	event_base_dispatch(t->base);
	evtimer_del(t->safety);
	return t->timed_out ? -1 : 0;
}

/* Turns the loop until nothing waits to be committed (commits finish on
 * the store's thread: one turn of the loop may not see them). */
static void
settle(struct tctx *t)
{
	int i;

	event_base_loop(t->base, EVLOOP_NONBLOCK);
	for (i = 0; i < 1000 && store_pending(t->store) > 0; i++)
		event_base_loop(t->base, EVLOOP_ONCE);
}

/* Loads a workflow from text; NULL (and the problems printed) if bad. */
static struct workflow *
load(const char *text)
{
	struct diag *d = diag_create();
	struct workflow *wf;
	size_t i;

	wf = workflow_load_text(text, strlen(text), "wf.json", d);
	for (i = 0; i < diag_count(d); i++)
		fprintf(stderr, "  diag: %s\n", diag_at(d, i));
	diag_free(d);
	return wf;
}

/* Submits a run of wf with input given as JSON text. */
static int
submit(struct tctx *t, struct workflow *wf, const char *input_text,
    char id[RUN_ID_LEN + 1], struct orc_error *err)
{
	struct engine_watch w = watch(t);
	json_t *input, *trigger;
	int rv;

	if ((input = json_loads(input_text, JSON_DECODE_ANY, NULL)) == NULL) {
		fprintf(stderr, "bad test input %s\n", input_text);
		return -1;
	}
	trigger = json_pack("{ss}", "source", "test");
	rv = engine_submit(t->engine, wf, input, trigger, &w, id, err);
	json_decref(trigger);
	json_decref(input);
	return rv;
}

/* Appends each transition as "event" (or "event@step") to a string. */
struct tr_list {
	char	 text[2048];
	int	 count;
	int	 bad_order;
	int64_t	 last_id;
	int64_t	 last_at;
	int	 last_to;
};

static int
tr_cb(const struct transition_rec *tr, void *arg)
{
	struct tr_list *l = arg;
	size_t len = strlen(l->text);

	snprintf(l->text + len, sizeof l->text - len, "%s%s",
	    len ? "," : "", tr->event ? tr->event : "?");
	/* Rows come in order, and each starts where the last one ended. */
	if (l->count > 0 && (tr->id <= l->last_id || tr->at < l->last_at ||
	    tr->from_state != l->last_to))
		l->bad_order++;
	if (l->count == 0 && tr->from_state != -1)
		l->bad_order++;
	l->last_id = tr->id;
	l->last_at = tr->at;
	l->last_to = (int)tr->to_state;
	l->count++;
	return 0;
}

/* A run's transitions as "created,started,..."; "" when none. */
static void
transitions(struct tctx *t, const char *id, struct tr_list *l)
{
	struct orc_error err;

	memset(l, 0, sizeof *l);
	if (store_list_transitions(t->store, id, tr_cb, l, &err) != 0)
		fprintf(stderr, "store_list_transitions: %s\n", err.message);
}

/* A run's finished step visits, copied. */
struct step_list {
	struct step_rec	 rows[16];
	int		 count;
};

static int
step_cb(const struct step_rec *sr, void *arg)
{
	struct step_list *l = arg;
	struct step_rec *d;

	if (l->count == 16)
		return 1;
	d = &l->rows[l->count++];
	*d = *sr;
	d->name = sr->name ? xstrdup(sr->name) : NULL;
	d->output = sr->output ? json_incref(sr->output) : NULL;
	return 0;
}

static void
steps_of(struct tctx *t, const char *id, struct step_list *l)
{
	struct orc_error err;

	memset(l, 0, sizeof *l);
	if (store_list_steps(t->store, id, step_cb, l, &err) != 0)
		fprintf(stderr, "store_list_steps: %s\n", err.message);
}

static void
steps_free(struct step_list *l)
{
	int i;

	for (i = 0; i < l->count; i++)
		step_rec_clear(&l->rows[i]);
	l->count = 0;
}

/* Counts the visits of a step by name. */
static int
step_visits(const struct step_list *l, const char *name,
    const struct step_rec **last)
{
	int i, n = 0;

	for (i = 0; i < l->count; i++)
		if (l->rows[i].name != NULL &&
		    strcmp(l->rows[i].name, name) == 0) {
			n++;
			if (last != NULL)
				*last = &l->rows[i];
		}
	return n;
}

/* Whether a JSON value equals the one given as text. */
static int
json_is(const json_t *v, const char *text)
{
	json_t *want = json_loads(text, JSON_DECODE_ANY, NULL);
	int eq;

	if (want == NULL) {
		fprintf(stderr, "bad expected JSON %s\n", text);
		return 0;
	}
	eq = v != NULL && json_equal(v, want);
	if (!eq) {
		char *got = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;

		fprintf(stderr, "JSON %s != %s\n", got ? got : "(null)", text);
		free(got);
	}
	json_decref(want);
	return eq;
}

/* Counts the runs the store lists. */
static int
count_cb(const struct run_rec *r, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static int
count_runs(struct tctx *t)
{
	struct run_filter f;
	struct orc_error err;
	int n = 0;

	memset(&f, 0, sizeof f);
	f.state = -1;
	if (store_list_runs(t->store, &f, count_cb, &n, &err) != 0)
		return -1;
	return n;
}

static const char wf_three[] =
    "{ \"name\": \"three\","
    "  \"input\": { \"type\": \"object\", \"required\": [\"a\", \"b\"] },"
    "  \"steps\": ["
    "    { \"name\": \"decode\", \"uses\": \"json.decode\" },"
    "    { \"name\": \"shape\", \"uses\": \"transform\", \"with\": {"
    "        \"a\": \"{{input.a}}\", \"b\": \"{{steps.decode.b}}\","
    "        \"run\": \"{{run.id}}\" } },"
    "    { \"name\": \"encode\", \"uses\": \"json.encode\","
    "      \"with\": { \"sort_keys\": true } }"
    "  ] }";

/* Three steps: output, steps rows and the timeline in the store. */
static void
test_engine_three_steps(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct run_rec rec;
	struct step_list sl;
	struct tr_list tl;
	struct result *r;
	char id[RUN_ID_LEN + 1], *want;
	int64_t before = orc_now_ms();

	REQUIRE(setup(&t) == 0);
	wf = load(wf_three);
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{\"a\": 2, \"b\": \"x\"}", id, &err) == 0);
	CHECK(engine_active(t.engine) == 1);
	CHECK(drive(&t, 1) == 0);
	r = result_of(&t, id);
	CHECK(r->accepted == 1);
	CHECK(r->finished == 1);
	CHECK(r->state == RUN_SUCCEEDED);
	CHECK(r->error == NULL);
	want = xasprintf("\"{\\\"a\\\":2,\\\"b\\\":\\\"x\\\",\\\"run\\\":"
	    "\\\"%s\\\"}\"", id);
	CHECK(json_is(r->output, want));
	CHECK(engine_active(t.engine) == 0);

	memset(&rec, 0, sizeof rec);
	REQUIRE(store_get_run(t.store, id, &rec, &err) == 0);
	CHECK(rec.state == RUN_SUCCEEDED);
	CHECK_STR(rec.workflow, "three");
	CHECK_STR(rec.def_hash, workflow_hash(wf));
	CHECK(json_is(rec.output, want));
	CHECK(json_is(rec.input, "{\"a\": 2, \"b\": \"x\"}"));
	CHECK(rec.error == NULL);
	CHECK(rec.step == NULL);
	CHECK(rec.seq == 3);
	CHECK(rec.created_at >= before && rec.finished_at >= rec.created_at);
	run_rec_clear(&rec);
	free(want);

	steps_of(&t, id, &sl);
	REQUIRE(sl.count == 3);
	CHECK_STR(sl.rows[0].name, "decode");
	CHECK_STR(sl.rows[1].name, "shape");
	CHECK_STR(sl.rows[2].name, "encode");
	CHECK(sl.rows[0].seq == 0 && sl.rows[1].seq == 1 &&
	    sl.rows[2].seq == 2);
	CHECK(sl.rows[0].attempts == 1 && sl.rows[2].attempts == 1);
	CHECK(json_is(sl.rows[0].output, "{\"a\": 2, \"b\": \"x\"}"));
	CHECK(json_object_size(sl.rows[1].output) == 3);
	CHECK(sl.rows[0].started_at >= before);
	CHECK(sl.rows[1].finished_at >= sl.rows[1].started_at);
	steps_free(&sl);

	transitions(&t, id, &tl);
	CHECK_STR(tl.text, "created,started,step_succeeded,step_succeeded,"
	    "succeeded");
	CHECK(tl.bad_order == 0);
	CHECK(tl.last_to == RUN_SUCCEEDED);
	workflow_unref(wf);
	teardown(&t);
}

static const char wf_ahead[] =
    "{ \"name\": \"ahead\","
    "  \"steps\": ["
    "    { \"name\": \"decode\", \"uses\": \"json.decode\" },"
    "    { \"name\": \"pause\", \"uses\": \"wait\","
    "      \"with\": { \"ms\": 1000, \"durable\": false } },"
    "    { \"name\": \"shape\", \"uses\": \"transform\","
    "      \"with\": { \"n\": \"{{input.n}}\" } },"
    "    { \"name\": \"after\", \"uses\": \"wait\","
    "      \"with\": { \"ms\": 10, \"durable\": false } }"
    "  ] }";

/* For test_engine_run_ahead: calls in flight when each step's success
 * was committed, by step name. */
struct ahead_seen {
	struct engine	*engine;
	int		 decode, pause, shape, after;
};

/* The observer: notes engine_calls() as each step_succeeded commits. */
static void
ahead_observer(const struct engine_event *ev, void *arg)
{
	struct ahead_seen *a = arg;

	if (strcmp(ev->event, "step_succeeded") != 0 || ev->step == NULL)
		return;
	if (strcmp(ev->step, "decode") == 0)
		a->decode = (int)engine_calls(a->engine);
	else if (strcmp(ev->step, "pause") == 0)
		a->pause = (int)engine_calls(a->engine);
	else if (strcmp(ev->step, "shape") == 0)
		a->shape = (int)engine_calls(a->engine);
}

/*
 * Pure steps run ahead of the commits: a step after a pure one starts
 * before the pure step's success is committed when nothing else of the
 * run awaits a commit (decode -> pause); a pure step runs at once after
 * any step (pause -> shape); but a step after a pure one waits when the
 * step before that is not committed yet (shape -> after). The pause is
 * long enough that decode's commit lands while it waits, even under
 * valgrind.
 */
static void
test_engine_run_ahead(void)
{
	struct ahead_seen a = { NULL, -1, -1, -1, -1 };
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct tr_list tl;
	char id[RUN_ID_LEN + 1];

	REQUIRE(setup(&t) == 0);
	a.engine = t.engine;
	engine_set_observer(t.engine, ahead_observer, &a);
	wf = load(wf_ahead);
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{\"n\": 5}", id, &err) == 0);
	CHECK(drive(&t, 1) == 0);
	CHECK(result_of(&t, id)->state == RUN_SUCCEEDED);
	CHECK(a.decode == 1);	/* pause was waiting already */
	CHECK(a.pause == 0);	/* shape ran, after did not start */
	CHECK(a.shape == 0);	/* after starts from this commit */
	transitions(&t, id, &tl);
	CHECK_STR(tl.text, "created,started,step_succeeded,step_succeeded,"
	    "step_succeeded,succeeded");
	CHECK(tl.bad_order == 0);
	workflow_unref(wf);
	teardown(&t);
}

static const char wf_templates[] =
    "{ \"name\": \"templates\","
    "  \"steps\": ["
    "    { \"name\": \"first\", \"uses\": \"transform\", \"with\": {"
    "        \"x\": \"{{input.x}}\", \"nested\": { \"y\": 7 } } },"
    "    { \"name\": \"second\", \"uses\": \"transform\", \"with\": {"
    "        \"from_input\": \"{{input.x}}\","
    "        \"from_step\": \"{{steps.first.nested.y}}\","
    "        \"from_trigger\": \"{{trigger.list[1]}}\","
    "        \"run\": \"{{run.id}}\","
    "        \"text\": \"run {{run.id}} x={{input.x}}\" } }"
    "  ] }";

/* input, steps, trigger and run templates reach the steps. */
static void
test_engine_templates(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct result *r;
	char id[RUN_ID_LEN + 1], *want;

	REQUIRE(setup(&t) == 0);
	wf = load(wf_templates);
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{\"x\": {\"k\": [1, 2]}, \"list\": [\"a\", "
	    "\"b\"]}", id, &err) == 0);
	CHECK(drive(&t, 1) == 0);
	r = result_of(&t, id);
	CHECK(r->state == RUN_SUCCEEDED);
	want = xasprintf("{\"from_input\": {\"k\": [1, 2]}, \"from_step\": 7, "
	    "\"from_trigger\": \"b\", \"run\": \"%s\", "
	    "\"text\": \"run %s x={\\\"k\\\":[1,2]}\"}", id, id);
	CHECK(json_is(r->output, want));
	free(want);
	workflow_unref(wf);
	teardown(&t);
}

/* A template naming nothing fails the run at once, without retries. */
static void
test_engine_template_missing(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct result *r;
	struct run_rec rec;
	struct tr_list tl;
	char id[RUN_ID_LEN + 1];

	REQUIRE(setup(&t) == 0);
	wf = load("{ \"name\": \"missing\","
	    "  \"defaults\": { \"retry\": { \"max_attempts\": 3,"
	    "    \"backoff_ms\": 10 } },"
	    "  \"steps\": ["
	    "    { \"name\": \"ok\", \"uses\": \"transform\" },"
	    "    { \"name\": \"bad\", \"uses\": \"transform\","
	    "      \"with\": { \"v\": \"{{input.nope}}\" } } ] }");
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{\"x\": 1}", id, &err) == 0);
	CHECK(drive(&t, 1) == 0);
	r = result_of(&t, id);
	CHECK(r->state == RUN_FAILED);
	CHECK_CONTAINS(r->error, "{{input.nope}}");
	CHECK_CONTAINS(r->error, "nope");
	CHECK(r->output == NULL);
	memset(&rec, 0, sizeof rec);
	REQUIRE(store_get_run(t.store, id, &rec, &err) == 0);
	CHECK(rec.state == RUN_FAILED);
	CHECK_STR(rec.step, "bad");
	CHECK(rec.attempt == 1);
	CHECK_CONTAINS(rec.error, "{{input.nope}}");
	run_rec_clear(&rec);
	transitions(&t, id, &tl);
	CHECK_STR(tl.text, "created,started,step_succeeded,failed");
	workflow_unref(wf);
	teardown(&t);
}

/* An input that breaks the schema is refused and creates no run. */
static void
test_engine_input_refused(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	char id[RUN_ID_LEN + 1];

	REQUIRE(setup(&t) == 0);
	wf = load(wf_three);
	REQUIRE(wf != NULL);
	orc_error_clear(&err);
	memset(id, 0, sizeof id);
	CHECK(submit(&t, wf, "{\"a\": 2}", id, &err) == -1);
	CHECK(err.code == ORC_EINVAL);
	CHECK_CONTAINS(err.message, "b");
	CHECK(submit(&t, wf, "[1, 2]", id, &err) == -1);
	CHECK(engine_active(t.engine) == 0);
	/* Give the loop a chance to commit anything it might have queued. */
	event_base_loop(t.base, EVLOOP_NONBLOCK);
	CHECK(store_flush(t.store, NULL) == 0);
	CHECK(store_pending(t.store) == 0);
	CHECK(count_runs(&t) == 0);
	CHECK(t.naccepted == 0);
	workflow_unref(wf);
	teardown(&t);
}

/* Reads a file and parses it as JSON. */
static json_t *
read_json(const char *path)
{
	char *text;
	json_t *v;

	if ((text = orc_read_file(path, NULL, NULL)) == NULL)
		return NULL;
	v = json_loads(text, 0, NULL);
	free(text);
	return v;
}

/* Timeouts retry with backoff, then fail; on_failure gets the letter. */
static void
test_engine_step_timeout_dead_letter(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct result *r;
	struct run_rec rec;
	struct tr_list tl;
	char id[RUN_ID_LEN + 1], *path;
	json_t *letter;
	int64_t start = orc_mono_ms(), took;

	REQUIRE(setup(&t) == 0);
	wf = load("{ \"name\": \"slow\","
	    "  \"allow\": { \"buckets\": [\"dead\"] },"
	    "  \"steps\": ["
	    "    { \"name\": \"sleepy\", \"uses\": \"wait\","
	    "      \"with\": { \"ms\": 2000, \"durable\": false }, \"timeout_ms\": 50,"
	    "      \"retry\": { \"max_attempts\": 3, \"backoff_ms\": 10,"
	    "        \"jitter\": false } } ],"
	    "  \"on_failure\": { \"uses\": \"bucket.put\","
	    "    \"with\": { \"bucket\": \"dead\","
	    "      \"key\": \"letters/{{run.id}}.json\" } } }");
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{\"order\": 12}", id, &err) == 0);
	CHECK(drive(&t, 1) == 0);
	took = orc_mono_ms() - start;
	/* Three attempts of 50 ms, not one of 2000. */
	CHECK(took >= 150);
	CHECK(took < 1900);
	r = result_of(&t, id);
	CHECK(r->finished == 1);
	CHECK(r->state == RUN_FAILED);
	CHECK_CONTAINS(r->error, "sleepy");
	CHECK_CONTAINS(r->error, "timed out");

	transitions(&t, id, &tl);
	CHECK_STR(tl.text, "created,started,step_timed_out,retried,"
	    "step_timed_out,retried,failed,on_failure_succeeded");
	CHECK(tl.bad_order == 0);

	memset(&rec, 0, sizeof rec);
	REQUIRE(store_get_run(t.store, id, &rec, &err) == 0);
	CHECK(rec.state == RUN_FAILED);
	CHECK(rec.attempt == 3);
	CHECK(rec.dead == DEAD_DONE);
	CHECK_STR(rec.step, "sleepy");
	run_rec_clear(&rec);

	path = xasprintf("buckets/dead/letters/%s.json", id);
	letter = read_json(path);
	CHECK(letter != NULL);
	if (letter != NULL) {
		CHECK_STR(json_string_value(json_object_get(letter, "run_id")),
		    id);
		CHECK_STR(json_string_value(json_object_get(letter, "step")),
		    "sleepy");
		CHECK_CONTAINS(json_string_value(json_object_get(letter,
		    "error")), "timed out");
		CHECK_STR(json_string_value(json_object_get(letter,
		    "workflow")), "slow");
		CHECK(json_is(json_object_get(letter, "input"),
		    "{\"order\": 12}"));
	}
	json_decref(letter);
	free(path);
	workflow_unref(wf);
	teardown(&t);
}

/* An output that breaks the output schema fails the run. */
static void
test_engine_output_schema(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct result *r;
	struct tr_list tl;
	struct run_rec rec;
	char id[RUN_ID_LEN + 1];

	REQUIRE(setup(&t) == 0);
	wf = load("{ \"name\": \"outcheck\","
	    "  \"output\": { \"type\": \"object\", \"required\": [\"total\"] },"
	    "  \"steps\": [ { \"name\": \"shape\", \"uses\": \"transform\","
	    "    \"with\": { \"sum\": 3 } } ] }");
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{}", id, &err) == 0);
	CHECK(drive(&t, 1) == 0);
	r = result_of(&t, id);
	CHECK(r->state == RUN_FAILED);
	CHECK_CONTAINS(r->error, "output does not match");
	CHECK_CONTAINS(r->error, "total");
	CHECK(r->output == NULL);
	transitions(&t, id, &tl);
	CHECK_STR(tl.text, "created,started,output_invalid");
	memset(&rec, 0, sizeof rec);
	REQUIRE(store_get_run(t.store, id, &rec, &err) == 0);
	CHECK(rec.output == NULL);
	CHECK(rec.dead == DEAD_NONE);
	run_rec_clear(&rec);
	workflow_unref(wf);
	teardown(&t);
}

/* The run's own timeout stops a long step. */
static void
test_engine_run_timeout(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct result *r;
	struct tr_list tl;
	char id[RUN_ID_LEN + 1];
	int64_t start = orc_mono_ms(), took;

	REQUIRE(setup(&t) == 0);
	wf = load("{ \"name\": \"deadline\", \"timeout_ms\": 100,"
	    "  \"steps\": [ { \"name\": \"long\", \"uses\": \"wait\","
	    "    \"with\": { \"ms\": 5000, \"durable\": false } } ] }");
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{}", id, &err) == 0);
	CHECK(drive(&t, 1) == 0);
	took = orc_mono_ms() - start;
	CHECK(took >= 90 && took < 3000);
	r = result_of(&t, id);
	CHECK(r->state == RUN_FAILED);
	CHECK_CONTAINS(r->error, "run timed out");
	transitions(&t, id, &tl);
	CHECK_STR(tl.text, "created,started,run_timed_out");
	workflow_unref(wf);
	teardown(&t);
}

/* Cancels the test's run from the loop. */
static void
cancel_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tctx *t = arg;

	t->cancel_rv = engine_cancel(t->engine, t->cancel_id, &t->cancel_err);
}

/* A cancel while a wait is in flight stops it and finishes the run. */
static void
test_engine_cancel(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct result *r;
	struct tr_list tl;
	struct event *ev;
	struct timeval tv = { 0, 100000 };
	char id[RUN_ID_LEN + 1];
	int64_t start = orc_mono_ms(), took;

	REQUIRE(setup(&t) == 0);
	wf = load("{ \"name\": \"cancelme\","
	    "  \"steps\": [ { \"name\": \"long\", \"uses\": \"wait\","
	    "    \"with\": { \"ms\": 5000, \"durable\": false } } ] }");
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{}", id, &err) == 0);
	memcpy(t.cancel_id, id, sizeof t.cancel_id);
	t.cancel_rv = 99;
	ev = evtimer_new(t.base, cancel_timer_cb, &t);
	evtimer_add(ev, &tv);
	CHECK(drive(&t, 1) == 0);
	took = orc_mono_ms() - start;
	CHECK(took < 3000);
	CHECK(t.cancel_rv == 0);
	r = result_of(&t, id);
	CHECK(r->finished == 1);
	CHECK(r->state == RUN_CANCELLED);
	CHECK_CONTAINS(r->error, "cancel");
	CHECK(engine_active(t.engine) == 0);
	transitions(&t, id, &tl);
	CHECK_STR(tl.text, "created,started,cancelled");

	/* A second cancel is refused: the run is final. */
	orc_error_clear(&err);
	CHECK(engine_cancel(t.engine, id, &err) == -1);
	CHECK(err.code == ORC_ESTATE);
	CHECK(engine_cancel(t.engine, "01ARYZ6S41TSV4RRFFQ69G5FAV", &err) ==
	    -1);
	CHECK(err.code == ORC_ENOTFOUND);
	/* Let anything late run: the finished callback stays at one. */
	event_base_loop(t.base, EVLOOP_NONBLOCK);
	CHECK(r->finished == 1);
	event_free(ev);
	workflow_unref(wf);
	teardown(&t);
}

/* Submits a run of wf and cancels it after ms; waits for the end. */
static int
cancel_after(struct tctx *t, struct workflow *wf, int ms,
    char id[RUN_ID_LEN + 1])
{
	struct orc_error err;
	struct event *ev;
	struct timeval tv;
	int rv;

	if (submit(t, wf, "{}", id, &err) != 0)
		return -1;
	memcpy(t->cancel_id, id, sizeof t->cancel_id);
	t->cancel_rv = 99;
	orc_error_clear(&t->cancel_err);
	ev = evtimer_new(t->base, cancel_timer_cb, t);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
	rv = drive(t, t->nfinished + 1);
	event_free(ev);
	return rv;
}

/* A cancel during a backoff stops the wait for the next attempt. */
static void
test_engine_cancel_retrying(void)
{
	struct tctx t;
	struct workflow *wf;
	struct result *r;
	struct tr_list tl;
	char id[RUN_ID_LEN + 1];
	int64_t start = orc_mono_ms();

	REQUIRE(setup(&t) == 0);
	wf = load("{ \"name\": \"backoff\","
	    "  \"steps\": [ { \"name\": \"slow\", \"uses\": \"wait\","
	    "    \"with\": { \"ms\": 2000, \"durable\": false }, \"timeout_ms\": 50,"
	    "    \"retry\": { \"max_attempts\": 3, \"backoff_ms\": 5000,"
	    "      \"jitter\": false } } ] }");
	REQUIRE(wf != NULL);
	CHECK(cancel_after(&t, wf, 250, id) == 0);
	CHECK(orc_mono_ms() - start < 3000);
	CHECK(t.cancel_rv == 0);
	r = result_of(&t, id);
	CHECK(r->state == RUN_CANCELLED);
	CHECK(r->finished == 1);
	transitions(&t, id, &tl);
	CHECK_STR(tl.text, "created,started,step_timed_out,cancelled");
	workflow_unref(wf);
	teardown(&t);
}

/* A failed run running its on_failure cannot be cancelled any more. */
static void
test_engine_cancel_during_dead_letter(void)
{
	struct tctx t;
	struct workflow *wf;
	struct result *r;
	struct tr_list tl;
	char id[RUN_ID_LEN + 1];

	REQUIRE(setup(&t) == 0);
	wf = load("{ \"name\": \"dying\","
	    "  \"steps\": [ { \"name\": \"bad\", \"uses\": \"transform\","
	    "    \"with\": { \"v\": \"{{input.none}}\" } } ],"
	    "  \"on_failure\": { \"uses\": \"wait\","
	    "    \"with\": { \"ms\": 400, \"durable\": false } } }");
	REQUIRE(wf != NULL);
	CHECK(cancel_after(&t, wf, 150, id) == 0);
	CHECK(t.cancel_rv == -1);
	CHECK(t.cancel_err.code == ORC_ESTATE);
	CHECK_CONTAINS(t.cancel_err.message, "failed");
	r = result_of(&t, id);
	CHECK(r->state == RUN_FAILED);
	transitions(&t, id, &tl);
	CHECK_STR(tl.text, "created,started,failed,on_failure_succeeded");
	workflow_unref(wf);
	teardown(&t);
}

static const char wf_resume[] =
    "{ \"name\": \"resumable\","
    "  \"steps\": ["
    "    { \"name\": \"first\", \"uses\": \"transform\","
    "      \"with\": { \"n\": \"{{input.n}}\" } },"
    "    { \"name\": \"pause\", \"uses\": \"wait\","
    "      \"with\": { \"ms\": 300, \"durable\": false } },"
    "    { \"name\": \"last\", \"uses\": \"transform\","
    "      \"with\": { \"n\": \"{{steps.first.n}}\", \"done\": true } }"
    "  ] }";

/* Runs one SQL statement on the test database, behind the store's back. */
static int
sql_exec(const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	int rc;

	if (sqlite3_open(DB, &db) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "sql_exec: %s\n", msg ? msg : "?");
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* The integer one query on the test database answers, or -1. */
static long long
sql_count(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	long long n = -1;

	if (sqlite3_open(DB, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* Hands every run's lease to an owner on another host, long expired. */
static int
steal_leases(void)
{
	return sql_exec("UPDATE runs SET lease_owner = 'otherhost:1:0000', "
	    "lease_until = 0");
}

static const char wf_sleepy[] =
    "{ \"name\": \"sleepy\","
    "  \"steps\": ["
    "    { \"name\": \"nap\", \"uses\": \"wait\","
    "      \"with\": { \"ms\": 600000, \"durable\": false } }"
    "  ] }";

/* The engine goes away in the middle of the run's step: a restart (it
 * records that it stops) or, crash set, a crash (that record is taken
 * back out of the store, as if the process had died first). Then another
 * engine takes the run over; returns how many runs it took. */
static int
cut_and_take_over(struct tctx *t, int crash)
{
	struct engine_config cfg;
	struct engine_watch w = watch(t);
	struct orc_config conf;
	struct orc_error err;
	int count = -1;

	engine_free(t->engine);
	/* Events are stored as codes (store-row.h): 18 is stopped. */
	if (crash && sql_exec("DELETE FROM transitions WHERE (run_id, n) IN "
	    "(SELECT run_id, n FROM transitions WHERE event = 18 ORDER BY "
	    "at DESC, n DESC LIMIT 1)") != 0)
		return -1;
	if (steal_leases() != 0)
		return -1;
	/* The new engine reads ORCH_CRASH_RESUMES as a command would. */
	if (conf_load(&conf, &err) != 0)
		return -1;
	memset(&cfg, 0, sizeof cfg);
	cfg.buckets_dir = "buckets";
	cfg.conf = &conf;
	t->engine = engine_create(t->base, t->store, &cfg);
	if (engine_resume(t->engine, NULL, NULL, &w, &count, &err) != 0)
		return -1;
	settle(t);
	return count;
}

/* The stored run's state, its dead-letter state in *dead when not NULL;
 * -1 when it cannot be read. */
static int
stored_state(struct tctx *t, const char *id, int *dead)
{
	struct orc_error err;
	struct run_rec rec;
	int state;

	memset(&rec, 0, sizeof rec);
	if (store_get_run(t->store, id, &rec, &err) != 0)
		return -1;
	state = (int)rec.state;
	if (dead != NULL)
		*dead = rec.dead;
	run_rec_clear(&rec);
	return state;
}

/* A step whose process dies every time is resumed ORCH_CRASH_RESUMES times,
 * then its run fails; restarts that stopped first do not count. */
static void
test_engine_crash_loop(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct run_rec rec;
	struct tr_list tl;
	char id[RUN_ID_LEN + 1], id2[RUN_ID_LEN + 1];
	int i;

	setenv("ORCH_CRASH_RESUMES", "2", 1);
	REQUIRE(setup(&t) == 0);
	wf = load(wf_sleepy);
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{}", id, &err) == 0);
	settle(&t);
	settle(&t);
	/* Restarts, as many as you like, and two crashes: still running. */
	for (i = 0; i < 4; i++)
		CHECK(cut_and_take_over(&t, 0) == 1);
	CHECK(cut_and_take_over(&t, 1) == 1);
	CHECK(cut_and_take_over(&t, 0) == 1);
	CHECK(cut_and_take_over(&t, 1) == 1);
	CHECK(stored_state(&t, id, NULL) == RUN_RUNNING);
	CHECK(t.nfinished == 0);
	/* The third crash in that step: it fails, and says why. */
	CHECK(cut_and_take_over(&t, 1) == 1);
	CHECK(drive(&t, 1) == 0);
	memset(&rec, 0, sizeof rec);
	REQUIRE(store_get_run(t.store, id, &rec, &err) == 0);
	CHECK(rec.state == RUN_FAILED);
	CHECK_CONTAINS(rec.error, "step nap: the process running it died 3 "
	    "times before it finished");
	run_rec_clear(&rec);
	transitions(&t, id, &tl);
	/* Four restarts, a crash, a restart, a crash: the third fails it. */
	CHECK_STR(tl.text, "created,started,stopped,resumed,stopped,resumed,"
	    "stopped,resumed,stopped,resumed,resumed,stopped,resumed,resumed,"
	    "failed");
	/* A new run of the same workflow starts its count afresh. */
	REQUIRE(submit(&t, wf, "{}", id2, &err) == 0);
	settle(&t);
	settle(&t);
	CHECK(cut_and_take_over(&t, 1) == 1);
	CHECK(stored_state(&t, id2, NULL) == RUN_RUNNING);
	workflow_unref(wf);
	teardown(&t);
	unsetenv("ORCH_CRASH_RESUMES");
}

/* An on_failure whose process dies every time is resumed as often as a
 * step would be, then fails; the run is done. */
static void
test_engine_crash_loop_dead(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct tr_list tl;
	char id[RUN_ID_LEN + 1];
	int dead;

	setenv("ORCH_CRASH_RESUMES", "1", 1);
	REQUIRE(setup(&t) == 0);
	wf = load("{ \"name\": \"dying\","
	    "  \"steps\": [ { \"name\": \"bad\", \"uses\": \"transform\","
	    "    \"with\": { \"v\": \"{{input.none}}\" } } ],"
	    "  \"on_failure\": { \"uses\": \"wait\","
	    "    \"with\": { \"ms\": 600000, \"durable\": false } } }");
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{}", id, &err) == 0);
	settle(&t);
	settle(&t);
	/* A restart, then a crash: on_failure runs again each time. */
	CHECK(cut_and_take_over(&t, 0) == 1);
	CHECK(cut_and_take_over(&t, 1) == 1);
	CHECK(stored_state(&t, id, &dead) == RUN_FAILED &&
	    dead == DEAD_PENDING);
	CHECK(t.nfinished == 0);
	/* The second crash: on_failure fails, and the run is done. */
	CHECK(cut_and_take_over(&t, 1) == 1);
	CHECK(drive(&t, 1) == 0);
	CHECK(stored_state(&t, id, &dead) == RUN_FAILED &&
	    dead == DEAD_FAILED);
	transitions(&t, id, &tl);
	/* A restart, a crash, a crash: the second gives up. */
	CHECK_STR(tl.text, "created,started,failed,stopped,resumed,resumed,"
	    "on_failure_failed");
	/* 14: on_failure_failed (store-row.h). */
	CHECK(sql_count("SELECT count(*) FROM transitions WHERE event = "
	    "14 AND error LIKE 'on_failure: the process "
	    "running it died 2 times before it finished; it is not run "
	    "again (ORCH_CRASH_RESUMES=1)'") == 1);
	workflow_unref(wf);
	teardown(&t);
	unsetenv("ORCH_CRASH_RESUMES");
}

/* Runs of a dead owner resume in another engine; done steps stay done. */
static void
test_engine_resume(void)
{
	struct tctx t;
	struct engine_config cfg;
	struct engine_watch w;
	struct workflow *wf;
	struct orc_error err;
	struct step_list sl;
	struct tr_list tl;
	struct run_rec rec;
	const struct step_rec *sr;
	char ids[3][RUN_ID_LEN + 1], *want;
	int64_t first_started[3];
	int i, committed, loops, count = -1;

	REQUIRE(setup(&t) == 0);
	wf = load(wf_resume);
	REQUIRE(wf != NULL);
	for (i = 0; i < 3; i++) {
		want = xasprintf("{\"n\": %d}", i);
		REQUIRE(submit(&t, wf, want, ids[i], &err) == 0);
		free(want);
	}
	/* Turn the loop until each run has committed its first step. */
	for (loops = 0, committed = 0; committed < 3 && loops < 1000;
	    loops++) {
		settle(&t);
		for (i = 0, committed = 0; i < 3; i++) {
			steps_of(&t, ids[i], &sl);
			committed += sl.count == 1;
			steps_free(&sl);
		}
		if (committed < 3)
			usleep(1000);
	}
	REQUIRE(committed == 3);
	CHECK(t.nfinished == 0);
	for (i = 0; i < 3; i++) {
		steps_of(&t, ids[i], &sl);
		first_started[i] = sl.count == 1 ? sl.rows[0].started_at : -1;
		steps_free(&sl);
		memset(&rec, 0, sizeof rec);
		REQUIRE(store_get_run(t.store, ids[i], &rec, &err) == 0);
		CHECK(rec.state == RUN_RUNNING);
		CHECK_STR(rec.step, "pause");
		CHECK_STR(rec.lease_owner, engine_owner(t.engine));
		run_rec_clear(&rec);
	}

	/* Engine A goes away in the middle; its owner "dies". */
	engine_free(t.engine);
	t.engine = NULL;
	CHECK(store_pending(t.store) == 0);
	REQUIRE(steal_leases() == 0);

	memset(&cfg, 0, sizeof cfg);
	cfg.buckets_dir = "buckets";
	t.engine = engine_create(t.base, t.store, &cfg);
	w = watch(&t);
	CHECK(engine_resume(t.engine, NULL, NULL, &w, &count, &err) == 0);
	CHECK(count == 3);
	CHECK(engine_active(t.engine) == 3);
	/* The claim is committed at once: B holds the leases now. */
	for (i = 0; i < 3; i++) {
		memset(&rec, 0, sizeof rec);
		REQUIRE(store_get_run(t.store, ids[i], &rec, &err) == 0);
		CHECK_STR(rec.lease_owner, engine_owner(t.engine));
		CHECK(rec.lease_until > orc_now_ms());
		run_rec_clear(&rec);
	}
	CHECK(drive(&t, 3) == 0);
	for (i = 0; i < 3; i++) {
		struct result *r = result_of(&t, ids[i]);

		CHECK(r->finished == 1);
		CHECK(r->state == RUN_SUCCEEDED);
		want = xasprintf("{\"n\": %d, \"done\": true}", i);
		CHECK(json_is(r->output, want));
		free(want);

		steps_of(&t, ids[i], &sl);
		CHECK(sl.count == 3);
		sr = NULL;
		CHECK(step_visits(&sl, "first", &sr) == 1);
		CHECK(sr != NULL && sr->started_at == first_started[i]);
		CHECK(step_visits(&sl, "pause", NULL) == 1);
		CHECK(step_visits(&sl, "last", NULL) == 1);
		steps_free(&sl);

		/* Engine A's stop is recorded: a restart, not a crash. */
		transitions(&t, ids[i], &tl);
		CHECK_STR(tl.text, "created,started,step_succeeded,stopped,"
		    "resumed,step_succeeded,succeeded");
		CHECK(tl.bad_order == 0);

		/* A finished run lets its lease go. */
		memset(&rec, 0, sizeof rec);
		REQUIRE(store_get_run(t.store, ids[i], &rec, &err) == 0);
		CHECK(rec.lease_owner == NULL);
		run_rec_clear(&rec);
	}
	/* Nothing is left to take over. */
	CHECK(engine_resume(t.engine, NULL, NULL, &w, &count, &err) == 0);
	CHECK(count == 0);
	workflow_unref(wf);
	teardown(&t);
}

/* A live owner's runs are not taken over. */
static void
test_engine_resume_live_owner(void)
{
	struct tctx t;
	struct engine_config cfg;
	struct engine *other;
	struct workflow *wf;
	struct orc_error err;
	char id[RUN_ID_LEN + 1];
	int count = -1, loops;
	struct run_rec rec;

	REQUIRE(setup(&t) == 0);
	wf = load(wf_resume);
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{\"n\": 1}", id, &err) == 0);
	memset(&rec, 0, sizeof rec);
	for (loops = 0; loops < 1000; loops++) {
		event_base_loop(t.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		if (store_get_run(t.store, id, &rec, NULL) == 0) {
			run_rec_clear(&rec);
			break;
		}
		usleep(1000);
	}
	/* A second engine in this (live) process, lease not expired. */
	memset(&cfg, 0, sizeof cfg);
	other = engine_create(t.base, t.store, &cfg);
	CHECK(engine_resume(other, NULL, NULL, NULL, &count, &err) == 0);
	CHECK(count == 0);
	engine_free(other);
	CHECK(drive(&t, 1) == 0);
	CHECK(result_of(&t, id)->state == RUN_SUCCEEDED);
	workflow_unref(wf);
	teardown(&t);
}

static const char wf_redrive[] =
    "{ \"name\": \"redrive\","
    "  \"allow\": { \"buckets\": [\"out\"] },"
    "  \"steps\": ["
    "    { \"name\": \"first\", \"uses\": \"transform\","
    "      \"with\": { \"v\": \"{{input.v}}\" } },"
    "    { \"name\": \"put\", \"uses\": \"bucket.put\","
    "      \"retry\": { \"max_attempts\": 1 },"
    "      \"with\": { \"bucket\": \"out\","
    "        \"key\": \"blocked/{{run.id}}.json\" } },"
    "    { \"name\": \"last\", \"uses\": \"transform\","
    "      \"with\": { \"v\": \"{{steps.first.v}}\", \"ok\": true } }"
    "  ] }";

/* Makes bucket "out" unwritable under blocked/ (a file in the way). */
static int
block_bucket(int blocked)
{
	FILE *f;

	if (blocked) {
		if (mkdir("buckets", 0755) != 0 ||
		    mkdir("buckets/out", 0755) != 0 ||
		    (f = fopen("buckets/out/blocked", "w")) == NULL)
			return -1;
		return fclose(f);
	}
	if (unlink("buckets/out/blocked") != 0)
		return -1;
	return mkdir("buckets/out/blocked", 0755);
}

/* Submits a redrive run and waits until it fails at "put". */
static int
failed_run(struct tctx *t, struct workflow *wf, const char *input,
    char id[RUN_ID_LEN + 1])
{
	struct orc_error err;

	if (submit(t, wf, input, id, &err) != 0 ||
	    drive(t, t->nfinished + 1) != 0)
		return -1;
	return result_of(t, id)->state == RUN_FAILED ? 0 : -1;
}

/* A failed run retried from its failed step: earlier steps stay done. */
static void
test_engine_redrive_failed_step(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct engine_redrive rd;
	struct engine_watch w;
	struct step_list sl;
	struct tr_list tl;
	struct result *r;
	const struct step_rec *sr = NULL;
	char id[RUN_ID_LEN + 1], *path;
	int64_t started;

	REQUIRE(setup(&t) == 0);
	wf = load(wf_redrive);
	REQUIRE(wf != NULL);
	REQUIRE(block_bucket(1) == 0);
	REQUIRE(failed_run(&t, wf, "{\"v\": 5}", id) == 0);
	r = result_of(&t, id);
	CHECK_CONTAINS(r->error, "blocked");
	steps_of(&t, id, &sl);
	REQUIRE(sl.count == 1);
	started = sl.rows[0].started_at;
	steps_free(&sl);

	REQUIRE(block_bucket(0) == 0);
	usleep(5000);
	memset(&rd, 0, sizeof rd);
	w = watch(&t);
	orc_error_clear(&err);
	CHECK(engine_redrive(t.engine, id, &rd, &w, &err) == 0);
	if (err.code != ORC_OK)
		fprintf(stderr, "redrive: %s\n", err.message);
	/* While it runs, a second redrive is refused. */
	CHECK(engine_redrive(t.engine, id, &rd, &w, &err) == -1);
	CHECK(err.code == ORC_ESTATE);
	CHECK(drive(&t, 2) == 0);
	CHECK(r->finished == 2);
	CHECK(r->state == RUN_SUCCEEDED);
	CHECK(json_is(r->output, "{\"v\": 5, \"ok\": true}"));
	steps_of(&t, id, &sl);
	CHECK(sl.count == 3);
	CHECK(step_visits(&sl, "first", &sr) == 1);
	CHECK(sr != NULL && sr->started_at == started);
	steps_free(&sl);
	path = xasprintf("buckets/out/blocked/%s.json", id);
	CHECK(access(path, F_OK) == 0);
	free(path);
	transitions(&t, id, &tl);
	CHECK_STR(tl.text, "created,started,step_succeeded,failed,redriven,"
	    "started,step_succeeded,succeeded");
	CHECK(tl.bad_order == 0);

	/* A succeeded run cannot be retried. */
	orc_error_clear(&err);
	CHECK(engine_redrive(t.engine, id, &rd, &w, &err) == -1);
	CHECK(err.code == ORC_ESTATE);
	CHECK_CONTAINS(err.message, "succeeded");
	CHECK(engine_redrive(t.engine, "01ARYZ6S41TSV4RRFFQ69G5FAV", &rd, &w,
	    &err) == -1);
	CHECK(err.code == ORC_ENOTFOUND);
	workflow_unref(wf);
	teardown(&t);
}

/* --from-step: an earlier step runs again; unknown steps are refused. */
static void
test_engine_redrive_from_step(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct engine_redrive rd;
	struct engine_watch w;
	struct step_list sl;
	struct result *r;
	const struct step_rec *sr = NULL;
	char id[RUN_ID_LEN + 1];
	int64_t started;

	REQUIRE(setup(&t) == 0);
	wf = load(wf_redrive);
	REQUIRE(wf != NULL);
	REQUIRE(block_bucket(1) == 0);
	REQUIRE(failed_run(&t, wf, "{\"v\": 6}", id) == 0);
	steps_of(&t, id, &sl);
	REQUIRE(sl.count == 1);
	started = sl.rows[0].started_at;
	steps_free(&sl);

	memset(&rd, 0, sizeof rd);
	w = watch(&t);
	/* Not in the definition, and in it but never reached. */
	rd.from_step = "nosuch";
	orc_error_clear(&err);
	CHECK(engine_redrive(t.engine, id, &rd, &w, &err) == -1);
	CHECK(err.code == ORC_ENOTFOUND);
	CHECK_CONTAINS(err.message, "nosuch");
	rd.from_step = "last";
	orc_error_clear(&err);
	CHECK(engine_redrive(t.engine, id, &rd, &w, &err) == -1);
	CHECK(err.code == ORC_ENOTFOUND);
	CHECK(engine_active(t.engine) == 0);

	REQUIRE(block_bucket(0) == 0);
	usleep(5000);
	rd.from_step = "first";
	orc_error_clear(&err);
	CHECK(engine_redrive(t.engine, id, &rd, &w, &err) == 0);
	if (err.code != ORC_OK)
		fprintf(stderr, "redrive: %s\n", err.message);
	CHECK(drive(&t, 2) == 0);
	r = result_of(&t, id);
	CHECK(r->state == RUN_SUCCEEDED);
	CHECK(json_is(r->output, "{\"v\": 6, \"ok\": true}"));
	steps_of(&t, id, &sl);
	CHECK(sl.count == 3);
	CHECK(step_visits(&sl, "first", &sr) == 1);
	/* The first step ran again. */
	CHECK(sr != NULL && sr->started_at > started);
	steps_free(&sl);
	workflow_unref(wf);
	teardown(&t);
}

/* An edited input restarts the run at its first step. */
static void
test_engine_redrive_input(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct engine_redrive rd;
	struct engine_watch w;
	struct run_rec rec;
	struct tr_list tl;
	struct result *r;
	json_t *input;
	char id[RUN_ID_LEN + 1];

	REQUIRE(setup(&t) == 0);
	wf = load("{ \"name\": \"edit\","
	    "  \"input\": { \"type\": \"object\", \"required\": [\"v\"] },"
	    "  \"steps\": ["
	    "    { \"name\": \"first\", \"uses\": \"transform\","
	    "      \"with\": { \"v\": \"{{input.v}}\" } },"
	    "    { \"name\": \"second\", \"uses\": \"transform\","
	    "      \"with\": { \"v\": \"{{input.v}}\","
	    "        \"w\": \"{{trigger.w}}\" } } ] }");
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{\"v\": 1}", id, &err) == 0);
	CHECK(drive(&t, 1) == 0);
	r = result_of(&t, id);
	REQUIRE(r->state == RUN_FAILED);
	CHECK_CONTAINS(r->error, "trigger.w");

	memset(&rd, 0, sizeof rd);
	w = watch(&t);
	/* An edited input is checked against the schema too. */
	input = json_pack("{si}", "w", 2);
	rd.input = input;
	orc_error_clear(&err);
	CHECK(engine_redrive(t.engine, id, &rd, &w, &err) == -1);
	CHECK(err.code == ORC_EINVAL);
	CHECK(engine_active(t.engine) == 0);
	json_decref(input);

	input = json_pack("{sisi}", "v", 7, "w", 8);
	rd.input = input;
	orc_error_clear(&err);
	CHECK(engine_redrive(t.engine, id, &rd, &w, &err) == 0);
	if (err.code != ORC_OK)
		fprintf(stderr, "redrive: %s\n", err.message);
	json_decref(input);
	CHECK(drive(&t, 2) == 0);
	CHECK(r->state == RUN_SUCCEEDED);
	CHECK(json_is(r->output, "{\"v\": 7, \"w\": 8}"));
	memset(&rec, 0, sizeof rec);
	REQUIRE(store_get_run(t.store, id, &rec, &err) == 0);
	CHECK(json_is(rec.input, "{\"v\": 7, \"w\": 8}"));
	CHECK(rec.error == NULL);
	run_rec_clear(&rec);
	transitions(&t, id, &tl);
	CHECK_STR(tl.text, "created,started,step_succeeded,failed,redriven,"
	    "started,step_succeeded,succeeded");
	workflow_unref(wf);
	teardown(&t);
}

/* A cancelled run can be redriven; a run timeout counts from then. */
static void
test_engine_redrive_cancelled(void)
{
	struct tctx t;
	struct workflow *wf;
	struct orc_error err;
	struct engine_redrive rd;
	struct engine_watch w;
	struct result *r;
	char id[RUN_ID_LEN + 1];

	REQUIRE(setup(&t) == 0);
	wf = load("{ \"name\": \"again\", \"timeout_ms\": 400,"
	    "  \"steps\": [ { \"name\": \"pause\", \"uses\": \"wait\","
	    "    \"with\": { \"ms\": 100, \"durable\": false } } ] }");
	REQUIRE(wf != NULL);
	REQUIRE(submit(&t, wf, "{\"k\": 1}", id, &err) == 0);
	CHECK(engine_cancel(t.engine, id, &err) == 0);
	CHECK(drive(&t, 1) == 0);
	r = result_of(&t, id);
	CHECK(r->state == RUN_CANCELLED);
	/* Past the run's timeout since it was created. */
	usleep(500000);
	memset(&rd, 0, sizeof rd);
	w = watch(&t);
	orc_error_clear(&err);
	CHECK(engine_redrive(t.engine, id, &rd, &w, &err) == 0);
	if (err.code != ORC_OK)
		fprintf(stderr, "redrive: %s\n", err.message);
	CHECK(drive(&t, 2) == 0);
	CHECK(r->state == RUN_SUCCEEDED);
	if (r->state != RUN_SUCCEEDED)
		fprintf(stderr, "redriven run: %s\n", r->error ? r->error :
		    "-");
	CHECK(json_is(r->output, "{\"k\": 1}"));
	workflow_unref(wf);
	teardown(&t);
}

/* Counts observer events, and the largest number of runs of the
 * workflow running at once (from "started" and "finished" events). */
struct observed {
	int	events;
	int	finished;
	int	running;
	int	max_running;
};

static void
observe_cb(const struct engine_event *ev, void *arg)
{
	struct observed *o = arg;

	o->events++;
	if (strcmp(ev->event, "started") == 0 && ++o->running > o->max_running)
		o->max_running = o->running;
	if (strcmp(ev->event, "finished") == 0) {
		o->finished++;
		o->running--;
	}
}

/* Replaces the test's engine with one whose queue holds max_queue runs. */
static void
reengine(struct tctx *t, size_t max_queue)
{
	struct engine_config cfg;

	engine_free(t->engine);
	memset(&cfg, 0, sizeof cfg);
	cfg.buckets_dir = "buckets";
	cfg.max_queue = max_queue;
	t->engine = engine_create(t->base, t->store, &cfg);
}

/* "concurrency": 1 runs one at a time; one more waits; the next is
 * refused with ORC_EFULL; the waiting one starts when a slot frees. */
static void
test_engine_concurrency_queue(void)
{
	struct tctx t;
	struct workflow *wf;
	struct observed o;
	struct engine_stats st;
	struct orc_error err;
	char a[RUN_ID_LEN + 1], b[RUN_ID_LEN + 1], c[RUN_ID_LEN + 1];

	REQUIRE(setup(&t) == 0);
	reengine(&t, 1);
	memset(&o, 0, sizeof o);
	engine_set_observer(t.engine, observe_cb, &o);
	wf = load("{\"name\":\"one\",\"concurrency\":1,\"steps\":["
	    "{\"name\":\"w\",\"uses\":\"wait\",\"with\":{\"ms\":50,\"durable\":false}}]}");
	REQUIRE(wf != NULL);
	CHECK(submit(&t, wf, "{}", a, &err) == 0);
	/* Let the first run commit and take the slot. */
	settle(&t);
	CHECK(submit(&t, wf, "{}", b, &err) == 0);
	settle(&t);
	engine_get_stats(t.engine, &st);
	CHECK(st.waiting == 1);
	CHECK(submit(&t, wf, "{}", c, &err) == -1);
	CHECK(err.code == ORC_EFULL);
	CHECK(drive(&t, 2) == 0);
	CHECK(result_of(&t, a)->state == RUN_SUCCEEDED);
	CHECK(result_of(&t, b)->state == RUN_SUCCEEDED);
	CHECK(o.max_running == 1);
	CHECK(o.finished == 2);
	/* The second run's timeline says why it waited. */
	{
		struct tr_list l;

		transitions(&t, b, &l);
		CHECK_CONTAINS(l.text, "created,waiting,started");
		transitions(&t, a, &l);
		CHECK(strstr(l.text, "waiting") == NULL);
	}
	CHECK(o.events > 6);
	engine_get_stats(t.engine, &st);
	CHECK(st.waiting == 0);
	CHECK(st.submitted == 2);
	CHECK(st.finished[RUN_SUCCEEDED] == 2);
	CHECK(st.steps_ok == 2);
	workflow_unref(wf);
	teardown(&t);
}

/* A repeated idempotency key returns the first run, in memory and once
 * it is only in the store; another workflow's key is another key. */
static void
test_engine_idempotency(void)
{
	struct tctx t;
	struct workflow *wf, *other;
	struct engine_watch w;
	struct orc_error err;
	char a[RUN_ID_LEN + 1], b[RUN_ID_LEN + 1], c[RUN_ID_LEN + 1];
	json_t *in = json_object();
	enum engine_found existing = ENGINE_FOUND_WINDOW;

	REQUIRE(setup(&t) == 0);
	wf = load("{\"name\":\"idem\",\"steps\":[{\"name\":\"d\","
	    "\"uses\":\"json.decode\"}]}");
	other = load("{\"name\":\"idem2\",\"steps\":[{\"name\":\"d\","
	    "\"uses\":\"json.decode\"}]}");
	REQUIRE(wf != NULL && other != NULL);
	w = watch(&t);
	CHECK(engine_submit_keyed(t.engine, wf, in, NULL, "k1", &w, a,
	    &existing, &err) == 0);
	CHECK(existing == ENGINE_FOUND_NONE);
	/* Not committed yet: found in memory. */
	CHECK(engine_submit_keyed(t.engine, wf, in, NULL, "k1", &w, b,
	    &existing, &err) == 0);
	CHECK(existing == ENGINE_FOUND_KEY);
	CHECK_STR(b, a);
	CHECK(drive(&t, 1) == 0);
	/* Let the run leave memory: then the store answers. */
	event_base_loop(t.base, EVLOOP_NONBLOCK);
	CHECK(engine_active(t.engine) == 0);
	memset(b, 0, sizeof b);
	CHECK(engine_submit_keyed(t.engine, wf, in, NULL, "k1", &w, b,
	    &existing, &err) == 0);
	CHECK(existing == ENGINE_FOUND_KEY);
	CHECK_STR(b, a);
	CHECK(engine_submit_keyed(t.engine, other, in, NULL, "k1", &w, c,
	    &existing, &err) == 0);
	CHECK(existing == ENGINE_FOUND_NONE);
	CHECK(strcmp(c, a) != 0);
	CHECK(drive(&t, 2) == 0);
	json_decref(in);
	workflow_unref(wf);
	workflow_unref(other);
	teardown(&t);
}

/* Observes starts per concurrency key: the most running at once. */
static struct store *keyed_store;

struct keyed {
	int	running[2];
	int	max_running[2];
	int	order[8];
	int	norder;
};

static void
keyed_cb(const struct engine_event *ev, void *arg)
{
	struct keyed *k = arg;
	struct orc_error err;
	struct run_rec r;
	int c;

	if (strcmp(ev->event, "started") != 0 &&
	    strcmp(ev->event, "finished") != 0)
		return;
	memset(&r, 0, sizeof r);
	if (store_get_run(keyed_store, ev->run_id, &r,
	    &err) != 0)
		return;
	c = (int)json_integer_value(json_object_get(r.input, "c"));
	if (strcmp(ev->event, "started") == 0) {
		if (++k->running[c] > k->max_running[c])
			k->max_running[c] = k->running[c];
		if (k->norder < 8)
			k->order[k->norder++] = (int)json_integer_value(
			    json_object_get(r.input, "n"));
	} else
		k->running[c]--;
	run_rec_clear(&r);
}

/* "concurrency_key": one run at a time per key, two keys in parallel. */
static void
test_engine_concurrency_key(void)
{
	struct tctx t;
	struct workflow *wf;
	struct keyed k;
	struct orc_error err;
	char id[RUN_ID_LEN + 1];
	char in[64];
	int i;

	REQUIRE(setup(&t) == 0);
	memset(&k, 0, sizeof k);
	keyed_store = t.store;
	engine_set_observer(t.engine, keyed_cb, &k);
	wf = load("{\"name\":\"keyed\",\"concurrency\":1,"
	    "\"concurrency_key\":\"{{input.c}}\",\"steps\":[{\"name\":\"w\","
	    "\"uses\":\"wait\",\"with\":{\"ms\":30,\"durable\":false}}]}");
	REQUIRE(wf != NULL);
	for (i = 0; i < 6; i++) {
		snprintf(in, sizeof in, "{\"c\":%d,\"n\":%d}", i % 2, i);
		CHECK(submit(&t, wf, in, id, &err) == 0);
	}
	CHECK(drive(&t, 6) == 0);
	CHECK(k.max_running[0] == 1);
	CHECK(k.max_running[1] == 1);
	/* Both keys ran side by side at the start. */
	CHECK(k.norder >= 2 && k.order[0] + k.order[1] == 1);
	workflow_unref(wf);
	teardown(&t);
}

/* "priority": among waiting runs, the highest starts first. */
static void
test_engine_priority(void)
{
	struct tctx t;
	struct workflow *wf;
	struct keyed k;
	struct orc_error err;
	char id[RUN_ID_LEN + 1];
	char in[64];
	static const int prio[] = { 0, 1, 5, 3 };
	int i;

	REQUIRE(setup(&t) == 0);
	memset(&k, 0, sizeof k);
	keyed_store = t.store;
	engine_set_observer(t.engine, keyed_cb, &k);
	wf = load("{\"name\":\"prio\",\"concurrency\":1,"
	    "\"priority\":\"{{input.p}}\",\"steps\":[{\"name\":\"w\","
	    "\"uses\":\"wait\",\"with\":{\"ms\":20,\"durable\":false}}]}");
	REQUIRE(wf != NULL);
	for (i = 0; i < 4; i++) {
		snprintf(in, sizeof in, "{\"c\":0,\"n\":%d,\"p\":%d}", i,
		    prio[i]);
		CHECK(submit(&t, wf, in, id, &err) == 0);
	}
	CHECK(drive(&t, 4) == 0);
	/* Run 0 took the slot at once; then priority 5, 3, 1. */
	REQUIRE(k.norder == 4);
	CHECK(k.order[0] == 0);
	CHECK(k.order[1] == 2);
	CHECK(k.order[2] == 3);
	CHECK(k.order[3] == 1);
	workflow_unref(wf);
	teardown(&t);
}

/* "rate_limit": 20 per second with a burst of 2; "reject" refuses. */
static void
test_engine_rate_limit(void)
{
	struct tctx t;
	struct workflow *wf, *rej;
	struct orc_error err;
	char id[RUN_ID_LEN + 1];
	int64_t t0, ms;
	int i, refused = 0;

	REQUIRE(setup(&t) == 0);
	wf = load("{\"name\":\"rl\",\"rate_limit\":{\"per_second\":20,"
	    "\"burst\":2},\"steps\":[{\"name\":\"d\","
	    "\"uses\":\"json.decode\"}]}");
	rej = load("{\"name\":\"rj\",\"rate_limit\":{\"per_second\":1,"
	    "\"burst\":2,\"on_limit\":\"reject\"},\"steps\":[{\"name\":\"d\","
	    "\"uses\":\"json.decode\"}]}");
	REQUIRE(wf != NULL && rej != NULL);
	t0 = orc_mono_ms();
	for (i = 0; i < 12; i++)
		CHECK(submit(&t, wf, "{}", id, &err) == 0);
	CHECK(drive(&t, 12) == 0);
	ms = orc_mono_ms() - t0;
	/* 2 at once, then 10 at 20/s: about 500 ms, not less. */
	CHECK(ms >= 450);
	CHECK(ms < 3000);
	for (i = 0; i < 4; i++)
		if (submit(&t, rej, "{}", id, &err) != 0) {
			refused++;
			CHECK(err.code == ORC_EFULL);
			CHECK_CONTAINS(err.message, "rate limit");
		}
	CHECK(refused == 2);
	CHECK(drive(&t, 14) == 0);
	workflow_unref(wf);
	workflow_unref(rej);
	teardown(&t);
}

/* "debounce": a burst with one key becomes one run with the last input;
 * another key gets its own run. */
static void
test_engine_debounce(void)
{
	struct tctx t;
	struct workflow *wf;
	struct engine_watch w;
	struct orc_error err;
	char first[RUN_ID_LEN + 1], id[RUN_ID_LEN + 1], other[RUN_ID_LEN + 1];
	char in[64];
	json_t *v;
	enum engine_found existing;
	int i;

	REQUIRE(setup(&t) == 0);
	wf = load("{\"name\":\"db\",\"debounce\":{\"key\":\"{{input.k}}\","
	    "\"wait_ms\":100,\"max_wait_ms\":1000},\"steps\":[{\"name\":\"d\","
	    "\"uses\":\"json.decode\"}]}");
	REQUIRE(wf != NULL);
	w = watch(&t);
	for (i = 0; i < 5; i++) {
		snprintf(in, sizeof in, "{\"k\":\"a\",\"n\":%d}", i);
		v = json_loads(in, 0, NULL);
		CHECK(engine_submit_keyed(t.engine, wf, v, NULL, NULL, &w,
		    i == 0 ? first : id, &existing, &err) == 0);
		CHECK(existing == (i == 0 ? ENGINE_FOUND_NONE :
		    ENGINE_FOUND_WINDOW));
		if (i > 0)
			CHECK_STR(id, first);
		json_decref(v);
		event_base_loop(t.base, EVLOOP_NONBLOCK);
	}
	v = json_loads("{\"k\":\"b\",\"n\":9}", 0, NULL);
	CHECK(engine_submit_keyed(t.engine, wf, v, NULL, NULL, &w, other,
	    &existing, &err) == 0);
	CHECK(existing == ENGINE_FOUND_NONE);
	json_decref(v);
	CHECK(drive(&t, 2) == 0);
	CHECK(result_of(&t, first)->state == RUN_SUCCEEDED);
	CHECK(json_integer_value(json_object_get(result_of(&t, first)->output,
	    "n")) == 4);
	/* The four absorbed triggers were told, after their commits. */
	CHECK(result_of(&t, first)->accepted == 5);
	CHECK(result_of(&t, other)->state == RUN_SUCCEEDED);
	workflow_unref(wf);
	teardown(&t);
}

/* A map (one item failing, tolerated), a parallel step and a child
 * workflow, through the engine: each item a run of its own. */
static const char *wf_fan =
    "{ \"name\": \"fanned\", \"steps\": ["
    "  { \"name\": \"each\", \"uses\": \"map\","
    "    \"with\": { \"items\": \"{{input.codes}}\", \"max_concurrency\": 2,"
    "      \"tolerated_failures\": \"{{input.may}}\" },"
    "    \"steps\": [ { \"name\": \"dec\", \"uses\": \"base64.decode\" } ] },"
    "  { \"name\": \"both\", \"uses\": \"parallel\", \"branches\": {"
    "    \"n\": [ { \"name\": \"c\", \"uses\": \"transform\","
    "      \"with\": { \"first\": \"{{input[0]}}\" } } ],"
    "    \"m\": [ { \"name\": \"d\", \"uses\": \"transform\","
    "      \"with\": { \"k\": 1 } } ] } },"
    "  { \"name\": \"sub\", \"uses\": \"workflow\","
    "    \"with\": { \"workflow\": \"helper\","
    "      \"input\": { \"v\": \"{{steps.both.n.first}}\" } } } ] }";
static const char *wf_helper =
    "{ \"name\": \"helper\", \"input\": { \"type\": \"object\","
    "  \"required\": [\"v\"] }, \"steps\": ["
    "  { \"name\": \"h\", \"uses\": \"transform\","
    "    \"with\": { \"got\": \"{{input.v}}\" } } ] }";

/* Keeps the output of the step named in the first slot of arg. */
static int
fan_step_cb(const struct step_rec *sr, void *arg)
{
	json_t **slot = arg;

	if (strcmp(sr->name, json_string_value(slot[0])) == 0) {
		json_decref(slot[1]);
		slot[1] = json_incref(sr->output);
	}
	return 0;
}

/* The latest output of a run's step, or NULL. */
static json_t *
fan_step_output(struct tctx *t, const char *id, const char *step)
{
	json_t *slot[2] = { json_string(step), NULL };
	struct orc_error err;

	if (store_list_steps(t->store, id, fan_step_cb, slot, &err) != 0)
		fprintf(stderr, "%s\n", err.message);
	json_decref(slot[0]);
	return slot[1];
}

static void
test_engine_fan(void)
{
	struct workflow *wf, *helper;
	struct orc_error err;
	struct result *r;
	struct tctx t;
	json_t *out;
	char ok[RUN_ID_LEN + 1], bad[RUN_ID_LEN + 1];

	REQUIRE(setup(&t) == 0);
	wf = load(wf_fan);
	helper = load(wf_helper);
	REQUIRE(wf != NULL && helper != NULL);
	engine_set_workflows(t.engine, &helper, 1);
	REQUIRE(submit(&t, wf, "{\"codes\": [\"aGk=\", \"!!\", \"eW8=\"], "
	    "\"may\": 1}", ok, &err) == 0);
	REQUIRE(submit(&t, wf, "{\"codes\": [\"aGk=\", \"!!\", \"eW8=\"], "
	    "\"may\": 0}", bad, &err) == 0);
	CHECK(drive(&t, 2) == 0);
	r = result_of(&t, ok);
	CHECK(r->state == RUN_SUCCEEDED);
	CHECK(json_is(r->output, "{\"got\": \"hi\"}"));
	/* The items in order, the tolerated failure null; each branch's
	 * output under its name. */
	out = fan_step_output(&t, ok, "each");
	CHECK(json_is(out, "[\"hi\", null, \"yo\"]"));
	json_decref(out);
	out = fan_step_output(&t, ok, "both");
	CHECK(json_is(out, "{\"n\": {\"first\": \"hi\"}, \"m\": "
	    "{\"k\": 1}}"));
	json_decref(out);
	r = result_of(&t, bad);
	CHECK(r->state == RUN_FAILED);
	CHECK_CONTAINS(r->error, "step each: 1 of 3 items failed (0 may): "
	    "item 1: step dec: ");
	settle(&t);
	workflow_unref(helper);
	workflow_unref(wf);
	teardown(&t);
}

int
main(void)
{
	const char *level = getenv("TEST_LOG");
	enum log_level l;

	if (level != NULL && log_parse_level(level, &l) == 0)
		log_set_level(l);
	else
		log_set_level(LOG_NONE);
	TEST_RUN(test_engine_three_steps);
	TEST_RUN(test_engine_run_ahead);
	TEST_RUN(test_engine_templates);
	TEST_RUN(test_engine_template_missing);
	TEST_RUN(test_engine_input_refused);
	TEST_RUN(test_engine_step_timeout_dead_letter);
	TEST_RUN(test_engine_output_schema);
	TEST_RUN(test_engine_run_timeout);
	TEST_RUN(test_engine_cancel);
	TEST_RUN(test_engine_cancel_retrying);
	TEST_RUN(test_engine_cancel_during_dead_letter);
	TEST_RUN(test_engine_resume);
	TEST_RUN(test_engine_crash_loop);
	TEST_RUN(test_engine_crash_loop_dead);
	TEST_RUN(test_engine_resume_live_owner);
	TEST_RUN(test_engine_redrive_failed_step);
	TEST_RUN(test_engine_redrive_from_step);
	TEST_RUN(test_engine_redrive_input);
	TEST_RUN(test_engine_redrive_cancelled);
	TEST_RUN(test_engine_concurrency_queue);
	TEST_RUN(test_engine_idempotency);
	TEST_RUN(test_engine_concurrency_key);
	TEST_RUN(test_engine_priority);
	TEST_RUN(test_engine_rate_limit);
	TEST_RUN(test_engine_debounce);
	TEST_RUN(test_engine_fan);
	TEST_DONE();
}
