/*
 * orchestrator runs: the newest runs, as a table or as JSON lines. Reads
 * the store through a read-only connection, so it never blocks a process
 * that is executing runs.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "id.h"
#include "store.h"

struct runs_out {
	struct format_table	*table;
	int			 json;
	int64_t			 now;
	int			 count;
};

json_t *
cli_run_json(const struct run_rec *r)
{
	json_t *o = json_pack("{sssssssisisI}", "id", r->id,
	    "workflow", r->workflow, "state", run_state_name(r->state),
	    "seq", r->seq, "attempt", r->attempt, "created_at",
	    (json_int_t)r->created_at);

	json_object_set_new(o, "step", r->step ? json_string(r->step) :
	    json_null());
	json_object_set_new(o, "definition", json_string(r->def_hash));
	json_object_set_new(o, "updated_at", json_integer(r->updated_at));
	json_object_set_new(o, "finished_at", r->finished_at ?
	    json_integer(r->finished_at) : json_null());
	json_object_set_new(o, "error", r->error ? json_string(r->error) :
	    json_null());
	json_object_set(o, "input", r->input ? r->input : json_null());
	json_object_set(o, "output", r->output ? r->output : json_null());
	if (r->dead != DEAD_NONE)
		json_object_set_new(o, "on_failure", json_string(
		    r->dead == DEAD_PENDING ? "pending" :
		    r->dead == DEAD_DONE ? "succeeded" : "failed"));
	return o;
}

/* Adds one run to the table (or prints its JSON line). */
static int
runs_row_cb(const struct run_rec *r, void *arg)
{
	struct runs_out *ro = arg;
	char age[32], dur[32], att[16];
	const char *cells[8];
	json_t *o;

	ro->count++;
	if (ro->json) {
		o = cli_run_json(r);
		json_object_del(o, "input");
		json_object_del(o, "output");
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
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

int
cli_runs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workflow", required_argument, NULL, 'w' },
		{ "state", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'n' },
		{ "before", required_argument, NULL, 'B' },
		{ "json", no_argument, NULL, 'j' },
		{ "db", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const head[] = { "ID", "WORKFLOW", "STATE", "STEP",
	    "ATTEMPT", "AGE", "DURATION", "ERROR" };
	static const int widths[] = { 0, 32, 0, 24, 0, 0, 0, 60 };
	struct run_filter f;
	struct runs_out ro;
	struct orc_error err;
	struct store *st;
	const char *db = NULL, *level = NULL;
	enum run_state state;
	char *end;
	int c, rc;

	memset(&f, 0, sizeof f);
	memset(&ro, 0, sizeof ro);
	f.state = -1;
	f.limit = 20;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'w': f.workflow = optarg; break;
		case 's':
			if (run_state_parse(optarg, &state) != 0)
				return cli_usage_error("runs", "--state: "
				    "unknown state \"%s\"", optarg);
			f.state = (int)state;
			break;
		case 'n':
			f.limit = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || f.limit < 1)
				return cli_usage_error("runs", "--limit: "
				    "expected a positive number");
			break;
		case 'B': f.before_id = optarg; break;
		case 'j': ro.json = 1; break;
		case 'd': db = optarg; break;
		case 'l': level = optarg; break;
		default: return cli_usage_error("runs", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("runs", "unexpected \"%s\"",
		    argv[optind]);
	if (cli_log_level(level) != 0)
		return cli_usage_error("runs", "--log-level: unknown level");
	if ((st = store_open(cli_db(db), STORE_READONLY, NULL, &err)) == NULL)
		return cli_fail("runs", "%s", err.message);
	ro.now = orc_now_ms();
	ro.table = format_table_create(8, head, widths);
	rc = store_list_runs(st, &f, runs_row_cb, &ro, &err);
	if (rc == 0 && !ro.json)
		format_table_print(ro.table, stdout);
	format_table_free(ro.table);
	store_close(st);
	if (rc != 0)
		return cli_fail("runs", "%s", err.message);
	return CLI_OK;
}
