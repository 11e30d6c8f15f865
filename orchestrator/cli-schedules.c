/*
 * orchestrator schedules: the cron triggers as the store has them (the
 * schedules table that `serve` keeps, see scheduler.h): expression, timezone,
 * next and last fire, and how many fires started a run or were skipped. A
 * table, or one JSON object per line with --json. Reads through a
 * read-only connection, so it never blocks a running daemon.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "format.h"
#include "store.h"

struct schedules_out {
	struct format_table	*table;
	int			 json;
};

/* Adds one schedule row to the table, or prints its JSON line. */
static int
schedules_row_cb(const struct schedule_rec *r, void *arg)
{
	struct schedules_out *so = arg;
	char next[40], last[40], fired[24], skipped[24];
	const char *cells[7];
	json_t *o;

	if (so->json) {
		o = json_pack("{s:s, s:s, s:s?, s:I, s:I, s:s?, s:I, s:I}",
		    "workflow", r->workflow, "schedule", r->schedule,
		    "timezone", r->timezone, "next_at", (json_int_t)r->next_at,
		    "last_fire_at", (json_int_t)r->last_fire_at,
		    "last_run_id", r->last_run_id, "fired",
		    (json_int_t)r->fired, "skipped", (json_int_t)r->skipped);
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
		return 0;
	}
	snprintf(fired, sizeof fired, "%lld", (long long)r->fired);
	snprintf(skipped, sizeof skipped, "%lld", (long long)r->skipped);
	cells[0] = r->workflow;
	cells[1] = r->schedule;
	cells[2] = r->timezone != NULL ? r->timezone : "UTC";
	/* next_at 0: the workflow no longer has a cron trigger. */
	cells[3] = r->next_at > 0 ? format_time(r->next_at, next,
	    sizeof next) : "-";
	cells[4] = format_time(r->last_fire_at, last, sizeof last);
	cells[5] = fired;
	cells[6] = skipped;
	format_table_add(so->table, cells);
	return 0;
}

/* The command's own option: --json. */
static int
schedules_opt(int c, const char *arg, void *ctx)
{
	struct schedules_out *so = ctx;

	if (c == 'j')
		so->json = 1;
	return 0;
}

int
cli_schedules(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const head[] = { "WORKFLOW", "SCHEDULE",
	    "TIMEZONE", "NEXT FIRE", "LAST FIRE", "FIRED", "SKIPPED" };
	static const int widths[] = { 32, 40, 32, 0, 0, 0, 0 };
	struct schedules_out so;
	struct cli_opts co;
	struct orc_error err;
	struct store *st;
	int i, rc;

	memset(&so, 0, sizeof so);
	if ((i = cli_parse("schedules", argc, argv, opts, schedules_opt, &so,
	    &co)) < 0)
		return CLI_USAGE;
	if (i != argc)
		return cli_usage_error("schedules", "unexpected \"%s\"",
		    argv[i]);
	if ((st = cli_store_read(cli_db(co.db), &err)) == NULL)
		return cli_fail("schedules", "%s", err.message);
	so.table = format_table_create(7, head, widths);
	rc = store_list_schedules(st, schedules_row_cb, &so, &err);
	if (rc == 0 && !so.json)
		format_table_print(so.table, stdout);
	format_table_free(so.table);
	store_close(st);
	if (rc != 0)
		return cli_fail("schedules", "%s", err.message);
	return CLI_OK;
}
