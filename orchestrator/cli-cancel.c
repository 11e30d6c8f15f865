/*
 * orchestrator cancel RUN_ID: cancels a run that no live process is
 * executing. The cancellation is committed before the command returns.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include <event2/event.h>

#include "cli.h"
#include "store.h"

int
cli_cancel(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	const char *db = NULL, *level = NULL;
	struct cli_engine ce;
	struct orc_error err;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': db = optarg; break;
		case 'l': level = optarg; break;
		default: return cli_usage_error("cancel", "bad option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("cancel", "expected one run id");
	if (cli_log_level(level) != 0)
		return cli_usage_error("cancel", "--log-level: unknown level");
	if (cli_engine_open(&ce, cli_db(db), NULL, &err) != 0)
		return cli_fail("cancel", "%s", err.message);
	if ((rc = engine_cancel(ce.engine, argv[optind], &err)) == 0) {
		/* The cancel is committed by the loop's grouped commit. */
		ce.waiting = 1;
		ce.quiet = 1;
		event_base_loop(ce.base, EVLOOP_NONBLOCK);
		rc = store_flush(ce.store, &err);
	}
	cli_engine_close(&ce);
	if (rc != 0)
		return cli_fail("cancel", "%s", err.message);
	printf("run %s cancelled\n", argv[optind]);
	return CLI_OK;
}
