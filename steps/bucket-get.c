/*
 * The bucket.get step: reads the object KEY of a bucket into the step's
 * output, {"bucket", "key", "bytes", "body", "json"}: "body" is the bytes
 * as text when they are UTF-8, else their base64 with "body_base64": true,
 * and "json" the parsed value when the bytes are JSON. A local bucket is
 * the folder BUCKETS_DIR/NAME; "s3://NAME/PREFIX" is an S3-compatible
 * endpoint, read with a GET signed by libcurl (AWS SigV4) on the event
 * loop. Names, keys, secrets and allow rules are those of bucket.put.
 * Under the engine a local read runs on the loop's I/O pool (pool.h) and
 * the loop builds the output; without a pool it happens inside start.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bucket.h"
#include "fetch.h"
#include "orchestrator.h"
#include "permit.h"
#include "pool.h"
#include "steps.h"

#define BUCKET_GET_MAX		(64 * 1024 * 1024)

static const char *const bucket_get_keys[] = {
	"bucket", "key", "endpoint", "region", "access_key_env",
	"secret_key_env", NULL
};

/* What a waiting call's data points to: each record starts with this. */
enum bucket_get_kind { BUCKET_GET_S3, BUCKET_GET_LOCAL };

/* An S3 read in flight. */
struct bucket_get_s3 {
	enum bucket_get_kind	 kind;
	struct step_call	*call;
	struct fetch_req	*req;
	char			*spec;
	char			*key;
	char			*url;
};

/* A local read on the pool; the worker uses the strings and the result
 * only. */
struct bucket_get_local {
	enum bucket_get_kind	 kind;
	struct step_call	*call;
	struct pool_job		*job;
	char			*root;
	char			*name;
	char			*key;
	/* The result, written by the worker. */
	char			*data;		/* NULL: failed */
	size_t			 len;
	char			*error;
	int			 retryable;
};

/* The output for an object's bytes. */
static json_t *
bucket_get_output(const char *spec, const char *key, const char *data,
    size_t len)
{
	json_t *out;

	out = json_pack("{s:s, s:s, s:I}", "bucket", spec, "key", key,
	    "bytes", (json_int_t)len);
	if (out == NULL)
		fatal("%s: out of memory", __func__);
	bucket_set_body(out, data, len);
	return out;
}

/*
 * Opens a local object read-only, beneath its bucket and through no
 * symbolic link (bucket_dir_open for the folders, O_NOFOLLOW for the
 * file); -1 with *error and *retryable set.
 */
static int
bucket_get_open(const char *root, const char *name, const char *key,
    const char *path, char **error, int *retryable)
{
	int dir, fd, e;

	if ((dir = bucket_dir_open("bucket.get", root, name, key, 0, error,
	    retryable)) >= 0) {
		/* O_NONBLOCK: a FIFO planted at the key must not hang. */
		fd = openat(dir, bucket_key_base(key), O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_CLOEXEC);
		e = errno;
		close(dir);
		if (fd >= 0)
			return fd;
		free(*error);
		if (e == ELOOP)
			*error = xasprintf("bucket.get bucket \"%s\" key "
			    "\"%s\": the key is a symbolic link, and a key is "
			    "resolved inside its bucket folder only", name,
			    key);
		else
			*error = xasprintf("bucket.get cannot open %s: %s",
			    path, strerror(e));
		*retryable = bucket_errno_retryable(e);
	} else
		e = errno;
	if (e == ENOENT || e == ENOTDIR) {
		free(*error);
		*error = xasprintf("bucket.get %s: no such key", path);
		*retryable = 0;
	}
	return -1;
}

/*
 * Reads a whole local object. Returns NULL with *error and *retryable set
 * on error. Touches no step call: it runs on worker threads too.
 */
static char *
bucket_get_read(const char *root, const char *name, const char *key,
    size_t *lenp, char **error, int *retryable)
{
	struct stat sb;
	char *buf, *path;
	size_t len = 0;
	ssize_t n;
	int fd, e;

	*retryable = 0;
	*error = NULL;
	path = xasprintf("%s/%s/%s", root, name, key);
	if ((fd = bucket_get_open(root, name, key, path, error,
	    retryable)) < 0) {
		free(path);
		return NULL;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		*error = xasprintf("bucket.get %s: not a file", path);
		close(fd);
		free(path);
		return NULL;
	}
	if (sb.st_size > BUCKET_GET_MAX) {
		*error = xasprintf("bucket.get %s: larger than %d bytes", path,
		    BUCKET_GET_MAX);
		close(fd);
		free(path);
		return NULL;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (len < (size_t)sb.st_size) {
		n = read(fd, buf + len, (size_t)sb.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			*retryable = bucket_errno_retryable(e);
			*error = xasprintf("bucket.get cannot read %s: %s",
			    path, strerror(e));
			free(buf);
			close(fd);
			free(path);
			return NULL;
		}
		if (n == 0)
			break;	/* it shrank: take what is there */
		len += (size_t)n;
	}
	close(fd);
	free(path);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* Frees a local read record, on the loop thread. */
static void
bucket_get_local_free(struct bucket_get_local *r)
{
	free(r->root);
	free(r->name);
	free(r->key);
	free(r->data);
	free(r->error);
	free(r);
}

/* On a worker thread: the read itself. */
static void
bucket_get_local_work(void *arg)
{
	struct bucket_get_local *r = arg;

	r->data = bucket_get_read(r->root, r->name, r->key, &r->len,
	    &r->error, &r->retryable);
}

/* On the loop: the read ended (or the call was cancelled). */
static void
bucket_get_local_done(void *arg, int cancelled)
{
	struct bucket_get_local *r = arg;
	struct step_call *call = r->call;
	json_t *out;

	/* Cancelled: the call may be gone; only the record is ours. */
	if (cancelled) {
		bucket_get_local_free(r);
		return;
	}
	step_call_set_data(call, NULL);
	if (r->data == NULL) {
		step_call_fail(call, r->retryable, "%s", r->error);
		bucket_get_local_free(r);
		return;
	}
	out = bucket_get_output(r->name, r->key, r->data, r->len);
	bucket_get_local_free(r);
	step_call_succeed(call, out);
}

/* Hands a local read to the pool. */
static enum step_status
bucket_get_local(struct step_call *call, struct pool *pool, const char *root,
    const char *name, const char *key)
{
	struct bucket_get_local *r;

	r = xcalloc(1, sizeof *r);
	r->kind = BUCKET_GET_LOCAL;
	r->call = call;
	r->root = xstrdup(root);
	r->name = xstrdup(name);
	r->key = xstrdup(key);
	step_call_set_data(call, r);
	r->job = pool_submit(pool, bucket_get_local_work,
	    bucket_get_local_done, r);
	return STEP_WAIT;
}

/* Frees a read record (not its request). */
static void
bucket_get_s3_free(struct bucket_get_s3 *g)
{
	free(g->spec);
	free(g->key);
	free(g->url);
	free(g);
}

/* S3 answered (or the transport failed): finish the call. */
static void
bucket_get_s3_done_cb(const struct fetch_response *resp, void *arg)
{
	struct bucket_get_s3 *g = arg;
	struct step_call *call = g->call;
	char *why;
	int retryable;
	json_t *out;

	step_call_set_data(call, NULL);
	if (bucket_s3_failed(resp, &why, &retryable)) {
		step_call_fail(call, retryable, "bucket.get %s key \"%s\": "
		    "GET %s: %s", g->spec, g->key, g->url, why);
		free(why);
		bucket_get_s3_free(g);
		return;
	}
	out = bucket_get_output(g->spec, g->key, resp->body, resp->body_len);
	bucket_get_s3_free(g);
	step_call_succeed(call, out);
}

/* Starts a signed GET of an S3 object. */
static enum step_status
bucket_get_s3(struct step_call *call, const char *spec, const char *key)
{
	struct fetch_request req;
	struct bucket_get_s3 *g;
	struct bucket_s3 b;
	struct orc_error err;
	struct fetch *f;
	char *lines[2], hex[65];

	if (bucket_s3_setup(&b, spec, step_call_with(call),
	    step_call_allow(call), step_call_secrets(call), &err) != 0) {
		step_call_fail(call, 0, "bucket.get %s: %s", spec, err.message);
		return STEP_DONE;
	}
	if ((f = step_call_fetch(call)) == NULL) {
		step_call_fail(call, 0, "bucket.get %s: s3 buckets need the "
		    "event loop", spec);
		bucket_s3_clear(&b);
		return STEP_DONE;
	}
	g = xcalloc(1, sizeof *g);
	g->kind = BUCKET_GET_S3;
	g->call = call;
	g->spec = xstrdup(spec);
	g->key = xstrdup(key);
	g->url = bucket_s3_url(&b, key);

	/* S3 wants the hash of the (empty) payload, signed. */
	orc_sha256_hex("", 0, hex);
	lines[0] = xasprintf("x-amz-content-sha256: %s", hex);
	lines[1] = NULL;
	memset(&req, 0, sizeof req);
	req.method = "GET";
	req.url = g->url;
	req.headers = (const char *const *)lines;
	req.timeout_ms = step_call_timeout_ms(call);
	req.max_response = BUCKET_GET_MAX;
	req.allow = step_call_allow(call);
	req.aws_sigv4 = b.sigv4;
	req.userpwd = b.userpwd;
	g->req = fetch_start(f, &req, bucket_get_s3_done_cb, g, &err);
	free(lines[0]);
	bucket_s3_clear(&b);
	if (g->req == NULL) {
		step_call_fail(call, err.code != ORC_EPERM &&
		    err.code != ORC_EINVAL, "bucket.get %s: GET %s: %s", spec,
		    g->url, err.message);
		bucket_get_s3_free(g);
		return STEP_DONE;
	}
	step_call_set_data(call, g);
	return STEP_WAIT;
}

/* Stops a read in flight; no callback follows. */
static void
bucket_get_cancel(struct step_call *call)
{
	enum bucket_get_kind *kind = step_call_data(call);
	struct bucket_get_s3 *g;

	if (kind == NULL)
		return;
	step_call_set_data(call, NULL);
	switch (*kind) {
	case BUCKET_GET_S3:
		g = (struct bucket_get_s3 *)kind;
		fetch_cancel(g->req);
		bucket_get_s3_free(g);
		break;
	case BUCKET_GET_LOCAL:
		/* The pool frees the record once no worker uses it. */
		pool_cancel(((struct bucket_get_local *)kind)->job);
		break;
	}
}

/* Reads the object into the output. */
static enum step_status
bucket_get_start(struct step_call *call)
{
	const json_t *with = step_call_with(call);
	const json_t *bv, *kv;
	const char *name, *key, *root, *problem;
	struct orc_error err;
	struct pool *pool;
	char *data, *why;
	size_t len;
	int retryable;

	bv = json_object_get(with, "bucket");
	kv = json_object_get(with, "key");
	if (!json_is_string(bv)) {
		step_call_fail(call, 0, "bucket.get needs \"bucket\"");
		return STEP_DONE;
	}
	name = json_string_value(bv);
	if ((problem = bucket_spec_problem(name)) != NULL) {
		step_call_fail(call, 0, "bucket.get bucket \"%s\": %s", name,
		    problem);
		return STEP_DONE;
	}
	if (!json_is_string(kv)) {
		step_call_fail(call, 0, "bucket.get needs \"key\" (a string)");
		return STEP_DONE;
	}
	key = json_string_value(kv);
	if ((problem = bucket_key_problem(key, json_string_length(kv))) !=
	    NULL) {
		step_call_fail(call, 0, "bucket.get key \"%s\" is not safe: %s",
		    key, problem);
		return STEP_DONE;
	}
	if (bucket_is_s3(name))
		return bucket_get_s3(call, name, key);

	if (permit_bucket(step_call_allow(call), name, &err) != 0) {
		step_call_fail(call, 0, "%s", err.message);
		return STEP_DONE;
	}
	if ((root = step_call_buckets_dir(call)) == NULL || *root == '\0') {
		step_call_fail(call, 0, "bucket.get: no buckets folder is "
		    "configured");
		return STEP_DONE;
	}
	if ((pool = step_call_pool(call)) != NULL)
		return bucket_get_local(call, pool, root, name, key);

	/* No pool: read inside start, on this thread. */
	data = bucket_get_read(root, name, key, &len, &why, &retryable);
	if (data == NULL) {
		step_call_fail(call, retryable, "%s", why);
		free(why);
		return STEP_DONE;
	}
	step_call_succeed(call, bucket_get_output(name, key, data, len));
	free(data);
	return STEP_DONE;
}

/* Checks "bucket" and "key" as written. */
static void
bucket_get_check(const json_t *with, struct step_checker *chk)
{
	const json_t *bv, *kv;
	const char *problem;

	bv = json_object_get(with, "bucket");
	if (bv == NULL)
		step_check_error(chk, "with", "bucket.get needs \"bucket\"");
	else if (!json_is_string(bv))
		step_check_error(chk, "with.bucket", "bucket.get \"bucket\" "
		    "must be a string");
	else if (!step_value_is_template(bv) &&
	    (problem = bucket_spec_problem(json_string_value(bv))) != NULL)
		step_check_error(chk, "with.bucket", "%s", problem);

	kv = json_object_get(with, "key");
	if (kv == NULL)
		step_check_error(chk, "with", "bucket.get needs \"key\"");
	else if (!json_is_string(kv))
		step_check_error(chk, "with.key", "bucket.get \"key\" must be "
		    "a string");
	else if (!step_value_is_template(kv) &&
	    (problem = bucket_key_problem(json_string_value(kv),
	    json_string_length(kv))) != NULL)
		step_check_error(chk, "with.key", "bucket.get key \"%s\" is "
		    "not safe: %s", json_string_value(kv), problem);
}

const struct step_entry step_bucket_get_entry = {
	.name = "bucket.get",
	.summary = "read a key of a local folder or S3 bucket into the output",
	.keys = bucket_get_keys,
	.check = bucket_get_check,
	.start = bucket_get_start,
	.cancel = bucket_get_cancel
};
