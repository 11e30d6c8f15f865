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

/* The lua step's start and cancel (steps/lua.c). */
enum step_status script_step_start(struct step_call *);
void		 script_step_cancel(struct step_call *);

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
