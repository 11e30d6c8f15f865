/*
 * Tests of the string-keyed hash map: set, get, replace, remove, growth
 * past many doublings, and keys that share a bucket.
 */
#include "config.h"

#include <stdio.h>

#include "hmap.h"
#include "orchestrator.h"
#include "test.h"

/* Set, get, replace and remove one key. */
static void
test_hmap_basics(void)
{
	struct hmap *m = hmap_create();
	int a = 1, b = 2;

	CHECK(hmap_get(m, "x") == NULL);
	hmap_set(m, "x", &a);
	CHECK(hmap_get(m, "x") == &a);
	hmap_set(m, "x", &b);
	CHECK(hmap_get(m, "x") == &b);
	CHECK(hmap_count(m) == 1);
	CHECK(hmap_remove(m, "x") == &b);
	CHECK(hmap_remove(m, "x") == NULL);
	CHECK(hmap_count(m) == 0);
	hmap_set(m, "", &a);
	CHECK(hmap_get(m, "") == &a);
	hmap_free(m);
	hmap_free(NULL);
}

/* 20000 keys: all found after growing, half removed, the rest kept. */
static void
test_hmap_many(void)
{
	struct hmap *m = hmap_create();
	static int vals[20000];
	char key[32];
	int i, bad = 0;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof key, "run-%d", i);
		vals[i] = i;
		hmap_set(m, key, &vals[i]);
	}
	CHECK(hmap_count(m) == 20000);
	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof key, "run-%d", i);
		if (hmap_get(m, key) != &vals[i])
			bad++;
	}
	CHECK(bad == 0);
	for (i = 0; i < 20000; i += 2) {
		snprintf(key, sizeof key, "run-%d", i);
		if (hmap_remove(m, key) != &vals[i])
			bad++;
	}
	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof key, "run-%d", i);
		if ((hmap_get(m, key) != NULL) != (i % 2 == 1))
			bad++;
	}
	CHECK(bad == 0);
	CHECK(hmap_count(m) == 10000);
	hmap_free(m);
}

int
main(void)
{
	TEST_RUN(test_hmap_basics);
	TEST_RUN(test_hmap_many);
	TEST_DONE();
}
