/*
 * Tests for fetch.c against a real HTTP server in the same event loop
 * (test-httpd.h): requests and answers both ways, timeouts, refused
 * connections, the response cap, cancelling and freeing with requests in
 * flight, many requests at once, keep-alive reuse, and redirects checked
 * against the allow rules.
 */
#include "config.h"

#include <sys/resource.h>

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "fetch.h"
#include "orchestrator.h"
#include "test.h"
#include "test-httpd.h"

/* What one callback saw. */
struct result {
	int	 done;
	int	 calls;
	long	 status;
	char	*body;
	size_t	 body_len;
	json_t	*headers;
	char	*error;
	char	*reason;
	char	*url;
	int	 timed_out;
	int	 refused;
	int64_t	 duration_ms;
};

/* Copies the response into the result. */
static void
record_cb(const struct fetch_response *resp, void *arg)
{
	struct result *r = arg;

	r->done = 1;
	r->calls++;
	r->status = resp->status;
	r->body = xmalloc(resp->body_len + 1);
	memcpy(r->body, resp->body, resp->body_len + 1);
	r->body_len = resp->body_len;
	r->headers = json_incref(resp->headers);
	r->error = resp->error != NULL ? xstrdup(resp->error) : NULL;
	r->reason = xstrdup(resp->reason);
	r->url = xstrdup(resp->url);
	r->timed_out = resp->timed_out;
	r->refused = resp->refused;
	r->duration_ms = resp->duration_ms;
}

/* Frees what a result holds. */
static void
result_clear(struct result *r)
{
	free(r->body);
	json_decref(r->headers);
	free(r->error);
	free(r->reason);
	free(r->url);
	memset(r, 0, sizeof *r);
}

/* The loop, the server and the client of one test. */
struct env {
	struct event_base	*base;
	struct httpd		*h;
	struct fetch		*f;
};

/* How the clients of env_init run: the thread, or curl on the loop. */
static struct fetch_config env_fc;

/* Starts a loop, a server and a client. */
static void
env_init(struct env *e)
{
	e->base = event_base_new();
	e->h = httpd_start(e->base);
	e->f = fetch_create(e->base, &env_fc);
}

/* Frees them in reverse. */
static void
env_free(struct env *e)
{
	fetch_free(e->f);
	httpd_free(e->h);
	event_base_free(e->base);
}

/* A URL on the test server. */
static char *
url(struct env *e, const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", e->h->port, path);
}

/* Runs one request to completion (5 s at most); 0 when it finished. */
static int
fetch_sync(struct env *e, struct fetch_request *req, struct result *r)
{
	struct orc_error err;

	memset(r, 0, sizeof *r);
	if (fetch_start(e->f, req, record_cb, r, &err) == NULL) {
		fprintf(stderr, "fetch_start: %s\n", err.message);
		return -1;
	}
	/* Never called back from inside fetch_start. */
	if (r->done)
		return -1;
	return httpd_run_until(e->base, &r->done, 5000) ? 0 : -1;
}

/* A GET sends its headers and gets the answer's, in lower case. */
static void
test_fetch_get(void)
{
	static const char *const hdrs[] = { "X-Test: hello there", NULL };
	struct fetch_request req;
	struct result r;
	struct env e;
	json_t *doc;
	char *u;

	env_init(&e);
	u = url(&e, "/echo?a=1");
	memset(&req, 0, sizeof req);
	req.url = u;
	req.headers = hdrs;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.error == NULL);
	CHECK(r.status == 200);
	CHECK_STR(r.reason, "OK");
	CHECK_STR(r.url, u);
	CHECK_STR(json_string_value(json_object_get(r.headers, "x-reply")),
	    "yes");
	CHECK_STR(json_string_value(json_object_get(r.headers,
	    "content-type")), "application/json");
	CHECK(json_object_get(r.headers, "X-Reply") == NULL);
	doc = json_loadb(r.body, r.body_len, 0, NULL);
	REQUIRE(doc != NULL);
	CHECK_STR(json_string_value(json_object_get(doc, "method")), "GET");
	CHECK_STR(json_string_value(json_object_get(doc, "uri")), "/echo?a=1");
	CHECK_STR(json_string_value(json_object_get(json_object_get(doc,
	    "headers"), "x-test")), "hello there");
	json_decref(doc);
	CHECK(fetch_active(e.f) == 0);
	result_clear(&r);
	free(u);
	env_free(&e);
}

/* A POST sends its body (NULs included) and headers; PUT and DELETE go
 * as custom methods. */
static void
test_fetch_post(void)
{
	static const char *const hdrs[] = { "Content-Type: text/x-test",
	    NULL };
	struct fetch_request req;
	struct result r;
	struct env e;
	json_t *doc;
	char *u;

	env_init(&e);
	u = url(&e, "/echo");
	memset(&req, 0, sizeof req);
	req.method = "post";
	req.url = u;
	req.headers = hdrs;
	req.body = "ab\0cd";
	req.body_len = 5;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.status == 200);
	doc = json_loadb(r.body, r.body_len, JSON_ALLOW_NUL, NULL);
	REQUIRE(doc != NULL);
	CHECK_STR(json_string_value(json_object_get(doc, "method")), "POST");
	CHECK(json_string_length(json_object_get(doc, "body")) == 5);
	CHECK(memcmp(json_string_value(json_object_get(doc, "body")),
	    "ab\0cd", 5) == 0);
	CHECK_STR(json_string_value(json_object_get(json_object_get(doc,
	    "headers"), "content-type")), "text/x-test");
	/* No "Expect: 100-continue" round trip. */
	CHECK(json_object_get(json_object_get(doc, "headers"), "expect") ==
	    NULL);
	json_decref(doc);
	result_clear(&r);

	req.method = "PUT";
	req.body = "{}";
	req.body_len = 2;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK_CONTAINS(r.body, "\"method\":\"PUT\"");
	CHECK_CONTAINS(r.body, "\"body\":\"{}\"");
	result_clear(&r);

	req.method = "DELETE";
	req.body = NULL;
	req.body_len = 0;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK_CONTAINS(r.body, "\"method\":\"DELETE\"");
	result_clear(&r);
	free(u);
	env_free(&e);
}

/* A slow answer past timeout_ms is a timeout, reported in time. */
static void
test_fetch_timeout(void)
{
	struct fetch_request req;
	struct result r;
	struct env e;
	int64_t t0;
	char *u;

	env_init(&e);
	u = url(&e, "/slow?ms=3000");
	memset(&req, 0, sizeof req);
	req.url = u;
	req.timeout_ms = 200;
	t0 = orc_mono_ms();
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(orc_mono_ms() - t0 < 1500);
	CHECK(r.timed_out);
	CHECK(r.status == 0);
	CHECK_CONTAINS(r.error, "within 200 ms");
	CHECK(r.duration_ms >= 190);
	result_clear(&r);
	free(u);
	env_free(&e);
}

/* Nothing listening: a transport error, status 0. */
static void
test_fetch_refused(void)
{
	struct fetch_request req;
	struct result r;
	struct env e;
	char *u;

	env_init(&e);
	u = xasprintf("http://127.0.0.1:%d/", httpd_dead_port());
	memset(&req, 0, sizeof req);
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.status == 0);
	CHECK(!r.timed_out);
	REQUIRE(r.error != NULL);
	CHECK_CONTAINS(r.error, "onnect");
	result_clear(&r);
	free(u);
	env_free(&e);
}

/* Bodies over max_response fail, with and without Content-Length;
 * bodies at the cap pass. */
static void
test_fetch_cap(void)
{
	struct fetch_request req;
	struct result r;
	struct env e;
	char *u;

	env_init(&e);
	memset(&req, 0, sizeof req);
	req.max_response = 1000;

	u = url(&e, "/big?n=5000");
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK_STR(r.error, "response over 1000 bytes");
	result_clear(&r);
	free(u);

	u = url(&e, "/chunked?n=5000");
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK_STR(r.error, "response over 1000 bytes");
	result_clear(&r);
	free(u);

	u = url(&e, "/chunked?n=1000");
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.error == NULL);
	CHECK(r.body_len == 1000 && r.body[999] == 'y' && r.body[1000] == 0);
	result_clear(&r);
	free(u);
	env_free(&e);
}

/* The answers held at once are capped (fetch_config.buffer_max): a
 * request that would pass the cap fails with a message that says so (not
 * as too large: it is worth a retry), and its bytes are given back. */
static void
test_fetch_buffer_cap(void)
{
	struct fetch_request req;
	struct result r;
	struct env e;
	char *u;

	env_fc.buffer_max = 65536;
	env_init(&e);
	env_fc.buffer_max = 0;
	memset(&req, 0, sizeof req);

	u = url(&e, "/big?n=100000");
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK_CONTAINS(r.error, "hold over 65536 bytes "
	    "(ORCH_FETCH_BUFFER_BYTES)");
	result_clear(&r);
	free(u);

	/* Twice 40,000 bytes fit, one after the other. */
	u = url(&e, "/chunked?n=40000");
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.error == NULL && r.body_len == 40000);
	result_clear(&r);
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.error == NULL && r.body_len == 40000);
	result_clear(&r);
	free(u);
	env_free(&e);
}

/* A cancelled request is never called back; freeing the client with
 * requests in flight calls none of them either. */
static void
test_fetch_cancel(void)
{
	struct fetch_request req;
	struct result r1, r2, r3;
	struct fetch_req *fr;
	struct env e;
	int never = 0;
	char *u;

	env_init(&e);
	memset(&r1, 0, sizeof r1);
	memset(&r2, 0, sizeof r2);
	memset(&r3, 0, sizeof r3);
	u = url(&e, "/slow?ms=100");
	memset(&req, 0, sizeof req);
	req.url = u;
	fr = fetch_start(e.f, &req, record_cb, &r1, NULL);
	REQUIRE(fr != NULL);
	REQUIRE(fetch_start(e.f, &req, record_cb, &r2, NULL) != NULL);
	CHECK(fetch_active(e.f) == 2);
	fetch_cancel(fr);
	CHECK(fetch_active(e.f) == 1);
	fetch_cancel(NULL);
	CHECK(httpd_run_until(e.base, &r2.done, 3000));
	httpd_run_until(e.base, &never, 300);
	CHECK(r1.calls == 0);
	CHECK(r2.calls == 1 && r2.status == 200);
	CHECK(fetch_active(e.f) == 0);

	REQUIRE(fetch_start(e.f, &req, record_cb, &r3, NULL) != NULL);
	httpd_run_until(e.base, &never, 20);
	fetch_free(e.f);
	e.f = fetch_create(e.base, &env_fc);
	httpd_run_until(e.base, &never, 300);
	CHECK(r3.calls == 0);
	result_clear(&r2);
	free(u);
	env_free(&e);
}

/* A test server on a loop and a thread of its own, so that the client's
 * loop can stand still while answers arrive. */
struct far_server {
	struct event_base	*base;
	struct httpd		*h;
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	int			 stop;		/* under lock */
	struct event		*tick;
};

/* Ends the server's loop once asked to. */
static void
far_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct far_server *fs = arg;
	int stop;

	pthread_mutex_lock(&fs->lock);
	stop = fs->stop;
	pthread_mutex_unlock(&fs->lock);
	if (stop)
		event_base_loopbreak(fs->base);
}

static void *
far_main(void *arg)
{
	struct far_server *fs = arg;

	event_base_dispatch(fs->base);
	return NULL;
}

static void
far_start(struct far_server *fs)
{
	struct timeval tv = { 0, 10000 };

	memset(fs, 0, sizeof *fs);
	pthread_mutex_init(&fs->lock, NULL);
	fs->base = event_base_new();
	fs->h = httpd_start(fs->base);
	fs->tick = event_new(fs->base, -1, EV_PERSIST, far_tick_cb, fs);
	event_add(fs->tick, &tv);
	REQUIRE(pthread_create(&fs->thread, NULL, far_main, fs) == 0);
}

static void
far_stop(struct far_server *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->stop = 1;
	pthread_mutex_unlock(&fs->lock);
	pthread_join(fs->thread, NULL);
	pthread_mutex_destroy(&fs->lock);
	event_free(fs->tick);
	httpd_free(fs->h);
	event_base_free(fs->base);
}

/*
 * Cancels at every point of a request's way with curl on its own thread:
 * while curl has it (the connection is up, no answer yet), and once it
 * finished there but before the loop took it. Neither callback runs,
 * nothing leaks (valgrind and ASan see to that), later requests work.
 */
static void
test_fetch_cancel_threaded(void)
{
	struct fetch_request req;
	struct result r1, r2, r3;
	struct far_server fs;
	struct event_base *base;
	struct fetch_req *fr;
	struct fetch *f;
	int never = 0;
	char *u;

	far_start(&fs);
	base = event_base_new();
	f = fetch_create(base, &env_fc);
	memset(&r1, 0, sizeof r1);
	memset(&r2, 0, sizeof r2);
	memset(&r3, 0, sizeof r3);
	memset(&req, 0, sizeof req);

	/* With curl: the server holds the answer 300 ms. */
	u = xasprintf("http://127.0.0.1:%d/slow?ms=300", fs.h->port);
	req.url = u;
	REQUIRE((fr = fetch_start(f, &req, record_cb, &r1, NULL)) != NULL);
	httpd_run_until(base, &never, 100);
	fetch_cancel(fr);
	CHECK(fetch_active(f) == 0);
	free(u);

	/* Finished on curl's side while the loop stood still. */
	u = xasprintf("http://127.0.0.1:%d/text", fs.h->port);
	req.url = u;
	REQUIRE((fr = fetch_start(f, &req, record_cb, &r2, NULL)) != NULL);
	/* One pass: the turn's end wakes curl's side, no answer is in.
	 * EVLOOP_NONBLOCK alone goes on while callbacks ran, and a second
	 * pass could already find the answer (it did under valgrind). */
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	CHECK(r2.calls == 0);
	usleep(300 * 1000);
	fetch_cancel(fr);
	httpd_run_until(base, &never, 400);
	CHECK(r1.calls == 0);
	CHECK(r2.calls == 0);

	/* Still in working order. */
	REQUIRE(fetch_start(f, &req, record_cb, &r3, NULL) != NULL);
	CHECK(httpd_run_until(base, &r3.done, 3000));
	CHECK(r3.calls == 1 && r3.status == 200);
	CHECK(fetch_active(f) == 0);
	result_clear(&r3);
	free(u);
	fetch_free(f);
	event_base_free(base);
	far_stop(&fs);
}

/*
 * With the thread and near_max 1: a request started while the thread has
 * none goes to the loop's client, the next one (that client is full) to
 * the thread. Told apart by a loop that stands still after one pass:
 * the thread's request reaches the server, the loop's does not, until
 * the loop runs. Then both answers come, and the cap is the client's.
 */
static void
test_fetch_near(void)
{
	struct fetch_config fc;
	struct fetch_request req;
	struct result r1, r2;
	struct far_server fs;
	struct event_base *base;
	struct fetch *f;
	int i, seen;
	char *u;

	far_start(&fs);
	base = event_base_new();
	memset(&fc, 0, sizeof fc);
	fc.near_max = 1;
	f = fetch_create(base, &fc);
	memset(&r1, 0, sizeof r1);
	memset(&r2, 0, sizeof r2);
	u = xasprintf("http://127.0.0.1:%d/text", fs.h->port);
	memset(&req, 0, sizeof req);
	req.url = u;
	REQUIRE(fetch_start(f, &req, record_cb, &r1, NULL) != NULL);
	REQUIRE(fetch_start(f, &req, record_cb, &r2, NULL) != NULL);
	CHECK(fetch_active(f) == 2);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	for (i = 0, seen = 0; i < 300 && seen < 1; i++) {
		usleep(10000);
		pthread_mutex_lock(&fs.lock);
		seen = fs.h->requests;
		pthread_mutex_unlock(&fs.lock);
	}
	usleep(100 * 1000);
	pthread_mutex_lock(&fs.lock);
	seen = fs.h->requests;
	pthread_mutex_unlock(&fs.lock);
	CHECK(seen == 1);
	CHECK(httpd_run_until(base, &r1.done, 3000));
	CHECK(httpd_run_until(base, &r2.done, 3000));
	CHECK(r1.calls == 1 && r1.status == 200);
	CHECK(r2.calls == 1 && r2.status == 200);
	CHECK(fetch_active(f) == 0);
	result_clear(&r1);
	result_clear(&r2);
	free(u);
	fetch_free(f);
	event_base_free(base);
	far_stop(&fs);
}

/* Many requests in flight at once. */
struct many {
	int	 done;
	int	 ok;
	int	 all;
	int	 want;
};

/* Counts one of many answers. */
static void
many_cb(const struct fetch_response *resp, void *arg)
{
	struct many *m = arg;

	m->done++;
	if (resp->error == NULL && resp->status == 200 &&
	    resp->body_len == 4 && memcmp(resp->body, "slow", 4) == 0)
		m->ok++;
	if (m->done == m->want)
		m->all = 1;
}

/* 200 requests to a handler answering after 200 ms finish together,
 * well under the 40 s they would take one after another. */
static void
test_fetch_concurrent(void)
{
	struct fetch_request req;
	struct many m;
	struct env e;
	int64_t t0, took;
	int i;
	char *u;

	env_init(&e);
	memset(&m, 0, sizeof m);
	m.want = 200;
	u = url(&e, "/slow?ms=200");
	memset(&req, 0, sizeof req);
	req.url = u;
	t0 = orc_mono_ms();
	for (i = 0; i < m.want; i++)
		REQUIRE(fetch_start(e.f, &req, many_cb, &m, NULL) != NULL);
	CHECK(fetch_active(e.f) == 200);
	CHECK(httpd_run_until(e.base, &m.all, 10000));
	took = orc_mono_ms() - t0;
	CHECK(m.ok == 200);
	CHECK(took < 2000);
	CHECK(e.h->requests == 200);
	CHECK(fetch_active(e.f) == 0);
	printf("# 200 requests of 200 ms in %lld ms over %d connections\n",
	    (long long)took, e.h->nports);
	free(u);
	env_free(&e);
}

/* One after another: the callback starts the next request. */
struct chain {
	struct fetch		*f;
	struct fetch_request	*req;
	int			 left;
	int			 ok;
	int			 all;
};

/* Starts the next request of the chain from the callback. */
static void
chain_cb(const struct fetch_response *resp, void *arg)
{
	struct chain *c = arg;

	if (resp->status == 200)
		c->ok++;
	if (--c->left == 0) {
		c->all = 1;
		return;
	}
	if (fetch_start(c->f, c->req, chain_cb, c, NULL) == NULL)
		c->all = 1;
}

/*
 * More requests in flight than the old connection cache held (256), as
 * under load: 400 chains of 3 requests each, every answer starting the
 * chain's next request. They reuse the connections the first ones opened
 * (a cache smaller than the requests in flight closed each connection
 * as its request finished, so that under load every request opened one).
 * Needs descriptors for both ends of 400 connections.
 */
static void
test_fetch_reuse_many(void)
{
	struct fetch_request req;
	struct chain c[400];
	struct rlimit rl;
	struct env e;
	int i, ok;
	char *u;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 &&
	    rl.rlim_max >= 4096) {
		rl.rlim_cur = 4096;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 4096) {
		printf("# skipped: fewer than 4096 descriptors allowed\n");
		return;
	}
	env_init(&e);
	u = url(&e, "/slow?ms=20");
	memset(&req, 0, sizeof req);
	req.url = u;
	memset(c, 0, sizeof c);
	for (i = 0; i < 400; i++) {
		c[i].f = e.f;
		c[i].req = &req;
		c[i].left = 3;
		REQUIRE(fetch_start(e.f, &req, chain_cb, &c[i], NULL) != NULL);
	}
	/* They run together: waiting for each in turn waits for all. */
	for (i = 0, ok = 0; i < 400; i++) {
		CHECK(httpd_run_until(e.base, &c[i].all, 20000));
		ok += c[i].ok;
	}
	printf("# 1200 requests, 400 at a time, over %d connections\n",
	    e.h->accepted);
	CHECK(ok == 1200);
	CHECK(e.h->requests == 1200);
	CHECK(e.h->accepted <= 440);
	free(u);
	env_free(&e);
}

/* Sequential requests to one server reuse one connection. */
static void
test_fetch_keepalive(void)
{
	struct fetch_request req;
	struct chain c;
	struct env e;
	char *u;

	env_init(&e);
	u = url(&e, "/echo");
	memset(&req, 0, sizeof req);
	req.url = u;
	memset(&c, 0, sizeof c);
	c.f = e.f;
	c.req = &req;
	c.left = 10;
	REQUIRE(fetch_start(e.f, &req, chain_cb, &c, NULL) != NULL);
	CHECK(httpd_run_until(e.base, &c.all, 5000));
	CHECK(c.ok == 10);
	CHECK(e.h->requests == 10);
	CHECK(e.h->nports == 1);
	free(u);
	env_free(&e);
}

/* Redirects: reported as they are unless followed; followed ones are
 * checked against allow, and 303 turns a POST into a GET. */
static void
test_fetch_redirects(void)
{
	struct fetch_request req;
	struct result r;
	struct env e;
	json_t *allow;
	char *u, *target, *hosts;

	env_init(&e);
	target = url(&e, "/echo");
	u = xasprintf("http://127.0.0.1:%d/redirect?to=%s", e.h->port,
	    target);
	memset(&req, 0, sizeof req);
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.status == 302);
	CHECK_STR(json_string_value(json_object_get(r.headers, "location")),
	    target);
	result_clear(&r);

	req.follow_redirects = 1;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.status == 200);
	CHECK_STR(r.url, target);
	CHECK_CONTAINS(r.body, "\"method\":\"GET\"");
	/* The headers are the last answer's. */
	CHECK(json_object_get(r.headers, "location") == NULL);
	result_clear(&r);
	free(u);

	/* 303 after a POST: a GET without the body. */
	u = xasprintf("http://127.0.0.1:%d/redirect?code=303&to=/echo",
	    e.h->port);
	req.url = u;
	req.method = "POST";
	req.body = "data";
	req.body_len = 4;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.status == 200);
	CHECK_CONTAINS(r.body, "\"method\":\"GET\"");
	CHECK_CONTAINS(r.body, "\"body\":\"\"");
	result_clear(&r);
	free(u);

	/* 307 keeps the method and the body. */
	u = xasprintf("http://127.0.0.1:%d/redirect?code=307&to=/echo",
	    e.h->port);
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK_CONTAINS(r.body, "\"method\":\"POST\"");
	CHECK_CONTAINS(r.body, "\"body\":\"data\"");
	result_clear(&r);
	free(u);

	/* A hop to a host allow does not list is refused before it
	 * connects. */
	req.method = NULL;
	req.body = NULL;
	req.body_len = 0;
	hosts = xasprintf("{\"hosts\":[\"127.0.0.1:%d\"]}", e.h->port);
	allow = json_loads(hosts, 0, NULL);
	req.allow = allow;
	u = xasprintf("http://127.0.0.1:%d/redirect?to=http://10.9.9.9:81/",
	    e.h->port);
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.refused);
	CHECK_CONTAINS(r.error, "host 10.9.9.9:81 is not in the workflow's "
	    "allow.hosts");
	result_clear(&r);
	free(u);

	/* A loop stops after 10 hops. */
	u = xasprintf("http://127.0.0.1:%d/loop", e.h->port);
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK_STR(r.error, "more than 10 redirects");
	CHECK(!r.refused);
	result_clear(&r);
	free(u);

	json_decref(allow);
	free(hosts);
	free(target);
	env_free(&e);
}

/*
 * Repeated answer headers are joined with ", ", in linear time: N repeats
 * of one header take about as long as N different headers (joining each
 * repeat onto a copy of the ones before took quadratic time: 30,000
 * repeats cost 1.5 s of the fetch thread).
 */
static void
test_fetch_repeated_headers(void)
{
	enum { N = 16000 };	/* curl takes 300 KiB of headers at most */
	struct fetch_request req;
	struct result r;
	struct env e;
	const char *v;
	int64_t distinct, repeated;
	size_t i, len;
	char *u;
	int bad = 0;

	env_init(&e);
	memset(&req, 0, sizeof req);
	u = xasprintf("http://127.0.0.1:%d/repeat?n=%d&distinct=1",
	    e.h->port, N);
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.error == NULL && r.status == 200);
	CHECK(json_object_size(r.headers) >= N);
	distinct = r.duration_ms;
	result_clear(&r);
	free(u);

	u = xasprintf("http://127.0.0.1:%d/repeat?n=%d", e.h->port, N);
	req.url = u;
	REQUIRE(fetch_sync(&e, &req, &r) == 0);
	CHECK(r.error == NULL && r.status == 200);
	repeated = r.duration_ms;
	v = json_string_value(json_object_get(r.headers, "x-rep"));
	REQUIRE(v != NULL);
	len = strlen(v);
	CHECK(len == 3 * N - 2);
	for (i = 0; i < len && !bad; i++)
		bad = v[i] != (i % 3 == 0 ? 'v' : i % 3 == 1 ? ',' : ' ');
	CHECK(!bad);
	fprintf(stderr, "# %d headers: %lld ms distinct, %lld ms repeated\n",
	    N, (long long)distinct, (long long)repeated);
	CHECK(repeated <= 4 * distinct + 300);
	result_clear(&r);
	free(u);
	env_free(&e);
}

/* What cannot start is refused by fetch_start, with a code. */
static void
test_fetch_start_errors(void)
{
	static const char *const bad[] = { "X: a\r\nY: b", NULL };
	static const char *const hosts[] = { "Host: internal", "host:x",
	    " HOST : x", "Host;", NULL };
	const char *lines[2] = { NULL, NULL };
	struct fetch_request req;
	struct orc_error err;
	struct result r;
	struct env e;
	json_t *allow;
	size_t i;

	env_init(&e);
	memset(&r, 0, sizeof r);
	memset(&req, 0, sizeof req);
	req.url = "not a url";
	CHECK(fetch_start(e.f, &req, record_cb, &r, &err) == NULL);
	CHECK(err.code == ORC_EINVAL);
	req.url = "ftp://127.0.0.1/";
	CHECK(fetch_start(e.f, &req, record_cb, &r, &err) == NULL);
	CHECK(err.code == ORC_EPERM);
	req.url = "http://127.0.0.1:1/";
	req.method = "GET /x HTTP/1.1\r\n";
	CHECK(fetch_start(e.f, &req, record_cb, &r, &err) == NULL);
	CHECK(err.code == ORC_EINVAL);
	req.method = NULL;
	req.headers = bad;
	CHECK(fetch_start(e.f, &req, record_cb, &r, &err) == NULL);
	CHECK_CONTAINS(err.message, "line break");
	/* Host, however written (ctx.fetch passes lines as they come). */
	for (i = 0; hosts[i] != NULL; i++) {
		lines[0] = hosts[i];
		req.headers = lines;
		CHECK(fetch_start(e.f, &req, record_cb, &r, &err) == NULL);
		CHECK(err.code == ORC_EPERM);
		CHECK_CONTAINS(err.message, "is refused: the host is the "
		    "url's");
	}
	req.headers = NULL;
	allow = json_loads("{\"hosts\":[\"example.com\"]}", 0, NULL);
	req.allow = allow;
	CHECK(fetch_start(e.f, &req, record_cb, &r, &err) == NULL);
	CHECK(err.code == ORC_EPERM);
	CHECK_STR(err.message, "host 127.0.0.1:1 is not in the workflow's "
	    "allow.hosts");
	json_decref(allow);
	CHECK(fetch_active(e.f) == 0);
	CHECK(r.calls == 0);
	env_free(&e);
}

/* A callback that frees the client with others in flight or done. */
struct freeing {
	struct fetch	**f;
	int		 calls;
	int		 freed;
};

/* Frees the client on the first call. */
static void
freeing_cb(const struct fetch_response *resp, void *arg)
{
	struct freeing *fr = arg;

	fr->calls++;
	if (*fr->f != NULL) {
		fetch_free(*fr->f);
		*fr->f = NULL;
		fr->freed = 1;
	}
}

/* Freeing the client from inside a callback is safe and stops the
 * other callbacks. */
static void
test_fetch_free_in_callback(void)
{
	struct fetch_request req;
	struct freeing fr;
	struct env e;
	int i, never = 0;
	char *u;

	env_init(&e);
	memset(&fr, 0, sizeof fr);
	fr.f = &e.f;
	u = url(&e, "/echo");
	memset(&req, 0, sizeof req);
	req.url = u;
	for (i = 0; i < 5; i++)
		REQUIRE(fetch_start(e.f, &req, freeing_cb, &fr, NULL) != NULL);
	CHECK(httpd_run_until(e.base, &fr.freed, 5000));
	httpd_run_until(e.base, &never, 200);
	CHECK(fr.calls == 1);
	free(u);
	env_free(&e);
}

/* Every test, with curl on the loop's thread or on its own. */
static void
run_all(void)
{
	TEST_RUN(test_fetch_get);
	TEST_RUN(test_fetch_post);
	TEST_RUN(test_fetch_timeout);
	TEST_RUN(test_fetch_refused);
	TEST_RUN(test_fetch_cap);
	TEST_RUN(test_fetch_buffer_cap);
	TEST_RUN(test_fetch_cancel);
	TEST_RUN(test_fetch_concurrent);
	TEST_RUN(test_fetch_keepalive);
	TEST_RUN(test_fetch_reuse_many);
	TEST_RUN(test_fetch_redirects);
	TEST_RUN(test_fetch_start_errors);
	TEST_RUN(test_fetch_repeated_headers);
	TEST_RUN(test_fetch_free_in_callback);
}

int
main(void)
{
	/* The default: the thread, the loop while it is idle. */
	run_all();
	TEST_RUN(test_fetch_near);
	/* Every request on the thread. */
	env_fc.near_max = -1;
	run_all();
	TEST_RUN(test_fetch_cancel_threaded);
	/* ORCH_FETCH_THREAD=0: curl on the loop's thread. */
	env_fc.near_max = 0;
	env_fc.no_thread = 1;
	run_all();
	TEST_DONE();
}
