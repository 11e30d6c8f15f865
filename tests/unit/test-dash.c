/*
 * Tests of the dashboard's data (dash-data.c and the store reads it
 * makes), its layout (dash-draw.c) and its keys (dash-keys.c): counts
 * kept by the store's triggers through inserts and state changes, the
 * finished-runs window and what the header computes from it, searches,
 * filters, fitting text into cells, the frame --once prints, and what
 * waiting runs wait for and the signal a sends them.
 */
#include "config.h"

#define NCURSES_WIDECHAR 1

#include <curses.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "store.h"
#include "test.h"

#define DB "d.db"

/* A run of the tests (strings borrowed): attempt 1, updated when made. */
static struct run_rec
test_rec(const char *id, const char *wf, enum run_state st, const char *step,
    int64_t created)
{
	struct run_rec r;

	memset(&r, 0, sizeof r);
	snprintf(r.id, sizeof r.id, "%s", id);
	r.workflow = (char *)wf;
	r.def_hash = (char *)"h";
	r.state = st;
	r.step = (char *)step;
	r.attempt = 1;
	r.created_at = r.updated_at = created;
	return r;
}

/* Writes run r and its transition tr from state "from" (-1: a new run),
 * event at at, and commits it, as the engine does. */
static void
commit_run(struct store *s, struct run_rec *r, struct transition_rec *tr,
    int from, const char *event, int64_t at)
{
	struct store_change	ch;
	struct orc_error	err;

	snprintf(tr->run_id, sizeof tr->run_id, "%s", r->id);
	tr->at = at;
	tr->from_state = from;
	tr->to_state = r->state;
	tr->event = (char *)event;
	memset(&ch, 0, sizeof ch);
	ch.run = r;
	ch.transition = tr;
	ch.flags = from < 0 ? STORE_RUN_INSERT : 0;
	store_submit(s, &ch);
	if (store_flush(s, &err) != 0)
		fprintf(stderr, "flush: %s\n", err.message);
}

/* Writes one run and its transition (commit_run). */
static void
put_run_event(struct store *s, const char *id, const char *wf,
    enum run_state st, int64_t created, int64_t finished, const char *error,
    int from, const char *event, int64_t at)
{
	struct transition_rec	tr;
	struct run_rec		r;

	r = test_rec(id, wf, st, run_state_is_final(st) && st != RUN_FAILED ?
	    NULL : "fetch", created);
	r.error = (char *)error;
	r.finished_at = finished;
	r.updated_at = at;
	memset(&tr, 0, sizeof tr);
	commit_run(s, &r, &tr, from, event, at);
}

/* put_run_event at the run's end (or creation). */
static void
put_run(struct store *s, const char *id, const char *wf, enum run_state st,
    int64_t created, int64_t finished, const char *error, int from)
{
	put_run_event(s, id, wf, st, created, finished, error, from, "test",
	    finished ? finished : created);
}

/* A run that starts to wait on step, its transition's note why, as the
 * engine writes it. */
static void
put_waiting(struct store *s, const char *id, const char *step,
    const char *why)
{
	struct transition_rec	tr;
	struct run_rec		r;

	r = test_rec(id, "gamma", RUN_WAITING, step, 999500);
	r.due_at = 1600000;
	memset(&tr, 0, sizeof tr);
	tr.step = (char *)step;
	tr.error = (char *)why;
	commit_run(s, &r, &tr, -1, "waiting", 999500);
}

/* An id that sorts by n. */
static const char *
rid(int n)
{
	static char buf[RUN_ID_LEN + 1];

	snprintf(buf, sizeof buf, "01TEST%020d", n);
	return buf;
}

/* Collects counts per (workflow, state) as "wf:state=n;". */
static int
count_cb(const char *wf, enum run_state st, int64_t n, void *arg)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 512 - strlen(buf), "%s:%s=%lld;", wf,
	    run_state_name(st), (long long)n);
	return 0;
}

/* A store of 10 runs: the seed of most tests. Now is 1,000,000 ms. */
static struct store *
seed(void)
{
	struct orc_error	 err;
	struct store		*s;
	int			 i;

	s = store_open(DB, 0, NULL, &err);
	if (s == NULL)
		return NULL;
	/* 0-5: "alpha" succeeded 1 s each, finished at 900000 + i s. */
	for (i = 0; i < 6; i++)
		put_run(s, rid(i), "alpha", RUN_SUCCEEDED, 899000 + i * 1000,
		    900000 + i * 1000, NULL, -1);
	/* 6-7: "beta" failed at 990000, 10 s and 20 s. */
	put_run(s, rid(6), "beta", RUN_FAILED, 980000, 990000,
	    "upstream answered 503", -1);
	put_run(s, rid(7), "beta", RUN_FAILED, 970000, 990000,
	    "disk full", -1);
	/* 8: beta running, 9: alpha queued. */
	put_run(s, rid(8), "beta", RUN_RUNNING, 995000, 0, NULL, -1);
	put_run(s, rid(9), "alpha", RUN_QUEUED, 999000, 0, NULL, -1);
	return s;
}

/* The counters follow inserts and state changes. */
static void
test_dash_counts_follow_writes(void)
{
	struct orc_error	 err;
	struct store		*s;
	char			 buf[512] = "";
	int64_t			 counts[RUN_STATE_COUNT];

	REQUIRE((s = seed()) != NULL);
	REQUIRE(store_count_by_workflow(s, count_cb, buf, &err) == 0);
	CHECK_STR(buf, "alpha:queued=1;alpha:succeeded=6;beta:failed=2;"
	    "beta:running=1;");
	/* The running run fails, the queued one is cancelled. */
	put_run(s, rid(8), "beta", RUN_FAILED, 995000, 999500, "x",
	    RUN_RUNNING);
	put_run(s, rid(9), "alpha", RUN_CANCELLED, 999000, 999600, NULL,
	    RUN_QUEUED);
	buf[0] = '\0';
	REQUIRE(store_count_by_workflow(s, count_cb, buf, &err) == 0);
	CHECK_STR(buf, "alpha:cancelled=1;alpha:succeeded=6;beta:failed=3;");
	REQUIRE(store_count_runs(s, NULL, counts, &err) == 0);
	CHECK(counts[RUN_FAILED] == 3);
	CHECK(counts[RUN_SUCCEEDED] == 6);
	CHECK(counts[RUN_RUNNING] == 0);
	REQUIRE(store_count_runs(s, "alpha", counts, &err) == 0);
	CHECK(counts[RUN_CANCELLED] == 1);
	CHECK(counts[RUN_FAILED] == 0);
	store_close(s);
}

/* Collects finished runs. */
static int
finish_cb(const struct finish_rec *fr, void *arg)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 512 - strlen(buf), "%lld/%s/%lld;",
	    (long long)fr->finished_at, run_state_name(fr->state),
	    (long long)fr->duration_ms);
	return 0;
}

/* The finished window is newest first, limited; failures are counted. */
static void
test_dash_finished_window(void)
{
	struct orc_error	 err;
	struct store		*s;
	char			 buf[512] = "";
	int64_t			 n;

	REQUIRE((s = seed()) != NULL);
	REQUIRE(store_list_finished(s, 904000, 0, finish_cb, buf, &err) == 0);
	/* Unfinished runs (finished_at 0) never come. */
	CHECK_STR(buf, "990000/failed/10000;990000/failed/20000;"
	    "905000/succeeded/1000;904000/succeeded/1000;");
	buf[0] = '\0';
	REQUIRE(store_list_finished(s, 0, 2, finish_cb, buf, &err) == 0);
	CHECK_STR(buf, "990000/failed/10000;990000/failed/20000;");
	REQUIRE(store_count_finished(s, RUN_FAILED, 980000, 0, &n,
	    &err) == 0);
	CHECK(n == 2);
	REQUIRE(store_count_finished(s, RUN_FAILED, 980000, 1, &n,
	    &err) == 0);
	CHECK(n == 1);
	REQUIRE(store_count_finished(s, RUN_FAILED, 995000, 0, &n,
	    &err) == 0);
	CHECK(n == 0);
	store_close(s);
}

/* Percentiles by nearest rank; the header's figures. */
static void
test_dash_stats(void)
{
	int64_t			 v[100];
	struct finish_rec	 fr[4];
	struct dash_stats	 st;
	int			 i;

	for (i = 0; i < 100; i++)
		v[i] = i + 1;
	CHECK(dash_percentile(v, 100, 50) == 50);
	CHECK(dash_percentile(v, 100, 99) == 99);
	CHECK(dash_percentile(v, 1, 99) == 1);
	CHECK(dash_percentile(v, 0, 50) == -1);

	memset(fr, 0, sizeof fr);
	/* Two in the last 10 s, one 4 minutes ago, one 9 minutes ago. */
	fr[0].finished_at = 1000000 - 1000;
	fr[0].duration_ms = 100;
	fr[1].finished_at = 1000000 - 5000;
	fr[1].duration_ms = 300;
	fr[2].finished_at = 1000000 - 240000;
	fr[2].duration_ms = 200;
	fr[3].finished_at = 1000000 - 540000;
	fr[3].duration_ms = 9000;
	dash_stats_compute(fr, 4, 1000000, 0, &st);
	CHECK(st.rate > 0.19 && st.rate < 0.21);
	/* Only the last 5 minutes count for latency. */
	CHECK(st.p50 == 200);
	CHECK(st.p99 == 300);
	CHECK(st.spark[DASH_SPARK_BUCKETS - 1] == 2);
	CHECK(st.spark[(600000 - 240000) / DASH_SPARK_MS] == 1);
	CHECK(st.spark[(600000 - 540000) / DASH_SPARK_MS] == 1);
	CHECK(st.spark[0] == 0);
	CHECK(st.sampled == 0);
	/* Cut short: buckets older than the oldest read are unknown. */
	dash_stats_compute(fr, 2, 1000000, 1, &st);
	CHECK(st.sampled == 1);
	CHECK(st.spark[0] == -1);
	CHECK(st.spark[DASH_SPARK_BUCKETS - 1] == 2);
	dash_stats_compute(NULL, 0, 1000000, 0, &st);
	CHECK(st.p50 == -1 && st.rate == 0);
}

/* A snapshot: counts, failures, the table, its filters and searches. */
static void
test_dash_fetch(void)
{
	struct dash_source	*src;
	struct dash_query	 q = { -1, NULL, NULL, 3, DASH_SORT_AGE, 0 };
	struct dash_data	 d;
	struct orc_error	 err;
	struct store		*s;
	int64_t			 now;

	REQUIRE((s = seed()) != NULL);
	store_close(s);
	REQUIRE((src = dash_source_open(DB, NULL, &err)) != NULL);
	/* Pretend now is just after the seed's times. */
	now = 1000000;
	REQUIRE(dash_fetch(src, &q, now, &d, &err) == 0);
	CHECK(d.total[RUN_SUCCEEDED] == 6);
	CHECK(d.total[RUN_RUNNING] == 1);
	CHECK(d.total[RUN_QUEUED] == 1);
	REQUIRE(d.nwfs == 2);
	CHECK_STR(d.wfs[0].name, "alpha");
	CHECK(d.wfs[1].n[RUN_FAILED] == 2);
	CHECK(d.failed5m == 2);
	/* Six runs of 1 s and two of 10 s and 20 s in the last 5 min. */
	CHECK(d.stats.p50 == 1000);
	CHECK(d.stats.p99 == 20000);
	REQUIRE(d.nruns == 3);
	CHECK_STR(d.runs[0].id, rid(9));
	CHECK(d.more == 1);
	dash_data_clear(&d);

	q.state = RUN_FAILED;
	q.want = 10;
	REQUIRE(dash_fetch(src, &q, now, &d, &err) == 0);
	REQUIRE(d.nruns == 2);
	CHECK_STR(d.runs[0].id, rid(7));
	CHECK(d.more == 0);
	dash_data_clear(&d);

	q.state = -1;
	q.workflow = "beta";
	REQUIRE(dash_fetch(src, &q, now, &d, &err) == 0);
	CHECK(d.nruns == 3);
	dash_data_clear(&d);

	/* An error text; then an id prefix typed in lower case. */
	q.workflow = NULL;
	q.search = "503";
	REQUIRE(dash_fetch(src, &q, now, &d, &err) == 0);
	REQUIRE(d.nruns == 1);
	CHECK_STR(d.runs[0].id, rid(6));
	dash_data_clear(&d);
	q.search = "01test0000000000000000000";
	REQUIRE(dash_fetch(src, &q, now, &d, &err) == 0);
	CHECK(d.nruns == 10);
	CHECK_STR(d.runs[0].id, rid(9));
	dash_data_clear(&d);
	/* The search keeps the state filter. */
	q.state = RUN_SUCCEEDED;
	REQUIRE(dash_fetch(src, &q, now, &d, &err) == 0);
	CHECK(d.nruns == 6);
	dash_data_clear(&d);
	q.search = "no such text";
	q.state = -1;
	REQUIRE(dash_fetch(src, &q, now, &d, &err) == 0);
	CHECK(d.nruns == 0);
	dash_data_clear(&d);
	dash_source_close(src);

	/* A file that is not there is named. */
	CHECK(dash_source_open("nope.db", NULL, &err) == NULL);
	CHECK_CONTAINS(err.message, "nope.db");
}

/* A run opened: its record and its transitions. */
static void
test_dash_detail(void)
{
	struct dash_source	*src;
	struct dash_detail	 dd;
	struct orc_error	 err;
	struct store		*s;

	REQUIRE((s = seed()) != NULL);
	store_close(s);
	REQUIRE((src = dash_source_open(DB, NULL, &err)) != NULL);
	REQUIRE(dash_fetch_detail(src, rid(6), &dd, &err) == 0);
	CHECK_STR(dd.run.error, "upstream answered 503");
	CHECK(dd.nsteps == 0);
	dash_detail_clear(&dd);
	CHECK(dash_fetch_detail(src, rid(77), &dd, &err) != 0);
	CHECK_CONTAINS(err.message, rid(77));
	dash_source_close(src);
}

/* A frame row as UTF-8. */
static void
row_text(const struct dash_frame *f, int row, char *buf, size_t len)
{
	FILE	*fp;
	size_t	 n;

	fp = tmpfile();
	fprintf(fp, "%s", "");
	{
		struct dash_frame one = *f;

		one.rows = 1;
		one.text = &f->text[row];
		one.color = &f->color[row];
		dash_frame_print(&one, fp);
	}
	rewind(fp);
	n = fread(buf, 1, len - 1, fp);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	fclose(fp);
}

/* Text fits its cell: cut with an ellipsis, wide and control characters. */
static void
test_dash_frame_put(void)
{
	struct dash_frame	*f;
	char			 buf[256];

	f = dash_frame_create(3, 20, 1);
	CHECK(dash_frame_put(f, 0, 0, 8, 0, "workflow-name-long") == 8);
	row_text(f, 0, buf, sizeof buf);
	CHECK_STR(buf, "workflo\xe2\x80\xa6");
	/* Two columns per CJK character; a newline shows as a space. */
	CHECK(dash_frame_put(f, 1, 0, 20, 0, "\xe6\x97\xa5\xe6\x9c\xac"
	    "a\nb") == 7);
	row_text(f, 1, buf, sizeof buf);
	CHECK_STR(buf, "\xe6\x97\xa5\xe6\x9c\xac" "a b");
	/* Past the edge nothing is written. */
	CHECK(dash_frame_put(f, 2, 25, 5, 0, "x") == 0);
	CHECK(dash_frame_put(f, 2, 18, 5, 0, "xyz") == 2);
	dash_frame_free(f);

	/* Without UTF-8: ASCII ellipsis, '?' for what cannot be shown. */
	f = dash_frame_create(2, 20, 0);
	dash_frame_put(f, 0, 0, 10, 0, "abcdefghijklmnop");
	row_text(f, 0, buf, sizeof buf);
	CHECK_STR(buf, "abcdefg...");
	dash_frame_put(f, 1, 0, 10, 0, "\xc3\xa9t\xc3\xa9");
	row_text(f, 1, buf, sizeof buf);
	CHECK_STR(buf, "?t?");
	dash_frame_free(f);
}

/* The whole frame as --once prints it, and a screen too small. */
static void
test_dash_draw(void)
{
	struct dash_source	*src;
	struct dash_view	 v;
	struct dash_data	 d;
	struct dash_frame	*f;
	struct orc_error	 err;
	struct store		*s;
	char			*text = NULL;
	size_t			 len = 0;
	FILE			*fp;

	REQUIRE((s = seed()) != NULL);
	store_close(s);
	REQUIRE((src = dash_source_open(DB, NULL, &err)) != NULL);
	dash_view_init(&v);
	v.query.want = 20;
	REQUIRE(dash_fetch(src, &v.query, 1000000, &d, &err) == 0);
	f = dash_frame_create(30, 120, 0);
	dash_draw(f, &v, &d, NULL, "d.db");
	fp = open_memstream(&text, &len);
	dash_frame_print(f, fp);
	fclose(fp);
	CHECK_CONTAINS(text, "in flight 1  queued 1  retrying 0  failed 5m 2");
	CHECK_CONTAINS(text, "p50 1.0s  p99 20s");
	/* The store's size, from the file: kilobytes at least. */
	CHECK_CONTAINS(text, "orchestrator dashboard  d.db");
	CHECK_CONTAINS(text, "K  00:16:40Z");
	CHECK_CONTAINS(text, "  store ");
	CHECK(strstr(text, "store -") == NULL);
	CHECK(d.store_bytes > 1024);
	CHECK_CONTAINS(text, "alpha            1         0         0"
	    "         6         0         0         0         7");
	CHECK_CONTAINS(text, "01TEST00000000000000000006  beta      failed");
	CHECK_CONTAINS(text, "upstream answered 503");
	/* No escape codes in a printed frame. */
	CHECK(strchr(text, '\033') == NULL);
	/* Every run of the seed has a row: the table has room. */
	CHECK(dash_page_rows(30, 2) >= 10);
	free(text);
	dash_frame_free(f);

	f = dash_frame_create(10, 50, 0);
	dash_draw(f, &v, &d, NULL, "d.db");
	text = NULL;
	fp = open_memstream(&text, &len);
	dash_frame_print(f, fp);
	fclose(fp);
	CHECK_CONTAINS(text, "terminal too small: 50x10");
	free(text);
	dash_frame_free(f);
	dash_data_clear(&d);
	dash_view_free(&v);
	dash_source_close(src);
}

/* The database opened as a source, read into d for a view of 4 rows. */
static struct dash_source *
open_view(struct dash_view *v, struct dash_data *d)
{
	struct dash_source	*src;
	struct orc_error	 err;

	if ((src = dash_source_open(DB, NULL, &err)) == NULL)
		return NULL;
	dash_view_init(v);
	v->page = 4;
	v->query.want = 20;
	if (dash_fetch(src, &v->query, 1000000, d, &err) != 0) {
		dash_view_free(v);
		dash_source_close(src);
		return NULL;
	}
	return src;
}

/* The seed opened as a source, read into d for a view of 4 rows. */
static struct dash_source *
open_keys(struct dash_view *v, struct dash_data *d)
{
	struct store *s;

	if ((s = seed()) == NULL)
		return NULL;
	store_close(s);
	return open_view(v, d);
}

/* Keys change the view: move, filter, open, prompt, confirm. */
static void
test_dash_keys(void)
{
	struct dash_source	*src;
	struct dash_view	 v;
	struct dash_data	 d;

	REQUIRE((src = open_keys(&v, &d)) != NULL);

	dash_key(&v, 'j', &d, NULL, src);
	dash_key(&v, KEY_DOWN, &d, NULL, src);
	CHECK(v.cursor == 2);
	dash_key(&v, KEY_NPAGE, &d, NULL, src);
	CHECK(v.cursor == 6);
	CHECK(v.top == 3);
	dash_key(&v, 'G', &d, NULL, src);
	CHECK(v.cursor == 9);
	dash_key(&v, 'k', &d, NULL, src);
	CHECK(v.cursor == 8);
	dash_key(&v, 'g', &d, NULL, src);
	CHECK(v.cursor == 0 && v.top == 0);

	/* f: queued, running, ..., cancelled, then all again. */
	CHECK(dash_key(&v, 'f', &d, NULL, src) == 1);
	CHECK(v.query.state == RUN_QUEUED);
	dash_key(&v, 'f', &d, NULL, src);
	CHECK(v.query.state == RUN_RUNNING);
	dash_key(&v, 'f', &d, NULL, src);
	dash_key(&v, 'f', &d, NULL, src);
	dash_key(&v, 'f', &d, NULL, src);
	dash_key(&v, 'f', &d, NULL, src);
	CHECK(v.query.state == RUN_CANCELLED);
	dash_key(&v, 'f', &d, NULL, src);
	CHECK(v.query.state == RUN_WAITING);
	dash_key(&v, 'f', &d, NULL, src);
	CHECK(v.query.state == -1);

	/* Enter opens the selected run. */
	dash_key(&v, 'j', &d, NULL, src);
	CHECK(dash_key(&v, '\n', &d, NULL, src) == 1);
	CHECK(v.mode == DASH_DETAIL);
	CHECK_STR(v.detail_id, d.runs[1].id);
	dash_key(&v, 27, &d, NULL, src);
	CHECK(v.mode == DASH_LIST);

	/* A search typed, with a backspace. */
	dash_key(&v, '/', &d, NULL, src);
	CHECK(v.mode == DASH_PROMPT);
	dash_key(&v, 'd', &d, NULL, src);
	dash_key(&v, 'x', &d, NULL, src);
	dash_key(&v, KEY_BACKSPACE, &d, NULL, src);
	dash_key(&v, 'i', &d, NULL, src);
	CHECK(dash_key(&v, '\n', &d, NULL, src) == 1);
	CHECK_STR(v.query.search, "di");
	CHECK(v.mode == DASH_LIST);
	/* Esc clears the filters. */
	dash_key(&v, 27, &d, NULL, src);
	CHECK(v.query.search == NULL);

	/* r asks first; "n" changes nothing. */
	dash_key(&v, 'r', &d, NULL, src);
	CHECK(v.mode == DASH_CONFIRM);
	CHECK_STR(v.target, d.runs[0].id);
	CHECK(dash_key(&v, 'n', &d, NULL, src) == 0);
	CHECK(v.mode == DASH_LIST);
	CHECK_STR(v.message, "not retried");

	/* ? shows help, any key goes back; q quits. */
	dash_key(&v, '?', &d, NULL, src);
	CHECK(v.mode == DASH_HELP);
	dash_key(&v, 'x', &d, NULL, src);
	CHECK(v.mode == DASH_LIST);
	CHECK(v.quit == 0);
	dash_key(&v, 'q', &d, NULL, src);
	CHECK(v.quit == 1);
	dash_data_clear(&d);
	dash_view_free(&v);
	dash_source_close(src);
}

/* A frame as --once prints it, in a new string. */
static char *
frame_text(const struct dash_frame *f)
{
	char	*text = NULL;
	size_t	 len = 0;
	FILE	*fp;

	fp = open_memstream(&text, &len);
	dash_frame_print(f, fp);
	fclose(fp);
	return text;
}

/* A retried run's duration counts from its latest redrive. */
static void
test_dash_duration(void)
{
	struct transition_rec	 t[3];
	struct dash_source	*src;
	struct dash_query	 q = { -1, "gamma", NULL, 10, DASH_SORT_AGE, 0 };
	struct dash_data	 d;
	struct orc_error	 err;
	struct run_rec		 r;
	struct store		*s;

	memset(&r, 0, sizeof r);
	memset(t, 0, sizeof t);
	r.created_at = 1000;
	r.finished_at = 5000;
	t[0].event = (char *)"created";
	t[0].at = 1000;
	t[1].event = (char *)"redriven";
	t[1].at = 4000;
	t[2].event = (char *)"step_failed";
	t[2].at = 4500;
	CHECK(dash_run_start(&r, t, 1) == 1000);
	CHECK(dash_run_start(&r, t, 3) == 4000);
	CHECK(dash_run_duration(&r, 4000, 9000) == 1000);
	CHECK(dash_run_duration(&r, 1000, 9000) == 4000);
	/* Unfinished: up to now; a start before creation is the creation. */
	r.finished_at = 0;
	CHECK(dash_run_duration(&r, 4000, 6000) == 2000);
	CHECK(dash_run_duration(&r, 0, 6000) == 5000);

	/* Through the store: failed at 200 s, redriven at 990 s, done 5 s
	 * later; the table says 5.0s, not 15m, and the header's p99 is
	 * beta's 20 s, not 895 s. */
	REQUIRE((s = seed()) != NULL);
	put_run(s, rid(10), "gamma", RUN_FAILED, 100000, 200000, "x", -1);
	put_run_event(s, rid(10), "gamma", RUN_QUEUED, 100000, 0, NULL,
	    RUN_FAILED, "redriven", 990000);
	put_run_event(s, rid(10), "gamma", RUN_SUCCEEDED, 100000, 995000,
	    NULL, RUN_QUEUED, "succeeded", 995000);
	store_close(s);
	REQUIRE((src = dash_source_open(DB, NULL, &err)) != NULL);
	REQUIRE(dash_fetch(src, &q, 1000000, &d, &err) == 0);
	REQUIRE(d.nruns == 1);
	CHECK(d.starts[0] == 990000);
	CHECK(dash_run_duration(&d.runs[0], d.starts[0], d.now) == 5000);
	CHECK(d.stats.p99 == 20000);
	dash_data_clear(&d);
	/* Read again: from what was read before, the same. */
	REQUIRE(dash_fetch(src, &q, 1000000, &d, &err) == 0);
	CHECK(d.starts[0] == 990000);
	dash_data_clear(&d);
	dash_source_close(src);
}

/* Sorting the runs table: each order, reversed, the starts along. */
static void
test_dash_sort(void)
{
	struct run_rec	r[3];
	int64_t		start[3] = { 0, 0, 9000 };
	struct dash_source *src;
	struct dash_query q = { -1, NULL, NULL, 3, DASH_SORT_DURATION, 0 };
	struct dash_data d;
	struct orc_error err;
	struct store	*s;

	memset(r, 0, sizeof r);
	/* A: oldest, 5 s, failed, "b"; B: 1 s, queued, "a"; C: newest,
	 * 1 s since its redrive (10 s since its creation), running, "c". */
	snprintf(r[0].id, sizeof r[0].id, "A");
	r[0].workflow = (char *)"b";
	r[0].state = RUN_FAILED;
	r[0].created_at = 1000;
	r[0].finished_at = 6000;
	snprintf(r[1].id, sizeof r[1].id, "B");
	r[1].workflow = (char *)"a";
	r[1].state = RUN_QUEUED;
	r[1].created_at = 9000;
	snprintf(r[2].id, sizeof r[2].id, "C");
	r[2].workflow = (char *)"c";
	r[2].state = RUN_RUNNING;
	r[2].created_at = 0;
	dash_sort_runs(r, start, 3, DASH_SORT_AGE, 0, 10000);
	CHECK(r[0].id[0] == 'C' && r[1].id[0] == 'B' && r[2].id[0] == 'A');
	/* The start went along with its run. */
	CHECK(start[0] == 9000 && start[1] == 0);
	dash_sort_runs(r, start, 3, DASH_SORT_AGE, 1, 10000);
	CHECK(r[0].id[0] == 'A' && r[2].id[0] == 'C');
	/* Durations 5 s, 1 s, 1 s: the tie goes to the newest. */
	dash_sort_runs(r, start, 3, DASH_SORT_DURATION, 0, 10000);
	CHECK(r[0].id[0] == 'A' && r[1].id[0] == 'C' && r[2].id[0] == 'B');
	dash_sort_runs(r, start, 3, DASH_SORT_DURATION, 1, 10000);
	CHECK(r[0].id[0] == 'B' && r[2].id[0] == 'A');
	dash_sort_runs(r, start, 3, DASH_SORT_STATE, 0, 10000);
	CHECK(r[0].id[0] == 'B' && r[1].id[0] == 'C' && r[2].id[0] == 'A');
	dash_sort_runs(r, start, 3, DASH_SORT_WORKFLOW, 0, 10000);
	CHECK(r[0].id[0] == 'B' && r[1].id[0] == 'A' && r[2].id[0] == 'C');
	CHECK(start[2] == 9000);
	CHECK_STR(dash_sort_name(DASH_SORT_WORKFLOW), "workflow");

	/* From the store, by duration: every run read, then the longest
	 * first (rid 7: 20 s, rid 6: 10 s). */
	REQUIRE((s = seed()) != NULL);
	store_close(s);
	REQUIRE((src = dash_source_open(DB, NULL, &err)) != NULL);
	REQUIRE(dash_fetch(src, &q, 1000000, &d, &err) == 0);
	CHECK(d.nruns == 10);
	CHECK_STR(d.runs[0].id, rid(7));
	CHECK_STR(d.runs[1].id, rid(6));
	dash_data_clear(&d);
	dash_source_close(src);
}

/* A workflow by its name or the start of one name. */
static void
test_dash_wf_match(void)
{
	struct dash_wf	w[4];
	size_t		first = 99;

	memset(w, 0, sizeof w);
	w[0].name = (char *)"alpha";
	w[1].name = (char *)"alpine";
	w[2].name = (char *)"beta";
	w[3].name = (char *)"bet";
	CHECK(dash_wf_match(w, 4, "alph", &first) == 1 && first == 0);
	CHECK(dash_wf_match(w, 4, "al", &first) == 2 && first == 0);
	/* A whole name wins over the longer names it starts. */
	CHECK(dash_wf_match(w, 4, "bet", &first) == 1 && first == 3);
	CHECK(dash_wf_match(w, 4, "be", &first) == 2 && first == 2);
	CHECK(dash_wf_match(w, 4, "x", &first) == 0);
	CHECK(dash_wf_match(w, 0, "a", &first) == 0);
}

/* w with a start of a name, Tab to the workflows, s/S, y, f in a run. */
static void
test_dash_keys_more(void)
{
	struct dash_source	*src;
	struct dash_view	 v;
	struct dash_data	 d;
	const char		*k;

	REQUIRE((src = open_keys(&v, &d)) != NULL);
	/* A third name: "alpha" and "alpine" share "alp". */
	REQUIRE(d.nwfs == 2);
	d.wfs = realloc(d.wfs, 3 * sizeof *d.wfs);
	memset(&d.wfs[2], 0, sizeof *d.wfs);
	d.wfs[2].name = strdup("alpine");
	d.nwfs = 3;

	dash_key(&v, 'w', &d, NULL, src);
	for (k = "alp"; *k != '\0'; k++)
		dash_key(&v, *k, &d, NULL, src);
	CHECK(dash_key(&v, '\n', &d, NULL, src) == 0);
	CHECK(v.mode == DASH_PROMPT);
	CHECK_STR(v.message, "2 workflows start with \"alp\": alpha, alpine");
	dash_key(&v, 'h', &d, NULL, src);
	CHECK(dash_key(&v, '\n', &d, NULL, src) == 1);
	CHECK(v.mode == DASH_LIST);
	CHECK_STR(v.query.workflow, "alpha");
	dash_key(&v, 'w', &d, NULL, src);
	dash_key(&v, 21, &d, NULL, src);
	dash_key(&v, 'z', &d, NULL, src);
	CHECK(dash_key(&v, '\n', &d, NULL, src) == 0);
	CHECK_STR(v.message, "no workflow starts with \"z\"");
	dash_key(&v, 27, &d, NULL, src);
	CHECK_STR(v.query.workflow, "alpha");

	/* Tab, down twice (not past the end), Enter: the third. */
	dash_key(&v, '\t', &d, NULL, src);
	CHECK(v.focus_wfs == 1);
	dash_key(&v, 'j', &d, NULL, src);
	dash_key(&v, 'j', &d, NULL, src);
	dash_key(&v, 'j', &d, NULL, src);
	CHECK(v.wf_cursor == 2);
	CHECK(dash_key(&v, '\n', &d, NULL, src) == 1);
	CHECK_STR(v.query.workflow, "alpine");
	CHECK(v.focus_wfs == 0);
	dash_key(&v, '\t', &d, NULL, src);
	dash_key(&v, 27, &d, NULL, src);
	CHECK(v.focus_wfs == 0);
	CHECK_STR(v.query.workflow, "alpine");

	/* s cycles the orders, S reverses. */
	CHECK(dash_key(&v, 's', &d, NULL, src) == 1);
	CHECK(v.query.sort == DASH_SORT_DURATION);
	dash_key(&v, 'S', &d, NULL, src);
	CHECK(v.query.reverse == 1);
	dash_key(&v, 's', &d, NULL, src);
	dash_key(&v, 's', &d, NULL, src);
	CHECK(v.query.sort == DASH_SORT_WORKFLOW && v.query.reverse == 0);
	dash_key(&v, 's', &d, NULL, src);
	CHECK(v.query.sort == DASH_SORT_AGE);

	/* y: the selected run's id to copy, and said. */
	dash_key(&v, 'j', &d, NULL, src);
	dash_key(&v, 'y', &d, NULL, src);
	CHECK_STR(v.copy, d.runs[1].id);
	CHECK_CONTAINS(v.message, d.runs[1].id);

	/* f in a run pauses it, again follows it (and reads it). */
	dash_key(&v, '\n', &d, NULL, src);
	CHECK(v.paused == 0);
	CHECK(dash_key(&v, 'f', &d, NULL, src) == 0);
	CHECK(v.paused == 1);
	CHECK(dash_key(&v, 'f', &d, NULL, src) == 1);
	CHECK(v.paused == 0);
	dash_data_clear(&d);
	dash_view_free(&v);
	dash_source_close(src);
}

/* The view drawn on 30x120, as text; *last the colour of the start of
 * the workflows table's last row. */
static char *
draw_text(const struct dash_view *v, const struct dash_data *d, int *last)
{
	struct dash_frame	*f;
	char			*text;

	f = dash_frame_create(30, 120, 0);
	dash_draw(f, v, d, NULL, "d.db");
	text = frame_text(f);
	*last = f->color[3 + (int)v->wf_page][0];
	dash_frame_free(f);
	return text;
}

/* More workflows than rows: the table scrolls, no dead line. */
static void
test_dash_draw_workflows(void)
{
	struct dash_view	 v;
	struct dash_data	 d;
	char			*text, name[16];
	int			 sel;
	size_t			 i;

	memset(&d, 0, sizeof d);
	d.wfs = calloc(12, sizeof *d.wfs);
	for (i = 0; i < 12; i++) {
		snprintf(name, sizeof name, "flow%02zu", i);
		d.wfs[i].name = strdup(name);
		d.wfs[i].n[RUN_QUEUED] = (int64_t)i;
	}
	d.nwfs = 12;
	d.failed5m = 0;
	dash_view_init(&v);
	/* 30 rows: 7 workflows shown. */
	v.wf_page = (size_t)dash_wf_page_rows(30, 12);
	CHECK(v.wf_page == 7);
	text = draw_text(&v, &d, &sel);
	CHECK_CONTAINS(text, "WORKFLOW 1-7/12");
	CHECK_CONTAINS(text, "flow06");
	CHECK(strstr(text, "flow07") == NULL);
	CHECK(strstr(text, "more workflows") == NULL);
	CHECK(sel == DASH_C_NONE);
	free(text);

	/* Tab, End: the last ones, the cursor on the last. */
	dash_key(&v, '\t', &d, NULL, NULL);
	dash_key(&v, 'G', &d, NULL, NULL);
	CHECK(v.wf_cursor == 11 && v.wf_top == 5);
	text = draw_text(&v, &d, &sel);
	CHECK_CONTAINS(text, "WORKFLOW 6-12/12");
	CHECK_CONTAINS(text, "flow11");
	CHECK(strstr(text, "flow04") == NULL);
	/* The last row of the table is selected. */
	CHECK(sel == DASH_C_SELECT);
	CHECK_CONTAINS(text, "workflow 12/12");
	free(text);
	dash_data_clear(&d);
	dash_view_free(&v);
}

#define ASKED	"01TEST00000000000000000021"
#define NAPPING	"01TEST00000000000000000022"
#define WHY_ASK	"a signal to step ask (POST /runs/" ASKED "/signals/ask), " \
	"until 1970-01-01T00:26:40.000Z"
#define WHY_NAP	"its time: step nap sleeps until 1970-01-01T00:26:40.000Z"

/* The seed and two waiting runs, one for a signal, the newest for its
 * time, opened as a source and read for a view of 4 rows. */
static struct dash_source *
open_waiting(struct dash_view *v, struct dash_data *d)
{
	struct store *s;

	if ((s = seed()) == NULL)
		return NULL;
	put_waiting(s, ASKED, "ask", WHY_ASK);
	put_waiting(s, NAPPING, "nap", WHY_NAP);
	store_close(s);
	return open_view(v, d);
}

/* The run view of run id drawn on 30 x 120, as text (caller frees). */
static char *
detail_text(struct dash_view *v, const struct dash_data *d,
    const struct dash_detail *dd, const char *id)
{
	struct dash_frame *f;
	char *text;

	v->mode = DASH_DETAIL;
	snprintf(v->detail_id, sizeof v->detail_id, "%s", id);
	f = dash_frame_create(30, 120, 0);
	dash_draw(f, v, d, dd, "d.db");
	text = frame_text(f);
	dash_frame_free(f);
	return text;
}

/* What waiting runs wait for: in the table (kept across refreshes), in
 * the run view, and drawn in both. */
static void
test_dash_waiting(void)
{
	struct dash_source	*src;
	struct dash_detail	 dd;
	struct dash_view	 v;
	struct dash_data	 d;
	struct orc_error	 err;
	char			*text;
	int			 sel;

	REQUIRE((src = open_waiting(&v, &d)) != NULL);
	REQUIRE(d.nruns == 12);
	CHECK_STR(d.runs[0].id, NAPPING);
	CHECK_STR(d.waits[0], WHY_NAP);
	CHECK_STR(d.waits[1], WHY_ASK);
	CHECK(d.waits[2] == NULL);
	text = draw_text(&v, &d, &sel);
	CHECK_CONTAINS(text, "ERROR / WAITING FOR");
	/* The table leaves out the request, the run view has it. */
	CHECK_CONTAINS(text, ASKED "  gamma     waiting    ask      1   "
	    "500ms  500ms     a signal to step ask, until 1970");
	CHECK(strstr(text, "POST") == NULL);
	CHECK_CONTAINS(text, "its time: step nap sleeps until 1970");
	free(text);
	dash_data_clear(&d);
	/* Read again: the same, from what the last refresh read. */
	REQUIRE(dash_fetch(src, &v.query, 1000000, &d, &err) == 0);
	CHECK_STR(d.waits[1], WHY_ASK);

	REQUIRE(dash_fetch_detail(src, ASKED, &dd, &err) == 0);
	CHECK_STR(dd.waiting, WHY_ASK);
	text = detail_text(&v, &d, &dd, ASKED);
	CHECK_CONTAINS(text, "\nwaiting for: " WHY_ASK "\n");
	free(text);
	dash_detail_clear(&dd);
	/* A queued run waits for its turn; a failed one for nothing. */
	REQUIRE(dash_fetch_detail(src, rid(9), &dd, &err) == 0);
	CHECK_STR(dd.waiting, "its turn to start");
	dash_detail_clear(&dd);
	REQUIRE(dash_fetch_detail(src, rid(6), &dd, &err) == 0);
	CHECK(dd.waiting == NULL);
	dash_detail_clear(&dd);
	dash_data_clear(&d);
	dash_view_free(&v);
	dash_source_close(src);
}

/* A map's items, counted in the run view: the parent's line says how many
 * of each step's items ended how, without listing them. */
static void
test_dash_items(void)
{
	static const enum run_state st[] = { RUN_SUCCEEDED, RUN_FAILED,
	    RUN_RUNNING, RUN_SUCCEEDED };
	struct transition_rec	 tr;
	struct dash_source	*src;
	struct dash_detail	 dd;
	struct dash_view	 v;
	struct dash_data	 d;
	struct orc_error	 err;
	struct run_rec		 r;
	struct store		*s;
	char			*text;
	size_t			 i;

	REQUIRE((s = seed()) != NULL);
	for (i = 0; i < 4; i++) {
		r = test_rec(rid(40 + (int)i), "alpha/each", st[i], NULL,
		    990000);
		r.parent_id = (char *)rid(6);
		r.parent_step = (char *)"each";
		r.item = (int64_t)i;
		memset(&tr, 0, sizeof tr);
		commit_run(s, &r, &tr, -1, "created", 990000);
	}
	store_close(s);
	REQUIRE((src = open_view(&v, &d)) != NULL);
	REQUIRE(dash_fetch_detail(src, rid(6), &dd, &err) == 0);
	CHECK_STR(dd.items, "each: 2 of 4 succeeded, 1 failed, 1 running");
	text = detail_text(&v, &d, &dd, rid(6));
	CHECK_CONTAINS(text, "\nitems: each: 2 of 4 succeeded, 1 failed, "
	    "1 running\n");
	free(text);
	dash_detail_clear(&dd);
	/* A run without items has no such line. */
	REQUIRE(dash_fetch_detail(src, rid(7), &dd, &err) == 0);
	CHECK(dd.items == NULL);
	dash_detail_clear(&dd);
	dash_data_clear(&d);
	dash_view_free(&v);
	dash_source_close(src);
}

/* Types text into the prompt. */
static void
type(struct dash_view *v, const char *text, const struct dash_data *d,
    struct dash_source *src)
{
	for (; *text != '\0'; text++)
		dash_key(v, (unsigned char)*text, d, NULL, src);
}

/* W and a: only waiting runs; a signal's body typed, checked, asked. */
static void
test_dash_keys_signal(void)
{
	struct dash_source	*src;
	struct dash_detail	 dd;
	struct dash_view	 v;
	struct dash_data	 d;
	struct orc_error	 err;

	REQUIRE((src = open_waiting(&v, &d)) != NULL);
	CHECK(dash_key(&v, 'W', &d, NULL, src) == 1);
	CHECK(v.query.state == RUN_WAITING);
	CHECK(dash_key(&v, 'W', &d, NULL, src) == 1);
	CHECK(v.query.state == -1);
	dash_key(&v, 'F', &d, NULL, src);
	dash_key(&v, 'W', &d, NULL, src);
	CHECK(v.query.state == RUN_WAITING);

	/* The newest waits for its time: said at once, nothing asked. */
	CHECK(dash_key(&v, 'a', &d, NULL, src) == 0);
	CHECK(v.mode == DASH_LIST);
	CHECK_STR(v.message, "run " NAPPING " waits for " WHY_NAP ", not for "
	    "a signal");
	CHECK(v.message_alert == 1);
	/* A run that does not wait: the same. */
	v.cursor = 2;
	dash_key(&v, 'a', &d, NULL, src);
	CHECK_STR(v.message, "run 01TEST00000000000000000009 is queued: it "
	    "waits for no signal");

	/* The run waiting for a signal: {} to begin with; a typo keeps the
	 * prompt and says what is wrong. */
	v.cursor = 1;
	dash_key(&v, 'a', &d, NULL, src);
	CHECK(v.mode == DASH_PROMPT);
	CHECK_STR(v.input, "{}");
	CHECK_STR(v.target, ASKED);
	CHECK_STR(v.target_step, "ask");
	dash_key(&v, 21, &d, NULL, src);
	type(&v, "{\"ok\": tru", &d, src);
	CHECK(dash_key(&v, '\n', &d, NULL, src) == 0);
	CHECK(v.mode == DASH_PROMPT);
	CHECK_CONTAINS(v.message, "not JSON: ");
	CHECK_CONTAINS(v.message, "at column");
	type(&v, "e}", &d, src);
	CHECK(dash_key(&v, '\n', &d, NULL, src) == 0);
	CHECK(v.mode == DASH_CONFIRM);
	CHECK(v.back == DASH_LIST);
	CHECK_STR(v.input, "{\"ok\": true}");
	CHECK(dash_key(&v, 'n', &d, NULL, src) == 0);
	CHECK(v.mode == DASH_LIST);
	CHECK_STR(v.message, "no signal sent");
	/* Esc in the prompt sends nothing either. */
	dash_key(&v, 'a', &d, NULL, src);
	dash_key(&v, 27, &d, NULL, src);
	CHECK(v.mode == DASH_LIST);
	/* y: this process's engine takes it; the seed's runs have no
	 * definition to go on with, which the status line says. */
	dash_key(&v, 'a', &d, NULL, src);
	dash_key(&v, '\n', &d, NULL, src);
	CHECK(dash_key(&v, 'y', &d, NULL, src) == 1);
	CHECK(v.message_alert == 1);
	CHECK_STR(v.message, "definition h not found");
	CHECK(v.mode == DASH_LIST);

	/* In the run view, from what the view read. */
	REQUIRE(dash_fetch_detail(src, NAPPING, &dd, &err) == 0);
	v.cursor = 0;
	dash_key(&v, '\n', &d, NULL, src);
	CHECK(v.mode == DASH_DETAIL);
	dash_key(&v, 'a', &d, &dd, src);
	CHECK_CONTAINS(v.message, "not for a signal");
	dash_detail_clear(&dd);
	dash_data_clear(&d);
	dash_view_free(&v);
	dash_source_close(src);
}

int
main(void)
{
	/* Widths of CJK characters need a UTF-8 locale. */
	if (setlocale(LC_ALL, "C.UTF-8") == NULL)
		setlocale(LC_ALL, "en_US.UTF-8");
	TEST_RUN(test_dash_counts_follow_writes);
	TEST_RUN(test_dash_finished_window);
	TEST_RUN(test_dash_stats);
	TEST_RUN(test_dash_fetch);
	TEST_RUN(test_dash_detail);
	TEST_RUN(test_dash_frame_put);
	TEST_RUN(test_dash_draw);
	TEST_RUN(test_dash_keys);
	TEST_RUN(test_dash_duration);
	TEST_RUN(test_dash_sort);
	TEST_RUN(test_dash_wf_match);
	TEST_RUN(test_dash_keys_more);
	TEST_RUN(test_dash_draw_workflows);
	TEST_RUN(test_dash_waiting);
	TEST_RUN(test_dash_keys_signal);
	TEST_RUN(test_dash_items);
	TEST_DONE();
}
