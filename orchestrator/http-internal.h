/*
 * What the files of the HTTP server share: the server itself, one context
 * per request (struct http_req) that outlives evhttp's request when an
 * answer comes later, the waiters on a run (long polls, event streams)
 * and the helpers that answer with JSON and errors.
 *
 * A request answered later is "held": the connection's close callback
 * tells the context when the client goes away, after which the evhttp
 * request is never touched again. The context is reference counted so
 * that it lives until the last engine callback or timer that points at it.
 *
 * Every accepted connection also has a struct http_conn (private to
 * http.c): the deadline for reading a request whole, and the one close
 * callback of the connection, which tells the held request, if any.
 */
#ifndef HTTP_INTERNAL_H
#define HTTP_INTERNAL_H

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "http.h"
#include "store.h"

struct engine_event;
struct hmap;
struct http_conn;

#define HTTP_CODES	16	/* distinct status codes counted */

struct http_server {
	struct event_base	*base;
	struct engine		*engine;
	struct store		*store;
	struct evhttp		*http;
	int			 port;
	char			*token;		/* or NULL */
	int			 access_log;
	int			 draining;
	struct workflow		**wfs;		/* referenced */
	size_t			 nwfs;
	struct hmap		*by_name;	/* name -> workflow */
	struct hmap		*by_path;	/* webhook path -> workflow */
	struct hmap		*waiters;	/* run id -> struct http_waiters */
	int			 codes[HTTP_CODES];
	uint64_t		 code_counts[HTTP_CODES];
	TAILQ_HEAD(, http_req)	 held;		/* answered later */
	int			 read_timeout_ms;
	size_t			 max_body;	/* --max-body, for the 413 */
	/* Request bytes held: received since each connection's previous
	 * answer, until the answer (http.c), bounded by max_inflight. */
	size_t			 inflight;
	size_t			 max_inflight;	/* --max-inflight-bytes */
	uint64_t		 inflight_refused;	/* answered 503 */
	struct hmap		*conns;		/* by bufferevent */
	TAILQ_HEAD(, http_conn)	 conn_list;
	/* Out of descriptors, the listener pauses (http.c). */
	TAILQ_ENTRY(http_server) entry;		/* in http.c's list */
	struct evconnlistener	*listener;	/* evhttp's, or NULL */
	struct event		*accept_timer;	/* ends a pause */
	int			 accept_pause_ms; /* the last, 0: none */
	int			 reserve_fd;	/* /dev/null, or -1 */
	uint64_t		 accept_closed;	/* closed at once */
};

struct http_req;
typedef void (*http_gone_fn)(struct http_req *);

struct http_req {
	TAILQ_ENTRY(http_req)	 entry;		/* in the server's held list */
	struct http_server	*srv;		/* NULL once the server is gone */
	struct evhttp_request	*req;		/* NULL once answered or gone */
	int			 refs;
	int			 held;		/* answered later */
	int			 answered;
	int			 gone;		/* the client went away */
	int			 streaming;	/* an event stream started */
	int			 status;	/* answered with */
	size_t			 bytes;		/* body bytes sent */
	enum evhttp_cmd_type	 method;
	char			*path;		/* decoded, without the query */
	char			*raw_path;	/* as sent, for the access log */
	struct evkeyvalq	 query;
	int64_t			 start;		/* monotonic ms */
	char			 run_id[RUN_ID_LEN + 1];
	http_gone_fn		 on_gone;	/* or NULL */
	void			*data;		/* the handler's */
	void			(*free_data)(void *);
};

/* One long poll or event stream on a run. */
struct http_waiter {
	TAILQ_ENTRY(http_waiter) entry;
	struct http_req		*hr;
	int			 stream;	/* SSE; else a long poll */
	struct event		*timer;		/* long poll: its deadline */
	int64_t			 log_after;	/* SSE: the last line sent */
};
TAILQ_HEAD(http_waiters, http_waiter);

/* http.c */
void	 http_req_ref(struct http_req *);
void	 http_req_unref(struct http_req *);
/* Keeps the request for a later answer and watches its connection. */
void	 http_req_hold(struct http_req *);
/* Whether an answer can still be sent. */
int	 http_req_live(const struct http_req *);
const char *http_header(struct http_req *, const char *);
void	 http_add_header(struct http_req *, const char *, const char *);
const char *http_query(struct http_req *, const char *);
/* Answers with a JSON body (borrowed) and the status code. */
void	 http_reply_json(struct http_req *, int, const json_t *);
/* Answers with a body as it is and a content type. */
void	 http_reply_text(struct http_req *, int, const char *type,
	    const char *, size_t);
/* Answers {"error": {"code", "message"}}; the status follows code. */
void	 http_error(struct http_req *, const char *code, const char *, ...)
	    ORC_PRINTF(3, 4);
/* Answers an orc_error with the status its code maps to. */
void	 http_error_orc(struct http_req *, const struct orc_error *);
/* Event streams: start, one chunk, end. */
void	 http_stream_start(struct http_req *);
void	 http_stream_send(struct http_req *, const char *, size_t);
void	 http_stream_end(struct http_req *);
/* The body, NUL-terminated (a new string) and its length. */
char	*http_body(struct http_req *, size_t *);
/* Waiters of a run: add, remove. */
void	 http_waiter_add(struct http_server *, const char *run_id,
	    struct http_waiter *);
void	 http_waiter_remove(struct http_server *, const char *run_id,
	    struct http_waiter *);
struct workflow *http_workflow_by_name(struct http_server *, const char *);

/* http-hook.c */
void	 http_hook_post(struct http_req *, struct workflow *, int webhook);

/* http-runs.c */
void	 http_runs_list(struct http_req *, char **);
void	 http_runs_get(struct http_req *, char **);
void	 http_runs_events(struct http_req *, char **);
void	 http_runs_logs(struct http_req *, char **);
void	 http_runs_items(struct http_req *, char **);
void	 http_runs_retry(struct http_req *, char **);
void	 http_runs_cancel(struct http_req *, char **);
void	 http_runs_signal(struct http_req *, char **);
void	 http_callback_post(struct http_req *, char **);
void	 http_callback_fail(struct http_req *, char **);
void	 http_callback_heartbeat(struct http_req *, char **);
void	 http_runs_bulk_retry(struct http_req *, char **);
/* The observer's event for the waiters of its run. */
void	 http_runs_event(struct http_server *, const struct engine_event *);

/* http-admin.c */
void	 http_admin_workflows(struct http_req *, char **);
void	 http_admin_workflow(struct http_req *, char **);
void	 http_admin_start(struct http_req *, char **);
void	 http_admin_healthz(struct http_req *, char **);
void	 http_admin_metrics(struct http_req *, char **);
void	 http_admin_schedules(struct http_req *, char **);

#endif
