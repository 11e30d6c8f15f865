/*
 * Tests of the HTTP server: a real server on 127.0.0.1 with a real engine
 * and store in the test's folder, its loop on a second thread, driven with
 * libcurl from the test's thread. Only HTTP crosses between the threads.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/hmac.h>

#include "diag.h"
#include "engine.h"
#include "http.h"
#include "store.h"
#include "strbuf.h"
#include "workflow.h"
#include "test.h"

#define TOKEN	"sekret"
#define DEADLINE_MS	500	/* --read-timeout-ms of test_http_deadline */
#define SECRET	"hook-secret"

static const char *const test_wfs[] = {
	"{\"name\":\"echo\",\"trigger\":{\"webhook\":{\"path\":\"/hooks/echo\","
	"\"max_body_bytes\":200}},\"input\":{\"type\":\"object\","
	"\"required\":[\"a\"]},\"steps\":[{\"name\":\"t\",\"uses\":"
	"\"transform\",\"with\":{\"got\":\"{{input.a}}\"}}]}",
	"{\"name\":\"sync\",\"trigger\":{\"webhook\":{\"path\":\"/hooks/sync\","
	"\"mode\":\"sync\"}},\"steps\":[{\"name\":\"t\",\"uses\":"
	"\"transform\",\"with\":{\"ok\":true}}]}",
	"{\"name\":\"fail\",\"trigger\":{\"webhook\":{\"path\":\"/hooks/fail\","
	"\"mode\":\"sync\"}},\"steps\":[{\"name\":\"d\",\"uses\":"
	"\"json.decode\",\"with\":{\"format\":\"json\"}}]}",
	"{\"name\":\"signed\",\"trigger\":{\"webhook\":{\"path\":"
	"\"/hooks/signed\",\"secret_env\":\"TEST_HOOK_SECRET\"}},"
	"\"steps\":[{\"name\":\"t\",\"uses\":\"transform\"}]}",
	"{\"name\":\"slow\",\"concurrency\":1,\"trigger\":{\"webhook\":"
	"{\"path\":\"/hooks/slow\"}},\"steps\":[{\"name\":\"w\",\"uses\":"
	"\"wait\",\"with\":{\"ms\":1500}}]}",
	NULL
};

struct server {
	struct event_base	*base;
	struct store		*store;
	struct engine		*engine;
	struct http_server	*http;
	struct event		*tick;
	pthread_t		 thread;
	atomic_int		 stop;
	char			 url[64];
};

/* The read deadline of the next server_start; 0: the default. */
static int test_read_timeout_ms;
/* And its bound on request bytes held; 0: the default. */
static size_t test_max_inflight;

struct resp {
	long			 status;
	struct strbuf		 body;
	struct strbuf		 headers;
};

/* Ends the loop when the test thread asks. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	if (atomic_load(&s->stop))
		event_base_loopbreak(s->base);
}

/* The server's thread: only the loop. */
static void *
loop_main(void *arg)
{
	struct server *s = arg;

	event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* Starts a server on a free port with the test workflows. */
static int
server_start(struct server *s)
{
	struct http_config hc = { "127.0.0.1:0", TOKEN, 1, 0, 5, 0, 0 };
	struct engine_config ec;
	struct workflow *wfs[8];
	struct orc_error err;
	struct timeval tv = { 0, 10000 };
	struct diag *d;
	size_t n;

	hc.read_timeout_ms = test_read_timeout_ms;
	hc.max_inflight = test_max_inflight;
	memset(s, 0, sizeof *s);
	s->base = event_base_new();
	if ((s->store = store_open("test.db", 0, s->base, &err)) == NULL)
		return -1;
	memset(&ec, 0, sizeof ec);
	ec.buckets_dir = "buckets";
	ec.max_queue = 1;
	s->engine = engine_create(s->base, s->store, &ec);
	if ((s->http = http_create(s->base, s->engine, s->store, &hc,
	    &err)) == NULL) {
		fprintf(stderr, "http_create: %s\n", err.message);
		return -1;
	}
	d = diag_create();
	for (n = 0; test_wfs[n] != NULL; n++) {
		wfs[n] = workflow_load_text(test_wfs[n], strlen(test_wfs[n]),
		    "wf.json", d);
		if (wfs[n] == NULL) {
			fprintf(stderr, "%s\n", diag_at(d, 0));
			return -1;
		}
	}
	diag_free(d);
	http_set_workflows(s->http, wfs, n);
	while (n > 0)
		workflow_unref(wfs[--n]);
	snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d",
	    http_port(s->http));
	s->tick = event_new(s->base, -1, EV_PERSIST, tick_cb, s);
	event_add(s->tick, &tv);
	return pthread_create(&s->thread, NULL, loop_main, s);
}

/* Stops the loop and frees the server, the engine and the store. */
static void
server_stop(struct server *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	http_free(s->http);
	engine_free(s->engine);
	store_close(s->store);
	event_free(s->tick);
	event_base_free(s->base);
}

/* Collects a body or headers. */
static size_t
collect_cb(char *p, size_t size, size_t n, void *arg)
{
	strbuf_add(arg, p, size * n);
	return size * n;
}

/*
 * One request. hdrs is a NULL-terminated list of "Name: value" lines;
 * ctype, when set, is the Content-Type; token adds the bearer token.
 */
static void
req(struct server *s, struct resp *r, const char *method, const char *path,
    const char *ctype, const char *body, const char *const *hdrs, int token,
    long timeout_ms)
{
	struct curl_slist *list = NULL;
	char url[512], line[256];
	CURL *c = curl_easy_init();

	memset(r, 0, sizeof *r);
	snprintf(url, sizeof url, "%s%s", s->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	snprintf(line, sizeof line, "Content-Type: %s", ctype ? ctype : "");
	list = curl_slist_append(list, line);
	if (token)
		list = curl_slist_append(list, "Authorization: Bearer " TOKEN);
	for (; hdrs != NULL && *hdrs != NULL; hdrs++)
		list = curl_slist_append(list, *hdrs);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms ? timeout_ms :
	    20000L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	strbuf_addc(&r->body, '\0');
	strbuf_addc(&r->headers, '\0');
	curl_slist_free_all(list);
	curl_easy_cleanup(c);
}

/* A JSON POST with the token. */
static void
post(struct server *s, struct resp *r, const char *path, const char *body,
    const char *const *hdrs)
{
	req(s, r, "POST", path, "application/json", body, hdrs, 1, 0);
}

/* A GET with the token. */
static void
get(struct server *s, struct resp *r, const char *path)
{
	req(s, r, "GET", path, NULL, NULL, NULL, 1, 0);
}

static void
resp_free(struct resp *r)
{
	strbuf_free(&r->body);
	strbuf_free(&r->headers);
}

/* The run id of a 202 body, into id. */
static void
run_id_of(const struct resp *r, char *id, size_t len)
{
	json_t *o = json_loads(r->body.s, 0, NULL);

	snprintf(id, len, "%s", json_string_value(json_object_get(o,
	    "run_id")) ? json_string_value(json_object_get(o, "run_id")) :
	    "");
	json_decref(o);
}

/* POSTs body as a form, curl -d's type; the status, and the run id into
 * id (64 bytes) unless it is NULL. */
static long
post_form(struct server *s, const char *path, const char *body, char *id)
{
	struct resp r;
	long status;

	req(s, &r, "POST", path, "application/x-www-form-urlencoded", body,
	    NULL, 0, 0);
	status = r.status;
	if (id != NULL)
		run_id_of(&r, id, 64);
	resp_free(&r);
	return status;
}

/* Async webhook: 202 after the commit, Location, the run then succeeds. */
static void
test_http_async(void)
{
	struct server s;
	struct resp r;
	char id[64], path[128];

	REQUIRE(server_start(&s) == 0);
	req(&s, &r, "POST", "/hooks/echo", "application/json", "{\"a\":7}",
	    NULL, 0, 0);
	CHECK(r.status == 202);
	run_id_of(&r, id, sizeof id);
	CHECK(strlen(id) == 26);
	snprintf(path, sizeof path, "Location: /runs/%s", id);
	CHECK_CONTAINS(r.headers.s, path);
	resp_free(&r);
	snprintf(path, sizeof path, "/runs/%s?wait=5000", id);
	get(&s, &r, path);
	CHECK(r.status == 200);
	CHECK_CONTAINS(r.body.s, "\"state\":\"succeeded\"");
	CHECK_CONTAINS(r.body.s, "\"got\":");
	CHECK_CONTAINS(r.body.s, "\"transitions\":[{");
	resp_free(&r);
	/* A form body and a text body are accepted too. */
	CHECK(post_form(&s, "/hooks/echo", "a=1&a=2", NULL) == 202);
	/* JSON under the form type (curl -d's default) is read as JSON. */
	CHECK(post_form(&s, "/hooks/echo", " {\"a\":\"j\"}", id) == 202);
	snprintf(path, sizeof path, "/runs/%s?wait=5000", id);
	get(&s, &r, path);
	CHECK_CONTAINS(r.body.s, "\"got\":\"j\"");
	resp_free(&r);
	/* An array too; a form that only starts like JSON stays a form. */
	CHECK(post_form(&s, "/hooks/sync", "[1,2]", NULL) == 200);
	CHECK(post_form(&s, "/hooks/echo", "{a=1", NULL) == 422);
	server_stop(&s);
}

/* Sync mode, its failure and Prefer: wait. */
static void
test_http_sync(void)
{
	static const char *const prefer[] = { "Prefer: wait=5", NULL };
	struct server s;
	struct resp r;

	REQUIRE(server_start(&s) == 0);
	req(&s, &r, "POST", "/hooks/sync", NULL, NULL, NULL, 0, 0);
	CHECK(r.status == 200);
	CHECK_STR(r.body.s, "{\"ok\":true}");
	resp_free(&r);
	req(&s, &r, "POST", "/hooks/fail", "text/plain", "not json", NULL, 0,
	    0);
	CHECK(r.status == 500);
	CHECK_CONTAINS(r.body.s, "\"code\":\"run_failed\"");
	CHECK_CONTAINS(r.body.s, "\"run_id\":\"");
	resp_free(&r);
	req(&s, &r, "POST", "/hooks/echo", "application/json", "{\"a\":\"x\"}",
	    prefer, 0, 0);
	CHECK(r.status == 200);
	CHECK_CONTAINS(r.body.s, "\"got\":\"x\"");
	CHECK_CONTAINS(r.headers.s, "Preference-Applied: wait=5");
	resp_free(&r);
	/* Past the wait: the async answer; the run goes on. */
	static const char *const short_wait[] = { "Prefer: wait=0", NULL };
	req(&s, &r, "POST", "/hooks/slow", NULL, NULL, short_wait, 0, 0);
	CHECK(r.status == 202);
	resp_free(&r);
	server_stop(&s);
}

/* The HMAC of a body with the test secret, as the header wants it. */
static void
sign(const char *body, char *hdr, size_t len)
{
	unsigned char mac[32];
	unsigned int n = 0, i;
	int off;

	HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET),
	    (const unsigned char *)body, strlen(body), mac, &n);
	off = snprintf(hdr, len, "X-Signature-256: sha256=");
	for (i = 0; i < n; i++)
		off += snprintf(hdr + off, len - off, "%02x", mac[i]);
}

/* Every error code, each with its JSON body. */
static void
test_http_errors(void)
{
	static const char *const badsig[] = { "X-Signature-256: sha256=00",
	    NULL };
	const char *goodsig[2] = { NULL, NULL };
	char big[400], sig[128];
	struct server s;
	struct resp r;

	setenv("TEST_HOOK_SECRET", SECRET, 1);
	REQUIRE(server_start(&s) == 0);
	post(&s, &r, "/hooks/echo", "{\"a\":", NULL);
	CHECK(r.status == 400);
	CHECK_CONTAINS(r.body.s, "\"code\":\"bad_json\"");
	CHECK_CONTAINS(r.body.s, "line 1");
	resp_free(&r);
	req(&s, &r, "GET", "/runs", NULL, NULL, NULL, 0, 0);
	CHECK(r.status == 401);
	CHECK_CONTAINS(r.body.s, "\"code\":\"unauthorized\"");
	resp_free(&r);
	req(&s, &r, "GET", "/healthz", NULL, NULL, NULL, 0, 0);
	CHECK(r.status == 200);
	CHECK_STR(r.body.s, "{\"status\":\"ok\"}");
	resp_free(&r);
	post(&s, &r, "/hooks/signed", "{}", badsig);
	CHECK(r.status == 401);
	resp_free(&r);
	post(&s, &r, "/hooks/signed", "{}", NULL);
	CHECK(r.status == 401);
	resp_free(&r);
	sign("{\"v\":1}", sig, sizeof sig);
	goodsig[0] = sig;
	post(&s, &r, "/hooks/signed", "{\"v\":1}", goodsig);
	CHECK(r.status == 202);
	resp_free(&r);
	get(&s, &r, "/nope");
	CHECK(r.status == 404);
	CHECK_CONTAINS(r.body.s, "\"code\":\"not_found\"");
	resp_free(&r);
	get(&s, &r, "/runs/01ARZ3NDEKTSV4RRFFQ69G5FAV");
	CHECK(r.status == 404);
	resp_free(&r);
	req(&s, &r, "GET", "/hooks/echo", NULL, NULL, NULL, 0, 0);
	CHECK(r.status == 405);
	CHECK_CONTAINS(r.headers.s, "Allow: POST");
	resp_free(&r);
	req(&s, &r, "DELETE", "/runs", NULL, NULL, NULL, 1, 0);
	CHECK(r.status == 405);
	CHECK_CONTAINS(r.body.s, "method_not_allowed");
	resp_free(&r);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	req(&s, &r, "POST", "/hooks/echo", "text/plain", big, NULL, 0, 0);
	CHECK(r.status == 413);
	CHECK_CONTAINS(r.body.s, "payload_too_large");
	resp_free(&r);
	req(&s, &r, "POST", "/hooks/echo", "application/xml", "<a/>", NULL, 0,
	    0);
	CHECK(r.status == 415);
	resp_free(&r);
	post(&s, &r, "/hooks/echo", "{\"b\":1}", NULL);
	CHECK(r.status == 422);
	CHECK_CONTAINS(r.body.s, "invalid_input");
	/* The engine's check names the workflow and the missing key. */
	CHECK_CONTAINS(r.body.s, "input of workflow echo: a: required");
	resp_free(&r);
	post(&s, &r, "/workflows/nope/runs", "{}", NULL);
	CHECK(r.status == 404);
	resp_free(&r);
	http_drain(s.http);
	req(&s, &r, "GET", "/healthz", NULL, NULL, NULL, 0, 0);
	CHECK(r.status == 503);
	CHECK_CONTAINS(r.body.s, "shutting_down");
	resp_free(&r);
	server_stop(&s);
}

/* A workflow at its concurrency limit with a full queue answers 429. */
static void
test_http_too_many(void)
{
	struct server s;
	struct resp r;
	int i, ok = 0, full = 0;

	REQUIRE(server_start(&s) == 0);
	for (i = 0; i < 3; i++) {
		post(&s, &r, "/hooks/slow", "{}", NULL);
		if (r.status == 202)
			ok++;
		if (r.status == 429) {
			full++;
			CHECK_CONTAINS(r.headers.s, "Retry-After: 1");
			CHECK_CONTAINS(r.body.s, "too_many_requests");
		}
		resp_free(&r);
	}
	CHECK(ok == 2);
	CHECK(full == 1);
	/* A client that gives up while a sync trigger waits. */
	static const char *const wait[] = { "Prefer: wait=10", NULL };
	req(&s, &r, "POST", "/workflows/sync/runs", NULL, NULL, wait, 1, 0);
	CHECK(r.status == 200);
	resp_free(&r);
	server_stop(&s);
}

/* Idempotency-Key: the second request returns the first run. */
static void
test_http_idempotency(void)
{
	static const char *const key[] = { "Idempotency-Key: k-1", NULL };
	char id1[64], id2[64];
	struct server s;
	struct resp r;

	REQUIRE(server_start(&s) == 0);
	post(&s, &r, "/hooks/echo", "{\"a\":1}", key);
	CHECK(r.status == 202);
	run_id_of(&r, id1, sizeof id1);
	resp_free(&r);
	post(&s, &r, "/hooks/echo", "{\"a\":2}", key);
	CHECK(r.status == 202);
	run_id_of(&r, id2, sizeof id2);
	CHECK_CONTAINS(r.headers.s, "Idempotent-Replayed: true");
	CHECK_STR(id1, id2);
	resp_free(&r);
	get(&s, &r, "/runs?workflow=echo");
	CHECK(r.status == 200);
	CHECK_CONTAINS(r.body.s, id1);
	CHECK(strstr(strstr(r.body.s, id1) + 1, "\"id\"") == NULL);
	resp_free(&r);
	server_stop(&s);
}

/* Lists, events, cancel, retry, bulk retry, workflows and metrics. */
static void
test_http_runs_api(void)
{
	struct server s;
	struct resp r;
	char id[64], path[128];

	REQUIRE(server_start(&s) == 0);
	post(&s, &r, "/hooks/echo", "{\"a\":1}", NULL);
	resp_free(&r);
	post(&s, &r, "/hooks/slow", "{}", NULL);
	run_id_of(&r, id, sizeof id);
	resp_free(&r);
	get(&s, &r, "/runs?limit=1");
	CHECK(r.status == 200);
	CHECK_CONTAINS(r.body.s, "\"next_before\":\"");
	resp_free(&r);
	get(&s, &r, "/runs?limit=x");
	CHECK(r.status == 400);
	resp_free(&r);
	snprintf(path, sizeof path, "/runs/%s/events", id);
	get(&s, &r, path);
	CHECK(r.status == 200);
	CHECK_CONTAINS(r.headers.s, "text/event-stream");
	CHECK_CONTAINS(r.body.s, "event: transition\ndata: {");
	CHECK_CONTAINS(r.body.s, "\"event\":\"succeeded\"");
	CHECK_CONTAINS(r.body.s, "event: finished\ndata: {");
	resp_free(&r);
	/* A finished run cannot be cancelled; a running one can. */
	snprintf(path, sizeof path, "/runs/%s/cancel", id);
	post(&s, &r, path, NULL, NULL);
	CHECK(r.status == 409);
	resp_free(&r);
	post(&s, &r, "/hooks/slow", "{}", NULL);
	run_id_of(&r, id, sizeof id);
	resp_free(&r);
	snprintf(path, sizeof path, "/runs/%s/cancel", id);
	post(&s, &r, path, NULL, NULL);
	CHECK(r.status == 200);
	CHECK_CONTAINS(r.body.s, "\"state\":\"cancelled\"");
	resp_free(&r);
	snprintf(path, sizeof path, "/runs/%s/retry", id);
	post(&s, &r, path, "{\"latest\":true}", NULL);
	CHECK(r.status == 200);
	CHECK_CONTAINS(r.body.s, id);
	CHECK(strstr(r.body.s, "\"state\":\"cancelled\"") == NULL);
	resp_free(&r);
	post(&s, &r, path, "{\"nope\":1}", NULL);
	CHECK(r.status == 422 || r.status == 409);
	resp_free(&r);
	req(&s, &r, "POST", "/hooks/fail", "text/plain", "x", NULL, 0, 0);
	resp_free(&r);
	post(&s, &r, "/runs/retry?workflow=fail&state=failed", NULL, NULL);
	CHECK(r.status == 200);
	CHECK_STR(r.body.s, "{\"retried\":1}");
	resp_free(&r);
	get(&s, &r, "/workflows");
	CHECK_CONTAINS(r.body.s, "\"name\":\"echo\"");
	CHECK_CONTAINS(r.body.s, "\"path\":\"/hooks/sync\",\"mode\":\"sync\"");
	resp_free(&r);
	get(&s, &r, "/workflows/echo");
	CHECK(r.status == 200);
	CHECK_CONTAINS(r.body.s, "\"required\":[\"a\"]");
	resp_free(&r);
	get(&s, &r, "/metrics");
	CHECK(r.status == 200);
	CHECK_CONTAINS(r.body.s, "orchestrator_runs{state=\"succeeded\"} ");
	CHECK_CONTAINS(r.body.s, "orchestrator_runs_submitted_total ");
	CHECK_CONTAINS(r.body.s, "orchestrator_queue_depth ");
	CHECK_CONTAINS(r.body.s, "orchestrator_step_duration_seconds_bucket"
	    "{le=\"+Inf\"} ");
	CHECK_CONTAINS(r.body.s, "orchestrator_http_requests_total{code=\"202"
	    "\"} ");
	CHECK_CONTAINS(r.body.s, "orchestrator_store_healthy 1");
	CHECK_CONTAINS(r.body.s, "orchestrator_store_commits_total ");
	CHECK_CONTAINS(r.body.s, "orchestrator_store_changes_total ");
	CHECK(strstr(r.body.s, "orchestrator_store_commits_total 0\n") ==
	    NULL);
	resp_free(&r);
	server_stop(&s);
}

/* Clients that leave while their answer is pending. */
static void
test_http_gone(void)
{
	static const char *const wait[] = { "Prefer: wait=10", NULL };
	struct server s;
	struct resp r;
	char id[64], path[128];

	REQUIRE(server_start(&s) == 0);
	post(&s, &r, "/hooks/slow", "{}", NULL);
	run_id_of(&r, id, sizeof id);
	resp_free(&r);
	snprintf(path, sizeof path, "/runs/%s?wait=10000", id);
	req(&s, &r, "GET", path, NULL, NULL, NULL, 1, 200);
	CHECK(r.status == 0);
	resp_free(&r);
	snprintf(path, sizeof path, "/runs/%s/events", id);
	req(&s, &r, "GET", path, NULL, NULL, NULL, 1, 200);
	resp_free(&r);
	req(&s, &r, "POST", "/hooks/slow", NULL, NULL, wait, 0, 200);
	CHECK(r.status == 0);
	resp_free(&r);
	/* The server goes on: the run finishes and a long poll sees it. */
	snprintf(path, sizeof path, "/runs/%s?wait=5000", id);
	get(&s, &r, path);
	CHECK_CONTAINS(r.body.s, "\"state\":\"succeeded\"");
	resp_free(&r);
	/* So does the run of the trigger whose client left. */
	get(&s, &r, "/runs?workflow=slow&limit=1");
	CHECK(strstr(r.body.s, id) == NULL);
	snprintf(path, sizeof path, "/runs/%.26s?wait=5000",
	    strstr(r.body.s, "\"id\":\"") + 6);
	resp_free(&r);
	get(&s, &r, path);
	CHECK_CONTAINS(r.body.s, "\"state\":\"succeeded\"");
	resp_free(&r);
	server_stop(&s);
}

/* A raw connection to the server, or -1. */
static int
raw_connect(struct server *s)
{
	struct sockaddr_in sin;
	int fd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)http_port(s->http));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends a string whole; -1 once the server closed the connection. */
static int
raw_send(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Whether the server closed the connection (an answer is read away). */
static int
raw_closed(int fd, int wait_ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char buf[4096];
	ssize_t n;

	while (poll(&pfd, 1, wait_ms) == 1) {
		if ((n = recv(fd, buf, sizeof buf, MSG_DONTWAIT)) <= 0)
			return n == 0 || errno != EAGAIN;
		wait_ms = 0;
	}
	return 0;
}

/* Reads one whole answer (its head and Content-Length body) into buf. */
static int
raw_answer(int fd, char *buf, size_t size, int wait_ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t got = 0;
	const char *end, *cl;
	ssize_t n;

	buf[0] = '\0';
	while (got + 1 < size && poll(&pfd, 1, wait_ms) == 1) {
		if ((n = recv(fd, buf + got, size - 1 - got, 0)) <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL &&
		    (cl = strcasestr(buf, "Content-Length: ")) != NULL &&
		    got >= (size_t)(end + 4 - buf) + strtoul(cl + 16, NULL,
		    10))
			return 0;
	}
	return -1;
}

/*
 * The read deadline: clients that send their request (headers, or body) a
 * byte every 100 ms are closed at the deadline, while a normal request on
 * another connection is answered at once; a kept-alive connection has a
 * new deadline for each request; a request handled for longer (a long
 * poll) is not cut; the server stops with deadlines pending.
 */
static void
test_http_deadline(void)
{
	static const char hdr_head[] = "GET /healthz HTTP/1.1\r\n"
	    "Host: x\r\nX-Slow: ";
	static const char body_head[] = "POST /hooks/echo HTTP/1.1\r\n"
	    "Host: x\r\nContent-Type: application/json\r\n"
	    "Content-Length: 100\r\n\r\n";
	static const char get_req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "\r\n";
	struct server s;
	struct resp r;
	char buf[4096], id[64], path[128];
	int64_t t0, t, cut[2] = { -1, -1 };
	int fd[2], left[3], i, k;

	test_read_timeout_ms = DEADLINE_MS;
	REQUIRE(server_start(&s) == 0);

	/* Two slow clients, then a normal request meanwhile. */
	t0 = orc_mono_ms();
	fd[0] = raw_connect(&s);
	fd[1] = raw_connect(&s);
	REQUIRE(fd[0] >= 0 && fd[1] >= 0);
	CHECK(raw_send(fd[0], hdr_head, sizeof hdr_head - 1) == 0);
	CHECK(raw_send(fd[1], body_head, sizeof body_head - 1) == 0);
	usleep(150 * 1000);
	t = orc_mono_ms();
	get(&s, &r, "/healthz");
	CHECK(r.status == 200);
	CHECK(orc_mono_ms() - t < 300);
	resp_free(&r);
	for (i = 0; i < 30 && (cut[0] < 0 || cut[1] < 0); i++) {
		for (k = 0; k < 2; k++) {
			if (cut[k] >= 0)
				continue;
			if (raw_send(fd[k], "a", 1) != 0 ||
			    raw_closed(fd[k], 0))
				cut[k] = orc_mono_ms() - t0;
		}
		usleep(100 * 1000);
	}
	for (k = 0; k < 2; k++) {
		fprintf(stderr, "slow client %d cut after %lld ms\n", k,
		    (long long)cut[k]);
		CHECK(cut[k] >= DEADLINE_MS - 50);
		CHECK(cut[k] <= DEADLINE_MS + 400);
		close(fd[k]);
	}

	/*
	 * Kept alive: three requests 300 ms apart, each within its own
	 * deadline though the last comes 600 ms after the accept; then
	 * idle, the connection is closed at the deadline.
	 */
	REQUIRE((fd[0] = raw_connect(&s)) >= 0);
	for (i = 0; i < 3; i++) {
		if (i > 0)
			usleep(300 * 1000);
		CHECK(raw_send(fd[0], get_req, sizeof get_req - 1) == 0);
		CHECK(raw_answer(fd[0], buf, sizeof buf, 2000) == 0);
		CHECK_CONTAINS(buf, "HTTP/1.1 200");
	}
	t = orc_mono_ms();
	CHECK(raw_closed(fd[0], 2000));
	t = orc_mono_ms() - t;
	CHECK(t >= DEADLINE_MS - 50 && t <= DEADLINE_MS + 300);
	close(fd[0]);

	/* A long poll of 1.5 s outlives the deadline: it was read whole. */
	post(&s, &r, "/hooks/slow", "{}", NULL);
	CHECK(r.status == 202);
	run_id_of(&r, id, sizeof id);
	resp_free(&r);
	snprintf(path, sizeof path, "/runs/%s?wait=5000", id);
	t = orc_mono_ms();
	get(&s, &r, path);
	CHECK(r.status == 200);
	CHECK_CONTAINS(r.body.s, "\"state\":\"succeeded\"");
	CHECK(orc_mono_ms() - t > DEADLINE_MS);
	resp_free(&r);

	/* A client that leaves first; then the server stops while three
	 * connections wait on their deadline, one of them never read. */
	REQUIRE((fd[0] = raw_connect(&s)) >= 0);
	CHECK(raw_send(fd[0], hdr_head, sizeof hdr_head - 1) == 0);
	usleep(50 * 1000);
	close(fd[0]);
	for (k = 0; k < 3; k++) {
		REQUIRE((left[k] = raw_connect(&s)) >= 0);
		if (k > 0)
			CHECK(raw_send(left[k], hdr_head, k) == 0);
	}
	usleep(100 * 1000);
	server_stop(&s);
	for (k = 0; k < 3; k++) {
		CHECK(raw_closed(left[k], 1000));
		close(left[k]);
	}
	test_read_timeout_ms = 0;
}

/* Sends a raw request and reads what comes back within wait_ms (until
 * the server closes: "<closed>" is appended). */
static void
raw_exchange(struct server *s, const char *request, char *buf, size_t size,
    int wait_ms)
{
	struct pollfd pfd;
	size_t got = 0;
	ssize_t n;
	int fd;

	buf[0] = '\0';
	if ((fd = raw_connect(s)) < 0)
		return;
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (raw_send(fd, request, strlen(request)) == 0) {
		while (got + 9 < size && poll(&pfd, 1, wait_ms) == 1) {
			if ((n = recv(fd, buf + got, size - 9 - got, 0)) <= 0) {
				strcpy(buf + got, "<closed>");
				got += 8;
				break;
			}
			got += (size_t)n;
		}
	}
	buf[got] = '\0';
	close(fd);
}

/*
 * HEAD answers carry the GET's headers and length but no body, so a
 * pipelined answer after one is read as such; a request whose length is
 * ambiguous (two Content-Length, "+2", one beside Transfer-Encoding) is
 * 400 and its connection closed; the access log quotes the path, control
 * characters and quotes escaped.
 */
static void
test_http_framing(void)
{
	static const char *const bad[] = {
		"Content-Length: +2\r\n",
		"Content-Length: 2\r\nContent-Length: 3\r\n",
		"Content-Length: 2\r\nContent-Length: 2\r\n",
		"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
		NULL
	};
	struct server s;
	char buf[8192], req[512], *log, *second;
	size_t len;
	int i, fd, saved;

	REQUIRE(server_start(&s) == 0);
	raw_exchange(&s, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf,
	    500);
	CHECK_CONTAINS(buf, "Content-Length: 15\r\n");
	second = strstr(buf, "\r\n\r\n");
	REQUIRE(second != NULL);
	/* Right after the HEAD's headers: the GET's status line. */
	CHECK(strncmp(second + 4, "HTTP/1.1 200", 12) == 0);
	CHECK(strstr(second + 4, "{\"status\":\"ok\"}") ==
	    strrchr(second + 4, '{'));

	for (i = 0; bad[i] != NULL; i++) {
		snprintf(req, sizeof req, "POST /hooks/echo HTTP/1.1\r\n"
		    "Host: x\r\nContent-Type: application/json\r\n%s\r\n"
		    "{}", bad[i]);
		raw_exchange(&s, req, buf, sizeof buf, 2000);
		if (strncmp(buf, "HTTP/1.1 400", 12) != 0 ||
		    strstr(buf, "<closed>") == NULL) {
			fprintf(stderr, "%s -> %.200s\n", bad[i], buf);
			test_failed_checks++;
		}
	}
	/* One plain length is fine (the input lacks "a": 422). */
	raw_exchange(&s, "POST /hooks/echo HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
	    buf, sizeof buf, 500);
	CHECK(strncmp(buf, "HTTP/1.1 422", 12) == 0);

	/* The access log, caught from stderr for one request. */
	fflush(stderr);
	saved = dup(2);
	fd = open("access.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	REQUIRE(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	raw_exchange(&s, "GET /a\rb\"c\td\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
	    buf, sizeof buf, 500);
	usleep(50 * 1000);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	CHECK_CONTAINS(buf, "HTTP/1.1 ");
	log = orc_read_file("access.log", &len, NULL);
	REQUIRE(log != NULL);
	CHECK_CONTAINS(log, "path=\"/a\\rb\\\"c\\td\\x01\" status=");
	CHECK(strchr(log, '\r') == NULL);
	free(log);
	server_stop(&s);
}

/*
 * --max-inflight-bytes: with a body held just under the bound, the bytes
 * of one more request take the sum over it. A GET is answered all the
 * same; a POST gets our JSON 503 with Retry-After, and its connection is
 * closed; once the held body's connection closes, a POST is taken again.
 */
static void
test_http_inflight(void)
{
	static const char head[] = "POST /hooks/echo HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n";
	static const char post[] = "POST /hooks/echo HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
	struct server s;
	char buf[8192], *body;
	size_t n = 65520 - (sizeof head - 1);
	int fd;

	test_max_inflight = 65536;
	REQUIRE(server_start(&s) == 0);
	test_max_inflight = 0;
	REQUIRE((fd = raw_connect(&s)) >= 0);
	body = xmalloc(n);
	memset(body, ' ', n);
	CHECK(raw_send(fd, head, sizeof head - 1) == 0);
	CHECK(raw_send(fd, body, n) == 0);
	free(body);
	usleep(100 * 1000);
	CHECK(!raw_closed(fd, 0));

	/* 35 more bytes: over, but a GET has no body to refuse. */
	raw_exchange(&s, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", buf,
	    sizeof buf, 500);
	CHECK(strncmp(buf, "HTTP/1.1 200", 12) == 0);
	raw_exchange(&s, post, buf, sizeof buf, 2000);
	CHECK(strncmp(buf, "HTTP/1.1 503", 12) == 0);
	CHECK_CONTAINS(buf, "Retry-After: 1\r\n");
	CHECK_CONTAINS(buf, "{\"error\":{\"code\":\"overloaded\",\"message\":"
	    "\"the server holds its --max-inflight-bytes of 65536 bytes");
	CHECK_CONTAINS(buf, "<closed>");

	/* The held body's bytes go with its connection. */
	close(fd);
	usleep(100 * 1000);
	raw_exchange(&s, post, buf, sizeof buf, 2000);
	CHECK(strncmp(buf, "HTTP/1.1 422", 12) == 0);
	server_stop(&s);
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	TEST_RUN(test_http_async);
	TEST_RUN(test_http_sync);
	TEST_RUN(test_http_errors);
	TEST_RUN(test_http_too_many);
	TEST_RUN(test_http_idempotency);
	TEST_RUN(test_http_runs_api);
	TEST_RUN(test_http_gone);
	TEST_RUN(test_http_deadline);
	TEST_RUN(test_http_framing);
	TEST_RUN(test_http_inflight);
	curl_global_cleanup();
	TEST_DONE();
}
