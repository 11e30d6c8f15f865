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
#include "pool.h"
#include "steps.h"

#define BUCKET_GET_MAX		(64 * 1024 * 1024)

static const char *const bucket_get_keys[] = {
	"bucket", "key", "endpoint", "region", "access_key_env",
	"secret_key_env", NULL
};

/* A local read on the pool; the worker uses the strings and the result
 * only. */
struct bucket_get_local {
	struct bucket_call_head	 head;		/* BUCKET_CALL_LOCAL */
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
	struct step_call *call = r->head.call;
	json_t *out = NULL;

	if (bucket_local_ended(call, cancelled, r->data == NULL ? r->error :
	    NULL, r->retryable))
		out = bucket_get_output(r->name, r->key, r->data, r->len);
	bucket_get_local_free(r);
	if (out != NULL)
		step_call_succeed(call, out);
}

/* Hands a local read to the pool. */
static enum step_status
bucket_get_local(struct step_call *call, struct pool *pool, const char *root,
    const char *name, const char *key)
{
	struct bucket_get_local *r;

	r = xcalloc(1, sizeof *r);
	r->head.kind = BUCKET_CALL_LOCAL;
	r->head.call = call;
	r->root = xstrdup(root);
	r->name = xstrdup(name);
	r->key = xstrdup(key);
	step_call_set_data(call, r);
	r->head.job = pool_submit(pool, bucket_get_local_work,
	    bucket_get_local_done, r);
	return STEP_WAIT;
}

/* The output for S3's answer. */
static json_t *
bucket_get_s3_output(const struct bucket_s3_call *c,
    const struct fetch_response *resp)
{
	return bucket_get_output(c->spec, c->key, resp->body, resp->body_len);
}

/* Starts a signed GET of an S3 object. */
static enum step_status
bucket_get_s3(struct step_call *call, const char *spec, const char *key)
{
	struct bucket_s3_send send;

	memset(&send, 0, sizeof send);
	send.method = "GET";
	send.max_response = BUCKET_GET_MAX;
	send.output = bucket_get_s3_output;
	return bucket_s3_call_start(call, "bucket.get", spec, key, &send);
}

/* Reads the object into the output. */
static enum step_status
bucket_get_start(struct step_call *call)
{
	const char *name, *key, *root;
	struct pool *pool;
	char *data, *why;
	size_t len;
	int retryable;

	if (bucket_call_target(call, "bucket.get", &name, &key) != 0)
		return STEP_DONE;
	if (bucket_is_s3(name))
		return bucket_get_s3(call, name, key);
	if ((root = bucket_call_root(call, "bucket.get", name)) == NULL)
		return STEP_DONE;
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
	bucket_check_target("bucket.get", with, chk);
}

const struct step_entry step_bucket_get_entry = {
	.name = "bucket.get",
	.summary = "read a key of a local folder or S3 bucket into the output",
	.keys = bucket_get_keys,
	.check = bucket_get_check,
	.start = bucket_get_start,
	.cancel = bucket_call_cancel
};
