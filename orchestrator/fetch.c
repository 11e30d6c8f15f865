/*
 * HTTP requests for the event loop: the loop's side of the client. A
 * request is checked and copied here (fetch_start), handed to curl's side
 * (fetch-curl.c), and its callback runs here, from the loop, after curl
 * has returned, so a callback may start, cancel or free anything,
 * including the whole client.
 *
 * Curl's side runs on a thread of its own with its own event loop: at
 * full load curl (headers, sockets, its timers, the kernel's loopback
 * sends) took about a third of the loop's thread, which the engine, the
 * webhooks and Lua need. The sides meet in three locked lists: the inbox
 * (requests to start), the cancels (requests the loop gave up while curl
 * had them) and the outbox (requests finished); each side wakes the other
 * through an eventfd, one write per batch (loop.h). ORCH_FETCH_THREAD=0 keeps
 * curl on the loop's thread: no lists, no lock, the same behaviour.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "fetch-internal.h"
#include "log.h"
#include "permit.h"

#define FETCH_TIMEOUT_MS	30000
#define FETCH_MAX_RESPONSE	(16 * 1024 * 1024)
/* All the answers being received at once hold at most this much (see
 * ORCH_FETCH_BUFFER_BYTES); a request that would pass it fails, worth a
 * retry. */
#define FETCH_BUFFER_DEFAULT	((size_t)256 * 1024 * 1024)

static pthread_once_t	fetch_once = PTHREAD_ONCE_INIT;
static CURLcode		fetch_init_rc;

static void	fetch_dispatch(struct fetch *);

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

/* Frees a request that is on no list but, maybe, curl's active one. */
static void
fetch_req_free(struct fetch_req *r)
{
	fetch_curl_detach(r);
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
	fetch_req_end_joins(r, 0);
	json_decref(r->rheaders);
	fetch_req_drop_body(r);
	free(r->errmsg);
	free(r);
}

/* Frees every request of a list linked through entry. */
static void
fetch_req_free_list(struct fetch_req_list *list)
{
	struct fetch_req *r;

	while ((r = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, r, entry);
		fetch_req_free(r);
	}
}

static void
fetch_lock(struct fetch *f)
{
	pthread_mutex_lock(&f->lock);
}

static void
fetch_unlock(struct fetch *f)
{
	pthread_mutex_unlock(&f->lock);
}

/* Curl's side, woken by the loop: frees what was cancelled, launches
 * what was queued, stops when asked. */
static void
fetch_curl_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	struct fetch_req_list in, cancels, fin;
	struct fetch_req *r;
	struct orc_error err;
	int stop;

	TAILQ_INIT(&in);
	TAILQ_INIT(&cancels);
	TAILQ_INIT(&fin);
	loop_wake_drain(&f->to_curl);
	fetch_lock(f);
	/* Relinked through aentry: once active, a request's entry is the
	 * loop's to put on the cancels, lock held, at any time. */
	while ((r = TAILQ_FIRST(&f->inbox)) != NULL) {
		TAILQ_REMOVE(&f->inbox, r, entry);
		r->state = FETCH_REQ_ACTIVE;
		TAILQ_INSERT_TAIL(&in, r, aentry);
	}
	TAILQ_CONCAT(&cancels, &f->cancels, entry);
	f->to_curl.pending = 0;
	stop = f->stop;
	fetch_unlock(f);

	/* Cancelled requests are this side's alone. */
	fetch_req_free_list(&cancels);
	while ((r = TAILQ_FIRST(&in)) != NULL) {
		TAILQ_REMOVE(&in, r, aentry);
		if (fetch_curl_launch(r, &err) != 0) {
			r->errmsg = xstrdup(err.message);
			TAILQ_INSERT_TAIL(&fin, r, aentry);
		}
	}
	if (!TAILQ_EMPTY(&fin))
		fetch_finished(f, &fin);
	if (stop)
		event_base_loopbreak(f->cbase);
}

/* The loop, woken by curl's side: calls back what finished. */
static void
fetch_loop_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	struct fetch_req *r;

	loop_wake_drain(&f->to_loop);
	fetch_lock(f);
	TAILQ_FOREACH(r, &f->outbox, entry)
		r->state = FETCH_REQ_DONE;
	TAILQ_CONCAT(&f->done, &f->outbox, entry);
	f->to_loop.pending = 0;
	fetch_unlock(f);
	fetch_dispatch(f);
}

/* Hands finished requests to the loop; see fetch-internal.h. On curl's
 * thread, a request the loop cancelled meanwhile stays on the cancels,
 * which free it. */
void
fetch_finished(struct fetch *f, struct fetch_req_list *fin)
{
	struct fetch_req *r;

	if (!f->threaded) {
		while ((r = TAILQ_FIRST(fin)) != NULL) {
			TAILQ_REMOVE(fin, r, aentry);
			r->state = FETCH_REQ_DONE;
			TAILQ_INSERT_TAIL(&f->done, r, entry);
		}
		fetch_dispatch(f);
		return;
	}
	fetch_lock(f);
	while ((r = TAILQ_FIRST(fin)) != NULL) {
		TAILQ_REMOVE(fin, r, aentry);
		if (r->state == FETCH_REQ_CANCELLED)
			continue;
		r->state = FETCH_REQ_FINISHED;
		TAILQ_INSERT_TAIL(&f->outbox, r, entry);
		loop_wake_signal(&f->to_loop);
	}
	fetch_unlock(f);
}

/* The loop's turn is through starting requests: one wake for all of
 * them, not one (and a switch to curl's thread) per request. */
static void
fetch_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;

	fetch_lock(f);
	if (!TAILQ_EMPTY(&f->inbox) || !TAILQ_EMPTY(&f->cancels))
		loop_wake_signal(&f->to_curl);
	fetch_unlock(f);
}

/* Curl's thread: its loop, until fetch_destroy stops it. */
static void *
fetch_thread_main(void *arg)
{
	struct fetch *f = arg;

	orc_thread_name("orc-fetch");

	event_base_dispatch(f->cbase);
	return NULL;
}

/* Starts curl's thread, its loop, and the eventfds between the sides. */
static void
fetch_thread_open(struct fetch *f)
{
	int e;

	if (pthread_mutex_init(&f->lock, NULL) != 0)
		fatal("%s: cannot set up the HTTP client's lock", __func__);
	loop_wake_open(&f->to_curl, "the HTTP client");
	loop_wake_open(&f->to_loop, "the HTTP client");
	if ((f->cbase = loop_base_new()) == NULL)
		fatal("%s: cannot make the HTTP client's event loop",
		    __func__);
	f->curl_ev = event_new(f->cbase, loop_wake_fd(&f->to_curl),
	    EV_READ | EV_PERSIST, fetch_curl_wake_cb, f);
	f->loop_ev = event_new(f->base, loop_wake_fd(&f->to_loop),
	    EV_READ | EV_PERSIST, fetch_loop_wake_cb, f);
	f->kick_ev = event_new(f->base, -1, 0, fetch_kick_cb, f);
	if (f->curl_ev == NULL || f->loop_ev == NULL || f->kick_ev == NULL ||
	    event_add(f->curl_ev, NULL) != 0 ||
	    event_add(f->loop_ev, NULL) != 0)
		fatal("%s: cannot watch the HTTP client's eventfds", __func__);
	fetch_curl_open(f);
	if ((e = loop_thread_start(&f->thread, fetch_thread_main, f)) != 0)
		fatal("%s: cannot start the HTTP client's thread: %s",
		    __func__, strerror(e));
	f->threaded = 1;
}

/* With the thread: the client on the loop for requests while it is
 * idle (fetch-internal.h), counted against f's buffer cap. */
static void
fetch_near_open(struct fetch *f, const struct fetch_config *cfg)
{
	struct fetch_config nc;

	if (cfg != NULL && cfg->near_max < 0)
		return;
	memset(&nc, 0, sizeof nc);
	nc.no_thread = 1;
	f->near_max = cfg != NULL && cfg->near_max > 0 ? cfg->near_max :
	    FETCH_NEAR_DEFAULT;
	f->near = fetch_create(f->base, &nc);
	f->near->owner = f;
	f->near->acct = f;
}

/* Creates a client on base. */
struct fetch *
fetch_create(struct event_base *base, const struct fetch_config *cfg)
{
	struct fetch *f;
	struct orc_error err;

	if (fetch_global_init(&err) != 0)
		fatal("%s: %s", __func__, err.message);
	f = xcalloc(1, sizeof *f);
	f->base = base;
	f->acct = f;
	f->buffer_max = cfg != NULL && cfg->buffer_max > 0 ? cfg->buffer_max :
	    FETCH_BUFFER_DEFAULT;
	TAILQ_INIT(&f->done);
	TAILQ_INIT(&f->inbox);
	TAILQ_INIT(&f->cancels);
	TAILQ_INIT(&f->outbox);
	if (cfg == NULL || !cfg->no_thread) {
		fetch_thread_open(f);
		fetch_near_open(f, cfg);
	} else {
		f->cbase = base;
		fetch_curl_open(f);
	}
	return f;
}

/* Stops curl's thread and frees what only it used. */
static void
fetch_thread_close(struct fetch *f)
{
	fetch_lock(f);
	f->stop = 1;
	loop_wake_signal(&f->to_curl);
	fetch_unlock(f);
	pthread_join(f->thread, NULL);
	/* A cancelled request may also be on the active list: the free
	 * takes it off. */
	fetch_req_free_list(&f->cancels);
	fetch_req_free_list(&f->inbox);
	fetch_req_free_list(&f->outbox);
	event_free(f->curl_ev);
	event_free(f->loop_ev);
	event_free(f->kick_ev);
}

/* Frees everything; no callback runs any more. */
static void
fetch_destroy(struct fetch *f)
{
	/* First: its answers count against f's cap. */
	if (f->near != NULL)
		fetch_destroy(f->near);
	if (f->threaded)
		fetch_thread_close(f);
	fetch_req_free_list(&f->done);
	while (!TAILQ_EMPTY(&f->active))
		fetch_req_free(TAILQ_FIRST(&f->active));
	fetch_curl_close(f);
	if (f->threaded) {
		event_base_free(f->cbase);
		loop_wake_close(&f->to_curl);
		loop_wake_close(&f->to_loop);
		pthread_mutex_destroy(&f->lock);
	}
	free(f);
}

/* Cancels all requests and frees the client. Inside a callback (its
 * own or near's) the free waits until the dispatch loop unwinds. */
void
fetch_free(struct fetch *f)
{
	if (f == NULL)
		return;
	if (f->dispatching || (f->near != NULL && f->near->dispatching)) {
		f->dying = 1;
		if (f->near != NULL)
			f->near->dying = 1;
		return;
	}
	fetch_destroy(f);
}

/* Stops a request, with curl's thread: frees it unless curl has it, in
 * which case curl's side frees it. */
static void
fetch_cancel_threaded(struct fetch_req *r)
{
	struct fetch *f = r->f;

	fetch_lock(f);
	switch (r->state) {
	case FETCH_REQ_QUEUED:
		TAILQ_REMOVE(&f->inbox, r, entry);
		break;
	case FETCH_REQ_FINISHED:
		TAILQ_REMOVE(&f->outbox, r, entry);
		break;
	case FETCH_REQ_ACTIVE:
		r->state = FETCH_REQ_CANCELLED;
		TAILQ_INSERT_TAIL(&f->cancels, r, entry);
		fetch_unlock(f);
		loop_after_turn(f->kick_ev);
		return;
	case FETCH_REQ_DONE:
		TAILQ_REMOVE(&f->done, r, entry);
		break;
	case FETCH_REQ_CANCELLED:
		fatal("%s: a request cancelled twice", __func__);
	}
	fetch_unlock(f);
	fetch_req_free(r);
}

/* Stops a request; its callback is never called. */
void
fetch_cancel(struct fetch_req *r)
{
	if (r == NULL)
		return;
	r->f->count--;
	if (r->f->threaded) {
		fetch_cancel_threaded(r);
		return;
	}
	if (r->state == FETCH_REQ_DONE)
		TAILQ_REMOVE(&r->f->done, r, entry);
	fetch_req_free(r);
}

/* Requests started and not yet called back. */
size_t
fetch_active(const struct fetch *f)
{
	return f->count + (f->near != NULL ? f->near->count : 0);
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

/* Why a step may not send a header; see fetch.h. */
const char *
fetch_header_refused(const char *name, size_t len)
{
	if (len == 4 && strncasecmp(name, "host", 4) == 0)
		return "is refused: the host is the url's, which allow.hosts "
		    "checks";
	return NULL;
}

/* Copies the headers into r; -1 with err for one with a line break or
 * one a step may not send. */
static int
fetch_req_headers(struct fetch_req *r, const struct fetch_request *req,
    struct orc_error *err)
{
	const char *h, *why;
	int has_expect = 0;
	size_t i, n;

	for (i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		if (strpbrk(req->headers[i], "\r\n") != NULL) {
			orc_error_set(err, ORC_EINVAL, "header \"%.40s\" holds "
			    "a line break", req->headers[i]);
			return -1;
		}
		/* The name: before ':' (or curl's "Name;" for an empty
		 * value), spaces around it dropped. */
		for (h = req->headers[i]; *h == ' ' || *h == '\t'; h++)
			;
		n = strcspn(h, ":;");
		while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
			n--;
		if ((why = fetch_header_refused(h, n)) != NULL) {
			orc_error_set(err, ORC_EPERM, "header \"%.*s\" %s",
			    (int)n, h, why);
			return -1;
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
	return 0;
}

/* Copies the rest of what to send into r. */
static void
fetch_req_fill(struct fetch_req *r, const char *method,
    const struct fetch_request *req)
{
	size_t i;

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
}

/* Hands a new request to curl's side: queued for its thread, or
 * launched at once without one. */
static int
fetch_req_submit(struct fetch_req *r, struct orc_error *err)
{
	struct fetch *f = r->f;

	if (!f->threaded) {
		if (fetch_curl_launch(r, err) != 0)
			return -1;
		r->state = FETCH_REQ_ACTIVE;
		return 0;
	}
	fetch_lock(f);
	r->state = FETCH_REQ_QUEUED;
	TAILQ_INSERT_TAIL(&f->inbox, r, entry);
	fetch_unlock(f);
	loop_after_turn(f->kick_ev);
	return 0;
}

/* Starts a request; see fetch.h. */
struct fetch_req *
fetch_start(struct fetch *f, const struct fetch_request *req,
    fetch_done_cb cb, void *arg, struct orc_error *err)
{
	struct fetch_req *r;
	const char *method = req->method != NULL ? req->method : "GET";

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
	if (f->near != NULL && f->count == 0 && f->near->count < f->near_max)
		f = f->near;

	r = xcalloc(1, sizeof *r);
	r->f = f;
	r->cb = cb;
	r->arg = arg;
	if (fetch_req_headers(r, req, err) != 0) {
		fetch_req_free(r);
		return NULL;
	}
	fetch_req_fill(r, method, req);
	if (fetch_req_submit(r, err) != 0) {
		fetch_req_free(r);
		return NULL;
	}
	f->count++;
	log_debug("%s: %s %s started", __func__, r->method, r->url);
	return r;
}

/* The answer of a finished request, as its callback sees it; *timeout
 * holds the message to free for one that timed out. */
static void
fetch_req_response(struct fetch_req *r, struct fetch_response *resp,
    char **timeout)
{
	memset(resp, 0, sizeof *resp);
	resp->status = r->status;
	resp->headers = r->rheaders;
	resp->body = r->rbody.s != NULL ? r->rbody.s : "";
	resp->body_len = r->rbody.len;
	resp->duration_ms = orc_mono_ms() - r->start_ms;
	resp->reason = r->reason != NULL ? r->reason : "";
	resp->url = r->url;
	resp->refused = r->refused;
	resp->too_large = r->too_large;
	*timeout = NULL;
	if (r->errmsg != NULL)
		resp->error = r->errmsg;
	else if (r->result == CURLE_OPERATION_TIMEDOUT) {
		resp->timed_out = 1;
		*timeout = xasprintf("no complete answer within %lld ms",
		    (long long)r->timeout_ms);
		resp->error = *timeout;
	} else if (r->result != CURLE_OK)
		resp->error = r->errbuf[0] != '\0' ? r->errbuf :
		    curl_easy_strerror(r->result);
}

/* Calls back the finished requests, one at a time, until none is left or
 * a callback freed the client. */
static void
fetch_dispatch(struct fetch *f)
{
	struct fetch_response resp;
	struct fetch_req *r;
	char *timeout;

	if (f->dispatching)
		return;
	f->dispatching = 1;
	while (!f->dying && (r = TAILQ_FIRST(&f->done)) != NULL) {
		TAILQ_REMOVE(&f->done, r, entry);
		f->count--;
		fetch_req_response(r, &resp, &timeout);
		log_debug("%s: %s %s: %ld%s%s", __func__, r->method, r->url,
		    r->status, resp.error != NULL ? ": " : "",
		    resp.error != NULL ? resp.error : "");
		r->cb(&resp, r->arg);
		free(timeout);
		fetch_req_free(r);
	}
	f->dispatching = 0;
	if (f->dying)
		fetch_destroy(f->owner != NULL ? f->owner : f);
}
