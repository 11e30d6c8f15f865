/*
 * The dashboard's keys: one switch per mode (the list, an opened run,
 * the help, a prompt being typed, a question to confirm). A key changes
 * the view; retries, cancels and signals go to the source after a "y".
 * The function returns 1 when what is shown must be read again.
 */
#include "config.h"

#define NCURSES_WIDECHAR 1

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"

#define DASH_ESC	27

/* How a waiting run's note (waiting_for) begins when a signal ends its
 * wait (the engine's wording, as GET /runs/ID shows it). */
#define DASH_WAITS_SIGNAL	"a signal to step "

/* Sets the status line. */
static void
dash_say(struct dash_view *v, int alert, const char *msg)
{
	snprintf(v->message, sizeof v->message, "%s", msg);
	v->message_alert = alert;
}

/* Moves the cursor by delta within the runs read, keeping it shown. */
static int
dash_move(struct dash_view *v, long delta, const struct dash_data *d)
{
	long	c = (long)v->cursor + delta, last;
	size_t	page = v->page > 0 ? v->page : 1;

	last = d->nruns > 0 ? (long)d->nruns - 1 : 0;
	/* Past the last run read: read more, up to DASH_MAX_ROWS. */
	if (c > last && d->more) {
		if (c > DASH_MAX_ROWS - 1)
			c = DASH_MAX_ROWS - 1;
	} else if (c > last)
		c = last;
	if (c < 0)
		c = 0;
	v->cursor = (size_t)c;
	if (v->cursor < v->top)
		v->top = v->cursor;
	if (v->cursor >= v->top + page)
		v->top = v->cursor - page + 1;
	return v->cursor >= d->nruns;
}

/* Starts a prompt or question over the current mode. */
static void
dash_ask(struct dash_view *v, enum dash_mode mode, int kind,
    const char *init)
{
	v->back = v->mode;
	v->mode = mode;
	v->prompt_kind = kind;
	snprintf(v->input, sizeof v->input, "%s", init != NULL ? init : "");
	v->message[0] = '\0';
}

/* The run r and c act on: the opened one or the selected one. */
static const char *
dash_target(const struct dash_view *v, const struct dash_data *d)
{
	if (v->mode == DASH_DETAIL)
		return v->detail_id;
	if (d->nruns == 0 || v->cursor >= d->nruns)
		return NULL;
	return d->runs[v->cursor].id;
}

/* The state of the run a key acts on, when the data has it; else -1. */
static int
dash_target_state(const struct dash_view *v, const struct dash_data *d,
    const char *id)
{
	size_t i;

	if (v->mode != DASH_DETAIL && v->cursor < d->nruns)
		return (int)d->runs[v->cursor].state;
	for (i = 0; i < d->nruns; i++)
		if (strcmp(d->runs[i].id, id) == 0)
			return (int)d->runs[i].state;
	return -1;
}

/* Appends a character, UTF-8 encoded, to the prompt. */
static void
dash_input_add(struct dash_view *v, int key)
{
	char	buf[5];
	size_t	n = 0, len = strlen(v->input);
	unsigned u = (unsigned)key;

	if (u < 0x80)
		buf[n++] = (char)u;
	else if (u < 0x800) {
		buf[n++] = (char)(0xc0 | (u >> 6));
		buf[n++] = (char)(0x80 | (u & 0x3f));
	} else if (u < 0x10000) {
		buf[n++] = (char)(0xe0 | (u >> 12));
		buf[n++] = (char)(0x80 | ((u >> 6) & 0x3f));
		buf[n++] = (char)(0x80 | (u & 0x3f));
	} else {
		buf[n++] = (char)(0xf0 | (u >> 18));
		buf[n++] = (char)(0x80 | ((u >> 12) & 0x3f));
		buf[n++] = (char)(0x80 | ((u >> 6) & 0x3f));
		buf[n++] = (char)(0x80 | (u & 0x3f));
	}
	if (len + n < sizeof v->input) {
		memcpy(v->input + len, buf, n);
		v->input[len + n] = '\0';
	}
}

/* Removes the prompt's last character (all its UTF-8 bytes). */
static void
dash_input_back(struct dash_view *v)
{
	size_t len = strlen(v->input);

	while (len > 0 && (v->input[len - 1] & 0xc0) == 0x80)
		len--;
	if (len > 0)
		len--;
	v->input[len] = '\0';
}

/* Replaces an owned filter string: NULL when s is empty. */
static char *
dash_set_filter(char **slot, const char *s)
{
	free(*slot);
	*slot = s != NULL && *s != '\0' ? xstrdup(s) : NULL;
	return *slot;
}

/* Sets the workflow filter and shows the runs. */
static int
dash_filter_workflow(struct dash_view *v, const char *name)
{
	v->query.workflow = dash_set_filter(&v->workflow, name);
	v->cursor = v->top = 0;
	v->focus_wfs = 0;
	v->mode = DASH_LIST;
	return 1;
}

/* The workflow typed: a name or the start of one name of the workflows
 * table; 0 and a message listing the names when it is not one. Without
 * the table (--url) the text is taken as a name. */
static int
dash_resolve_workflow(struct dash_view *v, const struct dash_data *d,
    const char **name)
{
	size_t	first, n, i, len;
	char	msg[sizeof v->message];

	*name = v->input;
	if (d->nwfs == 0 || v->input[0] == '\0')
		return 1;
	if ((n = dash_wf_match(d->wfs, d->nwfs, v->input, &first)) == 1) {
		*name = d->wfs[first].name;
		return 1;
	}
	if (n == 0) {
		snprintf(v->message, sizeof v->message, "no workflow starts "
		    "with \"%s\"", v->input);
		v->message_alert = 1;
		return 0;
	}
	len = (size_t)snprintf(msg, sizeof msg, "%zu workflows start with "
	    "\"%.64s\":", n, v->input);
	for (i = first; i < d->nwfs && len < sizeof msg; i++)
		if (strncmp(d->wfs[i].name, v->input, strlen(v->input)) == 0)
			len += (size_t)snprintf(msg + len, sizeof msg - len,
			    "%s %s", i == first ? "" : ",", d->wfs[i].name);
	dash_say(v, 1, msg);
	return 0;
}

/* Enter on a signal's body: a question when it is JSON; else the prompt
 * stays, saying what is wrong. */
static int
dash_signal_body(struct dash_view *v)
{
	json_error_t	 jerr;
	json_t		*body;
	char		 msg[sizeof v->message];

	if ((body = json_loads(v->input, JSON_DECODE_ANY, &jerr)) == NULL) {
		snprintf(msg, sizeof msg, "not JSON: %s at column %d (esc: "
		    "no signal)", jerr.text, jerr.column);
		dash_say(v, 1, msg);
		return 0;
	}
	json_decref(body);
	/* The question goes back to where the prompt was opened. */
	v->mode = DASH_CONFIRM;
	return 0;
}

/* A key while typing a search, a workflow or a signal's body. */
static int
dash_key_prompt(struct dash_view *v, int key, const struct dash_data *d)
{
	const char *name;

	switch (key) {
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (v->prompt_kind == 'a')
			return dash_signal_body(v);
		if (v->prompt_kind == 'w') {
			/* An unclear name keeps the prompt open. */
			if (!dash_resolve_workflow(v, d, &name))
				return 0;
			return dash_filter_workflow(v, name);
		}
		v->query.search = dash_set_filter(&v->search, v->input);
		v->cursor = v->top = 0;
		/* A filter applies to the list. */
		v->mode = DASH_LIST;
		return 1;
	case DASH_ESC:
		v->mode = v->back;
		return 0;
	case KEY_BACKSPACE:
	case 127:
	case 8:
		dash_input_back(v);
		return 0;
	case 21:	/* Ctrl-U: the whole line, as in a shell */
		v->input[0] = '\0';
		return 0;
	default:
		if (key >= 0x20 && key != 127 && key < 0x110000 &&
		    (key < KEY_MIN || key > KEY_MAX))
			dash_input_add(v, key);
		return 0;
	}
}

/* Sends the signal typed (JSON already checked). */
static int
dash_send_signal(struct dash_view *v, struct dash_source *src,
    struct orc_error *err)
{
	json_t	*body;
	int	 rc;

	if ((body = json_loads(v->input, JSON_DECODE_ANY, NULL)) == NULL) {
		orc_error_set(err, ORC_EINVAL, "signal body is not JSON");
		return -1;
	}
	rc = dash_signal(src, v->target, v->target_step, body, err);
	json_decref(body);
	return rc;
}

/* A key answering "retry run X? (y/n)" (or cancel, or send a signal). */
static int
dash_key_confirm(struct dash_view *v, int key, struct dash_source *src)
{
	struct orc_error	err;
	char			msg[1024];
	int			rc;

	v->mode = v->back;
	if (key != 'y' && key != 'Y') {
		dash_say(v, 0, v->prompt_kind == 'r' ? "not retried" :
		    v->prompt_kind == 'c' ? "not cancelled" : "no signal sent");
		return 0;
	}
	if (v->prompt_kind == 'a')
		rc = dash_send_signal(v, src, &err);
	else if (v->prompt_kind == 'r')
		rc = dash_retry(src, v->target, &err);
	else
		rc = dash_cancel(src, v->target, &err);
	/* What the run does next is shown as it happens. */
	v->paused = 0;
	if (rc != 0)
		snprintf(msg, sizeof msg, "%s", err.message);
	else if (v->prompt_kind == 'a')
		snprintf(msg, sizeof msg, "run %s: signal to step %s sent",
		    v->target, v->target_step);
	else
		snprintf(msg, sizeof msg, "run %s %s", v->target,
		    v->prompt_kind == 'r' ? "retried" : "cancelled");
	dash_say(v, rc != 0, msg);
	return 1;
}

/* The run a signal goes to: the opened one (dd, when it is read) or the
 * selected one; *why what it waits for, NULL when not known. */
static const struct run_rec *
dash_signal_run(const struct dash_view *v, const struct dash_data *d,
    const struct dash_detail *dd, const char **why)
{
	const char	*id = dash_target(v, d);
	size_t		 i;

	*why = NULL;
	if (id == NULL || *id == '\0')
		return NULL;
	if (v->mode == DASH_DETAIL && dd != NULL &&
	    strcmp(dd->run.id, id) == 0) {
		*why = dd->waiting;
		return &dd->run;
	}
	for (i = 0; i < d->nruns; i++)
		if (strcmp(d->runs[i].id, id) == 0) {
			*why = d->waits != NULL ? d->waits[i] : NULL;
			return &d->runs[i];
		}
	return NULL;
}

/* a: the prompt for a signal's body, on a run waiting for one; else says
 * at once why there is none to send. */
static int
dash_key_signal(struct dash_view *v, const struct dash_data *d,
    const struct dash_detail *dd)
{
	const struct run_rec	*r;
	const char		*why;
	char			 msg[sizeof v->message];

	if ((r = dash_signal_run(v, d, dd, &why)) == NULL) {
		dash_say(v, 1, "no run selected");
		return 0;
	}
	if (r->state != RUN_WAITING || r->step == NULL)
		snprintf(msg, sizeof msg, "run %s is %s: it waits for no "
		    "signal", r->id, run_state_name(r->state));
	else if (why != NULL && strncmp(why, DASH_WAITS_SIGNAL,
	    strlen(DASH_WAITS_SIGNAL)) != 0)
		snprintf(msg, sizeof msg, "run %s waits for %s, not for a "
		    "signal", r->id, why);
	else {
		/* A note not read yet: the source says if it is not one. */
		snprintf(v->target, sizeof v->target, "%s", r->id);
		snprintf(v->target_step, sizeof v->target_step, "%s",
		    r->step);
		dash_ask(v, DASH_PROMPT, 'a', "{}");
		return 0;
	}
	dash_say(v, 1, msg);
	return 0;
}

/* Keys common to the list and an opened run (dd, or NULL): r, c, a, y,
 * ?, resize. */
static int
dash_key_common(struct dash_view *v, int key, const struct dash_data *d,
    const struct dash_detail *dd)
{
	const char *id;
	char msg[128];
	int state;

	switch (key) {
	case 'r':
	case 'c':
		if ((id = dash_target(v, d)) == NULL || *id == '\0') {
			dash_say(v, 1, "no run selected");
			return 0;
		}
		/* Asking is pointless when the answer is known already. */
		state = dash_target_state(v, d, id);
		if (key == 'c' && state >= 0 &&
		    run_state_is_final((enum run_state)state)) {
			snprintf(msg, sizeof msg, "run %s is %s already: nothing "
			    "to cancel", id, run_state_name((enum run_state)state));
			dash_say(v, 1, msg);
			return 0;
		}
		snprintf(v->target, sizeof v->target, "%s", id);
		dash_ask(v, DASH_CONFIRM, key, NULL);
		return 0;
	case 'a':
		return dash_key_signal(v, d, dd);
	case 'y':
		/* dash.c sends the id to the terminal's clipboard; the
		 * status line shows it, to be selected by hand as well. */
		if ((id = dash_target(v, d)) == NULL || *id == '\0') {
			dash_say(v, 1, "no run selected");
			return 0;
		}
		snprintf(v->copy, sizeof v->copy, "%s", id);
		snprintf(msg, sizeof msg, "copied to the clipboard: %s", id);
		dash_say(v, 0, msg);
		return 0;
	case '?':
		dash_ask(v, DASH_HELP, '?', NULL);
		return 0;
	case DASH_KEY_RESIZE:
		return 1;
	}
	return -1;
}

/* A key with the focus on the workflows table. */
static int
dash_key_wfs(struct dash_view *v, int key, const struct dash_data *d)
{
	size_t	page = v->wf_page > 0 ? v->wf_page : 1;
	size_t	last = d->nwfs > 0 ? d->nwfs - 1 : 0;

	switch (key) {
	case KEY_UP:
	case 'k':
		v->wf_cursor -= v->wf_cursor > 0;
		break;
	case KEY_DOWN:
	case 'j':
		v->wf_cursor += v->wf_cursor < last;
		break;
	case KEY_PPAGE:
		v->wf_cursor = v->wf_cursor > page ? v->wf_cursor - page : 0;
		break;
	case KEY_NPAGE:
	case ' ':
		v->wf_cursor = v->wf_cursor + page < last ?
		    v->wf_cursor + page : last;
		break;
	case KEY_HOME:
	case 'g':
		v->wf_cursor = 0;
		break;
	case KEY_END:
	case 'G':
		v->wf_cursor = last;
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		if (v->wf_cursor >= d->nwfs)
			return 0;
		return dash_filter_workflow(v, d->wfs[v->wf_cursor].name);
	case '\t':
	case DASH_ESC:
		v->focus_wfs = 0;
		return 0;
	case 'q':
	case 'Q':
		v->quit = 1;
		return 0;
	default:
		return dash_key_common(v, key, d, NULL) > 0;
	}
	if (v->wf_cursor > last)
		v->wf_cursor = last;
	if (v->wf_cursor < v->wf_top)
		v->wf_top = v->wf_cursor;
	if (v->wf_cursor >= v->wf_top + page)
		v->wf_top = v->wf_cursor - page + 1;
	return 0;
}

/* s: the next order of the runs table; S: the same, reversed. */
static int
dash_key_sort(struct dash_view *v, int key)
{
	if (key == 's') {
		v->query.sort = (enum dash_sort)((v->query.sort + 1) %
		    DASH_SORT_COUNT);
		v->query.reverse = 0;
	} else
		v->query.reverse = !v->query.reverse;
	v->cursor = v->top = 0;
	return 1;
}

/* A key in the list. */
static int
dash_key_list(struct dash_view *v, int key, const struct dash_data *d)
{
	long	page = v->page > 0 ? (long)v->page : 1;
	int	rc, state;

	if (v->focus_wfs)
		return dash_key_wfs(v, key, d);
	switch (key) {
	case KEY_UP:
	case 'k':
		return dash_move(v, -1, d);
	case KEY_DOWN:
	case 'j':
		return dash_move(v, 1, d);
	case KEY_PPAGE:
		return dash_move(v, -page, d);
	case KEY_NPAGE:
	case ' ':
		return dash_move(v, page, d);
	case KEY_HOME:
	case 'g':
		return dash_move(v, -(long)v->cursor, d);
	case KEY_END:
	case 'G':
		return dash_move(v, DASH_MAX_ROWS, d);
	case '\n':
	case '\r':
	case KEY_ENTER:
	case KEY_RIGHT:
		if (d->nruns == 0 || v->cursor >= d->nruns)
			return 0;
		snprintf(v->detail_id, sizeof v->detail_id, "%s",
		    d->runs[v->cursor].id);
		v->mode = DASH_DETAIL;
		v->detail_step = 0;
		v->detail_io = 0;
		v->detail_scroll = 0;
		v->paused = 0;
		v->message[0] = '\0';
		return 1;
	case '\t':
		if (d->nwfs == 0) {
			dash_say(v, 1, "no workflows table: --url has no counts "
			    "per workflow");
			return 0;
		}
		v->focus_wfs = 1;
		if (v->wf_cursor >= d->nwfs)
			v->wf_cursor = d->nwfs - 1;
		return 0;
	case 's':
	case 'S':
		return dash_key_sort(v, key);
	case 'f':
		/* all, queued, running, ..., cancelled, all */
		v->query.state = v->query.state + 1 >= RUN_STATE_COUNT ? -1 :
		    v->query.state + 1;
		v->cursor = v->top = 0;
		return 1;
	case 'F':
	case 'W':
		/* Straight to the failed (waiting) runs, or back to all. */
		state = key == 'F' ? RUN_FAILED : RUN_WAITING;
		v->query.state = v->query.state == state ? -1 : state;
		v->cursor = v->top = 0;
		return 1;
	case 'w':
		dash_ask(v, DASH_PROMPT, 'w', v->workflow);
		return 0;
	case '/':
		dash_ask(v, DASH_PROMPT, '/', v->search);
		return 0;
	case DASH_ESC:
		/* Esc clears the filters. */
		if (v->query.state < 0 && v->workflow == NULL &&
		    v->search == NULL)
			return 0;
		v->query.state = -1;
		v->query.workflow = dash_set_filter(&v->workflow, NULL);
		v->query.search = dash_set_filter(&v->search, NULL);
		v->cursor = v->top = 0;
		return 1;
	case 'q':
	case 'Q':
		v->quit = 1;
		return 0;
	}
	if ((rc = dash_key_common(v, key, d, NULL)) >= 0)
		return rc;
	return 0;
}

/* A key in an opened run. */
static int
dash_key_detail(struct dash_view *v, int key, const struct dash_data *d,
    const struct dash_detail *dd)
{
	size_t	last = 0;
	int	rc;

	if (dd != NULL)
		last = dd->nsteps + (dd->run.step != NULL ? 1 : 0);
	last = last > 0 ? last - 1 : 0;
	switch (key) {
	case KEY_UP:
	case 'k':
		if (v->detail_step > 0)
			v->detail_step--;
		v->detail_scroll = 0;
		return 0;
	case KEY_DOWN:
	case 'j':
		if (v->detail_step < last)
			v->detail_step++;
		v->detail_scroll = 0;
		return 0;
	case KEY_NPAGE:
	case ' ':
		v->detail_scroll += 10;
		return 0;
	case KEY_PPAGE:
		v->detail_scroll = v->detail_scroll > 10 ?
		    v->detail_scroll - 10 : 0;
		return 0;
	case 'i':
		v->detail_io = !v->detail_io;
		v->detail_scroll = 0;
		return 0;
	case 'f':
		/* Paused, the run shown stays as it was read last. */
		v->paused = !v->paused;
		return !v->paused;
	case DASH_ESC:
	case KEY_BACKSPACE:
	case KEY_LEFT:
	case 127:
	case 8:
	case 'h':
	case 'q':
		v->mode = DASH_LIST;
		v->message[0] = '\0';
		return 1;
	}
	if ((rc = dash_key_common(v, key, d, dd)) >= 0)
		return rc;
	return 0;
}

int
dash_key(struct dash_view *v, int key, const struct dash_data *d,
    const struct dash_detail *dd, struct dash_source *src)
{
	/* A message lasts until the next key. */
	if (v->mode != DASH_CONFIRM && key != DASH_KEY_RESIZE)
		v->message[0] = '\0';
	switch (v->mode) {
	case DASH_LIST:
		return dash_key_list(v, key, d);
	case DASH_DETAIL:
		return dash_key_detail(v, key, d, dd);
	case DASH_HELP:
		if (key == DASH_KEY_RESIZE)
			return 1;
		v->mode = v->back == DASH_HELP ? DASH_LIST : v->back;
		return 0;
	case DASH_PROMPT:
		return key == DASH_KEY_RESIZE ? 1 : dash_key_prompt(v, key, d);
	case DASH_CONFIRM:
		return key == DASH_KEY_RESIZE ? 1 :
		    dash_key_confirm(v, key, src);
	}
	return 0;
}
