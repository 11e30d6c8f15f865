/*
 * Messages between the daemon and its worker processes (worker.c,
 * worker-child.c), on a stream socket. A frame is a 4-byte length (of what
 * follows), a type byte, a 4-byte call id and fields in an order each type
 * fixes. A field is a 4-byte length and that many bytes plus a NUL, so a
 * text field reads as a C string where it is one; the length 0xffffffff
 * stands for an absent field (NULL). Integers are 8-byte fields. Both ends
 * run on one machine: numbers are in its byte order.
 *
 * Nothing a worker sends is trusted: every reader checks lengths, and a
 * frame that does not read as its type says is an error the daemon
 * answers by killing the worker.
 */
#ifndef WMSG_H
#define WMSG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "strbuf.h"

/* The largest frame either end accepts. */
#define WMSG_MAX	(256u << 20)

enum wmsg_type {
	WMSG_HELLO = 1,		/* worker: it runs, sandboxed */
	WMSG_CALL,		/* daemon: run a script */
	WMSG_CANCEL,		/* daemon: drop a call */
	WMSG_FETCH,		/* worker: ctx.fetch */
	WMSG_FETCHED,		/* daemon: its answer */
	WMSG_LOG,		/* worker: ctx.log */
	WMSG_SOURCE,		/* worker: a script's text, if changed */
	WMSG_SOURCE_R,		/* daemon: the answer */
	WMSG_DONE,		/* worker: a call's end */
	WMSG_CTX,		/* worker: ctx.trigger or ctx.steps */
	WMSG_CTX_R		/* daemon: the answer */
};

/* Reading one frame's fields. */
struct wmsg_in {
	const char	*p;
	size_t		 left;
	int		 bad;	/* a read went past the frame */
};

/* Starts a frame at the end of b; returns where it starts, for end. */
size_t		 wmsg_begin(struct strbuf *, enum wmsg_type, uint32_t id);
/* Appends a field; NULL is the absent field. */
void		 wmsg_put(struct strbuf *, const void *, size_t);
void		 wmsg_put_str(struct strbuf *, const char *);
void		 wmsg_put_int(struct strbuf *, int64_t);
/* v as compact JSON text; NULL is the absent field. */
void		 wmsg_put_json(struct strbuf *, const json_t *);
/* Writes the frame's length. */
void		 wmsg_end(struct strbuf *, size_t start);

/* Whether buf starts with a whole frame: 1 with its length in *len, 0
 * when more is needed, -1 when its length is out of bounds. */
int		 wmsg_frame(const void *buf, size_t avail, size_t *len);
/* Opens a whole frame for reading its fields. */
void		 wmsg_open(struct wmsg_in *, const void *frame, size_t len,
		    int *type, uint32_t *id);
/* The next field (NULL when absent, or past the end: then bad is set);
 * it stays in the frame and ends with a NUL. */
const char	*wmsg_get(struct wmsg_in *, size_t *len);
int64_t		 wmsg_get_int(struct wmsg_in *);
/* The next field parsed as JSON (any value); NULL when absent; bad when
 * it is not JSON. A new reference. */
json_t		*wmsg_get_json(struct wmsg_in *);

#endif
