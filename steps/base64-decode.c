/*
 * The base64.decode step: a base64 string (standard or URL-safe alphabet,
 * padding optional, whitespace ignored) to the string of its bytes. The
 * bytes must be UTF-8 text to fit in a JSON string; binary data stays
 * base64-encoded.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "orchestrator.h"
#include "steps.h"

/* Characters per EVP_DecodeBlock call: a multiple of 4 that fits an int. */
#define BASE64_DECODE_CHUNK	(4 * 1024 * 1024)

/* Whether c belongs to the base64 alphabet (after URL-safe translation). */
static int
base64_decode_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Normalizes s into a new buffer of whole 4-character groups in the
 * standard alphabet, padded; NULL when it is not base64. *padp gets the
 * number of '=' at the end.
 */
static char *
base64_decode_normalize(const char *s, size_t n, size_t *lenp, size_t *padp)
{
	char *buf;
	size_t i, len = 0, pad = 0;
	int c;

	buf = xmalloc(n + 4);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		if (c == '=') {
			pad++;
		} else if (!base64_decode_alpha(c) || pad > 0)
			goto fail;	/* a bad character, or data after '=' */
		buf[len++] = (char)c;
	}
	if (pad > 2)
		goto fail;
	/* Without its padding a group has 2 or 3 characters, never 1. */
	if (pad == 0) {
		if (len % 4 == 1)
			goto fail;
		while (len % 4 != 0) {
			buf[len++] = '=';
			pad++;
		}
	} else if (len % 4 != 0)
		goto fail;
	buf[len] = '\0';
	*lenp = len;
	*padp = pad;
	return buf;

fail:
	free(buf);
	return NULL;
}

/* Decodes the input. */
static enum step_status
base64_decode_start(struct step_call *call)
{
	const json_t *input = step_call_input(call);
	unsigned char *out;
	char *norm;
	size_t len, pad, i, o = 0, chunk;
	int n;
	json_t *v;

	if (!json_is_string(input)) {
		step_call_fail(call, 0, "base64.decode needs a string input");
		return STEP_DONE;
	}
	norm = base64_decode_normalize(json_string_value(input),
	    json_string_length(input), &len, &pad);
	if (norm == NULL) {
		step_call_fail(call, 0, "base64.decode input is not valid "
		    "base64");
		return STEP_DONE;
	}

	out = xmalloc(len / 4 * 3 + 1);
	for (i = 0; i < len; i += chunk) {
		chunk = len - i < BASE64_DECODE_CHUNK ? len - i :
		    BASE64_DECODE_CHUNK;
		n = EVP_DecodeBlock(out + o, (unsigned char *)norm + i,
		    (int)chunk);
		if (n < 0) {
			free(norm);
			free(out);
			step_call_fail(call, 0, "base64.decode input is not "
			    "valid base64");
			return STEP_DONE;
		}
		o += (size_t)n;
	}
	free(norm);
	/* EVP_DecodeBlock counts the padding as zero bytes: drop them. */
	o -= pad;

	v = json_stringn((const char *)out, o);
	free(out);
	if (v == NULL) {
		step_call_fail(call, 0, "decoded data is not UTF-8 text; keep "
		    "it base64-encoded");
		return STEP_DONE;
	}
	step_call_succeed(call, v);
	return STEP_DONE;
}

const struct step_entry step_base64_decode_entry = {
	.name = "base64.decode",
	.summary = "base64 to the text it encodes",
	.keys = NULL,
	.check = NULL,
	.start = base64_decode_start,
	.cancel = NULL,
	.pure = 1
};
