/*
 * orchestrator trigger NAME: starts a run of a workflow on a server
 * (POST /workflows/NAME/runs) with an input file as its payload. Without
 * --wait it prints the new run's id as soon as the server has committed
 * the run; with --wait it asks the server to hold the answer (Prefer:
 * wait=N) and prints the run's output, or its error, and the run's id
 * (the answer's Run-Id header) on stderr.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"

/* How long --wait waits when it is given without a number. */
#define TRIGGER_WAIT_DEFAULT	60
/* And at most: a day, far beyond any sensible sync call. */
#define TRIGGER_WAIT_MAX	86400

struct trigger_opts {
	char		**argv;
	const char	 *input;
	int		  wait;		/* seconds; -1 without --wait */
};

/* Parses a number of seconds for --wait; -1 when it is not one. */
static int
trigger_seconds(const char *s)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v > TRIGGER_WAIT_MAX)
		return -1;
	return (int)v;
}

/* trigger's own options: --input and --wait [SECONDS]. */
static int
trigger_opt(int c, const char *arg, void *ctx)
{
	struct trigger_opts *o = ctx;
	const char *next;

	switch (c) {
	case 'i':
		o->input = arg;
		break;
	case 'w':
		/*
		 * getopt only takes "--wait=N"; "--wait N" is read here: the
		 * next word is the number when it is one (a workflow name
		 * is not all digits).
		 */
		next = o->argv[optind];
		if (arg == NULL && next != NULL && trigger_seconds(next) >= 0) {
			arg = next;
			optind++;
		}
		if (arg == NULL)
			o->wait = TRIGGER_WAIT_DEFAULT;
		else if ((o->wait = trigger_seconds(arg)) < 0) {
			cli_usage_error("trigger", "--wait: expected a number "
			    "of seconds up to %d, not \"%s\"", TRIGGER_WAIT_MAX,
			    arg);
			return -1;
		}
		break;
	}
	return 0;
}

/* Prints what a run that failed within the wait left: exit 1. */
static int
trigger_failed(const json_t *answer, const char *fallback)
{
	const char *id, *msg;

	id = json_string_value(json_object_get(answer, "run_id"));
	msg = json_string_value(json_object_get(json_object_get(answer,
	    "error"), "message"));
	if (id == NULL)
		return cli_fail("trigger", "%s", fallback);
	return cli_fail("trigger", "run %s failed: %s", id, msg != NULL ? msg :
	    "(no message)");
}

/* Prints the server's answer to the trigger; returns the exit code.
 * run_id is the answer's Run-Id header (NULL from an older server). */
static int
trigger_answer(const struct trigger_opts *o, long status,
    const json_t *answer, const char *run_id)
{
	const char *id = json_string_value(json_object_get(answer, "run_id"));

	/* 200: the run finished within the wait and this is its output;
	 * its id goes to stderr, for `show`, as `run` does. */
	if (status == 200) {
		if (run_id != NULL)
			fprintf(stderr, "run %s succeeded\n", run_id);
		cli_print_json(answer != NULL ? answer : json_null());
		return CLI_OK;
	}
	if (id == NULL)
		return cli_fail("trigger", "the server answered %ld without a "
		    "run id", status);
	if (o->wait >= 0)
		fprintf(stderr, "run %s still running\n", id);
	printf("%s\n", id);
	return CLI_OK;
}

int
cli_trigger(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "wait", optional_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct trigger_opts o;
	struct cli_opts co;
	struct orc_error err;
	json_t *input, *answer;
	char *name, *path, *prefer = NULL, *run_id;
	const char *url, *headers[2] = { NULL, NULL };
	long status;
	int i, rc;

	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.wait = -1;
	if ((i = cli_parse("trigger", argc, argv, opts, trigger_opt, &o,
	    &co)) < 0)
		return CLI_USAGE;
	if (i + 1 != argc)
		return cli_usage_error("trigger", "expected one workflow name");
	if (*argv[i] == '\0')
		return cli_usage_error("trigger", "the workflow name is empty");
	if ((url = cli_url(&co)) == NULL)
		url = CLIENT_DEFAULT_URL;
	if ((input = cli_read_input(o.input, &err)) == NULL)
		return cli_fail("trigger", "%s", err.message);
	if (o.wait >= 0) {
		prefer = xasprintf("Prefer: wait=%d", o.wait);
		headers[0] = prefer;
	}
	name = client_escape(argv[i]);
	path = xasprintf("/workflows/%s/runs", name);
	rc = client_request_header(url, "POST", path, input, headers,
	    o.wait > 0 ? o.wait : 0, &status, &answer, "Run-Id", &run_id,
	    &err);
	if (rc == 0)
		rc = trigger_answer(&o, status, answer, run_id);
	else if (status == 500 && json_object_get(answer, "run_id") != NULL)
		rc = trigger_failed(answer, err.message);
	else
		rc = cli_fail("trigger", "%s", err.message);
	json_decref(answer);
	json_decref(input);
	free(run_id);
	free(path);
	free(name);
	free(prefer);
	return rc;
}
