/*
 * Logging to stderr, one logfmt line per event. Messages begin with the
 * function and the ids they concern; secrets and whole bodies never go here.
 */
#ifndef LOG_H
#define LOG_H

#include "orchestrator.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_NONE };

void	log_set_level(enum log_level);
enum log_level log_get_level(void);
int	log_parse_level(const char *, enum log_level *);
const char *log_level_name(enum log_level);
void	log_debug(const char *, ...) ORC_PRINTF(1, 2);
void	log_info(const char *, ...) ORC_PRINTF(1, 2);
void	log_warn(const char *, ...) ORC_PRINTF(1, 2);
void	log_error(const char *, ...) ORC_PRINTF(1, 2);
void	log_at(enum log_level, const char *, ...) ORC_PRINTF(2, 3);
/*
 * Writes s into out (size bytes, at least 3) as a logfmt value: in double
 * quotes, with '"' and '\\' escaped and every control character written
 * as \\n, \\r, \\t or \\xNN, so that no value can end its line or
 * forge a field. Cut (still quoted) when it does not fit. Returns the
 * length written.
 */
size_t	log_quote(char *out, size_t size, const char *s);

#endif
