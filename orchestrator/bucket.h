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
#include "steps.h"

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

/*
 * Opens the folder that holds key (a safe key: bucket_key_problem) in the
 * local bucket ROOT/NAME, the bucket folder itself for a key without '/'.
 * Every folder of the key is resolved beneath the bucket folder and none
 * may be a symbolic link, wherever it points: openat2(2) with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it, else an
 * O_NOFOLLOW open per component from the bucket's descriptor. The bucket
 * folder itself may be a link (the operator's choice, not a key's). With
 * create, ROOT, the bucket and the key's missing folders are made. Returns
 * a directory descriptor, or -1 with errno (ELOOP: a folder of the key is
 * a symbolic link), *why a new message starting with step ("bucket.put")
 * and naming the bucket, key or folder, and *retryable.
 */
int	bucket_dir_open(const char *step, const char *root, const char *name,
	    const char *key, int create, char **why, int *retryable);
/* The last component of a key: the file's name in bucket_dir_open's
 * folder. */
const char *bucket_key_base(const char *key);
/* Tests only: on, resolve with the per-component walk, never openat2. */
void	bucket_dir_walk_only(int on);

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

/* What a bucket step's call data points to: each record starts with a
 * head, which tells an S3 request from a local job on the pool. */
enum bucket_call_kind { BUCKET_CALL_S3, BUCKET_CALL_LOCAL };
struct bucket_call_head {
	enum bucket_call_kind	 kind;
	struct step_call	*call;
	struct pool_job		*job;		/* BUCKET_CALL_LOCAL */
};

/* For a check function: reports the problems of "bucket" and "key" as
 * written; step names the step in the messages ("bucket.get"). */
void	bucket_check_target(const char *step, const json_t *with,
	    struct step_checker *);
/* At start: the call's "bucket" and "key", checked; -1 once the call is
 * failed. */
int	bucket_call_target(struct step_call *, const char *step,
	    const char **name, const char **key);
/* At start, for a local bucket: checks the allow rules and returns the
 * buckets folder; NULL once the call is failed. */
const char *bucket_call_root(struct step_call *, const char *step,
	    const char *name);

/* A bucket step's S3 request in flight, the call's data. */
struct bucket_s3_call {
	struct bucket_call_head	 head;		/* BUCKET_CALL_S3 */
	struct fetch_req	*req;
	const char		*step;		/* "bucket.put" */
	const char		*method;
	char			*spec;
	char			*key;
	char			*url;
	size_t			 len;		/* of the body sent */
	char			 hex[65];	/* its SHA-256 */
	/* The step's output for a 2xx answer. */
	json_t			*(*output)(const struct bucket_s3_call *,
				    const struct fetch_response *);
};

/* What a bucket step sends to S3. Borrowed. */
struct bucket_s3_send {
	const char	*method;
	const char	*body;		/* or NULL */
	size_t		 len;
	const char	*content_type;	/* or NULL */
	size_t		 max_response;	/* 0: fetch's default */
	json_t		*(*output)(const struct bucket_s3_call *,
			    const struct fetch_response *);
};

/*
 * Sets up the S3 bucket of spec from the call's "with", allow rules and
 * secrets, and starts the signed request for key on the loop: STEP_WAIT,
 * the call finishing from the answer (5xx, 429 and transport failures
 * are retryable), or STEP_DONE once the call is failed.
 */
enum step_status bucket_s3_call_start(struct step_call *, const char *step,
	    const char *spec, const char *key, const struct bucket_s3_send *);
/* The bucket steps' cancel: stops the request or pool job in flight; no
 * callback follows. The pool frees a local record once no worker uses
 * it (a write under way still lands). */
void	bucket_call_cancel(struct step_call *);
/*
 * On the loop, when a local record's pool job ended: unless cancelled
 * (then the call may be gone), clears the call's data and, with an
 * error, fails it. Whether to succeed with the output: not cancelled
 * and no error. The caller frees the record either way.
 */
int	bucket_local_ended(struct step_call *, int cancelled,
	    const char *error, int retryable);

#endif
