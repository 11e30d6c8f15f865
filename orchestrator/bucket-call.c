/*
 * What the bucket steps (bucket.get, bucket.put) share once they run:
 * reading and checking "bucket" and "key", the allow rules and buckets
 * folder of a local bucket, and the whole life of an S3 request, which
 * differs between the two only in its method, body and output. A local
 * read and a local write stay with their steps (the write's durability
 * is durable.c's).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bucket.h"
#include "fetch.h"
#include "permit.h"
#include "pool.h"

/* Reports a missing or non-string value of "with" as written; the
 * value when it is a string to check further (not a template). */
static const json_t *
bucket_check_value(const char *step, const json_t *with, const char *name,
    struct step_checker *chk)
{
	const json_t *v = json_object_get(with, name);
	char path[16];

	snprintf(path, sizeof path, "with.%s", name);
	if (v == NULL)
		step_check_error(chk, "with", "%s needs \"%s\"", step, name);
	else if (!json_is_string(v))
		step_check_error(chk, path, "%s \"%s\" must be a string", step,
		    name);
	else if (!step_value_is_template(v))
		return v;
	return NULL;
}

/* Checks "bucket" and "key" as written. */
void
bucket_check_target(const char *step, const json_t *with,
    struct step_checker *chk)
{
	const json_t *v;
	const char *problem;

	if ((v = bucket_check_value(step, with, "bucket", chk)) != NULL &&
	    (problem = bucket_spec_problem(json_string_value(v))) != NULL)
		step_check_error(chk, "with.bucket", "%s", problem);
	if ((v = bucket_check_value(step, with, "key", chk)) != NULL &&
	    (problem = bucket_key_problem(json_string_value(v),
	    json_string_length(v))) != NULL)
		step_check_error(chk, "with.key", "%s key \"%s\" is not safe: "
		    "%s", step, json_string_value(v), problem);
}

/* The call's "bucket" and "key", checked. */
int
bucket_call_target(struct step_call *call, const char *step,
    const char **name, const char **key)
{
	const json_t *with = step_call_with(call);
	const json_t *bv, *kv;
	const char *problem;

	bv = json_object_get(with, "bucket");
	kv = json_object_get(with, "key");
	if (!json_is_string(bv)) {
		step_call_fail(call, 0, "%s needs \"bucket\"", step);
		return -1;
	}
	*name = json_string_value(bv);
	if ((problem = bucket_spec_problem(*name)) != NULL) {
		step_call_fail(call, 0, "%s bucket \"%s\": %s", step, *name,
		    problem);
		return -1;
	}
	if (!json_is_string(kv)) {
		step_call_fail(call, 0, "%s needs \"key\" (a string)", step);
		return -1;
	}
	*key = json_string_value(kv);
	if ((problem = bucket_key_problem(*key, json_string_length(kv))) !=
	    NULL) {
		step_call_fail(call, 0, "%s key \"%s\" is not safe: %s", step,
		    *key, problem);
		return -1;
	}
	return 0;
}

/* The buckets folder for a local bucket the call may use. */
const char *
bucket_call_root(struct step_call *call, const char *step, const char *name)
{
	struct orc_error err;
	const char *root;

	if (permit_bucket(step_call_allow(call), name, &err) != 0) {
		step_call_fail(call, 0, "%s", err.message);
		return NULL;
	}
	if ((root = step_call_buckets_dir(call)) == NULL || *root == '\0') {
		step_call_fail(call, 0, "%s: no buckets folder is configured",
		    step);
		return NULL;
	}
	return root;
}

/* Frees a request record (not its fetch). */
static void
bucket_s3_call_free(struct bucket_s3_call *c)
{
	free(c->spec);
	free(c->key);
	free(c->url);
	free(c);
}

/* Stops a request or pool job in flight. */
void
bucket_call_cancel(struct step_call *call)
{
	struct bucket_call_head *h = step_call_data(call);
	struct bucket_s3_call *c;

	if (h == NULL)
		return;
	step_call_set_data(call, NULL);
	switch (h->kind) {
	case BUCKET_CALL_S3:
		c = (struct bucket_s3_call *)h;
		fetch_cancel(c->req);
		bucket_s3_call_free(c);
		break;
	case BUCKET_CALL_LOCAL:
		pool_cancel(h->job);
		break;
	}
}

/* A local job ended: fail the call on an error. */
int
bucket_local_ended(struct step_call *call, int cancelled, const char *error,
    int retryable)
{
	if (cancelled)
		return 0;
	step_call_set_data(call, NULL);
	if (error == NULL)
		return 1;
	step_call_fail(call, retryable, "%s", error);
	return 0;
}

/* S3 answered (or the transport failed): finish the call. */
static void
bucket_s3_call_done_cb(const struct fetch_response *resp, void *arg)
{
	struct bucket_s3_call *c = arg;
	struct step_call *call = c->head.call;
	char *why;
	int retryable;
	json_t *out;

	step_call_set_data(call, NULL);
	if (bucket_s3_failed(resp, &why, &retryable)) {
		step_call_fail(call, retryable, "%s %s key \"%s\": %s %s: %s",
		    c->step, c->spec, c->key, c->method, c->url, why);
		free(why);
		bucket_s3_call_free(c);
		return;
	}
	out = c->output(c, resp);
	bucket_s3_call_free(c);
	step_call_succeed(call, out);
}

/* A new record for a request; the URL is the key's in bucket b. */
static struct bucket_s3_call *
bucket_s3_call_new(struct step_call *call, const char *step,
    const char *spec, const char *key, const struct bucket_s3_send *send,
    const struct bucket_s3 *b)
{
	struct bucket_s3_call *c;

	c = xcalloc(1, sizeof *c);
	c->head.kind = BUCKET_CALL_S3;
	c->head.call = call;
	c->step = step;
	c->method = send->method;
	c->spec = xstrdup(spec);
	c->key = xstrdup(key);
	c->url = bucket_s3_url(b, key);
	c->len = send->len;
	c->output = send->output;
	/* S3 wants the payload's hash, signed, as a header. */
	orc_sha256_hex(send->body != NULL ? send->body : "", send->len,
	    c->hex);
	return c;
}

/* Starts the signed request. */
enum step_status
bucket_s3_call_start(struct step_call *call, const char *step,
    const char *spec, const char *key, const struct bucket_s3_send *send)
{
	struct fetch_request req;
	struct bucket_s3_call *c;
	struct bucket_s3 b;
	struct orc_error err;
	struct fetch *f;
	char *lines[3] = { NULL, NULL, NULL };

	if (bucket_s3_setup(&b, spec, step_call_with(call),
	    step_call_allow(call), step_call_secrets(call), &err) != 0) {
		step_call_fail(call, 0, "%s %s: %s", step, spec, err.message);
		return STEP_DONE;
	}
	if ((f = step_call_fetch(call)) == NULL) {
		step_call_fail(call, 0, "%s %s: s3 buckets need the event "
		    "loop", step, spec);
		bucket_s3_clear(&b);
		return STEP_DONE;
	}
	c = bucket_s3_call_new(call, step, spec, key, send, &b);
	lines[0] = xasprintf("x-amz-content-sha256: %s", c->hex);
	if (send->content_type != NULL)
		lines[1] = xasprintf("Content-Type: %s", send->content_type);
	memset(&req, 0, sizeof req);
	req.method = send->method;
	req.url = c->url;
	req.headers = (const char *const *)lines;
	req.body = send->body;
	req.body_len = send->len;
	req.timeout_ms = step_call_timeout_ms(call);
	req.max_response = send->max_response;
	req.allow = step_call_allow(call);
	req.aws_sigv4 = b.sigv4;
	req.userpwd = b.userpwd;
	c->req = fetch_start(f, &req, bucket_s3_call_done_cb, c, &err);
	free(lines[0]);
	free(lines[1]);
	bucket_s3_clear(&b);
	if (c->req == NULL) {
		step_call_fail(call, err.code != ORC_EPERM &&
		    err.code != ORC_EINVAL, "%s %s: %s %s: %s", step, spec,
		    send->method, c->url, err.message);
		bucket_s3_call_free(c);
		return STEP_DONE;
	}
	step_call_set_data(call, c);
	return STEP_WAIT;
}
