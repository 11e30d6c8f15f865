/*
 * Content-addressed payload files beside the database. A blob is the exact
 * compact JSON text of a large column value, in a file named by the text's
 * SHA-256. Files are written atomically (temporary file in the same folder,
 * fsync, rename, fsync of the folder) so a name that exists always holds
 * the whole text; writing a blob that exists is a no-op, which is what
 * makes identical payloads share one file. Reads check the length and the
 * hash, so a damaged file is an error rather than a wrong payload.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"

#define BLOB_REF_HEAD	"{\"$blob\":\"sha256:"
#define BLOB_REF_MID	"\",\"bytes\":"

/* The threshold configured (ORCH_BLOB_BYTES), or the default. */
size_t
blob_threshold(size_t configured)
{
	return configured > 0 ? configured : BLOB_DEFAULT_BYTES;
}

/* DBDIR/blobs for a database path, NULL for an in-memory one. */
char *
blob_dir_for(const char *db_path)
{
	const char *slash;

	if (db_path == NULL || strcmp(db_path, ":memory:") == 0 ||
	    *db_path == '\0')
		return NULL;
	if ((slash = strrchr(db_path, '/')) == NULL)
		return xstrdup("blobs");
	if (slash == db_path)
		return xstrdup("/blobs");
	return xasprintf("%.*s/blobs", (int)(slash - db_path), db_path);
}

/* Whether text is exactly {"$blob":"sha256:HEX","bytes":N}. */
int
blob_is_ref(const char *text, size_t len, char hex[65], size_t *bytes)
{
	size_t head = sizeof BLOB_REF_HEAD - 1, mid = sizeof BLOB_REF_MID - 1;
	size_t i, n = 0;
	const char *p;

	/* The fixed parts, 64 hex digits, 1 to 19 digits and "}". */
	if (len < head + 64 + mid + 2 || len > head + 64 + mid + 20 ||
	    memcmp(text, BLOB_REF_HEAD, head) != 0)
		return 0;
	p = text + head;
	for (i = 0; i < 64; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') ||
		    (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	}
	if (memcmp(p + 64, BLOB_REF_MID, mid) != 0 || text[len - 1] != '}')
		return 0;
	for (p += 64 + mid; p < text + len - 1; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		n = n * 10 + (size_t)(*p - '0');
	}
	if (p == text + head + 64 + mid)
		return 0;
	if (hex != NULL) {
		memcpy(hex, text + head, 64);
		hex[64] = '\0';
	}
	if (bytes != NULL)
		*bytes = n;
	return 1;
}

/* Creates the blob folder when it is missing. */
static int
blob_mkdir(const char *dir, struct orc_error *err)
{
	struct stat sb;

	if (mkdir(dir, 0777) == 0 || (errno == EEXIST &&
	    stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)))
		return 0;
	orc_error_set(err, ORC_ESTORE, "cannot create blob folder %s: %s",
	    dir, errno == EEXIST ? "not a folder" : strerror(errno));
	return -1;
}

/* Writes text to a new file made from the mkstemp template tmp, synced,
 * then renamed to path; tmp is gone whatever happens. */
static int
blob_write_file(char *tmp, const char *path, const char *dir,
    const char *text, size_t len, struct orc_error *err)
{
	int fd;

	if ((fd = mkstemp(tmp)) < 0) {
		orc_error_set(err, ORC_ESTORE, "cannot create a temporary "
		    "file in %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0644) != 0 || orc_write_all(fd, text, len) != 0 ||
	    fsync(fd) != 0) {
		orc_error_set(err, ORC_ESTORE, "cannot write %s: %s", tmp,
		    strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) != 0) {
		orc_error_set(err, ORC_ESTORE, "cannot write %s: %s", tmp,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		orc_error_set(err, ORC_ESTORE, "cannot rename %s to %s: %s",
		    tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Writes a blob unless it exists; see blob.h. */
int
blob_put(const char *dir, const char *text, size_t len, char **ref_out,
    struct orc_error *err)
{
	char hex[65], *path, *tmp;
	int rc, ret = -1;

	*ref_out = NULL;
	orc_sha256_hex(text, len, hex);
	path = xasprintf("%s/%s", dir, hex);
	if (access(path, F_OK) == 0)
		goto done;
	if (blob_mkdir(dir, err) != 0)
		goto out;

	/* Another writer may have won the race: its file is the same. */
	tmp = xasprintf("%s/.tmp-%.16s-XXXXXX", dir, hex);
	rc = blob_write_file(tmp, path, dir, text, len, err);
	free(tmp);
	if (rc != 0)
		goto out;
	if (orc_fsync_dir(dir) != 0) {
		orc_error_set(err, ORC_ESTORE, "cannot sync blob folder %s: "
		    "%s", dir, strerror(errno));
		goto out;
	}
done:
	*ref_out = xasprintf(BLOB_REF_HEAD "%s" BLOB_REF_MID "%zu}", hex, len);
	ret = 0;
out:
	free(path);
	return ret;
}

/* Reads the blob a reference names; see blob.h. */
char *
blob_get(const char *dir, const char *ref, size_t ref_len, size_t *len_out,
    struct orc_error *err)
{
	char hex[65], got[65], *path, *text;
	struct orc_error rerr;
	size_t bytes, len;

	if (!blob_is_ref(ref, ref_len, hex, &bytes)) {
		orc_error_set(err, ORC_ESTORE, "malformed blob reference "
		    "\"%.100s\"", ref);
		return NULL;
	}
	path = xasprintf("%s/%s", dir, hex);
	if ((text = orc_read_file(path, &len, &rerr)) == NULL) {
		orc_error_set(err, ORC_ESTORE, "blob %s is missing or "
		    "unreadable: %s", path, rerr.message);
		free(path);
		return NULL;
	}
	if (len != bytes) {
		orc_error_set(err, ORC_ESTORE, "blob %s holds %zu bytes, not "
		    "the %zu its reference says", path, len, bytes);
		goto bad;
	}
	orc_sha256_hex(text, len, got);
	if (strcmp(got, hex) != 0) {
		orc_error_set(err, ORC_ESTORE, "blob %s is corrupt (its "
		    "SHA-256 does not match its name)", path);
		goto bad;
	}
	free(path);
	if (len_out != NULL)
		*len_out = len;
	return text;
bad:
	free(text);
	free(path);
	return NULL;
}

/* Turns a large column text into a reference; see blob.h. */
char *
blob_encode(const char *dir, size_t threshold, char *text,
    struct orc_error *err)
{
	size_t len;
	char *ref;

	if (dir == NULL)
		return text;
	len = strlen(text);
	if (len <= threshold && !blob_is_ref(text, len, NULL, NULL))
		return text;
	if (blob_put(dir, text, len, &ref, err) != 0) {
		free(text);
		return NULL;
	}
	free(text);
	return ref;
}

/* Resolves a column text that is a reference; see blob.h. */
int
blob_decode(const char *dir, const char *text, size_t len, char **out_new,
    struct orc_error *err)
{
	*out_new = NULL;
	if (dir == NULL || !blob_is_ref(text, len, NULL, NULL))
		return 0;
	if ((*out_new = blob_get(dir, text, len, NULL, err)) == NULL)
		return -1;
	return 0;
}

/* Keeps text when it is a blob reference not kept yet. */
void
blob_refs_add(struct blob_refs *br, const char *text, size_t len)
{
	size_t i;

	if (text == NULL || !blob_is_ref(text, len, NULL, NULL))
		return;
	for (i = 0; i < br->n; i++)
		if (strcmp(br->refs[i], text) == 0)
			return;
	if (br->n == br->cap) {
		br->cap = br->cap ? br->cap * 2 : 8;
		br->refs = xrealloc(br->refs, (br->cap + 1) *
		    sizeof *br->refs);
	}
	br->refs[br->n++] = xstrndup(text, len);
	br->refs[br->n] = NULL;
}

/* Marks a kept reference used. */
void
blob_refs_mark(struct blob_refs *br, const char *text)
{
	size_t i;

	for (i = 0; text != NULL && i < br->n; i++)
		if (strcmp(br->refs[i], text) == 0)
			br->used[i] = 1;
}

/* Removes the files of the kept references that no row uses any more. */
int
blob_refs_remove(const char *dir, struct blob_refs *br,
    int (*in_use)(void *, struct blob_refs *, struct orc_error *),
    void *arg, size_t *removed, struct orc_error *err)
{
	char hex[65], *path;
	size_t i;

	*removed = 0;
	if (dir == NULL || br->n == 0)
		return 0;
	free(br->used);
	br->used = xcalloc(br->n, 1);
	if (in_use(arg, br, err) == -1)
		return -1;
	for (i = 0; i < br->n; i++) {
		if (br->used[i] || !blob_is_ref(br->refs[i],
		    strlen(br->refs[i]), hex, NULL))
			continue;
		path = xasprintf("%s/%s", dir, hex);
		if (unlink(path) == 0)
			(*removed)++;
		else if (errno != ENOENT) {
			orc_error_set(err, ORC_ESTORE, "cannot remove blob "
			    "%s: %s", path, strerror(errno));
			free(path);
			return -1;
		}
		free(path);
	}
	return 0;
}

/* Forgets the kept references. */
void
blob_refs_clear(struct blob_refs *br)
{
	size_t i;

	for (i = 0; i < br->n; i++)
		free(br->refs[i]);
	free(br->refs);
	free(br->used);
	memset(br, 0, sizeof *br);
}

/* Copies a file's bytes to a new file beside dst, synced, renamed. */
static int
blob_copy_bytes(const char *src, const char *dst, const char *dst_dir,
    struct orc_error *err)
{
	struct orc_error rerr;
	char *text, *tmp;
	size_t len;
	int ret;

	if ((text = orc_read_file(src, &len, &rerr)) == NULL) {
		orc_error_set(err, ORC_ESTORE, "cannot read blob %s: %s", src,
		    rerr.message);
		return -1;
	}
	tmp = xasprintf("%s.tmp-XXXXXX", dst);
	ret = blob_write_file(tmp, dst, dst_dir, text, len, err);
	free(tmp);
	free(text);
	return ret;
}

/* Copies one blob between folders; see blob.h. */
int
blob_copy(const char *src_dir, const char *dst_dir, const char *ref,
    const char *hex, struct orc_error *err)
{
	char h[65], *src, *dst;
	int ret = 0;

	if (ref != NULL) {
		if (!blob_is_ref(ref, strlen(ref), h, NULL)) {
			orc_error_set(err, ORC_ESTORE, "malformed blob "
			    "reference \"%.100s\"", ref);
			return -1;
		}
		hex = h;
	}
	src = xasprintf("%s/%s", src_dir, hex);
	dst = xasprintf("%s/%s", dst_dir, hex);
	if (access(dst, F_OK) == 0)
		goto out;
	if ((ret = blob_mkdir(dst_dir, err)) != 0)
		goto out;
	/* Blobs never change once written: a link is a copy. */
	if (link(src, dst) == 0 || errno == EEXIST)
		goto out;
	if (errno == ENOENT) {
		orc_error_set(err, ORC_ESTORE, "blob %s is missing", src);
		ret = 1;
		goto out;
	}
	ret = blob_copy_bytes(src, dst, dst_dir, err);
out:
	free(src);
	free(dst);
	return ret;
}

/* Whether a file name is a blob's: 64 lower-case hex digits. */
static int
blob_is_name(const char *name)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return name[64] == '\0';
}

/* Copies every blob of a folder; see blob.h. */
int
blob_copy_dir(const char *src_dir, const char *dst_dir, size_t *n,
    struct orc_error *err)
{
	struct dirent *de;
	char *dst;
	DIR *d;
	int ret = 0;

	*n = 0;
	if ((d = opendir(src_dir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		orc_error_set(err, ORC_ESTORE, "cannot read blob folder %s: "
		    "%s", src_dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!blob_is_name(de->d_name))
			continue;
		dst = xasprintf("%s/%s", dst_dir, de->d_name);
		if (access(dst, F_OK) != 0) {
			/* Gone meanwhile (1): a purge deleted the last run
			 * that used it. */
			if ((ret = blob_copy(src_dir, dst_dir, NULL,
			    de->d_name, err)) == 0)
				(*n)++;
			else if (ret == -1) {
				free(dst);
				break;
			}
			ret = 0;
		}
		free(dst);
	}
	closedir(d);
	if (ret == 0 && *n > 0 && orc_fsync_dir(dst_dir) != 0) {
		orc_error_set(err, ORC_ESTORE, "cannot sync blob folder %s: "
		    "%s", dst_dir, strerror(errno));
		ret = -1;
	}
	return ret;
}
