/*
 * Large payloads, stored once beside the database. A store backend hands
 * its JSON columns here before writing them: a compact JSON text longer
 * than the threshold is written, once, to a content-addressed file
 * BLOBDIR/SHA256 and the column holds a small reference instead,
 * {"$blob":"sha256:HEX","bytes":N}; reading the column resolves the
 * reference back to the text. Two runs with the same large payload share
 * one file. Backend-independent: store-sqlite.c and store-pg.c both use it.
 *
 * A text that happens to look exactly like a reference is stored as a blob
 * too, whatever its size, so every reference read back is one we wrote.
 */
#ifndef BLOB_H
#define BLOB_H

#include <stddef.h>

#include "orchestrator.h"

#define BLOB_DEFAULT_BYTES	262144

/* Texts longer than this many bytes become blobs: the size configured
 * (store_config.blob_bytes, ORCH_BLOB_BYTES) when not 0, else
 * BLOB_DEFAULT_BYTES. */
size_t	blob_threshold(size_t configured);
/* The blob folder for a database file: "blobs" in the file's folder, as a
 * new string; NULL for ":memory:" (everything stays inline). */
char	*blob_dir_for(const char *db_path);

/* Whether text is a reference; fills hex (65 bytes) and *bytes when so. */
int	blob_is_ref(const char *text, size_t len, char hex[65],
	    size_t *bytes);
/*
 * Writes text to DIR/SHA256 unless it is there already (temporary file,
 * fsync, rename, fsync of the folder; the folder is created when missing)
 * and sets *ref_out to the reference text, a new string. -1 with err
 * (ORC_ESTORE, naming the file) when it cannot be written.
 */
int	blob_put(const char *dir, const char *text, size_t len,
	    char **ref_out, struct orc_error *);
/* Reads the blob a reference names: a new NUL-terminated text and its
 * length. NULL with err (ORC_ESTORE, naming the file) when the reference
 * is malformed, or the file is missing, short or corrupt. */
char	*blob_get(const char *dir, const char *ref, size_t ref_len,
	    size_t *len_out, struct orc_error *);

/*
 * What a backend calls on a JSON column's text about to be written (text
 * is a new string, taken): returns text itself when it stays inline, else
 * frees it and returns the reference. dir NULL keeps everything inline.
 * NULL with err when the blob cannot be written (text is freed).
 */
char	*blob_encode(const char *dir, size_t threshold, char *text,
	    struct orc_error *);
/* The opposite, for a column's text as read (borrowed): 0 with *out_new
 * NULL when it is inline text to use as is, 0 with the stored text in
 * *out_new (new) for a reference; -1 with err when a blob cannot be read.
 * dir NULL takes every text as inline. */
int	blob_decode(const char *dir, const char *text, size_t len,
	    char **out_new, struct orc_error *);

/*
 * The blob files of deleted rows. A purge adds each deleted column's text
 * (blob_refs_add keeps the references among them, refs NULL-terminated),
 * then, before its commit, removes the files no remaining row uses:
 * in_use asks the database about all of them at once (one scan, as
 * references have no index) and sets used[i] for each still referred
 * to; -1 with err when it cannot tell.
 */
struct blob_refs {
	char		**refs;
	unsigned char	 *used;
	size_t		  n;
	size_t		  cap;
};
void	blob_refs_add(struct blob_refs *, const char *text, size_t len);
/* Marks br->refs[i] used when text is it (in_use's helper). */
void	blob_refs_mark(struct blob_refs *, const char *text);
int	blob_refs_remove(const char *dir, struct blob_refs *,
	    int (*in_use)(void *, struct blob_refs *, struct orc_error *),
	    void *, size_t *removed, struct orc_error *);
void	blob_refs_clear(struct blob_refs *);

/* Copies the blob a reference names (or the file named hex, 64 digits,
 * when ref is NULL) from one folder to another, as a hard link when it
 * can; nothing when it is there already. 1 with err when the source is
 * missing, -1 with err when the copy fails. */
int	blob_copy(const char *src_dir, const char *dst_dir, const char *ref,
	    const char *hex, struct orc_error *);
/* Copies every blob of a folder (none when it does not exist); *n gets
 * how many the destination did not have. */
int	blob_copy_dir(const char *src_dir, const char *dst_dir, size_t *n,
	    struct orc_error *);

#endif
