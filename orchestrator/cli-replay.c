/*
 * orchestrator replay RUN_ID --file NEW.json: the development loop. The
 * stored run's input goes through an edited definition in this process, on
 * a throwaway in-memory store: nothing is written to the database.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "store.h"
#include "workflow.h"

/* The input of a stored run (a new reference), or NULL with err. */
static json_t *
replay_input(const char *db, const char *id, struct orc_error *err)
{
	struct store *st;
	struct run_rec r;
	json_t *in = NULL;

	if ((st = store_open(db, STORE_READONLY, NULL, err)) == NULL)
		return NULL;
	memset(&r, 0, sizeof r);
	if (store_get_run(st, id, &r, err) == 0)
		in = json_incref(r.input);
	run_rec_clear(&r);
	store_close(st);
	return in;
}

int
cli_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	const char *file = NULL, *buckets;
	struct cli_opts co;
	struct engine_watch w;
	struct cli_engine ce;
	struct orc_error err;
	struct workflow *wf;
	json_t *input, *trigger;
	char tmp[] = "/tmp/orchestrator-replay-XXXXXX";
	int i, rc;

	if ((i = cli_parse("replay", argc, argv, opts, cli_opt_string, &file,
	    &co)) < 0)
		return CLI_USAGE;
	if (i + 1 != argc || file == NULL)
		return cli_usage_error("replay", "expected a run id and --file");
	buckets = co.buckets;
	if ((input = replay_input(cli_db(co.db), argv[i], &err)) == NULL)
		return cli_fail("replay", "%s", err.message);
	if ((wf = cli_load_workflow(file)) == NULL) {
		json_decref(input);
		return CLI_FAILED;
	}
	/* Nothing is stored: buckets go to a throwaway folder too, unless
	 * --buckets names one. */
	if (buckets == NULL) {
		if (mkdtemp(tmp) == NULL) {
			json_decref(input);
			workflow_unref(wf);
			return cli_fail("replay", "cannot make a temporary "
			    "buckets folder");
		}
		buckets = tmp;
		fprintf(stderr, "replay: buckets are written to %s\n", tmp);
	}
	if (cli_engine_open(&ce, ":memory:", buckets, &err)) {
		json_decref(input);
		workflow_unref(wf);
		return cli_fail("replay", "%s", err.message);
	}
	w = cli_engine_watch(&ce);
	trigger = json_pack("{ssss}", "source", "replay", "of", argv[i]);
	rc = engine_submit(ce.engine, wf, input, trigger, &w, NULL, &err);
	json_decref(trigger);
	json_decref(input);
	if (rc == 0) {
		cli_engine_wait(&ce);
		if (!ce.failed && ce.output != NULL)
			cli_print_json(ce.output);
		rc = ce.failed ? CLI_FAILED : CLI_OK;
	} else
		rc = cli_fail("replay", "%s: %s", file, err.message);
	cli_engine_close(&ce);
	workflow_unref(wf);
	return rc;
}
