/*
 * The store's write path on its own (`make bench`): the changes a run of
 * the background-task example makes (created, then one change per step:
 * the run's new position, the finished step with its output, the
 * transition), submitted in grouped commits of BENCH_BATCH runs, as the
 * server does, on a SQLite file with synchronous=FULL. Prints the
 * microseconds of the loop's thread per run and the runs per second the
 * store alone allows, twice: with a commit per visit (each change of a
 * run in its own transaction), then with a commit per batch of whole runs
 * (a run's changes together, its row written once). No target: it shows
 * what a change to the write path costs. BENCH_RUNS runs (default
 * 20,000) each time; the files go to temp dirs (BENCH_DIR, else $TMPDIR
 * or /tmp), removed at the end.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "id.h"
#include "log.h"
#include "store.h"

#define BENCH_STEPS	6
#define BENCH_BATCH	64

static const char *const bench_step_names[BENCH_STEPS] = {
	"decode", "lookup", "process", "encode", "store", "notify"
};

/* One run as the bench drives it. */
struct bench_run {
	struct run_rec		rec;
	struct step_rec		step;
	struct transition_rec	tr;
};

/* Seconds of CPU this process has used. */
static double
bench_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds on the monotonic clock. */
static double
bench_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A new run, as a webhook creates it. */
static void
bench_run_init(struct bench_run *b)
{
	memset(b, 0, sizeof *b);
	id_new(b->rec.id);
	b->rec.workflow = strdup("background-task");
	b->rec.def_hash = strdup("0123456789abcdef");
	b->rec.state = RUN_RUNNING;
	b->rec.seq = 1;
	b->rec.step = strdup(bench_step_names[0]);
	b->rec.input = json_pack("{s:s, s:s, s:s, s:[{s:s, s:i, s:i}, "
	    "{s:s, s:i, s:i}]}", "order", "A-1", "customer", "acme",
	    "callback", "http://127.0.0.1:9100/callback", "items",
	    "sku", "widget", "qty", 3, "price_cents", 1250,
	    "sku", "gadget", "qty", 1, "price_cents", 4999);
	b->rec.trigger = json_pack("{s:s}", "source", "webhook");
	b->rec.created_at = b->rec.updated_at = orc_now_ms();
	memcpy(b->step.run_id, b->rec.id, sizeof b->rec.id);
	memcpy(b->tr.run_id, b->rec.id, sizeof b->rec.id);
}

/* The change of visit k (0: created; k: step k finished). */
static void
bench_change(struct bench_run *b, int k, struct store_change *ch)
{
	memset(ch, 0, sizeof *ch);
	ch->run = &b->rec;
	ch->transition = &b->tr;
	b->tr.at = orc_now_ms();
	b->tr.seq = k;
	b->tr.attempt = 1;
	if (k == 0) {
		ch->flags = STORE_RUN_INSERT;
		b->tr.from_state = -1;
		b->tr.to_state = RUN_RUNNING;
		b->tr.event = "created";
		return;
	}
	json_decref(b->step.output);
	b->step.seq = k;
	b->step.name = (char *)bench_step_names[k - 1];
	b->step.attempts = 1;
	b->step.output = json_pack("{s:s, s:i, s:s}", "order", "A-1",
	    "total_cents", 7875, "customer", "acme");
	b->step.started_at = b->step.finished_at = b->tr.at;
	ch->step = &b->step;
	b->tr.from_state = RUN_RUNNING;
	b->tr.event = "step_succeeded";
	b->tr.step = (char *)bench_step_names[k - 1];
	b->rec.updated_at = b->tr.at;
	free(b->rec.step);
	b->rec.step = NULL;
	b->rec.seq = k + 1;
	if (k < BENCH_STEPS) {
		b->rec.step = strdup(bench_step_names[k]);
		b->tr.to_state = RUN_RUNNING;
		return;
	}
	b->rec.state = b->tr.to_state = RUN_SUCCEEDED;
	b->rec.finished_at = b->tr.at;
	b->rec.output = json_incref(b->step.output);
}

/* Drives one batch of runs through every visit, a commit per visit or
 * (per_visit 0) one for the whole batch. */
static int
bench_batch(struct store *st, struct bench_run *runs, int n, int per_visit)
{
	struct store_change	ch;
	struct orc_error	err;
	int			i, k;

	for (i = 0; i < n; i++)
		bench_run_init(&runs[i]);
	for (k = 0; k <= BENCH_STEPS; k++) {
		for (i = 0; i < n; i++) {
			bench_change(&runs[i], k, &ch);
			store_submit(st, &ch);
		}
		if ((per_visit || k == BENCH_STEPS) &&
		    store_flush(st, &err) == -1) {
			fprintf(stderr, "bench-store: %s\n", err.message);
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		run_rec_clear(&runs[i].rec);
		json_decref(runs[i].step.output);
	}
	return 0;
}

/* Runs n runs through a new store in a temp dir under tmp and prints what
 * they cost; -1 on failure. */
static int
bench_pass(const char *tmp, long n, int per_visit)
{
	static struct bench_run	 runs[BENCH_BATCH];
	struct orc_error	 err;
	struct store		*st;
	char			 dir[512], db[600];
	long			 done;
	double			 cpu0, wall0, cpu, wall;

	snprintf(dir, sizeof dir, "%s/orc-bench-store-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("bench-store: mkdtemp");
		return -1;
	}
	snprintf(db, sizeof db, "%s/orch.db", dir);
	if ((st = store_open(db, 0, NULL, &err)) == NULL) {
		fprintf(stderr, "bench-store: %s\n", err.message);
		return -1;
	}
	cpu0 = bench_cpu();
	wall0 = bench_wall();
	for (done = 0; done < n; done += BENCH_BATCH)
		if (bench_batch(st, runs, BENCH_BATCH, per_visit) == -1)
			break;
	cpu = bench_cpu() - cpu0;
	wall = bench_wall() - wall0;
	store_close(st);
	unlink(db);
	snprintf(db, sizeof db, "%s/orch.db-wal", dir);
	unlink(db);
	snprintf(db, sizeof db, "%s/orch.db-shm", dir);
	unlink(db);
	rmdir(dir);
	printf("bench-store: %ld runs of %d steps, batches of %d, %s: "
	    "%.1f us CPU per run, %.0f runs/s (wall, fsync included)\n",
	    done, BENCH_STEPS, BENCH_BATCH, per_visit ? "a commit per visit" :
	    "a commit per batch", cpu * 1e6 / (double)done,
	    (double)done / wall);
	return done < n ? -1 : 0;
}

int
main(void)
{
	const char	*tmp;
	long		 n;

	log_set_level(LOG_WARN);
	n = getenv("BENCH_RUNS") ? atol(getenv("BENCH_RUNS")) : 20000;
	tmp = getenv("BENCH_DIR") ? getenv("BENCH_DIR") :
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	if (bench_pass(tmp, n, 1) != 0 || bench_pass(tmp, n, 0) != 0)
		return 1;
	return 0;
}
