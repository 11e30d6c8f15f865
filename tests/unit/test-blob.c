/*
 * Tests of large payloads: the blob module on its own (references, atomic
 * content-addressed files, damaged and missing files) and through the
 * SQLite store, where a large input or step output must land once in
 * blobs/ beside the database, read back equal, and be shared by runs with
 * the same payload, while ":memory:" stores keep everything inline.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "blob.h"
#include "store.h"
#include "test.h"

#define DB	"s.db"
#define MIB	(1024 * 1024)

/* How many files in a folder start with a dot, other than . and .. */
static int
count_hidden(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

/* A string of n bytes, varied so that it is not trivially compressible. */
static char *
big_text(size_t n, char seed)
{
	char *s = malloc(n + 1);
	size_t i;

	for (i = 0; i < n; i++)
		s[i] = 'a' + (char)((i * 7 + (size_t)seed) % 26);
	s[n] = '\0';
	return s;
}

/* One text column of the run row, through a connection of our own. */
static char *
run_column(const char *col, const char *id)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char *sql, *v = NULL;

	if (sqlite3_open(DB, &db) != SQLITE_OK)
		return NULL;
	sql = sqlite3_mprintf("SELECT %s FROM runs WHERE id = '%q'", col, id);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_text(st, 0) != NULL)
			v = strdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_free(sql);
	sqlite3_close(db);
	return v;
}

/* blob_put writes one file named by the hash, and blob_get reads it. */
static void
test_blob_put_get(void)
{
	struct orc_error err;
	char *ref = NULL, *ref2 = NULL, *back, hex[65], want[65];
	const char *text = "\"hello, blob\"";
	size_t len = strlen(text), n = 0, bytes = 0;

	REQUIRE(blob_put("b", text, len, &ref, &err) == 0);
	orc_sha256_hex(text, len, want);
	REQUIRE(blob_is_ref(ref, strlen(ref), hex, &bytes));
	CHECK_STR(hex, want);
	CHECK(bytes == len);
	CHECK(test_count_files("b") == 1);
	CHECK(count_hidden("b") == 0);

	/* The same text again: the same reference, still one file. */
	REQUIRE(blob_put("b", text, len, &ref2, &err) == 0);
	CHECK_STR(ref2, ref);
	CHECK(test_count_files("b") == 1);

	back = blob_get("b", ref, strlen(ref), &n, &err);
	REQUIRE(back != NULL);
	CHECK(n == len);
	CHECK_STR(back, text);
	free(back);
	free(ref);
	free(ref2);
}

/* References are recognised exactly, nothing looser. */
static void
test_blob_is_ref(void)
{
	const char *good = "{\"$blob\":\"sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	    "\",\"bytes\":42}";
	char *s;
	size_t bytes = 0;

	CHECK(blob_is_ref(good, strlen(good), NULL, &bytes));
	CHECK(bytes == 42);
	CHECK(!blob_is_ref("{\"a\":1}", 7, NULL, NULL));
	CHECK(!blob_is_ref(good, strlen(good) - 1, NULL, NULL));
	s = strdup(good);
	s[20] = 'G';	/* not hex */
	CHECK(!blob_is_ref(s, strlen(s), NULL, NULL));
	free(s);
	s = strdup(good);
	memcpy(strstr(s, "42}"), "x2}", 3);
	CHECK(!blob_is_ref(s, strlen(s), NULL, NULL));
	free(s);
}

/* A missing, short or altered file is an error naming the file. */
static void
test_blob_damaged(void)
{
	struct orc_error err;
	char *ref = NULL, path[80], hex[65];
	const char *text = "[1,2,3,4,5,6,7,8,9]";
	FILE *f;

	REQUIRE(blob_put("b", text, strlen(text), &ref, &err) == 0);
	REQUIRE(blob_is_ref(ref, strlen(ref), hex, NULL));
	snprintf(path, sizeof path, "b/%s", hex);

	/* Same length, other bytes: the hash catches it. */
	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("[9,2,3,4,5,6,7,8,1]", f);
	fclose(f);
	CHECK(blob_get("b", ref, strlen(ref), NULL, &err) == NULL);
	CHECK(err.code == ORC_ESTORE);
	CHECK_CONTAINS(err.message, "corrupt");
	CHECK_CONTAINS(err.message, hex);

	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs("[1]", f);
	fclose(f);
	CHECK(blob_get("b", ref, strlen(ref), NULL, &err) == NULL);
	CHECK_CONTAINS(err.message, "holds 3 bytes");

	unlink(path);
	CHECK(blob_get("b", ref, strlen(ref), NULL, &err) == NULL);
	CHECK(err.code == ORC_ESTORE);
	CHECK_CONTAINS(err.message, path);
	CHECK_CONTAINS(err.message, "missing");
	free(ref);
}

/* encode keeps small texts, moves large ones and look-alikes. */
static void
test_blob_encode_decode(void)
{
	struct orc_error err;
	char *t, *out, *back;
	const char *fake = "{\"$blob\":\"sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	    "\",\"bytes\":3}";

	t = strdup("{\"small\":true}");
	out = blob_encode("b", 100, t, &err);
	CHECK(out == t);
	REQUIRE(blob_decode("b", out, strlen(out), &back, &err) == 0);
	CHECK(back == NULL);
	free(out);
	CHECK(test_count_files("b") == -1);

	/* A user's text that looks like a reference is stored as a blob,
	 * so that reading it back gives the text, not someone's payload. */
	out = blob_encode("b", 100, strdup(fake), &err);
	REQUIRE(out != NULL);
	CHECK(strcmp(out, fake) != 0);
	REQUIRE(blob_decode("b", out, strlen(out), &back, &err) == 0);
	CHECK_STR(back, fake);
	free(back);
	free(out);

	t = big_text(101, 1);
	out = blob_encode("b", 100, strdup(t), &err);
	REQUIRE(out != NULL);
	CHECK(blob_is_ref(out, strlen(out), NULL, NULL));
	REQUIRE(blob_decode("b", out, strlen(out), &back, &err) == 0);
	CHECK_STR(back, t);
	free(back);
	free(out);
	free(t);
	CHECK(test_count_files("b") == 2);

	/* Without a folder everything stays inline. */
	t = big_text(1000, 2);
	out = blob_encode(NULL, 100, t, &err);
	CHECK(out == t);
	free(out);
}

/* The threshold is the one configured, else the default; the folder
 * sits by the db. */
static void
test_blob_config(void)
{
	char *d;

	CHECK(blob_threshold(0) == 262144);
	CHECK(blob_threshold(1000) == 1000);

	CHECK(blob_dir_for(":memory:") == NULL);
	d = blob_dir_for("/var/lib/orc/o.db");
	CHECK_STR(d, "/var/lib/orc/blobs");
	free(d);
	d = blob_dir_for("o.db");
	CHECK_STR(d, "blobs");
	free(d);
}

/* Inserts a run with input and flushes; 0 on success. */
static int
put_run(struct store *s, const char *id, json_t *input, json_t *output)
{
	struct orc_error err;
	struct store_change ch;
	struct run_rec r;

	memset(&r, 0, sizeof r);
	snprintf(r.id, sizeof r.id, "%s", id);
	r.workflow = (char *)"big";
	r.def_hash = (char *)"h1";
	r.state = RUN_QUEUED;
	r.seq = 1;
	r.step = (char *)"first";
	r.input = input;
	r.output = output;
	r.created_at = r.updated_at = 1000;
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.flags = STORE_RUN_INSERT;
	store_submit(s, &ch);
	return store_flush(s, &err);
}

/* Adds a finished step with output to a run; 0 on success. */
static int
put_step(struct store *s, const char *id, json_t *output)
{
	struct orc_error err;
	struct store_change ch;
	struct step_rec st;
	struct run_rec r;

	memset(&r, 0, sizeof r);
	if (store_get_run(s, id, &r, &err) != 0)
		return -1;
	memset(&st, 0, sizeof st);
	snprintf(st.run_id, sizeof st.run_id, "%s", id);
	st.seq = 1;
	st.name = (char *)"first";
	st.attempts = 1;
	st.output = output;
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.step = &st;
	store_submit(s, &ch);
	run_rec_clear(&r);
	return store_flush(s, &err);
}

/* Collects step outputs. */
static int
step_output_cb(const struct step_rec *st, void *arg)
{
	json_t **out = arg;

	*out = json_incref(st->output);
	return 1;
}

/* A 1 MiB step output is stored once as a blob and read back equal. */
static void
test_blob_store_step_output(void)
{
	struct orc_error err;
	struct store *s;
	json_t *out, *got = NULL, *small;
	char *text, *col;
	struct run_rec r;

	text = big_text(MIB, 3);
	out = json_pack("{s:s, s:i}", "data", text, "n", 7);
	REQUIRE(out != NULL);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	small = json_pack("{s:i}", "small", 1);
	CHECK(put_run(s, "R0000000000000000000000001", small, NULL) == 0);
	json_decref(small);
	CHECK(test_count_files("blobs") == -1);
	REQUIRE(put_step(s, "R0000000000000000000000001", out) == 0);
	CHECK(test_count_files("blobs") == 1);
	CHECK(count_hidden("blobs") == 0);

	/* The row holds a reference, far smaller than the payload. */
	col = run_column("(SELECT output FROM steps LIMIT 1)",
	    "R0000000000000000000000001");
	REQUIRE(col != NULL);
	CHECK(strlen(col) < 200);
	CHECK(blob_is_ref(col, strlen(col), NULL, NULL));
	free(col);
	col = run_column("input", "R0000000000000000000000001");
	CHECK_STR(col, "{\"small\":1}");
	free(col);

	REQUIRE(store_list_steps(s, "R0000000000000000000000001",
	    step_output_cb, &got, &err) == 0);
	REQUIRE(got != NULL);
	CHECK(json_equal(got, out));
	json_decref(got);
	store_close(s);

	/* And after reopening, read-only as the CLI does. */
	s = store_open(DB, STORE_READONLY, NULL, &err);
	REQUIRE(s != NULL);
	got = NULL;
	CHECK(store_list_steps(s, "R0000000000000000000000001",
	    step_output_cb, &got, &err) == 0);
	CHECK(got != NULL && json_equal(got, out));
	json_decref(got);
	REQUIRE(store_get_run(s, "R0000000000000000000000001", &r,
	    &err) == 0);
	run_rec_clear(&r);
	store_close(s);
	json_decref(out);
	free(text);
}

/* Two runs with the same large input share one blob file. */
static void
test_blob_store_shared_input(void)
{
	struct orc_error err;
	struct store *s;
	json_t *in;
	char *text, *c1, *c2;
	struct run_rec r;

	text = big_text(300 * 1024, 4);
	in = json_pack("{s:s}", "body", text);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	REQUIRE(put_run(s, "R0000000000000000000000001", in, NULL) == 0);
	REQUIRE(put_run(s, "R0000000000000000000000002", in, NULL) == 0);
	CHECK(test_count_files("blobs") == 1);
	c1 = run_column("input", "R0000000000000000000000001");
	c2 = run_column("input", "R0000000000000000000000002");
	CHECK(c1 != NULL && blob_is_ref(c1, strlen(c1), NULL, NULL));
	CHECK_STR(c1, c2);
	free(c1);
	free(c2);

	memset(&r, 0, sizeof r);
	REQUIRE(store_get_run(s, "R0000000000000000000000002", &r,
	    &err) == 0);
	CHECK(json_equal(r.input, in));
	run_rec_clear(&r);
	store_close(s);

	/* A missing blob is a store error naming the file. */
	c1 = run_column("input", "R0000000000000000000000001");
	REQUIRE(c1 != NULL);
	{
		char hex[65], path[80];

		REQUIRE(blob_is_ref(c1, strlen(c1), hex, NULL));
		snprintf(path, sizeof path, "blobs/%s", hex);
		CHECK(unlink(path) == 0);
		s = store_open(DB, 0, NULL, &err);
		REQUIRE(s != NULL);
		memset(&r, 0, sizeof r);
		CHECK(store_get_run(s, "R0000000000000000000000001", &r,
		    &err) == -1);
		CHECK(err.code == ORC_ESTORE);
		CHECK_CONTAINS(err.message, path);
		store_close(s);
	}
	free(c1);
	json_decref(in);
	free(text);
}

/* A lower threshold applies; ":memory:" stores keep everything inline. */
static void
test_blob_store_threshold_and_memory(void)
{
	struct orc_error err;
	struct store *s;
	json_t *in, *small;
	struct run_rec r;
	struct store_config sc;
	char *col;

	store_config_defaults(&sc);
	sc.blob_bytes = 64;
	in = json_pack("{s:s}", "text", "a value that is longer than sixty-"
	    "four bytes once it is encoded as JSON");
	s = store_open_with(DB, 0, NULL, &sc, &err);
	REQUIRE(s != NULL);
	REQUIRE(put_run(s, "R0000000000000000000000001", in, NULL) == 0);
	small = json_pack("{s:i}", "x", 1);
	CHECK(put_run(s, "R0000000000000000000000002", small, NULL) == 0);
	json_decref(small);
	store_close(s);
	CHECK(test_count_files("blobs") == 1);
	col = run_column("input", "R0000000000000000000000002");
	CHECK_STR(col, "{\"x\":1}");
	free(col);

	s = store_open_with(":memory:", 0, NULL, &sc, &err);
	REQUIRE(s != NULL);
	REQUIRE(put_run(s, "R0000000000000000000000003", in, NULL) == 0);
	memset(&r, 0, sizeof r);
	REQUIRE(store_get_run(s, "R0000000000000000000000003", &r,
	    &err) == 0);
	CHECK(json_equal(r.input, in));
	run_rec_clear(&r);
	store_close(s);
	CHECK(test_count_files("blobs") == 1);
	json_decref(in);
}

int
main(void)
{
	TEST_RUN(test_blob_put_get);
	TEST_RUN(test_blob_is_ref);
	TEST_RUN(test_blob_damaged);
	TEST_RUN(test_blob_encode_decode);
	TEST_RUN(test_blob_config);
	TEST_RUN(test_blob_store_step_output);
	TEST_RUN(test_blob_store_shared_input);
	TEST_RUN(test_blob_store_threshold_and_memory);
	TEST_DONE();
}
