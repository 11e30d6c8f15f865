/*
 * What a worker process gives up before it runs user code: every
 * descriptor but its channel, new privileges, most system calls (a seccomp
 * filter that lets through what running Lua and talking on the channel
 * need, and refuses opening files, sockets, exec, fork and ptrace), and
 * room to grow (rlimits on address space, files, processes and file
 * size), and its claim on the CPU (nice 10: the daemon's loop comes first).
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stdint.h>

#include "orchestrator.h"

/* What the worker may take; NULL, or -1 and 0, for the defaults. */
struct sandbox_limits {
	int		 nice;		/* ORCH_WORKER_NICE, 0 to 19, or -1 */
	int64_t		 memory_mb;	/* ORCH_WORKER_MEMORY_MB, or 0 */
};

/* Enters the sandbox, keeping descriptor keep (and standard error where
 * the build needs it for sanitizer reports). 0, or -1 with err; what was
 * applied is in *what ("seccomp" or "no seccomp (...)"). */
int	sandbox_enter(int keep, const struct sandbox_limits *,
	    const char **what, struct orc_error *err);

#endif
