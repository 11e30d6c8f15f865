/*
 * Tests for strbuf: appending in small and large pieces past every
 * capacity, bytes that include a NUL, cutting back, taking the text out
 * (also of an empty buffer), printf-style appends longer than the buffer
 * and freeing. The path helpers built on it are tested in test-jsonpos.c.
 */
#include "config.h"

#include "strbuf.h"
#include "test.h"

/* Many small appends and one big one keep every byte and the NUL. */
static void
test_strbuf_growth(void)
{
	struct strbuf b = STRBUF_INIT;
	char *big;
	size_t i;

	CHECK(b.s == NULL && b.len == 0 && b.cap == 0);
	for (i = 0; i < 10000; i++)
		strbuf_addc(&b, (char)('a' + i % 26));
	REQUIRE(b.s != NULL);
	CHECK(b.len == 10000);
	CHECK(b.cap > b.len);
	CHECK(strlen(b.s) == 10000);
	for (i = 0; i < 10000; i++) {
		if (b.s[i] != (char)('a' + i % 26)) {
			CHECK(b.s[i] == (char)('a' + i % 26));
			break;
		}
	}
	big = xmalloc(100001);
	memset(big, 'z', 100000);
	big[100000] = '\0';
	strbuf_puts(&b, big);
	CHECK(b.len == 110000);
	CHECK(b.cap > b.len);
	CHECK(b.s[b.len] == '\0');
	CHECK(b.s[9999] == (char)('a' + 9999 % 26));
	CHECK(b.s[10000] == 'z' && b.s[109999] == 'z');
	free(big);
	strbuf_free(&b);
}

/* strbuf_add takes a length: NUL bytes are kept, zero bytes allocate. */
static void
test_strbuf_add(void)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_add(&b, "", 0);
	REQUIRE(b.s != NULL);
	CHECK_STR(b.s, "");
	CHECK(b.len == 0);
	strbuf_add(&b, "ab\0cd", 5);
	strbuf_add(&b, "xyz", 2);
	CHECK(b.len == 7);
	CHECK(memcmp(b.s, "ab\0cdxy", 8) == 0);
	strbuf_free(&b);
	CHECK(b.s == NULL && b.len == 0 && b.cap == 0);
}

/* Cutting shortens in place; a length not below the current one is a
 * no-op, and appends go on from the cut. */
static void
test_strbuf_cut(void)
{
	struct strbuf b = STRBUF_INIT;
	size_t mark;

	strbuf_cut(&b, 0);
	CHECK(b.s == NULL && b.len == 0);
	strbuf_puts(&b, "steps");
	mark = b.len;
	strbuf_puts(&b, "[12].with");
	CHECK_STR(b.s, "steps[12].with");
	strbuf_cut(&b, mark);
	CHECK_STR(b.s, "steps");
	CHECK(b.len == 5);
	strbuf_cut(&b, 5);
	strbuf_cut(&b, 99);
	CHECK_STR(b.s, "steps");
	CHECK(b.len == 5);
	strbuf_puts(&b, "[3]");
	CHECK_STR(b.s, "steps[3]");
	strbuf_cut(&b, 0);
	CHECK_STR(b.s, "");
	CHECK(b.len == 0);
	strbuf_free(&b);
}

/* Taking hands over the text and leaves an empty, reusable buffer. */
static void
test_strbuf_take(void)
{
	struct strbuf b = STRBUF_INIT;
	char *s;

	s = strbuf_take(&b);
	REQUIRE(s != NULL);
	CHECK_STR(s, "");
	free(s);
	strbuf_puts(&b, "hello");
	strbuf_addc(&b, ' ');
	strbuf_puts(&b, "world");
	s = strbuf_take(&b);
	CHECK_STR(s, "hello world");
	CHECK(b.s == NULL && b.len == 0 && b.cap == 0);
	strbuf_puts(&b, "again");
	CHECK_STR(b.s, "again");
	CHECK(b.s != s);
	free(s);
	/* Emptied by a cut, it still gives "" and not NULL. */
	strbuf_cut(&b, 0);
	s = strbuf_take(&b);
	CHECK_STR(s, "");
	free(s);
	strbuf_free(&b);
}

/* printf appends, and output longer than the capacity is not cut. */
static void
test_strbuf_printf(void)
{
	struct strbuf b = STRBUF_INIT;
	char long_arg[1000];
	char *s;

	strbuf_printf(&b, "%s", "");
	REQUIRE(b.s != NULL);
	CHECK_STR(b.s, "");
	strbuf_puts(&b, "steps");
	strbuf_printf(&b, "[%zu]", (size_t)42);
	strbuf_printf(&b, ".%s=%d%c", "n", -7, '!');
	CHECK_STR(b.s, "steps[42].n=-7!");
	CHECK(b.len == strlen("steps[42].n=-7!"));
	memset(long_arg, 'q', sizeof long_arg - 1);
	long_arg[sizeof long_arg - 1] = '\0';
	strbuf_printf(&b, "<%s>", long_arg);
	CHECK(b.len == 15 + 1 + 999 + 1);
	CHECK(b.s[15] == '<' && b.s[16] == 'q' && b.s[1014] == 'q');
	CHECK(b.s[1015] == '>' && b.s[1016] == '\0');
	s = strbuf_take(&b);
	CHECK(strlen(s) == 1016);
	free(s);
}

/* Freeing empties the buffer; freeing NULL or twice does nothing. */
static void
test_strbuf_free(void)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_free(NULL);
	strbuf_free(&b);
	strbuf_puts(&b, "x");
	strbuf_free(&b);
	CHECK(b.s == NULL && b.len == 0 && b.cap == 0);
	strbuf_free(&b);
	strbuf_puts(&b, "y");
	CHECK_STR(b.s, "y");
	strbuf_free(&b);
}

int
main(void)
{
	TEST_RUN(test_strbuf_growth);
	TEST_RUN(test_strbuf_add);
	TEST_RUN(test_strbuf_cut);
	TEST_RUN(test_strbuf_take);
	TEST_RUN(test_strbuf_printf);
	TEST_RUN(test_strbuf_free);
	TEST_DONE();
}
