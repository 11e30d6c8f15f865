/*
 * The HTTP server of `orchestrator serve` (SPEC section 6), on libevent's
 * evhttp, on the same loop as the engine and the store: webhook triggers,
 * POST /workflows/NAME/runs, the runs API (list, show, long poll, Server-Sent
 * Events, retry, bulk retry, cancel), /workflows, /healthz and /metrics.
 * Errors are JSON: {"error": {"code": "...", "message": "..."}}.
 */
#ifndef HTTP_H
#define HTTP_H

#include "orchestrator.h"

struct engine;
struct event_base;
struct http_server;
struct store;
struct workflow;

struct http_config {
	const char	*listen;	/* "ADDR:PORT"; port 0 picks one */
	const char	*api_token;	/* or NULL: no token needed */
	int		 access_log;	/* one logfmt line per request */
	size_t		 max_body;	/* bytes, for every request: 0 = 16 MiB */
	int		 timeout_s;	/* idle, reset by any byte: 0 = 30 */
	int		 read_timeout_ms; /* a whole request: 0 = 10000 */
	size_t		 max_inflight;	/* request bytes held: 0 = 256 MiB */
};

struct http_server *http_create(struct event_base *, struct engine *,
		    struct store *, const struct http_config *,
		    struct orc_error *);
/* Closes the listener and every connection, and frees the requests that
 * wait on the engine: call it once the loop has stopped, before
 * engine_free, and run the loop no more before engine_free. */
void		 http_free(struct http_server *);
/* The loaded workflows (borrowed; the server takes references), by name
 * and by webhook path. Replaces the previous set: runs keep theirs. */
void		 http_set_workflows(struct http_server *, struct workflow **,
		    size_t);
/* From now on every request is answered 503 (shutting down). */
void		 http_drain(struct http_server *);
/* The port the server listens on. */
int		 http_port(const struct http_server *);
/* The API endpoint pattern (such as "/runs/ID") a path is routed to, or
 * NULL: a webhook at such a path would shadow the endpoint. */
const char	*http_api_path(const char *path);

#endif
