/*
 * What fetch.c (the loop's side: starting, cancelling, calling back) and
 * fetch-curl.c (curl's side: the multi handle, its sockets and timer,
 * redirects) share. Curl's side runs on a thread of its own unless
 * ORCH_FETCH_THREAD is "0"; then both sides are the loop's.
 *
 * A request moves queued -> active -> finished -> done (or is cancelled
 * on the way) and belongs to one side at a time:
 * - queued: in the inbox, for curl's side to launch (locked);
 * - active: with curl, on the active list (curl's side only);
 * - cancelled: cancelled by the loop while active; on the cancel list
 *   (locked) until curl's side takes it out of curl and frees it;
 * - finished: in the outbox, for the loop to call back (locked);
 * - done: on the loop's done list, its callback next.
 * Without the thread a request goes straight from the loop to active and
 * from active to done: no list is shared and no lock is taken.
 *
 * A client with the thread has a second one without it, near, on the
 * loop: a request started while curl's thread has none and near fewer
 * than near_max goes there. At low load the hand-over to the thread and
 * back (two wake-ups, each a context switch) cost more than the request.
 */
#ifndef FETCH_INTERNAL_H
#define FETCH_INTERNAL_H

#include <sys/queue.h>

#include <pthread.h>

#include <curl/curl.h>

#include "fetch.h"
#include "loop.h"
#include "strbuf.h"

/* Easy handles kept for reuse: each keeps its buffers (tens of KiB that
 * would be allocated and freed again per request). */
#define FETCH_IDLE_MAX		64

enum fetch_req_state {
	FETCH_REQ_QUEUED,
	FETCH_REQ_ACTIVE,
	FETCH_REQ_CANCELLED,
	FETCH_REQ_FINISHED,
	FETCH_REQ_DONE
};

struct fetch_req {
	struct fetch		*f;
	enum fetch_req_state	 state;
	TAILQ_ENTRY(fetch_req)	 entry;		/* inbox, outbox, cancels, done */
	TAILQ_ENTRY(fetch_req)	 aentry;	/* the active list */
	int			 in_curl;	/* on the active list */
	fetch_done_cb		 cb;
	void			*arg;

	/* What to send; method and url change on redirects. */
	CURL			*easy;
	struct curl_slist	*headers;
	char			*method;
	char			*url;
	char			*body;
	size_t			 body_len;
	int			 has_body;
	int64_t			 timeout_ms;
	int64_t			 start_ms;	/* monotonic */
	int			 follow;
	int			 hops;
	size_t			 max;
	json_t			*allow;
	char			*sigv4;		/* or NULL */
	char			*userpwd;	/* a secret, or NULL */

	/* What came back from the latest hop. */
	long			 status;
	char			*reason;
	json_t			*rheaders;
	struct hmap		*rjoin;		/* repeats: name -> strbuf */
	struct strbuf		 rbody;
	int			 over;		/* past max */
	int			 over_all;	/* past the client's buffer cap */
	CURLcode		 result;
	char			*errmsg;	/* ours, over curl's */
	int			 refused;
	int			 too_large;
	char			 errbuf[CURL_ERROR_SIZE];
};

TAILQ_HEAD(fetch_req_list, fetch_req);

struct fetch {
	/* The loop's side. */
	struct event_base	*base;
	struct fetch_req_list	 done;		/* waiting for their callback */
	size_t			 count;		/* started, not called back */
	int			 dispatching;
	int			 dying;
	size_t			 buffer_max;
	size_t			 buffered;	/* answer bytes held; atomic */
	struct fetch		*acct;		/* whose buffer_max and buffered
						   count: its own, or owner's */
	struct fetch		*near;		/* with the thread, or NULL */
	struct fetch		*owner;		/* near's, or NULL */
	size_t			 near_max;

	/* Curl's side, on cbase: the loop's own or the thread's. */
	struct event_base	*cbase;
	CURLM			*multi;
	struct event		*timer;
	struct fetch_req_list	 active;
	CURL			*idle[FETCH_IDLE_MAX];	/* reset, reusable */
	size_t			 nidle;

	/* The hand-over between the sides, with a thread. */
	int			 threaded;
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	struct fetch_req_list	 inbox;		/* locked */
	struct fetch_req_list	 cancels;	/* locked */
	struct fetch_req_list	 outbox;	/* locked */
	int			 stop;		/* locked */
	struct loop_wake	 to_curl;
	struct loop_wake	 to_loop;
	struct event		*curl_ev;	/* on cbase */
	struct event		*loop_ev;	/* on base */
	struct event		*kick_ev;	/* on base: wakes curl's side */
};

/* fetch-curl.c: curl's side. */
void	fetch_curl_open(struct fetch *);
void	fetch_curl_close(struct fetch *);
/* Hands a request to curl for its current method and url, onto the
 * active list. -1 with err when curl refuses it. */
int	fetch_curl_launch(struct fetch_req *, struct orc_error *);
/* Takes a request out of curl (and off the active list); curl keeps the
 * connection for the next request to the same host. */
void	fetch_curl_detach(struct fetch_req *);
/* Gives an answer's bytes back to the client's cap and frees them. */
void	fetch_req_drop_body(struct fetch_req *);
/* Ends the joining of repeated answer headers: with keep, their joined
 * values go into rheaders; else they are dropped. */
void	fetch_req_end_joins(struct fetch_req *, int keep);

/* fetch.c: hands finished requests to the loop: out of curl, linked
 * through aentry. */
void	fetch_finished(struct fetch *, struct fetch_req_list *);

#endif
