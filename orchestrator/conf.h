/*
 * The settings a process takes from its environment, read once at start
 * (serve, and the commands that run an engine) into struct orc_config,
 * checked there, and handed down: the engine and the HTTP server read
 * fields, not variables. A bad value stops the command with a message
 * naming the variable instead of being ignored.
 */
#ifndef CONF_H
#define CONF_H

#include <stdint.h>

#include "orchestrator.h"

#define CONF_LISTEN_DEFAULT		"127.0.0.1:8080"
#define CONF_LEASE_MS_DEFAULT		30000
#define CONF_CRASH_RESUMES_DEFAULT	3

/* The settings; strings are borrowed from the environment. */
struct orc_config {
	const char	*listen;	/* ORCH_LISTEN */
	const char	*api_token;	/* ORCH_API_TOKEN, or NULL */
	const char	*otlp_endpoint;	/* ORCH_OTLP_ENDPOINT, or NULL */
	const char	*public_url;	/* ORCH_PUBLIC_URL, or NULL */
	int64_t		 lease_ms;	/* ORCH_LEASE_MS */
	int		 crash_resumes;	/* ORCH_CRASH_RESUMES */
};

/* Fills in the defaults alone, the environment unread. */
void	conf_defaults(struct orc_config *);
/* Reads and checks the environment; -1 with err (ORC_EINVAL) naming the
 * variable when a value is not allowed, the defaults left for it. */
int	conf_load(struct orc_config *, struct orc_error *);

#endif
