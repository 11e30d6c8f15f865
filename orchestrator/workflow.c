/*
 * Workflow definitions (SPEC section 1). A file is parsed by jansson, then
 * checked as a whole: every unknown key, wrong type, unknown step type,
 * bad template and bad schema keyword is reported, each as
 * FILE:LINE:COLUMN: message with the position jsonpos found for the path
 * at fault, and the file is rejected if there was any. A file that passes
 * becomes an immutable, reference-counted struct workflow whose steps
 * carry their resolved step entry and their retry policy and timeout with
 * the workflow's defaults already applied.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cron.h"
#include "diag.h"
#include "http.h"
#include "jsonpos.h"
#include "schema.h"
#include "script.h"
#include "steps.h"
#include "strbuf.h"
#include "template.h"
#include "workflow.h"

struct workflow_step {
	const char		*name;		/* borrowed from the json */
	const char		*uses;
	const struct step_entry	*entry;
	json_t			*json;
	json_t			*with;		/* or NULL */
	struct retry_policy	 retry;		/* defaults applied */
	int64_t			 timeout_ms;	/* defaults applied */
	const char		*next;		/* "next", or NULL */
	int			 end;		/* "end": true */
	int			 callback;	/* "wait_for_callback": true */
	/* A map's item steps or a parallel's branches: workflows of their
	 * own, run as child runs (see workflow_step_sub). */
	struct workflow		**subs;
	const char		**branches;	/* parallel: each sub's name */
	size_t			 nsubs;
};

struct workflow {
	int			 refs;
	/* A sub-workflow (a map's items, a parallel branch) lives as long
	 * as the file's workflow it is part of: its root; NULL for a root. */
	struct workflow		*root;
	char			*sub_name;	/* "FILE-NAME/STEP[/BRANCH]" */
	char			*path;
	char			*dir;
	char			*text;
	size_t			 len;
	char			 hash[65];
	json_t			*json;
	const char		*name;		/* borrowed from the json */
	const char		*description;
	json_t			*input;
	json_t			*output;
	json_t			*trigger;
	json_t			*allow;
	int64_t			 timeout_ms;
	int			 concurrency;
	int64_t			 retention_ms;	/* 0: default, -1: forever */
	struct retry_policy	 retry;		/* defaults.retry, merged */
	int64_t			 step_timeout_ms;
	struct workflow_step	*steps;
	size_t			 nsteps;
	struct workflow_step	*on_failure;
	int			 name_line;	/* where "name" is, for */
	int			 name_column;	/* workflow_load_dir */
	const char		*hook_path;	/* trigger.webhook.path */
	int			 hook_line;	/* and where it is */
	int			 hook_column;
};

/* A problem found, kept until all are known so they go out in order. */
struct wf_problem {
	int			 line;
	int			 column;
	size_t			 seq;
	char			*message;
};

/* A branch a step's check named: step from may go to step to. */
struct wf_edge {
	size_t			 from;
	int			 to;		/* -1: no such step */
};

/* One check of one file: where to report and the problems so far. */
struct wf_check {
	const char		*file;
	struct jsonpos		*pos;
	struct diag		*diag;
	int			 errors;
	struct wf_problem	*problems;
	json_t			*step_names;
	json_t			*steps;		/* "steps", when an array */
	const char		*steps_path;	/* where: "steps", or a
						   map's "steps[2].steps" */
	struct wf_edge		*edges;		/* step_check_target's */
	size_t			 nedges;
};

/* What a step's check function reports through. */
struct step_checker {
	struct wf_check		*ck;
	const char		*prefix;	/* "steps[2]", "on_failure" */
	int			 index;		/* in "steps"; -1: handler */
	int			 targets;	/* step_check_target calls */
};

/* What template_check reports through. */
struct wf_template_arg {
	struct wf_check		*ck;
	const char		*base;
};

static const char *const wf_root_keys[] = {
	"name", "description", "trigger", "input", "output", "defaults",
	"timeout_ms", "concurrency", "secrets", "allow", "steps", "on_failure",
	"concurrency_key", "rate_limit", "debounce", "priority", "retention",
	NULL
};
static const char *const wf_step_keys[] = {
	"name", "uses", "with", "retry", "timeout_ms", "script", "memory_mb",
	"instructions", "next", "end", "wait_for_callback", "steps",
	"branches", NULL
};
static const char *const wf_retry_keys[] = {
	"max_attempts", "backoff_ms", "backoff_max_ms", "jitter", NULL
};
static const char *const wf_trigger_keys[] = { "webhook", "cron", NULL };
static const char *const wf_webhook_keys[] = {
	"path", "mode", "sync_timeout_ms", "secret_env", "max_body_bytes", NULL
};
static const char *const wf_cron_keys[] = {
	"schedule", "overlap", "catch_up", "timezone", NULL
};
static const char *const wf_defaults_keys[] = { "retry", "timeout_ms", NULL };
static const char *const wf_allow_keys[] = { "hosts", "buckets", NULL };
static const char *const wf_rate_keys[] = {
	"per_second", "burst", "key", "on_limit", NULL
};
static const char *const wf_debounce_keys[] = {
	"key", "wait_ms", "max_wait_ms", NULL
};
static const char *const wf_modes[] = { "async", "sync", NULL };
static const char *const wf_overlaps[] = { "skip", "queue", "allow", NULL };
static const char *const wf_catch_ups[] = { "none", "one", "all", NULL };
static const char *const wf_on_limits[] = { "queue", "reject", NULL };

/* Records a problem at path; the message is used as it is. */
static void ORC_PRINTF(3, 4)
wf_report(struct wf_check *ck, const char *path, const char *fmt, ...)
{
	struct wf_problem *pr;
	va_list ap;

	/* Grows by doubling: at 0, 1, 2, 4, 8, ... problems. */
	if ((ck->errors & (ck->errors - 1)) == 0)
		ck->problems = xrealloc(ck->problems, (ck->errors == 0 ? 1 :
		    2 * (size_t)ck->errors) * sizeof *ck->problems);
	pr = &ck->problems[ck->errors];
	va_start(ap, fmt);
	pr->message = xvasprintf(fmt, ap);
	va_end(ap);
	jsonpos_find(ck->pos, path, &pr->line, &pr->column);
	pr->seq = (size_t)ck->errors++;
}

/* Orders problems by position, then by the order they were found. */
static int
wf_problem_cmp(const void *a, const void *b)
{
	const struct wf_problem *pa = a, *pb = b;

	if (pa->line != pb->line)
		return pa->line < pb->line ? -1 : 1;
	if (pa->column != pb->column)
		return pa->column < pb->column ? -1 : 1;
	return pa->seq < pb->seq ? -1 : pa->seq > pb->seq;
}

/* Hands the problems to diag from the top of the file down. */
static void
wf_flush(struct wf_check *ck)
{
	struct wf_problem *pr;
	int i;

	if (ck->errors > 1)
		qsort(ck->problems, (size_t)ck->errors, sizeof *ck->problems,
		    wf_problem_cmp);
	for (i = 0; i < ck->errors; i++) {
		pr = &ck->problems[i];
		diag_add(ck->diag, ck->file, pr->line, pr->column, "%s",
		    pr->message);
		free(pr->message);
	}
	free(ck->problems);
	ck->problems = NULL;
}

/* Reports a problem at path as "path: message". */
static void ORC_PRINTF(3, 4)
wf_error(struct wf_check *ck, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (*path == '\0')
		wf_report(ck, path, "%s", msg);
	else
		wf_report(ck, path, "%s: %s", path, msg);
	free(msg);
}

/*
 * Joins a path relative to a value ("url", "[2]", "") to the value's. The
 * schema and template modules call the value itself "(root)".
 */
static char *
wf_join_path(const char *base, const char *rel)
{
	if (rel == NULL || *rel == '\0' || strcmp(rel, "(root)") == 0)
		return xstrdup(base);
	if (*base == '\0')
		return xstrdup(rel);
	if (*rel == '[')
		return xasprintf("%s%s", base, rel);
	return xasprintf("%s.%s", base, rel);
}

/* Whether s is one of list. */
static int
wf_in_list(const char *s, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++) {
		if (strcmp(s, *list) == 0)
			return 1;
	}
	return 0;
}

/* Reports every key of obj (at path) that is not in allowed. */
static void
wf_check_keys(struct wf_check *ck, json_t *obj, const char *path,
    const char *const *allowed)
{
	const char *key;
	json_t *v;
	char *kp;

	json_object_foreach(obj, key, v) {
		if (wf_in_list(key, allowed))
			continue;
		kp = jsonpos_path_key(path, key);
		if (*path == '\0')
			wf_report(ck, kp, "unknown key \"%s\"", key);
		else
			wf_report(ck, kp, "unknown key \"%s\" in %s", key,
			    path);
		free(kp);
	}
}

/* Reports a required key missing from the object at path. */
static void
wf_missing(struct wf_check *ck, const char *path, const char *key)
{
	if (*path == '\0')
		wf_report(ck, path, "missing required key \"%s\"", key);
	else
		wf_report(ck, path, "missing required key \"%s\" in %s", key,
		    path);
}

/*
 * Reads an integer member in [min, max]. Returns 1 with *out set, 0 when
 * absent, -1 (reported) when it is something else.
 */
static int
wf_get_int(struct wf_check *ck, json_t *obj, const char *path,
    const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_t *v;
	char *kp;
	json_int_t n;

	if ((v = json_object_get(obj, key)) == NULL)
		return 0;
	kp = jsonpos_path_key(path, key);
	if (!json_is_integer(v) || (n = json_integer_value(v)) < min) {
		if (min == 1)
			wf_error(ck, kp, "expected a positive integer");
		else if (min == 0)
			wf_error(ck, kp, "expected a non-negative integer");
		else
			wf_error(ck, kp, "expected an integer of at least "
			    "%lld", (long long)min);
		free(kp);
		return -1;
	}
	if (n > max) {
		wf_error(ck, kp, "%lld is too large (at most %lld)",
		    (long long)n, (long long)max);
		free(kp);
		return -1;
	}
	free(kp);
	*out = n;
	return 1;
}

/* Reads a string member: 1 with *out, 0 when absent, -1 (reported). */
static int
wf_get_string(struct wf_check *ck, json_t *obj, const char *path,
    const char *key, const char **out)
{
	json_t *v;
	char *kp;

	if ((v = json_object_get(obj, key)) == NULL)
		return 0;
	if (!json_is_string(v)) {
		kp = jsonpos_path_key(path, key);
		wf_error(ck, kp, "expected a string");
		free(kp);
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

/* Reads a member that must be one of choices; same returns. */
static int
wf_get_enum(struct wf_check *ck, json_t *obj, const char *path,
    const char *key, const char *const *choices)
{
	const char *s;
	char *kp, *want, *tmp;
	size_t i;
	int r;

	if ((r = wf_get_string(ck, obj, path, key, &s)) <= 0 ||
	    wf_in_list(s, choices))
		return r;
	want = xasprintf("\"%s\"", choices[0]);
	for (i = 1; choices[i] != NULL; i++) {
		tmp = xasprintf("%s%s\"%s\"", want,
		    choices[i + 1] == NULL ? " or " : ", ", choices[i]);
		free(want);
		want = tmp;
	}
	kp = jsonpos_path_key(path, key);
	wf_error(ck, kp, "expected %s, not \"%s\"", want, s);
	free(kp);
	free(want);
	return -1;
}

/* Gets an object member; reports it when present but not an object. */
static json_t *
wf_get_object(struct wf_check *ck, json_t *obj, const char *path,
    const char *key)
{
	json_t *v;
	char *kp;

	if ((v = json_object_get(obj, key)) == NULL)
		return NULL;
	if (!json_is_object(v)) {
		kp = jsonpos_path_key(path, key);
		wf_error(ck, kp, "expected an object");
		free(kp);
		return NULL;
	}
	return v;
}

/* Whether a name fits [a-z0-9][a-z0-9_-]{0,63}. */
static int
wf_valid_name(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if ((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9'))
			continue;
		if (i > 0 && (s[i] == '_' || s[i] == '-'))
			continue;
		return 0;
	}
	return i >= 1 && i <= WORKFLOW_NAME_MAX;
}

/* Whether s is an environment variable name. */
static int
wf_valid_env(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (i > 0 && s[i] >= '0' && s[i] <= '9'))
			continue;
		return 0;
	}
	return i > 0;
}

/* Reports each problem template_check finds, at its full path. */
static void
wf_template_report(void *arg, const char *path, const char *message)
{
	struct wf_template_arg *ta = arg;
	char *full;

	full = wf_join_path(ta->base, path);
	wf_error(ta->ck, full, "%s", message);
	free(full);
}

/* Checks the templates of a step's "with", of one that waits for a
 * callback (callback set) or not. */
static void
wf_check_step_templates(struct wf_check *ck, const json_t *value,
    const char *path, int callback)
{
	struct wf_template_arg ta;

	ta.ck = ck;
	ta.base = path;
	template_check_callback(value, ck->step_names, callback,
	    wf_template_report, &ta);
}

/* Checks the templates inside value, which is at path. */
static void
wf_check_templates(struct wf_check *ck, const json_t *value,
    const char *path)
{
	wf_check_step_templates(ck, value, path, 0);
}

/* Reads a string member that may hold templates, and checks them. */
static void
wf_check_template_string(struct wf_check *ck, json_t *obj, const char *path,
    const char *key)
{
	const char *s;
	char *kp;

	if (wf_get_string(ck, obj, path, key, &s) <= 0)
		return;
	kp = jsonpos_path_key(path, key);
	wf_check_templates(ck, json_object_get(obj, key), kp);
	free(kp);
}

/* Checks an array of strings at path; env asks for variable names. */
static void
wf_check_string_array(struct wf_check *ck, json_t *obj, const char *path,
    const char *key, int env)
{
	json_t *arr, *v;
	char *kp, *ip;
	size_t i;

	if ((arr = json_object_get(obj, key)) == NULL)
		return;
	kp = jsonpos_path_key(path, key);
	if (!json_is_array(arr)) {
		wf_error(ck, kp, "expected an array of strings");
		free(kp);
		return;
	}
	json_array_foreach(arr, i, v) {
		ip = jsonpos_path_index(kp, i);
		if (!json_is_string(v) || json_string_length(v) == 0)
			wf_error(ck, ip, "expected a non-empty string");
		else if (env && !wf_valid_env(json_string_value(v)))
			wf_error(ck, ip, "\"%s\" is not an environment "
			    "variable name", json_string_value(v));
		free(ip);
	}
	free(kp);
}

/* Checks a retry object at path and applies its fields to rp. */
static void
wf_check_retry(struct wf_check *ck, json_t *obj, const char *path,
    struct retry_policy *rp)
{
	json_t *v;
	int64_t n, ms = -1, max = -1;
	char *kp;

	if (!json_is_object(obj)) {
		wf_error(ck, path, "expected an object");
		return;
	}
	wf_check_keys(ck, obj, path, wf_retry_keys);
	if (wf_get_int(ck, obj, path, "max_attempts", 1, INT_MAX, &n) > 0)
		rp->max_attempts = (int)n;
	if (wf_get_int(ck, obj, path, "backoff_ms", 0, INT64_MAX, &ms) > 0)
		rp->backoff_ms = ms;
	if (wf_get_int(ck, obj, path, "backoff_max_ms", 0, INT64_MAX,
	    &max) > 0)
		rp->backoff_max_ms = max;
	if (ms >= 0 && max >= 0 && max < ms) {
		kp = jsonpos_path_key(path, "backoff_max_ms");
		wf_error(ck, kp, "less than backoff_ms");
		free(kp);
	}
	if ((v = json_object_get(obj, "jitter")) != NULL) {
		if (json_is_boolean(v))
			rp->jitter = json_is_true(v);
		else {
			kp = jsonpos_path_key(path, "jitter");
			wf_error(ck, kp, "expected true or false");
			free(kp);
		}
	}
}

/* Checks a schema ("input", "output") with the schema module. */
static void
wf_check_schema(struct wf_check *ck, json_t *root, const char *key,
    json_t **out)
{
	struct orc_error err;
	json_t *schema;
	char *where = NULL, *full;

	if ((schema = json_object_get(root, key)) == NULL)
		return;
	orc_error_clear(&err);
	if (schema_check_schema(schema, &where, &err) != 0) {
		full = wf_join_path(key, where);
		wf_error(ck, full, "%s", err.message[0] != '\0' ?
		    err.message : "invalid schema");
		free(full);
		free(where);
		return;
	}
	free(where);
	*out = schema;
}

/*
 * Checks trigger.cron's schedule and timezone by parsing them as the
 * scheduler will, so that `validate` catches what `serve` would refuse. A
 * bad timezone is reported at the timezone, anything else at the schedule.
 */
static void
wf_check_cron(struct wf_check *ck, json_t *cron)
{
	struct orc_error err;
	struct cron *c;
	const char *s, *tz = NULL;
	int rs, rt;

	rs = wf_get_string(ck, cron, "trigger.cron", "schedule", &s);
	rt = wf_get_string(ck, cron, "trigger.cron", "timezone", &tz);
	if (rt > 0 && *tz == '\0') {
		wf_error(ck, "trigger.cron.timezone", "expected a time zone "
		    "name");
		return;
	}
	if (rs == 0)
		wf_missing(ck, "trigger.cron", "schedule");
	if (rs <= 0 || rt < 0)
		return;
	memset(&err, 0, sizeof err);
	if (rt > 0 && (c = cron_parse("* * * * *", tz, &err)) == NULL) {
		wf_error(ck, "trigger.cron.timezone", "%s", err.message);
		return;
	}
	if (rt > 0)
		cron_free(c);
	if ((c = cron_parse(s, rt > 0 ? tz : NULL, &err)) == NULL) {
		wf_error(ck, "trigger.cron.schedule", "%s", err.message);
		return;
	}
	cron_free(c);
}

/* Checks "trigger": a webhook and/or a cron schedule. */
static void
wf_check_trigger(struct wf_check *ck, json_t *root)
{
	json_t *trig, *hook, *cron;
	const char *s = NULL, *api;
	int64_t n;

	if ((trig = wf_get_object(ck, root, "", "trigger")) == NULL)
		return;
	wf_check_keys(ck, trig, "trigger", wf_trigger_keys);
	if ((hook = wf_get_object(ck, trig, "trigger", "webhook")) != NULL) {
		wf_check_keys(ck, hook, "trigger.webhook", wf_webhook_keys);
		if (wf_get_string(ck, hook, "trigger.webhook", "path",
		    &s) > 0 && (*s != '/' || strpbrk(s, " \t\r\n?#") != NULL))
			wf_error(ck, "trigger.webhook.path", "\"%s\" is not a "
			    "url path starting with \"/\"", s);
		else if (s != NULL && (api = http_api_path(s)) != NULL)
			/* Webhooks are routed first: it would hide the API. */
			wf_error(ck, "trigger.webhook.path", "\"%s\" is the "
			    "server's own endpoint %s; pick a path outside the "
			    "API, such as /hooks/NAME", s, api);
		wf_get_enum(ck, hook, "trigger.webhook", "mode", wf_modes);
		wf_get_int(ck, hook, "trigger.webhook", "sync_timeout_ms", 1,
		    INT64_MAX, &n);
		if (wf_get_string(ck, hook, "trigger.webhook", "secret_env",
		    &s) > 0 && !wf_valid_env(s))
			wf_error(ck, "trigger.webhook.secret_env", "\"%s\" is "
			    "not an environment variable name", s);
		wf_get_int(ck, hook, "trigger.webhook", "max_body_bytes", 1,
		    INT64_MAX, &n);
	}
	if ((cron = wf_get_object(ck, trig, "trigger", "cron")) != NULL) {
		wf_check_keys(ck, cron, "trigger.cron", wf_cron_keys);
		wf_get_enum(ck, cron, "trigger.cron", "overlap", wf_overlaps);
		wf_get_enum(ck, cron, "trigger.cron", "catch_up",
		    wf_catch_ups);
		wf_check_cron(ck, cron);
	}
}

/* Checks "defaults" and fills the workflow's default retry and timeout. */
static void
wf_check_defaults(struct wf_check *ck, json_t *root, struct workflow *wf)
{
	json_t *def, *retry;

	wf->retry.max_attempts = WORKFLOW_MAX_ATTEMPTS;
	wf->retry.backoff_ms = WORKFLOW_BACKOFF_MS;
	wf->retry.backoff_max_ms = WORKFLOW_BACKOFF_MAX_MS;
	wf->retry.jitter = 1;
	wf->step_timeout_ms = WORKFLOW_STEP_TIMEOUT_MS;
	if ((def = wf_get_object(ck, root, "", "defaults")) == NULL)
		return;
	wf_check_keys(ck, def, "defaults", wf_defaults_keys);
	if ((retry = json_object_get(def, "retry")) != NULL)
		wf_check_retry(ck, retry, "defaults.retry", &wf->retry);
	wf_get_int(ck, def, "defaults", "timeout_ms", 1, INT64_MAX,
	    &wf->step_timeout_ms);
}

/* Checks the flow-control keys: rate_limit, debounce, priority, keys. */
static void
wf_check_flow(struct wf_check *ck, json_t *root)
{
	json_t *rl, *db, *v;
	int64_t n, wait = -1, max = -1;

	wf_check_template_string(ck, root, "", "concurrency_key");
	if (json_object_get(root, "concurrency_key") != NULL &&
	    json_object_get(root, "concurrency") == NULL)
		wf_error(ck, "concurrency_key", "needs \"concurrency\", the "
		    "number of runs allowed at once per key");
	if ((rl = wf_get_object(ck, root, "", "rate_limit")) != NULL) {
		wf_check_keys(ck, rl, "rate_limit", wf_rate_keys);
		if ((v = json_object_get(rl, "per_second")) == NULL)
			wf_missing(ck, "rate_limit", "per_second");
		else if (!json_is_number(v) || json_number_value(v) <= 0)
			wf_error(ck, "rate_limit.per_second", "expected a "
			    "positive number");
		wf_get_int(ck, rl, "rate_limit", "burst", 1, INT_MAX, &n);
		wf_check_template_string(ck, rl, "rate_limit", "key");
		wf_get_enum(ck, rl, "rate_limit", "on_limit", wf_on_limits);
	}
	if ((db = wf_get_object(ck, root, "", "debounce")) != NULL) {
		wf_check_keys(ck, db, "debounce", wf_debounce_keys);
		wf_check_template_string(ck, db, "debounce", "key");
		if (wf_get_int(ck, db, "debounce", "wait_ms", 1, INT64_MAX,
		    &wait) == 0)
			wf_missing(ck, "debounce", "wait_ms");
		if (wf_get_int(ck, db, "debounce", "max_wait_ms", 1,
		    INT64_MAX, &max) > 0 && wait > 0 && max < wait)
			wf_error(ck, "debounce.max_wait_ms", "less than "
			    "wait_ms");
	}
	if ((v = json_object_get(root, "priority")) != NULL) {
		if (json_is_string(v))
			wf_check_templates(ck, v, "priority");
		else if (!json_is_integer(v))
			wf_error(ck, "priority", "expected an integer or a "
			    "template string");
	}
}

/* Checks "retention": a duration ("7d", "12h", "30m", "45s") or
 * "forever", how long finished runs are kept. */
static void
wf_check_retention(struct wf_check *ck, json_t *root, struct workflow *wf)
{
	const char *s;

	if (wf_get_string(ck, root, "", "retention", &s) <= 0)
		return;
	if (strcmp(s, "forever") == 0)
		wf->retention_ms = WORKFLOW_FOREVER;
	else if (orc_parse_duration(s, &wf->retention_ms) != 0)
		wf_error(ck, "retention", "\"%s\" is not a duration such as "
		    "\"7d\", \"12h\", \"30m\" or \"45s\", nor \"forever\"",
		    s);
}

/* Whether a script path stays inside the workflow folder. */
static int
wf_script_inside(const char *s)
{
	const char *p;

	if (*s == '\0' || *s == '/')
		return 0;
	for (p = s; p != NULL; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || p[2] == '\0'))
			return 0;
	}
	return 1;
}

/* Checks the Lua-only keys of a step: script, memory_mb, instructions. */
static void
wf_check_lua_keys(struct wf_check *ck, struct workflow *wf, json_t *step,
    const char *path, int lua)
{
	static const char *const keys[] = {
		"script", "memory_mb", "instructions", NULL
	};
	struct orc_error err;
	const char *s;
	char *kp, *file;
	int64_t n;
	size_t i;

	if (!lua) {
		for (i = 0; keys[i] != NULL; i++) {
			if (json_object_get(step, keys[i]) == NULL)
				continue;
			kp = jsonpos_path_key(path, keys[i]);
			wf_error(ck, kp, "only lua steps take \"%s\"", keys[i]);
			free(kp);
		}
		return;
	}
	kp = jsonpos_path_key(path, "script");
	switch (wf_get_string(ck, step, path, "script", &s)) {
	case 0:
		wf_missing(ck, path, "script");
		break;
	case 1:
		if (!wf_script_inside(s)) {
			wf_error(ck, kp, "\"%s\" is not a relative path inside "
			    "the workflow folder", s);
			break;
		}
		/* Without the lua step, "uses" is the problem to show. */
		if (steps_find("lua") == NULL)
			break;
		file = xasprintf("%s/%s", wf->dir, s);
		if (access(file, R_OK) != 0)
			wf_error(ck, kp, "cannot read %s: %s", file,
			    strerror(errno));
		else if (script_check(file, s, &err) != 0)
			wf_error(ck, kp, "the script does not compile: %s",
			    err.message);
		free(file);
		break;
	}
	free(kp);
	wf_get_int(ck, step, path, "memory_mb", 1, INT_MAX, &n);
	wf_get_int(ck, step, path, "instructions", 1, INT64_MAX, &n);
}

/* Reports every key of a step's "with" that its step type does not take. */
static void
wf_check_with_keys(struct wf_check *ck, const struct step_entry *entry,
    json_t *with, const char *path)
{
	const char *key;
	json_t *v;
	char *kp, *allowed, *tmp;
	size_t i;

	/* step_keys_any, or a list holding "*", allows every key. */
	if (entry->keys == step_keys_any || wf_in_list("*", entry->keys))
		return;
	if (entry->keys == NULL || entry->keys[0] == NULL)
		allowed = xasprintf("%s takes none", entry->name);
	else {
		allowed = xasprintf("allowed: %s", entry->keys[0]);
		for (i = 1; entry->keys[i] != NULL; i++) {
			tmp = xasprintf("%s, %s", allowed, entry->keys[i]);
			free(allowed);
			allowed = tmp;
		}
	}
	json_object_foreach(with, key, v) {
		if (wf_in_list(key, entry->keys))
			continue;
		kp = jsonpos_path_key(path, key);
		wf_report(ck, kp, "unknown key \"%s\" in %s (%s)", key, path,
		    allowed);
		free(kp);
	}
	free(allowed);
}

/* "unknown step type": with the nearest real type, and all of them. */
static void
wf_unknown_step(struct wf_check *ck, const char *kp, const char *uses)
{
	const struct step_entry *const *e;
	struct strbuf all = STRBUF_INIT;
	const char *near = NULL;
	size_t n = strlen(uses);

	for (e = steps_all(); *e != NULL; e++) {
		strbuf_printf(&all, "%s%s", all.len > 0 ? ", " : "",
		    (*e)->name);
		/* "http" for http.request, "decode" for json.decode. */
		if (near == NULL && n >= 3 && strstr((*e)->name, uses) != NULL)
			near = (*e)->name;
	}
	if (near != NULL)
		wf_error(ck, kp, "unknown step type \"%s\": did you mean "
		    "\"%s\"? (the types are %s)", uses, near, all.s);
	else
		wf_error(ck, kp, "unknown step type \"%s\" (the types are %s)",
		    uses, all.s);
	strbuf_free(&all);
}

/* Index of the step named name in "steps", or -1. */
static int
wf_find_step(const struct wf_check *ck, const char *name)
{
	json_t *step;
	const char *s;
	size_t i;

	json_array_foreach(ck->steps, i, step) {
		s = json_string_value(json_object_get(step, "name"));
		if (s != NULL && strcmp(s, name) == 0)
			return (int)i;
	}
	return -1;
}

/* Reports name, at path, when it is no step's: -1, else its index. */
static int
wf_check_target(struct wf_check *ck, const char *path, const char *name)
{
	struct strbuf all = STRBUF_INIT;
	json_t *v;
	size_t j;
	int i;

	if ((i = wf_find_step(ck, name)) >= 0)
		return i;
	json_array_foreach(ck->step_names, j, v)
		strbuf_printf(&all, "%s\"%s\"", j > 0 ? ", " : "",
		    json_string_value(v));
	wf_error(ck, path, "no step named \"%s\" (the steps are %s)", name,
	    all.s);
	strbuf_free(&all);
	return -1;
}

/*
 * Checks a step's "next" and "end": where it goes after it succeeds.
 * brancher is the type of a step whose "with" names its next steps (it
 * takes neither), else NULL.
 */
static void
wf_check_next(struct wf_check *ck, json_t *step, const char *path,
    int handler, const char *brancher, struct workflow_step *out)
{
	static const char *const keys[] = { "next", "end", NULL };
	json_t *end;
	char *kp;
	size_t i;

	for (i = 0; keys[i] != NULL; i++) {
		if (json_object_get(step, keys[i]) == NULL ||
		    (!handler && brancher == NULL))
			continue;
		kp = jsonpos_path_key(path, keys[i]);
		if (handler)
			wf_error(ck, kp, "the failure handler ends the run: it "
			    "takes no \"%s\"", keys[i]);
		else
			wf_error(ck, kp, "a %s step chooses its next step "
			    "itself: it takes no \"%s\"", brancher, keys[i]);
		free(kp);
	}
	if (handler || brancher != NULL)
		return;
	kp = jsonpos_path_key(path, "next");
	if (wf_get_string(ck, step, path, "next", &out->next) > 0)
		wf_check_target(ck, kp, out->next);
	free(kp);
	kp = jsonpos_path_key(path, "end");
	end = json_object_get(step, "end");
	out->end = json_is_true(end);
	if (end != NULL && !json_is_boolean(end))
		wf_error(ck, kp, "expected true or false");
	else if (out->end && out->next != NULL)
		wf_error(ck, kp, "a step has \"next\" or \"end\", not "
		    "both");
	free(kp);
}

/* Checks "wait_for_callback": a step of the run's own path whose type
 * does not suspend the run by itself. */
static void
wf_check_callback(struct wf_check *ck, json_t *step, const char *path,
    int handler, struct workflow_step *out)
{
	json_t *v = json_object_get(step, "wait_for_callback");
	char *kp;

	if (v == NULL)
		return;
	kp = jsonpos_path_key(path, "wait_for_callback");
	out->callback = json_is_true(v);
	if (!json_is_boolean(v))
		wf_error(ck, kp, "expected true or false");
	else if (out->callback && handler)
		wf_error(ck, kp, "the failure handler cannot wait for a "
		    "callback");
	else if (out->callback && out->entry != NULL &&
	    out->entry->due != STEP_DUE_NONE)
		wf_error(ck, kp, "a %s step waits by itself: it takes no "
		    "\"wait_for_callback\"", out->uses);
	free(kp);
}

static void	wf_check_step_list(struct wf_check *, json_t *, const char *,
		    struct workflow *);

/* Adds to step out the workflow of a map's items or of a parallel branch
 * (branch names it), from the steps at path. */
static void
wf_add_sub(struct wf_check *ck, struct workflow *wf, struct workflow_step *out,
    const char *branch, json_t *steps, const char *path)
{
	struct workflow *sub = xcalloc(1, sizeof *sub);
	const char *base = wf->name != NULL ? wf->name : "?";

	sub->root = wf->root != NULL ? wf->root : wf;
	sub->sub_name = branch != NULL ? xasprintf("%s/%s/%s", base, out->name,
	    branch) : xasprintf("%s/%s", base, out->name);
	sub->name = sub->sub_name;
	sub->path = wf->path;
	sub->dir = wf->dir;
	sub->text = wf->text;
	sub->len = wf->len;
	memcpy(sub->hash, wf->hash, sizeof sub->hash);
	sub->json = wf->json;
	sub->allow = wf->allow;
	sub->retry = wf->retry;
	sub->step_timeout_ms = wf->step_timeout_ms;
	out->subs = xrealloc(out->subs, (out->nsubs + 1) * sizeof *out->subs);
	out->branches = xrealloc(out->branches, (out->nsubs + 1) *
	    sizeof *out->branches);
	out->subs[out->nsubs] = sub;
	out->branches[out->nsubs++] = branch;
	wf_check_step_list(ck, steps, path, sub);
}

/* Checks a parallel step's "branches": name -> a non-empty list of steps. */
static void
wf_check_branches(struct wf_check *ck, struct workflow *wf, json_t *branches,
    const char *path, struct workflow_step *out)
{
	const char *name;
	json_t *steps;
	char *kp;

	if (!json_is_object(branches) || json_object_size(branches) == 0) {
		wf_error(ck, path, "expected an object of branches: a name "
		    "and a list of steps each");
		return;
	}
	json_object_foreach(branches, name, steps) {
		kp = jsonpos_path_key(path, name);
		if (!wf_valid_name(name))
			wf_error(ck, kp, "invalid branch name \"%s\" (use a-z, "
			    "0-9, '_' and '-', starting with a letter or "
			    "digit, at most %d characters)", name,
			    WORKFLOW_NAME_MAX);
		else if (!json_is_array(steps) || json_array_size(steps) == 0)
			wf_error(ck, kp, "expected a non-empty array of steps");
		else
			wf_add_sub(ck, wf, out, name, steps, kp);
		free(kp);
	}
}

/*
 * Checks what a step fans out to: a map's "steps", a parallel step's
 * "branches" (each a workflow of its own), and that no other step has
 * them. A fan-out step has no timeout unless it sets one: its items have
 * theirs.
 */
static void
wf_check_fan(struct wf_check *ck, struct workflow *wf, json_t *step,
    const char *path, int handler, struct workflow_step *out)
{
	enum step_fan fan = out->entry != NULL ? out->entry->fan :
	    STEP_FAN_NONE;
	static const char *const keys[] = { "steps", "branches" };
	enum step_fan wants[] = { STEP_FAN_ITEMS, STEP_FAN_BRANCHES };
	json_t *v;
	char *kp;
	size_t i;

	if (fan != STEP_FAN_NONE && handler) {
		wf_error(ck, path, "the failure handler cannot be a %s step",
		    out->uses);
		return;
	}
	for (i = 0; i < 2; i++) {
		v = json_object_get(step, keys[i]);
		kp = jsonpos_path_key(path, keys[i]);
		if (v != NULL && fan != wants[i])
			wf_error(ck, kp, "only a %s step takes \"%s\"",
			    i == 0 ? "map" : "parallel", keys[i]);
		else if (v == NULL && fan == wants[i])
			wf_missing(ck, path, keys[i]);
		else if (v != NULL && i == 0 && (!json_is_array(v) ||
		    json_array_size(v) == 0))
			wf_error(ck, kp, "expected a non-empty array of steps");
		else if (v != NULL && i == 0)
			wf_add_sub(ck, wf, out, NULL, v, kp);
		else if (v != NULL)
			wf_check_branches(ck, wf, v, kp, out);
		free(kp);
	}
	if (fan != STEP_FAN_NONE)
		out->timeout_ms = 0;
}

/*
 * Checks one step at path and fills out. The failure handler (handler
 * set) has no "name" of its own.
 */
static void
wf_check_step(struct wf_check *ck, struct workflow *wf, json_t *step,
    const char *path, int handler, struct workflow_step *out)
{
	struct step_checker checker;
	json_t *v, *with, *empty;
	const char *uses = NULL;
	char *kp, *wp;

	out->json = step;
	out->retry = wf->retry;
	out->timeout_ms = wf->step_timeout_ms;
	memset(&checker, 0, sizeof checker);
	if (!json_is_object(step)) {
		wf_error(ck, path, "expected a step object");
		return;
	}
	wf_check_keys(ck, step, path, wf_step_keys);

	/* The name was checked with the others, for uniqueness. */
	if (handler && json_object_get(step, "name") != NULL) {
		kp = jsonpos_path_key(path, "name");
		wf_error(ck, kp, "the failure handler is always named "
		    "\"on_failure\"");
		free(kp);
	}

	switch (wf_get_string(ck, step, path, "uses", &uses)) {
	case 0:
		wf_missing(ck, path, "uses");
		break;
	case 1:
		out->uses = uses;
		out->entry = steps_find(uses);
		if (out->entry != NULL)
			break;
		kp = jsonpos_path_key(path, "uses");
		wf_unknown_step(ck, kp, uses);
		free(kp);
		break;
	}

	wp = jsonpos_path_key(path, "with");
	with = json_object_get(step, "with");
	if (with != NULL && !json_is_object(with))
		wf_error(ck, wp, "expected an object");
	else {
		if (with != NULL) {
			out->with = with;
			if (out->entry != NULL)
				wf_check_with_keys(ck, out->entry, with, wp);
			wf_check_step_templates(ck, with, wp, json_is_true(
			    json_object_get(step, "wait_for_callback")));
		}
		if (out->entry != NULL && out->entry->check != NULL) {
			checker.ck = ck;
			checker.prefix = path;
			checker.index = handler ? -1 : (int)(out - wf->steps);
			empty = json_object();
			out->entry->check(with != NULL ? with : empty,
			    &checker);
			json_decref(empty);
		}
	}
	free(wp);

	if ((v = json_object_get(step, "retry")) != NULL) {
		kp = jsonpos_path_key(path, "retry");
		wf_check_retry(ck, v, kp, &out->retry);
		free(kp);
	}
	wf_check_fan(ck, wf, step, path, handler, out);
	wf_get_int(ck, step, path, "timeout_ms", 1, INT64_MAX,
	    &out->timeout_ms);
	wf_check_lua_keys(ck, wf, step, path,
	    uses != NULL && strcmp(uses, "lua") == 0);
	wf_check_next(ck, step, path, handler, checker.targets > 0 ? uses :
	    NULL, out);
	wf_check_callback(ck, step, path, handler, out);
}

/* Reports a problem a step's check function found. */
void
step_check_error(struct step_checker *checker, const char *path,
    const char *fmt, ...)
{
	va_list ap;
	char *msg, *full;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	full = wf_join_path(checker->prefix, path);
	wf_error(checker->ck, full, "%s", msg);
	free(full);
	free(msg);
}

/* Checks a branch a step's check function found, and keeps it. */
void
step_check_target(struct step_checker *checker, const char *path,
    const char *name)
{
	struct wf_check *ck = checker->ck;
	char *full;
	int to;

	full = wf_join_path(checker->prefix, path);
	if (checker->index < 0) {
		wf_error(ck, full, "the failure handler ends the run: it "
		    "cannot go to another step");
		free(full);
		return;
	}
	checker->targets++;
	to = wf_check_target(ck, full, name);
	free(full);
	/* Grows by doubling, as the problems do. */
	if ((ck->nedges & (ck->nedges - 1)) == 0)
		ck->edges = xrealloc(ck->edges, (ck->nedges == 0 ? 1 :
		    2 * ck->nedges) * sizeof *ck->edges);
	ck->edges[ck->nedges].from = (size_t)checker->index;
	ck->edges[ck->nedges++].to = to;
}

/*
 * Checks the step names first, so that templates anywhere can be checked
 * against the full list: each must fit the name pattern, be unique and
 * not be "on_failure".
 */
static void
wf_check_step_names(struct wf_check *ck, json_t *steps)
{
	json_t *step, *name;
	const char *s;
	char *path, *np;
	size_t i, j;

	json_array_foreach(steps, i, step) {
		if (!json_is_object(step))
			continue;
		path = jsonpos_path_index(ck->steps_path, i);
		np = jsonpos_path_key(path, "name");
		if ((name = json_object_get(step, "name")) == NULL)
			wf_missing(ck, path, "name");
		else if (!json_is_string(name))
			wf_error(ck, np, "expected a string");
		else if (strcmp((s = json_string_value(name)),
		    "on_failure") == 0)
			wf_error(ck, np, "\"on_failure\" is reserved for the "
			    "failure handler");
		else if (!wf_valid_name(s))
			wf_error(ck, np, "invalid step name \"%s\" (use a-z, "
			    "0-9, '_' and '-', starting with a letter or "
			    "digit, at most %d characters)", s,
			    WORKFLOW_NAME_MAX);
		else {
			for (j = 0; j < json_array_size(ck->step_names); j++) {
				if (strcmp(s, json_string_value(
				    json_array_get(ck->step_names, j))) == 0)
					break;
			}
			if (j < json_array_size(ck->step_names))
				wf_error(ck, np, "duplicate step name \"%s\"",
				    s);
			else
				json_array_append_new(ck->step_names,
				    json_string(s));
		}
		free(np);
		free(path);
	}
}

/*
 * Where step i may go once it succeeds: fills to (room for every edge and
 * one more) and returns how many, or -1 when it may end the run. A lua
 * step may go anywhere, the end too: its script chooses as it runs.
 */
static int
wf_step_goes(const struct wf_check *ck, const struct workflow *wf,
    size_t i, int *to)
{
	const struct workflow_step *s = &wf->steps[i];
	size_t e;
	int n = 0;

	if (s->uses != NULL && strcmp(s->uses, "lua") == 0)
		return -1;
	for (e = 0; e < ck->nedges; e++) {
		/* A branch to no step was reported: not a loop too. */
		if (ck->edges[e].from == i && ck->edges[e].to < 0)
			return -1;
		if (ck->edges[e].from == i)
			to[n++] = ck->edges[e].to;
	}
	if (n > 0)
		return n;
	if (s->end)
		return -1;
	if (s->next != NULL)
		return (to[0] = wf_find_step(ck, s->next)) < 0 ? -1 : 1;
	if (i + 1 == wf->nsteps)
		return -1;
	to[0] = (int)i + 1;
	return 1;
}

/*
 * Reports the loop that step first is in or leads to: it and the steps
 * it reaches, none of which can reach the end of the run (stuck). Marks
 * them in done.
 */
static void
wf_report_loop(struct wf_check *ck, const struct workflow *wf, size_t first,
    char *done, int *to)
{
	struct strbuf names = STRBUF_INIT;
	char *in, *path;
	int *stack, k, j;
	size_t i, sp = 0, count = 0;

	in = xcalloc(wf->nsteps, 1);
	stack = xcalloc(wf->nsteps, sizeof *stack);
	in[first] = 1;
	stack[sp++] = (int)first;
	while (sp > 0) {
		k = wf_step_goes(ck, wf, (size_t)stack[--sp], to);
		for (j = 0; j < k; j++) {
			if (!in[to[j]]) {
				in[to[j]] = 1;
				stack[sp++] = to[j];
			}
		}
	}
	for (i = 0; i < wf->nsteps; i++)
		count += (size_t)in[i];
	for (i = 0, j = 0; i < wf->nsteps; i++) {
		if (!in[i])
			continue;
		done[i] = 1;
		strbuf_printf(&names, "%s\"%s\"", j == 0 ? "" :
		    (size_t)j + 1 == count ? " and " : ", ",
		    wf->steps[i].name != NULL ? wf->steps[i].name : "?");
		j++;
	}
	path = jsonpos_path_index(ck->steps_path, first);
	wf_error(ck, path, "%s %s %s with no way out: no rule, \"next\" or "
	    "\"end\" leads from %s to the end of the run", count > 1 ?
	    "steps" : "step", names.s, count > 1 ? "loop" : "goes back to "
	    "itself", count > 1 ? "them" : "it");
	free(path);
	strbuf_free(&names);
	free(stack);
	free(in);
}

/*
 * Reports every loop of steps with no way out: steps that cannot reach
 * the end of the run by any branch (a failure is not a way out). Steps
 * that can are found from the end backwards, until none is added.
 */
static void
wf_check_loops(struct wf_check *ck, const struct workflow *wf)
{
	char *out, *done;
	int *to, k, j, more = 1;
	size_t i;

	out = xcalloc(wf->nsteps, 1);
	done = xcalloc(wf->nsteps, 1);
	to = xcalloc(ck->nedges + 1, sizeof *to);
	while (more) {
		more = 0;
		for (i = 0; i < wf->nsteps; i++) {
			if (out[i])
				continue;
			k = wf_step_goes(ck, wf, i, to);
			for (j = 0; j < k && !out[to[j]]; j++)
				;
			if (k < 0 || j < k)
				more = out[i] = 1;
		}
	}
	for (i = 0; i < wf->nsteps; i++) {
		if (!out[i] && !done[i])
			wf_report_loop(ck, wf, i, done, to);
	}
	free(to);
	free(done);
	free(out);
}

/*
 * Checks a list of steps (a file's "steps", a map's, a parallel branch's)
 * at path and builds wf's steps from it. Names, branches and loops are
 * the list's own: a map's item steps form a workflow of their own.
 */
static void
wf_check_step_list(struct wf_check *ck, json_t *steps, const char *path,
    struct workflow *wf)
{
	json_t *step, *saved_names = ck->step_names, *saved_steps = ck->steps;
	const char *saved_path = ck->steps_path;
	struct wf_edge *saved_edges = ck->edges;
	size_t i, saved_nedges = ck->nedges;
	char *sp;

	/* The file's own names stay: flow control's templates name them. */
	if (saved_path != NULL)
		ck->step_names = json_array();
	ck->steps = steps;
	ck->steps_path = path;
	ck->edges = NULL;
	ck->nedges = 0;
	wf_check_step_names(ck, steps);
	wf->nsteps = json_array_size(steps);
	wf->steps = xcalloc(wf->nsteps, sizeof *wf->steps);
	json_array_foreach(steps, i, step) {
		wf->steps[i].name = json_string_value(
		    json_object_get(step, "name"));
		sp = jsonpos_path_index(path, i);
		wf_check_step(ck, wf, step, sp, 0, &wf->steps[i]);
		free(sp);
	}
	wf_check_loops(ck, wf);
	if (saved_path != NULL) {
		json_decref(ck->step_names);
		ck->step_names = saved_names;
	}
	free(ck->edges);
	ck->steps = saved_steps;
	ck->steps_path = saved_path;
	ck->edges = saved_edges;
	ck->nedges = saved_nedges;
}

/* Checks "steps" and "on_failure" and builds the workflow's steps. */
static void
wf_check_steps(struct wf_check *ck, json_t *root, struct workflow *wf)
{
	json_t *steps, *handler;

	steps = json_object_get(root, "steps");
	if (steps == NULL)
		wf_missing(ck, "", "steps");
	else if (!json_is_array(steps) || json_array_size(steps) == 0)
		wf_error(ck, "steps", "expected a non-empty array of steps");
	else
		wf_check_step_list(ck, steps, "steps", wf);
	if ((handler = json_object_get(root, "on_failure")) != NULL) {
		wf->on_failure = xcalloc(1, sizeof *wf->on_failure);
		wf->on_failure->name = "on_failure";
		wf_check_step(ck, wf, handler, "on_failure", 1,
		    wf->on_failure);
	}
}

/* Checks a whole document and fills wf from it. */
static void
wf_check_root(struct wf_check *ck, json_t *root, struct workflow *wf)
{
	const char *s;
	int64_t n;

	wf_check_keys(ck, root, "", wf_root_keys);
	switch (wf_get_string(ck, root, "", "name", &s)) {
	case 0:
		wf_missing(ck, "", "name");
		break;
	case 1:
		if (!wf_valid_name(s))
			wf_error(ck, "name", "invalid workflow name \"%s\" "
			    "(use a-z, 0-9, '_' and '-', starting with a "
			    "letter or digit, at most %d characters)", s,
			    WORKFLOW_NAME_MAX);
		wf->name = s;
		jsonpos_find(ck->pos, "name", &wf->name_line,
		    &wf->name_column);
		break;
	}
	wf_get_string(ck, root, "", "description", &wf->description);
	wf_check_trigger(ck, root);
	wf->trigger = json_object_get(root, "trigger");
	wf->hook_path = json_string_value(json_object_get(
	    json_object_get(wf->trigger, "webhook"), "path"));
	if (wf->hook_path != NULL)
		jsonpos_find(ck->pos, "trigger.webhook.path", &wf->hook_line,
		    &wf->hook_column);
	wf_check_schema(ck, root, "input", &wf->input);
	wf_check_schema(ck, root, "output", &wf->output);
	wf_check_defaults(ck, root, wf);
	wf_get_int(ck, root, "", "timeout_ms", 1, INT64_MAX, &wf->timeout_ms);
	if (wf_get_int(ck, root, "", "concurrency", 1, INT_MAX, &n) > 0)
		wf->concurrency = (int)n;
	wf_check_string_array(ck, root, "", "secrets", 1);
	if ((wf->allow = wf_get_object(ck, root, "", "allow")) != NULL) {
		wf_check_keys(ck, wf->allow, "allow", wf_allow_keys);
		wf_check_string_array(ck, wf->allow, "allow", "hosts", 0);
		wf_check_string_array(ck, wf->allow, "allow", "buckets", 0);
	}
	/* Names first: the flow-control templates may name steps. */
	wf_check_steps(ck, root, wf);
	wf_check_flow(ck, root);
	wf_check_retention(ck, root, wf);
}

/* The folder part of a path: "." when it has none. */
static char *
wf_dirname(const char *path)
{
	const char *slash;
	size_t len;

	if (path == NULL || (slash = strrchr(path, '/')) == NULL)
		return xstrdup(".");
	len = (size_t)(slash - path);
	while (len > 0 && path[len - 1] == '/')
		len--;
	if (len == 0)
		return xstrdup("/");
	return xstrndup(path, len);
}

/* Loads text; path is used for messages and as the base of script paths. */
struct workflow *
workflow_load_text(const char *text, size_t len, const char *path,
    struct diag *d)
{
	struct workflow *wf;
	struct wf_check ck;
	json_error_t jerr;
	json_t *root;

	if (path == NULL)
		path = "-";
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		diag_add(d, path, jerr.line > 0 ? jerr.line : 0,
		    jerr.column > 0 ? jerr.column : 0, "%s", jerr.text);
		return NULL;
	}
	wf = xcalloc(1, sizeof *wf);
	wf->refs = 1;
	wf->json = root;
	wf->path = xstrdup(path);
	wf->dir = wf_dirname(path);
	wf->text = xmalloc(len + 1);
	memcpy(wf->text, text, len);
	wf->text[len] = '\0';
	wf->len = len;
	orc_sha256_hex(text, len, wf->hash);

	memset(&ck, 0, sizeof ck);
	ck.file = path;
	ck.diag = d;
	ck.pos = jsonpos_create(text, len);
	ck.step_names = json_array();
	if (!json_is_object(root))
		wf_error(&ck, "", "expected an object with the workflow's "
		    "\"name\" and \"steps\"");
	else
		wf_check_root(&ck, root, wf);
	wf_flush(&ck);
	jsonpos_free(ck.pos);
	json_decref(ck.step_names);
	if (ck.errors > 0) {
		workflow_unref(wf);
		return NULL;
	}
	return wf;
}

/* Loads a file. NULL when it has problems, each added to diag. */
struct workflow *
workflow_load_file(const char *path, struct diag *d)
{
	struct orc_error err;
	struct workflow *wf;
	char *text;
	size_t len;

	orc_error_clear(&err);
	if ((text = orc_read_file(path, &len, &err)) == NULL) {
		/* The message names the file already. */
		diag_add(d, NULL, 0, 0, "%s", err.message);
		return NULL;
	}
	wf = workflow_load_text(text, len, path, d);
	free(text);
	return wf;
}

/* Takes another reference (a sub-workflow's is its root's). */
struct workflow *
workflow_ref(struct workflow *wf)
{
	__atomic_add_fetch(wf->root != NULL ? &wf->root->refs : &wf->refs, 1,
	    __ATOMIC_RELAXED);
	return wf;
}

/* Frees the sub-workflows of wf's steps, theirs first. */
static void
wf_free_subs(struct workflow *wf)
{
	struct workflow_step *ws;
	size_t i, j;

	for (i = 0; i < wf->nsteps; i++) {
		ws = &wf->steps[i];
		for (j = 0; j < ws->nsubs; j++) {
			wf_free_subs(ws->subs[j]);
			free(ws->subs[j]->steps);
			free(ws->subs[j]->sub_name);
			free(ws->subs[j]);
		}
		free(ws->subs);
		free(ws->branches);
	}
}

/* Drops a reference; the last one frees the definition. */
void
workflow_unref(struct workflow *wf)
{
	if (wf != NULL && wf->root != NULL)
		wf = wf->root;
	if (wf == NULL || __atomic_sub_fetch(&wf->refs, 1,
	    __ATOMIC_ACQ_REL) != 0)
		return;
	wf_free_subs(wf);
	free(wf->steps);
	free(wf->on_failure);
	json_decref(wf->json);
	free(wf->text);
	free(wf->dir);
	free(wf->path);
	free(wf);
}

/* The name from the file. */
const char *
workflow_name(const struct workflow *wf)
{
	return wf->name;
}

/* The description, or NULL. */
const char *
workflow_description(const struct workflow *wf)
{
	return wf->description;
}

/* The path the definition was loaded from. */
const char *
workflow_path(const struct workflow *wf)
{
	return wf->path;
}

/* The folder of the file: the base of script paths. */
const char *
workflow_dir(const struct workflow *wf)
{
	return wf->dir;
}

/* The text as loaded. */
const char *
workflow_text(const struct workflow *wf)
{
	return wf->text;
}

/* The SHA-256 of the text, in hex. */
const char *
workflow_hash(const struct workflow *wf)
{
	return wf->hash;
}

/* The whole document. */
const json_t *
workflow_json(const struct workflow *wf)
{
	return wf->json;
}

/* The "input" schema, or NULL. */
const json_t *
workflow_input_schema(const struct workflow *wf)
{
	return wf->input;
}

/* The "output" schema, or NULL. */
const json_t *
workflow_output_schema(const struct workflow *wf)
{
	return wf->output;
}

/* The "trigger" object, or NULL. */
const json_t *
workflow_trigger(const struct workflow *wf)
{
	return wf->trigger;
}

/* The "allow" object, or NULL. */
const json_t *
workflow_allow(const struct workflow *wf)
{
	return wf->allow;
}

/* The run-level timeout; 0 for none. */
int64_t
workflow_timeout_ms(const struct workflow *wf)
{
	return wf->timeout_ms;
}

/* How long finished runs are kept: 0 when the file does not say (the
 * daemon's default applies), WORKFLOW_FOREVER for always. */
int64_t
workflow_retention_ms(const struct workflow *wf)
{
	return wf->root != NULL ? wf->root->retention_ms : wf->retention_ms;
}

/* Runs allowed at once (per key); 0 for no limit. */
int
workflow_concurrency(const struct workflow *wf)
{
	return wf->concurrency;
}

/* How many steps, the handler not counted. */
size_t
workflow_step_count(const struct workflow *wf)
{
	return wf->nsteps;
}

/* Step i, or NULL past the end. */
const struct workflow_step *
workflow_step_at(const struct workflow *wf, size_t i)
{
	return i < wf->nsteps ? &wf->steps[i] : NULL;
}

/* Index of the step with that name, or -1. */
int
workflow_step_index(const struct workflow *wf, const char *name)
{
	size_t i;

	for (i = 0; i < wf->nsteps; i++) {
		if (strcmp(wf->steps[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

/* The failure handler, or NULL. */
const struct workflow_step *
workflow_on_failure(const struct workflow *wf)
{
	return wf->on_failure;
}

/* The step's name ("on_failure" for the handler). */
const char *
workflow_step_name(const struct workflow_step *step)
{
	return step->name;
}

/* The step type, as written. */
const char *
workflow_step_uses(const struct workflow_step *step)
{
	return step->uses;
}

/* The step type's registry entry. */
const struct step_entry *
workflow_step_entry(const struct workflow_step *step)
{
	return step->entry;
}

/* The step object as written. */
const json_t *
workflow_step_json(const struct workflow_step *step)
{
	return step->json;
}

/* The step's "with" object, or NULL. */
const json_t *
workflow_step_with(const struct workflow_step *step)
{
	return step->with;
}

/* The retry policy, defaults applied. */
const struct retry_policy *
workflow_step_retry(const struct workflow_step *step)
{
	return &step->retry;
}

/* The attempt timeout, defaults applied. */
int64_t
workflow_step_timeout_ms(const struct workflow_step *step)
{
	return step->timeout_ms;
}

/* The step's "next": where the run goes after it, or NULL. */
const char *
workflow_step_next(const struct workflow_step *step)
{
	return step->next;
}

/* Whether the step has "end": true, ending the run once it succeeds. */
int
workflow_step_ends(const struct workflow_step *step)
{
	return step->end;
}

/* Whether the step has "wait_for_callback": true. */
int
workflow_step_callback(const struct workflow_step *step)
{
	return step->callback;
}

/* Orders file names for qsort. */
static int
wf_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json file names in a folder, sorted; -1 when it is unreadable. */
static int
wf_list_json(const char *dir, char ***names, size_t *count)
{
	DIR *dp;
	struct dirent *de;
	size_t n = 0, cap = 0, len;

	*names = NULL;
	*count = 0;
	if ((dp = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL) {
		len = strlen(de->d_name);
		/* Hidden files are editors' and tools', not workflows. */
		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			*names = xrealloc(*names, cap * sizeof **names);
		}
		(*names)[n++] = xstrdup(de->d_name);
	}
	closedir(dp);
	if (n > 1)
		qsort(*names, n, sizeof **names, wf_name_cmp);
	*count = n;
	return 0;
}

/* The webhook path, or NULL when the workflow has none. */
const char *
workflow_hook_path(const struct workflow *wf)
{
	return wf->hook_path;
}

/* The workflow of list that has wf's webhook path already, or NULL. */
struct workflow *
workflow_hook_conflict(struct workflow **list, size_t n,
    const struct workflow *wf)
{
	size_t i;

	if (wf->hook_path == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (list[i] != wf && list[i]->hook_path != NULL &&
		    strcmp(list[i]->hook_path, wf->hook_path) == 0)
			return list[i];
	}
	return NULL;
}

/* Loads every *.json in a folder; bad files are reported and skipped. */
int
workflow_load_dir(const char *dir, struct workflow ***out, struct diag *d)
{
	struct workflow **list = NULL, *wf, *other;
	struct stat sb;
	char **names, *path;
	size_t count, i, j, n = 0;

	*out = NULL;
	if (wf_list_json(dir, &names, &count) != 0) {
		diag_add(d, dir, 0, 0, "cannot read the folder: %s",
		    strerror(errno));
		return -1;
	}
	if (count > 0)
		list = xcalloc(count, sizeof *list);
	for (i = 0; i < count; i++) {
		if (dir[0] != '\0' && dir[strlen(dir) - 1] == '/')
			path = xasprintf("%s%s", dir, names[i]);
		else
			path = xasprintf("%s/%s", dir, names[i]);
		free(names[i]);
		/* Folders named x.json and broken links are not files. */
		if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			free(path);
			continue;
		}
		wf = workflow_load_file(path, d);
		free(path);
		if (wf == NULL)
			continue;
		for (j = 0; j < n; j++) {
			if (strcmp(workflow_name(list[j]), wf->name) == 0)
				break;
		}
		if (j < n) {
			diag_add(d, wf->path, wf->name_line, wf->name_column,
			    "workflow name \"%s\" already used by %s",
			    wf->name, list[j]->path);
			workflow_unref(wf);
			continue;
		}
		if ((other = workflow_hook_conflict(list, n, wf)) != NULL) {
			/* Else one of them would silently win the path. */
			diag_add(d, wf->path, wf->hook_line, wf->hook_column,
			    "webhook path \"%s\" already used by %s (workflow "
			    "%s); give one of them another path",
			    wf->hook_path, other->path, other->name);
			workflow_unref(wf);
			continue;
		}
		list[n++] = wf;
	}
	free(names);
	if (n == 0) {
		free(list);
		list = NULL;
	}
	*out = list;
	return (int)n;
}

/* Drops a list of workflows and the list itself. */
void
workflow_list_free(struct workflow **list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		workflow_unref(list[i]);
	free(list);
}

/* How many workflows the step fans out to: a map's one, a parallel
 * step's branches, else 0. */
size_t
workflow_step_subs(const struct workflow_step *step)
{
	return step->nsubs;
}

/* The step's sub-workflow i (workflow_step_subs). */
struct workflow *
workflow_step_sub(const struct workflow_step *step, size_t i)
{
	return i < step->nsubs ? step->subs[i] : NULL;
}

/* The name of a parallel step's branch i; NULL for a map. */
const char *
workflow_step_branch(const struct workflow_step *step, size_t i)
{
	return i < step->nsubs ? step->branches[i] : NULL;
}

/* The sub-workflow of wf (at any depth) with that name, or NULL. */
struct workflow *
workflow_sub_find(struct workflow *wf, const char *name)
{
	struct workflow *found;
	size_t i, j;

	for (i = 0; i < wf->nsteps; i++) {
		for (j = 0; j < wf->steps[i].nsubs; j++) {
			if (strcmp(wf->steps[i].subs[j]->name, name) == 0)
				return wf->steps[i].subs[j];
			if ((found = workflow_sub_find(wf->steps[i].subs[j],
			    name)) != NULL)
				return found;
		}
	}
	return NULL;
}

/* Whether wf is a map's items or a branch, not a file's workflow. */
int
workflow_is_sub(const struct workflow *wf)
{
	return wf->root != NULL;
}
