/*
 * The environment's settings, read once (conf.h). An empty variable is an
 * unset one, as a shell's VAR= reads.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "fetch.h"
#include "pool.h"
#include "worker.h"

/* The defaults. */
void
conf_defaults(struct orc_config *c)
{
	memset(c, 0, sizeof *c);
	c->listen = CONF_LISTEN_DEFAULT;
	c->lease_ms = CONF_LEASE_MS_DEFAULT;
	c->crash_resumes = CONF_CRASH_RESUMES_DEFAULT;
	c->retention_ms = CONF_RETENTION_DEFAULT_MS;
	c->db = CONF_DB_DEFAULT;
	c->workflows = CONF_WORKFLOWS_DEFAULT;
	c->buckets = CONF_BUCKETS_DEFAULT;
	c->log_level = CONF_LOG_LEVEL_DEFAULT;
	c->workers = -1;
	c->fetch_thread = 1;
	c->worker_nice = -1;
	store_config_defaults(&c->store);
}

/* A variable's value, NULL when unset or empty. */
static const char *
conf_string(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* Reads an integer variable from min to max into *out, unless unset. */
static int
conf_int(const char *name, long long min, long long max, long long *out,
    struct orc_error *err)
{
	const char *v = conf_string(name);
	long long n;
	char *end;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max) {
		orc_error_set(err, ORC_EINVAL, "%s \"%s\" is not a number "
		    "from %lld to %lld", name, v, min, max);
		return -1;
	}
	*out = n;
	return 0;
}

/* A string variable into *out, unless unset. */
static void
conf_str(const char *name, const char **out)
{
	const char *v = conf_string(name);

	if (v != NULL)
		*out = v;
}

/* A switch, "0" or "1", into *out unless unset. */
static int
conf_bool(const char *name, int *out, struct orc_error *err)
{
	const char *v = conf_string(name);

	if (v == NULL)
		return 0;
	if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
		orc_error_set(err, ORC_EINVAL, "%s \"%s\" is not 0 or 1", name,
		    v);
		return -1;
	}
	*out = *v == '1';
	return 0;
}

/* ORCH_RETENTION: a duration or "forever". */
static int
conf_retention(struct orc_config *c, struct orc_error *err)
{
	const char *v = conf_string("ORCH_RETENTION");

	if (v == NULL)
		return 0;
	if (strcmp(v, "forever") == 0) {
		c->retention_ms = STORE_FOREVER;
		return 0;
	}
	if (orc_parse_duration(v, &c->retention_ms) != 0) {
		orc_error_set(err, ORC_EINVAL, "ORCH_RETENTION \"%s\" is not "
		    "a duration such as 7d, 12h, 30m or 45s, nor forever", v);
		return -1;
	}
	return 0;
}

/* The serve and engine settings. */
static int
conf_serve(struct orc_config *c, struct orc_error *err)
{
	long long lease = c->lease_ms, crashes = c->crash_resumes;
	long long inflight = 0;

	conf_str("ORCH_LISTEN", &c->listen);
	c->api_token = conf_string("ORCH_API_TOKEN");
	c->otlp_endpoint = conf_string("ORCH_OTLP_ENDPOINT");
	c->public_url = conf_string("ORCH_PUBLIC_URL");
	c->test_clock = conf_string("ORCH_TEST_CLOCK_FILE");
	if (conf_int("ORCH_LEASE_MS", 1, INT64_MAX / 2, &lease, err) != 0 ||
	    conf_int("ORCH_CRASH_RESUMES", 0, 1000000, &crashes, err) != 0 ||
	    conf_int("ORCH_MAX_INFLIGHT_BYTES", CONF_INFLIGHT_MIN, LLONG_MAX,
	    &inflight, err) != 0 || conf_retention(c, err) != 0)
		return -1;
	c->lease_ms = lease;
	c->crash_resumes = (int)crashes;
	c->max_inflight = (size_t)inflight;
	return 0;
}

/* The command line's defaults. */
static int
conf_cli(struct orc_config *c, struct orc_error *err)
{
	long long workers = c->workers;

	conf_str("ORCH_DB", &c->db);
	conf_str("ORCH_WORKFLOWS", &c->workflows);
	conf_str("ORCH_BUCKETS", &c->buckets);
	conf_str("ORCH_LOG_LEVEL", &c->log_level);
	c->url = conf_string("ORCH_URL");
	if (conf_int("ORCH_WORKERS", 0, WORKER_MAX, &workers, err) != 0)
		return -1;
	c->workers = (int)workers;
	return 0;
}

/* The steps' I/O and the workers' sandbox. */
static int
conf_steps(struct orc_config *c, struct orc_error *err)
{
	long long io = 0, buffer = 0, nice = -1, mb = 0;

	if (conf_int("ORCH_IO_THREADS", 1, POOL_MAX_THREADS, &io, err) != 0 ||
	    conf_int("ORCH_FETCH_BUFFER_BYTES", FETCH_BUFFER_MIN, LLONG_MAX,
	    &buffer, err) != 0 ||
	    conf_bool("ORCH_FETCH_THREAD", &c->fetch_thread, err) != 0 ||
	    conf_int("ORCH_WORKER_NICE", 0, 19, &nice, err) != 0 ||
	    conf_int("ORCH_WORKER_MEMORY_MB", 1, INT32_MAX, &mb, err) != 0)
		return -1;
	c->io_threads = (int)io;
	c->fetch_buffer = (size_t)buffer;
	c->worker_nice = (int)nice;
	c->worker_memory_mb = mb;
	return 0;
}

/* ORCH_SYNCHRONOUS: FULL, NORMAL or OFF, in any case. */
static int
conf_sync(enum store_sync *out, struct orc_error *err)
{
	static const char *const names[] = { "FULL", "NORMAL", "OFF" };
	const char *v = conf_string("ORCH_SYNCHRONOUS");
	size_t i;

	if (v == NULL)
		return 0;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(v, names[i]) == 0) {
			*out = (enum store_sync)i;
			return 0;
		}
	orc_error_set(err, ORC_EINVAL, "ORCH_SYNCHRONOUS \"%s\" is not "
	    "FULL, NORMAL or OFF", v);
	return -1;
}

/* The store's settings. */
static int
conf_store(struct store_config *s, struct orc_error *err)
{
	long long busy = s->busy_ms, blob = 0;
	int wal = 1, thread = 1, compress = 1;

	if (conf_int("ORCH_BUSY_TIMEOUT_MS", 0, 3600000, &busy, err) != 0 ||
	    conf_sync(&s->sync, err) != 0 ||
	    conf_bool("ORCH_WAL_BUFFER", &wal, err) != 0 ||
	    conf_bool("ORCH_COMMIT_THREAD", &thread, err) != 0 ||
	    conf_bool("ORCH_COMPRESS", &compress, err) != 0 ||
	    conf_int("ORCH_BLOB_BYTES", 1, LLONG_MAX, &blob, err) != 0)
		return -1;
	s->busy_ms = (int)busy;
	s->no_wal_buffer = !wal;
	s->no_commit_thread = !thread;
	s->no_compress = !compress;
	s->blob_bytes = (size_t)blob;
	s->blob_dir = conf_string("ORCH_BLOB_DIR");
	return 0;
}

/* Reads and checks the environment. */
int
conf_load(struct orc_config *c, struct orc_error *err)
{
	conf_defaults(c);
	if (conf_serve(c, err) != 0 || conf_cli(c, err) != 0 ||
	    conf_steps(c, err) != 0 || conf_store(&c->store, err) != 0)
		return -1;
	return 0;
}
