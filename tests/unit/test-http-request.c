/*
 * Tests for the http.request step against a real HTTP server in the test's
 * event loop (test-httpd.h): bodies as JSON, text and base64, the default
 * body, query encoding, the Idempotency-Key header, the retry classes of
 * 5xx, 429 (with Retry-After), 404, timeouts and refused connections,
 * redirects, expect_status, header injection, permissions, cancelling and
 * the load-time check.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "fetch.h"
#include "orchestrator.h"
#include "steps.h"
#include "strbuf.h"
#include "test.h"
#include "test-httpd.h"

/* What the stand-in step_check_error below saw. */
static int check_count;
static char check_path[128];
static char check_message[512];

/* The workflow loader implements this; the tests record the last report. */
void
step_check_error(struct step_checker *chk, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	check_count++;
	snprintf(check_path, sizeof check_path, "%s", path);
	va_start(ap, fmt);
	vsnprintf(check_message, sizeof check_message, fmt, ap);
	va_end(ap);
}

/* Parses test JSON or stops the whole test program. */
static json_t *
j(const char *text)
{
	json_t *v;
	json_error_t err;

	v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (v == NULL) {
		fprintf(stderr, "bad test JSON %s: %s\n", text, err.text);
		exit(99);
	}
	return v;
}

/* Runs the check on with (JSON text); returns the report count. */
static int
run_check(const char *with_text)
{
	json_t *with = j(with_text);

	check_count = 0;
	check_path[0] = check_message[0] = '\0';
	step_http_request_entry.check(with, NULL);
	json_decref(with);
	return check_count;
}

/* The loop, the server and the client of one test. */
struct env {
	struct event_base	*base;
	struct httpd		*h;
	struct fetch		*f;
	int			 done;
	int			 calls;
};

/* Starts a loop, a server and a client. */
static void
env_init(struct env *e)
{
	memset(e, 0, sizeof *e);
	e->base = event_base_new();
	e->h = httpd_start(e->base);
	e->f = fetch_create(e->base, NULL);
}

/* Frees them in reverse. */
static void
env_free(struct env *e)
{
	fetch_free(e->f);
	httpd_free(e->h);
	event_base_free(e->base);
}

/* The engine's side: a waiting call finished. */
static void
done_cb(struct step_call *call, void *arg)
{
	struct env *e = arg;

	e->done = 1;
	e->calls++;
}

/* Copies s with each "PORT" replaced by port. */
static char *
subst_port(const char *s, int port)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p;
	char num[16];

	snprintf(num, sizeof num, "%d", port);
	while ((p = strstr(s, "PORT")) != NULL) {
		strbuf_add(&sb, s, p - s);
		strbuf_puts(&sb, num);
		s = p + 4;
	}
	strbuf_puts(&sb, s);
	return strbuf_take(&sb);
}

/*
 * Runs http.request with with_fmt (JSON text; "PORT" is the server's port)
 * on input and allow (JSON text or NULL) to its end, 5 s at most. The
 * caller frees the call.
 */
static struct step_call *
run_step(struct env *e, const char *with_fmt, const char *input,
    const char *allow_text)
{
	struct step_call_params p;
	struct step_call *call;
	json_t *with, *in, *allow;
	char *text;

	text = subst_port(with_fmt, e->h->port);
	with = j(text);
	free(text);
	in = input != NULL ? j(input) : NULL;
	allow = allow_text != NULL ? j(allow_text) : NULL;

	memset(&p, 0, sizeof p);
	p.entry = &step_http_request_entry;
	p.with = with;
	p.input = in;
	p.allow = allow;
	p.run_id = "01TESTRUN";
	p.workflow = "orders";
	p.workflow_dir = ".";
	p.step_name = "s";
	p.attempt = 1;
	p.idempotency_key = "01TESTRUN:s:1";
	p.base = e->base;
	p.fetch = e->f;
	e->done = 0;
	e->calls = 0;
	call = step_call_create(&p, done_cb, e);
	json_decref(with);
	json_decref(in);
	json_decref(allow);
	if (step_call_start(call) == STEP_WAIT) {
		if (e->done)
			fprintf(stderr, "called back inside start\n");
		if (!httpd_run_until(e->base, &e->done, 5000))
			fprintf(stderr, "http.request did not finish\n");
	}
	return call;
}

/* The output of a successful call (new reference), or NULL. */
static json_t *
output(struct step_call *call)
{
	if (!step_call_ok(call)) {
		fprintf(stderr, "step failed: %s\n",
		    step_call_error(call) != NULL ? step_call_error(call) :
		    "(not finished)");
		return NULL;
	}
	return step_call_take_output(call);
}

/* A string member of a nested object, by a dotted path. */
static const char *
str_at(const json_t *v, const char *a, const char *b, const char *c)
{
	v = json_object_get(v, a);
	if (b != NULL)
		v = json_object_get(v, b);
	if (c != NULL)
		v = json_object_get(v, c);
	return json_string_value(v);
}

/* A JSON answer is parsed; the server sees the Idempotency-Key. */
static void
test_http_request_json(void)
{
	struct step_call *call;
	struct env e;
	json_t *out;

	env_init(&e);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/echo\","
	    "\"headers\":{\"X-Mine\":\"1\"}}", "{\"ignored\":true}", NULL);
	out = output(call);
	REQUIRE(out != NULL);
	CHECK(e.calls == 1);
	CHECK(json_integer_value(json_object_get(out, "status")) == 200);
	CHECK_STR(str_at(out, "headers", "x-reply", NULL), "yes");
	CHECK_STR(str_at(out, "body", "method", NULL), "GET");
	/* A GET sends no body, even with an input. */
	CHECK_STR(str_at(out, "body", "body", NULL), "");
	CHECK_STR(str_at(out, "body", "headers", "idempotency-key"),
	    "01TESTRUN:s:1");
	CHECK_STR(str_at(out, "body", "headers", "x-mine"), "1");
	CHECK(json_object_get(out, "body_base64") == NULL);
	json_decref(out);
	step_call_free(call);
	env_free(&e);
}

/* POST sends the input as JSON by default; a string as it is; the
 * user's own Idempotency-Key and Content-Type win. */
static void
test_http_request_post_body(void)
{
	struct step_call *call;
	struct env e;
	json_t *out;

	env_init(&e);
	call = run_step(&e, "{\"method\":\"POST\","
	    "\"url\":\"http://127.0.0.1:PORT/echo\"}", "{\"a\":[1,2]}", NULL);
	REQUIRE((out = output(call)) != NULL);
	CHECK_STR(str_at(out, "body", "method", NULL), "POST");
	CHECK_STR(str_at(out, "body", "body", NULL), "{\"a\":[1,2]}");
	CHECK_STR(str_at(out, "body", "headers", "content-type"),
	    "application/json");
	json_decref(out);
	step_call_free(call);

	/* "body" alone makes it a POST; a string goes as it is. */
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/echo\","
	    "\"body\":\"plain words\",\"headers\":{\"Idempotency-Key\":"
	    "\"mine\",\"content-type\":\"text/x-mine\"}}", NULL, NULL);
	REQUIRE((out = output(call)) != NULL);
	CHECK_STR(str_at(out, "body", "method", NULL), "POST");
	CHECK_STR(str_at(out, "body", "body", NULL), "plain words");
	CHECK_STR(str_at(out, "body", "headers", "idempotency-key"), "mine");
	CHECK_STR(str_at(out, "body", "headers", "content-type"),
	    "text/x-mine");
	json_decref(out);
	step_call_free(call);

	/* A string input holding JSON (json.encode's output) is labelled
	 * JSON; other text is text. */
	call = run_step(&e, "{\"method\":\"PUT\","
	    "\"url\":\"http://127.0.0.1:PORT/echo\"}", "\"{\\\"x\\\":1}\"",
	    NULL);
	REQUIRE((out = output(call)) != NULL);
	CHECK_STR(str_at(out, "body", "body", NULL), "{\"x\":1}");
	CHECK_STR(str_at(out, "body", "headers", "content-type"),
	    "application/json");
	json_decref(out);
	step_call_free(call);
	call = run_step(&e, "{\"method\":\"patch\","
	    "\"url\":\"http://127.0.0.1:PORT/echo\"}", "\"hi\"", NULL);
	REQUIRE((out = output(call)) != NULL);
	CHECK_STR(str_at(out, "body", "method", NULL), "PATCH");
	CHECK_STR(str_at(out, "body", "body", NULL), "hi");
	CHECK_STR(str_at(out, "body", "headers", "content-type"),
	    "text/plain; charset=utf-8");
	json_decref(out);
	step_call_free(call);
	env_free(&e);
}

/* Text stays text, JSON that does not parse falls back to text, bytes
 * that are not UTF-8 come as base64. */
static void
test_http_request_bodies(void)
{
	struct step_call *call;
	struct env e;
	json_t *out;

	env_init(&e);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/text\"}", NULL,
	    NULL);
	REQUIRE((out = output(call)) != NULL);
	CHECK_STR(json_string_value(json_object_get(out, "body")), "hello");
	json_decref(out);
	step_call_free(call);

	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/badjson\"}", NULL,
	    NULL);
	REQUIRE((out = output(call)) != NULL);
	CHECK_STR(json_string_value(json_object_get(out, "body")),
	    "{not json");
	json_decref(out);
	step_call_free(call);

	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/binary\"}", NULL,
	    NULL);
	REQUIRE((out = output(call)) != NULL);
	CHECK_STR(json_string_value(json_object_get(out, "body")),
	    "//4AAYA=");
	CHECK(json_is_true(json_object_get(out, "body_base64")));
	json_decref(out);
	step_call_free(call);
	env_free(&e);
}

/* Query values are percent-encoded and appended; arrays repeat. */
static void
test_http_request_query(void)
{
	struct step_call *call;
	struct env e;
	json_t *out;

	env_init(&e);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/echo?pre=1\","
	    "\"query\":{\"q\":\"a b&c=d/\\u00e9\",\"n\":5,\"t\":true,"
	    "\"arr\":[\"x\",\"y\"],\"z\":null,\"k y\":\"v\"}}", NULL, NULL);
	REQUIRE((out = output(call)) != NULL);
	CHECK_STR(str_at(out, "body", "uri", NULL), "/echo?pre=1&"
	    "q=a%20b%26c%3dd%2f%c3%a9&n=5&t=true&arr=x&arr=y&k%20y=v");
	json_decref(out);
	step_call_free(call);

	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/echo\","
	    "\"query\":{\"o\":{}}}", NULL, NULL);
	CHECK(!step_call_ok(call) && !step_call_retryable(call));
	CHECK_CONTAINS(step_call_error(call), "query \"o\" must be");
	step_call_free(call);
	CHECK(e.h->requests == 1);
	env_free(&e);
}

/* Checks a failed call: retryable or not, and its message. */
static void
check_failed(struct step_call *call, int retryable, const char *msg,
    int line)
{
	if (step_call_ok(call) || !step_call_finished(call) ||
	    step_call_retryable(call) != retryable ||
	    step_call_error(call) == NULL ||
	    strstr(step_call_error(call), msg) == NULL) {
		fprintf(stderr, "line %d: wanted failure \"%s\" (retryable "
		    "%d), got %s (retryable %d)\n", line, msg, retryable,
		    step_call_error(call) != NULL ? step_call_error(call) :
		    "no error", step_call_retryable(call));
		test_failed_checks++;
	}
}

#define CHECK_FAILED(c, r, m) check_failed(c, r, m, __LINE__)

/* 5xx and 429 are worth a retry, other 4xx are not. */
static void
test_http_request_status_classes(void)
{
	struct step_call *call;
	struct env e;
	char *msg;

	env_init(&e);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/"
	    "status?code=500\"}",
	    NULL, NULL);
	msg = xasprintf("http.request GET http://127.0.0.1:%d/status?...: "
	    "500 Internal Server Error", e.h->port);
	CHECK_FAILED(call, 1, msg);
	free(msg);
	CHECK(step_call_retry_after_ms(call) == 0);
	step_call_free(call);

	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/"
	    "status?code=404\"}",
	    NULL, NULL);
	msg = xasprintf("http.request GET http://127.0.0.1:%d/status?...: "
	    "404 Not Found", e.h->port);
	CHECK_FAILED(call, 0, msg);
	CHECK_STR(step_call_error(call), msg);
	free(msg);
	step_call_free(call);

	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/"
	    "status?code=400\","
	    "\"method\":\"POST\"}", NULL, NULL);
	CHECK_FAILED(call, 0, "400 Bad Request");
	step_call_free(call);

	/* 429 with Retry-After in seconds. */
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/status?code=429&"
	    "retry_after=7\"}", NULL, NULL);
	CHECK_FAILED(call, 1, "429 Too Many Requests");
	CHECK(step_call_retry_after_ms(call) == 7000);
	step_call_free(call);
	env_free(&e);
}

/* Retry-After as an HTTP date, and one that makes no sense. */
static void
test_http_request_retry_after_date(void)
{
	struct step_call *call;
	struct env e;
	char date[64], *with;
	time_t when = time(NULL) + 20;
	struct tm tm;
	int64_t ms;

	env_init(&e);
	gmtime_r(&when, &tm);
	strftime(date, sizeof date, "%a,%%20%d%%20%b%%20%Y%%20%H:%M:%S%%20GMT",
	    &tm);
	with = xasprintf("{\"url\":\"http://127.0.0.1:PORT/status?code=503&"
	    "retry_after=%s\"}", date);
	call = run_step(&e, with, NULL, NULL);
	free(with);
	CHECK_FAILED(call, 1, "503");
	ms = step_call_retry_after_ms(call);
	CHECK(ms > 15000 && ms <= 20000);
	step_call_free(call);

	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/status?code=429&"
	    "retry_after=soon\"}", NULL, NULL);
	CHECK_FAILED(call, 1, "429");
	CHECK(step_call_retry_after_ms(call) == 0);
	step_call_free(call);
	env_free(&e);
}

/* Timeouts and refused connections are retryable. */
static void
test_http_request_transport(void)
{
	struct step_call *call;
	struct env e;
	char *with;

	env_init(&e);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/slow?ms=3000\","
	    "\"timeout_ms\":150}", NULL, NULL);
	CHECK_FAILED(call, 1, "within 150 ms");
	step_call_free(call);

	with = xasprintf("{\"url\":\"http://127.0.0.1:%d/\"}",
	    httpd_dead_port());
	call = run_step(&e, with, NULL, NULL);
	free(with);
	CHECK_FAILED(call, 1, "http.request GET http://127.0.0.1:");
	step_call_free(call);
	env_free(&e);
}

/* Redirects are answers unless followed. */
static void
test_http_request_redirects(void)
{
	struct step_call *call;
	struct env e;
	json_t *out;

	env_init(&e);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/redirect?"
	    "to=/echo\"}", NULL, NULL);
	REQUIRE((out = output(call)) != NULL);
	CHECK(json_integer_value(json_object_get(out, "status")) == 302);
	CHECK_STR(str_at(out, "headers", "location", NULL), "/echo");
	json_decref(out);
	step_call_free(call);

	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/redirect?"
	    "to=/echo\",\"follow_redirects\":true}", NULL, NULL);
	REQUIRE((out = output(call)) != NULL);
	CHECK(json_integer_value(json_object_get(out, "status")) == 200);
	CHECK_STR(str_at(out, "body", "method", NULL), "GET");
	json_decref(out);
	step_call_free(call);

	/* A redirect out of allow.hosts fails for good. */
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/redirect?"
	    "to=http://10.9.9.9/\",\"follow_redirects\":true}", NULL,
	    "{\"hosts\":[\"127.0.0.1\"]}");
	CHECK_FAILED(call, 0, "host 10.9.9.9:80 is not in the workflow's "
	    "allow.hosts");
	step_call_free(call);

	/* Errors show URLs without what may hold a token: the query and
	 * userinfo, of the request and of a refused redirect. */
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/redirect?"
	    "to=http://u:pw@10.9.9.9/x%3Ftoken%3Dtk1\",\"follow_redirects\":"
	    "true}", NULL, "{\"hosts\":[\"127.0.0.1\"]}");
	CHECK_FAILED(call, 0, "/redirect?...: redirect to "
	    "http://10.9.9.9/x?... refused: host 10.9.9.9:80");
	CHECK(strstr(step_call_error(call), "tk1") == NULL);
	CHECK(strstr(step_call_error(call), "pw") == NULL);
	step_call_free(call);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/status?"
	    "code=404&token=tk2\"}", NULL, "{\"hosts\":[\"10.9.9.9\"]}");
	CHECK_FAILED(call, 0, "/status?...: host 127.0.0.1:");
	CHECK(strstr(step_call_error(call), "tk2") == NULL);
	step_call_free(call);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/status?"
	    "code=404&token=tk3\"}", NULL, NULL);
	CHECK_FAILED(call, 0, "/status?...: 404 Not Found");
	CHECK(strstr(step_call_error(call), "tk3") == NULL);
	step_call_free(call);
	env_free(&e);
}

/* expect_status replaces the default classes. */
static void
test_http_request_expect_status(void)
{
	struct step_call *call;
	struct env e;
	json_t *out;

	env_init(&e);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/"
	    "status?code=404\","
	    "\"expect_status\":[200,404]}", NULL, NULL);
	REQUIRE((out = output(call)) != NULL);
	CHECK(json_integer_value(json_object_get(out, "status")) == 404);
	CHECK_STR(json_string_value(json_object_get(out, "body")),
	    "status 404");
	json_decref(out);
	step_call_free(call);

	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/"
	    "status?code=200\","
	    "\"expect_status\":201}", NULL, NULL);
	CHECK_FAILED(call, 0, ": 200 OK");
	step_call_free(call);
	env_free(&e);
}

/* Line breaks in a header, a refused host, no loop: fatal, and nothing
 * reaches the server. */
static void
test_http_request_refusals(void)
{
	struct step_call *call;
	struct env e;
	struct step_call_params p;
	json_t *with;
	char *msg;

	env_init(&e);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/echo\","
	    "\"headers\":{\"X-A\":\"a\\r\\nX-B: b\"}}", NULL, NULL);
	CHECK_FAILED(call, 0, "header \"X-A\" holds a line break");
	CHECK_CONTAINS(step_call_error(call), "header injection");
	step_call_free(call);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/echo\","
	    "\"headers\":{\"X-A\\nB\":\"a\"}}", NULL, NULL);
	CHECK_FAILED(call, 0, "is not valid");
	step_call_free(call);
	/* Host would reach another virtual host behind an allowed address. */
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/echo\","
	    "\"headers\":{\"hOsT\":\"internal.example\"}}", NULL,
	    "{\"hosts\":[\"127.0.0.1\"]}");
	CHECK_FAILED(call, 0, "http.request header \"hOsT\" is refused: the "
	    "host is the url's, which allow.hosts checks");
	step_call_free(call);

	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/echo\"}", NULL,
	    "{\"hosts\":[\"api.example.com\",\"127.0.0.1:1\"]}");
	msg = xasprintf("http.request GET http://127.0.0.1:%d/echo: host "
	    "127.0.0.1:%d is not in the workflow's allow.hosts", e.h->port,
	    e.h->port);
	CHECK_FAILED(call, 0, msg);
	free(msg);
	step_call_free(call);

	call = run_step(&e, "{\"url\":\"file:///etc/passwd\"}", NULL, NULL);
	CHECK_FAILED(call, 0, "only http and https");
	step_call_free(call);
	call = run_step(&e, "{\"url\":\"http://127.0.0.1:PORT/echo\","
	    "\"method\":\"TRACE\"}", NULL, NULL);
	CHECK_FAILED(call, 0, "method \"TRACE\" is not one of");
	step_call_free(call);
	call = run_step(&e, "{\"method\":\"GET\"}", NULL, NULL);
	CHECK_FAILED(call, 0, "needs \"url\"");
	step_call_free(call);

	/* Without the engine's fetch there is no loop to wait on. */
	memset(&p, 0, sizeof p);
	with = j("{\"url\":\"http://127.0.0.1:1/\"}");
	p.entry = &step_http_request_entry;
	p.with = with;
	call = step_call_create(&p, NULL, NULL);
	CHECK(step_call_start(call) == STEP_DONE);
	CHECK_FAILED(call, 0, "http.request needs the event loop");
	step_call_free(call);
	json_decref(with);

	CHECK(e.h->requests == 0);
	env_free(&e);
}

/* A cancelled request never finishes the call. */
static void
test_http_request_cancel(void)
{
	struct step_call_params p;
	struct step_call *call;
	struct env e;
	json_t *with;
	char *text;
	int never = 0;

	env_init(&e);
	text = xasprintf("{\"url\":\"http://127.0.0.1:%d/slow?ms=100\"}",
	    e.h->port);
	with = j(text);
	free(text);
	memset(&p, 0, sizeof p);
	p.entry = &step_http_request_entry;
	p.with = with;
	p.fetch = e.f;
	p.base = e.base;
	call = step_call_create(&p, done_cb, &e);
	REQUIRE(step_call_start(call) == STEP_WAIT);
	CHECK(fetch_active(e.f) == 1);
	httpd_run_until(e.base, &never, 30);
	step_call_cancel(call);
	CHECK(fetch_active(e.f) == 0);
	httpd_run_until(e.base, &never, 300);
	CHECK(e.calls == 0);
	CHECK(!step_call_finished(call));
	step_call_free(call);

	/* Freeing a waiting call cancels it too. */
	call = step_call_create(&p, done_cb, &e);
	REQUIRE(step_call_start(call) == STEP_WAIT);
	step_call_free(call);
	CHECK(fetch_active(e.f) == 0);
	httpd_run_until(e.base, &never, 200);
	CHECK(e.calls == 0);
	json_decref(with);
	env_free(&e);
}

/* The load-time check. */
static void
test_http_request_check(void)
{
	CHECK(run_check("{\"url\":\"http://x/\"}") == 0);
	CHECK(run_check("{\"method\":\"GET\"}") == 1);
	CHECK_STR(check_path, "with");
	CHECK_CONTAINS(check_message, "needs \"url\"");
	CHECK(run_check("{\"url\":1}") == 1);
	CHECK_STR(check_path, "with.url");
	CHECK(run_check("{\"url\":\"u\",\"method\":\"FETCH\"}") == 1);
	CHECK_STR(check_path, "with.method");
	CHECK(run_check("{\"url\":\"u\",\"method\":\"{{input.m}}\"}") == 0);
	CHECK(run_check("{\"url\":\"u\",\"method\":\"delete\"}") == 0);
	CHECK(run_check("{\"url\":\"u\",\"headers\":[]}") == 1);
	CHECK_STR(check_path, "with.headers");
	CHECK(run_check("{\"url\":\"u\",\"headers\":{\"A\":1}}") == 1);
	CHECK_CONTAINS(check_message, "header \"A\" must be a string");
	CHECK(run_check("{\"url\":\"u\",\"headers\":{\"A\":\"{{x}}\"}}") == 0);
	CHECK(run_check("{\"url\":\"u\",\"headers\":{\"Host\":\"h\"}}") == 1);
	CHECK_CONTAINS(check_message, "\"Host\" is refused");
	CHECK(run_check("{\"url\":\"u\",\"expect_status\":\"200\"}") == 1);
	CHECK_STR(check_path, "with.expect_status");
	CHECK(run_check("{\"url\":\"u\",\"expect_status\":[200,\"x\"]}") ==
	    1);
	CHECK(run_check("{\"url\":\"u\",\"expect_status\":[]}") == 1);
	CHECK(run_check("{\"url\":\"u\",\"expect_status\":[200,201]}") == 0);
	CHECK(run_check("{\"url\":\"u\",\"timeout_ms\":0}") == 1);
	CHECK(run_check("{\"url\":\"u\",\"follow_redirects\":1}") == 1);
	CHECK(run_check("{\"url\":\"u\",\"query\":\"a=b\"}") == 1);
}

int
main(void)
{
	TEST_RUN(test_http_request_json);
	TEST_RUN(test_http_request_post_body);
	TEST_RUN(test_http_request_bodies);
	TEST_RUN(test_http_request_query);
	TEST_RUN(test_http_request_status_classes);
	TEST_RUN(test_http_request_retry_after_date);
	TEST_RUN(test_http_request_transport);
	TEST_RUN(test_http_request_redirects);
	TEST_RUN(test_http_request_expect_status);
	TEST_RUN(test_http_request_refusals);
	TEST_RUN(test_http_request_cancel);
	TEST_RUN(test_http_request_check);
	TEST_DONE();
}
