/*
 * Tests of callback tokens: one made is read back as made, and any change
 * (a character, the secret, a length, another run or attempt) is refused.
 */
#include "config.h"

#include <string.h>

#include "callback.h"
#include "orchestrator.h"
#include "test.h"

#define RUN_A	"01M94VAQV95KFCHKVMZ8S7ABYA"
#define RUN_B	"01M94VAQV95KFCHKVMZ8S7ABYB"

/* A secret whose bytes are all fill. */
static void
secret_fill(uint8_t s[CALLBACK_SECRET_LEN], int fill)
{
	memset(s, fill, CALLBACK_SECRET_LEN);
}

/* Makes the token of run, seq, attempt under s. */
static void
token_of(const uint8_t *s, const char *run, int seq, int attempt,
    char tok[CALLBACK_TOKEN_LEN + 1])
{
	struct callback_ref ref;

	memset(&ref, 0, sizeof ref);
	snprintf(ref.run_id, sizeof ref.run_id, "%s", run);
	ref.seq = seq;
	ref.attempt = attempt;
	callback_token_make(s, &ref, tok);
}

/* A token reads back as the run, visit and attempt it was made for. */
static void
test_callback_roundtrip(void)
{
	uint8_t s[CALLBACK_SECRET_LEN];
	char tok[CALLBACK_TOKEN_LEN + 1];
	struct callback_ref ref;
	size_t i;

	secret_fill(s, 7);
	token_of(s, RUN_A, 3, 2, tok);
	CHECK(strlen(tok) == CALLBACK_TOKEN_LEN);
	/* URL-safe as it is: no escaping in a path. */
	for (i = 0; tok[i] != '\0'; i++)
		CHECK(strchr("+/=%", tok[i]) == NULL);
	memset(&ref, 0, sizeof ref);
	CHECK(callback_token_check(s, tok, &ref) == 0);
	CHECK_STR(ref.run_id, RUN_A);
	CHECK(ref.seq == 3);
	CHECK(ref.attempt == 2);
}

/* Each character changed, in turn, makes the token unreadable. */
static void
test_callback_tampered(void)
{
	uint8_t s[CALLBACK_SECRET_LEN];
	char tok[CALLBACK_TOKEN_LEN + 1], bad[CALLBACK_TOKEN_LEN + 1];
	struct callback_ref ref;
	int i, accepted = 0;

	secret_fill(s, 7);
	token_of(s, RUN_A, 1, 1, tok);
	for (i = 0; i < CALLBACK_TOKEN_LEN; i++) {
		memcpy(bad, tok, sizeof bad);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		if (callback_token_check(s, bad, &ref) == 0)
			accepted++;
	}
	CHECK(accepted == 0);
	CHECK(callback_token_check(s, "", &ref) == -1);
	CHECK(callback_token_check(s, "short", &ref) == -1);
	memcpy(bad, tok, sizeof bad);
	bad[10] = '.';
	CHECK(callback_token_check(s, bad, &ref) == -1);
	/* One character more, or less. */
	CHECK(callback_token_check(s, RUN_A RUN_A RUN_A, &ref) == -1);
	bad[CALLBACK_TOKEN_LEN - 1] = '\0';
	CHECK(callback_token_check(s, bad, &ref) == -1);
}

/* Another secret (another server) reads none of these tokens. */
static void
test_callback_other_secret(void)
{
	uint8_t s[CALLBACK_SECRET_LEN], t[CALLBACK_SECRET_LEN];
	char tok[CALLBACK_TOKEN_LEN + 1];
	struct callback_ref ref;

	secret_fill(s, 7);
	memcpy(t, s, sizeof t);
	t[31] ^= 1;
	token_of(s, RUN_A, 1, 1, tok);
	CHECK(callback_token_check(t, tok, &ref) == -1);
	CHECK(callback_token_check(s, tok, &ref) == 0);
}

/* Tokens of another run, visit or attempt differ, each its own. */
static void
test_callback_bound(void)
{
	uint8_t s[CALLBACK_SECRET_LEN];
	char a[CALLBACK_TOKEN_LEN + 1], b[CALLBACK_TOKEN_LEN + 1];
	char c[CALLBACK_TOKEN_LEN + 1], d[CALLBACK_TOKEN_LEN + 1];
	struct callback_ref ref;

	secret_fill(s, 9);
	token_of(s, RUN_A, 1, 1, a);
	token_of(s, RUN_B, 1, 1, b);
	token_of(s, RUN_A, 2, 1, c);
	token_of(s, RUN_A, 1, 2, d);
	CHECK(strcmp(a, b) != 0 && strcmp(a, c) != 0 && strcmp(a, d) != 0);
	CHECK(callback_token_check(s, b, &ref) == 0);
	CHECK_STR(ref.run_id, RUN_B);
	CHECK(callback_token_check(s, d, &ref) == 0);
	CHECK(ref.seq == 1 && ref.attempt == 2);
	/* The same inputs make the same token (any node checks it). */
	token_of(s, RUN_A, 1, 1, b);
	CHECK_STR(a, b);
}

int
main(void)
{
	TEST_RUN(test_callback_roundtrip);
	TEST_RUN(test_callback_tampered);
	TEST_RUN(test_callback_other_secret);
	TEST_RUN(test_callback_bound);
	TEST_DONE();
}
