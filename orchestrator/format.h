/*
 * Formatting shared by the CLI and the dashboard, so both show
 * runs the same way: durations like 1.2s and 3m04s, times in UTC, and
 * tables with aligned columns.
 */
#ifndef FORMAT_H
#define FORMAT_H

#include <stdint.h>
#include <stdio.h>

struct format_table;

/* "850ms", "1.2s", "42s", "3m04s", "2h05m", "3d04h"; "-" when ms < 0. */
char	*format_duration(int64_t ms, char *buf, size_t len);
/* "2026-11-28T14:03:05.123Z"; "-" when ms <= 0. */
char	*format_time(int64_t ms, char *buf, size_t len);
/* Reads an RFC 3339 time ("2026-11-28T14:03:05Z", with fractions of a
 * second, an offset "+02:00" or "-05:30", or a space for the "T") as ms
 * since the epoch; -1 when it is not one. */
int	 format_parse_time(const char *s, int64_t *ms);

/* A table of ncols columns; each column at most max_width wide (0: no
 * limit; longer cells end in "..."). */
struct format_table *format_table_create(size_t ncols,
		    const char *const *headers, const int *max_width);
/* Adds a row of ncols cells (copied; NULL prints as "-"). */
void		 format_table_add(struct format_table *,
		    const char *const *cells);
void		 format_table_print(const struct format_table *, FILE *);
void		 format_table_free(struct format_table *);

#endif
