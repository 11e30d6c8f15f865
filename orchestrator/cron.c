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
 * Zones and the calendar come from tz.c.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "orchestrator.h"
#include "tz.h"

#define CRON_YEARS	9	/* search horizon: Feb 29 skips 2100 */
#define CRON_HORIZON	((int64_t)CRON_YEARS * 366 * TZ_DAY)
#define CRON_MIN_MS	(-62135596800000LL)	/* 0001-01-01 */
#define CRON_MAX_MS	(253402300799000LL)	/* 9999-12-31 23:59:59 */

struct cron {
	uint64_t	 minute;	/* bits 0-59 */
	uint32_t	 hour;		/* bits 0-23 */
	uint32_t	 dom;		/* bits 1-31 */
	uint32_t	 month;		/* bits 1-12 */
	uint32_t	 dow;		/* bits 0-6, Sunday 0 */
	int		 dom_star;	/* the field begins with '*' */
	int		 dow_star;
	int		 hour_star;
	struct tz	*zone;		/* NULL for UTC */
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

/* ---- the schedule ---- */

/* Expands an alias, fills the masks, loads the zone. */
struct cron *
cron_parse(const char *expr, const char *timezone, struct orc_error *err)
{
	struct cron *c;
	const char *text = expr, *p;
	char *what;
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
		what = xasprintf("cron \"%s\"", expr);
		c->zone = tz_load(what, timezone, err);
		free(what);
		if (c->zone == NULL) {
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
	tz_free(c->zone);
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
	int dow_ok = (c->dow >> tz_weekday(z)) & 1;

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

	lo = tz_floordiv(lo + 59, 60) * 60;
	day = tz_floordiv(lo, TZ_DAY);
	secs = lo - day * TZ_DAY;
	hour = (int)(secs / 3600);
	min = (int)(secs % 3600 / 60);
	tz_civil_from_days(day, &y, &m, &d);
	for (;;) {
		if (day * TZ_DAY > limit)
			return -1;
		if (!((c->month >> m) & 1)) {
			if (++m > 12) {
				m = 1;
				y++;
			}
			d = 1;
			day = tz_days_from_civil(y, m, 1);
			hour = min = 0;
			continue;
		}
		if (!cron_day_matches(c, day, d)) {
			tz_civil_from_days(++day, &y, &m, &d);
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
			return day * TZ_DAY + hour * 3600 + min * 60;
		if (hour < 24 && min == 60) {
			hour++;
			min = 0;
			continue;
		}
		tz_civil_from_days(++day, &y, &m, &d);
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
		tz_lookup(c->zone, start - 1, &poff, &pstart, &pend);
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
	t = tz_floordiv(after_ms, 1000) + 1;
	limit = t + CRON_HORIZON;
	llimit = limit + 2 * TZ_DAY;
	for (;;) {
		tz_lookup(c->zone, t, &off, &start, &end);
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
