/*
 * What the commands share: the command table, error and usage messages,
 * defaults from the environment, input files, and an engine that runs on
 * its own loop until the runs a command started are final.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cli.h"
#include "diag.h"
#include "log.h"
#include "workflow.h"
#include "store.h"

static const struct cli_command cli_commands[] = {
	{ "run", cli_run, "FILE.json [--input FILE|-] [--db PATH]",
	  "run a workflow once, in this process; print its output" },
	{ "validate", cli_validate, "FILE.json...",
	  "check workflow files; report every problem with line and column" },
	{ "runs", cli_runs,
	  "[--workflow W] [--state S] [--limit N] [--before ID] [--json]",
	  "list runs, newest first" },
	{ "show", cli_show, "RUN_ID [--json]",
	  "show a run: its steps and its timeline of transitions" },
	{ "retry", cli_retry,
	  "RUN_ID [--from-step STEP] [--input FILE] [--latest]\n"
	  "       orchestrator retry --workflow W [--state S] [--since T] "
	  "[--error TEXT]",
	  "retry failed or cancelled runs, in this process" },
	{ "replay", cli_replay, "RUN_ID --file NEW.json [--buckets DIR]",
	  "re-run a past run's input on an edited definition (not stored)" },
	{ "cancel", cli_cancel, "RUN_ID", "cancel a run" },
	{ "resume", cli_resume, "[RUN_ID...] [--workflow W]",
	  "finish runs left unfinished by a process that died" },
	{ "serve", cli_not_yet, "[--workflows DIR] [--listen ADDR:PORT]",
	  "the HTTP server (not in this version yet)" },
	{ "trigger", cli_not_yet, "NAME [--input FILE|-] [--url URL]",
	  "start a run on a server (not in this version yet)" },
	{ "dashboard", cli_not_yet, "[--once]",
	  "the live text dashboard (not in this version yet)" },
	{ NULL, NULL, NULL, NULL }
};

const struct cli_command *
cli_all(void)
{
	return cli_commands;
}

const struct cli_command *
cli_find(const char *name)
{
	const struct cli_command *c;

	for (c = cli_commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	const struct cli_command *c = cli_find(cmd);
	va_list ap;

	fprintf(stderr, "orchestrator %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (c != NULL)
		fprintf(stderr, "usage: orchestrator %s %s\n", c->name,
		    c->usage);
	return CLI_USAGE;
}

int
cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "orchestrator %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_FAILED;
}

/* The option, else the environment variable, else the default. */
static const char *
cli_default(const char *opt, const char *env, const char *def)
{
	const char *v;

	if (opt != NULL)
		return opt;
	if ((v = getenv(env)) != NULL && *v != '\0')
		return v;
	return def;
}

const char *
cli_db(const char *opt)
{
	return cli_default(opt, "ORCH_DB", "orchestrator.db");
}

const char *
cli_workflows(const char *opt)
{
	return cli_default(opt, "ORCH_WORKFLOWS", "workflows");
}

const char *
cli_buckets(const char *opt)
{
	return cli_default(opt, "ORCH_BUCKETS", "buckets");
}

int
cli_log_level(const char *opt)
{
	enum log_level level;
	const char *v = cli_default(opt, "ORCH_LOG_LEVEL", "warn");

	if (log_parse_level(v, &level) != 0)
		return -1;
	log_set_level(level);
	return 0;
}

json_t *
cli_read_input(const char *path, struct orc_error *err)
{
	json_error_t jerr;
	json_t *v;

	if (path == NULL)
		return json_object();
	if (strcmp(path, "-") == 0)
		v = json_loadf(stdin, JSON_DECODE_ANY, &jerr);
	else
		v = json_load_file(path, JSON_DECODE_ANY, &jerr);
	/* No position when the file could not be read: the text names it. */
	if (v == NULL && jerr.line < 1)
		orc_error_set(err, ORC_EINVAL, "%s", jerr.text);
	else if (v == NULL)
		orc_error_set(err, ORC_EINVAL, "%s:%d:%d: %s",
		    strcmp(path, "-") == 0 ? "<stdin>" : path, jerr.line,
		    jerr.column, jerr.text);
	return v;
}

/* Counts a watched run as final; stops the loop after the last one. */
static void
cli_finished_cb(const struct engine_result *r, void *arg)
{
	struct cli_engine *ce = arg;

	if (r->state != RUN_SUCCEEDED)
		ce->failed++;
	json_decref(ce->output);
	ce->output = r->output ? json_deep_copy(r->output) : NULL;
	free(ce->error);
	ce->error = r->error ? xstrdup(r->error) : NULL;
	if (!ce->quiet)
		cli_print_result(stderr, r);
	if (--ce->waiting <= 0)
		event_base_loopexit(ce->base, NULL);
}

int
cli_engine_open(struct cli_engine *ce, const char *db, const char *buckets,
    struct orc_error *err)
{
	struct engine_config cfg;

	memset(ce, 0, sizeof *ce);
	signal(SIGPIPE, SIG_IGN);
	ce->base = event_base_new();
	if ((ce->store = store_open(db, 0, ce->base, err)) == NULL) {
		event_base_free(ce->base);
		return -1;
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.buckets_dir = buckets;
	ce->engine = engine_create(ce->base, ce->store, &cfg);
	return 0;
}

struct engine_watch
cli_engine_watch(struct cli_engine *ce)
{
	struct engine_watch w = { NULL, cli_finished_cb, ce };

	ce->waiting++;
	return w;
}

void
cli_engine_wait(struct cli_engine *ce)
{
	if (ce->waiting > 0)
		event_base_dispatch(ce->base);
}

void
cli_engine_close(struct cli_engine *ce)
{
	engine_free(ce->engine);
	store_close(ce->store);
	event_base_free(ce->base);
	json_decref(ce->output);
	free(ce->error);
}

void
cli_print_json(const json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', stdout);
}

struct workflow *
cli_load_workflow(const char *path)
{
	struct diag *d = diag_create();
	struct workflow *wf = workflow_load_file(path, d);
	size_t i;

	for (i = 0; i < diag_count(d); i++)
		fprintf(stderr, "%s\n", diag_at(d, i));
	diag_free(d);
	return wf;
}

void
cli_print_result(FILE *f, const struct engine_result *r)
{
	if (r->state == RUN_SUCCEEDED)
		fprintf(f, "run %s (%s) succeeded\n", r->run_id, r->workflow);
	else
		fprintf(f, "run %s (%s) %s: %s\n", r->run_id, r->workflow,
		    run_state_name(r->state), r->error ? r->error : "-");
}

/* Commands from the SPEC that later issues bring. */
int
cli_not_yet(int argc, char **argv)
{
	return cli_fail(argv[0], "not available in this version yet; "
	    "this build runs workflows from the command line (run, resume, "
	    "retry) and reads the store (runs, show)");
}
