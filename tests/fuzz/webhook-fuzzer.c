/*
 * libFuzzer target: the decoding of webhook bodies. The first byte picks
 * the content type as the server does (form-urlencoded, lax or strict,
 * or JSON), the rest is the body. What decodes must encode back to JSON
 * that decodes again to an equal value.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "form.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* One input: a selector byte and a body. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data + 1;
	json_t *v, *back;
	size_t n;
	char *s;

	if (size < 1)
		return 0;
	n = size - 1;
	switch (data[0] % 3) {
	case 0:
		v = form_decode(body, n, 0);
		break;
	case 1:
		v = form_decode(body, n, 1);
		break;
	default:
		v = json_loadb(body, n, JSON_DECODE_ANY, NULL);
		break;
	}
	if (v == NULL)
		return 0;
	if ((s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT)) == NULL)
		abort();
	back = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (back == NULL || !json_equal(v, back))
		abort();
	json_decref(back);
	free(s);
	json_decref(v);
	return 0;
}
