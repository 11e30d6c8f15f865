/*
 * Tests of diagnostics: each way a problem is written (with a file, line
 * and column, with a line only, with a file only, without a file), the
 * order they are kept in, their count, and NULL lists.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "test.h"

/* file:line:column: message when all three are known. */
static void
test_diag_full_position(void)
{
	struct diag *d = diag_create();

	diag_add(d, "wf/a.json", 12, 7, "unknown key \"%s\"", "stpes");
	REQUIRE(diag_count(d) == 1);
	CHECK_STR(diag_at(d, 0), "wf/a.json:12:7: unknown key \"stpes\"");
	diag_free(d);
}

/* A missing column (0) leaves it out; so does a missing line. */
static void
test_diag_partial_position(void)
{
	struct diag *d = diag_create();

	diag_add(d, "a.json", 3, 0, "line only");
	diag_add(d, "a.json", 0, 0, "file only");
	/* A column without a line says nothing useful: both go. */
	diag_add(d, "a.json", 0, 9, "column only");
	REQUIRE(diag_count(d) == 3);
	CHECK_STR(diag_at(d, 0), "a.json:3: line only");
	CHECK_STR(diag_at(d, 1), "a.json: file only");
	CHECK_STR(diag_at(d, 2), "a.json: column only");
	diag_free(d);
}

/* Without a file the message stands alone, whatever line and column. */
static void
test_diag_no_file(void)
{
	struct diag *d = diag_create();

	diag_add(d, NULL, 0, 0, "no workflows in %s", "./workflows");
	diag_add(d, NULL, 4, 2, "%d%%", 50);
	REQUIRE(diag_count(d) == 2);
	CHECK_STR(diag_at(d, 0), "no workflows in ./workflows");
	CHECK_STR(diag_at(d, 1), "50%");
	diag_free(d);
}

/* Many problems stay in the order they were added, past any growth. */
static void
test_diag_order_and_count(void)
{
	struct diag *d = diag_create();
	char want[64];
	size_t i;

	CHECK(diag_count(d) == 0);
	CHECK(diag_at(d, 0) == NULL);
	for (i = 0; i < 100; i++)
		diag_add(d, "f.json", (int)i + 1, 1, "problem %zu", i);
	CHECK(diag_count(d) == 100);
	for (i = 0; i < 100; i++) {
		snprintf(want, sizeof want, "f.json:%zu:1: problem %zu",
		    i + 1, i);
		CHECK_STR(diag_at(d, i), want);
	}
	CHECK(diag_at(d, 100) == NULL);
	CHECK(diag_at(d, (size_t)-1) == NULL);
	diag_free(d);
}

/* A long message is kept whole, not cut to a buffer. */
static void
test_diag_long_message(void)
{
	struct diag *d = diag_create();
	char *big = malloc(5001);

	REQUIRE(big != NULL);
	memset(big, 'm', 5000);
	big[5000] = '\0';
	diag_add(d, "x", 1, 1, "%s", big);
	REQUIRE(diag_count(d) == 1);
	CHECK(strlen(diag_at(d, 0)) == strlen("x:1:1: ") + 5000);
	free(big);
	diag_free(d);
}

/* NULL lists: adding does nothing, count is 0, free is a no-op. */
static void
test_diag_null(void)
{
	diag_add(NULL, "f", 1, 1, "ignored");
	CHECK(diag_count(NULL) == 0);
	diag_free(NULL);
}

int
main(void)
{
	TEST_RUN(test_diag_full_position);
	TEST_RUN(test_diag_partial_position);
	TEST_RUN(test_diag_no_file);
	TEST_RUN(test_diag_order_and_count);
	TEST_RUN(test_diag_long_message);
	TEST_RUN(test_diag_null);
	TEST_DONE();
}
