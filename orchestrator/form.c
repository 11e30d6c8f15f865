/*
 * application/x-www-form-urlencoded text to a JSON object: the decoder of
 * the json.decode step and of webhook bodies sent as forms. Keys and
 * values are percent-decoded (+ is a space); a repeated key becomes an
 * array of its values, in order.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "form.h"

/* Percent-decodes s[0..n) with + as space into a new JSON string; NULL when
 * an escape is broken or the bytes are not UTF-8. */
static json_t *
form_part(const char *s, size_t n)
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
			hi = orc_hex_digit((unsigned char)s[i + 1]);
			lo = orc_hex_digit((unsigned char)s[i + 2]);
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
form_add(json_t *obj, const char *key, json_t *value)
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
json_t *
form_decode(const char *s, size_t n, int strict)
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
		key = form_part(pair, eq - pair);
		if (key == NULL)
			goto fail;
		if (eq == end)
			value = json_string("");
		else
			value = form_part(eq + 1, end - eq - 1);
		/* jansson keys stop at a NUL: refuse "%00" in a key. */
		if (value == NULL ||
		    strlen(json_string_value(key)) != json_string_length(key)) {
			json_decref(key);
			json_decref(value);
			goto fail;
		}
		form_add(obj, json_string_value(key), value);
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
