/*
 * Durable local writes (durable.h). On Linux the new file has no name
 * until it is linked under the target (O_TMPFILE), so a crash leaves
 * nothing behind and the folder gets one new entry, and its inode is
 * synced again once linked; elsewhere it is a temporary file renamed over
 * the target. Failures of the disk are worth a retry.
 *
 * A group shares its syncs: one syncfs makes all the new files durable,
 * publishing follows, a second syncfs makes that durable. syncfs also
 * waits for every other dirty page of the file system, which costs
 * latency when the load is light, so a small group is fsync'd file by
 * file and its folders once each.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bucket.h"
#include "durable.h"
#include "orchestrator.h"

/* From this many writes taken together, syncfs is cheaper than fsyncs. */
#define DURABLE_SYNCFS_MIN	8

/*
 * Whether files can be staged unnamed (Linux's O_TMPFILE, published with
 * linkat through /proc/self/fd): 1 yes, -1 no, 0 not known yet. Read and
 * written by every worker, hence atomically.
 */
static int durable_unnamed_state;

/* Records the failure for an errno on path (any thread). */
static void
durable_errno(struct durable_file *f, const char *what, const char *path,
    int e)
{
	free(f->error);
	f->retryable = bucket_errno_retryable(e);
	f->error = xasprintf("%s: %s %s: %s", f->who, what, path,
	    strerror(e));
}

/* Records the failure for an errno on the file's folder. */
static void
durable_folder_errno(struct durable_file *f, const char *what, int e)
{
	free(f->error);
	f->retryable = bucket_errno_retryable(e);
	f->error = xasprintf("%s: %s %.*s: %s", f->who, what,
	    (int)(f->base - 1 - f->path), f->path, strerror(e));
}

/* Whether to stage unnamed files. */
static int
durable_use_unnamed(void)
{
#ifdef O_TMPFILE
	int v = __atomic_load_n(&durable_unnamed_state, __ATOMIC_RELAXED);

	if (v == 0) {
		v = access("/proc/self/fd", X_OK) == 0 ? 1 : -1;
		__atomic_store_n(&durable_unnamed_state, v, __ATOMIC_RELAXED);
	}
	return v > 0;
#else
	return 0;
#endif
}

/* Lets tests take either way. */
void
durable_unnamed(int on)
{
	__atomic_store_n(&durable_unnamed_state, on ? 0 : -1,
	    __ATOMIC_RELAXED);
}

/* Sets up an empty file record. */
void
durable_init(struct durable_file *f, const char *who, const char *tmp_prefix)
{
	memset(f, 0, sizeof *f);
	f->who = who;
	f->tmp_prefix = tmp_prefix;
	f->dir = -1;
	f->fd = -1;
}

/*
 * A new file for the data in f->dir: unnamed when the system allows
 * (then nothing is left behind should the process die before publishing,
 * and the folder gets one new entry, not a temporary one and a rename),
 * else a temporary file next to the target, f->tmp (rename is atomic
 * within a folder). -1 with errno on failure.
 */
static int
durable_create(struct durable_file *f)
{
	int fd, i, e = EEXIST;

#ifdef O_TMPFILE
	if (durable_use_unnamed()) {
		fd = openat(f->dir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
		    0644);
		if (fd >= 0)
			return fd;
		e = errno;
		if (e != EOPNOTSUPP && e != EISDIR && e != EINVAL) {
			errno = e;
			return -1;
		}
		/* Not on this file system (or kernel): named files. */
		__atomic_store_n(&durable_unnamed_state, -1, __ATOMIC_RELAXED);
	}
#endif
	/* mkstemp's way, but in the folder's descriptor, not by path. */
	for (i = 0; i < 16; i++) {
		f->tmp = xasprintf("%s%016llx", f->tmp_prefix,
		    (unsigned long long)orc_random(UINT64_MAX));
		fd = openat(f->dir, f->tmp, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;	/* held until published */
		e = errno;	/* before free, which may change it */
		free(f->tmp);
		f->tmp = NULL;
		if (e != EEXIST)
			break;
	}
	errno = e;
	return -1;
}

/* Drops a staged file that will not be published. */
void
durable_discard(struct durable_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->tmp != NULL)
		unlinkat(f->dir, f->tmp, 0);
	if (f->dir >= 0)
		close(f->dir);
	free(f->tmp);
	f->fd = -1;
	f->dir = -1;
	f->tmp = NULL;
}

/* Discards and frees what the record holds. */
void
durable_clear(struct durable_file *f)
{
	durable_discard(f);
	free(f->path);
	free(f->error);
	f->path = NULL;
	f->error = NULL;
}

/* Writes the data to a new file in dir, to be published under path. */
int
durable_stage(struct durable_file *f, int dir, char *path, const char *data,
    size_t len, int sync)
{
	struct stat sb;
	const char *slash;

	f->dir = dir;
	f->path = path;
	f->base = (slash = strrchr(path, '/')) != NULL ? slash + 1 : path;
	if ((f->fd = durable_create(f)) < 0) {
		durable_folder_errno(f, "cannot create a temporary file in",
		    errno);
		durable_discard(f);
		return -1;
	}
	if (fchmod(f->fd, 0644) != 0 || orc_write_all(f->fd, data, len) != 0 ||
	    (sync && fsync(f->fd) != 0) || fstat(f->fd, &sb) != 0) {
		durable_errno(f, "cannot write", f->path, errno);
		durable_discard(f);
		return -1;
	}
	f->dev = sb.st_dev;
	return 0;
}

/*
 * Gives an unnamed file its target's name. A target that exists already
 * is replaced atomically: the file is linked under a temporary name
 * first, then renamed over it (link never replaces). -1 with errno.
 */
static int
durable_link(const struct durable_file *f)
{
	static unsigned	 counter;
	char		 proc[32], *tmp;
	int		 i, rc, e;

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
	if (linkat(AT_FDCWD, proc, f->dir, f->base, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	for (i = 0; i < 16; i++) {
		tmp = xasprintf("%s%ld-%u", f->tmp_prefix, (long)getpid(),
		    __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
		/* rename replaces a link at the target, never follows it. */
		if ((rc = linkat(AT_FDCWD, proc, f->dir, tmp,
		    AT_SYMLINK_FOLLOW)) == 0 && (rc = renameat(f->dir, tmp,
		    f->dir, f->base)) != 0) {
			e = errno;
			unlinkat(f->dir, tmp, 0);
			errno = e;
		}
		e = errno;
		free(tmp);
		if (rc == 0 || e != EEXIST) {
			errno = e;
			return rc;
		}
	}
	errno = EEXIST;
	return -1;
}

/*
 * Publishes a staged file under its name. An unnamed file keeps its
 * descriptor (durable_discard closes it): its new link count is in its
 * inode, which must be synced again for the name to be durable. On error
 * the file is gone and error is set.
 */
static int
durable_publish(struct durable_file *f)
{
	int rc, e;

	rc = f->tmp == NULL ? durable_link(f) : renameat(f->dir, f->tmp,
	    f->dir, f->base);
	e = errno;
	if (rc != 0) {
		durable_errno(f, f->tmp == NULL ? "cannot link to" :
		    "cannot rename to", f->path, e);
		durable_discard(f);
		return -1;
	}
	if (f->tmp != NULL) {
		/* Renaming leaves its inode as it was synced. */
		close(f->fd);
		f->fd = -1;
		free(f->tmp);
		f->tmp = NULL;
	}
	return 0;
}

/* Fsyncs the file's folder; -1 with error set. */
static int
durable_sync_folder(struct durable_file *f)
{
	if (fsync(f->dir) == 0 || errno == EINVAL)
		return 0;
	durable_folder_errno(f, "cannot sync folder", errno);
	return -1;
}

/* Finishes a file staged with sync on its own: published, fsync'd again
 * when it was unnamed (its link count), the folder fsync'd. */
int
durable_finish(struct durable_file *f)
{
	int ret = -1;

	if (durable_publish(f) != 0)
		goto out;
	if (f->fd >= 0 && fsync(f->fd) != 0) {
		durable_errno(f, "cannot write", f->path, errno);
		goto out;
	}
	ret = durable_sync_folder(f);
out:
	durable_discard(f);
	return ret;
}

/*
 * Makes the staged files of a group on file system dev durable with one
 * syncfs; a failure fails them all (worth a retry: the disk). after names
 * the step the sync follows, for the message.
 */
static void
durable_sync_dev(struct durable_file **fs, int n, dev_t dev, const char *after)
{
	int i, fd = -1, e = 0;

	/* Any staged write's folder names the file system. */
	for (i = 0; i < n && fd < 0; i++) {
		if (fs[i]->error == NULL && fs[i]->dev == dev)
			fd = fs[i]->dir;
	}
	if (fd >= 0 && syncfs(fd) != 0)
		e = errno;
	for (i = 0; i < n && e != 0; i++) {
		if (fs[i]->error != NULL || fs[i]->dev != dev)
			continue;
		durable_errno(fs[i], after, fs[i]->path, e);
	}
}

/* Syncs every file system the group's staged writes are on, once. */
static void
durable_sync_all(struct durable_file **fs, int n, const char *after)
{
	int i, j;

	for (i = 0; i < n; i++) {
		if (fs[i]->error != NULL)
			continue;
		for (j = 0; j < i; j++)
			if (fs[j]->error == NULL && fs[j]->dev == fs[i]->dev)
				break;
		if (j == i)
			durable_sync_dev(fs, n, fs[i]->dev, after);
	}
}

/*
 * Fsyncs each file of a small group still open: before publishing, every
 * staged file (its data); after, the unnamed ones again (their inodes
 * hold the new link counts; a renamed file was closed).
 */
static void
durable_sync_files(struct durable_file **fs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (fs[i]->error == NULL && fs[i]->fd >= 0 &&
		    fsync(fs[i]->fd) != 0)
			durable_errno(fs[i], "cannot write", fs[i]->path,
			    errno);
	}
}

/* Whether two files are in the same folder. */
static int
durable_same_folder(const char *a, const char *b)
{
	size_t len = (size_t)(strrchr(a, '/') - a);

	return strncmp(a, b, len + 1) == 0 && strchr(b + len + 1, '/') == NULL;
}

/* Fsyncs each folder a small group published into, once; a failure fails
 * every write into that folder. */
static void
durable_sync_folders(struct durable_file **fs, int n)
{
	int i, j;

	for (i = 0; i < n; i++) {
		if (fs[i]->error != NULL)
			continue;
		for (j = 0; j < i; j++)
			if (fs[j]->error == NULL && durable_same_folder(
			    fs[j]->path, fs[i]->path))
				break;
		if (j < i || durable_sync_folder(fs[i]) == 0)
			continue;
		for (j = i + 1; j < n; j++) {
			if (fs[j]->error != NULL ||
			    !durable_same_folder(fs[i]->path, fs[j]->path))
				continue;
			fs[j]->error = xstrdup(fs[i]->error);
			fs[j]->retryable = fs[i]->retryable;
		}
	}
}

/* Publishes each staged file of a group (or drops it). */
static void
durable_publish_all(struct durable_file **fs, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (fs[i]->fd < 0)
			continue;	/* nothing staged */
		if (fs[i]->error != NULL)
			durable_discard(fs[i]);
		else
			durable_publish(fs[i]);
	}
}

/*
 * Finishes a group staged without sync. A large group: one sync makes
 * every new file durable, publishing names them, a second sync makes the
 * names durable (and the unnamed files' new link counts). A small group
 * (the writer keeps up): fsyncs per file and per folder.
 */
void
durable_finish_group(struct durable_file **fs, int n)
{
	int i;

	if (n >= DURABLE_SYNCFS_MIN)
		durable_sync_all(fs, n, "cannot sync before writing");
	else
		durable_sync_files(fs, n);
	durable_publish_all(fs, n);
	if (n >= DURABLE_SYNCFS_MIN)
		durable_sync_all(fs, n, "cannot sync after writing");
	else {
		durable_sync_files(fs, n);
		durable_sync_folders(fs, n);
	}
	for (i = 0; i < n; i++)
		durable_discard(fs[i]);
}
