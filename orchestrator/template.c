/*
 * {{...}} templates in a step's "with" values and in flow-control keys.
 * An expression is a root (input, trigger, steps or run) followed by
 * .name and [N] parts, with optional spaces inside the braces; for steps
 * the first part is a step name. template_check() parses every expression
 * when a workflow loads and reports each problem with the path of the
 * string inside the value; template_render() walks a copy of the value and
 * resolves each expression against the run's context object. A string
 * that is exactly one expression becomes the value it names, of any JSON
 * type; elsewhere an expression becomes text: strings raw, other values as
 * compact JSON. A literal "{{" cannot be escaped in this version.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonenc.h"
#include "jsonpos.h"
#include "strbuf.h"
#include "template.h"

/* One .name or [N] part of an expression, as offsets into its text. */
struct template_part {
	int	 is_index;
	size_t	 start;		/* the name, or the digits */
	size_t	 len;
	size_t	 end;		/* just past the part, for "input.a" prefixes */
	size_t	 index;
};

/* A parsed expression; text is the trimmed inside of the braces. */
struct template_expr {
	const char		*text;
	size_t			 len;
	size_t			 root_len;
	struct template_part	*parts;
	size_t			 nparts;
};

/* Whether c may appear in a root or a .name part. */
static int
template_name_char(int c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-';
}

/* Whether c is a space allowed around an expression. */
static int
template_space(int c)
{
	return c == ' ' || c == '\t';
}

/* Whether the string holds any {{ }} expression. */
int
template_has_expr(const char *s)
{
	return s != NULL && strstr(s, "{{") != NULL;
}

/* Whether the root text (n bytes) is one of the roots; "callback" is a
 * step's that waits for one (template_check_at says where it may be). */
static int
template_root_known(const char *s, size_t n)
{
	static const char *roots[] = { "input", "trigger", "steps", "run",
	    "callback", "item", "item_index" };
	size_t i;

	for (i = 0; i < sizeof roots / sizeof roots[0]; i++)
		if (strlen(roots[i]) == n && memcmp(roots[i], s, n) == 0)
			return 1;
	return 0;
}

/* Whether the parsed root is name. */
static int
template_root_is(const struct template_expr *e, const char *name)
{
	return strlen(name) == e->root_len &&
	    memcmp(e->text, name, e->root_len) == 0;
}

/*
 * Parses the n bytes between a pair of braces into e. Returns 0, or -1
 * with *msg (caller frees) saying what is wrong.
 */
static int
template_parse(const char *s, size_t n, struct template_expr *e, char **msg)
{
	struct template_part *p;
	size_t i, cap, start;

	memset(e, 0, sizeof *e);
	while (n > 0 && template_space(*s)) {
		s++;
		n--;
	}
	while (n > 0 && template_space(s[n - 1]))
		n--;
	e->text = s;
	e->len = n;
	if (n == 0) {
		*msg = xstrdup("empty template");
		return -1;
	}
	for (i = 0; i < n && template_name_char(s[i]); i++)
		;
	e->root_len = i;
	if (i == 0 || (i < n && s[i] != '.' && s[i] != '['))
		goto bad;
	if (!template_root_known(s, i)) {
		*msg = xasprintf("unknown template root \"%.*s\" (expected "
		    "input, trigger, steps, run, or item and item_index in "
		    "a map's steps)", (int)i, s);
		return -1;
	}
	cap = 0;
	while (i < n) {
		if (e->nparts == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			e->parts = xrealloc(e->parts, cap * sizeof *e->parts);
		}
		p = &e->parts[e->nparts];
		memset(p, 0, sizeof *p);
		if (s[i] == '.') {
			start = ++i;
			while (i < n && template_name_char(s[i]))
				i++;
			if (i == start)
				goto bad;
		} else if (s[i] == '[') {
			p->is_index = 1;
			start = ++i;
			while (i < n && isdigit((unsigned char)s[i])) {
				/* Refuse an index that would overflow. */
				if (p->index > (SIZE_MAX - 9) / 10)
					goto bad;
				p->index = p->index * 10 + (s[i] - '0');
				i++;
			}
			if (i == start || i >= n || s[i] != ']')
				goto bad;
			i++;
		} else
			goto bad;
		p->start = start;
		p->len = (p->is_index ? i - 1 : i) - start;
		p->end = i;
		e->nparts++;
	}
	/* steps[0] means nothing: steps are named. */
	if (template_root_is(e, "steps") && e->nparts > 0 &&
	    e->parts[0].is_index)
		goto bad;
	return 0;

bad:
	free(e->parts);
	e->parts = NULL;
	e->nparts = 0;
	*msg = xasprintf("bad template expression \"%.*s\"", (int)n, s);
	return -1;
}

/* Whether the array of step names holds the n-byte name. */
static int
template_step_known(const json_t *names, const char *s, size_t n)
{
	const json_t *v;
	size_t i;

	json_array_foreach(names, i, v) {
		if (json_is_string(v) && json_string_length(v) == n &&
		    memcmp(json_string_value(v), s, n) == 0)
			return 1;
	}
	return 0;
}

/* Checks every expression of one string; returns the number of problems. */
static int
template_check_string(const char *s, const char *path,
    const json_t *step_names, int callback, template_report_fn report,
    void *arg)
{
	struct template_expr e;
	const char *open, *close, *name;
	char *msg;
	int problems;

	problems = 0;
	while ((open = strstr(s, "{{")) != NULL) {
		close = strstr(open + 2, "}}");
		if (close == NULL) {
			msg = xasprintf("unterminated template \"%s\"", open);
			report(arg, path, msg);
			free(msg);
			return problems + 1;
		}
		if (template_parse(open + 2, close - open - 2, &e, &msg) != 0) {
			report(arg, path, msg);
			free(msg);
			problems++;
		} else {
			if (!callback && template_root_is(&e, "callback")) {
				report(arg, path, "{{callback...}} is for a "
				    "step with \"wait_for_callback\": true");
				problems++;
			}
			if (json_is_array(step_names) &&
			    template_root_is(&e, "steps") && e.nparts > 0) {
				name = e.text + e.parts[0].start;
				if (!template_step_known(step_names, name,
				    e.parts[0].len)) {
					msg = xasprintf("steps.%.*s: no step "
					    "named \"%.*s\"",
					    (int)e.parts[0].len, name,
					    (int)e.parts[0].len, name);
					report(arg, path, msg);
					free(msg);
					problems++;
				}
			}
			free(e.parts);
		}
		s = close + 2;
	}
	return problems;
}

/* Walks value at path and checks every string in it. */
static int
template_check_at(const json_t *value, const char *path,
    const json_t *step_names, int callback, template_report_fn report,
    void *arg)
{
	const json_t *v;
	const char *key;
	char *sub;
	size_t i;
	int problems;

	problems = 0;
	switch (json_typeof(value)) {
	case JSON_STRING:
		problems = template_check_string(json_string_value(value),
		    *path == '\0' ? "(root)" : path, step_names, callback,
		    report, arg);
		break;
	case JSON_OBJECT:
		json_object_foreach((json_t *)value, key, v) {
			sub = jsonpos_path_key(path, key);
			problems += template_check_at(v, sub, step_names,
			    callback, report, arg);
			free(sub);
		}
		break;
	case JSON_ARRAY:
		json_array_foreach(value, i, v) {
			sub = jsonpos_path_index(path, i);
			problems += template_check_at(v, sub, step_names,
			    callback, report, arg);
			free(sub);
		}
		break;
	default:
		break;
	}
	return problems;
}

/* Checks every template in value; returns the number of problems. */
int
template_check(const json_t *value, const json_t *step_names,
    template_report_fn report, void *arg)
{
	return template_check_callback(value, step_names, 0, report, arg);
}

/* template_check, {{callback...}} allowed when callback is set. */
int
template_check_callback(const json_t *value, const json_t *step_names,
    int callback, template_report_fn report, void *arg)
{
	if (value == NULL || report == NULL)
		return 0;
	return template_check_at(value, "", step_names, callback, report,
	    arg);
}

/* What kind of container a value is, for "is a string, not an object". */
const char *
template_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/*
 * Resolves a parsed expression against ctx. Returns a borrowed value, or
 * NULL with err naming the expression and the part that names nothing.
 */
static const json_t *
template_resolve(const struct template_expr *e, const json_t *ctx,
    struct orc_error *err)
{
	const struct template_part *p;
	const json_t *v, *next;
	const char *what;
	char *name;
	size_t i, first;
	int len;

	len = (int)e->len;
	name = xstrndup(e->text, e->root_len);
	v = json_is_object(ctx) ? json_object_get(ctx, name) : NULL;
	free(name);
	if (v == NULL) {
		orc_error_set(err, ORC_EINVAL, "template {{%.*s}}: %.*s is "
		    "not available", len, e->text, (int)e->root_len, e->text);
		return NULL;
	}
	first = 0;
	if (template_root_is(e, "steps") && e->nparts > 0) {
		/* A step that has not run yet has no output to name. */
		p = &e->parts[0];
		name = xstrndup(e->text + p->start, p->len);
		next = json_is_object(v) ? json_object_get(v, name) : NULL;
		if (next == NULL) {
			orc_error_set(err, ORC_EINVAL, "template {{%.*s}}: "
			    "step \"%s\" has no output", len, e->text, name);
			free(name);
			return NULL;
		}
		free(name);
		v = next;
		first = 1;
	}
	for (i = first; i < e->nparts; i++) {
		p = &e->parts[i];
		/* The expression up to here, e.g. "input.a", names v. */
		what = e->text;
		if (p->is_index) {
			if (!json_is_array(v)) {
				orc_error_set(err, ORC_EINVAL, "template "
				    "{{%.*s}}: %.*s is %s, not an array", len,
				    e->text, (int)(i == 0 ? e->root_len :
				    e->parts[i - 1].end), what,
				    template_kind(v));
				return NULL;
			}
			next = json_array_get(v, p->index);
			if (next == NULL) {
				orc_error_set(err, ORC_EINVAL, "template "
				    "{{%.*s}}: index %zu out of range", len,
				    e->text, p->index);
				return NULL;
			}
		} else {
			if (!json_is_object(v)) {
				orc_error_set(err, ORC_EINVAL, "template "
				    "{{%.*s}}: %.*s is %s, not an object", len,
				    e->text, (int)(i == 0 ? e->root_len :
				    e->parts[i - 1].end), what,
				    template_kind(v));
				return NULL;
			}
			name = xstrndup(e->text + p->start, p->len);
			next = json_object_get(v, name);
			if (next == NULL) {
				orc_error_set(err, ORC_EINVAL, "template "
				    "{{%.*s}}: %.*s has no field \"%s\"", len,
				    e->text, (int)(i == 0 ? e->root_len :
				    e->parts[i - 1].end), what, name);
				free(name);
				return NULL;
			}
			free(name);
		}
		v = next;
	}
	return v;
}

/*
 * Renders one string. When exact is set and the string is a single
 * expression, returns the value it names (a new reference, shared with
 * ctx); otherwise returns a JSON string with each expression replaced by
 * its text.
 */
static json_t *
template_render_text(const char *s, size_t n, const json_t *ctx, int exact,
    struct orc_error *err)
{
	struct strbuf b = STRBUF_INIT;
	struct template_expr e;
	const char *open, *close, *end;
	const json_t *v;
	json_t *out;
	char *msg, *text;

	end = s + n;
	while ((open = strstr(s, "{{")) != NULL && open < end) {
		close = strstr(open + 2, "}}");
		if (close == NULL) {
			orc_error_set(err, ORC_EINVAL,
			    "unterminated template \"%s\"", open);
			goto fail;
		}
		if (template_parse(open + 2, close - open - 2, &e, &msg) != 0) {
			orc_error_set(err, ORC_EINVAL, "template \"%.*s\": %s",
			    (int)(close + 2 - open), open, msg);
			free(msg);
			goto fail;
		}
		v = template_resolve(&e, ctx, err);
		free(e.parts);
		if (v == NULL)
			goto fail;
		/* The whole string is one expression: keep the type. */
		if (exact && open == s && close + 2 == end && b.len == 0)
			return json_incref((json_t *)v);
		strbuf_add(&b, s, open - s);
		if (json_is_string(v))
			strbuf_add(&b, json_string_value(v),
			    json_string_length(v));
		else {
			if ((text = jsonenc_compact(v, NULL)) == NULL)
				fatal("a JSON value cannot be written");
			strbuf_puts(&b, text);
			free(text);
		}
		s = close + 2;
	}
	strbuf_add(&b, s, end - s);
	out = json_stringn(b.s, b.len);
	strbuf_free(&b);
	if (out == NULL)
		orc_error_set(err, ORC_EINVAL, "template result is not valid "
		    "UTF-8");
	return out;

fail:
	strbuf_free(&b);
	return NULL;
}

/* Renders value against ctx; NULL and err on failure. What holds no
 * template is shared with value, what one expression names with ctx. */
json_t *
template_render(const json_t *value, const json_t *ctx,
    struct orc_error *err)
{
	const json_t *v;
	const char *key;
	json_t *out, *sub;
	size_t i;

	if (value == NULL) {
		orc_error_set(err, ORC_EINVAL, "no value to render");
		return NULL;
	}
	switch (json_typeof(value)) {
	case JSON_STRING:
		if (!template_has_expr(json_string_value(value)))
			return json_incref((json_t *)value);
		return template_render_text(json_string_value(value),
		    json_string_length(value), ctx, 1, err);
	case JSON_OBJECT:
		out = json_object();
		json_object_foreach((json_t *)value, key, v) {
			if ((sub = template_render(v, ctx, err)) == NULL) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, key, sub);
		}
		return out;
	case JSON_ARRAY:
		out = json_array();
		json_array_foreach(value, i, v) {
			if ((sub = template_render(v, ctx, err)) == NULL) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, sub);
		}
		return out;
	default:
		return json_incref((json_t *)value);
	}
}

/* Renders one string into a new C string; NULL and err on failure. */
char *
template_render_string(const char *s, const json_t *ctx,
    struct orc_error *err)
{
	json_t *v;
	char *out;

	if (s == NULL) {
		orc_error_set(err, ORC_EINVAL, "no string to render");
		return NULL;
	}
	if ((v = template_render_text(s, strlen(s), ctx, 1, err)) == NULL)
		return NULL;
	if (json_is_string(v))
		out = xstrdup(json_string_value(v));
	else if ((out = jsonenc_compact(v, NULL)) == NULL)
		fatal("a JSON value cannot be written");
	json_decref(v);
	return out;
}
