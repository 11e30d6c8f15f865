/*
 * What script.c, script-sandbox.c and script-json.c share: a pooled Lua
 * state with its allocator's counters and compiled-script cache, and the
 * run (one step attempt) it is executing.
 */
#ifndef SCRIPT_INTERNAL_H
#define SCRIPT_INTERNAL_H

#include <sys/types.h>

#include <jansson.h>
#include <lua.h>
#include <stdint.h>

#include "script.h"

struct script_stats;

/* A compiled file: its main chunk, kept in the registry. */
struct script_cached {
	char			*path;
	struct script_ident	 ident;
	int			 ref;
};

enum script_limit {
	SCRIPT_LIMIT_NONE,
	SCRIPT_LIMIT_MEMORY,
	SCRIPT_LIMIT_INSTRUCTIONS,
	SCRIPT_LIMIT_TIME
};

struct script_exec;

struct script_state {
	lua_State		*L;
	size_t			 mem_used;	/* bytes in use */
	size_t			 mem_limit;	/* 0: none */
	int			 mem_hit;
	int			 broken;	/* close instead of reuse */
	struct script_exec	*cur;		/* the run using it */
	struct script_cached	*cache;
	size_t			 ncache;
	char			*owner;		/* the workflow it serves */
	int			 sandbox_ref;
	int			 env_mt_ref;
	int			 ctx_mt_ref;
	struct script_state	*next;		/* in the idle pool */
};

/* One attempt of a lua step. */
struct script_exec {
	struct script_job	 job;		/* borrowed from the host */
	const struct script_host *host;
	void			*host_arg;
	struct script_state	*st;
	lua_State		*co;
	int			 co_ref;
	int			 env_ref;
	int			 loaded_ref;
	int			 fetching;	/* a request is in flight */
	const struct fetch_response *resp;	/* being delivered */
	int64_t			 started;	/* orc_mono_ms */
	int64_t			 deadline;
	int64_t			 instructions;	/* so far */
	size_t			 mem_cap;	/* the state's limit */
	size_t			 log_lines;
	size_t			 log_bytes;
	size_t			 log_dropped;
	enum script_limit	 hit;
};

/* The registry key of the set (weak keys) of tables that are arrays. */
extern const char script_array_key;
/* The registry key of the set of read-only proxies. */
extern const char script_readonly_key;
/* ctx.json.null. */
extern const char script_null;
/* The calling thread's counters (script.h). */
extern __thread struct script_stats script_tls_stats;

/* script-sandbox.c */
struct script_state *script_state_new(const char *owner);
void		 script_state_free(struct script_state *);
/* Pushes the compiled chunk of the run's dir/name, asking the host for
 * its text when it is not cached or changed; on failure pushes nothing
 * and fills err. Raises on out of memory: call in protected mode. */
int		 script_push_chunk(struct script_exec *, lua_State *,
		    const char *name, struct orc_error *);
/* Pushes a read-only proxy of the table at idx (pairs sees through). */
void		 script_proxy(lua_State *, int idx);
/* Pushes a fresh global table for one run. */
void		 script_push_env(struct script_state *, lua_State *);
/* The state a coroutine belongs to. */
struct script_state *script_state_of(lua_State *);

/* script-json.c */
/* Pushes v as a Lua value; null at the top becomes nil when top_nil.
 * May raise (out of memory): call in protected mode. */
void		 script_json_push(lua_State *, const json_t *, int top_nil);
/* Converts the value at idx; NULL with err naming root and the path at
 * fault. Does not raise. */
json_t		*script_json_from(lua_State *, int idx, const char *root,
		    char *err, size_t errlen);
/* Pushes a userdata that decrefs the value stored in it when collected,
 * so a value survives a raise without leaking. */
json_t		**script_json_box(lua_State *);
/* Registers the ctx.json table's functions on the table at the top. */
void		 script_json_lib(lua_State *);

#endif
