/*
 * orchestrator show RUN_ID: one run with its finished steps and the
 * timeline of its transitions, as text or as one JSON document.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "store.h"

struct show_ctx {
	struct format_table	*table;
	json_t			*json;		/* array, with --json */
	int64_t			 t0;		/* the run's creation */
};

/* One finished step: a row, or a JSON object. */
static int
show_step_cb(const struct step_rec *s, void *arg)
{
	struct show_ctx *sc = arg;
	char seq[16], att[16], dur[32], *out;
	const char *cells[5];

	if (sc->json != NULL) {
		json_array_append_new(sc->json, json_pack("{sisssisIsIsO}",
		    "seq", s->seq, "name", s->name, "attempts", s->attempts,
		    "started_at", (json_int_t)s->started_at, "finished_at",
		    (json_int_t)s->finished_at, "output", s->output ?
		    s->output : json_null()));
		return 0;
	}
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

/* One transition: a row, or a JSON object. */
static int
show_transition_cb(const struct transition_rec *t, void *arg)
{
	struct show_ctx *sc = arg;
	char at[32], att[16], dur[32], move[48];
	const char *cells[7];

	if (sc->json != NULL) {
		json_array_append_new(sc->json, json_pack(
		    "{sIsssssssisisIss*}", "at", (json_int_t)t->at,
		    "from", t->from_state < 0 ? "" :
		    run_state_name((enum run_state)t->from_state),
		    "to", run_state_name(t->to_state), "event", t->event,
		    "seq", t->seq, "attempt", t->attempt,
		    "duration_ms", (json_int_t)t->duration_ms,
		    "error", t->error));
		json_object_set_new(json_array_get(sc->json,
		    json_array_size(sc->json) - 1), "step", t->step ?
		    json_string(t->step) : json_null());
		return 0;
	}
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

/* Prints the run as text: header, steps, timeline, output. */
static int
show_text(struct store *st, const struct run_rec *r, struct orc_error *err)
{
	static const char *const sh[] = { "SEQ", "STEP", "ATTEMPTS",
	    "DURATION", "OUTPUT" };
	static const int sw[] = { 0, 24, 0, 0, 60 };
	static const char *const th[] = { "AT", "EVENT", "STATE", "STEP",
	    "ATTEMPT", "DURATION", "ERROR" };
	static const int tw[] = { 0, 0, 0, 24, 0, 0, 80 };
	struct show_ctx sc = { NULL, NULL, r->created_at };
	int rc;

	show_header(r);
	sc.table = format_table_create(5, sh, sw);
	rc = store_list_steps(st, r->id, show_step_cb, &sc, err);
	printf("\nsteps\n");
	format_table_print(sc.table, stdout);
	format_table_free(sc.table);
	sc.table = format_table_create(7, th, tw);
	if (rc == 0)
		rc = store_list_transitions(st, r->id, show_transition_cb, &sc,
		    err);
	printf("\ntimeline\n");
	format_table_print(sc.table, stdout);
	format_table_free(sc.table);
	if (r->output != NULL) {
		printf("\noutput\n");
		cli_print_json(r->output);
	}
	return rc;
}

/* Prints the run as one JSON document. */
static int
show_json(struct store *st, const struct run_rec *r, struct orc_error *err)
{
	struct show_ctx sc = { NULL, json_array(), r->created_at };
	json_t *o = cli_run_json(r);
	int rc;

	rc = store_list_steps(st, r->id, show_step_cb, &sc, err);
	json_object_set_new(o, "steps", sc.json);
	sc.json = json_array();
	if (rc == 0)
		rc = store_list_transitions(st, r->id, show_transition_cb, &sc,
		    err);
	json_object_set_new(o, "transitions", sc.json);
	if (rc == 0)
		cli_print_json(o);
	json_decref(o);
	return rc;
}

int
cli_show(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "db", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	const char *db = NULL, *level = NULL;
	struct orc_error err;
	struct run_rec r;
	struct store *st;
	int c, json = 0, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'd': db = optarg; break;
		case 'l': level = optarg; break;
		default: return cli_usage_error("show", "bad option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("show", "expected one run id");
	if (cli_log_level(level) != 0)
		return cli_usage_error("show", "--log-level: unknown level");
	if ((st = store_open(cli_db(db), STORE_READONLY, NULL, &err)) == NULL)
		return cli_fail("show", "%s", err.message);
	memset(&r, 0, sizeof r);
	if (store_get_run(st, argv[optind], &r, &err) != 0) {
		store_close(st);
		return cli_fail("show", "%s", err.message);
	}
	rc = json ? show_json(st, &r, &err) : show_text(st, &r, &err);
	run_rec_clear(&r);
	store_close(st);
	if (rc != 0)
		return cli_fail("show", "%s", err.message);
	return CLI_OK;
}
