/*
 * The bucket.put step: writes its input (a string's bytes, or any other
 * value's compact JSON text) to KEY in a local folder bucket, the folder
 * BUCKETS_DIR/NAME. The write is atomic and durable before the step
 * succeeds (durable.h): a new file in the target folder, written whole
 * and synced, then published under the key, then the folder synced. Keys
 * are relative paths that cannot leave the bucket. Failures of the disk
 * are worth a retry; a bad name, key or permission is not.
 *
 * Under the engine the write runs on the loop's I/O pool (pool.h): start
 * returns STEP_WAIT, a worker thread hashes and stages the file, and the
 * loop finishes the step. The writes the pool takes together share their
 * syncs (pool_submit_group, durable_finish_group): a burst of writes costs
 * two syncs of the file system, not two or three fsyncs each. A cancelled
 * step drops the result, but a write the worker already began still
 * lands: a cancelled or timed-out bucket.put may have written its key
 * (at least once, as with a retry). Without a pool (a step called
 * directly) the write happens inside start.
 *
 * With "bucket": "s3://NAME/PREFIX" the input goes to an S3-compatible
 * endpoint instead, as one PUT signed with AWS Signature Version 4 by
 * libcurl, on the event loop (the step waits without holding a thread).
 * The credentials come from environment variables the workflow declares
 * as secrets (bucket.c checks that and the allow rules; bucket-call.c
 * sends the request). 5xx, 429 and transport failures are retried; other
 * answers fail with S3's error code.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bucket.h"
#include "durable.h"
#include "fetch.h"
#include "jsonenc.h"
#include "orchestrator.h"
#include "pool.h"
#include "steps.h"

static const char *const bucket_put_keys[] = {
	"bucket", "key", "content_type", "endpoint", "region",
	"access_key_env", "secret_key_env", NULL
};

/*
 * A local write on the pool. The worker reads only the strings and the
 * data held here (input keeps a string input alive; it is only released
 * on the loop) and fills in the file and the hash; call is used on the
 * loop only.
 */
struct bucket_put_local {
	struct bucket_call_head	 head;		/* BUCKET_CALL_LOCAL */
	char			*root;
	char			*name;
	char			*key;
	json_t			*input;		/* or NULL */
	char			*text;		/* or NULL */
	const char		*data;		/* in input or text */
	size_t			 len;
	/* The file, staged by the work, finished by the group; its error
	 * is the result. */
	struct durable_file	 file;
	char			 hex[65];
};

/*
 * Stages the data for KEY in a new file (fsync'd when sync is set), making
 * BUCKETS_DIR, the bucket and the key's folders when missing and opening
 * them beneath the bucket (bucket_dir_open), so that no symbolic link
 * planted in the bucket leads a write out of it. -1 with f->error set.
 * Touches no step call: it runs on worker threads.
 */
static int
bucket_put_stage(const char *root, const char *name, const char *key,
    const char *data, size_t len, int sync, struct durable_file *f)
{
	int dir;

	durable_init(f, "bucket.put", ".bucket-put-");
	if ((dir = bucket_dir_open("bucket.put", root, name, key, 1,
	    &f->error, &f->retryable)) < 0)
		return -1;
	return durable_stage(f, dir, xasprintf("%s/%s/%s", root, name, key),
	    data, len, sync);
}

/* The output of an upload: S3's ETag comes quoted, the value is inside. */
static json_t *
bucket_put_s3_output(const struct bucket_s3_call *c,
    const struct fetch_response *resp)
{
	const char *etag;
	size_t n;
	json_t *out;

	out = json_pack("{s:s, s:s, s:I, s:s, s:s}", "bucket", c->spec,
	    "key", c->key, "bytes", (json_int_t)c->len, "sha256", c->hex,
	    "url", c->url);
	if (out == NULL)
		fatal("%s: out of memory", __func__);
	etag = json_string_value(json_object_get(resp->headers, "etag"));
	if (etag != NULL) {
		n = strlen(etag);
		if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"')
			json_object_set_new(out, "etag",
			    json_stringn(etag + 1, n - 2));
		else
			json_object_set_new(out, "etag", json_string(etag));
	}
	return out;
}

/* Starts a signed PUT of data to an S3 bucket. */
static enum step_status
bucket_put_s3(struct step_call *call, const char *spec, const char *key,
    const char *data, size_t len, const char *content_type)
{
	struct bucket_s3_send send;

	memset(&send, 0, sizeof send);
	send.method = "PUT";
	send.body = data;
	send.len = len;
	send.content_type = content_type;
	send.output = bucket_put_s3_output;
	return bucket_s3_call_start(call, "bucket.put", spec, key, &send);
}

/* Frees a local write record, on the loop thread. */
static void
bucket_put_local_free(struct bucket_put_local *w)
{
	free(w->root);
	free(w->name);
	free(w->key);
	durable_clear(&w->file);
	json_decref(w->input);
	free(w->text);
	free(w);
}

/* The output of a local write. */
static json_t *
bucket_put_local_output(const char *name, const char *key, size_t len,
    const char *hex)
{
	json_t *out;

	out = json_pack("{s:s, s:s, s:I, s:s}", "bucket", name, "key", key,
	    "bytes", (json_int_t)len, "sha256", hex);
	if (out == NULL)
		fatal("%s: out of memory", __func__);
	return out;
}

/* On a worker thread: the hash, and the data staged without a sync. */
static void
bucket_put_local_work(void *arg)
{
	struct bucket_put_local *w = arg;

	orc_sha256_hex(w->data, w->len, w->hex);
	bucket_put_stage(w->root, w->name, w->key, w->data, w->len, 0,
	    &w->file);
}

/* On a worker thread, after the work of a group of local writes: their
 * syncs and publishing, shared (durable_finish_group). */
static void
bucket_put_local_group(void **args, int n)
{
	struct bucket_put_local **ws = (struct bucket_put_local **)args;
	struct durable_file **fs;
	int i;

	fs = xcalloc((size_t)n, sizeof *fs);
	for (i = 0; i < n; i++)
		fs[i] = &ws[i]->file;
	durable_finish_group(fs, n);
	free(fs);
}

/* On the loop: the write ended (or the call was cancelled). */
static void
bucket_put_local_done(void *arg, int cancelled)
{
	struct bucket_put_local *w = arg;
	struct step_call *call = w->head.call;
	json_t *out = NULL;

	if (bucket_local_ended(call, cancelled, w->file.error,
	    w->file.retryable))
		out = bucket_put_local_output(w->name, w->key, w->len, w->hex);
	bucket_put_local_free(w);
	if (out != NULL)
		step_call_succeed(call, out);
}

/* Hands a local write to the pool; takes ownership of text. */
static enum step_status
bucket_put_local(struct step_call *call, struct pool *pool, const char *root,
    const char *name, const char *key, const json_t *input, char *text)
{
	struct bucket_put_local *w;

	w = xcalloc(1, sizeof *w);
	w->head.kind = BUCKET_CALL_LOCAL;
	durable_init(&w->file, "bucket.put", ".bucket-put-");
	w->head.call = call;
	w->root = xstrdup(root);
	w->name = xstrdup(name);
	w->key = xstrdup(key);
	if (text != NULL) {
		w->text = text;
		w->data = text;
		w->len = strlen(text);
	} else {
		/* A reference, not a copy: nothing changes a string value,
		 * and only the loop thread touches the count. */
		w->input = json_incref((json_t *)input);
		w->data = json_string_value(input);
		w->len = json_string_length(input);
	}
	step_call_set_data(call, w);
	w->head.job = pool_submit_group(pool, bucket_put_local_work,
	    bucket_put_local_group, bucket_put_local_done, w);
	return STEP_WAIT;
}

/* Writes data to a local bucket on this thread (no pool). */
static void
bucket_put_inline(struct step_call *call, const char *root,
    const char *name, const char *key, const char *data, size_t len)
{
	struct durable_file f;
	char hex[65];

	if (bucket_put_stage(root, name, key, data, len, 1, &f) != 0 ||
	    durable_finish(&f) != 0) {
		step_call_fail(call, f.retryable, "%s", f.error);
		durable_clear(&f);
		return;
	}
	durable_clear(&f);
	orc_sha256_hex(data, len, hex);
	step_call_succeed(call, bucket_put_local_output(name, key, len, hex));
}

/*
 * The bytes to write: a string input's, else the compact JSON text of
 * the input (*text, new), and their content type, "content_type" when
 * given. -1 once the call is failed.
 */
static int
bucket_put_data(struct step_call *call, const char **data, size_t *len,
    const char **ct, char **text)
{
	const json_t *input = step_call_input(call);
	const json_t *cv = json_object_get(step_call_with(call),
	    "content_type");

	*text = NULL;
	if (cv != NULL && !json_is_string(cv)) {
		step_call_fail(call, 0, "bucket.put \"content_type\" must be "
		    "a string");
		return -1;
	}
	if (json_is_string(input)) {
		*data = json_string_value(input);
		*len = json_string_length(input);
		*ct = "text/plain; charset=utf-8";
	} else {
		if ((*text = jsonenc_compact(input, NULL)) == NULL) {
			step_call_fail(call, 0, "bucket.put could not encode "
			    "its input as JSON");
			return -1;
		}
		*data = *text;
		*len = strlen(*text);
		*ct = "application/json";
	}
	if (cv != NULL)
		*ct = json_string_value(cv);
	return 0;
}

/* Writes the input to the bucket. */
static enum step_status
bucket_put_start(struct step_call *call)
{
	const char *name, *key, *root, *data, *ct;
	enum step_status st = STEP_DONE;
	struct pool *pool;
	char *text;
	size_t len;

	if (bucket_call_target(call, "bucket.put", &name, &key) != 0 ||
	    bucket_put_data(call, &data, &len, &ct, &text) != 0)
		return STEP_DONE;
	if (bucket_is_s3(name)) {
		if (strpbrk(ct, "\r\n") != NULL)
			step_call_fail(call, 0, "bucket.put \"content_type\" "
			    "holds a line break");
		else
			st = bucket_put_s3(call, name, key, data, len, ct);
	} else if ((root = bucket_call_root(call, "bucket.put", name)) !=
	    NULL) {
		if ((pool = step_call_pool(call)) != NULL)
			return bucket_put_local(call, pool, root, name, key,
			    step_call_input(call), text);
		bucket_put_inline(call, root, name, key, data, len);
	}
	free(text);
	return st;
}

/* Checks "bucket", "key" and the S3 settings as written. */
static void
bucket_put_check(const json_t *with, struct step_checker *chk)
{
	static const char *const s3_only[] = {
		"endpoint", "region", "access_key_env", "secret_key_env", NULL
	};
	const json_t *bv, *v;
	size_t i;

	bucket_check_target("bucket.put", with, chk);
	bv = json_object_get(with, "bucket");
	if ((v = json_object_get(with, "content_type")) != NULL &&
	    !json_is_string(v))
		step_check_error(chk, "with.content_type", "bucket.put "
		    "\"content_type\" must be a string");
	for (i = 0; s3_only[i] != NULL; i++) {
		if ((v = json_object_get(with, s3_only[i])) == NULL)
			continue;
		if (!json_is_string(v))
			step_check_error(chk, "with", "bucket.put \"%s\" must "
			    "be a string", s3_only[i]);
		else if (json_is_string(bv) && !step_value_is_template(bv) &&
		    !bucket_is_s3(json_string_value(bv)))
			step_check_error(chk, "with", "bucket.put \"%s\" is "
			    "only for s3:// buckets", s3_only[i]);
	}
}

const struct step_entry step_bucket_put_entry = {
	.name = "bucket.put",
	.summary = "write the input to a key in a local folder or S3 bucket",
	.keys = bucket_put_keys,
	.check = bucket_put_check,
	.start = bucket_put_start,
	.cancel = bucket_call_cancel
};
