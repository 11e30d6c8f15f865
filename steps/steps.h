/*
 * The interface between the engine and the built-in steps.
 *
 * A step is one file in steps/ exporting a const struct step_entry, listed
 * in steps/steps.c. The engine runs one attempt of a step as a step_call:
 * it fills step_call_params, creates the call and starts it. The step reads
 * its input and its rendered "with" object, then finishes exactly once with
 * step_call_succeed() or step_call_fail(): either inside start (and returns
 * STEP_DONE) or later from a callback on the event loop (start returned
 * STEP_WAIT). A waiting step may be cancelled (timeout, run cancelled): its
 * cancel function releases what it holds and it must not finish afterwards.
 */
#ifndef STEPS_H
#define STEPS_H

#include <jansson.h>

#include "orchestrator.h"

struct event_base;
struct fetch;
struct pool;
struct step_call;
struct worker_pool;
struct step_checker;

enum step_status { STEP_DONE, STEP_WAIT };

/* What a step that suspends its run (step_call_suspend) ends with when
 * its due time comes: success with its input as output (a timer), or a
 * failure saying it timed out (waiting for a signal). */
enum step_due { STEP_DUE_NONE, STEP_DUE_SUCCEEDS, STEP_DUE_FAILS };

/* A step whose work is runs of its own, which the engine makes
 * (engine-fan.c): a map's items, a parallel step's branches. */
enum step_fan { STEP_FAN_NONE, STEP_FAN_ITEMS, STEP_FAN_BRANCHES,
	STEP_FAN_WORKFLOW };

struct step_entry {
	const char	 *name;		/* the "uses" value */
	const char	 *summary;	/* one line for --help */
	/* Keys allowed in "with", NULL-terminated; NULL allows none,
	 * step_keys_any allows every key. */
	const char *const *keys;
	/* Optional load-time check of "with" as written (it may hold
	 * templates, which are checked elsewhere: skip such strings). */
	void		(*check)(const json_t *with, struct step_checker *);
	enum step_status (*start)(struct step_call *);
	/* Required when start can return STEP_WAIT. */
	void		(*cancel)(struct step_call *);
	/* Set for a step whose output is a function of its input and
	 * "with" alone, computed at once, touching nothing outside the run:
	 * the engine runs it without waiting for the commit before it (a
	 * crash makes it run again, to the same output). */
	int		 pure;
	/* For a step that may suspend its run. */
	enum step_due	 due;
	/* For a step the engine fans out: its steps are in the step object
	 * ("steps" of a map, "branches" of a parallel step). */
	enum step_fan	 fan;
};

/* For step_entry.keys: "with" may hold any key. */
extern const char *const step_keys_any[];

/* The registry: NULL when no step has that name. */
const struct step_entry	*steps_find(const char *);
/* All entries, NULL-terminated, in the order of steps/steps.c. */
const struct step_entry *const *steps_all(void);

/*
 * What the engine gives one attempt, each field once: a line makes the
 * member of step_call_params (borrowed), the call's own copy and the
 * accessor step_call_NAME() for the step. JSON: a value, referenced by
 * the call; STR: a string, copied; VAL: a type kept as given; TEXT: a
 * short string kept inline (copied for every attempt), NULL when empty.
 */
#define STEP_CALL_FIELDS(JSON, STR, VAL, TEXT)				\
	JSON(step)		/* the step object as written */	\
	JSON(with)		/* rendered; NULL means {} */		\
	JSON(input)		/* NULL means null */			\
	STR(run_id)							\
	STR(workflow)		/* its name */				\
	STR(workflow_dir)	/* folder of the file */		\
	STR(step_name)							\
	VAL(int, attempt)	/* 1-based */				\
	STR(idempotency_key)	/* stable per step */			\
	VAL(struct event_base *, base)	/* may be NULL for pure steps */ \
	STR(buckets_dir)	/* root of local buckets */		\
	JSON(input_schema)	/* the workflow's, or NULL */		\
	JSON(allow)		/* the workflow's, or NULL */		\
	/* the workflow's "secrets": environment variables it may read */ \
	JSON(secrets)							\
	VAL(struct fetch *, fetch)	/* HTTP on the loop, or NULL */	\
	/* file I/O threads (pool.h); NULL: do it inline */		\
	VAL(struct pool *, pool)					\
	JSON(trigger)		/* the run's input, or NULL */		\
	JSON(steps)		/* earlier outputs, {"NAME": output} */	\
	VAL(int64_t, timeout_ms)	/* the step's; 0: unknown */	\
	/* user code's processes (worker.h); NULL: run it in process */ \
	VAL(struct worker_pool *, workers)				\
	/* the attempt's span as a traceparent value for the requests it \
	 * makes, or NULL when the engine does not trace */		\
	TEXT(traceparent, TRACE_PARENT_LEN + 1)

/* What the engine gives one attempt. All borrowed; the call keeps copies. */
#define STEP_PARAM_JSON(name)		const json_t *name;
#define STEP_PARAM_STR(name)		const char *name;
#define STEP_PARAM_VAL(type, name)	type name;
#define STEP_PARAM_TEXT(name, size)	const char *name;
struct step_call_params {
	const struct step_entry	*entry;
	STEP_CALL_FIELDS(STEP_PARAM_JSON, STEP_PARAM_STR, STEP_PARAM_VAL,
	    STEP_PARAM_TEXT)
};

typedef void (*step_done_cb)(struct step_call *, void *);

struct step_call *step_call_create(const struct step_call_params *,
		    step_done_cb, void *);
/* Starts the step. STEP_DONE: finished already, done_cb is not called.
 * STEP_WAIT: done_cb is called once, later, from the loop. */
enum step_status step_call_start(struct step_call *);
/* Stops a waiting step; done_cb will not be called. */
void		 step_call_cancel(struct step_call *);
void		 step_call_free(struct step_call *);

/* For the step: what it works on (STEP_CALL_FIELDS), borrowed for the
 * life of the call; step_call_with and step_call_input are never NULL. */
#define STEP_GET_JSON(name)	const json_t *step_call_##name(	\
				    const struct step_call *);
#define STEP_GET_STR(name)	const char *step_call_##name(		\
				    const struct step_call *);
#define STEP_GET_VAL(type, name) type step_call_##name(		\
				    const struct step_call *);
#define STEP_GET_TEXT(name, size) STEP_GET_STR(name)
STEP_CALL_FIELDS(STEP_GET_JSON, STEP_GET_STR, STEP_GET_VAL, STEP_GET_TEXT)

/* Keeps the step's own pointer (its timer, its request); not freed. */
void		 step_call_set_data(struct step_call *, void *);
void		*step_call_data(const struct step_call *);

/*
 * For the step: a line of the run's log, kept with the run whatever the
 * daemon's log level (which it is written to as well). level is an enum
 * log_level (log.h). The values of the workflow's secrets are masked as
 * "[secret]"; a call keeps lines within a struct step_log_bound.
 */
void	step_call_log(struct step_call *, int level, const char *, ...)
	    ORC_PRINTF(3, 4);
void	step_call_log_text(struct step_call *, int level, const char *,
	    size_t);

/* For the step: how it finishes. succeed takes ownership of output. */
void	step_call_succeed(struct step_call *, json_t *);
void	step_call_fail(struct step_call *, int retryable, const char *, ...)
	    ORC_PRINTF(3, 4);
/* Finishes by suspending the run until due_at (ms since the epoch): a
 * signal to its step, or the due time (step_entry.due), ends the wait. */
void	step_call_suspend(struct step_call *, int64_t due_at);
/* Chooses the next step by name (branching); call before succeed. */
void	step_call_set_next(struct step_call *, const char *);
/* Asks the engine to wait at least ms before the next attempt (a server's
 * Retry-After); call before fail. */
void	step_call_retry_after(struct step_call *, int64_t ms);

/* For the engine: the result once finished. */
int		 step_call_finished(const struct step_call *);
int		 step_call_ok(const struct step_call *);
json_t		*step_call_take_output(struct step_call *);	/* new ref */
const char	*step_call_error(const struct step_call *);
int		 step_call_retryable(const struct step_call *);
const char	*step_call_next(const struct step_call *);	/* or NULL */
/* The due time of a suspended call, or 0 when it did not suspend. */
int64_t		 step_call_suspended(const struct step_call *);
/* The least backoff the step asked for before a retry; 0 when none. */
int64_t		 step_call_retry_after_ms(const struct step_call *);
/*
 * How many log lines are kept: STEP_LOG_LINES lines and STEP_LOG_BYTES
 * bytes, then one more line of at most STEP_LOG_LAST bytes (a step that
 * bounds its own lines, as lua does, says there what it dropped), then
 * none; the lines not kept are counted. An attempt keeps that much, and
 * so does a run.
 */
#define STEP_LOG_LINES	1000
#define STEP_LOG_BYTES	(256 * 1024)
#define STEP_LOG_LAST	1024
struct step_log_bound {
	size_t		 lines;
	size_t		 bytes;
	size_t		 dropped;
	int		 full;		/* the last line went in */
};
/* Counts a line of len bytes: 0 when it is dropped, else 1 and *keep,
 * the bytes of it to keep (cut it with step_log_cut). */
int		 step_log_admit(struct step_log_bound *, size_t len,
		    size_t *keep);
/* Cuts a line to at most max bytes on a character's start and makes it
 * valid UTF-8: the bytes of a broken sequence become '?'. */
void		 step_log_cut(char *, size_t max);

/* The lines logged so far (lent until the call is freed), with the
 * number dropped. */
struct step_log {
	int64_t		 at;		/* ms since the epoch */
	int		 level;
	char		*text;		/* UTF-8, no NUL */
};
const struct step_log *step_call_logs(const struct step_call *, size_t *n,
		    size_t *dropped);

/* For check functions: whether a value as written is a template (a
 * string with a {{ }} expression), which is checked elsewhere. */
int	step_value_is_template(const json_t *);
/* For check functions: report a problem at a path relative to the step
 * ("with.ms"); the workflow loader turns it into FILE:LINE:COLUMN. */
void	step_check_error(struct step_checker *, const char *path,
	    const char *, ...) ORC_PRINTF(3, 4);
/* For check functions of steps that branch: the string at path (relative
 * to the step) names a step the run may go to next. The loader reports a
 * name that is no step of the workflow and follows the branch when it
 * looks for loops with no way out. */
void	step_check_target(struct step_checker *, const char *path,
	    const char *name);

/* The entries, one per file. */
extern const struct step_entry step_json_decode_entry;
extern const struct step_entry step_json_encode_entry;
extern const struct step_entry step_base64_decode_entry;
extern const struct step_entry step_base64_encode_entry;
extern const struct step_entry step_bucket_put_entry;
extern const struct step_entry step_bucket_get_entry;
/* Reads a count of ms for wait and wait.signal; -1 when it is none. */
int	step_wait_read_ms(const json_t *, int64_t *);
/* A waiting step's own "timeout_ms", or 0 when it sets none. */
int64_t	step_wait_own_timeout(struct step_call *);
extern const struct step_entry step_wait_entry;
extern const struct step_entry step_wait_signal_entry;
extern const struct step_entry step_transform_entry;
extern const struct step_entry step_lua_entry;
extern const struct step_entry step_http_request_entry;
extern const struct step_entry step_choice_entry;

/* A map's options (steps/map.c). */
struct step_map_opts {
	int64_t		 max_concurrency;
	int64_t		 tolerated;	/* items that may fail for good */
	double		 tolerated_pct;	/* or a percentage; -1: none */
	int64_t		 max_items;
};
#define STEP_MAP_CONCURRENCY	10
#define STEP_MAP_MAX_ITEMS	100000
#define STEP_MAP_ITEMS_LIMIT	10000000	/* for max_items itself */
int	step_map_read(const json_t *with, struct step_map_opts *,
	    int skip_templates, char **why);
size_t	step_map_tolerated(const struct step_map_opts *, size_t n);
extern const struct step_entry step_map_entry;
extern const struct step_entry step_parallel_entry;
extern const struct step_entry step_workflow_entry;
/* Child workflows nested deeper than this fail their step. */
#define STEP_WORKFLOW_DEPTH	16

#endif
