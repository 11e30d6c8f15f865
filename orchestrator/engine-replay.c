/*
 * Replay without side effects (orchestrator replay, engine_config.replay):
 * a step that would reach outside the run, an http.request or a bucket
 * step on an S3 bucket, does not run. It answers with the output the
 * replayed run recorded for a step of that name, or fails (for good)
 * saying that none was recorded and how to call it for real (--live).
 * Local buckets are written to the replay's own folder, and a script's
 * ctx.fetch finds no client, so it is refused.
 */
#include "config.h"

#include <string.h>

#include "bucket.h"
#include "engine-internal.h"
#include "steps.h"

/* Answers with the recorded output, kept in "with". */
static enum step_status
engine_replay_recorded(struct step_call *call)
{
	json_t *out = json_object_get(step_call_with(call), "output");

	step_call_succeed(call, out != NULL ? json_incref(out) : json_null());
	return STEP_DONE;
}

/* Fails: nothing was recorded for this step. */
static enum step_status
engine_replay_missing(struct step_call *call)
{
	step_call_fail(call, 0, "replay: step %s reaches outside (%s) and the "
	    "replayed run has no output recorded for it; replay --live calls "
	    "it for real", step_call_step_name(call), json_string_value(
	    json_object_get(step_call_with(call), "uses")));
	return STEP_DONE;
}

static const struct step_entry engine_replay_recorded_entry = {
	.name = "replay.recorded",
	.summary = "a step replayed from its recorded output",
	.start = engine_replay_recorded,
	.pure = 1
};

static const struct step_entry engine_replay_missing_entry = {
	.name = "replay.missing",
	.summary = "a step replay cannot run without side effects",
	.start = engine_replay_missing,
	.pure = 1
};

/* Whether an attempt would reach outside the run. */
static int
engine_replay_outward(const struct step_call_params *p)
{
	const char *bucket;

	if (p->entry == &step_http_request_entry)
		return 1;
	if (p->entry != &step_bucket_put_entry &&
	    p->entry != &step_bucket_get_entry)
		return 0;
	bucket = json_string_value(json_object_get(p->with, "bucket"));
	return bucket != NULL && bucket_is_s3(bucket);
}

/* Swaps an outward step for its recorded output (or for a failure); the
 * "with" returned (or NULL) is the caller's to free once the call is
 * made. */
json_t *
engine_replay_step(const json_t *recorded, struct step_call_params *p)
{
	const json_t *out;
	json_t *with;

	if (!engine_replay_outward(p))
		return NULL;
	if ((out = json_object_get(recorded, p->step_name)) != NULL) {
		with = json_pack("{sO}", "output", out);
		p->entry = &engine_replay_recorded_entry;
	} else {
		with = json_pack("{ss}", "uses", p->entry->name);
		p->entry = &engine_replay_missing_entry;
	}
	p->with = with;
	return with;
}
