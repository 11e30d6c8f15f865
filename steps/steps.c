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
	&step_transform_entry,
	&step_http_request_entry,
	&step_lua_entry,
	&step_bucket_get_entry,
	NULL
};

const char *const step_keys_any[] = { "*", NULL };

static const char *const steps_planned[] = {
	NULL
};

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

/* Whether the SPEC names this step but this build does not have it. */
int
steps_is_planned(const char *name)
{
	size_t i;

	if (name == NULL || steps_find(name) != NULL)
		return 0;
	for (i = 0; steps_planned[i] != NULL; i++) {
		if (strcmp(steps_planned[i], name) == 0)
			return 1;
	}
	return 0;
}

/* Every entry, NULL-terminated. */
const struct step_entry *const *
steps_all(void)
{
	return steps_table;
}
