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

/* Writes one line; the message is quoted with its quotes escaped. */
static void
log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
	char msg[2048], ts[32], line[4200];
	struct timeval tv;
	struct tm tm;
	size_t i, n = 0;

	if (level < log_level)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	n = (size_t)snprintf(line, sizeof line, "ts=%s.%03dZ level=%s msg=\"",
	    ts, (int)(tv.tv_usec / 1000), log_names[level]);
	for (i = 0; msg[i] != '\0' && n < sizeof line - 4; i++) {
		if (msg[i] == '"' || msg[i] == '\\')
			line[n++] = '\\';
		line[n++] = msg[i] == '\n' ? ' ' : msg[i];
	}
	line[n++] = '"';
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
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
