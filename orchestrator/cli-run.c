/*
 * orchestrator run FILE.json: one run of a workflow in this process. The
 * run is stored like any other (runs and show list it); its output goes to
 * stdout as JSON, and the exit code says whether it succeeded.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "workflow.h"

/* The run is committed: from here on it is never lost. */
static void
run_accepted_cb(const struct engine_result *r, void *arg)
{
	fprintf(stderr, "run %s accepted\n", r->run_id);
}

int
cli_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	const char *input_path = NULL;
	struct cli_opts co;
	struct cli_engine ce;
	struct engine_watch w;
	struct orc_error err;
	struct workflow *wf;
	json_t *input, *trigger;
	char id[RUN_ID_LEN + 1];
	int i, rc;

	if ((i = cli_parse("run", argc, argv, opts, cli_opt_string,
	    &input_path, &co)) < 0)
		return CLI_USAGE;
	if (i + 1 != argc)
		return cli_usage_error("run", "expected one workflow file");
	if ((wf = cli_load_workflow(argv[i])) == NULL)
		return CLI_FAILED;
	if ((input = cli_read_input(input_path, &err)) == NULL) {
		workflow_unref(wf);
		return cli_fail("run", "%s", err.message);
	}
	if (cli_engine_open(&ce, cli_db(co.db), cli_buckets(co.buckets),
	    &err) != 0) {
		json_decref(input);
		workflow_unref(wf);
		return cli_fail("run", "%s", err.message);
	}
	w = cli_engine_watch(&ce);
	w.accepted = run_accepted_cb;
	ce.quiet = 1;
	trigger = json_pack("{ss}", "source", "cli");
	rc = engine_submit(ce.engine, wf, input, trigger, &w, id, &err);
	json_decref(trigger);
	json_decref(input);
	if (rc != 0) {
		cli_engine_close(&ce);
		workflow_unref(wf);
		return cli_fail("run", "%s: %s", argv[i], err.message);
	}
	cli_engine_wait(&ce);
	if (ce.failed)
		cli_fail("run", "run %s failed: %s", id,
		    ce.error ? ce.error : "unknown error");
	else if (ce.output != NULL)
		cli_print_json(ce.output);
	rc = ce.asleep > 0 ? CLI_OK : ce.failed || ce.output == NULL ?
	    CLI_FAILED : CLI_OK;
	cli_engine_close(&ce);
	workflow_unref(wf);
	return rc;
}
