/*
 * Tests for the choice step, through step_call as the engine runs it: the
 * conditions of the table tests/data/choice/conditions.json (each one the
 * only rule, against its input), the first matching rule winning, the
 * default, the input passing through unchanged, no match without a
 * default failing, and a rendered "with" that a template made wrong
 * failing with the path at fault. What validate says of a choice is in
 * test-workflow.c.
 */
#include "config.h"

#include <jansson.h>

#include "orchestrator.h"
#include "steps.h"
#include "test.h"

/* Parses test JSON or stops the whole test program. */
static json_t *
j(const char *text)
{
	json_t *v;
	json_error_t err;

	v = json_loads(text, JSON_DECODE_ANY, &err);
	if (v == NULL) {
		fprintf(stderr, "bad test JSON %s: %s\n", text, err.text);
		exit(99);
	}
	return v;
}

/* Runs the choice step on input with with; the caller frees the call. */
static struct step_call *
run_choice(const json_t *with, const json_t *input)
{
	struct step_call_params p;
	struct step_call *call;

	memset(&p, 0, sizeof p);
	p.entry = steps_find("choice");
	p.with = with;
	p.input = input;
	p.run_id = "01TESTRUN";
	p.workflow = "w";
	p.workflow_dir = ".";
	p.step_name = "pick";
	p.attempt = 1;
	p.idempotency_key = "01TESTRUN:pick:1";
	call = step_call_create(&p, NULL, NULL);
	if (step_call_start(call) != STEP_DONE) {
		fprintf(stderr, "choice did not finish inside start\n");
		exit(99);
	}
	return call;
}

/* The step chosen for input by with (JSON texts), or "FAIL: error". */
static char *
chosen(const char *with_text, const char *input_text)
{
	json_t *with = j(with_text), *input = j(input_text);
	struct step_call *call;
	char *s;

	call = run_choice(with, input);
	if (!step_call_ok(call))
		s = xasprintf("FAIL: %s", step_call_error(call));
	else
		s = xstrdup(step_call_next(call) ? step_call_next(call) :
		    "(none)");
	step_call_free(call);
	json_decref(with);
	json_decref(input);
	return s;
}

#define CHECK_CHOSEN(with, input, want) do {				\
	char *got_ = chosen(with, input);				\
	CHECK_STR(got_, want);						\
	free(got_);							\
} while (0)

/* Every condition of the table, as the one rule before a default. */
static void
test_choice_conditions(void)
{
	const json_t *c;
	struct step_call *call;
	json_t *cases, *with;
	json_error_t err;
	char path[1024];
	const char *top, *want, *got;
	size_t i;

	if ((top = getenv("TOP_SRCDIR")) == NULL || *top == '\0')
		top = "/work/main";
	snprintf(path, sizeof path, "%s/tests/data/choice/conditions.json",
	    top);
	cases = json_load_file(path, 0, &err);
	REQUIRE(cases != NULL);
	CHECK(json_array_size(cases) > 50);
	json_array_foreach(cases, i, c) {
		with = json_pack("{s:[{s:O,s:s}],s:s}", "rules", "when",
		    json_array_get(c, 1), "next", "yes", "default", "no");
		call = run_choice(with, json_array_get(c, 2));
		want = json_is_true(json_array_get(c, 3)) ? "yes" : "no";
		got = step_call_ok(call) ? step_call_next(call) :
		    step_call_error(call);
		if (got == NULL || strcmp(got, want) != 0) {
			fprintf(stderr, "case \"%s\": got %s, want %s\n",
			    json_string_value(json_array_get(c, 0)),
			    got ? got : "(null)", want);
			test_failed_checks++;
		}
		step_call_free(call);
		json_decref(with);
	}
	json_decref(cases);
}

/* The first rule that matches wins; its output is its input. */
static void
test_choice_first_rule(void)
{
	struct step_call *call;
	json_t *with, *input, *out;

	with = j("{\"rules\": ["
	    "{\"when\": {\"path\": \"n\", \"gt\": 10}, \"next\": \"big\"},"
	    "{\"when\": {\"path\": \"n\", \"gt\": 1}, \"next\": \"some\"},"
	    "{\"when\": {\"path\": \"n\", \"gt\": 0}, \"next\": \"one\"}]}");
	input = j("{\"n\": 5, \"list\": [1, {\"a\": null}]}");
	call = run_choice(with, input);
	REQUIRE(step_call_ok(call));
	CHECK_STR(step_call_next(call), "some");
	out = step_call_take_output(call);
	CHECK(json_equal(out, input));
	json_decref(out);
	step_call_free(call);
	json_decref(with);
	json_decref(input);
	CHECK_CHOSEN("{\"rules\": [{\"when\": {\"path\": \"n\", \"gt\": 10},"
	    " \"next\": \"big\"}], \"default\": \"small\"}", "{\"n\": 3}",
	    "small");
	CHECK_CHOSEN("{\"rules\": [{\"when\": {\"path\": \"n\", \"gt\": 10},"
	    " \"next\": \"big\"}], \"default\": \"small\"}", "{\"n\": 30}",
	    "big");
}

/* No rule matching and no default fails, for good, saying so. */
static void
test_choice_no_match(void)
{
	struct step_call *call;
	json_t *with, *input;

	with = j("{\"rules\": [{\"when\": {\"path\": \"kind\", \"equals\": "
	    "\"bug\"}, \"next\": \"bug\"}]}");
	input = j("{\"kind\": \"idea\"}");
	call = run_choice(with, input);
	CHECK(step_call_finished(call));
	CHECK(!step_call_ok(call));
	CHECK(!step_call_retryable(call));
	CHECK_STR(step_call_error(call), "no rule matched the input and "
	    "there is no \"default\"");
	CHECK(step_call_next(call) == NULL);
	step_call_free(call);
	json_decref(with);
	json_decref(input);
	/* A null input has no fields: only "exists": false holds. */
	CHECK_CHOSEN("{\"rules\": [{\"when\": {\"path\": \"a\", \"exists\": "
	    "false}, \"next\": \"none\"}]}", "null", "none");
}

/* A rendered "with" is checked again: a template made a wrong value. */
static void
test_choice_bad_with(void)
{
	CHECK_CHOSEN("{\"rules\": [{\"when\": {\"path\": \"n\", \"lt\": "
	    "{\"x\": 1}}, \"next\": \"a\"}]}", "{\"n\": 1}",
	    "FAIL: with.rules[0].when.lt: \"lt\" compares numbers or "
	    "strings: an object can never match");
	CHECK_CHOSEN("{\"rules\": [{\"when\": {\"path\": \"n\", \"in\": []},"
	    " \"next\": \"a\"}], \"default\": \"b\"}", "{\"n\": 1}",
	    "FAIL: with.rules[0].when.in: an empty \"in\" list can never "
	    "match");
	CHECK_CHOSEN("{\"rules\": [{\"when\": {\"path\": \"a[x]\", "
	    "\"exists\": true}, \"next\": \"a\"}]}", "{}",
	    "FAIL: with.rules[0].when.path: bad path \"a[x]\" (use field "
	    "names, dots and [index])");
	CHECK_CHOSEN("{\"rules\": []}", "{}",
	    "FAIL: with.rules: expected a non-empty array of rules");
	CHECK_CHOSEN("{}", "{}", "FAIL: with.rules: choice needs \"rules\", "
	    "an array of {\"when\", \"next\"}");
	/* At run time a rendered string is data, not a template. */
	CHECK_CHOSEN("{\"rules\": [{\"when\": {\"path\": \"s\", \"prefix\": "
	    "\"{{x}}\"}, \"next\": \"a\"}]}", "{\"s\": \"{{x}}y\"}", "a");
}

/* Paths that are not well formed, each refused. */
static void
test_choice_bad_paths(void)
{
	static const char *const bad[] = {
		".a", "a.", "a..b", "a[", "a[]", "a[1", "a[-1]", "a]", "a[0]b",
		"a.[0]", "[x]", "a[99999999999999999999999]", NULL
	};
	char *with, *want, *got;
	size_t i;

	for (i = 0; bad[i] != NULL; i++) {
		with = xasprintf("{\"rules\": [{\"when\": {\"path\": \"%s\", "
		    "\"exists\": true}, \"next\": \"a\"}]}", bad[i]);
		want = xasprintf("FAIL: with.rules[0].when.path: bad path "
		    "\"%s\" (use field names, dots and [index])", bad[i]);
		got = chosen(with, "{}");
		CHECK_STR(got, want);
		free(got);
		free(want);
		free(with);
	}
}

int
main(void)
{
	TEST_RUN(test_choice_conditions);
	TEST_RUN(test_choice_first_rule);
	TEST_RUN(test_choice_no_match);
	TEST_RUN(test_choice_bad_with);
	TEST_RUN(test_choice_bad_paths);
	TEST_DONE();
}
