/*
 * The dashboard on a terminal: reads a snapshot every interval (and after
 * a key that changes what is shown), lays it out with dash_draw() and
 * paints it with ncurses, wide-character build, so names in any script
 * line up. A resize arrives as a key and repaints at the new size; a
 * retried run this process executes is let go on between keys.
 *
 * dash_once() is the same frame without a terminal: printed as plain text
 * for scripts and tests.
 */
#include "config.h"

#define NCURSES_WIDECHAR 1

#include <curses.h>
#include <langinfo.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"

#define DASH_PUMP_MS	50	/* key wait while a retried run goes on */

/* Whether the locale's characters are UTF-8: blocks and ellipses. */
static int
dash_unicode(void)
{
	const char *cs = nl_langinfo(CODESET);

	return cs != NULL && (strcmp(cs, "UTF-8") == 0 ||
	    strcmp(cs, "utf8") == 0);
}

/* The rows to read for the view: what is shown and one page more. */
static size_t
dash_want(const struct dash_view *v)
{
	size_t want = v->top + 2 * (v->page > 0 ? v->page : 1);

	if (v->cursor + 1 > want)
		want = v->cursor + 1;
	return want > DASH_MAX_ROWS ? DASH_MAX_ROWS : want;
}

/* Keeps the cursor on the run it was on when runs came in above it, and
 * within what was read. */
static void
dash_follow(struct dash_view *v, const struct dash_data *d, const char *was)
{
	size_t i, page = v->page > 0 ? v->page : 1;

	if (was[0] != '\0')
		for (i = 0; i < d->nruns; i++)
			if (strcmp(d->runs[i].id, was) == 0) {
				if (i != v->cursor) {
					v->top += i - v->cursor;
					v->top = i < v->top ? i : v->top;
					v->cursor = i;
				}
				break;
			}
	if (v->cursor >= d->nruns)
		v->cursor = d->nruns > 0 ? d->nruns - 1 : 0;
	if (v->cursor < v->top)
		v->top = v->cursor;
	if (v->cursor >= v->top + page)
		v->top = v->cursor - page + 1;
}

/* Reads what the view shows; a failure goes to the status line. */
static void
dash_refresh(struct dash_source *src, struct dash_view *v, int rows,
    struct dash_data *d, struct dash_detail *dd, int *have_dd)
{
	struct orc_error	err;
	char			was[RUN_ID_LEN + 1] = "";

	if (d->nruns > 0 && v->cursor < d->nruns && v->cursor > 0)
		memcpy(was, d->runs[v->cursor].id, sizeof was);
	v->page = (size_t)dash_page_rows(rows, d->nwfs);
	v->query.want = dash_want(v);
	dash_data_clear(d);
	if (dash_fetch(src, &v->query, orc_now_ms(), d, &err) != 0) {
		d->now = orc_now_ms();
		snprintf(v->message, sizeof v->message, "%s", err.message);
		v->message_alert = 1;
	}
	/* The page depends on the workflows just read. */
	v->page = (size_t)dash_page_rows(rows, d->nwfs);
	v->wf_page = (size_t)dash_wf_page_rows(rows, d->nwfs);
	if (v->wf_cursor >= d->nwfs)
		v->wf_cursor = d->nwfs > 0 ? d->nwfs - 1 : 0;
	v->focus_wfs = v->focus_wfs && d->nwfs > 0;
	dash_follow(v, d, was);
	/* A paused run stays as read last. */
	if (*have_dd && v->paused && strcmp(dd->run.id, v->detail_id) == 0)
		return;
	if (*have_dd) {
		dash_detail_clear(dd);
		*have_dd = 0;
	}
	if (v->mode == DASH_DETAIL || ((v->mode == DASH_PROMPT ||
	    v->mode == DASH_CONFIRM || v->mode == DASH_HELP) &&
	    v->back == DASH_DETAIL)) {
		if (dash_fetch_detail(src, v->detail_id, dd, &err) == 0)
			*have_dd = 1;
		else {
			snprintf(v->message, sizeof v->message, "%s",
			    err.message);
			v->message_alert = 1;
			v->mode = DASH_LIST;
		}
	}
}

int
dash_once(struct dash_source *src, FILE *out, int rows, int cols)
{
	struct dash_view	 v;
	struct dash_data	 d;
	struct dash_frame	*f;
	struct orc_error	 err;
	int			 c;

	dash_view_init(&v);
	v.query.want = (size_t)dash_page_rows(rows, 0);
	if (dash_fetch(src, &v.query, orc_now_ms(), &d, &err) != 0) {
		fprintf(stderr, "orchestrator dashboard: %s\n", err.message);
		return -1;
	}
	f = dash_frame_create(rows, cols, dash_unicode());
	dash_draw(f, &v, &d, NULL, dash_source_name(src));
	/* No keys to list: the status row stays blank. */
	for (c = 0; rows >= 2 && c < cols; c++) {
		f->text[rows - 1][c] = L' ';
		f->color[rows - 1][c] = DASH_C_NONE;
	}
	dash_frame_print(f, out);
	dash_frame_free(f);
	dash_data_clear(&d);
	dash_view_free(&v);
	return 0;
}

/* Puts a run id on the terminal's clipboard with OSC 52, which
 * terminals take over ssh too, and tmux with set-clipboard on. */
static void
dash_clipboard(const char *id)
{
	unsigned char enc[4 * ((RUN_ID_LEN + 2) / 3) + 1];

	EVP_EncodeBlock(enc, (const unsigned char *)id, (int)strlen(id));
	printf("\033]52;c;%s\a", enc);
	fflush(stdout);
}

/* The ncurses attributes of a frame colour. */
static attr_t
dash_attr(int color, int use_color)
{
	switch (color) {
	case DASH_C_NONE:
		return A_NORMAL;
	case DASH_C_TITLE:
		return A_REVERSE | A_BOLD;
	case DASH_C_HEAD:
		return A_BOLD | A_UNDERLINE;
	case DASH_C_SELECT:
		return A_REVERSE;
	case DASH_C_ALERT:
		return A_BOLD | (use_color ? COLOR_PAIR(RUN_FAILED + 1) : 0);
	}
	if (!use_color || color < 1 || color > RUN_STATE_COUNT)
		return A_NORMAL;
	return COLOR_PAIR(color);
}

/* Sets up the colour pairs: one per run state. */
static int
dash_colors(void)
{
	static const short fg[RUN_STATE_COUNT] = { COLOR_BLUE, COLOR_CYAN,
	    COLOR_YELLOW, COLOR_GREEN, COLOR_RED, COLOR_MAGENTA, COLOR_WHITE };
	int s;

	if (!has_colors() || start_color() == ERR)
		return 0;
	use_default_colors();
	for (s = 0; s < RUN_STATE_COUNT; s++)
		init_pair((short)(s + 1), fg[s], -1);
	return 1;
}

/* Paints a frame: runs of cells of one colour at a time. */
static void
dash_paint(const struct dash_frame *f, int use_color)
{
	wchar_t	*buf;
	int	 r, c, start, n;

	buf = xcalloc((size_t)f->cols + 1, sizeof *buf);
	erase();
	for (r = 0; r < f->rows; r++) {
		for (c = 0; c < f->cols; c = start + n) {
			start = c;
			n = 0;
			while (c < f->cols && f->color[r][c] ==
			    f->color[r][start]) {
				if (f->text[r][c] != 0)
					buf[n++] = f->text[r][c];
				c++;
			}
			attrset(dash_attr(f->color[r][start], use_color));
			mvaddnwstr(r, start, buf, n);
			n = c - start;
		}
	}
	attrset(A_NORMAL);
	free(buf);
	refresh();
}

int
dash_run(struct dash_source *src, int interval_ms, int color)
{
	struct dash_view	 v;
	struct dash_data	 d;
	struct dash_detail	 dd;
	struct dash_frame	*f;
	int64_t			 next = 0, now;
	wint_t			 wch;
	int			 rows, cols, key, rc, have_dd = 0, fetch = 1;
	int			 use_color = 0, wait;

	memset(&d, 0, sizeof d);
	memset(&dd, 0, sizeof dd);
	dash_view_init(&v);
	v.color = color;
	if (initscr() == NULL)
		return -1;
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	set_escdelay(25);
	if (color)
		use_color = dash_colors();

	while (!v.quit) {
		getmaxyx(stdscr, rows, cols);
		now = orc_now_ms();
		if (fetch || now >= next) {
			dash_refresh(src, &v, rows, &d, &dd, &have_dd);
			next = now + interval_ms;
			fetch = 0;
		}
		f = dash_frame_create(rows, cols, dash_unicode());
		dash_draw(f, &v, &d, have_dd ? &dd : NULL,
		    dash_source_name(src));
		dash_paint(f, use_color);
		dash_frame_free(f);

		wait = (int)(next - orc_now_ms());
		if (dash_busy(src) > 0 && wait > DASH_PUMP_MS)
			wait = DASH_PUMP_MS;
		timeout(wait > 0 ? wait : 0);
		rc = get_wch(&wch);
		dash_pump(src);
		if (rc == ERR)
			continue;
		if (rc == KEY_CODE_YES)
			key = wch == KEY_RESIZE ? DASH_KEY_RESIZE : (int)wch;
		else
			key = wch == L'\r' ? '\n' : (int)wch;
		if (dash_key(&v, key, &d, have_dd ? &dd : NULL, src) != 0)
			fetch = 1;
		if (v.copy[0] != '\0') {
			dash_clipboard(v.copy);
			v.copy[0] = '\0';
		}
	}
	endwin();
	if (have_dd)
		dash_detail_clear(&dd);
	dash_data_clear(&d);
	dash_view_free(&v);
	return 0;
}
