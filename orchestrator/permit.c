/*
 * The workflow's "allow" rules, checked each time a step reaches outside:
 * a URL against allow.hosts, a bucket name against allow.buckets. URLs are
 * parsed by libcurl's URL API, the same parser that later sends the
 * request, so what is checked is what is reached: "http://a@b/" is host b,
 * and numeric IPv4 forms are normalised before the comparison.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "permit.h"

/* Lower-cases a string in place. */
static void
permit_lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = tolower((unsigned char)*s);
}

/*
 * Whether one allow.hosts entry matches host (lower case, IPv6 in
 * brackets) and port. An entry with a port after the host must match
 * both; an entry without one matches the host on any port.
 */
static int
permit_host_match(const char *entry, const char *host, const char *port)
{
	const char *colon, *close;
	size_t hlen;

	close = strrchr(entry, ']');
	colon = strrchr(close != NULL ? close : entry, ':');
	if (colon == NULL)
		return strcasecmp(entry, host) == 0;
	hlen = colon - entry;
	return strlen(host) == hlen && strncasecmp(entry, host, hlen) == 0 &&
	    strcmp(colon + 1, port) == 0;
}

/* Sets err about url, shown without its query or userinfo (a token may
 * be there, and the message goes to the run's error). */
static void
permit_url_error(struct orc_error *err, int code, const char *url,
    const char *what, const char *why)
{
	char *shown = orc_url_redact(url);

	orc_error_set(err, code, "url \"%s\"%s%s", shown, what, why);
	free(shown);
}

/* Checks url against allow.hosts; see permit.h. */
int
permit_url(const json_t *allow, const char *url, struct orc_error *err)
{
	CURLU *u;
	CURLUcode rc;
	char *scheme = NULL, *host = NULL, *port = NULL;
	const json_t *hosts, *v;
	size_t i;
	int ret = -1;

	if (url == NULL || *url == '\0') {
		orc_error_set(err, ORC_EINVAL, "the url is empty");
		return -1;
	}
	if ((u = curl_url()) == NULL)
		fatal("%s: out of memory", __func__);
	if ((rc = curl_url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK) {
		permit_url_error(err, ORC_EINVAL, url, " is not valid: ",
		    curl_url_strerror(rc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		permit_url_error(err, ORC_EPERM, url, ": only http and "
		    "https are allowed", "");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK) {
		permit_url_error(err, ORC_EINVAL, url, " has no host", "");
		goto out;
	}
	permit_lower(host);

	/* No rule: every host is allowed. */
	hosts = json_object_get(allow, "hosts");
	if (!json_is_array(hosts)) {
		ret = 0;
		goto out;
	}
	json_array_foreach(hosts, i, v) {
		if (json_is_string(v) &&
		    permit_host_match(json_string_value(v), host, port)) {
			ret = 0;
			goto out;
		}
	}
	orc_error_set(err, ORC_EPERM, "host %s:%s is not in the workflow's "
	    "allow.hosts", host, port);

out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ret;
}

/* Checks a bucket name against allow.buckets; see permit.h. */
int
permit_bucket(const json_t *allow, const char *name, struct orc_error *err)
{
	const json_t *list, *v;
	size_t i;

	list = json_object_get(allow, "buckets");
	if (!json_is_array(list))
		return 0;
	json_array_foreach(list, i, v) {
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), name) == 0)
			return 0;
	}
	orc_error_set(err, ORC_EPERM, "bucket \"%s\" is not in the "
	    "workflow's allow.buckets", name);
	return -1;
}
