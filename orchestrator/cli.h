/*
 * The command line: one file per command (cli-run.c, cli-show.c, ...),
 * each an entry of the table in cli.c, plus what the commands share:
 * errors and usage, the database and folder defaults, reading an input
 * file, and an engine on an event loop that runs until its runs finish.
 */
#ifndef CLI_H
#define CLI_H

#include <jansson.h>
#include <stdio.h>

#include "engine.h"
#include "orchestrator.h"

struct event_base;
struct orc_config;
struct store;

/* Exit codes: SPEC section 5. */
#define CLI_OK		0
#define CLI_FAILED	1
#define CLI_USAGE	2

struct cli_command {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*usage;		/* after "orchestrator NAME " */
	const char	*summary;
	const char	*options;	/* a line per option, for --help */
};

const struct cli_command *cli_find(const char *);
const struct cli_command *cli_all(void);	/* ends with a NULL name */

/* Prints "orchestrator CMD: message" and the usage; returns CLI_USAGE. */
int	cli_usage_error(const char *cmd, const char *, ...) ORC_PRINTF(2, 3);
/* Prints "orchestrator CMD: message"; returns CLI_FAILED. */
int	cli_fail(const char *cmd, const char *, ...) ORC_PRINTF(2, 3);

/* The options every command takes (NULL when not given). */
struct cli_opts {
	const char	*db;
	const char	*buckets;
	const char	*workflows;
	const char	*log_level;
	const char	*url;		/* --url: a server instead of the db */
	const char	*workers;	/* --workers N */
};

struct option;
/* Handles one of the command's own options; prints a usage error and
 * returns -1 when its value is bad. */
typedef int (*cli_opt_fn)(int, const char *, void *);

/* Parses argv: the command's own long options (own, handled by fn with
 * ctx) and the common ones (into co), then applies --log-level. Returns
 * the index of the first operand, or -1 after printing a usage error. */
int	cli_parse(const char *cmd, int argc, char **argv,
	    const struct option *own, cli_opt_fn fn, void *ctx,
	    struct cli_opts *co);

/* A cli_opt_fn for a command with one string option: ctx is a
 * const char ** that receives the value. */
int	cli_opt_string(int, const char *, void *);

/* Reads the environment's settings (conf.h) once, before the command
 * runs, and hands the API token to client.c; -1 after printing the
 * error, which names the variable. */
int	cli_conf_load(const char *cmd);
/* The settings cli_conf_load read (the defaults before it). */
const struct orc_config *cli_conf(void);

/* The option, else the environment's ORCH_DB, ORCH_WORKFLOWS and
 * ORCH_BUCKETS, else the default. */
const char *cli_db(const char *opt);
const char *cli_workflows(const char *opt);
const char *cli_buckets(const char *opt);
/* The server a command talks to instead of the database: --url, else
 * ORCH_URL unless --db was given; NULL for the database. */
const char *cli_url(const struct cli_opts *);
/* The worker processes for user code: --workers, else ORCH_WORKERS,
 * else the cores; 0 runs it in the process. -1 when it is not 0 to 64. */
int	cli_workers(const char *opt);
/* -1 and err, saying how to get one, when db names a SQLite file that
 * does not exist (a read must not create it); else 0. */
int	cli_db_exists(const char *db, struct orc_error *);
/* store_open with the environment's store settings (cli_conf). */
struct store *cli_store_open(const char *db, unsigned flags,
		    struct event_base *, struct orc_error *);
/* The database, read-only, after cli_db_exists(). */
struct store *cli_store_read(const char *db, struct orc_error *);
/* A run id as typed, made upper case in place: ids are ULIDs, whose
 * letters are upper case. */
char	*cli_run_id(char *);
/* Applies --log-level (or ORCH_LOG_LEVEL); -1 when it is not a level. */
int	cli_log_level(const char *opt);

/* Reads a JSON payload from a file or "-" (stdin); errors name the file,
 * line and column. An absent path gives {}. */
json_t	*cli_read_input(const char *path, struct orc_error *);

/* An engine on its own loop, for commands that execute runs. */
struct cli_engine {
	struct event_base	*base;
	struct store		*store;
	struct engine		*engine;
	int			 waiting;	/* runs not final yet */
	int			 failed;	/* runs that did not succeed */
	int			 quiet;		/* no line per finished run */
	int			 asleep;	/* runs left waiting in the store */
	json_t			*output;	/* of the last finished run */
	char			*error;		/* of the last finished run */
};

int	cli_engine_open(struct cli_engine *, const char *db,
	    const char *buckets, struct orc_error *);
/* The same for a replay: recorded outputs by step name (engine_config's
 * replay), or NULL to run live. */
int	cli_engine_open_replay(struct cli_engine *, const char *db,
	    const char *buckets, const json_t *replay, struct orc_error *);
/* The watch to pass for a run the command waits for. */
struct engine_watch cli_engine_watch(struct cli_engine *);
/* Runs the loop until every watched run is final. */
void	cli_engine_wait(struct cli_engine *);
void	cli_engine_close(struct cli_engine *);

/* Loads a workflow file, printing every problem; NULL on problems. */
struct workflow *cli_load_workflow(const char *);
struct run_rec;
/* Prints run id as show does (--json when json), reading it from the
 * server at url; returns the exit code. */
/* show --workflow NAME: from the workflow folder, or a server. */
int	cli_show_workflow(const char *name, const struct cli_opts *,
	    int json);
int	cli_show_url(const char *cmd, const char *url, const char *id,
	    int json);
/* Prints a JSON value on stdout, indented. */
void	cli_print_json(const json_t *);

/* One line for a finished run: "run ID succeeded" or "... failed: ...". */
void	cli_print_result(FILE *, const struct engine_result *);

int	cli_run(int, char **);
int	cli_validate(int, char **);
int	cli_runs(int, char **);
int	cli_show(int, char **);
int	cli_retry(int, char **);
int	cli_replay(int, char **);
int	cli_cancel(int, char **);
int	cli_resume(int, char **);
int	cli_serve(int, char **);
int	cli_trigger(int, char **);
int	cli_dashboard(int, char **);
int	cli_schedules(int, char **);
int	cli_prune(int, char **);
int	cli_backup(int, char **);
int	cli_fsm(int, char **);
int	cli_signal(int, char **);

#endif
