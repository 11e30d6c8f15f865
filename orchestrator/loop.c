/*
 * Event loops: the daemon's configuration of a libevent base, and the
 * eventfd other threads wake a loop through. An eventfd rather than
 * evthread_use_pthreads() and event_active(): libevent's locking must be
 * switched on before any event_base exists, and every loop would then
 * pay for locks it mostly does not need; a write needs nothing from
 * libevent but an ordinary read event. An eventfd rather than a pipe:
 * one read empties it, where a pipe took a second read to see it empty,
 * and it is one descriptor, not two.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/eventfd.h>

#include <event2/event.h>

#include "log.h"
#include "loop.h"
#include "orchestrator.h"

/* Makes a base: precise timers, epoll changes grouped per turn. */
struct event_base *
loop_base_new(void)
{
	struct event_config *cfg;
	struct event_base *base;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	/* A socket's interests change several times a loop turn (curl's
	 * transfers, evhttp's requests): with the change list epoll hears
	 * of the net change once. No descriptor here is dup()'d, which is
	 * what the change list cannot cope with. */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

/* Activates ev unless it is active already. */
void
loop_after_turn(struct event *ev)
{
	if (!event_pending(ev, EV_TIMEOUT, NULL))
		event_active(ev, EV_TIMEOUT, 1);
}

/* The new thread inherits the mask in force when it is made. */
int
loop_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int e;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}

/* Makes the eventfd, non-blocking. */
void
loop_wake_open(struct loop_wake *w, const char *what)
{
	if ((w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		fatal("cannot make an eventfd for %s: %s", what,
		    strerror(errno));
	w->pending = 0;
}

void
loop_wake_close(struct loop_wake *w)
{
	close(w->fd);
	w->fd = -1;
}

/* The descriptor to watch. */
int
loop_wake_fd(const struct loop_wake *w)
{
	return w->fd;
}

/* One write, unless one is already on its way. */
void
loop_wake_signal(struct loop_wake *w)
{
	uint64_t one = 1;
	ssize_t n;

	if (w->pending)
		return;
	do
		n = write(w->fd, &one, sizeof one);
	while (n < 0 && errno == EINTR);
	if (n != sizeof one)
		fatal("cannot wake an event loop: %s", strerror(errno));
	w->pending = 1;
}

/* Resets the counter: one read, whatever was written. */
void
loop_wake_drain(struct loop_wake *w)
{
	uint64_t n;

	while (read(w->fd, &n, sizeof n) < 0 && errno == EINTR)
		continue;
}

#define LOOP_LAG_EVERY_US	100000

const double loop_lag_bounds[LOOP_LAG_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5
};

struct loop_lag {
	struct event		*ev;
	int64_t			 due_us;
	struct loop_lag_stats	 st;
};

/* The monotonic clock in microseconds. */
static int64_t
loop_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Arms the probe for its next turn. */
static void
loop_lag_arm(struct loop_lag *lag)
{
	struct timeval tv = { 0, LOOP_LAG_EVERY_US };

	lag->due_us = loop_now_us() + LOOP_LAG_EVERY_US;
	evtimer_add(lag->ev, &tv);
}

/* The probe ran: how late? */
static void
loop_lag_cb(evutil_socket_t fd, short what, void *arg)
{
	struct loop_lag *lag = arg;
	double late = (double)(loop_now_us() - lag->due_us) / 1e6;
	int i;

	if (late < 0)
		late = 0;
	for (i = 0; i < LOOP_LAG_BUCKETS && late > loop_lag_bounds[i]; i++)
		;
	lag->st.bucket[i]++;
	lag->st.sum += late;
	lag->st.count++;
	loop_lag_arm(lag);
}

/* Starts the probe on a loop. */
struct loop_lag *
loop_lag_start(struct event_base *base)
{
	struct loop_lag *lag = xcalloc(1, sizeof *lag);

	lag->ev = evtimer_new(base, loop_lag_cb, lag);
	loop_lag_arm(lag);
	return lag;
}

void
loop_lag_free(struct loop_lag *lag)
{
	if (lag == NULL)
		return;
	event_free(lag->ev);
	free(lag);
}

/* What the probe saw so far. */
void
loop_lag_get(const struct loop_lag *lag, struct loop_lag_stats *out)
{
	if (lag == NULL)
		memset(out, 0, sizeof *out);
	else
		*out = lag->st;
}
