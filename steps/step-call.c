/*
 * One attempt of a step: the copies of what the engine gives it, the step's
 * private data, and the result. A call moves new -> starting -> (waiting)
 * -> done, or waiting -> cancelled. Finishing inside start returns STEP_DONE
 * to the engine; finishing later, from the event loop, calls done_cb once.
 * Finishing twice, after a cancel, or not at all when start says it is done
 * are bugs in a step and stop the program.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "orchestrator.h"
#include "steps.h"
#include "strbuf.h"
#include "template.h"
#include "trace.h"

enum step_call_state {
	STEP_CALL_NEW,
	STEP_CALL_STARTING,
	STEP_CALL_WAITING,
	STEP_CALL_DONE,
	STEP_CALL_CANCELLED
};

struct step_call {
	const struct step_entry	*entry;
	enum step_call_state	 state;

#define STEP_CALL_JSON(name)		json_t *name;
#define STEP_CALL_STR(name)		char *name;
#define STEP_CALL_VAL(type, name)	type name;
#define STEP_CALL_TEXT(name, size)	char name[size];
	STEP_CALL_FIELDS(STEP_CALL_JSON, STEP_CALL_STR, STEP_CALL_VAL,
	    STEP_CALL_TEXT)

	step_done_cb		 done_cb;
	void			*done_arg;
	void			*data;

	int			 ok;
	int			 retryable;
	int64_t			 suspend_at;	/* 0: not suspended */
	json_t			*output;
	char			*error;
	char			*next;
	int64_t			 retry_after_ms;

	struct step_log		*logs;		/* the run's log lines */
	size_t			 nlogs;
	struct step_log_bound	 log_bound;
};

/* Copies a borrowed string that may be NULL. */
static char *
step_call_strdup(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

/* Takes a reference to a borrowed value that may be NULL. */
static json_t *
step_call_ref(const json_t *v)
{
	/* jansson's refcount lives in the value: incref needs non-const. */
	return v == NULL ? NULL : json_incref((json_t *)v);
}

/* Names a state for log lines and fatal messages. */
static const char *
step_call_state_name(enum step_call_state state)
{
	switch (state) {
	case STEP_CALL_NEW:
		return "new";
	case STEP_CALL_STARTING:
		return "starting";
	case STEP_CALL_WAITING:
		return "waiting";
	case STEP_CALL_DONE:
		return "done";
	case STEP_CALL_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

/* Creates a call holding its own copies of everything in params. */
struct step_call *
step_call_create(const struct step_call_params *p, step_done_cb cb,
    void *arg)
{
	struct step_call *call;

	if (p == NULL || p->entry == NULL || p->entry->start == NULL)
		fatal("%s: no step entry to call", __func__);

	call = xcalloc(1, sizeof *call);
	call->entry = p->entry;
	call->state = STEP_CALL_NEW;
#define STEP_COPY_JSON(name)	call->name = step_call_ref(p->name);
#define STEP_COPY_STR(name)	call->name = step_call_strdup(p->name);
#define STEP_COPY_VAL(type, name) call->name = p->name;
	/* Inline, not allocated: it is copied for every traced attempt. */
#define STEP_COPY_TEXT(name, size) if (p->name != NULL)			\
		snprintf(call->name, size, "%s", p->name);
	STEP_CALL_FIELDS(STEP_COPY_JSON, STEP_COPY_STR, STEP_COPY_VAL,
	    STEP_COPY_TEXT)
	if (call->with == NULL)
		call->with = json_object();
	if (call->input == NULL)
		call->input = json_null();
	call->done_cb = cb;
	call->done_arg = arg;
	if (call->with == NULL || call->input == NULL)
		fatal("%s: out of memory", __func__);
	return call;
}

/* Runs the step's start function and tells the engine whether it is done. */
enum step_status
step_call_start(struct step_call *call)
{
	enum step_status status;

	if (call->state != STEP_CALL_NEW)
		fatal("%s: step %s started twice (%s)", __func__,
		    call->entry->name, step_call_state_name(call->state));
	log_debug("%s: run %s step %s attempt %d: new -> starting", __func__,
	    call->run_id != NULL ? call->run_id : "-",
	    call->step_name != NULL ? call->step_name : call->entry->name,
	    call->attempt);

	call->state = STEP_CALL_STARTING;
	status = call->entry->start(call);

	/* Finished inside start: whatever it returned, the result is here. */
	if (call->state == STEP_CALL_DONE)
		return STEP_DONE;
	if (status == STEP_DONE)
		fatal("%s: step %s returned done without finishing", __func__,
		    call->entry->name);
	if (call->entry->cancel == NULL)
		fatal("%s: step %s waits but has no cancel function", __func__,
		    call->entry->name);
	call->state = STEP_CALL_WAITING;
	return STEP_WAIT;
}

/* Stops a waiting step; anything else has nothing to stop. */
void
step_call_cancel(struct step_call *call)
{
	if (call == NULL || call->state != STEP_CALL_WAITING)
		return;
	log_debug("%s: run %s step %s attempt %d: waiting -> cancelled",
	    __func__, call->run_id != NULL ? call->run_id : "-",
	    call->step_name != NULL ? call->step_name : call->entry->name,
	    call->attempt);
	call->state = STEP_CALL_CANCELLED;
	call->entry->cancel(call);
}

/* Releases a call, cancelling it first if it still waits. */
void
step_call_free(struct step_call *call)
{
	if (call == NULL)
		return;
	step_call_cancel(call);

#define STEP_FREE_JSON(name)		json_decref(call->name);
#define STEP_FREE_STR(name)		free(call->name);
#define STEP_FREE_VAL(type, name)
#define STEP_FREE_TEXT(name, size)
	STEP_CALL_FIELDS(STEP_FREE_JSON, STEP_FREE_STR, STEP_FREE_VAL,
	    STEP_FREE_TEXT)
	json_decref(call->output);
	free(call->error);
	free(call->next);
	while (call->nlogs > 0)
		free(call->logs[--call->nlogs].text);
	free(call->logs);
	free(call);
}

/* The accessors of STEP_CALL_FIELDS (steps.h): the call's copies. */
#define STEP_GET_FIELD(type, name)					\
	type								\
	step_call_##name(const struct step_call *call)			\
	{								\
		return call->name;					\
	}
#define STEP_GET_JSON_FIELD(name)	STEP_GET_FIELD(const json_t *, name)
#define STEP_GET_STR_FIELD(name)	STEP_GET_FIELD(const char *, name)
#define STEP_GET_TEXT_FIELD(name, size)					\
	const char *							\
	step_call_##name(const struct step_call *call)			\
	{								\
		return call->name[0] != '\0' ? call->name : NULL;	\
	}
STEP_CALL_FIELDS(STEP_GET_JSON_FIELD, STEP_GET_STR_FIELD, STEP_GET_FIELD,
    STEP_GET_TEXT_FIELD)

/* Keeps a pointer for the step (its timer, its request); not freed here. */
void
step_call_set_data(struct step_call *call, void *data)
{
	call->data = data;
}

/* The step's pointer from step_call_set_data(). */
void *
step_call_data(const struct step_call *call)
{
	return call->data;
}

/* Records the end of the call and tells the engine if it was waiting. */
static void
step_call_finish(struct step_call *call)
{
	enum step_call_state was = call->state;

	switch (was) {
	case STEP_CALL_STARTING:
	case STEP_CALL_WAITING:
		break;
	case STEP_CALL_NEW:
		fatal("%s: step %s finished before it started", __func__,
		    call->entry->name);
	case STEP_CALL_DONE:
		fatal("%s: step %s finished twice", __func__,
		    call->entry->name);
	case STEP_CALL_CANCELLED:
		fatal("%s: step %s finished after it was cancelled", __func__,
		    call->entry->name);
	}
	call->state = STEP_CALL_DONE;
	log_debug("%s: run %s step %s attempt %d: %s -> done (%s)", __func__,
	    call->run_id != NULL ? call->run_id : "-",
	    call->step_name != NULL ? call->step_name : call->entry->name,
	    call->attempt, step_call_state_name(was),
	    call->ok ? "ok" : "failed");

	/* Inside start the engine learns it from STEP_DONE instead. The
	 * callback may free the call: nothing may touch it afterwards. */
	if (was == STEP_CALL_WAITING && call->done_cb != NULL)
		call->done_cb(call, call->done_arg);
}

/* Finishes the call with an output; takes ownership of it (NULL is null). */
void
step_call_succeed(struct step_call *call, json_t *output)
{
	if (call->state == STEP_CALL_DONE ||
	    call->state == STEP_CALL_CANCELLED) {
		json_decref(output);
		step_call_finish(call);		/* does not return */
	}
	call->ok = 1;
	call->retryable = 0;
	call->output = output != NULL ? output : json_null();
	step_call_finish(call);
}

/* Finishes the call with an error message. */
void
step_call_fail(struct step_call *call, int retryable, const char *fmt, ...)
{
	va_list ap;

	if (call->state == STEP_CALL_DONE ||
	    call->state == STEP_CALL_CANCELLED)
		step_call_finish(call);		/* does not return */
	va_start(ap, fmt);
	free(call->error);
	call->error = xvasprintf(fmt, ap);
	va_end(ap);
	call->ok = 0;
	call->retryable = retryable != 0;
	step_call_finish(call);
}

/* Finishes the call: the run waits until due_at, or a signal. */
void
step_call_suspend(struct step_call *call, int64_t due_at)
{
	if (call->state == STEP_CALL_DONE ||
	    call->state == STEP_CALL_CANCELLED)
		step_call_finish(call);		/* does not return */
	call->ok = 1;
	call->retryable = 0;
	call->suspend_at = due_at > 0 ? due_at : 1;
	step_call_finish(call);
}

/* The suspended call's due time, or 0. */
int64_t
step_call_suspended(const struct step_call *call)
{
	return call->state == STEP_CALL_DONE && call->ok ? call->suspend_at :
	    0;
}

/* Chooses the step that runs next; the last call wins. */
void
step_call_set_next(struct step_call *call, const char *name)
{
	if (call->state == STEP_CALL_DONE ||
	    call->state == STEP_CALL_CANCELLED)
		fatal("%s: step %s chose its next step after finishing",
		    __func__, call->entry->name);
	free(call->next);
	call->next = step_call_strdup(name);
}

/* Records the least wait before another attempt; the largest ask wins. */
void
step_call_retry_after(struct step_call *call, int64_t ms)
{
	if (ms > call->retry_after_ms)
		call->retry_after_ms = ms;
}

/* Whether the call has succeeded or failed. */
int
step_call_finished(const struct step_call *call)
{
	return call->state == STEP_CALL_DONE;
}

/* Whether the call has finished and succeeded. */
int
step_call_ok(const struct step_call *call)
{
	return call->state == STEP_CALL_DONE && call->ok;
}

/* Hands the output to the caller; NULL when failed or already taken. */
json_t *
step_call_take_output(struct step_call *call)
{
	json_t *output = call->output;

	call->output = NULL;
	return output;
}

/* The failure's message, or NULL when the call has not failed. */
const char *
step_call_error(const struct step_call *call)
{
	if (call->state != STEP_CALL_DONE || call->ok)
		return NULL;
	return call->error;
}

/* Whether a failed call is worth another attempt. */
int
step_call_retryable(const struct step_call *call)
{
	return call->state == STEP_CALL_DONE && !call->ok && call->retryable;
}

/* The next step the call chose, or NULL. */
const char *
step_call_next(const struct step_call *call)
{
	return call->next;
}

/* The least backoff the step asked for; 0 when none. */
int64_t
step_call_retry_after_ms(const struct step_call *call)
{
	return call->retry_after_ms;
}

/* Whether a value of "with" as written is a template. */
int
step_value_is_template(const json_t *v)
{
	return json_is_string(v) && template_has_expr(json_string_value(v));
}

/* text (len bytes, cut at a NUL) with the value of every secret the
 * workflow lists replaced by "[secret]": a new string. */
static char *
step_call_mask(const struct step_call *call, const char *text, size_t len)
{
	struct strbuf	 b = STRBUF_INIT;
	const json_t	*e;
	const char	*v, *p, *hit;
	char		*cur;
	size_t		 i, vlen;

	cur = xstrndup(text, strnlen(text, len));
	json_array_foreach(call->secrets, i, e) {
		if (!json_is_string(e) ||
		    (v = getenv(json_string_value(e))) == NULL ||
		    (vlen = strlen(v)) == 0)
			continue;
		for (p = cur; (hit = strstr(p, v)) != NULL; p = hit + vlen) {
			strbuf_add(&b, p, (size_t)(hit - p));
			strbuf_puts(&b, "[secret]");
		}
		strbuf_puts(&b, p);
		free(cur);
		cur = strbuf_take(&b);
	}
	return cur;
}

/* Counts a line against a bound; see steps.h. */
int
step_log_admit(struct step_log_bound *b, size_t len, size_t *keep)
{
	if (b->lines < STEP_LOG_LINES && b->bytes < STEP_LOG_BYTES) {
		*keep = len < STEP_LOG_BYTES - b->bytes ? len :
		    STEP_LOG_BYTES - b->bytes;
	} else if (!b->full) {
		b->full = 1;
		*keep = len < STEP_LOG_LAST ? len : STEP_LOG_LAST;
	} else {
		b->dropped++;
		return 0;
	}
	b->lines++;
	b->bytes += *keep;
	return 1;
}

/* Cuts a log line and makes it valid UTF-8 (JSON carries it). */
void
step_log_cut(char *s, size_t max)
{
	size_t	 len = strlen(s);
	json_t	*probe;
	char	*p;

	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
			len--;
		s[len] = '\0';
	}
	if ((probe = json_stringn(s, len)) != NULL) {
		json_decref(probe);
		return;
	}
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
}

/* One line of the run's log; see steps.h. */
void
step_call_log_text(struct step_call *call, int level, const char *text,
    size_t len)
{
	struct step_log	*l;
	char		*msg;
	size_t		 keep;

	msg = step_call_mask(call, text, len);
	log_at((enum log_level)level, "%s: run %s step %s: %s", __func__,
	    call->run_id != NULL ? call->run_id : "-",
	    call->step_name != NULL ? call->step_name : call->entry->name,
	    msg);
	if (!step_log_admit(&call->log_bound, strlen(msg), &keep)) {
		free(msg);
		return;
	}
	step_log_cut(msg, keep);
	if ((call->nlogs & (call->nlogs - 1)) == 0)
		call->logs = xrealloc(call->logs, (call->nlogs == 0 ? 1 :
		    call->nlogs * 2) * sizeof *call->logs);
	l = &call->logs[call->nlogs++];
	l->at = orc_now_ms();
	l->level = level;
	l->text = msg;
}

/* One formatted line of the run's log. */
void
step_call_log(struct step_call *call, int level, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	step_call_log_text(call, level, text, strlen(text));
	free(text);
}

/* The lines logged so far. */
const struct step_log *
step_call_logs(const struct step_call *call, size_t *n, size_t *dropped)
{
	*n = call->nlogs;
	*dropped = call->log_bound.dropped;
	return call->logs;
}
