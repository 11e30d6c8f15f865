/*
 * orchestrator validate FILE.json...: loads each file and reports every
 * problem as FILE:LINE:COLUMN: message. Exit 1 when any file is invalid.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "workflow.h"

int
cli_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	struct workflow *wf;
	const char *level = NULL;
	int c, i, bad = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'l')
			return cli_usage_error("validate", "bad option");
		level = optarg;
	}
	if (cli_log_level(level) != 0)
		return cli_usage_error("validate", "--log-level: unknown "
		    "level");
	if (optind >= argc)
		return cli_usage_error("validate", "expected workflow files");
	for (i = optind; i < argc; i++) {
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
