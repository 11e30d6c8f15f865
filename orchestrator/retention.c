/*
 * The retention timer (see retention.h). One purge is out at a time: the
 * next is armed by the commit callback of the last, so a slow disk slows
 * the deleting down instead of queueing purges. A scan that stopped at
 * the batch limit, or did not reach the newest finished run yet, goes on
 * after RETENTION_BUSY_MS from where it was (the cursor); one that saw
 * everything starts over from the oldest after RETENTION_IDLE_MS. The
 * batch limit bounds the work a commit carries; the scan bound keeps a
 * store full of runs kept forever from being read whole each time.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "engine.h"
#include "log.h"
#include "retention.h"
#include "store.h"

/* Small: the batch joins a commit that webhooks wait for (a few ms). At
 * most about 5,000 deletions a second, well over a sustained load. */
#define RETENTION_BATCH		64
#define RETENTION_SCAN		1000
#define RETENTION_BUSY_MS	10
#define RETENTION_IDLE_MS	1000

struct retention {
	struct store		*store;
	struct event		*timer;
	struct store_purge	 purge;
	int64_t			 default_ms;
	int			 out;		/* a purge is queued */
};

static void	retention_arm(struct retention *, int);

/* The default retention from the environment. */
int
retention_default(int64_t *ms, struct orc_error *err)
{
	const char *v = getenv("ORCH_RETENTION");

	if (v == NULL || *v == '\0')
		v = RETENTION_DEFAULT;
	if (strcmp(v, "forever") == 0) {
		*ms = STORE_FOREVER;
		return 0;
	}
	if (orc_parse_duration(v, ms) != 0) {
		orc_error_set(err, ORC_EINVAL, "ORCH_RETENTION: \"%s\" is not "
		    "a duration such as 7d, 12h, 30m or 45s, nor forever", v);
		return -1;
	}
	return 0;
}

/* A purge was committed: say what it did and arm the next. */
static void
retention_done_cb(void *arg)
{
	struct retention *r = arg;

	r->out = 0;
	if (r->purge.deleted > 0 || r->purge.keys > 0)
		log_debug("%s: %lld runs deleted, %lld keys forgotten",
		    __func__, (long long)r->purge.deleted,
		    (long long)r->purge.keys);
	retention_arm(r, r->purge.cursor != 0 ||
	    r->purge.deleted == RETENTION_BATCH ||
	    r->purge.keys == RETENTION_BATCH);
}

/* The timer: queue the next purge behind the changes already queued. */
static void
retention_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct retention *r = arg;

	if (r->out)
		return;
	r->purge.now = orc_now_ms();
	r->purge.keys_before = r->purge.now - ENGINE_KEY_TTL_MS;
	r->out = 1;
	store_submit_purge(r->store, &r->purge, retention_done_cb, r);
}

/* Arms the timer: soon while there is a backlog, else in a second. */
static void
retention_arm(struct retention *r, int busy)
{
	struct timeval tv;
	int ms = busy ? RETENTION_BUSY_MS : RETENTION_IDLE_MS;

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
	retention_arm(r, 0);
	return r;
}

/* Stops the timer and frees. */
void
retention_free(struct retention *r)
{
	if (r == NULL)
		return;
	event_free(r->timer);
	free(r);
}
