/*
 * orchestrator fsm: prints the run state machine from the table the
 * engine runs on (engine-fsm.c), so the README's lifecycle section is this
 * output and cannot drift from the code.
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "engine-fsm.h"

/* orchestrator fsm. */
int
cli_fsm(int argc, char **argv)
{
	struct cli_opts co;
	int i;

	if ((i = cli_parse("fsm", argc, argv, NULL, NULL, NULL, &co)) < 0)
		return CLI_USAGE;
	if (i != argc)
		return cli_usage_error("fsm", "unexpected \"%s\"", argv[i]);
	engine_fsm_print(stdout);
	return CLI_OK;
}
