/*
 * Tests of the shared basics in util.c: the error record (also with a NULL
 * record), formatted allocation, whole-file reading (a missing file, an
 * empty file, binary data with NUL bytes, a file larger than the first
 * buffer), random numbers, SHA-256 against published vectors and thread
 * names.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orchestrator.h"
#include "test.h"

/* Writes len bytes to path; 0 on success. */
static int
write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f;
	size_t n;

	if ((f = fopen(path, "wb")) == NULL)
		return -1;
	n = fwrite(data, 1, len, f);
	if (fclose(f) != 0 || n != len)
		return -1;
	return 0;
}

/* Setting fills code and message and resets retryable; clear empties. */
static void
test_util_error_set_clear(void)
{
	struct orc_error err;

	memset(&err, 0x55, sizeof err);
	err.retryable = 1;
	orc_error_set(&err, ORC_ENOTFOUND, "workflow \"%s\" not found (%d)",
	    "order-total", 42);
	CHECK(err.code == ORC_ENOTFOUND);
	CHECK(err.retryable == 0);
	CHECK_STR(err.message, "workflow \"order-total\" not found (42)");

	orc_error_clear(&err);
	CHECK(err.code == ORC_OK);
	CHECK(err.retryable == 0);
	CHECK_STR(err.message, "");
}

/* A message longer than the record is cut, still NUL-terminated. */
static void
test_util_error_long_message(void)
{
	struct orc_error err;
	char big[2000];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	orc_error_set(&err, ORC_EINVAL, "%s", big);
	CHECK(err.code == ORC_EINVAL);
	CHECK(strlen(err.message) == sizeof err.message - 1);
	CHECK(err.message[0] == 'x');
}

/* Every function taking an error record accepts NULL. */
static void
test_util_error_null(void)
{
	orc_error_set(NULL, ORC_EIO, "ignored %d", 1);
	orc_error_clear(NULL);
	/* Reaching here without a crash is the test; a read must too. */
	CHECK(orc_read_file("does-not-exist", NULL, NULL) == NULL);
}

/* xasprintf formats like printf into a new string. */
static void
test_util_xasprintf(void)
{
	char *s;

	s = xasprintf("%s:%d:%05.1f:%c%%", "abc", -12, 3.14159, 'z');
	CHECK_STR(s, "abc:-12:003.1:z%");
	free(s);
	s = xasprintf("%s", "");
	CHECK_STR(s, "");
	free(s);
	s = xstrndup("abcdef", 3);
	CHECK_STR(s, "abc");
	free(s);
}

/* A missing file names the path and the reason. */
static void
test_util_read_missing(void)
{
	struct orc_error err;
	size_t len = 12345;
	char *buf;

	orc_error_clear(&err);
	buf = orc_read_file("no/such/file.json", &len, &err);
	CHECK(buf == NULL);
	CHECK(err.code == ORC_EIO);
	CHECK_CONTAINS(err.message, "no/such/file.json");
	CHECK_CONTAINS(err.message, strerror(ENOENT));
	CHECK(len == 12345);
}

/* Binary data with NUL bytes comes back whole, with its length. */
static void
test_util_read_nul_bytes(void)
{
	static const char data[] = { 'a', '\0', 'b', '\0', '\0', 'c', '\n' };
	struct orc_error err;
	size_t len = 0;
	char *buf;

	REQUIRE(write_bytes("bin", data, sizeof data) == 0);
	buf = orc_read_file("bin", &len, &err);
	REQUIRE(buf != NULL);
	CHECK(len == sizeof data);
	CHECK(memcmp(buf, data, sizeof data) == 0);
	CHECK(buf[len] == '\0');
	free(buf);
}

/* An empty file is an empty string, not an error. */
static void
test_util_read_empty(void)
{
	size_t len = 99;
	char *buf;

	REQUIRE(write_bytes("empty", "", 0) == 0);
	buf = orc_read_file("empty", &len, NULL);
	REQUIRE(buf != NULL);
	CHECK(len == 0);
	CHECK(buf[0] == '\0');
	free(buf);
}

/* A file bigger than the first buffer is read whole. */
static void
test_util_read_large(void)
{
	size_t n = 100000, i, len = 0;
	char *data = xmalloc(n), *buf;

	for (i = 0; i < n; i++)
		data[i] = (char)(i * 7 + i / 256);
	REQUIRE(write_bytes("large", data, n) == 0);
	buf = orc_read_file("large", &len, NULL);
	CHECK(buf != NULL);
	if (buf != NULL) {
		CHECK(len == n);
		CHECK(memcmp(buf, data, n) == 0);
		CHECK(buf[n] == '\0');
	}
	free(buf);
	free(data);
}

/* A folder is not a file: it fails instead of returning garbage. */
static void
test_util_read_folder(void)
{
	struct orc_error err;
	char *buf;

	orc_error_clear(&err);
	buf = orc_read_file(".", NULL, &err);
	CHECK(buf == NULL);
	CHECK(err.code == ORC_EIO);
	CHECK(err.message[0] != '\0');
	free(buf);
}

/* orc_random stays in range, covers it and is not constant. */
static void
test_util_random(void)
{
	int seen[10] = { 0 }, i, distinct = 0;
	uint64_t r, first, big;
	int varied = 0;

	CHECK(orc_random(0) == 0);
	for (i = 0; i < 200; i++)
		CHECK(orc_random(1) == 0);
	for (i = 0; i < 2000; i++) {
		r = orc_random(10);
		CHECK(r < 10);
		if (r < 10)
			seen[r]++;
	}
	/* 2000 draws miss a value with probability ~10 * 0.9^2000. */
	for (i = 0; i < 10; i++)
		distinct += seen[i] > 0;
	CHECK(distinct == 10);
	first = orc_random(UINT64_MAX);
	for (i = 0; i < 20; i++) {
		big = orc_random(UINT64_MAX);
		CHECK(big < UINT64_MAX);
		varied |= big != first;
	}
	CHECK(varied);
}

/* SHA-256 against the FIPS 180-2 examples. */
static void
test_util_sha256(void)
{
	char out[65], *million;

	orc_sha256_hex("", 0, out);
	CHECK_STR(out, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	orc_sha256_hex("abc", 3, out);
	CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	orc_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnop"
	    "nopq", 56, out);
	CHECK_STR(out, "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1");
	million = xmalloc(1000000);
	memset(million, 'a', 1000000);
	orc_sha256_hex(million, 1000000, out);
	CHECK_STR(out, "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0");
	free(million);
	CHECK(strlen(out) == 64);
}

/* The clocks: wall clock near time(), monotonic never going back. */
static void
test_util_clocks(void)
{
	int64_t now = orc_now_ms(), a, b;
	time_t t = time(NULL);

	CHECK(now / 1000 >= (int64_t)t - 1 && now / 1000 <= (int64_t)t + 1);
	a = orc_mono_ms();
	b = orc_mono_ms();
	CHECK(b >= a);
}

/* A thread's name as top -H shows it; a name too long changes nothing. */
static void
test_util_thread_name(void)
{
	char name[32];

	orc_thread_name("orc-test");
	CHECK(pthread_getname_np(pthread_self(), name, sizeof name) == 0);
	CHECK(strcmp(name, "orc-test") == 0);
	orc_thread_name("a-name-longer-than-fifteen");
	CHECK(pthread_getname_np(pthread_self(), name, sizeof name) == 0);
	CHECK(strcmp(name, "orc-test") == 0);
}

/* orc_url_redact keeps scheme, host, port and path, and nothing that
 * may hold a token: userinfo, query, fragment. */
static void
test_util_url_redact(void)
{
	static const char *const cases[][2] = {
		{ "http://h/p", "http://h/p" },
		{ "https://h:8443/a/b?token=s3cret&x=1",
		    "https://h:8443/a/b?..." },
		{ "http://u:p@ss@h/p?t=1#f", "http://h/p?..." },
		{ "http://h/p#frag", "http://h/p" },
		{ "http://h?q=1", "http://h?..." },
		{ "http://h/a@b?c", "http://h/a@b?..." },
		{ "not a url?key=s", "not a url?..." },
		{ "", "" },
	};
	size_t i;
	char *got;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		got = orc_url_redact(cases[i][0]);
		CHECK_STR(got, cases[i][1]);
		free(got);
	}
}

/* Durations: a positive count and one unit; anything else refused. */
static void
test_util_parse_duration(void)
{
	static const char *const bad[] = { "", "7", "d", "7x", "7dd", "-1s",
	    "0s", " 7d", "7 d", "1.5h", "99999999999999d", NULL };
	int64_t ms = 0;
	size_t i;

	CHECK(orc_parse_duration("45s", &ms) == 0 && ms == 45000);
	CHECK(orc_parse_duration("30m", &ms) == 0 && ms == 1800000);
	CHECK(orc_parse_duration("12h", &ms) == 0 && ms == 43200000);
	CHECK(orc_parse_duration("7d", &ms) == 0 && ms == 604800000);
	CHECK(orc_parse_duration("36500d", &ms) == 0);
	for (i = 0; bad[i] != NULL; i++) {
		ms = 123;
		CHECK(orc_parse_duration(bad[i], &ms) == -1);
		CHECK(ms == 123);
	}
	CHECK(orc_parse_duration(NULL, &ms) == -1);
}

int
main(void)
{
	TEST_RUN(test_util_error_set_clear);
	TEST_RUN(test_util_error_long_message);
	TEST_RUN(test_util_error_null);
	TEST_RUN(test_util_xasprintf);
	TEST_RUN(test_util_read_missing);
	TEST_RUN(test_util_read_nul_bytes);
	TEST_RUN(test_util_read_empty);
	TEST_RUN(test_util_read_large);
	TEST_RUN(test_util_read_folder);
	TEST_RUN(test_util_random);
	TEST_RUN(test_util_sha256);
	TEST_RUN(test_util_clocks);
	TEST_RUN(test_util_thread_name);
	TEST_RUN(test_util_url_redact);
	TEST_RUN(test_util_parse_duration);
	TEST_DONE();
}
