/*
 * HTTP requests on the event loop, through libcurl's multi interface: the
 * http.request step and Lua's ctx.fetch both start requests here and are
 * called back when they finish, so thousands can be in flight without a
 * thread each. One multi handle per loop keeps connections alive between
 * requests to the same host.
 */
#ifndef FETCH_H
#define FETCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "orchestrator.h"

struct event_base;
struct fetch;
struct fetch_req;

/* What to send. Everything is borrowed until fetch_start returns. */
struct fetch_request {
	const char		*method;	/* "GET" when NULL */
	const char		*url;
	const char *const	*headers;	/* "Name: value", NULL-ended */
	const char		*body;		/* or NULL */
	size_t			 body_len;
	int64_t			 timeout_ms;	/* whole request; 0: 30 s */
	int			 follow_redirects;	/* up to 10 */
	size_t			 max_response;	/* body bytes; 0: 16 MiB */
	/* The workflow's "allow": the URL and every redirect must pass
	 * permit_url(). NULL allows any http or https URL. */
	const json_t		*allow;
	/* AWS Signature Version 4 signing: "aws:amz:REGION:SERVICE" for
	 * CURLOPT_AWS_SIGV4 with userpwd "KEY:SECRET" (never logged, wiped
	 * when the request is freed, not sent on to a redirect). A signed
	 * request should carry "x-amz-content-sha256: HEX" among headers.
	 * NULL: not signed. */
	const char		*aws_sigv4;
	const char		*userpwd;
};

/* What came back; borrowed for the duration of the callback. */
struct fetch_response {
	long		 status;	/* 0 when no answer came */
	json_t		*headers;	/* object, lower-case names */
	const char	*body;		/* NUL-terminated, may hold NULs */
	size_t		 body_len;
	int		 timed_out;
	const char	*error;		/* transport error, or NULL */
	int64_t		 duration_ms;
	const char	*reason;	/* status line's phrase, may be "" */
	const char	*url;		/* the last URL requested */
	int		 refused;	/* a redirect allow refused (error) */
	int		 too_large;	/* the body passed max_response (error) */
};

typedef void (*fetch_done_cb)(const struct fetch_response *, void *);

/*
 * Why a step may not send the request header named name[0..len), or
 * NULL. "Host" is refused: the host is the URL's, which allow.hosts
 * checks, and a Host of a step's choosing would reach another virtual
 * host behind an allowed address. The text follows the header's name in
 * a message.
 */
const char	*fetch_header_refused(const char *name, size_t len);

/* Initialises libcurl once per process (cleaned up at exit); anything
 * using curl calls it first. fetch_create does. */
int		 fetch_global_init(struct orc_error *);
/* The least cap on the answer bytes held at once that a client takes. */
#define FETCH_BUFFER_MIN	((size_t)64 * 1024)

/* How a client runs; NULL, or zero fields, for the defaults. */
struct fetch_config {
	size_t		 buffer_max;	/* ORCH_FETCH_BUFFER_BYTES: answer bytes
					 * held at once, at least the MIN */
	int		 no_thread;	/* ORCH_FETCH_THREAD=0: curl runs on
					 * the caller's loop, not a thread */
	int		 near_max;	/* with the thread: a request started
					 * while it has none and the loop
					 * fewer than this runs on the loop;
					 * 0: FETCH_NEAR_DEFAULT, -1: none */
};

#define FETCH_NEAR_DEFAULT	4

/* Exits through fatal() when libcurl cannot start (out of memory). */
struct fetch	*fetch_create(struct event_base *, const struct fetch_config *);
/* Cancels what is in flight (no callbacks) and frees. */
void		 fetch_free(struct fetch *);
/* Starts a request; done is called once, later, from the loop, never
 * from inside fetch_start. NULL with err when it cannot start: a bad URL
 * (ORC_EINVAL) or one that allow refuses (ORC_EPERM). */
struct fetch_req *fetch_start(struct fetch *, const struct fetch_request *,
		    fetch_done_cb, void *, struct orc_error *);
/* Stops a request in flight; its callback will not be called. */
void		 fetch_cancel(struct fetch_req *);
/* Requests in flight. */
size_t		 fetch_active(const struct fetch *);

#endif
