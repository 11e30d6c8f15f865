/*
 * The CPU floor of a W1 run on this machine, with none of our code
 * (`make bench`, issue 22). At 1,000 runs/s the daemon is idle most of the
 * time, and a run's CPU goes mostly to the kernel: a durable commit (the
 * log's write and fdatasync) and the wake-ups of threads handing the run
 * to each other. This program measures those two on their own, the way
 * the daemon does them: the loop wakes a second thread through an eventfd
 * and sleeps in epoll_wait until that thread wakes it back.
 *
 * 1. A commit: BEGIN IMMEDIATE, insert one row and update another in a
 *    table shaped like our runs, COMMIT, on a fresh SQLite file with the
 *    store's pragmas (WAL, synchronous=FULL), done on the second thread;
 *    paced at 1,000 and 2,000/s, unpaced, and paced with synchronous=OFF
 *    (no fdatasync) to see what the sync itself costs.
 * 2. A hand-off: the same round trip with no work, paced at 1,000, 2,000
 *    and 4,000/s and unpaced, then at 2,000/s with both threads pinned to
 *    one CPU and to two; and the paced loop's timer alone.
 * 3. The floor those imply for a run, for one and two commits per run.
 *
 * CPU is the process's (getrusage RUSAGE_SELF, user and system, every
 * thread) over a loop, divided by its operations; each loop runs in three
 * slices and the median slice counts, so that a burst of the machine's
 * other work in one of them does not. Pacing is on the absolute monotonic
 * clock; a loop that falls behind runs as fast as it can and says so in
 * its rate. Each loop is bounded in count and time.
 * The database goes to a temp dir under $TMPDIR or /tmp, removed at the
 * end.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define BENCH_UNPACED_MAX	10000000L	/* ops of an unpaced loop */
#define BENCH_SLICES		3		/* a loop in parts: a median */
#define BENCH_WAKE_WORK		1		/* eventfd values */
#define BENCH_WAKE_STOP		2
#define BENCH_WAKE_FAILED	3

/* The second thread and the eventfds between it and the loop. */
struct bench_peer {
	int		  req;		/* the loop wakes the peer */
	int		  done;		/* the peer wakes the loop */
	int		  ep;		/* the loop waits on it */
	int		(*work)(void *);
	void		 *arg;
	pthread_t	  thread;
};

/* What one loop did and cost. */
struct bench_result {
	long	n;
	double	wall, cpu, nvcsw;	/* seconds; switches */
};

/* The database and the statements of one commit. */
struct bench_db {
	sqlite3		*db;
	sqlite3_stmt	*begin, *insert, *update, *commit;
	long		 rows;
};

static const char bench_schema[] =
	"CREATE TABLE runs ("
	"  id TEXT PRIMARY KEY,"
	"  workflow TEXT,"
	"  state TEXT NOT NULL,"
	"  seq INTEGER NOT NULL DEFAULT 0,"
	"  input TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");"
	"CREATE INDEX runs_workflow ON runs (workflow, id);"
	"CREATE INDEX runs_state ON runs (state, id);"
	"CREATE INDEX runs_created ON runs (created_at);";

static const char bench_input[] =
	"{\"order\":\"A-1\",\"customer\":\"acme\",\"items\":["
	"{\"sku\":\"widget\",\"qty\":3,\"price_cents\":1250},"
	"{\"sku\":\"gadget\",\"qty\":1,\"price_cents\":4999}]}";

/* Seconds on the monotonic clock. */
static double
bench_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds of CPU, user and system, in a rusage. */
static double
bench_cpu(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
	    (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

/* Writes v to an eventfd; -1 on failure. */
static int
bench_signal(int fd, uint64_t v)
{
	return write(fd, &v, sizeof v) == sizeof v ? 0 : -1;
}

/* The peer: waits on req, does the work, wakes the loop, until told to
 * stop. */
static void *
bench_peer_main(void *arg)
{
	struct bench_peer	*p = arg;
	uint64_t		 v;

	while (read(p->req, &v, sizeof v) == sizeof v &&
	    v == BENCH_WAKE_WORK) {
		if (p->work != NULL && p->work(p->arg) == -1) {
			bench_signal(p->done, BENCH_WAKE_FAILED);
			break;
		}
		if (bench_signal(p->done, BENCH_WAKE_WORK) == -1)
			break;
	}
	return NULL;
}

/* Starts a peer that runs work(arg) per wake-up; -1 on failure. */
static int
bench_peer_start(struct bench_peer *p, int (*work)(void *), void *arg)
{
	struct epoll_event	ev;

	memset(p, 0, sizeof *p);
	p->work = work;
	p->arg = arg;
	p->req = eventfd(0, EFD_CLOEXEC);
	p->done = eventfd(0, EFD_CLOEXEC);
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	if (p->req == -1 || p->done == -1 || p->ep == -1 ||
	    epoll_ctl(p->ep, EPOLL_CTL_ADD, p->done, &ev) == -1 ||
	    pthread_create(&p->thread, NULL, bench_peer_main, p) != 0) {
		perror("bench-floor: peer");
		return -1;
	}
	return 0;
}

/* Stops a peer and closes its descriptors. */
static void
bench_peer_stop(struct bench_peer *p)
{
	bench_signal(p->req, BENCH_WAKE_STOP);
	pthread_join(p->thread, NULL);
	close(p->req);
	close(p->done);
	close(p->ep);
}

/* One round trip: wake the peer, sleep in epoll_wait until it answers
 * (or, with no peer, nothing); -1 if the peer's work failed. */
static int
bench_round_trip(struct bench_peer *p)
{
	struct epoll_event	ev;
	uint64_t		v;
	int			n;

	if (p == NULL)
		return 0;
	if (bench_signal(p->req, BENCH_WAKE_WORK) == -1)
		return -1;
	while ((n = epoll_wait(p->ep, &ev, 1, -1)) == -1 && errno == EINTR)
		continue;
	if (n != 1 || read(p->done, &v, sizeof v) != sizeof v)
		return -1;
	return v == BENCH_WAKE_WORK ? 0 : -1;
}

/* Round trips through p at rate per second (0: unpaced) for about secs
 * seconds, into r; -1 on failure. */
static int
bench_loop(struct bench_peer *p, double rate, double secs,
    struct bench_result *r)
{
	struct rusage	ru0, ru1;
	struct timespec	next;
	long		max, period_ns;
	double		t0, deadline;

	max = rate > 0 ? (long)(rate * secs) : BENCH_UNPACED_MAX;
	period_ns = rate > 0 ? (long)(1e9 / rate) : 0;
	memset(r, 0, sizeof *r);
	getrusage(RUSAGE_SELF, &ru0);
	clock_gettime(CLOCK_MONOTONIC, &next);
	t0 = bench_wall();
	/* A paced loop that falls behind still ends. */
	deadline = t0 + (rate > 0 ? secs * 1.5 : secs);
	for (; r->n < max && bench_wall() < deadline; r->n++) {
		if (period_ns > 0) {
			next.tv_nsec += period_ns;
			if (next.tv_nsec >= 1000000000L) {
				next.tv_sec++;
				next.tv_nsec -= 1000000000L;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
			    NULL);
		}
		if (bench_round_trip(p) == -1)
			return -1;
	}
	r->wall = bench_wall() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	r->cpu = bench_cpu(&ru1) - bench_cpu(&ru0);
	r->nvcsw = (double)(ru1.ru_nvcsw - ru0.ru_nvcsw);
	return 0;
}

/* Microseconds of CPU per operation of r. */
static double
bench_us(const struct bench_result *r)
{
	return r->n > 0 ? r->cpu * 1e6 / (double)r->n : 0;
}

/* Runs a loop in BENCH_SLICES slices of secs / BENCH_SLICES each, keeps
 * the median slice by CPU per operation in r and prints it with the
 * range; -1 on failure. */
static int
bench_report(const char *what, struct bench_peer *p, double rate,
    double secs, struct bench_result *r)
{
	struct bench_result	s[BENCH_SLICES], t;
	char			pace[32];
	int			i, j;

	for (i = 0; i < BENCH_SLICES; i++) {
		if (bench_loop(p, rate, secs / BENCH_SLICES, &s[i]) == -1) {
			fprintf(stderr, "bench-floor: %s failed\n", what);
			return -1;
		}
		for (j = i; j > 0 && bench_us(&s[j]) < bench_us(&s[j - 1]);
		    j--) {
			t = s[j];
			s[j] = s[j - 1];
			s[j - 1] = t;
		}
	}
	*r = s[BENCH_SLICES / 2];
	if (rate > 0)
		snprintf(pace, sizeof pace, "%.0f/s", rate);
	else
		snprintf(pace, sizeof pace, "unpaced");
	printf("  %-30s %-8s (%6.0f/s): %6.1f us CPU (%5.1f-%5.1f), "
	    "%.1f switches\n", what, pace, (double)r->n / r->wall,
	    bench_us(r), bench_us(&s[0]), bench_us(&s[BENCH_SLICES - 1]),
	    r->nvcsw / (double)r->n);
	return 0;
}

/* Steps a statement that returns no rows and resets it; -1 on failure. */
static int
bench_step(struct bench_db *b, sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	fprintf(stderr, "bench-floor: %s\n", sqlite3_errmsg(b->db));
	return -1;
}

/* One transaction: a new row in, the one before it updated; the peer's
 * work. */
static int
bench_commit(void *arg)
{
	struct bench_db	*b = arg;
	char		 id[32], prev[32];
	sqlite3_int64	 now = (sqlite3_int64)(bench_wall() * 1e3);

	snprintf(id, sizeof id, "run-%012ld", b->rows);
	snprintf(prev, sizeof prev, "run-%012ld", b->rows - 1);
	sqlite3_bind_text(b->insert, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(b->insert, 2, now);
	sqlite3_bind_text(b->insert, 3, bench_input, -1, SQLITE_STATIC);
	sqlite3_bind_int64(b->update, 1, now);
	sqlite3_bind_text(b->update, 2, prev, -1, SQLITE_TRANSIENT);
	if (bench_step(b, b->begin) == -1)
		return -1;
	if (bench_step(b, b->insert) == -1 || bench_step(b, b->update) == -1 ||
	    bench_step(b, b->commit) == -1) {
		sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	b->rows++;
	return 0;
}

/* Opens a fresh database at path with the store's pragmas and the
 * statements of a commit; -1 on failure. */
static int
bench_db_open(struct bench_db *b, const char *path)
{
	memset(b, 0, sizeof *b);
	if (sqlite3_open(path, &b->db) != SQLITE_OK ||
	    sqlite3_exec(b->db, "PRAGMA auto_vacuum = INCREMENTAL;"
	    "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(b->db, bench_schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "BEGIN IMMEDIATE", -1, &b->begin,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "INSERT INTO runs (id, workflow, "
	    "state, seq, input, created_at, updated_at) VALUES (?1, 'w1', "
	    "'running', 1, ?3, ?2, ?2)", -1, &b->insert,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "UPDATE runs SET state = 'succeeded', "
	    "seq = seq + 1, updated_at = ?1 WHERE id = ?2", -1, &b->update,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "COMMIT", -1, &b->commit,
	    NULL) != SQLITE_OK) {
		fprintf(stderr, "bench-floor: %s: %s\n", path,
		    sqlite3_errmsg(b->db));
		return -1;
	}
	return 0;
}

/* Closes the database and removes its files. */
static void
bench_db_close(struct bench_db *b, const char *path)
{
	char	 aux[640];

	sqlite3_finalize(b->begin);
	sqlite3_finalize(b->insert);
	sqlite3_finalize(b->update);
	sqlite3_finalize(b->commit);
	sqlite3_close(b->db);
	unlink(path);
	snprintf(aux, sizeof aux, "%s-wal", path);
	unlink(aux);
	snprintf(aux, sizeof aux, "%s-shm", path);
	unlink(aux);
}

/* Part 1: a durable commit on the second thread, then the same without the
 * sync; the one at 2,000/s into full. */
static int
bench_commits(const char *dir, struct bench_result *full)
{
	static const double	 rates[] = { 1000, 2000, 0 };
	static const double	 secs[] = { 3, 3, 2 };
	struct bench_result	 r;
	struct bench_peer	 p;
	struct bench_db		 b;
	char			 path[600];
	size_t			 i;
	int			 rc = -1;

	snprintf(path, sizeof path, "%s/floor.db", dir);
	if (bench_db_open(&b, path) == -1)
		goto out;
	if (bench_peer_start(&p, bench_commit, &b) == -1)
		goto out;
	printf("1. a commit (BEGIN IMMEDIATE, one insert, one update, "
	    "COMMIT) on a second thread,\n   woken and waited for through "
	    "eventfds, CPU per commit:\n");
	/* Unmeasured: the file's first pages and the statements' plans. */
	if (bench_loop(&p, 0, 0.2, &r) == -1)
		goto stop;
	for (i = 0; i < sizeof rates / sizeof rates[0]; i++) {
		if (bench_report("synchronous=FULL", &p, rates[i], secs[i],
		    &r) == -1)
			goto stop;
		if (rates[i] == 2000)
			*full = r;
	}
	if (sqlite3_exec(b.db, "PRAGMA synchronous = OFF", NULL, NULL,
	    NULL) != SQLITE_OK ||
	    bench_report("synchronous=OFF (no fdatasync)", &p, 1000, 3,
	    &r) == -1 ||
	    bench_report("synchronous=OFF (no fdatasync)", &p, 2000, 3,
	    &r) == -1)
		goto stop;
	rc = 0;
stop:
	bench_peer_stop(&p);
out:
	bench_db_close(&b, path);
	return rc;
}

/* Pins the loop to the first CPU of any and the peer to the same one or
 * (apart) the next; -1 if that cannot be done. */
static int
bench_pin(struct bench_peer *p, const cpu_set_t *any, int apart)
{
	cpu_set_t	one;
	int		cpu, first = -1, second = -1;

	for (cpu = 0; cpu < CPU_SETSIZE && second == -1; cpu++) {
		if (!CPU_ISSET(cpu, any))
			continue;
		if (first == -1)
			first = cpu;
		else
			second = cpu;
	}
	if (second == -1)
		return -1;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) != 0)
		return -1;
	CPU_ZERO(&one);
	CPU_SET(apart ? second : first, &one);
	return pthread_setaffinity_np(p->thread, sizeof one, &one) == 0 ?
	    0 : -1;
}

/* Round trips at 2,000/s with both threads on one CPU, then on two, the
 * latter into cross (left empty on one CPU); -1 on failure. */
static int
bench_pinned(struct bench_peer *p, struct bench_result *cross)
{
	struct bench_result	r;
	cpu_set_t		any;
	int			rc = 0;

	if (pthread_getaffinity_np(pthread_self(), sizeof any, &any) != 0)
		return 0;
	if (bench_pin(p, &any, 0) == 0)
		rc = bench_report("round trip, pinned to one CPU", p, 2000, 2,
		    &r);
	if (rc == 0 && bench_pin(p, &any, 1) == 0)
		rc = bench_report("round trip, pinned to two CPUs", p, 2000,
		    2, cross);
	pthread_setaffinity_np(pthread_self(), sizeof any, &any);
	return rc;
}

/* Part 2: round trips with no work, and the pacing timer alone; the ones
 * at 2,000/s into rt, cross (on two CPUs) and timer. */
static int
bench_handoffs(struct bench_result *rt, struct bench_result *cross,
    struct bench_result *timer)
{
	static const double	 rates[] = { 1000, 2000, 4000, 0 };
	struct bench_result	 r;
	struct bench_peer	 p;
	size_t			 i;
	int			 rc = -1;

	if (bench_peer_start(&p, NULL, NULL) == -1)
		return -1;
	printf("2. a hand-off: the same round trip with no work (two "
	    "wake-ups), CPU per round trip:\n");
	for (i = 0; i < sizeof rates / sizeof rates[0]; i++) {
		if (bench_report("round trip", &p, rates[i], 2, &r) == -1)
			goto out;
		if (rates[i] == 2000)
			*rt = r;
	}
	if (bench_pinned(&p, cross) == -1)
		goto out;
	rc = bench_report("the pacing timer alone", NULL, 2000, 2, timer);
out:
	bench_peer_stop(&p);
	return rc;
}

/* Part 3: the floor of a W1 run from the numbers at 2,000/s. */
static void
bench_floor(const struct bench_result *full, const struct bench_result *rt,
    const struct bench_result *cross, const struct bench_result *timer)
{
	double	commit, wake;
	int	n;

	/* Each paced loop pays the timer's wake-up, and the commit's its
	 * hand-off too: count each wake-up once. */
	commit = bench_us(full) - bench_us(rt);
	wake = (bench_us(rt) - bench_us(timer)) / 2;
	printf("3. the floor of a W1 run at 1,000 runs/s, from the loops at "
	    "2,000/s:\n"
	    "   commit  = FULL - round trip = %.1f - %.1f = %.1f us\n"
	    "   wake-up = (round trip - timer) / 2 = (%.1f - %.1f) / 2 = "
	    "%.1f us\n", bench_us(full), bench_us(rt), commit, bench_us(rt),
	    bench_us(timer), wake);
	for (n = 2; n >= 1; n--)
		printf("   %d commit%s + 6 wake-ups = %d * %.1f + 6 * %.1f = "
		    "%.3f ms per run\n", n, n > 1 ? "s" : "", n, commit, wake,
		    (n * commit + 6 * wake) / 1e3);
	printf("   (with the commit's hand-off counted twice: 2 * %.1f + "
	    "6 * %.1f = %.3f ms)\n", bench_us(full), wake,
	    (2 * bench_us(full) + 6 * wake) / 1e3);
	if (cross->n == 0)
		return;
	wake = (bench_us(cross) - bench_us(timer)) / 2;
	printf("   every wake-up across CPUs: (%.1f - %.1f) / 2 = %.1f us, "
	    "2 * %.1f + 6 * %.1f = %.3f ms\n", bench_us(cross),
	    bench_us(timer), wake, commit, wake, (2 * commit + 6 * wake) / 1e3);
}

/* Prints the first line of /proc/pressure/cpu, if there is one. */
static void
bench_pressure(void)
{
	char	 line[256];
	FILE	*f;

	if ((f = fopen("/proc/pressure/cpu", "r")) == NULL)
		return;
	if (fgets(line, sizeof line, f) != NULL)
		printf("bench-floor: cpu pressure before: %s", line);
	fclose(f);
}

int
main(void)
{
	struct bench_result	 full, rt, cross, timer;
	const char		*tmp;
	char			 dir[512];
	int			 rc;

	tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof dir, "%s/orc-bench-floor-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("bench-floor: mkdtemp");
		return 1;
	}
	memset(&full, 0, sizeof full);
	memset(&rt, 0, sizeof rt);
	memset(&cross, 0, sizeof cross);
	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_pressure();
	/* The kernel splits user from sys by sampling ticks, the sum is
	 * exact: print the sum. */
	printf("bench-floor: per operation, the median of %d slices "
	    "(lowest-highest): CPU\nfrom getrusage (user + sys, every "
	    "thread), voluntary context switches\n", BENCH_SLICES);
	rc = bench_commits(dir, &full) == -1 ||
	    bench_handoffs(&rt, &cross, &timer) == -1;
	rmdir(dir);
	if (rc)
		return 1;
	bench_floor(&full, &rt, &cross, &timer);
	return 0;
}
