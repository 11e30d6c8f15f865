/*
 * JSON columns compressed against a dictionary per workflow and field
 * (store-pack.h): zlib's raw deflate with a preset dictionary, and the
 * dictionaries a connection has used, by name and by id.
 */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "blob.h"
#include "hmap.h"
#include "log.h"
#include "store-pack.h"

/* Deflate's speed over its ratio: against a dictionary of the same
 * shape level 1 loses a few bytes a run to level 6. */
#define PACK_LEVEL	1
#define PACK_MEMLEVEL	4
/* A packed value's header: the mark, two varints of 10 bytes at most. */
#define PACK_HEAD_MAX	21
/* Texts longer than this stay as they are (zlib counts in uInt). */
#define PACK_TEXT_MAX	((size_t)INT_MAX)

struct pack_dict {
	int64_t		 id;
	size_t		 len;
	unsigned char	 body[];
};

struct pack {
	struct hmap	*by_name;	/* "WORKFLOW\x1fFIELD": borrowed */
	struct hmap	*by_id;		/* "ID": owned */
	z_stream	 def;		/* reset for each value */
	z_stream	 inf;
	int		 def_ready;
	int		 inf_ready;
};

/* A new connection's dictionaries: none yet. */
struct pack *
pack_new(void)
{
	struct pack *p = xcalloc(1, sizeof *p);

	p->by_name = hmap_create();
	p->by_id = hmap_create();
	return p;
}

/* hmap_each: frees a dictionary. */
static void
pack_free_dict(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	free(value);
}

/* Frees the maps and the dictionaries in them. */
static void
pack_clear(struct pack *p)
{
	hmap_each(p->by_id, pack_free_dict, NULL);
	hmap_free(p->by_id);
	hmap_free(p->by_name);
}

void
pack_free(struct pack *p)
{
	if (p == NULL)
		return;
	pack_clear(p);
	if (p->def_ready)
		deflateEnd(&p->def);
	if (p->inf_ready)
		inflateEnd(&p->inf);
	free(p);
}

void
pack_forget(struct pack *p)
{
	if (p == NULL)
		return;
	pack_clear(p);
	p->by_name = hmap_create();
	p->by_id = hmap_create();
}

/* Writes v as a varint (7 bits a byte, low first) at b; its length. */
static size_t
pack_put_varint(unsigned char *b, uint64_t v)
{
	size_t n = 0;

	do {
		b[n] = v & 0x7f;
		v >>= 7;
		if (v != 0)
			b[n] |= 0x80;
		n++;
	} while (v != 0);
	return n;
}

/* Reads a varint of b at *off, moving *off past it; -1 when cut. */
static int
pack_get_varint(const unsigned char *b, size_t len, size_t *off,
    uint64_t *v)
{
	uint64_t	x = 0;
	int		shift;

	for (shift = 0; *off < len && shift < 64; shift += 7) {
		x |= (uint64_t)(b[*off] & 0x7f) << shift;
		if ((b[(*off)++] & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* Keeps a dictionary read or written on the connection, by its id (and
 * by name when name is not NULL); the one kept. */
static struct pack_dict *
pack_keep(struct pack *p, const char *name, int64_t id, const void *body,
    size_t len)
{
	struct pack_dict	*d;
	char			 key[24];

	snprintf(key, sizeof key, "%" PRId64, id);
	if ((d = hmap_get(p->by_id, key)) == NULL) {
		d = xmalloc(sizeof *d + len);
		d->id = id;
		d->len = len;
		memcpy(d->body, body, len);
		hmap_set(p->by_id, key, d);
	}
	if (name != NULL)
		hmap_set(p->by_name, name, d);
	return d;
}

/* Fills err with db's last error about the dictionaries, naming path
 * unless it is NULL (a read's caller names the file and the column). */
static int
pack_db_error(sqlite3 *db, const char *path, struct orc_error *err)
{
	orc_error_set(err, ORC_ESTORE, "%s%sdictionaries: %s",
	    path != NULL ? path : "", path != NULL ? ": " : "",
	    sqlite3_errmsg(db));
	return -1;
}

/*
 * Steps st, a SELECT of (id, body) of one dictionary, and keeps its row
 * under name (NULL: by id only): 0 with *out NULL when there is none.
 * Finalizes st.
 */
static int
pack_load(struct pack *p, sqlite3 *db, const char *path, sqlite3_stmt *st,
    const char *name, struct pack_dict **out, struct orc_error *err)
{
	int rc;

	*out = NULL;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*out = pack_keep(p, name, sqlite3_column_int64(st, 0),
		    sqlite3_column_blob(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1));
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return pack_db_error(db, path, err);
	return 0;
}

/* The dictionary of id on db; NULL with err when it is not there. */
static struct pack_dict *
pack_by_id(struct pack *p, sqlite3 *db, int64_t id, struct orc_error *err)
{
	struct pack_dict	*d;
	sqlite3_stmt		*st;
	char			 key[24];

	snprintf(key, sizeof key, "%" PRId64, id);
	if ((d = hmap_get(p->by_id, key)) != NULL)
		return d;
	if (sqlite3_prepare_v2(db, "SELECT id, body FROM dictionaries "
	    "WHERE id = ?1", -1, &st, NULL) != SQLITE_OK) {
		pack_db_error(db, NULL, err);
		return NULL;
	}
	sqlite3_bind_int64(st, 1, id);
	if (pack_load(p, db, NULL, st, NULL, &d, err) == -1)
		return NULL;
	if (d == NULL)
		orc_error_set(err, ORC_ESTORE, "a packed value names "
		    "dictionary %" PRId64 ", which is not there", id);
	return d;
}

/* Writes text's first PACK_DICT_MAX bytes as the dictionary of
 * (workflow, field) and keeps it under name. */
static struct pack_dict *
pack_create(struct pack *p, sqlite3 *db, const char *path, const char *name,
    const char *workflow, const char *field, const char *text, size_t len,
    struct orc_error *err)
{
	sqlite3_stmt *st;

	if (len > PACK_DICT_MAX)
		len = PACK_DICT_MAX;
	if (sqlite3_prepare_v2(db, "INSERT INTO dictionaries (workflow, "
	    "field, body) VALUES (?1, ?2, ?3)", -1, &st, NULL) != SQLITE_OK) {
		pack_db_error(db, path, err);
		return NULL;
	}
	sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, field, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, text, (int)len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		pack_db_error(db, path, err);
		sqlite3_finalize(st);
		return NULL;
	}
	sqlite3_finalize(st);
	return pack_keep(p, name, sqlite3_last_insert_rowid(db), text, len);
}

/* The dictionary of (workflow, field) on the writing connection, made
 * of text when there is none; NULL with err. */
static struct pack_dict *
pack_by_name(struct pack *p, sqlite3 *db, const char *path,
    const char *workflow, const char *field, const char *text, size_t len,
    struct orc_error *err)
{
	struct pack_dict	*d;
	sqlite3_stmt		*st;
	char			*name;

	name = xasprintf("%s\x1f%s", workflow, field);
	if ((d = hmap_get(p->by_name, name)) != NULL)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT id, body FROM dictionaries "
	    "WHERE workflow = ?1 AND field = ?2", -1, &st, NULL) !=
	    SQLITE_OK) {
		pack_db_error(db, path, err);
		goto out;
	}
	sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, field, -1, SQLITE_STATIC);
	if (pack_load(p, db, path, st, name, &d, err) == 0 && d == NULL)
		d = pack_create(p, db, path, name, workflow, field, text, len,
		    err);
out:
	free(name);
	return d;
}

/*
 * text deflated against d after a header, in *out (new) and *outlen;
 * 0 when it would not be smaller than text, -1 when zlib fails.
 */
static int
pack_deflate(struct pack *p, const struct pack_dict *d, const char *text,
    size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char	*buf;
	size_t		 head;
	int		 rc;

	if (!p->def_ready) {
		if (deflateInit2(&p->def, PACK_LEVEL, Z_DEFLATED, -PACK_WBITS,
		    PACK_MEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
			return -1;
		p->def_ready = 1;
	} else if (deflateReset(&p->def) != Z_OK)
		return -1;
	if (deflateSetDictionary(&p->def, d->body, (uInt)d->len) != Z_OK)
		return -1;
	buf = xmalloc(len);
	buf[0] = PACK_MARK;
	head = 1 + pack_put_varint(buf + 1, (uint64_t)d->id);
	head += pack_put_varint(buf + head, len);
	p->def.next_in = (Bytef *)(uintptr_t)text;
	p->def.avail_in = (uInt)len;
	p->def.next_out = buf + head;
	p->def.avail_out = (uInt)(len - head);
	/* Out of room before the end: not smaller. */
	if ((rc = deflate(&p->def, Z_FINISH)) != Z_STREAM_END) {
		free(buf);
		return rc == Z_OK || rc == Z_BUF_ERROR ? 0 : -1;
	}
	*out = buf;
	*outlen = len - p->def.avail_out;
	return 1;
}

int
pack_bind(struct pack *p, sqlite3 *db, const char *path, sqlite3_stmt *st,
    int i, const char *workflow, const char *field, char *text, size_t len,
    struct orc_error *err)
{
	struct pack_dict	*d;
	unsigned char		*buf;
	size_t			 n;
	char			 hex[65];
	int			 rc;

	if (len < PACK_MIN || len > PACK_TEXT_MAX ||
	    blob_is_ref(text, len, hex, &n))
		goto as_text;
	if ((d = pack_by_name(p, db, path, workflow != NULL ? workflow : "",
	    field, text, len, err)) == NULL) {
		free(text);
		return -1;
	}
	if ((rc = pack_deflate(p, d, text, len, &buf, &n)) == 1) {
		free(text);
		sqlite3_bind_blob(st, i, buf, (int)n, free);
		return 0;
	}
	if (rc == -1)
		log_warn("%s: %s: deflate failed: stored as text", __func__,
		    path);
as_text:
	sqlite3_bind_text(st, i, text, (int)len, free);
	return 0;
}

int
pack_is_packed(const void *v, size_t len)
{
	return len > 0 && *(const char *)v == PACK_MARK;
}

/* Inflates n bytes of v against d into text (n + 1 bytes); -1 when zlib
 * fails or the stream is not exactly n bytes. */
static int
pack_inflate(struct pack *p, const struct pack_dict *d,
    const unsigned char *v, size_t vlen, char *text, size_t n)
{
	int rc;

	if (!p->inf_ready) {
		if (inflateInit2(&p->inf, -PACK_WBITS) != Z_OK)
			return -1;
		p->inf_ready = 1;
	} else if (inflateReset(&p->inf) != Z_OK)
		return -1;
	if (inflateSetDictionary(&p->inf, d->body, (uInt)d->len) != Z_OK)
		return -1;
	p->inf.next_in = (Bytef *)(uintptr_t)v;
	p->inf.avail_in = (uInt)vlen;
	p->inf.next_out = (Bytef *)text;
	p->inf.avail_out = (uInt)n + 1;
	rc = inflate(&p->inf, Z_FINISH);
	if (rc != Z_STREAM_END || p->inf.avail_out != 1)
		return -1;
	text[n] = '\0';
	return 0;
}

char *
pack_unpack(struct pack *p, sqlite3 *db, const void *v, size_t vlen,
    size_t *len, struct orc_error *err)
{
	const unsigned char	*b = v;
	struct pack_dict	*d;
	uint64_t		 id, n;
	size_t			 off = 1;
	char			*text;

	if (!pack_is_packed(v, vlen) ||
	    pack_get_varint(b, vlen, &off, &id) == -1 ||
	    pack_get_varint(b, vlen, &off, &n) == -1 || id > INT64_MAX ||
	    n > PACK_TEXT_MAX || vlen - off > PACK_TEXT_MAX) {
		orc_error_set(err, ORC_ESTORE, "a packed value's header is "
		    "corrupt");
		return NULL;
	}
	if ((d = pack_by_id(p, db, (int64_t)id, err)) == NULL)
		return NULL;
	text = xmalloc(n + 1);
	if (pack_inflate(p, d, b + off, vlen - off, text, n) == -1) {
		free(text);
		orc_error_set(err, ORC_ESTORE, "a packed value of dictionary "
		    "%" PRIu64 " does not inflate to its %" PRIu64 " bytes", id,
		    n);
		return NULL;
	}
	*len = n;
	return text;
}
