/*
 * Tracing: spans of runs and step attempts, exported as OTLP/HTTP JSON
 * (POST ENDPOINT/v1/traces) to an OpenTelemetry collector.
 *
 * The engine hands finished spans to trace_add(), which copies each into
 * one allocation on a bounded queue and returns: nothing waits for the
 * collector. A timer (every second, or at once when a batch is queued)
 * encodes a batch into one document and posts it through the fetch
 * client, whose transfers run off the loop. A full queue or a failed post
 * drops spans and counts them, so a slow or absent collector costs neither
 * memory nor latency. W3C trace context (traceparent) is parsed and
 * formatted here too, for webhooks that carry one and for the requests
 * steps make.
 */
#ifndef TRACE_H
#define TRACE_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct fetch;
struct trace;

#define TRACE_ID_BYTES		16
#define TRACE_SPAN_BYTES	8
/* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define TRACE_PARENT_LEN	55

/* A place in a trace: the trace, a span of it, and the W3C flags. */
struct trace_ctx {
	uint8_t		 trace_id[TRACE_ID_BYTES];
	uint8_t		 span_id[TRACE_SPAN_BYTES];
	uint8_t		 flags;
};

enum trace_kind {
	TRACE_KIND_INTERNAL = 1,
	TRACE_KIND_SERVER = 2
};

/* One finished span, as the engine describes it; all borrowed. */
struct trace_span_info {
	const char		*name;
	const uint8_t		*trace_id;	/* TRACE_ID_BYTES */
	const uint8_t		*span_id;	/* TRACE_SPAN_BYTES */
	const uint8_t		*parent_id;	/* or NULL: a root span */
	enum trace_kind		 kind;
	int64_t			 start_ns;	/* since the epoch */
	int64_t			 end_ns;
	int			 failed;	/* status ERROR, else OK */
	const char		*workflow;
	const char		*run_id;
	int			 attempt;	/* 0: not an attempt */
	const char		*status;	/* "succeeded", "failed", ... */
	const char		*error;		/* or NULL */
};

struct trace_config {
	const char	*endpoint;	/* http://HOST:4318 */
	const char	*service;	/* service.name; NULL: "orchestrator" */
	size_t		 max_queue;	/* spans held at most; 0: 10000 */
	size_t		 batch;		/* spans per post; 0: 512 */
	int64_t		 interval_ms;	/* between posts; 0: 1000 */
};

struct trace_stats {
	uint64_t	 exported;	/* accepted by the collector */
	uint64_t	 dropped;	/* queue full or post failed */
	size_t		 queued;
};

/* fetch may be NULL (nothing is posted: for tests of the queue and the
 * document); it must outlive the trace. */
struct trace	*trace_create(struct event_base *, struct fetch *,
		    const struct trace_config *);
/* Cancels posts in flight; what is queued is dropped. */
void		 trace_free(struct trace *);
/* Queues a copy of the span, or drops and counts it when the queue is
 * full. Never blocks. */
void		 trace_add(struct trace *, const struct trace_span_info *);
/* Takes up to one batch of queued spans out as an OTLP/HTTP JSON
 * document (new string, its length in *len); NULL when none is queued.
 * *n gets how many spans it holds. */
char		*trace_take_doc(struct trace *, size_t *len, size_t *n);
void		 trace_get_stats(const struct trace *, struct trace_stats *);
/* Posts everything queued, batch after batch, without waiting for the
 * timer (a drain before exit); NULL is a no-op. */
void		 trace_flush(struct trace *);
/* Spans queued or in posts not answered yet; 0 for NULL. */
size_t		 trace_pending(const struct trace *);

/* A new span id, never zero. */
void		 trace_span_id(struct trace *, uint8_t out[TRACE_SPAN_BYTES]);
/* Parses a traceparent header value: 0, or -1 when it is not a valid
 * one (unknown shape, upper-case hex, a zero id, version ff). */
int		 trace_parent_parse(const char *, struct trace_ctx *);
/* Formats ctx as a traceparent value (version 00) with its NUL. */
void		 trace_parent_format(const struct trace_ctx *,
		    char out[TRACE_PARENT_LEN + 1]);
/*
 * headers ("Name: value", NULL-ended, may be NULL) with "traceparent: tp"
 * added after them, unless tp is NULL or they have a traceparent header
 * already (the step's own wins): then NULL. A new array for the caller
 * to free; its strings are borrowed, the added one is line.
 */
const char	**trace_headers_add(const char *const *headers, const char *tp,
		    char line[TRACE_PARENT_LEN + 16]);
/* Wall clock in ns since the epoch. */
int64_t		 trace_now_ns(void);

#endif
