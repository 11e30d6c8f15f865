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
};

const struct cli_command *cli_find(const char *);
const struct cli_command *cli_all(void);	/* ends with a NULL name */

/* Prints "orchestrator CMD: message" and the usage; returns CLI_USAGE. */
int	cli_usage_error(const char *cmd, const char *, ...) ORC_PRINTF(2, 3);
/* Prints "orchestrator CMD: message"; returns CLI_FAILED. */
int	cli_fail(const char *cmd, const char *, ...) ORC_PRINTF(2, 3);

/* Defaults from the environment: ORCH_DB, ORCH_WORKFLOWS, ORCH_BUCKETS. */
const char *cli_db(const char *opt);
const char *cli_workflows(const char *opt);
const char *cli_buckets(const char *opt);
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
	json_t			*output;	/* of the last finished run */
	char			*error;		/* of the last finished run */
};

int	cli_engine_open(struct cli_engine *, const char *db,
	    const char *buckets, struct orc_error *);
/* The watch to pass for a run the command waits for. */
struct engine_watch cli_engine_watch(struct cli_engine *);
/* Runs the loop until every watched run is final. */
void	cli_engine_wait(struct cli_engine *);
void	cli_engine_close(struct cli_engine *);

/* Loads a workflow file, printing every problem; NULL on problems. */
struct workflow *cli_load_workflow(const char *);
struct run_rec;
/* A run as one JSON object (runs --json, show --json). */
json_t	*cli_run_json(const struct run_rec *);
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
int	cli_not_yet(int, char **);

#endif
