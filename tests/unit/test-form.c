/*
 * Tests of the form-urlencoded decoder shared by json.decode and the
 * webhooks: escapes, repeated keys, empty values and what strict refuses.
 */
#include "config.h"

#include "form.h"
#include "test.h"

/* Decodes s and compares the compact JSON with want (NULL: refused). */
static void
check_form(const char *s, int strict, const char *want)
{
	json_t *v = form_decode(s, strlen(s), strict);
	char *got = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) :
	    NULL;

	if (want == NULL)
		CHECK(v == NULL);
	else
		CHECK_STR(got, want);
	free(got);
	json_decref(v);
}

/* Pairs, escapes, + as space, repeated keys as arrays. */
static void
test_form_decode(void)
{
	check_form("a=1&b=x+y", 0, "{\"a\":\"1\",\"b\":\"x y\"}");
	check_form("k=%41%62%2b", 0, "{\"k\":\"Ab+\"}");
	check_form("a=1&a=2&a=3", 0, "{\"a\":[\"1\",\"2\",\"3\"]}");
	check_form("flag&a=", 0, "{\"a\":\"\",\"flag\":\"\"}");
	check_form("a=1&&b=2&", 0, "{\"a\":\"1\",\"b\":\"2\"}");
	check_form("", 0, "{}");
	check_form("caf%C3%A9=%E2%82%AC", 0, "{\"caf\xc3\xa9\":\"\xe2\x82\xac\"}");
}

/* Broken escapes, NUL in a key and bad UTF-8 are refused. */
static void
test_form_refused(void)
{
	check_form("a=%4", 0, NULL);
	check_form("a=%zz", 0, NULL);
	check_form("a%00b=1", 0, NULL);
	check_form("a=%ff", 0, NULL);
}

/* strict wants something that looks like a form. */
static void
test_form_strict(void)
{
	check_form("a=1", 1, "{\"a\":\"1\"}");
	check_form("", 1, NULL);
	check_form("hello world", 1, NULL);
	check_form("flag", 1, NULL);
	check_form("=1", 1, NULL);
	check_form("flag", 0, "{\"flag\":\"\"}");
}

int
main(void)
{
	TEST_RUN(test_form_decode);
	TEST_RUN(test_form_refused);
	TEST_RUN(test_form_strict);
	TEST_DONE();
}
