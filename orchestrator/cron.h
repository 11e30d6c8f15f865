/*
 * Cron schedules for "trigger": {"cron": ...}: the pure time logic, no
 * timers. cron_parse() reads a standard five-field expression (minute, hour,
 * day of month, month, day of week) with lists, ranges, steps, month and
 * weekday names, and the @yearly/@monthly/@weekly/@daily/@hourly aliases.
 * When both day fields are restricted (neither begins with '*') a day
 * matches if EITHER does, as in Vixie cron; "*" or "*\/2" in one of them
 * makes it an AND, again as in Vixie cron.
 *
 * Times are computed in the schedule's timezone, read from the TZif file
 * under /usr/share/zoneinfo (or $TZDIR) by this module itself: no setenv
 * ("TZ"), no global state, so a parsed schedule may be used from any thread.
 * Daylight saving time:
 *  - a local time that does not exist (the spring-forward gap, e.g. 02:30
 *    in Paris on the last Sunday of March) is skipped that day;
 *  - a local time that occurs twice (the fall-back overlap) fires once, at
 *    the first occurrence, when the hour field names fixed hours; when the
 *    hour field begins with '*' ("*\/5 * * * *", "0 * * * *") the schedule
 *    is an interval and fires at both occurrences, so it keeps its pace
 *    through the repeated hour (Vixie cron does the same).
 * Leap seconds ("right/" zones) are ignored.
 */
#ifndef CRON_H
#define CRON_H

#include <stdint.h>

#include "orchestrator.h"

struct cron;

/*
 * Parses expr in timezone (NULL or "UTC" for UTC, else an IANA name such as
 * "Europe/Paris"). NULL and err (ORC_EINVAL) on a bad field, naming the
 * field and token, or on an unknown timezone.
 */
struct cron	*cron_parse(const char *expr, const char *timezone,
		    struct orc_error *err);
/* Frees a schedule; NULL is a no-op. */
void		 cron_free(struct cron *);
/*
 * The first fire time strictly after after_ms (ms since the epoch, UTC), in
 * ms, always on a whole local minute. -1 if the schedule does not fire in
 * the next nine years (every valid schedule fires within eight: Feb 29 across
 * 2100), such as "0 0 31 2 *".
 */
int64_t		 cron_next(const struct cron *, int64_t after_ms);
/*
 * Fire times in (from_ms, to_ms], earliest first, at most max of them, into
 * out: for catch-up after downtime. Returns how many were written.
 */
int		 cron_missed(const struct cron *, int64_t from_ms,
		    int64_t to_ms, int64_t *out, int max);
/* The expression as given, with " (TIMEZONE)" unless UTC; owned by c. */
const char	*cron_describe(const struct cron *);

#endif
