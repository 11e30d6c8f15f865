/*
 * libFuzzer target: the JSON <-> Lua conversion of lua steps
 * (orchestrator/script-json.c). The input is JSON text; its value is
 * pushed into a Lua state and converted back. Either direction may refuse
 * (too deep, a NUL in a key) with a message, but what comes back must be
 * the same value, numbers compared as numbers.
 */
#include "config.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lualib.h>

#include "orchestrator.h"
#include "script-internal.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static lua_State *L;

/* Whether a and b are the same JSON value, 1 and 1.0 alike. */
static int
same(const json_t *a, const json_t *b)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b) ||
		    (isnan(json_number_value(a)) &&
		    isnan(json_number_value(b)));
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, k, e)
			if (!same(e, json_object_get(b, k)))
				return 0;
		return 1;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return 0;
		json_array_foreach(a, i, e)
			if (!same(e, json_array_get(b, i)))
				return 0;
		return 1;
	default:
		return json_equal(a, b);
	}
}

/* In protected mode: pushes the value given as light userdata. */
static int
push_cb(lua_State *L1)
{
	script_json_push(L1, lua_touserdata(L1, 1), 0);
	return 1;
}

/* One input: a JSON document. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v, *back;
	char err[256];

	if (L == NULL) {
		L = luaL_newstate();
		/* The array set, weak-keyed, as script-sandbox.c makes it. */
		lua_newtable(L);
		lua_newtable(L);
		lua_pushliteral(L, "k");
		lua_setfield(L, -2, "__mode");
		lua_setmetatable(L, -2);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &script_array_key);
	}
	v = json_loadb((const char *)data, size, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, NULL);
	if (v == NULL)
		return 0;
	lua_settop(L, 0);
	lua_pushcfunction(L, push_cb);
	lua_pushlightuserdata(L, v);
	if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
		err[0] = '\0';
		back = script_json_from(L, 1, "output", err, sizeof err);
		if (back == NULL && err[0] == '\0')
			abort();
		if (back != NULL && !same(v, back))
			abort();
		json_decref(back);
	}
	lua_settop(L, 0);
	lua_gc(L, LUA_GCCOLLECT, 0);
	json_decref(v);
	return 0;
}
