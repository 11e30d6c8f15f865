/*
 * orchestrator runs: the newest runs, as a table or as JSON lines. Reads
 * the store through a read-only connection, so it never blocks a process
 * that is executing runs; or, with --url, asks a server (GET /runs) and
 * prints its answer with the same code.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "format.h"
#include "id.h"
#include "runjson.h"
#include "store.h"
#include "strbuf.h"

struct runs_out {
	struct run_filter	 filter;
	struct format_table	*table;
	int			 json;
	int64_t			 now;
	int			 count;
};

/* Prints a run object as its runs --json line, without the payloads;
 * takes o. */
static void
runs_print_json(json_t *o)
{
	json_object_del(o, "input");
	json_object_del(o, "output");
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(o);
}

/* Adds one run to the table (or prints its JSON line). */
static int
runs_row_cb(const struct run_rec *r, void *arg)
{
	struct runs_out *ro = arg;
	char age[32], dur[32], att[16];
	const char *cells[8];

	ro->count++;
	if (ro->json) {
		runs_print_json(runjson_run(r));
		return 0;
	}
	snprintf(att, sizeof att, "%d", r->attempt);
	format_duration(ro->now - r->created_at, age, sizeof age);
	format_duration(r->finished_at ? r->finished_at - r->created_at :
	    ro->now - r->created_at, dur, sizeof dur);
	cells[0] = r->id;
	cells[1] = r->workflow;
	cells[2] = run_state_name(r->state);
	cells[3] = r->step;
	cells[4] = att;
	cells[5] = age;
	cells[6] = dur;
	cells[7] = r->error;
	format_table_add(ro->table, cells);
	return 0;
}

/* The runs command's own options: the filter and the format. */
static int
runs_opt(int c, const char *arg, void *ctx)
{
	struct runs_out *ro = ctx;
	enum run_state state;
	char *end;

	switch (c) {
	case 'w': ro->filter.workflow = arg; break;
	case 's':
		if (run_state_parse(arg, &state) != 0) {
			cli_usage_error("runs", "--state: unknown state "
			    "\"%s\"; one of queued, running, retrying, "
			    "succeeded, failed, cancelled", arg);
			return -1;
		}
		ro->filter.state = (int)state;
		break;
	case 'n':
		ro->filter.limit = (int)strtol(arg, &end, 10);
		if (*end != '\0' || ro->filter.limit < 1) {
			cli_usage_error("runs", "--limit: expected a positive "
			    "number");
			return -1;
		}
		break;
	case 'B': ro->filter.before_id = arg; break;
	case 'j': ro->json = 1; break;
	}
	return 0;
}

/* Adds one page of the server's runs; sets *next to where the next page
 * starts (NULL at the end). */
static int
runs_page(struct runs_out *ro, const json_t *answer, const char **next,
    struct orc_error *err)
{
	struct run_rec r;
	json_t *runs, *o;
	size_t i;

	*next = NULL;
	if (!json_is_array(runs = json_object_get(answer, "runs"))) {
		orc_error_set(err, ORC_EIO, "the server's answer to GET /runs "
		    "has no \"runs\" list");
		return -1;
	}
	json_array_foreach(runs, i, o) {
		if (ro->count >= ro->filter.limit)
			return 0;
		/* As the server sent it: the same object runs --json makes. */
		if (ro->json) {
			ro->count++;
			runs_print_json(json_deep_copy(o));
			continue;
		}
		if (client_run_rec(o, &r, err) != 0)
			return -1;
		runs_row_cb(&r, ro);
		run_rec_clear(&r);
	}
	*next = json_string_value(json_object_get(answer, "next_before"));
	return 0;
}

/* Lists the runs of a server, page after page up to the limit. */
static int
runs_url(struct runs_out *ro, const char *url, struct orc_error *err)
{
	struct strbuf q = STRBUF_INIT;
	json_t *answer = NULL;
	const char *next;
	char *before, *v;
	long status;
	int rc, prev;

	before = ro->filter.before_id ? xstrdup(ro->filter.before_id) : NULL;
	do {
		prev = ro->count;
		strbuf_puts(&q, "/runs");
		if (ro->filter.workflow != NULL) {
			v = client_escape(ro->filter.workflow);
			strbuf_printf(&q, "&workflow=%s", v);
			free(v);
		}
		if (ro->filter.state >= 0)
			strbuf_printf(&q, "&state=%s", run_state_name(
			    (enum run_state)ro->filter.state));
		strbuf_printf(&q, "&limit=%d", ro->filter.limit - ro->count);
		if (before != NULL) {
			v = client_escape(before);
			strbuf_printf(&q, "&before=%s", v);
			free(v);
		}
		/* Each parameter began with '&': the first becomes '?'. */
		q.s[strlen("/runs")] = '?';
		rc = client_request(url, "GET", q.s, NULL, NULL, 0, &status,
		    &answer, err);
		strbuf_free(&q);
		if (rc == 0)
			rc = runs_page(ro, answer, &next, err);
		free(before);
		before = rc == 0 && next != NULL ? xstrdup(next) : NULL;
		json_decref(answer);
		answer = NULL;
		/* An empty page ends it too, whatever next_before says. */
	} while (rc == 0 && before != NULL && ro->count < ro->filter.limit &&
	    ro->count > prev);
	free(before);
	return rc;
}

int
cli_runs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workflow", required_argument, NULL, 'w' },
		{ "state", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "before", required_argument, NULL, 'B' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const head[] = { "ID", "WORKFLOW", "STATE", "STEP",
	    "ATTEMPT", "AGE", "DURATION", "ERROR" };
	static const int widths[] = { 0, 32, 0, 24, 0, 0, 0, 60 };
	struct runs_out ro;
	struct cli_opts co;
	struct orc_error err;
	struct store *st;
	const char *url;
	int i, rc;

	memset(&ro, 0, sizeof ro);
	ro.filter.state = -1;
	ro.filter.limit = 20;
	if ((i = cli_parse("runs", argc, argv, opts, runs_opt, &ro, &co)) < 0)
		return CLI_USAGE;
	if (i != argc)
		return cli_usage_error("runs", "unexpected \"%s\"", argv[i]);
	url = cli_url(&co);
	st = NULL;
	if (url == NULL && (st = cli_store_read(cli_db(co.db), &err)) == NULL)
		return cli_fail("runs", "%s", err.message);
	ro.now = orc_now_ms();
	ro.table = format_table_create(8, head, widths);
	if (url != NULL)
		rc = runs_url(&ro, url, &err);
	else
		rc = store_list_runs(st, &ro.filter, runs_row_cb, &ro, &err);
	if (rc == 0 && !ro.json)
		format_table_print(ro.table, stdout);
	format_table_free(ro.table);
	if (st != NULL)
		store_close(st);
	if (rc != 0)
		return cli_fail("runs", "%s", err.message);
	return CLI_OK;
}
