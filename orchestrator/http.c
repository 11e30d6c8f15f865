/*
 * The HTTP server core: an evhttp on the engine's loop, the routing table,
 * the API token, JSON errors, the access log and the one engine observer
 * that feeds the waiters of a run (long polls, event streams). The
 * endpoints live in http-hook.c (triggers), http-runs.c (the runs API)
 * and http-admin.c (workflows, health, metrics).
 *
 * Every request gets a struct http_req. Most are answered before the
 * handler returns; a held one is answered later, from an engine callback,
 * a timer or the observer. Its connection's close callback marks it gone,
 * and from then on evhttp's request is never touched again.
 *
 * evhttp's timeout restarts with every byte, so a client that sends its
 * request a byte at a time (slowloris) would keep a connection forever.
 * Every connection therefore gets a struct http_conn with a deadline for
 * reading a whole request, headers and body: it starts when the
 * connection is accepted (or when the previous answer was sent, on a
 * kept-alive one) and stops when evhttp hands the request over. Past it
 * the connection is closed without an answer, as evhttp does on its own
 * timeouts: a client that sends this slowly is not reading either, and
 * evhttp's half-read request cannot be answered.
 *
 * libevent 2.1 tells of a new connection only through the callback that
 * makes its bufferevent (evhttp_set_bevcb), before the evhttp connection
 * exists. So the http_conn keeps a reference on the bufferevent and,
 * right after the accept, finds the evhttp connection in the
 * bufferevent's callback argument and sets the connection's close
 * callback; from then on that callback (or the deadline) ends the
 * http_conn. evhttp clears the callbacks of a bufferevent it frees, which
 * tells the rare connection that ended before that first step.
 *
 * Out of file descriptors, accept() fails with EMFILE and leaves the
 * connection in the backlog, so the listening socket stays readable and
 * the loop would retry at once, forever, at full CPU. The listener's error
 * callback therefore pauses it (100 ms, doubling to 1 s while it keeps
 * failing), logs one line per pause, and spends a descriptor kept in
 * reserve to accept the oldest waiting connection and close it at once, so
 * that its client learns instead of hanging. Accepting resumes by itself.
 *
 * evhttp holds a request's body in memory until the request is answered:
 * --max-body bounds one, and --max-inflight-bytes their sum. Each
 * connection counts the bytes its bufferevent reads (a callback on the
 * input buffer: no system call, no allocation), from its previous answer
 * to its next, so a webhook waiting for its commit still counts. A read
 * that takes the sum past the bound refuses its connection's request:
 * the connection's largest body is set to 0, so evhttp stops reading the
 * body there and writes its 413 page, which the output callback turns
 * into our 503 "overloaded" with Retry-After; a request without a body
 * (GET /healthz) is answered as usual. The bytes go back with the
 * connection, and jemalloc's background thread (cli-serve.c) returns
 * the pages to the system within about ten seconds.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/crypto.h>

#include "engine.h"
#include "hmap.h"
#include "http-internal.h"
#include "jsonenc.h"
#include "log.h"
#include "workflow.h"

#define HTTP_MAX_BODY	(16 * 1024 * 1024)
#define HTTP_MAX_HEADERS	(64 * 1024)	/* all header lines of a request */
#define HTTP_TIMEOUT_S	30
#define HTTP_READ_TIMEOUT_MS	10000	/* to read a whole request */
#define HTTP_MAX_INFLIGHT	((size_t)256 * 1024 * 1024)
#define HTTP_OVERLOADED	"the server holds its --max-inflight-bytes of %zu " \
			"bytes of requests already; retry later"
#define HTTP_MAX_ARGS	2
#define HTTP_PAUSE_MIN_MS	100	/* out of descriptors: 1st pause */
#define HTTP_PAUSE_MAX_MS	1000	/* and the longest */

#define M_GET	EVHTTP_REQ_GET
#define M_POST	EVHTTP_REQ_POST

typedef void (*http_handler_fn)(struct http_req *, char **);

/*
 * One accepted connection, from its bufferevent to its close: our
 * reference on the bufferevent, evhttp's connection (NULL until known),
 * the timer (first the attach, then the deadline), the held request
 * (or NULL) and the deadline (monotonic ms, 0 when none runs).
 */
struct http_conn {
	TAILQ_ENTRY(http_conn)	 entry;
	struct http_server	*srv;
	struct bufferevent	*bev;
	struct evhttp_connection *evcon;
	struct event		*timer;
	struct http_req		*held;
	int64_t			 deadline;
	struct evbuffer_cb_entry *out_cb;	/* http_conn_output_cb */
	struct evbuffer_cb_entry *in_cb;	/* http_conn_input_cb */
	size_t			 recv;		/* read since the last answer */
	int			 refused;	/* over --max-inflight-bytes */
	int			 error_page;	/* an error answer is written */
	char			 key[32];	/* in srv->conns */
};

/* One endpoint: '*' in the pattern matches one path segment. */
struct http_route {
	const char	*pattern;
	unsigned	 methods;
	http_handler_fn	 fn;
};

static const struct http_route http_routes[] = {
	{ "/healthz", M_GET, http_admin_healthz },
	{ "/metrics", M_GET, http_admin_metrics },
	{ "/schedules", M_GET, http_admin_schedules },
	{ "/workflows", M_GET, http_admin_workflows },
	{ "/workflows/*", M_GET, http_admin_workflow },
	{ "/workflows/*/runs", M_POST, http_admin_start },
	{ "/runs", M_GET, http_runs_list },
	{ "/runs/retry", M_POST, http_runs_bulk_retry },
	{ "/runs/*", M_GET, http_runs_get },
	{ "/runs/*/events", M_GET, http_runs_events },
	{ "/runs/*/logs", M_GET, http_runs_logs },
	{ "/runs/*/items", M_GET, http_runs_items },
	{ "/runs/*/retry", M_POST, http_runs_retry },
	{ "/runs/*/cancel", M_POST, http_runs_cancel },
	{ "/runs/*/signals/*", M_POST, http_runs_signal },
	{ "/callbacks/*", M_POST, http_callback_post },
	{ "/callbacks/*/fail", M_POST, http_callback_fail },
	{ "/callbacks/*/heartbeat", M_POST, http_callback_heartbeat },
	{ NULL, 0, NULL }
};

/*
 * The servers of this process. libevent calls a listener's error callback
 * with evhttp's argument, not ours, so the callback finds its server here
 * (one, except in tests). Used on the loop's thread only.
 */
static TAILQ_HEAD(, http_server) http_servers =
    TAILQ_HEAD_INITIALIZER(http_servers);

/* Error codes and their status. */
static const struct {
	const char	*code;
	int		 status;
} http_error_codes[] = {
	{ "bad_request", 400 },
	{ "bad_json", 400 },
	{ "unauthorized", 401 },
	{ "forbidden", 403 },
	{ "not_found", 404 },
	{ "method_not_allowed", 405 },
	{ "conflict", 409 },
	{ "payload_too_large", 413 },
	{ "unsupported_media_type", 415 },
	{ "invalid_input", 422 },
	{ "too_many_requests", 429 },
	{ "run_failed", 500 },
	{ "shutting_down", 503 },
	{ "overloaded", 503 },
	{ "store_unavailable", 503 },
	{ NULL, 500 }		/* internal */
};

void
http_req_ref(struct http_req *hr)
{
	hr->refs++;
}

void
http_req_unref(struct http_req *hr)
{
	if (--hr->refs > 0)
		return;
	if (hr->held && hr->srv != NULL)
		TAILQ_REMOVE(&hr->srv->held, hr, entry);
	/* Never answered (a handler bug): the client must not hang. */
	if (http_req_live(hr) && !hr->streaming)
		http_error(hr, "internal", "request %s was not answered",
		    hr->path);
	if (hr->free_data != NULL)
		hr->free_data(hr->data);
	evhttp_clear_headers(&hr->query);
	free(hr->path);
	free(hr->raw_path);
	free(hr);
}

int
http_req_live(const struct http_req *hr)
{
	return hr->req != NULL && !hr->answered && !hr->gone;
}

/* The connection of a held request closed: the client is gone. */
static void
http_req_gone(struct http_req *hr)
{
	/*
	 * evhttp detaches a request that is not answered yet from its
	 * failed connection and leaves it to us; any other it frees itself
	 * right after the close callback.
	 */
	if (hr->req != NULL && evhttp_request_get_connection(hr->req) == NULL)
		evhttp_request_free(hr->req);
	hr->req = NULL;
	hr->gone = 1;
	http_req_ref(hr);
	if (hr->on_gone != NULL)
		hr->on_gone(hr);
	http_req_unref(hr);
}

static void	http_conn_timer_cb(evutil_socket_t, short, void *);
static void	http_conn_output_cb(struct evbuffer *,
		    const struct evbuffer_cb_info *, void *);
static void	http_conn_input_cb(struct evbuffer *,
		    const struct evbuffer_cb_info *, void *);

/* A new connection's record, its deadline running from now. */
static struct http_conn *
http_conn_new(struct http_server *srv, struct bufferevent *bev)
{
	struct http_conn *conn = xcalloc(1, sizeof *conn);

	conn->srv = srv;
	conn->bev = bev;
	bufferevent_incref(bev);
	if ((conn->timer = evtimer_new(srv->base, http_conn_timer_cb,
	    conn)) == NULL)
		fatal("%s: evtimer_new failed", __func__);
	conn->deadline = orc_mono_ms() + srv->read_timeout_ms;
	conn->out_cb = evbuffer_add_cb(bufferevent_get_output(bev),
	    http_conn_output_cb, conn);
	conn->in_cb = evbuffer_add_cb(bufferevent_get_input(bev),
	    http_conn_input_cb, conn);
	snprintf(conn->key, sizeof conn->key, "%p", (void *)bev);
	hmap_set(srv->conns, conn->key, conn);
	TAILQ_INSERT_TAIL(&srv->conn_list, conn, entry);
	return conn;
}

/* The bytes a connection read count no more: its request was answered,
 * or it closed. */
static void
http_conn_release(struct http_conn *conn)
{
	conn->srv->inflight -= conn->recv;
	conn->recv = 0;
}

/* Forgets a connection: its timer and our reference on its bufferevent. */
static void
http_conn_free(struct http_conn *conn)
{
	TAILQ_REMOVE(&conn->srv->conn_list, conn, entry);
	hmap_remove(conn->srv->conns, conn->key);
	event_free(conn->timer);
	if (conn->out_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_output(conn->bev),
		    conn->out_cb);
	if (conn->in_cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(conn->bev),
		    conn->in_cb);
	http_conn_release(conn);
	/* Before evhttp's own bufferevent_free, when it closes: that one
	 * then frees the bufferevent. */
	bufferevent_decref(conn->bev);
	free(conn);
}

/* Starts (or restarts) the deadline for reading a request. */
static void
http_conn_arm(struct http_conn *conn)
{
	int64_t ms = conn->srv->read_timeout_ms;
	struct timeval tv;

	conn->deadline = orc_mono_ms() + ms;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(conn->timer, &tv);
}

/* The request was read whole: no deadline while it is handled. */
static void
http_conn_disarm(struct http_conn *conn)
{
	conn->deadline = 0;
	evtimer_del(conn->timer);
}

/* The connection ends: stops watching it, tells the held request. */
static void
http_conn_end(struct http_conn *conn)
{
	struct http_req *hr = conn->held;

	if (conn->evcon != NULL)
		evhttp_connection_set_closecb(conn->evcon, NULL, NULL);
	http_conn_free(conn);
	if (hr != NULL)
		http_req_gone(hr);
}

/* evhttp closes the connection (the client left, a timeout, an error,
 * Connection: close, evhttp_free). */
static void
http_conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn *conn = arg;

	http_conn_end(conn);
}

/* Learns the evhttp connection: its close callback is ours from now. */
static void
http_conn_attach(struct http_conn *conn, struct evhttp_connection *evcon)
{
	if (conn->evcon != NULL)
		return;
	conn->evcon = evcon;
	evhttp_connection_set_closecb(evcon, http_conn_close_cb, conn);
}

/* The record of the connection of an evhttp request; with make, made now
 * when the accept did not make one. NULL when there is none. */
static struct http_conn *
http_conn_of(struct http_server *srv, struct evhttp_request *req, int make)
{
	struct evhttp_connection *evcon;
	struct bufferevent *bev;
	struct http_conn *conn;
	char key[32];

	if (req == NULL || (evcon = evhttp_request_get_connection(req)) ==
	    NULL || (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
		return NULL;
	snprintf(key, sizeof key, "%p", (void *)bev);
	if ((conn = hmap_get(srv->conns, key)) == NULL) {
		if (!make)
			return NULL;
		conn = http_conn_new(srv, bev);
		conn->deadline = 0;
	}
	http_conn_attach(conn, evcon);
	return conn;
}

/*
 * Right after the accept: finds the evhttp connection. Later: the
 * deadline passed, and the connection is closed without an answer.
 */
static void
http_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *conn = arg;
	struct evhttp_connection *evcon;
	bufferevent_data_cb readcb;
	void *cbarg;
	int64_t left;
	struct timeval tv;

	/*
	 * Our reference keeps the bufferevent; evhttp clears its callbacks
	 * when it lets it go, and its callback argument is the connection.
	 */
	bufferevent_getcb(conn->bev, &readcb, NULL, NULL, &cbarg);
	if (readcb == NULL || cbarg == NULL ||
	    (conn->evcon != NULL && cbarg != conn->evcon)) {
		http_conn_free(conn);
		return;
	}
	if (conn->evcon == NULL) {
		http_conn_attach(conn, cbarg);
		if (conn->deadline == 0)
			return;
		if ((left = conn->deadline - orc_mono_ms()) > 0) {
			tv.tv_sec = (time_t)(left / 1000);
			tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
			evtimer_add(conn->timer, &tv);
			return;
		}
	}
	if (conn->deadline == 0 || conn->held != NULL)
		return;		/* not reading a request */
	log_debug("%s: no whole request within %d ms; closing the "
	    "connection", __func__, conn->srv->read_timeout_ms);
	evcon = conn->evcon;
	http_conn_end(conn);
	evhttp_connection_free(evcon);
}

/*
 * The bufferevent read bytes for the request: count them, and past
 * --max-inflight-bytes refuse the request (see the top). Runs before
 * evhttp's read callback sees the bytes.
 */
static void
http_conn_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct http_conn *conn = arg;
	struct http_server *srv = conn->srv;

	if (info->n_added == 0)
		return;
	conn->recv += info->n_added;
	srv->inflight += info->n_added;
	if (srv->inflight <= srv->max_inflight || conn->refused ||
	    conn->evcon == NULL)
		return;
	conn->refused = 1;
	srv->inflight_refused++;
	log_debug("%s: %zu request bytes held, over %zu: refusing a request",
	    __func__, srv->inflight, srv->max_inflight);
	evhttp_connection_set_max_body_size(conn->evcon, 0);
}

/*
 * evhttp answers a request it could not read (a body over --max-body,
 * headers over their limit, a malformed request) with an HTML page of its
 * own, before any callback of ours sees the request. Such a page is
 * rewritten here, in the connection's output buffer, into our JSON error
 * with the same status: the bytes reach the socket only in a later turn
 * of the loop. An answer's status line is added to an empty buffer, and
 * the page's body, which ends with "</BODY></HTML>\n", last.
 */
static void
http_conn_output_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct http_conn *conn = arg;
	static const char tail[] = "</BODY></HTML>\n";
	char head[13], end[sizeof tail - 1], *body;
	struct evbuffer_ptr pos;
	size_t len = evbuffer_get_length(buf), i;
	const char *code = "internal", *extra = "";
	int status;

	if (info->n_added == 0)
		return;
	if (info->orig_size == 0) {
		/* "HTTP/1.1 413 ": watch an error answer to its end. */
		conn->error_page = len >= sizeof head &&
		    evbuffer_copyout(buf, head, sizeof head) ==
		    (ev_ssize_t)sizeof head && strncmp(head, "HTTP/1.", 7) ==
		    0 && (head[9] == '4' || head[9] == '5');
		return;
	}
	if (!conn->error_page || len < sizeof head + sizeof end ||
	    evbuffer_ptr_set(buf, &pos, len - sizeof end,
	    EVBUFFER_PTR_SET) != 0 || evbuffer_copyout_from(buf, &pos, end,
	    sizeof end) != (ev_ssize_t)sizeof end ||
	    memcmp(end, tail, sizeof end) != 0)
		return;
	conn->error_page = 0;
	evbuffer_copyout(buf, head, sizeof head);
	status = atoi(head + 9);
	for (i = 0; http_error_codes[i].code != NULL; i++) {
		if (http_error_codes[i].status == status) {
			code = http_error_codes[i].code;
			break;
		}
	}
	if (status == 413 && conn->refused) {
		/* Not too large: too many bytes held at once. */
		status = 503;
		code = "overloaded";
		extra = "Retry-After: 1\r\n";
		body = xasprintf("{\"error\":{\"code\":\"%s\",\"message\":"
		    "\"" HTTP_OVERLOADED "\"}}", code,
		    conn->srv->max_inflight);
	} else if (status == 413)
		body = xasprintf("{\"error\":{\"code\":\"%s\",\"message\":"
		    "\"request body over the server's --max-body of %zu bytes "
		    "(or headers over %d bytes)\"}}", code,
		    conn->srv->max_body, HTTP_MAX_HEADERS);
	else
		body = xasprintf("{\"error\":{\"code\":\"%s\",\"message\":"
		    "\"the request could not be read as HTTP (status %d)\"}}",
		    code, status);
	/* Our callback runs again for these changes: error_page is 0. */
	evbuffer_drain(buf, len);
	evbuffer_add_printf(buf, "HTTP/1.1 %d %s\r\nContent-Type: "
	    "application/json\r\nConnection: close\r\n%sContent-Length: "
	    "%zu\r\n\r\n%s", status, status == 413 ? "Payload Too Large" :
	    status == 400 ? "Bad Request" : status == 503 ?
	    "Service Unavailable" : "Error", extra, strlen(body), body);
	free(body);
}

/* evhttp makes the bufferevent of an accepted connection: as it would
 * (no option: evhttp closes the socket itself), with its record. */
static struct bufferevent *
http_conn_bev_cb(struct event_base *base, void *arg)
{
	struct http_server *srv = arg;
	struct bufferevent *bev;
	struct http_conn *conn;

	if ((bev = bufferevent_socket_new(base, -1, 0)) == NULL) {
		log_warn("%s: bufferevent_socket_new failed", __func__);
		return NULL;
	}
	conn = http_conn_new(srv, bev);
	/* Runs in this turn of the loop, before the socket is read. */
	event_active(conn->timer, EV_TIMEOUT, 1);
	srv->accept_pause_ms = 0;	/* accepting again: no back-off */
	return bev;
}

/* The descriptor kept for running out of them: -1 when none is left. */
static int
http_reserve_open(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * accept() failed for good (libevent retries EINTR, EAGAIN and
 * ECONNABORTED itself): pause the listener, and out of descriptors close
 * the oldest waiting connection with the reserve descriptor. See the top.
 */
static void
http_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct http_server *srv;
	struct timeval tv;
	int e = EVUTIL_SOCKET_ERROR(), fd, out;

	TAILQ_FOREACH(srv, &http_servers, entry) {
		if (srv->listener == lev)
			break;
	}
	if (srv == NULL)
		return;
	evconnlistener_disable(lev);
	out = e == EMFILE || e == ENFILE;
	if (out && srv->reserve_fd >= 0) {
		close(srv->reserve_fd);
		fd = accept(evconnlistener_get_fd(lev), NULL, NULL);
		if (fd >= 0) {
			close(fd);
			srv->accept_closed++;
		}
		srv->reserve_fd = http_reserve_open();
	}
	srv->accept_pause_ms = srv->accept_pause_ms == 0 ?
	    HTTP_PAUSE_MIN_MS : srv->accept_pause_ms * 2;
	if (srv->accept_pause_ms > HTTP_PAUSE_MAX_MS)
		srv->accept_pause_ms = HTTP_PAUSE_MAX_MS;
	log_warn("%s: port %d: %s (%s): not accepting for %d ms; %llu "
	    "waiting connections closed at once so far", __func__,
	    srv->port, out ? "out of file descriptors" : "accept failed",
	    strerror(e), srv->accept_pause_ms,
	    (unsigned long long)srv->accept_closed);
	tv.tv_sec = srv->accept_pause_ms / 1000;
	tv.tv_usec = (srv->accept_pause_ms % 1000) * 1000;
	evtimer_add(srv->accept_timer, &tv);
}

/* A pause is over: accept again (and take the reserve back if lost). */
static void
http_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *srv = arg;

	if (srv->reserve_fd < 0)
		srv->reserve_fd = http_reserve_open();
	if (srv->listener != NULL)
		evconnlistener_enable(srv->listener);
}

/* The answer was sent and the connection stays: the next request's
 * deadline starts. */
static void
http_conn_done_cb(struct evhttp_request *req, void *arg)
{
	struct http_conn *conn = arg;

	http_conn_release(conn);
	http_conn_arm(conn);
}

void
http_req_hold(struct http_req *hr)
{
	struct http_conn *conn;

	if (hr->held || !http_req_live(hr))
		return;
	hr->held = 1;
	TAILQ_INSERT_TAIL(&hr->srv->held, hr, entry);
	if ((conn = http_conn_of(hr->srv, hr->req, 1)) != NULL)
		conn->held = hr;
}

/* Stops watching the connection of a held request. */
static void
http_req_unwatch(struct http_req *hr)
{
	struct http_conn *conn;

	if (hr->held && hr->srv != NULL && hr->req != NULL &&
	    (conn = http_conn_of(hr->srv, hr->req, 0)) != NULL &&
	    conn->held == hr)
		conn->held = NULL;
}

const char *
http_header(struct http_req *hr, const char *name)
{
	if (hr->req == NULL)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(hr->req),
	    name);
}

void
http_add_header(struct http_req *hr, const char *name, const char *value)
{
	if (hr->req != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(hr->req),
		    name, value);
}

const char *
http_query(struct http_req *hr, const char *name)
{
	return evhttp_find_header(&hr->query, name);
}

char *
http_body(struct http_req *hr, size_t *lenp)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(hr->req);
	size_t n = evbuffer_get_length(in);
	char *s = xmalloc(n + 1);

	evbuffer_copyout(in, s, n);
	s[n] = '\0';
	*lenp = n;
	return s;
}

/* A callback's token is a credential: the log keeps its first 8
 * characters, enough to tell callbacks apart, in a quoted path. */
static void
http_redact_callback(char *path)
{
	static const char pre[] = "\"/callbacks/";
	char *tok, *end;

	if (strncmp(path, pre, sizeof pre - 1) != 0)
		return;
	tok = path + sizeof pre - 1;
	end = tok + strcspn(tok, "/\"");
	if (end - tok > 8)
		memmove(tok + 8, end, strlen(end) + 1);
}

/* Counts an answer for /metrics and writes its access log line. */
static void
http_account(struct http_req *hr)
{
	struct http_server *srv = hr->srv;
	struct timespec ts;
	struct tm tm;
	char when[32], path[2048];
	int i;

	if (srv == NULL)
		return;
	for (i = 0; i < HTTP_CODES; i++) {
		if (srv->codes[i] == hr->status || srv->codes[i] == 0) {
			srv->codes[i] = hr->status;
			srv->code_counts[i]++;
			break;
		}
	}
	if (!srv->access_log)
		return;
	/* Written directly: the access log does not follow the log level. */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	/* The path is the client's: quoted, so it cannot forge a line. */
	log_quote(path, sizeof path, hr->raw_path);
	http_redact_callback(path);
	fprintf(stderr, "ts=%s.%03ldZ method=%s path=%s status=%d bytes=%zu "
	    "dur_ms=%lld%s%s\n", when, ts.tv_nsec / 1000000,
	    hr->method == M_GET ? "GET" : hr->method == M_POST ? "POST" :
	    hr->method == EVHTTP_REQ_HEAD ? "HEAD" : "OTHER", path,
	    hr->status, hr->bytes, (long long)(orc_mono_ms() - hr->start),
	    hr->run_id[0] != '\0' ? " run_id=" : "", hr->run_id);
}

/* Sends the answer (buf may be NULL) and counts it; the request is
 * answered from now on. */
static void
http_send(struct http_req *hr, int status, struct evbuffer *buf,
    size_t len)
{
	http_req_unwatch(hr);
	evhttp_send_reply(hr->req, status, NULL, buf);
	hr->req = NULL;
	hr->answered = 1;
	hr->status = status;
	hr->bytes = len;
	http_account(hr);
}

void
http_reply_text(struct http_req *hr, int status, const char *type,
    const char *body, size_t len)
{
	struct evbuffer *buf;
	char n[32];

	if (!http_req_live(hr) || hr->streaming)
		return;
	http_add_header(hr, "Content-Type", type);
	if (hr->method == EVHTTP_REQ_HEAD) {
		/*
		 * The GET's headers and length, no body: evhttp would send
		 * the body, and a client reads the next answer's bytes
		 * after a HEAD's headers.
		 */
		snprintf(n, sizeof n, "%zu", len);
		http_add_header(hr, "Content-Length", n);
		http_send(hr, status, NULL, 0);
		return;
	}
	buf = evbuffer_new();
	evbuffer_add(buf, body, len);
	http_send(hr, status, buf, len);
	evbuffer_free(buf);
}

void
http_reply_json(struct http_req *hr, int status, const json_t *body)
{
	size_t len;
	char *s;

	if (!http_req_live(hr))
		return;
	if ((s = jsonenc_compact(body, &len)) == NULL)
		fatal("%s: a JSON value cannot be written", __func__);
	http_reply_text(hr, status, "application/json", s, len);
	free(s);
}

void
http_error(struct http_req *hr, const char *code, const char *fmt, ...)
{
	char msg[1024], *p;
	va_list ap;
	json_t *o;
	int i;

	if (!http_req_live(hr))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	for (i = 0; http_error_codes[i].code != NULL; i++) {
		if (strcmp(http_error_codes[i].code, code) == 0)
			break;
	}
	if (strcmp(code, "too_many_requests") == 0 ||
	    strcmp(code, "overloaded") == 0 ||
	    strcmp(code, "store_unavailable") == 0)
		http_add_header(hr, "Retry-After", "1");
	o = json_pack("{s{ssss}}", "error", "code", code, "message", msg);
	if (o == NULL) {
		/* Not UTF-8 (a request's bytes echoed, a cut character):
		 * keep the ASCII, so that the answer is still JSON. */
		for (p = msg; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		o = json_pack("{s{ssss}}", "error", "code", code, "message",
		    msg);
	}
	if (hr->run_id[0] != '\0' && strcmp(code, "run_failed") == 0)
		json_object_set_new(o, "run_id", json_string(hr->run_id));
	http_reply_json(hr, http_error_codes[i].status, o);
	json_decref(o);
}

void
http_error_orc(struct http_req *hr, const struct orc_error *err)
{
	const char *code;

	switch (err->code) {
	case ORC_EINVAL:	code = "invalid_input"; break;
	case ORC_ENOTFOUND:	code = "not_found"; break;
	case ORC_ESTATE:
	case ORC_EBUSY:		code = "conflict"; break;
	case ORC_EFULL:		code = "too_many_requests"; break;
	case ORC_EPERM:		code = "forbidden"; break;
	default:		code = "internal"; break;
	}
	http_error(hr, code, "%s", err->message);
}

void
http_stream_start(struct http_req *hr)
{
	if (!http_req_live(hr) || hr->streaming)
		return;
	http_add_header(hr, "Content-Type", "text/event-stream");
	http_add_header(hr, "Cache-Control", "no-cache");
	if (hr->method == EVHTTP_REQ_HEAD) {
		/* No stream for HEAD: its headers, answered now. */
		http_send(hr, 200, NULL, 0);
		return;
	}
	evhttp_send_reply_start(hr->req, 200, NULL);
	hr->streaming = 1;
	hr->status = 200;
}

void
http_stream_send(struct http_req *hr, const char *s, size_t len)
{
	struct evbuffer *buf;

	if (!http_req_live(hr) || !hr->streaming)
		return;
	buf = evbuffer_new();
	evbuffer_add(buf, s, len);
	evhttp_send_reply_chunk(hr->req, buf);
	evbuffer_free(buf);
	hr->bytes += len;
}

void
http_stream_end(struct http_req *hr)
{
	if (!http_req_live(hr) || !hr->streaming)
		return;
	http_req_unwatch(hr);
	evhttp_send_reply_end(hr->req);
	hr->req = NULL;
	hr->answered = 1;
	http_account(hr);
}

void
http_waiter_add(struct http_server *srv, const char *run_id,
    struct http_waiter *w)
{
	struct http_waiters *list;

	if ((list = hmap_get(srv->waiters, run_id)) == NULL) {
		list = xmalloc(sizeof *list);
		TAILQ_INIT(list);
		hmap_set(srv->waiters, run_id, list);
	}
	TAILQ_INSERT_TAIL(list, w, entry);
}

void
http_waiter_remove(struct http_server *srv, const char *run_id,
    struct http_waiter *w)
{
	struct http_waiters *list;

	if ((list = hmap_get(srv->waiters, run_id)) == NULL)
		return;
	TAILQ_REMOVE(list, w, entry);
	if (TAILQ_EMPTY(list)) {
		hmap_remove(srv->waiters, run_id);
		free(list);
	}
}

struct workflow *
http_workflow_by_name(struct http_server *srv, const char *name)
{
	return hmap_get(srv->by_name, name);
}

/* The engine's observer: every committed transition of every run. */
static void
http_observer_cb(const struct engine_event *ev, void *arg)
{
	struct http_server *srv = arg;

	http_runs_event(srv, ev);
}

/* Checks "Authorization: Bearer TOKEN" in constant time. */
static int
http_authorized(struct http_req *hr)
{
	const char *h = http_header(hr, "Authorization");
	char want[65], got[65];

	if (hr->srv->token == NULL)
		return 1;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	/* Digests of equal length, so the compare leaks no length either. */
	orc_sha256_hex(hr->srv->token, strlen(hr->srv->token), want);
	orc_sha256_hex(h + 7, strlen(h + 7), got);
	return CRYPTO_memcmp(want, got, 64) == 0;
}

/* Matches path against a pattern, filling the '*' segments in args (which
 * point into buf, a copy of the path cut at the slashes). */
static int
http_match(const char *pattern, const char *path, char *buf, char **args)
{
	const char *p = pattern;
	char *s = buf;
	size_t pn, sn, nargs = 0;

	strcpy(buf, path);
	if (*p++ != '/' || *s++ != '/')
		return 0;
	for (;;) {
		pn = strcspn(p, "/");
		sn = strcspn(s, "/");
		if (pn == 1 && *p == '*') {
			if (sn == 0 || nargs == HTTP_MAX_ARGS)
				return 0;
			args[nargs++] = s;
		} else if (pn != sn || strncmp(p, s, pn) != 0)
			return 0;
		p += pn;
		s += sn;
		if (*p == '\0' || *s == '\0')
			return *p == '\0' && *s == '\0';
		*s++ = '\0';	/* ends the segment an arg may point to */
		p++;
	}
}

/* The pattern of the route a path hits, whatever the method. */
const char *
http_api_path(const char *path)
{
	const struct http_route *r;
	char *buf, *args[HTTP_MAX_ARGS];

	buf = xmalloc(strlen(path) + 1);
	for (r = http_routes; r->pattern != NULL; r++) {
		if (http_match(r->pattern, path, buf, args))
			break;
	}
	free(buf);
	return r->pattern;
}

/* Finds the route and calls it; 404 or 405 with Allow when none fits. */
static void
http_route(struct http_req *hr)
{
	const struct http_route *r;
	unsigned method, allow = 0;
	char *buf, *args[HTTP_MAX_ARGS];
	char allow_hdr[32];

	method = hr->method == EVHTTP_REQ_HEAD ? M_GET : hr->method;
	buf = xmalloc(strlen(hr->path) + 1);
	for (r = http_routes; r->pattern != NULL; r++) {
		memset(args, 0, sizeof args);
		if (!http_match(r->pattern, hr->path, buf, args))
			continue;
		if (r->methods & method) {
			r->fn(hr, args);
			free(buf);
			return;
		}
		allow |= r->methods;
	}
	free(buf);
	if (allow == 0) {
		http_error(hr, "not_found", "no endpoint %s", hr->path);
		return;
	}
	snprintf(allow_hdr, sizeof allow_hdr, "%s%s%s",
	    allow & M_GET ? "GET" : "", (allow & M_GET) && (allow & M_POST) ?
	    ", " : "", allow & M_POST ? "POST" : "");
	http_add_header(hr, "Allow", allow_hdr);
	http_error(hr, "method_not_allowed", "%s does not take this method",
	    hr->path);
}

/* Fills a new request context from evhttp's request. */
static struct http_req *
http_req_new(struct http_server *srv, struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct http_req *hr = xcalloc(1, sizeof *hr);
	const char *path, *query;

	hr->srv = srv;
	hr->req = req;
	hr->refs = 1;
	hr->start = orc_mono_ms();
	hr->method = evhttp_request_get_command(req);
	TAILQ_INIT(&hr->query);
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (path == NULL || *path == '\0')
		path = "/";
	hr->raw_path = xstrdup(path);
	if ((hr->path = evhttp_uridecode(path, 0, NULL)) == NULL)
		hr->path = xstrdup(path);
	query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	if (query != NULL)
		evhttp_parse_query_str(query, &hr->query);
	return hr;
}

/*
 * Why a request's length is ambiguous, or NULL: more than one
 * Content-Length, one that is not plain digits, or one beside a
 * Transfer-Encoding. evhttp reads the body by the first Content-Length
 * and parses it with strtoll ("+2" passes); a proxy in front that takes
 * another would frame a different request (the stuff of smuggling).
 */
static const char *
http_length_problem(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	const char *p;
	int n = 0, te = 0;

	TAILQ_FOREACH(kv, h, next) {
		if (strcasecmp(kv->key, "Transfer-Encoding") == 0)
			te = 1;
		if (strcasecmp(kv->key, "Content-Length") != 0)
			continue;
		if (++n > 1)
			return "more than one Content-Length header";
		if (*kv->value == '\0')
			return "Content-Length is empty";
		for (p = kv->value; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return "Content-Length must be digits only";
		}
	}
	if (n > 0 && te)
		return "Content-Length and Transfer-Encoding together";
	return NULL;
}

/* Every request lands here: drain, webhooks, token, then the routes. */
static void
http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http_server *srv = arg;
	struct http_req *hr = http_req_new(srv, req);
	struct http_conn *conn;
	struct workflow *wf;
	const char *why;
	int refused = 0;

	/* Read whole: the deadline stops until the answer is sent. */
	if ((conn = http_conn_of(srv, req, 1)) != NULL) {
		http_conn_disarm(conn);
		evhttp_request_set_on_complete_cb(req, http_conn_done_cb,
		    conn);
		/* Refused with no body to stop reading: a GET goes on,
		 * and the next request may have a body again. */
		if (conn->refused) {
			refused = hr->method != M_GET &&
			    hr->method != EVHTTP_REQ_HEAD;
			conn->refused = 0;
			evhttp_connection_set_max_body_size(conn->evcon,
			    (ev_ssize_t)srv->max_body);
		}
	}
	if ((why = http_length_problem(req)) != NULL) {
		/* Where this request ends is unsure: so is the next one. */
		http_add_header(hr, "Connection", "close");
		http_error(hr, "bad_request", "%s", why);
	} else if (srv->draining)
		http_error(hr, "shutting_down", "the server is shutting down");
	else if (refused) {
		http_error(hr, "overloaded", HTTP_OVERLOADED,
		    srv->max_inflight);
	} else if ((wf = hmap_get(srv->by_path, hr->path)) != NULL) {
		/* Webhooks answer to their signature, not to the token. */
		if (hr->method != M_POST) {
			http_add_header(hr, "Allow", "POST");
			http_error(hr, "method_not_allowed", "webhook %s takes "
			    "POST", hr->path);
		} else
			http_hook_post(hr, wf, 1);
	} else if (strcmp(hr->path, "/healthz") != 0 &&
	    strncmp(hr->path, "/callbacks/", 11) != 0 && !http_authorized(hr))
		/* /healthz stays open: a load balancer has no token. A
		 * callback's token is in its path, as a webhook's secret. */
		http_error(hr, "unauthorized", "missing or wrong bearer token");
	else
		http_route(hr);
	http_req_unref(hr);
}

#define HTTP_BACKLOG 1024

/* Splits "ADDR:PORT" ("[::1]:8080" too) and binds it. */
static int
http_bind(struct http_server *srv, const char *where, struct orc_error *err)
{
	struct evhttp_bound_socket *sock;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char *addr, *colon, *end;
	long port;

	addr = xstrdup(where);
	if ((colon = strrchr(addr, ':')) == NULL || colon == addr) {
		orc_error_set(err, ORC_EINVAL, "--listen \"%s\": expected "
		    "ADDR:PORT", where);
		free(addr);
		return -1;
	}
	*colon = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || colon[1] == '\0' || port < 0 || port > 65535) {
		orc_error_set(err, ORC_EINVAL, "--listen \"%s\": bad port",
		    where);
		free(addr);
		return -1;
	}
	if (addr[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		memmove(addr, addr + 1, strlen(addr));
	}
	sock = evhttp_bind_socket_with_handle(srv->http, addr,
	    (unsigned short)port);
	free(addr);
	if (sock == NULL && errno == EADDRINUSE) {
		orc_error_set(err, ORC_EIO, "cannot listen on %s: the address "
		    "is in use (another orchestrator serve?): stop that "
		    "process, or pick another address with --listen ADDR:PORT "
		    "(port 0 picks a free one)", where);
		return -1;
	}
	if (sock == NULL) {
		orc_error_set(err, ORC_EIO, "cannot listen on %s: %s: pick "
		    "another address with --listen ADDR:PORT", where,
		    strerror(errno));
		return -1;
	}
	/* evhttp listens with a backlog of 128: a burst of connections past
	 * it waits for the clients' retransmits (a second). Calling listen()
	 * again on the socket raises the backlog (Linux updates it). */
	if (listen(evhttp_bound_socket_get_fd(sock), HTTP_BACKLOG) != 0)
		log_warn("%s: listen backlog: %s", __func__, strerror(errno));
	if ((srv->listener = evhttp_bound_socket_get_listener(sock)) != NULL)
		evconnlistener_set_error_cb(srv->listener,
		    http_accept_error_cb);
	if (getsockname(evhttp_bound_socket_get_fd(sock),
	    (struct sockaddr *)&ss, &len) == 0)
		srv->port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

struct http_server *
http_create(struct event_base *base, struct engine *engine,
    struct store *store, const struct http_config *cfg,
    struct orc_error *err)
{
	struct http_server *srv = xcalloc(1, sizeof *srv);

	srv->base = base;
	srv->engine = engine;
	srv->store = store;
	srv->access_log = cfg->access_log;
	if (cfg->api_token != NULL && cfg->api_token[0] != '\0')
		srv->token = xstrdup(cfg->api_token);
	srv->by_name = hmap_create();
	srv->by_path = hmap_create();
	srv->waiters = hmap_create();
	TAILQ_INIT(&srv->held);
	srv->read_timeout_ms = cfg->read_timeout_ms > 0 ?
	    cfg->read_timeout_ms : HTTP_READ_TIMEOUT_MS;
	srv->conns = hmap_create();
	TAILQ_INIT(&srv->conn_list);
	TAILQ_INSERT_TAIL(&http_servers, srv, entry);
	srv->reserve_fd = http_reserve_open();
	if ((srv->accept_timer = evtimer_new(base, http_accept_resume_cb,
	    srv)) == NULL)
		fatal("%s: evtimer_new failed", __func__);
	if ((srv->http = evhttp_new(base)) == NULL)
		fatal("%s: evhttp_new failed", __func__);
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(srv->http, cfg->timeout_s > 0 ? cfg->timeout_s :
	    HTTP_TIMEOUT_S);
	srv->max_body = cfg->max_body > 0 ? cfg->max_body : HTTP_MAX_BODY;
	evhttp_set_max_body_size(srv->http, (ev_ssize_t)srv->max_body);
	srv->max_inflight = cfg->max_inflight > 0 ? cfg->max_inflight :
	    HTTP_MAX_INFLIGHT;
	/* libevent's default is no limit: one client could fill memory. */
	evhttp_set_max_headers_size(srv->http, HTTP_MAX_HEADERS);
	evhttp_set_gencb(srv->http, http_request_cb, srv);
	evhttp_set_bevcb(srv->http, http_conn_bev_cb, srv);
	if (http_bind(srv, cfg->listen, err) != 0) {
		http_free(srv);
		return NULL;
	}
	engine_set_observer(engine, http_observer_cb, srv);
	return srv;
}

/* Drops the loaded workflows and their lookups. */
static void
http_clear_workflows(struct http_server *srv)
{
	size_t i;

	for (i = 0; i < srv->nwfs; i++) {
		hmap_remove(srv->by_name, workflow_name(srv->wfs[i]));
		workflow_unref(srv->wfs[i]);
	}
	free(srv->wfs);
	srv->wfs = NULL;
	srv->nwfs = 0;
	hmap_free(srv->by_path);
	srv->by_path = hmap_create();
}

void
http_set_workflows(struct http_server *srv, struct workflow **wfs,
    size_t n)
{
	const char *path;
	size_t i;

	http_clear_workflows(srv);
	srv->wfs = xcalloc(n + 1, sizeof *srv->wfs);
	for (i = 0; i < n; i++) {
		srv->wfs[i] = workflow_ref(wfs[i]);
		hmap_set(srv->by_name, workflow_name(wfs[i]), wfs[i]);
		/* The loaders refuse a second file with a path: should one
		 * get here, the first keeps it, as there. */
		if ((path = workflow_hook_path(wfs[i])) != NULL &&
		    hmap_get(srv->by_path, path) == NULL)
			hmap_set(srv->by_path, path, wfs[i]);
	}
	srv->nwfs = n;
}

void
http_drain(struct http_server *srv)
{
	srv->draining = 1;
}

int
http_port(const struct http_server *srv)
{
	return srv->port;
}

void
http_free(struct http_server *srv)
{
	struct http_conn *conn;
	struct http_req *hr;

	if (srv == NULL)
		return;
	if (srv->engine != NULL)
		engine_set_observer(srv->engine, NULL, NULL);
	TAILQ_REMOVE(&http_servers, srv, entry);
	if (srv->accept_timer != NULL)
		event_free(srv->accept_timer);
	if (srv->reserve_fd >= 0)
		close(srv->reserve_fd);
	/* Closes every connection: held requests learn they are gone. */
	if (srv->http != NULL)
		evhttp_free(srv->http);
	/* Only those evhttp dropped before they were attached are left. */
	while ((conn = TAILQ_FIRST(&srv->conn_list)) != NULL)
		http_conn_free(conn);
	/*
	 * Requests still waiting on the engine: the loop has stopped and
	 * engine_free drops its callbacks without calling them, so nothing
	 * refers to them any more.
	 */
	while ((hr = TAILQ_FIRST(&srv->held)) != NULL) {
		TAILQ_REMOVE(&srv->held, hr, entry);
		hr->held = 0;
		hr->srv = NULL;
		hr->refs = 1;
		http_req_unref(hr);
	}
	http_clear_workflows(srv);
	hmap_free(srv->by_name);
	hmap_free(srv->by_path);
	hmap_free(srv->waiters);
	hmap_free(srv->conns);
	free(srv->token);
	free(srv);
}
