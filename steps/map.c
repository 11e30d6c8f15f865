/*
 * The map and parallel steps: fan-out and fan-in. A map runs its own
 * "steps" once per item of "items" (an array; the step's input when
 * "items" is not given), each item as a run of its own; its output is the
 * array of the items' outputs, in item order. A parallel step runs each of
 * its "branches" (name -> steps) on the step's input at once; its output
 * is an object of each branch's output under its name.
 *
 * A workflow step starts a run of another workflow, a child run, and
 * with "wait" (the default) its output is the child's output.
 *
 * The engine runs all three (engine-fan.c): a step here only names its
 * options and checks them, at load time and once its templates are
 * rendered.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "orchestrator.h"
#include "steps.h"

static const char *const map_keys[] = {
	"items", "max_concurrency", "tolerated_failures",
	"tolerated_failure_percentage", "max_items", NULL
};

/* Reads an integer option into *out within [min, max]: 0, absent 1
 * (*out unchanged), -1 with *why. */
static int
map_read_int(const json_t *with, const char *key, int64_t min, int64_t max,
    int64_t *out, char **why)
{
	const json_t *v = json_object_get(with, key);

	if (v == NULL)
		return 1;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		*why = xasprintf("map \"%s\" must be a whole number from %lld "
		    "to %lld", key, (long long)min, (long long)max);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/* Reads a map's options from its rendered "with" (templates skipped when
 * skip_templates is set, at load time): 0, or -1 with *why (caller frees)
 * naming the option. */
int
step_map_read(const json_t *with, struct step_map_opts *o,
    int skip_templates, char **why)
{
	static const char *const ints[] = { "max_concurrency",
	    "tolerated_failures", "max_items" };
	int64_t *dst[3];
	const json_t *v;
	size_t i;

	o->max_concurrency = STEP_MAP_CONCURRENCY;
	o->tolerated = 0;
	o->tolerated_pct = -1;
	o->max_items = STEP_MAP_MAX_ITEMS;
	dst[0] = &o->max_concurrency;
	dst[1] = &o->tolerated;
	dst[2] = &o->max_items;
	for (i = 0; i < 3; i++) {
		v = json_object_get(with, ints[i]);
		if (skip_templates && step_value_is_template(v))
			continue;
		if (map_read_int(with, ints[i], i == 1 ? 0 : 1,
		    STEP_MAP_ITEMS_LIMIT, dst[i], why) < 0)
			return -1;
	}
	v = json_object_get(with, "tolerated_failure_percentage");
	if (v != NULL && !(skip_templates && step_value_is_template(v))) {
		if (!json_is_number(v) || json_number_value(v) < 0 ||
		    json_number_value(v) > 100) {
			*why = xstrdup("map \"tolerated_failure_percentage\" "
			    "must be a number from 0 to 100");
			return -1;
		}
		if (json_object_get(with, "tolerated_failures") != NULL) {
			*why = xstrdup("map takes \"tolerated_failures\" or "
			    "\"tolerated_failure_percentage\", not both");
			return -1;
		}
		o->tolerated_pct = json_number_value(v);
	}
	v = json_object_get(with, "items");
	if (v != NULL && !json_is_array(v) &&
	    !(skip_templates && step_value_is_template(v))) {
		*why = xstrdup("map \"items\" must be an array (or a template "
		    "that makes one, such as \"{{input.items}}\")");
		return -1;
	}
	return 0;
}

/* How many of n items may fail for good before the map fails. */
size_t
step_map_tolerated(const struct step_map_opts *o, size_t n)
{
	if (o->tolerated_pct >= 0)
		return (size_t)((double)n * o->tolerated_pct / 100.0);
	return (size_t)o->tolerated;
}

/* Checks the options as written. */
static void
map_check(const json_t *with, struct step_checker *chk)
{
	struct step_map_opts o;
	char *why = NULL;

	if (step_map_read(with, &o, 1, &why) != 0) {
		step_check_error(chk, "with", "%s", why);
		free(why);
	}
}

/* The engine does the work; nothing to start or stop here. */
static enum step_status
fan_start(struct step_call *call)
{
	(void)call;
	return STEP_WAIT;
}

/* See fan_start. */
static void
fan_cancel(struct step_call *call)
{
	(void)call;
}

const struct step_entry step_map_entry = {
	.name = "map",
	.summary = "run its \"steps\" for each of \"items\", as runs of their "
	    "own; the output is their outputs, in order",
	.keys = map_keys,
	.check = map_check,
	.start = fan_start,
	.cancel = fan_cancel,
	.fan = STEP_FAN_ITEMS
};

static const char *const workflow_keys[] = { "workflow", "input", "wait",
	NULL };

/* Checks a workflow step's options as written. */
static void
workflow_check(const json_t *with, struct step_checker *chk)
{
	const json_t *name = json_object_get(with, "workflow");
	const json_t *wait = json_object_get(with, "wait");

	if (name == NULL)
		step_check_error(chk, "with", "a workflow step names its "
		    "workflow: \"with\": {\"workflow\": \"NAME\"}");
	else if (!json_is_string(name))
		step_check_error(chk, "with.workflow", "expected a workflow's "
		    "name");
	if (wait != NULL && !json_is_boolean(wait) &&
	    !step_value_is_template(wait))
		step_check_error(chk, "with.wait", "expected true or false");
}

const struct step_entry step_workflow_entry = {
	.name = "workflow",
	.summary = "start a run of another workflow; with \"wait\" (the "
	    "default) its output is that run's",
	.keys = workflow_keys,
	.check = workflow_check,
	.start = fan_start,
	.cancel = fan_cancel,
	.fan = STEP_FAN_WORKFLOW
};

const struct step_entry step_parallel_entry = {
	.name = "parallel",
	.summary = "run each of its \"branches\" on the input at once; the "
	    "output is each branch's output under its name",
	.keys = NULL,
	.start = fan_start,
	.cancel = fan_cancel,
	.fan = STEP_FAN_BRANCHES
};
