/*
 * Tests of the store on SQLite files in the test's temporary folder: the
 * schema and its version, grouped commits on a real event loop and their
 * callbacks, atomic changes, retries while another connection holds the
 * write lock, listings, counts, the dashboard's reads, leases and
 * read-only opening. The test looks at the file through its own sqlite3
 * connection to see what is really committed.
 *
 * Built with TEST_STORE_PG (tests/unit/test-store-pg), the same tests run
 * on the PostgreSQL database of ORCH_TEST_PG_URL (started by
 * tests/integration/store-pg.sh; skipped without it), emptied before each
 * test, and looked at through a libpq connection of their own; a few
 * tests there cover what only PostgreSQL does: nodes migrating at once,
 * claims that skip locked rows, several stores sharing the leases.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>
#ifdef TEST_STORE_PG
#include <sys/wait.h>
#include <libpq-fe.h>
#endif

#include "log.h"
#include "loop.h"
#include "store.h"
#include "strbuf.h"
#include "test.h"

#ifdef TEST_STORE_PG
static const char *pg_url;
#define DB pg_url
#else
#define DB "s.db"
#endif

/* The settings of the stores that store_open_with opens: the defaults
 * (main), changed by a test and put back before it returns. */
static struct store_config tsc;

/* The database's name followed by a message, as errors say it. */
static const char *
db_msg(const char *what)
{
	static char buf[512];

	snprintf(buf, sizeof buf, "%s: %s", DB, what);
	return buf;
}

/* DB opens with each synchronous setting but the default. */
static void
open_each_sync(void)
{
	static const enum store_sync syncs[] = {
		STORE_SYNC_NORMAL, STORE_SYNC_OFF
	};
	struct orc_error err;
	struct store *s;
	size_t i;

	for (i = 0; i < sizeof syncs / sizeof syncs[0]; i++) {
		tsc.sync = syncs[i];
		s = store_open_with(DB, 0, NULL, &tsc, &err);
		CHECK(s != NULL);
		store_close(s);
	}
	tsc.sync = STORE_SYNC_FULL;
}

/* Makes an id that sorts by n. */
static void
mkid(char out[RUN_ID_LEN + 1], int n)
{
	snprintf(out, RUN_ID_LEN + 1, "R%025d", n);
}

/* Fills a new run record. */
static void
mkrun(struct run_rec *r, int n, const char *workflow, enum run_state state)
{
	memset(r, 0, sizeof *r);
	mkid(r->id, n);
	r->workflow = (char *)workflow;
	r->def_hash = (char *)"h1";
	r->state = state;
	r->seq = 1;
	r->step = (char *)"first";
	r->attempt = 1;
	r->input = json_pack("{s:i, s:s}", "n", n, "s", "caf\xc3\xa9");
	r->trigger = json_pack("{s:s}", "source", "test");
	r->created_at = 1000 * (int64_t)n;
	r->updated_at = 1000 * (int64_t)n + 1;
}

/* Drops the JSON a mkrun() record holds (its strings are borrowed). */
static void
unrun(struct run_rec *r)
{
	json_decref(r->input);
	json_decref(r->trigger);
	json_decref(r->output);
	r->input = r->trigger = r->output = NULL;
}

/* Fills a transition of run r from one state to another. */
static void
mktrans(struct transition_rec *t, const struct run_rec *r, int from,
    enum run_state to, const char *event, int64_t at)
{
	memset(t, 0, sizeof *t);
	memcpy(t->run_id, r->id, sizeof t->run_id);
	t->at = at;
	t->from_state = from;
	t->to_state = to;
	t->event = (char *)event;
}

/* Submits a new run with its "created" transition, lazy or not. */
static void
submit_run_lazy(struct store *s, struct run_rec *r, store_commit_cb cb,
    void *arg, int lazy)
{
	struct transition_rec	t;
	struct store_change	ch;

	mktrans(&t, r, -1, r->state, "created", r->created_at);
	memset(&ch, 0, sizeof ch);
	ch.run = r;
	ch.flags = STORE_RUN_INSERT;
	ch.transition = &t;
	ch.cb = cb;
	ch.arg = arg;
	ch.lazy = lazy;
	store_submit(s, &ch);
}

/* Submits a new run with its "created" transition. */
static void
submit_run(struct store *s, struct run_rec *r, store_commit_cb cb, void *arg)
{
	submit_run_lazy(s, r, cb, arg, 0);
}

/* Inserts run n and flushes. */
static void
add_run(struct store *s, int n, const char *workflow, enum run_state state,
    const char *error, const char *owner, int64_t until, int dead)
{
	struct run_rec r;

	mkrun(&r, n, workflow, state);
	r.error = (char *)error;
	r.lease_owner = (char *)owner;
	r.lease_until = until;
	r.dead = dead;
	submit_run(s, &r, NULL, NULL);
	unrun(&r);
}

#ifdef TEST_STORE_PG
/* One integer from a query on the database, through a connection of our
 * own; -1 when the query fails, -2 when the connection does. */
static long long
query_int(const char *sql)
{
	PGconn		*c;
	PGresult	*res;
	long long	 v = -1;

	c = PQconnectdb(DB);
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return -2;
	}
	res = PQexec(c, sql);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
	    !PQgetisnull(res, 0, 0))
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	PQfinish(c);
	return v;
}

/* Runs SQL on the database through a connection of our own. */
static int
exec_sql(const char *url, const char *sql)
{
	PGconn		*c;
	PGresult	*res;
	int		 ok;

	c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return -1;
	}
	res = PQexec(c, sql);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "exec_sql: %s", PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
	return ok ? 0 : -1;
}

/* Empties the database: every test starts without a schema. */
static void
db_reset(void)
{
	if (exec_sql(DB, "SET client_min_messages = warning; "
	    "DROP SCHEMA public CASCADE; "
	    "CREATE SCHEMA public") == -1) {
		fprintf(stderr, "cannot empty %s\n", DB);
		exit(99);
	}
}
#else
/* One integer from a query on the file, through a connection of our own. */
static long long
query_int(const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	long long	 v = -1;

	if (sqlite3_open(DB, &db) != SQLITE_OK)
		return -2;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

/* Runs SQL on the file through a connection of our own. */
static int
exec_sql(const char *path, const char *sql)
{
	sqlite3	*db;
	int	 rc;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Every SQLite test has a fresh folder already. */
static void
db_reset(void)
{
}
#endif

/* Records the order callbacks are called in. */
struct order {
	int	 seen[16];
	int	 n;
	int	 rows[16];	/* runs visible when each ran */
	struct store *s;
};

struct tag {
	struct order	*o;
	int		 id;
};

/* A commit callback that records its tag. */
static void
order_cb(void *arg)
{
	struct tag	*t = arg;
	struct order	*o = t->o;
	struct run_rec	 r;

	o->rows[o->n] = (int)query_int("SELECT count(*) FROM runs");
	o->seen[o->n++] = t->id;
	/* The first callback submits a change: it belongs to the next batch. */
	if (t->id == 1 && o->s != NULL) {
		mkrun(&r, 4, "wf", RUN_QUEUED);
		submit_run(o->s, &r, order_cb, &t[3]);
		unrun(&r);
	}
}

/* A commit callback that counts. */
static void
count_cb(void *arg)
{
	(*(int *)arg)++;
}

/* The schema is created and its version set; a newer version is refused. */
static void
test_store_migrate(void)
{
	struct orc_error	 err;
	struct store		*s;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	store_close(s);
#ifdef TEST_STORE_PG
	/* Each migration ran once, the last is this build's. */
	CHECK(query_int("SELECT max(version) FROM schema_version") >= 2);
	CHECK(query_int("SELECT count(*) FROM schema_version") ==
	    query_int("SELECT max(version) FROM schema_version"));
	CHECK(query_int("SELECT count(*) FROM pg_tables WHERE schemaname = "
	    "'public' AND tablename IN ('runs', 'steps', 'transitions', "
	    "'definitions', 'run_counts', 'run_logs')") == 6);
	CHECK(query_int("SELECT count(*) FROM pg_indexes WHERE indexname IN "
	    "('runs_idempotency', 'transitions_run', 'runs_finished')") == 3);
	/* Steps and transitions keep no foreign key (migration 5). */
	CHECK(query_int("SELECT count(*) FROM pg_constraint WHERE contype = "
	    "'f'") == 0);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	store_close(s);
	CHECK(query_int("SELECT count(*) FROM schema_version") ==
	    query_int("SELECT max(version) FROM schema_version"));
	CHECK(query_int("SELECT count(*) FROM pg_indexes WHERE indexname IN "
	    "('runs_cron_key', 'runs_waiting')") == 2);
	REQUIRE(exec_sql(DB, "INSERT INTO schema_version VALUES (99, 0)") ==
	    0);
	s = store_open(DB, 0, NULL, &err);
	CHECK(s == NULL);
	CHECK_CONTAINS(err.message, db_msg("schema version 99 is newer"));
	store_close(s);
	return;
#endif
	CHECK(query_int("PRAGMA user_version") == 14);
	CHECK(query_int("SELECT count(*) FROM sqlite_master WHERE type = "
	    "'index' AND name = 'runs_cron_key'") == 1);
	CHECK(query_int("SELECT count(*) FROM sqlite_master WHERE type = "
	    "'index' AND name = 'runs_waiting'") == 1);
	/* A new file frees pages as purges delete runs. */
	CHECK(query_int("PRAGMA auto_vacuum") == 2);
	CHECK(query_int("SELECT count(*) FROM sqlite_master WHERE type = "
	    "'table' AND name IN ('runs', 'steps', 'transitions', "
	    "'definitions')") == 4);
	CHECK(query_int("SELECT count(*) FROM sqlite_master WHERE type = "
	    "'index' AND name = 'runs_idempotency'") == 1);
	/* Transitions are keyed by run without a rowid (migration 10). */
	CHECK(query_int("SELECT count(*) FROM sqlite_master WHERE type = "
	    "'index' AND name = 'transitions_run'") == 0);
	CHECK(query_int("SELECT count(*) FROM pragma_table_list WHERE "
	    "name = 'transitions' AND wr = 1") == 1);
	CHECK(query_int("SELECT count(*) FROM pragma_journal_mode "
	    "WHERE journal_mode = 'wal'") == 1);

	/* Opening again does not migrate twice. */
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	store_close(s);

	REQUIRE(exec_sql(DB, "PRAGMA user_version = 99") == 0);
	s = store_open(DB, 0, NULL, &err);
	CHECK(s == NULL);
	CHECK_CONTAINS(err.message, "s.db: schema version 99 is newer");
	store_close(s);
}

/* What is written comes back after closing and opening again. */
static void
test_store_reopen(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r, got;
	struct step_rec		 st;
	struct transition_rec	 t;
	struct def_rec		 d, gd;
	struct store_change	 ch;
	int			 called = 0;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	mkrun(&r, 1, "wf", RUN_RUNNING);
	r.idempotency_key = (char *)"key-1";
	r.lease_owner = (char *)"me";
	r.lease_until = 12345;
	memset(&st, 0, sizeof st);
	memcpy(st.run_id, r.id, sizeof st.run_id);
	st.seq = 1;
	st.name = (char *)"first";
	st.attempts = 2;
	st.output = json_pack("[i, n, b]", 1, 1);
	st.started_at = 5;
	st.finished_at = 9;
	memset(&t, 0, sizeof t);
	memcpy(t.run_id, r.id, sizeof t.run_id);
	t.at = 7;
	t.from_state = RUN_QUEUED;
	t.to_state = RUN_RUNNING;
	t.event = (char *)"started";
	t.step = (char *)"first";
	t.seq = 1;
	t.attempt = 1;
	t.duration_ms = 3;
	memset(&d, 0, sizeof d);
	d.hash = (char *)"h1";
	d.name = (char *)"wf";
	d.path = (char *)"workflows/wf.json";
	d.body = (char *)"{\"name\":\"wf\"}";
	d.created_at = 4;
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.flags = STORE_RUN_INSERT;
	ch.step = &st;
	ch.transition = &t;
	ch.def = &d;
	ch.cb = count_cb;
	ch.arg = &called;
	store_submit(s, &ch);
	/* The copy is the store's: the caller's values may go now. */
	unrun(&r);
	json_decref(st.output);
	store_close(s);
	CHECK(called == 1);

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	REQUIRE(store_get_run(s, "R0000000000000000000000001", &got,
	    &err) == 0);
	CHECK_STR(got.workflow, "wf");
	CHECK_STR(got.def_hash, "h1");
	CHECK(got.state == RUN_RUNNING);
	CHECK_STR(got.step, "first");
	CHECK(json_integer_value(json_object_get(got.input, "n")) == 1);
	CHECK_STR(json_string_value(json_object_get(got.input, "s")),
	    "caf\xc3\xa9");
	CHECK_STR(json_string_value(json_object_get(got.trigger, "source")),
	    "test");
	CHECK(got.output == NULL);
	CHECK_STR(got.idempotency_key, "key-1");
	CHECK_STR(got.lease_owner, "me");
	CHECK(got.lease_until == 12345);
	CHECK(got.created_at == 1000 && got.updated_at == 1001);
	run_rec_clear(&got);

	CHECK(store_get_run(s, "nope", &got, &err) == -1);
	CHECK(err.code == ORC_ENOTFOUND);
	CHECK_STR(err.message, "run nope not found");

	REQUIRE(store_get_definition(s, "h1", &gd, &err) == 0);
	CHECK_STR(gd.body, "{\"name\":\"wf\"}");
	CHECK_STR(gd.path, "workflows/wf.json");
	def_rec_clear(&gd);
	CHECK(store_get_definition(s, "h2", &gd, &err) == -1);
	CHECK(err.code == ORC_ENOTFOUND);
	store_close(s);
	CHECK(query_int("SELECT count(*) FROM steps WHERE output = "
	    "'[1,null,true]'") == 1);
	/* States and the event as their codes (store-row.h). */
	CHECK(query_int("SELECT count(*) FROM transitions WHERE "
	    "from_state = 0 AND to_state = 1 AND CAST(event AS TEXT) = '2'") ==
	    1);
}

/* Collects steps. */
static int
step_cb(const struct step_rec *st, void *arg)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 64, "%d:%s:%d;", st->seq, st->name,
	    (int)json_integer_value(st->output));
	return 0;
}

/* Fills log line i of run r. */
static void
mklog(struct log_rec *l, const struct run_rec *r, int i, const char *msg)
{
	memset(l, 0, sizeof *l);
	memcpy(l->run_id, r->id, sizeof l->run_id);
	l->at = 1000 + i;
	l->step = i == 2 ? NULL : (char *)"first";
	l->attempt = i;
	l->level = i % 4;
	l->message = (char *)msg;
}

#ifndef TEST_STORE_PG
/* Fills step seq of run r, named name, with a ticket's output (new). */
static void
mkstep(struct step_rec *st, const struct run_rec *r, int seq,
    const char *name)
{
	memset(st, 0, sizeof *st);
	memcpy(st->run_id, r->id, sizeof st->run_id);
	st->seq = seq;
	st->name = (char *)name;
	st->attempts = 1;
	st->output = json_pack("{s:s, s:s, s:s, s:s}", "id", "T-18", "kind",
	    "bug", "title", "crash when opening a draft", "severity", "low");
}

/* Collects steps as "seq:name:ID;", ID the output's "id" or "-". */
static int
step_name_cb(const struct step_rec *st, void *arg)
{
	const char	*id = json_string_value(json_object_get(st->output,
			    "id"));
	char		*buf = arg;

	snprintf(buf + strlen(buf), 64, "%d:%s:%s;", st->seq, st->name,
	    id != NULL ? id : "-");
	return 0;
}
#endif

/* Collects transitions. */
static int
transition_cb(const struct transition_rec *t, void *arg)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 64, "%s:%s>%s;", t->event,
	    t->from_state < 0 ? "-" : run_state_name(t->from_state),
	    run_state_name(t->to_state));
	return 0;
}

/* Without a loop, only store_flush() commits, then calls back. */
static void
test_store_flush_without_base(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r;
	struct step_rec		 st;
	struct transition_rec	 t;
	struct store_change	 ch;
	char			 buf[256] = "";
	int			 called = 0, i;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	mkrun(&r, 1, "wf", RUN_QUEUED);
	submit_run(s, &r, count_cb, &called);
	CHECK(store_pending(s) == 1);
	CHECK(called == 0);
	CHECK(query_int("SELECT count(*) FROM runs") == 0);
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(called == 1);
	CHECK(store_pending(s) == 0);
	CHECK(query_int("SELECT count(*) FROM runs") == 1);
	/* Nothing pending is not an error. */
	CHECK(store_flush(s, &err) == 0);

	/* Steps in visit order (replacing a seq), transitions in order. */
	for (i = 3; i >= 1; i--) {
		memset(&st, 0, sizeof st);
		memcpy(st.run_id, r.id, sizeof st.run_id);
		st.seq = i;
		st.name = (char *)(i == 2 ? "two" : "other");
		st.output = json_integer(i * 10);
		r.state = RUN_RUNNING;
		memset(&t, 0, sizeof t);
		memcpy(t.run_id, r.id, sizeof t.run_id);
		t.from_state = RUN_QUEUED;
		t.to_state = RUN_RUNNING;
		t.event = (char *)"step_succeeded";
		memset(&ch, 0, sizeof ch);
		ch.run = &r;
		ch.step = &st;
		ch.transition = &t;
		store_submit(s, &ch);
		json_decref(st.output);
	}
	st.seq = 2;
	st.name = (char *)"two";
	st.output = json_integer(22);
	memset(&ch, 0, sizeof ch);
	ch.step = &st;
	store_submit(s, &ch);
	json_decref(st.output);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_list_steps(s, r.id, step_cb, buf, &err) == 0);
	CHECK_STR(buf, "1:other:10;2:two:22;3:other:30;");
	buf[0] = '\0';
	REQUIRE(store_list_transitions(s, r.id, transition_cb, buf,
	    &err) == 0);
	CHECK_STR(buf, "created:->queued;step_succeeded:queued>running;"
	    "step_succeeded:queued>running;step_succeeded:queued>running;");
	unrun(&r);
	store_close(s);
}

/*
 * Transitions keep their order per run, however runs interleave, and read
 * back every state and event: those with a code (stored as the code) and
 * one without (stored by name).
 */
static void
test_store_transition_codes(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r[2];
	struct transition_rec	 t;
	struct store_change	 ch;
	char			 buf[512] = "";
	int			 i, st;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	for (i = 0; i < 2; i++) {
		mkrun(&r[i], i + 1, "wf", RUN_QUEUED);
		submit_run(s, &r[i], NULL, NULL);
	}
	for (st = 0; st < RUN_STATE_COUNT; st++) {
		for (i = 0; i < 2; i++) {
			mktrans(&t, &r[i], st == 0 ? -1 : st - 1,
			    (enum run_state)st, i == 0 ? "retried" :
			    "archived", 10 + st);
			memset(&ch, 0, sizeof ch);
			ch.transition = &t;
			store_submit(s, &ch);
		}
		REQUIRE(store_flush(s, &err) == 0);
	}
	REQUIRE(store_list_transitions(s, r[0].id, transition_cb, buf,
	    &err) == 0);
	CHECK_STR(buf, "created:->queued;"
	    "retried:->queued;retried:queued>running;"
	    "retried:running>retrying;retried:retrying>succeeded;"
	    "retried:succeeded>failed;retried:failed>cancelled;"
	    "retried:cancelled>waiting;");
	buf[0] = '\0';
	REQUIRE(store_list_transitions(s, r[1].id, transition_cb, buf,
	    &err) == 0);
	CHECK_CONTAINS(buf, "created:->queued;archived:->queued;"
	    "archived:queued>running;");
	CHECK_CONTAINS(buf, "archived:cancelled>waiting;");
	store_close(s);
	CHECK(query_int("SELECT count(*) FROM transitions WHERE "
	    "CAST(event AS TEXT) = '7'") == RUN_STATE_COUNT);
	CHECK(query_int("SELECT count(*) FROM transitions WHERE "
	    "event = 'archived'") == RUN_STATE_COUNT);
	unrun(&r[0]);
	unrun(&r[1]);
}

/* Keeps a listed run's output as compact text in arg. */
static int
output_cb(const struct run_rec *r, void *arg)
{
	char *text = json_dumps(r->output, JSON_COMPACT | JSON_ENCODE_ANY);

	snprintf(arg, 64, "%s", text != NULL ? text : "(none)");
	free(text);
	return 0;
}

/*
 * A run that ends with its last step's output stores it once, in the
 * step; reads, the run's and a listing's, give it back. A run whose output
 * is not the step's keeps its own.
 */
static void
test_store_output_once(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r, got;
	struct step_rec		 st;
	struct transition_rec	 t;
	struct store_change	 ch;
	struct run_filter	 f;
	char			 buf[64];
	int			 i;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	for (i = 1; i <= 2; i++) {
		mkrun(&r, i, "wf", RUN_RUNNING);
		submit_run(s, &r, NULL, NULL);
		memset(&st, 0, sizeof st);
		memcpy(st.run_id, r.id, sizeof st.run_id);
		st.seq = 3;
		st.name = (char *)"last";
		st.output = json_pack("{s:i}", "total", 7875);
		r.state = RUN_SUCCEEDED;
		/* Run 2's output is equal, but not the step's own. */
		r.output = i == 1 ? json_incref(st.output) :
		    json_deep_copy(st.output);
		mktrans(&t, &r, RUN_RUNNING, RUN_SUCCEEDED, "succeeded", 5);
		memset(&ch, 0, sizeof ch);
		ch.run = &r;
		ch.step = &st;
		ch.transition = &t;
		store_submit(s, &ch);
		json_decref(st.output);
		unrun(&r);
	}
	REQUIRE(store_flush(s, &err) == 0);
	mkid(r.id, 1);
	REQUIRE(store_get_run(s, r.id, &got, &err) == 0);
	CHECK(got.output != NULL && json_integer_value(json_object_get(
	    got.output, "total")) == 7875);
	run_rec_clear(&got);
	memset(&f, 0, sizeof f);
	f.state = -1;
	f.limit = 1;
	f.before_id = "R0000000000000000000000002";
	REQUIRE(store_list_runs(s, &f, output_cb, buf, &err) == 0);
	CHECK_STR(buf, "{\"total\":7875}");
	store_close(s);
	CHECK(query_int("SELECT count(*) FROM runs WHERE output = '=3'") == 1);
	CHECK(query_int("SELECT count(*) FROM runs WHERE output = "
	    "'{\"total\":7875}'") == 1);
}

#ifndef TEST_STORE_PG
/* The text of a file of tests/data, new. */
static char *
read_data(const char *name)
{
	const char	*top;
	char		 path[1024], *text;
	FILE		*fp;
	long		 n;

	if ((top = getenv("TOP_SRCDIR")) == NULL || *top == '\0')
		top = ".";
	snprintf(path, sizeof path, "%s/tests/data/%s", top, name);
	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	text = xmalloc((size_t)n + 1);
	text[fread(text, 1, (size_t)n, fp)] = '\0';
	fclose(fp);
	return text;
}

/*
 * A file of schema 9, made by the build before (tests/data/store-v9.sql),
 * migrates: its transitions read back as that build wrote them, in their
 * order, an event without a code too; new ones follow them.
 */
static void
test_store_migrate_v9(void)
{
	static const char *failed = "01M95A50P2P8DD9V6DSWN5YX8C";
	static const char *ok = "01M95A51D431RBZ7C4ZYW9XXB7";
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r;
	struct transition_rec	 t;
	struct store_change	 ch;
	struct step_rec		 st;
	struct log_rec		 l;
	char			 buf[1024] = "", *sql;

	REQUIRE((sql = read_data("store-v9.sql")) != NULL);
	REQUIRE(exec_sql(DB, sql) == 0);
	free(sql);
	/* An event the build after has no code for. */
	REQUIRE(exec_sql(DB, "INSERT INTO transitions (run_id, at, "
	    "from_state, to_state, event) VALUES "
	    "('01M95A51D431RBZ7C4ZYW9XXB7', 1796548494766, 'succeeded', "
	    "'succeeded', 'archived')") == 0);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	CHECK(query_int("PRAGMA user_version") == 14);
	REQUIRE(store_list_transitions(s, failed, transition_cb, buf,
	    &err) == 0);
	CHECK_STR(buf, "created:->queued;started:queued>running;"
	    "step_succeeded:running>running;"
	    "step_timed_out:running>retrying;retried:retrying>running;"
	    "step_timed_out:running>retrying;retried:retrying>running;"
	    "failed:running>failed;on_failure_succeeded:failed>failed;");
	buf[0] = '\0';
	REQUIRE(store_get_run(s, ok, &r, &err) == 0);
	mktrans(&t, &r, RUN_SUCCEEDED, RUN_QUEUED, "redriven", 1796548495000);
	mklog(&l, &r, 1, "after the upgrade");
	mkstep(&st, &r, 9, "decode");
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.flags = STORE_RUN_SKIP;
	ch.transition = &t;
	ch.step = &st;
	ch.logs = &l;
	ch.nlogs = 1;
	store_submit(s, &ch);
	REQUIRE(store_flush(s, &err) == 0);
	json_decref(st.output);
	run_rec_clear(&r);
	/* Old lines keep their ids, new ones follow; old outputs stay text
	 * and new ones are packed (schema 13, 14); all read alike. */
	CHECK(query_int("SELECT group_concat(id, '') FROM run_logs WHERE "
	    "run_id = '01M95A51D431RBZ7C4ZYW9XXB7'") == 12);
	REQUIRE(store_list_steps(s, ok, step_name_cb, buf, &err) == 0);
	CHECK_STR(buf, "0:decode:T-17;1:route:T-17;2:bug:T-17;3:publish:-;"
	    "9:decode:T-18;");
	CHECK(query_int("SELECT count(*) FROM steps WHERE typeof(output) = "
	    "'blob'") == 1);
	buf[0] = '\0';
	REQUIRE(store_list_transitions(s, ok, transition_cb, buf, &err) == 0);
	CHECK_STR(buf, "created:->queued;started:queued>running;"
	    "step_succeeded:running>running;step_succeeded:running>running;"
	    "step_succeeded:running>running;succeeded:running>succeeded;"
	    "archived:succeeded>succeeded;redriven:succeeded>queued;");
	store_close(s);
	CHECK(query_int("SELECT max(n) FROM transitions WHERE run_id = "
	    "'01M95A51D431RBZ7C4ZYW9XXB7'") == 8);
	CHECK(query_int("SELECT count(*) FROM sqlite_master WHERE name IN "
	    "('transitions_run', 'transitions_v10')") == 0);
	/* And the migrations after it: child runs, redrives. */
	CHECK(query_int("SELECT count(*) FROM pragma_table_info('runs') "
	    "WHERE name IN ('parent_id', 'redriven_at')") == 2);
}
#endif

/* On the loop, submits become one batch; callbacks follow, in order; the
 * counters count the two commits. */
static void
test_store_batch_on_loop(void)
{
	struct orc_error	 err;
	struct event_base	*base;
	struct store		*s;
	struct run_rec		 r;
	struct order		 o;
	struct tag		 tags[4];
	struct store_stats	 st;
	int			 i;

	base = event_base_new();
	REQUIRE(base != NULL);
	s = store_open_with(DB, 0, base, &tsc, &err);
	REQUIRE(s != NULL);
	memset(&o, 0, sizeof o);
	o.s = s;
	for (i = 0; i < 4; i++) {
		tags[i].o = &o;
		tags[i].id = i + 1;
	}
	for (i = 0; i < 3; i++) {
		mkrun(&r, i + 1, "wf", RUN_QUEUED);
		submit_run(s, &r, order_cb, &tags[i]);
		unrun(&r);
	}
	CHECK(store_pending(s) == 3);
	CHECK(o.n == 0);
	CHECK(query_int("SELECT count(*) FROM runs") == 0);

	event_base_dispatch(base);
	REQUIRE(o.n == 4);
	CHECK(o.seen[0] == 1 && o.seen[1] == 2 && o.seen[2] == 3 &&
	    o.seen[3] == 4);
	/* All three were visible when the first callback ran: one batch. */
	CHECK(o.rows[0] == 3 && o.rows[1] == 3 && o.rows[2] == 3);
	/* What the first callback submitted went into the next one. */
	CHECK(o.rows[3] == 4);
	CHECK(store_pending(s) == 0);
	CHECK(store_healthy(s));
	store_get_stats(s, &st);
	CHECK(st.commits == 2 && st.changes == 4);
	store_close(s);
	event_base_free(base);
}

/* A change is all or nothing: a bad step undoes its run. */
static void
test_store_change_atomic(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r, got;
	struct step_rec		 st;
	struct transition_rec	 t;
	struct store_change	 ch;
	int			 called = 0;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	mkrun(&r, 1, "wf", RUN_RUNNING);
	memset(&st, 0, sizeof st);
	memcpy(st.run_id, r.id, sizeof st.run_id);
	st.seq = 1;
	st.name = (char *)"first";
	/* A transition without a state to go to breaks NOT NULL. (A step of
	 * a run that does not exist is dropped instead: see
	 * test_store_change_of_purged_run.) */
	mktrans(&t, &r, -1, (enum run_state)-1, "created", 0);
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.flags = STORE_RUN_INSERT;
	ch.step = &st;
	ch.transition = &t;
	ch.cb = count_cb;
	ch.arg = &called;
	store_submit(s, &ch);
	unrun(&r);

	CHECK(store_flush(s, &err) == -1);
	CHECK(err.code == ORC_ESTORE);
	CHECK_CONTAINS(err.message,
	    db_msg("run R0000000000000000000000001: "));
#ifdef TEST_STORE_PG
	CHECK_CONTAINS(err.message, "null value");
#else
	CHECK_CONTAINS(err.message, "NOT NULL");
#endif
	CHECK(called == 0);
	CHECK(!store_healthy(s));
	CHECK(store_pending(s) == 1);
	CHECK(store_get_run(s, "R0000000000000000000000001", &got,
	    &err) == -1);
	CHECK(query_int("SELECT count(*) FROM runs") == 0);
	CHECK(query_int("SELECT count(*) FROM transitions") == 0);
	/* Closing frees the change without calling back. */
	store_close(s);
	CHECK(called == 0);
}

/* A batch larger than one pipeline flush (PostgreSQL reads results every
 * 256 statements) is still one transaction: a bad change at its end undoes
 * the whole batch; without it, every change lands. */
static void
test_store_large_batch(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r;
	struct transition_rec	 t;
	struct store_change	 ch;
	int			 i;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	for (i = 1; i <= 300; i++)
		add_run(s, i, "wf", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);
	/* The last change's transition has no state to go to. (One naming
	 * a run that does not exist is dropped instead: see
	 * test_store_change_of_purged_run.) */
	mkrun(&r, 1, "wf", RUN_QUEUED);
	mktrans(&t, &r, RUN_QUEUED, (enum run_state)-1, "broken", 1);
	memset(&ch, 0, sizeof ch);
	ch.transition = &t;
	store_submit(s, &ch);
	unrun(&r);
	CHECK(store_flush(s, &err) == -1);
	CHECK_CONTAINS(err.message,
	    db_msg("run R0000000000000000000000001: "));
	CHECK(query_int("SELECT count(*) FROM runs") == 0);
	store_close(s);

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	for (i = 1; i <= 300; i++) {
		mkrun(&r, i, "wf", RUN_QUEUED);
		submit_run(s, &r, NULL, NULL);
		unrun(&r);
	}
	CHECK(store_flush(s, &err) == 0);
	CHECK(query_int("SELECT count(*) FROM runs") == 300);
	CHECK(query_int("SELECT count(*) FROM transitions") == 300);
	store_close(s);
}

/* While another connection holds the lock, commits retry; then go on. */
static void
test_store_retry_when_locked(void)
{
	struct orc_error	 err;
	struct event_base	*base;
	struct store		*s;
	struct run_rec		 r;
#ifdef TEST_STORE_PG
	PGconn			*db;
#else
	sqlite3			*db;
#endif
	int			 called = 0, i;

	tsc.busy_ms = 20;
	base = event_base_new();
	REQUIRE(base != NULL);
	s = store_open_with(DB, 0, base, &tsc, &err);
	REQUIRE(s != NULL);
#ifdef TEST_STORE_PG
	/* Another node holds the table: the writer's lock timeout expires. */
	db = PQconnectdb(DB);
	REQUIRE(PQstatus(db) == CONNECTION_OK);
	PQclear(PQexec(db, "BEGIN"));
	PQclear(PQexec(db, "LOCK TABLE runs IN ACCESS EXCLUSIVE MODE"));
#else
	REQUIRE(sqlite3_open(DB, &db) == SQLITE_OK);
	REQUIRE(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL,
	    NULL) == SQLITE_OK);
#endif

	for (i = 1; i <= 2; i++) {
		mkrun(&r, i, "wf", RUN_QUEUED);
		submit_run(s, &r, count_cb, &called);
		unrun(&r);
	}
	/* The first turn may only hand the batch to the commit thread. */
	for (i = 0; i < 10 && store_healthy(s); i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(!store_healthy(s));
	CHECK(called == 0);
	CHECK(store_pending(s) == 2);
	/* store_flush says why, naming the file. */
	CHECK(store_flush(s, &err) == -1);
	CHECK(err.code == ORC_EBUSY);
#ifdef TEST_STORE_PG
	/* Preparing the insert, or the insert, waited too long. */
	CHECK(strncmp(err.message, db_msg(""), strlen(db_msg(""))) == 0);
	CHECK_CONTAINS(err.message, "canceling statement due to lock timeout");
#else
	CHECK_STR(err.message, "s.db: database is locked");
#endif

	/* What is submitted during the outage joins the kept batch. */
	mkrun(&r, 3, "wf", RUN_QUEUED);
	submit_run(s, &r, count_cb, &called);
	unrun(&r);
	event_base_loop(base, EVLOOP_ONCE);	/* a retry, still locked */
	CHECK(!store_healthy(s));
	CHECK(called == 0);

#ifdef TEST_STORE_PG
	PQclear(PQexec(db, "COMMIT"));
	PQfinish(db);
#else
	REQUIRE(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
#endif
	event_base_dispatch(base);
	CHECK(store_healthy(s));
	CHECK(called == 3);
	CHECK(store_pending(s) == 0);
	CHECK(query_int("SELECT count(*) FROM runs") == 3);
	store_close(s);
	event_base_free(base);
	tsc.busy_ms = -1;
}

#ifndef TEST_STORE_PG
/* The run numbers whose callbacks ran, in order. */
static struct {
	int	 n;
	int	 ids[8];
} seq_seen;

/* Records run number arg's callback. */
static void
seq_id_cb(void *arg)
{
	if (seq_seen.n < 8)
		seq_seen.ids[seq_seen.n++] = (int)(intptr_t)arg;
}

/* Submits run n with seq_id_cb, lazy or not. */
static void
seq_submit_lazy(struct store *s, int n, int lazy)
{
	struct run_rec r;

	mkrun(&r, n, "wf", RUN_QUEUED);
	submit_run_lazy(s, &r, seq_id_cb, (void *)(intptr_t)n, lazy);
	unrun(&r);
}

/* Submits run n with seq_id_cb. */
static void
seq_submit(struct store *s, int n)
{
	seq_submit_lazy(s, n, 0);
}

/*
 * Changes submitted while a batch is out follow it at once: the commit
 * thread takes them when the batch is committed, without waiting for the
 * loop; the callbacks still come in submit order. Should the batch out
 * fail, it goes back ahead of what followed it, and all is committed
 * later, in order.
 */
static void
test_store_pipelined(void)
{
	struct store_stats	 st;
	struct orc_error	 err;
	struct event_base	*base;
	struct store		*s;
	sqlite3			*db;
	int			 i;

	tsc.busy_ms = 5000;
	base = event_base_new();
	REQUIRE(base != NULL);
	s = store_open_with(DB, 0, base, &tsc, &err);
	REQUIRE(s != NULL);
	REQUIRE(sqlite3_open(DB, &db) == SQLITE_OK);
	REQUIRE(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL,
	    NULL) == SQLITE_OK);
	memset(&seq_seen, 0, sizeof seq_seen);
	seq_submit(s, 1);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);	/* out */
	seq_submit(s, 2);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);	/* follows */
	REQUIRE(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	/* Both land with no turn of the loop. */
	for (i = 0; i < 1000 && query_int("SELECT count(*) FROM runs") < 2;
	    i++)
		usleep(10000);
	CHECK(query_int("SELECT count(*) FROM runs") == 2);
	CHECK(seq_seen.n == 0);
	for (i = 0; i < 100 && seq_seen.n < 2; i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(seq_seen.n == 2 && seq_seen.ids[0] == 1 &&
	    seq_seen.ids[1] == 2);
	store_get_stats(s, &st);
	CHECK(st.commits == 2 && st.changes == 2);

	/* Now the batch out fails (the lock outlasts the busy timeout). */
	store_close(s);
	tsc.busy_ms = 300;
	s = store_open_with(DB, 0, base, &tsc, &err);
	REQUIRE(s != NULL);
	REQUIRE(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL,
	    NULL) == SQLITE_OK);
	memset(&seq_seen, 0, sizeof seq_seen);
	seq_submit(s, 3);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	seq_submit(s, 4);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	for (i = 0; i < 100 && store_healthy(s); i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(!store_healthy(s));
	CHECK(store_pending(s) == 2);
	seq_submit(s, 5);
	REQUIRE(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	for (i = 0; i < 1000 && seq_seen.n < 3; i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(store_healthy(s));
	CHECK(seq_seen.n == 3 && seq_seen.ids[0] == 3 &&
	    seq_seen.ids[1] == 4 && seq_seen.ids[2] == 5);
	CHECK(query_int("SELECT count(*) FROM runs") == 5);
	CHECK(store_pending(s) == 0);
	store_close(s);
	event_base_free(base);
	tsc.busy_ms = -1;
}

/*
 * A lazy change is not committed on its own at once: it joins the next
 * urgent change's commit, in submit order, or, with none, commits alone
 * after STORE_LAZY_MS.
 */
static void
test_store_lazy(void)
{
	struct store_stats	 st;
	struct orc_error	 err;
	struct event_base	*base;
	struct store		*s;
	int64_t			 t0;
	int			 i;

	base = loop_base_new();	/* precise timers, as the daemon */
	REQUIRE(base != NULL);
	s = store_open_with(DB, 0, base, &tsc, &err);
	REQUIRE(s != NULL);
	memset(&seq_seen, 0, sizeof seq_seen);
	seq_submit_lazy(s, 1, 1);
	for (i = 0; i < 3; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	CHECK(store_pending(s) == 1);
	CHECK(query_int("SELECT count(*) FROM runs") == 0);
	seq_submit(s, 2);
	for (i = 0; i < 1000 && seq_seen.n < 2; i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(seq_seen.n == 2 && seq_seen.ids[0] == 1 &&
	    seq_seen.ids[1] == 2);
	store_get_stats(s, &st);
	CHECK(st.commits == 1 && st.changes == 2);

	/* Alone, it waits for the timer. */
	t0 = orc_mono_ms();
	seq_submit_lazy(s, 3, 1);
	for (i = 0; i < 1000 && seq_seen.n < 3; i++)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(seq_seen.n == 3 && seq_seen.ids[2] == 3);
	CHECK(orc_mono_ms() - t0 >= STORE_LAZY_MS);
	store_get_stats(s, &st);
	CHECK(st.commits == 2 && st.changes == 3);
	CHECK(store_pending(s) == 0);
	store_close(s);
	event_base_free(base);
}

/* The same on the loop's own thread (ORCH_COMMIT_THREAD=0). */
static void
test_store_lazy_without_thread(void)
{
	tsc.no_commit_thread = 1;
	test_store_lazy();
	tsc.no_commit_thread = 0;
}
#endif

/* The two tests above on the loop's own thread (ORCH_COMMIT_THREAD=0),
 * each in a fresh folder of its own. */
static void
test_store_batch_without_thread(void)
{
	tsc.no_commit_thread = 1;
	test_store_batch_on_loop();
	tsc.no_commit_thread = 0;
}

static void
test_store_retry_without_thread(void)
{
	tsc.no_commit_thread = 1;
	test_store_retry_when_locked();
	tsc.no_commit_thread = 0;
}

/* Collects listed ids. */
struct ids {
	char	buf[512];
	int	n;
	int	stop_after;
};

/* Appends the run's number. */
static int
ids_cb(const struct run_rec *r, void *arg)
{
	struct ids *l = arg;

	snprintf(l->buf + strlen(l->buf), 8, "%d,", atoi(r->id + 1));
	l->n++;
	return l->stop_after != 0 && l->n >= l->stop_after;
}

/* Lists with a filter; the ids joined. */
static const char *
list(struct store *s, struct ids *l, const char *workflow, int state,
    int64_t since, int64_t until, const char *error, const char *before,
    int limit)
{
	static struct orc_error	err;
	struct run_filter	f;

	memset(&f, 0, sizeof f);
	f.workflow = workflow;
	f.state = state;
	f.since = since;
	f.until = until;
	f.error_like = error;
	f.before_id = before;
	f.limit = limit;
	memset(l, 0, sizeof *l);
	if (store_list_runs(s, &f, ids_cb, l, &err) == -1)
		return err.message;
	return l->buf;
}

/* Filters, paging and counts. */
static void
test_store_list_and_count(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct ids		 l;
	int64_t			 counts[RUN_STATE_COUNT];
	char			 before[RUN_ID_LEN + 1];
	int			 i;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	for (i = 1; i <= 10; i++)
		add_run(s, i, i % 2 ? "odd" : "even",
		    i <= 4 ? RUN_FAILED : i <= 7 ? RUN_SUCCEEDED : RUN_QUEUED,
		    i == 2 ? "disk full on /var" : i == 3 ? "timeout" : NULL,
		    NULL, 0, 0);
	REQUIRE(store_flush(s, &err) == 0);

	CHECK_STR(list(s, &l, NULL, -1, 0, 0, NULL, NULL, 0),
	    "10,9,8,7,6,5,4,3,2,1,");
	CHECK_STR(list(s, &l, "odd", -1, 0, 0, NULL, NULL, 0), "9,7,5,3,1,");
	CHECK_STR(list(s, &l, NULL, RUN_FAILED, 0, 0, NULL, NULL, 0),
	    "4,3,2,1,");
	CHECK_STR(list(s, &l, "even", RUN_FAILED, 0, 0, NULL, NULL, 0),
	    "4,2,");
	CHECK_STR(list(s, &l, NULL, -1, 3000, 6000, NULL, NULL, 0),
	    "5,4,3,");
	CHECK_STR(list(s, &l, NULL, -1, 0, 0, "full", NULL, 0), "2,");
	/* A LIKE pattern is not a pattern here. */
	CHECK_STR(list(s, &l, NULL, -1, 0, 0, "%", NULL, 0), "");
	CHECK_STR(list(s, &l, NULL, -1, 0, 0, NULL, NULL, 3), "10,9,8,");
	mkid(before, 8);
	CHECK_STR(list(s, &l, NULL, -1, 0, 0, NULL, before, 3), "7,6,5,");
	CHECK_STR(list(s, &l, "odd", RUN_SUCCEEDED, 1, 100000, NULL, before,
	    10), "7,5,");
	/* Same filters again: the cached statement is reused and reset. */
	CHECK_STR(list(s, &l, "odd", RUN_SUCCEEDED, 1, 100000, NULL, before,
	    10), "7,5,");
	/* A callback that returns non-zero stops. */
	memset(&l, 0, sizeof l);
	l.stop_after = 2;
	{
		struct run_filter f;

		memset(&f, 0, sizeof f);
		f.state = -1;
		CHECK(store_list_runs(s, &f, ids_cb, &l, &err) == 0);
	}
	CHECK(l.n == 2);

	REQUIRE(store_count_runs(s, NULL, counts, &err) == 0);
	CHECK(counts[RUN_FAILED] == 4);
	CHECK(counts[RUN_SUCCEEDED] == 3);
	CHECK(counts[RUN_QUEUED] == 3);
	CHECK(counts[RUN_RUNNING] == 0);
	REQUIRE(store_count_runs(s, "odd", counts, &err) == 0);
	CHECK(counts[RUN_FAILED] == 2);
	CHECK(counts[RUN_SUCCEEDED] == 2);
	CHECK(counts[RUN_QUEUED] == 1);
	REQUIRE(store_count_runs(s, "none", counts, &err) == 0);
	CHECK(counts[RUN_FAILED] == 0);
	store_close(s);
}

/* Says "ghost" is dead. */
static int
gone_fn(const char *owner, void *arg)
{
	(*(int *)arg)++;
	return strcmp(owner, "ghost") == 0;
}

/* Collects claimed runs and checks they are full records. */
static int
claim_cb(const struct run_rec *r, void *arg)
{
	if (r->workflow == NULL || r->input == NULL ||
	    r->lease_owner == NULL || strcmp(r->lease_owner, "me") != 0)
		return 0;
	return ids_cb(r, arg);
}

/* What an async claim handed over. */
struct async_claim {
	int	 called;
	int	 failed;
	char	 ids[256];
};

static void
async_claim_cb(const struct run_rec *recs, size_t n,
    const struct orc_error *err, void *arg)
{
	struct async_claim *ac = arg;
	size_t i;

	ac->called++;
	ac->failed = err != NULL;
	for (i = 0; i < n; i++) {
		strncat(ac->ids, recs[i].id + RUN_ID_LEN - 1,
		    sizeof ac->ids - strlen(ac->ids) - 1);
		if (recs[i].lease_owner == NULL ||
		    strcmp(recs[i].lease_owner, "me") != 0)
			ac->failed = 1;
	}
}

/* The claim and the lease renewal on the commit thread: after what was
 * queued before them, with the answer on the loop. */
static void
test_store_claim_async(void)
{
	struct orc_error	 err;
	struct event_base	*base;
	struct store		*s;
	struct run_rec		 got;
	struct async_claim	 ac;
	int64_t			 now = orc_now_ms();

	base = event_base_new();
	REQUIRE(base != NULL);
	s = store_open(DB, 0, base, &err);
	REQUIRE(s != NULL);
	add_run(s, 1, "wf", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);
	add_run(s, 2, "wf", RUN_RUNNING, NULL, "live", now + 60000,
	    DEAD_NONE);
	add_run(s, 3, "wf", RUN_RUNNING, NULL, "old", now - 1, DEAD_NONE);
	memset(&ac, 0, sizeof ac);
	/* Queued behind the runs: they are in when it claims. */
	store_claim_runs_async(s, "me", now + 30000, NULL, NULL,
	    async_claim_cb, &ac);
	CHECK(ac.called == 0);
	event_base_dispatch(base);
	CHECK(ac.called == 1 && !ac.failed);
	CHECK_STR(ac.ids, "13");
	store_renew_leases_async(s, "me", now + 90000);
	event_base_dispatch(base);
	REQUIRE(store_get_run(s, "R0000000000000000000000003", &got,
	    &err) == 0);
	CHECK(got.lease_until == now + 90000);
	run_rec_clear(&got);
	REQUIRE(store_get_run(s, "R0000000000000000000000002", &got,
	    &err) == 0);
	CHECK_STR(got.lease_owner, "live");
	run_rec_clear(&got);
	store_close(s);
	event_base_free(base);
}

/* What a take of cancel requests handed over. */
static void
cancels_cb(const char *const *ids, size_t n, const struct orc_error *err,
    void *arg)
{
	struct async_claim *ac = arg;
	size_t i;

	ac->called++;
	ac->failed = err != NULL;
	for (i = 0; i < n; i++)
		strncat(ac->ids, ids[i] + RUN_ID_LEN - 1,
		    sizeof ac->ids - strlen(ac->ids) - 1);
}

/* Cancel requests: recorded for any run, taken only by the process that
 * holds the run, once. */
static void
test_store_cancel_requests(void)
{
	struct orc_error	 err;
	struct event_base	*base;
	struct store		*s;
	struct async_claim	 ac;
	int64_t			 now = orc_now_ms();

	base = event_base_new();
	REQUIRE(base != NULL);
	s = store_open(DB, 0, base, &err);
	REQUIRE(s != NULL);
	add_run(s, 1, "wf", RUN_RUNNING, NULL, "me", now + 60000, DEAD_NONE);
	add_run(s, 2, "wf", RUN_RUNNING, NULL, "other", now + 60000,
	    DEAD_NONE);
	REQUIRE(store_request_cancel(s, "R0000000000000000000000001",
	    &err) == 0);
	REQUIRE(store_request_cancel(s, "R0000000000000000000000002",
	    &err) == 0);
	memset(&ac, 0, sizeof ac);
	store_take_cancels_async(s, "me", cancels_cb, &ac);
	event_base_dispatch(base);
	CHECK(ac.called == 1 && !ac.failed);
	CHECK_STR(ac.ids, "1");
	/* Taken once. */
	memset(&ac, 0, sizeof ac);
	store_take_cancels_async(s, "me", cancels_cb, &ac);
	event_base_dispatch(base);
	CHECK(ac.called == 1 && !ac.failed);
	CHECK_STR(ac.ids, "");
	/* The other's stays for the other. */
	memset(&ac, 0, sizeof ac);
	store_take_cancels_async(s, "other", cancels_cb, &ac);
	event_base_dispatch(base);
	CHECK_STR(ac.ids, "2");
	store_close(s);
	event_base_free(base);
}

/* Leases: free, expired, own and dead owners' runs are claimed. */
static void
test_store_claim(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r, got;
	struct store_change	 ch;
	struct ids		 l;
	int64_t			 now = orc_now_ms();
	int			 asked = 0;
	char			 id2[RUN_ID_LEN + 1], id9[RUN_ID_LEN + 1];
	const char		*want[] = { id2, id9, NULL };

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	add_run(s, 1, "wf", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);
	add_run(s, 2, "wf", RUN_RUNNING, NULL, "live", now + 60000,
	    DEAD_NONE);
	add_run(s, 3, "wf", RUN_RETRYING, NULL, "ghost", now + 60000,
	    DEAD_NONE);
	add_run(s, 4, "wf", RUN_RUNNING, NULL, "old", now - 1, DEAD_NONE);
	add_run(s, 5, "wf", RUN_SUCCEEDED, NULL, NULL, 0, DEAD_NONE);
	add_run(s, 6, "wf", RUN_FAILED, NULL, NULL, 0, DEAD_PENDING);
	add_run(s, 7, "wf", RUN_FAILED, NULL, NULL, 0, DEAD_DONE);
	add_run(s, 8, "wf", RUN_RUNNING, NULL, "me", now + 5, DEAD_NONE);
	REQUIRE(store_flush(s, &err) == 0);
	/* Pending changes are committed before claiming. */
	add_run(s, 9, "other", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);

	memset(&l, 0, sizeof l);
	REQUIRE(store_claim_runs(s, "me", now + 30000, NULL, "wf", gone_fn,
	    &asked, claim_cb, &l, &err) == 0);
	CHECK_STR(l.buf, "1,3,4,6,8,");
	CHECK(asked >= 1);
	CHECK(store_pending(s) == 0);
	REQUIRE(store_get_run(s, "R0000000000000000000000002", &got,
	    &err) == 0);
	CHECK_STR(got.lease_owner, "live");
	run_rec_clear(&got);
	REQUIRE(store_get_run(s, "R0000000000000000000000003", &got,
	    &err) == 0);
	CHECK_STR(got.lease_owner, "me");
	CHECK(got.lease_until == now + 30000);
	run_rec_clear(&got);

	/* By id: the live one stays, the other workflow's free one comes. */
	mkid(id2, 2);
	mkid(id9, 9);
	memset(&l, 0, sizeof l);
	REQUIRE(store_claim_runs(s, "me", now + 30000, want, NULL, NULL,
	    NULL, claim_cb, &l, &err) == 0);
	CHECK_STR(l.buf, "9,");

	/* Another owner gets nothing now. */
	memset(&l, 0, sizeof l);
	REQUIRE(store_claim_runs(s, "you", now + 30000, NULL, NULL, NULL,
	    NULL, ids_cb, &l, &err) == 0);
	CHECK(l.n == 0);

	REQUIRE(store_renew_leases(s, "me", now + 90000, &err) == 0);
	REQUIRE(store_get_run(s, "R0000000000000000000000001", &got,
	    &err) == 0);
	CHECK(got.lease_until == now + 90000);
	run_rec_clear(&got);

	/* Finishing lets the lease go, unless on_failure is pending. The
	 * claims gave both runs a new owner, so a new token (PostgreSQL). */
	mkrun(&r, 1, "wf", RUN_SUCCEEDED);
	r.lease_epoch = 1;
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	store_submit(s, &ch);
	unrun(&r);
	mkrun(&r, 4, "wf", RUN_FAILED);
	r.lease_epoch = 1;
	r.dead = DEAD_PENDING;
	store_submit(s, &ch);
	unrun(&r);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_get_run(s, "R0000000000000000000000001", &got,
	    &err) == 0);
	CHECK(got.state == RUN_SUCCEEDED);
	CHECK(got.lease_owner == NULL && got.lease_until == 0);
	run_rec_clear(&got);
	REQUIRE(store_get_run(s, "R0000000000000000000000004", &got,
	    &err) == 0);
	CHECK(got.state == RUN_FAILED && got.dead == DEAD_PENDING);
	CHECK_STR(got.lease_owner, "me");
	run_rec_clear(&got);
	store_close(s);
}

/* Updates change the moving columns, input and definition on request. */
static void
test_store_update_flags(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r, got;
	struct store_change	 ch;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	add_run(s, 1, "wf", RUN_FAILED, "boom", NULL, 0, DEAD_NONE);

	mkrun(&r, 1, "wf2", RUN_RETRYING);
	json_decref(r.input);
	r.input = json_string("edited");
	r.def_hash = (char *)"h2";
	r.output = json_pack("{s:b}", "ok", 1);
	r.due_at = 77;
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	store_submit(s, &ch);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_get_run(s, r.id, &got, &err) == 0);
	CHECK(got.state == RUN_RETRYING);
	CHECK(got.due_at == 77);
	CHECK(got.error == NULL);
	CHECK(json_is_true(json_object_get(got.output, "ok")));
	CHECK(json_is_object(got.input));	/* not edited */
	CHECK_STR(got.workflow, "wf");
	CHECK_STR(got.def_hash, "h1");
	run_rec_clear(&got);

	ch.flags = STORE_RUN_SET_INPUT | STORE_RUN_SET_DEF;
	store_submit(s, &ch);
	unrun(&r);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_get_run(s, "R0000000000000000000000001", &got,
	    &err) == 0);
	CHECK_STR(json_string_value(got.input), "edited");
	CHECK_STR(got.workflow, "wf2");
	CHECK_STR(got.def_hash, "h2");
	CHECK(got.lease_owner == NULL);
	run_rec_copy(&r, &got);
	run_rec_clear(&got);
	CHECK_STR(r.workflow, "wf2");

	/* The lease is written only when asked. */
	free(r.lease_owner);
	r.lease_owner = xstrdup("me");
	r.lease_until = 99;
	ch.run = &r;
	ch.flags = 0;
	store_submit(s, &ch);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_get_run(s, r.id, &got, &err) == 0);
	CHECK(got.lease_owner == NULL);
	run_rec_clear(&got);
	/* Taking the lease comes with the next token. */
	r.lease_epoch++;
	ch.flags = STORE_RUN_SET_LEASE;
	store_submit(s, &ch);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_get_run(s, r.id, &got, &err) == 0);
	CHECK_STR(got.lease_owner, "me");
	CHECK(got.lease_until == 99);
	CHECK(got.state == RUN_RETRYING);
	run_rec_clear(&got);
	run_rec_clear(&r);
	store_close(s);
}

/* A move within a state writes the moving columns, and a state change
 * after it still updates the state, its indexes and the counters. */
static void
test_store_progress(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r, got;
	struct transition_rec	 t;
	struct store_change	 ch;
	int64_t			 counts[RUN_STATE_COUNT];

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	mkrun(&r, 1, "wf", RUN_RUNNING);
	submit_run(s, &r, NULL, NULL);
	memset(&t, 0, sizeof t);
	memcpy(t.run_id, r.id, sizeof t.run_id);
	t.from_state = t.to_state = RUN_RUNNING;
	t.event = (char *)"step_succeeded";
	r.seq = 2;
	r.step = (char *)"second";
	r.attempt = 3;
	r.error = (char *)"slow";
	r.updated_at = 5001;
	r.due_at = 6001;
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.transition = &t;
	store_submit(s, &ch);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_get_run(s, r.id, &got, &err) == 0);
	CHECK(got.state == RUN_RUNNING);
	CHECK(got.seq == 2);
	CHECK_STR(got.step, "second");
	CHECK(got.attempt == 3);
	CHECK_STR(got.error, "slow");
	CHECK(got.updated_at == 5001);
	CHECK(got.due_at == 6001);
	CHECK(got.finished_at == 0);
	CHECK(json_is_object(got.input));
	run_rec_clear(&got);

	/* Then it finishes: the state, its index and the counters move. */
	t.to_state = r.state = RUN_SUCCEEDED;
	r.step = NULL;
	r.error = NULL;
	r.finished_at = 7001;
	r.output = json_pack("{s:i}", "total", 7);
	store_submit(s, &ch);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_get_run(s, r.id, &got, &err) == 0);
	CHECK(got.state == RUN_SUCCEEDED);
	CHECK(got.finished_at == 7001);
	CHECK(json_integer_value(json_object_get(got.output, "total")) == 7);
	run_rec_clear(&got);
	CHECK(query_int("SELECT count(*) FROM runs WHERE state = "
	    "'succeeded'") == 1);
	REQUIRE(store_count_runs(s, "wf", counts, &err) == 0);
	CHECK(counts[RUN_SUCCEEDED] == 1);
	CHECK(counts[RUN_RUNNING] == 0);
	unrun(&r);
	store_close(s);
}

/* Submits run r's move from one state to its current one. */
static void
fold_move(struct store *s, struct run_rec *r, enum run_state from,
    unsigned flags)
{
	struct transition_rec	t;
	struct store_change	ch;

	memset(&t, 0, sizeof t);
	memcpy(t.run_id, r->id, sizeof t.run_id);
	t.from_state = from;
	t.to_state = r->state;
	t.event = (char *)"moved";
	t.seq = r->seq;
	memset(&ch, 0, sizeof ch);
	ch.run = r;
	ch.flags = flags;
	ch.transition = &t;
	store_submit(s, &ch);
}

/*
 * Several moves of one run in one transaction write its row once (the
 * store folds them) and end where the last move left it: a new run is
 * inserted in its last state, a finished one lets its lease go, a state
 * change followed by a move within the new state keeps the state, and
 * what a skipped move asked for (a new input, a lease) is written.
 */
static void
test_store_fold(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 a, b, got;
	int64_t			 counts[RUN_STATE_COUNT];

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	mkrun(&a, 1, "wf", RUN_QUEUED);
	a.lease_owner = (char *)"me";
	a.lease_until = 10;
	submit_run(s, &a, NULL, NULL);
	a.state = RUN_RUNNING;
	fold_move(s, &a, RUN_QUEUED, 0);
	json_decref(a.input);
	a.input = json_string("edited");
	a.seq = 2;
	fold_move(s, &a, RUN_RUNNING, STORE_RUN_SET_INPUT);
	a.seq = 3;
	a.step = (char *)"third";
	fold_move(s, &a, RUN_RUNNING, 0);
	mkrun(&b, 2, "wf", RUN_RUNNING);
	b.lease_owner = (char *)"me";
	b.lease_until = 10;
	submit_run(s, &b, NULL, NULL);
	b.state = RUN_SUCCEEDED;
	b.finished_at = 99;
	fold_move(s, &b, RUN_RUNNING, 0);
	REQUIRE(store_flush(s, &err) == 0);

	REQUIRE(store_get_run(s, a.id, &got, &err) == 0);
	CHECK(got.state == RUN_RUNNING);
	CHECK(got.seq == 3);
	CHECK_STR(got.step, "third");
	CHECK_STR(json_string_value(got.input), "edited");
	CHECK_STR(got.lease_owner, "me");
	run_rec_clear(&got);
	REQUIRE(store_get_run(s, b.id, &got, &err) == 0);
	CHECK(got.state == RUN_SUCCEEDED);
	CHECK(got.finished_at == 99);
	CHECK(got.lease_owner == NULL);
	run_rec_clear(&got);
	CHECK(query_int("SELECT count(*) FROM transitions WHERE run_id = "
	    "'R0000000000000000000000001'") == 4);
	REQUIRE(store_count_runs(s, "wf", counts, &err) == 0);
	CHECK(counts[RUN_RUNNING] == 1);
	CHECK(counts[RUN_SUCCEEDED] == 1);
	CHECK(counts[RUN_QUEUED] == 0);

	/* A stored run: a state change, then a move within the new state. */
	a.state = RUN_RETRYING;
	a.due_at = 50;
	fold_move(s, &a, RUN_RUNNING, 0);
	a.seq = 4;
	fold_move(s, &a, RUN_RETRYING, 0);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_get_run(s, a.id, &got, &err) == 0);
	CHECK(got.state == RUN_RETRYING);
	CHECK(got.seq == 4);
	CHECK(got.due_at == 50);
	CHECK_STR(json_string_value(got.input), "edited");
	run_rec_clear(&got);
	REQUIRE(store_count_runs(s, "wf", counts, &err) == 0);
	CHECK(counts[RUN_RETRYING] == 1);
	CHECK(counts[RUN_RUNNING] == 0);

	/* A lease a skipped move asked for, with the next token. */
	a.lease_owner = (char *)"other";
	a.lease_epoch = 1;
	fold_move(s, &a, RUN_RETRYING, STORE_RUN_SET_LEASE);
	a.seq = 5;
	fold_move(s, &a, RUN_RETRYING, 0);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_get_run(s, a.id, &got, &err) == 0);
	CHECK(got.seq == 5);
	CHECK_STR(got.lease_owner, "other");
	run_rec_clear(&got);
	unrun(&a);
	unrun(&b);
	store_close(s);
}

/* What a store refused: "run>holder," per refused change (0: none). */
struct refusals {
	char	buf[256];
	int	n;
};

/* Appends one refusal (store_refused_cb). */
static void
refused_cb(const char *run_id, const char *existing, void *arg)
{
	struct refusals *rf = arg;
	size_t len = strlen(rf->buf);

	snprintf(rf->buf + len, sizeof rf->buf - len, "%d>%d,",
	    atoi(run_id + 1), existing != NULL ? atoi(existing + 1) : 0);
	rf->n++;
}

/* Submits a move of a run with a transition and, when seq, a step. */
static void
submit_move(struct store *s, struct run_rec *r, int from, int seq,
    store_commit_cb cb, void *arg)
{
	struct transition_rec	t;
	struct step_rec		st;
	struct store_change	ch;

	mktrans(&t, r, from, r->state, "moved", r->updated_at);
	memset(&st, 0, sizeof st);
	memcpy(st.run_id, r->id, sizeof st.run_id);
	st.seq = seq;
	st.name = (char *)"first";
	memset(&ch, 0, sizeof ch);
	ch.run = r;
	ch.step = seq > 0 ? &st : NULL;
	ch.transition = &t;
	ch.cb = cb;
	ch.arg = arg;
	store_submit(s, &ch);
}

/* Inserts run n of workflow with an idempotency key into a store. */
static void
add_keyed(struct store *s, int n, const char *workflow, const char *key)
{
	struct run_rec r;

	mkrun(&r, n, workflow, RUN_QUEUED);
	r.idempotency_key = (char *)key;
	submit_run(s, &r, NULL, NULL);
	unrun(&r);
}

/*
 * A cron fire's key is held by one run: another store (another process)
 * firing the same minute is refused, told which run holds the key, and
 * its later writes of that run are refused too; its other runs go in.
 * Other keys, and the same key of another workflow, may repeat.
 */
static void
test_store_unique_cron_key(void)
{
	struct orc_error	 err;
	struct store		*a, *b;
	struct refusals		 rf;
	struct run_rec		 r;
	int			 called = 0;

	a = store_open(DB, 0, NULL, &err);
	REQUIRE(a != NULL);
	b = store_open(DB, 0, NULL, &err);
	REQUIRE(b != NULL);
	memset(&rf, 0, sizeof rf);
	store_set_refused_cb(b, refused_cb, &rf);
	add_keyed(a, 1, "tick", "cron:60000");
	add_keyed(a, 3, "tick", "hook-1");
	REQUIRE(store_flush(a, &err) == 0);

	mkrun(&r, 2, "tick", RUN_QUEUED);
	r.idempotency_key = (char *)"cron:60000";
	submit_run(b, &r, count_cb, &called);
	r.state = RUN_RUNNING;
	submit_move(b, &r, RUN_QUEUED, 0, count_cb, &called);
	add_keyed(b, 4, "tick", "hook-1");
	add_keyed(b, 5, "other", "cron:60000");
	add_keyed(b, 6, "tick", "cron:120000");
	REQUIRE(store_flush(b, &err) == 0);
	CHECK_STR(rf.buf, "2>1,2>1,");
	CHECK(called == 2);
	CHECK(query_int("SELECT count(*) FROM runs") == 5);
	CHECK(query_int("SELECT count(*) FROM runs WHERE id = "
	    "'R0000000000000000000000002'") == 0);
	CHECK(query_int("SELECT count(*) FROM transitions WHERE run_id = "
	    "'R0000000000000000000000002'") == 0);

	memset(&rf, 0, sizeof rf);
	r.state = RUN_SUCCEEDED;
	submit_move(b, &r, RUN_RUNNING, 1, NULL, NULL);
	REQUIRE(store_flush(b, &err) == 0);
	CHECK_STR(rf.buf, "2>0,");
	CHECK(query_int("SELECT count(*) FROM transitions WHERE run_id = "
	    "'R0000000000000000000000002'") == 0);
	CHECK(query_int("SELECT count(*) FROM steps") == 0);
	unrun(&r);
	store_close(a);
	store_close(b);
}

/* One process fires the cron triggers: with SQLite every store says so;
 * with PostgreSQL the first asks and keeps it, a second is told no until
 * the first closes. */
static void
test_store_sched_leader(void)
{
	struct orc_error	 err;
	struct store		*a, *b;
#ifdef TEST_STORE_PG
	int			 i;
#endif

	a = store_open(DB, 0, NULL, &err);
	REQUIRE(a != NULL);
	b = store_open(DB, 0, NULL, &err);
	REQUIRE(b != NULL);
	CHECK(store_sched_leader(a, &err) == 1);
	CHECK(store_sched_leader(a, &err) == 1);
#ifdef TEST_STORE_PG
	CHECK(store_sched_leader(b, &err) == 0);
	store_close(a);
	/* The server lets the lock go once it sees the session end: that
	 * takes a moment after the connection closes. */
	for (i = 0; i < 100 && store_sched_leader(b, &err) != 1; i++)
		usleep(50 * 1000);
	CHECK(store_sched_leader(b, &err) == 1);
#else
	CHECK(store_sched_leader(b, &err) == 1);
	store_close(a);
#endif
	store_close(b);
}

/* A definition is written once per store, and never overwritten. */
static void
test_store_definitions_once(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r;
	struct def_rec		 d, got;
	struct store_change	 ch;
	int			 i;

	memset(&d, 0, sizeof d);
	d.hash = (char *)"h1";
	d.name = (char *)"wf";
	d.body = (char *)"first body";
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	for (i = 1; i <= 2; i++) {
		mkrun(&r, i, "wf", RUN_QUEUED);
		memset(&ch, 0, sizeof ch);
		ch.run = &r;
		ch.flags = STORE_RUN_INSERT;
		ch.def = &d;
		store_submit(s, &ch);
		unrun(&r);
	}
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(query_int("SELECT count(*) FROM definitions") == 1);

	/* Known to this store: not written again. */
	REQUIRE(exec_sql(DB, "DELETE FROM definitions") == 0);
	mkrun(&r, 3, "wf", RUN_QUEUED);
	store_submit(s, &ch);
	unrun(&r);
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(query_int("SELECT count(*) FROM definitions") == 0);
	store_close(s);

	/* A new store writes it, and a stored body is never replaced. */
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	mkrun(&r, 4, "wf", RUN_QUEUED);
	store_submit(s, &ch);
	unrun(&r);
	REQUIRE(store_flush(s, &err) == 0);
	store_close(s);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	d.body = (char *)"second body";
	mkrun(&r, 5, "wf", RUN_QUEUED);
	store_submit(s, &ch);
	unrun(&r);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_get_definition(s, "h1", &got, &err) == 0);
	CHECK_STR(got.body, "first body");
	def_rec_clear(&got);
	store_close(s);
}

/* Collects what the dashboard reads see. */
static int
count_wf_cb(const char *workflow, enum run_state state, int64_t n, void *arg)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 64, "%s/%s=%lld;", workflow,
	    run_state_name(state), (long long)n);
	return 0;
}

/* Collects finished runs. */
static int
finish_cb(const struct finish_rec *f, void *arg)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 64, "%lld:%s:%lld;",
	    (long long)f->finished_at, run_state_name(f->state),
	    (long long)f->duration_ms);
	return 0;
}

/* Moves run n to a state at a time with its transition (finishing it
 * then when the state is final). */
static void
move_run(struct store *s, int n, const char *workflow, enum run_state from,
    enum run_state to, int64_t at, const char *error)
{
	struct run_rec		r;
	struct transition_rec	t;
	struct store_change	ch;

	mkrun(&r, n, workflow, to);
	r.updated_at = at;
	r.finished_at = run_state_is_final(to) ? at : 0;
	r.error = (char *)error;
	mktrans(&t, &r, from, to, "moved", at);
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.transition = &t;
	store_submit(s, &ch);
	unrun(&r);
}

/* The dashboard's reads: counters kept by the writes, finished runs,
 * searches; and the idempotency lookup. */
static void
test_store_dashboard_reads(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r;
	struct ids		 l;
	int64_t			 n, counts[RUN_STATE_COUNT];
	char			 buf[512] = "", id[RUN_ID_LEN + 1];
	int			 i;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	for (i = 1; i <= 6; i++)
		add_run(s, i, i <= 3 ? "b" : "a", RUN_RUNNING, NULL, NULL, 0,
		    DEAD_NONE);
	REQUIRE(store_flush(s, &err) == 0);
	/* 1, 2 succeed; 3 fails; 4 succeeds, 5 fails then is redriven. */
	move_run(s, 1, "b", RUN_RUNNING, RUN_SUCCEEDED, 50000, NULL);
	move_run(s, 2, "b", RUN_RUNNING, RUN_SUCCEEDED, 60000, NULL);
	move_run(s, 3, "b", RUN_RUNNING, RUN_FAILED, 70000, "disk full");
	move_run(s, 4, "a", RUN_RUNNING, RUN_SUCCEEDED, 80000, NULL);
	move_run(s, 5, "a", RUN_RUNNING, RUN_FAILED, 90000, "no route");
	REQUIRE(store_flush(s, &err) == 0);
	move_run(s, 5, "a", RUN_FAILED, RUN_QUEUED, 91000, NULL);
	REQUIRE(store_flush(s, &err) == 0);

	REQUIRE(store_count_by_workflow(s, count_wf_cb, buf, &err) == 0);
	CHECK_STR(buf, "a/queued=1;a/running=1;a/succeeded=1;"
	    "b/failed=1;b/succeeded=2;");
	REQUIRE(store_count_runs(s, NULL, counts, &err) == 0);
	CHECK(counts[RUN_SUCCEEDED] == 3 && counts[RUN_FAILED] == 1 &&
	    counts[RUN_QUEUED] == 1 && counts[RUN_RUNNING] == 1);
	REQUIRE(store_count_runs(s, "a", counts, &err) == 0);
	CHECK(counts[RUN_SUCCEEDED] == 1 && counts[RUN_FAILED] == 0);

	buf[0] = '\0';
	REQUIRE(store_list_finished(s, 55000, 0, finish_cb, buf, &err) == 0);
	CHECK_STR(buf, "80000:succeeded:76000;70000:failed:67000;"
	    "60000:succeeded:58000;");
	buf[0] = '\0';
	REQUIRE(store_list_finished(s, 0, 1, finish_cb, buf, &err) == 0);
	CHECK_STR(buf, "80000:succeeded:76000;");
	REQUIRE(store_count_finished(s, RUN_SUCCEEDED, 55000, 0, &n,
	    &err) == 0);
	CHECK(n == 2);
	REQUIRE(store_count_finished(s, RUN_SUCCEEDED, 0, 2, &n, &err) == 0);
	CHECK(n == 2);
	/* The redriven run took 4 s from its redrive (90 s from its
	 * creation). */
	move_run(s, 5, "a", RUN_QUEUED, RUN_SUCCEEDED, 95000, NULL);
	REQUIRE(store_flush(s, &err) == 0);
	buf[0] = '\0';
	REQUIRE(store_list_finished(s, 85000, 0, finish_cb, buf, &err) == 0);
	CHECK_STR(buf, "95000:succeeded:4000;");

	/* By id prefix, then by error text among the newest with one. */
	memset(&l, 0, sizeof l);
	REQUIRE(store_search_runs(s, "R000000000000000000000000", 10, 10,
	    ids_cb, &l, &err) == 0);
	CHECK_STR(l.buf, "6,5,4,3,2,1,");
	memset(&l, 0, sizeof l);
	REQUIRE(store_search_runs(s, "disk", 10, 10, ids_cb, &l, &err) == 0);
	CHECK_STR(l.buf, "3,");
	memset(&l, 0, sizeof l);
	REQUIRE(store_search_runs(s, "%", 10, 10, ids_cb, &l, &err) == 0);
	CHECK_STR(l.buf, "");

	/* Idempotency: the newest run of the workflow with the key, since. */
	for (i = 7; i <= 8; i++) {
		mkrun(&r, i, "a", RUN_QUEUED);
		r.idempotency_key = (char *)"k";
		submit_run(s, &r, NULL, NULL);
		unrun(&r);
	}
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(store_find_idempotent(s, "a", "k", 0, id, &err) == 1);
	CHECK_STR(id, "R0000000000000000000000008");
	CHECK(store_find_idempotent(s, "a", "k", 9000, id, &err) == 0);
	CHECK(store_find_idempotent(s, "b", "k", 0, id, &err) == 0);
	CHECK(store_find_idempotent(s, "a", "other", 0, id, &err) == 0);
	store_close(s);
}

/* Collects schedule rows. */
static int
sched_cb(const struct schedule_rec *r, void *arg)
{
	char *buf = arg;

	snprintf(buf + strlen(buf), 96, "%s:%s:%s:%lld:%s:%lld;", r->workflow,
	    r->schedule, r->timezone ? r->timezone : "-",
	    (long long)r->next_at, r->last_run_id ? r->last_run_id : "-",
	    (long long)r->fired);
	return 0;
}

/* Schedule rows are upserted with the batch and listed by workflow. */
static void
test_store_schedules(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct schedule_rec	 r, got;
	char			 buf[512] = "";

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	memset(&r, 0, sizeof r);
	r.workflow = (char *)"zeta";
	r.schedule = (char *)"*/5 * * * *";
	r.next_at = 300000;
	store_put_schedule(s, &r);
	r.workflow = (char *)"alpha";
	r.schedule = (char *)"0 3 * * *";
	r.timezone = (char *)"Europe/Paris";
	store_put_schedule(s, &r);
	REQUIRE(store_flush(s, &err) == 0);
	r.next_at = 900000;
	r.last_run_id = (char *)"R1";
	r.fired = 4;
	store_put_schedule(s, &r);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_list_schedules(s, sched_cb, buf, &err) == 0);
	CHECK_STR(buf, "alpha:0 3 * * *:Europe/Paris:900000:R1:4;"
	    "zeta:*/5 * * * *:-:300000:-:0;");
	CHECK(store_get_schedule(s, "zeta", &got, &err) == 1);
	CHECK(got.next_at == 300000 && got.timezone == NULL);
	schedule_rec_clear(&got);
	CHECK(store_get_schedule(s, "none", &got, &err) == 0);
	store_close(s);
}

#ifdef TEST_STORE_PG
/* Keeps the lease token of the claimed run. */
static int
epoch_cb(const struct run_rec *r, void *arg)
{
	*(int64_t *)arg = r->lease_epoch;
	return 0;
}

/*
 * A lease taken over fences its old holder: what it writes of the run
 * with its old token is refused, step and transition included, and what
 * the new holder writes goes in. Claiming its own run keeps the token;
 * a redrive takes the next one.
 */
static void
test_store_pg_fencing(void)
{
	struct orc_error	 err;
	struct store		*a, *b;
	struct refusals		 rf;
	struct run_rec		 r;
	int64_t			 now = orc_now_ms(), epoch = -1;

	a = store_open(DB, 0, NULL, &err);
	REQUIRE(a != NULL);
	b = store_open(DB, 0, NULL, &err);
	REQUIRE(b != NULL);
	memset(&rf, 0, sizeof rf);
	store_set_refused_cb(a, refused_cb, &rf);
	add_run(a, 1, "wf", RUN_RUNNING, NULL, "a", now - 1, DEAD_NONE);
	REQUIRE(store_flush(a, &err) == 0);
	REQUIRE(store_claim_runs(b, "b", now + 30000, NULL, NULL, NULL, NULL,
	    epoch_cb, &epoch, &err) == 0);
	CHECK(epoch == 1);
	REQUIRE(store_claim_runs(b, "b", now + 30000, NULL, NULL, NULL, NULL,
	    epoch_cb, &epoch, &err) == 0);
	CHECK(epoch == 1);
	CHECK(query_int("SELECT lease_epoch FROM runs") == 1);

	/* a wakes up and finishes the step with its old token. */
	mkrun(&r, 1, "wf", RUN_SUCCEEDED);
	r.lease_owner = (char *)"a";
	submit_move(a, &r, RUN_RUNNING, 1, NULL, NULL);
	REQUIRE(store_flush(a, &err) == 0);
	CHECK_STR(rf.buf, "1>0,");
	CHECK(query_int("SELECT count(*) FROM runs WHERE state = 'running' "
	    "AND lease_owner = 'b'") == 1);
	CHECK(query_int("SELECT count(*) FROM transitions") == 1);
	CHECK(query_int("SELECT count(*) FROM steps") == 0);

	/* b, holding the token, finishes it. */
	r.lease_owner = (char *)"b";
	r.lease_epoch = 1;
	submit_move(b, &r, RUN_RUNNING, 1, NULL, NULL);
	REQUIRE(store_flush(b, &err) == 0);
	CHECK(query_int("SELECT count(*) FROM runs WHERE state = "
	    "'succeeded'") == 1);
	CHECK(query_int("SELECT count(*) FROM transitions") == 2);
	CHECK(query_int("SELECT count(*) FROM steps") == 1);

	/* a redrives it with the next token; b's old one is refused. */
	memset(&rf, 0, sizeof rf);
	r.state = RUN_QUEUED;
	r.lease_owner = (char *)"a";
	r.lease_epoch = 2;
	memset(&rf, 0, sizeof rf);
	store_submit(a, &(struct store_change){ .run = &r,
	    .flags = STORE_RUN_SET_LEASE });
	REQUIRE(store_flush(a, &err) == 0);
	CHECK_STR(rf.buf, "");
	CHECK(query_int("SELECT lease_epoch FROM runs WHERE state = "
	    "'queued' AND lease_owner = 'a'") == 2);
	store_set_refused_cb(b, refused_cb, &rf);
	r.lease_epoch = 1;
	r.state = RUN_FAILED;
	submit_move(b, &r, RUN_QUEUED, 0, NULL, NULL);
	REQUIRE(store_flush(b, &err) == 0);
	CHECK_STR(rf.buf, "1>0,");
	CHECK(query_int("SELECT count(*) FROM runs WHERE state = "
	    "'queued'") == 1);
	unrun(&r);
	store_close(a);
	store_close(b);
}

/* With ORCH_BLOB_DIR, large payloads go to files; rows hold references. */
static void
test_store_pg_blobs(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct run_rec		 r, got;
	char			 big[2048];

	tsc.blob_dir = "shared-blobs";
	tsc.blob_bytes = 1000;
	s = store_open_with(DB, 0, NULL, &tsc, &err);
	REQUIRE(s != NULL);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	mkrun(&r, 1, "wf", RUN_QUEUED);
	json_object_set_new(r.input, "big", json_string(big));
	submit_run(s, &r, NULL, NULL);
	unrun(&r);
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(query_int("SELECT count(*) FROM runs WHERE input LIKE "
	    "'{\"$blob\":%'") == 1);
	REQUIRE(store_get_run(s, "R0000000000000000000000001", &got,
	    &err) == 0);
	CHECK_STR(json_string_value(json_object_get(got.input, "big")), big);
	CHECK(json_integer_value(json_object_get(got.input, "n")) == 1);
	run_rec_clear(&got);
	store_close(s);
	tsc.blob_dir = NULL;
	tsc.blob_bytes = 0;
}

/* Read-only opening: ours is read, anything else is refused clearly. */
static void
test_store_readonly(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct ids		 l;

	s = store_open(DB, STORE_READONLY, NULL, &err);
	CHECK(s == NULL);
	CHECK_STR(err.message, db_msg("not an orchestrator database (schema "
	    "version 0)"));
	REQUIRE(exec_sql(DB, "CREATE TABLE foo (x int)") == 0);
	s = store_open(DB, STORE_READONLY, NULL, &err);
	CHECK(s == NULL);
	CHECK_STR(err.message, db_msg("not an orchestrator database (schema "
	    "version 0)"));
	/* Nor are our tables written into somebody else's database. */
	s = store_open(DB, 0, NULL, &err);
	CHECK(s == NULL);
	CHECK_STR(err.message, db_msg("not an orchestrator database (schema "
	    "version 0)"));
	CHECK(query_int("SELECT count(*) FROM pg_tables WHERE "
	    "tablename = 'runs'") == 0);
	REQUIRE(exec_sql(DB, "DROP TABLE foo") == 0);

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	add_run(s, 1, "wf", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);
	store_close(s);
	s = store_open(DB, STORE_READONLY, NULL, &err);
	REQUIRE(s != NULL);
	CHECK_STR(list(s, &l, NULL, -1, 0, 0, NULL, NULL, 0), "1,");
	CHECK(store_claim_runs(s, "me", 1, NULL, NULL, NULL, NULL, ids_cb,
	    &l, &err) == -1);
	CHECK_CONTAINS(err.message, db_msg("opened read-only"));
	CHECK(store_flush(s, &err) == 0);
	store_close(s);

	REQUIRE(exec_sql(DB, "DELETE FROM schema_version WHERE version = "
	    "(SELECT max(version) FROM schema_version)") == 0);
	s = store_open(DB, STORE_READONLY, NULL, &err);
	CHECK(s == NULL);
	CHECK_CONTAINS(err.message, "is older than this build's");
}

/* Bad settings are refused; a password never shows in a message. */
static void
test_store_memory_and_settings(void)
{
	struct orc_error	 err;
	struct store		*s;
	enum run_state		 st;
	int			 i;

	open_each_sync();

	/* Nothing listens on port 1. */
	s = store_open("postgresql://orc:s3cret@127.0.0.1:1/x?password=s3cret",
	    0, NULL, &err);
	CHECK(s == NULL);
	CHECK(err.code == ORC_EIO);
	CHECK_CONTAINS(err.message, "postgresql://orc@127.0.0.1:1/x: ");
	CHECK(strstr(err.message, "s3cret") == NULL);

	for (i = 0; i < RUN_STATE_COUNT; i++) {
		CHECK(run_state_parse(run_state_name(i), &st) == 0);
		CHECK((int)st == i);
	}
}

/*
 * A database whose transitions are as schema 10 wrote them (states and
 * events by name, a primary key on id) migrates: they read back the same,
 * in their order, an event without a code too.
 */
static void
test_store_pg_migrate_codes(void)
{
	struct orc_error	 err;
	struct store		*s;
	char			 buf[256] = "";

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	store_close(s);
	REQUIRE(exec_sql(DB, "DELETE FROM schema_version WHERE version = "
	    "(SELECT max(version) FROM schema_version);"
	    "ALTER TABLE transitions ALTER COLUMN from_state TYPE TEXT, "
	    "ALTER COLUMN to_state TYPE TEXT, ADD PRIMARY KEY (id);"
	    "INSERT INTO transitions (run_id, at, from_state, to_state, "
	    "event) VALUES ('R1', 1, NULL, 'queued', 'created'), "
	    "('R1', 2, 'queued', 'running', 'started'), "
	    "('R1', 3, 'running', 'succeeded', 'archived')") == 0);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	REQUIRE(store_list_transitions(s, "R1", transition_cb, buf,
	    &err) == 0);
	CHECK_STR(buf, "created:->queued;started:queued>running;"
	    "archived:running>succeeded;");
	store_close(s);
	CHECK(query_int("SELECT count(*) FROM transitions WHERE to_state = 3 "
	    "AND event = 'archived'") == 1);
	CHECK(query_int("SELECT count(*) FROM pg_constraint WHERE conname = "
	    "'transitions_pkey'") == 0);
}

/* Nodes starting together on an empty database migrate it once. */
static void
test_store_pg_concurrent_migrate(void)
{
	struct orc_error	 err;
	struct store		*s;
	pid_t			 pids[6];
	int			 i, status, ok = 0;

	for (i = 0; i < 6; i++) {
		if ((pids[i] = fork()) == 0) {
			s = store_open(DB, 0, NULL, &err);
			if (s != NULL)
				store_close(s);
			_exit(s != NULL ? 0 : 1);
		}
		REQUIRE(pids[i] > 0);
	}
	for (i = 0; i < 6; i++)
		if (waitpid(pids[i], &status, 0) == pids[i] &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	CHECK(ok == 6);
	CHECK(query_int("SELECT count(*) FROM schema_version") ==
	    query_int("SELECT max(version) FROM schema_version"));
	CHECK(query_int("SELECT count(*) FROM pg_tables WHERE "
	    "tablename = 'runs'") == 1);
}

/* A claim skips the rows another node has locked, without waiting, and
 * two stores never hold the same run. */
static void
test_store_pg_skip_locked(void)
{
	struct orc_error	 err;
	struct store		*a, *b;
	struct ids		 la, lb;
	PGconn			*db;
	int64_t			 now = orc_now_ms(), t0;
	int			 i;

	tsc.busy_ms = 5000;
	a = store_open_with(DB, 0, NULL, &tsc, &err);
	REQUIRE(a != NULL);
	b = store_open_with(DB, 0, NULL, &tsc, &err);
	REQUIRE(b != NULL);
	for (i = 1; i <= 6; i++)
		add_run(a, i, "wf", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);
	REQUIRE(store_flush(a, &err) == 0);

	/* Another transaction holds runs 1 and 2. */
	db = PQconnectdb(DB);
	REQUIRE(PQstatus(db) == CONNECTION_OK);
	PQclear(PQexec(db, "BEGIN"));
	PQclear(PQexec(db, "SELECT 1 FROM runs WHERE id IN "
	    "('R0000000000000000000000001', 'R0000000000000000000000002') "
	    "FOR UPDATE"));
	memset(&la, 0, sizeof la);
	t0 = orc_now_ms();
	REQUIRE(store_claim_runs(a, "node-a", now + 60000, NULL, NULL, NULL,
	    NULL, ids_cb, &la, &err) == 0);
	CHECK(orc_now_ms() - t0 < 2000);
	CHECK_STR(la.buf, "3,4,5,6,");
	PQclear(PQexec(db, "COMMIT"));
	PQfinish(db);

	/* b takes what is left; a's runs are a's while a's lease holds. */
	memset(&lb, 0, sizeof lb);
	REQUIRE(store_claim_runs(b, "node-b", now + 60000, NULL, NULL, NULL,
	    NULL, ids_cb, &lb, &err) == 0);
	CHECK_STR(lb.buf, "1,2,");
	memset(&lb, 0, sizeof lb);
	REQUIRE(store_claim_runs(b, "node-b", now + 60000, NULL, NULL, NULL,
	    NULL, ids_cb, &lb, &err) == 0);
	CHECK_STR(lb.buf, "1,2,");	/* its own again */
	CHECK(query_int("SELECT count(*) FROM runs WHERE lease_owner = "
	    "'node-a'") == 4);
	CHECK(query_int("SELECT count(*) FROM runs WHERE lease_owner = "
	    "'node-b'") == 2);

	/* a's leases expire: b takes them over. */
	REQUIRE(exec_sql(DB, "UPDATE runs SET lease_until = 1 WHERE "
	    "lease_owner = 'node-a'") == 0);
	memset(&lb, 0, sizeof lb);
	REQUIRE(store_claim_runs(b, "node-b", now + 60000, NULL, NULL, NULL,
	    NULL, ids_cb, &lb, &err) == 0);
	CHECK_STR(lb.buf, "1,2,3,4,5,6,");
	store_close(a);
	store_close(b);
	tsc.busy_ms = -1;
}

/* Several stores claiming at once from many processes: each run is
 * taken by exactly one. */
static void
test_store_pg_claim_race(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct ids		 l;
	pid_t			 pids[4];
	char			 owner[32];
	int			 i, k, status, ok = 0;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	for (i = 1; i <= 200; i++)
		add_run(s, i, "wf", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);
	REQUIRE(store_flush(s, &err) == 0);
	store_close(s);
	for (i = 0; i < 4; i++) {
		if ((pids[i] = fork()) == 0) {
			snprintf(owner, sizeof owner, "node-%d", i);
			s = store_open(DB, 0, NULL, &err);
			if (s == NULL)
				_exit(1);
			/* Each claims a few times; it sees its own again. */
			for (k = 0; k < 5; k++) {
				memset(&l, 0, sizeof l);
				if (store_claim_runs(s, owner,
				    orc_now_ms() + 60000, NULL, NULL, NULL,
				    NULL, NULL, NULL, &err) == -1)
					_exit(2);
			}
			store_close(s);
			_exit(0);
		}
		REQUIRE(pids[i] > 0);
	}
	for (i = 0; i < 4; i++)
		if (waitpid(pids[i], &status, 0) == pids[i] &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	CHECK(ok == 4);
	CHECK(query_int("SELECT count(*) FROM runs WHERE lease_owner LIKE "
	    "'node-%'") == 200);
	CHECK(query_int("SELECT count(DISTINCT lease_owner) FROM runs") >= 1);
}
#else
/* Read-only opening: ours is read, anything else is refused clearly. */
static void
test_store_readonly(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct ids		 l;
	FILE			*fp;

	s = store_open("missing.db", STORE_READONLY, NULL, &err);
	CHECK(s == NULL);
	CHECK_CONTAINS(err.message, "missing.db: ");

	fp = fopen("text.db", "w");
	REQUIRE(fp != NULL);
	fputs("this is not a database, but it is long enough to be read "
	    "as a header by sqlite when it opens it ..................\n", fp);
	fclose(fp);
	s = store_open("text.db", STORE_READONLY, NULL, &err);
	CHECK(s == NULL);
	CHECK_CONTAINS(err.message, "text.db: not an orchestrator database");
	s = store_open("text.db", 0, NULL, &err);
	CHECK(s == NULL);
	CHECK_CONTAINS(err.message, "text.db: not an orchestrator database");

	REQUIRE(exec_sql("other.db", "CREATE TABLE foo (x)") == 0);
	s = store_open("other.db", STORE_READONLY, NULL, &err);
	CHECK(s == NULL);
	CHECK_STR(err.message, "other.db: not an orchestrator database "
	    "(schema version 0)");
	/* Nor are our tables written into somebody else's database. */
	s = store_open("other.db", 0, NULL, &err);
	CHECK(s == NULL);
	CHECK_STR(err.message, "other.db: not an orchestrator database "
	    "(schema version 0)");

	REQUIRE(exec_sql("newer.db", "PRAGMA user_version = 99") == 0);
	s = store_open("newer.db", STORE_READONLY, NULL, &err);
	CHECK(s == NULL);
	CHECK_STR(err.message, "newer.db: not an orchestrator database "
	    "(schema version 99)");

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	add_run(s, 1, "wf", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);
	store_close(s);
	s = store_open(DB, STORE_READONLY, NULL, &err);
	REQUIRE(s != NULL);
	CHECK_STR(list(s, &l, NULL, -1, 0, 0, NULL, NULL, 0), "1,");
	CHECK(store_claim_runs(s, "me", 1, NULL, NULL, NULL, NULL, ids_cb,
	    &l, &err) == -1);
	CHECK_CONTAINS(err.message, "s.db: opened read-only");
	CHECK(store_flush(s, &err) == 0);
	store_close(s);
}

/* ":memory:" reads through the writer; the synchronous settings open. */
static void
test_store_memory_and_settings(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct ids		 l;
	enum run_state		 st;
	int			 i;

	s = store_open(":memory:", 0, NULL, &err);
	REQUIRE(s != NULL);
	add_run(s, 1, "wf", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);
	REQUIRE(store_flush(s, &err) == 0);
	CHECK_STR(list(s, &l, "wf", RUN_QUEUED, 0, 0, NULL, NULL, 0), "1,");
	store_close(s);

	open_each_sync();

	for (i = 0; i < RUN_STATE_COUNT; i++) {
		CHECK(run_state_parse(run_state_name(i), &st) == 0);
		CHECK((int)st == i);
	}
	CHECK(run_state_parse("sleeping", &st) == -1);
	CHECK(run_state_is_final(RUN_FAILED));
	CHECK(!run_state_is_final(RUN_RETRYING));
}
#endif

#ifndef TEST_STORE_PG
/* A database file moved away or replaced is noticed, and one moved back
 * is found again; ":memory:" has no file to lose. */
static void
test_store_target_lost(void)
{
	struct orc_error	 err;
	struct store		*s;
	FILE			*f;

	s = store_open(DB, STORE_SERVE, NULL, &err);
	REQUIRE(s != NULL);
	add_run(s, 1, "wf", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(store_check_target(s, &err) == 0);
	CHECK(store_healthy(s));
	REQUIRE(rename(DB, "aside.db") == 0);
	CHECK(store_check_target(s, &err) == -1);
	CHECK_CONTAINS(err.message, "the database s.db was removed");
	CHECK(!store_healthy(s));
	/* A commit into the open file does not make it healthy. */
	add_run(s, 2, "wf", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);
	CHECK(store_flush(s, &err) == 0);
	CHECK(!store_healthy(s));
	REQUIRE(rename("aside.db", DB) == 0);
	CHECK(store_check_target(s, &err) == 0);
	CHECK(store_healthy(s));
	/* Another file at the path is not the open one. */
	REQUIRE(rename(DB, "aside.db") == 0);
	REQUIRE((f = fopen(DB, "w")) != NULL);
	fclose(f);
	CHECK(store_check_target(s, &err) == -1);
	CHECK_CONTAINS(err.message, "s.db was replaced by another file");
	CHECK(!store_healthy(s));
	REQUIRE(unlink(DB) == 0);
	REQUIRE(rename("aside.db", DB) == 0);
	store_close(s);

	s = store_open(":memory:", 0, NULL, &err);
	REQUIRE(s != NULL);
	CHECK(store_check_target(s, &err) == 0);
	store_close(s);
}
#endif

/* Inserts a finished run n on definition d, with a step and its
 * transitions, finished at finished_at. */
static void
add_finished(struct store *s, int n, const char *workflow,
    enum run_state state, int64_t finished_at, const struct def_rec *d,
    const char *key)
{
	struct store_change	ch;
	struct transition_rec	t;
	struct step_rec		st;
	struct run_rec		r;

	mkrun(&r, n, workflow, RUN_RUNNING);
	r.def_hash = d->hash;
	r.idempotency_key = (char *)key;
	submit_run(s, &r, NULL, NULL);
	r.state = state;
	r.step = NULL;
	r.finished_at = finished_at;
	r.output = json_pack("{s:i}", "done", n);
	memset(&st, 0, sizeof st);
	memcpy(st.run_id, r.id, sizeof st.run_id);
	st.seq = 1;
	st.name = (char *)"first";
	st.attempts = 1;
	st.output = r.output;
	mktrans(&t, &r, RUN_RUNNING, state, "finished", finished_at);
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.step = &st;
	ch.transition = &t;
	ch.def = d;
	store_submit(s, &ch);
	unrun(&r);
}

/* Fills a definition of workflow wf (strings borrowed). */
static void
mkdef(struct def_rec *d, const char *hash, int64_t retention_ms)
{
	memset(d, 0, sizeof *d);
	d->hash = (char *)hash;
	d->name = (char *)"wf";
	d->body = (char *)"{}";
	d->retention_ms = retention_ms;
}

/* What forget_cb counts in. */
static int *forget_count;

/* A free_arg for store_forget_callbacks that counts. */
static void
forget_cb(void *arg)
{
	(void)arg;
	(*forget_count)++;
}

/* Runs one purge to its commit; the runs it deleted, -1 on error. */
static int64_t
purge_once(struct store *s, struct store_purge *p)
{
	struct orc_error err;

	store_submit_purge(s, p, NULL, NULL);
	if (store_flush(s, &err) == -1) {
		fprintf(stderr, "purge: %s\n", err.message);
		return -1;
	}
	return p->deleted;
}

/* Purges window after window until the scan reaches the end. */
static int64_t
purge_all(struct store *s, struct store_purge *p)
{
	int64_t n, total = 0;
	int guard = 0;

	p->cursor = 0;
	p->cursor_id[0] = '\0';
	do {
		if ((n = purge_once(s, p)) < 0)
			return -1;
		total += n;
	} while (!p->done && ++guard < 1000);
	return total;
}

/* A purge of every finished run, in small windows. */
static void
purge_init(struct store_purge *p)
{
	memset(p, 0, sizeof *p);
	p->state = -1;
	p->limit = 2;
	p->scan = 3;
	p->now = 100000;
	p->default_ms = STORE_FOREVER;
}

/* Collects log lines as "id:step:attempt:level:message;". */
static int
log_line_cb(const struct log_rec *l, void *arg)
{
	char *buf = arg;
	size_t n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s:%d:%d:%s;", l->step ? l->step : "-",
	    l->attempt, l->level, l->message);
	return 0;
}

/* Log lines ride with a run's changes, come back in the order written
 * (all, or after a line), and go when the run is purged. */
static void
test_store_logs(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct store_change	 ch;
	struct store_purge	 p;
	struct transition_rec	 t;
	struct log_rec		 l[3];
	struct run_rec		 r;
	char			 buf[512] = "";
	int64_t			 first = 0;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	mkrun(&r, 1, "wf", RUN_RUNNING);
	mktrans(&t, &r, -1, RUN_RUNNING, "created", r.created_at);
	mklog(&l[0], &r, 0, "one \"quoted\"");
	mklog(&l[1], &r, 1, "two caf\xc3\xa9");
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.flags = STORE_RUN_INSERT;
	ch.transition = &t;
	ch.logs = l;
	ch.nlogs = 2;
	store_submit(s, &ch);
	/* The change's copy is the store's: the caller's may go. */
	l[0].message = (char *)"changed";
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(query_int("SELECT count(*) FROM run_logs") == 2);
	r.state = RUN_SUCCEEDED;
	r.finished_at = 5000;
	mktrans(&t, &r, RUN_RUNNING, RUN_SUCCEEDED, "succeeded", 5000);
	mklog(&l[2], &r, 2, "three");
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.transition = &t;
	ch.logs = &l[2];
	ch.nlogs = 1;
	store_submit(s, &ch);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_list_logs(s, r.id, 0, log_line_cb, buf, &err) == 0);
	CHECK_STR(buf, "first:0:0:one \"quoted\";first:1:1:two caf\xc3\xa9;"
	    "-:2:2:three;");
	first = query_int("SELECT min(id) FROM run_logs");
	buf[0] = '\0';
	REQUIRE(store_list_logs(s, r.id, first, log_line_cb, buf, &err) == 0);
	CHECK_STR(buf, "first:1:1:two caf\xc3\xa9;-:2:2:three;");
	buf[0] = '\0';
	REQUIRE(store_list_logs(s, "R0000000000000000000000009", 0,
	    log_line_cb, buf, &err) == 0);
	CHECK_STR(buf, "");

	/* Purged with the run. */
	purge_init(&p);
	CHECK(purge_all(s, &p) == 1);
	CHECK(query_int("SELECT count(*) FROM run_logs") == 0);
	unrun(&r);
	store_close(s);
}

/* Prune's filters: never a live run, each filter, the dry run, and the
 * windows a small limit and scan cut the work into. */
static void
test_store_purge_filters(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct store_purge	 p;
	struct def_rec		 d;
	struct ids		 l;
	int64_t			 counts[RUN_STATE_COUNT];

	mkdef(&d, "h1", 0);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	add_finished(s, 1, "wf", RUN_SUCCEEDED, 10000, &d, NULL);
	add_finished(s, 2, "wf", RUN_FAILED, 20000, &d, NULL);
	add_finished(s, 3, "other", RUN_CANCELLED, 30000, &d, NULL);
	add_finished(s, 4, "wf", RUN_SUCCEEDED, 40000, &d, NULL);
	add_finished(s, 5, "wf", RUN_SUCCEEDED, 90000, &d, NULL);
	/* on_failure still due: not finished for a purge. */
	add_run(s, 6, "wf", RUN_FAILED, "boom", "me", 1, DEAD_PENDING);
	add_run(s, 7, "wf", RUN_RUNNING, NULL, NULL, 0, DEAD_NONE);
	add_run(s, 8, "wf", RUN_QUEUED, NULL, NULL, 0, DEAD_NONE);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(exec_sql(DB, "UPDATE runs SET finished_at = 5000 "
	    "WHERE id IN ('R0000000000000000000000006', "
	    "'R0000000000000000000000007')") == 0);

	/* The dry run counts and deletes nothing. */
	purge_init(&p);
	p.dry_run = 1;
	CHECK(purge_all(s, &p) == 5);
	CHECK(query_int("SELECT count(*) FROM runs") == 8);
	p.finished_before = 40000;
	CHECK(purge_all(s, &p) == 3);
	p.workflow = "wf";
	CHECK(purge_all(s, &p) == 2);
	p.state = RUN_FAILED;
	CHECK(purge_all(s, &p) == 1);
	CHECK(query_int("SELECT count(*) FROM runs") == 8);

	/* The limit: two per purge, the cursor says where to go on. */
	purge_init(&p);
	p.workflow = "wf";
	p.finished_before = 50000;
	p.scan = 10;
	CHECK(purge_once(s, &p) == 2);
	/* Run 3 (another workflow) was seen, run 4 was not. */
	CHECK(p.cursor == 30000);
	CHECK_STR(p.cursor_id, "R0000000000000000000000003");
	CHECK_STR(list(s, &l, NULL, -1, 0, 0, NULL, NULL, 0),
	    "8,7,6,5,4,3,");
	CHECK(!p.done);
	CHECK(purge_once(s, &p) == 1);
	CHECK(p.done);
	/* Done, the cursor stays on the last run seen: nothing comes again
	 * until a newer run finishes. */
	CHECK(p.cursor == 40000);
	CHECK(purge_once(s, &p) == 0 && p.done);
	CHECK_STR(list(s, &l, NULL, -1, 0, 0, NULL, NULL, 0), "8,7,6,5,3,");
	/* Steps, transitions and counters went with them. */
	CHECK(query_int("SELECT count(*) FROM steps") == 2);
	CHECK(query_int("SELECT count(*) FROM transitions WHERE run_id IN "
	    "('R0000000000000000000000001', 'R0000000000000000000000004')")
	    == 0);
	CHECK(query_int("SELECT count(*) FROM transitions") > 0);
	REQUIRE(store_count_runs(s, "wf", counts, &err) == 0);
	CHECK(counts[RUN_SUCCEEDED] == 1);
	CHECK(counts[RUN_FAILED] == 1);		/* run 6 */
	CHECK(counts[RUN_RUNNING] == 1);

	/* Every finished run, and only those. */
	purge_init(&p);
	CHECK(purge_all(s, &p) == 2);
	CHECK_STR(list(s, &l, NULL, -1, 0, 0, NULL, NULL, 0), "8,7,6,");
	REQUIRE(store_count_runs(s, NULL, counts, &err) == 0);
	CHECK(counts[RUN_SUCCEEDED] == 0);
	CHECK(counts[RUN_CANCELLED] == 0);
	store_close(s);
}

/* Retention: each run by its definition's, the default for the others;
 * old idempotency keys are forgotten. */
static void
test_store_purge_retention(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct store_purge	 p;
	struct def_rec		 d1, d2, d3, got;
	struct ids		 l;
	int64_t			*ms;
	size_t			 n;

	mkdef(&d1, "h1", 0);
	mkdef(&d2, "h2", STORE_FOREVER);
	mkdef(&d3, "h3", 5000);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	add_finished(s, 1, "wf", RUN_SUCCEEDED, 10000, &d1, "k1");
	add_finished(s, 2, "wf", RUN_SUCCEEDED, 10000, &d2, "k2");
	add_finished(s, 3, "wf", RUN_SUCCEEDED, 10000, &d3, "k3");
	add_finished(s, 4, "wf", RUN_SUCCEEDED, 96000, &d3, "k4");
	add_finished(s, 5, "wf", RUN_FAILED, 50000, &d1, NULL);
	REQUIRE(store_flush(s, &err) == 0);
	REQUIRE(store_get_definition(s, "h3", &got, &err) == 0);
	CHECK(got.retention_ms == 5000);
	def_rec_clear(&got);
	REQUIRE(store_get_definition(s, "h2", &got, &err) == 0);
	CHECK(got.retention_ms == STORE_FOREVER);
	def_rec_clear(&got);
	REQUIRE(store_get_definition(s, "h1", &got, &err) == 0);
	CHECK(got.retention_ms == 0);
	def_rec_clear(&got);

	/* The retentions in use: the default, then the definitions' but
	 * forever. */
	REQUIRE(store_retentions(s, STORE_FOREVER, &ms, &n, &err) == 0);
	CHECK(n == 1 && ms[0] == 5000);
	free(ms);
	REQUIRE(store_retentions(s, 60000, &ms, &n, &err) == 0);
	CHECK(n == 2 && ms[0] == 60000 && ms[1] == 5000);
	free(ms);

	/* h3's 5 s at 100 s: its run of 10 s goes, not its run of 96 s. */
	purge_init(&p);
	p.by_retention = 1;
	p.retention_ms = 5000;
	p.limit = 100;
	p.scan = 100;
	CHECK(purge_all(s, &p) == 1);
	CHECK_STR(list(s, &l, NULL, -1, 0, 0, NULL, NULL, 0), "5,4,2,1,");
	/* The scan stopped at 95 s, where that retention ends. */
	CHECK(p.done && p.cursor == 50000);
	/* The default, 60 s: h1's run of 10 s goes, its failed one of 50 s
	 * stays; h2 keeps its own forever. Keys of runs created before
	 * 2.5 s are forgotten (run 2's; run 1's went with it). */
	p.retention_ms = 60000;
	p.default_ms = 60000;
	p.keys_before = 2500;
	CHECK(purge_all(s, &p) == 1);
	CHECK_STR(list(s, &l, NULL, -1, 0, 0, NULL, NULL, 0), "5,4,2,");
	CHECK(query_int("SELECT count(*) FROM runs WHERE idempotency_key "
	    "IS NOT NULL") == 1);
	store_close(s);
}

/* Blob files go with the last run that uses them, not before. */
static void
test_store_purge_blobs(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct store_purge	 p;
	struct def_rec		 d;
	const char		*dir;

#ifdef TEST_STORE_PG
	dir = "shared-blobs";
	tsc.blob_dir = dir;
#else
	dir = "blobs";
#endif
	/* Inputs (one per run) and the trigger (the same for every run)
	 * go to files; outputs, {"done":N}, stay in the rows. */
	tsc.blob_bytes = 12;
	mkdef(&d, "h1", 0);
	s = store_open_with(DB, 0, NULL, &tsc, &err);
	REQUIRE(s != NULL);
	add_finished(s, 1, "wf", RUN_SUCCEEDED, 1000, &d, NULL);
	add_finished(s, 2, "wf", RUN_SUCCEEDED, 2000, &d, NULL);
	add_run(s, 3, "wf", RUN_RUNNING, NULL, NULL, 0, DEAD_NONE);
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(test_count_files(dir) == 4);

	purge_init(&p);
	p.finished_before = 1500;
	CHECK(purge_all(s, &p) == 1);
	/* Run 1's input went; the trigger file the others use stayed. */
	CHECK(test_count_files(dir) == 3);
	purge_init(&p);
	CHECK(purge_all(s, &p) == 1);
	CHECK(test_count_files(dir) == 2);
	REQUIRE(exec_sql(DB, "UPDATE runs SET state = 'cancelled', "
	    "finished_at = 3000") == 0);
	purge_init(&p);
	CHECK(purge_all(s, &p) == 1);
	CHECK(test_count_files(dir) == 0);
	CHECK(query_int("SELECT count(*) FROM runs") == 0);
	store_close(s);
	tsc.blob_bytes = 0;
	tsc.blob_dir = NULL;
}

/* On a loop with the commit thread: the purge joins the grouped commit
 * and its callback sees the result; the stats count what went. */
static void
test_store_purge_on_loop(void)
{
	struct orc_error	 err;
	struct event_base	*base;
	struct store		*s;
	struct store_purge	 p;
	struct store_stats	 stats;
	struct def_rec		 d;
	int64_t			 bytes = 0, oldest = -1;
	int			 called = 0, i;

	mkdef(&d, "h1", 0);
	base = event_base_new();
	REQUIRE(base != NULL);
	s = store_open(DB, 0, base, &err);
	REQUIRE(s != NULL);
	REQUIRE(store_oldest_finished(s, &oldest, &err) == 0);
	CHECK(oldest == 0);
	for (i = 1; i <= 20; i++)
		add_finished(s, i, "wf", RUN_SUCCEEDED, 1000 + i, &d, NULL);
	purge_init(&p);
	p.limit = 5;
	p.scan = 100;
	p.finished_before = 1011;
	store_submit_purge(s, &p, count_cb, &called);
	event_base_dispatch(base);
	CHECK(called == 1);
	CHECK(p.deleted == 5);
	CHECK(p.cursor == 1005);
	store_get_stats(s, &stats);
	CHECK(stats.purged == 5);
	CHECK(query_int("SELECT count(*) FROM runs") == 15);
	REQUIRE(store_oldest_finished(s, &oldest, &err) == 0);
	CHECK(oldest == 1006);
	REQUIRE(store_size(s, &bytes, &err) == 0);
	CHECK(bytes > 0);
	store_close(s);
	event_base_free(base);
}

#ifndef TEST_STORE_PG
/* Fills buf (n bytes, the last NUL) with letters and digits from seed. */
static void
noise(char *buf, size_t n, unsigned seed)
{
	static const char set[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint32_t	x = seed * 2654435761u + 1;
	size_t		i;

	for (i = 0; i + 1 < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = set[x % (sizeof set - 1)];
	}
	buf[n - 1] = '\0';
}

/* Purges give freed pages back to the file in steps once many are free;
 * a file made before auto-vacuum is switched when a daemon opens it. */
static void
test_store_purge_vacuum(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct store_purge	 p;
	struct run_rec		 r;
	char			 pad[4096];
	long long		 full, after;
	sqlite3			*writer;
	int			 i;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	for (i = 1; i <= 2000; i++) {
		mkrun(&r, i, "wf", RUN_SUCCEEDED);
		r.finished_at = 1000 + i;
		/* Letters that do not compress (store-pack.h) much. */
		noise(pad, sizeof pad, (unsigned)i);
		json_object_set_new(r.input, "pad", json_string(pad));
		submit_run(s, &r, NULL, NULL);
		unrun(&r);
	}
	REQUIRE(store_flush(s, &err) == 0);
	full = query_int("PRAGMA page_count");
	CHECK(full > 1000);
	purge_init(&p);
	p.limit = 100;
	p.scan = 200;
	CHECK(purge_all(s, &p) == 2000);
	after = query_int("PRAGMA page_count");
	CHECK(after < full / 2);
	/* What stays free is a small share, for the next writes. */
	CHECK(query_int("PRAGMA freelist_count") * 4 <= after ||
	    query_int("PRAGMA freelist_count") <= 256);
	store_close(s);

	/* An old file without auto-vacuum: switched by a daemon's open. */
	REQUIRE(exec_sql(DB, "PRAGMA auto_vacuum = NONE; VACUUM") == 0);
	CHECK(query_int("PRAGMA auto_vacuum") == 0);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	store_close(s);
	CHECK(query_int("PRAGMA auto_vacuum") == 0);
	/* Another process writing: the daemon starts all the same, and
	 * switches the file at a later start. */
	REQUIRE(sqlite3_open(DB, &writer) == SQLITE_OK);
	REQUIRE(sqlite3_exec(writer, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL) == SQLITE_OK);
	tsc.busy_ms = 50;
	s = store_open_with(DB, STORE_SERVE, NULL, &tsc, &err);
	tsc.busy_ms = -1;
	CHECK(s != NULL);
	store_close(s);
	sqlite3_close(writer);
	CHECK(query_int("PRAGMA auto_vacuum") == 0);
	s = store_open(DB, STORE_SERVE, NULL, &err);
	REQUIRE(s != NULL);
	store_close(s);
	CHECK(query_int("PRAGMA auto_vacuum") == 2);
}
#endif

/* An owner forgetting its changes' callbacks leaves a purge's alone: the
 * retention timer's callback and argument are not that owner's. */
static void
test_store_purge_kept_callback(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct store_purge	 p;
	struct run_rec		 r;
	int			 purged = 0, changed = 0, freed = 0;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	mkrun(&r, 1, "wf", RUN_QUEUED);
	submit_run(s, &r, count_cb, &changed);
	unrun(&r);
	purge_init(&p);
	store_submit_purge(s, &p, count_cb, &purged);
	forget_count = &freed;
	store_forget_callbacks(s, forget_cb);
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(freed == 1);
	CHECK(changed == 0);
	CHECK(purged == 1);
	store_close(s);
}

/* A run deleted under a change that moves it (a redrive racing with its
 * retention): the change's row update finds nothing, and the batch
 * commits instead of failing at every retry on the foreign keys (SQLite
 * drops the step and transition with a warning; PostgreSQL has no such
 * keys). */
static void
test_store_change_of_purged_run(void)
{
	struct orc_error	 err;
	struct store		*s;
	struct store_purge	 p;
	struct store_change	 ch;
	struct transition_rec	 t;
	struct step_rec		 st;
	struct run_rec		 r;
	struct def_rec		 d;

	mkdef(&d, "h1", 0);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	add_finished(s, 1, "wf", RUN_FAILED, 1000, &d, NULL);
	REQUIRE(store_flush(s, &err) == 0);
	purge_init(&p);
	store_submit_purge(s, &p, NULL, NULL);
	/* The redrive, in the same batch after the purge. */
	mkrun(&r, 1, "wf", RUN_QUEUED);
	mktrans(&t, &r, RUN_FAILED, RUN_QUEUED, "redriven", 5000);
	memset(&st, 0, sizeof st);
	memcpy(st.run_id, r.id, sizeof st.run_id);
	st.seq = 2;
	st.name = (char *)"second";
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.transition = &t;
	ch.step = &st;
	store_submit(s, &ch);
	unrun(&r);
	CHECK(store_flush(s, &err) == 0);
	CHECK(p.deleted == 1);
	CHECK(store_healthy(s));
	CHECK(query_int("SELECT count(*) FROM runs") == 0);
#ifdef TEST_STORE_PG
	/* No foreign keys there: the late rows stay, read by nothing. */
	CHECK(query_int("SELECT count(*) FROM transitions") == 1);
	CHECK(query_int("SELECT count(*) FROM steps") == 1);
#else
	CHECK(query_int("SELECT count(*) FROM transitions") == 0);
	CHECK(query_int("SELECT count(*) FROM steps") == 0);
#endif
	store_close(s);
}

/* Runs a test on an empty database. */
#define RUN(fn) do {							\
	db_reset();							\
	TEST_RUN(fn);							\
} while (0)

/* The callback secret: 32 bytes made by the migration, the same on every
 * open, and not all zero. */
static void
test_store_secret(void)
{
	struct orc_error err;
	struct store *s;
	uint8_t a[32], b[32], zero[32];

	memset(zero, 0, sizeof zero);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	CHECK(store_secret(s, "callback", a, sizeof a, &err) == 0);
	CHECK(memcmp(a, zero, sizeof a) != 0);
	CHECK(store_secret(s, "none", b, sizeof b, &err) == -1);
	CHECK_CONTAINS(err.message, "the secret \"none\" is missing");
	store_close(s);
	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	CHECK(store_secret(s, "callback", b, sizeof b, &err) == 0);
	CHECK(memcmp(a, b, sizeof a) == 0);
	store_close(s);
}

/* Request keys: found by path and key within the time asked, replaced by
 * a later put, forgotten once older than a put's since. */
static void
test_store_request_keys(void)
{
	struct request_key rk, got;
	struct orc_error err;
	struct store *s;
	int64_t now = orc_now_ms();

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	CHECK(store_request_key_get(s, "/a", "k", 0, &got, &err) == 0);
	memset(&rk, 0, sizeof rk);
	snprintf(rk.run_id, sizeof rk.run_id, "R0000000000000000000000001");
	memset(rk.body_sha, 'a', 64);
	store_request_key_put(s, "/a", "k", &rk, now - 1000);
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(store_request_key_get(s, "/a", "k", now - 1000, &got,
	    &err) == 1);
	CHECK_STR(got.run_id, rk.run_id);
	CHECK_STR(got.body_sha, rk.body_sha);
	CHECK(store_request_key_get(s, "/b", "k", 0, &got, &err) == 0);
	CHECK(store_request_key_get(s, "/a", "j", 0, &got, &err) == 0);
	/* Asked for keys made later than it: none. */
	CHECK(store_request_key_get(s, "/a", "k", now + 60000, &got,
	    &err) == 0);
	/* A put whose since is past the first key's time forgets it. */
	store_request_key_put(s, "/c", "k", &rk, now + 60000);
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(store_request_key_get(s, "/a", "k", 0, &got, &err) == 0);
	CHECK(store_request_key_get(s, "/c", "k", 0, &got, &err) == 1);
	store_close(s);
}

/* The parent of test_store_children's runs: run 1. */
#define PARENT "R0000000000000000000000001"

/* Appends a child's item and state as "item:state " to the strbuf arg. */
static int
child_cb(const struct child_rec *c, void *arg)
{
	strbuf_printf(arg, "%lld:%s%s ", (long long)c->item,
	    run_state_name(c->state), c->output != NULL ? "+out" : "");
	return 0;
}

/* Adds child run n of run 1's step "each", visit seq, item item. */
static void
add_child(struct store *s, int n, int seq, int item, enum run_state state)
{
	struct run_rec r;

	mkrun(&r, n, "wf/each", state);
	r.parent_id = (char *)PARENT;
	r.parent_step = (char *)"each";
	r.parent_seq = seq;
	r.item = item;
	if (state == RUN_SUCCEEDED)
		r.output = json_integer(item);
	submit_run(s, &r, NULL, NULL);
	unrun(&r);
}

/* Counts (step, state, n) rows as "step:state=n;". */
static int
child_count_cb(const char *step, enum run_state st, int64_t n, void *arg)
{
	strbuf_printf(arg, "%s:%s=%lld;", step, run_state_name(st),
	    (long long)n);
	return 0;
}

/* Children: listed by visit and item (the latest visit by default),
 * filtered, paged, counted; a detach leaves them to no visit. */
static void
test_store_children(void)
{
	struct child_filter f = { "each", 0, -1, -1, 0, 0 };
	struct store_change ch;
	struct strbuf sb = STRBUF_INIT;
	struct orc_error err;
	struct run_rec r;
	struct store *s;

	s = store_open(DB, 0, NULL, &err);
	REQUIRE(s != NULL);
	add_run(s, 1, "wf", RUN_RUNNING, NULL, NULL, 0, 0);
	add_child(s, 2, 0, 1, RUN_FAILED);
	add_child(s, 3, 0, 0, RUN_SUCCEEDED);
	add_child(s, 4, 2, 0, RUN_RUNNING);
	add_child(s, 5, 2, 1, RUN_SUCCEEDED);
	add_child(s, 6, 2, 2, RUN_SUCCEEDED);
	REQUIRE(store_flush(s, &err) == 0);
	CHECK(store_list_children(s, PARENT, &f, child_cb, &sb, &err) == 0);
	CHECK_STR(sb.s, "0:succeeded 1:failed ");
	strbuf_cut(&sb, 0);
	f.seq = -1;
	f.with_output = 1;
	CHECK(store_list_children(s, PARENT, &f, child_cb, &sb, &err) == 0);
	CHECK_STR(sb.s, "0:running 1:succeeded+out 2:succeeded+out ");
	strbuf_cut(&sb, 0);
	f.state = RUN_SUCCEEDED;
	f.after = 1;
	f.limit = 5;
	CHECK(store_list_children(s, PARENT, &f, child_cb, &sb, &err) == 0);
	CHECK_STR(sb.s, "2:succeeded+out ");
	strbuf_cut(&sb, 0);
	CHECK(store_count_children(s, PARENT, child_count_cb, &sb,
	    &err) == 0);
	CHECK_STR(sb.s, "each:running=1;each:succeeded=2;");
	strbuf_cut(&sb, 0);
	/* A redrive back to visit 1: visit 2's children are no visit's. */
	mkrun(&r, 1, "wf", RUN_QUEUED);
	memset(&ch, 0, sizeof ch);
	ch.run = &r;
	ch.flags = STORE_RUN_DETACH;
	store_submit(s, &ch);
	REQUIRE(store_flush(s, &err) == 0);
	unrun(&r);
	f.state = -1;
	f.after = -1;
	f.seq = -1;
	CHECK(store_list_children(s, PARENT, &f, child_cb, &sb, &err) == 0);
	CHECK_STR(sb.s, "0:succeeded+out 1:failed ");
	strbuf_free(&sb);
	store_close(s);
}

int
main(void)
{
	log_set_level(LOG_NONE);
	store_config_defaults(&tsc);
#ifdef TEST_STORE_PG
	if ((pg_url = getenv("ORCH_TEST_PG_URL")) == NULL || *pg_url == '\0') {
		printf("SKIP: ORCH_TEST_PG_URL is not set (run "
		    "tests/integration/store-pg.sh)\n");
		return 77;
	}
#endif
	RUN(test_store_migrate);
	RUN(test_store_reopen);
	RUN(test_store_flush_without_base);
	RUN(test_store_transition_codes);
	RUN(test_store_output_once);
#ifndef TEST_STORE_PG
	RUN(test_store_migrate_v9);
#endif
	RUN(test_store_batch_on_loop);
	RUN(test_store_change_atomic);
	RUN(test_store_retry_when_locked);
#ifndef TEST_STORE_PG
	RUN(test_store_pipelined);
	RUN(test_store_lazy);
	RUN(test_store_lazy_without_thread);
#endif
	RUN(test_store_batch_without_thread);
	RUN(test_store_retry_without_thread);
	RUN(test_store_list_and_count);
	RUN(test_store_claim);
	RUN(test_store_claim_async);
	RUN(test_store_cancel_requests);
	RUN(test_store_update_flags);
	RUN(test_store_progress);
	RUN(test_store_fold);
	RUN(test_store_sched_leader);
	RUN(test_store_large_batch);
	RUN(test_store_definitions_once);
	RUN(test_store_dashboard_reads);
	RUN(test_store_schedules);
	RUN(test_store_readonly);
	RUN(test_store_memory_and_settings);
#ifndef TEST_STORE_PG
	RUN(test_store_target_lost);
#endif
	RUN(test_store_purge_filters);
	RUN(test_store_purge_retention);
	RUN(test_store_purge_blobs);
	RUN(test_store_purge_on_loop);
	RUN(test_store_purge_kept_callback);
	RUN(test_store_change_of_purged_run);
	RUN(test_store_logs);
#ifndef TEST_STORE_PG
	RUN(test_store_purge_vacuum);
#endif
	RUN(test_store_unique_cron_key);
	RUN(test_store_secret);
	RUN(test_store_children);
	RUN(test_store_request_keys);
#ifdef TEST_STORE_PG
	RUN(test_store_pg_fencing);
	RUN(test_store_pg_concurrent_migrate);
	RUN(test_store_pg_migrate_codes);
	RUN(test_store_pg_skip_locked);
	RUN(test_store_pg_claim_race);
	RUN(test_store_pg_blobs);
#endif
	TEST_DONE();
}
