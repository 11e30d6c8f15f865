/*
 * Event loops: how the daemon makes them, and how a thread wakes one.
 *
 * A loop_wake is an eventfd: the thread that makes a hand-over list
 * non-empty adds one to it, the loop's read event empties it and takes
 * the whole list. One write per batch. The "pending" flag says a write
 * is on its way; it belongs to the lock that guards the list it
 * announces.
 */
#ifndef LOOP_H
#define LOOP_H

#include <pthread.h>
#include <stdint.h>

struct event;
struct event_base;

struct loop_wake {
	int	fd;
	int	pending;	/* a write is in; under the list's lock */
};

/* An event loop whose timers keep exact time (libevent's default coarse
 * clock can fire one a few milliseconds early, and a retry must never
 * come before the Retry-After a server asked for), and whose epoll calls
 * are grouped per loop turn. NULL when libevent cannot make one. */
struct event_base *loop_base_new(void);

/* Runs ev's callback once the loop is through the callbacks active now
 * (in this turn), however often this is called before then: for work
 * worth doing once per turn rather than once per request. ev is an event
 * made with no descriptor and no flags. */
void	loop_after_turn(struct event *ev);

/* Starts a thread with every signal blocked, so that signals go to the
 * loop's thread, which handles them. pthread_create's error, or 0. */
int	loop_thread_start(pthread_t *, void *(*)(void *), void *);

/* Makes the eventfd; exits through fatal() when it cannot (what names
 * the user in the message). */
void	loop_wake_open(struct loop_wake *, const char *what);
void	loop_wake_close(struct loop_wake *);
/* The descriptor to watch for reading. */
int	loop_wake_fd(const struct loop_wake *);
/* Wakes the loop unless a byte is already on its way; called with the
 * list's lock held. */
void	loop_wake_signal(struct loop_wake *);
/* Empties the eventfd, from the woken loop, before it takes the list
 * under the lock and clears pending: a write after this belongs to what
 * the loop takes next, never to something lost. */
void	loop_wake_drain(struct loop_wake *);

/*
 * How late the loop runs its timers: a probe timer every 100 ms notes the
 * delay between when it was due and when it ran. Anything that holds the
 * loop (a disk wait, a long callback) shows there, for /metrics.
 */
#define LOOP_LAG_BUCKETS	9
extern const double loop_lag_bounds[LOOP_LAG_BUCKETS];	/* seconds */

struct loop_lag;
struct loop_lag_stats {
	uint64_t	bucket[LOOP_LAG_BUCKETS + 1];	/* the last: +Inf */
	double		sum;		/* seconds */
	uint64_t	count;
};

struct loop_lag	*loop_lag_start(struct event_base *);
void		 loop_lag_free(struct loop_lag *);
void		 loop_lag_get(const struct loop_lag *, struct loop_lag_stats *);

#endif
