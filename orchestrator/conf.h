/*
 * The settings a process takes from its environment, read once at start
 * (main.c, before a command runs; the worker process at its own start)
 * into struct orc_config, checked there, and handed down: the modules read
 * fields or parameters, not variables. A bad value stops the command with
 * a message naming the variable instead of being ignored.
 *
 * Not configuration, and read where used: HOME, TMPDIR, TZDIR, LANG, the
 * dashboard's TERM, NO_COLOR, LINES and COLUMNS, the secrets a step's
 * "env", a bucket's or a webhook's secret_env names, and the environment
 * a worker hands to Lua.
 */
#ifndef CONF_H
#define CONF_H

#include <stddef.h>
#include <stdint.h>

#include "orchestrator.h"
#include "store.h"

#define CONF_LISTEN_DEFAULT		"127.0.0.1:8080"
#define CONF_LEASE_MS_DEFAULT		30000
#define CONF_CRASH_RESUMES_DEFAULT	3
#define CONF_DB_DEFAULT			"orchestrator.db"
#define CONF_WORKFLOWS_DEFAULT		"workflows"
#define CONF_BUCKETS_DEFAULT		"buckets"
#define CONF_LOG_LEVEL_DEFAULT		"warn"
#define CONF_RETENTION_DEFAULT_MS	((int64_t)30 * 86400000) /* 30d */
/* The least bound on request bytes held that serve takes. */
#define CONF_INFLIGHT_MIN		65536

/*
 * The settings; strings are borrowed from the environment. A number that
 * says "0: the default" (or -1 where 0 is a value) leaves the default to
 * the module, which knows it (the cores online, a backend's timeout).
 */
struct orc_config {
	/* serve and the engine */
	const char	*listen;	/* ORCH_LISTEN */
	const char	*api_token;	/* ORCH_API_TOKEN (the CLI's too) */
	const char	*otlp_endpoint;	/* ORCH_OTLP_ENDPOINT, or NULL */
	const char	*public_url;	/* ORCH_PUBLIC_URL, or NULL */
	int64_t		 lease_ms;	/* ORCH_LEASE_MS */
	int		 crash_resumes;	/* ORCH_CRASH_RESUMES */
	size_t		 max_inflight;	/* ORCH_MAX_INFLIGHT_BYTES, 0: http's */
	int64_t		 retention_ms;	/* ORCH_RETENTION, or STORE_FOREVER */
	const char	*test_clock;	/* ORCH_TEST_CLOCK_FILE, or NULL */
	/* the command line's defaults for its options */
	const char	*db;		/* ORCH_DB */
	const char	*workflows;	/* ORCH_WORKFLOWS */
	const char	*buckets;	/* ORCH_BUCKETS */
	const char	*url;		/* ORCH_URL, or NULL */
	const char	*log_level;	/* ORCH_LOG_LEVEL, checked by log.c */
	int		 workers;	/* ORCH_WORKERS, -1: one per core */
	/* the steps' I/O */
	int		 io_threads;	/* ORCH_IO_THREADS, 0: pool's */
	size_t		 fetch_buffer;	/* ORCH_FETCH_BUFFER_BYTES, or 0 */
	int		 fetch_thread;	/* ORCH_FETCH_THREAD, 0 or 1 */
	/* the worker processes' sandbox */
	int		 worker_nice;	/* ORCH_WORKER_NICE, -1: sandbox's */
	int64_t		 worker_memory_mb; /* ORCH_WORKER_MEMORY_MB, 0: its */
	/* the store: ORCH_BUSY_TIMEOUT_MS, ORCH_SYNCHRONOUS, ORCH_WAL_BUFFER,
	 * ORCH_COMMIT_THREAD, ORCH_BLOB_BYTES, ORCH_BLOB_DIR */
	struct store_config store;
};

/* Fills in the defaults alone, the environment unread. */
void	conf_defaults(struct orc_config *);
/* Reads and checks the environment; -1 with err (ORC_EINVAL) naming the
 * variable when a value is not allowed, the defaults left for it. */
int	conf_load(struct orc_config *, struct orc_error *);

#endif
