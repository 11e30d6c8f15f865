/*
 * Liveness of a lease's owner from kill(2) and /proc (proc.h): the only
 * place that reads the process table, so that the engine holds the
 * take-over policy and not how a process is found dead.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

/* A killed process whose parent has not reaped it yet still answers
 * kill(pid, 0), but it will never renew a lease: it counts as gone. */
static int
proc_pid_is_zombie(long pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2] == 'Z' || p[2] == 'X';
}

/* Whether owner ("host:pid:tag") is a process of this host that is gone. */
int
proc_owner_gone(const char *owner, void *arg)
{
	char host[128];
	const char *colon = strchr(owner, ':');
	long pid;

	if (colon == NULL || gethostname(host, sizeof host) != 0)
		return 0;
	host[sizeof host - 1] = '\0';
	if ((size_t)(colon - owner) != strlen(host) ||
	    strncmp(owner, host, strlen(host)) != 0)
		return 0;
	pid = strtol(colon + 1, NULL, 10);
	if (pid <= 0)
		return 0;
	if (kill((pid_t)pid, 0) != 0)
		return errno == ESRCH;
	return proc_pid_is_zombie(pid);
}
