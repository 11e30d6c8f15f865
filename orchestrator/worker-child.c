/*
 * A worker process: the other end of worker.c. The daemon starts it as
 * "orchestrator __worker" with its channel on descriptor 3 and a shared
 * page on descriptor 4; it maps the page, enters the sandbox (sandbox.c),
 * says hello and then serves calls until the channel closes. Each call
 * runs in script.c with this file as its host: ctx.fetch and ctx.log
 * become messages to the daemon, a script's text is asked of the daemon
 * (the sandbox opens no file), and secrets come with the call. Many calls
 * may be open at once, each waiting for its fetch; one runs at a time,
 * and the shared page says which, so that the daemon knows whom a kill
 * stops. Messages out are gathered and written when there is nothing more
 * to read, so a busy worker answers many calls with one write.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch.h"
#include "hmap.h"
#include "orchestrator.h"
#include "sandbox.h"
#include "script.h"
#include "strbuf.h"
#include "worker.h"
#include "wmsg.h"

/* One call: the frame its job's strings point into, and the run. */
struct wchild_call {
	uint32_t		 id;
	char			*frame;
	struct script_job	 job;
	json_t			*input, *secrets;
	json_t			*ctx[2];	/* trigger, steps: once asked */
	int			 have[2];
	struct script_ident	 ident;
	struct script_exec	*ex;
	struct wchild		*w;
	char			 key[16];
};

struct wchild {
	int			 fd;
	volatile uint32_t	*current;	/* the shared page */
	struct strbuf		 in;		/* read, not yet handled */
	size_t			 in_off;
	struct strbuf		 out;		/* to write */
	struct hmap		*calls;
	struct wchild_call	*running;
};

static const struct script_host wchild_host;

/* Writes what is gathered; the daemon reads all the time. */
static void
wchild_flush(struct wchild *w)
{
	size_t off = 0;
	ssize_t n;

	while (off < w->out.len) {
		n = write(w->fd, w->out.s + off, w->out.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);	/* the daemon is gone */
		off += (size_t)n;
	}
	strbuf_cut(&w->out, 0);
}

/* Reads more from the channel; exits when it closes. */
static void
wchild_read(struct wchild *w)
{
	char buf[65536];
	ssize_t n;

	if (w->in_off > 0 && w->in_off == w->in.len) {
		strbuf_cut(&w->in, 0);
		w->in_off = 0;
	}
	do
		n = read(w->fd, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		_exit(0);	/* skips sanitizers' exit work, refused here */
	strbuf_add(&w->in, buf, (size_t)n);
}

/* The next whole frame read, or NULL; *len its length. */
static const char *
wchild_next_frame(struct wchild *w, size_t *len)
{
	const char *p = w->in.s + w->in_off;
	int r;

	if (w->in.s == NULL)
		return NULL;
	r = wmsg_frame(p, w->in.len - w->in_off, len);
	if (r < 0)
		_exit(3);
	if (r == 0)
		return NULL;
	w->in_off += *len;
	return p;
}

/* Marks the call that runs now in the shared page. */
static void
wchild_running(struct wchild *w, struct wchild_call *c)
{
	w->running = c;
	*w->current = c != NULL ? c->id : 0;
}

/* Frees a call. */
static void
wchild_call_free(struct wchild_call *c)
{
	hmap_remove(c->w->calls, c->key);
	json_decref(c->input);
	json_decref(c->ctx[0]);
	json_decref(c->ctx[1]);
	json_decref(c->secrets);
	free(c->frame);
	free(c);
}

/* script_host.fetch: asks the daemon, which checks allow. */
static int
wchild_fetch(void *arg, struct script_exec *ex, const struct fetch_request *rq,
    struct orc_error *err)
{
	struct wchild_call *c = arg;
	struct strbuf *b = &c->w->out;
	size_t start, n;

	start = wmsg_begin(b, WMSG_FETCH, c->id);
	wmsg_put_str(b, rq->method);
	wmsg_put_str(b, rq->url);
	wmsg_put(b, rq->body, rq->body_len);
	wmsg_put_int(b, rq->timeout_ms);
	for (n = 0; rq->headers != NULL && rq->headers[n] != NULL; n++)
		;
	wmsg_put_int(b, (int64_t)n);
	for (n = 0; rq->headers != NULL && rq->headers[n] != NULL; n++)
		wmsg_put_str(b, rq->headers[n]);
	wmsg_end(b, start);
	return 0;
}

/* script_host.fetch_cancel: the daemon drops it with the call. */
static void
wchild_fetch_cancel(void *arg)
{
}

/* script_host.log: one line to the daemon. */
static void
wchild_log(void *arg, int level, const char *msg, size_t len)
{
	struct wchild_call *c = arg;
	struct strbuf *b = &c->w->out;
	size_t start;

	start = wmsg_begin(b, WMSG_LOG, c->id);
	wmsg_put_int(b, level);
	wmsg_put(b, msg, len);
	wmsg_end(b, start);
}

/* script_host.secret: from the values the call brought. */
static int
wchild_secret(void *arg, const char *name, const char **value)
{
	struct wchild_call *c = arg;
	const json_t *v = json_object_get(c->secrets, name);

	if (v == NULL)
		return -1;
	*value = json_string_value(v);
	return 0;
}

/* Waits for the daemon's answer (type) to a question of call id, keeping
 * the frames that come before it for later. */
static const char *
wchild_wait(struct wchild *w, int type, uint32_t id, size_t *len,
    char **copy)
{
	struct strbuf keep = STRBUF_INIT;
	const char *f;
	uint32_t fid;

	for (;;) {
		while ((f = wchild_next_frame(w, len)) != NULL) {
			memcpy(&fid, f + 5, sizeof fid);
			if ((unsigned char)f[4] == type && fid == id) {
				*copy = xmalloc(*len);
				memcpy(*copy, f, *len);
				break;
			}
			strbuf_add(&keep, f, *len);
		}
		if (f != NULL)
			break;
		wchild_read(w);
	}
	/* What came before the answer is handled next, in its order. */
	if (keep.len > 0) {
		strbuf_add(&keep, w->in.s + w->in_off, w->in.len - w->in_off);
		strbuf_free(&w->in);
		w->in = keep;
		w->in_off = 0;
	}
	return *copy;
}

/* script_host.source: the known identity of the main script needs no
 * question; anything else is asked of the daemon and waited for. */
static int
wchild_source(void *arg, const char *name, const struct script_ident *have,
    char **text, size_t *len, struct script_ident *got,
    struct orc_error *err)
{
	struct wchild_call *c = arg;
	struct wchild *w = c->w;
	struct strbuf *b = &w->out;
	struct wmsg_in in;
	const char *f, *p;
	char *copy = NULL;
	uint32_t id;
	size_t flen, start, plen;
	int type, status;

	if (have != NULL && strcmp(name, c->job.script) == 0 &&
	    memcmp(have, &c->ident, sizeof *have) == 0)
		return 0;
	start = wmsg_begin(b, WMSG_SOURCE, c->id);
	wmsg_put_str(b, name);
	wmsg_put(b, have, have != NULL ? sizeof *have : 0);
	wmsg_end(b, start);
	wchild_flush(w);
	f = wchild_wait(w, WMSG_SOURCE_R, c->id, &flen, &copy);
	wmsg_open(&in, f, flen, &type, &id);
	status = (int)wmsg_get_int(&in);
	p = wmsg_get(&in, &plen);
	if (status < 0) {
		orc_error_set(err, ORC_EIO, "%s", p != NULL ? p : "no source");
	} else if (status > 0) {
		*text = xmalloc(plen + 1);
		memcpy(*text, p != NULL ? p : "", plen + 1);
		*len = plen;
		p = wmsg_get(&in, &plen);
		if (p == NULL || plen != sizeof *got) {
			free(*text);
			free(copy);
			orc_error_set(err, ORC_EIO, "bad source answer");
			return -1;
		}
		memcpy(got, p, sizeof *got);
	}
	free(copy);
	return in.bad ? -1 : status;
}

/* script_host.ctx_value: asked of the daemon the first time. */
static const json_t *
wchild_ctx_value(void *arg, int which)
{
	struct wchild_call *c = arg;
	struct wchild *w = c->w;
	struct wmsg_in in;
	const char *f;
	char *copy = NULL;
	uint32_t id;
	size_t flen, start;
	int type;

	if (c->have[which])
		return c->ctx[which];
	start = wmsg_begin(&w->out, WMSG_CTX, c->id);
	wmsg_put_int(&w->out, which);
	wmsg_end(&w->out, start);
	wchild_flush(w);
	f = wchild_wait(w, WMSG_CTX_R, c->id, &flen, &copy);
	wmsg_open(&in, f, flen, &type, &id);
	c->ctx[which] = wmsg_get_json(&in);
	c->have[which] = 1;
	free(copy);
	return c->ctx[which];
}

/* script_host.done: the result to the daemon; the call is over. */
static void
wchild_done(void *arg, int ok, json_t *output, const char *next, int retryable,
    const char *message)
{
	struct wchild_call *c = arg;
	struct strbuf *b = &c->w->out;
	size_t start;

	start = wmsg_begin(b, WMSG_DONE, c->id);
	wmsg_put_int(b, ok);
	wmsg_put_json(b, ok ? output : NULL);
	wmsg_put_str(b, next);
	wmsg_put_int(b, retryable);
	wmsg_put_str(b, message);
	wmsg_end(b, start);
	json_decref(output);
	c->ex = NULL;
	wchild_call_free(c);
}

static const struct script_host wchild_host = {
	.fetch = wchild_fetch,
	.fetch_cancel = wchild_fetch_cancel,
	.log = wchild_log,
	.secret = wchild_secret,
	.source = wchild_source,
	.ctx_value = wchild_ctx_value,
	.done = wchild_done
};

/* Reads a call's fields into its job; -1 when the frame is malformed. */
static int
wchild_job(struct wchild_call *c, struct wmsg_in *in)
{
	struct script_job *j = &c->job;
	const char *id;
	size_t len;

	j->dir = wmsg_get(in, &len);
	j->script = wmsg_get(in, &len);
	j->workflow = wmsg_get(in, &len);
	j->run_id = wmsg_get(in, &len);
	j->step = wmsg_get(in, &len);
	j->attempt = (int)wmsg_get_int(in);
	j->timeout_ms = wmsg_get_int(in);
	j->instructions = wmsg_get_int(in);
	j->memory_mb = (size_t)wmsg_get_int(in);
	id = wmsg_get(in, &len);
	if (id != NULL && len == sizeof c->ident)
		memcpy(&c->ident, id, sizeof c->ident);
	c->input = wmsg_get_json(in);
	c->secrets = wmsg_get_json(in);
	j->input = c->input;
	return in->bad || j->script == NULL ? -1 : 0;
}

/* A call: starts its script. */
static void
wchild_call(struct wchild *w, const char *f, size_t len, uint32_t id)
{
	struct wchild_call *c = xcalloc(1, sizeof *c);
	struct script_exec *ex;
	struct wmsg_in in;
	uint32_t fid;
	int type;

	c->id = id;
	c->w = w;
	c->frame = xmalloc(len);
	memcpy(c->frame, f, len);
	snprintf(c->key, sizeof c->key, "%u", id);
	hmap_set(w->calls, c->key, c);
	wmsg_open(&in, c->frame, len, &type, &fid);
	if (wchild_job(c, &in) != 0) {
		wchild_done(c, 0, NULL, NULL, 0, "the worker got a malformed "
		    "call");
		return;
	}
	wchild_running(w, c);
	/* NULL: it ended already, and c with it. */
	if ((ex = script_run(&c->job, &wchild_host, c)) != NULL)
		c->ex = ex;
	wchild_running(w, NULL);
}

/* A fetch's answer: resumes its call. */
static void
wchild_fetched(struct wchild_call *c, struct wmsg_in *in)
{
	struct fetch_response resp;
	struct wchild *w;
	json_t *headers;
	size_t len;

	memset(&resp, 0, sizeof resp);
	resp.status = (long)wmsg_get_int(in);
	resp.timed_out = (int)wmsg_get_int(in);
	resp.refused = (int)wmsg_get_int(in);
	resp.duration_ms = wmsg_get_int(in);
	resp.error = wmsg_get(in, &len);
	headers = wmsg_get_json(in);
	resp.headers = headers;
	resp.body = wmsg_get(in, &resp.body_len);
	if (in->bad) {
		resp.status = 0;
		resp.error = "malformed answer";
	}
	w = c->w;
	wchild_running(w, c);
	script_fetch_done(c->ex, &resp);	/* may end and free c */
	wchild_running(w, NULL);
	json_decref(headers);
}

/* Handles one frame from the daemon. */
static void
wchild_handle(struct wchild *w, const char *f, size_t len)
{
	struct wchild_call *c;
	struct wmsg_in in;
	char key[16];
	uint32_t id;
	int type;

	wmsg_open(&in, f, len, &type, &id);
	if (type == WMSG_CALL) {
		wchild_call(w, f, len, id);
		return;
	}
	snprintf(key, sizeof key, "%u", id);
	if ((c = hmap_get(w->calls, key)) == NULL || c->ex == NULL)
		return;		/* ended while the message was on its way */
	if (type == WMSG_FETCHED)
		wchild_fetched(c, &in);
	else if (type == WMSG_CANCEL) {
		/* Every call ends with one DONE: the daemon waits for it. */
		script_cancel(c->ex);
		c->ex = NULL;
		wchild_done(c, 0, NULL, NULL, 0, "cancelled");
	}
}

/* The worker's main: serves calls until the channel closes. */
int
worker_child_main(int fd, int shm_fd, const struct sandbox_limits *sl)
{
	struct wchild w;
	struct orc_error err;
	const char *what, *f;
	size_t len, start;
	void *page;

	memset(&w, 0, sizeof w);
	w.fd = fd;
	page = mmap(NULL, WORKER_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    shm_fd, 0);
	if (page == MAP_FAILED) {
		fprintf(stderr, "orchestrator worker: mmap: %s\n",
		    strerror(errno));
		return 1;
	}
	close(shm_fd);
	w.current = page;
	if (sandbox_enter(fd, sl, &what, &err) != 0) {
		fprintf(stderr, "orchestrator worker: %s\n", err.message);
		return 1;
	}
	w.calls = hmap_create();
	start = wmsg_begin(&w.out, WMSG_HELLO, 0);
	wmsg_put_int(&w.out, (int64_t)getpid());
	wmsg_put_str(&w.out, what);
	wmsg_end(&w.out, start);
	for (;;) {
		wchild_flush(&w);
		wchild_read(&w);
		while ((f = wchild_next_frame(&w, &len)) != NULL)
			wchild_handle(&w, f, len);
	}
}
