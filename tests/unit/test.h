/*
 * A small unit-test harness. A test file defines test functions and lists
 * them in main() with TEST_RUN(fn); CHECK() records a failure and goes on,
 * REQUIRE() stops the test. Each run starts in a fresh temporary folder.
 * The last line printed is "N passed, N failed"; the exit code is what
 * automake expects (0 pass, 1 fail).
 */
#ifndef TEST_H
#define TEST_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int test_failed_checks;
static int test_passed, test_failed;
static char test_dir[256];

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #c);				\
		test_failed_checks++;					\
	}								\
} while (0)

#define REQUIRE(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: requirement failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		test_failed_checks++;					\
		return;							\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *test_a_ = (a), *test_b_ = (b);			\
	if (test_a_ == NULL || test_b_ == NULL ||			\
	    strcmp(test_a_, test_b_) != 0) {				\
		fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__,	\
		    __LINE__, test_a_ ? test_a_ : "(null)",		\
		    test_b_ ? test_b_ : "(null)");			\
		test_failed_checks++;					\
	}								\
} while (0)

#define CHECK_CONTAINS(hay, needle) do {				\
	const char *test_h_ = (hay), *test_n_ = (needle);		\
	if (test_h_ == NULL || strstr(test_h_, test_n_) == NULL) {	\
		fprintf(stderr, "%s:%d: \"%s\" does not contain "	\
		    "\"%s\"\n", __FILE__, __LINE__,			\
		    test_h_ ? test_h_ : "(null)", test_n_);		\
		test_failed_checks++;					\
	}								\
} while (0)

/* Runs one test in a fresh temporary folder and counts the result. */
#define TEST_RUN(fn) do {						\
	int test_before_ = test_failed_checks;				\
	char test_cwd_[1024];						\
	snprintf(test_dir, sizeof test_dir, "/tmp/orc-test-XXXXXX");	\
	if (getcwd(test_cwd_, sizeof test_cwd_) == NULL ||		\
	    mkdtemp(test_dir) == NULL || chdir(test_dir) != 0) {	\
		perror("test setup");					\
		exit(99);						\
	}								\
	fn();								\
	if (chdir(test_cwd_) != 0)					\
		exit(99);						\
	if (test_failed_checks == test_before_) {			\
		test_passed++;						\
		printf("ok %s\n", #fn);					\
		test_rmtree(test_dir);					\
	} else {							\
		test_failed++;						\
		printf("FAIL %s (kept %s)\n", #fn, test_dir);		\
	}								\
} while (0)

#define TEST_DONE() do {						\
	printf("%d passed, %d failed\n", test_passed, test_failed);	\
	return test_failed == 0 ? 0 : 1;				\
} while (0)

/* Writes a file in the test's folder; a failure ends the test (99). */
static inline void
test_put_file(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		perror(name);
		exit(99);
	}
}

/* Removes a test's folder. */
static inline void
test_rmtree(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* How many files (not starting with a dot) a folder holds; -1 if none. */
static inline int
test_count_files(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

#endif
