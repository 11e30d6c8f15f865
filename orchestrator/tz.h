/*
 * Time zones and the calendar, for the scheduler: a zone loaded from the
 * system's TZif files answers the UTC offset at a time and the interval
 * around it where that offset holds; the calendar functions work on days
 * since 1970-01-01 in the proleptic Gregorian calendar.
 */
#ifndef TZ_H
#define TZ_H

#include <stdint.h>

#include "orchestrator.h"

#define TZ_DAY		86400	/* seconds */

struct tz;

/* Loads the zone called name (an IANA name, "Europe/Paris") from TZDIR or
 * /usr/share/zoneinfo; NULL with err, whose message begins with what. */
struct tz	*tz_load(const char *what, const char *name, struct orc_error *);
void		 tz_free(struct tz *);
/* The UTC offset (seconds) at t (UTC seconds) and the interval [start,
 * end) of UTC seconds where it holds. */
void		 tz_lookup(const struct tz *, int64_t t, int32_t *offp,
		    int64_t *startp, int64_t *endp);

/* Floor division, for times before 1970. */
int64_t		 tz_floordiv(int64_t a, int64_t b);
int		 tz_leap(int64_t y);
/* Days in month m (1-12) of year y. */
int		 tz_mdays(int64_t y, int m);
int64_t		 tz_days_from_civil(int64_t y, int m, int d);
void		 tz_civil_from_days(int64_t z, int64_t *yp, int *mp, int *dp);
/* Day of week of day z, Sunday 0. */
int		 tz_weekday(int64_t z);

#endif
