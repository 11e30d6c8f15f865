/*
 * Shared basics: the error record, allocation that cannot fail, clocks,
 * file reading, random numbers and hashing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"
#include "orchestrator.h"

/* Fills err (when given) with a code and a formatted message. */
void
orc_error_vset(struct orc_error *err, int code, const char *fmt, va_list ap)
{
	if (err == NULL)
		return;
	err->code = code;
	err->retryable = 0;
	vsnprintf(err->message, sizeof err->message, fmt, ap);
}

/* Fills err (when given) with a code and a formatted message. */
void
orc_error_set(struct orc_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	orc_error_vset(err, code, fmt, ap);
	va_end(ap);
}

/* Resets err to "no error". */
void
orc_error_clear(struct orc_error *err)
{
	if (err == NULL)
		return;
	err->code = ORC_OK;
	err->retryable = 0;
	err->message[0] = '\0';
}

/* Prints a message and exits: for broken invariants and out of memory. */
void
fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("orchestrator: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(70);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		fatal("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n == 0 ? 1 : n);
	if (p == NULL)
		fatal("out of memory (%zu bytes)", n);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		fatal("out of memory formatting a string");
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

/* Names the calling thread; a failure (name too long) changes nothing. */
void
orc_thread_name(const char *name)
{
	(void)pthread_setname_np(pthread_self(), name);
}

/* Milliseconds since the epoch: for times that are stored and shown. */
int64_t
orc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds of a clock that never jumps: for intervals and timers. */
int64_t
orc_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads a whole file; the buffer gets a NUL after the last byte. */
char *
orc_read_file(const char *path, size_t *lenp, struct orc_error *err)
{
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if ((f = fopen(path, "rb")) == NULL) {
		orc_error_set(err, ORC_EIO, "%s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (cap - len < 4096) {
			cap = cap == 0 ? 8192 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		/* A folder opens, and its read fails: EISDIR says why. */
		orc_error_set(err, ORC_EIO, "%s: %s", path, errno != 0 ?
		    strerror(errno) : "read error");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

/* The URL without userinfo, query or fragment; see orchestrator.h. */
char *
orc_url_redact(const char *url)
{
	const char *auth, *end, *at, *p;
	size_t n = strcspn(url, "?#");

	auth = strstr(url, "://");
	if (auth == NULL || (size_t)(auth - url) > n)
		auth = url;
	else
		auth += 3;
	/* The authority ends at the path; the last '@' in it ends the
	 * userinfo (a password may hold '@'). */
	end = auth + strcspn(auth, "/?#");
	for (at = NULL, p = auth; p < end; p++) {
		if (*p == '@')
			at = p;
	}
	return xasprintf("%.*s%.*s%s", (int)(auth - url), url,
	    (int)(url + n - (at != NULL ? at + 1 : auth)),
	    at != NULL ? at + 1 : auth, url[n] == '?' ? "?..." : "");
}

/* Uniform in [0, n), without modulo bias. n == 0 gives 0. */
uint64_t
orc_random(uint64_t n)
{
	uint64_t r, limit;

	if (n == 0)
		return 0;
	limit = UINT64_MAX - UINT64_MAX % n;
	do {
		if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
			fatal("no random numbers from OpenSSL");
	} while (r >= limit);
	return r % n;
}

/* The value of a hex digit, or -1. */
int
orc_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* SHA-256 of a buffer as 64 lowercase hex digits. */
void
orc_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1)
		fatal("sha256 failed");
	for (i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

int
orc_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
orc_fsync_dir(const char *dir)
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

/* A duration such as "7d" or "45s" in milliseconds (see orchestrator.h). */
int
orc_parse_duration(const char *s, int64_t *ms)
{
	static const struct {
		char	unit;
		int64_t	ms;
	} units[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 },
		{ 'd', 86400000 }
	};
	unsigned long long n;
	char *end;
	size_t i;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || n == 0 || end[0] == '\0' || end[1] != '\0')
		return -1;
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (*end != units[i].unit)
			continue;
		/* Beyond a century is a typo, not a retention. */
		if (n > (unsigned long long)(INT64_C(3155760000000) /
		    units[i].ms))
			return -1;
		*ms = (int64_t)n * units[i].ms;
		return 0;
	}
	return -1;
}
