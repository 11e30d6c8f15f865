/*
 * The bucket.put step: writes its input (a string's bytes, or any other
 * value's compact JSON text) to KEY in a local folder bucket, the folder
 * BUCKETS_DIR/NAME. The write is atomic: a temporary file in the target
 * folder, written whole and fsync'd, renamed over the key, then the folder
 * fsync'd. Keys are relative paths that cannot leave the bucket. Failures
 * of the disk are worth a retry; a bad name, key or permission is not.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orchestrator.h"
#include "permit.h"
#include "steps.h"

#define BUCKET_PUT_KEY_MAX	1024

static const char *const bucket_put_keys[] = {
	"bucket", "key", "content_type", NULL
};

/* Whether a bucket name matches ^[a-z0-9][a-z0-9._-]{0,62}$. */
static int
bucket_put_name_ok(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > 63)
		return 0;
	for (i = 0; i < len; i++) {
		if ((name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= '0' && name[i] <= '9'))
			continue;
		if (i > 0 && (name[i] == '.' || name[i] == '_' ||
		    name[i] == '-'))
			continue;
		return 0;
	}
	return 1;
}

/* Checks a bucket name; NULL when fine, else why not (a static string). */
static const char *
bucket_put_name_problem(const char *name)
{
	if (strncmp(name, "s3://", 5) == 0)
		return "s3 buckets are not supported in this version (local "
		    "folder buckets only)";
	if (!bucket_put_name_ok(name))
		return "bucket name must be 1 to 63 of a-z, 0-9, '.', '_', "
		    "'-', starting with a letter or digit";
	return NULL;
}

/* Checks that a key stays inside its bucket; NULL or why not. */
static const char *
bucket_put_key_problem(const char *key, size_t len)
{
	const char *p, *end;
	size_t i, n;

	if (len == 0)
		return "it is empty";
	if (len > BUCKET_PUT_KEY_MAX)
		return "it is longer than 1024 bytes";
	if (strlen(key) != len)
		return "it holds a NUL character";
	if (key[0] == '/')
		return "it is absolute";
	for (i = 0; i < len; i++) {
		if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
			return "it holds a control character";
		if (key[i] == '\\')
			return "it holds a backslash";
	}
	for (p = key; ; p = end + 1) {
		if ((end = strchr(p, '/')) == NULL)
			end = key + len;
		n = end - p;
		if (n == 0)
			return "it has an empty path component";
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return "it has a \".\" or \"..\" path component";
		if (*end == '\0')
			break;
	}
	return NULL;
}

/* Whether an errno is a passing trouble of the disk, worth a retry. */
static int
bucket_put_retryable(int e)
{
	switch (e) {
	case ENOSPC:
	case EIO:
	case EDQUOT:
	case EMFILE:
	case ENFILE:
	case ENOMEM:
	case EAGAIN:
	case EINTR:
	case EBUSY:
	case ETIMEDOUT:
	case ESTALE:
		return 1;
	default:
		return 0;
	}
}

/* Fails the call for an errno on path. */
static void
bucket_put_fail_errno(struct step_call *call, const char *what,
    const char *path, int e)
{
	step_call_fail(call, bucket_put_retryable(e), "bucket.put: %s %s: %s",
	    what, path, strerror(e));
}

/* Creates a folder if it is missing. */
static int
bucket_put_mkdir(const char *path)
{
	struct stat sb;

	if (mkdir(path, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	if (stat(path, &sb) != 0)
		return -1;
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

/* Writes all of buf to fd. */
static int
bucket_put_write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsyncs a folder so a rename in it survives a crash. */
static int
bucket_put_sync_dir(const char *dir)
{
	int fd, e;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (fsync(fd) != 0 && errno != EINVAL) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Creates BUCKETS_DIR, the bucket and the key's folders, then writes the
 * data atomically. Fails the call and returns -1 on error.
 */
static int
bucket_put_write(struct step_call *call, const char *root, const char *name,
    const char *key, const char *data, size_t len)
{
	char *dir, *path, *tmp, *slash;
	const char *p;
	int fd = -1, e, ret = -1;

	dir = xasprintf("%s/%s", root, name);
	path = xasprintf("%s/%s", dir, key);
	tmp = NULL;

	if (bucket_put_mkdir(root) != 0) {
		bucket_put_fail_errno(call, "cannot create buckets folder",
		    root, errno);
		goto out;
	}
	/* Each folder of the key, from the bucket down. */
	for (p = path + strlen(root) + 1; (slash = strchr(p, '/')) != NULL;
	    p = slash + 1) {
		*slash = '\0';
		if (bucket_put_mkdir(path) != 0) {
			e = errno;
			bucket_put_fail_errno(call, "cannot create folder",
			    path, e);
			*slash = '/';
			goto out;
		}
		*slash = '/';
	}

	/* The temporary file sits next to the target so rename is atomic. */
	slash = strrchr(path, '/');
	tmp = xasprintf("%.*s/.bucket-put-XXXXXX", (int)(slash - path), path);
	if ((fd = mkstemp(tmp)) < 0) {
		bucket_put_fail_errno(call, "cannot create a temporary file in",
		    dir, errno);
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, 0644) != 0 || bucket_put_write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0) {
		bucket_put_fail_errno(call, "cannot write", tmp, errno);
		goto out;
	}
	e = close(fd);
	fd = -1;
	if (e != 0) {
		bucket_put_fail_errno(call, "cannot write", tmp, errno);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		bucket_put_fail_errno(call, "cannot rename to", path, errno);
		goto out;
	}
	free(tmp);
	tmp = NULL;

	*slash = '\0';
	if (bucket_put_sync_dir(path) != 0) {
		e = errno;
		bucket_put_fail_errno(call, "cannot sync folder", path, e);
		goto out;
	}
	ret = 0;

out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	free(path);
	free(dir);
	return ret;
}

/* Writes the input to the bucket. */
static enum step_status
bucket_put_start(struct step_call *call)
{
	const json_t *with = step_call_with(call);
	const json_t *input = step_call_input(call);
	const json_t *bv, *kv, *cv;
	const char *name, *key, *root, *problem, *data;
	char *text = NULL, hex[65];
	struct orc_error err;
	size_t len;
	json_t *out;

	bv = json_object_get(with, "bucket");
	kv = json_object_get(with, "key");
	cv = json_object_get(with, "content_type");
	if (!json_is_string(bv)) {
		step_call_fail(call, 0, "bucket.put needs \"bucket\"");
		return STEP_DONE;
	}
	name = json_string_value(bv);
	if ((problem = bucket_put_name_problem(name)) != NULL) {
		step_call_fail(call, 0, "bucket.put bucket \"%s\": %s", name,
		    problem);
		return STEP_DONE;
	}
	if (permit_bucket(step_call_allow(call), name, &err) != 0) {
		step_call_fail(call, 0, "%s", err.message);
		return STEP_DONE;
	}
	if (!json_is_string(kv)) {
		step_call_fail(call, 0, "bucket.put needs \"key\" (a string)");
		return STEP_DONE;
	}
	key = json_string_value(kv);
	problem = bucket_put_key_problem(key, json_string_length(kv));
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
	if ((root = step_call_buckets_dir(call)) == NULL || *root == '\0') {
		step_call_fail(call, 0, "bucket.put: no buckets folder is "
		    "configured");
		return STEP_DONE;
	}

	if (json_is_string(input)) {
		data = json_string_value(input);
		len = json_string_length(input);
	} else {
		text = json_dumps(input, JSON_ENCODE_ANY | JSON_COMPACT);
		if (text == NULL) {
			step_call_fail(call, 0, "bucket.put could not encode "
			    "its input as JSON");
			return STEP_DONE;
		}
		data = text;
		len = strlen(text);
	}

	if (bucket_put_write(call, root, name, key, data, len) != 0) {
		free(text);
		return STEP_DONE;
	}
	orc_sha256_hex(data, len, hex);
	free(text);

	out = json_pack("{s:s, s:s, s:I, s:s}", "bucket", name, "key", key,
	    "bytes", (json_int_t)len, "sha256", hex);
	if (out == NULL)
		fatal("%s: out of memory", __func__);
	step_call_succeed(call, out);
	return STEP_DONE;
}

/* Whether a value as written is a template, checked elsewhere. */
static int
bucket_put_is_template(const json_t *v)
{
	return json_is_string(v) && strstr(json_string_value(v), "{{") != NULL;
}

/* Checks "bucket" and "key" as written. */
static void
bucket_put_check(const json_t *with, struct step_checker *chk)
{
	const json_t *bv, *kv;
	const char *problem;

	bv = json_object_get(with, "bucket");
	if (bv == NULL)
		step_check_error(chk, "with", "bucket.put needs \"bucket\"");
	else if (!json_is_string(bv))
		step_check_error(chk, "with.bucket", "bucket.put \"bucket\" "
		    "must be a string");
	else if (!bucket_put_is_template(bv) &&
	    (problem = bucket_put_name_problem(json_string_value(bv))) != NULL)
		step_check_error(chk, "with.bucket", "%s", problem);

	kv = json_object_get(with, "key");
	if (kv == NULL)
		step_check_error(chk, "with", "bucket.put needs \"key\"");
	else if (!json_is_string(kv))
		step_check_error(chk, "with.key", "bucket.put \"key\" must be "
		    "a string");
	else if (!bucket_put_is_template(kv) &&
	    (problem = bucket_put_key_problem(json_string_value(kv),
	    json_string_length(kv))) != NULL)
		step_check_error(chk, "with.key", "bucket.put key \"%s\" is "
		    "not safe: %s", json_string_value(kv), problem);

	if ((bv = json_object_get(with, "content_type")) != NULL &&
	    !json_is_string(bv))
		step_check_error(chk, "with.content_type", "bucket.put "
		    "\"content_type\" must be a string");
}

const struct step_entry step_bucket_put_entry = {
	.name = "bucket.put",
	.summary = "write the input to a key in a local folder bucket",
	.keys = bucket_put_keys,
	.check = bucket_put_check,
	.start = bucket_put_start,
	.cancel = NULL
};
