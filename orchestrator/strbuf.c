/*
 * The growing string of strbuf.h. Every module that builds text piece by
 * piece (paths in jsonpos, schema and workflow, messages in schema,
 * rendered templates, JSON text in jsonenc, the SQLite log's writes in
 * walbuf) uses this one instead of a copy of its own. The
 * capacity doubles, so appending n bytes in any number of pieces costs
 * O(n) copies.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* Makes room for n more bytes and the NUL after them. */
static void
strbuf_grow(struct strbuf *b, size_t n)
{
	size_t need, cap;

	if (n > SIZE_MAX - b->len - 1)
		fatal("out of memory (string of %zu + %zu bytes)", b->len, n);
	need = b->len + n + 1;
	if (need <= b->cap)
		return;
	cap = b->cap == 0 ? 64 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->s = xrealloc(b->s, cap);
	b->cap = cap;
}

/* Appends n bytes of s. */
void
strbuf_add(struct strbuf *b, const char *s, size_t n)
{
	strbuf_grow(b, n);
	/* memcpy from NULL is undefined even for zero bytes. */
	if (n > 0)
		memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* Appends one character. */
void
strbuf_addc(struct strbuf *b, char c)
{
	strbuf_add(b, &c, 1);
}

/* Appends a NUL-terminated string. */
void
strbuf_puts(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

/* Appends printf-formatted text. */
void
strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	/* Most text fits in the room there is; longer text goes twice. */
	strbuf_grow(b, 64);
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->s + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("bad format \"%s\"", fmt);
	if ((size_t)n >= room) {
		strbuf_grow(b, (size_t)n);
		va_start(ap, fmt);
		(void)vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* Shortens the text to len bytes. */
void
strbuf_cut(struct strbuf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->s[len] = '\0';
}

/* Hands the text to the caller and empties the buffer. */
char *
strbuf_take(struct strbuf *b)
{
	char *s;

	s = b->s != NULL ? b->s : xstrdup("");
	b->s = NULL;
	b->len = 0;
	b->cap = 0;
	return s;
}

/* Frees the text and empties the buffer. */
void
strbuf_free(struct strbuf *b)
{
	if (b == NULL)
		return;
	free(b->s);
	b->s = NULL;
	b->len = 0;
	b->cap = 0;
}
