/*
 * What unit tests that open an SQLite file of their own share: one
 * integer from a query.
 */
#ifndef TEST_SQLITE_H
#define TEST_SQLITE_H

#include <sqlite3.h>

/* The first column of the first row sql returns on db; -1 when it
 * fails or returns none. */
static inline long long
test_sqlite_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt	*st;
	long long	 v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

#endif
