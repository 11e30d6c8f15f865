/*
 * libFuzzer target: the whole webhook request path, headers and body. One
 * server (evhttp, the engine, a store) lives for the process; each input
 * is written as raw bytes into a loopback connection to it, and the loop
 * runs until the server answers and closes, or a bounded number of turns
 * passes. Everything a request meets runs: evhttp's parser, routing, the
 * token and signature checks, content types, body decoding, the input
 * schema, idempotency keys, Prefer: wait, and a run's submission.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "diag.h"
#include "engine.h"
#include "http.h"
#include "log.h"
#include "store.h"
#include "workflow.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A webhook with a signature, a schema and a sync mode, and one without. */
static const char fuzz_wf_signed[] =
    "{\"name\":\"signed\",\"trigger\":{\"webhook\":{\"path\":\"/hooks/s\","
    "\"mode\":\"sync\",\"sync_timeout_ms\":50,\"secret_env\":"
    "\"FUZZ_SECRET\",\"max_body_bytes\":4096}},\"input\":{\"type\":"
    "\"object\",\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":"
    "\"string\",\"maxLength\":8}}},\"steps\":[{\"name\":\"d\",\"uses\":"
    "\"json.decode\"}]}";
static const char fuzz_wf_open[] =
    "{\"name\":\"open\",\"trigger\":{\"webhook\":{\"path\":\"/hooks/o\"}},"
    "\"concurrency\":2,\"steps\":[{\"name\":\"d\",\"uses\":\"json.decode\"},"
    "{\"name\":\"t\",\"uses\":\"transform\",\"with\":{\"x\":"
    "\"{{input}}\"}}]}";

static struct event_base	*fuzz_base;
static struct http_server	*fuzz_http;
static int			 fuzz_port;

/* Loads one of the workflows above. */
static struct workflow *
fuzz_load(const char *text)
{
	struct diag *d = diag_create();
	struct workflow *wf;

	wf = workflow_load_text(text, strlen(text), "fuzz.json", d);
	diag_free(d);
	if (wf == NULL)
		abort();
	return wf;
}

/* The server, made once: it and its store outlive every input. */
static void
fuzz_setup(void)
{
	struct engine_config ec;
	struct http_config hc;
	struct orc_error err;
	struct workflow *wfs[2];
	struct store *st;
	struct engine *e;

	log_set_level(LOG_NONE);
	setenv("FUZZ_SECRET", "s3cret", 1);
	fuzz_base = event_base_new();
	if ((st = store_open(":memory:", 0, fuzz_base, &err)) == NULL)
		abort();
	memset(&ec, 0, sizeof ec);
	ec.buckets_dir = "/nonexistent-fuzz-buckets";
	ec.max_queue = 8;
	e = engine_create(fuzz_base, st, &ec);
	memset(&hc, 0, sizeof hc);
	hc.listen = "127.0.0.1:0";
	hc.max_body = 1 << 16;
	hc.read_timeout_ms = 200;
	/* FUZZ_ACCESS_LOG=1 shows what each input did. */
	hc.access_log = getenv("FUZZ_ACCESS_LOG") != NULL;
	if ((fuzz_http = http_create(fuzz_base, e, st, &hc, &err)) == NULL)
		abort();
	wfs[0] = fuzz_load(fuzz_wf_signed);
	wfs[1] = fuzz_load(fuzz_wf_open);
	http_set_workflows(fuzz_http, wfs, 2);
	workflow_unref(wfs[0]);
	workflow_unref(wfs[1]);
	fuzz_port = http_port(fuzz_http);
}

/* A non-blocking client connection to the server. */
static int
fuzz_connect(void)
{
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)fuzz_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Runs the loop until the server closes the connection (or 400 turns). */
static void
fuzz_drive(int fd, const uint8_t *data, size_t size)
{
	size_t off = 0;
	char buf[4096];
	ssize_t n;
	int turn;

	for (turn = 0; turn < 400; turn++) {
		if (off < size) {
			n = write(fd, data + off, size - off);
			if (n > 0)
				off += (size_t)n;
			if (off == size)
				shutdown(fd, SHUT_WR);
		}
		event_base_loop(fuzz_base, EVLOOP_NONBLOCK);
		n = read(fd, buf, sizeof buf);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return;
		if (n < 0)
			usleep(500);
	}
}

/* One input: the raw bytes of a request (or of several, pipelined). */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd;

	if (fuzz_base == NULL)
		fuzz_setup();
	if ((fd = fuzz_connect()) < 0)
		return 0;
	if (size == 0)
		shutdown(fd, SHUT_WR);
	fuzz_drive(fd, data, size);
	close(fd);
	/* Let the runs the input started go on, a little. */
	event_base_loop(fuzz_base, EVLOOP_NONBLOCK);
	return 0;
}
