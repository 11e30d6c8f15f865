/*
 * The worker's sandbox (sandbox.h). The order matters: descriptors and
 * rlimits first, then PR_SET_NO_NEW_PRIVS, which a seccomp filter needs
 * from a process without CAP_SYS_ADMIN, then the filter itself, last,
 * since it refuses what the steps before it call. The filter refuses by
 * default with EPERM rather than killing: a library that tries something
 * harmless (isatty, say) sees an error it handles, and what matters is
 * refused all the same. Calls that could reach another process (kill,
 * tgkill) are allowed only towards the worker itself, for abort().
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "sandbox.h"

/* How much less a worker counts than the daemon for the CPU: a script
 * that burns its time must not slow the loop that answers webhooks. */
#define SANDBOX_NICE		10

/* Address space a worker may map, when ORCH_WORKER_MEMORY_MB is unset. */
#define SANDBOX_MEMORY_MB	4096

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZED	1	/* its shadow memory is terabytes */
#else
#define SANDBOX_SANITIZED	0
#endif

/* The calls allowed whatever their arguments. */
static const int sandbox_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
	SCMP_SYS(mprotect), SCMP_SYS(brk), SCMP_SYS(madvise),
	SCMP_SYS(futex), SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction), SCMP_SYS(sigaltstack),
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
	SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(nanosleep),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(getrandom), SCMP_SYS(close), SCMP_SYS(fstat),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(getrlimit), SCMP_SYS(membarrier), SCMP_SYS(rseq)
};

/* Sets both limits of a resource. */
static int
sandbox_limit(int resource, rlim_t v)
{
	struct rlimit rl = { v, v };

	return setrlimit(resource, &rl);
}

/* Closes lo..hi (close_range, or one by one where the kernel lacks it). */
static void
sandbox_close(unsigned lo, unsigned hi)
{
	unsigned fd;

	if (lo > hi || syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	for (fd = lo; fd <= hi && fd < 65536; fd++)
		close((int)fd);
}

/* Points 0, 1 and 2 (unless kept) at /dev/null, closes all others. */
static int
sandbox_descriptors(int keep, int keep_stderr)
{
	int null, fd;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return -1;
	for (fd = 0; fd <= 2; fd++)
		if ((fd != 2 || !keep_stderr) && fd != keep &&
		    dup2(null, fd) < 0)
			return -1;
	if (keep > 3)
		sandbox_close(3, (unsigned)keep - 1);
	sandbox_close((unsigned)keep + 1, ~0u);
	return 0;
}

/* The rlimits: no files written, no processes, bounded memory. Not
 * RLIMIT_CPU: it counts a worker's whole life of many calls, and each
 * call's time is bounded by the kill at its deadline. */
static int
sandbox_rlimits(const struct sandbox_limits *sl)
{
	int64_t mb = sl != NULL && sl->memory_mb > 0 ? sl->memory_mb :
	    SANDBOX_MEMORY_MB;
	int nice = sl != NULL && sl->nice >= 0 ? sl->nice : SANDBOX_NICE;

	/* A sanitizer's report goes to standard error, maybe a file. */
	if ((!SANDBOX_SANITIZED && sandbox_limit(RLIMIT_FSIZE, 0) != 0) ||
	    sandbox_limit(RLIMIT_CORE, 0) != 0 ||
	    sandbox_limit(RLIMIT_NOFILE, 8) != 0)
		return -1;
	(void)setpriority(PRIO_PROCESS, 0, nice);
	/* Root ignores RLIMIT_NPROC; the filter refuses fork anyway. */
	(void)sandbox_limit(RLIMIT_NPROC, 0);
	if (!SANDBOX_SANITIZED &&
	    sandbox_limit(RLIMIT_AS, (rlim_t)mb << 20) != 0)
		return -1;
	return 0;
}

/* Builds and loads the filter; a libseccomp error as -errno. */
static int
sandbox_filter(void)
{
	scmp_filter_ctx ctx;
	pid_t self = getpid();
	size_t i;
	int rc = 0;

	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		return -ENOMEM;
	for (i = 0; rc == 0 && i < sizeof sandbox_calls /
	    sizeof sandbox_calls[0]; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sandbox_calls[i], 0);
	/* fstat through fstatat(fd, "", AT_EMPTY_PATH) only: no paths. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat),
		    1, SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH,
		    AT_EMPTY_PATH));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
		    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	/* prlimit64 to read a limit, never to set one. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64),
		    1, SCMP_A2(SCMP_CMP_EQ, 0));
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

/* Enters the sandbox. */
int
sandbox_enter(int keep, const struct sandbox_limits *sl, const char **what,
    struct orc_error *err)
{
	int rc;

	*what = "none";
	if (sandbox_descriptors(keep, SANDBOX_SANITIZED) != 0 ||
	    sandbox_rlimits(sl) != 0) {
		orc_error_set(err, ORC_EIO, "worker sandbox: %s",
		    strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		orc_error_set(err, ORC_EIO, "worker sandbox: no_new_privs: %s",
		    strerror(errno));
		return -1;
	}
	if ((rc = sandbox_filter()) != 0) {
		orc_error_set(err, ORC_EIO, "worker sandbox: seccomp: %s",
		    strerror(-rc));
		return -1;
	}
	*what = "seccomp";
	return 0;
}
