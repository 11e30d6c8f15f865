/*
 * The write-ahead log's write buffer; see walbuf.h. Written here because
 * SQLite has no setting for it: a VFS shim is how SQLite lets a program
 * change how files are written. The log gets the buffer, the database
 * file a wrapper that only watches one lock (below); the other files are
 * opened by the VFS underneath straight into the memory SQLite gives us
 * (ours is larger), so they are that VFS's files, untouched.
 *
 * A buffer holds one run of contiguous writes. A write that does not
 * continue it (SQLite writing a frame again, or the log's header after a
 * reset) writes the buffer out first, so the file sees the writes in the
 * order SQLite made them. A failed write-out drops the buffer and returns
 * the error to SQLite, which then fails the transaction: no later sync
 * can report frames that never reached the file.
 *
 * A transaction rolled back after SQLite spilled pages to the log leaves
 * those frames in the buffer, and the next writer, maybe another process,
 * writes its own frames at the same places. So the database file is
 * wrapped too, only to see the log's write lock released (SQLite takes it
 * through the shared memory of the database file): the buffer goes out
 * while the lock is still held, and nothing of it is left to land over
 * another writer's frames later.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include <sqlite3.h>

#include "strbuf.h"
#include "walbuf.h"

#define WALBUF_NAME	"orc-walbuf"
#define WALBUF_MAX	(4 * 1024 * 1024) /* a longer run is written out */
#define WALBUF_PART	(64 * 1024)	/* bytes a write call at most */

struct walbuf_db;

/* An open log. The file of the VFS underneath follows it in memory. */
struct walbuf_file {
	sqlite3_file		 base;
	sqlite3_file		*real;
	struct walbuf_db	*db;		/* NULL: writes go through */
	struct strbuf		 buf;		/* the writes held */
	sqlite3_int64		 off;		/* the file offset of buf.s[0] */
};

/* An open database file, for its log's write lock. Same layout. */
struct walbuf_db {
	sqlite3_file		 base;
	sqlite3_file		*real;
	struct walbuf_file	*wal;		/* its open log, or NULL */
};

#define WALBUF_WRITE_LOCK	0	/* SQLite's WAL_WRITE_LOCK slot */
#define WALBUF_SIZE							\
	(sizeof(struct walbuf_file) > sizeof(struct walbuf_db) ?	\
	sizeof(struct walbuf_file) : sizeof(struct walbuf_db))

static sqlite3_vfs	 walbuf_vfs_obj;
static sqlite3_vfs	*walbuf_under;
static const char	*walbuf_registered;

/* Writes the buffer out, in parts the VFS underneath takes whole (unix
 * writes at most 128 KiB less a byte a call); SQLite's error code. */
static int
walbuf_flush(struct walbuf_file *f)
{
	size_t done, n;
	int rc = SQLITE_OK;

	for (done = 0; done < f->buf.len && rc == SQLITE_OK; done += n) {
		n = f->buf.len - done < WALBUF_PART ? f->buf.len - done :
		    WALBUF_PART;
		rc = f->real->pMethods->xWrite(f->real, f->buf.s + done,
		    (int)n, f->off + (sqlite3_int64)done);
	}
	strbuf_cut(&f->buf, 0);
	return rc;
}

static int
walbuf_write(sqlite3_file *file, const void *p, int amt, sqlite3_int64 off)
{
	struct walbuf_file *f = (struct walbuf_file *)file;
	int rc;

	if (f->db == NULL || (size_t)amt > WALBUF_MAX)
		return f->real->pMethods->xWrite(f->real, p, amt, off);
	if (f->buf.len == 0 || off != f->off + (sqlite3_int64)f->buf.len ||
	    f->buf.len + (size_t)amt > WALBUF_MAX) {
		if ((rc = walbuf_flush(f)) != SQLITE_OK)
			return rc;
		f->off = off;
	}
	strbuf_add(&f->buf, p, (size_t)amt);
	return SQLITE_OK;
}

static int
walbuf_read(sqlite3_file *file, void *p, int amt, sqlite3_int64 off)
{
	struct walbuf_file *f = (struct walbuf_file *)file;
	int rc;

	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xRead(f->real, p, amt, off);
}

static int
walbuf_sync(sqlite3_file *file, int flags)
{
	struct walbuf_file *f = (struct walbuf_file *)file;
	int rc;

	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xSync(f->real, flags);
}

static int
walbuf_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct walbuf_file *f = (struct walbuf_file *)file;
	int rc;

	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xTruncate(f->real, size);
}

static int
walbuf_size(sqlite3_file *file, sqlite3_int64 *size)
{
	struct walbuf_file *f = (struct walbuf_file *)file;
	int rc;

	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFileSize(f->real, size);
}

static int
walbuf_close(sqlite3_file *file)
{
	struct walbuf_file *f = (struct walbuf_file *)file;
	int rc, rc2;

	rc = walbuf_flush(f);
	rc2 = f->real->pMethods->xClose(f->real);
	strbuf_free(&f->buf);
	if (f->db != NULL)
		f->db->wal = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

/* The rest goes through, the buffer written out first where it may
 * matter (a file control may look at the file). */
static int
walbuf_lock(sqlite3_file *file, int level)
{
	struct walbuf_file *f = (struct walbuf_file *)file;

	return f->real->pMethods->xLock(f->real, level);
}

static int
walbuf_unlock(sqlite3_file *file, int level)
{
	struct walbuf_file *f = (struct walbuf_file *)file;

	return f->real->pMethods->xUnlock(f->real, level);
}

static int
walbuf_reserved(sqlite3_file *file, int *out)
{
	struct walbuf_file *f = (struct walbuf_file *)file;

	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int
walbuf_control(sqlite3_file *file, int op, void *arg)
{
	struct walbuf_file *f = (struct walbuf_file *)file;
	int rc;

	if ((rc = walbuf_flush(f)) != SQLITE_OK)
		return rc;
	return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int
walbuf_sector(sqlite3_file *file)
{
	struct walbuf_file *f = (struct walbuf_file *)file;

	return f->real->pMethods->xSectorSize(f->real);
}

static int
walbuf_device(sqlite3_file *file)
{
	struct walbuf_file *f = (struct walbuf_file *)file;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* Version 1: SQLite maps and shares memory only with the database file,
 * never with its log. */
static const sqlite3_io_methods walbuf_methods = {
	.iVersion = 1,
	.xClose = walbuf_close,
	.xRead = walbuf_read,
	.xWrite = walbuf_write,
	.xTruncate = walbuf_truncate,
	.xSync = walbuf_sync,
	.xFileSize = walbuf_size,
	.xLock = walbuf_lock,
	.xUnlock = walbuf_unlock,
	.xCheckReservedLock = walbuf_reserved,
	.xFileControl = walbuf_control,
	.xSectorSize = walbuf_sector,
	.xDeviceCharacteristics = walbuf_device,
};

/*
 * The database file's methods: the underneath's, but that the log's
 * buffer goes out before the log's write lock is let go.
 */
#define DB_REAL(file)	(((struct walbuf_db *)(file))->real)

static int
walbuf_db_close(sqlite3_file *file)
{
	struct walbuf_db *d = (struct walbuf_db *)file;

	if (d->wal != NULL)
		d->wal->db = NULL;
	return d->real->pMethods->xClose(d->real);
}

static int
walbuf_db_read(sqlite3_file *file, void *p, int amt, sqlite3_int64 off)
{
	return DB_REAL(file)->pMethods->xRead(DB_REAL(file), p, amt, off);
}

static int
walbuf_db_write(sqlite3_file *file, const void *p, int amt,
    sqlite3_int64 off)
{
	return DB_REAL(file)->pMethods->xWrite(DB_REAL(file), p, amt, off);
}

static int
walbuf_db_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	return DB_REAL(file)->pMethods->xTruncate(DB_REAL(file), size);
}

static int
walbuf_db_sync(sqlite3_file *file, int flags)
{
	return DB_REAL(file)->pMethods->xSync(DB_REAL(file), flags);
}

static int
walbuf_db_size(sqlite3_file *file, sqlite3_int64 *size)
{
	return DB_REAL(file)->pMethods->xFileSize(DB_REAL(file), size);
}

static int
walbuf_db_lock(sqlite3_file *file, int level)
{
	return DB_REAL(file)->pMethods->xLock(DB_REAL(file), level);
}

static int
walbuf_db_unlock(sqlite3_file *file, int level)
{
	return DB_REAL(file)->pMethods->xUnlock(DB_REAL(file), level);
}

static int
walbuf_db_reserved(sqlite3_file *file, int *out)
{
	return DB_REAL(file)->pMethods->xCheckReservedLock(DB_REAL(file),
	    out);
}

static int
walbuf_db_control(sqlite3_file *file, int op, void *arg)
{
	return DB_REAL(file)->pMethods->xFileControl(DB_REAL(file), op, arg);
}

static int
walbuf_db_sector(sqlite3_file *file)
{
	return DB_REAL(file)->pMethods->xSectorSize(DB_REAL(file));
}

static int
walbuf_db_device(sqlite3_file *file)
{
	return DB_REAL(file)->pMethods->xDeviceCharacteristics(DB_REAL(file));
}

static int
walbuf_db_shm_map(sqlite3_file *file, int region, int size, int extend,
    void volatile **pp)
{
	return DB_REAL(file)->pMethods->xShmMap(DB_REAL(file), region, size,
	    extend, pp);
}

/* Letting go of the log's write lock: the buffer goes out first. A
 * failure there only loses frames no commit counts on (a commit's went
 * out at its sync): the lock is let go all the same. */
static int
walbuf_db_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	struct walbuf_db *d = (struct walbuf_db *)file;

	if (d->wal != NULL && (flags & SQLITE_SHM_UNLOCK) &&
	    (flags & SQLITE_SHM_EXCLUSIVE) && offset <= WALBUF_WRITE_LOCK &&
	    WALBUF_WRITE_LOCK < offset + n)
		(void)walbuf_flush(d->wal);
	return d->real->pMethods->xShmLock(d->real, offset, n, flags);
}

static void
walbuf_db_shm_barrier(sqlite3_file *file)
{
	DB_REAL(file)->pMethods->xShmBarrier(DB_REAL(file));
}

static int
walbuf_db_shm_unmap(sqlite3_file *file, int delete)
{
	return DB_REAL(file)->pMethods->xShmUnmap(DB_REAL(file), delete);
}

static int
walbuf_db_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **pp)
{
	return DB_REAL(file)->pMethods->xFetch(DB_REAL(file), off, amt, pp);
}

static int
walbuf_db_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
	return DB_REAL(file)->pMethods->xUnfetch(DB_REAL(file), off, p);
}

static const sqlite3_io_methods walbuf_db_methods = {
	.iVersion = 3,
	.xClose = walbuf_db_close,
	.xRead = walbuf_db_read,
	.xWrite = walbuf_db_write,
	.xTruncate = walbuf_db_truncate,
	.xSync = walbuf_db_sync,
	.xFileSize = walbuf_db_size,
	.xLock = walbuf_db_lock,
	.xUnlock = walbuf_db_unlock,
	.xCheckReservedLock = walbuf_db_reserved,
	.xFileControl = walbuf_db_control,
	.xSectorSize = walbuf_db_sector,
	.xDeviceCharacteristics = walbuf_db_device,
	.xShmMap = walbuf_db_shm_map,
	.xShmLock = walbuf_db_shm_lock,
	.xShmBarrier = walbuf_db_shm_barrier,
	.xShmUnmap = walbuf_db_shm_unmap,
	.xFetch = walbuf_db_fetch,
	.xUnfetch = walbuf_db_unfetch,
};

/* Opens a database file (wrapped), a log (buffered when its database
 * file is wrapped) or anything else (as the VFS underneath opens it). */
static int
walbuf_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
    int flags, int *out_flags)
{
	struct walbuf_file *f = (struct walbuf_file *)file;
	struct walbuf_db *d = (struct walbuf_db *)file;
	sqlite3_file *real = (sqlite3_file *)((char *)file + WALBUF_SIZE);
	sqlite3_file *main;
	int rc;

	if (!(flags & (SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_DB)))
		return walbuf_under->xOpen(walbuf_under, name, file, flags,
		    out_flags);
	memset(file, 0, WALBUF_SIZE);
	rc = walbuf_under->xOpen(walbuf_under, name, real, flags, out_flags);
	/* base.pMethods stays NULL on failure: SQLite then closes nothing. */
	if (rc != SQLITE_OK)
		return rc;
	if (flags & SQLITE_OPEN_MAIN_DB) {
		if (real->pMethods->iVersion < 3) {
			/* No shared memory to watch: the plain file, and
			 * its log unbuffered. */
			real->pMethods->xClose(real);
			return walbuf_under->xOpen(walbuf_under, name, file,
			    flags, out_flags);
		}
		d->real = real;
		d->base.pMethods = &walbuf_db_methods;
		return rc;
	}
	f->real = real;
	f->base.pMethods = &walbuf_methods;
	main = sqlite3_database_file_object(name);
	if (main != NULL && main->pMethods == &walbuf_db_methods &&
	    ((struct walbuf_db *)main)->wal == NULL) {
		f->db = (struct walbuf_db *)main;
		f->db->wal = f;
	}
	return rc;
}

/* The VFS is the one underneath but for xOpen and the file size. */
static void
walbuf_register(void)
{
	if ((walbuf_under = sqlite3_vfs_find(NULL)) == NULL)
		return;
	walbuf_vfs_obj = *walbuf_under;
	walbuf_vfs_obj.pNext = NULL;
	walbuf_vfs_obj.zName = WALBUF_NAME;
	walbuf_vfs_obj.szOsFile = (int)WALBUF_SIZE + walbuf_under->szOsFile;
	walbuf_vfs_obj.xOpen = walbuf_open;
	if (sqlite3_vfs_register(&walbuf_vfs_obj, 0) == SQLITE_OK)
		walbuf_registered = WALBUF_NAME;
}

const char *
walbuf_vfs(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, walbuf_register);
	return walbuf_registered;
}
