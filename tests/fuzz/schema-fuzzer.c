/*
 * libFuzzer target: the JSON Schema subset. The input is a JSON array
 * [schema, value]: the schema is checked as a workflow load would, and
 * when it passes the value is validated against it. Neither may crash;
 * a failure must come with a message.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "schema.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* One input: [schema, value] as JSON text. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct orc_error err;
	json_t *doc, *schema, *value;
	char *path = NULL;

	doc = json_loadb((const char *)data, size, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, NULL);
	if (doc == NULL)
		return 0;
	if (!json_is_array(doc) || json_array_size(doc) != 2) {
		json_decref(doc);
		return 0;
	}
	schema = json_array_get(doc, 0);
	value = json_array_get(doc, 1);
	if (schema_check_schema(schema, &path, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
	} else {
		err.message[0] = '\0';
		if (schema_validate(schema, value, &err) != 0 &&
		    err.message[0] == '\0')
			abort();
	}
	free(path);
	json_decref(doc);
	return 0;
}
