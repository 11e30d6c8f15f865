/*
 * The lua step: runs the step's "script" (a file beside the workflow) in
 * embedded, sandboxed Lua (orchestrator/script.c). The script's function
 * gets the step input and ctx; its result is the output and, optionally,
 * the name of the next step. It may wait on ctx.fetch without a thread.
 * It runs on a worker process when the engine has them (script-step.c).
 */
#include "config.h"

#include "script.h"
#include "steps.h"

const struct step_entry step_lua_entry = {
	.name = "lua",
	.summary = "run a Lua script: \"script\", \"memory_mb\", "
	    "\"instructions\"",
	.keys = NULL,
	.start = script_step_start,
	.cancel = script_step_cancel
};
