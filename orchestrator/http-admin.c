/*
 * The server's own endpoints: the loaded workflows (their documented
 * contract: description, input and output schemas, webhook), starting a
 * run by hand, health for load balancers and /metrics in the Prometheus
 * text format 0.0.4.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "http-internal.h"
#include "log.h"
#include "loop.h"
#include "runjson.h"
#include "scheduler.h"
#include "strbuf.h"
#include "trace.h"
#include "worker.h"
#include "workflow.h"

/* A workflow as GET /workflows shows it. */
static json_t *
admin_workflow_json(struct workflow *wf)
{
	const json_t *hook, *v;
	json_t *o;

	o = json_pack("{ssss}", "name", workflow_name(wf), "hash",
	    workflow_hash(wf));
	v = NULL;
	json_object_set_new(o, "description", workflow_description(wf) ?
	    json_string(workflow_description(wf)) : json_null());
	hook = json_object_get(workflow_trigger(wf), "webhook");
	if (hook != NULL) {
		v = json_object_get(hook, "mode");
		json_object_set_new(o, "webhook", json_pack("{sOss}", "path",
		    json_object_get(hook, "path"), "mode", json_is_string(v) ?
		    json_string_value(v) : "async"));
	} else
		json_object_set_new(o, "webhook", json_null());
	v = workflow_input_schema(wf);
	json_object_set(o, "input", v ? (json_t *)v : json_null());
	v = workflow_output_schema(wf);
	json_object_set(o, "output", v ? (json_t *)v : json_null());
	return o;
}

void
http_admin_workflows(struct http_req *hr, char **args)
{
	json_t *a = json_array(), *o;
	size_t i;

	for (i = 0; i < hr->srv->nwfs; i++)
		json_array_append_new(a, admin_workflow_json(hr->srv->wfs[i]));
	o = json_pack("{so}", "workflows", a);
	http_reply_json(hr, 200, o);
	json_decref(o);
}

void
http_admin_workflow(struct http_req *hr, char **args)
{
	struct workflow *wf;
	json_t *o;

	if ((wf = http_workflow_by_name(hr->srv, args[0])) == NULL) {
		http_error(hr, "not_found", "workflow %s is not loaded",
		    args[0]);
		return;
	}
	o = admin_workflow_json(wf);
	/* The file as loaded: steps, flow control, names of secrets. */
	json_object_set(o, "definition", (json_t *)workflow_json(wf));
	http_reply_json(hr, 200, o);
	json_decref(o);
}

void
http_admin_start(struct http_req *hr, char **args)
{
	struct workflow *wf;

	if ((wf = http_workflow_by_name(hr->srv, args[0])) == NULL) {
		http_error(hr, "not_found", "workflow %s is not loaded",
		    args[0]);
		return;
	}
	http_hook_post(hr, wf, 0);
}

void
http_admin_healthz(struct http_req *hr, char **args)
{
	json_t *o;
	int ok = store_healthy(hr->srv->store);

	o = json_pack("{ss}", "status", ok ? "ok" : "unhealthy");
	http_reply_json(hr, ok ? 200 : 503, o);
	json_decref(o);
}

/* The HELP and TYPE lines of a series. */
static void
admin_head(struct strbuf *sb, const char *name, const char *type,
    const char *help)
{
	strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* Runs by state, from the store. */
static void
admin_metrics_runs(struct http_server *srv, struct strbuf *sb)
{
	int64_t counts[RUN_STATE_COUNT];
	struct orc_error err;
	int i;

	if (store_count_runs(srv->store, NULL, counts, &err) != 0)
		return;
	admin_head(sb, "orchestrator_runs", "gauge", "Runs in the store by "
	    "state.");
	for (i = 0; i < RUN_STATE_COUNT; i++)
		strbuf_printf(sb, "orchestrator_runs{state=\"%s\"} %lld\n",
		    run_state_name((enum run_state)i), (long long)counts[i]);
}

/* The step duration histogram, in seconds. */
static void
admin_metrics_hist(const struct engine_stats *st, struct strbuf *sb)
{
	const char *n = "orchestrator_step_duration_seconds";
	uint64_t cum = 0;
	int i;

	admin_head(sb, n, "histogram", "Step attempt durations.");
	for (i = 0; i < ENGINE_HIST_BUCKETS; i++) {
		cum += st->step_ms_bucket[i];
		strbuf_printf(sb, "%s_bucket{le=\"%g\"} %llu\n", n,
		    (double)engine_hist_bounds[i] / 1000.0,
		    (unsigned long long)cum);
	}
	cum += st->step_ms_bucket[ENGINE_HIST_BUCKETS];
	strbuf_printf(sb, "%s_bucket{le=\"+Inf\"} %llu\n", n,
	    (unsigned long long)cum);
	strbuf_printf(sb, "%s_sum %g\n%s_count %llu\n", n,
	    st->step_ms_sum / 1000.0, n,
	    (unsigned long long)st->step_ms_count);
}

/* The engine's gauges and counters. */
static void
admin_metrics_engine(const struct engine_stats *st, struct strbuf *sb)
{
	int i;

	admin_head(sb, "orchestrator_runs_active", "gauge", "Runs in memory "
	    "that are not final.");
	strbuf_printf(sb, "orchestrator_runs_active %zu\n", st->active);
	admin_head(sb, "orchestrator_queue_depth", "gauge", "Runs waiting "
	    "for a concurrency slot.");
	strbuf_printf(sb, "orchestrator_queue_depth %zu\n", st->waiting);
	admin_head(sb, "orchestrator_step_calls_in_flight", "gauge",
	    "Step attempts in flight.");
	strbuf_printf(sb, "orchestrator_step_calls_in_flight %zu\n",
	    st->calls);
	admin_head(sb, "orchestrator_runs_submitted_total", "counter",
	    "Runs submitted.");
	strbuf_printf(sb, "orchestrator_runs_submitted_total %llu\n",
	    (unsigned long long)st->submitted);
	admin_head(sb, "orchestrator_runs_finished_total", "counter",
	    "Runs that reached a final state.");
	for (i = 0; i < RUN_STATE_COUNT; i++) {
		if (run_state_is_final((enum run_state)i))
			strbuf_printf(sb, "orchestrator_runs_finished_total"
			    "{state=\"%s\"} %llu\n", run_state_name(
			    (enum run_state)i),
			    (unsigned long long)st->finished[i]);
	}
	admin_head(sb, "orchestrator_runs_lost_total", "counter", "Runs "
	    "dropped from memory because the store refused their writes: "
	    "another node took their lease over, or their cron fire is "
	    "another run's.");
	strbuf_printf(sb, "orchestrator_runs_lost_total %llu\n",
	    (unsigned long long)st->lost);
	admin_head(sb, "orchestrator_step_retries_total", "counter",
	    "Step attempts after a failed one.");
	strbuf_printf(sb, "orchestrator_step_retries_total %llu\n",
	    (unsigned long long)st->retries);
	admin_head(sb, "orchestrator_steps_total", "counter", "Step attempts "
	    "by result.");
	strbuf_printf(sb, "orchestrator_steps_total{result=\"ok\"} %llu\n"
	    "orchestrator_steps_total{result=\"failed\"} %llu\n",
	    (unsigned long long)st->steps_ok,
	    (unsigned long long)st->steps_failed);
}

/* One metric of one value, with its help line. */
static void
admin_metric(struct strbuf *sb, const char *name, const char *type,
    const char *help, unsigned long long v)
{
	admin_head(sb, name, type, help);
	strbuf_printf(sb, "%s %llu\n", name, v);
}

/* The store's size and the age of its oldest finished run (by the
 * finished-runs index: one read, on the reading connection). */
static void
admin_metrics_lifecycle(struct store *store, struct strbuf *sb)
{
	struct orc_error	err;
	int64_t			bytes, oldest, age = 0;

	if (store_size(store, &bytes, &err) == 0) {
		admin_head(sb, "orchestrator_store_bytes", "gauge", "The "
		    "store's size (SQLite: the file and its log).");
		strbuf_printf(sb, "orchestrator_store_bytes %lld\n",
		    (long long)bytes);
	} else
		log_warn("%s: %s", __func__, err.message);
	if (store_oldest_finished(store, &oldest, &err) == 0) {
		if (oldest > 0 && (age = orc_now_ms() - oldest) < 0)
			age = 0;
		admin_head(sb, "orchestrator_oldest_finished_run_age_seconds",
		    "gauge", "How long ago the oldest finished run kept "
		    "finished (0: none).");
		strbuf_printf(sb, "orchestrator_oldest_finished_run_age_seconds"
		    " %.3f\n", (double)age / 1000.0);
	} else
		log_warn("%s: %s", __func__, err.message);
}

/* The store: its health, its transactions and the changes they grouped. */
static void
admin_metrics_store(struct store *store, struct strbuf *sb)
{
	struct store_stats st;

	admin_head(sb, "orchestrator_store_healthy", "gauge", "1 while the "
	    "store commits.");
	strbuf_printf(sb, "orchestrator_store_healthy %d\n",
	    store_healthy(store) ? 1 : 0);
	store_get_stats(store, &st);
	admin_metric(sb, "orchestrator_store_commits_total", "counter",
	    "Transactions committed (each groups the changes then queued).",
	    st.commits);
	admin_metric(sb, "orchestrator_store_changes_total", "counter",
	    "Changes committed (a run's move with its transition).",
	    st.changes);
	admin_metric(sb, "orchestrator_store_runs_deleted_total", "counter",
	    "Finished runs deleted by retention.", st.purged);
	admin_metrics_lifecycle(store, sb);
}

/* The request bytes held in memory and the requests refused for them. */
static void
admin_metrics_inflight(const struct http_server *srv, struct strbuf *sb)
{
	admin_metric(sb, "orchestrator_http_inflight_bytes", "gauge",
	    "Request bytes held: bodies being received, requests waiting "
	    "for their answer.", srv->inflight);
	admin_metric(sb, "orchestrator_http_inflight_limit_bytes", "gauge",
	    "--max-inflight-bytes.", srv->max_inflight);
	admin_metric(sb, "orchestrator_http_inflight_refused_total",
	    "counter", "Requests answered 503 past --max-inflight-bytes.",
	    srv->inflight_refused);
}

/* The worker processes that run user code, when the engine has them. */
static void
admin_metrics_workers(const struct worker_pool *pool, struct strbuf *sb)
{
	struct worker_stats st;

	if (pool == NULL)
		return;
	worker_pool_stats(pool, &st);
	admin_head(sb, "orchestrator_workers", "gauge", "Worker processes "
	    "for user code: configured and alive.");
	strbuf_printf(sb, "orchestrator_workers{state=\"configured\"} %d\n"
	    "orchestrator_workers{state=\"alive\"} %d\n", st.workers,
	    st.alive);
	admin_metric(sb, "orchestrator_worker_queue_depth", "gauge",
	    "Calls waiting for a worker.", st.queued);
	admin_metric(sb, "orchestrator_worker_calls_in_flight", "gauge",
	    "Calls on workers.", st.running);
	admin_metric(sb, "orchestrator_worker_calls_total", "counter",
	    "Calls handed to workers.", st.calls);
	admin_metric(sb, "orchestrator_worker_restarts_total", "counter",
	    "Workers started again after one ended.", st.restarts);
	admin_head(sb, "orchestrator_worker_kills_total", "counter",
	    "Workers killed by reason: a call stuck past its deadline, or "
	    "one that crashed or broke its channel.");
	strbuf_printf(sb, "orchestrator_worker_kills_total{reason="
	    "\"deadline\"} %llu\norchestrator_worker_kills_total{reason="
	    "\"crash\"} %llu\n", (unsigned long long)st.kills,
	    (unsigned long long)st.crashes);
}

/* Spans exported and dropped: zero while the engine does not trace. */
static void
admin_metrics_trace(const struct trace *trace, struct strbuf *sb)
{
	struct trace_stats st;

	memset(&st, 0, sizeof st);
	if (trace != NULL)
		trace_get_stats(trace, &st);
	admin_metric(sb, "orchestrator_trace_spans_exported_total",
	    "counter", "Spans the OTLP collector accepted.", st.exported);
	admin_metric(sb, "orchestrator_trace_spans_dropped_total",
	    "counter", "Spans dropped: the queue was full or a post to the "
	    "collector failed.", st.dropped);
}

/* How late the loop ran its timers. */
static void
admin_metrics_lag(const struct loop_lag *lag, struct strbuf *sb)
{
	const char *n = "orchestrator_loop_lag_seconds";
	struct loop_lag_stats st;
	uint64_t cum = 0;
	int i;

	if (lag == NULL)
		return;
	loop_lag_get(lag, &st);
	admin_head(sb, n, "histogram", "How late the event loop ran a timer "
	    "due every 100 ms.");
	for (i = 0; i < LOOP_LAG_BUCKETS; i++) {
		cum += st.bucket[i];
		strbuf_printf(sb, "%s_bucket{le=\"%g\"} %llu\n", n,
		    loop_lag_bounds[i], (unsigned long long)cum);
	}
	cum += st.bucket[LOOP_LAG_BUCKETS];
	strbuf_printf(sb, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %g\n"
	    "%s_count %llu\n", n, (unsigned long long)cum, n, st.sum, n,
	    (unsigned long long)st.count);
}

void
http_admin_metrics(struct http_req *hr, char **args)
{
	struct http_server *srv = hr->srv;
	struct strbuf sb = STRBUF_INIT;
	struct engine_stats st;
	int i;

	memset(&st, 0, sizeof st);
	engine_get_stats(srv->engine, &st);
	admin_metrics_runs(srv, &sb);
	admin_metrics_engine(&st, &sb);
	admin_metrics_hist(&st, &sb);
	admin_head(&sb, "orchestrator_http_requests_total", "counter",
	    "HTTP requests answered, by status code.");
	for (i = 0; i < HTTP_CODES && srv->codes[i] != 0; i++)
		strbuf_printf(&sb, "orchestrator_http_requests_total"
		    "{code=\"%d\"} %llu\n", srv->codes[i],
		    (unsigned long long)srv->code_counts[i]);
	sched_metrics(srv->store, &sb);
	admin_metrics_store(srv->store, &sb);
	admin_metrics_inflight(srv, &sb);
	admin_metrics_workers(engine_workers(srv->engine), &sb);
	admin_metrics_lag(engine_loop_lag(srv->engine), &sb);
	admin_metrics_trace(engine_trace(srv->engine), &sb);
	strbuf_addc(&sb, '\0');
	http_reply_text(hr, 200, "text/plain; version=0.0.4", sb.s,
	    sb.len - 1);
	strbuf_free(&sb);
}

/* Adds one schedule's row (store_list_schedules). */
static int
admin_schedule_cb(const struct schedule_rec *r, void *arg)
{
	json_array_append_new(arg, runjson_schedule(r));
	return 0;
}

/* GET /schedules: the cron triggers, as `schedules --json` prints them. */
void
http_admin_schedules(struct http_req *hr, char **args)
{
	struct orc_error err;
	json_t *a = json_array(), *o;

	if (store_list_schedules(hr->srv->store, admin_schedule_cb, a,
	    &err) != 0) {
		json_decref(a);
		err.code = ORC_ESTORE;
		http_error_orc(hr, &err);
		return;
	}
	o = json_pack("{so}", "schedules", a);
	http_reply_json(hr, 200, o);
	json_decref(o);
}
