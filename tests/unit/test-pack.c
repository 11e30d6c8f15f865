/*
 * Tests of the packed JSON columns (store-pack.h) on a connection of our
 * own: values deflated against the first value of their workflow and
 * field, read back equal by another connection; what stays text; a
 * dictionary undone by a rollback; damaged values refused by name.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store-pack.h"
#include "test.h"
#include "test-sqlite.h"

#define DB	"p.db"

/* A step output of the shape the runs of one workflow repeat. */
static char *
order_json(int n)
{
	return xasprintf("{\"order\":\"A-%d\",\"customer\":\"acme-%d\","
	    "\"items\":[{\"sku\":\"widget\",\"qty\":%d,\"price_cents\":1250},"
	    "{\"sku\":\"gadget\",\"qty\":1,\"price_cents\":4999}],"
	    "\"total_cents\":%d}", n, n % 7, n % 5 + 1, 1250 * (n % 5 + 1) +
	    4999);
}

/* The database, with the dictionaries and a table of values when
 * create is set. */
static sqlite3 *
open_db(int create)
{
	sqlite3 *db;

	if (sqlite3_open(DB, &db) != SQLITE_OK)
		return NULL;
	if (create && sqlite3_exec(db, PACK_SCHEMA "CREATE TABLE v "
	    "(n INTEGER PRIMARY KEY, value);", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

/* Writes text (copied) as row n through pack_bind; 0 on success. */
static int
put(struct pack *p, sqlite3 *db, int n, const char *field, const char *text)
{
	struct orc_error	 err;
	sqlite3_stmt		*st;
	int			 rc;

	if (sqlite3_prepare_v2(db, "INSERT INTO v VALUES (?1, ?2)", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int(st, 1, n);
	rc = pack_bind(p, db, DB, st, 2, "wf", field, xstrdup(text),
	    strlen(text), &err);
	if (rc == 0 && sqlite3_step(st) != SQLITE_DONE)
		rc = -1;
	sqlite3_finalize(st);
	return rc;
}

/* Row n's value read back through pack_unpack when packed (a new
 * string), its bytes as stored in *stored; NULL with err filled. */
static char *
get(struct pack *p, sqlite3 *db, int n, size_t *stored,
    struct orc_error *err)
{
	sqlite3_stmt	*st;
	const void	*v;
	size_t		 vlen, len;
	char		*text = NULL;

	if (sqlite3_prepare_v2(db, "SELECT value FROM v WHERE n = ?1", -1,
	    &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_int(st, 1, n);
	if (sqlite3_step(st) == SQLITE_ROW) {
		v = sqlite3_column_blob(st, 0);
		vlen = (size_t)sqlite3_column_bytes(st, 0);
		*stored = vlen;
		if (pack_is_packed(v, vlen))
			text = pack_unpack(p, db, v, vlen, &len, err);
		else
			text = xstrdup((const char *)
			    sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	return text;
}

/* The first value makes the dictionary; the next ones deflate to a
 * fraction and read back equal on another connection. */
static void
test_pack_round_trip(void)
{
	struct orc_error	 err;
	struct pack		*w = pack_new(), *r = pack_new();
	sqlite3			*db, *rdb;
	size_t			 stored = 0, raw = 0, packed = 0;
	char			*text, *back;
	int			 i;

	REQUIRE((db = open_db(1)) != NULL);
	for (i = 1; i <= 20; i++) {
		text = order_json(i);
		CHECK(put(w, db, i, "price", text) == 0);
		free(text);
	}
	CHECK(test_sqlite_int(db, "SELECT count(*) FROM dictionaries") == 1);
	CHECK(test_sqlite_int(db, "SELECT count(*) FROM v WHERE "
	    "typeof(value) = 'blob'") == 20);
	REQUIRE((rdb = open_db(0)) != NULL);
	for (i = 1; i <= 20; i++) {
		text = order_json(i);
		back = get(r, rdb, i, &stored, &err);
		CHECK_STR(back, text);
		raw += strlen(text);
		packed += stored;
		free(back);
		free(text);
	}
	/* About a tenth: the same keys, most of the same values. */
	CHECK(packed * 4 < raw);
	/* Another field has a dictionary of its own. */
	CHECK(put(w, db, 21, "other", "{\"something\":\"else entirely, "
	    "and long enough\"}") == 0);
	CHECK(test_sqlite_int(db, "SELECT count(*) FROM dictionaries") == 2);
	pack_free(w);
	pack_free(r);
	sqlite3_close(db);
	sqlite3_close(rdb);
}

/* Short texts, blob references and texts that would not shrink stay as
 * they are, and read as they were. */
static void
test_pack_as_text(void)
{
	struct orc_error	 err;
	struct pack		*w = pack_new();
	sqlite3			*db;
	size_t			 stored;
	char			*back;
	const char		*ref = "{\"$blob\":\"sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	    "\",\"bytes\":300000}";
	const char		*noise = "\"q8Zr1VxK3mN0pT7yB4cW9eJ2hL6sD5fG"
	    "aU1iO8kX3nM7vR2tY6wE0zQ4jH9lP5bC\"";

	REQUIRE((db = open_db(1)) != NULL);
	CHECK(put(w, db, 1, "f", "{\"short\":1}") == 0);
	CHECK(put(w, db, 2, "f", ref) == 0);
	CHECK(test_sqlite_int(db, "SELECT count(*) FROM dictionaries") == 0);
	CHECK(put(w, db, 3, "f", "\"a first value that is long enough to "
	    "be packed\"") == 0);
	CHECK(put(w, db, 4, "f", noise) == 0);
	CHECK(test_sqlite_int(db, "SELECT count(*) FROM v WHERE "
	    "typeof(value) = 'text'") == 3);
	back = get(w, db, 2, &stored, &err);
	CHECK_STR(back, ref);
	free(back);
	back = get(w, db, 4, &stored, &err);
	CHECK_STR(back, noise);
	free(back);
	pack_free(w);
	sqlite3_close(db);
}

/* A dictionary written in a transaction that is rolled back is
 * forgotten, and the next value writes it again. */
static void
test_pack_rollback(void)
{
	struct orc_error	 err;
	struct pack		*w = pack_new(), *r = pack_new();
	sqlite3			*db;
	size_t			 stored;
	char			*text = order_json(1), *back;

	REQUIRE((db = open_db(1)) != NULL);
	REQUIRE(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK);
	CHECK(put(w, db, 1, "f", text) == 0);
	REQUIRE(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK);
	pack_forget(w);
	CHECK(test_sqlite_int(db, "SELECT count(*) FROM dictionaries") == 0);
	CHECK(put(w, db, 1, "f", text) == 0);
	CHECK(test_sqlite_int(db, "SELECT count(*) FROM dictionaries") == 1);
	back = get(r, db, 1, &stored, &err);
	CHECK_STR(back, text);
	free(back);
	free(text);
	pack_free(w);
	pack_free(r);
	sqlite3_close(db);
}

/* Unpacks bytes v (n) and checks the error names what is wrong. */
static void
check_refused(struct pack *p, sqlite3 *db, const void *v, size_t n,
    const char *want)
{
	struct orc_error	 err;
	size_t			 len;
	char			*text;

	memset(&err, 0, sizeof err);
	text = pack_unpack(p, db, v, n, &len, &err);
	CHECK(text == NULL);
	free(text);
	CHECK_CONTAINS(err.message, want);
}

/* A cut header, a missing dictionary and a damaged stream are errors
 * that say which. */
static void
test_pack_damaged(void)
{
	struct pack		*w = pack_new(), *r = pack_new();
	sqlite3			*db;
	sqlite3_stmt		*st;
	unsigned char		 v[512];
	size_t			 n = 0;
	char			*text = order_json(3);
	const unsigned char	 cut[] = { PACK_MARK, 0x81 };
	const unsigned char	 missing[] = { PACK_MARK, 99, 4, 0x03, 0x00 };

	REQUIRE((db = open_db(1)) != NULL);
	CHECK(put(w, db, 1, "f", text) == 0);
	REQUIRE(sqlite3_prepare_v2(db, "SELECT value FROM v", -1, &st,
	    NULL) == SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW) {
		n = (size_t)sqlite3_column_bytes(st, 0);
		if (n <= sizeof v)
			memcpy(v, sqlite3_column_blob(st, 0), n);
	}
	sqlite3_finalize(st);
	REQUIRE(n > 4 && n <= sizeof v);
	check_refused(r, db, cut, sizeof cut, "header is corrupt");
	check_refused(r, db, missing, sizeof missing,
	    "dictionary 99, which is not there");
	check_refused(r, db, v, n - 2, "does not inflate to its");
	v[n - 1] ^= 0x55;
	check_refused(r, db, v, n, "does not inflate to its");
	free(text);
	pack_free(w);
	pack_free(r);
	sqlite3_close(db);
}

int
main(void)
{
	TEST_RUN(test_pack_round_trip);
	TEST_RUN(test_pack_as_text);
	TEST_RUN(test_pack_rollback);
	TEST_RUN(test_pack_damaged);
	TEST_DONE();
}
