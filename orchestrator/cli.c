/*
 * What the commands share: the command table, error and usage messages,
 * defaults from the environment, input files, and an engine that runs on
 * its own loop until the runs a command started are final.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cli.h"
#include "client.h"
#include "format.h"
#include "conf.h"
#include "diag.h"
#include "log.h"
#include "loop.h"
#include "workflow.h"
#include "store.h"
#include "worker.h"

/*
 * Each command: its usage line, its summary for the overview, and what
 * "orchestrator COMMAND --help" says of each of its own options (the
 * common ones follow from main.c), one "  --option VALUE  meaning" line
 * each, aligned at column 24.
 */
static const struct cli_command cli_commands[] = {
	{ "run", cli_run,
	  "FILE.json [--input FILE|-] [--db PATH] [--workers N]",
	  "run a workflow once, in this process; print its output",
	  "  --input FILE|-        the run's input: a JSON file, or - for "
	  "stdin (default {})\n" },
	{ "validate", cli_validate, "FILE.json|DIR...",
	  "check workflow files (or a folder's); report every problem with "
	  "line and column",
	  "  FILE.json|DIR         a workflow file, or a folder whose *.json "
	  "are checked\n"
	  "                        as serve loads them\n" },
	{ "runs", cli_runs,
	  "[--workflow W] [--state S] [--limit N] [--before ID] [--json]\n"
	  "       [--url URL]",
	  "list runs, newest first (from a server with --url or ORCH_URL)",
	  "  --workflow W          only the runs of workflow W\n"
	  "  --state S             only runs in state S: queued, running, "
	  "retrying,\n"
	  "                        succeeded, failed or cancelled\n"
	  "  --limit N             at most N runs (default 20)\n"
	  "  --before ID           only runs older than run ID (the next "
	  "page)\n"
	  "  --json                one JSON object per run and line, not a "
	  "table\n" },
	{ "show", cli_show, "RUN_ID [--item N [--step STEP]] [--json] "
	  "[--url URL]\n"
	  "       orchestrator show --workflow NAME [--json] [--workflows DIR] "
	  "[--url URL]",
	  "show a run: its steps, its timeline of transitions and its log "
	  "lines; or what a workflow does",
	  "  RUN_ID                the run's id (upper or lower case)\n"
	  "  --json                the run, its steps, transitions and log "
	  "lines as one JSON\n"
	  "                        document\n"
	  "  --item N              item N (from 0) of the run's map step: "
	  "that item's run\n"
	  "  --step STEP           with --item, the map or parallel step "
	  "(default: the\n"
	  "                        run's only one)\n"
	  "  --workflow NAME       what workflow NAME does: trigger, limits, "
	  "steps (from\n"
	  "                        --workflows, or the server with --url)\n" },
	{ "retry", cli_retry,
	  "RUN_ID [--from-step STEP] [--input FILE] [--latest] [--url URL]\n"
	  "       orchestrator retry --workflow W [--state S] [--since MS] "
	  "[--error TEXT]\n"
	  "       [--latest] [--url URL]",
	  "retry failed or cancelled runs here (with --url: on the server, "
	  "not waited for)",
	  "  --from-step STEP      start again at STEP, a step the run "
	  "reached (default:\n"
	  "                        its failed step)\n"
	  "  --input FILE          a new input; restarts at the first step "
	  "unless\n"
	  "                        --from-step says otherwise\n"
	  "  --latest              on the newest definition of the "
	  "workflow, read from\n"
	  "                        --workflows\n"
	  "  --workflow W          bulk: every run of workflow W that the "
	  "filters match\n"
	  "  --state S             bulk: failed (default) or cancelled runs\n"
	  "  --since MS            bulk: runs created since MS, in ms since "
	  "the epoch\n"
	  "  --error TEXT          bulk: runs whose error contains TEXT\n" },
	{ "replay", cli_replay,
	  "RUN_ID --file NEW.json [--buckets DIR] [--live] [--workers N]",
	  "re-run a past run's input on an edited definition (not stored)",
	  "  --file NEW.json       the edited workflow to run the stored "
	  "input through\n"
	  "  --buckets DIR         the buckets its steps use (default: a new "
	  "temporary\n"
	  "                        folder, removed at the end)\n"
	  "  --live                let http.request, S3 buckets and ctx.fetch "
	  "reach outside\n"
	  "                        (default: the stored run's outputs answer "
	  "for them)\n" },
	{ "cancel", cli_cancel, "RUN_ID [--url URL]", "cancel a run",
	  "  RUN_ID                the run; one another process executes is "
	  "stopped by that\n"
	  "                        process within a second (this command "
	  "waits for it)\n" },
	{ "resume", cli_resume, "[RUN_ID...] [--workflow W]",
	  "finish runs left unfinished by a process that died",
	  "  RUN_ID...             only these runs (default: every one "
	  "left)\n"
	  "  --workflow W          only the runs of workflow W\n" },
	{ "serve", cli_serve,
	  "[--workflows DIR] [--db PATH] [--listen ADDR:PORT] [--buckets DIR]\n"
	  "       [--access-log on|off] [--grace-ms N] [--max-queue N] "
	  "[--max-body BYTES]\n"
	  "       [--read-timeout-ms N] [--max-inflight-bytes BYTES] "
	  "[--workers N]",
	  "the daemon: webhooks, the HTTP API, and the runs they start",
	  "  --listen ADDR:PORT    where to serve (ORCH_LISTEN, default "
	  "127.0.0.1:8080;\n"
	  "                        port 0 picks a free one)\n"
	  "  --access-log on|off   one logfmt line per request on stderr "
	  "(default on)\n"
	  "  --grace-ms N          on SIGTERM, ms the steps in flight may "
	  "take to finish\n"
	  "                        (default 10000)\n"
	  "  --max-queue N         runs of one workflow that may wait for a "
	  "concurrency\n"
	  "                        slot; past it 429 (default 10000)\n"
	  "  --max-body BYTES      the largest request body; past it 413 "
	  "(default 16 MiB)\n"
	  "  --read-timeout-ms N   ms a client may take to send a whole "
	  "request\n"
	  "                        (default 10000)\n"
	  "  --max-inflight-bytes BYTES\n"
	  "                        request bytes held in memory at once, "
	  "bodies being\n"
	  "                        received and webhooks waiting for their "
	  "commit; past\n"
	  "                        it 503 with Retry-After "
	  "(ORCH_MAX_INFLIGHT_BYTES,\n"
	  "                        default 256 MiB)\n"
	  "  --workers N           worker processes that run Lua steps "
	  "(ORCH_WORKERS,\n"
	  "                        default one per core; 0 runs Lua on the "
	  "event loop,\n"
	  "                        unsafe)\n" },
	{ "trigger", cli_trigger,
	  "NAME [--input FILE|-] [--wait [SECONDS]] [--url URL]",
	  "start a run on a server; print its id, or with --wait (default "
	  "60 s) its output (and its id on stderr)",
	  "  NAME                  the workflow to start\n"
	  "  --input FILE|-        the run's input: a JSON file, or - for "
	  "stdin (default {})\n"
	  "  --wait [SECONDS]      wait for the output, at most SECONDS "
	  "(default 60)\n" },
	{ "dashboard", cli_dashboard, "[--once] [--interval SECONDS] "
	  "[--url URL]",
	  "the live text dashboard: throughput, workflows, recent runs; "
	  "r retries, c cancels, a signals a waiting run, ? lists the keys",
	  "  --once                print one plain frame on stdout and exit\n"
	  "  --interval SECONDS    time between refreshes, in seconds (0.5, "
	  "2) or with a\n"
	  "                        unit (500ms, 2s); 0.1 to 3600, "
	  "default 1\n" },
	{ "schedules", cli_schedules, "[--db PATH] [--json] [--url URL]",
	  "list cron triggers: next and last fire, runs fired and skipped",
	  "  --json                one JSON object per schedule and line\n" },
	{ "prune", cli_prune,
	  "[--older-than D] [--workflow W] [--state S] [--dry-run] "
	  "[--db PATH]",
	  "delete finished runs now, with their steps and blob files "
	  "(D: 7d, 12h, 30m, 45s)",
	  "  --older-than D        only runs finished longer ago than D "
	  "(7d, 12h, 30m, 45s)\n"
	  "  --workflow W          only the runs of workflow W (and of its "
	  "map steps)\n"
	  "  --state S             only runs in state S: succeeded, failed "
	  "or cancelled\n"
	  "  --dry-run             count what would be deleted, delete "
	  "nothing\n" },
	{ "backup", cli_backup, "FILE [--db PATH]",
	  "copy a live SQLite store and its blob files to FILE (serve "
	  "--db FILE restores it)",
	  "  FILE                  the copy (its blob files go to a blobs "
	  "folder beside it)\n" },
	{ "signal", cli_signal, "RUN_ID STEP [--input FILE|-] [--url URL]",
	  "deliver a signal to a run waiting on a wait.signal step: the "
	  "input is that step's output",
	  "  --input FILE|-        the signal's JSON (- reads stdin; "
	  "default {})\n" },
	{ "fsm", cli_fsm, "(no arguments)",
	  "print the run state machine: phase, event, condition, next "
	  "phase, transition recorded, effects (first matching row wins)",
	  "" },
	{ NULL, NULL, NULL, NULL, NULL }
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

/* Prints "orchestrator CMD: message" on standard error. */
static void
cli_vsay(const char *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "orchestrator %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	const struct cli_command *c = cli_find(cmd);
	va_list ap;

	va_start(ap, fmt);
	cli_vsay(cmd, fmt, ap);
	va_end(ap);
	if (c != NULL)
		fprintf(stderr, "usage: orchestrator %s %s\n", c->name,
		    c->usage);
	return CLI_USAGE;
}

int
cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vsay(cmd, fmt, ap);
	va_end(ap);
	return CLI_FAILED;
}

#define CLI_MAX_OPTS 32

/* Copies the command's options, then the common ones, into all. */
static void
cli_opts_merge(const struct option *own, struct option all[CLI_MAX_OPTS])
{
	static const struct option common[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "buckets", required_argument, NULL, 'b' },
		{ "workflows", required_argument, NULL, 'W' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "url", required_argument, NULL, 'U' },
		{ "workers", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 }
	};
	size_t n = 0, i;

	for (i = 0; own != NULL && own[i].name != NULL; i++)
		all[n++] = own[i];
	for (i = 0; i < sizeof common / sizeof common[0]; i++)
		all[n++] = common[i];
}

/* The workers the last cli_parse chose, for cli_engine_open. */
static int cli_nworkers = -1;
/* The command's --workflows, for the workflow steps it runs. */
static const char *cli_workflows_opt;

/* The environment's settings, read once by cli_conf_load. */
static struct orc_config cli_config;
static int cli_config_loaded;

/* Whether cmd is in a NULL-terminated list of commands. */
static int
cli_listed(const char *const *list, const char *cmd)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], cmd) == 0)
			return 1;
	return 0;
}

/* Whether a command executes runs itself (and so takes --workers). */
static int
cli_runs_steps(const char *cmd)
{
	static const char *const with_workers[] = { "serve", "run", "replay",
	    "resume", "retry", NULL };

	return cli_listed(with_workers, cmd);
}

/* Whether a command can talk to a server instead of the database. */
static int
cli_takes_url(const char *cmd)
{
	static const char *const with_url[] = { "runs", "show", "retry",
	    "cancel", "trigger", "dashboard", "schedules", "signal", NULL };

	return cli_listed(with_url, cmd);
}

/* The edit distance of two short words (at most 31 bytes), else 99. */
static int
cli_distance(const char *a, const char *b)
{
	int d[32][32], i, j, la = (int)strlen(a), lb = (int)strlen(b), c;

	if (la > 31 || lb > 31)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < c)
				c = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < c)
				c = d[i][j - 1] + 1;
			d[i][j] = c;
		}
	}
	return d[la][lb];
}

/*
 * The option a mistyped word most likely meant, or NULL: for "-x" the one
 * option that starts with x ("-n" is --limit, as in head -n), for
 * "--word" the nearest name within two edits.
 */
static const char *
cli_option_guess(const char *word, const struct option *all)
{
	const char *best = NULL, *name;
	int n = 0, d, bestd = 3;
	size_t i, len;

	if (word[0] == '-' && word[1] != '-' && word[1] != '\0') {
		for (i = 0; all[i].name != NULL; i++) {
			if (word[1] == 'n' && strcmp(all[i].name, "limit") == 0)
				return all[i].name;
			if (all[i].name[0] == word[1] && n++ == 0)
				best = all[i].name;
		}
		return n == 1 ? best : NULL;
	}
	name = word + strspn(word, "-");
	len = strcspn(name, "=");
	for (i = 0; all[i].name != NULL; i++) {
		char buf[32];

		if (len >= sizeof buf)
			break;
		memcpy(buf, name, len);
		buf[len] = '\0';
		if ((d = cli_distance(buf, all[i].name)) < bestd) {
			bestd = d;
			best = all[i].name;
		}
	}
	return best;
}

/* The usage error of a word getopt refused: a missing value, or an
 * option the command does not have, with a guess at the one meant. */
static void
cli_bad_option(const char *cmd, const char *word, const struct option *all)
{
	const char *guess;
	size_t i, len;

	if (strncmp(word, "--", 2) == 0) {
		len = strcspn(word + 2, "=");
		for (i = 0; all[i].name != NULL; i++) {
			if (strlen(all[i].name) == len && strncmp(all[i].name,
			    word + 2, len) == 0 && all[i].has_arg ==
			    required_argument) {
				cli_usage_error(cmd, "option \"%s\" needs a "
				    "value", word);
				return;
			}
		}
	}
	if ((guess = cli_option_guess(word, all)) != NULL)
		cli_usage_error(cmd, "bad option \"%s\": did you mean --%s? "
		    "(see orchestrator %s --help)", word, guess, cmd);
	else
		cli_usage_error(cmd, "bad option \"%s\" (see orchestrator %s "
		    "--help)", word, cmd);
}

int
cli_parse(const char *cmd, int argc, char **argv, const struct option *own,
    cli_opt_fn fn, void *ctx, struct cli_opts *co)
{
	struct option all[CLI_MAX_OPTS];
	int c;

	cli_opts_merge(own, all);
	memset(co, 0, sizeof *co);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", all, NULL)) != -1) {
		switch (c) {
		case 'd': co->db = optarg; break;
		case 'b': co->buckets = optarg; break;
		case 'W': co->workflows = optarg; break;
		case 'l': co->log_level = optarg; break;
		case 'U': co->url = optarg; break;
		case 'K': co->workers = optarg; break;
		case '?':
			cli_bad_option(cmd, argv[optind - 1], all);
			return -1;
		default:
			if (fn == NULL || fn(c, optarg, ctx) != 0)
				return -1;
			break;
		}
	}
	if (co->url != NULL && !cli_takes_url(cmd)) {
		cli_usage_error(cmd, "--url: %s works on the database, not "
		    "through a server", cmd);
		return -1;
	}
	if (co->workers != NULL && !cli_runs_steps(cmd)) {
		cli_usage_error(cmd, "--workers: %s runs no steps", cmd);
		return -1;
	}
	cli_workflows_opt = co->workflows;
	if ((cli_nworkers = cli_workers(co->workers)) < 0) {
		cli_usage_error(cmd, "--workers: expected 0 to %d, not \"%s\"",
		    WORKER_MAX, co->workers);
		return -1;
	}
	if (cli_log_level(co->log_level) != 0) {
		cli_usage_error(cmd, "--log-level: unknown level \"%s\" "
		    "(debug, info, warn, error, none)", co->log_level);
		return -1;
	}
	return optind;
}

int
cli_opt_string(int c, const char *arg, void *ctx)
{
	*(const char **)ctx = arg;
	return 0;
}

int
cli_conf_load(const char *cmd)
{
	struct orc_error err;

	if (conf_load(&cli_config, &err) != 0) {
		cli_fail(cmd, "%s", err.message);
		return -1;
	}
	client_set_token(cli_config.api_token);
	cli_config_loaded = 1;
	return 0;
}

const struct orc_config *
cli_conf(void)
{
	if (!cli_config_loaded) {
		conf_defaults(&cli_config);
		cli_config_loaded = 1;
	}
	return &cli_config;
}

/* The number of workers: the option, ORCH_WORKERS, or the cores. */
int
cli_workers(const char *opt)
{
	const char *v = opt;
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return cli_conf()->workers >= 0 ? cli_conf()->workers :
		    worker_default_count();
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < 0 || n > WORKER_MAX)
		return -1;
	return (int)n;
}

const char *
cli_db(const char *opt)
{
	return opt != NULL ? opt : cli_conf()->db;
}

const char *
cli_workflows(const char *opt)
{
	return opt != NULL ? opt : cli_conf()->workflows;
}

const char *
cli_buckets(const char *opt)
{
	return opt != NULL ? opt : cli_conf()->buckets;
}

const char *
cli_url(const struct cli_opts *co)
{
	/* An explicit --db beats a server from the environment. */
	if (co->url == NULL && co->db != NULL)
		return NULL;
	return co->url != NULL ? co->url : cli_conf()->url;
}

int
cli_db_exists(const char *db, struct orc_error *err)
{
	struct stat sb;

	/* A URL is PostgreSQL's; only a SQLite file can be missing. */
	if (strstr(db, "://") != NULL || stat(db, &sb) == 0 || errno != ENOENT)
		return 0;
	orc_error_set(err, ORC_ENOTFOUND, "no database at %s: start "
	    "`orchestrator serve` first, or point --db or ORCH_DB at one", db);
	return -1;
}

struct store *
cli_store_open(const char *db, unsigned flags, struct event_base *base,
    struct orc_error *err)
{
	return store_open_with(db, flags, base, &cli_conf()->store, err);
}

struct store *
cli_store_read(const char *db, struct orc_error *err)
{
	if (cli_db_exists(db, err) != 0)
		return NULL;
	return cli_store_open(db, STORE_READONLY, NULL, err);
}

char *
cli_run_id(char *id)
{
	char *p;

	for (p = id; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return id;
}

int
cli_log_level(const char *opt)
{
	enum log_level level;
	const char *v = opt != NULL ? opt : cli_conf()->log_level;

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

	if (r->state == RUN_WAITING)
		ce->asleep++;
	else if (r->state != RUN_SUCCEEDED)
		ce->failed++;
	json_decref(ce->output);
	ce->output = r->output ? json_deep_copy(r->output) : NULL;
	free(ce->error);
	ce->error = r->error ? xstrdup(r->error) : NULL;
	/* A run left waiting is said even when quiet: nothing else is. */
	if (!ce->quiet || r->state == RUN_WAITING)
		cli_print_result(stderr, r);
	if (--ce->waiting <= 0)
		event_base_loopexit(ce->base, NULL);
}

int
cli_engine_open_replay(struct cli_engine *ce, const char *db,
    const char *buckets, const json_t *replay, struct orc_error *err)
{
	struct engine_config cfg;

	memset(ce, 0, sizeof *ce);
	signal(SIGPIPE, SIG_IGN);
	ce->base = loop_base_new();
	if ((ce->store = cli_store_open(db, 0, ce->base, err)) == NULL) {
		event_base_free(ce->base);
		return -1;
	}
	memset(&cfg, 0, sizeof cfg);
	cfg.buckets_dir = buckets;
	cfg.workers = cli_nworkers >= 0 ? cli_nworkers : cli_workers(NULL);
	if (cfg.workers < 0)
		cfg.workers = worker_default_count();
	cfg.replay = replay;
	cfg.conf = cli_conf();
	cfg.workflows_dir = cli_workflows(cli_workflows_opt);
	ce->engine = engine_create(ce->base, ce->store, &cfg);
	return 0;
}

int
cli_engine_open(struct cli_engine *ce, const char *db, const char *buckets,
    struct orc_error *err)
{
	return cli_engine_open_replay(ce, db, buckets, NULL, err);
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
	char at[40];

	if (r->state == RUN_SUCCEEDED)
		fprintf(f, "run %s (%s) succeeded\n", r->run_id, r->workflow);
	else if (r->state == RUN_WAITING)
		fprintf(f, "run %s (%s) waits on step %s until %s at the "
		    "latest; orchestrator serve takes it up then, or when it "
		    "is signalled\n", r->run_id, r->workflow,
		    r->step != NULL ? r->step : "-",
		    format_time(r->due_at, at, sizeof at));
	else
		fprintf(f, "run %s (%s) %s: %s\n", r->run_id, r->workflow,
		    run_state_name(r->state), r->error ? r->error : "-");
}

