/*
 * orchestrator cancel RUN_ID: cancels a run that no live process is
 * executing. The cancellation is committed before the command returns.
 * With --url the server that executes the run cancels it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "cli.h"
#include "client.h"
#include "store.h"

/* Has the server cancel the run (POST /runs/ID/cancel). */
static int
cancel_url(const char *url, const char *id, struct orc_error *err)
{
	json_t *answer;
	char *eid, *path;
	long status;
	int rc;

	eid = client_escape(id);
	path = xasprintf("/runs/%s/cancel", eid);
	rc = client_request(url, "POST", path, NULL, NULL, 0, &status, &answer,
	    err);
	json_decref(answer);
	free(path);
	free(eid);
	return rc;
}

int
cli_cancel(int argc, char **argv)
{
	struct cli_opts co;
	struct cli_engine ce;
	struct orc_error err;
	const char *url;
	int i, rc;

	if ((i = cli_parse("cancel", argc, argv, NULL, NULL, NULL, &co)) < 0)
		return CLI_USAGE;
	if (i + 1 != argc)
		return cli_usage_error("cancel", "expected one run id");
	cli_run_id(argv[i]);
	if ((url = cli_url(&co)) != NULL) {
		if (cancel_url(url, argv[i], &err) != 0)
			return cli_fail("cancel", "%s", err.message);
		printf("run %s cancelled\n", argv[i]);
		return CLI_OK;
	}
	if (cli_engine_open(&ce, cli_db(co.db), NULL, &err) != 0)
		return cli_fail("cancel", "%s", err.message);
	if ((rc = engine_cancel(ce.engine, argv[i], &err)) == 0) {
		/* The cancel is committed by the loop's grouped commit. */
		ce.waiting = 1;
		ce.quiet = 1;
		event_base_loop(ce.base, EVLOOP_NONBLOCK);
		rc = store_flush(ce.store, &err);
	}
	cli_engine_close(&ce);
	if (rc != 0)
		return cli_fail("cancel", "%s", err.message);
	printf("run %s cancelled\n", argv[i]);
	return CLI_OK;
}
