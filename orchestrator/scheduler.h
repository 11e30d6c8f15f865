/*
 * The scheduler of `orchestrator serve`: cron triggers ("trigger":
 * {"cron": {...}}, SPEC section 1) on the daemon's event loop.
 *
 * Each workflow with a cron trigger has a row in the store's schedules
 * table (store_put_schedule): the next fire time, the last fire, and how
 * many fires started a run or were skipped. The persisted next_at decides
 * what is due, so a restart neither skips nor doubles a fire: a fire
 * submits its run first and queues the row after it, so the two commit
 * together, or the run first; and the run carries the idempotency key
 * "cron:SCHEDULED_AT", so a fire whose row did not commit finds its run
 * again instead of starting a second one.
 *
 * A fire starts a run with the payload {"scheduled_at": MS} (the fire's
 * time, ms since the epoch: {{trigger.scheduled_at}}) and the trigger
 * record {"source": "cron", "scheduled_at": MS}. When it is due:
 *  - overlap "skip" (the default): while the previous cron run of the
 *    workflow is not final, the fire is counted skipped and starts
 *    nothing; "queue" holds one fire (in memory) until that run ends
 *    and skips the others meanwhile, whatever the workflow's
 *    "concurrency" (Temporal's BufferOne); "allow" starts it anyway. For
 *    "skip" and "allow" overlap is checked once per wake-up, so a
 *    catch-up burst is not skipped by its own runs.
 *  - catch_up, for fires missed while the daemon was down (more than
 *    SCHED_GRACE_MS late): "none" (the default) counts them skipped,
 *    "one" starts a single run for all of them (at the latest fire time),
 *    "all" starts one per missed fire, the latest SCHED_CATCH_UP_MAX of
 *    them (the older are counted skipped).
 * A workflow seen for the first time, or whose schedule or timezone
 * changed (SIGHUP), is scheduled from now on: nothing before counts.
 */
#ifndef SCHEDULER_H
#define SCHEDULER_H

#include <stdint.h>

#include "orchestrator.h"

struct cron;
struct engine;
struct event_base;
struct sched;
struct store;
struct strbuf;
struct workflow;

/* A fire at most this late is on time; later ones are missed. */
#define SCHED_GRACE_MS		60000
/* Catch-up "all" starts at most this many runs at once. */
#define SCHED_CATCH_UP_MAX	100

enum sched_catch_up { SCHED_CATCH_NONE, SCHED_CATCH_ONE, SCHED_CATCH_ALL };

/*
 * The current time (ms since the epoch) as the scheduler sees it: the
 * wall clock when clock is NULL, or, FOR TESTS ONLY, the number of
 * milliseconds written in the file clock (ORCH_TEST_CLOCK_FILE; read at
 * every call; a missing or unreadable file keeps *last, the last value
 * read). In that mode the scheduler re-reads the clock every 50 ms.
 */
int64_t		 sched_now(const char *clock, int64_t *last);

/* What is due at now for a schedule whose next fire is next_at. */
struct sched_plan {
	int64_t		 fire[SCHED_CATCH_UP_MAX];	/* earliest first */
	int		 nfire;
	int64_t		 due;		/* fire times in [next_at, now] */
	int64_t		 skipped;	/* missed and not started */
	int64_t		 next_at;	/* the next fire after now */
};

/* Plans the fires due at now (nothing when now < next_at): the pure part
 * of a wake-up, before overlap is checked. */
void		 sched_plan(const struct cron *, enum sched_catch_up,
		    int64_t next_at, int64_t now, struct sched_plan *);

/* A scheduler starting runs through engine, keeping its rows in store,
 * on the wall clock or the test clock's file clock (sched_now); all
 * borrowed and used until sched_free. */
struct sched	*sched_create(struct event_base *, struct engine *,
		    struct store *, const char *clock);
/* Stops the timer and frees; the rows stay. NULL is a no-op. */
void		 sched_free(struct sched *);
/*
 * The loaded workflows (borrowed; the scheduler takes references): at
 * start and at each reload. Reads the persisted rows, schedules new or
 * changed expressions from now, marks workflows that lost their cron
 * trigger unscheduled (next_at 0), then fires what is due.
 */
void		 sched_set_workflows(struct sched *, struct workflow **,
		    size_t);
/* Fires what is due now; the timer calls it. */
void		 sched_tick(struct sched *);
/* No more fires (a drain before exit). */
void		 sched_stop(struct sched *);

/* Appends the Prometheus series of the schedules (from the store's rows,
 * so any process serving /metrics on that store can call it):
 * orchestrator_schedule_fired_total and
 * orchestrator_schedule_skipped_total, by workflow. */
void		 sched_metrics(struct store *, struct strbuf *);

#endif
