/*
 * The engine: moves runs through their states on the event loop.
 *
 * Runs in memory are the ones this process executes; the store holds all
 * of them. Every transition is submitted to the store as one change, and
 * whatever depends on it (the next step, the caller's answer, on_failure)
 * happens in that change's commit callback. A process owns the runs it
 * executes through leases, so that another process (a restart, `resume`)
 * takes over only runs whose owner is gone.
 */
#ifndef ENGINE_H
#define ENGINE_H

#include <jansson.h>

#include "orchestrator.h"
#include "store.h"

struct event_base;
struct engine;
struct orc_config;
struct worker_pool;
struct workflow;

struct engine_config {
	const char	*buckets_dir;	/* root of local buckets */
	int64_t		 lease_ms;	/* 0: conf's */
	/* The environment's settings (conf.h); NULL: the defaults. */
	const struct orc_config *conf;
	/* Runs of one workflow waiting for a concurrency slot, at most;
	 * past it engine_submit refuses with ORC_EFULL. 0: 10000. */
	size_t		 max_queue;
	/* Runs in memory (all workflows), at most. 0: 100000. */
	size_t		 max_active;
	/* Worker processes for user code (worker.h); 0: run it in this
	 * process, on the loop (unsafe: a stuck script stops everything). */
	int		 workers;
	const char	*worker_exe;	/* NULL: this program */
	int		 loop_lag;	/* probe the loop's lag (loop.h) */
	/* Replay without side effects: steps that reach outside (http.request,
	 * S3 buckets) answer with these recorded outputs by step name, or
	 * fail saying none was recorded; ctx.fetch is refused. NULL: live. */
	const json_t	*replay;
	/* OTLP/HTTP collector to export spans to (trace.h), or NULL. */
	const char	*otlp_endpoint;
	/* Waiting runs stay in memory however long they wait (a replay's
	 * store is in memory); else one that waits long leaves it. */
	int		 keep_waiting;
	/* Where a workflow step finds the workflows it starts, until
	 * engine_set_workflows says; NULL: conf's. */
	const char	*workflows_dir;
};

/* What a caller learns about a run: on acceptance and when it is final. */
struct engine_result {
	const char	*run_id;
	const char	*workflow;
	enum run_state	 state;
	const json_t	*output;	/* when succeeded */
	const char	*error;		/* when failed or cancelled */
	const char	*step;		/* the step it is at, or NULL */
	int64_t		 due_at;	/* when waiting: till when, at most */
};

typedef void (*engine_run_cb)(const struct engine_result *, void *);

/* Callbacks for one run; any may be NULL. */
struct engine_watch {
	engine_run_cb	 accepted;	/* the run is committed */
	engine_run_cb	 finished;	/* final, dead letter handled */
	void		*arg;
};

struct engine	*engine_create(struct event_base *, struct store *,
		    const struct engine_config *);
/* Frees the engine; runs still in memory stay in the store as they are,
 * to be resumed later. */
void		 engine_free(struct engine *);
const char	*engine_owner(const struct engine *);
/* The lease on runs, in ms (engine_config, or its conf's ORCH_LEASE_MS). */
int64_t		 engine_lease_ms(const struct engine *);
/* The engine's worker processes, or NULL when it runs user code itself. */
struct worker_pool *engine_workers(const struct engine *);
/* The span exporter, or NULL when the engine does not trace. */
struct trace	*engine_trace(const struct engine *);
/* The loop's lag probe, or NULL when the config asked for none. */
struct loop_lag	*engine_loop_lag(const struct engine *);
/* Runs in memory that are not final yet. */
size_t		 engine_active(const struct engine *);

/* How long an idempotency key is honoured; retention.c forgets older. */
#define ENGINE_KEY_TTL_MS	(24LL * 3600 * 1000)

/* Which run took a trigger (engine_submit_keyed's *found). */
enum engine_found {
	ENGINE_FOUND_NONE,	/* a new run */
	ENGINE_FOUND_KEY,	/* the run its Idempotency-Key made */
	ENGINE_FOUND_WINDOW	/* the run in its debounce window */
};

/* Like engine_submit, with the caller's Idempotency-Key (may be NULL): a
 * run of the same workflow created with the same key in the last 24 h is
 * returned in id instead, *found is ENGINE_FOUND_KEY and nothing is
 * created (the watch is not called). A trigger inside a debounce window
 * replaces the input of the run waiting there: its id, ENGINE_FOUND_WINDOW.
 * ORC_EFULL when the workflow's queue is full or its rate limit rejects. */
int	engine_submit_keyed(struct engine *, struct workflow *,
	    const json_t *input, const json_t *trigger, const char *key,
	    const struct engine_watch *, char id[RUN_ID_LEN + 1],
	    enum engine_found *found, struct orc_error *);

/* Looks up the run a workflow's Idempotency-Key made in the last 24 h:
 * in memory (cb is called before this returns), else in the store, read
 * off the loop (cb is called later, from the loop). id is NULL when there
 * is none; then engine_submit_checked skips the store's look-up. */
typedef void (*engine_key_cb)(const char *id, void *arg);
void	engine_key_lookup(struct engine *, const char *workflow,
	    const char *key, engine_key_cb, void *arg);
/* engine_submit_keyed after engine_key_lookup found no run in the store
 * (memory is looked at again: a run may have taken the key meanwhile). */
int	engine_submit_checked(struct engine *, struct workflow *,
	    const json_t *input, const json_t *trigger, const char *key,
	    const struct engine_watch *, char id[RUN_ID_LEN + 1],
	    enum engine_found *found, struct orc_error *);

/* Starts a run of wf with input. trigger describes where it came from
 * (may be NULL). Both are referenced, not copied: the caller may drop its
 * references but must not change them afterwards. Refuses an input that
 * does not match the workflow's input schema (ORC_EINVAL, nothing
 * written). */
int	engine_submit(struct engine *, struct workflow *, const json_t *input,
	    const json_t *trigger, const struct engine_watch *,
	    char id[RUN_ID_LEN + 1], struct orc_error *);

/* Takes over, every half lease from now on, each unfinished run whose
 * owner is gone (serve: other nodes on a shared database may die), the
 * claim done off the loop by the store's commit thread; executes them once
 * claimed. Stops when the engine is paused. Also takes back the runs
 * that wait in the store alone when they are due (another command only
 * finishes its own runs). */
void	engine_claim_start(struct engine *);
/* Takes over unfinished runs whose owner is gone (ids NULL: all of them;
 * workflow narrows) and executes them. *count gets how many. */
int	engine_resume(struct engine *, const char *const *ids,
	    const char *workflow, const struct engine_watch *, int *count,
	    struct orc_error *);

struct engine_redrive {
	const char	*from_step;	/* NULL: the failed step */
	const json_t	*input;		/* NULL: the stored input */
	struct workflow	*latest;	/* NULL: the pinned definition */
};

/* The workflows a workflow step may start, by name (references taken;
 * the last call wins). Until it is called, the workflows folder of the
 * engine's configuration is read when a workflow step first needs it. */
void	engine_set_workflows(struct engine *, struct workflow **, size_t);

/* Retries a failed or cancelled run and executes it. */
int	engine_redrive(struct engine *, const char *run_id,
	    const struct engine_redrive *, const struct engine_watch *,
	    struct orc_error *);

/* Cancels a run: in memory, or in the store when nobody executes it (0);
 * when another live process executes it, records a request that process
 * takes within a second and returns 1 (err says who holds the run). -1
 * with err when it cannot (final already, unknown). */
int	engine_cancel(struct engine *, const char *run_id, struct orc_error *);

/* Delivers a signal to the run waiting on step (wait.signal): body (new
 * reference taken) is the step's output. A run that waits in the store
 * is taken up by this process, and watch (may be NULL) follows it as a
 * submitted run's; a run in memory calls watch's accepted once the signal
 * is committed. -1 with err: ORC_ENOTFOUND for an unknown run,
 * ORC_ESTATE when it does not wait on that step (the message says what it
 * does), ORC_EBUSY when another live process holds it. */
int	engine_signal(struct engine *, const char *run_id, const char *step,
	    json_t *body, const struct engine_watch *, struct orc_error *);

/* What a callback (POST /callbacks/TOKEN[/fail|/heartbeat]) says. */
enum engine_callback_kind {
	ENGINE_CALLBACK_SUCCEED,	/* body is the step's output */
	ENGINE_CALLBACK_FAIL,		/* the step failed: error */
	ENGINE_CALLBACK_HEARTBEAT	/* the wait goes on, timeout_ms more */
};

struct engine_callback {
	enum engine_callback_kind kind;
	json_t		*body;		/* SUCCEED's output (referenced) */
	const char	*error;		/* FAIL's message */
	int		 retryable;	/* FAIL's */
};

/* The base of callback URLs, "http://HOST:PORT" (a trailing / is
 * dropped); until set, ORCH_PUBLIC_URL, else conf's listen address. */
void	engine_set_public_url(struct engine *, const char *);

/* Delivers a callback by its token; id gets the token's run (when it is a
 * token of ours). -1 with err: ORC_ENOTFOUND for a token this server did
 * not make (nothing was read), ORC_ESTATE when the run waits for that
 * callback no more (used, timed out, another attempt), ORC_EBUSY when the
 * step's own work is still running or another live process holds the
 * run (try again). */
int	engine_callback(struct engine *, const char *token,
	    const struct engine_callback *, char id[RUN_ID_LEN + 1],
	    struct orc_error *);


/* One committed transition, as observers see it. event is the
 * transition's name ("created", "step_succeeded", ...), or "finished"
 * once the run is final and its dead letter handled. All borrowed for the
 * duration of the call. */
struct engine_event {
	const char	*run_id;
	const char	*workflow;
	const char	*event;
	enum run_state	 state;
	const char	*step;		/* or NULL */
	int		 seq;
	int		 attempt;
	const char	*error;		/* or NULL */
	const json_t	*output;	/* the run's, when succeeded */
	int64_t		 at;		/* ms since the epoch */
	int64_t		 duration_ms;	/* of the step attempt, or 0 */
	/* "item_finished" (not a transition: an item of the run's map or
	 * parallel step, or its child workflow, ended): {"step", "item",
	 * "state", "total", "succeeded", "failed", "running"}; else NULL. */
	const json_t	*progress;
};

typedef void (*engine_observer_fn)(const struct engine_event *, void *);

/* One observer (the HTTP server: long polls, event streams, metrics). */
void	engine_set_observer(struct engine *, engine_observer_fn, void *);

/* Paused, the engine starts no step (in flight ones finish, their next
 * steps wait): for a drain before exit. Runs stay in the store to be
 * resumed. */
void	engine_pause(struct engine *);
/* Step attempts in flight. */
size_t	engine_calls(const struct engine *);

#define ENGINE_HIST_BUCKETS 12
/* Upper bounds (ms) of the step duration histogram's buckets. */
extern const int64_t engine_hist_bounds[ENGINE_HIST_BUCKETS];

struct engine_stats {
	size_t		 active;	/* runs in memory, not final */
	size_t		 waiting;	/* queued behind a concurrency limit */
	size_t		 calls;		/* step attempts in flight */
	uint64_t	 submitted;
	uint64_t	 finished[RUN_STATE_COUNT];
	uint64_t	 retries;	/* attempts after a failed one */
	uint64_t	 steps_ok;
	uint64_t	 steps_failed;
	uint64_t	 lost;		/* dropped: the store refused them */
	/* Step attempt durations: counts per bucket, the last is +Inf. */
	uint64_t	 step_ms_bucket[ENGINE_HIST_BUCKETS + 1];
	uint64_t	 step_ms_count;
	double		 step_ms_sum;
};

void	engine_get_stats(const struct engine *, struct engine_stats *);

#endif
