/*
 * Positions of values inside JSON text. jansson tells where a parse error
 * is, but not where a value of a parsed document came from; a loader that
 * reports "steps[2].uses: unknown step" needs the line and column of that
 * value. jsonpos scans the text once (after jansson accepted it) and
 * records the position of every member and element by its path.
 */
#ifndef JSONPOS_H
#define JSONPOS_H

#include <stddef.h>

struct jsonpos;

/* Indexes text that jansson parsed without error. */
struct jsonpos	*jsonpos_create(const char *text, size_t len);
void		 jsonpos_free(struct jsonpos *);

/* Position of the value at path ("" for the root, "steps[2].with.url");
 * for an object member, the position of its key. Falls back to the
 * longest known prefix of path. 1-based line and column. */
void		 jsonpos_find(const struct jsonpos *, const char *path,
		    int *line, int *column);

#endif
