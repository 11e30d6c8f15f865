/*
 * orchestrator validate FILE.json|DIR...: loads each file, or every
 * *.json of a folder as serve would, and reports every problem as
 * FILE:LINE:COLUMN: message; then runs the main chunk of each Lua script
 * (sandboxed, with limits) to see that it returns the step's function.
 * Exit 1 when any file is invalid.
 */
#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "script.h"
#include "workflow.h"

/* Runs the main chunk of each lua step's script: it must return the
 * step's function (loading only compiles it). How many do not. */
static int
validate_scripts(const char *path, struct workflow *wf)
{
	const struct workflow_step *ws;
	struct orc_error err;
	const char *script;
	size_t i;
	int bad = 0;

	for (i = 0; i < workflow_step_count(wf); i++) {
		ws = workflow_step_at(wf, i);
		if (strcmp(workflow_step_uses(ws), "lua") != 0)
			continue;
		script = json_string_value(json_object_get(
		    workflow_step_json(ws), "script"));
		if (script == NULL || script_check_chunk(workflow_dir(wf),
		    script, &err) == 0)
			continue;
		fprintf(stderr, "%s: step %s: %s\n", path,
		    workflow_step_name(ws), err.message);
		bad++;
	}
	return bad;
}

/* The line of a workflow that loaded, once its scripts pass; how many
 * problems its scripts have. */
static int
validate_ok(const char *path, struct workflow *wf)
{
	int bad = validate_scripts(path, wf);

	if (bad == 0)
		printf("%s: ok (workflow %s, %zu step%s)\n", path,
		    workflow_name(wf), workflow_step_count(wf),
		    workflow_step_count(wf) == 1 ? "" : "s");
	return bad;
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
	bad = 0;
	for (i = 0; n > 0 && i < (size_t)n; i++)
		bad += validate_ok(workflow_path(list[i]), list[i]);
	for (i = 0; i < diag_count(d); i++)
		fprintf(stderr, "%s\n", diag_at(d, i));
	bad += (int)diag_count(d);
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
		bad += validate_ok(argv[i], wf);
		workflow_unref(wf);
	}
	return bad ? CLI_FAILED : CLI_OK;
}
