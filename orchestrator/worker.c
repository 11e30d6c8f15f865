/*
 * The daemon's side of the worker processes (worker.h). Each worker is a
 * process started with posix_spawn, its channel a socket pair read and
 * written through a bufferevent, and a shared page where it writes the id
 * of the call it runs: when a call's time is up and the page still names
 * it, the worker is stuck inside that call, and SIGKILL is the only way
 * out. A call's frame is kept until it ends, so that the calls of a
 * worker that dies can be sent again to another.
 *
 * Dispatch sends a call to the live worker with the fewest runnable calls
 * (sent, not waiting for a fetch), up to WORKER_PIPELINE each: a busy
 * worker gets several calls per write and answers them with one. Past
 * that, calls wait in the pool's queue.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "fetch.h"
#include "hmap.h"
#include "log.h"
#include "permit.h"
#include "script.h"
#include "strbuf.h"
#include "trace.h"
#include "worker.h"
#include "wmsg.h"

#define WORKER_PIPELINE		8	/* runnable calls a worker holds */
#define WORKER_REQUEUES		2	/* times a call outlives its worker */
#define WORKER_BACKOFF_MIN_MS	100
#define WORKER_BACKOFF_MAX_MS	5000
#define WORKER_HEALTHY_MS	1000	/* lived this long: no back-off */

extern char **environ;

enum wcall_state {
	WCALL_QUEUED,		/* waits for a worker */
	WCALL_SENT,		/* on a worker, runnable */
	WCALL_FETCHING,		/* on a worker, waits for its fetch */
	WCALL_ORPHAN		/* cancelled, still on a worker */
};

struct worker;

struct worker_call {
	struct worker_pool	*pool;
	struct worker		*w;
	uint32_t		 id;
	char			 key[16];
	enum wcall_state	 state;
	struct strbuf		 frame;		/* the CALL, kept to resend */
	char			*dir, *script, *run_id, *step;
	char			 traceparent[TRACE_PARENT_LEN + 1]; /* or "" */
	json_t			*allow;
	json_t			*trigger, *steps;	/* asked for later */
	int64_t			 timeout_ms;
	int			 requeues;
	size_t			 log_lines;
	struct fetch_req	*req;
	struct event		*timer;		/* deadline */
	worker_done_cb		 done;
	worker_log_cb		 log;		/* or NULL */
	void			*arg;
	struct worker_call	*next, *prev;	/* queue, or worker's list */
};

struct worker {
	struct worker_pool	*pool;
	int			 slot;
	pid_t			 pid;
	struct bufferevent	*bev;
	volatile uint32_t	*page;
	int64_t			 started;	/* orc_mono_ms */
	int			 hello;
	int			 runnable;
	const char		*killed;	/* why we killed it, or NULL */
	struct worker_call	*calls;		/* on it, any state */
};

struct worker_pool {
	struct event_base	*base;
	struct fetch		*fetch;
	char			*exe;
	char			**envp;
	int			 n;
	struct worker		*workers[WORKER_MAX];
	struct event		*respawn[WORKER_MAX];
	int64_t			 backoff[WORKER_MAX];
	struct hmap		*calls;		/* by id */
	pid_t			*zombies;	/* killed, not reaped yet */
	size_t			 nzombies;
	struct event		*reaper;
	struct worker_call	*queue, *queue_tail;
	uint32_t		 next_id;
	struct worker_stats	 stats;
};

static void	worker_spawn(struct worker_pool *, int slot);
static void	worker_dispatch(struct worker_pool *);
static void	worker_lost(struct worker *, const char *why);

/* The default: one worker per core. */
int
worker_default_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > WORKER_MAX ? WORKER_MAX : (int)n;
}

/* Links c at the end of a list. */
static void
wcall_link(struct worker_call **head, struct worker_call **tail,
    struct worker_call *c)
{
	c->next = NULL;
	c->prev = tail != NULL ? *tail : NULL;
	if (tail == NULL) {
		/* A worker's list: order does not matter, push in front. */
		c->next = *head;
		if (*head != NULL)
			(*head)->prev = c;
		*head = c;
		return;
	}
	if (*tail != NULL)
		(*tail)->next = c;
	else
		*head = c;
	*tail = c;
}

/* Unlinks c from a list. */
static void
wcall_unlink(struct worker_call **head, struct worker_call **tail,
    struct worker_call *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else if (tail != NULL)
		*tail = c->prev;
	c->next = c->prev = NULL;
}

/* Takes c off the queue or off its worker. */
static void
wcall_detach(struct worker_call *c)
{
	struct worker_pool *p = c->pool;

	if (c->state == WCALL_QUEUED) {
		wcall_unlink(&p->queue, &p->queue_tail, c);
		p->stats.queued--;
		return;
	}
	if (c->w == NULL)
		return;
	if (c->state == WCALL_SENT)
		c->w->runnable--;
	wcall_unlink(&c->w->calls, NULL, c);
	c->w = NULL;
	p->stats.running--;
}

/* Frees a call that is off every list. */
static void
wcall_free(struct worker_call *c)
{
	if (c->req != NULL)
		fetch_cancel(c->req);
	hmap_remove(c->pool->calls, c->key);
	event_free(c->timer);
	strbuf_free(&c->frame);
	json_decref(c->allow);
	json_decref(c->trigger);
	json_decref(c->steps);
	free(c->dir);
	free(c->script);
	free(c->run_id);
	free(c->step);
	free(c);
}

/* Ends a call with its result, then lets waiting calls move. */
static void
wcall_end(struct worker_call *c, int ok, json_t *output, const char *next,
    int retryable, const char *message)
{
	worker_done_cb done = c->done;
	void *arg = c->arg;
	struct worker_pool *p = c->pool;

	wcall_detach(c);
	wcall_free(c);
	if (done != NULL)
		done(arg, ok, output, next, retryable, message);
	else
		json_decref(output);
	worker_dispatch(p);
}

/* Writes a frame to a worker. */
static void
worker_send(struct worker *w, const struct strbuf *b)
{
	bufferevent_write(w->bev, b->s, b->len);
}

/* Kills a worker for a reason; its death is handled at once. */
static void
worker_kill(struct worker *w, const char *why)
{
	w->killed = why;
	worker_lost(w, why);
}

static void	wcall_arm(struct worker_call *, int64_t);

/* Stops a call a worker holds: the worker is told, and the call stays
 * known until the worker says it ended (so that if it gets stuck in it
 * after all, the shared page names a call the daemon can kill for). */
static void
wcall_orphan(struct worker_call *c)
{
	struct strbuf b = STRBUF_INIT;

	c->done = NULL;
	if (c->req != NULL)
		fetch_cancel(c->req);
	c->req = NULL;
	wmsg_end(&b, wmsg_begin(&b, WMSG_CANCEL, c->id));
	worker_send(c->w, &b);
	strbuf_free(&b);
	if (c->state == WCALL_SENT)
		c->w->runnable--;
	c->state = WCALL_ORPHAN;
	wcall_arm(c, WORKER_GRACE_MS);
}

/* A call's deadline, or an orphan's check: a worker stuck in the call is
 * killed; a call that has not ended yet fails, and what a worker holds of
 * it is an orphan until the worker lets go. */
static void
wcall_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_call *c = arg;
	struct worker_pool *p = c->pool;
	worker_done_cb done;
	void *done_arg;
	char *msg;

	if (c->w != NULL && *c->w->page == c->id) {
		p->stats.kills++;
		log_warn("%s: run %s step %s: worker %ld stuck past the "
		    "deadline, killed", __func__, c->run_id, c->step,
		    (long)c->w->pid);
		worker_kill(c->w, "deadline");
		return;
	}
	if (c->state == WCALL_ORPHAN) {
		wcall_arm(c, WORKER_GRACE_MS);
		return;
	}
	msg = xasprintf("lua time limit of %lld ms exceeded",
	    (long long)c->timeout_ms);
	if (c->w == NULL) {
		wcall_end(c, 0, NULL, NULL, 1, msg);
		free(msg);
		return;
	}
	done = c->done;
	done_arg = c->arg;
	wcall_orphan(c);
	if (done != NULL)
		done(done_arg, 0, NULL, NULL, 1, msg);
	free(msg);
	worker_dispatch(p);
}

/* Arms a call's timer ms from now. */
static void
wcall_arm(struct worker_call *c, int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(c->timer, &tv);
}

/* Sends a call to a worker. */
static void
wcall_send(struct worker *w, struct worker_call *c)
{
	c->w = w;
	c->state = WCALL_SENT;
	w->runnable++;
	wcall_link(&w->calls, NULL, c);
	c->pool->stats.running++;
	log_debug("%s: call %u (run %s) to worker %ld", __func__, c->id,
	    c->run_id, (long)w->pid);
	worker_send(w, &c->frame);
}

/* Moves queued calls to workers with room. */
static void
worker_dispatch(struct worker_pool *p)
{
	struct worker *best, *w;
	struct worker_call *c;
	int i;

	while ((c = p->queue) != NULL) {
		best = NULL;
		for (i = 0; i < p->n; i++) {
			w = p->workers[i];
			if (w != NULL && w->runnable < WORKER_PIPELINE &&
			    (best == NULL || w->runnable < best->runnable))
				best = w;
		}
		if (best == NULL)
			return;
		wcall_unlink(&p->queue, &p->queue_tail, c);
		p->stats.queued--;
		wcall_send(best, c);
	}
}

/* Answers a fetch: the response goes back to the worker. */
static void
wcall_fetch_cb(const struct fetch_response *resp, void *arg)
{
	struct worker_call *c = arg;
	struct strbuf b = STRBUF_INIT;
	size_t start;

	c->req = NULL;
	start = wmsg_begin(&b, WMSG_FETCHED, c->id);
	wmsg_put_int(&b, resp->status);
	wmsg_put_int(&b, resp->timed_out);
	wmsg_put_int(&b, resp->refused);
	wmsg_put_int(&b, resp->duration_ms);
	wmsg_put_str(&b, resp->error);
	wmsg_put_json(&b, resp->headers);
	wmsg_put(&b, resp->body != NULL ? resp->body : "", resp->body_len);
	wmsg_end(&b, start);
	if (c->state == WCALL_FETCHING && c->w != NULL) {
		c->state = WCALL_SENT;
		c->w->runnable++;
		worker_send(c->w, &b);
	}
	strbuf_free(&b);
}

/* A worker asks for a request: checked against allow here. */
static int
wcall_fetch(struct worker_call *c, struct wmsg_in *in)
{
	struct fetch_request rq;
	struct fetch_response resp;
	struct orc_error err;
	const char **headers, **traced;
	char line[TRACE_PARENT_LEN + 16];
	int64_t n, i;
	size_t len;

	memset(&rq, 0, sizeof rq);
	rq.method = wmsg_get(in, &len);
	rq.url = wmsg_get(in, &len);
	rq.body = wmsg_get(in, &rq.body_len);
	rq.timeout_ms = wmsg_get_int(in);
	n = wmsg_get_int(in);
	if (in->bad || rq.url == NULL || n < 0 || n > 1000 ||
	    rq.timeout_ms <= 0)
		return -1;
	headers = xcalloc((size_t)n + 1, sizeof *headers);
	for (i = 0; i < n; i++)
		if ((headers[i] = wmsg_get(in, &len)) == NULL)
			in->bad = 1;
	/* The attempt's traceparent, unless the script sent its own. */
	traced = trace_headers_add(headers, c->traceparent[0] != '\0' ?
	    c->traceparent : NULL, line);
	rq.headers = traced != NULL ? traced : headers;
	c->state = WCALL_FETCHING;
	c->w->runnable--;
	if (in->bad)
		c->req = NULL;
	else if (c->pool->fetch == NULL) {
		memset(&resp, 0, sizeof resp);
		resp.refused = 1;
		resp.error = "ctx.fetch is not available here (a replay without "
		    "--live reaches nothing outside)";
		wcall_fetch_cb(&resp, c);
	} else if (permit_url(c->allow, rq.url, &err) != 0) {
		memset(&resp, 0, sizeof resp);
		resp.refused = 1;
		resp.error = err.message;
		wcall_fetch_cb(&resp, c);
	} else if ((c->req = fetch_start(c->pool->fetch, &rq, wcall_fetch_cb,
	    c, &err)) == NULL) {
		memset(&resp, 0, sizeof resp);
		resp.error = err.message;
		wcall_fetch_cb(&resp, c);
	}
	free(headers);
	free(traced);
	return in->bad ? -1 : 0;
}

/* Whether a worker may ask for name: the call's script or a module. */
static int
wcall_source_ok(const struct worker_call *c, const char *name)
{
	size_t n = strlen(name), i;

	if (strcmp(name, c->script) == 0)
		return 1;
	if (n < 5 || n > 68 || strcmp(name + n - 4, ".lua") != 0)
		return 0;
	for (i = 0; i < n - 4; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '_' || name[i] == '-'))
			return 0;
	return 1;
}

/* A worker asks for a script's text. */
static int
wcall_source(struct worker_call *c, struct wmsg_in *in)
{
	struct script_ident have, got;
	struct orc_error err;
	struct strbuf b = STRBUF_INIT;
	const char *name, *h;
	char *text = NULL;
	size_t len, start;
	int status;

	name = wmsg_get(in, &len);
	h = wmsg_get(in, &len);
	if (in->bad || name == NULL || (h != NULL && len != sizeof have))
		return -1;
	if (h != NULL)
		memcpy(&have, h, sizeof have);
	if (!wcall_source_ok(c, name)) {
		status = -1;
		orc_error_set(&err, ORC_EPERM, "%s: not a file of the "
		    "workflow", name);
	} else
		status = script_read_source(c->dir, name, h != NULL ? &have :
		    NULL, &text, &len, &got, &err);
	start = wmsg_begin(&b, WMSG_SOURCE_R, c->id);
	wmsg_put_int(&b, status);
	if (status < 0)
		wmsg_put_str(&b, err.message);
	else if (status > 0) {
		wmsg_put(&b, text, len);
		wmsg_put(&b, &got, sizeof got);
	}
	wmsg_end(&b, start);
	worker_send(c->w, &b);
	strbuf_free(&b);
	free(text);
	return 0;
}

/* A worker asks for ctx.trigger or ctx.steps. */
static int
wcall_ctx(struct worker_call *c, struct wmsg_in *in)
{
	struct strbuf b = STRBUF_INIT;
	int64_t which = wmsg_get_int(in);
	size_t start;

	if (in->bad || (which != 0 && which != 1))
		return -1;
	start = wmsg_begin(&b, WMSG_CTX_R, c->id);
	wmsg_put_json(&b, which == 0 ? c->trigger : c->steps);
	wmsg_end(&b, start);
	worker_send(c->w, &b);
	strbuf_free(&b);
	return 0;
}

/* A ctx.log line: the call's log callback or the daemon's log, bounded
 * per call. */
static int
wcall_log(struct worker_call *c, struct wmsg_in *in)
{
	int64_t level = wmsg_get_int(in);
	const char *msg;
	size_t len;

	msg = wmsg_get(in, &len);
	if (in->bad || msg == NULL || level < 0 || level > 3)
		return -1;
	/* The worker bounds it too, but is not trusted to. */
	if (++c->log_lines > SCRIPT_LOG_LINES + 1)
		return 0;
	if (len > SCRIPT_LOG_BYTES)
		len = SCRIPT_LOG_BYTES;
	if (c->log != NULL) {
		c->log(c->arg, (int)level, msg, len);
		return 0;
	}
	log_at((enum log_level)level, "script: run %s step %s: %.*s",
	    c->run_id, c->step, (int)len, msg);
	return 0;
}

/* Sends the call's log lines to cb. */
void
worker_call_set_log(struct worker_call *c, worker_log_cb cb)
{
	c->log = cb;
}

/* A call's end, as the worker reports it. */
static int
wcall_done(struct worker_call *c, struct wmsg_in *in)
{
	int64_t ok = wmsg_get_int(in), retryable;
	json_t *out = wmsg_get_json(in);
	const char *next, *msg;
	size_t len;

	next = wmsg_get(in, &len);
	retryable = wmsg_get_int(in);
	msg = wmsg_get(in, &len);
	if (in->bad || (ok && out == NULL) || (!ok && msg == NULL)) {
		json_decref(out);
		return -1;
	}
	if (c->state == WCALL_ORPHAN) {
		struct worker_pool *p = c->pool;

		json_decref(out);
		wcall_detach(c);
		wcall_free(c);
		worker_dispatch(p);
		return 0;
	}
	wcall_end(c, (int)ok, out, next, (int)retryable, msg);
	return 0;
}

/* Handles one frame from a worker; -1 when it is not a valid one. */
static int
worker_handle(struct worker *w, const char *f, size_t len)
{
	struct worker_call *c;
	struct wmsg_in in;
	char key[16];
	uint32_t id;
	int type;

	wmsg_open(&in, f, len, &type, &id);
	if (type == WMSG_HELLO) {
		(void)wmsg_get_int(&in);
		w->hello = 1;
		return in.bad ? -1 : 0;
	}
	snprintf(key, sizeof key, "%u", id);
	/* A call cancelled meanwhile is gone: what it says is moot. */
	if ((c = hmap_get(w->pool->calls, key)) == NULL)
		return 0;
	if (c->w != w)
		return -1;
	switch (type) {
	case WMSG_FETCH:
		return c->state == WCALL_SENT ? wcall_fetch(c, &in) :
		    c->state == WCALL_ORPHAN ? 0 : -1;
	case WMSG_SOURCE:
		return c->state != WCALL_FETCHING ? wcall_source(c, &in) : -1;
	case WMSG_CTX:
		return c->state != WCALL_FETCHING ? wcall_ctx(c, &in) : -1;
	case WMSG_LOG:
		return wcall_log(c, &in);
	case WMSG_DONE:
		return c->state != WCALL_FETCHING ? wcall_done(c, &in) : -1;
	default:
		return -1;
	}
}

/* Reads the frames a worker wrote. */
static void
worker_read_cb(struct bufferevent *bev, void *arg)
{
	struct worker *w = arg;
	struct worker_pool *p = w->pool;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char head[4];
	size_t len;
	int r, slot = w->slot;

	while (evbuffer_copyout(in, head, sizeof head) == sizeof head) {
		r = wmsg_frame(head, evbuffer_get_length(in), &len);
		if (r == 0)
			return;
		if (r < 0 || worker_handle(w, (const char *)
		    evbuffer_pullup(in, (ev_ssize_t)len), len) != 0) {
			p->stats.crashes++;
			worker_kill(w, "invalid message");
			return;
		}
		/* The worker may be gone: a call's end kills nothing today,
		 * but w is not read again unless its slot still holds it. */
		if (p->workers[slot] != w)
			return;
		evbuffer_drain(in, len);
	}
}

/* The channel closed or failed: the worker is gone. */
static void
worker_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct worker *w = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		w->pool->stats.crashes++;
		worker_lost(w, NULL);
	}
}

/* How a process ended, for messages. */
static char *
worker_status_text(int status)
{
	if (WIFSIGNALED(status))
		return xasprintf("killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	if (WIFEXITED(status))
		return xasprintf("exited with status %d", WEXITSTATUS(status));
	return xstrdup("ended");
}

/* Reaps the workers killed so far that have ended. */
static void
worker_reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_pool *p = arg;
	struct timeval tv = { 0, 10000 };
	size_t i = 0;
	int status;

	while (i < p->nzombies) {
		if (waitpid(p->zombies[i], &status, WNOHANG) == 0) {
			i++;
			continue;
		}
		p->zombies[i] = p->zombies[--p->nzombies];
	}
	if (p->nzombies > 0)
		evtimer_add(p->reaper, &tv);
}

/* A killed worker is reaped from a timer: a process takes a while to
 * die when the machine is busy, and the loop waits for nobody. */
static void
worker_reap_later(struct worker_pool *p, pid_t pid)
{
	struct timeval tv = { 0, 1000 };

	p->zombies = xrealloc(p->zombies, (p->nzombies + 1) *
	    sizeof *p->zombies);
	p->zombies[p->nzombies++] = pid;
	if (!evtimer_pending(p->reaper, NULL))
		evtimer_add(p->reaper, &tv);
}

/* Fails the call the worker was running when it died. */
static void
worker_blame(struct worker_call *c, const char *killed, const char *how)
{
	char *msg;

	if (killed != NULL && strcmp(killed, "deadline") == 0)
		msg = xasprintf("lua time limit of %lld ms exceeded (stuck in "
		    "a C function: its worker process was killed)",
		    (long long)c->timeout_ms);
	else if (killed != NULL)
		msg = xasprintf("lua worker process sent an %s; it was "
		    "killed", killed);
	else
		msg = xasprintf("lua worker process died while running the "
		    "step: %s", how);
	wcall_end(c, 0, NULL, NULL, 1, msg);
	free(msg);
}

/* A worker is gone (or must go): reaps it, deals with its calls and
 * starts another. */
static void
worker_lost(struct worker *w, const char *why)
{
	struct worker_pool *p = w->pool;
	struct worker_call *c, *culprit = NULL;
	uint32_t current = *w->page;
	int status = 0, slot = w->slot;
	int64_t lived = orc_mono_ms() - w->started;
	const char *w_killed = w->killed;
	int w_hello = w->hello;
	char *how;

	p->workers[slot] = NULL;
	p->stats.alive--;
	kill(w->pid, SIGKILL);
	if (w->killed != NULL)
		worker_reap_later(p, w->pid);	/* the loop must not wait */
	else
		while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
			;
	how = w->killed != NULL ? xstrdup("killed") :
	    worker_status_text(status);
	log_debug("%s: worker %ld gone (%s), running call %u", __func__,
	    (long)w->pid, how, current);
	if (w->killed == NULL)
		log_warn("%s: worker %ld %s", __func__, (long)w->pid, how);
	bufferevent_free(w->bev);
	munmap((void *)w->page, WORKER_SHM_SIZE);
	while ((c = w->calls) != NULL) {
		wcall_unlink(&w->calls, NULL, c);
		if (c->state == WCALL_SENT)
			w->runnable--;
		c->w = NULL;
		p->stats.running--;
		if (c->req != NULL)
			fetch_cancel(c->req);
		c->req = NULL;
		if (c->state == WCALL_ORPHAN) {
			wcall_free(c);
		} else if (c->id == current && culprit == NULL) {
			culprit = c;
			c->state = WCALL_QUEUED;	/* off every list */
			p->stats.queued++;
			wcall_link(&p->queue, &p->queue_tail, c);
		} else if (++c->requeues > WORKER_REQUEUES) {
			c->state = WCALL_QUEUED;
			p->stats.queued++;
			wcall_link(&p->queue, &p->queue_tail, c);
			wcall_end(c, 0, NULL, NULL, 1, "lua worker processes "
			    "died under this call too often");
		} else {
			c->state = WCALL_QUEUED;
			p->stats.queued++;
			wcall_link(&p->queue, &p->queue_tail, c);
		}
	}
	free(w);
	/* Back off when workers die young by themselves: a start-up loop
	 * must not spin. One killed for a stuck call is no such sign. */
	if ((w_killed == NULL || strcmp(w_killed, "deadline") != 0) &&
	    (lived < WORKER_HEALTHY_MS || !w_hello)) {
		p->backoff[slot] = p->backoff[slot] == 0 ?
		    WORKER_BACKOFF_MIN_MS : p->backoff[slot] * 2;
		if (p->backoff[slot] > WORKER_BACKOFF_MAX_MS)
			p->backoff[slot] = WORKER_BACKOFF_MAX_MS;
	} else
		p->backoff[slot] = 0;
	if (p->backoff[slot] > 0) {
		struct timeval tv = { p->backoff[slot] / 1000,
		    (p->backoff[slot] % 1000) * 1000 };

		evtimer_add(p->respawn[slot], &tv);
	} else
		worker_spawn(p, slot);
	if (culprit != NULL)
		worker_blame(culprit, why, how);
	free(how);
	worker_dispatch(p);
}

/* A slot's back-off is over. */
static void
worker_respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker_pool *p = arg;
	int i;

	for (i = 0; i < p->n; i++)
		if (p->workers[i] == NULL &&
		    !evtimer_pending(p->respawn[i], NULL))
			worker_spawn(p, i);
	worker_dispatch(p);
}

/* Whether a variable of the daemon's environment reaches a worker: only
 * what the sanitizers, the clock and the worker's own limit read. Secrets
 * travel with the calls of the workflows that list them. */
static int
worker_env_kept(const char *v)
{
	static const char *const kept[] = {
		"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "TZ=",
		"TZDIR=", "ORCH_WORKER_MEMORY_MB=", "ORCH_WORKER_NICE=", NULL
	};
	size_t i;

	for (i = 0; kept[i] != NULL; i++)
		if (strncmp(v, kept[i], strlen(kept[i])) == 0)
			return 1;
	return 0;
}

/* A descriptor that is not 3 or 4, where the child's dup2 puts its own
 * (dup2 onto itself would leave close-on-exec set). */
static int
worker_fd_out_of_way(int fd)
{
	int nfd;

	if (fd != 3 && fd != 4)
		return fd;
	if ((nfd = fcntl(fd, F_DUPFD_CLOEXEC, 10)) < 0)
		fatal("%s: %s", __func__, strerror(errno));
	close(fd);
	return nfd;
}

/* Starts the process of a slot; on failure the slot backs off. */
static void
worker_spawn(struct worker_pool *p, int slot)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct timeval tv;
	struct worker *w;
	sigset_t none, dflt;
	char *argv[] = { p->exe, (char *)"__worker", NULL };
	void *page;
	int sv[2], shm, rc;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
	    (shm = memfd_create("orchestrator-worker", MFD_CLOEXEC)) < 0 ||
	    ftruncate(shm, WORKER_SHM_SIZE) != 0)
		fatal("%s: worker channel: %s", __func__, strerror(errno));
	page = mmap(NULL, WORKER_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    shm, 0);
	if (page == MAP_FAILED)
		fatal("%s: mmap: %s", __func__, strerror(errno));
	sv[1] = worker_fd_out_of_way(sv[1]);
	shm = worker_fd_out_of_way(shm);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
	posix_spawn_file_actions_adddup2(&fa, shm, 4);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&dflt);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, p->exe, &fa, &attr, argv, p->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(sv[1]);
	close(shm);
	if (rc != 0) {
		log_error("%s: cannot start a worker (%s): %s", __func__,
		    p->exe, strerror(rc));
		close(sv[0]);
		munmap(page, WORKER_SHM_SIZE);
		p->backoff[slot] = WORKER_BACKOFF_MAX_MS;
		tv.tv_sec = WORKER_BACKOFF_MAX_MS / 1000;
		tv.tv_usec = 0;
		evtimer_add(p->respawn[slot], &tv);
		return;
	}
	w = xcalloc(1, sizeof *w);
	w->pool = p;
	w->slot = slot;
	w->pid = pid;
	w->page = page;
	w->started = orc_mono_ms();
	evutil_make_socket_nonblocking(sv[0]);
	w->bev = bufferevent_socket_new(p->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(w->bev, worker_read_cb, NULL, worker_event_cb, w);
	bufferevent_enable(w->bev, EV_READ);
	p->workers[slot] = w;
	p->stats.alive++;
	if (p->stats.calls > 0 || p->stats.crashes > 0)
		p->stats.restarts++;
	log_debug("%s: worker %ld started in slot %d", __func__, (long)pid,
	    slot);
}

/* Starts the pool. */
struct worker_pool *
worker_pool_create(struct event_base *base, struct fetch *fetch, int n,
    const char *exe)
{
	struct worker_pool *p = xcalloc(1, sizeof *p);
	char path[PATH_MAX];
	ssize_t len;
	size_t i, k = 0;
	int s;

	if (exe == NULL) {
		/* valgrind answers this readlink with the program it runs. */
		if ((len = readlink("/proc/self/exe", path, sizeof path - 1)) <= 0)
			fatal("%s: cannot find this program: %s", __func__,
			    strerror(errno));
		path[len] = '\0';
		exe = path;
	}
	p->base = base;
	p->fetch = fetch;
	p->exe = xstrdup(exe);
	p->n = n < 1 ? 1 : n > WORKER_MAX ? WORKER_MAX : n;
	p->calls = hmap_create();
	p->reaper = evtimer_new(base, worker_reaper_cb, p);
	for (i = 0; environ[i] != NULL; i++)
		;
	p->envp = xcalloc(i + 1, sizeof *p->envp);
	for (i = 0; environ[i] != NULL; i++)
		if (worker_env_kept(environ[i]))
			p->envp[k++] = xstrdup(environ[i]);
	p->stats.workers = p->n;
	for (s = 0; s < p->n; s++) {
		p->respawn[s] = evtimer_new(base, worker_respawn_cb, p);
		worker_spawn(p, s);
	}
	return p;
}

/* Kills the workers and drops every call. */
void
worker_pool_free(struct worker_pool *p)
{
	struct worker_call *c;
	struct worker *w;
	int s, status;
	size_t i;

	if (p == NULL)
		return;
	for (s = 0; s < p->n; s++) {
		if ((w = p->workers[s]) != NULL) {
			kill(w->pid, SIGKILL);
			while (waitpid(w->pid, &status, 0) < 0 &&
			    errno == EINTR)
				;
			while ((c = w->calls) != NULL) {
				wcall_unlink(&w->calls, NULL, c);
				wcall_free(c);
			}
			bufferevent_free(w->bev);
			munmap((void *)w->page, WORKER_SHM_SIZE);
			free(w);
		}
		event_free(p->respawn[s]);
	}
	while ((c = p->queue) != NULL) {
		wcall_unlink(&p->queue, &p->queue_tail, c);
		wcall_free(c);
	}
	hmap_free(p->calls);
	for (i = 0; i < p->nzombies; i++)
		while (waitpid(p->zombies[i], &status, 0) < 0 &&
		    errno == EINTR)
			;
	free(p->zombies);
	event_free(p->reaper);
	for (i = 0; p->envp[i] != NULL; i++)
		free(p->envp[i]);
	free(p->envp);
	free(p->exe);
	free(p);
}

/* The process in a slot, or -1 when none runs there now. */
long
worker_pool_pid(const struct worker_pool *p, int slot)
{
	if (slot < 0 || slot >= p->n || p->workers[slot] == NULL)
		return -1;
	return (long)p->workers[slot]->pid;
}

/* The pool's counters. */
void
worker_pool_stats(const struct worker_pool *p, struct worker_stats *out)
{
	*out = p->stats;
}

/* Builds the CALL frame of a job, with the values of its secrets. */
static void
wcall_frame(struct worker_call *c, const struct script_job *j,
    const json_t *secrets)
{
	struct strbuf *b = &c->frame;
	struct script_ident ident;
	struct orc_error err;
	json_t *values = json_object(), *e;
	const char *v;
	size_t start, i;

	json_array_foreach(secrets, i, e) {
		if (!json_is_string(e))
			continue;
		v = getenv(json_string_value(e));
		json_object_set_new(values, json_string_value(e),
		    v != NULL ? json_string(v) : json_null());
	}
	memset(&ident, 0, sizeof ident);
	(void)script_stat_source(j->dir, j->script, &ident, &err);
	start = wmsg_begin(b, WMSG_CALL, c->id);
	wmsg_put_str(b, j->dir != NULL ? j->dir : ".");
	wmsg_put_str(b, j->script);
	wmsg_put_str(b, j->workflow);
	wmsg_put_str(b, j->run_id);
	wmsg_put_str(b, j->step);
	wmsg_put_int(b, j->attempt);
	wmsg_put_int(b, c->timeout_ms);
	wmsg_put_int(b, j->instructions);
	wmsg_put_int(b, (int64_t)j->memory_mb);
	wmsg_put(b, &ident, sizeof ident);
	wmsg_put_json(b, j->input);
	wmsg_put_json(b, values);
	wmsg_end(b, start);
	json_decref(values);
}

/* Starts a call on a worker, or queues it. */
struct worker_call *
worker_call_start(struct worker_pool *p, const struct script_job *j,
    const json_t *trigger, const json_t *steps, const json_t *allow,
    const json_t *secrets, worker_done_cb done, void *arg,
    struct orc_error *err)
{
	struct worker_call *c;

	if (p->stats.queued >= WORKER_QUEUE_MAX) {
		orc_error_set(err, ORC_EFULL, "every lua worker is busy and "
		    "%d calls wait already", WORKER_QUEUE_MAX);
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->pool = p;
	c->id = ++p->next_id == 0 ? ++p->next_id : p->next_id;
	snprintf(c->key, sizeof c->key, "%u", c->id);
	c->dir = xstrdup(j->dir != NULL ? j->dir : ".");
	c->script = xstrdup(j->script);
	c->run_id = xstrdup(j->run_id != NULL ? j->run_id : "-");
	c->step = xstrdup(j->step != NULL ? j->step : "-");
	if (j->traceparent != NULL)
		snprintf(c->traceparent, sizeof c->traceparent, "%s",
		    j->traceparent);
	c->allow = allow != NULL ? json_incref((json_t *)allow) : NULL;
	c->trigger = trigger != NULL ? json_incref((json_t *)trigger) : NULL;
	c->steps = steps != NULL ? json_incref((json_t *)steps) : NULL;
	c->timeout_ms = j->timeout_ms > 0 ? j->timeout_ms : SCRIPT_TIMEOUT_MS;
	c->done = done;
	c->arg = arg;
	c->timer = evtimer_new(p->base, wcall_timer_cb, c);
	wcall_frame(c, j, secrets);
	hmap_set(p->calls, c->key, c);
	p->stats.calls++;
	c->state = WCALL_QUEUED;
	p->stats.queued++;
	wcall_link(&p->queue, &p->queue_tail, c);
	wcall_arm(c, c->timeout_ms + WORKER_GRACE_MS);
	worker_dispatch(p);
	return c;
}

/* Stops a call; one that a worker holds stays as an orphan until the
 * worker says it let go, or is killed for it. */
void
worker_call_cancel(struct worker_call *c)
{
	if (c == NULL)
		return;
	c->done = NULL;
	c->log = NULL;		/* its arg goes with the caller */
	if (c->w == NULL) {
		wcall_detach(c);
		wcall_free(c);
		return;
	}
	wcall_orphan(c);
}
