/*
 * A list of diagnostics, each "FILE:LINE:COLUMN: message". Loaders collect
 * every problem of a file here instead of stopping at the first.
 */
#ifndef DIAG_H
#define DIAG_H

#include <stddef.h>

#include "orchestrator.h"

struct diag;

struct diag	*diag_create(void);
void		 diag_free(struct diag *);
/* line and column are 1-based; 0 leaves them out of the text. */
void		 diag_add(struct diag *, const char *file, int line, int column,
		    const char *fmt, ...) ORC_PRINTF(5, 6);
size_t		 diag_count(const struct diag *);
const char	*diag_at(const struct diag *, size_t);

#endif
