/*
 * The rules the bucket steps share. Local buckets are folders under the
 * buckets root and S3 buckets are reached path-style on an endpoint; both
 * take the same keys, relative paths that cannot climb out of the bucket.
 * The S3 setup checks the workflow's permissions before anything is sent
 * and reads the credentials only from variables the workflow declared as
 * secrets, so that a definition cannot borrow the server's other secrets.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>
#ifdef HAVE_LINUX_OPENAT2_H
#include <sys/syscall.h>
#include <linux/openat2.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bucket.h"
#include "fetch.h"
#include "permit.h"

#define BUCKET_REGION_DEFAULT	"us-east-1"
#define BUCKET_ACCESS_DEFAULT	"AWS_ACCESS_KEY_ID"
#define BUCKET_SECRET_DEFAULT	"AWS_SECRET_ACCESS_KEY"

/* Whether a bucket name matches ^[a-z0-9][a-z0-9._-]{0,62}$. */
int
bucket_name_ok(const char *name)
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

/* Whether a "bucket" value is s3://... */
int
bucket_is_s3(const char *spec)
{
	return strncmp(spec, BUCKET_S3_PREFIX, sizeof BUCKET_S3_PREFIX - 1) ==
	    0;
}

/* Splits "s3://NAME/PREFIX" into new strings; -1 when NAME is bad. */
static int
bucket_s3_split(const char *spec, char **name, char **prefix)
{
	const char *p = spec + sizeof BUCKET_S3_PREFIX - 1, *slash;
	size_t n;

	slash = strchr(p, '/');
	*name = slash != NULL ? xstrndup(p, slash - p) : xstrdup(p);
	if (!bucket_name_ok(*name)) {
		free(*name);
		*name = NULL;
		return -1;
	}
	p = slash != NULL ? slash + 1 : "";
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	*prefix = xstrndup(p, n);
	return 0;
}

/* A "bucket" value's problem, or NULL. */
const char *
bucket_spec_problem(const char *spec)
{
	char *name, *prefix;
	const char *why = NULL;

	if (!bucket_is_s3(spec)) {
		if (!bucket_name_ok(spec))
			return "bucket name must be 1 to 63 of a-z, 0-9, '.', "
			    "'_', '-', starting with a letter or digit";
		return NULL;
	}
	if (bucket_s3_split(spec, &name, &prefix) != 0)
		return "s3 bucket must be s3://NAME or s3://NAME/PREFIX with "
		    "NAME 1 to 63 of a-z, 0-9, '.', '_', '-'";
	if (*prefix != '\0' && bucket_key_problem(prefix, strlen(prefix)) !=
	    NULL)
		why = "s3 bucket prefix must be a relative path without "
		    "empty, \".\" or \"..\" components";
	free(name);
	free(prefix);
	return why;
}

/* Why a key is not safe, or NULL. */
const char *
bucket_key_problem(const char *key, size_t len)
{
	const char *p, *end;
	size_t i, n;

	if (len == 0)
		return "it is empty";
	if (len > BUCKET_KEY_MAX)
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

/* Whether an errno is worth a retry. */
int
bucket_errno_retryable(int e)
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

/*
 * Whether to try openat2 before the walk: 1 try it, 0 the kernel lacks it
 * (ENOSYS) or a test wants the walk. Read and written by every I/O
 * worker, hence atomically.
 */
static int bucket_openat2_on = 1;

/* Lets tests take the walk. */
void
bucket_dir_walk_only(int on)
{
	__atomic_store_n(&bucket_openat2_on, !on, __ATOMIC_RELAXED);
}

/* The key's last component. */
const char *
bucket_key_base(const char *key)
{
	const char *slash = strrchr(key, '/');

	return slash != NULL ? slash + 1 : key;
}

/* Opens (with create, first makes) the folder name in the folder fd,
 * never through a symbolic link; -1 with errno, ELOOP for a link. */
static int
bucket_dir_step(int fd, const char *name, int create)
{
	struct stat sb;
	int d, e;

	d = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d < 0 && errno == ENOENT && create &&
	    (mkdirat(fd, name, 0755) == 0 || errno == EEXIST))
		d = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	if (d >= 0)
		return d;
	e = errno;
	/* O_DIRECTORY may win over O_NOFOLLOW (ENOTDIR): name the link. */
	if ((e == ENOTDIR || e == ELOOP) && fstatat(fd, name, &sb,
	    AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode))
		e = ELOOP;
	errno = e;
	return -1;
}

/* Opens the bucket folder ROOT/NAME, following links (the operator's);
 * with create, makes ROOT and the bucket when missing. */
static int
bucket_root_open(const char *root, const char *name, int create)
{
	char *path;
	int fd, e;

	path = xasprintf("%s/%s", root, name);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create &&
	    (mkdir(root, 0755) == 0 || errno == EEXIST) &&
	    (mkdir(path, 0755) == 0 || errno == EEXIST))
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	e = errno;
	free(path);
	errno = e;
	return fd;
}

/*
 * Opens the folders of key[0..len) one by one from the bucket folder fd
 * (closed here), each without following a link; -1 with errno and *stop
 * the length of the key's prefix up to the component that failed.
 */
static int
bucket_dir_walk(int fd, const char *key, size_t len, int create,
    size_t *stop)
{
	char *buf, *p, *slash;
	int next, e;

	buf = xstrndup(key, len);
	for (p = buf; ; p = slash + 1) {
		if ((slash = strchr(p, '/')) != NULL)
			*slash = '\0';
		if ((next = bucket_dir_step(fd, p, create)) < 0) {
			e = errno;
			*stop = (size_t)(p - buf) + strlen(p);
			close(fd);
			free(buf);
			errno = e;
			return -1;
		}
		close(fd);
		fd = next;
		if (slash == NULL)
			break;
	}
	free(buf);
	return fd;
}

#ifdef HAVE_LINUX_OPENAT2_H
/* The folder path[0..len) beneath fd in one call, or -1 (ENOSYS: never
 * again); any failure leaves the walk to tell why. */
static int
bucket_dir_openat2(int fd, const char *key, size_t len)
{
	struct open_how how;
	char *path;
	long d;

	if (!__atomic_load_n(&bucket_openat2_on, __ATOMIC_RELAXED))
		return -1;
	memset(&how, 0, sizeof how);
	how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
	path = xstrndup(key, len);
	d = syscall(SYS_openat2, fd, path, &how, sizeof how);
	if (d < 0 && errno == ENOSYS)
		__atomic_store_n(&bucket_openat2_on, 0, __ATOMIC_RELAXED);
	free(path);
	return (int)d;
}
#endif

/* Opens the folder of a key beneath its bucket; see bucket.h. */
int
bucket_dir_open(const char *step, const char *root, const char *name,
    const char *key, int create, char **why, int *retryable)
{
	const char *base = bucket_key_base(key);
	size_t len, stop = 0;
	int fd, d, e;

	*why = NULL;
	*retryable = 0;
	if ((fd = bucket_root_open(root, name, create)) < 0)
		goto fail;
	if (base == key)
		return fd;
	len = (size_t)(base - key) - 1;
#ifdef HAVE_LINUX_OPENAT2_H
	if ((d = bucket_dir_openat2(fd, key, len)) >= 0) {
		close(fd);
		return d;
	}
#endif
	/* No openat2, a folder to make, or an error to name: the walk. */
	if ((d = bucket_dir_walk(fd, key, len, create, &stop)) >= 0)
		return d;
fail:
	e = errno;
	if (e == ELOOP && stop > 0)
		*why = xasprintf("%s bucket \"%s\" key \"%s\": \"%.*s\" is a "
		    "symbolic link, and a key is resolved inside its bucket "
		    "folder only", step, name, key, (int)stop, key);
	else {
		*retryable = bucket_errno_retryable(e);
		*why = xasprintf("%s: cannot %s folder %s/%s%s%.*s: %s", step,
		    create ? "create" : "open", root, name, stop > 0 ? "/" :
		    "", (int)stop, key, strerror(e));
	}
	errno = e;
	return -1;
}

/* Whether the workflow's "secrets" lists name. */
static int
bucket_secret_listed(const json_t *secrets, const char *name)
{
	const json_t *v;
	size_t i;

	json_array_foreach(secrets, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), name) ==
		    0)
			return 1;
	}
	return 0;
}

/* A string from "with", or def; NULL with err when not a string. */
static const char *
bucket_with_string(const json_t *with, const char *key, const char *def,
    struct orc_error *err)
{
	const json_t *v = json_object_get(with, key);

	if (v == NULL)
		return def;
	if (!json_is_string(v) || json_string_length(v) == 0) {
		orc_error_set(err, ORC_EINVAL, "\"%s\" must be a non-empty "
		    "string", key);
		return NULL;
	}
	return json_string_value(v);
}

/* Reads one declared secret from the environment; NULL with err. */
static const char *
bucket_secret(const json_t *secrets, const char *var, struct orc_error *err)
{
	const char *v;

	if (!bucket_secret_listed(secrets, var)) {
		orc_error_set(err, ORC_EPERM, "secret %s is not in the "
		    "workflow's secrets", var);
		return NULL;
	}
	if ((v = getenv(var)) == NULL || *v == '\0') {
		orc_error_set(err, ORC_EINVAL, "secret %s is not set in the "
		    "environment", var);
		return NULL;
	}
	return v;
}

/* Whether a region is a plain token (it goes into the signing scope). */
static int
bucket_region_ok(const char *r)
{
	for (; *r != '\0'; r++) {
		if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') ||
		    *r == '-' || *r == '_'))
			return 0;
	}
	return 1;
}

/* Sets up an S3 bucket; see bucket.h. */
int
bucket_s3_setup(struct bucket_s3 *b, const char *spec, const json_t *with,
    const json_t *allow, const json_t *secrets, struct orc_error *err)
{
	const char *endpoint, *region, *akv, *skv, *ak, *sk, *why, *host;
	size_t n;

	memset(b, 0, sizeof *b);
	if ((why = bucket_spec_problem(spec)) != NULL || !bucket_is_s3(spec)) {
		orc_error_set(err, ORC_EINVAL, "bucket \"%s\": %s", spec,
		    why != NULL ? why : "not an s3:// bucket");
		return -1;
	}
	if (bucket_s3_split(spec, &b->name, &b->prefix) != 0)
		goto fail;
	endpoint = NULL;
	if ((region = bucket_with_string(with, "region",
	    BUCKET_REGION_DEFAULT, err)) == NULL ||
	    (akv = bucket_with_string(with, "access_key_env",
	    BUCKET_ACCESS_DEFAULT, err)) == NULL ||
	    (skv = bucket_with_string(with, "secret_key_env",
	    BUCKET_SECRET_DEFAULT, err)) == NULL)
		goto fail;
	if (json_object_get(with, "endpoint") != NULL &&
	    (endpoint = bucket_with_string(with, "endpoint", NULL, err)) ==
	    NULL)
		goto fail;
	if (!bucket_region_ok(region)) {
		orc_error_set(err, ORC_EINVAL, "region \"%s\" is not valid",
		    region);
		goto fail;
	}
	b->region = xstrdup(region);
	if (endpoint == NULL)
		b->endpoint = xasprintf("https://s3.%s.amazonaws.com", region);
	else {
		n = strlen(endpoint);
		while (n > 0 && endpoint[n - 1] == '/')
			n--;
		b->endpoint = xstrndup(endpoint, n);
	}
	/* Only scheme://host[:port]: the path is ours to build. */
	host = strstr(b->endpoint, "://");
	if (host == NULL || strchr(host + 3, '/') != NULL ||
	    strpbrk(b->endpoint, "?#@") != NULL) {
		orc_error_set(err, ORC_EINVAL, "endpoint \"%s\" must be "
		    "scheme://host[:port] without a path", b->endpoint);
		goto fail;
	}

	/* The rules, before the secrets are even read. */
	if (permit_bucket(allow, b->name, err) != 0 ||
	    permit_url(allow, b->endpoint, err) != 0)
		goto fail;
	if ((ak = bucket_secret(secrets, akv, err)) == NULL ||
	    (sk = bucket_secret(secrets, skv, err)) == NULL)
		goto fail;
	if (strchr(ak, ':') != NULL) {
		orc_error_set(err, ORC_EINVAL, "secret %s (the access key) "
		    "holds a ':'", akv);
		goto fail;
	}
	b->sigv4 = xasprintf("aws:amz:%s:s3", region);
	b->userpwd = xasprintf("%s:%s", ak, sk);
	return 0;

fail:
	bucket_s3_clear(b);
	return -1;
}

/* Wipes and frees. */
void
bucket_s3_clear(struct bucket_s3 *b)
{
	if (b == NULL)
		return;
	if (b->userpwd != NULL) {
		explicit_bzero(b->userpwd, strlen(b->userpwd));
		free(b->userpwd);
	}
	free(b->name);
	free(b->prefix);
	free(b->endpoint);
	free(b->region);
	free(b->sigv4);
	memset(b, 0, sizeof *b);
}

/* Writes s percent-encoded (keeping '/') at out; returns the end. */
static char *
bucket_encode(char *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~' || c == '/')
			*out++ = (char)c;
		else {
			*out++ = '%';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		}
	}
	return out;
}

/* The object's URL, path-style. */
char *
bucket_s3_url(const struct bucket_s3 *b, const char *key)
{
	char *url, *p;

	url = xmalloc(strlen(b->endpoint) + 3 + strlen(b->name) +
	    3 * (strlen(b->prefix) + strlen(key)) + 1);
	p = url + strlen(b->endpoint);
	memcpy(url, b->endpoint, p - url);
	*p++ = '/';
	p = bucket_encode(p, b->name);
	*p++ = '/';
	if (*b->prefix != '\0') {
		p = bucket_encode(p, b->prefix);
		*p++ = '/';
	}
	p = bucket_encode(p, key);
	*p = '\0';
	return url;
}

/* The text of <Code>...</Code> in an S3 error body. */
char *
bucket_s3_error_code(const char *body, size_t len)
{
	const char *p, *q, *end = body + len;
	size_t i;

	if (body == NULL)
		return NULL;
	p = memmem(body, len, "<Code>", 6);
	if (p == NULL)
		return NULL;
	p += 6;
	if ((q = memmem(p, end - p, "</Code>", 7)) == NULL || q == p ||
	    q - p > 64)
		return NULL;
	/* Codes are words like NoSuchKey: anything else is not one. */
	for (i = 0; i < (size_t)(q - p); i++) {
		if (!((p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '.'))
			return NULL;
	}
	return xstrndup(p, q - p);
}

/* Whether an S3 answer is a failure, and of which kind. */
int
bucket_s3_failed(const struct fetch_response *resp, char **why,
    int *retryable)
{
	char *code;

	*why = NULL;
	*retryable = 0;
	if (resp->error != NULL) {
		*why = xstrdup(resp->error);
		*retryable = !resp->refused;
		return 1;
	}
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	code = bucket_s3_error_code(resp->body, resp->body_len);
	*why = xasprintf("%ld%s%s%s%s", resp->status,
	    resp->reason != NULL && *resp->reason != '\0' ? " " : "",
	    resp->reason != NULL ? resp->reason : "",
	    code != NULL ? ": " : "", code != NULL ? code : "");
	free(code);
	*retryable = resp->status >= 500 || resp->status == 429;
	return 1;
}

/* Sets body (text or base64) and json on out. */
void
bucket_set_body(json_t *out, const char *data, size_t len)
{
	json_t *v;
	char *enc;
	size_t n;

	if ((v = json_stringn(data, len)) == NULL) {
		/* Not UTF-8: base64 of the bytes. */
		if (len > ((size_t)1 << 30))
			fatal("%s: body too large to encode", __func__);
		enc = xmalloc(4 * ((len + 2) / 3) + 1);
		n = (size_t)EVP_EncodeBlock((unsigned char *)enc,
		    (const unsigned char *)data, (int)len);
		v = json_stringn(enc, n);
		free(enc);
		if (v == NULL)
			fatal("%s: out of memory", __func__);
		json_object_set_new(out, "body_base64", json_true());
	}
	json_object_set_new(out, "body", v);
	if (len > 0 && (v = json_loadb(data, len, JSON_DECODE_ANY, NULL)) !=
	    NULL)
		json_object_set_new(out, "json", v);
}
