/*
 * Unit tests of client.c: escaping, the API's run documents back into
 * store records (a round trip through runjson gives the same document),
 * and requests against a one-shot server forked here: the headers sent,
 * the error lines for a refused connection and for an error answer.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "runjson.h"
#include "test.h"

/* A listening loopback socket; its port in *port. */
static int
listen_any(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(fd, 1) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Forks a server that answers one request with answer and writes the
 * request it got to the file request.txt. */
static pid_t
serve_once(int fd, const char *answer)
{
	char buf[8192];
	size_t n = 0;
	ssize_t r;
	pid_t pid;
	FILE *f;
	int c;

	/* Or the child would print what the parent has buffered. */
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) != 0)
		return pid;
	if ((c = accept(fd, NULL, NULL)) < 0)
		_exit(1);
	/* Headers, then the body the client announced (small here). */
	while (n < sizeof buf - 1 && (r = read(c, buf + n, sizeof buf - 1 -
	    n)) > 0) {
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL && (strstr(buf,
		    "Content-Length") == NULL || buf[n - 1] == '}'))
			break;
	}
	buf[n] = '\0';
	if ((f = fopen("request.txt", "w")) != NULL) {
		fputs(buf, f);
		fclose(f);
	}
	if (write(c, answer, strlen(answer)) < 0)
		_exit(1);
	close(c);
	_exit(0);
}

static void
test_client_escape(void)
{
	char *s;

	s = client_escape("order-report_1.x~");
	CHECK_STR(s, "order-report_1.x~");
	free(s);
	s = client_escape("a b/c?d=&\xc3\xa9");
	CHECK_STR(s, "a%20b%2Fc%3Fd%3D%26%C3%A9");
	free(s);
	s = client_escape("");
	CHECK_STR(s, "");
	free(s);
}

/* A run through runjson and back gives the same document. */
static void
test_client_run_roundtrip(void)
{
	struct run_rec r, back;
	struct orc_error err;
	json_t *a, *b;

	memset(&r, 0, sizeof r);
	snprintf(r.id, sizeof r.id, "01M8HAEJD7PXYK31ET6J90JMBT");
	r.workflow = xstrdup("flaky-export");
	r.def_hash = xstrdup("1c3eaa0f");
	r.state = RUN_FAILED;
	r.seq = 2;
	r.step = xstrdup("slow-upstream");
	r.attempt = 3;
	r.input = json_pack("{si}", "n", 7);
	r.error = xstrdup("step slow-upstream timed out after 200ms");
	r.dead = DEAD_PENDING;
	r.created_at = 1795877595739;
	r.updated_at = 1795877595800;
	r.finished_at = 1795877595900;
	a = runjson_run(&r);
	REQUIRE(client_run_rec(a, &back, &err) == 0);
	b = runjson_run(&back);
	CHECK(json_equal(a, b));
	CHECK_STR(back.error, r.error);
	CHECK(back.dead == DEAD_PENDING && back.output == NULL);
	json_decref(b);
	run_rec_clear(&back);
	json_decref(a);

	/* Succeeded: no step, an output, no error, no dead letter. */
	free(r.step);
	r.step = NULL;
	free(r.error);
	r.error = NULL;
	r.state = RUN_SUCCEEDED;
	r.dead = DEAD_NONE;
	r.output = json_pack("{ss}", "key", "k");
	a = runjson_run(&r);
	REQUIRE(client_run_rec(a, &back, &err) == 0);
	b = runjson_run(&back);
	CHECK(json_equal(a, b));
	CHECK(back.step == NULL && back.error == NULL);
	CHECK(back.dead == DEAD_NONE);
	json_decref(b);
	run_rec_clear(&back);
	json_decref(a);
	run_rec_clear(&r);
}

static void
test_client_run_bad(void)
{
	struct orc_error err;
	struct run_rec r;
	json_t *o;

	o = json_pack("{ssss}", "id", "01M8", "state", "sleeping");
	CHECK(client_run_rec(o, &r, &err) == -1);
	CHECK_CONTAINS(err.message, "without a valid id or state");
	json_decref(o);
	o = json_pack("{ss}", "state", "failed");
	CHECK(client_run_rec(o, &r, &err) == -1);
	json_decref(o);
	o = json_pack("{ssss}", "id", "0123456789012345678901234567890",
	    "state", "failed");
	CHECK(client_run_rec(o, &r, &err) == -1);
	json_decref(o);
}

static void
test_client_step_transition_roundtrip(void)
{
	struct transition_rec t, tb;
	struct step_rec s, sb;
	struct orc_error err;
	json_t *a, *b;

	memset(&s, 0, sizeof s);
	s.seq = 1;
	s.name = xstrdup("process");
	s.attempts = 2;
	s.output = json_pack("[i]", 3);
	s.started_at = 10;
	s.finished_at = 25;
	a = runjson_step(&s);
	REQUIRE(client_step_rec(a, "R", &sb, &err) == 0);
	b = runjson_step(&sb);
	CHECK(json_equal(a, b));
	CHECK_STR(sb.run_id, "R");
	json_decref(a);
	json_decref(b);
	step_rec_clear(&sb);
	step_rec_clear(&s);

	/* The creation (no from state, no error) and a failure. */
	memset(&t, 0, sizeof t);
	t.at = 100;
	t.from_state = -1;
	t.to_state = RUN_QUEUED;
	t.event = xstrdup("created");
	t.step = xstrdup("decode");
	a = runjson_transition(&t);
	REQUIRE(client_transition_rec(a, "R", &tb, &err) == 0);
	CHECK(tb.from_state == -1 && tb.error == NULL);
	b = runjson_transition(&tb);
	CHECK(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	transition_rec_clear(&tb);
	t.from_state = RUN_RUNNING;
	t.to_state = RUN_FAILED;
	t.error = xstrdup("boom");
	t.duration_ms = 42;
	t.attempt = 3;
	a = runjson_transition(&t);
	REQUIRE(client_transition_rec(a, "R", &tb, &err) == 0);
	CHECK(tb.from_state == RUN_RUNNING && tb.to_state == RUN_FAILED);
	b = runjson_transition(&tb);
	CHECK(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	transition_rec_clear(&tb);
	transition_rec_clear(&t);

	a = json_pack("{ssss}", "from", "nowhere", "to", "failed");
	CHECK(client_transition_rec(a, "R", &tb, &err) == -1);
	CHECK_CONTAINS(err.message, "run R");
	json_decref(a);
}

/* Nothing listens: one line naming the server, no status, no answer. */
static void
test_client_request_refused(void)
{
	struct orc_error err;
	json_t *answer = json_true();
	char url[64];
	long status = 7;
	int fd, port;

	REQUIRE((fd = listen_any(&port)) >= 0);
	close(fd);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	CHECK(client_request(url, "GET", "/runs", NULL, NULL, 0, &status,
	    &answer, &err) == -1);
	CHECK(status == 0 && answer == NULL);
	CHECK_CONTAINS(err.message, url);
	CHECK_CONTAINS(err.message, ": connection refused (is `orchestrator "
	    "serve` running?)");
}

/* The request carries the body, the token and the extra headers; a 2xx
 * JSON answer is parsed. */
static void
test_client_request_ok(void)
{
	static const char answer[] = "HTTP/1.1 202 Accepted\r\n"
	    "Content-Type: application/json\r\nContent-Length: 16\r\n"
	    "Connection: close\r\n\r\n{\"run_id\":\"R1\"}\n";
	const char *headers[] = { "Prefer: wait=3", NULL };
	struct orc_error err;
	json_t *body, *got;
	char url[64], *req;
	long status;
	int fd, port, ws;
	pid_t pid;

	REQUIRE((fd = listen_any(&port)) >= 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	pid = serve_once(fd, answer);
	client_set_token("sekrit");
	body = json_pack("{si}", "n", 1);
	CHECK(client_request(url, "POST", "/workflows/w/runs", body, headers,
	    3, &status, &got, &err) == 0);
	client_set_token(NULL);
	waitpid(pid, &ws, 0);
	close(fd);
	CHECK(status == 202);
	CHECK_STR(json_string_value(json_object_get(got, "run_id")), "R1");
	req = orc_read_file("request.txt", NULL, NULL);
	REQUIRE(req != NULL);
	/* The base's trailing slash is not doubled. */
	CHECK_CONTAINS(req, "POST /workflows/w/runs HTTP/1.1\r\n");
	CHECK_CONTAINS(req, "Authorization: Bearer sekrit\r\n");
	CHECK_CONTAINS(req, "Prefer: wait=3\r\n");
	CHECK_CONTAINS(req, "Content-Type: application/json\r\n");
	CHECK_CONTAINS(req, "\r\n\r\n{\"n\":1}");
	free(req);
	json_decref(got);
	json_decref(body);
}

/* An error answer: the server's message, and the answer is kept. */
static void
test_client_request_error(void)
{
	static const char answer[] = "HTTP/1.1 404 Not Found\r\n"
	    "Content-Length: 58\r\nConnection: close\r\n\r\n"
	    "{\"error\":{\"code\":\"not_found\","
	    "\"message\":\"run X not found\"}}";
	static const char page[] = "HTTP/1.1 502 Bad Gateway\r\n"
	    "Content-Length: 21\r\nConnection: close\r\n\r\n"
	    "<h1>Bad Gateway</h1>\n";
	struct orc_error err;
	json_t *got;
	char url[64], *req;
	long status;
	int fd, port, ws;
	pid_t pid;

	REQUIRE((fd = listen_any(&port)) >= 0);
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	pid = serve_once(fd, answer);
	CHECK(client_request(url, "GET", "/runs/X", NULL, NULL, 0, &status,
	    &got, &err) == -1);
	waitpid(pid, &ws, 0);
	CHECK(status == 404);
	CHECK_STR(err.message, "server answered 404: run X not found");
	CHECK_STR(json_string_value(json_object_get(json_object_get(got,
	    "error"), "code")), "not_found");
	json_decref(got);
	req = orc_read_file("request.txt", NULL, NULL);
	CHECK(req != NULL && strstr(req, "Authorization") == NULL);
	free(req);

	/* Not JSON (a proxy): its first line. */
	pid = serve_once(fd, page);
	CHECK(client_request(url, "GET", "/runs", NULL, NULL, 0, &status,
	    &got, &err) == -1);
	waitpid(pid, &ws, 0);
	close(fd);
	CHECK(status == 502 && got == NULL);
	CHECK_STR(err.message, "server answered 502: <h1>Bad Gateway</h1>");
}

int
main(void)
{
	TEST_RUN(test_client_escape);
	TEST_RUN(test_client_run_roundtrip);
	TEST_RUN(test_client_run_bad);
	TEST_RUN(test_client_step_transition_roundtrip);
	TEST_RUN(test_client_request_refused);
	TEST_RUN(test_client_request_ok);
	TEST_RUN(test_client_request_error);
	TEST_DONE();
}
