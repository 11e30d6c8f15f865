/*
 * JSON <-> Lua for the lua step: the step's input, ctx.trigger, ctx.steps
 * and fetched bodies go in, the step's output and ctx.json.encode come
 * out. The rules are in script.h. Going out, every problem is an error
 * naming its path; arrays are told from objects by their keys, and empty
 * tables by the array set (a weak-keyed table in the registry) that holds
 * decoded arrays and those made by ctx.json.array().
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "jsonpos.h"
#include "orchestrator.h"
#include "script.h"
#include "script-internal.h"
#include "strbuf.h"

#define SCRIPT_JSON_DEPTH	200
#define SCRIPT_JSON_BOX		"orc.json_box"

const char script_array_key = 'a';
const char script_null = 'n';

/* One level of the path being converted, for error messages. */
struct script_frame {
	const char	*key;		/* or NULL for an element */
	size_t		 klen;
	lua_Integer	 index;		/* 1-based */
};

struct script_conv {
	lua_State		*L;
	const char		*root;
	char			*err;
	size_t			 errlen;
	int			 depth;
	const void		*seen[SCRIPT_JSON_DEPTH];
	struct script_frame	 path[SCRIPT_JSON_DEPTH];
};

static json_t	*script_json_value(struct script_conv *, int);

/* Marks the table at idx as an array, also when empty. */
static void
script_json_mark(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &script_array_key);
	lua_pushvalue(L, idx);
	lua_pushboolean(L, 1);
	lua_rawset(L, -3);
	lua_pop(L, 1);
}

/* Whether the table at idx is in the array set. */
static int
script_json_marked(lua_State *L, int idx)
{
	int marked;

	idx = lua_absindex(L, idx);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &script_array_key);
	lua_pushvalue(L, idx);
	marked = lua_rawget(L, -2) != LUA_TNIL;
	lua_pop(L, 2);
	return marked;
}

/* Pushes v; depth guards the C stack against deep documents. */
static void
script_json_push_at(lua_State *L, const json_t *v, int depth)
{
	const char *key;
	size_t i, klen;
	json_t *e;

	luaL_checkstack(L, 4, "json value nested too deep");
	if (depth > SCRIPT_JSON_DEPTH)
		luaL_error(L, "json value nested deeper than %d levels",
		    SCRIPT_JSON_DEPTH);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		lua_createtable(L, 0, (int)json_object_size(v));
		json_object_keylen_foreach((json_t *)v, key, klen, e) {
			lua_pushlstring(L, key, klen);
			script_json_push_at(L, e, depth + 1);
			lua_rawset(L, -3);
		}
		break;
	case JSON_ARRAY:
		lua_createtable(L, (int)json_array_size(v), 0);
		json_array_foreach(v, i, e) {
			script_json_push_at(L, e, depth + 1);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		script_json_mark(L, -1);
		break;
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(v));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(v));
		break;
	case JSON_TRUE:
		lua_pushboolean(L, 1);
		break;
	case JSON_FALSE:
		lua_pushboolean(L, 0);
		break;
	case JSON_NULL:
		lua_pushlightuserdata(L, (void *)&script_null);
		break;
	}
}

/* Pushes a JSON value as Lua; NULL or null at the top may become nil. */
void
script_json_push(lua_State *L, const json_t *v, int top_nil)
{
	if (v == NULL || (top_nil && json_is_null(v)))
		lua_pushnil(L);
	else
		script_json_push_at(L, v, 0);
}

/* Fills the error with the current path and a message; returns NULL. */
static json_t * ORC_PRINTF(2, 3)
script_json_fail(struct script_conv *cv, const char *fmt, ...)
{
	struct strbuf b = STRBUF_INIT;
	va_list ap;
	char *msg;
	int i;

	/* Only the first (innermost) problem is kept. */
	if (cv->err[0] != '\0')
		return NULL;
	strbuf_puts(&b, cv->root);
	for (i = 0; i < cv->depth; i++) {
		if (cv->path[i].key != NULL)
			jsonpos_path_add_key(&b, cv->path[i].key,
			    cv->path[i].klen);
		else
			strbuf_printf(&b, "[%lld]",
			    (long long)cv->path[i].index - 1);
	}
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	snprintf(cv->err, cv->errlen, "%s: %s", b.len > 0 ? b.s : "value",
	    msg);
	free(msg);
	strbuf_free(&b);
	return NULL;
}

/* Compares two keys for sorting, byte-wise. */
static int
script_json_keycmp(const void *a, const void *b)
{
	const char *const *ka = a, *const *kb = b;

	return strcmp(*ka, *kb);
}

/* Builds an object from a table with string keys only, keys sorted. */
static json_t *
script_json_object(struct script_conv *cv, int idx, size_t n)
{
	lua_State *L = cv->L;
	json_t *tmp, *obj, *v;
	const char *key, **keys;
	size_t klen, i = 0;

	tmp = json_object();
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		key = lua_tolstring(L, -2, &klen);
		cv->path[cv->depth - 1].key = key;
		cv->path[cv->depth - 1].klen = klen;
		if (memchr(key, '\0', klen) != NULL) {
			lua_pop(L, 2);
			json_decref(tmp);
			return script_json_fail(cv, "key holds a NUL byte");
		}
		if ((v = script_json_value(cv, lua_gettop(L))) == NULL) {
			lua_pop(L, 2);
			json_decref(tmp);
			return NULL;
		}
		if (json_object_setn_new(tmp, key, klen, v) != 0) {
			lua_pop(L, 2);
			json_decref(tmp);
			return script_json_fail(cv, "key is not valid UTF-8");
		}
		lua_pop(L, 1);
	}
	/* Lua's order is its hash's: sort so the output is stable. */
	keys = xcalloc(n, sizeof *keys);
	json_object_foreach(tmp, key, v)
		keys[i++] = key;
	qsort(keys, i, sizeof *keys, script_json_keycmp);
	obj = json_object();
	for (n = 0; n < i; n++)
		json_object_set(obj, keys[n], json_object_get(tmp, keys[n]));
	free(keys);
	json_decref(tmp);
	return obj;
}

/* Converts the table at idx (absolute). */
static json_t *
script_json_table(struct script_conv *cv, int idx)
{
	lua_State *L = cv->L;
	const void *p = lua_topointer(L, idx);
	lua_Integer k, max = 0;
	size_t nint = 0, nstr = 0;
	json_t *arr, *v;
	int i, marked;
	double d;

	for (i = 0; i < cv->depth; i++) {
		if (cv->seen[i] == p)
			return script_json_fail(cv, "the table contains "
			    "itself (a cycle)");
	}
	if (cv->depth >= SCRIPT_JSON_DEPTH)
		return script_json_fail(cv, "nested deeper than %d levels",
		    SCRIPT_JSON_DEPTH);
	if (!lua_checkstack(L, 4))
		return script_json_fail(cv, "nested too deep");

	/* First pass: what kind of keys. */
	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);
		switch (lua_type(L, -1)) {
		case LUA_TSTRING:
			nstr++;
			break;
		case LUA_TNUMBER:
			if (!lua_isinteger(L, -1)) {
				d = lua_tonumber(L, -1);
				lua_pop(L, 1);
				return script_json_fail(cv, "key %g is not "
				    "an array index or a string", d);
			}
			k = lua_tointeger(L, -1);
			if (k < 1) {
				lua_pop(L, 1);
				return script_json_fail(cv, "key %lld is not "
				    "an array index (arrays start at 1)",
				    (long long)k);
			}
			if (k > max)
				max = k;
			nint++;
			break;
		default:
			i = lua_type(L, -1);
			lua_pop(L, 1);
			return script_json_fail(cv, "a %s key cannot be a "
			    "JSON object key", lua_typename(L, i));
		}
	}
	marked = script_json_marked(L, idx);
	if (nint > 0 && nstr > 0)
		return script_json_fail(cv, "the table mixes integer keys "
		    "and string keys");
	if (nstr > 0 && marked)
		return script_json_fail(cv, "an array has string keys");
	if (nint == 0 && nstr == 0)
		return marked ? json_array() : json_object();

	cv->seen[cv->depth] = p;
	cv->path[cv->depth].key = NULL;
	cv->path[cv->depth].index = 0;
	cv->depth++;
	if (nstr > 0) {
		v = script_json_object(cv, idx, nstr);
		cv->depth--;
		return v;
	}
	if ((size_t)max != nint) {
		for (k = 1; k <= max; k++) {
			if (lua_rawgeti(L, idx, k) == LUA_TNIL)
				break;
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
		cv->path[cv->depth - 1].index = k;
		v = script_json_fail(cv, "the array has a hole (arrays "
		    "need keys 1..n)");
		cv->depth--;
		return v;
	}
	arr = json_array();
	for (k = 1; k <= max; k++) {
		cv->path[cv->depth - 1].index = k;
		lua_rawgeti(L, idx, k);
		v = script_json_value(cv, lua_gettop(L));
		lua_pop(L, 1);
		if (v == NULL) {
			json_decref(arr);
			cv->depth--;
			return NULL;
		}
		json_array_append_new(arr, v);
	}
	cv->depth--;
	return arr;
}

/* Converts the value at idx (absolute). */
static json_t *
script_json_value(struct script_conv *cv, int idx)
{
	lua_State *L = cv->L;
	const char *s;
	json_t *v;
	size_t len;
	double d;

	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		return json_null();
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_integer((json_int_t)lua_tointeger(L, idx));
		d = lua_tonumber(L, idx);
		if (isnan(d))
			return script_json_fail(cv, "NaN is not valid JSON");
		if (isinf(d))
			return script_json_fail(cv, "infinity is not valid "
			    "JSON");
		return json_real(d);
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		if ((v = json_stringn(s, len)) == NULL)
			return script_json_fail(cv, "the string is not valid "
			    "UTF-8 (encode binary data first)");
		return v;
	case LUA_TLIGHTUSERDATA:
		if (lua_touserdata(L, idx) == &script_null)
			return json_null();
		break;
	case LUA_TTABLE:
		return script_json_table(cv, idx);
	}
	return script_json_fail(cv, "a %s cannot be converted to JSON",
	    luaL_typename(L, idx));
}

/* Converts the Lua value at idx to JSON, or NULL with err filled. */
json_t *
script_json_from(lua_State *L, int idx, const char *root, char *err,
    size_t errlen)
{
	struct script_conv *cv;
	json_t *v;

	cv = xmalloc(sizeof *cv);
	cv->L = L;
	cv->root = root;
	cv->err = err;
	cv->errlen = errlen;
	cv->depth = 0;
	err[0] = '\0';
	v = script_json_value(cv, lua_absindex(L, idx));
	free(cv);
	return v;
}

/* Frees the JSON value a box holds when Lua collects the box. */
static int
script_json_box_gc(lua_State *L)
{
	json_t **box = luaL_checkudata(L, 1, SCRIPT_JSON_BOX);

	json_decref(*box);
	*box = NULL;
	return 0;
}

/* Pushes a box that frees the value it will hold if a later step raises. */
json_t **
script_json_box(lua_State *L)
{
	json_t **box;

	box = lua_newuserdatauv(L, sizeof *box, 0);
	*box = NULL;
	if (luaL_newmetatable(L, SCRIPT_JSON_BOX)) {
		lua_pushcfunction(L, script_json_box_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	return box;
}

/* ctx.json.encode(value [, pretty]): the value as JSON text. */
static int
script_json_encode(lua_State *L)
{
	char err[512];
	json_t **box;
	luaL_Buffer b;
	size_t flags, len;
	char *buf;

	luaL_checkany(L, 1);
	flags = JSON_ENCODE_ANY | (lua_toboolean(L, 2) ? JSON_INDENT(2) :
	    JSON_COMPACT);
	box = script_json_box(L);
	if ((*box = script_json_from(L, 1, "", err, sizeof err)) == NULL)
		return luaL_error(L, "json.encode: %s", err);
	len = json_dumpb(*box, NULL, 0, flags);
	buf = luaL_buffinitsize(L, &b, len);
	json_dumpb(*box, buf, len, flags);
	luaL_pushresultsize(&b, len);
	json_decref(*box);
	*box = NULL;
	return 1;
}

/* ctx.json.decode(text): the value, or nil and a message. */
static int
script_json_decode(lua_State *L)
{
	json_error_t jerr;
	const char *s;
	json_t **box;
	size_t len;

	s = luaL_checklstring(L, 1, &len);
	box = script_json_box(L);
	if ((*box = json_loadb(s, len, JSON_DECODE_ANY, &jerr)) == NULL) {
		lua_pushnil(L);
		lua_pushfstring(L, "json.decode: line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		return 2;
	}
	script_json_push(L, *box, 0);
	json_decref(*box);
	*box = NULL;
	return 1;
}

/* ctx.json.array([t]): t (or a new table) marked to encode as an array. */
static int
script_json_array(lua_State *L)
{
	if (lua_isnoneornil(L, 1)) {
		lua_settop(L, 0);
		lua_newtable(L);
	} else {
		luaL_checktype(L, 1, LUA_TTABLE);
		lua_settop(L, 1);
	}
	script_json_mark(L, 1);
	return 1;
}

/* Fills the table at the top with encode, decode, array and null. */
void
script_json_lib(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "encode", script_json_encode },
		{ "decode", script_json_decode },
		{ "array", script_json_array },
		{ NULL, NULL }
	};

	luaL_setfuncs(L, fns, 0);
	lua_pushlightuserdata(L, (void *)&script_null);
	lua_setfield(L, -2, "null");
}
