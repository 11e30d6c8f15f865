/*
 * Compact JSON text; see jsonenc.h. It is built in a strbuf. Strings are
 * scanned a byte at a time: bytes below 0x80 are copied or escaped as
 * jansson escapes them (\" \\ \b \f \n \r \t, the other control bytes as
 * \u00XX), a multi-byte UTF-8 sequence is checked as a whole and copied.
 * Nesting deeper than JSONENC_DEPTH_LIMIT goes to json_dumps, so that no
 * thread's stack has to hold a document's whole depth in our frames.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonenc.h"
#include "orchestrator.h"
#include "strbuf.h"

#define JSONENC_DEPTH_LIMIT	256	/* deeper: json_dumps does it */

/* The length of the valid UTF-8 sequence at s (first byte >= 0x80), 0
 * when it is not one: a stray continuation, an overlong form, a
 * surrogate or a code point past U+10FFFF. */
static size_t
jsonenc_utf8_len(const unsigned char *s, size_t avail)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* The escape of an ASCII byte that needs one, in out; its length. */
static size_t
jsonenc_escape(unsigned char c, char out[6])
{
	static const char hex[] = "0123456789ABCDEF";

	out[0] = '\\';
	switch (c) {
	case '"':	out[1] = '"'; return 2;
	case '\\':	out[1] = '\\'; return 2;
	case '\b':	out[1] = 'b'; return 2;
	case '\f':	out[1] = 'f'; return 2;
	case '\n':	out[1] = 'n'; return 2;
	case '\r':	out[1] = 'r'; return 2;
	case '\t':	out[1] = 't'; return 2;
	default:
		memcpy(out + 1, "u00", 3);
		out[4] = hex[c >> 4];
		out[5] = hex[c & 0x0f];
		return 6;
	}
}

/* A quoted string; -1 when it is not UTF-8. */
static int
jsonenc_string(struct strbuf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0, k;
	char esc[6];

	strbuf_addc(b, '"');
	while (i < n) {
		if (s[i] >= 0x80) {
			if ((k = jsonenc_utf8_len(s + i, n - i)) == 0)
				return -1;
			i += k;
		} else if (s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
			i++;
		else {
			strbuf_add(b, str + run, i - run);
			strbuf_add(b, esc, jsonenc_escape(s[i], esc));
			run = ++i;
		}
	}
	strbuf_add(b, str + run, i - run);
	strbuf_addc(b, '"');
	return 0;
}

static void
jsonenc_integer(struct strbuf *b, json_int_t v)
{
	char digits[24];
	unsigned long long u;
	size_t i = sizeof digits;

	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		digits[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		digits[--i] = '-';
	strbuf_add(b, digits + i, sizeof digits - i);
}

/* Whatever jansson prints for v (a real, or a nesting too deep). */
static int
jsonenc_jansson(struct strbuf *b, const json_t *v)
{
	char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (t == NULL)
		return -1;
	strbuf_add(b, t, strlen(t));
	free(t);
	return 0;
}

static int	jsonenc_value(struct strbuf *, const json_t *, int);

static int
jsonenc_object(struct strbuf *b, const json_t *v, int depth)
{
	const char *key;
	size_t klen;
	void *it;
	int first = 1;

	strbuf_addc(b, '{');
	for (it = json_object_iter((json_t *)v); it != NULL;
	    it = json_object_iter_next((json_t *)v, it)) {
		key = json_object_iter_key(it);
#if JANSSON_VERSION_HEX >= 0x020e00
		klen = json_object_iter_key_len(it);
#else
		klen = strlen(key);
#endif
		if (!first)
			strbuf_addc(b, ',');
		first = 0;
		if (jsonenc_string(b, key, klen) != 0)
			return -1;
		strbuf_addc(b, ':');
		if (jsonenc_value(b, json_object_iter_value(it), depth + 1) != 0)
			return -1;
	}
	strbuf_addc(b, '}');
	return 0;
}

static int
jsonenc_array(struct strbuf *b, const json_t *v, int depth)
{
	size_t i, n = json_array_size(v);

	strbuf_addc(b, '[');
	for (i = 0; i < n; i++) {
		if (i > 0)
			strbuf_addc(b, ',');
		if (jsonenc_value(b, json_array_get(v, i), depth + 1) != 0)
			return -1;
	}
	strbuf_addc(b, ']');
	return 0;
}

static int
jsonenc_value(struct strbuf *b, const json_t *v, int depth)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
		strbuf_add(b, "null", 4);
		return 0;
	case JSON_TRUE:
		strbuf_add(b, "true", 4);
		return 0;
	case JSON_FALSE:
		strbuf_add(b, "false", 5);
		return 0;
	case JSON_INTEGER:
		jsonenc_integer(b, json_integer_value(v));
		return 0;
	case JSON_STRING:
		return jsonenc_string(b, json_string_value(v),
		    json_string_length(v));
	case JSON_OBJECT:
		return depth >= JSONENC_DEPTH_LIMIT ? jsonenc_jansson(b, v) :
		    jsonenc_object(b, v, depth);
	case JSON_ARRAY:
		return depth >= JSONENC_DEPTH_LIMIT ? jsonenc_jansson(b, v) :
		    jsonenc_array(b, v, depth);
	default:
		return jsonenc_jansson(b, v);
	}
}

char *
jsonenc_compact(const json_t *v, size_t *lenp)
{
	struct strbuf b = STRBUF_INIT;

	if (v == NULL || jsonenc_value(&b, v, 0) != 0) {
		strbuf_free(&b);
		return NULL;
	}
	if (lenp != NULL)
		*lenp = b.len;
	return strbuf_take(&b);
}
