/*
 * The Lua states behind lua steps and the sandbox each one offers. A state
 * counts its bytes in its own allocator (the memory limit), caches the
 * compiled main chunk of every file it ran (keyed by path, inode, size and
 * modification time, as the host reports them) and holds one sandbox
 * table: the safe base functions and read-only proxies of string, table,
 * math, utf8 and three functions of os. A state serves one workflow only,
 * so nothing a script manages to leave in it reaches another workflow. A
 * run's global table is fresh and reads through to the sandbox; writes
 * stay in it. load takes text only and runs it in the run's globals;
 * require loads NAME.lua from the workflow's folder only. Finalisers
 * (__gc) are refused: Lua runs them with hooks off, where no limit holds.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "orchestrator.h"
#include "script.h"
#include "script-internal.h"

const char script_readonly_key = 'r';
static const char script_loading = 'l';

/* The base functions a script may use, taken from Lua's own. */
static const char *const script_base_names[] = {
	"assert", "error", "ipairs", "pairs", "next", "pcall", "xpcall",
	"select", "tonumber", "tostring", "type", "rawequal", "rawget",
	"rawlen", "getmetatable", "_VERSION", NULL
};

/* Counts every byte; refuses to grow past the limit while a run is on. */
static void *
script_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct script_state *st = ud;
	void *np;

	/* Without a block, osize tells the kind of object: not a size. */
	if (ptr == NULL)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		st->mem_used -= osize;
		return NULL;
	}
	if (nsize > osize && st->mem_limit != 0 &&
	    st->mem_used - osize + nsize > st->mem_limit) {
		st->mem_hit = 1;
		return NULL;
	}
	if ((np = realloc(ptr, nsize)) == NULL)
		return NULL;
	st->mem_used = st->mem_used - osize + nsize;
	return np;
}

/* An error outside any protected call: only out of memory gets here. */
static int
script_panic(lua_State *L)
{
	fatal("lua: %s", lua_tostring(L, -1) != NULL ? lua_tostring(L, -1) :
	    "unprotected error");
}

/* The state a thread (coroutine) belongs to. */
struct script_state *
script_state_of(lua_State *L)
{
	void *ud;

	lua_getallocf(L, &ud);
	return ud;
}

/* __newindex of a read-only proxy. */
static int
script_ro_newindex(lua_State *L)
{
	return luaL_error(L, "attempt to modify a read-only table");
}

/* __pairs of a read-only proxy: iterate the table behind it. */
static int
script_ro_pairs(lua_State *L)
{
	lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
	lua_getfield(L, -1, "next");
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushnil(L);
	return 3;
}

/* Pushes a read-only proxy of the table at idx. */
void
script_proxy(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_newtable(L);
	lua_createtable(L, 0, 4);
	lua_pushvalue(L, idx);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, script_ro_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pushvalue(L, idx);
	lua_pushcclosure(L, script_ro_pairs, 1);
	lua_setfield(L, -2, "__pairs");
	lua_setmetatable(L, -2);

	lua_rawgetp(L, LUA_REGISTRYINDEX, &script_readonly_key);
	lua_pushvalue(L, -2);
	lua_pushboolean(L, 1);
	lua_rawset(L, -3);
	lua_pop(L, 1);
}

/* rawset, refusing the shared read-only tables. */
static int
script_rawset(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checkany(L, 2);
	luaL_checkany(L, 3);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &script_readonly_key);
	lua_pushvalue(L, 1);
	if (lua_rawget(L, -2) != LUA_TNIL)
		return luaL_error(L, "attempt to modify a read-only table");
	lua_settop(L, 3);
	lua_rawset(L, 1);
	return 1;
}

/* Whether the table at 2 has a __gc of its own (not through __index). */
static int
script_has_gc(lua_State *L)
{
	int has;

	lua_pushliteral(L, "__gc");
	has = lua_rawget(L, 2) != LUA_TNIL;
	lua_pop(L, 1);
	return has;
}

/* setmetatable(t, mt), refusing finalisers: Lua runs __gc with hooks
 * off, also while a state closes, where neither the instruction nor the
 * memory limit holds. __gc counts only when set at this call. */
static int
script_setmetatable(lua_State *L)
{
	int t = lua_type(L, 2);

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
	if (t == LUA_TTABLE && script_has_gc(L))
		return luaL_error(L, "setmetatable: finalisers (__gc) are not "
		    "available to scripts");
	if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
		return luaL_error(L, "cannot change a protected metatable");
	lua_settop(L, 2);
	lua_setmetatable(L, 1);
	return 1;
}

/* load(text [, name [, mode [, env]]]): text only, in the run's globals. */
static int
script_load(lua_State *L)
{
	struct script_state *st = script_state_of(L);
	const char *s, *name, *mode;
	size_t len;
	/* Counted before the chunk lands on the stack above the arguments. */
	int has_env = lua_gettop(L) >= 4;

	if (lua_type(L, 1) != LUA_TSTRING) {
		lua_pushnil(L);
		lua_pushliteral(L, "load takes a string here");
		return 2;
	}
	s = lua_tolstring(L, 1, &len);
	name = luaL_optstring(L, 2, "=(load)");
	mode = luaL_optstring(L, 3, "t");
	if (strchr(mode, 'b') != NULL) {
		lua_pushnil(L);
		lua_pushliteral(L, "binary chunks are not allowed");
		return 2;
	}
	if (luaL_loadbufferx(L, s, len, name, "t") != LUA_OK) {
		lua_pushnil(L);
		lua_insert(L, -2);
		return 2;
	}
	if (has_env)
		lua_pushvalue(L, 4);
	else if (st->cur != NULL)
		lua_rawgeti(L, LUA_REGISTRYINDEX, st->cur->env_ref);
	else
		lua_newtable(L);
	if (lua_setupvalue(L, -2, 1) == NULL)
		lua_pop(L, 1);
	return 1;
}

/* Whether a module name is a plain file name: no "/", no "..". */
static int
script_module_name_ok(const char *name)
{
	const char *p;

	if (*name == '\0' || strlen(name) > 64)
		return 0;
	for (p = name; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return 0;
	}
	return 1;
}

/* require(name): NAME.lua from the workflow's folder, once per run. */
static int
script_require(lua_State *L)
{
	struct script_state *st = script_state_of(L);
	struct script_exec *ex = st->cur;
	const char *name = luaL_checkstring(L, 1);
	struct orc_error err;
	char file[80];

	if (!script_module_name_ok(name))
		return luaL_error(L, "require \"%s\": only modules in the "
		    "workflow's folder, named without \"/\", \".\" or \"..\"",
		    name);
	if (ex == NULL)
		return luaL_error(L, "require outside a run");
	if (ex->loaded_ref == LUA_NOREF) {
		lua_newtable(L);
		ex->loaded_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_settop(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, ex->loaded_ref);	/* 2 */
	lua_pushvalue(L, 1);
	if (lua_rawget(L, 2) != LUA_TNIL) {
		if (lua_touserdata(L, -1) == &script_loading)
			return luaL_error(L, "require \"%s\": the module "
			    "requires itself (a loop)", name);
		return 1;
	}
	lua_pop(L, 1);
	lua_pushvalue(L, 1);
	lua_pushlightuserdata(L, (void *)&script_loading);
	lua_rawset(L, 2);

	snprintf(file, sizeof file, "%s.lua", name);
	if (script_push_chunk(ex, L, file, &err) != 0) {
		lua_pushfstring(L, "require \"%s\": %s", name, err.message);
		return lua_error(L);
	}
	lua_rawgeti(L, LUA_REGISTRYINDEX, ex->env_ref);
	if (lua_setupvalue(L, -2, 1) == NULL)
		lua_pop(L, 1);
	lua_pushvalue(L, 1);
	lua_call(L, 1, 1);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_pushboolean(L, 1);
	}
	lua_pushvalue(L, 1);
	lua_pushvalue(L, -2);
	lua_rawset(L, 2);
	return 1;
}

/* Copies the named fields of the table at src into the table at the top. */
static void
script_copy(lua_State *L, int src, const char *const *names)
{
	size_t i;

	src = lua_absindex(L, src);
	for (i = 0; names[i] != NULL; i++) {
		lua_getfield(L, src, names[i]);
		lua_setfield(L, -2, names[i]);
	}
}

/* Opens a library and leaves its table at the top. */
static void
script_open(lua_State *L, const char *name, lua_CFunction open)
{
	luaL_requiref(L, name, open, 0);
}

/* Keeps a new set of tables in the registry at key: weak keys, so that
 * marked tables can still be collected. */
static void
script_weak_set(lua_State *L, const void *key)
{
	lua_newtable(L);
	lua_createtable(L, 0, 1);
	lua_pushliteral(L, "k");
	lua_setfield(L, -2, "__mode");
	lua_setmetatable(L, -2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

/* Builds the sandbox table of a new state and keeps it in the registry. */
static void
script_build_sandbox(struct script_state *st)
{
	static const char *const os_names[] = { "time", "clock", "date", NULL };
	lua_State *L = st->L;
	int sandbox;

	script_weak_set(L, &script_readonly_key);
	script_weak_set(L, &script_array_key);

	luaL_requiref(L, "_G", luaopen_base, 1);	/* the real globals */
	lua_newtable(L);
	sandbox = lua_gettop(L);
	script_copy(L, -2, script_base_names);
	lua_pushcfunction(L, script_rawset);
	lua_setfield(L, sandbox, "rawset");
	lua_pushcfunction(L, script_load);
	lua_setfield(L, sandbox, "load");
	lua_pushcfunction(L, script_setmetatable);
	lua_setfield(L, sandbox, "setmetatable");
	lua_pushcfunction(L, script_require);
	lua_setfield(L, sandbox, "require");

	/* string: no dump, also not through ("").dump; and the string
	 * metatable out of reach. */
	script_open(L, LUA_STRLIBNAME, luaopen_string);
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	script_proxy(L, -1);
	lua_setfield(L, sandbox, "string");
	lua_pop(L, 1);
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);

	script_open(L, LUA_TABLIBNAME, luaopen_table);
	lua_getfield(L, -1, "unpack");
	lua_setfield(L, sandbox, "unpack");
	script_proxy(L, -1);
	lua_setfield(L, sandbox, "table");
	lua_pop(L, 1);
	script_open(L, LUA_MATHLIBNAME, luaopen_math);
	script_proxy(L, -1);
	lua_setfield(L, sandbox, "math");
	lua_pop(L, 1);
	script_open(L, LUA_UTF8LIBNAME, luaopen_utf8);
	script_proxy(L, -1);
	lua_setfield(L, sandbox, "utf8");
	lua_pop(L, 1);
	script_open(L, LUA_OSLIBNAME, luaopen_os);
	lua_newtable(L);
	script_copy(L, -2, os_names);
	script_proxy(L, -1);
	lua_setfield(L, sandbox, "os");
	lua_pop(L, 2);

	/* The sandbox itself is out of reach, but read-only all the same. */
	lua_rawgetp(L, LUA_REGISTRYINDEX, &script_readonly_key);
	lua_pushvalue(L, sandbox);
	lua_pushboolean(L, 1);
	lua_rawset(L, -3);
	lua_pop(L, 1);

	/* A run's globals: reads fall through to the sandbox. */
	lua_createtable(L, 0, 2);
	lua_pushvalue(L, sandbox);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	st->env_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	st->sandbox_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_settop(L, 0);
}

/* A new state with its sandbox, counting its memory. */
struct script_state *
script_state_new(const char *owner)
{
	struct script_state *st;

	st = xcalloc(1, sizeof *st);
	st->owner = xstrdup(owner != NULL ? owner : "");
	if ((st->L = lua_newstate(script_alloc, st)) == NULL)
		fatal("%s: out of memory", __func__);
	lua_atpanic(st->L, script_panic);
	st->ctx_mt_ref = LUA_NOREF;
	script_build_sandbox(st);
	script_tls_stats.states_created++;
	return st;
}

/* Closes a state and forgets its cache. */
void
script_state_free(struct script_state *st)
{
	size_t i;

	if (st == NULL)
		return;
	st->mem_limit = 0;
	lua_close(st->L);
	for (i = 0; i < st->ncache; i++)
		free(st->cache[i].path);
	free(st->cache);
	free(st->owner);
	free(st);
}

/* Pushes a fresh global table for one run. */
void
script_push_env(struct script_state *st, lua_State *L)
{
	lua_createtable(L, 0, 2);
	lua_rawgeti(L, LUA_REGISTRYINDEX, st->env_mt_ref);
	lua_setmetatable(L, -2);
	lua_pushvalue(L, -1);
	lua_setfield(L, -2, "_G");
}

/* The cache entry of a path, or NULL. */
static struct script_cached *
script_cache_find(struct script_state *st, const char *path)
{
	size_t i;

	for (i = 0; i < st->ncache; i++)
		if (strcmp(st->cache[i].path, path) == 0)
			return &st->cache[i];
	return NULL;
}

/* Pushes the compiled chunk of dir/name, compiling it when new or changed. */
int
script_push_chunk(struct script_exec *ex, lua_State *L, const char *name,
    struct orc_error *err)
{
	struct script_state *st = ex->st;
	struct script_cached *c;
	struct script_ident got;
	char *path, *text = NULL, *chunkname;
	size_t len = 0;
	int status;

	path = xasprintf("%s/%s", ex->job.dir != NULL ? ex->job.dir : ".",
	    name);
	c = script_cache_find(st, path);
	status = ex->host->source(ex->host_arg, name, c != NULL ? &c->ident :
	    NULL, &text, &len, &got, err);
	if (status <= 0) {
		free(path);
		if (status == 0 && c != NULL)
			lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
		else if (status == 0)
			orc_error_set(err, ORC_EIO, "%s: no text", name);
		return status == 0 && c != NULL ? 0 : -1;
	}
	chunkname = xasprintf("@%s", name);
	status = luaL_loadbufferx(L, text, len, chunkname, "t");
	free(chunkname);
	free(text);
	if (status != LUA_OK) {
		orc_error_set(err, ORC_EINVAL, "%s", lua_tostring(L, -1));
		lua_pop(L, 1);
		free(path);
		return -1;
	}
	script_tls_stats.compiles++;
	if (c == NULL) {
		st->cache = xrealloc(st->cache, (st->ncache + 1) *
		    sizeof *st->cache);
		c = &st->cache[st->ncache++];
		c->path = path;
		c->ref = LUA_NOREF;
	} else
		free(path);
	luaL_unref(L, LUA_REGISTRYINDEX, c->ref);
	lua_pushvalue(L, -1);
	c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
	c->ident = got;
	return 0;
}

/* Joins dir and name into path; -1 with err when it is too long. */
static int
script_path(char path[PATH_MAX], const char *dir, const char *name,
    struct orc_error *err)
{
	if ((size_t)snprintf(path, PATH_MAX, "%s/%s", dir != NULL ? dir : ".",
	    name) < PATH_MAX)
		return 0;
	orc_error_set(err, ORC_EINVAL, "%s: path too long", name);
	return -1;
}

/* The identity of dir/name now. */
int
script_stat_source(const char *dir, const char *name,
    struct script_ident *got, struct orc_error *err)
{
	char path[PATH_MAX];
	struct stat sb;

	if (script_path(path, dir, name, err) != 0)
		return -1;
	if (stat(path, &sb) != 0) {
		orc_error_set(err, ORC_EIO, "cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	got->dev = (int64_t)sb.st_dev;
	got->ino = (int64_t)sb.st_ino;
	got->size = (int64_t)sb.st_size;
	got->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
	    sb.st_mtim.tv_nsec;
	return 0;
}

/* Reads dir/name when its identity differs from have: the in-process
 * source of a script (script_host.source). */
int
script_read_source(const char *dir, const char *name,
    const struct script_ident *have, char **text, size_t *len,
    struct script_ident *got, struct orc_error *err)
{
	char path[PATH_MAX];

	if (script_stat_source(dir, name, got, err) != 0)
		return -1;
	if (have != NULL && memcmp(have, got, sizeof *got) == 0)
		return 0;
	if (script_path(path, dir, name, err) != 0 ||
	    (*text = orc_read_file(path, len, err)) == NULL)
		return -1;
	return 1;
}

/* Compiles a file in a throwaway state, for the workflow loader. */
int
script_check(const char *path, const char *name, struct orc_error *err)
{
	lua_State *L;
	char *text, *chunkname;
	size_t len;
	int status;

	if ((text = orc_read_file(path, &len, err)) == NULL)
		return -1;
	if ((L = luaL_newstate()) == NULL)
		fatal("%s: out of memory", __func__);
	chunkname = xasprintf("@%s", name);
	status = luaL_loadbufferx(L, text, len, chunkname, "t");
	free(chunkname);
	free(text);
	if (status != LUA_OK)
		orc_error_set(err, ORC_EINVAL, "%s", lua_tostring(L, -1));
	lua_close(L);
	return status == LUA_OK ? 0 : -1;
}
