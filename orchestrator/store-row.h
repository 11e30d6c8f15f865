/*
 * What the two store backends share below their function table: reading
 * a result row into the records of store.h, handing the rows of a
 * listing to its callback, and writing a JSON value as a column's text.
 * A backend gives the ways to read a column of its current row (struct
 * store_row_ops) and keeps its SQL, its binding and its stepping; both
 * backends select the same columns in the same order (RUN_COLS and the
 * listings' SELECTs), so one mapping serves both.
 */
#ifndef STORE_ROW_H
#define STORE_ROW_H

#include "store.h"

struct store_row;

/* How a backend reads a column of the current row. */
struct store_row_ops {
	/* The column's text, lent until the next row; NULL for SQL NULL.
	 * *len, when not NULL, gets its length in bytes. */
	const char	*(*text)(const struct store_row *, int col,
			    size_t *len);
	/* The column as an integer; 0 for SQL NULL. */
	int64_t		 (*integer)(const struct store_row *, int col);
	/* The column's name, for messages; the row's column count. */
	const char	*(*name)(const struct store_row *, int col);
	int		 (*columns)(const struct store_row *);
	/* The text of a packed column (store-pack.h), new, its length in
	 * *len; NULL with err. NULL for a backend that packs nothing. */
	char		*(*unpack)(const struct store_row *, const char *v,
			    size_t vlen, size_t *len, struct orc_error *);
};

/* The current row of a backend's result. */
struct store_row {
	const struct store_row_ops	*ops;
	void				*res;	/* the backend's result */
	int				 i;	/* the row in res */
	const char			*db;	/* as messages name it */
	const char			*blobs;	/* blob directory, or NULL */
	void				*backend; /* for unpack */
};

/* The kinds of record a listing hands on, one per callback type. */
enum store_feed_kind {
	STORE_FEED_RUN,		/* RUN_COLS */
	STORE_FEED_STEP,	/* the listing of steps */
	STORE_FEED_TRANSITION,	/* the listing of transitions */
	STORE_FEED_LOG,		/* the listing of log lines */
	STORE_FEED_STATES,	/* (state, n) into arg, an int64_t array */
	STORE_FEED_COUNT,	/* (workflow, state, n) */
	STORE_FEED_FINISH,	/* (finished_at, state, duration_ms) */
	STORE_FEED_SCHEDULE,	/* the listing of schedules */
	STORE_FEED_CHILD,	/* (item, id, state, output, error) */
	STORE_FEED_RUN_ONE,	/* RUN_COLS into a struct store_one */
	STORE_FEED_DEF_ONE,	/* a definition into a struct store_one */
	STORE_FEED_ID_ONE,	/* an id into a struct store_one */
	STORE_FEED_TEXT_ONE,	/* a new string into a store_one's char * */
	STORE_FEED_INT_ONE,	/* an integer into a store_one's int64_t */
	STORE_FEED_RKEY_ONE,	/* (run_id, body_sha) into a request_key */
	STORE_FEED_IDS		/* (id) into a struct store_ids */
};

/* What a feed of one row fills: the caller's record, and whether a row
 * came; a row whose first column is NULL (an aggregate of no rows) is
 * none. Its record is the caller's, to clear. */
struct store_one {
	void	*rec;
	int	 found;
};

/* What a feed of ids collects: new strings, for store_free_ids. */
struct store_ids {
	char	**v;
	size_t	  n;
	size_t	  cap;
};

/* A listing's callback, of the kind its rows are, and its argument. */
struct store_feed {
	enum store_feed_kind	 kind;
	union {
		store_run_cb		 run;
		store_step_cb		 step;
		store_transition_cb	 transition;
		store_log_cb		 log;
		store_count_cb		 count;
		store_finish_cb		 finish;
		store_schedule_cb	 schedule;
		store_child_cb		 child;
	}			 cb;
	void			*arg;
};

/*
 * How transitions store their states and events: small integers in place
 * of the names (a third of a transition's bytes). The codes are on disk:
 * never change or reuse one, append. An event without a code (one a
 * newer engine adds) is stored by its name; names never begin with a
 * digit, so a reader tells the two apart.
 */
#define STORE_STATE_CODES(X)						\
	X(0, "queued") X(1, "running") X(2, "retrying")			\
	X(3, "succeeded") X(4, "failed") X(5, "cancelled")		\
	X(6, "waiting")
#define STORE_EVENT_CODES(X)						\
	X(1, "created") X(2, "started") X(3, "step_succeeded")		\
	X(4, "succeeded") X(5, "step_failed") X(6, "failed")		\
	X(7, "retried") X(8, "waiting") X(9, "cancelled")		\
	X(10, "run_timed_out") X(11, "step_timed_out")			\
	X(12, "output_invalid") X(13, "on_failure_succeeded")		\
	X(14, "on_failure_failed") X(15, "redriven") X(16, "debounced")	\
	X(17, "resumed") X(18, "stopped")
/* The same mapping in SQL, for migrations: CASE col WHEN 'queued' THEN
 * 0 ... END; events keep an unknown name. PostgreSQL's text column takes
 * the codes as text ('3'). */
#define STORE_WHEN_INT(code, name)	" WHEN '" name "' THEN " #code
#define STORE_WHEN_TEXT(code, name)	" WHEN '" name "' THEN '" #code "'"
#define STORE_STATE_CODE_SQL(col)					\
	"CASE " col STORE_STATE_CODES(STORE_WHEN_INT) " END"
#define STORE_EVENT_CODE_SQL(col, when)					\
	"CASE " col STORE_EVENT_CODES(when) " ELSE " col " END"

/* Runs by state, in SQL: final states (counted by triggers), live ones
 * (counted by rows), and what a run needs to count as unfinished. */
#define STORE_RUN_FINAL	"state IN ('succeeded', 'failed', 'cancelled')"
#define STORE_RUN_LIVE							\
	"state IN ('queued', 'running', 'retrying', 'waiting')"
#define STORE_RUN_UNFINISHED						\
	"(state IN ('queued', 'running', 'retrying', 'waiting') OR "	\
	"(state = 'failed' AND dead = 1))"
_Static_assert(DEAD_PENDING == 1, "STORE_RUN_UNFINISHED spells DEAD_PENDING");

/*
 * A run's output stored once: when it is the output of the step written
 * in the same change (a run that succeeds ends with its last step's), the
 * run's column holds "=SEQ" (no JSON text begins with '='), and reads
 * take the step's. STORE_RUN_OUTPUT_SQL reads the column of runs.
 */
#define STORE_RUN_OUTPUT_EXPR						\
	"CASE WHEN substr(output, 1, 1) = '=' THEN (SELECT s.output "	\
	"FROM steps s WHERE s.run_id = runs.id AND s.seq = "		\
	"CAST(substr(runs.output, 2) AS INTEGER)) ELSE output END"
#define STORE_RUN_OUTPUT_SQL	STORE_RUN_OUTPUT_EXPR " AS output"
#define STORE_OUTPUT_REF_LEN	16
/* The text run r's output column takes when the change writes step s
 * too, in buf; NULL when the output is to be stored itself. */
const char *store_output_ref(const struct run_rec *r,
	    const struct step_rec *s, char buf[STORE_OUTPUT_REF_LEN]);

/* A state's code; -1 for a negative state. */
int	 store_state_code(int state);
/* An event's code, or -1 when it has none (stored by name). */
int	 store_event_code(const char *event);

char	*store_row_text(const struct store_row *, int col);
int64_t	 store_row_int(const struct store_row *, int col);
void	 store_row_id(const struct store_row *, int col,
	    char [RUN_ID_LEN + 1]);
/* A state column, by name or code: its enum run_state, -1 for NULL, -2
 * when unknown. */
int	 store_row_state(const struct store_row *, int col);
/* An event column, by name or code, as a new string (NULL for NULL). */
char	*store_row_event(const struct store_row *, int col);
int	 store_row_json(const struct store_row *, int col, const char *what,
	    json_t **, struct orc_error *);
/* A JSON value (not NULL) as a column's new text, large ones in a blob
 * file of the folder blobs (blob.c) when not NULL; NULL with err. */
char	*store_row_encode(const json_t *, const char *blobs, size_t blob_min,
	    const char *db, struct orc_error *);
int	 store_row_run(const struct store_row *, struct run_rec *,
	    struct orc_error *);
void	 store_row_def(const struct store_row *, struct def_rec *);
/* Maps the row to a record of the feed's kind and hands it to the feed's
 * callback: 1 when the callback says stop, -1 with err, else 0. */
int	 store_row_feed(const struct store_row *, const struct store_feed *,
	    struct orc_error *);

struct blob_refs;
/* Adds the blob reference a column holds, if any. */
void	 store_row_ref(const struct store_row *, int col, struct blob_refs *);
/* A row of a purge's scan (id, workflow, state, cursor, three payload
 * columns, whether it goes), nv runs being taken: see store-row.c. */
int	 store_row_purge(const struct store_row *, struct store_purge *,
	    size_t nv, struct blob_refs *);

/* Which of the listing's filters (STORE_LIST_*) a run filter sets; bit i
 * is the term of parameter i + 1, STORE_LIST_LIMIT the seventh's. */
#define STORE_LIST_WORKFLOW	0x01
#define STORE_LIST_STATE	0x02
#define STORE_LIST_SINCE	0x04
#define STORE_LIST_UNTIL	0x08
#define STORE_LIST_ERROR	0x10
#define STORE_LIST_BEFORE	0x20
#define STORE_LIST_VARIANTS	0x40
unsigned store_list_mask(const struct run_filter *);

#endif
