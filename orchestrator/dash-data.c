/*
 * The dashboard's data: one snapshot per refresh, from the database or
 * from a server.
 *
 * From the database (read-only, WAL: the server's writes neither wait nor
 * are waited on) a refresh is five bounded reads: the run counters per
 * (workflow, state), the newest DASH_WINDOW_LIMIT runs finished in the
 * last ten minutes (covering index on finished_at) for runs/s, the
 * sparkline and p50/p99, the failures of the last five minutes (counted
 * up to DASH_FAILED_LIMIT), and one page of the runs table by its index.
 *
 * From a server (--url) it uses what the API has: GET /metrics for the
 * counts by state, GET /runs for the table and for a sample of the newest
 * 200 runs (throughput, latency and failures are estimated from it), GET
 * /runs/ID for a run. It has no counts per workflow.
 *
 * Retries, cancels and signals go to the server, or in database mode to
 * an engine of this process opened on first use (the retried or signalled
 * run executes here, the way `orchestrator retry` and `signal` do).
 *
 * What a waiting run waits for is the note of its last "waiting"
 * transition (runjson_waiting, as GET /runs/ID says it): read once when
 * the run starts to wait, and kept while it stays as it was.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "cli.h"
#include "client.h"
#include "dash.h"
#include "engine.h"
#include "hmap.h"
#include "log.h"
#include "runjson.h"
#include "strbuf.h"

#define DASH_URL_SAMPLE	200	/* newest runs read for --url figures */
#define DASH_URL_STARTS	20	/* runs' starts read per --url refresh */
#define DASH_RATE_SAMPLES 128	/* --url counter readings kept */

/* What is known of a run's latest start, from its transitions. */
struct dash_start {
	char		 id[RUN_ID_LEN + 1];
	int64_t		 start;
	int		 state;		/* the run's state when read */
	int64_t		 finished_at;
};

/* What a waiting run waits for, as read when it was last updated. */
struct dash_wait {
	char		 id[RUN_ID_LEN + 1];
	int64_t		 updated_at;
	char		*why;
};

/* A reading of the server's count of finished runs. */
struct dash_count {
	int64_t		 at;
	int64_t		 finished;
};

struct dash_source {
	char			*db;
	char			*url;
	char			*name;
	struct store		*store;		/* read-only; NULL for url */
	struct cli_engine	 ce;		/* for r and c in db mode */
	int			 ce_open;
	struct dash_start	*starts;	/* of the runs read last */
	size_t			 nstarts;
	struct dash_wait	*waits;		/* of the runs read last */
	size_t			 nwaits;
	struct dash_count	 counts[DASH_RATE_SAMPLES];	/* --url */
	size_t			 ncounts;
};

/* Frees n notes of waiting runs. */
static void
dash_waits_free(struct dash_wait *w, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(w[i].why);
	free(w);
}

struct dash_source *
dash_source_open(const char *db, const char *url, struct orc_error *err)
{
	struct dash_source *src;

	src = xcalloc(1, sizeof *src);
	if (url != NULL) {
		src->url = xstrdup(url);
		src->name = xstrdup(url);
		return src;
	}
	src->db = xstrdup(db);
	src->name = xstrdup(db);
	if ((src->store = cli_store_open(db, STORE_READONLY, NULL,
	    err)) == NULL) {
		dash_source_close(src);
		return NULL;
	}
	return src;
}

void
dash_source_close(struct dash_source *src)
{
	if (src == NULL)
		return;
	if (src->ce_open) {
		/* A retried run still going is left to resume later. */
		store_flush(src->ce.store, NULL);
		cli_engine_close(&src->ce);
	}
	store_close(src->store);
	free(src->starts);
	dash_waits_free(src->waits, src->nwaits);
	free(src->db);
	free(src->url);
	free(src->name);
	free(src);
}

const char *
dash_source_name(const struct dash_source *src)
{
	return src->name;
}

/* Compares two int64_t for qsort. */
static int
dash_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

int64_t
dash_percentile(const int64_t *sorted, size_t n, int pct)
{
	size_t rank;

	if (n == 0)
		return -1;
	/* Nearest rank: the smallest value with pct% at or below it. */
	rank = ((size_t)pct * n + 99) / 100;
	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

void
dash_stats_compute(const struct finish_rec *fr, size_t n, int64_t now,
    int limit_hit, struct dash_stats *st)
{
	int64_t	*lat, oldest = now, start;
	size_t	 i, nlat = 0;
	int	 b;

	memset(st, 0, sizeof *st);
	lat = xcalloc(n == 0 ? 1 : n, sizeof *lat);
	start = now - (int64_t)DASH_SPARK_BUCKETS * DASH_SPARK_MS;
	for (i = 0; i < n; i++) {
		if (fr[i].finished_at < oldest)
			oldest = fr[i].finished_at;
		if (fr[i].finished_at > now - DASH_RATE_MS &&
		    fr[i].finished_at <= now)
			st->rate += 1.0;
		if (fr[i].finished_at > now - DASH_LATENCY_MS &&
		    fr[i].duration_ms >= 0)
			lat[nlat++] = fr[i].duration_ms;
		if (fr[i].finished_at >= start && fr[i].finished_at <= now) {
			b = (int)((fr[i].finished_at - start) / DASH_SPARK_MS);
			if (b >= DASH_SPARK_BUCKETS)
				b = DASH_SPARK_BUCKETS - 1;
			st->spark[b]++;
		}
	}
	st->rate /= DASH_RATE_MS / 1000.0;
	/* When the read was cut short, a bucket that ended before the
	 * oldest run read is unknown rather than empty (the one holding it
	 * is drawn as read: low at worst). */
	st->sampled = limit_hit;
	if (limit_hit)
		for (b = 0; b < DASH_SPARK_BUCKETS; b++)
			if (start + (int64_t)(b + 1) * DASH_SPARK_MS <= oldest)
				st->spark[b] = -1;
	qsort(lat, nlat, sizeof *lat, dash_cmp_i64);
	st->p50 = dash_percentile(lat, nlat, 50);
	st->p99 = dash_percentile(lat, nlat, 99);
	free(lat);
}

/* start, or the time of t when t is a later redrive: a redrive starts the
 * run over, and the time it sat finished before is not its running time. */
static int64_t
dash_start_after(int64_t start, const struct transition_rec *t)
{
	if (t->event != NULL && strcmp(t->event, "redriven") == 0 &&
	    t->at > start)
		return t->at;
	return start;
}

int64_t
dash_run_start(const struct run_rec *r, const struct transition_rec *t,
    size_t n)
{
	int64_t	start = r->created_at;
	size_t	i;

	for (i = 0; i < n; i++)
		start = dash_start_after(start, &t[i]);
	return start;
}

int64_t
dash_run_duration(const struct run_rec *r, int64_t start, int64_t now)
{
	int64_t end = r->finished_at > 0 ? r->finished_at : now;

	if (start < r->created_at)
		start = r->created_at;
	return end > start ? end - start : 0;
}

/* A run of the table with what it is sorted on. */
struct dash_sorted {
	struct run_rec	 run;
	int64_t		 start, dur;
};

/* Newest first: ids grow with creation time. */
static int
dash_cmp_age(const void *a, const void *b)
{
	return -strcmp(((const struct dash_sorted *)a)->run.id,
	    ((const struct dash_sorted *)b)->run.id);
}

/* Longest first, then newest. */
static int
dash_cmp_duration(const void *a, const void *b)
{
	const struct dash_sorted *x = a, *y = b;

	if (x->dur != y->dur)
		return x->dur > y->dur ? -1 : 1;
	return dash_cmp_age(a, b);
}

/* In the order of the states' life (queued first), then newest. */
static int
dash_cmp_state(const void *a, const void *b)
{
	const struct dash_sorted *x = a, *y = b;

	if (x->run.state != y->run.state)
		return x->run.state < y->run.state ? -1 : 1;
	return dash_cmp_age(a, b);
}

/* By workflow name, then newest. */
static int
dash_cmp_workflow(const void *a, const void *b)
{
	const struct dash_sorted *x = a, *y = b;
	int c;

	c = strcmp(x->run.workflow != NULL ? x->run.workflow : "",
	    y->run.workflow != NULL ? y->run.workflow : "");
	return c != 0 ? c : dash_cmp_age(a, b);
}

void
dash_sort_runs(struct run_rec *runs, int64_t *starts, size_t n,
    enum dash_sort sort, int reverse, int64_t now)
{
	static int (*const cmp[DASH_SORT_COUNT])(const void *,
	    const void *) = { dash_cmp_age, dash_cmp_duration,
	    dash_cmp_state, dash_cmp_workflow };
	struct dash_sorted	*t;
	size_t			 i;

	if (n == 0)
		return;
	t = xcalloc(n, sizeof *t);
	for (i = 0; i < n; i++) {
		t[i].run = runs[i];
		t[i].start = starts[i];
		t[i].dur = dash_run_duration(&runs[i], starts[i], now);
	}
	qsort(t, n, sizeof *t, cmp[sort]);
	/* Every order ends on the id: reversed is the exact mirror. */
	for (i = 0; i < n; i++) {
		runs[i] = t[reverse ? n - 1 - i : i].run;
		starts[i] = t[reverse ? n - 1 - i : i].start;
	}
	free(t);
}

const char *
dash_sort_name(enum dash_sort sort)
{
	static const char *const names[DASH_SORT_COUNT] = { "age",
	    "duration", "state", "workflow" };

	return names[sort];
}

size_t
dash_wf_match(const struct dash_wf *wfs, size_t n, const char *name,
    size_t *first)
{
	size_t i, len = strlen(name), count = 0;

	for (i = 0; i < n; i++)
		if (strcmp(wfs[i].name, name) == 0) {
			*first = i;
			return 1;
		}
	for (i = 0; i < n; i++)
		if (strncmp(wfs[i].name, name, len) == 0 && count++ == 0)
			*first = i;
	return count;
}

void
dash_data_clear(struct dash_data *d)
{
	size_t i;

	for (i = 0; i < d->nwfs; i++)
		free(d->wfs[i].name);
	free(d->wfs);
	for (i = 0; i < d->nruns; i++)
		run_rec_clear(&d->runs[i]);
	free(d->runs);
	free(d->starts);
	for (i = 0; d->waits != NULL && i < d->nruns; i++)
		free(d->waits[i]);
	free(d->waits);
	memset(d, 0, sizeof *d);
}

/* Adds one (workflow, state, n) to the snapshot; rows come by name. */
static int
dash_count_cb(const char *workflow, enum run_state state, int64_t n,
    void *arg)
{
	struct dash_data	*d = arg;
	struct dash_wf		*w;

	if (d->nwfs == 0 || strcmp(d->wfs[d->nwfs - 1].name, workflow) != 0) {
		d->wfs = xrealloc(d->wfs, (d->nwfs + 1) * sizeof *d->wfs);
		w = &d->wfs[d->nwfs++];
		memset(w, 0, sizeof *w);
		w->name = xstrdup(workflow);
	}
	d->wfs[d->nwfs - 1].n[state] += n;
	d->total[state] += n;
	return 0;
}

/* Finished runs being collected. */
struct dash_finished {
	struct finish_rec	*fr;
	size_t			 n, cap;
};

/* Keeps one finished run. */
static int
dash_finish_cb(const struct finish_rec *fr, void *arg)
{
	struct dash_finished *f = arg;

	if (f->n == f->cap) {
		f->cap = f->cap == 0 ? 1024 : f->cap * 2;
		f->fr = xrealloc(f->fr, f->cap * sizeof *f->fr);
	}
	f->fr[f->n++] = *fr;
	return 0;
}

/* The runs table being filled, with the query's filters for searches. */
struct dash_fill {
	struct dash_data	*d;
	const struct dash_query	*q;
	size_t			 want;
	int			 filter;	/* apply q's state/workflow */
	const char		*text;		/* --url search, or NULL */
};

/* Whether a run passes the filters a search does not apply itself. */
static int
dash_run_matches(const struct dash_fill *f, const struct run_rec *r)
{
	size_t i;

	if (f->filter && f->q->state >= 0 && (int)r->state != f->q->state)
		return 0;
	if (f->filter && f->q->workflow != NULL && (r->workflow == NULL ||
	    strcmp(r->workflow, f->q->workflow) != 0))
		return 0;
	if (f->text != NULL && strncmp(r->id, f->text, strlen(f->text)) != 0 &&
	    (r->error == NULL || strstr(r->error, f->text) == NULL))
		return 0;
	/* A search gives a run by id and again by error: keep it once. */
	for (i = 0; i < f->d->nruns; i++)
		if (strcmp(f->d->runs[i].id, r->id) == 0)
			return 0;
	return 1;
}

/* Keeps one run of the table. */
static int
dash_run_cb(const struct run_rec *r, void *arg)
{
	struct dash_fill	*f = arg;
	struct dash_data	*d = f->d;

	if (!dash_run_matches(f, r))
		return 0;
	if (d->nruns == f->want) {
		d->more = 1;
		return 1;
	}
	d->runs = xrealloc(d->runs, (d->nruns + 1) * sizeof *d->runs);
	run_rec_copy(&d->runs[d->nruns++], r);
	return 0;
}

/* Orders the table newest first (a search gives two lists). */
static int
dash_cmp_run(const void *a, const void *b)
{
	return -strcmp(((const struct run_rec *)a)->id,
	    ((const struct run_rec *)b)->id);
}

/* Reads the table's rows from the database. */
static int
dash_fetch_runs_db(struct dash_source *src, const struct dash_query *q,
    struct dash_data *d, struct orc_error *err)
{
	struct dash_fill	 f = { d, q, q->want, 0, NULL };
	struct run_filter	 rf;
	char			*up, *p;
	int			 rc;

	if (q->search != NULL && *q->search != '\0') {
		/* Ids are upper case: "01jd" finds 01JD... too. Results are
		 * filtered here: at most one page more than shown is read. */
		f.filter = 1;
		up = xstrdup(q->search);
		for (p = up; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'z' && strlen(up) <= RUN_ID_LEN)
				*p = (char)(*p - 'a' + 'A');
		rc = store_search_runs(src->store, up, DASH_SEARCH_SCAN,
		    (int)q->want + 1, dash_run_cb, &f, err);
		/* The error text is searched as typed. */
		if (rc == 0 && strcmp(up, q->search) != 0)
			rc = store_search_runs(src->store, q->search,
			    DASH_SEARCH_SCAN, (int)q->want + 1, dash_run_cb,
			    &f, err);
		free(up);
		if (d->nruns > 1)
			qsort(d->runs, d->nruns, sizeof *d->runs,
			    dash_cmp_run);
		return rc;
	}
	memset(&rf, 0, sizeof rf);
	rf.workflow = q->workflow;
	rf.state = q->state;
	/* One more than wanted tells whether there are more. */
	rf.limit = (int)q->want + 1;
	return store_list_runs(src->store, &rf, dash_run_cb, &f, err);
}

/* A snapshot from the database. */
static int
dash_fetch_db(struct dash_source *src, const struct dash_query *q,
    struct dash_data *d, struct orc_error *err)
{
	struct dash_finished	 fin = { NULL, 0, 0 };
	int			 rc;

	if (store_count_by_workflow(src->store, dash_count_cb, d, err) != 0)
		return -1;
	rc = store_list_finished(src->store, d->now - (int64_t)
	    DASH_SPARK_BUCKETS * DASH_SPARK_MS, DASH_WINDOW_LIMIT,
	    dash_finish_cb, &fin, err);
	if (rc == 0)
		dash_stats_compute(fin.fr, fin.n, d->now,
		    fin.n >= DASH_WINDOW_LIMIT, &d->stats);
	free(fin.fr);
	if (rc != 0)
		return -1;
	if (store_count_finished(src->store, RUN_FAILED, d->now -
	    DASH_LATENCY_MS, DASH_FAILED_LIMIT, &d->failed5m, err) != 0)
		return -1;
	d->failed5m_capped = d->failed5m >= DASH_FAILED_LIMIT;
	if (store_size(src->store, &d->store_bytes, err) != 0)
		return -1;
	return dash_fetch_runs_db(src, q, d, err);
}

/* Collects the body of a plain-text answer. */
static size_t
dash_curl_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct strbuf *sb = arg;

	strbuf_add(sb, p, size * n);
	return size * n;
}

/* GET base+path as text (client_request only reads JSON). */
static int
dash_get_text(const char *base, const char *path, struct strbuf *out,
    struct orc_error *err)
{
	struct curl_slist	*h;
	char			 errbuf[CURL_ERROR_SIZE] = "", *url;
	long			 status = 0;
	CURL			*c;
	CURLcode		 rc;

	if ((c = curl_easy_init()) == NULL)
		fatal("%s: curl_easy_init failed", __func__);
	url = xasprintf("%s%s", base, path);
	h = client_auth(NULL);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dash_curl_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (rc != CURLE_OK || status / 100 != 2) {
		if (rc != CURLE_OK)
			orc_error_set(err, ORC_EIO, "%s: %s", url, *errbuf ?
			    errbuf : curl_easy_strerror(rc));
		else
			orc_error_set(err, ORC_EIO, "%s: server answered %ld",
			    url, status);
		free(url);
		return -1;
	}
	free(url);
	return 0;
}

/* The values of the lines "NAME{state="S"} N" of /metrics: each into
 * out[S]; returns how many were found. */
static int
dash_metric_states(const char *text, const char *name,
    int64_t out[RUN_STATE_COUNT])
{
	enum run_state	 st;
	const char	*p = text, *q;
	char		 key[128], state[32];
	size_t		 len, klen;
	int		 found = 0;

	klen = (size_t)snprintf(key, sizeof key, "%s{state=\"", name);
	while ((p = strstr(p, key)) != NULL) {
		/* Only at the start of a line: not a longer metric's name. */
		if (p != text && p[-1] != '\n') {
			p++;
			continue;
		}
		p += klen;
		if ((q = strchr(p, '"')) == NULL)
			break;
		len = (size_t)(q - p);
		if (len < sizeof state) {
			memcpy(state, p, len);
			state[len] = '\0';
			if (run_state_parse(state, &st) == 0 && q[1] == '}') {
				out[st] = strtoll(q + 2, NULL, 10);
				found++;
			}
		}
		p = q;
	}
	return found;
}

/* Reads from /metrics the runs by state, the store's size (-1 from a
 * server that does not say) and the runs finished since the server
 * started (-1 likewise). */
static void
dash_parse_metrics(const char *text, int64_t total[RUN_STATE_COUNT],
    int64_t *bytes, int64_t *finished)
{
	static const char	 size[] = "\norchestrator_store_bytes ";
	const char		*q;
	int64_t			 fin[RUN_STATE_COUNT] = { 0 };
	int			 s;

	*bytes = (q = strstr(text, size)) != NULL ?
	    strtoll(q + sizeof size - 1, NULL, 10) : -1;
	dash_metric_states(text, "orchestrator_runs", total);
	*finished = -1;
	if (dash_metric_states(text, "orchestrator_runs_finished_total",
	    fin) == 0)
		return;
	for (*finished = 0, s = 0; s < RUN_STATE_COUNT; s++)
		*finished += fin[s];
}

/* The server's count of finished runs at a time, between two readings. */
static double
dash_count_at(const struct dash_count *a, const struct dash_count *b,
    int64_t at)
{
	if (b->at <= a->at)
		return (double)b->finished;
	return (double)a->finished + (double)(b->finished - a->finished) *
	    (double)(at - a->at) / (double)(b->at - a->at);
}

/*
 * runs/s with --url: the runs finished in the last DASH_RATE_MS over
 * DASH_RATE_MS, as from the database, counted by the server's
 * orchestrator_runs_finished_total read at each refresh (its value
 * DASH_RATE_MS ago is interpolated between the readings around then).
 * Until the readings span that long, over the time they span; -1 before
 * a second reading, or when the server does not count.
 */
static double
dash_url_rate(struct dash_source *src, int64_t now, int64_t finished)
{
	struct dash_count	*c = src->counts;
	int64_t			 since = now - DASH_RATE_MS;

	/* A restarted server counts from 0 again. */
	if (finished < 0 || (src->ncounts > 0 &&
	    finished < c[src->ncounts - 1].finished))
		src->ncounts = 0;
	if (finished < 0)
		return -1;
	/* Keep the newest reading at or before since, and those after. */
	while (src->ncounts >= DASH_RATE_SAMPLES ||
	    (src->ncounts >= 2 && c[1].at <= since))
		memmove(c, c + 1, --src->ncounts * sizeof *c);
	c[src->ncounts].at = now;
	c[src->ncounts++].finished = finished;
	if (src->ncounts < 2 || now <= c[0].at)
		return -1;
	if (c[0].at >= since)
		return (double)(finished - c[0].finished) * 1000.0 /
		    (double)(now - c[0].at);
	return ((double)finished - dash_count_at(&c[0], &c[1], since)) *
	    1000.0 / DASH_RATE_MS;
}

/* GET /runs with a query into a fill. */
static int
dash_url_runs(struct dash_source *src, const char *query,
    struct dash_fill *f, struct orc_error *err)
{
	struct run_rec	 r;
	json_t		*doc, *runs, *v;
	char		*path;
	long		 status;
	size_t		 i;
	int		 rc;

	path = xasprintf("/runs?%s", query);
	rc = client_request(src->url, "GET", path, NULL, NULL, 0, &status,
	    &doc, err);
	free(path);
	if (rc != 0) {
		json_decref(doc);
		return -1;
	}
	runs = json_object_get(doc, "runs");
	json_array_foreach(runs, i, v) {
		if (client_run_rec(v, &r, err) != 0) {
			json_decref(doc);
			return -1;
		}
		rc = dash_run_cb(&r, f);
		run_rec_clear(&r);
		if (rc != 0)
			break;
	}
	json_decref(doc);
	return 0;
}

/* A snapshot from a server. */
static int
dash_fetch_url(struct dash_source *src, const struct dash_query *q,
    struct dash_data *d, struct orc_error *err)
{
	struct strbuf		 sb = STRBUF_INIT, qs = STRBUF_INIT;
	struct dash_data	 sample;
	struct dash_query	 all = { -1, NULL, NULL, DASH_URL_SAMPLE,
	    DASH_SORT_AGE, 0 };
	struct dash_fill	 f = { &sample, &all, DASH_URL_SAMPLE, 0, NULL };
	struct finish_rec	*fr;
	size_t			 i, n = 0;
	int64_t			 finished;
	char			*v;
	int			 rc;

	d->lacks = "--url: no counts per workflow; latency and failures "
	    "from the newest 200 runs";
	if (dash_get_text(src->url, "/metrics", &sb, err) != 0) {
		strbuf_free(&sb);
		return -1;
	}
	dash_parse_metrics(sb.s != NULL ? sb.s : "", d->total,
	    &d->store_bytes, &finished);
	strbuf_free(&sb);

	memset(&sample, 0, sizeof sample);
	strbuf_printf(&qs, "limit=%d", DASH_URL_SAMPLE);
	rc = dash_url_runs(src, qs.s, &f, err);
	strbuf_free(&qs);
	if (rc != 0) {
		dash_data_clear(&sample);
		return -1;
	}
	fr = xcalloc(sample.nruns + 1, sizeof *fr);
	d->failed5m = 0;
	for (i = 0; i < sample.nruns; i++) {
		if (sample.runs[i].finished_at <= 0)
			continue;
		fr[n].finished_at = sample.runs[i].finished_at;
		fr[n].state = sample.runs[i].state;
		fr[n].duration_ms = sample.runs[i].finished_at -
		    sample.runs[i].created_at;
		if (fr[n].state == RUN_FAILED &&
		    fr[n].finished_at > d->now - DASH_LATENCY_MS)
			d->failed5m++;
		n++;
	}
	dash_stats_compute(fr, n, d->now, sample.more ||
	    sample.nruns >= DASH_URL_SAMPLE, &d->stats);
	/* The sample holds at most DASH_URL_SAMPLE runs: runs/s from it
	 * would stop at DASH_URL_SAMPLE / 10 s. */
	d->stats.rate = dash_url_rate(src, d->now, finished);
	d->failed5m_capped = d->stats.sampled;
	free(fr);
	dash_data_clear(&sample);

	/* The table: the API filters by workflow and state; a search is
	 * applied here to what one page brings. */
	f.d = d;
	f.q = q;
	f.want = q->want;
	f.text = q->search != NULL && *q->search != '\0' ? q->search : NULL;
	strbuf_printf(&qs, "limit=%zu", f.text != NULL ? (size_t)1000 :
	    q->want + 1 > 1000 ? (size_t)1000 : q->want + 1);
	if (q->state >= 0)
		strbuf_printf(&qs, "&state=%s",
		    run_state_name((enum run_state)q->state));
	if (q->workflow != NULL) {
		v = client_escape(q->workflow);
		strbuf_printf(&qs, "&workflow=%s", v);
		free(v);
	}
	rc = dash_url_runs(src, qs.s, &f, err);
	strbuf_free(&qs);
	return rc;
}

/* Moves a run's start on past each redrive of its transitions. */
static int
dash_start_cb(const struct transition_rec *t, void *arg)
{
	int64_t *start = arg;

	*start = dash_start_after(*start, t);
	return 0;
}

/* Reads a run's latest start: its transitions, from the store or with
 * the run from the server. */
static int
dash_read_start(struct dash_source *src, const struct run_rec *r,
    int64_t *start)
{
	struct dash_detail	dd;
	struct orc_error	err;

	*start = r->created_at;
	if (src->url == NULL)
		return store_list_transitions(src->store, r->id, dash_start_cb,
		    start, &err);
	if (dash_fetch_detail(src, r->id, &dd, &err) != 0)
		return -1;
	*start = dash_run_start(&dd.run, dd.trans, dd.ntrans);
	dash_detail_clear(&dd);
	return 0;
}

/* Whether what was read of a run's start still holds: only a finished
 * run can be redriven, so a run read unfinished keeps its start, and one
 * read finished keeps it while it stays as it was. */
static int
dash_start_holds(const struct dash_start *k, const struct run_rec *r)
{
	if (k->state < 0 || !run_state_is_final((enum run_state)k->state))
		return 1;
	return (int)r->state == k->state && r->finished_at == k->finished_at;
}

/* Fills d->starts: from what the last refresh read, else read now (a few
 * per refresh from a server, one request each); a run not read yet
 * counts from its creation meanwhile. */
static void
dash_fill_starts(struct dash_source *src, struct dash_data *d)
{
	struct dash_start	*fresh, *k;
	struct hmap		*old;
	size_t			 i, reads = 0, budget;

	budget = src->url != NULL ? DASH_URL_STARTS : DASH_MAX_ROWS;
	old = hmap_create();
	for (i = 0; i < src->nstarts; i++)
		hmap_set(old, src->starts[i].id, &src->starts[i]);
	fresh = xcalloc(d->nruns + 1, sizeof *fresh);
	d->starts = xcalloc(d->nruns + 1, sizeof *d->starts);
	for (i = 0; i < d->nruns; i++) {
		d->starts[i] = d->runs[i].created_at;
		if ((k = hmap_get(old, d->runs[i].id)) != NULL &&
		    dash_start_holds(k, &d->runs[i]))
			fresh[i] = *k;
		else if (reads++ < budget && dash_read_start(src,
		    &d->runs[i], &fresh[i].start) == 0) {
			memcpy(fresh[i].id, d->runs[i].id, sizeof fresh[i].id);
			fresh[i].state = (int)d->runs[i].state;
			fresh[i].finished_at = d->runs[i].finished_at;
		} else
			continue;
		d->starts[i] = fresh[i].start;
	}
	hmap_free(old);
	free(src->starts);
	src->starts = fresh;
	src->nstarts = d->nruns;
}

static void	dash_fill_waits(struct dash_source *, struct dash_data *);

int
dash_fetch(struct dash_source *src, const struct dash_query *q, int64_t now,
    struct dash_data *d, struct orc_error *err)
{
	struct dash_query	qq = *q;
	int			rc;

	memset(d, 0, sizeof *d);
	d->now = now;
	if (qq.want == 0)
		qq.want = 1;
	/* Sorted otherwise than by age, the newest runs are read whole. */
	if (qq.want > DASH_MAX_ROWS || qq.sort != DASH_SORT_AGE)
		qq.want = DASH_MAX_ROWS;
	if (src->url != NULL)
		rc = dash_fetch_url(src, &qq, d, err);
	else
		rc = dash_fetch_db(src, &qq, d, err);
	if (rc != 0) {
		dash_data_clear(d);
		return rc;
	}
	dash_fill_starts(src, d);
	dash_sort_runs(d->runs, d->starts, d->nruns, qq.sort, qq.reverse, now);
	dash_fill_waits(src, d);
	return 0;
}

/* Appends a step to a detail. */
static int
dash_step_cb(const struct step_rec *s, void *arg)
{
	struct dash_detail *dd = arg;

	dd->steps = xrealloc(dd->steps, (dd->nsteps + 1) * sizeof *dd->steps);
	memset(&dd->steps[dd->nsteps], 0, sizeof *dd->steps);
	memcpy(dd->steps[dd->nsteps].run_id, s->run_id, sizeof s->run_id);
	dd->steps[dd->nsteps].seq = s->seq;
	dd->steps[dd->nsteps].name = s->name ? xstrdup(s->name) : NULL;
	dd->steps[dd->nsteps].attempts = s->attempts;
	dd->steps[dd->nsteps].output = json_incref(s->output);
	dd->steps[dd->nsteps].started_at = s->started_at;
	dd->steps[dd->nsteps].finished_at = s->finished_at;
	dd->nsteps++;
	return 0;
}

/* Appends a transition to a detail. */
static int
dash_trans_cb(const struct transition_rec *t, void *arg)
{
	struct dash_detail	*dd = arg;
	struct transition_rec	*c;

	dd->trans = xrealloc(dd->trans, (dd->ntrans + 1) * sizeof *dd->trans);
	c = &dd->trans[dd->ntrans++];
	*c = *t;
	c->event = t->event ? xstrdup(t->event) : NULL;
	c->step = t->step ? xstrdup(t->step) : NULL;
	c->error = t->error ? xstrdup(t->error) : NULL;
	return 0;
}

/* Appends a log line to a detail. */
static int
dash_log_cb(const struct log_rec *l, void *arg)
{
	struct dash_detail *dd = arg;

	dd->logs = xrealloc(dd->logs, (dd->nlogs + 1) * sizeof *dd->logs);
	log_rec_copy(&dd->logs[dd->nlogs++], l);
	return 0;
}

/* Appends the log lines of a run document (none from an older server). */
static void
dash_detail_doc_logs(const json_t *doc, struct dash_detail *dd)
{
	struct log_rec	 l;
	enum log_level	 level;
	const json_t	*v;
	const char	*name;
	size_t		 i;

	json_array_foreach(json_object_get(doc, "logs"), i, v) {
		memset(&l, 0, sizeof l);
		l.at = json_integer_value(json_object_get(v, "at"));
		l.step = (char *)json_string_value(json_object_get(v, "step"));
		l.attempt = (int)json_integer_value(json_object_get(v,
		    "attempt"));
		name = json_string_value(json_object_get(v, "level"));
		if (name == NULL || log_parse_level(name, &level) != 0)
			level = LOG_INFO;
		l.level = (int)level;
		l.message = (char *)json_string_value(json_object_get(v,
		    "message"));
		dash_log_cb(&l, dd);
	}
}

/* What a run waits for, from its transitions, as GET /runs/ID says it
 * (runjson_waiting): a new string, or NULL when it does not wait. */
static char *
dash_waiting_note(const struct run_rec *r, const struct transition_rec *t,
    size_t n)
{
	json_t	*a = json_array(), *why;
	char	*s;
	size_t	 i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, runjson_transition(&t[i]));
	why = runjson_waiting(r, a);
	s = json_is_string(why) ? xstrdup(json_string_value(why)) : NULL;
	json_decref(why);
	json_decref(a);
	return s;
}

/* The items line of a run's detail from its "items" counts (runjson),
 * or NULL when it has none. */
static char *
dash_items_note(const json_t *items)
{
	struct strbuf sb = STRBUF_INIT;
	const char *step;
	json_t *o;

	json_object_foreach((json_t *)items, step, o) {
		strbuf_printf(&sb, "%s%s: %lld of %lld succeeded, %lld failed, "
		    "%lld running", sb.len > 0 ? "; " : "", step,
		    (long long)json_integer_value(json_object_get(o,
		    "succeeded")),
		    (long long)json_integer_value(json_object_get(o, "total")),
		    (long long)(json_integer_value(json_object_get(o,
		    "failed")) + json_integer_value(json_object_get(o,
		    "cancelled"))),
		    (long long)json_integer_value(json_object_get(o,
		    "running")));
	}
	return sb.len > 0 ? strbuf_take(&sb) : NULL;
}

/* Reads a run from GET /runs/ID. */
static int
dash_detail_url(struct dash_source *src, const char *id,
    struct dash_detail *dd, struct orc_error *err)
{
	struct step_rec		 s;
	struct transition_rec	 t;
	json_t			*doc, *v;
	const char		*w;
	char			*path;
	long			 status;
	size_t			 i;
	int			 rc;

	path = client_path("/runs/", id, NULL);
	rc = client_request(src->url, "GET", path, NULL, NULL, 0, &status,
	    &doc, err);
	free(path);
	if (rc == 0)
		rc = client_run_rec(doc, &dd->run, err);
	if (rc == 0)
		json_array_foreach(json_object_get(doc, "steps"), i, v) {
			if ((rc = client_step_rec(v, id, &s, err)) != 0)
				break;
			dash_step_cb(&s, dd);
			step_rec_clear(&s);
		}
	if (rc == 0)
		json_array_foreach(json_object_get(doc, "transitions"), i, v) {
			if ((rc = client_transition_rec(v, id, &t, err)) != 0)
				break;
			dash_trans_cb(&t, dd);
			transition_rec_clear(&t);
		}
	if (rc == 0)
		dash_detail_doc_logs(doc, dd);
	if (rc == 0 && (w = json_string_value(json_object_get(doc,
	    "waiting_for"))) != NULL)
		dd->waiting = xstrdup(w);
	if (rc == 0)
		dd->items = dash_items_note(json_object_get(doc, "items"));
	json_decref(doc);
	return rc;
}

/* Counts the run's items in the store, for its items line. */
static int
dash_detail_items(struct dash_source *src, struct dash_detail *dd,
    struct orc_error *err)
{
	json_t *items;

	if ((items = runjson_items(src->store, dd->run.id, err)) == NULL)
		return -1;
	dd->items = dash_items_note(items);
	json_decref(items);
	return 0;
}

int
dash_fetch_detail(struct dash_source *src, const char *id,
    struct dash_detail *dd, struct orc_error *err)
{
	int rc;

	memset(dd, 0, sizeof *dd);
	if (src->url != NULL)
		rc = dash_detail_url(src, id, dd, err);
	else if ((rc = store_get_run(src->store, id, &dd->run, err)) == 0 &&
	    (rc = store_list_steps(src->store, id, dash_step_cb, dd,
	    err)) == 0)
		rc = store_list_transitions(src->store, id, dash_trans_cb, dd,
		    err);
	if (rc == 0 && src->url == NULL) {
		dd->waiting = dash_waiting_note(&dd->run, dd->trans,
		    dd->ntrans);
		rc = store_list_logs(src->store, id, 0, dash_log_cb, dd, err);
		if (rc == 0)
			rc = dash_detail_items(src, dd, err);
	}
	if (rc != 0)
		dash_detail_clear(dd);
	return rc;
}

void
dash_detail_clear(struct dash_detail *dd)
{
	size_t i;

	run_rec_clear(&dd->run);
	for (i = 0; i < dd->nsteps; i++)
		step_rec_clear(&dd->steps[i]);
	free(dd->steps);
	for (i = 0; i < dd->ntrans; i++)
		transition_rec_clear(&dd->trans[i]);
	free(dd->trans);
	for (i = 0; i < dd->nlogs; i++)
		log_rec_clear(&dd->logs[i]);
	free(dd->logs);
	free(dd->waiting);
	free(dd->items);
	memset(dd, 0, sizeof *dd);
}

/* Reads what a waiting run waits for: its transitions from the store, or
 * its document from the server; NULL when the read fails. */
static char *
dash_read_waiting(struct dash_source *src, const struct run_rec *r)
{
	struct dash_detail	dd;
	struct orc_error	err;
	char			*why = NULL;

	memset(&dd, 0, sizeof dd);
	if (src->url != NULL) {
		if (dash_fetch_detail(src, r->id, &dd, &err) != 0)
			return NULL;
		why = dd.waiting;
		dd.waiting = NULL;
	} else if (store_list_transitions(src->store, r->id, dash_trans_cb,
	    &dd, &err) == 0)
		why = dash_waiting_note(r, dd.trans, dd.ntrans);
	dash_detail_clear(&dd);
	return why;
}

/* Fills d->waits for the waiting runs: what the last refresh read while
 * a run stays as it was then, else read now (a few per refresh from a
 * server, one request each); a run not read yet shows none meanwhile. */
static void
dash_fill_waits(struct dash_source *src, struct dash_data *d)
{
	const struct dash_wait	*k;
	const struct run_rec	*r;
	struct dash_wait	*fresh;
	struct hmap		*old;
	size_t			 i, n = 0, reads = 0, budget;
	char			*why;

	budget = src->url != NULL ? DASH_URL_STARTS : DASH_MAX_ROWS;
	old = hmap_create();
	for (i = 0; i < src->nwaits; i++)
		hmap_set(old, src->waits[i].id, &src->waits[i]);
	fresh = xcalloc(d->nruns + 1, sizeof *fresh);
	d->waits = xcalloc(d->nruns + 1, sizeof *d->waits);
	for (i = 0; i < d->nruns; i++) {
		r = &d->runs[i];
		if (r->state != RUN_WAITING)
			continue;
		if ((k = hmap_get(old, r->id)) != NULL &&
		    k->updated_at == r->updated_at)
			why = xstrdup(k->why);
		else if (reads++ >= budget ||
		    (why = dash_read_waiting(src, r)) == NULL)
			continue;
		memcpy(fresh[n].id, r->id, sizeof fresh[n].id);
		fresh[n].updated_at = r->updated_at;
		fresh[n++].why = why;
		d->waits[i] = xstrdup(why);
	}
	hmap_free(old);
	dash_waits_free(src->waits, src->nwaits);
	src->waits = fresh;
	src->nwaits = n;
}

/* POST /runs/ID then what ("/retry") with body, or {} when it is NULL. */
static int
dash_post(struct dash_source *src, const char *id, const char *what,
    json_t *body, struct orc_error *err)
{
	json_t	*answer = NULL;
	char	*path;
	long	 status;
	int	 rc;

	path = client_path("/runs/", id, what);
	body = body != NULL ? json_incref(body) : json_object();
	rc = client_request(src->url, "POST", path, body, NULL, 0, &status,
	    &answer, err);
	json_decref(body);
	json_decref(answer);
	free(path);
	return rc;
}

/* Opens this process's engine on the database, once. */
static int
dash_engine(struct dash_source *src, struct orc_error *err)
{
	if (src->ce_open)
		return 0;
	if (cli_engine_open(&src->ce, src->db, NULL, err) != 0)
		return -1;
	/* Finished runs are shown by the dashboard, not printed. */
	src->ce.quiet = 1;
	src->ce_open = 1;
	return 0;
}

int
dash_retry(struct dash_source *src, const char *id, struct orc_error *err)
{
	struct engine_redrive	rd;
	struct engine_watch	w;

	if (src->url != NULL)
		return dash_post(src, id, "/retry", NULL, err);
	if (dash_engine(src, err) != 0)
		return -1;
	memset(&rd, 0, sizeof rd);
	w = cli_engine_watch(&src->ce);
	if (engine_redrive(src->ce.engine, id, &rd, &w, err) != 0) {
		src->ce.waiting--;
		return -1;
	}
	/* The redrive is committed by the loop's grouped commit. */
	dash_pump(src);
	return store_flush(src->ce.store, err);
}

int
dash_cancel(struct dash_source *src, const char *id, struct orc_error *err)
{
	if (src->url != NULL)
		return dash_post(src, id, "/cancel", NULL, err);
	if (dash_engine(src, err) != 0)
		return -1;
	if (engine_cancel(src->ce.engine, id, err) < 0)
		return -1;
	dash_pump(src);
	return store_flush(src->ce.store, err);
}

int
dash_signal(struct dash_source *src, const char *id, const char *step,
    json_t *body, struct orc_error *err)
{
	struct engine_watch	 w;
	char			*what;
	int			 rc;

	if (src->url != NULL) {
		what = client_path("/signals/", step, NULL);
		rc = dash_post(src, id, what, body, err);
		free(what);
		return rc;
	}
	if (dash_engine(src, err) != 0)
		return -1;
	w = cli_engine_watch(&src->ce);
	if (engine_signal(src->ce.engine, id, step, body, &w, err) != 0) {
		src->ce.waiting--;
		return -1;
	}
	/* The signal is committed by the loop's grouped commit. */
	dash_pump(src);
	return store_flush(src->ce.store, err);
}

void
dash_pump(struct dash_source *src)
{
	if (src->ce_open)
		event_base_loop(src->ce.base, EVLOOP_NONBLOCK);
}

int
dash_busy(const struct dash_source *src)
{
	return src->ce_open ? src->ce.waiting : 0;
}
