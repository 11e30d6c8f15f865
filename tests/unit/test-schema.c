/*
 * Tests for schema.c: every keyword of the subset, the path and wording of
 * validation messages, UTF-8 lengths, integer against number, and the
 * problems schema_check_schema() refuses, each with its path.
 */
#include "config.h"

#include <jansson.h>

#include "schema.h"
#include "test.h"

/* One validation case: a schema, a value and the expected message. */
struct schema_case {
	const char	*schema;
	const char	*value;
	const char	*message;	/* NULL: the value is valid */
};

static const struct schema_case validate_cases[] = {
	/* type, each name */
	{ "{\"type\":\"object\"}", "{}", NULL },
	{ "{\"type\":\"object\"}", "[]", "(root): expected object, got array" },
	{ "{\"type\":\"array\"}", "[1]", NULL },
	{ "{\"type\":\"array\"}", "{}", "(root): expected array, got object" },
	{ "{\"type\":\"string\"}", "\"x\"", NULL },
	{ "{\"type\":\"string\"}", "1", "(root): expected string, got number" },
	{ "{\"type\":\"number\"}", "1.5", NULL },
	{ "{\"type\":\"number\"}", "7", NULL },
	{ "{\"type\":\"number\"}", "\"7\"",
	    "(root): expected number, got string" },
	{ "{\"type\":\"integer\"}", "7", NULL },
	{ "{\"type\":\"integer\"}", "7.0", NULL },
	{ "{\"type\":\"integer\"}", "-2e3", NULL },
	{ "{\"type\":\"integer\"}", "7.5",
	    "(root): expected integer, got number" },
	{ "{\"type\":\"boolean\"}", "false", NULL },
	{ "{\"type\":\"boolean\"}", "true", NULL },
	{ "{\"type\":\"boolean\"}", "0",
	    "(root): expected boolean, got number" },
	{ "{\"type\":\"null\"}", "null", NULL },
	{ "{\"type\":\"null\"}", "false",
	    "(root): expected null, got boolean" },
	/* type as an array */
	{ "{\"type\":[\"string\",\"null\"]}", "null", NULL },
	{ "{\"type\":[\"string\",\"null\"]}", "\"a\"", NULL },
	{ "{\"type\":[\"string\",\"null\"]}", "3",
	    "(root): expected string or null, got number" },
	{ "{\"type\":[\"string\",\"integer\",\"null\"]}", "{}",
	    "(root): expected string, integer or null, got object" },
	/* required */
	{ "{\"required\":[\"customer\"]}", "{\"customer\":1}", NULL },
	{ "{\"required\":[\"id\",\"customer\"]}", "{\"id\":1}",
	    "customer: required property missing" },
	{ "{\"required\":[\"a.b\"]}", "{}",
	    "[\"a.b\"]: required property missing" },
	{ "{\"required\":[\"x\"]}", "[]", NULL },
	/* properties, nested paths */
	{ "{\"properties\":{\"qty\":{\"type\":\"number\"}}}",
	    "{\"qty\":\"3\"}", "qty: expected number, got string" },
	{ "{\"properties\":{\"a\":{\"properties\":{\"b\":{\"properties\":"
	    "{\"c\":{\"type\":\"null\"}}}}}}}", "{\"a\":{\"b\":{\"c\":1}}}",
	    "a.b.c: expected null, got number" },
	{ "{\"properties\":{\"my key\":{\"type\":\"string\"}}}",
	    "{\"my key\":1}", "[\"my key\"]: expected string, got number" },
	{ "{\"properties\":{\"o\":{\"properties\":{\"x[1]\":"
	    "{\"type\":\"string\"}}}}}", "{\"o\":{\"x[1]\":1}}",
	    "o[\"x[1]\"]: expected string, got number" },
	{ "{\"properties\":{\"o\":{\"required\":[\"id\"]}}}", "{\"o\":{}}",
	    "o.id: required property missing" },
	{ "{\"properties\":{\"qty\":{\"type\":\"number\"}}}",
	    "{\"other\":\"x\"}", NULL },
	/* items */
	{ "{\"items\":{\"type\":\"integer\"}}", "[1,2,3]", NULL },
	{ "{\"items\":{\"type\":\"integer\"}}", "[1,2,\"3\"]",
	    "[2]: expected integer, got string" },
	{ "{\"properties\":{\"items\":{\"items\":{\"properties\":{\"qty\":"
	    "{\"type\":\"number\"}}}}}}",
	    "{\"items\":[{\"qty\":1},{\"qty\":2},{\"qty\":3},{\"qty\":\"x\"}]}",
	    "items[3].qty: expected number, got string" },
	{ "{\"items\":{\"items\":{\"type\":\"string\"}}}",
	    "[[\"a\"],[\"b\",1]]", "[1][1]: expected string, got number" },
	/* enum, mixed types */
	{ "{\"enum\":[\"a\",\"b\"]}", "\"a\"", NULL },
	{ "{\"properties\":{\"state\":{\"enum\":[\"a\",\"b\"]}}}",
	    "{\"state\":\"c\"}", "state: must be one of \"a\", \"b\"" },
	{ "{\"enum\":[\"a\",1,null,true,[1],{\"k\":2}]}", "null", NULL },
	{ "{\"enum\":[\"a\",1,null,true,[1],{\"k\":2}]}", "1.0", NULL },
	{ "{\"enum\":[\"a\",1,null,true,[1],{\"k\":2}]}", "[1]", NULL },
	{ "{\"enum\":[\"a\",1,null,true,[1],{\"k\":2}]}", "{\"k\":2}", NULL },
	{ "{\"enum\":[\"a\",1,null,true,[1],{\"k\":2}]}", "\"1\"",
	    "(root): must be one of \"a\", 1, null, true, [1], {\"k\":2}" },
	{ "{\"enum\":[\"a\",1,null,true,[1],{\"k\":2}]}", "false",
	    "(root): must be one of \"a\", 1, null, true, [1], {\"k\":2}" },
	/* minimum and maximum */
	{ "{\"properties\":{\"qty\":{\"minimum\":1}}}", "{\"qty\":1}", NULL },
	{ "{\"properties\":{\"qty\":{\"minimum\":1}}}", "{\"qty\":0}",
	    "qty: must be >= 1" },
	{ "{\"properties\":{\"qty\":{\"minimum\":1}}}", "{\"qty\":0.5}",
	    "qty: must be >= 1" },
	{ "{\"minimum\":0.5}", "0.25", "(root): must be >= 0.5" },
	{ "{\"maximum\":10}", "10", NULL },
	{ "{\"maximum\":10}", "10.5", "(root): must be <= 10" },
	{ "{\"maximum\":-1.5}", "-1", "(root): must be <= -1.5" },
	{ "{\"minimum\":9007199254740993}", "9007199254740992",
	    "(root): must be >= 9007199254740993" },
	{ "{\"minimum\":1}", "\"0\"", NULL },
	/* minLength and maxLength count code points */
	{ "{\"properties\":{\"name\":{\"maxLength\":64}}}",
	    "{\"name\":\"0123456789012345678901234567890123456789"
	    "01234567890123456789012345\"}",
	    "name: must be at most 64 characters" },
	{ "{\"maxLength\":3}", "\"h\xc3\xa9\xe2\x82\xac\"", NULL },
	{ "{\"maxLength\":2}", "\"h\xc3\xa9\xe2\x82\xac\"",
	    "(root): must be at most 2 characters" },
	{ "{\"minLength\":3}", "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"",
	    "(root): must be at least 3 characters" },
	{ "{\"minLength\":2}", "\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"", NULL },
	{ "{\"minLength\":1}", "\"\"", "(root): must be at least 1 character" },
	{ "{\"maxLength\":0}", "\"\"", NULL },
	{ "{\"maxLength\":1}", "[1,2]", NULL },
	/* additionalProperties */
	{ "{\"properties\":{\"a\":{}},\"additionalProperties\":false}",
	    "{\"a\":1}", NULL },
	{ "{\"properties\":{\"a\":{}},\"additionalProperties\":false}",
	    "{\"a\":1,\"b\":2}", "b: unknown property" },
	{ "{\"properties\":{\"a\":{}},\"additionalProperties\":true}",
	    "{\"a\":1,\"b\":2}", NULL },
	/* annotations change nothing */
	{ "{\"description\":\"d\",\"title\":\"t\",\"default\":1,"
	    "\"examples\":[1],\"$schema\":\"x\",\"type\":\"integer\"}", "1",
	    NULL },
	/* the first failure in document order */
	{ "{\"properties\":{\"a\":{\"type\":\"string\"},\"b\":"
	    "{\"type\":\"string\"}}}", "{\"b\":1,\"a\":2}",
	    "b: expected string, got number" },
	{ "{\"properties\":{\"a\":{\"type\":\"string\"},\"b\":"
	    "{\"type\":\"string\"}}}", "{\"a\":2,\"b\":1}",
	    "a: expected string, got number" },
	{ "{\"type\":\"string\",\"enum\":[\"a\"],\"maxLength\":0}", "\"bb\"",
	    "(root): must be one of \"a\"" },
	{ "{}", "{\"anything\":[1,{}]}", NULL },
};

/* Parses JSON text that the test itself wrote. */
static json_t *
load(const char *text)
{
	json_error_t jerr;
	json_t *v;

	v = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (v == NULL)
		fprintf(stderr, "bad test JSON %s: %s\n", text, jerr.text);
	return v;
}

/* Runs every case of the validation table. */
static void
test_schema_validate_table(void)
{
	const struct schema_case *c;
	struct orc_error err;
	json_t *schema, *value;
	char *path;
	size_t i;
	int rc;

	for (i = 0; i < sizeof validate_cases / sizeof validate_cases[0];
	    i++) {
		c = &validate_cases[i];
		schema = load(c->schema);
		value = load(c->value);
		REQUIRE(schema != NULL && value != NULL);
		/* Every schema in the table is itself well formed. */
		path = NULL;
		if (schema_check_schema(schema, &path, &err) != 0) {
			fprintf(stderr, "case %zu: schema refused: %s: %s\n",
			    i, path, err.message);
			CHECK(0);
		}
		free(path);
		orc_error_clear(&err);
		rc = schema_validate(schema, value, &err);
		if (c->message == NULL) {
			if (rc != 0)
				fprintf(stderr, "case %zu: %s\n", i,
				    err.message);
			CHECK(rc == 0);
		} else {
			if (rc != -1)
				fprintf(stderr, "case %zu: accepted\n", i);
			CHECK(rc == -1);
			CHECK(err.code == ORC_EINVAL);
			CHECK_STR(err.message, c->message);
		}
		json_decref(schema);
		json_decref(value);
	}
}

/* A NULL err is allowed and the result is the same. */
static void
test_schema_validate_null_err(void)
{
	json_t *schema, *value;

	schema = load("{\"type\":\"string\"}");
	value = load("1");
	CHECK(schema_validate(schema, value, NULL) == -1);
	json_decref(value);
	value = load("\"s\"");
	CHECK(schema_validate(schema, value, NULL) == 0);
	json_decref(value);
	json_decref(schema);
}

/* One schema the checker refuses, with the path and message. */
struct schema_bad_case {
	const char	*schema;
	const char	*path;
	const char	*message;
};

static const struct schema_bad_case bad_cases[] = {
	{ "[]", "(root)", "schema must be an object" },
	{ "{\"minimun\":1}", "(root)", "unknown schema keyword \"minimun\"" },
	{ "{\"properties\":{\"qty\":{\"type\":\"number\",\"minimun\":1}}}",
	    "properties.qty", "unknown schema keyword \"minimun\"" },
	{ "{\"items\":{\"properties\":{\"a b\":{\"format\":\"x\"}}}}",
	    "items.properties[\"a b\"]", "unknown schema keyword \"format\"" },
	{ "{\"properties\":{\"qty\":{\"type\":\"numbr\"}}}",
	    "properties.qty.type", "unknown type \"numbr\" (expected object, "
	    "array, string, number, integer, boolean or null)" },
	{ "{\"type\":[\"string\",\"nil\"]}", "type[1]",
	    "unknown type \"nil\" (expected object, array, string, number, "
	    "integer, boolean or null)" },
	{ "{\"type\":[\"string\",3]}", "type[1]",
	    "type must be a type name or a non-empty array of them" },
	{ "{\"type\":[]}", "type",
	    "type must be a type name or a non-empty array of them" },
	{ "{\"type\":7}", "type",
	    "type must be a type name or a non-empty array of them" },
	{ "{\"required\":\"id\"}", "required",
	    "required must be an array of strings" },
	{ "{\"required\":[\"id\",1]}", "required",
	    "required must be an array of strings" },
	{ "{\"properties\":[]}", "properties",
	    "properties must be an object of schemas" },
	{ "{\"properties\":{\"a\":1}}", "properties.a",
	    "schema must be an object" },
	{ "{\"items\":[{}]}", "items", "items must be a schema object" },
	{ "{\"items\":{\"items\":{\"type\":\"x\"}}}", "items.items.type",
	    "unknown type \"x\" (expected object, array, string, number, "
	    "integer, boolean or null)" },
	{ "{\"enum\":[]}", "enum", "enum must be a non-empty array" },
	{ "{\"enum\":\"a\"}", "enum", "enum must be a non-empty array" },
	{ "{\"minimum\":\"1\"}", "minimum", "minimum must be a number" },
	{ "{\"properties\":{\"q\":{\"maximum\":null}}}",
	    "properties.q.maximum", "maximum must be a number" },
	{ "{\"minLength\":-1}", "minLength",
	    "minLength must be a non-negative integer" },
	{ "{\"maxLength\":1.5}", "maxLength",
	    "maxLength must be a non-negative integer" },
	{ "{\"minimum\":5,\"maximum\":4}", "minimum",
	    "minimum is greater than maximum" },
	{ "{\"minLength\":5,\"maxLength\":4}", "minLength",
	    "minLength is greater than maxLength" },
	{ "{\"description\":1}", "description",
	    "description must be a string" },
	{ "{\"title\":[]}", "title", "title must be a string" },
	{ "{\"$schema\":{}}", "$schema", "$schema must be a string" },
	{ "{\"additionalProperties\":{\"type\":\"string\"}}",
	    "additionalProperties",
	    "additionalProperties must be true or false" },
	/* the first problem in document order */
	{ "{\"type\":\"object\",\"bogus\":1,\"minimum\":\"x\"}", "(root)",
	    "unknown schema keyword \"bogus\"" },
};

/* Runs every case of the refusal table. */
static void
test_schema_check_schema_rejects(void)
{
	const struct schema_bad_case *c;
	struct orc_error err;
	json_t *schema;
	char *path;
	size_t i;

	for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		c = &bad_cases[i];
		schema = load(c->schema);
		REQUIRE(schema != NULL);
		path = NULL;
		orc_error_clear(&err);
		if (schema_check_schema(schema, &path, &err) != -1) {
			fprintf(stderr, "case %zu accepted\n", i);
			CHECK(0);
		}
		CHECK(err.code == ORC_EINVAL);
		CHECK_STR(path, c->path);
		CHECK_STR(err.message, c->message);
		free(path);
		json_decref(schema);
	}
}

/* Well-formed schemas pass and leave *path NULL; path may be NULL. */
static void
test_schema_check_schema_accepts(void)
{
	static const char *good[] = {
		"{}",
		"{\"type\":\"object\",\"required\":[\"customer\",\"items\"],"
		"\"properties\":{\"customer\":{\"type\":\"string\","
		"\"minLength\":1,\"maxLength\":64},\"items\":{\"type\":"
		"\"array\",\"items\":{\"type\":\"object\",\"properties\":"
		"{\"qty\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":"
		"99.5}}}},\"state\":{\"enum\":[\"a\",2,null]}},"
		"\"additionalProperties\":false,\"description\":\"an order\"}",
		"{\"type\":[\"integer\",\"null\"],\"minimum\":1,\"maximum\":1}",
		"{\"minLength\":0,\"maxLength\":0,\"default\":\"\","
		"\"examples\":[\"\"],\"title\":\"t\",\"$schema\":\"s\"}",
	};
	struct orc_error err;
	json_t *schema;
	char *path;
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		schema = load(good[i]);
		REQUIRE(schema != NULL);
		path = (char *)"unchanged";
		CHECK(schema_check_schema(schema, &path, &err) == 0);
		CHECK(path == NULL);
		CHECK(schema_check_schema(schema, NULL, NULL) == 0);
		json_decref(schema);
	}
	schema = load("{\"bad\":1}");
	CHECK(schema_check_schema(schema, NULL, NULL) == -1);
	json_decref(schema);
}

int
main(void)
{
	TEST_RUN(test_schema_validate_table);
	TEST_RUN(test_schema_validate_null_err);
	TEST_RUN(test_schema_check_schema_rejects);
	TEST_RUN(test_schema_check_schema_accepts);
	TEST_DONE();
}
