/*
 * A workflow's permissions, the counterpart of a cloud's IAM policy: its
 * "allow" object names the hosts its HTTP steps may reach and the buckets
 * its bucket steps may write. A rule that is absent allows everything of
 * its kind (no "allow" object, or no "hosts" key: any host); a rule that is
 * present, even empty, allows only what it lists. Refusals are ORC_EPERM
 * with a message naming the rule.
 */
#ifndef PERMIT_H
#define PERMIT_H

#include <jansson.h>

#include "orchestrator.h"

/*
 * Whether a step may request url. The scheme must be http or https. When
 * allow has "hosts", the URL's host and port must match an entry:
 * "127.0.0.1:9000" that host on that port only, "api.example.com" that
 * host on any port; names compare without regard to case. 0 when allowed;
 * -1 with err (ORC_EINVAL for a bad URL, ORC_EPERM for a refusal).
 */
int	permit_url(const json_t *allow, const char *url, struct orc_error *);
/* Whether a step may use the bucket name: when allow has "buckets", it
 * must be listed. 0 when allowed; -1 with err (ORC_EPERM). */
int	permit_bucket(const json_t *allow, const char *name,
	    struct orc_error *);

#endif
