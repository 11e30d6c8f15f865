/*
 * HTTP requests multiplexed on the event loop: libcurl's multi interface
 * driven by libevent, the "multi_socket" pattern. Curl tells us which
 * sockets to watch (fetch_socket_cb) and when it next needs a timeout
 * (fetch_timer_set_cb); libevent tells curl when a socket is ready or the
 * timer fired (curl_multi_socket_action), and completed transfers are
 * collected with curl_multi_info_read. One multi handle per struct fetch
 * keeps a connection cache, so requests to the same host reuse keep-alive
 * connections.
 *
 * Completed requests go to a done list and their callbacks run from the
 * loop, after curl has returned, so a callback may start, cancel or free
 * anything, including the whole fetch. Redirects are followed here rather
 * than by curl, so that every hop is checked against the workflow's allow
 * rules before anything connects to it.
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "fetch.h"
#include "log.h"
#include "permit.h"
#include "strbuf.h"

#define FETCH_TIMEOUT_MS	30000
#define FETCH_MAX_RESPONSE	(16 * 1024 * 1024)
#define FETCH_MAX_REDIRECTS	10
/* Easy handles kept for reuse: each keeps its buffers (tens of KiB that
 * would be allocated and freed again per request). */
#define FETCH_IDLE_MAX		64
/* Idle connections kept open for reuse, over all hosts. */
#define FETCH_MAX_IDLE_CONNS	256L
/* All the answers being received at once hold at most this much (see
 * ORCH_FETCH_BUFFER_BYTES); a request that would pass it fails, worth a
 * retry. */
#define FETCH_BUFFER_DEFAULT	((size_t)256 * 1024 * 1024)
#define FETCH_BUFFER_MIN	((size_t)64 * 1024)

enum fetch_req_state { FETCH_REQ_ACTIVE, FETCH_REQ_DONE };

struct fetch_req {
	struct fetch		*f;
	enum fetch_req_state	 state;
	TAILQ_ENTRY(fetch_req)	 entry;
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
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	struct fetch_req_list	 active;	/* in curl's hands */
	struct fetch_req_list	 done;		/* waiting for their callback */
	size_t			 count;
	int			 dispatching;
	int			 dying;
	CURL			*idle[FETCH_IDLE_MAX];	/* reset, reusable */
	size_t			 nidle;
	size_t			 buffered;	/* answer bytes held, all */
	size_t			 buffer_max;
};

static pthread_once_t	fetch_once = PTHREAD_ONCE_INIT;
static CURLcode		fetch_init_rc;

static void	fetch_check(struct fetch *);

/* Runs curl_global_init once for the process. */
static void
fetch_global_init_once(void)
{
	fetch_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (fetch_init_rc == CURLE_OK)
		atexit(curl_global_cleanup);
}

/* Initialises libcurl once; later calls return the first result. */
int
fetch_global_init(struct orc_error *err)
{
	pthread_once(&fetch_once, fetch_global_init_once);
	if (fetch_init_rc != CURLE_OK) {
		orc_error_set(err, ORC_EIO, "cannot initialise libcurl: %s",
		    curl_easy_strerror(fetch_init_rc));
		return -1;
	}
	return 0;
}

/* A socket is ready: tell curl, then hand out what completed. */
static void
fetch_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	int action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(f->multi, fd, action, &running);
	fetch_check(f);
}

/* Curl's timeout expired. */
static void
fetch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	int running;

	curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	fetch_check(f);
}

/* Curl asks to watch a socket for reading and/or writing, or to stop. */
static int
fetch_socket_cb(CURL *easy, curl_socket_t s, int what, void *arg,
    void *sockp)
{
	struct fetch *f = arg;
	struct event *ev = sockp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL) {
			event_free(ev);
			curl_multi_assign(f->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (ev == NULL) {
		if ((ev = event_new(f->base, s, kind, fetch_event_cb, f)) ==
		    NULL)
			fatal("%s: out of memory", __func__);
		curl_multi_assign(f->multi, s, ev);
	} else {
		/* Re-arming with new interests needs a deleted event. */
		event_del(ev);
		event_assign(ev, f->base, s, kind, fetch_event_cb, f);
	}
	event_add(ev, NULL);
	return 0;
}

/* Curl asks for a call back in ms milliseconds (-1: none wanted). Curl
 * must not be re-entered from here, hence a timer even for 0. */
static int
fetch_timer_set_cb(CURLM *multi, long ms, void *arg)
{
	struct fetch *f = arg;
	struct timeval tv;

	if (ms < 0) {
		evtimer_del(f->timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(f->timer, &tv);
	return 0;
}

/* The cap on answer bytes held at once: ORCH_FETCH_BUFFER_BYTES, else
 * the default. */
static size_t
fetch_buffer_max(void)
{
	return (size_t)orc_env_int("ORCH_FETCH_BUFFER_BYTES",
	    (long long)FETCH_BUFFER_MIN, LLONG_MAX,
	    (long long)FETCH_BUFFER_DEFAULT);
}

/* Creates a client on base. */
struct fetch *
fetch_create(struct event_base *base)
{
	struct fetch *f;
	struct orc_error err;

	if (fetch_global_init(&err) != 0)
		fatal("%s: %s", __func__, err.message);
	f = xcalloc(1, sizeof *f);
	f->base = base;
	f->buffer_max = fetch_buffer_max();
	TAILQ_INIT(&f->active);
	TAILQ_INIT(&f->done);
	if ((f->multi = curl_multi_init()) == NULL ||
	    (f->timer = evtimer_new(base, fetch_timer_cb, f)) == NULL)
		fatal("%s: out of memory", __func__);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, fetch_socket_cb);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION,
	    fetch_timer_set_cb);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	/* Curl's default cache holds 4 connections per transfer in flight
	 * at the moment it looks: a dip in load closes connections that
	 * the next burst must open again. */
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, FETCH_MAX_IDLE_CONNS);
	return f;
}

/* Frees a request's answer body and gives its bytes back to the cap. */
static void
fetch_req_drop_body(struct fetch_req *r)
{
	r->f->buffered -= r->rbody.len;
	strbuf_free(&r->rbody);
}

/* Takes a request's easy handle out of curl, which keeps the connection
 * in its cache for the next request to the same host. */
static void
fetch_req_detach(struct fetch_req *r)
{
	if (r->easy == NULL)
		return;
	curl_multi_remove_handle(r->f->multi, r->easy);
	/* Reset drops every option (credentials too) and keeps buffers. */
	if (r->f->nidle < FETCH_IDLE_MAX) {
		curl_easy_reset(r->easy);
		r->f->idle[r->f->nidle++] = r->easy;
	} else
		curl_easy_cleanup(r->easy);
	r->easy = NULL;
}

/* Frees a request that is on no list. */
static void
fetch_req_free(struct fetch_req *r)
{
	fetch_req_detach(r);
	curl_slist_free_all(r->headers);
	free(r->method);
	free(r->url);
	free(r->body);
	json_decref(r->allow);
	free(r->sigv4);
	if (r->userpwd != NULL) {
		explicit_bzero(r->userpwd, strlen(r->userpwd));
		free(r->userpwd);
	}
	free(r->reason);
	json_decref(r->rheaders);
	fetch_req_drop_body(r);
	free(r->errmsg);
	free(r);
}

/* Frees everything; the lists are empty. */
static void
fetch_destroy(struct fetch *f)
{
	while (f->nidle > 0)
		curl_easy_cleanup(f->idle[--f->nidle]);
	curl_multi_cleanup(f->multi);
	event_free(f->timer);
	free(f);
}

/* Cancels all requests and frees the client. Inside a callback the free
 * waits until the dispatch loop unwinds. */
void
fetch_free(struct fetch *f)
{
	struct fetch_req *r;

	if (f == NULL)
		return;
	while ((r = TAILQ_FIRST(&f->active)) != NULL)
		fetch_cancel(r);
	while ((r = TAILQ_FIRST(&f->done)) != NULL)
		fetch_cancel(r);
	if (f->dispatching) {
		f->dying = 1;
		return;
	}
	fetch_destroy(f);
}

/* Stops a request; its callback is never called. */
void
fetch_cancel(struct fetch_req *r)
{
	struct fetch *f;

	if (r == NULL)
		return;
	f = r->f;
	if (r->state == FETCH_REQ_ACTIVE)
		TAILQ_REMOVE(&f->active, r, entry);
	else
		TAILQ_REMOVE(&f->done, r, entry);
	f->count--;
	fetch_req_free(r);
}

/* Requests started and not yet called back. */
size_t
fetch_active(const struct fetch *f)
{
	return f->count;
}

/* Keeps body bytes up to the cap; past it, stops the transfer. */
static size_t
fetch_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct fetch_req *r = arg;

	if (r->rbody.len + size * n > r->max) {
		r->over = 1;
		return 0;
	}
	if (r->f->buffered + size * n > r->f->buffer_max) {
		r->over_all = 1;
		return 0;
	}
	strbuf_add(&r->rbody, data, size * n);
	r->f->buffered += size * n;
	return size * n;
}

/* Trims spaces, tabs and CR LF from both ends of [*p, *p + *n). */
static void
fetch_trim(const char **p, size_t *n)
{
	while (*n > 0 && strchr(" \t\r\n", (*p)[0]) != NULL) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && strchr(" \t\r\n", (*p)[*n - 1]) != NULL)
		(*n)--;
}

/* Collects one header line: a status line starts a new set (each
 * response of a chain), others go in lower case, repeats joined. */
static size_t
fetch_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct fetch_req *r = arg;
	const char *line = data, *colon, *value;
	size_t len = size * n, vlen, i;
	char *name, *joined;
	json_t *old, *v;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		json_object_clear(r->rheaders);
		free(r->reason);
		r->reason = NULL;
		/* "HTTP/1.1 404 Not Found": the phrase after the code. */
		for (i = 0; i < len && line[i] != ' '; i++)
			;
		for (i++; i < len && line[i] != ' '; i++)
			;
		if (i < len) {
			value = line + i;
			vlen = len - i;
			fetch_trim(&value, &vlen);
			r->reason = xstrndup(value, vlen);
		}
		return len;
	}
	if ((colon = memchr(line, ':', len)) == NULL || colon == line)
		return len;
	name = xstrndup(line, colon - line);
	for (i = 0; name[i] != '\0'; i++)
		name[i] = tolower((unsigned char)name[i]);
	value = colon + 1;
	vlen = len - (colon + 1 - line);
	fetch_trim(&value, &vlen);

	/* Bytes that are not UTF-8 cannot be JSON: such a header is left
	 * out rather than mangled. */
	if ((old = json_object_get(r->rheaders, name)) != NULL) {
		joined = xasprintf("%s, %.*s", json_string_value(old),
		    (int)vlen, value);
		v = json_string(joined);
		free(joined);
	} else
		v = json_stringn(value, vlen);
	if (v != NULL)
		json_object_set_new(r->rheaders, name, v);
	free(name);
	return len;
}

/* Hands a request to curl for its current method and url. -1 with err
 * when curl refuses it. */
static int
fetch_req_launch(struct fetch_req *r, struct orc_error *err)
{
	CURL *e;
	int64_t left;
	CURLMcode mrc;

	if (r->f->nidle > 0)
		e = r->f->idle[--r->f->nidle];
	else if ((e = curl_easy_init()) == NULL)
		fatal("%s: out of memory", __func__);
	r->easy = e;
	r->status = 0;
	r->over = 0;
	r->result = CURLE_OK;
	r->errbuf[0] = '\0';
	free(r->reason);
	r->reason = NULL;
	json_object_clear(r->rheaders);
	fetch_req_drop_body(r);

	/* The deadline covers every hop of a redirect chain. */
	left = r->timeout_ms - (orc_mono_ms() - r->start_ms);
	if (left < 1)
		left = 1;

	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fetch_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, fetch_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max);
	if (r->sigv4 != NULL && r->userpwd != NULL) {
		curl_easy_setopt(e, CURLOPT_AWS_SIGV4, r->sigv4);
		curl_easy_setopt(e, CURLOPT_USERPWD, r->userpwd);
	}

	if (strcmp(r->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (r->has_body || strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS,
		    r->body != NULL ? r->body : "");
		if (strcmp(r->method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (strcmp(r->method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);

	if ((mrc = curl_multi_add_handle(r->f->multi, e)) != CURLM_OK) {
		orc_error_set(err, ORC_EIO, "%s %s: %s", r->method, r->url,
		    curl_multi_strerror(mrc));
		curl_easy_cleanup(e);
		r->easy = NULL;
		return -1;
	}
	return 0;
}

/* Whether a method is an HTTP token (no spaces or line breaks). */
static int
fetch_method_ok(const char *m)
{
	if (*m == '\0')
		return 0;
	for (; *m != '\0'; m++) {
		if (!isalnum((unsigned char)*m) &&
		    strchr("!#$%&'*+-.^_`|~", *m) == NULL)
			return 0;
	}
	return 1;
}

/* Starts a request; see fetch.h. */
struct fetch_req *
fetch_start(struct fetch *f, const struct fetch_request *req,
    fetch_done_cb cb, void *arg, struct orc_error *err)
{
	struct fetch_req *r;
	const char *method = req->method != NULL ? req->method : "GET";
	int has_expect = 0;
	size_t i;

	if (req->url == NULL) {
		orc_error_set(err, ORC_EINVAL, "no url to fetch");
		return NULL;
	}
	if (!fetch_method_ok(method)) {
		orc_error_set(err, ORC_EINVAL, "method \"%s\" is not valid",
		    method);
		return NULL;
	}
	if (permit_url(req->allow, req->url, err) != 0)
		return NULL;

	r = xcalloc(1, sizeof *r);
	r->f = f;
	r->cb = cb;
	r->arg = arg;
	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		if (strpbrk(req->headers[i], "\r\n") != NULL) {
			orc_error_set(err, ORC_EINVAL, "header \"%.40s\" holds "
			    "a line break", req->headers[i]);
			fetch_req_free(r);
			return NULL;
		}
		if (strncasecmp(req->headers[i], "expect:", 7) == 0)
			has_expect = 1;
		r->headers = curl_slist_append(r->headers, req->headers[i]);
		if (r->headers == NULL)
			fatal("%s: out of memory", __func__);
	}
	/* Curl waits up to a second for "100 Continue" before sending a
	 * large body: servers rarely need the question. Not for a signed
	 * request: libcurl 7.88 would sign the empty header it never sends
	 * (S3 answers 100 Continue at once anyway). */
	if (!has_expect && (req->aws_sigv4 == NULL || req->userpwd == NULL) &&
	    (r->headers = curl_slist_append(r->headers, "Expect:")) == NULL)
		fatal("%s: out of memory", __func__);
	r->method = xstrdup(method);
	for (i = 0; r->method[i] != '\0'; i++)
		r->method[i] = toupper((unsigned char)r->method[i]);
	r->url = xstrdup(req->url);
	if (req->body != NULL) {
		r->body = xmalloc(req->body_len + 1);
		memcpy(r->body, req->body, req->body_len);
		r->body[req->body_len] = '\0';
		r->body_len = req->body_len;
		r->has_body = 1;
	}
	r->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms :
	    FETCH_TIMEOUT_MS;
	r->follow = req->follow_redirects;
	r->max = req->max_response > 0 ? req->max_response :
	    FETCH_MAX_RESPONSE;
	/* jansson's refcount lives in the value: incref needs non-const. */
	r->allow = req->allow != NULL ? json_incref((json_t *)req->allow) :
	    NULL;
	if (req->aws_sigv4 != NULL && req->userpwd != NULL) {
		r->sigv4 = xstrdup(req->aws_sigv4);
		r->userpwd = xstrdup(req->userpwd);
	}
	if ((r->rheaders = json_object()) == NULL)
		fatal("%s: out of memory", __func__);
	r->start_ms = orc_mono_ms();

	if (fetch_req_launch(r, err) != 0) {
		fetch_req_free(r);
		return NULL;
	}
	r->state = FETCH_REQ_ACTIVE;
	TAILQ_INSERT_TAIL(&f->active, r, entry);
	f->count++;
	log_debug("%s: %s %s started", __func__, r->method, r->url);
	return r;
}

/* Moves a finished request to the done list. */
static void
fetch_req_done(struct fetch_req *r)
{
	struct fetch *f = r->f;

	TAILQ_REMOVE(&f->active, r, entry);
	r->state = FETCH_REQ_DONE;
	TAILQ_INSERT_TAIL(&f->done, r, entry);
}

/*
 * After a hop answered with a redirect: the next URL, checked against the
 * allow rules, and the method the next hop uses (303, and 301/302 after a
 * POST, turn into a GET without a body, as browsers and curl do). Returns
 * 1 when a new hop started, 0 when the request is finished (with errmsg
 * set when the redirect could not be followed).
 */
static int
fetch_req_redirect(struct fetch_req *r)
{
	struct orc_error err;
	char *next = NULL;

	if (!r->follow || r->result != CURLE_OK)
		return 0;
	if (r->status != 301 && r->status != 302 && r->status != 303 &&
	    r->status != 307 && r->status != 308)
		return 0;
	if (curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_URL, &next) !=
	    CURLE_OK || next == NULL)
		return 0;
	next = xstrdup(next);
	if (++r->hops > FETCH_MAX_REDIRECTS) {
		r->errmsg = xasprintf("more than %d redirects",
		    FETCH_MAX_REDIRECTS);
		free(next);
		return 0;
	}
	if (permit_url(r->allow, next, &err) != 0) {
		r->errmsg = xasprintf("redirect to %s refused: %s", next,
		    err.message);
		r->refused = 1;
		free(next);
		return 0;
	}
	if (r->status == 303 || ((r->status == 301 || r->status == 302) &&
	    strcmp(r->method, "POST") == 0)) {
		if (strcmp(r->method, "HEAD") != 0) {
			free(r->method);
			r->method = xstrdup("GET");
		}
		free(r->body);
		r->body = NULL;
		r->body_len = 0;
		r->has_body = 0;
	}
	log_debug("%s: %s %s -> %ld -> %s", __func__, r->method, r->url,
	    r->status, next);
	/* Credentials are for the host they were meant for only. */
	if (r->userpwd != NULL) {
		explicit_bzero(r->userpwd, strlen(r->userpwd));
		free(r->userpwd);
		r->userpwd = NULL;
	}
	free(r->url);
	r->url = next;

	fetch_req_detach(r);
	if (fetch_req_launch(r, &err) != 0) {
		r->errmsg = xstrdup(err.message);
		return 0;
	}
	return 1;
}

/* Calls back the finished requests, one at a time, until none is left or
 * a callback freed the client. */
static void
fetch_dispatch(struct fetch *f)
{
	struct fetch_response resp;
	struct fetch_req *r;
	char *timeout = NULL;

	if (f->dispatching)
		return;
	f->dispatching = 1;
	while (!f->dying && (r = TAILQ_FIRST(&f->done)) != NULL) {
		TAILQ_REMOVE(&f->done, r, entry);
		f->count--;

		memset(&resp, 0, sizeof resp);
		resp.status = r->status;
		resp.headers = r->rheaders;
		resp.body = r->rbody.s != NULL ? r->rbody.s : "";
		resp.body_len = r->rbody.len;
		resp.duration_ms = orc_mono_ms() - r->start_ms;
		resp.reason = r->reason != NULL ? r->reason : "";
		resp.url = r->url;
		resp.refused = r->refused;
		resp.too_large = r->too_large;
		if (r->errmsg != NULL)
			resp.error = r->errmsg;
		else if (r->result == CURLE_OPERATION_TIMEDOUT) {
			resp.timed_out = 1;
			timeout = xasprintf("no complete answer within %lld ms",
			    (long long)r->timeout_ms);
			resp.error = timeout;
		} else if (r->result != CURLE_OK)
			resp.error = r->errbuf[0] != '\0' ? r->errbuf :
			    curl_easy_strerror(r->result);
		log_debug("%s: %s %s: %ld%s%s", __func__, r->method, r->url,
		    r->status, resp.error != NULL ? ": " : "",
		    resp.error != NULL ? resp.error : "");

		r->cb(&resp, r->arg);
		free(timeout);
		timeout = NULL;
		fetch_req_free(r);
	}
	f->dispatching = 0;
	if (f->dying)
		fetch_destroy(f);
}

/* Collects the transfers curl finished, follows redirects, and calls
 * back the rest. */
static void
fetch_check(struct fetch *f)
{
	struct fetch_req *r;
	CURLMsg *msg;
	char *priv;
	int left;

	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		r = (struct fetch_req *)priv;
		r->result = msg->data.result;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
		if (r->over || r->result == CURLE_FILESIZE_EXCEEDED) {
			r->too_large = 1;
			r->errmsg = xasprintf("response over %zu bytes",
			    r->max);
		} else if (r->over_all)
			r->errmsg = xasprintf("the answers being received "
			    "hold over %zu bytes (ORCH_FETCH_BUFFER_BYTES): "
			    "try again later", r->f->buffer_max);
		if (fetch_req_redirect(r))
			continue;
		fetch_req_detach(r);
		fetch_req_done(r);
	}
	fetch_dispatch(f);
}
