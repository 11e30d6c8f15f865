/*
 * ULID run ids. Crockford's base32 leaves out I, L, O and U so ids read
 * aloud without confusion; time comes first so ids sort by creation.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include <openssl/rand.h>

#include "id.h"
#include "orchestrator.h"

static const char id_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Encodes 48 bits of time and 80 bits of randomness. */
void
id_encode(int64_t ms, const unsigned char rnd[10], char out[ID_LEN + 1])
{
	uint64_t t = (uint64_t)ms;
	int i, bit;

	for (i = 9; i >= 0; i--) {
		out[i] = id_alphabet[t & 31];
		t >>= 5;
	}
	/* 80 bits as 16 base32 digits, most significant first. */
	for (i = 0; i < 16; i++) {
		int v = 0, b;

		for (b = 0; b < 5; b++) {
			bit = i * 5 + b;
			v = (v << 1) | ((rnd[bit / 8] >> (7 - bit % 8)) & 1);
		}
		out[10 + i] = id_alphabet[v];
	}
	out[ID_LEN] = '\0';
}

/* A new id, larger than every id this process made before. */
void
id_new(char out[ID_LEN + 1])
{
	static int64_t last_ms;
	static unsigned char last_rnd[10];
	int64_t ms = orc_now_ms();
	int i;

	if (ms <= last_ms) {
		/* Same (or earlier) millisecond: count the random part up. */
		ms = last_ms;
		for (i = 9; i >= 0; i--)
			if (++last_rnd[i] != 0)
				break;
	} else if (RAND_bytes(last_rnd, sizeof last_rnd) != 1)
		fatal("no random numbers from OpenSSL");
	last_ms = ms;
	id_encode(ms, last_rnd, out);
}

/* Whether s is 26 characters of the alphabet (upper or lower case). */
int
id_valid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != ID_LEN)
		return 0;
	for (i = 0; i < ID_LEN; i++)
		if (strchr(id_alphabet, toupper((unsigned char)s[i])) == NULL)
			return 0;
	return s[0] <= '7';
}

/* The creation time of an id in ms, or -1 when it is not an id. */
int64_t
id_time_ms(const char *s)
{
	int64_t t = 0;
	int i;

	if (!id_valid(s))
		return -1;
	for (i = 0; i < 10; i++)
		t = t * 32 + (strchr(id_alphabet,
		    toupper((unsigned char)s[i])) - id_alphabet);
	return t;
}

/* The 130 bits of 26 base32 digits, whose top two are zero, as 16 bytes. */
int
id_bytes(const char *s, unsigned char out[16])
{
	unsigned acc = 0;
	int i, bits = -2, o = 0;

	if (!id_valid(s))
		return -1;
	for (i = 0; i < ID_LEN; i++) {
		acc = (acc << 5) | (unsigned)(strchr(id_alphabet,
		    toupper((unsigned char)s[i])) - id_alphabet);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	return 0;
}
