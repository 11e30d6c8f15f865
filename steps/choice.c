/*
 * The choice step: branching without a script, like a cloud state
 * machine's Choice state. Its "with" holds "rules", each {"when":
 * CONDITION, "next": STEP}, and an optional "default" STEP; the first rule
 * whose condition holds for the step's input names the next step, else the
 * default does, else the step fails. Its output is its input unchanged.
 *
 * A condition is a comparison, {"path": "items[0].kind", OP: VALUE} with
 * exactly one OP, or a combination: {"all": [...]}, {"any": [...]},
 * {"not": CONDITION}. The path reads the input with field names, dots and
 * [index] ("" is the input itself). A comparison whose path names nothing
 * is false, whatever its operator, except "exists": false.
 *
 * The same check serves the loader (every problem reported, templates
 * skipped, targets handed to the loader, which knows the step names) and
 * the run (the rendered "with" checked again: a template may have made a
 * value of the wrong type; the first problem fails the step).
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "orchestrator.h"
#include "steps.h"
#include "template.h"

static const char *const choice_keys[] = { "rules", "default", NULL };

/* What an operator's value may be. */
#define CHOICE_ANY	0x01		/* any JSON value */
#define CHOICE_ORDERED	0x02		/* a number or a string */
#define CHOICE_LIST	0x04		/* a non-empty array */
#define CHOICE_BOOL	0x08
#define CHOICE_STRING	0x10

enum choice_op {
	CHOICE_EQUALS, CHOICE_NOT_EQUALS, CHOICE_LT, CHOICE_LTE, CHOICE_GT,
	CHOICE_GTE, CHOICE_IN, CHOICE_EXISTS, CHOICE_PREFIX, CHOICE_CONTAINS,
	CHOICE_NOPS
};

static const struct choice_op_def {
	const char	*name;
	unsigned	 takes;
} choice_ops[CHOICE_NOPS] = {
	[CHOICE_EQUALS] = { "equals", CHOICE_ANY },
	[CHOICE_NOT_EQUALS] = { "not_equals", CHOICE_ANY },
	[CHOICE_LT] = { "lt", CHOICE_ORDERED },
	[CHOICE_LTE] = { "lte", CHOICE_ORDERED },
	[CHOICE_GT] = { "gt", CHOICE_ORDERED },
	[CHOICE_GTE] = { "gte", CHOICE_ORDERED },
	[CHOICE_IN] = { "in", CHOICE_LIST },
	[CHOICE_EXISTS] = { "exists", CHOICE_BOOL },
	[CHOICE_PREFIX] = { "prefix", CHOICE_STRING },
	[CHOICE_CONTAINS] = { "contains", CHOICE_ANY },
};

static const char *const choice_combinators[] = { "all", "any", "not", NULL };

/* One check of a "with": where its problems go. */
struct choice_check {
	struct step_checker	*chk;		/* loading; NULL: running */
	char			*first;		/* running: 1st problem */
};

/* Reports a problem at path (relative to the step, "with.rules[0]"). */
static void ORC_PRINTF(3, 4)
choice_problem(struct choice_check *cc, const char *path, const char *fmt,
    ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (cc->chk != NULL)
		step_check_error(cc->chk, path, "%s", msg);
	else if (cc->first == NULL)
		cc->first = xasprintf("%s: %s", path, msg);
	free(msg);
}

/* Whether a value as written is left to the run: a template, at load. */
static int
choice_later(const struct choice_check *cc, const json_t *v)
{
	return cc->chk != NULL && step_value_is_template(v);
}

/*
 * Walks path ("a.b[2].c", "" for v itself) into v. Returns -1 when the
 * path is not well formed, else 0 with *out the value or NULL when the
 * path names nothing in v (v may be NULL to check the syntax alone).
 */
static int
choice_walk(const json_t *v, const char *path, const json_t **out)
{
	const char *p = path, *end;
	size_t idx;

	while (*p != '\0') {
		if (*p == '[') {
			if (!isdigit((unsigned char)*++p))
				return -1;
			for (idx = 0; isdigit((unsigned char)*p); p++) {
				if (idx > (SIZE_MAX - 9) / 10)
					return -1;
				idx = idx * 10 + (size_t)(*p - '0');
			}
			if (*p++ != ']')
				return -1;
			v = json_array_get(v, idx);
		} else {
			if ((end = p + strcspn(p, ".[]")) == p || *end == ']')
				return -1;
			v = json_object_getn(v, p, (size_t)(end - p));
			p = end;
		}
		/* After a part: the end, "[", or "." and a field name. */
		if (*p == '.' && (p[1] == '\0' || strchr(".[]", p[1]) != NULL))
			return -1;
		if (*p == '.')
			p++;
		else if (*p != '\0' && *p != '[')
			return -1;
	}
	*out = v;
	return 0;
}

/* The operator an object names, or CHOICE_NOPS; *count says how many. */
static enum choice_op
choice_find_op(const json_t *cond, int *count)
{
	enum choice_op op, found = CHOICE_NOPS;

	*count = 0;
	for (op = 0; op < CHOICE_NOPS; op++) {
		if (json_object_get(cond, choice_ops[op].name) != NULL) {
			found = op;
			(*count)++;
		}
	}
	return found;
}

/* Whether key may appear in a condition. */
static int
choice_cond_key(const char *key)
{
	enum choice_op op;
	size_t i;

	if (strcmp(key, "path") == 0)
		return 1;
	for (op = 0; op < CHOICE_NOPS; op++) {
		if (strcmp(key, choice_ops[op].name) == 0)
			return 1;
	}
	for (i = 0; choice_combinators[i] != NULL; i++) {
		if (strcmp(key, choice_combinators[i]) == 0)
			return 1;
	}
	return 0;
}

/* Checks an operator's value: a rule of the wrong type never matches. */
static void
choice_check_operand(struct choice_check *cc, enum choice_op op,
    const json_t *v, const char *path)
{
	const char *name = choice_ops[op].name;
	unsigned takes = choice_ops[op].takes;

	if ((takes & CHOICE_ANY) || choice_later(cc, v))
		return;
	if (takes & CHOICE_ORDERED) {
		if (!json_is_number(v) && !json_is_string(v))
			choice_problem(cc, path, "\"%s\" compares numbers or "
			    "strings: %s can never match", name,
			    template_kind(v));
	} else if (takes & CHOICE_LIST) {
		if (!json_is_array(v))
			choice_problem(cc, path, "\"in\" takes an array of "
			    "values, not %s", template_kind(v));
		else if (json_array_size(v) == 0)
			choice_problem(cc, path, "an empty \"in\" list can "
			    "never match");
	} else if ((takes & CHOICE_BOOL) && !json_is_boolean(v))
		choice_problem(cc, path, "\"%s\" takes true or false, not %s",
		    name, template_kind(v));
	else if ((takes & CHOICE_STRING) && !json_is_string(v))
		choice_problem(cc, path, "\"%s\" matches strings: %s can never "
		    "match", name, template_kind(v));
}

/* Checks a comparison: a well-formed "path" and one operator. */
static void
choice_check_compare(struct choice_check *cc, const json_t *cond,
    const char *path)
{
	const json_t *pv, *out;
	enum choice_op op;
	char *kp;
	int n;

	pv = json_object_get(cond, "path");
	kp = xasprintf("%s.path", path);
	if (pv == NULL)
		choice_problem(cc, path, "a condition needs \"path\" (or "
		    "\"all\", \"any\" or \"not\")");
	else if (!json_is_string(pv))
		choice_problem(cc, kp, "expected a string such as "
		    "\"order.items[0].kind\"");
	else if (!choice_later(cc, pv) &&
	    choice_walk(NULL, json_string_value(pv), &out) != 0)
		choice_problem(cc, kp, "bad path \"%s\" (use field names, "
		    "dots and [index])", json_string_value(pv));
	free(kp);
	if ((op = choice_find_op(cond, &n)) == CHOICE_NOPS) {
		choice_problem(cc, path, "a condition needs an operator: "
		    "equals, not_equals, lt, lte, gt, gte, in, exists, "
		    "prefix or contains");
		return;
	}
	if (n > 1) {
		choice_problem(cc, path, "a condition has one operator; "
		    "combine several with \"all\"");
		return;
	}
	kp = xasprintf("%s.%s", path, choice_ops[op].name);
	choice_check_operand(cc, op, json_object_get(cond, choice_ops[op].name),
	    kp);
	free(kp);
}

static void	choice_check_cond(struct choice_check *, const json_t *,
		    const char *);

/* Checks "all" or "any": a non-empty array of conditions. */
static void
choice_check_list(struct choice_check *cc, const json_t *list,
    const char *path)
{
	const json_t *c;
	char *ip;
	size_t i;

	if (!json_is_array(list) || json_array_size(list) == 0) {
		choice_problem(cc, path, "expected a non-empty array of "
		    "conditions");
		return;
	}
	json_array_foreach(list, i, c) {
		ip = xasprintf("%s[%zu]", path, i);
		choice_check_cond(cc, c, ip);
		free(ip);
	}
}

/* Checks a condition at path: a combination or a comparison. */
static void
choice_check_cond(struct choice_check *cc, const json_t *cond,
    const char *path)
{
	const char *key, *comb = NULL;
	const json_t *v;
	char *kp;

	if (!json_is_object(cond)) {
		choice_problem(cc, path, "expected a condition object");
		return;
	}
	json_object_foreach((json_t *)cond, key, v) {
		kp = xasprintf("%s.%s", path, key);
		if (!choice_cond_key(key))
			choice_problem(cc, kp, "unknown key \"%s\" in a "
			    "condition", key);
		else if (strcmp(key, "all") == 0 || strcmp(key, "any") == 0 ||
		    strcmp(key, "not") == 0)
			comb = key;
		free(kp);
	}
	if (comb == NULL) {
		choice_check_compare(cc, cond, path);
		return;
	}
	kp = xasprintf("%s.%s", path, comb);
	if (json_object_size(cond) > 1)
		choice_problem(cc, path, "\"%s\" stands alone in its condition "
		    "object", comb);
	else if (strcmp(comb, "not") == 0)
		choice_check_cond(cc, json_object_get(cond, comb), kp);
	else
		choice_check_list(cc, json_object_get(cond, comb), kp);
	free(kp);
}

/* Checks a target step name; the loader checks that the step exists. */
static void
choice_check_target(struct choice_check *cc, const json_t *v,
    const char *path)
{
	if (!json_is_string(v))
		choice_problem(cc, path, "expected a step name");
	else if (step_value_is_template(v))
		choice_problem(cc, path, "expected a step name, not a "
		    "template: the steps a choice goes to are checked when "
		    "the file loads");
	else if (cc->chk != NULL)
		step_check_target(cc->chk, path, json_string_value(v));
}

/* Checks one rule: {"when": CONDITION, "next": STEP}. */
static void
choice_check_rule(struct choice_check *cc, const json_t *rule,
    const char *path)
{
	const char *key;
	const json_t *v;
	char *kp;

	if (!json_is_object(rule)) {
		choice_problem(cc, path, "expected a rule {\"when\": "
		    "CONDITION, \"next\": STEP}");
		return;
	}
	json_object_foreach((json_t *)rule, key, v) {
		kp = xasprintf("%s.%s", path, key);
		if (strcmp(key, "when") == 0)
			choice_check_cond(cc, v, kp);
		else if (strcmp(key, "next") == 0)
			choice_check_target(cc, v, kp);
		else
			choice_problem(cc, kp, "unknown key \"%s\" in a rule "
			    "(allowed: when, next)", key);
		free(kp);
	}
	if (json_object_get(rule, "when") == NULL)
		choice_problem(cc, path, "a rule needs \"when\", its "
		    "condition");
	if (json_object_get(rule, "next") == NULL)
		choice_problem(cc, path, "a rule needs \"next\", the step it "
		    "goes to");
}

/* Checks a whole "with": "rules" and "default". */
static void
choice_check_with(struct choice_check *cc, const json_t *with)
{
	const json_t *rules, *rule, *def;
	char *ip;
	size_t i;

	rules = json_object_get(with, "rules");
	if (rules == NULL)
		choice_problem(cc, "with.rules", "choice needs \"rules\", an "
		    "array of {\"when\", \"next\"}");
	else if (!json_is_array(rules) || json_array_size(rules) == 0)
		choice_problem(cc, "with.rules", "expected a non-empty array "
		    "of rules");
	else {
		json_array_foreach(rules, i, rule) {
			ip = xasprintf("with.rules[%zu]", i);
			choice_check_rule(cc, rule, ip);
			free(ip);
		}
	}
	if ((def = json_object_get(with, "default")) != NULL)
		choice_check_target(cc, def, "with.default");
}

/* Loader's check of "with" as written. */
static void
choice_check(const json_t *with, struct step_checker *chk)
{
	struct choice_check cc = { chk, NULL };

	choice_check_with(&cc, with);
}

/* Whether two values are equal; numbers by value (1 equals 1.0). */
static int
choice_equal(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) <= json_number_value(b) &&
		    json_number_value(a) >= json_number_value(b);
	return json_equal(a, b);
}

/* Orders a against b: -1, 0 or 1; 2 when they do not compare. */
static int
choice_order(const json_t *a, const json_t *b)
{
	double x, y;
	size_t la, lb;
	int c;

	if (json_is_integer(a) && json_is_integer(b))
		return (json_integer_value(a) > json_integer_value(b)) -
		    (json_integer_value(a) < json_integer_value(b));
	if (json_is_number(a) && json_is_number(b)) {
		x = json_number_value(a);
		y = json_number_value(b);
		return (x > y) - (x < y);
	}
	if (!json_is_string(a) || !json_is_string(b))
		return 2;
	/* Byte order: ISO 8601 times in one zone sort as they happen. */
	la = json_string_length(a);
	lb = json_string_length(b);
	c = memcmp(json_string_value(a), json_string_value(b),
	    la < lb ? la : lb);
	if (c == 0)
		return (la > lb) - (la < lb);
	return c < 0 ? -1 : 1;
}

/* Whether value (present) holds what "contains" asks for. */
static int
choice_contains(const json_t *value, const json_t *want)
{
	const json_t *e;
	size_t i;

	if (json_is_array(value)) {
		json_array_foreach(value, i, e) {
			if (choice_equal(e, want))
				return 1;
		}
		return 0;
	}
	if (!json_is_string(value) || !json_is_string(want))
		return 0;
	return memmem(json_string_value(value), json_string_length(value),
	    json_string_value(want), json_string_length(want)) != NULL;
}

/* Whether a comparison (checked) holds of value, NULL when absent. */
static int
choice_compare(enum choice_op op, const json_t *value, const json_t *want)
{
	const json_t *e;
	size_t i;
	int o;

	if (op == CHOICE_EXISTS)
		return (value != NULL) == json_is_true(want);
	if (value == NULL)
		return 0;
	o = choice_order(value, want);
	switch (op) {
	case CHOICE_EQUALS:
		return choice_equal(value, want);
	case CHOICE_NOT_EQUALS:
		return !choice_equal(value, want);
	case CHOICE_LT:
		return o == -1;
	case CHOICE_LTE:
		return o == -1 || o == 0;
	case CHOICE_GT:
		return o == 1;
	case CHOICE_GTE:
		return o == 1 || o == 0;
	case CHOICE_IN:
		json_array_foreach(want, i, e) {
			if (choice_equal(value, e))
				return 1;
		}
		return 0;
	case CHOICE_PREFIX:
		return json_is_string(value) && json_string_length(value) >=
		    json_string_length(want) && memcmp(json_string_value(value),
		    json_string_value(want), json_string_length(want)) == 0;
	case CHOICE_CONTAINS:
		return choice_contains(value, want);
	default:
		return 0;
	}
}

/* Whether a condition (checked) holds of the input. */
static int
choice_match(const json_t *cond, const json_t *input)
{
	const json_t *v, *c;
	enum choice_op op;
	size_t i;
	int n;

	if ((v = json_object_get(cond, "not")) != NULL)
		return !choice_match(v, input);
	if ((v = json_object_get(cond, "all")) != NULL) {
		json_array_foreach(v, i, c) {
			if (!choice_match(c, input))
				return 0;
		}
		return 1;
	}
	if ((v = json_object_get(cond, "any")) != NULL) {
		json_array_foreach(v, i, c) {
			if (choice_match(c, input))
				return 1;
		}
		return 0;
	}
	op = choice_find_op(cond, &n);
	if (choice_walk(input, json_string_value(json_object_get(cond,
	    "path")), &v) != 0)
		return 0;
	return choice_compare(op, v, json_object_get(cond,
	    choice_ops[op].name));
}

/* Picks the next step by the rules; the input passes through. */
static enum step_status
choice_start(struct step_call *call)
{
	const json_t *with = step_call_with(call);
	const json_t *input = step_call_input(call);
	const json_t *rule, *def;
	struct choice_check cc = { NULL, NULL };
	size_t i;

	choice_check_with(&cc, with);
	if (cc.first != NULL) {
		step_call_fail(call, 0, "%s", cc.first);
		free(cc.first);
		return STEP_DONE;
	}
	json_array_foreach(json_object_get(with, "rules"), i, rule) {
		if (choice_match(json_object_get(rule, "when"), input)) {
			step_call_set_next(call, json_string_value(
			    json_object_get(rule, "next")));
			break;
		}
	}
	def = json_object_get(with, "default");
	if (i == json_array_size(json_object_get(with, "rules"))) {
		if (def == NULL) {
			step_call_fail(call, 0, "no rule matched the input "
			    "and there is no \"default\"");
			return STEP_DONE;
		}
		step_call_set_next(call, json_string_value(def));
	}
	step_call_succeed(call, json_incref((json_t *)input));
	return STEP_DONE;
}

const struct step_entry step_choice_entry = {
	.name = "choice",
	.summary = "go to the step of the first rule that matches the input",
	.keys = choice_keys,
	.check = choice_check,
	.start = choice_start,
	.pure = 1,
};
