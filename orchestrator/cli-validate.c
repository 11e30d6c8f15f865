/*
 * orchestrator validate FILE.json...: loads each file and reports every
 * problem as FILE:LINE:COLUMN: message. Exit 1 when any file is invalid.
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "workflow.h"

int
cli_validate(int argc, char **argv)
{
	struct cli_opts co;
	struct workflow *wf;
	int first, i, bad = 0;

	first = cli_parse("validate", argc, argv, NULL, NULL, NULL, &co);
	if (first < 0)
		return CLI_USAGE;
	if (first >= argc)
		return cli_usage_error("validate", "expected workflow files");
	for (i = first; i < argc; i++) {
		if ((wf = cli_load_workflow(argv[i])) == NULL) {
			bad++;
			continue;
		}
		printf("%s: ok (workflow %s, %zu step%s)\n", argv[i],
		    workflow_name(wf), workflow_step_count(wf),
		    workflow_step_count(wf) == 1 ? "" : "s");
		workflow_unref(wf);
	}
	return bad ? CLI_FAILED : CLI_OK;
}
