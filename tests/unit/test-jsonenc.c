/*
 * Unit tests for jsonenc_compact(): the same bytes as json_dumps(v,
 * JSON_COMPACT | JSON_ENCODE_ANY) for hand-picked values (escapes, every
 * control byte, UTF-8 of each length, NUL inside strings and keys, the
 * integer limits, reals, empty and deep containers) and for thousands of
 * random trees; NULL where json_dumps fails (text that is not UTF-8).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonenc.h"
#include "orchestrator.h"
#include "test.h"

/* Whether both encoders agree on v (and the length is right). */
static int
same(const json_t *v)
{
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	size_t len = 0;
	char *got = jsonenc_compact(v, &len);
	int ok;

	if (want == NULL || got == NULL)
		ok = want == NULL && got == NULL;
	else
		ok = strcmp(want, got) == 0 && len == strlen(got);
	if (!ok)
		fprintf(stderr, "json_dumps: %s\njsonenc:    %s\n",
		    want != NULL ? want : "(null)", got != NULL ? got : "(null)");
	free(want);
	free(got);
	return ok;
}

static void
test_jsonenc_fixed(void)
{
	const char *texts[] = {
		"null", "true", "false", "0", "-1", "9223372036854775807",
		"-9223372036854775808", "0.5", "-0.0", "1e300", "1.5e-300",
		"100000000000000000000.0", "0.1", "3.0", "\"\"", "[]", "{}",
		"\"a\\\"b\\\\c/d\"", "\"\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"",
		"\"caf\\u00e9 \\u20ac \\ud83d\\ude00 \\u2028\"",
		"{\"key\":\"v\\u0000al\",\"\":[[],{},[null]]}",
		"[1,[2,[3,[4,{\"a\":{\"b\":[true,false]}}]]]]",
		"{\"order\":\"A-1\",\"items\":[{\"sku\":\"X\",\"qty\":2,"
		    "\"price\":12.5}],\"note\":\"line1\\nline2\"}",
	};
	char raw[40];
	json_t *v;
	size_t i;

	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		v = json_loads(texts[i], JSON_DECODE_ANY | JSON_ALLOW_NUL,
		    NULL);
		REQUIRE(v != NULL);
		CHECK(same(v));
		json_decref(v);
	}
	/* Every byte below 0x80 once, in a string and in a key. */
	for (i = 0; i < 0x80; i++) {
		raw[0] = 'x';
		raw[1] = (char)i;
		raw[2] = 'y';
		v = json_pack("{s#:s#}", raw, (int)3, raw, (int)3);
		REQUIRE(v != NULL);
		CHECK(same(v));
		json_decref(v);
	}
	/* Not UTF-8: both refuse. */
	v = json_stringn_nocheck("a\xc3(b", 5);
	CHECK(jsonenc_compact(v, NULL) == NULL);
	CHECK(same(v));
	json_decref(v);
	v = json_stringn_nocheck("\xed\xa0\x80", 3);	/* a surrogate */
	CHECK(same(v));
	json_decref(v);
	v = json_stringn_nocheck("\xe0\x80\xaf", 3);	/* overlong */
	CHECK(same(v));
	json_decref(v);
	v = json_stringn_nocheck("\xf4\x90\x80\x80", 4);	/* past U+10FFFF */
	CHECK(same(v));
	json_decref(v);
	CHECK(jsonenc_compact(NULL, NULL) == NULL);
}

/* Nested deeper than jsonenc itself goes: jansson takes over, the same. */
static void
test_jsonenc_deep(void)
{
	json_t *v = json_string("bottom"), *o;
	int i;

	for (i = 0; i < 1000; i++) {
		o = i % 2 ? json_array() : json_object();
		if (i % 2)
			json_array_append_new(o, v);
		else
			json_object_set_new(o, "k", v);
		v = o;
	}
	CHECK(same(v));
	json_decref(v);
}

/* A random string: ASCII, controls, and UTF-8 of 2, 3 and 4 bytes. */
static json_t *
random_string(void)
{
	static const char *const pieces[] = {
		"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
		"\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "0",
		"\xe2\x80\xa8",
	};
	char buf[128];
	size_t len = 0, n = (size_t)(rand() % 12), i;
	const char *p;

	for (i = 0; i < n; i++) {
		p = pieces[rand() % (int)(sizeof pieces / sizeof pieces[0])];
		memcpy(buf + len, p, strlen(p));
		len += strlen(p);
	}
	if (rand() % 20 == 0)
		buf[len++] = '\0';
	return json_stringn(buf, len);
}

static json_t *
random_value(int depth)
{
	json_t *v;
	int i, n, kind = rand() % (depth > 4 ? 6 : 8);

	switch (kind) {
	case 0:	return json_null();
	case 1:	return rand() % 2 ? json_true() : json_false();
	case 2:	return json_integer((json_int_t)rand() * (rand() % 2 ? 1 :
		    -1) * (rand() % 3 == 0 ? 4294967296LL : 1));
	case 3:	return json_real((double)rand() / (rand() % 1000 + 1) *
		    (rand() % 2 ? 1e-7 : 1e9));
	case 4:
	case 5:	return random_string();
	case 6:
		v = json_array();
		for (i = 0, n = rand() % 5; i < n; i++)
			json_array_append_new(v, random_value(depth + 1));
		return v;
	default:
		v = json_object();
		for (i = 0, n = rand() % 5; i < n; i++) {
			json_t *k = random_string();

			json_object_setn_new(v, json_string_value(k),
			    json_string_length(k), random_value(depth + 1));
			json_decref(k);
		}
		return v;
	}
}

static void
test_jsonenc_random(void)
{
	json_t *v;
	int i, bad = 0;

	srand(20261129);
	for (i = 0; i < 5000 && bad < 5; i++) {
		v = random_value(0);
		if (!same(v))
			bad++;
		json_decref(v);
	}
	CHECK(bad == 0);
}

int
main(void)
{
	TEST_RUN(test_jsonenc_fixed);
	TEST_RUN(test_jsonenc_deep);
	TEST_RUN(test_jsonenc_random);
	TEST_DONE();
}
