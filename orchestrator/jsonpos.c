/*
 * Positions of values inside JSON text. jansson reports where a parse error
 * is but keeps no positions for a document it accepted, so a loader could
 * not say where "steps[2].uses" was written. This module runs a small
 * tokenizer over the text once (strings with escapes, numbers, literals,
 * objects and arrays) and records, for every object member, the position of
 * its key and, for every array element, the position of its value, under
 * the member's path: "steps[2].with.url", with "" for the root. Keys that
 * are empty or hold '.', '[', ']', '"', '\' or a space are written
 * ["a.b"], with '"' and '\' escaped by a backslash; jsonpos_path_key()
 * and jsonpos_path_index() build paths by the same rule for the schema,
 * template and workflow modules, so their paths are found here.
 *
 * Lines and columns are 1-based and counted like jansson counts them in
 * json_error_t: a column counts characters, so the bytes of one UTF-8
 * character are one column, and only '\n' starts a new line.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "jsonpos.h"
#include "orchestrator.h"
#include "strbuf.h"

/* Deeper than jansson's own limit (2048): deeper text is not indexed. */
#define JSONPOS_MAX_DEPTH	4096

struct jsonpos_entry {
	char	*path;
	int	 line;
	int	 column;
	size_t	 order;			/* insertion order, for stable sort */
};

struct jsonpos {
	struct jsonpos_entry	*entries;
	size_t			 count;
	size_t			 cap;
};

/* The scanner's cursor; column counts characters seen on this line. */
struct jsonpos_scan {
	const unsigned char	*p;
	const unsigned char	*end;
	int			 line;
	int			 column;
	struct jsonpos		*pos;
};

static int	jsonpos_value(struct jsonpos_scan *, struct strbuf *, int,
		    int);

/* Moves past one byte, counting lines and characters as jansson does. */
static void
jsonpos_next(struct jsonpos_scan *sc)
{
	unsigned char c = *sc->p++;

	if (c == '\n') {
		sc->line++;
		sc->column = 0;
	} else if ((c & 0xc0) != 0x80)
		sc->column++;
}

/* Skips JSON whitespace. */
static void
jsonpos_skip_space(struct jsonpos_scan *sc)
{
	while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' ||
	    *sc->p == '\n' || *sc->p == '\r'))
		jsonpos_next(sc);
}

/* Records a position (line, characters before it) for a path. */
static void
jsonpos_record(struct jsonpos_scan *sc, const char *path, int line,
    int column)
{
	struct jsonpos *pos = sc->pos;
	struct jsonpos_entry *e;

	if (pos->count == pos->cap) {
		pos->cap = pos->cap == 0 ? 32 : pos->cap * 2;
		pos->entries = xrealloc(pos->entries,
		    pos->cap * sizeof *pos->entries);
	}
	e = &pos->entries[pos->count];
	e->path = xstrdup(path);
	e->line = line;
	e->column = column + 1;
	e->order = pos->count;
	pos->count++;
}

/* Reads four hex digits after "\u"; -1 when they are not there. */
static long
jsonpos_u4(struct jsonpos_scan *sc)
{
	long v = 0;
	int i, d;

	for (i = 0; i < 4; i++) {
		if (sc->p >= sc->end || (d = orc_hex_digit(*sc->p)) < 0)
			return -1;
		v = v * 16 + d;
		jsonpos_next(sc);
	}
	return v;
}

/* Appends a code point as UTF-8. */
static void
jsonpos_utf8(struct strbuf *b, long cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		strbuf_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		strbuf_add(b, u, 4);
	}
}

/*
 * Reads a string with the cursor on its opening quote. When out is not
 * NULL the decoded text is appended to it (for keys); values are skipped.
 */
static int
jsonpos_string(struct jsonpos_scan *sc, struct strbuf *out)
{
	const unsigned char *start;
	long cp, lo;

	jsonpos_next(sc);
	for (;;) {
		/* Copy a run of plain bytes at once. */
		start = sc->p;
		while (sc->p < sc->end && *sc->p != '"' && *sc->p != '\\')
			jsonpos_next(sc);
		if (out != NULL)
			strbuf_add(out, (const char *)start,
			    (size_t)(sc->p - start));
		if (sc->p >= sc->end)
			return -1;
		if (*sc->p == '"') {
			jsonpos_next(sc);
			return 0;
		}
		jsonpos_next(sc);		/* the backslash */
		if (sc->p >= sc->end)
			return -1;
		switch (*sc->p) {
		case 'u':
			jsonpos_next(sc);
			if ((cp = jsonpos_u4(sc)) < 0)
				return -1;
			/* A high surrogate pairs with a following low one. */
			if (cp >= 0xd800 && cp <= 0xdbff &&
			    sc->end - sc->p >= 6 && sc->p[0] == '\\' &&
			    sc->p[1] == 'u') {
				jsonpos_next(sc);
				jsonpos_next(sc);
				if ((lo = jsonpos_u4(sc)) < 0)
					return -1;
				if (lo >= 0xdc00 && lo <= 0xdfff)
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (lo - 0xdc00);
				else if (out != NULL) {
					/* Not a pair: keep both as they are. */
					jsonpos_utf8(out, cp);
					cp = lo;
				}
			}
			if (out != NULL)
				jsonpos_utf8(out, cp);
			continue;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		default:			/* '"', '\\', '/' */
			cp = *sc->p;
			break;
		}
		jsonpos_next(sc);
		if (out != NULL)
			strbuf_addc(out, (char)cp);
	}
}

/* Whether a key has to be written ["..."] in a path. */
static int
jsonpos_needs_quotes(const char *key, size_t len)
{
	size_t i;

	if (len == 0)
		return 1;
	for (i = 0; i < len; i++) {
		if (key[i] == '\0' || strchr(".[]\"\\ ", key[i]) != NULL)
			return 1;
	}
	return 0;
}

/* Appends ".key", "key" at the root, or ["key"] to the path in b. */
void
jsonpos_path_add_key(struct strbuf *b, const char *key, size_t len)
{
	size_t i;

	if (!jsonpos_needs_quotes(key, len)) {
		if (b->len > 0)
			strbuf_addc(b, '.');
		strbuf_add(b, key, len);
		return;
	}
	strbuf_add(b, "[\"", 2);
	for (i = 0; i < len; i++) {
		if (key[i] == '"' || key[i] == '\\')
			strbuf_addc(b, '\\');
		strbuf_addc(b, key[i]);
	}
	strbuf_add(b, "\"]", 2);
}

/* Returns a new path: parent followed by member key. */
char *
jsonpos_path_key(const char *parent, const char *key)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_puts(&b, parent);
	jsonpos_path_add_key(&b, key, strlen(key));
	return strbuf_take(&b);
}

/* Returns a new path: parent followed by element [index]. */
char *
jsonpos_path_index(const char *parent, size_t index)
{
	return xasprintf("%s[%zu]", parent, index);
}

/* Reads an object with the cursor on its '{'; path is the object's. */
static int
jsonpos_object(struct jsonpos_scan *sc, struct strbuf *path, int depth)
{
	struct strbuf key = STRBUF_INIT;
	size_t base = path->len;
	int line, column;

	jsonpos_next(sc);
	jsonpos_skip_space(sc);
	if (sc->p < sc->end && *sc->p == '}') {
		jsonpos_next(sc);
		return 0;
	}
	for (;;) {
		jsonpos_skip_space(sc);
		if (sc->p >= sc->end || *sc->p != '"')
			goto fail;
		line = sc->line;
		column = sc->column;
		strbuf_cut(&key, 0);
		strbuf_add(&key, "", 0);
		if (jsonpos_string(sc, &key) != 0)
			goto fail;
		jsonpos_path_add_key(path, key.s, key.len);
		/* A member is found by its key, not by its value. */
		jsonpos_record(sc, path->s, line, column);
		jsonpos_skip_space(sc);
		if (sc->p >= sc->end || *sc->p != ':')
			goto fail;
		jsonpos_next(sc);
		if (jsonpos_value(sc, path, depth + 1, 0) != 0)
			goto fail;
		strbuf_cut(path, base);
		jsonpos_skip_space(sc);
		if (sc->p >= sc->end)
			goto fail;
		if (*sc->p == '}') {
			jsonpos_next(sc);
			break;
		}
		if (*sc->p != ',')
			goto fail;
		jsonpos_next(sc);
	}
	strbuf_free(&key);
	return 0;

fail:
	strbuf_free(&key);
	return -1;
}

/* Reads an array with the cursor on its '['; path is the array's. */
static int
jsonpos_array(struct jsonpos_scan *sc, struct strbuf *path, int depth)
{
	size_t base = path->len, index = 0;

	jsonpos_next(sc);
	jsonpos_skip_space(sc);
	if (sc->p < sc->end && *sc->p == ']') {
		jsonpos_next(sc);
		return 0;
	}
	for (;;) {
		jsonpos_skip_space(sc);
		strbuf_printf(path, "[%zu]", index++);
		/* An element is found by its value's first byte. */
		if (jsonpos_value(sc, path, depth + 1, 1) != 0)
			return -1;
		strbuf_cut(path, base);
		jsonpos_skip_space(sc);
		if (sc->p >= sc->end)
			return -1;
		if (*sc->p == ']') {
			jsonpos_next(sc);
			return 0;
		}
		if (*sc->p != ',')
			return -1;
		jsonpos_next(sc);
	}
}

/*
 * Reads one value, recording its first byte when asked: array elements and
 * the root are, object members were recorded at their key already.
 */
static int
jsonpos_value(struct jsonpos_scan *sc, struct strbuf *path, int depth,
    int record)
{
	if (depth > JSONPOS_MAX_DEPTH)
		return -1;
	jsonpos_skip_space(sc);
	if (sc->p >= sc->end)
		return -1;
	if (record)
		jsonpos_record(sc, path->s, sc->line, sc->column);
	switch (*sc->p) {
	case '{':
		return jsonpos_object(sc, path, depth);
	case '[':
		return jsonpos_array(sc, path, depth);
	case '"':
		return jsonpos_string(sc, NULL);
	default:
		/* Numbers and literals: jansson checked them already. */
		if (strchr("-+.0123456789eEtruefalsn", *sc->p) == NULL)
			return -1;
		while (sc->p < sc->end && *sc->p != '\0' &&
		    strchr("-+.0123456789eEtruefalsn", *sc->p) != NULL)
			jsonpos_next(sc);
		return 0;
	}
}

/* Orders entries by path, then by the order they were seen. */
static int
jsonpos_cmp(const void *a, const void *b)
{
	const struct jsonpos_entry *ea = a, *eb = b;
	int r;

	if ((r = strcmp(ea->path, eb->path)) != 0)
		return r;
	return ea->order < eb->order ? -1 : ea->order > eb->order;
}

/* Indexes text that jansson parsed without error. */
struct jsonpos *
jsonpos_create(const char *text, size_t len)
{
	struct jsonpos *pos;
	struct jsonpos_scan sc;
	struct strbuf path = STRBUF_INIT;
	size_t i, j;

	pos = xcalloc(1, sizeof *pos);
	sc.p = (const unsigned char *)text;
	sc.end = sc.p + len;
	sc.line = 1;
	sc.column = 0;
	sc.pos = pos;
	strbuf_add(&path, "", 0);
	/* Text jansson refused is indexed as far as it goes. */
	(void)jsonpos_value(&sc, &path, 0, 1);
	strbuf_free(&path);

	/* Sort for lookups; a repeated path keeps its first position. */
	if (pos->count > 1) {
		qsort(pos->entries, pos->count, sizeof *pos->entries,
		    jsonpos_cmp);
		for (i = 1, j = 1; i < pos->count; i++) {
			if (strcmp(pos->entries[i].path,
			    pos->entries[j - 1].path) == 0) {
				free(pos->entries[i].path);
				continue;
			}
			pos->entries[j++] = pos->entries[i];
		}
		pos->count = j;
	}
	return pos;
}

/* Frees an index; NULL is a no-op. */
void
jsonpos_free(struct jsonpos *pos)
{
	size_t i;

	if (pos == NULL)
		return;
	for (i = 0; i < pos->count; i++)
		free(pos->entries[i].path);
	free(pos->entries);
	free(pos);
}

/* The entry for exactly this path (len bytes of it), or NULL. */
static const struct jsonpos_entry *
jsonpos_lookup(const struct jsonpos *pos, const char *path, size_t len)
{
	size_t lo = 0, hi = pos->count, mid;
	int r;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		r = strncmp(pos->entries[mid].path, path, len);
		if (r == 0 && pos->entries[mid].path[len] != '\0')
			r = 1;
		if (r == 0)
			return &pos->entries[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Position of the value at path, or of the longest known prefix of it.
 * Prefixes end before a '.' or '['; one that cuts a quoted key in two is
 * never a recorded path, so the search just goes on to a shorter one.
 */
void
jsonpos_find(const struct jsonpos *pos, const char *path, int *line,
    int *column)
{
	const struct jsonpos_entry *e = NULL;
	size_t len;

	*line = 1;
	*column = 1;
	if (pos == NULL)
		return;
	if (path == NULL)
		path = "";
	len = strlen(path);
	for (;;) {
		if ((e = jsonpos_lookup(pos, path, len)) != NULL)
			break;
		if (len == 0)
			break;
		while (len > 0 && path[len - 1] != '.' && path[len - 1] != '[')
			len--;
		if (len > 0)
			len--;
	}
	if (e != NULL) {
		*line = e->line;
		*column = e->column;
	}
}
