/*
 * What engine.c and engine-load.c share: the engine and the in-memory run.
 * Nothing outside the engine includes this.
 */
#ifndef ENGINE_INTERNAL_H
#define ENGINE_INTERNAL_H

#include <jansson.h>

#include "engine.h"
#include "engine-fsm.h"
#include "store.h"

struct event;
struct step_call;
struct workflow;

struct run {
	struct engine		*engine;
	struct run		*prev, *next;
	struct run_rec		 rec;		/* as it will be stored */
	struct workflow		*wf;
	int			 idx;		/* rec.step in wf, or -1 */
	json_t			*step_input;	/* of the current step */
	json_t			*steps_out;	/* name -> latest output */
	struct step_call	*call;		/* the attempt in flight */
	int			 call_is_dead;	/* it is on_failure */
	char			*call_error;	/* why no call could start */
	int			 dead_attempt;
	int64_t			 call_started;	/* wall clock, ms */
	struct event		*timer;		/* step timeout or backoff */
	struct event		*deadline;	/* run timeout */
	int			 pending;	/* changes not committed yet */
	int			 done;		/* final and reported */
	struct engine_watch	 watch;
};

struct engine {
	struct event_base	*base;
	struct store		*store;
	char			*buckets_dir;
	char			*owner;
	int64_t			 lease_ms;
	struct event		*renew;
	struct run		*runs;		/* in memory */
	size_t			 active;
	struct workflow		**defs;		/* loaded definitions */
	size_t			 ndefs;
};

/* engine.c */
struct run	*engine_run_new(struct engine *, struct workflow *,
		    const struct engine_watch *);
void		 engine_run_apply(struct run *, enum fsm_event, const char *);
void		 engine_run_start(struct run *);
struct run	*engine_run_find(struct engine *, const char *);
void		 engine_def_add(struct engine *, struct workflow *);
void		 engine_run_redrive(struct run *, unsigned);
void		 engine_run_free_now(struct run *);

/* engine-load.c */
struct run	*engine_run_load(struct engine *, const struct run_rec *,
		    struct workflow *, struct orc_error *);
void		 engine_run_continue(struct run *);

#endif
