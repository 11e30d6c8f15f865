/*
 * Running scripts. A run takes a state of its workflow from the calling
 * thread's pool, runs the script's main chunk and then its function in a
 * new coroutine with a fresh global table, and converts what it returns.
 * The count hook enforces the instruction limit and the wall-time limit;
 * the allocator enforces the memory limit. A state that hit a limit is
 * closed rather than reused. Everything outside Lua goes through the
 * run's host (script.h): the daemon's loop for in-process calls
 * (script-step.c), or the daemon over a worker's channel (worker-child.c).
 * ctx.fetch asks the host for a request and yields; the answer resumes
 * the coroutine, whose table is built inside it so that it counts against
 * the memory limit. A script stuck inside a C function (a pattern that
 * backtracks) is beyond the hook: only a worker process, killed at the
 * deadline, bounds that.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "fetch.h"
#include "jsonenc.h"
#include "orchestrator.h"
#include "script.h"
#include "script-internal.h"

#define SCRIPT_IDLE_MAX		64
#define SCRIPT_HOOK_EVERY	1000
#define SCRIPT_ERROR_MT		"orc.error"

__thread struct script_stats script_tls_stats;
static __thread struct script_state *script_idle;

static int	script_ctx_index(lua_State *);
static enum step_status script_resume(struct script_exec *, int);

/* An idle state of the workflow's, or a new one: states are never shared
 * between workflows. */
static struct script_state *
script_take(const char *owner)
{
	struct script_state *st, **pp;

	for (pp = &script_idle; (st = *pp) != NULL; pp = &st->next) {
		if (strcmp(st->owner, owner) == 0) {
			*pp = st->next;
			script_tls_stats.idle--;
			st->next = NULL;
			return st;
		}
	}
	return script_state_new(owner);
}

/* Back to the pool; closed when it hit a limit or the pool is full. */
static void
script_give(struct script_state *st)
{
	st->cur = NULL;
	st->mem_limit = 0;
	if (st->broken || script_tls_stats.idle >= SCRIPT_IDLE_MAX) {
		script_state_free(st);
		return;
	}
	lua_settop(st->L, 0);
	st->next = script_idle;
	script_idle = st;
	script_tls_stats.idle++;
}

/* Closes the pool's states. */
void
script_shutdown(void)
{
	struct script_state *st;

	while ((st = script_idle) != NULL) {
		script_idle = st->next;
		script_state_free(st);
	}
	script_tls_stats.idle = 0;
}

/* The counters of the calling thread. */
void
script_get_stats(struct script_stats *out)
{
	*out = script_tls_stats;
}

/* The run a Lua function was called from. */
static struct script_exec *
script_exec_of(lua_State *L)
{
	struct script_exec *ex = script_state_of(L)->cur;

	if (ex == NULL)
		luaL_error(L, "ctx used outside its run");
	return ex;
}

/* Stops a run that went past its instruction count or its time. */
static void
script_hook(lua_State *L, lua_Debug *ar)
{
	struct script_state *st = script_state_of(L);
	struct script_exec *ex = st->cur;

	if (ex == NULL)
		return;
	/* Past a limit, every instruction raises again, so that pcall in a
	 * loop cannot catch its way around it. */
	if (ex->hit != SCRIPT_LIMIT_NONE || st->mem_hit)
		lua_sethook(L, script_hook, LUA_MASKCOUNT, 1);
	if (st->mem_hit)
		luaL_error(L, "lua memory limit of %I MiB exceeded",
		    (lua_Integer)ex->job.memory_mb);
	ex->instructions += SCRIPT_HOOK_EVERY;
	if (ex->instructions > ex->job.instructions) {
		if (ex->hit == SCRIPT_LIMIT_NONE)
			ex->hit = SCRIPT_LIMIT_INSTRUCTIONS;
		luaL_error(L, "lua instruction limit of %I exceeded",
		    (lua_Integer)ex->job.instructions);
	}
	if (orc_mono_ms() >= ex->deadline) {
		if (ex->hit == SCRIPT_LIMIT_NONE)
			ex->hit = SCRIPT_LIMIT_TIME;
		luaL_error(L, "lua time limit of %I ms exceeded",
		    (lua_Integer)ex->job.timeout_ms);
	}
}

/* Pushes an error object: ctx.retryable() and ctx.fatal() make them. */
static void
script_push_error(lua_State *L, const char *msg, int retryable)
{
	lua_createtable(L, 0, 2);
	lua_pushstring(L, msg);
	lua_setfield(L, -2, "message");
	lua_pushboolean(L, retryable);
	lua_setfield(L, -2, "retryable");
	luaL_setmetatable(L, SCRIPT_ERROR_MT);
}

/* __tostring of an error object. */
static int
script_error_tostring(lua_State *L)
{
	lua_getfield(L, 1, "message");
	return 1;
}

/* ctx.retryable(msg) and ctx.fatal(msg): the message, where it was made. */
static int
script_ctx_error(lua_State *L, int retryable)
{
	const char *msg = luaL_checkstring(L, 1);

	luaL_where(L, 1);
	lua_pushstring(L, msg);
	lua_concat(L, 2);
	script_push_error(L, lua_tostring(L, -1), retryable);
	return 1;
}

/* ctx.retryable(msg). */
static int
script_ctx_retryable(lua_State *L)
{
	return script_ctx_error(L, 1);
}

/* ctx.fatal(msg). */
static int
script_ctx_fatal(lua_State *L)
{
	return script_ctx_error(L, 0);
}

/* ctx.log(level, fmt, ...): string.format, then the host's log, at most
 * SCRIPT_LOG_LINES lines and SCRIPT_LOG_BYTES bytes a run. */
static int
script_ctx_log(lua_State *L)
{
	static const char *const levels[] = {
		"debug", "info", "warn", "error", NULL
	};
	struct script_exec *ex = script_exec_of(L);
	const char *msg;
	size_t len;
	int level, n;

	level = luaL_checkoption(L, 1, NULL, levels);
	luaL_checkstring(L, 2);
	if (ex->log_lines >= SCRIPT_LOG_LINES ||
	    ex->log_bytes >= SCRIPT_LOG_BYTES) {
		ex->log_dropped++;
		return 0;
	}
	n = lua_gettop(L);
	lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_getfield(L, -1, "string");
	lua_getfield(L, -1, "format");
	lua_replace(L, 1);		/* the level is no longer needed */
	lua_settop(L, n);
	lua_call(L, n - 1, 1);
	msg = lua_tolstring(L, -1, &len);
	if (len > SCRIPT_LOG_BYTES - ex->log_bytes)
		len = SCRIPT_LOG_BYTES - ex->log_bytes;
	ex->log_lines++;
	ex->log_bytes += len;
	ex->host->log(ex->host_arg, level, msg, len);
	return 0;
}

/* ctx.env(name): a variable the workflow lists in "secrets". */
static int
script_ctx_env(lua_State *L)
{
	struct script_exec *ex = script_exec_of(L);
	const char *name = luaL_checkstring(L, 1), *v;

	if (ex->host->secret(ex->host_arg, name, &v) == 0) {
		if (v == NULL)
			lua_pushnil(L);
		else
			lua_pushstring(L, v);
		return 1;
	}
	lua_pushfstring(L, "secret %s is not listed in the workflow's "
	    "secrets", name);
	script_push_error(L, lua_tostring(L, -1), 0);
	return lua_error(L);
}

/* After a fetch: the response as {status, headers, body, json}. */
static int
script_fetch_k(lua_State *L, int status, lua_KContext kctx)
{
	const struct fetch_response *resp = script_exec_of(L)->resp;
	json_error_t jerr;
	json_t **box;

	(void)status;
	(void)kctx;
	if (resp->refused) {
		/* The daemon's check of allow: a script's error, as when it
		 * is refused before the request starts. */
		lua_pushfstring(L, "fetch %s: %s", lua_tostring(L, 1),
		    resp->error != NULL ? resp->error : "refused");
		script_push_error(L, lua_tostring(L, -1), 0);
		return lua_error(L);
	}
	if (resp->status == 0 || resp->error != NULL) {
		lua_pushnil(L);
		if (resp->timed_out)
			lua_pushfstring(L, "fetch %s: timed out after %I ms",
			    lua_tostring(L, 1), (lua_Integer)resp->duration_ms);
		else
			lua_pushfstring(L, "fetch %s: %s", lua_tostring(L, 1),
			    resp->error != NULL ? resp->error : "no answer");
		return 2;
	}
	lua_createtable(L, 0, 4);
	lua_pushinteger(L, resp->status);
	lua_setfield(L, -2, "status");
	if (resp->headers != NULL)
		script_json_push(L, resp->headers, 0);
	else
		lua_newtable(L);
	lua_setfield(L, -2, "headers");
	lua_pushlstring(L, resp->body != NULL ? resp->body : "",
	    resp->body_len);
	lua_setfield(L, -2, "body");
	if (resp->body != NULL && resp->body_len > 0) {
		box = script_json_box(L);
		*box = json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY,
		    &jerr);
		if (*box != NULL) {
			script_json_push(L, *box, 0);
			lua_setfield(L, -3, "json");
			json_decref(*box);
			*box = NULL;
		}
		lua_pop(L, 1);
	}
	return 1;
}

/* Delivers a response: resumes the coroutine that waits for it. */
void
script_fetch_done(struct script_exec *ex, const struct fetch_response *resp)
{
	ex->fetching = 0;
	ex->resp = resp;
	(void)script_resume(ex, 0);
}

/* Frees a NULL-ended list of header lines. */
static void
script_free_lines(char **lines)
{
	size_t i;

	if (lines == NULL)
		return;
	for (i = 0; lines[i] != NULL; i++)
		free(lines[i]);
	free(lines);
}

/* ctx.fetch(url [, opts]): yields until the response is in. */
static int
script_ctx_fetch(lua_State *L)
{
	struct script_exec *ex = script_exec_of(L);
	struct fetch_request rq;
	struct orc_error err;
	const char *url = luaL_checkstring(L, 1), *k, *v;
	char ebuf[512], *body = NULL, **lines = NULL;
	json_t *jbody;
	size_t n = 0, cap = 0, blen = 0;
	int64_t left, t;
	int has_ct = 0;

	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	memset(&rq, 0, sizeof rq);
	rq.url = url;
	left = ex->deadline - orc_mono_ms();
	rq.timeout_ms = left > 0 ? left : 1;
	if (lua_istable(L, 2)) {
		if (lua_getfield(L, 2, "method") != LUA_TNIL)
			rq.method = luaL_checkstring(L, -1);
		if (lua_getfield(L, 2, "timeout_ms") != LUA_TNIL) {
			t = luaL_checkinteger(L, -1);
			if (t <= 0)
				return luaL_error(L, "fetch: timeout_ms must "
				    "be positive");
			if (t < rq.timeout_ms)
				rq.timeout_ms = t;
		}
		lua_getfield(L, 2, "body");			/* 5 */
		lua_getfield(L, 2, "headers");			/* 6 */
		if (!lua_isnil(L, 6)) {
			luaL_checktype(L, 6, LUA_TTABLE);
			lua_pushnil(L);
			while (lua_next(L, 6) != 0) {
				if (lua_type(L, -2) != LUA_TSTRING ||
				    lua_type(L, -1) != LUA_TSTRING) {
					script_free_lines(lines);
					return luaL_error(L, "fetch: headers "
					    "must map names to strings");
				}
				k = lua_tostring(L, -2);
				v = lua_tostring(L, -1);
				if (strcasecmp(k, "content-type") == 0)
					has_ct = 1;
				if (n + 2 > cap) {
					cap = cap == 0 ? 8 : 2 * cap;
					lines = xrealloc(lines, cap *
					    sizeof *lines);
				}
				lines[n++] = xasprintf("%s: %s", k, v);
				lines[n] = NULL;
				lua_pop(L, 1);
			}
		}
		if (lua_type(L, 5) == LUA_TSTRING)
			rq.body = lua_tolstring(L, 5, &rq.body_len);
		else if (!lua_isnil(L, 5)) {
			if ((jbody = script_json_from(L, 5, "body", ebuf,
			    sizeof ebuf)) == NULL) {
				script_free_lines(lines);
				return luaL_error(L, "fetch: %s", ebuf);
			}
			body = jsonenc_compact(jbody, &blen);
			json_decref(jbody);
			rq.body = body;
			rq.body_len = blen;
			if (!has_ct) {
				if (n + 2 > cap) {
					cap = cap == 0 ? 2 : 2 * cap;
					lines = xrealloc(lines, cap *
					    sizeof *lines);
				}
				lines[n++] = xstrdup("Content-Type: "
				    "application/json");
				lines[n] = NULL;
			}
		}
	}
	rq.headers = (const char *const *)lines;
	ex->fetching = ex->host->fetch(ex->host_arg, ex, &rq, &err) == 0;
	free(body);
	script_free_lines(lines);
	if (!ex->fetching && err.code == ORC_EUNSUPPORTED)
		return luaL_error(L, "%s", err.message);
	if (!ex->fetching && err.code == ORC_EPERM) {
		lua_pushfstring(L, "fetch %s: %s", url, err.message);
		script_push_error(L, lua_tostring(L, -1), 0);
		return lua_error(L);
	}
	if (!ex->fetching) {
		lua_pushnil(L);
		lua_pushfstring(L, "fetch %s: %s", url, err.message);
		return 2;
	}
	lua_settop(L, 1);
	return lua_yieldk(L, 0, 0, script_fetch_k);
}

/* Builds the metatable shared by every run's ctx in this state. */
static void
script_ctx_mt(struct script_state *st, lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "log", script_ctx_log },
		{ "fetch", script_ctx_fetch },
		{ "retryable", script_ctx_retryable },
		{ "fatal", script_ctx_fatal },
		{ "env", script_ctx_env },
		{ NULL, NULL }
	};

	/* Guarded: a script that could reach it could hook every later
	 * error object of this state (a __gc, a field read by all). */
	if (luaL_newmetatable(L, SCRIPT_ERROR_MT)) {
		lua_pushcfunction(L, script_error_tostring);
		lua_setfield(L, -2, "__tostring");
		lua_pushboolean(L, 0);
		lua_setfield(L, -2, "__metatable");
	}
	lua_pop(L, 1);

	lua_createtable(L, 0, 3);			/* the metatable */
	lua_createtable(L, 0, 6);			/* the functions */
	luaL_setfuncs(L, fns, 0);
	/* json is a table: hand out a read-only proxy of it. */
	lua_createtable(L, 0, 4);
	script_json_lib(L);
	script_proxy(L, -1);
	lua_setfield(L, -3, "json");
	lua_pop(L, 1);			/* json's real table */
	lua_pushcclosure(L, script_ctx_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	st->ctx_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* ctx's missing keys: the functions, and trigger and steps made lazily. */
static int
script_ctx_index(lua_State *L)
{
	struct script_exec *ex;
	const char *key = lua_tostring(L, 2);
	const json_t *v;

	if (lua_type(L, 2) == LUA_TSTRING && (strcmp(key, "trigger") == 0 ||
	    strcmp(key, "steps") == 0)) {
		ex = script_exec_of(L);
		v = ex->host->ctx_value(ex->host_arg, key[0] == 't' ? 0 : 1);
		if (v == NULL && key[0] == 's')
			lua_newtable(L);
		else
			script_json_push(L, v, 1);
		lua_pushvalue(L, 2);
		lua_pushvalue(L, -2);
		lua_rawset(L, 1);
		return 1;
	}
	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(1));
	return 1;
}

/* Pushes the ctx of a run. */
static void
script_push_ctx(struct script_exec *ex, lua_State *L)
{
	struct script_state *st = ex->st;
	const struct script_job *j = &ex->job;

	if (st->ctx_mt_ref == LUA_NOREF)
		script_ctx_mt(st, L);
	lua_createtable(L, 0, 4);
	lua_pushstring(L, j->run_id != NULL ? j->run_id : "");
	lua_setfield(L, -2, "run_id");
	lua_pushstring(L, j->workflow != NULL ? j->workflow : "");
	lua_setfield(L, -2, "workflow");
	lua_pushstring(L, j->step != NULL ? j->step : "");
	lua_setfield(L, -2, "step");
	lua_pushinteger(L, j->attempt);
	lua_setfield(L, -2, "attempt");
	lua_rawgeti(L, LUA_REGISTRYINDEX, st->ctx_mt_ref);
	lua_setmetatable(L, -2);
}

/* The coroutine's body, after the chunk and after the function. */
static int
script_entry_k(lua_State *L, int status, lua_KContext phase)
{
	struct script_exec *ex = script_exec_of(L);

	(void)status;
	if (phase == 0) {
		if (!lua_isfunction(L, -1))
			return luaL_error(L, "%s must return a function "
			    "(input, ctx), not a %s", ex->job.script,
			    luaL_typename(L, -1));
		if (ex->job.check_only)
			return 0;
		script_json_push(L, ex->job.input, 1);
		script_push_ctx(ex, L);
		lua_callk(L, 2, 2, 1, script_entry_k);
		return script_entry_k(L, LUA_OK, 1);
	}
	return 2;
}

/* The coroutine's body: globals, the chunk, then its function. */
static int
script_entry(lua_State *L)
{
	struct script_exec *ex = script_exec_of(L);
	struct orc_error err;

	lua_settop(L, 0);
	script_push_env(ex->st, L);
	ex->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	if (script_push_chunk(ex, L, ex->job.script, &err) != 0) {
		script_push_error(L, err.message, 0);
		return lua_error(L);
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, ex->env_ref);
	if (lua_setupvalue(L, -2, 1) == NULL)
		lua_pop(L, 1);
	lua_callk(L, 0, 1, 0, script_entry_k);
	return script_entry_k(L, LUA_OK, 0);
}

/* The message of a limit the run hit, or NULL. */
static char *
script_limit_message(struct script_exec *ex)
{
	if (ex->st->mem_hit)
		return xasprintf("lua memory limit of %zu MiB exceeded",
		    ex->job.memory_mb);
	switch (ex->hit) {
	case SCRIPT_LIMIT_INSTRUCTIONS:
		return xasprintf("lua instruction limit of %lld exceeded",
		    (long long)ex->job.instructions);
	case SCRIPT_LIMIT_TIME:
		return xasprintf("lua time limit of %lld ms exceeded",
		    (long long)ex->job.timeout_ms);
	default:
		return NULL;
	}
}

/* Returns the state and frees the run. */
static void
script_release(struct script_exec *ex)
{
	struct script_state *st = ex->st;
	lua_State *L;

	if (st != NULL) {
		L = st->L;
		st->mem_limit = 0;
		luaL_unref(L, LUA_REGISTRYINDEX, ex->co_ref);
		luaL_unref(L, LUA_REGISTRYINDEX, ex->env_ref);
		luaL_unref(L, LUA_REGISTRYINDEX, ex->loaded_ref);
		script_give(st);
	}
	free(ex);
}

/* The text of an error value: a string, an error object, or its type. */
static const char *
script_error_text(lua_State *L, int idx, int *retryable, int *object)
{
	const char *s;

	*object = 0;
	if (lua_type(L, idx) == LUA_TTABLE && lua_getmetatable(L, idx)) {
		luaL_getmetatable(L, SCRIPT_ERROR_MT);
		*object = lua_rawequal(L, -1, -2);
		lua_pop(L, 2);
	}
	if (*object) {
		lua_getfield(L, idx, "retryable");
		*retryable = lua_toboolean(L, -1);
		lua_pop(L, 1);
		lua_getfield(L, idx, "message");
		s = lua_tostring(L, -1);
		lua_pop(L, 1);	/* still referenced by the object */
		return s != NULL ? s : "error";
	}
	if ((s = lua_tostring(L, idx)) != NULL)
		return s;
	return lua_pushfstring(L, "(error object is a %s value)",
	    luaL_typename(L, idx));
}

/* The run ended: turn its results or its error into the call's end. */
static void
script_finish(struct script_exec *ex, int status, int nres)
{
	const struct script_host *host = ex->host;
	void *host_arg = ex->host_arg;
	struct script_state *st = ex->st;
	lua_State *co = ex->co, *L = st->L;
	json_t *out = NULL;
	char *msg, *next = NULL, ebuf[512];
	const char *text;
	int retryable = 1, object, base;

	st->mem_limit = 0;
	msg = script_limit_message(ex);
	if (msg != NULL) {
		st->broken = 1;
		retryable = ex->hit == SCRIPT_LIMIT_TIME && !st->mem_hit;
		if (status != LUA_OK) {
			luaL_traceback(L, co, msg, 0);
			free(msg);
			msg = xstrdup(lua_tostring(L, -1));
			lua_pop(L, 1);
		}
	} else if (status == LUA_OK && ex->job.check_only) {
		retryable = 0;
		out = json_null();
	} else if (status == LUA_OK) {
		base = lua_gettop(co) - nres + 1;
		retryable = 0;
		if ((out = script_json_from(co, base, "output", ebuf,
		    sizeof ebuf)) == NULL)
			msg = xasprintf("%s returned what is not JSON: %s",
			    ex->job.script, ebuf);
		else if (nres >= 2 && lua_type(co, base + 1) == LUA_TSTRING)
			next = xstrdup(lua_tostring(co, base + 1));
		else if (nres >= 2 && !lua_isnil(co, base + 1))
			msg = xasprintf("%s returned a %s as the next step, "
			    "not a step name", ex->job.script,
			    luaL_typename(co, base + 1));
	} else {
		text = script_error_text(co, -1, &retryable, &object);
		if (object)
			msg = xstrdup(text);
		else {
			luaL_traceback(L, co, text, 0);
			msg = xstrdup(lua_tostring(L, -1));
			lua_pop(L, 1);
		}
	}

	if (ex->log_dropped > 0) {
		text = lua_pushfstring(L, "%I more log lines dropped (a run "
		    "keeps %d lines, %d bytes)", (lua_Integer)ex->log_dropped,
		    SCRIPT_LOG_LINES, SCRIPT_LOG_BYTES);
		host->log(host_arg, 2, text, strlen(text));
		lua_pop(L, 1);
	}
	script_release(ex);
	/* Last: finishing may call the engine, which may free the call. */
	if (msg != NULL) {
		json_decref(out);
		host->done(host_arg, 0, NULL, NULL, retryable, msg);
		free(msg);
	} else {
		host->done(host_arg, 1, out, next, 0, NULL);
		free(next);
	}
}

/* Runs the coroutine until it ends or waits for a fetch. */
static enum step_status
script_resume(struct script_exec *ex, int nargs)
{
	struct script_state *st = ex->st;
	int status, nres = 0;

	st->cur = ex;
	st->mem_limit = ex->mem_cap;
	status = lua_resume(ex->co, NULL, nargs, &nres);
	st->mem_limit = 0;
	ex->resp = NULL;
	if (status == LUA_YIELD && ex->fetching &&
	    ex->hit == SCRIPT_LIMIT_NONE && !st->mem_hit)
		return STEP_WAIT;
	if (status == LUA_YIELD) {
		/* Nothing else yields: not reachable from the sandbox. */
		if (ex->fetching)
			ex->host->fetch_cancel(ex->host_arg);
		ex->fetching = 0;
		lua_pushliteral(ex->co, "the script yielded outside ctx.fetch");
		status = LUA_ERRRUN;
	}
	script_finish(ex, status, nres);
	return STEP_DONE;
}

/* Starts a run of a script for its host. */
struct script_exec *
script_run(const struct script_job *job, const struct script_host *host,
    void *arg)
{
	struct script_exec *ex;
	struct script_state *st;
	lua_State *L;

	ex = xcalloc(1, sizeof *ex);
	ex->job = *job;
	ex->host = host;
	ex->host_arg = arg;
	ex->co_ref = ex->env_ref = ex->loaded_ref = LUA_NOREF;
	if (ex->job.timeout_ms <= 0)
		ex->job.timeout_ms = SCRIPT_TIMEOUT_MS;
	if (ex->job.instructions <= 0)
		ex->job.instructions = SCRIPT_INSTRUCTIONS;
	if (ex->job.memory_mb == 0)
		ex->job.memory_mb = SCRIPT_MEMORY_MB;
	ex->started = orc_mono_ms();
	ex->deadline = ex->started + ex->job.timeout_ms;

	st = script_take(job->workflow != NULL ? job->workflow : "");
	ex->st = st;
	st->cur = ex;
	st->mem_hit = 0;
	L = st->L;
	ex->mem_cap = st->mem_used + (ex->job.memory_mb << 20);
	ex->co = lua_newthread(L);
	ex->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_sethook(ex->co, script_hook, LUA_MASKCOUNT, SCRIPT_HOOK_EVERY);
	lua_pushcfunction(ex->co, script_entry);
	script_tls_stats.runs++;
	return script_resume(ex, 0) == STEP_DONE ? NULL : ex;
}

/* Drops a run that waits for its fetch; the coroutine becomes garbage. */
void
script_cancel(struct script_exec *ex)
{
	if (ex == NULL)
		return;
	if (ex->fetching)
		ex->host->fetch_cancel(ex->host_arg);
	ex->fetching = 0;
	script_release(ex);
}
