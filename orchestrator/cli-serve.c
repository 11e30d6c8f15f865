/*
 * orchestrator serve: the daemon. One event loop carries the HTTP server,
 * the engine's timers, the scheduler's cron triggers (scheduler.c) and the
 * store's grouped commits. At start it takes over the runs that a previous
 * process left unfinished, then fires what is due. SIGHUP reloads the
 * workflow folder (a file that no longer loads keeps its old definition);
 * SIGTERM and SIGINT drain: new requests get 503, steps in flight finish
 * within the grace period (or stay where the store has them, to resume),
 * everything is committed, and the process exits 0.
 */
#include "config.h"

#include <sys/resource.h>

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "conf.h"
#include "diag.h"
#include "engine.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "retention.h"
#include "scheduler.h"
#include "store.h"
#include "strbuf.h"
#include "trace.h"
#include "workflow.h"

struct serve {
	struct cli_opts		 co;
	const struct orc_config	*conf;		/* the environment's */
	const char		*listen;
	int			 access_log;
	int64_t			 grace_ms;
	size_t			 max_queue;
	size_t			 max_body;
	int			 read_timeout_ms; /* a whole request */
	size_t			 max_inflight;	/* request bytes held */
	struct event_base	*base;
	struct store		*store;
	struct engine		*engine;
	struct http_server	*http;
	struct sched		*sched;		/* cron triggers */
	struct workflow		**wfs;
	size_t			 nwfs;
	struct event		*sig_term, *sig_int, *sig_hup, *drain_ev;
	struct event		*target_ev;	/* the database file there? */
	int			 target_lost;
	struct retention	*retention;	/* deletes old runs */
	int64_t			 drain_until;
	int			 flushed;	/* the drain committed all */
	int64_t			 spans_until;	/* the drain sends spans */
};

/* How long a drain waits for the collector to take the last spans. */
#define SERVE_SPANS_FLUSH_MS	2000

/* Parses a positive number option; -1 after a usage error. */
static int
serve_number(const char *name, const char *arg, long long *out)
{
	char *end;

	*out = strtoll(arg, &end, 10);
	if (*end != '\0' || *out < 0) {
		cli_usage_error("serve", "%s: expected a number, not \"%s\"",
		    name, arg);
		return -1;
	}
	return 0;
}

/* Sets the bound on request bytes held from --max-inflight-bytes. */
static int
serve_inflight(const char *name, const char *arg, struct serve *sv)
{
	long long n;

	if (serve_number(name, arg, &n) != 0)
		return -1;
	if (n < CONF_INFLIGHT_MIN) {
		cli_usage_error("serve", "%s: expected at least %d bytes, "
		    "not \"%s\"", name, CONF_INFLIGHT_MIN, arg);
		return -1;
	}
	sv->max_inflight = (size_t)n;
	return 0;
}

/* The serve command's own options. */
static int
serve_opt(int c, const char *arg, void *ctx)
{
	struct serve *sv = ctx;
	long long n;

	switch (c) {
	case 'L': sv->listen = arg; return 0;
	case 'a':
		if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
			cli_usage_error("serve", "--access-log: on or off");
			return -1;
		}
		sv->access_log = strcmp(arg, "on") == 0;
		return 0;
	case 'g':
		if (serve_number("--grace-ms", arg, &n) != 0)
			return -1;
		sv->grace_ms = n;
		return 0;
	case 'q':
		if (serve_number("--max-queue", arg, &n) != 0)
			return -1;
		sv->max_queue = (size_t)n;
		return 0;
	case 'B':
		if (serve_number("--max-body", arg, &n) != 0)
			return -1;
		sv->max_body = (size_t)n;
		return 0;
	case 'R':
		if (serve_number("--read-timeout-ms", arg, &n) != 0)
			return -1;
		if (n < 1 || n > 24 * 3600 * 1000) {
			cli_usage_error("serve", "--read-timeout-ms: expected "
			    "1 to 86400000, not \"%s\"", arg);
			return -1;
		}
		sv->read_timeout_ms = (int)n;
		return 0;
	case 'I':
		return serve_inflight("--max-inflight-bytes", arg, sv);
	}
	return 0;
}

/*
 * Loads the workflow folder, printing every problem. NULL list and -1
 * when the folder cannot be read. With rejected, appends ", FILE" for
 * each file a problem names (once each): the files that did not load.
 */
static int
serve_load(const char *dir, struct workflow ***out, struct strbuf *rejected)
{
	struct diag *d = diag_create();
	const char *msg;
	char *file;
	size_t i, len;
	int n;

	n = workflow_load_dir(dir, out, d);
	for (i = 0; i < diag_count(d); i++) {
		msg = diag_at(d, i);
		fprintf(stderr, "%s\n", msg);
		/* "FILE:LINE:COLUMN: message", or "FILE: message". */
		len = strcspn(msg, ":");
		if (rejected == NULL || len < 5 ||
		    strncmp(msg + len - 5, ".json", 5) != 0)
			continue;
		file = xasprintf(", %.*s", (int)len, msg);
		if (rejected->s == NULL || strstr(rejected->s, file) == NULL)
			strbuf_puts(rejected, file);
		free(file);
	}
	diag_free(d);
	return n;
}

/* Whether list holds a workflow of that name. */
static int
serve_has(struct workflow **list, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(workflow_name(list[i]), name) == 0)
			return 1;
	return 0;
}

/*
 * SIGHUP: the new folder, keeping the old definition of a file that is
 * still there but no longer loads. Ends with one line for the operator
 * (whatever the log level, as "listening on" is): what loaded, what was
 * rejected.
 */
static void
serve_reload(struct serve *sv)
{
	const char *dir = cli_workflows(sv->co.workflows);
	struct strbuf rejected = STRBUF_INIT, kept = STRBUF_INIT;
	struct workflow **list = NULL, *other;
	size_t i, n;
	int got;

	if ((got = serve_load(dir, &list, &rejected)) < 0) {
		fprintf(stderr, "orchestrator: reload of %s failed: the folder "
		    "cannot be read; the %zu workflows loaded before serve "
		    "on\n", dir, sv->nwfs);
		strbuf_free(&rejected);
		return;
	}
	n = (size_t)got;
	for (i = 0; i < sv->nwfs; i++) {
		if (serve_has(list, n, workflow_name(sv->wfs[i])) ||
		    access(workflow_path(sv->wfs[i]), F_OK) != 0)
			continue;
		if ((other = workflow_hook_conflict(list, n, sv->wfs[i])) !=
		    NULL) {
			/* A loaded file took its path: that file wins. */
			fprintf(stderr, "%s: webhook path \"%s\" now used by "
			    "%s; the previous definition of %s is not kept\n",
			    workflow_path(sv->wfs[i]),
			    workflow_hook_path(sv->wfs[i]),
			    workflow_path(other), workflow_name(sv->wfs[i]));
			continue;
		}
		strbuf_printf(&kept, ", %s", workflow_name(sv->wfs[i]));
		list = xrealloc(list, (n + 1) * sizeof *list);
		list[n++] = workflow_ref(sv->wfs[i]);
	}
	http_set_workflows(sv->http, list, n);
	engine_set_workflows(sv->engine, list, n);
	if (sv->drain_ev == NULL)
		sched_set_workflows(sv->sched, list, n);
	workflow_list_free(sv->wfs, sv->nwfs);
	sv->wfs = list;
	sv->nwfs = n;
	fprintf(stderr, "orchestrator: reloaded %s: %zu workflows serve; "
	    "rejected: %s%s%s%s\n", dir, n, rejected.len > 0 ?
	    rejected.s + 2 : "none", kept.len > 0 ? " (kept the previous "
	    "definition of " : "", kept.len > 0 ? kept.s + 2 : "",
	    kept.len > 0 ? ")" : "");
	strbuf_free(&rejected);
	strbuf_free(&kept);
}

/* During a drain: exits once no step is in flight, or at the deadline. */
static void
serve_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct serve *sv = arg;
	struct orc_error err;

	if (engine_calls(sv->engine) > 0 && orc_mono_ms() < sv->drain_until)
		return;
	if (engine_calls(sv->engine) > 0)
		log_warn("%s: %zu steps still in flight after the grace "
		    "period; they resume at the next start", __func__,
		    engine_calls(sv->engine));
	if (!sv->flushed) {
		if (store_flush(sv->store, &err) != 0)
			log_error("%s: %s", __func__, err.message);
		sv->flushed = 1;
		/* The runs that ended last have their spans queued: send
		 * them now, for a bounded time (a collector may hang). */
		trace_flush(engine_trace(sv->engine));
		sv->spans_until = orc_mono_ms() + SERVE_SPANS_FLUSH_MS;
	}
	if (trace_pending(engine_trace(sv->engine)) > 0 &&
	    orc_mono_ms() < sv->spans_until)
		return;
	event_base_loopexit(sv->base, NULL);
}

/* SIGTERM, SIGINT: drain. SIGHUP: reload. */
static void
serve_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct serve *sv = arg;
	struct timeval tv = { 0, 50000 };

	if (sig == SIGHUP) {
		serve_reload(sv);
		return;
	}
	if (sv->drain_ev != NULL)
		return;
	log_info("%s: draining (grace %lld ms)", __func__,
	    (long long)sv->grace_ms);
	http_drain(sv->http);
	sched_stop(sv->sched);
	engine_pause(sv->engine);
	sv->drain_until = orc_mono_ms() + sv->grace_ms;
	sv->drain_ev = event_new(sv->base, -1, EV_PERSIST, serve_drain_cb, sv);
	event_add(sv->drain_ev, &tv);
}

/* Opens the store, the engine and the server; -1 with err. */
static int
serve_open(struct serve *sv, struct orc_error *err)
{
	struct engine_config ec;
	struct http_config hc;
	char *public;

	if ((sv->store = cli_store_open(cli_db(sv->co.db), STORE_SERVE,
	    sv->base, err)) == NULL)
		return -1;
	memset(&ec, 0, sizeof ec);
	ec.buckets_dir = cli_buckets(sv->co.buckets);
	ec.max_queue = sv->max_queue;
	ec.workers = cli_workers(sv->co.workers);
	ec.loop_lag = 1;
	ec.otlp_endpoint = sv->conf->otlp_endpoint;
	ec.conf = sv->conf;
	if (ec.workers == 0)
		log_warn("%s: --workers 0: Lua runs on the event loop; a stuck "
		    "script stops the whole daemon", __func__);
	sv->engine = engine_create(sv->base, sv->store, &ec);
	memset(&hc, 0, sizeof hc);
	hc.listen = sv->listen;
	hc.api_token = sv->conf->api_token;
	hc.access_log = sv->access_log;
	hc.max_body = sv->max_body;
	hc.read_timeout_ms = sv->read_timeout_ms;
	hc.max_inflight = sv->max_inflight;
	if ((sv->http = http_create(sv->base, sv->engine, sv->store, &hc,
	    err)) == NULL)
		return -1;
	http_set_workflows(sv->http, sv->wfs, sv->nwfs);
	engine_set_workflows(sv->engine, sv->wfs, sv->nwfs);
	/* Callback URLs name this server at its port (--listen may say 0),
	 * unless the environment says how others reach it. */
	if (sv->conf->public_url == NULL) {
		public = xasprintf("http://%.*s:%d",
		    (int)strcspn(sv->listen, ":"), sv->listen,
		    http_port(sv->http));
		engine_set_public_url(sv->engine, public);
		free(public);
	}
	sv->sched = sched_create(sv->base, sv->engine, sv->store,
	    sv->conf->test_clock);
	sv->retention = retention_create(sv->base, sv->store,
	    sv->conf->retention_ms);
	return 0;
}

/* Installs the signal events. */
static void
serve_signals(struct serve *sv)
{
	signal(SIGPIPE, SIG_IGN);
	sv->sig_term = evsignal_new(sv->base, SIGTERM, serve_signal_cb, sv);
	sv->sig_int = evsignal_new(sv->base, SIGINT, serve_signal_cb, sv);
	sv->sig_hup = evsignal_new(sv->base, SIGHUP, serve_signal_cb, sv);
	event_add(sv->sig_term, NULL);
	event_add(sv->sig_int, NULL);
	event_add(sv->sig_hup, NULL);
}

/* Frees whatever serve_open and serve_signals made. */
static void
serve_close(struct serve *sv)
{
	if (sv->drain_ev != NULL)
		event_free(sv->drain_ev);
	if (sv->target_ev != NULL)
		event_free(sv->target_ev);
	if (sv->sig_term != NULL) {
		event_free(sv->sig_term);
		event_free(sv->sig_int);
		event_free(sv->sig_hup);
	}
	sched_free(sv->sched);
	http_free(sv->http);
	engine_free(sv->engine);
	/* The store lends a queued purge to the retention until it calls
	 * back, which its close does. */
	store_close(sv->store);
	retention_free(sv->retention);
	workflow_list_free(sv->wfs, sv->nwfs);
	event_base_free(sv->base);
}

/* Takes over what a previous process left unfinished. */
static void
serve_resume(struct serve *sv)
{
	struct orc_error err;
	int n = 0;

	if (engine_resume(sv->engine, NULL, NULL, NULL, &n, &err) != 0)
		log_error("%s: %s", __func__, err.message);
	else if (n > 0)
		log_info("%s: resumed %d unfinished runs", __func__, n);
}

/* jemalloc's control, when the daemon is linked with it: weak, so that
 * the unit tests and --without-jemalloc builds, which have none, link. */
extern int	mallctl(const char *, void *, size_t *, void *, size_t)
		    __attribute__((weak));

/*
 * Lets jemalloc return freed pages to the system on a thread of its own.
 * Without it, pages are returned only as later allocations go by: after
 * a burst of large bodies (up to --max-inflight-bytes) an idle daemon
 * would keep them. The thread sleeps while there is nothing to return.
 */
static void
serve_memory_returns(void)
{
	bool on = true;

	if (mallctl == NULL)
		return;
	if (mallctl("background_thread", NULL, NULL, &on, sizeof on) != 0)
		log_warn("%s: jemalloc's background thread cannot start: "
		    "freed memory returns to the system more slowly",
		    __func__);
}

/*
 * Every second: is the database still the file that was opened? Removed
 * or replaced, what is committed goes into a file nobody opens again, so
 * the store calls itself unhealthy (webhooks 503, /healthz 503) and one
 * line says so whatever the log level, and another if the file is back.
 */
static void
serve_target_cb(evutil_socket_t fd, short what, void *arg)
{
	struct serve *sv = arg;
	struct orc_error err;

	if (store_check_target(sv->store, &err) == 0) {
		if (sv->target_lost)
			fprintf(stderr, "orchestrator: the database %s is "
			    "back; webhooks are taken again\n",
			    cli_db(sv->co.db));
		sv->target_lost = 0;
		return;
	}
	if (sv->target_lost)
		return;
	sv->target_lost = 1;
	fprintf(stderr, "orchestrator: %s: webhooks are refused with 503 and "
	    "/healthz answers 503 from now on; what this process still "
	    "commits goes to the file it opened and is lost when it stops. "
	    "Move the file back to its path to go on, or stop serve and "
	    "start it again on the file you keep\n", err.message);
}

/* Starts the check of the database file, off the requests' path. */
static void
serve_target_start(struct serve *sv)
{
	struct timeval tv = { 1, 0 };

	sv->target_ev = event_new(sv->base, -1, EV_PERSIST, serve_target_cb,
	    sv);
	if (sv->target_ev == NULL)
		fatal("%s: event_new failed", __func__);
	event_add(sv->target_ev, &tv);
}

/*
 * Raises the soft limit on open descriptors towards the hard one (at most
 * 65536): every webhook connection and every outgoing HTTP connection
 * takes one, and Debian's default soft limit of 1024 is reached by a few
 * hundred of each. Nothing here uses select(2).
 */
static void
serve_raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = 65536;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
		want = rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_warn("%s: cannot raise the open files limit to "
			    "%llu", __func__, (unsigned long long)want);
	}
}

int
cli_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'L' },
		{ "access-log", required_argument, NULL, 'a' },
		{ "grace-ms", required_argument, NULL, 'g' },
		{ "max-queue", required_argument, NULL, 'q' },
		{ "max-body", required_argument, NULL, 'B' },
		{ "read-timeout-ms", required_argument, NULL, 'R' },
		{ "max-inflight-bytes", required_argument, NULL, 'I' },
		{ NULL, 0, NULL, 0 }
	};
	struct serve sv;
	struct orc_error err;
	int i, n;

	memset(&sv, 0, sizeof sv);
	sv.conf = cli_conf();
	sv.listen = sv.conf->listen;
	sv.max_inflight = sv.conf->max_inflight;
	sv.access_log = 1;
	sv.grace_ms = 10000;
	if ((i = cli_parse("serve", argc, argv, opts, serve_opt, &sv,
	    &sv.co)) < 0)
		return CLI_USAGE;
	if (i != argc)
		return cli_usage_error("serve", "unexpected \"%s\"", argv[i]);
	if ((n = serve_load(cli_workflows(sv.co.workflows), &sv.wfs,
	    NULL)) < 0)
		return cli_fail("serve", "%s: cannot read the workflow folder",
		    cli_workflows(sv.co.workflows));
	sv.nwfs = (size_t)n;
	serve_raise_fd_limit();
	serve_memory_returns();
	sv.base = loop_base_new();
	if (serve_open(&sv, &err) != 0) {
		serve_close(&sv);
		return cli_fail("serve", "%s", err.message);
	}
	serve_signals(&sv);
	serve_resume(&sv);
	/* Dead nodes' runs, and runs waiting in the store when due. */
	engine_claim_start(sv.engine);
	serve_target_start(&sv);
	/* After the resume: overlap sees the runs taken over. */
	sched_set_workflows(sv.sched, sv.wfs, sv.nwfs);
	fprintf(stderr, "orchestrator: listening on http://%.*s:%d "
	    "(%zu workflows)\n", (int)strcspn(sv.listen, ":"), sv.listen,
	    http_port(sv.http), sv.nwfs);
	event_base_dispatch(sv.base);
	serve_close(&sv);
	log_info("%s: stopped", __func__);
	return CLI_OK;
}
