/*
 * Tests for jsonpos: the positions of members and elements by path, checked
 * against hand-counted lines and columns, against jansson's own error
 * columns, and through the longest-prefix fallback.
 */
#include "config.h"

#include <jansson.h>

#include "jsonpos.h"
#include "strbuf.h"
#include "test.h"

/* Indexes text, first making sure jansson accepts it. */
static struct jsonpos *
index_text(const char *text)
{
	json_error_t jerr;
	json_t *j;

	j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		fprintf(stderr, "test text does not parse: %s\n", jerr.text);
		return NULL;
	}
	json_decref(j);
	return jsonpos_create(text, strlen(text));
}

/* Whether path is at line:column. */
static int
at(const struct jsonpos *pos, const char *path, int line, int column)
{
	int l = -1, c = -1;

	jsonpos_find(pos, path, &l, &c);
	if (l != line || c != column) {
		fprintf(stderr, "%s: at %d:%d, expected %d:%d\n", path, l, c,
		    line, column);
		return 0;
	}
	return 1;
}

/* Members are found at their key, elements at their value. */
static void
test_jsonpos_basic(void)
{
	const char *text =
	    "{\n"
	    "  \"name\": \"x\",\n"
	    "  \"steps\": [\n"
	    "    { \"name\": \"a\", \"uses\": \"wait\" },\n"
	    "    {\n"
	    "      \"name\": \"b\",\n"
	    "      \"with\": { \"url\": \"http://h/\", \"n\": -1.5e3 }\n"
	    "    }\n"
	    "  ],\n"
	    "  \"ok\": true, \"nothing\": null\n"
	    "}\n";
	struct jsonpos *pos;

	REQUIRE((pos = index_text(text)) != NULL);
	CHECK(at(pos, "", 1, 1));
	CHECK(at(pos, "name", 2, 3));
	CHECK(at(pos, "steps", 3, 3));
	CHECK(at(pos, "steps[0]", 4, 5));
	CHECK(at(pos, "steps[0].name", 4, 7));
	CHECK(at(pos, "steps[0].uses", 4, 20));
	CHECK(at(pos, "steps[1]", 5, 5));
	CHECK(at(pos, "steps[1].name", 6, 7));
	CHECK(at(pos, "steps[1].with", 7, 7));
	CHECK(at(pos, "steps[1].with.url", 7, 17));
	CHECK(at(pos, "steps[1].with.n", 7, 37));
	CHECK(at(pos, "ok", 10, 3));
	CHECK(at(pos, "nothing", 10, 15));
	jsonpos_free(pos);
}

/* Unknown paths fall back to the longest known prefix. */
static void
test_jsonpos_prefix(void)
{
	const char *text =
	    "{\"a\": {\"b\": [10,\n"
	    "  20]}}";
	struct jsonpos *pos;

	REQUIRE((pos = index_text(text)) != NULL);
	CHECK(at(pos, "a.b[1]", 2, 3));
	CHECK(at(pos, "a.b[1].deeper.still", 2, 3));
	CHECK(at(pos, "a.b[7]", 1, 8));
	CHECK(at(pos, "a.c", 1, 2));
	CHECK(at(pos, "a.bb", 1, 2));
	CHECK(at(pos, "zzz", 1, 1));
	CHECK(at(pos, "[\"a.b\"]", 1, 1));
	jsonpos_free(pos);
	/* NULL index: the start of the text. */
	CHECK(at(NULL, "x", 1, 1));
}

/* Arrays in arrays, empty containers, the root being an array. */
static void
test_jsonpos_nested_arrays(void)
{
	const char *text =
	    "[[1, [2, 3]], [], {},\n"
	    " [[[\"deep\"]]], {\"k\": [[], [4]]}]";
	struct jsonpos *pos;

	REQUIRE((pos = index_text(text)) != NULL);
	CHECK(at(pos, "", 1, 1));
	CHECK(at(pos, "[0]", 1, 2));
	CHECK(at(pos, "[0][0]", 1, 3));
	CHECK(at(pos, "[0][1]", 1, 6));
	CHECK(at(pos, "[0][1][1]", 1, 10));
	CHECK(at(pos, "[1]", 1, 15));
	CHECK(at(pos, "[2]", 1, 19));
	CHECK(at(pos, "[3][0][0][0]", 2, 5));
	CHECK(at(pos, "[4].k", 2, 17));
	CHECK(at(pos, "[4].k[1][0]", 2, 28));
	jsonpos_free(pos);
}

/* Escapes inside strings neither end them nor shift positions. */
static void
test_jsonpos_escapes(void)
{
	const char *text =
	    "{\"s\": \"a\\\"b\\\\\", \"t\\n\": \"{\\\"x\\\": 1}\",\n"
	    " \"q\\\"k\": 1, \"u\\u00e9\": 2, \"after\": [\"]\", \"[\"]}";
	struct jsonpos *pos;

	REQUIRE((pos = index_text(text)) != NULL);
	CHECK(at(pos, "s", 1, 2));
	/* A key with a quote is quoted; one with a newline is not. */
	CHECK(at(pos, "t\n", 1, 17));
	CHECK(at(pos, "[\"q\\\"k\"]", 2, 2));
	CHECK(at(pos, "u\xc3\xa9", 2, 13));
	CHECK(at(pos, "after", 2, 27));
	CHECK(at(pos, "after[1]", 2, 42));
	/* "x" is inside a string value, not a member. */
	CHECK(at(pos, "t\n.x", 1, 17));
	jsonpos_free(pos);
}

/* \u escapes, surrogate pairs and raw UTF-8 in keys and before values. */
static void
test_jsonpos_unicode(void)
{
	const char *text =
	    "{\"\xc3\xa9t\xc3\xa9\": 1, \"\\ud83d\\ude00\": 2,\n"
	    " \"\xe2\x82\xac\": {\"\\u0041\\u00DF\": [0]}}";
	struct jsonpos *pos;

	REQUIRE((pos = index_text(text)) != NULL);
	/* "été" is 3 characters in 5 bytes: columns count characters. */
	CHECK(at(pos, "\xc3\xa9t\xc3\xa9", 1, 2));
	CHECK(at(pos, "\xf0\x9f\x98\x80", 1, 12));
	CHECK(at(pos, "\xe2\x82\xac", 2, 2));
	CHECK(at(pos, "\xe2\x82\xac.A\xc3\x9f", 2, 8));
	CHECK(at(pos, "\xe2\x82\xac.A\xc3\x9f[0]", 2, 25));
	jsonpos_free(pos);
}

/* Keys with dots, brackets, spaces, or nothing are written ["..."]. */
static void
test_jsonpos_quoted_keys(void)
{
	const char *text =
	    "{\"a.b\": {\"c d\": 1, \"x[0]\": [5, 6]},\n"
	    " \"\": {\"back\\\\slash\": 2}}";
	struct jsonpos *pos;

	REQUIRE((pos = index_text(text)) != NULL);
	CHECK(at(pos, "[\"a.b\"]", 1, 2));
	CHECK(at(pos, "[\"a.b\"][\"c d\"]", 1, 10));
	CHECK(at(pos, "[\"a.b\"][\"x[0]\"]", 1, 20));
	CHECK(at(pos, "[\"a.b\"][\"x[0]\"][1]", 1, 32));
	CHECK(at(pos, "[\"\"]", 2, 2));
	CHECK(at(pos, "[\"\"][\"back\\\\slash\"]", 2, 7));
	/* Unquoted, "a.b" would be a member b of a member a. */
	CHECK(at(pos, "a.b", 1, 1));
	/* The fallback handles quoted segments as well. */
	CHECK(at(pos, "[\"a.b\"][\"c d\"].more[3]", 1, 10));
	jsonpos_free(pos);
}

/* Plain keys join with a dot (none at the root), others are quoted. */
static void
test_jsonpos_path_key(void)
{
	static const struct {
		const char	*parent;
		const char	*key;
		const char	*want;
	} cases[] = {
		{ "", "name", "name" },
		{ "steps[2]", "with", "steps[2].with" },
		{ "a", "b-c_d9", "a.b-c_d9" },
		{ "", "", "[\"\"]" },
		{ "a", "", "a[\"\"]" },
		{ "", "a.b", "[\"a.b\"]" },
		{ "x", "a.b", "x[\"a.b\"]" },
		{ "x", "c d", "x[\"c d\"]" },
		{ "x", "[0]", "x[\"[0]\"]" },
		{ "x", "a]", "x[\"a]\"]" },
		{ "x", "say \"hi\"", "x[\"say \\\"hi\\\"\"]" },
		{ "x", "back\\slash", "x[\"back\\\\slash\"]" },
		{ "x", "\"", "x[\"\\\"\"]" },
		/* Only a space counts: a tab or non-ASCII is plain. */
		{ "x", "t\tab", "x.t\tab" },
		{ "x", "\xc3\xa9", "x.\xc3\xa9" },
		{ "[\"a.b\"]", "c", "[\"a.b\"].c" }
	};
	char *p;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		p = jsonpos_path_key(cases[i].parent, cases[i].key);
		CHECK_STR(p, cases[i].want);
		free(p);
	}
}

/* Elements are [N] after their array's path, also at the root. */
static void
test_jsonpos_path_index(void)
{
	char want[64], *p;

	p = jsonpos_path_index("", 0);
	CHECK_STR(p, "[0]");
	free(p);
	p = jsonpos_path_index("steps", 12);
	CHECK_STR(p, "steps[12]");
	free(p);
	snprintf(want, sizeof want, "x[\"a b\"][3][%zu]", (size_t)-1);
	p = jsonpos_path_index("x[\"a b\"][3]", (size_t)-1);
	CHECK_STR(p, want);
	free(p);
}

/* Appending to a buffer honours the length: a NUL in a key quotes it. */
static void
test_jsonpos_path_add_key(void)
{
	struct strbuf b = STRBUF_INIT;

	jsonpos_path_add_key(&b, "input", 5);
	CHECK_STR(b.s, "input");
	jsonpos_path_add_key(&b, "items.x", 5);
	CHECK_STR(b.s, "input.items");
	jsonpos_path_add_key(&b, "a.b", 3);
	CHECK_STR(b.s, "input.items[\"a.b\"]");
	jsonpos_path_add_key(&b, "", 0);
	CHECK_STR(b.s, "input.items[\"a.b\"][\"\"]");
	strbuf_cut(&b, 0);
	jsonpos_path_add_key(&b, "n\0l", 3);
	CHECK(b.len == 7);
	CHECK(b.s != NULL && memcmp(b.s, "[\"n\0l\"]", 8) == 0);
	strbuf_free(&b);
}

/* Paths built by jsonpos_path_* are the ones the index records. */
static void
test_jsonpos_path_roundtrip(void)
{
	const char *text =
	    "{\"a.b\": {\"\": [0, {\"q\\\"x\": 1}]},\n"
	    " \"plain\": {\"c d\": 2, \"e\\\\f\": 3}}";
	struct jsonpos *pos;
	char *p1, *p2, *p3, *p4;

	REQUIRE((pos = index_text(text)) != NULL);
	p1 = jsonpos_path_key("", "a.b");
	p2 = jsonpos_path_key(p1, "");
	p3 = jsonpos_path_index(p2, 1);
	p4 = jsonpos_path_key(p3, "q\"x");
	CHECK(at(pos, p1, 1, 2));
	CHECK(at(pos, p2, 1, 10));
	CHECK(at(pos, p3, 1, 18));
	CHECK(at(pos, p4, 1, 19));
	free(p1);
	free(p2);
	free(p3);
	free(p4);
	p1 = jsonpos_path_key("", "plain");
	p2 = jsonpos_path_key(p1, "c d");
	p3 = jsonpos_path_key(p1, "e\\f");
	CHECK(at(pos, p1, 2, 2));
	CHECK(at(pos, p2, 2, 12));
	CHECK(at(pos, p3, 2, 22));
	free(p1);
	free(p2);
	free(p3);
	jsonpos_free(pos);
}

/* Columns agree with the ones jansson reports for errors. */
static void
test_jsonpos_matches_jansson(void)
{
	/* Same text twice: once valid, once with the value broken. */
	const char *good =
	    "{\"\xc3\xa9\xc3\xa9\":\n\t[1, \"\xe2\x82\xac\", 2]}";
	const char *bad =
	    "{\"\xc3\xa9\xc3\xa9\":\n\t[1, \"\xe2\x82\xac\", x]}";
	json_error_t jerr;
	struct jsonpos *pos;
	int line, column;

	CHECK(json_loads(bad, 0, &jerr) == NULL);
	REQUIRE((pos = index_text(good)) != NULL);
	jsonpos_find(pos, "\xc3\xa9\xc3\xa9[2]", &line, &column);
	CHECK(line == jerr.line);
	CHECK(column == jerr.column);
	CHECK(line == 2 && column == 11);
	jsonpos_free(pos);
}

/* Repeated keys (text parsed without rejecting them) keep the first. */
static void
test_jsonpos_repeated_key(void)
{
	const char *text = "{\"a\": 1,\n\"a\": 2}";
	struct jsonpos *pos;

	pos = jsonpos_create(text, strlen(text));
	CHECK(at(pos, "a", 1, 2));
	jsonpos_free(pos);
}

/* Broken or truncated text is indexed as far as it goes, no further. */
static void
test_jsonpos_truncated(void)
{
	const char *text = "{\"a\": [1, 2], \"b\": {\"c\": \"unterminated";
	struct jsonpos *pos;

	pos = jsonpos_create(text, strlen(text));
	CHECK(at(pos, "a[1]", 1, 11));
	CHECK(at(pos, "b.c", 1, 21));
	jsonpos_free(pos);
	pos = jsonpos_create("", 0);
	CHECK(at(pos, "", 1, 1));
	jsonpos_free(pos);
}

int
main(void)
{
	TEST_RUN(test_jsonpos_basic);
	TEST_RUN(test_jsonpos_prefix);
	TEST_RUN(test_jsonpos_nested_arrays);
	TEST_RUN(test_jsonpos_escapes);
	TEST_RUN(test_jsonpos_unicode);
	TEST_RUN(test_jsonpos_quoted_keys);
	TEST_RUN(test_jsonpos_path_key);
	TEST_RUN(test_jsonpos_path_index);
	TEST_RUN(test_jsonpos_path_add_key);
	TEST_RUN(test_jsonpos_path_roundtrip);
	TEST_RUN(test_jsonpos_matches_jansson);
	TEST_RUN(test_jsonpos_repeated_key);
	TEST_RUN(test_jsonpos_truncated);
	TEST_DONE();
}
