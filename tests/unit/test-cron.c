/*
 * Tests of cron schedules: every field syntax and alias, parse errors,
 * next-fire tables in UTC (month ends, leap days, the day-of-month OR
 * day-of-week rule), both DST changes of 2026 in Paris and New York, a
 * comparison with the C library's zone code over decades, catch-up lists,
 * and a bounded performance run.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "orchestrator.h"
#include "test.h"

/* "YYYY-MM-DD HH:MM[:SS]" in UTC to ms. */
static int64_t
utc(const char *s)
{
	struct tm tm;
	int sec = 0;

	memset(&tm, 0, sizeof tm);
	if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &sec) < 5) {
		fprintf(stderr, "bad time %s\n", s);
		exit(99);
	}
	tm.tm_year -= 1900;
	tm.tm_mon--;
	tm.tm_sec = sec;
	return (int64_t)timegm(&tm) * 1000;
}

/* ms to "YYYY-MM-DD HH:MM" in UTC, or "-1". */
static void
fmt(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);

	if (ms < 0 && ms != -1 && ms % 1000 != 0)
		t--;
	if (ms == -1) {
		snprintf(buf, len, "-1");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

/* The next n fire times of expr in tz after start, as ", "-joined UTC. */
static const char *
seq(const char *expr, const char *tz, const char *start, int n)
{
	static char out[2048];
	struct orc_error err;
	struct cron *c;
	char one[64];
	int64_t t;
	size_t len = 0;
	int i;

	out[0] = '\0';
	if ((c = cron_parse(expr, tz, &err)) == NULL) {
		snprintf(out, sizeof out, "error: %s", err.message);
		return out;
	}
	t = utc(start);
	for (i = 0; i < n; i++) {
		t = cron_next(c, t);
		fmt(t, one, sizeof one);
		len += snprintf(out + len, sizeof out - len, "%s%s",
		    i > 0 ? ", " : "", one);
		if (t < 0)
			break;
	}
	cron_free(c);
	return out;
}

/* Lists, ranges, steps and names in every field, in UTC. */
static void
test_cron_fields(void)
{
	struct cron *c;

	CHECK_STR(seq("* * * * *", NULL, "2026-01-01 00:00", 2),
	    "2026-01-01 00:01, 2026-01-01 00:02");
	/* Strictly after: from 00:00:30 the next is 00:01. */
	CHECK_STR(seq("* * * * *", "UTC", "2026-01-01 00:00:30", 1),
	    "2026-01-01 00:01");
	CHECK_STR(seq("5,10-12,*/20 * * * *", NULL, "2026-01-01 00:00", 8),
	    "2026-01-01 00:05, 2026-01-01 00:10, 2026-01-01 00:11, "
	    "2026-01-01 00:12, 2026-01-01 00:20, 2026-01-01 00:40, "
	    "2026-01-01 01:00, 2026-01-01 01:05");
	CHECK_STR(seq("1-10/3 * * * *", NULL, "2026-01-01 00:00", 5),
	    "2026-01-01 00:01, 2026-01-01 00:04, 2026-01-01 00:07, "
	    "2026-01-01 00:10, 2026-01-01 01:01");
	CHECK_STR(seq("5/20 * * * *", NULL, "2026-01-01 00:00", 4),
	    "2026-01-01 00:05, 2026-01-01 00:25, 2026-01-01 00:45, "
	    "2026-01-01 01:05");
	CHECK_STR(seq("0 9-17/4 * * *", NULL, "2026-01-01 00:00", 4),
	    "2026-01-01 09:00, 2026-01-01 13:00, 2026-01-01 17:00, "
	    "2026-01-02 09:00");
	CHECK_STR(seq("15 */6 * * *", NULL, "2026-01-01 00:20", 3),
	    "2026-01-01 06:15, 2026-01-01 12:15, 2026-01-01 18:15");
	CHECK_STR(seq("0 0 1 jan,Jul *", NULL, "2026-01-01 00:00", 2),
	    "2026-07-01 00:00, 2027-01-01 00:00");
	CHECK_STR(seq("0 0 1 FEB-apr *", NULL, "2026-01-01 00:00", 4),
	    "2026-02-01 00:00, 2026-03-01 00:00, 2026-04-01 00:00, "
	    "2027-02-01 00:00");
	CHECK_STR(seq("0 0 1 */5 *", NULL, "2026-01-01 00:00", 3),
	    "2026-06-01 00:00, 2026-11-01 00:00, 2027-01-01 00:00");
	/* 2026-01-01 is a Thursday. */
	CHECK_STR(seq("0 12 * * MON-fri", NULL, "2026-01-01 00:00", 3),
	    "2026-01-01 12:00, 2026-01-02 12:00, 2026-01-05 12:00");
	CHECK_STR(seq("0 0 * * 7", NULL, "2026-01-01 00:00", 2),
	    "2026-01-04 00:00, 2026-01-11 00:00");
	CHECK_STR(seq("0 0 * * 0", NULL, "2026-01-01 00:00", 1),
	    "2026-01-04 00:00");
	CHECK_STR(seq("0 0 * * sUn", NULL, "2026-01-01 00:00", 1),
	    "2026-01-04 00:00");
	CHECK_STR(seq("0 0 * * 5-7", NULL, "2026-01-01 00:00", 4),
	    "2026-01-02 00:00, 2026-01-03 00:00, 2026-01-04 00:00, "
	    "2026-01-09 00:00");
	CHECK_STR(seq("0 0 * * FRI-SUN", NULL, "2026-01-01 00:00", 4),
	    "2026-01-02 00:00, 2026-01-03 00:00, 2026-01-04 00:00, "
	    "2026-01-09 00:00");
	CHECK_STR(seq("0 0 * * */3", NULL, "2026-01-01 00:00", 3),
	    "2026-01-03 00:00, 2026-01-04 00:00, 2026-01-07 00:00");
	CHECK_STR(seq("0 0 */10 * *", NULL, "2026-01-01 00:00", 4),
	    "2026-01-11 00:00, 2026-01-21 00:00, 2026-01-31 00:00, "
	    "2026-02-01 00:00");
	CHECK_STR(seq(" \t0   0 1 1 *\t ", NULL, "2026-01-01 00:00", 1),
	    "2027-01-01 00:00");
	CHECK_STR(seq("59 23 31 12 *", NULL, "2026-12-31 23:59", 1),
	    "2027-12-31 23:59");
	/* Before 1970 too. */
	CHECK_STR(seq("0 0 1 1 *", NULL, "1969-06-01 00:00", 1),
	    "1970-01-01 00:00");
	CHECK_STR(seq("30 * * * *", NULL, "1969-12-31 23:45", 2),
	    "1970-01-01 00:30, 1970-01-01 01:30");
	/* Absurd instants answer -1 instead of overflowing. */
	c = cron_parse("* * * * *", "Europe/Paris", NULL);
	REQUIRE(c != NULL);
	CHECK(cron_next(c, INT64_MAX) == -1);
	CHECK(cron_next(c, INT64_MIN) == -1);
	CHECK(cron_next(c, utc("9999-12-31 23:58")) ==
	    utc("9999-12-31 23:59"));
	cron_free(c);
}

/* Each alias behaves as its expansion; names are case-insensitive. */
static void
test_cron_aliases(void)
{
	static const char *pairs[][2] = {
		{ "@yearly", "0 0 1 1 *" },
		{ "@annually", "0 0 1 1 *" },
		{ "@monthly", "0 0 1 * *" },
		{ "@weekly", "0 0 * * 0" },
		{ "@daily", "0 0 * * *" },
		{ "@midnight", "0 0 * * *" },
		{ "@hourly", "0 * * * *" },
		{ "  @DAILY ", "0 0 * * *" }
	};
	char want[2048];
	size_t i;

	for (i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		snprintf(want, sizeof want, "%s",
		    seq(pairs[i][1], NULL, "2026-05-17 13:21", 3));
		CHECK_STR(seq(pairs[i][0], NULL, "2026-05-17 13:21", 3), want);
		CHECK(strncmp(want, "error", 5) != 0);
	}
	CHECK_STR(seq("@weekly", NULL, "2026-01-01 00:00", 1),
	    "2026-01-04 00:00");
}

/* Bad expressions fail with the field and the token named. */
static void
test_cron_errors(void)
{
	static const char *cases[][2] = {
		{ "61 * * * *",
		    "cron \"61 * * * *\": minute 61 is out of range 0-59" },
		{ "* 24 * * *", "hour 24 is out of range 0-23" },
		{ "* * 0 * *", "day of month 0 is out of range 1-31" },
		{ "* * 32 * *", "day of month 32 is out of range 1-31" },
		{ "* * * 13 *", "month 13 is out of range 1-12" },
		{ "* * * * 8", "day of week 8 is out of range 0-7" },
		{ "* * * foo *", "month \"foo\" is not a number or a name" },
		{ "* * * * mon-fry", "day of week \"fry\" is not a number" },
		{ "* * * * jan", "day of week \"jan\" is not a number" },
		{ "x * * * *", "minute \"x\" is not a number" },
		{ "1a * * * *", "minute \"1a\" is not a number" },
		{ "-5 * * * *", "minute \"\" is not a number" },
		{ "*/0 * * * *", "minute step \"0\" is not a positive number" },
		{ "*/ * * * *", "minute step \"\" is not a positive number" },
		{ "*/x * * * *", "minute step \"x\" is not a positive" },
		{ "10-5 * * * *", "minute range \"10-5\" runs backwards" },
		{ "* * * * FRI-MON", "day of week range \"FRI-MON\" runs" },
		{ "1,,2 * * * *", "minute has an empty list item" },
		{ "1, * * * *", "minute has an empty list item" },
		{ "* * * *", "expected 5 fields" },
		{ "* * * * * *", "got more than 5" },
		{ "", "got 0" },
		{ "@reboot", "unknown alias \"@reboot\"" },
		{ "@daily 5", "unknown alias \"@daily\"" },
		{ "99999999999 * * * *", "minute 99999999999 is out of range" }
	};
	struct orc_error err;
	struct cron *c;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&err, 0, sizeof err);
		c = cron_parse(cases[i][0], NULL, &err);
		CHECK(c == NULL);
		CHECK(err.code == ORC_EINVAL);
		CHECK_CONTAINS(err.message, cases[i][1]);
		cron_free(c);
	}
	CHECK(cron_parse(NULL, NULL, NULL) == NULL);
	CHECK(cron_parse("61 * * * *", NULL, NULL) == NULL);
	cron_free(NULL);
}

/* Month ends, leap days and schedules that never fire. */
static void
test_cron_calendar(void)
{
	CHECK_STR(seq("0 0 31 * *", NULL, "2026-01-31 00:00", 4),
	    "2026-03-31 00:00, 2026-05-31 00:00, 2026-07-31 00:00, "
	    "2026-08-31 00:00");
	CHECK_STR(seq("0 0 30 * *", NULL, "2026-01-30 00:00", 2),
	    "2026-03-30 00:00, 2026-04-30 00:00");
	CHECK_STR(seq("0 0 29 2 *", NULL, "2026-01-01 00:00", 2),
	    "2028-02-29 00:00, 2032-02-29 00:00");
	CHECK_STR(seq("0 0 29 * *", NULL, "2028-01-29 00:00", 2),
	    "2028-02-29 00:00, 2028-03-29 00:00");
	/* 2100 is not a leap year: eight years between two Feb 29. */
	CHECK_STR(seq("0 0 29 2 *", NULL, "2096-03-01 00:00", 1),
	    "2104-02-29 00:00");
	CHECK_STR(seq("0 0 29 2 *", NULL, "1999-03-01 00:00", 1),
	    "2000-02-29 00:00");
	CHECK_STR(seq("0 0 L 2 *", NULL, "2026-01-01 00:00", 1),
	    "error: cron \"0 0 L 2 *\": day of month \"L\" is not a number");
	CHECK_STR(seq("0 0 31 2 *", NULL, "2026-01-01 00:00", 1), "-1");
	CHECK_STR(seq("0 0 30 2 *", "Europe/Paris", "2026-01-01 00:00", 1),
	    "-1");
	CHECK_STR(seq("0 0 31 4,6,9,11 *", NULL, "2026-01-01 00:00", 1),
	    "-1");
	/* Both day fields named: either matches (13th or any Friday). */
	CHECK_STR(seq("0 0 13 * FRI", NULL, "2026-03-01 00:00", 8),
	    "2026-03-06 00:00, 2026-03-13 00:00, 2026-03-20 00:00, "
	    "2026-03-27 00:00, 2026-04-03 00:00, 2026-04-10 00:00, "
	    "2026-04-13 00:00, 2026-04-17 00:00");
	CHECK_STR(seq("0 0 1,15 * 1", NULL, "2026-06-01 00:00", 4),
	    "2026-06-08 00:00, 2026-06-15 00:00, 2026-06-22 00:00, "
	    "2026-06-29 00:00");
	/* One day field led by '*': both must match (Vixie cron). */
	CHECK_STR(seq("0 0 * * MON", NULL, "2026-03-01 00:00", 2),
	    "2026-03-02 00:00, 2026-03-09 00:00");
	CHECK_STR(seq("0 0 13 * *", NULL, "2026-03-01 00:00", 2),
	    "2026-03-13 00:00, 2026-04-13 00:00");
	CHECK_STR(seq("0 0 */2 * MON", NULL, "2026-03-01 00:00", 3),
	    "2026-03-09 00:00, 2026-03-23 00:00, 2026-04-13 00:00");
	/* "*\/7" is Sunday alone, but '*'-led: the 13th AND a Sunday. */
	CHECK_STR(seq("0 0 13 * */7", NULL, "2026-01-01 00:00", 2),
	    "2026-09-13 00:00, 2026-12-13 00:00");
}

/* Paris in 2026: CET to CEST on Mar 29 01:00Z, back on Oct 25 01:00Z. */
static void
test_cron_paris_dst(void)
{
	/* 02:30 does not exist on Mar 29: skipped that day. */
	CHECK_STR(seq("30 2 * * *", "Europe/Paris", "2026-03-27 00:00", 3),
	    "2026-03-27 01:30, 2026-03-28 01:30, 2026-03-30 00:30");
	CHECK_STR(seq("0 3 * * *", "Europe/Paris", "2026-03-28 12:00", 2),
	    "2026-03-29 01:00, 2026-03-30 01:00");
	CHECK_STR(seq("59 1 * * *", "Europe/Paris", "2026-03-28 12:00", 2),
	    "2026-03-29 00:59, 2026-03-29 23:59");
	/* Interval schedules run on real time through the jump. */
	CHECK_STR(seq("*/30 * * * *", "Europe/Paris", "2026-03-29 00:00", 3),
	    "2026-03-29 00:30, 2026-03-29 01:00, 2026-03-29 01:30");
	/* 02:30 happens twice on Oct 25: fired once, the first time. */
	CHECK_STR(seq("30 2 * * *", "Europe/Paris", "2026-10-24 00:00", 3),
	    "2026-10-24 00:30, 2026-10-25 00:30, 2026-10-26 01:30");
	/* From inside the overlap, after the first 02:30 or in the second
	 * pass, the second 02:30 does not fire. */
	CHECK_STR(seq("30 2 * * *", "Europe/Paris", "2026-10-25 00:45", 1),
	    "2026-10-26 01:30");
	CHECK_STR(seq("30 2 * * *", "Europe/Paris", "2026-10-25 01:10", 1),
	    "2026-10-26 01:30");
	CHECK_STR(seq("0 2 * * *", "Europe/Paris", "2026-10-25 00:00", 1),
	    "2026-10-26 01:00");
	/* A wildcard hour keeps its pace through the repeated hour. */
	CHECK_STR(seq("0 * * * *", "Europe/Paris", "2026-10-24 23:30", 3),
	    "2026-10-25 00:00, 2026-10-25 01:00, 2026-10-25 02:00");
	CHECK_STR(seq("*/20 * * * *", "Europe/Paris", "2026-10-25 00:30", 5),
	    "2026-10-25 00:40, 2026-10-25 01:00, 2026-10-25 01:20, "
	    "2026-10-25 01:40, 2026-10-25 02:00");
	/* Local midnight is 23:00Z in winter, 22:00Z in summer. */
	CHECK_STR(seq("@daily", "Europe/Paris", "2026-03-27 12:00", 3),
	    "2026-03-27 23:00, 2026-03-28 23:00, 2026-03-29 22:00");
	CHECK_STR(seq("0 9 * * MON-FRI", "Europe/Paris", "2026-10-23 12:00",
	    2), "2026-10-26 08:00, 2026-10-27 08:00");
}

/* New York in 2026: EDT from Mar 8 07:00Z, EST from Nov 1 06:00Z. */
static void
test_cron_new_york_dst(void)
{
	CHECK_STR(seq("30 2 * * *", "America/New_York", "2026-03-07 00:00",
	    3), "2026-03-07 07:30, 2026-03-09 06:30, 2026-03-10 06:30");
	CHECK_STR(seq("30 1 * * *", "America/New_York", "2026-10-31 00:00",
	    3), "2026-10-31 05:30, 2026-11-01 05:30, 2026-11-02 06:30");
	CHECK_STR(seq("30 * * * *", "America/New_York", "2026-11-01 04:00",
	    4), "2026-11-01 04:30, 2026-11-01 05:30, 2026-11-01 06:30, "
	    "2026-11-01 07:30");
	CHECK_STR(seq("0 12 * * *", "America/New_York", "2026-03-07 00:00",
	    3), "2026-03-07 17:00, 2026-03-08 16:00, 2026-03-09 16:00");
}

/*
 * For decades of days, local noon from cron_next equals mktime()'s noon
 * in the same zone (the C library's own TZif reader); past 2037 this
 * exercises the footer rule. The test is single-threaded, so TZ is fine.
 */
static void
test_cron_zones_match_libc(void)
{
	static const char *zones[] = {
		"Europe/Paris", "America/New_York", "Australia/Sydney",
		"Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham",
		"Europe/London", "Africa/Casablanca", "America/Santiago"
	};
	char *saved = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
	struct orc_error err;
	struct cron *c;
	struct tm tm;
	time_t t;
	int64_t got;
	size_t z;
	int day, bad = 0, checked = 0;

	for (z = 0; z < sizeof zones / sizeof zones[0]; z++) {
		c = cron_parse("0 12 * * *", zones[z], &err);
		REQUIRE(c != NULL);
		setenv("TZ", zones[z], 1);
		tzset();
		for (day = 0; day < 365 * 70; day += 11) {
			memset(&tm, 0, sizeof tm);
			tm.tm_year = 1985 - 1900;
			tm.tm_mon = 0;
			tm.tm_mday = 1 + day;
			tm.tm_hour = 12;
			tm.tm_isdst = -1;
			if ((t = mktime(&tm)) == (time_t)-1)
				continue;
			got = cron_next(c, ((int64_t)t - 3 * 3600) * 1000);
			checked++;
			if (got != (int64_t)t * 1000) {
				if (bad++ < 5)
					fprintf(stderr, "%s day %d: got "
					    "%lld want %lld\n", zones[z], day,
					    (long long)got,
					    (long long)t * 1000);
			}
		}
		cron_free(c);
	}
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	CHECK(checked > 20000);
	CHECK(bad == 0);
}

/* Writes a TZif v2 file with no transitions and footer as its rule. */
static void
write_tzif(const char *path, const char *footer)
{
	unsigned char hdr[44], data[10];
	FILE *f;
	int i;

	memset(hdr, 0, sizeof hdr);
	memcpy(hdr, "TZif2", 5);
	hdr[39] = 1;		/* typecnt */
	hdr[43] = 4;		/* charcnt */
	memset(data, 0, sizeof data);
	memcpy(data + 6, "XXX", 3);
	if ((f = fopen(path, "wb")) == NULL)
		exit(99);
	for (i = 0; i < 2; i++) {
		fwrite(hdr, 1, sizeof hdr, f);
		fwrite(data, 1, sizeof data, f);
	}
	fprintf(f, "\n%s\n", footer);
	fclose(f);
}

/*
 * POSIX TZ rules (the TZif footer) of every kind against the C library
 * reading the same string: each half hour from June 2027 to June 2029
 * (2028 is a leap year), as a fixed local time, must fire exactly then,
 * except in the second pass of an overlap.
 * The rules: Julian days without and with Feb 29, the southern hemisphere,
 * times past 24:00 and below 0:00, an offset with minutes, no DST, and DST
 * all year.
 */
static void
test_cron_posix_rules(void)
{
	static const char *rules[] = {
		"EST5EDT,J60/2,J300/2",
		"XXX-1YYY-2,59/2,300/2",
		"<-03>3<-02>,M10.1.0/0,M3.3.0/0",
		"IST-2IDT,M3.4.4/26,M10.5.0",
		"<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
		"AAA-10BBB-11:30,M10.1.0,M4.1.0/3",
		"CET-1CEST,M3.5.0,M10.5.0/3",
		"<+0545>-5:45",
		"EST5EDT,0/0,J365/25"
	};
	char *saved = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
	struct orc_error err;
	struct cron *c;
	struct tm tm, tm2;
	char expr[64];
	time_t t, t2, start = (time_t)(utc("2027-06-01 00:00") / 1000);
	long o1, o2;
	size_t r;
	int bad = 0, checked = 0, skipped = 0, k;

	setenv("TZDIR", test_dir, 1);
	for (r = 0; r < sizeof rules / sizeof rules[0]; r++) {
		write_tzif("Zone", rules[r]);
		setenv("TZ", rules[r], 1);
		tzset();
		for (t = start; t < start + 2 * 365 * 86400; t += 1800) {
			/*
			 * glibc works out a rule in the UTC year of t, so it
			 * puts the first hours of a UTC year in standard time
			 * under the all-year-DST rule: checked below instead.
			 */
			gmtime_r(&t, &tm);
			if (r == sizeof rules / sizeof rules[0] - 1 &&
			    tm.tm_yday == 0)
				continue;
			localtime_r(&t, &tm);
			o1 = tm.tm_gmtoff;
			/* The second pass of a fall-back fires nothing. */
			for (k = 1; k <= 2; k++) {
				t2 = t - k * 12 * 3600;
				localtime_r(&t2, &tm2);
				o2 = tm2.tm_gmtoff;
				t2 = t + o1 - o2;
				if (o2 > o1 && (localtime_r(&t2, &tm2),
				    tm2.tm_gmtoff == o2))
					break;
			}
			if (k <= 2) {
				skipped++;
				continue;
			}
			snprintf(expr, sizeof expr, "%d %d %d %d *",
			    tm.tm_min, tm.tm_hour, tm.tm_mday, tm.tm_mon + 1);
			if ((c = cron_parse(expr, "Zone", &err)) == NULL) {
				fprintf(stderr, "%s\n", err.message);
				bad++;
				break;
			}
			checked++;
			if (cron_next(c, ((int64_t)t - 1) * 1000) !=
			    (int64_t)t * 1000 && bad++ < 5)
				fprintf(stderr, "%s: %s at %lld\n", rules[r],
				    expr, (long long)t);
			cron_free(c);
		}
	}
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	/* All-year DST: 2026-01-01 01:00Z is still Dec 31 21:00 EDT. */
	write_tzif("Zone", "EST5EDT,0/0,J365/25");
	CHECK_STR(seq("0 21 31 12 *", "Zone", "2026-01-01 00:00", 2),
	    "2026-01-01 01:00, 2027-01-01 01:00");
	unsetenv("TZDIR");
	CHECK(bad == 0);
	CHECK(checked > 250000);
	CHECK(skipped > 0);
}

/* Timezones: UTC spellings, unknown names, paths, broken files. */
static void
test_cron_timezones(void)
{
	struct orc_error err;
	struct cron *c;
	FILE *f;

	c = cron_parse("* * * * *", "UTC", &err);
	CHECK(c != NULL);
	CHECK_STR(cron_describe(c), "* * * * *");
	cron_free(c);
	c = cron_parse("0 9 * * *", "Etc/UTC", &err);
	CHECK(c != NULL);
	CHECK(c != NULL && cron_next(c, utc("2026-01-01 00:00")) ==
	    utc("2026-01-01 09:00"));
	cron_free(c);
	c = cron_parse("*/5 * * * *", "Europe/Paris", &err);
	CHECK(c != NULL);
	CHECK_STR(c != NULL ? cron_describe(c) : NULL,
	    "*/5 * * * * (Europe/Paris)");
	cron_free(c);
	CHECK_STR(seq("0 12 * * *", "Asia/Kolkata", "2026-01-01 00:00", 1),
	    "2026-01-01 06:30");
	CHECK_STR(seq("0 12 * * *", "Pacific/Chatham", "2026-06-01 00:00",
	    1), "2026-06-01 23:15");

	CHECK(cron_parse("* * * * *", "Mars/Olympus", &err) == NULL);
	CHECK(err.code == ORC_EINVAL);
	CHECK_CONTAINS(err.message, "unknown timezone \"Mars/Olympus\"");
	CHECK(cron_parse("* * * * *", "Europe", &err) == NULL);
	CHECK_CONTAINS(err.message, "unknown timezone \"Europe\"");
	CHECK(cron_parse("* * * * *", "../../etc/passwd", &err) == NULL);
	CHECK_CONTAINS(err.message, "is not a valid IANA name");
	CHECK(cron_parse("* * * * *", "/etc/passwd", &err) == NULL);
	CHECK_CONTAINS(err.message, "is not a valid IANA name");
	CHECK(cron_parse("* * * * *", "", &err) == NULL);
	CHECK(cron_parse("* * * * *", "Europe/Paris;x", &err) == NULL);

	/* $TZDIR is honoured; a file that is not TZif is refused. */
	REQUIRE((f = fopen("Broken", "w")) != NULL);
	fputs("TZif2 but nothing else", f);
	fclose(f);
	REQUIRE((f = fopen("Empty", "w")) != NULL);
	fclose(f);
	setenv("TZDIR", test_dir, 1);
	CHECK(cron_parse("* * * * *", "Broken", &err) == NULL);
	CHECK_CONTAINS(err.message, "is not a valid TZif file");
	CHECK(cron_parse("* * * * *", "Empty", &err) == NULL);
	CHECK_CONTAINS(err.message, "is not a valid TZif file");
	CHECK(cron_parse("* * * * *", "Europe/Paris", &err) == NULL);
	unsetenv("TZDIR");
}

/* Truncated and corrupted copies of a real zone file never crash. */
static void
test_cron_tzif_fuzz(void)
{
	struct orc_error err;
	struct cron *c;
	char *buf;
	size_t len, cut;
	FILE *f;
	int ok = 0;

	buf = orc_read_file("/usr/share/zoneinfo/Europe/Paris", &len, &err);
	REQUIRE(buf != NULL);
	setenv("TZDIR", test_dir, 1);
	for (cut = 0; cut < len; cut += 7) {
		REQUIRE((f = fopen("Cut", "w")) != NULL);
		fwrite(buf, 1, cut, f);
		fclose(f);
		c = cron_parse("0 * * * *", "Cut", &err);
		if (c != NULL) {
			ok++;
			cron_next(c, utc("2026-01-01 00:00"));
		}
		cron_free(c);
	}
	/* Flip bytes one at a time in the header and tables. */
	for (cut = 4; cut < len && cut < 900; cut += 3) {
		buf[cut] ^= 0x5a;
		REQUIRE((f = fopen("Flip", "w")) != NULL);
		fwrite(buf, 1, len, f);
		fclose(f);
		buf[cut] ^= 0x5a;
		c = cron_parse("0 * * * *", "Flip", &err);
		if (c != NULL)
			cron_next(c, utc("2026-01-01 00:00"));
		cron_free(c);
	}
	unsetenv("TZDIR");
	free(buf);
	CHECK(ok == 0);	/* every truncation loses the footer */
}

/* Catch-up lists: (from, to], in order, capped at max. */
static void
test_cron_missed(void)
{
	struct cron *c = cron_parse("0 * * * *", NULL, NULL);
	int64_t out[16];
	int n;

	REQUIRE(c != NULL);
	n = cron_missed(c, utc("2026-01-01 10:30"), utc("2026-01-01 15:00"),
	    out, 16);
	CHECK(n == 5);
	CHECK(n == 5 && out[0] == utc("2026-01-01 11:00") &&
	    out[4] == utc("2026-01-01 15:00"));
	/* from itself is excluded, to included. */
	n = cron_missed(c, utc("2026-01-01 11:00"), utc("2026-01-01 12:00"),
	    out, 16);
	CHECK(n == 1 && out[0] == utc("2026-01-01 12:00"));
	n = cron_missed(c, utc("2026-01-01 10:30"), utc("2026-01-02 10:30"),
	    out, 3);
	CHECK(n == 3 && out[2] == utc("2026-01-01 13:00"));
	CHECK(cron_missed(c, utc("2026-01-01 10:30"), utc("2026-01-01 10:59"),
	    out, 16) == 0);
	CHECK(cron_missed(c, utc("2026-01-01 10:30"), utc("2026-01-01 12:00"),
	    out, 0) == 0);
	cron_free(c);

	/* Across the Paris fall-back, 02:30 fires once. */
	c = cron_parse("30 2 * * *", "Europe/Paris", NULL);
	REQUIRE(c != NULL);
	n = cron_missed(c, utc("2026-10-24 00:00"), utc("2026-10-27 00:00"),
	    out, 16);
	CHECK(n == 3);
	CHECK(n == 3 && out[1] == utc("2026-10-25 00:30") &&
	    out[2] == utc("2026-10-26 01:30"));
	cron_free(c);

	c = cron_parse("0 0 31 2 *", NULL, NULL);
	REQUIRE(c != NULL);
	CHECK(cron_missed(c, 0, utc("2030-01-01 00:00"), out, 16) == 0);
	cron_free(c);
}

/* 10,000 chained calls, plus never-firing ones, finish and stay ordered. */
static void
test_cron_many(void)
{
	struct cron *c = cron_parse("*/7 9-17 * * MON-FRI", "Europe/Paris",
	    NULL);
	struct cron *never = cron_parse("0 0 30 2 *", "America/New_York",
	    NULL);
	int64_t t, prev;
	int i, bad = 0;

	REQUIRE(c != NULL && never != NULL);
	t = utc("2026-01-01 00:00");
	for (i = 0; i < 10000; i++) {
		prev = t;
		t = cron_next(c, t);
		if (t <= prev || t % 60000 != 0)
			bad++;
	}
	CHECK(bad == 0);
	/*
	 * 81 fires a weekday: the 10,000th is the 37th of the 124th weekday,
	 * Tue Jun 23, 13:00 CEST.
	 */
	CHECK(t == utc("2026-06-23 11:00"));
	for (i = 0; i < 1000; i++)
		if (cron_next(never, utc("2026-01-01 00:00") +
		    (int64_t)i * 86400000) != -1)
			bad++;
	CHECK(bad == 0);
	cron_free(c);
	cron_free(never);
}

int
main(void)
{
	TEST_RUN(test_cron_fields);
	TEST_RUN(test_cron_aliases);
	TEST_RUN(test_cron_errors);
	TEST_RUN(test_cron_calendar);
	TEST_RUN(test_cron_paris_dst);
	TEST_RUN(test_cron_new_york_dst);
	TEST_RUN(test_cron_zones_match_libc);
	TEST_RUN(test_cron_posix_rules);
	TEST_RUN(test_cron_timezones);
	TEST_RUN(test_cron_tzif_fuzz);
	TEST_RUN(test_cron_missed);
	TEST_RUN(test_cron_many);
	TEST_DONE();
}
