/*
 * Durable local writes: a file is written whole into a new file in its
 * folder, synced, published under its name atomically, then the folder is
 * synced, so that a reader sees the old bytes or the new ones and a crash
 * after success loses nothing. A write can stand alone (fsyncs) or be
 * staged with others and finished as a group, whose syncs are shared:
 * many writes cost two syncfs(2) of the file system, not two or three
 * fsyncs each. bucket.put is the user; the folder is the caller's to open
 * (bucket_dir_open keeps it beneath the bucket).
 */
#ifndef DURABLE_H
#define DURABLE_H

#include <sys/types.h>

#include <stddef.h>

/*
 * A file written, not yet published under its name: open until then.
 * Once published, an unnamed file stays open (its inode is synced again
 * for its link count), a named one is closed. Everything is done relative
 * to the folder's descriptor, so no path is resolved again.
 */
struct durable_file {
	const char	*who;		/* starts the messages: "bucket.put" */
	const char	*tmp_prefix;	/* of named temporary files */
	int		 dir;		/* the folder, or -1 */
	int		 fd;		/* the file, or -1 */
	char		*tmp;		/* a named file in dir, or NULL */
	char		*path;		/* the target's path (messages) */
	const char	*base;		/* its name in dir, in path */
	dev_t		 dev;		/* their file system */
	char		*error;		/* NULL, or why it failed */
	int		 retryable;	/* whether the failure is the disk's */
};

/* Sets up an empty file record; the strings are borrowed for its life. */
void	durable_init(struct durable_file *, const char *who,
	    const char *tmp_prefix);
/*
 * Writes data to a new file in the folder dir (taken: closed by
 * durable_discard), to be published as path's last component; path is
 * taken too. Fsyncs the file when sync is set. -1 with error set, the
 * file gone. Touches nothing shared: it runs on worker threads.
 */
int	durable_stage(struct durable_file *, int dir, char *path,
	    const char *data, size_t len, int sync);
/* Publishes and syncs a file staged with sync on its own; -1 with error
 * set. The record still wants durable_clear. */
int	durable_finish(struct durable_file *);
/*
 * Finishes a group of files staged without sync (those with an error are
 * skipped): syncs their data, publishes each, syncs the names, setting
 * error on each that failed. From a few files fsyncs per file and folder,
 * from more a syncfs per file system before and after publishing.
 */
void	durable_finish_group(struct durable_file **, int n);
/* Drops a staged file that will not be published, closes the folder. */
void	durable_discard(struct durable_file *);
/* Discards and frees the path and the error. */
void	durable_clear(struct durable_file *);
/* Tests only: stage in unnamed files where the system allows (1, the
 * default) or always in named temporary files (0). */
void	durable_unnamed(int on);

#endif
