/*
 * The registry of built-in steps: one entry per file in steps/, found by its
 * "uses" name. Steps the SPEC names that this build does not have yet are
 * known as planned, so the loader can say "not available" instead of
 * "unknown step".
 */
#include "config.h"

#include <string.h>

#include "steps.h"

static const struct step_entry *const steps_table[] = {
	&step_json_decode_entry,
	&step_json_encode_entry,
	&step_base64_decode_entry,
	&step_base64_encode_entry,
	&step_bucket_put_entry,
	&step_wait_entry,
	&step_wait_signal_entry,
	&step_transform_entry,
	&step_http_request_entry,
	&step_lua_entry,
	&step_bucket_get_entry,
	&step_choice_entry,
	&step_map_entry,
	&step_parallel_entry,
	&step_workflow_entry,
	NULL
};

const char *const step_keys_any[] = { "*", NULL };

/* Finds a step by its "uses" name. */
const struct step_entry *
steps_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; steps_table[i] != NULL; i++) {
		if (strcmp(steps_table[i]->name, name) == 0)
			return steps_table[i];
	}
	return NULL;
}

/* Every entry, NULL-terminated. */
const struct step_entry *const *
steps_all(void)
{
	return steps_table;
}
