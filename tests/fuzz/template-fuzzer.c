/*
 * libFuzzer target: the template engine. The input is a template string;
 * it is checked as a workflow load would and rendered against a fixed
 * context (input, trigger, steps, run). A render that succeeds gives a
 * string; one that fails gives a message.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "template.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static json_t *ctx, *names;

/* Counts the problems template_check reports. */
static void
report_cb(void *arg, const char *path, const char *message)
{
	if (path == NULL || message == NULL)
		abort();
	(*(int *)arg)++;
}

/* One input: a template, as a bare string and inside an object. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct orc_error err;
	json_t *s, *with, *out;
	char *text, *r;
	int n = 0;

	if (ctx == NULL) {
		ctx = json_loads("{\"input\": {\"a\": 1, \"b\": \"x\", "
		    "\"c\": [1, {\"d\": null}], \"e\": {\"f\": true}}, "
		    "\"trigger\": {\"headers\": {\"x\": \"y\"}}, "
		    "\"steps\": {\"s1\": {\"out\": [1, 2]}}, "
		    "\"run\": {\"id\": \"01ABC\"}}", 0, NULL);
		names = json_pack("[ss]", "s1", "s2");
	}
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	(void)template_has_expr(text);
	if ((s = json_stringn(text, strlen(text))) == NULL) {
		free(text);
		return 0;
	}
	with = json_pack("{sOs[O]}", "url", s, "args", s);
	if (template_check(with, names, report_cb, &n) != n)
		abort();
	err.message[0] = '\0';
	if ((r = template_render_string(text, ctx, &err)) == NULL &&
	    err.message[0] == '\0')
		abort();
	free(r);
	if ((out = template_render(with, ctx, &err)) != NULL)
		json_decref(out);
	json_decref(with);
	json_decref(s);
	free(text);
	return 0;
}
