/*
 * Runs, their finished steps and their transitions as JSON: one shape for
 * the command line (runs --json, show --json) and the HTTP API.
 */
#ifndef RUNJSON_H
#define RUNJSON_H

#include <jansson.h>

#include "orchestrator.h"
#include "store.h"

/* A run as one object, with its input and output. */
json_t	*runjson_run(const struct run_rec *);
/* A finished step visit. */
json_t	*runjson_step(const struct step_rec *);
/* One transition of a run's timeline. */
json_t	*runjson_transition(const struct transition_rec *);
/* One line of a run's log. */
json_t	*runjson_log(const struct log_rec *);
/* A run's log lines after the line after_id (0: all), as an array; NULL
 * and err when the read fails. */
json_t	*runjson_logs(struct store *, const char *run_id, int64_t after_id,
	    struct orc_error *);
/* Why a queued or retrying run waits (a new string value), else null;
 * transitions is the run's timeline as runjson_show lists it. */
json_t	*runjson_waiting(const struct run_rec *, const json_t *transitions);
/* The progress of a run's map and parallel steps, read from the store:
 * {STEP: {"total", "succeeded", "failed", "cancelled", "running"}}; NULL
 * and err when the read fails. */
json_t	*runjson_items(struct store *, const char *run_id, struct orc_error *);
/* The run's fan-out steps counted in *n, and *step (a new string) its only
 * one, else NULL: for "item N" without a step. -1 and err when the read
 * fails. */
int	 runjson_only_step(struct store *, const char *run_id, char **step,
	    size_t *n, struct orc_error *);
/* The run with "steps", "transitions", "logs", "items" (runjson_items),
 * "children" (the first RUNJSON_CHILDREN of each step counted in items:
 * {"step", "item", "id", "state"}) and "parent" (a child's: {"run",
 * "step", "seq", "depth"} and a map item's "item", else null) read from
 * the store; NULL and err when a read fails. */
#define RUNJSON_CHILDREN	10
json_t	*runjson_show(struct store *, const struct run_rec *,
	    struct orc_error *);

/* A cron schedule's row, as `schedules --json` prints it and GET
 * /schedules answers it; and back (-1 when it is not one). */
json_t	*runjson_schedule(const struct schedule_rec *);
int	 runjson_schedule_rec(const json_t *, struct schedule_rec *);

#endif
