/*
 * What this host's process table says of a lease's owner. A lease names
 * its holder "host:pid:tag"; a holder on this host whose process is gone
 * (or a zombie, which will never renew) need not be waited out.
 */
#ifndef PROC_H
#define PROC_H

/* Whether owner is a process of this host that is gone; arg unused, so
 * that the store can take it as its liveness callback. */
int	proc_owner_gone(const char *owner, void *arg);

#endif
