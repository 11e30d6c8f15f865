/*
 * The JSON Schema subset of SPEC section 1 (type, required, properties,
 * items, enum, minimum, maximum, minLength, maxLength), used for a
 * workflow's "input" and "output" contracts.
 */
#ifndef SCHEMA_H
#define SCHEMA_H

#include <jansson.h>

#include "orchestrator.h"

/* Checks a schema itself when a workflow loads. On a problem returns -1,
 * sets *path to where it is inside the schema ("properties.qty.type", a
 * string the caller frees) and err to what is wrong. */
int	schema_check_schema(const json_t *schema, char **path,
	    struct orc_error *);

/* Validates a value. On mismatch returns -1 with a message naming the path
 * of the first failing value, e.g. "items[3].qty: expected number". */
int	schema_validate(const json_t *schema, const json_t *value,
	    struct orc_error *);

#endif
