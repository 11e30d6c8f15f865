/*
 * The regression runner of the fuzz targets, for compilers without
 * libFuzzer (gcc): linked with one NAME-fuzzer.c, it feeds every file of
 * its corpus to LLVMFuzzerTestOneInput once, so that `make check` runs the
 * corpus under the build's sanitizers (or valgrind). The corpus is each
 * argument (a file or a folder), or by default
 * $TOP_SRCDIR/tests/fuzz/corpus/NAME, NAME from the program's own name
 * (NAME-regress). Exit 0 when every input ran, 99 when the corpus is
 * missing or empty; a crash is the target's to report.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "orchestrator.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Runs one file; -1 when it cannot be read. */
static int
regress_file(const char *path)
{
	struct orc_error err;
	size_t len;
	char *s;

	if ((s = orc_read_file(path, &len, &err)) == NULL) {
		fprintf(stderr, "%s\n", err.message);
		return -1;
	}
	/* A copy of exactly len bytes, so ASan sees reads past the end. */
	{
		uint8_t *copy = xmalloc(len > 0 ? len : 1);

		memcpy(copy, s, len);
		LLVMFuzzerTestOneInput(copy, len);
		free(copy);
	}
	free(s);
	return 0;
}

/* Runs a file or every file of a folder; the number run, -1 on error. */
static int
regress_path(const char *path)
{
	struct dirent **ents;
	struct stat sb;
	char *p;
	int i, n, run = 0;

	if (stat(path, &sb) != 0) {
		fprintf(stderr, "%s: no such file or folder\n", path);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode))
		return regress_file(path) == 0 ? 1 : -1;
	if ((n = scandir(path, &ents, NULL, alphasort)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			p = xasprintf("%s/%s", path, ents[i]->d_name);
			if (regress_file(p) == 0)
				run++;
			free(p);
		}
		free(ents[i]);
	}
	free(ents);
	return run;
}

int
main(int argc, char **argv)
{
	const char *top = getenv("TOP_SRCDIR"), *base;
	char *name, *dir, *dash;
	int i, n, total = 0;

	if (argc > 1) {
		for (i = 1; i < argc; i++) {
			if ((n = regress_path(argv[i])) < 0)
				return 1;
			total += n;
		}
		printf("%d inputs ran\n", total);
		return 0;
	}
	base = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 :
	    argv[0];
	name = xstrdup(base);
	if ((dash = strstr(name, "-regress")) != NULL)
		*dash = '\0';
	dir = xasprintf("%s/tests/fuzz/corpus/%s", top != NULL ? top : ".",
	    name);
	n = regress_path(dir);
	printf("%s: %d inputs of %s ran\n", name, n, dir);
	free(dir);
	free(name);
	return n > 0 ? 0 : 99;
}
