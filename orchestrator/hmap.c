/*
 * String-keyed hash map: FNV-1a hashes, chained buckets, doubling at a
 * load factor of one.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "orchestrator.h"

struct hmap_entry {
	struct hmap_entry	*next;
	uint64_t		 hash;
	void			*value;
	char			 key[];
};

struct hmap {
	struct hmap_entry	**buckets;
	size_t			  nbuckets;	/* a power of two */
	size_t			  count;
};

/* FNV-1a: short keys, good enough spread, no allocation. */
static uint64_t
hmap_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 1099511628211ULL;
	}
	return h;
}

struct hmap *
hmap_create(void)
{
	struct hmap *m = xcalloc(1, sizeof *m);

	m->nbuckets = 16;
	m->buckets = xcalloc(m->nbuckets, sizeof *m->buckets);
	return m;
}

void
hmap_free(struct hmap *m)
{
	struct hmap_entry *e, *next;
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nbuckets; i++)
		for (e = m->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(m->buckets);
	free(m);
}

/* The slot that holds key's entry, or where it would be linked. */
static struct hmap_entry **
hmap_slot(const struct hmap *m, const char *key, uint64_t h)
{
	struct hmap_entry **p = &m->buckets[h & (m->nbuckets - 1)];

	while (*p != NULL && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
		p = &(*p)->next;
	return p;
}

/* Doubles the buckets and relinks every entry. */
static void
hmap_grow(struct hmap *m)
{
	struct hmap_entry **old = m->buckets, *e, *next;
	size_t n = m->nbuckets, i;

	m->nbuckets *= 2;
	m->buckets = xcalloc(m->nbuckets, sizeof *m->buckets);
	for (i = 0; i < n; i++)
		for (e = old[i]; e != NULL; e = next) {
			next = e->next;
			e->next = m->buckets[e->hash & (m->nbuckets - 1)];
			m->buckets[e->hash & (m->nbuckets - 1)] = e;
		}
	free(old);
}

void
hmap_set(struct hmap *m, const char *key, void *value)
{
	uint64_t h = hmap_hash(key);
	struct hmap_entry **p = hmap_slot(m, key, h), *e;
	size_t len;

	if (*p != NULL) {
		(*p)->value = value;
		return;
	}
	len = strlen(key);
	e = xmalloc(sizeof *e + len + 1);
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->value = value;
	e->next = NULL;
	*p = e;
	if (++m->count > m->nbuckets)
		hmap_grow(m);
}

void *
hmap_get(const struct hmap *m, const char *key)
{
	struct hmap_entry **p = hmap_slot(m, key, hmap_hash(key));

	return *p != NULL ? (*p)->value : NULL;
}

void *
hmap_remove(struct hmap *m, const char *key)
{
	struct hmap_entry **p = hmap_slot(m, key, hmap_hash(key)), *e;
	void *value;

	if ((e = *p) == NULL)
		return NULL;
	*p = e->next;
	value = e->value;
	free(e);
	m->count--;
	return value;
}

size_t
hmap_count(const struct hmap *m)
{
	return m->count;
}

void
hmap_each(const struct hmap *m, void (*fn)(const char *, void *, void *),
    void *arg)
{
	struct hmap_entry *e;
	size_t i;

	for (i = 0; i < m->nbuckets; i++)
		for (e = m->buckets[i]; e != NULL; e = e->next)
			fn(e->key, e->value, arg);
}
