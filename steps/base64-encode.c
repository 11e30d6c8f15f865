/*
 * The base64.encode step: a string input's bytes, or any other input's
 * compact JSON text, to base64 (RFC 4648), with OpenSSL doing the work.
 * "url_safe": true uses the URL and file name alphabet without padding.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "orchestrator.h"
#include "steps.h"

/* Bytes per EVP_EncodeBlock call: a multiple of 3 that fits in an int. */
#define BASE64_ENCODE_CHUNK	(3 * 1024 * 1024)

static const char *const base64_encode_keys[] = { "url_safe", NULL };

/* Encodes len bytes into a new NUL-terminated buffer, its length in *outlen. */
static char *
base64_encode_bytes(const unsigned char *in, size_t len, int url_safe,
    size_t *outlen)
{
	char *out;
	size_t i, n, o = 0, chunk;

	out = xmalloc(len / 3 * 4 + 5);
	for (i = 0; i < len; i += chunk) {
		chunk = len - i < BASE64_ENCODE_CHUNK ? len - i :
		    BASE64_ENCODE_CHUNK;
		n = (size_t)EVP_EncodeBlock((unsigned char *)out + o, in + i,
		    (int)chunk);
		o += n;
	}
	out[o] = '\0';

	if (url_safe) {
		for (i = 0; i < o; i++) {
			if (out[i] == '+')
				out[i] = '-';
			else if (out[i] == '/')
				out[i] = '_';
		}
		while (o > 0 && out[o - 1] == '=')
			out[--o] = '\0';
	}
	*outlen = o;
	return out;
}

/* Encodes the input. */
static enum step_status
base64_encode_start(struct step_call *call)
{
	const json_t *input = step_call_input(call);
	const json_t *us = json_object_get(step_call_with(call), "url_safe");
	const unsigned char *data;
	char *text = NULL, *out;
	size_t len, outlen;
	json_t *v;

	if (us != NULL && !json_is_boolean(us)) {
		step_call_fail(call, 0, "base64.encode \"url_safe\" must be "
		    "true or false");
		return STEP_DONE;
	}
	if (json_is_string(input)) {
		data = (const unsigned char *)json_string_value(input);
		len = json_string_length(input);
	} else {
		text = json_dumps(input, JSON_ENCODE_ANY | JSON_COMPACT);
		if (text == NULL) {
			step_call_fail(call, 0, "base64.encode could not "
			    "encode its input as JSON");
			return STEP_DONE;
		}
		data = (const unsigned char *)text;
		len = strlen(text);
	}

	out = base64_encode_bytes(data, len, json_is_true(us), &outlen);
	free(text);
	v = json_stringn(out, outlen);
	free(out);
	if (v == NULL)
		fatal("%s: out of memory", __func__);
	step_call_succeed(call, v);
	return STEP_DONE;
}

/* Checks "url_safe" as written. */
static void
base64_encode_check(const json_t *with, struct step_checker *chk)
{
	const json_t *v = json_object_get(with, "url_safe");

	if (v == NULL || json_is_boolean(v))
		return;
	if (step_value_is_template(v))
		return;
	step_check_error(chk, "with.url_safe", "base64.encode \"url_safe\" "
	    "must be true or false");
}

const struct step_entry step_base64_encode_entry = {
	.name = "base64.encode",
	.summary = "bytes (or JSON text) to base64",
	.keys = base64_encode_keys,
	.check = base64_encode_check,
	.start = base64_encode_start,
	.cancel = NULL,
	.pure = 1
};
