/*
 * The dashboard's layout: a snapshot and the view become a frame, rows of
 * wide characters with a colour each, which dash.c paints with ncurses and
 * --once prints as plain text: both show the same thing.
 *
 * Text from the store is UTF-8; it is decoded here (not by the locale, so
 * that a C locale shows ASCII and '?' rather than nothing), control
 * characters become spaces (an error text may hold newlines), and a cell
 * too narrow for its text ends in an ellipsis. A character two columns
 * wide takes two cells, the second holding 0. Durations come from
 * format.c, as in `orchestrator runs` and `show`.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "dash.h"
#include "format.h"
#include "log.h"

#define DASH_MIN_COLS	80
#define DASH_MIN_ROWS	14

struct dash_frame *
dash_frame_create(int rows, int cols, int unicode)
{
	struct dash_frame	*f;
	int			 r, c;

	f = xcalloc(1, sizeof *f);
	f->rows = rows;
	f->cols = cols;
	f->unicode = unicode;
	f->text = xcalloc((size_t)rows + 1, sizeof *f->text);
	f->color = xcalloc((size_t)rows + 1, sizeof *f->color);
	for (r = 0; r < rows; r++) {
		f->text[r] = xcalloc((size_t)cols + 1, sizeof **f->text);
		f->color[r] = xcalloc((size_t)cols + 1, 1);
		for (c = 0; c < cols; c++)
			f->text[r][c] = L' ';
	}
	return f;
}

void
dash_frame_free(struct dash_frame *f)
{
	int r;

	if (f == NULL)
		return;
	for (r = 0; r < f->rows; r++) {
		free(f->text[r]);
		free(f->color[r]);
	}
	free(f->text);
	free(f->color);
	free(f);
}

/* Decodes one UTF-8 character of s into *wc; returns its bytes (>= 1).
 * A malformed byte is U+FFFD. */
static int
dash_utf8(const unsigned char *s, wchar_t *wc)
{
	unsigned	c = s[0], need, i;
	unsigned long	v;

	if (c < 0x80) {
		*wc = (wchar_t)c;
		return 1;
	}
	if (c >= 0xc2 && c < 0xe0) {
		need = 1;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c < 0xf0) {
		need = 2;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c < 0xf5) {
		need = 3;
		v = c & 0x07;
	} else {
		*wc = 0xfffd;
		return 1;
	}
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*wc = 0xfffd;
			return (int)i;
		}
		v = (v << 6) | (s[i] & 0x3f);
	}
	*wc = (wchar_t)v;
	return (int)need + 1;
}

/* The columns a character takes; control characters are shown as one
 * space, and what the locale cannot show as one '?'. */
static int
dash_wcwidth(wchar_t *wc, int unicode)
{
	int w;

	if (*wc < 0x20 || *wc == 0x7f || (*wc >= 0x80 && *wc < 0xa0)) {
		*wc = L' ';
		return 1;
	}
	if (*wc < 0x80)
		return 1;
	if (!unicode || (w = wcwidth(*wc)) < 0) {
		*wc = L'?';
		return 1;
	}
	return w;
}

/* The columns text takes. */
static int
dash_text_width(const char *s, int unicode)
{
	wchar_t	wc;
	int	w = 0;

	while (*s != '\0') {
		s += dash_utf8((const unsigned char *)s, &wc);
		w += dash_wcwidth(&wc, unicode);
	}
	return w;
}

int
dash_frame_put(struct dash_frame *f, int row, int col, int width, int color,
    const char *s)
{
	const char	*p;
	wchar_t		 wc, ell;
	int		 used = 0, w, total, ellw, i;

	if (row < 0 || row >= f->rows || col < 0 || col >= f->cols ||
	    s == NULL)
		return 0;
	if (width > f->cols - col)
		width = f->cols - col;
	if (width <= 0)
		return 0;
	total = dash_text_width(s, f->unicode);
	ell = f->unicode ? 0x2026 : L'.';
	ellw = f->unicode ? 1 : (width >= 6 ? 3 : 1);
	if (total <= width)
		ellw = 0;
	for (p = s; *p != '\0';) {
		p += dash_utf8((const unsigned char *)p, &wc);
		w = dash_wcwidth(&wc, f->unicode);
		if (used + w > width - ellw)
			break;
		f->text[row][col + used] = wc;
		f->color[row][col + used] = (unsigned char)color;
		for (i = 1; i < w; i++) {
			f->text[row][col + used + i] = 0;
			f->color[row][col + used + i] = (unsigned char)color;
		}
		used += w;
	}
	for (i = 0; i < ellw && used < width; i++) {
		f->text[row][col + used] = ell;
		f->color[row][col + used++] = (unsigned char)color;
	}
	return used;
}

/* Colours cells of a row without writing them. */
static void
dash_frame_color(struct dash_frame *f, int row, int col, int width, int color)
{
	int i;

	if (row < 0 || row >= f->rows)
		return;
	for (i = col; i < col + width && i < f->cols; i++)
		if (i >= 0)
			f->color[row][i] = (unsigned char)color;
}

/* Writes one wide character as UTF-8. */
static void
dash_put_utf8(wchar_t wc, FILE *out)
{
	unsigned long v = (unsigned long)wc;

	if (v < 0x80)
		fputc((int)v, out);
	else if (v < 0x800) {
		fputc((int)(0xc0 | (v >> 6)), out);
		fputc((int)(0x80 | (v & 0x3f)), out);
	} else if (v < 0x10000) {
		fputc((int)(0xe0 | (v >> 12)), out);
		fputc((int)(0x80 | ((v >> 6) & 0x3f)), out);
		fputc((int)(0x80 | (v & 0x3f)), out);
	} else {
		fputc((int)(0xf0 | (v >> 18)), out);
		fputc((int)(0x80 | ((v >> 12) & 0x3f)), out);
		fputc((int)(0x80 | ((v >> 6) & 0x3f)), out);
		fputc((int)(0x80 | (v & 0x3f)), out);
	}
}

void
dash_frame_print(const struct dash_frame *f, FILE *out)
{
	int r, c, end, last;

	/* Blank rows at the bottom are not printed. */
	for (last = f->rows; last > 0; last--) {
		for (c = 0; c < f->cols && f->text[last - 1][c] == L' '; c++)
			;
		if (c < f->cols)
			break;
	}
	for (r = 0; r < last; r++) {
		end = f->cols;
		while (end > 0 && f->text[r][end - 1] == L' ')
			end--;
		for (c = 0; c < end; c++)
			if (f->text[r][c] != 0)
				dash_put_utf8(f->text[r][c], out);
		fputc('\n', out);
	}
}

void
dash_view_init(struct dash_view *v)
{
	memset(v, 0, sizeof *v);
	v->query.state = -1;
	v->color = 1;
}

void
dash_view_free(struct dash_view *v)
{
	free(v->workflow);
	free(v->search);
	v->workflow = v->search = NULL;
}

/* "12.3", "0.0", "1.2k" runs/s; "-" when unknown (negative). */
static void
dash_rate(double r, char *buf, size_t len)
{
	if (r < 0)
		snprintf(buf, len, "-");
	else if (r >= 10000)
		snprintf(buf, len, "%.1fk", r / 1000);
	else
		snprintf(buf, len, "%.1f", r);
}

/* The sparkline of throughput: one character per bucket. */
static void
dash_spark(const struct dash_stats *st, int unicode, char *buf, size_t len)
{
	static const char *const blocks[] = { "\u2581", "\u2582", "\u2583",
	    "\u2584", "\u2585", "\u2586", "\u2587", "\u2588" };
	static const char ascii[] = "_.-=+*#@";
	int64_t	max = 0;
	size_t	at = 0;
	int	b, lvl;

	for (b = 0; b < DASH_SPARK_BUCKETS; b++)
		if (st->spark[b] > max)
			max = st->spark[b];
	buf[0] = '\0';
	for (b = 0; b < DASH_SPARK_BUCKETS && at + 4 < len; b++) {
		if (st->spark[b] < 0) {
			buf[at++] = ' ';
			continue;
		}
		lvl = max == 0 ? 0 : (int)((st->spark[b] * 7 + max - 1) / max);
		if (st->spark[b] == 0 && unicode) {
			buf[at++] = ' ';
			continue;
		}
		if (unicode)
			at += (size_t)snprintf(buf + at, len - at, "%s",
			    blocks[lvl]);
		else
			buf[at++] = st->spark[b] == 0 ? ' ' : ascii[lvl];
	}
	buf[at] = '\0';
}

/* A size: "512B", "8.0M", "1.2G"; "-" when unknown (negative). */
static const char *
dash_bytes(int64_t n, char *buf, size_t len)
{
	static const char units[] = "BKMGTP";
	double v = (double)n;
	int u = 0;

	if (n < 0)
		return "-";
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lldB", (long long)n);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

/* A duration, or "-" when unknown. */
static const char *
dash_dur(int64_t ms, char *buf, size_t len)
{
	return format_duration(ms, buf, len);
}

/* The title row: name, source, filters, then on the right the store's
 * size and the time (the filters keep their room on a narrow screen). */
static void
dash_draw_title(struct dash_frame *f, const struct dash_view *v,
    const char *source, const struct dash_data *d)
{
	char		 buf[512], clock[16], size[48], bytes[32];
	time_t		 t = (time_t)(d->now / 1000);
	struct tm	 tm;
	int		 c, right;

	dash_frame_color(f, 0, 0, f->cols, DASH_C_TITLE);
	c = dash_frame_put(f, 0, 0, f->cols, DASH_C_TITLE,
	    "orchestrator dashboard  ");
	snprintf(buf, sizeof buf, "%s%s%s%s%s%s%s%s%s%s", source,
	    v->query.state >= 0 ? "  state=" : "",
	    v->query.state >= 0 ? run_state_name(v->query.state) : "",
	    v->workflow != NULL ? "  workflow=" : "",
	    v->workflow != NULL ? v->workflow : "",
	    v->search != NULL ? "  search=" : "",
	    v->search != NULL ? v->search : "",
	    v->query.sort != DASH_SORT_AGE || v->query.reverse ?
	    "  sort=" : "", v->query.sort != DASH_SORT_AGE ||
	    v->query.reverse ? dash_sort_name(v->query.sort) : "",
	    v->query.reverse ? ",reversed" : "");
	snprintf(size, sizeof size, "store %s  ",
	    dash_bytes(d->store_bytes, bytes, sizeof bytes));
	right = 9 + (int)strlen(size);
	if (f->cols - c - right < 40)
		right = 10;		/* too narrow: the size goes */
	c += dash_frame_put(f, 0, c, f->cols - c - right, DASH_C_TITLE, buf);
	if (right > 10)
		dash_frame_put(f, 0, f->cols - right, right - 9, DASH_C_TITLE,
		    size);
	gmtime_r(&t, &tm);
	strftime(clock, sizeof clock, "%H:%M:%SZ", &tm);
	dash_frame_put(f, 0, f->cols - 9, 9, DASH_C_TITLE, clock);
}

/* The figures row; the failures stand out when there are any. */
static void
dash_draw_stats(struct dash_frame *f, int row, const struct dash_data *d)
{
	char	buf[512], rate[32], spark[DASH_SPARK_BUCKETS * 4 + 1];
	char	p50[32], p99[32];
	int	c;

	dash_rate(d->stats.rate, rate, sizeof rate);
	dash_spark(&d->stats, f->unicode, spark, sizeof spark);
	snprintf(buf, sizeof buf, "runs/s %s [%s]  in flight %lld  queued "
	    "%lld  retrying %lld  ", rate, spark,
	    (long long)d->total[RUN_RUNNING], (long long)d->total[RUN_QUEUED],
	    (long long)d->total[RUN_RETRYING]);
	c = dash_frame_put(f, row, 0, f->cols, DASH_C_NONE, buf);
	if (d->failed5m < 0)
		snprintf(buf, sizeof buf, "failed 5m -");
	else
		snprintf(buf, sizeof buf, "failed 5m %s%lld",
		    d->failed5m_capped ? ">=" : "", (long long)d->failed5m);
	c += dash_frame_put(f, row, c, f->cols - c, d->failed5m > 0 ?
	    DASH_C_ALERT : DASH_C_NONE, buf);
	snprintf(buf, sizeof buf, "  p50 %s  p99 %s",
	    dash_dur(d->stats.p50, p50, sizeof p50),
	    dash_dur(d->stats.p99, p99, sizeof p99));
	dash_frame_put(f, row, c, f->cols - c, DASH_C_NONE, buf);
}

/* The width of a count of the workflows table: narrower (and its heads
 * shorter) when the full heads leave too little room for names. */
static int
dash_wf_numw(const struct dash_frame *f)
{
	return f->cols >= 10 * (RUN_STATE_COUNT + 1) + 30 ? 10 : 9;
}

/* One workflow's row of counts by state and total. */
static void
dash_draw_wf_row(struct dash_frame *f, int row, int namew,
    const struct dash_wf *w, int select)
{
	char	buf[64];
	int	numw = dash_wf_numw(f), s;
	int64_t	sum = 0;

	if (select)
		dash_frame_color(f, row, 0, f->cols, DASH_C_SELECT);
	dash_frame_put(f, row, 0, namew - 1, select ? DASH_C_SELECT :
	    DASH_C_NONE, w->name);
	for (s = 0; s < RUN_STATE_COUNT; s++) {
		sum += w->n[s];
		snprintf(buf, sizeof buf, "%*lld", numw, (long long)w->n[s]);
		dash_frame_put(f, row, namew + s * numw, numw, select ?
		    DASH_C_SELECT : w->n[s] > 0 ? DASH_C_STATE(s) :
		    DASH_C_NONE, buf);
	}
	snprintf(buf, sizeof buf, "%*lld", numw, (long long)sum);
	dash_frame_put(f, row, namew + s * numw, numw, select ?
	    DASH_C_SELECT : DASH_C_NONE, buf);
}

/* The workflows table from row, at most max rows with its header, from
 * the view's first workflow shown; returns the rows used. */
static int
dash_draw_workflows(struct dash_frame *f, int row, int max,
    const struct dash_view *v, const struct dash_data *d)
{
	static const char *const heads[RUN_STATE_COUNT] = { "QUEUED",
	    "RUNNING", "RETRYING", "SUCCEEDED", "FAILED", "CANCELLED",
	    "WAITING" };
	static const char *const shorts[RUN_STATE_COUNT] = { "QUEUED",
	    "RUNNING", "RETRYING", "SUCCESS", "FAILED", "CANCEL", "WAITING" };
	char		buf[64], title[64];
	int		namew = 8, numw = dash_wf_numw(f), c, s, shown;
	int		used = 0;
	size_t		k, top;

	shown = (int)d->nwfs < max - 1 ? (int)d->nwfs : max - 1;
	top = v->wf_top + (size_t)shown > d->nwfs ? d->nwfs - (size_t)shown :
	    v->wf_top;
	/* When cut, the header tells which rows are shown: Tab scrolls. */
	if ((size_t)shown < d->nwfs)
		snprintf(title, sizeof title, "WORKFLOW %zu-%zu/%zu", top + 1,
		    top + (size_t)shown, d->nwfs);
	else
		snprintf(title, sizeof title, "WORKFLOW");
	if ((c = (int)strlen(title)) > namew)
		namew = c;
	for (k = 0; k < d->nwfs; k++)
		if ((c = dash_text_width(d->wfs[k].name, f->unicode) + 2) >
		    namew)
			namew = c;
	if (namew > f->cols - numw * (RUN_STATE_COUNT + 1))
		namew = f->cols - numw * (RUN_STATE_COUNT + 1);
	dash_frame_color(f, row, 0, f->cols, DASH_C_HEAD);
	dash_frame_put(f, row, 0, namew, DASH_C_HEAD, title);
	for (s = 0; s <= RUN_STATE_COUNT; s++) {
		snprintf(buf, sizeof buf, "%*s", numw,
		    s == RUN_STATE_COUNT ? "TOTAL" : numw == 10 ? heads[s] :
		    shorts[s]);
		dash_frame_put(f, row, namew + s * numw, numw, DASH_C_HEAD,
		    buf);
	}
	used++;
	if (d->nwfs == 0) {
		dash_frame_put(f, row + used++, 0, f->cols, DASH_C_NONE,
		    d->lacks != NULL ? "(all workflows: see the header)" :
		    "(no runs yet)");
		return used;
	}
	for (k = top; k < top + (size_t)shown; k++)
		dash_draw_wf_row(f, row + used++, namew, &d->wfs[k],
		    v->focus_wfs && k == v->wf_cursor);
	return used;
}

/* The widths of the runs table's columns; waits: a run shown waits, and
 * the last column says for what as well as errors. */
struct dash_cols {
	int	id, wf, state, step, att, age, dur, err;
	int	waits;
};

/* Fits the runs table's columns to the frame. */
static void
dash_fit_runs(const struct dash_frame *f, const struct dash_data *d,
    struct dash_cols *w)
{
	size_t	i;
	int	x, rest;

	memset(w, 0, sizeof *w);
	w->id = RUN_ID_LEN;
	w->state = 9;
	w->att = 3;
	w->age = 6;
	w->dur = 8;
	w->wf = 8;
	w->step = 4;
	for (i = 0; i < d->nruns; i++) {
		if (d->runs[i].workflow != NULL &&
		    (x = dash_text_width(d->runs[i].workflow, f->unicode)) >
		    w->wf)
			w->wf = x;
		if (d->runs[i].step != NULL &&
		    (x = dash_text_width(d->runs[i].step, f->unicode)) >
		    w->step)
			w->step = x;
		if (d->waits != NULL && d->waits[i] != NULL)
			w->waits = 1;
	}
	if (w->wf > 24)
		w->wf = 24;
	if (w->step > 20)
		w->step = 20;
	/* Seven gaps of two columns. */
	rest = f->cols - (w->id + w->state + w->att + w->age + w->dur + 14);
	if (w->wf + w->step > rest) {
		w->wf = rest / 2;
		w->step = rest - w->wf;
	}
	w->err = rest - w->wf - w->step - 2;
	if (w->err < 8)
		w->err = 0;
}

/* What a run waits for, for its cell: without the request that sends a
 * signal (" (POST /runs/ID/signals/STEP)"), which the run view shows. */
static const char *
dash_short_why(const char *why, char *buf, size_t len)
{
	const char *p, *q;

	if ((p = strstr(why, " (POST ")) == NULL ||
	    (q = strchr(p, ')')) == NULL)
		return why;
	snprintf(buf, len, "%.*s%s", (int)(p - why), why, q + 1);
	return buf;
}

/* One row of the runs table (the header when r is NULL); start is when
 * the run last started, why what it waits for (or NULL). */
static void
dash_draw_run_row(struct dash_frame *f, int row, const struct dash_cols *w,
    const struct run_rec *r, int64_t start, const char *why, int64_t now,
    int color)
{
	char	att[16], age[32], dur[32], cell[512];
	int	c = 0;

	if (r == NULL) {
		dash_frame_color(f, row, 0, f->cols, color);
		dash_frame_put(f, row, c, w->id, color, "RUN");
		dash_frame_put(f, row, c += w->id + 2, w->wf, color,
		    "WORKFLOW");
		dash_frame_put(f, row, c += w->wf + 2, w->state, color,
		    "STATE");
		dash_frame_put(f, row, c += w->state + 2, w->step, color,
		    "STEP");
		dash_frame_put(f, row, c += w->step + 2, w->att, color, "ATT");
		dash_frame_put(f, row, c += w->att + 2, w->age, color,
		    "   AGE");
		dash_frame_put(f, row, c += w->age + 2, w->dur, color,
		    "DURATION");
		if (w->err > 0)
			dash_frame_put(f, row, c + w->dur + 2, w->err, color,
			    w->waits ? "ERROR / WAITING FOR" : "ERROR");
		return;
	}
	snprintf(att, sizeof att, "%3d", r->attempt);
	format_duration(now - r->created_at, age, sizeof age);
	snprintf(age, sizeof age, "%6s",
	    format_duration(now - r->created_at, dur, sizeof dur));
	format_duration(dash_run_duration(r, start, now), dur, sizeof dur);
	dash_frame_color(f, row, 0, f->cols, color);
	dash_frame_put(f, row, c, w->id, color, r->id);
	dash_frame_put(f, row, c += w->id + 2, w->wf, color, r->workflow);
	dash_frame_put(f, row, c += w->wf + 2, w->state, color,
	    run_state_name(r->state));
	dash_frame_put(f, row, c += w->state + 2, w->step, color,
	    r->step != NULL ? r->step : "-");
	dash_frame_put(f, row, c += w->step + 2, w->att, color, att);
	dash_frame_put(f, row, c += w->att + 2, w->age, color, age);
	dash_frame_put(f, row, c += w->age + 2, w->dur, color, dur);
	if (w->err > 0 && (why != NULL || r->error != NULL))
		dash_frame_put(f, row, c + w->dur + 2, w->err, color,
		    why != NULL ? dash_short_why(why, cell, sizeof cell) :
		    r->error);
}

/* What a prompt asks for, into buf. */
static void
dash_prompt_label(const struct dash_view *v, char *buf, size_t len)
{
	if (v->prompt_kind == 'a')
		snprintf(buf, len, "signal to step %s of run %s, JSON body",
		    v->target_step, v->target);
	else
		snprintf(buf, len, "%s", v->prompt_kind == '/' ?
		    "search (run id prefix or error text)" :
		    "workflow (a name or its start; empty: all)");
}

/* What a question asks, into buf. */
static void
dash_confirm_label(const struct dash_view *v, char *buf, size_t len)
{
	if (v->prompt_kind == 'a')
		snprintf(buf, len, "send %s to step %s of run %s? (y/n)",
		    v->input, v->target_step, v->target);
	else
		snprintf(buf, len, "%s run %s? (y/n)", v->prompt_kind == 'r' ?
		    "retry" : "cancel", v->target);
}

/* The status row: a prompt, a message, or the keys. */
static void
dash_draw_status(struct dash_frame *f, const struct dash_view *v,
    const char *keys, const char *right)
{
	char	buf[2048], label[512];
	int	row = f->rows - 1, rw = 0;

	if (right != NULL && v->mode != DASH_PROMPT) {
		rw = (int)strlen(right);
		dash_frame_put(f, row, f->cols - rw, rw, DASH_C_NONE, right);
		rw += 2;
	}
	if (v->mode == DASH_PROMPT) {
		dash_prompt_label(v, label, sizeof label);
		snprintf(buf, sizeof buf, "%s: %s_%s%s", label, v->input,
		    v->message[0] != '\0' ? "  " : "", v->message);
		dash_frame_put(f, row, 0, f->cols, DASH_C_HEAD, buf);
	} else if (v->mode == DASH_CONFIRM) {
		dash_confirm_label(v, buf, sizeof buf);
		dash_frame_put(f, row, 0, f->cols - rw, DASH_C_ALERT, buf);
	} else if (v->message[0] != '\0')
		dash_frame_put(f, row, 0, f->cols - rw, v->message_alert ?
		    DASH_C_ALERT : DASH_C_NONE, v->message);
	else
		dash_frame_put(f, row, 0, f->cols - rw, DASH_C_NONE, keys);
}

/* The rows of a workflows table of nwfs rows given at most max rows,
 * with its header. */
static int
dash_wf_rows(int max, size_t nwfs)
{
	if (nwfs == 0)
		return 2;
	return 1 + ((int)nwfs < max - 1 ? (int)nwfs : max - 1);
}

/* The first row of the runs table and the rows the workflows may take. */
static int
dash_runs_start(int rows, size_t nwfs, int *wfmax)
{
	int rest;

	/* A third of what is left for workflows, the rest for runs. */
	rest = rows - 3 - 3;
	*wfmax = rest / 3 < 2 ? 2 : rest / 3;
	return 3 + dash_wf_rows(*wfmax, nwfs) + 1;
}

int
dash_wf_page_rows(int rows, size_t nwfs)
{
	int wfmax;

	dash_runs_start(rows, nwfs, &wfmax);
	return dash_wf_rows(wfmax, nwfs) - 1;
}

int
dash_page_rows(int rows, size_t nwfs)
{
	int wfmax, n;

	/* Below the header of the runs table, above the status line. */
	n = rows - 1 - (dash_runs_start(rows, nwfs, &wfmax) + 1);
	return n > 1 ? n : 1;
}

/* The main screen. */
static void
dash_draw_list(struct dash_frame *f, const struct dash_view *v,
    const struct dash_data *d, const char *source)
{
	struct dash_cols	w;
	char			right[64];
	int			row = 2, wfmax, i, color;
	size_t			k;

	dash_draw_title(f, v, source, d);
	dash_draw_stats(f, 1, d);
	if (d->lacks != NULL)
		dash_frame_put(f, row, 0, f->cols, DASH_C_NONE, d->lacks);
	row = dash_runs_start(f->rows, d->nwfs, &wfmax);
	dash_draw_workflows(f, 3, wfmax, v, d);
	dash_fit_runs(f, d, &w);
	dash_draw_run_row(f, row++, &w, NULL, 0, NULL, d->now, DASH_C_HEAD);
	if (d->nruns == 0)
		dash_frame_put(f, row, 0, f->cols, DASH_C_NONE,
		    v->query.state >= 0 || v->workflow || v->search ?
		    "(no runs match the filter)" : "(no runs)");
	for (k = v->top, i = 0; k < d->nruns && row + i < f->rows - 1;
	    k++, i++) {
		color = k == v->cursor && !v->focus_wfs ? DASH_C_SELECT :
		    DASH_C_STATE(d->runs[k].state);
		dash_draw_run_row(f, row + i, &w, &d->runs[k], d->starts[k],
		    d->waits != NULL ? d->waits[k] : NULL, d->now, color);
	}
	if (v->focus_wfs)
		snprintf(right, sizeof right, "workflow %zu/%zu",
		    v->wf_cursor + 1, d->nwfs);
	else if (d->nruns > 0)
		snprintf(right, sizeof right, "%zu/%zu%s", v->cursor + 1,
		    d->nruns, d->more ? "+" : "");
	else
		right[0] = '\0';
	dash_draw_status(f, v, v->focus_wfs ? "j/k move  enter filter on "
	    "the workflow  tab/esc back to the runs  q quit" :
	    "j/k move  enter open  r retry  c cancel  f state  w workflow  "
	    "/ search  s sort  y copy id  tab workflows  ? help  q quit",
	    right);
}

/* Lines of a JSON value, pretty-printed, into the frame from row. */
static int
dash_draw_json(struct dash_frame *f, int row, int skip, int max,
    const char *title, const json_t *v)
{
	char	*s, *line, *nl;
	int	 used = 0;

	if (used < max && skip-- <= 0)
		dash_frame_put(f, row + used++, 0, f->cols, DASH_C_HEAD, title);
	s = v != NULL ? json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY |
	    JSON_SORT_KEYS) : xstrdup("null");
	if (s == NULL)
		s = xstrdup("(unprintable)");
	for (line = s; line != NULL && used < max; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		if (skip-- > 0)
			continue;
		dash_frame_put(f, row + used++, 2, f->cols - 2, DASH_C_NONE,
		    line);
	}
	free(s);
	return used;
}

/* The last log lines of the opened run that fit from row on, under a
 * heading; the rows used. */
static int
dash_draw_logs(struct dash_frame *f, int row, int max,
    const struct dash_detail *dd)
{
	char	 buf[1024], t1[40];
	size_t	 k, first;
	int	 used = 0;

	if (dd->nlogs == 0 || max < 2)
		return 0;
	dash_frame_color(f, row, 0, f->cols, DASH_C_HEAD);
	dash_frame_put(f, row + used++, 0, f->cols, DASH_C_HEAD,
	    "TIME                      STEP            ATT  LEVEL  MESSAGE");
	first = dd->nlogs > (size_t)(max - 1) ? dd->nlogs - (size_t)(max - 1) :
	    0;
	for (k = first; k < dd->nlogs; k++) {
		snprintf(buf, sizeof buf, "%-24s  %-15.15s  %3d  %-5s  %s",
		    format_time(dd->logs[k].at, t1, sizeof t1),
		    dd->logs[k].step ? dd->logs[k].step : "-",
		    dd->logs[k].attempt,
		    log_level_name((enum log_level)dd->logs[k].level),
		    dd->logs[k].message ? dd->logs[k].message : "");
		dash_frame_put(f, row + used++, 0, f->cols, dd->logs[k].level >=
		    LOG_WARN ? DASH_C_ALERT : DASH_C_NONE, buf);
	}
	return used;
}

/* The opened run: header, steps as a timeline, transitions and log lines,
 * or data. */
static void
dash_draw_detail(struct dash_frame *f, const struct dash_view *v,
    const struct dash_detail *dd, int64_t now)
{
	const struct run_rec	*r = &dd->run;
	char			 buf[1024], t1[40], t2[40], d1[32];
	int64_t			 end, span, start;
	size_t			 k, first;
	int			 row = 0, barw, b0, b1, i, max, skip;

	end = r->finished_at > 0 ? r->finished_at : now;
	snprintf(buf, sizeof buf, "run %s  %s  %s  %s", r->id, r->workflow ?
	    r->workflow : "-", run_state_name(r->state), v->paused ?
	    "[paused: f follows]" : "[following]");
	dash_frame_color(f, row, 0, f->cols, DASH_C_TITLE);
	dash_frame_put(f, row++, 0, f->cols, DASH_C_TITLE, buf);
	snprintf(buf, sizeof buf, "created %s  finished %s  duration %s  "
	    "step %s attempt %d", format_time(r->created_at, t1, sizeof t1),
	    format_time(r->finished_at, t2, sizeof t2),
	    format_duration(dash_run_duration(r, dash_run_start(r, dd->trans,
	    dd->ntrans), now), d1, sizeof d1),
	    r->step ? r->step : "-", r->attempt);
	dash_frame_put(f, row++, 0, f->cols, DASH_C_STATE(r->state), buf);
	if (r->error != NULL) {
		snprintf(buf, sizeof buf, "error: %s", r->error);
		dash_frame_put(f, row++, 0, f->cols, DASH_C_ALERT, buf);
	}
	if (dd->waiting != NULL) {
		snprintf(buf, sizeof buf, "waiting for: %s", dd->waiting);
		dash_frame_put(f, row++, 0, f->cols, DASH_C_STATE(RUN_WAITING),
		    buf);
	}
	if (dd->items != NULL) {
		snprintf(buf, sizeof buf, "items: %s", dd->items);
		dash_frame_put(f, row++, 0, f->cols, DASH_C_NONE, buf);
	}
	/* A blank row under the lines about the run. */
	row = (row > 3 ? row : 3) + 1;

	/* Steps: a bar from its start to its end on the run's time span. */
	barw = f->cols - 2 - 24 - 2 - 8 - 2 - 8 - 2 - 4;
	span = end - r->created_at > 0 ? end - r->created_at : 1;
	dash_frame_color(f, row, 0, f->cols, DASH_C_HEAD);
	snprintf(buf, sizeof buf, "  %-24s  %8s  %8s  TIMELINE", "STEP",
	    "ATTEMPTS", "DURATION");
	dash_frame_put(f, row++, 0, f->cols, DASH_C_HEAD, buf);
	for (k = 0; k <= dd->nsteps && row < f->rows / 2; k++) {
		if (k == dd->nsteps) {
			/* The step the run is at, not finished. */
			if (r->step == NULL)
				break;
			snprintf(buf, sizeof buf, "%s %-24.24s  %8d  %8s",
			    k == v->detail_step ? ">" : " ", r->step,
			    r->attempt, run_state_is_final(r->state) ?
			    run_state_name(r->state) : "...");
			dash_frame_put(f, row++, 0, f->cols,
			    DASH_C_STATE(r->state), buf);
			continue;
		}
		format_duration(dd->steps[k].finished_at -
		    dd->steps[k].started_at, d1, sizeof d1);
		snprintf(buf, sizeof buf, "%s %-24.24s  %8d  %8s  ",
		    k == v->detail_step ? ">" : " ", dd->steps[k].name ?
		    dd->steps[k].name : "-", dd->steps[k].attempts, d1);
		dash_frame_put(f, row, 0, f->cols, k == v->detail_step ?
		    DASH_C_SELECT : DASH_C_NONE, buf);
		start = dd->steps[k].started_at - r->created_at;
		b0 = (int)(start * barw / span);
		b1 = (int)((dd->steps[k].finished_at - r->created_at) * barw /
		    span);
		if (b1 <= b0)
			b1 = b0 + 1;
		for (i = b0; i < b1 && i < barw; i++)
			dash_frame_put(f, row, f->cols - barw - 4 + i, 1,
			    DASH_C_STATE(RUN_SUCCEEDED), f->unicode ?
			    "\u2588" : "#");
		row++;
	}
	row++;
	max = f->rows - 1 - row;
	if (v->detail_io) {
		/* The selected step's input is what came before it. */
		k = v->detail_step;
		skip = v->detail_scroll;
		i = dash_draw_json(f, row, skip, max, k == 0 || k > dd->nsteps ?
		    "RUN INPUT" : "STEP INPUT (the previous step's output)",
		    k == 0 || k > dd->nsteps ? r->input :
		    dd->steps[k - 1].output);
		row += i;
		max -= i;
		if (max > 1)
			dash_draw_json(f, row, 0, max, k < dd->nsteps ?
			    "STEP OUTPUT" : "RUN OUTPUT", k < dd->nsteps ?
			    dd->steps[k].output : r->output);
	} else {
		/* The log lines, when there are some, take the lower half. */
		if (dd->nlogs > 0 && max >= 6) {
			dash_draw_logs(f, row + max - max / 2, max / 2, dd);
			max -= max / 2 + 1;
		}
		dash_frame_color(f, row, 0, f->cols, DASH_C_HEAD);
		dash_frame_put(f, row++, 0, f->cols, DASH_C_HEAD,
		    "TIME                      EVENT                 STATE      "
		    "STEP            ATT  DURATION  ERROR");
		max--;
		first = dd->ntrans > (size_t)max && max > 0 ?
		    dd->ntrans - (size_t)max : 0;
		for (k = first; k < dd->ntrans && max-- > 0; k++) {
			format_duration(dd->trans[k].duration_ms > 0 ?
			    dd->trans[k].duration_ms : -1, d1, sizeof d1);
			snprintf(buf, sizeof buf, "%-24s  %-20.20s  %-9s  "
			    "%-15.15s  %3d  %8s  %s",
			    format_time(dd->trans[k].at, t1, sizeof t1),
			    dd->trans[k].event ? dd->trans[k].event : "-",
			    run_state_name(dd->trans[k].to_state),
			    dd->trans[k].step ? dd->trans[k].step : "-",
			    dd->trans[k].attempt, d1, dd->trans[k].error ?
			    dd->trans[k].error : "");
			dash_frame_put(f, row++, 0, f->cols,
			    DASH_C_STATE(dd->trans[k].to_state), buf);
		}
	}
	dash_draw_status(f, v, "j/k step  i input/output  f follow/pause  "
	    "r retry  c cancel  a signal  y copy id  esc back  q quit", NULL);
}

/* The keys. */
static void
dash_draw_help(struct dash_frame *f, const struct dash_view *v)
{
	static const char *const lines[] = {
	    "orchestrator dashboard: keys",
	    "",
	    "  up/down, j/k     move",
	    "  PgUp/PgDn        move a page",
	    "  Home/End, g/G    first/last run",
	    "  Enter            open the run: steps, transitions",
	    "  i                (in a run) the selected step's input/output",
	    "  Esc, Backspace   back to the list",
	    "  r                retry the run (asks first)",
	    "  c                cancel the run (asks first)",
	    "  f                cycle the state filter; in a run: follow",
	    "                   it live, or pause",
	    "  F                only failed runs (again: all)",
	    "  W                only waiting runs (again: all)",
	    "  a                signal the run waiting on a wait.signal",
	    "                   step: a JSON body typed in (asks first)",
	    "  w                filter by workflow, or a unique start of",
	    "                   its name (empty: all; Ctrl-U clears)",
	    "  Tab              to the workflows table and back; Enter",
	    "                   there filters on the workflow",
	    "  /                search by run id prefix or error text",
	    "  s, S             sort by age, duration, state, workflow;",
	    "                   S reverses",
	    "  y                copy the run's id (OSC 52), shown too",
	    "  ?                this help",
	    "  q                quit",
	    "",
	    "any key goes back",
	};
	size_t i;

	for (i = 0; i < sizeof lines / sizeof *lines && (int)i < f->rows;
	    i++)
		dash_frame_put(f, (int)i, 0, f->cols, i == 0 ? DASH_C_TITLE :
		    DASH_C_NONE, lines[i]);
	(void)v;
}

void
dash_draw(struct dash_frame *f, const struct dash_view *v,
    const struct dash_data *d, const struct dash_detail *dd,
    const char *source)
{
	char	buf[128];
	enum dash_mode mode;

	if (f->rows < DASH_MIN_ROWS || f->cols < DASH_MIN_COLS) {
		snprintf(buf, sizeof buf, "terminal too small: %dx%d, the "
		    "dashboard needs %dx%d", f->cols, f->rows, DASH_MIN_COLS,
		    DASH_MIN_ROWS);
		dash_frame_put(f, f->rows / 2, 0, f->cols, DASH_C_ALERT, buf);
		return;
	}
	mode = v->mode == DASH_PROMPT || v->mode == DASH_CONFIRM ? v->back :
	    v->mode;
	if (mode == DASH_HELP)
		dash_draw_help(f, v);
	else if (mode == DASH_DETAIL && dd != NULL)
		dash_draw_detail(f, v, dd, d->now);
	else
		dash_draw_list(f, v, d, source);
}
