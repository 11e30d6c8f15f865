/*
 * The bucket.put step: writes its input (a string's bytes, or any other
 * value's compact JSON text) to KEY in a local folder bucket, the folder
 * BUCKETS_DIR/NAME. The write is atomic and durable before the step
 * succeeds: a new file in the target folder, written whole and synced,
 * then published under the key, then the folder synced. On Linux the new
 * file has no name until it is linked under the key (O_TMPFILE), so a
 * crash leaves nothing behind, and its inode is synced again once linked;
 * elsewhere it is a temporary file renamed over the key. Keys are relative
 * paths that cannot leave the bucket. Failures of the disk are worth a
 * retry; a bad name, key or permission is not.
 *
 * Under the engine the write runs on the loop's I/O pool (pool.h): start
 * returns STEP_WAIT, a worker thread hashes and writes, and the loop
 * finishes the step. The writes the pool takes together share their
 * syncs (pool_submit_group): when there are many, one syncfs(2) makes all
 * their new files durable, publishing follows, a second syncfs makes that
 * durable, so a burst of writes costs two syncs of the file system, not
 * two or three fsyncs each. syncfs also waits for every other dirty page
 * of that file system, which costs latency when the load is light: a few
 * writes are fsync'd one by one, and their folders once each. A cancelled
 * step drops the result, but a write the worker already began still
 * lands: a cancelled or timed-out bucket.put may have written its key
 * (at least once, as with a retry). Without a pool (a step called
 * directly) the write happens inside start.
 *
 * With "bucket": "s3://NAME/PREFIX" the input goes to an S3-compatible
 * endpoint instead, as one PUT signed with AWS Signature Version 4 by
 * libcurl, on the event loop (the step waits without holding a thread).
 * The credentials come from environment variables the workflow declares
 * as secrets (bucket.c checks that and the allow rules). 5xx, 429 and
 * transport failures are retried; other answers fail with S3's error code.
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
#include "jsonenc.h"
#include "orchestrator.h"
#include "permit.h"
#include "pool.h"
#include "steps.h"

/* From this many writes taken together, syncfs is cheaper than fsyncs. */
#define BUCKET_PUT_SYNCFS_MIN	8

static const char *const bucket_put_keys[] = {
	"bucket", "key", "content_type", "endpoint", "region",
	"access_key_env", "secret_key_env", NULL
};

/* What a waiting call's data points to: each record starts with this. */
enum bucket_put_kind { BUCKET_PUT_S3, BUCKET_PUT_LOCAL };

/* An S3 upload in flight. */
struct bucket_put_s3 {
	enum bucket_put_kind	 kind;
	struct step_call	*call;
	struct fetch_req	*req;
	char			*spec;
	char			*key;
	char			*url;
	size_t			 len;
	char			 hex[65];
};

/*
 * A file written, not yet published under its key: open until then. Once
 * published, an unnamed file stays open (its inode is synced again for
 * its link count), a named one is closed. Everything is done relative to
 * the key's folder, opened beneath the bucket (bucket_dir_open), so that
 * no symbolic link planted in the bucket leads a write out of it.
 */
struct bucket_put_staged {
	int		 dir;		/* the key's folder, or -1 */
	int		 fd;		/* the file, or -1 */
	char		*tmp;		/* a named file in dir, or NULL */
	char		*path;		/* the key's file (messages) */
	const char	*base;		/* its name in dir, in path */
	dev_t		 dev;		/* their file system */
};

/*
 * A local write on the pool. The worker reads only the strings and the
 * data held here (input keeps a string input alive; it is only released
 * on the loop) and fills in the result; call is used on the loop only.
 */
struct bucket_put_local {
	enum bucket_put_kind	 kind;
	struct step_call	*call;
	struct pool_job		*job;
	char			*root;
	char			*name;
	char			*key;
	json_t			*input;		/* or NULL */
	char			*text;		/* or NULL */
	const char		*data;		/* in input or text */
	size_t			 len;
	/* Between the work and the group's sync (worker only). */
	struct bucket_put_staged st;
	/* The result, written by the worker. */
	char			*error;		/* NULL: written */
	int			 retryable;
	char			 hex[65];
};

/* Records the failure for an errno on path (any thread). */
static void
bucket_put_errno(char **error, int *retryable, const char *what,
    const char *path, int e)
{
	*retryable = bucket_errno_retryable(e);
	*error = xasprintf("bucket.put: %s %s: %s", what, path, strerror(e));
}

/* Records the failure for an errno on the folder of a staged key. */
static void
bucket_put_folder_errno(char **error, int *retryable, const char *what,
    const struct bucket_put_staged *st, int e)
{
	*retryable = bucket_errno_retryable(e);
	*error = xasprintf("bucket.put: %s %.*s: %s", what,
	    (int)(st->base - 1 - st->path), st->path, strerror(e));
}

/*
 * Whether files can be staged unnamed (Linux's O_TMPFILE, published with
 * linkat through /proc/self/fd): 1 yes, -1 no, 0 not known yet. Read and
 * written by every worker, hence atomically.
 */
static int bucket_put_unnamed_state;

/* Whether to stage unnamed files. */
static int
bucket_put_unnamed(void)
{
#ifdef O_TMPFILE
	int v = __atomic_load_n(&bucket_put_unnamed_state, __ATOMIC_RELAXED);

	if (v == 0) {
		v = access("/proc/self/fd", X_OK) == 0 ? 1 : -1;
		__atomic_store_n(&bucket_put_unnamed_state, v,
		    __ATOMIC_RELAXED);
	}
	return v > 0;
#else
	return 0;
#endif
}

/* Lets tests take either way. */
void
step_bucket_put_unnamed(int on)
{
	__atomic_store_n(&bucket_put_unnamed_state, on ? 0 : -1,
	    __ATOMIC_RELAXED);
}

/*
 * A new file for the data in the key's folder st->dir: unnamed when the
 * system allows (then nothing is left behind should the process die
 * before publishing, and the folder gets one new entry, not a temporary
 * one and a rename), else a temporary file next to the key, st->tmp
 * (rename is atomic within a folder). -1 with errno on failure.
 */
static int
bucket_put_create(struct bucket_put_staged *st)
{
	int fd, i, e = EEXIST;

#ifdef O_TMPFILE
	if (bucket_put_unnamed()) {
		fd = openat(st->dir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
		    0644);
		if (fd >= 0)
			return fd;
		e = errno;
		if (e != EOPNOTSUPP && e != EISDIR && e != EINVAL) {
			errno = e;
			return -1;
		}
		/* Not on this file system (or kernel): named files. */
		__atomic_store_n(&bucket_put_unnamed_state, -1,
		    __ATOMIC_RELAXED);
	}
#endif
	/* mkstemp's way, but in the folder's descriptor, not by path. */
	for (i = 0; i < 16; i++) {
		st->tmp = xasprintf(".bucket-put-%016llx",
		    (unsigned long long)orc_random(UINT64_MAX));
		fd = openat(st->dir, st->tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;	/* held until published */
		e = errno;	/* before free, which may change it */
		free(st->tmp);
		st->tmp = NULL;
		if (e != EEXIST)
			break;
	}
	errno = e;
	return -1;
}

/* Opens the key's folder beneath the bucket, making the missing ones, and
 * a new file in it (bucket_put_create); -1 with *error and *retryable. */
static int
bucket_put_open(const char *root, const char *name, const char *key,
    struct bucket_put_staged *st, char **error, int *retryable)
{
	int fd;

	if ((st->dir = bucket_dir_open("bucket.put", root, name, key, 1,
	    error, retryable)) < 0)
		return -1;
	if ((fd = bucket_put_create(st)) >= 0)
		return fd;
	bucket_put_folder_errno(error, retryable, "cannot create a temporary "
	    "file in", st, errno);
	return -1;
}

/* Drops a staged file that will not be published. */
static void
bucket_put_discard(struct bucket_put_staged *st)
{
	if (st->fd >= 0)
		close(st->fd);
	if (st->tmp != NULL)
		unlinkat(st->dir, st->tmp, 0);
	if (st->dir >= 0)
		close(st->dir);
	free(st->tmp);
	st->fd = -1;
	st->dir = -1;
	st->tmp = NULL;
}

/*
 * Writes the data to a new file for the key (fsync'd when sync is set),
 * creating BUCKETS_DIR, the bucket and the key's folders when missing. On
 * success st holds the staged file (its descriptor stays open when it is
 * unnamed), the key's path and its file system; on error st is empty and
 * *error (the message) and *retryable are set. Touches no step call: it
 * runs on worker threads.
 */
static int
bucket_put_stage(const char *root, const char *name, const char *key,
    const char *data, size_t len, int sync, struct bucket_put_staged *st,
    char **error, int *retryable)
{
	struct stat sb;
	int fd;

	st->fd = -1;
	st->dir = -1;
	st->tmp = NULL;
	st->path = xasprintf("%s/%s/%s", root, name, key);
	st->base = st->path + strlen(st->path) - strlen(bucket_key_base(key));
	if ((fd = bucket_put_open(root, name, key, st, error,
	    retryable)) < 0)
		goto fail;
	st->fd = fd;
	if (fchmod(fd, 0644) != 0 || orc_write_all(fd, data, len) != 0 ||
	    (sync && fsync(fd) != 0) || fstat(fd, &sb) != 0) {
		bucket_put_errno(error, retryable, "cannot write", st->path,
		    errno);
		goto fail;
	}
	st->dev = sb.st_dev;
	return 0;

fail:
	bucket_put_discard(st);
	free(st->path);
	st->path = NULL;
	return -1;
}

/*
 * Gives an unnamed file the key's name. A key that exists already is
 * replaced atomically: the file is linked under a temporary name first,
 * then renamed over it (link never replaces). -1 with errno.
 */
static int
bucket_put_link(const struct bucket_put_staged *st)
{
	static unsigned	 counter;
	char		 proc[32], *tmp;
	int		 i, rc, e;

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", st->fd);
	if (linkat(AT_FDCWD, proc, st->dir, st->base,
	    AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	for (i = 0; i < 16; i++) {
		tmp = xasprintf(".bucket-put-%ld-%u", (long)getpid(),
		    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
		/* rename replaces a link at the key, never follows it. */
		if ((rc = linkat(AT_FDCWD, proc, st->dir, tmp,
		    AT_SYMLINK_FOLLOW)) == 0 && (rc = renameat(st->dir, tmp,
		    st->dir, st->base)) != 0) {
			e = errno;
			unlinkat(st->dir, tmp, 0);
			errno = e;
		}
		e = errno;
		free(tmp);
		if (rc == 0 || e != EEXIST) {
			errno = e;
			return rc;
		}
	}
	errno = EEXIST;
	return -1;
}

/*
 * Publishes a staged file under its key. An unnamed file keeps its
 * descriptor (bucket_put_discard closes it): its new link count is in its
 * inode, which must be synced again for the key to be durable. On error
 * the file is gone and *error and *retryable are set.
 */
static int
bucket_put_publish(struct bucket_put_staged *st, char **error,
    int *retryable)
{
	int rc, e;

	rc = st->tmp == NULL ? bucket_put_link(st) : renameat(st->dir, st->tmp,
	    st->dir, st->base);
	e = errno;
	if (rc != 0) {
		bucket_put_errno(error, retryable, st->tmp == NULL ?
		    "cannot link to" : "cannot rename to", st->path, e);
		bucket_put_discard(st);
		return -1;
	}
	if (st->tmp != NULL) {
		/* Renaming leaves its inode as it was synced. */
		close(st->fd);
		st->fd = -1;
		free(st->tmp);
		st->tmp = NULL;
	}
	return 0;
}

/* Fsyncs the key's folder; -1 with *error and *retryable. */
static int
bucket_put_sync_folder(const struct bucket_put_staged *st, char **error,
    int *retryable)
{
	if (fsync(st->dir) == 0 || errno == EINVAL)
		return 0;
	bucket_put_folder_errno(error, retryable, "cannot sync folder", st,
	    errno);
	return -1;
}

/*
 * Writes data to KEY atomically and durably, on its own: the new file
 * fsync'd, published under the key, fsync'd again when it was unnamed
 * (its link count), the folder fsync'd.
 */
static int
bucket_put_write(const char *root, const char *name, const char *key,
    const char *data, size_t len, char **error, int *retryable)
{
	struct bucket_put_staged st;
	int ret = -1;

	if (bucket_put_stage(root, name, key, data, len, 1, &st, error,
	    retryable) != 0)
		return -1;
	if (bucket_put_publish(&st, error, retryable) != 0)
		goto out;
	if (st.fd >= 0 && fsync(st.fd) != 0) {
		bucket_put_errno(error, retryable, "cannot write", st.path,
		    errno);
		goto out;
	}
	ret = bucket_put_sync_folder(&st, error, retryable);
out:
	bucket_put_discard(&st);
	free(st.path);
	return ret;
}

/* Frees an upload record (not its request). */
static void
bucket_put_s3_free(struct bucket_put_s3 *up)
{
	free(up->spec);
	free(up->key);
	free(up->url);
	free(up);
}

/* S3 answered (or the transport failed): finish the call. */
static void
bucket_put_s3_done_cb(const struct fetch_response *resp, void *arg)
{
	struct bucket_put_s3 *up = arg;
	struct step_call *call = up->call;
	const char *etag;
	char *why;
	size_t n;
	int retryable;
	json_t *out;

	step_call_set_data(call, NULL);
	if (bucket_s3_failed(resp, &why, &retryable)) {
		step_call_fail(call, retryable, "bucket.put %s key \"%s\": "
		    "PUT %s: %s", up->spec, up->key, up->url, why);
		free(why);
		bucket_put_s3_free(up);
		return;
	}
	out = json_pack("{s:s, s:s, s:I, s:s, s:s}", "bucket", up->spec,
	    "key", up->key, "bytes", (json_int_t)up->len, "sha256", up->hex,
	    "url", up->url);
	if (out == NULL)
		fatal("%s: out of memory", __func__);
	/* The ETag comes quoted: the value is what is inside. */
	etag = json_string_value(json_object_get(resp->headers, "etag"));
	if (etag != NULL) {
		n = strlen(etag);
		if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"')
			json_object_set_new(out, "etag",
			    json_stringn(etag + 1, n - 2));
		else
			json_object_set_new(out, "etag", json_string(etag));
	}
	bucket_put_s3_free(up);
	step_call_succeed(call, out);
}

/* Starts a signed PUT of data to an S3 bucket. */
static enum step_status
bucket_put_s3(struct step_call *call, const char *spec, const char *key,
    const char *data, size_t len, const char *content_type)
{
	struct fetch_request req;
	struct bucket_put_s3 *up;
	struct bucket_s3 b;
	struct orc_error err;
	struct fetch *f;
	char *lines[3];

	if (bucket_s3_setup(&b, spec, step_call_with(call),
	    step_call_allow(call), step_call_secrets(call), &err) != 0) {
		step_call_fail(call, 0, "bucket.put %s: %s", spec, err.message);
		return STEP_DONE;
	}
	if ((f = step_call_fetch(call)) == NULL) {
		step_call_fail(call, 0, "bucket.put %s: s3 buckets need the "
		    "event loop", spec);
		bucket_s3_clear(&b);
		return STEP_DONE;
	}
	up = xcalloc(1, sizeof *up);
	up->kind = BUCKET_PUT_S3;
	up->call = call;
	up->spec = xstrdup(spec);
	up->key = xstrdup(key);
	up->url = bucket_s3_url(&b, key);
	up->len = len;
	orc_sha256_hex(data, len, up->hex);

	/* The payload's hash is signed too (S3 wants it as a header). */
	lines[0] = xasprintf("x-amz-content-sha256: %s", up->hex);
	lines[1] = xasprintf("Content-Type: %s", content_type);
	lines[2] = NULL;
	memset(&req, 0, sizeof req);
	req.method = "PUT";
	req.url = up->url;
	req.headers = (const char *const *)lines;
	req.body = data;
	req.body_len = len;
	req.timeout_ms = step_call_timeout_ms(call);
	req.allow = step_call_allow(call);
	req.aws_sigv4 = b.sigv4;
	req.userpwd = b.userpwd;
	up->req = fetch_start(f, &req, bucket_put_s3_done_cb, up, &err);
	free(lines[0]);
	free(lines[1]);
	bucket_s3_clear(&b);
	if (up->req == NULL) {
		step_call_fail(call, err.code != ORC_EPERM &&
		    err.code != ORC_EINVAL, "bucket.put %s: PUT %s: %s", spec,
		    up->url, err.message);
		bucket_put_s3_free(up);
		return STEP_DONE;
	}
	step_call_set_data(call, up);
	return STEP_WAIT;
}

/* Frees a local write record, on the loop thread. */
static void
bucket_put_local_free(struct bucket_put_local *w)
{
	free(w->root);
	free(w->name);
	free(w->key);
	free(w->st.path);
	json_decref(w->input);
	free(w->text);
	free(w->error);
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
	    &w->st, &w->error, &w->retryable);
}

/*
 * Makes the staged files of a group's writes on file system dev durable
 * with one syncfs; a failure fails them all (worth a retry: the disk).
 * after names the step the sync follows, for the message.
 */
static void
bucket_put_sync_dev(struct bucket_put_local **ws, int n, dev_t dev,
    const char *after)
{
	int i, fd = -1, e = 0;

	/* Any staged write's folder names the file system. */
	for (i = 0; i < n && fd < 0; i++) {
		if (ws[i]->error == NULL && ws[i]->st.dev == dev)
			fd = ws[i]->st.dir;
	}
	if (fd >= 0 && syncfs(fd) != 0)
		e = errno;
	for (i = 0; i < n && e != 0; i++) {
		if (ws[i]->error != NULL || ws[i]->st.dev != dev)
			continue;
		bucket_put_errno(&ws[i]->error, &ws[i]->retryable, after,
		    ws[i]->st.path, e);
	}
}

/* Syncs every file system the group's staged writes are on, once. */
static void
bucket_put_sync_all(struct bucket_put_local **ws, int n, const char *after)
{
	int i, j;

	for (i = 0; i < n; i++) {
		if (ws[i]->error != NULL)
			continue;
		for (j = 0; j < i; j++)
			if (ws[j]->error == NULL &&
			    ws[j]->st.dev == ws[i]->st.dev)
				break;
		if (j == i)
			bucket_put_sync_dev(ws, n, ws[i]->st.dev, after);
	}
}

/*
 * Fsyncs each file of a small group still open: before publishing, every
 * staged file (its data); after, the unnamed ones again (their inodes
 * hold the new link counts; a renamed file was closed).
 */
static void
bucket_put_sync_files(struct bucket_put_local **ws, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (ws[i]->error == NULL && ws[i]->st.fd >= 0 &&
		    fsync(ws[i]->st.fd) != 0)
			bucket_put_errno(&ws[i]->error, &ws[i]->retryable,
			    "cannot write", ws[i]->st.path, errno);
	}
}

/* Whether two keys' files are in the same folder. */
static int
bucket_put_same_folder(const char *a, const char *b)
{
	size_t len = (size_t)(strrchr(a, '/') - a);

	return strncmp(a, b, len + 1) == 0 && strchr(b + len + 1, '/') == NULL;
}

/* Fsyncs each folder a small group published into, once; a failure fails
 * every write into that folder. */
static void
bucket_put_sync_folders(struct bucket_put_local **ws, int n)
{
	char *path, *error;
	int i, j, retryable;

	for (i = 0; i < n; i++) {
		if (ws[i]->error != NULL)
			continue;
		for (j = 0; j < i; j++)
			if (ws[j]->error == NULL && bucket_put_same_folder(
			    ws[j]->st.path, ws[i]->st.path))
				break;
		if (j < i)
			continue;
		path = ws[i]->st.path;
		if (bucket_put_sync_folder(&ws[i]->st, &error,
		    &retryable) == 0)
			continue;
		for (j = i; j < n; j++) {
			if (ws[j]->error != NULL ||
			    !bucket_put_same_folder(path, ws[j]->st.path))
				continue;
			ws[j]->error = xstrdup(error);
			ws[j]->retryable = retryable;
		}
		free(error);
	}
}

/* Publishes each staged file of a group under its key (or drops it). */
static void
bucket_put_publish_all(struct bucket_put_local **ws, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (ws[i]->st.fd < 0)
			continue;	/* nothing staged */
		if (ws[i]->error != NULL)
			bucket_put_discard(&ws[i]->st);
		else
			bucket_put_publish(&ws[i]->st, &ws[i]->error,
			    &ws[i]->retryable);
	}
}

/*
 * On a worker thread, after the work of a group of local writes. A large
 * group: one sync makes every new file durable, publishing names them, a
 * second sync makes the names durable (and the unnamed files' new link
 * counts); two syncs per group, not two or three fsyncs per write, so
 * under load the disk's cost is shared. A small group (the pool keeps
 * up): fsyncs per file and per folder, as syncfs would also wait for
 * every other dirty page of the file system.
 */
static void
bucket_put_local_group(void **args, int n)
{
	struct bucket_put_local **ws = (struct bucket_put_local **)args;
	int i;

	if (n >= BUCKET_PUT_SYNCFS_MIN)
		bucket_put_sync_all(ws, n, "cannot sync before writing");
	else
		bucket_put_sync_files(ws, n);
	bucket_put_publish_all(ws, n);
	if (n >= BUCKET_PUT_SYNCFS_MIN)
		bucket_put_sync_all(ws, n, "cannot sync after writing");
	else {
		bucket_put_sync_files(ws, n);
		bucket_put_sync_folders(ws, n);
	}
	for (i = 0; i < n; i++)
		bucket_put_discard(&ws[i]->st);
}

/* On the loop: the write ended (or the call was cancelled). */
static void
bucket_put_local_done(void *arg, int cancelled)
{
	struct bucket_put_local *w = arg;
	struct step_call *call = w->call;
	json_t *out;

	/* Cancelled: the call may be gone; only the record is ours. */
	if (cancelled) {
		bucket_put_local_free(w);
		return;
	}
	step_call_set_data(call, NULL);
	if (w->error != NULL) {
		step_call_fail(call, w->retryable, "%s", w->error);
		bucket_put_local_free(w);
		return;
	}
	out = bucket_put_local_output(w->name, w->key, w->len, w->hex);
	bucket_put_local_free(w);
	step_call_succeed(call, out);
}

/* Hands a local write to the pool; takes ownership of text. */
static enum step_status
bucket_put_local(struct step_call *call, struct pool *pool, const char *root,
    const char *name, const char *key, const json_t *input, char *text)
{
	struct bucket_put_local *w;

	w = xcalloc(1, sizeof *w);
	w->kind = BUCKET_PUT_LOCAL;
	w->st.fd = -1;
	w->st.dir = -1;
	w->call = call;
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
	w->job = pool_submit_group(pool, bucket_put_local_work,
	    bucket_put_local_group, bucket_put_local_done, w);
	return STEP_WAIT;
}

/* Stops an upload or write in flight; no callback follows. */
static void
bucket_put_cancel(struct step_call *call)
{
	enum bucket_put_kind *kind = step_call_data(call);
	struct bucket_put_local *w;
	struct bucket_put_s3 *up;

	if (kind == NULL)
		return;
	step_call_set_data(call, NULL);
	switch (*kind) {
	case BUCKET_PUT_S3:
		up = (struct bucket_put_s3 *)kind;
		fetch_cancel(up->req);
		bucket_put_s3_free(up);
		break;
	case BUCKET_PUT_LOCAL:
		/* The pool releases w once no worker uses it; a write
		 * under way still finishes. */
		w = (struct bucket_put_local *)kind;
		pool_cancel(w->job);
		break;
	}
}

/* Writes the input to the bucket. */
static enum step_status
bucket_put_start(struct step_call *call)
{
	const json_t *with = step_call_with(call);
	const json_t *input = step_call_input(call);
	const json_t *bv, *kv, *cv;
	const char *name, *key, *root, *problem, *data, *ct;
	char *text = NULL, *why, hex[65];
	struct orc_error err;
	enum step_status st;
	struct pool *pool;
	size_t len;
	int retryable;

	bv = json_object_get(with, "bucket");
	kv = json_object_get(with, "key");
	cv = json_object_get(with, "content_type");
	if (!json_is_string(bv)) {
		step_call_fail(call, 0, "bucket.put needs \"bucket\"");
		return STEP_DONE;
	}
	name = json_string_value(bv);
	if ((problem = bucket_spec_problem(name)) != NULL) {
		step_call_fail(call, 0, "bucket.put bucket \"%s\": %s", name,
		    problem);
		return STEP_DONE;
	}
	if (!json_is_string(kv)) {
		step_call_fail(call, 0, "bucket.put needs \"key\" (a string)");
		return STEP_DONE;
	}
	key = json_string_value(kv);
	problem = bucket_key_problem(key, json_string_length(kv));
	if (problem != NULL) {
		step_call_fail(call, 0, "bucket.put key \"%s\" is not safe: %s",
		    key, problem);
		return STEP_DONE;
	}
	if (cv != NULL && !json_is_string(cv)) {
		step_call_fail(call, 0, "bucket.put \"content_type\" must be "
		    "a string");
		return STEP_DONE;
	}

	if (json_is_string(input)) {
		data = json_string_value(input);
		len = json_string_length(input);
		ct = "text/plain; charset=utf-8";
	} else {
		text = jsonenc_compact(input, NULL);
		if (text == NULL) {
			step_call_fail(call, 0, "bucket.put could not encode "
			    "its input as JSON");
			return STEP_DONE;
		}
		data = text;
		len = strlen(text);
		ct = "application/json";
	}
	if (cv != NULL)
		ct = json_string_value(cv);

	if (bucket_is_s3(name)) {
		if (strpbrk(ct, "\r\n") != NULL) {
			step_call_fail(call, 0, "bucket.put \"content_type\" "
			    "holds a line break");
			free(text);
			return STEP_DONE;
		}
		st = bucket_put_s3(call, name, key, data, len, ct);
		free(text);
		return st;
	}

	if (permit_bucket(step_call_allow(call), name, &err) != 0) {
		step_call_fail(call, 0, "%s", err.message);
		free(text);
		return STEP_DONE;
	}
	if ((root = step_call_buckets_dir(call)) == NULL || *root == '\0') {
		step_call_fail(call, 0, "bucket.put: no buckets folder is "
		    "configured");
		free(text);
		return STEP_DONE;
	}
	if ((pool = step_call_pool(call)) != NULL)
		return bucket_put_local(call, pool, root, name, key, input,
		    text);

	/* No pool: write inside start, on this thread. */
	if (bucket_put_write(root, name, key, data, len, &why,
	    &retryable) != 0) {
		step_call_fail(call, retryable, "%s", why);
		free(why);
		free(text);
		return STEP_DONE;
	}
	orc_sha256_hex(data, len, hex);
	free(text);
	step_call_succeed(call, bucket_put_local_output(name, key, len, hex));
	return STEP_DONE;
}

/* Checks "bucket", "key" and the S3 settings as written. */
static void
bucket_put_check(const json_t *with, struct step_checker *chk)
{
	static const char *const s3_only[] = {
		"endpoint", "region", "access_key_env", "secret_key_env", NULL
	};
	const json_t *bv, *kv, *v;
	const char *problem;
	size_t i;

	bv = json_object_get(with, "bucket");
	if (bv == NULL)
		step_check_error(chk, "with", "bucket.put needs \"bucket\"");
	else if (!json_is_string(bv))
		step_check_error(chk, "with.bucket", "bucket.put \"bucket\" "
		    "must be a string");
	else if (!step_value_is_template(bv) &&
	    (problem = bucket_spec_problem(json_string_value(bv))) != NULL)
		step_check_error(chk, "with.bucket", "%s", problem);

	kv = json_object_get(with, "key");
	if (kv == NULL)
		step_check_error(chk, "with", "bucket.put needs \"key\"");
	else if (!json_is_string(kv))
		step_check_error(chk, "with.key", "bucket.put \"key\" must be "
		    "a string");
	else if (!step_value_is_template(kv) &&
	    (problem = bucket_key_problem(json_string_value(kv),
	    json_string_length(kv))) != NULL)
		step_check_error(chk, "with.key", "bucket.put key \"%s\" is "
		    "not safe: %s", json_string_value(kv), problem);

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
	.cancel = bucket_put_cancel
};
