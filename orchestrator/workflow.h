/*
 * Workflow definitions: a JSON file per workflow (SPEC section 1), loaded
 * whole or rejected whole. The loader reports every problem it finds as
 * FILE:LINE:COLUMN: message. A loaded workflow is immutable and reference
 * counted, so a run keeps the definition it started with.
 */
#ifndef WORKFLOW_H
#define WORKFLOW_H

#include <jansson.h>
#include <stdint.h>

#include "orchestrator.h"

struct diag;
struct step_entry;
struct workflow;
struct workflow_step;

struct retry_policy {
	int	max_attempts;		/* >= 1 */
	int64_t	backoff_ms;		/* first delay */
	int64_t	backoff_max_ms;		/* cap */
	int	jitter;			/* full jitter when set */
};

/* Defaults when a file says nothing. */
#define WORKFLOW_MAX_ATTEMPTS	3
#define WORKFLOW_BACKOFF_MS	200
#define WORKFLOW_BACKOFF_MAX_MS	30000
#define WORKFLOW_STEP_TIMEOUT_MS 30000
#define WORKFLOW_NAME_MAX	64

/* Loads a file. NULL when it has problems, each added to diag. */
struct workflow *workflow_load_file(const char *path, struct diag *);
/* Loads text; path is used for messages and as the base of script paths. */
struct workflow *workflow_load_text(const char *text, size_t len,
		    const char *path, struct diag *);
struct workflow *workflow_ref(struct workflow *);
void		 workflow_unref(struct workflow *);

const char	*workflow_name(const struct workflow *);
const char	*workflow_description(const struct workflow *); /* or NULL */
const char	*workflow_path(const struct workflow *);
const char	*workflow_dir(const struct workflow *);
const char	*workflow_text(const struct workflow *);	/* as loaded */
const char	*workflow_hash(const struct workflow *);	/* sha256 hex */
const json_t	*workflow_json(const struct workflow *);
const json_t	*workflow_input_schema(const struct workflow *); /* or NULL */
const json_t	*workflow_output_schema(const struct workflow *);/* or NULL */
const json_t	*workflow_trigger(const struct workflow *);	/* or NULL */
/* trigger.webhook.path, or NULL. */
const char	*workflow_hook_path(const struct workflow *);
/* The workflow of the list (other than wf) that has wf's webhook path,
 * or NULL: two files must not share a path. */
struct workflow	*workflow_hook_conflict(struct workflow **, size_t,
		    const struct workflow *);
const json_t	*workflow_allow(const struct workflow *);	/* or NULL */
int64_t		 workflow_timeout_ms(const struct workflow *);	/* 0: none */
int		 workflow_concurrency(const struct workflow *);	/* 0: none */
/* "retention" in ms: 0 when not set, WORKFLOW_FOREVER for "forever". */
int64_t		 workflow_retention_ms(const struct workflow *);
#define WORKFLOW_FOREVER	(-1)

size_t		 workflow_step_count(const struct workflow *);
const struct workflow_step *workflow_step_at(const struct workflow *, size_t);
/* Index of the step with that name, or -1. */
int		 workflow_step_index(const struct workflow *, const char *);
/* The on_failure handler, or NULL. Its name is "on_failure". */
const struct workflow_step *workflow_on_failure(const struct workflow *);

const char	*workflow_step_name(const struct workflow_step *);
const char	*workflow_step_uses(const struct workflow_step *);
const struct step_entry *workflow_step_entry(const struct workflow_step *);
const json_t	*workflow_step_json(const struct workflow_step *);
const json_t	*workflow_step_with(const struct workflow_step *); /* or NULL */
/* The step's retry and timeout, with the workflow's defaults applied. */
const struct retry_policy *workflow_step_retry(const struct workflow_step *);
int64_t		 workflow_step_timeout_ms(const struct workflow_step *);
/* Where the run goes once the step succeeds, unless the step itself chose
 * (a choice's rules, a lua step's second result): its "next" (or NULL),
 * or the end of the run when it "ends". */
const char	*workflow_step_next(const struct workflow_step *);
int		 workflow_step_ends(const struct workflow_step *);
/* Whether the step's success makes the run wait for a callback. */
int		 workflow_step_callback(const struct workflow_step *);
/*
 * Fan-out: a map's "steps" and each branch of a parallel step are
 * workflows of their own (named "WORKFLOW/STEP" and "WORKFLOW/STEP/BRANCH"),
 * part of their file's definition: same text, hash and retention, no
 * trigger, schema or limit of their own; a reference to one holds the
 * whole file's.
 */
size_t		 workflow_step_subs(const struct workflow_step *);
struct workflow	*workflow_step_sub(const struct workflow_step *, size_t);
const char	*workflow_step_branch(const struct workflow_step *, size_t);
struct workflow	*workflow_sub_find(struct workflow *, const char *name);
int		 workflow_is_sub(const struct workflow *);

/* Loads every *.json in a folder; a bad file is reported in diag and
 * skipped. Returns the count loaded, or -1 when the folder is unreadable.
 * Duplicate names and webhook paths are problems (the later file, in
 * name order, is skipped and both are named). */
int		 workflow_load_dir(const char *dir, struct workflow ***out,
		    struct diag *);
void		 workflow_list_free(struct workflow **, size_t);

#endif
