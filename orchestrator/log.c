/*
 * Logging: one line per event on stderr, "ts=... level=... msg=...", so
 * that both people and log shippers can read it. The level is process-wide.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

static enum log_level log_level = LOG_INFO;
static const char *const log_names[] = { "debug", "info", "warn", "error",
    "none" };

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

/* The name of a level, as log_parse_level reads it. */
const char *
log_level_name(enum log_level level)
{
	if ((unsigned)level > LOG_NONE)
		return "unknown";
	return log_names[level];
}

/* Parses "debug", "info", "warn", "error" or "none". */
int
log_parse_level(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcasecmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* Quotes a logfmt value; see log.h. */
size_t
log_quote(char *out, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;
	char esc[4];
	size_t n = 0, k;

	out[n++] = '"';
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		k = 0;
		if (c == '"' || c == '\\') {
			esc[k++] = '\\';
			esc[k++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			esc[k++] = '\\';
			esc[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			esc[k++] = '\\';
			esc[k++] = 'x';
			esc[k++] = hex[c >> 4];
			esc[k++] = hex[c & 15];
		} else
			esc[k++] = (char)c;
		if (n + k + 2 > size)
			break;	/* room for the closing quote and NUL */
		memcpy(out + n, esc, k);
		n += k;
	}
	out[n++] = '"';
	out[n] = '\0';
	return n;
}

/* Writes one line; the message is a quoted logfmt value. */
static void
log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	char msg[2048], ts[32], quoted[4096], line[4200];
	struct timeval tv;
	struct tm tm;
	int n;

	if (level < log_level)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	log_quote(quoted, sizeof quoted, msg);
	/* One write a line: the threads' lines do not interleave. */
	n = snprintf(line, sizeof line, "ts=%s.%03dZ level=%s msg=%s\n", ts,
	    (int)(tv.tv_usec / 1000), log_names[level], quoted);
	if (n > 0)
		fwrite(line, 1, (size_t)n < sizeof line ? (size_t)n :
		    sizeof line - 1, stderr);
}

#define LOG_FN(fn, level)				\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list ap;					\
							\
	va_start(ap, fmt);				\
	log_vwrite(level, fmt, ap);			\
	va_end(ap);					\
}

LOG_FN(log_debug, LOG_DEBUG)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_warn, LOG_WARN)
LOG_FN(log_error, LOG_ERROR)

/* A line at a level chosen at run time. */
void
log_at(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, fmt, ap);
	va_end(ap);
}
