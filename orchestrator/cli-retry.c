/*
 * orchestrator retry: redrives failed or cancelled runs in this process,
 * one by id (from its failed step, or --from-step, with an edited --input,
 * on its own definition or --latest) or many by filter. With --url a
 * server redrives them instead (POST /runs/ID/retry, POST /runs/retry)
 * and the command returns without waiting for them to finish.
 */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "diag.h"
#include "store.h"
#include "strbuf.h"
#include "workflow.h"

struct retry_opts {
	struct cli_opts	 co;
	const char	*from_step, *input;
	const char	*workflow, *error_like, *since;
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
		rd.latest = retry_latest(cli_workflows(o->co.workflows),
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

/* Appends "&key=value" (escaped) to a query when value is set. */
static void
retry_query_add(struct strbuf *q, const char *key, const char *value)
{
	char *v;

	if (value == NULL)
		return;
	v = client_escape(value);
	strbuf_printf(q, "&%s=%s", key, v);
	free(v);
}

/* Has the server redrive one run (then prints it as show does) or every
 * run matching the filter; returns the exit code. */
static int
retry_url(const struct retry_opts *o, const char *url, const char *id,
    json_t *input)
{
	struct strbuf q = STRBUF_INIT;
	struct orc_error err;
	json_t *body = NULL, *answer;
	long status;
	char *eid;
	int rc;

	if (id != NULL) {
		body = json_object();
		if (o->from_step != NULL)
			json_object_set_new(body, "from_step",
			    json_string(o->from_step));
		if (input != NULL)
			json_object_set(body, "input", input);
		if (o->latest)
			json_object_set_new(body, "latest", json_true());
		eid = client_escape(id);
		strbuf_printf(&q, "/runs/%s/retry", eid);
		free(eid);
	} else {
		strbuf_puts(&q, "/runs/retry?state=");
		strbuf_puts(&q, run_state_name((enum run_state)o->state));
		retry_query_add(&q, "workflow", o->workflow);
		retry_query_add(&q, "since", o->since);
		retry_query_add(&q, "error", o->error_like);
	}
	rc = client_request(url, "POST", q.s, body, NULL, 0, &status, &answer,
	    &err);
	strbuf_free(&q);
	json_decref(body);
	if (rc == 0 && id == NULL) {
		status = (long)json_integer_value(json_object_get(answer,
		    "retried"));
		fprintf(stderr, "retrying %ld run%s\n", status, status == 1 ?
		    "" : "s");
	}
	json_decref(answer);
	if (rc != 0)
		return cli_fail("retry", "%s", err.message);
	return id != NULL ? cli_show_url("retry", url, id, 0) : CLI_OK;
}

/* The retry command's own options. */
static int
retry_opt(int c, const char *arg, void *ctx)
{
	struct retry_opts *o = ctx;
	enum run_state st;

	switch (c) {
	case 'f': o->from_step = arg; break;
	case 'i': o->input = arg; break;
	case 'L': o->latest = 1; break;
	case 'w': o->workflow = arg; break;
	case 's':
		if (run_state_parse(arg, &st) != 0 ||
		    (st != RUN_FAILED && st != RUN_CANCELLED)) {
			cli_usage_error("retry", "--state: expected failed or "
			    "cancelled");
			return -1;
		}
		o->state = (int)st;
		break;
	case 'S': o->since = arg; break;
	case 'e': o->error_like = arg; break;
	}
	return 0;
}

/* Parses the options into o; returns the first operand, or -1. */
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
		{ NULL, 0, NULL, 0 }
	};

	memset(o, 0, sizeof *o);
	o->state = RUN_FAILED;
	return cli_parse("retry", argc, argv, opts, retry_opt, o, &o->co);
}

int
cli_retry(int argc, char **argv)
{
	struct retry_opts o;
	struct cli_engine ce;
	struct orc_error err;
	json_t *input = NULL;
	const char *url;
	int i, rc;

	if ((i = retry_parse(argc, argv, &o)) < 0)
		return CLI_USAGE;
	if ((i + 1 == argc) == (o.workflow != NULL))
		return cli_usage_error("retry", "expected one run id, or "
		    "--workflow for a bulk retry");
	if (o.workflow == NULL)
		cli_run_id(argv[i]);
	if (o.input != NULL && (input = cli_read_input(o.input, &err)) == NULL)
		return cli_fail("retry", "%s", err.message);
	if ((url = cli_url(&o.co)) != NULL) {
		rc = retry_url(&o, url, o.workflow == NULL ? argv[i] : NULL,
		    input);
		json_decref(input);
		return rc;
	}
	if (cli_engine_open(&ce, cli_db(o.co.db), cli_buckets(o.co.buckets),
	    &err)) {
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
