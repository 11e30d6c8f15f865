/*
 * The transform step: builds its output from its "with" object, whose
 * templates the engine has already rendered against the run. It is how a
 * workflow reshapes data between steps without a script, like a cloud
 * state machine's pass state: {"uses": "transform", "with": {"id":
 * "{{input.id}}", "customer": "{{steps.decode.customer}}"}}. With no
 * "with", the input passes through unchanged.
 */
#include "config.h"

#include "steps.h"

/* Outputs the rendered "with", or the input when there is none. */
static enum step_status
transform_start(struct step_call *call)
{
	const json_t *with = step_call_with(call);

	if (json_object_size(with) == 0)
		step_call_succeed(call, json_incref((json_t *)
		    step_call_input(call)));
	else
		step_call_succeed(call, json_deep_copy(with));
	return STEP_DONE;
}

const struct step_entry step_transform_entry = {
	.name = "transform",
	.summary = "output the rendered \"with\" object (reshape data)",
	.keys = step_keys_any,
	.start = transform_start,
	.pure = 1,
};
