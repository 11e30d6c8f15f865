/*
 * Retention: the daemon deletes the runs finished longer ago than their
 * definition's "retention" (ORCH_RETENTION for a definition that has
 * none), and forgets idempotency keys older than their 24 h, all the
 * time and in small batches. Each batch is a store purge (store.h) that
 * joins the grouped commits, so the loop never waits on it and no
 * transaction grows long; a timer drives them, one at a time, back to
 * back while there is a backlog, once a second otherwise.
 */
#ifndef RETENTION_H
#define RETENTION_H

#include <stdint.h>

#include "orchestrator.h"

struct event_base;
struct retention;
struct store;

/* Starts deleting on the loop of base; default_ms is the retention of
 * runs whose definition sets none (ORCH_RETENTION), or STORE_FOREVER. */
struct retention *retention_create(struct event_base *, struct store *,
		    int64_t default_ms);
/* Stops; a batch in flight is forgotten by the store's close. */
void		 retention_free(struct retention *);

#endif
