/*
 * orchestrator dashboard [--once] [--interval T]: the live text dashboard
 * (dash.c) on the database, read-only, or on a server with --url. --once
 * prints one plain frame (COLUMNS x LINES, else 120 x 40) and exits;
 * NO_COLOR set means no colour.
 */
#include "config.h"

#include <getopt.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dash.h"
#include "log.h"

#define DASH_ONCE_COLS	120
#define DASH_ONCE_ROWS	40

struct dashboard_opts {
	int	once;
	int	interval_ms;
};

/* "1", "0.5", "2s", "500ms" as milliseconds; -1 when none of these. */
static int
dashboard_interval(const char *s)
{
	char	*end;
	double	 v;

	v = strtod(s, &end);
	if (end == s || v <= 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		;
	else if (*end == '\0' || strcmp(end, "s") == 0)
		v *= 1000;
	else
		return -1;
	if (v < 100 || v > 3600000)
		return -1;
	return (int)v;
}

/* The dashboard's own options. */
static int
dashboard_opt(int c, const char *arg, void *ctx)
{
	struct dashboard_opts *o = ctx;

	switch (c) {
	case 'o':
		o->once = 1;
		break;
	case 'i':
		if ((o->interval_ms = dashboard_interval(arg)) < 0) {
			cli_usage_error("dashboard", "--interval: \"%s\" is "
			    "not a time from 100ms to 1h (\"1\", \"2s\", "
			    "\"500ms\")", arg);
			return -1;
		}
		break;
	}
	return 0;
}

/* A size from the environment, or def. */
static int
dashboard_env_size(const char *name, int def, int min)
{
	const char	*s = getenv(name);
	long		 v;

	if (s == NULL || *s == '\0')
		return def;
	v = strtol(s, NULL, 10);
	return v >= min && v <= 1000 ? (int)v : def;
}

int
cli_dashboard(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	struct dashboard_opts	 o = { 0, 1000 };
	struct cli_opts		 co;
	struct orc_error	 err;
	struct dash_source	*src;
	const char		*nc;
	int			 i, rc, color;

	setlocale(LC_ALL, "");
	if ((i = cli_parse("dashboard", argc, argv, opts, dashboard_opt, &o,
	    &co)) < 0)
		return CLI_USAGE;
	if (i != argc)
		return cli_usage_error("dashboard", "unexpected \"%s\"",
		    argv[i]);
	if (!o.once && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
		return cli_usage_error("dashboard", "not a terminal: use "
		    "--once for one plain frame");
	if ((cli_url(&co) == NULL && cli_db_exists(cli_db(co.db), &err) != 0) ||
	    (src = dash_source_open(cli_db(co.db), cli_url(&co), &err)) ==
	    NULL)
		return cli_fail("dashboard", "%s", err.message);
	if (o.once) {
		rc = dash_once(src, stdout, dashboard_env_size("LINES",
		    DASH_ONCE_ROWS, 1), dashboard_env_size("COLUMNS",
		    DASH_ONCE_COLS, 1));
		dash_source_close(src);
		return rc == 0 ? CLI_OK : CLI_FAILED;
	}
	/* Log lines would scribble over the screen: failures are shown on
	 * the status line instead. */
	log_set_level(LOG_NONE);
	nc = getenv("NO_COLOR");
	color = nc == NULL || *nc == '\0';
	rc = dash_run(src, o.interval_ms, color);
	dash_source_close(src);
	if (rc != 0)
		return cli_fail("dashboard", "cannot start the terminal "
		    "(TERM=%s)", getenv("TERM") ? getenv("TERM") : "");
	return CLI_OK;
}
