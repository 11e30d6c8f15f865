/*
 * A small synchronous HTTP client for the command line: trigger, and
 * runs, show, retry and cancel with --url, talk to `orchestrator serve`
 * through it. Each call is one libcurl easy transfer with a short connect
 * timeout, the API token when ORCH_API_TOKEN is set, and the answer read
 * whole and parsed as JSON. Failures become one line naming the server
 * (connection refused, timed out) or quoting the server's own error
 * message. The second half turns the API's run documents back into store
 * records, so the commands print them with their database-mode code.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client.h"
#include "log.h"
#include "strbuf.h"

/* How long connecting may take, and the slack past a wait the server
 * was asked for. */
#define CLIENT_CONNECT_S	5
#define CLIENT_SLACK_S		30
/* Answers bigger than this are refused: a run list is well below. */
#define CLIENT_MAX_ANSWER	(256L * 1024 * 1024)

static int client_ready;

/* Initialises libcurl once per process; cleaned up at exit. */
static int
client_init(struct orc_error *err)
{
	CURLcode rc;

	if (client_ready)
		return 0;
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		orc_error_set(err, ORC_EIO, "cannot initialise libcurl: %s",
		    curl_easy_strerror(rc));
		return -1;
	}
	atexit(curl_global_cleanup);
	/* A server that hangs up mid-request must not kill the command. */
	signal(SIGPIPE, SIG_IGN);
	client_ready = 1;
	return 0;
}

/* Appends what curl received to the answer buffer. */
static size_t
client_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct strbuf *sb = arg;

	if (sb->len + size * n > CLIENT_MAX_ANSWER)
		return 0;
	strbuf_add(sb, data, size * n);
	return size * n;
}

/* Fills err for a transfer that got no answer. */
static void
client_transport_error(const char *base, CURLcode rc, const char *msg,
    int timeout_s, struct orc_error *err)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		orc_error_set(err, ORC_EIO, "%s: connection refused (is "
		    "`orchestrator serve` running?)", base);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		orc_error_set(err, ORC_EIO, "%s: unknown host", base);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		orc_error_set(err, ORC_ETIMEDOUT, "%s: no answer within %d s",
		    base, timeout_s);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		orc_error_set(err, ORC_EINVAL, "%s: not a usable URL "
		    "(expected http://HOST:PORT)", base);
		break;
	case CURLE_WRITE_ERROR:
		orc_error_set(err, ORC_EIO, "%s: the answer is too big", base);
		break;
	default:
		orc_error_set(err, ORC_EIO, "%s: %s", base, *msg != '\0' ? msg :
		    curl_easy_strerror(rc));
		break;
	}
}

/* Fills err for an answer with a status that is not 2xx. */
static void
client_status_error(long status, const json_t *answer, const char *text,
    struct orc_error *err)
{
	const char *msg = NULL;
	size_t n;

	if (answer != NULL)
		msg = json_string_value(json_object_get(json_object_get(answer,
		    "error"), "message"));
	if (msg != NULL) {
		orc_error_set(err, ORC_EIO, "server answered %ld: %s", status,
		    msg);
		return;
	}
	/* Not our server's JSON (a proxy's page?): its first line, short. */
	n = strcspn(text, "\r\n");
	if (n > 0)
		orc_error_set(err, ORC_EIO, "server answered %ld: %.*s", status,
		    (int)(n > 200 ? 200 : n), text);
	else
		orc_error_set(err, ORC_EIO, "server answered %ld", status);
}

/* The API token, set once by the command line (ORCH_API_TOKEN). */
static const char *client_token;

void
client_set_token(const char *token)
{
	client_token = token != NULL && *token != '\0' ? token : NULL;
}

struct curl_slist *
client_auth(struct curl_slist *h)
{
	char *line;

	if (client_token == NULL)
		return h;
	line = xasprintf("Authorization: Bearer %s", client_token);
	h = curl_slist_append(h, line);
	free(line);
	return h;
}

/* The header list of a request: JSON, the token, the caller's lines. */
static struct curl_slist *
client_headers(const json_t *body, const char *const *extra)
{
	struct curl_slist *h = NULL;

	h = curl_slist_append(h, "Accept: application/json");
	if (body != NULL)
		h = curl_slist_append(h, "Content-Type: application/json");
	/* libcurl would send "Expect: 100-continue" and wait for it. */
	h = curl_slist_append(h, "Expect:");
	h = client_auth(h);
	while (extra != NULL && *extra != NULL)
		h = curl_slist_append(h, *extra++);
	if (h == NULL)
		fatal("%s: out of memory", __func__);
	return h;
}

/* client_request's work; with hname, *hvalue is a copy of that header
 * of the answer (NULL when it has none). */
static int
client_perform(const char *base, const char *method, const char *path,
    const json_t *body, const char *const *headers, int wait_s,
    long *status, json_t **answer, const char *hname, char **hvalue,
    struct orc_error *err)
{
	struct curl_header *ch;
	struct strbuf resp = STRBUF_INIT;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h;
	json_error_t jerr;
	size_t blen;
	char *url, *text = NULL;
	CURL *c;
	CURLcode rc;
	int timeout_s = (wait_s > 0 ? wait_s : 0) + CLIENT_SLACK_S, ret = -1;

	*status = 0;
	*answer = NULL;
	if (hvalue != NULL)
		*hvalue = NULL;
	if (client_init(err) != 0)
		return -1;
	if ((c = curl_easy_init()) == NULL) {
		orc_error_set(err, ORC_EIO, "cannot create a libcurl handle");
		return -1;
	}
	/* "http://host:8080/" and "http://host:8080" both work. */
	blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	url = xasprintf("%.*s%s", (int)blen, base, path);
	h = client_headers(body, headers);
	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CLIENT_CONNECT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, client_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	/* Only the API's scheme; never follow a redirect elsewhere. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	if (text != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	log_debug("%s: %s %s", __func__, method, url);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		client_transport_error(base, rc, errbuf, timeout_s, err);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (hname != NULL && curl_easy_header(c, hname, 0, CURLH_HEADER, -1,
	    &ch) == CURLHE_OK)
		*hvalue = xstrdup(ch->value);
	strbuf_add(&resp, "", 0);
	if (resp.len > 0)
		*answer = json_loadb(resp.s, resp.len, JSON_DECODE_ANY |
		    JSON_ALLOW_NUL, &jerr);
	log_debug("%s: %s %s: %ld, %zu bytes", __func__, method, url, *status,
	    resp.len);
	if (*status < 200 || *status > 299)
		client_status_error(*status, *answer, resp.s, err);
	else if (*answer == NULL && resp.len > 0)
		orc_error_set(err, ORC_EIO, "%s: the answer to %s %s is not "
		    "JSON: %s", base, method, path, jerr.text);
	else
		ret = 0;
out:
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	strbuf_free(&resp);
	free(text);
	free(url);
	return ret;
}

int
client_request(const char *base, const char *method, const char *path,
    const json_t *body, const char *const *headers, int wait_s,
    long *status, json_t **answer, struct orc_error *err)
{
	return client_perform(base, method, path, body, headers, wait_s,
	    status, answer, NULL, NULL, err);
}

int
client_request_header(const char *base, const char *method,
    const char *path, const json_t *body, const char *const *headers,
    int wait_s, long *status, json_t **answer, const char *hname,
    char **hvalue, struct orc_error *err)
{
	return client_perform(base, method, path, body, headers, wait_s,
	    status, answer, hname, hvalue, err);
}

char *
client_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct strbuf sb = STRBUF_INIT;
	unsigned char ch;

	strbuf_add(&sb, "", 0);
	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		/* RFC 3986 unreserved characters go as they are. */
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL) {
			strbuf_addc(&sb, (char)ch);
			continue;
		}
		strbuf_addc(&sb, '%');
		strbuf_addc(&sb, hex[ch >> 4]);
		strbuf_addc(&sb, hex[ch & 15]);
	}
	return strbuf_take(&sb);
}

char *
client_path(const char *prefix, const char *name, const char *suffix)
{
	char *e, *path;

	e = client_escape(name);
	path = xasprintf("%s%s%s", prefix, e, suffix != NULL ? suffix : "");
	free(e);
	return path;
}

/* A request about one named object of the API. */
int
client_request_named(const char *base, const char *method,
    const char *prefix, const char *name, const char *suffix, long *status,
    json_t **answer, struct orc_error *err)
{
	char *path;
	int rc;

	path = client_path(prefix, name, suffix);
	rc = client_request(base, method, path, NULL, NULL, 0, status, answer,
	    err);
	free(path);
	return rc;
}

/* A copy of a string member, NULL when it is absent or null. */
static char *
client_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? xstrdup(s) : NULL;
}

/* An integer member, 0 when it is absent or null. */
static int64_t
client_int(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

int
client_run_rec(const json_t *o, struct run_rec *r, struct orc_error *err)
{
	const char *id, *state, *dead;
	json_t *v;

	memset(r, 0, sizeof *r);
	id = json_string_value(json_object_get(o, "id"));
	state = json_string_value(json_object_get(o, "state"));
	if (!json_is_object(o) || id == NULL || strlen(id) > RUN_ID_LEN ||
	    run_state_parse(state, &r->state) != 0) {
		orc_error_set(err, ORC_EIO, "the server sent a run without a "
		    "valid id or state");
		return -1;
	}
	memcpy(r->id, id, strlen(id) + 1);
	r->workflow = client_str(o, "workflow");
	r->def_hash = client_str(o, "definition");
	r->step = client_str(o, "step");
	r->error = client_str(o, "error");
	r->seq = (int)client_int(o, "seq");
	r->attempt = (int)client_int(o, "attempt");
	r->created_at = client_int(o, "created_at");
	r->updated_at = client_int(o, "updated_at");
	r->finished_at = client_int(o, "finished_at");
	/* As the store gives them: input always, output only once set. */
	v = json_object_get(o, "input");
	r->input = v != NULL ? json_incref(v) : json_null();
	v = json_object_get(o, "output");
	if (v != NULL && !json_is_null(v))
		r->output = json_incref(v);
	if ((dead = json_string_value(json_object_get(o, "on_failure"))) ==
	    NULL)
		r->dead = DEAD_NONE;
	else if (strcmp(dead, "pending") == 0)
		r->dead = DEAD_PENDING;
	else if (strcmp(dead, "succeeded") == 0)
		r->dead = DEAD_DONE;
	else
		r->dead = DEAD_FAILED;
	return 0;
}

int
client_step_rec(const json_t *o, const char *run_id, struct step_rec *s,
    struct orc_error *err)
{
	json_t *v;

	memset(s, 0, sizeof *s);
	if (!json_is_object(o) ||
	    json_string_value(json_object_get(o, "name")) == NULL) {
		orc_error_set(err, ORC_EIO, "the server sent a step of run %s "
		    "without a name", run_id);
		return -1;
	}
	snprintf(s->run_id, sizeof s->run_id, "%s", run_id);
	s->seq = (int)client_int(o, "seq");
	s->name = client_str(o, "name");
	s->attempts = (int)client_int(o, "attempts");
	s->started_at = client_int(o, "started_at");
	s->finished_at = client_int(o, "finished_at");
	if ((v = json_object_get(o, "output")) != NULL)
		s->output = json_incref(v);
	return 0;
}

int
client_transition_rec(const json_t *o, const char *run_id,
    struct transition_rec *t, struct orc_error *err)
{
	const char *from, *to;
	enum run_state st;

	memset(t, 0, sizeof *t);
	from = json_string_value(json_object_get(o, "from"));
	to = json_string_value(json_object_get(o, "to"));
	if (!json_is_object(o) || run_state_parse(to, &t->to_state) != 0 ||
	    from == NULL || (*from != '\0' && run_state_parse(from, &st) !=
	    0)) {
		orc_error_set(err, ORC_EIO, "the server sent a transition of "
		    "run %s without valid states", run_id);
		return -1;
	}
	/* An empty "from" is the run's creation. */
	t->from_state = *from == '\0' ? -1 : (int)st;
	snprintf(t->run_id, sizeof t->run_id, "%s", run_id);
	t->at = client_int(o, "at");
	t->event = client_str(o, "event");
	t->step = client_str(o, "step");
	t->seq = (int)client_int(o, "seq");
	t->attempt = (int)client_int(o, "attempt");
	t->error = client_str(o, "error");
	t->duration_ms = client_int(o, "duration_ms");
	return 0;
}
