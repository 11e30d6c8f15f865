/*
 * orchestrator validate FILE.json|DIR...: loads each file, or every
 * *.json of a folder as serve would, and reports every problem as
 * FILE:LINE:COLUMN: message. Exit 1 when any file is invalid.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>

#include "cli.h"
#include "diag.h"
#include "workflow.h"

/* The line of a workflow that loaded. */
static void
validate_ok(const char *path, struct workflow *wf)
{
	printf("%s: ok (workflow %s, %zu step%s)\n", path, workflow_name(wf),
	    workflow_step_count(wf), workflow_step_count(wf) == 1 ? "" : "s");
}

/* Checks every *.json of a folder, with the checks between them that
 * serve makes (names used twice); returns how many problems. */
static int
validate_dir(const char *dir)
{
	struct diag *d = diag_create();
	struct workflow **list;
	size_t i;
	int n, bad;

	n = workflow_load_dir(dir, &list, d);
	for (i = 0; n > 0 && i < (size_t)n; i++)
		validate_ok(workflow_path(list[i]), list[i]);
	for (i = 0; i < diag_count(d); i++)
		fprintf(stderr, "%s\n", diag_at(d, i));
	bad = (int)diag_count(d);
	if (n == 0 && bad == 0) {
		fprintf(stderr, "%s: no *.json workflow files in this folder\n",
		    dir);
		bad = 1;
	}
	if (n > 0)
		workflow_list_free(list, (size_t)n);
	diag_free(d);
	return bad;
}

int
cli_validate(int argc, char **argv)
{
	struct cli_opts co;
	struct workflow *wf;
	struct stat sb;
	int first, i, bad = 0;

	first = cli_parse("validate", argc, argv, NULL, NULL, NULL, &co);
	if (first < 0)
		return CLI_USAGE;
	if (first >= argc)
		return cli_usage_error("validate", "expected workflow files "
		    "or folders");
	for (i = first; i < argc; i++) {
		if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
			bad += validate_dir(argv[i]);
			continue;
		}
		if ((wf = cli_load_workflow(argv[i])) == NULL) {
			bad++;
			continue;
		}
		validate_ok(argv[i], wf);
		workflow_unref(wf);
	}
	return bad ? CLI_FAILED : CLI_OK;
}
