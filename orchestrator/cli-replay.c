/*
 * orchestrator replay RUN_ID --file NEW.json: the development loop. The
 * stored run's input goes through an edited definition in this process, on
 * a throwaway in-memory store: nothing is written to the database. Nor
 * does anything reach outside, unless --live: http.request and S3 bucket
 * steps answer with the stored run's outputs of the same name (or fail
 * saying there is none), ctx.fetch is refused, and local buckets are
 * written to a temporary folder that is removed at the end.
 */
#include "config.h"

#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

	if ((st = cli_store_open(db, STORE_READONLY, NULL, err)) == NULL)
		return NULL;
	memset(&r, 0, sizeof r);
	if (store_get_run(st, id, &r, err) == 0)
		in = json_incref(r.input);
	run_rec_clear(&r);
	store_close(st);
	return in;
}

/* Adds a stored step's output under its name; later visits win. */
static int
replay_step_cb(const struct step_rec *s, void *arg)
{
	json_object_set(arg, s->name, s->output != NULL ? s->output :
	    json_null());
	return 0;
}

/* The outputs a stored run recorded, by step name (a new object). */
static json_t *
replay_recorded(const char *db, const char *id, struct orc_error *err)
{
	struct store *st;
	json_t *o = json_object();

	if ((st = cli_store_open(db, STORE_READONLY, NULL, err)) == NULL) {
		json_decref(o);
		return NULL;
	}
	if (store_list_steps(st, id, replay_step_cb, o, err) != 0) {
		json_decref(o);
		o = NULL;
	}
	store_close(st);
	return o;
}

/* Removes one entry of the temporary buckets (nftw, depth first). */
static int
replay_rm_cb(const char *path, const struct stat *sb, int type,
    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* The replay's options. */
struct replay_opts {
	const char	*file;
	int		 live;
};

static int
replay_opt(int c, const char *arg, void *ctx)
{
	struct replay_opts *ro = ctx;

	if (c == 'L')
		ro->live = 1;
	else
		ro->file = arg;
	return 0;
}

int
cli_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "live", no_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	struct replay_opts ro = { NULL, 0 };
	const char *file, *buckets;
	struct cli_opts co;
	struct engine_watch w;
	struct cli_engine ce;
	struct orc_error err;
	struct workflow *wf;
	json_t *input, *trigger, *recorded = NULL;
	const char *tmpdir = getenv("TMPDIR");
	char tmp[4096];
	int i, rc, made_tmp = 0;

	if ((i = cli_parse("replay", argc, argv, opts, replay_opt, &ro,
	    &co)) < 0)
		return CLI_USAGE;
	file = ro.file;
	if (i + 1 != argc || file == NULL)
		return cli_usage_error("replay", "expected a run id and --file");
	buckets = co.buckets;
	if ((input = replay_input(cli_db(co.db), argv[i], &err)) == NULL)
		return cli_fail("replay", "%s", err.message);
	if (!ro.live && (recorded = replay_recorded(cli_db(co.db), argv[i],
	    &err)) == NULL) {
		json_decref(input);
		return cli_fail("replay", "%s", err.message);
	}
	if ((wf = cli_load_workflow(file)) == NULL) {
		json_decref(input);
		return CLI_FAILED;
	}
	/* Nothing is stored: buckets go to a throwaway folder too, unless
	 * --buckets names one. */
	if (buckets == NULL) {
		snprintf(tmp, sizeof tmp, "%s/orchestrator-replay-XXXXXX",
		    tmpdir != NULL && *tmpdir != '\0' ? tmpdir : "/tmp");
		if (mkdtemp(tmp) == NULL) {
			json_decref(input);
			json_decref(recorded);
			workflow_unref(wf);
			return cli_fail("replay", "cannot make a temporary "
			    "buckets folder");
		}
		buckets = tmp;
		made_tmp = 1;
	}
	if (cli_engine_open_replay(&ce, ":memory:", buckets, recorded,
	    &err)) {
		json_decref(input);
		json_decref(recorded);
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
	json_decref(recorded);
	if (made_tmp)
		(void)nftw(tmp, replay_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
