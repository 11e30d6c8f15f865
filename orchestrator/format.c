/*
 * Durations, times and aligned tables for people to read.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "orchestrator.h"

char *
format_duration(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;

	if (ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 1000)
		snprintf(buf, len, "%lldms", (long long)ms);
	else if (ms < 10000)
		snprintf(buf, len, "%lld.%llds", (long long)s,
		    (long long)(ms % 1000 / 100));
	else if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)(s / 60),
		    (long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600),
		    (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)(s / 86400),
		    (long long)(s % 86400 / 3600));
	return buf;
}

char *
format_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char day[32];

	if (ms <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	gmtime_r(&t, &tm);
	strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", day, (int)(ms % 1000));
	return buf;
}

struct format_table {
	size_t	  ncols;
	char	**cells;	/* row-major, header row first */
	size_t	  nrows;
	int	 *max_width;
};

struct format_table *
format_table_create(size_t ncols, const char *const *headers,
    const int *max_width)
{
	struct format_table *t = xcalloc(1, sizeof *t);

	t->ncols = ncols;
	t->max_width = xcalloc(ncols, sizeof *t->max_width);
	if (max_width != NULL)
		memcpy(t->max_width, max_width, ncols * sizeof *max_width);
	format_table_add(t, headers);
	return t;
}

/* Copies a cell, cut to the column's width with "..." at the end. */
static char *
format_cell(const char *s, int max)
{
	size_t n;
	char *c;

	if (s == NULL || *s == '\0')
		s = "-";
	n = strlen(s);
	if (max <= 3 || n <= (size_t)max)
		c = xstrdup(s);
	else {
		c = xstrndup(s, (size_t)max - 3);
		c = xrealloc(c, (size_t)max + 1);
		strcat(c, "...");
	}
	/* Control characters would break the alignment: show them as '?'. */
	for (n = 0; c[n] != '\0'; n++)
		if ((unsigned char)c[n] < 0x20)
			c[n] = '?';
	return c;
}

void
format_table_add(struct format_table *t, const char *const *cells)
{
	size_t i;

	t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols *
	    sizeof *t->cells);
	for (i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = format_cell(cells[i],
		    t->max_width[i]);
	t->nrows++;
}

/* Display width of a UTF-8 string: one column per code point. */
static size_t
format_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void
format_table_print(const struct format_table *t, FILE *f)
{
	size_t *w = xcalloc(t->ncols, sizeof *w), r, c, cw;
	const char *cell;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++)
			if ((cw = format_width(t->cells[r * t->ncols + c])) >
			    w[c])
				w[c] = cw;
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			cell = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				fputs(cell, f);
			else
				fprintf(f, "%s%*s", cell,
				    (int)(w[c] - format_width(cell) + 2), "");
		}
		fputc('\n', f);
	}
	free(w);
}

void
format_table_free(struct format_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->max_width);
	free(t);
}

/* Reads n digits at *p into *v; 0, or -1 when one is not a digit. */
static int
format_digits(const char **p, int n, int *v)
{
	*v = 0;
	while (n-- > 0) {
		if (**p < '0' || **p > '9')
			return -1;
		*v = *v * 10 + (*(*p)++ - '0');
	}
	return 0;
}

/* The fraction after the seconds, in ms, and the offset from UTC, in ms. */
static int
format_parse_zone(const char *p, int64_t *frac, int64_t *offset)
{
	const char *q;
	int h, m, scale = 100;

	*frac = *offset = 0;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
			*frac += (*p - '0') * scale;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
		return 0;
	if (*p != '+' && *p != '-')
		return -1;
	q = p + 1;
	if (format_digits(&q, 2, &h) != 0 || *q++ != ':' ||
	    format_digits(&q, 2, &m) != 0 || *q != '\0' || h > 23 || m > 59)
		return -1;
	*offset = (int64_t)(h * 60 + m) * 60000 * (*p == '-' ? -1 : 1);
	return 0;
}

/* See format.h. */
int
format_parse_time(const char *s, int64_t *ms)
{
	const char *p = s;
	struct tm tm;
	int y, mo, d, h, mi, se;
	int64_t frac, offset;
	time_t t;

	if (format_digits(&p, 4, &y) != 0 || *p++ != '-' ||
	    format_digits(&p, 2, &mo) != 0 || *p++ != '-' ||
	    format_digits(&p, 2, &d) != 0 ||
	    (*p != 'T' && *p != 't' && *p != ' ') || !*p++ ||
	    format_digits(&p, 2, &h) != 0 || *p++ != ':' ||
	    format_digits(&p, 2, &mi) != 0 || *p++ != ':' ||
	    format_digits(&p, 2, &se) != 0 ||
	    format_parse_zone(p, &frac, &offset) != 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	if ((t = timegm(&tm)) == (time_t)-1 || tm.tm_mday != d)
		return -1;
	*ms = (int64_t)t * 1000 + frac - offset;
	return 0;
}
