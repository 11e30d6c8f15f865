/*
 * The store: where runs, their finished steps, their transitions and the
 * definitions they were pinned to are kept. The engine speaks to it in
 * those terms and never in SQL; a backend (store-sqlite.c, store-pg.c)
 * fills a struct store_ops.
 *
 * Writes are grouped. store_submit() queues one change (a run's new state,
 * optionally the step that just finished, the transition row, the
 * definition the run is pinned to) and returns at once. The queue is
 * committed in one transaction when the event loop is next idle, and only
 * then are the changes' callbacks called, in order: nothing that depends on
 * a change may happen outside before its callback. When a commit fails the
 * batch is kept and tried again; the store reports itself unhealthy.
 *
 * Reads are synchronous and go through a second connection, so they never
 * wait on, nor block, the writer.
 */
#ifndef STORE_H
#define STORE_H

#include <jansson.h>
#include <stdint.h>

#include "orchestrator.h"

struct event_base;
struct store;

enum run_state {
	RUN_QUEUED,
	RUN_RUNNING,
	RUN_RETRYING,
	RUN_SUCCEEDED,
	RUN_FAILED,
	RUN_CANCELLED,
	RUN_WAITING	/* for a signal or its time; in memory or not */
};
#define RUN_STATE_COUNT 7

const char	*run_state_name(enum run_state);
int		 run_state_parse(const char *, enum run_state *);
int		 run_state_is_final(enum run_state);

/* Where a failed run's on_failure handler stands. */
enum dead_state { DEAD_NONE, DEAD_PENDING, DEAD_DONE, DEAD_FAILED };

#define RUN_ID_LEN 26

/* A run as stored. Strings and JSON are owned by the record. */
struct run_rec {
	char		 id[RUN_ID_LEN + 1];
	char		*workflow;
	char		*def_hash;
	enum run_state	 state;
	int		 seq;		/* visit number of the current step */
	char		*step;		/* current step name, NULL when done */
	int		 attempt;	/* of the current step, 0 before start */
	json_t		*input;		/* the trigger payload */
	json_t		*trigger;	/* where it came from: source, headers */
	json_t		*output;	/* final output, or NULL */
	char		*error;		/* last error, or NULL */
	enum dead_state	 dead;
	char		*idempotency_key;
	int64_t		 created_at;	/* ms since the epoch */
	int64_t		 updated_at;
	int64_t		 due_at;	/* when a retrying run is due, or 0 */
	int64_t		 finished_at;	/* or 0 */
	char		*lease_owner;	/* or NULL */
	int64_t		 lease_until;
	/* The fencing token of the lease (PostgreSQL; 0 on SQLite): a
	 * claim by another owner raises it by one, and a write is refused
	 * unless it carries the token the row has. */
	int64_t		 lease_epoch;
	/* A child run's place (engine-fan.c): the run that made it, that
	 * run's step and its visit of it (seq), the item (-1: none).
	 * Written with the run's insert only; read back by
	 * store_list_children (a child's trigger names its parent too). */
	char		*parent_id;
	char		*parent_step;
	int		 parent_seq;
	int64_t		 item;
};

/* A step visit that finished successfully. */
struct step_rec {
	char		 run_id[RUN_ID_LEN + 1];
	int		 seq;
	char		*name;
	int		 attempts;
	json_t		*output;
	int64_t		 started_at;
	int64_t		 finished_at;
};

/* One row of a run's timeline. */
struct transition_rec {
	int64_t		 id;		/* filled by the store on reads */
	char		 run_id[RUN_ID_LEN + 1];
	int64_t		 at;
	int		 from_state;	/* an enum run_state, or -1 */
	enum run_state	 to_state;
	char		*event;		/* created, started, step_succeeded, ... */
	char		*step;		/* or NULL */
	int		 seq;
	int		 attempt;
	char		*error;		/* or NULL */
	int64_t		 duration_ms;	/* of the step attempt, or 0 */
};

/*
 * One line a step attempt logged (ctx.log, or a built-in step's own
 * line), kept with its run: written in the commit of the run's next
 * change, deleted with the run.
 */
struct log_rec {
	int64_t		 id;		/* filled by the store on reads */
	char		 run_id[RUN_ID_LEN + 1];
	int64_t		 at;		/* ms since the epoch */
	char		*step;		/* or NULL */
	int		 attempt;
	int		 level;		/* an enum log_level (log.h) */
	char		*message;
};

struct def_rec {
	char		*hash;
	char		*name;
	char		*path;
	char		*body;
	int64_t		 created_at;
	/* How long its finished runs are kept: 0, the store's default;
	 * STORE_FOREVER, always. */
	int64_t		 retention_ms;
};
#define STORE_FOREVER	(-1)

void	run_rec_clear(struct run_rec *);
void	run_rec_copy(struct run_rec *dst, const struct run_rec *src);
/* Whether a write of the run drops its lease: it is final (and owes no
 * on_failure), or it waits with no process holding it (lease_owner NULL). */
int	store_run_lets_lease_go(const struct run_rec *);

void	step_rec_clear(struct step_rec *);
void	transition_rec_clear(struct transition_rec *);
void	def_rec_clear(struct def_rec *);
void	log_rec_clear(struct log_rec *);
void	log_rec_copy(struct log_rec *dst, const struct log_rec *src);

/* Flags of a change. */
#define STORE_RUN_INSERT	0x1	/* a new run: write every column */
#define STORE_RUN_SET_INPUT	0x2	/* redrive with an edited input */
#define STORE_RUN_SET_DEF	0x4	/* redrive on another definition */
/* Write lease_owner and lease_until, taking the lease: the record's
 * lease_epoch is the new token, the row must hold the one before it. */
#define STORE_RUN_SET_LEASE	0x8
/*
 * Set by the store on the changes of one transaction, never by callers
 * (store_submit drops them): SKIP, another change of this transaction
 * writes the run's row (the run is still lent, for the counters); FOLDED,
 * earlier writes of this run were skipped, so every moving column is
 * written, not only those of a move within one state.
 */
#define STORE_RUN_SKIP		0x10
#define STORE_RUN_FOLDED	0x20
/* A redrive that goes back (another input, an earlier step): the children
 * the run's steps made on its visits from the record's seq on belong to
 * no visit any more (store_list_children finds them no more). Applied
 * with the change's own record, even when another change writes the row. */
#define STORE_RUN_DETACH	0x40

typedef void (*store_commit_cb)(void *arg);

/* One atomic change. Everything is borrowed: store_submit copies it. */
struct store_change {
	const struct run_rec		*run;
	unsigned			 flags;
	const struct step_rec		*step;		/* or NULL */
	const struct transition_rec	*transition;	/* or NULL */
	const struct def_rec		*def;		/* or NULL */
	const struct log_rec		*logs;		/* of run, or NULL */
	size_t				 nlogs;
	store_commit_cb			 cb;		/* or NULL */
	void				*arg;
	/* Nothing waits for its commit: it may wait up to STORE_LAZY_MS
	 * for the next change that something does wait for, and share
	 * that change's commit (one sync fewer). */
	int				 lazy;
};

#define STORE_LAZY_MS	2

struct run_filter {
	const char	*workflow;	/* or NULL */
	int		 state;		/* an enum run_state, or -1 */
	int64_t		 since;		/* created at or after, or 0 */
	int64_t		 until;		/* created before, or 0 */
	const char	*error_like;	/* substring of the error, or NULL */
	const char	*before_id;	/* paging: ids smaller than this */
	int		 limit;		/* 0: no limit */
};

typedef int (*store_run_cb)(const struct run_rec *, void *);
typedef int (*store_step_cb)(const struct step_rec *, void *);
typedef int (*store_transition_cb)(const struct transition_rec *, void *);
typedef int (*store_log_cb)(const struct log_rec *, void *);

/* A child run as its parent's step sees it (store_list_children). */
struct child_rec {
	int64_t		 item;		/* -1: none */
	char		 id[RUN_ID_LEN + 1];
	enum run_state	 state;
	json_t		*output;	/* when asked for, else NULL */
	char		*error;		/* or NULL */
};
typedef int (*store_child_cb)(const struct child_rec *, void *);
/* Tells whether a lease owner is known to be gone (its process died). */
typedef int (*store_owner_gone_fn)(const char *owner, void *);

/* The open flags. */
#define STORE_READONLY	0x1	/* reads only: CLI listings */
/* The daemon: one per SQLite file, a second gets ORC_EBUSY naming the
 * first's pid. */
#define STORE_SERVE	0x2

/* How a writer commits: ORCH_SYNCHRONOUS. */
enum store_sync { STORE_SYNC_FULL, STORE_SYNC_NORMAL, STORE_SYNC_OFF };

/* How a store is opened: the environment's settings, which conf.c reads;
 * store_config_defaults fills in the defaults. blob_dir is copied. */
struct store_config {
	int		 busy_ms;	/* ORCH_BUSY_TIMEOUT_MS: a write waits
					 * this long for a lock, 0 to 3600000;
					 * -1: the backend's 5000 */
	enum store_sync	 sync;		/* ORCH_SYNCHRONOUS */
	int		 no_wal_buffer;	/* ORCH_WAL_BUFFER=0 (SQLite, FULL) */
	int		 no_commit_thread; /* ORCH_COMMIT_THREAD=0 */
	size_t		 blob_bytes;	/* ORCH_BLOB_BYTES, 0: the default */
	int		 no_compress;	/* ORCH_COMPRESS=0 (SQLite) */
	const char	*blob_dir;	/* ORCH_BLOB_DIR (PostgreSQL) or NULL */
};

/* Fills in the defaults. */
void	store_config_defaults(struct store_config *);

/*
 * Opens a store: a SQLite file path (":memory:" for a throwaway store).
 * base may be NULL: then writes are only committed by store_flush().
 * cfg may be NULL for the defaults; store_open is store_open_with(NULL).
 */
struct store	*store_open_with(const char *target, unsigned flags,
		    struct event_base *, const struct store_config *cfg,
		    struct orc_error *);
struct store	*store_open(const char *target, unsigned flags,
		    struct event_base *, struct orc_error *);
/* Commits what is pending (without calling it an error if nothing is) and
 * closes. Callbacks of a pending batch are called before it returns. */
void		 store_close(struct store *);

void		 store_submit(struct store *, const struct store_change *);
/* Commits the queue now and calls its callbacks; -1 when it failed (the
 * queue is kept). */
int		 store_flush(struct store *, struct orc_error *);
size_t		 store_pending(const struct store *);
/*
 * A commit refuses the changes of a run, which are not written (their
 * callbacks are still called, after cb): on PostgreSQL when another
 * process took the run's lease over (its lease_epoch moved on), and in
 * both backends when a new run's idempotency key is a unique one (a cron
 * fire's "cron:MS") that another run holds already (existing, else
 * NULL). Each refused change calls cb on the loop, before its own
 * callback; a later change of the same run is refused too.
 */
typedef void (*store_refused_cb)(const char *run_id, const char *existing,
		    void *arg);
void		 store_set_refused_cb(struct store *, store_refused_cb,
		    void *);
/* Drops the callbacks of every change not yet called back, passing each
 * callback's arg to free_arg (may be NULL): for an owner that goes away
 * while a commit cannot happen. The changes themselves stay queued.
 * Purges (store_submit_purge) keep theirs. */
void		 store_forget_callbacks(struct store *, void (*)(void *));
/* 0 while the last commit failed, or since store_check_target found the
 * target lost. */
int		 store_healthy(const struct store *);
/* Whether the target is still the one open (a SQLite file removed or
 * replaced is not): -1 with err, and the store unhealthy, until a later
 * check finds it back. For a timer on the loop's thread. */
int		 store_check_target(struct store *, struct orc_error *);
/* Transactions committed and the changes they held, since opening. */
struct store_stats {
	uint64_t	 commits;
	uint64_t	 changes;
	uint64_t	 purged;	/* runs deleted by store_purge */
};
void		 store_get_stats(const struct store *, struct store_stats *);

/*
 * A deletion of finished runs, run inside a grouped commit so that it
 * never holds a long transaction: it scans at most scan rows of the
 * finished-runs index after cursor, up to the scan's end, and deletes at
 * most limit of them. Never a live run, nor a failed one whose
 * on_failure is due. A run goes when it matches workflow and state and,
 * when set, finished before finished_before (the scan's end); with
 * by_retention, the scan's end is now - retention_ms and a run goes when
 * its definition's retention (default_ms when the definition has none)
 * is retention_ms: one purge per retention in use (store_retentions),
 * so that each row is read once per retention as time moves the ends
 * on, never again for each pass. Its steps, transitions, log lines,
 * counters and blob files (unless another run uses them) go with it.
 * With dry_run nothing changes and deleted counts the matches.
 * keys_before, when set, also forgets at most limit idempotency keys of
 * runs created before it (lookups ignore them already).
 */
struct store_purge {
	const char	*workflow;	/* or NULL */
	int		 state;		/* a final state, or -1 */
	int64_t		 finished_before;	/* or 0 */
	int		 by_retention;
	int64_t		 retention_ms;	/* the retention purged */
	int64_t		 default_ms;	/* or STORE_FOREVER */
	int64_t		 now;
	int64_t		 keys_before;	/* or 0 */
	int		 limit;
	int		 scan;
	int		 dry_run;
	/* In: the last run a previous scan saw, by finished_at and id (0:
	 * start with the oldest). Out, once committed: the last this one
	 * saw; done when it reached the scan's end. */
	int64_t		 cursor;
	char		 cursor_id[RUN_ID_LEN + 1];
	int		 done;
	int64_t		 deleted;	/* out: runs deleted (or matching) */
	int64_t		 keys;		/* out: idempotency keys forgotten */
};

/* Where a purge's scan ends: finished_at below it (for the backends). */
int64_t	store_purge_end(const struct store_purge *);

/* Queues a purge (p is borrowed until cb is called, and written by the
 * commit); it joins the queue like a change. */
void	store_submit_purge(struct store *, struct store_purge *p,
	    store_commit_cb cb, void *arg);
/* The bytes the store takes (SQLite: the file and its log; PostgreSQL:
 * the database). */
int	store_size(struct store *, int64_t *bytes, struct orc_error *);
/* The retentions finished runs may have: default_ms and those of the
 * stored definitions, without STORE_FOREVER, in a new array (*out, *n;
 * the definitions are few, one per version of a workflow). */
int	store_retentions(struct store *, int64_t default_ms, int64_t **out,
	    size_t *n, struct orc_error *);
/* When the oldest finished run finished (ms), 0 when none has. */
int	store_oldest_finished(struct store *, int64_t *at,
	    struct orc_error *);

/* What a backup copied. */
struct store_backup_stats {
	int64_t		 runs;
	int64_t		 unfinished;	/* resume when the copy is served */
	int64_t		 blobs;		/* files the copy's rows refer to */
	int64_t		 bytes;		/* of the copy's database file */
};
/*
 * Copies a live store to file, a new SQLite file, with its blob files in
 * the folder beside file (blob.h): one consistent snapshot taken in a
 * read transaction, so that a daemon on the store goes on committing
 * meanwhile. The copy's leases are let go, so that a daemon started on it
 * resumes its unfinished runs at once. PostgreSQL stores are backed up
 * with pg_dump: ORC_EUNSUPPORTED says so.
 */
int	store_backup(struct store *, const char *file,
	    struct store_backup_stats *, struct orc_error *);

/* Reads. A callback returning non-zero stops the iteration. */
int	store_get_run(struct store *, const char *id, struct run_rec *,
	    struct orc_error *);
int	store_list_runs(struct store *, const struct run_filter *,
	    store_run_cb, void *, struct orc_error *);
int	store_list_steps(struct store *, const char *run_id, store_step_cb,
	    void *, struct orc_error *);
/* Which children of a run's step store_list_children reads. */
struct child_filter {
	const char	*step;
	int		 seq;		/* the step's visit; -1: its latest */
	int		 state;		/* an enum run_state, or -1 */
	int64_t		 after;		/* items after this one; -1: all */
	int		 limit;		/* 0: no limit */
	int		 with_output;
};
/* The children a step of parent_id made (map items, parallel branches),
 * by item. */
int	store_list_children(struct store *, const char *parent_id,
	    const struct child_filter *, store_child_cb, void *,
	    struct orc_error *);

int	store_list_transitions(struct store *, const char *run_id,
	    store_transition_cb, void *, struct orc_error *);
/* Lists a run's log lines written after the line after_id (0: all), in
 * the order they were written. */
int	store_list_logs(struct store *, const char *run_id, int64_t after_id,
	    store_log_cb, void *, struct orc_error *);
int	store_get_definition(struct store *, const char *hash,
	    struct def_rec *, struct orc_error *);
/* The newest run of workflow created at or after since with that
 * idempotency key: 1 and its id, 0 when none, -1 on error. */
int	store_find_idempotent(struct store *, const char *workflow,
	    const char *key, int64_t since, char id[RUN_ID_LEN + 1],
	    struct orc_error *);
/* Counts runs per state: counts[RUN_STATE_COUNT]. */
int	store_count_runs(struct store *, const char *workflow,
	    int64_t counts[RUN_STATE_COUNT], struct orc_error *);

/*
 * The dashboard's reads: each uses an index (or the counters kept with the
 * writes) and costs the same on a store of any size.
 */
typedef int (*store_count_cb)(const char *workflow, enum run_state,
    int64_t n, void *);
/* Calls cb once per (workflow, state) that has runs, by workflow name. */
int	store_count_by_workflow(struct store *, store_count_cb, void *,
	    struct orc_error *);
/* How many children each step of parent_id made on its latest visit, by
 * state (the callback's first argument is the step). */
int	store_count_children(struct store *, const char *parent_id,
	    store_count_cb, void *, struct orc_error *);

/* A finished run, as throughput and latency see it. */
struct finish_rec {
	int64_t		 finished_at;
	enum run_state	 state;
	/* finished_at - created_at, or - its last redrive's time */
	int64_t		 duration_ms;
};
typedef int (*store_finish_cb)(const struct finish_rec *, void *);
/* The runs finished at or after since, newest first, at most limit. */
int	store_list_finished(struct store *, int64_t since, int limit,
	    store_finish_cb, void *, struct orc_error *);
/* *n: how many runs ended in state at or after since, counting at most
 * limit of them. */
int	store_count_finished(struct store *, enum run_state, int64_t since,
	    int64_t limit, int64_t *n, struct orc_error *);
/* Runs whose id starts with text (newest first, at most limit), then
 * those among the newest scan runs with an error whose error contains
 * text (newest first, at most limit); a run may come twice. */
int	store_search_runs(struct store *, const char *text, int scan,
	    int limit, store_run_cb, void *, struct orc_error *);

/*
 * Cron triggers' state, one row per workflow (the schedules table), kept
 * by scheduler.c so that a restart neither skips nor doubles a fire.
 */
struct schedule_rec {
	char		*workflow;
	char		*schedule;	/* the expression as configured */
	char		*timezone;	/* or NULL: UTC */
	int64_t		 next_at;	/* next fire (ms); 0: not scheduled */
	int64_t		 last_fire_at;	/* scheduled time of the last run */
	char		*last_run_id;	/* that run, or NULL */
	int64_t		 fired;		/* runs started */
	int64_t		 skipped;	/* fires not started */
	int64_t		 updated_at;
};

void	schedule_rec_clear(struct schedule_rec *);
void	schedule_rec_copy(struct schedule_rec *dst,
	    const struct schedule_rec *src);

typedef int (*store_schedule_cb)(const struct schedule_rec *, void *);
/* Queues an upsert of a schedule's row (copied). It joins the queue like
 * a change: committed after, or with, the changes submitted before it,
 * such as the run its fire started. */
void	store_put_schedule(struct store *, const struct schedule_rec *);
/* Every schedule row, by workflow name. */
int	store_list_schedules(struct store *, store_schedule_cb, void *,
	    struct orc_error *);
/* One workflow's row: 1 with *out (to clear), 0 when none, -1 on error. */
int	store_get_schedule(struct store *, const char *workflow,
	    struct schedule_rec *out, struct orc_error *);

/* Whether this process fires the cron triggers: 1 or 0 (-1 on error,
 * err set). With SQLite always; with PostgreSQL, the one node holding the
 * scheduler's lock, which another node takes when the holder's session
 * ends. Call it from the loop's thread. */
int	store_sched_leader(struct store *, struct orc_error *);
/* What store_claim_runs_async found: the runs (borrowed for the call), or
 * NULL with err when the claim failed. */
typedef void (*store_claimed_cb)(const struct run_rec *, size_t n,
		    const struct orc_error *err, void *arg);
/* store_claim_runs of every workflow and store_renew_leases, done by the
 * commit thread behind what is queued (the loop waits for no lock or
 * commit); cb is called on the loop, failures of a renewal are logged. */
void	store_claim_runs_async(struct store *, const char *owner,
	    int64_t until, store_owner_gone_fn, void *gone_arg,
	    store_claimed_cb, void *arg);
void	store_renew_leases_async(struct store *, const char *owner,
	    int64_t until);
/* store_find_idempotent read by the commit thread before its next batch;
 * cb gets the run's id (or NULL), or err when the read failed. */
typedef void (*store_key_cb)(const char *id, const struct orc_error *err,
		    void *arg);
void	store_find_idempotent_async(struct store *, const char *workflow,
	    const char *key, int64_t since, store_key_cb, void *arg);
/* Cancel from anywhere: a request to cancel a run another process
 * executes is recorded (-1 with err when it cannot be), and the process
 * holding the run takes its requests now and then (cb gets the run ids
 * on the loop, or err). */
int	store_request_cancel(struct store *, const char *run_id,
	    struct orc_error *);
typedef void (*store_cancels_cb)(const char *const *ids, size_t n,
		    const struct orc_error *err, void *arg);
void	store_take_cancels_async(struct store *, const char *owner,
	    store_cancels_cb, void *arg);

/*
 * Leases. A process claims unfinished runs (queued, running, retrying, or
 * failed with on_failure pending) whose lease is free, expired or held by
 * a dead owner; ids selects which (NULL: all), workflow narrows them.
 * Synchronous: it commits the pending queue first, then claims in its own
 * transaction. The claimed runs are passed to cb.
 */
int	store_claim_runs(struct store *, const char *owner, int64_t until,
	    const char *const *ids, const char *workflow,
	    store_owner_gone_fn, void *gone_arg, store_run_cb, void *cb_arg,
	    struct orc_error *);
/* Pushes the expiry of every lease the owner holds. Synchronous. */
/* The earliest due_at of a waiting run no process holds: *due, or 0 when
 * there is none. Read on the reader connection. */
int	store_next_wake(struct store *, int64_t *due, struct orc_error *);
/* The server's secret called name (the migration made it: the same for
 * every process on the database), decoded into buf of exactly len bytes.
 * Read on the reader connection. */
int	store_secret(struct store *, const char *name, uint8_t *buf,
	    size_t len, struct orc_error *);

/* What answered a signal or callback sent with an Idempotency-Key. */
struct request_key {
	char		run_id[RUN_ID_LEN + 1];
	char		body_sha[65];	/* of the request's body, hex */
};

/* Looks up the key of a request to target (its path) made since then:
 * 1 and *out, 0 when none, -1. Read on the reader connection. */
int	store_request_key_get(struct store *, const char *target,
	    const char *key, int64_t since, struct request_key *out,
	    struct orc_error *);
/* Records the key once the changes submitted before it are written (by
 * the commit thread, when the store has one; a failure is logged), and
 * forgets the keys made before since. */
void	store_request_key_put(struct store *, const char *target,
	    const char *key, const struct request_key *, int64_t since);
int	store_renew_leases(struct store *, const char *owner, int64_t until,
	    struct orc_error *);

#endif
