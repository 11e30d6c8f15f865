/*
 * Shared basics for every module of the orchestrator: the error record that
 * callees fill for their callers, allocation wrappers that never return NULL,
 * and the two clocks. Anything more specific lives in its own module header.
 */
#ifndef ORCHESTRATOR_H
#define ORCHESTRATOR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define ORC_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Error codes: http.c maps each to a status code. */
enum orc_code {
	ORC_OK = 0,
	ORC_EINVAL,		/* bad input: file, option, payload */
	ORC_ENOTFOUND,		/* no such run, workflow, step */
	ORC_ESTATE,		/* the operation does not fit the run's state */
	ORC_ESTORE,		/* the store failed */
	ORC_EIO,		/* file system or network */
	ORC_ETIMEDOUT,
	ORC_ESTEP,		/* a step failed */
	ORC_EPERM,		/* not allowed by the workflow's permissions */
	ORC_EBUSY,		/* held by another process */
	ORC_EUNSUPPORTED,	/* valid, but not available in this build */
	ORC_EFULL		/* at a concurrency or queue limit: try later */
};

/* Filled by a callee that fails; every function taking one accepts NULL. */
struct orc_error {
	int code;
	int retryable;		/* a step error worth another attempt */
	char message[512];
};

void	orc_error_set(struct orc_error *, int, const char *, ...)
	    ORC_PRINTF(3, 4);
void	orc_error_vset(struct orc_error *, int, const char *, va_list)
	    ORC_PRINTF(3, 0);
void	orc_error_clear(struct orc_error *);

/* Out of memory is not recoverable here: these exit through fatal(). */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) ORC_PRINTF(1, 2);
char	*xvasprintf(const char *, va_list) ORC_PRINTF(1, 0);
void	 fatal(const char *, ...) ORC_PRINTF(1, 2) __attribute__((noreturn));

/* Wall clock (for stored times) and monotonic clock (for timers), in ms. */
int64_t	orc_now_ms(void);
int64_t	orc_mono_ms(void);

/* Reads a whole file into a NUL-terminated buffer; NULL and err on failure. */
char	*orc_read_file(const char *, size_t *, struct orc_error *);

/* A URL fit for messages, new string: without its userinfo and
 * fragment, and its query shown as "?..." (any of them may hold a
 * token, and messages go to runs' errors, dead letters and logs). */
char	*orc_url_redact(const char *);

/* Writes all of a buffer to fd (again after EINTR); -1 with errno. */
int	orc_write_all(int, const void *, size_t);
/* fsyncs a folder, so that a rename in it survives a crash; -1 with
 * errno (EINVAL from file systems that cannot is not an error). */
int	orc_fsync_dir(const char *);

/* Parses a duration: a positive integer and a unit, s, m, h or d ("7d",
 * "12h", "30m", "45s"), into *ms; -1 when it is not one. */
int	orc_parse_duration(const char *, int64_t *ms);

/* Names the calling thread (for top -H, perf and gdb); at most 15 bytes. */
void	orc_thread_name(const char *);

/* Uniform random integer in [0, n) from OpenSSL's generator. */
uint64_t orc_random(uint64_t);

/* The value of a hex digit (either case), or -1. */
int	orc_hex_digit(int);
/* Lowercase hex SHA-256 of a buffer into out (65 bytes with the NUL). */
void	orc_sha256_hex(const void *, size_t, char out[65]);

#endif
