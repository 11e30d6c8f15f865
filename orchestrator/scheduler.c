/*
 * The scheduler: cron triggers on the daemon's loop (see scheduler.h for what
 * a fire does, overlap and catch-up). One timer serves every schedule: it
 * wakes at the earliest next fire (at most a minute away, so that a
 * changed wall clock is noticed), or every 50 ms when the tests drive the
 * clock through ORCH_TEST_CLOCK_FILE. A wake-up plans each due schedule
 * with sched_plan(), checks overlap against the previous cron run as the
 * store has it, submits the runs, then queues the schedule's row behind
 * them. Several nodes on one PostgreSQL database all run a scheduler, but
 * only the one the store names leader fires (store_sched_leader); the
 * others ask again every second and, on taking over, read the rows the
 * leader left before they fire.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "cron.h"
#include "engine.h"
#include "log.h"
#include "scheduler.h"
#include "store.h"
#include "strbuf.h"
#include "workflow.h"

#define SCHED_TEST_POLL_MS	50
/* How often a process that does not fire asks whether it should. */
#define SCHED_FOLLOW_MS		1000
#define SCHED_MAX_SLEEP_MS	60000
/* Counting missed fires stops here (years of every-minute fires). */
#define SCHED_COUNT_MAX		1000000
/* How often a held fire (overlap queue) looks at the run it waits for. */
#define SCHED_HELD_POLL_MS	500
#define SCHED_CHUNK		256

enum sched_overlap { SCHED_SKIP, SCHED_QUEUE, SCHED_ALLOW };

/* One workflow's cron trigger and its row. */
struct sched_entry {
	struct workflow		*wf;
	struct cron		*cron;
	enum sched_overlap	 overlap;
	enum sched_catch_up	 catch_up;
	struct schedule_rec	 rec;
	int			 submitted;	/* last_run_id started here */
	int64_t			 held_at;	/* overlap queue: a fire held */
};

struct sched {
	struct event_base	*base;
	struct engine		*engine;
	struct store		*store;
	struct event		*timer;
	struct sched_entry	*entries;
	size_t			 n;
	int			 stopped;
	int			 leading;	/* fired at the last tick */
	const char		*clock;		/* the test clock's file */
	int64_t			 clock_last;	/* the last time it said */
};

/* The wall clock, or the test clock when clock names its file. */
int64_t
sched_now(const char *clock, int64_t *last)
{
	char buf[64], *end;
	long long v;
	size_t len;
	FILE *f;

	if (clock == NULL)
		return orc_now_ms();
	if ((f = fopen(clock, "r")) != NULL) {
		len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		v = strtoll(buf, &end, 10);
		/* A file caught half written keeps the last value. */
		if (end != buf && (*end == '\0' || *end == '\n') && v > 0)
			*last = v;
	}
	return *last > 0 ? *last : orc_now_ms();
}

/* Plans the fires due at now. */
void
sched_plan(const struct cron *c, enum sched_catch_up catch_up,
    int64_t next_at, int64_t now, struct sched_plan *p)
{
	int64_t ring[SCHED_CATCH_UP_MAX], chunk[SCHED_CHUNK], from, last;
	int i, got, keep;

	memset(p, 0, sizeof *p);
	p->next_at = next_at;
	if (next_at <= 0 || now < next_at)
		return;
	/* Every fire in [next_at, now]: the latest SCHED_CATCH_UP_MAX kept
	 * in a ring, all of them counted (up to SCHED_COUNT_MAX). */
	ring[0] = next_at;
	p->due = 1;
	from = next_at;
	do {
		got = cron_missed(c, from, now, chunk, SCHED_CHUNK);
		for (i = 0; i < got; i++)
			ring[p->due++ % SCHED_CATCH_UP_MAX] = chunk[i];
		if (got > 0)
			from = chunk[got - 1];
	} while (got == SCHED_CHUNK && p->due < SCHED_COUNT_MAX);
	last = ring[(p->due - 1) % SCHED_CATCH_UP_MAX];

	switch (catch_up) {
	case SCHED_CATCH_NONE:
		/* Only a fire that is on time starts. */
		keep = now - last <= SCHED_GRACE_MS ? 1 : 0;
		break;
	case SCHED_CATCH_ONE:
		keep = 1;
		break;
	default:
		keep = p->due < SCHED_CATCH_UP_MAX ? (int)p->due :
		    SCHED_CATCH_UP_MAX;
		break;
	}
	for (i = 0; i < keep; i++)
		p->fire[i] = ring[(p->due - keep + i) % SCHED_CATCH_UP_MAX];
	p->nfire = keep;
	/* "one" absorbs the missed fires into its run: none is skipped. */
	p->skipped = catch_up == SCHED_CATCH_ONE ? 0 : p->due - keep;
	p->next_at = cron_next(c, now);
	if (p->next_at < 0)
		p->next_at = 0;
}

/* Whether two strings, either NULL, are equal. */
static int
sched_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* A member of the cron trigger as a string, or NULL. */
static const char *
sched_opt(const json_t *cron, const char *key)
{
	return json_string_value(json_object_get(cron, key));
}

/* Fills an entry for a workflow with a cron trigger; -1 when it has
 * none (or one that does not parse, which the loader prevents). */
static int
sched_entry_init(struct sched_entry *en, struct workflow *wf)
{
	const json_t *cron;
	const char *expr, *tz, *s;
	struct orc_error err;

	memset(en, 0, sizeof *en);
	cron = json_object_get(workflow_trigger(wf), "cron");
	if ((expr = sched_opt(cron, "schedule")) == NULL)
		return -1;
	tz = sched_opt(cron, "timezone");
	if ((en->cron = cron_parse(expr, tz, &err)) == NULL) {
		log_error("%s: workflow %s: %s", __func__, workflow_name(wf),
		    err.message);
		return -1;
	}
	en->wf = workflow_ref(wf);
	s = sched_opt(cron, "overlap");
	en->overlap = s == NULL || strcmp(s, "skip") == 0 ? SCHED_SKIP :
	    strcmp(s, "queue") == 0 ? SCHED_QUEUE : SCHED_ALLOW;
	s = sched_opt(cron, "catch_up");
	en->catch_up = s == NULL || strcmp(s, "none") == 0 ?
	    SCHED_CATCH_NONE : strcmp(s, "one") == 0 ? SCHED_CATCH_ONE :
	    SCHED_CATCH_ALL;
	en->rec.workflow = xstrdup(workflow_name(wf));
	en->rec.schedule = xstrdup(expr);
	en->rec.timezone = tz != NULL ? xstrdup(tz) : NULL;
	return 0;
}

/* Frees what an entry holds. */
static void
sched_entry_clear(struct sched_entry *en)
{
	cron_free(en->cron);
	if (en->wf != NULL)
		workflow_unref(en->wf);
	schedule_rec_clear(&en->rec);
}

/* Queues an entry's row behind the runs submitted so far. */
static void
sched_persist(struct sched *sc, struct sched_entry *en)
{
	en->rec.updated_at = orc_now_ms();
	store_put_schedule(sc->store, &en->rec);
}

/*
 * The run that holds the key of the last fire, when it is not the one
 * this process started: the store refused that one (another process
 * fired the same minute first), and the entry follows the other. 1 when
 * the entry now names it.
 */
static int
sched_adopt_holder(struct sched *sc, struct sched_entry *en)
{
	char id[RUN_ID_LEN + 1], key[48];
	struct orc_error err;
	int rc;

	snprintf(key, sizeof key, "cron:%lld", (long long)en->rec.last_fire_at);
	rc = store_find_idempotent(sc->store, en->rec.workflow, key, 0, id,
	    &err);
	if (rc < 0)
		log_warn("%s: %s", __func__, err.message);
	if (rc <= 0 || strcmp(id, en->rec.last_run_id) == 0)
		return 0;
	log_info("%s: workflow %s: the fire at %lld is run %s", __func__,
	    en->rec.workflow, (long long)en->rec.last_fire_at, id);
	free(en->rec.last_run_id);
	en->rec.last_run_id = xstrdup(id);
	return 1;
}

/*
 * Whether the previous cron run of an entry is not final yet. A run this
 * process just submitted may not be committed: not found, it still runs,
 * unless another run holds its fire's key.
 */
static int
sched_previous_running(struct sched *sc, struct sched_entry *en)
{
	struct run_rec r;
	struct orc_error err;
	int running;

	if (en->rec.last_run_id == NULL)
		return 0;
	memset(&r, 0, sizeof r);
	if (store_get_run(sc->store, en->rec.last_run_id, &r, &err) != 0) {
		if (err.code != ORC_ENOTFOUND)
			log_warn("%s: %s", __func__, err.message);
		if (err.code == ORC_ENOTFOUND && en->submitted &&
		    sched_adopt_holder(sc, en))
			return sched_previous_running(sc, en);
		return err.code == ORC_ENOTFOUND ? en->submitted : 0;
	}
	running = !run_state_is_final(r.state);
	run_rec_clear(&r);
	return running;
}

/* Starts the run of one fire; 0 when a run was started or found. */
static int
sched_start(struct sched *sc, struct sched_entry *en, int64_t at)
{
	char id[RUN_ID_LEN + 1], key[48];
	struct orc_error err;
	json_t *input, *trigger;
	enum engine_found found = ENGINE_FOUND_NONE;
	int rc;

	/* The payload: what {{trigger.scheduled_at}} reads. */
	input = json_pack("{s:I}", "scheduled_at", (json_int_t)at);
	trigger = json_pack("{s:s, s:I}", "source", "cron", "scheduled_at",
	    (json_int_t)at);
	snprintf(key, sizeof key, "cron:%lld", (long long)at);
	memset(&err, 0, sizeof err);
	rc = engine_submit_keyed(sc->engine, en->wf, input, trigger, key,
	    NULL, id, &found, &err);
	json_decref(input);
	json_decref(trigger);
	if (rc != 0) {
		log_warn("%s: workflow %s: the fire at %lld did not start: %s",
		    __func__, en->rec.workflow, (long long)at, err.message);
		return -1;
	}
	log_info("%s: workflow %s: fire at %lld: run %s%s", __func__,
	    en->rec.workflow, (long long)at, id, found == ENGINE_FOUND_KEY ?
	    " (started before the restart)" : "");
	free(en->rec.last_run_id);
	en->rec.last_run_id = xstrdup(id);
	en->submitted = 1;
	return 0;
}

/*
 * Overlap queue, as Temporal's BufferOne: one scheduled run at a time. Of
 * the fires due, the first starts when no earlier run is going and none is
 * held; the next one is held until the run before it ends; the rest are
 * skipped (and counted).
 */
static void
sched_hold(struct sched *sc, struct sched_entry *en, struct sched_plan *p)
{
	int start, rest;

	start = en->held_at == 0 && !sched_previous_running(sc, en);
	rest = p->nfire - start;
	if (rest > 0 && en->held_at == 0) {
		en->held_at = p->fire[start];
		rest--;
		log_info("%s: workflow %s: the fire at %lld waits for the run "
		    "before it", __func__, en->rec.workflow,
		    (long long)en->held_at);
	}
	p->skipped += rest;
	p->nfire = start;
}

/* Fires what is due for one entry and queues its row. */
static void
sched_fire(struct sched *sc, struct sched_entry *en, int64_t now)
{
	struct sched_plan *p;
	int i;

	p = xmalloc(sizeof *p);
	sched_plan(en->cron, en->catch_up, en->rec.next_at, now, p);
	if (p->due == 0) {
		free(p);
		return;
	}
	if (p->nfire > 0 && en->overlap == SCHED_QUEUE)
		sched_hold(sc, en, p);
	else if (p->nfire > 0 && en->overlap == SCHED_SKIP &&
	    sched_previous_running(sc, en)) {
		log_info("%s: workflow %s: run %s still going; %d fires "
		    "skipped", __func__, en->rec.workflow,
		    en->rec.last_run_id, p->nfire);
		p->skipped += p->nfire;
		p->nfire = 0;
	} else if (p->skipped > 0)
		log_info("%s: workflow %s: %lld fires skipped", __func__,
		    en->rec.workflow, (long long)p->skipped);
	for (i = 0; i < p->nfire; i++) {
		if (sched_start(sc, en, p->fire[i]) == 0) {
			en->rec.fired++;
			en->rec.last_fire_at = p->fire[i];
		} else
			en->rec.skipped++;
	}
	en->rec.skipped += p->skipped;
	en->rec.next_at = p->next_at;
	sched_persist(sc, en);
	free(p);
}

/* Starts a held fire once the run it waits for has ended. */
static void
sched_release(struct sched *sc, struct sched_entry *en)
{
	if (en->held_at == 0 || sched_previous_running(sc, en))
		return;
	if (sched_start(sc, en, en->held_at) == 0) {
		en->rec.fired++;
		en->rec.last_fire_at = en->held_at;
	} else
		en->rec.skipped++;
	en->held_at = 0;
	sched_persist(sc, en);
}

/* Arms the timer for the earliest next fire. */
static void
sched_arm(struct sched *sc, int64_t now)
{
	struct timeval tv;
	int64_t wait = SCHED_MAX_SLEEP_MS;
	size_t i;

	if (sc->stopped || sc->n == 0)
		return;
	if (sc->clock != NULL)
		wait = SCHED_TEST_POLL_MS;
	/* Another process fires: ask again now and then, to take over. */
	else if (!sc->leading)
		wait = SCHED_FOLLOW_MS;
	for (i = 0; i < sc->n && sc->leading; i++) {
		if (sc->entries[i].rec.next_at > 0 &&
		    sc->entries[i].rec.next_at - now < wait)
			wait = sc->entries[i].rec.next_at - now;
		if (sc->entries[i].held_at != 0 && wait > SCHED_HELD_POLL_MS)
			wait = SCHED_HELD_POLL_MS;
	}
	/* The fire is at a whole minute: wake just after, not before. */
	if (wait < 1)
		wait = 1;
	tv.tv_sec = wait / 1000;
	tv.tv_usec = (wait % 1000) * 1000;
	evtimer_add(sc->timer, &tv);
}

/* The timer: fire what is due. */
static void
sched_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched *sc = arg;

	sched_tick(sc);
}

/* Takes over a schedule's row as the store has it (another node may
 * have fired since this one read it). */
static void
sched_refresh(struct sched *sc, struct sched_entry *en)
{
	struct schedule_rec row;
	struct orc_error err;
	int rc;

	memset(&row, 0, sizeof row);
	if ((rc = store_get_schedule(sc->store, en->rec.workflow, &row,
	    &err)) < 0)
		log_error("%s: %s", __func__, err.message);
	if (rc <= 0)
		return;
	en->rec.fired = row.fired;
	en->rec.skipped = row.skipped;
	en->rec.last_fire_at = row.last_fire_at;
	free(en->rec.last_run_id);
	en->rec.last_run_id = row.last_run_id != NULL ?
	    xstrdup(row.last_run_id) : NULL;
	en->submitted = 0;
	if (row.next_at > 0 && sched_same(row.schedule, en->rec.schedule) &&
	    sched_same(row.timezone, en->rec.timezone))
		en->rec.next_at = row.next_at;
	schedule_rec_clear(&row);
}

/*
 * Whether this process fires now (store_sched_leader). On becoming the
 * one that fires, it reads the schedules' rows again first: the node that
 * fired before may have moved them on.
 */
static int
sched_lead(struct sched *sc)
{
	struct orc_error err;
	size_t i;
	int lead;

	if ((lead = store_sched_leader(sc->store, &err)) < 0)
		log_error("%s: %s", __func__, err.message);
	if (lead == 1 && !sc->leading) {
		for (i = 0; i < sc->n; i++)
			sched_refresh(sc, &sc->entries[i]);
		if (sc->n > 0)
			log_info("%s: this process fires the cron triggers",
			    __func__);
	}
	sc->leading = lead == 1;
	return sc->leading;
}

/* Fires what is due now and sleeps until the next fire. */
void
sched_tick(struct sched *sc)
{
	int64_t now;
	size_t i;

	if (sc->stopped)
		return;
	now = sched_now(sc->clock, &sc->clock_last);
	if (sc->n > 0 && sched_lead(sc))
		for (i = 0; i < sc->n; i++) {
			sched_release(sc, &sc->entries[i]);
			sched_fire(sc, &sc->entries[i], now);
		}
	sched_arm(sc, now);
}

struct sched *
sched_create(struct event_base *base, struct engine *engine,
    struct store *store, const char *clock)
{
	struct sched *sc;

	sc = xcalloc(1, sizeof *sc);
	sc->clock = clock;
	sc->base = base;
	sc->engine = engine;
	sc->store = store;
	if ((sc->timer = evtimer_new(base, sched_timer_cb, sc)) == NULL)
		fatal("%s: evtimer_new failed", __func__);
	return sc;
}

/* Frees the entries of a scheduler. */
static void
sched_clear(struct sched_entry *entries, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sched_entry_clear(&entries[i]);
	free(entries);
}

void
sched_free(struct sched *sc)
{
	if (sc == NULL)
		return;
	event_free(sc->timer);
	sched_clear(sc->entries, sc->n);
	free(sc);
}

void
sched_stop(struct sched *sc)
{
	sc->stopped = 1;
	evtimer_del(sc->timer);
}

/* The entry of a workflow name in a list, or NULL. */
static struct sched_entry *
sched_find(struct sched_entry *entries, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(entries[i].rec.workflow, name) == 0)
			return &entries[i];
	return NULL;
}

/*
 * Takes over a schedule's state, from the entry of the previous set or
 * else from the store. The counters always carry over; the next fire only
 * when the expression and the timezone are the same.
 */
static void
sched_adopt(struct sched *sc, struct sched_entry *en,
    struct sched_entry *old, int64_t now)
{
	struct schedule_rec prev, *from = NULL;
	struct orc_error err;
	int rc;

	memset(&prev, 0, sizeof prev);
	if (old != NULL) {
		from = &old->rec;
		en->submitted = old->submitted;
	} else if ((rc = store_get_schedule(sc->store, en->rec.workflow,
	    &prev, &err)) > 0)
		from = &prev;
	else if (rc < 0)
		log_error("%s: %s", __func__, err.message);
	if (from != NULL) {
		en->rec.fired = from->fired;
		en->rec.skipped = from->skipped;
		en->rec.last_fire_at = from->last_fire_at;
		en->rec.last_run_id = from->last_run_id != NULL ?
		    xstrdup(from->last_run_id) : NULL;
		if (from->next_at > 0 &&
		    sched_same(from->schedule, en->rec.schedule) &&
		    sched_same(from->timezone, en->rec.timezone))
			en->rec.next_at = from->next_at;
	}
	if (en->rec.next_at == 0) {
		if ((en->rec.next_at = cron_next(en->cron, now)) < 0)
			en->rec.next_at = 0;
		log_info("%s: workflow %s: %s, next fire at %lld", __func__,
		    en->rec.workflow, cron_describe(en->cron),
		    (long long)en->rec.next_at);
		sched_persist(sc, en);
	}
	schedule_rec_clear(&prev);
}

void
sched_set_workflows(struct sched *sc, struct workflow **wfs, size_t n)
{
	struct sched_entry *entries, *en, *old;
	size_t i, count = 0;
	int64_t now = sched_now(sc->clock, &sc->clock_last);

	entries = xcalloc(n > 0 ? n : 1, sizeof *entries);
	for (i = 0; i < n; i++) {
		en = &entries[count];
		if (sched_entry_init(en, wfs[i]) != 0) {
			sched_entry_clear(en);
			continue;
		}
		old = sched_find(sc->entries, sc->n, en->rec.workflow);
		sched_adopt(sc, en, old, now);
		count++;
	}
	/* A workflow that lost its cron trigger is no longer scheduled. */
	for (i = 0; i < sc->n; i++) {
		old = &sc->entries[i];
		if (sched_find(entries, count, old->rec.workflow) != NULL)
			continue;
		old->rec.next_at = 0;
		sched_persist(sc, old);
		log_info("%s: workflow %s: no longer scheduled", __func__,
		    old->rec.workflow);
	}
	sched_clear(sc->entries, sc->n);
	sc->entries = entries;
	sc->n = count;
	if (!sc->stopped) {
		evtimer_del(sc->timer);
		sched_tick(sc);
	}
}

/* What sched_metrics_row_cb appends: one series of every row. */
struct sched_series {
	struct strbuf	*sb;
	const char	*name;
	int		 skipped;
};

/* Appends one schedule row's sample (a store_list_schedules callback). */
static int
sched_metrics_row_cb(const struct schedule_rec *r, void *arg)
{
	struct sched_series *ss = arg;

	strbuf_printf(ss->sb, "%s{workflow=\"%s\"} %lld\n", ss->name,
	    r->workflow, (long long)(ss->skipped ? r->skipped : r->fired));
	return 0;
}

void
sched_metrics(struct store *store, struct strbuf *sb)
{
	static const char *const help[2] = {
		"Cron fires that started a run.",
		"Cron fires that started nothing: the previous run still "
		    "going (overlap skip), or missed while down (catch_up)."
	};
	struct sched_series ss;
	struct orc_error err;

	ss.sb = sb;
	for (ss.skipped = 0; ss.skipped < 2; ss.skipped++) {
		ss.name = ss.skipped ? "orchestrator_schedule_skipped_total" :
		    "orchestrator_schedule_fired_total";
		strbuf_printf(sb, "# HELP %s %s\n# TYPE %s counter\n",
		    ss.name, help[ss.skipped], ss.name);
		if (store_list_schedules(store, sched_metrics_row_cb, &ss,
		    &err) != 0) {
			log_warn("%s: %s", __func__, err.message);
			return;
		}
	}
}
