/*
 * orchestrator retry: redrives failed or cancelled runs in this process,
 * one by id (from its failed step, or --from-step, with an edited --input,
 * on its own definition or --latest) or many by filter.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "store.h"
#include "workflow.h"

struct retry_opts {
	const char	*from_step, *input, *db, *buckets, *workflows;
	const char	*workflow, *error_like, *since, *level;
	int		 latest, state;
};

/* The newest definition of a workflow, from the workflows folder. */
static struct workflow *
retry_latest(const char *dir, const char *name, struct orc_error *err)
{
	struct workflow **list = NULL, *wf = NULL;
	struct diag *d = diag_create();
	int n, i;

	n = workflow_load_dir(dir, &list, d);
	for (i = 0; i < n; i++)
		if (strcmp(workflow_name(list[i]), name) == 0)
			wf = workflow_ref(list[i]);
	if (n >= 0)
		workflow_list_free(list, (size_t)n);
	if (wf == NULL)
		orc_error_set(err, ORC_ENOTFOUND, "%s: no loadable workflow "
		    "named \"%s\"%s%s", dir, name, diag_count(d) ? ": " : "",
		    diag_count(d) ? diag_at(d, 0) : "");
	diag_free(d);
	return wf;
}

/* Redrives one run; counts it in ce when it starts. */
static int
retry_one(struct cli_engine *ce, const struct retry_opts *o, const char *id,
    const json_t *input, struct orc_error *err)
{
	struct engine_redrive rd;
	struct engine_watch w;
	struct run_rec r;
	int rc;

	memset(&rd, 0, sizeof rd);
	rd.from_step = o->from_step;
	rd.input = input;
	if (o->latest) {
		memset(&r, 0, sizeof r);
		if (store_get_run(ce->store, id, &r, err) != 0)
			return -1;
		rd.latest = retry_latest(cli_workflows(o->workflows),
		    r.workflow, err);
		run_rec_clear(&r);
		if (rd.latest == NULL)
			return -1;
	}
	w = cli_engine_watch(ce);
	if ((rc = engine_redrive(ce->engine, id, &rd, &w, err)) != 0)
		ce->waiting--;
	workflow_unref(rd.latest);
	return rc;
}

struct retry_bulk {
	char	**ids;
	size_t	  n;
};

/* Collects the ids a bulk retry matches. */
static int
retry_collect_cb(const struct run_rec *r, void *arg)
{
	struct retry_bulk *b = arg;

	b->ids = xrealloc(b->ids, (b->n + 1) * sizeof *b->ids);
	b->ids[b->n++] = xstrdup(r->id);
	return 0;
}

/* Retries every run matching the filter; prints how many. */
static int
retry_bulk(struct cli_engine *ce, const struct retry_opts *o,
    struct orc_error *err)
{
	struct run_filter f;
	struct retry_bulk b = { NULL, 0 };
	struct orc_error e1;
	size_t i, started = 0;

	memset(&f, 0, sizeof f);
	f.workflow = o->workflow;
	f.state = o->state;
	f.error_like = o->error_like;
	if (o->since != NULL)
		f.since = strtoll(o->since, NULL, 10);
	if (store_list_runs(ce->store, &f, retry_collect_cb, &b, err) != 0)
		return -1;
	for (i = 0; i < b.n; i++) {
		if (retry_one(ce, o, b.ids[i], NULL, &e1) == 0)
			started++;
		else
			fprintf(stderr, "orchestrator retry: %s\n", e1.message);
		free(b.ids[i]);
	}
	free(b.ids);
	fprintf(stderr, "retrying %zu run%s\n", started, started == 1 ? "" :
	    "s");
	return 0;
}

/* Parses the options into o; returns optind, or -1 after a usage error. */
static int
retry_parse(int argc, char **argv, struct retry_opts *o)
{
	static const struct option opts[] = {
		{ "from-step", required_argument, NULL, 'f' },
		{ "input", required_argument, NULL, 'i' },
		{ "latest", no_argument, NULL, 'L' },
		{ "workflow", required_argument, NULL, 'w' },
		{ "state", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		{ "error", required_argument, NULL, 'e' },
		{ "db", required_argument, NULL, 'd' },
		{ "buckets", required_argument, NULL, 'b' },
		{ "workflows", required_argument, NULL, 'W' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	enum run_state st;
	int c;

	memset(o, 0, sizeof *o);
	o->state = RUN_FAILED;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o->from_step = optarg; break;
		case 'i': o->input = optarg; break;
		case 'L': o->latest = 1; break;
		case 'w': o->workflow = optarg; break;
		case 's':
			if (run_state_parse(optarg, &st) != 0 ||
			    (st != RUN_FAILED && st != RUN_CANCELLED)) {
				cli_usage_error("retry", "--state: expected "
				    "failed or cancelled");
				return -1;
			}
			o->state = (int)st;
			break;
		case 'S': o->since = optarg; break;
		case 'e': o->error_like = optarg; break;
		case 'd': o->db = optarg; break;
		case 'b': o->buckets = optarg; break;
		case 'W': o->workflows = optarg; break;
		case 'l': o->level = optarg; break;
		default: cli_usage_error("retry", "bad option"); return -1;
		}
	}
	return optind;
}

int
cli_retry(int argc, char **argv)
{
	struct retry_opts o;
	struct cli_engine ce;
	struct orc_error err;
	json_t *input = NULL;
	int i, rc;

	if ((i = retry_parse(argc, argv, &o)) < 0)
		return CLI_USAGE;
	if ((i + 1 == argc) == (o.workflow != NULL))
		return cli_usage_error("retry", "expected one run id, or "
		    "--workflow for a bulk retry");
	if (cli_log_level(o.level) != 0)
		return cli_usage_error("retry", "--log-level: unknown level");
	if (o.input != NULL && (input = cli_read_input(o.input, &err)) == NULL)
		return cli_fail("retry", "%s", err.message);
	if (cli_engine_open(&ce, cli_db(o.db), cli_buckets(o.buckets), &err)) {
		json_decref(input);
		return cli_fail("retry", "%s", err.message);
	}
	if (o.workflow != NULL)
		rc = retry_bulk(&ce, &o, &err);
	else
		rc = retry_one(&ce, &o, argv[i], input, &err);
	json_decref(input);
	if (rc == 0)
		cli_engine_wait(&ce);
	if (rc == 0 && o.workflow == NULL && !ce.failed && ce.output)
		cli_print_json(ce.output);
	cli_engine_close(&ce);
	if (rc != 0)
		return cli_fail("retry", "%s", err.message);
	return ce.failed ? CLI_FAILED : CLI_OK;
}
