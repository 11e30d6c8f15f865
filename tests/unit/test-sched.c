/*
 * Tests of the scheduler: the plan of a wake-up (catch-up none, one and
 * all, the grace of an on-time fire), the test clock, the schedules rows
 * of the store, and the scheduler on a real engine and store: a fire
 * starts a run with the cron trigger, a restart at the same clock does not
 * fire again, overlap skip counts a skip, a changed expression is
 * rescheduled.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cron.h"
#include "diag.h"
#include "engine.h"
#include "scheduler.h"
#include "store.h"
#include "strbuf.h"
#include "test.h"
#include "workflow.h"

/* 2030-01-01T00:00:00Z */
#define T0	1893456000000LL
#define MIN	60000LL

/* Writes the test clock. */
static void
set_clock(int64_t ms)
{
	FILE *f = fopen("clock", "w");

	fprintf(f, "%lld\n", (long long)ms);
	fclose(f);
}

/* A wake-up before, at and well after a fire. */
static void
test_sched_plan_due(void)
{
	struct orc_error err;
	struct sched_plan p;
	struct cron *c = cron_parse("*/5 * * * *", NULL, &err);

	REQUIRE(c != NULL);
	/* Not due yet. */
	sched_plan(c, SCHED_CATCH_NONE, T0 + 5 * MIN, T0 + 4 * MIN, &p);
	CHECK(p.due == 0 && p.nfire == 0 && p.next_at == T0 + 5 * MIN);
	/* On time: one fire, the next one planned. */
	sched_plan(c, SCHED_CATCH_NONE, T0 + 5 * MIN, T0 + 5 * MIN + 20, &p);
	CHECK(p.due == 1 && p.nfire == 1 && p.skipped == 0);
	CHECK(p.fire[0] == T0 + 5 * MIN);
	CHECK(p.next_at == T0 + 10 * MIN);
	/* Late beyond the grace: missed, none starts nothing. */
	sched_plan(c, SCHED_CATCH_NONE, T0 + 5 * MIN, T0 + 7 * MIN, &p);
	CHECK(p.due == 1 && p.nfire == 0 && p.skipped == 1);
	CHECK(p.next_at == T0 + 10 * MIN);
	cron_free(c);
}

/* Catch-up none, one and all, and the bound. */
static void
test_sched_plan_catch_up(void)
{
	struct orc_error err;
	struct sched_plan p;
	struct cron *c = cron_parse("* * * * *", NULL, &err);
	int i;

	REQUIRE(c != NULL);
	/* Down from 00:01 to 00:10:30: fires 00:01 .. 00:10, ten of them;
	 * 00:10 is on time. */
	sched_plan(c, SCHED_CATCH_NONE, T0 + MIN, T0 + 10 * MIN + 30000, &p);
	CHECK(p.due == 10);
	CHECK(p.nfire == 1 && p.fire[0] == T0 + 10 * MIN);
	CHECK(p.skipped == 9);
	CHECK(p.next_at == T0 + 11 * MIN);
	sched_plan(c, SCHED_CATCH_ONE, T0 + MIN, T0 + 10 * MIN + 30000, &p);
	CHECK(p.due == 10 && p.nfire == 1 && p.skipped == 0);
	CHECK(p.fire[0] == T0 + 10 * MIN);
	sched_plan(c, SCHED_CATCH_ALL, T0 + MIN, T0 + 10 * MIN + 30000, &p);
	CHECK(p.due == 10 && p.nfire == 10 && p.skipped == 0);
	for (i = 0; i < 10; i++)
		CHECK(p.fire[i] == T0 + (i + 1) * MIN);
	/* A day down: all is bounded to the latest SCHED_CATCH_UP_MAX. */
	sched_plan(c, SCHED_CATCH_ALL, T0 + MIN, T0 + 1440 * MIN, &p);
	CHECK(p.due == 1440);
	CHECK(p.nfire == SCHED_CATCH_UP_MAX);
	CHECK(p.skipped == 1440 - SCHED_CATCH_UP_MAX);
	CHECK(p.fire[0] == T0 + (1440 - SCHED_CATCH_UP_MAX + 1) * MIN);
	CHECK(p.fire[SCHED_CATCH_UP_MAX - 1] == T0 + 1440 * MIN);
	for (i = 1; i < SCHED_CATCH_UP_MAX; i++)
		CHECK(p.fire[i] - p.fire[i - 1] == MIN);
	/* Missed ones only, none on time: "one" still starts one run. */
	sched_plan(c, SCHED_CATCH_ONE, T0 + MIN, T0 + 3 * MIN + 50000, &p);
	CHECK(p.due == 3 && p.nfire == 1 && p.fire[0] == T0 + 3 * MIN);
	sched_plan(c, SCHED_CATCH_NONE, T0 + MIN, T0 + 5 * MIN - 1, &p);
	CHECK(p.due == 4 && p.nfire == 1 && p.skipped == 3);
	cron_free(c);
}

/* The test clock file. */
static void
test_sched_clock(void)
{
	int64_t last = 0;
	FILE *f;

	CHECK(llabs(sched_now(NULL, &last) - orc_now_ms()) < 1000);
	set_clock(T0 + 1234);
	CHECK(sched_now("clock", &last) == T0 + 1234);
	set_clock(T0 + 5678);
	CHECK(sched_now("clock", &last) == T0 + 5678);
	/* Half written or garbage: the last good value stays. */
	f = fopen("clock", "w");
	fputs("12ab", f);
	fclose(f);
	CHECK(sched_now("clock", &last) == T0 + 5678);
	remove("clock");
	CHECK(sched_now("clock", &last) == T0 + 5678);
	/* Before any good value: the wall clock. */
	last = 0;
	CHECK(llabs(sched_now("clock", &last) - orc_now_ms()) < 1000);
}

/* Collects schedule rows. */
static int
rows_cb(const struct schedule_rec *r, void *arg)
{
	struct strbuf *sb = arg;

	strbuf_printf(sb, "%s|%s|%s|%lld|%lld|%s|%lld|%lld\n", r->workflow,
	    r->schedule, r->timezone ? r->timezone : "-",
	    (long long)r->next_at, (long long)r->last_fire_at,
	    r->last_run_id ? r->last_run_id : "-", (long long)r->fired,
	    (long long)r->skipped);
	return 0;
}

/* Schedule rows: queued, committed, replaced, listed, as metrics. */
static void
test_sched_store_rows(void)
{
	struct orc_error err;
	struct schedule_rec r, got;
	struct strbuf sb = STRBUF_INIT;
	struct store *st;

	st = store_open("s.db", 0, NULL, &err);
	REQUIRE(st != NULL);
	memset(&r, 0, sizeof r);
	r.workflow = "nightly";
	r.schedule = "0 3 * * *";
	r.timezone = "Europe/Paris";
	r.next_at = T0;
	r.fired = 2;
	r.skipped = 1;
	store_put_schedule(st, &r);
	/* Queued, not committed yet. */
	CHECK(store_get_schedule(st, "nightly", &got, &err) == 0);
	REQUIRE(store_flush(st, &err) == 0);
	r.workflow = "hourly";
	r.schedule = "@hourly";
	r.timezone = NULL;
	r.last_run_id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
	store_put_schedule(st, &r);
	r.workflow = "nightly";
	r.schedule = "0 4 * * *";
	r.timezone = "Europe/Paris";
	r.last_run_id = NULL;
	r.skipped = 7;
	store_put_schedule(st, &r);
	store_close(st);	/* commits */

	st = store_open("s.db", STORE_READONLY, NULL, &err);
	REQUIRE(st != NULL);
	CHECK(store_list_schedules(st, rows_cb, &sb, &err) == 0);
	strbuf_addc(&sb, '\0');
	CHECK_STR(sb.s, "hourly|@hourly|-|1893456000000|0|"
	    "01ARZ3NDEKTSV4RRFFQ69G5FAV|2|1\n"
	    "nightly|0 4 * * *|Europe/Paris|1893456000000|0|-|2|7\n");
	CHECK(store_get_schedule(st, "nightly", &got, &err) == 1);
	CHECK_STR(got.schedule, "0 4 * * *");
	CHECK(got.skipped == 7);
	schedule_rec_clear(&got);
	CHECK(store_get_schedule(st, "weekly", &got, &err) == 0);
	strbuf_free(&sb);
	sched_metrics(st, &sb);
	strbuf_addc(&sb, '\0');
	CHECK_CONTAINS(sb.s, "# TYPE orchestrator_schedule_skipped_total "
	    "counter\n");
	CHECK_CONTAINS(sb.s, "orchestrator_schedule_skipped_total"
	    "{workflow=\"nightly\"} 7\n");
	CHECK_CONTAINS(sb.s, "orchestrator_schedule_fired_total"
	    "{workflow=\"hourly\"} 2\n");
	strbuf_free(&sb);
	store_close(st);
}

/* A loop, a store and an engine, as serve has them. */
struct rig {
	struct event_base	*base;
	struct store		*store;
	struct engine		*engine;
	struct sched		*sched;
	struct workflow		*wf;
};

/* A workflow with a cron trigger and one long wait step. */
static struct workflow *
cron_workflow(const char *cron)
{
	struct diag *d = diag_create();
	struct workflow *wf;
	char *text;

	text = xasprintf("{\"name\": \"tick\", \"trigger\": {\"cron\": %s}, "
	    "\"steps\": [{\"name\": \"w\", \"uses\": \"wait\", "
	    "\"with\": {\"ms\": 600000}}]}", cron);
	wf = workflow_load_text(text, strlen(text), "tick.json", d);
	if (wf == NULL && diag_count(d) > 0)
		fprintf(stderr, "%s\n", diag_at(d, 0));
	diag_free(d);
	free(text);
	return wf;
}

/* Opens the rig on s.db with the cron trigger given. */
static void
rig_open(struct rig *rg, const char *cron)
{
	struct engine_config ec;
	struct orc_error err;

	memset(rg, 0, sizeof *rg);
	memset(&ec, 0, sizeof ec);
	ec.buckets_dir = ".";
	rg->base = event_base_new();
	rg->store = store_open("s.db", 0, rg->base, &err);
	if (rg->store == NULL)
		fprintf(stderr, "%s\n", err.message);
	rg->engine = engine_create(rg->base, rg->store, &ec);
	rg->sched = sched_create(rg->base, rg->engine, rg->store, "clock");
	rg->wf = cron_workflow(cron);
}

/* Closes it, leaving unfinished runs in the store. */
static void
rig_close(struct rig *rg)
{
	struct orc_error err;

	sched_free(rg->sched);
	store_flush(rg->store, &err);
	engine_free(rg->engine);
	store_close(rg->store);
	workflow_unref(rg->wf);
	event_base_free(rg->base);
}

/* The persisted row of "tick". */
static void
tick_row(struct rig *rg, struct schedule_rec *r)
{
	struct orc_error err;

	REQUIRE(store_flush(rg->store, &err) == 0);
	memset(r, 0, sizeof *r);
	REQUIRE(store_get_schedule(rg->store, "tick", r, &err) == 1);
}

/* Counts runs and remembers the last one's trigger. */
static int
count_runs_cb(const struct run_rec *r, void *arg)
{
	int *n = arg;

	CHECK_STR(json_string_value(json_object_get(r->trigger, "source")),
	    "cron");
	CHECK(json_integer_value(json_object_get(r->trigger,
	    "scheduled_at")) % MIN == 0);
	(*n)++;
	return 0;
}

/* The number of runs in the store. */
static int
run_count(struct rig *rg)
{
	struct run_filter f;
	struct orc_error err;
	int n = 0;

	memset(&f, 0, sizeof f);
	f.state = -1;
	store_flush(rg->store, &err);
	CHECK(store_list_runs(rg->store, &f, count_runs_cb, &n, &err) == 0);
	return n;
}

/* A fire, no second one after a restart, a reload. */
static void
test_sched_fire_restart(void)
{
	struct schedule_rec r;
	struct rig rg;

	set_clock(T0 + 30000);
	rig_open(&rg, "{\"schedule\": \"* * * * *\", \"overlap\": \"allow\"}");
	REQUIRE(rg.wf != NULL);
	sched_set_workflows(rg.sched, &rg.wf, 1);
	tick_row(&rg, &r);
	CHECK(r.next_at == T0 + MIN);
	CHECK(r.fired == 0 && r.skipped == 0);
	schedule_rec_clear(&r);
	CHECK(run_count(&rg) == 0);

	set_clock(T0 + MIN + 10);
	sched_tick(rg.sched);
	tick_row(&rg, &r);
	CHECK(r.fired == 1 && r.last_fire_at == T0 + MIN);
	CHECK(r.next_at == T0 + 2 * MIN);
	CHECK(r.last_run_id != NULL);
	schedule_rec_clear(&r);
	CHECK(run_count(&rg) == 1);
	/* Ticking again at the same time does nothing. */
	sched_tick(rg.sched);
	CHECK(run_count(&rg) == 1);
	rig_close(&rg);

	/* A restart at the same clock: no second fire. */
	rig_open(&rg, "{\"schedule\": \"* * * * *\", \"overlap\": \"allow\"}");
	sched_set_workflows(rg.sched, &rg.wf, 1);
	CHECK(run_count(&rg) == 1);
	tick_row(&rg, &r);
	CHECK(r.fired == 1 && r.next_at == T0 + 2 * MIN);
	schedule_rec_clear(&r);

	/* A changed expression is scheduled from now. */
	workflow_unref(rg.wf);
	rg.wf = cron_workflow("{\"schedule\": \"*/10 * * * *\"}");
	sched_set_workflows(rg.sched, &rg.wf, 1);
	tick_row(&rg, &r);
	CHECK(r.next_at == T0 + 10 * MIN);
	CHECK_STR(r.schedule, "*/10 * * * *");
	CHECK(r.fired == 1);
	schedule_rec_clear(&r);

	/* Losing the cron trigger leaves the row unscheduled. */
	sched_set_workflows(rg.sched, NULL, 0);
	tick_row(&rg, &r);
	CHECK(r.next_at == 0 && r.fired == 1);
	schedule_rec_clear(&r);
	rig_close(&rg);
}

/* Overlap skip, in this process and after a restart. */
static void
test_sched_overlap_skip(void)
{
	struct schedule_rec r;
	struct rig rg;

	set_clock(T0 + 30000);
	rig_open(&rg, "{\"schedule\": \"* * * * *\"}");
	REQUIRE(rg.wf != NULL);
	sched_set_workflows(rg.sched, &rg.wf, 1);
	set_clock(T0 + MIN);
	sched_tick(rg.sched);
	/* The run waits ten minutes: the next fire is skipped, even
	 * before the first run is committed. */
	set_clock(T0 + 2 * MIN);
	sched_tick(rg.sched);
	tick_row(&rg, &r);
	CHECK(r.fired == 1 && r.skipped == 1);
	schedule_rec_clear(&r);
	set_clock(T0 + 3 * MIN);
	sched_tick(rg.sched);
	tick_row(&rg, &r);
	CHECK(r.fired == 1 && r.skipped == 2);
	CHECK(r.next_at == T0 + 4 * MIN);
	schedule_rec_clear(&r);
	CHECK(run_count(&rg) == 1);
	rig_close(&rg);

	/* After a restart the unfinished run still counts as going. */
	set_clock(T0 + 4 * MIN);
	rig_open(&rg, "{\"schedule\": \"* * * * *\"}");
	sched_set_workflows(rg.sched, &rg.wf, 1);
	tick_row(&rg, &r);
	CHECK(r.fired == 1 && r.skipped == 3);
	schedule_rec_clear(&r);
	CHECK(run_count(&rg) == 1);
	rig_close(&rg);
}

/* Catch-up all across a restart. */
static void
test_sched_catch_up_restart(void)
{
	struct schedule_rec r;
	struct rig rg;

	set_clock(T0 + 30000);
	rig_open(&rg, "{\"schedule\": \"* * * * *\", \"catch_up\": \"all\", "
	    "\"overlap\": \"allow\"}");
	REQUIRE(rg.wf != NULL);
	sched_set_workflows(rg.sched, &rg.wf, 1);
	rig_close(&rg);
	/* Down for five fires (00:01 .. 00:05), back at 00:05:40. */
	set_clock(T0 + 5 * MIN + 40000);
	rig_open(&rg, "{\"schedule\": \"* * * * *\", \"catch_up\": \"all\", "
	    "\"overlap\": \"allow\"}");
	sched_set_workflows(rg.sched, &rg.wf, 1);
	tick_row(&rg, &r);
	CHECK(r.fired == 5 && r.skipped == 0);
	CHECK(r.last_fire_at == T0 + 5 * MIN);
	CHECK(r.next_at == T0 + 6 * MIN);
	schedule_rec_clear(&r);
	CHECK(run_count(&rg) == 5);
	rig_close(&rg);
}

int
main(void)
{
	TEST_RUN(test_sched_plan_due);
	TEST_RUN(test_sched_plan_catch_up);
	TEST_RUN(test_sched_clock);
	TEST_RUN(test_sched_store_rows);
	TEST_RUN(test_sched_fire_restart);
	TEST_RUN(test_sched_overlap_skip);
	TEST_RUN(test_sched_catch_up_restart);
	TEST_DONE();
}
