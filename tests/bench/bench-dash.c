/*
 * The dashboard benchmark (`make bench`): seeds a store with a million
 * runs (BENCH_RUNS) in one SQL statement, the store's triggers keeping
 * its counters as the server's writes would, then times one dashboard
 * refresh (every query it makes: counters, the finished-runs window, the
 * failures, a page of runs) with no filter, with a state filter and with
 * a search, and `orchestrator dashboard --once` as a whole ($ORCH_BIN).
 * Targets: a refresh under 50 ms, --once under 200 ms (medians); it exits
 * 1 when one is missed. The database goes to a temp dir (BENCH_DIR, else
 * under $TMPDIR or /tmp), removed at the end.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include <sqlite3.h>

#include "dash.h"
#include "store.h"

#define BENCH_REPEAT		21
#define BENCH_ONCE_REPEAT	7
#define BENCH_REFRESH_MS	50.0
#define BENCH_ONCE_MS		200.0

/* Milliseconds on the monotonic clock. */
static double
bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Compares doubles for qsort. */
static int
bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Fills the runs table: the newest runs spread over the last minutes. */
static int
bench_seed(const char *db, long n)
{
	sqlite3	*h;
	char	*sql, *msg = NULL;
	int64_t	 now = orc_now_ms();
	int	 rc;

	if (sqlite3_open(db, &h) != SQLITE_OK)
		return -1;
	sqlite3_exec(h, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
	/* One run every 6 ms, the newest finished a moment ago: 100,000 in
	 * the last ten minutes, more than a refresh reads. 1 in 100 failed,
	 * the newest 300 still going. */
	sql = xasprintf("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL "
	    "SELECT i + 1 FROM n WHERE i < %ld) "
	    "INSERT INTO runs (id, workflow, def_hash, state, seq, step, "
	    "attempt, error, created_at, updated_at, finished_at) "
	    "SELECT printf('01B%%023d', i), 'workflow-' || (i %% 12), 'h', "
	    "CASE WHEN i >= %ld THEN (CASE i %% 3 WHEN 0 THEN 'queued' "
	    "WHEN 1 THEN 'running' ELSE 'retrying' END) "
	    "WHEN i %% 100 = 0 THEN 'failed' ELSE 'succeeded' END, 1, "
	    "CASE WHEN i >= %ld OR i %% 100 = 0 THEN 'step-' || (i %% 3) END, "
	    "1 + (i %% 100 = 0), "
	    "CASE WHEN i %% 100 = 0 THEN 'upstream answered 503 on attempt ' "
	    "|| i END, "
	    "%lld - (%ld - i) * 6, %lld - (%ld - i) * 6, "
	    "CASE WHEN i >= %ld THEN 0 ELSE %lld - (%ld - i) * 6 + 40 + "
	    "(i %% 37) * 9 END FROM n",
	    n - 1, n - 300, n - 300, (long long)now, n, (long long)now, n,
	    n - 300, (long long)now, n);
	rc = sqlite3_exec(h, sql, NULL, NULL, &msg);
	/* Rows written behind the store's back: count the finished ones
	 * as the store keeps them. */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, "DELETE FROM run_counts; INSERT INTO "
		    "run_counts SELECT workflow, state, count(*) FROM runs "
		    "WHERE state IN ('succeeded', 'failed', 'cancelled') "
		    "GROUP BY 1, 2", NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fprintf(stderr, "bench-dash: seeding: %s\n", msg);
	sqlite3_free(msg);
	free(sql);
	sqlite3_close(h);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Times dash_fetch() with a query; prints the median and the worst. */
static double
bench_refresh(struct dash_source *src, const char *what,
    const struct dash_query *q)
{
	struct dash_data	d;
	struct orc_error	err;
	double			t[BENCH_REPEAT], t0;
	int			i;
	size_t			rows = 0;

	for (i = 0; i < BENCH_REPEAT; i++) {
		t0 = bench_now_ms();
		if (dash_fetch(src, q, orc_now_ms(), &d, &err) != 0) {
			fprintf(stderr, "bench-dash: %s\n", err.message);
			exit(1);
		}
		t[i] = bench_now_ms() - t0;
		rows = d.nruns;
		dash_data_clear(&d);
	}
	qsort(t, BENCH_REPEAT, sizeof *t, bench_cmp);
	printf("refresh, %-28s %7.2f ms median, %7.2f ms worst (%zu rows)\n",
	    what, t[BENCH_REPEAT / 2], t[BENCH_REPEAT - 1], rows);
	return t[BENCH_REPEAT / 2];
}

/* Times `orchestrator dashboard --once --db db`. */
static double
bench_once(const char *bin, const char *db)
{
	double	t[BENCH_ONCE_REPEAT], t0;
	pid_t	pid;
	int	i, status, fd;

	for (i = 0; i < BENCH_ONCE_REPEAT; i++) {
		t0 = bench_now_ms();
		if ((pid = fork()) == 0) {
			fd = open("/dev/null", O_WRONLY);
			dup2(fd, 1);
			execl(bin, bin, "dashboard", "--once", "--db", db,
			    (char *)NULL);
			_exit(127);
		}
		waitpid(pid, &status, 0);
		t[i] = bench_now_ms() - t0;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "bench-dash: %s dashboard --once "
			    "failed\n", bin);
			exit(1);
		}
	}
	qsort(t, BENCH_ONCE_REPEAT, sizeof *t, bench_cmp);
	printf("dashboard --once                     %7.2f ms median, %7.2f "
	    "ms worst\n", t[BENCH_ONCE_REPEAT / 2], t[BENCH_ONCE_REPEAT - 1]);
	return t[BENCH_ONCE_REPEAT / 2];
}

int
main(void)
{
	const char		*bin = getenv("ORCH_BIN");
	const char		*runs = getenv("BENCH_RUNS");
	const char		*tmp = getenv("TMPDIR");
	struct dash_query	 q = { -1, NULL, NULL, 40, DASH_SORT_AGE, 0 };
	struct dash_source	*src;
	struct store		*st;
	struct orc_error	 err;
	char			*dir, *db, *p;
	double			 t0, worst = 0, t, once;
	long			 n = runs != NULL ? atol(runs) : 1000000;
	int			 fail = 0;

	if (n < 1000)
		n = 1000;
	dir = getenv("BENCH_DIR") != NULL ? xstrdup(getenv("BENCH_DIR")) :
	    xasprintf("%s/orc-bench-dash-XXXXXX", tmp != NULL ? tmp : "/tmp");
	if (getenv("BENCH_DIR") == NULL && mkdtemp(dir) == NULL) {
		perror("bench-dash: mkdtemp");
		return 1;
	}
	db = xasprintf("%s/bench.db", dir);
	/* The schema, as the server makes it. */
	if ((st = store_open(db, 0, NULL, &err)) == NULL) {
		fprintf(stderr, "bench-dash: %s\n", err.message);
		return 1;
	}
	store_close(st);
	t0 = bench_now_ms();
	if (bench_seed(db, n) != 0)
		return 1;
	printf("seeded %ld runs in %.1f s\n", n, (bench_now_ms() - t0) / 1000);

	if ((src = dash_source_open(db, NULL, &err)) == NULL) {
		fprintf(stderr, "bench-dash: %s\n", err.message);
		return 1;
	}
	t = bench_refresh(src, "no filter", &q);
	worst = t > worst ? t : worst;
	q.state = RUN_FAILED;
	t = bench_refresh(src, "state=failed", &q);
	worst = t > worst ? t : worst;
	q.state = -1;
	q.workflow = "workflow-7";
	t = bench_refresh(src, "workflow=workflow-7", &q);
	worst = t > worst ? t : worst;
	q.workflow = NULL;
	q.search = "attempt 99";
	t = bench_refresh(src, "search error text", &q);
	worst = t > worst ? t : worst;
	q.search = "01B0000000000000000009";
	t = bench_refresh(src, "search id prefix", &q);
	worst = t > worst ? t : worst;
	dash_source_close(src);
	if (worst >= BENCH_REFRESH_MS) {
		printf("SLOW: a refresh took %.1f ms (target %.0f ms)\n", worst,
		    BENCH_REFRESH_MS);
		fail = 1;
	}
	if (bin != NULL) {
		once = bench_once(bin, db);
		if (once >= BENCH_ONCE_MS) {
			printf("SLOW: --once took %.1f ms (target %.0f ms)\n",
			    once, BENCH_ONCE_MS);
			fail = 1;
		}
	} else
		printf("dashboard --once: not timed (ORCH_BIN unset)\n");
	printf("%s\n", fail ? "dashboard bench: target missed" :
	    "dashboard bench: ok");

	/* The database and its WAL go; a BENCH_DIR given stays. */
	unlink(db);
	p = xasprintf("%s-wal", db);
	unlink(p);
	free(p);
	p = xasprintf("%s-shm", db);
	unlink(p);
	free(p);
	if (getenv("BENCH_DIR") == NULL)
		rmdir(dir);
	free(db);
	free(dir);
	return fail;
}
