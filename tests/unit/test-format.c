/*
 * Tests of the formatting shared by the CLI and the dashboard: durations at
 * each unit's boundaries, UTC times, and tables printed into memory
 * (open_memstream) to check their alignment with UTF-8 cells, truncation
 * with "...", missing cells as "-" and control characters as '?'.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "orchestrator.h"
#include "test.h"

/* Checks one duration; reports the input on a mismatch. */
static void
check_duration(int64_t ms, const char *want)
{
	char buf[32], *got;

	memset(buf, 'x', sizeof buf);
	got = format_duration(ms, buf, sizeof buf);
	if (got != buf || strcmp(buf, want) != 0) {
		fprintf(stderr, "format_duration(%lld): \"%s\" != \"%s\"\n",
		    (long long)ms, buf, want);
		test_failed_checks++;
	}
}

/* Each unit at and around its boundaries. */
static void
test_format_duration_boundaries(void)
{
	check_duration(-1, "-");
	check_duration(-86400000, "-");
	check_duration(0, "0ms");
	check_duration(1, "1ms");
	check_duration(850, "850ms");
	check_duration(999, "999ms");
	check_duration(1000, "1.0s");
	check_duration(1234, "1.2s");
	/* Tenths are cut, not rounded: 9.99 s must not read "10.0s". */
	check_duration(1999, "1.9s");
	check_duration(9999, "9.9s");
	check_duration(10000, "10s");
	check_duration(42000, "42s");
	check_duration(59999, "59s");
	check_duration(60000, "1m00s");
	check_duration(184000, "3m04s");
	check_duration(3599999, "59m59s");
	check_duration(3600000, "1h00m");
	check_duration(7500000, "2h05m");
	check_duration(86399999, "23h59m");
	check_duration(86400000, "1d00h");
	check_duration(273600000, "3d04h");
	check_duration(100LL * 86400000 + 23 * 3600000, "100d23h");
}

/* A short buffer still gets a NUL-terminated prefix. */
static void
test_format_duration_small_buffer(void)
{
	char buf[4];

	format_duration(3599999, buf, sizeof buf);
	CHECK_STR(buf, "59m");
}

/* Times are UTC with milliseconds; 0 and below are "-". */
static void
test_format_time(void)
{
	char buf[64];

	CHECK_STR(format_time(0, buf, sizeof buf), "-");
	CHECK_STR(format_time(-1000, buf, sizeof buf), "-");
	CHECK_STR(format_time(1, buf, sizeof buf),
	    "1970-01-01T00:00:00.001Z");
	CHECK_STR(format_time(1764338585123LL, buf, sizeof buf),
	    "2025-11-28T14:03:05.123Z");
	CHECK_STR(format_time(1795874585000LL, buf, sizeof buf),
	    "2026-11-28T14:03:05.000Z");
	/* A leap day, one millisecond before midnight. */
	CHECK_STR(format_time(951868799999LL, buf, sizeof buf),
	    "2000-02-29T23:59:59.999Z");
}

/* Prints a table into a new string. */
static char *
print_table(const struct format_table *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&text, &len)) == NULL)
		return NULL;
	format_table_print(t, f);
	fclose(f);
	return text;
}

/* Columns line up by characters, not bytes; the last is not padded. */
static void
test_format_table_utf8(void)
{
	static const char *const headers[] = { "ID", "STATE", "AGE" };
	static const char *const r1[] = { "a", "running", "1s" };
	static const char *const r2[] = { "b\xc3\xa9", "x", "2m00s" };
	static const char *const r3[] = { "\xe2\x82\xac\xe2\x82\xac\xe2"
	    "\x82\xac", "\xc3\xa9t\xc3\xa9", "3h" };
	struct format_table *t;
	char *text;

	t = format_table_create(3, headers, NULL);
	format_table_add(t, r1);
	format_table_add(t, r2);
	format_table_add(t, r3);
	text = print_table(t);
	/* Widths: ID 3 (the euros), STATE 7 (running); two spaces apart. */
	CHECK_STR(text,
	    "ID   STATE    AGE\n"
	    "a    running  1s\n"
	    "b\xc3\xa9   x        2m00s\n"
	    "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac  "
	    "\xc3\xa9t\xc3\xa9      3h\n");
	free(text);
	format_table_free(t);
}

/* A header-only table prints one line. */
static void
test_format_table_empty(void)
{
	static const char *const headers[] = { "WORKFLOW", "RUNS" };
	struct format_table *t;
	char *text;

	t = format_table_create(2, headers, NULL);
	text = print_table(t);
	CHECK_STR(text, "WORKFLOW  RUNS\n");
	free(text);
	format_table_free(t);
	format_table_free(NULL);
}

/* Cells past max_width end in "..." and fit it exactly. */
static void
test_format_table_truncate(void)
{
	static const char *const headers[] = { "NAME", "ERROR" };
	static const int widths[] = { 0, 10 };
	static const char *const r1[] = { "one", "0123456789" };
	static const char *const r2[] = { "two", "step lookup timed out" };
	static const char *const r3[] = { "three", "short" };
	struct format_table *t;
	char *text;

	t = format_table_create(2, headers, widths);
	format_table_add(t, r1);
	format_table_add(t, r2);
	format_table_add(t, r3);
	text = print_table(t);
	CHECK_STR(text,
	    "NAME   ERROR\n"
	    "one    0123456789\n"
	    "two    step lo...\n"
	    "three  short\n");
	free(text);
	format_table_free(t);
}

/* A wide unlimited column stays whole. */
static void
test_format_table_no_limit(void)
{
	static const char *const headers[] = { "A", "B" };
	static const int widths[] = { 0, 0 };
	char cell[300];
	const char *row[2];
	struct format_table *t;
	char *text, *want;

	memset(cell, 'w', sizeof cell - 1);
	cell[sizeof cell - 1] = '\0';
	row[0] = cell;
	row[1] = "end";
	t = format_table_create(2, headers, widths);
	format_table_add(t, row);
	text = print_table(t);
	want = xasprintf("A%*sB\n%s  end\n", (int)strlen(cell) + 1, "", cell);
	CHECK_STR(text, want);
	free(want);
	free(text);
	format_table_free(t);
}

/* NULL and empty cells print as "-"; control characters as '?'. */
static void
test_format_table_missing_and_control(void)
{
	static const char *const headers[] = { "ID", "STEP", "ERROR" };
	static const char *const r1[] = { "r1", NULL, "" };
	static const char *const r2[] = { "r2", "a\tb", "line1\nline2\r\x1b" };
	struct format_table *t;
	char *text;

	t = format_table_create(3, headers, NULL);
	format_table_add(t, r1);
	format_table_add(t, r2);
	text = print_table(t);
	CHECK_STR(text,
	    "ID  STEP  ERROR\n"
	    "r1  -     -\n"
	    "r2  a?b   line1?line2??\n");
	CHECK(text != NULL && strchr(text, '\t') == NULL &&
	    strchr(text, '\r') == NULL && strchr(text, '\x1b') == NULL);
	free(text);
	format_table_free(t);
}

/* Cells are copied: changing the caller's strings changes nothing. */
static void
test_format_table_copies(void)
{
	static const char *const headers[] = { "K", "V" };
	char k[8] = "key", v[8] = "value";
	const char *row[2] = { k, v };
	struct format_table *t;
	char *text;

	t = format_table_create(2, headers, NULL);
	format_table_add(t, row);
	strcpy(k, "XXX");
	strcpy(v, "YYYYY");
	text = print_table(t);
	CHECK_STR(text, "K    V\nkey  value\n");
	free(text);
	format_table_free(t);
}

/* RFC 3339 times: offsets, fractions, and what is not one. */
static void
test_format_parse_time(void)
{
	int64_t ms = 0;

	CHECK(format_parse_time("2030-01-01T00:00:00Z", &ms) == 0);
	CHECK(ms == 1893456000000LL);
	CHECK(format_parse_time("2030-01-01 01:30:00.25+01:30", &ms) == 0);
	CHECK(ms == 1893456000250LL);
	CHECK(format_parse_time("2029-12-31T19:00:00-05:00", &ms) == 0);
	CHECK(ms == 1893456000000LL);
	CHECK(format_parse_time("2030-02-30T00:00:00Z", &ms) == -1);
	CHECK(format_parse_time("2030-01-01T00:00:00", &ms) == -1);
	CHECK(format_parse_time("2030-01-01T24:00:00Z", &ms) == -1);
	CHECK(format_parse_time("2030-01-01T00:00:00+0100", &ms) == -1);
	CHECK(format_parse_time("2030-01-01T00:00:00.Z", &ms) == -1);
	CHECK(format_parse_time("tomorrow", &ms) == -1);
	CHECK(format_parse_time("", &ms) == -1);
}

int
main(void)
{
	TEST_RUN(test_format_duration_boundaries);
	TEST_RUN(test_format_duration_small_buffer);
	TEST_RUN(test_format_time);
	TEST_RUN(test_format_table_utf8);
	TEST_RUN(test_format_table_empty);
	TEST_RUN(test_format_table_truncate);
	TEST_RUN(test_format_table_no_limit);
	TEST_RUN(test_format_table_missing_and_control);
	TEST_RUN(test_format_table_copies);
	TEST_RUN(test_format_parse_time);
	TEST_DONE();
}
