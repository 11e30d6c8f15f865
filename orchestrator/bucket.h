/*
 * What the bucket steps (bucket.put, bucket.get) share: the rules for
 * bucket names and keys, the errno classes worth a retry, and the setup
 * of an S3-compatible bucket, "s3://NAME/PREFIX": endpoint and region,
 * credentials from the environment variables the workflow lists in its
 * "secrets", the allow rules, the path-style object URL and S3's error
 * code from an XML error body.
 */
#ifndef BUCKET_H
#define BUCKET_H

#include <jansson.h>
#include <stddef.h>

#include "orchestrator.h"

struct fetch_response;

#define BUCKET_KEY_MAX		1024
#define BUCKET_S3_PREFIX	"s3://"

/* Whether a bucket name matches ^[a-z0-9][a-z0-9._-]{0,62}$. */
int		 bucket_name_ok(const char *);
/* Whether a "bucket" value names an S3 bucket ("s3://..."). */
int		 bucket_is_s3(const char *);
/* A "bucket" value's problem (local name or s3:// form), or NULL. */
const char	*bucket_spec_problem(const char *);
/* Why a key could leave its bucket or is not a key, or NULL when fine:
 * relative, no empty, "." or ".." component, no control character or
 * backslash, at most BUCKET_KEY_MAX bytes, no NUL within len. */
const char	*bucket_key_problem(const char *key, size_t len);
/* Whether an errno is a passing trouble of the disk, worth a retry. */
int		 bucket_errno_retryable(int);

/* An S3 bucket ready for requests. Strings are owned. */
struct bucket_s3 {
	char	*name;		/* the bucket */
	char	*prefix;	/* "" or "a/b", no slash at the ends */
	char	*endpoint;	/* "http://127.0.0.1:9001", no final slash */
	char	*region;
	char	*sigv4;		/* "aws:amz:REGION:s3" for libcurl */
	char	*userpwd;	/* "KEY:SECRET": never log it */
};

/*
 * Sets up an S3 bucket from a "bucket" value and the step's "with"
 * (endpoint, region, access_key_env, secret_key_env), checking the
 * workflow's rules: the credential variables must be in secrets, the
 * bucket name in allow's "buckets", the endpoint in its "hosts". -1 with
 * err: ORC_EPERM for a rule, ORC_EINVAL for a bad value or an unset
 * variable. The message never holds a secret's value.
 */
int	bucket_s3_setup(struct bucket_s3 *, const char *spec,
	    const json_t *with, const json_t *allow, const json_t *secrets,
	    struct orc_error *);
/* Wipes the credentials and frees; the struct may be zeroed or set up. */
void	bucket_s3_clear(struct bucket_s3 *);
/* The path-style URL of a key: ENDPOINT/NAME/PREFIX/KEY, each byte but
 * A-Z a-z 0-9 - _ . ~ and '/' percent-encoded (as SigV4 signs it). */
char	*bucket_s3_url(const struct bucket_s3 *, const char *key);
/* The <Code> of an S3 XML error body, new string, or NULL. */
char	*bucket_s3_error_code(const char *body, size_t len);
/*
 * Whether an S3 answer failed: 0 for a 2xx; else 1 and *why a new
 * message ("403 Forbidden: SignatureDoesNotMatch", a transport error) and
 * *retryable set: transport errors, timeouts, 5xx and 429 are worth a
 * retry, a refused redirect and other statuses are not.
 */
int	bucket_s3_failed(const struct fetch_response *, char **why,
	    int *retryable);
/* Sets "body" on out: the bytes as text when they are UTF-8, else their
 * base64 with "body_base64": true; and "json", parsed, when they are JSON. */
void	bucket_set_body(json_t *out, const char *data, size_t len);

#endif
