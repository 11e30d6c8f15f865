/*
 * Unit tests for the log's write buffer (walbuf.h), through SQLite: a
 * writer on the shim and a reader on SQLite's own VFS, as the store opens
 * them. Every commit is seen by the reader at once; transactions larger
 * than the buffer, spilling to the log and rolled back, leave the same
 * data as without the shim, also when another connection writes next;
 * the log is written in far fewer calls than
 * frames (counted by the kernel in /proc/self/io).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "walbuf.h"
#include "test.h"
#include "test-sqlite.h"

/* Opens the file with a VFS (NULL: SQLite's) in WAL mode, synced. */
static sqlite3 *
open_db(const char *vfs, int readonly)
{
	sqlite3 *db = NULL;
	int flags = readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	if (sqlite3_open_v2("w.db", &db, flags, vfs) != SQLITE_OK) {
		fprintf(stderr, "open: %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		return NULL;
	}
	if (!readonly && sqlite3_exec(db, "PRAGMA journal_mode = WAL; "
	    "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "pragma: %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

/* Runs SQL; 0 when it succeeded. */
static int
run(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		fprintf(stderr, "%s: %s\n", sql, msg != NULL ? msg : "?");
	sqlite3_free(msg);
	return rc == SQLITE_OK ? 0 : -1;
}

/* The write calls this process made so far, as the kernel counts them;
 * -1 without /proc/self/io. */
static long long
write_calls(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	long long n = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "syscw: %lld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* The shim's writer on a new table t; a page cache of cache_pages (0:
 * SQLite's default, 2 MB), a small one making SQLite spill to the log. */
static sqlite3 *
open_writer(int cache_pages)
{
	sqlite3 *db;
	char sql[96];

	if ((db = open_db(walbuf_vfs(), 0)) == NULL)
		return NULL;
	snprintf(sql, sizeof sql, "PRAGMA cache_size = %d; CREATE TABLE t "
	    "(id INTEGER PRIMARY KEY, b BLOB)",
	    cache_pages > 0 ? cache_pages : -2000);
	if (run(db, sql) != 0) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

/* Inserts rows rows of size bytes in one transaction (commit or not). */
static int
insert(sqlite3 *db, int rows, int size, int commit)
{
	char sql[160];

	snprintf(sql, sizeof sql, "BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 "
	    "UNION ALL SELECT i + 1 FROM c WHERE i < %d) INSERT INTO t (b) "
	    "SELECT randomblob(%d) FROM c; %s", rows, size,
	    commit ? "COMMIT" : "");
	return run(db, sql);
}

/* Each commit is in the file before the reader is told of it. */
static void
test_walbuf_reader_sees_commits(void)
{
	sqlite3 *w, *r;
	long long rows = 0;
	int i, n;

	REQUIRE(walbuf_vfs() != NULL);
	REQUIRE((w = open_writer(0)) != NULL);
	REQUIRE((r = open_db(NULL, 1)) != NULL);
	for (i = 1; i <= 200; i++) {
		/* From a page or two to more than the buffer holds (4 MiB). */
		n = i % 50 == 0 ? 1200 : 1 + i % 7;
		rows += n;
		CHECK(insert(w, n, 4000, 1) == 0);
		CHECK(test_sqlite_int(r, "SELECT count(*) FROM t") == rows);
	}
	/* The checkpoint reads the log back: what it copies is right. */
	CHECK(run(w, "PRAGMA wal_checkpoint(TRUNCATE)") == 0);
	CHECK(test_sqlite_int(r, "SELECT count(*) FROM t") == rows);
	sqlite3_close(r);
	sqlite3_close(w);
	REQUIRE((r = open_db(NULL, 0)) != NULL);
	CHECK(test_sqlite_int(r, "SELECT count(*) FROM t") == rows);
	CHECK(test_sqlite_int(r, "SELECT sum(length(b)) FROM t") ==
	    rows * 4000);
	CHECK(test_sqlite_int(r, "SELECT quick_check = 'ok' FROM "
	    "pragma_quick_check") == 1);
	sqlite3_close(r);
}

/* Rolled back spills and rewritten frames leave what SQLite would. */
static void
test_walbuf_rollback_and_spill(void)
{
	sqlite3 *w, *r;
	long long before;

	REQUIRE((w = open_writer(20)) != NULL);
	CHECK(insert(w, 50, 3000, 1) == 0);
	before = test_sqlite_int(w, "SELECT count(*) FROM t");
	/* Far more pages than the cache holds: they spill to the log. */
	CHECK(insert(w, 3000, 3000, 0) == 0);
	CHECK(run(w, "UPDATE t SET b = randomblob(2000) WHERE id % 3 = 0; "
	    "ROLLBACK") == 0);
	CHECK(test_sqlite_int(w, "SELECT count(*) FROM t") == before);
	/* The next transaction writes over the spilled frames. */
	CHECK(insert(w, 100, 3000, 1) == 0);
	CHECK(run(w, "BEGIN; UPDATE t SET b = zeroblob(10) WHERE id <= 20; "
	    "UPDATE t SET b = zeroblob(20) WHERE id <= 20; COMMIT") == 0);
	REQUIRE((r = open_db(NULL, 1)) != NULL);
	CHECK(test_sqlite_int(r, "SELECT count(*) FROM t") == before + 100);
	CHECK(test_sqlite_int(r, "SELECT sum(length(b)) FROM t WHERE "
	    "id <= 20") == 400);
	sqlite3_close(r);
	sqlite3_close(w);
	REQUIRE((r = open_db(NULL, 0)) != NULL);
	CHECK(test_sqlite_int(r, "SELECT count(*) FROM t") == before + 100);
	sqlite3_close(r);
}

/* Frames of a rolled back transaction never land over the frames the
 * next writer, on another connection, wrote at the same places. */
static void
test_walbuf_rollback_then_other_writer(void)
{
	sqlite3 *a, *b;
	long long rows;

	REQUIRE((a = open_writer(20)) != NULL);
	CHECK(insert(a, 10, 3000, 1) == 0);
	REQUIRE((b = open_db(NULL, 0)) != NULL);
	/* An empty log: rolling back, a reads nothing back from it. */
	CHECK(run(a, "PRAGMA wal_checkpoint(TRUNCATE)") == 0);
	/* a spills pages to the log, then gives up. */
	CHECK(insert(a, 400, 3000, 0) == 0);
	CHECK(run(a, "ROLLBACK") == 0);
	/* b writes its frames where a's spilled ones were. */
	CHECK(run(b, "BEGIN; UPDATE t SET b = zeroblob(7); COMMIT") == 0);
	CHECK(insert(b, 300, 1000, 1) == 0);
	/* a writes again, elsewhere in the log. */
	CHECK(insert(a, 5, 3000, 1) == 0);
	rows = 10 + 300 + 5;
	CHECK(test_sqlite_int(b, "SELECT count(*) FROM t") == rows);
	CHECK(test_sqlite_int(b, "SELECT sum(length(b)) FROM t") ==
	    10 * 7 + 300 * 1000 + 5 * 3000);
	CHECK(test_sqlite_int(b, "SELECT quick_check = 'ok' FROM "
	    "pragma_quick_check") == 1);
	sqlite3_close(a);
	sqlite3_close(b);
	REQUIRE((b = open_db(NULL, 0)) != NULL);
	CHECK(test_sqlite_int(b, "SELECT count(*) FROM t") == rows);
	CHECK(test_sqlite_int(b, "SELECT sum(length(b)) FROM t") ==
	    10 * 7 + 300 * 1000 + 5 * 3000);
	sqlite3_close(b);
}

/* A commit of many pages is a handful of write calls, not two a page. */
static void
test_walbuf_fewer_writes(void)
{
	sqlite3 *w, *plain;
	long long n0, with, without;

	if (write_calls() < 0) {
		printf("skip: no /proc/self/io\n");
		return;
	}
	REQUIRE((w = open_writer(0)) != NULL);
	n0 = write_calls();
	CHECK(insert(w, 200, 3000, 1) == 0);	/* about 200 pages */
	with = write_calls() - n0;
	sqlite3_close(w);
	REQUIRE((plain = open_db(NULL, 0)) != NULL);
	n0 = write_calls();
	CHECK(insert(plain, 200, 3000, 1) == 0);
	without = write_calls() - n0;
	sqlite3_close(plain);
	printf("write calls for one commit of 200 rows: %lld with the "
	    "buffer, %lld without\n", with, without);
	CHECK(without >= 200);
	CHECK(with > 0 && with * 10 < without);
}

int
main(void)
{
	TEST_RUN(test_walbuf_reader_sees_commits);
	TEST_RUN(test_walbuf_rollback_and_spill);
	TEST_RUN(test_walbuf_rollback_then_other_writer);
	TEST_RUN(test_walbuf_fewer_writes);
	TEST_DONE();
}
