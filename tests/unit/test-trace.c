/*
 * Tests of the span exporter's pieces (trace.c): the OTLP/HTTP JSON
 * document a batch becomes (resourceSpans -> scopeSpans -> spans, hex ids
 * of the right length, parent links, times as strings, attributes,
 * status), batching and the bounded queue, W3C traceparent parsing (bad
 * values refused) and formatting, the header a step's request gets, and
 * spans dropped and counted when the collector cannot be reached.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "fetch.h"
#include "orchestrator.h"
#include "trace.h"
#include "test.h"
#include "test-httpd.h"

static const uint8_t tid[TRACE_ID_BYTES] = {
	0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
	0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36
};
static const uint8_t run_span[TRACE_SPAN_BYTES] = {
	0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7
};
static const uint8_t step_span[TRACE_SPAN_BYTES] = {
	0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8
};

/* A span of the test run: the run's (parent NULL) or a step's. */
static void
add_span(struct trace *t, const char *name, const uint8_t *span,
    const uint8_t *parent, int attempt, const char *error)
{
	struct trace_span_info si;

	memset(&si, 0, sizeof si);
	si.name = name;
	si.trace_id = tid;
	si.span_id = span;
	si.parent_id = parent;
	si.kind = TRACE_KIND_INTERNAL;
	si.start_ns = 1700000000123456789LL;
	si.end_ns = 1700000000223456789LL;
	si.failed = error != NULL;
	si.workflow = "orders";
	si.run_id = "01HZX3J8Q0W8Z6M3V9QJ7K2N4P";
	si.attempt = attempt;
	si.status = error != NULL ? "failed" : "succeeded";
	si.error = error;
	trace_add(t, &si);
}

/* Whether s is n lower-case hex digits. */
static int
is_hex(const char *s, size_t n)
{
	size_t i;

	if (s == NULL || strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("0123456789abcdef", s[i]) == NULL)
			return 0;
	return 1;
}

/* The value object of attribute key in a span, or NULL. */
static json_t *
attr(json_t *span, const char *key)
{
	json_t *a;
	size_t i;

	json_array_foreach(json_object_get(span, "attributes"), i, a) {
		if (strcmp(json_string_value(json_object_get(a, "key")),
		    key) == 0)
			return json_object_get(a, "value");
	}
	return NULL;
}

/* A batch is one OTLP/HTTP JSON document of the expected shape. */
static void
test_trace_doc_shape(void)
{
	struct trace_config cfg = { .endpoint = "http://127.0.0.1:1" };
	struct trace *t = trace_create(NULL, NULL, &cfg);
	json_t *doc, *rs, *ss, *spans, *run, *step, *v;
	json_error_t je;
	char *text;
	size_t len, n;

	add_span(t, "process", step_span, run_span, 2,
	    "step process: \"bad\"\nline \xff end");
	add_span(t, "orders", run_span, NULL, 0, NULL);
	text = trace_take_doc(t, &len, &n);
	REQUIRE(text != NULL);
	CHECK(n == 2);
	CHECK(strlen(text) == len);
	doc = json_loads(text, 0, &je);
	if (doc == NULL)
		fprintf(stderr, "%s: %s\n", je.text, text);
	REQUIRE(doc != NULL);
	rs = json_array_get(json_object_get(doc, "resourceSpans"), 0);
	REQUIRE(rs != NULL);
	v = json_array_get(json_object_get(json_object_get(rs, "resource"),
	    "attributes"), 0);
	CHECK_STR(json_string_value(json_object_get(v, "key")),
	    "service.name");
	CHECK_STR(json_string_value(json_object_get(json_object_get(v,
	    "value"), "stringValue")), "orchestrator");
	ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
	REQUIRE(ss != NULL);
	CHECK_STR(json_string_value(json_object_get(json_object_get(ss,
	    "scope"), "name")), "orchestrator");
	spans = json_object_get(ss, "spans");
	REQUIRE(json_array_size(spans) == 2);
	step = json_array_get(spans, 0);
	run = json_array_get(spans, 1);

	CHECK_STR(json_string_value(json_object_get(step, "traceId")),
	    "4bf92f3577b34da6a3ce929d0e0e4736");
	CHECK(is_hex(json_string_value(json_object_get(run, "traceId")), 32));
	CHECK_STR(json_string_value(json_object_get(run, "spanId")),
	    "00f067aa0ba902b7");
	CHECK(is_hex(json_string_value(json_object_get(step, "spanId")), 16));
	CHECK_STR(json_string_value(json_object_get(step, "parentSpanId")),
	    "00f067aa0ba902b7");
	CHECK(json_object_get(run, "parentSpanId") == NULL);
	CHECK_STR(json_string_value(json_object_get(step, "name")),
	    "process");
	CHECK(json_integer_value(json_object_get(step, "kind")) == 1);
	/* int64 as decimal strings, as the protobuf JSON mapping has it. */
	CHECK_STR(json_string_value(json_object_get(step,
	    "startTimeUnixNano")), "1700000000123456789");
	CHECK_STR(json_string_value(json_object_get(step,
	    "endTimeUnixNano")), "1700000000223456789");
	CHECK_STR(json_string_value(json_object_get(attr(step,
	    "orchestrator.workflow"), "stringValue")), "orders");
	CHECK_STR(json_string_value(json_object_get(attr(step,
	    "orchestrator.run_id"), "stringValue")),
	    "01HZX3J8Q0W8Z6M3V9QJ7K2N4P");
	CHECK_STR(json_string_value(json_object_get(attr(step,
	    "orchestrator.attempt"), "intValue")), "2");
	CHECK_STR(json_string_value(json_object_get(attr(step,
	    "orchestrator.status"), "stringValue")), "failed");
	/* Escaped, and the byte that is not UTF-8 replaced. */
	CHECK_STR(json_string_value(json_object_get(attr(step,
	    "orchestrator.error"), "stringValue")),
	    "step process: \"bad\"\nline \xef\xbf\xbd end");
	CHECK(json_integer_value(json_object_get(json_object_get(step,
	    "status"), "code")) == 2);
	CHECK(json_string_value(json_object_get(json_object_get(step,
	    "status"), "message")) != NULL);
	CHECK(json_integer_value(json_object_get(json_object_get(run,
	    "status"), "code")) == 1);
	CHECK(attr(run, "orchestrator.attempt") == NULL);
	CHECK(attr(run, "orchestrator.error") == NULL);
	json_decref(doc);
	free(text);
	/* Taken out: nothing is left. */
	CHECK(trace_take_doc(t, &len, &n) == NULL);
	trace_free(t);
}

/* A long attribute is cut, between UTF-8 characters. */
static void
test_trace_long_error(void)
{
	struct trace_config cfg = { .endpoint = "http://127.0.0.1:1" };
	struct trace *t = trace_create(NULL, NULL, &cfg);
	char big[5000], *text;
	json_t *doc, *span;
	const char *e;
	size_t len, n, i;

	for (i = 0; i + 2 < sizeof big; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);	/* é */
	big[i] = '\0';
	add_span(t, "s", step_span, run_span, 1, big);
	text = trace_take_doc(t, &len, &n);
	REQUIRE(text != NULL);
	doc = json_loads(text, 0, NULL);
	REQUIRE(doc != NULL);
	span = json_array_get(json_object_get(json_array_get(json_object_get(
	    json_array_get(json_object_get(doc, "resourceSpans"), 0),
	    "scopeSpans"), 0), "spans"), 0);
	e = json_string_value(json_object_get(attr(span,
	    "orchestrator.error"), "stringValue"));
	REQUIRE(e != NULL);
	CHECK(strlen(e) <= 1024 && strlen(e) >= 1022);
	CHECK(strlen(e) % 2 == 0);
	json_decref(doc);
	free(text);
	trace_free(t);
}

/* Spans leave in batches of the configured size, in order. */
static void
test_trace_batches(void)
{
	struct trace_config cfg = { .endpoint = "http://h:4318/", .batch = 3 };
	struct trace *t = trace_create(NULL, NULL, &cfg);
	struct trace_stats st;
	size_t len, n;
	char *text;
	int i;

	for (i = 1; i <= 7; i++)
		add_span(t, "s", step_span, run_span, i, NULL);
	trace_get_stats(t, &st);
	CHECK(st.queued == 7);
	text = trace_take_doc(t, &len, &n);
	CHECK(n == 3);
	CHECK_CONTAINS(text, "\"intValue\":\"1\"");
	free(text);
	text = trace_take_doc(t, &len, &n);
	CHECK(n == 3);
	CHECK_CONTAINS(text, "\"intValue\":\"4\"");
	free(text);
	text = trace_take_doc(t, &len, &n);
	CHECK(n == 1);
	CHECK_CONTAINS(text, "\"intValue\":\"7\"");
	free(text);
	CHECK(trace_take_doc(t, &len, &n) == NULL);
	trace_get_stats(t, &st);
	CHECK(st.queued == 0 && st.dropped == 0);
	trace_free(t);
}

/* A full queue drops and counts; it never grows past its bound. */
static void
test_trace_queue_bound(void)
{
	struct trace_config cfg = { .endpoint = "http://h:4318",
	    .max_queue = 5 };
	struct trace *t = trace_create(NULL, NULL, &cfg);
	struct trace_stats st;
	size_t len, n;
	char *text;
	int i;

	for (i = 0; i < 8; i++)
		add_span(t, "s", step_span, run_span, i + 1, NULL);
	trace_get_stats(t, &st);
	CHECK(st.queued == 5);
	CHECK(st.dropped == 3);
	CHECK(st.exported == 0);
	/* Room again once a batch is out. */
	text = trace_take_doc(t, &len, &n);
	CHECK(n == 5);
	free(text);
	add_span(t, "s", step_span, run_span, 1, NULL);
	trace_get_stats(t, &st);
	CHECK(st.queued == 1 && st.dropped == 3);
	trace_free(t);
}

/* Valid traceparent values parse; format gives them back. */
static void
test_trace_parent_valid(void)
{
	const char *v = "00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-01";
	struct trace_ctx c;
	char out[TRACE_PARENT_LEN + 1];

	REQUIRE(trace_parent_parse(v, &c) == 0);
	CHECK(memcmp(c.trace_id, tid, sizeof tid) == 0);
	CHECK(memcmp(c.span_id, run_span, sizeof run_span) == 0);
	CHECK(c.flags == 1);
	trace_parent_format(&c, out);
	CHECK_STR(out, v);
	/* Not sampled; spaces around the value. */
	CHECK(trace_parent_parse(" 00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-00\t", &c) == 0);
	CHECK(c.flags == 0);
	/* A later version may carry more fields; it is read as 00. */
	CHECK(trace_parent_parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-09-what-the-future-holds", &c) == 0);
	CHECK(c.flags == 9);
	trace_parent_format(&c, out);
	CHECK_STR(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-09");
}

/* Bad traceparent values are refused, each for its reason. */
static void
test_trace_parent_bad(void)
{
	static const char *const bad[] = {
		"",
		"00",
		/* upper-case hex */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		/* all-zero trace id, then span id */
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		/* version ff is never valid */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		/* version 00 has exactly four fields */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",
		/* short ids, wrong separators, not hex */
		"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
		"00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
		"0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		/* a later version with a non-dash after the flags */
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
		NULL
	};
	struct trace_ctx c;
	int i;

	CHECK(trace_parent_parse(NULL, &c) == -1);
	for (i = 0; bad[i] != NULL; i++) {
		if (trace_parent_parse(bad[i], &c) != -1) {
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
			CHECK(0);
		}
	}
}

/* A request gets the attempt's traceparent unless it has one. */
static void
test_trace_headers_add(void)
{
	const char *tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-01";
	const char *const plain[] = { "Accept: text/plain", "X-A: b", NULL };
	const char *const own[] = { "X-A: b", "TraceParent: 00-mine", NULL };
	char line[TRACE_PARENT_LEN + 16];
	const char **h;

	h = trace_headers_add(plain, tp, line);
	REQUIRE(h != NULL);
	CHECK_STR(h[0], "Accept: text/plain");
	CHECK_STR(h[1], "X-A: b");
	CHECK_STR(h[2], "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-01");
	CHECK(h[3] == NULL);
	free(h);
	h = trace_headers_add(NULL, tp, line);
	REQUIRE(h != NULL);
	CHECK(h[0] == line && h[1] == NULL);
	free(h);
	/* The step's own wins; not traced: nothing to add. */
	CHECK(trace_headers_add(own, tp, line) == NULL);
	CHECK(trace_headers_add(plain, NULL, line) == NULL);
}

/* Span ids are never zero and do not repeat. */
static void
test_trace_span_ids(void)
{
	struct trace_config cfg = { .endpoint = "http://h:4318" };
	struct trace *t = trace_create(NULL, NULL, &cfg);
	uint8_t a[TRACE_SPAN_BYTES], b[TRACE_SPAN_BYTES];
	static const uint8_t zero[TRACE_SPAN_BYTES];
	int i, same = 0;

	trace_span_id(t, a);
	for (i = 0; i < 10000; i++) {
		trace_span_id(t, b);
		same += memcmp(a, b, sizeof a) == 0 ||
		    memcmp(b, zero, sizeof b) == 0;
		memcpy(a, b, sizeof a);
	}
	CHECK(same == 0);
	trace_free(t);
}

/* Posts until n spans are dropped (or 5 s pass); checks nothing left. */
static void
export_dropped(struct event_base *base, struct fetch *f, const char *url)
{
	struct trace_config cfg;
	struct trace_stats st;
	struct trace *t;
	int done = 0, i;
	int64_t end;

	memset(&cfg, 0, sizeof cfg);
	cfg.endpoint = url;
	cfg.interval_ms = 50;
	t = trace_create(base, f, &cfg);
	for (i = 0; i < 3; i++)
		add_span(t, "s", step_span, run_span, i + 1, NULL);
	end = orc_mono_ms() + 5000;
	while (!done && orc_mono_ms() < end) {
		httpd_run_until(base, &done, 50);
		trace_get_stats(t, &st);
		done = st.dropped == 3;
	}
	trace_get_stats(t, &st);
	CHECK(st.dropped == 3);
	CHECK(st.exported == 0);
	CHECK(st.queued == 0);
	trace_free(t);
}

/* No collector, or one that answers an error: the posts fail, the spans
 * are dropped and counted. */
static void
test_trace_export_down(void)
{
	struct event_base *base = event_base_new();
	struct fetch *f = fetch_create(base, NULL);
	struct httpd *h = httpd_start(base);
	char *url;

	url = xasprintf("http://127.0.0.1:%d", httpd_dead_port());
	export_dropped(base, f, url);
	free(url);
	/* The test server answers 404 at /v1/traces. */
	url = xasprintf("http://127.0.0.1:%d", h->port);
	export_dropped(base, f, url);
	CHECK(h->requests >= 1);
	free(url);
	fetch_free(f);
	httpd_free(h);
	event_base_free(base);
}

/* A collector: records the last post's path, type and body, answers
 * 200. */
struct collector {
	int		 posts;
	char		*path, *type, *body;
};

/* The collector's one handler. */
static void
collector_cb(struct evhttp_request *req, void *arg)
{
	struct collector *c = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *out = evbuffer_new();
	const char *type = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Content-Type");
	size_t n = evbuffer_get_length(in);

	free(c->path);
	free(c->type);
	free(c->body);
	c->path = xstrdup(evhttp_request_get_uri(req));
	c->type = xstrdup(type != NULL ? type : "");
	c->body = xmalloc(n + 1);
	evbuffer_remove(in, c->body, n);
	c->body[n] = '\0';
	c->posts++;
	evbuffer_add_printf(out, "{}");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

/* A collector that answers: the batch arrives whole, once, as JSON at
 * /v1/traces, and counts as exported. */
static void
test_trace_export_ok(void)
{
	struct event_base *base = event_base_new();
	struct fetch *f = fetch_create(base, NULL);
	struct evhttp *http = evhttp_new(base);
	struct evhttp_bound_socket *sock;
	struct collector col;
	struct trace_config cfg;
	struct trace_stats st;
	struct trace *t;
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;
	json_t *doc;
	char *url;
	int done = 0, i, port;

	memset(&col, 0, sizeof col);
	evhttp_set_gencb(http, collector_cb, &col);
	sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	REQUIRE(sock != NULL);
	memset(&sin, 0, sizeof sin);
	REQUIRE(getsockname(evhttp_bound_socket_get_fd(sock),
	    (struct sockaddr *)&sin, &slen) == 0);
	port = ntohs(sin.sin_port);
	url = xasprintf("http://127.0.0.1:%d/", port);
	memset(&cfg, 0, sizeof cfg);
	cfg.endpoint = url;
	cfg.batch = 4;
	cfg.interval_ms = 60000;	/* the full batch alone sends */
	t = trace_create(base, f, &cfg);
	for (i = 0; i < 4; i++)
		add_span(t, "s", step_span, run_span, i + 1, NULL);
	for (i = 0; i < 500 && !done; i++) {
		httpd_run_until(base, &done, 10);
		trace_get_stats(t, &st);
		done = st.exported == 4;
	}
	trace_get_stats(t, &st);
	CHECK(st.exported == 4 && st.dropped == 0 && st.queued == 0);
	CHECK(col.posts == 1);
	CHECK_STR(col.path, "/v1/traces");
	CHECK_STR(col.type, "application/json");
	doc = col.body != NULL ? json_loads(col.body, 0, NULL) : NULL;
	CHECK(json_array_size(json_object_get(json_array_get(json_object_get(
	    json_array_get(json_object_get(doc, "resourceSpans"), 0),
	    "scopeSpans"), 0), "spans")) == 4);
	json_decref(doc);
	trace_free(t);
	fetch_free(f);
	evhttp_free(http);
	event_base_free(base);
	free(col.path);
	free(col.type);
	free(col.body);
	free(url);
}

int
main(void)
{
	TEST_RUN(test_trace_doc_shape);
	TEST_RUN(test_trace_long_error);
	TEST_RUN(test_trace_batches);
	TEST_RUN(test_trace_queue_bound);
	TEST_RUN(test_trace_parent_valid);
	TEST_RUN(test_trace_parent_bad);
	TEST_RUN(test_trace_headers_add);
	TEST_RUN(test_trace_span_ids);
	TEST_RUN(test_trace_export_down);
	TEST_RUN(test_trace_export_ok);
	TEST_DONE();
}
