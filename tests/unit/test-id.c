/*
 * Tests of ULID run ids: their format, their order within one process
 * (also many in one millisecond), the time they carry, the encoding of
 * known values worked out from the ULID specification, and what id_valid
 * refuses.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "id.h"
#include "orchestrator.h"
#include "test.h"

#define CROCKFORD "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/* A new id is 26 characters of Crockford's base32, upper case. */
static void
test_id_format(void)
{
	char id[ID_LEN + 1];
	size_t i;

	memset(id, 'x', sizeof id);
	id_new(id);
	CHECK(strlen(id) == ID_LEN);
	for (i = 0; i < ID_LEN; i++)
		CHECK(id[i] != '\0' && strchr(CROCKFORD, id[i]) != NULL);
	CHECK(id_valid(id));
	/* The first digit holds only 3 of the 48 time bits. */
	CHECK(id[0] >= '0' && id[0] <= '7');
}

/* 10000 ids in a row each sort after the one before. */
static void
test_id_increasing(void)
{
	char prev[ID_LEN + 1], cur[ID_LEN + 1];
	int i, bad = 0;

	id_new(prev);
	for (i = 0; i < 10000; i++) {
		id_new(cur);
		if (strcmp(prev, cur) >= 0 || !id_valid(cur)) {
			if (bad++ < 5)
				fprintf(stderr, "not increasing: %s then %s\n",
				    prev, cur);
		}
		memcpy(prev, cur, sizeof prev);
	}
	CHECK(bad == 0);
}

/* The time in an id is the wall clock when it was made. */
static void
test_id_time(void)
{
	char id[ID_LEN + 1];
	int64_t before, after, t;

	before = orc_now_ms();
	id_new(id);
	after = orc_now_ms();
	t = id_time_ms(id);
	/* id_new may reuse the last millisecond of an earlier id. */
	CHECK(t <= after);
	CHECK(t >= before - 1000);
	CHECK(t > after - 1000);
}

/* Values worked out by hand from the ULID specification. */
static void
test_id_encode_known(void)
{
	/* ulid(1469918176385) in the specification's README. */
	static const unsigned char readme[10] = {
		0xd6, 0x76, 0x4c, 0x61, 0xef, 0xb9, 0x93, 0x02, 0xbd, 0x5b
	};
	static const unsigned char zero[10];
	static const unsigned char ones[10] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
	};
	/* 1000 0000 ...: the first digit is 10000b = 16 = 'G'. */
	static const unsigned char top[10] = { 0x80 };
	/* The last 5 bits 00001, the 5 before 11111: "...Z1". */
	static const unsigned char low[10] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe1
	};
	char out[ID_LEN + 1];

	id_encode(1469918176385LL, readme, out);
	CHECK_STR(out, "01ARYZ6S41TSV4RRFFQ69G5FAV");
	CHECK(id_time_ms(out) == 1469918176385LL);

	id_encode(0, zero, out);
	CHECK_STR(out, "00000000000000000000000000");
	CHECK(id_time_ms(out) == 0);

	/* 2^48 - 1 ms: the largest time, "7" then nine "Z". */
	id_encode(281474976710655LL, ones, out);
	CHECK_STR(out, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
	CHECK(id_time_ms(out) == 281474976710655LL);

	/* 32 ms is "10" in base 32; 31 is "Z". */
	id_encode(32, top, out);
	CHECK_STR(out, "0000000010G000000000000000");
	id_encode(31, low, out);
	CHECK_STR(out, "000000000Z00000000000000Z1");
}

/* id_valid refuses anything that is not 26 base32 characters. */
static void
test_id_valid_rejects(void)
{
	char id[ID_LEN + 1], lower[ID_LEN + 1];
	size_t i;

	id_new(id);
	CHECK(id_valid(id));
	/* Case does not matter when reading. */
	for (i = 0; i <= ID_LEN; i++)
		lower[i] = (char)tolower((unsigned char)id[i]);
	CHECK(id_valid(lower));
	CHECK(id_time_ms(lower) == id_time_ms(id));

	CHECK(!id_valid(NULL));
	CHECK(!id_valid(""));
	CHECK(!id_valid("01ARYZ6S41TSV4RRFFQ69G5FA"));	/* 25 */
	CHECK(!id_valid("01ARYZ6S41TSV4RRFFQ69G5FAVV"));	/* 27 */
	CHECK(!id_valid("01ARYZ6S41TSV4RRFFQ69G5FAI"));	/* I */
	CHECK(!id_valid("01ARYZ6S41TSV4RRFFQ69G5FAL"));	/* L */
	CHECK(!id_valid("01ARYZ6S41TSV4RRFFQ69G5FAO"));	/* O */
	CHECK(!id_valid("01ARYZ6S41TSV4RRFFQ69G5FAU"));	/* U */
	CHECK(!id_valid("01ARYZ6S41TSV4RRFFQ69G5FA-"));
	CHECK(!id_valid("01ARYZ6S41TSV4RRFFQ69G5FA "));
	/* Above 2^48 - 1 ms: the first digit cannot exceed 7. */
	CHECK(!id_valid("80000000000000000000000000"));
	CHECK(id_valid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
	CHECK(id_time_ms("80000000000000000000000000") == -1);
	CHECK(id_time_ms("not an id") == -1);
	CHECK(id_time_ms(NULL) == -1);
}

/* id_bytes gives back the 48 bits of time and 80 random bits. */
static void
test_id_bytes(void)
{
	static const unsigned char rnd[10] = {
		0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xff
	};
	unsigned char b[16];
	char id[ID_LEN + 1], lower[ID_LEN + 1];
	int64_t ms = 1469918176385LL;
	size_t i;

	id_encode(ms, rnd, id);
	REQUIRE(id_bytes(id, b) == 0);
	for (i = 0; i < 6; i++)
		CHECK(b[i] == (unsigned char)(ms >> (8 * (5 - i))));
	CHECK(memcmp(b + 6, rnd, sizeof rnd) == 0);
	for (i = 0; i <= ID_LEN; i++)
		lower[i] = (char)tolower((unsigned char)id[i]);
	memset(b, 0, sizeof b);
	CHECK(id_bytes(lower, b) == 0);
	CHECK(memcmp(b + 6, rnd, sizeof rnd) == 0);
	CHECK(id_bytes("not an id", b) == -1);
	CHECK(id_bytes("80000000000000000000000000", b) == -1);
}

int
main(void)
{
	TEST_RUN(test_id_format);
	TEST_RUN(test_id_increasing);
	TEST_RUN(test_id_time);
	TEST_RUN(test_id_encode_known);
	TEST_RUN(test_id_valid_rejects);
	TEST_RUN(test_id_bytes);
	TEST_DONE();
}
