/*
 * Worker processes: where user code (lua steps) runs, off the daemon's
 * event loop. The pool starts n processes (worker-child.c), each running
 * the same program as "__worker" in a sandbox (sandbox.c), and hands them
 * calls over a socket (wmsg.h); results come back on the loop. A worker
 * runs many calls, one at a time; a call waiting for ctx.fetch holds no
 * worker. A call past its deadline inside C code (where Lua's hooks cannot
 * stop it) has its worker killed, and a new one takes the worker's place;
 * the same for a worker that crashes or says something that is not a
 * valid message. The other calls the worker held start again on another
 * worker, as after a crash of the whole daemon (steps run at least once).
 * When every worker has its fill, calls wait in a bounded queue.
 */
#ifndef WORKER_H
#define WORKER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "orchestrator.h"

struct event_base;
struct fetch;
struct script_job;
struct worker_call;
struct worker_pool;

/* The page a worker shares with the daemon: the id of the call it runs. */
#define WORKER_SHM_SIZE		4096
/* The most workers; the default is the number of cores. */
#define WORKER_MAX		64
/* Calls waiting for a worker, at most. */
#define WORKER_QUEUE_MAX	100000
/* How long after its deadline a call stuck in C code is killed. */
#define WORKER_GRACE_MS		150

struct worker_stats {
	int		workers;	/* configured */
	int		alive;		/* running now */
	uint64_t	restarts;	/* workers started again */
	uint64_t	kills;		/* killed at a deadline */
	uint64_t	crashes;	/* died by themselves, or lied */
	uint64_t	calls;		/* calls started */
	size_t		queued;		/* calls waiting for a worker */
	size_t		running;	/* calls on workers */
};

/* The end of a call: ok with output (owned) and next (or NULL), or the
 * message of its failure. */
typedef void (*worker_done_cb)(void *arg, int ok, json_t *output,
		    const char *next, int retryable, const char *message);

/* Starts n workers (1 to WORKER_MAX) running exe (NULL: this program).
 * fetch serves their ctx.fetch (NULL: refused, for a replay). Exits
 * through fatal() when it cannot make a channel; a worker that cannot
 * start is tried again, backing off. */
struct worker_pool *worker_pool_create(struct event_base *, struct fetch *,
		    int n, const char *exe);
/* Kills the workers; calls still open are dropped without callbacks. */
void		 worker_pool_free(struct worker_pool *);
void		 worker_pool_stats(const struct worker_pool *,
		    struct worker_stats *);
/* The process id of a slot's worker, or -1 (for tests and operators). */
long		 worker_pool_pid(const struct worker_pool *, int slot);
/* The default number of workers: the cores, 1 to WORKER_MAX. */
int		 worker_default_count(void);

/*
 * Runs a script on a worker. trigger and steps (referenced until the call
 * ends) go to the worker only if the script reads ctx.trigger or
 * ctx.steps. allow is the workflow's (ctx.fetch is checked here, in the
 * daemon) and secrets the names it may read, whose values travel with
 * the call. done is called once, later, from the loop;
 * NULL when the queue is full (err says so).
 */
struct worker_call *worker_call_start(struct worker_pool *,
		    const struct script_job *, const json_t *trigger,
		    const json_t *steps, const json_t *allow,
		    const json_t *secrets, worker_done_cb, void *arg,
		    struct orc_error *);
/* Where a call's ctx.log lines go (level 0..3, bounded by the daemon
 * too), with done's arg; without it, the daemon's log. */
typedef void (*worker_log_cb)(void *arg, int level, const char *,
		    size_t);
void		 worker_call_set_log(struct worker_call *, worker_log_cb);
/* Stops a call: done will not be called. One that runs inside C code
 * past its deadline has its worker killed shortly after. */
void		 worker_call_cancel(struct worker_call *);

struct sandbox_limits;
/* The worker process's main (orchestrator __worker): the channel on fd,
 * the shared page on shm_fd, the sandbox's limits sl (NULL: defaults).
 * Returns only on a start-up failure. */
int		 worker_child_main(int fd, int shm_fd,
		    const struct sandbox_limits *sl);

#endif
