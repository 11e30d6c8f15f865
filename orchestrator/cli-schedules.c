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
#include "client.h"
#include "format.h"
#include "runjson.h"
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
		o = runjson_schedule(r);
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

/* The schedules a server has (GET /schedules), through the same rows. */
static int
schedules_url(const char *url, struct schedules_out *so,
    struct orc_error *err)
{
	struct schedule_rec r;
	json_t *doc = NULL, *o;
	long status;
	size_t i;
	int rc;

	if ((rc = client_request(url, "GET", "/schedules", NULL, NULL, 0,
	    &status, &doc, err)) != 0)
		return rc;
	json_array_foreach(json_object_get(doc, "schedules"), i, o) {
		if (runjson_schedule_rec(o, &r) != 0)
			continue;
		schedules_row_cb(&r, so);
		schedule_rec_clear(&r);
	}
	json_decref(doc);
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
	const char *url;
	int i, rc;

	memset(&so, 0, sizeof so);
	if ((i = cli_parse("schedules", argc, argv, opts, schedules_opt, &so,
	    &co)) < 0)
		return CLI_USAGE;
	if (i != argc)
		return cli_usage_error("schedules", "unexpected \"%s\"",
		    argv[i]);
	so.table = format_table_create(7, head, widths);
	if ((url = cli_url(&co)) != NULL)
		rc = schedules_url(url, &so, &err);
	else if ((st = cli_store_read(cli_db(co.db), &err)) == NULL)
		rc = -1;
	else {
		rc = store_list_schedules(st, schedules_row_cb, &so, &err);
		store_close(st);
	}
	if (rc == 0 && !so.json)
		format_table_print(so.table, stdout);
	format_table_free(so.table);
	if (rc != 0)
		return cli_fail("schedules", "%s", err.message);
	return CLI_OK;
}
