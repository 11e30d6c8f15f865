/*
 * A small HTTP server for unit tests, on evhttp in the test's own event
 * loop, bound to 127.0.0.1 on a free port. One handler answers by path:
 *
 *   /echo            200, JSON {method, uri, body, headers} of the request,
 *                    and an "X-Reply: yes" header
 *   /slow?ms=N       200 "slow" after N ms
 *   /big?n=N         N bytes of 'x' (with Content-Length)
 *   /chunked?n=N     N bytes of 'y', chunked (no Content-Length)
 *   /status?code=N&retry_after=V&reason=R
 *                    status N with an optional Retry-After header
 *   /redirect?to=URL&code=N
 *                    status N (302) with Location: URL
 *   /loop            302 to itself
 *   /binary          200, application/octet-stream, bytes not UTF-8
 *   /text            200, text/plain "hello"
 *   /badjson         200, application/json that does not parse
 *   /repeat?n=N&distinct=D
 *                    200 with N headers "X-Rep: v" (D=1: X-Rep-0 to
 *                    X-Rep-N-1, each "v")
 *
 * It counts requests, connections by the client's port, so tests can
 * see keep-alive reuse, and connections accepted (a port can be used
 * again on loopback once its connection is closed).
 */
#ifndef TEST_HTTPD_H
#define TEST_HTTPD_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#define HTTPD_MAX_PORTS	4096

struct httpd;

/* A reply that waits on a timer (/slow). */
struct httpd_pending {
	struct httpd			*h;
	struct evhttp_request		*req;
	struct event			*timer;
	LIST_ENTRY(httpd_pending)	 entry;
};

struct httpd {
	struct event_base		*base;
	struct evhttp			*http;
	int				 port;
	int				 requests;
	int				 nports;
	unsigned short			 ports[HTTPD_MAX_PORTS];
	int				 accepted;
	LIST_HEAD(, httpd_pending)	 pending;
	json_t				*last;	/* the last /echo document */
};

/* Records the client's port: one per connection. */
static void
httpd_count(struct httpd *h, struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	char *addr;
	ev_uint16_t port;
	int i;

	h->requests++;
	if (conn == NULL)
		return;
	evhttp_connection_get_peer(conn, &addr, &port);
	for (i = 0; i < h->nports; i++) {
		if (h->ports[i] == port)
			return;
	}
	if (h->nports < HTTPD_MAX_PORTS)
		h->ports[h->nports++] = port;
}

/* A query parameter of the request, or NULL. */
static const char *
httpd_param(struct evkeyvalq *q, const char *name)
{
	return evhttp_find_header(q, name);
}

/* Sends a slow reply once its timer fires. */
static void
httpd_slow_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_pending *p = arg;
	struct evbuffer *b = evbuffer_new();

	evbuffer_add_printf(b, "slow");
	evhttp_send_reply(p->req, 200, "OK", b);
	evbuffer_free(b);
	LIST_REMOVE(p, entry);
	event_free(p->timer);
	free(p);
}

/* Answers every request by its path. */
static void
httpd_cb(struct evhttp_request *req, void *arg)
{
	struct httpd *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri), *v, *name;
	struct evkeyvalq q, *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new(), *body;
	struct evkeyval *kv;
	struct httpd_pending *p;
	struct timeval tv;
	json_t *doc, *hdrs;
	const char *method;
	char *text;
	long n, i;
	int code;

	httpd_count(h, req);
	TAILQ_INIT(&q);
	if (query != NULL)
		evhttp_parse_query_str(query, &q);

	if (strcmp(path, "/echo") == 0) {
		switch (evhttp_request_get_command(req)) {
		case EVHTTP_REQ_GET: method = "GET"; break;
		case EVHTTP_REQ_POST: method = "POST"; break;
		case EVHTTP_REQ_PUT: method = "PUT"; break;
		case EVHTTP_REQ_DELETE: method = "DELETE"; break;
		case EVHTTP_REQ_PATCH: method = "PATCH"; break;
		case EVHTTP_REQ_HEAD: method = "HEAD"; break;
		default: method = "OTHER"; break;
		}
		body = evhttp_request_get_input_buffer(req);
		hdrs = json_object();
		TAILQ_FOREACH(kv, in, next) {
			text = strdup(kv->key);
			for (i = 0; text[i] != '\0'; i++)
				text[i] = tolower((unsigned char)text[i]);
			json_object_set_new(hdrs, text, json_string(kv->value));
			free(text);
		}
		n = (long)evbuffer_get_length(body);
		doc = json_pack("{s:s, s:s, s:s%, s:o}", "method", method,
		    "uri", evhttp_request_get_uri(req), "body",
		    n > 0 ? (const char *)evbuffer_pullup(body, -1) : "",
		    (size_t)n, "headers", hdrs);
		json_decref(h->last);
		h->last = json_incref(doc);
		text = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		evbuffer_add(b, text, strlen(text));
		free(text);
		evhttp_add_header(out, "Content-Type", "application/json");
		evhttp_add_header(out, "X-Reply", "yes");
		evhttp_send_reply(req, 200, "OK", b);
	} else if (strcmp(path, "/slow") == 0) {
		v = httpd_param(&q, "ms");
		n = v != NULL ? atol(v) : 200;
		p = calloc(1, sizeof *p);
		p->h = h;
		p->req = req;
		p->timer = evtimer_new(h->base, httpd_slow_cb, p);
		tv.tv_sec = n / 1000;
		tv.tv_usec = (n % 1000) * 1000;
		evtimer_add(p->timer, &tv);
		LIST_INSERT_HEAD(&h->pending, p, entry);
	} else if (strcmp(path, "/big") == 0 || strcmp(path, "/chunked") == 0) {
		v = httpd_param(&q, "n");
		n = v != NULL ? atol(v) : 1000;
		text = malloc(n > 0 ? n : 1);
		memset(text, path[1] == 'b' ? 'x' : 'y', n);
		if (path[1] == 'b') {
			evbuffer_add(b, text, n);
			evhttp_send_reply(req, 200, "OK", b);
		} else {
			evhttp_send_reply_start(req, 200, "OK");
			for (i = 0; i < n; i += 1000) {
				evbuffer_add(b, text + i, n - i < 1000 ?
				    n - i : 1000);
				evhttp_send_reply_chunk(req, b);
			}
			evhttp_send_reply_end(req);
		}
		free(text);
	} else if (strcmp(path, "/status") == 0) {
		v = httpd_param(&q, "code");
		code = v != NULL ? atoi(v) : 200;
		if ((v = httpd_param(&q, "retry_after")) != NULL)
			evhttp_add_header(out, "Retry-After", v);
		evbuffer_add_printf(b, "status %d", code);
		evhttp_add_header(out, "Content-Type", "text/plain");
		name = httpd_param(&q, "reason");
		evhttp_send_reply(req, code, name != NULL ? name : NULL, b);
	} else if (strcmp(path, "/redirect") == 0) {
		v = httpd_param(&q, "code");
		code = v != NULL ? atoi(v) : 302;
		if ((v = httpd_param(&q, "to")) != NULL)
			evhttp_add_header(out, "Location", v);
		evhttp_send_reply(req, code, "Redirect", b);
	} else if (strcmp(path, "/loop") == 0) {
		evhttp_add_header(out, "Location", "/loop");
		evhttp_send_reply(req, 302, "Found", b);
	} else if (strcmp(path, "/binary") == 0) {
		evbuffer_add(b, "\xff\xfe\x00\x01\x80", 5);
		evhttp_add_header(out, "Content-Type",
		    "application/octet-stream");
		evhttp_send_reply(req, 200, "OK", b);
	} else if (strcmp(path, "/text") == 0) {
		evbuffer_add_printf(b, "hello");
		evhttp_add_header(out, "Content-Type", "text/plain");
		evhttp_send_reply(req, 200, "OK", b);
	} else if (strcmp(path, "/repeat") == 0) {
		v = httpd_param(&q, "n");
		n = v != NULL ? atol(v) : 1;
		v = httpd_param(&q, "distinct");
		for (i = 0; i < n; i++) {
			char hn[32];

			snprintf(hn, sizeof hn, v != NULL ? "X-Rep-%ld" :
			    "X-Rep", i);
			evhttp_add_header(out, hn, "v");
		}
		evhttp_send_reply(req, 200, "OK", b);
	} else if (strcmp(path, "/badjson") == 0) {
		evbuffer_add_printf(b, "{not json");
		evhttp_add_header(out, "Content-Type", "application/json");
		evhttp_send_reply(req, 200, "OK", b);
	} else
		evhttp_send_reply(req, 404, "Not Found", b);
	evhttp_clear_headers(&q);
	evbuffer_free(b);
}

/* evhttp asks for the buffer of each connection it accepts: count it. */
static struct bufferevent *
httpd_accepted_cb(struct event_base *base, void *arg)
{
	struct httpd *h = arg;

	h->accepted++;
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

/* Starts a server on 127.0.0.1, a free port; exits when it cannot. */
static struct httpd *
httpd_start(struct event_base *base)
{
	struct httpd *h = calloc(1, sizeof *h);
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd, one = 1;

	h->base = base;
	LIST_INIT(&h->pending);
	h->http = evhttp_new(base);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(h->http, httpd_cb, h);
	evhttp_set_bevcb(h->http, httpd_accepted_cb, h);
	/* Our own socket: evhttp's backlog of 128 would drop connections
	 * of a burst and the client would retry them a second later. */
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    listen(fd, 1024) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0 ||
	    evutil_make_socket_nonblocking(fd) != 0 ||
	    evhttp_accept_socket(h->http, fd) != 0) {
		perror("httpd_start");
		exit(99);
	}
	h->port = ntohs(sin.sin_port);
	return h;
}

/* Stops the server, dropping replies still waiting. */
static void
httpd_free(struct httpd *h)
{
	struct httpd_pending *p;

	while ((p = LIST_FIRST(&h->pending)) != NULL) {
		LIST_REMOVE(p, entry);
		event_free(p->timer);
		free(p);
	}
	evhttp_free(h->http);
	json_decref(h->last);
	free(h);
}

/* Runs the loop until *flag is set or ms pass; returns *flag. */
static int
httpd_run_until(struct event_base *base, const int *flag, int64_t ms)
{
	int64_t end = orc_mono_ms() + ms;
	struct timeval tv = { 0, 10000 };

	/* Wake every 10 ms to look at the flag and the clock. */
	while (!*flag && orc_mono_ms() < end) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return *flag;
}

/* A port on 127.0.0.1 with nothing listening. */
static int
httpd_dead_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		perror("httpd_dead_port");
		exit(99);
	}
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

#endif
