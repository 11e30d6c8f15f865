/*
 * The command line's side of the HTTP API: one synchronous request to an
 * `orchestrator serve` at a time (libcurl's easy interface), with the
 * API token the command line read (ORCH_API_TOKEN), the answer parsed
 * as JSON, and failures turned into one line a person understands. Also
 * turns the API's run documents back into the store's records, so that a
 * command prints the same text whether it reads the database or a server.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <jansson.h>

#include "orchestrator.h"
#include "store.h"

/* Where the commands find a server when --url and ORCH_URL are unset. */
#define CLIENT_DEFAULT_URL	"http://127.0.0.1:8080"

struct curl_slist;

/* The bearer token every request sends from now on (NULL or empty: none);
 * borrowed, it must outlive the requests. */
void	client_set_token(const char *);
/* h with the token's Authorization line appended, when there is one. */
struct curl_slist *client_auth(struct curl_slist *h);

/*
 * Sends METHOD base+path (path starts with '/' and is already escaped)
 * with body as JSON (NULL: no body) and the NULL-terminated extra header
 * lines headers (may be NULL). wait_s is how long the server may take on
 * purpose (Prefer: wait): the request gives up 30 s after it. *status is
 * the HTTP status (0 when none came) and *answer the JSON body (NULL when
 * there was none or it was not JSON; the caller decrefs it). Returns 0 on
 * a 2xx answer; -1 and err otherwise, "server answered 404: run X not
 * found" for an error answer, which is still in *status and *answer.
 */
int	client_request(const char *base, const char *method, const char *path,
	    const json_t *body, const char *const *headers, int wait_s,
	    long *status, json_t **answer, struct orc_error *err);

/* client_request, and *hvalue a new copy of the answer's header hname
 * (NULL when it has none), whatever the status. */
int	client_request_header(const char *base, const char *method,
	    const char *path, const json_t *body, const char *const *headers,
	    int wait_s, long *status, json_t **answer, const char *hname,
	    char **hvalue, struct orc_error *err);

/* s percent-encoded for a path segment or a query value (new string). */
char	*client_escape(const char *s);
/* prefix, then name percent-encoded, then suffix (NULL for none): the
 * path of one object of the API, "/runs/ID/cancel" (new string). */
char	*client_path(const char *prefix, const char *name, const char *suffix);
/* client_request without a body or headers on client_path's path: GET
 * "/runs/" ID, POST "/runs/" ID "/cancel". */
int	client_request_named(const char *base, const char *method,
	    const char *prefix, const char *name, const char *suffix,
	    long *status, json_t **answer, struct orc_error *err);

/* A run object of the API ("runs --json" line, or the head of "show
 * --json") into r, which the caller clears with run_rec_clear(). */
int	client_run_rec(const json_t *, struct run_rec *, struct orc_error *);
/* One element of "steps" of GET /runs/ID; clear with step_rec_clear(). */
int	client_step_rec(const json_t *, const char *run_id, struct step_rec *,
	    struct orc_error *);
/* One element of "transitions"; clear with transition_rec_clear(). */
int	client_transition_rec(const json_t *, const char *run_id,
	    struct transition_rec *, struct orc_error *);

#endif
