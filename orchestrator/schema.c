/*
 * The JSON Schema subset of SPEC section 1, for a workflow's "input" and
 * "output" contracts: type, required, properties, items, enum, minimum,
 * maximum, minLength and maxLength, plus the annotations description,
 * title, default, examples and $schema, and additionalProperties as a
 * boolean. schema_check_schema() runs when a workflow loads and refuses
 * anything else, so a typo such as "minimun" is an error and not a check
 * that silently never happens. schema_validate() reports the first failing
 * value in document order with its path: "items[3].qty: expected number,
 * got string", or "(root): ..." for the value itself.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonpos.h"
#include "schema.h"
#include "strbuf.h"

/* The names "type" accepts, in the order messages list them. */
static const char *schema_type_names[] = {
	"object", "array", "string", "number", "integer", "boolean", "null",
	NULL
};

/* The path as shown to users: the value itself is "(root)". */
static const char *
schema_path_show(const char *path)
{
	return *path == '\0' ? "(root)" : path;
}

/* Whether name is one of the type names. */
static int
schema_type_known(const char *name)
{
	int i;

	for (i = 0; schema_type_names[i] != NULL; i++)
		if (strcmp(schema_type_names[i], name) == 0)
			return 1;
	return 0;
}

/* Whether value v is of the named type. */
static int
schema_type_matches(const char *name, const json_t *v)
{
	double d;

	if (strcmp(name, "object") == 0)
		return json_is_object(v);
	if (strcmp(name, "array") == 0)
		return json_is_array(v);
	if (strcmp(name, "string") == 0)
		return json_is_string(v);
	if (strcmp(name, "number") == 0)
		return json_is_number(v);
	if (strcmp(name, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(name, "null") == 0)
		return json_is_null(v);
	if (strcmp(name, "integer") == 0) {
		if (json_is_integer(v))
			return 1;
		/* 3.0 counts: JSON does not tell 3.0 from 3. */
		if (json_is_real(v)) {
			d = json_real_value(v);
			return isfinite(d) && d == floor(d);
		}
	}
	return 0;
}

/* The type name of a value, for "got ..." in messages. */
static const char *
schema_type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* Number of UTF-8 code points in a JSON string (jansson keeps it valid). */
static size_t
schema_utf8_length(const json_t *s)
{
	const unsigned char *p;
	size_t i, n, count;

	p = (const unsigned char *)json_string_value(s);
	n = json_string_length(s);
	count = 0;
	for (i = 0; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			count++;
	return count;
}

/* Compares two numbers: <0, 0 or >0, exactly when both are integers. */
static int
schema_number_cmp(const json_t *a, const json_t *b)
{
	json_int_t ia, ib;
	double da, db;

	if (json_is_integer(a) && json_is_integer(b)) {
		ia = json_integer_value(a);
		ib = json_integer_value(b);
		return ia < ib ? -1 : ia > ib;
	}
	da = json_number_value(a);
	db = json_number_value(b);
	return da < db ? -1 : da > db;
}

/* Whether two values are equal for enum, where 1 and 1.0 are the same. */
static int
schema_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b))
		return schema_number_cmp(a, b) == 0;
	return json_equal(a, b);
}

/* Appends the compact JSON text of v to b. */
static void
schema_add_json(struct strbuf *b, const json_t *v)
{
	char *text;

	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (text == NULL)
		fatal("out of memory (json_dumps)");
	strbuf_puts(b, text);
	free(text);
}

/* Sets err to "PATH: problem" for a mismatch and returns -1. */
static int
schema_fail(struct orc_error *err, const char *path, const char *fmt, ...)
    ORC_PRINTF(3, 4);

static int
schema_fail(struct orc_error *err, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	orc_error_set(err, ORC_EINVAL, "%s: %s", schema_path_show(path), msg);
	free(msg);
	return -1;
}

/* Checks the "type" keyword; -1 and err when v is none of the types. */
static int
schema_validate_type(const json_t *type, const json_t *v, const char *path,
    struct orc_error *err)
{
	struct strbuf b = STRBUF_INIT;
	const json_t *t;
	size_t i, n;
	int rc;

	if (json_is_string(type)) {
		if (schema_type_matches(json_string_value(type), v))
			return 0;
		return schema_fail(err, path, "expected %s, got %s",
		    json_string_value(type), schema_type_of(v));
	}
	if (!json_is_array(type))
		return 0;
	n = json_array_size(type);
	json_array_foreach(type, i, t) {
		if (json_is_string(t) &&
		    schema_type_matches(json_string_value(t), v))
			return 0;
	}
	if (n == 0)
		return 0;
	/* "expected string, number or null". */
	json_array_foreach(type, i, t) {
		if (!json_is_string(t))
			continue;
		if (i > 0)
			strbuf_puts(&b, i + 1 == n ? " or " : ", ");
		strbuf_puts(&b, json_string_value(t));
	}
	rc = schema_fail(err, path, "expected %s, got %s", b.s ? b.s : "",
	    schema_type_of(v));
	strbuf_free(&b);
	return rc;
}

/* Checks "enum"; -1 and err when v equals none of the values. */
static int
schema_validate_enum(const json_t *list, const json_t *v, const char *path,
    struct orc_error *err)
{
	struct strbuf b = STRBUF_INIT;
	const json_t *e;
	size_t i;
	int rc;

	if (!json_is_array(list))
		return 0;
	json_array_foreach(list, i, e) {
		if (schema_equal(e, v))
			return 0;
	}
	json_array_foreach(list, i, e) {
		if (i > 0)
			strbuf_puts(&b, ", ");
		schema_add_json(&b, e);
	}
	rc = schema_fail(err, path, "must be one of %s", b.s ? b.s : "");
	strbuf_free(&b);
	return rc;
}

/* Checks minimum or maximum (sign -1 or 1) of a number. */
static int
schema_validate_bound(const json_t *bound, int sign, const json_t *v,
    const char *path, struct orc_error *err)
{
	struct strbuf b = STRBUF_INIT;
	int rc;

	if (!json_is_number(bound) || !json_is_number(v))
		return 0;
	if (schema_number_cmp(v, bound) * sign <= 0)
		return 0;
	schema_add_json(&b, bound);
	rc = schema_fail(err, path, "must be %s %s", sign < 0 ? ">=" : "<=",
	    b.s);
	strbuf_free(&b);
	return rc;
}

static int	schema_validate_at(const json_t *, const json_t *, const char *,
		    struct orc_error *);

/* Checks required, properties and additionalProperties of an object. */
static int
schema_validate_object(const json_t *schema, const json_t *v,
    const char *path, struct orc_error *err)
{
	const json_t *required, *props, *extra, *r, *sub, *member;
	const char *key;
	char *subpath;
	size_t i;
	int rc;

	required = json_object_get(schema, "required");
	props = json_object_get(schema, "properties");
	extra = json_object_get(schema, "additionalProperties");
	if (json_is_array(required)) {
		json_array_foreach(required, i, r) {
			if (!json_is_string(r) ||
			    json_object_get(v, json_string_value(r)) != NULL)
				continue;
			subpath = jsonpos_path_key(path, json_string_value(r));
			rc = schema_fail(err, subpath,
			    "required property missing");
			free(subpath);
			return rc;
		}
	}
	/* The value's own key order, so the first failure is stable. */
	json_object_foreach((json_t *)v, key, member) {
		sub = json_is_object(props) ? json_object_get(props, key) :
		    NULL;
		if (sub == NULL && !json_is_false(extra))
			continue;
		subpath = jsonpos_path_key(path, key);
		if (sub == NULL)
			rc = schema_fail(err, subpath, "unknown property");
		else
			rc = schema_validate_at(sub, member, subpath, err);
		free(subpath);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Validates v against schema; path is where v is ("" for the root). */
static int
schema_validate_at(const json_t *schema, const json_t *v, const char *path,
    struct orc_error *err)
{
	const json_t *kw, *items, *member;
	json_int_t limit;
	size_t i, len;
	char *subpath;
	int rc;

	if (!json_is_object(schema))
		return 0;
	if ((kw = json_object_get(schema, "type")) != NULL &&
	    schema_validate_type(kw, v, path, err) != 0)
		return -1;
	if ((kw = json_object_get(schema, "enum")) != NULL &&
	    schema_validate_enum(kw, v, path, err) != 0)
		return -1;
	if (schema_validate_bound(json_object_get(schema, "minimum"), -1, v,
	    path, err) != 0)
		return -1;
	if (schema_validate_bound(json_object_get(schema, "maximum"), 1, v,
	    path, err) != 0)
		return -1;
	if (json_is_string(v)) {
		len = schema_utf8_length(v);
		kw = json_object_get(schema, "minLength");
		if (json_is_integer(kw)) {
			limit = json_integer_value(kw);
			if (limit > 0 && len < (size_t)limit)
				return schema_fail(err, path,
				    "must be at least %lld character%s",
				    (long long)limit, limit == 1 ? "" : "s");
		}
		kw = json_object_get(schema, "maxLength");
		if (json_is_integer(kw)) {
			limit = json_integer_value(kw);
			if (limit >= 0 && len > (size_t)limit)
				return schema_fail(err, path,
				    "must be at most %lld character%s",
				    (long long)limit, limit == 1 ? "" : "s");
		}
	}
	if (json_is_object(v))
		return schema_validate_object(schema, v, path, err);
	items = json_object_get(schema, "items");
	if (json_is_array(v) && json_is_object(items)) {
		json_array_foreach(v, i, member) {
			subpath = jsonpos_path_index(path, i);
			rc = schema_validate_at(items, member, subpath, err);
			free(subpath);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* Validates a value against a schema: 0, or -1 naming the first failure. */
int
schema_validate(const json_t *schema, const json_t *value,
    struct orc_error *err)
{
	if (schema == NULL || value == NULL)
		return 0;
	return schema_validate_at(schema, value, "", err);
}

/* Records a schema problem at path (and keyword, when given). */
static int
schema_bad(char **outpath, struct orc_error *err, const char *path,
    const char *keyword, const char *fmt, ...) ORC_PRINTF(5, 6);

static int
schema_bad(char **outpath, struct orc_error *err, const char *path,
    const char *keyword, const char *fmt, ...)
{
	va_list ap;
	char *where;

	where = keyword != NULL ? jsonpos_path_key(path, keyword) :
	    xstrdup(schema_path_show(path));
	va_start(ap, fmt);
	orc_error_vset(err, ORC_EINVAL, fmt, ap);
	va_end(ap);
	if (outpath != NULL)
		*outpath = where;
	else
		free(where);
	return -1;
}

/* Checks the value of "type": a known name or an array of them. */
static int
schema_check_type(const json_t *type, const char *path, char **outpath,
    struct orc_error *err)
{
	const json_t *t;
	char *kwpath;
	size_t i;
	int rc;

	if (json_is_string(type)) {
		if (schema_type_known(json_string_value(type)))
			return 0;
		return schema_bad(outpath, err, path, "type",
		    "unknown type \"%s\" (expected object, array, string, "
		    "number, integer, boolean or null)",
		    json_string_value(type));
	}
	if (!json_is_array(type) || json_array_size(type) == 0)
		return schema_bad(outpath, err, path, "type",
		    "type must be a type name or a non-empty array of them");
	json_array_foreach(type, i, t) {
		if (json_is_string(t) &&
		    schema_type_known(json_string_value(t)))
			continue;
		kwpath = jsonpos_path_key(path, "type");
		if (json_is_string(t))
			rc = schema_bad(outpath, err, kwpath, NULL,
			    "unknown type \"%s\" (expected object, array, "
			    "string, number, integer, boolean or null)",
			    json_string_value(t));
		else
			rc = schema_bad(outpath, err, kwpath, NULL,
			    "type must be a type name or a non-empty array "
			    "of them");
		/* Point at the element: "type[1]". */
		if (outpath != NULL) {
			free(*outpath);
			*outpath = jsonpos_path_index(kwpath, i);
		}
		free(kwpath);
		return rc;
	}
	return 0;
}

static int	schema_check_at(const json_t *, const char *, char **,
		    struct orc_error *);

/* Checks one keyword of a schema at path. */
static int
schema_check_keyword(const char *kw, const json_t *v, const char *path,
    char **outpath, struct orc_error *err)
{
	const json_t *e;
	const char *name;
	char *sub, *subpath;
	size_t i;
	int rc;

	if (strcmp(kw, "type") == 0)
		return schema_check_type(v, path, outpath, err);
	if (strcmp(kw, "required") == 0) {
		if (!json_is_array(v))
			return schema_bad(outpath, err, path, kw,
			    "required must be an array of strings");
		json_array_foreach(v, i, e) {
			if (json_is_string(e))
				continue;
			return schema_bad(outpath, err, path, kw,
			    "required must be an array of strings");
		}
		return 0;
	}
	if (strcmp(kw, "properties") == 0) {
		if (!json_is_object(v))
			return schema_bad(outpath, err, path, kw,
			    "properties must be an object of schemas");
		sub = jsonpos_path_key(path, kw);
		rc = 0;
		json_object_foreach((json_t *)v, name, e) {
			subpath = jsonpos_path_key(sub, name);
			rc = schema_check_at(e, subpath, outpath, err);
			free(subpath);
			if (rc != 0)
				break;
		}
		free(sub);
		return rc;
	}
	if (strcmp(kw, "items") == 0) {
		/* The tuple form (an array of schemas) is not supported. */
		if (!json_is_object(v))
			return schema_bad(outpath, err, path, kw,
			    "items must be a schema object");
		sub = jsonpos_path_key(path, kw);
		rc = schema_check_at(v, sub, outpath, err);
		free(sub);
		return rc;
	}
	if (strcmp(kw, "enum") == 0) {
		if (!json_is_array(v) || json_array_size(v) == 0)
			return schema_bad(outpath, err, path, kw,
			    "enum must be a non-empty array");
		return 0;
	}
	if (strcmp(kw, "minimum") == 0 || strcmp(kw, "maximum") == 0) {
		if (!json_is_number(v))
			return schema_bad(outpath, err, path, kw,
			    "%s must be a number", kw);
		return 0;
	}
	if (strcmp(kw, "minLength") == 0 || strcmp(kw, "maxLength") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return schema_bad(outpath, err, path, kw,
			    "%s must be a non-negative integer", kw);
		return 0;
	}
	if (strcmp(kw, "description") == 0 || strcmp(kw, "title") == 0 ||
	    strcmp(kw, "$schema") == 0) {
		if (!json_is_string(v))
			return schema_bad(outpath, err, path, kw,
			    "%s must be a string", kw);
		return 0;
	}
	if (strcmp(kw, "default") == 0 || strcmp(kw, "examples") == 0)
		return 0;
	if (strcmp(kw, "additionalProperties") == 0) {
		if (!json_is_boolean(v))
			return schema_bad(outpath, err, path, kw,
			    "additionalProperties must be true or false");
		return 0;
	}
	return schema_bad(outpath, err, path, NULL,
	    "unknown schema keyword \"%s\"", kw);
}

/* Checks the schema at path, keyword by keyword in document order. */
static int
schema_check_at(const json_t *schema, const char *path, char **outpath,
    struct orc_error *err)
{
	const json_t *v, *lo, *hi;
	const char *kw;

	if (!json_is_object(schema))
		return schema_bad(outpath, err, path, NULL,
		    "schema must be an object");
	json_object_foreach((json_t *)schema, kw, v) {
		if (schema_check_keyword(kw, v, path, outpath, err) != 0)
			return -1;
	}
	/* Bounds that no value can meet are a mistake in the workflow. */
	lo = json_object_get(schema, "minimum");
	hi = json_object_get(schema, "maximum");
	if (lo != NULL && hi != NULL && schema_number_cmp(lo, hi) > 0)
		return schema_bad(outpath, err, path, "minimum",
		    "minimum is greater than maximum");
	lo = json_object_get(schema, "minLength");
	hi = json_object_get(schema, "maxLength");
	if (lo != NULL && hi != NULL &&
	    json_integer_value(lo) > json_integer_value(hi))
		return schema_bad(outpath, err, path, "minLength",
		    "minLength is greater than maxLength");
	return 0;
}

/* Checks a schema itself; -1 with *path (caller frees) and err if bad. */
int
schema_check_schema(const json_t *schema, char **path, struct orc_error *err)
{
	if (path != NULL)
		*path = NULL;
	return schema_check_at(schema, "", path, err);
}
