/*
 * Time zones for the scheduler (cron.c): TZif files (RFC 8536) read from
 * the zoneinfo folder (TZDIR, else /usr/share/zoneinfo), the 64-bit
 * transition table first, then the POSIX TZ string of the footer for
 * times past the last transition; and the proleptic Gregorian calendar
 * both need. Nothing touches TZ or the C library's zone state.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator.h"
#include "tz.h"

/* A daylight-saving rule of a POSIX TZ string: Jn, n or Mm.w.d, at time. */
struct tz_rule {
	char	kind;		/* 'J', 'N' or 'M' */
	int	day;		/* Jn: 1-365; n: 0-365; M: weekday 0-6 */
	int	week;		/* M: 1-5, 5 meaning the last */
	int	month;		/* M: 1-12 */
	int32_t	time;		/* seconds after local midnight */
};

/* A zone: transitions, then the footer rule beyond the last one. */
struct tz {
	int64_t		*trans;		/* UTC seconds, rising */
	int32_t		*trans_off;	/* offset from each one on */
	size_t		 ntrans;
	int32_t		 first_off;	/* before the first */
	int		 has_footer;
	int32_t		 std_off, dst_off;
	int		 has_dst;
	struct tz_rule start, end;
};

/* Floor division, for times before 1970. */
int64_t
tz_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Whether year y is a leap year in the proleptic Gregorian calendar. */
int
tz_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in month m of year y. */
int
tz_mdays(int64_t y, int m)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && tz_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d, counting in 400-year eras from March. */
int64_t
tz_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = tz_floordiv(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The date of day z (days since 1970-01-01), inverse of the above. */
void
tz_civil_from_days(int64_t z, int64_t *yp, int *mp, int *dp)
{
	int64_t era, doe, yoe, doy, mp0, y;

	z += 719468;
	era = tz_floordiv(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp0 = (5 * doy + 2) / 153;
	*dp = (int)(doy - (153 * mp0 + 2) / 5 + 1);
	*mp = (int)(mp0 < 10 ? mp0 + 3 : mp0 - 9);
	*yp = *mp <= 2 ? y + 1 : y;
}

/* Day of week of day z, Sunday 0 (1970-01-01 was a Thursday). */
int
tz_weekday(int64_t z)
{
	return (int)(z - tz_floordiv(z + 4, 7) * 7 + 4);
}


/* Reads a big-endian integer of n bytes (4 or 8) as signed. */
static int64_t
tz_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	if (n == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

/* Parses [+-]hh[:mm[:ss]] into seconds; NULL if malformed. */
static const char *
tz_posix_time(const char *p, int32_t *out)
{
	int sign = 1, part, i;
	int32_t v = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	for (i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)*p))
			return NULL;
		part = 0;
		while (isdigit((unsigned char)*p) && part < 1000)
			part = part * 10 + (*p++ - '0');
		v += part * (i == 0 ? 3600 : i == 1 ? 60 : 1);
		if (*p != ':' || i == 2)
			break;
		p++;
	}
	*out = sign * v;
	return p;
}

/* Parses a zone abbreviation: letters, or anything between < and >. */
static const char *
tz_posix_name(const char *p)
{
	const char *s = p;

	if (*p == '<') {
		while (*p != '\0' && *p != '>')
			p++;
		return *p == '>' ? p + 1 : NULL;
	}
	while (isalpha((unsigned char)*p))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* Parses a rule "Jn", "n" or "Mm.w.d", then an optional "/time". */
static const char *
tz_posix_rule(const char *p, struct tz_rule *r)
{
	char *end;
	long a, b, c;

	if (*p == 'M') {
		a = strtol(p + 1, &end, 10);
		if (*end != '.')
			return NULL;
		b = strtol(end + 1, &end, 10);
		if (*end != '.')
			return NULL;
		c = strtol(end + 1, &end, 10);
		if (a < 1 || a > 12 || b < 1 || b > 5 || c < 0 || c > 6)
			return NULL;
		r->kind = 'M';
		r->month = (int)a;
		r->week = (int)b;
		r->day = (int)c;
	} else {
		r->kind = *p == 'J' ? 'J' : 'N';
		if (*p == 'J')
			p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		a = strtol(p, &end, 10);
		if (a < (r->kind == 'J') || a > 365)
			return NULL;
		r->day = (int)a;
	}
	p = end;
	r->time = 7200;
	if (*p == '/')
		p = tz_posix_time(p + 1, &r->time);
	return p;
}

/* Parses the TZif footer, e.g. "CET-1CEST,M3.5.0,M10.5.0/3". */
static int
tz_posix_parse(struct tz *z, const char *s)
{
	const char *p = s;
	int32_t v;

	if ((p = tz_posix_name(p)) == NULL ||
	    (p = tz_posix_time(p, &v)) == NULL)
		return -1;
	z->std_off = -v;
	z->has_footer = 1;
	if (*p == '\0')
		return 0;
	if ((p = tz_posix_name(p)) == NULL)
		return -1;
	z->has_dst = 1;
	z->dst_off = z->std_off + 3600;
	if (*p != ',' && *p != '\0') {
		if ((p = tz_posix_time(p, &v)) == NULL)
			return -1;
		z->dst_off = -v;
	}
	if (*p == '\0') {
		/* POSIX leaves the default open; tzcode uses the US rule. */
		p = ",M3.2.0,M11.1.0";
	}
	if (*p++ != ',' || (p = tz_posix_rule(p, &z->start)) == NULL ||
	    *p++ != ',' || (p = tz_posix_rule(p, &z->end)) == NULL ||
	    *p != '\0')
		return -1;
	return 0;
}

/* UTC time at which rule r takes effect in year y, prev_off in force. */
static int64_t
tz_rule_time(const struct tz_rule *r, int64_t y, int32_t prev_off)
{
	int64_t day;
	int first, d;

	switch (r->kind) {
	case 'J':
		day = tz_days_from_civil(y, 1, 1) + r->day - 1;
		if (tz_leap(y) && r->day > 59)
			day++;
		break;
	case 'N':
		day = tz_days_from_civil(y, 1, 1) + r->day;
		break;
	default:
		day = tz_days_from_civil(y, r->month, 1);
		first = tz_weekday(day);
		d = 1 + (r->day - first + 7) % 7 + (r->week - 1) * 7;
		while (d > tz_mdays(y, r->month))
			d -= 7;
		day += d - 1;
		break;
	}
	return day * TZ_DAY + r->time - prev_off;
}

/*
 * The footer rule at t: offset, and the UTC interval [start, end) around t
 * in which it holds (bounds may be transitions that change nothing).
 */
static void
tz_posix_lookup(const struct tz *z, int64_t t, int32_t *offp,
    int64_t *startp, int64_t *endp)
{
	int64_t when[10], y, tmp;
	int dst[10], n = 0, i, j, tmpd;
	int64_t yy;
	int m, d;

	*offp = z->std_off;
	*startp = INT64_MIN;
	*endp = INT64_MAX;
	if (!z->has_dst)
		return;
	tz_civil_from_days(tz_floordiv(t + z->std_off, TZ_DAY), &y, &m,
	    &d);
	for (yy = y - 2; yy <= y + 2; yy++) {
		when[n] = tz_rule_time(&z->end, yy, z->dst_off);
		dst[n++] = 0;
		when[n] = tz_rule_time(&z->start, yy, z->std_off);
		dst[n++] = 1;
	}
	/* Insertion sort; on a tie the end goes first, so DST wins. */
	for (i = 1; i < n; i++) {
		for (j = i; j > 0 && (when[j - 1] > when[j] ||
		    (when[j - 1] == when[j] && dst[j - 1] > dst[j])); j--) {
			tmp = when[j];
			when[j] = when[j - 1];
			when[j - 1] = tmp;
			tmpd = dst[j];
			dst[j] = dst[j - 1];
			dst[j - 1] = tmpd;
		}
	}
	for (i = 0; i < n; i++) {
		if (when[i] <= t) {
			*offp = dst[i] ? z->dst_off : z->std_off;
			*startp = when[i];
		} else {
			*endp = when[i];
			break;
		}
	}
}

/* The UTC offset at t and the interval [start, end) where it holds. */
void
tz_lookup(const struct tz *z, int64_t t, int32_t *offp,
    int64_t *startp, int64_t *endp)
{
	size_t lo, hi, mid;

	if (z == NULL) {
		*offp = 0;
		*startp = INT64_MIN;
		*endp = INT64_MAX;
		return;
	}
	if (z->ntrans == 0 || t < z->trans[0]) {
		if (z->ntrans == 0 && z->has_footer) {
			tz_posix_lookup(z, t, offp, startp, endp);
			return;
		}
		*offp = z->first_off;
		*startp = INT64_MIN;
		*endp = z->ntrans > 0 ? z->trans[0] : INT64_MAX;
		return;
	}
	/* The last transition at or before t. */
	lo = 0;
	hi = z->ntrans;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	if (lo + 1 < z->ntrans) {
		*offp = z->trans_off[lo];
		*startp = z->trans[lo];
		*endp = z->trans[lo + 1];
		return;
	}
	if (!z->has_footer) {
		*offp = z->trans_off[lo];
		*startp = z->trans[lo];
		*endp = INT64_MAX;
		return;
	}
	tz_posix_lookup(z, t, offp, startp, endp);
	if (*startp < z->trans[lo])
		*startp = z->trans[lo];
}

/* Frees a zone. */
void
tz_free(struct tz *z)
{
	if (z == NULL)
		return;
	free(z->trans);
	free(z->trans_off);
	free(z);
}

/*
 * Decodes a TZif file: the version 1 block (32-bit times), then for
 * version 2 and later the 64-bit block and the footer. -1 if malformed.
 */
static int
tz_tzif_parse(struct tz *z, const unsigned char *buf, size_t len)
{
	const unsigned char *p = buf, *end = buf + len;
	const unsigned char *times, *idx, *types;
	uint64_t isut, isstd, leap, timecnt, typecnt, charcnt, need;
	int width = 4, pass, version;
	const char *nl;
	char *footer;
	size_t i;

	for (pass = 0; pass < 2; pass++) {
		if ((size_t)(end - p) < 44 || memcmp(p, "TZif", 4) != 0)
			return -1;
		version = p[4];
		isut = (uint32_t)tz_be(p + 20, 4);
		isstd = (uint32_t)tz_be(p + 24, 4);
		leap = (uint32_t)tz_be(p + 28, 4);
		timecnt = (uint32_t)tz_be(p + 32, 4);
		typecnt = (uint32_t)tz_be(p + 36, 4);
		charcnt = (uint32_t)tz_be(p + 40, 4);
		p += 44;
		need = timecnt * (width + 1) + typecnt * 6 + charcnt +
		    leap * (width + 4) + isstd + isut;
		if (need > (uint64_t)(end - p))
			return -1;
		if (pass == 0 && version != 0) {
			/* Skip to the 64-bit block. */
			p += need;
			width = 8;
			continue;
		}
		if (typecnt == 0)
			return -1;
		times = p;
		idx = times + timecnt * width;
		types = idx + timecnt;
		z->ntrans = timecnt;
		z->trans = xcalloc(timecnt + 1, sizeof *z->trans);
		z->trans_off = xcalloc(timecnt + 1, sizeof *z->trans_off);
		z->first_off = (int32_t)tz_be(types, 4);
		for (i = 0; i < timecnt; i++) {
			if (idx[i] >= typecnt)
				return -1;
			z->trans[i] = tz_be(times + i * width, width);
			if (i > 0 && z->trans[i] <= z->trans[i - 1])
				return -1;
			z->trans_off[i] = (int32_t)tz_be(types + idx[i] * 6,
			    4);
		}
		p += need;
		break;
	}
	if (width == 8) {
		/* The footer: "\nTZ\n", the rule for later times. */
		if (p >= end || *p != '\n')
			return -1;
		p++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return -1;
		if (nl > (const char *)p) {
			footer = xstrndup((const char *)p,
			    (size_t)(nl - (const char *)p));
			i = tz_posix_parse(z, footer) != 0;
			free(footer);
			if (i)
				return -1;
		}
	}
	return 0;
}

/* Loads the zone called name from the zoneinfo folder. */
struct tz *
tz_load(const char *what, const char *name, struct orc_error *err)
{
	const char *dir = getenv("TZDIR");
	struct tz *z;
	struct stat st;
	char *path, *buf;
	const char *p;
	size_t len;

	if (dir == NULL || *dir == '\0')
		dir = "/usr/share/zoneinfo";
	/* A name, not a path: no leading slash, no "..", no odd bytes. */
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("/_+-.", *p) == NULL)
			break;
	if (*name == '\0' || *name == '/' || *p != '\0' ||
	    strstr(name, "..") != NULL || strlen(name) > 128) {
		orc_error_set(err, ORC_EINVAL, "%s: timezone "
		    "\"%.128s\" is not a valid IANA name", what, name);
		return NULL;
	}
	path = xasprintf("%s/%s", dir, name);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		orc_error_set(err, ORC_EINVAL, "%s: unknown timezone "
		    "\"%s\" (no %s; is tzdata installed?)", what, name, path);
		free(path);
		return NULL;
	}
	if ((buf = orc_read_file(path, &len, err)) == NULL) {
		free(path);
		return NULL;
	}
	z = xcalloc(1, sizeof *z);
	if (tz_tzif_parse(z, (unsigned char *)buf, len) != 0) {
		orc_error_set(err, ORC_EINVAL, "%s: timezone \"%s\": "
		    "%s is not a valid TZif file", what, name, path);
		tz_free(z);
		z = NULL;
	}
	free(buf);
	free(path);
	return z;
}
