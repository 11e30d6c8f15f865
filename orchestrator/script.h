/*
 * Lua steps (SPEC section 4): a script file returns a function (input,
 * ctx); its first result is the step's output, its second, when given,
 * the name of the step to run next. Scripts run in embedded Lua 5.4 in a
 * sandbox, each run in a coroutine of a lua_State taken from a pool kept
 * per thread (per event loop), so a state and the compiled scripts it
 * caches are reused across runs; each run gets a fresh global table, so
 * nothing one run sets is seen by the next. ctx.fetch yields the
 * coroutine while the request is in flight on the loop.
 *
 * Values cross between JSON and Lua like this:
 * - JSON null is nil as the step's whole input, else ctx.json.null (a
 *   unique value; nil inside a table would be a hole).
 * - Integers stay integers and reals stay reals, both ways.
 * - A JSON array becomes a table with keys 1..n; a JSON object a table
 *   with string keys.
 * - A Lua table with only the keys 1..n becomes an array, one with only
 *   string keys an object (its keys sorted, so output is stable). An
 *   empty table becomes {}, unless it came from a JSON array or was made
 *   by ctx.json.array() (or passed through ctx.json.array(t)): then [].
 * - NaN, infinities, cycles, mixed or non-string keys, holes, strings
 *   that are not UTF-8, functions and userdata are errors naming the
 *   path at fault ("output.items[2].price: NaN is not valid JSON").
 */
#ifndef SCRIPT_H
#define SCRIPT_H

#include <stdint.h>

#include "orchestrator.h"
#include "steps.h"

/* Limits when the step says nothing. */
#define SCRIPT_MEMORY_MB	64
#define SCRIPT_INSTRUCTIONS	100000000LL
#define SCRIPT_TIMEOUT_MS	30000

/* Runs a script's main chunk in a sandboxed state of this process, with
 * limits, and checks that it returns a function: 0, or -1 with err. For
 * validate; the function itself is not called. */
int		 script_check_chunk(const char *dir, const char *script,
		    struct orc_error *);

/* The lua step's start and cancel (steps/lua.c): on a worker process
 * when the call has a worker pool (worker.h), else on the calling thread. */
enum step_status script_step_start(struct step_call *);
void		 script_step_cancel(struct step_call *);

struct fetch_request;
struct fetch_response;
struct script_exec;

/* Which version of a file a compiled chunk came from. */
struct script_ident {
	int64_t		dev;
	int64_t		ino;
	int64_t		size;
	int64_t		mtime_ns;
};

/*
 * One run of a script, as the host describes it. Everything is borrowed
 * until the host's done function is called or the run is cancelled.
 */
struct script_job {
	const char	*dir;		/* the workflow's folder */
	const char	*script;	/* as the step writes it */
	const char	*workflow;
	const char	*run_id;
	const char	*step;
	int		 attempt;
	const json_t	*input;		/* NULL: null */
	int64_t		 timeout_ms;
	int64_t		 instructions;
	size_t		 memory_mb;
	/* Run the main chunk only and check that it returns a function (the
	 * output is then null): what validate does. */
	int		 check_only;
	/* The attempt's traceparent for its fetches (the daemon adds it on
	 * a worker's behalf), or NULL. */
	const char	*traceparent;
};

/*
 * What a run needs from whoever hosts it: the daemon's loop (in-process
 * calls) or a worker process talking to the daemon. arg is the host's.
 */
struct script_host {
	/* Starts a request; its end comes through script_fetch_done(),
	 * never from inside this call. -1 with err: not started (err's
	 * code ORC_EPERM raises the script's error, others return nil). */
	int	(*fetch)(void *arg, struct script_exec *,
		    const struct fetch_request *, struct orc_error *);
	/* Drops the request in flight, if any. */
	void	(*fetch_cancel)(void *arg);
	/* One ctx.log line (bounded by the caller). level 0..3. */
	void	(*log)(void *arg, int level, const char *, size_t);
	/* The value of a secret: 0 (value NULL when unset), -1 when the
	 * workflow does not list it. */
	int	(*secret)(void *arg, const char *name, const char **value);
	/* The text of dir/name when it differs from have: 1 with *text
	 * (malloc'd), *len and *got; 0 when have is current; -1 with
	 * err. have may be NULL (nothing cached). */
	int	(*source)(void *arg, const char *name,
		    const struct script_ident *have, char **text, size_t *len,
		    struct script_ident *got, struct orc_error *err);
	/* ctx.trigger (which 0) or ctx.steps (1), asked for the first time
	 * a run reads it; borrowed for the run, NULL for none. */
	const json_t *(*ctx_value)(void *arg, int which);
	/* The end: ok with output (owned) and next (or NULL), or not ok
	 * with the message. Called once, last. */
	void	(*done)(void *arg, int ok, json_t *output, const char *next,
		    int retryable, const char *message);
};

/* Starts a run; it ends through host->done, maybe before this returns.
 * The handle is valid until then. */
struct script_exec *script_run(const struct script_job *,
		    const struct script_host *, void *arg);
/* Hands a run the answer to its fetch and resumes it. */
void		 script_fetch_done(struct script_exec *,
		    const struct fetch_response *);
/* Drops a run that has not ended; done is not called. */
void		 script_cancel(struct script_exec *);
/* The in-process host's source: reads dir/name when it differs from have
 * (by stat), as script_host.source. */
int		 script_read_source(const char *dir, const char *name,
		    const struct script_ident *have, char **text, size_t *len,
		    struct script_ident *got, struct orc_error *);
/* The identity of dir/name now (stat); -1 with err. */
int		 script_stat_source(const char *dir, const char *name,
		    struct script_ident *, struct orc_error *);
/* The most ctx.log lines and bytes one run keeps. */
#define SCRIPT_LOG_LINES	1000
#define SCRIPT_LOG_BYTES	(256 * 1024)

/*
 * Compiles the file at path as the loader does before running it; name is
 * how messages call it (the path as the workflow writes it). 0, or -1 with
 * err "cannot read ..." or "NAME:LINE: message" from Lua.
 */
int		 script_check(const char *path, const char *name,
		    struct orc_error *);

/* Closes the idle Lua states of the calling thread (at shutdown). */
void		 script_shutdown(void);

/* Counters of the calling thread, for tests and benchmarks. */
struct script_stats {
	uint64_t	states_created;
	uint64_t	compiles;	/* scripts and modules compiled */
	uint64_t	runs;
	uint64_t	idle;		/* states in the pool now */
};
void		 script_get_stats(struct script_stats *);

#endif
