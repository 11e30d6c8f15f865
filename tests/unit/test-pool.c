/*
 * Unit tests for the I/O pool: many jobs on a real event loop, done
 * functions on the loop thread, cancelling queued, running and finished
 * jobs, freeing a pool with jobs left, and the thread count settings.
 * Workers are held at a gate where a test needs a job to stay put.
 */
#include "config.h"

#include <pthread.h>
#include <unistd.h>

#include <event2/event.h>

#include "orchestrator.h"
#include "pool.h"
#include "test.h"

/* A latch the tests open from the loop thread while workers wait. */
struct gate {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 open;
	int		 waiting;	/* workers inside gate_wait */
};

/* One job's record: what ran where, and how it ended. */
struct job {
	struct gate	*gate;		/* wait here first, or NULL */
	int		 sleep_us;
	int		 worked;	/* set by the worker */
	pthread_t	 worker;
	int		 done;		/* calls of done with 0 */
	int		 released;	/* calls of done with 1 */
	int		 on_loop;	/* done ran on the loop thread */
	struct pool_job	*handle;
};

static pthread_t loop_thread;
static struct event_base *loop_base;
static int done_count, done_target;

/* Sets up an open or closed gate. */
static void
gate_init(struct gate *g)
{
	memset(g, 0, sizeof *g);
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
}

/* Waits until the gate opens. */
static void
gate_wait(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->waiting++;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	g->waiting--;
	pthread_mutex_unlock(&g->lock);
}

/* Waits until n workers stand at the gate. */
static void
gate_wait_for(struct gate *g, int n)
{
	pthread_mutex_lock(&g->lock);
	while (g->waiting < n)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

/* Lets every worker through. */
static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* Frees a gate's lock. */
static void
gate_clear(struct gate *g)
{
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

/* The work: wait at the gate, sleep a little, record the thread. */
static void
job_work(void *arg)
{
	struct job *j = arg;

	if (j->gate != NULL)
		gate_wait(j->gate);
	if (j->sleep_us > 0)
		usleep((useconds_t)j->sleep_us);
	j->worker = pthread_self();
	__atomic_add_fetch(&j->worked, 1, __ATOMIC_SEQ_CST);
}

/* The completion: count it and stop the loop at the target. */
static void
job_done(void *arg, int cancelled)
{
	struct job *j = arg;

	if (pthread_equal(pthread_self(), loop_thread))
		j->on_loop++;
	if (cancelled)
		j->released++;
	else
		j->done++;
	j->handle = NULL;
	if (++done_count == done_target)
		event_base_loopexit(loop_base, NULL);
}

/* A guard so a broken pool fails the test instead of hanging it. */
static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* One pass of the loop without waiting: the pool wakes its workers once
 * the loop is through a turn, so a test that then blocks on a worker
 * (without running the loop) gives it this turn first. Only one:
 * EVLOOP_NONBLOCK alone goes on while callbacks ran, and a second pass
 * could take a completion the test means to find still in the pool. */
static void
loop_turn(struct event_base *base)
{
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

/* Runs the loop until target done calls in all, or 10 s pass. */
static void
run_until(struct event_base *base, int target)
{
	struct timeval tv = { 10, 0 };
	struct event *guard;

	done_target = target;
	if (done_count >= target)
		return;
	guard = evtimer_new(base, guard_cb, base);
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	event_free(guard);
}

/* Starts a test: a fresh loop on this thread and zeroed counters. */
static struct event_base *
loop_start(void)
{
	loop_thread = pthread_self();
	loop_base = event_base_new();
	done_count = 0;
	done_target = -1;
	return loop_base;
}

/* Many jobs finish once each, on the loop, in whatever order. */
static void
test_pool_many(void)
{
	enum { N = 400 };
	struct event_base *base = loop_start();
	struct pool *p = pool_create(base, 4);
	struct job *jobs = xcalloc(N, sizeof *jobs);
	pthread_t seen[4];
	int i, k, nseen = 0, bad = 0;

	REQUIRE(p != NULL);
	CHECK(pool_threads(p) == 4);
	for (i = 0; i < N; i++) {
		jobs[i].sleep_us = i % 7 == 0 ? 2000 : 0;
		jobs[i].handle = pool_submit(p, job_work, job_done, &jobs[i]);
	}
	CHECK(pool_pending(p) == N);
	run_until(base, N);
	CHECK(done_count == N);
	CHECK(pool_pending(p) == 0);
	for (i = 0; i < N; i++) {
		if (jobs[i].worked != 1 || jobs[i].done != 1 ||
		    jobs[i].released != 0 || jobs[i].on_loop != 1 ||
		    pthread_equal(jobs[i].worker, loop_thread))
			bad++;
		for (k = 0; k < nseen; k++)
			if (pthread_equal(seen[k], jobs[i].worker))
				break;
		if (k == nseen && nseen < 4)
			seen[nseen++] = jobs[i].worker;
	}
	CHECK(bad == 0);
	/* The sleeping jobs keep one worker busy: others take the rest. */
	CHECK(nseen >= 2);
	pool_free(p);
	free(jobs);
	event_base_free(base);
}

/* A done function may submit more work: a chain of jobs, one by one. */
static struct pool *chain_pool;
static int chain_left;

/* Submits the next link until the chain is done. */
static void
chain_done(void *arg, int cancelled)
{
	struct job *j = arg;

	CHECK(!cancelled);
	CHECK(pthread_equal(pthread_self(), loop_thread));
	CHECK(j->worked == 1);
	free(j);
	if (--chain_left == 0) {
		event_base_loopexit(loop_base, NULL);
		return;
	}
	j = xcalloc(1, sizeof *j);
	pool_submit(chain_pool, job_work, chain_done, j);
}

/* Jobs submitted from done functions run too. */
static void
test_pool_chain(void)
{
	struct event_base *base = loop_start();
	struct timeval tv = { 10, 0 };
	struct event *guard;

	chain_pool = pool_create(base, 2);
	chain_left = 50;
	pool_submit(chain_pool, job_work, chain_done, xcalloc(1,
	    sizeof (struct job)));
	guard = evtimer_new(base, guard_cb, base);
	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	event_free(guard);
	CHECK(chain_left == 0);
	CHECK(pool_pending(chain_pool) == 0);
	pool_free(chain_pool);
	event_base_free(base);
}

/* A queued job cancelled never runs and is released at once. */
static void
test_pool_cancel_queued(void)
{
	struct event_base *base = loop_start();
	struct pool *p = pool_create(base, 1);
	struct job a, b, c;
	struct gate g;

	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	memset(&c, 0, sizeof c);
	gate_init(&g);
	a.gate = &g;
	a.handle = pool_submit(p, job_work, job_done, &a);
	b.handle = pool_submit(p, job_work, job_done, &b);
	c.handle = pool_submit(p, job_work, job_done, &c);
	loop_turn(base);
	/* The only worker holds a at the gate: b and c stay queued. */
	gate_wait_for(&g, 1);
	pool_cancel(b.handle);
	CHECK(b.released == 1 && b.done == 0 && b.on_loop == 1);
	CHECK(pool_pending(p) == 2);

	gate_open(&g);
	run_until(base, 3);
	CHECK(a.done == 1 && a.worked == 1 && a.released == 0);
	CHECK(c.done == 1 && c.worked == 1 && c.released == 0);
	CHECK(b.worked == 0 && b.done == 0 && b.released == 1);
	CHECK(pool_pending(p) == 0);
	pool_free(p);
	gate_clear(&g);
	event_base_free(base);
}

/* What the group function saw, for test_pool_group. */
static struct job *group_seen[POOL_GROUP_MAX];
static int group_calls, group_n;

/* A group function: records its jobs, each must have worked already. */
static void
group_fn(void **args, int n)
{
	int i;

	group_calls++;
	for (i = 0; i < n; i++) {
		group_seen[group_n + i] = args[i];
		CHECK(((struct job *)args[i])->worked == 1);
	}
	group_n += n;
}

/*
 * Grouped jobs queued behind a busy worker are taken together, in queue
 * order, with one call of the group function after all their work; a
 * plain job between them is left for its own turn, and a cancelled one
 * is not in the group.
 */
static void
test_pool_group(void)
{
	struct event_base *base = loop_start();
	struct pool *p = pool_create(base, 1);
	struct job hold, g[4], plain;
	struct gate gate;
	int i;

	memset(&hold, 0, sizeof hold);
	memset(g, 0, sizeof g);
	memset(&plain, 0, sizeof plain);
	group_calls = group_n = 0;
	gate_init(&gate);
	hold.gate = &gate;
	hold.handle = pool_submit(p, job_work, job_done, &hold);
	loop_turn(base);
	gate_wait_for(&gate, 1);
	g[0].handle = pool_submit_group(p, job_work, group_fn, job_done,
	    &g[0]);
	plain.handle = pool_submit(p, job_work, job_done, &plain);
	for (i = 1; i < 4; i++)
		g[i].handle = pool_submit_group(p, job_work, group_fn,
		    job_done, &g[i]);
	pool_cancel(g[2].handle);
	gate_open(&gate);
	run_until(base, 6);
	CHECK(group_calls == 1);
	CHECK(group_n == 3);
	CHECK(group_seen[0] == &g[0]);
	CHECK(group_seen[1] == &g[1]);
	CHECK(group_seen[2] == &g[3]);
	for (i = 0; i < 4; i++)
		CHECK(i == 2 ? g[i].released == 1 && g[i].worked == 0 :
		    g[i].done == 1 && g[i].on_loop == 1);
	CHECK(plain.done == 1 && plain.worked == 1);
	CHECK(pool_pending(p) == 0);

	/* With the pool keeping up, a group is one job. */
	memset(g, 0, sizeof g);
	g[0].handle = pool_submit_group(p, job_work, group_fn, job_done,
	    &g[0]);
	run_until(base, 7);
	CHECK(group_calls == 2 && group_n == 4);
	CHECK(g[0].done == 1);
	pool_free(p);
	gate_clear(&gate);
	event_base_free(base);
}

/* A running job cancelled finishes its work; done only releases it. */
static void
test_pool_cancel_running(void)
{
	struct event_base *base = loop_start();
	struct pool *p = pool_create(base, 2);
	struct job *a = xcalloc(1, sizeof *a), other;
	struct gate g;

	memset(&other, 0, sizeof other);
	gate_init(&g);
	a->gate = &g;
	a->handle = pool_submit(p, job_work, job_done, a);
	loop_turn(base);
	gate_wait_for(&g, 1);
	pool_cancel(a->handle);
	/* Not released yet: the worker still has a. */
	CHECK(a->released == 0 && a->done == 0);
	other.handle = pool_submit(p, job_work, job_done, &other);

	gate_open(&g);
	run_until(base, 2);
	CHECK(a->worked == 1 && a->done == 0 && a->released == 1);
	CHECK(a->on_loop == 1);
	CHECK(other.done == 1);
	CHECK(pool_pending(p) == 0);
	/* Released means the pool is through with it: safe to free. */
	free(a);
	pool_free(p);
	gate_clear(&g);
	event_base_free(base);
}

/* A job whose work ended but whose done has not run yet, cancelled. */
static void
test_pool_cancel_finished(void)
{
	struct event_base *base = loop_start();
	struct pool *p = pool_create(base, 1);
	struct job a;
	int i;

	memset(&a, 0, sizeof a);
	a.handle = pool_submit(p, job_work, job_done, &a);
	loop_turn(base);
	/* The loop is not running: the completion waits in the pool. */
	for (i = 0; i < 1000 && !__atomic_load_n(&a.worked, __ATOMIC_SEQ_CST);
	    i++)
		usleep(1000);
	usleep(20000);
	pool_cancel(a.handle);
	CHECK(a.released == 0);
	run_until(base, 1);
	CHECK(a.worked == 1 && a.done == 0 && a.released == 1);
	CHECK(a.on_loop == 1);
	pool_free(p);
	event_base_free(base);
}

/* A done function may cancel a job that finished in the same batch. */
static struct job *cross_victim;

/* Cancels the victim if it is still undelivered. */
static void
cross_done(void *arg, int cancelled)
{
	struct job *j = arg;

	j->done++;
	if (cross_victim->handle != NULL) {
		pool_cancel(cross_victim->handle);
		cross_victim->handle = NULL;
	}
	if (++done_count == done_target)
		event_base_loopexit(loop_base, NULL);
}

/* Cancelling from a done function takes effect for later deliveries. */
static void
test_pool_cancel_from_done(void)
{
	struct event_base *base = loop_start();
	struct pool *p = pool_create(base, 1);
	struct job a, b;
	int i;

	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	cross_victim = &b;
	a.handle = pool_submit(p, job_work, cross_done, &a);
	b.handle = pool_submit(p, job_work, job_done, &b);
	loop_turn(base);
	/* Both finish before the loop looks: one batch, a then b. */
	for (i = 0; i < 1000 && !__atomic_load_n(&b.worked, __ATOMIC_SEQ_CST);
	    i++)
		usleep(1000);
	usleep(20000);
	run_until(base, 2);
	CHECK(a.done == 1);
	CHECK(b.worked == 1 && b.done == 0 && b.released == 1);
	CHECK(pool_pending(p) == 0);
	pool_free(p);
	event_base_free(base);
}

/* Freeing a pool with jobs left releases them all, finishing none. */
static void
test_pool_free_pending(void)
{
	enum { N = 20 };
	struct event_base *base = loop_start();
	struct pool *p = pool_create(base, 2);
	struct job *jobs = xcalloc(N, sizeof *jobs);
	int i, worked = 0, released = 0, finished = 0, on_loop = 0;

	for (i = 0; i < N; i++) {
		jobs[i].sleep_us = 20000;
		jobs[i].handle = pool_submit(p, job_work, job_done, &jobs[i]);
	}
	/* One turn hands them over, then the loop never runs again: two
	 * are running (or about to). */
	loop_turn(base);
	usleep(5000);
	pool_free(p);
	for (i = 0; i < N; i++) {
		worked += jobs[i].worked;
		released += jobs[i].released;
		finished += jobs[i].done;
		on_loop += jobs[i].on_loop;
	}
	CHECK(released == N);
	CHECK(finished == 0);
	CHECK(on_loop == N);
	/* Only what the two workers had taken ran, not the queue. */
	CHECK(worked <= 2);
	free(jobs);
	event_base_free(base);
}

/* The thread count: the argument (at most POOL_MAX_THREADS), else one
 * per core, 2 to 8. */
static void
test_pool_threads(void)
{
	struct event_base *base = loop_start();
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int def = cores < 2 ? 2 : cores > 8 ? 8 : (int)cores;
	struct pool *p;

	CHECK(pool_create(NULL, 2) == NULL);
	pool_free(NULL);

	CHECK(pool_default_threads() == def);
	p = pool_create(base, 0);
	CHECK(pool_threads(p) == def);
	pool_free(p);
	p = pool_create(base, 3);
	CHECK(pool_threads(p) == 3);
	pool_free(p);
	p = pool_create(base, 1);
	CHECK(pool_threads(p) == 1);
	pool_free(p);
	p = pool_create(base, POOL_MAX_THREADS + 1);
	CHECK(pool_threads(p) == POOL_MAX_THREADS);
	pool_free(p);
	event_base_free(base);
}

int
main(void)
{
	TEST_RUN(test_pool_many);
	TEST_RUN(test_pool_chain);
	TEST_RUN(test_pool_cancel_queued);
	TEST_RUN(test_pool_group);
	TEST_RUN(test_pool_cancel_running);
	TEST_RUN(test_pool_cancel_finished);
	TEST_RUN(test_pool_cancel_from_done);
	TEST_RUN(test_pool_free_pending);
	TEST_RUN(test_pool_threads);
	TEST_DONE();
}
