/*
 * orchestrator show --workflow NAME: what a workflow does, read from the
 * workflow folder (--workflows, ORCH_WORKFLOWS) or from a server (--url:
 * GET /workflows/NAME, whose "definition" is the file as loaded). Both
 * print from the same JSON document: the trigger, the limits and one row
 * per step with what it uses and its "with" (or its script). Secrets'
 * values never appear: a definition holds only their names.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "diag.h"
#include "format.h"
#include "jsonenc.h"
#include "workflow.h"

/* A member as text: a string as it is, anything else as compact JSON. */
static char *
def_text(const json_t *v)
{
	if (v == NULL)
		return NULL;
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	return jsonenc_compact(v, NULL);
}

/* "webhook POST /hooks/x (sync)", "cron @hourly (UTC)" or "none". */
static char *
def_trigger(const json_t *trigger)
{
	const json_t *hook = json_object_get(trigger, "webhook");
	const json_t *cron = json_object_get(trigger, "cron");
	const char *mode, *tz;

	if (hook != NULL) {
		mode = json_string_value(json_object_get(hook, "mode"));
		return xasprintf("webhook POST %s (%s)", json_string_value(
		    json_object_get(hook, "path")), mode != NULL ? mode :
		    "async");
	}
	if (cron != NULL) {
		tz = json_string_value(json_object_get(cron, "timezone"));
		return xasprintf("cron %s (%s)", json_string_value(
		    json_object_get(cron, "schedule")), tz != NULL ? tz : "UTC");
	}
	return xstrdup("none (orchestrator run, POST /workflows/NAME/runs)");
}

/* One row per step: number, name, uses, and its script or "with"; a
 * map's steps and a parallel step's branches follow their step, numbered
 * under it ("2.1", "3.left.1"). prefix: the numbers' start. */
static void
def_steps(struct format_table *t, const json_t *steps, const char *prefix,
    const char *first)
{
	const json_t *s, *what, *sub;
	char num[128], *detail, *under;
	const char *cells[4], *branch;
	size_t i;

	json_array_foreach(steps, i, s) {
		snprintf(num, sizeof num, "%s%zu", prefix, i + 1);
		what = json_object_get(s, "script");
		if (what == NULL)
			what = json_object_get(s, "with");
		detail = def_text(what);
		cells[0] = first != NULL ? first : num;
		cells[1] = first != NULL ? "on_failure" :
		    json_string_value(json_object_get(s, "name"));
		cells[2] = json_string_value(json_object_get(s, "uses"));
		cells[3] = detail;
		format_table_add(t, cells);
		free(detail);
		if (json_is_array(sub = json_object_get(s, "steps"))) {
			under = xasprintf("%s.", num);
			def_steps(t, sub, under, NULL);
			free(under);
		}
		json_object_foreach((json_t *)json_object_get(s, "branches"),
		    branch, sub) {
			under = xasprintf("%s.%s.", num, branch);
			def_steps(t, sub, under, NULL);
			free(under);
		}
	}
}

/* Prints a definition as text. */
static void
def_print(const json_t *def, const char *source)
{
	static const char *const heads[] = { "#", "STEP", "USES", "DETAIL" };
	static const int widths[] = { 0, 0, 0, 100 };
	static const char *const keys[] = { "concurrency", "timeout_ms",
	    "defaults", "allow", "secrets", "rate_limit", "debounce",
	    "concurrency_key", "priority", NULL };
	struct format_table *t;
	const json_t *v, *onf;
	char *trig = def_trigger(json_object_get(def, "trigger")), *s;
	size_t i;

	printf("%-16s%s\n", "workflow", json_string_value(json_object_get(def,
	    "name")));
	if ((v = json_object_get(def, "description")) != NULL)
		printf("%-16s%s\n", "", json_string_value(v));
	printf("%-16s%s\n%-16s%s\n", "from", source, "trigger", trig);
	free(trig);
	for (i = 0; keys[i] != NULL; i++) {
		if ((v = json_object_get(def, keys[i])) == NULL)
			continue;
		s = def_text(v);
		printf("%-16s%s\n", keys[i], s);
		free(s);
	}
	t = format_table_create(4, heads, widths);
	def_steps(t, json_object_get(def, "steps"), "", NULL);
	if ((onf = json_object_get(def, "on_failure")) != NULL) {
		json_t *one = json_pack("[O]", onf);

		def_steps(t, one, "", "!");
		json_decref(one);
	}
	printf("\n");
	format_table_print(t, stdout);
	format_table_free(t);
}

/* The definition from the workflow folder. */
static int
def_local(const char *name, const char *dir, int json)
{
	struct workflow **wfs = NULL;
	struct diag *d = diag_create();
	int n, i, found = -1;

	n = workflow_load_dir(dir, &wfs, d);
	diag_free(d);
	if (n < 0)
		return cli_fail("show", "%s: cannot read the workflow folder "
		    "(name another with --workflows or ORCH_WORKFLOWS, or "
		    "ask a server with --url)", dir);
	for (i = 0; i < n && found < 0; i++)
		if (strcmp(workflow_name(wfs[i]), name) == 0)
			found = i;
	if (found < 0) {
		workflow_list_free(wfs, (size_t)n);
		return cli_fail("show", "no workflow %s in %s (or its file does "
		    "not load: orchestrator validate %s)", name, dir, dir);
	}
	if (json)
		cli_print_json(workflow_json(wfs[found]));
	else
		def_print(workflow_json(wfs[found]), workflow_path(wfs[found]));
	workflow_list_free(wfs, (size_t)n);
	return CLI_OK;
}

/* The definition a server has loaded. */
static int
def_remote(const char *name, const char *url, int json)
{
	struct orc_error err;
	json_t *doc = NULL;
	const json_t *def;
	long status;
	int rc;

	rc = client_request_named(url, "GET", "/workflows/", name, NULL, &status, &doc,
	    &err);
	if (rc != 0)
		return cli_fail("show", "%s", err.message);
	if ((def = json_object_get(doc, "definition")) == NULL) {
		json_decref(doc);
		return cli_fail("show", "%s answers no definition for "
		    "workflow %s (an older server?)", url, name);
	}
	if (json)
		cli_print_json(def);
	else
		def_print(def, url);
	json_decref(doc);
	return CLI_OK;
}

/* show --workflow NAME. */
int
cli_show_workflow(const char *name, const struct cli_opts *co, int json)
{
	const char *url = cli_url(co);

	if (url != NULL)
		return def_remote(name, url, json);
	return def_local(name, cli_workflows(co->workflows), json);
}
