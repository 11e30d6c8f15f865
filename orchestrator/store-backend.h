/*
 * The table a store backend fills. store.c keeps the queue of pending
 * changes, groups them into transactions, runs the callbacks and retries
 * failed commits; a backend only knows how to open a database, apply one
 * change inside a transaction, and answer reads. It speaks in the records
 * of store.h, never in SQL, so that store-sqlite.c and store-pg.c
 * are interchangeable.
 *
 * Every function taking a struct orc_error fills it on failure with a
 * message naming the database, and returns -1 (or NULL). Reads call their
 * callback once per row and stop early when it returns non-zero.
 */
#ifndef STORE_BACKEND_H
#define STORE_BACKEND_H

#include "store.h"

/*
 * A run a transaction writes, as the backend's vet sees it: one that is
 * updated must still hold the lease token epoch, and the backend locks
 * its row until the commit so that no claim takes it meanwhile; one that
 * is inserted with a unique idempotency key (store_key_unique) must find
 * the key free, else existing names the run holding it.
 */
struct store_vet {
	const struct run_rec	*run;
	int			 insert;
	int64_t			 epoch;
	int			 refused;	/* out */
	char			 existing[RUN_ID_LEN + 1];	/* out, or "" */
};

/* Whether an idempotency key is unique in the store: a cron fire's. The
 * backends' unique indexes say the same (substr(key, 1, 5) = 'cron:'). */
#define STORE_UNIQUE_KEY	"cron:"
int	store_key_unique(const char *key);
/* The migration of both backends that makes the cron keys unique: of the
 * runs holding one key (an older build fired a minute twice), the first
 * keeps it and the others lose it; they stay, with their history. */
#define STORE_CRON_KEY_MIGRATION					\
	"UPDATE runs SET idempotency_key = NULL WHERE "			\
	"  substr(idempotency_key, 1, 5) = 'cron:' AND id NOT IN "	\
	"  (SELECT min(id) FROM runs WHERE "				\
	"  substr(idempotency_key, 1, 5) = 'cron:' "			\
	"  GROUP BY workflow, idempotency_key);"			\
	"CREATE UNIQUE INDEX runs_cron_key ON runs "			\
	"  (workflow, idempotency_key) "				\
	"  WHERE substr(idempotency_key, 1, 5) = 'cron:';"

/*
 * The statements that take a few parameters and either hand every row to
 * a feed (store-row.h) or answer none: store.c says which and gives the
 * parameters, in the order of the comments; a backend keeps a prepared
 * statement for each, at the same index of its own statements, and binds
 * by its primitives.
 */
enum store_query {
	STORE_QUERY_RUN,		/* id */
	STORE_QUERY_DEF,		/* hash */
	STORE_QUERY_STEPS,		/* run_id */
	STORE_QUERY_CHILDREN,		/* parent_id, step, state, after,
					 * limit, with_output, seq */
	STORE_QUERY_COUNT_CHILDREN,	/* parent_id */
	STORE_QUERY_TRANSITIONS,	/* run_id */
	STORE_QUERY_LOGS,		/* run_id, after_id */
	STORE_QUERY_COUNT_ALL,		/* none */
	STORE_QUERY_COUNT_WORKFLOW,	/* workflow */
	STORE_QUERY_COUNT_BY_WORKFLOW,	/* none */
	STORE_QUERY_FINISHED,		/* since, limit */
	STORE_QUERY_SCHEDULES,		/* none */
	STORE_QUERY_SEARCH_ID,		/* prefix, its end, limit */
	STORE_QUERY_SEARCH_ERROR,	/* text, scan, limit */
	STORE_QUERY_FIND_KEY,		/* workflow, key, since */
	STORE_QUERY_NEXT_WAKE,		/* none */
	STORE_QUERY_SECRET,		/* name */
	STORE_QUERY_RKEY_GET,		/* target, key, since */
	STORE_QUERY_COUNT_FINISHED,	/* since, state, limit */
	/* Writes, by exec: request keys put and old ones dropped; leases
	 * renewed; requests to cancel a run made, one looked for, those of
	 * owner's runs taken, old ones dropped. */
	STORE_QUERY_RKEY_PUT,		/* target, key, run_id, body_sha,
					 * at */
	STORE_QUERY_RKEY_EXPIRE,	/* before */
	STORE_QUERY_RENEW,		/* owner, until */
	STORE_QUERY_CANCEL_PUT,		/* run_id, at */
	STORE_QUERY_CANCEL_ANY,		/* none */
	STORE_QUERY_CANCEL_TAKE,	/* owner */
	STORE_QUERY_CANCEL_EXPIRE,	/* before */
	STORE_QUERY_COUNT
};

/* A query's parameter: an integer, or a text (NULL for SQL NULL). A
 * limit is an integer, or NULL for none. */
struct store_param {
	int		 integer;
	const char	*text;
	int64_t		 n;
};
#define STORE_TEXT(s)	{ 0, (s), 0 }
#define STORE_INT(v)	{ 1, NULL, (v) }

struct store_feed;

struct store_ops {
	const char	*name;		/* "sqlite" */

	/* Opens target; with STORE_READONLY, no writes nor migrations. */
	void	*(*open)(const char *target, unsigned flags,
		    const struct store_config *, struct orc_error *);
	void	 (*close)(void *);

	/* One write transaction: begin, apply each change, commit. */
	int	 (*begin)(void *, struct orc_error *);
	/* Applies one change; def is NULL when the definition is known to
	 * be stored already. */
	int	 (*apply_change)(void *, const struct store_change *,
		    struct orc_error *);
	int	 (*commit)(void *, struct orc_error *);
	/* Inside the open write transaction, before the changes: sets
	 * refused on each run that must not be written (see store_vet).
	 * NULL: nothing is ever refused. */
	int	 (*vet)(void *, struct store_vet *, size_t n,
		    struct orc_error *);
	/* Undoes an open transaction; harmless when none is open. */
	void	 (*rollback)(void *);

	/* Applies a purge inside the open write transaction (store.h),
	 * filling its outputs; blob files go before the commit, while the
	 * transaction keeps other writers out. */
	int	 (*purge)(void *, struct store_purge *, struct orc_error *);
	int	 (*size)(void *, int64_t *, struct orc_error *);
	int	 (*oldest_finished)(void *, int64_t *, struct orc_error *);
	/* The distinct retentions of the definitions, a definition without
	 * one counting as default_ms; cb per value. */
	int	 (*retentions)(void *, int64_t default_ms,
		    int (*cb)(int64_t, void *), void *, struct orc_error *);
	/* store_backup (store.h), through the reading connection. */
	int	 (*backup)(void *, const char *file,
		    struct store_backup_stats *, struct orc_error *);

	/* Reads. Records passed to callbacks are lent for the call only. */
	/* Like query, the listing of runs by the statement of the filters
	 * mask sets (STORE_LIST_*): v has a parameter per place, NULL where
	 * a filter is not set. */
	int	 (*list_runs)(void *, unsigned mask,
		    const struct store_param *v, size_t n,
		    const struct store_feed *, struct orc_error *);
	/* Runs query q with its n parameters on the reader, each row to
	 * the feed; exec runs q on the writer, out of any batch, its rows
	 * to the feed when there is one. */
	int	 (*query)(void *, enum store_query q,
		    const struct store_param *, size_t n,
		    const struct store_feed *, struct orc_error *);
	int	 (*exec)(void *, enum store_query q,
		    const struct store_param *, size_t n,
		    const struct store_feed *, struct orc_error *);
	/* The dashboard's reads: see store.h. */

	/*
	 * Claims, in one transaction of its own, the unfinished runs (of ids
	 * when not NULL, of workflow when not NULL) whose lease is free,
	 * expired at now, held by owner already, or held by an owner that
	 * gone_fn says is gone. On success *out is a new array of *nout
	 * full records the caller clears and frees.
	 */
	int	 (*claim_runs)(void *, const char *owner, int64_t until,
		    int64_t now, const char *const *ids, const char *workflow,
		    store_owner_gone_fn, void *gone_arg, struct run_rec **out,
		    size_t *nout, struct orc_error *);

	/*
	 * Schedules (scheduler.c). put_schedule is called inside an open write
	 * transaction, like apply_change: it inserts the row of
	 * rec->workflow or replaces every column of it.
	 */
	int	 (*put_schedule)(void *, const struct schedule_rec *,
		    struct orc_error *);

	/* Whether this process is the one that fires cron triggers: 1 or
	 * 0, -1 on error. NULL: always (one process per database). */
	int	 (*sched_leader)(void *, struct orc_error *);

	/* 1 when reads use a connection of their own: then the writes
	 * (begin to commit, claims, renewals) may run on another thread,
	 * one at a time, while the loop reads. */
	int	 (*separate_reader)(void *);

	/* -1 with err when the target is no longer the one open (a file
	 * removed or replaced), else 0. Called from the loop's thread
	 * while writes may run. NULL: the target cannot go away so. */
	int	 (*check_target)(void *, struct orc_error *);
};

extern const struct store_ops store_sqlite_ops;
/* In builds with libpq (HAVE_LIBPQ): store-pg.c. */
extern const struct store_ops store_pg_ops;

/* A target as messages may show it: a URL without its password nor its
 * query string. A new string. */
char	*store_display_target(const char *);

/* Frees a list of ids a backend made. */
void	store_free_ids(char **, size_t);

#endif
