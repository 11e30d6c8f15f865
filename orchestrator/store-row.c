/*
 * The rows of both store backends read into records (store-row.h). The
 * backends select the same columns in the same order; what differs is how
 * a column is read (PQgetvalue or sqlite3_column_text), and that is all a
 * backend gives here. Text columns are copied into the records the
 * callbacks are lent, as before, except where a record lends its strings
 * itself (a schedule row, a workflow's count). The way back, a JSON
 * value into a column's text, is shared too (store_row_encode).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "blob.h"
#include "jsonenc.h"
#include "log.h"
#include "store-pack.h"
#include "store-row.h"

/* The column of RUN_COLS that holds the lease token, where there is one. */
#define STORE_ROW_EPOCH	19

/* The names of the stored codes, by code (store-row.h). */
#define STORE_CODE_NAME(code, name)	[code] = name,
static const char *const store_state_names[] = {
	STORE_STATE_CODES(STORE_CODE_NAME)
};
static const char *const store_event_names[] = {
	STORE_EVENT_CODES(STORE_CODE_NAME)
};
#define STORE_NAMES(a)	(sizeof (a) / sizeof (a)[0])

/* The code of a name in a table of names by code; -1 when it has none. */
static int
store_code_of(const char *const *names, size_t n, const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

/* The name of a stored column's code; NULL for a name or an unknown code. */
static const char *
store_code_name(const char *const *names, size_t n, const char *s)
{
	unsigned long	 code;
	char		*end;

	if (*s < '0' || *s > '9')
		return NULL;
	code = strtoul(s, &end, 10);
	if (*end != '\0' || code >= n)
		return NULL;
	return names[code];
}

/* See store-row.h. */
int
store_state_code(int state)
{
	if (state < 0)
		return -1;
	return store_code_of(store_state_names, STORE_NAMES(store_state_names),
	    run_state_name((enum run_state)state));
}

/* See store-row.h. */
int
store_event_code(const char *event)
{
	return store_code_of(store_event_names, STORE_NAMES(store_event_names),
	    event);
}

/* See store-row.h. */
const char *
store_output_ref(const struct run_rec *r, const struct step_rec *s,
    char buf[STORE_OUTPUT_REF_LEN])
{
	/* The engine hands the run the step's own output: one pointer. */
	if (r->output == NULL || s == NULL || s->output != r->output ||
	    strcmp(s->run_id, r->id) != 0)
		return NULL;
	snprintf(buf, STORE_OUTPUT_REF_LEN, "=%d", s->seq);
	return buf;
}

/* A column as a new string, or NULL. */
char *
store_row_text(const struct store_row *row, int col)
{
	const char *s = row->ops->text(row, col, NULL);

	return s != NULL ? xstrdup(s) : NULL;
}

/* An integer column; 0 for NULL. */
int64_t
store_row_int(const struct store_row *row, int col)
{
	return row->ops->integer(row, col);
}

/* A column into a fixed id buffer. */
void
store_row_id(const struct store_row *row, int col, char out[RUN_ID_LEN + 1])
{
	const char *s = row->ops->text(row, col, NULL);

	snprintf(out, RUN_ID_LEN + 1, "%s", s != NULL ? s : "");
}

/* A state column; -1 when NULL, -2 when unknown. */
int
store_row_state(const struct store_row *row, int col)
{
	enum run_state	 state;
	const char	*s = row->ops->text(row, col, NULL);

	if (s == NULL)
		return -1;
	/* Transitions store a code, runs and counts the name. */
	if (*s >= '0' && *s <= '9' && (s = store_code_name(store_state_names,
	    STORE_NAMES(store_state_names), s)) == NULL)
		return -2;
	if (run_state_parse(s, &state) == -1)
		return -2;
	return (int)state;
}

/* An event column, by name or code, as a new string; NULL for NULL. */
char *
store_row_event(const struct store_row *row, int col)
{
	const char *s = row->ops->text(row, col, NULL), *name;

	if (s == NULL)
		return NULL;
	/* An unknown code (a newer build's) reads as its digits. */
	name = store_code_name(store_event_names,
	    STORE_NAMES(store_event_names), s);
	return xstrdup(name != NULL ? name : s);
}

/* A JSON value as a column's new text: compact, or the reference of the
 * blob file that takes it when it is large; NULL with err, naming db, when
 * the blob cannot be written. */
char *
store_row_encode(const json_t *v, const char *blobs, size_t blob_min,
    const char *db, struct orc_error *err)
{
	struct orc_error	 berr;
	char			*s;

	if ((s = jsonenc_compact(v, NULL)) == NULL)
		fatal("%s: a JSON value cannot be written", __func__);
	if ((s = blob_encode(blobs, blob_min, s, &berr)) == NULL)
		orc_error_set(err, ORC_ESTORE, "%s: %s", db, berr.message);
	return s;
}

/* A packed column's text in *out (new); -1 with err. */
static int
store_row_unpack(const struct store_row *row, const char *s, size_t len,
    char **out, struct orc_error *err)
{
	size_t n;

	if (row->ops->unpack == NULL) {
		orc_error_set(err, ORC_ESTORE, "a packed value, which this "
		    "store does not write");
		return -1;
	}
	*out = row->ops->unpack(row, s, len, &n, err);
	return *out != NULL ? 0 : -1;
}

/* A JSON column as a new value (NULL for SQL NULL); -1 when unreadable. */
int
store_row_json(const struct store_row *row, int col, const char *what,
    json_t **out, struct orc_error *err)
{
	json_error_t		 jerr;
	struct orc_error	 berr;
	const char		*s;
	char			*big;
	size_t			 len;

	*out = NULL;
	if ((s = row->ops->text(row, col, &len)) == NULL)
		return 0;
	/* A packed value reads as its text (store-pack.h), a reference to
	 * a blob as the text it stands for. */
	if ((len > 0 && *s == PACK_MARK ?
	    store_row_unpack(row, s, len, &big, &berr) :
	    blob_decode(row->blobs, s, len, &big, &berr)) == -1) {
		orc_error_set(err, ORC_ESTORE, "%s: %s: column %s: %s",
		    row->db, what, row->ops->name(row, col), berr.message);
		return -1;
	}
	*out = json_loads(big != NULL ? big : s, JSON_DECODE_ANY | JSON_ALLOW_NUL,
	    &jerr);
	free(big);
	if (*out == NULL) {
		orc_error_set(err, ORC_ESTORE, "%s: %s: column %s: %s",
		    row->db, what, row->ops->name(row, col), jerr.text);
		return -1;
	}
	return 0;
}

/* Fills a run record from a row of RUN_COLS. */
int
store_row_run(const struct store_row *row, struct run_rec *r,
    struct orc_error *err)
{
	const char	*name;
	int		 state;

	memset(r, 0, sizeof *r);
	store_row_id(row, 0, r->id);
	r->workflow = store_row_text(row, 1);
	r->def_hash = store_row_text(row, 2);
	if ((state = store_row_state(row, 3)) < 0) {
		name = row->ops->text(row, 3, NULL);
		orc_error_set(err, ORC_ESTORE, "%s: run %s: unknown state "
		    "\"%s\"", row->db, r->id, name != NULL ? name : "");
		run_rec_clear(r);
		return -1;
	}
	r->state = (enum run_state)state;
	r->seq = (int)store_row_int(row, 4);
	r->step = store_row_text(row, 5);
	r->attempt = (int)store_row_int(row, 6);
	if (store_row_json(row, 7, r->id, &r->input, err) == -1 ||
	    store_row_json(row, 8, r->id, &r->trigger, err) == -1 ||
	    store_row_json(row, 9, r->id, &r->output, err) == -1) {
		run_rec_clear(r);
		return -1;
	}
	r->error = store_row_text(row, 10);
	r->dead = (enum dead_state)store_row_int(row, 11);
	r->idempotency_key = store_row_text(row, 12);
	r->created_at = store_row_int(row, 13);
	r->updated_at = store_row_int(row, 14);
	r->due_at = store_row_int(row, 15);
	r->finished_at = store_row_int(row, 16);
	r->lease_owner = store_row_text(row, 17);
	r->lease_until = store_row_int(row, 18);
	/* Only a backend that fences writes keeps a lease token. */
	if (row->ops->columns(row) > STORE_ROW_EPOCH)
		r->lease_epoch = store_row_int(row, STORE_ROW_EPOCH);
	return 0;
}

/* Fills a definition from a row of (hash, name, path, body, created_at,
 * retention_ms). */
void
store_row_def(const struct store_row *row, struct def_rec *d)
{
	memset(d, 0, sizeof *d);
	d->hash = store_row_text(row, 0);
	d->name = store_row_text(row, 1);
	d->path = store_row_text(row, 2);
	d->body = store_row_text(row, 3);
	d->created_at = store_row_int(row, 4);
	d->retention_ms = store_row_int(row, 5);
}

/* Hands a row of RUN_COLS to a run callback. */
static int
store_row_feed_run(const struct store_row *row, const struct store_feed *f,
    struct orc_error *err)
{
	struct run_rec	r;
	int		stop;

	if (store_row_run(row, &r, err) == -1)
		return -1;
	stop = f->cb.run(&r, f->arg) != 0;
	run_rec_clear(&r);
	return stop;
}

/* Hands a row of the children listing to its callback. */
static int
store_row_feed_child(const struct store_row *row, const struct store_feed *f,
    struct orc_error *err)
{
	struct child_rec	c;
	int			state, stop;

	memset(&c, 0, sizeof c);
	c.item = row->ops->text(row, 0, NULL) != NULL ?
	    store_row_int(row, 0) : -1;
	store_row_id(row, 1, c.id);
	if ((state = store_row_state(row, 2)) < 0) {
		orc_error_set(err, ORC_ESTORE, "%s: run %s: unknown state",
		    row->db, c.id);
		return -1;
	}
	c.state = (enum run_state)state;
	if (store_row_json(row, 3, c.id, &c.output, err) == -1)
		return -1;
	c.error = store_row_text(row, 4);
	stop = f->cb.child(&c, f->arg) != 0;
	json_decref(c.output);
	free(c.error);
	return stop;
}

/* Hands a row of the step listing to its callback. */
static int
store_row_feed_step(const struct store_row *row, const struct store_feed *f,
    struct orc_error *err)
{
	struct step_rec	s;
	int		stop;

	memset(&s, 0, sizeof s);
	store_row_id(row, 0, s.run_id);
	s.seq = (int)store_row_int(row, 1);
	s.name = store_row_text(row, 2);
	s.attempts = (int)store_row_int(row, 3);
	if (store_row_json(row, 4, s.run_id, &s.output, err) == -1) {
		step_rec_clear(&s);
		return -1;
	}
	s.started_at = store_row_int(row, 5);
	s.finished_at = store_row_int(row, 6);
	stop = f->cb.step(&s, f->arg) != 0;
	step_rec_clear(&s);
	return stop;
}

/* Hands a row of the transition listing to its callback. */
static int
store_row_feed_transition(const struct store_row *row,
    const struct store_feed *f, struct orc_error *err)
{
	struct transition_rec	t;
	int			state, stop;

	memset(&t, 0, sizeof t);
	t.id = store_row_int(row, 0);
	store_row_id(row, 1, t.run_id);
	t.at = store_row_int(row, 2);
	t.from_state = store_row_state(row, 3);
	state = store_row_state(row, 4);
	if (t.from_state == -2 || state < 0) {
		orc_error_set(err, ORC_ESTORE, "%s: run %s: transition %lld "
		    "has an unknown state", row->db, t.run_id,
		    (long long)t.id);
		return -1;
	}
	t.to_state = (enum run_state)state;
	t.event = store_row_event(row, 5);
	t.step = store_row_text(row, 6);
	t.seq = (int)store_row_int(row, 7);
	t.attempt = (int)store_row_int(row, 8);
	t.error = store_row_text(row, 9);
	t.duration_ms = store_row_int(row, 10);
	stop = f->cb.transition(&t, f->arg) != 0;
	transition_rec_clear(&t);
	return stop;
}

/* Hands a row of the log listing to its callback. */
static int
store_row_feed_log(const struct store_row *row, const struct store_feed *f)
{
	struct log_rec	 l;
	enum log_level	 level = LOG_INFO;
	const char	*name;
	int		 stop;

	memset(&l, 0, sizeof l);
	l.id = store_row_int(row, 0);
	store_row_id(row, 1, l.run_id);
	l.at = store_row_int(row, 2);
	l.step = store_row_text(row, 3);
	l.attempt = (int)store_row_int(row, 4);
	/* An unknown level reads as info. */
	if ((name = row->ops->text(row, 5, NULL)) == NULL ||
	    log_parse_level(name, &level) == -1)
		level = LOG_INFO;
	l.level = (int)level;
	l.message = store_row_text(row, 6);
	stop = f->cb.log(&l, f->arg) != 0;
	log_rec_clear(&l);
	return stop;
}

/* Hands a row of the schedule listing to its callback, its strings lent. */
static int
store_row_feed_schedule(const struct store_row *row,
    const struct store_feed *f)
{
	struct schedule_rec r;

	memset(&r, 0, sizeof r);
	r.workflow = (char *)row->ops->text(row, 0, NULL);
	r.schedule = (char *)row->ops->text(row, 1, NULL);
	r.timezone = (char *)row->ops->text(row, 2, NULL);
	r.next_at = store_row_int(row, 3);
	r.last_fire_at = store_row_int(row, 4);
	r.last_run_id = (char *)row->ops->text(row, 5, NULL);
	r.fired = store_row_int(row, 6);
	r.skipped = store_row_int(row, 7);
	r.updated_at = store_row_int(row, 8);
	if (r.workflow == NULL)
		return 0;
	return f->cb.schedule(&r, f->arg) != 0;
}

/* Hands a row of counts, of finished runs or of states, on; rows of a
 * state this build does not know are passed over. */
static int
store_row_feed_count(const struct store_row *row, const struct store_feed *f)
{
	struct finish_rec	 fr;
	const char		*wf;
	int64_t			*counts = f->arg;
	int			 state;

	if (f->kind == STORE_FEED_STATES) {
		if ((state = store_row_state(row, 0)) >= 0)
			counts[state] += store_row_int(row, 1);
		return 0;
	}
	if ((state = store_row_state(row, 1)) < 0)
		return 0;
	if (f->kind == STORE_FEED_COUNT) {
		wf = row->ops->text(row, 0, NULL);
		return f->cb.count(wf != NULL ? wf : "",
		    (enum run_state)state, store_row_int(row, 2), f->arg) != 0;
	}
	fr.finished_at = store_row_int(row, 0);
	fr.state = (enum run_state)state;
	fr.duration_ms = store_row_int(row, 2);
	return f->cb.finish(&fr, f->arg) != 0;
}

/* Reads the row into the record of a feed of one row: 1, for no other, or
 * -1 with err. */
static int
store_row_feed_one(const struct store_row *row, const struct store_feed *f,
    struct orc_error *err)
{
	struct store_one	*one = f->arg;
	struct request_key	*rk = one->rec;
	const char		*sha;

	if (row->ops->text(row, 0, NULL) == NULL)
		return 0;
	switch (f->kind) {
	case STORE_FEED_RUN_ONE:
		if (store_row_run(row, one->rec, err) == -1)
			return -1;
		break;
	case STORE_FEED_DEF_ONE:
		store_row_def(row, one->rec);
		break;
	case STORE_FEED_ID_ONE:
		store_row_id(row, 0, one->rec);
		break;
	case STORE_FEED_TEXT_ONE:
		*(char **)one->rec = store_row_text(row, 0);
		break;
	case STORE_FEED_INT_ONE:
		*(int64_t *)one->rec = store_row_int(row, 0);
		break;
	default:	/* STORE_FEED_RKEY_ONE */
		store_row_id(row, 0, rk->run_id);
		sha = row->ops->text(row, 1, NULL);
		snprintf(rk->body_sha, sizeof rk->body_sha, "%s",
		    sha != NULL ? sha : "");
	}
	one->found = 1;
	return 1;
}

/* Adds the row's id to the ids of the feed. */
static int
store_row_feed_ids(const struct store_row *row, const struct store_feed *f)
{
	struct store_ids *ids = f->arg;

	if (ids->n == ids->cap) {
		ids->cap = ids->cap == 0 ? 8 : ids->cap * 2;
		ids->v = xrealloc(ids->v, ids->cap * sizeof *ids->v);
	}
	ids->v[ids->n++] = store_row_text(row, 0);
	return 0;
}

/* Maps a row to the feed's kind of record and hands it on. */
int
store_row_feed(const struct store_row *row, const struct store_feed *f,
    struct orc_error *err)
{
	switch (f->kind) {
	case STORE_FEED_RUN:
		return store_row_feed_run(row, f, err);
	case STORE_FEED_CHILD:
		return store_row_feed_child(row, f, err);
	case STORE_FEED_STEP:
		return store_row_feed_step(row, f, err);
	case STORE_FEED_TRANSITION:
		return store_row_feed_transition(row, f, err);
	case STORE_FEED_LOG:
		return store_row_feed_log(row, f);
	case STORE_FEED_SCHEDULE:
		return store_row_feed_schedule(row, f);
	case STORE_FEED_STATES:
	case STORE_FEED_COUNT:
	case STORE_FEED_FINISH:
		return store_row_feed_count(row, f);
	case STORE_FEED_RUN_ONE:
	case STORE_FEED_DEF_ONE:
	case STORE_FEED_ID_ONE:
	case STORE_FEED_TEXT_ONE:
	case STORE_FEED_INT_ONE:
	case STORE_FEED_RKEY_ONE:
		return store_row_feed_one(row, f, err);
	case STORE_FEED_IDS:
		return store_row_feed_ids(row, f);
	}
	fatal("%s: feed kind %d", __func__, (int)f->kind);
}

/* Adds the blob reference a column holds, if any. */
void
store_row_ref(const struct store_row *row, int col, struct blob_refs *br)
{
	const char	*s;
	size_t		 len;

	if ((s = row->ops->text(row, col, &len)) != NULL)
		blob_refs_add(br, s, len);
}

/*
 * Reads a row of a purge's scan, nv runs being taken already: -1 when the
 * row is one to take but the purge has its fill; else moves p's cursor
 * past the row and returns 1 when its run goes (its blob references added
 * to br), 0 when it stays.
 */
int
store_row_purge(const struct store_row *row, struct store_purge *p,
    size_t nv, struct blob_refs *br)
{
	int goes = store_row_int(row, 7) != 0;

	if (goes && nv == (size_t)p->limit)
		return -1;
	/* Seen: the next scan starts after it. */
	p->cursor = store_row_int(row, 3);
	store_row_id(row, 0, p->cursor_id);
	if (!goes)
		return 0;
	store_row_ref(row, 4, br);
	store_row_ref(row, 5, br);
	store_row_ref(row, 6, br);
	return 1;
}

/* Which of the listing's filters a run filter sets. */
unsigned
store_list_mask(const struct run_filter *f)
{
	unsigned mask = 0;

	if (f->workflow != NULL)
		mask |= STORE_LIST_WORKFLOW;
	if (f->state >= 0)
		mask |= STORE_LIST_STATE;
	if (f->since != 0)
		mask |= STORE_LIST_SINCE;
	if (f->until != 0)
		mask |= STORE_LIST_UNTIL;
	if (f->error_like != NULL && *f->error_like != '\0')
		mask |= STORE_LIST_ERROR;
	if (f->before_id != NULL && *f->before_id != '\0')
		mask |= STORE_LIST_BEFORE;
	return mask;
}
