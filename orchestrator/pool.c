/*
 * Worker threads for blocking file work, one small pool per event loop.
 *
 * A job moves queued -> running -> done under the pool's mutex: a worker
 * takes the oldest queued job, runs it without the lock, and appends it to
 * the done list. The loop learns of done jobs through an eventfd
 * (loop.h): the worker that makes the done list non-empty writes to it,
 * the loop's read event empties it, takes the whole list and calls each
 * done function on the loop thread. The loop signals the workers once per
 * turn, after its callbacks, not once per job.
 *
 * A job submitted with a group function is taken with the queued jobs
 * that share it: the worker unqueues them all at once, runs each one's
 * work, then the group function once, then pushes them all done.
 *
 * Cancelling (on the loop) removes a queued job outright. A running or
 * done job only gets a flag: the worker keeps using arg until it is
 * through, and the loop releases arg when it sees the completion, with
 * done(arg, 1). So arg outlives every thread that uses it, and a cancelled
 * job never finishes anything. The flag is only read on the loop thread
 * and the pending count only used there; the queue, the done list and the
 * job states are under the mutex.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "loop.h"
#include "orchestrator.h"
#include "pool.h"

/* The default is one worker per core, within these bounds. */
#define POOL_DEFAULT_MIN	2
#define POOL_DEFAULT_MAX	8

enum pool_job_state { POOL_JOB_QUEUED, POOL_JOB_RUNNING, POOL_JOB_DONE };

struct pool_job {
	struct pool		*pool;
	pool_work_fn		 work;
	pool_group_fn		 group;		/* or NULL */
	pool_done_fn		 done;
	void			*arg;
	enum pool_job_state	 state;		/* under the mutex */
	int			 cancelled;	/* set by the loop */
	struct pool_job		*prev;		/* in the queue */
	struct pool_job		*next;		/* in the queue or done list */
};

struct pool {
	struct event_base	*base;
	struct event		*ev;		/* on the wake's eventfd */
	struct event		*kick;		/* wakes a worker */
	struct loop_wake	 wake;		/* workers -> the loop */
	pthread_t		*threads;
	int			 nthreads;
	unsigned		 pending;	/* loop thread only */

	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;		/* a job was queued, or stop */
	int			 stopping;
	struct pool_job		*qhead, *qtail;	/* queued, oldest first */
	struct pool_job		*dhead, *dtail;	/* done, oldest first */
};

/* Locks the mutex; failing to is a broken invariant. */
static void
pool_lock(struct pool *p)
{
	if (pthread_mutex_lock(&p->lock) != 0)
		fatal("%s: cannot lock the I/O pool", __func__);
}

/* Unlocks the mutex. */
static void
pool_unlock(struct pool *p)
{
	if (pthread_mutex_unlock(&p->lock) != 0)
		fatal("%s: cannot unlock the I/O pool", __func__);
}

/* Unlinks a queued job; the lock is held. */
static void
pool_unqueue(struct pool *p, struct pool_job *job)
{
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		p->qhead = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	else
		p->qtail = job->prev;
	job->prev = job->next = NULL;
}

/* Appends a finished job to the done list and wakes the loop; locked. */
static void
pool_push_done(struct pool *p, struct pool_job *job)
{
	job->state = POOL_JOB_DONE;
	job->next = NULL;
	if (p->dtail != NULL)
		p->dtail->next = job;
	else
		p->dhead = job;
	p->dtail = job;
	loop_wake_signal(&p->wake);
}

/*
 * Takes the oldest queued job and, when it has a group function, the
 * queued jobs behind it with the same one; locked. Returns how many.
 */
static int
pool_take(struct pool *p, struct pool_job **jobs)
{
	struct pool_job *job, *next;
	int n = 0;

	for (job = p->qhead; job != NULL && n < POOL_GROUP_MAX; job = next) {
		next = job->next;
		if (n > 0 && (jobs[0]->group == NULL ||
		    job->group != jobs[0]->group))
			continue;
		pool_unqueue(p, job);
		job->state = POOL_JOB_RUNNING;
		jobs[n++] = job;
		if (job->group == NULL)
			break;
	}
	return n;
}

/* The loop's turn is through submitting: one signal for all its jobs
 * rather than one (and a switch to a worker thread) per job, which also
 * lets a worker take more of a group at once. */
static void
pool_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;

	pool_lock(p);
	if (p->qhead != NULL)
		pthread_cond_signal(&p->cond);
	pool_unlock(p);
}

/* A worker: runs queued jobs until the pool stops. */
static void *
pool_worker(void *arg)
{
	struct pool *p = arg;
	struct pool_job *jobs[POOL_GROUP_MAX];
	void *args[POOL_GROUP_MAX];
	int i, n;

	orc_thread_name("orc-io");

	pool_lock(p);
	for (;;) {
		while (!p->stopping && p->qhead == NULL)
			pthread_cond_wait(&p->cond, &p->lock);
		/* Stopping: what is still queued is released by pool_free. */
		if (p->stopping)
			break;
		n = pool_take(p, jobs);
		/* The loop signals once per turn: a worker that leaves jobs
		 * queued wakes the next, so all work while work lasts. */
		if (p->qhead != NULL)
			pthread_cond_signal(&p->cond);
		pool_unlock(p);

		for (i = 0; i < n; i++) {
			jobs[i]->work(jobs[i]->arg);
			args[i] = jobs[i]->arg;
		}
		if (jobs[0]->group != NULL)
			jobs[0]->group(args, n);

		pool_lock(p);
		for (i = 0; i < n; i++)
			pool_push_done(p, jobs[i]);
	}
	pool_unlock(p);
	return NULL;
}

/* Calls a job's done function on the loop thread and frees the job. */
static void
pool_deliver(struct pool *p, struct pool_job *job, int cancelled)
{
	pool_done_fn done = job->done;
	void *arg = job->arg;

	/* Freed first: done may cancel or submit other jobs. */
	free(job);
	p->pending--;
	done(arg, cancelled);
}

/* The eventfd is readable: deliver every job done so far. */
static void
pool_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	struct pool_job *job, *next;

	loop_wake_drain(&p->wake);
	pool_lock(p);
	job = p->dhead;
	p->dhead = p->dtail = NULL;
	p->wake.pending = 0;
	pool_unlock(p);

	/* A done function may cancel a later job of this batch: that sets
	 * its flag, read here when its turn comes. */
	for (; job != NULL; job = next) {
		next = job->next;
		pool_deliver(p, job, job->cancelled);
	}
}

/*
 * One worker per core (2 to 8). The work is mostly the kernel's, on the
 * CPU when the disk is fast: more workers than cores only queue on the
 * folder a burst writes to (with 4 on this 2-core machine, bench-e2e's
 * bucket writes on ext4 spent their time spinning on that folder's lock,
 * and the maximum was 5 % lower than with 2); the groups' shared syncs
 * keep a few workers enough for a slow disk.
 */
int
pool_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < POOL_DEFAULT_MIN)
		return POOL_DEFAULT_MIN;
	return n > POOL_DEFAULT_MAX ? POOL_DEFAULT_MAX : (int)n;
}

/* The thread count: n, else the default. */
static int
pool_thread_count(int n)
{
	if (n > 0)
		return n > POOL_MAX_THREADS ? POOL_MAX_THREADS : n;
	return pool_default_threads();
}

/* Starts n workers on base's loop. */
struct pool *
pool_create(struct event_base *base, int n)
{
	struct pool *p;
	int i, e;

	if (base == NULL)
		return NULL;
	p = xcalloc(1, sizeof *p);
	p->base = base;
	p->nthreads = pool_thread_count(n);
	loop_wake_open(&p->wake, "the I/O pool");
	if (pthread_mutex_init(&p->lock, NULL) != 0 ||
	    pthread_cond_init(&p->cond, NULL) != 0)
		fatal("%s: cannot set up the I/O pool's lock", __func__);
	p->ev = event_new(base, loop_wake_fd(&p->wake), EV_READ | EV_PERSIST,
	    pool_wake_cb, p);
	p->kick = event_new(base, -1, 0, pool_kick_cb, p);
	if (p->ev == NULL || p->kick == NULL || event_add(p->ev, NULL) != 0)
		fatal("%s: cannot watch the I/O pool's eventfd", __func__);

	p->threads = xcalloc((size_t)p->nthreads, sizeof *p->threads);
	for (i = 0; i < p->nthreads; i++) {
		if ((e = loop_thread_start(&p->threads[i], pool_worker,
		    p)) != 0) {
			if (i == 0)
				fatal("%s: cannot start an I/O thread: %s",
				    __func__, strerror(e));
			log_warn("%s: cannot start I/O thread %d: %s: using "
			    "%d", __func__, i + 1, strerror(e), i);
			p->nthreads = i;
			break;
		}
	}
	log_debug("%s: %d I/O threads", __func__, p->nthreads);
	return p;
}

/* Stops and joins the workers, then releases every job left. */
void
pool_free(struct pool *p)
{
	struct pool_job *job;
	int i;

	if (p == NULL)
		return;
	pool_lock(p);
	p->stopping = 1;
	pthread_cond_broadcast(&p->cond);
	pool_unlock(p);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);

	/* No thread is left: the lists are the loop's alone now. */
	while ((job = p->qhead) != NULL) {
		pool_unqueue(p, job);
		pool_deliver(p, job, 1);
	}
	while ((job = p->dhead) != NULL) {
		p->dhead = job->next;
		pool_deliver(p, job, 1);
	}
	if (p->pending != 0)
		log_warn("%s: %u jobs unaccounted for", __func__, p->pending);
	event_free(p->ev);
	event_free(p->kick);
	loop_wake_close(&p->wake);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
}

/* Queues a job for the workers. */
struct pool_job *
pool_submit(struct pool *p, pool_work_fn work, pool_done_fn done, void *arg)
{
	return pool_submit_group(p, work, NULL, done, arg);
}

/* Queues a job that may be taken with others of its group. */
struct pool_job *
pool_submit_group(struct pool *p, pool_work_fn work, pool_group_fn group,
    pool_done_fn done, void *arg)
{
	struct pool_job *job;

	if (p == NULL || work == NULL || done == NULL)
		fatal("%s: no pool or no function", __func__);
	job = xcalloc(1, sizeof *job);
	job->pool = p;
	job->work = work;
	job->group = group;
	job->done = done;
	job->arg = arg;
	job->state = POOL_JOB_QUEUED;
	p->pending++;

	pool_lock(p);
	job->prev = p->qtail;
	if (p->qtail != NULL)
		p->qtail->next = job;
	else
		p->qhead = job;
	p->qtail = job;
	pool_unlock(p);
	loop_after_turn(p->kick);
	return job;
}

/* Drops a job's result; releases arg now or once the worker is through. */
void
pool_cancel(struct pool_job *job)
{
	struct pool *p;
	int queued;

	if (job == NULL)
		return;
	p = job->pool;
	pool_lock(p);
	queued = job->state == POOL_JOB_QUEUED;
	if (queued)
		pool_unqueue(p, job);
	else
		job->cancelled = 1;
	pool_unlock(p);

	if (queued)
		pool_deliver(p, job, 1);
}

/* The number of workers. */
int
pool_threads(const struct pool *p)
{
	return p->nthreads;
}

/* Jobs not yet released. */
unsigned
pool_pending(const struct pool *p)
{
	return p->pending;
}
