/*
 * Unit tests for the built-in steps and the step_call machinery: each step
 * runs through step_call_create/step_call_start on real inputs, wait on a
 * real event loop, bucket.put on real files in the test's folder.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>

#include <event2/event.h>
#include <jansson.h>

#include "bucket.h"
#include "durable.h"
#include "orchestrator.h"
#include "pool.h"
#include "steps.h"
#include "test.h"

/* What the stand-in step_check_error below saw. */
static int check_count;
static char check_path[128];
static char check_message[512];

/* The workflow loader implements this; the tests record the last report. */
void
step_check_error(struct step_checker *chk, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	check_count++;
	snprintf(check_path, sizeof check_path, "%s", path);
	va_start(ap, fmt);
	vsnprintf(check_message, sizeof check_message, fmt, ap);
	va_end(ap);
}

/* The loader's too (choice's targets): the tests of this file check no
 * step that branches, and the loader itself is not linked in. */
void
step_check_target(struct step_checker *chk, const char *path,
    const char *name)
{
	(void)chk;
	(void)path;
	(void)name;
}

/* Runs an entry's check on with (JSON text); returns the report count. */
static int
run_check(const struct step_entry *entry, const char *with_text)
{
	json_t *with = json_loads(with_text, 0, NULL);

	check_count = 0;
	check_path[0] = check_message[0] = '\0';
	if (with == NULL) {
		fprintf(stderr, "bad test JSON: %s\n", with_text);
		exit(99);
	}
	entry->check(with, NULL);
	json_decref(with);
	return check_count;
}

/* Parses test JSON or stops the whole test program. */
static json_t *
j(const char *text)
{
	json_t *v;
	json_error_t err;

	v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (v == NULL) {
		fprintf(stderr, "bad test JSON %s: %s\n", text, err.text);
		exit(99);
	}
	return v;
}

/* Fills params for an entry with plain defaults. */
static void
params_init(struct step_call_params *p, const struct step_entry *entry,
    const json_t *with, const json_t *input)
{
	memset(p, 0, sizeof *p);
	p->entry = entry;
	p->with = with;
	p->input = input;
	p->run_id = "01TESTRUN";
	p->workflow = "orders";
	p->workflow_dir = ".";
	p->step_name = "s";
	p->attempt = 1;
	p->idempotency_key = "01TESTRUN:s:1";
	p->buckets_dir = "buckets";
}

/* Runs a step that finishes inside start; with and input are JSON text
 * (input may be NULL for json null). The caller frees the call. */
static struct step_call *
run_sync(const struct step_entry *entry, const char *with_text,
    json_t *input, const json_t *schema, const json_t *allow)
{
	struct step_call_params p;
	struct step_call *call;
	json_t *with = with_text != NULL ? j(with_text) : NULL;

	params_init(&p, entry, with, input);
	p.input_schema = schema;
	p.allow = allow;
	call = step_call_create(&p, NULL, NULL);
	json_decref(with);
	json_decref(input);
	if (step_call_start(call) != STEP_DONE) {
		fprintf(stderr, "%s did not finish inside start\n",
		    entry->name);
		exit(99);
	}
	return call;
}

/* The output of a finished call as compact sorted JSON text, or NULL. */
static char *
output_text(struct step_call *call)
{
	json_t *out = step_call_take_output(call);
	char *text;

	if (out == NULL)
		return NULL;
	text = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT |
	    JSON_SORT_KEYS);
	json_decref(out);
	return text;
}

/* Checks a call succeeded with the given compact sorted output. */
static void
check_output(struct step_call *call, const char *expected, int line)
{
	char *text;

	if (!step_call_ok(call)) {
		fprintf(stderr, "line %d: step failed: %s\n", line,
		    step_call_error(call) ? step_call_error(call) : "(null)");
		test_failed_checks++;
		return;
	}
	text = output_text(call);
	if (text == NULL || strcmp(text, expected) != 0) {
		fprintf(stderr, "line %d: output %s != %s\n", line,
		    text ? text : "(null)", expected);
		test_failed_checks++;
	}
	free(text);
}

#define CHECK_OUTPUT(call, expected) check_output(call, expected, __LINE__)

/* Runs a pure step on input and checks its output; frees everything. */
static void
check_step(const struct step_entry *entry, const char *with_text,
    json_t *input, const char *expected, int line)
{
	struct step_call *call;

	call = run_sync(entry, with_text, input, NULL, NULL);
	check_output(call, expected, line);
	step_call_free(call);
}

#define CHECK_STEP(e, w, in, out) check_step(e, w, in, out, __LINE__)

/* Runs a pure step that must fail with an error holding needle. */
static void
check_fails(const struct step_entry *entry, const char *with_text,
    json_t *input, const json_t *allow, int retryable, const char *needle,
    int line)
{
	struct step_call *call;

	call = run_sync(entry, with_text, input, NULL, allow);
	if (!step_call_finished(call) || step_call_ok(call) ||
	    step_call_error(call) == NULL ||
	    strstr(step_call_error(call), needle) == NULL ||
	    step_call_retryable(call) != retryable) {
		fprintf(stderr, "line %d: expected failure \"%s\", got %s "
		    "(%s, retryable %d)\n", line, needle,
		    step_call_ok(call) ? "success" : "failure",
		    step_call_error(call) ? step_call_error(call) : "-",
		    step_call_retryable(call));
		test_failed_checks++;
	}
	step_call_free(call);
}

#define CHECK_FAILS(e, w, in, needle) \
	check_fails(e, w, in, NULL, 0, needle, __LINE__)

/* A test entry whose behaviour the test picks through "mode". */
static int fake_cancels;

/* Finishes inside start, or not, as "mode" says. */
static enum step_status
fake_start(struct step_call *call)
{
	const char *mode;

	mode = json_string_value(json_object_get(step_call_with(call),
	    "mode"));
	if (strcmp(mode, "sync-ok") == 0) {
		step_call_set_next(call, "later");
		step_call_succeed(call, json_string("done"));
		return STEP_DONE;
	}
	if (strcmp(mode, "sync-fail-but-wait") == 0) {
		/* Finished, yet says wait: the result still counts as done. */
		step_call_fail(call, 1, "code %d from %s", 503, "upstream");
		return STEP_WAIT;
	}
	return STEP_WAIT;
}

/* Counts cancels. */
static void
fake_cancel(struct step_call *call)
{
	fake_cancels++;
}

static const struct step_entry fake_entry = {
	.name = "fake",
	.summary = "test",
	.start = fake_start,
	.cancel = fake_cancel
};

/* Counts done callbacks. */
static void
count_done_cb(struct step_call *call, void *arg)
{
	int *n = arg;

	(*n)++;
}

/* The registry knows the seven steps, in order, and the planned ones. */
static void
test_steps_registry(void)
{
	static const char *names[] = { "json.decode", "json.encode",
	    "base64.decode", "base64.encode", "bucket.put", "wait",
	    "wait.signal", "transform" };
	const struct step_entry *const *all = steps_all();
	size_t i;

	for (i = 0; i < 8; i++) {
		REQUIRE(all[i] != NULL);
		CHECK_STR(all[i]->name, names[i]);
		CHECK(steps_find(names[i]) == all[i]);
		CHECK(all[i]->start != NULL);
		CHECK(all[i]->summary != NULL);
	}
	/* The steps that talk to the world come after the pure ones. */
	CHECK(steps_find("http.request") == &step_http_request_entry);
	CHECK(steps_find("http.request")->cancel != NULL);
	CHECK(steps_find("lua") != NULL);
	CHECK(steps_find("nope") == NULL);
	CHECK(steps_find("bucket.get") == &step_bucket_get_entry);
	CHECK(steps_find("wait")->cancel != NULL);
}

/* A call keeps its own copies and defaults with to {} and input to null. */
static void
test_steps_call_params(void)
{
	struct step_call_params p;
	struct step_call *call;
	char run_id[] = "01RUN", bdir[] = "bk";
	json_t *allow = j("{\"buckets\":[\"a\"]}");
	json_t *step = j("{\"name\":\"s\",\"uses\":\"fake\"}");
	int n = 0;

	params_init(&p, &fake_entry, NULL, NULL);
	p.run_id = run_id;
	p.buckets_dir = bdir;
	p.allow = allow;
	p.step = step;
	p.attempt = 3;
	call = step_call_create(&p, count_done_cb, &n);
	run_id[0] = 'X';
	bdir[0] = 'X';
	json_decref(allow);
	json_decref(step);

	CHECK(json_is_object(step_call_with(call)));
	CHECK(json_object_size(step_call_with(call)) == 0);
	CHECK(json_is_null(step_call_input(call)));
	CHECK_STR(step_call_run_id(call), "01RUN");
	CHECK_STR(step_call_buckets_dir(call), "bk");
	CHECK_STR(step_call_workflow(call), "orders");
	CHECK_STR(step_call_step_name(call), "s");
	CHECK_STR(step_call_idempotency_key(call), "01TESTRUN:s:1");
	CHECK(step_call_attempt(call) == 3);
	CHECK(step_call_base(call) == NULL);
	CHECK(step_call_input_schema(call) == NULL);
	CHECK(json_is_array(json_object_get(step_call_allow(call), "buckets")));
	CHECK_STR(json_string_value(json_object_get(step_call_step(call),
	    "uses")), "fake");
	CHECK(!step_call_finished(call));
	step_call_set_data(call, &n);
	CHECK(step_call_data(call) == &n);
	step_call_free(call);
	step_call_free(NULL);
}

/* Finishing inside start returns STEP_DONE and skips done_cb. */
static void
test_steps_call_sync(void)
{
	struct step_call_params p;
	struct step_call *call;
	json_t *with = j("{\"mode\":\"sync-ok\"}");
	json_t *out;
	int n = 0;

	params_init(&p, &fake_entry, with, NULL);
	call = step_call_create(&p, count_done_cb, &n);
	json_decref(with);
	CHECK(step_call_start(call) == STEP_DONE);
	CHECK(n == 0);
	CHECK(step_call_finished(call));
	CHECK(step_call_ok(call));
	CHECK(step_call_error(call) == NULL);
	CHECK_STR(step_call_next(call), "later");
	out = step_call_take_output(call);
	CHECK_STR(json_string_value(out), "done");
	json_decref(out);
	CHECK(step_call_take_output(call) == NULL);
	step_call_free(call);

	/* A failure recorded inside start wins over its STEP_WAIT. */
	with = j("{\"mode\":\"sync-fail-but-wait\"}");
	params_init(&p, &fake_entry, with, NULL);
	call = step_call_create(&p, count_done_cb, &n);
	json_decref(with);
	CHECK(step_call_start(call) == STEP_DONE);
	CHECK(n == 0);
	CHECK(step_call_finished(call));
	CHECK(!step_call_ok(call));
	CHECK_STR(step_call_error(call), "code 503 from upstream");
	CHECK(step_call_retryable(call));
	CHECK(step_call_take_output(call) == NULL);
	step_call_free(call);
}

/* A waiting call calls done_cb once when it finishes; cancel stops it. */
static void
test_steps_call_async(void)
{
	struct step_call_params p;
	struct step_call *call;
	json_t *with = j("{\"mode\":\"wait\"}");
	json_t *out;
	int n = 0;

	params_init(&p, &fake_entry, with, NULL);
	call = step_call_create(&p, count_done_cb, &n);
	CHECK(step_call_start(call) == STEP_WAIT);
	CHECK(!step_call_finished(call));
	CHECK(step_call_error(call) == NULL);
	step_call_succeed(call, json_integer(7));
	CHECK(n == 1);
	CHECK(step_call_ok(call));
	CHECK(step_call_next(call) == NULL);
	out = step_call_take_output(call);
	CHECK(json_integer_value(out) == 7);
	json_decref(out);
	/* Cancelling a finished call does nothing. */
	fake_cancels = 0;
	step_call_cancel(call);
	CHECK(fake_cancels == 0);
	step_call_free(call);

	/* A failure later: done_cb once, message formatted. */
	call = step_call_create(&p, count_done_cb, &n);
	CHECK(step_call_start(call) == STEP_WAIT);
	step_call_fail(call, 0, "bad %s", "thing");
	CHECK(n == 2);
	CHECK_STR(step_call_error(call), "bad thing");
	CHECK(!step_call_retryable(call));
	step_call_free(call);

	/* Cancel: the step's cancel runs once, done_cb never. */
	call = step_call_create(&p, count_done_cb, &n);
	CHECK(step_call_start(call) == STEP_WAIT);
	step_call_cancel(call);
	CHECK(fake_cancels == 1);
	step_call_cancel(call);
	CHECK(fake_cancels == 1);
	CHECK(!step_call_finished(call));
	step_call_free(call);
	CHECK(fake_cancels == 1);
	CHECK(n == 2);

	/* Freeing a waiting call cancels it. */
	call = step_call_create(&p, count_done_cb, &n);
	CHECK(step_call_start(call) == STEP_WAIT);
	step_call_free(call);
	CHECK(fake_cancels == 2);
	CHECK(n == 2);
	json_decref(with);
}

/* json.encode: compact by default, pretty, sorted keys. */
static void
test_steps_json_encode(void)
{
	const struct step_entry *e = &step_json_encode_entry;

	CHECK_STEP(e, NULL, j("{\"b\":1,\"a\":[true,null]}"),
	    "\"{\\\"b\\\":1,\\\"a\\\":[true,null]}\"");
	CHECK_STEP(e, "{\"sort_keys\":true}", j("{\"b\":1,\"a\":\"x\"}"),
	    "\"{\\\"a\\\":\\\"x\\\",\\\"b\\\":1}\"");
	CHECK_STEP(e, "{\"pretty\":true}", j("{\"a\":[1]}"),
	    "\"{\\n  \\\"a\\\": [\\n    1\\n  ]\\n}\"");
	CHECK_STEP(e, "{\"pretty\":false}", j("[1, 2]"), "\"[1,2]\"");
	CHECK_STEP(e, NULL, j("\"hi\""), "\"\\\"hi\\\"\"");
	CHECK_STEP(e, NULL, NULL, "\"null\"");
	CHECK_STEP(e, NULL, j("\"caf\\u00e9\""), "\"\\\"café\\\"\"");
	CHECK_FAILS(e, "{\"pretty\":\"yes\"}", j("1"), "must be true or false");

	CHECK(run_check(e, "{\"pretty\":1}") == 1);
	CHECK_STR(check_path, "with.pretty");
	CHECK(run_check(e, "{\"pretty\":true,\"sort_keys\":false}") == 0);
}

/* transform: the rendered "with" is the output; empty passes through. */
static void
test_steps_transform(void)
{
	const struct step_entry *e = &step_transform_entry;

	CHECK_STEP(e, "{\"id\":\"A-1\",\"n\":[1,{\"x\":null}]}", j("{\"q\":1}"),
	    "{\"id\":\"A-1\",\"n\":[1,{\"x\":null}]}");
	CHECK_STEP(e, NULL, j("{\"q\":1}"), "{\"q\":1}");
	CHECK_STEP(e, "{}", j("[true]"), "[true]");
	CHECK(e->keys == step_keys_any);
}

/* json.decode: JSON text, form text, plain text and pass-through. */
static void
test_steps_json_decode(void)
{
	const struct step_entry *e = &step_json_decode_entry;

	CHECK_STEP(e, NULL, j("\"{\\\"id\\\":7,\\\"items\\\":[1]}\""),
	    "{\"id\":7,\"items\":[1]}");
	CHECK_STEP(e, NULL, j("\"42\""), "42");
	CHECK_STEP(e, "{\"format\":\"json\"}", j("\"[true]\""), "[true]");
	/* Form: percent escapes, + as space, repeated keys to arrays. */
	CHECK_STEP(e, NULL, j("\"name=Ada+Lovelace&city=New%20York&tag=a"
	    "&tag=b&tag=c&empty=\""),
	    "{\"city\":\"New York\",\"empty\":\"\",\"name\":\"Ada Lovelace\","
	    "\"tag\":[\"a\",\"b\",\"c\"]}");
	CHECK_STEP(e, NULL, j("\"q=caf%C3%A9&x=%26%3D\""),
	    "{\"q\":\"café\",\"x\":\"&=\"}");
	CHECK_STEP(e, "{\"format\":\"form\"}", j("\"flag&a=1\""),
	    "{\"a\":\"1\",\"flag\":\"\"}");
	/* Text: not JSON, not a form. */
	CHECK_STEP(e, NULL, j("\"hello world\""), "\"hello world\"");
	CHECK_STEP(e, NULL, j("\"a=b c\""), "\"a=b c\"");
	CHECK_STEP(e, NULL, j("\"x=%ZZ\""), "\"x=%ZZ\"");
	CHECK_STEP(e, NULL, j("\"=v\""), "\"=v\"");
	CHECK_STEP(e, NULL, j("\"\""), "\"\"");
	CHECK_STEP(e, "{\"format\":\"text\"}", j("\"{\\\"a\\\":1}\""),
	    "\"{\\\"a\\\":1}\"");
	/* Already decoded values pass through. */
	CHECK_STEP(e, NULL, j("{\"a\":\"{\\\"b\\\":1}\"}"),
	    "{\"a\":\"{\\\"b\\\":1}\"}");
	CHECK_STEP(e, NULL, j("[1,2]"), "[1,2]");
	CHECK_STEP(e, NULL, NULL, "null");

	CHECK_FAILS(e, "{\"format\":\"json\"}", j("\"{\\\"a\\\":\""),
	    "input is not valid JSON: ");
	CHECK_FAILS(e, "{\"format\":\"json\"}", j("\"{\\\"a\\\":\""),
	    " at line 1 column ");
	CHECK_FAILS(e, "{\"format\":\"form\"}", j("\"a=%4\""),
	    "not valid form-urlencoded");
	CHECK_FAILS(e, "{\"format\":\"yaml\"}", j("\"a\""),
	    "must be one of auto, json, form, text");

	CHECK(run_check(e, "{\"format\":\"yaml\"}") == 1);
	CHECK_STR(check_path, "with.format");
	CHECK(run_check(e, "{\"format\":\"form\"}") == 0);
}

/* json.decode validates against the workflow's input schema (all but the
 * run's own input, which the engine validated). */
static void
test_steps_json_decode_schema(void)
{
	const struct step_entry *e = &step_json_decode_entry;
	json_t *schema = j("{\"type\":\"object\",\"required\":[\"id\"],"
	    "\"properties\":{\"id\":{\"type\":\"integer\"}}}");
	struct step_call_params p;
	struct step_call *call;
	json_t *in;

	call = run_sync(e, NULL, j("\"{\\\"id\\\":5}\""), schema, NULL);
	CHECK_OUTPUT(call, "{\"id\":5}");
	step_call_free(call);

	call = run_sync(e, NULL, j("\"{\\\"x\\\":5}\""), schema, NULL);
	CHECK(step_call_finished(call));
	CHECK(!step_call_ok(call));
	CHECK(!step_call_retryable(call));
	CHECK_CONTAINS(step_call_error(call), "input does not match the "
	    "workflow's input schema: ");
	CHECK_CONTAINS(step_call_error(call), "id");
	step_call_free(call);

	/* Form values are strings: an integer field does not match. */
	call = run_sync(e, NULL, j("\"id=5\""), schema, NULL);
	CHECK(!step_call_ok(call));
	CHECK_CONTAINS(step_call_error(call), "input does not match");
	step_call_free(call);

	/* Pass-through values are validated too. */
	call = run_sync(e, NULL, j("{\"id\":\"five\"}"), schema, NULL);
	CHECK(!step_call_ok(call));
	step_call_free(call);

	/* Except the run's own input, passed through: the engine checked it
	 * against the same schema when it made the run. */
	in = j("{\"id\":\"five\"}");
	params_init(&p, e, NULL, in);
	p.input_schema = schema;
	p.trigger = in;
	call = step_call_create(&p, NULL, NULL);
	CHECK(step_call_start(call) == STEP_DONE);
	CHECK_OUTPUT(call, "{\"id\":\"five\"}");
	step_call_free(call);
	json_decref(in);
	json_decref(schema);
}

/* base64.encode and decode, both alphabets, and bad input. */
static void
test_steps_base64(void)
{
	const struct step_entry *enc = &step_base64_encode_entry;
	const struct step_entry *dec = &step_base64_decode_entry;
	struct step_call *call;
	json_t *out;
	static const char *texts[] = { "", "f", "fo", "foo", "foob", "fooba",
	    "foobar", "?\?>", "???", "caf\xc3\xa9 \xe2\x82\xac", NULL };
	static const char *flags[] = { "{}", "{\"url_safe\":true}" };
	size_t i, k;

	/* RFC 4648 test vectors. */
	CHECK_STEP(enc, NULL, j("\"\""), "\"\"");
	CHECK_STEP(enc, NULL, j("\"f\""), "\"Zg==\"");
	CHECK_STEP(enc, NULL, j("\"fo\""), "\"Zm8=\"");
	CHECK_STEP(enc, NULL, j("\"foobar\""), "\"Zm9vYmFy\"");
	CHECK_STEP(enc, NULL, j("\"?\?>\""), "\"Pz8+\"");
	CHECK_STEP(enc, NULL, j("\"???\""), "\"Pz8/\"");
	CHECK_STEP(enc, "{\"url_safe\":true}", j("\"?\?>\""), "\"Pz8-\"");
	CHECK_STEP(enc, "{\"url_safe\":true}", j("\"???\""), "\"Pz8_\"");
	CHECK_STEP(enc, "{\"url_safe\":true}", j("\"f\""), "\"Zg\"");
	/* Non-strings encode their compact JSON text: {"a":1}. */
	CHECK_STEP(enc, NULL, j("{\"a\": 1}"), "\"eyJhIjoxfQ==\"");
	CHECK_FAILS(enc, "{\"url_safe\":1}", j("\"f\""),
	    "must be true or false");

	CHECK_STEP(dec, NULL, j("\"Zm9vYmFy\""), "\"foobar\"");
	CHECK_STEP(dec, NULL, j("\"Zg==\""), "\"f\"");
	CHECK_STEP(dec, NULL, j("\"Zg\""), "\"f\"");
	CHECK_STEP(dec, NULL, j("\"Zm8\""), "\"fo\"");
	CHECK_STEP(dec, NULL, j("\" Zm9v\\r\\nYmFy\\n\""), "\"foobar\"");
	CHECK_STEP(dec, NULL, j("\"Pz8-Pz8_\""), "\"?\?>???\"");
	CHECK_STEP(dec, NULL, j("\"\""), "\"\"");
	/* A NUL byte is still text. */
	CHECK_STEP(dec, NULL, j("\"YQBi\""), "\"a\\u0000b\"");

	CHECK_FAILS(dec, NULL, j("\"Zm9v$mFy\""), "not valid base64");
	CHECK_FAILS(dec, NULL, j("\"Z\""), "not valid base64");
	CHECK_FAILS(dec, NULL, j("\"Zg=\""), "not valid base64");
	CHECK_FAILS(dec, NULL, j("\"Zg===\""), "not valid base64");
	CHECK_FAILS(dec, NULL, j("\"Zg==Zg==\""), "not valid base64");
	CHECK_FAILS(dec, NULL, j("\"=\""), "not valid base64");
	CHECK_FAILS(dec, NULL, j("42"), "needs a string input");
	CHECK_FAILS(dec, NULL, j("\"/w==\""),
	    "decoded data is not UTF-8 text; keep it base64-encoded");

	/* Round trips through both alphabets. */
	for (k = 0; k < 2; k++) {
		for (i = 0; texts[i] != NULL; i++) {
			call = run_sync(enc, flags[k], json_string(texts[i]),
			    NULL, NULL);
			REQUIRE(step_call_ok(call));
			out = step_call_take_output(call);
			step_call_free(call);
			call = run_sync(dec, NULL, out, NULL, NULL);
			REQUIRE(step_call_ok(call));
			out = step_call_take_output(call);
			CHECK_STR(json_string_value(out), texts[i]);
			json_decref(out);
			step_call_free(call);
		}
	}
}

/* Reads a whole file for comparison; NULL when missing. */
static char *
slurp(const char *path, size_t *lenp)
{
	return orc_read_file(path, lenp, NULL);
}

/* Counts leftover temporary files in a folder. */
static int
count_temp_files(const char *dir)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".bucket-put-", 12) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* bucket.put writes the exact bytes atomically and reports them, with
 * its files staged unnamed or named (unnamed 1 or 0). */
static void
bucket_put_writes(int unnamed)
{
	const struct step_entry *e = &step_bucket_put_entry;
	const char *b = unnamed ? "results" : "named";
	struct step_call *call;
	char hex[65], *data, *want, *with, *dir, *file;
	size_t len;
	struct stat sb;

	with = xasprintf("{\"bucket\":\"%s\",\"key\":\"a/b/r1.txt\"}", b);
	dir = xasprintf("buckets/%s/a/b", b);
	file = xasprintf("%s/r1.txt", dir);
	call = run_sync(e, with, j("\"line one\\nline two\""), NULL, NULL);
	orc_sha256_hex("line one\nline two", 17, hex);
	want = xasprintf("{\"bucket\":\"%s\",\"bytes\":17,"
	    "\"key\":\"a/b/r1.txt\",\"sha256\":\"%s\"}", b, hex);
	CHECK_OUTPUT(call, want);
	free(want);
	step_call_free(call);
	data = slurp(file, &len);
	REQUIRE(data != NULL);
	CHECK(len == 17 && memcmp(data, "line one\nline two", 17) == 0);
	free(data);
	CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode));
	CHECK(stat(file, &sb) == 0 && (sb.st_mode & 0777) == 0644);
	CHECK(count_temp_files(dir) == 0);

	/* JSON input: its compact text, no newline; overwrites. */
	free(with);
	with = xasprintf("{\"bucket\":\"%s\",\"key\":\"a/b/r1.txt\","
	    "\"content_type\":\"application/json\"}", b);
	call = run_sync(e, with, j("{\"total\": 12.5}"), NULL, NULL);
	CHECK(step_call_ok(call));
	step_call_free(call);
	data = slurp(file, &len);
	REQUIRE(data != NULL);
	CHECK_STR(data, "{\"total\":12.5}");
	free(data);
	CHECK(count_temp_files(dir) == 0);
	free(with);
	free(dir);
	free(file);

	/* A string with a NUL byte is written whole. */
	call = run_sync(e, "{\"bucket\":\"b.1_x-y\",\"key\":\"bin\"}",
	    j("\"a\\u0000b\""), NULL, NULL);
	CHECK(step_call_ok(call));
	step_call_free(call);
	data = slurp("buckets/b.1_x-y/bin", &len);
	REQUIRE(data != NULL);
	CHECK(len == 3 && memcmp(data, "a\0b", 3) == 0);
	free(data);
	CHECK(count_temp_files("buckets/b.1_x-y") == 0);
}

static void
test_steps_bucket_put(void)
{
	bucket_put_writes(1);
	durable_unnamed(0);
	bucket_put_writes(0);
	durable_unnamed(1);
}

/* The idle watcher of pool_run_idle. */
static struct event *pool_idle_ev;

/* What a pooled bucket step's done_cb saw. */
struct pool_result {
	struct event_base	*base;
	pthread_t		 loop;
	int			 calls;
	int			 on_loop;
	int			 ok;
	int			 target;
};

/* Counts a pooled step's completion; ends the loop at the target. */
static void
pool_done_cb(struct step_call *call, void *arg)
{
	struct pool_result *r = arg;

	r->calls++;
	if (pthread_equal(pthread_self(), r->loop))
		r->on_loop++;
	if (step_call_ok(call))
		r->ok++;
	if (r->calls == r->target)
		event_base_loopexit(r->base, NULL);
}

/* Stops a loop that would otherwise hang a broken test. */
static void
pool_guard_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Ends the loop once the pool has released every job. */
static void
pool_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *pool = arg;

	if (pool_pending(pool) == 0)
		event_base_loopbreak(event_get_base(pool_idle_ev));
}

/* Runs the loop for at most 10 s (it ends earlier through the results). */
static void
pool_run(struct event_base *base)
{
	struct timeval tv = { 10, 0 };
	struct event *guard = evtimer_new(base, pool_guard_cb, base);

	evtimer_add(guard, &tv);
	event_base_dispatch(base);
	event_free(guard);
}

/* Runs the loop until the pool holds no job. */
static void
pool_run_idle(struct event_base *base, struct pool *pool)
{
	struct timeval tv = { 0, 2000 };

	pool_idle_ev = event_new(base, -1, EV_PERSIST, pool_idle_cb, pool);
	event_add(pool_idle_ev, &tv);
	pool_run(base);
	event_free(pool_idle_ev);
	pool_idle_ev = NULL;
}

/* Creates a bucket step call on a pool; with is JSON text. */
static struct step_call *
pool_call(const struct step_entry *e, struct event_base *base,
    struct pool *pool, const char *with_text, json_t *input,
    struct pool_result *r)
{
	struct step_call_params p;
	struct step_call *call;
	json_t *with = j(with_text);

	params_init(&p, e, with, input);
	p.base = base;
	p.pool = pool;
	call = step_call_create(&p, pool_done_cb, r);
	json_decref(with);
	json_decref(input);
	return call;
}

/* bucket.put and bucket.get on the I/O pool: they wait, the loop thread
 * finishes them, the bytes and errors are those of the inline path. */
static void
test_steps_bucket_pool(void)
{
	enum { N = 24 };
	struct event_base *base = event_base_new();
	struct pool *pool = pool_create(base, 3);
	struct pool_result r;
	struct step_call *calls[N], *call;
	char with[128], body[64], path[128], hex[65], *data, *want, *out;
	size_t len;
	int i, bad;

	REQUIRE(base != NULL && pool != NULL);
	memset(&r, 0, sizeof r);
	r.base = base;
	r.loop = pthread_self();
	r.target = N;
	for (i = 0; i < N; i++) {
		snprintf(with, sizeof with, "{\"bucket\":\"results\","
		    "\"key\":\"k/%d.txt\"}", i);
		snprintf(body, sizeof body, "\"body %d\"", i);
		calls[i] = pool_call(&step_bucket_put_entry, base, pool, with,
		    j(body), &r);
		CHECK(step_call_start(calls[i]) == STEP_WAIT);
	}
	CHECK(r.calls == 0);
	pool_run(base);
	CHECK(r.calls == N && r.on_loop == N && r.ok == N);
	for (i = 0, bad = 0; i < N; i++) {
		snprintf(body, sizeof body, "body %d", i);
		orc_sha256_hex(body, strlen(body), hex);
		want = xasprintf("{\"bucket\":\"results\",\"bytes\":%zu,"
		    "\"key\":\"k/%d.txt\",\"sha256\":\"%s\"}", strlen(body),
		    i, hex);
		out = output_text(calls[i]);
		if (out == NULL || strcmp(out, want) != 0)
			bad++;
		free(out);
		free(want);
		snprintf(path, sizeof path, "buckets/results/k/%d.txt", i);
		data = slurp(path, &len);
		if (data == NULL || strcmp(data, body) != 0)
			bad++;
		free(data);
		step_call_free(calls[i]);
	}
	CHECK(bad == 0);
	CHECK(count_temp_files("buckets/results/k") == 0);
	CHECK(pool_pending(pool) == 0);

	/* A JSON input is written as its compact text, off the loop too. */
	memset(&r, 0, sizeof r);
	r.base = base;
	r.loop = pthread_self();
	r.target = 1;
	call = pool_call(&step_bucket_put_entry, base, pool,
	    "{\"bucket\":\"results\",\"key\":\"j\"}", j("{\"a\": [1, 2]}"), &r);
	CHECK(step_call_start(call) == STEP_WAIT);
	pool_run(base);
	CHECK(r.calls == 1 && r.ok == 1);
	step_call_free(call);
	data = slurp("buckets/results/j", &len);
	CHECK_STR(data, "{\"a\":[1,2]}");
	free(data);

	/* bucket.get reads it back on the pool. */
	r.calls = r.ok = r.on_loop = 0;
	call = pool_call(&step_bucket_get_entry, base, pool,
	    "{\"bucket\":\"results\",\"key\":\"k/7.txt\"}", NULL, &r);
	CHECK(step_call_start(call) == STEP_WAIT);
	pool_run(base);
	CHECK(r.calls == 1 && r.ok == 1 && r.on_loop == 1);
	out = output_text(call);
	CHECK_CONTAINS(out, "\"body\":\"body 7\"");
	CHECK_CONTAINS(out, "\"bytes\":6");
	free(out);
	step_call_free(call);

	/* A missing key fails on the loop, not worth a retry. */
	r.calls = r.ok = 0;
	call = pool_call(&step_bucket_get_entry, base, pool,
	    "{\"bucket\":\"results\",\"key\":\"nope\"}", NULL, &r);
	CHECK(step_call_start(call) == STEP_WAIT);
	pool_run(base);
	CHECK(r.calls == 1 && r.ok == 0);
	CHECK_CONTAINS(step_call_error(call), "no such key");
	CHECK(!step_call_retryable(call));
	step_call_free(call);

	/* A disk error keeps its message and class through the pool: a
	 * file where a folder of the key should be. */
	r.calls = r.ok = 0;
	call = pool_call(&step_bucket_put_entry, base, pool,
	    "{\"bucket\":\"results\",\"key\":\"j/under\"}", j("\"x\""), &r);
	CHECK(step_call_start(call) == STEP_WAIT);
	pool_run(base);
	CHECK(r.calls == 1 && r.ok == 0);
	CHECK_CONTAINS(step_call_error(call), "bucket.put: cannot create "
	    "folder buckets/results/j: Not a directory");
	CHECK(!step_call_retryable(call));
	step_call_free(call);

	pool_free(pool);
	event_base_free(base);
}

/* The gate that holds the pool's only worker in the cancel test. */
static pthread_mutex_t pool_gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_gate_cond = PTHREAD_COND_INITIALIZER;
static int pool_gate_open, pool_gate_in;

/* A job that holds its worker until the gate opens. */
static void
pool_gate_work(void *arg)
{
	pthread_mutex_lock(&pool_gate_lock);
	pool_gate_in = 1;
	pthread_cond_broadcast(&pool_gate_cond);
	while (!pool_gate_open)
		pthread_cond_wait(&pool_gate_cond, &pool_gate_lock);
	pthread_mutex_unlock(&pool_gate_lock);
}

/* The gate job's completion: nothing to do. */
static void
pool_gate_done(void *arg, int cancelled)
{
}

/* A cancelled bucket step never finishes, and a queued write never
 * happens; a freed waiting call leaves nothing behind for the loop. */
static void
test_steps_bucket_pool_cancel(void)
{
	struct event_base *base = event_base_new();
	struct pool *pool = pool_create(base, 1);
	struct pool_result r;
	struct step_call *put, *get, *late;

	REQUIRE(base != NULL && pool != NULL);
	memset(&r, 0, sizeof r);
	r.base = base;
	r.loop = pthread_self();
	r.target = -1;
	pool_gate_open = pool_gate_in = 0;
	pool_submit(pool, pool_gate_work, pool_gate_done, NULL);
	/* Workers are woken once the loop is through its turn (pool.h):
	 * give it exactly one before blocking on the worker, or a worker
	 * already waiting is never told of the job. */
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	pthread_mutex_lock(&pool_gate_lock);
	while (!pool_gate_in)
		pthread_cond_wait(&pool_gate_cond, &pool_gate_lock);
	pthread_mutex_unlock(&pool_gate_lock);

	/* The only worker is held: these stay queued. */
	put = pool_call(&step_bucket_put_entry, base, pool,
	    "{\"bucket\":\"results\",\"key\":\"never\"}", j("\"x\""), &r);
	get = pool_call(&step_bucket_get_entry, base, pool,
	    "{\"bucket\":\"results\",\"key\":\"never\"}", NULL, &r);
	late = pool_call(&step_bucket_put_entry, base, pool,
	    "{\"bucket\":\"results\",\"key\":\"late\"}", j("\"y\""), &r);
	CHECK(step_call_start(put) == STEP_WAIT);
	CHECK(step_call_start(get) == STEP_WAIT);
	CHECK(step_call_start(late) == STEP_WAIT);
	CHECK(pool_pending(pool) == 4);
	step_call_cancel(put);
	step_call_free(put);
	step_call_free(get);
	CHECK(pool_pending(pool) == 2);

	pthread_mutex_lock(&pool_gate_lock);
	pool_gate_open = 1;
	pthread_cond_broadcast(&pool_gate_cond);
	pthread_mutex_unlock(&pool_gate_lock);
	/* late runs; freed while the worker may be writing it, its result
	 * is dropped on the loop (the file may exist: at least once). */
	step_call_free(late);
	pool_run_idle(base, pool);
	CHECK(r.calls == 0);
	CHECK(access("buckets/results/never", F_OK) != 0);
	CHECK(pool_pending(pool) == 0);

	pool_free(pool);
	event_base_free(base);
}

/* bucket.put refuses keys and buckets that are unsafe or not allowed. */
static void
test_steps_bucket_put_refuses(void)
{
	const struct step_entry *e = &step_bucket_put_entry;
	static const char *bad_keys[] = { "../x", "/abs", "a//b", "a/./b",
	    "a/../../x", "..", ".", "a/", "a\\\\b", "a\\u0001b", "a\\u0000b",
	    "", NULL };
	struct step_call *call;
	json_t *allow;
	char *with, *big, *path;
	size_t i;

	for (i = 0; bad_keys[i] != NULL; i++) {
		with = xasprintf("{\"bucket\":\"results\",\"key\":\"%s\"}",
		    bad_keys[i]);
		check_fails(e, with, j("\"x\""), NULL, 0, "is not safe",
		    __LINE__);
		free(with);
	}
	big = xmalloc(1100);
	memset(big, 'k', 1025);
	big[1025] = '\0';
	with = xasprintf("{\"bucket\":\"results\",\"key\":\"%s\"}", big);
	CHECK_FAILS(e, with, j("\"x\""), "longer than 1024");
	free(with);
	/* 1024 bytes is fine (in folders: a name has its own limit). */
	big[1024] = '\0';
	for (i = 200; i < 1024; i += 201)
		big[i] = '/';
	with = xasprintf("{\"bucket\":\"results\",\"key\":\"%s\"}", big);
	call = run_sync(e, with, j("\"x\""), NULL, NULL);
	CHECK(step_call_ok(call));
	step_call_free(call);
	free(with);
	path = xasprintf("buckets/results/%s", big);
	CHECK(access(path, F_OK) == 0);
	free(path);
	free(big);
	/* Nothing escaped the bucket folder. */
	CHECK(access("x", F_OK) != 0);
	CHECK(access("buckets/x", F_OK) != 0);
	CHECK(access("/abs", F_OK) != 0);

	CHECK_FAILS(e, "{\"bucket\":\"s3://results\",\"key\":\"k\"}",
	    j("\"x\""), "secret AWS_ACCESS_KEY_ID is not in the workflow's "
	    "secrets");
	CHECK_FAILS(e, "{\"bucket\":\"../up\",\"key\":\"k\"}", j("\"x\""),
	    "bucket name");
	CHECK_FAILS(e, "{\"bucket\":\"Results\",\"key\":\"k\"}", j("\"x\""),
	    "bucket name");
	CHECK_FAILS(e, "{\"key\":\"k\"}", j("\"x\""),
	    "bucket.put needs \"bucket\"");
	CHECK_FAILS(e, "{\"bucket\":\"results\"}", j("\"x\""),
	    "needs \"key\"");
	CHECK(access("buckets/up", F_OK) != 0);

	/* allow.buckets, when present, must list the bucket. */
	allow = j("{\"buckets\":[\"results\"]}");
	check_fails(e, "{\"bucket\":\"other\",\"key\":\"k\"}", j("\"x\""),
	    allow, 0, "bucket \"other\" is not in the workflow's "
	    "allow.buckets", __LINE__);
	CHECK(access("buckets/other", F_OK) != 0);
	json_decref(allow);
	allow = j("{\"hosts\":[]}");
	call = run_sync(e, "{\"bucket\":\"other\",\"key\":\"k\"}", j("\"x\""),
	    NULL, allow);
	CHECK(step_call_ok(call));
	step_call_free(call);
	json_decref(allow);
	CHECK(access("buckets/other/k", F_OK) == 0);

	/* A file where a folder must be: not retryable, no temp left. */
	check_fails(e, "{\"bucket\":\"other\",\"key\":\"k/deeper\"}",
	    j("\"x\""), NULL, 0, "cannot create folder", __LINE__);
	CHECK(count_temp_files("buckets/other") == 0);
}

/* Writes a small file for a test; -1 on failure. */
static int
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

/*
 * Folders planted in a bucket as symbolic links lead neither bucket.put
 * nor bucket.get out of it, at any depth, whether the key is resolved by
 * openat2 or by the per-component walk (walk 1); a link at the key itself
 * is replaced by put, never written through, and refused by get.
 */
static void
bucket_symlink_case(int walk)
{
	const struct step_entry *put = &step_bucket_put_entry;
	const struct step_entry *get = &step_bucket_get_entry;
	struct step_call *call;
	struct stat sb;
	char *data;
	size_t len;

	bucket_dir_walk_only(walk);
	REQUIRE(mkdir("outside", 0755) == 0 &&
	    mkdir("buckets", 0755) == 0 && mkdir("buckets/ok", 0755) == 0 &&
	    mkdir("buckets/ok/a", 0755) == 0);
	REQUIRE(write_text("outside/secret.txt", "secret") == 0);
	REQUIRE(write_text("outside/target", "kept") == 0);
	REQUIRE(symlink("../../outside", "buckets/ok/link") == 0);
	REQUIRE(symlink("../../../outside", "buckets/ok/a/deep") == 0);
	REQUIRE(symlink("../../outside/target", "buckets/ok/flink") == 0);

	check_fails(put, "{\"bucket\":\"ok\",\"key\":\"link/x.txt\"}",
	    j("\"x\""), NULL, 0, "bucket.put bucket \"ok\" key "
	    "\"link/x.txt\": \"link\" is a symbolic link", __LINE__);
	check_fails(put, "{\"bucket\":\"ok\",\"key\":\"a/deep/n/x.txt\"}",
	    j("\"x\""), NULL, 0, "\"a/deep\" is a symbolic link", __LINE__);
	CHECK(access("outside/x.txt", F_OK) != 0);
	CHECK(access("outside/n", F_OK) != 0);
	check_fails(get, "{\"bucket\":\"ok\",\"key\":\"link/secret.txt\"}",
	    NULL, NULL, 0, "bucket.get bucket \"ok\" key \"link/secret.txt\": "
	    "\"link\" is a symbolic link", __LINE__);
	check_fails(get, "{\"bucket\":\"ok\",\"key\":\"a/deep/secret.txt\"}",
	    NULL, NULL, 0, "\"a/deep\" is a symbolic link", __LINE__);
	check_fails(get, "{\"bucket\":\"ok\",\"key\":\"flink\"}", NULL,
	    NULL, 0, "bucket.get bucket \"ok\" key \"flink\": the key is a "
	    "symbolic link", __LINE__);

	/* put replaces a link at the key; the file it named is kept. */
	call = run_sync(put, "{\"bucket\":\"ok\",\"key\":\"flink\"}",
	    j("\"new\""), NULL, NULL);
	CHECK(step_call_ok(call));
	step_call_free(call);
	CHECK(lstat("buckets/ok/flink", &sb) == 0 && S_ISREG(sb.st_mode));
	data = slurp("outside/target", &len);
	CHECK_STR(data, "kept");
	free(data);

	/* Real folders still work, made on demand, and read back. */
	call = run_sync(put, "{\"bucket\":\"ok\",\"key\":\"a/b/c.txt\"}",
	    j("\"fine\""), NULL, NULL);
	CHECK(step_call_ok(call));
	step_call_free(call);
	call = run_sync(get, "{\"bucket\":\"ok\",\"key\":\"a/b/c.txt\"}",
	    NULL, NULL, NULL);
	CHECK(step_call_ok(call));
	data = output_text(call);
	CHECK_CONTAINS(data, "\"body\":\"fine\"");
	free(data);
	step_call_free(call);
	check_fails(get, "{\"bucket\":\"ok\",\"key\":\"a/none/c.txt\"}",
	    NULL, NULL, 0, "no such key", __LINE__);
	CHECK(count_temp_files("buckets/ok/a/b") == 0);
	bucket_dir_walk_only(0);
}

static void
test_steps_bucket_symlink(void)
{
	bucket_symlink_case(0);
}

static void
test_steps_bucket_symlink_walk(void)
{
	bucket_symlink_case(1);
	/* Named staging (no O_TMPFILE) resolves the same way. */
	durable_unnamed(0);
	check_fails(&step_bucket_put_entry,
	    "{\"bucket\":\"ok\",\"key\":\"link/y.txt\"}", j("\"y\""), NULL,
	    0, "\"link\" is a symbolic link", __LINE__);
	durable_unnamed(1);
	CHECK(access("outside/y.txt", F_OK) != 0);
	CHECK(count_temp_files("outside") == 0);
}

/* bucket.put's load-time check reports at the right paths. */
static void
test_steps_bucket_put_check(void)
{
	const struct step_entry *e = &step_bucket_put_entry;

	CHECK(run_check(e, "{\"key\":\"k\"}") == 1);
	CHECK_STR(check_path, "with");
	CHECK_CONTAINS(check_message, "bucket.put needs \"bucket\"");
	CHECK(run_check(e, "{\"bucket\":\"Bad Name\",\"key\":\"k\"}") == 1);
	CHECK_STR(check_path, "with.bucket");
	CHECK(run_check(e, "{\"bucket\":\"s3://x\",\"key\":\"k\"}") == 0);
	CHECK(run_check(e, "{\"bucket\":\"s3://X\",\"key\":\"k\"}") == 1);
	CHECK(run_check(e, "{\"bucket\":\"x\",\"key\":\"k\","
	    "\"endpoint\":\"http://h\"}") == 1);
	CHECK_CONTAINS(check_message, "only for s3:// buckets");
	CHECK(run_check(e, "{\"bucket\":\"{{input.b}}\",\"key\":\"k\"}") == 0);
	CHECK(run_check(e, "{\"bucket\":\"results\"}") == 1);
	CHECK_CONTAINS(check_message, "key");
	CHECK(run_check(e, "{\"bucket\":\"results\",\"key\":\"../x\"}") == 1);
	CHECK_STR(check_path, "with.key");
	CHECK(run_check(e, "{\"bucket\":\"results\","
	    "\"key\":\"results/{{run.id}}.json\"}") == 0);
}

/* What a wait test's done callback saw. */
struct wait_result {
	int		 calls;
	int64_t		 at;
	json_t		*output;
	int		 free_call;
};

/* Records the result; frees the call like the engine would. */
static void
wait_done_cb(struct step_call *call, void *arg)
{
	struct wait_result *r = arg;

	r->calls++;
	r->at = orc_mono_ms();
	if (step_call_ok(call))
		r->output = step_call_take_output(call);
	if (r->free_call)
		step_call_free(call);
}

/* wait with "durable": false fires on a real event loop and passes its
 * input through. */
static void
test_steps_wait(void)
{
	struct event_base *base = event_base_new();
	struct step_call_params p;
	struct step_call *call, *other;
	struct wait_result r = { 0, 0, NULL, 1 }, r2 = { 0, 0, NULL, 0 };
	json_t *with = j("{\"ms\":30,\"durable\":false}");
	json_t *input = j("{\"id\":1}");
	json_t *with_long = j("{\"ms\":\"60000\",\"durable\":false}");
	int64_t t0;

	REQUIRE(base != NULL);
	params_init(&p, &step_wait_entry, with, input);
	p.base = base;
	call = step_call_create(&p, wait_done_cb, &r);
	params_init(&p, &step_wait_entry, with_long, input);
	p.base = base;
	other = step_call_create(&p, wait_done_cb, &r2);
	json_decref(with);
	json_decref(with_long);

	t0 = orc_mono_ms();
	CHECK(step_call_start(call) == STEP_WAIT);
	CHECK(step_call_start(other) == STEP_WAIT);
	CHECK(r.calls == 0);
	/* Cancel the long one before it fires: the loop then ends at 30ms. */
	step_call_cancel(other);
	event_base_dispatch(base);
	CHECK(r.calls == 1);
	CHECK(r.at - t0 >= 29);
	CHECK(r.at - t0 < 5000);
	CHECK(json_equal(r.output, input));
	CHECK(r2.calls == 0);
	CHECK(!step_call_finished(other));
	step_call_free(other);
	json_decref(r.output);

	/* ms 0 still waits for the loop; freeing while waiting cancels. */
	with = j("{\"ms\":0,\"durable\":false}");
	params_init(&p, &step_wait_entry, with, NULL);
	p.base = base;
	r.calls = 0;
	r.output = NULL;
	call = step_call_create(&p, wait_done_cb, &r);
	CHECK(step_call_start(call) == STEP_WAIT);
	CHECK(r.calls == 0);
	event_base_dispatch(base);
	CHECK(r.calls == 1);
	CHECK(json_is_null(r.output));
	json_decref(r.output);

	r.calls = 0;
	call = step_call_create(&p, wait_done_cb, &r);
	CHECK(step_call_start(call) == STEP_WAIT);
	step_call_free(call);
	CHECK(event_base_dispatch(base) == 1);
	CHECK(r.calls == 0);
	json_decref(with);
	json_decref(input);
	event_base_free(base);
}

/* wait refuses bad "ms" at start and at load time. */
static void
test_steps_wait_bad(void)
{
	const struct step_entry *e = &step_wait_entry;
	struct event_base *base = event_base_new();
	struct step_call_params p;
	struct step_call *call;
	static const char *bad[] = { "{\"ms\":-1}", "{\"ms\":3153600000001}",
	    "{\"ms\":\"soon\"}", "{\"ms\":\"10x\"}", "{\"ms\":1.5}",
	    "{\"ms\":true}", NULL };
	json_t *with;
	size_t i;

	REQUIRE(base != NULL);
	for (i = 0; bad[i] != NULL; i++) {
		with = j(bad[i]);
		params_init(&p, e, with, NULL);
		p.base = base;
		call = step_call_create(&p, NULL, NULL);
		json_decref(with);
		CHECK(step_call_start(call) == STEP_DONE);
		CHECK(!step_call_ok(call));
		CHECK_CONTAINS(step_call_error(call), "wait \"ms\" must be");
		step_call_free(call);

		CHECK(run_check(e, bad[i]) == 1);
		CHECK_STR(check_path, "with.ms");
	}
	CHECK(run_check(e, "{\"ms\":86400001}") == 0);
	CHECK(run_check(e, "{}") == 1);
	CHECK_STR(check_path, "with");
	CHECK(run_check(e, "{\"ms\":1,\"until\":2}") == 1);
	CHECK(run_check(e, "{\"until\":\"tomorrow\"}") == 1);
	CHECK_STR(check_path, "with.until");
	CHECK(run_check(e, "{\"ms\":1,\"durable\":\"no\"}") == 1);
	CHECK_STR(check_path, "with.durable");
	CHECK(run_check(e, "{\"ms\":\"{{input.delay}}\"}") == 0);
	CHECK(run_check(e, "{\"ms\":\"250\"}") == 0);

	event_base_free(base);
}

/* Starts a step of entry with with; its due time when it suspended, else
 * -1 (and the call failed). */
static int64_t
suspended_at(const struct step_entry *e, const char *with_s, const char *step)
{
	struct step_call_params p;
	struct step_call *call;
	json_t *with = j(with_s), *st = step ? j(step) : NULL;
	int64_t due;

	params_init(&p, e, with, NULL);
	p.step = st;
	call = step_call_create(&p, NULL, NULL);
	json_decref(with);
	json_decref(st);
	CHECK(step_call_start(call) == STEP_DONE);
	due = step_call_ok(call) ? step_call_suspended(call) : -1;
	step_call_free(call);
	return due;
}

/* A durable wait suspends its run until a time: ms from now, until a
 * time in ms or RFC 3339; wait.signal until its timeout. */
static void
test_steps_wait_suspends(void)
{
	int64_t now = orc_now_ms(), due;

	due = suspended_at(&step_wait_entry, "{\"ms\":60000}", NULL);
	CHECK(due >= now + 60000 && due < now + 70000);
	CHECK(suspended_at(&step_wait_entry, "{\"until\":1893456000000}",
	    NULL) == 1893456000000LL);
	CHECK(suspended_at(&step_wait_entry,
	    "{\"until\":\"2030-01-01T02:00:00.5+02:00\"}", NULL) ==
	    1893456000500LL);
	/* A step timeout shorter than the wait: an ordinary attempt (and
	 * without a loop, suspended all the same rather than hung). */
	CHECK(suspended_at(&step_wait_entry, "{\"ms\":60000}",
	    "{\"timeout_ms\":100}") > 0);
	CHECK(suspended_at(&step_wait_entry, "{\"until\":\"soon\"}",
	    NULL) == -1);
	due = suspended_at(&step_wait_signal_entry, "{}", NULL);
	CHECK(due >= now + 7LL * 86400000 && due < now + 7LL * 86400000 +
	    10000);
	due = suspended_at(&step_wait_signal_entry, "{\"timeout_ms\":5000}",
	    "{\"timeout_ms\":1000}");
	CHECK(due >= now + 1000 && due < now + 5000);
	CHECK(suspended_at(&step_wait_signal_entry, "{\"timeout_ms\":0}",
	    NULL) == -1);
	CHECK(run_check(&step_wait_signal_entry, "{\"timeout_ms\":-5}") == 1);
	CHECK_STR(check_path, "with.timeout_ms");
	CHECK(run_check(&step_wait_signal_entry, "{\"timeout_ms\":5}") == 0);
}

/* Runs every test. */
int
main(void)
{
	TEST_RUN(test_steps_registry);
	TEST_RUN(test_steps_transform);
	TEST_RUN(test_steps_call_params);
	TEST_RUN(test_steps_call_sync);
	TEST_RUN(test_steps_call_async);
	TEST_RUN(test_steps_json_encode);
	TEST_RUN(test_steps_json_decode);
	TEST_RUN(test_steps_json_decode_schema);
	TEST_RUN(test_steps_base64);
	TEST_RUN(test_steps_bucket_put);
	TEST_RUN(test_steps_bucket_put_refuses);
	TEST_RUN(test_steps_bucket_put_check);
	TEST_RUN(test_steps_bucket_symlink);
	TEST_RUN(test_steps_bucket_symlink_walk);
	TEST_RUN(test_steps_bucket_pool);
	TEST_RUN(test_steps_bucket_pool_cancel);
	TEST_RUN(test_steps_wait);
	TEST_RUN(test_steps_wait_bad);
	TEST_RUN(test_steps_wait_suspends);
	TEST_DONE();
}
