/*
 * JSON columns of the SQLite store compressed against a dictionary: the
 * first value a workflow's step output (or its runs' input, trigger, or
 * output) ever had. The runs of one workflow write nearly the same JSON
 * again and again (the same keys, most of the same values), so against
 * that first value a step's output of a few hundred bytes deflates to a
 * few dozen: about a third of a run's bytes (issue 20).
 *
 * A packed value is a blob: PACK_MARK (no JSON text begins with it), the
 * dictionary's id and the text's length as varints, and a raw deflate
 * stream. The dictionaries are rows of the table "dictionaries" (id,
 * workflow, field, body), written in the transaction of the value that
 * first needs one, never changed nor deleted, and their ids never used
 * again (AUTOINCREMENT: a value read against another dictionary would
 * be garbage, not an error); each connection keeps those it has
 * used (struct pack: a connection is used by one thread at a time).
 * Texts that would not shrink, short ones and blob references (store
 * scans find those with LIKE) are stored as they are.
 */
#ifndef STORE_PACK_H
#define STORE_PACK_H

#include <sqlite3.h>
#include <stddef.h>

#include "orchestrator.h"

#define PACK_MARK	'\x01'
/* Texts shorter than this are not worth a dictionary's look-up. */
#define PACK_MIN	40
/* A dictionary's bytes at most: deflate's window (PACK_WBITS). */
#define PACK_WBITS	12
#define PACK_DICT_MAX	(1 << PACK_WBITS)

/* The dictionaries table (a schema migration of store-sqlite.c). */
#define PACK_SCHEMA							\
	"CREATE TABLE dictionaries ("					\
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"			\
	"  workflow TEXT NOT NULL,"					\
	"  field TEXT NOT NULL,"					\
	"  body BLOB NOT NULL,"						\
	"  UNIQUE (workflow, field)"					\
	");"

struct pack;

struct pack	*pack_new(void);
void		 pack_free(struct pack *);
/* Forgets the dictionaries known on the connection: after a rollback,
 * which may have undone the one a value was just packed against. */
void		 pack_forget(struct pack *);

/*
 * Binds text (len bytes, NUL-terminated, taken) as parameter i of st on
 * the writing connection db: packed against the dictionary of (workflow,
 * field), which the text itself becomes when there is none yet, when
 * that is smaller; else as text. -1 with err (naming path) when a
 * dictionary cannot be read or written.
 */
int	pack_bind(struct pack *, sqlite3 *db, const char *path,
	    sqlite3_stmt *st, int i, const char *workflow, const char *field,
	    char *text, size_t len, struct orc_error *);
/* Whether a column's bytes are a packed value. */
int	pack_is_packed(const void *v, size_t len);
/* The text of packed value v read on db: new, NUL-terminated, its length
 * in *len. NULL with err when its dictionary is missing or it does not
 * inflate to the length it names. */
char	*pack_unpack(struct pack *, sqlite3 *db, const void *v, size_t vlen,
	    size_t *len, struct orc_error *);

#endif
