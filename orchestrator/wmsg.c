/*
 * Building and reading the frames of the worker channel (wmsg.h).
 */
#include "config.h"

#include <string.h>

#include "jsonenc.h"
#include "orchestrator.h"
#include "wmsg.h"

#define WMSG_ABSENT	0xffffffffu

/* Starts a frame: the length is written by wmsg_end. */
size_t
wmsg_begin(struct strbuf *b, enum wmsg_type type, uint32_t id)
{
	size_t start = b->len;
	uint32_t zero = 0;
	char t = (char)type;

	strbuf_add(b, (const char *)&zero, sizeof zero);
	strbuf_add(b, &t, 1);
	strbuf_add(b, (const char *)&id, sizeof id);
	return start;
}

/* Appends one field: its length, its bytes and a NUL. */
void
wmsg_put(struct strbuf *b, const void *p, size_t len)
{
	uint32_t n = p == NULL ? WMSG_ABSENT : (uint32_t)len;

	strbuf_add(b, (const char *)&n, sizeof n);
	if (p == NULL)
		return;
	strbuf_add(b, p, len);
	strbuf_addc(b, '\0');
}

/* Appends a C string, or the absent field. */
void
wmsg_put_str(struct strbuf *b, const char *s)
{
	wmsg_put(b, s, s != NULL ? strlen(s) : 0);
}

/* Appends an integer. */
void
wmsg_put_int(struct strbuf *b, int64_t v)
{
	wmsg_put(b, &v, sizeof v);
}

/* Appends a JSON value as its text. */
void
wmsg_put_json(struct strbuf *b, const json_t *v)
{
	char *text;
	size_t len;

	if (v == NULL) {
		wmsg_put(b, NULL, 0);
		return;
	}
	text = jsonenc_compact(v, &len);
	wmsg_put(b, text, len);
	free(text);
}

/* Writes the length of the frame that starts at start. */
void
wmsg_end(struct strbuf *b, size_t start)
{
	uint32_t n = (uint32_t)(b->len - start - sizeof n);

	memcpy(b->s + start, &n, sizeof n);
}

/* Whether a whole frame is there. */
int
wmsg_frame(const void *buf, size_t avail, size_t *len)
{
	uint32_t n;

	if (avail < sizeof n)
		return 0;
	memcpy(&n, buf, sizeof n);
	if (n < 5 || n > WMSG_MAX)
		return -1;
	*len = sizeof n + n;
	return avail >= *len;
}

/* Opens a frame: its type and id, then the fields follow. */
void
wmsg_open(struct wmsg_in *in, const void *frame, size_t len, int *type,
    uint32_t *id)
{
	const char *p = frame;

	*type = (unsigned char)p[4];
	memcpy(id, p + 5, sizeof *id);
	in->p = p + 9;
	in->left = len - 9;
	in->bad = 0;
}

/* The next field. */
const char *
wmsg_get(struct wmsg_in *in, size_t *len)
{
	const char *v;
	uint32_t n;

	*len = 0;
	if (in->bad || in->left < sizeof n) {
		in->bad = 1;
		return NULL;
	}
	memcpy(&n, in->p, sizeof n);
	in->p += sizeof n;
	in->left -= sizeof n;
	if (n == WMSG_ABSENT)
		return NULL;
	if (n >= in->left || in->p[n] != '\0') {
		in->bad = 1;
		return NULL;
	}
	v = in->p;
	*len = n;
	in->p += (size_t)n + 1;
	in->left -= (size_t)n + 1;
	return v;
}

/* The next field as an integer. */
int64_t
wmsg_get_int(struct wmsg_in *in)
{
	const char *p;
	size_t len;
	int64_t v = 0;

	p = wmsg_get(in, &len);
	if (p == NULL || len != sizeof v) {
		in->bad = 1;
		return 0;
	}
	memcpy(&v, p, sizeof v);
	return v;
}

/* The next field as JSON. */
json_t *
wmsg_get_json(struct wmsg_in *in)
{
	const char *p;
	size_t len;
	json_t *v;

	p = wmsg_get(in, &len);
	if (p == NULL)
		return NULL;
	if ((v = json_loadb(p, len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
	    NULL)) == NULL)
		in->bad = 1;
	return v;
}
