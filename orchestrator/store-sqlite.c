/*
 * The SQLite store backend. One file in WAL mode: a writer connection for
 * the grouped transactions, migrations and leases, and a read-only
 * connection for the reads so that they neither wait on nor block the
 * writer (":memory:" has only the writer: a second connection would see
 * another database). Several processes may share a file, hence the busy
 * timeout and BEGIN IMMEDIATE; but only one daemon (STORE_SERVE), which
 * holds a lock on FILE.lock beside it (sqlite_lock_serve).
 *
 * Every statement is prepared once per connection, on first use, and
 * reset after each use; values are always bound, never formatted into SQL.
 * The schema is versioned by PRAGMA user_version: sqlite_migrations[i]
 * takes a database from version i to i + 1, each in its own transaction.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sqlite3.h>

#include "blob.h"
#include "log.h"
#include "store.h"
#include "store-backend.h"
#include "store-pack.h"
#include "store-row.h"
#include "walbuf.h"

#define SQLITE_BUSY_MS	5000
/* Pages a purge gives back to the file system per commit (1 MiB), once
 * free pages are more than SQLITE_VACUUM_SHARE of the file and more than
 * SQLITE_VACUUM_MIN pages: below that, the next writes reuse them. */
#define SQLITE_VACUUM_PAGES	256
#define SQLITE_VACUUM_SHARE	4
#define SQLITE_VACUUM_MIN	256
/* Up to this size an old file is switched to incremental auto-vacuum
 * when a daemon opens it (VACUUM rewrites it whole). */
#define SQLITE_VACUUM_OPEN_MAX	(64LL << 20)
#define SQLITE_SYNC_FULL_SQL	"PRAGMA synchronous = FULL"

/* The columns of a run, in the order run_from_row() reads them; reads
 * take RUN_READ, where the output may be a step's (store-row.h). */
#define RUN_HEAD							\
	"id, workflow, def_hash, state, seq, step, attempt, input, "	\
	"trigger, "
#define RUN_TAIL							\
	", error, dead, idempotency_key, created_at, "			\
	"updated_at, due_at, finished_at, lease_owner, lease_until"
#define RUN_COLS	RUN_HEAD "output" RUN_TAIL
#define RUN_READ	RUN_HEAD STORE_RUN_OUTPUT_SQL RUN_TAIL

/* Schema migrations: append one entry to reach the next version. */
static const char *const sqlite_migrations[] = {
	/* 1: the first schema. */
	"CREATE TABLE definitions ("
	"  hash TEXT PRIMARY KEY,"
	"  name TEXT,"
	"  path TEXT,"
	"  body TEXT,"
	"  created_at INTEGER NOT NULL"
	");"
	"CREATE TABLE runs ("
	"  id TEXT PRIMARY KEY,"
	"  workflow TEXT,"
	"  def_hash TEXT,"
	"  state TEXT NOT NULL,"
	"  seq INTEGER NOT NULL DEFAULT 0,"
	"  step TEXT,"
	"  attempt INTEGER NOT NULL DEFAULT 0,"
	"  input TEXT,"
	"  trigger TEXT,"
	"  output TEXT,"
	"  error TEXT,"
	"  dead INTEGER NOT NULL DEFAULT 0,"
	"  idempotency_key TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  due_at INTEGER NOT NULL DEFAULT 0,"
	"  finished_at INTEGER NOT NULL DEFAULT 0,"
	"  lease_owner TEXT,"
	"  lease_until INTEGER"
	");"
	"CREATE INDEX runs_workflow ON runs (workflow, id);"
	"CREATE INDEX runs_state ON runs (state, id);"
	"CREATE INDEX runs_workflow_state ON runs (workflow, state, id);"
	"CREATE INDEX runs_idempotency ON runs (workflow, idempotency_key)"
	"  WHERE idempotency_key IS NOT NULL;"
	"CREATE INDEX runs_lease_owner ON runs (lease_owner)"
	"  WHERE lease_owner IS NOT NULL;"
	"CREATE TABLE steps ("
	"  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  name TEXT,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  output TEXT,"
	"  started_at INTEGER NOT NULL DEFAULT 0,"
	"  finished_at INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (run_id, seq)"
	");"
	"CREATE TABLE transitions ("
	"  id INTEGER PRIMARY KEY,"
	"  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"  at INTEGER NOT NULL,"
	"  from_state TEXT,"
	"  to_state TEXT NOT NULL,"
	"  event TEXT,"
	"  step TEXT,"
	"  seq INTEGER NOT NULL DEFAULT 0,"
	"  attempt INTEGER NOT NULL DEFAULT 0,"
	"  error TEXT,"
	"  duration_ms INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX transitions_run ON transitions (run_id, id);",
	/*
	 * 2: what the dashboard reads every second without scanning the
	 * runs. Runs by finished_at (covering throughput and latency), the
	 * newest runs with an error (for searching error texts), and a count
	 * per (workflow, final state) that the transitions into and out of a
	 * final state keep, in the writes' own transactions (see
	 * sqlite_count_transition): counting a million finished rows takes
	 * longer than a refresh may. The unfinished runs are few and counted
	 * from runs_state. Triggers did the same at half the webhook
	 * throughput: SQLite runs a trigger program per row update.
	 */
	"CREATE INDEX runs_finished ON runs (finished_at, state, created_at);"
	"CREATE INDEX runs_error ON runs (id) WHERE error IS NOT NULL;"
	"CREATE TABLE run_counts ("
	"  workflow TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  n INTEGER NOT NULL,"
	"  PRIMARY KEY (workflow, state)"
	") WITHOUT ROWID;"
	"INSERT INTO run_counts SELECT ifnull(workflow, ''), state, count(*) "
	"  FROM runs WHERE " STORE_RUN_FINAL " GROUP BY 1, 2;",
	/* 3: cron triggers' state (scheduler.c), one row per workflow. */
	"CREATE TABLE schedules ("
	"  workflow TEXT PRIMARY KEY,"
	"  schedule TEXT NOT NULL,"
	"  timezone TEXT,"
	"  next_at INTEGER NOT NULL DEFAULT 0,"
	"  last_fire_at INTEGER NOT NULL DEFAULT 0,"
	"  last_run_id TEXT,"
	"  fired INTEGER NOT NULL DEFAULT 0,"
	"  skipped INTEGER NOT NULL DEFAULT 0,"
	"  updated_at INTEGER NOT NULL DEFAULT 0"
	");",
	/*
	 * 4: retention (store_purge). A definition's retention (NULL: the
	 * default, -1: forever), and the keyed runs by age so that forgetting
	 * old idempotency keys reads only those.
	 */
	"ALTER TABLE definitions ADD COLUMN retention_ms INTEGER;"
	"CREATE INDEX runs_keys_age ON runs (created_at)"
	"  WHERE idempotency_key IS NOT NULL;",
	/* 5: requests to cancel a run another process executes; the process
	 * holding the run takes them (store_take_cancels_async). */
	"CREATE TABLE cancel_requests ("
	"  run_id TEXT PRIMARY KEY,"
	"  requested_at INTEGER NOT NULL"
	") WITHOUT ROWID;",
	/*
	 * 6: a cron fire's key is held by one run at most (sqlite_vet). Of
	 * the runs an older build let fire a minute twice, the first keeps
	 * the key and the others lose it; they stay, with their history.
	 */
	STORE_CRON_KEY_MIGRATION,
	/* 7: the lines step attempts logged (ctx.log), kept with the run
	 * and read by run, in the order written. */
	"CREATE TABLE run_logs ("
	"  id INTEGER PRIMARY KEY,"
	"  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"  at INTEGER NOT NULL,"
	"  step TEXT,"
	"  attempt INTEGER NOT NULL DEFAULT 0,"
	"  level TEXT NOT NULL,"
	"  message TEXT NOT NULL"
	");"
	"CREATE INDEX run_logs_run ON run_logs (run_id, id);",
	/* 8: waiting runs by the time they are due (store_next_wake). */
	"CREATE INDEX runs_waiting ON runs (due_at) WHERE state = 'waiting';",
	/*
	 * 9: the server's secrets (store_secret): callback tokens' MAC key,
	 * 32 random bytes, made once, as hex. The Idempotency-Keys of
	 * signals and callbacks by request path (store_request_key_get).
	 */
	"CREATE TABLE secrets ("
	"  name TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO secrets VALUES ('callback', lower(hex(randomblob(32))));"
	"CREATE TABLE request_keys ("
	"  target TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  run_id TEXT NOT NULL,"
	"  body_sha TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (target, key)"
	") WITHOUT ROWID;"
	"CREATE INDEX request_keys_age ON request_keys (created_at);",
	/* 10: child runs (engine-fan.c): a map's items and a parallel
	 * step's branches, by their parent's step (store_list_children). */
	"ALTER TABLE runs ADD COLUMN parent_id TEXT;"
	"ALTER TABLE runs ADD COLUMN parent_step TEXT;"
	"ALTER TABLE runs ADD COLUMN parent_seq INTEGER;"
	"ALTER TABLE runs ADD COLUMN item INTEGER;"
	"CREATE INDEX runs_children ON runs (parent_id, parent_step, "
	"  parent_seq, item) WHERE parent_id IS NOT NULL;",
	/*
	 * 11: when a run was last redriven (0: never), so that the
	 * dashboard's latency counts a redriven run from its redrive, not
	 * from its creation; runs_finished covers it. SQ_RUN_UPDATE sets it
	 * on the write that takes a finished run back (only a redrive does).
	 * Runs redriven before it count from their creation.
	 */
	"ALTER TABLE runs ADD COLUMN redriven_at INTEGER NOT NULL DEFAULT 0;"
	"DROP INDEX runs_finished;"
	"CREATE INDEX runs_finished ON runs (finished_at, state, created_at, "
	"  redriven_at);",
	/*
	 * 12: smaller transitions, a fifth of a run's bytes. Keyed by (run,
	 * n-th transition of the run) without a rowid, they need no index
	 * of their own (transitions_run repeated each row's run id); states
	 * and events are small integers (store-row.h). The old rows keep
	 * their order.
	 */
	"CREATE TABLE transitions_v10 ("
	"  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"  n INTEGER NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  from_state INTEGER,"
	"  to_state INTEGER NOT NULL,"
	"  event,"
	"  step TEXT,"
	"  seq INTEGER NOT NULL DEFAULT 0,"
	"  attempt INTEGER NOT NULL DEFAULT 0,"
	"  error TEXT,"
	"  duration_ms INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (run_id, n)"
	") WITHOUT ROWID;"
	"INSERT INTO transitions_v10 SELECT run_id, row_number() OVER "
	"  (PARTITION BY run_id ORDER BY id), at, "
	STORE_STATE_CODE_SQL("from_state") ", "
	STORE_STATE_CODE_SQL("to_state") ", "
	STORE_EVENT_CODE_SQL("event", STORE_WHEN_INT) ", "
	"  step, seq, attempt, error, duration_ms FROM transitions;"
	"DROP TABLE transitions;"
	"ALTER TABLE transitions_v10 RENAME TO transitions;",
	/*
	 * 13: the dictionaries that step outputs and runs' inputs,
	 * triggers and outputs are compressed against (store-pack.h).
	 * Older rows stay text; both read alike.
	 */
	PACK_SCHEMA,
	/*
	 * 14: log lines keyed by (run, line) without a rowid, so they need
	 * no index of their own (run_logs_run repeated each line's run id).
	 * A line's id counts within its run now; old lines keep theirs,
	 * which only grow within a run, as the cursor of GET /runs/ID/logs
	 * needs.
	 */
	"CREATE TABLE run_logs_v14 ("
	"  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"  id INTEGER NOT NULL,"
	"  at INTEGER NOT NULL,"
	"  step TEXT,"
	"  attempt INTEGER NOT NULL DEFAULT 0,"
	"  level TEXT NOT NULL,"
	"  message TEXT NOT NULL,"
	"  PRIMARY KEY (run_id, id)"
	") WITHOUT ROWID;"
	"INSERT INTO run_logs_v14 SELECT run_id, id, at, step, attempt, "
	"  level, message FROM run_logs;"
	"DROP TABLE run_logs;"
	"ALTER TABLE run_logs_v14 RENAME TO run_logs;",
	};
#define SQLITE_SCHEMA_VERSION \
	((int)(sizeof sqlite_migrations / sizeof sqlite_migrations[0]))

/* The fixed statements. */
enum {
	/* store_query's statements come first, at its indexes. */
	SQ_BEGIN = STORE_QUERY_COUNT,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_RUN_INSERT,
	SQ_RUN_UPDATE,
	SQ_RUN_PROGRESS,
	SQ_STEP_INSERT,
	SQ_TRANSITION_INSERT,
	SQ_LOG_INSERT,
	SQ_DEF_INSERT,
	SQ_RUN_LINK,
	SQ_RUN_DETACH,
	SQ_COUNT_ENTER,
	SQ_COUNT_LEAVE,
	SQ_CLAIM_ALL,
	SQ_CLAIM_ID,
	SQ_CLAIM_SET,
	SQ_SCHED_PUT,
	SQ_PURGE_SCAN,
	SQ_PURGE_STEP_BLOBS,
	SQ_PURGE_STEPS,
	SQ_PURGE_TRANSITIONS,
	SQ_PURGE_LOGS,
	SQ_PURGE_RUN,
	SQ_PURGE_KEYS,
	SQ_BLOB_USED,
	SQ_OLDEST_FINISHED,
	SQ_RETENTIONS,
	SQ_RUN_EXISTS,
	SQ_COUNT
};

static const char *const sqlite_sql[SQ_COUNT] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_RUN_INSERT] = "INSERT INTO runs (" RUN_COLS ") VALUES (?1, ?2, "
	    "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
	    "?17, ?18, ?19)",
	/* The columns keep their numbers of SQ_RUN_INSERT (see bind_run());
	 * ?9, ?13 and ?14 are left out, the flags follow from ?20. */
	[SQ_RUN_UPDATE] = "UPDATE runs SET state = ?4, seq = ?5, step = ?6, "
	    "attempt = ?7, output = ?10, error = ?11, dead = ?12, "
	    "updated_at = ?15, due_at = ?16, finished_at = ?17, "
	    "redriven_at = CASE WHEN finished_at > 0 AND ?17 = 0 THEN ?15 "
	    "ELSE redriven_at END, "
	    "input = CASE WHEN ?20 THEN ?8 ELSE input END, "
	    "def_hash = CASE WHEN ?21 THEN ?3 ELSE def_hash END, "
	    "workflow = CASE WHEN ?21 THEN ?2 ELSE workflow END, "
	    "lease_owner = CASE WHEN ?22 THEN NULL WHEN ?23 THEN ?18 "
	    "ELSE lease_owner END, "
	    "lease_until = CASE WHEN ?22 THEN NULL WHEN ?23 THEN ?19 "
	    "ELSE lease_until END "
	    "WHERE id = ?1",
	/* A move within a state: no indexed column changes, so SQLite
	 * rewrites the row and none of the runs' seven indexes. */
	[SQ_RUN_PROGRESS] = "UPDATE runs SET seq = ?5, step = ?6, "
	    "attempt = ?7, output = ?10, error = ?11, dead = ?12, "
	    "updated_at = ?15, due_at = ?16 WHERE id = ?1",
	[SQ_STEP_INSERT] = "INSERT OR REPLACE INTO steps (run_id, seq, name, "
	    "attempts, output, started_at, finished_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/* n follows the run's last: one step down its key. */
	[SQ_TRANSITION_INSERT] = "INSERT INTO transitions (run_id, n, at, "
	    "from_state, to_state, event, step, seq, attempt, error, "
	    "duration_ms) VALUES (?1, (SELECT ifnull(max(n), 0) + 1 FROM "
	    "transitions WHERE run_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	    "?10)",
	/* id follows the run's last line, as n of a transition. */
	[SQ_LOG_INSERT] = "INSERT INTO run_logs (run_id, id, at, step, "
	    "attempt, level, message) VALUES (?1, (SELECT ifnull(max(id), 0) "
	    "+ 1 FROM run_logs WHERE run_id = ?1), ?2, ?3, ?4, ?5, ?6)",
	[SQ_DEF_INSERT] = "INSERT OR IGNORE INTO definitions (hash, name, "
	    "path, body, created_at, retention_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[STORE_QUERY_RUN] = "SELECT " RUN_READ " FROM runs WHERE id = ?1",
	[SQ_RUN_LINK] = "UPDATE runs SET parent_id = ?2, parent_step = ?3, "
	    "item = ?4, parent_seq = ?5 WHERE id = ?1",
	[SQ_RUN_DETACH] = "UPDATE runs SET parent_seq = -1 WHERE "
	    "parent_id = ?1 AND parent_seq >= ?2",
	/* Of the visit ?7 (-1: the latest) of step ?2: ?3 a state or NULL,
	 * items after ?4, at most ?5 (NULL: all), ?6 with outputs. */
	[STORE_QUERY_CHILDREN] = "SELECT item, id, state, CASE WHEN ?6 THEN "
	    STORE_RUN_OUTPUT_EXPR " END, error FROM runs WHERE "
	    "parent_id = ?1 AND parent_step = ?2 "
	    "AND parent_seq = CASE WHEN ?7 >= 0 THEN ?7 ELSE (SELECT "
	    "max(parent_seq) FROM runs WHERE parent_id = ?1 AND "
	    "parent_step = ?2) END AND coalesce(item, 0) > ?4 AND "
	    "(?3 IS NULL OR state = ?3) ORDER BY item LIMIT ifnull(?5, -1)",
	[STORE_QUERY_COUNT_CHILDREN] =
	    "SELECT parent_step, state, count(*) FROM runs r "
	    "WHERE parent_id = ?1 AND parent_seq = (SELECT max(parent_seq) "
	    "FROM runs WHERE parent_id = ?1 AND parent_step = r.parent_step) "
	    "GROUP BY parent_step, state",
	[STORE_QUERY_STEPS] = "SELECT run_id, seq, name, attempts, output, "
	    "started_at, finished_at FROM steps WHERE run_id = ?1 "
	    "ORDER BY seq",
	[STORE_QUERY_TRANSITIONS] =
	    "SELECT n, run_id, at, from_state, to_state, "
	    "event, step, seq, attempt, error, duration_ms FROM transitions "
	    "WHERE run_id = ?1 ORDER BY n",
	[STORE_QUERY_LOGS] = "SELECT id, run_id, at, step, attempt, level, "
	    "message FROM run_logs WHERE run_id = ?1 AND id > ?2 ORDER BY id",
	[STORE_QUERY_DEF] = "SELECT hash, name, path, body, created_at, "
	    "retention_ms FROM definitions WHERE hash = ?1",
	[SQ_COUNT_ENTER] = "INSERT INTO run_counts VALUES (ifnull(?1, ''), ?2, "
	    "1) ON CONFLICT (workflow, state) DO UPDATE SET n = n + 1",
	[SQ_COUNT_LEAVE] = "UPDATE run_counts SET n = n - 1 WHERE "
	    "workflow = ifnull(?1, '') AND state = ?2",
	[STORE_QUERY_NEXT_WAKE] =
	    "SELECT min(due_at) FROM runs WHERE state = 'waiting' "
	    "AND lease_owner IS NULL",
	[STORE_QUERY_SECRET] = "SELECT value FROM secrets WHERE name = ?1",
	[STORE_QUERY_RKEY_GET] =
	    "SELECT run_id, body_sha FROM request_keys WHERE "
	    "target = ?1 AND key = ?2 AND created_at >= ?3",
	[STORE_QUERY_RKEY_PUT] =
	    "INSERT OR REPLACE INTO request_keys VALUES (?1, ?2, "
	    "?3, ?4, ?5)",
	[STORE_QUERY_RKEY_EXPIRE] =
	    "DELETE FROM request_keys WHERE created_at < ?1",
	[STORE_QUERY_FIND_KEY] = "SELECT id FROM runs WHERE workflow = ?1 AND "
	    "idempotency_key = ?2 AND created_at >= ?3 ORDER BY id DESC "
	    "LIMIT 1",
	/* Final states from run_counts (see migration 2), the others
	 * counted (few, by the state index). */
	[STORE_QUERY_COUNT_ALL] =
	    "SELECT state, sum(n) FROM run_counts GROUP BY state "
	    "UNION ALL SELECT state, count(*) FROM runs WHERE " STORE_RUN_LIVE
	    " GROUP BY state",
	[STORE_QUERY_COUNT_WORKFLOW] = "SELECT state, n FROM run_counts "
	    "WHERE workflow = ifnull(?1, '') UNION ALL SELECT state, count(*) "
	    "FROM runs WHERE " STORE_RUN_LIVE " AND workflow = ?1 "
	    "GROUP BY state",
	[STORE_QUERY_COUNT_BY_WORKFLOW] = "SELECT workflow, state, n FROM ("
	    "SELECT workflow, state, n FROM run_counts WHERE n > 0 "
	    "UNION ALL SELECT ifnull(workflow, ''), state, count(*) FROM runs "
	    "WHERE " STORE_RUN_LIVE " GROUP BY 1, 2) ORDER BY workflow, state",
	[STORE_QUERY_FINISHED] = "SELECT finished_at, state, "
	    "finished_at - max(created_at, redriven_at) FROM runs "
	    "WHERE finished_at >= ?1 "
	    "ORDER BY finished_at DESC LIMIT ifnull(?2, -1)",
	[STORE_QUERY_COUNT_FINISHED] =
	    "SELECT count(*) FROM (SELECT 1 FROM runs "
	    "WHERE finished_at >= ?1 AND state = ?2 LIMIT ifnull(?3, -1))",
	/* A prefix of an id is a range of the primary key. */
	[STORE_QUERY_SEARCH_ID] =
	    "SELECT " RUN_READ " FROM runs WHERE id >= ?1 AND "
	    "id < ?2 ORDER BY id DESC LIMIT ifnull(?3, -1)",
	/* Error texts have no index: only the newest ?2 runs with an error
	 * are searched, so that a search costs the same on any store. */
	[STORE_QUERY_SEARCH_ERROR] =
	    "SELECT " RUN_READ " FROM runs WHERE id IN "
	    "(SELECT id FROM runs WHERE error IS NOT NULL ORDER BY id DESC "
	    "LIMIT ?2) AND instr(error, ?1) > 0 ORDER BY id DESC "
	    "LIMIT ifnull(?3, -1)",
	/* A run waiting in the store alone (no lease) is taken when it is
	 * due, or by its id (a signal, a cancel); one a process held in
	 * memory, as any run that process held. */
	[SQ_CLAIM_ALL] = "SELECT id, lease_owner, lease_until FROM runs "
	    "WHERE " STORE_RUN_UNFINISHED " AND (?1 IS NULL OR workflow = ?1) "
	    "AND (state <> 'waiting' OR due_at <= ?2 OR "
	    "lease_owner IS NOT NULL) ORDER BY id",
	[SQ_CLAIM_ID] = "SELECT id, lease_owner, lease_until FROM runs "
	    "WHERE " STORE_RUN_UNFINISHED " AND (?1 IS NULL OR workflow = ?1) "
	    "AND id = ?2",
	[SQ_CLAIM_SET] = "UPDATE runs SET lease_owner = ?2, lease_until = ?3 "
	    "WHERE id = ?1",
	[STORE_QUERY_RENEW] =
	    "UPDATE runs SET lease_until = ?2 WHERE lease_owner = ?1 "
	    "AND " STORE_RUN_UNFINISHED,
	[STORE_QUERY_CANCEL_PUT] =
	    "INSERT OR REPLACE INTO cancel_requests (run_id, "
	    "requested_at) VALUES (?1, ?2)",
	[STORE_QUERY_CANCEL_ANY] = "SELECT run_id FROM cancel_requests LIMIT 1",
	[STORE_QUERY_CANCEL_TAKE] =
	    "DELETE FROM cancel_requests WHERE run_id IN "
	    "(SELECT id FROM runs WHERE lease_owner = ?1) RETURNING run_id",
	[STORE_QUERY_CANCEL_EXPIRE] = "DELETE FROM cancel_requests WHERE "
	    "requested_at < ?1",
	[SQ_SCHED_PUT] = "INSERT OR REPLACE INTO schedules (workflow, "
	    "schedule, timezone, next_at, last_fire_at, last_run_id, fired, "
	    "skipped, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[STORE_QUERY_SCHEDULES] =
	    "SELECT workflow, schedule, timezone, next_at, "
	    "last_fire_at, last_run_id, fired, skipped, updated_at "
	    "FROM schedules ORDER BY workflow",
	/*
	 * At most ?2 finished runs after (?1, ?10) by finished_at and id
	 * (runs_finished), each with whether it goes (see struct
	 * store_purge): ?3 workflow, ?4 state, ?5 finished before, ?6 by
	 * retention, ?7 the default retention, ?9 the scan's end, ?11 the
	 * retention purged.
	 */
	[SQ_PURGE_SCAN] = "SELECT c.id, c.workflow, c.state, c.finished_at, "
	    "c.input, c.trigger, c.output, c." STORE_RUN_FINAL
	    " AND c.dead <> 1 "
	    /* A workflow's map items ("W/STEP") go with its runs. */
	    "AND (?3 IS NULL OR c.workflow = ?3 OR "
	    "substr(c.workflow, 1, length(?3) + 1) = ?3 || '/') "
	    "AND (?4 IS NULL OR c.state = ?4) "
	    "AND (?5 = 0 OR c.finished_at < ?5) "
	    "AND (?6 = 0 OR coalesce(d.retention_ms, ?7) = ?11) "
	    /* A map's items stay while their map runs: it reads them. */
	    "AND (c.parent_id IS NULL OR NOT EXISTS (SELECT 1 FROM runs p "
	    "WHERE p.id = c.parent_id AND p.finished_at = 0)) "
	    "FROM (SELECT id, workflow, def_hash, state, dead, finished_at, "
	    "input, trigger, output, parent_id FROM runs WHERE "
	    "finished_at >= ?1 AND "
	    "(finished_at > ?1 OR id > ?10) AND finished_at > 0 AND "
	    "finished_at < ?9 ORDER BY finished_at, id LIMIT ?2) c "
	    "LEFT JOIN definitions d ON d.hash = c.def_hash "
	    "ORDER BY c.finished_at, c.id",
	[SQ_PURGE_STEP_BLOBS] = "SELECT output FROM steps WHERE run_id = ?1 "
	    "AND output LIKE '{\"$blob\":%'",
	[SQ_PURGE_STEPS] = "DELETE FROM steps WHERE run_id = ?1",
	[SQ_PURGE_TRANSITIONS] = "DELETE FROM transitions WHERE run_id = ?1",
	[SQ_PURGE_LOGS] = "DELETE FROM run_logs WHERE run_id = ?1",
	[SQ_PURGE_RUN] = "DELETE FROM runs WHERE id = ?1",
	[SQ_PURGE_KEYS] = "UPDATE runs SET idempotency_key = NULL WHERE id IN "
	    "(SELECT id FROM runs WHERE idempotency_key IS NOT NULL AND "
	    "created_at < ?1 ORDER BY created_at LIMIT ?2)",
	/* Which of the references in the JSON array ?1 rows still hold.
	 * They have no index (one would cost every run's writes): one scan
	 * for all the blobs a purge's runs had (payloads larger than
	 * ORCH_BLOB_BYTES), none for a purge without. */
	[SQ_BLOB_USED] = "SELECT DISTINCT v FROM (SELECT input v FROM runs "
	    "UNION ALL SELECT trigger FROM runs UNION ALL SELECT output "
	    "FROM runs UNION ALL SELECT output FROM steps) WHERE v IN "
	    "(SELECT value FROM json_each(?1))",
	[SQ_OLDEST_FINISHED] = "SELECT min(finished_at) FROM runs "
	    "WHERE finished_at > 0",
	[SQ_RETENTIONS] = "SELECT DISTINCT coalesce(retention_ms, ?1) "
	    "FROM definitions",
	[SQ_RUN_EXISTS] = "SELECT 1 FROM runs WHERE id = ?1",
};

/*
 * Run listings: one statement per combination of filters, so that each
 * can use its index; prepared when first needed. Term i is the filter
 * of bit i of store_list_mask().
 */
static const char *const sqlite_list_terms[] = {
	" AND workflow = ?1",
	" AND state = ?2",
	" AND created_at >= ?3",
	" AND created_at < ?4",
	" AND instr(error, ?5) > 0",
	" AND id < ?6",
};

struct sqlite_conn {
	sqlite3		*db;
	sqlite3_stmt	*st[SQ_COUNT];
	sqlite3_stmt	*list[STORE_LIST_VARIANTS];
	struct pack	*pack;	/* the dictionaries it has used */
};

struct sqlite_store {
	char			*path;
	char			*blobs;		/* large payloads; NULL: inline */
	size_t			 blob_min;	/* texts above it are blobs */
	struct sqlite_conn	 wconn;
	struct sqlite_conn	 rconn;
	struct sqlite_conn	*w;	/* NULL when read-only */
	struct sqlite_conn	*r;	/* may be w */
	int			 lock_fd;	/* FILE.lock (serve), or -1 */
	int			 have_id;	/* a file: its device, inode */
	dev_t			 dev;
	ino_t			 ino;
	int			 incremental;	/* auto_vacuum=INCREMENTAL */
	struct store_config	 cfg;		/* the settings */
};

/* Whether reads have their own connection (not so in memory). */
static int
sqlite_separate_reader(void *arg)
{
	struct sqlite_store *ss = arg;

	return ss->w != NULL && ss->r != ss->w;
}

/* Maps an SQLite result code to one of ours. */
static int
sqlite_code(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ORC_EBUSY;
	case SQLITE_NOTFOUND:
		return ORC_ENOTFOUND;
	default:
		return ORC_ESTORE;
	}
}

/* Fills err with the connection's last error, naming the file. */
static void
sqlite_error(struct sqlite_store *ss, sqlite3 *db, struct orc_error *err)
{
	orc_error_set(err, sqlite_code(sqlite3_extended_errcode(db)), "%s: %s",
	    ss->path, sqlite3_errmsg(db));
}

/* Fills err with the connection's last error about one run. */
static void
sqlite_run_error(struct sqlite_store *ss, sqlite3 *db, const char *id,
    struct orc_error *err)
{
	orc_error_set(err, sqlite_code(sqlite3_extended_errcode(db)),
	    "%s: run %s: %s", ss->path, id, sqlite3_errmsg(db));
}

/* Prepares (once) a statement of a connection and hands it out reset. */
static sqlite3_stmt *
sqlite_prepare(struct sqlite_store *ss, struct sqlite_conn *c,
    sqlite3_stmt **slot, const char *sql, struct orc_error *err)
{
	if (*slot == NULL) {
		if (sqlite3_prepare_v3(c->db, sql, -1,
		    SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
			sqlite_error(ss, c->db, err);
			*slot = NULL;
			return NULL;
		}
	} else {
		sqlite3_reset(*slot);
		sqlite3_clear_bindings(*slot);
	}
	return *slot;
}

/* A fixed statement of a connection. */
static sqlite3_stmt *
sqlite_stmt(struct sqlite_store *ss, struct sqlite_conn *c, int which,
    struct orc_error *err)
{
	return sqlite_prepare(ss, c, &c->st[which], sqlite_sql[which], err);
}

/* Ends a use of a statement: releases its read lock and its bindings. */
static void
sqlite_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows; errors name run id if not NULL. */
static int
sqlite_exec_stmt(struct sqlite_store *ss, sqlite3_stmt *st, const char *id,
    struct orc_error *err)
{
	sqlite3	*db = sqlite3_db_handle(st);
	int	 rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		if (id != NULL)
			sqlite_run_error(ss, db, id, err);
		else
			sqlite_error(ss, db, err);
		sqlite_done(st);
		return -1;
	}
	sqlite_done(st);
	return 0;
}

/* Runs a fixed writer statement that takes no values. */
static int
sqlite_exec_fixed(struct sqlite_store *ss, int which, struct orc_error *err)
{
	sqlite3_stmt *st;

	if ((st = sqlite_stmt(ss, ss->w, which, err)) == NULL)
		return -1;
	return sqlite_exec_stmt(ss, st, NULL, err);
}

/*
 * Steps a one-row read. On a row returns 0 with st still on it, for the
 * caller to read and sqlite_done(); otherwise fills err ("kind key not
 * found" when there is no row), ends st and returns -1.
 */
static int
sqlite_step_one(struct sqlite_store *ss, sqlite3_stmt *st, const char *kind,
    const char *key, struct orc_error *err)
{
	int rc;

	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		orc_error_set(err, ORC_ENOTFOUND, "%s %s not found", kind, key);
	else
		sqlite_error(ss, sqlite3_db_handle(st), err);
	sqlite_done(st);
	return -1;
}

/* What sqlite_each_row() calls per row: -1 on error, 1 to stop, else 0. */
typedef int (*sqlite_row_cb)(struct sqlite_store *, sqlite3_stmt *, void *,
    struct orc_error *);

/* Steps a read statement to its end, handing each row to row_cb. */
static int
sqlite_each_row(struct sqlite_store *ss, sqlite3_stmt *st,
    sqlite_row_cb row_cb, void *arg, struct orc_error *err)
{
	int rc, stop = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((stop = row_cb(ss, st, arg, err)) != 0)
			break;
	if (stop == 0 && rc != SQLITE_DONE) {
		sqlite_error(ss, sqlite3_db_handle(st), err);
		stop = -1;
	}
	sqlite_done(st);
	return stop == -1 ? -1 : 0;
}

/* Binds a string, or NULL. */
static int
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

/*
 * Binds a JSON value as compact text, or NULL. A large text goes to a blob
 * file beside the database and the column gets its reference; the others
 * are packed against the dictionary of (workflow, field) unless
 * ORCH_COMPRESS=0 (store-pack.h). -1 with err when the blob cannot be
 * written or the dictionary read.
 */
static int
bind_json(struct sqlite_store *ss, sqlite3_stmt *st, int i,
    const char *workflow, const char *field, const json_t *v,
    struct orc_error *err)
{
	char *s;

	if (v == NULL) {
		sqlite3_bind_null(st, i);
		return 0;
	}
	if ((s = store_row_encode(v, ss->blobs, ss->blob_min, ss->path,
	    err)) == NULL)
		return -1;
	if (ss->cfg.no_compress) {
		sqlite3_bind_text(st, i, s, -1, free);
		return 0;
	}
	return pack_bind(ss->w->pack, ss->w->db, ss->path, st, i, workflow,
	    field, s, strlen(s), err);
}

/* Binds a state name, or NULL for a negative state. */
static int
bind_state(sqlite3_stmt *st, int i, int state)
{
	if (state < 0)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, run_state_name(state), -1,
	    SQLITE_STATIC);
}

/* Binds store.c's parameters (store_param). */
static void
bind_params(sqlite3_stmt *st, const struct store_param *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].integer)
			sqlite3_bind_int64(st, i + 1, v[i].n);
		else
			bind_text(st, i + 1, v[i].text);
}

/* Binds a stored code, or NULL for a negative one. */
static int
bind_code(sqlite3_stmt *st, int i, int code)
{
	if (code < 0)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_int(st, i, code);
}

/*
 * Binds the run columns that SQ_RUN_INSERT and SQ_RUN_UPDATE share, at
 * their places in RUN_COLS; trigger, idempotency_key and created_at never
 * change, so only the insert binds them. The output is the step's when
 * it is the same (store_output_ref).
 */
static int
bind_run(struct sqlite_store *ss, sqlite3_stmt *st, const struct run_rec *r,
    const struct step_rec *step, int with_input, struct orc_error *err)
{
	char		 buf[STORE_OUTPUT_REF_LEN];
	const char	*ref;

	bind_text(st, 1, r->id);
	bind_text(st, 2, r->workflow);
	bind_text(st, 3, r->def_hash);
	bind_state(st, 4, r->state);
	sqlite3_bind_int(st, 5, r->seq);
	bind_text(st, 6, r->step);
	sqlite3_bind_int(st, 7, r->attempt);
	/* The input rarely changes: encode it only when it is written. */
	if (with_input && bind_json(ss, st, 8, r->workflow, "$input",
	    r->input, err) == -1)
		return -1;
	if ((ref = store_output_ref(r, step, buf)) != NULL)
		sqlite3_bind_text(st, 10, ref, -1, SQLITE_TRANSIENT);
	else if (bind_json(ss, st, 10, r->workflow, "$output", r->output,
	    err) == -1)
		return -1;
	bind_text(st, 11, r->error);
	sqlite3_bind_int(st, 12, (int)r->dead);
	sqlite3_bind_int64(st, 15, r->updated_at);
	sqlite3_bind_int64(st, 16, r->due_at);
	sqlite3_bind_int64(st, 17, r->finished_at);
	bind_text(st, 18, r->lease_owner);
	if (r->lease_owner != NULL)
		sqlite3_bind_int64(st, 19, r->lease_until);
	return 0;
}

/* A column of the statement's row, as store-row.c reads it. */
static const char *
sqlite_row_text(const struct store_row *row, int col, size_t *len)
{
	sqlite3_stmt	*st = row->res;
	const char	*s;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	s = (const char *)sqlite3_column_text(st, col);
	if (len != NULL)
		*len = (size_t)sqlite3_column_bytes(st, col);
	return s;
}

/* An integer column of the statement's row; 0 for NULL. */
static int64_t
sqlite_row_int(const struct store_row *row, int col)
{
	return sqlite3_column_int64(row->res, col);
}

/* A column's name, for messages. */
static const char *
sqlite_row_name(const struct store_row *row, int col)
{
	return sqlite3_column_name(row->res, col);
}

/* The statement's column count. */
static int
sqlite_row_columns(const struct store_row *row)
{
	return sqlite3_column_count(row->res);
}

/* A packed column's text, read on the statement's connection. */
static char *
sqlite_row_unpack(const struct store_row *row, const char *v, size_t vlen,
    size_t *len, struct orc_error *err)
{
	struct sqlite_store	*ss = row->backend;
	sqlite3			*db = sqlite3_db_handle(row->res);
	struct sqlite_conn	*c = db == ss->wconn.db ? &ss->wconn :
				    &ss->rconn;

	return pack_unpack(c->pack, db, v, vlen, len, err);
}

static const struct store_row_ops sqlite_row_ops = {
	sqlite_row_text, sqlite_row_int, sqlite_row_name, sqlite_row_columns,
	sqlite_row_unpack
};

/* The statement's current row, for store-row.c. */
static struct store_row
sqlite_row(struct sqlite_store *ss, sqlite3_stmt *st)
{
	struct store_row row = { &sqlite_row_ops, st, 0, ss->path, ss->blobs,
	    ss };

	return row;
}

/* Runs a one-row pragma or query at open time; the integer it returns. */
static int
sqlite_query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt	*st;
	int		 rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		*out = 0;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Fills err for a failed open-time query of db that returned rc. */
static void
sqlite_open_error(struct sqlite_store *ss, sqlite3 *db, int rc,
    struct orc_error *err)
{
	if (rc == SQLITE_NOTADB)
		orc_error_set(err, ORC_EINVAL, "%s: not an orchestrator "
		    "database (%s)", ss->path, sqlite3_errmsg(db));
	else
		sqlite_error(ss, db, err);
}

/* Reads the schema version, naming the file when it is not a database. */
static int
sqlite_user_version(struct sqlite_store *ss, sqlite3 *db, int64_t *version,
    struct orc_error *err)
{
	int rc;

	rc = sqlite_query_int(db, "PRAGMA user_version", version);
	if (rc != SQLITE_OK) {
		sqlite_open_error(ss, db, rc, err);
		return -1;
	}
	return 0;
}

/* The busy timeout: ORCH_BUSY_TIMEOUT_MS or the default. */
static int
sqlite_busy_ms(const struct sqlite_store *ss)
{
	return ss->cfg.busy_ms >= 0 ? ss->cfg.busy_ms : SQLITE_BUSY_MS;
}

/*
 * Process-wide settings, before SQLite's first use: no memory statistics
 * (they take a global mutex on every allocation and free; nothing here
 * reads them). Fails harmlessly when something initialized SQLite first.
 */
static void
sqlite_global_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* The writer's synchronous pragma from ORCH_SYNCHRONOUS (PRAGMA takes
 * no parameters: one of the fixed texts). */
static const char *
sqlite_sync_sql(const struct sqlite_store *ss)
{
	switch (ss->cfg.sync) {
	case STORE_SYNC_NORMAL:
		return "PRAGMA synchronous = NORMAL";
	case STORE_SYNC_OFF:
		return "PRAGMA synchronous = OFF";
	default:
		return SQLITE_SYNC_FULL_SQL;
	}
}

/*
 * The VFS of the writing connection: the log's write buffer (walbuf.h)
 * when every commit syncs the log, unless ORCH_WAL_BUFFER is "0"; else
 * SQLite's default (NULL).
 */
static const char *
sqlite_writer_vfs(const struct sqlite_store *ss)
{
	if (ss->cfg.no_wal_buffer || ss->cfg.sync != STORE_SYNC_FULL)
		return NULL;
	return walbuf_vfs();
}

/*
 * Opens one connection with the busy timeout set. NOMUTEX: a connection
 * is used by one thread at a time, which store.c guarantees (the writing
 * one is handed between the loop and the commit thread under its lock),
 * so SQLite's own lock around every call is not needed.
 */
static int
sqlite_connect(struct sqlite_store *ss, struct sqlite_conn *c, int flags,
    int writer, struct orc_error *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int rc;

	pthread_once(&once, sqlite_global_setup);
	rc = sqlite3_open_v2(ss->path, &c->db, flags | SQLITE_OPEN_NOMUTEX,
	    writer ? sqlite_writer_vfs(ss) : NULL);
	if (rc != SQLITE_OK) {
		if (c->db != NULL)
			sqlite_error(ss, c->db, err);
		else
			orc_error_set(err, ORC_ESTORE, "%s: %s", ss->path,
			    sqlite3_errstr(rc));
		sqlite3_close(c->db);
		c->db = NULL;
		return -1;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, sqlite_busy_ms(ss));
	c->pack = pack_new();
	return 0;
}

/* Finalizes a connection's statements and closes it. */
static void
sqlite_disconnect(struct sqlite_conn *c)
{
	size_t i;

	for (i = 0; i < SQ_COUNT; i++)
		sqlite3_finalize(c->st[i]);
	for (i = 0; i < STORE_LIST_VARIANTS; i++)
		sqlite3_finalize(c->list[i]);
	if (c->db != NULL)
		sqlite3_close(c->db);
	pack_free(c->pack);
	memset(c, 0, sizeof *c);
}

/* Sets the writer's journal, durability and integrity pragmas. */
static int
sqlite_setup_writer(struct sqlite_store *ss, struct orc_error *err)
{
	const char	*sync_sql = sqlite_sync_sql(ss);
	sqlite3		*db = ss->wconn.db;
	int64_t		 dummy;
	int		 rc, tries;

	/* Before any table exists, so that a new file is made in this mode;
	 * on an older file it only takes effect with a VACUUM (see
	 * sqlite_setup_vacuum). */
	if ((rc = sqlite3_exec(db, "PRAGMA auto_vacuum = INCREMENTAL", NULL,
	    NULL, NULL)) != SQLITE_OK) {
		sqlite_open_error(ss, db, rc, err);
		return -1;
	}
	/* Switching a new file to WAL takes an exclusive lock and does not
	 * wait through the busy handler: retry while others hold it. */
	for (tries = 0; tries < 500; tries++) {
		rc = sqlite_query_int(db, "PRAGMA journal_mode = WAL", &dummy);
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			break;
		sqlite3_sleep(10);
	}
	if (rc != SQLITE_OK) {
		sqlite_open_error(ss, db, rc, err);
		return -1;
	}
	if (sqlite3_exec(db, sync_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL,
	    NULL) != SQLITE_OK) {
		sqlite_error(ss, db, err);
		return -1;
	}
	return 0;
}

/*
 * Takes the schema one version up in a transaction of its own: 1 when
 * done, 0 when another process had done it meanwhile (*version is then
 * reread), -1 on failure.
 */
static int
sqlite_migrate_one(struct sqlite_store *ss, int64_t *version,
    struct orc_error *err)
{
	sqlite3	*db = ss->wconn.db;
	int64_t	 tables = 0;
	char	*sql;
	int	 rc;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL) != SQLITE_OK) {
		sqlite_error(ss, db, err);
		return -1;
	}
	/* Another process may have migrated while we waited. */
	if (sqlite_query_int(db, "PRAGMA user_version", version) != SQLITE_OK)
		goto fail;
	if (*version >= SQLITE_SCHEMA_VERSION) {
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
		return 0;
	}
	/* Never write our tables into somebody else's database. This is
	 * checked inside the transaction: another process may have created
	 * the schema since we read the version. */
	if (*version == 0 && (sqlite_query_int(db, "SELECT count(*) "
	    "FROM sqlite_master", &tables) != SQLITE_OK || tables)) {
		if (tables)
			orc_error_set(err, ORC_EINVAL, "%s: not an "
			    "orchestrator database (schema version 0)",
			    ss->path);
		else
			sqlite_error(ss, db, err);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (sqlite3_exec(db, sqlite_migrations[*version], NULL, NULL,
	    NULL) != SQLITE_OK)
		goto fail;
	/* PRAGMA cannot be bound; the number is our own. */
	sql = xasprintf("PRAGMA user_version = %d", (int)*version + 1);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	free(sql);
	if (rc != SQLITE_OK ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	(*version)++;
	return 1;

fail:
	orc_error_set(err, sqlite_code(sqlite3_extended_errcode(db)),
	    "%s: migration to schema version %lld failed: %s", ss->path,
	    (long long)*version + 1, sqlite3_errmsg(db));
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Brings the schema up to this build's version, one transaction each. */
static int
sqlite_migrate(struct sqlite_store *ss, struct orc_error *err)
{
	int64_t	version;
	int	rc;

	if (sqlite_user_version(ss, ss->wconn.db, &version, err) == -1)
		return -1;
	if (version > SQLITE_SCHEMA_VERSION) {
		orc_error_set(err, ORC_EINVAL, "%s: schema version %lld is "
		    "newer than this build supports (%d)", ss->path,
		    (long long)version, SQLITE_SCHEMA_VERSION);
		return -1;
	}
	while (version < SQLITE_SCHEMA_VERSION) {
		if ((rc = sqlite_migrate_one(ss, &version, err)) == -1)
			return -1;
		if (rc == 1)
			log_info("%s: %s: schema migrated to version %lld",
			    __func__, ss->path, (long long)version);
	}
	return 0;
}

/*
 * Whether purges can give pages back (auto_vacuum=INCREMENTAL). A file
 * made before this build has no auto-vacuum: the daemon switches it with
 * a VACUUM (which rewrites it) when it is small enough for that to be
 * quick; a larger one keeps working, its freed pages reused but the file
 * never shrinking, until converted by hand (README, "Durability").
 */
static int
sqlite_setup_vacuum(struct sqlite_store *ss, unsigned flags,
    struct orc_error *err)
{
	sqlite3	*db = ss->wconn.db;
	int64_t	 mode = 0, pages = 0, size = 0;

	if (sqlite_query_int(db, "PRAGMA auto_vacuum", &mode) != SQLITE_OK)
		goto fail;
	if (mode == 0 && (flags & STORE_SERVE)) {
		if (sqlite_query_int(db, "PRAGMA page_count", &pages) !=
		    SQLITE_OK || sqlite_query_int(db, "PRAGMA page_size",
		    &size) != SQLITE_OK)
			goto fail;
		if (pages * size <= SQLITE_VACUUM_OPEN_MAX) {
			/* Another process reading (a dashboard) keeps the
			 * lock VACUUM needs: the file keeps working as it
			 * is, and the next start tries again. */
			if (sqlite3_exec(db, "VACUUM", NULL, NULL, NULL) !=
			    SQLITE_OK)
				log_warn("%s: %s: cannot switch to incremental "
				    "auto-vacuum now: %s", __func__, ss->path,
				    sqlite3_errmsg(db));
			else
				log_info("%s: %s: switched to incremental "
				    "auto-vacuum", __func__, ss->path);
			if (sqlite_query_int(db, "PRAGMA auto_vacuum",
			    &mode) != SQLITE_OK)
				goto fail;
		} else
			log_warn("%s: %s: no auto-vacuum (made by an older "
			    "build): deleted runs' pages are reused but the "
			    "file does not shrink; see \"Durability\" in the "
			    "README to convert it", __func__, ss->path);
	}
	ss->incremental = mode == 2;
	return 0;
fail:
	sqlite_error(ss, db, err);
	return -1;
}

/* Checks that a read-only database is one of ours, of a version we read. */
static int
sqlite_check_readonly(struct sqlite_store *ss, struct orc_error *err)
{
	sqlite3	*db = ss->rconn.db;
	int64_t	 version, tables = 0;

	if (sqlite_user_version(ss, db, &version, err) == -1)
		return -1;
	if (version >= 1 && version <= SQLITE_SCHEMA_VERSION &&
	    sqlite_query_int(db, "SELECT count(*) FROM sqlite_master "
	    "WHERE type = 'table' AND name = 'runs'", &tables) == SQLITE_OK &&
	    tables == 1) {
		if (version < SQLITE_SCHEMA_VERSION) {
			orc_error_set(err, ORC_EINVAL, "%s: schema version "
			    "%lld is older than this build's (%d): open it "
			    "read-write once to migrate it", ss->path,
			    (long long)version, SQLITE_SCHEMA_VERSION);
			return -1;
		}
		return 0;
	}
	orc_error_set(err, ORC_EINVAL, "%s: not an orchestrator database "
	    "(schema version %lld)", ss->path, (long long)version);
	return -1;
}

/* Frees a backend and closes its connections. */
static void
sqlite_close(void *arg)
{
	struct sqlite_store *ss = arg;

	if (ss == NULL)
		return;
	if (ss->w != NULL && !sqlite3_get_autocommit(ss->w->db))
		sqlite3_exec(ss->w->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite_disconnect(&ss->rconn);
	sqlite_disconnect(&ss->wconn);
	/* Closing drops the lock; the file stays (removing it would race
	 * with a daemon opening it now). */
	if (ss->lock_fd >= 0)
		close(ss->lock_fd);
	free(ss->path);
	free(ss->blobs);
	free(ss);
}

/* The pid that holds the lock on fd, from the lock or else from the
 * file's text; 0 when neither tells. */
static long
sqlite_lock_holder(int fd)
{
	struct flock fl;
	char buf[32];
	ssize_t n;

	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	/* l_pid is 0 for a holder in another pid namespace. */
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK &&
	    fl.l_pid > 0)
		return (long)fl.l_pid;
	if ((n = pread(fd, buf, sizeof buf - 1, 0)) <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/*
 * One daemon per database file: it holds a write lock (fcntl, dropped by
 * the system when the process ends, however it ends) on FILE.lock, which
 * also holds its pid for people. Two daemons on one file would both fire
 * every cron minute and take each other's runs over; several daemons
 * share PostgreSQL instead, which coordinates them. fcntl, not flock: a
 * process forked by the daemon does not inherit the lock.
 */
static int
sqlite_lock_serve(struct sqlite_store *ss, struct orc_error *err)
{
	struct flock fl;
	char *path, buf[32];
	int fd, n, e;

	path = xasprintf("%s.lock", ss->path);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		orc_error_set(err, ORC_EIO, "%s: cannot open the lock file "
		    "%s: %s", ss->path, path, strerror(errno));
		free(path);
		return -1;
	}
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) != 0) {
		e = errno;
		if (e == EACCES || e == EAGAIN)
			orc_error_set(err, ORC_EBUSY, "%s is already served by "
			    "another orchestrator serve (pid %ld, lock file "
			    "%s): one serve per SQLite file; stop that one "
			    "first, or share a PostgreSQL database to run "
			    "several", ss->path, sqlite_lock_holder(fd), path);
		else
			orc_error_set(err, ORC_EIO, "%s: cannot lock %s: %s",
			    ss->path, path, strerror(e));
		close(fd);
		free(path);
		return -1;
	}
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		log_warn("%s: cannot write the pid into %s: %s", __func__,
		    path, strerror(errno));
	ss->lock_fd = fd;
	free(path);
	return 0;
}

/* Notes which file the path names now: the one just opened. */
static void
sqlite_note_file(struct sqlite_store *ss)
{
	struct stat sb;

	if (stat(ss->path, &sb) != 0)
		return;
	ss->have_id = 1;
	ss->dev = sb.st_dev;
	ss->ino = sb.st_ino;
}

/*
 * Whether the path still names the open file. Removed or replaced, the
 * writes would go on into a file nobody opens again: they would be lost
 * at the next start. A stat, for a timer, not for every commit.
 */
static int
sqlite_check_target(void *arg, struct orc_error *err)
{
	struct sqlite_store *ss = arg;
	struct stat sb;

	if (!ss->have_id)
		return 0;
	if (stat(ss->path, &sb) != 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return 0;	/* cannot tell: not a loss */
		orc_error_set(err, ORC_ESTORE, "the database %s was removed "
		    "while in use", ss->path);
		return -1;
	}
	if (sb.st_dev != ss->dev || sb.st_ino != ss->ino) {
		orc_error_set(err, ORC_ESTORE, "the database %s was replaced "
		    "by another file while in use", ss->path);
		return -1;
	}
	return 0;
}

/* Opens a file (or ":memory:"), migrating it unless read-only. */
static void *
sqlite_open(const char *target, unsigned flags, const struct store_config *cfg,
    struct orc_error *err)
{
	struct sqlite_store	*ss;
	int			 memory;

	ss = xcalloc(1, sizeof *ss);
	ss->lock_fd = -1;
	ss->path = xstrdup(target);
	memory = strcmp(target, ":memory:") == 0;
	ss->cfg = *cfg;
	ss->blobs = blob_dir_for(target);
	ss->blob_min = blob_threshold(cfg->blob_bytes);

	if (flags & STORE_READONLY) {
		if (memory) {
			orc_error_set(err, ORC_EINVAL, "%s: a new in-memory "
			    "database cannot be read-only", target);
			goto fail;
		}
		if (sqlite_connect(ss, &ss->rconn, SQLITE_OPEN_READONLY, 0,
		    err) == -1 || sqlite_check_readonly(ss, err) == -1)
			goto fail;
		ss->r = &ss->rconn;
		return ss;
	}

	/* Before anything is read or migrated: a second daemon stops here. */
	if ((flags & STORE_SERVE) && !memory && sqlite_lock_serve(ss,
	    err) != 0)
		goto fail;
	if (sqlite_connect(ss, &ss->wconn, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, 1, err) == -1 ||
	    sqlite_setup_writer(ss, err) == -1 ||
	    sqlite_migrate(ss, err) == -1 ||
	    (!memory && sqlite_setup_vacuum(ss, flags, err) == -1))
		goto fail;
	ss->w = &ss->wconn;
	if (memory)
		ss->r = ss->w;
	else {
		sqlite_note_file(ss);
		if (sqlite_connect(ss, &ss->rconn, SQLITE_OPEN_READONLY, 0,
		    err) == -1)
			goto fail;
		ss->r = &ss->rconn;
	}
	return ss;

fail:
	sqlite_close(ss);
	return NULL;
}

/* Starts a write transaction. */
static int
sqlite_begin(void *arg, struct orc_error *err)
{
	return sqlite_exec_fixed(arg, SQ_BEGIN, err);
}

/* Commits the write transaction. */
static int
sqlite_commit(void *arg, struct orc_error *err)
{
	return sqlite_exec_fixed(arg, SQ_COMMIT, err);
}

/* Rolls back the write transaction when one is open. */
static void
sqlite_rollback(void *arg)
{
	struct sqlite_store *ss = arg;

	/* A dictionary written in the transaction goes with it. */
	pack_forget(ss->w->pack);
	if (sqlite3_get_autocommit(ss->w->db))
		return;
	if (sqlite_exec_fixed(ss, SQ_ROLLBACK, NULL) == -1)
		sqlite3_exec(ss->w->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Writes a definition unless it is there. */
static int
sqlite_put_def(struct sqlite_store *ss, const struct def_rec *d,
    struct orc_error *err)
{
	sqlite3_stmt *st;

	if ((st = sqlite_stmt(ss, ss->w, SQ_DEF_INSERT, err)) == NULL)
		return -1;
	bind_text(st, 1, d->hash);
	bind_text(st, 2, d->name);
	bind_text(st, 3, d->path);
	bind_text(st, 4, d->body);
	sqlite3_bind_int64(st, 5, d->created_at);
	if (d->retention_ms != 0)
		sqlite3_bind_int64(st, 6, d->retention_ms);
	return sqlite_exec_stmt(ss, st, NULL, err);
}

/* Inserts a new run with every column; step is the change's, or NULL. */
static int
sqlite_insert_run(struct sqlite_store *ss, const struct run_rec *r,
    const struct step_rec *step, struct orc_error *err)
{
	sqlite3_stmt *st;

	if ((st = sqlite_stmt(ss, ss->w, SQ_RUN_INSERT, err)) == NULL)
		return -1;
	if (bind_run(ss, st, r, step, 1, err) == -1 ||
	    bind_json(ss, st, 9, r->workflow, "$trigger", r->trigger,
	    err) == -1) {
		sqlite_done(st);
		return -1;
	}
	bind_text(st, 13, r->idempotency_key);
	sqlite3_bind_int64(st, 14, r->created_at);
	if (sqlite_exec_stmt(ss, st, r->id, err) == -1)
		return -1;
	if (r->parent_id == NULL)
		return 0;
	if ((st = sqlite_stmt(ss, ss->w, SQ_RUN_LINK, err)) == NULL)
		return -1;
	bind_text(st, 1, r->id);
	bind_text(st, 2, r->parent_id);
	bind_text(st, 3, r->parent_step);
	if (r->item >= 0)
		sqlite3_bind_int64(st, 4, r->item);
	sqlite3_bind_int(st, 5, r->parent_seq);
	return sqlite_exec_stmt(ss, st, r->id, err);
}

/*
 * Whether a change moves a run within one unfinished state and writes
 * nothing the flags ask for: then no indexed column changes.
 */
static int
sqlite_is_progress(const struct run_rec *r, unsigned flags,
    const struct transition_rec *t)
{
	return t != NULL && t->from_state == (int)r->state &&
	    !run_state_is_final(r->state) &&
	    (flags & (STORE_RUN_SET_INPUT | STORE_RUN_SET_DEF |
	    STORE_RUN_SET_LEASE | STORE_RUN_FOLDED)) == 0;
}

/*
 * Updates a run's moving columns, and what the flags ask for. A finished
 * run's lease is dropped even when STORE_RUN_SET_LEASE asks to write it.
 * A move within a state (t says from where) takes the narrow statement;
 * step is the change's, or NULL.
 */
static int
sqlite_update_run(struct sqlite_store *ss, const struct run_rec *r,
    const struct step_rec *step, unsigned flags,
    const struct transition_rec *t, struct orc_error *err)
{
	sqlite3_stmt	*st;
	int		 drop_lease, progress;

	progress = sqlite_is_progress(r, flags, t);
	st = sqlite_stmt(ss, ss->w, progress ? SQ_RUN_PROGRESS : SQ_RUN_UPDATE,
	    err);
	if (st == NULL)
		return -1;
	if (bind_run(ss, st, r, step, (flags & STORE_RUN_SET_INPUT) != 0,
	    err) == -1) {
		sqlite_done(st);
		return -1;
	}
	if (!progress) {
		/* A finished run lets its lease go, unless on_failure is
		 * due. */
		drop_lease = store_run_lets_lease_go(r);
		sqlite3_bind_int(st, 20, (flags & STORE_RUN_SET_INPUT) != 0);
		sqlite3_bind_int(st, 21, (flags & STORE_RUN_SET_DEF) != 0);
		sqlite3_bind_int(st, 22, drop_lease);
		sqlite3_bind_int(st, 23, (flags & STORE_RUN_SET_LEASE) != 0);
	}
	if (sqlite_exec_stmt(ss, st, r->id, err) == -1)
		return -1;
	if (sqlite3_changes(ss->w->db) == 0)
		log_warn("%s: %s: run %s not found", __func__, ss->path, r->id);
	return 0;
}

/* Inserts or replaces a finished step. */
static int
sqlite_put_step(struct sqlite_store *ss, const char *workflow,
    const struct step_rec *s, struct orc_error *err)
{
	sqlite3_stmt *st;

	if ((st = sqlite_stmt(ss, ss->w, SQ_STEP_INSERT, err)) == NULL)
		return -1;
	bind_text(st, 1, s->run_id);
	sqlite3_bind_int(st, 2, s->seq);
	bind_text(st, 3, s->name);
	sqlite3_bind_int(st, 4, s->attempts);
	if (bind_json(ss, st, 5, workflow, s->name, s->output, err) == -1) {
		sqlite_done(st);
		return -1;
	}
	sqlite3_bind_int64(st, 6, s->started_at);
	sqlite3_bind_int64(st, 7, s->finished_at);
	return sqlite_exec_stmt(ss, st, s->run_id, err);
}

/* Appends a transition, its states and event as codes (store-row.h). */
static int
sqlite_put_transition(struct sqlite_store *ss, const struct transition_rec *t,
    struct orc_error *err)
{
	sqlite3_stmt	*st;
	int		 code;

	if ((st = sqlite_stmt(ss, ss->w, SQ_TRANSITION_INSERT, err)) == NULL)
		return -1;
	bind_text(st, 1, t->run_id);
	sqlite3_bind_int64(st, 2, t->at);
	bind_code(st, 3, store_state_code(t->from_state));
	bind_code(st, 4, store_state_code((int)t->to_state));
	if ((code = store_event_code(t->event)) >= 0)
		sqlite3_bind_int(st, 5, code);
	else
		bind_text(st, 5, t->event);
	bind_text(st, 6, t->step);
	sqlite3_bind_int(st, 7, t->seq);
	sqlite3_bind_int(st, 8, t->attempt);
	bind_text(st, 9, t->error);
	sqlite3_bind_int64(st, 10, t->duration_ms);
	return sqlite_exec_stmt(ss, st, t->run_id, err);
}

/* Appends a change's log lines. */
static int
sqlite_put_logs(struct sqlite_store *ss, const struct log_rec *l, size_t n,
    struct orc_error *err)
{
	sqlite3_stmt	*st;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if ((st = sqlite_stmt(ss, ss->w, SQ_LOG_INSERT, err)) == NULL)
			return -1;
		bind_text(st, 1, l[i].run_id);
		sqlite3_bind_int64(st, 2, l[i].at);
		bind_text(st, 3, l[i].step);
		sqlite3_bind_int(st, 4, l[i].attempt);
		bind_text(st, 5, log_level_name((enum log_level)l[i].level));
		bind_text(st, 6, l[i].message);
		if (sqlite_exec_stmt(ss, st, l[i].run_id, err) == -1)
			return -1;
	}
	return 0;
}

/* Keeps run_counts: a run entering a final state counts there, a run
 * leaving one (a redrive) stops counting there. */
static int
sqlite_count_transition(struct sqlite_store *ss, const char *workflow,
    const struct transition_rec *t, struct orc_error *err)
{
	int from_final = t->from_state >= 0 &&
	    run_state_is_final((enum run_state)t->from_state);
	int to_final = run_state_is_final(t->to_state);
	sqlite3_stmt *st;

	if (from_final == to_final)
		return 0;
	st = sqlite_stmt(ss, ss->w, to_final ? SQ_COUNT_ENTER : SQ_COUNT_LEAVE,
	    err);
	if (st == NULL)
		return -1;
	bind_text(st, 1, workflow);
	bind_state(st, 2, to_final ? (int)t->to_state : t->from_state);
	return sqlite_exec_stmt(ss, st, t->run_id, err);
}

/*
 * A step or transition of a change failed: when it is because its run is
 * no longer there (deleted by a purge, here or in another process, while
 * the change was on its way: a redrive racing with retention), the rest
 * of the change is dropped with a warning, 0; a batch that fails on it
 * would fail at every retry. SQLite undid the failed statement only, so
 * the transaction goes on. Anything else stays an error, -1.
 */
static int
sqlite_gone(struct sqlite_store *ss, const char *id, struct orc_error *err)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_extended_errcode(ss->w->db) !=
	    SQLITE_CONSTRAINT_FOREIGNKEY)
		return -1;
	if ((st = sqlite_stmt(ss, ss->w, SQ_RUN_EXISTS, err)) == NULL)
		return -1;
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	sqlite_done(st);
	if (rc != SQLITE_DONE)
		return -1;
	log_warn("%s: %s: run %s was deleted: its change is dropped",
	    __func__, ss->path, id);
	return 0;
}

/* STORE_RUN_DETACH: the children of r's visits from r's seq on. */
static int
sqlite_detach(struct sqlite_store *ss, const struct run_rec *r,
    struct orc_error *err)
{
	sqlite3_stmt *st;

	if ((st = sqlite_stmt(ss, ss->w, SQ_RUN_DETACH, err)) == NULL)
		return -1;
	bind_text(st, 1, r->id);
	sqlite3_bind_int(st, 2, r->seq);
	return sqlite_exec_stmt(ss, st, r->id, err);
}

/* Applies one change inside the open transaction. */
static int
sqlite_apply_change(void *arg, const struct store_change *ch,
    struct orc_error *err)
{
	struct sqlite_store *ss = arg;

	/* The definition first, then the run, then what refers to the run. */
	if (ch->def != NULL && sqlite_put_def(ss, ch->def, err) == -1)
		return -1;
	if ((ch->flags & STORE_RUN_DETACH) &&
	    sqlite_detach(ss, ch->run, err) == -1)
		return -1;
	if (ch->run != NULL && (ch->flags & STORE_RUN_SKIP) == 0) {
		if (ch->flags & STORE_RUN_INSERT) {
			if (sqlite_insert_run(ss, ch->run, ch->step,
			    err) == -1)
				return -1;
		} else if (sqlite_update_run(ss, ch->run, ch->step, ch->flags,
		    ch->transition, err) == -1)
			return -1;
	}
	if (ch->step != NULL && sqlite_put_step(ss, ch->run != NULL ?
	    ch->run->workflow : NULL, ch->step, err) == -1)
		return sqlite_gone(ss, ch->step->run_id, err);
	if (ch->nlogs > 0 && sqlite_put_logs(ss, ch->logs, ch->nlogs,
	    err) == -1)
		return sqlite_gone(ss, ch->logs[0].run_id, err);
	if (ch->transition == NULL)
		return 0;
	if (sqlite_put_transition(ss, ch->transition, err) == -1)
		return sqlite_gone(ss, ch->transition->run_id, err);
	return sqlite_count_transition(ss, ch->run ? ch->run->workflow : NULL,
	    ch->transition, err);
}

/* Reads one run on a connection. */
static int
sqlite_get_run_on(struct sqlite_store *ss, struct sqlite_conn *c,
    const char *id, struct run_rec *r, struct orc_error *err)
{
	struct store_row	 row;
	sqlite3_stmt		*st;
	int			 ret;

	if ((st = sqlite_stmt(ss, c, STORE_QUERY_RUN, err)) == NULL)
		return -1;
	bind_text(st, 1, id);
	if (sqlite_step_one(ss, st, "run", id, err) == -1)
		return -1;
	row = sqlite_row(ss, st);
	ret = store_row_run(&row, r, err);
	sqlite_done(st);
	return ret;
}

/* The statement of a run listing with these filters. */
static sqlite3_stmt *
sqlite_list_stmt(struct sqlite_store *ss, unsigned mask, struct orc_error *err)
{
	struct sqlite_conn	*c = ss->r;
	sqlite3_stmt		*st;
	char			*sql, *tmp;
	unsigned		 i;

	if (c->list[mask] != NULL)
		return sqlite_prepare(ss, c, &c->list[mask], NULL, err);
	/* Only fixed fragments are put together: the values are bound. */
	/* A map's items are listed by their workflow's name only. */
	sql = xstrdup("SELECT " RUN_READ " FROM runs WHERE (item IS NULL OR "
	    "?1 IS NOT NULL)");
	for (i = 0; i < sizeof sqlite_list_terms / sizeof *sqlite_list_terms;
	    i++) {
		if (mask & (1U << i)) {
			tmp = xasprintf("%s%s", sql, sqlite_list_terms[i]);
			free(sql);
			sql = tmp;
		}
	}
	tmp = xasprintf("%s ORDER BY id DESC LIMIT ifnull(?7, -1)", sql);
	free(sql);
	st = sqlite_prepare(ss, c, &c->list[mask], tmp, err);
	free(tmp);
	return st;
}

/* Hands a row to the listing's callback (store_row_feed). */
static int
sqlite_feed_row_cb(struct sqlite_store *ss, sqlite3_stmt *st, void *arg,
    struct orc_error *err)
{
	struct store_row row = sqlite_row(ss, st);

	return store_row_feed(&row, arg, err);
}

/* Runs one of store.c's reads (store_query) on the reading connection. */
static int
sqlite_query(void *arg, enum store_query q, const struct store_param *v,
    size_t n, const struct store_feed *f, struct orc_error *err)
{
	struct sqlite_store	*ss = arg;
	sqlite3_stmt		*st;

	if ((st = sqlite_stmt(ss, ss->r, q, err)) == NULL)
		return -1;
	bind_params(st, v, n);
	return sqlite_each_row(ss, st, sqlite_feed_row_cb, (void *)f, err);
}

/* Runs one of store.c's statements (store_query) on the writing
 * connection, its rows to f when there is one. */
static int
sqlite_exec_query(void *arg, enum store_query q, const struct store_param *v,
    size_t n, const struct store_feed *f, struct orc_error *err)
{
	struct sqlite_store	*ss = arg;
	sqlite3_stmt		*st;

	if ((st = sqlite_stmt(ss, ss->w, q, err)) == NULL)
		return -1;
	bind_params(st, v, n);
	if (f == NULL)
		return sqlite_exec_stmt(ss, st, NULL, err);
	return sqlite_each_row(ss, st, sqlite_feed_row_cb, (void *)f, err);
}

/* Lists runs, newest first. */
static int
sqlite_list_runs(void *arg, unsigned mask, const struct store_param *v,
    size_t n, const struct store_feed *f, struct orc_error *err)
{
	struct sqlite_store	*ss = arg;
	sqlite3_stmt		*st;

	if ((st = sqlite_list_stmt(ss, mask, err)) == NULL)
		return -1;
	bind_params(st, v, n);
	return sqlite_each_row(ss, st, sqlite_feed_row_cb, (void *)f, err);
}

/*
 * Refuses the new runs whose cron key another run holds (store_vet), in
 * the write transaction. One writer per file: there is no lease to fence.
 */
static int
sqlite_vet(void *arg, struct store_vet *v, size_t n, struct orc_error *err)
{
	struct store_one	one;
	struct store_feed	feed = { STORE_FEED_ID_ONE, .arg = &one };
	struct store_param	p[] = { STORE_TEXT(NULL), STORE_TEXT(NULL),
	    STORE_INT(0) };
	size_t			i;

	for (i = 0; i < n; i++) {
		if (!v[i].insert)
			continue;
		one.rec = v[i].existing;
		one.found = 0;
		p[0].text = v[i].run->workflow;
		p[1].text = v[i].run->idempotency_key;
		if (sqlite_exec_query(arg, STORE_QUERY_FIND_KEY, p, 3, &feed,
		    err) == -1)
			return -1;
		v[i].refused = one.found;
	}
	return 0;
}

/* A claim in progress: who claims, and the ids of the runs it may take. */
struct sqlite_claim {
	const char		*owner;
	int64_t			 now;
	store_owner_gone_fn	 gone_fn;
	void			*gone_arg;
	char			**ids;
	size_t			 n;
	size_t			 cap;
};

/* Keeps the id of a row (id, lease_owner, lease_until) if it is free. */
static int
sqlite_claim_row_cb(struct sqlite_store *ss, sqlite3_stmt *st, void *arg,
    struct orc_error *err)
{
	struct sqlite_claim	*cl = arg;
	const char		*holder;
	int64_t			 until;

	holder = (const char *)sqlite3_column_text(st, 1);
	until = sqlite3_column_int64(st, 2);
	if (holder != NULL && strcmp(holder, cl->owner) != 0 &&
	    until >= cl->now &&
	    (cl->gone_fn == NULL || !cl->gone_fn(holder, cl->gone_arg)))
		return 0;
	if (cl->n == cl->cap) {
		cl->cap = cl->cap == 0 ? 16 : cl->cap * 2;
		cl->ids = xrealloc(cl->ids, cl->cap * sizeof *cl->ids);
	}
	cl->ids[cl->n++] = xstrdup((const char *)sqlite3_column_text(st, 0));
	return 0;
}

/* Collects the claimable runs among want, or of workflow when want is NULL. */
static int
sqlite_claim_find(struct sqlite_store *ss, const char *const *want,
    const char *workflow, struct sqlite_claim *cl, struct orc_error *err)
{
	sqlite3_stmt	*st;
	size_t		 i;

	if (want == NULL) {
		if ((st = sqlite_stmt(ss, ss->w, SQ_CLAIM_ALL, err)) == NULL)
			return -1;
		bind_text(st, 1, workflow);
		sqlite3_bind_int64(st, 2, cl->now);
		return sqlite_each_row(ss, st, sqlite_claim_row_cb, cl, err);
	}
	for (i = 0; want[i] != NULL; i++) {
		if ((st = sqlite_stmt(ss, ss->w, SQ_CLAIM_ID, err)) == NULL)
			return -1;
		bind_text(st, 1, workflow);
		bind_text(st, 2, want[i]);
		if (sqlite_each_row(ss, st, sqlite_claim_row_cb, cl,
		    err) == -1)
			return -1;
	}
	return 0;
}

/* Gives one run to owner and reads it back into r. */
static int
sqlite_claim_one(struct sqlite_store *ss, const char *id, const char *owner,
    int64_t until, struct run_rec *r, struct orc_error *err)
{
	sqlite3_stmt *st;

	if ((st = sqlite_stmt(ss, ss->w, SQ_CLAIM_SET, err)) == NULL)
		return -1;
	bind_text(st, 1, id);
	bind_text(st, 2, owner);
	sqlite3_bind_int64(st, 3, until);
	if (sqlite_exec_stmt(ss, st, NULL, err) == -1)
		return -1;
	return sqlite_get_run_on(ss, ss->w, id, r, err);
}

/* Claims the runs nobody live holds, in one transaction. */
static int
sqlite_claim_runs(void *arg, const char *owner, int64_t until, int64_t now,
    const char *const *want, const char *workflow,
    store_owner_gone_fn gone_fn, void *gone_arg, struct run_rec **out,
    size_t *nout, struct orc_error *err)
{
	struct sqlite_store	*ss = arg;
	struct sqlite_claim	 cl = { .owner = owner, .now = now,
				    .gone_fn = gone_fn, .gone_arg = gone_arg };
	struct run_rec		*runs = NULL;
	size_t			 i, got = 0;
	int			 ret = -1;

	*out = NULL;
	*nout = 0;
	if (sqlite_begin(ss, err) == -1)
		return -1;
	if (sqlite_claim_find(ss, want, workflow, &cl, err) == -1)
		goto out;
	runs = xcalloc(cl.n == 0 ? 1 : cl.n, sizeof *runs);
	for (got = 0; got < cl.n; got++)
		if (sqlite_claim_one(ss, cl.ids[got], owner, until,
		    &runs[got], err) == -1)
			goto out;
	if (sqlite_commit(ss, err) == -1)
		goto out;
	*out = runs;
	*nout = got;
	ret = 0;

out:
	if (ret == -1) {
		sqlite_rollback(ss);
		for (i = 0; i < got; i++)
			run_rec_clear(&runs[i]);
		free(runs);
	}
	for (i = 0; i < cl.n; i++)
		free(cl.ids[i]);
	free(cl.ids);
	return ret;
}

/* Inserts or replaces a schedule row, inside the open transaction. */
static int
sqlite_put_schedule(void *arg, const struct schedule_rec *r,
    struct orc_error *err)
{
	struct sqlite_store	*ss = arg;
	sqlite3_stmt		*st;

	if ((st = sqlite_stmt(ss, ss->w, SQ_SCHED_PUT, err)) == NULL)
		return -1;
	bind_text(st, 1, r->workflow);
	bind_text(st, 2, r->schedule != NULL ? r->schedule : "");
	bind_text(st, 3, r->timezone);
	sqlite3_bind_int64(st, 4, r->next_at);
	sqlite3_bind_int64(st, 5, r->last_fire_at);
	bind_text(st, 6, r->last_run_id);
	sqlite3_bind_int64(st, 7, r->fired);
	sqlite3_bind_int64(st, 8, r->skipped);
	sqlite3_bind_int64(st, 9, r->updated_at);
	return sqlite_exec_stmt(ss, st, NULL, err);
}

/* A run a purge deletes. */
struct sqlite_victim {
	char		 id[RUN_ID_LEN + 1];
	char		*workflow;
	int		 state;
};

/*
 * Scans a purge's window: fills the runs to delete (at most p->limit) and
 * the blob references of their rows, and moves p->cursor on.
 */
static int
sqlite_purge_scan(struct sqlite_store *ss, struct store_purge *p,
    struct sqlite_victim *v, size_t *nv, struct blob_refs *br,
    struct orc_error *err)
{
	struct store_row	 row;
	sqlite3_stmt		*st;
	int			 rc, goes, scanned = 0;

	*nv = 0;
	if ((st = sqlite_stmt(ss, ss->w, SQ_PURGE_SCAN, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, p->cursor);
	sqlite3_bind_int(st, 2, p->scan);
	bind_text(st, 3, p->workflow);
	bind_state(st, 4, p->state);
	sqlite3_bind_int64(st, 5, p->finished_before);
	sqlite3_bind_int(st, 6, p->by_retention);
	sqlite3_bind_int64(st, 7, p->default_ms);
	sqlite3_bind_int64(st, 9, store_purge_end(p));
	bind_text(st, 10, p->cursor_id);
	sqlite3_bind_int64(st, 11, p->retention_ms);
	row = sqlite_row(ss, st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((goes = store_row_purge(&row, p, *nv, br)) == -1)
			break;
		scanned++;
		if (goes == 0)
			continue;
		store_row_id(&row, 0, v[*nv].id);
		v[*nv].workflow = store_row_text(&row, 1);
		v[*nv].state = store_row_state(&row, 2);
		(*nv)++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite_error(ss, ss->w->db, err);
		sqlite_done(st);
		return -1;
	}
	sqlite_done(st);
	p->done = rc == SQLITE_DONE && scanned < p->scan;
	return 0;
}

/* Deletes one run with its steps, transitions and log lines, keeping the blob
 * references of its steps, and leaves its counter. */
static int
sqlite_purge_run(struct sqlite_store *ss, const struct sqlite_victim *v,
    struct blob_refs *br, struct orc_error *err)
{
	static const int deletes[] = {
		SQ_PURGE_STEPS, SQ_PURGE_TRANSITIONS, SQ_PURGE_LOGS,
		SQ_PURGE_RUN
	};
	struct transition_rec	 t;
	struct store_row	 row;
	sqlite3_stmt		*st;
	size_t			 i;
	int			 rc;

	if (ss->blobs != NULL) {
		if ((st = sqlite_stmt(ss, ss->w, SQ_PURGE_STEP_BLOBS,
		    err)) == NULL)
			return -1;
		bind_text(st, 1, v->id);
		row = sqlite_row(ss, st);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			store_row_ref(&row, 0, br);
		sqlite_done(st);
		if (rc != SQLITE_DONE) {
			sqlite_run_error(ss, ss->w->db, v->id, err);
			return -1;
		}
	}
	for (i = 0; i < sizeof deletes / sizeof deletes[0]; i++) {
		if ((st = sqlite_stmt(ss, ss->w, deletes[i], err)) == NULL)
			return -1;
		bind_text(st, 1, v->id);
		if (sqlite_exec_stmt(ss, st, v->id, err) == -1)
			return -1;
	}
	/* The run leaves its final state's counter, as a redrive does. */
	memset(&t, 0, sizeof t);
	snprintf(t.run_id, sizeof t.run_id, "%s", v->id);
	t.from_state = v->state;
	t.to_state = RUN_QUEUED;
	return sqlite_count_transition(ss, v->workflow, &t, err);
}

/* Which blobs rows still refer to (blob_refs_remove's question). */
static int
sqlite_blob_used(void *arg, struct blob_refs *br, struct orc_error *err)
{
	struct sqlite_store	*ss = arg;
	sqlite3_stmt		*st;
	json_t			*list;
	size_t			 i;
	char			*text;
	int			 rc;

	if ((st = sqlite_stmt(ss, ss->w, SQ_BLOB_USED, err)) == NULL)
		return -1;
	list = json_array();
	for (i = 0; i < br->n; i++)
		json_array_append_new(list, json_string(br->refs[i]));
	if ((text = json_dumps(list, JSON_COMPACT)) == NULL)
		fatal("%s: out of memory", __func__);
	json_decref(list);
	sqlite3_bind_text(st, 1, text, -1, free);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		blob_refs_mark(br, (const char *)sqlite3_column_text(st, 0));
	sqlite_done(st);
	if (rc != SQLITE_DONE) {
		sqlite_error(ss, ss->w->db, err);
		return -1;
	}
	return 0;
}

/* Forgets old idempotency keys, at most p->limit. */
static int
sqlite_purge_keys(struct sqlite_store *ss, struct store_purge *p,
    struct orc_error *err)
{
	sqlite3_stmt *st;

	if (p->keys_before <= 0 || p->dry_run)
		return 0;
	if ((st = sqlite_stmt(ss, ss->w, SQ_PURGE_KEYS, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, p->keys_before);
	sqlite3_bind_int(st, 2, p->limit);
	if (sqlite_exec_stmt(ss, st, NULL, err) == -1)
		return -1;
	p->keys = sqlite3_changes(ss->w->db);
	return 0;
}

/*
 * Gives the file back the pages deletions freed, a few at a time, once
 * many are free: under a steady load the next writes reuse what a purge
 * frees, and moving pages to shrink a file that grows again would only
 * lengthen the commits the webhooks wait for (at 1,000 runs/s with a 1 s
 * retention, 1,024 pages a purge took the p99 ack from 8 ms to 100 ms).
 * After a burst, the file shrinks a step per purge. Only a file in
 * incremental auto-vacuum mode can: see sqlite_setup_vacuum.
 */
static int
sqlite_purge_vacuum(struct sqlite_store *ss, struct orc_error *err)
{
	int64_t	free_pages, pages;
	char	sql[64];

	if (!ss->incremental)
		return 0;
	if (sqlite_query_int(ss->w->db, "PRAGMA freelist_count",
	    &free_pages) != SQLITE_OK || sqlite_query_int(ss->w->db,
	    "PRAGMA page_count", &pages) != SQLITE_OK) {
		sqlite_error(ss, ss->w->db, err);
		return -1;
	}
	if (free_pages <= SQLITE_VACUUM_MIN ||
	    free_pages * SQLITE_VACUUM_SHARE <= pages)
		return 0;
	snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)",
	    SQLITE_VACUUM_PAGES);
	if (sqlite3_exec(ss->w->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		sqlite_error(ss, ss->w->db, err);
		return -1;
	}
	return 0;
}

/* Applies a purge inside the open transaction (see struct store_purge). */
static int
sqlite_purge(void *arg, struct store_purge *p, struct orc_error *err)
{
	struct sqlite_store	*ss = arg;
	struct sqlite_victim	*v;
	struct blob_refs	 br;
	size_t			 nv = 0, i, removed;
	int			 ret = -1;

	memset(&br, 0, sizeof br);
	v = xcalloc((size_t)p->limit + 1, sizeof *v);
	if (sqlite_purge_scan(ss, p, v, &nv, &br, err) == -1)
		goto out;
	p->deleted = (int64_t)nv;
	if (!p->dry_run) {
		for (i = 0; i < nv; i++)
			if (sqlite_purge_run(ss, &v[i], &br, err) == -1)
				goto out;
		if (sqlite_purge_keys(ss, p, err) == -1)
			goto out;
		/* Before the commit: the transaction keeps out any writer
		 * that could take a file for one it already has. */
		if (blob_refs_remove(ss->blobs, &br, sqlite_blob_used, ss,
		    &removed, err) == -1)
			goto out;
		if (nv > 0 && sqlite_purge_vacuum(ss, err) == -1)
			goto out;
	}
	ret = 0;
out:
	for (i = 0; i < nv; i++)
		free(v[i].workflow);
	free(v);
	blob_refs_clear(&br);
	return ret;
}

/* The bytes of the file and its log (the pages of ":memory:"). */
static int
sqlite_size(void *arg, int64_t *bytes, struct orc_error *err)
{
	struct sqlite_store	*ss = arg;
	struct stat		 sb;
	int64_t			 pages, size;
	char			*wal;

	*bytes = 0;
	if (strcmp(ss->path, ":memory:") == 0) {
		if (sqlite_query_int(ss->r->db, "PRAGMA page_count",
		    &pages) != SQLITE_OK || sqlite_query_int(ss->r->db,
		    "PRAGMA page_size", &size) != SQLITE_OK) {
			sqlite_error(ss, ss->r->db, err);
			return -1;
		}
		*bytes = pages * size;
		return 0;
	}
	if (stat(ss->path, &sb) != 0) {
		orc_error_set(err, ORC_EIO, "%s: %s", ss->path,
		    strerror(errno));
		return -1;
	}
	*bytes = (int64_t)sb.st_size;
	wal = xasprintf("%s-wal", ss->path);
	if (stat(wal, &sb) == 0)
		*bytes += (int64_t)sb.st_size;
	free(wal);
	return 0;
}

/* When the oldest finished run finished, by runs_finished. */
static int
sqlite_oldest_finished(void *arg, int64_t *at, struct orc_error *err)
{
	struct sqlite_store	*ss = arg;
	sqlite3_stmt		*st;

	*at = 0;
	if ((st = sqlite_stmt(ss, ss->r, SQ_OLDEST_FINISHED, err)) == NULL)
		return -1;
	if (sqlite_step_one(ss, st, "oldest", "finished run", err) == -1)
		return -1;
	*at = sqlite3_column_int64(st, 0);
	sqlite_done(st);
	return 0;
}

/* Runs SQL on a connection of the backup's copy; -1 with err naming it. */
static int
sqlite_copy_exec(sqlite3 *db, const char *file, const char *sql,
    struct orc_error *err)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	orc_error_set(err, ORC_ESTORE, "%s: %s", file, sqlite3_errmsg(db));
	return -1;
}

/*
 * Makes the snapshot tmp ready to serve: leases let go, counted, checked,
 * and every blob its rows refer to copied from src_blobs (when not NULL)
 * to dst_blobs.
 */
static int
sqlite_copy_finish(const char *tmp, const char *src_blobs,
    const char *dst_blobs, struct store_backup_stats *st,
    struct orc_error *err)
{
	static const char refs_sql[] = "SELECT v FROM (SELECT input v FROM "
	    "runs UNION SELECT trigger FROM runs UNION SELECT output FROM "
	    "runs UNION SELECT output FROM steps) WHERE v LIKE '{\"$blob\":%'";
	sqlite3_stmt	*q = NULL;
	sqlite3		*db = NULL;
	int64_t		 ok = 0;
	int		 rc, ret = -1;

	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		orc_error_set(err, ORC_ESTORE, "%s: %s", tmp,
		    db != NULL ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	if (sqlite_copy_exec(db, tmp, "UPDATE runs SET lease_owner = NULL, "
	    "lease_until = NULL WHERE lease_owner IS NOT NULL", err) != 0)
		goto out;
	if (sqlite_query_int(db, "SELECT count(*) FROM runs",
	    &st->runs) != SQLITE_OK || sqlite_query_int(db, "SELECT count(*) "
	    "FROM runs WHERE " STORE_RUN_UNFINISHED, &st->unfinished) !=
	    SQLITE_OK)
		goto dberr;
	if (sqlite3_prepare_v2(db, refs_sql, -1, &q, NULL) != SQLITE_OK)
		goto dberr;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		st->blobs++;
		if (src_blobs != NULL && blob_copy(src_blobs, dst_blobs,
		    (const char *)sqlite3_column_text(q, 0), NULL, err) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		goto dberr;
	if (st->blobs > 0 && src_blobs != NULL &&
	    orc_fsync_dir(dst_blobs) != 0) {
		orc_error_set(err, ORC_ESTORE, "cannot sync blob folder %s: "
		    "%s", dst_blobs, strerror(errno));
		goto out;
	}
	if (sqlite_query_int(db, "SELECT quick_check = 'ok' FROM "
	    "pragma_quick_check", &ok) != SQLITE_OK)
		goto dberr;
	if (!ok) {
		orc_error_set(err, ORC_ESTORE, "%s: the copy fails "
		    "PRAGMA quick_check", tmp);
		goto out;
	}
	ret = 0;
	goto out;
dberr:
	orc_error_set(err, ORC_ESTORE, "%s: %s", tmp, sqlite3_errmsg(db));
out:
	sqlite3_finalize(q);
	sqlite3_close(db);
	return ret;
}

/* Whether two paths name one folder (both must exist). */
static int
sqlite_same_dir(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * store_backup: VACUUM INTO a temporary file beside file, in one read
 * transaction of the reading connection (the WAL lets the daemon's
 * writer go on meanwhile; the log grows until the read ends), then the
 * copy's blobs, then a rename. The blobs present before the snapshot are
 * linked first, so that a purge committed while it is taken cannot
 * remove a file the snapshot still refers to before it is copied.
 */
static int
sqlite_backup(void *arg, const char *file, struct store_backup_stats *st,
    struct orc_error *err)
{
	struct sqlite_store	*ss = arg;
	sqlite3_stmt		*v = NULL;
	struct stat		 sb;
	char			*tmp, *dst_blobs, *dir;
	const char		*src_blobs, *slash;
	size_t			 n;
	int			 fd, ret = -1;

	if (strcmp(ss->path, ":memory:") == 0) {
		orc_error_set(err, ORC_EINVAL, "%s: nothing to back up",
		    ss->path);
		return -1;
	}
	if (lstat(file, &sb) == 0) {
		orc_error_set(err, ORC_EINVAL, "%s already exists: a backup "
		    "goes to a new file", file);
		return -1;
	}
	dst_blobs = blob_dir_for(file);
	tmp = xasprintf("%s.tmp-%ld", file, (long)getpid());
	/* A copy beside the store shares its blob folder. */
	src_blobs = ss->blobs;
	if (src_blobs != NULL && sqlite_same_dir(src_blobs, dst_blobs))
		src_blobs = NULL;
	if (src_blobs != NULL &&
	    blob_copy_dir(src_blobs, dst_blobs, &n, err) != 0)
		goto out;
	unlink(tmp);
	if (sqlite3_prepare_v2(ss->r->db, "VACUUM INTO ?1", -1, &v, NULL) !=
	    SQLITE_OK || sqlite3_bind_text(v, 1, tmp, -1, SQLITE_STATIC) !=
	    SQLITE_OK || sqlite3_step(v) != SQLITE_DONE) {
		orc_error_set(err, ORC_ESTORE, "%s: cannot copy into %s: %s",
		    ss->path, tmp, sqlite3_errmsg(ss->r->db));
		goto out;
	}
	if (sqlite_copy_finish(tmp, src_blobs, dst_blobs, st, err) != 0)
		goto out;
	/* Durable before it takes its name. */
	if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0 || fsync(fd) != 0 ||
	    fstat(fd, &sb) != 0) {
		orc_error_set(err, ORC_EIO, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	st->bytes = (int64_t)sb.st_size;
	if (rename(tmp, file) != 0) {
		orc_error_set(err, ORC_EIO, "cannot rename %s to %s: %s", tmp,
		    file, strerror(errno));
		goto out;
	}
	if ((slash = strrchr(file, '/')) == NULL)
		dir = xstrdup(".");
	else
		dir = slash == file ? xstrdup("/") :
		    xstrndup(file, (size_t)(slash - file));
	(void)orc_fsync_dir(dir);
	free(dir);
	ret = 0;
out:
	sqlite3_finalize(v);
	if (ret != 0)
		unlink(tmp);
	free(tmp);
	free(dst_blobs);
	return ret;
}

/* The distinct retentions of the stored definitions. */
static int
sqlite_retentions(void *arg, int64_t default_ms, int (*cb)(int64_t, void *),
    void *cb_arg, struct orc_error *err)
{
	struct sqlite_store	*ss = arg;
	sqlite3_stmt		*st;
	int			 rc;

	if ((st = sqlite_stmt(ss, ss->r, SQ_RETENTIONS, err)) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, default_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (cb(sqlite3_column_int64(st, 0), cb_arg) != 0)
			break;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite_error(ss, ss->r->db, err);
		sqlite_done(st);
		return -1;
	}
	sqlite_done(st);
	return 0;
}

const struct store_ops store_sqlite_ops = {
	.retentions = sqlite_retentions,
	.backup = sqlite_backup,
	.purge = sqlite_purge,
	.size = sqlite_size,
	.oldest_finished = sqlite_oldest_finished,
	.name = "sqlite",
	.separate_reader = sqlite_separate_reader,
	.open = sqlite_open,
	.close = sqlite_close,
	.begin = sqlite_begin,
	.vet = sqlite_vet,
	.apply_change = sqlite_apply_change,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.list_runs = sqlite_list_runs,
	.query = sqlite_query,
	.exec = sqlite_exec_query,
	.claim_runs = sqlite_claim_runs,
	.put_schedule = sqlite_put_schedule,
	.check_target = sqlite_check_target,
};
