/*
 * Diagnostics: a growing list of "FILE:LINE:COLUMN: message" lines.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"

struct diag {
	char	**items;
	size_t	  count;
	size_t	  cap;
};

struct diag *
diag_create(void)
{
	return xcalloc(1, sizeof(struct diag));
}

void
diag_free(struct diag *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->count; i++)
		free(d->items[i]);
	free(d->items);
	free(d);
}

/* Adds one problem; file may be NULL, line and column 0 when unknown. */
void
diag_add(struct diag *d, const char *file, int line, int column,
    const char *fmt, ...)
{
	va_list ap;
	char *msg, *item;

	if (d == NULL)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (file == NULL)
		item = msg;
	else {
		if (line > 0 && column > 0)
			item = xasprintf("%s:%d:%d: %s", file, line, column,
			    msg);
		else if (line > 0)
			item = xasprintf("%s:%d: %s", file, line, msg);
		else
			item = xasprintf("%s: %s", file, msg);
		free(msg);
	}
	if (d->count == d->cap) {
		d->cap = d->cap == 0 ? 8 : d->cap * 2;
		d->items = xrealloc(d->items, d->cap * sizeof *d->items);
	}
	d->items[d->count++] = item;
}

size_t
diag_count(const struct diag *d)
{
	return d == NULL ? 0 : d->count;
}

const char *
diag_at(const struct diag *d, size_t i)
{
	return i < d->count ? d->items[i] : NULL;
}
