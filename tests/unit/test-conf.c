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
#include "test.h"

/* Unsets every variable conf_load reads. */
static void
conf_unset(void)
{
	unsetenv("ORCH_LISTEN");
	unsetenv("ORCH_API_TOKEN");
	unsetenv("ORCH_OTLP_ENDPOINT");
	unsetenv("ORCH_LEASE_MS");
	unsetenv("ORCH_CRASH_RESUMES");
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
	TEST_DONE();
}
