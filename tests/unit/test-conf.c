/*
 * Tests of the settings read from the environment: the defaults, the
 * values taken, empty variables read as unset, and a bad number refused
 * with a message naming its variable.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "orchestrator.h"
#include "store.h"
#include "test.h"

/* Every variable conf_load reads. */
static const char *const conf_vars[] = {
	"ORCH_LISTEN", "ORCH_API_TOKEN", "ORCH_OTLP_ENDPOINT",
	"ORCH_LEASE_MS", "ORCH_CRASH_RESUMES", "ORCH_MAX_INFLIGHT_BYTES",
	"ORCH_RETENTION", "ORCH_TEST_CLOCK_FILE", "ORCH_DB",
	"ORCH_WORKFLOWS", "ORCH_BUCKETS", "ORCH_URL", "ORCH_LOG_LEVEL",
	"ORCH_WORKERS", "ORCH_IO_THREADS", "ORCH_FETCH_BUFFER_BYTES",
	"ORCH_FETCH_THREAD", "ORCH_WORKER_NICE", "ORCH_WORKER_MEMORY_MB",
	"ORCH_BUSY_TIMEOUT_MS", "ORCH_SYNCHRONOUS", "ORCH_WAL_BUFFER",
	"ORCH_COMMIT_THREAD", "ORCH_BLOB_BYTES", "ORCH_BLOB_DIR", NULL
};

/* Unsets every variable conf_load reads. */
static void
conf_unset(void)
{
	size_t i;

	for (i = 0; conf_vars[i] != NULL; i++)
		unsetenv(conf_vars[i]);
}

/* Sets name to value alone; conf_load must refuse it, naming both. */
static void
conf_refused(const char *name, const char *value, const char *says)
{
	struct orc_config c;
	struct orc_error err;
	char *want;

	conf_unset();
	setenv(name, value, 1);
	CHECK(conf_load(&c, &err) == -1);
	CHECK(err.code == ORC_EINVAL);
	want = xasprintf("%s \"%s\" is not %s", name, value, says);
	CHECK_CONTAINS(err.message, want);
	free(want);
	conf_unset();
}

/* Nothing set: the defaults. */
static void
test_conf_defaults(void)
{
	struct orc_config c;
	struct orc_error err;

	conf_unset();
	REQUIRE(conf_load(&c, &err) == 0);
	CHECK_STR(c.listen, "127.0.0.1:8080");
	CHECK(c.api_token == NULL);
	CHECK(c.otlp_endpoint == NULL);
	CHECK(c.lease_ms == 30000);
	CHECK(c.crash_resumes == 3);
	CHECK(c.max_inflight == 0);
	CHECK(c.retention_ms == (int64_t)30 * 24 * 3600 * 1000);
	CHECK(c.test_clock == NULL);
	CHECK_STR(c.db, "orchestrator.db");
	CHECK_STR(c.workflows, "workflows");
	CHECK_STR(c.buckets, "buckets");
	CHECK(c.url == NULL);
	CHECK_STR(c.log_level, "warn");
	CHECK(c.workers == -1);
	CHECK(c.io_threads == 0);
	CHECK(c.fetch_buffer == 0);
	CHECK(c.fetch_thread == 1);
	CHECK(c.worker_nice == -1);
	CHECK(c.worker_memory_mb == 0);
	CHECK(c.store.busy_ms == -1);
	CHECK(c.store.sync == STORE_SYNC_FULL);
	CHECK(!c.store.no_wal_buffer && !c.store.no_commit_thread);
	CHECK(c.store.blob_bytes == 0);
	CHECK(c.store.blob_dir == NULL);
}

/* Set values are taken; empty ones count as unset. */
static void
test_conf_values(void)
{
	struct orc_config c;
	struct orc_error err;

	conf_unset();
	setenv("ORCH_LISTEN", "0.0.0.0:9000", 1);
	setenv("ORCH_API_TOKEN", "", 1);
	setenv("ORCH_OTLP_ENDPOINT", "http://127.0.0.1:4318", 1);
	setenv("ORCH_LEASE_MS", "1500", 1);
	setenv("ORCH_CRASH_RESUMES", "0", 1);
	REQUIRE(conf_load(&c, &err) == 0);
	CHECK_STR(c.listen, "0.0.0.0:9000");
	CHECK(c.api_token == NULL);
	CHECK_STR(c.otlp_endpoint, "http://127.0.0.1:4318");
	CHECK(c.lease_ms == 1500);
	CHECK(c.crash_resumes == 0);
	conf_unset();
}

/* The settings added for the other modules are taken too. */
static void
test_conf_module_values(void)
{
	static const char *const set[][2] = {
		{ "ORCH_MAX_INFLIGHT_BYTES", "65536" },
		{ "ORCH_RETENTION", "12h" }, { "ORCH_TEST_CLOCK_FILE", "clk" },
		{ "ORCH_DB", "x.db" }, { "ORCH_WORKFLOWS", "wf" },
		{ "ORCH_BUCKETS", "bk" }, { "ORCH_URL", "http://h:1" },
		{ "ORCH_LOG_LEVEL", "debug" }, { "ORCH_WORKERS", "0" },
		{ "ORCH_IO_THREADS", "64" },
		{ "ORCH_FETCH_BUFFER_BYTES", "100000" },
		{ "ORCH_FETCH_THREAD", "0" }, { "ORCH_WORKER_NICE", "0" },
		{ "ORCH_WORKER_MEMORY_MB", "512" },
		{ "ORCH_BUSY_TIMEOUT_MS", "0" },
		{ "ORCH_SYNCHRONOUS", "normal" },
		{ "ORCH_WAL_BUFFER", "0" }, { "ORCH_COMMIT_THREAD", "0" },
		{ "ORCH_BLOB_BYTES", "64" }, { "ORCH_BLOB_DIR", "/mnt/b" }
	};
	struct orc_config c;
	struct orc_error err;
	size_t i;

	conf_unset();
	for (i = 0; i < sizeof set / sizeof set[0]; i++)
		setenv(set[i][0], set[i][1], 1);
	REQUIRE(conf_load(&c, &err) == 0);
	CHECK(c.max_inflight == 65536);
	CHECK(c.retention_ms == (int64_t)12 * 3600 * 1000);
	CHECK_STR(c.test_clock, "clk");
	CHECK_STR(c.db, "x.db");
	CHECK_STR(c.workflows, "wf");
	CHECK_STR(c.buckets, "bk");
	CHECK_STR(c.url, "http://h:1");
	CHECK_STR(c.log_level, "debug");
	CHECK(c.workers == 0);
	CHECK(c.io_threads == 64);
	CHECK(c.fetch_buffer == 100000);
	CHECK(c.fetch_thread == 0);
	CHECK(c.worker_nice == 0);
	CHECK(c.worker_memory_mb == 512);
	CHECK(c.store.busy_ms == 0);
	CHECK(c.store.sync == STORE_SYNC_NORMAL);
	CHECK(c.store.no_wal_buffer && c.store.no_commit_thread);
	CHECK(c.store.blob_bytes == 64);
	CHECK_STR(c.store.blob_dir, "/mnt/b");
	setenv("ORCH_RETENTION", "forever", 1);
	setenv("ORCH_FETCH_THREAD", "1", 1);
	setenv("ORCH_SYNCHRONOUS", "OFF", 1);
	REQUIRE(conf_load(&c, &err) == 0);
	CHECK(c.retention_ms == STORE_FOREVER);
	CHECK(c.fetch_thread == 1);
	CHECK(c.store.sync == STORE_SYNC_OFF);
	conf_unset();
}

/* A bad value of each checked variable is refused, naming it. */
static void
test_conf_module_refused(void)
{
	conf_refused("ORCH_MAX_INFLIGHT_BYTES", "lots", "a number from 65536");
	conf_refused("ORCH_MAX_INFLIGHT_BYTES", "65535", "a number");
	conf_refused("ORCH_RETENTION", "soon", "a duration such as 7d");
	conf_refused("ORCH_WORKERS", "65", "a number from 0 to 64");
	conf_refused("ORCH_WORKERS", "-1", "a number from 0 to 64");
	conf_refused("ORCH_IO_THREADS", "0", "a number from 1 to 64");
	conf_refused("ORCH_FETCH_BUFFER_BYTES", "1k", "a number from 65536");
	conf_refused("ORCH_FETCH_THREAD", "yes", "0 or 1");
	conf_refused("ORCH_WORKER_NICE", "20", "a number from 0 to 19");
	conf_refused("ORCH_WORKER_MEMORY_MB", "0", "a number from 1");
	conf_refused("ORCH_BUSY_TIMEOUT_MS", "3600001", "a number from 0 to "
	    "3600000");
	conf_refused("ORCH_SYNCHRONOUS", "sometimes", "FULL, NORMAL or OFF");
	conf_refused("ORCH_WAL_BUFFER", "off", "0 or 1");
	conf_refused("ORCH_COMMIT_THREAD", "no", "0 or 1");
	conf_refused("ORCH_BLOB_BYTES", "junk", "a number from 1");
}

/* A bad number fails, naming the variable and its value. */
static void
test_conf_bad_numbers(void)
{
	struct orc_config c;
	struct orc_error err;

	conf_unset();
	setenv("ORCH_LEASE_MS", "10s", 1);
	CHECK(conf_load(&c, &err) == -1);
	CHECK(err.code == ORC_EINVAL);
	CHECK_CONTAINS(err.message, "ORCH_LEASE_MS \"10s\" is not a number");
	setenv("ORCH_LEASE_MS", "0", 1);
	CHECK(conf_load(&c, &err) == -1);
	unsetenv("ORCH_LEASE_MS");
	setenv("ORCH_CRASH_RESUMES", "-1", 1);
	CHECK(conf_load(&c, &err) == -1);
	CHECK_CONTAINS(err.message, "ORCH_CRASH_RESUMES \"-1\"");
	conf_unset();
}

int
main(void)
{
	TEST_RUN(test_conf_defaults);
	TEST_RUN(test_conf_values);
	TEST_RUN(test_conf_bad_numbers);
	TEST_RUN(test_conf_module_values);
	TEST_RUN(test_conf_module_refused);
	TEST_DONE();
}
