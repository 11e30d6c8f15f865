/*
 * orchestrator resume: takes over the unfinished runs of processes that
 * died (or only those named) and finishes them here. A run a live process
 * holds is left alone. `serve` will do this when it starts.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int
cli_resume(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workflow", required_argument, NULL, 'w' },
		{ "db", required_argument, NULL, 'd' },
		{ "buckets", required_argument, NULL, 'b' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	const char *db = NULL, *buckets = NULL, *level = NULL;
	const char *workflow = NULL;
	struct engine_watch w;
	struct cli_engine ce;
	struct orc_error err;
	int c, n = 0, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'w': workflow = optarg; break;
		case 'd': db = optarg; break;
		case 'b': buckets = optarg; break;
		case 'l': level = optarg; break;
		default: return cli_usage_error("resume", "bad option");
		}
	}
	if (cli_log_level(level) != 0)
		return cli_usage_error("resume", "--log-level: unknown level");
	if (cli_engine_open(&ce, cli_db(db), cli_buckets(buckets), &err) != 0)
		return cli_fail("resume", "%s", err.message);
	/* Every resumed run reports to the same watch: count them after. */
	w = cli_engine_watch(&ce);
	ce.waiting = 0;
	rc = engine_resume(ce.engine, optind < argc ?
	    (const char *const *)argv + optind : NULL, workflow, &w, &n, &err);
	ce.waiting += n;
	if (rc == 0)
		cli_engine_wait(&ce);
	cli_engine_close(&ce);
	if (rc != 0)
		return cli_fail("resume", "%s", err.message);
	fprintf(stderr, "resumed %d run%s, %d did not succeed\n", n,
	    n == 1 ? "" : "s", ce.failed);
	return ce.failed ? CLI_FAILED : CLI_OK;
}
