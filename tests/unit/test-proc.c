/*
 * Tests of a lease owner's liveness: this process is alive, a child that
 * exited (reaped or still a zombie) is gone, and an owner of another host
 * or of no pid is never called dead.
 */
#include "config.h"

#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "test.h"

/* An owner string of this host for pid. */
static void
proc_owner(char *buf, size_t len, long pid)
{
	char host[128];

	REQUIRE(gethostname(host, sizeof host) == 0);
	host[sizeof host - 1] = '\0';
	snprintf(buf, len, "%s:%ld:t", host, pid);
}

/* This process is alive. */
static void
test_proc_alive(void)
{
	char owner[256];

	proc_owner(owner, sizeof owner, (long)getpid());
	CHECK(proc_owner_gone(owner, NULL) == 0);
}

/* A child that exited is gone, before its reaping (a zombie) and after. */
static void
test_proc_exited(void)
{
	char owner[256];
	pid_t pid;
	int i, dead = 0;

	if ((pid = fork()) == 0)
		_exit(0);
	REQUIRE(pid > 0);
	proc_owner(owner, sizeof owner, (long)pid);
	/* Until it has exited, it may still be running; then a zombie. */
	for (i = 0; i < 5000 && !dead; i++)
		if (!(dead = proc_owner_gone(owner, NULL)))
			usleep(1000);
	CHECK(dead == 1);
	REQUIRE(waitpid(pid, NULL, 0) == pid);
	CHECK(proc_owner_gone(owner, NULL) == 1);
}

/* Another host's owner, or a malformed one, is not known to be dead. */
static void
test_proc_unknown(void)
{
	CHECK(proc_owner_gone("elsewhere.invalid:1:t", NULL) == 0);
	CHECK(proc_owner_gone("no-colon", NULL) == 0);
	CHECK(proc_owner_gone("", NULL) == 0);
}

/* An owner of this host with no pid is not known to be dead. */
static void
test_proc_no_pid(void)
{
	char owner[256];

	proc_owner(owner, sizeof owner, 0);
	CHECK(proc_owner_gone(owner, NULL) == 0);
}

int
main(void)
{
	TEST_RUN(test_proc_alive);
	TEST_RUN(test_proc_exited);
	TEST_RUN(test_proc_unknown);
	TEST_RUN(test_proc_no_pid);
	TEST_DONE();
}
