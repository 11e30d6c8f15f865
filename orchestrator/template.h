/*
 * {{...}} templates in a step's "with" values. An expression is a path:
 * a root (input, trigger, steps, run) followed by .field and [index] parts,
 * e.g. {{steps.lookup.body.items[0].id}}. A string that is exactly one
 * expression takes the value it names, of any JSON type; in a longer string
 * each expression is replaced by its text (strings as they are, other
 * values as compact JSON).
 */
#ifndef TEMPLATE_H
#define TEMPLATE_H

#include <jansson.h>

#include "orchestrator.h"

/* Checks every template inside value (recursively) when a workflow loads.
 * step_names is an array of strings (known step names, for steps.NAME).
 * For each problem calls report with the path inside value ("url",
 * "headers.x", "args[2]") and a message. Returns the number of problems. */
typedef void (*template_report_fn)(void *arg, const char *path,
    const char *message);
int	template_check(const json_t *value, const json_t *step_names,
	    template_report_fn, void *arg);
/* template_check for a step's "with": {{callback.url}} and
 * {{callback.token}} are allowed when the step waits for a callback. */
int	template_check_callback(const json_t *value, const json_t *step_names,
	    int callback, template_report_fn, void *arg);

/* Renders value against ctx, an object with the roots as keys. Returns a
 * new reference; NULL with err when an expression names nothing. The
 * result shares what it can instead of copying it (a string without
 * expressions, a number, the value a whole-string expression names): it
 * and its parts are read-only, as value and ctx's values are. */
json_t	*template_render(const json_t *value, const json_t *ctx,
	    struct orc_error *);

/* Renders one string; NULL with err on failure. */
char	*template_render_string(const char *, const json_t *ctx,
	    struct orc_error *);

/* A value's kind for messages: "an object", "a number", "null". */
const char *template_kind(const json_t *);

/* Whether a string holds any {{ }} expression. */
int	template_has_expr(const char *);

#endif
