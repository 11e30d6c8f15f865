/*
 * The engine's spans (trace.h): one trace per run, a span for the run from
 * its creation to its final state, and one for each step attempt, a child
 * of the run's. Nothing here is stored: the trace id is the run id's 128
 * bits and the run's span id a hash of the run id, so a run that another
 * process resumes after a crash goes on in the same trace, under the same
 * parent. A webhook's traceparent, kept in the run's trigger metadata
 * (http-hook.c), puts the run's span under the caller's instead. The
 * engine calls in here only when it traces (ENGINE_TRACING).
 */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "engine-internal.h"
#include "id.h"
#include "trace.h"

/* The run's span id: FNV-1a of its id, mixed (never zero). */
static void
engine_trace_run_span(const char *id, uint8_t out[TRACE_SPAN_BYTES])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	int i;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 0x100000001b3ULL;
	h = (h ^ (h >> 33)) * 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	if (h == 0)
		h = 1;
	for (i = 0; i < TRACE_SPAN_BYTES; i++)
		out[i] = (uint8_t)(h >> (8 * i));
}

/* Fills the run's place in its trace, once. */
static void
engine_trace_ctx(struct run *run)
{
	struct trace_ctx caller;
	const char *tp;

	if (run->traced)
		return;
	run->traced = 1;
	tp = json_string_value(json_object_get(run->rec.trigger,
	    "traceparent"));
	if (tp != NULL && trace_parent_parse(tp, &caller) == 0) {
		memcpy(run->tctx.trace_id, caller.trace_id, TRACE_ID_BYTES);
		memcpy(run->tparent, caller.span_id, TRACE_SPAN_BYTES);
		run->tctx.flags = caller.flags;
		run->has_tparent = 1;
	} else {
		/* A ULID is 128 bits: the trace id names the run. */
		if (id_bytes(run->rec.id, run->tctx.trace_id) != 0)
			memset(run->tctx.trace_id, 0xee, TRACE_ID_BYTES);
		run->tctx.flags = 1;	/* sampled */
	}
	engine_trace_run_span(run->rec.id, run->tctx.span_id);
}

/* Opens the span of the attempt starting now; tp gets its traceparent,
 * for the requests the step makes. */
void
engine_trace_step_start(struct run *run, char tp[TRACE_PARENT_LEN + 1])
{
	struct trace_ctx ctx;

	engine_trace_ctx(run);
	trace_span_id(run->engine->trace, run->step_span);
	run->step_start_ns = trace_now_ns();
	memcpy(ctx.trace_id, run->tctx.trace_id, TRACE_ID_BYTES);
	memcpy(ctx.span_id, run->step_span, TRACE_SPAN_BYTES);
	ctx.flags = run->tctx.flags;
	trace_parent_format(&ctx, tp);
}

/* Closes the open attempt span, if any: status "succeeded", "failed",
 * "timed_out" or "cancelled"; error NULL when it succeeded. */
void
engine_trace_step_end(struct run *run, const char *name, const char *status,
    const char *error)
{
	struct trace_span_info si;

	if (run->step_start_ns == 0)
		return;
	memset(&si, 0, sizeof si);
	si.name = name;
	si.trace_id = run->tctx.trace_id;
	si.span_id = run->step_span;
	si.parent_id = run->tctx.span_id;
	si.kind = TRACE_KIND_INTERNAL;
	si.start_ns = run->step_start_ns;
	si.end_ns = trace_now_ns();
	si.failed = error != NULL;
	si.workflow = run->rec.workflow;
	si.run_id = run->rec.id;
	si.attempt = RUN_IN_DEAD(run) ? run->dead_attempt : run->rec.attempt;
	si.status = status;
	si.error = error;
	run->step_start_ns = 0;
	trace_add(run->engine->trace, &si);
}

/* The run is final: its span, from its creation to now. */
void
engine_trace_run_end(struct run *run)
{
	struct trace_span_info si;
	int64_t end = run->rec.finished_at > 0 ? run->rec.finished_at :
	    run->rec.updated_at;

	engine_trace_ctx(run);
	memset(&si, 0, sizeof si);
	si.name = run->rec.workflow;
	si.trace_id = run->tctx.trace_id;
	si.span_id = run->tctx.span_id;
	si.parent_id = run->has_tparent ? run->tparent : NULL;
	si.kind = run->has_tparent ? TRACE_KIND_SERVER : TRACE_KIND_INTERNAL;
	si.start_ns = run->rec.created_at * 1000000;
	si.end_ns = end * 1000000;
	si.failed = run->rec.state != RUN_SUCCEEDED;
	si.workflow = run->rec.workflow;
	si.run_id = run->rec.id;
	si.status = run_state_name(run->rec.state);
	si.error = run->rec.error;
	trace_add(run->engine->trace, &si);
}
