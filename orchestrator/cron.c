/*
 * Cron schedules: parsing five-field expressions into bit masks, and finding
 * the next fire time in a timezone. The search walks UTC intervals of
 * constant UTC offset (between two transitions of the zone); inside one,
 * local time is a plain shift of UTC, so the next matching local minute is
 * found on the calendar alone (cron_search) and shifted back. Local minutes
 * that fall in a spring-forward gap belong to no interval and are skipped;
 * those repeated by a fall-back are met twice, and the second meeting is
 * dropped unless the hour field is a wildcard (see cron.h).
 *
 * Zones come from TZif files (RFC 8536), parsed here: the 64-bit transition
 * table, then the POSIX TZ string in the footer for times past the last
 * transition. Nothing touches TZ or the C library's zone state.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "orchestrator.h"

#define CRON_DAY	86400
#define CRON_YEARS	9	/* search horizon: Feb 29 skips 2100 */
#define CRON_HORIZON	((int64_t)CRON_YEARS * 366 * CRON_DAY)
#define CRON_MIN_MS	(-62135596800000LL)	/* 0001-01-01 */
#define CRON_MAX_MS	(253402300799000LL)	/* 9999-12-31 23:59:59 */

/* A daylight-saving rule of a POSIX TZ string: Jn, n or Mm.w.d, at time. */
struct cron_rule {
	char	kind;		/* 'J', 'N' or 'M' */
	int	day;		/* Jn: 1-365; n: 0-365; M: weekday 0-6 */
	int	week;		/* M: 1-5, 5 meaning the last */
	int	month;		/* M: 1-12 */
	int32_t	time;		/* seconds after local midnight */
};

/* A zone: transitions, then the footer rule beyond the last one. */
struct cron_zone {
	int64_t		*trans;		/* UTC seconds, rising */
	int32_t		*trans_off;	/* offset from each one on */
	size_t		 ntrans;
	int32_t		 first_off;	/* before the first */
	int		 has_footer;
	int32_t		 std_off, dst_off;
	int		 has_dst;
	struct cron_rule start, end;
};

struct cron {
	uint64_t	 minute;	/* bits 0-59 */
	uint32_t	 hour;		/* bits 0-23 */
	uint32_t	 dom;		/* bits 1-31 */
	uint32_t	 month;		/* bits 1-12 */
	uint32_t	 dow;		/* bits 0-6, Sunday 0 */
	int		 dom_star;	/* the field begins with '*' */
	int		 dow_star;
	int		 hour_star;
	struct cron_zone *zone;		/* NULL for UTC */
	char		*text;
};

/* One of the five fields: its name, bounds and names for values. */
struct cron_field {
	const char	 *name;
	int		  min, max;	/* values accepted */
	int		  star_max;	/* top of "*" and "N/step" */
	const char *const *names;	/* 3-letter names, or NULL */
	int		  name_base;	/* value of names[0] */
};

static const char *const cron_months[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const cron_days[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const struct cron_field cron_fields[5] = {
	{ "minute", 0, 59, 59, NULL, 0 },
	{ "hour", 0, 23, 23, NULL, 0 },
	{ "day of month", 1, 31, 31, NULL, 0 },
	{ "month", 1, 12, 12, cron_months, 1 },
	{ "day of week", 0, 7, 6, cron_days, 0 }
};

static const struct {
	const char	*alias;
	const char	*expr;
} cron_aliases[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" }
};

/* Floor division, for times before 1970. */
static int64_t
cron_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Whether year y is a leap year in the proleptic Gregorian calendar. */
static int
cron_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in month m of year y. */
static int
cron_mdays(int64_t y, int m)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	return m == 2 && cron_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d, counting in 400-year eras from March. */
static int64_t
cron_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = cron_floordiv(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The date of day z (days since 1970-01-01), inverse of the above. */
static void
cron_civil_from_days(int64_t z, int64_t *yp, int *mp, int *dp)
{
	int64_t era, doe, yoe, doy, mp0, y;

	z += 719468;
	era = cron_floordiv(z, 146097);
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
static int
cron_weekday(int64_t z)
{
	return (int)(z - cron_floordiv(z + 4, 7) * 7 + 4);
}

/* ---- parsing ---- */

/* Reads a value token: a number, or a name if the field has names. */
static int
cron_value(const char *expr, const struct cron_field *f, const char *tok,
    size_t len, int *vp, struct orc_error *err)
{
	size_t i;
	int v = 0;

	if (len > 0 && isdigit((unsigned char)tok[0])) {
		for (i = 0; i < len; i++) {
			if (!isdigit((unsigned char)tok[i]))
				goto bad;
			if (v < 1000)
				v = v * 10 + (tok[i] - '0');
		}
		if (v < f->min || v > f->max) {
			orc_error_set(err, ORC_EINVAL, "cron \"%s\": %s %.*s "
			    "is out of range %d-%d", expr, f->name, (int)len,
			    tok, f->min, f->max);
			return -1;
		}
		*vp = v;
		return 0;
	}
	if (f->names != NULL && len == 3) {
		for (i = 0; f->names[i] != NULL; i++) {
			if (strncasecmp(tok, f->names[i], 3) == 0) {
				*vp = (int)i + f->name_base;
				return 0;
			}
		}
	}
bad:
	orc_error_set(err, ORC_EINVAL, "cron \"%s\": %s \"%.*s\" is not %s",
	    expr, f->name, (int)len, tok, f->names != NULL ?
	    "a number or a name" : "a number");
	return -1;
}

/* Parses one list item: "*", "N", "N-M", each optionally "/STEP". */
static int
cron_item(const char *expr, const struct cron_field *f, const char *tok,
    size_t len, uint64_t *mask, struct orc_error *err)
{
	const char *slash;
	const char *dash;
	size_t blen, i;
	int lo, hi, step = 1, v;

	if (len == 0) {
		orc_error_set(err, ORC_EINVAL, "cron \"%s\": %s has an empty "
		    "list item", expr, f->name);
		return -1;
	}
	slash = memchr(tok, '/', len);
	blen = slash != NULL ? (size_t)(slash - tok) : len;
	if (slash != NULL) {
		const char *s = slash + 1;
		size_t slen = len - blen - 1;

		step = 0;
		for (i = 0; i < slen && isdigit((unsigned char)s[i]); i++)
			if (step < 1000)
				step = step * 10 + (s[i] - '0');
		if (slen == 0 || i != slen || step == 0) {
			orc_error_set(err, ORC_EINVAL, "cron \"%s\": %s step "
			    "\"%.*s\" is not a positive number", expr, f->name,
			    (int)slen, s);
			return -1;
		}
	}
	if (blen == 1 && tok[0] == '*') {
		lo = f->min;
		hi = f->star_max;
	} else if ((dash = memchr(tok, '-', blen)) != NULL) {
		if (cron_value(expr, f, tok, (size_t)(dash - tok), &lo,
		    err) != 0 || cron_value(expr, f, dash + 1,
		    blen - (size_t)(dash - tok) - 1, &hi, err) != 0)
			return -1;
		/* "FRI-SUN": Sunday as the end of a range is 7. */
		if (f->names == cron_days && hi == 0 && lo > 0)
			hi = 7;
		if (lo > hi) {
			orc_error_set(err, ORC_EINVAL, "cron \"%s\": %s range "
			    "\"%.*s\" runs backwards", expr, f->name,
			    (int)blen, tok);
			return -1;
		}
	} else {
		if (cron_value(expr, f, tok, blen, &lo, err) != 0)
			return -1;
		/* "5/10" means from 5 to the top, every 10. */
		hi = slash != NULL ? (lo > f->star_max ? lo : f->star_max) : lo;
	}
	for (v = lo; v <= hi; v += step)
		*mask |= (uint64_t)1 << v;
	return 0;
}

/* Parses a comma-separated field into a mask of its values. */
static int
cron_list(const char *expr, const struct cron_field *f, const char *tok,
    size_t len, uint64_t *mask, struct orc_error *err)
{
	const char *comma;
	size_t n;

	*mask = 0;
	for (;;) {
		comma = memchr(tok, ',', len);
		n = comma != NULL ? (size_t)(comma - tok) : len;
		if (cron_item(expr, f, tok, n, mask, err) != 0)
			return -1;
		if (comma == NULL)
			return 0;
		tok += n + 1;
		len -= n + 1;
	}
}

/* Splits expr (an alias already expanded into text) into the five masks. */
static int
cron_fields_parse(struct cron *c, const char *expr, const char *text,
    struct orc_error *err)
{
	const char *tok[6];
	size_t len[6];
	const char *p = text;
	uint64_t mask[5];
	int n = 0, i;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (n == 6)
			break;
		tok[n] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		len[n] = (size_t)(p - tok[n]);
		n++;
	}
	if (n != 5) {
		orc_error_set(err, ORC_EINVAL, "cron \"%s\": expected 5 fields "
		    "(minute hour day-of-month month day-of-week), got %s%d",
		    expr, n == 6 ? "more than " : "", n == 6 ? 5 : n);
		return -1;
	}
	for (i = 0; i < 5; i++)
		if (cron_list(expr, &cron_fields[i], tok[i], len[i], &mask[i],
		    err) != 0)
			return -1;
	c->minute = mask[0];
	c->hour = (uint32_t)mask[1];
	c->dom = (uint32_t)mask[2];
	c->month = (uint32_t)mask[3];
	/* 7 is Sunday too. */
	c->dow = (uint32_t)((mask[4] | mask[4] >> 7) & 0x7f);
	c->hour_star = tok[1][0] == '*';
	c->dom_star = tok[2][0] == '*';
	c->dow_star = tok[4][0] == '*';
	return 0;
}

/* ---- timezones ---- */

/* Reads a big-endian integer of n bytes (4 or 8) as signed. */
static int64_t
cron_be(const unsigned char *p, int n)
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
cron_posix_time(const char *p, int32_t *out)
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
cron_posix_name(const char *p)
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
cron_posix_rule(const char *p, struct cron_rule *r)
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
		p = cron_posix_time(p + 1, &r->time);
	return p;
}

/* Parses the TZif footer, e.g. "CET-1CEST,M3.5.0,M10.5.0/3". */
static int
cron_posix_parse(struct cron_zone *z, const char *s)
{
	const char *p = s;
	int32_t v;

	if ((p = cron_posix_name(p)) == NULL ||
	    (p = cron_posix_time(p, &v)) == NULL)
		return -1;
	z->std_off = -v;
	z->has_footer = 1;
	if (*p == '\0')
		return 0;
	if ((p = cron_posix_name(p)) == NULL)
		return -1;
	z->has_dst = 1;
	z->dst_off = z->std_off + 3600;
	if (*p != ',' && *p != '\0') {
		if ((p = cron_posix_time(p, &v)) == NULL)
			return -1;
		z->dst_off = -v;
	}
	if (*p == '\0') {
		/* POSIX leaves the default open; tzcode uses the US rule. */
		p = ",M3.2.0,M11.1.0";
	}
	if (*p++ != ',' || (p = cron_posix_rule(p, &z->start)) == NULL ||
	    *p++ != ',' || (p = cron_posix_rule(p, &z->end)) == NULL ||
	    *p != '\0')
		return -1;
	return 0;
}

/* UTC time at which rule r takes effect in year y, prev_off in force. */
static int64_t
cron_rule_time(const struct cron_rule *r, int64_t y, int32_t prev_off)
{
	int64_t day;
	int first, d;

	switch (r->kind) {
	case 'J':
		day = cron_days_from_civil(y, 1, 1) + r->day - 1;
		if (cron_leap(y) && r->day > 59)
			day++;
		break;
	case 'N':
		day = cron_days_from_civil(y, 1, 1) + r->day;
		break;
	default:
		day = cron_days_from_civil(y, r->month, 1);
		first = cron_weekday(day);
		d = 1 + (r->day - first + 7) % 7 + (r->week - 1) * 7;
		while (d > cron_mdays(y, r->month))
			d -= 7;
		day += d - 1;
		break;
	}
	return day * CRON_DAY + r->time - prev_off;
}

/*
 * The footer rule at t: offset, and the UTC interval [start, end) around t
 * in which it holds (bounds may be transitions that change nothing).
 */
static void
cron_posix_lookup(const struct cron_zone *z, int64_t t, int32_t *offp,
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
	cron_civil_from_days(cron_floordiv(t + z->std_off, CRON_DAY), &y, &m,
	    &d);
	for (yy = y - 2; yy <= y + 2; yy++) {
		when[n] = cron_rule_time(&z->end, yy, z->dst_off);
		dst[n++] = 0;
		when[n] = cron_rule_time(&z->start, yy, z->std_off);
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
static void
cron_zone_lookup(const struct cron_zone *z, int64_t t, int32_t *offp,
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
			cron_posix_lookup(z, t, offp, startp, endp);
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
	cron_posix_lookup(z, t, offp, startp, endp);
	if (*startp < z->trans[lo])
		*startp = z->trans[lo];
}

/* Frees a zone. */
static void
cron_zone_free(struct cron_zone *z)
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
cron_tzif_parse(struct cron_zone *z, const unsigned char *buf, size_t len)
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
		isut = (uint32_t)cron_be(p + 20, 4);
		isstd = (uint32_t)cron_be(p + 24, 4);
		leap = (uint32_t)cron_be(p + 28, 4);
		timecnt = (uint32_t)cron_be(p + 32, 4);
		typecnt = (uint32_t)cron_be(p + 36, 4);
		charcnt = (uint32_t)cron_be(p + 40, 4);
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
		z->first_off = (int32_t)cron_be(types, 4);
		for (i = 0; i < timecnt; i++) {
			if (idx[i] >= typecnt)
				return -1;
			z->trans[i] = cron_be(times + i * width, width);
			if (i > 0 && z->trans[i] <= z->trans[i - 1])
				return -1;
			z->trans_off[i] = (int32_t)cron_be(types + idx[i] * 6,
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
			i = cron_posix_parse(z, footer) != 0;
			free(footer);
			if (i)
				return -1;
		}
	}
	return 0;
}

/* Loads the zone called name from the zoneinfo folder. */
static struct cron_zone *
cron_zone_load(const char *expr, const char *name, struct orc_error *err)
{
	const char *dir = getenv("TZDIR");
	struct cron_zone *z;
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
		orc_error_set(err, ORC_EINVAL, "cron \"%s\": timezone "
		    "\"%.128s\" is not a valid IANA name", expr, name);
		return NULL;
	}
	path = xasprintf("%s/%s", dir, name);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		orc_error_set(err, ORC_EINVAL, "cron \"%s\": unknown timezone "
		    "\"%s\" (no %s; is tzdata installed?)", expr, name, path);
		free(path);
		return NULL;
	}
	if ((buf = orc_read_file(path, &len, err)) == NULL) {
		free(path);
		return NULL;
	}
	z = xcalloc(1, sizeof *z);
	if (cron_tzif_parse(z, (unsigned char *)buf, len) != 0) {
		orc_error_set(err, ORC_EINVAL, "cron \"%s\": timezone \"%s\": "
		    "%s is not a valid TZif file", expr, name, path);
		cron_zone_free(z);
		z = NULL;
	}
	free(buf);
	free(path);
	return z;
}

/* ---- the schedule ---- */

/* Expands an alias, fills the masks, loads the zone. */
struct cron *
cron_parse(const char *expr, const char *timezone, struct orc_error *err)
{
	struct cron *c;
	const char *text = expr, *p;
	size_t i, n;

	if (expr == NULL) {
		orc_error_set(err, ORC_EINVAL, "cron: no schedule");
		return NULL;
	}
	if (strlen(expr) > 256) {
		orc_error_set(err, ORC_EINVAL, "cron \"%.40s...\": schedule "
		    "longer than 256 bytes", expr);
		return NULL;
	}
	for (p = expr; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '@') {
		n = strcspn(p, " \t");
		text = NULL;
		for (i = 0; i < sizeof cron_aliases / sizeof cron_aliases[0];
		    i++)
			if (strlen(cron_aliases[i].alias) == n &&
			    strncasecmp(p, cron_aliases[i].alias, n) == 0)
				text = cron_aliases[i].expr;
		if (text == NULL || p[n + strspn(p + n, " \t")] != '\0') {
			orc_error_set(err, ORC_EINVAL, "cron \"%s\": unknown "
			    "alias \"%.*s\" (use @yearly, @annually, "
			    "@monthly, @weekly, @daily, @midnight or @hourly)",
			    expr, (int)n, p);
			return NULL;
		}
	}
	c = xcalloc(1, sizeof *c);
	if (cron_fields_parse(c, expr, text, err) != 0) {
		free(c);
		return NULL;
	}
	if (timezone != NULL && strcmp(timezone, "UTC") != 0) {
		if ((c->zone = cron_zone_load(expr, timezone, err)) == NULL) {
			free(c);
			return NULL;
		}
		c->text = xasprintf("%s (%s)", expr, timezone);
	} else
		c->text = xstrdup(expr);
	return c;
}

/* Frees the schedule and its zone. */
void
cron_free(struct cron *c)
{
	if (c == NULL)
		return;
	cron_zone_free(c->zone);
	free(c->text);
	free(c);
}

/* The text kept at parse time. */
const char *
cron_describe(const struct cron *c)
{
	return c->text;
}

/* Whether day z (a date y-m-d) matches the two day fields. */
static int
cron_day_matches(const struct cron *c, int64_t z, int d)
{
	int dom_ok = (c->dom >> d) & 1;
	int dow_ok = (c->dow >> cron_weekday(z)) & 1;

	if (c->dom_star || c->dow_star)
		return dom_ok && dow_ok;
	return dom_ok || dow_ok;
}

/*
 * The first local time (seconds, as if local were UTC) at or after lo that
 * is a whole minute matching the schedule, or -1 past limit. Skips whole
 * months, days and hours that cannot match.
 */
static int64_t
cron_search(const struct cron *c, int64_t lo, int64_t limit)
{
	int64_t day, y, secs;
	int m, d, hour, min;

	lo = cron_floordiv(lo + 59, 60) * 60;
	day = cron_floordiv(lo, CRON_DAY);
	secs = lo - day * CRON_DAY;
	hour = (int)(secs / 3600);
	min = (int)(secs % 3600 / 60);
	cron_civil_from_days(day, &y, &m, &d);
	for (;;) {
		if (day * CRON_DAY > limit)
			return -1;
		if (!((c->month >> m) & 1)) {
			if (++m > 12) {
				m = 1;
				y++;
			}
			d = 1;
			day = cron_days_from_civil(y, m, 1);
			hour = min = 0;
			continue;
		}
		if (!cron_day_matches(c, day, d)) {
			cron_civil_from_days(++day, &y, &m, &d);
			hour = min = 0;
			continue;
		}
		while (hour < 24 && !((c->hour >> hour) & 1)) {
			hour++;
			min = 0;
		}
		while (hour < 24 && min < 60 && !((c->minute >> min) & 1))
			min++;
		if (hour < 24 && min < 60)
			return day * CRON_DAY + hour * 3600 + min * 60;
		if (hour < 24 && min == 60) {
			hour++;
			min = 0;
			continue;
		}
		cron_civil_from_days(++day, &y, &m, &d);
		hour = min = 0;
	}
}

/*
 * Whether local time l already occurred before start, in one of the few
 * intervals just before it: the second pass of a fall-back overlap.
 */
static int
cron_seen_before(const struct cron *c, int64_t l, int64_t start)
{
	int64_t pstart, pend;
	int32_t poff;
	int i;

	/* Three back covers transitions that change only the name. */
	for (i = 0; i < 3 && start != INT64_MIN; i++) {
		cron_zone_lookup(c->zone, start - 1, &poff, &pstart, &pend);
		if (l - poff >= pstart && l - poff < start)
			return 1;
		start = pstart;
	}
	return 0;
}

/* Walks intervals of constant offset until a match counts. */
int64_t
cron_next(const struct cron *c, int64_t after_ms)
{
	int64_t t, limit, start, end, lo, hi, l = INT64_MIN, llimit;
	int64_t prev_hi = INT64_MIN;
	int32_t off;

	/* Years 1 to 9999 only: keeps the arithmetic far from overflow. */
	if (after_ms < CRON_MIN_MS || after_ms > CRON_MAX_MS)
		return -1;
	/* Fire times are whole seconds strictly after after_ms. */
	t = cron_floordiv(after_ms, 1000) + 1;
	limit = t + CRON_HORIZON;
	llimit = limit + 2 * CRON_DAY;
	for (;;) {
		cron_zone_lookup(c->zone, t, &off, &start, &end);
		lo = t + off;
		hi = end == INT64_MAX ? INT64_MAX : end + off;
		/*
		 * Search again when the last match is behind this interval's
		 * start, or when a fall-back moved local time backwards.
		 */
		if ((l < lo || lo < prev_hi) &&
		    (l = cron_search(c, lo, llimit)) < 0)
			return -1;
		/* Each match inside this interval, until one counts. */
		while (l < hi) {
			if (c->hour_star || !cron_seen_before(c, l, start))
				return (l - off) * 1000;
			if ((l = cron_search(c, l + 60, llimit)) < 0)
				return -1;
		}
		if (end == INT64_MAX || end > limit)
			return -1;
		prev_hi = hi;
		t = end;
	}
}

/* Chains cron_next() from from_ms until to_ms or max. */
int
cron_missed(const struct cron *c, int64_t from_ms, int64_t to_ms,
    int64_t *out, int max)
{
	int64_t t = from_ms;
	int n = 0;

	while (n < max && (t = cron_next(c, t)) >= 0 && t <= to_ms)
		out[n++] = t;
	return n;
}
