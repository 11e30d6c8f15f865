/*
 * Positions of values inside JSON text. jansson tells where a parse error
 * is, but not where a value of a parsed document came from; a loader that
 * reports "steps[2].uses: unknown step" needs the line and column of that
 * value. jsonpos scans the text once (after jansson accepted it) and
 * records the position of every member and element by its path.
 *
 * It also defines that path syntax, for every module that names a value:
 * the root is "", a member is PARENT.key (key alone at the root), or
 * PARENT["key"] with '"' and '\' escaped by a backslash when the key is
 * empty or holds '.', '[', ']', '"', '\' or a space, and an element is
 * PARENT[N].
 */
#ifndef JSONPOS_H
#define JSONPOS_H

#include <stddef.h>

struct jsonpos;
struct strbuf;

/* Indexes text that jansson parsed without error. */
struct jsonpos	*jsonpos_create(const char *text, size_t len);
void		 jsonpos_free(struct jsonpos *);

/* Position of the value at path ("" for the root, "steps[2].with.url");
 * for an object member, the position of its key. Falls back to the
 * longest known prefix of path. 1-based line and column. */
void		 jsonpos_find(const struct jsonpos *, const char *path,
		    int *line, int *column);

/* Appends member key (len bytes, which may hold a NUL) to the path in b. */
void		 jsonpos_path_add_key(struct strbuf *b, const char *key,
		    size_t len);
/* New paths: parent followed by member key, or by element index. */
char		*jsonpos_path_key(const char *parent, const char *key);
char		*jsonpos_path_index(const char *parent, size_t index);

#endif
