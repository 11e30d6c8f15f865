/*
 * A small fixed pool of worker threads for one event loop, for blocking
 * file work (write, fsync, rename) that must not stall the loop.
 *
 * pool_submit() queues a job: work runs on a worker thread, then done runs
 * on the loop thread, from the loop, once the loop sees the completion.
 * work must touch only what arg holds (no engine, no store, no jansson
 * values others may change); done may do anything the loop does.
 *
 * Ownership: arg belongs to the pool from pool_submit() until done(arg, 0)
 * or done(arg, 1) is called, exactly once per job, always on the loop
 * thread (or inside pool_cancel/pool_free). done(arg, 0) is the normal
 * completion; done(arg, 1) only releases arg: the job was cancelled or the
 * pool freed, and it must not finish anything (its step may be gone).
 * The job handle is valid until done is called; do not use it afterwards.
 *
 * Workers are woken once the loop is through its current turn (one
 * signal for all the jobs a turn submits), so a job starts only when the
 * loop runs: code that submits and then blocks must let the loop turn.
 */
#ifndef POOL_H
#define POOL_H

struct event_base;
struct pool;
struct pool_job;

typedef void	(*pool_work_fn)(void *arg);
typedef void	(*pool_done_fn)(void *arg, int cancelled);
typedef void	(*pool_group_fn)(void **args, int n);

/* The most threads a pool has. */
#define POOL_MAX_THREADS	64

/* n threads on base's loop (ORCH_IO_THREADS for the engine's); n <= 0:
 * pool_default_threads(). NULL when base is NULL (callers then do the
 * work inline). */
struct pool	*pool_create(struct event_base *base, int n);
/* The default thread count: the cores online, 2 to 8. */
int		 pool_default_threads(void);
/* Joins the workers (a running job ends first). Jobs not yet delivered
 * are released with done(arg, 1); nothing is finished. Call it from the
 * loop thread, not from a done function. NULL is a no-op. */
void		 pool_free(struct pool *);
/* Queues work(arg) then done(arg, 0) on the loop. Never fails. */
struct pool_job	*pool_submit(struct pool *, pool_work_fn, pool_done_fn,
		    void *arg);
/*
 * Queues a job that may share its end with others: a worker that takes
 * it also takes every job queued behind it with the same group function
 * (up to POOL_GROUP_MAX), runs work for each, then group once with all
 * their args (in queue order), then hands each to the loop as above. The
 * group is as large as the queue is long: one at a time when the pool
 * keeps up, larger under load. For work whose cost is one per group,
 * such as making writes durable with one sync for many files.
 */
#define POOL_GROUP_MAX	128
struct pool_job	*pool_submit_group(struct pool *, pool_work_fn, pool_group_fn,
		    pool_done_fn, void *arg);
/*
 * Drops a job's result, from the loop thread, before its done(arg, 0).
 * A job still queued never runs and done(arg, 1) is called before this
 * returns. A job running or already run keeps arg until the worker is
 * through, and the loop then calls done(arg, 1) instead of done(arg, 0):
 * the work itself is not undone (a file may still be written).
 */
void		 pool_cancel(struct pool_job *);
/* The number of worker threads. */
int		 pool_threads(const struct pool *);
/* Jobs submitted and not yet released (queued, running or undelivered). */
unsigned	 pool_pending(const struct pool *);

#endif
