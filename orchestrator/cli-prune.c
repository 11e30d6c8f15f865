/*
 * orchestrator prune [--older-than D] [--workflow W] [--state S]
 * [--dry-run]: deletes finished runs by filter now, with their steps,
 * transitions and blob files (store_purge), and says how many. It works
 * on the database directly, beside a running server: each purge is one
 * short transaction of at most PRUNE_BATCH runs, so the server's commits
 * wait at most that long for the write lock, and a live run is never
 * touched (nor a failed one whose on_failure is due).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "store.h"

/* Runs per transaction, and rows of the index one may scan. */
#define PRUNE_BATCH	500
#define PRUNE_SCAN	2000

struct prune_opts {
	struct store_purge	 p;
	int64_t			 older_ms;
};

/* The command's own options. */
static int
prune_opt(int c, const char *arg, void *ctx)
{
	struct prune_opts	*po = ctx;
	enum run_state		 state;

	switch (c) {
	case 'o':
		if (orc_parse_duration(arg, &po->older_ms) != 0) {
			cli_usage_error("prune", "--older-than: \"%s\" is not "
			    "a duration (such as 7d, 12h, 30m or 45s)", arg);
			return -1;
		}
		break;
	case 'w':
		po->p.workflow = arg;
		break;
	case 's':
		if (run_state_parse(arg, &state) != 0 ||
		    !run_state_is_final(state)) {
			cli_usage_error("prune", "--state: \"%s\" is not a "
			    "finished state (succeeded, failed, cancelled)",
			    arg);
			return -1;
		}
		po->p.state = (int)state;
		break;
	case 'n':
		po->p.dry_run = 1;
		break;
	}
	return 0;
}

/* orchestrator prune: one purge per transaction until the scan is done. */
int
cli_prune(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "older-than", required_argument, NULL, 'o' },
		{ "workflow", required_argument, NULL, 'w' },
		{ "state", required_argument, NULL, 's' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct prune_opts	 po;
	struct cli_opts		 co;
	struct orc_error	 err;
	struct store		*st;
	int64_t			 total = 0;
	int			 i;

	memset(&po, 0, sizeof po);
	po.p.state = -1;
	if ((i = cli_parse("prune", argc, argv, opts, prune_opt, &po,
	    &co)) < 0)
		return CLI_USAGE;
	if (i != argc)
		return cli_usage_error("prune", "unexpected \"%s\"", argv[i]);
	po.p.now = orc_now_ms();
	if (po.older_ms > 0)
		po.p.finished_before = po.p.now - po.older_ms;
	po.p.limit = PRUNE_BATCH;
	po.p.scan = PRUNE_SCAN;
	if ((st = cli_store_open(cli_db(co.db), 0, NULL, &err)) == NULL)
		return cli_fail("prune", "%s", err.message);
	/* One window per transaction, until the scan saw the newest. */
	do {
		store_submit_purge(st, &po.p, NULL, NULL);
		if (store_flush(st, &err) != 0) {
			store_close(st);
			return cli_fail("prune", "%s (%lld runs %s before)",
			    err.message, (long long)total, po.p.dry_run ?
			    "matched" : "deleted");
		}
		total += po.p.deleted;
	} while (!po.p.done);
	store_close(st);
	printf("%s %lld finished run%s\n", po.p.dry_run ? "would delete" :
	    "deleted", (long long)total, total == 1 ? "" : "s");
	return CLI_OK;
}
