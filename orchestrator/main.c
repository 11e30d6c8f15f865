/*
 * orchestrator: the entry point. Finds the command in the table of cli.c
 * and hands it the rest of the line.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "conf.h"
#include "sandbox.h"
#include "worker.h"

/* The options every command takes, for both kinds of --help. */
static void
main_common_options(FILE *f)
{
	fprintf(f, "\nOptions every command takes:\n"
	    "  --db PATH          the SQLite store (ORCH_DB, "
	    "default ./orchestrator.db)\n"
	    "  --buckets DIR      root of local buckets (ORCH_BUCKETS, "
	    "default ./buckets)\n"
	    "  --workflows DIR    workflow folder for retry --latest "
	    "(ORCH_WORKFLOWS,\n"
	    "                     default ./workflows)\n"
	    "  --url URL          talk to a server instead of the database "
	    "(ORCH_URL;\n"
	    "                     runs, show, retry, cancel, trigger, "
	    "dashboard,\n"
	    "                     schedules)\n"
	    "  --log-level LEVEL  debug, info, warn, error or none "
	    "(ORCH_LOG_LEVEL, default warn)\n"
	    "  --workers N        worker processes for Lua steps (ORCH_WORKERS, "
	    "default one\n"
	    "                     per core; serve, run, replay, resume, "
	    "retry)\n"
	    "  --help             the usage of the command\n"
	    "\nExit codes: 0 ok, 1 the work failed, 2 usage error.\n");
}

/* A worker process of a daemon (worker.c): its sandbox's limits come
 * through the environment the daemon kept for it, checked the same way. */
static int
main_worker(void)
{
	struct sandbox_limits sl;
	struct orc_config conf;
	struct orc_error err;

	if (conf_load(&conf, &err) != 0) {
		fprintf(stderr, "orchestrator worker: %s\n", err.message);
		return CLI_FAILED;
	}
	sl.nice = conf.worker_nice;
	sl.memory_mb = conf.worker_memory_mb;
	return worker_child_main(3, 4, &sl);
}

/* The overview printed by --help and for a missing command. */
static void
main_usage(FILE *f)
{
	const struct cli_command *c;

	fprintf(f, "usage: orchestrator COMMAND [OPTIONS]\n\n"
	    "A serverless task orchestrator: JSON workflows run as durable "
	    "state machines.\n\nCommands:\n");
	for (c = cli_all(); c->name != NULL; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	main_common_options(f);
	fprintf(f, "'orchestrator COMMAND --help' tells each command's "
	    "options; so does the\nmanual page, orchestrator.1 in the "
	    "source tree ('man ./orchestrator.1').\n");
}

/* COMMAND --help: its usage, what it does and each of its options. */
static void
main_command_usage(const struct cli_command *c)
{
	printf("usage: orchestrator %s %s\n\n%s\n", c->name, c->usage,
	    c->summary);
	if (c->options != NULL)
		printf("\nOptions:\n%s", c->options);
	main_common_options(stdout);
}

int
main(int argc, char **argv)
{
	const struct cli_command *c;
	int i;

	if (argc < 2) {
		main_usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		main_usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("orchestrator %s\n", PACKAGE_VERSION);
		return CLI_OK;
	}
	/* A worker process of a daemon (worker.c): not a command. */
	if (strcmp(argv[1], "__worker") == 0 && argc == 2)
		return main_worker();
	if ((c = cli_find(argv[1])) == NULL) {
		fprintf(stderr, "orchestrator: unknown command \"%s\" "
		    "(see orchestrator --help)\n", argv[1]);
		return CLI_USAGE;
	}
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0) {
			main_command_usage(c);
			return CLI_OK;
		}
	}
	if (cli_conf_load(c->name) != 0)
		return CLI_FAILED;
	return c->fn(argc - 1, argv + 1);
}
