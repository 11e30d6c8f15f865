/*
 * orchestrator show RUN_ID: one run with its finished steps, the
 * timeline of its transitions, its log lines and its children (map items,
 * branches, child workflows: counted, the first listed), as text or as
 * one JSON document; --item N shows one of its items. With --url the run
 * comes from a server (GET /runs/ID, the same document as --json) and is
 * printed by the same code.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "format.h"
#include "runjson.h"
#include "store.h"

/* The command's own options. */
struct show_opts {
	int		 json;
	const char	*workflow;	/* --workflow NAME */
	long long	 item;		/* --item N, or -1 */
	const char	*step;		/* --step STEP, with --item */
};

struct show_ctx {
	struct format_table	*table;
	int64_t			 t0;		/* the run's creation */
};

/* One finished step as a row. */
static int
show_step_cb(const struct step_rec *s, void *arg)
{
	struct show_ctx *sc = arg;
	char seq[16], att[16], dur[32], *out;
	const char *cells[5];

	snprintf(seq, sizeof seq, "%d", s->seq);
	snprintf(att, sizeof att, "%d", s->attempts);
	format_duration(s->finished_at - s->started_at, dur, sizeof dur);
	out = json_dumps(s->output, JSON_COMPACT | JSON_ENCODE_ANY);
	cells[0] = seq;
	cells[1] = s->name;
	cells[2] = att;
	cells[3] = dur;
	cells[4] = out;
	format_table_add(sc->table, cells);
	free(out);
	return 0;
}

/* One transition as a row. */
static int
show_transition_cb(const struct transition_rec *t, void *arg)
{
	struct show_ctx *sc = arg;
	char at[32], att[16], dur[32], move[48];
	const char *cells[7];

	snprintf(at, sizeof at, "+");
	format_duration(t->at - sc->t0, at + 1, sizeof at - 1);
	snprintf(move, sizeof move, "%s -> %s", t->from_state < 0 ? "" :
	    run_state_name((enum run_state)t->from_state),
	    run_state_name(t->to_state));
	snprintf(att, sizeof att, "%d", t->attempt);
	format_duration(t->duration_ms ? t->duration_ms : -1, dur, sizeof dur);
	cells[0] = at;
	cells[1] = t->event;
	cells[2] = move;
	cells[3] = t->step;
	cells[4] = att;
	cells[5] = dur;
	cells[6] = t->error;
	format_table_add(sc->table, cells);
	return 0;
}

/* The run's header lines. */
static void
show_header(const struct run_rec *r)
{
	char t[40], d[32];
	char *in = json_dumps(r->input, JSON_COMPACT | JSON_ENCODE_ANY);

	printf("run        %s\nworkflow   %s (definition %.12s)\n", r->id,
	    r->workflow, r->def_hash);
	printf("state      %s", run_state_name(r->state));
	if (r->step != NULL)
		printf(" at step %s (visit %d, attempt %d)", r->step, r->seq,
		    r->attempt);
	printf("\ncreated    %s\n", format_time(r->created_at, t, sizeof t));
	if (r->finished_at)
		printf("finished   %s (%s)\n", format_time(r->finished_at, t,
		    sizeof t), format_duration(r->finished_at - r->created_at,
		    d, sizeof d));
	if (r->error)
		printf("error      %s\n", r->error);
	if (r->dead != DEAD_NONE)
		printf("on_failure %s\n", r->dead == DEAD_PENDING ? "pending" :
		    r->dead == DEAD_DONE ? "succeeded" : "failed");
	printf("input      %.200s%s\n", in, strlen(in) > 200 ? "..." : "");
	free(in);
}

/* Adds the steps and transitions of a server's run document to the
 * table, as the store's callbacks would. */
static int
show_doc_rows(const json_t *doc, const char *key, const char *run_id,
    struct show_ctx *sc, struct orc_error *err)
{
	struct transition_rec t;
	struct step_rec s;
	json_t *a, *o;
	size_t i;

	if (!json_is_array(a = json_object_get(doc, key))) {
		orc_error_set(err, ORC_EIO, "the server's run %s has no \"%s\"",
		    run_id, key);
		return -1;
	}
	json_array_foreach(a, i, o) {
		if (strcmp(key, "steps") == 0) {
			if (client_step_rec(o, run_id, &s, err) != 0)
				return -1;
			show_step_cb(&s, sc);
			step_rec_clear(&s);
		} else {
			if (client_transition_rec(o, run_id, &t, err) != 0)
				return -1;
			show_transition_cb(&t, sc);
			transition_rec_clear(&t);
		}
	}
	return 0;
}

/* Prints the run's log lines of a run document, each with its time since
 * the run's creation, step and attempt; nothing when it has none (or the
 * server is older than run logs). */
static void
show_logs(const json_t *doc, int64_t t0)
{
	static const char *const lh[] = { "AT", "STEP", "ATTEMPT", "LEVEL",
	    "MESSAGE" };
	static const int lw[] = { 0, 24, 0, 0, 0 };
	struct format_table *t;
	const json_t *a, *o;
	const char *cells[5];
	char at[32], att[16];
	size_t i;

	a = json_object_get(doc, "logs");
	if (json_array_size(a) == 0)
		return;
	t = format_table_create(5, lh, lw);
	json_array_foreach(a, i, o) {
		snprintf(at, sizeof at, "+");
		format_duration(json_integer_value(json_object_get(o, "at")) -
		    t0, at + 1, sizeof at - 1);
		snprintf(att, sizeof att, "%d", (int)json_integer_value(
		    json_object_get(o, "attempt")));
		cells[0] = at;
		cells[1] = json_string_value(json_object_get(o, "step"));
		cells[2] = att;
		cells[3] = json_string_value(json_object_get(o, "level"));
		cells[4] = json_string_value(json_object_get(o, "message"));
		format_table_add(t, cells);
	}
	printf("\nlogs\n");
	format_table_print(t, stdout);
	format_table_free(t);
}

/* Prints the first children of each step of a run document. */
static void
show_children(const json_t *children)
{
	static const char *const h[] = { "STEP", "ITEM", "RUN", "STATE" };
	static const int w[] = { 24, 0, 0, 0 };
	struct format_table *t;
	const char *cell[4];
	char num[24];
	json_t *c;
	size_t i;

	if (json_array_size(children) == 0)
		return;
	t = format_table_create(4, h, w);
	json_array_foreach(children, i, c) {
		cell[0] = json_string_value(json_object_get(c, "step"));
		snprintf(num, sizeof num, "%lld", (long long)json_integer_value(
		    json_object_get(c, "item")));
		cell[1] = json_integer_value(json_object_get(c, "item")) < 0 ?
		    "-" : num;
		cell[2] = json_string_value(json_object_get(c, "id"));
		cell[3] = json_string_value(json_object_get(c, "state"));
		format_table_add(t, cell);
	}
	printf("\nchildren (the first %d of each step)\n", RUNJSON_CHILDREN);
	format_table_print(t, stdout);
	format_table_free(t);
}

/* Prints a map's progress, and a map item's parent, from a run document
 * (nothing when it has neither, or comes from an older server). */
static void
show_items(const json_t *doc)
{
	static const char *const h[] = { "STEP", "ITEMS", "SUCCEEDED",
	    "FAILED", "CANCELLED", "RUNNING" };
	static const char *const keys[] = { NULL, "total", "succeeded",
	    "failed", "cancelled", "running" };
	static const int w[] = { 24, 0, 0, 0, 0, 0 };
	const json_t *items = json_object_get(doc, "items"), *o;
	const json_t *p = json_object_get(doc, "parent");
	struct format_table *t;
	const char *step, *cell[6];
	char num[5][24];
	size_t i;

	if (json_is_object(p) && json_object_get(p, "item") != NULL)
		printf("\nparent     %s, step %s, item %lld\n",
		    json_string_value(json_object_get(p, "run")),
		    json_string_value(json_object_get(p, "step")),
		    (long long)json_integer_value(json_object_get(p, "item")));
	else if (json_is_object(p))
		printf("\nparent     %s, step %s\n",
		    json_string_value(json_object_get(p, "run")),
		    json_string_value(json_object_get(p, "step")));
	if (json_object_size(items) == 0)
		return;
	t = format_table_create(6, h, w);
	json_object_foreach((json_t *)items, step, o) {
		cell[0] = step;
		for (i = 1; i < 6; i++) {
			snprintf(num[i - 1], sizeof num[i - 1], "%lld",
			    (long long)json_integer_value(json_object_get(o,
			    keys[i])));
			cell[i] = num[i - 1];
		}
		format_table_add(t, cell);
	}
	printf("\nitems (orchestrator show RUN_ID --item N [--step STEP])\n");
	format_table_print(t, stdout);
	format_table_free(t);
	show_children(json_object_get(doc, "children"));
}

/* Prints the run as text: header, steps, timeline, logs, output. The
 * steps, transitions and logs come from the store, or from doc when it
 * is not NULL. */
static int
show_text(struct store *st, const json_t *doc, const struct run_rec *r,
    struct orc_error *err)
{
	static const char *const sh[] = { "SEQ", "STEP", "ATTEMPTS",
	    "DURATION", "OUTPUT" };
	static const int sw[] = { 0, 24, 0, 0, 60 };
	static const char *const th[] = { "AT", "EVENT", "STATE", "STEP",
	    "ATTEMPT", "DURATION", "ERROR" };
	static const int tw[] = { 0, 0, 0, 24, 0, 0, 80 };
	struct show_ctx sc = { NULL, r->created_at };
	json_t *own = NULL;
	const char *waiting;
	int rc;

	/* From the store, the same document the server answers. */
	if (doc == NULL && (doc = own = runjson_show(st, r, err)) == NULL)
		return -1;
	show_header(r);
	if ((waiting = json_string_value(json_object_get(doc,
	    "waiting_for"))) != NULL)
		printf("waiting    for %s\n", waiting);
	sc.table = format_table_create(5, sh, sw);
	rc = show_doc_rows(doc, "steps", r->id, &sc, err);
	printf("\nsteps\n");
	format_table_print(sc.table, stdout);
	format_table_free(sc.table);
	sc.table = format_table_create(7, th, tw);
	if (rc == 0)
		rc = show_doc_rows(doc, "transitions", r->id, &sc, err);
	printf("\ntimeline\n");
	format_table_print(sc.table, stdout);
	format_table_free(sc.table);
	show_items(doc);
	show_logs(doc, r->created_at);
	if (r->output != NULL) {
		printf("\noutput\n");
		cli_print_json(r->output);
	}
	json_decref(own);
	return rc;
}

/* Prints the run as one JSON document. */
static int
show_json(struct store *st, const struct run_rec *r, struct orc_error *err)
{
	json_t *o;

	if ((o = runjson_show(st, r, err)) == NULL)
		return -1;
	cli_print_json(o);
	json_decref(o);
	return 0;
}

/* show's own options. */
static int
show_opt(int c, const char *arg, void *ctx)
{
	struct show_opts *so = ctx;
	char *end;

	switch (c) {
	case 'w': so->workflow = arg; break;
	case 's': so->step = arg; break;
	case 'i':
		so->item = strtoll(arg, &end, 10);
		if (*arg < '0' || *arg > '9' || *end != '\0') {
			cli_usage_error("show", "--item: expected an item "
			    "number (0 for the first)");
			return -1;
		}
		break;
	default: so->json = 1; break;
	}
	return 0;
}

/* Keeps the id of the item found. */
static int
show_item_cb(const struct child_rec *c, void *arg)
{
	memcpy(arg, c->id, RUN_ID_LEN + 1);
	return 1;
}

/* The run id of item so->item of the run's map step (so->step, or its
 * only one), from the store: 0, or -1 and err. */
static int
show_item_id(struct store *st, const char *run_id,
    const struct show_opts *so, char id[RUN_ID_LEN + 1],
    struct orc_error *err)
{
	struct child_filter f = { so->step, -1, -1, so->item - 1, 1, 0 };
	char *only = NULL;
	size_t n;

	id[0] = '\0';
	if (f.step == NULL) {
		if (runjson_only_step(st, run_id, &only, &n, err) != 0)
			return -1;
		if ((f.step = only) == NULL) {
			orc_error_set(err, ORC_EINVAL, "run %s has %zu map or "
			    "parallel steps: name one with --step", run_id, n);
			return -1;
		}
	}
	if (store_list_children(st, run_id, &f, show_item_cb, id, err) == 0 &&
	    id[0] == '\0')
		orc_error_set(err, ORC_ENOTFOUND, "run %s: step %s has no item "
		    "%lld (yet)", run_id, f.step, so->item);
	free(only);
	return id[0] != '\0' ? 0 : -1;
}

/* show_item_id through a server: GET /runs/ID/items. */
static int
show_item_id_url(const char *url, const char *run_id,
    const struct show_opts *so, char id[RUN_ID_LEN + 1],
    struct orc_error *err)
{
	char *path, *base, *q;
	const char *s;
	json_t *doc = NULL;
	long status;
	int rc;

	base = client_path("/runs/", run_id, "/items");
	q = so->step != NULL ? client_escape(so->step) : NULL;
	path = xasprintf("%s?after=%lld&limit=1%s%s", base, so->item - 1,
	    q != NULL ? "&step=" : "", q != NULL ? q : "");
	rc = client_request(url, "GET", path, NULL, NULL, 0, &status, &doc,
	    err);
	s = json_string_value(json_object_get(json_array_get(
	    json_object_get(doc, "items"), 0), "id"));
	if (rc == 0 && s == NULL) {
		orc_error_set(err, ORC_ENOTFOUND, "run %s has no item %lld "
		    "(yet)", run_id, so->item);
		rc = -1;
	}
	if (rc == 0)
		snprintf(id, RUN_ID_LEN + 1, "%s", s);
	json_decref(doc);
	free(path);
	free(q);
	free(base);
	return rc;
}

int
cli_show_url(const char *cmd, const char *url, const char *id, int json)
{
	struct orc_error err;
	struct run_rec r;
	json_t *doc;
	long status;
	int rc;

	rc = client_request_named(url, "GET", "/runs/", id, NULL, &status, &doc,
	    &err);
	/* The document is what show --json prints: printed as it came. */
	if (rc == 0 && json)
		cli_print_json(doc);
	else if (rc == 0 && (rc = client_run_rec(doc, &r, &err)) == 0) {
		rc = show_text(NULL, doc, &r, &err);
		run_rec_clear(&r);
	}
	json_decref(doc);
	if (rc != 0)
		return cli_fail(cmd, "%s", err.message);
	return CLI_OK;
}

int
cli_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "workflow", required_argument, NULL, 'w' },
		{ "item", required_argument, NULL, 'i' },
		{ "step", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	struct show_opts so = { 0, NULL, -1, NULL };
	char item[RUN_ID_LEN + 1];
	struct cli_opts co;
	struct orc_error err;
	struct run_rec r;
	struct store *st;
	const char *url;
	int i, json, rc;

	if ((i = cli_parse("show", argc, argv, opts, show_opt, &so, &co)) < 0)
		return CLI_USAGE;
	json = so.json;
	if (so.workflow != NULL && i != argc)
		return cli_usage_error("show", "--workflow takes no run id");
	if (so.workflow != NULL)
		return cli_show_workflow(so.workflow, &co, json);
	if (i + 1 != argc)
		return cli_usage_error("show", "expected one run id");
	if (so.step != NULL && so.item < 0)
		return cli_usage_error("show", "--step goes with --item");
	cli_run_id(argv[i]);
	if ((url = cli_url(&co)) != NULL) {
		if (so.item >= 0 && show_item_id_url(url, argv[i], &so, item,
		    &err) != 0)
			return cli_fail("show", "%s", err.message);
		return cli_show_url("show", url, so.item >= 0 ? item : argv[i],
		    json);
	}
	if ((st = cli_store_read(cli_db(co.db), &err)) == NULL)
		return cli_fail("show", "%s", err.message);
	memset(&r, 0, sizeof r);
	if ((so.item >= 0 && show_item_id(st, argv[i], &so, item, &err) != 0) ||
	    store_get_run(st, so.item >= 0 ? item : argv[i], &r, &err) != 0) {
		store_close(st);
		return cli_fail("show", "%s", err.message);
	}
	rc = json ? show_json(st, &r, &err) : show_text(st, NULL, &r, &err);
	run_rec_clear(&r);
	store_close(st);
	if (rc != 0)
		return cli_fail("show", "%s", err.message);
	return CLI_OK;
}
