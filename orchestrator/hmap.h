/*
 * A hash map from strings to pointers, for lookups that must not walk a
 * list: runs in memory by id, waiters by run id, idempotency keys. Keys are
 * copied; values are borrowed. Chained buckets that double as they fill.
 */
#ifndef HMAP_H
#define HMAP_H

#include <stddef.h>

struct hmap;

struct hmap	*hmap_create(void);
/* Frees the map and its keys, not the values. */
void		 hmap_free(struct hmap *);
/* Sets key to value, replacing any value it had. */
void		 hmap_set(struct hmap *, const char *key, void *value);
/* The value of key, or NULL. */
void		*hmap_get(const struct hmap *, const char *key);
/* Removes key; returns its value, or NULL. */
void		*hmap_remove(struct hmap *, const char *key);
size_t		 hmap_count(const struct hmap *);
/* Calls fn for every entry; fn must not change the map. */
void		 hmap_each(const struct hmap *,
		    void (*fn)(const char *, void *, void *), void *);

#endif
