/*
 * orchestrator resume: takes over the unfinished runs of processes that
 * died (or only those named) and finishes them here. A run a live process
 * holds is left alone. `serve` will do this when it starts.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "cli.h"

int
cli_resume(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workflow", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	const char *workflow = NULL;
	struct engine_watch w;
	struct cli_engine ce;
	struct cli_opts co;
	struct orc_error err;
	int i, n = 0, rc;

	if ((i = cli_parse("resume", argc, argv, opts, cli_opt_string, &workflow,
	    &co)) < 0)
		return CLI_USAGE;
	if (cli_engine_open(&ce, cli_db(co.db), cli_buckets(co.buckets),
	    &err) != 0)
		return cli_fail("resume", "%s", err.message);
	/* Every resumed run reports to the same watch: count them after. */
	w = cli_engine_watch(&ce);
	ce.waiting = 0;
	rc = engine_resume(ce.engine, i < argc ?
	    (const char *const *)argv + i : NULL, workflow, &w, &n, &err);
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
