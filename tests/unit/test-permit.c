/*
 * Tests for permit.c: URLs against allow.hosts (exact host and port, host
 * on any port, no rule, an empty rule, tricks that hide the real host)
 * and bucket names against allow.buckets.
 */
#include "config.h"

#include <jansson.h>

#include "orchestrator.h"
#include "permit.h"
#include "test.h"

/* Parses JSON test text; exits on a typo in the test itself. */
static json_t *
j(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	if (v == NULL) {
		fprintf(stderr, "bad test JSON: %s\n", text);
		exit(99);
	}
	return v;
}

/* Runs permit_url and returns its error code (ORC_OK when allowed). */
static int
url_code(const json_t *allow, const char *url, char *msg, size_t size)
{
	struct orc_error err;

	orc_error_clear(&err);
	if (permit_url(allow, url, &err) == 0)
		return ORC_OK;
	if (msg != NULL)
		snprintf(msg, size, "%s", err.message);
	return err.code;
}

/* Host with a port matches that port only; a bare host any port. */
static void
test_permit_hosts(void)
{
	json_t *allow = j("{\"hosts\":[\"127.0.0.1:9000\","
	    "\"API.example.com\",\"[::1]:8080\"]}");
	char msg[512];

	CHECK(url_code(allow, "http://127.0.0.1:9000/x", NULL, 0) == ORC_OK);
	CHECK(url_code(allow, "http://127.0.0.1:9001/x", msg, sizeof msg) ==
	    ORC_EPERM);
	CHECK_STR(msg, "host 127.0.0.1:9001 is not in the workflow's "
	    "allow.hosts");
	/* The default port counts as the port. */
	CHECK(url_code(allow, "http://127.0.0.1/x", msg, sizeof msg) ==
	    ORC_EPERM);
	CHECK_STR(msg, "host 127.0.0.1:80 is not in the workflow's "
	    "allow.hosts");
	CHECK(url_code(allow, "https://api.example.com/v1", NULL, 0) ==
	    ORC_OK);
	CHECK(url_code(allow, "http://Api.Example.COM:8443/v1", NULL, 0) ==
	    ORC_OK);
	CHECK(url_code(allow, "http://api.example.com.evil.net/", NULL, 0) ==
	    ORC_EPERM);
	CHECK(url_code(allow, "http://evil.net/?api.example.com", NULL, 0) ==
	    ORC_EPERM);
	CHECK(url_code(allow, "http://[::1]:8080/", NULL, 0) == ORC_OK);
	CHECK(url_code(allow, "http://[::1]:8081/", NULL, 0) == ORC_EPERM);
	/* The user part does not name the host. */
	CHECK(url_code(allow, "http://127.0.0.1:9000@10.0.0.1:80/", msg,
	    sizeof msg) == ORC_EPERM);
	CHECK_STR(msg, "host 10.0.0.1:80 is not in the workflow's "
	    "allow.hosts");
	json_decref(allow);
}

/* No allow object or no hosts key: any host; an empty list: none. */
static void
test_permit_no_rule(void)
{
	json_t *allow;

	CHECK(url_code(NULL, "http://10.0.0.1/", NULL, 0) == ORC_OK);
	allow = j("{\"buckets\":[\"b\"]}");
	CHECK(url_code(allow, "https://example.org:444/", NULL, 0) == ORC_OK);
	json_decref(allow);
	allow = j("{\"hosts\":[]}");
	CHECK(url_code(allow, "http://127.0.0.1:9000/", NULL, 0) ==
	    ORC_EPERM);
	json_decref(allow);
}

/* Only http and https, and only URLs that parse. */
static void
test_permit_bad_urls(void)
{
	char msg[512];

	CHECK(url_code(NULL, "ftp://127.0.0.1/x", msg, sizeof msg) ==
	    ORC_EPERM);
	CHECK_CONTAINS(msg, "only http and https");
	CHECK(url_code(NULL, "file:///etc/passwd", NULL, 0) == ORC_EPERM);
	CHECK(url_code(NULL, "not a url", msg, sizeof msg) == ORC_EINVAL);
	CHECK_CONTAINS(msg, "is not valid");
	CHECK(url_code(NULL, "", NULL, 0) == ORC_EINVAL);
	CHECK(url_code(NULL, NULL, NULL, 0) == ORC_EINVAL);
}

/* Numeric forms of an address are compared in their normal form. */
static void
test_permit_numeric_hosts(void)
{
	json_t *allow = j("{\"hosts\":[\"127.0.0.1\"]}");

	CHECK(url_code(allow, "http://2130706433:9000/", NULL, 0) == ORC_OK);
	CHECK(url_code(allow, "http://0x7f.1/", NULL, 0) == ORC_OK);
	CHECK(url_code(allow, "http://0x0a.0.0.1/", NULL, 0) == ORC_EPERM);
	json_decref(allow);
}

/* Buckets: listed when the rule exists, anything when it does not. */
static void
test_permit_buckets(void)
{
	json_t *allow = j("{\"buckets\":[\"results\"]}");
	struct orc_error err;

	CHECK(permit_bucket(allow, "results", &err) == 0);
	orc_error_clear(&err);
	CHECK(permit_bucket(allow, "other", &err) == -1);
	CHECK(err.code == ORC_EPERM);
	CHECK_STR(err.message, "bucket \"other\" is not in the workflow's "
	    "allow.buckets");
	CHECK(permit_bucket(allow, "result", NULL) == -1);
	json_decref(allow);
	allow = j("{\"hosts\":[]}");
	CHECK(permit_bucket(allow, "other", NULL) == 0);
	json_decref(allow);
	CHECK(permit_bucket(NULL, "other", NULL) == 0);
	allow = j("{\"buckets\":[]}");
	CHECK(permit_bucket(allow, "results", NULL) == -1);
	json_decref(allow);
}

int
main(void)
{
	TEST_RUN(test_permit_hosts);
	TEST_RUN(test_permit_no_rule);
	TEST_RUN(test_permit_bad_urls);
	TEST_RUN(test_permit_numeric_hosts);
	TEST_RUN(test_permit_buckets);
	TEST_DONE();
}
