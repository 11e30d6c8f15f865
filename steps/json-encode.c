/*
 * The json.encode step: turns its input, any JSON value, into a string
 * holding its JSON text, compact unless "pretty" is true (two-space
 * indent), with object keys sorted when "sort_keys" is true.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "jsonenc.h"
#include "orchestrator.h"
#include "steps.h"

static const char *const json_encode_keys[] = { "pretty", "sort_keys", NULL };

/* Reads a boolean option: 0 or 1, or -1 when it is not a boolean. */
static int
json_encode_flag(const json_t *with, const char *key)
{
	const json_t *v = json_object_get(with, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return -1;
	return json_is_true(v);
}

/* Encodes the input. */
static enum step_status
json_encode_start(struct step_call *call)
{
	const json_t *with = step_call_with(call);
	size_t flags = JSON_ENCODE_ANY;
	int pretty, sort_keys;
	char *text;
	json_t *out;

	pretty = json_encode_flag(with, "pretty");
	sort_keys = json_encode_flag(with, "sort_keys");
	if (pretty < 0 || sort_keys < 0) {
		step_call_fail(call, 0, "json.encode \"%s\" must be true or "
		    "false", pretty < 0 ? "pretty" : "sort_keys");
		return STEP_DONE;
	}
	flags |= pretty ? JSON_INDENT(2) : JSON_COMPACT;
	if (sort_keys)
		flags |= JSON_SORT_KEYS;

	/* The common case, compact in the input's order, the fast way. */
	text = flags == (JSON_ENCODE_ANY | JSON_COMPACT) ?
	    jsonenc_compact(step_call_input(call), NULL) :
	    json_dumps(step_call_input(call), flags);
	if (text == NULL) {
		step_call_fail(call, 0, "json.encode could not encode its "
		    "input");
		return STEP_DONE;
	}
	out = json_string(text);
	free(text);
	if (out == NULL)
		fatal("%s: out of memory", __func__);
	step_call_succeed(call, out);
	return STEP_DONE;
}

/* Checks that the options, as written, are booleans or templates. */
static void
json_encode_check(const json_t *with, struct step_checker *chk)
{
	static const char *const flags[] = { "pretty", "sort_keys", NULL };
	static const char *const paths[] = { "with.pretty", "with.sort_keys" };
	const json_t *v;
	size_t i;

	for (i = 0; flags[i] != NULL; i++) {
		v = json_object_get(with, flags[i]);
		if (v == NULL || json_is_boolean(v))
			continue;
		if (step_value_is_template(v))
			continue;
		step_check_error(chk, paths[i], "json.encode \"%s\" must be "
		    "true or false", flags[i]);
	}
}

const struct step_entry step_json_encode_entry = {
	.name = "json.encode",
	.summary = "JSON value to its text",
	.keys = json_encode_keys,
	.check = json_encode_check,
	.start = json_encode_start,
	.cancel = NULL,
	.pure = 1
};
