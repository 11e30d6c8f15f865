/*
 * Curl's side of the HTTP client: libcurl's multi interface driven by
 * libevent, the "multi_socket" pattern. Curl tells us which sockets to
 * watch (fetch_socket_cb) and when it next needs a timeout
 * (fetch_timer_set_cb); libevent tells curl when a socket is ready or the
 * timer fired (curl_multi_socket_action), and completed transfers are
 * collected with curl_multi_info_read. The multi handle keeps a
 * connection cache, so requests to the same host reuse keep-alive
 * connections.
 *
 * Everything here runs on one loop, cbase: the fetch thread's, or the
 * caller's own loop without it (fetch-internal.h). Redirects are followed
 * here rather than by curl, so that every hop is checked against the
 * workflow's allow rules before anything connects to it; finished
 * requests go to fetch_finished(), which hands them to the loop.
 */
#include "config.h"

#include <sys/resource.h>

#include <ctype.h>
#include <string.h>

#include <event2/event.h>

#include "fetch-internal.h"
#include "hmap.h"
#include "log.h"
#include "permit.h"

#define FETCH_MAX_REDIRECTS	10
/* Connections kept open for reuse, over all hosts: a quarter of the
 * descriptors this process may open, within these bounds. */
#define FETCH_MIN_CONNS		256L
#define FETCH_MAX_CONNS		8192L

static void	fetch_check(struct fetch *);

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
		if ((ev = event_new(f->cbase, s, kind, fetch_event_cb, f)) ==
		    NULL)
			fatal("%s: out of memory", __func__);
		curl_multi_assign(f->multi, s, ev);
	} else {
		/* Re-arming with new interests needs a deleted event. */
		event_del(ev);
		event_assign(ev, f->cbase, s, kind, fetch_event_cb, f);
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

/*
 * How many connections curl keeps. Curl counts the connections in use
 * too: when more requests are in flight than it may keep, each one that
 * finishes closes its connection and the next request opens one again
 * (under load: a new connection per request). So the cache is sized by
 * the descriptors the process may have, leaving most to the webhooks.
 */
static long
fetch_max_conns(void)
{
	struct rlimit rl;
	long n;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return FETCH_MAX_CONNS;
	n = (long)(rl.rlim_cur / 4);
	return n < FETCH_MIN_CONNS ? FETCH_MIN_CONNS :
	    n > FETCH_MAX_CONNS ? FETCH_MAX_CONNS : n;
}

/* Makes the multi handle on f->cbase. */
void
fetch_curl_open(struct fetch *f)
{
	TAILQ_INIT(&f->active);
	if ((f->multi = curl_multi_init()) == NULL ||
	    (f->timer = evtimer_new(f->cbase, fetch_timer_cb, f)) == NULL)
		fatal("%s: out of memory", __func__);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, fetch_socket_cb);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION,
	    fetch_timer_set_cb);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	/* Curl's default cache holds 4 connections per transfer in flight
	 * at the moment it looks: a dip in load closes connections that
	 * the next burst must open again. */
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, fetch_max_conns());
}

/* Frees the multi handle and the idle easy handles; nothing is active. */
void
fetch_curl_close(struct fetch *f)
{
	while (f->nidle > 0)
		curl_easy_cleanup(f->idle[--f->nidle]);
	curl_multi_cleanup(f->multi);
	event_free(f->timer);
}

/* Frees a request's answer body and gives its bytes back to the cap. */
void
fetch_req_drop_body(struct fetch_req *r)
{
	__atomic_sub_fetch(&r->f->acct->buffered, r->rbody.len,
	    __ATOMIC_RELAXED);
	strbuf_free(&r->rbody);
}

/* Takes a request's easy handle out of curl, which keeps the connection
 * in its cache for the next request to the same host. */
void
fetch_curl_detach(struct fetch_req *r)
{
	struct fetch *f = r->f;

	if (r->in_curl) {
		TAILQ_REMOVE(&f->active, r, aentry);
		r->in_curl = 0;
	}
	if (r->easy == NULL)
		return;
	curl_multi_remove_handle(f->multi, r->easy);
	/* Reset drops every option (credentials too) and keeps buffers. */
	if (f->nidle < FETCH_IDLE_MAX) {
		curl_easy_reset(r->easy);
		f->idle[f->nidle++] = r->easy;
	} else
		curl_easy_cleanup(r->easy);
	r->easy = NULL;
}

/* Keeps body bytes up to the caps; past one, stops the transfer. */
static size_t
fetch_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct fetch_req *r = arg;
	size_t held;

	if (r->rbody.len + size * n > r->max) {
		r->over = 1;
		return 0;
	}
	/* The loop gives bytes back as it frees answers: an estimate a
	 * little high at worst, never a byte lost. */
	held = __atomic_load_n(&r->f->acct->buffered, __ATOMIC_RELAXED);
	if (held + size * n > r->f->acct->buffer_max) {
		r->over_all = 1;
		return 0;
	}
	strbuf_add(&r->rbody, data, size * n);
	__atomic_add_fetch(&r->f->acct->buffered, size * n,
	    __ATOMIC_RELAXED);
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

/* A status line starts a new set of headers: keeps its phrase. */
static void
fetch_status_line(struct fetch_req *r, const char *line, size_t len)
{
	const char *value;
	size_t vlen, i;

	json_object_clear(r->rheaders);
	fetch_req_end_joins(r, 0);
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
}

/* Sets one joined header into the answer's headers, and frees it. */
static void
fetch_join_cb(const char *name, void *value, void *arg)
{
	struct fetch_req *r = arg;
	struct strbuf *sb = value;
	json_t *v;

	if (r != NULL && (v = json_stringn(sb->s, sb->len)) != NULL)
		json_object_set_new(r->rheaders, name, v);
	strbuf_free(sb);
	free(sb);
}

/* Ends the joining of repeated headers; see fetch-internal.h. */
void
fetch_req_end_joins(struct fetch_req *r, int keep)
{
	if (r->rjoin == NULL)
		return;
	hmap_each(r->rjoin, fetch_join_cb, keep ? r : NULL);
	hmap_free(r->rjoin);
	r->rjoin = NULL;
}

/*
 * A header seen before: its values gather in a buffer, joined with ", ",
 * set once the answer is complete. Setting the joined value at each
 * repeat copied (and checked as UTF-8) all the values before it:
 * quadratic, 1.5 s of this thread for 30,000 repeats.
 */
static void
fetch_header_repeat(struct fetch_req *r, const char *name, const json_t *old,
    const char *value, size_t vlen)
{
	struct strbuf *sb;
	json_t *v;

	/* Bytes that are not UTF-8 cannot be JSON: that value is left out
	 * rather than mangled. */
	if ((v = json_stringn(value, vlen)) == NULL)
		return;
	json_decref(v);
	if (r->rjoin == NULL)
		r->rjoin = hmap_create();
	if ((sb = hmap_get(r->rjoin, name)) == NULL) {
		sb = xcalloc(1, sizeof *sb);
		strbuf_add(sb, json_string_value(old), json_string_length(old));
		hmap_set(r->rjoin, name, sb);
	}
	strbuf_add(sb, ", ", 2);
	strbuf_add(sb, value, vlen);
}

/* Collects one header line: a status line starts a new set (each
 * response of a chain), others go in lower case, repeats joined. */
static size_t
fetch_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct fetch_req *r = arg;
	const char *line = data, *colon, *value;
	size_t len = size * n, vlen, i;
	char *name;
	json_t *old, *v;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		fetch_status_line(r, line, len);
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
	if ((old = json_object_get(r->rheaders, name)) != NULL)
		fetch_header_repeat(r, name, old, value, vlen);
	else if ((v = json_stringn(value, vlen)) != NULL)
		json_object_set_new(r->rheaders, name, v);
	free(name);
	return len;
}

/* Sets the method and the body of a request on its easy handle. */
static void
fetch_curl_method(struct fetch_req *r, CURL *e)
{
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
}

/* Hands a request to curl; see fetch-internal.h. */
int
fetch_curl_launch(struct fetch_req *r, struct orc_error *err)
{
	struct fetch *f = r->f;
	CURL *e;
	int64_t left;
	CURLMcode mrc;
	char *shown;

	if (f->nidle > 0)
		e = f->idle[--f->nidle];
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
	fetch_req_end_joins(r, 0);
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
	fetch_curl_method(r, e);

	if ((mrc = curl_multi_add_handle(f->multi, e)) != CURLM_OK) {
		shown = orc_url_redact(r->url);
		orc_error_set(err, ORC_EIO, "%s %s: %s", r->method, shown,
		    curl_multi_strerror(mrc));
		free(shown);
		curl_easy_cleanup(e);
		r->easy = NULL;
		return -1;
	}
	TAILQ_INSERT_TAIL(&f->active, r, aentry);
	r->in_curl = 1;
	return 0;
}

/* The next hop's method: 303, and 301/302 after a POST, turn into a GET
 * without a body, as browsers and curl do. */
static void
fetch_redirect_method(struct fetch_req *r)
{
	if (r->status != 303 && ((r->status != 301 && r->status != 302) ||
	    strcmp(r->method, "POST") != 0))
		return;
	if (strcmp(r->method, "HEAD") != 0) {
		free(r->method);
		r->method = xstrdup("GET");
	}
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	r->has_body = 0;
}

/*
 * After a hop answered with a redirect: the next URL, checked against the
 * allow rules, with the method fetch_redirect_method gives. Returns 1
 * when a new hop started, 0 when the request is finished (with errmsg set
 * when the redirect could not be followed).
 */
static int
fetch_req_redirect(struct fetch_req *r)
{
	struct orc_error err;
	char *next = NULL, *shown;

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
		shown = orc_url_redact(next);
		r->errmsg = xasprintf("redirect to %s refused: %s", shown,
		    err.message);
		free(shown);
		r->refused = 1;
		free(next);
		return 0;
	}
	fetch_redirect_method(r);
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

	fetch_curl_detach(r);
	if (fetch_curl_launch(r, &err) != 0) {
		r->errmsg = xstrdup(err.message);
		return 0;
	}
	return 1;
}

/* Notes how a transfer ended: its status and our errors over curl's. */
static void
fetch_req_result(struct fetch_req *r, CURLcode result)
{
	r->result = result;
	fetch_req_end_joins(r, 1);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->over || r->result == CURLE_FILESIZE_EXCEEDED) {
		r->too_large = 1;
		r->errmsg = xasprintf("response over %zu bytes", r->max);
	} else if (r->over_all)
		r->errmsg = xasprintf("the answers being received hold over "
		    "%zu bytes (ORCH_FETCH_BUFFER_BYTES): try again later",
		    r->f->acct->buffer_max);
}

/* Collects the transfers curl finished, follows redirects, and hands the
 * rest to the loop. */
static void
fetch_check(struct fetch *f)
{
	struct fetch_req_list fin;
	struct fetch_req *r;
	CURLMsg *msg;
	char *priv;
	int left;

	TAILQ_INIT(&fin);
	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		r = (struct fetch_req *)priv;
		fetch_req_result(r, msg->data.result);
		if (fetch_req_redirect(r))
			continue;
		/* Off the active list, so aentry is free: entry may still
		 * be the loop's (a cancelled request is on its cancels). */
		fetch_curl_detach(r);
		TAILQ_INSERT_TAIL(&fin, r, aentry);
	}
	if (!TAILQ_EMPTY(&fin))
		fetch_finished(f, &fin);
}
