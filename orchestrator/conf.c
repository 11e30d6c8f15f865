/*
 * The environment's settings, read once (conf.h). An empty variable is an
 * unset one, as a shell's VAR= reads.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

/* The defaults. */
void
conf_defaults(struct orc_config *c)
{
	memset(c, 0, sizeof *c);
	c->listen = CONF_LISTEN_DEFAULT;
	c->lease_ms = CONF_LEASE_MS_DEFAULT;
	c->crash_resumes = CONF_CRASH_RESUMES_DEFAULT;
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

/* Reads and checks the environment. */
int
conf_load(struct orc_config *c, struct orc_error *err)
{
	long long lease, crashes;

	conf_defaults(c);
	if ((c->listen = conf_string("ORCH_LISTEN")) == NULL)
		c->listen = CONF_LISTEN_DEFAULT;
	c->api_token = conf_string("ORCH_API_TOKEN");
	c->otlp_endpoint = conf_string("ORCH_OTLP_ENDPOINT");
	c->public_url = conf_string("ORCH_PUBLIC_URL");
	lease = c->lease_ms;
	crashes = c->crash_resumes;
	if (conf_int("ORCH_LEASE_MS", 1, INT64_MAX / 2, &lease, err) != 0 ||
	    conf_int("ORCH_CRASH_RESUMES", 0, 1000000, &crashes, err) != 0)
		return -1;
	c->lease_ms = lease;
	c->crash_resumes = (int)crashes;
	return 0;
}
