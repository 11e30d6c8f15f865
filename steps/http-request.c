/*
 * The http.request step: one HTTP request on the engine's event loop
 * (orchestrator/fetch.c), no thread held while it waits. "with" gives the
 * method, url, headers, query, body, timeout_ms, follow_redirects and
 * expect_status; the engine has already rendered templates in its strings.
 * The body defaults to the step input (strings as they are, other values
 * as JSON) for methods that carry one. The step sends its idempotency key
 * as Idempotency-Key so a downstream service can drop repeats of a retried
 * attempt.
 *
 * The output is {"status", "headers", "body"}, the body parsed when the
 * answer says it is JSON, text otherwise, base64 with "body_base64": true
 * when it is not UTF-8. Transport errors, timeouts, 5xx and 429 are worth
 * another attempt (429 and 503 pass their Retry-After to the engine as the
 * least backoff); other 4xx, a refused host and a malformed "with" are not.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "fetch.h"
#include "jsonenc.h"
#include "log.h"
#include "orchestrator.h"
#include "steps.h"
#include "strbuf.h"
#include "trace.h"

#define HTTP_REQUEST_TIMEOUT_MS	30000
/* A Retry-After beyond this is taken as this: the run's own timeout and
 * max_attempts still bound the wait. */
#define HTTP_REQUEST_RETRY_AFTER_MAX_MS	(3600 * 1000)

static const char *const http_request_keys[] = {
	"method", "url", "headers", "query", "body", "timeout_ms",
	"follow_redirects", "expect_status", NULL
};

static const char *const http_request_methods[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL
};

/* One request in flight: what the callback needs. */
struct http_request {
	struct step_call	*call;
	struct fetch_req	*req;
	char			*method;
	char			*url;
	const json_t		*expect;	/* borrowed from with */
};

/* The method in upper case if it is one we send, else NULL. */
static char *
http_request_method(const char *m)
{
	char *up;
	size_t i;

	up = xstrdup(m);
	for (i = 0; up[i] != '\0'; i++)
		up[i] = toupper((unsigned char)up[i]);
	for (i = 0; http_request_methods[i] != NULL; i++) {
		if (strcmp(http_request_methods[i], up) == 0)
			return up;
	}
	free(up);
	return NULL;
}

/* Whether a header name is an HTTP token. */
static int
http_request_header_name_ok(const char *name)
{
	if (*name == '\0')
		return 0;
	for (; *name != '\0'; name++) {
		if (!isalnum((unsigned char)*name) &&
		    strchr("!#$%&'*+-.^_`|~", *name) == NULL)
			return 0;
	}
	return 1;
}

/* Whether expect_status has the right shape: an int or ints. */
static int
http_request_expect_ok(const json_t *v)
{
	const json_t *x;
	size_t i;

	if (json_is_integer(v))
		return 1;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return 0;
	json_array_foreach(v, i, x) {
		if (!json_is_integer(x))
			return 0;
	}
	return 1;
}

/* Whether status is one expect_status lists. */
static int
http_request_expected(const json_t *expect, long status)
{
	const json_t *x;
	size_t i;

	if (json_is_integer(expect))
		return json_integer_value(expect) == status;
	json_array_foreach(expect, i, x) {
		if (json_integer_value(x) == status)
			return 1;
	}
	return 0;
}

/* Appends s percent-encoded (all but RFC 3986 unreserved bytes). */
static void
http_request_escape(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	size_t i;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
			strbuf_addc(sb, (char)c);
		else {
			strbuf_addc(sb, '%');
			strbuf_addc(sb, hex[c >> 4]);
			strbuf_addc(sb, hex[c & 15]);
		}
	}
}

/* Appends "name=value" for one scalar query value; -1 for other types. */
static int
http_request_query_pair(CURLU *u, const char *name, const json_t *v)
{
	struct strbuf sb = STRBUF_INIT;
	char *text = NULL;

	if (json_is_string(v))
		text = xstrndup(json_string_value(v), json_string_length(v));
	else if (json_is_number(v) || json_is_boolean(v))
		text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	else
		return -1;
	if (text == NULL)
		fatal("%s: out of memory", __func__);
	http_request_escape(&sb, name, strlen(name));
	strbuf_addc(&sb, '=');
	http_request_escape(&sb, text, strlen(text));
	free(text);
	if (curl_url_set(u, CURLUPART_QUERY, sb.s, CURLU_APPENDQUERY) !=
	    CURLUE_OK)
		fatal("%s: out of memory", __func__);
	strbuf_free(&sb);
	return 0;
}

/*
 * The URL with the query object appended, each name and value
 * percent-encoded; arrays repeat the name, null leaves it out. NULL with
 * a message in *why when the URL or the query is not valid.
 */
static char *
http_request_url(const char *url, const json_t *query, char **why)
{
	CURLU *u;
	CURLUcode rc;
	const char *name;
	const json_t *v, *x;
	char *out = NULL, *ret = NULL, *shown;
	size_t i;

	if ((u = curl_url()) == NULL)
		fatal("%s: out of memory", __func__);
	if ((rc = curl_url_set(u, CURLUPART_URL, url, 0)) != CURLUE_OK) {
		shown = orc_url_redact(url);
		*why = xasprintf("http.request url \"%s\" is not valid: %s",
		    shown, curl_url_strerror(rc));
		free(shown);
		goto out;
	}
	json_object_foreach((json_t *)query, name, v) {
		if (json_is_null(v))
			continue;
		if (json_is_array(v)) {
			json_array_foreach(v, i, x) {
				if (http_request_query_pair(u, name, x) != 0)
					goto bad;
			}
		} else if (http_request_query_pair(u, name, v) != 0)
			goto bad;
	}
	if (curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK)
		fatal("%s: out of memory", __func__);
	ret = xstrdup(out);
	curl_free(out);
	goto out;
bad:
	*why = xasprintf("http.request query \"%s\" must be a string, "
	    "number, boolean, null or an array of those", name);
out:
	curl_url_cleanup(u);
	return ret;
}

/* Whether a content type is JSON: application/json or any +json. */
static int
http_request_is_json_type(const char *ct)
{
	const char *semi, *plus;
	size_t len;

	if (ct == NULL)
		return 0;
	while (*ct == ' ')
		ct++;
	semi = strchr(ct, ';');
	len = semi != NULL ? (size_t)(semi - ct) : strlen(ct);
	while (len > 0 && ct[len - 1] == ' ')
		len--;
	if (len == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return 1;
	plus = memchr(ct, '+', len);
	return plus != NULL && (size_t)(ct + len - plus) == 5 &&
	    strncasecmp(plus, "+json", 5) == 0;
}

/* Whether a string body is a JSON object or array, to label it. */
static int
http_request_text_is_json(const char *s, size_t len)
{
	json_t *v;
	size_t i;

	for (i = 0; i < len && isspace((unsigned char)s[i]); i++)
		;
	if (i == len || (s[i] != '{' && s[i] != '['))
		return 0;
	if ((v = json_loadb(s, len, 0, NULL)) == NULL)
		return 0;
	json_decref(v);
	return 1;
}

/* Whether an object of headers names one (in any case). */
static int
http_request_has_header(const json_t *headers, const char *name)
{
	const char *k;
	const json_t *v;

	json_object_foreach((json_t *)headers, k, v) {
		if (strcasecmp(k, name) == 0)
			return 1;
	}
	return 0;
}

/* The response body as JSON: parsed, text, or base64 (sets *b64). */
static json_t *
http_request_body(const struct fetch_response *resp, int *b64)
{
	const json_t *ct;
	json_t *v;
	char *enc;
	size_t n;

	*b64 = 0;
	ct = json_object_get(resp->headers, "content-type");
	if (resp->body_len > 0 && http_request_is_json_type(
	    json_string_value(ct)) && (v = json_loadb(resp->body,
	    resp->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)) != NULL)
		return v;
	if ((v = json_stringn(resp->body, resp->body_len)) != NULL)
		return v;
	/* Not UTF-8: base64 of the bytes. */
	if (resp->body_len > ((size_t)1 << 30))
		fatal("%s: body too large to encode", __func__);
	enc = xmalloc(4 * ((resp->body_len + 2) / 3) + 1);
	n = (size_t)EVP_EncodeBlock((unsigned char *)enc,
	    (const unsigned char *)resp->body, (int)resp->body_len);
	v = json_stringn(enc, n);
	free(enc);
	if (v == NULL)
		fatal("%s: out of memory", __func__);
	*b64 = 1;
	return v;
}

/* Milliseconds a Retry-After value asks for (seconds or an HTTP date),
 * or -1 when it is not one. */
static int64_t
http_request_retry_after(const char *v)
{
	char *end;
	long long s;
	time_t when;
	int64_t ms;

	if (v == NULL || *v == '\0')
		return -1;
	if (isdigit((unsigned char)*v)) {
		s = strtoll(v, &end, 10);
		if (*end != '\0' || s < 0)
			return -1;
		if (s > HTTP_REQUEST_RETRY_AFTER_MAX_MS / 1000)
			return HTTP_REQUEST_RETRY_AFTER_MAX_MS;
		return (int64_t)s * 1000;
	}
	if ((when = curl_getdate(v, NULL)) < 0)
		return -1;
	ms = (int64_t)when * 1000 - orc_now_ms();
	if (ms < 0)
		return 0;
	return ms > HTTP_REQUEST_RETRY_AFTER_MAX_MS ?
	    HTTP_REQUEST_RETRY_AFTER_MAX_MS : ms;
}

/* The standard reason phrase of common failures, or "". */
static const char *
http_request_reason(long status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

/* Frees the in-flight record (not the fetch request). */
static void
http_request_free(struct http_request *hr)
{
	free(hr->method);
	free(hr->url);
	free(hr);
}

static void	http_request_fail(struct step_call *, int, const char *,
		    const char *, const char *, ...) ORC_PRINTF(5, 6);

/* Fails the call with "http.request METHOD URL: ...", the URL without
 * its query and userinfo (they may hold a token, and the message is
 * stored as the run's error and in its dead letter). */
static void
http_request_fail(struct step_call *call, int retryable, const char *method,
    const char *url, const char *fmt, ...)
{
	char *shown, *what;
	va_list ap;

	va_start(ap, fmt);
	what = xvasprintf(fmt, ap);
	va_end(ap);
	shown = orc_url_redact(url);
	step_call_fail(call, retryable, "http.request %s %s: %s", method,
	    shown, what);
	free(shown);
	free(what);
}

/* The run's log line of the attempt: method, URL as errors show it,
 * status (or the transport's error) and duration. */
static void
http_request_log(struct step_call *call, const struct http_request *hr,
    const struct fetch_response *resp)
{
	char *shown = orc_url_redact(resp->url != NULL ? resp->url : hr->url);

	if (resp->error != NULL)
		step_call_log(call, LOG_WARN, "%s %s: %s after %lld ms",
		    hr->method, shown, resp->error,
		    (long long)resp->duration_ms);
	else
		step_call_log(call, LOG_INFO, "%s %s: %ld in %lld ms",
		    hr->method, shown, resp->status,
		    (long long)resp->duration_ms);
	free(shown);
}

/* The answer came (or the transport failed): finish the call. */
static void
http_request_done_cb(const struct fetch_response *resp, void *arg)
{
	struct http_request *hr = arg;
	struct step_call *call = hr->call;
	const char *reason;
	int64_t wait;
	int retryable, ok, b64;
	json_t *out, *body;

	step_call_set_data(call, NULL);
	http_request_log(call, hr, resp);
	if (resp->error != NULL) {
		/* A refused redirect is a permission, and a body over the
		 * cap will be as large again: neither is a passing fault. */
		http_request_fail(call, !resp->refused && !resp->too_large,
		    hr->method, hr->url, "%s", resp->error);
		http_request_free(hr);
		return;
	}

	if (hr->expect != NULL)
		ok = http_request_expected(hr->expect, resp->status);
	else
		ok = resp->status >= 200 && resp->status < 400;
	if (!ok) {
		retryable = resp->status >= 500 || resp->status == 429;
		if (resp->status == 429 || resp->status == 503) {
			wait = http_request_retry_after(json_string_value(
			    json_object_get(resp->headers, "retry-after")));
			if (wait >= 0)
				step_call_retry_after(call, wait);
		}
		/* The standard phrase first: servers' own vary ("Client
		 * Error" for 429 from some). */
		reason = http_request_reason(resp->status);
		if (*reason == '\0' && resp->reason != NULL)
			reason = resp->reason;
		http_request_fail(call, retryable, hr->method,
		    resp->url != NULL ? resp->url : hr->url, "%ld%s%s",
		    resp->status, *reason != '\0' ? " " : "", reason);
		http_request_free(hr);
		return;
	}

	body = http_request_body(resp, &b64);
	out = json_pack("{s:I, s:O, s:o}", "status", (json_int_t)resp->status,
	    "headers", resp->headers, "body", body);
	if (out == NULL)
		fatal("%s: out of memory", __func__);
	if (b64)
		json_object_set_new(out, "body_base64", json_true());
	http_request_free(hr);
	step_call_succeed(call, out);
}

/*
 * The request's headers as "Name: value" lines, with Content-Type and
 * Idempotency-Key added when the user did not set them. NULL with a
 * message in *why for a bad header (a line break is an injection).
 */
static char **
http_request_headers(struct step_call *call, const json_t *headers,
    const char *content_type, char **why)
{
	const char *name, *key, *refused, *tp;
	const json_t *v;
	char **lines;
	size_t n = 0;
	int has_ct = 0, has_key = 0, has_tp = 0;

	lines = xcalloc(json_object_size(headers) + 4, sizeof *lines);
	json_object_foreach((json_t *)headers, name, v) {
		if (!http_request_header_name_ok(name)) {
			*why = xasprintf("http.request header name \"%s\" is "
			    "not valid", name);
			goto bad;
		}
		if (!json_is_string(v)) {
			*why = xasprintf("http.request header \"%s\" must be "
			    "a string", name);
			goto bad;
		}
		if ((refused = fetch_header_refused(name, strlen(name))) !=
		    NULL) {
			*why = xasprintf("http.request header \"%s\" %s", name,
			    refused);
			goto bad;
		}
		if (strpbrk(json_string_value(v), "\r\n") != NULL ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			*why = xasprintf("http.request header \"%s\" holds a "
			    "line break or NUL (header injection refused)",
			    name);
			goto bad;
		}
		if (strcasecmp(name, "content-type") == 0)
			has_ct = 1;
		if (strcasecmp(name, "idempotency-key") == 0)
			has_key = 1;
		if (strcasecmp(name, "traceparent") == 0)
			has_tp = 1;
		lines[n++] = xasprintf("%s: %s", name, json_string_value(v));
	}
	if (!has_ct && content_type != NULL)
		lines[n++] = xasprintf("Content-Type: %s", content_type);
	key = step_call_idempotency_key(call);
	if (!has_key && key != NULL && strpbrk(key, "\r\n") == NULL)
		lines[n++] = xasprintf("Idempotency-Key: %s", key);
	/* The attempt's span, so the service's spans join the run's trace;
	 * a traceparent the step sets itself wins. */
	if (!has_tp && (tp = step_call_traceparent(call)) != NULL)
		lines[n++] = xasprintf("traceparent: %s", tp);
	return lines;
bad:
	while (n > 0)
		free(lines[--n]);
	free(lines);
	return NULL;
}

/* Frees a NULL-ended list of strings. */
static void
http_request_free_lines(char **lines)
{
	size_t i;

	for (i = 0; lines != NULL && lines[i] != NULL; i++)
		free(lines[i]);
	free(lines);
}

/* Sends the request; the answer finishes the call from the loop. */
static enum step_status
http_request_start(struct step_call *call)
{
	const json_t *with = step_call_with(call);
	const json_t *mv, *uv, *hv, *qv, *bv, *tv, *fv, *ev;
	struct fetch_request req;
	struct http_request *hr;
	struct orc_error err;
	struct fetch *f;
	const char *content_type = NULL;
	char *method = NULL, *url = NULL, *why = NULL, *text = NULL;
	char **lines = NULL;

	mv = json_object_get(with, "method");
	uv = json_object_get(with, "url");
	hv = json_object_get(with, "headers");
	qv = json_object_get(with, "query");
	bv = json_object_get(with, "body");
	tv = json_object_get(with, "timeout_ms");
	fv = json_object_get(with, "follow_redirects");
	ev = json_object_get(with, "expect_status");

	if (!json_is_string(uv)) {
		why = xstrdup("http.request needs \"url\" (a string)");
		goto fail;
	}
	if (mv != NULL && (!json_is_string(mv) ||
	    (method = http_request_method(json_string_value(mv))) == NULL)) {
		why = xasprintf("http.request method \"%s\" is not one of "
		    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
		    json_is_string(mv) ? json_string_value(mv) : "?");
		goto fail;
	}
	if (method == NULL)
		method = xstrdup(bv != NULL ? "POST" : "GET");
	if (hv != NULL && !json_is_object(hv)) {
		why = xstrdup("http.request \"headers\" must be an object of "
		    "strings");
		goto fail;
	}
	if (qv != NULL && !json_is_object(qv)) {
		why = xstrdup("http.request \"query\" must be an object");
		goto fail;
	}
	if (tv != NULL && (!json_is_integer(tv) ||
	    json_integer_value(tv) <= 0)) {
		why = xstrdup("http.request \"timeout_ms\" must be a positive "
		    "integer");
		goto fail;
	}
	if (fv != NULL && !json_is_boolean(fv)) {
		why = xstrdup("http.request \"follow_redirects\" must be true "
		    "or false");
		goto fail;
	}
	if (ev != NULL && !http_request_expect_ok(ev)) {
		why = xstrdup("http.request \"expect_status\" must be an "
		    "integer or an array of integers");
		goto fail;
	}
	if ((url = http_request_url(json_string_value(uv), qv, &why)) == NULL)
		goto fail;

	/* The body: explicit, or the input for methods that carry one. */
	if (bv == NULL && strcmp(method, "GET") != 0 &&
	    strcmp(method, "HEAD") != 0 && strcmp(method, "DELETE") != 0)
		bv = step_call_input(call);
	memset(&req, 0, sizeof req);
	if (json_is_string(bv)) {
		req.body = json_string_value(bv);
		req.body_len = json_string_length(bv);
		/* Labelling it parses it: not when "headers" label it. */
		if (!http_request_has_header(hv, "content-type"))
			content_type = http_request_text_is_json(req.body,
			    req.body_len) ? "application/json" :
			    "text/plain; charset=utf-8";
	} else if (bv != NULL) {
		if ((text = jsonenc_compact(bv, &req.body_len)) == NULL)
			fatal("%s: a JSON value cannot be written", __func__);
		req.body = text;
		content_type = "application/json";
	}
	if ((lines = http_request_headers(call, hv, content_type, &why)) ==
	    NULL)
		goto fail;

	if ((f = step_call_fetch(call)) == NULL) {
		why = xstrdup("http.request needs the event loop");
		goto fail;
	}
	req.method = method;
	req.url = url;
	req.headers = (const char *const *)lines;
	req.timeout_ms = tv != NULL ? json_integer_value(tv) :
	    HTTP_REQUEST_TIMEOUT_MS;
	req.follow_redirects = json_is_true(fv);
	req.allow = step_call_allow(call);

	hr = xcalloc(1, sizeof *hr);
	hr->call = call;
	hr->method = method;
	hr->url = url;
	hr->expect = ev;
	hr->req = fetch_start(f, &req, http_request_done_cb, hr, &err);
	http_request_free_lines(lines);
	free(text);
	if (hr->req == NULL) {
		/* fetch_start() checks allow.hosts: a refusal is fatal, as
		 * is a URL curl cannot take; else curl is out of resources. */
		http_request_fail(call, err.code != ORC_EPERM &&
		    err.code != ORC_EINVAL, method, url, "%s", err.message);
		http_request_free(hr);
		return STEP_DONE;
	}
	step_call_set_data(call, hr);
	return STEP_WAIT;

fail:
	step_call_fail(call, 0, "%s", why);
	free(why);
	free(method);
	free(url);
	free(text);
	http_request_free_lines(lines);
	return STEP_DONE;
}

/* Stops the request in flight; no callback follows. */
static void
http_request_cancel(struct step_call *call)
{
	struct http_request *hr = step_call_data(call);

	if (hr == NULL)
		return;
	step_call_set_data(call, NULL);
	fetch_cancel(hr->req);
	http_request_free(hr);
}

/* Checks "with" as written: url, method, headers, query, expect_status. */
static void
http_request_check(const json_t *with, struct step_checker *chk)
{
	const json_t *v, *h;
	const char *name, *why;
	char *m;

	v = json_object_get(with, "url");
	if (v == NULL)
		step_check_error(chk, "with", "http.request needs \"url\"");
	else if (!json_is_string(v))
		step_check_error(chk, "with.url", "http.request \"url\" must "
		    "be a string");

	v = json_object_get(with, "method");
	if (v != NULL && !json_is_string(v))
		step_check_error(chk, "with.method", "http.request \"method\" "
		    "must be a string");
	else if (v != NULL && !step_value_is_template(v)) {
		if ((m = http_request_method(json_string_value(v))) == NULL)
			step_check_error(chk, "with.method", "http.request "
			    "method \"%s\" is not one of GET, HEAD, POST, PUT, "
			    "PATCH, DELETE, OPTIONS", json_string_value(v));
		free(m);
	}

	v = json_object_get(with, "headers");
	if (v != NULL && !json_is_object(v))
		step_check_error(chk, "with.headers", "http.request "
		    "\"headers\" must be an object of strings");
	else if (v != NULL) {
		json_object_foreach((json_t *)v, name, h) {
			if (!http_request_header_name_ok(name))
				step_check_error(chk, "with.headers",
				    "http.request header name \"%s\" is not "
				    "valid", name);
			else if (!json_is_string(h))
				step_check_error(chk, "with.headers",
				    "http.request header \"%s\" must be a "
				    "string", name);
			else if ((why = fetch_header_refused(name,
			    strlen(name))) != NULL)
				step_check_error(chk, "with.headers",
				    "http.request header \"%s\" %s", name, why);
		}
	}

	v = json_object_get(with, "query");
	if (v != NULL && !json_is_object(v))
		step_check_error(chk, "with.query", "http.request \"query\" "
		    "must be an object");

	v = json_object_get(with, "timeout_ms");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) <= 0))
		step_check_error(chk, "with.timeout_ms", "http.request "
		    "\"timeout_ms\" must be a positive integer");

	v = json_object_get(with, "follow_redirects");
	if (v != NULL && !json_is_boolean(v))
		step_check_error(chk, "with.follow_redirects", "http.request "
		    "\"follow_redirects\" must be true or false");

	v = json_object_get(with, "expect_status");
	if (v != NULL && !http_request_expect_ok(v))
		step_check_error(chk, "with.expect_status", "http.request "
		    "\"expect_status\" must be an integer or an array of "
		    "integers");
}

const struct step_entry step_http_request_entry = {
	.name = "http.request",
	.summary = "send an HTTP request; output its status, headers and body",
	.keys = http_request_keys,
	.check = http_request_check,
	.start = http_request_start,
	.cancel = http_request_cancel
};
