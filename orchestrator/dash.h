/*
 * The text dashboard (orchestrator dashboard): a header of throughput,
 * load and latency, a table of workflows with their runs by state and a
 * table of recent runs; a run opens into its step timeline.
 *
 * dash-data.c fetches a snapshot from the database (read-only) or from a
 * server (--url) and computes the header's figures; every read is bounded
 * (an index, a LIMIT, or the store's counters), so a refresh costs the
 * same with a million runs as with ten. dash-draw.c lays a snapshot out as
 * lines of text with a colour per cell, which dash.c paints with ncurses
 * or --once prints as plain text. dash-keys.c turns keys into changes of
 * the view and into retries, cancels and signals.
 */
#ifndef DASH_H
#define DASH_H

#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

#include "orchestrator.h"
#include "store.h"

#define DASH_SPARK_BUCKETS	30	/* bars of the throughput sparkline */
#define DASH_SPARK_MS		20000	/* each covering 20 s: 10 minutes */
#define DASH_RATE_MS		10000	/* runs/s is over the last 10 s */
#define DASH_LATENCY_MS		300000	/* p50/p99 and failures: 5 minutes */
#define DASH_WINDOW_LIMIT	20000	/* finished runs read per refresh */
#define DASH_FAILED_LIMIT	100000	/* failures counted per refresh */
#define DASH_MAX_ROWS		1000	/* runs the table scrolls through */
#define DASH_SEARCH_SCAN	5000	/* newest runs with an error searched */

/* A workflow's runs by state. */
struct dash_wf {
	char		*name;
	int64_t		 n[RUN_STATE_COUNT];
};

/* The header's figures, from the runs finished lately. */
struct dash_stats {
	double		 rate;			/* runs/s, last DASH_RATE_MS */
	int64_t		 spark[DASH_SPARK_BUCKETS];	/* oldest first;
						 * -1: older than the sample */
	int64_t		 p50, p99;		/* ms; -1 when none finished */
	int		 sampled;		/* the window hit its limit */
};

/* One refresh. */
struct dash_data {
	int64_t		 now;
	int64_t		 total[RUN_STATE_COUNT];
	struct dash_wf	*wfs;
	size_t		 nwfs;
	struct dash_stats stats;
	int64_t		 failed5m;	/* -1: unknown (--url) */
	int		 failed5m_capped;
	int64_t		 store_bytes;	/* the store's size; -1: unknown */
	struct run_rec	*runs;		/* the runs table, in the query's order */
	int64_t		*starts;	/* each run's latest start (ms) */
	char		**waits;	/* what each waiting run waits for
					 * (waiting_for), else NULL; NULL
					 * when none is known */
	size_t		 nruns;
	int		 more;		/* more runs match than were read */
	const char	*lacks;		/* what this source cannot show */
};

/* The orders of the runs table: the newest first, the longest first, by
 * state (queued first), by workflow name. */
enum dash_sort {
	DASH_SORT_AGE,
	DASH_SORT_DURATION,
	DASH_SORT_STATE,
	DASH_SORT_WORKFLOW
};
#define DASH_SORT_COUNT	4

/* What the runs table shows. */
struct dash_query {
	int		 state;		/* an enum run_state, or -1 */
	const char	*workflow;	/* or NULL */
	const char	*search;	/* id prefix or error text, or NULL */
	size_t		 want;		/* rows to read, <= DASH_MAX_ROWS */
	enum dash_sort	 sort;		/* other than age: the newest
					 * DASH_MAX_ROWS are read and sorted */
	int		 reverse;
};

/* A run opened: its record, finished steps, transitions and log lines. */
struct dash_detail {
	struct run_rec		 run;
	struct step_rec		*steps;
	size_t			 nsteps;
	struct transition_rec	*trans;
	size_t			 ntrans;
	struct log_rec		*logs;
	size_t			 nlogs;
	char			*waiting;	/* waiting_for, or NULL */
	/* Its map and parallel steps' items, counted: "each: 3 of 5
	 * succeeded, 1 failed, 1 running", or NULL when it has none. */
	char			*items;
};

struct dash_source;

/* Opens the database read-only (url NULL) or a server's API. */
struct dash_source *dash_source_open(const char *db, const char *url,
		    struct orc_error *);
void		 dash_source_close(struct dash_source *);
/* "the database PATH" or the URL, for the title. */
const char	*dash_source_name(const struct dash_source *);

int	dash_fetch(struct dash_source *, const struct dash_query *,
	    int64_t now, struct dash_data *, struct orc_error *);
void	dash_data_clear(struct dash_data *);
int	dash_fetch_detail(struct dash_source *, const char *id,
	    struct dash_detail *, struct orc_error *);
void	dash_detail_clear(struct dash_detail *);

/* Retries a failed or cancelled run, cancels an unfinished one: through
 * the server, or in this process (which then executes the retried run:
 * dash_pump() lets it go on, dash_busy() tells how many are going). */
int	dash_retry(struct dash_source *, const char *id, struct orc_error *);
int	dash_cancel(struct dash_source *, const char *id, struct orc_error *);
void	dash_pump(struct dash_source *);
/* Sends a signal to the run waiting on step (wait.signal): body is that
 * step's output. Through the server, or in this process as r does. */
int	dash_signal(struct dash_source *, const char *id, const char *step,
	    json_t *body, struct orc_error *);
int	dash_busy(const struct dash_source *);

/* The header's figures from finished runs (any order); limit_hit when the
 * read stopped at its limit, so older buckets are unknown. */
void	dash_stats_compute(const struct finish_rec *, size_t,
	    int64_t now, int limit_hit, struct dash_stats *);
/* The pct-th percentile (nearest rank) of n sorted values; -1 if n is 0. */
int64_t	dash_percentile(const int64_t *sorted, size_t n, int pct);
/* When a run last started: its latest "redriven" transition, else its
 * creation. */
int64_t	dash_run_start(const struct run_rec *,
	    const struct transition_rec *, size_t);
/* A run's own running time: from start (dash_run_start) to its end, or to
 * now while it is not finished. */
int64_t	dash_run_duration(const struct run_rec *, int64_t start,
	    int64_t now);
/* Orders runs and their starts (n each) by sort, reversed when reverse. */
void	dash_sort_runs(struct run_rec *, int64_t *starts, size_t n,
	    enum dash_sort, int reverse, int64_t now);
const char *dash_sort_name(enum dash_sort);
/* The workflows whose name is name, or else starts with it: how many
 * match, *first the index of the first (an exact name counts alone). */
size_t	dash_wf_match(const struct dash_wf *, size_t n, const char *name,
	    size_t *first);

/* Cell colours: 0 none, then one per run state, then these. */
#define DASH_C_NONE	0
#define DASH_C_STATE(s)	(1 + (int)(s))
#define DASH_C_TITLE	(1 + RUN_STATE_COUNT)
#define DASH_C_HEAD	(2 + RUN_STATE_COUNT)
#define DASH_C_SELECT	(3 + RUN_STATE_COUNT)
#define DASH_C_ALERT	(4 + RUN_STATE_COUNT)

/* A frame: rows of wide characters, each with its colour. */
struct dash_frame {
	int		  rows, cols;
	wchar_t		**text;		/* rows x cols, padded with spaces */
	unsigned char	**color;
	int		  unicode;	/* blocks and ellipses may be drawn */
};

struct dash_frame *dash_frame_create(int rows, int cols, int unicode);
void	dash_frame_free(struct dash_frame *);
/* Writes UTF-8 (or locale) text at row, col, at most width columns,
 * ending in an ellipsis when cut; returns the columns used. */
int	dash_frame_put(struct dash_frame *, int row, int col, int width,
	    int color, const char *);
/* Prints the frame as plain text, without trailing spaces or blank rows
 * at the bottom. */
void	dash_frame_print(const struct dash_frame *, FILE *);

enum dash_mode {
	DASH_LIST,
	DASH_DETAIL,
	DASH_HELP,
	DASH_PROMPT,
	DASH_CONFIRM
};

/* The view: what is shown, where the cursor is, what is being typed. */
struct dash_view {
	enum dash_mode		 mode;
	enum dash_mode		 back;		/* under a prompt or help */
	struct dash_query	 query;
	char			*workflow;	/* owned copies of the query's */
	char			*search;
	size_t			 cursor;	/* in the runs table */
	size_t			 top;		/* first row shown */
	size_t			 page;		/* runs rows on screen */
	int			 focus_wfs;	/* Tab: on the workflows */
	size_t			 wf_cursor;	/* in the workflows table */
	size_t			 wf_top;
	size_t			 wf_page;	/* workflow rows on screen */
	int			 prompt_kind;	/* '/', 'w', 'r', 'c', 'a' */
	char			 input[256];	/* the prompt's text */
	char			 target[RUN_ID_LEN + 1];	/* of r/c/a */
	char			 target_step[128];	/* of a */
	char			 detail_id[RUN_ID_LEN + 1];
	size_t			 detail_step;	/* selected step */
	int			 detail_io;	/* input/output shown */
	int			 detail_scroll;
	int			 paused;	/* the run is not followed */
	char			 copy[RUN_ID_LEN + 1];	/* for OSC 52 */
	char			 message[1024];	/* the status line */
	int			 message_alert;
	int			 quit;
	int			 color;		/* colour allowed */
};

void	dash_view_init(struct dash_view *);
void	dash_view_free(struct dash_view *);

/* Lays out a frame for the view: the list or the detail (may be NULL). */
void	dash_draw(struct dash_frame *, const struct dash_view *,
	    const struct dash_data *, const struct dash_detail *,
	    const char *source);

/* The rows the runs table shows on a screen of rows rows. */
int	dash_page_rows(int rows, size_t nwfs);
/* The rows the workflows table shows, below its header. */
int	dash_wf_page_rows(int rows, size_t nwfs);

/* Keys: ncurses codes (KEY_UP...) and characters. */
#define DASH_KEY_RESIZE	(-2)
/* Applies a key; returns 1 when the data must be read again. */
int	dash_key(struct dash_view *, int key, const struct dash_data *,
	    const struct dash_detail *, struct dash_source *);

/* The command. */
int	dash_run(struct dash_source *, int interval_ms, int color);
int	dash_once(struct dash_source *, FILE *, int rows, int cols);

#endif
