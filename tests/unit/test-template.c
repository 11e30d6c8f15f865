/*
 * Tests for template.c: an exact expression keeps the type of what it
 * names, text around expressions interpolates, nested objects and arrays
 * in a "with" value render, indexing, missing fields and out-of-range
 * indexes fail with a message, and template_check() reports each kind of
 * problem with its path.
 */
#include "config.h"

#include <jansson.h>

#include "template.h"
#include "test.h"

/* What a message about an unknown root says the roots are. */
#define ROOTS	"(expected input, trigger, steps, run, or item and " \
		"item_index in a map's steps)"

static const char *ctx_text =
    "{\"input\":{\"customer\":\"acme\",\"qty\":3,\"price\":1.5,"
    "\"ok\":true,\"no\":false,\"none\":null,\"tags\":[\"a\",\"b\"],"
    "\"addr\":{\"city\":\"Oslo\",\"zip\":\"0150\"},\"snake_case-x\":1,"
    "\"empty\":\"\",\"utf\":\"h\xc3\xa9\"},"
    "\"trigger\":{\"headers\":{\"x-id\":\"t1\"}},"
    "\"steps\":{\"lookup\":{\"status\":200,\"body\":{\"items\":"
    "[{\"id\":7},{\"id\":8,\"tags\":[[1,2],[3]]}]}}},"
    "\"run\":{\"id\":\"r-42\"}}";

/* Parses JSON text that the test itself wrote. */
static json_t *
load(const char *text)
{
	json_error_t jerr;
	json_t *v;

	v = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (v == NULL)
		fprintf(stderr, "bad test JSON %s: %s\n", text, jerr.text);
	return v;
}

/* One exact-expression case: a template and the JSON it must render to. */
struct exact_case {
	const char	*tmpl;
	const char	*json;
};

static const struct exact_case exact_cases[] = {
	{ "{{input.customer}}", "\"acme\"" },
	{ "{{input.qty}}", "3" },
	{ "{{input.price}}", "1.5" },
	{ "{{input.ok}}", "true" },
	{ "{{input.no}}", "false" },
	{ "{{input.none}}", "null" },
	{ "{{input.tags}}", "[\"a\",\"b\"]" },
	{ "{{input.addr}}", "{\"city\":\"Oslo\",\"zip\":\"0150\"}" },
	{ "{{ input.qty }}", "3" },
	{ "{{\tinput.qty  }}", "3" },
	{ "{{input.tags[1]}}", "\"b\"" },
	{ "{{input.snake_case-x}}", "1" },
	{ "{{input.empty}}", "\"\"" },
	{ "{{trigger.headers.x-id}}", "\"t1\"" },
	{ "{{steps.lookup.status}}", "200" },
	{ "{{steps.lookup.body.items[1].id}}", "8" },
	{ "{{steps.lookup.body.items[1].tags[0][1]}}", "2" },
	{ "{{steps.lookup}}",
	    "{\"status\":200,\"body\":{\"items\":[{\"id\":7},{\"id\":8,"
	    "\"tags\":[[1,2],[3]]}]}}" },
	{ "{{run.id}}", "\"r-42\"" },
	{ "{{input}}", NULL },	/* the whole input: compared below */
	/* not exact: text or a second expression around it */
	{ " {{input.qty}}", "\" 3\"" },
	{ "{{input.qty}} ", "\"3 \"" },
	{ "{{input.qty}}{{input.qty}}", "\"33\"" },
	{ "no templates", "\"no templates\"" },
};

/* An exact expression keeps its type; anything else is a string. */
static void
test_template_render_exact(void)
{
	const struct exact_case *c;
	struct orc_error err;
	json_t *ctx, *in, *out, *want;
	size_t i;

	ctx = load(ctx_text);
	REQUIRE(ctx != NULL);
	for (i = 0; i < sizeof exact_cases / sizeof exact_cases[0]; i++) {
		c = &exact_cases[i];
		in = json_string(c->tmpl);
		orc_error_clear(&err);
		out = template_render(in, ctx, &err);
		if (out == NULL)
			fprintf(stderr, "case %zu: %s\n", i, err.message);
		CHECK(out != NULL);
		if (c->json != NULL)
			want = load(c->json);
		else
			want = json_incref(json_object_get(ctx, "input"));
		if (out != NULL && !json_equal(out, want)) {
			fprintf(stderr, "case %zu: %s gave the wrong value\n",
			    i, c->tmpl);
			CHECK(0);
		}
		/* 3 must stay an integer, 1.5 a real. */
		if (out != NULL && json_typeof(out) != json_typeof(want)) {
			fprintf(stderr, "case %zu: wrong type\n", i);
			CHECK(0);
		}
		json_decref(want);
		json_decref(out);
		json_decref(in);
	}
	json_decref(ctx);
}

/* The rendered value shares, not copies, what it takes whole from the
 * template and from ctx; its containers are new. */
static void
test_template_render_shares(void)
{
	json_t *ctx, *in, *out, *addr;

	ctx = load(ctx_text);
	addr = json_object_get(json_object_get(ctx, "input"), "addr");
	in = json_pack("{s:s, s:s, s:i, s:[i]}", "a", "{{input.addr}}",
	    "k", "constant", "n", 7, "l", 1);
	REQUIRE(in != NULL);
	out = template_render(in, ctx, NULL);
	REQUIRE(out != NULL);
	/* The whole-string expression is the value it names, referenced. */
	CHECK(json_object_get(out, "a") == addr);
	CHECK(addr->refcount == 2);
	/* What holds no template is the workflow's own value. */
	CHECK(json_object_get(out, "k") == json_object_get(in, "k"));
	CHECK(json_object_get(out, "n") == json_object_get(in, "n"));
	CHECK(json_array_get(json_object_get(out, "l"), 0) ==
	    json_array_get(json_object_get(in, "l"), 0));
	/* The containers are new: the template itself is left as it was. */
	CHECK(out != in);
	CHECK(json_object_get(out, "l") != json_object_get(in, "l"));
	CHECK_STR(json_string_value(json_object_get(in, "a")),
	    "{{input.addr}}");
	json_decref(out);
	CHECK(addr->refcount == 1);
	CHECK_STR(json_string_value(json_object_get(addr, "city")), "Oslo");
	json_decref(in);
	json_decref(ctx);
}

/* One string case: a template and its text, or an error message. */
struct string_case {
	const char	*tmpl;
	const char	*text;		/* NULL: must fail */
	const char	*message;
};

static const struct string_case string_cases[] = {
	{ "http://x/customers/{{input.customer}}", "http://x/customers/acme",
	    NULL },
	{ "{{input.customer}}", "acme", NULL },
	{ "{{input.qty}}", "3", NULL },
	{ "{{input.none}}", "null", NULL },
	{ "{{input.tags}}", "[\"a\",\"b\"]", NULL },
	{ "q={{input.qty}}&p={{input.price}}&ok={{input.ok}}",
	    "q=3&p=1.5&ok=true", NULL },
	{ "n={{input.none}} f={{ input.no }}", "n=null f=false", NULL },
	{ "a={{input.addr}}", "a={\"city\":\"Oslo\",\"zip\":\"0150\"}", NULL },
	{ "t={{input.tags}}", "t=[\"a\",\"b\"]", NULL },
	{ "results/{{run.id}}.json", "results/r-42.json", NULL },
	{ "[{{input.empty}}]", "[]", NULL },
	{ "{{input.utf}}!", "h\xc3\xa9!", NULL },
	{ "plain", "plain", NULL },
	{ "only } and }} here", "only } and }} here", NULL },
	{ "{{input.customer}}}", "acme}", NULL },
	{ "", "", NULL },
	/* errors */
	{ "x {{input.nope}}", NULL,
	    "template {{input.nope}}: input has no field \"nope\"" },
	{ "{{input.addr.street}}", NULL,
	    "template {{input.addr.street}}: input.addr has no field "
	    "\"street\"" },
	{ "{{steps.lookup.body.items[3]}}", NULL,
	    "template {{steps.lookup.body.items[3]}}: index 3 out of range" },
	{ "{{steps.lookup.body.items[1].tags[1][1]}}", NULL,
	    "template {{steps.lookup.body.items[1].tags[1][1]}}: index 1 out "
	    "of range" },
	{ "{{input.customer[0]}}", NULL,
	    "template {{input.customer[0]}}: input.customer is a string, not "
	    "an array" },
	{ "{{input.tags.first}}", NULL,
	    "template {{input.tags.first}}: input.tags is an array, not an "
	    "object" },
	{ "{{input.qty.x}}", NULL,
	    "template {{input.qty.x}}: input.qty is a number, not an object" },
	{ "{{input[0]}}", NULL,
	    "template {{input[0]}}: input is an object, not an array" },
	{ "{{steps.later.body}}", NULL,
	    "template {{steps.later.body}}: step \"later\" has no output" },
	{ "{{steps.lookup.status.x}}", NULL,
	    "template {{steps.lookup.status.x}}: steps.lookup.status is a "
	    "number, not an object" },
	{ "{{steps.lookup.nope}}", NULL,
	    "template {{steps.lookup.nope}}: steps.lookup has no field "
	    "\"nope\"" },
	{ "a {{input.x", NULL, "unterminated template \"{{input.x\"" },
	{ "{{inptu.x}}", NULL,
	    "template \"{{inptu.x}}\": unknown template root \"inptu\" "
	    ROOTS },
	{ "{{input..x}}", NULL,
	    "template \"{{input..x}}\": bad template expression \"input..x\"" },
	{ "{{ }}", NULL, "template \"{{ }}\": empty template" },
};

/* template_render_string(): text, JSON text, and every kind of failure. */
static void
test_template_render_string(void)
{
	const struct string_case *c;
	struct orc_error err;
	json_t *ctx;
	char *out;
	size_t i;

	ctx = load(ctx_text);
	REQUIRE(ctx != NULL);
	for (i = 0; i < sizeof string_cases / sizeof string_cases[0]; i++) {
		c = &string_cases[i];
		orc_error_clear(&err);
		out = template_render_string(c->tmpl, ctx, &err);
		if (c->text != NULL) {
			if (out == NULL)
				fprintf(stderr, "case %zu: %s\n", i,
				    err.message);
			CHECK_STR(out, c->text);
		} else {
			CHECK(out == NULL);
			CHECK(err.code == ORC_EINVAL);
			CHECK_STR(err.message, c->message);
		}
		free(out);
	}
	json_decref(ctx);
}

/* A "with" object with nested objects and arrays renders throughout. */
static void
test_template_render_nested(void)
{
	struct orc_error err;
	json_t *ctx, *with, *out, *want;

	ctx = load(ctx_text);
	with = load("{\"method\":\"POST\",\"url\":\"http://h/{{input.customer}}"
	    "/{{run.id}}\",\"headers\":{\"X-Trigger\":\"{{trigger.headers."
	    "x-id}}\",\"{{input.customer}}\":\"key not templated\"},"
	    "\"body\":{\"qty\":\"{{input.qty}}\",\"ids\":[\"{{steps.lookup."
	    "body.items[0].id}}\",\"{{steps.lookup.body.items[1].id}}\","
	    "[\"{{input.ok}}\",{\"deep\":\"{{input.addr.city}}\"}]]},"
	    "\"timeout\":5,\"retry\":true,\"extra\":null}");
	want = load("{\"method\":\"POST\",\"url\":\"http://h/acme/r-42\","
	    "\"headers\":{\"X-Trigger\":\"t1\",\"{{input.customer}}\":"
	    "\"key not templated\"},\"body\":{\"qty\":3,\"ids\":[7,8,"
	    "[true,{\"deep\":\"Oslo\"}]]},\"timeout\":5,\"retry\":true,"
	    "\"extra\":null}");
	REQUIRE(ctx != NULL && with != NULL && want != NULL);
	out = template_render(with, ctx, &err);
	REQUIRE(out != NULL);
	CHECK(json_equal(out, want));
	/* Key order is kept. */
	CHECK_STR(json_object_iter_key(json_object_iter(out)), "method");
	json_decref(out);

	/* A failure deep inside gives NULL and frees what was built. */
	json_array_append_new(json_object_get(json_object_get(with, "body"),
	    "ids"), json_string("{{steps.lookup.body.items[2].id}}"));
	orc_error_clear(&err);
	out = template_render(with, ctx, &err);
	CHECK(out == NULL);
	CHECK(err.code == ORC_EINVAL);
	CHECK_STR(err.message, "template {{steps.lookup.body.items[2].id}}: "
	    "index 2 out of range");
	json_decref(want);
	json_decref(with);
	json_decref(ctx);
}

/* A context without a root, or no context at all, is an error. */
static void
test_template_render_missing_root(void)
{
	struct orc_error err;
	json_t *ctx, *in, *out;
	char *s;

	ctx = load("{\"input\":{}}");
	in = json_string("{{trigger.x}}");
	out = template_render(in, ctx, &err);
	CHECK(out == NULL);
	CHECK_STR(err.message, "template {{trigger.x}}: trigger is not "
	    "available");
	s = template_render_string("{{run.id}}", NULL, &err);
	CHECK(s == NULL);
	CHECK_CONTAINS(err.message, "run is not available");
	/* A string without templates needs no context. */
	s = template_render_string("plain", NULL, NULL);
	CHECK_STR(s, "plain");
	free(s);
	json_decref(in);
	json_decref(ctx);
}

/* template_has_expr() looks for "{{". */
static void
test_template_has_expr(void)
{
	CHECK(template_has_expr("a {{input.x}}"));
	CHECK(template_has_expr("{{"));
	CHECK(template_has_expr("x{{y"));
	CHECK(!template_has_expr("plain"));
	CHECK(!template_has_expr("{ {"));
	CHECK(!template_has_expr("}}"));
	CHECK(!template_has_expr(""));
	CHECK(!template_has_expr(NULL));
}

/* Collects reports as "path: message" lines. */
struct reports {
	char	text[4096];
	int	count;
};

/* The report callback for template_check(). */
static void
collect_cb(void *arg, const char *path, const char *message)
{
	struct reports *r = arg;
	size_t len = strlen(r->text);

	snprintf(r->text + len, sizeof r->text - len, "%s: %s\n", path,
	    message);
	r->count++;
}

/* One check case: a value and the reports it must give, in order. */
struct check_case {
	const char	*value;
	const char	*reports;	/* "" for none */
};

static const struct check_case check_cases[] = {
	{ "{\"url\":\"http://x/{{input.id}}/{{ steps.lookup.body[0] }}\","
	    "\"n\":1,\"b\":true,\"z\":null,\"k\":\"{{run.id}}{{trigger.h}}\"}",
	    "" },
	{ "{\"url\":\"{{inptu.x}}\"}",
	    "url: unknown template root \"inptu\" " ROOTS "\n" },
	{ "{\"url\":\"a {{input.x\"}",
	    "url: unterminated template \"{{input.x\"\n" },
	{ "{\"headers\":{\"Authorization\":\"Bearer {{}}\"}}",
	    "headers.Authorization: empty template\n" },
	{ "{\"headers\":{\"Authorization\":\"Bearer {{   }}\"}}",
	    "headers.Authorization: empty template\n" },
	{ "{\"x\":\"{{steps.nope.body}}\"}",
	    "x: steps.nope: no step named \"nope\"\n" },
	{ "{\"args\":[1,\"ok\",\"{{input..x}}\"]}",
	    "args[2]: bad template expression \"input..x\"\n" },
	{ "{\"a\":\"{{input.}}\",\"b\":\"{{input[x]}}\",\"c\":\"{{input[1}}\","
	    "\"d\":\"{{input.a b}}\",\"e\":\"{{.x}}\",\"f\":\"{{steps[0]}}\","
	    "\"g\":\"{{input.x!}}\",\"h\":\"{{input[-1]}}\","
	    "\"i\":\"{{input[99999999999999999999999]}}\"}",
	    "a: bad template expression \"input.\"\n"
	    "b: bad template expression \"input[x]\"\n"
	    "c: bad template expression \"input[1\"\n"
	    "d: bad template expression \"input.a b\"\n"
	    "e: bad template expression \".x\"\n"
	    "f: bad template expression \"steps[0]\"\n"
	    "g: bad template expression \"input.x!\"\n"
	    "h: bad template expression \"input[-1]\"\n"
	    "i: bad template expression \"input[99999999999999999999999]\"\n" },
	/* several problems in one string, and nested paths */
	{ "{\"o\":{\"list\":[{\"s\":\"{{foo}} {{steps.gone.x}} {{input.y\"}]},"
	    "\"a.b\":\"{{bar.x}}\"}",
	    "o.list[0].s: unknown template root \"foo\" " ROOTS "\n"
	    "o.list[0].s: steps.gone: no step named \"gone\"\n"
	    "o.list[0].s: unterminated template \"{{input.y\"\n"
	    "[\"a.b\"]: unknown template root \"bar\" " ROOTS "\n" },
	/* object keys are not templated */
	{ "{\"{{bad\":\"fine\"}", "" },
	/* the value itself as a string */
	{ "\"{{nope}}\"", "(root): unknown template root \"nope\" " ROOTS
	    "\n" },
	{ "[\"{{input.a}}\",[\"{{x}}\"]]", "[1][0]: unknown template root "
	    "\"x\" " ROOTS "\n" },
};

/* Every kind of template_check() problem, with its path. */
static void
test_template_check_table(void)
{
	const struct check_case *c;
	struct reports r;
	json_t *value, *names;
	size_t i;
	int n;

	names = load("[\"lookup\",\"charge\"]");
	REQUIRE(names != NULL);
	for (i = 0; i < sizeof check_cases / sizeof check_cases[0]; i++) {
		c = &check_cases[i];
		value = load(c->value);
		REQUIRE(value != NULL);
		memset(&r, 0, sizeof r);
		n = template_check(value, names, collect_cb, &r);
		CHECK(n == r.count);
		if (strcmp(r.text, c->reports) != 0)
			fprintf(stderr, "case %zu\n", i);
		CHECK_STR(r.text, c->reports);
		json_decref(value);
	}
	json_decref(names);
}

/* Without step names, steps.NAME is not checked. */
static void
test_template_check_no_step_names(void)
{
	struct reports r;
	json_t *value;

	value = load("{\"x\":\"{{steps.anything.body}}\","
	    "\"y\":\"{{stps.a}}\"}");
	memset(&r, 0, sizeof r);
	CHECK(template_check(value, NULL, collect_cb, &r) == 1);
	CHECK_CONTAINS(r.text, "y: unknown template root \"stps\"");
	json_decref(value);
}

int
main(void)
{
	TEST_RUN(test_template_render_exact);
	TEST_RUN(test_template_render_shares);
	TEST_RUN(test_template_render_string);
	TEST_RUN(test_template_render_nested);
	TEST_RUN(test_template_render_missing_root);
	TEST_RUN(test_template_has_expr);
	TEST_RUN(test_template_check_table);
	TEST_RUN(test_template_check_no_step_names);
	TEST_DONE();
}
