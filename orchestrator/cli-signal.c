/*
 * orchestrator signal RUN_ID STEP: delivers a signal to a run that waits
 * on a wait.signal step; the JSON of --input (a file, or - for stdin;
 * {} without it) is that step's output. With --url the server delivers
 * it; without, this process takes the run from the database (when no live
 * process holds it) and executes it until it is final or waits again.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "client.h"

/* Has the server deliver it (POST /runs/ID/signals/STEP). */
static int
signal_url(const char *url, const char *id, const char *step,
    const json_t *body)
{
	struct orc_error err;
	json_t *answer = NULL;
	long status;
	char *path, *mid;
	int rc;

	mid = client_path("/runs/", id, "/signals/");
	path = client_path(mid, step, NULL);
	rc = client_request(url, "POST", path, body, NULL, 0, &status,
	    &answer, &err);
	free(path);
	free(mid);
	json_decref(answer);
	if (rc != 0)
		return cli_fail("signal", "%s", err.message);
	printf("run %s: signal to step %s delivered\n", id, step);
	return CLI_OK;
}

int
cli_signal(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	const char *input_path = NULL, *url;
	struct engine_watch w;
	struct cli_engine ce;
	struct orc_error err;
	struct cli_opts co;
	json_t *body;
	int i, rc;

	if ((i = cli_parse("signal", argc, argv, opts, cli_opt_string,
	    &input_path, &co)) < 0)
		return CLI_USAGE;
	if (i + 2 != argc)
		return cli_usage_error("signal", "expected a run id and a step");
	cli_run_id(argv[i]);
	if ((body = cli_read_input(input_path, &err)) == NULL)
		return cli_fail("signal", "%s", err.message);
	if ((url = cli_url(&co)) != NULL) {
		rc = signal_url(url, argv[i], argv[i + 1], body);
		json_decref(body);
		return rc;
	}
	if (cli_engine_open(&ce, cli_db(co.db), cli_buckets(co.buckets),
	    &err) != 0) {
		json_decref(body);
		return cli_fail("signal", "%s", err.message);
	}
	w = cli_engine_watch(&ce);
	if ((rc = engine_signal(ce.engine, argv[i], argv[i + 1], body, &w,
	    &err)) == 0)
		cli_engine_wait(&ce);
	json_decref(body);
	if (rc == 0 && !ce.failed && ce.output)
		cli_print_json(ce.output);
	cli_engine_close(&ce);
	if (rc != 0)
		return cli_fail("signal", "%s", err.message);
	return ce.failed ? CLI_FAILED : CLI_OK;
}
