/*
 * The span exporter (trace.h). Spans wait on one list, each a single
 * allocation holding its strings, at most max_queue of them: past that a
 * span is dropped and counted, never waited for. Batches leave as OTLP/HTTP
 * JSON documents written straight into one buffer (no jansson tree: a batch
 * of 512 spans would be thousands of small allocations), posted through
 * the fetch client, at most TRACE_POSTS at a time. A post that fails (no
 * collector, an error status, a timeout) drops its spans: a collector that
 * is down must not make the daemon hold more and more.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "fetch.h"
#include "log.h"
#include "orchestrator.h"
#include "strbuf.h"
#include "trace.h"

#define TRACE_MAX_QUEUE		10000
#define TRACE_BATCH		512
#define TRACE_INTERVAL_MS	1000
#define TRACE_POSTS		4	/* posts in flight at most */
#define TRACE_POST_TIMEOUT_MS	10000
#define TRACE_STR_MAX		1024	/* bytes of one attribute kept */

/* A queued span; its strings follow it in the same allocation. */
struct trace_span {
	struct trace_span	*next;
	uint8_t			 trace_id[TRACE_ID_BYTES];
	uint8_t			 span_id[TRACE_SPAN_BYTES];
	uint8_t			 parent_id[TRACE_SPAN_BYTES];
	int			 has_parent;
	int			 kind;
	int			 failed;
	int			 attempt;
	int64_t			 start_ns, end_ns;
	const char		*name, *workflow, *run_id, *status, *error;
	char			 text[];
};

/* One post in flight. */
struct trace_post {
	struct trace		*t;
	struct fetch_req	*req;
	size_t			 n;		/* spans it carries */
};

struct trace {
	struct event_base	*base;
	struct fetch		*fetch;
	char			*url;
	char			*service;
	size_t			 max_queue;
	size_t			 batch;
	struct event		*timer;
	struct trace_span	*head, *tail;
	size_t			 count;
	struct trace_post	 posts[TRACE_POSTS];
	uint64_t		 exported;
	uint64_t		 dropped;
	uint64_t		 seed;		/* span ids */
	int			 failing;	/* the last post failed */
	int			 flushing;	/* post all, not full batches */
};

static void	trace_post(struct trace *);

/* The collector's answer to one post. */
static void
trace_post_done_cb(const struct fetch_response *resp, void *arg)
{
	struct trace_post *p = arg;
	struct trace *t = p->t;
	int ok = resp->status >= 200 && resp->status < 300;

	p->req = NULL;
	if (ok)
		t->exported += p->n;
	else
		t->dropped += p->n;
	/* One line when export breaks and one when it mends, not one a
	 * post: a collector down for an hour would flood the log. */
	if (!ok && !t->failing && resp->error != NULL)
		log_warn("%s: %s: %s; spans are dropped until it answers",
		    __func__, t->url, resp->error);
	else if (!ok && !t->failing)
		log_warn("%s: %s: status %ld; spans are dropped until it "
		    "answers", __func__, t->url, resp->status);
	else if (ok && t->failing)
		log_warn("%s: %s answers again", __func__, t->url);
	t->failing = !ok;
	p->n = 0;
	/* A full batch may have waited for this slot, or a flush. */
	if (t->count >= t->batch || (t->flushing && t->count > 0))
		trace_post(t);
}

/* Posts queued batches while a slot is free. */
static void
trace_post(struct trace *t)
{
	static const char *const headers[] = {
		"Content-Type: application/json", NULL
	};
	struct fetch_request rq;
	struct orc_error err;
	struct trace_post *p;
	char *doc;
	size_t len, n, i;

	for (i = 0; i < TRACE_POSTS && t->count > 0; i++) {
		p = &t->posts[i];
		if (p->req != NULL)
			continue;
		if ((doc = trace_take_doc(t, &len, &n)) == NULL)
			return;
		memset(&rq, 0, sizeof rq);
		rq.method = "POST";
		rq.url = t->url;
		rq.headers = headers;
		rq.body = doc;
		rq.body_len = len;
		rq.timeout_ms = TRACE_POST_TIMEOUT_MS;
		rq.max_response = 65536;
		p->t = t;
		p->n = n;
		p->req = fetch_start(t->fetch, &rq, trace_post_done_cb, p,
		    &err);
		free(doc);
		if (p->req == NULL) {
			log_warn("%s: %s: %s", __func__, t->url, err.message);
			t->dropped += n;
			p->n = 0;
		}
	}
}

/* Every interval: whatever is queued leaves. */
static void
trace_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct trace *t = arg;

	trace_post(t);
}

/* The exporter; its timer runs while fetch can post. */
struct trace *
trace_create(struct event_base *base, struct fetch *fetch,
    const struct trace_config *cfg)
{
	struct trace *t = xcalloc(1, sizeof *t);
	struct timeval tv;
	int64_t ms = cfg->interval_ms > 0 ? cfg->interval_ms :
	    TRACE_INTERVAL_MS;
	size_t n = cfg->endpoint != NULL ? strlen(cfg->endpoint) : 0;

	t->base = base;
	t->fetch = fetch;
	/* The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is; a URL that
	 * names the path already is taken as it is. */
	while (n > 0 && cfg->endpoint[n - 1] == '/')
		n--;
	if (n >= 10 && strncmp(cfg->endpoint + n - 10, "/v1/traces", 10) == 0)
		t->url = xstrndup(cfg->endpoint, n);
	else
		t->url = xasprintf("%.*s/v1/traces", (int)n,
		    cfg->endpoint != NULL ? cfg->endpoint : "");
	t->service = xstrdup(cfg->service != NULL ? cfg->service :
	    "orchestrator");
	t->max_queue = cfg->max_queue > 0 ? cfg->max_queue : TRACE_MAX_QUEUE;
	t->batch = cfg->batch > 0 ? cfg->batch : TRACE_BATCH;
	t->seed = orc_random(UINT64_MAX);
	if (fetch != NULL && base != NULL) {
		t->timer = event_new(base, -1, EV_PERSIST, trace_timer_cb, t);
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		event_add(t->timer, &tv);
	}
	return t;
}

/* Cancels the posts in flight and drops what is queued. */
void
trace_free(struct trace *t)
{
	struct trace_span *s;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < TRACE_POSTS; i++)
		if (t->posts[i].req != NULL)
			fetch_cancel(t->posts[i].req);
	if (t->timer != NULL)
		event_free(t->timer);
	while ((s = t->head) != NULL) {
		t->head = s->next;
		free(s);
	}
	free(t->url);
	free(t->service);
	free(t);
}

/* How many bytes of s to keep: at most TRACE_STR_MAX, cut between UTF-8
 * characters. */
static size_t
trace_str_len(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	if ((n = strlen(s)) <= TRACE_STR_MAX)
		return n;
	n = TRACE_STR_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* Copies n bytes of s to *p as a string; the copy, or NULL for NULL. */
static const char *
trace_str_put(char **p, const char *s, size_t n)
{
	char *d = *p;

	if (s == NULL)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	*p = d + n + 1;
	return d;
}

/* Queues one span in a single allocation, or counts it dropped. */
void
trace_add(struct trace *t, const struct trace_span_info *si)
{
	struct trace_span *s;
	size_t ln, lw, lr, ls, le;
	char *p;

	if (t->count >= t->max_queue) {
		t->dropped++;
		return;
	}
	ln = trace_str_len(si->name);
	lw = trace_str_len(si->workflow);
	lr = trace_str_len(si->run_id);
	ls = trace_str_len(si->status);
	le = trace_str_len(si->error);
	/* One allocation a span, its strings behind it. */
	s = xmalloc(sizeof *s + ln + lw + lr + ls + le + 5);
	s->next = NULL;
	memcpy(s->trace_id, si->trace_id, TRACE_ID_BYTES);
	memcpy(s->span_id, si->span_id, TRACE_SPAN_BYTES);
	s->has_parent = si->parent_id != NULL;
	if (s->has_parent)
		memcpy(s->parent_id, si->parent_id, TRACE_SPAN_BYTES);
	s->kind = (int)si->kind;
	s->failed = si->failed;
	s->attempt = si->attempt;
	s->start_ns = si->start_ns;
	s->end_ns = si->end_ns;
	p = s->text;
	s->name = trace_str_put(&p, si->name != NULL ? si->name : "", ln);
	s->workflow = trace_str_put(&p, si->workflow, lw);
	s->run_id = trace_str_put(&p, si->run_id, lr);
	s->status = trace_str_put(&p, si->status, ls);
	s->error = trace_str_put(&p, si->error, le);
	if (t->tail != NULL)
		t->tail->next = s;
	else
		t->head = s;
	t->tail = s;
	t->count++;
	if (t->count >= t->batch && t->fetch != NULL)
		trace_post(t);
}

/* Writes n bytes as 2n lower-case hex digits (no NUL). */
static void
trace_hex_to(char *out, const uint8_t *b, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
}

/* Appends n bytes as lower-case hex. */
static void
trace_hex(struct strbuf *sb, const uint8_t *b, size_t n)
{
	char buf[2 * TRACE_ID_BYTES];

	trace_hex_to(buf, b, n);
	strbuf_add(sb, buf, 2 * n);
}

/* The length of the valid UTF-8 character at s (at most n bytes), or 0. */
static size_t
trace_utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* Appends s as a JSON string; bytes that are not UTF-8 become U+FFFD
 * (a collector refuses the whole document otherwise). */
static void
trace_json_str(struct strbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), run = 0, len;

	strbuf_addc(sb, '"');
	while (n > 0) {
		if (*p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80) {
			/* Plain bytes go out in runs, not one at a time. */
			for (run = 0; run < n && p[run] >= 0x20 &&
			    p[run] < 0x80 && p[run] != '"' && p[run] != '\\';
			    run++)
				;
			strbuf_add(sb, (const char *)p, run);
			p += run;
			n -= run;
			continue;
		}
		if (*p == '"' || *p == '\\') {
			strbuf_addc(sb, '\\');
			strbuf_addc(sb, (char)*p);
			len = 1;
		} else if (*p < 0x20) {
			strbuf_printf(sb, "\\u%04x", *p);
			len = 1;
		} else if ((len = trace_utf8_len(p, n)) > 0)
			strbuf_add(sb, (const char *)p, len);
		else {
			strbuf_puts(sb, "\\ufffd");
			len = 1;
		}
		p += len;
		n -= len;
	}
	strbuf_addc(sb, '"');
}

/* Appends one string attribute, after a comma when not first. */
static void
trace_attr_str(struct strbuf *sb, int *first, const char *key,
    const char *v)
{
	if (v == NULL)
		return;
	if (!*first)
		strbuf_addc(sb, ',');
	*first = 0;
	strbuf_puts(sb, "{\"key\":\"");
	strbuf_puts(sb, key);
	strbuf_puts(sb, "\",\"value\":{\"stringValue\":");
	trace_json_str(sb, v);
	strbuf_puts(sb, "}}");
}

/* Appends one span object. */
static void
trace_span_json(struct strbuf *sb, const struct trace_span *s)
{
	int first = 1;

	strbuf_puts(sb, "{\"traceId\":\"");
	trace_hex(sb, s->trace_id, TRACE_ID_BYTES);
	strbuf_puts(sb, "\",\"spanId\":\"");
	trace_hex(sb, s->span_id, TRACE_SPAN_BYTES);
	if (s->has_parent) {
		strbuf_puts(sb, "\",\"parentSpanId\":\"");
		trace_hex(sb, s->parent_id, TRACE_SPAN_BYTES);
	}
	strbuf_puts(sb, "\",\"name\":");
	trace_json_str(sb, s->name);
	/* int64 values are strings in the protobuf JSON mapping. */
	strbuf_printf(sb, ",\"kind\":%d,\"startTimeUnixNano\":\"%lld\","
	    "\"endTimeUnixNano\":\"%lld\",\"attributes\":[", s->kind,
	    (long long)s->start_ns, (long long)s->end_ns);
	trace_attr_str(sb, &first, "orchestrator.workflow", s->workflow);
	trace_attr_str(sb, &first, "orchestrator.run_id", s->run_id);
	if (s->attempt > 0) {
		strbuf_printf(sb, "%s{\"key\":\"orchestrator.attempt\","
		    "\"value\":{\"intValue\":\"%d\"}}", first ? "" : ",",
		    s->attempt);
		first = 0;
	}
	trace_attr_str(sb, &first, "orchestrator.status", s->status);
	trace_attr_str(sb, &first, "orchestrator.error", s->error);
	/* Status codes: 1 OK, 2 ERROR. */
	strbuf_printf(sb, "],\"status\":{\"code\":%d", s->failed ? 2 : 1);
	if (s->failed && s->error != NULL) {
		strbuf_puts(sb, ",\"message\":");
		trace_json_str(sb, s->error);
	}
	strbuf_puts(sb, "}}");
}

/* Encodes up to a batch of spans and frees them. */
char *
trace_take_doc(struct trace *t, size_t *len, size_t *np)
{
	struct strbuf sb = STRBUF_INIT;
	struct trace_span *s;
	size_t n = 0;

	if (t->head == NULL)
		return NULL;
	strbuf_puts(&sb, "{\"resourceSpans\":[{\"resource\":{\"attributes\":"
	    "[{\"key\":\"service.name\",\"value\":{\"stringValue\":");
	trace_json_str(&sb, t->service);
	strbuf_puts(&sb, "}}]},\"scopeSpans\":[{\"scope\":{\"name\":"
	    "\"orchestrator\",\"version\":\"" PACKAGE_VERSION "\"},"
	    "\"spans\":[");
	while (n < t->batch && (s = t->head) != NULL) {
		if (n > 0)
			strbuf_addc(&sb, ',');
		trace_span_json(&sb, s);
		t->head = s->next;
		free(s);
		n++;
	}
	if (t->head == NULL)
		t->tail = NULL;
	t->count -= n;
	strbuf_puts(&sb, "]}]}]}");
	*len = sb.len;
	*np = n;
	return strbuf_take(&sb);
}

/* Counters for /metrics. */
void
trace_get_stats(const struct trace *t, struct trace_stats *st)
{
	st->exported = t->exported;
	st->dropped = t->dropped;
	st->queued = t->count;
}

/* Sends what is queued now; the answers post the rest. */
void
trace_flush(struct trace *t)
{
	if (t == NULL || t->fetch == NULL)
		return;
	t->flushing = 1;
	trace_post(t);
}

/* What a flush still has to get out. */
size_t
trace_pending(const struct trace *t)
{
	size_t n, i;

	if (t == NULL)
		return 0;
	n = t->count;
	for (i = 0; i < TRACE_POSTS; i++)
		if (t->posts[i].req != NULL)
			n += t->posts[i].n;
	return n;
}

/* splitmix64: span ids need to be unique, not secret. */
void
trace_span_id(struct trace *t, uint8_t out[TRACE_SPAN_BYTES])
{
	uint64_t z;
	int i;

	do {
		z = (t->seed += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
	} while (z == 0);
	for (i = 0; i < TRACE_SPAN_BYTES; i++)
		out[i] = (uint8_t)(z >> (8 * i));
}

/* The value of a lower-case hex digit, or -1. */
static int
trace_xdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads n bytes of lower-case hex; -1 on anything else. *nonzero gets
 * whether any bit is set (W3C: an all-zero id is invalid). */
static int
trace_unhex(const char *s, uint8_t *out, size_t n, int *nonzero)
{
	size_t i;
	int hi, lo;

	*nonzero = 0;
	for (i = 0; i < n; i++) {
		if ((hi = trace_xdigit(s[2 * i])) < 0 ||
		    (lo = trace_xdigit(s[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
		*nonzero |= out[i];
	}
	return 0;
}

/* W3C Trace Context, section 3.2: traceparent. */
int
trace_parent_parse(const char *s, struct trace_ctx *ctx)
{
	uint8_t version;
	size_t n;
	int nz;

	if (s == NULL)
		return -1;
	/* Optional whitespace around the value (RFC 9110 field values). */
	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n < TRACE_PARENT_LEN || s[2] != '-' || s[35] != '-' ||
	    s[52] != '-')
		return -1;
	if (trace_unhex(s, &version, 1, &nz) != 0 || version == 0xff)
		return -1;
	/* Version 00 is exactly 55 bytes; a later one may add fields after
	 * a dash, which are not read. */
	if (n > TRACE_PARENT_LEN && (version == 0 ||
	    s[TRACE_PARENT_LEN] != '-'))
		return -1;
	if (trace_unhex(s + 3, ctx->trace_id, TRACE_ID_BYTES, &nz) != 0 ||
	    !nz)
		return -1;
	if (trace_unhex(s + 36, ctx->span_id, TRACE_SPAN_BYTES, &nz) != 0 ||
	    !nz)
		return -1;
	if (trace_unhex(s + 53, &ctx->flags, 1, &nz) != 0)
		return -1;
	return 0;
}

/* Version 00 of traceparent. */
void
trace_parent_format(const struct trace_ctx *ctx,
    char out[TRACE_PARENT_LEN + 1])
{
	memcpy(out, "00-", 3);
	trace_hex_to(out + 3, ctx->trace_id, TRACE_ID_BYTES);
	out[35] = '-';
	trace_hex_to(out + 36, ctx->span_id, TRACE_SPAN_BYTES);
	out[52] = '-';
	trace_hex_to(out + 53, &ctx->flags, 1);
	out[TRACE_PARENT_LEN] = '\0';
}

/* A copy of the header list with the traceparent line added. */
const char **
trace_headers_add(const char *const *headers, const char *tp,
    char line[TRACE_PARENT_LEN + 16])
{
	const char **out;
	size_t n = 0, i;

	if (tp == NULL)
		return NULL;
	for (; headers != NULL && headers[n] != NULL; n++)
		if (strncasecmp(headers[n], "traceparent", 11) == 0 &&
		    (headers[n][11] == ':' || headers[n][11] == ' '))
			return NULL;
	snprintf(line, TRACE_PARENT_LEN + 16, "traceparent: %s", tp);
	out = xcalloc(n + 2, sizeof *out);
	for (i = 0; i < n; i++)
		out[i] = headers[i];
	out[n] = line;
	return out;
}

/* The wall clock in ns, the unit of OTLP times. */
int64_t
trace_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
