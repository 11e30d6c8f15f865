/*
 * What the engine's files (engine*.c) share: the engine and the in-memory
 * run. Nothing outside the engine includes this.
 */
#ifndef ENGINE_INTERNAL_H
#define ENGINE_INTERNAL_H

#include <jansson.h>

#include "engine.h"
#include "engine-fsm.h"
#include "store.h"
#include "trace.h"

struct event;
struct fetch;
struct hmap;
struct pool;
struct engine_logs;
struct fan;
struct run_commit;
struct step_call;
struct workflow;

/* The flow keys of a run, rendered once from its input (engine-flow.c). */
struct flow_keys {
	char			*gate;		/* workflow [+ concurrency key] */
	char			*rate;		/* rate tokens, or NULL */
	char			*debounce;	/* debounce window, or NULL */
	int			 priority;
};

struct run {
	struct engine		*engine;
	struct run		*prev, *next;
	struct run_rec		 rec;		/* as it will be stored */
	enum fsm_state		 phase;		/* rec.state, finer */
	struct workflow		*wf;
	int			 idx;		/* rec.step in wf, or -1 */
	json_t			*step_input;	/* of the current step */
	json_t			*steps_out;	/* name -> latest output */
	struct step_call	*call;		/* the attempt in flight */
	char			*call_error;	/* why no call could start */
	int			 dead_attempt;	/* of on_failure */
	int64_t			 call_started;	/* wall clock, ms */
	struct event		*attempt_timer;	/* the attempt's timeout */
	struct event		*due_timer;	/* FSM_DUE at the due time */
	struct event		*deadline;	/* the run's own timeout */
	int			 pending;	/* changes not committed yet */
	int			 barriers;	/* of those, not replayable */
	int			 done;		/* final and reported */
	int			 asleep;	/* waiting, to leave memory */
	int			 lost;		/* the store refused it */
	struct engine_watch	 watch;
	/* Admission (engine-admit.c). */
	int			 has_slot;	/* counts against concurrency */
	int			 waiting;	/* in its gate's queue */
	struct run		*wait_prev, *wait_next;
	char			*key_index;	/* in engine.by_key, or NULL */
	/* Flow control (engine-flow.c). */
	struct flow_keys	 keys;
	int			 token_taken;	/* a rate token is spent */
	int			 in_window;	/* in engine.debounce */
	struct run_commit	*last_commit;	/* the latest submitted */
	/* Tracing (engine-trace.c), only while the engine traces. */
	int			 traced;	/* tctx and tparent are set */
	int			 has_tparent;	/* a webhook's traceparent */
	struct trace_ctx	 tctx;		/* the trace, the run's span */
	uint8_t			 tparent[TRACE_SPAN_BYTES]; /* the caller's */
	uint8_t			 step_span[TRACE_SPAN_BYTES];
	int64_t			 step_start_ns;	/* 0: no attempt span open */
	/* Log lines for the next commit (engine-logs.c), or NULL. */
	struct engine_logs	*logs;
	/* A map or parallel step's children (engine-fan.c), or NULL. */
	struct fan		*fan;
	int			 fan_redo;	/* redriven: failed items too */
};

/* A child run's link to its parent (engine-fan.c), from its trigger:
 * {"run", "step", "seq", "depth"[, "item"]}; NULL for a run of its own. */
#define RUN_PARENT(run)	json_object_get((run)->rec.trigger, "parent")

/* Whether the run is in its dead letter (on_failure's attempts). */
#define RUN_IN_DEAD(run)	((run)->phase == FSM_DEAD_PENDING ||	\
				 (run)->phase == FSM_DEAD_RUNNING ||	\
				 (run)->phase == FSM_DEAD_BACKOFF)

/* What admission decided for the head of a gate (engine_gate_next). */
struct admit_decision {
	struct run		*run;
	int64_t			 wait_ms;	/* 0: start it now; else the
						   wait for a rate token */
};

/* Runs of one gate (a workflow, or a workflow and a concurrency key):
 * how many hold a slot, who waits for one in priority order. */
struct engine_gate {
	struct engine		*engine;
	char			*key;
	int			 limit;		/* 0: none */
	int			 running;
	size_t			 nwaiting;
	struct run		*head, *tail;
};

/* The tokens of a rate_limit (a token bucket, in the usual term; here
 * "bucket" is only ever a storage bucket). */
struct flow_tokens {
	double			 tokens;
	double			 rate;		/* per second */
	double			 burst;
	int64_t			 last_ms;	/* monotonic */
};

struct engine {
	struct event_base	*base;
	struct store		*store;
	char			*buckets_dir;
	char			*owner;
	int64_t			 lease_ms;
	int			 crash_resumes;	/* ORCH_CRASH_RESUMES */
	struct event		*renew;
	struct run		*runs;		/* in memory */
	size_t			 active;
	struct workflow		**defs;		/* loaded definitions */
	size_t			 ndefs;
	struct hmap		*by_id;		/* runs in memory */
	struct hmap		*by_key;	/* workflow + idempotency key */
	struct hmap		*gates;		/* gate key -> gate */
	struct hmap		*rate_tokens;	/* rate key -> its tokens */
	struct hmap		*debounce;	/* debounce key -> run */
	size_t			 max_queue;
	size_t			 max_active;
	int			 paused;
	int			 claims;	/* async claims and polls out */
	int			 cancel_polling;	/* a poll is out */
	struct event		*cancel_ev;	/* polls every second */
	engine_observer_fn	 observer;
	void			*observer_arg;
	struct engine_stats	 stats;
	struct fetch		*fetch;		/* HTTP for steps */
	struct pool		*pool;		/* file I/O for steps */
	struct worker_pool	*workers;	/* user code, or NULL */
	struct loop_lag		*lag;		/* or NULL */
	json_t			*replay;	/* recorded outputs, or NULL */
	struct trace		*trace;		/* span export, or NULL */
	int			 keep_waiting;	/* waiting runs stay in memory */
	struct event		*wake_ev;	/* takes due sleepers back */
	int64_t			 wake_at;	/* when it fires, or 0 */
	/* Callbacks (engine-callback.c). */
	char			*public_url;	/* callback URLs' base */
	uint8_t			*cb_secret;	/* read at first use, or NULL */
	struct event		*claim_ev;	/* dead nodes' runs */
	/* The workflows a workflow step may start (engine-fan.c): the
	 * server's, else the folder's, read at first use. */
	char			*workflows_dir;
	struct workflow		**named;
	size_t			 nnamed;
	int			 named_set;
};

/* A run waiting for a signal or a time longer than this leaves memory. */
#define ENGINE_WAIT_IN_MEMORY_MS	10000

/* Whether the engine exports spans: the only cost when it does not. */
#define ENGINE_TRACING(run)	((run)->engine->trace != NULL)

/* engine.c */
struct run	*engine_run_new(struct engine *, struct workflow *,
		    const struct engine_watch *);
void		 engine_run_apply(struct run *, enum fsm_event, const char *);
struct run	*engine_run_find(struct engine *, const char *);
void		 engine_run_index(struct run *);
void		 engine_def_add(struct engine *, struct workflow *);
void		 engine_run_redrive(struct run *, unsigned);
void		 engine_run_free_now(struct run *);
void		 engine_run_drop(struct run *);
void		 engine_run_output(struct run *, json_t *output,
		    const struct engine_watch *notify);
void		 engine_run_fail(struct run *, const char *error,
		    int retryable, const struct engine_watch *notify);
void		 engine_run_extend(struct run *, int64_t due);
void		 engine_run_arm_deadline(struct run *);
void		 engine_run_note_dead(struct run *, const char *event);
void		 engine_run_continue(struct run *);

/* A child run of parent's step (engine-fan.c), made as a submitted run
 * is: id gets its id. -1 with err (ORC_EFULL: the engine is full). */
int		 engine_run_child(struct run *parent, struct workflow *,
		    const json_t *input, int64_t item, char id[RUN_ID_LEN + 1],
		    struct orc_error *);

/* engine-fan.c: map and parallel steps, their items as child runs. */
void		 engine_fan_start(struct run *, struct step_call *);
void		 engine_fan_stop(struct run *, int cancel_children);
void		 engine_fan_child_done(struct run *child);
json_t		*engine_fan_trigger(const struct run *parent, int64_t item);
void		 engine_fan_free(struct engine *);

/* engine-admit.c: which runs may start; never moves a run itself. */
struct engine_gate *engine_admit_queue(struct run *);
void		 engine_admit_hold(struct run *);
int		 engine_gate_next(struct engine_gate *,
		    struct admit_decision *);
int		 engine_admit_blocked(struct run *, char *why, size_t);
struct engine_gate *engine_release(struct run *);
int		 engine_gate_has_waiting(const struct run *);
int		 engine_admit_check(struct engine *, struct run *,
		    struct orc_error *);
/* engine-replay.c: swaps an outward step of a replay for its recorded
 * output; the "with" it made is the caller's to free, or NULL. */
struct step_call_params;
json_t		*engine_replay_step(const json_t *recorded,
		    struct step_call_params *);
/* Looks for requests to cancel this process's runs (engine-load.c). */
void		 engine_cancel_poll(struct engine *);
int		 engine_key_find(struct engine *, const char *workflow,
		    const char *key, char id[RUN_ID_LEN + 1], int in_store);
void		 engine_key_add(struct run *, const char *key);
void		 engine_gates_free(struct engine *);

/* engine-load.c: runs waiting in the store are taken back when due. */
void		 engine_wake_note(struct engine *, int64_t due);
/* Whether a waiting run (record, definition) waits for what arg says:
 * 0, else -1 with err (ORC_ESTATE, or ORC_EBUSY: try again soon). */
typedef int	(*engine_wait_check_fn)(const struct run_rec *,
		    struct workflow *, const void *arg, struct orc_error *);
/* The run id that check finds waiting, from memory (its due timer
 * stopped) or claimed from the store and loaded (*loaded set): the
 * caller moves it on at once. NULL with err: ORC_ENOTFOUND, check's,
 * ORC_EBUSY when another live process holds it. */
struct run	*engine_waiting_take(struct engine *, const char *id,
		    engine_wait_check_fn, const void *arg, int *loaded,
		    struct orc_error *);

/* engine-flow.c: flow control policy; never moves a run itself. */
int		 engine_flow_keys(const struct workflow *, const json_t *input,
		    struct flow_keys *, struct orc_error *);
void		 engine_flow_keys_loaded(const struct workflow *,
		    const json_t *input, struct flow_keys *,
		    const char *run_id);
void		 engine_flow_keys_clear(struct flow_keys *);
int		 engine_flow_take(struct run *, int64_t *wait_ms);
int		 engine_flow_reject(struct engine *, const struct workflow *,
		    const struct flow_keys *, struct orc_error *);
int64_t		 engine_flow_window_end(const struct workflow *,
		    int64_t created_at, int64_t now);
struct run	*engine_flow_window(struct engine *,
		    const struct flow_keys *);
void		 engine_flow_window_open(struct run *);
void		 engine_flow_forget(struct run *);
void		 engine_flow_free(struct engine *);

/* engine-callback.c: steps that wait for a callback (wait_for_callback). */
void		 engine_callback_init(struct engine *,
		    const struct engine_config *);
void		 engine_callback_free(struct engine *);
json_t		*engine_callback_ctx(struct run *, int attempt);
int64_t		 engine_callback_due(const struct run *);

/* engine-stats.c */
void		 engine_stat_step(struct engine *, int ok, int64_t ms);
void		 engine_notify(struct run *, struct engine_event *);

/* engine-trace.c: call only when ENGINE_TRACING(run). */
void		 engine_trace_step_start(struct run *,
		    char tp[TRACE_PARENT_LEN + 1]);
void		 engine_trace_step_end(struct run *, const char *name,
		    const char *status, const char *error);
void		 engine_trace_run_end(struct run *);

/* engine-logs.c */
void		 engine_logs_take(struct run *, const struct step_call *);
void		 engine_logs_attach(struct run *, struct store_change *);
void		 engine_logs_sent(struct run *);
void		 engine_logs_free(struct run *);

/* engine-load.c */
struct run	*engine_run_load(struct engine *, const struct run_rec *,
		    struct workflow *, struct orc_error *);
/* The store refused a run's writes (store_refused_cb; arg: the engine). */
void		 engine_store_refused(const char *run_id, const char *existing,
		    void *arg);

#endif
