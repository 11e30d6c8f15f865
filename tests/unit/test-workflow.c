/*
 * Tests for the workflow loader: a file with many problems reports each at
 * its FILE:LINE:COLUMN, syntax errors and duplicate keys come from jansson,
 * defaults merge into every step, accessors return what the file says, and
 * a folder loads in name order with bad files and taken names skipped.
 * Data files live in tests/data/workflows under TOP_SRCDIR.
 */
#include "config.h"

#include <sys/stat.h>

#include <jansson.h>

#include "diag.h"
#include "orchestrator.h"
#include "steps.h"
#include "workflow.h"
#include "test.h"

/* A path under tests/data/workflows, in a static buffer. */
static const char *
data_path(const char *name)
{
	static char buf[1024];
	const char *top;

	if ((top = getenv("TOP_SRCDIR")) == NULL || *top == '\0')
		top = "/work/main";
	snprintf(buf, sizeof buf, "%s/tests/data/workflows/%s", top, name);
	return buf;
}

/* Writes a file in the current (temporary) folder. */
static int
write_file(const char *path, const char *text)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Prints every diagnostic, to see what a failing test got. */
static void
dump(const struct diag *d)
{
	size_t i;

	for (i = 0; i < diag_count(d); i++)
		fprintf(stderr, "  diag: %s\n", diag_at(d, i));
}

/* What "unknown step type" adds: every built-in type, in table order. */
#define STEP_TYPES	" (the types are json.decode, json.encode, " \
	"base64.decode, base64.encode, bucket.put, wait, wait.signal, " \
	"transform, http.request, lua, bucket.get, choice, map, parallel, " \
	"workflow)"

/* Whether one diagnostic is exactly "file:want". */
static int
has_diag(const struct diag *d, const char *file, const char *want)
{
	char *full;
	size_t i;
	int found = 0;

	full = xasprintf("%s:%s", file, want);
	for (i = 0; i < diag_count(d) && !found; i++)
		found = strcmp(diag_at(d, i), full) == 0;
	if (!found) {
		fprintf(stderr, "missing diagnostic: %s\n", full);
		dump(d);
	}
	free(full);
	return found;
}

/* Whether one diagnostic starts with "file:want". */
static int
has_diag_prefix(const struct diag *d, const char *file, const char *want)
{
	char *full;
	size_t i;
	int found = 0;

	full = xasprintf("%s:%s", file, want);
	for (i = 0; i < diag_count(d) && !found; i++)
		found = strncmp(diag_at(d, i), full, strlen(full)) == 0;
	if (!found) {
		fprintf(stderr, "missing diagnostic: %s...\n", full);
		dump(d);
	}
	free(full);
	return found;
}

/* Loads text that should fail with exactly one diagnostic holding want. */
static int
one_problem(const char *text, const char *want)
{
	struct diag *d = diag_create();
	struct workflow *wf;
	int ok;

	wf = workflow_load_text(text, strlen(text), "t.json", d);
	ok = wf == NULL && diag_count(d) == 1 &&
	    strstr(diag_at(d, 0), want) != NULL;
	if (!ok) {
		fprintf(stderr, "text: %s\nwanted one problem: %s\n", text,
		    want);
		dump(d);
	}
	workflow_unref(wf);
	diag_free(d);
	return ok;
}

/* Every problem of a bad file, each at the key or value at fault. */
static void
test_workflow_many_problems(void)
{
	struct diag *d = diag_create();
	struct workflow *wf;
	const char *file;
	size_t i;
	int line0, col0, line1, col1;

	file = data_path("bad-many.json");
	wf = workflow_load_file(file, d);
	CHECK(wf == NULL);
	CHECK(has_diag(d, file, "1:1: missing required key \"name\""));
	CHECK(has_diag(d, file, "3:3: unknown key \"retires\""));
	CHECK(has_diag(d, file,
	    "4:3: concurrency: expected a positive integer"));
	CHECK(has_diag(d, file,
	    "5:3: input: unknown schema keyword \"requird\""));
	CHECK(has_diag(d, file,
	    "8:24: steps[1].uses: unknown step type \"jsn.decode\""
	    STEP_TYPES));
	CHECK(has_diag(d, file,
	    "9:7: steps[2].name: duplicate step name \"decode\""));
	CHECK(has_diag(d, file, "9:51: steps[2].with.ms: steps.nope: "
	    "no step named \"nope\""));
	CHECK(has_diag(d, file, "11:17: steps[3].with.pretty: "
	    "unterminated template \"{{input.x\""));
	CHECK(has_diag(d, file, "11:40: unknown key \"indent\" in "
	    "steps[3].with (allowed: pretty, sort_keys)"));
	CHECK(has_diag_prefix(d, file, "12:41: steps[4].script: cannot "
	    "read "));
	CHECK(has_diag_prefix(d, file,
	    "13:46: steps[5].with.ms: wait \"ms\" must be"));
	CHECK(has_diag(d, file, "14:18: steps[5].retry.max_attempts: "
	    "expected a positive integer"));
	CHECK(has_diag(d, file,
	    "14:37: steps[5].retry.jitter: expected true or false"));
	CHECK(has_diag(d, file,
	    "14:56: unknown key \"timout_ms\" in steps[5]"));
	CHECK(has_diag(d, file, "16:29: trigger.webhook.path: \"hooks/x\" "
	    "is not a url path starting with \"/\""));
	CHECK(has_diag(d, file, "16:48: trigger.webhook.mode: expected "
	    "\"async\" or \"sync\", not \"fast\""));
	/* Nothing else: no problem reported twice, none made up. */
	CHECK(diag_count(d) == 16);
	if (diag_count(d) != 16)
		dump(d);
	/* From the top of the file down, whatever order they were found. */
	for (i = 1; i < diag_count(d); i++) {
		CHECK(sscanf(diag_at(d, i - 1) + strlen(file), ":%d:%d",
		    &line0, &col0) == 2);
		CHECK(sscanf(diag_at(d, i) + strlen(file), ":%d:%d", &line1,
		    &col1) == 2);
		CHECK(line0 < line1 || (line0 == line1 && col0 <= col1));
	}
	diag_free(d);
}

/* A syntax error is one diagnostic, where jansson says it is. */
static void
test_workflow_syntax_error(void)
{
	struct diag *d = diag_create();
	const char *file;
	json_error_t jerr;
	char *want;

	file = data_path("syntax-error.json");
	CHECK(workflow_load_file(file, d) == NULL);
	REQUIRE(diag_count(d) == 1);
	CHECK(has_diag(d, file,
	    "6:14: '}' expected near '\"on_failure\"'"));
	/* The same place jansson gives for the file itself. */
	CHECK(json_load_file(file, 0, &jerr) == NULL);
	want = xasprintf("%s:%d:%d: %s", file, jerr.line, jerr.column,
	    jerr.text);
	CHECK_STR(diag_at(d, 0), want);
	free(want);
	diag_free(d);
}

/* Duplicate keys are rejected, at any depth. */
static void
test_workflow_duplicate_key(void)
{
	struct diag *d = diag_create();
	const char *file;

	file = data_path("duplicate-key.json");
	CHECK(workflow_load_file(file, d) == NULL);
	CHECK(diag_count(d) == 1);
	CHECK(has_diag(d, file, "4:58: duplicate object key near '\"ms\"'"));
	diag_free(d);
}

/* What a valid file says comes back through the accessors. */
static void
test_workflow_accessors(void)
{
	struct diag *d = diag_create();
	const struct workflow_step *st;
	struct workflow *wf;
	const json_t *j;
	const char *file;
	char *text, hash[65];
	size_t len;

	file = data_path("full.json");
	wf = workflow_load_file(file, d);
	CHECK(diag_count(d) == 0);
	dump(d);
	REQUIRE(wf != NULL);
	CHECK_STR(workflow_name(wf), "order-total");
	CHECK_STR(workflow_description(wf),
	    "Sum an order and store the total");
	CHECK_STR(workflow_path(wf), file);
	text = orc_read_file(file, &len, NULL);
	REQUIRE(text != NULL);
	CHECK_STR(workflow_text(wf), text);
	orc_sha256_hex(text, len, hash);
	CHECK_STR(workflow_hash(wf), hash);
	CHECK(strlen(workflow_hash(wf)) == 64);
	free(text);
	CHECK(strstr(file, workflow_dir(wf)) == file);
	CHECK_CONTAINS(workflow_dir(wf), "tests/data/workflows");
	CHECK(workflow_dir(wf)[strlen(workflow_dir(wf)) - 1] != '/');

	CHECK(json_is_object(workflow_json(wf)));
	j = workflow_input_schema(wf);
	CHECK(json_array_size(json_object_get(j, "required")) == 2);
	j = workflow_output_schema(wf);
	CHECK_STR(json_string_value(json_array_get(json_object_get(j,
	    "required"), 1)), "total");
	j = json_object_get(workflow_trigger(wf), "webhook");
	CHECK_STR(json_string_value(json_object_get(j, "path")),
	    "/hooks/order-total");
	j = json_object_get(workflow_allow(wf), "buckets");
	CHECK_STR(json_string_value(json_array_get(j, 0)), "results");
	CHECK(workflow_timeout_ms(wf) == 60000);
	CHECK(workflow_concurrency(wf) == 8);

	REQUIRE(workflow_step_count(wf) == 4);
	CHECK_STR(workflow_step_name(workflow_step_at(wf, 0)), "decode");
	CHECK_STR(workflow_step_name(workflow_step_at(wf, 3)), "publish");
	CHECK(workflow_step_at(wf, 4) == NULL);
	CHECK(workflow_step_index(wf, "encode") == 2);
	CHECK(workflow_step_index(wf, "publish") == 3);
	CHECK(workflow_step_index(wf, "missing") == -1);
	st = workflow_step_at(wf, 1);
	CHECK_STR(workflow_step_uses(st), "wait");
	CHECK(workflow_step_entry(st) == steps_find("wait"));
	CHECK(workflow_step_entry(st) != NULL);
	CHECK(json_integer_value(json_object_get(workflow_step_with(st),
	    "ms")) == 5);
	CHECK(json_object_get(workflow_step_json(st), "retry") != NULL);
	CHECK(json_array_get(json_object_get(workflow_json(wf), "steps"),
	    1) == workflow_step_json(st));

	st = workflow_on_failure(wf);
	REQUIRE(st != NULL);
	CHECK_STR(workflow_step_name(st), "on_failure");
	CHECK_STR(workflow_step_uses(st), "bucket.put");
	CHECK(workflow_step_entry(st) == steps_find("bucket.put"));
	CHECK_STR(json_string_value(json_object_get(workflow_step_with(st),
	    "key")), "dead/{{run.id}}.json");
	workflow_unref(wf);
	diag_free(d);
}

/* Step retry and timeout: step, then defaults, then the constants. */
static void
test_workflow_defaults(void)
{
	const char *bare = "{\"name\": \"bare\", \"steps\": ["
	    "{\"name\": \"a\", \"uses\": \"json.encode\"},"
	    "{\"name\": \"b\", \"uses\": \"json.encode\","
	    " \"retry\": {\"backoff_ms\": 50}, \"timeout_ms\": 9}]}";
	const struct retry_policy *rp;
	const struct workflow_step *st;
	struct workflow *wf;

	wf = workflow_load_file(data_path("full.json"), NULL);
	REQUIRE(wf != NULL);
	/* decode: defaults.retry over the constants. */
	st = workflow_step_at(wf, 0);
	rp = workflow_step_retry(st);
	CHECK(rp->max_attempts == 4);
	CHECK(rp->backoff_ms == 100);
	CHECK(rp->backoff_max_ms == WORKFLOW_BACKOFF_MAX_MS);
	CHECK(rp->jitter == 0);
	CHECK(workflow_step_timeout_ms(st) == 5000);
	/* pause: its own retry fields over the defaults. */
	st = workflow_step_at(wf, 1);
	rp = workflow_step_retry(st);
	CHECK(rp->max_attempts == 7);
	CHECK(rp->backoff_ms == 100);
	CHECK(rp->backoff_max_ms == 900);
	CHECK(rp->jitter == 0);
	CHECK(workflow_step_timeout_ms(st) == 250);
	/* The handler merges the same way. */
	rp = workflow_step_retry(workflow_on_failure(wf));
	CHECK(rp->max_attempts == 4);
	CHECK(rp->jitter == 1);
	CHECK(workflow_step_timeout_ms(workflow_on_failure(wf)) == 5000);
	workflow_unref(wf);

	/* No defaults at all: the constants, jitter on, no limits. */
	wf = workflow_load_text(bare, strlen(bare), "bare.json", NULL);
	REQUIRE(wf != NULL);
	rp = workflow_step_retry(workflow_step_at(wf, 0));
	CHECK(rp->max_attempts == WORKFLOW_MAX_ATTEMPTS);
	CHECK(rp->backoff_ms == WORKFLOW_BACKOFF_MS);
	CHECK(rp->backoff_max_ms == WORKFLOW_BACKOFF_MAX_MS);
	CHECK(rp->jitter == 1);
	CHECK(workflow_step_timeout_ms(workflow_step_at(wf, 0)) ==
	    WORKFLOW_STEP_TIMEOUT_MS);
	rp = workflow_step_retry(workflow_step_at(wf, 1));
	CHECK(rp->backoff_ms == 50);
	CHECK(rp->max_attempts == WORKFLOW_MAX_ATTEMPTS);
	CHECK(workflow_step_timeout_ms(workflow_step_at(wf, 1)) == 9);
	CHECK(workflow_on_failure(wf) == NULL);
	CHECK(workflow_timeout_ms(wf) == 0);
	CHECK(workflow_concurrency(wf) == 0);
	CHECK(workflow_retention_ms(wf) == 0);
	CHECK(workflow_description(wf) == NULL);
	CHECK(workflow_input_schema(wf) == NULL);
	CHECK(workflow_output_schema(wf) == NULL);
	CHECK(workflow_trigger(wf) == NULL);
	CHECK(workflow_allow(wf) == NULL);
	CHECK(workflow_step_with(workflow_step_at(wf, 0)) == NULL);
	CHECK_STR(workflow_dir(wf), ".");
	workflow_unref(wf);
}

/* Retention: a duration, or forever. */
static void
test_workflow_retention(void)
{
	static const struct {
		const char	*value;
		int64_t		 ms;
	} cases[] = {
		{ "45s", 45000 }, { "30m", 1800000 }, { "12h", 43200000 },
		{ "7d", 604800000 }, { "forever", WORKFLOW_FOREVER }
	};
	struct workflow *wf;
	char *text;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		text = xasprintf("{\"name\": \"x\", \"retention\": \"%s\", "
		    "\"steps\": [{\"name\": \"a\", \"uses\": "
		    "\"json.encode\"}]}", cases[i].value);
		wf = workflow_load_text(text, strlen(text), "r.json", NULL);
		free(text);
		REQUIRE(wf != NULL);
		CHECK(workflow_retention_ms(wf) == cases[i].ms);
		workflow_unref(wf);
	}
}

/* One problem per text, with its message (and position when given). */
static void
test_workflow_single_problems(void)
{
	CHECK(one_problem("[1]", "t.json:1:1: expected an object"));
	CHECK(one_problem("{\"name\": \"x\"}",
	    "t.json:1:1: missing required key \"steps\""));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": []}",
	    "t.json:1:15: steps: expected a non-empty array"));
	CHECK(one_problem("{\"name\": \"Bad Name\", \"steps\": "
	    "[{\"name\": \"a\", \"uses\": \"wait\", \"with\": {\"ms\": 1}}]}",
	    "t.json:1:2: name: invalid workflow name \"Bad Name\""));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [3]}",
	    "t.json:1:25: steps[0]: expected a step object"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": "
	    "[{\"uses\": \"json.encode\"}]}",
	    "t.json:1:25: missing required key \"name\" in steps[0]"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": "
	    "[{\"name\": \"a\"}]}",
	    "t.json:1:25: missing required key \"uses\" in steps[0]"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"on_failure\", \"uses\": \"json.encode\"}]}",
	    "steps[0].name: \"on_failure\" is reserved"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"on_failure\": {\"name\": "
	    "\"h\", \"uses\": \"json.encode\"}}",
	    "on_failure.name: the failure handler is always named"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"base64.decode\", \"with\": {\"x\": 1}}]}",
	    "unknown key \"x\" in steps[0].with (base64.decode takes none)"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\", \"with\": [1]}]}",
	    "steps[0].with: expected an object"));
	/* A step check with "with" missing points at the step. */
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"wait\"}]}",
	    "t.json:1:25: steps[0].with: wait needs \"ms\" or \"until\""));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\", \"script\": \"a.lua\"}]}",
	    "steps[0].script: only lua steps take \"script\""));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\", \"retry\": {\"backoff_ms\": "
	    "10, \"backoff_max_ms\": 5}}]}",
	    "steps[0].retry.backoff_max_ms: less than backoff_ms"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"trigger\": {\"cron\": "
	    "{\"schedule\": \"* * *\"}}}",
	    "trigger.cron.schedule: cron \"* * *\": expected 5 fields "
	    "(minute hour day-of-month month day-of-week), got 3"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"trigger\": {\"cron\": "
	    "{\"schedule\": \"@daily\", \"overlap\": \"never\"}}}",
	    "trigger.cron.overlap: expected \"skip\", \"queue\" or "
	    "\"allow\", not \"never\""));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"trigger\": {\"cron\": {}}}",
	    "missing required key \"schedule\" in trigger.cron"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"trigger\": {\"webhook\": "
	    "{\"secret_env\": \"1BAD\"}}}",
	    "trigger.webhook.secret_env: \"1BAD\" is not an environment"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"secrets\": [\"OK\", "
	    "\"not-ok\"]}",
	    "t.json:1:82: secrets[1]: \"not-ok\" is not an environment"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"allow\": {\"host\": []}}",
	    "unknown key \"host\" in allow"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"allow\": {\"hosts\": "
	    "\"a\"}}",
	    "allow.hosts: expected an array of strings"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"concurrency_key\": \"k\"}",
	    "concurrency_key: needs \"concurrency\""));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"rate_limit\": "
	    "{\"per_second\": 0}}",
	    "rate_limit.per_second: expected a positive number"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"rate_limit\": "
	    "{\"per_second\": 1, \"on_limit\": \"drop\"}}",
	    "rate_limit.on_limit: expected \"queue\" or \"reject\""));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"debounce\": "
	    "{\"key\": \"{{input.id}}\"}}",
	    "missing required key \"wait_ms\" in debounce"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"debounce\": "
	    "{\"wait_ms\": 10, \"key\": \"{{nowhere.id}}\"}}",
	    "debounce.key: "));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"retention\": \"7w\"}",
	    "t.json:1:64: retention: \"7w\" is not a duration such as "
	    "\"7d\", \"12h\", \"30m\" or \"45s\", nor \"forever\""));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"retention\": 7}",
	    "retention: expected a string"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"priority\": true}",
	    "priority: expected an integer or a template string"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"defaults\": "
	    "{\"timeout_ms\": 0}}",
	    "defaults.timeout_ms: expected a positive integer"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"concurrency\": "
	    "4294967296}",
	    "concurrency: 4294967296 is too large"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"output\": {\"properties\":"
	    " {\"n\": {\"type\": \"nombre\"}}}}",
	    "t.json:1:96: output.properties.n.type: "));
	/* A key with a dot is quoted in the path and found there. */
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\", \"with\": {\"a.b\": 1}}]}",
	    "t.json:1:71: unknown key \"a.b\" in steps[0].with"));
}

/* "wait_for_callback": read, and refused where it cannot work. */
static void
test_workflow_callback(void)
{
	const char *ok = "{\"name\": \"x\", \"steps\": [{\"name\": \"a\", "
	    "\"uses\": \"json.encode\", \"wait_for_callback\": true}, "
	    "{\"name\": \"b\", \"uses\": \"json.encode\"}]}";
	struct diag *d = diag_create();
	struct workflow *wf;

	wf = workflow_load_text(ok, strlen(ok), "t.json", d);
	REQUIRE(wf != NULL);
	CHECK(workflow_step_callback(workflow_step_at(wf, 0)));
	CHECK(!workflow_step_callback(workflow_step_at(wf, 1)));
	workflow_unref(wf);
	diag_free(d);
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\", \"wait_for_callback\": 1}]}",
	    "t.json:1:62: steps[0].wait_for_callback: expected true or "
	    "false"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\", \"with\": {\"pretty\": "
	    "\"{{callback.url}}\"}}]}", "steps[0].with.pretty: "
	    "{{callback...}} is for a step with \"wait_for_callback\": true"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"wait.signal\", \"wait_for_callback\": "
	    "true}]}", "steps[0].wait_for_callback: a wait.signal step "
	    "waits by itself: it takes no \"wait_for_callback\""));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"on_failure\": "
	    "{\"uses\": \"json.encode\", \"wait_for_callback\": true}}",
	    "on_failure.wait_for_callback: the failure handler cannot wait "
	    "for a callback"));
}

/* Where steps go: "next", "end", a choice's rules; a loop with a way
 * out (a rule, a lua step that chooses as it runs) loads. */
static void
test_workflow_branching(void)
{
	struct diag *d = diag_create();
	const struct workflow_step *st;
	struct workflow *wf;

	wf = workflow_load_file(data_path("branching.json"), d);
	CHECK(diag_count(d) == 0);
	dump(d);
	REQUIRE(wf != NULL);
	st = workflow_step_at(wf, 1);
	CHECK_STR(workflow_step_uses(st), "choice");
	CHECK(workflow_step_next(st) == NULL);
	CHECK(!workflow_step_ends(st));
	st = workflow_step_at(wf, 2);
	CHECK(workflow_step_next(st) == NULL);
	CHECK(workflow_step_ends(st));
	CHECK_STR(workflow_step_next(workflow_step_at(wf, 4)), "spin");
	CHECK(!workflow_step_ends(workflow_step_at(wf, 4)));
	CHECK(workflow_step_next(workflow_step_at(wf, 0)) == NULL);
	workflow_unref(wf);
	diag_free(d);
}

/* Every branching problem, at the key or value at fault. */
static void
test_workflow_branching_problems(void)
{
	static const char *const want[] = {
		"4:41: steps[0].end: a choice step chooses its next step "
		"itself: it takes no \"end\"",
		"6:58: steps[0].with.rules[0].next: no step named \"bgu\" "
		"(the steps are \"pick\", \"fix\", \"again\", \"self\", "
		"\"last\")",
		"7:36: steps[0].with.rules[1].when.gte: \"gte\" compares "
		"numbers or strings: an array can never match",
		"8:39: steps[0].with.rules[2].when.in: \"in\" takes an array "
		"of values, not a string",
		"9:37: steps[0].with.rules[3].when.prefix: \"prefix\" matches "
		"strings: a number can never match",
		"9:51: steps[0].with.rules[3].when.else: unknown key \"else\" "
		"in a condition",
		"10:23: steps[0].with.rules[4].when.path: bad path \"a.[0]\" "
		"(use field names, dots and [index])",
		"10:58: steps[0].with.rules[4].next: expected a step name, not "
		"a template: the steps a choice goes to are checked when the "
		"file loads",
		"11:23: steps[0].with.rules[5].when.not: expected a condition "
		"object",
		"13:9: steps[0].with.default: expected a step name",
		"14:5: steps[1]: steps \"fix\" and \"again\" loop with no way "
		"out: no rule, \"next\" or \"end\" leads from them to the end "
		"of the run",
		"16:5: steps[3]: step \"self\" goes back to itself with no way "
		"out: no rule, \"next\" or \"end\" leads from it to the end "
		"of the run",
		"17:44: steps[4].next: no step named \"nowhere\" (the steps "
		"are \"pick\", \"fix\", \"again\", \"self\", \"last\")",
		"17:63: steps[4].end: expected true or false",
		"19:40: on_failure.end: the failure handler ends the run: it "
		"takes no \"end\"",
		NULL
	};
	struct diag *d = diag_create();
	const char *file = data_path("branching-bad.json");
	size_t i;

	CHECK(workflow_load_file(file, d) == NULL);
	for (i = 0; want[i] != NULL; i++)
		CHECK(has_diag(d, file, want[i]));
	CHECK(diag_count(d) == i);
	/* A branch from the failure handler, and "next" on it. */
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"on_failure\": "
	    "{\"uses\": \"choice\", \"with\": {\"rules\": [{\"when\": "
	    "{\"path\": \"\", \"exists\": true}, \"next\": \"a\"}]}}}",
	    "t.json:1:155: on_failure.with.rules[0].next: the failure "
	    "handler ends the run: it cannot go to another step"));
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\"}], \"on_failure\": "
	    "{\"uses\": \"json.encode\", \"next\": \"a\"}}",
	    "on_failure.next: the failure handler ends the run: it takes "
	    "no \"next\""));
	/* Both, on a step that does not branch. */
	CHECK(one_problem("{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"a\", \"uses\": \"json.encode\", \"next\": \"a\", "
	    "\"end\": true}]}",
	    "t.json:1:75: steps[0].end: a step has \"next\" or \"end\", "
	    "not both"));
	diag_free(d);
}

/* A step that takes any key in "with" takes them all. */
static void
test_workflow_any_keys(void)
{
	const char *text = "{\"name\": \"x\", \"steps\": [{\"name\": "
	    "\"t\", \"uses\": \"transform\", \"with\": {\"anything\": 1, "
	    "\"at.all\": \"{{input.x}}\"}}]}";
	struct diag *d = diag_create();
	struct workflow *wf;

	REQUIRE(steps_find("transform") != NULL);
	REQUIRE(steps_find("transform")->keys == step_keys_any);
	wf = workflow_load_text(text, strlen(text), "t.json", d);
	CHECK(wf != NULL);
	CHECK(diag_count(d) == 0);
	dump(d);
	workflow_unref(wf);
	diag_free(d);
}

/* The folder of a definition, for script paths. */
static void
test_workflow_dir(void)
{
	const char *text = "{\"name\": \"x\", \"steps\": "
	    "[{\"name\": \"a\", \"uses\": \"json.encode\"}]}";
	struct workflow *wf;

	wf = workflow_load_text(text, strlen(text), NULL, NULL);
	REQUIRE(wf != NULL);
	CHECK_STR(workflow_dir(wf), ".");
	workflow_unref(wf);
	wf = workflow_load_text(text, strlen(text), "/srv/flows/x.json",
	    NULL);
	REQUIRE(wf != NULL);
	CHECK_STR(workflow_dir(wf), "/srv/flows");
	CHECK_STR(workflow_path(wf), "/srv/flows/x.json");
	workflow_unref(wf);
	wf = workflow_load_text(text, strlen(text), "/x.json", NULL);
	REQUIRE(wf != NULL);
	CHECK_STR(workflow_dir(wf), "/");
	workflow_unref(wf);
	wf = workflow_load_text(text, strlen(text), "sub/x.json", NULL);
	REQUIRE(wf != NULL);
	CHECK_STR(workflow_dir(wf), "sub");
	workflow_unref(wf);
}

/* A reference keeps the definition after its loader lets go. */
static void
test_workflow_refcount(void)
{
	const char *text = "{\"name\": \"kept\", \"steps\": "
	    "[{\"name\": \"a\", \"uses\": \"json.encode\"}]}";
	const char *other = "{\"name\": \"kept\", \"steps\": "
	    "[{\"name\": \"b\", \"uses\": \"json.encode\"}]}";
	struct workflow *wf, *ref, *wf2;

	wf = workflow_load_text(text, strlen(text), "k.json", NULL);
	REQUIRE(wf != NULL);
	ref = workflow_ref(wf);
	CHECK(ref == wf);
	workflow_unref(wf);
	/* Still alive: the sanitizers or valgrind object otherwise. */
	CHECK_STR(workflow_name(ref), "kept");
	CHECK_STR(workflow_step_name(workflow_step_at(ref, 0)), "a");
	CHECK_STR(workflow_text(ref), text);
	/* Another text, another hash. */
	wf2 = workflow_load_text(other, strlen(other), "k.json", NULL);
	REQUIRE(wf2 != NULL);
	CHECK(strcmp(workflow_hash(wf2), workflow_hash(ref)) != 0);
	workflow_unref(wf2);
	workflow_unref(ref);
	workflow_unref(NULL);
}

/* A missing file is one diagnostic naming it. */
static void
test_workflow_missing_file(void)
{
	struct diag *d = diag_create();

	CHECK(workflow_load_file("nope.json", d) == NULL);
	CHECK(diag_count(d) == 1);
	CHECK_CONTAINS(diag_at(d, 0), "nope.json");
	diag_free(d);
}

/* A folder: name order, bad files and taken names skipped, reported. */
static void
test_workflow_load_dir(void)
{
	struct diag *d = diag_create();
	struct workflow **list = NULL;
	char dir[1024], *bad, *again, *first, *msg;
	int n;

	snprintf(dir, sizeof dir, "%s", data_path("dir"));
	n = workflow_load_dir(dir, &list, d);
	REQUIRE(n == 2);
	REQUIRE(list != NULL);
	CHECK_STR(workflow_name(list[0]), "first");
	CHECK_STR(workflow_name(list[1]), "second");
	CHECK(workflow_description(list[0]) == NULL);
	CHECK(diag_count(d) == 2);
	bad = xasprintf("%s/20-bad.json", dir);
	again = xasprintf("%s/30-again.json", dir);
	first = xasprintf("%s/10-first.json", dir);
	CHECK(has_diag(d, bad,
	    "3:29: steps[0].uses: unknown step type \"nope\"" STEP_TYPES));
	msg = xasprintf("2:3: workflow name \"first\" already used by %s",
	    first);
	CHECK(has_diag(d, again, msg));
	free(msg);
	free(bad);
	free(again);
	free(first);
	workflow_list_free(list, (size_t)n);
	diag_free(d);
}

/* An empty folder loads nothing; a missing one is an error. */
static void
test_workflow_load_dir_edges(void)
{
	struct diag *d = diag_create();
	struct workflow **list = NULL;

	REQUIRE(mkdir("empty", 0755) == 0);
	CHECK(workflow_load_dir("empty", &list, d) == 0);
	CHECK(list == NULL);
	CHECK(diag_count(d) == 0);

	CHECK(workflow_load_dir("missing", &list, d) == -1);
	CHECK(diag_count(d) == 1);
	CHECK_CONTAINS(diag_at(d, 0), "missing");

	/* Hidden files, folders named *.json and other names are skipped;
	 * a trailing slash on the folder gives no double slash. */
	REQUIRE(mkdir("flows", 0755) == 0);
	REQUIRE(mkdir("flows/sub.json", 0755) == 0);
	REQUIRE(write_file("flows/.hidden.json", "{") == 0);
	REQUIRE(write_file("flows/notes.txt", "{") == 0);
	REQUIRE(write_file("flows/b.json", "{\"name\": \"b\", \"steps\": "
	    "[{\"name\": \"s\", \"uses\": \"json.encode\"}]}") == 0);
	REQUIRE(write_file("flows/a.json", "{\"name\": \"a\", \"steps\": "
	    "[{\"name\": \"s\", \"uses\": \"json.encode\"}]}") == 0);
	CHECK(workflow_load_dir("flows/", &list, d) == 2);
	CHECK(diag_count(d) == 1);
	REQUIRE(list != NULL);
	CHECK_STR(workflow_path(list[0]), "flows/a.json");
	CHECK_STR(workflow_path(list[1]), "flows/b.json");
	CHECK_STR(workflow_dir(list[1]), "flows");
	workflow_list_free(list, 2);
	workflow_list_free(NULL, 0);
	diag_free(d);
}

/* A one-step workflow named name with a webhook at path: a new string. */
static char *
hook_workflow(const char *name, const char *path)
{
	return xasprintf("{\"name\": \"%s\",\n\"trigger\": {\"webhook\": "
	    "{\"path\": \"%s\"}}, \"steps\": [{\"name\": \"s\", \"uses\": "
	    "\"json.encode\"}]}", name, path);
}

/* A webhook path the server routes itself is refused, naming the
 * endpoint; a path beside one (a prefix, a trailing slash) is not. */
static void
test_workflow_hook_shadows_api(void)
{
	static const char *const api[] = { "/healthz", "/metrics",
	    "/workflows", "/workflows/x", "/workflows/x/runs", "/runs",
	    "/runs/retry", "/runs/x", "/runs/x/events", "/runs/x/retry",
	    "/runs/x/cancel", NULL };
	static const char *const free_paths[] = { "/hooks/x", "/healthz/",
	    "/runsx", "/runs/x/y/z", "/workflows/x/runs/y", "/", NULL };
	struct diag *d;
	struct workflow *wf;
	char *text;
	size_t i;

	for (i = 0; api[i] != NULL; i++) {
		text = hook_workflow("x", api[i]);
		CHECK(one_problem(text, "t.json:2:25: trigger.webhook.path: "));
		CHECK(one_problem(text, "is the server's own endpoint /"));
		free(text);
	}
	for (i = 0; free_paths[i] != NULL; i++) {
		text = hook_workflow("x", free_paths[i]);
		REQUIRE(write_file("t.json", text) == 0);
		free(text);
		d = diag_create();
		wf = workflow_load_file("t.json", d);
		CHECK(wf != NULL);
		CHECK(diag_count(d) == 0);
		if (wf != NULL)
			CHECK_STR(workflow_hook_path(wf), free_paths[i]);
		workflow_unref(wf);
		diag_free(d);
	}
}

/* Two files of a folder with one webhook path: the later one (in name
 * order) is skipped, and its problem names both files. */
static void
test_workflow_load_dir_hook_twice(void)
{
	static const char *const files[][3] = {
		{ "hooks/a.json", "a", "/h" },
		{ "hooks/b.json", "b", "/h" },
		{ "hooks/c.json", "c", "/h2" },
	};
	struct diag *d = diag_create();
	struct workflow **list = NULL;
	char *text;
	size_t i;

	REQUIRE(mkdir("hooks", 0755) == 0);
	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		text = hook_workflow(files[i][1], files[i][2]);
		REQUIRE(write_file(files[i][0], text) == 0);
		free(text);
	}
	CHECK(workflow_load_dir("hooks", &list, d) == 2);
	REQUIRE(list != NULL);
	CHECK_STR(workflow_name(list[0]), "a");
	CHECK_STR(workflow_name(list[1]), "c");
	CHECK(workflow_hook_conflict(list, 2, list[0]) == NULL);
	CHECK(diag_count(d) == 1);
	CHECK(has_diag(d, "hooks/b.json", "2:25: webhook path \"/h\" already "
	    "used by hooks/a.json (workflow a); give one of them another "
	    "path"));
	workflow_list_free(list, 2);
	diag_free(d);
}

/* A map's steps and each parallel branch are workflows of their own,
 * inside the file's: found by name, sharing its hash and retention, with
 * no timeout of the step's own unless set; a reference to one holds the
 * file's workflow. */
static void
test_workflow_fan_out(void)
{
	const char *text = "{\"name\": \"f\", \"retention\": \"2d\", "
	    "\"steps\": [{\"name\": \"each\", \"uses\": \"map\", \"steps\": "
	    "[{\"name\": \"in\", \"uses\": \"map\", \"steps\": "
	    "[{\"name\": \"x\", \"uses\": \"transform\"}]}]}, "
	    "{\"name\": \"both\", \"uses\": \"parallel\", \"timeout_ms\": 5, "
	    "\"branches\": {\"l\": [{\"name\": \"a\", \"uses\": \"transform\"}], "
	    "\"r\": [{\"name\": \"a\", \"uses\": \"transform\", "
	    "\"next\": \"b\"}, {\"name\": \"b\", \"uses\": \"transform\"}]}}]}";
	const struct workflow_step *each, *both;
	struct workflow *wf, *sub, *inner, *held;
	struct diag *d = diag_create();

	wf = workflow_load_text(text, strlen(text), "f.json", d);
	dump(d);
	REQUIRE(wf != NULL);
	each = workflow_step_at(wf, 0);
	both = workflow_step_at(wf, 1);
	CHECK(workflow_step_subs(each) == 1);
	CHECK(workflow_step_branch(each, 0) == NULL);
	CHECK(workflow_step_timeout_ms(each) == 0);
	CHECK(workflow_step_timeout_ms(both) == 5);
	CHECK(workflow_step_subs(both) == 2);
	CHECK_STR(workflow_step_branch(both, 1), "r");
	sub = workflow_step_sub(each, 0);
	CHECK_STR(workflow_name(sub), "f/each");
	CHECK(workflow_is_sub(sub) && !workflow_is_sub(wf));
	CHECK_STR(workflow_hash(sub), workflow_hash(wf));
	CHECK(workflow_retention_ms(sub) == 2 * 24 * 3600 * 1000LL);
	CHECK(workflow_step_timeout_ms(workflow_step_at(sub, 0)) == 0);
	inner = workflow_sub_find(wf, "f/each/in");
	REQUIRE(inner != NULL);
	CHECK(inner == workflow_step_sub(workflow_step_at(sub, 0), 0));
	CHECK_STR(workflow_step_name(workflow_step_at(inner, 0)), "x");
	CHECK(workflow_sub_find(wf, "f/both/r") == workflow_step_sub(both, 1));
	CHECK_STR(workflow_step_next(workflow_step_at(
	    workflow_step_sub(both, 1), 0)), "b");
	CHECK(workflow_sub_find(wf, "f/both") == NULL);
	CHECK(workflow_sub_find(wf, "f/nope") == NULL);
	held = workflow_ref(inner);
	workflow_unref(wf);
	/* The file's workflow lives on while its part is held. */
	CHECK_STR(workflow_name(held), "f/each/in");
	CHECK_STR(workflow_name(wf), "f");
	workflow_unref(held);
	diag_free(d);
}

int
main(void)
{
	TEST_RUN(test_workflow_many_problems);
	TEST_RUN(test_workflow_syntax_error);
	TEST_RUN(test_workflow_duplicate_key);
	TEST_RUN(test_workflow_accessors);
	TEST_RUN(test_workflow_defaults);
	TEST_RUN(test_workflow_retention);
	TEST_RUN(test_workflow_single_problems);
	TEST_RUN(test_workflow_branching);
	TEST_RUN(test_workflow_callback);
	TEST_RUN(test_workflow_branching_problems);
	TEST_RUN(test_workflow_any_keys);
	TEST_RUN(test_workflow_dir);
	TEST_RUN(test_workflow_refcount);
	TEST_RUN(test_workflow_missing_file);
	TEST_RUN(test_workflow_load_dir);
	TEST_RUN(test_workflow_load_dir_edges);
	TEST_RUN(test_workflow_hook_shadows_api);
	TEST_RUN(test_workflow_load_dir_hook_twice);
	TEST_RUN(test_workflow_fan_out);
	TEST_DONE();
}
