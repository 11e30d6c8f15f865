/*
 * The json.decode step: turns a request body into a JSON value. A string
 * input is parsed as JSON, as application/x-www-form-urlencoded (repeated
 * keys become arrays) or kept as text, as "format" says ("auto" tries them
 * in that order). Any other input was decoded already and passes through.
 * The result is then checked against the workflow's "input" schema.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "orchestrator.h"
#include "schema.h"
#include "steps.h"

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

/* The value of one hex digit, or -1. */
static int
json_decode_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) with + as space into a new JSON string; NULL when
 * an escape is broken or the bytes are not UTF-8. */
static json_t *
json_decode_form_part(const char *s, size_t n)
{
	char *buf;
	size_t i, len = 0;
	int hi, lo;
	json_t *v;

	buf = xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '+')
			buf[len++] = ' ';
		else if (s[i] == '%') {
			if (i + 2 >= n) {	/* "%4" at the end */
				free(buf);
				return NULL;
			}
			hi = json_decode_hex((unsigned char)s[i + 1]);
			lo = json_decode_hex((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0) {
				free(buf);
				return NULL;
			}
			buf[len++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			buf[len++] = s[i];
	}
	v = json_stringn(buf, len);
	free(buf);
	return v;
}

/* Adds key=value to obj; a repeated key turns into an array of values. */
static void
json_decode_form_add(json_t *obj, const char *key, json_t *value)
{
	json_t *old, *arr;

	old = json_object_get(obj, key);
	if (old == NULL)
		json_object_set_new(obj, key, value);
	else if (json_is_array(old))
		json_array_append_new(old, value);
	else {
		arr = json_array();
		json_array_append(arr, old);
		json_array_append_new(arr, value);
		json_object_set_new(obj, key, arr);
	}
}

/*
 * Parses form-urlencoded text into an object. strict (for "auto") also
 * wants it to look like a form: no spaces or control characters and an '='
 * with a key in every pair. NULL when it is not a form.
 */
static json_t *
json_decode_form(const char *s, size_t n, int strict)
{
	json_t *obj, *key, *value;
	const char *pair, *end, *eq;
	size_t i;

	if (strict) {
		if (n == 0)
			return NULL;
		for (i = 0; i < n; i++) {
			if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
				return NULL;
		}
	}

	obj = json_object();
	for (pair = s; pair < s + n; pair = end + 1) {
		if ((end = memchr(pair, '&', s + n - pair)) == NULL)
			end = s + n;
		if (end == pair)
			continue;	/* "a=1&&b=2" or a trailing '&' */
		eq = memchr(pair, '=', end - pair);
		if (strict && (eq == NULL || eq == pair))
			goto fail;
		if (eq == NULL)
			eq = end;
		key = json_decode_form_part(pair, eq - pair);
		if (key == NULL)
			goto fail;
		if (eq == end)
			value = json_string("");
		else
			value = json_decode_form_part(eq + 1, end - eq - 1);
		/* jansson keys stop at a NUL: refuse "%00" in a key. */
		if (value == NULL ||
		    strlen(json_string_value(key)) != json_string_length(key)) {
			json_decref(key);
			json_decref(value);
			goto fail;
		}
		json_decode_form_add(obj, json_string_value(key), value);
		json_decref(key);
		if (end == s + n)
			break;
	}
	if (strict && json_object_size(obj) == 0)
		goto fail;
	return obj;

fail:
	json_decref(obj);
	return NULL;
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
		if ((v = json_decode_form(s, n, 0)) == NULL)
			step_call_fail(call, 0, "input is not valid "
			    "form-urlencoded text (a broken %%XX escape, a NUL "
			    "in a key or bytes that are not UTF-8)");
		return v;
	}

	/* auto: JSON did not parse; a form if it looks like one, else text. */
	if ((v = json_decode_form(s, n, 1)) != NULL)
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

	if (schema != NULL) {
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
	if (strstr(s, "{{") == NULL && !json_decode_known_format(s))
		step_check_error(chk, "with.format", "json.decode \"format\" "
		    "must be one of auto, json, form, text, not \"%s\"", s);
}

const struct step_entry step_json_decode_entry = {
	.name = "json.decode",
	.summary = "request body (JSON, form or text) to a JSON value",
	.keys = json_decode_keys,
	.check = json_decode_check,
	.start = json_decode_start,
	.cancel = NULL
};
