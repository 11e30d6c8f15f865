/*
 * A growing NUL-terminated string, for paths, messages and decoded text.
 * It is a plain value: declare one with STRBUF_INIT, append to it, then
 * either keep its text with strbuf_take() or drop it with strbuf_free().
 * Once anything has been appended (even zero bytes) s is never NULL and
 * s[len] is '\0'; running out of memory exits through fatal().
 */
#ifndef STRBUF_H
#define STRBUF_H

#include <stddef.h>

#include "orchestrator.h"

struct strbuf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

#define STRBUF_INIT	{ NULL, 0, 0 }

void	 strbuf_add(struct strbuf *, const char *, size_t);
void	 strbuf_addc(struct strbuf *, char);
void	 strbuf_puts(struct strbuf *, const char *);
void	 strbuf_printf(struct strbuf *, const char *, ...) ORC_PRINTF(2, 3);
/* Shortens to len bytes; a len not below the current length does nothing. */
void	 strbuf_cut(struct strbuf *, size_t len);
/* Returns the text (never NULL: "" when empty), for the caller to free,
 * and leaves the buffer empty as STRBUF_INIT made it. */
char	*strbuf_take(struct strbuf *);
/* Frees the text and empties the buffer; NULL is a no-op. */
void	 strbuf_free(struct strbuf *);

#endif
