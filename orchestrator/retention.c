/*
 * The retention timer (see retention.h). Runs are deleted per retention
 * in use (store_retentions: the default and those of the stored
 * definitions), each with a cursor on the finished-runs index that only
 * moves forward: a run older than its group's retention is deleted when
 * the scan reaches it, any other is passed once and not read again by
 * that group, so that runs kept longer (or forever) cost one read per
 * group, not one per pass. One purge is out at a time: the next is armed
 * by the commit callback of the last, so a slow disk slows the deleting
 * down instead of queueing purges. A group whose purge filled its batch
 * or its scan window goes again after RETENTION_BUSY_MS; once every group
 * reached the end of what has expired, the next round starts after
 * RETENTION_TRICKLE_MS when the round deleted runs, RETENTION_IDLE_MS when
 * not, with the groups read again. The batch limit bounds the work a
 * commit carries, the trickle keeps runs that expire steadily going
 * steadily (once a second, a second's worth went in a burst of full
 * batches back to back, which the webhooks' p99 showed).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "engine.h"
#include "log.h"
#include "retention.h"
#include "store.h"

/* Small: the batch joins a commit that webhooks wait for (a run's rows
 * take a few tens of microseconds to delete). At most about 5,000
 * deletions a second, well over a sustained load. */
#define RETENTION_BATCH		16
#define RETENTION_SCAN		1000
#define RETENTION_BUSY_MS	2
/* A round that deleted runs comes back soon, so that runs expiring at
 * the rate they came go at that rate, not in a burst once a second. */
#define RETENTION_TRICKLE_MS	100
#define RETENTION_IDLE_MS	1000
/* Every hour the cursors start over: a run that finished (or was
 * committed) behind a cursor, as a wall clock set back or a commit held
 * up longer than its retention can make, waits at most that long. */
#define RETENTION_RESCAN_MS	3600000

/* Where the deleting of one retention stands. */
struct retention_group {
	int64_t		 ms;
	int64_t		 cursor;
	char		 cursor_id[RUN_ID_LEN + 1];
};

struct retention {
	struct store		*store;
	struct event		*timer;
	struct store_purge	 purge;
	int64_t			 default_ms;
	struct retention_group	*groups;
	size_t			 ngroups;
	size_t			 next;		/* the group to purge */
	int			 out;		/* a purge is queued */
	int64_t			 round_deleted;	/* by this round's purges */
	int64_t			 rescan_at;	/* orc_mono_ms() */
};

static void	retention_arm(struct retention *, int);

/* Reads the retentions in use again; a group kept keeps its cursor. */
static void
retention_refresh(struct retention *r)
{
	struct retention_group	*g;
	struct orc_error	 err;
	int64_t			*ms;
	size_t			 n, i, j;
	int			 keep = 1;

	if (store_retentions(r->store, r->default_ms, &ms, &n, &err) != 0) {
		log_warn("%s: %s", __func__, err.message);
		return;
	}
	if (orc_mono_ms() >= r->rescan_at) {
		keep = 0;
		r->rescan_at = orc_mono_ms() + RETENTION_RESCAN_MS;
	}
	g = xcalloc(n + 1, sizeof *g);
	for (i = 0; i < n; i++) {
		g[i].ms = ms[i];
		for (j = 0; keep && j < r->ngroups; j++)
			if (r->groups[j].ms == ms[i])
				g[i] = r->groups[j];
	}
	free(ms);
	free(r->groups);
	r->groups = g;
	r->ngroups = n;
	r->next = 0;
}

/* A purge was committed: keep its group's place, arm the next. */
static void
retention_done_cb(void *arg)
{
	struct retention	*r = arg;
	struct retention_group	*g = &r->groups[r->next];
	struct store_purge	*p = &r->purge;

	r->out = 0;
	if (p->deleted > 0 || p->keys > 0)
		log_debug("%s: retention %lld ms: %lld runs deleted, %lld keys "
		    "forgotten", __func__, (long long)g->ms,
		    (long long)p->deleted, (long long)p->keys);
	g->cursor = p->cursor;
	memcpy(g->cursor_id, p->cursor_id, sizeof g->cursor_id);
	r->round_deleted += p->deleted;
	if (!p->done || p->deleted == RETENTION_BATCH ||
	    p->keys == RETENTION_BATCH) {
		retention_arm(r, RETENTION_BUSY_MS);
		return;
	}
	/* This group has caught up with time: the next, or a rest. */
	if (++r->next < r->ngroups) {
		retention_arm(r, RETENTION_BUSY_MS);
		return;
	}
	r->next = 0;
	retention_arm(r, r->round_deleted > 0 ? RETENTION_TRICKLE_MS :
	    RETENTION_IDLE_MS);
	r->round_deleted = 0;
}

/* The timer: queue the next purge behind the changes already queued. */
static void
retention_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct retention	*r = arg;
	struct store_purge	*p = &r->purge;
	struct retention_group	*g;

	if (r->out)
		return;
	if (r->next == 0)
		retention_refresh(r);
	if (r->ngroups == 0) {
		retention_arm(r, RETENTION_IDLE_MS);
		return;
	}
	g = &r->groups[r->next];
	p->now = orc_now_ms();
	p->retention_ms = g->ms;
	p->cursor = g->cursor;
	memcpy(p->cursor_id, g->cursor_id, sizeof p->cursor_id);
	/* Keys once a round, with the first group. */
	p->keys_before = r->next == 0 ? p->now - ENGINE_KEY_TTL_MS : 0;
	r->out = 1;
	store_submit_purge(r->store, p, retention_done_cb, r);
}

/* Arms the timer for ms from now. */
static void
retention_arm(struct retention *r, int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
}

/* Starts the timer. */
struct retention *
retention_create(struct event_base *base, struct store *store,
    int64_t default_ms)
{
	struct retention *r = xcalloc(1, sizeof *r);

	r->store = store;
	r->default_ms = default_ms;
	r->purge.state = -1;
	r->purge.by_retention = 1;
	r->purge.default_ms = default_ms;
	r->purge.limit = RETENTION_BATCH;
	r->purge.scan = RETENTION_SCAN;
	if ((r->timer = evtimer_new(base, retention_timer_cb, r)) == NULL)
		fatal("%s: evtimer_new failed", __func__);
	retention_arm(r, RETENTION_IDLE_MS);
	return r;
}

/* Stops the timer and frees. */
void
retention_free(struct retention *r)
{
	if (r == NULL)
		return;
	event_free(r->timer);
	free(r->groups);
	free(r);
}
