/*
 * The store, the part that does not depend on the database: a queue of
 * pending changes, committed together in one transaction once the event
 * loop has run what it was running (or when store_flush() is called), the
 * callbacks of the committed changes called afterwards in submit order,
 * and the retry of a failed commit on a timer with backoff while the store
 * calls itself unhealthy. Reads and leases are passed to the backend.
 *
 * With an event loop (and a backend whose reads have a connection of their
 * own) the transactions run on a thread of their own, the commit thread,
 * so that the loop goes on serving while the disk works: the loop hands it
 * the whole queue, and what is submitted meanwhile is handed over too (at
 * the end of each turn of the loop) to be the next transaction, which the
 * thread starts as soon as this one is committed, without waiting for the
 * loop to hear of it; the loop learns of committed batches through an
 * eventfd. The callbacks still run on the loop, in order, after their
 * commit. One transaction at a time, in hand-over order; when one fails,
 * the thread stops, and that batch and what was handed after it go back
 * ahead of the queue. The loop touches the writing connection (claims,
 * renewals, store_flush) only when the thread has stopped. The thread
 * reads the queued copies and nothing else; the JSON values they share
 * with the loop are not changed by anyone once submitted, and jansson
 * counts references atomically.
 *
 * A change is copied when submitted, so the caller may reuse its records at
 * once. A definition's body can be large and is the same for thousands of
 * runs: the hashes this store has already queued are remembered, and a
 * change carrying a known definition does not copy it again.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "hmap.h"
#include "log.h"
#include "loop.h"
#include "store.h"
#include "store-backend.h"
#include "store-row.h"

#define STORE_RETRY_MIN_MS	50
#define STORE_RETRY_MAX_MS	2000
#define STORE_KNOWN_DEFS	64

/* One queued change with its own copies of the records. */
struct store_item {
	TAILQ_ENTRY(store_item)	 entry;
	unsigned		 flags;
	struct run_rec		 run;
	struct step_rec		 step;
	struct transition_rec	 transition;
	struct def_rec		 def;
	struct schedule_rec	 sched;
	struct log_rec		*logs;
	size_t			 nlogs;
	int			 has_run;
	int			 has_step;
	int			 has_transition;
	int			 has_def;
	int			 has_sched;	/* a schedule, nothing else */
	/* Work for the commit thread on the writing connection, nothing
	 * else: once the batch is in (its own transaction), or first, before
	 * the batch's transaction begins, for a read (work_first). */
	void			(*work)(struct store *, void *);
	int			 work_first;
	struct store_purge	*purge;		/* a purge, nothing else */
	int64_t			 purge_cursor;	/* its cursor as submitted */
	char			 purge_cursor_id[RUN_ID_LEN + 1];
	/* How the commit writes it (store_fold_runs). */
	unsigned		 wflags;
	const struct run_rec	*wrun;		/* run, or wfold */
	struct run_rec		 wfold;		/* borrows from runs */
	/* The backend refused its run (store_vet_items): not written. */
	int			 refused;
	char			 existing[RUN_ID_LEN + 1];
	store_commit_cb		 cb;
	void			*arg;
	int			 lazy;		/* store_change */
};
TAILQ_HEAD(store_items, store_item);

/* Where the commit thread stands; under wlock. */
enum store_wstate {
	STORE_W_IDLE,		/* waiting for a batch */
	STORE_W_WORKING,	/* committing inflight */
	STORE_W_DONE		/* wrc says how it went; the loop reaps it */
};

struct store {
	const struct store_ops	*ops;
	void			*be;
	char			*target;
	unsigned		 flags;
	struct store_config	 cfg;

	struct event_base	*base;
	struct event		*flush_ev;	/* commits the queue */
	struct event		*retry_ev;	/* after a failed commit */
	int			 retry_ms;
	struct event		*lazy_ev;	/* a queue of lazy changes */

	struct store_items	 queue;		/* not handed out yet */
	size_t			 nqueued;
	size_t			 nurgent;	/* of those, not lazy */
	size_t			 npending;	/* not committed yet */
	struct store_items	 done;		/* committed, callback due */
	int			 in_callbacks;
	store_refused_cb	 refused_cb;
	void			*refused_arg;
	/* Run id -> the last lease token refused (an int64_t): its later
	 * changes are refused without asking. The writer's alone. */
	struct hmap		*refused;

	int			 healthy;
	int			 lost;		/* the target went away */
	unsigned		 failures;	/* commits failed this outage */
	struct store_stats	 stats;

	char			*known[STORE_KNOWN_DEFS];
	size_t			 known_next;

	/* The commit thread (threaded), see the top of this file. */
	int			 threaded;
	int			 wbusy;		/* a batch is out: loop only */
	pthread_t		 wthread;
	pthread_mutex_t		 wlock;
	pthread_cond_t		 wcond;		/* wstate or wstop changed */
	enum store_wstate	 wstate;
	int			 wstop;
	struct store_items	 inflight;	/* the batch out */
	size_t			 ninflight;
	/* Handed over while a batch is out: the thread commits it next,
	 * without waiting for the loop to reap. */
	struct store_items	 staged;
	size_t			 nstaged;
	/* Committed by the thread, which went on: the loop reaps them. */
	struct store_items	 finished;
	size_t			 nfinished;
	unsigned		 nfinished_commits;
	int			 wrc;		/* 0 or -1, with werr */
	struct orc_error	 werr;
	struct loop_wake	 wwake;		/* the thread -> the loop */
	struct event		*wev;
};

static void	store_wlock(struct store *);
static void	store_wunlock(struct store *);

/* Drops the callbacks of one list. */
static void
store_forget_list(struct store_items *list, void (*free_arg)(void *))
{
	struct store_item *it;

	TAILQ_FOREACH(it, list, entry) {
		/* A purge's callback is its owner's (retention.c), not the
		 * changes' owner's this is for. */
		if (it->purge != NULL)
			continue;
		if (it->cb != NULL && free_arg != NULL)
			free_arg(it->arg);
		it->cb = NULL;
		it->arg = NULL;
	}
}

void
store_forget_callbacks(struct store *s, void (*free_arg)(void *))
{
	store_forget_list(&s->queue, free_arg);
	if (s->threaded)
		store_wlock(s);
	store_forget_list(&s->inflight, free_arg);
	store_forget_list(&s->staged, free_arg);
	store_forget_list(&s->finished, free_arg);
	if (s->threaded)
		store_wunlock(s);
	store_forget_list(&s->done, free_arg);
}

static const char *const run_state_names[RUN_STATE_COUNT] = {
	"queued", "running", "retrying", "succeeded", "failed", "cancelled",
	"waiting"
};

static void	store_flush_cb(evutil_socket_t, short, void *);
static void	store_schedule_retry(struct store *);
static void	store_run_callbacks(struct store *);
static int	store_wants_thread(const struct store *);
static void	store_writer_open(struct store *);
static void	store_enqueue(struct store *, struct store_item *);
static void	store_retry_cb(evutil_socket_t, short, void *);
static void	store_lazy_cb(evutil_socket_t, short, void *);

/* The name of a state, as stored and shown. */
const char *
run_state_name(enum run_state state)
{
	if ((unsigned)state >= RUN_STATE_COUNT)
		return "unknown";
	return run_state_names[state];
}

/* Parses a state name; -1 when it is none. */
int
run_state_parse(const char *s, enum run_state *out)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = 0; i < RUN_STATE_COUNT; i++) {
		if (strcasecmp(s, run_state_names[i]) == 0) {
			*out = (enum run_state)i;
			return 0;
		}
	}
	return -1;
}

/* See store.h. */
int
store_run_lets_lease_go(const struct run_rec *r)
{
	if (r->state == RUN_WAITING)
		return r->lease_owner == NULL;
	return run_state_is_final(r->state) && r->dead != DEAD_PENDING;
}

/* 1 when a run in this state will not move again on its own. */
int
run_state_is_final(enum run_state state)
{
	return state == RUN_SUCCEEDED || state == RUN_FAILED ||
	    state == RUN_CANCELLED;
}

/* Duplicates a string that may be NULL. */
static char *
store_strdup(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

/* Frees what a run record owns and zeroes it. */
void
run_rec_clear(struct run_rec *r)
{
	if (r == NULL)
		return;
	free(r->workflow);
	free(r->def_hash);
	free(r->step);
	json_decref(r->input);
	json_decref(r->trigger);
	json_decref(r->output);
	free(r->error);
	free(r->idempotency_key);
	free(r->lease_owner);
	free(r->parent_id);
	free(r->parent_step);
	memset(r, 0, sizeof *r);
}

/* Makes dst a deep copy of src; dst is overwritten, not cleared first. */
void
run_rec_copy(struct run_rec *dst, const struct run_rec *src)
{
	*dst = *src;
	dst->workflow = store_strdup(src->workflow);
	dst->def_hash = store_strdup(src->def_hash);
	dst->step = store_strdup(src->step);
	dst->input = json_incref(src->input);
	dst->trigger = json_incref(src->trigger);
	dst->output = json_incref(src->output);
	dst->error = store_strdup(src->error);
	dst->idempotency_key = store_strdup(src->idempotency_key);
	dst->lease_owner = store_strdup(src->lease_owner);
	dst->parent_id = store_strdup(src->parent_id);
	dst->parent_step = store_strdup(src->parent_step);
}

/* Frees what a step record owns and zeroes it. */
void
step_rec_clear(struct step_rec *s)
{
	if (s == NULL)
		return;
	free(s->name);
	json_decref(s->output);
	memset(s, 0, sizeof *s);
}

/* Frees what a transition record owns and zeroes it. */
void
transition_rec_clear(struct transition_rec *t)
{
	if (t == NULL)
		return;
	free(t->event);
	free(t->step);
	free(t->error);
	memset(t, 0, sizeof *t);
}

/* Frees what a definition record owns and zeroes it. */
void
def_rec_clear(struct def_rec *d)
{
	if (d == NULL)
		return;
	free(d->hash);
	free(d->name);
	free(d->path);
	free(d->body);
	memset(d, 0, sizeof *d);
}

/* Frees what a log line owns and zeroes it. */
void
log_rec_clear(struct log_rec *l)
{
	if (l == NULL)
		return;
	free(l->step);
	free(l->message);
	memset(l, 0, sizeof *l);
}

/* Makes dst a deep copy of src; dst is overwritten, not cleared first. */
void
log_rec_copy(struct log_rec *dst, const struct log_rec *src)
{
	*dst = *src;
	dst->step = store_strdup(src->step);
	dst->message = store_strdup(src->message);
}

/* Deep copies of n log lines, in a new array. */
static struct log_rec *
store_logs_copy(const struct log_rec *src, size_t n)
{
	struct log_rec	*dst;
	size_t		 i;

	dst = xcalloc(n, sizeof *dst);
	for (i = 0; i < n; i++)
		log_rec_copy(&dst[i], &src[i]);
	return dst;
}

/* Deep copy of a step record. */
static void
store_step_copy(struct step_rec *dst, const struct step_rec *src)
{
	*dst = *src;
	dst->name = store_strdup(src->name);
	dst->output = json_incref(src->output);
}

/* Deep copy of a transition record. */
static void
store_transition_copy(struct transition_rec *dst,
    const struct transition_rec *src)
{
	*dst = *src;
	dst->event = store_strdup(src->event);
	dst->step = store_strdup(src->step);
	dst->error = store_strdup(src->error);
}

/* Deep copy of a definition record. */
static void
store_def_copy(struct def_rec *dst, const struct def_rec *src)
{
	dst->hash = store_strdup(src->hash);
	dst->name = store_strdup(src->name);
	dst->path = store_strdup(src->path);
	dst->body = store_strdup(src->body);
	dst->created_at = src->created_at;
	dst->retention_ms = src->retention_ms;
}

/* Frees a queued change without calling its callback. */
static void
store_item_free(struct store_item *it)
{
	if (it->has_run)
		run_rec_clear(&it->run);
	if (it->has_step)
		step_rec_clear(&it->step);
	if (it->has_transition)
		transition_rec_clear(&it->transition);
	if (it->has_def)
		def_rec_clear(&it->def);
	if (it->has_sched)
		schedule_rec_clear(&it->sched);
	while (it->nlogs > 0)
		log_rec_clear(&it->logs[--it->nlogs]);
	free(it->logs);
	free(it);
}

/* 1 when this store has already queued or written a definition. */
static int
store_def_known(const struct store *s, const char *hash)
{
	size_t i;

	for (i = 0; i < STORE_KNOWN_DEFS; i++) {
		if (s->known[i] != NULL && strcmp(s->known[i], hash) == 0)
			return 1;
	}
	return 0;
}

/* Remembers a definition hash, forgetting the oldest when full. */
static void
store_def_remember(struct store *s, const char *hash)
{
	free(s->known[s->known_next]);
	s->known[s->known_next] = xstrdup(hash);
	s->known_next = (s->known_next + 1) % STORE_KNOWN_DEFS;
}

/* 1 when a target is a PostgreSQL URL. */
static int
store_is_url(const char *target)
{
	return strncmp(target, "postgres://", 11) == 0 ||
	    strncmp(target, "postgresql://", 13) == 0;
}

/*
 * A target as messages and logs may show it: a URL loses its password
 * ("scheme://user:secret@host" becomes "scheme://user@host") and its
 * query string (which may hold one too); a file path stays.
 */
char *
store_display_target(const char *target)
{
	const char *auth, *end, *at, *p, *colon;

	if (!store_is_url(target))
		return xstrdup(target);
	auth = strstr(target, "://") + 3;
	end = auth + strcspn(auth, "/?#");
	/* The user info ends at the last '@' before the host's end. */
	at = NULL;
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	end += strcspn(end, "?#");
	if (colon == NULL)
		return xasprintf("%.*s", (int)(end - target), target);
	return xasprintf("%.*s%.*s", (int)(colon - target), target,
	    (int)(end - at), at);
}

/* The backend of a target: PostgreSQL for a postgres:// or
 * postgresql:// URL, SQLite for anything else. */
static const struct store_ops *
store_backend(const char *target, struct orc_error *err)
{
#ifndef HAVE_LIBPQ
	char *name;
#endif

	if (!store_is_url(target))
		return &store_sqlite_ops;
#ifdef HAVE_LIBPQ
	return &store_pg_ops;
#else
	name = store_display_target(target);
	orc_error_set(err, ORC_EUNSUPPORTED, "%s: built without PostgreSQL "
	    "support (configure --without-postgres)", name);
	free(name);
	return NULL;
#endif
}

void
store_config_defaults(struct store_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->busy_ms = -1;
}

struct store *
store_open(const char *target, unsigned flags, struct event_base *base,
    struct orc_error *err)
{
	return store_open_with(target, flags, base, NULL, err);
}

/* Opens a store on a SQLite file, ":memory:", or a PostgreSQL URL. */
struct store *
store_open_with(const char *target, unsigned flags, struct event_base *base,
    const struct store_config *cfg, struct orc_error *err)
{
	const struct store_ops	*ops;
	struct store		*s;

	if (target == NULL || *target == '\0') {
		orc_error_set(err, ORC_EINVAL, "no database given");
		return NULL;
	}
	if ((ops = store_backend(target, err)) == NULL)
		return NULL;
	s = xcalloc(1, sizeof *s);
	s->ops = ops;
	s->target = store_display_target(target);
	s->flags = flags;
	if (cfg != NULL)
		s->cfg = *cfg;
	else
		store_config_defaults(&s->cfg);
	s->base = base;
	s->healthy = 1;
	TAILQ_INIT(&s->queue);
	TAILQ_INIT(&s->inflight);
	TAILQ_INIT(&s->staged);
	TAILQ_INIT(&s->finished);
	TAILQ_INIT(&s->done);

	s->be = s->ops->open(target, flags, &s->cfg, err);
	if (s->be == NULL) {
		free(s->target);
		free(s);
		return NULL;
	}
	s->refused = hmap_create();
	if (base != NULL && (~flags & STORE_READONLY)) {
		s->flush_ev = event_new(base, -1, 0, store_flush_cb, s);
		s->retry_ev = evtimer_new(base, store_retry_cb, s);
		s->lazy_ev = evtimer_new(base, store_lazy_cb, s);
		if (s->flush_ev == NULL || s->retry_ev == NULL ||
		    s->lazy_ev == NULL)
			fatal("%s: event_new failed", __func__);
		if (store_wants_thread(s))
			store_writer_open(s);
	}
	log_debug("%s: %s opened%s", __func__, s->target,
	    (flags & STORE_READONLY) ? " read-only" : "");
	return s;
}

/*
 * What a new run's row holds once its last update of the transaction is
 * applied, as the update would write it: the moving columns from last, the
 * input, definition and lease from last only when an update asked for
 * them (flags), the rest from the insert. A shallow copy: it borrows.
 */
static void
store_fold_insert(struct run_rec *dst, const struct run_rec *ins,
    const struct run_rec *last, unsigned flags)
{
	*dst = *ins;
	dst->state = last->state;
	dst->seq = last->seq;
	dst->step = last->step;
	dst->attempt = last->attempt;
	dst->output = last->output;
	dst->error = last->error;
	dst->dead = last->dead;
	dst->updated_at = last->updated_at;
	dst->due_at = last->due_at;
	dst->finished_at = last->finished_at;
	if (flags & STORE_RUN_SET_INPUT)
		dst->input = last->input;
	if (flags & STORE_RUN_SET_DEF) {
		dst->workflow = last->workflow;
		dst->def_hash = last->def_hash;
	}
	if (flags & STORE_RUN_SET_LEASE) {
		dst->lease_owner = last->lease_owner;
		dst->lease_until = last->lease_until;
	}
}

/*
 * Writes each run's row once per transaction, not once per change: a run
 * often moves several times between two commits (created, started, a step
 * that needs no I/O), and only its last state is ever seen, the whole
 * transaction being atomic. Every change of a run but its last skips the
 * row, the last writing what the skipped ones asked for too. A run created
 * in this transaction is inserted as its last change leaves it, unless
 * that is a final state (the update lets the lease go). Transitions and
 * steps are all written, in order.
 */
static void
store_fold_runs(struct store_items *list)
{
	struct store_item	*it, *last;
	struct hmap		*map;
	const unsigned		 sets = STORE_RUN_SET_INPUT |
	    STORE_RUN_SET_DEF | STORE_RUN_SET_LEASE;

	map = hmap_create();
	TAILQ_FOREACH(it, list, entry) {
		it->wflags = it->flags;
		it->wrun = &it->run;
		if (it->has_run)
			hmap_set(map, it->run.id, it);
	}
	TAILQ_FOREACH(it, list, entry) {
		if (!it->has_run || (it->flags & STORE_RUN_INSERT) ||
		    (last = hmap_get(map, it->run.id)) == it)
			continue;
		it->wflags |= STORE_RUN_SKIP;
		last->wflags |= STORE_RUN_FOLDED | (it->flags & sets);
	}
	TAILQ_FOREACH(it, list, entry) {
		if (!it->has_run || !(it->flags & STORE_RUN_INSERT) ||
		    (last = hmap_get(map, it->run.id)) == it ||
		    run_state_is_final(last->run.state))
			continue;
		store_fold_insert(&it->wfold, &it->run, &last->run,
		    last->wflags);
		it->wrun = &it->wfold;
		last->wflags |= STORE_RUN_SKIP;
	}
	hmap_free(map);
}

/* Whether an idempotency key is unique in the store. */
int
store_key_unique(const char *key)
{
	return key != NULL && strncmp(key, STORE_UNIQUE_KEY,
	    strlen(STORE_UNIQUE_KEY)) == 0;
}

void
store_set_refused_cb(struct store *s, store_refused_cb cb, void *arg)
{
	s->refused_cb = cb;
	s->refused_arg = arg;
}

/* Marks every item of a refused run, and remembers it. */
static void
store_refuse_run(struct store *s, struct store_items *list,
    const struct store_vet *v)
{
	struct store_item	*it;
	int64_t			*epoch;

	if ((epoch = hmap_get(s->refused, v->run->id)) == NULL) {
		epoch = xmalloc(sizeof *epoch);
		hmap_set(s->refused, v->run->id, epoch);
	}
	*epoch = v->run->lease_epoch;
	TAILQ_FOREACH(it, list, entry) {
		if (!it->has_run || strcmp(it->run.id, v->run->id) != 0)
			continue;
		it->refused = 1;
		memcpy(it->existing, v->existing, sizeof it->existing);
	}
}

/*
 * Asks the backend which runs of a batch must not be written, inside its
 * transaction: each run once, as its first change finds it. A run that
 * change inserts has no lease to check; one a redrive takes over
 * (STORE_RUN_SET_LEASE) finds the token before its own.
 */
static int
store_vet_items(struct store *s, struct store_items *list,
    struct orc_error *err)
{
	struct store_item	*it;
	struct store_vet	*v;
	struct hmap		*seen;
	int64_t			*gone;
	size_t			 n = 0, i;
	int			 rc;

	TAILQ_FOREACH(it, list, entry) {
		it->refused = 0;
		n++;
	}
	if (s->ops->vet == NULL)
		return 0;
	/* The list only: the loop changes the counts meanwhile. */
	seen = hmap_create();
	v = xcalloc(n + 1, sizeof *v);
	n = 0;
	TAILQ_FOREACH(it, list, entry) {
		/* Submitted before the loop heard of the refusal. */
		if (it->has_run && (gone = hmap_get(s->refused,
		    it->run.id)) != NULL && it->run.lease_epoch <= *gone) {
			it->refused = 1;
			continue;
		}
		if (!it->has_run || hmap_get(seen, it->run.id) != NULL)
			continue;
		hmap_set(seen, it->run.id, it);
		if ((it->flags & STORE_RUN_INSERT) &&
		    !store_key_unique(it->run.idempotency_key))
			continue;
		v[n].run = &it->run;
		v[n].insert = (it->flags & STORE_RUN_INSERT) != 0;
		v[n].epoch = it->run.lease_epoch -
		    ((it->flags & STORE_RUN_SET_LEASE) != 0);
		n++;
	}
	hmap_free(seen);
	rc = n > 0 ? s->ops->vet(s->be, v, n, err) : 0;
	for (i = 0; rc == 0 && i < n; i++)
		if (v[i].refused)
			store_refuse_run(s, list, &v[i]);
	free(v);
	return rc;
}

/*
 * Writes a list of changes in one transaction, rolled back on error. It
 * touches the backend's writing connection and the list only: the commit
 * thread calls it.
 */
static int
store_write_items(struct store *s, struct store_items *list,
    struct orc_error *err)
{
	struct store_item	*it;
	struct store_change	 ch;

	store_fold_runs(list);
	/* Reads first: they need not wait for this batch's commit. */
	TAILQ_FOREACH(it, list, entry)
		if (it->work != NULL && it->work_first) {
			it->work(s, it->arg);
			it->work = NULL;	/* done, should the batch retry */
		}
	if (s->ops->begin(s->be, err) == -1 ||
	    store_vet_items(s, list, err) == -1)
		goto fail;
	TAILQ_FOREACH(it, list, entry) {
		if (it->work != NULL)
			continue;
		if (it->purge != NULL) {
			/* A retried batch starts the purge over. */
			it->purge->cursor = it->purge_cursor;
			memcpy(it->purge->cursor_id, it->purge_cursor_id,
			    sizeof it->purge_cursor_id);
			it->purge->deleted = it->purge->keys = 0;
			it->purge->done = 0;
			if (s->ops->purge(s->be, it->purge, err) == -1)
				goto fail;
			continue;
		}
		if (it->has_sched) {
			if (s->ops->put_schedule(s->be, &it->sched, err) == -1)
				goto fail;
			continue;
		}
		memset(&ch, 0, sizeof ch);
		ch.flags = it->wflags;
		ch.def = it->has_def ? &it->def : NULL;
		/* A refused run's definition still goes in: the store
		 * remembers it as queued (store_def_known). */
		if (!it->refused) {
			ch.run = it->has_run ? it->wrun : NULL;
			ch.step = it->has_step ? &it->step : NULL;
			ch.transition = it->has_transition ? &it->transition :
			    NULL;
			ch.logs = it->logs;
			ch.nlogs = it->nlogs;
		}
		if (s->ops->apply_change(s->be, &ch, err) == -1)
			goto fail;
	}
	if (s->ops->commit(s->be, err) == -1)
		goto fail;
	/* Only once the batch is in, so that a retried batch does the work
	 * once; its own failure is the work's, not the batch's. */
	TAILQ_FOREACH(it, list, entry)
		if (it->work != NULL && !it->work_first)
			it->work(s, it->arg);
	return 0;

fail:
	s->ops->rollback(s->be);
	return -1;
}

/* n changes were committed: the store is healthy. */
static void
store_committed(struct store *s, size_t n, unsigned commits)
{
	s->npending -= n;
	s->stats.commits += commits;
	s->stats.changes += n;
	if (!s->healthy) {
		log_info("%s: %s: commit succeeded again after %u failures",
		    __func__, s->target, s->failures);
	}
	s->healthy = 1;
	s->failures = 0;
	s->retry_ms = 0;
	if (s->retry_ev != NULL)
		evtimer_del(s->retry_ev);
	log_debug("%s: %s: %zu changes committed", __func__, s->target, n);
}

/* A commit of n changes failed; they are queued again. */
static void
store_commit_failed(struct store *s, const struct orc_error *err, size_t n)
{
	/* Log once per outage, not once per retry. */
	if (s->healthy) {
		log_error("%s: %s (%zu changes kept, retrying)", __func__,
		    err->message, n);
	}
	s->healthy = 0;
	s->failures++;
}

/* Commits the whole queue in one transaction on this thread, with no
 * batch out; the queue is kept on error. */
static int
store_commit(struct store *s, struct orc_error *err)
{
	size_t n = s->nqueued;

	if (TAILQ_EMPTY(&s->queue))
		return 0;
	if (store_write_items(s, &s->queue, err) == -1) {
		store_commit_failed(s, err, n);
		return -1;
	}
	TAILQ_CONCAT(&s->done, &s->queue, entry);
	s->nqueued = 0;
	s->nurgent = 0;
	store_committed(s, n, 1);
	return 0;
}

/* Locks the commit thread's state; failing to is a broken invariant. */
static void
store_wlock(struct store *s)
{
	if (pthread_mutex_lock(&s->wlock) != 0)
		fatal("%s: cannot lock the commit thread's state", __func__);
}

static void
store_wunlock(struct store *s)
{
	if (pthread_mutex_unlock(&s->wlock) != 0)
		fatal("%s: cannot unlock the commit thread's state", __func__);
}

/* The commit thread: commits each batch handed over, then tells the loop
 * through the eventfd. The batch is its alone until it says it is done. */
static void *
store_writer_main(void *arg)
{
	struct store *s = arg;

	orc_thread_name("orc-store");

	store_wlock(s);
	for (;;) {
		while (!s->wstop && s->wstate != STORE_W_WORKING)
			pthread_cond_wait(&s->wcond, &s->wlock);
		if (s->wstate != STORE_W_WORKING)
			break;
		store_wunlock(s);
		orc_error_clear(&s->werr);
		s->wrc = store_write_items(s, &s->inflight, &s->werr);
		store_wlock(s);
		if (s->wrc == 0 && !TAILQ_EMPTY(&s->staged)) {
			/* What the loop handed over meanwhile goes next,
			 * now: the loop reaps this batch when it can. */
			TAILQ_CONCAT(&s->finished, &s->inflight, entry);
			s->nfinished += s->ninflight;
			s->nfinished_commits++;
			TAILQ_CONCAT(&s->inflight, &s->staged, entry);
			s->ninflight = s->nstaged;
			s->nstaged = 0;
			loop_wake_signal(&s->wwake);
			continue;
		}
		s->wstate = STORE_W_DONE;
		pthread_cond_broadcast(&s->wcond);
		loop_wake_signal(&s->wwake);
	}
	store_wunlock(s);
	return NULL;
}

/* Hands the queue to the commit thread: no batch is out, the queue is
 * not empty. */
static void
store_writer_start(struct store *s)
{
	store_wlock(s);
	TAILQ_CONCAT(&s->inflight, &s->queue, entry);
	s->ninflight = s->nqueued;
	s->nqueued = 0;
	s->nurgent = 0;
	s->wstate = STORE_W_WORKING;
	pthread_cond_broadcast(&s->wcond);
	store_wunlock(s);
	s->wbusy = 1;
	if (event_add(s->wev, NULL) != 0)
		fatal("%s: cannot watch the commit thread's eventfd", __func__);
}

/* Whether the queue holds lazy changes alone, which wait (for an urgent
 * one or the timer) rather than take a commit, and a sync, of their own:
 * at 1,000 runs/s a run's last change went alone a third of the time. */
static int
store_lazy_wait(struct store *s)
{
	struct timeval tv = { 0, STORE_LAZY_MS * 1000 };

	/* What commits now takes the lazy changes along: their wait is
	 * over, and the next one's starts when it comes. */
	if (s->nurgent > 0) {
		evtimer_del(s->lazy_ev);
		return 0;
	}
	/* From now, not from the time the loop cached at its turn's top:
	 * the wait is short, that could halve it. */
	if (!evtimer_pending(s->lazy_ev, NULL)) {
		event_base_update_cache_time(s->base);
		evtimer_add(s->lazy_ev, &tv);
	}
	return 1;
}

/* Starts the next batch when there is one and nothing holds it back. */
static void
store_writer_kick(struct store *s)
{
	if (TAILQ_EMPTY(&s->queue) || evtimer_pending(s->retry_ev, NULL) ||
	    store_lazy_wait(s))
		return;
	if (!s->wbusy) {
		store_writer_start(s);
		return;
	}
	/* A batch is out: the queue follows it as soon as it is committed,
	 * without a turn of the loop in between (at full load that turn
	 * left the thread idle a quarter of the time). */
	store_wlock(s);
	if (s->wstate == STORE_W_WORKING) {
		TAILQ_CONCAT(&s->staged, &s->queue, entry);
		s->nstaged += s->nqueued;
		s->nqueued = 0;
		s->nurgent = 0;
	}
	store_wunlock(s);
}

/*
 * Takes what the commit thread did, waiting for it to stop when wait is
 * set: the batches it committed and went past, then, once it stopped, its
 * last batch, which moves to the done list, or back to the head of the
 * queue with what was handed over after it when it failed (err says why).
 * 1 when changes were committed (and none failed), -1 when the last batch
 * failed, 0 when nothing was done yet.
 */
static int
store_writer_reap(struct store *s, int wait, struct orc_error *err)
{
	size_t		 n, nf;
	unsigned	 commits;
	int		 rc;

	if (!s->wbusy)
		return 0;
	store_wlock(s);
	while (wait && s->wstate == STORE_W_WORKING)
		pthread_cond_wait(&s->wcond, &s->wlock);
	TAILQ_CONCAT(&s->done, &s->finished, entry);
	nf = s->nfinished;
	commits = s->nfinished_commits;
	s->nfinished = 0;
	s->nfinished_commits = 0;
	s->wwake.pending = 0;
	if (s->wstate != STORE_W_DONE) {
		store_wunlock(s);
		if (nf == 0)
			return 0;
		store_committed(s, nf, commits);
		return 1;
	}
	rc = s->wrc == 0 ? 1 : -1;
	*err = s->werr;
	n = s->ninflight;
	if (rc > 0) {
		TAILQ_CONCAT(&s->done, &s->inflight, entry);
		nf += n;
		commits++;
	} else {
		TAILQ_CONCAT(&s->inflight, &s->staged, entry);
		TAILQ_CONCAT(&s->inflight, &s->queue, entry);
		TAILQ_CONCAT(&s->queue, &s->inflight, entry);
		s->nqueued += n + s->nstaged;
		s->nurgent = s->nqueued;
		s->nstaged = 0;
	}
	s->ninflight = 0;
	s->wstate = STORE_W_IDLE;
	store_wunlock(s);
	s->wbusy = 0;
	event_del(s->wev);
	if (nf > 0)
		store_committed(s, nf, commits);
	if (rc < 0)
		store_commit_failed(s, err, n);
	return rc;
}

/* The commit thread reported: reap, start the next batch, call back. */
static void
store_writer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store		*s = arg;
	struct orc_error	 err;
	int			 rc;

	loop_wake_drain(&s->wwake);
	orc_error_clear(&err);
	if ((rc = store_writer_reap(s, 0, &err)) == 0)
		return;
	if (rc < 0) {
		store_schedule_retry(s);
		/* The batches committed before the failure. */
		store_run_callbacks(s);
		return;
	}
	/* What was submitted meanwhile commits while the callbacks run:
	 * the thread and the loop overlap instead of taking turns. */
	store_writer_kick(s);
	store_run_callbacks(s);
}

/* Starts the commit thread and the eventfd it reports through. */
static void
store_writer_open(struct store *s)
{
	int e;

	loop_wake_open(&s->wwake, "the commit thread");
	if (pthread_mutex_init(&s->wlock, NULL) != 0 ||
	    pthread_cond_init(&s->wcond, NULL) != 0)
		fatal("%s: cannot set up the commit thread's lock", __func__);
	/* Watched only while a batch is out, so that a loop with nothing
	 * else to do still ends. */
	s->wev = event_new(s->base, loop_wake_fd(&s->wwake),
	    EV_READ | EV_PERSIST, store_writer_cb, s);
	if (s->wev == NULL)
		fatal("%s: cannot watch the commit thread's eventfd", __func__);
	if ((e = loop_thread_start(&s->wthread, store_writer_main, s)) != 0)
		fatal("%s: cannot start the commit thread: %s", __func__,
		    strerror(e));
	s->threaded = 1;
}

/* Stops the commit thread (no batch is out) and frees what it used. */
static void
store_writer_close(struct store *s)
{
	if (!s->threaded)
		return;
	store_wlock(s);
	s->wstop = 1;
	pthread_cond_broadcast(&s->wcond);
	store_wunlock(s);
	pthread_join(s->wthread, NULL);
	event_free(s->wev);
	loop_wake_close(&s->wwake);
	pthread_cond_destroy(&s->wcond);
	pthread_mutex_destroy(&s->wlock);
	s->threaded = 0;
}

/* Whether commits go to a thread: with a loop, when reads have their own
 * connection, unless ORCH_COMMIT_THREAD is "0". */
static int
store_wants_thread(const struct store *s)
{
	if (s->cfg.no_commit_thread)
		return 0;
	return s->ops->separate_reader != NULL &&
	    s->ops->separate_reader(s->be);
}

/* Arms the retry timer with the next backoff. */
static void
store_schedule_retry(struct store *s)
{
	struct timeval tv;

	if (s->retry_ev == NULL)
		return;
	if (s->retry_ms == 0)
		s->retry_ms = STORE_RETRY_MIN_MS;
	else if ((s->retry_ms *= 2) > STORE_RETRY_MAX_MS)
		s->retry_ms = STORE_RETRY_MAX_MS;
	tv.tv_sec = s->retry_ms / 1000;
	tv.tv_usec = (s->retry_ms % 1000) * 1000;
	evtimer_add(s->retry_ev, &tv);
}

/*
 * Calls the callbacks of committed changes in order. A callback that
 * flushes again only appends to the done list: the outermost caller keeps
 * calling, so the order stays the submit order.
 */
static void
store_run_callbacks(struct store *s)
{
	struct store_item	*it;
	store_commit_cb		 cb;
	void			*arg;

	if (s->in_callbacks)
		return;
	s->in_callbacks = 1;
	while ((it = TAILQ_FIRST(&s->done)) != NULL) {
		TAILQ_REMOVE(&s->done, it, entry);
		cb = it->cb;
		arg = it->arg;
		if (it->purge != NULL && !it->purge->dry_run)
			s->stats.purged += (uint64_t)it->purge->deleted;
		if (it->refused && s->refused_cb != NULL)
			s->refused_cb(it->run.id, it->existing[0] != '\0' ?
			    it->existing : NULL, s->refused_arg);
		store_item_free(it);
		if (cb != NULL)
			cb(arg);
	}
	s->in_callbacks = 0;
}

/* Commits what was submitted (on the commit thread when there is one),
 * and tries again later when that fails. */
static void
store_commit_or_retry(struct store *s)
{
	struct orc_error	 err;

	if (s->threaded) {
		store_writer_kick(s);
		return;
	}
	if (store_lazy_wait(s))
		return;
	orc_error_clear(&err);
	if (store_commit(s, &err) == -1) {
		store_schedule_retry(s);
		return;
	}
	store_run_callbacks(s);
}

/* The loop is idle: commit what was submitted meanwhile. */
static void
store_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	/* A failed commit's timer owns the queue until it succeeds. */
	if (!evtimer_pending(s->retry_ev, NULL))
		store_commit_or_retry(s);
}

/* Lazy changes waited long enough: they commit, alone if need be. */
static void
store_lazy_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	s->nurgent = s->nqueued;
	store_flush_cb(fd, what, arg);
}

/* Tries a failed commit again. */
static void
store_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	store_commit_or_retry(s);
}

/* Frees a value of a map (hmap_each). */
static void
store_free_value(const char *key, void *value, void *arg)
{
	free(value);
}

/* Commits what is pending and closes. */
void
store_close(struct store *s)
{
	struct store_item	*it;
	struct orc_error	 err;
	size_t			 i;

	if (s == NULL)
		return;
	orc_error_clear(&err);
	if ((!TAILQ_EMPTY(&s->queue) || s->wbusy) &&
	    store_flush(s, &err) == -1) {
		log_error("%s: %s: %zu changes lost: %s", __func__, s->target,
		    s->npending, err.message);
	}
	while ((it = TAILQ_FIRST(&s->queue)) != NULL) {
		TAILQ_REMOVE(&s->queue, it, entry);
		store_item_free(it);
	}
	while ((it = TAILQ_FIRST(&s->done)) != NULL) {
		TAILQ_REMOVE(&s->done, it, entry);
		store_item_free(it);
	}
	store_writer_close(s);
	if (s->flush_ev != NULL)
		event_free(s->flush_ev);
	if (s->retry_ev != NULL)
		event_free(s->retry_ev);
	if (s->lazy_ev != NULL)
		event_free(s->lazy_ev);
	s->ops->close(s->be);
	for (i = 0; i < STORE_KNOWN_DEFS; i++)
		free(s->known[i]);
	hmap_each(s->refused, store_free_value, NULL);
	hmap_free(s->refused);
	free(s->target);
	free(s);
}

/* Queues a copy of a change; committed when the loop is next idle. */
void
store_submit(struct store *s, const struct store_change *ch)
{
	struct store_item	*it;

	if (s->flags & STORE_READONLY)
		fatal("%s: %s is open read-only", __func__, s->target);
	it = xcalloc(1, sizeof *it);
	it->flags = ch->flags & ~(STORE_RUN_SKIP | STORE_RUN_FOLDED);
	it->cb = ch->cb;
	it->arg = ch->arg;
	it->lazy = ch->lazy;
	if (ch->run != NULL) {
		run_rec_copy(&it->run, ch->run);
		it->has_run = 1;
	}
	if (ch->step != NULL) {
		store_step_copy(&it->step, ch->step);
		it->has_step = 1;
	}
	if (ch->transition != NULL) {
		store_transition_copy(&it->transition, ch->transition);
		it->has_transition = 1;
	}
	if (ch->def != NULL && ch->def->hash != NULL &&
	    !store_def_known(s, ch->def->hash)) {
		store_def_copy(&it->def, ch->def);
		it->has_def = 1;
		store_def_remember(s, ch->def->hash);
	}
	/* Only with the run they belong to: the backends key them so. */
	if (ch->run != NULL && ch->nlogs > 0) {
		it->logs = store_logs_copy(ch->logs, ch->nlogs);
		it->nlogs = ch->nlogs;
	}

	store_enqueue(s, it);
}

/* Appends an item to the queue and wakes the flush event. */
static void
store_enqueue(struct store *s, struct store_item *it)
{
	int was_empty;

	was_empty = TAILQ_EMPTY(&s->queue);
	TAILQ_INSERT_TAIL(&s->queue, it, entry);
	s->nqueued++;
	s->npending++;
	if (!it->lazy)
		s->nurgent++;
	/*
	 * The first change of a batch wakes the flush event: it runs after
	 * the callbacks the loop is running now, so whatever they submit
	 * joins the same transaction. So does the first urgent change
	 * after lazy ones. While a retry is pending, its timer commits
	 * everything.
	 */
	if ((was_empty || (!it->lazy && s->nurgent == 1)) &&
	    s->flush_ev != NULL &&
	    !evtimer_pending(s->retry_ev, NULL))
		event_active(s->flush_ev, EV_WRITE, 0);
}

/* Commits the queue now and calls its callbacks. */
int
store_flush(struct store *s, struct orc_error *err)
{
	struct orc_error e;

	/* A batch out first: the submit order holds. Should it fail, its
	 * changes are queued again and committed below. */
	orc_error_clear(&e);
	(void)store_writer_reap(s, 1, &e);
	orc_error_clear(&e);
	if (store_commit(s, &e) == -1) {
		if (err != NULL)
			*err = e;
		/* Keep the timer going when the loop drives retries. */
		if (s->retry_ev != NULL && !evtimer_pending(s->retry_ev, NULL))
			store_schedule_retry(s);
		return -1;
	}
	store_run_callbacks(s);
	return 0;
}

/* The number of changes not committed yet. */
size_t
store_pending(const struct store *s)
{
	return s->npending;
}

/* 0 while the last commit failed, or the target is lost. */
int
store_healthy(const struct store *s)
{
	return s->healthy && !s->lost;
}

int
store_check_target(struct store *s, struct orc_error *err)
{
	if (s->ops->check_target == NULL)
		return 0;
	s->lost = s->ops->check_target(s->be, err) != 0;
	return s->lost ? -1 : 0;
}

void
store_get_stats(const struct store *s, struct store_stats *out)
{
	*out = s->stats;
}

/* Reads the one row of query q by its key into rec, through a feed of
 * kind (STORE_FEED_*_ONE); ENOTFOUND naming what when there is none. */
static int
store_get_one(struct store *s, enum store_query q, enum store_feed_kind kind,
    const char *what, const char *key, void *rec, struct orc_error *err)
{
	struct store_one	one = { rec, 0 };
	struct store_feed	feed = { kind, .arg = &one };
	struct store_param	v[] = { STORE_TEXT(key) };

	if (s->ops->query(s->be, q, v, 1, &feed, err) == -1)
		return -1;
	if (!one.found) {
		orc_error_set(err, ORC_ENOTFOUND, "%s %s not found", what,
		    key);
		return -1;
	}
	return 0;
}

/* Reads one run. */
int
store_get_run(struct store *s, const char *id, struct run_rec *r,
    struct orc_error *err)
{
	memset(r, 0, sizeof *r);
	return store_get_one(s, STORE_QUERY_RUN, STORE_FEED_RUN_ONE, "run", id,
	    r, err);
}

/* A listing's limit as a parameter: NULL when not positive, for all. */
static struct store_param
store_limit(int64_t limit)
{
	struct store_param v = STORE_INT(limit), all = STORE_TEXT(NULL);

	return limit > 0 ? v : all;
}

/* Lists runs newest first. */
int
store_list_runs(struct store *s, const struct run_filter *f, store_run_cb cb,
    void *arg, struct orc_error *err)
{
	struct store_feed	feed = { STORE_FEED_RUN, .cb.run = cb,
	    .arg = arg };
	struct store_param	v[] = { STORE_TEXT(f->workflow),
	    STORE_TEXT(f->state >= 0 ? run_state_name(f->state) : NULL),
	    STORE_INT(f->since), STORE_INT(f->until),
	    STORE_TEXT(f->error_like), STORE_TEXT(f->before_id),
	    store_limit(f->limit) };
	unsigned		mask = store_list_mask(f), i;

	/* Bit i of the mask is parameter i + 1; the limit is always set. */
	for (i = 0; (1U << i) < STORE_LIST_VARIANTS; i++)
		if ((mask & (1U << i)) == 0)
			v[i] = (struct store_param)STORE_TEXT(NULL);
	return s->ops->list_runs(s->be, mask, v, sizeof v / sizeof v[0], &feed,
	    err);
}

/* Lists a run's finished steps in visit order. */
int
store_list_steps(struct store *s, const char *run_id, store_step_cb cb,
    void *arg, struct orc_error *err)
{
	struct store_feed	feed = { STORE_FEED_STEP, .cb.step = cb,
	    .arg = arg };
	struct store_param	v[] = { STORE_TEXT(run_id) };

	return s->ops->query(s->be, STORE_QUERY_STEPS, v, 1, &feed, err);
}

/* The children a step of a run made, by item. */
int
store_list_children(struct store *s, const char *parent_id,
    const struct child_filter *f, store_child_cb cb, void *arg,
    struct orc_error *err)
{
	struct store_feed	feed = { STORE_FEED_CHILD, .cb.child = cb,
	    .arg = arg };
	struct store_param	v[] = { STORE_TEXT(parent_id),
	    STORE_TEXT(f->step),
	    STORE_TEXT(f->state >= 0 ? run_state_name(f->state) : NULL),
	    STORE_INT(f->after), store_limit(f->limit),
	    STORE_INT(f->with_output != 0), STORE_INT(f->seq) };

	return s->ops->query(s->be, STORE_QUERY_CHILDREN, v, 7, &feed, err);
}

/* The children of a run's steps, counted by step and state. */
int
store_count_children(struct store *s, const char *parent_id,
    store_count_cb cb, void *arg, struct orc_error *err)
{
	struct store_feed	feed = { STORE_FEED_COUNT, .cb.count = cb,
	    .arg = arg };
	struct store_param	v[] = { STORE_TEXT(parent_id) };

	return s->ops->query(s->be, STORE_QUERY_COUNT_CHILDREN,
	    v, 1, &feed, err);
}

/* Lists a run's transitions in the order they were written. */
int
store_list_transitions(struct store *s, const char *run_id,
    store_transition_cb cb, void *arg, struct orc_error *err)
{
	struct store_feed	feed = { STORE_FEED_TRANSITION,
	    .cb.transition = cb, .arg = arg };
	struct store_param	v[] = { STORE_TEXT(run_id) };

	return s->ops->query(s->be, STORE_QUERY_TRANSITIONS, v, 1, &feed, err);
}

/* Lists a run's log lines in the order they were written. */
int
store_list_logs(struct store *s, const char *run_id, int64_t after_id,
    store_log_cb cb, void *arg, struct orc_error *err)
{
	struct store_feed	feed = { STORE_FEED_LOG, .cb.log = cb,
	    .arg = arg };
	struct store_param	v[] = { STORE_TEXT(run_id),
	    STORE_INT(after_id) };

	return s->ops->query(s->be, STORE_QUERY_LOGS, v, 2, &feed, err);
}

/* Reads one definition by hash. */
int
store_get_definition(struct store *s, const char *hash, struct def_rec *d,
    struct orc_error *err)
{
	memset(d, 0, sizeof *d);
	return store_get_one(s, STORE_QUERY_DEF, STORE_FEED_DEF_ONE,
	    "definition", hash, d, err);
}

/* The newest run of a workflow made with an idempotency key since a time,
 * on the writer (by the commit thread) or the reader: 1 with its id, 0
 * when there is none. */
static int
store_find_key(struct store *s, int on_writer, const char *workflow,
    const char *key, int64_t since, char id[RUN_ID_LEN + 1],
    struct orc_error *err)
{
	struct store_one	one = { id, 0 };
	struct store_feed	feed = { STORE_FEED_ID_ONE, .arg = &one };
	struct store_param	v[] = { STORE_TEXT(workflow), STORE_TEXT(key),
	    STORE_INT(since) };
	int			ret;

	if (on_writer)
		ret = s->ops->exec(s->be, STORE_QUERY_FIND_KEY, v, 3, &feed,
		    err);
	else
		ret = s->ops->query(s->be, STORE_QUERY_FIND_KEY, v, 3, &feed,
		    err);
	return ret == -1 ? -1 : one.found;
}

/* Finds a run by its workflow's idempotency key. */
int
store_find_idempotent(struct store *s, const char *workflow,
    const char *key, int64_t since, char id[RUN_ID_LEN + 1],
    struct orc_error *err)
{
	return store_find_key(s, 0, workflow, key, since, id, err);
}

/* When the next waiting run nobody holds is due. */
int
store_next_wake(struct store *s, int64_t *due, struct orc_error *err)
{
	struct store_one	one = { due, 0 };
	struct store_feed	feed = { STORE_FEED_INT_ONE, .arg = &one };

	*due = 0;
	return s->ops->query(s->be, STORE_QUERY_NEXT_WAKE, NULL, 0, &feed,
	    err);
}

/* Reads a secret and decodes its hex. */
int
store_secret(struct store *s, const char *name, uint8_t *buf, size_t len,
    struct orc_error *err)
{
	char			*hex = NULL;
	struct store_one	 one = { &hex, 0 };
	struct store_feed	 feed = { STORE_FEED_TEXT_ONE, .arg = &one };
	struct store_param	 p[] = { STORE_TEXT(name) };
	size_t			 i;
	unsigned		 v;

	if (s->ops->query(s->be, STORE_QUERY_SECRET, p, 1, &feed, err) != 0)
		return -1;
	if (hex == NULL || strlen(hex) != len * 2) {
		orc_error_set(err, ORC_ESTORE, "%s: the secret \"%s\" is "
		    "missing or damaged", s->target, name);
		free(hex);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (sscanf(hex + i * 2, "%2x", &v) != 1)
			break;
		buf[i] = (uint8_t)v;
	}
	free(hex);
	if (i < len) {
		orc_error_set(err, ORC_ESTORE, "%s: the secret \"%s\" is not "
		    "hex", s->target, name);
		return -1;
	}
	return 0;
}

/* Counts runs per state, of one workflow or all. */
int
store_count_runs(struct store *s, const char *workflow,
    int64_t counts[RUN_STATE_COUNT], struct orc_error *err)
{
	struct store_feed	feed = { STORE_FEED_STATES, .arg = counts };
	struct store_param	v[] = { STORE_TEXT(workflow) };

	memset(counts, 0, RUN_STATE_COUNT * sizeof counts[0]);
	if (workflow == NULL)
		return s->ops->query(s->be, STORE_QUERY_COUNT_ALL,
		    NULL, 0, &feed, err);
	return s->ops->query(s->be, STORE_QUERY_COUNT_WORKFLOW,
	    v, 1, &feed, err);
}

/* Counts runs per workflow and state. */
int
store_count_by_workflow(struct store *s, store_count_cb cb, void *arg,
    struct orc_error *err)
{
	struct store_feed feed = { STORE_FEED_COUNT, .cb.count = cb,
	    .arg = arg };

	return s->ops->query(s->be, STORE_QUERY_COUNT_BY_WORKFLOW,
	    NULL, 0, &feed, err);
}

/* Lists the runs finished since a time, newest first. */
int
store_list_finished(struct store *s, int64_t since, int limit,
    store_finish_cb cb, void *arg, struct orc_error *err)
{
	struct store_feed	feed = { STORE_FEED_FINISH, .cb.finish = cb,
	    .arg = arg };
	/* finished_at is 0 for unfinished runs: never list those. */
	struct store_param	v[] = { STORE_INT(since > 0 ? since : 1),
	    store_limit(limit) };

	return s->ops->query(s->be, STORE_QUERY_FINISHED, v, 2, &feed, err);
}

/* Counts, up to a limit, the runs that ended in a state since a time. */
int
store_count_finished(struct store *s, enum run_state state, int64_t since,
    int64_t limit, int64_t *n, struct orc_error *err)
{
	struct store_one	one = { n, 0 };
	struct store_feed	feed = { STORE_FEED_INT_ONE, .arg = &one };
	/* finished_at is 0 for unfinished runs: never count those. */
	struct store_param	v[] = { STORE_INT(since > 0 ? since : 1),
	    STORE_TEXT(run_state_name(state)), store_limit(limit) };

	*n = 0;
	return s->ops->query(s->be, STORE_QUERY_COUNT_FINISHED, v, 3, &feed,
	    err);
}

/* Finds runs by id prefix or error text. */
int
store_search_runs(struct store *s, const char *text, int scan, int limit,
    store_run_cb cb, void *arg, struct orc_error *err)
{
	struct store_feed	feed = { STORE_FEED_RUN, .cb.run = cb,
	    .arg = arg };
	struct store_param	v[] = { STORE_TEXT(text), STORE_TEXT(NULL),
	    store_limit(limit) };
	char			*end;
	int			 ret;

	/* Ids are ASCII and sort bytewise: every id with the prefix sorts
	 * below prefix+DEL. */
	v[1].text = end = xasprintf("%s\x7f", text);
	ret = s->ops->query(s->be, STORE_QUERY_SEARCH_ID, v, 3, &feed, err);
	free(end);
	if (ret == -1)
		return -1;
	/* The error search: only the newest scan runs with an error. */
	v[1] = (struct store_param)STORE_INT(scan > 0 ? scan : 1);
	return s->ops->query(s->be, STORE_QUERY_SEARCH_ERROR, v, 3, &feed,
	    err);
}

/* Claims the unfinished runs nobody live holds, after the pending writes. */
int
store_claim_runs(struct store *s, const char *owner, int64_t until,
    const char *const *ids, const char *workflow,
    store_owner_gone_fn gone_fn, void *gone_arg, store_run_cb cb,
    void *cb_arg, struct orc_error *err)
{
	struct run_rec	*runs = NULL;
	size_t		 n = 0, i;
	int		 stop = 0;

	if (s->flags & STORE_READONLY) {
		orc_error_set(err, ORC_EINVAL, "%s: opened read-only",
		    s->target);
		return -1;
	}
	if (store_flush(s, err) == -1)
		return -1;
	if (s->ops->claim_runs(s->be, owner, until, orc_now_ms(), ids,
	    workflow, gone_fn, gone_arg, &runs, &n, err) == -1)
		return -1;
	log_debug("%s: %s: %s claimed %zu runs", __func__, s->target, owner,
	    n);
	for (i = 0; i < n; i++) {
		if (!stop && cb != NULL && cb(&runs[i], cb_arg) != 0)
			stop = 1;
		run_rec_clear(&runs[i]);
	}
	free(runs);
	return 0;
}

/* A claim or a lease renewal done by the commit thread. */
struct store_job {
	char			*owner;
	int64_t			 until;
	store_owner_gone_fn	 gone_fn;
	void			*gone_arg;
	struct run_rec		*runs;
	size_t			 n;
	int			 rc;
	struct orc_error	 err;
	store_claimed_cb	 cb;		/* NULL: a renewal */
	void			*arg;
};

/* Queues work for the commit thread (first: before the batch it lands
 * in is written); done is called on the loop with arg once it ran. */
static void
store_enqueue_work(struct store *s, void (*work)(struct store *, void *),
    int first, store_commit_cb done, void *arg)
{
	struct store_item *it;

	if (s->flags & STORE_READONLY)
		fatal("%s: %s is open read-only", __func__, s->target);
	it = xcalloc(1, sizeof *it);
	it->work = work;
	it->work_first = first;
	it->cb = done;
	it->arg = arg;
	store_enqueue(s, it);
}

/* On the commit thread: claims. */
static void
store_claim_work(struct store *s, void *arg)
{
	struct store_job *j = arg;

	orc_error_clear(&j->err);
	j->rc = s->ops->claim_runs(s->be, j->owner, j->until, orc_now_ms(),
	    NULL, NULL, j->gone_fn, j->gone_arg, &j->runs, &j->n, &j->err);
}

/* Runs a write of a text and an integer (store_query) on the writer. */
static int
store_exec(struct store *s, enum store_query q, const char *text,
    int64_t n, struct orc_error *err)
{
	struct store_param v[] = { STORE_TEXT(text), STORE_INT(n) };

	return s->ops->exec(s->be, q, v, 2, NULL, err);
}

/*
 * Takes, on the writer, the requests to cancel the runs owner holds, and
 * drops those older than an hour (their runs ended before anyone took
 * them): *ids new (store_free_ids), or NULL.
 */
static int
store_take_cancels(struct store *s, const char *owner, int64_t now,
    char ***ids, size_t *n, struct orc_error *err)
{
	char			 any[RUN_ID_LEN + 1];
	struct store_one	 one = { any, 0 };
	struct store_ids	 got = { NULL, 0, 0 };
	struct store_feed	 f_any = { STORE_FEED_ID_ONE, .arg = &one },
				 f_got = { STORE_FEED_IDS, .arg = &got };
	struct store_param	 v[] = { STORE_TEXT(owner) },
				 old[] = { STORE_INT(now - 3600 * 1000) };

	*ids = NULL;
	*n = 0;
	/* Nearly always none: one read, no write and no sync. */
	if (s->ops->exec(s->be, STORE_QUERY_CANCEL_ANY, NULL, 0, &f_any,
	    err) == -1)
		return -1;
	if (!one.found)
		return 0;
	if (s->ops->exec(s->be, STORE_QUERY_CANCEL_TAKE, v, 1, &f_got,
	    err) == -1 || s->ops->exec(s->be, STORE_QUERY_CANCEL_EXPIRE, old,
	    1, NULL, err) == -1) {
		store_free_ids(got.v, got.n);
		return -1;
	}
	*ids = got.v;
	*n = got.n;
	return 0;
}

/* On the commit thread: renews. */
static void
store_renew_work(struct store *s, void *arg)
{
	struct store_job *j = arg;

	orc_error_clear(&j->err);
	j->rc = store_exec(s, STORE_QUERY_RENEW, j->owner, j->until, &j->err);
}

/* On the loop: hands the claimed runs over, frees the job. */
static void
store_job_done(void *arg)
{
	struct store_job *j = arg;
	size_t i;

	if (j->cb != NULL)
		j->cb(j->rc == 0 ? j->runs : NULL, j->rc == 0 ? j->n : 0,
		    j->rc == 0 ? NULL : &j->err, j->arg);
	else if (j->rc != 0)
		log_warn("%s: renewing leases: %s", __func__, j->err.message);
	for (i = 0; i < j->n; i++)
		run_rec_clear(&j->runs[i]);
	free(j->runs);
	free(j->owner);
	free(j);
}

/* Claims like store_claim_runs (every run of every workflow), on the
 * commit thread: the loop waits neither for a commit nor for the lock. */
void
store_claim_runs_async(struct store *s, const char *owner, int64_t until,
    store_owner_gone_fn gone_fn, void *gone_arg, store_claimed_cb cb,
    void *arg)
{
	struct store_job *j = xcalloc(1, sizeof *j);

	j->owner = xstrdup(owner);
	j->until = until;
	j->gone_fn = gone_fn;
	j->gone_arg = gone_arg;
	j->cb = cb;
	j->arg = arg;
	store_enqueue_work(s, store_claim_work, 0, store_job_done, j);
}

/* A look-up of an idempotency key by the commit thread. */
struct store_key_job {
	char			*workflow;
	char			*key;
	int64_t			 since;
	int			 rc;
	char			 id[RUN_ID_LEN + 1];
	struct orc_error	 err;
	store_key_cb		 cb;
	void			*arg;
};

/* On the commit thread, before its batch: the read. */
static void
store_key_work(struct store *s, void *arg)
{
	struct store_key_job *j = arg;

	orc_error_clear(&j->err);
	j->rc = store_find_key(s, 1, j->workflow, j->key, j->since, j->id,
	    &j->err);
}

/* On the loop: the answer. */
static void
store_key_done(void *arg)
{
	struct store_key_job *j = arg;

	j->cb(j->rc > 0 ? j->id : NULL, j->rc < 0 ? &j->err : NULL, j->arg);
	free(j->workflow);
	free(j->key);
	free(j);
}

/* store_find_idempotent, read by the commit thread: the loop waits for no
 * disk or network. */
void
store_find_idempotent_async(struct store *s, const char *workflow,
    const char *key, int64_t since, store_key_cb cb, void *arg)
{
	struct store_key_job *j = xcalloc(1, sizeof *j);

	j->workflow = xstrdup(workflow);
	j->key = xstrdup(key);
	j->since = since;
	j->cb = cb;
	j->arg = arg;
	store_enqueue_work(s, store_key_work, 1, store_key_done, j);
}

/* Frees a list of ids a backend made. */
void
store_free_ids(char **ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* A request to cancel, or the taking of requests, by the commit thread. */
struct store_cancel_job {
	char			*arg_text;	/* run id, or owner */
	char			**ids;
	size_t			 n;
	int			 rc;
	struct orc_error	 err;
	store_cancels_cb	 cb;		/* NULL: a request */
	void			*arg;
};

/* On the commit thread: records the request. */
static void
store_cancel_put_work(struct store *s, void *arg)
{
	struct store_cancel_job *j = arg;

	orc_error_clear(&j->err);
	j->rc = store_exec(s, STORE_QUERY_CANCEL_PUT, j->arg_text,
	    orc_now_ms(), &j->err);
}

/* On the commit thread: takes the owner's requests. */
static void
store_cancel_take_work(struct store *s, void *arg)
{
	struct store_cancel_job *j = arg;

	orc_error_clear(&j->err);
	j->rc = store_take_cancels(s, j->arg_text, orc_now_ms(), &j->ids,
	    &j->n, &j->err);
}

/* On the loop: the requests taken, or the request's failure logged. */
static void
store_cancel_done(void *arg)
{
	struct store_cancel_job *j = arg;

	if (j->cb != NULL)
		j->cb((const char *const *)j->ids, j->rc == 0 ? j->n : 0,
		    j->rc == 0 ? NULL : &j->err, j->arg);
	else if (j->rc != 0)
		log_warn("%s: run %s: %s", __func__, j->arg_text,
		    j->err.message);
	store_free_ids(j->ids, j->n);
	free(j->arg_text);
	free(j);
}

/* A request key to record (store_request_key_put). */
struct store_rkey_job {
	char			*target;
	char			*key;
	struct request_key	 rk;
	int64_t			 since;
	int			 rc;
	struct orc_error	 err;
};

/* On the commit thread: records the key. */
static void
store_rkey_work(struct store *s, void *arg)
{
	struct store_rkey_job	*j = arg;
	/* The keys older than since go first. */
	struct store_param	 old[] = { STORE_INT(j->since) };
	struct store_param	 v[] = { STORE_TEXT(j->target),
	    STORE_TEXT(j->key), STORE_TEXT(j->rk.run_id),
	    STORE_TEXT(j->rk.body_sha), STORE_INT(orc_now_ms()) };

	orc_error_clear(&j->err);
	j->rc = s->ops->exec(s->be, STORE_QUERY_RKEY_EXPIRE, old, 1, NULL,
	    &j->err);
	if (j->rc == 0)
		j->rc = s->ops->exec(s->be, STORE_QUERY_RKEY_PUT, v, 5, NULL,
		    &j->err);
}

/* On the loop: a failure logged, the job freed. */
static void
store_rkey_done(void *arg)
{
	struct store_rkey_job *j = arg;

	if (j->rc != 0)
		log_warn("%s: %s: %s", __func__, j->target, j->err.message);
	free(j->target);
	free(j->key);
	free(j);
}

int
store_request_key_get(struct store *s, const char *target, const char *key,
    int64_t since, struct request_key *out, struct orc_error *err)
{
	struct store_one	one = { out, 0 };
	struct store_feed	feed = { STORE_FEED_RKEY_ONE, .arg = &one };
	struct store_param	v[] = { STORE_TEXT(target), STORE_TEXT(key),
	    STORE_INT(since) };

	if (s->ops->query(s->be, STORE_QUERY_RKEY_GET, v, 3, &feed, err) == -1)
		return -1;
	return one.found;
}

void
store_request_key_put(struct store *s, const char *target, const char *key,
    const struct request_key *rk, int64_t since)
{
	struct store_rkey_job *j = xcalloc(1, sizeof *j);

	j->target = xstrdup(target);
	j->key = xstrdup(key);
	j->rk = *rk;
	j->since = since;
	if (s->threaded) {
		store_enqueue_work(s, store_rkey_work, 0, store_rkey_done, j);
		return;
	}
	store_rkey_work(s, j);
	store_rkey_done(j);
}

/* Records a request to cancel a run another process executes: at once
 * on a store without a commit thread (a command), else by that thread. */
int
store_request_cancel(struct store *s, const char *run_id,
    struct orc_error *err)
{
	struct store_cancel_job *j;

	if (s->flags & STORE_READONLY) {
		orc_error_set(err, ORC_EINVAL, "%s: opened read-only",
		    s->target);
		return -1;
	}
	if (!s->threaded)
		return store_exec(s, STORE_QUERY_CANCEL_PUT, run_id,
		    orc_now_ms(), err);
	j = xcalloc(1, sizeof *j);
	j->arg_text = xstrdup(run_id);
	store_enqueue_work(s, store_cancel_put_work, 0, store_cancel_done, j);
	return 0;
}

/* Takes the requests to cancel the runs owner holds, by the commit
 * thread; cb gets their run ids on the loop. */
void
store_take_cancels_async(struct store *s, const char *owner,
    store_cancels_cb cb, void *arg)
{
	struct store_cancel_job *j = xcalloc(1, sizeof *j);

	j->arg_text = xstrdup(owner);
	j->cb = cb;
	j->arg = arg;
	store_enqueue_work(s, store_cancel_take_work, 0, store_cancel_done, j);
}

/* Renews like store_renew_leases, on the commit thread. */
void
store_renew_leases_async(struct store *s, const char *owner, int64_t until)
{
	struct store_job *j = xcalloc(1, sizeof *j);

	j->owner = xstrdup(owner);
	j->until = until;
	store_enqueue_work(s, store_renew_work, 0, store_job_done, j);
}

/* Whether this process fires the cron triggers. */
int
store_sched_leader(struct store *s, struct orc_error *err)
{
	if (s->ops->sched_leader == NULL)
		return 1;
	return s->ops->sched_leader(s->be, err);
}

/* Pushes the expiry of the owner's leases. */
int
store_renew_leases(struct store *s, const char *owner, int64_t until,
    struct orc_error *err)
{
	struct orc_error e;
	int rc;

	if (s->flags & STORE_READONLY) {
		orc_error_set(err, ORC_EINVAL, "%s: opened read-only",
		    s->target);
		return -1;
	}
	if (!s->threaded)
		return store_exec(s, STORE_QUERY_RENEW, owner, until, err);
	/* The writing connection is the loop's only with no batch out. */
	orc_error_clear(&e);
	if (store_writer_reap(s, 1, &e) == -1)
		store_schedule_retry(s);
	rc = store_exec(s, STORE_QUERY_RENEW, owner, until, err);
	store_run_callbacks(s);
	store_writer_kick(s);
	return rc;
}

/* Frees a schedule record's strings. */
void
schedule_rec_clear(struct schedule_rec *r)
{
	free(r->workflow);
	free(r->schedule);
	free(r->timezone);
	free(r->last_run_id);
	memset(r, 0, sizeof *r);
}

/* Copies a schedule record: dst owns its own strings. */
void
schedule_rec_copy(struct schedule_rec *dst, const struct schedule_rec *src)
{
	*dst = *src;
	dst->workflow = store_strdup(src->workflow);
	dst->schedule = store_strdup(src->schedule);
	dst->timezone = store_strdup(src->timezone);
	dst->last_run_id = store_strdup(src->last_run_id);
}

/* Queues a schedule row behind the changes already queued. */
void
store_put_schedule(struct store *s, const struct schedule_rec *r)
{
	struct store_item *it;

	if (s->flags & STORE_READONLY)
		fatal("%s: %s is open read-only", __func__, s->target);
	it = xcalloc(1, sizeof *it);
	schedule_rec_copy(&it->sched, r);
	it->has_sched = 1;
	store_enqueue(s, it);
}

/* Where a purge's scan ends. */
int64_t
store_purge_end(const struct store_purge *p)
{
	int64_t end = INT64_MAX;

	if (p->finished_before > 0)
		end = p->finished_before;
	if (p->by_retention && p->now - p->retention_ms < end)
		end = p->now - p->retention_ms;
	return end;
}

/* Queues a purge behind the changes already queued. */
void
store_submit_purge(struct store *s, struct store_purge *p, store_commit_cb cb,
    void *arg)
{
	struct store_item *it;

	if (s->flags & STORE_READONLY)
		fatal("%s: %s is open read-only", __func__, s->target);
	it = xcalloc(1, sizeof *it);
	it->purge = p;
	it->purge_cursor = p->cursor;
	memcpy(it->purge_cursor_id, p->cursor_id, sizeof p->cursor_id);
	it->cb = cb;
	it->arg = arg;
	store_enqueue(s, it);
}

/* The bytes the store takes. */
int
store_size(struct store *s, int64_t *bytes, struct orc_error *err)
{
	return s->ops->size(s->be, bytes, err);
}

/* Copies the store to a new file. */
int
store_backup(struct store *s, const char *file,
    struct store_backup_stats *st, struct orc_error *err)
{
	memset(st, 0, sizeof *st);
	return s->ops->backup(s->be, file, st, err);
}

/* What store_retentions collects. */
struct store_ret_list {
	int64_t		*v;
	size_t		 n;
};

/* Adds a retention unless it is there or keeps forever. */
static int
store_ret_add_cb(int64_t ms, void *arg)
{
	struct store_ret_list	*l = arg;
	size_t			 i;

	if (ms < 0)
		return 0;
	for (i = 0; i < l->n; i++)
		if (l->v[i] == ms)
			return 0;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n++] = ms;
	return 0;
}

/* The retentions finished runs may have. */
int
store_retentions(struct store *s, int64_t default_ms, int64_t **out,
    size_t *n, struct orc_error *err)
{
	struct store_ret_list l = { NULL, 0 };

	*out = NULL;
	*n = 0;
	/* Runs whose definition is not stored count as the default. */
	store_ret_add_cb(default_ms, &l);
	if (s->ops->retentions(s->be, default_ms, store_ret_add_cb, &l,
	    err) != 0) {
		free(l.v);
		return -1;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

/* When the oldest finished run finished. */
int
store_oldest_finished(struct store *s, int64_t *at, struct orc_error *err)
{
	return s->ops->oldest_finished(s->be, at, err);
}

/* Reads every schedule row. */
int
store_list_schedules(struct store *s, store_schedule_cb cb, void *arg,
    struct orc_error *err)
{
	struct store_feed feed = { STORE_FEED_SCHEDULE, .cb.schedule = cb,
	    .arg = arg };

	return s->ops->query(s->be, STORE_QUERY_SCHEDULES, NULL, 0, &feed, err);
}

/* What store_get_schedule looks for and finds. */
struct store_sched_find {
	const char		*workflow;
	struct schedule_rec	*out;
	int			 found;
};

/* Keeps the row of the wanted workflow. */
static int
store_sched_find_cb(const struct schedule_rec *r, void *arg)
{
	struct store_sched_find *f = arg;

	if (strcmp(r->workflow, f->workflow) != 0)
		return 0;
	schedule_rec_copy(f->out, r);
	f->found = 1;
	return 1;
}

/* One workflow's schedule row; the table holds one row per cron trigger,
 * few enough to scan. */
int
store_get_schedule(struct store *s, const char *workflow,
    struct schedule_rec *out, struct orc_error *err)
{
	struct store_sched_find f = { workflow, out, 0 };

	memset(out, 0, sizeof *out);
	if (store_list_schedules(s, store_sched_find_cb, &f, err) != 0)
		return -1;
	return f.found;
}
