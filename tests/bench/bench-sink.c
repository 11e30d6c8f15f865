/*
 * The end-to-end benchmark's far side (contrib/bench-e2e.sh): the two
 * services the background-task example talks to, answering like
 * contrib/example-service.py does without its fault injection, on one
 * libevent loop. The Python service spent 60-250 us of CPU per run, a
 * quarter of a core at the rates measured, on the same two cores as the
 * daemon, and that cost swung with how its requests batched: a load
 * generator should take as little of the machine it measures as it can.
 *
 *   GET  /customers/NAME   the customer record (404 for an unknown one)
 *   POST /callback, POST /publish
 *                          200; one line {"time": T, "body": BODY} in
 *                          --record (BODY as sent, line breaks made
 *                          spaces), written out every 100 ms
 *   GET  /healthz          200
 *
 *   bench-sink --port N --record FILE
 *
 * It prints "bench-sink: listening on http://127.0.0.1:PORT" on stderr
 * once it accepts connections (--port 0 picks a free port), and runs
 * until killed.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

struct sink_customer {
	const char	*name;
	const char	*json;
};

static const struct sink_customer sink_customers[] = {
	{ "acme", "{\"id\": \"acme\", \"name\": \"Acme Corporation\", "
	    "\"tier\": \"gold\", \"discount_pct\": 10, \"currency\": \"EUR\", "
	    "\"email\": \"billing@acme.example\"}\n" },
	{ "globex", "{\"id\": \"globex\", \"name\": \"Globex\", "
	    "\"tier\": \"silver\", \"discount_pct\": 5, \"currency\": \"USD\", "
	    "\"email\": \"ap@globex.example\"}\n" },
	{ "initech", "{\"id\": \"initech\", \"name\": \"Initech\", "
	    "\"tier\": \"bronze\", \"discount_pct\": 0, \"currency\": \"USD\", "
	    "\"email\": \"invoices@initech.example\"}\n" },
};

static FILE	*sink_record;

/* Answers with a JSON body. */
static void
sink_reply(struct evhttp_request *req, int code, const char *json)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add(out, json, strlen(json));
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Not Found", NULL);
}

/* GET /customers/NAME. */
static void
sink_customer(struct evhttp_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof sink_customers / sizeof sink_customers[0];
	    i++) {
		if (strcmp(name, sink_customers[i].name) == 0) {
			sink_reply(req, 200, sink_customers[i].json);
			return;
		}
	}
	sink_reply(req, 404, "{\"error\": \"no such customer\"}\n");
}

/* POST /callback (or /publish): the arrival time and the body, one line. */
static void
sink_callback(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct timeval tv;
	size_t n = evbuffer_get_length(in), i;
	char *body = (char *)evbuffer_pullup(in, -1);

	gettimeofday(&tv, NULL);
	for (i = 0; i < n; i++)
		if (body[i] == '\n' || body[i] == '\r')
			body[i] = ' ';
	if (sink_record != NULL) {
		fprintf(sink_record, "{\"time\": %lld.%06ld, \"body\": ",
		    (long long)tv.tv_sec, (long)tv.tv_usec);
		if (n == 0)
			fputs("null", sink_record);
		else
			fwrite(body, 1, n, sink_record);
		fputs("}\n", sink_record);
	}
	sink_reply(req, 200, "{\"received\": true}\n");
}

/* Every request. */
static void
sink_request_cb(struct evhttp_request *req, void *arg)
{
	const char *path = evhttp_request_get_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (cmd == EVHTTP_REQ_GET && strncmp(path, "/customers/", 11) == 0)
		sink_customer(req, path + 11);
	else if (cmd == EVHTTP_REQ_POST && (strcmp(path, "/callback") == 0 ||
	    strcmp(path, "/publish") == 0))
		sink_callback(req);
	else if (strcmp(path, "/healthz") == 0)
		sink_reply(req, 200, "{\"status\": \"ok\"}\n");
	else
		sink_reply(req, 404, "{\"error\": \"no such path\"}\n");
}

/* Writes the record out, so that the benchmark sees callbacks arrive. */
static void
sink_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	if (sink_record != NULL)
		fflush(sink_record);
}

/* The port the listening socket got. */
static int
sink_port(struct evhttp_bound_socket *bound)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;

	if (getsockname(evhttp_bound_socket_get_fd(bound),
	    (struct sockaddr *)&sin, &len) != 0)
		return -1;
	return ntohs(sin.sin_port);
}

int
main(int argc, char **argv)
{
	struct timeval tick = { 0, 100000 };
	struct evhttp_bound_socket *bound;
	struct event_base *base;
	struct evhttp *http;
	struct event *flush;
	int i, port = 0;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--record") == 0) {
			if ((sink_record = fopen(argv[i + 1], "a")) == NULL) {
				perror(argv[i + 1]);
				return 1;
			}
			setvbuf(sink_record, NULL, _IOFBF, 1 << 20);
		} else {
			fprintf(stderr, "usage: bench-sink [--port N] "
			    "[--record FILE]\n");
			return 2;
		}
	}
	if ((base = event_base_new()) == NULL ||
	    (http = evhttp_new(base)) == NULL) {
		fprintf(stderr, "bench-sink: cannot start libevent\n");
		return 1;
	}
	evhttp_set_gencb(http, sink_request_cb, NULL);
	if ((bound = evhttp_bind_socket_with_handle(http, "127.0.0.1",
	    (unsigned short)port)) == NULL) {
		fprintf(stderr, "bench-sink: cannot listen on port %d\n",
		    port);
		return 1;
	}
	flush = event_new(base, -1, EV_PERSIST, sink_flush_cb, NULL);
	event_add(flush, &tick);
	fprintf(stderr, "bench-sink: listening on http://127.0.0.1:%d\n",
	    sink_port(bound));
	event_base_dispatch(base);
	return 0;
}
