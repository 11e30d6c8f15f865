/*
 * Compact JSON text of a jansson value, the same bytes json_dumps(v,
 * JSON_COMPACT | JSON_ENCODE_ANY) gives, in one pass into one buffer.
 *
 * Written here, not taken from jansson, for speed on the paths every run
 * takes (the store's rows, request bodies, json.encode): json_dumps
 * builds a hash table per call and, for every object and array, prints
 * its address into a key to guard against cycles, checks UTF-8 a code
 * point at a time, hands each piece to a callback and copies the result
 * once more at the end. At full load that was a fifth of the commit
 * thread's time. Values here are trees (nothing in the program makes a
 * cycle). Reals, rare here, and whatever is nested more than 256 deep
 * are printed by jansson itself.
 */
#ifndef JSONENC_H
#define JSONENC_H

#include <stddef.h>

#include <jansson.h>

/* The text (NUL-terminated, for the caller to free) and its length in
 * *lenp when lenp is not NULL; NULL when json_dumps fails too (a string
 * that is not UTF-8) or v is NULL. */
char	*jsonenc_compact(const json_t *v, size_t *lenp);

#endif
