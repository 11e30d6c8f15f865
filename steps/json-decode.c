/*
 * The json.decode step: turns a request body into a JSON value. A string
 * input is parsed as JSON, as application/x-www-form-urlencoded (repeated
 * keys become arrays) or kept as text, as "format" says ("auto" tries them
 * in that order). Any other input was decoded already and passes through.
 * The result is then checked against the workflow's "input" schema, unless
 * it is the run's input itself, which was checked when the run was made.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "form.h"
#include "orchestrator.h"
#include "schema.h"
#include "steps.h"
#include "template.h"

static const char *const json_decode_keys[] = { "format", NULL };

static const char *const json_decode_formats[] = {
	"auto", "json", "form", "text", NULL
};

/* Whether a format name is one this step knows. */
static int
json_decode_known_format(const char *format)
{
	size_t i;

	for (i = 0; json_decode_formats[i] != NULL; i++) {
		if (strcmp(json_decode_formats[i], format) == 0)
			return 1;
	}
	return 0;
}

/* Decodes a string input as format says; NULL after failing the call. */
static json_t *
json_decode_string(struct step_call *call, const json_t *input,
    const char *format)
{
	const char *s = json_string_value(input);
	size_t n = json_string_length(input);
	json_error_t jerr;
	json_t *v;

	if (strcmp(format, "text") == 0)
		return json_incref((json_t *)input);

	if (strcmp(format, "json") == 0 || strcmp(format, "auto") == 0) {
		v = json_loadb(s, n, JSON_DECODE_ANY, &jerr);
		if (v != NULL)
			return v;
		if (strcmp(format, "json") == 0) {
			step_call_fail(call, 0, "input is not valid JSON: %s "
			    "at line %d column %d", jerr.text, jerr.line,
			    jerr.column);
			return NULL;
		}
	}

	if (strcmp(format, "form") == 0) {
		if ((v = form_decode(s, n, 0)) == NULL)
			step_call_fail(call, 0, "input is not valid "
			    "form-urlencoded text (a broken %%XX escape, a NUL "
			    "in a key or bytes that are not UTF-8)");
		return v;
	}

	/* auto: JSON did not parse; a form if it looks like one, else text. */
	if ((v = form_decode(s, n, 1)) != NULL)
		return v;
	return json_incref((json_t *)input);
}

/* Decodes the input and validates it against the workflow's schema. */
static enum step_status
json_decode_start(struct step_call *call)
{
	const json_t *input = step_call_input(call);
	const json_t *schema = step_call_input_schema(call);
	const json_t *fv;
	const char *format = "auto";
	struct orc_error err;
	json_t *out;

	fv = json_object_get(step_call_with(call), "format");
	if (fv != NULL) {
		if (!json_is_string(fv) ||
		    !json_decode_known_format(json_string_value(fv))) {
			step_call_fail(call, 0, "json.decode \"format\" must "
			    "be one of auto, json, form, text");
			return STEP_DONE;
		}
		format = json_string_value(fv);
	}

	if (json_is_string(input)) {
		if ((out = json_decode_string(call, input, format)) == NULL)
			return STEP_DONE;
	} else
		out = json_incref((json_t *)input);

	/* The run's own input (passed through) was checked against this
	 * schema when the run was created: only what this step made, or a
	 * value another step passed on, is checked here. */
	if (schema != NULL && out != step_call_trigger(call)) {
		orc_error_clear(&err);
		if (schema_validate(schema, out, &err) != 0) {
			json_decref(out);
			step_call_fail(call, 0, "input does not match the "
			    "workflow's input schema: %s", err.message);
			return STEP_DONE;
		}
	}
	step_call_succeed(call, out);
	return STEP_DONE;
}

/* Checks "format" as written. */
static void
json_decode_check(const json_t *with, struct step_checker *chk)
{
	const json_t *fv;
	const char *s;

	if ((fv = json_object_get(with, "format")) == NULL)
		return;
	if (!json_is_string(fv)) {
		step_check_error(chk, "with.format", "json.decode \"format\" "
		    "must be one of auto, json, form, text");
		return;
	}
	s = json_string_value(fv);
	if (!template_has_expr(s) && !json_decode_known_format(s))
		step_check_error(chk, "with.format", "json.decode \"format\" "
		    "must be one of auto, json, form, text, not \"%s\"", s);
}

const struct step_entry step_json_decode_entry = {
	.name = "json.decode",
	.summary = "request body (JSON, form or text) to a JSON value",
	.keys = json_decode_keys,
	.check = json_decode_check,
	.start = json_decode_start,
	.cancel = NULL,
	.pure = 1
};
