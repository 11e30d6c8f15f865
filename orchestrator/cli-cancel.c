/*
 * orchestrator cancel RUN_ID: cancels a run. One that no live process is
 * executing is cancelled here, committed before the command returns; one
 * that another process executes (a server, orchestrator run, another
 * node) gets a request in the store, which that process takes within a
 * second: the command waits until the run is final. With --url the
 * server cancels it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "client.h"
#include "store.h"

/* How long cancel waits for another process to stop a run. */
#define CANCEL_WAIT_MS	10000

/* Has the server cancel the run (POST /runs/ID/cancel). */
static int
cancel_url(const char *url, const char *id, struct orc_error *err)
{
	json_t *answer;
	long status;
	int rc;

	rc = client_request_named(url, "POST", "/runs/", id, "/cancel",
	    &status, &answer, err);
	json_decref(answer);
	return rc;
}

/* Another process runs it: waits (at most CANCEL_WAIT_MS) until that
 * process has taken the request and the run is final. */
static int
cancel_wait(const char *db, const char *id)
{
	struct orc_error err;
	struct run_rec r;
	struct store *st;
	int64_t until = orc_mono_ms() + CANCEL_WAIT_MS;
	int state = -1;

	fprintf(stderr, "cancel: run %s is executed by another process; "
	    "cancel requested\n", id);
	if ((st = cli_store_open(db, STORE_READONLY, NULL, &err)) == NULL)
		return cli_fail("cancel", "%s", err.message);
	do {
		memset(&r, 0, sizeof r);
		if (store_get_run(st, id, &r, &err) == 0)
			state = (int)r.state;
		run_rec_clear(&r);
		if (state >= 0 && run_state_is_final((enum run_state)state))
			break;
		usleep(100 * 1000);
	} while (orc_mono_ms() < until);
	store_close(st);
	if (state >= 0 && run_state_is_final((enum run_state)state)) {
		printf("run %s %s\n", id, run_state_name((enum run_state)
		    state));
		return state == RUN_CANCELLED ? CLI_OK : CLI_FAILED;
	}
	return cli_fail("cancel", "run %s: cancel requested, but the process "
	    "running it has not stopped it within %d s (is it stuck?)", id,
	    CANCEL_WAIT_MS / 1000);
}

int
cli_cancel(int argc, char **argv)
{
	struct cli_opts co;
	struct cli_engine ce;
	struct orc_error err;
	const char *url;
	int i, rc, requested = 0;

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
	if ((rc = engine_cancel(ce.engine, argv[i], &err)) >= 0) {
		/* The cancel (or the request) is committed by the loop's
		 * grouped commit. */
		requested = rc == 1;
		ce.waiting = 1;
		ce.quiet = 1;
		event_base_loop(ce.base, EVLOOP_NONBLOCK);
		rc = store_flush(ce.store, &err);
	}
	cli_engine_close(&ce);
	if (rc != 0)
		return cli_fail("cancel", "%s", err.message);
	if (requested)
		return cancel_wait(cli_db(co.db), argv[i]);
	printf("run %s cancelled\n", argv[i]);
	return CLI_OK;
}
